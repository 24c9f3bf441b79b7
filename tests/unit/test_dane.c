/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for deliver/dane.c: TLSA rdata (RFC 6698 2.1), the records
 * SMTP may use (RFC 7672 3.1.3), and real handshakes over a memory BIO
 * pair against certificates made here: DANE-EE(3) SPKI SHA2-256 matches
 * whatever the name, DANE-TA(2) Cert SHA2-256 needs the chain and the
 * MX host's name, a wrong digest never verifies (RFC 7672 3.1.1, 3.1.2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "deliver/dane.h"

#define MX "mx.example.test"

/* ---- certificates made for the tests ---- */

struct pki {
	EVP_PKEY *ca_key, *leaf_key;
	X509 *ca, *leaf;
};

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* A certificate for `cn` (SAN DNS:cn) signed by issuer/ikey, or self. */
static X509 *
make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey,
    bool ca, long days_from, long days_to)
{
	char san[128];
	X509 *x = X509_new();

	assert_non_null(x);
	(void)snprintf(san, sizeof(san), "DNS:%s", cn);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x),
	    (long)(uintptr_t)x & 0x7fffffff), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x),
	    86400L * days_from));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x),
	    86400L * days_to));
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x),
	    "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, issuer != NULL
	    ? X509_get_subject_name(issuer) : X509_get_subject_name(x)), 1);
	assert_int_equal(X509_set_pubkey(x, key), 1);
	assert_int_equal(add_ext(x, issuer != NULL ? issuer : x,
	    NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE"), 1);
	if (ca)
		assert_int_equal(add_ext(x, x, NID_key_usage,
		    "critical,keyCertSign,cRLSign"), 1);
	else
		assert_int_equal(add_ext(x, issuer, NID_subject_alt_name, san),
		    1);
	assert_true(X509_sign(x, ikey != NULL ? ikey : key, EVP_sha256()) > 0);
	return x;
}

static void
pki_make(struct pki *p, const char *leaf_cn, long leaf_from, long leaf_to)
{
	p->ca_key = EVP_EC_gen("P-256");
	p->leaf_key = EVP_EC_gen("P-256");
	assert_non_null(p->ca_key);
	assert_non_null(p->leaf_key);
	p->ca = make_cert("Test CA", p->ca_key, NULL, NULL, true, -1, 30);
	p->leaf = make_cert(leaf_cn, p->leaf_key, p->ca, p->ca_key, false,
	    leaf_from, leaf_to);
}

static void
pki_free(struct pki *p)
{
	X509_free(p->leaf);
	X509_free(p->ca);
	EVP_PKEY_free(p->leaf_key);
	EVP_PKEY_free(p->ca_key);
}

/* A TLSA record over the DER of the leaf's SPKI or of a certificate. */
static struct dane_tlsa
tlsa_of(uint8_t usage, uint8_t selector, X509 *x)
{
	struct dane_tlsa t = { usage, selector, DANE_SHA256, 32, { 0 } };
	unsigned char *der = NULL;
	int n;

	n = selector == DANE_SEL_SPKI
	        ? i2d_PUBKEY(X509_get0_pubkey(x), &der)
	        : i2d_X509(x, &der);
	assert_true(n > 0);
	assert_true(EVP_Digest(der, (size_t)n, t.data, NULL, EVP_sha256(),
	    NULL) == 1);
	OPENSSL_free(der);
	return t;
}

/*
 * A TLS 1.3 handshake over a BIO pair: the server presents leaf + CA,
 * the client verifies by recs; returns dane_ssl_verified().
 */
static bool
handshake(struct pki *p, const struct dane_tlsa *recs, size_t n,
    char *what, size_t what_size)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
	BIO *cb = NULL, *sb = NULL;
	SSL *c, *s;
	struct why why;
	int i, cr = 0, sr = 0;
	bool ok;

	assert_non_null(cctx);
	assert_non_null(sctx);
	assert_true(SSL_CTX_dane_enable(cctx) > 0);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
	assert_int_equal(SSL_CTX_use_certificate(sctx, p->leaf), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(sctx, p->leaf_key), 1);
	assert_int_equal(SSL_CTX_add1_chain_cert(sctx, p->ca), 1);
	c = SSL_new(cctx);
	s = SSL_new(sctx);
	assert_int_equal(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
	SSL_set_bio(c, cb, cb);
	SSL_set_bio(s, sb, sb);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	assert_int_equal(dane_ssl_setup(c, MX, recs, n, &why), 0);
	for (i = 0; i < 50 && (cr != 1 || sr != 1); i++) {
		if (cr != 1)
			cr = SSL_do_handshake(c);
		if (sr != 1)
			sr = SSL_do_handshake(s);
	}
	assert_int_equal(cr, 1);
	ok = dane_ssl_verified(c, what, what_size);
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	return ok;
}

/* ---- rdata and usability ---- */

static void
test_parse_and_usable(void **state)
{
	static const uint8_t r311[35] = { 3, 1, 1 };
	static const uint8_t r212[67] = { 2, 1, 2 };
	static const uint8_t r011[35] = { 0, 1, 1 };
	static const uint8_t r111[35] = { 1, 1, 1 };
	static const uint8_t r31short[20] = { 3, 1, 1 };
	static const uint8_t r391[35] = { 3, 9, 1 };
	static const uint8_t r319[35] = { 3, 1, 9 };
	static const uint8_t r300[4] = { 3, 0, 0, 0x30 };
	struct dane_tlsa t[8];
	char d[80];

	(void)state;
	assert_false(dane_tlsa_parse(r311, 3, &t[0]));
	assert_true(dane_tlsa_parse(r311, sizeof(r311), &t[0]));
	assert_int_equal(t[0].len, 32);
	assert_true(dane_tlsa_parse(r212, sizeof(r212), &t[1]));
	assert_true(dane_tlsa_parse(r011, sizeof(r011), &t[2]));
	assert_true(dane_tlsa_parse(r111, sizeof(r111), &t[3]));
	assert_true(dane_tlsa_parse(r31short, sizeof(r31short), &t[4]));
	assert_true(dane_tlsa_parse(r391, sizeof(r391), &t[5]));
	assert_true(dane_tlsa_parse(r319, sizeof(r319), &t[6]));
	assert_true(dane_tlsa_parse(r300, sizeof(r300), &t[7]));
	/* RFC 7672 3.1.3: only 2 and 3, known selectors and digests of the
	 * right length. */
	assert_true(dane_tlsa_usable(&t[0]));
	assert_true(dane_tlsa_usable(&t[1]));
	assert_false(dane_tlsa_usable(&t[2]));
	assert_false(dane_tlsa_usable(&t[3]));
	assert_false(dane_tlsa_usable(&t[4]));
	assert_false(dane_tlsa_usable(&t[5]));
	assert_false(dane_tlsa_usable(&t[6]));
	assert_true(dane_tlsa_usable(&t[7]));
	assert_int_equal(dane_usable(t, 8), 3);
	assert_int_equal(t[0].usage, 3);
	assert_int_equal(t[1].usage, 2);
	assert_int_equal(t[2].mtype, DANE_FULL);
	dane_tlsa_describe(&t[0], d, sizeof(d));
	assert_string_equal(d, "DANE-EE(3) SPKI(1) SHA2-256(1)");
}

static void
test_too_long(void **state)
{
	static uint8_t big[DANE_DATA_MAX + 4] = { 3, 0, 0 };
	struct dane_tlsa t;

	(void)state;
	assert_true(dane_tlsa_parse(big, DANE_DATA_MAX + 3, &t));
	assert_false(dane_tlsa_parse(big, DANE_DATA_MAX + 4, &t));
}

/* ---- handshakes ---- */

static void
test_ee_spki_matches_any_name(void **state)
{
	struct pki p;
	struct dane_tlsa t;
	char what[200];

	(void)state;
	/* A leaf named for another host: DANE-EE does not look at names. */
	pki_make(&p, "other.example.test", -1, 30);
	t = tlsa_of(DANE_EE, DANE_SEL_SPKI, p.leaf);
	assert_true(handshake(&p, &t, 1, what, sizeof(what)));
	assert_non_null(strstr(what, "DANE-EE(3) SPKI(1) SHA2-256(1)"));
	pki_free(&p);
}

static void
test_ee_ignores_dates(void **state)
{
	struct pki p;
	struct dane_tlsa t;
	char what[200];

	(void)state;
	/* RFC 7672 3.1.1: with DANE-EE the key is what is pinned; an
	 * expired certificate around it still matches. */
	pki_make(&p, MX, -10, -1);
	t = tlsa_of(DANE_EE, DANE_SEL_SPKI, p.leaf);
	assert_true(handshake(&p, &t, 1, what, sizeof(what)));
	pki_free(&p);
}

static void
test_wrong_digest_fails(void **state)
{
	struct pki p;
	struct dane_tlsa t;
	char what[200];

	(void)state;
	pki_make(&p, MX, -1, 30);
	t = tlsa_of(DANE_EE, DANE_SEL_SPKI, p.leaf);
	t.data[0] ^= 1;
	assert_false(handshake(&p, &t, 1, what, sizeof(what)));
	assert_non_null(strstr(what, "no TLSA record matched"));
	pki_free(&p);
}

static void
test_ta_cert_needs_the_name(void **state)
{
	struct pki p;
	struct dane_tlsa t;
	char what[200];

	(void)state;
	pki_make(&p, MX, -1, 30);
	t = tlsa_of(DANE_TA, DANE_SEL_CERT, p.ca);
	assert_true(handshake(&p, &t, 1, what, sizeof(what)));
	assert_non_null(strstr(what, "DANE-TA(2) Cert(0)"));
	pki_free(&p);

	/* The same trust anchor, a leaf for another name: refused. */
	pki_make(&p, "other.example.test", -1, 30);
	t = tlsa_of(DANE_TA, DANE_SEL_CERT, p.ca);
	assert_false(handshake(&p, &t, 1, what, sizeof(what)));
	pki_free(&p);
}

static void
test_ta_expired_leaf_fails(void **state)
{
	struct pki p;
	struct dane_tlsa t;
	char what[200];

	(void)state;
	/* RFC 7672 3.1.2: a DANE-TA chain is checked like PKIX, dates too. */
	pki_make(&p, MX, -10, -1);
	t = tlsa_of(DANE_TA, DANE_SEL_CERT, p.ca);
	assert_false(handshake(&p, &t, 1, what, sizeof(what)));
	assert_non_null(strstr(what, "expired"));
	pki_free(&p);
}

static void
test_one_of_several_matches(void **state)
{
	struct pki p;
	struct dane_tlsa t[2];
	char what[200];

	(void)state;
	/* A rollover: the old key's record and the new one's. */
	pki_make(&p, MX, -1, 30);
	t[0] = tlsa_of(DANE_EE, DANE_SEL_SPKI, p.ca); /* not the leaf */
	t[1] = tlsa_of(DANE_EE, DANE_SEL_SPKI, p.leaf);
	assert_true(handshake(&p, t, 2, what, sizeof(what)));
	pki_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_usable),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_ee_spki_matches_any_name),
		cmocka_unit_test(test_ee_ignores_dates),
		cmocka_unit_test(test_wrong_digest_fails),
		cmocka_unit_test(test_ta_cert_needs_the_name),
		cmocka_unit_test(test_ta_expired_leaf_fails),
		cmocka_unit_test(test_one_of_several_matches),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
