/* SPDX-License-Identifier: ISC */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "deliver/local.h"
#include "deliver/maildir.h"
#include "deliver/syncgroup.h"
#include "queue/sched.h"
#include "util/str.h"
#include "util/xmalloc.h"

#include "testutil.h"

#define CHUNK 65536 /* maildir.c's copy size: CRLF across it is tested */

static char dir[TESTUTIL_DIR_MAX];

static int
setup(void **state)
{
	(void)state;
	assert_int_equal(testutil_mkdtemp(dir, sizeof(dir), NULL, "maildir"),
	    0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	testutil_rmtree(dir);
	return 0;
}

/* A spool-like file: `junk` bytes, then the message. */
static int
msg_file(const void *p, size_t n, size_t junk)
{
	char path[128];
	size_t i;
	int fd;

	(void)snprintf(path, sizeof(path), "%s/msg", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	for (i = 0; i < junk; i++)
		assert_int_equal(write(fd, "J", 1), 1);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	(void)unlink(path);
	return fd;
}

static size_t
count(const char *p)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d = opendir(p);

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Read new/<name> of maildir md into a fresh buffer. */
static char *
slurp(const char *md, const char *name, size_t *n_out)
{
	char p[512];
	struct stat st;
	char *b;
	int fd;

	(void)snprintf(p, sizeof(p), "%s/new/%s", md, name);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	b = xmalloc((size_t)st.st_size + 1);
	assert_int_equal(read(fd, b, (size_t)st.st_size), st.st_size);
	b[st.st_size] = '\0';
	close(fd);
	*n_out = (size_t)st.st_size;
	return b;
}

struct conv_case {
	const char *name;
	const char *in;
	const char *want;
};

static const struct conv_case conv_cases[] = {
	{ "crlf", "Subject: x\r\n\r\nbody\r\n", "Subject: x\n\nbody\n" },
	{ "empty", "", "" },
	{ "lf-only", "a\nb\n", "a\nb\n" },
	{ "bare-cr-kept", "a\rb\r\n", "a\rb\n" },
	{ "trailing-cr", "a\r", "a\r" },
	{ "cr-cr-lf", "a\r\r\n", "a\r\n" },
	{ "no-final-eol", "a\r\nb", "a\nb" },
};

static void
test_convert(void **state)
{
	static const char prefix[] = "Return-Path: <s@x>\nDelivered-To: u@x\n";
	char md[128], name[MAILDIR_NAME_MAX], *got, *want;
	struct why why;
	size_t i, n, wn;
	int fd;

	(void)state;
	(void)snprintf(md, sizeof(md), "%s/a/b/Maildir", dir);
	for (i = 0; i < sizeof(conv_cases) / sizeof(conv_cases[0]); i++) {
		const struct conv_case *c = &conv_cases[i];

		fd = msg_file(c->in, strlen(c->in), 7);
		/* The maildir and its parents appear on first delivery. */
		if (maildir_deliver(md, NULL, prefix, strlen(prefix), fd, 7,
		        (off_t)strlen(c->in), name, sizeof(name), NULL,
		        &why) != 0)
			fail_msg("%s: %s", c->name, why.text);
		close(fd);
		got = slurp(md, name, &n);
		wn = strlen(prefix) + strlen(c->want);
		want = xmalloc(wn + 1);
		(void)snprintf(want, wn + 1, "%s%s", prefix, c->want);
		if (n != wn || memcmp(got, want, n) != 0)
			fail_msg("%s: got \"%s\"", c->name, got);
		free(got);
		free(want);
	}
	assert_int_equal(count(md), 3); /* cur new tmp */
	(void)snprintf(name, sizeof(name), "%s/tmp", md);
	assert_int_equal(count(name), 0);
	(void)snprintf(name, sizeof(name), "%s/new", md);
	assert_int_equal(count(name),
	    sizeof(conv_cases) / sizeof(conv_cases[0]));
}

/* A CRLF split by the copy chunk at limit-1, limit, limit+1. */
static void
test_chunk_boundary(void **state)
{
	char md[128], name[MAILDIR_NAME_MAX], *in, *got;
	struct why why;
	size_t cr, n, i;
	int fd;

	(void)state;
	(void)snprintf(md, sizeof(md), "%s/Maildir", dir);
	in = xmalloc(3 * CHUNK);
	for (cr = CHUNK - 2; cr <= CHUNK; cr++) {
		memset(in, 'a', 3 * CHUNK);
		in[cr] = '\r';
		in[cr + 1] = '\n';
		in[2 * CHUNK] = '\r'; /* bare CR right at the next boundary */
		fd = msg_file(in, 3 * CHUNK, 0);
		assert_int_equal(maildir_deliver(md, NULL, "", 0, fd, 0,
		                     3 * CHUNK, name, sizeof(name), NULL, &why),
		    0);
		close(fd);
		got = slurp(md, name, &n);
		assert_int_equal(n, 3 * CHUNK - 1);
		for (i = 0; i < n; i++) {
			char want = i == cr              ? '\n'
			            : i == 2 * CHUNK - 1 ? '\r'
			                                 : 'a';
			if (got[i] != want)
				fail_msg("cr at %zu: byte %zu", cr, i);
		}
		free(got);
	}
	free(in);
}

struct uniq {
	char md[128];
	int fd;
	int fails;
	pthread_mutex_t mtx;
};

static void *
uniq_main(void *arg)
{
	struct uniq *u = arg;
	struct why why;
	int i;

	for (i = 0; i < 50; i++)
		if (maildir_deliver(u->md, NULL, "X: y\n", 5, u->fd, 0, 4, NULL,
		        0, NULL, &why) != 0) {
			pthread_mutex_lock(&u->mtx);
			u->fails++;
			pthread_mutex_unlock(&u->mtx);
		}
	return NULL;
}

static void
test_unique_names(void **state)
{
	struct uniq u = { .mtx = PTHREAD_MUTEX_INITIALIZER };
	pthread_t t[4];
	char p[160];
	struct stat st;
	size_t i;

	(void)state;
	(void)snprintf(u.md, sizeof(u.md), "%s/Maildir", dir);
	u.fd = msg_file("hi\r\n", 4, 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, uniq_main, &u), 0);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	close(u.fd);
	assert_int_equal(u.fails, 0);
	/* O_EXCL in tmp/: a clash would have failed, not overwritten. */
	(void)snprintf(p, sizeof(p), "%s/new", u.md);
	assert_int_equal(count(p), 200);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
}

static void
touch(const char *p)
{
	int fd = open(p, O_WRONLY | O_CREAT, 0600);

	assert_true(fd >= 0);
	close(fd);
}

static void
test_failures(void **state)
{
	char p[256], md[256], *longp;
	struct why why;
	int fd;

	(void)state;
	fd = msg_file("hi\r\n", 4, 0);
	/* A file where a parent directory should be. */
	(void)snprintf(p, sizeof(p), "%s/file", dir);
	touch(p);
	(void)snprintf(md, sizeof(md), "%s/file/Maildir", dir);
	assert_int_equal(maildir_deliver(md, NULL, "", 0, fd, 0, 4, NULL, 0,
	                     NULL, &why),
	    -1);
	assert_int_equal(why.kind, WHY_TEMP);
	/* tmp/ is a file. */
	(void)snprintf(md, sizeof(md), "%s/m1", dir);
	assert_int_equal(mkdir(md, 0700), 0);
	(void)snprintf(p, sizeof(p), "%s/m1/tmp", dir);
	touch(p);
	assert_int_equal(maildir_deliver(md, NULL, "", 0, fd, 0, 4, NULL, 0,
	                     NULL, &why),
	    -1);
	assert_int_equal(why.kind, WHY_TEMP);
	/* new/ is a file. */
	(void)snprintf(md, sizeof(md), "%s/m2", dir);
	assert_int_equal(mkdir(md, 0700), 0);
	(void)snprintf(p, sizeof(p), "%s/m2/new", dir);
	touch(p);
	assert_int_equal(maildir_deliver(md, NULL, "", 0, fd, 0, 4, NULL, 0,
	                     NULL, &why),
	    -1);
	assert_int_equal(why.kind, WHY_TEMP);
	/* The spool file is shorter than the envelope says: no leftovers. */
	(void)snprintf(md, sizeof(md), "%s/m3", dir);
	assert_int_equal(maildir_deliver(md, NULL, "", 0, fd, 0, 5, NULL, 0,
	                     NULL, &why),
	    -1);
	assert_int_equal(why.kind, WHY_TEMP);
	(void)snprintf(p, sizeof(p), "%s/m3/tmp", dir);
	assert_int_equal(count(p), 0);
	(void)snprintf(p, sizeof(p), "%s/m3/new", dir);
	assert_int_equal(count(p), 0);
	/* Unreadable spool descriptor, negative offset. */
	assert_int_equal(maildir_deliver(md, NULL, "", 0, -1, 0, 4, NULL, 0,
	                     NULL, &why),
	    -1);
	assert_int_equal(why.kind, WHY_TEMP);
	assert_int_equal(maildir_deliver(md, NULL, "", 0, fd, -1, 4, NULL, 0,
	                     NULL, &why),
	    -1);
	assert_int_equal(count(p), 0);
	/* A path longer than PATH_MAX. */
	longp = xmalloc(PATH_MAX + 16);
	memset(longp, 'a', PATH_MAX + 15);
	longp[0] = '/';
	longp[PATH_MAX + 15] = '\0';
	assert_int_equal(maildir_deliver(longp, NULL, "", 0, fd, 0, 4, NULL, 0,
	                     NULL, &why),
	    -1);
	assert_int_equal(why.kind, WHY_TEMP);
	free(longp);
	close(fd);
}

/* The keyed name: ARRIVAL.T<qid>R<idx>.HOST, and what is refused. */
static void
test_key_name(void **state)
{
	static const char *const bad[] = { "", "ab/c", "a:b", "a.b", "a b",
		"a\n", "\xc3\xa9" };
	struct maildir_key key = { .qid = "0123abcdefABC",
		.idx = 3,
		.arrival = 1700000000 };
	char name[MAILDIR_NAME_MAX], qid[MAILDIR_KEY_ID_MAX + 2];
	const char *host;
	size_t i;

	(void)state;
	assert_int_equal(maildir_key_name(&key, name, sizeof(name)), 0);
	assert_memory_equal(name, "1700000000.T0123abcdefABCR3.", 28);
	host = name + 28;
	assert_true(host[0] != '\0');
	assert_null(strchr(host, '/'));
	assert_null(strchr(name, ':'));
	/* The same key, the same name: that is what makes a retry find it. */
	{
		char again[MAILDIR_NAME_MAX];

		assert_int_equal(maildir_key_name(&key, again, sizeof(again)),
		    0);
		assert_string_equal(name, again);
		key.idx = 4;
		assert_int_equal(maildir_key_name(&key, again, sizeof(again)),
		    0);
		assert_string_not_equal(name, again);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		key.qid = bad[i];
		if (maildir_key_name(&key, name, sizeof(name)) != -1)
			fail_msg("accepted qid %zu", i);
	}
	key.qid = NULL;
	assert_int_equal(maildir_key_name(&key, name, sizeof(name)), -1);
	assert_int_equal(maildir_key_name(NULL, name, sizeof(name)), -1);
	memset(qid, 'a', sizeof(qid));
	qid[MAILDIR_KEY_ID_MAX] = '\0';
	key.qid = qid;
	assert_int_equal(maildir_key_name(&key, name, sizeof(name)), 0);
	qid[MAILDIR_KEY_ID_MAX] = 'a';
	qid[MAILDIR_KEY_ID_MAX + 1] = '\0';
	assert_int_equal(maildir_key_name(&key, name, sizeof(name)), -1);
	key.qid = "abc";
	assert_int_equal(maildir_key_name(&key, name, 8), -1); /* no room */
}

static void
deliver_keyed(const char *md, const struct maildir_key *key, int fd, char *name,
    bool want_found)
{
	struct why why;
	bool found = !want_found;

	if (maildir_deliver(md, key, "X: y\n", 5, fd, 0, 4, name,
	        MAILDIR_NAME_MAX, &found, &why) != 0)
		fail_msg("deliver: %s", why.text);
	if (found != want_found)
		fail_msg("found %d, want %d", found, want_found);
}

/*
 * A keyed delivery made before a crash (the spool never heard of it) is
 * found by the retry: in new/, or in cur/ read but unflagged. Flagged in
 * cur/ it is not (documented): delivered again.
 */
static void
test_redelivery(void **state)
{
	struct maildir_key key = { .qid = "0123456789abcdef0123",
		.idx = 0,
		.arrival = 1700000000 };
	char md[128], p[512], q[512], name[MAILDIR_NAME_MAX];
	char again[MAILDIR_NAME_MAX], stale[512];
	int fd;

	(void)state;
	(void)snprintf(md, sizeof(md), "%s/Maildir", dir);
	fd = msg_file("hi\r\n", 4, 0);
	deliver_keyed(md, &key, fd, name, false);
	assert_int_equal(maildir_key_name(&key, again, sizeof(again)), 0);
	assert_string_equal(name, again);
	/* A crashed attempt's leftover in tmp/ is not in the way. */
	(void)snprintf(stale, sizeof(stale), "%s/tmp/%s", md, name);
	touch(stale);
	deliver_keyed(md, &key, fd, again, true);
	assert_string_equal(again, name);
	(void)snprintf(p, sizeof(p), "%s/new", md);
	assert_int_equal(count(p), 1);
	(void)snprintf(p, sizeof(p), "%s/tmp", md);
	assert_int_equal(count(p), 1); /* the stale one only */
	assert_int_equal(unlink(stale), 0);
	/* Another recipient of the same message: its own file. */
	key.idx = 1;
	deliver_keyed(md, &key, fd, again, false);
	assert_string_not_equal(again, name);
	(void)snprintf(p, sizeof(p), "%s/new", md);
	assert_int_equal(count(p), 2);
	/* Read by a client (moved to cur/, no flags): still found. */
	key.idx = 0;
	(void)snprintf(p, sizeof(p), "%s/new/%s", md, name);
	(void)snprintf(q, sizeof(q), "%s/cur/%s:2,", md, name);
	assert_int_equal(rename(p, q), 0);
	deliver_keyed(md, &key, fd, again, true);
	assert_memory_equal(again, name, strlen(name));
	assert_string_equal(again + strlen(name), ":2,");
	(void)snprintf(p, sizeof(p), "%s/new", md);
	assert_int_equal(count(p), 1);
	/* Flagged: not caught, delivered again under the same name. */
	(void)snprintf(p, sizeof(p), "%s/cur/%s:2,S", md, name);
	assert_int_equal(rename(q, p), 0);
	deliver_keyed(md, &key, fd, again, false);
	assert_string_equal(again, name);
	(void)snprintf(p, sizeof(p), "%s/new", md);
	assert_int_equal(count(p), 2);
	(void)snprintf(p, sizeof(p), "%s/tmp", md);
	assert_int_equal(count(p), 0);
	/* A bad queue id is refused before anything is written. */
	key.qid = "../x";
	{
		struct why why;

		assert_int_equal(maildir_deliver(md, &key, "", 0, fd, 0, 4,
		                     NULL, 0, NULL, &why),
		    -1);
		assert_int_equal(why.kind, WHY_TEMP);
	}
	close(fd);
}

/*
 * The keyed name taken by something that is not a delivery of ours (a
 * symlink, a directory, a file of another owner, planted by whoever can
 * write to the Maildir): the message is not reported delivered. It is
 * delivered under a fresh name, and nothing is written through the
 * symlink.
 */
static void
test_redelivery_planted(void **state)
{
	struct maildir_key key = { .qid = "0123456789abcdef0456",
		.idx = 0,
		.arrival = 1700000000 };
	char md[128], q[512], name[MAILDIR_NAME_MAX];
	char got[MAILDIR_NAME_MAX], target[256];
	struct stat st;
	int fd, i;

	(void)state;
	(void)snprintf(md, sizeof(md), "%s/Maildir", dir);
	(void)snprintf(target, sizeof(target), "%s/target", dir);
	fd = msg_file("hi\r\n", 4, 0);
	for (i = 0; i < 4; i++) {
		key.idx = (size_t)i;
		assert_int_equal(maildir_key_name(&key, name, sizeof(name)),
		    0);
		(void)snprintf(q, sizeof(q), "%s/new/%s", md, name);
		if (i == 0) { /* make the Maildir, then plant */
			deliver_keyed(md, &(struct maildir_key){ .qid = "aa",
			    .arrival = 1 }, fd, got, false);
			assert_int_equal(symlink(target, q), 0);
		} else if (i == 1)
			assert_int_equal(mkdir(q, 0700), 0);
		else if (i == 2) {
			if (geteuid() != 0)
				continue; /* no other owner to give it */
			touch(q);
			assert_int_equal(chown(q, 12345, 12345), 0);
		} else {
			(void)snprintf(q, sizeof(q), "%s/cur/%s:2,", md, name);
			assert_int_equal(symlink(target, q), 0);
		}
		deliver_keyed(md, &key, fd, got, false);
		/* new/ has room for the keyed name only in the cur/ case */
		if (i < 3)
			assert_string_not_equal(got, name);
		else
			assert_string_equal(got, name);
		(void)snprintf(q, sizeof(q), "%s/new/%s", md, got);
		assert_int_equal(lstat(q, &st), 0);
		assert_true(S_ISREG(st.st_mode));
		assert_int_equal(st.st_size, 5 + 3); /* "X: y\n" "hi\n" */
	}
	assert_int_equal(lstat(target, &st), -1); /* never written */
	close(fd);
}

struct grp {
	char dir[160];
	int id;
	int fails;
};

static void *
grp_main(void *arg)
{
	struct grp *g = arg;
	char p[256];
	int i, fd, dfd;

	dfd = open(g->dir, O_RDONLY | O_DIRECTORY);
	for (i = 0; i < 25; i++) {
		(void)snprintf(p, sizeof(p), "%s/f%d-%d", g->dir, g->id, i);
		fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd == -1 || write(fd, "x", 1) != 1 ||
		    syncgroup_sync(fd, dfd, true) != 0 ||
		    syncgroup_sync(dfd, dfd, false) != 0)
			g->fails++;
		if (fd != -1)
			close(fd);
	}
	close(dfd);
	return NULL;
}

