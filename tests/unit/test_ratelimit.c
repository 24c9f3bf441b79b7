/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for server/ratelimit.c: the bucket maths at limit-1, limit
 * and limit+1, refill over (simulated) time, the "first refusal" signal,
 * keys kept apart, eviction of idle buckets, and the table bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "server/ratelimit.h"

#define MIN_MS 60000ull
#define HOUR_MS 3600000ull

/* Take one token `times` times at `now`; how many were granted. */
static unsigned
take_n(struct ratelimit *rl, const char *key, unsigned times, uint64_t now)
{
	unsigned i, ok = 0;

	for (i = 0; i < times; i++)
		if (ratelimit_take(rl, key, 1, now, NULL) == RATELIMIT_OK)
			ok++;
	return ok;
}

struct edge_case {
	const char *name;
	uint64_t rate, burst;
	unsigned takes;   /* at one instant */
	unsigned granted; /* of them */
};

/* limit-1, limit, limit+1 for a few sizes, 1 included. */
static const struct edge_case edges[] = {
	{ "one-limit-1", 1, 1, 0, 0 },
	{ "one-limit", 1, 1, 1, 1 },
	{ "one-limit+1", 1, 1, 2, 1 },
	{ "five-limit-1", 5, 5, 4, 4 },
	{ "five-limit", 5, 5, 5, 5 },
	{ "five-limit+1", 5, 5, 6, 5 },
	{ "burst-below-rate", 100, 3, 4, 3 },
	{ "burst-above-rate", 2, 10, 11, 10 },
	{ "big-limit+1", 1000000, 1000000, 1000001, 1000000 },
};

static void
test_edges(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		const struct edge_case *c = &edges[i];
		struct ratelimit_rule r = { c->rate, MIN_MS, c->burst };
		struct ratelimit *rl = ratelimit_new(&r, 8);

		if (take_n(rl, "k", c->takes, 1000) != c->granted)
			fail_msg("%s: granted != %u", c->name, c->granted);
		ratelimit_free(rl);
	}
}

static void
test_first_refusal_and_wait(void **state)
{
	struct ratelimit_rule r = { 3, MIN_MS, 3 };
	struct ratelimit *rl = ratelimit_new(&r, 8);
	uint64_t wait = 0;

	(void)state;
	assert_int_equal(take_n(rl, "u", 3, 0), 3);
	assert_int_equal(ratelimit_take(rl, "u", 1, 0, &wait),
	    RATELIMIT_OVER_FIRST);
	assert_int_equal(wait, 20000); /* one token per 20 s */
	assert_int_equal(ratelimit_take(rl, "u", 1, 1, &wait), RATELIMIT_OVER);
	assert_int_equal(wait, 19999);
	/* A token comes back, is used: still the same episode. */
	assert_int_equal(ratelimit_take(rl, "u", 1, 20000, &wait),
	    RATELIMIT_OK);
	assert_int_equal(wait, 0);
	assert_int_equal(ratelimit_take(rl, "u", 1, 20000, NULL),
	    RATELIMIT_OVER);
	/* Only a full bucket starts a new one. */
	assert_int_equal(take_n(rl, "u", 3, 20000 + MIN_MS), 3);
	assert_int_equal(ratelimit_take(rl, "u", 1, 20000 + MIN_MS, NULL),
	    RATELIMIT_OVER_FIRST);
	/* More than the bucket can ever hold: never. */
	assert_int_equal(ratelimit_take(rl, "v", 4, 0, &wait),
	    RATELIMIT_OVER_FIRST);
	assert_true(wait == UINT64_MAX);
	assert_int_equal(take_n(rl, "v", 3, 0), 3); /* nothing was taken */
	ratelimit_free(rl);
}

static void
test_refill(void **state)
{
	struct ratelimit_rule r = { 60, MIN_MS, 60 }; /* one a second */
	struct ratelimit *rl = ratelimit_new(&r, 8);

	(void)state;
	assert_int_equal(take_n(rl, "ip", 61, 5000), 60);
	/* 999 ms: not yet; 1000 ms: exactly one. */
	assert_int_equal(take_n(rl, "ip", 1, 5999), 0);
	assert_int_equal(take_n(rl, "ip", 2, 6000), 1);
	/* 10.5 s later: ten, the half token is kept. */
	assert_int_equal(take_n(rl, "ip", 20, 16500), 10);
	assert_int_equal(take_n(rl, "ip", 1, 17000), 1);
	/* Long idle: full, never more than the burst. */
	assert_int_equal(take_n(rl, "ip", 100, 17000 + 10 * HOUR_MS), 60);
	/* A clock going back is standing still. */
	assert_int_equal(take_n(rl, "ip", 1, 1000), 0);
	ratelimit_free(rl);
}

