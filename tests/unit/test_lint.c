/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for msg/lint.c: for each rule a message that shows it and
 * one that does not (the exact list of problems is checked, so a rule
 * that fires where it should not fails too); details are printable
 * ASCII and say where; max and NULL out are honoured.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "msg/lint.h"
#include "util/buf.h"

#define DATE "Date: Fri, 4 Dec 2026 23:30:00 +0000\r\n"
#define MID "Message-ID: <1@x.example>\r\n"
#define FROM "From: a@x.example\r\n"
#define REST "To: b@y.example\r\nSubject: hi\r\n"
#define GOOD_HDR DATE MID FROM REST
#define BODY "\r\nbody\r\n"
#define ALT                                                                    \
	"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n"       \
	"Content-Type: text/plain\r\n\r\nhi\r\n--b\r\n"                        \
	"Content-Type: text/html\r\n\r\n<p>hi</p>\r\n--b--\r\n"

struct lcase {
	const char *name;
	const char *msg;
	size_t nrcpt;
	const char *want[3]; /* the rules found, in order; NULL ends */
	const char *detail;  /* a substring of the first one's detail */
};

static const struct lcase cases[] = {
	{ "clean", GOOD_HDR BODY, 1, { NULL }, NULL },
	{ "clean-alternative", GOOD_HDR ALT, 1, { NULL }, NULL },

	{ "no-date", MID FROM REST BODY, 1, { "no-date" }, "Date" },
	{ "date-any-case", "dAtE: x\r\n" MID FROM REST BODY, 1, { NULL },
	    NULL },
	{ "no-message-id", DATE FROM REST BODY, 1, { "no-message-id" },
	    "Message-ID" },
	{ "message-id-in-body-only", DATE FROM REST "\r\n" MID, 1,
	    { "no-message-id" }, NULL },
	{ "no-from", DATE MID REST BODY, 1, { "no-from" }, "From" },
	{ "several-from", DATE MID FROM FROM REST BODY, 1, { "several-from" },
	    "lines 3 and 4" },

	{ "bare-lf", GOOD_HDR "\r\nline\nline\r\n", 1, { "bare-lf" },
	    "line 7 " },
	{ "bare-lf-all", "Date: x\nMessage-ID: <a@b>\nFrom: a@b\n\nx\n", 1,
	    { "bare-lf" }, "line 1 ends in LF without CR (5 such" },
	{ "bare-cr", GOOD_HDR "\r\nli\rne\r\n", 1, { "bare-cr" }, "line 7 " },
	{ "bare-cr-at-end", GOOD_HDR "\r\nline\r", 1, { "bare-cr" }, NULL },
	{ "crlf-is-not-bare", GOOD_HDR "\r\n\r\n\r\n", 1, { NULL }, NULL },

	{ "8bit-header", DATE MID FROM "Subject: caf\xc3\xa9\r\n" BODY, 1,
	    { "8bit-header" }, "field Subject (line 4)" },
	{ "8bit-name-escaped", DATE MID FROM "Subj\\ct: \xe9\r\n" BODY, 1,
	    { "8bit-header" }, "field Subj\\x5cct (line 4)" },
	{ "8bit-part-header",
	    DATE MID FROM
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain; name=caf\xc3\xa9\r\n\r\n"
	    "x\r\n--b--\r\n",
	    1, { "8bit-header" }, "part 1" },
	{ "8bit-body-only", GOOD_HDR "\r\ncaf\xc3\xa9\r\n", 1, { NULL }, NULL },
	{ "encoded-word-header",
	    DATE MID FROM "Subject: =?UTF-8?Q?caf=C3=A9?=\r\n" BODY, 1,
	    { NULL }, NULL },

	{ "unclosed-multipart",
	    GOOD_HDR "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	             "--b\r\n\r\nx\r\n",
	    1, { "unclosed-multipart" }, "part 0 (multipart/mixed, line 1)" },
	{ "unclosed-nested",
	    GOOD_HDR "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	             "--b\r\nContent-Type: multipart/alternative; boundary=c"
	             "\r\n\r\n--c\r\n\r\nx\r\n--b--\r\n",
	    1, { "unclosed-multipart" }, "part 1 (multipart/alternative" },
	{ "closed-multipart",
	    GOOD_HDR "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	             "--b\r\n\r\nx\r\n--b--\r\n",
	    1, { NULL }, NULL },

	{ "html-without-text", GOOD_HDR "Content-Type: text/html\r\n" BODY, 1,
	    { "html-without-text" }, "part 0 is text/html" },
	{ "html-and-attached-text",
	    GOOD_HDR "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	             "--b\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b\r\n"
	             "Content-Type: text/plain\r\n"
	             "Content-Disposition: attachment; filename=a.txt\r\n\r\n"
	             "x\r\n--b--\r\n",
	    1, { "html-without-text" }, "part 1 is text/html" },
	{ "html-with-text", GOOD_HDR ALT, 1, { NULL }, NULL },
	{ "html-attachment-only",
	    GOOD_HDR "Content-Type: text/html\r\n"
	             "Content-Disposition: attachment\r\n" BODY,
	    1, { NULL }, NULL },

	{ "bulk-rcpts", GOOD_HDR BODY, 10, { "no-list-unsubscribe" },
	    "10 recipients" },
	{ "not-bulk-9", GOOD_HDR BODY, 9, { NULL }, NULL },
	{ "bulk-precedence", GOOD_HDR "Precedence: Bulk \r\n" BODY, 1,
	    { "no-list-unsubscribe" }, "Precedence" },
	{ "precedence-junk", GOOD_HDR "Precedence: junk\r\n" BODY, 1, { NULL },
	    NULL },
	{ "bulk-list-id", GOOD_HDR "List-Id: <l.x.example>\r\n" BODY, 1,
	    { "no-list-unsubscribe" }, "List-Id" },
	{ "bulk-mailto-unsub",
	    GOOD_HDR "List-Unsubscribe: <mailto:u@x.example>\r\n" BODY, 20,
	    { NULL }, NULL },

	{ "https-without-post",
	    GOOD_HDR "List-Unsubscribe: <https://x.example/u?1>\r\n" BODY, 10,
	    { "list-unsubscribe-post-missing" }, "10 recipients" },
	{ "https-wrong-post",
	    GOOD_HDR "List-Unsubscribe: <https://x.example/u?1>\r\n"
	             "List-Unsubscribe-Post: List-Unsubscribe=Yes\r\n" BODY,
	    10, { "list-unsubscribe-post-missing" }, NULL },
	{ "https-with-post",
	    GOOD_HDR
	    "List-Unsubscribe: <mailto:u@x.example>,\r\n"
	    " <https://x.example/u?1>\r\n"
	    "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" BODY,
	    10, { NULL }, NULL },
	{ "https-not-bulk",
	    GOOD_HDR "List-Unsubscribe: <https://x.example/u?1>\r\n" BODY, 1,
	    { NULL }, NULL },

	{ "empty", "", 0, { "no-date", "no-message-id", "no-from" }, NULL },
	{ "several", FROM "Content-Type: text/html\r\n\r\nx\ny\r\n", 12,
	    { "no-date", "no-message-id", "bare-lf" }, NULL },
};

