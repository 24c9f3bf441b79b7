/* SPDX-License-Identifier: ISC */
/* capture/view.c - header fields, unfolded and decoded (view.h). */
#include "capture/view.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "smtp/auth.h"
#include "util/buf.h"

#define EW_MAX 1024 /* bytes of one encoded-word we decode */

size_t
cap_view_header_len(const char *msg, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		/* An empty line: at the start, or after a line end. */
		if (i == 0 || msg[i - 1] == '\n') {
			if (msg[i] == '\n')
				return i;
			if (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n')
				return i;
		}
	}
	return len;
}

/* The end of the line at p (just past its LF), at most end. */
static size_t
line_end(const char *msg, size_t pos, size_t end)
{
	const char *lf = memchr(msg + pos, '\n', end - pos);

	return lf != NULL ? (size_t)(lf - msg) + 1 : end;
}

/* Append the line's text without its CRLF or LF (cut at out's max). */
static void
append_line(struct buf *out, const char *p, size_t n)
{
	if (n > 0 && p[n - 1] == '\n')
		n--;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (out->len + n > out->max)
		n = out->max - out->len;
	(void)buf_append(out, p, n);
}

bool
cap_view_next_field(const char *msg, size_t len, size_t *pos,
    const char **name, size_t *name_len, struct buf *val)
{
	size_t hlen = cap_view_header_len(msg, len), p = *pos, e, v;
	const char *colon;

	buf_clear(val);
	if (p >= hlen)
		return false;
	e = line_end(msg, p, hlen);
	colon = memchr(msg + p, ':', e - p);
	if (colon == NULL || colon == msg + p)
		return false;
	*name = msg + p;
	*name_len = (size_t)(colon - (msg + p));
	while (*name_len > 0 && ((*name)[*name_len - 1] == ' ' ||
	                            (*name)[*name_len - 1] == '\t'))
		(*name_len)--;
	v = (size_t)(colon - msg) + 1;
	while (v < e && (msg[v] == ' ' || msg[v] == '\t'))
		v++;
	append_line(val, msg + v, e - v);
	/* Continuation lines: their blank is kept, the line break goes. */
	while (e < hlen && (msg[e] == ' ' || msg[e] == '\t')) {
		size_t ne = line_end(msg, e, hlen);

		append_line(val, msg + e, ne - e);
		e = ne;
	}
	*pos = e;
	return true;
}

bool
cap_view_field(const char *msg, size_t len, const char *name, struct buf *out)
{
	size_t pos = 0, nlen, want = strlen(name);
	const char *n;

	while (cap_view_next_field(msg, len, &pos, &n, &nlen, out))
		if (nlen == want && strncasecmp(n, name, want) == 0)
			return true;
	buf_clear(out);
	return false;
}

/* ---- RFC 2047 ------------------------------------------------------ */

enum cs { CS_UTF8, CS_LATIN1, CS_OTHER };

static enum cs
charset_of(const char *p, size_t n)
{
	const char *star = memchr(p, '*', n);

	if (star != NULL)
		n = (size_t)(star - p); /* RFC 2231 5: charset*lang */
	if ((n == 5 && strncasecmp(p, "utf-8", 5) == 0) ||
	    (n == 8 && strncasecmp(p, "us-ascii", 8) == 0))
		return CS_UTF8;
	if ((n == 10 && strncasecmp(p, "iso-8859-1", 10) == 0) ||
	    (n == 6 && strncasecmp(p, "latin1", 6) == 0))
		return CS_LATIN1;
	return CS_OTHER;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Q encoding (RFC 2047 4.2): '_' is a space, =XX a byte. */
static bool
q_decode(const char *p, size_t n, uint8_t *dst, size_t *len)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '_')
			dst[o++] = ' ';
		else if (p[i] == '=') {
			int h, l;

			if (i + 2 >= n)
				return false;
			h = hexval((unsigned char)p[i + 1]);
			l = hexval((unsigned char)p[i + 2]);
			if (h < 0 || l < 0)
				return false;
			dst[o++] = (uint8_t)(h * 16 + l);
			i += 2;
		} else
			dst[o++] = (uint8_t)p[i];
	}
	*len = o;
	return true;
}

/* Latin-1 bytes to UTF-8. */
static int
append_latin1(struct buf *out, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint8_t u[2];

		if (p[i] < 0x80) {
			if (buf_append(out, p + i, 1) == -1)
				return -1;
			continue;
		}
		u[0] = (uint8_t)(0xc0 | (p[i] >> 6));
		u[1] = (uint8_t)(0x80 | (p[i] & 0x3f));
		if (buf_append(out, u, 2) == -1)
			return -1;
	}
	return 0;
}

/*
 * An encoded-word at p[0..n): "=?charset?E?text?=". Its length in *wlen
 * and its decoded text appended to out: 1; not one (or one we do not
 * decode): 0; out full: -1.
 */
static int
encoded_word(const char *p, size_t n, size_t *wlen, struct buf *out)
{
	uint8_t dec[EW_MAX];
	const char *cs, *enc, *text, *end;
	size_t dlen = 0, i;
	enum cs c;
	bool ok;

	if (n < 8 || p[0] != '=' || p[1] != '?')
		return 0;
	cs = p + 2;
	if ((enc = memchr(cs, '?', n - 2)) == NULL || enc == cs ||
	    (size_t)(enc - p) + 3 >= n || enc[2] != '?')
		return 0;
	text = enc + 3;
	end = NULL;
	for (i = (size_t)(text - p); i + 1 < n; i++) {
		if (p[i] == '?' && p[i + 1] == '=') {
			end = p + i;
			break;
		}
		if (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' ||
		    p[i] == '\n')
			return 0; /* no blanks inside a word */
	}
	if (end == NULL || (size_t)(end - text) > EW_MAX ||
	    (c = charset_of(cs, (size_t)(enc - cs))) == CS_OTHER)
		return 0;
	if (enc[1] == 'B' || enc[1] == 'b')
		ok = smtp_b64_decode(text, (size_t)(end - text), dec,
		    sizeof(dec), &dlen);
	else if (enc[1] == 'Q' || enc[1] == 'q')
		ok = q_decode(text, (size_t)(end - text), dec, &dlen);
	else
		ok = false;
	if (!ok)
		return 0;
	*wlen = (size_t)(end - p) + 2;
	if (c == CS_LATIN1)
		return append_latin1(out, dec, dlen) == -1 ? -1 : 1;
	return buf_append(out, dec, dlen) == -1 ? -1 : 1;
}

int
cap_rfc2047_decode(const char *p, size_t n, struct buf *out)
{
	size_t i = 0, wlen, blank_at = 0;
	bool after_word = false, blank = false;
	int r;

	while (i < n) {
		if (p[i] == '=' && i + 1 < n && p[i + 1] == '?') {
			size_t mark = out->len;

			r = encoded_word(p + i, n - i, &wlen, out);
			if (r == -1)
				return -1;
			if (r == 1) {
				if (after_word && blank) {
					/* Drop the blanks between two words. */
					size_t nb = mark - blank_at;

					memmove(out->data + blank_at,
					    out->data + mark, out->len - mark);
					out->len -= nb;
					out->data[out->len] = '\0';
				}
				i += wlen;
				after_word = true;
				blank = false;
				continue;
			}
		}
		if (p[i] == ' ' || p[i] == '\t') {
			if (after_word && !blank) {
				blank = true;
				blank_at = out->len;
			}
		} else {
			after_word = false;
			blank = false;
		}
		if (buf_append(out, p + i, 1) == -1)
			return -1;
		i++;
	}
	return 0;
}
