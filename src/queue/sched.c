/* SPDX-License-Identifier: ISC */
/*
 * queue/sched.c - ready queue, retry timers and the delivery threads.
 *
 * Every message the scheduler knows is in exactly one place: the ready
 * list, the timer heap (ordered by next attempt) or a delivery thread.
 * An index of ids (tsearch) makes a second sched_submit() of a known id a
 * no-op, so one message is never handled by two threads at once.
 * Retry state (attempt count, next attempt) lives in the spool notes, so
 * a restart keeps the backoff; the recipient states are the spool's.
 * What the sender hears (bounces, delay warnings, success reports) is
 * sched_notify.c; each recipient's outcome goes to obs (obs/obs.h).
 * Trust: none; it only reads what the spool validated.
 */
#include "queue/sched.h"
#include "queue/sched-private.h"

#include <errno.h>
#include <pthread.h>
#include <search.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "obs/obs.h"
#include "queue/bounce.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define WAIT_MAX_MS 60000 /* re-read the clock at least this often */

static int64_t
now_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
qent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct qent *)a)->id,
	    ((const struct qent *)b)->id);
}

unsigned
sched_backoff(const struct conf *conf, unsigned attempts)
{
	uint64_t d = conf->queue.retry_initial ? conf->queue.retry_initial : 1;
	uint64_t max = conf->queue.retry_max ? conf->queue.retry_max : 1;
	unsigned i;

	/* Doubling stops at the cap, so the shift can never overflow. */
	for (i = 1; i < attempts && d < max; i++)
		d *= 2;
	return (unsigned)(d < max ? d : max);
}

static void
heap_swap(struct sched *s, size_t a, size_t b)
{
	struct qent *t = s->heap[a];

	s->heap[a] = s->heap[b];
	s->heap[b] = t;
	s->heap[a]->heap_idx = a;
	s->heap[b]->heap_idx = b;
}

/* Move entry i up or down until the heap order holds again. */
static void
sift(struct sched *s, size_t i)
{
	size_t l, r, m, p;

	while (i > 0) {
		p = (i - 1) / 2;
		if (s->heap[p]->when_ms <= s->heap[i]->when_ms)
			break;
		heap_swap(s, i, p);
		i = p;
	}
	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		m = i;
		if (l < s->nheap && s->heap[l]->when_ms < s->heap[m]->when_ms)
			m = l;
		if (r < s->nheap && s->heap[r]->when_ms < s->heap[m]->when_ms)
			m = r;
		if (m == i)
			break;
		heap_swap(s, i, m);
		i = m;
	}
}

static void
heap_push(struct sched *s, struct qent *e)
{
	size_t i;

	if (s->nheap == s->heapcap) {
		s->heapcap = s->heapcap ? s->heapcap * 2 : 64;
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): pointer array */
		s->heap = xrealloc(s->heap, s->heapcap * sizeof(*s->heap));
	}
	i = s->nheap++;
	s->heap[i] = e;
	e->heap_idx = i;
	e->where = Q_TIMER;
	sift(s, i);
}

/* Take out the entry at heap index i (0: the next timer). */
static struct qent *
heap_take(struct sched *s, size_t i)
{
	struct qent *e = s->heap[i];

	s->heap[i] = s->heap[--s->nheap];
	s->heap[i]->heap_idx = i;
	if (i < s->nheap)
		sift(s, i);
	return e;
}

static struct qent *
heap_pop(struct sched *s)
{
	return heap_take(s, 0);
}

static void
ready_push(struct sched *s, struct qent *e)
{
	e->where = Q_READY;
	e->next = NULL;
	*s->rtail = e;
	s->rtail = &e->next;
}

static struct qent *
ready_pop(struct sched *s)
{
	struct qent *e = s->rhead;

	s->rhead = e->next;
	if (s->rhead == NULL)
		s->rtail = &s->rhead;
	e->next = NULL;
	return e;
}

struct sched *
sched_new(struct conf_holder *confs, struct spool *spool,
    const struct sched_deliverer *d)
{
	struct sched *s;
	pthread_condattr_t ca;

	s = xcalloc(1, sizeof(*s));
	s->confs = confs;
	s->spool = spool;
	s->d = *d;
	s->rtail = &s->rhead;
	pthread_mutex_init(&s->mtx, NULL);
	pthread_mutex_init(&s->dir_mtx, NULL);
	pthread_condattr_init(&ca);
	/* Timers must not jump when the wall clock is set. */
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	return s;
}

