/* SPDX-License-Identifier: ISC */
/*
 * auth/spf_parse.c - the pure parts of SPF (RFC 7208): the record
 * grammar (4.6.1, 5, 6, 12), macro expansion (7) and wire-format names
 * from PTR and MX answers. No DNS, no allocation, no globals.
 */
#include "auth/spf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "util/str.h"

#define DOMAIN_MAX 253 /* RFC 7208 7.3: longest name a query may use */

const char *
spf_result_name(enum spf_result r)
{
	switch (r) {
	case SPF_NONE:
		return "none";
	case SPF_NEUTRAL:
		return "neutral";
	case SPF_PASS:
		return "pass";
	case SPF_FAIL:
		return "fail";
	case SPF_SOFTFAIL:
		return "softfail";
	case SPF_TEMPERROR:
		return "temperror";
	case SPF_PERMERROR:
		return "permerror";
	}
	return "permerror";
}

bool
spf_is_record(const char *p, size_t n)
{
	/* RFC 7208 4.5: "v=spf1" then a space or the end, any case. */
	if (n < 6 || ascii_ncasecmp(p, "v=spf1", 6) != 0)
		return false;
	return n == 6 || p[6] == ' ';
}

/* ---- macros (RFC 7208 7.1) ---- */

struct macro {
	char letter;     /* lower case */
	bool upper;      /* URL-escape the value */
	unsigned digits; /* 0: all parts */
	bool reverse;
	char delims[8]; /* NUL-terminated; "" means "." */
};

static bool
is_delim(char c)
{
	return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' ||
	       c == '_' || c == '=';
}

static bool
letter_ok(char c, bool exp)
{
	if (strchr("slodiphv", c) != NULL)
		return true;
	return exp && strchr("crt", c) != NULL; /* RFC 7208 7.2 */
}

/*
 * Parse "%{...}" at p[*i] (p[*i] == '%', p[*i + 1] == '{'); advance *i
 * past the '}'. false on bad syntax.
 */
static bool
parse_braces(const char *p, size_t n, size_t *i, bool exp, struct macro *m)
{
	size_t j = *i + 2, nd = 0;
	char c;

	memset(m, 0, sizeof(*m));
	if (j >= n)
		return false;
	c = p[j++];
	m->upper = c >= 'A' && c <= 'Z';
	m->letter = (char)ascii_lower(c);
	if (!letter_ok(m->letter, exp))
		return false;
	while (j < n && ascii_is_digit(p[j])) {
		if (m->digits > 1000) /* more parts than any name has */
			return false;
		m->digits = m->digits * 10 + (unsigned)(p[j++] - '0');
		nd++;
	}
	if (nd > 0 && m->digits == 0)
		return false; /* "%{d0}" names no part */
	if (j < n && (p[j] == 'r' || p[j] == 'R')) {
		m->reverse = true;
		j++;
	}
	while (j < n && is_delim(p[j])) {
		if (strchr(m->delims, p[j]) == NULL) {
			if (strlen(m->delims) + 1 >= sizeof(m->delims))
				return false;
			m->delims[strlen(m->delims)] = p[j];
		}
		j++;
	}
	if (j >= n || p[j] != '}')
		return false;
	*i = j + 1;
	return true;
}

struct out {
	char *p;
	size_t len, cap; /* cap excludes the NUL */
	bool full;
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (o->full || n > o->cap - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

/* RFC 7208 7.3: an upper-case letter URL-escapes all but unreserved. */
static void
put_escaped(struct out *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	char e[3];
	size_t i;
	unsigned char c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (ascii_is_alnum(c) || c == '-' || c == '.' || c == '_' ||
		    c == '~') {
			put(o, s + i, 1);
			continue;
		}
		e[0] = '%';
		e[1] = hex[c >> 4];
		e[2] = hex[c & 15];
		put(o, e, 3);
	}
}

static void
ip_text(const struct sockaddr *sa, bool dotted_v6, char *buf, size_t sz)
{
	static const char hex[] = "0123456789abcdef";
	const struct sockaddr_in *s4 = (const void *)sa;
	const struct sockaddr_in6 *s6 = (const void *)sa;
	size_t i, o = 0;

	buf[0] = '\0';
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		(void)inet_ntop(AF_INET, &s4->sin_addr, buf, (socklen_t)sz);
		return;
	}
	if (sa->sa_family != AF_INET6)
		return;
	if (!dotted_v6) {
		(void)inet_ntop(AF_INET6, &s6->sin6_addr, buf, (socklen_t)sz);
		return;
	}
	/* RFC 7208 7.3: %{i} of IPv6 is 32 dot-separated nibbles. */
	if (sz < 64)
		return;
	for (i = 0; i < 16; i++) {
		buf[o++] = hex[s6->sin6_addr.s6_addr[i] >> 4];
		buf[o++] = '.';
		buf[o++] = hex[s6->sin6_addr.s6_addr[i] & 15];
		buf[o++] = i == 15 ? '\0' : '.';
	}
}

