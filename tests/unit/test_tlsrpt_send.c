/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for the pure parts of deliver/tlsrpt_send.c: gzip (read
 * back with zlib), the host-name check that guards header fields and
 * file names, and the RFC 8460 5.3 message (fields, Subject, parts, the
 * attachment decoding back to the gzip), hostile values refused.
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
#include <zlib.h>

#include "deliver/tlsrpt_send.h"
#include "smtp/auth.h"
#include "util/buf.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Inflate a gzip stream; the length, or -1. */
static long
gunzip(const void *p, size_t n, char *dst, size_t dstsz)
{
	z_stream z;
	int zr;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return -1;
	z.next_in = (Bytef *)(uintptr_t)p;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)dst;
	z.avail_out = (uInt)dstsz;
	zr = inflate(&z, Z_FINISH);
	inflateEnd(&z);
	return zr == Z_STREAM_END ? (long)(dstsz - z.avail_out) : -1;
}

static void
test_gzip(void **state)
{
	static const char json[] = "{\"organization-name\":\"mx.example\"}";
	char back[256], big[100000];
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(tlsrpt_gzip(json, strlen(json), &b), 0);
	/* RFC 1952 magic. */
	assert_true(b.len > 18 && b.data[0] == 0x1f && b.data[1] == 0x8b);
	assert_int_equal(gunzip(b.data, b.len, back, sizeof(back)),
	    (long)strlen(json));
	assert_memory_equal(back, json, strlen(json));
	buf_reset(&b);
	/* Over the output's max: -1, not a cut stream. */
	memset(big, 'x', sizeof(big));
	buf_init(&b, 16);
	assert_int_equal(tlsrpt_gzip(big, sizeof(big), &b), -1);
	buf_reset(&b);
	buf_init(&b, 1 << 20);
	assert_int_equal(tlsrpt_gzip("", 0, &b), 0);
	assert_int_equal(gunzip(b.data, b.len, back, sizeof(back)), 0);
	buf_reset(&b);
}

static void
test_hostname(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{ "example.com", true },
		{ "a", true },
		{ "mx-1.example", true },
		{ "_x.example", true },
		{ "", false },
		{ ".example", false },
		{ "a..b", false },
		{ "-a.b", false },
		{ "a-.b", false },
		{ "a.b-", false },
		{ "a b", false },
		{ "a\r\nX: y", false },
		{ "a!b", false },
		{ "a/b", false },
		{ "a.b.", false },
	};
	char label[70], name[300];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++)
		if (tlsrpt_is_hostname(cases[i].s) != cases[i].ok)
			fail_msg("%s", cases[i].s);
	memset(label, 'a', 63);
	label[63] = '\0';
	assert_true(tlsrpt_is_hostname(label));
	label[63] = 'a';
	label[64] = '\0';
	assert_false(tlsrpt_is_hostname(label));
	/* 253 is the longest name; 254 is not one. */
	memset(name, 'a', 253);
	for (i = 50; i < 253; i += 51)
		name[i] = '.';
	name[253] = '\0';
	assert_true(tlsrpt_is_hostname(name));
	name[253] = 'a';
	name[254] = '\0';
	assert_false(tlsrpt_is_hostname(name));
}

static struct tlsrpt_mail
mail(const void *gz, size_t n)
{
	struct tlsrpt_mail m;

	memset(&m, 0, sizeof(m));
	m.submitter = "mx.sender.example";
	m.from = "postmaster@sender.example";
	m.to = "reports@policy.example";
	m.domain = "policy.example";
	m.report_id = "2026-12-04.policy.example.0a0b@mx.sender.example";
	m.start = 1796342400;
	m.end = 1796342400 + 86399;
	m.now = 1796342400 + 90000;
	m.gz = gz;
	m.gzlen = n;
	return m;
}

static void
test_mail(void **state)
{
	static const char json[] = "{\"report-id\":\"x\"}";
	struct tlsrpt_mail m;
	struct buf gz, b;
	const char *s, *att, *end;
	uint8_t raw[4096];
	char b64[8192], back[256];
	size_t k = 0, rawlen;

	(void)state;
	buf_init(&gz, 1 << 20);
	assert_int_equal(tlsrpt_gzip(json, strlen(json), &gz), 0);
	m = mail(gz.data, gz.len);
	buf_init(&b, 1 << 20);
	assert_int_equal(tlsrpt_mail_build(&m, &b), 0);
	assert_int_equal(buf_append(&b, "", 1), 0);
	s = (const char *)b.data;
	assert_non_null(strstr(s, "\r\nSubject: Report Domain: policy.example "
	                          "Submitter: mx.sender.example Report-ID: "
	                          "<2026-12-04.policy.example.0a0b@"
	                          "mx.sender.example>\r\n"));
	assert_non_null(strstr(s, "\r\nTLS-Report-Domain: policy.example\r\n"));
	assert_non_null(
	    strstr(s, "\r\nTLS-Report-Submitter: mx.sender.example\r\n"));
	assert_non_null(strstr(s, "Content-Type: multipart/report; "
	                          "report-type=\"tlsrpt\";"));
	assert_non_null(strstr(s, "filename=\"mx.sender.example!policy."
	                          "example!1796342400!1796428799!"));
	/* No bare LF anywhere: CRLF lines only. */
	for (end = s; (end = strchr(end, '\n')) != NULL; end++)
		assert_true(end > s && end[-1] == '\r');
	/* The attachment decodes back to the gzip, and that to the JSON. */
	att = strstr(s, "Content-Type: application/tlsrpt+gzip\r\n");
	assert_non_null(att);
	att = strstr(att, "\r\n\r\n");
	assert_non_null(att);
	att += 4;
	end = strstr(att, "\r\n--");
	assert_non_null(end);
	for (; att < end; att++)
		if (*att != '\r' && *att != '\n')
			b64[k++] = *att;
	assert_true(smtp_b64_decode(b64, k, raw, sizeof(raw), &rawlen));
	assert_int_equal(rawlen, gz.len);
	assert_int_equal(gunzip(raw, rawlen, back, sizeof(back)),
	    (long)strlen(json));
	buf_reset(&b);

	/* Hostile values never reach a header. */
	m = mail(gz.data, gz.len);
	m.domain = "policy.example\r\nBcc: x@y";
	assert_int_equal(tlsrpt_mail_build(&m, &b), -1);
	m = mail(gz.data, gz.len);
	m.to = "a@b\r\nX: y";
	assert_int_equal(tlsrpt_mail_build(&m, &b), -1);
	m = mail(gz.data, gz.len);
	m.report_id = "id with space";
	assert_int_equal(tlsrpt_mail_build(&m, &b), -1);
	m = mail(gz.data, gz.len);
	m.submitter = "mx!evil";
	assert_int_equal(tlsrpt_mail_build(&m, &b), -1);
	buf_reset(&b);
	buf_reset(&gz);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_hostname),
		cmocka_unit_test(test_mail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
