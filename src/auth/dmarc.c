/* SPDX-License-Identifier: ISC */
/*
 * auth/dmarc.c - DMARC (RFC 7489): the From domain, the organizational
 * domain, the policy record and the verdict. See dmarc.h for the
 * decisions; this file says how.
 */
#include "auth/dmarc.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <libpsl.h>

#include "util/str.h"
#include "util/utf8.h"

/* ------------------------------------------------------------------ */
/* The From field: a tokenizer (CFWS skipped) and a recursive descent   */
/* over RFC 5322 3.4 address-list with the obsolete forms of 4.4.       */
/* ------------------------------------------------------------------ */

enum tok {
	T_END,
	T_ATOM,    /* 1*atext (RFC 6532: bytes >= 0x80 too) */
	T_QSTR,    /* a quoted-string; its content does not matter here */
	T_DLIT,    /* a domain literal [...] */
	T_SPECIAL, /* one of ( ) < > [ ] : ; @ \ , . (without the first) */
	T_ERR,
};

struct token {
	enum tok t;
	const char *s; /* T_ATOM: the bytes */
	size_t len;
	char c; /* T_SPECIAL: the character */
};

struct lex {
	const char *p;
	size_t n, i;
	struct token cur; /* the token peeked at */
	bool have;
};

/* What the parse found: the first address's domain and how many. */
struct from_acc {
	size_t addrs;
	bool first_bad;
	char domain[DMARC_DOMAIN_MAX];
};

