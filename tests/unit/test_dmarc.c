/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for auth/dmarc.c: the From domain (RFC 5322 grammar and
 * the cases DMARC must not let through), the organizational domain from
 * the Public Suffix List, the policy record parser, and the check
 * against a table of DNS answers (authdns).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/dmarc.h"
#include "util/str.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- The From domain ---- */

struct from_case {
	const char *name;
	const char *value; /* one field; NULL: see n */
	enum dmarc_from want;
	const char *domain; /* on DMARC_FROM_OK */
};

static const struct from_case from_cases[] = {
	{ "plain", "a@example.com", DMARC_FROM_OK, "example.com" },
	{ "name-addr", "Alice <alice@example.com>", DMARC_FROM_OK,
	    "example.com" },
	{ "mixed-case", "Alice <alice@EXAMPLE.Com>", DMARC_FROM_OK,
	    "example.com" },
	{ "no-name-angle", " <a@example.com> ", DMARC_FROM_OK, "example.com" },
	{ "quoted-name", "\"Bob, the \\\"boss\\\"\" <bob@example.org>",
	    DMARC_FROM_OK, "example.org" },
	{ "name-looks-like-addr", "\"ceo@evil.example\" <v@bank.example>",
	    DMARC_FROM_OK, "bank.example" },
	{ "comments", "(c) a@b.example (c2)", DMARC_FROM_OK, "b.example" },
	{ "nested-comment", "(a (b <x@evil.example>) c) <x@good.example>",
	    DMARC_FROM_OK, "good.example" },
	{ "comment-in-domain", "a@(c)example.com", DMARC_FROM_OK,
	    "example.com" },
	{ "encoded-word-q", "=?utf-8?q?J=C3=B6rg_M?= <j@example.de>",
	    DMARC_FROM_OK, "example.de" },
	{ "encoded-word-b", "=?UTF-8?B?SsO2cmc=?= <j@example.de>",
	    DMARC_FROM_OK, "example.de" },
	{ "quoted-local", "\"john doe\"@example.com", DMARC_FROM_OK,
	    "example.com" },
	{ "quoted-local-at", "\"a@evil.example\"@example.com", DMARC_FROM_OK,
	    "example.com" },
	{ "obs-phrase", "John Q. Public <j@example.com>", DMARC_FROM_OK,
	    "example.com" },
	{ "group-one", "Team: a@example.com;", DMARC_FROM_OK, "example.com" },
	{ "route", "<@relay.example,@r2.example:a@example.com>", DMARC_FROM_OK,
	    "example.com" },
	{ "trailing-dot", "a@example.com.", DMARC_FROM_OK, "example.com" },
	{ "folded", "Alice\r\n <a@example.com>", DMARC_FROM_OK, "example.com" },
	{ "obs-empty-elements", " , a@example.com ,", DMARC_FROM_OK,
	    "example.com" },
	{ "u-label",
	    "a@B\xc3\xbc"
	    "cher.example",
	    DMARC_FROM_OK,
	    "b\xc3\xbc"
	    "cher.example" },
	{ "a-label", "a@XN--bcher-kva.example", DMARC_FROM_OK,
	    "xn--bcher-kva.example" },
	{ "utf8-local", "\xc3\xa9t\xc3\xa9@example.fr", DMARC_FROM_OK,
	    "example.fr" },
	{ "label-63",
	    "a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    ".example",
	    DMARC_FROM_OK,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    ".example" },
	{ "comment-depth-16", "((((((((((((((((x))))))))))))))))a@example.com",
	    DMARC_FROM_OK, "example.com" },
	/* not exactly one address */
	{ "empty", "", DMARC_FROM_NO_ADDR, NULL },
	{ "blank", " \t(comment) ", DMARC_FROM_NO_ADDR, NULL },
	{ "empty-group", "undisclosed-recipients:;", DMARC_FROM_NO_ADDR, NULL },
	{ "two-addrs", "a@example.com, b@evil.example",
	    DMARC_FROM_SEVERAL_ADDRS, NULL },
	{ "two-addrs-same", "a@example.com, b@example.com",
	    DMARC_FROM_SEVERAL_ADDRS, NULL },
	{ "two-name-addrs", "A <a@evil.example>, B <b@example.com>",
	    DMARC_FROM_SEVERAL_ADDRS, NULL },
	{ "group-two", "G: a@example.com, b@evil.example;",
	    DMARC_FROM_SEVERAL_ADDRS, NULL },
	{ "group-and-addr", "G:;, a@example.com, G2: b@x.example;",
	    DMARC_FROM_SEVERAL_ADDRS, NULL },
	/* unusable domains */
	{ "ip-literal", "a@[192.0.2.1]", DMARC_FROM_BAD_DOMAIN, NULL },
	{ "bang-domain", "a@ex!ample.com", DMARC_FROM_BAD_DOMAIN, NULL },
	{ "label-64",
	    "a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    ".example",
	    DMARC_FROM_BAD_DOMAIN, NULL },
	{ "bad-utf8-domain", "a@\xc3(.example", DMARC_FROM_SYNTAX, NULL },
	{ "bad-utf8-label", "a@\xff.example", DMARC_FROM_BAD_DOMAIN, NULL },
	/* syntax */
	{ "two-words", "John Doe a@example.com", DMARC_FROM_SYNTAX, NULL },
	{ "addr-then-angle", "a@evil.example <b@example.com>",
	    DMARC_FROM_SYNTAX, NULL },
	{ "unclosed-angle", "<a@example.com", DMARC_FROM_SYNTAX, NULL },
	{ "empty-angle", "<>", DMARC_FROM_SYNTAX, NULL },
	{ "no-domain", "a@", DMARC_FROM_SYNTAX, NULL },
	{ "no-local", "@example.com", DMARC_FROM_SYNTAX, NULL },
	{ "no-at", "alice", DMARC_FROM_SYNTAX, NULL },
	{ "double-dot-domain", "a@example..com", DMARC_FROM_SYNTAX, NULL },
	{ "unterminated-comment", "(a@example.com", DMARC_FROM_SYNTAX, NULL },
	{ "unterminated-quote", "\"a <a@example.com>", DMARC_FROM_SYNTAX,
	    NULL },
	{ "stray-paren", "a@example.com)", DMARC_FROM_SYNTAX, NULL },
	{ "semicolon", "a@example.com;", DMARC_FROM_SYNTAX, NULL },
	{ "encoded-word-with-at", "=?utf-8?q?a@b?= <x@example.com>",
	    DMARC_FROM_SYNTAX, NULL },
	{ "nested-group", "A: B: c@example.com;;", DMARC_FROM_SYNTAX, NULL },
	{ "unclosed-group", "G: a@example.com", DMARC_FROM_SYNTAX, NULL },
	{ "control-char", "a@exa\x01mple.com", DMARC_FROM_SYNTAX, NULL },
	{ "comment-depth-17",
	    "(((((((((((((((((x)))))))))))))))))a@example.com",
	    DMARC_FROM_SYNTAX, NULL },
};

