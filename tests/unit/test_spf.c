/* SPDX-License-Identifier: ISC */
/*
 * tests/unit/test_spf.c - auth/spf: the record grammar, macro expansion
 * (the RFC 7208 7.4 examples verbatim), PTR/MX names, and check_host()
 * against a table-driven fake authdns: mechanisms, include/redirect,
 * exp=, and every limit at limit-1, limit and limit+1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "auth/spf.h"
#include "util/str.h"

/* ---- record parsing ---- */

struct parse_case {
	const char *name, *rec;
	bool ok;
	size_t n_terms;
};

static const struct parse_case parse_cases[] = {
	{ "empty", "v=spf1", true, 0 },
	{ "all", "v=spf1 -all", true, 1 },
	{ "case", "V=SpF1 ~ALL", true, 1 },
	{ "spaces", "v=spf1  a   -all  ", true, 2 },
	{ "every-mech",
	    "v=spf1 a mx ptr ip4:192.0.2.0/24 ip6:2001:db8::/32 "
	    "include:_spf.example.com exists:%{i}.x.example.com ?all",
	    true, 8 },
	{ "dual-cidr", "v=spf1 a/24//64 mx:example.com/0//0", true, 2 },
	{ "colon-domain", "v=spf1 a:foo:bar/baz.example.com", true, 1 },
	{ "idn-top", "v=spf1 a:foo.example.xn--zckzah", true, 1 },
	{ "unknown-mod", "v=spf1 moo.cow-far_out=man:dog/cat -all", true, 1 },
	{ "mods", "v=spf1 redirect=_spf.example.com exp=x.%{d}", true, 0 },
	{ "macro-end", "v=spf1 a:%{d}", true, 1 },
	{ "cidr4-max", "v=spf1 ip4:1.2.3.4/32", true, 1 },
	{ "cidr6-max", "v=spf1 ip6:::1/128", true, 1 },
	/* invalid */
	{ "not-record", "v=spf10", false, 0 },
	{ "no-space", "v=spf1-all", false, 0 },
	{ "joined", "v=spf1mx", false, 0 },
	{ "trailing-junk", "v=spf1 -all moo", false, 0 },
	{ "all-dot", "v=spf1 -all.", false, 0 },
	{ "all-arg", "v=spf1 -all:foo", false, 0 },
	{ "all-cidr", "v=spf1 all/8", false, 0 },
	{ "ptr-cidr", "v=spf1 ptr/0", false, 0 },
	{ "mod-slash", "v=spf1 moo.cow/far_out=man:dog/cat", false, 0 },
	{ "mod-colon", "v=spf1 moo.cow:far_out=man:dog/cat", false, 0 },
	{ "mod-digit", "v=spf1 1up=foo", false, 0 },
	{ "mod-empty", "v=spf1 =all", false, 0 },
	{ "redirect-mech", "v=spf1 redirect:example.com", false, 0 },
	{ "redirect-twice", "v=spf1 redirect=a.example redirect=a.example",
	    false, 0 },
	{ "exp-twice", "v=spf1 exp=a.example.com exp=b.example.com", false, 0 },
	{ "exp-empty", "v=spf1 exp= -all", false, 0 },
	{ "exp-bad", "v=spf1 exp=-all", false, 0 },
	{ "redirect-empty", "v=spf1 ?all redirect=", false, 0 },
	{ "no-toplabel", "v=spf1 a:foo-bar", false, 0 },
	{ "only-toplabel", "v=spf1 a:museum", false, 0 },
	{ "numeric-top", "v=spf1 a:111.222.33.44", false, 0 },
	{ "dash-top", "v=spf1 a:example.-com", false, 0 },
	{ "port", "v=spf1 a:example.com:8080", false, 0 },
	{ "empty-a", "v=spf1 a:", false, 0 },
	{ "empty-include", "v=spf1 include: -all", false, 0 },
	{ "bare-include", "v=spf1 include", false, 0 },
	{ "include-cidr", "v=spf1 include:a.example.com/24", false, 0 },
	{ "exists-bare", "v=spf1 exists", false, 0 },
	{ "cidr4-33", "v=spf1 ip4:1.2.3.4/33", false, 0 },
	{ "cidr4-032", "v=spf1 ip4:1.2.3.4/032", false, 0 },
	{ "cidr4-dual", "v=spf1 ip4:1.2.3.4//32", false, 0 },
	{ "cidr6-129", "v=spf1 ip6:::1/129", false, 0 },
	{ "a-cidr6-129", "v=spf1 a//129", false, 0 },
	{ "a-cidr4-33", "v=spf1 a/33", false, 0 },
	{ "a-24-64", "v=spf1 a/24/64", false, 0 },
	{ "ip4-short", "v=spf1 ip4:1.2.3", false, 0 },
	{ "ip4-port", "v=spf1 ip4:1.2.3.4:8080", false, 0 },
	{ "ip4-bare", "v=spf1 ip4", false, 0 },
	{ "ip6-bad", "v=spf1 ip6::CAFE::BABE", false, 0 },
	{ "cr", "v=spf1 a:ctrl.example.com\rptr -all", false, 0 },
	{ "lf", "v=spf1 ip4:192.0.2.5\n include:x.example.com", false, 0 },
	{ "non-ascii",
	    "v=spf1 \x80"
	    "a:example.net -all",
	    false, 0 },
	{ "bad-macro", "v=spf1 exists:%(ir).sbl.example.com", false, 0 },
	{ "bad-macro2", "v=spf1 exists:foo%.sbl.example.com", false, 0 },
	{ "macro-letter", "v=spf1 a:%{a}.example.com", false, 0 },
	{ "exp-only-letter", "v=spf1 exp=%{r}.example.com", false, 0 },
	{ "mod-bad-macro", "v=spf1 foo=%abc", false, 0 },
	{ "zero-digits", "v=spf1 a:%{d0}.example.com", false, 0 },
	{ "unknown-mech", "v=spf1 foo", false, 0 },
};

