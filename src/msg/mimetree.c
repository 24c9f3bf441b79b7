/* SPDX-License-Identifier: ISC */
/*
 * msg/mimetree.c - the MIME structure of a message (see mimetree.h).
 *
 * Headers are split with msg/hdr.c (where a part's header ends) and
 * msg/field.c (one field); this file only reads the three MIME fields.
 * Trust: hostile bytes; every index is checked against its range before
 * use, recursion is capped at MIMETREE_DEPTH_MAX and keeps no large
 * buffer in its frame, the part array at MIMETREE_PARTS_MAX.
 */
#include "msg/mimetree.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg/field.h"
#include "msg/hdr.h"
#include "util/str.h"
#include "util/utf8.h"

/* RFC 2046 5.1.1 allows 70; senders exceed it, so keep a little more. */
#define BOUNDARY_MAX 200
#define PARAM_MAX 1024    /* raw bytes of one parameter value we look at */
#define SEGMENTS_MAX 64   /* RFC 2231 3 continuations followed */
#define WORD_TEXT_MAX 256 /* an RFC 2047 word's text (75 by the RFC) */

struct ctx {
	const char *m;
	struct mime_tree *t;
	size_t cap;
};

/* ---- small helpers ---------------------------------------------- */

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 2045 5.1 tspecials, plus space and controls: not in a token. */
static bool
is_token(char c)
{
	unsigned char u = (unsigned char)c;

	return u > 0x20 && u < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* Skip blanks (folding included) and comments, RFC 5322 3.2.2 CFWS. */
static size_t
skip_cfws(const char *v, size_t n, size_t i)
{
	size_t depth;

	while (i < n) {
		if (is_blank(v[i])) {
			i++;
			continue;
		}
		if (v[i] != '(')
			break;
		for (depth = 0; i < n; i++) {
			if (v[i] == '\\' && i + 1 < n)
				i++;
			else if (v[i] == '(')
				depth++;
			else if (v[i] == ')' && --depth == 0) {
				i++;
				break;
			}
		}
	}
	return i;
}

static size_t
token_end(const char *v, size_t n, size_t i)
{
	while (i < n && is_token(v[i]))
		i++;
	return i;
}

/* Copy s[0..n) lowercased into dst[dsz]; false (dst "") if it won't fit. */
static bool
copy_lower(char *dst, size_t dsz, const char *s, size_t n)
{
	size_t i;

	if (n >= dsz) {
		dst[0] = '\0';
		return false;
	}
	for (i = 0; i < n; i++)
		dst[i] = (char)ascii_lower(s[i]);
	dst[n] = '\0';
	return true;
}

/* ---- charsets ----------------------------------------------------- */

enum cs { CS_UTF8, CS_ASCII, CS_LATIN1, CS_1252 };

static enum cs
charset_kind(const char *cs, size_t n)
{
	static const struct {
		const char *name;
		enum cs kind;
	} names[] = {
		{ "us-ascii", CS_ASCII },
		{ "ascii", CS_ASCII },
		{ "iso-8859-1", CS_LATIN1 },
		{ "iso8859-1", CS_LATIN1 },
		{ "iso_8859-1", CS_LATIN1 },
		{ "latin1", CS_LATIN1 },
		{ "l1", CS_LATIN1 },
		{ "windows-1252", CS_1252 },
		{ "cp1252", CS_1252 },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == n &&
		    ascii_ncasecmp(cs, names[i].name, n) == 0)
			return names[i].kind;
	return CS_UTF8;
}

/* windows-1252 0x80..0x9f; 0: undefined there. */
static const uint16_t cp1252[32] = {
	0x20ac,
	0,
	0x201a,
	0x0192,
	0x201e,
	0x2026,
	0x2020,
	0x2021,
	0x02c6,
	0x2030,
	0x0160,
	0x2039,
	0x0152,
	0,
	0x017d,
	0,
	0,
	0x2018,
	0x2019,
	0x201c,
	0x201d,
	0x2022,
	0x2013,
	0x2014,
	0x02dc,
	0x2122,
	0x0161,
	0x203a,
	0x0153,
	0,
	0x017e,
	0x0178,
};

static int
put_cp(struct buf *b, uint32_t cp)
{
	uint8_t u[4];
	size_t k;

	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		k = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		k = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f));
		k = 3;
	} else {
		u[0] = (uint8_t)(0xf0 | cp >> 18);
		u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (uint8_t)(0x80 | (cp & 0x3f));
		k = 4;
	}
	return buf_append(b, u, k);
}