static void
test_from(void **state)
{
	char dom[DMARC_DOMAIN_MAX];
	struct dmarc_field f;
	enum dmarc_from st;
	size_t i, cut;

	(void)state;
	for (i = 0; i < NELEM(from_cases); i++) {
		const struct from_case *c = &from_cases[i];

		f.p = c->value;
		f.n = strlen(c->value);
		st = dmarc_from_domain(&f, 1, dom);
		if (st != c->want)
			fail_msg("%s: got %s, want %s", c->name,
			    dmarc_from_name(st), dmarc_from_name(c->want));
		if (c->domain != NULL && strcmp(dom, c->domain) != 0)
			fail_msg("%s: domain %s", c->name, dom);
		if (c->domain == NULL && dom[0] != 0)
			fail_msg("%s: domain %s on error", c->name, dom);
		/* Every prefix parses to something, without reading past n
		 * (ASan: the copy is exactly cut bytes long). */
		for (cut = 0; cut < f.n; cut++) {
			char *p = malloc(cut + 1);

			assert_non_null(p);
			memcpy(p, c->value, cut);
			f.p = p;
			f.n = cut;
			(void)dmarc_from_domain(&f, 1, dom);
			free(p);
		}
	}
}

static void
test_from_fields(void **state)
{
	struct dmarc_field f[2] = { { "a@example.com", 13 },
		{ "a@example.com", 13 } };
	struct dmarc_field nul = { "a@exa\0mple.com", 14 };
	char dom[DMARC_DOMAIN_MAX];

	(void)state;
	assert_int_equal(dmarc_from_domain(f, 0, dom), DMARC_FROM_NONE);
	assert_int_equal(dmarc_from_domain(f, 2, dom),
	    DMARC_FROM_SEVERAL_FIELDS);
	assert_int_equal(dmarc_from_domain(f, 1, dom), DMARC_FROM_OK);
	assert_string_equal(dom, "example.com");
	assert_int_equal(dmarc_from_domain(&nul, 1, dom), DMARC_FROM_SYNTAX);
}

