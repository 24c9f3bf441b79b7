/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/buf.h"
#include "util/dirwatch.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/str.h"
#include "util/why.h"

#include "failalloc.h"

static void
test_buf_max(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4);
	assert_int_equal(buf_append(&b, "abc", 3), 0);   /* max-1 */
	assert_int_equal(buf_append(&b, "d", 1), 0);     /* max */
	errno = 0;
	assert_int_equal(buf_append(&b, "e", 1), -1);    /* max+1 */
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "abcd", 5);
	buf_consume(&b, 2);
	assert_string_equal((char *)b.data, "cd");
	assert_int_equal(buf_printf(&b, "%d", 12), 0);
	errno = 0;
	assert_int_equal(buf_printf(&b, "%d", 3), -1);
	assert_int_equal(errno, EMSGSIZE);
	buf_reset(&b);
	assert_null(b.data);
}

/*
 * Regression: reserve() used xrealloc, which aborts, and libtern links
 * buf.c (tern.h: "never exits or aborts"). No memory is now -1 with
 * ENOMEM, told apart from over-max (EMSGSIZE), and the buffer keeps
 * what it had.
 */
static void
test_buf_nomem(void **state)
{
	char big[100];
	struct buf b;
	uint8_t *old;
	size_t cap;

	(void)state;
	memset(big, 'x', sizeof(big));
	buf_init(&b, 1 << 20);
	/* The first allocation. */
	failalloc_arm(0);
	errno = 0;
	assert_int_equal(buf_append(&b, "abc", 3), -1);
	assert_true(failalloc_disarm());
	assert_int_equal(errno, ENOMEM);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_int_equal(buf_append(&b, "abc", 3), 0);
	old = b.data;
	cap = b.cap;
	assert_true(cap < sizeof(big));
	/* A growth, by each way of appending: the old contents stay. */
	failalloc_arm(0);
	errno = 0;
	assert_int_equal(buf_append(&b, big, sizeof(big)), -1);
	assert_true(failalloc_disarm());
	assert_int_equal(errno, ENOMEM);
	failalloc_arm(0);
	errno = 0;
	assert_int_equal(buf_printf(&b, "%0100d", 7), -1);
	assert_true(failalloc_disarm());
	assert_int_equal(errno, ENOMEM);
	big[sizeof(big) - 1] = '\0';
	failalloc_arm(0);
	errno = 0;
	assert_int_equal(buf_append_str(&b, big), -1);
	assert_true(failalloc_disarm());
	assert_int_equal(errno, ENOMEM);
	assert_ptr_equal(b.data, old);
	assert_int_equal(b.cap, cap);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "abc", 4);
	/* Over max tries no allocation and says so. */
	b.max = 50;
	failalloc_arm(0);
	errno = 0;
	assert_int_equal(buf_append_str(&b, big), -1);
	assert_false(failalloc_disarm());
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(b.len, 3);
	/* Memory back: it grows as usual. */
	b.max = 1 << 20;
	assert_int_equal(buf_append_str(&b, big), 0);
	assert_int_equal(b.len, 3 + sizeof(big) - 1);
	assert_memory_equal(b.data, "abcxx", 5);
	buf_reset(&b);
}

static void
test_str_to_u64(void **state)
{
	uint64_t v;

	(void)state;
	assert_true(str_to_u64("0", 10, &v));
	assert_int_equal(v, 0);
	assert_true(str_to_u64("10", 10, &v));
	assert_false(str_to_u64("11", 10, &v));
	assert_false(str_to_u64("", 10, &v));
	assert_false(str_to_u64("1x", 10, &v));
	assert_false(str_to_u64("-1", 10, &v));
	assert_true(str_to_u64("18446744073709551615", UINT64_MAX, &v));
	assert_false(str_to_u64("18446744073709551616", UINT64_MAX, &v));
}

static void
test_str_printable(void **state)
{
	char out[8];

	(void)state;
	assert_string_equal(str_printable(out, sizeof(out), "ok 1~"), "ok 1~");
	assert_string_equal(str_printable(out, sizeof(out), "a\r\nb\tc"),
	    "a??b?c");
	assert_string_equal(str_printable(out, sizeof(out), "\x7f\xc3\xa9"),
	    "???");
	/* Cut to fit: dstsz - 1 bytes and the NUL. */
	assert_string_equal(str_printable(out, sizeof(out), "1234567890"),
	    "1234567");
	assert_string_equal(str_printable(out, 1, "abc"), "");
}

