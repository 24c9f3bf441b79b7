/* SPDX-License-Identifier: ISC */
/*
 * tests/unit/logvalue.h - a strict reader of the log grammar of
 * util/log.h: one value, or the fields of one line's body. The other
 * side of log_esc(), written from the grammar and not from log.c, for
 * the unit test and the fuzz harness (tests/integration has the same
 * reader in Python, conftest.py's parse_log_line()).
 *
 * Header-only (static inline), like testutil.h. Not for src/.
 * Trust: reads what tern wrote; bounded by n and outsz.
 */
#ifndef TERN_LOGVALUE_H
#define TERN_LOGVALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/utf8.h"

static inline bool
logvalue_is_bare(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != '"' && c != '\\' && c != '=';
}

/* The code points that must be written \u{NNNN} (and only those). */
static inline bool
logvalue_is_hidden(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
	       cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff;
}

/* n lowercase hex digits at p, or -1. */
static inline long
logvalue_hex(const char *p, size_t n)
{
	long v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] >= '0' && p[i] <= '9')
			v = v * 16 + (p[i] - '0');
		else if (p[i] >= 'a' && p[i] <= 'f')
			v = v * 16 + (p[i] - 'a' + 10);
		else
			return -1;
	}
	return v;
}

static inline int
logvalue_put(unsigned char *out, size_t outsz, size_t *o, const void *p,
    size_t n)
{
	if (*o + n > outsz)
		return -1;
	memcpy(out + *o, p, n);
	*o += n;
	return 0;
}

/*
 * The length of the value at s[0..n) (it ends at n, at a space outside
 * quotes, or at its closing quote), its bytes decoded into out[0..outsz)
 * with *outlen their count; -1 if s does not start with a value by the
 * grammar: an empty or unterminated value, a raw control byte, a raw
 * hidden code point, ill-formed UTF-8, an unknown escape.
 */
static inline long
logvalue_read(const char *s, size_t n, unsigned char *out, size_t outsz,
    size_t *outlen)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned char enc[4];
	size_t i, len, o = 0;
	uint32_t cp;
	long v;

	*outlen = 0;
	if (n == 0 || s[0] == ' ')
		return -1;
	if (s[0] != '"') {
		for (i = 0; i < n && s[i] != ' '; i++)
			if (!logvalue_is_bare(u[i]) ||
			    logvalue_put(out, outsz, &o, s + i, 1) == -1)
				return -1;
		*outlen = o;
		return (long)i;
	}
	for (i = 1; i < n; i++) {
		unsigned char c = u[i];

		if (c == '"') {
			*outlen = o;
			return (long)i + 1;
		}
		if (c < 0x20 || c == 0x7f)
			return -1;
		if (c >= 0x80) {
			len = utf8_decode(u + i, n - i, &cp);
			if (len == 0 || logvalue_is_hidden(cp) ||
			    logvalue_put(out, outsz, &o, u + i, len) == -1)
				return -1;
			i += len - 1;
			continue;
		}
		if (c != '\\') {
			if (logvalue_put(out, outsz, &o, &c, 1) == -1)
				return -1;
			continue;
		}
		if (i + 1 >= n)
			return -1;
		c = u[++i];
		if (c == '"' || c == '\\') {
			if (logvalue_put(out, outsz, &o, &c, 1) == -1)
				return -1;
		} else if (c == 'x' && i + 2 < n &&
		           (v = logvalue_hex(s + i + 1, 2)) >= 0 &&
		           (v < 0x20 || v >= 0x7f)) {
			enc[0] = (unsigned char)v;
			if (logvalue_put(out, outsz, &o, enc, 1) == -1)
				return -1;
			i += 2;
		} else if (c == 'u' && i + 6 < n && s[i + 1] == '{' &&
		           s[i + 6] == '}' &&
		           (v = logvalue_hex(s + i + 2, 4)) >= 0 &&
		           logvalue_is_hidden((uint32_t)v)) {
			/* Every hidden code point takes two or three bytes. */
			if (v < 0x800) {
				enc[0] = (unsigned char)(0xc0 | (v >> 6));
				enc[1] = (unsigned char)(0x80 | (v & 0x3f));
				len = 2;
			} else {
				enc[0] = (unsigned char)(0xe0 | (v >> 12));
				enc[1] =
				    (unsigned char)(0x80 | ((v >> 6) & 0x3f));
				enc[2] = (unsigned char)(0x80 | (v & 0x3f));
				len = 3;
			}
			if (logvalue_put(out, outsz, &o, enc, len) == -1)
				return -1;
			i += 6;
		} else
			return -1;
	}
	return -1; /* no closing quote */
}

/*
 * The count of fields of a line's body (what follows the level):
 * `key=value` fields, one space apart, key [a-z0-9_]+, the first one
 * event=; -1 if body[0..n) is not that.
 */
static inline int
logvalue_fields(const char *body, size_t n)
{
	unsigned char tmp[4096];
	size_t i = 0, k, got;
	long len;
	int nf = 0;

	if (n < 6 || memcmp(body, "event=", 6) != 0)
		return -1;
	while (i < n) {
		for (k = i; k < n && ((body[k] >= 'a' && body[k] <= 'z') ||
		                         (body[k] >= '0' && body[k] <= '9') ||
		                         body[k] == '_');
		     k++)
			;
		if (k == i || k >= n || body[k] != '=')
			return -1;
		len = logvalue_read(body + k + 1, n - k - 1, tmp, sizeof(tmp),
		    &got);
		if (len < 0)
			return -1;
		nf++;
		i = k + 1 + (size_t)len;
		if (i == n)
			break;
		if (body[i] != ' ' || i + 1 == n)
			return -1;
		i++;
	}
	return nf;
}

#endif
