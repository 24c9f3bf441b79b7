/* SPDX-License-Identifier: ISC */
/*
 * auth/spf.c - check_host() (RFC 7208 4-6): record lookup and
 * selection, mechanism evaluation, include/redirect, exp=, with every
 * DNS query going through struct authdns and counted against the RFC
 * 7208 4.6.4 limits, a query budget and a deadline. The grammar and the
 * macros are in spf_parse.c (pure).
 */
#include "auth/spf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/str.h"

#define DEPTH_MAX (SPF_DNS_TERMS_MAX + 2) /* a backstop: terms end it */
#define PTR_KEEP SPF_PTR_NAMES_MAX

enum match {
	M_NO = 0,
	M_YES,
	M_ERR, /* c->err holds temperror or permerror, reason set */
};

struct ctx {
	const struct authdns *dns;
	struct spf_verdict *v;
	struct sockaddr_storage ip; /* AF_INET or AF_INET6, v4-mapped undone */
	char sender[SPF_EXPAND_MAX];
	const char *helo;
	const char *receiver;
	long long now;
	int64_t deadline_ms;
	enum spf_result err;
	/* Validated PTR names (RFC 7208 5.5), looked up once. */
	bool ptr_done;
	size_t n_ptr;
	char ptr[PTR_KEEP][DNS_NAME_MAX];
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static enum match fail_with(struct ctx *c, enum spf_result r, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static enum match
fail_with(struct ctx *c, enum spf_result r, const char *fmt, ...)
{
	char buf[SPF_REASON_MAX];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	(void)str_printable(c->v->reason, sizeof(c->v->reason), buf);
	c->err = r;
	return M_ERR;
}

static void
summarize(const struct dns_rrset *rs, int type, char *buf, size_t sz)
{
	char one[DNS_NAME_MAX + 8], txt[80];
	size_t i, o = 0;
	int n;

	buf[0] = '\0';
	for (i = 0; i < rs->n && o + 1 < sz; i++) {
		one[0] = '\0';
		if (type == DNS_T_A && rs->len[i] == 4)
			(void)inet_ntop(AF_INET, rs->data[i], one, sizeof(one));
		else if (type == DNS_T_AAAA && rs->len[i] == 16)
			(void)inet_ntop(AF_INET6, rs->data[i], one,
			    sizeof(one));
		else if (type == DNS_T_MX && rs->len[i] > 2 &&
		         !spf_dname_parse(rs->data[i] + 2, rs->len[i] - 2, one,
		             sizeof(one)))
			(void)strlcpy(one, "(bad)", sizeof(one));
		else if (type == DNS_T_PTR && !spf_dname_parse(rs->data[i],
		                                  rs->len[i], one, sizeof(one)))
			(void)strlcpy(one, "(bad)", sizeof(one));
		else if (type == DNS_T_TXT) {
			(void)str_printable(txt, sizeof(txt),
			    (const char *)rs->data[i]);
			(void)snprintf(one, sizeof(one), "\"%s\"", txt);
		}
		n = snprintf(buf + o, sz - o, "%s%s", i ? " " : "", one);
		if (n < 0 || (size_t)n >= sz - o)
			break;
		o += (size_t)n;
	}
}

/*
 * One query, counted and traced. DNS_TEMP when the deadline has passed
 * or the budget is spent; rs is always safe to dns_rrset_free().
 */
static enum dns_status
lookup(struct ctx *c, const char *name, int type, struct dns_rrset *rs)
{
	struct spf_verdict *v = c->v;
	struct spf_trace *t = NULL;
	enum dns_status st;
	struct why why;

	memset(rs, 0, sizeof(*rs));
	why_clear(&why);
	if (v->n_trace < SPF_TRACE_MAX) {
		t = &v->trace[v->n_trace++];
		(void)str_printable(t->name, sizeof(t->name), name);
		t->type = type;
		t->answer[0] = '\0';
	}
	if (v->queries >= SPF_QUERIES_MAX || mono_ms() >= c->deadline_ms) {
		st = DNS_TEMP;
		if (t)
			(void)strlcpy(t->answer,
			    "(not asked: limit or deadline)",
			    sizeof(t->answer));
	} else {
		v->queries++;
		st = c->dns->lookup(c->dns->arg, name, type, rs, &why);
		if (st != DNS_OK)
			dns_rrset_free(rs);
		if (t && st == DNS_OK)
			summarize(rs, type, t->answer, sizeof(t->answer));
		else if (t)
			(void)strlcpy(t->answer,
			    st == DNS_NXDOMAIN ? "NXDOMAIN"
			    : st == DNS_NODATA ? "no records"
			                       : "temporary failure",
			    sizeof(t->answer));
	}
	if (t)
		t->status = st;
	return st;
}

/* Count a void lookup (RFC 7208 4.6.4); M_ERR past the limit. */
static enum match
count_void(struct ctx *c, enum dns_status st, const char *name)
{
	if (st != DNS_NXDOMAIN && st != DNS_NODATA)
		return M_NO;
	if (++c->v->void_lookups > SPF_VOID_MAX)
		return fail_with(c, SPF_PERMERROR,
		    "more than %d void lookups (last: %.60s)", SPF_VOID_MAX,
		    name);
	return M_NO;
}

static enum match
count_term(struct ctx *c)
{
	if (++c->v->dns_terms > SPF_DNS_TERMS_MAX)
		return fail_with(c, SPF_PERMERROR,
		    "more than %d DNS-querying terms", SPF_DNS_TERMS_MAX);
	return M_NO;
}

/*
 * Can this name be asked at all? Labels of 1..63 octets, at most 253 in
 * all (a trailing dot was removed). RFC 7208 4.3 and 4.8: a name that
 * cannot be asked is a name that does not exist.
 */
static bool
name_askable(const char *name)
{
	size_t n = strlen(name), label = 0, i;

	if (n == 0 || n > 253)
		return false;
	for (i = 0; i <= n; i++) {
		if (i == n || name[i] == '.') {
			if (label == 0 || label > 63)
				return false;
			label = 0;
		} else
			label++;
	}
	return true;
}

static const struct sockaddr *
client(const struct ctx *c)
{
	return (const struct sockaddr *)&c->ip;
}

static bool
is_v6(const struct ctx *c)
{
	return c->ip.ss_family == AF_INET6;
}

/* Does address rdata (4 or 16 bytes) match the client within cidr? */
static bool
addr_match(const struct ctx *c, const uint8_t *a, size_t len, unsigned cidr4,
    unsigned cidr6)
{
	const uint8_t *mine;
	unsigned bits, i, full, rem;

	if (is_v6(c)) {
		if (len != 16)
			return false;
		mine = ((const struct sockaddr_in6 *)(const void *)&c->ip)
		           ->sin6_addr.s6_addr;
		bits = cidr6;
	} else {
		if (len != 4)
			return false;
		mine = (const uint8_t *)&(
		    (const struct sockaddr_in *)(const void *)&c->ip)
		           ->sin_addr.s_addr;
		bits = cidr4;
	}
	full = bits / 8;
	rem = bits % 8;
	for (i = 0; i < full; i++)
		if (mine[i] != a[i])
			return false;
	if (rem == 0)
		return true;
	return ((mine[full] ^ a[full]) & (uint8_t)(0xff << (8 - rem))) == 0;
}

/*
 * The addresses of `name` of the client's family: does one match?
 * void: count an empty answer as a void lookup.
 */
static enum match
addrs_match(struct ctx *c, const char *name, unsigned cidr4, unsigned cidr6,
    bool void_counts)
{
	struct dns_rrset rs;
	enum dns_status st;
	enum match m = M_NO;
	size_t i;

	st = lookup(c, name, is_v6(c) ? DNS_T_AAAA : DNS_T_A, &rs);
	if (st == DNS_TEMP)
		return fail_with(c, SPF_TEMPERROR, "DNS %s %.80s failed",
		    is_v6(c) ? "AAAA" : "A", name);
	if (void_counts && count_void(c, st, name) == M_ERR)
		return M_ERR;
	for (i = 0; i < rs.n && m == M_NO; i++)
		if (addr_match(c, rs.data[i], rs.len[i], cidr4, cidr6))
			m = M_YES;
	dns_rrset_free(&rs);
	return m;
}

static void
macro_env(struct ctx *c, const char *domain, struct spf_macro_env *env)
{
	memset(env, 0, sizeof(*env));
	env->sender = c->sender;
	env->domain = domain;
	env->helo = c->helo;
	env->ip = client(c);
	env->receiver = c->receiver;
	env->now = c->now;
}

static bool
has_p_macro(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i + 2 < n; i++)
		if (p[i] == '%' && p[i + 1] == '{' &&
		    (p[i + 2] == 'p' || p[i + 2] == 'P'))
			return true;
	return false;
}

static void
reverse_name(const struct ctx *c, char *out, size_t sz)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *a;
	size_t o = 0;
	int i;