/* 253 bytes of domain is the most; 254 is too long. */
static void
test_from_domain_length(void **state)
{
	char v[400], dom[DMARC_DOMAIN_MAX];
	struct dmarc_field f = { v, 0 };
	size_t len;

	(void)state;
	for (len = 252; len <= 254; len++) {
		size_t i;

		memcpy(v, "a@", 2);
		for (i = 0; i < len; i++) /* labels of 49 'x' and a dot */
			v[2 + i] = (i % 50 == 49) ? '.' : 'x';
		f.n = 2 + len;
		if (len == 254)
			assert_int_equal(dmarc_from_domain(&f, 1, dom),
			    DMARC_FROM_BAD_DOMAIN);
		else
			assert_int_equal(dmarc_from_domain(&f, 1, dom),
			    DMARC_FROM_OK);
	}
}

/* ---- Organizational domain ---- */

static void
test_org_domain(void **state)
{
	static const char *cases[][2] = {
		{ "example.com", "example.com" },
		{ "a.b.example.com", "example.com" },
		{ "A.B.EXAMPLE.COM.", "example.com" },
		{ "mail.example.co.uk", "example.co.uk" },
		{ "example.co.uk", "example.co.uk" },
		{ "co.uk", "co.uk" },
		{ "com", "com" },
		{ "x.user.github.io", "user.github.io" },
		{ "github.io", "github.io" },
		{ "foo.blogspot.com", "foo.blogspot.com" },
		{ "a.foo.blogspot.com", "foo.blogspot.com" },
		{ "www.unknowntld-zz", "www.unknowntld-zz" },
		{ "a.b.xn--p1ai", "b.xn--p1ai" },
	};
	char out[DMARC_DOMAIN_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		if (!dmarc_org_domain(cases[i][0], out))
			fail_msg("%s: false", cases[i][0]);
		if (strcmp(out, cases[i][1]) != 0)
			fail_msg("%s: got %s, want %s", cases[i][0], out,
			    cases[i][1]);
	}
	assert_false(dmarc_org_domain("", out));
	assert_false(dmarc_org_domain("a..b", out));
	assert_false(dmarc_org_domain("a b.example", out));
}

/* ---- The record ---- */

struct rec_case {
	const char *name;
	const char *txt;
	enum dmarc_record_status want;
	enum dmarc_policy p, sp;
	unsigned pct;
	bool adkim_s, aspf_s;
};

#define OK DMARC_RECORD_OK
#define NOTD DMARC_RECORD_NOT_DMARC
#define INV DMARC_RECORD_INVALID
#define PN DMARC_POLICY_NONE
#define PQ DMARC_POLICY_QUARANTINE
#define PR DMARC_POLICY_REJECT

