/* SPDX-License-Identifier: ISC */
/*
 * deliver/remote.c - SMTP/LMTP delivery and session reuse (see remote.h);
 * where each recipient goes and how a session is opened is
 * deliver/nexthop.c's.
 *
 * The client is blocking and runs on the delivery thread: each step has
 * a deadline (client/client.h), so a stalled server holds one thread for
 * a bounded time while the other threads go on. A reaper thread closes
 * idle sessions when their time is up, so that a quiet queue does not
 * hold connections open (issue 15): it sleeps until the earliest idle
 * deadline, and is woken when a session is parked.
 * Trust: addresses come from the spool; remote replies are handled by
 * client/ and reach logs through LOG_ESC().
 */
#include "deliver/remote.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/client.h"
#include "conf/conf.h"
#include "dns/dns.h"
#include "deliver/local.h"
#include "deliver/nexthop.h"
#include "msg/field.h"
#include "obs/metrics.h"
#include "queue/sched.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

_Static_assert(NEXTHOP_RELAY_MAX <= SCHED_RELAY_MAX,
    "a next hop's relay= must fit struct sched_reply");

#define IDLE_SECS 5       /* a reusable session waits this long */
#define IDLE_MAX 64       /* idle sessions kept in all */
#define SLOT_WAIT_SECS 60 /* for a free session slot to a destination */
#define TLS_REQ_SCAN 16384 /* header bytes read for TLS-Required */

struct idle {
	struct client_conn *c;
	/*
	 * The configuration c was opened with (a reference: its strings,
	 * helo and AUTH among them, stay valid). Only a pass on the same
	 * one reuses c; after a reload the session is closed instead.
	 */
	const struct conf *conf;
	struct nexthop_peer peer; /* where c goes: for relay= */
	int64_t since_ms;
	struct idle *next;
};

struct dest {
	char key[NEXTHOP_KEY_MAX];
	unsigned active;   /* sessions in use */
	struct idle *idle; /* sessions waiting for a message */
	struct dest *next;
};

struct remote {
	struct sched_deliverer d; /* first: the server holds &r->d */
	struct sched_deliverer *local;
	struct nexthop *nh;
	pthread_mutex_t mtx;
	pthread_cond_t cv; /* a slot came free (CLOCK_REALTIME) */
	struct dest *dests;
	size_t nidle;
	pthread_cond_t reap_cv; /* a session was parked, or stop (MONOTONIC) */
	pthread_t reaper;
	bool reaper_started;
	bool stopping; /* under mtx: the reaper returns */
};

