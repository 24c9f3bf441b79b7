/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for deliver/dane.c's record handling: the input is
 * a run of TLSA rdata, each preceded by a length byte, as DNS could
 * hand them over. Every parsed record keeps its bytes, dane_usable()
 * keeps only records it calls usable, never more than DANE_TLSA_MAX,
 * and the description of any record is a bounded string; the kept
 * records are then put on a real SSL object (nothing may crash).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/dane.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

#define RECS 24

static SSL_CTX *ctx;

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	static struct dane_tlsa recs[RECS];
	struct why why;
	char d[80];
	size_t nrec = 0, kept, i, len;
	SSL *ssl;

	if (ctx == NULL && ((ctx = SSL_CTX_new(TLS_client_method())) ==
	                           NULL ||
	                       SSL_CTX_dane_enable(ctx) <= 0))
		abort();
	while (n > 0 && nrec < RECS) {
		len = p[0];
		p++, n--;
		if (len > n)
			len = n;
		if (dane_tlsa_parse(p, len, &recs[nrec])) {
			if (recs[nrec].len != len - 3 ||
			    memcmp(recs[nrec].data, p + 3, len - 3) != 0)
				abort();
			nrec++;
		} else if (len >= 4) {
			abort();
		}
		p += len, n -= len;
	}
	kept = dane_usable(recs, nrec);
	if (kept > nrec || kept > DANE_TLSA_MAX)
		abort();
	for (i = 0; i < kept; i++) {
		if (!dane_tlsa_usable(&recs[i]))
			abort();
		dane_tlsa_describe(&recs[i], d, sizeof(d));
		if (strnlen(d, sizeof(d)) == sizeof(d))
			abort();
	}
	if (kept > 0) {
		if ((ssl = SSL_new(ctx)) == NULL)
			abort();
		(void)dane_ssl_setup(ssl, "mx.example.test", recs, kept, &why);
		SSL_free(ssl);
	}
	return 0;
}