/* The value of a macro letter, before transformation, into buf. */
static const char *
letter_value(const struct spf_macro_env *env, char letter, char *buf, size_t sz)
{
	const char *at;

	switch (letter) {
	case 's':
		return env->sender ? env->sender : "";
	case 'l':
		at = env->sender ? strrchr(env->sender, '@') : NULL;
		if (at == NULL)
			return "postmaster";
		if ((size_t)(at - env->sender) >= sz)
			return "";
		memcpy(buf, env->sender, (size_t)(at - env->sender));
		buf[at - env->sender] = '\0';
		return buf[0] ? buf : "postmaster";
	case 'o':
		at = env->sender ? strrchr(env->sender, '@') : NULL;
		return at ? at + 1 : (env->sender ? env->sender : "");
	case 'd':
		return env->domain ? env->domain : "";
	case 'h':
		return env->helo ? env->helo : "";
	case 'i':
		ip_text(env->ip, true, buf, sz);
		return buf;
	case 'c':
		ip_text(env->ip, false, buf, sz);
		return buf;
	case 'v':
		return env->ip && env->ip->sa_family == AF_INET6 ? "ip6"
		                                                 : "in-addr";
	case 'p':
		return env->ptr ? env->ptr : "unknown";
	case 'r':
		return env->receiver ? env->receiver : "unknown";
	case 't':
		(void)snprintf(buf, sz, "%lld", env->now);
		return buf;
	}
	return "";
}

#define PARTS_MAX 128

/* Split, reverse, keep the rightmost digits parts, join with dots. */
static void
expand_one(struct out *o, const struct macro *m, const char *val)
{
	const char *part[PARTS_MAX], *delims = m->delims[0] ? m->delims : ".";
	size_t plen[PARTS_MAX], np = 0, i, first, start = 0, k, n;
	char tmp[SPF_EXPAND_MAX + 1];
	struct out t = { tmp, 0, SPF_EXPAND_MAX, false };

	tmp[0] = '\0';
	n = strlen(val);
	for (k = 0; k <= n; k++) {
		if (k < n && strchr(delims, val[k]) == NULL)
			continue;
		if (np == PARTS_MAX) {
			o->full = true; /* more parts than a name may have */
			return;
		}
		part[np] = val + start;
		plen[np++] = k - start;
		start = k + 1;
	}
	/* Reverse first, then keep the rightmost `digits` parts. */
	first = m->digits && m->digits < np ? np - m->digits : 0;
	for (i = first; i < np; i++) {
		k = m->reverse ? np - 1 - i : i;
		if (i > first)
			put(&t, ".", 1);
		put(&t, part[k], plen[k]);
	}
	if (t.full) {
		o->full = true;
		return;
	}
	if (m->upper)
		put_escaped(o, tmp, t.len);
	else
		put(o, tmp, t.len);
}

/*
 * Walk a macro-string; with env == NULL only check its syntax. Literal
 * characters are %x21-24 / %x26-7E, plus space in explanations.
 */
static bool
walk(const char *p, size_t n, const struct spf_macro_env *env, bool exp,
    struct out *o, bool *ends_in_macro, const char **why)
{
	char vbuf[SPF_EXPAND_MAX + 1];
	struct macro m;
	size_t i = 0;
	unsigned char c;

