/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for smtp/params.c: MAIL FROM / RCPT TO arguments and ESMTP
 * parameters (RFC 5321 4.1.1.2-3, RFC 1869, 1870, 3461, 4954, 6152,
 * 6531), the RFC 6533 utf-8 ORCPT decoder, and the reply table.
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

#include "smtp/params.h"

#define E SMTP_EXT_ESMTP
#define D (SMTP_EXT_ESMTP | SMTP_EXT_DSN)
#define A (SMTP_EXT_ESMTP | SMTP_EXT_AUTH)
#define UX (SMTP_EXT_ESMTP | SMTP_EXT_SMTPUTF8)
#define ALL (SMTP_EXT_ESMTP | SMTP_EXT_DSN | SMTP_EXT_AUTH | SMTP_EXT_SMTPUTF8)
#define RT (SMTP_EXT_ESMTP | SMTP_EXT_REQUIRETLS)

struct mail_case {
	const char *name;
	const char *arg;
	unsigned ext;
	enum smtp_arg_status want;
	const char *from; /* formatted; or why on failure */
};

static const struct mail_case mail_cases[] = {
	/* valid */
	{ "plain", "FROM:<a@b>", 0, SMTP_ARG_OK, "a@b" },
	{ "lower", "from:<a@b>", 0, SMTP_ARG_OK, "a@b" },
	{ "space-after-colon", "FROM: <a@b>", 0, SMTP_ARG_OK, "a@b" },
	{ "null", "FROM:<>", 0, SMTP_ARG_OK, "" },
	{ "null-size", "FROM:<> SIZE=0", E, SMTP_ARG_OK, "" },
	{ "route", "FROM:<@x:a@b>", 0, SMTP_ARG_OK, "a@b" },
	{ "size", "FROM:<a@b> SIZE=1000", E, SMTP_ARG_OK, "a@b" },
	{ "size-max", "FROM:<a@b> SIZE=18446744073709551615", E, SMTP_ARG_OK,
	    "a@b" },
	{ "body-8", "FROM:<a@b> BODY=8BITMIME", E, SMTP_ARG_OK, "a@b" },
	{ "body-7-lower", "FROM:<a@b> body=7bit", E, SMTP_ARG_OK, "a@b" },
	{ "utf8", "FROM:<j\xc3\xb6@x> SMTPUTF8", E, SMTP_ARG_OK,
	    "j\xc3\xb6@x" },
	{ "utf8-lower", "FROM:<a@b> smtputf8", E, SMTP_ARG_OK, "a@b" },
	{ "all", "FROM:<a@b> SIZE=10 BODY=8BITMIME SMTPUTF8", E, SMTP_ARG_OK,
	    "a@b" },
	{ "two-spaces", "FROM:<a@b>  SIZE=10", E, SMTP_ARG_OK, "a@b" },
	{ "dsn", "FROM:<a@b> RET=HDRS ENVID=QQ314159", D, SMTP_ARG_OK, "a@b" },
	{ "dsn-full", "FROM:<a@b> ret=full envid=a+2Bb", D, SMTP_ARG_OK,
	    "a@b" },
	{ "auth-null", "FROM:<a@b> AUTH=<>", A, SMTP_ARG_OK, "a@b" },
	{ "auth-xtext", "FROM:<a@b> AUTH=e+3Dmc2@example.com", A, SMTP_ARG_OK,
	    "a@b" },
	{ "trailing-space", "FROM:<a@b> ", E, SMTP_ARG_OK, "a@b" },
	{ "requiretls", "FROM:<a@b> REQUIRETLS", RT, SMTP_ARG_OK, "a@b" },
	{ "requiretls-lower-size", "FROM:<a@b> requiretls SIZE=5", RT,
	    SMTP_ARG_OK, "a@b" },
	/* invalid */
	{ "empty", "", E, SMTP_ARG_SYNTAX, "expected FROM:<address>" },
	{ "from-only", "FROM", E, SMTP_ARG_SYNTAX, "expected FROM:<address>" },
	{ "no-address", "FROM:", E, SMTP_ARG_SYNTAX, "missing address" },
	{ "space-only", "FROM: ", E, SMTP_ARG_SYNTAX, "missing address" },
	{ "to", "TO:<a@b>", E, SMTP_ARG_SYNTAX, "expected FROM:<address>" },
	{ "space-before-colon", "FROM :<a@b>", E, SMTP_ARG_SYNTAX,
	    "expected FROM:<address>" },
	{ "two-spaces-after", "FROM:  <a@b>", E, SMTP_ARG_BAD_ADDR,
	    "address must be in <>" },
	{ "no-brackets", "FROM:a@b", E, SMTP_ARG_BAD_ADDR,
	    "address must be in <>" },
	{ "bad-addr", "FROM:<a..b@c>", E, SMTP_ARG_BAD_ADDR,
	    "consecutive dots in local part" },
	{ "junk-after", "FROM:<a@b>SIZE=1", E, SMTP_ARG_SYNTAX,
	    "junk after the address" },
	{ "utf8-needed", "FROM:<j\xc3\xb6@x>", ALL, SMTP_ARG_UTF8_NEEDED,
	    "UTF-8 address without SMTPUTF8" },
	{ "utf8-bad", "FROM:<j\xc3@x> SMTPUTF8", E, SMTP_ARG_BAD_ADDR,
	    "invalid UTF-8" },
	{ "params-need-ehlo", "FROM:<a@b> SIZE=1", 0, SMTP_ARG_UNKNOWN_PARAM,
	    "parameters need EHLO" },
	{ "unknown", "FROM:<a@b> FOO=1", E, SMTP_ARG_UNKNOWN_PARAM,
	    "unknown parameter" },
	{ "size-junk", "FROM:<a@b> SIZE=1x", E, SMTP_ARG_BAD_PARAM,
	    "SIZE is not a number" },
	{ "size-empty", "FROM:<a@b> SIZE=", E, SMTP_ARG_SYNTAX,
	    "empty parameter value" },
	{ "size-novalue", "FROM:<a@b> SIZE", E, SMTP_ARG_BAD_PARAM,
	    "SIZE needs a value" },
	{ "size-max+1", "FROM:<a@b> SIZE=18446744073709551616", E,
	    SMTP_ARG_BAD_PARAM, "SIZE is too large" },
	{ "size-twice", "FROM:<a@b> SIZE=1 size=1", E, SMTP_ARG_BAD_PARAM,
	    "repeated parameter" },
	{ "body-binary", "FROM:<a@b> BODY=BINARYMIME", E, SMTP_ARG_BAD_PARAM,
	    "BODY must be 7BIT or 8BITMIME" },
	{ "body-novalue", "FROM:<a@b> BODY", E, SMTP_ARG_BAD_PARAM,
	    "BODY must be 7BIT or 8BITMIME" },
	{ "smtputf8-value", "FROM:<a@b> SMTPUTF8=yes", E, SMTP_ARG_BAD_PARAM,
	    "SMTPUTF8 takes no value" },
	{ "ret-no-dsn", "FROM:<a@b> RET=FULL", E, SMTP_ARG_UNKNOWN_PARAM,
	    "unknown parameter" },
	{ "ret-bad", "FROM:<a@b> RET=ALL", D, SMTP_ARG_BAD_PARAM,
	    "RET must be FULL or HDRS" },
	{ "envid-bad-hex", "FROM:<a@b> ENVID=a+2b", D, SMTP_ARG_BAD_PARAM,
	    "ENVID is not xtext" },
	{ "envid-short-hex", "FROM:<a@b> ENVID=a+2", D, SMTP_ARG_BAD_PARAM,
	    "ENVID is not xtext" },
	{ "envid-8bit", "FROM:<a@b> ENVID=\xc3\xa9", D, SMTP_ARG_BAD_PARAM,
	    "ENVID is not xtext" },
	{ "auth-not-offered", "FROM:<a@b> AUTH=<>", D, SMTP_ARG_UNKNOWN_PARAM,
	    "unknown parameter" },
	{ "notify-on-mail", "FROM:<a@b> NOTIFY=NEVER", ALL,
	    SMTP_ARG_UNKNOWN_PARAM, "unknown parameter" },
	{ "dash-keyword", "FROM:<a@b> -X=1", E, SMTP_ARG_SYNTAX,
	    "invalid parameter keyword" },
	{ "no-keyword", "FROM:<a@b> =1", E, SMTP_ARG_SYNTAX,
	    "invalid parameter keyword" },
	{ "double-eq", "FROM:<a@b> SIZE==1", E, SMTP_ARG_SYNTAX,
	    "invalid character in parameter value" },
	{ "ctl-value", "FROM:<a@b> SIZE=1\x01", E, SMTP_ARG_SYNTAX,
	    "invalid character in parameter value" },
	{ "tab-sep", "FROM:<a@b>\tSIZE=1", E, SMTP_ARG_SYNTAX,
	    "junk after the address" },
	{ "8bit-keyword", "FROM:<a@b> X\xc3\xa9=1", E, SMTP_ARG_SYNTAX,
	    "invalid character in parameter keyword" },
	{ "bad-utf8-value", "FROM:<a@b> X=\xc3", E, SMTP_ARG_SYNTAX,
	    "invalid character in parameter value" },
	{ "null-rcpt-style", "FROM:<Postmaster>", E, SMTP_ARG_BAD_ADDR,
	    "missing @domain" },
	{ "requiretls-not-offered", "FROM:<a@b> REQUIRETLS", ALL,
	    SMTP_ARG_UNKNOWN_PARAM, "unknown parameter" },
	{ "requiretls-no-ehlo", "FROM:<a@b> REQUIRETLS", SMTP_EXT_REQUIRETLS,
	    SMTP_ARG_UNKNOWN_PARAM, "parameters need EHLO" },
	{ "requiretls-value", "FROM:<a@b> REQUIRETLS=YES", RT,
	    SMTP_ARG_BAD_PARAM, "REQUIRETLS takes no value" },
	{ "requiretls-twice", "FROM:<a@b> REQUIRETLS requiretls", RT,
	    SMTP_ARG_BAD_PARAM, "repeated parameter" },
};

