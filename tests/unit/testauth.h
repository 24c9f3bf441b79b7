/* SPDX-License-Identifier: ISC */
/*
 * tests/unit/testauth.h - for the mail authentication tests (DKIM, ARC):
 * a table that answers TXT lookups as struct authdns, and the split of
 * a message into header fields and body.
 *
 * Header-only (static inline); needs cmocka (include it first). Not for
 * src/. Trust: test code.
 */
#ifndef TERN_TESTAUTH_H
#define TERN_TESTAUTH_H

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth/authdns.h"
#include "auth/dkimkeys.h"

struct testauth_rec {
	const char *name, *txt; /* txt NULL: DNS_TEMP */
};

/* The records: set name and txt; a name not here is NXDOMAIN. */
static struct testauth_rec testauth_table[8];

static inline enum dns_status
testauth_lookup(void *arg, const char *name, int type, struct dns_rrset *out,
    struct why *why)
{
	size_t i;

	(void)arg;
	(void)why;
	memset(out, 0, sizeof(*out));
	assert_int_equal(type, DNS_T_TXT);
	for (i = 0; i < sizeof(testauth_table) / sizeof(testauth_table[0]);
	     i++) {
		if (testauth_table[i].name == NULL ||
		    strcmp(testauth_table[i].name, name) != 0)
			continue;
		if (testauth_table[i].txt == NULL)
			return DNS_TEMP;
		out->n = 1;
		out->data = calloc(1, sizeof(*out->data));
		out->len = calloc(1, sizeof(*out->len));
		out->data[0] = (uint8_t *)strdup(testauth_table[i].txt);
		out->len[0] = strlen(testauth_table[i].txt);
		return DNS_OK;
	}
	return DNS_NXDOMAIN;
}

static const struct authdns testauth_dns = { testauth_lookup, NULL };

/* Hand each header field of msg (CRLF lines) to fn; the body. */
static inline const char *
testauth_each_field(const char *msg, void (*fn)(void *, const char *, size_t),
    void *arg)
{
	const char *p = msg, *e;

	while (*p != '\0' && !(p[0] == '\r' && p[1] == '\n')) {
		e = p;
		do {
			e = strstr(e, "\r\n") + 2;
		} while (*e == ' ' || *e == '\t');
		fn(arg, p, (size_t)(e - p));
		p = e;
	}
	return *p == '\0' ? p : p + 2;
}

/* An RSA 2048 and an ed25519 key, with their TXT record values. */
struct testauth_keys {
	EVP_PKEY *rsa, *ed;
	struct buf rsa_txt, ed_txt;
};

/* Make k; 0 or -1. testauth_keys_free() it in both cases. */
static inline int
testauth_keys_new(struct testauth_keys *k)
{
	k->rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	k->ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	buf_init(&k->rsa_txt, 4096);
	buf_init(&k->ed_txt, 4096);
	if (k->rsa == NULL || k->ed == NULL ||
	    dkimkeys_txt_value(k->rsa, DKIM_RSA_SHA256, &k->rsa_txt) == -1 ||
	    dkimkeys_txt_value(k->ed, DKIM_ED25519_SHA256, &k->ed_txt) == -1)
		return -1;
	return 0;
}

static inline void
testauth_keys_free(struct testauth_keys *k)
{
	EVP_PKEY_free(k->rsa);
	EVP_PKEY_free(k->ed);
	buf_reset(&k->rsa_txt);
	buf_reset(&k->ed_txt);
}

#endif
