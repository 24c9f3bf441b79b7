/* SPDX-License-Identifier: ISC */
/*
 * msg/lint.c - the "problems" rules (see lint.h).
 *
 * One pass over the bytes for the line rules, one walk of the top-level
 * header (msg/field.c) for the header rules, the MIME tree
 * (msg/mimetree.c) for the structure rules.
 * Trust: hostile bytes; what goes into `detail` is escaped here.
 */
#include "msg/lint.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "msg/field.h"
#include "msg/hdr.h"
#include "msg/mimetree.h"
#include "util/str.h"

#define LINE_MAX_OCTETS 998 /* RFC 5322 2.1.1, CRLF excluded */
#define NAME_SHOWN 40       /* bytes of a field name put in a detail */

struct sink {
	struct lint_problem *out;
	size_t max, n;
};

static void add(struct sink *s, const char *rule, const char *ref,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
add(struct sink *s, const char *rule, const char *ref, const char *fmt, ...)
{
	struct lint_problem *p;
	va_list ap;
	int r;

	if (s->n++ >= s->max)
		return;
	p = &s->out[s->n - 1];
	p->rule = rule;
	p->ref = ref;
	va_start(ap, fmt);
	r = vsnprintf(p->detail, sizeof(p->detail), fmt, ap);
	va_end(ap);
	if (r < 0)
		p->detail[0] = '\0';
	/* Longer details are cut: every part of them is ASCII already. */
}

/*
 * p[0..n) as printable ASCII in dst[dsz]: '\\' and bytes outside
 * 0x20..0x7e as \xHH, at most `shown` input bytes, "..." if cut.
 */
static const char *
esc(char *dst, size_t dsz, const char *p, size_t n, size_t shown)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;
	unsigned char c;

	for (i = 0; i < n && i < shown; i++) {
		c = (unsigned char)p[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= dsz)
				break;
			dst[o++] = (char)c;
			continue;
		}
		if (o + 4 >= dsz)
			break;
		dst[o++] = '\\';
		dst[o++] = 'x';
		dst[o++] = hex[c >> 4];
		dst[o++] = hex[c & 15];
	}
	if (i < n && o + 3 < dsz) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return dst;
}

/* 1 + the LFs before off: the line number a person counts. */
static size_t
line_of(const char *m, size_t off)
{
	size_t i, line = 1;

	for (i = 0; i < off; i++)
		if (m[i] == '\n')
			line++;
	return line;
}

/* ---- line rules ----------------------------------------------------- */

struct first {
	size_t count, line, len;
};

static void
note(struct first *f, size_t line, size_t len)
{
	if (f->count++ == 0) {
		f->line = line;
		f->len = len;
	}
}

static void
lint_lines(const char *m, size_t n, struct sink *s)
{
	struct first lf = { 0 }, cr = { 0 }, lng = { 0 };
	size_t i, line = 1, start = 0, l;

	for (i = 0; i < n; i++) {
		if (m[i] == '\r' && (i + 1 >= n || m[i + 1] != '\n'))
			note(&cr, line, 0);
		if (m[i] != '\n')
			continue;
		l = i - start; /* the line's octets, CRLF excluded */
		if (l > 0 && m[i - 1] == '\r')
			l--;
		else
			note(&lf, line, 0);
		if (l > LINE_MAX_OCTETS)
			note(&lng, line, l);
		line++;
		start = i + 1;
	}
	if (n - start > LINE_MAX_OCTETS) /* a last line without a line end */
		note(&lng, line, n - start);
	if (lf.count > 0)
		add(s, "bare-lf", "RFC 5322 2.3",
		    "line %zu ends in LF without CR (%zu such lines)", lf.line,
		    lf.count);
	if (cr.count > 0)
		add(s, "bare-cr", "RFC 5322 2.3",
		    "line %zu has a CR not followed by LF (%zu such CRs)",
		    cr.line, cr.count);
	if (lng.count > 0)
		add(s, "line-too-long", "RFC 5322 2.1.1",
		    "line %zu has %zu octets, over 998 (%zu such lines)",
		    lng.line, lng.len, lng.count);
}

/* ---- header rules --------------------------------------------------- */

struct hdr_facts {
	size_t date, msgid, from, from_line[2];
	bool precedence_bulk, list_id, unsub, unsub_https, unsub_post;
	char precedence[16];
};

