/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for util/ttlcache.c: put and get, expiry at ttl-1, ttl and
 * ttl+1, replacement, the caps on keys and values, the bound on entries
 * (expired first, then the soonest to expire), and many keys sharing
 * chains (removal from the middle of a chain).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/ttlcache.h"

static bool
get_str(struct ttlcache *tc, const char *key, uint64_t now, char *out,
    size_t outsz)
{
	size_t len = 0;

	memset(out, 0, outsz);
	if (!ttlcache_get(tc, key, now, out, outsz - 1, &len))
		return false;
	assert_true(len < outsz);
	return true;
}

static void
test_put_get_expiry(void **state)
{
	struct ttlcache *tc = ttlcache_new(10);
	char v[32];

	(void)state;
	assert_false(get_str(tc, "a@x", 0, v, sizeof(v)));
	assert_true(ttlcache_put(tc, "a@x", "yes", 3, 1000, 500));
	assert_true(get_str(tc, "a@x", 1000, v, sizeof(v)));
	assert_string_equal(v, "yes");
	assert_true(get_str(tc, "a@x", 1499, v, sizeof(v)));  /* ttl - 1 */
	assert_false(get_str(tc, "a@x", 1500, v, sizeof(v))); /* ttl */
	assert_int_equal(ttlcache_count(tc), 0); /* dropped when seen */
	assert_false(get_str(tc, "a@x", 1501, v, sizeof(v)));
	/* Replacement: new value, new expiry. */
	assert_true(ttlcache_put(tc, "a@x", "no", 2, 2000, 100));
	assert_true(ttlcache_put(tc, "a@x", "maybe", 5, 2050, 1000));
	assert_int_equal(ttlcache_count(tc), 1);
	assert_true(get_str(tc, "a@x", 2500, v, sizeof(v)));
	assert_string_equal(v, "maybe");
	/* An empty value is a value. */
	assert_true(ttlcache_put(tc, "b@x", "", 0, 0, 10));
	assert_true(get_str(tc, "b@x", 5, v, sizeof(v)));
	assert_string_equal(v, "");
	/* A value longer than out is cut; its length is told. */
	{
		char small[3];
		size_t len;

		assert_true(
		    ttlcache_get(tc, "a@x", 2500, small, sizeof(small), &len));
		assert_int_equal(len, 5);
		assert_memory_equal(small, "may", 3);
	}
	ttlcache_free(tc);
}

static void
test_caps(void **state)
{
	struct ttlcache *tc = ttlcache_new(4);
	char key[TTLCACHE_KEY_MAX + 1], val[TTLCACHE_VALUE_MAX + 1];

	(void)state;
	memset(key, 'k', sizeof(key));
	key[TTLCACHE_KEY_MAX - 1] = '\0'; /* the longest key: cap - 1 */
	assert_true(ttlcache_put(tc, key, "v", 1, 0, 10));
	key[TTLCACHE_KEY_MAX - 1] = 'k';
	key[TTLCACHE_KEY_MAX] = '\0'; /* cap: refused */
	assert_false(ttlcache_put(tc, key, "v", 1, 0, 10));
	memset(val, 'v', sizeof(val));
	assert_true(ttlcache_put(tc, "a", val, TTLCACHE_VALUE_MAX, 0, 10));
	assert_false(ttlcache_put(tc, "b", val, TTLCACHE_VALUE_MAX + 1, 0, 10));
	assert_int_equal(ttlcache_count(tc), 2);
	/* A ttl that would overflow the clock means "for ever". */
	assert_true(ttlcache_put(tc, "c", "v", 1, 10, UINT64_MAX));
	assert_true(ttlcache_get(tc, "c", UINT64_MAX - 1, val, 1, NULL));
	ttlcache_free(tc);
}

static void
test_bound(void **state)
{
	struct ttlcache *tc = ttlcache_new(3);
	char v[8];

	(void)state;
	assert_true(ttlcache_put(tc, "a", "1", 1, 0, 100)); /* until 100 */
	assert_true(ttlcache_put(tc, "b", "2", 1, 0, 50));  /* until 50 */
	assert_true(ttlcache_put(tc, "c", "3", 1, 0, 300)); /* until 300 */
	/* Full, nothing expired: the soonest to expire (b) goes. */
	assert_true(ttlcache_put(tc, "d", "4", 1, 10, 1000));
	assert_int_equal(ttlcache_count(tc), 3);
	assert_false(get_str(tc, "b", 10, v, sizeof(v)));
	assert_true(get_str(tc, "a", 10, v, sizeof(v)));
	assert_true(get_str(tc, "c", 10, v, sizeof(v)));
	assert_true(get_str(tc, "d", 10, v, sizeof(v)));
	/* Full with expired entries (a at 100): they go first, all. */
	assert_true(ttlcache_put(tc, "e", "5", 1, 200, 1000));
	assert_false(get_str(tc, "a", 200, v, sizeof(v)));
	assert_true(get_str(tc, "c", 200, v, sizeof(v)));
	assert_true(get_str(tc, "d", 200, v, sizeof(v)));
	assert_true(get_str(tc, "e", 200, v, sizeof(v)));
	assert_string_equal(v, "5");
	ttlcache_free(tc);
}

/* Many keys in 16 heads: chains are long, removal hits their middles. */
static void
test_many(void **state)
{
	struct ttlcache *tc = ttlcache_new(16);
	char key[16], v[16];
	unsigned i, round;

	(void)state;
	for (round = 0; round < 50; round++)
		for (i = 0; i < 40; i++) {
			(void)snprintf(key, sizeof(key), "k%u", i);
			(void)snprintf(v, sizeof(v), "%u.%u", round, i);
			assert_true(ttlcache_put(tc, key, v, strlen(v) + 1,
			    round * 100 + i, 10 + (i * 7919) % 50));
			assert_true(ttlcache_count(tc) <= 16);
			/* What was just put is always there, and right. */
			assert_true(
			    get_str(tc, key, round * 100 + i, v, sizeof(v)));
			(void)snprintf(key, sizeof(key), "%u.%u", round, i);
			assert_string_equal(v, key);
		}
	ttlcache_free(tc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_expiry),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
