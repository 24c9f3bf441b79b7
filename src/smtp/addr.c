/* SPDX-License-Identifier: ISC */
/*
 * smtp/addr.c - RFC 5321 4.1.2 address grammar (see addr.h).
 *
 * One cursor walks the input; every production checks its length bound
 * before it copies, and copies only into fixed-size fields.
 * Trust: peer bytes; no allocation.
 */
#include "smtp/addr.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/str.h"
#include "util/utf8.h"

struct cur {
	const uint8_t *p;
	size_t n;
	size_t i;
	unsigned flags;
	const char *why;
};

static int
at(const struct cur *c, size_t i)
{
	return i < c->n ? c->p[i] : -1;
}

static bool
fail(struct cur *c, const char *why)
{
	if (c->why == NULL) /* keep the innermost reason */
		c->why = why;
	return false;
}

/* RFC 5322 3.2.3 atext, as used by RFC 5321 Atom. */
static bool
is_atext(int ch)
{
	return ch >= 0 && ch < 0x80 &&
	       (ascii_is_alnum(ch) ||
	           (ch != 0 && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL));
}

static bool
is_ctl(int ch)
{
	return (ch >= 0 && ch < 0x20) || ch == 0x7f;
}

/*
 * A non-ASCII character at c->i: its length, or 0 with a reason. RFC 6531
 * 3.3 adds UTF8-non-ascii to atext, qtextSMTP and sub-domain; C1 controls
 * (U+0080..U+009F) are still controls and never allowed.
 */
static size_t
utf8_char(struct cur *c)
{
	uint32_t cp;
	size_t len;

	if (!(c->flags & SMTP_ADDR_UTF8))
		return fail(c, "8-bit character without SMTPUTF8"), 0;
	len = utf8_decode(c->p + c->i, c->n - c->i, &cp);
	if (len == 0)
		return fail(c, "invalid UTF-8"), 0;
	if (cp < 0xa0)
		return fail(c, "control character in address"), 0;
	return len;
}

/* Explain why the byte at c->i cannot continue a production. */
static bool
bad_char(struct cur *c, const char *where)
{
	int ch = at(c, c->i);

	if (ch == 0 || is_ctl(ch))
		return fail(c, "control character in address");
	return fail(c, where);
}

/* Is s[0..n) a Dot-string (RFC 5321 4.1.2)? UTF-8 is already valid. */
static bool
is_dot_string(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '.') {
			if (s[i - 1] == '.')
				return false;
		} else if (ch < 0x80 && !is_atext(ch))
			return false;
	}
	return true;
}

static bool
parse_quoted(struct cur *c, struct smtp_addr *out)
{
	/* Content never exceeds the sent form; slack for one UTF-8 char. */
	char tmp[SMTP_LOCAL_MAX + 8];
	size_t start = c->i, tl = 0, len, i, o, esc;
	int ch;

	c->i++; /* DQUOTE */
	for (;;) {
		if (c->i - start > SMTP_LOCAL_MAX)
			return fail(c, "local part too long");
		ch = at(c, c->i);
		if (ch == -1)
			return fail(c, "unbalanced quote in local part");
		if (ch == '"') {
			c->i++;
			break;
		}
		if (ch == '\\') {
			/* quoted-pairSMTP = %d92 %d32-126 */
			ch = at(c, c->i + 1);
			if (ch == -1)
				return fail(c,
				    "unbalanced quote in local part");
			if (ch < 32 || ch > 126) {
				c->i++;
				return bad_char(c, "invalid quoted pair");
			}
			tmp[tl++] = (char)ch;
			c->i += 2;
			continue;
		}
		if (ch >= 0x80) {
			if ((len = utf8_char(c)) == 0)
				return false;
			memcpy(tmp + tl, c->p + c->i, len);
			tl += len;
			c->i += len;
			continue;
		}
		/* qtextSMTP = %d32-33 / %d35-91 / %d93-126 */
		if (ch < 32 || ch > 126)
			return bad_char(c,
			    "invalid character in quoted string");
		tmp[tl++] = (char)ch;
		c->i++;
	}
	if (c->i - start > SMTP_LOCAL_MAX)
		return fail(c, "local part too long");
	if (tl == 0)
		return fail(c, "empty local part");
	if (is_dot_string(tmp, tl)) {
		memcpy(out->local, tmp, tl);
		out->local[tl] = '\0';
		return true;
	}
	/* Re-quote with only the backslashes RFC 5321 4.1.2 requires. */
	o = 0;
	out->local[o++] = '"';
	for (i = 0; i < tl; i++) {
		esc = tmp[i] == '"' || tmp[i] == '\\';
		/* This char (and its '\'), then the closing '"' and NUL. */
		if (o + esc + 1 + 2 > sizeof(out->local))
			return fail(c, "local part too long");
		if (esc)
			out->local[o++] = '\\';
		out->local[o++] = tmp[i];
	}
	out->local[o++] = '"';
	out->local[o] = '\0';
	out->quoted = true;
	return true;
}