static const struct rec_case rec_cases[] = {
	{ "minimal", "v=DMARC1; p=reject", OK, PR, PR, 100, false, false },
	{ "no-space", "v=DMARC1;p=none", OK, PN, PN, 100, false, false },
	{ "all-tags",
	    "v=DMARC1; p=none; sp=quarantine; pct=50; adkim=s; aspf=s; "
	    "rua=mailto:a@example.com; ruf=mailto:f@example.com; fo=1; "
	    "rf=afrf; ri=3600",
	    OK, PN, PQ, 50, true, true },
	{ "spaces-case", " v = DMARC1 ;\tP = Reject ; SP=None ; ", OK, PR, PN,
	    100, false, false },
	{ "unknown-tag", "v=DMARC1; p=quarantine; np=reject; x_y=1", OK, PQ, PQ,
	    100, false, false },
	{ "trailing-semi", "v=DMARC1; p=reject;", OK, PR, PR, 100, false,
	    false },
	{ "empty-specs", "v=DMARC1;; p=reject;;", OK, PR, PR, 100, false,
	    false },
	{ "pct-0", "v=DMARC1; p=reject; pct=0", OK, PR, PR, 0, false, false },
	{ "pct-100", "v=DMARC1; p=reject; pct=100", OK, PR, PR, 100, false,
	    false },
	{ "pct-99", "v=DMARC1; p=reject; pct=99", OK, PR, PR, 99, false,
	    false },
	{ "pct-101-ignored", "v=DMARC1; p=reject; pct=101", OK, PR, PR, 100,
	    false, false },
	{ "pct-neg-ignored", "v=DMARC1; p=reject; pct=-1", OK, PR, PR, 100,
	    false, false },
	{ "pct-junk-ignored", "v=DMARC1; p=reject; pct=5x", OK, PR, PR, 100,
	    false, false },
	{ "adkim-junk-relaxed", "v=DMARC1; p=reject; adkim=x", OK, PR, PR, 100,
	    false, false },
	{ "repeated-first-wins", "v=DMARC1; p=none; p=reject", OK, PN, PN, 100,
	    false, false },
	{ "bad-p-with-rua", "v=DMARC1; p=bogus; rua=mailto:d@example.com", OK,
	    PN, PN, 100, false, false },
	{ "no-p-with-rua", "v=DMARC1; rua=mailto:d@example.com", OK, PN, PN,
	    100, false, false },
	{ "bad-sp-with-rua",
	    "v=DMARC1; p=reject; sp=x; rua=bad, mailto:d@example.com", OK, PN,
	    PN, 100, false, false },
	/* invalid */
	{ "no-p", "v=DMARC1", INV, PN, PN, 100, false, false },
	{ "only-sp", "v=DMARC1; sp=reject", INV, PN, PN, 100, false, false },
	{ "bad-p", "v=DMARC1; p=bogus", INV, PN, PN, 100, false, false },
	{ "bad-sp", "v=DMARC1; p=reject; sp=bogus", INV, PN, PN, 100, false,
	    false },
	{ "bad-p-bad-rua", "v=DMARC1; p=bogus; rua=nouri", INV, PN, PN, 100,
	    false, false },
	{ "no-equals", "v=DMARC1; p=reject; novalue", INV, PN, PN, 100, false,
	    false },
	{ "empty-name", "v=DMARC1; p=reject; =x", INV, PN, PN, 100, false,
	    false },
	{ "digit-name", "v=DMARC1; p=reject; 1a=x", INV, PN, PN, 100, false,
	    false },
	{ "control-in-value", "v=DMARC1; p=reject; rua=a\x01", INV, PN, PN, 100,
	    false, false },
	{ "eight-bit-value", "v=DMARC1; p=reject; x=\xc3\xa9", INV, PN, PN, 100,
	    false, false },
	/* not DMARC at all: skipped */
	{ "v-not-first", "p=reject; v=DMARC1", NOTD, PN, PN, 100, false,
	    false },
	{ "lower-dmarc1", "v=dmarc1; p=reject", NOTD, PN, PN, 100, false,
	    false },
	{ "dmarc2", "v=DMARC2; p=reject", NOTD, PN, PN, 100, false, false },
	{ "no-semicolon", "v=DMARC1 p=reject", NOTD, PN, PN, 100, false,
	    false },
	{ "spf", "v=spf1 -all", NOTD, PN, PN, 100, false, false },
	{ "empty", "", NOTD, PN, PN, 100, false, false },
};

static void
test_record(void **state)
{
	struct dmarc_record r;
	enum dmarc_record_status st;
	const char *why;
	size_t i, cut;

	(void)state;
	for (i = 0; i < NELEM(rec_cases); i++) {
		const struct rec_case *c = &rec_cases[i];

		why = NULL;
		st = dmarc_record_parse(c->txt, strlen(c->txt), &r, &why);
		if (st != c->want)
			fail_msg("%s: got %d (%s), want %d", c->name, st, why,
			    c->want);
		assert_non_null(why);
		if (st != OK)
			continue;
		if (r.p != c->p || r.sp != c->sp || r.pct != c->pct ||
		    r.adkim_strict != c->adkim_s || r.aspf_strict != c->aspf_s)
			fail_msg("%s: p %d sp %d pct %u adkim %d aspf %d",
			    c->name, r.p, r.sp, r.pct, r.adkim_strict,
			    r.aspf_strict);
		for (cut = 0; cut < strlen(c->txt); cut++) {
			char *p = malloc(cut + 1);

			assert_non_null(p);
			memcpy(p, c->txt, cut);
			(void)dmarc_record_parse(p, cut, &r, NULL);
			free(p);
		}
	}
}

static void
test_record_kept(void **state)
{
	static const char txt[] =
	    "v=DMARC1; p=reject; "
	    "rua=mailto:a@example.com,mailto:b@x.example; "
	    "ruf=mailto:f@example.com; ri=3600";
	struct dmarc_record r;
	char big[600];

	(void)state;
	assert_int_equal(dmarc_record_parse(txt, strlen(txt), &r, NULL), OK);
	assert_string_equal(r.rua, "mailto:a@example.com,mailto:b@x.example");
	assert_string_equal(r.ruf, "mailto:f@example.com");
	assert_int_equal(r.ri, 3600);
	assert_false(r.p_from_rua);
	/* A rua longer than DMARC_URIS_MAX is cut, never overflows. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "v=DMARC1; p=none; rua=mailto:", 29);
	assert_int_equal(dmarc_record_parse(big, sizeof(big), &r, NULL), OK);
	assert_int_equal(strlen(r.rua), DMARC_URIS_MAX - 1);
	/* A NUL inside makes it invalid. */
	assert_int_equal(dmarc_record_parse("v=DMARC1; p=none\0x", 18, &r,
	                     NULL),
	    INV);
}

