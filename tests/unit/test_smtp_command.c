/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for smtp/command.c: verb table, argument split, BDAT
 * argument (RFC 3030 2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/command.h"

#define L(s) s, sizeof(s) - 1

struct verb_case {
	const char *name;
	const char *line;
	size_t n;
	enum smtp_verb verb;
	const char *arg;
};

static const struct verb_case verb_cases[] = {
	/* valid */
	{ "quit", L("QUIT"), SMTP_VERB_QUIT, "" },
	{ "lower", L("quit"), SMTP_VERB_QUIT, "" },
	{ "mixed", L("qUiT"), SMTP_VERB_QUIT, "" },
	{ "helo", L("HELO a.example"), SMTP_VERB_HELO, "a.example" },
	{ "ehlo", L("EHLO [192.0.2.1]"), SMTP_VERB_EHLO, "[192.0.2.1]" },
	{ "mail", L("MAIL FROM:<a@b>"), SMTP_VERB_MAIL, "FROM:<a@b>" },
	{ "mail-spaces", L("MAIL   FROM:<a@b> SIZE=1   "), SMTP_VERB_MAIL,
	    "FROM:<a@b> SIZE=1" },
	{ "rcpt", L("RCPT TO:<a@b>"), SMTP_VERB_RCPT, "TO:<a@b>" },
	{ "data", L("DATA"), SMTP_VERB_DATA, "" },
	{ "bdat", L("BDAT 10 LAST"), SMTP_VERB_BDAT, "10 LAST" },
	{ "rset", L("RSET"), SMTP_VERB_RSET, "" },
	{ "noop-arg", L("NOOP hello"), SMTP_VERB_NOOP, "hello" },
	{ "vrfy", L("VRFY user"), SMTP_VERB_VRFY, "user" },
	{ "expn", L("EXPN list"), SMTP_VERB_EXPN, "list" },
	{ "help", L("HELP"), SMTP_VERB_HELP, "" },
	{ "starttls", L("StartTLS"), SMTP_VERB_STARTTLS, "" },
	{ "auth", L("AUTH PLAIN AGFiYwBk"), SMTP_VERB_AUTH, "PLAIN AGFiYwBk" },
	{ "trailing-sp", L("QUIT   "), SMTP_VERB_QUIT, "" },
	{ "arg-nul-kept", L("NOOP a\0b"), SMTP_VERB_NOOP, "a\0b" },
	/* invalid */
	{ "empty", L(""), SMTP_VERB_UNKNOWN, "" },
	{ "mailfrom", L("MAILFROM:<a@b>"), SMTP_VERB_UNKNOWN, "" },
	{ "mail-colon", L("MAIL:"), SMTP_VERB_UNKNOWN, "" },
	{ "tab-sep", L("QUIT\tx"), SMTP_VERB_UNKNOWN, "" },
	{ "leading-sp", L(" QUIT"), SMTP_VERB_UNKNOWN, "QUIT" },
	{ "short", L("QUI"), SMTP_VERB_UNKNOWN, "" },
	{ "longer", L("QUITS"), SMTP_VERB_UNKNOWN, "" },
	{ "starttl", L("STARTTL"), SMTP_VERB_UNKNOWN, "" },
	{ "nul-in-verb", L("QU\0T"), SMTP_VERB_UNKNOWN, "" },
	{ "nul-after", L("QUIT\0"), SMTP_VERB_UNKNOWN, "" },
	{ "8bit", L("Q\xc3\x9cIT"), SMTP_VERB_UNKNOWN, "" },
	{ "unknown-arg", L("FOO  bar "), SMTP_VERB_UNKNOWN, "bar" },
	{ "crlf-left", L("QUIT\r\n"), SMTP_VERB_UNKNOWN, "" },
	{ "kanji-sep", L("EHLO\xe3\x80\x80x"), SMTP_VERB_UNKNOWN, "" },
	{ "only-spaces", L("    "), SMTP_VERB_UNKNOWN, "" },
	{ "sp-inside", L("QU IT"), SMTP_VERB_UNKNOWN, "IT" },
	{ "ehlo-dash", L("EHLO-x"), SMTP_VERB_UNKNOWN, "" },
	{ "bdatx", L("BDATX 1"), SMTP_VERB_UNKNOWN, "1" },
	{ "verb-then-nul", L("DATA\0x"), SMTP_VERB_UNKNOWN, "" },
};

static void
test_split(void **state)
{
	struct smtp_command cmd;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(verb_cases) / sizeof(verb_cases[0]); i++) {
		const struct verb_case *c = &verb_cases[i];
		size_t an = strlen(c->arg);

		if (strcmp(c->name, "arg-nul-kept") == 0)
			an = 3;
		smtp_command_split(c->line, c->n, &cmd);
		if (cmd.verb != c->verb)
			fail_msg("%s: verb %d", c->name, (int)cmd.verb);
		if (cmd.arg_len != an || memcmp(cmd.arg, c->arg, an) != 0)
			fail_msg("%s: arg \"%.*s\"", c->name, (int)cmd.arg_len,
			    cmd.arg);
		assert_non_null(cmd.arg);
	}
}

