/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for msg/mimetree.c: the tree of parts (nesting, defaults,
 * boundaries, caps, line ends), file names (RFC 2231, RFC 2047) and the
 * decoders (base64, quoted-printable, encoded-words, charsets).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "msg/mimetree.h"
#include "util/buf.h"

/* One expected part: type, charset, encoding, filename, attachment,
 * parent, depth, decoded body (NULL: not checked). */
struct want_part {
	const char *type, *charset, *encoding, *filename;
	bool attachment;
	int parent, depth;
	const char *body;
};

#define PARTS_MAX 8

struct tcase {
	const char *name;
	const char *msg;
	size_t n;
	bool truncated, unclosed;
	struct want_part part[PARTS_MAX];
};

#define MP "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"

static const struct tcase cases[] = {
	{ "empty", "", 1, false, false,
	    { { "text/plain", "", "7bit", "", false, -1, 0, "" } } },
	{ "headers-only", "Subject: x\r\nFrom: a@b\r\n", 1, false, false,
	    { { "text/plain", "", "7bit", "", false, -1, 0, "" } } },
	{ "no-header", "\r\nhello\r\n", 1, false, false,
	    { { "text/plain", "", "7bit", "", false, -1, 0, "hello\r\n" } } },
	{ "plain",
	    "Content-Type: Text/HTML; Charset=\"UTF-8\"\r\n"
	    "Content-Transfer-Encoding: 8BIT\r\n\r\n<p>hi</p>\r\n",
	    1, false, false,
	    { { "text/html", "utf-8", "8bit", "", false, -1, 0,
	        "<p>hi</p>\r\n" } } },
	{ "bad-type-defaults", "Content-Type: garbage\r\n\r\nx", 1, false,
	    false, { { "text/plain", "", "7bit", "", false, -1, 0, "x" } } },
	{ "ctype-comments",
	    "Content-Type: (c) text / plain (x) ; charset = us-ascii (y)\r\n"
	    "\r\nx",
	    1, false, false,
	    { { "text/plain", "us-ascii", "7bit", "", false, -1, 0, "x" } } },
	{ "mixed-crlf",
	    MP "\r\npreamble\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
	       "one\r\n--b1\r\nContent-Type: text/html\r\n\r\ntwo\r\n"
	       "--b1--\r\nepilogue\r\n",
	    3, false, false,
	    { { "multipart/mixed", "", "7bit", "", false, -1, 0, NULL },
	        { "text/plain", "", "7bit", "", false, 0, 1, "one" },
	        { "text/html", "", "7bit", "", false, 0, 1, "two" } } },
	{ "mixed-bare-lf",
	    "Content-Type: multipart/mixed; boundary=b1\n\n--b1\n\none\n"
	    "--b1  \nContent-Type: image/png\n\nPNG\n--b1--\n",
	    3, false, false,
	    { { "multipart/mixed", "", "7bit", "", false, -1, 0, NULL },
	        { "text/plain", "", "7bit", "", false, 0, 1, "one" },
	        { "image/png", "", "7bit", "", false, 0, 1, "PNG" } } },
	{ "nested",
	    MP "\r\n--b1\r\n"
	       "Content-Type: multipart/alternative; boundary=b2\r\n\r\n"
	       "--b2\r\n\r\ntext\r\n--b2\r\nContent-Type: text/html\r\n\r\n"
	       "<b>x</b>\r\n--b2--\r\n"
	       "--b1\r\nContent-Type: application/pdf\r\n"
	       "Content-Disposition: attachment; filename=\"r.pdf\"\r\n"
	       "Content-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n"
	       "--b1--\r\n",
	    5, false, false,
	    { { "multipart/mixed", "", "7bit", "", false, -1, 0, NULL },
	        { "multipart/alternative", "", "7bit", "", false, 0, 1, NULL },
	        { "text/plain", "", "7bit", "", false, 1, 2, "text" },
	        { "text/html", "", "7bit", "", false, 1, 2, "<b>x</b>" },
	        { "application/pdf", "", "base64", "r.pdf", true, 0, 1,
	            "%PDF" } } },
	{ "boundary-prefix",
	    /* "--b1x" is no delimiter of b1; "--b1 x" neither. */
	    MP "\r\n--b1\r\n\r\na\r\n--b1x\r\n--b1 x\r\nb\r\n--b1--\r\n", 2,
	    false, false,
	    { { "multipart/mixed", "", "7bit", "", false, -1, 0, NULL },
	        { "text/plain", "", "7bit", "", false, 0, 1,
	            "a\r\n--b1x\r\n--b1 x\r\nb" } } },
	{ "unclosed", MP "\r\n--b1\r\n\r\none\r\n--b1\r\n\r\ntwo\r\n", 3, false,
	    true,
	    { { "multipart/mixed", "", "7bit", "", false, -1, 0, NULL },
	        { "text/plain", "", "7bit", "", false, 0, 1, "one" },
	        { "text/plain", "", "7bit", "", false, 0, 1, "two\r\n" } } },
	{ "no-delimiter-at-all", MP "\r\njust text\r\n", 1, false, true,
	    { { "multipart/mixed", "", "7bit", "", false, -1, 0, NULL } } },
	{ "multipart-without-boundary",
	    "Content-Type: multipart/mixed\r\n\r\n--x\r\n", 1, false, false,
	    { { "multipart/mixed", "", "7bit", "", false, -1, 0,
	        "--x\r\n" } } },
	{ "digest-default",
	    "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\n"
	    "Subject: m\r\n\r\nbody\r\n--d--\r\n",
	    2, false, false,
	    { { "multipart/digest", "", "7bit", "", false, -1, 0, NULL },
	        { "message/rfc822", "", "7bit", "", false, 0, 1,
	            "Subject: m\r\n\r\nbody" } } },
	{ "rfc2231-filename",
	    "Content-Type: application/octet-stream\r\n"
	    "Content-Disposition: attachment;\r\n"
	    " filename*0*=UTF-8''r%C3%A9sum;\r\n"
	    " filename*1*=%C3%A9;\r\n filename*2=\".txt\"\r\n\r\nx",
	    1, false, false,
	    { { "application/octet-stream", "", "7bit",
	        "r\xc3\xa9sum\xc3\xa9.txt", true, -1, 0, "x" } } },
	{ "rfc2231-latin1",
	    "Content-Disposition: inline; filename*=iso-8859-1'fr'caf%E9.txt"
	    "\r\n\r\n",
	    1, false, false,
	    { { "text/plain", "", "7bit", "caf\xc3\xa9.txt", false, -1, 0,
	        "" } } },
	{ "encoded-word-name",
	    "Content-Type: image/png;\r\n"
	    " name=\"=?UTF-8?B?w6l0w6k=?= =?utf-8?q?_2026=2Epng?=\"\r\n\r\n",
	    1, false, false,
	    { { "image/png", "", "7bit", "\xc3\xa9t\xc3\xa9 2026.png", false,
	        -1, 0, "" } } },
	{ "disposition-beats-name",
	    "Content-Type: image/png; name=a.png\r\n"
	    "Content-Disposition: inline; filename=b.png\r\n\r\n",
	    1, false, false,
	    { { "image/png", "", "7bit", "b.png", false, -1, 0, "" } } },
	{ "filename-controls",
	    "Content-Disposition: attachment; filename*=utf-8''a%00b%0Ac"
	    "%E2%80%AEgpj.exe\r\n\r\n",
	    1, false, false,
	    { { "text/plain", "", "7bit",
	        "a\xef\xbf\xbd"
	        "b?c?gpj.exe",
	        true, -1, 0, "" } } },
	{ "qp-soft-breaks",
	    "Content-Transfer-Encoding: Quoted-Printable\r\n\r\n"
	    "caf=C3=A9 is =\r\nlong=3d  \r\nend= \r\n=x=4\r\n",
	    1, false, false,
	    { { "text/plain", "", "quoted-printable", "", false, -1, 0,
	        "caf\xc3\xa9 is long=\r\nend=x=4\r\n" } } },
	{ "base64-junk",
	    "Content-Transfer-Encoding: base64\r\n\r\n"
	    "aGVs*bG8g\r\n d29y!bGQ=\r\nISE=\r\n",
	    1, false, false,
	    { { "text/plain", "", "base64", "", false, -1, 0,
	        "hello world!!" } } },
	{ "base64-partial", "Content-Transfer-Encoding: base64\r\n\r\naGk", 1,
	    false, false,
	    { { "text/plain", "", "base64", "", false, -1, 0, "hi" } } },
};