/* ---- The check, against a table of DNS answers ---- */

struct zone {
	const char *name;
	enum dns_status st;
	const char *txt[3];
};

static const struct zone zone[] = {
	{ "_dmarc.example.com", DNS_OK,
	    { "v=DMARC1; p=reject; sp=quarantine" } },
	{ "_dmarc.own.example.com", DNS_OK, { "v=DMARC1; p=none" } },
	{ "_dmarc.strict.example", DNS_OK,
	    { "v=DMARC1; p=reject; adkim=s; aspf=s" } },
	{ "_dmarc.example.co.uk", DNS_OK, { "v=DMARC1; p=quarantine" } },
	{ "_dmarc.user.github.io", DNS_OK, { "v=DMARC1; p=reject" } },
	{ "_dmarc.pct0.example", DNS_OK, { "v=DMARC1; p=reject; pct=0" } },
	{ "_dmarc.pct50.example", DNS_OK,
	    { "v=DMARC1; p=quarantine; pct=50" } },
	{ "_dmarc.pct100.example", DNS_OK, { "v=DMARC1; p=reject; pct=100" } },
	{ "_dmarc.two.example", DNS_OK,
	    { "v=DMARC1; p=reject", "v=DMARC1; p=none" } },
	{ "_dmarc.bad.example", DNS_OK, { "v=DMARC1; p=bogus" } },
	{ "_dmarc.badrua.example", DNS_OK,
	    { "v=DMARC1; p=bogus; rua=mailto:d@badrua.example" } },
	{ "_dmarc.mixed.example", DNS_OK,
	    { "v=spf1 -all", "v=DMARC1; p=reject", "hello" } },
	{ "_dmarc.nodmarc.example", DNS_OK, { "v=spf1 -all" } },
	{ "_dmarc.temp.example", DNS_TEMP, { NULL } },
	{ "_dmarc.sub.temporg.example", DNS_NODATA, { NULL } },
	{ "_dmarc.temporg.example", DNS_TEMP, { NULL } },
	{ "_dmarc.sub.bad.example", DNS_OK, { "v=DMARC1; p=none; x" } },
};

static unsigned lookups;

static enum dns_status
table_lookup(void *arg, const char *name, int type, struct dns_rrset *out,
    struct why *why)
{
	size_t i, k, n;

	(void)arg;
	memset(out, 0, sizeof(*out));
	lookups++;
	assert_int_equal(type, DNS_T_TXT);
	for (i = 0; i < NELEM(zone); i++) {
		if (ascii_casecmp(zone[i].name, name) != 0)
			continue;
		if (zone[i].st == DNS_TEMP) {
			why_set(why, WHY_TEMP, 0, "timeout (table)");
			return DNS_TEMP;
		}
		if (zone[i].st != DNS_OK)
			return zone[i].st;
		for (n = 0; n < 3 && zone[i].txt[n] != NULL; n++)
			;
		out->data = calloc(n, sizeof(*out->data));
		out->len = calloc(n, sizeof(*out->len));
		assert_non_null(out->data);
		assert_non_null(out->len);
		for (k = 0; k < n; k++) {
			out->len[k] = strlen(zone[i].txt[k]);
			out->data[k] = (uint8_t *)strdup(zone[i].txt[k]);
			assert_non_null(out->data[k]);
		}
		out->n = n;
		return DNS_OK;
	}
	return DNS_NXDOMAIN;
}

static const struct authdns table_dns = { table_lookup, NULL };

struct check_case {
	const char *name;
	const char *from;
	const char *spf, *spf_domain;
	struct dmarc_dkim dkim[2];
	uint32_t sample;
	enum dmarc_result want;
	enum dmarc_policy policy, published;
	bool spf_aligned, dkim_aligned;
};

#define NODKIM                                                                 \
	{                                                                      \
		{                                                              \
			NULL, false                                            \
		}                                                              \
	}
#define DK(d, p)                                                               \
	{                                                                      \
		{                                                              \
			d, p                                                   \
		}                                                              \
	}

