/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for msg/qualify.c: bare names in From, To, Cc and Reply-To
 * get "@example.test"; everything else stays byte for byte.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "msg/qualify.h"
#include "util/buf.h"

#define D "@example.test"

struct qcase {
	const char *name;
	const char *in;   /* header fields; "\r\nbody\r\n" is appended */
	const char *want; /* NULL: unchanged */
	int count;
};

static const struct qcase cases[] = {
	/* Rewritten. */
	{ "to-bare", "To: alice\r\n", "To: alice" D "\r\n", 1 },
	{ "from-bare", "From: root\r\n", "From: root" D "\r\n", 1 },
	{ "cc", "Cc: bob\r\n", "Cc: bob" D "\r\n", 1 },
	{ "reply-to", "Reply-To: ops\r\n", "Reply-To: ops" D "\r\n", 1 },
	{ "name-case", "tO: alice\r\n", "tO: alice" D "\r\n", 1 },
	{ "no-space", "To:alice\r\n", "To:alice" D "\r\n", 1 },
	{ "wsp-before-colon", "To : alice\r\n", "To : alice" D "\r\n", 1 },
	{ "list", "To: alice, bob@x.org, carol\r\n",
	    "To: alice" D ", bob@x.org, carol" D "\r\n", 2 },
	{ "angle", "To: Alice <alice>\r\n", "To: Alice <alice" D ">\r\n", 1 },
	{ "angle-only", "To: <alice>\r\n", "To: <alice" D ">\r\n", 1 },
	{ "angle-spaces", "To: < alice >\r\n", "To: < alice" D " >\r\n", 1 },
	{ "quoted-comma-name", "To: \"Smith, Alice\" <alice>, bob\r\n",
	    "To: \"Smith, Alice\" <alice" D ">, bob" D "\r\n", 2 },
	{ "quoted-angle-name", "To: \"a <b> c\" <alice>\r\n",
	    "To: \"a <b> c\" <alice" D ">\r\n", 1 },
	{ "quoted-pair-name", "To: \"a \\\" , b\" <alice>\r\n",
	    "To: \"a \\\" , b\" <alice" D ">\r\n", 1 },
	{ "comment-after", "From: root (Cron Daemon)\r\n",
	    "From: root" D " (Cron Daemon)\r\n", 1 },
	{ "comment-before", "To: (the boss) alice\r\n",
	    "To: (the boss) alice" D "\r\n", 1 },
	{ "comment-comma", "To: alice (a, b), bob\r\n",
	    "To: alice" D " (a, b), bob" D "\r\n", 2 },
	{ "comment-nested", "To: alice (a (b, c) d)\r\n",
	    "To: alice" D " (a (b, c) d)\r\n", 1 },
	{ "comment-in-angle", "To: A <(x) alice>\r\n",
	    "To: A <(x) alice" D ">\r\n", 1 },
	{ "folded", "To: alice,\r\n bob,\r\n\tcarol\r\n",
	    "To: alice" D ",\r\n bob" D ",\r\n\tcarol" D "\r\n", 3 },
	{ "folded-name", "To: Alice\r\n <alice>\r\n",
	    "To: Alice\r\n <alice" D ">\r\n", 1 },
	{ "dots", "To: first.last\r\n", "To: first.last" D "\r\n", 1 },
	{ "atext", "To: a+b-c_d\r\n", "To: a+b-c_d" D "\r\n", 1 },
	{ "utf8", "To: j\xc3\xb6rg\r\n", "To: j\xc3\xb6rg" D "\r\n", 1 },
	{ "empty-items", "To: alice,, ,bob\r\n",
	    "To: alice" D ",, ,bob" D "\r\n", 2 },
	{ "after-group", "To: team: a, b;, carol\r\n",
	    "To: team: a, b;, carol" D "\r\n", 1 },
	{ "two-fields", "To: alice\r\nSubject: hi bob\r\nCc: bob\r\n",
	    "To: alice" D "\r\nSubject: hi bob\r\nCc: bob" D "\r\n", 2 },
	{ "lf-only", "To: alice\n", "To: alice" D "\n", 1 },
	{ "local-64",
	    "To: "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "\r\n",
	    "To: "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" D
	    "\r\n",
	    1 },
	/* Left alone. */
	{ "qualified", "To: alice@x.org\r\n", NULL, 0 },
	{ "qualified-angle", "To: Alice <alice@x.org>\r\n", NULL, 0 },
	{ "other-field", "Subject: alice\r\n", NULL, 0 },
	{ "bcc", "Bcc: alice\r\n", NULL, 0 },
	{ "sender", "Sender: alice\r\n", NULL, 0 },
	{ "resent-to", "Resent-To: alice\r\n", NULL, 0 },
	{ "to-prefix", "Tox: alice\r\n", NULL, 0 },
	{ "x-to", "X-To: alice\r\n", NULL, 0 },
	{ "group", "To: team: alice, bob;\r\n", NULL, 0 },
	{ "group-empty", "To: undisclosed-recipients:;\r\n", NULL, 0 },
	{ "group-open", "To: team: alice, bob\r\n", NULL, 0 },
	{ "phrase", "To: Alice Smith\r\n", NULL, 0 },
	{ "quoted-local", "To: \"alice\"\r\n", NULL, 0 },
	{ "quoted-local-angle", "To: <\"al ice\">\r\n", NULL, 0 },
	{ "quote-open", "To: \"alice, bob\r\n", NULL, 0 },
	{ "comment-open", "To: alice (oops\r\n", NULL, 0 },
	{ "angle-open", "To: Alice <alice\r\n", NULL, 0 },
	{ "angle-route", "To: <@relay:alice>\r\n", NULL, 0 },
	{ "angle-empty", "To: <>\r\n", NULL, 0 },
	{ "angle-two-words", "To: <al ice>\r\n", NULL, 0 },
	{ "after-angle", "To: <alice> bob\r\n", NULL, 0 },
	{ "leading-dot", "To: .alice\r\n", NULL, 0 },
	{ "trailing-dot", "To: alice.\r\n", NULL, 0 },
	{ "double-dot", "To: a..b\r\n", NULL, 0 },
	{ "only-dot", "To: .\r\n", NULL, 0 },
	{ "backslash", "To: al\\ice\r\n", NULL, 0 },
	{ "literal", "To: [alice]\r\n", NULL, 0 },
	{ "at-end", "To: alice@\r\n", NULL, 0 },
	{ "local-65",
	    "To: "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "\r\n",
	    NULL, 0 },
	{ "empty", "To:\r\n", NULL, 0 },
	{ "blank", "To:   \r\n", NULL, 0 },
	{ "body-not-touched", "Subject: x\r\n", NULL, 0 },
};