#define REPLACEMENT 0xfffd

static int
utf8_copy(const uint8_t *p, size_t n, struct buf *out)
{
	size_t i = 0, run = 0, k;
	uint32_t cp;

	if (n == 0) /* p may be an empty buf's NULL */
		return 0;
	while (i < n) {
		k = utf8_decode(p + i, n - i, &cp);
		if (k > 0 && cp != 0) {
			i += k;
			continue;
		}
		/* Flush the good run, then one U+FFFD for the bad byte. */
		if (buf_append(out, p + run, i - run) == -1 ||
		    put_cp(out, REPLACEMENT) == -1)
			return -1;
		run = ++i;
	}
	return buf_append(out, p + run, n - run);
}

static int
to_utf8(enum cs kind, const uint8_t *p, size_t n, struct buf *out)
{
	uint32_t cp;
	size_t i;

	if (kind == CS_UTF8)
		return utf8_copy(p, n, out);
	for (i = 0; i < n; i++) {
		cp = p[i];
		if (cp == 0 || (kind == CS_ASCII && cp >= 0x80))
			cp = REPLACEMENT;
		else if (kind == CS_1252 && cp >= 0x80 && cp < 0xa0)
			cp = cp1252[cp - 0x80] != 0 ? cp1252[cp - 0x80]
			                            : REPLACEMENT;
		if (put_cp(out, cp) == -1)
			return -1;
	}
	return 0;
}

int
mimetree_to_utf8(const char *charset, const char *p, size_t n, struct buf *out)
{
	return to_utf8(charset_kind(charset, strlen(charset)),
	    (const uint8_t *)p, n, out);
}

/* ---- RFC 2047 encoded-words --------------------------------------- */

struct word {
	const char *cs; /* charset, without an RFC 2231 5 "*lang" */
	size_t cslen;
	char enc; /* 'b' or 'q' */
	const char *text;
	size_t tlen;
	size_t len; /* of the whole "=?...?=" */
};

/* Is p[0..n) the start of an encoded-word "=?cs?e?text?=" (RFC 2047 2)? */
static bool
word_at(const char *p, size_t n, struct word *w)
{
	size_t i = 2, cs_end, t;

	if (n < 8 || p[0] != '=' || p[1] != '?')
		return false;
	while (i < n && is_token(p[i]) && p[i] != '?')
		i++;
	if (i == 2 || i + 3 >= n || p[i] != '?' || p[i + 2] != '?')
		return false;
	cs_end = i;
	w->enc = (char)ascii_lower(p[i + 1]);
	if (w->enc != 'b' && w->enc != 'q')
		return false;
	t = i + 3;
	for (i = t; i + 1 < n && i - t <= WORD_TEXT_MAX; i++) {
		if (p[i] == '?' && p[i + 1] == '=')
			break;
		if (is_blank(p[i]) || (unsigned char)p[i] < 0x20)
			return false; /* no white space inside a word */
	}
	if (i + 1 >= n || i - t > WORD_TEXT_MAX || p[i] != '?')
		return false;
	w->cs = p + 2;
	w->cslen = cs_end - 2;
	for (t = 0; t < w->cslen && w->cs[t] != '*'; t++)
		;
	w->cslen = t;
	w->text = p + cs_end + 3;
	w->tlen = (size_t)(p + i - w->text);
	w->len = i + 2;
	return true;
}

