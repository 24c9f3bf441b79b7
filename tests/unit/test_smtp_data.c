/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for smtp/data.c: dot-unstuffing, the end marker, the SMTP
 * smuggling matrix (CVE-2023-51764 class), flags, line limits and BDAT
 * chunk mode, each fed whole, byte by byte and at odd step sizes; and
 * what happens when `out` cannot grow (tests/unit/failalloc.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/data.h"

#include "failalloc.h"

#define L(s) s, sizeof(s) - 1
#define CR SMTP_DATA_F_BARE_CR
#define LF SMTP_DATA_F_BARE_LF
#define LONG SMTP_DATA_F_LONG_LINE
#define B8 SMTP_DATA_F_8BIT
#define NUL SMTP_DATA_F_NUL
#define NOMEM SMTP_DATA_F_NOMEM

struct data_case {
	const char *name;
	enum smtp_data_mode mode;
	const char *in;
	size_t n;
	bool end;    /* DOT: END expected */
	size_t used; /* END: bytes consumed (0: all of in) */
	const char *out;
	size_t out_n;
	unsigned flags;
};

static const struct data_case cases[] = {
	/* valid: clean messages */
	{ "empty", SMTP_DATA_DOT, L(".\r\n"), true, 0, L(""), 0 },
	{ "one-line", SMTP_DATA_DOT, L("a\r\n.\r\n"), true, 0, L("a\r\n"), 0 },
	{ "stuffed-start", SMTP_DATA_DOT, L("..a\r\n.\r\n"), true, 0,
	    L(".a\r\n"), 0 },
	{ "stuffed-line", SMTP_DATA_DOT, L("a\r\n..\r\n.\r\n"), true, 0,
	    L("a\r\n.\r\n"), 0 },
	{ "dot-text", SMTP_DATA_DOT, L("a\r\n.b\r\n.\r\n"), true, 0,
	    L("a\r\nb\r\n"), 0 },
	{ "dot-mid-line", SMTP_DATA_DOT, L("a.\r\nb.c\r\n.\r\n"), true, 0,
	    L("a.\r\nb.c\r\n"), 0 },
	{ "empty-lines", SMTP_DATA_DOT, L("\r\n\r\n.\r\n"), true, 0,
	    L("\r\n\r\n"), 0 },
	{ "pipelined-after", SMTP_DATA_DOT, L("a\r\n.\r\nQUIT\r\n"), true, 6,
	    L("a\r\n"), 0 },
	{ "8bit", SMTP_DATA_DOT, L("\xc3\xa9\r\n.\r\n"), true, 0,
	    L("\xc3\xa9\r\n"), B8 },
	{ "chunk-plain", SMTP_DATA_CHUNK, L("a\r\n.\r\n..b\r\n"), false, 0,
	    L("a\r\n.\r\n..b\r\n"), 0 },
	{ "chunk-no-eol", SMTP_DATA_CHUNK, L("a\r\nb"), false, 0, L("a\r\nb"),
	    0 },
	/* invalid: flagged or not ended */
	{ "no-end", SMTP_DATA_DOT, L("a\r\n.\r"), false, 0, L("a\r\n"), 0 },
	{ "no-end-dot", SMTP_DATA_DOT, L("a\r\n."), false, 0, L("a\r\n"), 0 },
	{ "dot-no-crlf-before", SMTP_DATA_DOT, L("a.\r\n"), false, 0,
	    L("a.\r\n"), 0 },
	{ "bare-cr-before-crlf", SMTP_DATA_DOT, L("a\r\r\n.\r\n"), true, 0,
	    L("a\r\r\n"), CR },
	{ "dot-cr-cr-lf", SMTP_DATA_DOT, L(".\r\r\n.\r\n"), true, 0,
	    L("\r\r\n"), CR },
	{ "start-dot-lf", SMTP_DATA_DOT, L(".\n.\r\n"), false, 0, L("\n.\r\n"),
	    LF },
	{ "start-dot-lf-end", SMTP_DATA_DOT, L(".\n\r\n.\r\n"), true, 0,
	    L("\n\r\n"), LF },
	{ "lf-lf", SMTP_DATA_DOT, L("a\n\n.\r\n"), false, 0, L("a\n\n.\r\n"),
	    LF },
	{ "nul", SMTP_DATA_DOT, L("a\0b\r\n.\r\n"), true, 0, L("a\0b\r\n"),
	    NUL },
	{ "chunk-bare-cr", SMTP_DATA_CHUNK, L("a\rb"), false, 0, L("a\rb"),
	    CR },
	{ "chunk-bare-lf", SMTP_DATA_CHUNK, L("a\nb"), false, 0, L("a\nb"),
	    LF },
	{ "chunk-nul-8bit", SMTP_DATA_CHUNK, L("\0\xff"), false, 0, L("\0\xff"),
	    NUL | B8 },
};

static struct smtp_data_limits lim = { SMTP_DATA_LINE_MAX };

/* Feed in step-sized pieces; return END or NEED_MORE and the result. */
static enum smtp_data_status
run(struct smtp_data *d, enum smtp_data_mode mode, const char *in, size_t n,
    size_t step, struct buf *out, size_t *used_out)
{
	enum smtp_data_status st = SMTP_DATA_NEED_MORE;
	size_t off = 0, piece, used;

	smtp_data_start(d, mode);
	buf_clear(out);
	while (off < n) {
		piece = n - off < step ? n - off : step;
		st = smtp_data_parse(d, (const uint8_t *)in + off, piece, &used,
		    out);
		assert_true(used <= piece);
		off += used;
		if (st == SMTP_DATA_END)
			break;
		assert_int_equal(used, piece);
	}
	*used_out = off;
	assert_true(smtp_data_size(d) == out->len);
	assert_true(out->len <= off);
	return st;
}

static void
check(struct smtp_data *d, const struct data_case *c, size_t step,
    struct buf *out)
{
	enum smtp_data_status st;
	size_t used;

	st = run(d, c->mode, c->in, c->n, step, out, &used);
	if ((st == SMTP_DATA_END) != c->end)
		fail_msg("%s: step %zu: status %d", c->name, step, (int)st);
	if (used != (c->end && c->used ? c->used : c->n))
		fail_msg("%s: step %zu: used %zu", c->name, step, used);
	if (out->len != c->out_n || memcmp(out->data, c->out, c->out_n) != 0)
		fail_msg("%s: step %zu: output differs (%zu bytes)", c->name,
		    step, out->len);
	if (smtp_data_flags(d) != c->flags)
		fail_msg("%s: step %zu: flags %#x", c->name, step,
		    smtp_data_flags(d));
}

static void
test_cases(void **state)
{
	static const size_t steps[] = { 1, 2, 3, 5, 7, 13, SIZE_MAX };
	struct smtp_data *d = smtp_data_new(&lim);
	struct buf out;
	size_t i, j, cut, used;

	(void)state;
	buf_init(&out, 1 << 16);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct data_case *c = &cases[i];

		for (j = 0; j < sizeof(steps) / sizeof(steps[0]); j++)
			check(d, c, steps[j], &out);
		/* No proper prefix of an ended message ends it. */
		for (cut = 0; c->end && cut < (c->used ? c->used : c->n); cut++)
			if (run(d, c->mode, c->in, cut, SIZE_MAX, &out,
			        &used) != SMTP_DATA_NEED_MORE)
				fail_msg("%s: prefix %zu ended", c->name, cut);
	}
	buf_reset(&out);
	smtp_data_free(d);
}

