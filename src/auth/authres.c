/* SPDX-License-Identifier: ISC */
/*
 * auth/authres.c - write one Authentication-Results field (RFC 8601 2.2)
 * and recognize received ones that claim our authserv-id (RFC 8601 5).
 *
 * The writer assembles the field from "pieces" (a piece never contains
 * a space, except inside a quoted value) separated by one space; any of
 * those spaces may become CRLF SP, so unfolding (RFC 5322 2.2.3) gives
 * back the same text. Reasons and comments are split at their spaces
 * into several pieces, which is why they are cleaned to single spaces.
 */
#include "auth/authres.h"

#include <errno.h>
#include <string.h>

#include "util/str.h"

#define PIECE_MAX 1024 /* > "header.b=" + a quoted 255-byte value doubled */

struct writer {
	struct buf *out;
	size_t col; /* bytes on the current line so far */
	char piece[PIECE_MAX];
	size_t plen;
	bool have; /* a piece is pending */
	bool full; /* a piece overflowed: a bug in the caps */
	int err;   /* errno of the first buf_append() that failed */
};

static void
emit(struct writer *w, const char *s, size_t n)
{
	if (w->err == 0 && buf_append(w->out, s, n) == -1)
		w->err = errno;
}

static void
flush(struct writer *w)
{
	if (!w->have)
		return;
	if (w->col > 0) {
		/* Fold before a piece that would pass the column limit,
		 * unless it is alone on its line anyway. */
		if (w->col + 1 + w->plen > AUTHRES_LINE_MAX && w->col > 1) {
			emit(w, "\r\n ", 3);
			w->col = 1;
		} else {
			emit(w, " ", 1);
			w->col++;
		}
	}
	emit(w, w->piece, w->plen);
	w->col += w->plen;
	w->plen = 0;
	w->have = false;
}

/* Append to the pending piece (glued, no space). */
static void
add(struct writer *w, const char *s, size_t n)
{
	if (w->plen + n > sizeof(w->piece) ||
	    w->plen + n > AUTHRES_LINE_HARD_MAX - 1) {
		w->full = true;
		return;
	}
	memcpy(w->piece + w->plen, s, n);
	w->plen += n;
	w->have = true;
}

static void
add_str(struct writer *w, const char *s)
{
	add(w, s, strlen(s));
}

/* Start a new piece: the pending one is written first. */
static void
piece(struct writer *w, const char *s)
{
	flush(w);
	add_str(w, s);
}

/* ---- what may be written bare ---- */

static bool
is_atext(unsigned char c)
{
	return ascii_is_alnum(c) ||
	       (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* RFC 2045 token: CHAR except SPACE, CTLs and tspecials. */
static bool
is_token_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* Keyword = ldh-str (RFC 8601 2.2, RFC 5321 4.1.2). */
static bool
is_keyword(const char *s)
{
	size_t i, n = s != NULL ? strlen(s) : 0;

	if (n == 0 || n > 64 || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!ascii_is_alnum(s[i]) && !(i > 0 && s[i] == '-'))
			return false;
	return true;
}

/* dot-atom-text over the chars `ok` allows; at least `labels` labels. */
static bool
is_dotted(const char *s, size_t n, bool (*ok)(unsigned char), size_t labels)
{
	size_t i, len = 0, count = 0;

	for (i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (len == 0)
				return false;
			count++;
			len = 0;
		} else if (!ok((unsigned char)s[i]))
			return false;
		else
			len++;
	}
	return count >= labels;
}

static bool
is_ldh(unsigned char c)
{
	return ascii_is_alnum(c) || c == '-';
}

static bool
is_idchar(unsigned char c)
{
	return ascii_is_alnum(c) || c == '-' || c == '_';
}

/*
 * pvalue without quotes (RFC 8601 2.2): a token, or [local-part] "@"
 * domain-name with a dot-atom local part and a domain of two labels or
 * more (RFC 6376 3.5), or a header.b base64 prefix (atext, no dots).
 */
static bool
is_bare_value(const char *s, size_t n, bool base64)
{
	const char *at;
	size_t i, lp;

	if (n == 0)
		return false;
	for (i = 0; i < n && is_token_char((unsigned char)s[i]); i++)
		;
	if (i == n)
		return true;
	if (base64) {
		for (i = 0; i < n && is_atext((unsigned char)s[i]); i++)
			;
		return i == n;
	}
	if ((at = memchr(s, '@', n)) == NULL)
		return false;
	lp = (size_t)(at - s);
	if (lp > 0 && !is_dotted(s, lp, is_atext, 1))
		return false;
	return is_dotted(at + 1, n - lp - 1, is_ldh, 2);
}

/* ---- cleaning hostile text ---- */

/*
 * Printable ASCII of s into dst (at most AUTHRES_TEXT_MAX bytes): other
 * bytes '?', white space and line breaks one space, none at the ends.
 */
static size_t
clean_text(const char *s, char *dst)
{
	size_t o = 0;
	bool space = false;

	for (; *s != 0 && o < AUTHRES_TEXT_MAX; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			space = o > 0;
			continue;
		}
		if (space && o + 1 < AUTHRES_TEXT_MAX)
			dst[o++] = ' ';
		space = false;
		dst[o++] = c >= 0x21 && c <= 0x7e ? (char)c : '?';
	}
	dst[o] = 0;
	return o;
}