static bool
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

static void
check(const char *name, const char *msg, size_t len, size_t nrcpt,
    const char *const *want, const char *detail)
{
	struct lint_problem p[LINT_RULES];
	size_t n, k, nwant = 0;

	while (nwant < 3 && want[nwant] != NULL)
		nwant++;
	n = msg_lint(msg, len, nrcpt, p, LINT_RULES);
	/* Only the first three of a long list are named in the table. */
	if (nwant < 3 ? n != nwant : n < nwant)
		fail_msg("%s: %zu problems, want %zu (first: %s %s)", name, n,
		    nwant, n > 0 ? p[0].rule : "-", n > 0 ? p[0].detail : "");
	for (k = 0; k < n; k++) {
		if (k < nwant && strcmp(p[k].rule, want[k]) != 0)
			fail_msg("%s: problem %zu is %s, want %s", name, k,
			    p[k].rule, want[k]);
		if (!printable(p[k].detail) || p[k].detail[0] == '\0' ||
		    strncmp(p[k].ref, "RFC ", 4) != 0)
			fail_msg("%s: problem %zu: bad detail or ref", name, k);
	}
	if (detail != NULL && strstr(p[0].detail, detail) == NULL)
		fail_msg("%s: detail \"%s\" lacks \"%s\"", name, p[0].detail,
		    detail);
}

static void
test_cases(void **state)
{
	const struct lcase *c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = &cases[i];
		check(c->name, c->msg, strlen(c->msg), c->nrcpt, c->want,
		    c->detail);
	}
}

/* line-too-long at 997, 998 (fine), 999 (over), in header and body. */
static void
test_line_limit(void **state)
{
	static const char *const none[] = { NULL, NULL, NULL };
	static const char *const lng[] = { "line-too-long", NULL, NULL };
	struct buf b;
	size_t len, where;

	(void)state;
	for (where = 0; where < 3; where++)
		for (len = 997; len <= 999; len++) {
			buf_init(&b, 8192);
			assert_int_equal(buf_append_str(&b, GOOD_HDR), 0);
			if (where == 0) /* a header field of len octets */
				assert_int_equal(buf_printf(&b,
				                     "X-Long: %*s\r\n",
				                     (int)len - 8, "x"),
				    0);
			assert_int_equal(buf_append_str(&b, "\r\n"), 0);
			if (where > 0)
				assert_int_equal(buf_printf(&b, "%*s%s",
				                     (int)len, "x",
				                     where == 1 ? "\r\n" : ""),
				    0);
			check("line-limit", (const char *)b.data, b.len, 1,
			    len > 998 ? lng : none,
			    len > 998 && where > 0 ? "line 7 has 999 octets"
			                           : NULL);
			buf_reset(&b);
		}
}

static void
test_max(void **state)
{
	struct lint_problem p[2];
	const char *m = "x\ny\r";

	(void)state;
	/* no-date, no-message-id, no-from, bare-lf, bare-cr. */
	assert_int_equal(msg_lint(m, strlen(m), 0, NULL, 0), 5);
	memset(p, 0, sizeof(p));
	assert_int_equal(msg_lint(m, strlen(m), 0, p, 1), 5);
	assert_string_equal(p[0].rule, "no-date");
	assert_null(p[1].rule);
	assert_int_equal(msg_lint(NULL, 0, 0, p, 2), 3);
}

/* Any prefix of any case: no crash, details stay printable. */
static void
test_prefixes(void **state)
{
	struct lint_problem p[LINT_RULES];
	size_t i, cut, n, k;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (cut = 0; cut < strlen(cases[i].msg); cut++) {
			n = msg_lint(cases[i].msg, cut, cases[i].nrcpt, p,
			    LINT_RULES);
			assert_true(n <= LINT_RULES);
			for (k = 0; k < n; k++)
				assert_true(printable(p[k].detail));
		}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_max),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