/*
 * Every combination of {CRLF, LF, CR} before and after a dot: only
 * CRLF "." CRLF ends the message; the others pass through unchanged
 * (the dot deleted only after CRLF) and are flagged, and the message
 * ends at the real CRLF.CRLF later.
 */
static void
test_smuggling_matrix(void **state)
{
	static const struct {
		const char *s;
		unsigned flag;
	} eol[] = { { "\r\n", 0 }, { "\n", LF }, { "\r", CR } };
	static const size_t steps[] = { 1, 2, 3, 4, 5, SIZE_MAX };
	struct smtp_data *d = smtp_data_new(&lim);
	char in[64], want[64];
	struct buf out;
	size_t pre, post, j, n, wn, used;
	enum smtp_data_status st;

	(void)state;
	buf_init(&out, 1024);
	for (pre = 0; pre < 3; pre++) {
		for (post = 0; post < 3; post++) {
			n = (size_t)snprintf(in, sizeof(in),
			    "a%s.%sMAIL FROM:<x@y>\r\n.\r\n", eol[pre].s,
			    eol[post].s);
			wn = (size_t)snprintf(want, sizeof(want),
			    "a%s%s%sMAIL FROM:<x@y>\r\n", eol[pre].s,
			    pre == 0 ? "" : ".", eol[post].s);
			for (j = 0; j < sizeof(steps) / sizeof(steps[0]); j++) {
				st = run(d, SMTP_DATA_DOT, in, n, steps[j],
				    &out, &used);
				assert_int_equal(st, SMTP_DATA_END);
				if (pre == 0 && post == 0) {
					/* The real end: the rest is commands.
					 */
					assert_int_equal(used, 6);
					assert_int_equal(out.len, 3);
					assert_memory_equal(out.data, "a\r\n",
					    3);
					assert_int_equal(smtp_data_flags(d), 0);
					continue;
				}
				if (used != n || out.len != wn ||
				    memcmp(out.data, want, wn) != 0)
					fail_msg("pre %zu post %zu step %zu: "
					         "wrong output",
					    pre, post, steps[j]);
				if (smtp_data_flags(d) !=
				    (eol[pre].flag | eol[post].flag))
					fail_msg("pre %zu post %zu: flags %#x",
					    pre, post, smtp_data_flags(d));
			}
		}
	}
	buf_reset(&out);
	smtp_data_free(d);
}

