/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for dmarc_from_domain(): the first byte chooses how
 * many From fields (0, 1 or 2: the rest split in the middle). A domain
 * that comes out must be normalized (no ASCII capitals, no trailing dot,
 * at most 253 bytes), each of its labels must occur in the input (CFWS
 * may sit between them: obs-domain), and it must have an
 * organizational domain that is a suffix of it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dmarc.h"
#include "util/str.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

/* Does d[0..dl) occur in p[0..n), ignoring ASCII case? */
static int
occurs(const char *d, size_t dl, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + dl <= n; i++)
		if (ascii_ncasecmp(d, (const char *)p + i, dl) == 0)
			return 1;
	return 0;
}

static int
labels_occur(const char *d, const uint8_t *p, size_t n)
{
	const char *dot;

	for (;;) {
		dot = strchr(d, '.');
		if (!occurs(d, dot != NULL ? (size_t)(dot - d) : strlen(d), p,
		        n))
			return 0;
		if (dot == NULL)
			return 1;
		d = dot + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	char dom[DMARC_DOMAIN_MAX], org[DMARC_DOMAIN_MAX];
	struct dmarc_field f[2];
	size_t nf, i, dl, ol;
	enum dmarc_from st;

	if (n < 1)
		return 0;
	nf = p[0] % 3;
	f[0].p = (const char *)p + 1;
	f[0].n = nf == 2 ? (n - 1) / 2 : n - 1;
	f[1].p = f[0].p + f[0].n;
	f[1].n = n - 1 - f[0].n;
	st = dmarc_from_domain(f, nf, dom);
	if (st != DMARC_FROM_OK) {
		if (dom[0] != 0)
			abort();
		return 0;
	}
	if (nf != 1)
		abort();
	dl = strlen(dom);
	if (dl == 0 || dl > 253 || dom[dl - 1] == '.')
		abort();
	for (i = 0; i < dl; i++)
		if (dom[i] >= 'A' && dom[i] <= 'Z')
			abort();
	if (!labels_occur(dom, p + 1, n - 1))
		abort();
	if (!dmarc_org_domain(dom, org))
		abort();
	ol = strlen(org);
	if (ol == 0 || ol > dl || strcmp(dom + dl - ol, org) != 0)
		abort();
	return 0;
}
