/* SPDX-License-Identifier: ISC */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/spool.h"
#include "queue/spool-private.h"
#include "queue/spool_seg.h"
#include "util/buf.h"
#include "util/str.h"
#include "util/xmalloc.h"

#include "testutil.h"

#define ID1 "00000000000a0001abcd"
#define ID2 "00000000000b0001abcd"

static char dir[TESTUTIL_DIR_MAX];

static int
setup(void **state)
{
	(void)state;
	assert_int_equal(testutil_mkdtemp(dir, sizeof(dir), NULL, "spool"), 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	testutil_rmtree(dir);
	return 0;
}

/*
 * The per-file spool, as messages too big for the segment log get it:
 * the tests written before segments (issue 20) check that path.
 */
static struct spool *
open_files(const char *d, struct why *why)
{
	struct spool *sp = spool_open(d, why);

	if (sp != NULL)
		sp->mem_max = 0;
	return sp;
}

static void
path(char *out, size_t sz, const char *sub, const char *name)
{
	int n = snprintf(out, sz, "%s/%s/%s", dir, sub, name);

	assert_true(n > 0 && (size_t)n < sz);
}

static bool
exists(const char *sub, const char *name)
{
	char p[256];

	path(p, sizeof(p), sub, name);
	return access(p, F_OK) == 0;
}

static size_t
count_dir(const char *sub)
{
	char p[256];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	(void)snprintf(p, sizeof(p), "%s/%s", dir, sub);
	d = opendir(p);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
put_file(const char *sub, const char *name, const void *p, size_t n)
{
	char fp[256];
	int fd;

	path(fp, sizeof(fp), sub, name);
	fd = open(fp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
}

/* A commit callback that a test can wait for. */
struct waiter {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	int calls;
	int ok;
	struct why why;
};

static void
on_commit(void *arg, const char *id, int ok, const struct why *why)
{
	struct waiter *w = arg;

	(void)id;
	pthread_mutex_lock(&w->mtx);
	w->calls++;
	w->ok = ok;
	if (why != NULL)
		w->why = *why;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mtx);
}

static int
commit_wait(struct spool_msg *m, struct why *why)
{
	struct waiter w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
		0, 0, { 0 } };

	spool_msg_commit(m, on_commit, &w);
	pthread_mutex_lock(&w.mtx);
	while (w.calls == 0)
		pthread_cond_wait(&w.cv, &w.mtx);
	pthread_mutex_unlock(&w.mtx);
	assert_int_equal(w.calls, 1);
	if (why != NULL)
		*why = w.why;
	return w.ok;
}

static void
fill_env(struct spool_env *env, struct spool_rcpt *r, size_t n)
{
	static char *addrs[] = { "alice@example.org", "b\xc3\xbc@example.org",
		"carol@example.net" };
	size_t i;

	memset(env, 0, sizeof(*env));
	env->sender = "-sender with space%@example.com";
	env->helo = "[192.0.2.1]";
	env->client_addr = "192.0.2.1";
	env->client_name = "";
	env->smtputf8 = true;
	for (i = 0; i < n; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].addr = addrs[i % 3];
		r[i].orcpt = (i == 0) ? NULL : "Orig@Example.ORG";
	}
	env->rcpts = r;
	env->nrcpts = n;
}

/* Commit one message with body `body`; returns its id in id_out. */
static void
commit_one(struct spool *sp, size_t nrcpts, const char *body, char *id_out)
{
	struct spool_env env;
	struct spool_rcpt r[3];
	struct spool_msg *m;
	struct why why;

	fill_env(&env, r, nrcpts);
	m = spool_msg_new(sp, &env, &why);
	assert_non_null(m);
	assert_string_equal(spool_msg_id(m), env.id);
	assert_int_equal(spool_msg_write(m, body, strlen(body), &why), 0);
	(void)strlcpy(id_out, env.id, SPOOL_ID_MAX);
	assert_int_equal(commit_wait(m, NULL), 1);
}

static void
test_roundtrip(void **state)
{
	struct spool_env env, got;
	struct spool_rcpt r[3];
	struct spool_msg *m;
	struct spool *sp;
	struct why why;
	struct stat st;
	char p[256], *body, *back;
	size_t n = 200000, off, step;
	int fd;

	(void)state;
	sp = open_files(dir, &why);
	assert_non_null(sp);
	fill_env(&env, r, 3);
	m = spool_msg_new(sp, &env, &why);
	assert_non_null(m);
	assert_true(spool_is_id(env.id));
	assert_true(exists("incoming", env.id));
	body = xmalloc(n);
	for (off = 0; off < n; off++)
		body[off] = (off % 80 == 79) ? '\n' : (char)('a' + off % 26);
	/* Odd sizes, byte by byte, and one write larger than the buffer. */
	for (off = 0, step = 1; off < n; off += step, step = step * 3 + 1) {
		if (step > n - off)
			step = n - off;
		assert_int_equal(spool_msg_write(m, body + off, step, &why), 0);
	}
	assert_int_equal(commit_wait(m, NULL), 1);
	assert_false(exists("incoming", env.id));
	assert_true(exists("active", env.id));
	path(p, sizeof(p), "active", env.id);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	(void)snprintf(p, sizeof(p), "%s/active", dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	assert_int_equal(spool_env_open(sp, env.id, &got, &fd, &why), 0);
	assert_true(fd >= 0);
	assert_string_equal(got.id, env.id);
	assert_int_equal(got.arrival, env.arrival);
	assert_string_equal(got.sender, env.sender);
	assert_string_equal(got.helo, env.helo);
	assert_string_equal(got.client_addr, "192.0.2.1");
	assert_string_equal(got.client_name, "");
	assert_true(got.smtputf8);
	assert_false(got.eightbit);
	assert_int_equal(got.nrcpts, 3);
	assert_string_equal(got.rcpts[1].addr, "b\xc3\xbc@example.org");
	assert_string_equal(got.rcpts[0].orcpt, "");
	assert_string_equal(got.rcpts[2].orcpt, "Orig@Example.ORG");
	assert_int_equal(got.rcpts[2].state, SPOOL_RCPT_PENDING);
	assert_null(got.rcpts[0].last_error);
	assert_int_equal(got.attempts, 0);
	assert_int_equal(got.body_size, (off_t)n);
	back = xmalloc(n);
	assert_int_equal(pread(fd, back, n, got.body_offset), (ssize_t)n);
	assert_memory_equal(back, body, n);
	close(fd);
	spool_env_free(&got);
	free(back);
	free(body);
	spool_close(sp);
}

static void
test_abort(void **state)
{
	struct spool_env env;
	struct spool_rcpt r[1];
	struct spool_msg *m;
	struct spool *sp;
	struct why why;

	(void)state;
	sp = open_files(dir, &why);
	assert_non_null(sp);
	fill_env(&env, r, 1);
	m = spool_msg_new(sp, &env, &why);
	assert_non_null(m);
	assert_int_equal(spool_msg_write(m, "x\r\n", 3, &why), 0);
	spool_msg_abort(m);
	assert_int_equal(count_dir("incoming"), 0);
	assert_int_equal(count_dir("active"), 0);
	spool_close(sp);
}

/* Many senders at once: every callback exactly once, few syncs. */
#define CONC_THREADS 8
#define CONC_PER 50

struct conc {
	struct spool *sp;
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	char ids[CONC_THREADS * CONC_PER][SPOOL_ID_MAX];
	int calls[CONC_THREADS * CONC_PER];
	size_t nids;
	size_t done;
	int bad;
};

static void
conc_done(void *arg, const char *id, int ok, const struct why *why)
{
	struct conc *c = arg;
	size_t i;

	(void)why;
	pthread_mutex_lock(&c->mtx);
	for (i = 0; i < c->nids; i++)
		if (strcmp(c->ids[i], id) == 0)
			break;
	if (i == c->nids || !ok)
		c->bad++;
	else
		c->calls[i]++;
	c->done++;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mtx);
}

