/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for milter/proto.c: every encoder against hand-built
 * packets (libmilter's mfdef.h layouts), every reply decoded at every
 * split of its bytes, the caps at max-1/max/max+1, malformed packets,
 * option negotiation, and running out of memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "failalloc.h"
#include "milter/proto.h"
#include "util/buf.h"

#define L(s) s, sizeof(s) - 1

/* ---------------------------------------------------------------- */
/* Encoders                                                          */

static void
want_bytes(const struct buf *b, const char *want, size_t n)
{
	size_t i;

	if (b->len != n)
		fail_msg("length %zu, want %zu", b->len, n);
	for (i = 0; i < n; i++)
		if (b->data[i] != (uint8_t)want[i])
			fail_msg("byte %zu: 0x%02x, want 0x%02x", i, b->data[i],
			    (uint8_t)want[i]);
}

static void
test_enc_optneg(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(milter_enc_optneg(&b, MILTER_VERSION, MILTER_A_ALL,
	                     MILTER_P_NR_HDR | MILTER_P_SKIP),
	    0);
	want_bytes(&b, L("\0\0\0\x0d"
	                 "O"
	                 "\0\0\0\x06"
	                 "\0\0\x01\xff"
	                 "\0\0\x04\x80"));
	buf_reset(&b);
}

static void
test_enc_macro(void **state)
{
	static const char *const nv[] = { "j", "mx.example", "{daemon_name}",
		"tern" };
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(milter_enc_macro(&b, MILTER_C_CONNECT, nv, 4), 0);
	want_bytes(&b, L("\0\0\0\x22"
	                 "D"
	                 "C"
	                 "j\0mx.example\0{daemon_name}\0tern\0"));
	buf_clear(&b);
	/* No macros: just the stage. */
	assert_int_equal(milter_enc_macro(&b, MILTER_C_BODYEOB, NULL, 0), 0);
	want_bytes(&b, L("\0\0\0\x02"
	                 "DE"));
	buf_clear(&b);
	assert_int_equal(milter_enc_macro(&b, MILTER_C_CONNECT, nv, 3), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(milter_enc_macro(&b, 'x', nv, 2), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(b.len, 0);
	buf_reset(&b);
}

static void
test_enc_connect(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(milter_enc_connect(&b, "client.example",
	                     MILTER_FAM_INET, 25000, "192.0.2.1"),
	    0);
	want_bytes(&b, L("\0\0\0\x1d"
	                 "C"
	                 "client.example\0"
	                 "4"
	                 "\x61\xa8"
	                 "192.0.2.1\0"));
	buf_clear(&b);
	assert_int_equal(milter_enc_connect(&b, "[2001:db8::1]",
	                     MILTER_FAM_INET6, 587, "2001:db8::1"),
	    0);
	want_bytes(&b, L("\0\0\0\x1e"
	                 "C"
	                 "[2001:db8::1]\0"
	                 "6"
	                 "\x02\x4b"
	                 "2001:db8::1\0"));
	buf_clear(&b);
	assert_int_equal(milter_enc_connect(&b, "localhost", MILTER_FAM_UNIX, 0,
	                     "/run/tern.sock"),
	    0);
	want_bytes(&b, L("\0\0\0\x1d"
	                 "C"
	                 "localhost\0"
	                 "L"
	                 "\0\0"
	                 "/run/tern.sock\0"));
	buf_clear(&b);
	assert_int_equal(milter_enc_connect(&b, "localhost", MILTER_FAM_UNKNOWN,
	                     25, NULL),
	    0);
	want_bytes(&b, L("\0\0\0\x0c"
	                 "C"
	                 "localhost\0"
	                 "U"));
	buf_clear(&b);
	assert_int_equal(milter_enc_connect(&b, "h", 'X', 25, "a"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(milter_enc_connect(&b, "h", MILTER_FAM_INET, 25, NULL),
	    -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(b.len, 0);
	buf_reset(&b);
}

static void
test_enc_helo_unknown_header(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(milter_enc_helo(&b, "mx.example"), 0);
	want_bytes(&b, L("\0\0\0\x0c"
	                 "H"
	                 "mx.example\0"));
	buf_clear(&b);
	assert_int_equal(milter_enc_unknown(&b, "XYZZY now"), 0);
	want_bytes(&b, L("\0\0\0\x0b"
	                 "U"
	                 "XYZZY now\0"));
	buf_clear(&b);
	assert_int_equal(milter_enc_header(&b, "Subject", " hi there"), 0);
	want_bytes(&b, L("\0\0\0\x13"
	                 "L"
	                 "Subject\0 hi there\0"));
	buf_clear(&b);
	assert_int_equal(milter_enc_header(&b, "X-Empty", ""), 0);
	want_bytes(&b, L("\0\0\0\x0a"
	                 "L"
	                 "X-Empty\0\0"));
	buf_reset(&b);
}

static void
test_enc_mail_rcpt(void **state)
{
	static const char *const params[] = { "SIZE=100", "BODY=8BITMIME" };
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(milter_enc_mail(&b, "a@b.example", params, 2), 0);
	want_bytes(&b, L("\0\0\0\x26"
	                 "M"
	                 "<a@b.example>\0SIZE=100\0BODY=8BITMIME\0"));
	buf_clear(&b);
	/* The null sender. */
	assert_int_equal(milter_enc_mail(&b, "", NULL, 0), 0);
	want_bytes(&b, L("\0\0\0\x04"
	                 "M"
	                 "<>\0"));
	buf_clear(&b);
	assert_int_equal(milter_enc_rcpt(&b, "c@d.example", params, 1), 0);
	want_bytes(&b, L("\0\0\0\x18"
	                 "R"
	                 "<c@d.example>\0SIZE=100\0"));
	buf_reset(&b);
}

static void
test_enc_cmds(void **state)
{
	static const char ok[] = "TNEAQK";
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b, 1024);
	for (i = 0; i < sizeof(ok) - 1; i++) {
		char want[5] = { 0, 0, 0, 1, ok[i] };

		buf_clear(&b);
		assert_int_equal(milter_enc_cmd(&b, ok[i]), 0);
		want_bytes(&b, want, sizeof(want));
	}
	buf_clear(&b);
	assert_int_equal(milter_enc_cmd(&b, MILTER_C_HELO), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(milter_enc_cmd(&b, '\0'), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(b.len, 0);
	buf_reset(&b);
}

static void
test_enc_body(void **state)
{
	static uint8_t chunk[MILTER_CHUNK_MAX + 1];
	struct buf b;

	(void)state;
	memset(chunk, 'x', sizeof(chunk));
	buf_init(&b, 2 * sizeof(chunk));
	assert_int_equal(milter_enc_body(&b, (const uint8_t *)"a\r\n", 3), 0);
	want_bytes(&b, L("\0\0\0\x04"
	                 "B"
	                 "a\r\n"));
	/* max-1, max, max+1 */
	buf_clear(&b);
	assert_int_equal(milter_enc_body(&b, chunk, MILTER_CHUNK_MAX - 1), 0);
	assert_int_equal(b.len, 5 + MILTER_CHUNK_MAX - 1);
	assert_memory_equal(b.data,
	    "\0\0\xff\xff"
	    "B",
	    5);
	buf_clear(&b);
	assert_int_equal(milter_enc_body(&b, chunk, MILTER_CHUNK_MAX), 0);
	assert_int_equal(b.len, 5 + MILTER_CHUNK_MAX);
	assert_memory_equal(b.data,
	    "\0\x01\0\0"
	    "B",
	    5);
	buf_clear(&b);
	assert_int_equal(milter_enc_body(&b, chunk, MILTER_CHUNK_MAX + 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(b.len, 0);
	buf_reset(&b);
}

/* A full buffer: the encoder fails and leaves what was there. */
static void
test_enc_too_big_unchanged(void **state)
{
	static const char *const params[] = { "SIZE=100" };
	struct buf b;

	(void)state;
	buf_init(&b, 20);
	assert_int_equal(milter_enc_cmd(&b, MILTER_C_DATA), 0);
	assert_int_equal(milter_enc_mail(&b, "a@b.example", params, 1), -1);
	assert_int_equal(errno, EMSGSIZE);
	want_bytes(&b, L("\0\0\0\x01"
	                 "T"));
	assert_int_equal(b.data[b.len], '\0');
	assert_int_equal(milter_enc_header(&b, "Subject", "long enough"), -1);
	want_bytes(&b, L("\0\0\0\x01"
	                 "T"));
	buf_reset(&b);
}

/* ---------------------------------------------------------------- */
/* Decoder                                                           */

struct dec_case {
	const char *name;
	const char *in;
	size_t n;
	/* events: see put_ev(); "E;" is an error */
	const char *want;
};

/* reply_max 64, replbody_max 100 */
static const struct milter_limits lim = { 64, 100 };

#define P1(c) "\0\0\0\x01" c
static const struct dec_case cases[] = {
	/* valid: no payload */
	{ "continue", L(P1("c")), "c;" },
	{ "accept", L(P1("a")), "a;" },
	{ "reject", L(P1("r")), "r;" },
	{ "tempfail", L(P1("t")), "t;" },
	{ "discard", L(P1("d")), "d;" },
	{ "skip", L(P1("s")), "s;" },
	{ "progress", L(P1("p")), "p;" },
	{ "shutdown", L(P1("4")), "4;" },
	{ "conn-fail", L(P1("f")), "f;" },
	{ "two", L(P1("p") P1("c")), "p;c;" },
	/* valid: payloads */
	{ "replycode",
	    L("\0\0\0\x13"
	      "y550 5.7.1 go away\0"),
	    "y 550 1 550 5.7.1 go away;" },
	{ "replycode-bare", L("\0\0\0\x05y451\0"), "y 451 1 451;" },
	{ "replycode-multi",
	    L("\0\0\0\x1a"
	      "y550-5.7.1 a\r\n550 5.7.1 b\0"),
	    "y 550 2 550-5.7.1 a\r\n550 5.7.1 b;" },
	{ "replycode-crlf",
	    L("\0\0\0\x09"
	      "y421 x\r\n\0"),
	    "y 421 1 421 x;" },
	{ "replycode-pct", L("\0\0\0\x0dy550 100%% \t\0"),
	    "y 550 1 550 100%% \t;" },
	{ "quarantine",
	    L("\0\0\0\x0d"
	      "qvirus found\0"),
	    "q virus found;" },
	{ "quarantine-empty", L("\0\0\0\x02q\0"), "q ;" },
	{ "addheader",
	    L("\0\0\0\x0e"
	      "hX-Spam\0 yes!\0"),
	    "h X-Spam= yes!;" },
	{ "addheader-folded",
	    L("\0\0\0\x0e"
	      "hX-A\0a\n\tb\r\n c\0"),
	    "h X-A=a\n\tb\r\n c;" },
	{ "addheader-8bit", L("\0\0\0\x09hX\0\xc3\xa9t\xc3\xa9\0"),
	    "h X=\xc3\xa9t\xc3\xa9;" },
	{ "insheader",
	    L("\0\0\0\x0d"
	      "i\0\0\0\0X-Top\0v\0"),
	    "i 0 X-Top=v;" },
	{ "chgheader",
	    L("\0\0\0\x0f"
	      "m\0\0\0\x02Subject\0x\0"),
	    "m 2 Subject=x;" },
	{ "chgheader-delete",
	    L("\0\0\0\x0e"
	      "m\0\0\0\x01Subject\0\0"),
	    "m 1 Subject=;" },
	{ "addrcpt",
	    L("\0\0\0\x09"
	      "+<a@b.c>\0"),
	    "+ <a@b.c>;" },
	{ "delrcpt",
	    L("\0\0\0\x09"
	      "-<a@b.c>\0"),
	    "- <a@b.c>;" },
	{ "addrcpt-par",
	    L("\0\0\0\x16"
	      "2<a@b.c>\0NOTIFY=NEVER\0"),
	    "2 <a@b.c> NOTIFY=NEVER;" },
	{ "addrcpt-par-none",
	    L("\0\0\0\x09"
	      "2<a@b.c>\0"),
	    "2 <a@b.c> ;" },
	{ "chgfrom",
	    L("\0\0\0\x0c"
	      "e<>\0SIZE=10\0"),
	    "e <> SIZE=10;" },
	{ "chgfrom-none",
	    L("\0\0\0\x09"
	      "e<a@b.c>\0"),
	    "e <a@b.c> ;" },
	{ "replbody",
	    L("\0\0\0\x06"
	      "bab\0\r\n"),
	    "b 5;" },
	{ "replbody-empty", L(P1("b")), "b 0;" },
	{ "setsymlist",
	    L("\0\0\0\x0d"
	      "l\0\0\0\x02{a} {b}\0"),
	    "l 2 {a} {b};" },
	{ "optneg", L("\0\0\0\x0dO\0\0\0\x06\0\0\x01\xff\0\0\0\x80"),
	    "O 6 1ff 80 0;" },
	{ "optneg-syms",
	    L("\0\0\0\x15"
	      "O\0\0\0\x06\0\0\0\x01\0\0\0\0\0\0\0\x05i j\0"),
	    "O 6 1 0 8;" },
	/* invalid */
	{ "zero-length", L("\0\0\0\0c"), "E;" },
	{ "bad-code", L(P1("z")), "E;" },
	{ "bad-code-nul", L(P1("\0")), "E;" },
	{ "command-code", L(P1("C")), "E;" },
	{ "oversize", L("\0\0\0\x42h"), "E;" },
	{ "huge",
	    L("\xff\xff\xff\xff"
	      "b"),
	    "E;" },
	{ "payload-on-continue",
	    L("\0\0\0\x02"
	      "cx"),
	    "E;" },
	{ "payload-on-accept",
	    L("\0\0\0\x02"
	      "a\0"),
	    "E;" },
	{ "replycode-no-nul", L("\0\0\0\x08y550 abc"), "E;" },
	{ "replycode-nul-inside", L("\0\0\0\x09y550 a\0b\0"), "E;" },
	{ "replycode-2xx", L("\0\0\0\x08y250 ok\0"), "E;" },
	{ "replycode-3xx", L("\0\0\0\x08y354 go\0"), "E;" },
	{ "replycode-short", L("\0\0\0\x04y55\0"), "E;" },
	{ "replycode-letters", L("\0\0\0\x08y5x0 no\0"), "E;" },
	{ "replycode-sep", L("\0\0\0\x08y550_no\0"), "E;" },
	{ "replycode-mixed",
	    L("\0\0\0\x0e"
	      "y550-a\r\n551 b\0"),
	    "E;" },
	{ "replycode-last-dash", L("\0\0\0\x08y550-no\0"), "E;" },
	{ "replycode-first-space",
	    L("\0\0\0\x0e"
	      "y550 a\r\n550 b\0"),
	    "E;" },
	{ "replycode-bare-lf",
	    L("\0\0\0\x0d"
	      "y550-a\n550 b\0"),
	    "E;" },
	{ "replycode-bare-cr",
	    L("\0\0\0\x0d"
	      "y550-a\r550 b\0"),
	    "E;" },
	{ "replycode-esc-class",
	    L("\0\0\0\x0e"
	      "y550 4.7.1 no\0"),
	    "E;" },
	{ "replycode-esc-class-2",
	    L("\0\0\0\x1a"
	      "y451-4.7.1 a\r\n451 5.7.1 b\0"),
	    "E;" },
	{ "replycode-ctrl", L("\0\0\0\x08y550 \x01x\0"), "E;" },
	{ "replycode-8bit", L("\0\0\0\x08y550 \xc3\xa9\0"), "E;" },
	{ "replycode-empty", L("\0\0\0\x02y\0"), "E;" },
	{ "replycode-empty-line",
	    L("\0\0\0\x0b"
	      "y550-a\r\n\r\n\0"),
	    "E;" },
	{ "replycode-trailing",
	    L("\0\0\0\x09"
	      "y550 a\0xx"),
	    "E;" },
	{ "quarantine-no-nul", L("\0\0\0\x02qx"), "E;" },
	{ "quarantine-crlf", L("\0\0\0\x05qa\r\n\0"), "E;" },
	{ "quarantine-empty-payload", L(P1("q")), "E;" },
	{ "addheader-no-value",
	    L("\0\0\0\x05"
	      "hX-A\0"),
	    "E;" },
	{ "addheader-value-no-nul", L("\0\0\0\x06hX-A\0v"), "E;" },
	{ "addheader-empty-name", L("\0\0\0\x04h\0v\0"), "E;" },
	{ "addheader-colon", L("\0\0\0\x07hX:A\0v\0"), "E;" },
	{ "addheader-space-name", L("\0\0\0\x07hX A\0v\0"), "E;" },
	{ "addheader-crlf-name", L("\0\0\0\x08hX\r\nA\0v\0"), "E;" },
	{ "addheader-8bit-name", L("\0\0\0\x06h\xc3\xa9\0v\0"), "E;" },
	{ "addheader-bare-lf",
	    L("\0\0\0\x07"
	      "hX\0a\nb\0"),
	    "E;" },
	{ "addheader-bare-cr",
	    L("\0\0\0\x08"
	      "hX\0a\r\tb\0"),
	    "E;" },
	{ "addheader-crlf-end", L("\0\0\0\x07hX\0a\r\n\0"), "E;" },
	{ "addheader-nul-ctl",
	    L("\0\0\0\x07hX\0a\x01"
	      "b\0"),
	    "E;" },
	{ "addheader-extra", L("\0\0\0\x07hX\0v\0zz"), "E;" },
	{ "insheader-short-index", L("\0\0\0\x03i\0\0"), "E;" },
	{ "chgheader-no-index", L("\0\0\0\x05mX\0v\0"), "E;" },
	{ "addrcpt-empty", L("\0\0\0\x02+\0"), "E;" },
	{ "addrcpt-no-nul", L("\0\0\0\x04+a@b"), "E;" },
	{ "addrcpt-crlf", L("\0\0\0\x06+a\r\nb\0"), "E;" },
	{ "addrcpt-params",
	    L("\0\0\0\x07"
	      "+a\0b=c\0"),
	    "E;" },
	{ "delrcpt-tab", L("\0\0\0\x05-a\tb\0"), "E;" },
	{ "chgfrom-params-no-nul",
	    L("\0\0\0\x06"
	      "ea\0b=c"),
	    "E;" },
	{ "chgfrom-three",
	    L("\0\0\0\x07"
	      "ea\0b\0c\0"),
	    "E;" },
	{ "setsymlist-stage",
	    L("\0\0\0\x07"
	      "l\0\0\0\x07j\0"),
	    "E;" },
	{ "setsymlist-short", L("\0\0\0\x04l\0\0\0"), "E;" },
	{ "setsymlist-no-nul",
	    L("\0\0\0\x06"
	      "l\0\0\0\x01j"),
	    "E;" },
	{ "optneg-short", L("\0\0\0\x0cO\0\0\0\x06\0\0\x01\xff\0\0\0"), "E;" },
	{ "optneg-bad-syms",
	    L("\0\0\0\x11O\0\0\0\x06\0\0\0\x01\0\0\0\0\0\0"
	      "\0\x09"),
	    "E;" },
	{ "optneg-syms-no-nul",
	    L("\0\0\0\x14O\0\0\0\x06\0\0\0\x01\0\0\0\0\0\0\0\x05i j"), "E;" },
	{ "after-good", L(P1("c") P1("z")), "c;E;" },
	/* incomplete: no event */
	{ "empty", L(""), "" },
	{ "hdr-partial", L("\0\0\0"), "" },
	{ "payload-partial", L("\0\0\0\x0cqvirus"), "" },
};

static void
put_ev(char *dst, size_t dstsz, enum milter_dec_status st,
    const struct milter_reply *r)
{
	char ev[256];
	int k = 0;

	switch (st) {
	case MILTER_DEC_NEED_MORE:
		return;
	case MILTER_DEC_ERROR:
		k = snprintf(ev, sizeof(ev), "E;");
		break;
	case MILTER_DEC_REPLY:
		if (r == NULL) /* feed_lim checked it; for the analyzer */
			abort();
		switch (r->code) {
		case MILTER_R_REPLYCODE:
			k = snprintf(ev, sizeof(ev), "y %u %zu %s;",
			    r->smtp_code, r->nlines, r->s1);
			break;
		case MILTER_R_QUARANTINE:
		case MILTER_R_ADDRCPT:
		case MILTER_R_DELRCPT:
			k = snprintf(ev, sizeof(ev), "%c %s;", r->code, r->s1);
			break;
		case MILTER_R_ADDHEADER:
			k = snprintf(ev, sizeof(ev), "h %s=%s;", r->s1, r->s2);
			break;
		case MILTER_R_INSHEADER:
		case MILTER_R_CHGHEADER:
			k = snprintf(ev, sizeof(ev), "%c %u %s=%s;", r->code,
			    r->index, r->s1, r->s2);
			break;
		case MILTER_R_ADDRCPT_PAR:
		case MILTER_R_CHGFROM:
			k = snprintf(ev, sizeof(ev), "%c %s %s;", r->code,
			    r->s1, r->s2);
			break;
		case MILTER_R_REPLBODY:
			k = snprintf(ev, sizeof(ev), "b %zu;", r->data_len);
			break;
		case MILTER_R_SETSYMLIST:
			k = snprintf(ev, sizeof(ev), "l %u %s;", r->index,
			    r->s1);
			break;
		case MILTER_R_OPTNEG:
			k = snprintf(ev, sizeof(ev), "O %u %x %x %zu;",
			    r->version, r->actions, r->proto, r->data_len);
			break;
		default:
			k = snprintf(ev, sizeof(ev), "%c;", r->code);
			break;
		}
		/* Strings are NUL-terminated at their length, no NUL in. */
		if (r->s1 != NULL) {
			assert_int_equal(r->s1[r->s1_len], '\0');
			assert_int_equal(strlen(r->s1), r->s1_len);
		}
		if (r->s2 != NULL) {
			assert_int_equal(r->s2[r->s2_len], '\0');
			assert_int_equal(strlen(r->s2), r->s2_len);
		}
		break;
	}
	assert_true(k > 0 && (size_t)k < sizeof(ev));
	assert_true(strlen(dst) + strlen(ev) < dstsz);
	memcpy(dst + strlen(dst), ev, strlen(ev) + 1);
}

/* Feed in[0..n) in `step`-byte pieces; events into out. */
static void
feed_lim(const struct milter_limits *l, const char *in, size_t n, size_t step,
    char *out, size_t outsz)
{
	struct milter_dec *d;
	const struct milter_reply *r;
	enum milter_dec_status st;
	const char *why;
	size_t off = 0, piece, used;

	out[0] = '\0';
	d = milter_dec_new(l);
	assert_non_null(d);
	while (off < n) {
		piece = n - off < step ? n - off : step;
		while (piece > 0) {
			st = milter_dec_feed(d, (const uint8_t *)in + off,
			    piece, &used, &r, &why);
			assert_true(used >= 1 && used <= piece);
			assert_true((st == MILTER_DEC_REPLY) == (r != NULL));
			assert_true((st == MILTER_DEC_ERROR) == (why != NULL));
			if (st == MILTER_DEC_NEED_MORE)
				assert_int_equal(used, piece);
			put_ev(out, outsz, st, r);
			off += used;
			piece -= used;
			if (st == MILTER_DEC_ERROR) {
				/* Sticky, and consumes nothing more. */
				assert_int_equal(milter_dec_feed(d,
				                     (const uint8_t *)"c", 1,
				                     &used, &r, &why),
				    MILTER_DEC_ERROR);
				assert_int_equal(used, 0);
				assert_non_null(why);
				milter_dec_free(d);
				return;
			}
		}
	}
	milter_dec_free(d);
}

static void
feed(const char *in, size_t n, size_t step, char *out, size_t outsz)
{
	feed_lim(&lim, in, n, step, out, outsz);
}

static void
test_dec_cases(void **state)
{
	static const size_t steps[] = { 1, 2, 3, 5, 7, SIZE_MAX };
	char got[512];
	size_t i, j, cut;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct dec_case *c = &cases[i];

		for (j = 0; j < sizeof(steps) / sizeof(steps[0]); j++) {
			feed(c->in, c->n, steps[j], got, sizeof(got));
			if (strcmp(got, c->want) != 0)
				fail_msg("%s: step %zu: got '%s' want '%s'",
				    c->name, steps[j], got, c->want);
		}
		/* Every split in two pieces gives the same events. */
		for (cut = 1; cut < c->n; cut++) {
			char two[512];
			struct milter_dec *d;
			const struct milter_reply *r;
			const char *why;
			size_t off = 0, used, end;
			enum milter_dec_status st;

			two[0] = '\0';
			d = milter_dec_new(&lim);
			assert_non_null(d);
			for (end = cut; off < c->n; end = c->n) {
				while (off < end) {
					st = milter_dec_feed(d,
					    (const uint8_t *)c->in + off,
					    end - off, &used, &r, &why);
					put_ev(two, sizeof(two), st, r);
					if (st == MILTER_DEC_ERROR)
						goto done;
					off += used;
				}
			}
		done:
			milter_dec_free(d);
			if (strcmp(two, c->want) != 0)
				fail_msg("%s: cut %zu: got '%s'", c->name, cut,
				    two);
		}
		/* No proper prefix of one good reply yields an event. */
		if (strchr(c->want, ';') == NULL || c->want[0] == 'E' ||
		    strchr(c->want, ';')[1] != '\0')
			continue;
		for (cut = 0; cut < c->n; cut++) {
			feed(c->in, cut, SIZE_MAX, got, sizeof(got));
			if (got[0] != '\0')
				fail_msg("%s: prefix %zu gave '%s'", c->name,
				    cut, got);
		}
	}
}

/* A packet of code c with an n-byte payload of filler. */
static char *
mkpkt(char c, size_t n, size_t *len_out)
{
	char *p = malloc(n + 5);

	assert_non_null(p);
	p[0] = (char)(uint8_t)((n + 1) >> 24);
	p[1] = (char)(uint8_t)((n + 1) >> 16);
	p[2] = (char)(uint8_t)((n + 1) >> 8);
	p[3] = (char)(uint8_t)(n + 1);
	p[4] = c;
	memset(p + 5, 'x', n);
	*len_out = n + 5;
	return p;
}

static void
test_dec_limits(void **state)
{
	char got[256], *p;
	size_t len;

	(void)state;
	/* QUARANTINE: reason + NUL fills the payload; cap 64. */
	p = mkpkt('q', 63, &len);
	p[len - 1] = '\0';
	feed(p, len, SIZE_MAX, got, sizeof(got));
	assert_int_equal(got[0], 'q'); /* max-1 */
	free(p);
	p = mkpkt('q', 64, &len);
	p[len - 1] = '\0';
	feed(p, len, SIZE_MAX, got, sizeof(got));
	assert_int_equal(got[0], 'q'); /* max */
	free(p);
	p = mkpkt('q', 65, &len);
	p[len - 1] = '\0';
	feed(p, len, SIZE_MAX, got, sizeof(got));
	assert_string_equal(got, "E;"); /* max+1 */
	/* ... refused on its header, before any payload arrived. */
	feed(p, 5, SIZE_MAX, got, sizeof(got));
	assert_string_equal(got, "E;");
	free(p);
	/* REPLBODY has its own cap, 100. */
	p = mkpkt('b', 99, &len);
	feed(p, len, 7, got, sizeof(got));
	assert_string_equal(got, "b 99;");
	free(p);
	p = mkpkt('b', 100, &len);
	feed(p, len, 7, got, sizeof(got));
	assert_string_equal(got, "b 100;");
	free(p);
	p = mkpkt('b', 101, &len);
	feed(p, len, 7, got, sizeof(got));
	assert_string_equal(got, "E;");
	free(p);
}

/* Default caps: 64 KiB for both; a 10 MB REPLBODY header is refused. */
static void
test_dec_default_caps(void **state)
{
	struct milter_limits none = { 0, 0 };
	char got[64], *p;
	size_t len;

	(void)state;
	p = mkpkt('b', MILTER_REPLY_MAX, &len);
	feed_lim(&none, p, len, SIZE_MAX, got, sizeof(got));
	assert_string_equal(got, "b 65536;");
	free(p);
	feed_lim(&none,
	    L("\0\x98\x96\x81"
	      "b"),
	    SIZE_MAX, got, sizeof(got));
	assert_string_equal(got, "E;");
	feed_lim(NULL,
	    L("\0\x01\0\x02"
	      "b"),
	    SIZE_MAX, got, sizeof(got));
	assert_string_equal(got, "E;");
}

static void
test_dec_why(void **state)
{
	struct milter_dec *d;
	const struct milter_reply *r;
	const char *why;
	size_t used;

	(void)state;
	d = milter_dec_new(&lim);
	assert_non_null(d);
	assert_int_equal(milter_dec_feed(d, (const uint8_t *)"\0\0\0\x01z", 5,
	                     &used, &r, &why),
	    MILTER_DEC_ERROR);
	assert_string_equal(why, "unknown reply code");
	assert_int_equal(used, 5);
	milter_dec_free(d);
	milter_dec_free(NULL);
}

/* Every code the decoder takes has a name; nothing else has one. */
static void
test_reply_name(void **state)
{
	static const char codes[] = "+-24abcdefhilmOpqrsty";
	unsigned c;

	(void)state;
	assert_string_equal(milter_reply_name(MILTER_R_CONTINUE), "continue");
	assert_string_equal(milter_reply_name(MILTER_R_REPLYCODE), "replycode");
	for (c = 0; c < 256; c++)
		if ((milter_reply_name((char)c) != NULL) !=
		    (c != 0 && strchr(codes, (int)c) != NULL))
			fail_msg("code 0x%02x", c);
}

static void
test_optneg_check(void **state)
{
	const struct milter_optneg offered = { MILTER_VERSION, MILTER_A_ALL,
		MILTER_P_NR_HDR | MILTER_P_SKIP | MILTER_P_NOUNKNOWN };
	struct milter_reply r;
	struct milter_optneg out;
	const char *why;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.code = MILTER_R_OPTNEG;
	r.version = 6;
	r.actions = MILTER_A_ADDHDRS | MILTER_A_CHGBODY;
	r.proto = MILTER_P_NR_HDR;
	assert_int_equal(milter_optneg_check(&r, &offered, &out, &why), 0);
	assert_int_equal(out.version, 6);
	assert_int_equal(out.actions, r.actions);
	assert_int_equal(out.proto, MILTER_P_NR_HDR);
	/* Negotiated down to the lower version. */
	r.version = 2;
	assert_int_equal(milter_optneg_check(&r, &offered, &out, &why), 0);
	assert_int_equal(out.version, 2);
	r.version = 7;
	assert_int_equal(milter_optneg_check(&r, &offered, &out, &why), 0);
	assert_int_equal(out.version, 6);
	r.version = 1;
	assert_int_equal(milter_optneg_check(&r, &offered, &out, &why), -1);
	assert_non_null(why);
	r.version = 6;
	/* More than offered. */
	r.proto = MILTER_P_NR_HDR | MILTER_P_NOBODY;
	assert_int_equal(milter_optneg_check(&r, &offered, &out, &why), -1);
	assert_string_equal(why, "filter asks for protocol flags not offered");
	r.proto = 0;
	r.actions = 0x200;
	assert_int_equal(milter_optneg_check(&r, &offered, &out, &why), -1);
	assert_string_equal(why, "filter asks for actions not offered");
	r.actions = 0;
	r.code = MILTER_R_CONTINUE;
	assert_int_equal(milter_optneg_check(&r, &offered, &out, &why), -1);
}

static void
test_symlist_next(void **state)
{
	static const char in[] = "\0\0\0\x1dO\0\0\0\x06\0\0\0\x01\0\0\0\0"
	                         "\0\0\0\x00{a}\0\0\0\0\x05i j\0";
	struct milter_dec *d;
	const struct milter_reply *r;
	const uint8_t *p;
	const char *why, *names;
	size_t used, n, len;
	uint32_t stage;

	(void)state;
	d = milter_dec_new(&lim);
	assert_non_null(d);
	assert_int_equal(milter_dec_feed(d, (const uint8_t *)in, sizeof(in) - 1,
	                     &used, &r, &why),
	    MILTER_DEC_REPLY);
	p = r->data;
	n = r->data_len;
	assert_true(milter_symlist_next(&p, &n, &stage, &names, &len));
	assert_int_equal(stage, 0);
	assert_string_equal(names, "{a}");
	assert_int_equal(len, 3);
	assert_true(milter_symlist_next(&p, &n, &stage, &names, &len));
	assert_int_equal(stage, 5);
	assert_string_equal(names, "i j");
	assert_false(milter_symlist_next(&p, &n, &stage, &names, &len));
	milter_dec_free(d);
}

/* Out of memory: the decoder says so; the encoder leaves b unchanged. */
static void
test_nomem(void **state)
{
	static const char in[] = "\0\0\0\x0dqvirus found\0";
	struct milter_dec *d;
	const struct milter_reply *r;
	enum milter_dec_status st;
	const char *why;
	unsigned long fail;
	size_t used;
	struct buf b;

	(void)state;
	for (fail = 0;; fail++) {
		failalloc_arm(fail);
		d = milter_dec_new(&lim);
		st = MILTER_DEC_ERROR;
		if (d != NULL)
			st = milter_dec_feed(d, (const uint8_t *)in,
			    sizeof(in) - 1, &used, &r, &why);
		if (!failalloc_disarm()) {
			assert_int_equal(st, MILTER_DEC_REPLY);
			milter_dec_free(d);
			break;
		}
		if (d != NULL) {
			assert_int_equal(st, MILTER_DEC_ERROR);
			assert_string_equal(why, "out of memory");
		}
		milter_dec_free(d);
	}
	buf_init(&b, 1 << 20);
	failalloc_arm(0);
	assert_int_equal(milter_enc_helo(&b, "mx.example"), -1);
	assert_true(failalloc_disarm());
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(b.len, 0);
	buf_reset(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enc_optneg),
		cmocka_unit_test(test_enc_macro),
		cmocka_unit_test(test_enc_connect),
		cmocka_unit_test(test_enc_helo_unknown_header),
		cmocka_unit_test(test_enc_mail_rcpt),
		cmocka_unit_test(test_enc_cmds),
		cmocka_unit_test(test_enc_body),
		cmocka_unit_test(test_enc_too_big_unchanged),
		cmocka_unit_test(test_dec_cases),
		cmocka_unit_test(test_dec_limits),
		cmocka_unit_test(test_dec_default_caps),
		cmocka_unit_test(test_dec_why),
		cmocka_unit_test(test_reply_name),
		cmocka_unit_test(test_optneg_check),
		cmocka_unit_test(test_symlist_next),
		cmocka_unit_test(test_nomem),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