static void
test_mail(void **state)
{
	struct smtp_mail m;
	enum smtp_arg_status st;
	const char *why;
	char s[SMTP_ADDR_FMT_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(mail_cases) / sizeof(mail_cases[0]); i++) {
		const struct mail_case *c = &mail_cases[i];

		st = smtp_mail_parse(c->arg, strlen(c->arg), c->ext, &m, &why);
		if (st != c->want)
			fail_msg("%s: status %d (%s)", c->name, (int)st,
			    why ? why : "");
		if (st != SMTP_ARG_OK) {
			if (strcmp(why, c->from) != 0)
				fail_msg("%s: why \"%s\"", c->name, why);
			assert_false(m.has_size || m.from.local[0] != '\0');
			continue;
		}
		assert_null(why);
		assert_true(smtp_addr_format(&m.from, s, sizeof(s)) >= 0);
		if (strcmp(s, c->from) != 0)
			fail_msg("%s: from \"%s\"", c->name, s);
	}
}

/* RFC 8689 2: the flag is set only by the parameter. */
static void
test_mail_requiretls(void **state)
{
	struct smtp_mail m;
	const char *why;

	(void)state;
	assert_int_equal(smtp_mail_parse("FROM:<a@b> REQUIRETLS", 21, RT, &m,
	                     &why),
	    SMTP_ARG_OK);
	assert_true(m.requiretls);
	assert_int_equal(smtp_mail_parse("FROM:<a@b> SIZE=1", 17, RT, &m, &why),
	    SMTP_ARG_OK);
	assert_false(m.requiretls);
	/* A refused MAIL leaves nothing set. */
	assert_int_equal(smtp_mail_parse("FROM:<a@b> REQUIRETLS X=1", 25, RT,
	                     &m, &why),
	    SMTP_ARG_UNKNOWN_PARAM);
	assert_false(m.requiretls);
}

