/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for msg/lint.c: any input is checked, each rule is
 * reported at most once with a static rule id and ref and a printable
 * ASCII detail, and the count does not depend on the room given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg/lint.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	struct lint_problem out[LINT_RULES];
	size_t k, j, found, nrcpt;
	const char *d;

	/* The first byte picks the recipient count (bulk rules). */
	nrcpt = n > 0 ? p[0] % 16 : 0;
	found = msg_lint((const char *)p, n, nrcpt, out, LINT_RULES);
	if (found > LINT_RULES ||
	    msg_lint((const char *)p, n, nrcpt, NULL, 0) != found)
		abort();
	for (k = 0; k < found; k++) {
		if (out[k].rule == NULL || out[k].ref == NULL ||
		    strncmp(out[k].ref, "RFC ", 4) != 0)
			abort();
		for (d = out[k].detail; *d != '\0'; d++)
			if ((unsigned char)*d < 0x20 ||
			    (unsigned char)*d > 0x7e)
				abort();
		if (d == out[k].detail ||
		    d - out[k].detail >= (long)sizeof(out[k].detail))
			abort();
		for (j = 0; j < k; j++)
			if (strcmp(out[j].rule, out[k].rule) == 0)
				abort();
	}
	return 0;
}
