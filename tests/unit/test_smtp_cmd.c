/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for smtp/cmd.c: line splitting, CRLF strictness, limits,
 * resynchronisation, and the same events for every split of the input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/cmd.h"

#define L(s) s, sizeof(s) - 1

struct cmd_case {
	const char *name;
	const char *in;
	size_t n;
	const char *want; /* events: "L:text|" per line, "E|" bad EOL, "T|" */
};

/* line_max 16: up to 14 bytes of text before the CRLF. */
static const struct cmd_case cases[] = {
	/* valid */
	{ "quit", L("QUIT\r\n"), "L:QUIT|" },
	{ "empty-line", L("\r\n"), "L:|" },
	{ "max-1", L("AAAAAAAAAAAAA\r\n"), "L:AAAAAAAAAAAAA|" },
	{ "max", L("AAAAAAAAAAAAAA\r\n"), "L:AAAAAAAAAAAAAA|" },
	{ "nul-kept", L("NO\0OP\r\n"), "L:NO\\x00OP|" },
	{ "8bit-kept", L("EHLO \xc3\xa9\r\n"), "L:EHLO \\xc3\\xa9|" },
	{ "pipelined", L("EHLO x\r\nMAIL\r\nDATA\r\n"),
	    "L:EHLO x|L:MAIL|L:DATA|" },
	/* invalid */
	{ "bare-cr", L("RSET\rQUIT\r\n"), "E|" },
	{ "bare-lf", L("QUIT\n"), "E|" },
	{ "lf-only", L("\n"), "E|" },
	{ "cr-cr-lf", L("QUIT\r\r\n"), "E|" },
	{ "cr-at-start", L("\rQUIT\r\n"), "E|" },
	{ "max+1", L("AAAAAAAAAAAAAAA\r\n"), "T|" },
	{ "way-long", L("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"), "T|" },
	{ "long-then-bare-cr", L("AAAAAAAAAAAAAAAAA\rB\r\n"), "T|" },
	{ "bare-cr-then-long", L("A\rAAAAAAAAAAAAAAAAAAAAA\r\n"), "E|" },
	{ "resync", L("A\nB\r\nAAAAAAAAAAAAAAAAAA\r\nC\rD\r\nE\r\n"),
	    "E|L:B|T|E|L:E|" },
	{ "long-no-eol", L("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), "" },
};

static void
put_esc(char *dst, size_t dstsz, const char *s, size_t n)
{
	size_t i, o = strlen(dst);

	for (i = 0; i < n && o + 5 < dstsz; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f)
			dst[o++] = (char)c;
		else
			o += (size_t)snprintf(dst + o, dstsz - o, "\\x%02x", c);
	}
	dst[o] = '\0';
}

/* Feed in[0..n) in step-sized pieces; describe the events in ev. */
static size_t line_max;

static void
run(struct smtp_cmd *cp, const char *in, size_t n, size_t step, char *ev,
    size_t evsz)
{
	enum smtp_cmd_status st;
	const char *line;
	size_t off = 0, len, piece, used;

	ev[0] = '\0';
	while (off < n) {
		piece = n - off < step ? n - off : step;
		while (piece > 0) {
			st = smtp_cmd_parse(cp, (const uint8_t *)in + off,
			    piece, &used, &line, &len);
			assert_true(used >= 1 && used <= piece);
			off += used;
			piece -= used;
			if (st == SMTP_CMD_NEED_MORE) {
				assert_int_equal(piece, 0);
				continue;
			}
			if (st == SMTP_CMD_LINE) {
				assert_non_null(line);
				assert_true(len + 2 <= line_max);
				assert_int_equal(line[len], '\0');
				put_esc(ev, evsz, "L:", 2);
				put_esc(ev, evsz, line, len);
			} else {
				assert_null(line);
				put_esc(ev, evsz,
				    st == SMTP_CMD_TOO_LONG ? "T" : "E", 1);
			}
			put_esc(ev, evsz, "|", 1);
		}
	}
}

static void
test_cases(void **state)
{
	static const size_t steps[] = { 1, 2, 3, 5, 7, 13, SIZE_MAX };
	struct smtp_cmd_limits lim = { 16 };
	struct smtp_cmd *cp;
	char ev[512], pev[512];
	size_t i, j, cut;

	(void)state;
	line_max = lim.line_max;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct cmd_case *c = &cases[i];

		/* Byte by byte, odd sizes, all at once: same answer. */
		for (j = 0; j < sizeof(steps) / sizeof(steps[0]); j++) {
			cp = smtp_cmd_new(&lim);
			assert_non_null(cp);
			run(cp, c->in, c->n, steps[j], ev, sizeof(ev));
			if (strcmp(ev, c->want) != 0)
				fail_msg("%s: step %zu: got \"%s\"", c->name,
				    steps[j], ev);
			smtp_cmd_free(cp);
		}
		/* Every proper prefix gives a prefix of the events. */
		for (cut = 0; cut < c->n; cut++) {
			cp = smtp_cmd_new(&lim);
			run(cp, c->in, cut, SIZE_MAX, pev, sizeof(pev));
			/* The last event is at the last byte, so fewer. */
			if (strncmp(pev, c->want, strlen(pev)) != 0 ||
			    (c->want[0] != '\0' &&
			        strlen(pev) >= strlen(c->want)))
				fail_msg("%s: prefix %zu: got \"%s\"", c->name,
				    cut, pev);
			smtp_cmd_free(cp);
		}
	}
}