	if (!is_v6(c)) {
		a = (const uint8_t *)&(
		    (const struct sockaddr_in *)(const void *)&c->ip)
		        ->sin_addr.s_addr;
		(void)snprintf(out, sz, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2],
		    a[1], a[0]);
		return;
	}
	a = ((const struct sockaddr_in6 *)(const void *)&c->ip)
	        ->sin6_addr.s6_addr;
	for (i = 15; i >= 0 && o + 4 < sz; i--) {
		out[o++] = hex[a[i] & 15];
		out[o++] = '.';
		out[o++] = hex[a[i] >> 4];
		out[o++] = '.';
	}
	out[o] = '\0';
	(void)strlcat(out, "ip6.arpa", sz);
}

/*
 * RFC 7208 5.5: the client's PTR names whose addresses include the
 * client, at most SPF_PTR_NAMES_MAX names tried; errors skip a name.
 * Looked up once per check. void_counts: the PTR query is a void
 * lookup when empty (the ptr mechanism, not %{p}).
 */
static enum match
ptr_validate(struct ctx *c, bool void_counts)
{
	char rev[80], name[DNS_NAME_MAX];
	struct dns_rrset rs, as;
	enum dns_status st;
	size_t i, j;
	bool ok;

	if (c->ptr_done)
		return M_NO;
	c->ptr_done = true;
	reverse_name(c, rev, sizeof(rev));
	st = lookup(c, rev, DNS_T_PTR, &rs);
	if (void_counts && count_void(c, st, rev) == M_ERR)
		return M_ERR;
	for (i = 0; i < rs.n && i < SPF_PTR_NAMES_MAX; i++) {
		if (!spf_dname_parse(rs.data[i], rs.len[i], name,
		        sizeof(name)) ||
		    !name_askable(name))
			continue;
		st = lookup(c, name, is_v6(c) ? DNS_T_AAAA : DNS_T_A, &as);
		ok = false;
		for (j = 0; j < as.n && !ok; j++)
			ok = addr_match(c, as.data[j], as.len[j], 32, 128);
		dns_rrset_free(&as);
		if (ok && c->n_ptr < PTR_KEEP)
			(void)strlcpy(c->ptr[c->n_ptr++], name, DNS_NAME_MAX);
	}
	dns_rrset_free(&rs);
	return M_NO;
}

