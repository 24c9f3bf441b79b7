/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for cli/doctor_text.c (tern doctor): the input is a
 * TXT record from DNS. doctor_spf_suggest() must leave a NUL-terminated,
 * printable string within its buffer that starts with "v=spf1 " and the
 * added term, or refuse; doctor_sts_is_record() must not read past n.
 * Any broken invariant aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/doctor_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

#define ADD "ip4:192.0.2.1"

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	char out[300], *copy;
	size_t i, len;

	/* An exact-size copy: ASan catches a read past the record. */
	if ((copy = malloc(n + 1)) == NULL)
		return 0;
	memcpy(copy, p, n);
	(void)doctor_sts_is_record(copy, n);
	memset(out, 'x', sizeof(out));
	if (doctor_spf_suggest(copy, n, ADD, out, sizeof(out))) {
		len = strnlen(out, sizeof(out));
		if (len == sizeof(out) ||
		    strncmp(out, "v=spf1 " ADD, strlen("v=spf1 " ADD)) != 0)
			abort();
		for (i = 0; i < len; i++)
			if ((unsigned char)out[i] < 0x20 ||
			    (unsigned char)out[i] > 0x7e)
				abort();
		if (len > 0 && out[len - 1] == ' ')
			abort(); /* spaces are made single, none trail */
	} else if (memchr(out, '\0', sizeof(out)) == NULL)
		abort();
	free(copy);
	return 0;
}
