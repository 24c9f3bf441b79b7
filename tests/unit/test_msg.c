/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for msg/: the header scanner (RFC 5322 2.2, 3.6), the
 * Received: field (RFC 5321 4.4) and the date-time (RFC 5322 3.3).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "msg/field.h"
#include "msg/hdr.h"
#include "msg/received.h"

#define L(s) s, sizeof(s) - 1
#define T_DATE 1
#define T_MID 2
#define T_FROM 4
#define T_BODY 8

struct hdr_case {
	const char *name;
	const char *in;
	size_t n;
	size_t received;
	unsigned bits;
	size_t header_bytes;
};

static const struct hdr_case hdr_cases[] = {
	/* valid */
	{ "basic", L("From: a\r\nDate: x\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n"),
	    0, T_DATE | T_MID | T_FROM | T_BODY, 37 },
	{ "received-folded",
	    L("Received: from a\r\n\tby b\r\nReceived: x\r\n\r\n"), 2, T_BODY,
	    38 },
	{ "case", L("RECEIVED: x\r\nreceived: y\r\nmessage-id: z\r\n\r\n"), 2,
	    T_MID | T_BODY, 41 },
	{ "lf-only", L("From: a\nDate: b\n\nReceived: c\n"), 0,
	    T_FROM | T_DATE | T_BODY, 16 },
	{ "obs-wsp", L("Received : x\r\nDate\t: y\r\n\r\n"), 1, T_DATE | T_BODY,
	    24 },
	{ "empty-header", L("\r\nReceived: x\r\n"), 0, T_BODY, 0 },
	{ "empty-value", L("From:\r\n\r\n"), 0, T_FROM | T_BODY, 7 },
	{ "long-name",
	    L("X-A-Very-Long-Field-Name-Longer-Than-Thirty-One: x\r\n\r\n"), 0,
	    T_BODY, 52 },
	{ "name-31", L("Received-xxxxxxxxxxxxxxxxxxxxxx: x\r\n\r\n"), 0, T_BODY,
	    36 },
	{ "header-only", L("From: a\r\n"), 0, T_FROM, 0 },
	{ "two-fields-no-end", L("From: a\r\nDate: b"), 0, T_FROM | T_DATE, 9 },
	{ "cr-in-value", L("From: a\rb\r\n\r\n"), 0, T_FROM | T_BODY, 11 },
	/* invalid: the header ends early, or names do not match */
	{ "received-spf", L("Received-SPF: pass\r\n\r\n"), 0, T_BODY, 20 },
	{ "continuation-not-field", L("Subject: x\r\n From: y\r\n\r\n"), 0,
	    T_BODY, 22 },
	{ "not-a-field", L("From: a\r\nnot a header\r\nReceived: x\r\n"), 0,
	    T_FROM | T_BODY, 9 },
	{ "leading-space", L(" Received: x\r\n\r\n"), 0, T_BODY, 0 },
	{ "leading-tab", L("\tFrom: x\r\n"), 0, T_BODY, 0 },
	{ "colon-first", L(":x\r\nFrom: y\r\n"), 0, T_BODY, 0 },
	{ "8bit-name", L("Fr\xc3\xb6m: x\r\nFrom: y\r\n"), 0, T_BODY, 0 },
	{ "ctl-name", L("Fr\x01om: x\r\n"), 0, T_BODY, 0 },
	{ "nul-name", L("From\0: x\r\n"), 0, T_BODY, 0 },
	{ "cr-then-text", L("From: a\r\n\rX: y\r\n"), 0, T_FROM | T_BODY, 9 },
	{ "no-colon-eof", L("Received"), 0, 0, 0 },
	{ "name-then-crlf", L("Date\r\nFrom: x\r\n"), 0, T_BODY, 0 },
	{ "wsp-then-junk", L("Date x: y\r\n"), 0, T_BODY, 0 },
	{ "received-in-body", L("X: y\r\n\r\nReceived: a\r\nReceived: b\r\n"),
	    0, T_BODY, 6 },
};

static void
scan(struct msg_hdr_scan *h, const char *in, size_t n, size_t step)
{
	size_t off, piece;

	msg_hdr_scan_init(h);
	for (off = 0; off < n; off += piece) {
		piece = n - off < step ? n - off : step;
		msg_hdr_scan_feed(h, (const uint8_t *)in + off, piece);
	}
}