	*ends_in_macro = false;
	while (i < n) {
		c = (unsigned char)p[i];
		if (c != '%') {
			if (c < 0x21 || c > 0x7e) {
				if (!(exp && c == ' ')) {
					*why = "bad character in macro-string";
					return false;
				}
			}
			if (o)
				put(o, p + i, 1);
			i++;
			*ends_in_macro = false;
			continue;
		}
		if (i + 1 >= n) {
			*why = "'%' at the end of a macro-string";
			return false;
		}
		switch (p[i + 1]) {
		case '%':
			if (o)
				put(o, "%", 1);
			i += 2;
			break;
		case '_':
			if (o)
				put(o, " ", 1);
			i += 2;
			break;
		case '-':
			if (o)
				put(o, "%20", 3);
			i += 2;
			break;
		case '{':
			if (!parse_braces(p, n, &i, exp, &m)) {
				*why = "bad macro";
				return false;
			}
			if (o && env)
				expand_one(o, &m,
				    letter_value(env, m.letter, vbuf,
				        sizeof(vbuf)));
			break;
		default:
			*why = "'%' not followed by '{', '%', '_' or '-'";
			return false;
		}
		*ends_in_macro = true;
	}
	return true;
}

bool
spf_macro_expand(const char *p, size_t n, const struct spf_macro_env *env,
    bool exp, char *out, size_t outsz, const char **why_out)
{
	struct out o = { out, 0, 0, false };
	const char *why = NULL;
	bool em;

	if (outsz == 0)
		return false;
	out[0] = '\0';
	o.cap = outsz - 1;
	if (!walk(p, n, env, exp, &o, &em, &why)) {
		if (why_out)
			*why_out = why;
		return false;
	}
	if (o.full) {
		if (why_out)
			*why_out = "expansion too long";
		out[0] = '\0';
		return false;
	}
	return true;
}

void
spf_domain_trim(char *name)
{
	size_t n = strlen(name);
	char *dot;

	/* A trailing dot is not part of the length (RFC 7208 7.3). */
	if (n > 0 && name[n - 1] == '.')
		name[--n] = '\0';
	while (n > DOMAIN_MAX && (dot = strchr(name, '.')) != NULL) {
		n -= (size_t)(dot + 1 - name);
		memmove(name, dot + 1, n + 1);
	}
}

/* ---- the record (RFC 7208 4.6.1, 5, 6, 12) ---- */

/*
 * toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
 */
static bool
toplabel_ok(const char *p, size_t n)
{
	bool alpha = false, dash = false;
	size_t i;

	if (n == 0 || !ascii_is_alnum(p[0]) || !ascii_is_alnum(p[n - 1]))
		return false;
	for (i = 0; i < n; i++) {
		if (p[i] == '-')
			dash = true;
		else if (ascii_is_alpha(p[i]))
			alpha = true;
		else if (!ascii_is_digit(p[i]))
			return false;
	}
	return alpha || dash;
}

/* domain-spec = macro-string domain-end (RFC 7208 7.1). */
static bool
domain_spec_ok(const char *p, size_t n, const char **why)
{
	size_t end, dot;
	bool em;

	if (n == 0) {
		*why = "empty domain-spec";
		return false;
	}
	if (!walk(p, n, NULL, false, NULL, &em, why))
		return false;
	if (em)
		return true; /* domain-end = macro-expand */
	end = n;
	if (p[end - 1] == '.')
		end--;
	for (dot = end; dot > 0 && p[dot - 1] != '.'; dot--)
		;
	if (dot == 0 || !toplabel_ok(p + dot, end - dot)) {
		*why = "domain-spec does not end in a valid top label";
		return false;
	}
	return true;
}