static void *
conc_main(void *arg)
{
	struct conc *c = arg;
	struct spool_env env;
	struct spool_rcpt r[2];
	struct spool_msg *m;
	struct why why;
	int i;

	for (i = 0; i < CONC_PER; i++) {
		fill_env(&env, r, 2);
		m = spool_msg_new(c->sp, &env, &why);
		if (m == NULL || spool_msg_write(m, "Subject: x\r\n\r\nhi\r\n",
		                     18, &why) == -1) {
			pthread_mutex_lock(&c->mtx);
			c->bad++;
			pthread_mutex_unlock(&c->mtx);
			continue;
		}
		pthread_mutex_lock(&c->mtx);
		memcpy(c->ids[c->nids++], env.id, SPOOL_ID_MAX);
		pthread_mutex_unlock(&c->mtx);
		spool_msg_commit(m, conc_done, c);
	}
	return NULL;
}

static void
count_id(void *arg, const char *id)
{
	(void)id;
	(*(size_t *)arg)++;
}

static void
test_concurrent(void **state)
{
	struct conc *c = xcalloc(1, sizeof(*c));
	pthread_t t[CONC_THREADS];
	struct spool_stats stats;
	struct why why;
	size_t i, j, n = 0;

	(void)state;
	pthread_mutex_init(&c->mtx, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->sp = open_files(dir, &why);
	assert_non_null(c->sp);
	for (i = 0; i < CONC_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, conc_main, c), 0);
	for (i = 0; i < CONC_THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_lock(&c->mtx);
	while (c->done < CONC_THREADS * CONC_PER)
		pthread_cond_wait(&c->cv, &c->mtx);
	pthread_mutex_unlock(&c->mtx);
	assert_int_equal(c->bad, 0);
	assert_int_equal(c->nids, CONC_THREADS * CONC_PER);
	for (i = 0; i < c->nids; i++) {
		assert_int_equal(c->calls[i], 1);
		for (j = i + 1; j < c->nids; j++)
			assert_string_not_equal(c->ids[i], c->ids[j]);
	}
	assert_int_equal(spool_scan(c->sp, count_id, &n, &why), 0);
	assert_int_equal(n, CONC_THREADS * CONC_PER);
	spool_get_stats(c->sp, &stats);
	assert_int_equal(stats.commits, CONC_THREADS * CONC_PER);
	print_message("concurrent: %llu commits, %llu batches, %llu syncs\n",
	    (unsigned long long)stats.commits,
	    (unsigned long long)stats.batches, (unsigned long long)stats.syncs);
	assert_true(stats.syncs < stats.commits);
	spool_close(c->sp);
	pthread_mutex_destroy(&c->mtx);
	pthread_cond_destroy(&c->cv);
	free(c);
}

/* Commits queued while a sync runs share the next one. */
static void
test_batching(void **state)
{
	struct conc *c = xcalloc(1, sizeof(*c));
	struct spool_msg *m[100];
	struct spool_env env;
	struct spool_rcpt r[1];
	struct spool_stats stats;
	struct why why;
	size_t i;

	(void)state;
	pthread_mutex_init(&c->mtx, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->sp = open_files(dir, &why);
	assert_non_null(c->sp);
	for (i = 0; i < 100; i++) {
		fill_env(&env, r, 1);
		m[i] = spool_msg_new(c->sp, &env, &why);
		assert_non_null(m[i]);
		assert_int_equal(spool_msg_write(m[i], "x\r\n", 3, &why), 0);
		memcpy(c->ids[c->nids++], env.id, SPOOL_ID_MAX);
	}
	for (i = 0; i < 100; i++)
		spool_msg_commit(m[i], conc_done, c);
	pthread_mutex_lock(&c->mtx);
	while (c->done < 100)
		pthread_cond_wait(&c->cv, &c->mtx);
	pthread_mutex_unlock(&c->mtx);
	assert_int_equal(c->bad, 0);
	spool_get_stats(c->sp, &stats);
	print_message("batching: %llu commits, %llu batches, %llu syncs\n",
	    (unsigned long long)stats.commits,
	    (unsigned long long)stats.batches, (unsigned long long)stats.syncs);
	assert_int_equal(stats.commits, 100);
	assert_true(stats.syncs * 2 < stats.commits); /* < 0.5 per message */
	assert_true(stats.syncs <= 2 * stats.batches);
	spool_close(c->sp);
	pthread_mutex_destroy(&c->mtx);
	pthread_cond_destroy(&c->cv);
	free(c);
}

static void
test_rcpt_state(void **state)
{
	struct spool_env got;
	struct spool *sp;
	struct why why;
	char id[SPOOL_ID_MAX], note[SPOOL_NOTE_MAX + 2];

	(void)state;
	sp = open_files(dir, &why);
	assert_non_null(sp);
	commit_one(sp, 3, "a\r\n", id);
	assert_int_equal(spool_rcpt_set(sp, id, 1, SPOOL_RCPT_DELIVERED, &why),
	    0);
	assert_int_equal(spool_rcpt_set(sp, id, 2, SPOOL_RCPT_FAILED, &why), 0);
	/* Invalid: index past the end (limit), bad state, bad/unknown id. */
	assert_int_equal(spool_rcpt_set(sp, id, 3, SPOOL_RCPT_FAILED, &why),
	    -1);
	assert_int_equal(why.kind, WHY_PERM);
	assert_int_equal(spool_rcpt_set(sp, id, 0, 'X', &why), -1);
	assert_int_equal(spool_rcpt_set(sp, "../active/x", 0, SPOOL_RCPT_FAILED,
	                     &why),
	    -1);
	assert_int_equal(spool_rcpt_set(sp, ID1, 0, SPOOL_RCPT_FAILED, &why),
	    -1);
	assert_int_equal(why.sys_errno, ENOENT);
	assert_int_equal(spool_note_error(sp, id, 0, "451 4.2.0 full\r\nx",
	                     &why),
	    0);
	assert_int_equal(spool_note_error(sp, id, 2, "first", &why), 0);
	assert_int_equal(spool_note_error(sp, id, 2, "second", &why), 0);
	/* SPOOL_NOTE_MAX: longer texts are cut to it. */
	memset(note, 'n', sizeof(note));
	note[SPOOL_NOTE_MAX + 1] = '\0';
	assert_int_equal(spool_note_error(sp, id, 1, note, &why), 0);
	assert_int_equal(spool_note_error(sp, id, SPOOL_RCPTS_MAX - 1, "x",
	                     &why),
	    0); /* not a recipient of this message: ignored at load */
	assert_int_equal(spool_note_error(sp, id, SPOOL_RCPTS_MAX, "x", &why),
	    -1);
	assert_int_equal(spool_note_retry(sp, id, 3, 1234567, &why), 0);
	assert_int_equal(spool_note_retry(sp, id, 4, 7654321, &why), 0);
	spool_close(sp);

	/* After a restart the states and notes are still there. */
	sp = open_files(dir, &why);
	assert_non_null(sp);
	assert_int_equal(spool_env_load(sp, id, &got, &why), 0);
	assert_int_equal(got.rcpts[0].state, SPOOL_RCPT_PENDING);
	assert_int_equal(got.rcpts[1].state, SPOOL_RCPT_DELIVERED);
	assert_int_equal(got.rcpts[2].state, SPOOL_RCPT_FAILED);
	assert_string_equal(got.rcpts[0].last_error, "451 4.2.0 full\r\nx");
	assert_int_equal(strlen(got.rcpts[1].last_error), SPOOL_NOTE_MAX);
	assert_string_equal(got.rcpts[2].last_error, "second");
	assert_int_equal(got.attempts, 4);
	assert_int_equal(got.next_attempt, 7654321);
	spool_env_free(&got);
	assert_int_equal(spool_remove(sp, id, &why), 0);
	assert_false(exists("active", id));
	assert_false(exists("notes", id));
	assert_int_equal(spool_env_load(sp, id, &got, &why), -1);
	assert_int_equal(why.sys_errno, ENOENT);
	spool_close(sp);
}

static void
test_leftovers(void **state)
{
	struct spool *sp;
	struct why why;
	size_t n = 0;

	(void)state;
	sp = open_files(dir, &why);
	assert_non_null(sp);
	spool_close(sp);
	/* A crash while receiving, and a note whose message is gone. */
	put_file("incoming", ID1, "TERN1 half", 10);
	put_file("notes", ID2, "attempts 1\n", 11);
	put_file("notes", "00000000000b0001abcd.tmp", "x", 1);
	sp = open_files(dir, &why);
	assert_non_null(sp);
	assert_int_equal(count_dir("incoming"), 0);
	assert_int_equal(count_dir("notes"), 0);
	assert_int_equal(spool_scan(sp, count_id, &n, &why), 0);
	assert_int_equal(n, 0);
	spool_close(sp);
}

static void
test_lock_and_readonly(void **state)
{
	struct spool_env env, got;
	struct spool_rcpt r[1];
	struct spool *sp, *ro;
	struct why why;
	char id[SPOOL_ID_MAX];
	size_t n = 0;

	(void)state;
	ro = spool_open_readonly(dir, &why);
	assert_null(ro); /* nothing there yet, and it creates nothing */
	sp = open_files(dir, &why);
	assert_non_null(sp);
	assert_null(spool_open(dir, &why)); /* one server per spool */
	assert_int_equal(why.kind, WHY_TEMP);
	commit_one(sp, 1, "b\r\n", id);
	put_file("incoming", ID1, "TERN1 live", 10);
	ro = spool_open_readonly(dir, &why);
	assert_non_null(ro);
	assert_int_equal(spool_scan(ro, count_id, &n, &why), 0);
	assert_int_equal(n, 1);
	assert_true(exists("incoming", ID1)); /* a live message: untouched */
	assert_int_equal(spool_env_load(ro, id, &got, &why), 0);
	spool_env_free(&got);
	fill_env(&env, r, 1);
	assert_null(spool_msg_new(ro, &env, &why));
	assert_int_equal(spool_rcpt_set(ro, id, 0, SPOOL_RCPT_DELIVERED, &why),
	    -1);
	assert_int_equal(spool_note_error(ro, id, 0, "x", &why), -1);
	assert_int_equal(spool_remove(ro, id, &why), -1);
	assert_true(exists("active", id));
	spool_close(ro);
	spool_close(sp);
}

/* Build "TERN1 <len>\n" + text with a correct length. */
static size_t
mkenv(char *out, size_t sz, const char *text)
{
	size_t n = strlen(text) + 17;

	assert_true(n < sz);
	(void)snprintf(out, sz, "TERN1 %010zu\n%s", n, text);
	return n;
}

#define HEAD "id " ID1 "\narrival 1700000000\n"
#define REST "sender a@b\nhelo h\nclient 1.2.3.4 -\nflags 00\n"
#define RCPT "rcpt P x@y -\n"
#define REST2 "helo h\nclient 1.2.3.4 -\nflags 00\n"

struct env_case {
	const char *name;
	const char *text; /* without the first line */
	const char *raw;  /* or the whole file as it is */
};

static const struct env_case valid_cases[] = {
	{ "minimal", HEAD REST RCPT "end\n", NULL },
	{ "flags-11",
	    HEAD "sender -\nhelo -\nclient - -\nflags 11\n" RCPT "end\n",
	    NULL },
	{ "states", HEAD REST "rcpt P a@b -\nrcpt D c@d e\nrcpt F f@g h\nend\n",
	    NULL },
	{ "escapes", HEAD "sender %2D%25%20%C3%BC@x\n" REST2 RCPT "end\n",
	    NULL },
	{ "lower-hex", HEAD "sender %c3%bc\n" REST2 RCPT "end\n", NULL },
	/* Issue 4: DSN data (RFC 3461), optional. */
	{ "dsn-line", HEAD REST "dsn F ENV+2B1\n" RCPT "end\n", NULL },
	{ "dsn-empty", HEAD REST "dsn - -\n" RCPT "end\n", NULL },
	{ "rcpt-dsn", HEAD REST "rcpt P x@y - 6 rfc822;x@y\nrcpt P a@b -\n"
	                        "end\n",
	    NULL },
	/* Issue 7: held at the 250 (a user limit), optional. */
	{ "hold", HEAD REST "hold 1\n" RCPT "end\n", NULL },
	{ "hold-after-dsn", HEAD REST "dsn F -\nhold 1\n" RCPT "end\n", NULL },
	/* Issue 19: REQUIRETLS (RFC 8689), optional. */
	{ "requiretls", HEAD REST "requiretls 1\n" RCPT "end\n", NULL },
	{ "requiretls-after-hold", HEAD REST "dsn F -\nhold 1\nrequiretls 1\n"
	                                     RCPT "end\n",
	    NULL },
};

static const struct env_case invalid_cases[] = {
	{ "requiretls-0", HEAD REST "requiretls 0\n" RCPT "end\n", NULL },
	{ "requiretls-twice", HEAD REST "requiretls 1\nrequiretls 1\n" RCPT
	                                "end\n",
	    NULL },
	{ "requiretls-after-rcpt", HEAD REST RCPT "requiretls 1\nend\n",
	    NULL },
	{ "empty", NULL, "" },
	{ "short", NULL, "TERN1 00" },
	{ "bad-magic", NULL, "TERN2 0000000017\n" },
	{ "len-nondigit", NULL, "TERN1 00000000x7\nend\n" },
	{ "len-too-big", NULL, "TERN1 9999999999\nend\n" },
	{ "len-too-small", NULL, "TERN1 0000000003\nend\n" },
	{ "len-past-eof", NULL, "TERN1 0000000099\n" HEAD REST RCPT "end\n" },
	{ "no-id", "arrival 1\n" REST RCPT "end\n", NULL },
	{ "id-mismatch", "id " ID2 "\narrival 1\n" REST RCPT "end\n", NULL },
	{ "id-upper", "id 00000000000A0001ABCD\narrival 1\n" REST RCPT "end\n",
	    NULL },
	{ "arrival-junk", "id " ID1 "\narrival 1x\n" REST RCPT "end\n", NULL },
	{ "arrival-neg", "id " ID1 "\narrival -1\n" REST RCPT "end\n", NULL },
	{ "sender-space", HEAD "sender a b\n" REST2 RCPT "end\n", NULL },
	{ "bad-escape", HEAD "sender %zz\n" REST2 RCPT "end\n", NULL },
	{ "escape-nul", HEAD "sender a%00\n" REST2 RCPT "end\n", NULL },
	{ "escape-cut", HEAD "sender a%4\n" REST2 RCPT "end\n", NULL },
	{ "raw-8bit", HEAD "sender \xc3\xbc\n" REST2 RCPT "end\n", NULL },
	{ "cr-in-line", HEAD "sender a\r\n" REST2 RCPT "end\n", NULL },
	{ "empty-field",
	    HEAD "sender a\nhelo h\nclient  x\nflags 00\n" RCPT "end\n", NULL },
	{ "wrong-order",
	    HEAD "helo h\nsender a\nclient a b\nflags 00\n" RCPT "end\n",
	    NULL },
	{ "flags-bad",
	    HEAD "sender a\nhelo h\nclient a b\nflags 2x\n" RCPT "end\n",
	    NULL },
	{ "rcpt-state", HEAD REST "rcpt X x@y -\nend\n", NULL },
	{ "rcpt-2-fields", HEAD REST "rcpt P x@y\nend\n", NULL },
	{ "rcpt-4-fields", HEAD REST "rcpt P x@y a b\nend\n", NULL },
	{ "no-rcpt", HEAD REST "end\n", NULL },
	{ "no-end", HEAD REST RCPT, NULL },
	{ "after-end", HEAD REST RCPT "end\nrcpt P x@y -\n", NULL },
	{ "unknown-line", HEAD REST "size 12\n" RCPT "end\n", NULL },
	{ "dsn-bad-ret", HEAD REST "dsn X -\n" RCPT "end\n", NULL },
	{ "dsn-1-field", HEAD REST "dsn F\n" RCPT "end\n", NULL },
	{ "dsn-twice", HEAD REST "dsn F -\ndsn H -\n" RCPT "end\n", NULL },
	{ "dsn-after-rcpt", HEAD REST RCPT "dsn F -\nend\n", NULL },
	{ "rcpt-notify-16", HEAD REST "rcpt P x@y - 16 -\nend\n", NULL },
	{ "rcpt-notify-junk", HEAD REST "rcpt P x@y - x -\nend\n", NULL },
	{ "rcpt-6-fields", HEAD REST "rcpt P x@y - 1 - z\nend\n", NULL },
	{ "hold-0", HEAD REST "hold 0\n" RCPT "end\n", NULL },
	{ "hold-twice", HEAD REST "hold 1\nhold 1\n" RCPT "end\n", NULL },
	{ "hold-after-rcpt", HEAD REST RCPT "hold 1\nend\n", NULL },
	{ "hold-junk", HEAD REST "hold 1 x\n" RCPT "end\n", NULL },
};

/* DSN data written by spool_msg_new comes back from spool_env_load. */
static void
test_dsn_roundtrip(void **state)
{
	struct spool_env env, got;
	struct spool_rcpt r[3];
	struct spool_dsn d[3];
	struct spool_msg *m;
	struct spool *sp;
	struct why why;

	(void)state;
	sp = open_files(dir, &why);
	assert_non_null(sp);
	fill_env(&env, r, 3);
	memset(d, 0, sizeof(d));
	d[1].notify = 6;
	d[1].orcpt = "rfc822;B+2Bx@example.org";
	env.dsn = d;
	env.dsn_ret = 2;
	env.envid = "QQ+2B1";
	m = spool_msg_new(sp, &env, &why);
	assert_non_null(m);
	assert_int_equal(spool_msg_write(m, "x\r\n", 3, &why), 0);
	assert_int_equal(commit_wait(m, NULL), 1);
	assert_int_equal(spool_env_load(sp, env.id, &got, &why), 0);
	assert_int_equal(got.dsn_ret, 2);
	assert_string_equal(got.envid, "QQ+2B1");
	assert_non_null(got.dsn);
	assert_int_equal(got.dsn[0].notify, 0);
	assert_null(got.dsn[0].orcpt);
	assert_int_equal(got.dsn[1].notify, 6);
	assert_string_equal(got.dsn[1].orcpt, "rfc822;B+2Bx@example.org");
	assert_false(got.warned);
	spool_env_free(&got);
	assert_int_equal(spool_note_warned(sp, env.id, &why), 0);
	assert_int_equal(spool_env_load(sp, env.id, &got, &why), 0);
	assert_true(got.warned);
	spool_env_free(&got);
	spool_close(sp);
}

/*
 * A hold given to spool_msg_new is in the envelope, so it holds without
 * any note (issue 7: durable before the 250); "hold 0" from
 * spool_note_hold releases it, and a later hold holds it again.
 */
static bool
is_held(struct spool *sp, const char *id)
{
	struct spool_env got;
	struct why why;
	bool held;

	assert_int_equal(spool_env_load(sp, id, &got, &why), 0);
	held = got.held;
	spool_env_free(&got);
	return held;
}

static void
test_hold(void **state)
{
	struct spool_env env;
	struct spool_rcpt r[1];
	struct spool_msg *m;
	struct spool *sp;
	struct why why;

	(void)state;
	sp = open_files(dir, &why);
	assert_non_null(sp);
	fill_env(&env, r, 1);
	env.held = true;
	m = spool_msg_new(sp, &env, &why);
	assert_non_null(m);
	assert_int_equal(spool_msg_write(m, "x\r\n", 3, &why), 0);
	assert_int_equal(commit_wait(m, NULL), 1);
	assert_false(exists("notes", env.id));
	assert_true(is_held(sp, env.id));
	assert_int_equal(spool_note_hold(sp, env.id, false, &why), 0);
	assert_false(is_held(sp, env.id));
	assert_int_equal(spool_note_hold(sp, env.id, true, &why), 0);
	assert_true(is_held(sp, env.id));
	/* Not held unless asked: the envelope has no hold line. */
	fill_env(&env, r, 1);
	m = spool_msg_new(sp, &env, &why);
	assert_non_null(m);
	assert_int_equal(commit_wait(m, NULL), 1);
	assert_false(is_held(sp, env.id));
	spool_close(sp);
}

static void
check_load(struct spool *sp, const char *name, const void *p, size_t n,
    bool want_ok)
{
	struct spool_env got;
	struct why why;
	int rc;

	put_file("active", ID1, p, n);
	rc = spool_env_load(sp, ID1, &got, &why);
	if (want_ok && rc != 0)
		fail_msg("%s: %s", name, why.text);
	if (!want_ok && rc == 0)
		fail_msg("%s: loaded", name);
	if (rc == 0)
		spool_env_free(&got);
	else
		assert_int_equal(why.kind, WHY_PERM);
}

static void
test_env_cases(void **state)
{
	char buf[4096];
	struct spool *sp, *ro;
	struct spool_env got;
	struct why why;
	size_t i, n, cut;

	(void)state;
	sp = open_files(dir, &why);
	assert_non_null(sp);
	ro = spool_open_readonly(dir, &why);
	assert_non_null(ro);
	for (i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
		n = mkenv(buf, sizeof(buf), valid_cases[i].text);
		check_load(sp, valid_cases[i].name, buf, n, true);
		/* No proper prefix of an envelope may load. */
		for (cut = 0; cut < n; cut++)
			check_load(ro, valid_cases[i].name, buf, cut, false);
		assert_int_equal(count_dir("corrupt"), 0);
	}
	for (i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++) {
		const struct env_case *c = &invalid_cases[i];

		if (c->raw != NULL) {
			n = strlen(c->raw);
			memcpy(buf, c->raw, n);
		} else
			n = mkenv(buf, sizeof(buf), c->text);
		check_load(sp, c->name, buf, n, false);
		/* The server moves it aside instead of crashing on it. */
		if (!exists("corrupt", ID1) || exists("active", ID1))
			fail_msg("%s: not moved to corrupt/", c->name);
	}
	/* SPOOL_ENV_MAX: at the limit the length is believed (and the file
	 * found short), one past it is refused before any allocation. */
	(void)snprintf(buf, sizeof(buf), "TERN1 %010zu\n" HEAD,
	    (size_t)SPOOL_ENV_MAX);
	put_file("active", ID1, buf, strlen(buf));
	assert_int_equal(spool_env_load(ro, ID1, &got, &why), -1);
	assert_non_null(strstr(why.text, "truncated"));
	(void)snprintf(buf, sizeof(buf), "TERN1 %010zu\n" HEAD,
	    (size_t)SPOOL_ENV_MAX + 1);
	put_file("active", ID1, buf, strlen(buf));
	assert_int_equal(spool_env_load(ro, ID1, &got, &why), -1);
	assert_non_null(strstr(why.text, "bad envelope length"));
	spool_close(ro);
	spool_close(sp);
}

/* Every limit at limit-1, limit and limit+1, through spool_msg_new. */
static void
test_limits(void **state)
{
	static const struct {
		const char *name;
		size_t field, nrcpts;
		bool ok;
	} cases[] = {
		{ "field-max-1", SPOOL_FIELD_MAX - 1, 1, true },
		{ "field-max", SPOOL_FIELD_MAX, 1, true },
		{ "field-max+1", SPOOL_FIELD_MAX + 1, 1, false },
		{ "rcpts-0", 1, 0, false },
		{ "rcpts-max-1", 1, SPOOL_RCPTS_MAX - 1, true },
		{ "rcpts-max", 1, SPOOL_RCPTS_MAX, true },
		{ "rcpts-max+1", 1, SPOOL_RCPTS_MAX + 1, false },
	};
	struct spool_env env, got;
	struct spool_rcpt *r;
	struct spool_msg *m;
	struct spool *sp;
	struct why why;
	char *field, id[SPOOL_ID_MAX];
	size_t i, j;

	(void)state;
	sp = open_files(dir, &why);
	assert_non_null(sp);
	r = xcalloc(SPOOL_RCPTS_MAX + 1, sizeof(*r));
	field = xmalloc(SPOOL_FIELD_MAX + 2);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(field, '%', cases[i].field); /* escapes triple it */
		field[cases[i].field] = '\0';
		memset(&env, 0, sizeof(env));
		env.sender = field;
		for (j = 0; j < cases[i].nrcpts; j++)
			r[j].addr = "u@example.org";
		env.rcpts = r;
		env.nrcpts = cases[i].nrcpts;
		m = spool_msg_new(sp, &env, &why);
		if (!cases[i].ok) {
			if (m != NULL)
				fail_msg("%s: accepted", cases[i].name);
			assert_int_equal(why.kind, WHY_PERM);
			continue;
		}
		if (m == NULL)
			fail_msg("%s: %s", cases[i].name, why.text);
		(void)strlcpy(id, env.id, sizeof(id));
		assert_int_equal(commit_wait(m, NULL), 1);
		assert_int_equal(spool_env_load(sp, id, &got, &why), 0);
		assert_string_equal(got.sender, field);
		assert_int_equal(got.nrcpts, cases[i].nrcpts);
		spool_env_free(&got);
		assert_int_equal(spool_rcpt_set(sp, id, cases[i].nrcpts - 1,
		                     SPOOL_RCPT_DELIVERED, &why),
		    0);
		assert_int_equal(spool_remove(sp, id, &why), 0);
	}
	assert_int_equal(count_dir("incoming"), 0);
	free(field);
	free(r);
	spool_close(sp);
}

static void
test_ids(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{ "0123456789abcdef0123", true },
		{ "00000000000a0001abcd", true },
		{ "0123456789abcdef012", false },   /* len-1 */
		{ "0123456789abcdef01234", false }, /* len+1 */
		{ "0123456789ABCDEF0123", false },
		{ "0123456789abcdef012g", false },
		{ "../456789abcdef01234", false },
		{ "", false },
	};
	char prev[SPOOL_ID_MAX] = "";
	struct spool_env env;
	struct spool_rcpt r[1];
	struct spool_msg *m;
	struct spool *sp;
	struct why why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (spool_is_id(cases[i].s) != cases[i].ok)
			fail_msg("id case %zu", i);
	assert_false(spool_is_id(NULL));
	sp = open_files(dir, &why);
	assert_non_null(sp);
	/* Fresh ids are valid and increase with time. */
	for (i = 0; i < 100; i++) {
		fill_env(&env, r, 1);
		m = spool_msg_new(sp, &env, &why);
		assert_non_null(m);
		assert_true(spool_is_id(env.id));
		assert_true(strcmp(prev, env.id) < 0);
		(void)strlcpy(prev, env.id, sizeof(prev));
		spool_msg_abort(m);
	}
	spool_close(sp);
}