/* RFC 5321 4.5.3.1.6: 1000 octets including CRLF, not the stuffed dot. */
static void
test_line_limit(void **state)
{
	struct smtp_data *d = smtp_data_new(&lim);
	char in[1100];
	struct buf out;
	size_t text, n, used, mode;

	(void)state;
	buf_init(&out, 1 << 16);
	for (mode = 0; mode < 2; mode++) {
		for (text = 997; text <= 999; text++) {
			memset(in, 'x', text);
			memcpy(in + text, "\r\n.\r\n", 5);
			n = text + (mode == 0 ? 5 : 2);
			(void)run(d, (enum smtp_data_mode)mode, in, n, 1, &out,
			    &used);
			assert_int_equal(!!(smtp_data_flags(d) & LONG),
			    text + 2 > SMTP_DATA_LINE_MAX);
		}
	}
	/* A stuffed dot does not count: ".." + 997 decodes to 998. */
	in[0] = in[1] = '.';
	memset(in + 2, 'x', 997);
	memcpy(in + 999, "\r\n.\r\n", 5);
	assert_int_equal(run(d, SMTP_DATA_DOT, in, 1004, 3, &out, &used),
	    SMTP_DATA_END);
	assert_int_equal(smtp_data_flags(d), 0);
	assert_int_equal(out.len, 1000);
	/* A bare CR counts as text of the line. */
	memset(in, 'x', 997);
	memcpy(in + 997, "\r\r\n.\r\n", 6);
	(void)run(d, SMTP_DATA_DOT, in, 1003, 1, &out, &used);
	assert_int_equal(smtp_data_flags(d), CR);
	memset(in, 'x', 998);
	memcpy(in + 998, "\r\r\n.\r\n", 6);
	(void)run(d, SMTP_DATA_DOT, in, 1004, 1, &out, &used);
	assert_int_equal(smtp_data_flags(d), CR | LONG);
	buf_reset(&out);
	smtp_data_free(d);
}

/* BDAT: state spans chunks; LAST settles a trailing CR. */
static void
test_chunks(void **state)
{
	struct smtp_data *d = smtp_data_new(&lim);
	struct buf out;
	size_t used;

	(void)state;
	buf_init(&out, 1024);
	smtp_data_start(d, SMTP_DATA_CHUNK);
	assert_int_equal(smtp_data_parse(d, (const uint8_t *)"a\r", 2, &used,
	                     &out),
	    SMTP_DATA_NEED_MORE);
	assert_int_equal(used, 2);
	assert_int_equal(smtp_data_parse(d, (const uint8_t *)"\nb\r", 3, &used,
	                     &out),
	    SMTP_DATA_NEED_MORE);
	assert_int_equal(smtp_data_flags(d), 0);
	smtp_data_finish(d);
	assert_int_equal(smtp_data_flags(d), CR);
	assert_int_equal(out.len, 5);
	assert_int_equal(smtp_data_size(d), 5);
	/* After finish, nothing more is taken. */
	assert_int_equal(smtp_data_parse(d, (const uint8_t *)"x", 1, &used,
	                     &out),
	    SMTP_DATA_END);
	assert_int_equal(used, 0);
	/* A message ending without CRLF is fine in BDAT. */
	smtp_data_start(d, SMTP_DATA_CHUNK);
	assert_int_equal(smtp_data_size(d), 0);
	(void)smtp_data_parse(d, (const uint8_t *)"abc", 3, &used, &out);
	smtp_data_finish(d);
	assert_int_equal(smtp_data_flags(d), 0);
	/* After END in DOT mode, likewise until the next start. */
	smtp_data_start(d, SMTP_DATA_DOT);
	assert_int_equal(smtp_data_parse(d, (const uint8_t *)".\r\nx", 4, &used,
	                     &out),
	    SMTP_DATA_END);
	assert_int_equal(used, 3);
	assert_int_equal(smtp_data_parse(d, (const uint8_t *)"x", 1, &used,
	                     &out),
	    SMTP_DATA_END);
	assert_int_equal(used, 0);
	buf_reset(&out);
	smtp_data_free(d);
}