static void
check_case(const struct tcase *c)
{
	struct mime_tree t;
	struct buf b;
	size_t i;
	const struct want_part *w;

	assert_int_equal(mimetree_parse(c->msg, strlen(c->msg), &t), 0);
	if (t.n != c->n)
		fail_msg("%s: %zu parts, want %zu", c->name, t.n, c->n);
	if (t.truncated != c->truncated || t.unclosed_multipart != c->unclosed)
		fail_msg("%s: truncated %d unclosed %d", c->name, t.truncated,
		    t.unclosed_multipart);
	for (i = 0; i < t.n && i < PARTS_MAX; i++) {
		w = &c->part[i];
		if (strcmp(t.part[i].type, w->type) != 0 ||
		    strcmp(t.part[i].charset, w->charset) != 0 ||
		    strcmp(t.part[i].encoding, w->encoding) != 0 ||
		    strcmp(t.part[i].filename, w->filename) != 0 ||
		    t.part[i].attachment != w->attachment ||
		    t.part[i].parent != w->parent ||
		    t.part[i].depth != w->depth)
			fail_msg("%s: part %zu: %s %s %s [%s] %d %d %d",
			    c->name, i, t.part[i].type, t.part[i].charset,
			    t.part[i].encoding, t.part[i].filename,
			    t.part[i].attachment, t.part[i].parent,
			    t.part[i].depth);
		if (t.part[i].body_off + t.part[i].body_len > strlen(c->msg) ||
		    t.part[i].hdr_off + t.part[i].hdr_len > t.part[i].body_off)
			fail_msg("%s: part %zu: bad offsets", c->name, i);
		if (w->body == NULL)
			continue;
		buf_init(&b, 1 << 16);
		assert_int_equal(mimetree_decode(c->msg, &t.part[i], &b), 0);
		if (b.len != strlen(w->body) ||
		    (b.len > 0 && memcmp(b.data, w->body, b.len) != 0))
			fail_msg("%s: part %zu body [%.*s]", c->name, i,
			    (int)b.len, b.data != NULL ? (char *)b.data : "");
		buf_reset(&b);
	}
	mimetree_free(&t);
}