static bool
has_8bit(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return true;
	return false;
}

/* Does v[0..n) hold `needle` (ASCII, any case)? */
static bool
contains_ci(const char *v, size_t n, const char *needle)
{
	size_t k = strlen(needle), i;

	for (i = 0; i + k <= n; i++)
		if (ascii_ncasecmp(v + i, needle, k) == 0)
			return true;
	return false;
}

/* v[0..n) without blanks (folding included) at both ends. */
static const char *
trim(const char *v, size_t *n)
{
	while (*n > 0 &&
	       (v[0] == ' ' || v[0] == '\t' || v[0] == '\r' || v[0] == '\n')) {
		v++;
		(*n)--;
	}
	while (*n > 0 && (v[*n - 1] == ' ' || v[*n - 1] == '\t' ||
	                     v[*n - 1] == '\r' || v[*n - 1] == '\n'))
		(*n)--;
	return v;
}

static bool
value_is(const char *v, size_t n, const char *want)
{
	v = trim(v, &n);
	return n == strlen(want) && ascii_ncasecmp(v, want, n) == 0;
}

static void
header_field(const char *m, size_t off, size_t fl, struct hdr_facts *h)
{
	const char *f = m + off, *v;
	size_t vl;

	v = msg_field_value(f, fl, &vl);
	if (msg_field_is(f, fl, "Date")) {
		h->date++;
	} else if (msg_field_is(f, fl, "Message-ID")) {
		h->msgid++;
	} else if (msg_field_is(f, fl, "From")) {
		if (h->from < 2)
			h->from_line[h->from] = line_of(m, off);
		h->from++;
	} else if (msg_field_is(f, fl, "Precedence")) {
		h->precedence_bulk = h->precedence_bulk ||
		                     value_is(v, vl, "bulk") ||
		                     value_is(v, vl, "list");
	} else if (msg_field_is(f, fl, "List-Id")) {
		h->list_id = true;
	} else if (msg_field_is(f, fl, "List-Unsubscribe")) {
		h->unsub = true;
		h->unsub_https =
		    h->unsub_https || contains_ci(v, vl, "<https:");
	} else if (msg_field_is(f, fl, "List-Unsubscribe-Post")) {
		h->unsub_post = h->unsub_post ||
		                value_is(v, vl, "List-Unsubscribe=One-Click");
	}
}

/* The name of field f[0..n): up to ':' or a blank. */
static size_t
name_len(const char *f, size_t n)
{
	size_t i;

	for (i = 0; i < n && f[i] != ':' && f[i] != ' ' && f[i] != '\t' &&
	            f[i] != '\r' && f[i] != '\n';
	     i++)
		;
	return i;
}

struct eight {
	size_t count, line, off, nlen;
	int part;
};

/* Fields of the header m[off..off+n) with raw 8-bit bytes. */
static void
find_8bit(const char *m, size_t off, size_t n, int part, struct eight *e)
{
	size_t f, fl;

	for (f = 0; f < n; f += fl) {
		fl = msg_field_len(m + off + f, n - f);
		if (!has_8bit(m + off + f, fl))
			continue;
		if (e->count++ == 0) {
			e->off = off + f;
			e->nlen = name_len(m + off + f, fl);
			e->line = line_of(m, off + f);
			e->part = part;
		}
	}
}

static void
report_8bit(const char *m, const struct eight *e, struct sink *s)
{
	char name[NAME_SHOWN * 4 + 4];

	esc(name, sizeof(name), m + e->off, e->nlen, NAME_SHOWN);
	if (e->part == 0)
		add(s, "8bit-header", "RFC 6532 / RFC 5322 2.2",
		    "field %s (line %zu) has raw 8-bit bytes (%zu such fields)",
		    name, e->line, e->count);
	else
		add(s, "8bit-header", "RFC 6532 / RFC 5322 2.2",
		    "field %s (line %zu, part %d) has raw 8-bit bytes "
		    "(%zu such fields)",
		    name, e->line, e->part, e->count);
}