struct rthread {
	struct remote *r;
	void *local_ctx;
	struct dns *dns; /* NULL until first needed */
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct dest *
dest_get(struct remote *r, const char *key)
{
	struct dest *d;

	for (d = r->dests; d != NULL; d = d->next)
		if (strcmp(d->key, key) == 0)
			return d;
	d = xcalloc(1, sizeof(*d));
	(void)strlcpy(d->key, key, sizeof(d->key));
	d->next = r->dests;
	r->dests = d;
	return d;
}

/*
 * Unlink idle sessions that have waited IDLE_SECS (all: force); the
 * caller closes them, outside the lock (QUIT waits for a reply).
 */
static struct idle *
reap_locked(struct remote *r, bool force)
{
	struct idle *out = NULL, **pp, *i;
	struct dest *d;
	int64_t now = mono_ms();

	for (d = r->dests; d != NULL; d = d->next)
		for (pp = &d->idle; (i = *pp) != NULL;) {
			if (force || now - i->since_ms >= IDLE_SECS * 1000) {
				*pp = i->next;
				i->next = out;
				out = i;
				r->nidle--;
			} else
				pp = &i->next;
		}
	return out;
}

static void
close_list(struct idle *i)
{
	struct idle *next;

	for (; i != NULL; i = next) {
		next = i->next;
		client_close(i->c);
		conf_unref(i->conf);
		free(i);
	}
}

/* When the oldest idle session's time is up (ms, monotonic); -1: none. */
static int64_t
next_deadline_locked(const struct remote *r)
{
	const struct dest *d;
	const struct idle *i;
	int64_t when = -1;

	for (d = r->dests; d != NULL; d = d->next)
		for (i = d->idle; i != NULL; i = i->next)
			if (when == -1 || i->since_ms + IDLE_SECS * 1000 < when)
				when = i->since_ms + IDLE_SECS * 1000;
	return when;
}

/*
 * The reaper: sleeps until the earliest idle deadline (or until a
 * session is parked, or the deliverer stops), then closes what has
 * waited long enough. A delivery thread that takes a session unlinks it
 * under the same lock, so a session is either reused or reaped, never
 * both.
 */
static void *
reaper_main(void *arg)
{
	struct remote *r = arg;
	struct idle *stale;
	struct timespec ts;
	int64_t when;

	pthread_mutex_lock(&r->mtx);
	while (!r->stopping) {
		stale = reap_locked(r, false);
		if (stale != NULL) {
			pthread_mutex_unlock(&r->mtx);
			close_list(stale);
			pthread_mutex_lock(&r->mtx);
			continue; /* the list may have changed meanwhile */
		}
		when = next_deadline_locked(r);
		if (when == -1) {
			pthread_cond_wait(&r->reap_cv, &r->mtx);
			continue;
		}
		ts.tv_sec = when / 1000;
		ts.tv_nsec = (when % 1000) * 1000000;
		(void)pthread_cond_timedwait(&r->reap_cv, &r->mtx, &ts);
	}
	pthread_mutex_unlock(&r->mtx);
	return NULL;
}

/*
 * Wait for a session slot to key; *reuse_out gets an idle session (and
 * *peer_out where it goes) opened with conf, or NULL. -1 when no slot
 * came free in time.
 */
static int
slot_take(struct remote *r, const struct conf *conf, const char *key,
    struct client_conn **reuse_out, struct nexthop_peer *peer_out)
{
	struct dest *d;
	struct idle *i, *stale, **pp;
	struct timespec ts;
	unsigned limit = conf->queue.destination_concurrency;
	int rc = 0;

	*reuse_out = NULL;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += SLOT_WAIT_SECS;
	pthread_mutex_lock(&r->mtx);
	stale = reap_locked(r, false);
	d = dest_get(r, key);
	/* Sessions of an older configuration are closed, not reused. */
	for (pp = &d->idle; (i = *pp) != NULL;)
		if (i->conf != conf) {
			*pp = i->next;
			i->next = stale;
			stale = i;
			r->nidle--;
		} else
			pp = &i->next;
	while (d->idle == NULL && d->active >= (limit ? limit : 1) && rc == 0)
		rc = pthread_cond_timedwait(&r->cv, &r->mtx, &ts);
	if (d->idle != NULL && d->idle->conf == conf) {
		i = d->idle;
		d->idle = i->next;
		r->nidle--;
		*reuse_out = i->c;
		*peer_out = i->peer;
		conf_unref(i->conf);
		free(i);
		d->active++;
		rc = 0;
	} else if (d->active < (limit ? limit : 1)) {
		d->active++;
		rc = 0;
	} else
		rc = -1;
	pthread_mutex_unlock(&r->mtx);
	close_list(stale);
	return rc;
}

/*
 * Give the slot back, and the session (to peer, opened with conf) when
 * it can carry more mail.
 */
static void
slot_give(struct remote *r, const struct conf *conf, const char *key,
    struct client_conn *c, const struct nexthop_peer *peer)
{
	struct idle *i = NULL, *stale;
	struct dest *d;

	pthread_mutex_lock(&r->mtx);
	d = dest_get(r, key);
	d->active--;
	if (c != NULL && r->nidle < IDLE_MAX) {
		i = xcalloc(1, sizeof(*i));
		i->c = c;
		i->conf = conf_ref(conf);
		i->peer = *peer;
		i->since_ms = mono_ms();
		i->next = d->idle;
		d->idle = i;
		r->nidle++;
		c = NULL;
		pthread_cond_signal(&r->reap_cv); /* a new deadline */
	}
	stale = reap_locked(r, false);
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mtx);
	client_close(c);
	close_list(stale);
}