/* Feed in step-sized pieces, as run() but with no check of out. */
static void
feed_all(struct smtp_data *d, enum smtp_data_mode mode, const char *in,
    size_t n, size_t step, struct buf *out)
{
	size_t off = 0, piece, used;

	smtp_data_start(d, mode);
	buf_clear(out);
	while (off < n) {
		piece = n - off < step ? n - off : step;
		if (smtp_data_parse(d, (const uint8_t *)in + off, piece, &used,
		        out) == SMTP_DATA_END)
			break;
		off += used;
	}
	if (mode == SMTP_DATA_CHUNK)
		smtp_data_finish(d);
}

/*
 * Regression: when `out` could not grow, the decoder dropped the bytes
 * without a word (buf_append's result ignored on purpose, for "full"),
 * and the session would have queued a truncated message. Every
 * allocation of `out` fails once, in both modes and at several steps:
 * each time NOMEM is set and the bytes are missing; the next message
 * starts clean.
 */
static void
test_nomem(void **state)
{
	static const size_t steps[] = { 1, 7, 600, SIZE_MAX };
	char in[40 * 72 + 3];
	struct smtp_data *d = smtp_data_new(&lim);
	struct buf out;
	size_t i, j, k, n = 0;
	unsigned long fail;
	uint64_t size;
	int mode;

	(void)state;
	assert_non_null(d);
	for (i = 0; i < 40; i++) { /* 40 lines of 70, one dot-stuffed */
		memset(in + n, 'a' + (int)i % 26, 70);
		if (i == 20)
			in[n] = '.';
		in[n + 70] = '\r';
		in[n + 71] = '\n';
		n += 72;
	}
	in[n++] = '.';
	in[n++] = '\r';
	in[n++] = '\n';
	for (mode = SMTP_DATA_DOT; mode <= SMTP_DATA_CHUNK; mode++)
		for (j = 0; j < sizeof(steps) / sizeof(steps[0]); j++) {
			for (fail = 0;; fail++) {
				buf_init(&out, sizeof(in) + 8);
				failalloc_arm(fail);
				feed_all(d, (enum smtp_data_mode)mode, in, n,
				    steps[j], &out);
				if (!failalloc_disarm())
					break;
				size = smtp_data_size(d);
				if (!(smtp_data_flags(d) & NOMEM) ||
				    out.len >= size)
					fail_msg("mode %d step %zu alloc %lu: "
					         "flags %#x, %zu of %llu bytes",
					    mode, steps[j], fail,
					    smtp_data_flags(d), out.len,
					    (unsigned long long)size);
				buf_reset(&out);
			}
			/* out doubles from 64 bytes to hold ~2.9 KiB. */
			assert_true(fail >= 6);
			assert_int_equal(smtp_data_flags(d), 0);
			assert_int_equal(out.len, smtp_data_size(d));
			assert_int_equal(out.len,
			    mode == SMTP_DATA_DOT ? n - 3 - 1 : n);
			buf_reset(&out);
		}
	/* The flag is the message's: a start clears it. */
	buf_init(&out, sizeof(in) + 8);
	failalloc_arm(0);
	feed_all(d, SMTP_DATA_DOT, in, n, SIZE_MAX, &out);
	assert_true(failalloc_disarm());
	assert_int_equal(smtp_data_flags(d), NOMEM);
	k = out.len;
	feed_all(d, SMTP_DATA_DOT, in, n, SIZE_MAX, &out);
	assert_int_equal(smtp_data_flags(d), 0);
	assert_true(out.len > k);
	buf_reset(&out);
	smtp_data_free(d);
}

static void
test_new(void **state)
{
	struct smtp_data_limits small = { 2 };

	(void)state;
	assert_null(smtp_data_new(NULL));
	assert_null(smtp_data_new(&small));
	small.line_max = 3;
	smtp_data_free(smtp_data_new(&small));
	smtp_data_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_smuggling_matrix),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_chunks),
		cmocka_unit_test(test_nomem),
		cmocka_unit_test(test_new),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
