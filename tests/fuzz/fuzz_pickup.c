/* SPDX-License-Identifier: ISC */
/*
 * Fuzz the maildrop file parser (queue/pickup.h): any bytes a local user
 * can drop must be accepted with every field in bounds, or refused;
 * never crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue/pickup.h"

#define BODY_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	struct pickup_drop d;
	const char *why = NULL;
	size_t i;

	if (pickup_parse(p, n, BODY_MAX, &d, &why) == -1) {
		if (why == NULL || d.rcpts != NULL || d.nrcpts != 0)
			abort(); /* a refusal says why and holds nothing */
		return 0;
	}
	if (d.nrcpts == 0 || d.nrcpts > PICKUP_RCPTS_MAX || d.body_off > n ||
	    n - d.body_off > BODY_MAX)
		abort(); /* a limit was not enforced */
	if (memcmp(p, PICKUP_MAGIC, sizeof(PICKUP_MAGIC) - 1) != 0)
		abort();
	for (i = d.body_off; i < n; i++)
		if (p[i] == '\0' || (p[i] == '\n' && p[i - 1] != '\r'))
			abort(); /* the body check let a bad byte through */
	for (i = 0; i < d.nrcpts; i++)
		if (d.rcpts[i].is_null || d.rcpts[i].domain[0] == '\0')
			abort(); /* a recipient must be a mailbox */
	pickup_drop_free(&d);
	return 0;
}