static void
test_verb_name(void **state)
{
	struct smtp_command cmd;
	const char *nm;
	int v;

	(void)state;
	for (v = SMTP_VERB_HELO; v <= SMTP_VERB_AUTH; v++) {
		nm = smtp_verb_name((enum smtp_verb)v);
		smtp_command_split(nm, strlen(nm), &cmd);
		assert_int_equal(cmd.verb, v);
	}
	assert_string_equal(smtp_verb_name(SMTP_VERB_UNKNOWN), "UNKNOWN");
	assert_string_equal(smtp_verb_name((enum smtp_verb)99), "UNKNOWN");
}

struct bdat_case {
	const char *name;
	const char *arg;
	size_t n;
	bool ok;
	uint64_t size;
	bool last;
};

static const struct bdat_case bdat_cases[] = {
	/* valid */
	{ "zero", L("0"), true, 0, false },
	{ "size", L("1000"), true, 1000, false },
	{ "zero-last", L("0 LAST"), true, 0, true },
	{ "lower-last", L("1 last"), true, 1, true },
	{ "mixed-last", L("7 LaSt"), true, 7, true },
	{ "two-sp", L("5  LAST"), true, 5, true },
	{ "leading-zeros", L("007"), true, 7, false },
	{ "max-1", L("18446744073709551614"), true, UINT64_MAX - 1, false },
	{ "max", L("18446744073709551615 LAST"), true, UINT64_MAX, true },
	/* invalid */
	{ "max+1", L("18446744073709551616"), false, 0, false },
	{ "huge", L("99999999999999999999999"), false, 0, false },
	{ "empty", L(""), false, 0, false },
	{ "last-only", L("LAST"), false, 0, false },
	{ "negative", L("-1"), false, 0, false },
	{ "plus", L("+1"), false, 0, false },
	{ "junk", L("1x"), false, 0, false },
	{ "las", L("1 LAS"), false, 0, false },
	{ "lastx", L("1 LASTX"), false, 0, false },
	{ "last-junk", L("1 LAST x"), false, 0, false },
	{ "leading-sp", L(" 1"), false, 0, false },
	{ "tab", L("1\tLAST"), false, 0, false },
	{ "comma", L("1,LAST"), false, 0, false },
	{ "trailing-sp", L("1 "), false, 0, false },
	{ "nul", L("1\0"), false, 0, false },
	{ "hex", L("0x10"), false, 0, false },
};

static void
test_bdat(void **state)
{
	uint64_t size;
	bool last;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bdat_cases) / sizeof(bdat_cases[0]); i++) {
		const struct bdat_case *c = &bdat_cases[i];

		size = 12345;
		last = true;
		if (smtp_bdat_parse(c->arg, c->n, &size, &last) != c->ok)
			fail_msg("%s: wrong verdict", c->name);
		if (c->ok && (size != c->size || last != c->last))
			fail_msg("%s: got %llu %d", c->name,
			    (unsigned long long)size, last);
		if (!c->ok && (size != 12345 || !last))
			fail_msg("%s: outputs touched", c->name);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_verb_name),
		cmocka_unit_test(test_bdat),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