static void
test_hdr(void **state)
{
	static const size_t steps[] = { 1, 2, 3, 5, 7, SIZE_MAX };
	struct msg_hdr_scan h;
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(hdr_cases) / sizeof(hdr_cases[0]); i++) {
		const struct hdr_case *c = &hdr_cases[i];

		for (j = 0; j < sizeof(steps) / sizeof(steps[0]); j++) {
			scan(&h, c->in, c->n, steps[j]);
			if (h.received != c->received ||
			    h.has_date != !!(c->bits & T_DATE) ||
			    h.has_message_id != !!(c->bits & T_MID) ||
			    h.has_from != !!(c->bits & T_FROM) ||
			    h.in_body != !!(c->bits & T_BODY) ||
			    h.header_bytes != c->header_bytes)
				fail_msg("%s: step %zu: rcvd %zu date %d mid "
				         "%d from %d body %d bytes %zu",
				    c->name, steps[j], h.received, h.has_date,
				    h.has_message_id, h.has_from, h.in_body,
				    h.header_bytes);
		}
	}
}

/* Loop detection counts every Received field: 99, 100, 101. */
static void
test_hdr_count(void **state)
{
	static const char f[] = "Received: from x by y; date\r\n";
	struct msg_hdr_scan h;
	size_t k, i;

	(void)state;
	for (k = 99; k <= 101; k++) {
		msg_hdr_scan_init(&h);
		for (i = 0; i < k; i++)
			msg_hdr_scan_feed(&h, (const uint8_t *)f,
			    sizeof(f) - 1);
		msg_hdr_scan_feed(&h, (const uint8_t *)"\r\n", 2);
		assert_int_equal(h.received, k);
		assert_true(h.in_body);
		assert_int_equal(h.header_bytes, k * (sizeof(f) - 1));
	}
}

static void
set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

#define WHEN ((time_t)1795867200) /* 2026-11-28 12:00:00 UTC */

static void
test_date(void **state)
{
	char d[MSG_DATE_MAX];
	struct tm tm = { 0 };

	(void)state;
	set_tz("UTC");
	assert_int_equal(msg_date_format(WHEN, d, sizeof(d)), 31);
	assert_string_equal(d, "Sat, 28 Nov 2026 12:00:00 +0000");
	/* POSIX zone strings need no tzdata: east is negative in TZ. */
	set_tz("IST-5:30");
	assert_int_equal(msg_date_format(WHEN, d, sizeof(d)), 31);
	assert_string_equal(d, "Sat, 28 Nov 2026 17:30:00 +0530");
	set_tz("NST3:30");
	assert_int_equal(msg_date_format(WHEN, d, sizeof(d)), 31);
	assert_string_equal(d, "Sat, 28 Nov 2026 08:30:00 -0330");
	set_tz("UTC");
	assert_int_equal(msg_date_format(0, d, sizeof(d)), 31);
	assert_string_equal(d, "Thu, 01 Jan 1970 00:00:00 +0000");
	/* dst: the length, the length + 1 (NUL), and one short. */
	assert_int_equal(msg_date_format(WHEN, d, 31), -1);
	assert_string_equal(d, "");
	assert_int_equal(msg_date_format(WHEN, d, 32), 31);
	assert_int_equal(msg_date_format(WHEN, d, 0), -1);
	/* Years outside 4*DIGIT are refused: 9999 ok, 10000 not. */
	tm.tm_year = 9999 - 1900;
	tm.tm_mon = 11;
	tm.tm_mday = 31;
	assert_int_equal(msg_date_format(timegm(&tm), d, sizeof(d)), 31);
	assert_string_equal(d, "Fri, 31 Dec 9999 00:00:00 +0000");
	tm.tm_year = 10000 - 1900;
	tm.tm_mon = 0;
	tm.tm_mday = 1;
	assert_int_equal(msg_date_format(timegm(&tm), d, sizeof(d)), -1);
}

static void
check_lines(const char *s, size_t n)
{
	size_t i, col = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '\r') {
			assert_true(i + 1 < n && s[i + 1] == '\n');
			assert_true(col <= MSG_LINE_FOLD);
			col = 0;
			i++;
			continue;
		}
		assert_true(s[i] >= 0x20 || s[i] == '\t' || s[i] < 0);
		assert_true(s[i] != '\n');
		col++;
	}
	assert_int_equal(col, 0);
}