static const struct check_case check_cases[] = {
	/* relaxed alignment */
	{ "spf-aligned-relaxed", "example.com", "pass", "bounce.example.com",
	    NODKIM, 0, DMARC_PASS, PN, PR, true, false },
	{ "spf-same-domain", "example.com", "PASS", "Example.COM", NODKIM, 0,
	    DMARC_PASS, PN, PR, true, false },
	{ "spf-unaligned", "example.com", "pass", "evil.example", NODKIM, 0,
	    DMARC_FAIL, PR, PR, false, false },
	{ "spf-fail-aligned", "example.com", "fail", "example.com", NODKIM, 0,
	    DMARC_FAIL, PR, PR, false, false },
	{ "spf-softfail", "example.com", "softfail", "example.com", NODKIM, 0,
	    DMARC_FAIL, PR, PR, false, false },
	{ "spf-none", "example.com", NULL, NULL, NODKIM, 0, DMARC_FAIL, PR, PR,
	    false, false },
	{ "spf-psl-trick", "example.com", "pass", "com", NODKIM, 0, DMARC_FAIL,
	    PR, PR, false, false },
	{ "dkim-aligned-relaxed", "example.com", "fail", "evil.example",
	    DK("mail.example.com", true), 0, DMARC_PASS, PN, PR, false, true },
	{ "dkim-aligned-not-pass", "example.com", NULL, NULL,
	    DK("example.com", false), 0, DMARC_FAIL, PR, PR, false, false },
	{ "dkim-unaligned", "example.com", NULL, NULL, DK("evil.example", true),
	    0, DMARC_FAIL, PR, PR, false, false },
	{ "dkim-null-domain", "example.com", NULL, NULL, DK(NULL, true), 0,
	    DMARC_FAIL, PR, PR, false, false },
	{ "dkim-junk-domain", "example.com", NULL, NULL,
	    DK("exa mple.com", true), 0, DMARC_FAIL, PR, PR, false, false },
	{ "dkim-second-aligned", "example.com", NULL, NULL,
	    { { "evil.example", true }, { "EXAMPLE.com.", true } }, 0,
	    DMARC_PASS, PN, PR, false, true },
	{ "both-aligned", "example.com", "pass", "example.com",
	    DK("example.com", true), 0, DMARC_PASS, PN, PR, true, true },
	/* maddy 0.9.7: mixed case must align */
	{ "mixed-case", "EXAMPLE.com", NULL, NULL, DK("example.COM", true), 0,
	    DMARC_PASS, PN, PR, false, true },
	/* strict alignment */
	{ "strict-dkim-sub", "strict.example", NULL, NULL,
	    DK("sub.strict.example", true), 0, DMARC_FAIL, PR, PR, false,
	    false },
	{ "strict-dkim-equal", "strict.example", NULL, NULL,
	    DK("Strict.Example", true), 0, DMARC_PASS, PN, PR, false, true },
	{ "strict-spf-sub", "strict.example", "pass", "sub.strict.example",
	    NODKIM, 0, DMARC_FAIL, PR, PR, false, false },
	{ "strict-spf-equal", "strict.example", "pass", "strict.example",
	    NODKIM, 0, DMARC_PASS, PN, PR, true, false },
	{ "strict-from-sub", "sub.strict.example", NULL, NULL,
	    DK("strict.example", true), 0, DMARC_FAIL, PR, PR, false, false },
	/* sp= for subdomains, own records */
	{ "subdomain-sp", "a.b.example.com", NULL, NULL, NODKIM, 0, DMARC_FAIL,
	    PQ, PQ, false, false },
	{ "subdomain-aligned", "a.b.example.com", "pass", "example.com", NODKIM,
	    0, DMARC_PASS, PN, PQ, true, false },
	{ "subdomain-own-record", "own.example.com", NULL, NULL, NODKIM, 0,
	    DMARC_FAIL, PN, PN, false, false },
	{ "subdomain-no-sp", "mail.example.co.uk", NULL, NULL, NODKIM, 0,
	    DMARC_FAIL, PQ, PQ, false, false },
	{ "psl-co-uk-aligned", "mail.example.co.uk", NULL, NULL,
	    DK("example.co.uk", true), 0, DMARC_PASS, PN, PQ, false, true },
	{ "psl-co-uk-other", "mail.example.co.uk", NULL, NULL,
	    DK("other.co.uk", true), 0, DMARC_FAIL, PQ, PQ, false, false },
	{ "psl-private-other", "x.user.github.io", NULL, NULL,
	    DK("other.github.io", true), 0, DMARC_FAIL, PR, PR, false, false },
	{ "psl-private-same", "x.user.github.io", NULL, NULL,
	    DK("y.user.github.io", true), 0, DMARC_PASS, PN, PR, false, true },
	/* pct */
	{ "pct0", "pct0.example", NULL, NULL, NODKIM, 0, DMARC_FAIL, PQ, PR,
	    false, false },
	{ "pct100", "pct100.example", NULL, NULL, NODKIM, 99, DMARC_FAIL, PR,
	    PR, false, false },
	{ "pct50-in", "pct50.example", NULL, NULL, NODKIM, 49, DMARC_FAIL, PQ,
	    PQ, false, false },
	{ "pct50-out", "pct50.example", NULL, NULL, NODKIM, 50, DMARC_FAIL, PN,
	    PQ, false, false },
	{ "pct50-wraps", "pct50.example", NULL, NULL, NODKIM, 149, DMARC_FAIL,
	    PQ, PQ, false, false },
	/* discovery */
	{ "no-record", "nodmarc.example", NULL, NULL, NODKIM, 0, DMARC_NONE, PN,
	    PN, false, false },
	{ "nxdomain", "nowhere.example", NULL, NULL, NODKIM, 0, DMARC_NONE, PN,
	    PN, false, false },
	{ "two-records", "two.example", NULL, NULL, NODKIM, 0, DMARC_NONE, PN,
	    PN, false, false },
	{ "invalid-record", "bad.example", NULL, NULL, NODKIM, 0, DMARC_NONE,
	    PN, PN, false, false },
	{ "invalid-sub-no-fallback", "sub.bad.example", NULL, NULL, NODKIM, 0,
	    DMARC_NONE, PN, PN, false, false },
	{ "bad-p-rua-none", "badrua.example", NULL, NULL, NODKIM, 0, DMARC_FAIL,
	    PN, PN, false, false },
	{ "mixed-txt", "mixed.example", NULL, NULL, NODKIM, 0, DMARC_FAIL, PR,
	    PR, false, false },
	{ "temperror", "temp.example", "pass", "temp.example", NODKIM, 0,
	    DMARC_TEMPERROR, PN, PN, false, false },
	{ "temperror-org", "sub.temporg.example", NULL, NULL, NODKIM, 0,
	    DMARC_TEMPERROR, PN, PN, false, false },
	{ "bad-from-domain", "a b", NULL, NULL, NODKIM, 0, DMARC_PERMERROR, PR,
	    PR, false, false },
};

