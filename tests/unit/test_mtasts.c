/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for deliver/mtasts.c: the _mta-sts TXT record (RFC 8461
 * 3.1), the policy file (3.2) and the MX name match (4.1), table-driven.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deliver/mtasts.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- 3.1 the TXT record ---- */

struct txt_case {
	const char *txt;
	enum mtasts_txt want;
	const char *id;
};

static const struct txt_case txt_cases[] = {
	{ "v=STSv1; id=20160831085700Z;", MTASTS_TXT_OK, "20160831085700Z" },
	{ "v=STSv1;id=abc", MTASTS_TXT_OK, "abc" },
	{ "v=STSv1 ; id=abc ; ext=1", MTASTS_TXT_OK, "abc" },
	{ "v=STSv1; ext=x=y; id=A1", MTASTS_TXT_OK, "A1" },
	{ "v=STSv1; id=12345678901234567890123456789012", MTASTS_TXT_OK,
	    "12345678901234567890123456789012" },
	/* Not an STS record at all: discarded, not an error. */
	{ "v=spf1 -all", MTASTS_TXT_OTHER, NULL },
	{ "v=STSv10; id=1", MTASTS_TXT_OTHER, NULL },
	{ "V=STSv1; id=1", MTASTS_TXT_OTHER, NULL },
	{ "", MTASTS_TXT_OTHER, NULL },
	{ "v=STSv1", MTASTS_TXT_OTHER, NULL },
	/* An STS record that does not parse. */
	{ "v=STSv1;", MTASTS_TXT_INVALID, NULL },
	{ "v=STSv1; id=", MTASTS_TXT_INVALID, NULL },
	{ "v=STSv1; id=a-b", MTASTS_TXT_INVALID, NULL },
	{ "v=STSv1; id=123456789012345678901234567890123",
	    MTASTS_TXT_INVALID, NULL },
	{ "v=STSv1; id=a; id=b", MTASTS_TXT_INVALID, NULL },
	{ "v=STSv1; junk; id=a", MTASTS_TXT_INVALID, NULL },
};

static void
test_txt(void **state)
{
	char id[MTASTS_ID_MAX + 1];
	struct why why;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(txt_cases); i++) {
		const struct txt_case *c = &txt_cases[i];
		enum mtasts_txt got;

		why_clear(&why);
		got = mtasts_txt_parse(c->txt, strlen(c->txt), id, &why);
		if (got != c->want)
			fail_msg("'%s': got %d, want %d (%s)", c->txt, got,
			    c->want, why.text);
		if (c->id != NULL)
			assert_string_equal(id, c->id);
		if (got == MTASTS_TXT_INVALID)
			assert_true(why.text[0] != '\0');
	}
}

/* ---- 3.2 the policy ---- */

struct policy_case {
	const char *name;
	const char *body;
	int want; /* 0 or -1 */
	enum mtasts_mode mode;
	uint32_t max_age;
	size_t nmx;
	const char *mx0;
};

static const struct policy_case policy_cases[] = {
	{ "rfc-example", "version: STSv1\r\nmode: enforce\r\n"
	    "mx: mail.example.com\r\nmx: *.example.net\r\n"
	    "mx: backupmx.example.com\r\nmax_age: 604800\r\n",
	    0, MTASTS_ENFORCE, 604800, 3, "mail.example.com" },
	{ "lf-only-no-final-eol", "version: STSv1\nmode: testing\n"
	    "mx: MX.Example.COM.\nmax_age: 86400", 0, MTASTS_TESTING, 86400,
	    1, "mx.example.com" },
	{ "any-order-spaces", "max_age:\t60 \nmx:   a.example\n"
	    "  mode: enforce\nversion:STSv1\n", 0, MTASTS_ENFORCE, 60, 1,
	    "a.example" },
	{ "unknown-field-ignored", "version: STSv1\nmode: none\n"
	    "max_age: 1\nfoo: bar\n", 0, MTASTS_NONE, 1, 0, NULL },
	{ "max-age-capped", "version: STSv1\nmode: none\n"
	    "max_age: 9999999999\n", 0, MTASTS_NONE, MTASTS_MAX_AGE_MAX, 0,
	    NULL },
	{ "blank-lines", "\nversion: STSv1\n\nmode: none\nmax_age: 5\n\n",
	    0, MTASTS_NONE, 5, 0, NULL },
	{ "no-version", "mode: enforce\nmx: a.example\nmax_age: 1\n", -1,
	    MTASTS_NONE, 0, 0, NULL },
	{ "wrong-version", "version: STSv2\nmode: enforce\nmx: a.example\n"
	    "max_age: 1\n", -1, MTASTS_NONE, 0, 0, NULL },
	{ "bad-mode", "version: STSv1\nmode: Enforce\nmx: a.example\n"
	    "max_age: 1\n", -1, MTASTS_NONE, 0, 0, NULL },
	{ "two-modes", "version: STSv1\nmode: testing\nmode: enforce\n"
	    "mx: a.example\nmax_age: 1\n", -1, MTASTS_NONE, 0, 0, NULL },
	{ "enforce-without-mx", "version: STSv1\nmode: enforce\n"
	    "max_age: 1\n", -1, MTASTS_NONE, 0, 0, NULL },
	{ "max-age-not-digits", "version: STSv1\nmode: none\n"
	    "max_age: -1\n", -1, MTASTS_NONE, 0, 0, NULL },
	{ "max-age-11-digits", "version: STSv1\nmode: none\n"
	    "max_age: 12345678901\n", -1, MTASTS_NONE, 0, 0, NULL },
	{ "no-max-age", "version: STSv1\nmode: none\n", -1, MTASTS_NONE, 0,
	    0, NULL },
	{ "mx-not-a-host", "version: STSv1\nmode: enforce\n"
	    "mx: a b.example\nmax_age: 1\n", -1, MTASTS_NONE, 0, 0, NULL },
	{ "mx-bad-wildcard", "version: STSv1\nmode: enforce\n"
	    "mx: a.*.example\nmax_age: 1\n", -1, MTASTS_NONE, 0, 0, NULL },
	{ "mx-bare-star", "version: STSv1\nmode: enforce\nmx: *\n"
	    "max_age: 1\n", -1, MTASTS_NONE, 0, 0, NULL },
	{ "line-without-colon", "version: STSv1\nmode none\n", -1,
	    MTASTS_NONE, 0, 0, NULL },
	{ "html-error-page", "<html><body>Not found</body></html>\n", -1,
	    MTASTS_NONE, 0, 0, NULL },
};