/* name equals target or ends in "." target, case-insensitively. */
static bool
in_domain(const char *name, const char *target)
{
	size_t n = strlen(name), t = strlen(target);

	if (n == t)
		return ascii_casecmp(name, target) == 0;
	return n > t && name[n - t - 1] == '.' &&
	       ascii_casecmp(name + n - t, target) == 0;
}

/* %{p}: a validated name in domain, else any validated one. */
static const char *
p_value(struct ctx *c, const char *domain)
{
	size_t i;

	(void)ptr_validate(c, false);
	for (i = 0; i < c->n_ptr; i++)
		if (in_domain(c->ptr[i], domain))
			return c->ptr[i];
	return c->n_ptr > 0 ? c->ptr[0] : NULL;
}

/*
 * Expand a domain-spec for a query: macros, the trailing dot, the
 * 253-octet trim. false when the result cannot be asked (a name that
 * does not exist, RFC 7208 4.8).
 */
static bool
target_name(struct ctx *c, const char *spec, size_t n, const char *domain,
    char *out, size_t sz)
{
	struct spf_macro_env env;

	macro_env(c, domain, &env);
	if (has_p_macro(spec, n))
		env.ptr = p_value(c, domain);
	if (!spf_macro_expand(spec, n, &env, false, out, sz, NULL))
		return false;
	spf_domain_trim(out);
	return name_askable(out);
}