static size_t
ndkim(const struct check_case *c)
{
	return c->dkim[0].domain == NULL && !c->dkim[0].pass ? 0
	       : c->dkim[1].domain == NULL                   ? 1
	                                                     : 2;
}

static void
test_check(void **state)
{
	struct dmarc_verdict v;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(check_cases); i++) {
		const struct check_case *c = &check_cases[i];

		dmarc_check(&table_dns, c->from, c->spf, c->spf_domain, c->dkim,
		    ndkim(c), c->sample, &v);
		if (v.result != c->want || v.policy != c->policy ||
		    v.published != c->published ||
		    v.spf_aligned != c->spf_aligned ||
		    v.dkim_aligned != c->dkim_aligned)
			fail_msg("%s: %s policy %s published %s spf %d dkim %d"
			         " (%s)",
			    c->name, dmarc_result_name(v.result),
			    dmarc_policy_name(v.policy),
			    dmarc_policy_name(v.published), v.spf_aligned,
			    v.dkim_aligned, v.reason);
		if (v.result != DMARC_PASS && v.reason[0] == 0)
			fail_msg("%s: no reason", c->name);
	}
}

static void
test_check_details(void **state)
{
	struct dmarc_verdict v;
	struct dmarc_dkim d = { "example.com", false };

	(void)state;
	dmarc_check(&table_dns, "A.B.Example.COM.", NULL, NULL, &d, 1, 0, &v);
	assert_string_equal(v.from_domain, "a.b.example.com");
	assert_string_equal(v.org_domain, "example.com");
	assert_string_equal(v.record_domain, "example.com");
	assert_false(v.sampled_out);
	assert_non_null(strstr(v.reason, "sp=quarantine"));
	/* pct=0: sampled out, and the reason says so. */
	dmarc_check(&table_dns, "pct0.example", NULL, NULL, NULL, 0, 7, &v);
	assert_true(v.sampled_out);
	assert_non_null(strstr(v.reason, "pct"));
	/* The org domain is asked only when FROM has no record: 1 lookup. */
	lookups = 0;
	dmarc_check(&table_dns, "example.com", NULL, NULL, NULL, 0, 0, &v);
	assert_int_equal(lookups, 1);
	lookups = 0;
	dmarc_check(&table_dns, "x.y.example.com", NULL, NULL, NULL, 0, 0, &v);
	assert_int_equal(lookups, 2);
	/* A From too long for "_dmarc." + name: org domain asked only. */
	lookups = 0;
	dmarc_check(&table_dns,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example.com",
	    NULL, NULL, NULL, 0, 0, &v);
	assert_int_equal(lookups, 1);
	assert_int_equal(v.result, DMARC_FAIL);
}

