/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for server/auth.c, the failed-AUTH table (issue 14): the
 * lockout at auth_max_failures - 1, at it and past it; the growing
 * delay; expiry counted from the last failure; keys per client (with
 * cidr_client_key(): IPv4 addresses apart, an IPv6 network of the
 * configured prefix together); checks in flight; a success that neither
 * counts nor clears; and the bounded table, whose eviction never gives
 * a locked key a fresh start while any unlocked entry could go instead.
 * The clock is passed in (seconds), so nothing sleeps.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "conf/conf.h"
#include "server/auth.h"
#include "util/cidr.h"

#define LOCKOUT 900

static struct authfail *
table(size_t max_failures, unsigned delay, size_t max_entries)
{
	struct conf_limits lim;

	memset(&lim, 0, sizeof(lim));
	lim.auth_max_failures = max_failures;
	lim.auth_lockout = LOCKOUT;
	lim.auth_fail_delay = delay;
	return authfail_new(&lim, max_entries);
}

#define BUSY UINT_MAX

/* authfail_begin() as one number: 0 go, BUSY, or the seconds locked. */
static unsigned
begin(struct authfail *af, const char *key, time_t now)
{
	unsigned wait = 12345;

	switch (authfail_begin(af, key, now, &wait)) {
	case AUTHFAIL_GO:
		assert_int_equal(wait, 0);
		return 0;
	case AUTHFAIL_BUSY:
		assert_int_equal(wait, 0);
		return BUSY;
	case AUTHFAIL_LOCKED:
		assert_true(wait >= 1 && wait <= LOCKOUT);
		return wait;
	}
	fail_msg("authfail_begin: unknown status");
	return 0;
}

/* One checked wrong password from key at now: its count, or 0 if refused. */
static size_t
guess(struct authfail *af, const char *key, time_t now)
{
	if (begin(af, key, now) != 0)
		return 0;
	return authfail_end(af, key, true, now);
}

/* One right password from key at now: true when it was checked. */
static bool
login(struct authfail *af, const char *key, time_t now)
{
	if (begin(af, key, now) != 0)
		return false;
	assert_int_equal(authfail_end(af, key, false, now), 0);
	return true;
}

static void
key_of(const char *ip, unsigned prefix, char *dst)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
	}
	cidr_client_key((struct sockaddr *)&ss, prefix, dst, CIDR_STR_MAX);
}

/* limit-1, limit, limit+1 for a few limits, 1 included. */
static void
test_limit_edges(void **state)
{
	static const size_t limits[] = { 1, 2, 5, 1000 };
	struct authfail *af;
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		size_t max = limits[i];

		af = table(max, 0, 16);
		/* limit-1 failures: still checked, not locked. */
		for (k = 1; k < max; k++) {
			assert_int_equal(guess(af, "192.0.2.1", 10), k);
			assert_false(authfail_is_lockout(af, k));
		}
		assert_int_equal(authfail_locked(af, "192.0.2.1", 10), 0);
		/* The limit: locked for the whole window. */
		assert_int_equal(guess(af, "192.0.2.1", 10), max);
		assert_true(authfail_is_lockout(af, max));
		assert_int_equal(authfail_locked(af, "192.0.2.1", 10), LOCKOUT);
		/* limit+1: refused before any check, nothing counted. */
		assert_int_equal(begin(af, "192.0.2.1", 11), LOCKOUT - 1);
		assert_false(login(af, "192.0.2.1", 11));
		assert_int_equal(authfail_locked(af, "192.0.2.1", 11),
		    LOCKOUT - 1);
		authfail_free(af);
	}
}

