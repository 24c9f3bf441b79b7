/* SPDX-License-Identifier: ISC */
/*
 * auth/dkim_canon.c - DKIM canonicalization (RFC 6376 3.4): header
 * fields one at a time, and the body as a stream into SHA-256.
 * Trust: hostile bytes; the body canonicalizer keeps constant memory
 * (pending empty lines are a count, pending whitespace a flag).
 */
#include "auth/dkim.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dkim-private.h"

/* ---- header fields ---- */

static int
canon_simple(const char *field, size_t n, bool with_crlf, struct buf *out)
{
	bool has_crlf = n >= 2 && field[n - 2] == '\r' && field[n - 1] == '\n';

	if (has_crlf && !with_crlf)
		n -= 2;
	if (buf_append(out, field, n) == -1)
		return -1;
	if (!has_crlf && with_crlf)
		return buf_append(out, "\r\n", 2);
	return 0;
}

/* 3.4.2: unfold, runs of WSP to one SP, none at either end. */
static int
relaxed_value(const char *v, size_t n, struct buf *out)
{
	bool wsp = false, started = false;
	size_t i;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)v[i];

		if (c == '\r' || c == '\n')
			continue;
		if (dkim_is_wsp(c)) {
			wsp = true;
			continue;
		}
		if (wsp && started && buf_append(out, " ", 1) == -1)
			return -1;
		wsp = false;
		started = true;
		if (buf_append(out, &v[i], 1) == -1)
			return -1;
	}
	return 0;
}

static int
canon_relaxed(const char *field, size_t n, bool with_crlf, struct buf *out)
{
	const char *colon = memchr(field, ':', n);
	size_t nl = dkim_field_name(field, n), i;
	char c;

	if (colon == NULL)
		nl = n;
	for (i = 0; i < nl; i++) {
		c = (char)tolower((unsigned char)field[i]);
		if (buf_append(out, &c, 1) == -1)
			return -1;
	}
	if (buf_append(out, ":", 1) == -1)
		return -1;
	if (colon != NULL && relaxed_value(colon + 1,
	                         n - (size_t)(colon + 1 - field), out) == -1)
		return -1;
	return with_crlf ? buf_append(out, "\r\n", 2) : 0;
}

int
dkim_canon_header(enum dkim_canon c, const char *field, size_t n,
    bool with_crlf, struct buf *out)
{
	if (c == DKIM_SIMPLE)
		return canon_simple(field, n, with_crlf, out);
	return canon_relaxed(field, n, with_crlf, out);
}

/* ---- the body ---- */

struct dkim_body {
	enum dkim_canon canon;
	EVP_MD_CTX *md;
	uint64_t limit; /* canonical bytes hashed at most (l=) */
	uint64_t total; /* canonical bytes so far */
	uint64_t crlfs; /* line ends held back: maybe trailing empty lines */
	bool cr;        /* a CR seen, its LF not yet */
	bool wsp;       /* relaxed: whitespace held back */
	bool any;       /* some content emitted */
	bool failed;
};

struct dkim_body *
dkim_body_new(enum dkim_canon canon, uint64_t limit)
{
	struct dkim_body *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->canon = canon;
	b->limit = limit;
	if ((b->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(b->md, EVP_sha256(), NULL) != 1) {
		dkim_body_free(b);
		return NULL;
	}
	return b;
}

void
dkim_body_free(struct dkim_body *b)
{
	if (b == NULL)
		return;
	EVP_MD_CTX_free(b->md);
	free(b);
}

/* Canonical bytes out: hash what is within the limit, count them all. */
static void
emit(struct dkim_body *b, const void *p, size_t n)
{
	uint64_t room = b->total < b->limit ? b->limit - b->total : 0;
	size_t h = room < n ? (size_t)room : n;

	b->total += n;
	if (h > 0 && EVP_DigestUpdate(b->md, p, h) != 1)
		b->failed = true;
}

static void
flush_crlfs(struct dkim_body *b)
{
	static const char crlfs[] = "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n";
	size_t k;

	while (b->crlfs > 0) {
		k = b->crlfs < 8 ? (size_t)b->crlfs : 8;
		emit(b, crlfs, 2 * k);
		b->crlfs -= k;
	}
}

static void
content(struct dkim_body *b, const uint8_t *p, size_t n)
{
	flush_crlfs(b);
	if (b->wsp) {
		emit(b, " ", 1);
		b->wsp = false;
	}
	emit(b, p, n);
	b->any = true;
}

/* The length of the run at p[0..n) with no CR, LF or (relaxed) WSP. */
static size_t
plain_run(const struct dkim_body *b, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] == '\r' || p[i] == '\n' ||
		    (b->canon == DKIM_RELAXED && dkim_is_wsp(p[i])))
			break;
	return i;
}

void
dkim_body_update(struct dkim_body *b, const uint8_t *p, size_t n)
{
	size_t i = 0, run;

	while (i < n) {
		if (b->cr) {
			b->cr = false;
			if (p[i] == '\n') {
				/* 3.4.4: WSP before a line end goes away. */
				b->wsp = false;
				b->crlfs++;
				i++;
				continue;
			}
			content(b, (const uint8_t *)"\r", 1);
		}
		if (p[i] == '\r') {
			b->cr = true;
			i++;
		} else if (b->canon == DKIM_RELAXED && dkim_is_wsp(p[i])) {
			b->wsp = true;
			i++;
		} else {
			run = plain_run(b, p + i, n - i);
			if (run == 0) /* a bare LF: content */
				run = 1;
			content(b, p + i, run);
			i += run;
		}
	}
}

int
dkim_body_final(struct dkim_body *b, uint8_t digest[32], uint64_t *total_out)
{
	unsigned len = 0;

	if (b->cr) {
		b->cr = false;
		content(b, (const uint8_t *)"\r", 1);
	}
	/*
	 * The held-back line ends were trailing empty lines, except the
	 * one ending the last line of content (3.4.3, 3.4.4); a last line
	 * without CRLF gets one. An empty body is CRLF in simple, nothing
	 * in relaxed.
	 */
	b->crlfs = 0;
	b->wsp = false;
	if (b->any || b->canon == DKIM_SIMPLE)
		emit(b, "\r\n", 2);
	if (total_out != NULL)
		*total_out = b->total;
	if (b->failed || EVP_DigestFinal_ex(b->md, digest, &len) != 1 ||
	    len != 32)
		return -1;
	return 0;
}
