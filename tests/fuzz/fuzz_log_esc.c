/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for util/log.c's one rule for a log value. The first
 * byte picks the size of the destination; the rest is the value. The
 * result must fit, be exactly one value by the strict reader of
 * tests/unit/logvalue.h, read back to the input when it was not cut, and
 * to a prefix of the input then "..." when it was.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#include "../unit/logvalue.h"

#define BIG 16384

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	static char dst[BIG + 1];
	static unsigned char back[BIG];
	size_t sz, len, got;

	if (n < 1 || n > BIG / 8 - 1)
		return 0;
	/* Sizes near LOG_ESC_MIN, near LOG_VALUE_MAX, and roomy. */
	sz = p[0] < 64    ? LOG_ESC_MIN + p[0]
	     : p[0] < 128 ? LOG_VALUE_MAX - 64 + p[0]
	                  : BIG;
	p++;
	n--;
	dst[sz] = 0x5a;
	log_esc(dst, sz, p, n);
	len = strlen(dst);
	if (len >= sz || dst[sz] != 0x5a)
		abort(); /* overflowed its room */
	if (logvalue_read(dst, len, back, sizeof(back), &got) != (long)len)
		abort(); /* not exactly one value */
	if (got == n && memcmp(back, p, n) == 0)
		return 0; /* whole */
	if (sz == BIG)
		abort(); /* cut though it had room */
	if (got < 3 || memcmp(back + got - 3, "...", 3) != 0 || got - 3 > n ||
	    memcmp(back, p, got - 3) != 0)
		abort(); /* a cut must be a prefix and "..." */
	return 0;
}