/* Append the bytes an encoded-word's text stands for (RFC 2047 4). */
static int
word_bytes(const struct word *w, struct buf *raw)
{
	struct mime_part fake;

	if (w->enc == 'b') {
		memset(&fake, 0, sizeof(fake));
		fake.body_len = w->tlen;
		memcpy(fake.encoding, "base64", 7);
		return mimetree_decode(w->text, &fake, raw);
	}
	/* Q: "_" is a space, =XX a byte; anything else as is. */
	for (size_t i = 0; i < w->tlen; i++) {
		uint8_t c = (uint8_t)w->text[i];
		int hi, lo;

		if (c == '_')
			c = ' ';
		else if (c == '=' && i + 2 < w->tlen &&
		         (hi = ascii_hex_value(w->text[i + 1])) >= 0 &&
		         (lo = ascii_hex_value(w->text[i + 2])) >= 0) {
			c = (uint8_t)(hi << 4 | lo);
			i += 2;
		}
		if (buf_append(raw, &c, 1) == -1)
			return -1;
	}
	return 0;
}

struct pending {
	struct buf raw; /* decoded bytes of adjacent words, one charset */
	char cs[64];
};

static int
flush_words(struct pending *pw, struct buf *out)
{
	int r = 0;

	if (pw->raw.len > 0)
		r = to_utf8(charset_kind(pw->cs, strlen(pw->cs)), pw->raw.data,
		    pw->raw.len, out);
	buf_clear(&pw->raw);
	return r;
}

/* Decode one word into pw, flushing first if its charset differs. Words
 * of one charset are joined before conversion: a sender may split a
 * character across two of them. */
static int
add_word(struct pending *pw, const struct word *w, struct buf *out)
{
	char cs[64];

	if (!copy_lower(cs, sizeof(cs), w->cs, w->cslen))
		cs[0] = '\0';
	if (strcmp(cs, pw->cs) != 0) {
		if (flush_words(pw, out) == -1)
			return -1;
		memcpy(pw->cs, cs, sizeof(cs));
	}
	return word_bytes(w, &pw->raw);
}

int
mimetree_words_decode(const char *p, size_t n, struct buf *out)
{
	struct pending pw;
	struct word w;
	size_t i = 0, j, run = 0;
	bool after_word = false;
	int r = -1;

	buf_init(&pw.raw, out->max > 0 ? out->max : 1);
	pw.cs[0] = '\0';
	while (i < n) {
		if (after_word && is_blank(p[i])) {
			/* Blanks between two words are not text (2047 6.2),
			 * folding included. */
			for (j = i; j < n && is_blank(p[j]); j++)
				;
			if (j < n && word_at(p + j, n - j, &w)) {
				i = run = j;
				continue;
			}
			after_word = false;
		}
		if (p[i] == '\r' || p[i] == '\n') {
			/* Unfold: drop the line end, keep what follows. */
			if (flush_words(&pw, out) == -1 ||
			    utf8_copy((const uint8_t *)p + run, i - run, out) ==
			        -1)
				goto done;
			run = ++i;
			continue;
		}
		if (!word_at(p + i, n - i, &w)) {
			after_word = false;
			i++;
			continue;
		}
		if (i > run && (flush_words(&pw, out) == -1 ||
		                   utf8_copy((const uint8_t *)p + run, i - run,
		                       out) == -1))
			goto done;
		if (add_word(&pw, &w, out) == -1)
			goto done;
		i += w.len;
		run = i;
		after_word = true;
	}
	if (flush_words(&pw, out) == -1 ||
	    utf8_copy((const uint8_t *)p + run, n - run, out) == -1)
		goto done;
	r = 0;
done:
	buf_reset(&pw.raw);
	return r;
}

/* ---- transfer encodings --------------------------------------------- */

struct sink {
	struct buf *out;
	uint8_t chunk[512];
	size_t n;
};

static int
sink_put(struct sink *s, uint8_t c)
{
	if (s->n == sizeof(s->chunk)) {
		if (buf_append(s->out, s->chunk, s->n) == -1)
			return -1;
		s->n = 0;
	}
	s->chunk[s->n++] = c;
	return 0;
}

