/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for dkim_key_parse() (a DKIM key record from DNS):
 * it returns, within its bounds, and p= empty means revoked.
 */
#include <stdint.h>
#include <stdlib.h>

#include "auth/dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	struct dkim_key k;
	const char *why = NULL;

	if (dkim_key_parse((const char *)p, n, &k, &why) == 0) {
		if (k.p_len > DKIM_KEY_P_MAX || k.revoked != (k.p_len == 0) ||
		    (k.alg != DKIM_RSA_SHA256 && k.alg != DKIM_ED25519_SHA256))
			abort();
	} else if (why == NULL)
		abort();
	return 0;
}