/*
 * Threads syncing together on one file system: every call succeeds,
 * each is counted, and no more syncs are made than were asked for.
 */
static void
test_syncgroup(void **state)
{
	struct grp g[6];
	pthread_t t[6];
	struct syncgroup_stats a, b;
	size_t i;

	(void)state;
	syncgroup_stats(&a);
	for (i = 0; i < 6; i++) {
		(void)snprintf(g[i].dir, sizeof(g[i].dir), "%s", dir);
		g[i].id = (int)i;
		g[i].fails = 0;
		assert_int_equal(pthread_create(&t[i], NULL, grp_main, &g[i]),
		    0);
	}
	for (i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	syncgroup_stats(&b);
	for (i = 0; i < 6; i++)
		assert_int_equal(g[i].fails, 0);
	assert_int_equal(b.requests - a.requests, 6 * 25 * 2);
	assert_true(b.syncs - a.syncs >= 1);
	assert_true(b.syncs - a.syncs <= b.requests - a.requests);
	assert_true(b.syncfs - a.syncfs <= b.syncs - a.syncs);
	/* A descriptor that is not open: the error, not a hang. */
	assert_int_equal(syncgroup_sync(-1, -1, true), -1);
	assert_int_equal(errno, EBADF);
	/* One that cannot be synced (a pipe): its sync's error comes back. */
	{
		int pfd[2], dfd;

		assert_int_equal(pipe(pfd), 0);
		dfd = open(dir, O_RDONLY | O_DIRECTORY);
		assert_true(dfd >= 0);
		assert_int_equal(syncgroup_sync(pfd[0], dfd, true), -1);
		assert_int_equal(errno, EINVAL);
		close(pfd[0]);
		close(pfd[1]);
		close(dfd);
	}
}

static void
test_safe_component(void **state)
{
	static const struct {
		const char *name;
		const char *s;
		size_t n; /* 0: strlen */
		bool ok;
	} cases[] = {
		{ "plain", "alice", 0, true },
		{ "dots-inside", "a.b..c", 0, true },
		{ "utf8", "b\xc3\xbc", 0, true },
		{ "empty", "", 0, false },
		{ "dot", ".", 0, false },
		{ "dotdot", "..", 0, false },
		{ "leading-dot", ".hidden", 0, false },
		{ "slash", "a/b", 0, false },
		{ "nul", "a\0b", 3, false },
		{ "ctl", "a\x01", 0, false },
		{ "del", "a\x7f", 0, false },
		{ "lf", "a\n", 0, false },
	};
	char big[NAME_MAX + 2];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = cases[i].n ? cases[i].n : strlen(cases[i].s);

		if (local_is_safe_component(cases[i].s, n) != cases[i].ok)
			fail_msg("%s", cases[i].name);
	}
	memset(big, 'x', sizeof(big));
	assert_true(local_is_safe_component(big, NAME_MAX - 1));
	assert_true(local_is_safe_component(big, NAME_MAX));
	assert_false(local_is_safe_component(big, NAME_MAX + 1));
}

