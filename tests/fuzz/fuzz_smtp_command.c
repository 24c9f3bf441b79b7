/* SPDX-License-Identifier: ISC */
/*
 * Fuzz smtp/command.c: naming the verb of a command line and the BDAT
 * argument (RFC 3030 2). The split must stay inside the line, and a
 * parsed BDAT argument must print back to a size the input spelled.
 * Trust: test code.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/command.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	const char *line = (const char *)p;
	struct smtp_command c;
	char num[32];
	uint64_t size = 7;
	bool last = true;
	int k;

	smtp_command_split(line, n, &c);
	if (smtp_verb_name(c.verb) == NULL)
		abort();
	/* The argument is inside the line, or the static "". */
	if (c.arg_len > 0 && (c.arg < line || c.arg + c.arg_len > line + n))
		abort();
	if (c.arg_len > 0 && c.arg[c.arg_len - 1] == ' ')
		abort(); /* trailing spaces are trimmed */
	/* The whole input as a BDAT argument (the dictionary's seeds), or
	 * the argument of a BDAT line. */
	if (c.verb == SMTP_VERB_BDAT) {
		line = c.arg;
		n = c.arg_len;
	}
	if (smtp_bdat_parse(line, n, &size, &last)) {
		/* The digits of the size are in the input. */
		k = snprintf(num, sizeof(num), "%" PRIu64, size);
		if (k <= 0 || (size_t)k >= sizeof(num))
			abort();
		if (size != 0 && memmem(line, n, num, (size_t)k) == NULL)
			abort();
	} else if (size != 7 || !last) {
		abort(); /* outputs must be untouched on failure */
	}
	return 0;
}
