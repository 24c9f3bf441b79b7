/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for deliver/dnssec_state.c (review r19): one failed DNSSEC
 * probe (a spoofed or broken answer) turns DANE off for a while, never
 * for the life of the process; DNSSEC once seen to work stays on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "deliver/dnssec_state.h"

static void
test_unavailable_expires(void **state)
{
	struct dnssec_watch w;

	(void)state;
	dnssec_watch_init(&w);
	assert_int_equal(dnssec_watch_get(&w, 100), DNSSEC_UNTESTED);
	assert_true(dnssec_watch_set(&w, DNSSEC_UNAVAILABLE, 100));
	/* Logged once: a second thread's finding is no change. */
	assert_false(dnssec_watch_set(&w, DNSSEC_UNAVAILABLE, 101));
	assert_int_equal(dnssec_watch_get(&w, 101), DNSSEC_UNAVAILABLE);
	assert_int_equal(dnssec_watch_get(&w,
	                     100 + DNSSEC_STATE_RETRY_SECS - 1),
	    DNSSEC_UNAVAILABLE);
	/* Then probed again. */
	assert_int_equal(dnssec_watch_get(&w, 100 + DNSSEC_STATE_RETRY_SECS),
	    DNSSEC_UNTESTED);
	assert_true(
	    dnssec_watch_set(&w, DNSSEC_WORKS, 100 + DNSSEC_STATE_RETRY_SECS));
	assert_int_equal(dnssec_watch_get(&w, 100 + DNSSEC_STATE_RETRY_SECS),
	    DNSSEC_WORKS);
	dnssec_watch_destroy(&w);
}

static void
test_works_stays(void **state)
{
	struct dnssec_watch w;

	(void)state;
	dnssec_watch_init(&w);
	assert_true(dnssec_watch_set(&w, DNSSEC_WORKS, 5));
	/* A thread whose probe raced the first one, or a later bad answer. */
	assert_false(dnssec_watch_set(&w, DNSSEC_UNAVAILABLE, 6));
	assert_int_equal(dnssec_watch_get(&w, 6), DNSSEC_WORKS);
	assert_int_equal(dnssec_watch_get(&w, 1000000), DNSSEC_WORKS);
	dnssec_watch_destroy(&w);
}

static void
test_late_success_wins(void **state)
{
	struct dnssec_watch w;

	(void)state;
	dnssec_watch_init(&w);
	assert_true(dnssec_watch_set(&w, DNSSEC_UNAVAILABLE, 0));
	/* A probe that was under way got a secure answer. */
	assert_true(dnssec_watch_set(&w, DNSSEC_WORKS, 1));
	assert_int_equal(dnssec_watch_get(&w, 2), DNSSEC_WORKS);
	dnssec_watch_destroy(&w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unavailable_expires),
		cmocka_unit_test(test_works_stays),
		cmocka_unit_test(test_late_success_wins),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
