/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for auth/authres.c: the Authentication-Results writer (exact
 * output, quoting and escaping of hostile values, folding within 78
 * columns, all-or-nothing failures) and authres_claims_id().
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/authres.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define ID "mx.example.org"
#define HDR "Authentication-Results: "

/*
 * Lines end in CRLF, no bare CR or LF, each line at most `max` bytes, a
 * continuation starts with SP and has more than white space. Returns the
 * unfolded text (caller frees).
 */
static char *
check_lines(const struct buf *b, size_t max)
{
	char *u = malloc(b->len + 1);
	size_t i, start = 0, o = 0;

	assert_non_null(u);
	assert_true(b->len >= 2);
	for (i = 0; i < b->len; i++) {
		char c = (char)b->data[i];

		if (c == '\n')
			fail_msg("bare LF at %zu", i);
		if (c != '\r') {
			u[o++] = c;
			continue;
		}
		if (i + 1 >= b->len || b->data[i + 1] != '\n')
			fail_msg("bare CR at %zu", i);
		if (i - start > max)
			fail_msg("line of %zu bytes: %.*s", i - start,
			    (int)(i - start), (const char *)b->data + start);
		i++;
		start = i + 1;
		if (start < b->len) {
			if (b->data[start] != ' ')
				fail_msg("continuation without SP at %zu", i);
			if (b->data[start + 1] == '\r')
				fail_msg("white-space-only line at %zu", i);
		}
	}
	assert_int_equal(start, b->len); /* ends in CRLF */
	u[o] = 0;
	return u;
}

static char *
write_ok(const struct authres_result *r, size_t n, size_t max)
{
	struct buf b;
	char *u;

	buf_init(&b, 65536);
	if (authres_write(&b, ID, r, n) != 0)
		fail_msg("authres_write: %s", strerror(errno));
	u = check_lines(&b, max);
	/* What we write, we recognize as ours. */
	assert_true(
	    authres_claims_id(u + strlen(HDR), strlen(u) - strlen(HDR), ID));
	buf_reset(&b);
	return u;
}

static void
test_none(void **state)
{
	char *u;

	(void)state;
	u = write_ok(NULL, 0, AUTHRES_LINE_MAX);
	assert_string_equal(u, HDR ID "; none");
	free(u);
}

static void
test_exact(void **state)
{
	struct authres_result r[] = {
		{ "spf", "pass", NULL, NULL,
		    { { "smtp", "mailfrom", "a@example.com" } }, 1 },
	};
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(authres_write(&b, ID, r, 1), 0);
	assert_string_equal((char *)b.data,
	    HDR ID "; spf=pass smtp.mailfrom=a@example.com\r\n");
	buf_reset(&b);
}

static void
test_all_methods(void **state)
{
	struct authres_result r[] = {
		{ "iprev", "pass", NULL, NULL,
		    { { "smtp", "remote-ip", "192.0.2.1" } }, 1 },
		{ "spf", "pass", NULL, "sender SPF authorized",
		    { { "smtp", "mailfrom", "bounce@example.com" },
		        { "smtp", "helo", "mail.example.com" } },
		    2 },
		{ "dkim", "pass", NULL, "2048-bit key",
		    { { "header", "d", "example.com" },
		        { "header", "s", "sel1" },
		        { "header", "i", "@example.com" },
		        { "header", "a", "rsa-sha256" },
		        { "header", "b", "Ab+/9xYz" } },
		    5 },
		{ "dmarc", "pass", NULL, "p=reject",
		    { { "header", "from", "example.com" },
		        { "policy", "dmarc", "none" } },
		    2 },
		{ "arc", "none", NULL, NULL, { { 0 } }, 0 },
	};
	char *u;

	(void)state;
	u = write_ok(r, NELEM(r), AUTHRES_LINE_MAX);
	assert_string_equal(u, HDR ID
	    "; iprev=pass smtp.remote-ip=192.0.2.1;"
	    " spf=pass (sender SPF authorized)"
	    " smtp.mailfrom=bounce@example.com smtp.helo=mail.example.com;"
	    " dkim=pass (2048-bit key) header.d=example.com header.s=sel1"
	    " header.i=@example.com header.a=rsa-sha256 header.b=Ab+/9xYz;"
	    " dmarc=pass (p=reject) header.from=example.com"
	    " policy.dmarc=none; arc=none");
	free(u);
}

struct quote_case {
	const char *name;
	const char *value;
	const char *want; /* the property as written */
};