static void
test_local(void **state)
{
	static const struct {
		const char *addr;
		int rc;
		enum why_kind kind;
	} cases[] = {
		{ "alice@example.org", 0, WHY_NONE },
		{ "bob@EXAMPLE.org", 0, WHY_NONE },
		{ "carol@other.net", -1, WHY_TEMP },
		{ "..@example.org", -1, WHY_PERM },
		{ ".x@example.org", -1, WHY_PERM },
		{ "a/b@example.org", -1, WHY_PERM },
		{ "a\x01@example.org", -1, WHY_PERM },
		{ "noat", -1, WHY_PERM },
		{ "@example.org", -1, WHY_PERM },
		{ "x@", -1, WHY_PERM },
	};
	static char *domains[] = { "example.org" };
	static const char body[] = "Subject: hi\r\n\r\nhello\r\n";
	struct spool_rcpt r[sizeof(cases) / sizeof(cases[0])];
	struct sched_deliverer *d;
	struct spool_env env;
	struct conf *conf;
	struct why why;
	char p[256], name[MAILDIR_NAME_MAX], *got;
	struct dirent *de;
	size_t i, n;
	void *ctx;
	DIR *dd;
	int fd, rc;

	(void)state;
	conf = xcalloc(1, sizeof(*conf));
	conf->data_dir = dir;
	conf->domains = domains;
	conf->ndomains = 1;
	d = local_deliverer_new();
	assert_non_null(d);
	assert_string_equal(d->name, "maildir");
	ctx = d->thread_init(d->arg);
	memset(&env, 0, sizeof(env));
	env.sender = "s@x.example";
	env.rcpts = r;
	env.nrcpts = sizeof(cases) / sizeof(cases[0]);
	for (i = 0; i < env.nrcpts; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].addr = (char *)cases[i].addr;
	}
	fd = msg_file(body, strlen(body), 11);
	env.body_offset = 11;
	env.body_size = (off_t)strlen(body);
	for (i = 0; i < env.nrcpts; i++) {
		why_clear(&why);
		rc = d->deliver(ctx, conf, &env, fd, i, &why);
		if (rc != cases[i].rc || why.kind != cases[i].kind)
			fail_msg("%s: rc %d kind %d %s", cases[i].addr, rc,
			    why.kind, why.text);
	}
	close(fd);
	(void)snprintf(p, sizeof(p), "%s/mail/example.org/alice/new", dir);
	dd = opendir(p);
	assert_non_null(dd);
	while ((de = readdir(dd)) != NULL)
		if (de->d_name[0] != '.')
			(void)strlcpy(name, de->d_name, sizeof(name));
	closedir(dd);
	(void)snprintf(p, sizeof(p), "%s/mail/example.org/alice", dir);
	got = slurp(p, name, &n);
	assert_string_equal(got, "Return-Path: <s@x.example>\n"
	                         "Delivered-To: alice@example.org\n"
	                         "Subject: hi\n\nhello\n");
	free(got);
	(void)snprintf(p, sizeof(p), "%s/mail/example.org/bob/new", dir);
	assert_int_equal(count(p), 1);
	(void)snprintf(p, sizeof(p), "%s/mail", dir);
	assert_int_equal(count(p), 1); /* nothing for other.net */
	d->thread_fini(ctx);
	local_deliverer_free(d);
	free(conf);
}