/* The disk fills up: RLIMIT_FSIZE makes write(2) fail with EFBIG. */
static void
test_write_failure(void **state)
{
	struct rlimit old, lim;
	struct spool_env env;
	struct spool_rcpt r[1];
	struct spool_msg *m;
	struct spool *sp;
	struct why why;
	char *big;
	size_t i;

	(void)state;
	sp = open_files(dir, &why);
	assert_non_null(sp);
	big = xmalloc(200000);
	memset(big, 'x', 200000);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = 8192;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);

	/* Buffered writes: the failure shows at commit, ok=0. */
	fill_env(&env, r, 1);
	m = spool_msg_new(sp, &env, &why);
	assert_non_null(m);
	for (i = 0; i < 10; i++)
		assert_int_equal(spool_msg_write(m, big, 1000, &why), 0);
	memset(&why, 0, sizeof(why));
	assert_int_equal(commit_wait(m, &why), 0);
	assert_int_equal(why.kind, WHY_TEMP);
	assert_int_equal(why.sys_errno, EFBIG);

	/* A large write fails at once, and commit still reports once. */
	fill_env(&env, r, 1);
	m = spool_msg_new(sp, &env, &why);
	assert_non_null(m);
	assert_int_equal(spool_msg_write(m, big, 200000, &why), -1);
	assert_int_equal(why.kind, WHY_TEMP);
	assert_int_equal(spool_msg_write(m, "x", 1, &why), -1);
	assert_int_equal(commit_wait(m, &why), 0);

	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(count_dir("incoming"), 0);
	assert_int_equal(count_dir("active"), 0);
	free(big);
	spool_close(sp);
}