static void
test_record_parse(void **state)
{
	struct spf_record r;
	const char *why;
	size_t i;
	bool ok;

	(void)state;
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];

		why = NULL;
		ok = spf_record_parse(c->rec, strlen(c->rec), &r, &why);
		if (ok != c->ok)
			fail_msg("%s: got %d (%s)", c->name, ok,
			    why ? why : "");
		if (ok && r.n != c->n_terms)
			fail_msg("%s: %zu terms", c->name, r.n);
		if (!ok && why == NULL)
			fail_msg("%s: no reason", c->name);
	}
}

static void
test_record_fields(void **state)
{
	static const char rec[] = "v=spf1 -a:foo.example.com/24//64 "
	                          "~ip4:192.0.2.0/24 mx ip6:2001:db8::/32 "
	                          "redirect=r.example.com exp=e.%{d}";
	struct spf_record r;
	const char *why;

	(void)state;
	assert_true(spf_record_parse(rec, strlen(rec), &r, &why));
	assert_int_equal(r.n, 4);
	assert_int_equal(r.terms[0].mech, SPF_M_A);
	assert_int_equal(r.terms[0].qualifier, '-');
	assert_int_equal(r.terms[0].cidr4, 24);
	assert_int_equal(r.terms[0].cidr6, 64);
	assert_int_equal(r.terms[0].spec_len, strlen("foo.example.com"));
	assert_memory_equal(r.terms[0].spec, "foo.example.com", 15);
	assert_int_equal(r.terms[1].qualifier, '~');
	assert_int_equal(r.terms[1].cidr4, 24);
	assert_memory_equal(r.terms[1].addr, "\xc0\x00\x02\x00", 4);
	assert_int_equal(r.terms[2].mech, SPF_M_MX);
	assert_null(r.terms[2].spec);
	assert_int_equal(r.terms[2].cidr4, 32);
	assert_int_equal(r.terms[2].cidr6, 128);
	assert_int_equal(r.terms[3].cidr6, 32);
	assert_int_equal(r.redirect_len, strlen("r.example.com"));
	assert_int_equal(r.exp_len, strlen("e.%{d}"));
}

/* SPF_TERMS_MAX directives parse; one more does not. */
static void
test_record_terms_limit(void **state)
{
	char rec[SPF_TERMS_MAX * 4 + 16];
	struct spf_record r;
	const char *why;
	size_t i, n;

	(void)state;
	for (n = SPF_TERMS_MAX - 1; n <= SPF_TERMS_MAX + 1; n++) {
		(void)strlcpy(rec, "v=spf1", sizeof(rec));
		for (i = 0; i < n; i++)
			(void)strlcat(rec, " -a", sizeof(rec));
		assert_int_equal(spf_record_parse(rec, strlen(rec), &r, &why),
		    n <= SPF_TERMS_MAX);
	}
}

