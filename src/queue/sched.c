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
 * Trust: none; it only reads what the spool validated.
 */
#include "queue/sched.h"

#include <errno.h>
#include <pthread.h>
#include <search.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define WAIT_MAX_MS 60000 /* re-read the clock at least this often */

enum qent_where {
	Q_READY,
	Q_TIMER,
	Q_RUNNING,
};

struct qent {
	char id[SPOOL_ID_MAX];
	int64_t when_ms; /* wall clock, for the heap */
	size_t heap_idx;
	enum qent_where where;
	struct qent *next; /* ready list */
};

struct sched {
	const struct conf *conf;
	struct spool *spool;
	struct sched_deliverer d;
	pthread_mutex_t mtx;
	pthread_cond_t cv; /* CLOCK_MONOTONIC */
	void *index;       /* tsearch tree of struct qent by id */
	struct qent *rhead, **rtail;
	struct qent **heap;
	size_t nheap, heapcap;
	pthread_t *thr;
	size_t nthr;
	bool stopping;
};

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

static void
heap_push(struct sched *s, struct qent *e)
{
	size_t i, p;

	if (s->nheap == s->heapcap) {
		s->heapcap = s->heapcap ? s->heapcap * 2 : 64;
		s->heap = xrealloc(s->heap, s->heapcap * sizeof(*s->heap));
	}
	i = s->nheap++;
	s->heap[i] = e;
	e->heap_idx = i;
	e->where = Q_TIMER;
	while (i > 0) {
		p = (i - 1) / 2;
		if (s->heap[p]->when_ms <= s->heap[i]->when_ms)
			break;
		heap_swap(s, i, p);
		i = p;
	}
}

static struct qent *
heap_pop(struct sched *s)
{
	struct qent *top = s->heap[0];
	size_t i = 0, l, r, m;

	s->heap[0] = s->heap[--s->nheap];
	s->heap[0]->heap_idx = 0;
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
	return top;
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
sched_new(const struct conf *conf, struct spool *spool,
    const struct sched_deliverer *d)
{
	struct sched *s;
	pthread_condattr_t ca;

	s = xcalloc(1, sizeof(*s));
	s->conf = conf;
	s->spool = spool;
	s->d = *d;
	s->rtail = &s->rhead;
	pthread_mutex_init(&s->mtx, NULL);
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
static double
age(const struct spool_env *env)
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

static const char *
relay(const struct sched *s)
{
	return s->d.name != NULL ? s->d.name : "-";
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
 * Try every pending recipient of one message. Returns the wall-clock
 * time (ms) of its next attempt, or -1 when it has left the queue.
 */
static int64_t
process(struct sched *s, void *ctx, const char *id)
{
	struct spool_env env;
	struct why why;
	char to[256], reason[300];
	time_t now = time(NULL), next, expiry;
	size_t i, pending = 0, ndelivered = 0;
	bool *was_delivered;
	unsigned attempts;
	int fd;

	if (spool_env_load(s->spool, id, &env, &why) == -1) {
		if (why.kind == WHY_PERM) {
			if (why.sys_errno != ENOENT)
				log_warn("event=dropped id=%s reason=%s", id,
				    log_escs(reason, sizeof(reason), why.text));
			return -1;
		}
		log_warn("event=deferred id=%s reason=%s", id,
		    log_escs(reason, sizeof(reason), why.text));
		return (now + sched_backoff(s->conf, 1)) * (int64_t)1000;
	}
	if (env.next_attempt > now) { /* restarted before its time */
		next = env.next_attempt;
		spool_env_free(&env);
		return next * (int64_t)1000;
	}
	/* lifetime 0 would expire everything at once: read it as "never". */
	expiry = s->conf->queue.lifetime > 0
	             ? env.arrival + (time_t)s->conf->queue.lifetime
	             : (time_t)INT64_MAX;
	if ((fd = spool_open_body(s->spool, id, &why)) == -1) {
		log_warn("event=deferred id=%s reason=%s", id,
		    log_escs(reason, sizeof(reason), why.text));
		spool_env_free(&env);
		return (now + sched_backoff(s->conf, 1)) * (int64_t)1000;
	}
	was_delivered = xcalloc(env.nrcpts, sizeof(*was_delivered));
	for (i = 0; i < env.nrcpts; i++)
		was_delivered[i] =
		    env.rcpts[i].state == SPOOL_RCPT_DELIVERED;
	for (i = 0; i < env.nrcpts; i++) {
		if (env.rcpts[i].state != SPOOL_RCPT_PENDING)
			continue;
		(void)log_escs(to, sizeof(to), env.rcpts[i].addr);
		if (now >= expiry) {
			/* RFC 5321 4.5.4.1: give up after the queue lifetime.
			 */
			if (!set_state(s, &env, i, SPOOL_RCPT_FAILED)) {
				pending++;
				continue;
			}
			log_info("event=failed id=%s to=%s delay=%.3f relay=%s "
			         "reason=expired",
			    id, to, age(&env), relay(s));
			continue;
		}
		why_clear(&why);
		if (s->d.deliver(ctx, &env, fd, i, &why) == 0) {
			/* Recorded below, only if the message stays queued. */
			env.rcpts[i].state = SPOOL_RCPT_DELIVERED;
			ndelivered++;
			log_info("event=delivered id=%s to=%s delay=%.3f "
			         "relay=%s",
			    id, to, age(&env), relay(s));
			continue;
		}
		(void)log_escs(reason, sizeof(reason), why.text);
		if (why.kind == WHY_PERM) {
			if (!set_state(s, &env, i, SPOOL_RCPT_FAILED)) {
				pending++;
				continue;
			}
			/* XXX no bounce yet: a later issue adds DSNs. */
			log_info("event=failed id=%s to=%s delay=%.3f relay=%s "
			         "reason=%s",
			    id, to, age(&env), relay(s), reason);
			continue;
		}
		pending++;
		(void)spool_note_error(s->spool, id, i, why.text, NULL);
		log_info("event=deferred id=%s to=%s delay=%.3f relay=%s "
		         "reason=%s",
		    id, to, age(&env), relay(s), reason);
	}
	(void)close(fd);
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
	free(was_delivered);
	if (pending == 0) {
		if (spool_remove(s->spool, id, &why) == -1) {
			log_warn("event=remove_failed id=%s reason=%s", id,
			    log_escs(reason, sizeof(reason), why.text));
			spool_env_free(&env);
			return (now + sched_backoff(s->conf, 1)) *
			       (int64_t)1000;
		}
		log_info("event=removed id=%s", id);
		spool_env_free(&env);
		return -1;
	}
	attempts = env.attempts < UINT32_MAX ? env.attempts + 1 : env.attempts;
	next = now + (time_t)sched_backoff(s->conf, attempts);
	/* Come back at expiry rather than long after it. */
	if (next > expiry)
		next = expiry > now ? expiry : now + 1;
	(void)spool_note_retry(s->spool, id, attempts, next, NULL);
	spool_env_free(&env);
	return next * (int64_t)1000;
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
			pthread_mutex_unlock(&s->mtx);
			when = process(s, ctx, e->id);
			pthread_mutex_lock(&s->mtx);
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

int
sched_start(struct sched *s)
{
	size_t i, n = s->conf->queue.delivery_threads;

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
	free(s);
}