static void
test_received(void **state)
{
	struct msg_received r = {
		.helo = "client.example",
		.client_name = "mail.client.example",
		.client_addr = "192.0.2.1",
		.by = "mx.tern.example",
		.with = "ESMTPS",
		.id = "4Xq9c2LmZk",
		.for_addr = "user@tern.example",
		.tls = "TLSv1.3 TLS_AES_256_GCM_SHA384",
		.auth_user = NULL,
		.when = WHEN,
	};
	struct buf b;

	(void)state;
	set_tz("UTC");
	buf_init(&b, 4096);
	assert_int_equal(msg_received_format(&r, &b), 0);
	assert_string_equal((char *)b.data,
	    "Received: from client.example (mail.client.example "
	    "[192.0.2.1])\r\n"
	    "\t(using TLSv1.3 TLS_AES_256_GCM_SHA384)\r\n"
	    "\tby mx.tern.example (tern) with ESMTPS id 4Xq9c2LmZk\r\n"
	    "\tfor <user@tern.example>; Sat, 28 Nov 2026 12:00:00 +0000\r\n");
	check_lines((char *)b.data, b.len);

	/* Minimal: no name, IPv6, no TLS, no recipient, auth shown. */
	buf_clear(&b);
	r.helo = NULL;
	r.client_name = NULL;
	r.client_addr = "2001:db8::1";
	r.tls = NULL;
	r.for_addr = NULL;
	r.auth_user = "alice";
	r.with = "ESMTPA";
	assert_int_equal(msg_received_format(&r, &b), 0);
	assert_string_equal((char *)b.data,
	    "Received: from unknown (unknown [IPv6:2001:db8::1])\r\n"
	    "\t(authenticated as alice)\r\n"
	    "\tby mx.tern.example (tern) with ESMTPA id 4Xq9c2LmZk;\r\n"
	    "\tSat, 28 Nov 2026 12:00:00 +0000\r\n");
	check_lines((char *)b.data, b.len);
	buf_reset(&b);
}

static char *
unhash(char *dst, const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		dst[i] = s[i] == '#' ? '?' : s[i];
	dst[i] = '\0';
	return dst;
}

/* Hostile HELO: controls, CRLF, comment and date breakers, length. */
static void
test_received_hostile(void **state)
{
	char helo[300], want[120];
	struct msg_received r = { 0 };
	struct buf b;
	size_t i;
	int n;

	(void)state;
	set_tz("UTC");
	buf_init(&b, 4096);
	r.helo = "a\r\nX-Evil: 1\t(b);<c>\"\\\x7f\xc3\xa9";
	r.client_addr = "192.0.2.1";
	r.by = "mx";
	r.with = "SMTP";
	r.id = "q1";
	r.for_addr = "\"j \xc3\xb6\"@x\r\n";
	r.when = WHEN;
	assert_int_equal(msg_received_format(&r, &b), 0);
	/* '#' stands for '?' here, to keep clear of C trigraphs. */
	assert_non_null(strstr((char *)b.data,
	    unhash(want,
	        "from a##X-Evil:#1##b###c###### (unknown [192.0.2.1])")));
	assert_non_null(
	    strstr((char *)b.data, unhash(want, "for <\"j \xc3\xb6\"@x##>;")));
	check_lines((char *)b.data, b.len);

	/* The HELO is capped at 100 characters: 99, 100, 101. */
	for (i = 99; i <= 101; i++) {
		memset(helo, 'h', i);
		helo[i] = '\0';
		r.helo = helo;
		buf_clear(&b);
		assert_int_equal(msg_received_format(&r, &b), 0);
		n = snprintf(want, sizeof(want), "\t%.*s\r\n",
		    (int)(i < MSG_FIELD_MAX ? i : MSG_FIELD_MAX), helo);
		assert_true(n > 0);
		/* Too long for the first line: "from" then a fold. */
		assert_non_null(strstr((char *)b.data, want));
	}
	buf_reset(&b);
}