static void
test_mail_values(void **state)
{
	struct smtp_mail m;
	const char *why;
	char arg[400];
	size_t i;
	int n;

	(void)state;
	assert_int_equal(smtp_mail_parse("FROM:<a@b> SIZE=10 BODY=8BITMIME "
	                                 "SMTPUTF8 RET=HDRS ENVID=x+2By",
	                     62, ALL, &m, &why),
	    SMTP_ARG_OK);
	assert_true(m.has_size);
	assert_int_equal(m.size, 10);
	assert_int_equal(m.body, SMTP_BODY_8BITMIME);
	assert_true(m.smtputf8);
	assert_int_equal(m.ret, SMTP_RET_HDRS);
	assert_string_equal(m.envid, "x+2By");
	assert_false(m.has_auth);
	assert_int_equal(smtp_mail_parse("FROM:<> AUTH=<>", 15, A, &m, &why),
	    SMTP_ARG_OK);
	assert_true(m.from.is_null);
	assert_true(m.has_auth);
	assert_string_equal(m.auth, "<>");
	assert_int_equal(m.body, SMTP_BODY_DEFAULT);
	assert_int_equal(m.ret, SMTP_RET_NONE);
	/* ENVID, RFC 3461 4.4: 100 characters. */
	for (i = 99; i <= 101; i++) {
		n = snprintf(arg, sizeof(arg), "FROM:<a@b> ENVID=%0*d", (int)i,
		    0);
		assert_int_equal(smtp_mail_parse(arg, (size_t)n, D, &m, &why),
		    i <= SMTP_ENVID_MAX ? SMTP_ARG_OK : SMTP_ARG_BAD_PARAM);
		if (i <= SMTP_ENVID_MAX)
			assert_int_equal(strlen(m.envid), i);
	}
	/* AUTH= holds a path: SMTP_PATH_MAX characters. */
	for (i = 255; i <= 257; i++) {
		n = snprintf(arg, sizeof(arg), "FROM:<a@b> AUTH=%0*d", (int)i,
		    0);
		assert_int_equal(smtp_mail_parse(arg, (size_t)n, A, &m, &why),
		    i <= SMTP_PATH_MAX ? SMTP_ARG_OK : SMTP_ARG_BAD_PARAM);
	}
	/* SIZE, RFC 1870: UINT64_MAX - 1, UINT64_MAX, UINT64_MAX + 1. */
	assert_int_equal(smtp_mail_parse("FROM:<a@b> SIZE=18446744073709551614",
	                     36, E, &m, &why),
	    SMTP_ARG_OK);
	assert_true(m.size == UINT64_MAX - 1);
	assert_int_equal(smtp_mail_parse("FROM:<a@b> SIZE=18446744073709551615",
	                     36, E, &m, &why),
	    SMTP_ARG_OK);
	assert_true(m.size == UINT64_MAX);
	assert_int_equal(smtp_mail_parse("FROM:<a@b> SIZE=18446744073709551616",
	                     36, E, &m, &why),
	    SMTP_ARG_BAD_PARAM);
}