static void
test_delay(void **state)
{
	static const unsigned want1[] = { 1, 1, 2, 4, 8, 16, 16, 16 };
	struct authfail *af;
	size_t n;

	(void)state;
	af = table(5, 1, 16);
	for (n = 0; n < sizeof(want1) / sizeof(want1[0]); n++)
		assert_int_equal(authfail_delay(af, n), want1[n]);
	authfail_free(af);
	af = table(5, 3, 16);
	assert_int_equal(authfail_delay(af, 1), 3);
	assert_int_equal(authfail_delay(af, 4), 24);
	assert_int_equal(authfail_delay(af, 100), 48);
	authfail_free(af);
	af = table(5, 0, 16); /* 0s: no delay at all (tests) */
	assert_int_equal(authfail_delay(af, 1), 0);
	assert_int_equal(authfail_delay(af, 4), 0);
	authfail_free(af);
}

static void
test_expiry(void **state)
{
	struct authfail *af = table(3, 0, 16);

	(void)state;
	/* Each failure within the window of the one before: they add up. */
	assert_int_equal(guess(af, "192.0.2.1", 0), 1);
	assert_int_equal(guess(af, "192.0.2.1", LOCKOUT - 1), 2);
	assert_int_equal(guess(af, "192.0.2.1", 2 * LOCKOUT - 2), 3);
	/* Locked until LOCKOUT after the last failure, to the second. */
	assert_int_equal(authfail_locked(af, "192.0.2.1", 2 * LOCKOUT - 2),
	    LOCKOUT);
	assert_int_equal(authfail_locked(af, "192.0.2.1", 3 * LOCKOUT - 3), 1);
	assert_int_not_equal(begin(af, "192.0.2.1", 3 * LOCKOUT - 3), 0);
	assert_int_equal(authfail_locked(af, "192.0.2.1", 3 * LOCKOUT - 2), 0);
	/* Then it starts again from nothing. */
	assert_int_equal(guess(af, "192.0.2.1", 3 * LOCKOUT - 2), 1);
	/* A gap of a whole window forgets an unlocked count too. */
	assert_int_equal(guess(af, "192.0.2.1", 4 * LOCKOUT - 2), 1);
	/* A clock that goes back reads as standing still. */
	assert_int_equal(guess(af, "192.0.2.1", 4 * LOCKOUT), 2);
	assert_int_equal(guess(af, "192.0.2.1", 4 * LOCKOUT), 3);
	assert_int_equal(authfail_locked(af, "192.0.2.1", 0), LOCKOUT);
	authfail_free(af);
}

/* The failures of one client never refuse another, whatever the user. */
static void
test_per_client(void **state)
{
	struct authfail *af = table(5, 1, 64);
	char key[CIDR_STR_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < 1000; i++)
		(void)guess(af, "127.0.0.2", 100);
	assert_int_not_equal(authfail_locked(af, "127.0.0.2", 100), 0);
	/* Every other client, a neighbour included, is checked at once. */
	assert_true(login(af, "127.0.0.3", 100));
	assert_true(login(af, "127.0.0.1", 100));
	key_of("::ffff:127.0.0.3", 64, key);
	assert_true(login(af, key, 100));
	/* An IPv4 client on a dual-stack socket is the same client. */
	key_of("::ffff:127.0.0.2", 64, key);
	assert_string_equal(key, "127.0.0.2");
	assert_false(login(af, key, 100));
	/* Logging in right leaves nothing behind. */
	assert_int_equal(authfail_count(af), 1);
	authfail_free(af);
}

