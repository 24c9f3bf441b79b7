/* SPDX-License-Identifier: ISC */
/*
 * obs/metrics.c - counters, gauges, histograms; Prometheus text and the
 * dashboard's JSON (metrics.h).
 *
 * Everything is a fixed array of atomics indexed by its labels (the
 * listeners are known at start, the rest are enums), so counting is one
 * relaxed add and a scrape reads without a lock. The last hour is kept
 * as 60 one-minute slots, each stamped with its minute: a slot from an
 * older hour is zeroed by the first event of its new minute.
 */
#include "obs/metrics.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "obs/obs.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define LIS_MAX 65 /* CONF_LISTENERS_MAX (64) and "pickup" */
#define NAME_MAX_LEN 40
#define SLOTS 60
#define CAUSES_MAX 32
#define CAUSE_LEN 120
#define TOP_N 10

enum { D_DELIVERED = 0, D_DEFERRED, D_BOUNCED, D_COUNT };
enum { S_ACCEPTED = 0, S_DELIVERED, S_DEFERRED, S_BOUNCED, S_REJECTED,
	S_COUNT };

typedef _Atomic uint64_t counter;

struct hist {
	const char *name, *help;
	const double *le;
	size_t nle;
	counter n[24]; /* per bucket, not cumulative; [nle] is +Inf */
	counter sum_us;
	counter count;
};