static void
test_open_failure(void **state)
{
	struct why why;
	char p[256];

	(void)state;
	/* A file where the spool directory should be. */
	(void)snprintf(p, sizeof(p), "%s/file", dir);
	close(open(p, O_WRONLY | O_CREAT, 0600));
	assert_null(spool_open(p, &why));
	assert_int_equal(why.kind, WHY_TEMP);
	(void)snprintf(p, sizeof(p), "%s/file/queue", dir);
	assert_null(spool_open(p, &why));
	assert_int_equal(why.kind, WHY_TEMP);
}

/*
 * A removed message's file goes to free/ and is reused, truncated, for
 * the next message (no new inode), and free/ survives a restart.
 */
static void
test_file_reuse(void **state)
{
	struct spool *sp;
	struct spool_env got;
	struct why why;
	char id1[SPOOL_ID_MAX], id2[SPOOL_ID_MAX], p[256];
	struct stat st;
	ino_t ino;

	(void)state;
	sp = open_files(dir, &why);
	assert_non_null(sp);
	commit_one(sp, 1, "first message, quite a bit longer\r\n", id1);
	assert_int_equal(spool_remove(sp, id1, &why), 0);
	assert_false(exists("active", id1));
	path(p, sizeof(p), "free", id1);
	assert_int_equal(stat(p, &st), 0);
	ino = st.st_ino;
	spool_close(sp);
	sp = open_files(dir, &why); /* adopts free/ */
	assert_non_null(sp);
	commit_one(sp, 1, "second\r\n", id2);
	assert_string_not_equal(id1, id2);
	assert_int_equal(count_dir("free"), 0);
	path(p, sizeof(p), "active", id2);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_ino, ino);
	/* Nothing of the first message is left in the reused file. */
	assert_int_equal(spool_env_load(sp, id2, &got, &why), 0);
	assert_int_equal(got.body_size, 8);
	assert_int_equal(st.st_size, got.body_offset + got.body_size);
	spool_env_free(&got);
	spool_close(sp);
}

