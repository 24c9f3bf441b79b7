/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for deliver/mtasts_cache.c: the cache file's format and
 * parser (every limit at -1, at, +1; every proper prefix refused), the
 * name check, the decision of RFC 8461 5.1, and the fd-relative load
 * and atomic store (links refused, a damaged file is an error, not a
 * policy).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deliver/mtasts_cache.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define POLICY                                                                 \
	"version: STSv1\nmode: enforce\nmx: mx.example.test\n"                 \
	"max_age: 600\n"

/* ---- names ---- */

static void
test_names(void **state)
{
	static const struct {
		const char *name;
		bool ok;
	} cases[] = {
		{ "example.test", true },
		{ "a", true },
		{ "xn--bcher-kva.example", true },
		{ "_x.example", true },
		{ "", false },
		{ ".", false },
		{ "..", false },
		{ ".hidden", false },
		{ ".tmp.1.2", false },
		{ "a..b", false },
		{ "trailing.", false },
		{ "a/b", false },
		{ "../etc", false },
		{ "a b", false },
		{ "caf\xc3\xa9.example", false },
	};
	char big[300];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++)
		if (mtasts_cache_name_ok(cases[i].name) != cases[i].ok)
			fail_msg("name %s", cases[i].name);
	/* 253 is the limit; 254 is not a domain. */
	memset(big, 'a', sizeof(big));
	big[253] = '\0';
	assert_true(mtasts_cache_name_ok(big));
	big[252] = '\0';
	assert_true(mtasts_cache_name_ok(big));
	big[252] = 'a';
	big[253] = 'a';
	big[254] = '\0';
	assert_false(mtasts_cache_name_ok(big));
}

/* ---- format and parse ---- */

static void
test_roundtrip(void **state)
{
	struct mtasts_cache_entry e;
	struct why why;
	struct buf b;

	(void)state;
	buf_init(&b, MTASTS_CACHE_FILE_MAX);
	assert_int_equal(mtasts_cache_format("abc123", 1700000000, POLICY,
	                     strlen(POLICY), &b, &why),
	    0);
	assert_string_equal((const char *)b.data,
	    "tern-mta-sts 1\nid: abc123\nfetched: 1700000000\n\n" POLICY);
	assert_int_equal(mtasts_cache_parse((const char *)b.data, b.len, &e,
	                     &why),
	    0);
	assert_string_equal(e.id, "abc123");
	assert_int_equal(e.fetched, 1700000000);
	assert_int_equal(e.policy.mode, MTASTS_ENFORCE);
	assert_int_equal(e.policy.max_age, 600);
	assert_int_equal(e.policy.nmx, 1);
	assert_string_equal(e.policy.mx[0], "mx.example.test");
	buf_reset(&b);
}

static void
test_format_limits(void **state)
{
	char *body = malloc(MTASTS_POLICY_MAX + 1);
	char id[MTASTS_ID_MAX + 2];
	struct why why;
	struct buf b;

	(void)state;
	assert_non_null(body);
	memset(body, '#', MTASTS_POLICY_MAX + 1);
	buf_init(&b, MTASTS_CACHE_FILE_MAX);
	memset(id, 'a', sizeof(id));
	id[MTASTS_ID_MAX] = '\0';
	/* The body at the limit fits, one more byte does not. */
	assert_int_equal(mtasts_cache_format(id, 1, body, MTASTS_POLICY_MAX, &b,
	                     &why),
	    0);
	assert_true(b.len <= MTASTS_CACHE_FILE_MAX);
	assert_int_equal(mtasts_cache_format(id, 1, body, MTASTS_POLICY_MAX + 1,
	                     &b, &why),
	    -1);
	/* The id: 32 letters or digits, not 33, not empty, not "-". */
	id[MTASTS_ID_MAX] = 'a';
	id[MTASTS_ID_MAX + 1] = '\0';
	assert_int_equal(mtasts_cache_format(id, 1, POLICY, 10, &b, &why), -1);
	assert_int_equal(mtasts_cache_format("", 1, POLICY, 10, &b, &why), -1);
	assert_int_equal(mtasts_cache_format("a-b", 1, POLICY, 10, &b, &why),
	    -1);
	assert_int_equal(mtasts_cache_format("a\nfetched: 9", 1, POLICY, 10, &b,
	                     &why),
	    -1);
	assert_int_equal(mtasts_cache_format("a", -1, POLICY, 10, &b, &why),
	    -1);
	buf_reset(&b);
	free(body);
}