/* The escaped form of one byte inside a quoted-string or a comment. */
static void
add_escaped(struct writer *w, char c, const char *special)
{
	if (strchr(special, c) != NULL)
		add(w, "\\", 1);
	add(w, &c, 1);
}

/*
 * Cleaned text between open and close (`"..."` or `(...)`), a piece per
 * word; the first word is glued to what is pending (e.g. `reason=`).
 */
static void
add_text(struct writer *w, const char *s, char open, char close)
{
	char t[AUTHRES_TEXT_MAX + 1];
	const char *special = open == '"' ? "\\\"" : "\\()";
	size_t i, n = clean_text(s, t);

	add(w, &open, 1);
	for (i = 0; i < n; i++) {
		if (t[i] == ' ') {
			flush(w); /* the next word starts a piece */
			continue;
		}
		add_escaped(w, t[i], special);
	}
	add(w, &close, 1);
}

static bool
has_text(const char *s)
{
	char t[AUTHRES_TEXT_MAX + 1];

	return s != NULL && clean_text(s, t) > 0;
}

/* ptype.prop=value, bare or quoted, as a piece of its own. */
static void
add_prop(struct writer *w, const struct authres_prop *pr, bool quoted)
{
	size_t i, n = strlen(pr->value);

	flush(w);
	add_str(w, pr->ptype);
	add(w, ".", 1);
	add_str(w, pr->prop);
	add(w, "=", 1);
	if (!quoted) {
		add(w, pr->value, n);
		return;
	}
	add(w, "\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)pr->value[i];

		if (c < 0x20 || c > 0x7e)
			c = c == '\t' ? ' ' : '?';
		add_escaped(w, (char)c, "\\\"");
	}
	add(w, "\"", 1);
}

static bool
prop_usable(const struct authres_prop *pr)
{
	return pr->value != NULL && pr->value[0] != 0 &&
	       strlen(pr->value) <= AUTHRES_VALUE_MAX;
}

static bool
prop_is_bare(const struct authres_prop *pr)
{
	return is_bare_value(pr->value, strlen(pr->value),
	    ascii_casecmp(pr->prop, "b") == 0);
}

static bool
result_valid(const struct authres_result *r)
{
	size_t i;

	if (!is_keyword(r->method) || !is_keyword(r->result) ||
	    r->n_props > AUTHRES_PROPS_MAX)
		return false;
	for (i = 0; i < r->n_props; i++)
		if (!is_keyword(r->props[i].ptype) ||
		    !is_keyword(r->props[i].prop))
			return false;
	return true;
}

