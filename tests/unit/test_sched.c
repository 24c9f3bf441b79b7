/* SPDX-License-Identifier: ISC */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "queue/sched.h"
#include "queue/spool.h"
#include "smtp/params.h"
#include "util/str.h"
#include "util/xmalloc.h"

#include "testutil.h"

static char dir[TESTUTIL_DIR_MAX];

/*
 * The fake deliverer decides by the recipient's local part:
 * ok (delivered), perm (WHY_PERM), temp<N> (N temporary failures, then
 * delivered), temp (always temporary). Sleeps `delay_ms` per call and
 * notices two threads inside one message at once.
 */
struct fake {
	pthread_mutex_t mtx;
	int calls, ok, perm, temp;
	int fails[16]; /* per recipient index */
	int inside, overlap;
	int delay_ms;
	int body_bad;
	int bounces; /* DSNs (null sender) handed over, issue 4 */
	/* Success reports seen by fake_deliver_many (RFC 3461 5.2). */
	int reports, delivered_ok, relayed_ok, wrong;
};

static struct fake fk;

static void *
fake_init(void *arg)
{
	return arg;
}

static void
fake_fini(void *ctx)
{
	if (ctx != &fk)
		abort(); /* not a cmocka assert: this is another thread */
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static struct conf *conf;
static struct conf_holder *confs; /* holds conf: what sched_new() takes */

static int
fake_deliver(void *ctx, const struct conf *c, const struct spool_env *env,
    int fd, size_t idx, struct why *why)
{
	struct fake *f = ctx;
	const char *a = env->rcpts[idx].addr;
	char b[8] = { 0 };
	int rc = 0, n;

	if (c != conf) /* every pass runs on the configuration in force */
		abort();
	pthread_mutex_lock(&f->mtx);
	if (env->sender[0] == '\0') { /* a DSN to the original sender */
		if (strcmp(a, "s@example.net") == 0 &&
		    pread(fd, b, 5, env->body_offset) == 5 &&
		    memcmp(b, "From:", 5) == 0)
			f->bounces++;
		pthread_mutex_unlock(&f->mtx);
		return 0;
	}
	f->calls++;
	if (f->inside++ > 0)
		f->overlap++;
	pthread_mutex_unlock(&f->mtx);
	if (pread(fd, b, 7, env->body_offset) != 7 ||
	    memcmp(b, "Subject", 7) != 0)
		f->body_bad++;
	if (f->delay_ms > 0)
		sleep_ms(f->delay_ms);
	pthread_mutex_lock(&f->mtx);
	if (strncmp(a, "ok@", 3) == 0)
		f->ok++;
	else if (strncmp(a, "perm@", 5) == 0) {
		f->perm++;
		rc = why_set(why, WHY_PERM, 0, "550 5.1.1 no such user");
	} else if (strncmp(a, "temp@", 5) == 0) {
		f->temp++;
		rc = why_set(why, WHY_TEMP, 0, "451 4.3.0 try later");
	} else if (strncmp(a, "temp", 4) == 0) {
		n = a[4] - '0';
		f->temp++;
		if (idx < 16 && f->fails[idx] < n) {
			f->fails[idx]++;
			rc = why_set(why, WHY_TEMP, 0, "451 4.3.0 try later");
		}
	}
	f->inside--;
	pthread_mutex_unlock(&f->mtx);
	return rc;
}

/* Wait (bounded) until n DSNs were handed over. */
static bool
wait_bounces(int n, int ms)
{
	int got = 0;

	for (; ms > 0; ms -= 10) {
		pthread_mutex_lock(&fk.mtx);
		got = fk.bounces;
		pthread_mutex_unlock(&fk.mtx);
		if (got >= n)
			return true;
		sleep_ms(10);
	}
	return false;
}

/*
 * A router for the NOTIFY=SUCCESS tests: every recipient is delivered,
 * handed off by its local part (sched.h): relay@ to a next hop without
 * DSN, pass@ to one with DSN, anything else here. The reports (null
 * sender) it gets are checked and counted.
 */
static void
fake_deliver_many(void *ctx, const struct conf *c, const struct spool_env *env,
    int fd, const size_t *idx, size_t n, struct why *whys,
    struct sched_reply *replies)
{
	struct fake *f = ctx;
	struct sched_reply *r;
	char body[16384];
	const char *a;
	ssize_t got;
	size_t k;

	(void)whys; /* zeroed by the caller: delivered */
	if (c != conf)
		abort();
	for (k = 0; k < n; k++) {
		a = env->rcpts[idx[k]].addr;
		r = &replies[k];
		if (env->sender[0] != '\0') {
			if (strncmp(a, "relay@", 6) == 0)
				r->handoff = SCHED_HANDOFF_RELAYED;
			else if (strncmp(a, "pass@", 5) == 0)
				r->handoff = SCHED_HANDOFF_DSN;
			if (r->handoff != SCHED_HANDOFF_FINAL) {
				r->code = 250;
				(void)strlcpy(r->esc, "2.0.0", sizeof(r->esc));
				(void)strlcpy(r->text, "queued",
				    sizeof(r->text));
				(void)strlcpy(r->mta, "mx.b.example",
				    sizeof(r->mta));
			}
			continue;
		}
		got = pread(fd, body, sizeof(body) - 1, env->body_offset);
		body[got > 0 ? got : 0] = '\0';
		pthread_mutex_lock(&f->mtx);
		f->reports++;
		if (strstr(body, "pass@") != NULL ||
		    strstr(body, "relay@d.example") != NULL)
			f->wrong++;
		else if (strstr(body,
		             "Final-Recipient: rfc822; ok@a.example\r\n"
		             "Action: delivered\r\n") != NULL)
			f->delivered_ok++;
		else if (strstr(body, "Final-Recipient: rfc822; "
		                      "relay@b.example\r\nAction: relayed\r\n"
		                      "Status: 2.0.0\r\n"
		                      "Remote-MTA: dns; mx.b.example\r\n"
		                      "Diagnostic-Code: smtp; 250 2.0.0 "
		                      "queued\r\n") != NULL)
			f->relayed_ok++;
		else
			f->wrong++;
		pthread_mutex_unlock(&f->mtx);
	}
}

static const struct sched_deliverer fake_d = {
	.thread_init = fake_init,
	.thread_fini = fake_fini,
	.deliver = fake_deliver,
	.arg = &fk,
	.name = "fake",
};

static const struct sched_deliverer fake_router = {
	.thread_init = fake_init,
	.thread_fini = fake_fini,
	.deliver = fake_deliver,
	.deliver_many = fake_deliver_many,
	.arg = &fk,
	.name = "fake-router",
};


static int
setup(void **state)
{
	(void)state;
	assert_int_equal(testutil_mkdtemp(dir, sizeof(dir), NULL, "sched"), 0);
	memset(&fk, 0, sizeof(fk));
	pthread_mutex_init(&fk.mtx, NULL);
	conf = xcalloc(1, sizeof(*conf));
	conf->data_dir = dir;
	conf->queue.retry_initial = 1;
	conf->queue.retry_max = 1;
	conf->queue.lifetime = 3600;
	conf->queue.delivery_threads = 4;
	atomic_init(&conf->refs, 1); /* ours; the holder adds its own */
	confs = conf_holder_new(conf_ref(conf));
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	testutil_rmtree(dir);
	conf_holder_free(confs); /* back to our one reference */
	free(conf);
	return 0;
}

static void
on_commit(void *arg, const char *id, int ok, const struct why *why)
{
	int *flag = arg;

	(void)id;
	(void)why;
	__atomic_store_n(flag, ok ? 1 : -1, __ATOMIC_SEQ_CST);
}

/*
 * Commit a message to the given recipients, with NOTIFY= bits per
 * recipient (notify NULL: no DSN data); its id goes to id_out.
 */
static void
put_msg_notify(struct spool *sp, const char *const *rcpts,
    const unsigned *notify, size_t n, time_t arrival, char *id_out)
{
	struct spool_rcpt r[16];
	struct spool_dsn d[16];
	struct spool_env env;
	struct spool_msg *m;
	struct why why;
	size_t i;
	int flag = 0;

	memset(&env, 0, sizeof(env));
	memset(r, 0, sizeof(r));
	memset(d, 0, sizeof(d));
	env.sender = "s@example.net";
	env.arrival = arrival;
	for (i = 0; i < n; i++) {
		r[i].addr = (char *)rcpts[i];
		d[i].notify = notify != NULL ? notify[i] : 0;
	}
	env.dsn = notify != NULL ? d : NULL;
	env.rcpts = r;
	env.nrcpts = n;
	m = spool_msg_new(sp, &env, &why);
	assert_non_null(m);
	assert_int_equal(spool_msg_write(m, "Subject: t\r\n\r\nx\r\n", 17,
	                     &why),
	    0);
	(void)strlcpy(id_out, env.id, SPOOL_ID_MAX);
	spool_msg_commit(m, on_commit, &flag);
	while (__atomic_load_n(&flag, __ATOMIC_SEQ_CST) == 0)
		sleep_ms(1);
	assert_int_equal(flag, 1);
}

static void
put_msg(struct spool *sp, const char *const *rcpts, size_t n, time_t arrival,
    char *id_out)
{
	put_msg_notify(sp, rcpts, NULL, n, arrival, id_out);
}

/* The spool of the running test (open_spool()). */
static struct spool *test_sp;

/* Left the queue: neither a file in active/ nor a segment record. */
static bool
gone(const char *id)
{
	struct spool_env env;
	struct why why;

	if (spool_env_load(test_sp, id, &env, &why) == 0) {
		spool_env_free(&env);
		return false;
	}
	return why.kind == WHY_PERM && why.sys_errno == ENOENT;
}

static bool
wait_gone(const char *id, int ms)
{
	for (; ms > 0; ms -= 10) {
		if (gone(id))
			return true;
		sleep_ms(10);
	}
	return gone(id);
}

static struct spool *
open_spool(void)
{
	char p[160];
	struct spool *sp;
	struct why why;

	(void)snprintf(p, sizeof(p), "%s/queue", dir);
	sp = spool_open(p, &why);
	assert_non_null(sp);
	test_sp = sp;
	return sp;
}

static void
test_deliver_all(void **state)
{
	static const char *const rc[] = { "ok@a.example", "ok@b.example",
		"perm@a.example" };
	struct spool *sp = open_spool();
	struct sched *s;
	char id[SPOOL_ID_MAX];

	(void)state;
	s = sched_new(confs, sp, &fake_d);
	assert_int_equal(sched_start(s), 0);
	put_msg(sp, rc, 3, 0, id);
	sched_submit(s, id);
	assert_true(wait_gone(id, 5000));
	assert_true(wait_bounces(1, 5000));
	sched_free(s);
	assert_int_equal(fk.ok, 2);
	assert_int_equal(fk.perm, 1);
	assert_int_equal(fk.calls, 3);
	assert_int_equal(fk.body_bad, 0);
	assert_int_equal(fk.bounces, 1); /* one DSN for perm@ */
	spool_close(sp);
}

static void
test_temp_retry(void **state)
{
	static const char *const rc[] = { "ok@a.example", "temp2@a.example" };
	struct spool *sp = open_spool();
	struct sched *s;
	char id[SPOOL_ID_MAX];

	(void)state;
	s = sched_new(confs, sp, &fake_d);
	assert_int_equal(sched_start(s), 0);
	put_msg(sp, rc, 2, 0, id);
	sched_submit(s, id);
	/* Two failures, 1 s apart, then delivered; ok@ is not retried. */
	assert_true(wait_gone(id, 8000));
	sched_free(s);
	assert_int_equal(fk.ok, 1);
	assert_int_equal(fk.temp, 3);
	spool_close(sp);
}

static void
test_temp_state_kept(void **state)
{
	static const char *const rc[] = { "temp@a.example", "ok@a.example" };
	struct spool *sp = open_spool();
	struct spool_env env;
	struct sched *s;
	struct why why;
	char id[SPOOL_ID_MAX];
	time_t t0 = time(NULL);

	(void)state;
	conf->queue.retry_initial = 60;
	conf->queue.retry_max = 120;
	s = sched_new(confs, sp, &fake_d);
	assert_int_equal(sched_start(s), 0);
	put_msg(sp, rc, 2, 0, id);
	sched_submit(s, id);
	while (__atomic_load_n(&fk.calls, __ATOMIC_SEQ_CST) < 2)
		sleep_ms(5);
	sleep_ms(100);
	sched_free(s);
	assert_int_equal(spool_env_load(sp, id, &env, &why), 0);
	assert_int_equal(env.rcpts[0].state, SPOOL_RCPT_PENDING);
	assert_int_equal(env.rcpts[1].state, SPOOL_RCPT_DELIVERED);
	assert_string_equal(env.rcpts[0].last_error, "451 4.3.0 try later");
	assert_int_equal(env.attempts, 1);
	assert_true(
	    env.next_attempt >= t0 + 60 && env.next_attempt <= time(NULL) + 60);
	spool_env_free(&env);
	spool_close(sp);
}

static void
test_expired(void **state)
{
	static const char *const rc[] = { "ok@a.example", "temp@a.example" };
	struct spool *sp = open_spool();
	struct sched *s;
	char id[SPOOL_ID_MAX];

	(void)state;
	conf->queue.lifetime = 100;
	s = sched_new(confs, sp, &fake_d);
	assert_int_equal(sched_start(s), 0);
	put_msg(sp, rc, 2, time(NULL) - 101, id);
	sched_submit(s, id);
	assert_true(wait_gone(id, 5000));
	assert_true(wait_bounces(1, 5000));
	sched_free(s);
	assert_int_equal(fk.calls, 0); /* failed as expired, never tried */
	assert_int_equal(fk.bounces, 1); /* one DSN for both */
	spool_close(sp);
}

static void
submit_cb(void *arg, const char *id)
{
	sched_submit(arg, id);
}

/* A restart: what was delivered stays delivered; the wait is kept. */
static void
test_restart(void **state)
{
	static const char *const rc[] = { "ok@a.example", "ok@b.example",
		"ok@c.example" };
	struct spool *sp = open_spool();
	struct sched *s;
	struct why why;
	char id[SPOOL_ID_MAX], id2[SPOOL_ID_MAX];
	struct timespec t0, t1;
	double waited;

	(void)state;
	put_msg(sp, rc, 3, 0, id);
	assert_int_equal(spool_rcpt_set(sp, id, 0, SPOOL_RCPT_DELIVERED, &why),
	    0);
	put_msg(sp, rc, 1, 0, id2);
	assert_int_equal(spool_note_retry(sp, id2, 2, time(NULL) + 2, &why), 0);
	spool_close(sp);

	sp = open_spool();
	s = sched_new(confs, sp, &fake_d);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(spool_scan(sp, submit_cb, s, &why), 0);
	assert_int_equal(sched_start(s), 0);
	assert_true(wait_gone(id, 5000));
	assert_true(wait_gone(id2, 5000));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	sched_free(s);
	waited = (double)(t1.tv_sec - t0.tv_sec) +
	         (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(waited > 0.9); /* id2 waited for its next attempt */
	assert_int_equal(fk.calls, 3);
	spool_close(sp);
}

/* Duplicate submits while a delivery runs: one thread, one delivery. */
static void
test_no_overlap(void **state)
{
	static const char *const rc[] = { "ok@a.example" };
	struct spool *sp = open_spool();
	struct sched *s;
	char id[SPOOL_ID_MAX];
	int i;

	(void)state;
	fk.delay_ms = 50;
	s = sched_new(confs, sp, &fake_d);
	assert_int_equal(sched_start(s), 0);
	put_msg(sp, rc, 1, 0, id);
	for (i = 0; i < 20; i++) {
		sched_submit(s, id);
		sleep_ms(2);
	}
	assert_true(wait_gone(id, 5000));
	sched_submit(s, id); /* gone: loaded, found missing, forgotten */
	sched_submit(s, "not-an-id");
	sleep_ms(50);
	sched_free(s);
	assert_int_equal(fk.calls, 1);
	assert_int_equal(fk.overlap, 0);
	spool_close(sp);
}

/* sched_free lets deliveries in progress finish and record their state. */
static void
test_free_waits(void **state)
{
	static const char *const rc[] = { "ok@a.example" };
	struct spool *sp = open_spool();
	struct sched *s;
	char id[SPOOL_ID_MAX], id2[SPOOL_ID_MAX];

	(void)state;
	fk.delay_ms = 300;
	conf->queue.delivery_threads = 2;
	s = sched_new(confs, sp, &fake_d);
	assert_int_equal(sched_start(s), 0);
	put_msg(sp, rc, 1, 0, id);
	put_msg(sp, rc, 1, 0, id2);
	sched_submit(s, id);
	sched_submit(s, id2);
	while (__atomic_load_n(&fk.calls, __ATOMIC_SEQ_CST) < 2)
		sleep_ms(5);
	sched_free(s);
	assert_int_equal(fk.ok, 2);
	assert_true(gone(id));
	assert_true(gone(id2));
	spool_close(sp);
}

static void
test_backoff(void **state)
{
	static const struct {
		const char *name;
		unsigned initial, max, attempts, want;
	} cases[] = {
		{ "first", 300, 14400, 1, 300 },
		{ "zero-as-first", 300, 14400, 0, 300 },
		{ "second", 300, 14400, 2, 600 },
		{ "third", 300, 14400, 3, 1200 },
		{ "cap-1", 100, 800, 3, 400 },
		{ "cap", 100, 800, 4, 800 },
		{ "cap+1", 100, 800, 5, 800 },
		{ "huge-attempts", 300, 14400, UINT_MAX, 14400 },
		{ "initial-0", 0, 10, 1, 1 },
		{ "max-below-initial", 300, 60, 1, 60 },
		{ "max-0", 300, 0, 1, 1 },
	};
	struct conf c;
	size_t i;
	unsigned got;

	(void)state;
	memset(&c, 0, sizeof(c));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c.queue.retry_initial = cases[i].initial;
		c.queue.retry_max = cases[i].max;
		got = sched_backoff(&c, cases[i].attempts);
		if (got != cases[i].want)
			fail_msg("%s: %u", cases[i].name, got);
	}
}

/* Is queue/active empty (every report delivered too)? Bounded wait. */
static bool
wait_queue_empty(int ms)
{
	char p[160];
	struct dirent *de;
	DIR *d;
	int n;

	(void)snprintf(p, sizeof(p), "%s/queue/active", dir);
	for (; ms > 0; ms -= 10) {
		if ((d = opendir(p)) == NULL)
			return false;
		for (n = 0; (de = readdir(d)) != NULL;)
			n += de->d_name[0] != '.';
		closedir(d);
		if (n == 0)
			return true;
		sleep_ms(10);
	}
	return false;
}

/*
 * RFC 3461 5.2.1-5.2.3 through the deliver_many contract: one report
 * per kind, "delivered" for a final delivery, "relayed" for a next hop
 * without DSN, none for a next hop with DSN or without NOTIFY=SUCCESS.
 */
static void
test_success_reports(void **state)
{
	static const char *const rc[] = { "ok@a.example", "relay@b.example",
		"pass@c.example", "relay@d.example" };
	static const unsigned notify[] = { SMTP_NOTIFY_SUCCESS,
		SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE, SMTP_NOTIFY_SUCCESS,
		SMTP_NOTIFY_FAILURE };
	struct spool *sp = open_spool();
	struct sched *s;
	char id[SPOOL_ID_MAX];

	(void)state;
	s = sched_new(confs, sp, &fake_router);
	assert_int_equal(sched_start(s), 0);
	put_msg_notify(sp, rc, notify, 4, 0, id);
	sched_submit(s, id);
	assert_true(wait_gone(id, 5000));
	/* The reports were queued before the original left: wait them out. */
	assert_true(wait_queue_empty(5000));
	sched_free(s);
	assert_int_equal(fk.reports, 2);
	assert_int_equal(fk.delivered_ok, 1);
	assert_int_equal(fk.relayed_ok, 1);
	assert_int_equal(fk.wrong, 0);
	spool_close(sp);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_backoff),
		T(test_deliver_all),
		T(test_temp_retry),
		T(test_temp_state_kept),
		T(test_expired),
		T(test_restart),
		T(test_no_overlap),
		T(test_free_waits),
		T(test_success_reports),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
