/* SPDX-License-Identifier: ISC */
/*
 * test_lib_mime.c - the message builder's encoders (lib/mime.h) and
 * tern_msg_render(): RFC 2047 words, folding, base64, content types.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/mime.h"
#include "tern/tern.h"

static char *
str_of(struct buf *b)
{
	static char empty[] = "";

	if (buf_append(b, "", 0) == -1 || b->data == NULL)
		return empty;
	b->data[b->len] = '\0';
	return (char *)b->data;
}

/* Every line of s (CRLF-separated) is at most max octets, no bare LF. */
static void
assert_lines(const char *s, size_t n, size_t max)
{
	size_t i, col = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '\n')
			fail_msg("bare LF at %zu", i);
		if (s[i] == '\r') {
			if (i + 1 >= n || s[i + 1] != '\n')
				fail_msg("bare CR at %zu", i);
			i++;
			col = 0;
			continue;
		}
		if (++col > max)
			fail_msg("line over %zu at %zu", max, i);
	}
}

static void
test_base64(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "", "" },
		{ "f", "Zg==\r\n" },
		{ "fo", "Zm8=\r\n" },
		{ "foo", "Zm9v\r\n" },
		{ "foobar", "Zm9vYmFy\r\n" },
	};
	uint8_t big[1000];
	struct buf b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_init(&b, 1 << 20);
		assert_int_equal(mime_base64(&b, cases[i].in,
		                     strlen(cases[i].in)), 0);
		assert_string_equal(str_of(&b), cases[i].want);
		buf_reset(&b);
	}
	/* 57 bytes -> one 76-char line; 58 -> two lines. */
	memset(big, 0xff, sizeof(big));
	for (i = 56; i <= 58; i++) {
		buf_init(&b, 1 << 20);
		assert_int_equal(mime_base64(&b, big, i), 0);
		assert_lines(str_of(&b), b.len, MIME_B64_LINE);
		assert_int_equal(b.len, i <= 57 ? 78 : 78 + 4 + 2);
		buf_reset(&b);
	}
	/* The cap is honoured. */
	buf_init(&b, 10);
	assert_int_equal(mime_base64(&b, big, 100), -1);
	buf_reset(&b);
}

static void
test_rfc2047(void **state)
{
	struct buf b;
	char *s;
	/* 40 x "é" (2 octets each): must split between characters. */
	char many[81];
	size_t i;

	(void)state;
	buf_init(&b, 1 << 16);
	assert_int_equal(mime_header(&b, "Subject", "Grüße"), 0);
	assert_string_equal(str_of(&b), "Subject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n");
	buf_reset(&b);

	for (i = 0; i < 40; i++)
		memcpy(many + 2 * i, "\xc3\xa9", 2);
	many[80] = '\0';
	buf_init(&b, 1 << 16);
	assert_int_equal(mime_header(&b, "Subject", many), 0);
	s = str_of(&b);
	assert_lines(s, b.len, 78);
	/* Two words: 45 octets = 22 whole characters + ... never 1 byte. */
	assert_non_null(strstr(s, "?=\r\n =?UTF-8?B?"));
	assert_null(strstr(s + 9, "Subject"));
	buf_reset(&b);

	/* A display name: encoded when not ASCII, quoted with specials. */
	buf_init(&b, 1 << 16);
	assert_int_equal(mime_mailbox(&b, "Jörg", "j@example.org", 6), 0);
	assert_string_equal(str_of(&b), "=?UTF-8?B?SsO2cmc=?= <j@example.org>");
	buf_reset(&b);
	buf_init(&b, 1 << 16);
	assert_int_equal(mime_mailbox(&b, "Doe, \"J\"", "j@example.org", 6),
	    0);
	assert_string_equal(str_of(&b), "\"Doe, \\\"J\\\"\" <j@example.org>");
	buf_reset(&b);
	buf_init(&b, 1 << 16);
	assert_int_equal(mime_mailbox(&b, NULL, "j@example.org", 6), 0);
	assert_string_equal(str_of(&b), "j@example.org");
	buf_reset(&b);
}

