/* SPDX-License-Identifier: ISC */
/*
 * util/str.h - string helpers that Debian 12's libc lacks, and ASCII-only
 * character classes that are safe on raw (possibly negative) chars.
 */
#ifndef TERN_UTIL_STR_H
#define TERN_UTIL_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* OpenBSD semantics: returns strlen(src); truncated if >= dstsz. */
size_t strlcpy(char *dst, const char *src, size_t dstsz);
size_t strlcat(char *dst, const char *src, size_t dstsz);

static inline bool
ascii_is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static inline bool
ascii_is_digit(int c)
{
	return c >= '0' && c <= '9';
}
static inline bool
ascii_is_alnum(int c)
{
	return ascii_is_alpha(c) || ascii_is_digit(c);
}
static inline int
ascii_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}
static inline int
ascii_upper(int c)
{
	return (c >= 'a' && c <= 'z') ? c - 32 : c;
}
/* The value of a hex digit (either case), or -1. */
static inline int
ascii_hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
/* The value of a base64 digit (RFC 4648 4: A-Z a-z 0-9 + /), or -1;
 * '=' and everything else are the decoder's to judge. */
static inline int
ascii_b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Case-insensitive (ASCII only) comparison of n bytes / of strings. */
int ascii_ncasecmp(const char *a, const char *b, size_t n);
int ascii_casecmp(const char *a, const char *b);
/* Lower-case ASCII letters in place; other bytes (UTF-8) untouched. */
void ascii_lower_str(char *s);
/* true if s has no byte >= 0x80 (so no UTF-8 beyond ASCII). */
bool ascii_only(const char *s);
/*
 * Copy src into dst[dstsz] (dstsz >= 1) as printable ASCII: every byte
 * outside 0x20..0x7e becomes '?'; cut to fit. For peer text that goes
 * into an SMTP reply. Returns dst.
 */
char *str_printable(char *dst, size_t dstsz, const char *src);
/* true if p[0..n) has no NUL, CR or LF (safe to treat as one C string). */
bool str_is_clean(const char *p, size_t n);
/* Trim ASCII spaces and tabs at both ends, in place; returns s. */
char *str_trim(char *s);
/*
 * Parse a decimal unsigned number of all of s into *out; false on empty
 * input, junk or overflow past max.
 */
bool str_to_u64(const char *s, uint64_t max, uint64_t *out);

#endif