static void
lint_header(const char *m, size_t hl, struct sink *s, struct hdr_facts *h)
{
	size_t f, fl;

	for (f = 0; f < hl; f += fl) {
		fl = msg_field_len(m + f, hl - f);
		header_field(m, f, fl, h);
	}
	if (h->date == 0)
		add(s, "no-date", "RFC 5322 3.6",
		    "the header has no Date field");
	if (h->msgid == 0)
		add(s, "no-message-id", "RFC 5322 3.6.4",
		    "the header has no Message-ID field");
	if (h->from == 0)
		add(s, "no-from", "RFC 5322 3.6",
		    "the header has no From field");
	else if (h->from > 1)
		add(s, "several-from", "RFC 5322 3.6",
		    "%zu From fields (lines %zu and %zu); one is allowed",
		    h->from, h->from_line[0], h->from_line[1]);
}

/* ---- MIME rules ----------------------------------------------------- */

static void
lint_mime(const char *m, const struct mime_tree *t, struct sink *s)
{
	char type[sizeof(t->part[0].type) * 4];
	size_t i, html = 0;
	bool has_html = false, has_text = false;
	const struct mime_part *p;

	for (i = 0; i < t->n; i++) {
		p = &t->part[i];
		if (p->unclosed) {
			esc(type, sizeof(type), p->type, strlen(p->type), 60);
			add(s, "unclosed-multipart", "RFC 2046 5.1.1",
			    "part %zu (%s, line %zu) has no closing boundary "
			    "delimiter",
			    i, type, line_of(m, p->hdr_off));
			break;
		}
	}
	for (i = 0; i < t->n; i++) {
		p = &t->part[i];
		if (p->attachment)
			continue;
		if (strcmp(p->type, "text/plain") == 0)
			has_text = true;
		if (strcmp(p->type, "text/html") == 0 && !has_html) {
			has_html = true;
			html = i;
		}
	}
	if (has_html && !has_text)
		add(s, "html-without-text", "RFC 2046 5.1.4",
		    "part %zu is text/html and no part is text/plain", html);
}

/* ---- bulk rules ----------------------------------------------------- */

static void
lint_bulk(size_t nrcpt, const struct hdr_facts *h, struct sink *s)
{
	char why[64];
	int r;

	if (nrcpt >= LINT_BULK_RCPTS)
		r = snprintf(why, sizeof(why), "%zu recipients", nrcpt);
	else if (h->precedence_bulk)
		r = snprintf(why, sizeof(why), "Precedence: bulk or list");
	else if (h->list_id)
		r = snprintf(why, sizeof(why), "a List-Id field");
	else
		return;
	if (r < 0 || (size_t)r >= sizeof(why))
		why[0] = '\0';
	if (!h->unsub)
		add(s, "no-list-unsubscribe", "RFC 8058 / RFC 2369",
		    "bulk mail (%s) without a List-Unsubscribe field", why);
	else if (h->unsub_https && !h->unsub_post)
		add(s, "list-unsubscribe-post-missing", "RFC 8058",
		    "bulk mail (%s) with an https List-Unsubscribe and no "
		    "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
		    why);
}

/* Where the top-level header ends, without the tree (out of memory). */
static size_t
header_len(const char *m, size_t n)
{
	struct msg_hdr_scan h;

	msg_hdr_scan_init(&h);
	if (n > 0)
		msg_hdr_scan_feed(&h, (const uint8_t *)m, n);
	return h.in_body ? h.header_bytes : n;
}

size_t
msg_lint(const char *msg, size_t len, size_t nrcpt, struct lint_problem *out,
    size_t max)
{
	struct sink s = { .out = out, .max = out != NULL ? max : 0, .n = 0 };
	struct hdr_facts h;
	struct eight e;
	struct mime_tree t;
	bool tree;
	size_t i;

	if (msg == NULL) {
		msg = "";
		len = 0;
	}
	memset(&h, 0, sizeof(h));
	memset(&e, 0, sizeof(e));
	tree = mimetree_parse(msg, len, &t) == 0;
	lint_header(msg, tree ? t.part[0].hdr_len : header_len(msg, len), &s,
	    &h);
	lint_lines(msg, len, &s);
	for (i = 0; tree && i < t.n; i++)
		find_8bit(msg, t.part[i].hdr_off, t.part[i].hdr_len, (int)i,
		    &e);
	if (!tree)
		find_8bit(msg, 0, header_len(msg, len), 0, &e);
	if (e.count > 0)
		report_8bit(msg, &e, &s);
	if (tree)
		lint_mime(msg, &t, &s);
	lint_bulk(nrcpt, &h, &s);
	mimetree_free(&t);
	return s.n;
}