/* RFC 5321 4.5.3.1.4: 512 octets including CRLF. */
static void
test_rfc_limit(void **state)
{
	struct smtp_cmd_limits lim = { SMTP_CMD_LINE_MAX };
	static const struct {
		size_t text;
		const char *want;
	} t[] = { { 509, "L" }, { 510, "L" }, { 511, "T|" } };
	char in[600], ev[1024];
	struct smtp_cmd *cp;
	size_t i;

	(void)state;
	line_max = lim.line_max;
	for (i = 0; i < 3; i++) {
		memset(in, 'x', t[i].text);
		memcpy(in + t[i].text, "\r\n", 2);
		cp = smtp_cmd_new(&lim);
		run(cp, in, t[i].text + 2, 1, ev, sizeof(ev));
		if (strncmp(ev, t[i].want, strlen(t[i].want)) != 0)
			fail_msg("text %zu: got %.20s", t[i].text, ev);
		if (t[i].want[0] == 'L')
			assert_int_equal(strlen(ev), t[i].text + 3);
		smtp_cmd_free(cp);
	}
}

static void
test_new_limits(void **state)
{
	struct smtp_cmd_limits lim = { 2 };
	struct smtp_cmd *cp;
	char ev[64];

	(void)state;
	line_max = 3;
	assert_null(smtp_cmd_new(NULL));
	assert_null(smtp_cmd_new(&lim)); /* no room for any text */
	lim.line_max = 3;
	cp = smtp_cmd_new(&lim);
	assert_non_null(cp);
	run(cp, L("A\r\nAB\r\n\r\n"), 1, ev, sizeof(ev));
	assert_string_equal(ev, "L:A|T|L:|");
	smtp_cmd_free(cp);
	smtp_cmd_free(NULL);
}

/* After STARTTLS or DATA, a partial line or a pending skip is dropped. */
static void
test_reset(void **state)
{
	struct smtp_cmd_limits lim = { 16 };
	struct smtp_cmd *cp = smtp_cmd_new(&lim);
	char ev[64];

	(void)state;
	line_max = lim.line_max;
	run(cp, L("QUI"), 1, ev, sizeof(ev));
	assert_string_equal(ev, "");
	smtp_cmd_reset(cp);
	run(cp, L("T\r\n"), 1, ev, sizeof(ev));
	assert_string_equal(ev, "L:T|");
	run(cp, L("A\rB"), 1, ev, sizeof(ev)); /* now skipping */
	smtp_cmd_reset(cp);
	run(cp, L("NOOP\r\n"), 1, ev, sizeof(ev));
	assert_string_equal(ev, "L:NOOP|");
	run(cp, L("QUIT\r"), 1, ev, sizeof(ev)); /* CR pending */
	smtp_cmd_reset(cp);
	run(cp, L("\n"), 1, ev, sizeof(ev));
	assert_string_equal(ev, "E|");
	smtp_cmd_free(cp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_rfc_limit),
		cmocka_unit_test(test_new_limits),
		cmocka_unit_test(test_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