/*
 * Through the local deliverer: the same queue id and recipient twice
 * (a retry after kill -9) is one file, in the inbox and in Junk alike.
 */
static void
test_local_redelivery(void **state)
{
	static char *domains[] = { "example.org" };
	static const char body[] = "Subject: hi\r\n\r\nhello\r\n";
	static const char *const box[] = { "new", ".Junk/new" };
	struct sched_deliverer *d;
	struct spool_rcpt r;
	struct spool_env env;
	struct conf *conf;
	struct why why;
	char p[512];
	size_t j, k;
	void *ctx;
	int fd;

	(void)state;
	conf = xcalloc(1, sizeof(*conf));
	conf->data_dir = dir;
	conf->domains = domains;
	conf->ndomains = 1;
	d = local_deliverer_new();
	ctx = d->thread_init(d->arg);
	fd = msg_file(body, strlen(body), 0);
	for (j = 0; j < 2; j++) {
		memset(&env, 0, sizeof(env));
		memset(&r, 0, sizeof(r));
		(void)strlcpy(env.id, "0123456789abcdef0123", sizeof(env.id));
		env.arrival = 1700000000;
		env.sender = "s@x.example";
		env.rcpts = &r;
		env.nrcpts = 1;
		env.body_size = (off_t)strlen(body);
		env.junk = j == 1;
		r.addr = "alice@example.org";
		for (k = 0; k < 3; k++) {
			why_clear(&why);
			if (d->deliver(ctx, conf, &env, fd, 0, &why) != 0)
				fail_msg("%zu/%zu: %s", j, k, why.text);
		}
		(void)snprintf(p, sizeof(p), "%s/mail/example.org/alice/%s",
		    dir, box[j]);
		assert_int_equal(count(p), 1);
	}
	close(fd);
	d->thread_fini(ctx);
	local_deliverer_free(d);
	free(conf);
}