static void
test_strlcpy(void **state)
{
	char d[4];

	(void)state;
	assert_int_equal(strlcpy(d, "abcdef", sizeof(d)), 6);
	assert_string_equal(d, "abc");
	assert_int_equal(strlcat(d, "x", sizeof(d)), 4);
	assert_string_equal(d, "abc");
	assert_int_equal(ascii_casecmp("PostMaster", "postmaster"), 0);
	assert_true(ascii_only(""));
	assert_true(ascii_only("a@b.test\x7f"));
	assert_false(ascii_only("j\xc3\xb6rg@b.test"));
	assert_false(ascii_only("x\x80"));
	assert_true(ascii_casecmp("a", "b") < 0);
}

static void
test_why(void **state)
{
	struct why w;

	(void)state;
	assert_int_equal(why_set(&w, WHY_TEMP, 28, "write %s", "x"), -1);
	assert_int_equal(w.kind, WHY_TEMP);
	assert_string_equal(w.text, "write x: No space left on device");
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* An entry made before the wait, a wake, and the rescan timer. */
static void
test_dirwatch(void **state)
{
	char dir[] = "/tmp/tern-dirwatch-XXXXXX", path[64];
	struct dirwatch *w;
	double t0;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	w = dirwatch_new(dir, 10000);
	assert_true(dirwatch_has_events(w));
	(void)snprintf(path, sizeof(path), "%s/req", dir);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fclose(f), 0);
	t0 = now_s();
	dirwatch_wait(w); /* the create is pending: no 10 s wait */
	assert_true(now_s() - t0 < 5.0);
	dirwatch_wake(w);
	t0 = now_s();
	dirwatch_wait(w);
	assert_true(now_s() - t0 < 5.0);
	dirwatch_free(w);
	w = dirwatch_new(dir, 50); /* nothing happens: the timer ends it */
	t0 = now_s();
	dirwatch_wait(w);
	assert_true(now_s() - t0 >= 0.04);
	dirwatch_free(w);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	/* A directory that does not exist: the timer alone. */
	w = dirwatch_new(dir, 20);
	assert_false(dirwatch_has_events(w));
	dirwatch_wait(w);
	dirwatch_free(w);
}

/*
 * fsutil_open_private (issue 14): what root may open for writing. Each
 * case makes `name` in a fresh private directory of mode `dir_mode`.
 */
enum mk {
	MK_NONE,
	MK_FILE,
	MK_LINK,     /* to a file of ours */
	MK_DANGLING, /* to a name that does not exist: create through it */
	MK_FIFO,
	MK_DIR,
};

static const struct private_case {
	const char *name;
	mode_t dir_mode;
	enum mk mk;
	int flags;
	const char *want; /* NULL: opens; else a piece of why.text */
} private_cases[] = {
	{ "file", 0700, MK_FILE, O_WRONLY | O_APPEND, NULL },
	{ "create", 0755, MK_NONE, O_WRONLY | O_APPEND | O_CREAT, NULL },
	{ "missing", 0700, MK_NONE, O_WRONLY, "No such file" },
	{ "link", 0700, MK_LINK, O_WRONLY | O_APPEND, "symbolic link" },
	{ "dangling-link", 0700, MK_DANGLING, O_WRONLY | O_CREAT,
	    "symbolic link" },
	{ "fifo", 0700, MK_FIFO, O_WRONLY | O_APPEND, "not a regular" },
	{ "fifo-read", 0700, MK_FIFO, O_RDONLY, "not a regular" },
	{ "directory", 0700, MK_DIR, O_RDONLY, "not a regular" },
	{ "group-writable", 0770, MK_FILE, O_WRONLY, "writable by others" },
	{ "world-writable", 0777, MK_FILE, O_WRONLY, "writable by others" },
	{ "sticky-tmp", 01777, MK_FILE, O_WRONLY, "writable by others" },
	{ "other-write-only", 0702, MK_FILE, O_WRONLY, "writable by others" },
	{ "sticky-private", 01700, MK_FILE, O_WRONLY, NULL },
};