/*
 * Issue 16: header fields put on top after the message arrived, small
 * (the envelope still in the write buffer) and after a large body (the
 * slot already in the file); a recipient update keeps them; a message
 * without a slot refuses one.
 */
static void
test_prefix(void **state)
{
	static const char pre[] = "Authentication-Results: mx; none\r\n";
	struct spool_env env, got;
	struct spool_rcpt r[1];
	struct spool_msg *m;
	struct spool *sp;
	struct why why;
	char *big;
	size_t bign = 200 * 1024, k;
	int fd;
	char b[8];

	(void)state;
	sp = open_files(dir, &why);
	assert_non_null(sp);
	big = malloc(bign);
	assert_non_null(big);
	for (k = 0; k < bign; k++)
		big[k] = (k % 80 == 78) ? '\r' : (k % 80 == 79) ? '\n' : 'b';
	for (k = 0; k < 2; k++) {
		fill_env(&env, r, 1);
		env.prefix_slot = true;
		m = spool_msg_new(sp, &env, &why);
		assert_non_null(m);
		if (k == 0)
			assert_int_equal(spool_msg_write(m, "x\r\n", 3, &why),
			    0);
		else
			assert_int_equal(spool_msg_write(m, big, bign, &why), 0);
		assert_int_equal(spool_msg_set_prefix(m, pre, strlen(pre), k == 1, &why),
		    0);
		/* Once only. */
		assert_int_equal(spool_msg_set_prefix(m, pre, strlen(pre), k == 1, &why),
		    -1);
		assert_int_equal(commit_wait(m, NULL), 1);
		assert_int_equal(spool_rcpt_set(sp, env.id, 0,
		                     SPOOL_RCPT_DELIVERED, &why),
		    0);
		assert_int_equal(spool_env_open(sp, env.id, &got, &fd, &why), 0);
		assert_int_equal(got.prefix_len, strlen(pre));
		assert_string_equal(got.prefix, pre);
		assert_int_equal(got.body_size, k == 0 ? 3 : (off_t)bign);
		assert_int_equal(got.rcpts[0].state, SPOOL_RCPT_DELIVERED);
		assert_int_equal(got.junk, k == 1);
		assert_int_equal(pread(fd, b, 3, got.body_offset), 3);
		assert_memory_equal(b, k == 0 ? "x\r\n" : "bbb", 3);
		(void)close(fd);
		spool_env_free(&got);
	}
	free(big);
	/* A slot left empty: no prefix, the body as written. */
	fill_env(&env, r, 1);
	env.prefix_slot = true;
	m = spool_msg_new(sp, &env, &why);
	assert_non_null(m);
	assert_int_equal(spool_msg_write(m, "y\r\n", 3, &why), 0);
	assert_int_equal(commit_wait(m, NULL), 1);
	assert_int_equal(spool_env_load(sp, env.id, &got, &why), 0);
	assert_null(got.prefix);
	assert_int_equal(got.body_size, 3);
	spool_env_free(&got);
	/* No slot, no prefix; and a prefix too large. */
	fill_env(&env, r, 1);
	m = spool_msg_new(sp, &env, &why);
	assert_non_null(m);
	assert_int_equal(spool_msg_set_prefix(m, pre, strlen(pre), k == 1, &why), -1);
	spool_msg_abort(m);
	fill_env(&env, r, 1);
	env.prefix_slot = true;
	m = spool_msg_new(sp, &env, &why);
	assert_non_null(m);
	assert_int_equal(
	    spool_msg_set_prefix(m, pre, SPOOL_PREFIX_MAX + 1, false, &why), -1);
	assert_int_equal(why.kind, WHY_PERM);
	spool_msg_abort(m);
	spool_close(sp);
}

