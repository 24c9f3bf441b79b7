/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for deliver/mtasts.c: the input is read as an
 * _mta-sts TXT record and as a policy body. Whatever it holds, the
 * results stay within their limits: an id of 1-32 letters and digits,
 * at most MTASTS_MX_MAX patterns, each a lower-case name that matches
 * itself, max_age at most one year, and a mode that needs an mx has one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/mtasts.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

static void
check_policy(const struct mtasts_policy *pol)
{
	size_t i, j;

	if (pol->nmx > MTASTS_MX_MAX || pol->max_age > MTASTS_MAX_AGE_MAX)
		abort();
	if (pol->mode != MTASTS_NONE && pol->nmx == 0)
		abort();
	for (i = 0; i < pol->nmx; i++) {
		const char *mx = pol->mx[i];
		size_t len = strnlen(mx, MTASTS_NAME_MAX);

		if (len == 0 || len == MTASTS_NAME_MAX)
			abort();
		for (j = 0; j < len; j++)
			if (mx[j] >= 'A' && mx[j] <= 'Z')
				abort();
		/* A plain name matches itself; "*.x" matches "a.x". */
		if (mx[0] != '*' && !mtasts_mx_allowed(pol, mx))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	char id[MTASTS_ID_MAX + 1];
	struct mtasts_policy pol;
	struct why why;
	size_t i, len;

	if (mtasts_txt_parse((const char *)p, n, id, &why) == MTASTS_TXT_OK) {
		len = strlen(id);
		if (len == 0 || len > MTASTS_ID_MAX)
			abort();
		for (i = 0; i < len; i++)
			if (!((id[i] >= '0' && id[i] <= '9') ||
			        (id[i] >= 'a' && id[i] <= 'z') ||
			        (id[i] >= 'A' && id[i] <= 'Z')))
				abort();
	}
	if (mtasts_policy_parse((const char *)p, n, &pol, &why) == 0)
		check_policy(&pol);
	else if (pol.nmx != 0)
		abort();
	return 0;
}