static void
add_result(struct writer *w, const struct authres_result *r)
{
	size_t i;
	int pass;

	add(w, ";", 1); /* glued to the piece before */
	piece(w, r->method);
	add(w, "=", 1);
	add_str(w, r->result);
	if (has_text(r->comment)) {
		flush(w);
		add_text(w, r->comment, '(', ')');
	}
	if (has_text(r->reason)) {
		piece(w, "reason=");
		add_text(w, r->reason, '"', '"');
	}
	/* Bare values first, quoted ones last (see authres.h). */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < r->n_props; i++)
			if (prop_usable(&r->props[i]) &&
			    prop_is_bare(&r->props[i]) == (pass == 0))
				add_prop(w, &r->props[i], pass == 1);
}

int
authres_write(struct buf *out, const char *authserv_id,
    const struct authres_result *res, size_t n)
{
	struct writer w;
	size_t i, len0 = out->len;

	if (authserv_id == NULL || strlen(authserv_id) > AUTHRES_ID_MAX ||
	    !is_dotted(authserv_id, strlen(authserv_id), is_idchar, 1)) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < n; i++)
		if (!result_valid(&res[i])) {
			errno = EINVAL;
			return -1;
		}
	memset(&w, 0, sizeof(w));
	w.out = out;
	piece(&w, "Authentication-Results:");
	piece(&w, authserv_id);
	for (i = 0; i < n; i++)
		add_result(&w, &res[i]);
	if (n == 0) {
		add(&w, ";", 1);
		piece(&w, "none");
	}
	flush(&w);
	emit(&w, "\r\n", 2);
	if (w.full || w.err != 0) {
		errno = w.full ? EMSGSIZE : w.err;
		out->len = len0; /* all or nothing */
		if (out->data != NULL)
			out->data[len0] = 0;
		return -1;
	}
	return 0;
}

/* ---- recognizing a claimed authserv-id ---- */

/* Skip CFWS from p[*i]; comments nest to any depth (a size_t count). */
static void
skip_cfws(const char *p, size_t n, size_t *i)
{
	size_t depth = 0;

	for (; *i < n; (*i)++) {
		char c = p[*i];

		if (depth > 0 && c == '\\') {
			(*i)++; /* quoted-pair: skip the next byte too */
			continue;
		}
		if (c == '(')
			depth++;
		else if (c == ')' && depth > 0)
			depth--;
		else if (depth == 0 && c != ' ' && c != '\t' && c != '\r' &&
		         c != '\n')
			return;
	}
}

/* An authserv-id written bare: atext, dots, UTF-8 (RFC 6532). */
static bool
is_id_char(unsigned char c)
{
	return is_atext(c) || c == '.' || c >= 0x80;
}

/* The quoted-string at p[*i] == '"' equals id (case-insensitive)? */
static bool
quoted_equals(const char *p, size_t n, size_t i, const char *id, size_t idn)
{
	size_t k = 0;

	for (i++; i < n; i++) {
		char c = p[i];

		if (c == '"')
			return k == idn;
		if (c == '\r' || c == '\n')
			continue; /* folding: unfold */
		if (c == '\\' && ++i >= n)
			return false;
		c = p[i];
		if (k >= idn || ascii_lower(c) != ascii_lower(id[k]))
			return false;
		k++;
	}
	return false; /* unterminated */
}

bool
authres_claims_id(const char *p, size_t n, const char *authserv_id)
{
	size_t i = 0, start, idn = strlen(authserv_id);

	if (idn == 0)
		return false;
	skip_cfws(p, n, &i);
	if (i >= n)
		return false;
	if (p[i] == '"')
		return quoted_equals(p, n, i, authserv_id, idn);
	start = i;
	while (i < n && is_id_char((unsigned char)p[i]))
		i++;
	return i - start == idn &&
	       ascii_ncasecmp(p + start, authserv_id, idn) == 0;
}