/* Issue 20: a small message is a record of the segment log. */
static struct spool_msg *
seg_msg(struct spool *sp, struct spool_env *env, struct spool_rcpt *r,
    size_t nr, const char *body)
{
	struct spool_msg *m;
	struct why why;

	fill_env(env, r, nr);
	env->prefix_slot = true;
	m = spool_msg_new(sp, env, &why);
	assert_non_null(m);
	assert_int_equal(spool_msg_write(m, body, strlen(body), &why), 0);
	return m;
}

static void
id_count(void *arg, const char *id)
{
	assert_true(spool_is_id(id));
	(*(size_t *)arg)++;
}

static size_t
scan_count(struct spool *sp)
{
	struct why why;
	size_t n = 0;

	assert_int_equal(spool_scan(sp, id_count, &n, &why), 0);
	return n;
}

static void
test_seg_roundtrip(void **state)
{
	static const char body[] = "Subject: s\r\n\r\nhello\r\n";
	static const char pre[] = "X-Top: 1\r\n";
	struct spool_env env, got;
	struct spool_rcpt r[2];
	struct spool_msg *m;
	struct spool *sp;
	struct why why;
	char back[64];
	size_t recs, segs;
	int fd;

	(void)state;
	sp = spool_open(dir, &why);
	assert_non_null(sp);
	m = seg_msg(sp, &env, r, 2, body);
	assert_int_equal(count_dir("incoming"), 0); /* no file at all */
	assert_int_equal(spool_msg_set_prefix(m, pre, strlen(pre), true, &why),
	    0);
	assert_int_equal(commit_wait(m, NULL), 1);
	assert_int_equal(count_dir("incoming"), 0);
	assert_int_equal(count_dir("active"), 0);
	assert_int_equal(count_dir("seg"), 1);
	seg_counts(sp, &recs, &segs);
	assert_int_equal(recs, 1);

	assert_int_equal(spool_env_open(sp, env.id, &got, &fd, &why), 0);
	assert_int_equal(got.nrcpts, 2);
	assert_int_equal(got.body_size, (off_t)strlen(body));
	assert_true(got.junk);
	assert_string_equal(got.prefix, pre);
	assert_int_equal(pread(fd, back, strlen(body), got.body_offset),
	    (ssize_t)strlen(body));
	assert_memory_equal(back, body, strlen(body));
	close(fd);
	spool_env_free(&got);

	/* A recipient's state: a record never changes, so it is settled
	 * into a file first (its crc would no longer match). */
	assert_int_equal(
	    spool_rcpt_set(sp, env.id, 1, SPOOL_RCPT_DELIVERED, &why), 0);
	assert_true(exists("active", env.id));
	assert_false(seg_lookup(sp, env.id, NULL));
	assert_int_equal(spool_env_load(sp, env.id, &got, &why), 0);
	assert_int_equal(got.rcpts[0].state, SPOOL_RCPT_PENDING);
	assert_int_equal(got.rcpts[1].state, SPOOL_RCPT_DELIVERED);
	spool_env_free(&got);
	assert_int_equal(scan_count(sp), 1);

	assert_int_equal(spool_remove(sp, env.id, &why), 0);
	assert_int_equal(scan_count(sp), 0);
	assert_int_equal(spool_env_load(sp, env.id, &got, &why), -1);
	assert_int_equal(why.sys_errno, ENOENT);
	spool_close(sp);
	/* The empty segment goes at the next start. */
	sp = spool_open(dir, &why);
	assert_non_null(sp);
	assert_int_equal(count_dir("seg"), 0);
	spool_close(sp);
}