void
sched_submit(struct sched *s, const char *id)
{
	struct qent *e, **found;

	if (!spool_is_id(id)) {
		log_warn("event=submit_refused reason=\"bad queue id\"");
		return;
	}
	e = xcalloc(1, sizeof(*e));
	memcpy(e->id, id, SPOOL_ID_LEN + 1);
	pthread_mutex_lock(&s->mtx);
	if (s->stopping) {
		pthread_mutex_unlock(&s->mtx);
		free(e);
		return;
	}
	found = tsearch(e, &s->index, qent_cmp);
	if (found == NULL)
		PANIC("tsearch: out of memory");
	if (*found != e) {
		/* Already queued or being delivered: that pass covers it. */
		pthread_mutex_unlock(&s->mtx);
		free(e);
		return;
	}
	ready_push(s, e);
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mtx);
}

/*
 * Seconds since arrival. The envelope keeps whole seconds, but a queue id
 * begins with the arrival in microseconds (spool.h), so use that when it
 * agrees with the envelope.
 */
double
sched_age(const struct spool_env *env)
{
	struct timespec ts;
	char hex[SPOOL_ID_TIME_LEN + 1];
	double t;

	memcpy(hex, env->id, SPOOL_ID_TIME_LEN);
	hex[SPOOL_ID_TIME_LEN] = '\0';
	t = (double)strtoull(hex, NULL, 16) / 1e6;
	if (t < (double)env->arrival - 1 || t > (double)env->arrival + 1)
		t = (double)env->arrival;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9 - t;
}

/*
 * relay= of recipient i: where deliver_many() says it went or was tried
 * (rep, escaped into esc), "none" when nothing was; the deliverer's name
 * without deliver_many() (rep NULL).
 */
static const char *
relay(const struct sched *s, const struct sched_reply *rep, size_t i, char *esc,
    size_t escsz)
{
	if (rep == NULL)
		return s->d.name != NULL ? s->d.name : "-";
	if (rep[i].relay[0] == '\0')
		return "none";
	return log_escs(esc, escsz, rep[i].relay);
}

/*
 * One recipient's outcome for the journal and the metrics (obs.h):
 * kind, where it went (rep[i], or the deliverer's name), the reply that
 * decided it, why.
 */
static void
obs_rcpt(const struct sched *s, const struct spool_env *env, size_t i,
    enum obs_kind kind, const struct sched_reply *rep, const char *why,
    const char *dsn_id, int64_t next)
{
	const struct sched_reply *r = rep != NULL ? &rep[i] : NULL;
	char reply[sizeof(r->esc) + sizeof(r->text) + 16];
	const char *where = r != NULL ? r->relay : s->d.name;
	struct obs_event ev = { .kind = kind, .id = env->id,
		.to = env->rcpts[i].addr, .relay = where,
		.text = why, .dsn_id = dsn_id, .delay = sched_age(env),
		.attempt = env->attempts + 1, .next_attempt = next };

	ev.route = obs_route_of(where);
	if (ev.route == OBS_ROUTE_NONE && r == NULL && where != NULL)
		ev.route = OBS_ROUTE_LOCAL; /* deliver() alone: Maildir */
	if (r != NULL && r->code != 0) {
		(void)snprintf(reply, sizeof(reply), "%u%s%s %s", r->code,
		    r->esc[0] != '\0' ? " " : "", r->esc, r->text);
		ev.reply = reply;
	}
	obs_emit(&ev);
}

/* Record a final state; false (and a log line) if the spool refused. */
static bool
set_state(struct sched *s, const struct spool_env *env, size_t i,
    enum spool_rcpt_state st)
{
	struct why why;
	char esc[300];

	if (spool_rcpt_set(s->spool, env->id, i, st, &why) == 0)
		return true;
	/* The recipient stays pending: a retry may deliver it twice. */
	log_warn("event=state_write_failed id=%s rcpt=%zu reason=%s", env->id,
	    i, log_escs(esc, sizeof(esc), why.text));
	return false;
}