/* ---- macros: RFC 7208 7.4, verbatim ---- */

struct macro_case {
	const char *in, *out;
	bool v6;
};

static const struct macro_case macro_cases[] = {
	{ "%{s}", "strong-bad@email.example.com", false },
	{ "%{o}", "email.example.com", false },
	{ "%{d}", "email.example.com", false },
	{ "%{d4}", "email.example.com", false },
	{ "%{d3}", "email.example.com", false },
	{ "%{d2}", "example.com", false },
	{ "%{d1}", "com", false },
	{ "%{dr}", "com.example.email", false },
	{ "%{d2r}", "example.email", false },
	{ "%{l}", "strong-bad", false },
	{ "%{l-}", "strong.bad", false },
	{ "%{lr}", "strong-bad", false },
	{ "%{lr-}", "bad.strong", false },
	{ "%{l1r-}", "strong", false },
	{ "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com",
	    false },
	{ "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com", false },
	{ "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
	    "bad.strong.lp.3.2.0.192.in-addr._spf.example.com", false },
	{ "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
	    "3.2.0.192.in-addr.strong.lp._spf.example.com", false },
	{ "%{d2}.trusted-domains.example.net",
	    "example.com.trusted-domains.example.net", false },
	{ "%{ir}.%{v}._spf.%{d2}",
	    "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"
	    ".ip6._spf.example.com",
	    true },
	/* and more: escapes, upper case, p, the exp-only letters */
	{ "%%%_%-", "% %20", false },
	{ "%{L}", "strong-bad", false },
	{ "%{S}", "strong-bad%40email.example.com", false },
	{ "%{p}", "mx.example.org", false },
	{ "%{c}", "2001:db8::cb01", true },
	{ "%{c} %{r} %{t}", "192.0.2.3 receiver.example 1400000000", false },
	{ "%{d2r.}", "example.email", false },
	{ "%{d99}", "email.example.com", false },
};

static void
env_init(struct spf_macro_env *env, struct sockaddr_storage *ss, bool v6)
{
	struct sockaddr_in *s4 = (void *)ss;
	struct sockaddr_in6 *s6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (v6) {
		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, "2001:db8::cb01",
		                     &s6->sin6_addr),
		    1);
	} else {
		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, "192.0.2.3", &s4->sin_addr),
		    1);
	}
	memset(env, 0, sizeof(*env));
	env->sender = "strong-bad@email.example.com";
	env->domain = "email.example.com";
	env->helo = "mx.example.org";
	env->ip = (const struct sockaddr *)ss;
	env->ptr = "mx.example.org";
	env->receiver = "receiver.example";
	env->now = 1400000000;
}

static void
test_macro_rfc_examples(void **state)
{
	struct sockaddr_storage ss;
	struct spf_macro_env env;
	char out[SPF_EXPAND_MAX + 1];
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(macro_cases) / sizeof(macro_cases[0]); i++) {
		const struct macro_case *c = &macro_cases[i];

		env_init(&env, &ss, c->v6);
		if (!spf_macro_expand(c->in, strlen(c->in), &env, true, out,
		        sizeof(out), &why))
			fail_msg("%s: %s", c->in, why);
		if (strcmp(out, c->out) != 0)
			fail_msg("%s: got '%s', want '%s'", c->in, out, c->out);
	}
}

static void
test_macro_errors(void **state)
{
	static const char *const bad[] = {
		"%",
		"%x",
		"%{",
		"%{s",
		"%{x}",
		"%{s0}",
		"%{sq}",
		"%(s)",
		"a b",
		"\x80",
		"%{s5r.-+,/_=.}",
	};
	struct sockaddr_storage ss;
	struct spf_macro_env env;
	char out[SPF_EXPAND_MAX + 1];
	const char *why;
	size_t i;

	(void)state;
	env_init(&env, &ss, false);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bool ok = spf_macro_expand(bad[i], strlen(bad[i]), &env, false,
		    out, sizeof(out), &why);
		/* Seven distinct delimiters fit; the last case is fine. */
		if (ok != (i == sizeof(bad) / sizeof(bad[0]) - 1))
			fail_msg("'%s': %d", bad[i], ok);
	}
	/* c, r, t only in explanations; spaces too. */
	assert_false(
	    spf_macro_expand("%{c}", 4, &env, false, out, sizeof(out), &why));
	assert_true(
	    spf_macro_expand("%{c}", 4, &env, true, out, sizeof(out), &why));
	assert_true(
	    spf_macro_expand("a b", 3, &env, true, out, sizeof(out), &why));
}

