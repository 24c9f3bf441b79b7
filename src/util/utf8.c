/* SPDX-License-Identifier: ISC */
/*
 * util/utf8.c - strict UTF-8 decoding (see utf8.h). The byte ranges are
 * those of the UTF8-2/3/4 productions of RFC 3629 4, which exclude
 * overlong forms and surrogates by construction.
 * Trust: peer bytes; reads at most min(n, 4) of them.
 */
#include "util/utf8.h"

static int
cont(uint8_t c, uint8_t lo, uint8_t hi)
{
	return c >= lo && c <= hi;
}

size_t
utf8_decode(const uint8_t *p, size_t n, uint32_t *cp_out)
{
	uint32_t cp;
	size_t len, i;
	uint8_t lo = 0x80, hi = 0xbf, c;

	if (n == 0)
		return 0;
	c = p[0];
	if (c < 0x80) {
		len = 1;
		cp = c;
	} else if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		/* Only the second byte has the narrowed range. */
		if (!cont(p[i], i == 1 ? lo : 0x80, i == 1 ? hi : 0xbf))
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp_out != NULL)
		*cp_out = cp;
	return len;
}

bool
utf8_is_hidden(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
	       cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff;
}