struct rcpt_case {
	const char *name;
	const char *arg;
	unsigned ext;
	enum smtp_arg_status want;
	const char *to; /* formatted; or why on failure */
	unsigned notify;
	const char *orcpt;
};

static const struct rcpt_case rcpt_cases[] = {
	/* valid */
	{ "plain", "TO:<a@b>", 0, SMTP_ARG_OK, "a@b", 0, "" },
	{ "lower", "to:<a@b>", 0, SMTP_ARG_OK, "a@b", 0, "" },
	{ "space", "TO: <a@b>", 0, SMTP_ARG_OK, "a@b", 0, "" },
	{ "postmaster", "TO:<Postmaster>", 0, SMTP_ARG_OK, "postmaster", 0,
	    "" },
	{ "notify", "TO:<a@b> NOTIFY=SUCCESS,FAILURE", D, SMTP_ARG_OK, "a@b",
	    SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE, "" },
	{ "notify-never", "TO:<a@b> NOTIFY=never", D, SMTP_ARG_OK, "a@b",
	    SMTP_NOTIFY_NEVER, "" },
	{ "notify-all", "TO:<a@b> NOTIFY=DELAY,FAILURE,SUCCESS", D, SMTP_ARG_OK,
	    "a@b",
	    SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY, "" },
	{ "orcpt", "TO:<a@b> ORCPT=rfc822;a+2Bx@b", D, SMTP_ARG_OK, "a@b", 0,
	    "rfc822;a+2Bx@b" },
	{ "both", "TO:<a@b> ORCPT=rfc822;a@b NOTIFY=DELAY", D, SMTP_ARG_OK,
	    "a@b", SMTP_NOTIFY_DELAY, "rfc822;a@b" },
	{ "utf8", "TO:<j\xc3\xb6@x>", UX, SMTP_ARG_OK, "j\xc3\xb6@x", 0, "" },
	{ "orcpt-utf8", "TO:<a@b> ORCPT=utf-8;j\xc3\xb6@x", ALL, SMTP_ARG_OK,
	    "a@b", 0, "utf-8;j\xc3\xb6@x" },
	/* invalid */
	{ "null", "TO:<>", ALL, SMTP_ARG_BAD_ADDR, "null address not allowed",
	    0, "" },
	{ "from", "FROM:<a@b>", ALL, SMTP_ARG_SYNTAX, "expected TO:<address>",
	    0, "" },
	{ "empty", "", ALL, SMTP_ARG_SYNTAX, "expected TO:<address>", 0, "" },
	{ "no-address", "TO:", ALL, SMTP_ARG_SYNTAX, "missing address", 0, "" },
	{ "utf8-needed", "TO:<j\xc3\xb6@x>", D, SMTP_ARG_UTF8_NEEDED,
	    "UTF-8 address without SMTPUTF8", 0, "" },
	{ "bad-addr", "TO:<a@-b>", ALL, SMTP_ARG_BAD_ADDR,
	    "hyphen at the end of a domain label", 0, "" },
	{ "notify-no-dsn", "TO:<a@b> NOTIFY=NEVER", E, SMTP_ARG_UNKNOWN_PARAM,
	    "unknown parameter", 0, "" },
	{ "notify-never-plus", "TO:<a@b> NOTIFY=NEVER,SUCCESS", D,
	    SMTP_ARG_BAD_PARAM, "NOTIFY=NEVER must be alone", 0, "" },
	{ "notify-repeat", "TO:<a@b> NOTIFY=SUCCESS,success", D,
	    SMTP_ARG_BAD_PARAM, "NOTIFY keyword repeated", 0, "" },
	{ "notify-empty-item", "TO:<a@b> NOTIFY=SUCCESS,", D,
	    SMTP_ARG_BAD_PARAM, "NOTIFY must be NEVER or SUCCESS,FAILURE,DELAY",
	    0, "" },
	{ "notify-bad", "TO:<a@b> NOTIFY=ALWAYS", D, SMTP_ARG_BAD_PARAM,
	    "NOTIFY must be NEVER or SUCCESS,FAILURE,DELAY", 0, "" },
	{ "notify-twice", "TO:<a@b> NOTIFY=DELAY NOTIFY=DELAY", D,
	    SMTP_ARG_BAD_PARAM, "repeated parameter", 0, "" },
	{ "orcpt-no-type", "TO:<a@b> ORCPT=rfc822", D, SMTP_ARG_BAD_PARAM,
	    "ORCPT must be addr-type;address", 0, "" },
	{ "orcpt-empty-type", "TO:<a@b> ORCPT=;a@b", D, SMTP_ARG_BAD_PARAM,
	    "ORCPT must be addr-type;address", 0, "" },
	{ "orcpt-empty-addr", "TO:<a@b> ORCPT=rfc822;", D, SMTP_ARG_BAD_PARAM,
	    "ORCPT must be addr-type;address", 0, "" },
	{ "orcpt-utf8-no-smtputf8", "TO:<a@b> ORCPT=utf-8;j\xc3\xb6@x", D,
	    SMTP_ARG_BAD_PARAM, "ORCPT address is not xtext", 0, "" },
	{ "orcpt-8bit-rfc822", "TO:<a@b> ORCPT=rfc822;j\xc3\xb6@x", ALL,
	    SMTP_ARG_BAD_PARAM, "ORCPT address is not xtext", 0, "" },
	{ "size-on-rcpt", "TO:<a@b> SIZE=1", ALL, SMTP_ARG_UNKNOWN_PARAM,
	    "unknown parameter", 0, "" },
	{ "smtputf8-on-rcpt", "TO:<a@b> SMTPUTF8", ALL, SMTP_ARG_UNKNOWN_PARAM,
	    "unknown parameter", 0, "" },
	{ "params-need-ehlo", "TO:<a@b> NOTIFY=NEVER", SMTP_EXT_DSN,
	    SMTP_ARG_UNKNOWN_PARAM, "parameters need EHLO", 0, "" },
};