/* The output is bounded: outsz - 1 bytes fit, one more does not. */
static void
test_macro_bounded(void **state)
{
	struct sockaddr_storage ss;
	struct spf_macro_env env;
	char out[32];
	const char *why;
	size_t len = strlen("strong-bad@email.example.com"); /* 28 */

	(void)state;
	env_init(&env, &ss, false);
	assert_true(
	    spf_macro_expand("%{s}", 4, &env, false, out, len + 1, &why));
	assert_false(spf_macro_expand("%{s}", 4, &env, false, out, len, &why));
	assert_false(
	    spf_macro_expand("%{s}x", 5, &env, false, out, len + 1, &why));
}

static void
test_domain_trim(void **state)
{
	char name[600];
	size_t i;

	(void)state;
	name[0] = '\0';
	for (i = 0; i < 30; i++) /* 30 * 10 = 300 octets */
		(void)strlcat(name, "abcdefghi.", sizeof(name));
	(void)strlcat(name, "com.", sizeof(name));
	spf_domain_trim(name);
	assert_true(strlen(name) <= 253);
	assert_string_equal(name + strlen(name) - 4, ".com");
	assert_int_equal(name[0], 'a');
	(void)strlcpy(name, "example.com.", sizeof(name));
	spf_domain_trim(name);
	assert_string_equal(name, "example.com");
}

static void
test_dname_parse(void **state)
{
	char out[DNS_NAME_MAX];

	(void)state;
	assert_true(spf_dname_parse((const uint8_t *)"\2mx\7Example\3com", 16,
	    out, sizeof(out)));
	assert_string_equal(out, "mx.example.com");
	assert_true(spf_dname_parse((const uint8_t *)"", 1, out, sizeof(out)));
	assert_string_equal(out, "");
	assert_true(spf_dname_parse((const uint8_t *)"\7foo:bar\3com", 13, out,
	    sizeof(out)));
	assert_false(spf_dname_parse((const uint8_t *)"\2mx", 3, out,
	    sizeof(out))); /* no root */
	assert_false(spf_dname_parse((const uint8_t *)"\300\014", 2, out,
	    sizeof(out))); /* compression */
	assert_false(
	    spf_dname_parse((const uint8_t *)"\2m.\0", 4, out, sizeof(out)));
	assert_false(
	    spf_dname_parse((const uint8_t *)"\2m \0", 4, out, sizeof(out)));
	assert_false(spf_dname_parse((const uint8_t *)"\1a\0x", 4, out,
	    sizeof(out))); /* trailing byte */
	assert_false(spf_dname_parse((const uint8_t *)"\3abc", 5, out, 3));
}

/* ---- check_host() on a fake DNS ---- */

struct rr {
	const char *name;
	int type;
	const char *data; /* text form; NULL: the status alone */
	enum dns_status st;
};

struct fake {
	const struct rr *rrs;
	size_t n;
	unsigned calls;
	unsigned sleep_ms;
};

static void
add(struct dns_rrset *out, const void *p, size_t n)
{
	if (out->data == NULL) {
		out->data = calloc(DNS_RRS_MAX, sizeof(*out->data));
		out->len = calloc(DNS_RRS_MAX, sizeof(*out->len));
	}
	out->data[out->n] = malloc(n + 1);
	memcpy(out->data[out->n], p, n);
	out->data[out->n][n] = 0;
	out->len[out->n++] = n;
}

/* "a.b.c" -> wire form into w; the length. */
static size_t
to_wire(const char *name, uint8_t *w)
{
	size_t o = 0, l;
	const char *dot;

	while (*name) {
		dot = strchr(name, '.');
		l = dot ? (size_t)(dot - name) : strlen(name);
		w[o++] = (uint8_t)l;
		memcpy(w + o, name, l);
		o += l;
		name += l + (dot != NULL);
	}
	w[o++] = 0;
	return o;
}

static enum dns_status
fake_lookup(void *arg, const char *name, int type, struct dns_rrset *out,
    struct why *why)
{
	struct fake *f = arg;
	uint8_t buf[300];
	bool named = false;
	size_t i, n;

