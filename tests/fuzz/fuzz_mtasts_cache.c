/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for deliver/mtasts_cache.c: the input is read as a
 * cache file. Whatever it holds, an accepted file has an id of 1-32
 * letters and digits, a fetch time that is not negative and a policy
 * within its limits; and formatting what was read, then reading that,
 * gives the same entry back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/mtasts_cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	struct mtasts_cache_entry e, again;
	const char *body;
	struct why why;
	struct buf b;
	size_t i, len;

	if (mtasts_cache_parse((const char *)p, n, &e, &why) == -1)
		return 0;
	len = strlen(e.id);
	if (len == 0 || len > MTASTS_ID_MAX || e.fetched < 0)
		abort();
	for (i = 0; i < len; i++)
		if (!((e.id[i] >= '0' && e.id[i] <= '9') ||
		        (e.id[i] >= 'a' && e.id[i] <= 'z') ||
		        (e.id[i] >= 'A' && e.id[i] <= 'Z')))
			abort();
	if (e.policy.nmx > MTASTS_MX_MAX ||
	    e.policy.max_age > MTASTS_MAX_AGE_MAX)
		abort();
	/* The body is what follows the first blank line. */
	body = memmem(p, n, "\n\n", 2);
	if (body == NULL)
		abort();
	body += 2;
	buf_init(&b, MTASTS_CACHE_FILE_MAX);
	if (mtasts_cache_format(e.id, e.fetched, body,
	        n - (size_t)(body - (const char *)p), &b, &why) == -1)
		abort();
	if (mtasts_cache_parse((const char *)b.data, b.len, &again, &why) ==
	        -1 ||
	    strcmp(again.id, e.id) != 0 || again.fetched != e.fetched ||
	    memcmp(&again.policy, &e.policy, sizeof(e.policy)) != 0)
		abort();
	buf_reset(&b);
	return 0;
}
