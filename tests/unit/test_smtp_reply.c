/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for smtp/reply.c: multi-line replies, enhanced status codes,
 * hostile replies (short lines, mixed codes, limits), EHLO keywords, and
 * the same events for every split of the input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/reply.h"

#define L(s) s, sizeof(s) - 1

struct reply_case {
	const char *name;
	const char *in;
	size_t n;
	/* events: "R:code:esc:text|" per reply ('\n' in text as '/'),
	 * "B|" bad, "T|" too long, "M|" too many lines */
	const char *want;
};

/* line_max 20 (18 bytes of text), lines_max 3, text_max 16. */
static const struct reply_case cases[] = {
	/* valid */
	{ "simple", L("250 ok\r\n"), "R:250:-:ok|" },
	{ "bare-code", L("250\r\n"), "R:250:-:|" },
	{ "code-space", L("250 \r\n"), "R:250:-:|" },
	{ "esc", L("250 2.1.0 ok\r\n"), "R:250:2.1.0:ok|" },
	{ "esc-only", L("550 5.7.1\r\n"), "R:550:5.7.1:|" },
	{ "esc-3digit", L("451 4.123.456 x\r\n"), "R:451:4.123.456:x|" },
	{ "esc-wrong-class", L("250 5.1.0 ok\r\n"), "R:250:-:5.1.0 ok|" },
	{ "esc-4digit", L("250 2.1234.0 x\r\n"), "R:250:-:2.1234.0 x|" },
	{ "esc-glued", L("250 2.1.0ok\r\n"), "R:250:-:2.1.0ok|" },
	{ "multi", L("250-a\r\n250-b\r\n250 c\r\n"), "R:250:-:a/b/c|" },
	{ "multi-esc", L("550-5.1.1 a\r\n550 5.1.1 b\r\n"),
	    "R:550:5.1.1:a/b|" },
	{ "bare-lf", L("220 hi\n"), "R:220:-:hi|" },
	{ "two", L("220 hi\r\n250 ok\r\n"), "R:220:-:hi|R:250:-:ok|" },
	{ "max", L("250 AAAAAAAAAAAAAA\r\n"), "R:250:-:AAAAAAAAAAAAAA|" },
	{ "max-1", L("250 AAAAAAAAAAAAA\r\n"), "R:250:-:AAAAAAAAAAAAA|" },
	{ "lines-max", L("250-a\r\n250-b\r\n250 c\r\n"), "R:250:-:a/b/c|" },
	{ "text-truncated", L("250-aaaaaaaa\r\n250 bbbbbbbbbb\r\n"),
	    "R:250:-:aaaaaaaa/bbbbbb|" },
	{ "8bit", L("250 \xc3\xa9\r\n"), "R:250:-:\xc3\xa9|" },
	/* invalid */
	{ "empty", L("\r\n"), "B|" },
	{ "two-digits", L("25\r\n"), "B|" },
	{ "one-digit", L("2\r\n"), "B|" },
	{ "letters", L("abc ok\r\n"), "B|" },
	{ "class-1", L("150 x\r\n"), "B|" },
	{ "class-6", L("650 x\r\n"), "B|" },
	{ "second-6", L("260 x\r\n"), "B|" },
	{ "bad-sep", L("250xok\r\n"), "B|" },
	{ "mixed-codes", L("250-a\r\n251 b\r\n"), "B|" },
	{ "bare-cr", L("250 a\rb\r\n"), "B|" },
	{ "nul", L("250 a\0b\r\n"), "B|" },
	{ "max+1", L("250 AAAAAAAAAAAAAAA\r\n"), "T|" },
	{ "way-long", L("250 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"),
	    "T|" },
	{ "lines-max+1", L("250-a\r\n250-b\r\n250-c\r\n250 d\r\n"), "M|" },
	{ "no-eol", L("250 ok"), "" },
	{ "unfinished", L("250-ok\r\n"), "" },
	{ "cr-at-end", L("250 ok\r"), "" },
};

static const struct smtp_reply_limits lim = { 20, 3, 16 };

static void
put_ev(char *dst, size_t dstsz, enum smtp_reply_status st,
    const struct smtp_reply *r)
{
	char esc[16], ev[64], text[32];
	size_t i;

	switch (st) {
	case SMTP_REPLY_DONE:
		for (i = 0; i < r->text_len && i + 1 < sizeof(text); i++)
			text[i] = r->text[i] == '\n' ? '/' : r->text[i];
		text[i] = '\0';
		if (r->has_esc)
			smtp_reply_esc(r, esc, sizeof(esc));
		else
			(void)snprintf(esc, sizeof(esc), "-");
		(void)snprintf(ev, sizeof(ev), "R:%u:%s:%s|", r->code, esc,
		    text);
		break;
	case SMTP_REPLY_BAD:
		(void)snprintf(ev, sizeof(ev), "B|");
		break;
	case SMTP_REPLY_TOO_LONG:
		(void)snprintf(ev, sizeof(ev), "T|");
		break;
	case SMTP_REPLY_TOO_MANY:
		(void)snprintf(ev, sizeof(ev), "M|");
		break;
	case SMTP_REPLY_NEED_MORE:
		return;
	}
	if (strlen(dst) + strlen(ev) < dstsz)
		memcpy(dst + strlen(dst), ev, strlen(ev) + 1);
}

