/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for util/json.c, the one JSON escaper (the journal,
 * the event stream, the dashboard's data). Whatever the bytes, the
 * result must be one JSON string (RFC 8259 7) of well-formed UTF-8 with
 * no raw control character and no raw code point that hides or reorders
 * text, and must decode to the input's code points, each byte that is
 * not UTF-8 read as U+FFFD. A buf too small must fail, never overflow.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/json.h"
#include "util/utf8.h"

#define BIG 4096

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

static int
hex4(const uint8_t *s, uint32_t *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < 4; i++) {
		uint8_t c = s[i];
		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	return 0;
}

/* Decode the JSON string s[0..n) into code points; -1 if not one. */
static long
decode(const uint8_t *s, size_t n, uint32_t *out, size_t max)
{
	size_t i = 1, k = 0, len;
	uint32_t cp, lo;

	if (n < 2 || s[0] != '"' || s[n - 1] != '"')
		return -1;
	while (i < n - 1) {
		if (k == max)
			return -1;
		if (s[i] == '\\') {
			if (i + 1 >= n - 1)
				return -1;
			switch (s[i + 1]) {
			case '"':
			case '\\':
			case '/':
				out[k++] = s[i + 1];
				i += 2;
				continue;
			case 'n':
			case 'r':
			case 't':
				out[k++] = s[i + 1] == 'n'   ? '\n'
				           : s[i + 1] == 'r' ? '\r'
				                             : '\t';
				i += 2;
				continue;
			case 'u':
				if (i + 6 > n - 1 || hex4(s + i + 2, &cp) == -1)
					return -1;
				i += 6;
				if (cp >= 0xd800 && cp < 0xdc00) {
					if (i + 6 > n - 1 || s[i] != '\\' ||
					    s[i + 1] != 'u' ||
					    hex4(s + i + 2, &lo) == -1 ||
					    lo < 0xdc00 || lo > 0xdfff)
						return -1;
					cp = 0x10000 + ((cp - 0xd800) << 10) +
					     (lo - 0xdc00);
					i += 6;
				} else if (cp >= 0xdc00 && cp <= 0xdfff)
					return -1;
				out[k++] = cp;
				continue;
			default:
				return -1; /* we write no other escape */
			}
		}
		if (s[i] == '"')
			return -1;
		len = utf8_decode(s + i, n - 1 - i, &cp);
		if (len == 0 || cp < 0x20 || cp == 0x7f || utf8_is_hidden(cp))
			return -1; /* raw: must have been escaped */
		out[k++] = cp;
		i += len;
	}
	return (long)k;
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	static uint32_t got[BIG], want[BIG];
	struct buf b;
	size_t i = 0, k = 0, len;
	uint32_t cp;
	long m;

	if (n > BIG / 2)
		return 0;
	while (i < n) {
		len = utf8_decode(p + i, n - i, &cp);
		want[k++] = len == 0 ? 0xfffd : cp;
		i += len == 0 ? 1 : len;
	}
	buf_init(&b, BIG * 16);
	if (json_strn(&b, p, n) == -1)
		abort(); /* room enough */
	m = decode(b.data, b.len, got, BIG);
	if (m != (long)k || memcmp(got, want, k * sizeof(got[0])) != 0)
		abort();
	buf_reset(&b);
	/* Too small a buf: -1, within its max. */
	buf_init(&b, n / 2 + 1);
	if (json_strn(&b, p, n) == 0 && b.len > n / 2 + 1)
		abort();
	if (b.len > n / 2 + 1)
		abort();
	buf_reset(&b);
	return 0;
}