static int
sink_flush(struct sink *s)
{
	int r = buf_append(s->out, s->chunk, s->n);

	s->n = 0;
	return r;
}

static int
decode_b64(const uint8_t *p, size_t n, struct sink *s)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t i;
	int v;

	for (i = 0; i < n; i++) {
		if (p[i] == '=') {
			/* Padding ends a group; what follows (a second
			 * encoded block glued on) starts afresh. */
			acc = 0;
			bits = 0;
			continue;
		}
		if ((v = ascii_b64_value(p[i])) < 0)
			continue; /* line ends and junk: RFC 2045 6.8 */
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (sink_put(s, (uint8_t)(acc >> bits)) == -1)
				return -1;
		}
	}
	return 0;
}

/* One quoted-printable line p[0..n), no line end (RFC 2045 6.7). */
static int
qp_line(const uint8_t *p, size_t n, bool *soft, struct sink *s)
{
	size_t i;
	int hi, lo;

	while (
	    n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
		n--; /* rule 3: trailing blanks are transport padding */
	*soft = n > 0 && p[n - 1] == '=';
	if (*soft)
		n--;
	for (i = 0; i < n; i++) {
		uint8_t c = p[i];

		/* =XX is a byte; a '=' not followed by two hex digits is
		 * kept as is (lenient, RFC 2045 6.7 note). */
		if (c == '=' && i + 2 < n &&
		    (hi = ascii_hex_value((char)p[i + 1])) >= 0 &&
		    (lo = ascii_hex_value((char)p[i + 2])) >= 0) {
			c = (uint8_t)(hi << 4 | lo);
			i += 2;
		}
		if (sink_put(s, c) == -1)
			return -1;
	}
	return 0;
}

static int
decode_qp(const uint8_t *p, size_t n, struct sink *s)
{
	const uint8_t *nl;
	size_t i = 0, le;
	bool soft;

	while (i < n) {
		nl = memchr(p + i, '\n', n - i);
		le = nl != NULL ? (size_t)(nl - p) : n;
		if (qp_line(p + i, le - i, &soft, s) == -1)
			return -1;
		if (nl != NULL && !soft) {
			/* Keep the line end the message had. */
			if ((le > i && p[le - 1] == '\r' &&
			        sink_put(s, '\r') == -1) ||
			    sink_put(s, '\n') == -1)
				return -1;
		}
		i = nl != NULL ? le + 1 : n;
	}
	return 0;
}

int
mimetree_decode(const char *msg, const struct mime_part *p, struct buf *out)
{
	const uint8_t *b = (const uint8_t *)msg + p->body_off;
	struct sink s = { .out = out, .n = 0 };
	int r;

	if (strcmp(p->encoding, "base64") == 0)
		r = decode_b64(b, p->body_len, &s);
	else if (strcmp(p->encoding, "quoted-printable") == 0)
		r = decode_qp(b, p->body_len, &s);
	else
		return buf_append(out, b, p->body_len);
	if (r == -1)
		return -1;
	return sink_flush(&s);
}

/* ---- parameters (RFC 2045 5.1, RFC 2231) ---------------------------- */

struct param {
	const char *attr, *val;
	size_t alen, vlen;
	bool quoted;
};

/*
 * The next "; attribute = value" of v[0..n) from *i on. Junk up to the
 * next ';' is skipped, so one bad parameter does not hide the rest.
 */
static bool
next_param(const char *v, size_t n, size_t *i, struct param *pm)
{
	size_t k = *i, e;
	bool in_q;

	for (;;) {
		for (in_q = false; k < n && (in_q || v[k] != ';'); k++) {
			if (v[k] == '"')
				in_q = !in_q;
			else if (v[k] == '\\' && in_q && k + 1 < n)
				k++;
		}
		if (k >= n)
			return false;
		k = skip_cfws(v, n, k + 1);
		e = token_end(v, n, k);
		pm->attr = v + k;
		pm->alen = e - k;
		k = skip_cfws(v, n, e);
		if (pm->alen == 0 || k >= n || v[k] != '=')
			continue;
		k = skip_cfws(v, n, k + 1);
		pm->quoted = k < n && v[k] == '"';
		if (pm->quoted) {
			pm->val = v + ++k;
			for (; k < n && v[k] != '"'; k++)
				if (v[k] == '\\' && k + 1 < n)
					k++;
			pm->vlen = (size_t)(v + k - pm->val);
			if (k < n)
				k++;
		} else {
			e = token_end(v, n, k);
			pm->val = v + k;
			pm->vlen = e - k;
			k = e;
		}
		*i = k;
		return true;
	}
}

/* The parameter attribute `attr` (any case) of v[0..n), first one. */
static bool
find_param(const char *v, size_t n, const char *attr, struct param *pm)
{
	size_t i = 0, al = strlen(attr);

	while (next_param(v, n, &i, pm))
		if (pm->alen == al && ascii_ncasecmp(pm->attr, attr, al) == 0)
			return true;
	return false;
}

/* A plain value's bytes: a quoted-string unquoted, folding dropped. */
static int
plain_bytes(const struct param *pm, struct buf *raw)
{
	size_t i;

	for (i = 0; i < pm->vlen; i++) {
		if (pm->val[i] == '\r' || pm->val[i] == '\n')
			continue;
		if (pm->quoted && pm->val[i] == '\\' && i + 1 < pm->vlen)
			i++;
		if (buf_append(raw, pm->val + i, 1) == -1)
			return -1;
	}
	return 0;
}

/* An RFC 2231 extended value: %XX decoded; with `first`, the
 * charset'language' prefix goes to cs[64]. */
static int
ext_bytes(const struct param *pm, bool first, char *cs, struct buf *raw)
{
	const char *p = pm->val, *q1, *q2;
	size_t n = pm->vlen, i;
	int hi, lo;
	uint8_t c;

	if (first) {
		q1 = memchr(p, '\'', n);
		q2 = q1 != NULL ? memchr(q1 + 1, '\'', n - (size_t)(q1 + 1 - p))
		                : NULL;
		if (q2 != NULL) {
			if (!copy_lower(cs, 64, p, (size_t)(q1 - p)))
				cs[0] = '\0';
			n -= (size_t)(q2 + 1 - p);
			p = q2 + 1;
		}
	}
	for (i = 0; i < n; i++) {
		c = (uint8_t)p[i];
		if (c == '%' && i + 2 < n && (hi = ascii_hex_value(p[i + 1])) >= 0 &&
		    (lo = ascii_hex_value(p[i + 2])) >= 0) {
			c = (uint8_t)(hi << 4 | lo);
			i += 2;
		}
		if (buf_append(raw, &c, 1) == -1)
			return -1;
	}
	return 0;
}

struct seg {
	struct param pm;
	bool set, ext;
};

/*
 * Sort a parameter of `name` into its slot: the plain one, the
 * extended one ("name*") or an RFC 2231 3 continuation ("name*N",
 * "name*N*"). The first of each wins.
 */
static void
sort_param(const struct param *pm, size_t nl, struct seg *plain,
    struct seg *ext, struct seg *seg)
{
	const char *r = pm->attr + nl;
	size_t rl = pm->alen - nl, j, idx = 0;
	struct seg *s;

	if (rl == 0) {
		s = plain;
	} else if (r[0] != '*') {
		return;
	} else if (rl == 1) {
		s = ext;
	} else {
		for (j = 1; j < rl && ascii_is_digit(r[j]); j++) {
			idx = idx * 10 + (size_t)(r[j] - '0');
			if (idx >= SEGMENTS_MAX)
				return;
		}
		if (j == 1 || (j < rl && (r[j] != '*' || j + 1 != rl)))
			return;
		s = &seg[idx];
		s->ext = j < rl;
	}
	if (!s->set) {
		s->pm = *pm;
		s->set = true;
	}
}

/*
 * The value of parameter `name` of v[0..n) as UTF-8, appended to out:
 * RFC 2231 continuations and extended values first, else a plain
 * name= whose RFC 2047 encoded-words (not allowed there, but common)
 * are decoded. false if there is none. A value over PARAM_MAX bytes is
 * cut; a failed append only shortens it.
 */
static bool
get_param(const char *v, size_t n, const char *name, struct buf *out)
{
	struct seg seg[SEGMENTS_MAX], plain, ext;
	struct param pm;
	struct buf raw;
	char cs[64] = "";
	size_t i = 0, nl = strlen(name);
	bool found = false;

	memset(seg, 0, sizeof(seg));
	memset(&plain, 0, sizeof(plain));
	memset(&ext, 0, sizeof(ext));
	while (next_param(v, n, &i, &pm))
		if (pm.alen >= nl && ascii_ncasecmp(pm.attr, name, nl) == 0)
			sort_param(&pm, nl, &plain, &ext, seg);
	buf_init(&raw, PARAM_MAX);
	for (i = 0; i < SEGMENTS_MAX && seg[i].set; i++) {
		found = true;
		if ((seg[i].ext ? ext_bytes(&seg[i].pm, i == 0, cs, &raw)
		                : plain_bytes(&seg[i].pm, &raw)) == -1)
			break;
	}
	if (!found && ext.set) {
		found = true;
		(void)ext_bytes(&ext.pm, true, cs, &raw);
	}
	if (found) {
		(void)to_utf8(charset_kind(cs, strlen(cs)), raw.data, raw.len,
		    out);
	} else if (plain.set) {
		found = true;
		(void)plain_bytes(&plain.pm, &raw);
		if (raw.len > 0)
			(void)mimetree_words_decode((const char *)raw.data,
			    raw.len, out);
	}
	buf_reset(&raw);
	return found;
}

/* Copy UTF-8 u into dst[dsz] whole characters only; controls and the
 * code points that hide or reorder text (util/utf8.h) become '?'. */
static void
set_filename(char *dst, size_t dsz, const struct buf *u)
{
	size_t i = 0, k, o = 0;
	uint32_t cp;

	while (i < u->len) {
		k = utf8_decode(u->data + i, u->len - i, &cp);
		if (k == 0 || cp < 0x20 || cp == 0x7f || utf8_is_hidden(cp)) {
			if (k == 0)
				k = 1;
			if (o + 1 >= dsz)
				break;
			dst[o++] = '?';
		} else {
			if (o + k >= dsz)
				break;
			memcpy(dst + o, u->data + i, k);
			o += k;
		}
		i += k;
	}
	dst[o] = '\0';
}

/* ---- the three MIME fields ----------------------------------------- */

/* Content-Type: type "/" subtype *(";" parameter), RFC 2045 5.1. */
static void
read_ctype(const char *v, size_t n, struct mime_part *p, char *boundary,
    struct buf *name)
{
	size_t i, e1, s2, e2, tl;
	struct param pm;
	struct buf b;

	i = skip_cfws(v, n, 0);
	e1 = token_end(v, n, i);
	s2 = skip_cfws(v, n, e1);
	if (e1 > i && s2 < n && v[s2] == '/') {
		s2 = skip_cfws(v, n, s2 + 1);
		e2 = token_end(v, n, s2);
		tl = e1 - i;
		if (e2 > s2 && tl + 1 + (e2 - s2) < sizeof(p->type)) {
			copy_lower(p->type, sizeof(p->type), v + i, tl);
			p->type[tl] = '/';
			copy_lower(p->type + tl + 1, sizeof(p->type) - tl - 1,
			    v + s2, e2 - s2);
		}
	}
	buf_init(&b, sizeof(p->charset) - 1);
	if (get_param(v, n, "charset", &b) &&
	    !copy_lower(p->charset, sizeof(p->charset), (const char *)b.data,
	        b.len))
		p->charset[0] = '\0';
	buf_reset(&b);
	/* The boundary is matched byte for byte: no decoding. */
	buf_init(&b, BOUNDARY_MAX);
	if (find_param(v, n, "boundary", &pm) && plain_bytes(&pm, &b) == 0 &&
	    b.len > 0 && memchr(b.data, '\0', b.len) == NULL)
		memcpy(boundary, b.data, b.len + 1);
	buf_reset(&b);
	(void)get_param(v, n, "name", name);
}

/* Content-Disposition: type *(";" parameter), RFC 2183 2. */
static void
read_disposition(const char *v, size_t n, struct mime_part *p,
    struct buf *filename)
{
	size_t i = skip_cfws(v, n, 0), e = token_end(v, n, i);

	p->attachment =
	    e - i == 10 && ascii_ncasecmp(v + i, "attachment", 10) == 0;
	(void)get_param(v, n, "filename", filename);
}

static void
read_encoding(const char *v, size_t n, struct mime_part *p)
{
	size_t i = skip_cfws(v, n, 0), e = token_end(v, n, i);

	if (e > i &&
	    !copy_lower(p->encoding, sizeof(p->encoding), v + i, e - i))
		memcpy(p->encoding, "7bit", 5);
}

/* The MIME fields of header h[0..n); the first of each counts. */
static void
read_fields(const char *h, size_t n, struct mime_part *p, char *boundary)
{
	bool ct = false, cd = false, cte = false;
	struct buf fname, name;
	const char *v;
	size_t f, fl, vl;

	buf_init(&fname, sizeof(p->filename) * 4);
	buf_init(&name, sizeof(p->filename) * 4);
	for (f = 0; f < n; f += fl) {
		fl = msg_field_len(h + f, n - f);
		if (!ct && msg_field_is(h + f, fl, "Content-Type")) {
			ct = true;
			v = msg_field_value(h + f, fl, &vl);
			read_ctype(v, vl, p, boundary, &name);
		} else if (!cd &&
		           msg_field_is(h + f, fl, "Content-Disposition")) {
			cd = true;
			v = msg_field_value(h + f, fl, &vl);
			read_disposition(v, vl, p, &fname);
		} else if (!cte && msg_field_is(h + f, fl,
		                       "Content-Transfer-Encoding")) {
			cte = true;
			v = msg_field_value(h + f, fl, &vl);
			read_encoding(v, vl, p);
		}
	}
	set_filename(p->filename, sizeof(p->filename),
	    fname.len > 0 ? &fname : &name);
	buf_reset(&fname);
	buf_reset(&name);
}

/* ---- the tree ------------------------------------------------------- */

/* Where the header of p[0..n) ends (*hl) and its body starts (*bo). */
static void
split_header(const char *p, size_t n, size_t *hl, size_t *bo)
{
	struct msg_hdr_scan h;
	size_t e;

	msg_hdr_scan_init(&h);
	if (n > 0)
		msg_hdr_scan_feed(&h, (const uint8_t *)p, n);
	if (!h.in_body) { /* header only */
		*hl = *bo = n;
		return;
	}
	e = h.header_bytes;
	*hl = e;
	if (e + 1 < n && p[e] == '\r' && p[e + 1] == '\n')
		*bo = e + 2;
	else if (e < n && p[e] == '\n')
		*bo = e + 1;
	else
		*bo = e; /* a line that is no field starts the body */
}

/*
 * Is line l[0..n) (no LF) a delimiter "--boundary" or, *close, the
 * close delimiter "--boundary--"? Blanks may follow (RFC 2046 5.1.1
 * transport padding); anything else means it is not one.
 */
static bool
is_delim(const char *l, size_t n, const char *b, size_t bl, bool *close)
{
	size_t i = 2 + bl;

	if (n < i || l[0] != '-' || l[1] != '-' || memcmp(l + 2, b, bl) != 0)
		return false;
	*close = i + 1 < n && l[i] == '-' && l[i + 1] == '-';
	if (*close)
		i += 2;
	for (; i < n; i++)
		if (l[i] != ' ' && l[i] != '\t' && l[i] != '\r')
			return false;
	return true;
}

static int parse_part(struct ctx *c, size_t off, size_t end, int parent,
    int depth, bool in_digest);

/* The children of multipart part[idx], between its delimiters. */
static int
split_multipart(struct ctx *c, size_t idx, const char *b)
{
	const struct mime_part *mp = &c->t->part[idx];
	const char *m = c->m, *nl;
	size_t bl = strlen(b), pos = mp->body_off, be = pos + mp->body_len;
	size_t le, next, start = 0, pe;
	bool started = false, close = false;
	bool digest = strcmp(mp->type, "multipart/digest") == 0;
	int depth = mp->depth + 1;

	for (; pos < be; pos = next) {
		nl = memchr(m + pos, '\n', be - pos);
		le = nl != NULL ? (size_t)(nl - m) : be;
		next = nl != NULL ? le + 1 : be;
		if (!is_delim(m + pos, le - pos, b, bl, &close))
			continue;
		if (started) {
			/* The line end before a delimiter is part of it. */
			pe = pos;
			if (pe > start && m[pe - 1] == '\n') {
				pe--;
				if (pe > start && m[pe - 1] == '\r')
					pe--;
			}
			if (parse_part(c, start, pe, (int)idx, depth, digest) ==
			    -1)
				return -1;
		}
		if (close)
			return 0;
		started = true;
		start = next;
	}
	if (started && parse_part(c, start, be, (int)idx, depth, digest) == -1)
		return -1;
	c->t->part[idx].unclosed = true;
	c->t->unclosed_multipart = true;
	return 0;
}

static int
grow(struct ctx *c)
{
	struct mime_part *np;
	size_t ncap;

	if (c->t->n < c->cap)
		return 0;
	ncap = c->cap == 0 ? 8 : c->cap * 2;
	if (ncap > MIMETREE_PARTS_MAX)
		ncap = MIMETREE_PARTS_MAX;
	np = realloc(c->t->part, ncap * sizeof(*np));
	if (np == NULL)
		return -1;
	c->t->part = np;
	c->cap = ncap;
	return 0;
}

static int
parse_part(struct ctx *c, size_t off, size_t end, int parent, int depth,
    bool in_digest)
{
	char boundary[BOUNDARY_MAX + 1] = "";
	struct mime_part *p;
	size_t idx, hl, bo;

	if (c->t->n >= MIMETREE_PARTS_MAX) {
		c->t->truncated = true;
		return 0;
	}
	if (grow(c) == -1)
		return -1;
	idx = c->t->n++;
	p = &c->t->part[idx];
	memset(p, 0, sizeof(*p));
	p->parent = parent;
	p->depth = depth;
	split_header(c->m + off, end - off, &hl, &bo);
	p->hdr_off = off;
	p->hdr_len = hl;
	p->body_off = off + bo;
	p->body_len = end - off - bo;
	/* RFC 2045 5.2, RFC 2046 5.1.5: the defaults. */
	memcpy(p->type, in_digest ? "message/rfc822" : "text/plain",
	    in_digest ? 15 : 11);
	memcpy(p->encoding, "7bit", 5);
	read_fields(c->m + off, hl, p, boundary);
	if (strncmp(p->type, "multipart/", 10) != 0 || boundary[0] == '\0')
		return 0;
	if (depth >= MIMETREE_DEPTH_MAX) {
		c->t->truncated = true;
		return 0;
	}
	return split_multipart(c, idx, boundary);
}

int
mimetree_parse(const char *msg, size_t len, struct mime_tree *out)
{
	struct ctx c = { .m = msg != NULL ? msg : "", .t = out, .cap = 0 };

	memset(out, 0, sizeof(*out));
	if (msg == NULL)
		len = 0;
	if (parse_part(&c, 0, len, -1, 0, false) == -1) {
		mimetree_free(out);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void
mimetree_free(struct mime_tree *t)
{
	if (t == NULL)
		return;
	free(t->part);
	memset(t, 0, sizeof(*t));
}