static const double accept_le[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
static const double delivery_le[] = { 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30,
	60, 300, 900, 3600, 14400, 86400 };

struct slot {
	_Atomic int64_t minute; /* unix minute this slot counts */
	counter v[S_COUNT];
	counter rej[OBS_R_COUNT];
};

struct cause {
	char text[CAUSE_LEN];
	uint64_t count;
	int64_t last_minute;
};

static struct {
	char lis[LIS_MAX][NAME_MAX_LEN];
	size_t nlis; /* the last one is "pickup" */
	int64_t started;
	counter connections[LIS_MAX], tls_in[LIS_MAX], accepted[LIS_MAX];
	_Atomic int64_t sessions[LIS_MAX];
	counter rejected[OBS_R_COUNT];
	counter deliveries[OBS_ROUTE_COUNT][D_COUNT];
	counter auth[2];    /* failure, success */
	counter tls_out[2]; /* no, yes */
	counter held, spool_syncs;
	struct slot slots[SLOTS];
	pthread_mutex_t mtx; /* slot resets and the deferral causes */
	struct cause causes[CAUSES_MAX];
	metrics_queue_fn *probe;
	void *probe_arg;
} M = { .mtx = PTHREAD_MUTEX_INITIALIZER };

static struct hist accept_h = { "tern_accept_latency_seconds",
	"From the end of a message's data to the 250 that accepted it.",
	accept_le, sizeof(accept_le) / sizeof(accept_le[0]), { 0 }, 0, 0 };
static struct hist delivery_h = { "tern_delivery_latency_seconds",
	"From a message's arrival to the delivery of a recipient.",
	delivery_le, sizeof(delivery_le) / sizeof(delivery_le[0]), { 0 }, 0,
	0 };

#define ADD(c, n) atomic_fetch_add_explicit(&(c), (n), memory_order_relaxed)
#define GET(c) atomic_load_explicit(&(c), memory_order_relaxed)

void
metrics_init(const struct conf *c)
{
	size_t i;

	M.nlis = 0;
	for (i = 0; i < c->nlisteners && i + 1 < LIS_MAX; i++)
		(void)strlcpy(M.lis[M.nlis++], c->listeners[i].name,
		    NAME_MAX_LEN);
	(void)strlcpy(M.lis[M.nlis++], "pickup", NAME_MAX_LEN);
	M.started = (int64_t)time(NULL);
}

void
metrics_reset(void)
{
	metrics_queue_fn *probe = M.probe;
	void *arg = M.probe_arg;

	pthread_mutex_lock(&M.mtx);
	memset(M.connections, 0, sizeof(M.connections));
	memset(M.tls_in, 0, sizeof(M.tls_in));
	memset(M.accepted, 0, sizeof(M.accepted));
	memset(M.sessions, 0, sizeof(M.sessions));
	memset(M.rejected, 0, sizeof(M.rejected));
	memset(M.deliveries, 0, sizeof(M.deliveries));
	memset(M.auth, 0, sizeof(M.auth));
	memset(M.tls_out, 0, sizeof(M.tls_out));
	M.held = M.spool_syncs = 0;
	memset(M.slots, 0, sizeof(M.slots));
	memset(M.causes, 0, sizeof(M.causes));
	memset(accept_h.n, 0, sizeof(accept_h.n));
	memset(delivery_h.n, 0, sizeof(delivery_h.n));
	accept_h.sum_us = accept_h.count = 0;
	delivery_h.sum_us = delivery_h.count = 0;
	M.probe = probe;
	M.probe_arg = arg;
	pthread_mutex_unlock(&M.mtx);
}

static size_t
lis_ok(size_t lis)
{
	return lis < M.nlis ? lis : M.nlis > 0 ? M.nlis - 1 : 0;
}

void
metrics_session_start(size_t lis)
{
	lis = lis_ok(lis);
	ADD(M.connections[lis], 1);
	ADD(M.sessions[lis], 1);
}

void
metrics_session_end(size_t lis)
{
	ADD(M.sessions[lis_ok(lis)], -1);
}

void
metrics_tls_in(size_t lis)
{
	ADD(M.tls_in[lis_ok(lis)], 1);
}

void
metrics_auth(bool ok)
{
	ADD(M.auth[ok ? 1 : 0], 1);
}

void
metrics_tls_out(bool tls)
{
	ADD(M.tls_out[tls ? 1 : 0], 1);
}

void
metrics_spool_syncs(uint64_t n)
{
	ADD(M.spool_syncs, n);
}

static void
observe(struct hist *h, double s)
{
	size_t i;

	if (!(s >= 0))
		s = 0;
	for (i = 0; i < h->nle && s > h->le[i]; i++)
		;
	ADD(h->n[i], 1);
	ADD(h->sum_us, (uint64_t)(s * 1e6));
	ADD(h->count, 1);
}

void
metrics_accept_latency(double seconds)
{
	observe(&accept_h, seconds);
}

void
metrics_set_queue_probe(metrics_queue_fn *fn, void *arg)
{
	M.probe = fn;
	M.probe_arg = arg;
}

/* The slot of this minute, zeroed when it last counted another one. */
static struct slot *
slot_now(int64_t minute)
{
	struct slot *sl = &M.slots[minute % SLOTS];

	if (GET(sl->minute) != minute) {
		pthread_mutex_lock(&M.mtx);
		if (GET(sl->minute) != minute) {
			memset(sl->v, 0, sizeof(sl->v));
			memset(sl->rej, 0, sizeof(sl->rej));
			atomic_store(&sl->minute, minute);
		}
		pthread_mutex_unlock(&M.mtx);
	}
	return sl;
}

/* A deferral's cause: its text, cut; counted while seen this hour. */
static void
note_cause(const char *text, int64_t minute)
{
	struct cause *c, *victim = NULL;
	size_t i;

	if (text == NULL || text[0] == '\0')
		text = "no reason given";
	pthread_mutex_lock(&M.mtx);
	for (i = 0; i < CAUSES_MAX; i++) {
		c = &M.causes[i];
		if (c->count > 0 && strncmp(c->text, text, CAUSE_LEN - 1) == 0)
			break;
		if (victim == NULL || c->count == 0 ||
		    (victim->count > 0 &&
		        (c->last_minute < victim->last_minute ||
		            (c->last_minute == victim->last_minute &&
		                c->count < victim->count))))
			victim = c;
	}
	if (i == CAUSES_MAX) {
		c = victim;
		(void)strlcpy(c->text, text, CAUSE_LEN);
		c->count = 0;
	}
	if (minute - c->last_minute >= SLOTS)
		c->count = 0; /* not seen for an hour: start again */
	c->count++;
	c->last_minute = minute;
	pthread_mutex_unlock(&M.mtx);
}

static size_t
lis_of(const char *name)
{
	size_t i;

	if (name != NULL)
		for (i = 0; i < M.nlis; i++)
			if (strcmp(M.lis[i], name) == 0)
				return i;
	return M.nlis > 0 ? M.nlis - 1 : 0;
}

void
metrics_on_event(const struct obs_event *ev)
{
	int64_t minute = (int64_t)time(NULL) / 60;
	struct slot *sl = slot_now(minute);
	unsigned route = (unsigned)ev->route < OBS_ROUTE_COUNT ? ev->route : 0;
	unsigned reason =
	    (unsigned)ev->reason < OBS_R_COUNT ? ev->reason : OBS_R_OTHER;

	switch (ev->kind) {
	case OBS_ACCEPTED:
		/* Our own notices (bounces) are not mail accepted. */
		if (ev->listener != NULL && strcmp(ev->listener, "bounce") == 0)
			break;
		ADD(M.accepted[lis_of(ev->listener)], 1);
		ADD(sl->v[S_ACCEPTED], 1);
		break;
	case OBS_REJECTED:
		ADD(M.rejected[reason], 1);
		ADD(sl->v[S_REJECTED], 1);
		ADD(sl->rej[reason], 1);
		break;
	case OBS_DELIVERED:
		ADD(M.deliveries[route][D_DELIVERED], 1);
		ADD(sl->v[S_DELIVERED], 1);
		observe(&delivery_h, ev->delay);
		break;
	case OBS_DEFERRED:
		ADD(M.deliveries[route][D_DEFERRED], 1);
		ADD(sl->v[S_DEFERRED], 1);
		note_cause(ev->text, minute);
		break;
	case OBS_BOUNCED:
		ADD(M.deliveries[route][D_BOUNCED], 1);
		ADD(sl->v[S_BOUNCED], 1);
		break;
	case OBS_HELD:
		ADD(M.held, 1);
		break;
	default:
		break;
	}
}

/* ---- Prometheus text format 0.0.4 --------------------------------- */

static int
head(struct buf *b, const char *name, const char *type, const char *help)
{
	return buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

static int
per_listener(struct buf *b, const char *name, const char *type,
    const char *help, counter *c, size_t n)
{
	size_t i;

	if (head(b, name, type, help) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (buf_printf(b, "%s{listener=\"%s\"} %" PRIu64 "\n", name,
		        M.lis[i], GET(c[i])) == -1)
			return -1;
	return 0;
}

static int
render_hist(struct buf *b, struct hist *h)
{
	uint64_t cum = 0;
	size_t i;

	if (head(b, h->name, "histogram", h->help) == -1)
		return -1;
	for (i = 0; i < h->nle; i++) {
		cum += GET(h->n[i]);
		if (buf_printf(b, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", h->name,
		        h->le[i], cum) == -1)
			return -1;
	}
	cum += GET(h->n[h->nle]);
	return buf_printf(b,
	    "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum %.6f\n"
	    "%s_count %" PRIu64 "\n",
	    h->name, cum, h->name, (double)GET(h->sum_us) / 1e6, h->name, cum);
}

static void
probe(struct metrics_queue *q)
{
	memset(q, 0, sizeof(*q));
	if (M.probe != NULL)
		M.probe(M.probe_arg, q);
}

static const char *const d_names[D_COUNT] = { "delivered", "deferred",
	"bounced" };

int
metrics_render_prometheus(struct buf *b)
{
	struct metrics_queue q;
	int64_t now = (int64_t)time(NULL);
	uint64_t sess[LIS_MAX];
	size_t i, j;
	int r = 0;

	probe(&q);
	for (i = 0; i < M.nlis; i++) {
		int64_t s = GET(M.sessions[i]);
		sess[i] = s > 0 ? (uint64_t)s : 0;
	}
	r |= head(b, "tern_build_info", "gauge", "The running tern.");
	r |= buf_printf(b, "tern_build_info{version=\"%s\"} 1\n",
	    TERN_VERSION_STRING);
	r |= head(b, "tern_start_time_seconds", "gauge",
	    "When this server started, unix seconds.");
	r |= buf_printf(b, "tern_start_time_seconds %" PRId64 "\n", M.started);
	r |= per_listener(b, "tern_connections_total", "counter",
	    "Connections accepted, by listener.", M.connections,
	    M.nlis > 0 ? M.nlis - 1 : 0);
	r |= head(b, "tern_sessions", "gauge",
	    "Sessions open now, by listener.");
	for (i = 0; i + 1 < M.nlis; i++)
		r |= buf_printf(b, "tern_sessions{listener=\"%s\"} %" PRIu64
		                   "\n",
		    M.lis[i], sess[i]);
	r |= per_listener(b, "tern_tls_sessions_total", "counter",
	    "Inbound sessions that completed a TLS handshake, by listener.",
	    M.tls_in, M.nlis > 0 ? M.nlis - 1 : 0);
	r |= head(b, "tern_auth_total", "counter",
	    "SMTP AUTH attempts, by result.");
	r |= buf_printf(b,
	    "tern_auth_total{result=\"success\"} %" PRIu64 "\n"
	    "tern_auth_total{result=\"failure\"} %" PRIu64 "\n",
	    GET(M.auth[1]), GET(M.auth[0]));
	r |= per_listener(b, "tern_messages_accepted_total", "counter",
	    "Messages accepted (250 to the data), by listener; pickup is "
	    "tern sendmail.",
	    M.accepted, M.nlis);
	r |= head(b, "tern_rejections_total", "counter",
	    "Commands and connections refused (4xx and 5xx replies the client caused), by reason.");
	for (i = 0; i < OBS_R_COUNT; i++)
		r |= buf_printf(b,
		    "tern_rejections_total{reason=\"%s\"} %" PRIu64 "\n",
		    obs_reason_name((enum obs_reason)i), GET(M.rejected[i]));
	r |= head(b, "tern_deliveries_total", "counter",
	    "Delivery attempts of one recipient, by route and result.");
	for (i = 0; i < OBS_ROUTE_COUNT; i++)
		for (j = 0; j < D_COUNT; j++)
			r |= buf_printf(b,
			    "tern_deliveries_total{route=\"%s\",result=\"%s\"}"
			    " %" PRIu64 "\n",
			    obs_route_name((enum obs_route)i), d_names[j],
			    GET(M.deliveries[i][j]));
	r |= head(b, "tern_outbound_transactions_total", "counter",
	    "Mail transactions with other SMTP and LMTP servers, by whether "
	    "the connection used TLS.");
	r |= buf_printf(b,
	    "tern_outbound_transactions_total{tls=\"yes\"} %" PRIu64 "\n"
	    "tern_outbound_transactions_total{tls=\"no\"} %" PRIu64 "\n",
	    GET(M.tls_out[1]), GET(M.tls_out[0]));
	r |= head(b, "tern_messages_held_total", "counter",
	    "Messages put on hold (tern queue hold, a user limit).");
	r |= buf_printf(b, "tern_messages_held_total %" PRIu64 "\n",
	    GET(M.held));
	r |= head(b, "tern_queue_messages", "gauge",
	    "Messages in the queue, held ones included.");
	r |= buf_printf(b, "tern_queue_messages %zu\n", q.messages);
	r |= head(b, "tern_queue_held", "gauge", "Held messages in the queue.");
	r |= buf_printf(b, "tern_queue_held %zu\n", q.held);
	r |= head(b, "tern_queue_oldest_age_seconds", "gauge",
	    "Age of the oldest message in the queue; 0 when empty.");
	r |= buf_printf(b, "tern_queue_oldest_age_seconds %" PRId64 "\n",
	    q.oldest_arrival > 0 && now > q.oldest_arrival
	        ? now - q.oldest_arrival
	        : 0);
	r |= head(b, "tern_spool_syncs_total", "counter",
	    "fsync and fdatasync calls of the queue (a group commit is one).");
	r |= buf_printf(b, "tern_spool_syncs_total %" PRIu64 "\n",
	    GET(M.spool_syncs));
	r |= render_hist(b, &accept_h);
	r |= render_hist(b, &delivery_h);
	return r == 0 ? 0 : -1;
}

/* ---- the dashboard's JSON ----------------------------------------- */

static uint64_t
sum(counter *c, size_t n)
{
	uint64_t s = 0;
	size_t i;

	for (i = 0; i < n; i++)
		s += GET(c[i]);
	return s;
}

static uint64_t
route_sum(unsigned d)
{
	uint64_t s = 0;
	size_t i;

	for (i = 0; i < OBS_ROUTE_COUNT; i++)
		s += GET(M.deliveries[i][d]);
	return s;
}

static const char *const s_names[S_COUNT] = { "accepted", "delivered",
	"deferred", "bounced", "rejected" };

static int
render_minutes(struct buf *b, int64_t minute)
{
	const struct slot *sl;
	int64_t m;
	size_t k;
	int r = 0;

	r |= buf_append_str(b, ",\"minutes\":[");
	for (m = minute - SLOTS + 1; m <= minute; m++) {
		sl = &M.slots[m % SLOTS];
		r |= buf_printf(b, "%s{\"t\":%" PRId64, m == minute - SLOTS + 1
		                                         ? ""
		                                         : ",",
		    m * 60);
		for (k = 0; k < S_COUNT; k++)
			r |= json_kv_u64(b, s_names[k],
			    GET(sl->minute) == m ? GET(sl->v[k]) : 0);
		r |= buf_append(b, "}", 1);
	}
	return r | buf_append(b, "]", 1);
}

struct top {
	const char *cause;
	uint64_t count;
};

static int
top_cmp(const void *a, const void *b)
{
	const struct top *x = a, *y = b;

	return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

static int
render_top(struct buf *b, const char *key, struct top *t, size_t n)
{
	size_t i;
	int r = 0;

	qsort(t, n, sizeof(*t), top_cmp);
	r |= buf_printf(b, ",\"%s\":[", key);
	for (i = 0; i < n && i < TOP_N; i++) {
		r |= buf_append_str(b, i > 0 ? ",{" : "{");
		r |= json_kv_str(b, "cause", t[i].cause);
		r |= json_kv_u64(b, "count", t[i].count);
		r |= buf_append(b, "}", 1);
	}
	return r | buf_append(b, "]", 1);
}

static int
render_causes(struct buf *b, int64_t minute)
{
	struct top t[CAUSES_MAX > OBS_R_COUNT ? CAUSES_MAX : OBS_R_COUNT];
	const struct slot *sl;
	uint64_t c;
	size_t i, n = 0;
	int r = 0;

	for (i = 0; i < OBS_R_COUNT; i++) {
		c = 0;
		for (sl = M.slots; sl < M.slots + SLOTS; sl++)
			if (GET(sl->minute) > minute - SLOTS)
				c += GET(sl->rej[i]);
		if (c > 0)
			t[n++] = (struct top){ obs_reason_words(
						   (enum obs_reason)i),
				c };
	}
	r |= render_top(b, "rejections", t, n);
	n = 0;
	pthread_mutex_lock(&M.mtx);
	for (i = 0; i < CAUSES_MAX; i++)
		if (M.causes[i].count > 0 &&
		    minute - M.causes[i].last_minute < SLOTS)
			t[n++] = (struct top){ M.causes[i].text,
				M.causes[i].count };
	r |= render_top(b, "deferrals", t, n);
	pthread_mutex_unlock(&M.mtx);
	return r;
}

int
metrics_render_json(struct buf *b)
{
	struct metrics_queue q;
	int64_t now = (int64_t)time(NULL);
	int r = 0;

	probe(&q);
	r |= buf_printf(b, "{\"now\":%" PRId64 ",\"started\":%" PRId64, now,
	    M.started);
	r |= buf_append_str(b, ",\"counters\":{");
	r |= json_kv_u64(b, "accepted", sum(M.accepted, M.nlis));
	r |= json_kv_u64(b, "rejected", sum(M.rejected, OBS_R_COUNT));
	r |= json_kv_u64(b, "delivered", route_sum(D_DELIVERED));
	r |= json_kv_u64(b, "deferred", route_sum(D_DEFERRED));
	r |= json_kv_u64(b, "bounced", route_sum(D_BOUNCED));
	r |= json_kv_u64(b, "held", GET(M.held));
	r |= json_kv_u64(b, "connections", sum(M.connections, M.nlis));
	r |= json_kv_u64(b, "tls_in", sum(M.tls_in, M.nlis));
	r |= json_kv_u64(b, "auth_ok", GET(M.auth[1]));
	r |= json_kv_u64(b, "auth_failed", GET(M.auth[0]));
	r |= buf_append_str(b, "},\"queue\":{");
	r |= json_kv_u64(b, "messages", q.messages);
	r |= json_kv_u64(b, "held", q.held);
	r |= json_kv_i64(b, "oldest_age",
	    q.oldest_arrival > 0 && now > q.oldest_arrival
	        ? now - q.oldest_arrival
	        : 0);
	r |= buf_append(b, "}", 1);
	r |= render_minutes(b, now / 60);
	r |= render_causes(b, now / 60);
	r |= buf_append(b, "}", 1);
	return r == 0 ? 0 : -1;
}