struct parse_case {
	const char *name;
	const char *text;
	int want;
};

#define HEAD "tern-mta-sts 1\nid: X1\nfetched: 100\n\n"

static const struct parse_case parse_cases[] = {
	{ "good", HEAD POLICY, 0 },
	{ "crlf-policy",
	    HEAD "version: STSv1\r\nmode: testing\r\nmx: a.b\r\nmax_age: 5\r\n",
	    0 },
	{ "fetched-18-digits",
	    "tern-mta-sts 1\nid: X1\nfetched: 123456789012345678\n\n" POLICY,
	    0 },
	{ "fetched-19-digits",
	    "tern-mta-sts 1\nid: X1\nfetched: 1234567890123456789\n\n" POLICY,
	    -1 },
	{ "id-32",
	    "tern-mta-sts 1\nid: 12345678901234567890123456789012\n"
	    "fetched: 1\n\n" POLICY,
	    0 },
	{ "id-33",
	    "tern-mta-sts 1\nid: 123456789012345678901234567890123\n"
	    "fetched: 1\n\n" POLICY,
	    -1 },
	{ "empty", "", -1 },
	{ "magic-2", "tern-mta-sts 2\nid: X1\nfetched: 100\n\n" POLICY, -1 },
	{ "no-id", "tern-mta-sts 1\nfetched: 100\n\n" POLICY, -1 },
	{ "empty-id", "tern-mta-sts 1\nid: \nfetched: 100\n\n" POLICY, -1 },
	{ "bad-id", "tern-mta-sts 1\nid: a.b\nfetched: 100\n\n" POLICY, -1 },
	{ "id-no-space", "tern-mta-sts 1\nid:X1\nfetched: 100\n\n" POLICY, -1 },
	{ "negative-time", "tern-mta-sts 1\nid: X1\nfetched: -5\n\n" POLICY,
	    -1 },
	{ "empty-time", "tern-mta-sts 1\nid: X1\nfetched: \n\n" POLICY, -1 },
	{ "order", "tern-mta-sts 1\nfetched: 100\nid: X1\n\n" POLICY, -1 },
	{ "no-blank", "tern-mta-sts 1\nid: X1\nfetched: 100\n" POLICY, -1 },
	{ "bad-policy", HEAD "version: STSv1\nmode: enforce\nmax_age: 600\n",
	    -1 },
	{ "empty-policy", HEAD, -1 },
};

static void
test_parse(void **state)
{
	struct mtasts_cache_entry e;
	struct why why;
	size_t i, n, cut;

	(void)state;
	for (i = 0; i < NELEM(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];

		n = strlen(c->text);
		if (mtasts_cache_parse(c->text, n, &e, &why) != c->want)
			fail_msg("%s: want %d (%s)", c->name, c->want,
			    why.text);
		/* A file cut short never yields a policy. */
		for (cut = 0; c->want == 0 && cut < strlen(HEAD); cut++)
			if (mtasts_cache_parse(c->text, cut, &e, &why) != -1)
				fail_msg("%s: prefix %zu", c->name, cut);
	}
}

static void
test_parse_size(void **state)
{
	size_t n = MTASTS_CACHE_FILE_MAX + 1;
	char *p = malloc(n);
	struct mtasts_cache_entry e;
	struct why why;

	(void)state;
	assert_non_null(p);
	memset(p, '#', n);
	memcpy(p, HEAD, strlen(HEAD));
	assert_int_equal(mtasts_cache_parse(p, n, &e, &why), -1);
	/* A policy body of MTASTS_POLICY_MAX + 1 bytes is refused too. */
	assert_int_equal(mtasts_cache_parse(p,
	                     strlen(HEAD) + MTASTS_POLICY_MAX + 1, &e, &why),
	    -1);
	free(p);
}

/* ---- the decision (RFC 8461 5.1) ---- */

static struct mtasts_cache_entry
entry(const char *id, int64_t fetched, uint32_t max_age)
{
	struct mtasts_cache_entry e;

	memset(&e, 0, sizeof(e));
	(void)snprintf(e.id, sizeof(e.id), "%s", id);
	e.fetched = fetched;
	e.policy.mode = MTASTS_ENFORCE;
	e.policy.max_age = max_age;
	return e;
}