/*
 * With deliver_many, deliver every pending recipient at once, so that
 * recipients with one destination share a transaction. Results and the
 * replies behind them (*rep_out) by recipient index (caller frees both);
 * NULL without deliver_many.
 */
static struct why *
deliver_batch(struct sched *s, const struct conf *conf, void *ctx,
    const struct spool_env *env, int fd, struct sched_reply **rep_out)
{
	struct why *res, *w;
	struct sched_reply *rep, *wr;
	size_t *idx, i, n = 0;

	*rep_out = NULL;
	if (s->d.deliver_many == NULL)
		return NULL;
	res = xcalloc(env->nrcpts, sizeof(*res));
	rep = xcalloc(env->nrcpts, sizeof(*rep));
	idx = xcalloc(env->nrcpts, sizeof(*idx));
	w = xcalloc(env->nrcpts, sizeof(*w));
	wr = xcalloc(env->nrcpts, sizeof(*wr));
	for (i = 0; i < env->nrcpts; i++)
		if (env->rcpts[i].state == SPOOL_RCPT_PENDING)
			idx[n++] = i;
	if (n > 0)
		s->d.deliver_many(ctx, conf, env, fd, idx, n, w, wr);
	for (i = 0; i < n; i++) {
		res[idx[i]] = w[i];
		rep[idx[i]] = wr[i];
	}
	free(wr);
	free(w);
	free(idx);
	*rep_out = rep;
	return res;
}

/* Recipient i's result: from the batch, or delivered now. */
static int
deliver_rcpt(struct sched *s, const struct conf *conf, void *ctx,
    const struct spool_env *env, int fd, size_t i, const struct why *batch,
    struct why *why)
{
	if (batch == NULL)
		return s->d.deliver(ctx, conf, env, fd, i, why);
	*why = batch[i];
	return why->kind == WHY_NONE ? 0 : -1;
}

/*
 * Try every pending recipient of one message. Returns the wall-clock
 * time (ms) of its next attempt, or -1 when it has left the queue.
 */