/* A full buffer: -1 and the buffer unchanged. */
static void
test_received_full(void **state)
{
	struct msg_received r = { .helo = "h",
		.client_addr = "192.0.2.1",
		.by = "mx",
		.with = "SMTP",
		.id = "q1",
		.when = WHEN };
	struct buf b;
	size_t need, max;

	(void)state;
	set_tz("UTC");
	buf_init(&b, 4096);
	assert_int_equal(msg_received_format(&r, &b), 0);
	need = b.len;
	buf_reset(&b);
	for (max = need - 1; max <= need + 1; max++) {
		buf_init(&b, max);
		assert_int_equal(buf_append(&b, "", 0), 0);
		assert_int_equal(msg_received_format(&r, &b),
		    max >= need ? 0 : -1);
		assert_int_equal(b.len, max >= need ? need : 0);
		buf_reset(&b);
	}
	/* Existing content is kept on failure. */
	buf_init(&b, 10);
	assert_int_equal(buf_append(&b, "keep", 4), 0);
	assert_int_equal(msg_received_format(&r, &b), -1);
	assert_int_equal(b.len, 4);
	assert_string_equal((char *)b.data, "keep");
	buf_reset(&b);
}

/* msg/field.h: one field in memory. */
static void
test_field(void **state)
{
	static const char h[] = "From : a@b.test\r\nSubject: one\r\n two\r\n"
	                        "X-Empty:\nTo: c@d.test";
	const char *p = h, *v;
	size_t n = sizeof(h) - 1, len, vn;

	(void)state;
	len = msg_field_len(p, n);
	assert_int_equal(len, 17);
	assert_true(msg_field_is(p, len, "from"));
	assert_false(msg_field_is(p, len, "Fro"));
	v = msg_field_value(p, len, &vn);
	assert_int_equal(vn, 9);
	assert_memory_equal(v, " a@b.test", 9);
	p += len;
	n -= len;
	len = msg_field_len(p, n); /* with its continuation line */
	assert_int_equal(len, 20);
	v = msg_field_value(p, len, &vn);
	assert_memory_equal(v, " one\r\n two", vn);
	p += len;
	n -= len;
	len = msg_field_len(p, n); /* LF only, empty value */
	assert_int_equal(len, 9);
	(void)msg_field_value(p, len, &vn);
	assert_int_equal(vn, 0);
	p += len;
	n -= len;
	assert_int_equal(msg_field_len(p, n), n); /* no line end: all */
	assert_false(msg_field_is("To", 2, "To"));
	v = msg_field_value("no colon", 8, &vn);
	assert_int_equal(vn, 0);
}

/* RFC 8689 4: TLS-Required: No, exactly once, in the header. */
static void
test_tls_required(void **state)
{
	static const struct {
		const char *name, *hdr;
		bool want;
	} cases[] = {
		{ "no", "From: a@b\r\nTLS-Required: No\r\n\r\nbody", true },
		{ "lower", "tls-required:no\r\n\r\n", true },
		{ "folded", "TLS-Required:\r\n  NO \r\n\r\n", true },
		{ "lf-only", "TLS-Required: No\n\nx", true },
		{ "no-end", "TLS-Required: No", true },
		{ "absent", "From: a@b\r\n\r\nTLS-Required: No\r\n", false },
		{ "yes", "TLS-Required: Yes\r\n\r\n", false },
		{ "nope", "TLS-Required: Nope\r\n\r\n", false },
		{ "empty", "TLS-Required:\r\n\r\n", false },
		{ "twice", "TLS-Required: No\r\nTLS-Required: No\r\n\r\n",
		    false },
		{ "prefix-name", "X-TLS-Required: No\r\n\r\n", false },
		{ "longer-name", "TLS-Required-X: No\r\n\r\n", false },
		{ "in-body", "\r\nTLS-Required: No\r\n", false },
		{ "nothing", "", false },
	};
	size_t i, n, cut;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = strlen(cases[i].hdr);
		if (msg_tls_required_no(cases[i].hdr, n) != cases[i].want)
			fail_msg("%s", cases[i].name);
		/* Reads only within n: any prefix is a valid input. */
		for (cut = 0; cut < n; cut++)
			(void)msg_tls_required_no(cases[i].hdr, cut);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_field),
		cmocka_unit_test(test_tls_required),
		cmocka_unit_test(test_hdr),
		cmocka_unit_test(test_hdr_count),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_received),
		cmocka_unit_test(test_received_hostile),
		cmocka_unit_test(test_received_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