/* mkdir -p p, mode 0700. */
static void
mkdirs(const char *p)
{
	char b[512];
	size_t i;

	(void)strlcpy(b, p, sizeof(b));
	for (i = 1; b[i] != '\0'; i++)
		if (b[i] == '/') {
			b[i] = '\0';
			(void)mkdir(b, 0700);
			b[i] = '/';
		}
	assert_true(mkdir(b, 0700) == 0 || errno == EEXIST);
}

/* The one message in maildir md/new (its Delivered-To line), or NULL. */
static char *
only_delivered_to(const char *md)
{
	char p[1024], name[MAILDIR_NAME_MAX] = "", *got, *dt, *end;
	struct dirent *de;
	size_t n;
	DIR *dd;

	(void)snprintf(p, sizeof(p), "%s/new", md);
	if ((dd = opendir(p)) == NULL)
		return NULL;
	n = 0;
	while ((de = readdir(dd)) != NULL)
		if (de->d_name[0] != '.') {
			(void)strlcpy(name, de->d_name, sizeof(name));
			n++;
		}
	closedir(dd);
	if (n != 1)
		return NULL;
	got = slurp(md, name, &n);
	(void)snprintf(p, sizeof(p), "%s/new/%s", md, name);
	(void)unlink(p); /* the next case starts empty */
	dt = strstr(got, "Delivered-To: ");
	assert_non_null(dt);
	dt += 14;
	end = strchr(dt, '\n');
	assert_non_null(end);
	*end = '\0';
	dt = xstrdup(dt);
	free(got);
	return dt;
}