/* 1,000 addresses of one /64 are one client; the next /64 is another. */
static void
test_ipv6_prefix(void **state)
{
	struct authfail *af = table(5, 1, 64);
	char key[CIDR_STR_MAX], ip[INET6_ADDRSTRLEN];
	size_t i, checked = 0;

	(void)state;
	for (i = 0; i < 1000; i++) {
		(void)snprintf(ip, sizeof(ip), "2001:db8:1::%zx:%zx",
		    (i * 7919) & 0xffff, i);
		key_of(ip, 64, key);
		assert_string_equal(key, "2001:db8:1::/64");
		if (guess(af, key, 100) != 0)
			checked++;
	}
	assert_int_equal(checked, 5); /* then refused without a check */
	key_of("2001:db8:1:0:ffff:ffff:ffff:ffff", 64, key);
	assert_false(login(af, key, 100));
	key_of("2001:db8:1:1::1", 64, key);
	assert_true(login(af, key, 100));
	key_of("::1", 64, key);
	assert_true(login(af, key, 100));
	authfail_free(af);

	/* auth_ipv6_prefix = 56: the neighbouring /64s go together ... */
	af = table(5, 1, 64);
	for (i = 0; i < 5; i++) {
		(void)snprintf(ip, sizeof(ip), "2001:db8:1:%zx::1", i);
		key_of(ip, 56, key);
		assert_int_equal(guess(af, key, 100), i + 1);
	}
	key_of("2001:db8:1:ff::1", 56, key);
	assert_false(login(af, key, 100));
	/* ... and the next /56 is apart. */
	key_of("2001:db8:1:100::1", 56, key);
	assert_true(login(af, key, 100));
	authfail_free(af);

	/* = 128: every address is its own client. */
	af = table(1, 1, 64);
	key_of("2001:db8:1::1", 128, key);
	assert_int_equal(guess(af, key, 100), 1);
	assert_false(login(af, key, 100));
	key_of("2001:db8:1::2", 128, key);
	assert_true(login(af, key, 100));
	authfail_free(af);
}

/* A right password neither counts nor clears: no reset by a login. */
static void
test_success_does_not_clear(void **state)
{
	struct authfail *af = table(3, 0, 16);

	(void)state;
	assert_int_equal(guess(af, "192.0.2.1", 10), 1);
	assert_int_equal(guess(af, "192.0.2.1", 10), 2);
	assert_true(login(af, "192.0.2.1", 11));
	assert_int_equal(guess(af, "192.0.2.1", 12), 3);
	assert_int_equal(authfail_locked(af, "192.0.2.1", 12), LOCKOUT);
	authfail_free(af);
}

/* Checks in flight count: parallel sessions cannot race past the limit. */
static void
test_in_flight(void **state)
{
	struct authfail *af = table(3, 0, 16);

	(void)state;
	assert_int_equal(begin(af, "192.0.2.1", 10), 0);
	assert_int_equal(begin(af, "192.0.2.1", 10), 0);
	assert_int_equal(begin(af, "192.0.2.1", 10), 0);
	/* A fourth while three are checked: wait for a turn. */
	assert_int_equal(begin(af, "192.0.2.1", 10), BUSY);
	assert_int_equal(authfail_locked(af, "192.0.2.1", 10), 0);
	/* Another client is not held up by them. */
	assert_true(login(af, "192.0.2.2", 10));
	/* One ends right: room for one more. */
	assert_int_equal(authfail_end(af, "192.0.2.1", false, 10), 0);
	assert_int_equal(begin(af, "192.0.2.1", 10), 0);
	assert_int_equal(authfail_end(af, "192.0.2.1", true, 10), 1);
	assert_int_equal(authfail_end(af, "192.0.2.1", true, 10), 2);
	assert_int_equal(authfail_end(af, "192.0.2.1", true, 10), 3);
	assert_int_equal(authfail_locked(af, "192.0.2.1", 10), LOCKOUT);
	/* An end without a begin (its entry made room meanwhile) counts. */
	assert_int_equal(authfail_end(af, "192.0.2.3", true, 10), 1);
	assert_int_equal(authfail_end(af, "192.0.2.4", false, 10), 0);
	assert_int_equal(authfail_count(af), 2);
	authfail_free(af);
}

/*
 * A table full of fresh keys: they push each other out, never the
 * locked key, and the table never grows past its bound.
 */