static void *
thread_init(void *arg)
{
	struct remote *r = arg;
	struct rthread *t = xcalloc(1, sizeof(*t));

	t->r = r;
	t->local_ctx = r->local->thread_init != NULL
	                   ? r->local->thread_init(r->local->arg)
	                   : r->local->arg;
	return t;
}

static void
thread_fini(void *ctx)
{
	struct rthread *t = ctx;

	if (t->r->local->thread_fini != NULL)
		t->r->local->thread_fini(t->local_ctx);
	dns_free(t->dns);
	free(t);
}

/* May a failed send on a reused session be tried on a fresh one? */
static bool
all_temp(const struct why *whys, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (whys[i].kind != WHY_TEMP)
			return false;
	return true;
}

/*
 * The engine's reply as the scheduler keeps it (for DSNs), with the host
 * that gave it (mta; "" for a unix socket), the server it went to or was
 * tried (relay, for the log) and, for a delivered recipient, how it was
 * handed on (sched.h).
 */
static void
reply_copy(const struct client_reply *cr, const char *mta, const char *relay,
    enum sched_handoff handoff, struct sched_reply *sr)
{
	memset(sr, 0, sizeof(*sr));
	sr->handoff = handoff;
	(void)strlcpy(sr->relay, relay, sizeof(sr->relay));
	if (cr->code == 0)
		return;
	sr->code = cr->code;
	(void)strlcpy(sr->esc, cr->esc, sizeof(sr->esc));
	(void)strlcpy(sr->text, cr->text, sizeof(sr->text));
	(void)strlcpy(sr->mta, mta, sizeof(sr->mta));
}

/* One transaction for recipients idx[0..n) of env that share t. */
static void
deliver_group(struct rthread *th, const struct conf *conf,
    const struct spool_env *env, int fd, const struct nexthop_target *t,
    const size_t *idx, size_t n, struct why *whys,
    struct sched_reply *replies)
{
	struct remote *r = th->r;
	struct client_reply *cr;
	struct client_rcpt *rc;
	struct client_conn *c;
	struct client_msg m;
	struct why why;
	struct nexthop_peer peer;
	char mta[CLIENT_PEER_MAX] = "", where[NEXTHOP_RELAY_MAX];
	enum sched_handoff handoff;
	size_t i, ok = 0;
	bool reused, dsn = false;
	int attempt, sent;