static void
test_rcpt(void **state)
{
	struct smtp_rcpt r;
	enum smtp_arg_status st;
	const char *why;
	char s[SMTP_ADDR_FMT_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rcpt_cases) / sizeof(rcpt_cases[0]); i++) {
		const struct rcpt_case *c = &rcpt_cases[i];

		st = smtp_rcpt_parse(c->arg, strlen(c->arg), c->ext, &r, &why);
		if (st != c->want)
			fail_msg("%s: status %d (%s)", c->name, (int)st,
			    why ? why : "");
		if (st != SMTP_ARG_OK) {
			if (strcmp(why, c->to) != 0)
				fail_msg("%s: why \"%s\"", c->name, why);
			continue;
		}
		assert_true(smtp_addr_format(&r.to, s, sizeof(s)) >= 0);
		if (strcmp(s, c->to) != 0)
			fail_msg("%s: to \"%s\"", c->name, s);
		assert_int_equal(r.notify, c->notify);
		assert_string_equal(r.orcpt, c->orcpt);
	}
}

static void
test_rcpt_limits(void **state)
{
	struct smtp_rcpt r;
	const char *why;
	char arg[400];
	size_t i, room = sizeof(r.orcpt) - 1;
	int n;

	(void)state;
	/* ORCPT fills its field: room - 1, room, room + 1. */
	for (i = room - 1; i <= room + 1; i++) {
		n = snprintf(arg, sizeof(arg), "TO:<a@b> ORCPT=rfc822;%0*d",
		    (int)(i - 7), 0);
		assert_int_equal(smtp_rcpt_parse(arg, (size_t)n, D, &r, &why),
		    i <= room ? SMTP_ARG_OK : SMTP_ARG_BAD_PARAM);
		if (i <= room)
			assert_int_equal(strlen(r.orcpt), i);
	}
	assert_true(r.to.local[0] == '\0'); /* cleared on failure */
}