/* Feed in[0..n) in `step`-byte pieces; events into out. */
static void
feed(const char *in, size_t n, size_t step, char *out, size_t outsz)
{
	struct smtp_reply_parser *rp;
	const struct smtp_reply *r;
	enum smtp_reply_status st;
	size_t off = 0, piece, used;

	out[0] = '\0';
	rp = smtp_reply_new(&lim);
	assert_non_null(rp);
	while (off < n) {
		piece = n - off < step ? n - off : step;
		while (piece > 0) {
			st = smtp_reply_parse(rp, (const uint8_t *)in + off,
			    piece, &used, &r);
			assert_true(used >= 1 && used <= piece);
			assert_true((st == SMTP_REPLY_DONE) == (r != NULL));
			if (st == SMTP_REPLY_NEED_MORE)
				assert_int_equal(used, piece);
			put_ev(out, outsz, st, r);
			off += used;
			piece -= used;
			if (st != SMTP_REPLY_NEED_MORE &&
			    st != SMTP_REPLY_DONE) {
				/* Sticky: the rest gives the same error. */
				if (n > off)
					assert_int_equal(smtp_reply_parse(rp,
					                     (const uint8_t *)
					                             in +
					                         off,
					                     n - off, &used,
					                     &r),
					    st);
				smtp_reply_free(rp);
				return;
			}
		}
	}
	smtp_reply_free(rp);
}

static void
test_cases(void **state)
{
	static const size_t steps[] = { 1, 2, 3, 7, SIZE_MAX };
	char got[256];
	size_t i, j, cut;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct reply_case *c = &cases[i];

		for (j = 0; j < sizeof(steps) / sizeof(steps[0]); j++) {
			feed(c->in, c->n, steps[j], got, sizeof(got));
			if (strcmp(got, c->want) != 0)
				fail_msg("%s: step %zu: got '%s' want '%s'",
				    c->name, steps[j], got, c->want);
		}
		/* No proper prefix of one good reply may yield an event. */
		for (cut = 0; strncmp(c->want, "R:", 2) == 0 &&
		              strchr(c->want, '|')[1] == '\0' && cut < c->n - 1;
		     cut++) {
			feed(c->in, cut, SIZE_MAX, got, sizeof(got));
			if (got[0] != '\0')
				fail_msg("%s: prefix %zu gave '%s'", c->name,
				    cut, got);
		}
	}
}

/* CVE-2020-8794: a three-byte reply must not be read past its end. */
static void
test_regression_cve_2020_8794(void **state)
{
	char got[64];

	(void)state;
	feed(L("250\r\n"), SIZE_MAX, got, sizeof(got));
	assert_string_equal(got, "R:250:-:|");
	feed(L("250-\r\n250\r\n"), SIZE_MAX, got, sizeof(got));
	assert_string_equal(got, "R:250:-:/|");
}

static void
test_bad_limits(void **state)
{
	struct smtp_reply_limits l = { 4, 1, 1 };

	(void)state;
	assert_null(smtp_reply_new(NULL));
	assert_null(smtp_reply_new(&l));
	l.line_max = 5;
	l.lines_max = 0;
	assert_null(smtp_reply_new(&l));
	l.lines_max = 1;
	l.text_max = 0;
	assert_null(smtp_reply_new(&l));
}

static void
test_generic_esc(void **state)
{
	struct smtp_reply r;
	char b[16];

	(void)state;
	memset(&r, 0, sizeof(r));
	r.code = 354;
	assert_string_equal(smtp_reply_esc(&r, b, sizeof(b)), "2.0.0");
	r.code = 421;
	assert_string_equal(smtp_reply_esc(&r, b, sizeof(b)), "4.0.0");
	r.code = 554;
	assert_string_equal(smtp_reply_esc(&r, b, sizeof(b)), "5.0.0");
}

static void
test_ehlo(void **state)
{
	static const char t[] = "mx.example greets you\nPIPELINING\n"
	                        "size 1000\n8BITMIME\nSMTPUTF8\nCHUNKING\n"
	                        "STARTTLS\nDSN\nENHANCEDSTATUSCODES\n"
	                        "AUTH LOGIN PLAIN\nPIPELININGX\nSIZEX 5";
	struct smtp_ehlo e;

	(void)state;
	smtp_ehlo_parse(t, strlen(t), &e);
	assert_int_equal(e.flags,
	    SMTP_EHLO_PIPELINING | SMTP_EHLO_SIZE | SMTP_EHLO_8BITMIME |
	        SMTP_EHLO_SMTPUTF8 | SMTP_EHLO_CHUNKING | SMTP_EHLO_STARTTLS |
	        SMTP_EHLO_DSN | SMTP_EHLO_ENHANCED | SMTP_EHLO_AUTH_PLAIN |
	        SMTP_EHLO_AUTH_LOGIN);
	assert_int_equal(e.size_max, 1000);
	/* The greeting line is never a keyword. */
	smtp_ehlo_parse(L("PIPELINING"), &e);
	assert_int_equal(e.flags, 0);
	/* SIZE without a number, or junk: offered, no limit. */
	smtp_ehlo_parse(L("x\nSIZE"), &e);
	assert_int_equal(e.flags, SMTP_EHLO_SIZE);
	assert_int_equal(e.size_max, 0);
	smtp_ehlo_parse(L("x\nSIZE 99999999999999999999999"), &e);
	assert_int_equal(e.size_max, 0);
	smtp_ehlo_parse(L("x\nAUTH CRAM-MD5 PLAINX"), &e);
	assert_int_equal(e.flags, 0);
	smtp_ehlo_parse(L(""), &e);
	assert_int_equal(e.flags, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_regression_cve_2020_8794),
		cmocka_unit_test(test_bad_limits),
		cmocka_unit_test(test_generic_esc),
		cmocka_unit_test(test_ehlo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