	rc = xcalloc(n, sizeof(*rc));
	cr = xcalloc(n, sizeof(*cr));
	for (i = 0; i < n; i++) {
		rc[i].addr = env->rcpts[idx[i]].addr;
		if (env->dsn != NULL) {
			rc[i].notify = env->dsn[idx[i]].notify;
			rc[i].orcpt = env->dsn[idx[i]].orcpt;
		}
	}
	memset(&m, 0, sizeof(m));
	m.sender = env->sender;
	m.rcpts = rc;
	m.nrcpts = n;
	m.size = (uint64_t)env->body_size + env->prefix_len;
	m.prefix = env->prefix;
	m.prefix_len = env->prefix_len;
	m.eightbit = env->eightbit;
	m.smtputf8 = env->smtputf8;
	m.ret = env->dsn_ret;
	m.envid = env->envid;
	/* RFC 8689: LMTP routes are final delivery (nexthop.h). */
	m.requiretls = t->requiretls &&
	               !(t->route != NULL && t->route->kind == CONF_ROUTE_LMTP);
	memset(&peer, 0, sizeof(peer));
	if (slot_take(r, conf, t->key, &c, &peer) == -1) {
		for (i = 0; i < n; i++)
			why_set(&whys[i], WHY_TEMP, 0,
			    "%s: all %u sessions busy", t->key,
			    conf->queue.destination_concurrency);
		free(cr);
		free(rc);
		return;
	}
	reused = c != NULL;
	for (attempt = 0; attempt < 2; attempt++) {
		if (c == NULL && (c = nexthop_open(r->nh, conf, &th->dns, t, 0,
		                      &peer, &why)) == NULL) {
			for (i = 0; i < n; i++)
				whys[i] = why;
			break;
		}
		sent = client_send(c, &m, fd, env->body_offset, whys, cr, &why);
		/* A dead session may still have delivered some (LMTP). */
		dsn = client_has_dsn(c);
		if (t->route == NULL || t->route->path == NULL)
			(void)strlcpy(mta, client_peer(c), sizeof(mta));
		if (sent == 0)
			break;
		client_close(c);
		c = NULL;
		/* An idle session the server has dropped: once more. */
		if (!reused || !all_temp(whys, n))
			break;
		reused = false;
	}
	/*
	 * A next hop that offers DSN got the parameters and reports success
	 * itself (RFC 3461 5.2.1): nothing from us, or the sender hears
	 * twice. Without DSN, an LMTP server is the local delivery agent:
	 * what it accepts is delivered here (5.2.3, "delivered"); an SMTP
	 * server is a relay (5.2.2, "relayed").
	 */
	if (dsn)
		handoff = SCHED_HANDOFF_DSN;
	else if (t->route != NULL && t->route->kind == CONF_ROUTE_LMTP)
		handoff = SCHED_HANDOFF_FINAL;
	else
		handoff = SCHED_HANDOFF_RELAYED;
	(void)nexthop_peer_str(&peer, where, sizeof(where));
	for (i = 0; i < n; i++) {
		ok += whys[i].kind == WHY_NONE;
		reply_copy(&cr[i], mta, where, handoff, &replies[i]);
	}
	for (i = 0; i < n && whys[i].kind == WHY_NONE; i++)
		;
	/* Issue 19: how the hop was secured (policy, TLSA match or PKIX,
	 * the certificate's subject: the peer's text, escaped). */
	log_info("event=remote_session id=%s dest=%s host=%s addr=%s tls=%s "
	         "tls_policy=%s tls_auth=%s tls_subject=%s "
	         "reused=%s rcpts=%zu accepted=%zu%s%s%s",
	    env->id, LOG_ESC(t->key), LOG_ESC(c != NULL ? client_peer(c) : "-"),
	    LOG_ESC(peer.addr[0] ? peer.addr : "-"),
	    c != NULL && client_is_tls(c) ? "yes" : "no",
	    t->route != NULL ? "route" : tlspolicy_kind_name(peer.tls_policy),
	    LOG_ESC(c != NULL && client_is_tls(c) ? client_tls_auth(c) : "-"),
	    LOG_ESC(c != NULL && client_is_tls(c) && client_tls_subject(c)[0]
	                ? client_tls_subject(c)
	                : "-"),
	    reused ? "yes" : "no", n, ok, m.requiretls ? " requiretls=yes" : "",
	    i < n ? " reason=" : "", i < n ? LOG_ESC(whys[i].text) : "");
	if (c != NULL)
		metrics_tls_out(client_is_tls(c));
	slot_give(r, conf, t->key, c, &peer);
	free(cr);
	free(rc);
}

/*
 * RFC 8689 4: does the message's header say `TLS-Required: No`? Read
 * from the spool file (the field is part of the message, so as durable
 * as it); the prefix holds only our own fields. A read error: no.
 */
static bool
tls_required_no(const struct spool_env *env, int fd)
{
	char *hdr;
	ssize_t got;
	size_t want = TLS_REQ_SCAN;
	bool no;

	if (env->requiretls) /* 4.1: REQUIRETLS wins over the field */
		return false;
	if ((uint64_t)env->body_size < want)
		want = (size_t)env->body_size;
	hdr = xmalloc(want + 1);
	got = pread(fd, hdr, want, env->body_offset);
	no = got > 0 && msg_tls_required_no(hdr, (size_t)got);
	free(hdr);
	return no;
}

static void
deliver_many(void *ctx, const struct conf *conf, const struct spool_env *env,
    int fd, const size_t *idx, size_t n, struct why *whys,
    struct sched_reply *replies)
{
	struct rthread *th = ctx;
	struct remote *r = th->r;
	struct nexthop_target *ts;
	struct why *gw;
	struct sched_reply *gr;
	size_t *gidx, *pos, k, j, m;
	bool *done, tls_optional;