	(void)why;
	memset(out, 0, sizeof(*out));
	f->calls++;
	if (f->sleep_ms)
		usleep(f->sleep_ms * 1000);
	for (i = 0; i < f->n; i++) {
		const struct rr *r = &f->rrs[i];

		if (strcasecmp(r->name, name) != 0)
			continue;
		named = true;
		if (r->type != type)
			continue;
		if (r->data == NULL)
			return r->st;
		switch (type) {
		case DNS_T_TXT:
			add(out, r->data, strlen(r->data));
			break;
		case DNS_T_A:
		case DNS_T_AAAA:
			assert_int_equal(inet_pton(type == DNS_T_A ? AF_INET
			                                           : AF_INET6,
			                     r->data, buf),
			    1);
			add(out, buf, type == DNS_T_A ? 4 : 16);
			break;
		case DNS_T_MX:
			buf[0] = 0;
			buf[1] = 10;
			n = to_wire(r->data, buf + 2);
			add(out, buf, n + 2);
			break;
		case DNS_T_PTR:
			n = to_wire(r->data, buf);
			add(out, buf, n);
			break;
		}
	}
	if (out->n > 0)
		return DNS_OK;
	return named ? DNS_NODATA : DNS_NXDOMAIN;
}

static void
run(const struct rr *rrs, size_t n, const char *ip, const char *from,
    struct spf_verdict *v, struct fake *f_out)
{
	struct fake f = { rrs, n, 0, 0 };
	struct authdns ad = { fake_lookup, &f };
	struct spf_query q;
	struct sockaddr_in *s4 = (void *)&q.ip;
	struct sockaddr_in6 *s6 = (void *)&q.ip;

	if (f_out)
		f = *f_out;
	memset(&q, 0, sizeof(q));
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else {
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
		s6->sin6_family = AF_INET6;
	}
	q.helo = "mail.example.com";
	q.mailfrom = from;
	q.receiver = "rcv.example";
	q.timeout_secs = f.sleep_ms ? 1 : 0;
	spf_check_host(&ad, &q, strchr(from, '@') + 1, v);
	if (f_out)
		*f_out = f;
}

#define RUN(rrs, ip, from, v)                                                  \
	run(rrs, sizeof(rrs) / sizeof(rrs[0]), ip, from, v, NULL)

static void
test_check_basic(void **state)
{
	static const struct rr z[] = {
		{ "ex.com", DNS_T_TXT,
		    "v=spf1 a mx ip6:2001:db8::/32 "
		    "include:inc.ex.com ptr -all exp=e.ex.com",
		    DNS_OK },
		{ "ex.com", DNS_T_A, "192.0.2.1", DNS_OK },
		{ "ex.com", DNS_T_MX, "mx.ex.com", DNS_OK },
		{ "mx.ex.com", DNS_T_A, "192.0.2.2", DNS_OK },
		{ "inc.ex.com", DNS_T_TXT, "v=spf1 ip4:198.51.100.0/24 -all",
		    DNS_OK },
		{ "e.ex.com", DNS_T_TXT, "%{i} is not %{d}'s, %{l}", DNS_OK },
		{ "4.113.0.203.in-addr.arpa", DNS_T_PTR, "h.ex.com", DNS_OK },
		{ "h.ex.com", DNS_T_A, "203.0.113.4", DNS_OK },
	};
	struct spf_verdict v;

	(void)state;
	RUN(z, "192.0.2.1", "joe@ex.com", &v);
	assert_int_equal(v.result, SPF_PASS);
	assert_string_equal(v.identity, "mailfrom");
	RUN(z, "192.0.2.2", "joe@ex.com", &v);
	assert_int_equal(v.result, SPF_PASS);
	RUN(z, "2001:db8::5", "joe@ex.com", &v);
	assert_int_equal(v.result, SPF_PASS);
	RUN(z, "::ffff:198.51.100.7", "joe@ex.com", &v); /* v4-mapped */
	assert_int_equal(v.result, SPF_PASS);
	RUN(z, "203.0.113.4", "joe@ex.com", &v); /* ptr */
	assert_int_equal(v.result, SPF_PASS);
	RUN(z, "203.0.113.5", "joe@ex.com", &v);
	assert_int_equal(v.result, SPF_FAIL);
	assert_string_equal(v.explanation, "203.0.113.5 is not ex.com's, joe");
	assert_non_null(strstr(v.reason, "-all"));
	assert_true(v.n_trace > 0);
	RUN(z, "203.0.113.5", "joe@nowhere.example", &v);
	assert_int_equal(v.result, SPF_NONE);
	RUN(z, "203.0.113.5", "joe@[192.0.2.1]", &v);
	assert_int_equal(v.result, SPF_NONE);
}