/*
 * kill -9 is simulated by closing without removing: every committed
 * record is found again once, a removed one is not, a torn tail is
 * ignored, and new records go to a new segment.
 */
static void
test_seg_recovery(void **state)
{
	struct spool_env env[3], got;
	struct spool_rcpt r[1];
	struct spool *sp, *ro;
	struct why why;
	char p[600], name[256];
	struct dirent *de;
	DIR *d;
	int i, fd;

	(void)state;
	sp = spool_open(dir, &why);
	assert_non_null(sp);
	for (i = 0; i < 3; i++)
		assert_int_equal(
		    commit_wait(seg_msg(sp, &env[i], r, 1, "a\r\n"), NULL), 1);
	assert_int_equal(spool_remove(sp, env[1].id, &why), 0);
	/* A record's note stays at start-up; one of no message goes. */
	assert_int_equal(spool_note_retry(sp, env[0].id, 1, 1234567, &why), 0);
	spool_close(sp);
	put_file("notes", ID2, "attempts 1\n", 11);

	/* A torn record at the end: a header and half a payload. */
	(void)snprintf(p, sizeof(p), "%s/seg", dir);
	d = opendir(p);
	assert_non_null(d);
	name[0] = '\0';
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			(void)snprintf(name, sizeof(name), "%s", de->d_name);
	closedir(d);
	path(p, sizeof(p), "seg", name);
	fd = open(p, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "TSG1L\0\0\0\x10\0\0\0\0\0\0\0" ID1 "\0\0\0\0TERN1",
	                     SEG_HDR_LEN + 5),
	    SEG_HDR_LEN + 5);
	close(fd);

	ro = spool_open_readonly(dir, &why);
	assert_non_null(ro);
	assert_int_equal(scan_count(ro), 2);
	spool_close(ro);
	sp = spool_open(dir, &why);
	assert_non_null(sp);
	assert_int_equal(scan_count(sp), 2);
	assert_true(exists("notes", env[0].id));
	assert_false(exists("notes", ID2));
	assert_int_equal(spool_env_load(sp, env[0].id, &got, &why), 0);
	assert_int_equal(got.next_attempt, 1234567);
	spool_env_free(&got);
	assert_int_equal(spool_env_load(sp, env[1].id, &got, &why), -1);
	assert_int_equal(spool_env_load(sp, ID1, &got, &why), -1);
	/* New mail goes to a new segment, never after a torn tail. */
	assert_int_equal(
	    commit_wait(seg_msg(sp, &env[1], r, 1, "b\r\n"), NULL), 1);
	assert_int_equal(count_dir("seg"), 2);
	assert_int_equal(spool_remove(sp, env[0].id, &why), 0);
	assert_int_equal(spool_remove(sp, env[2].id, &why), 0);
	/* Nothing live in the old segment: removed at once. */
	assert_int_equal(count_dir("seg"), 1);
	assert_int_equal(scan_count(sp), 1);
	spool_close(sp);
}