	ts = xcalloc(n, sizeof(*ts));
	done = xcalloc(n, sizeof(*done));
	gidx = xcalloc(n, sizeof(*gidx));
	pos = xcalloc(n, sizeof(*pos));
	gw = xcalloc(n, sizeof(*gw));
	gr = xcalloc(n, sizeof(*gr));
	tls_optional = tls_required_no(env, fd);
	for (k = 0; k < n; k++) {
		nexthop_route(conf, env->rcpts[idx[k]].addr, &ts[k]);
		if (ts[k].key[0] == '\0')
			continue;
		/* Accepted with REQUIRETLS: kept even if the switch is off now. */
		if (env->requiretls)
			nexthop_require_tls(&ts[k]);
		/* Its own sessions: not one for the domain's other mail. */
		if (tls_optional)
			nexthop_tls_optional(&ts[k]);
	}
	for (k = 0; k < n; k++) {
		if (done[k])
			continue;
		if (ts[k].key[0] == '\0') {
			why_clear(&whys[k]);
			if (r->local->deliver(th->local_ctx, conf, env, fd,
			        idx[k], &whys[k]) == 0)
				why_clear(&whys[k]);
			else if (whys[k].kind == WHY_NONE)
				whys[k].kind = WHY_TEMP;
			local_relay(conf, env->rcpts[idx[k]].addr,
			    replies[k].relay, sizeof(replies[k].relay));
			done[k] = true;
			continue;
		}
		for (m = 0, j = k; j < n; j++)
			if (!done[j] && strcmp(ts[j].key, ts[k].key) == 0) {
				gidx[m] = idx[j];
				pos[m++] = j;
				done[j] = true;
			}
		deliver_group(th, conf, env, fd, &ts[k], gidx, m, gw, gr);
		for (j = 0; j < m; j++) {
			whys[pos[j]] = gw[j];
			replies[pos[j]] = gr[j];
		}
	}
	free(gr);
	free(gw);
	free(pos);
	free(gidx);
	free(done);
	free(ts);
}

static int
deliver_one(void *ctx, const struct conf *conf, const struct spool_env *env,
    int fd, size_t idx, struct why *why)
{
	struct sched_reply rep;

	memset(&rep, 0, sizeof(rep)); /* deliver_many()'s contract */
	deliver_many(ctx, conf, env, fd, &idx, 1, why, &rep);
	return why->kind == WHY_NONE ? 0 : -1;
}

struct sched_deliverer *
remote_deliverer_new(struct sched_deliverer *local)
{
	struct remote *r;
	pthread_condattr_t ca;

	r = xcalloc(1, sizeof(*r));
	r->local = local;
	r->d.thread_init = thread_init;
	r->d.thread_fini = thread_fini;
	r->d.deliver = deliver_one;
	r->d.deliver_many = deliver_many;
	r->d.arg = r;
	r->d.name = "router";
	pthread_mutex_init(&r->mtx, NULL);
	pthread_cond_init(&r->cv, NULL);
	pthread_condattr_init(&ca);
	/* Idle deadlines are monotonic: setting the clock moves none. */
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->reap_cv, &ca);
	pthread_condattr_destroy(&ca);
	r->nh = nexthop_new();
	if (pthread_create(&r->reaper, NULL, reaper_main, r) == 0)
		r->reaper_started = true;
	else /* each delivery still reaps what has waited too long */
		log_warn("event=reaper_unavailable reason=\"cannot start "
		         "thread\"");
	return &r->d;
}

void
remote_deliverer_free(struct sched_deliverer *d)
{
	struct remote *r = (struct remote *)d; /* d is the first member */
	struct dest *dst, *next;
	struct idle *all;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mtx);
	r->stopping = true;
	pthread_cond_signal(&r->reap_cv);
	pthread_mutex_unlock(&r->mtx);
	/* It may be closing sessions: as long as QUIT's wait, at most. */
	if (r->reaper_started)
		pthread_join(r->reaper, NULL);
	pthread_mutex_lock(&r->mtx);
	all = reap_locked(r, true);
	pthread_mutex_unlock(&r->mtx);
	close_list(all);
	for (dst = r->dests; dst != NULL; dst = next) {
		next = dst->next;
		free(dst);
	}
	nexthop_free(r->nh);
	pthread_mutex_destroy(&r->mtx);
	pthread_cond_destroy(&r->cv);
	pthread_cond_destroy(&r->reap_cv);
	local_deliverer_free(r->local);
	free(r);
}