static void
test_fold(void **state)
{
	char v[3000];
	struct buf b;
	size_t n;

	(void)state;
	/* Short: untouched. */
	buf_init(&b, 1 << 16);
	assert_int_equal(mime_header(&b, "Subject", "hello world"), 0);
	assert_string_equal(str_of(&b), "Subject: hello world\r\n");
	buf_reset(&b);
	/* Many words: folded at spaces under 78. */
	for (n = 0; n + 6 < 1000; n += 6)
		memcpy(v + n, "word! ", 6);
	v[n] = '\0';
	buf_init(&b, 1 << 16);
	assert_int_equal(mime_header(&b, "Subject", v), 0);
	assert_lines(str_of(&b), b.len, 78);
	buf_reset(&b);
	/* One word of 997, 998, 999 and 2999 octets: lines stay < 998. */
	for (n = 997; n <= 999; n++) {
		memset(v, 'x', n);
		v[n] = '\0';
		buf_init(&b, 1 << 16);
		assert_int_equal(mime_header(&b, "Subject", v), 0);
		assert_lines(str_of(&b), b.len, MIME_LINE_MAX);
		buf_reset(&b);
	}
	memset(v, 'x', 2999);
	v[2999] = '\0';
	buf_init(&b, 1 << 16);
	assert_int_equal(mime_header(&b, "Subject", v), 0);
	assert_lines(str_of(&b), b.len, MIME_LINE_MAX);
	buf_reset(&b);
}

static void
test_types(void **state)
{
	(void)state;
	assert_string_equal(mime_type_for("a.pdf"), "application/pdf");
	assert_string_equal(mime_type_for("A.PNG"), "image/png");
	assert_string_equal(mime_type_for("x.tar.gz"), "application/gzip");
	assert_string_equal(mime_type_for("notes.txt"), "text/plain");
	assert_string_equal(mime_type_for("noext"),
	    "application/octet-stream");
	assert_string_equal(mime_type_for("dir.d/file"),
	    "application/octet-stream");
	assert_string_equal(mime_type_for("x.unknownext"),
	    "application/octet-stream");
	assert_string_equal(tern_mime_type("y.jpeg"), "image/jpeg");
}

static void
test_addr_and_crlf(void **state)
{
	struct buf b;

	(void)state;
	assert_true(mime_addr_ok("a@b.example"));
	assert_false(mime_addr_ok("a b@c"));
	assert_false(mime_addr_ok("a@b\r\nX: y"));
	assert_false(mime_addr_ok("<a@b>"));
	assert_false(mime_addr_ok("nodomain"));
	assert_false(mime_addr_ok("x@"));
	assert_false(mime_addr_ok(""));
	buf_init(&b, 1 << 10);
	assert_int_equal(mime_crlf(&b, "a\nb\r\nc\rd", 8), 0);
	assert_string_equal(str_of(&b), "a\r\nb\r\nc\r\nd");
	buf_reset(&b);
	assert_false(mime_text_needs_b64("plain\nascii\n", 12));
	assert_true(mime_text_needs_b64("caf\xc3\xa9", 5));
}

static void
test_render(void **state)
{
	struct tern_msg *m;
	char *out;
	size_t len;
	static const uint8_t bin[] = { 0, 1, 2, 0xff, '\r', '\n', '.', 0 };

	(void)state;
	assert_non_null(m = tern_msg_new());
	assert_int_equal(tern_msg_render(m, &out, &len), TERN_E_INVAL);
	assert_int_equal(tern_msg_set_from(m, "Zoë", "z@example.org"),
	    TERN_OK);
	assert_int_equal(tern_msg_set_from(m, NULL, "bad address"),
	    TERN_E_INVAL);
	assert_int_equal(tern_msg_add_to(m, NULL, "a@example.test"), TERN_OK);
	assert_int_equal(tern_msg_set_subject(m, "x\r\nBcc: evil@x"),
	    TERN_E_INVAL);
	assert_int_equal(tern_msg_set_subject(m, "Ünïcödé"), TERN_OK);
	assert_int_equal(tern_msg_set_text(m, "line\n.dot\n", 10), TERN_OK);
	assert_int_equal(tern_msg_set_html(m, "<p>hi</p>", 9), TERN_OK);
	assert_int_equal(tern_msg_attach(m, "/tmp/x/data.bin", bin,
	                     sizeof(bin), NULL),
	    TERN_OK);
	assert_int_equal(tern_msg_render(m, &out, &len), TERN_OK);
	assert_lines(out, len, MIME_LINE_MAX);
	assert_non_null(strstr(out, "From: =?UTF-8?B?Wm/Dqw==?= "
	                            "<z@example.org>\r\n"));
	assert_non_null(strstr(out, "Message-ID: <"));
	assert_non_null(strstr(out, "@example.org>\r\n"));
	assert_non_null(strstr(out, "Date: "));
	assert_non_null(strstr(out, "multipart/mixed"));
	assert_non_null(strstr(out, "multipart/alternative"));
	assert_non_null(strstr(out, "filename=\"data.bin\""));
	assert_non_null(strstr(out, "application/octet-stream"));
	assert_null(strstr(out, "Bcc"));
	free(out);
	tern_msg_free(m);
	tern_msg_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_rfc2047),
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_addr_and_crlf),
		cmocka_unit_test(test_render),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