static void
test_check_records(void **state)
{
	static const struct rr z[] = {
		{ "two.com", DNS_T_TXT, "v=spf1 -all", DNS_OK },
		{ "two.com", DNS_T_TXT, "V=SPF1 +all", DNS_OK },
		{ "other.com", DNS_T_TXT, "hello", DNS_OK },
		{ "other.com", DNS_T_TXT, "v=spf1 ?all", DNS_OK },
		{ "tmp.com", DNS_T_TXT, NULL, DNS_TEMP },
		{ "bad.com", DNS_T_TXT, "v=spf1 -all foo", DNS_OK },
		{ "inc.com", DNS_T_TXT, "v=spf1 include:none.com", DNS_OK },
		{ "red.com", DNS_T_TXT, "v=spf1 redirect=none.com", DNS_OK },
		{ "it.com", DNS_T_TXT, "v=spf1 include:tmp.com", DNS_OK },
	};
	struct spf_verdict v;

	(void)state;
	RUN(z, "192.0.2.1", "a@two.com", &v);
	assert_int_equal(v.result, SPF_PERMERROR);
	RUN(z, "192.0.2.1", "a@other.com", &v);
	assert_int_equal(v.result, SPF_NEUTRAL);
	RUN(z, "192.0.2.1", "a@tmp.com", &v);
	assert_int_equal(v.result, SPF_TEMPERROR);
	RUN(z, "192.0.2.1", "a@bad.com", &v);
	assert_int_equal(v.result, SPF_PERMERROR);
	RUN(z, "192.0.2.1", "a@inc.com", &v);
	assert_int_equal(v.result, SPF_PERMERROR);
	RUN(z, "192.0.2.1", "a@red.com", &v);
	assert_int_equal(v.result, SPF_PERMERROR);
	RUN(z, "192.0.2.1", "a@it.com", &v);
	assert_int_equal(v.result, SPF_TEMPERROR);
}

/* Ten DNS-querying terms are fine; the eleventh is a permerror. */
static void
test_limit_terms(void **state)
{
	static const struct rr z[] = {
		{ "t9.com", DNS_T_TXT, "v=spf1 a a a a a a a a a ip4:192.0.2.1",
		    DNS_OK },
		{ "t10.com", DNS_T_TXT,
		    "v=spf1 a a a a a a a a a a ip4:192.0.2.1", DNS_OK },
		{ "t11.com", DNS_T_TXT,
		    "v=spf1 a a a a a a a a a a a ip4:192.0.2.1", DNS_OK },
		{ "t9.com", DNS_T_A, "10.0.0.1", DNS_OK },
		{ "t10.com", DNS_T_A, "10.0.0.1", DNS_OK },
		{ "t11.com", DNS_T_A, "10.0.0.1", DNS_OK },
		{ "loop.com", DNS_T_TXT, "v=spf1 include:loop2.com", DNS_OK },
		{ "loop2.com", DNS_T_TXT, "v=spf1 include:loop.com", DNS_OK },
		{ "self.com", DNS_T_TXT, "v=spf1 redirect=self.com", DNS_OK },
	};
	struct spf_verdict v;

	(void)state;
	RUN(z, "192.0.2.1", "a@t9.com", &v);
	assert_int_equal(v.result, SPF_PASS);
	RUN(z, "192.0.2.1", "a@t10.com", &v);
	assert_int_equal(v.result, SPF_PASS);
	assert_int_equal(v.dns_terms, SPF_DNS_TERMS_MAX);
	RUN(z, "192.0.2.1", "a@t11.com", &v);
	assert_int_equal(v.result, SPF_PERMERROR);
	RUN(z, "192.0.2.1", "a@loop.com", &v);
	assert_int_equal(v.result, SPF_PERMERROR);
	RUN(z, "192.0.2.1", "a@self.com", &v);
	assert_int_equal(v.result, SPF_PERMERROR);
}