static void
test_bounded_fresh_keys(void **state)
{
	struct authfail *af = table(3, 0, 8);
	char key[CIDR_STR_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++)
		(void)guess(af, "203.0.113.1", 100);
	assert_int_equal(authfail_locked(af, "203.0.113.1", 100), LOCKOUT);
	/* Two failures: more to lose than the one-failure crowd. */
	(void)guess(af, "203.0.113.2", 100);
	(void)guess(af, "203.0.113.2", 100);
	for (i = 0; i < 10000; i++) {
		(void)snprintf(key, sizeof(key), "10.%zu.%zu.%zu",
		    (i >> 16) & 255, (i >> 8) & 255, i & 255);
		assert_int_equal(guess(af, key, 101 + (time_t)(i / 100)), 1);
		assert_true(authfail_count(af) <= 8);
	}
	assert_int_equal(authfail_count(af), 8);
	assert_int_not_equal(authfail_locked(af, "203.0.113.1", 200), 0);
	assert_int_equal(guess(af, "203.0.113.2", 200), 3);
	authfail_free(af);
}

/* Expired entries go first; a lock goes only when every entry is locked. */
static void
test_bounded_all_locked(void **state)
{
	struct authfail *af = table(2, 0, 4);
	char key[CIDR_STR_MAX];
	time_t t;

	(void)state;
	for (t = 0; t < 4; t++) {
		(void)snprintf(key, sizeof(key), "192.0.2.%d", (int)t);
		(void)guess(af, key, 100 + t);
		assert_int_equal(guess(af, key, 100 + t), 2);
	}
	assert_int_equal(authfail_count(af), 4);
	/* Full of locks: a new key's first failure takes the place of the
	 * lock that ends soonest (192.0.2.0); the others hold. */
	assert_int_equal(guess(af, "192.0.2.100", 110), 1);
	assert_int_equal(authfail_count(af), 4);
	assert_int_equal(authfail_locked(af, "192.0.2.0", 110), 0);
	assert_int_not_equal(authfail_locked(af, "192.0.2.1", 110), 0);
	assert_int_not_equal(authfail_locked(af, "192.0.2.3", 110), 0);
	/* The unlocked newcomer goes before any lock. */
	assert_int_equal(guess(af, "192.0.2.101", 111), 1);
	assert_int_equal(authfail_locked(af, "192.0.2.1", 111), LOCKOUT - 10);
	assert_int_equal(guess(af, "192.0.2.100", 111), 1);
	/* Once the locks have expired, all of them make room at once. */
	assert_int_equal(guess(af, "198.51.100.1", 104 + LOCKOUT), 1);
	assert_int_equal(authfail_count(af), 2); /* with 192.0.2.100 */
	assert_int_equal(authfail_locked(af, "192.0.2.3", 104 + LOCKOUT), 0);
	authfail_free(af);
}

/* A key with a check in flight stays while anything else can go. */
static void
test_bounded_in_flight(void **state)
{
	struct authfail *af = table(2, 0, 2);

	(void)state;
	assert_int_equal(begin(af, "192.0.2.1", 10), 0);
	assert_int_equal(guess(af, "192.0.2.2", 10), 1);
	assert_int_equal(guess(af, "192.0.2.3", 11), 1); /* .2 makes room */
	assert_int_equal(authfail_count(af), 2);
	assert_int_equal(authfail_end(af, "192.0.2.1", true, 12), 1);
	assert_int_equal(guess(af, "192.0.2.1", 12), 2);
	assert_int_equal(authfail_locked(af, "192.0.2.1", 12), LOCKOUT);
	authfail_free(af);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limit_edges),
		cmocka_unit_test(test_delay),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_per_client),
		cmocka_unit_test(test_ipv6_prefix),
		cmocka_unit_test(test_success_does_not_clear),
		cmocka_unit_test(test_in_flight),
		cmocka_unit_test(test_bounded_fresh_keys),
		cmocka_unit_test(test_bounded_all_locked),
		cmocka_unit_test(test_bounded_in_flight),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
