/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the streaming body canonicalizer: the first
 * byte picks the canonicalization and an l= limit, the next two cut the
 * rest in three pieces. Whole, in pieces and byte by byte must give the
 * same hash and length, and the hashed part never exceeds the limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

static void
digest(enum dkim_canon c, uint64_t limit, const uint8_t *p, size_t n,
    const size_t *cuts, size_t ncuts, uint8_t d[32], uint64_t *total)
{
	struct dkim_body *b = dkim_body_new(c, limit);
	size_t i, at = 0;

	if (b == NULL)
		abort();
	for (i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;

		dkim_body_update(b, p + at, end - at);
		at = end;
	}
	if (dkim_body_final(b, d, total) == -1)
		abort();
	dkim_body_free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	uint8_t whole[32], got[32];
	uint64_t tw, tg, limit;
	enum dkim_canon c;
	size_t cuts[2], i;
	size_t *bytes;

	if (n < 3 || n > 4096)
		return 0;
	c = (p[0] & 1) ? DKIM_RELAXED : DKIM_SIMPLE;
	limit = (p[0] & 2) ? (uint64_t)(p[0] >> 2) : UINT64_MAX;
	cuts[0] = p[1] % (n - 2);
	cuts[1] = cuts[0] + p[2] % (n - 2 - cuts[0] + 1);
	p += 3;
	n -= 3;
	if (cuts[1] > n)
		cuts[1] = n;
	if (cuts[0] > cuts[1])
		cuts[0] = cuts[1];
	digest(c, limit, p, n, NULL, 0, whole, &tw);
	digest(c, limit, p, n, cuts, 2, got, &tg);
	if (memcmp(whole, got, 32) != 0 || tw != tg)
		abort();
	if ((bytes = malloc((n + 1) * sizeof(*bytes))) == NULL)
		return 0;
	for (i = 0; i < n; i++)
		bytes[i] = i + 1;
	digest(c, limit, p, n, bytes, n > 0 ? n - 1 : 0, got, &tg);
	free(bytes);
	if (memcmp(whole, got, 32) != 0 || tw != tg)
		abort();
	/* Canonical length: at least what remains of the text + CRLF. */
	if (tw > 2 * (uint64_t)n + 2)
		abort();
	return 0;
}
