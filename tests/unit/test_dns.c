/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for the pure part of deliver/dns.c: MX rdata decoding
 * (hostile lengths, compression pointers, bad bytes, the null MX) and
 * the preference sort with its tie order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dns/dns.h"

#define R(s) (const uint8_t *)s, sizeof(s) - 1

struct rdata_case {
	const char *name;
	const uint8_t *p;
	size_t n;
	const char *want; /* NULL: must fail */
	unsigned pref;
};

static const struct rdata_case cases[] = {
	{ "simple",
	    R("\x00\x0a\x02mx\x07"
	      "example\x04test\x00"),
	    "mx.example.test", 10 },
	{ "upper", R("\x01\x00\x02MX\x01T\x00"), "mx.t", 256 },
	{ "null-mx", R("\x00\x00\x00"), "", 0 },
	{ "underscore", R("\x00\x01\x03_mx\x00"), "_mx", 1 },
	/* invalid */
	{ "empty", R(""), NULL, 0 },
	{ "pref-only", R("\x00\x01"), NULL, 0 },
	{ "no-root", R("\x00\x01\x02mx"), NULL, 0 },
	{ "label-past-end", R("\x00\x01\x05mx\x00"), NULL, 0 },
	{ "compression", R("\x00\x01\xc0\x0c"), NULL, 0 },
	{ "label-64", R("\x00\x01\x40"), NULL, 0 },
	{ "trailing", R("\x00\x01\x02mx\x00x"), NULL, 0 },
	{ "dot-in-label", R("\x00\x01\x03m.x\x00"), NULL, 0 },
	{ "nul-in-label", R("\x00\x01\x03m\x00x\x00"), NULL, 0 },
	{ "space", R("\x00\x01\x03m x\x00"), NULL, 0 },
};

static void
test_rdata(void **state)
{
	struct dns_mx mx;
	size_t i, cut;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rdata_case *c = &cases[i];
		bool ok = dns_mx_rdata_parse(c->p, c->n, &mx);

		if (ok != (c->want != NULL))
			fail_msg("%s: got %d", c->name, ok);
		if (ok) {
			assert_string_equal(mx.host, c->want);
			assert_int_equal(mx.pref, c->pref);
			/* No proper prefix of a good record parses. */
			for (cut = 0; cut < c->n; cut++)
				if (dns_mx_rdata_parse(c->p, cut, &mx))
					fail_msg("%s: prefix %zu", c->name,
					    cut);
		}
	}
}

/* Names at the 253-character limit, and one past it. */
static void
test_rdata_limits(void **state)
{
	uint8_t rd[300];
	struct dns_mx mx;
	size_t o, i, labels;

	(void)state;
	/* 3 labels of 63 + 1 of 61: 63*3 + 61 + 3 dots = 253. */
	for (labels = 0; labels < 2; labels++) {
		o = 0;
		rd[o++] = 0;
		rd[o++] = 5;
		for (i = 0; i < 4; i++) {
			size_t len = i < 3 ? 63 : 61 + labels;

			rd[o++] = (uint8_t)len;
			memset(rd + o, 'a', len);
			o += len;
		}
		rd[o++] = 0;
		if (labels == 0) {
			assert_true(dns_mx_rdata_parse(rd, o, &mx));
			assert_int_equal(strlen(mx.host), 253);
		} else
			assert_false(dns_mx_rdata_parse(rd, o, &mx));
	}
}

static void
test_sort(void **state)
{
	struct dns_mx mx[4] = { { "c", 20 }, { "a", 10 }, { "b", 10 },
		{ "d", 5 } };
	uint32_t r1[4] = { 0, 2, 1, 0 }, r2[4] = { 0, 1, 2, 0 };
	struct dns_mx m2[4];

	(void)state;
	memcpy(m2, mx, sizeof(mx));
	dns_mx_sort(mx, 4, r1);
	assert_string_equal(mx[0].host, "d");
	assert_string_equal(mx[1].host, "b"); /* tie: lower rnd first */
	assert_string_equal(mx[2].host, "a");
	assert_string_equal(mx[3].host, "c");
	dns_mx_sort(m2, 4, r2);
	assert_string_equal(m2[1].host, "a");
	assert_string_equal(m2[2].host, "b");
	dns_mx_sort(mx, 0, r1);
}

/* TXT strings joined; a NUL inside kept as DEL; a broken one skipped. */
static void
test_txt_join(void **state)
{
	static const uint8_t two[] = "\x07v=spf1 \x04-all";
	static const uint8_t nul[] = "\x05" "a\0b c";
	static const uint8_t cut[] = "\x09short";
	const uint8_t *in[] = { two, nul, cut };
	const size_t len[] = { sizeof(two) - 1, sizeof(nul) - 1,
		sizeof(cut) - 1 };
	struct dns_rrset rs;
	size_t i;

	(void)state;
	rs.n = 3;
	rs.data = calloc(3, sizeof(*rs.data));
	rs.len = calloc(3, sizeof(*rs.len));
	assert_non_null(rs.data);
	assert_non_null(rs.len);
	for (i = 0; i < 3; i++) {
		rs.data[i] = malloc(len[i] + 1);
		assert_non_null(rs.data[i]);
		memcpy(rs.data[i], in[i], len[i]);
		rs.len[i] = len[i];
	}
	dns_txt_join(&rs);
	assert_int_equal(rs.n, 2);
	assert_string_equal((char *)rs.data[0], "v=spf1 -all");
	assert_int_equal(rs.len[0], 11);
	assert_string_equal((char *)rs.data[1], "a\x7f" "b c");
	dns_rrset_free(&rs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rdata),
		cmocka_unit_test(test_rdata_limits),
		cmocka_unit_test(test_sort),
		cmocka_unit_test(test_txt_join),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