/*
 * Subaddresses (issue 15): alice+news@, resolved to alice@, goes into
 * the Maildir++ folder .news when it exists (a directory, not a link;
 * a name subaddr_folder_ok() accepts), else the inbox; Delivered-To
 * keeps the address as given.
 */
static void
test_local_subaddress(void **state)
{
	static const struct {
		const char *name;
		const char *orcpt; /* for alice@example.org */
		const char *delims;
		const char *folder; /* where it lands: "" inbox */
		const char *delivered_to;
	} cases[] = {
		{ "folder", "alice+news@example.org", "+", ".news",
		    "alice+news@example.org" },
		{ "nested-folder", "alice+lists.debian@example.org", "+",
		    ".lists.debian", "alice+lists.debian@example.org" },
		{ "set", "alice-news@example.org", "+-", ".news",
		    "alice-news@example.org" },
		{ "no-folder", "alice+other@example.org", "+", "",
		    "alice+other@example.org" },
		{ "empty-detail", "alice+@example.org", "+", "",
		    "alice+@example.org" },
		{ "link", "alice+linked@example.org", "+", "",
		    "alice+linked@example.org" },
		{ "file", "alice+file@example.org", "+", "",
		    "alice+file@example.org" },
		{ "dotdot", "alice+a..b@example.org", "+", "",
		    "alice+a..b@example.org" },
		{ "amp", "alice+&x@example.org", "+", "",
		    "alice+&x@example.org" },
		{ "alias", "team+news@example.org", "+", "",
		    "alice@example.org" },
		{ "same", "alice@example.org", "+", "", "alice@example.org" },
		{ "off", "alice+news@example.org", "", "",
		    "alice@example.org" },
		{ "no-orcpt", NULL, "+", "", "alice@example.org" },
	};
	static const char *const made[] = { ".news", ".lists.debian", ".a..b",
		".&x" };
	static const char *const sub[] = { "", "/new", "/cur", "/tmp" };
	static char *domains[] = { "example.org" };
	static const char body[] = "Subject: hi\r\n\r\nhello\r\n";
	char md[256], p[512], *dt;
	struct spool_rcpt r;
	struct sched_deliverer *d;
	struct spool_env env;
	struct conf *conf;
	struct why why;
	size_t i, j;
	void *ctx;
	int fd;

	(void)state;
	(void)snprintf(md, sizeof(md), "%s/mail/example.org/alice", dir);
	for (i = 0; i < sizeof(made) / sizeof(made[0]); i++)
		for (j = 0; j < 4; j++) {
			(void)snprintf(p, sizeof(p), "%s/%s%s", md, made[i],
			    sub[j]);
			mkdirs(p);
		}
	(void)snprintf(p, sizeof(p), "%s/.linked", md);
	assert_int_equal(symlink(".news", p), 0);
	(void)snprintf(p, sizeof(p), "%s/.file", md);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);

	conf = xcalloc(1, sizeof(*conf));
	conf->data_dir = dir;
	conf->domains = domains;
	conf->ndomains = 1;
	d = local_deliverer_new();
	ctx = d->thread_init(d->arg);
	fd = msg_file(body, strlen(body), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&env, 0, sizeof(env));
		memset(&r, 0, sizeof(r));
		env.sender = "s@x.example";
		env.rcpts = &r;
		env.nrcpts = 1;
		env.body_size = (off_t)strlen(body);
		r.addr = "alice@example.org";
		r.orcpt = (char *)cases[i].orcpt;
		conf->recipient_delimiter = (char *)cases[i].delims;
		why_clear(&why);
		if (d->deliver(ctx, conf, &env, fd, 0, &why) != 0)
			fail_msg("%s: %s", cases[i].name, why.text);
		(void)snprintf(p, sizeof(p), "%s%s%s", md,
		    cases[i].folder[0] != '\0' ? "/" : "", cases[i].folder);
		dt = only_delivered_to(p);
		if (dt == NULL)
			fail_msg("%s: not in %s", cases[i].name, p);
		if (strcmp(dt, cases[i].delivered_to) != 0)
			fail_msg("%s: Delivered-To: %s, want %s", cases[i].name,
			    dt, cases[i].delivered_to);
		free(dt);
	}
	close(fd);
	/* Nothing was created beside what the user made. */
	(void)snprintf(p, sizeof(p), "%s/.other", md);
	assert_int_equal(access(p, F_OK), -1);
	(void)snprintf(p, sizeof(p), "%s/.linked", md);
	{
		struct stat st;

		assert_int_equal(lstat(p, &st), 0);
		assert_true(S_ISLNK(st.st_mode));
	}
	d->thread_fini(ctx);
	local_deliverer_free(d);
	free(conf);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_convert),
		T(test_chunk_boundary),
		T(test_unique_names),
		T(test_failures),
		T(test_key_name),
		T(test_redelivery),
		T(test_redelivery_planted),
		T(test_syncgroup),
		T(test_safe_component),
		T(test_local),
		T(test_local_subaddress),
		T(test_local_redelivery),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
