/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for events_hello_parse() (obs/events.c): the one
 * line an event-socket consumer may send. Any bytes: never crash, and a
 * SINCE answer must be "since " and digits that print back the same.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obs/events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char back[64];
	uint64_t seq = 0;
	size_t n = size;
	int k;

	if (events_hello_parse((const char *)data, size, &seq) !=
	    EVENTS_HELLO_SINCE)
		return 0;
	if (n > 0 && data[n - 1] == '\r')
		n--;
	/* Leading zeros aside, the number must be what was sent. */
	k = snprintf(back, sizeof(back), "%" PRIu64, seq);
	if (n < 6 || memcmp(data, "since ", 6) != 0 || k <= 0 ||
	    (size_t)k > n - 6 ||
	    memcmp(data + n - (size_t)k, back, (size_t)k) != 0)
		abort();
	for (size_t i = 6; i < n - (size_t)k; i++)
		if (data[i] != '0')
			abort();
	return 0;
}