static void
check(const struct qcase *c)
{
	char in[2048], want[2048];
	struct buf out;
	size_t used;
	int count;

	(void)snprintf(in, sizeof(in), "%s\r\nTo: body\r\n", c->in);
	(void)snprintf(want, sizeof(want), "%s",
	    c->want != NULL ? c->want : c->in);
	buf_init(&out, 1 << 20);
	count = msg_qualify_header((const uint8_t *)in, strlen(in),
	    "example.test", &out, &used);
	if (count != c->count)
		fail_msg("%s: count %d, want %d", c->name, count, c->count);
	/* The header is what it covers: the empty line and body follow. */
	if (used != strlen(c->in))
		fail_msg("%s: used %zu, want %zu", c->name, used,
		    strlen(c->in));
	if (out.len != strlen(want) || memcmp(out.data, want, out.len) != 0)
		fail_msg("%s: got '%.*s', want '%s'", c->name, (int)out.len,
		    (const char *)out.data, want);
	buf_reset(&out);
}

static void
test_cases(void **state)
{
	size_t i, nleft = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		check(&cases[i]);
		nleft += cases[i].want == NULL;
	}
	/* At least as many left alone as rewritten. */
	assert_true(nleft * 2 >= i);
}

/* A line may not grow past 998 bytes (RFC 5322 2.1.1): limit-1, limit, +1. */
static void
test_line_limit(void **state)
{
	char in[1200], want[1200];
	struct buf out;
	size_t used, pad, k;
	int count;

	(void)state;
	/* "To: " + comment + " alice" + "@example.test" == limit-1, limit,
	 * limit+1 bytes. */
	for (k = 0; k < 3; k++) {
		size_t target = 998 - 1 + k;
		size_t fixed = strlen("To: (") + strlen(") alice") + strlen(D);

		pad = target - fixed;
		(void)snprintf(in, sizeof(in), "To: (%0*d) alice\r\n\r\n",
		    (int)pad, 0);
		buf_init(&out, 1 << 20);
		count = msg_qualify_header((const uint8_t *)in, strlen(in),
		    "example.test", &out, &used);
		if (k < 2) {
			assert_int_equal(count, 1);
			(void)snprintf(want, sizeof(want),
			    "To: (%0*d) alice" D "\r\n", (int)pad, 0);
			assert_int_equal(out.len, strlen(want));
			assert_int_equal(out.len, target + 2);
			assert_memory_equal(out.data, want, out.len);
		} else {
			assert_int_equal(count, 0);
			assert_memory_equal(out.data, in, out.len);
		}
		buf_reset(&out);
	}
	/*
	 * Regression (fuzz_qualify): with a bare LF the insertion sits
	 * right before the line's end, and limit+1 was let through.
	 */
	for (k = 0; k < 3; k++) {
		size_t target = 998 - 1 + k;
		size_t fixed = strlen("To: (") + strlen(") alice") + strlen(D);

		pad = target - fixed;
		(void)snprintf(in, sizeof(in), "To: (%0*d) alice\n\n",
		    (int)pad, 0);
		buf_init(&out, 1 << 20);
		count = msg_qualify_header((const uint8_t *)in, strlen(in),
		    "example.test", &out, &used);
		assert_int_equal(count, k < 2 ? 1 : 0);
		assert_int_equal(out.len, strlen(in) - 1 + (k < 2 ? 13 : 0));
		buf_reset(&out);
	}
}

