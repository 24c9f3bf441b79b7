/* SPDX-License-Identifier: ISC */
/*
 * deliver/dane.c - TLSA records and OpenSSL's DANE verifier (RFC 7672,
 * RFC 6698). See dane.h for the decisions.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/x509_vfy.h>

#include "deliver/dane.h"

bool
dane_tlsa_parse(const uint8_t *rdata, size_t n, struct dane_tlsa *out)
{
	if (n < 4 || n - 3 > DANE_DATA_MAX)
		return false;
	out->usage = rdata[0];
	out->selector = rdata[1];
	out->mtype = rdata[2];
	out->len = n - 3;
	memcpy(out->data, rdata + 3, out->len);
	return true;
}

bool
dane_tlsa_usable(const struct dane_tlsa *t)
{
	if (t->usage != DANE_TA && t->usage != DANE_EE)
		return false; /* RFC 7672 3.1.3: PKIX-TA/EE are unusable */
	if (t->selector != DANE_SEL_CERT && t->selector != DANE_SEL_SPKI)
		return false;
	switch (t->mtype) {
	case DANE_FULL:
		return t->len > 0;
	case DANE_SHA256:
		return t->len == 32;
	case DANE_SHA512:
		return t->len == 64;
	}
	return false;
}

size_t
dane_usable(struct dane_tlsa *recs, size_t n)
{
	size_t i, kept = 0;

	for (i = 0; i < n && kept < DANE_TLSA_MAX; i++) {
		if (!dane_tlsa_usable(&recs[i]))
			continue;
		if (kept != i)
			recs[kept] = recs[i];
		kept++;
	}
	return kept;
}

int
dane_ssl_setup(SSL *ssl, const char *host, const struct dane_tlsa *recs,
    size_t n, struct why *why)
{
	size_t i, added = 0;

	if (SSL_dane_enable(ssl, host) <= 0)
		return why_set(why, WHY_TEMP, 0, "dane: cannot enable DANE "
		    "for %s (SSL_CTX_dane_enable missing?)", host);
	/* RFC 7672 3.1.1: a DANE-EE match needs no name in the cert. */
	(void)SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	for (i = 0; i < n; i++) {
		/* 0: OpenSSL cannot use this record (e.g. an unknown digest
		 * in its build); a usable record may still match. */
		if (SSL_dane_tlsa_add(ssl, recs[i].usage, recs[i].selector,
		        recs[i].mtype, recs[i].data, recs[i].len) > 0)
			added++;
	}
	if (added == 0)
		return why_set(why, WHY_TEMP, 0, "dane: no TLSA record of %s "
		    "could be used", host);
	return 0;
}

static const char *
usage_name(uint8_t u)
{
	static const char *const names[] = { "PKIX-TA", "PKIX-EE", "DANE-TA",
		"DANE-EE" };

	return u < 4 ? names[u] : "usage?";
}

static const char *
selector_name(uint8_t s)
{
	return s == DANE_SEL_CERT ? "Cert" : s == DANE_SEL_SPKI ? "SPKI" : "sel?";
}

static const char *
mtype_name(uint8_t m)
{
	static const char *const names[] = { "Full", "SHA2-256", "SHA2-512" };

	return m < 3 ? names[m] : "mtype?";
}

void
dane_tlsa_describe(const struct dane_tlsa *t, char *buf, size_t size)
{
	(void)snprintf(buf, size, "%s(%u) %s(%u) %s(%u)", usage_name(t->usage),
	    t->usage, selector_name(t->selector), t->selector,
	    mtype_name(t->mtype), t->mtype);
}

bool
dane_ssl_verified(SSL *ssl, char *what, size_t what_size)
{
	struct dane_tlsa t;
	const unsigned char *data = NULL;
	size_t dlen = 0;
	uint8_t usage, selector, mtype;
	char rec[80];
	long vr;
	int depth;

	vr = SSL_get_verify_result(ssl);
	depth = SSL_get0_dane_tlsa(ssl, &usage, &selector, &mtype, &data,
	    &dlen);
	if (vr != X509_V_OK || depth < 0) {
		(void)snprintf(what, what_size, "no TLSA record matched: %s",
		    vr != X509_V_OK ? X509_verify_cert_error_string(vr)
		                    : "no DANE authority");
		return false;
	}
	t.usage = usage;
	t.selector = selector;
	t.mtype = mtype;
	t.len = 0;
	dane_tlsa_describe(&t, rec, sizeof(rec));
	(void)snprintf(what, what_size, "%s matched the %s", rec,
	    depth == 0 ? "server's certificate" : "chain");
	return true;
}