/* "0" or %x31-39 0*2DIGIT, at most max; no leading zero. */
static bool
cidr_len(const char *p, size_t n, unsigned max, unsigned *out)
{
	unsigned v = 0;
	size_t i;

	if (n == 0 || n > 3 || (n > 1 && p[0] == '0'))
		return false;
	for (i = 0; i < n; i++) {
		if (!ascii_is_digit(p[i]))
			return false;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* Length of the run of digits that ends p[0..n). */
static size_t
trailing_digits(const char *p, size_t n)
{
	size_t k = 0;

	while (k < n && ascii_is_digit(p[n - 1 - k]))
		k++;
	return k;
}

/*
 * Take a dual-cidr-length off the end of p[0..*n): "/N", "//N" or
 * "/N//M". false on a bad length.
 */
static bool
strip_dual_cidr(const char *p, size_t *n, struct spf_term *t)
{
	size_t k;

	k = trailing_digits(p, *n);
	if (k > 0 && *n >= k + 2 && p[*n - k - 1] == '/' &&
	    p[*n - k - 2] == '/') {
		if (!cidr_len(p + *n - k, k, 128, &t->cidr6))
			return false;
		*n -= k + 2;
	}
	k = trailing_digits(p, *n);
	if (k > 0 && *n >= k + 1 && p[*n - k - 1] == '/') {
		if (!cidr_len(p + *n - k, k, 32, &t->cidr4))
			return false;
		*n -= k + 1;
	}
	return true;
}

static const struct {
	const char *name;
	enum spf_mech mech;
} mechs[] = {
	{ "all", SPF_M_ALL },
	{ "include", SPF_M_INCLUDE },
	{ "a", SPF_M_A },
	{ "mx", SPF_M_MX },
	{ "ptr", SPF_M_PTR },
	{ "ip4", SPF_M_IP4 },
	{ "ip6", SPF_M_IP6 },
	{ "exists", SPF_M_EXISTS },
};

static bool
parse_ip(struct spf_term *t, const char *p, size_t n, const char **why)
{
	char buf[INET6_ADDRSTRLEN + 1];
	const char *slash = memchr(p, '/', n);
	size_t an = slash ? (size_t)(slash - p) : n;
	bool v6 = t->mech == SPF_M_IP6;

	*why = v6 ? "bad ip6 network" : "bad ip4 network";
	if (an == 0 || an >= sizeof(buf))
		return false;
	memcpy(buf, p, an);
	buf[an] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, t->addr) != 1)
		return false;
	if (slash != NULL && !cidr_len(slash + 1, n - an - 1, v6 ? 128 : 32,
	                         v6 ? &t->cidr6 : &t->cidr4)) {
		*why = "bad CIDR length";
		return false;
	}
	return true;
}

/* A directive: [qualifier] mechanism. */
static bool
parse_directive(const char *p, size_t n, struct spf_term *t, const char **why)
{
	size_t i = 0, k, m, rn;
	const char *rest;

	memset(t, 0, sizeof(*t));
	t->text = p;
	t->text_len = n;
	t->qualifier = '+';
	t->cidr4 = 32;
	t->cidr6 = 128;
	if (n > 0 && strchr("+-~?", p[0]) != NULL)
		t->qualifier = p[i++];
	for (k = i; k < n && ascii_is_alnum(p[k]); k++)
		;
	for (m = 0; m < sizeof(mechs) / sizeof(mechs[0]); m++)
		if (strlen(mechs[m].name) == k - i &&
		    ascii_ncasecmp(p + i, mechs[m].name, k - i) == 0)
			break;
	if (m == sizeof(mechs) / sizeof(mechs[0]) ||
	    (k < n && p[k] != ':' && p[k] != '/')) {
		*why = "unknown mechanism";
		return false;
	}
	t->mech = mechs[m].mech;
	rest = p + k;
	rn = n - k;
	switch (t->mech) {
	case SPF_M_ALL:
		*why = "\"all\" takes no argument";
		return rn == 0;
	case SPF_M_INCLUDE:
	case SPF_M_EXISTS:
		if (rn == 0 || rest[0] != ':') {
			*why = "missing domain-spec";
			return false;
		}
		t->spec = rest + 1;
		t->spec_len = rn - 1;
		return domain_spec_ok(t->spec, t->spec_len, why);
	case SPF_M_PTR:
		if (rn == 0)
			return true;
		if (rest[0] != ':') {
			*why = "\"ptr\" takes no CIDR length";
			return false;
		}
		t->spec = rest + 1;
		t->spec_len = rn - 1;
		return domain_spec_ok(t->spec, t->spec_len, why);
	case SPF_M_A:
	case SPF_M_MX:
		if (rn > 0 && rest[0] == ':') {
			t->spec = rest + 1;
			t->spec_len = rn - 1;
			*why = "bad CIDR length";
			if (!strip_dual_cidr(t->spec, &t->spec_len, t))
				return false;
			return domain_spec_ok(t->spec, t->spec_len, why);
		}
		*why = "bad CIDR length";
		if (!strip_dual_cidr(rest, &rn, t))
			return false;
		return rn == 0;
	case SPF_M_IP4:
	case SPF_M_IP6:
		if (rn == 0 || rest[0] != ':') {
			*why = "missing network";
			return false;
		}
		return parse_ip(t, rest + 1, rn - 1, why);
	}
	return false;
}