static void
test_cases(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(&cases[i]);
}

/* Every proper prefix of every case parses, offsets stay in range. */
static void
test_prefixes(void **state)
{
	struct mime_tree t;
	size_t i, cut, k, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = strlen(cases[i].msg);
		for (cut = 0; cut <= n; cut++) {
			assert_int_equal(mimetree_parse(cases[i].msg, cut, &t),
			    0);
			assert_true(t.n >= 1);
			for (k = 0; k < t.n; k++)
				assert_true(
				    t.part[k].body_off + t.part[k].body_len <=
				    cut);
			mimetree_free(&t);
		}
	}
}

/* depth levels of multipart nested in one another, each closed. */
static char *
nest(size_t depth)
{
	struct buf b;
	size_t i;

	buf_init(&b, 1 << 20);
	for (i = 0; i < depth; i++)
		assert_int_equal(buf_printf(&b,
		                     "Content-Type: multipart/mixed; "
		                     "boundary=n%zu\r\n\r\n--n%zu\r\n",
		                     i, i),
		    0);
	assert_int_equal(buf_append_str(&b, "\r\nleaf\r\n"), 0);
	for (i = depth; i > 0; i--)
		assert_int_equal(buf_printf(&b, "--n%zu--\r\n", i - 1), 0);
	return (char *)buf_take(&b, &i);
}