/*
 * RFC 6533 3: smtp_orcpt_utf8_decode(), the address of a utf-8 ORCPT in
 * its utf-8-addr-xtext or utf-8-addr-unitext form. want is the decoded
 * address, or NULL and why the reason it is refused.
 */
static const struct orcpt_case {
	const char *name, *in, *want, *why;
} orcpt_cases[] = {
	/* valid */
	{ "ascii", "bob@x.test", "bob@x.test", NULL },
	{ "unitext", "j\xc3\xb6rg@x.test", "j\xc3\xb6rg@x.test", NULL },
	{ "xtext", "j\\x{F6}rg@x.test", "j\xc3\xb6rg@x.test", NULL },
	{ "xtext-lower", "j\\x{f6}rg@x.test", "j\xc3\xb6rg@x.test", NULL },
	{ "xtext-mixed-case", "j\\x{fC}@x.test", "j\xc3\xbc@x.test", NULL },
	{ "both-forms", "j\xc3\xb6rg\\x{FC}@x.test",
	    "j\xc3\xb6rg\xc3\xbc@x.test", NULL },
	{ "in-domain", "a@b\\x{FC}cher.test",
	    "a@b\xc3\xbc"
	    "cher.test",
	    NULL },
	{ "3-byte", "\\x{20AC}@x.test", "\xe2\x82\xac@x.test", NULL },
	{ "4-byte", "\\x{1F600}@x.test", "\xf0\x9f\x98\x80@x.test", NULL },
	{ "6-digits", "\\x{10FFFD}@x.test", "\xf4\x8f\xbf\xbd@x.test", NULL },
	{ "escaped-plus", "a\\x{2B}b@x.test", "a+b@x.test", NULL },
	{ "escaped-equals", "a\\x{3D}b@x.test", "a=b@x.test", NULL },
	{ "escaped-space", "\"a\\x{20}b\"@x.test", "\"a b\"@x.test", NULL },
	{ "escaped-backslash", "\"a\\x{5C}\\x{5C}b\"@x.test",
	    "\"a\\\\b\"@x.test", NULL },
	/* invalid: EmbeddedUnicodeChar */
	{ "needless-escape", "\\x{41}@x.test", NULL,
	    "\\x{} of a character that needs none" },
	{ "nul-escape", "a\\x{00}@x.test", NULL,
	    "\\x{} of a character that needs none" },
	{ "leading-zero", "\\x{00F6}@x.test", NULL,
	    "\\x{} has a leading zero" },
	{ "leading-zero-3", "\\x{0F6}@x.test", NULL,
	    "\\x{} has a leading zero" },
	{ "one-digit", "\\x{F}@x.test", NULL,
	    "\\x{} needs 2 to 6 digits and }" },
	{ "seven-digits", "\\x{10FFFD0}@x.test", NULL,
	    "\\x{} needs 2 to 6 digits and }" },
	{ "no-digits", "\\x{}@x.test", NULL,
	    "\\x{} needs 2 to 6 digits and }" },
	{ "surrogate-first", "\\x{D800}@x.test", NULL,
	    "\\x{} is no Unicode scalar value" },
	{ "surrogate-last", "\\x{DFFF}@x.test", NULL,
	    "\\x{} is no Unicode scalar value" },
	{ "too-big", "\\x{110000}@x.test", NULL,
	    "\\x{} is no Unicode scalar value" },
	{ "non-hex", "\\x{G6}@x.test", NULL, "\\x{} holds a non-hex digit" },
	{ "unclosed", "\\x{F6@x.test", NULL, "\\x{} holds a non-hex digit" },
	{ "unclosed-at-end", "a@x.test\\x{F6", NULL,
	    "\\x{} needs 2 to 6 digits and }" },
	{ "no-brace", "\\xF6@x.test", NULL, "\\ not followed by x{" },
	{ "upper-x", "\\X{F6}@x.test", NULL, "\\ not followed by x{" },
	{ "lone-backslash", "a@x.test\\", NULL, "\\ not followed by x{" },
	/* invalid: QCHAR and QUCHAR */
	{ "raw-plus", "a+b@x.test", NULL, "ORCPT has a bad character" },
	{ "xtext-hexchar", "a+2Bb@x.test", NULL, "ORCPT has a bad character" },
	{ "raw-equals", "a=b@x.test", NULL, "ORCPT has a bad character" },
	{ "raw-space", "a b@x.test", NULL, "ORCPT has a bad character" },
	{ "raw-tab", "a\tb@x.test", NULL, "ORCPT has a bad character" },
	{ "raw-del",
	    "a\x7f"
	    "b@x.test",
	    NULL, "ORCPT has a bad character" },
	{ "bad-utf8", "j\xc3rg@x.test", NULL, "ORCPT is not valid UTF-8" },
	{ "overlong-utf8", "\xc0\xaf@x.test", NULL,
	    "ORCPT is not valid UTF-8" },
	{ "surrogate-utf8", "\xed\xa0\x80@x.test", NULL,
	    "ORCPT is not valid UTF-8" },
	{ "too-big-utf8", "\xf4\x90\x80\x80@x.test", NULL,
	    "ORCPT is not valid UTF-8" },
	{ "cut-utf8", "a@x.test\xe2\x82", NULL, "ORCPT is not valid UTF-8" },
	/* invalid: decodes, but to no Mailbox */
	{ "empty", "", NULL, "ORCPT has no address" },
	{ "escaped-control", "a\\x{01}b@x.test", NULL,
	    "control character in address" },
	{ "no-at", "j\\x{F6}rg", NULL, "missing @domain" },
	{ "two-ats", "a@b@x.test", NULL, "invalid character in domain" },
};