static bool
is_atext(unsigned char c)
{
	if (ascii_is_alnum(c) || c >= 0x80)
		return true;
	return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool
is_wsp(unsigned char c)
{
	/* CR and LF only occur here as folding: the server ended the field
	 * at the first CRLF not followed by WSP. */
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skip a comment starting at p[*i] == '('; false if unterminated, too
 * deep or holding a NUL. */
static bool
skip_comment(const char *p, size_t n, size_t *i)
{
	size_t depth = 0;

	while (*i < n) {
		unsigned char c = (unsigned char)p[(*i)++];

		if (c == 0)
			return false;
		if (c == '\\') {
			if (*i >= n || p[*i] == 0)
				return false;
			(*i)++;
		} else if (c == '(') {
			if (++depth > DMARC_COMMENT_DEPTH)
				return false;
		} else if (c == ')') {
			if (--depth == 0)
				return true;
		}
	}
	return false;
}

static bool
skip_cfws(struct lex *lx)
{
	while (lx->i < lx->n) {
		unsigned char c = (unsigned char)lx->p[lx->i];

		if (is_wsp(c))
			lx->i++;
		else if (c == '(') {
			if (!skip_comment(lx->p, lx->n, &lx->i))
				return false;
		} else
			break;
	}
	return true;
}

/* A quoted-string or domain literal from p[*i] (the opening char) to
 * its closing `close`; quoted-pairs allowed, NUL never. */
static bool
skip_quoted(const char *p, size_t n, size_t *i, char close)
{
	(*i)++;
	while (*i < n) {
		char c = p[(*i)++];

		if (c == 0)
			return false;
		if (c == close)
			return true;
		if (close == ']' && c == '[')
			return false;
		if (c == '\\') {
			if (*i >= n || p[*i] == 0)
				return false;
			(*i)++;
		}
	}
	return false;
}

static struct token
lex_next(struct lex *lx)
{
	struct token t = { T_ERR, NULL, 0, 0 };
	unsigned char c;
	size_t start;

	if (!skip_cfws(lx))
		return t;
	if (lx->i >= lx->n) {
		t.t = T_END;
		return t;
	}
	start = lx->i;
	c = (unsigned char)lx->p[start];
	if (is_atext(c)) {
		while (lx->i < lx->n && is_atext((unsigned char)lx->p[lx->i]))
			lx->i++;
		t.t = T_ATOM;
		t.s = lx->p + start;
		t.len = lx->i - start;
	} else if (c == '"' || c == '[') {
		if (skip_quoted(lx->p, lx->n, &lx->i, c == '"' ? '"' : ']'))
			t.t = c == '"' ? T_QSTR : T_DLIT;
	} else if (strchr("<>:;@,.", c) != NULL) {
		lx->i++;
		t.t = T_SPECIAL;
		t.c = (char)c;
	}
	return t; /* ) ] \ and control bytes stay T_ERR */
}

static const struct token *
peek(struct lex *lx)
{
	if (!lx->have) {
		lx->cur = lex_next(lx);
		lx->have = true;
	}
	return &lx->cur;
}

static struct token
take(struct lex *lx)
{
	peek(lx);
	lx->have = false;
	return lx->cur;
}

static bool
peek_is(struct lex *lx, char c)
{
	const struct token *t = peek(lx);

	return t->t == T_SPECIAL && t->c == c;
}

/*
 * Lower-case a domain, drop one trailing dot, check its labels (letters,
 * digits, '-', '_', well-formed UTF-8; 1..63 bytes each; 253 in all).
 * In place; false if it is not a usable domain.
 */
static bool
domain_normalize(char *d)
{
	size_t n = strlen(d), i, label = 0, k;

	if (n > 0 && d[n - 1] == '.')
		d[--n] = 0;
	if (n == 0 || n > DMARC_DOMAIN_MAX - 1)
		return false;
	for (i = 0; i < n; i += k) {
		unsigned char c = (unsigned char)d[i];

		k = 1;
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (c >= 0x80) {
			k = utf8_decode((const uint8_t *)d + i, n - i, NULL);
			if (k == 0)
				return false;
		} else if (!ascii_is_alnum(c) && c != '-' && c != '_')
			return false;
		else
			d[i] = (char)ascii_lower(c);
		if ((label += k) > 63)
			return false;
	}
	return label > 0;
}

/* domain = dot-atom / domain-literal / obs-domain, after the '@'. */
static bool
parse_domain(struct lex *lx, struct from_acc *acc)
{
	char d[DMARC_DOMAIN_MAX + 1];
	size_t len = 0;
	bool bad = false;
	struct token t = take(lx);

	if (t.t == T_DLIT) {
		bad = true; /* an IP literal has no DMARC domain */
		goto done;
	}
	for (;;) {
		if (t.t != T_ATOM)
			return false;
		if (len + t.len + 1 >= sizeof(d))
			bad = true;
		else {
			memcpy(d + len, t.s, t.len);
			len += t.len;
		}
		if (!peek_is(lx, '.'))
			break;
		take(lx);
		if (len + 1 < sizeof(d))
			d[len++] = '.';
		if (peek(lx)->t != T_ATOM)
			break; /* a trailing dot: tolerated, normalized away */
		t = take(lx);
	}
	d[len] = 0;
	if (!bad && !domain_normalize(d))
		bad = true;
done:
	if (acc->addrs++ == 0) {
		acc->first_bad = bad;
		if (!bad)
			strlcpy(acc->domain, d, sizeof(acc->domain));
	}
	return true;
}

/* local-part "@" domain inside <...>: word *("." word) "@" domain. */
static bool
parse_addr_spec(struct lex *lx, struct from_acc *acc)
{
	struct token t;

	for (;;) {
		t = take(lx);
		if (t.t != T_ATOM && t.t != T_QSTR)
			return false;
		if (!peek_is(lx, '.'))
			break;
		take(lx);
	}
	if (!peek_is(lx, '@'))
		return false;
	take(lx);
	return parse_domain(lx, acc);
}

/* obs-route: *(CFWS / ",") "@" domain *("," [CFWS] ["@" domain]) ":" */
static bool
skip_route(struct lex *lx)
{
	struct from_acc scratch = { 0 }; /* route domains are not addresses */

	while (peek_is(lx, ','))
		take(lx);
	if (!peek_is(lx, '@'))
		return true; /* no route */
	for (;;) {
		if (peek_is(lx, '@')) {
			take(lx);
			if (!parse_domain(lx, &scratch))
				return false;
		}
		if (peek_is(lx, ':')) {
			take(lx);
			return true;
		}
		if (!peek_is(lx, ','))
			return false;
		take(lx);
	}
}

/* angle-addr after its '<': [obs-route] addr-spec ">" */
static bool
parse_angle(struct lex *lx, struct from_acc *acc)
{
	if (!skip_route(lx) || !parse_addr_spec(lx, acc))
		return false;
	if (!peek_is(lx, '>'))
		return false;
	take(lx);
	return true;
}

/*
 * A phrase (display name, or what may turn out to be a local part):
 * words and obs-phrase dots. *local_ok_out: it has the shape of a
 * local-part (word *("." word)). *words_out: how many words.
 */
static bool
parse_phrase(struct lex *lx, bool *local_ok_out, size_t *words_out)
{
	bool want_word = true, local_ok = true;
	size_t words = 0;
	const struct token *t;

	for (;;) {
		t = peek(lx);
		if (t->t == T_ATOM || t->t == T_QSTR) {
			if (!want_word)
				local_ok = false; /* "John Doe": two words */
			want_word = false;
			words++;
		} else if (t->t == T_SPECIAL && t->c == '.') {
			if (words == 0)
				return false; /* obs-phrase starts with a word
				               */
			if (want_word)
				local_ok = false;
			want_word = true;
		} else
			break;
		take(lx);
	}
	*local_ok_out = local_ok && !want_word;
	*words_out = words;
	return true;
}

/* mailbox = name-addr / addr-spec; with in_group false also a group. */
static bool
parse_address(struct lex *lx, struct from_acc *acc, bool in_group)
{
	bool local_ok;
	size_t words;

	if (!parse_phrase(lx, &local_ok, &words))
		return false;
	if (peek_is(lx, '<')) {
		take(lx);
		return parse_angle(lx, acc);
	}
	if (peek_is(lx, '@')) {
		if (words == 0 || !local_ok)
			return false;
		take(lx);
		return parse_domain(lx, acc);
	}
	if (peek_is(lx, ':') && !in_group && words > 0) {
		/* group = display-name ":" [group-list] ";" (RFC 6854) */
		take(lx);
		for (;;) {
			if (peek_is(lx, ';')) {
				take(lx);
				return true;
			}
			if (peek_is(lx, ',')) {
				take(lx);
				continue;
			}
			if (!parse_address(lx, acc, true))
				return false;
			if (!peek_is(lx, ',') && !peek_is(lx, ';'))
				return false;
		}
	}
	return false;
}

/* address-list with obs-addr-list's empty elements. */
static bool
parse_address_list(struct lex *lx, struct from_acc *acc)
{
	for (;;) {
		const struct token *t = peek(lx);

		if (t->t == T_END)
			return true;
		if (t->t == T_SPECIAL && t->c == ',') {
			take(lx);
			continue;
		}
		if (!parse_address(lx, acc, false))
			return false;
		t = peek(lx);
		if (t->t != T_END && !(t->t == T_SPECIAL && t->c == ','))
			return false;
	}
}

enum dmarc_from
dmarc_from_domain(const struct dmarc_field *fields, size_t n,
    char domain_out[DMARC_DOMAIN_MAX])
{
	struct from_acc acc = { 0 };
	struct lex lx;

	domain_out[0] = 0;
	if (n == 0)
		return DMARC_FROM_NONE;
	if (n > 1)
		return DMARC_FROM_SEVERAL_FIELDS;
	if (fields[0].n > DMARC_FROM_MAX)
		return DMARC_FROM_SYNTAX;
	memset(&lx, 0, sizeof(lx));
	lx.p = fields[0].p;
	lx.n = fields[0].n;
	if (!parse_address_list(&lx, &acc))
		return DMARC_FROM_SYNTAX;
	if (acc.addrs == 0)
		return DMARC_FROM_NO_ADDR;
	if (acc.addrs > 1)
		return DMARC_FROM_SEVERAL_ADDRS;
	if (acc.first_bad)
		return DMARC_FROM_BAD_DOMAIN;
	strlcpy(domain_out, acc.domain, DMARC_DOMAIN_MAX);
	return DMARC_FROM_OK;
}

const char *
dmarc_from_name(enum dmarc_from st)
{
	switch (st) {
	case DMARC_FROM_OK:
		return "ok";
	case DMARC_FROM_NONE:
		return "no From field";
	case DMARC_FROM_SEVERAL_FIELDS:
		return "several From fields";
	case DMARC_FROM_SEVERAL_ADDRS:
		return "several From addresses";
	case DMARC_FROM_NO_ADDR:
		return "no From address";
	case DMARC_FROM_SYNTAX:
		return "From does not parse";
	case DMARC_FROM_BAD_DOMAIN:
		return "From domain unusable";
	}
	return "?";
}

/* ------------------------------------------------------------------ */
/* Organizational domain                                                */
/* ------------------------------------------------------------------ */

static pthread_once_t psl_once = PTHREAD_ONCE_INIT;
static const psl_ctx_t *psl; /* loaded once, kept for the process */

static void
psl_load(void)
{
	psl = psl_latest(NULL);
	if (psl == NULL)
		psl = psl_builtin();
}

/* Normalized copy of src into dst; false if not a usable domain. */
static bool
domain_copy(char dst[DMARC_DOMAIN_MAX], const char *src)
{
	if (src == NULL ||
	    strlcpy(dst, src, DMARC_DOMAIN_MAX) >= DMARC_DOMAIN_MAX + 1) {
		dst[0] = 0;
		return false;
	}
	if (!domain_normalize(dst)) {
		dst[0] = 0;
		return false;
	}
	return true;
}

bool
dmarc_org_domain(const char *domain, char out[DMARC_DOMAIN_MAX])
{
	char d[DMARC_DOMAIN_MAX];
	const char *reg = NULL;

	out[0] = 0;
	if (!domain_copy(d, domain))
		return false;
	pthread_once(&psl_once, psl_load);
	if (psl != NULL)
		reg = psl_registrable_domain(psl, d);
	/* A public suffix itself (or no list at all): its own org domain,
	 * which makes relaxed alignment as strict as strict, never laxer. */
	strlcpy(out, reg != NULL ? reg : d, DMARC_DOMAIN_MAX);
	return true;
}

/* ------------------------------------------------------------------ */
/* The policy record                                                    */
/* ------------------------------------------------------------------ */

struct span {
	const char *p;
	size_t n;
};

static bool
span_eq(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n == n && ascii_ncasecmp(s.p, lit, n) == 0;
}

static bool
is_rec_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static struct span
trim(const char *p, size_t n)
{
	struct span s = { p, n };

	while (s.n > 0 && is_rec_wsp(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n > 0 && is_rec_wsp(s.p[s.n - 1]))
		s.n--;
	return s;
}

static bool
parse_policy(struct span v, enum dmarc_policy *out)
{
	if (span_eq(v, "none"))
		*out = DMARC_POLICY_NONE;
	else if (span_eq(v, "quarantine"))
		*out = DMARC_POLICY_QUARANTINE;
	else if (span_eq(v, "reject"))
		*out = DMARC_POLICY_REJECT;
	else
		return false;
	return true;
}

static bool
parse_uint(struct span v, uint64_t max, uint64_t *out)
{
	char tmp[16];

	if (v.n == 0 || v.n >= sizeof(tmp))
		return false;
	memcpy(tmp, v.p, v.n);
	tmp[v.n] = 0;
	return str_to_u64(tmp, max, out);
}

/* One dmarc-uri: scheme ":" something (RFC 3986 3.1; RFC 7489 6.4). */
static bool
is_uri(struct span u)
{
	size_t i = 0;

	if (u.n == 0 || !ascii_is_alpha(u.p[0]))
		return false;
	while (i < u.n && (ascii_is_alnum(u.p[i]) || u.p[i] == '+' ||
	                      u.p[i] == '-' || u.p[i] == '.'))
		i++;
	return i < u.n && u.p[i] == ':' && i + 1 < u.n;
}

/* rua = dmarc-uri *(*WSP "," *WSP dmarc-uri): is one of them valid? */
static bool
has_valid_uri(struct span v)
{
	size_t i, start = 0;

	for (i = 0; i <= v.n; i++) {
		if (i < v.n && v.p[i] != ',')
			continue;
		if (is_uri(trim(v.p + start, i - start)))
			return true;
		start = i + 1;
	}
	return false;
}

static void
keep_text(char *dst, size_t dstsz, struct span v)
{
	size_t n = v.n < dstsz - 1 ? v.n : dstsz - 1;

	memcpy(dst, v.p, n);
	dst[n] = 0;
}

/* The v=DMARC1 tag at the start; *end_out is after its ';' or at n. */
static bool
parse_version(const char *p, size_t n, size_t *end_out)
{
	const char *semi = memchr(p, ';', n);
	size_t len = semi != NULL ? (size_t)(semi - p) : n;
	struct span s = trim(p, len);
	size_t i = 1;

	if (s.n == 0 || (s.p[0] != 'v' && s.p[0] != 'V'))
		return false;
	while (i < s.n && is_rec_wsp(s.p[i]))
		i++;
	if (i >= s.n || s.p[i] != '=')
		return false;
	i++;
	while (i < s.n && is_rec_wsp(s.p[i]))
		i++;
	/* "DMARC1", case-sensitive (RFC 7489 6.4 %x44 %x4d ...). */
	if (s.n - i != 6 || memcmp(s.p + i, "DMARC1", 6) != 0)
		return false;
	*end_out = semi != NULL ? len + 1 : n;
	return true;
}

/* What the tags said, before the p/sp/rua rule is applied. */
struct rec_seen {
	bool p, sp, pct, adkim, aspf, rua, ruf, ri;
	bool p_ok, sp_ok, rua_ok;
};

/* One tag; false if its value has bytes a tag-value cannot have. */
static bool
apply_tag(struct span name, struct span v, struct dmarc_record *r,
    struct rec_seen *seen)
{
	uint64_t u;
	size_t i;

	for (i = 0; i < v.n; i++) /* VALCHAR or WSP, RFC 7489 6.4 */
		if (!(((unsigned char)v.p[i] >= 0x21 &&
		          (unsigned char)v.p[i] <= 0x7e && v.p[i] != ';') ||
		        is_rec_wsp(v.p[i])))
			return false;
	if (span_eq(name, "p") && !seen->p) {
		seen->p = true;
		seen->p_ok = parse_policy(v, &r->p);
	} else if (span_eq(name, "sp") && !seen->sp) {
		seen->sp = true;
		seen->sp_ok = parse_policy(v, &r->sp);
		r->has_sp = seen->sp_ok;
	} else if (span_eq(name, "pct") && !seen->pct) {
		seen->pct = true;
		if (parse_uint(v, 100, &u))
			r->pct = (unsigned)u;
	} else if (span_eq(name, "adkim") && !seen->adkim) {
		seen->adkim = true;
		r->adkim_strict = span_eq(v, "s");
	} else if (span_eq(name, "aspf") && !seen->aspf) {
		seen->aspf = true;
		r->aspf_strict = span_eq(v, "s");
	} else if (span_eq(name, "rua") && !seen->rua) {
		seen->rua = true;
		seen->rua_ok = has_valid_uri(v);
		keep_text(r->rua, sizeof(r->rua), v);
	} else if (span_eq(name, "ruf") && !seen->ruf) {
		seen->ruf = true;
		keep_text(r->ruf, sizeof(r->ruf), v);
	} else if (span_eq(name, "ri") && !seen->ri) {
		seen->ri = true;
		if (parse_uint(v, UINT32_MAX, &u))
			r->ri = (uint32_t)u;
	}
	/* fo, rf, a repeated tag and unknown tags: ignored (RFC 7489 6.3). */
	return true;
}

/* tag-spec = [WSP] name [WSP] "=" [WSP] value [WSP]; name = ALPHA
 * *(ALNUM / "_"). An empty spec (";;", a trailing ';') is fine. */
static bool
parse_tag_spec(const char *p, size_t n, struct dmarc_record *r,
    struct rec_seen *seen)
{
	struct span s = trim(p, n), name;
	size_t i = 0;

	if (s.n == 0)
		return true;
	if (!ascii_is_alpha(s.p[0]))
		return false;
	while (i < s.n && (ascii_is_alnum(s.p[i]) || s.p[i] == '_'))
		i++;
	name.p = s.p;
	name.n = i;
	while (i < s.n && is_rec_wsp(s.p[i]))
		i++;
	if (i >= s.n || s.p[i] != '=')
		return false;
	return apply_tag(name, trim(s.p + i + 1, s.n - i - 1), r, seen);
}

enum dmarc_record_status
dmarc_record_parse(const char *p, size_t n, struct dmarc_record *out,
    const char **why_out)
{
	struct rec_seen seen = { 0 };
	const char *why = NULL, *semi;
	size_t i, len;

	memset(out, 0, sizeof(*out));
	out->pct = 100;
	out->ri = 86400;
	if (why_out == NULL)
		why_out = &why;
	if (n > DNS_RDATA_MAX || memchr(p, 0, n) != NULL) {
		*why_out = "record too long or has a NUL";
		return DMARC_RECORD_INVALID;
	}
	if (!parse_version(p, n, &i)) {
		*why_out = "not v=DMARC1";
		return DMARC_RECORD_NOT_DMARC;
	}
	for (; i < n; i += len + 1) {
		semi = memchr(p + i, ';', n - i);
		len = semi != NULL ? (size_t)(semi - (p + i)) : n - i;
		if (!parse_tag_spec(p + i, len, out, &seen)) {
			*why_out = "tag syntax";
			return DMARC_RECORD_INVALID;
		}
	}
	if (!seen.p || !seen.p_ok || (seen.sp && !seen.sp_ok)) {
		if (!seen.rua_ok) {
			*why_out = seen.p ? "invalid p or sp" : "no p";
			return DMARC_RECORD_INVALID;
		}
		/* RFC 7489 6.6.3: as if p=none had been published. */
		out->p = out->sp = DMARC_POLICY_NONE;
		out->has_sp = false;
		out->p_from_rua = true;
	}
	if (!out->has_sp)
		out->sp = out->p;
	*why_out = "ok";
	return DMARC_RECORD_OK;
}

/* ------------------------------------------------------------------ */
/* The check                                                            */
/* ------------------------------------------------------------------ */

enum discovery {
	FOUND,     /* one usable record */
	NOT_HERE,  /* no v=DMARC1 record at this name: ask the next */
	STOP_NONE, /* several, or invalid: DMARC does not apply */
	TEMP,      /* DNS failed */
};

static void set_reason(struct dmarc_verdict *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_reason(struct dmarc_verdict *v, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
	va_end(ap);
	if (n < 0)
		v->reason[0] = 0; /* a cut reason is still a reason */
}

static enum discovery
discover(const struct authdns *dns, const char *domain,
    struct dmarc_record *rec, struct dmarc_verdict *v)
{
	char name[DMARC_DOMAIN_MAX + 8];
	struct dns_rrset rs = { 0 };
	struct why why = { 0 };
	struct dmarc_record tmp;
	enum dns_status st;
	enum dmarc_record_status rst;
	const char *rwhy = NULL;
	size_t i, found = 0;
	bool ok = false;
	int k;

	k = snprintf(name, sizeof(name), "_dmarc.%s", domain);
	if (k < 0 || (size_t)k >= sizeof(name) || k > 253)
		return NOT_HERE; /* no such name can exist in the DNS */
	st = dns->lookup(dns->arg, name, DNS_T_TXT, &rs, &why);
	if (st == DNS_TEMP) {
		set_reason(v, "DNS TXT %s: %s", name, why.text);
		dns_rrset_free(&rs);
		return TEMP;
	}
	if (st != DNS_OK) {
		dns_rrset_free(&rs);
		return NOT_HERE;
	}
	for (i = 0; i < rs.n; i++) {
		rst = dmarc_record_parse((const char *)rs.data[i], rs.len[i],
		    &tmp, &rwhy);
		if (rst == DMARC_RECORD_NOT_DMARC)
			continue;
		if (found++ > 0)
			continue;
		ok = rst == DMARC_RECORD_OK;
		if (ok)
			*rec = tmp;
		else
			set_reason(v, "invalid DMARC record at %s: %s", name,
			    rwhy);
	}
	dns_rrset_free(&rs);
	if (found == 0)
		return NOT_HERE;
	strlcpy(v->record_domain, domain, sizeof(v->record_domain));
	if (found > 1) {
		set_reason(v, "%zu DMARC records at %s", found, name);
		return STOP_NONE;
	}
	return ok ? FOUND : STOP_NONE;
}

/* Is d (hostile: a DKIM d= or the SPF domain) aligned with the From?
 * The normalized d goes to d_out for the reason. */
static bool
is_aligned(const struct dmarc_verdict *v, const char *d, bool strict,
    char d_out[DMARC_DOMAIN_MAX])
{
	char org[DMARC_DOMAIN_MAX];

	if (!domain_copy(d_out, d))
		return false;
	if (strict)
		return strcmp(d_out, v->from_domain) == 0;
	/* Relaxed (RFC 7489 3.1.1): the same organizational domain. */
	return dmarc_org_domain(d_out, org) && strcmp(org, v->org_domain) == 0;
}

static void
evaluate(const struct dmarc_record *rec, const char *spf_result,
    const char *spf_domain, const struct dmarc_dkim *dkim, size_t n_dkim,
    uint32_t sample, struct dmarc_verdict *v)
{
	char d[DMARC_DOMAIN_MAX];
	size_t i, dkim_pass = 0;

	if (spf_result != NULL && ascii_casecmp(spf_result, "pass") == 0 &&
	    is_aligned(v, spf_domain, rec->aspf_strict, d)) {
		v->spf_aligned = true;
		set_reason(v, "SPF pass for %s aligned", d);
	}
	for (i = 0; i < n_dkim; i++) {
		if (!dkim[i].pass)
			continue;
		dkim_pass++;
		if (is_aligned(v, dkim[i].domain, rec->adkim_strict, d)) {
			v->dkim_aligned = true;
			set_reason(v, "DKIM pass for %s aligned", d);
			break;
		}
	}
	if (v->spf_aligned || v->dkim_aligned) {
		v->result = DMARC_PASS;
		return;
	}
	v->result = DMARC_FAIL;
	v->policy = v->published;
	/* RFC 7489 6.3 pct, 6.6.4: outside the sample, one step milder. */
	if (sample % 100 >= rec->pct) {
		v->sampled_out = true;
		v->policy = v->policy == DMARC_POLICY_REJECT
		                ? DMARC_POLICY_QUARANTINE
		                : DMARC_POLICY_NONE;
	}
	if (!domain_copy(d, spf_domain))
		strlcpy(d, "-", sizeof(d));
	set_reason(v,
	    "no aligned pass (SPF %.12s for %s, %zu DKIM pass); %s=%s%s",
	    spf_result != NULL ? spf_result : "none", d, dkim_pass,
	    strcmp(v->record_domain, v->from_domain) != 0 ? "sp" : "p",
	    dmarc_policy_name(v->published),
	    v->sampled_out ? " outside pct" : "");
}

void
dmarc_check(const struct authdns *dns, const char *from_domain,
    const char *spf_result, const char *spf_domain,
    const struct dmarc_dkim *dkim, size_t n_dkim, uint32_t sample,
    struct dmarc_verdict *out)
{
	struct dmarc_record rec;
	enum discovery d;
	bool at_org = false;

	memset(out, 0, sizeof(*out));
	if (!domain_copy(out->from_domain, from_domain)) {
		dmarc_from_verdict(DMARC_FROM_BAD_DOMAIN, out);
		return;
	}
	(void)dmarc_org_domain(out->from_domain, out->org_domain);
	d = discover(dns, out->from_domain, &rec, out);
	if (d == NOT_HERE && strcmp(out->org_domain, out->from_domain) != 0) {
		at_org = true;
		d = discover(dns, out->org_domain, &rec, out);
	}
	switch (d) {
	case TEMP:
		out->result = DMARC_TEMPERROR;
		return;
	case NOT_HERE:
		set_reason(out, "no DMARC record");
		return;
	case STOP_NONE:
		return; /* DMARC_NONE; discover() gave the reason */
	case FOUND:
		break;
	}
	/* sp is for subdomains of the org domain that has the record. */
	out->published = at_org ? rec.sp : rec.p;
	evaluate(&rec, spf_result, spf_domain, dkim, n_dkim, sample, out);
}

void
dmarc_from_verdict(enum dmarc_from st, struct dmarc_verdict *out)
{
	memset(out, 0, sizeof(*out));
	out->result = DMARC_PERMERROR;
	out->policy = DMARC_POLICY_REJECT;
	out->published = DMARC_POLICY_REJECT;
	set_reason(out, "%s", dmarc_from_name(st));
}

void
dmarc_check_message(const struct authdns *dns,
    const struct dmarc_field *from_fields, size_t n_from,
    const char *spf_result, const char *spf_domain,
    const struct dmarc_dkim *dkim, size_t n_dkim, uint32_t sample,
    struct dmarc_verdict *out)
{
	char domain[DMARC_DOMAIN_MAX];
	enum dmarc_from st;

	st = dmarc_from_domain(from_fields, n_from, domain);
	if (st != DMARC_FROM_OK) {
		dmarc_from_verdict(st, out);
		return;
	}
	dmarc_check(dns, domain, spf_result, spf_domain, dkim, n_dkim, sample,
	    out);
}

void
dmarc_authres(const struct dmarc_verdict *v, char *comment, size_t commentsz,
    struct authres_result *out)
{
	int n;

	memset(out, 0, sizeof(*out));
	out->method = "dmarc";
	out->result = dmarc_result_name(v->result);
	if (v->result != DMARC_PASS && v->reason[0] != 0)
		out->reason = v->reason;
	n = snprintf(comment, commentsz, "p=%s dis=%s",
	    dmarc_policy_name(v->published), dmarc_policy_name(v->policy));
	if (n > 0 && (size_t)n < commentsz && v->result != DMARC_NONE &&
	    v->result != DMARC_TEMPERROR)
		out->comment = comment;
	if (v->from_domain[0] != 0) {
		out->props[out->n_props].ptype = "header";
		out->props[out->n_props].prop = "from";
		out->props[out->n_props++].value = v->from_domain;
	}
	out->props[out->n_props].ptype = "policy";
	out->props[out->n_props].prop = "dmarc";
	out->props[out->n_props++].value = dmarc_policy_name(v->policy);
}

uint32_t
dmarc_random(void)
{
	uint32_t x;

	/* Redraw above the last multiple of 100 so that x % 100 is fair. */
	do {
		if (getrandom(&x, sizeof(x), 0) != (ssize_t)sizeof(x))
			return 0; /* sampled in: the stricter choice */
	} while (x >= UINT32_MAX - UINT32_MAX % 100);
	return x % 100;
}

const char *
dmarc_result_name(enum dmarc_result r)
{
	switch (r) {
	case DMARC_NONE:
		return "none";
	case DMARC_PASS:
		return "pass";
	case DMARC_FAIL:
		return "fail";
	case DMARC_TEMPERROR:
		return "temperror";
	case DMARC_PERMERROR:
		return "permerror";
	}
	return "permerror";
}

const char *
dmarc_policy_name(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_POLICY_NONE:
		return "none";
	case DMARC_POLICY_QUARANTINE:
		return "quarantine";
	case DMARC_POLICY_REJECT:
		return "reject";
	}
	return "reject";
}