/* The From cases end to end: never a pass, always reject. */
static void
test_check_message(void **state)
{
	static const struct {
		const char *name;
		const char *f[2];
		size_t n;
		enum dmarc_result want;
		enum dmarc_policy policy;
	} cases[] = {
		{ "ok-mixed-case", { "Alice <a@EXAMPLE.com>" }, 1, DMARC_PASS,
		    PN },
		{ "no-from", { NULL }, 0, DMARC_PERMERROR, PR },
		{ "two-fields", { "a@example.com", "b@evil.example" }, 2,
		    DMARC_PERMERROR, PR },
		{ "two-fields-same", { "a@example.com", "a@example.com" }, 2,
		    DMARC_PERMERROR, PR },
		{ "two-addrs", { "b@evil.example, a@example.com" }, 1,
		    DMARC_PERMERROR, PR },
		{ "unparsable", { "a@example.com <b@evil.example>" }, 1,
		    DMARC_PERMERROR, PR },
		{ "empty-group", { "x:;" }, 1, DMARC_PERMERROR, PR },
		{ "ip-literal", { "a@[192.0.2.1]" }, 1, DMARC_PERMERROR, PR },
	};
	/* The attacker signs evil.example: it must not count for any of
	 * them, and only the mixed-case one is ours. */
	struct dmarc_dkim d[2] = { { "evil.example", true },
		{ "example.COM", true } };
	struct dmarc_field f[2];
	struct dmarc_verdict v;
	size_t i, k;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		for (k = 0; k < cases[i].n; k++) {
			f[k].p = cases[i].f[k];
			f[k].n = strlen(cases[i].f[k]);
		}
		dmarc_check_message(&table_dns, f, cases[i].n, "pass",
		    "evil.example", d, 2, 0, &v);
		if (v.result != cases[i].want || v.policy != cases[i].policy)
			fail_msg("%s: %s %s (%s)", cases[i].name,
			    dmarc_result_name(v.result),
			    dmarc_policy_name(v.policy), v.reason);
		assert_true(v.reason[0] != 0 || v.result == DMARC_PASS);
	}
}

/* The verdict as an A-R resinfo, written by authres_write(). */
static void
test_authres(void **state)
{
	struct dmarc_field f = { "a@Example.COM", 13 };
	struct dmarc_verdict v;
	struct authres_result r;
	char comment[64];
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	dmarc_check_message(&table_dns, &f, 1, "pass", "evil.example", NULL, 0,
	    0, &v);
	dmarc_authres(&v, comment, sizeof(comment), &r);
	assert_int_equal(authres_write(&b, "mx.example.org", &r, 1), 0);
	assert_string_equal((char *)b.data,
	    "Authentication-Results: mx.example.org; dmarc=fail (p=reject"
	    " dis=reject)\r\n"
	    " reason=\"no aligned pass (SPF pass for evil.example, 0 DKIM"
	    " pass); p=reject\"\r\n"
	    " header.from=example.com policy.dmarc=reject\r\n");
	buf_clear(&b);
	/* A From error: no header.from, still policy.dmarc=reject. */
	dmarc_check_message(&table_dns, &f, 0, NULL, NULL, NULL, 0, 0, &v);
	dmarc_authres(&v, comment, sizeof(comment), &r);
	assert_int_equal(authres_write(&b, "mx.example.org", &r, 1), 0);
	assert_string_equal((char *)b.data,
	    "Authentication-Results: mx.example.org; dmarc=permerror (p=reject"
	    " dis=reject)\r\n"
	    " reason=\"no From field\" policy.dmarc=reject\r\n");
	buf_reset(&b);
}

static void
test_names(void **state)
{
	uint32_t r;
	int i;

	(void)state;
	assert_string_equal(dmarc_result_name(DMARC_NONE), "none");
	assert_string_equal(dmarc_result_name(DMARC_PASS), "pass");
	assert_string_equal(dmarc_result_name(DMARC_FAIL), "fail");
	assert_string_equal(dmarc_result_name(DMARC_TEMPERROR), "temperror");
	assert_string_equal(dmarc_result_name(DMARC_PERMERROR), "permerror");
	assert_string_equal(dmarc_policy_name(PQ), "quarantine");
	for (i = 0; i < 1000; i++) {
		r = dmarc_random();
		assert_true(r < 100);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from),
		cmocka_unit_test(test_from_fields),
		cmocka_unit_test(test_from_domain_length),
		cmocka_unit_test(test_org_domain),
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_record_kept),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_check_details),
		cmocka_unit_test(test_check_message),
		cmocka_unit_test(test_authres),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