static void
test_depth_cap(void **state)
{
	struct mime_tree t;
	char *m;
	size_t d;

	(void)state;
	/* MIMETREE_DEPTH_MAX nested multiparts split; one more does not. */
	for (d = MIMETREE_DEPTH_MAX - 1; d <= MIMETREE_DEPTH_MAX + 2; d++) {
		m = nest(d);
		assert_int_equal(mimetree_parse(m, strlen(m), &t), 0);
		if (d <= MIMETREE_DEPTH_MAX) {
			assert_false(t.truncated);
			assert_int_equal(t.n, d + 1);
			assert_string_equal(t.part[d].type, "text/plain");
			assert_int_equal(t.part[d].depth, (int)d);
		} else {
			assert_true(t.truncated);
			assert_int_equal(t.n, MIMETREE_DEPTH_MAX + 1);
			assert_string_equal(t.part[MIMETREE_DEPTH_MAX].type,
			    "multipart/mixed");
		}
		assert_false(t.unclosed_multipart);
		mimetree_free(&t);
		free(m);
	}
}

static char *
flat(size_t parts)
{
	struct buf b;
	size_t i;

	buf_init(&b, 1 << 20);
	assert_int_equal(buf_append_str(&b, MP "\r\n"), 0);
	for (i = 0; i < parts; i++)
		assert_int_equal(buf_printf(&b, "--b1\r\n\r\np%zu\r\n", i), 0);
	assert_int_equal(buf_append_str(&b, "--b1--\r\n"), 0);
	return (char *)buf_take(&b, &i);
}

static void
test_part_cap(void **state)
{
	struct mime_tree t;
	char *m;
	size_t k;

	(void)state;
	/* The root counts: MAX-1 children fit, MAX children do not. */
	for (k = MIMETREE_PARTS_MAX - 2; k <= MIMETREE_PARTS_MAX; k++) {
		m = flat(k);
		assert_int_equal(mimetree_parse(m, strlen(m), &t), 0);
		assert_int_equal(t.n,
		    k + 1 > MIMETREE_PARTS_MAX ? MIMETREE_PARTS_MAX : k + 1);
		assert_int_equal(t.truncated, k + 1 > MIMETREE_PARTS_MAX);
		assert_false(t.unclosed_multipart);
		mimetree_free(&t);
		free(m);
	}
}

/* One part with header h (NUL-terminated); its first part. */
static void
parse1(const char *h, struct mime_tree *t)
{
	assert_int_equal(mimetree_parse(h, strlen(h), t), 0);
	assert_true(t->n >= 1);
}

/* file names are cut to fit, at a character boundary. */
static void
test_filename_cut(void **state)
{
	char m[2048], want[512];
	struct mime_tree t;
	size_t k, i;
	int r;

	(void)state;
	for (k = 254; k <= 256; k++) { /* 255 bytes fit with the NUL */
		memset(want, 'a', k);
		want[k] = '\0';
		r = snprintf(m, sizeof(m),
		    "Content-Disposition: attachment; filename=%s\r\n\r\n",
		    want);
		assert_true(r > 0 && (size_t)r < sizeof(m));
		parse1(m, &t);
		want[k > 255 ? 255 : k] = '\0';
		assert_string_equal(t.part[0].filename, want);
		mimetree_free(&t);
	}
	/* 200 two-byte characters: 127 of them fit (254 bytes). */
	r = snprintf(m, sizeof(m),
	    "Content-Disposition: attachment; "
	    "filename*=utf-8''");
	for (i = 0; i < 200; i++)
		r += snprintf(m + r, sizeof(m) - (size_t)r, "%%C3%%A9");
	r += snprintf(m + r, sizeof(m) - (size_t)r, "\r\n\r\n");
	assert_true(r > 0 && (size_t)r < sizeof(m));
	parse1(m, &t);
	assert_int_equal(strlen(t.part[0].filename), 254);
	mimetree_free(&t);
}

