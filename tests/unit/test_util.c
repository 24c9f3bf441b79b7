/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/buf.h"
#include "util/dirwatch.h"
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
