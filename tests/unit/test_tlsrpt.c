/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for deliver/tlsrpt.c: the _smtp._tls TXT record (RFC 8460
 * 3) and the aggregate report (4), read back with jansson and checked
 * member by member against the RFC's structure, hostile strings in it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "deliver/tlsrpt.h"
#include "util/buf.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct txt_case {
	const char *txt;
	enum tlsrpt_txt want;
	size_t nrua;
	const char *rua0;
};

static const struct txt_case txt_cases[] = {
	{ "v=TLSRPTv1; rua=mailto:reports@example.com", TLSRPT_TXT_OK, 1,
	    "mailto:reports@example.com" },
	{ "v=TLSRPTv1;rua=https://reporting.example.com/v1/tlsrpt",
	    TLSRPT_TXT_OK, 1, "https://reporting.example.com/v1/tlsrpt" },
	{ "v=TLSRPTv1; rua=mailto:a@x.example, https://r.example/x; ext=1",
	    TLSRPT_TXT_OK, 2, "mailto:a@x.example" },
	{ "v=TLSRPTv1; rua=ftp://x.example,mailto:b@x.example",
	    TLSRPT_TXT_OK, 1, "mailto:b@x.example" },
	{ "v=spf1 -all", TLSRPT_TXT_OTHER, 0, NULL },
	{ "v=TLSRPTv10; rua=mailto:a@b", TLSRPT_TXT_OTHER, 0, NULL },
	{ "v=TLSRPTv1", TLSRPT_TXT_OTHER, 0, NULL },
	{ "v=TLSRPTv1;", TLSRPT_TXT_INVALID, 0, NULL },
	{ "v=TLSRPTv1; rua=http://insecure.example/", TLSRPT_TXT_INVALID, 0,
	    NULL },
	{ "v=TLSRPTv1; rua=mailto:", TLSRPT_TXT_INVALID, 0, NULL },
	{ "v=TLSRPTv1; rua=mailto:a b@x", TLSRPT_TXT_INVALID, 0, NULL },
	{ "v=TLSRPTv1; rua=mailto:a@x; rua=mailto:b@x", TLSRPT_TXT_INVALID,
	    0, NULL },
};

static void
test_txt(void **state)
{
	struct tlsrpt_record rec;
	struct why why;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(txt_cases); i++) {
		const struct txt_case *c = &txt_cases[i];
		enum tlsrpt_txt got;

		why_clear(&why);
		got = tlsrpt_txt_parse(c->txt, strlen(c->txt), &rec, &why);
		if (got != c->want)
			fail_msg("'%s': got %d (%s)", c->txt, got, why.text);
		if (got != TLSRPT_TXT_OK)
			continue;
		assert_int_equal(rec.nrua, c->nrua);
		assert_string_equal(rec.rua[0], c->rua0);
	}
}

static void
test_txt_rua_cap(void **state)
{
	struct tlsrpt_record rec;
	struct why why;
	char txt[1024] = "v=TLSRPTv1; rua=";
	size_t i;

	(void)state;
	for (i = 0; i < TLSRPT_RUA_MAX + 3; i++)
		(void)snprintf(txt + strlen(txt), sizeof(txt) - strlen(txt),
		    "%smailto:r%zu@x.example", i ? "," : "", i);
	assert_int_equal(tlsrpt_txt_parse(txt, strlen(txt), &rec, &why),
	    TLSRPT_TXT_OK);
	assert_int_equal(rec.nrua, TLSRPT_RUA_MAX);
}

static json_t *
obj(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		fail_msg("no member \"%s\"", key);
	return v;
}

static void
test_report(void **state)
{
	static const char *const lines[] = { "version: STSv1", "mode: enforce",
		"mx: *.mail.example", "max_age: 86400" };
	static const char *const mx[] = { "*.mail.example" };
	struct tlsrpt_failure fail[2] = {
		{ TLSRPT_CERT_EXPIRED, "192.0.2.1", "mx1.mail.example",
		    "198.51.100.7", "", 3 },
		{ TLSRPT_STARTTLS_NOT_SUPPORTED, "", "mx2.mail.example\"\n{",
		    "", "x", 1 },
	};
	struct tlsrpt_policy pol[2] = {
		{ TLSRPT_STS, "mail.example", lines, 4, mx, 1, 10, 4, fail, 2 },
		{ TLSRPT_NO_POLICY, "plain.example", NULL, 0, NULL, 0, 7, 0,
		    NULL, 0 },
	};
	struct tlsrpt_report r = { "mx.tern.example", "postmaster@tern.example",
		"2026-12-04T00:00:00Z_mail.example", 1796342400,
		1796342400 + 86399, pol, 2 };
	struct buf b;
	json_error_t err;
	json_t *root, *p0, *f1;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(tlsrpt_write(&b, &r), 0);
	root = json_loadb((const char *)b.data, b.len, 0, &err);
	if (root == NULL)
		fail_msg("not JSON: %s: %.*s", err.text, (int)b.len,
		    (const char *)b.data);
	assert_string_equal(json_string_value(obj(root, "organization-name")),
	    "mx.tern.example");
	assert_string_equal(json_string_value(obj(obj(root, "date-range"),
	    "start-datetime")), "2026-12-04T00:00:00Z");
	assert_string_equal(json_string_value(obj(obj(root, "date-range"),
	    "end-datetime")), "2026-12-04T23:59:59Z");
	assert_non_null(obj(root, "contact-info"));
	assert_non_null(obj(root, "report-id"));
	assert_int_equal(json_array_size(obj(root, "policies")), 2);
	p0 = json_array_get(obj(root, "policies"), 0);
	assert_string_equal(json_string_value(obj(obj(p0, "policy"),
	    "policy-type")), "sts");
	assert_int_equal(json_array_size(obj(obj(p0, "policy"),
	    "policy-string")), 4);
	assert_int_equal(json_integer_value(obj(obj(p0, "summary"),
	    "total-failure-session-count")), 4);
	f1 = json_array_get(obj(p0, "failure-details"), 1);
	assert_string_equal(json_string_value(obj(f1, "result-type")),
	    "starttls-not-supported");
	/* A hostile host name stays one string. */
	assert_string_equal(json_string_value(obj(f1,
	    "receiving-mx-hostname")), "mx2.mail.example\"\n{");
	assert_null(json_object_get(f1, "sending-mta-ip"));
	assert_string_equal(json_string_value(obj(obj(json_array_get(obj(root,
	    "policies"), 1), "policy"), "policy-type")), "no-policy-found");
	assert_null(json_object_get(json_array_get(obj(root, "policies"), 1),
	    "failure-details"));
	json_decref(root);

	/* A full buffer is -1, never a cut report passed on as whole. */
	buf_reset(&b);
	buf_init(&b, 100);
	assert_int_equal(tlsrpt_write(&b, &r), -1);
	buf_reset(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_txt),
		cmocka_unit_test(test_txt_rua_cap),
		cmocka_unit_test(test_report),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