/* name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ), then "=". */
static size_t
modifier_name_len(const char *p, size_t n)
{
	size_t k;

	if (n == 0 || !ascii_is_alpha(p[0]))
		return 0;
	for (k = 1; k < n; k++)
		if (!ascii_is_alnum(p[k]) && p[k] != '-' && p[k] != '_' &&
		    p[k] != '.')
			break;
	return k < n && p[k] == '=' ? k : 0;
}

static bool
parse_modifier(const char *p, size_t n, size_t k, struct spf_record *r,
    const char **why)
{
	const char *val = p + k + 1;
	size_t vn = n - k - 1;
	bool em;

	if (k == 8 && ascii_ncasecmp(p, "redirect", 8) == 0) {
		if (r->redirect != NULL) {
			*why = "redirect= given twice";
			return false;
		}
		r->redirect = val;
		r->redirect_len = vn;
		return domain_spec_ok(val, vn, why);
	}
	if (k == 3 && ascii_ncasecmp(p, "exp", 3) == 0) {
		if (r->exp != NULL) {
			*why = "exp= given twice";
			return false;
		}
		r->exp = val;
		r->exp_len = vn;
		return domain_spec_ok(val, vn, why);
	}
	/* Unknown modifiers are ignored, but their macros must parse. */
	return walk(val, vn, NULL, true, NULL, &em, why);
}

bool
spf_record_parse(const char *p, size_t n, struct spf_record *out,
    const char **why_out)
{
	const char *why = "not an SPF record";
	size_t i, start, k;

	memset(out, 0, sizeof(*out));
	if (!spf_is_record(p, n))
		goto bad;
	/* Terms are separated by spaces only (RFC 7208 4.6.1). */
	for (i = 6; i < n;) {
		if (p[i] == ' ') {
			i++;
			continue;
		}
		for (start = i; i < n && p[i] != ' '; i++)
			;
		if ((k = modifier_name_len(p + start, i - start)) > 0) {
			if (!parse_modifier(p + start, i - start, k, out, &why))
				goto bad;
			continue;
		}
		if (out->n == SPF_TERMS_MAX) {
			why = "too many terms";
			goto bad;
		}
		if (!parse_directive(p + start, i - start, &out->terms[out->n],
		        &why))
			goto bad;
		out->n++;
	}
	return true;
bad:
	if (why_out)
		*why_out = why;
	return false;
}

/* ---- names in answers ---- */

bool
spf_dname_parse(const uint8_t *p, size_t n, char *out, size_t outsz)
{
	size_t i = 0, o = 0, len, k;
	uint8_t c;

	if (outsz == 0)
		return false;
	for (;;) {
		if (i >= n)
			return false;
		len = p[i++];
		if (len == 0)
			break;
		if (len > 63 || len > n - i)
			return false; /* 0xC0: no compression in rdata */
		if (o + (o > 0) + len + 1 > outsz)
			return false;
		if (o > 0)
			out[o++] = '.';
		for (k = 0; k < len; k++) {
			c = p[i + k];
			if (c < 0x21 || c > 0x7e || c == '.' || c == '\\')
				return false;
			out[o++] = (char)ascii_lower(c);
		}
		i += len;
	}
	if (i != n)
		return false; /* trailing bytes */
	out[o] = '\0';
	return true;
}