static int64_t
process_with(struct sched *s, const struct conf *conf, void *ctx,
    const char *id, bool forced, bool *held_out)
{
	struct spool_env env;
	struct why why;
	char to[256], reason[300], rl[SCHED_RELAY_MAX + 32];
	char bid[SPOOL_ID_MAX] = "";
	time_t now = time(NULL), next, expiry;
	size_t i, pending = 0, ndelivered = 0;
	bool *was_delivered;
	struct why *batch = NULL, *res;
	struct sched_reply *brep = NULL;
	size_t nfailed = 0;
	unsigned attempts;
	bool keep;
	int fd;

	if (spool_env_open(s->spool, id, &env, &fd, &why) == -1) {
		if (why.kind == WHY_PERM) {
			if (why.sys_errno != ENOENT)
				log_warn("event=dropped id=%s reason=%s", id,
				    log_escs(reason, sizeof(reason), why.text));
			return -1;
		}
		log_warn("event=deferred id=%s reason=%s", id,
		    log_escs(reason, sizeof(reason), why.text));
		return (now + sched_backoff(conf, 1)) * (int64_t)1000;
	}
	/* lifetime 0 would expire everything at once: read it as "never". */
	expiry = conf->queue.lifetime > 0
	             ? env.arrival + (time_t)conf->queue.lifetime
	             : (time_t)INT64_MAX;
	/*
	 * Held: never delivered until `tern queue release`. It waits for
	 * its expiry like any message (issue 15), then is bounced below, or
	 * kept for good with held_action = keep.
	 */
	if (env.held && (now < expiry ||
	                    conf->queue.held_action == CONF_HELD_KEEP)) {
		keep = conf->queue.held_action == CONF_HELD_KEEP;
		log_info("event=held id=%s expires=%s", id,
		    keep ? "never" : "lifetime");
		*held_out = true;
		(void)close(fd);
		spool_env_free(&env);
		return keep ? -1 : expiry * (int64_t)1000;
	}
	if (env.next_attempt > now && !forced && !env.held) {
		next = env.next_attempt; /* restarted early */
		(void)close(fd);
		spool_env_free(&env);
		return next * (int64_t)1000;
	}
	if (now < expiry)
		batch = deliver_batch(s, conf, ctx, &env, fd, &brep);
	was_delivered = xcalloc(env.nrcpts, sizeof(*was_delivered));
	res = xcalloc(env.nrcpts, sizeof(*res)); /* failed and deferred */
	for (i = 0; i < env.nrcpts; i++)
		was_delivered[i] =
		    env.rcpts[i].state == SPOOL_RCPT_DELIVERED;
	for (i = 0; i < env.nrcpts; i++) {
		if (env.rcpts[i].state != SPOOL_RCPT_PENDING)
			continue;
		(void)log_escs(to, sizeof(to), env.rcpts[i].addr);
		if (now >= expiry) {
			/* RFC 5321 4.5.4.1: give up after the queue lifetime.
			 * Recorded below, after the bounce is queued. */
			env.rcpts[i].state = SPOOL_RCPT_FAILED;
			if (env.held)
				why_set(&res[i], WHY_PERM, 0,
				    "held in the queue by its operator and not "
				    "released within %us",
				    conf->queue.lifetime);
			else
				why_set(&res[i], WHY_PERM, 0,
				    "delivery time expired: not delivered "
				    "within %us; last error: %s",
				    conf->queue.lifetime,
				    env.rcpts[i].last_error != NULL
				        ? env.rcpts[i].last_error
				        : "none");
			nfailed++;
			log_info("event=failed id=%s to=%s delay=%.3f "
			         "relay=none reason=%s",
			    id, to, sched_age(&env),
			    env.held ? "held_expired" : "expired");
			continue;
		}
		why_clear(&why);
		if (deliver_rcpt(s, conf, ctx, &env, fd, i, batch, &why) == 0) {
			/* Recorded below, only if the message stays queued. */
			env.rcpts[i].state = SPOOL_RCPT_DELIVERED;
			ndelivered++;
			log_info("event=delivered id=%s to=%s delay=%.3f "
			         "relay=%s",
			    id, to, sched_age(&env),
			    relay(s, brep, i, rl, sizeof(rl)));
			obs_rcpt(s, &env, i, OBS_DELIVERED, brep, NULL, NULL,
			    0);
			continue;
		}
		(void)log_escs(reason, sizeof(reason), why.text);
		res[i] = why;
		if (why.kind == WHY_PERM) {
			/* Recorded below, after the bounce is queued. */
			env.rcpts[i].state = SPOOL_RCPT_FAILED;
			nfailed++;
			log_info("event=failed id=%s to=%s delay=%.3f relay=%s "
			         "reason=%s",
			    id, to, sched_age(&env),
			    relay(s, brep, i, rl, sizeof(rl)), reason);
			continue;
		}
		pending++;
		(void)spool_note_error(s->spool, id, i, why.text, NULL);
		log_info("event=deferred id=%s to=%s delay=%.3f relay=%s "
		         "reason=%s",
		    id, to, sched_age(&env), relay(s, brep, i, rl, sizeof(rl)),
		    reason);
	}
	pending += sched_notify_sender(s, conf, &env, fd, res, brep, pending, bid);
	sched_notify_success(s, conf, &env, fd, was_delivered, brep);
	(void)close(fd);
	for (i = 0; nfailed > 0 && i < env.nrcpts; i++)
		if (res[i].kind == WHY_PERM &&
		    env.rcpts[i].state == SPOOL_RCPT_FAILED)
			obs_rcpt(s, &env, i, OBS_BOUNCED, brep, res[i].text,
			    bid[0] != '\0' ? bid : NULL, 0);
	free(batch);
	/*
	 * A message that leaves the queue needs no per-recipient record:
	 * skipping it saves a sync per message. A crash before the removal
	 * means a duplicate delivery, never a lost one.
	 */
	for (i = 0; pending > 0 && ndelivered > 0 && i < env.nrcpts; i++)
		if (env.rcpts[i].state == SPOOL_RCPT_DELIVERED &&
		    !was_delivered[i] &&
		    !set_state(s, &env, i, SPOOL_RCPT_DELIVERED))
			env.rcpts[i].state = SPOOL_RCPT_PENDING;
	/* The same for failures, now that their bounce is safe. */
	for (i = 0; pending > 0 && nfailed > 0 && i < env.nrcpts; i++)
		if (env.rcpts[i].state == SPOOL_RCPT_FAILED &&
		    res[i].kind == WHY_PERM &&
		    !set_state(s, &env, i, SPOOL_RCPT_FAILED))
			env.rcpts[i].state = SPOOL_RCPT_PENDING;
	free(was_delivered);
	if (pending == 0) {
		free(res);
		free(brep);
		if (spool_remove(s->spool, id, &why) == -1) {
			log_warn("event=remove_failed id=%s reason=%s", id,
			    log_escs(reason, sizeof(reason), why.text));
			spool_env_free(&env);
			return (now + sched_backoff(conf, 1)) *
			       (int64_t)1000;
		}
		log_info("event=removed id=%s", id);
		obs_emit(&(struct obs_event){ .kind = OBS_REMOVED, .id = id });
		spool_env_free(&env);
		return -1;
	}
	attempts = env.attempts < UINT32_MAX ? env.attempts + 1 : env.attempts;
	next = now + (time_t)sched_backoff(conf, attempts);
	/* Come back at expiry rather than long after it. */
	if (next > expiry)
		next = expiry > now ? expiry : now + 1;
	(void)spool_note_retry(s->spool, id, attempts, next, NULL);
	for (i = 0; i < env.nrcpts; i++)
		if (res[i].kind == WHY_TEMP &&
		    env.rcpts[i].state == SPOOL_RCPT_PENDING)
			obs_rcpt(s, &env, i, OBS_DEFERRED, brep, res[i].text,
			    NULL, (int64_t)next);
	free(res);
	free(brep);
	spool_env_free(&env);
	return next * (int64_t)1000;
}