/* A full output buffer is -1, never a cut header. */
static void
test_out_full(void **state)
{
	static const char in[] = "To: alice, bob\r\n\r\nbody\r\n";
	struct buf out;
	size_t used;

	(void)state;
	buf_init(&out, 20); /* the copy alone needs 16, with names 42 */
	assert_int_equal(msg_qualify_header((const uint8_t *)in, strlen(in),
	                     "example.test", &out, &used),
	    -1);
	assert_int_equal(errno, EMSGSIZE);
	buf_reset(&out);
	buf_init(&out, 42);
	assert_int_equal(msg_qualify_header((const uint8_t *)in, strlen(in),
	                     "example.test", &out, &used),
	    2);
	buf_reset(&out);
	/* No domain: nothing to add. */
	buf_init(&out, 1024);
	assert_int_equal(msg_qualify_header((const uint8_t *)in, strlen(in), "",
	                     &out, &used),
	    0);
	assert_int_equal(out.len, used);
	buf_reset(&out);
}

/* Many bare names in one field: a cap, and the rest left bare. */
static void
test_many(void **state)
{
	struct buf in, out;
	size_t used, i;
	int count;

	(void)state;
	buf_init(&in, 1 << 20);
	assert_int_equal(buf_append_str(&in, "To: a"), 0);
	for (i = 1; i < 300; i++)
		assert_int_equal(buf_append_str(&in, ",\r\n a"), 0);
	assert_int_equal(buf_append_str(&in, "\r\n\r\n"), 0);
	buf_init(&out, 1 << 20);
	count = msg_qualify_header(in.data, in.len, "x.org", &out, &used);
	assert_true(count > 0 && count < 300);
	assert_int_equal(out.len, used + (size_t)count * strlen("@x.org"));
	buf_reset(&in);
	buf_reset(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_out_full),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