static const struct quote_case quote_cases[] = {
	{ "domain", "example.com", "smtp.helo=example.com" },
	{ "local-at-domain", "a.b+c@example.com",
	    "smtp.helo=a.b+c@example.com" },
	{ "at-domain", "@example.com", "smtp.helo=@example.com" },
	{ "literal", "[192.0.2.1]", "smtp.helo=\"[192.0.2.1]\"" },
	{ "space", "a b", "smtp.helo=\"a b\"" },
	{ "quote-backslash", "a\"b\\c", "smtp.helo=\"a\\\"b\\\\c\"" },
	{ "control", "a\r\nb\x01", "smtp.helo=\"a??b?\"" },
	{ "tab", "a\tb", "smtp.helo=\"a b\"" },
	{ "utf8",
	    "b\xc3\xbc"
	    "cher.example",
	    "smtp.helo=\"b??cher.example\"" },
	{ "semicolon", "a;b", "smtp.helo=\"a;b\"" },
	{ "paren", "a(b", "smtp.helo=\"a(b\"" },
	{ "one-label-at", "a@localhost", "smtp.helo=\"a@localhost\"" },
	{ "two-ats", "a@b@example.com", "smtp.helo=\"a@b@example.com\"" },
	{ "slash", "a/b", "smtp.helo=\"a/b\"" },
	{ "equals", "a=b", "smtp.helo=\"a=b\"" },
	{ "dot-start-local", ".a@example.com", "smtp.helo=\".a@example.com\"" },
};

static void
test_quoting(void **state)
{
	struct authres_result r = { "spf", "none", NULL, NULL,
		{ { "smtp", "helo", NULL } }, 1 };
	char want[256], *u;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(quote_cases); i++) {
		r.props[0].value = quote_cases[i].value;
		u = write_ok(&r, 1, AUTHRES_LINE_MAX);
		snprintf(want, sizeof(want), HDR ID "; spf=none %s",
		    quote_cases[i].want);
		if (strcmp(u, want) != 0)
			fail_msg("%s: %s", quote_cases[i].name, u);
		free(u);
	}
}

static void
test_reason_comment(void **state)
{
	struct authres_result r = { "spf", "fail",
		"  bad \"x\" \\ (y)\r\n\tz\x7f  ", "a (b \\ c) ) d\r\n",
		{ { 0 } }, 0 };
	char *u;

	(void)state;
	u = write_ok(&r, 1, AUTHRES_LINE_MAX);
	assert_string_equal(u, HDR ID "; spf=fail (a \\(b \\\\ c\\) \\) d)"
	                              " reason=\"bad \\\"x\\\" \\\\ (y) z?\"");
	free(u);
	/* Empty after cleaning: left out. */
	r.reason = " \r\n ";
	r.comment = "";
	u = write_ok(&r, 1, AUTHRES_LINE_MAX);
	assert_string_equal(u, HDR ID "; spf=fail");
	free(u);
}

static void
test_left_out(void **state)
{
	char big[AUTHRES_VALUE_MAX + 2];
	struct authres_result r = { "dkim", "pass", NULL, NULL,
		{ { "header", "d", "" }, { "header", "s", NULL },
		    { "header", "i", big },
		    { "header", "a", "ed25519-sha256" } },
		4 };
	char *u;

	(void)state;
	memset(big, 'a', sizeof(big));
	big[AUTHRES_VALUE_MAX + 1] = 0; /* one byte too long */
	u = write_ok(&r, 1, AUTHRES_LINE_MAX);
	assert_string_equal(u, HDR ID "; dkim=pass header.a=ed25519-sha256");
	free(u);
	/* At the limit it is written, on a line of its own. */
	big[AUTHRES_VALUE_MAX] = 0;
	u = write_ok(&r, 1, AUTHRES_LINE_HARD_MAX);
	assert_non_null(strstr(u, " header.i=aaaa"));
	free(u);
}

/* Quoted values go after the bare ones. */
static void
test_quoted_last(void **state)
{
	struct authres_result r = { "spf", "pass", NULL, NULL,
		{ { "smtp", "helo", "[192.0.2.1]" },
		    { "smtp", "mailfrom", "a@example.com" } },
		2 };
	char *u;

	(void)state;
	u = write_ok(&r, 1, AUTHRES_LINE_MAX);
	assert_string_equal(u, HDR ID "; spf=pass smtp.mailfrom=a@example.com"
	                              " smtp.helo=\"[192.0.2.1]\"");
	free(u);
}

static void
test_folding(void **state)
{
	char reason[AUTHRES_TEXT_MAX + 50];
	struct authres_result r[6];
	struct buf b;
	char *u;
	size_t i;

	(void)state;
	for (i = 0; i + 1 < sizeof(reason); i++)
		reason[i] = i % 7 == 6 ? ' ' : 'r';
	reason[i] = 0;
	for (i = 0; i < NELEM(r); i++) {
		struct authres_result x = { "dkim", "pass", reason,
			"a comment that is fairly long, with words",
			{ { "header", "d", "a-rather-long-domain.example.com" },
			    { "header", "s", "selector-2024" },
			    { "header", "b", "AbCdEfGh" } },
			3 };

		r[i] = x;
	}
	u = write_ok(r, NELEM(r), AUTHRES_LINE_MAX);
	/* Unfolding gives single spaces where the folds were. */
	assert_null(strstr(u, "  "));
	assert_non_null(strstr(u, "reason=\"rrrrrr rrrrrr"));
	free(u);
	/* Folded at all: several lines. */
	buf_init(&b, 65536);
	assert_int_equal(authres_write(&b, ID, r, NELEM(r)), 0);
	assert_non_null(strstr((char *)b.data, "\r\n "));
	buf_reset(&b);
}