/* A deferred message moves into a file of its own; big ones start there. */
static void
test_seg_settle_and_spill(void **state)
{
	struct spool_env env, got;
	struct spool_rcpt r[1];
	struct spool_msg *m;
	struct spool *sp;
	struct why why;
	uint8_t *back;
	char *big;
	size_t n;
	off_t start;
	uint64_t len;
	int fd;

	(void)state;
	sp = spool_open(dir, &why);
	assert_non_null(sp);
	assert_int_equal(commit_wait(seg_msg(sp, &env, r, 1, "c\r\n"), NULL),
	    1);
	assert_int_equal(spool_settle(sp, env.id, &why), 0);
	assert_true(exists("active", env.id));
	assert_false(seg_lookup(sp, env.id, NULL));
	assert_int_equal(spool_env_load(sp, env.id, &got, &why), 0);
	assert_int_equal(got.body_size, 3);
	spool_env_free(&got);
	assert_int_equal(spool_settle(sp, env.id, &why), 0); /* a file: no-op */
	assert_int_equal(scan_count(sp), 1);
	assert_int_equal(spool_remove(sp, env.id, &why), 0);
	assert_int_equal(scan_count(sp), 0);

	/*
	 * A crash in the middle of a settle, after the file was made and
	 * before the record was marked: the file wins, once.
	 */
	assert_int_equal(commit_wait(seg_msg(sp, &env, r, 1, "e\r\n"), NULL),
	    1);
	put_file("active", env.id, "not read", 8);
	spool_close(sp);
	sp = spool_open(dir, &why);
	assert_non_null(sp);
	assert_false(seg_lookup(sp, env.id, NULL));
	assert_int_equal(scan_count(sp), 1);
	assert_int_equal(spool_remove(sp, env.id, &why), 0);
	assert_int_equal(scan_count(sp), 0);

	/* Bigger than SPOOL_MEM_MSG_MAX: a file of its own. */
	big = xmalloc(SPOOL_MEM_MSG_MAX + 1);
	memset(big, 'z', SPOOL_MEM_MSG_MAX);
	big[SPOOL_MEM_MSG_MAX] = '\0';
	m = seg_msg(sp, &env, r, 1, big);
	assert_true(exists("incoming", env.id));
	assert_int_equal(commit_wait(m, NULL), 1);
	assert_true(exists("active", env.id));
	assert_int_equal(spool_env_load(sp, env.id, &got, &why), 0);
	assert_int_equal(got.body_size, (off_t)SPOOL_MEM_MSG_MAX);
	spool_env_free(&got);
	free(big);

	/* A filter reads an in-memory message: read back, then a reader. */
	m = seg_msg(sp, &env, r, 1, "d\r\n");
	assert_int_equal(spool_msg_read_back(m, &back, &n, &why), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(back, "d\r\n", 3);
	free(back);
	fd = spool_msg_reader(m, &start, &len, &why);
	assert_true(fd >= 0);
	assert_int_equal(len, 3);
	close(fd);
	assert_int_equal(commit_wait(m, NULL), 1);
	assert_int_equal(spool_env_load(sp, env.id, &got, &why), 0);
	assert_int_equal(got.body_size, 3);
	spool_env_free(&got);
	spool_close(sp);
}

/*
 * A segment that cannot be opened at start-up (here a symlink, refused
 * by O_NOFOLLOW; or EMFILE, EACCES) is skipped, but its number is still
 * taken: new segments must not be named after it, or every append fails
 * with EEXIST and no small message is accepted any more.
 */
static void
test_seg_unopenable(void **state)
{
	struct spool_env env;
	struct spool_rcpt r[1];
	struct spool *sp;
	struct why why;
	char p[600];

	(void)state;
	sp = spool_open(dir, &why);
	assert_non_null(sp);
	spool_close(sp);
	path(p, sizeof(p), "seg", "0000000000000000");
	assert_int_equal(symlink("nowhere", p), 0);
	sp = spool_open(dir, &why);
	assert_non_null(sp);
	assert_int_equal(commit_wait(seg_msg(sp, &env, r, 1, "u\r\n"), &why),
	    1);
	assert_true(seg_lookup(sp, env.id, NULL));
	assert_int_equal(scan_count(sp), 1);
	spool_close(sp);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_roundtrip),
		T(test_abort),
		T(test_concurrent),
		T(test_batching),
		T(test_rcpt_state),
		T(test_leftovers),
		T(test_lock_and_readonly),
		T(test_env_cases),
		T(test_limits),
		T(test_ids),
		T(test_write_failure),
		T(test_open_failure),
		T(test_dsn_roundtrip),
		T(test_file_reuse),
		T(test_hold),
		T(test_prefix),
		T(test_seg_roundtrip),
		T(test_seg_recovery),
		T(test_seg_settle_and_spill),
		T(test_seg_unopenable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