static enum spf_result check_host_rec(struct ctx *, const char *domain,
    int depth, bool top);

static enum match
eval_include(struct ctx *c, const struct spf_term *t, const char *domain,
    int depth)
{
	char target[SPF_EXPAND_MAX + 1];
	enum spf_result r;

	if (!target_name(c, t->spec, t->spec_len, domain, target,
	        sizeof(target)))
		return fail_with(c, SPF_PERMERROR,
		    "include:%.*s is not a domain name", (int)t->spec_len,
		    t->spec);
	r = check_host_rec(c, target, depth + 1, false);
	switch (r) {
	case SPF_PASS:
		return M_YES;
	case SPF_FAIL:
	case SPF_SOFTFAIL:
	case SPF_NEUTRAL:
		return M_NO;
	case SPF_TEMPERROR:
		c->err = r;
		return M_ERR; /* reason set below */
	case SPF_NONE:
		return fail_with(c, SPF_PERMERROR,
		    "include:%.80s has no SPF record", target);
	case SPF_PERMERROR:
		c->err = r;
		return M_ERR;
	}
	return M_NO;
}

static enum match
eval_mx(struct ctx *c, const char *name, const struct spf_term *t)
{
	char host[DNS_NAME_MAX];
	struct dns_rrset rs;
	enum dns_status st;
	enum match m = M_NO;
	size_t i;

	st = lookup(c, name, DNS_T_MX, &rs);
	if (st == DNS_TEMP)
		return fail_with(c, SPF_TEMPERROR, "DNS MX %.80s failed", name);
	if (count_void(c, st, name) == M_ERR)
		return M_ERR;
	if (rs.n > SPF_MX_NAMES_MAX) {
		dns_rrset_free(&rs);
		return fail_with(c, SPF_PERMERROR,
		    "more than %d MX names at %.80s", SPF_MX_NAMES_MAX, name);
	}
	for (i = 0; i < rs.n && m == M_NO; i++) {
		/* A null MX ("0 .") or a bad name names no host. */
		if (rs.len[i] < 3 ||
		    !spf_dname_parse(rs.data[i] + 2, rs.len[i] - 2, host,
		        sizeof(host)) ||
		    !name_askable(host))
			continue;
		m = addrs_match(c, host, t->cidr4, t->cidr6, false);
	}
	dns_rrset_free(&rs);
	return m;
}

static enum match
eval_exists(struct ctx *c, const char *name)
{
	struct dns_rrset rs;
	enum dns_status st;
	bool any;

	/* Always an A query, whatever the client's family (5.7). */
	st = lookup(c, name, DNS_T_A, &rs);
	if (st == DNS_TEMP)
		return fail_with(c, SPF_TEMPERROR, "DNS A %.80s failed", name);
	any = rs.n > 0;
	dns_rrset_free(&rs);
	if (count_void(c, st, name) == M_ERR)
		return M_ERR;
	return any ? M_YES : M_NO;
}