static void
test_limit_void(void **state)
{
	static const struct rr z[] = {
		{ "v1.com", DNS_T_TXT, "v=spf1 a:n1.com ?all", DNS_OK },
		{ "v2.com", DNS_T_TXT, "v=spf1 a:n1.com a:n2.com ?all",
		    DNS_OK },
		{ "v3.com", DNS_T_TXT, "v=spf1 a:n1.com a:n2.com a:n3.com ?all",
		    DNS_OK },
		{ "vx.com", DNS_T_TXT,
		    "v=spf1 a:n1.com a:n2.com exp=n3.com -all", DNS_OK },
		{ "n1.com", DNS_T_MX, "x.com", DNS_OK }, /* NODATA for A */
	};
	struct spf_verdict v;

	(void)state;
	RUN(z, "192.0.2.1", "a@v1.com", &v);
	assert_int_equal(v.result, SPF_NEUTRAL);
	RUN(z, "192.0.2.1", "a@v2.com", &v);
	assert_int_equal(v.result, SPF_NEUTRAL);
	assert_int_equal(v.void_lookups, SPF_VOID_MAX);
	RUN(z, "192.0.2.1", "a@v3.com", &v);
	assert_int_equal(v.result, SPF_PERMERROR);
	RUN(z, "192.0.2.1", "a@vx.com", &v); /* exp= is no void lookup */
	assert_int_equal(v.result, SPF_FAIL);
	assert_string_equal(v.explanation, "");
}

static void
test_limit_mx_ptr(void **state)
{
	static const struct rr z[] = {
		{ "m10.com", DNS_T_TXT, "v=spf1 mx", DNS_OK },
		{ "m10.com", DNS_T_MX, "h1.com", DNS_OK },
		{ "m10.com", DNS_T_MX, "h2.com", DNS_OK },
		{ "m10.com", DNS_T_MX, "h3.com", DNS_OK },
		{ "m10.com", DNS_T_MX, "h4.com", DNS_OK },
		{ "m10.com", DNS_T_MX, "h5.com", DNS_OK },
		{ "m10.com", DNS_T_MX, "h6.com", DNS_OK },
		{ "m10.com", DNS_T_MX, "h7.com", DNS_OK },
		{ "m10.com", DNS_T_MX, "h8.com", DNS_OK },
		{ "m10.com", DNS_T_MX, "h9.com", DNS_OK },
		{ "m10.com", DNS_T_MX, "ok.com", DNS_OK },
		{ "m11.com", DNS_T_TXT, "v=spf1 mx", DNS_OK },
		{ "m11.com", DNS_T_MX, "h1.com", DNS_OK },
		{ "m11.com", DNS_T_MX, "h2.com", DNS_OK },
		{ "m11.com", DNS_T_MX, "h3.com", DNS_OK },
		{ "m11.com", DNS_T_MX, "h4.com", DNS_OK },
		{ "m11.com", DNS_T_MX, "h5.com", DNS_OK },
		{ "m11.com", DNS_T_MX, "h6.com", DNS_OK },
		{ "m11.com", DNS_T_MX, "h7.com", DNS_OK },
		{ "m11.com", DNS_T_MX, "h8.com", DNS_OK },
		{ "m11.com", DNS_T_MX, "h9.com", DNS_OK },
		{ "m11.com", DNS_T_MX, "h10.com", DNS_OK },
		{ "m11.com", DNS_T_MX, "ok.com", DNS_OK },
		{ "ok.com", DNS_T_A, "192.0.2.9", DNS_OK },
		{ "p.com", DNS_T_TXT, "v=spf1 ptr", DNS_OK },
		{ "9.2.0.192.in-addr.arpa", DNS_T_PTR, "h1.p.com", DNS_OK },
		{ "9.2.0.192.in-addr.arpa", DNS_T_PTR, "h2.p.com", DNS_OK },
		{ "9.2.0.192.in-addr.arpa", DNS_T_PTR, "h3.p.com", DNS_OK },
		{ "9.2.0.192.in-addr.arpa", DNS_T_PTR, "h4.p.com", DNS_OK },
		{ "9.2.0.192.in-addr.arpa", DNS_T_PTR, "h5.p.com", DNS_OK },
		{ "9.2.0.192.in-addr.arpa", DNS_T_PTR, "h6.p.com", DNS_OK },
		{ "9.2.0.192.in-addr.arpa", DNS_T_PTR, "h7.p.com", DNS_OK },
		{ "9.2.0.192.in-addr.arpa", DNS_T_PTR, "h8.p.com", DNS_OK },
		{ "9.2.0.192.in-addr.arpa", DNS_T_PTR, "h9.p.com", DNS_OK },
		{ "9.2.0.192.in-addr.arpa", DNS_T_PTR, "h10.p.com", DNS_OK },
		{ "9.2.0.192.in-addr.arpa", DNS_T_PTR, "ok.p.com", DNS_OK },
		{ "ok.p.com", DNS_T_A, "192.0.2.9", DNS_OK },
	};
	struct spf_verdict v;

	(void)state;
	RUN(z, "192.0.2.9", "a@m10.com", &v); /* 10 MX names: fine */
	assert_int_equal(v.result, SPF_PASS);
	RUN(z, "192.0.2.9", "a@m11.com", &v); /* 11: permerror */
	assert_int_equal(v.result, SPF_PERMERROR);
	RUN(z, "192.0.2.9", "a@p.com", &v); /* 11th PTR name never tried */
	assert_int_equal(v.result, SPF_NEUTRAL);
}