static void
test_open_private(void **state)
{
	char dir[] = "/tmp/tern-private-XXXXXX", path[128], other[128];
	struct why why;
	struct stat st;
	size_t i;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	(void)snprintf(other, sizeof(other), "%s.other", dir);
	for (i = 0; i < sizeof(private_cases) / sizeof(private_cases[0]); i++) {
		const struct private_case *c = &private_cases[i];

		(void)snprintf(path, sizeof(path), "%s/f", dir);
		assert_int_equal(chmod(dir, 0700), 0);
		(void)unlink(path);
		(void)rmdir(path);
		(void)unlink(other);
		switch (c->mk) {
		case MK_FILE:
			assert_true((fd = creat(path, 0600)) >= 0);
			(void)close(fd);
			break;
		case MK_LINK:
			assert_true((fd = creat(other, 0600)) >= 0);
			(void)close(fd);
			assert_int_equal(symlink(other, path), 0);
			break;
		case MK_DANGLING:
			assert_int_equal(symlink(other, path), 0);
			break;
		case MK_FIFO:
			assert_int_equal(mkfifo(path, 0600), 0);
			break;
		case MK_DIR:
			assert_int_equal(mkdir(path, 0700), 0);
			break;
		case MK_NONE:
			break;
		}
		assert_int_equal(chmod(dir, c->dir_mode), 0);
		why_clear(&why);
		fd = fsutil_open_private(path, c->flags, 0640, &why);
		if (c->want == NULL) {
			if (fd == -1)
				fail_msg("%s: refused: %s", c->name, why.text);
			assert_int_equal(fstat(fd, &st), 0);
			assert_true(S_ISREG(st.st_mode));
			/* O_NONBLOCK was ours, not the caller's. */
			assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
			(void)close(fd);
			continue;
		}
		if (fd != -1)
			fail_msg("%s: opened", c->name);
		if (strstr(why.text, c->want) == NULL ||
		    strstr(why.text, dir) == NULL)
			fail_msg("%s: why is \"%s\"", c->name, why.text);
		/* Nothing was made through the link. */
		if (c->mk == MK_DANGLING)
			assert_int_equal(access(other, F_OK), -1);
	}
	assert_int_equal(chmod(dir, 0700), 0);
	(void)unlink(path);
	(void)rmdir(path);
	(void)unlink(other);
	assert_int_equal(rmdir(dir), 0);

	/* Discarding is allowed; a name with no file part is not. */
	assert_true(
	    (fd = fsutil_open_private("/dev/null", O_WRONLY, 0, &why)) >= 0);
	(void)close(fd);
	assert_int_equal(fsutil_open_private("/tmp/", O_WRONLY, 0, &why), -1);
}

/* Root only: a directory someone else owns, unless they are `also`. */
static void
test_dir_is_private_owner(void **state)
{
	char dir[] = "/tmp/tern-owner-XXXXXX";
	struct why why;
	int dfd;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chown(dir, 65534, 65534), 0);
	assert_true((dfd = open(dir, O_PATH | O_DIRECTORY)) >= 0);
	assert_false(fsutil_dir_is_private(dfd, dir, (uid_t)-1, &why));
	assert_non_null(strstr(why.text, "owned by uid 65534"));
	assert_true(fsutil_dir_is_private(dfd, dir, 65534, &why));
	(void)close(dfd);
	assert_int_equal(rmdir(dir), 0);
}

/* log_open refuses a link and keeps logging where it did. */
static void
test_log_open_link(void **state)
{
	char dir[] = "/tmp/tern-log-XXXXXX", path[64], target[64];
	struct why why;
	struct stat st;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	(void)snprintf(path, sizeof(path), "%s/tern.log", dir);
	(void)snprintf(target, sizeof(target), "%s/target", dir);
	assert_true((fd = creat(target, 0600)) >= 0);
	(void)close(fd);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(log_open(path, &why), -1);
	assert_non_null(strstr(why.text, "symbolic link"));
	log_info("event=test_log_open_link");
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(log_open(path, &why), 0);
	log_info("event=test_log_open_link");
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size > 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(log_open(NULL, &why), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(unlink(target), 0);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_max),
		cmocka_unit_test(test_buf_nomem),
		cmocka_unit_test(test_str_to_u64),
		cmocka_unit_test(test_strlcpy),
		cmocka_unit_test(test_str_printable),
		cmocka_unit_test(test_why),
		cmocka_unit_test(test_dirwatch),
		cmocka_unit_test(test_open_private),
		cmocka_unit_test(test_dir_is_private_owner),
		cmocka_unit_test(test_log_open_link),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