static enum match
eval_ptr(struct ctx *c, const char *target)
{
	size_t i;

	if (ptr_validate(c, true) == M_ERR)
		return M_ERR;
	for (i = 0; i < c->n_ptr; i++)
		if (in_domain(c->ptr[i], target))
			return M_YES;
	return M_NO;
}

static enum match
eval_ip(const struct ctx *c, const struct spf_term *t)
{
	if (t->mech == SPF_M_IP4 && is_v6(c))
		return M_NO;
	if (t->mech == SPF_M_IP6 && !is_v6(c))
		return M_NO;
	return addr_match(c, t->addr, is_v6(c) ? 16 : 4, t->cidr4, t->cidr6)
	           ? M_YES
	           : M_NO;
}

static enum match
eval_term(struct ctx *c, const struct spf_term *t, const char *domain,
    int depth)
{
	char target[SPF_EXPAND_MAX + 1];

	switch (t->mech) {
	case SPF_M_ALL:
		return M_YES;
	case SPF_M_IP4:
	case SPF_M_IP6:
		return eval_ip(c, t);
	default:
		break;
	}
	if (count_term(c) == M_ERR)
		return M_ERR;
	if (t->mech == SPF_M_INCLUDE)
		return eval_include(c, t, domain, depth);
	if (t->spec == NULL)
		(void)strlcpy(target, domain, sizeof(target));
	else if (!target_name(c, t->spec, t->spec_len, domain, target,
	             sizeof(target)))
		return M_NO; /* cannot exist, so cannot match (4.8) */
	switch (t->mech) {
	case SPF_M_A:
		return addrs_match(c, target, t->cidr4, t->cidr6, true);
	case SPF_M_MX:
		return eval_mx(c, target, t);
	case SPF_M_PTR:
		return eval_ptr(c, target);
	case SPF_M_EXISTS:
		return eval_exists(c, target);
	default:
		return M_NO;
	}
}

/*
 * RFC 7208 4.4, 4.5: the one "v=spf1" TXT record of domain, copied into
 * buf. SPF_PASS means found; else the result to return.
 */
static enum spf_result
find_record(struct ctx *c, const char *domain, char *buf, size_t sz)
{
	struct dns_rrset rs;
	enum dns_status st;
	size_t i, found = 0;
	bool fits = true;

	st = lookup(c, domain, DNS_T_TXT, &rs);
	if (st == DNS_TEMP) {
		(void)fail_with(c, SPF_TEMPERROR, "DNS TXT %.80s failed",
		    domain);
		return SPF_TEMPERROR;
	}
	for (i = 0; i < rs.n; i++) {
		if (!spf_is_record((const char *)rs.data[i], rs.len[i]))
			continue;
		if (found++ > 0)
			continue;
		if (rs.len[i] < sz)
			memcpy(buf, rs.data[i], rs.len[i] + 1);
		else
			fits = false;
	}
	dns_rrset_free(&rs);
	if (found == 0) {
		(void)fail_with(c, SPF_NONE, "no SPF record at %.80s", domain);
		return SPF_NONE;
	}
	if (found > 1 || !fits) {
		(void)fail_with(c, SPF_PERMERROR,
		    found > 1 ? "several SPF records at %.80s"
		              : "SPF record at %.80s too long",
		    domain);
		return SPF_PERMERROR;
	}
	return SPF_PASS;
}

static enum spf_result
qualifier_result(char q)
{
	switch (q) {
	case '-':
		return SPF_FAIL;
	case '~':
		return SPF_SOFTFAIL;
	case '?':
		return SPF_NEUTRAL;
	default:
		return SPF_PASS;
	}
}

/*
 * RFC 7208 6.2: the explanation of a fail, or "" when there is none or
 * anything about it goes wrong (then the receiver's default applies).
 */