/* One pass, on the configuration in force when it starts (reload). */
static int64_t
process(struct sched *s, void *ctx, const char *id, bool forced,
    bool *held_out)
{
	const struct conf *conf = conf_holder_get(s->confs);
	int64_t next = process_with(s, conf, ctx, id, forced, held_out);
	struct why why;
	char esc[300];

	conf_unref(conf);
	/*
	 * It stays queued: out of the shared segment log into a file of
	 * its own, so the segment is reclaimed (issue 20). A failure only
	 * keeps the segment longer.
	 */
	if ((next >= 0 || *held_out) &&
	    spool_settle(s->spool, id, &why) == -1)
		log_warn("event=spool_settle_failed id=%s reason=%s", id,
		    log_escs(esc, sizeof(esc), why.text));
	return next;
}

static void
forget(struct sched *s, struct qent *e)
{
	(void)tdelete(e, &s->index, qent_cmp);
	free(e);
}

static void *
worker(void *arg)
{
	struct sched *s = arg;
	struct qent *e;
	struct timespec ts;
	int64_t now, wait, when;
	bool forced, held;
	void *ctx;

	ctx = s->d.thread_init != NULL ? s->d.thread_init(s->d.arg) : s->d.arg;
	pthread_mutex_lock(&s->mtx);
	while (!s->stopping) {
		now = now_ms(CLOCK_REALTIME);
		while (s->nheap > 0 && s->heap[0]->when_ms <= now)
			ready_push(s, heap_pop(s));
		if (s->rhead != NULL) {
			e = ready_pop(s);
			e->where = Q_RUNNING;
			forced = e->forced;
			e->forced = false;
			pthread_mutex_unlock(&s->mtx);
			held = false;
			when = process(s, ctx, e->id, forced, &held);
			pthread_mutex_lock(&s->mtx);
			e->held = held;
			if (when < 0)
				forget(s, e);
			else {
				e->when_ms = when;
				heap_push(s, e);
			}
			continue;
		}
		if (s->nheap == 0) {
			pthread_cond_wait(&s->cv, &s->mtx);
			continue;
		}
		wait = s->heap[0]->when_ms - now;
		if (wait > WAIT_MAX_MS)
			wait = WAIT_MAX_MS;
		wait += now_ms(CLOCK_MONOTONIC);
		ts.tv_sec = wait / 1000;
		ts.tv_nsec = (wait % 1000) * 1000000;
		(void)pthread_cond_timedwait(&s->cv, &s->mtx, &ts);
	}
	/* Another thread may be waiting for a timer only we would see. */
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mtx);
	if (s->d.thread_fini != NULL)
		s->d.thread_fini(ctx);
	return NULL;
}