/* A slow DNS cannot hold a check past its deadline or budget. */
static void
test_limit_deadline(void **state)
{
	static const struct rr z[] = {
		{ "slow.com", DNS_T_TXT,
		    "v=spf1 mx:a.com mx:b.com mx:c.com mx:d.com -all", DNS_OK },
		{ "a.com", DNS_T_MX, "x1.com", DNS_OK },
		{ "b.com", DNS_T_MX, "x1.com", DNS_OK },
		{ "c.com", DNS_T_MX, "x1.com", DNS_OK },
		{ "d.com", DNS_T_MX, "x1.com", DNS_OK },
		{ "x1.com", DNS_T_A, "10.0.0.1", DNS_OK },
	};
	struct fake f = { z, sizeof(z) / sizeof(z[0]), 0, 300 };
	struct spf_verdict v;

	(void)state;
	run(z, f.n, "192.0.2.1", "a@slow.com", &v, &f);
	assert_int_equal(v.result, SPF_TEMPERROR);
	assert_true(f.calls <= 5);
	assert_true(v.queries <= SPF_QUERIES_MAX);
}

static void
test_check_null_sender(void **state)
{
	static const struct rr z[] = {
		{ "mail.example.com", DNS_T_TXT,
		    "v=spf1 -all exp=x.example.com", DNS_OK },
		{ "x.example.com", DNS_T_TXT, "%{l} at %{o}", DNS_OK },
	};
	struct fake f = { z, sizeof(z) / sizeof(z[0]), 0, 0 };
	struct authdns ad = { fake_lookup, &f };
	struct spf_verdict h, m;
	struct spf_query q;
	struct sockaddr_in *s4 = (void *)&q.ip;

	(void)state;
	memset(&q, 0, sizeof(q));
	s4->sin_family = AF_INET;
	s4->sin_addr.s_addr = htonl(0xc0000201);
	q.helo = "mail.example.com";
	q.mailfrom = "";
	spf_check(&ad, &q, &h, &m);
	assert_int_equal(h.result, SPF_FAIL);
	assert_int_equal(m.result, SPF_FAIL);
	assert_string_equal(h.identity, "helo");
	assert_string_equal(m.identity, "mailfrom");
	assert_string_equal(m.explanation, "postmaster at mail.example.com");
	q.helo = "[192.0.2.1]";
	spf_check(&ad, &q, &h, &m);
	assert_int_equal(h.result, SPF_NONE);
	assert_int_equal(m.result, SPF_NONE);
	q.helo = "localhost";
	spf_check(&ad, &q, &h, NULL);
	assert_int_equal(h.result, SPF_NONE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_parse),
		cmocka_unit_test(test_record_fields),
		cmocka_unit_test(test_record_terms_limit),
		cmocka_unit_test(test_macro_rfc_examples),
		cmocka_unit_test(test_macro_errors),
		cmocka_unit_test(test_macro_bounded),
		cmocka_unit_test(test_domain_trim),
		cmocka_unit_test(test_dname_parse),
		cmocka_unit_test(test_check_basic),
		cmocka_unit_test(test_check_records),
		cmocka_unit_test(test_limit_terms),
		cmocka_unit_test(test_limit_void),
		cmocka_unit_test(test_limit_mx_ptr),
		cmocka_unit_test(test_limit_deadline),
		cmocka_unit_test(test_check_null_sender),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