static void
test_decide(void **state)
{
	struct mtasts_cache_entry valid = entry("A", 1000, 100);
	int64_t now = 1050;

	(void)state;
	/* Nothing cached: fetch when there is a record, else none. */
	assert_int_equal(mtasts_cache_decide(NULL, "A", now), MTASTS_FETCH);
	assert_int_equal(mtasts_cache_decide(NULL, NULL, now), MTASTS_USE_NONE);
	/* Same id, not expired: the cache. */
	assert_int_equal(mtasts_cache_decide(&valid, "A", now),
	    MTASTS_USE_CACHED);
	/* A changed id: fetch. */
	assert_int_equal(mtasts_cache_decide(&valid, "B", now), MTASTS_FETCH);
	/* The record is gone: the cache while valid. */
	assert_int_equal(mtasts_cache_decide(&valid, NULL, now),
	    MTASTS_USE_CACHED);
	/* max_age: valid up to fetched + max_age - 1, expired at it. */
	assert_int_equal(mtasts_cache_decide(&valid, "A", 1099),
	    MTASTS_USE_CACHED);
	assert_int_equal(mtasts_cache_decide(&valid, "A", 1100), MTASTS_FETCH);
	assert_int_equal(mtasts_cache_decide(&valid, "A", 1101), MTASTS_FETCH);
	assert_int_equal(mtasts_cache_decide(&valid, NULL, 1100),
	    MTASTS_USE_NONE);
	/* A fetch time in the future: expired (fetched again). */
	assert_int_equal(mtasts_cache_decide(&valid, "A", 999), MTASTS_FETCH);
	/* max_age 0: never valid. */
	valid.policy.max_age = 0;
	assert_int_equal(mtasts_cache_decide(&valid, "A", 1000), MTASTS_FETCH);
	/* A failed fetch keeps a valid policy only. */
	valid = entry("A", 1000, 100);
	assert_true(mtasts_cache_on_failure(&valid, 1099));
	assert_false(mtasts_cache_on_failure(&valid, 1100));
	assert_false(mtasts_cache_on_failure(NULL, 1000));
}

/* ---- load and store ---- */

static void
test_store_load(void **state)
{
	char dir[] = "/tmp/test_mtasts_cache.XXXXXX";
	struct mtasts_cache_entry e;
	struct why why;
	int dfd, fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd != -1);
	assert_int_equal(mtasts_cache_load(dfd, "example.test", &e, &why), 0);
	assert_int_equal(mtasts_cache_store(dfd, "example.test", "id1", 42,
	                     POLICY, strlen(POLICY), &why),
	    0);
	assert_int_equal(mtasts_cache_load(dfd, "example.test", &e, &why), 1);
	assert_string_equal(e.id, "id1");
	assert_int_equal(e.fetched, 42);
	/* Replaced whole, no temporary file left behind. */
	assert_int_equal(mtasts_cache_store(dfd, "example.test", "id2", 43,
	                     POLICY, strlen(POLICY), &why),
	    0);
	assert_int_equal(mtasts_cache_load(dfd, "example.test", &e, &why), 1);
	assert_string_equal(e.id, "id2");
	/* Names that are no domain never reach the file system. */
	assert_int_equal(mtasts_cache_store(dfd, "../x", "id", 1, POLICY,
	                     strlen(POLICY), &why),
	    -1);
	assert_int_equal(mtasts_cache_load(dfd, "..", &e, &why), -1);
	/* A link is refused, even to a good file. */
	assert_int_equal(symlinkat("example.test", dfd, "link.test"), 0);
	assert_int_equal(mtasts_cache_load(dfd, "link.test", &e, &why), -1);
	/* A damaged file is an error, not a policy. */
	fd = openat(dfd, "bad.test", O_WRONLY | O_CREAT, 0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, "tern-mta-sts 1\nid: x\n", 21), 21);
	(void)close(fd);
	assert_int_equal(mtasts_cache_load(dfd, "bad.test", &e, &why), -1);
	/* A directory is not a cache file. */
	assert_int_equal(mkdirat(dfd, "dir.test", 0700), 0);
	assert_int_equal(mtasts_cache_load(dfd, "dir.test", &e, &why), -1);
	(void)unlinkat(dfd, "example.test", 0);
	(void)unlinkat(dfd, "link.test", 0);
	(void)unlinkat(dfd, "bad.test", 0);
	(void)unlinkat(dfd, "dir.test", AT_REMOVEDIR);
	(void)close(dfd);
	assert_int_equal(rmdir(dir), 0); /* empty: no temporary left */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_format_limits),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_store_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