/* A boundary of 200 bytes is used; of 201, the multipart is a leaf. */
static void
test_boundary_cap(void **state)
{
	char m[2048], b[256];
	struct mime_tree t;
	size_t k;
	int r;

	(void)state;
	for (k = 199; k <= 201; k++) {
		memset(b, 'b', k);
		b[k] = '\0';
		r = snprintf(m, sizeof(m),
		    "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
		    "--%s\r\n\r\nx\r\n--%s--\r\n",
		    b, b, b);
		assert_true(r > 0 && (size_t)r < sizeof(m));
		parse1(m, &t);
		assert_int_equal(t.n, k <= 200 ? 2 : 1);
		assert_false(t.unclosed_multipart);
		mimetree_free(&t);
	}
}

struct wcase {
	const char *in, *want;
};

static void
test_words(void **state)
{
	static const struct wcase wc[] = {
		{ "plain text", "plain text" },
		{ "=?UTF-8?B?w6l0w6k=?=", "\xc3\xa9t\xc3\xa9" },
		{ "a =?utf-8?q?b_c?= d", "a b c d" },
		/* Blanks and folding between words vanish (RFC 2047 6.2). */
		{ "=?utf-8?q?a?= \r\n =?utf-8?q?b?=", "ab" },
		/* A character split across two words of one charset. */
		{ "=?utf-8?b?ww==?= =?utf-8?b?qQ==?=", "\xc3\xa9" },
		{ "=?iso-8859-1?q?caf=E9?=", "caf\xc3\xa9" },
		{ "=?windows-1252?q?=80?=", "\xe2\x82\xac" },
		{ "=?utf-8*en?q?lang?=", "lang" },
		{ "folded\r\n line", "folded line" },
		{ "=?utf-8?x?bad?= =?utf-8?q?unterminated", "=?utf-8?x?bad?= "
		                                            "=?utf-8?q?"
		                                            "unterminated" },
		{ "raw \xff byte", "raw \xef\xbf\xbd byte" },
		{ "=?us-ascii?q?=FF?=", "\xef\xbf\xbd" },
		{ "", "" },
	};
	struct buf b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(wc) / sizeof(wc[0]); i++) {
		buf_init(&b, 4096);
		assert_int_equal(mimetree_words_decode(wc[i].in,
		                     strlen(wc[i].in), &b),
		    0);
		if (b.len != strlen(wc[i].want) ||
		    (b.len > 0 && memcmp(b.data, wc[i].want, b.len) != 0))
			fail_msg("words %zu: [%.*s]", i, (int)b.len,
			    b.data != NULL ? (char *)b.data : "");
		buf_reset(&b);
	}
}

static void
test_to_utf8(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(mimetree_to_utf8("ISO-8859-1", "\xe9\x00", 2, &b), 0);
	assert_memory_equal(b.data, "\xc3\xa9\xef\xbf\xbd", 5);
	buf_clear(&b);
	/* Overlong, surrogate: replaced, never copied. */
	assert_int_equal(mimetree_to_utf8("utf-8", "\xc0\xaf\xed\xa0\x80", 5,
	                     &b),
	    0);
	assert_int_equal(b.len, 15);
	buf_clear(&b);
	/* The cap: -1, and no write past it. */
	buf_reset(&b);
	buf_init(&b, 3);
	assert_int_equal(mimetree_to_utf8("latin1", "\xe9\xe9", 2, &b), -1);
	assert_true(b.len <= 3);
	buf_reset(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_depth_cap),
		cmocka_unit_test(test_part_cap),
		cmocka_unit_test(test_filename_cut),
		cmocka_unit_test(test_boundary_cap),
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_to_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