/* p[0..n) copied to a buffer of exactly n bytes: ASan sees overreads. */
static bool
decode_exact(const char *p, size_t n, char *dst, size_t dstsz, const char **why)
{
	char *q = malloc(n > 0 ? n : 1);
	bool ok;

	assert_non_null(q);
	memcpy(q, p, n);
	ok = smtp_orcpt_utf8_decode(q, n, dst, dstsz, why);
	free(q);
	return ok;
}

static void
test_orcpt_utf8_decode(void **state)
{
	const struct orcpt_case *c;
	const char *why;
	char dst[SMTP_PATH_MAX];
	size_t i, n, wn;

	(void)state;
	for (i = 0; i < sizeof(orcpt_cases) / sizeof(orcpt_cases[0]); i++) {
		c = &orcpt_cases[i];
		n = strlen(c->in);
		if (decode_exact(c->in, n, dst, sizeof(dst), &why) !=
		    (c->want != NULL))
			fail_msg("%s: refused (%s)", c->name, why ? why : "-");
		if (c->want == NULL) {
			if (why == NULL || strcmp(why, c->why) != 0)
				fail_msg("%s: why \"%s\"", c->name, why);
			continue;
		}
		assert_null(why);
		if (strcmp(dst, c->want) != 0)
			fail_msg("%s: got \"%s\"", c->name, dst);
		/* dst for the address and its NUL: limit, limit - 1. */
		wn = strlen(c->want);
		if (!decode_exact(c->in, n, dst, wn + 1, &why) ||
		    strcmp(dst, c->want) != 0)
			fail_msg("%s: no fit in %zu bytes", c->name, wn + 1);
		if (decode_exact(c->in, n, dst, wn, &why) ||
		    strcmp(why, "ORCPT does not fit") != 0)
			fail_msg("%s: fit in %zu bytes", c->name, wn);
	}
	assert_false(smtp_orcpt_utf8_decode("a@x.test", 8, dst, 0, &why));
}