static void
explain(struct ctx *c, const struct spf_record *rec, const char *domain)
{
	char name[SPF_EXPAND_MAX + 1], text[SPF_EXPAND_MAX + 1];
	struct spf_macro_env env;
	struct dns_rrset rs;
	const char *txt;
	size_t i;

	c->v->explanation[0] = '\0';
	if (rec->exp == NULL ||
	    !target_name(c, rec->exp, rec->exp_len, domain, name, sizeof(name)))
		return;
	/* Not a void lookup, whatever the answer (4.6.4 and 6.2). */
	if (lookup(c, name, DNS_T_TXT, &rs) != DNS_OK || rs.n != 1) {
		dns_rrset_free(&rs);
		return;
	}
	txt = (const char *)rs.data[0];
	for (i = 0; i < rs.len[0]; i++)
		if ((unsigned char)txt[i] < 0x20 ||
		    (unsigned char)txt[i] > 0x7e)
			break; /* explanations are 7-bit ASCII (6.2) */
	macro_env(c, domain, &env);
	if (i == rs.len[0] && has_p_macro(txt, rs.len[0]))
		env.ptr = p_value(c, domain);
	if (i == rs.len[0] && spf_macro_expand(txt, rs.len[0], &env, true, text,
	                          sizeof(text), NULL))
		(void)str_printable(c->v->explanation,
		    sizeof(c->v->explanation), text);
	dns_rrset_free(&rs);
}

static enum spf_result
check_host_rec(struct ctx *c, const char *domain, int depth, bool top)
{
	char text[SPF_RECORD_MAX + 1], target[SPF_EXPAND_MAX + 1];
	struct spf_record rec;
	const char *why;
	enum spf_result r;
	enum match m;
	size_t i;

	if (depth > DEPTH_MAX) {
		(void)fail_with(c, SPF_PERMERROR, "include/redirect too deep");
		return SPF_PERMERROR;
	}
	if ((r = find_record(c, domain, text, sizeof(text))) != SPF_PASS)
		return r;
	if (!spf_record_parse(text, strlen(text), &rec, &why)) {
		(void)fail_with(c, SPF_PERMERROR, "bad SPF record at %.80s: %s",
		    domain, why);
		return SPF_PERMERROR;
	}
	for (i = 0; i < rec.n; i++) {
		m = eval_term(c, &rec.terms[i], domain, depth);
		if (m == M_ERR)
			return c->err;
		if (m == M_NO)
			continue;
		r = qualifier_result(rec.terms[i].qualifier);
		(void)fail_with(c, r, "%.*s matched in %.80s",
		    (int)rec.terms[i].text_len, rec.terms[i].text, domain);
		if (r == SPF_FAIL && top)
			explain(c, &rec, domain);
		return r;
	}
	if (rec.redirect == NULL) {
		(void)fail_with(c, SPF_NEUTRAL, "nothing matched in %.80s",
		    domain);
		return SPF_NEUTRAL;
	}
	/* RFC 7208 6.1: the redirect's result is ours, and so is its exp. */
	if (count_term(c) == M_ERR)
		return c->err;
	if (!target_name(c, rec.redirect, rec.redirect_len, domain, target,
	        sizeof(target))) {
		(void)fail_with(c, SPF_PERMERROR,
		    "redirect=%.*s is not a domain name", (int)rec.redirect_len,
		    rec.redirect);
		return SPF_PERMERROR;
	}
	r = check_host_rec(c, target, depth + 1, top);
	if (r == SPF_NONE) {
		(void)fail_with(c, SPF_PERMERROR,
		    "redirect=%.80s has no SPF record", target);
		return SPF_PERMERROR;
	}
	return r;
}

/*
 * RFC 7208 4.3: a domain that is not a fully qualified name (one label,
 * an empty or overlong label, an address literal) gives "none".
 */
static bool
domain_checkable(const char *d)
{
	size_t n = strlen(d);
	const char *last;

	if (n == 0 || n > 253 || d[0] == '[' || memchr(d, '.', n) == NULL)
		return false;
	for (last = d; last < d + n; last++)
		if ((unsigned char)*last <= 0x20 || (unsigned char)*last > 0x7e)
			return false;
	return true;
}