/* Take entry e out of the heap or the ready list (not if running). */
static void
unqueue(struct sched *s, struct qent *e)
{
	struct qent **pp;

	if (e->where == Q_READY) {
		for (pp = &s->rhead; *pp != NULL; pp = &(*pp)->next)
			if (*pp == e) {
				*pp = e->next;
				break;
			}
		s->rtail = &s->rhead;
		while (*s->rtail != NULL)
			s->rtail = &(*s->rtail)->next;
		e->next = NULL;
		return;
	}
	if (e->where == Q_TIMER)
		(void)heap_take(s, e->heap_idx);
}

static struct qent *
lookup(struct sched *s, const char *id)
{
	struct qent key, **found;

	memset(&key, 0, sizeof(key));
	(void)strlcpy(key.id, id, sizeof(key.id));
	found = tfind(&key, &s->index, qent_cmp);
	return found != NULL ? *found : NULL;
}

/* Deliver id (NULL: every queued message) now, whatever its timer. */
static size_t
kick(struct sched *s, const char *id)
{
	struct qent *e;
	size_t n = 0;

	pthread_mutex_lock(&s->mtx);
	if (id != NULL) {
		if ((e = lookup(s, id)) != NULL) {
			e->forced = true;
			if (e->where == Q_TIMER) {
				unqueue(s, e);
				ready_push(s, e);
			}
			n = 1;
		}
	} else {
		/* Held messages wait for their expiry: not for a flush. */
		struct qent *held = NULL;

		while (s->nheap > 0) {
			e = heap_pop(s);
			if (e->held) {
				e->next = held;
				held = e;
				continue;
			}
			e->forced = true;
			ready_push(s, e);
			n++;
		}
		for (; held != NULL; held = e) {
			e = held->next;
			held->next = NULL;
			heap_push(s, held);
		}
	}
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mtx);
	return n;
}

/* Forget id unless a thread has it (that pass ends, then it's dropped). */
static void
drop(struct sched *s, const char *id)
{
	struct qent *e;

	pthread_mutex_lock(&s->mtx);
	if ((e = lookup(s, id)) != NULL && e->where != Q_RUNNING) {
		unqueue(s, e);
		forget(s, e);
	}
	pthread_mutex_unlock(&s->mtx);
}

/* Is id a message in the queue? Its envelope into env when it is. */
static bool
queued(struct sched *s, const char *id, struct spool_env *env)
{
	struct why why;

	return spool_env_load(s->spool, id, env, &why) == 0;
}

int
sched_request(struct sched *s, const char *verb, const char *id,
    struct buf *out)
{
	struct spool_env env;
	struct why why;
	size_t n;
	bool held;