static bool
parse_dot_string(struct cur *c, struct smtp_addr *out)
{
	size_t start = c->i, len;
	bool prev_dot = false;
	int ch;

	for (;;) {
		ch = at(c, c->i);
		if (is_atext(ch)) {
			c->i++;
			prev_dot = false;
		} else if (ch >= 0x80) {
			if ((len = utf8_char(c)) == 0)
				return false;
			c->i += len;
			prev_dot = false;
		} else if (ch == '.') {
			if (c->i == start)
				return fail(c, "local part starts with a dot");
			if (prev_dot)
				return fail(c,
				    "consecutive dots in local part");
			prev_dot = true;
			c->i++;
		} else
			break;
		if (c->i - start > SMTP_LOCAL_MAX)
			return fail(c, "local part too long");
	}
	if (c->i == start) {
		if (ch == -1 || ch == '@' || ch == '>')
			return fail(c, "empty local part");
		return bad_char(c, "invalid character in local part");
	}
	if (prev_dot)
		return fail(c, "local part ends with a dot");
	memcpy(out->local, c->p + start, c->i - start);
	out->local[c->i - start] = '\0';
	return true;
}

static bool
parse_local(struct cur *c, struct smtp_addr *out)
{
	if (at(c, c->i) == '"')
		return parse_quoted(c, out);
	return parse_dot_string(c, out);
}

/* RFC 5321 4.1.3 Snum 3("." Snum), Snum = 1*3DIGIT of value 0..255. */
static bool
is_ipv4(const uint8_t *s, size_t n)
{
	size_t i = 0, parts = 0, digits;
	unsigned v;

	for (;;) {
		v = 0;
		for (digits = 0; i < n && ascii_is_digit(s[i]); i++, digits++) {
			if (digits == 3)
				return false;
			v = v * 10 + (unsigned)(s[i] - '0');
		}
		if (digits == 0 || v > 255)
			return false;
		if (++parts == 4)
			return i == n;
		if (i == n || s[i] != '.')
			return false;
		i++;
	}
}