static void
set_ip(struct ctx *c, const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *s6 = (const void *)ss;
	struct sockaddr_in *s4 = (void *)&c->ip;

	memcpy(&c->ip, ss, sizeof(c->ip));
	if (ss->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		/* RFC 7208 5: a v4-mapped address is an IPv4 client. */
		memset(&c->ip, 0, sizeof(c->ip));
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, s6->sin6_addr.s6_addr + 12, 4);
	}
}

void
spf_check_host(const struct authdns *dns, const struct spf_query *q,
    const char *domain, struct spf_verdict *v)
{
	char d[DNS_NAME_MAX];
	struct ctx c;
	const char *helo = q->helo ? q->helo : "";
	unsigned secs = q->timeout_secs ? q->timeout_secs : SPF_TIMEOUT_SECS;
	int n;

	memset(v, 0, sizeof(*v));
	memset(&c, 0, sizeof(c));
	v->identity = q->mailfrom && q->mailfrom[0] ? "mailfrom" : "helo";
	(void)str_printable(v->domain, sizeof(v->domain), domain ? domain : "");
	c.dns = dns;
	c.v = v;
	c.helo = helo;
	c.receiver = q->receiver;
	c.now = q->now ? (long long)q->now : (long long)time(NULL);
	c.deadline_ms = mono_ms() + (int64_t)secs * 1000;
	set_ip(&c, &q->ip);
	if (c.ip.ss_family != AF_INET && c.ip.ss_family != AF_INET6) {
		v->result = SPF_PERMERROR;
		(void)strlcpy(v->reason, "no client address",
		    sizeof(v->reason));
		return;
	}
	/* RFC 7208 4.3: no local-part means "postmaster". */
	if (q->mailfrom && q->mailfrom[0] && q->mailfrom[0] != '@' &&
	    strchr(q->mailfrom, '@') != NULL)
		n = snprintf(c.sender, sizeof(c.sender), "%s", q->mailfrom);
	else if (q->mailfrom && q->mailfrom[0] == '@')
		n = snprintf(c.sender, sizeof(c.sender), "postmaster%s",
		    q->mailfrom);
	else
		n = snprintf(c.sender, sizeof(c.sender), "postmaster@%s",
		    q->mailfrom && q->mailfrom[0] ? q->mailfrom : helo);
	if (domain == NULL || n < 0 || (size_t)n >= sizeof(c.sender) ||
	    strlcpy(d, domain, sizeof(d)) >= sizeof(d))
		d[0] = '\0';
	if (d[0] != '\0' && d[strlen(d) - 1] == '.')
		d[strlen(d) - 1] = '\0';
	if (!domain_checkable(d) || !name_askable(d)) {
		v->result = SPF_NONE;
		(void)strlcpy(v->reason, "not a checkable domain name",
		    sizeof(v->reason));
		return;
	}
	v->result = check_host_rec(&c, d, 0, true);
	if (v->result != SPF_FAIL)
		v->explanation[0] = '\0';
}

void
spf_check(const struct authdns *dns, const struct spf_query *q,
    struct spf_verdict *helo, struct spf_verdict *mailfrom)
{
	struct spf_query hq = *q;
	struct spf_verdict tmp;
	const char *at;

	hq.mailfrom = "";
	if (helo != NULL || (q->mailfrom == NULL || q->mailfrom[0] == '\0')) {
		if (helo == NULL)
			helo = &tmp;
		spf_check_host(dns, &hq, q->helo, helo);
		helo->identity = "helo";
	}
	if (mailfrom == NULL)
		return;
	if (q->mailfrom == NULL || q->mailfrom[0] == '\0') {
		/* RFC 7208 2.4: the null sender is postmaster@HELO. */
		*mailfrom = *helo;
		mailfrom->identity = "mailfrom";
		return;
	}
	at = strrchr(q->mailfrom, '@');
	spf_check_host(dns, q, at ? at + 1 : q->mailfrom, mailfrom);
	mailfrom->identity = "mailfrom";
}