static void
test_policy(void **state)
{
	struct mtasts_policy pol;
	struct why why;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(policy_cases); i++) {
		const struct policy_case *c = &policy_cases[i];
		int got;

		why_clear(&why);
		got = mtasts_policy_parse(c->body, strlen(c->body), &pol, &why);
		if (got != c->want)
			fail_msg("%s: got %d (%s)", c->name, got, why.text);
		if (got == -1) {
			assert_true(why.text[0] != '\0');
			assert_int_equal(pol.nmx, 0);
			continue;
		}
		assert_int_equal(pol.mode, c->mode);
		assert_int_equal(pol.max_age, c->max_age);
		assert_int_equal(pol.nmx, c->nmx);
		if (c->mx0 != NULL)
			assert_string_equal(pol.mx[0], c->mx0);
	}
}

/* The limits: a body over MTASTS_POLICY_MAX, a NUL, too many patterns. */
static void
test_policy_limits(void **state)
{
	static const char head[] = "version: STSv1\nmode: enforce\n"
	                           "max_age: 1\n";
	struct mtasts_policy pol;
	struct why why;
	char *big;
	size_t n, i;

	(void)state;
	big = malloc(MTASTS_POLICY_MAX + 2);
	assert_non_null(big);
	memset(big, '\n', MTASTS_POLICY_MAX + 1);
	memcpy(big, head, sizeof(head) - 1);
	memcpy(big + sizeof(head) - 1, "mx: a.example\n", 14);
	assert_int_equal(mtasts_policy_parse(big, MTASTS_POLICY_MAX, &pol,
	    &why), 0);
	assert_int_equal(mtasts_policy_parse(big, MTASTS_POLICY_MAX + 1,
	    &pol, &why), -1);
	assert_non_null(strstr(why.text, "bytes"));

	n = (size_t)snprintf(big, MTASTS_POLICY_MAX, "%s", head);
	for (i = 0; i <= MTASTS_MX_MAX; i++)
		n += (size_t)snprintf(big + n, MTASTS_POLICY_MAX - n,
		    "mx: m%zu.example\n", i);
	assert_int_equal(mtasts_policy_parse(big, n, &pol, &why), -1);
	assert_non_null(strstr(why.text, "more than"));

	memcpy(big, head, sizeof(head) - 1);
	memcpy(big + sizeof(head) - 1, "mx: a.example\0\n", 15);
	assert_int_equal(mtasts_policy_parse(big, sizeof(head) - 1 + 15,
	    &pol, &why), -1);
	free(big);
}

/* ---- 4.1 matching ---- */

struct match_case {
	const char *pattern, *host;
	bool want;
};

static const struct match_case match_cases[] = {
	{ "mail.example.com", "mail.example.com", true },
	{ "mail.example.com", "MAIL.Example.com.", true },
	{ "mail.example.com.", "mail.example.com", true },
	{ "mail.example.com", "mail.example.co", false },
	{ "mail.example.com", "xmail.example.com", false },
	{ "*.example.com", "mx.example.com", true },
	{ "*.example.com", "MX.EXAMPLE.COM", true },
	{ "*.example.com", "example.com", false },
	{ "*.example.com", "a.mx.example.com", false },
	{ "*.example.com", ".example.com", false },
	{ "*.example.com", "mx.example.net", false },
	{ "*.example.com", "mx.badexample.com", false },
	{ "", "a", false },
	{ "a", "", false },
};

static void
test_match(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(match_cases); i++) {
		const struct match_case *c = &match_cases[i];

		if (mtasts_name_match(c->pattern, c->host) != c->want)
			fail_msg("'%s' vs '%s': want %d", c->pattern, c->host,
			    c->want);
	}
}

static void
test_mx_allowed(void **state)
{
	static const char body[] = "version: STSv1\nmode: enforce\n"
	                           "mx: mx1.example.org\nmx: *.mail.example\n"
	                           "max_age: 86400\n";
	struct mtasts_policy pol;
	struct why why;

	(void)state;
	assert_int_equal(mtasts_policy_parse(body, sizeof(body) - 1, &pol,
	    &why), 0);
	assert_true(mtasts_mx_allowed(&pol, "mx1.example.org"));
	assert_true(mtasts_mx_allowed(&pol, "b.mail.example"));
	assert_false(mtasts_mx_allowed(&pol, "mx2.example.org"));
	assert_false(mtasts_mx_allowed(&pol, "mail.example"));
	assert_string_equal(mtasts_mode_name(pol.mode), "enforce");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_txt),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_policy_limits),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_mx_allowed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