static void
test_hourly_and_n_tokens(void **state)
{
	struct ratelimit_rule r = { 10, HOUR_MS, 10 };
	struct ratelimit *rl = ratelimit_new(&r, 8);

	(void)state;
	/* Ten recipients at once is the limit; eleven is refused whole. */
	assert_int_equal(ratelimit_take(rl, "a", 11, 0, NULL),
	    RATELIMIT_OVER_FIRST);
	assert_int_equal(ratelimit_take(rl, "a", 9, 0, NULL), RATELIMIT_OK);
	assert_int_equal(ratelimit_take(rl, "a", 2, 0, NULL), RATELIMIT_OVER);
	assert_int_equal(ratelimit_take(rl, "a", 1, 0, NULL), RATELIMIT_OK);
	/* 6 minutes give one token back. */
	assert_int_equal(take_n(rl, "a", 2, 6 * MIN_MS), 1);
	ratelimit_free(rl);
}

static void
test_keys_apart(void **state)
{
	struct ratelimit_rule r = { 2, MIN_MS, 2 };
	struct ratelimit *rl = ratelimit_new(&r, 64);
	char key[RATELIMIT_KEY_MAX + 50];

	(void)state;
	assert_int_equal(take_n(rl, "127.0.0.2", 3, 0), 2);
	assert_int_equal(take_n(rl, "127.0.0.3", 3, 0), 2);
	assert_int_equal(take_n(rl, "user:alice@example.org", 3, 0), 2);
	/* Keys past the cap share the cut prefix, and do not crash. */
	memset(key, 'x', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	assert_int_equal(take_n(rl, key, 1, 0), 1);
	key[sizeof(key) - 2] = 'y';
	assert_int_equal(take_n(rl, key, 2, 0), 1);
	assert_int_equal(ratelimit_count(rl), 4);
	ratelimit_free(rl);
}

static void
test_eviction(void **state)
{
	struct ratelimit_rule r = { 1, MIN_MS, 1 };
	struct ratelimit *rl = ratelimit_new(&r, 4);
	char key[32];
	unsigned i;

	(void)state;
	/* Four busy keys fill the table. */
	for (i = 0; i < 4; i++) {
		(void)snprintf(key, sizeof(key), "k%u", i);
		assert_int_equal(take_n(rl, key, 1, 0), 1);
	}
	assert_int_equal(ratelimit_count(rl), 4);
	/* A minute on every bucket is full again: all idle, all go. */
	assert_int_equal(take_n(rl, "new", 1, MIN_MS), 1);
	assert_int_equal(ratelimit_count(rl), 1);
	/* Never more than max: 1000 keys, each busy, at one instant. */
	for (i = 0; i < 1000; i++) {
		(void)snprintf(key, sizeof(key), "m%u", i);
		assert_int_equal(take_n(rl, key, 1, MIN_MS), 1);
		assert_true(ratelimit_count(rl) <= 4);
	}
	/* No idle bucket: the fullest goes, the emptiest stays. */
	for (i = 0; i < 3; i++) {
		(void)snprintf(key, sizeof(key), "b%u", i);
		assert_int_equal(take_n(rl, key, 1, 3 * MIN_MS), 1);
	}
	assert_int_equal(take_n(rl, "d", 1, 3 * MIN_MS + 30000), 1);
	assert_int_equal(take_n(rl, "e", 1, 3 * MIN_MS + 30000), 1);
	assert_int_equal(ratelimit_count(rl), 4);
	assert_int_equal(take_n(rl, "d", 1, 3 * MIN_MS + 30000), 0);
	assert_int_equal(take_n(rl, "e", 1, 3 * MIN_MS + 30000), 0);
	ratelimit_free(rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_first_refusal_and_wait),
		cmocka_unit_test(test_refill),
		cmocka_unit_test(test_hourly_and_n_tokens),
		cmocka_unit_test(test_keys_apart),
		cmocka_unit_test(test_eviction),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