/*
 * Only p[0..n) counts: an escape cut by n is refused even when the rest
 * of it follows in memory, and a NUL inside is a bad character.
 */
static void
test_orcpt_utf8_decode_bounds(void **state)
{
	static const char in[] = "a@x.test\\x{1F600}";
	const char *why;
	char dst[64];
	size_t n;

	(void)state;
	assert_true(smtp_orcpt_utf8_decode(in, 8, dst, sizeof(dst), &why));
	assert_string_equal(dst, "a@x.test");
	for (n = 9; n < sizeof(in) - 1; n++)
		if (decode_exact(in, n, dst, sizeof(dst), &why) ||
		    smtp_orcpt_utf8_decode(in, n, dst, sizeof(dst), &why))
			fail_msg("prefix %zu accepted", n);
	assert_false(
	    smtp_orcpt_utf8_decode("a@x\0.test", 9, dst, sizeof(dst), &why));
	assert_string_equal(why, "ORCPT has a bad character");
}

static void
test_reply(void **state)
{
	(void)state;
	assert_string_equal(smtp_arg_reply(SMTP_ARG_SYNTAX, false),
	    "501 5.5.4 Syntax error in parameters");
	assert_string_equal(smtp_arg_reply(SMTP_ARG_BAD_ADDR, false),
	    "501 5.1.7 Bad sender address syntax");
	assert_string_equal(smtp_arg_reply(SMTP_ARG_BAD_ADDR, true),
	    "553 5.1.3 Bad recipient address syntax");
	assert_string_equal(smtp_arg_reply(SMTP_ARG_UTF8_NEEDED, true),
	    "553 5.6.7 Address needs SMTPUTF8");
	assert_string_equal(smtp_arg_reply(SMTP_ARG_UNKNOWN_PARAM, false),
	    "555 5.5.4 Unsupported parameter");
	assert_string_equal(smtp_arg_reply(SMTP_ARG_BAD_PARAM, true),
	    "501 5.5.4 Invalid parameter value");
	assert_string_equal(smtp_arg_reply(SMTP_ARG_OK, true),
	    "250 2.1.5 Recipient ok");
	assert_string_equal(smtp_arg_reply(SMTP_ARG_OK, false),
	    "250 2.1.0 Sender ok");
	assert_string_equal(smtp_arg_reply((enum smtp_arg_status)42, false),
	    "501 5.5.4 Syntax error in parameters");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mail),
		cmocka_unit_test(test_mail_values),
		cmocka_unit_test(test_mail_requiretls),
		cmocka_unit_test(test_rcpt),
		cmocka_unit_test(test_rcpt_limits),
		cmocka_unit_test(test_orcpt_utf8_decode),
		cmocka_unit_test(test_orcpt_utf8_decode_bounds),
		cmocka_unit_test(test_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