	why_clear(&why);
	if (strcmp(verb, "flush") == 0) {
		n = kick(s, NULL);
		log_info("event=queue_flush messages=%zu", n);
		(void)buf_printf(out, "%zu message%s scheduled for delivery now\n",
		    n, n == 1 ? "" : "s");
		return 0;
	}
	if (!spool_is_id(id)) {
		(void)buf_printf(out, "'%s' is not a queue id (see tern queue "
		                      "list)\n",
		    id);
		return -1;
	}
	if (!queued(s, id, &env)) {
		(void)buf_printf(out, "no message %s in the queue\n", id);
		return -1;
	}
	held = env.held;
	spool_env_free(&env);
	if (strcmp(verb, "retry") == 0) {
		if (held) {
			(void)buf_printf(out, "%s is held: release it (tern "
			                      "queue release %s) to deliver it\n",
			    id, id);
			return -1;
		}
		if (kick(s, id) == 0)
			sched_submit(s, id); /* not known yet: now it is */
		log_info("event=queue_retry id=%s", id);
		(void)buf_printf(out, "%s scheduled for delivery now\n", id);
		return 0;
	}
	if (strcmp(verb, "hold") == 0 || strcmp(verb, "release") == 0) {
		bool hold = verb[0] == 'h';

		if (held == hold) {
			(void)buf_printf(out, "%s was already %s\n", id,
			    hold ? "held" : "not held");
			return 0;
		}
		if (spool_note_hold(s->spool, id, hold, &why) == -1) {
			(void)buf_printf(out, "%s: %s\n", id, why.text);
			return -1;
		}
		/* Either way it goes back through process(): a held message
		 * waits there for its expiry, a released one is delivered. */
		if (kick(s, id) == 0)
			sched_submit(s, id);
		log_info("event=queue_%s id=%s", verb, id);
		obs_emit(&(struct obs_event){
		    .kind = hold ? OBS_HELD : OBS_RELEASED, .id = id,
		    .text = hold ? "held by the operator (tern queue hold)"
		                 : NULL });
		(void)buf_printf(out, "%s %s\n", id,
		    hold ? "held: it stays in the queue until released"
		         : "released: scheduled for delivery now");
		return 0;
	}
	if (strcmp(verb, "delete") == 0) {
		/* Held first: a pass in progress will not bounce it. */
		(void)spool_note_hold(s->spool, id, true, NULL);
		drop(s, id);
		if (spool_remove(s->spool, id, &why) == -1) {
			(void)buf_printf(out, "%s: %s\n", id, why.text);
			return -1;
		}
		log_info("event=queue_delete id=%s", id);
		obs_emit(&(struct obs_event){ .kind = OBS_DELETED, .id = id });
		(void)buf_printf(out, "%s deleted\n", id);
		return 0;
	}
	(void)buf_printf(out, "unknown request '%s'\n", verb);
	return -1;
}

struct stats_walk {
	struct sched_stats *st;
	char (*ids)[SPOOL_ID_MAX];
	size_t max, nids;
	uint64_t oldest_us;
};

static void
stats_visit(const void *node, VISIT which, void *arg)
{
	const struct qent *e = *(struct qent *const *)node;
	struct stats_walk *w = arg;
	char hex[SPOOL_ID_TIME_LEN + 1];
	uint64_t us;

	if (which != postorder && which != leaf)
		return;
	w->st->messages++;
	memcpy(hex, e->id, SPOOL_ID_TIME_LEN);
	hex[SPOOL_ID_TIME_LEN] = '\0';
	us = strtoull(hex, NULL, 16);
	if (us > 0 && (w->oldest_us == 0 || us < w->oldest_us))
		w->oldest_us = us;
	if (!e->held)
		return;
	w->st->held++;
	if (w->ids != NULL && w->nids < w->max)
		memcpy(w->ids[w->nids++], e->id, SPOOL_ID_MAX);
}

size_t
sched_stats(struct sched *s, struct sched_stats *st,
    char (*held_ids)[SPOOL_ID_MAX], size_t max)
{
	struct stats_walk w = { st, held_ids, max, 0, 0 };

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&s->mtx);
	twalk_r(s->index, stats_visit, &w);
	pthread_mutex_unlock(&s->mtx);
	st->oldest_arrival = (int64_t)(w.oldest_us / 1000000);
	return w.nids;
}

int
sched_start(struct sched *s)
{
	const struct conf *conf = conf_holder_get(s->confs);
	size_t i, n = conf->queue.delivery_threads;

	conf_unref(conf); /* a restart changes the thread count */
	if (n == 0)
		n = 1;
	s->thr = xcalloc(n, sizeof(*s->thr));
	for (i = 0; i < n; i++) {
		if (pthread_create(&s->thr[i], NULL, worker, s) != 0) {
			log_crit("event=sched_start_failed threads=%zu", i);
			return -1; /* the started ones are joined by sched_free
			            */
		}
		s->nthr++;
	}
	log_info("event=sched_started threads=%zu", n);
	return 0;
}

static void
free_node(void *p)
{
	free(p);
}

void
sched_free(struct sched *s)
{
	size_t i;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mtx);
	s->stopping = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mtx);
	/* Each thread finishes the message in hand, then returns. */
	for (i = 0; i < s->nthr; i++)
		pthread_join(s->thr[i], NULL);
	tdestroy(s->index, free_node);
	free(s->heap);
	free(s->thr);
	pthread_mutex_destroy(&s->mtx);
	pthread_cond_destroy(&s->cv);
	dir_close(s->dir);
	free(s->dbpath);
	pthread_mutex_destroy(&s->dir_mtx);
	free(s);
}