/* Ldh-str of RFC 5321 4.1.2, used as a Standardized-tag. */
static bool
is_ldh_tag(const uint8_t *s, size_t n)
{
	size_t i;

	if (n == 0 || !ascii_is_alnum(s[0]) || !ascii_is_alnum(s[n - 1]))
		return false;
	for (i = 0; i < n; i++)
		if (!ascii_is_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

/* address-literal, RFC 5321 4.1.3; c->i is at '['. */
static bool
parse_literal(struct cur *c, struct smtp_addr *out)
{
	char tmp[64];
	size_t start = c->i, len, k;
	const uint8_t *s;
	int ch;

	for (c->i++;; c->i++) {
		if (c->i - start + 1 > SMTP_DOMAIN_MAX)
			return fail(c, "domain too long");
		ch = at(c, c->i);
		if (ch == ']')
			break;
		/* dcontent = %d33-90 / %d94-126 */
		if (ch == -1)
			return fail(c, "unterminated address literal");
		if (ch < 33 || ch > 126 || ch == '[' || ch == '\\')
			return bad_char(c,
			    "invalid character in address literal");
	}
	s = c->p + start + 1;
	len = c->i - start - 1;
	c->i++; /* ']' */
	if (len > 5 && ascii_ncasecmp((const char *)s, "IPv6:", 5) == 0) {
		/* inet_pton takes every RFC 4291 2.2 form RFC 5321 lists. */
		if (len - 5 >= sizeof(tmp))
			return fail(c, "invalid IPv6 address literal");
		memcpy(tmp, s + 5, len - 5);
		tmp[len - 5] = '\0';
		if (inet_pton(AF_INET6, tmp, &(struct in6_addr){ 0 }) != 1)
			return fail(c, "invalid IPv6 address literal");
	} else if (len > 0 && ascii_is_digit(s[0])) {
		if (!is_ipv4(s, len))
			return fail(c, "invalid IPv4 address literal");
	} else {
		/*
		 * General-address-literal: the tag must be registered with
		 * IANA (RFC 5321 4.1.3) and only "IPv6" is, so a well-formed
		 * one is still undeliverable.
		 */
		for (k = 0; k < len && s[k] != ':'; k++)
			;
		if (k < len && k + 1 < len && is_ldh_tag(s, k))
			return fail(c, "unsupported address literal tag");
		return fail(c, "invalid address literal");
	}
	memcpy(out->domain, c->p + start, c->i - start);
	out->domain[c->i - start] = '\0';
	out->literal = true;
	return true;
}

static bool
is_label_char(int ch)
{
	return ch >= 0x80 || ascii_is_alnum(ch) || ch == '-';
}

/*
 * Domain (RFC 5321 4.1.2, RFC 1035 2.3.1 LDH labels; RFC 6531 U-labels
 * as raw UTF-8, counted in octets). One trailing dot is accepted and
 * dropped. dst may be NULL (source route domains are only checked).
 */
static bool
parse_domain(struct cur *c, char *dst)
{
	size_t start = c->i, lstart, len, end;
	int ch;

	for (;;) {
		lstart = c->i;
		while (is_label_char(ch = at(c, c->i))) {
			if (ch >= 0x80) {
				if ((len = utf8_char(c)) == 0)
					return false;
				c->i += len;
			} else
				c->i++;
			if (c->i - lstart > SMTP_LABEL_MAX)
				return fail(c, "domain label too long");
		}
		if (c->i == lstart) {
			if (ch == '.')
				return fail(c, "empty label in domain");
			if (c->i == start &&
			    (ch == -1 || ch == '>' || ch == ',' || ch == ':'))
				return fail(c, "missing domain");
			return bad_char(c, "invalid character in domain");
		}
		/* sub-domain = Let-dig [Ldh-str]: no hyphen at either end */
		if (c->p[lstart] == '-' || c->p[c->i - 1] == '-')
			return fail(c, "hyphen at the end of a domain label");
		if (c->i - start > SMTP_DOMAIN_MAX)
			return fail(c, "domain too long");
		end = c->i;
		if (at(c, c->i) != '.')
			break;
		c->i++;
		ch = at(c, c->i);
		if (ch == '.')
			return fail(c, "empty label in domain");
		if (!is_label_char(ch))
			break; /* the trailing dot of a rooted name */
	}
	if (dst != NULL) {
		memcpy(dst, c->p + start, end - start);
		dst[end - start] = '\0';
	}
	return true;
}

static bool
is_postmaster(const struct smtp_addr *a)
{
	return ascii_casecmp(a->local, "postmaster") == 0;
}

static void
set_bare_postmaster(struct smtp_addr *a)
{
	memset(a, 0, sizeof(*a));
	memcpy(a->local, "postmaster", sizeof("postmaster"));
	a->is_postmaster_bare = true;
}

/* Mailbox = Local-part "@" ( Domain / address-literal ), after local. */
static bool
parse_at_domain(struct cur *c, struct smtp_addr *out)
{
	int ch = at(c, c->i);

	if (ch != '@') {
		if (ch == -1 || ch == '>')
			return fail(c, "missing @domain");
		return bad_char(c, "invalid character in local part");
	}
	c->i++;
	if (at(c, c->i) == '[')
		return parse_literal(c, out);
	return parse_domain(c, out->domain);
}

static bool
done(struct cur *c, struct smtp_addr *out, const char **why_out, bool ok)
{
	if (!ok) {
		memset(out, 0, sizeof(*out));
		*why_out = c->why != NULL ? c->why : "invalid address";
		return false;
	}
	out->utf8 = !ascii_only(out->local) || !ascii_only(out->domain);
	*why_out = NULL;
	return true;
}

bool
smtp_path_parse(const char *p, size_t n, unsigned flags, struct smtp_addr *out,
    size_t *used_out, const char **why_out)
{
	struct cur c = { (const uint8_t *)p, n, 0, flags, NULL };
	bool route = false;
	int ch;

	memset(out, 0, sizeof(*out));
	*used_out = 0;
	if (at(&c, 0) != '<')
		return done(&c, out, why_out,
		    fail(&c, "address must be in <>"));
	c.i = 1;
	if (at(&c, 1) == '>') {
		if (!(flags & SMTP_ADDR_NULL_OK))
			return done(&c, out, why_out,
			    fail(&c, "null address not allowed"));
		out->is_null = true;
		*used_out = 2;
		return done(&c, out, why_out, true);
	}
	/* A-d-l = At-domain *( "," At-domain ), RFC 5321 4.1.2 */
	while (at(&c, c.i) == '@') {
		route = true;
		c.i++;
		if (!parse_domain(&c, NULL))
			return done(&c, out, why_out, false);
		if (c.i + 1 > SMTP_PATH_MAX)
			return done(&c, out, why_out,
			    fail(&c, "address too long"));
		ch = at(&c, c.i);
		if (ch == ':') {
			c.i++;
			break;
		}
		if (ch != ',' || at(&c, c.i + 1) != '@')
			return done(&c, out, why_out,
			    fail(&c, "invalid source route"));
		c.i++;
	}
	if (!parse_local(&c, out))
		return done(&c, out, why_out, false);
	/* RFC 5321 4.1.1.3: "<Postmaster>" without a domain, any case. */
	if (at(&c, c.i) == '>' && !route && (flags & SMTP_ADDR_POSTMASTER_OK) &&
	    is_postmaster(out)) {
		c.i++;
		set_bare_postmaster(out);
		*used_out = c.i;
		return done(&c, out, why_out, true);
	}
	if (!parse_at_domain(&c, out))
		return done(&c, out, why_out, false);
	if (at(&c, c.i) != '>')
		return done(&c, out, why_out,
		    bad_char(&c, at(&c, c.i) == -1
		                     ? "missing >"
		                     : "invalid character in domain"));
	c.i++;
	if (c.i > SMTP_PATH_MAX)
		return done(&c, out, why_out, fail(&c, "address too long"));
	*used_out = c.i;
	return done(&c, out, why_out, true);
}

bool
smtp_mailbox_parse(const char *p, size_t n, unsigned flags,
    struct smtp_addr *out, const char **why_out)
{
	struct cur c = { (const uint8_t *)p, n, 0, flags, NULL };

	memset(out, 0, sizeof(*out));
	if (n == 0) {
		if (!(flags & SMTP_ADDR_NULL_OK))
			return done(&c, out, why_out,
			    fail(&c, "empty address"));
		out->is_null = true;
		return done(&c, out, why_out, true);
	}
	if (!parse_local(&c, out))
		return done(&c, out, why_out, false);
	if (c.i == n && (flags & SMTP_ADDR_POSTMASTER_OK) &&
	    is_postmaster(out)) {
		set_bare_postmaster(out);
		return done(&c, out, why_out, true);
	}
	if (!parse_at_domain(&c, out))
		return done(&c, out, why_out, false);
	if (c.i != n)
		return done(&c, out, why_out,
		    bad_char(&c, "invalid character in domain"));
	return done(&c, out, why_out, true);
}

int
smtp_addr_format(const struct smtp_addr *a, char *dst, size_t dstsz)
{
	int n;

	if (a->is_null)
		n = snprintf(dst, dstsz, "%s", "");
	else if (a->is_postmaster_bare)
		n = snprintf(dst, dstsz, "%s", "postmaster");
	else
		n = snprintf(dst, dstsz, "%s@%s", a->local, a->domain);
	if (n < 0 || (size_t)n >= dstsz) {
		if (dstsz > 0)
			dst[0] = '\0';
		return -1;
	}
	return n;
}