static void
test_errors(void **state)
{
	struct authres_result ok = { "spf", "pass", NULL, NULL, { { 0 } }, 0 };
	struct authres_result bad[] = {
		{ "sp f", "pass", NULL, NULL, { { 0 } }, 0 },
		{ "spf", "pa;ss", NULL, NULL, { { 0 } }, 0 },
		{ NULL, "pass", NULL, NULL, { { 0 } }, 0 },
		{ "spf", "pass", NULL, NULL, { { "smtp", "mail from", "x" } },
		    1 },
		{ "spf", "pass", NULL, NULL, { { "sm.tp", "mailfrom", "x" } },
		    1 },
		{ "spf-", "pass", NULL, NULL, { { 0 } }, 0 },
		{ "spf", "pass", NULL, NULL, { { 0 } }, AUTHRES_PROPS_MAX + 1 },
	};
	static const char *bad_ids[] = { "", "a b", ".mx", "mx..example",
		"mx;example", "mx.example.", NULL };
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(buf_append_str(&b, "X: y\r\n"), 0);
	for (i = 0; i < NELEM(bad); i++) {
		errno = 0;
		if (authres_write(&b, ID, &bad[i], 1) != -1 || errno != EINVAL)
			fail_msg("bad[%zu] accepted", i);
		assert_int_equal(b.len, 6);
	}
	for (i = 0; i < NELEM(bad_ids); i++) {
		errno = 0;
		assert_int_equal(authres_write(&b, bad_ids[i], &ok, 1), -1);
		assert_int_equal(errno, EINVAL);
		assert_int_equal(b.len, 6);
	}
	buf_reset(&b);
	/* Too small a buffer: nothing written, EMSGSIZE. */
	buf_init(&b, 40);
	assert_int_equal(buf_append_str(&b, "X: y\r\n"), 0);
	errno = 0;
	assert_int_equal(authres_write(&b, ID, &ok, 1), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(b.len, 6);
	assert_string_equal((char *)b.data, "X: y\r\n");
	buf_reset(&b);
}

struct claim_case {
	const char *name;
	const char *value;
	bool want;
};

static const struct claim_case claim_cases[] = {
	{ "plain", "mx.example.org; spf=pass", true },
	{ "leading-space", " mx.example.org; none", true },
	{ "case", "MX.Example.ORG; none", true },
	{ "version", "mx.example.org 1; none", true },
	{ "comment", "(forged) mx.example.org; none", true },
	{ "nested-comment", "(a (b) \\) c) mx.example.org;", true },
	{ "folded", "\r\n\tmx.example.org;\r\n spf=pass", true },
	{ "comment-after", "mx.example.org(x); none", true },
	{ "quoted", "\"mx.example.org\"; none", true },
	{ "quoted-escaped", "\"mx.ex\\ample.org\"; none", true },
	{ "only-id", "mx.example.org", true },
	{ "malformed-rest", "mx.example.org ;;; ((", true },
	/* not ours */
	{ "other", "other.example; spf=pass", false },
	{ "suffix", "mx.example.org.evil; none", false },
	{ "prefix", "evil.mx.example.org; none", false },
	{ "shorter", "mx.example.or; none", false },
	{ "utf8-suffix", "mx.example.org\xc3\xa9; none", false },
	{ "empty", "", false },
	{ "only-comment", "(mx.example.org)", false },
	{ "unterminated-comment", "(x mx.example.org; none", false },
	{ "quoted-other", "\"mx.example.org \"; none", false },
	{ "quoted-unterminated", "\"mx.example.org", false },
	{ "in-results", "other.example; x=y (mx.example.org)", false },
};

static void
test_claims(void **state)
{
	size_t i, cut;

	(void)state;
	for (i = 0; i < NELEM(claim_cases); i++) {
		const struct claim_case *c = &claim_cases[i];
		size_t n = strlen(c->value);

		if (authres_claims_id(c->value, n, ID) != c->want)
			fail_msg("%s: got %d", c->name, !c->want);
		for (cut = 0; cut < n; cut++) {
			char *p = malloc(cut + 1);

			assert_non_null(p);
			memcpy(p, c->value, cut);
			(void)authres_claims_id(p, cut, ID);
			free(p);
		}
	}
	assert_false(authres_claims_id("x; none", 7, ""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_exact),
		cmocka_unit_test(test_all_methods),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_reason_comment),
		cmocka_unit_test(test_left_out),
		cmocka_unit_test(test_quoted_last),
		cmocka_unit_test(test_folding),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_claims),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
