/* SPDX-License-Identifier: ISC */
/*
 * tests/unit/test_arc.c - ARC (auth/arc.h): the parsing of ARC-Seal and
 * ARC-Message-Signature values, the chain's structure (gap, too many
 * sets, a duplicate instance, a missing seal), and seal-then-verify over
 * 1, 2 and 3 hops with rsa-sha256 and ed25519-sha256 and a table DNS; a
 * change after the last seal fails.
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

#include "auth/arc.h"
#include "auth/dkim-private.h"
#include "auth/dkimkeys.h"
#include "testauth.h"

#define NOW 1800000000

static EVP_PKEY *rsa_key, *ed_key;
static struct testauth_keys keys;

static const char msg[] = "From: Alice <alice@example.com>\r\n"
                          "To: bob@example.org\r\n"
                          "Subject: arc test\r\n"
                          "Date: Fri, 04 Dec 2026 10:00:00 +0000\r\n"
                          "Message-ID: <arc.1@example.com>\r\n"
                          "\r\n"
                          "Hello Bob,\r\n"
                          "  spaces  here \r\n"
                          "\r\n";

/* ---- verifying and sealing whole messages ---- */

static void
vfield(void *v, const char *f, size_t n)
{
	arc_verifier_header(v, f, n);
}

static void
sfield(void *s, const char *f, size_t n)
{
	arc_sealer_header(s, f, n);
}

static void
verify(const char *m, struct arc_result *r)
{
	struct arc_verifier *v = arc_verifier_new();
	const char *body;

	assert_non_null(v);
	body = testauth_each_field(m, vfield, v);
	arc_verifier_eoh(v);
	arc_verifier_body(v, (const uint8_t *)body, strlen(body));
	arc_verifier_finish(v, &testauth_dns, NOW, r);
	arc_verifier_free(v);
}

/* m sealed by (domain, selector, key): the new set on top of m. */
static char *
seal(const char *m, EVP_PKEY *pkey, enum dkim_alg alg, const char *sel)
{
	struct dkim_sign_key k = { "example.net", sel, pkey, alg };
	struct arc_result chain;
	struct arc_sealer *s;
	struct why why;
	const char *body;
	struct buf out;

	verify(m, &chain);
	s = arc_sealer_new(&k, NOW, &why);
	assert_non_null(s);
	body = testauth_each_field(m, sfield, s);
	arc_sealer_body(s, (const uint8_t *)body, strlen(body));
	buf_init(&out, 1 << 20);
	assert_int_equal(arc_sealer_finish(s, &chain, "mx.example.net",
	                     "mx.example.net; spf=pass smtp.mailfrom=a@b.c",
	                     &out, &why),
	    0);
	assert_int_equal(buf_append_str(&out, m), 0);
	arc_sealer_free(s);
	return (char *)buf_take(&out, NULL);
}

static int
setup_keys(void **state)
{
	(void)state;
	if (testauth_keys_new(&keys) == -1)
		return -1;
	rsa_key = keys.rsa;
	ed_key = keys.ed;
	testauth_table[0] = (struct testauth_rec){ "r1._domainkey.example.net",
		(char *)keys.rsa_txt.data };
	testauth_table[1] = (struct testauth_rec){ "e1._domainkey.example.net",
		(char *)keys.ed_txt.data };
	return 0;
}

static int
teardown_keys(void **state)
{
	(void)state;
	testauth_keys_free(&keys);
	return 0;
}

/* ---- parsing ---- */

#define AS_OK "i=1; a=rsa-sha256; cv=none; d=example.net; s=r1; t=1; b=AAAA"
#define AMS_OK                                                                 \
	"i=2; a=rsa-sha256; c=relaxed/relaxed; d=example.net; s=r1; "          \
	"h=from:to; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA"

static void
test_parse(void **state)
{
	static const struct {
		enum dkim_sig_kind kind;
		const char *in;
		unsigned inst; /* 0: does not parse */
	} cases[] = {
		{ DKIM_KIND_AS, AS_OK, 1 },
		{ DKIM_KIND_AS, AS_OK "; x_future=1", 1 },
		{ DKIM_KIND_AS, "i=50; a=rsa-sha256; cv=pass; d=a.b; s=s; b=AA",
		    50 },
		{ DKIM_KIND_AS, "i=51; a=rsa-sha256; cv=pass; d=a.b; s=s; b=AA",
		    0 },
		{ DKIM_KIND_AS, "i=0; a=rsa-sha256; cv=pass; d=a.b; s=s; b=AA",
		    0 },
		{ DKIM_KIND_AS, "i=x; a=rsa-sha256; cv=pass; d=a.b; s=s; b=AA",
		    0 },
		{ DKIM_KIND_AS, "a=rsa-sha256; cv=pass; d=a.b; s=s; b=AA", 0 },
		{ DKIM_KIND_AS, "i=1; a=rsa-sha256; d=a.b; s=s; b=AA", 0 },
		{ DKIM_KIND_AS, "i=1; a=rsa-sha256; cv=maybe; d=a.b; s=s; b=AA",
		    0 },
		{ DKIM_KIND_AS, AS_OK "; h=from", 0 },
		{ DKIM_KIND_AS, AS_OK "; i=2", 0 },
		{ DKIM_KIND_AS, "i=1; a=rsa-sha1; cv=none; d=a.b; s=s; b=AA",
		    0 },
		{ DKIM_KIND_AS,
		    "i=1; a=rsa-sha256; cv=none; d=a.b; s=s; b=A\x01", 0 },
		{ DKIM_KIND_AS, "i=1 a=rsa-sha256", 0 },
		{ DKIM_KIND_AMS, AMS_OK, 2 },
		{ DKIM_KIND_AMS, AMS_OK "; v=1", 2 },
		{ DKIM_KIND_AMS, "i=2; a=rsa-sha256; d=a.b; s=s; h=from; b=AA",
		    0 },
		{ DKIM_KIND_AMS,
		    "i=2; a=rsa-sha256; d=a.b; s=s; h=from:arc-seal; "
		    "bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AA",
		    0 },
		{ DKIM_KIND_AMS,
		    "a=rsa-sha256; d=a.b; s=s; h=from; "
		    "bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AA",
		    0 },
		{ DKIM_KIND_SIG, AMS_OK, 0 }, /* no v=, i= not an identity */
	};
	struct dkim_sig sig;
	const char *why;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why = NULL;
		rc = dkim_sig_parse_kind(cases[i].kind, cases[i].in,
		    strlen(cases[i].in), &sig, &why);
		if ((rc == 0) != (cases[i].inst != 0))
			fail_msg("case %zu (%s): rc %d %s", i, cases[i].in, rc,
			    why != NULL ? why : "");
		if (rc == 0)
			assert_int_equal(sig.instance, cases[i].inst);
		else
			assert_non_null(why);
	}
	assert_int_equal(dkim_sig_parse_kind(DKIM_KIND_AS, AS_OK, strlen(AS_OK),
	                     &sig, &why),
	    0);
	assert_int_equal(sig.arc_cv, ARC_NONE);
	assert_string_equal(sig.domain, "example.net");
}

/* ---- structure ---- */

static const char *
build(char *out, size_t max, const char *fields)
{
	int n = snprintf(out, max, "%s%s", fields, msg);

	assert_true(n > 0 && (size_t)n < max);
	return out;
}

#define AAR(i) "ARC-Authentication-Results: i=" #i "; mx.x; spf=pass\r\n"
#define AMS(i)                                                                 \
	"ARC-Message-Signature: i=" #i "; a=rsa-sha256; d=example.net; "       \
	"s=r1; h=from; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; "      \
	"b=AAAA\r\n"
#define AS(i, cv)                                                              \
	"ARC-Seal: i=" #i "; a=rsa-sha256; cv=" cv "; d=example.net; s=r1; "   \
	"b=AAAA\r\n"

static void
test_structure(void **state)
{
	static const struct {
		const char *name, *fields, *reason; /* substring */
		unsigned sets;
	} cases[] = {
		{ "gap", AS(2, "pass") AMS(2) AAR(2), "1 missing", 2 },
		{ "gap-middle",
		    AS(3, "pass") AMS(3) AAR(3) AS(1, "none") AMS(1) AAR(1),
		    "2 missing", 3 },
		{ "missing-as", AMS(1) AAR(1), "ARC-Seal 1 missing", 1 },
		{ "missing-aar", AS(1, "none") AMS(1),
		    "ARC-Authentication-Results 1 missing", 1 },
		{ "duplicate-as", AS(1, "none") AS(1, "none") AMS(1) AAR(1),
		    "ARC-Seal 1 twice", 1 },
		{ "duplicate-aar", AS(1, "none") AMS(1) AAR(1) AAR(1), "twice",
		    1 },
		{ "too-many", AS(51, "pass") AMS(1) AAR(1), "bad ARC instance",
		    1 },
		{ "aar-51", AAR(51) AS(1, "none") AMS(1) AAR(1), "bad instance",
		    1 },
		{ "aar-no-i", "ARC-Authentication-Results: mx; i=1\r\n",
		    "bad instance", 0 },
		{ "seal-says-fail", AS(1, "fail") AMS(1) AAR(1), "cv=fail", 1 },
		{ "first-cv-pass", AS(1, "pass") AMS(1) AAR(1),
		    "wrong cv=", 1 },
		{ "later-cv-none",
		    AS(2, "none") AMS(2) AAR(2) AS(1, "none") AMS(1) AAR(1),
		    "wrong cv=", 2 },
		/* Structurally whole: the signatures are what fails. */
		{ "bad-signature", AS(1, "none") AMS(1) AAR(1),
		    "did not verify", 1 },
	};
	char m[8192];
	struct arc_result r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		verify(build(m, sizeof(m), cases[i].fields), &r);
		if (r.cv != ARC_FAIL ||
		    strstr(r.reason, cases[i].reason) == NULL ||
		    r.sets != cases[i].sets)
			fail_msg("%s: cv=%s (%s) sets=%u", cases[i].name,
			    arc_cv_name(r.cv), r.reason, r.sets);
		assert_int_equal(r.oldest_pass, 0);
	}
	verify(msg, &r);
	assert_int_equal(r.cv, ARC_NONE);
	assert_int_equal(r.sets, 0);
}

/* ---- seal, then verify ---- */

static void
hops(EVP_PKEY *k1, enum dkim_alg a1, const char *s1, EVP_PKEY *k2,
    enum dkim_alg a2, const char *s2)
{
	char *m1, *m2, *m3, *p;
	struct arc_result r;

	m1 = seal(msg, k1, a1, s1);
	verify(m1, &r);
	assert_int_equal(r.cv, ARC_PASS);
	assert_int_equal(r.sets, 1);
	assert_int_equal(r.oldest_pass, 1);
	assert_string_equal(r.domain, "example.net");
	assert_string_equal(r.selector, s1);
	assert_non_null(strstr(m1, "cv=none"));
	m2 = seal(m1, k2, a2, s2);
	verify(m2, &r);
	assert_int_equal(r.cv, ARC_PASS);
	assert_int_equal(r.sets, 2);
	assert_non_null(strstr(m2, "i=2; a="));
	assert_non_null(strstr(m2, "cv=pass"));
	m3 = seal(m2, k1, a1, s1);
	verify(m3, &r);
	assert_int_equal(r.cv, ARC_PASS);
	assert_int_equal(r.sets, 3);
	assert_int_equal(r.oldest_pass, 1);
	/* Every line of the new fields stays under 78 columns. */
	for (p = m3; p < strstr(m3, "From:"); p = strstr(p, "\r\n") + 2)
		assert_true(strstr(p, "\r\n") - p < 78);
	/* A change in the body after the last seal. */
	p = strstr(m3, "Hello Bob");
	*p = 'h';
	verify(m3, &r);
	assert_int_equal(r.cv, ARC_FAIL);
	assert_non_null(strstr(r.reason, "ARC-Message-Signature 3"));
	*p = 'H';
	/* A change in an older seal's cv=. */
	p = strstr(m3, "cv=none");
	memcpy(p, "cv=pass", 7);
	verify(m3, &r);
	assert_int_equal(r.cv, ARC_FAIL);
	free(m1);
	free(m2);
	free(m3);
}

static void
test_hops_rsa(void **state)
{
	(void)state;
	hops(rsa_key, DKIM_RSA_SHA256, "r1", rsa_key, DKIM_RSA_SHA256, "r1");
}

static void
test_hops_ed25519(void **state)
{
	(void)state;
	hops(ed_key, DKIM_ED25519_SHA256, "e1", ed_key, DKIM_ED25519_SHA256,
	    "e1");
}

static void
test_hops_mixed(void **state)
{
	(void)state;
	hops(rsa_key, DKIM_RSA_SHA256, "r1", ed_key, DKIM_ED25519_SHA256, "e1");
}

/* The body changed before hop 2: hop 2 seals cv=fail, and stays fail. */
static void
test_seal_failed_chain(void **state)
{
	char *m1, *m2, *p;
	struct arc_result r;

	(void)state;
	m1 = seal(msg, rsa_key, DKIM_RSA_SHA256, "r1");
	p = strstr(m1, "Hello Bob");
	*p = 'h';
	m2 = seal(m1, rsa_key, DKIM_RSA_SHA256, "r1");
	assert_non_null(strstr(m2, "cv=fail"));
	verify(m2, &r);
	assert_int_equal(r.cv, ARC_FAIL);
	assert_int_equal(r.sets, 2);
	free(m1);
	free(m2);
}

/* DNS failing for now: fail, marked temporary. */
static void
test_temporary(void **state)
{
	struct testauth_rec saved = testauth_table[0];
	struct arc_result r;
	char *m1;

	(void)state;
	m1 = seal(msg, rsa_key, DKIM_RSA_SHA256, "r1");
	testauth_table[0].txt = NULL;
	verify(m1, &r);
	testauth_table[0] = saved;
	assert_int_equal(r.cv, ARC_FAIL);
	assert_true(r.temporary);
	free(m1);
}

static void
test_seal_refuses(void **state)
{
	struct dkim_sign_key k = { "example.net", "r1", rsa_key,
		DKIM_ED25519_SHA256 };
	struct arc_result chain = { .cv = ARC_PASS, .sets = ARC_SETS_MAX };
	struct arc_sealer *s;
	struct why why;
	struct buf out;

	(void)state;
	assert_null(arc_sealer_new(&k, NOW, &why)); /* key type != alg */
	k.alg = DKIM_RSA_SHA256;
	buf_init(&out, 1 << 16);
	s = arc_sealer_new(&k, NOW, &why);
	assert_int_equal(arc_sealer_finish(s, &chain, "mx.example.net",
	                     "x; none", &out, &why),
	    -1);
	assert_int_equal(out.len, 0);
	arc_sealer_free(s);
	chain.sets = 0;
	chain.cv = ARC_NONE;
	s = arc_sealer_new(&k, NOW, &why);
	assert_int_equal(arc_sealer_finish(s, &chain, "bad id;", "spf=pass",
	                     &out, &why),
	    -1);
	arc_sealer_free(s);
	s = arc_sealer_new(&k, NOW, &why);
	assert_int_equal(arc_sealer_finish(s, &chain, "mx.example.net",
	                     "mx.example.net; spf=pass\r\nX-Injected: 1", &out,
	                     &why),
	    -1);
	assert_int_equal(out.len, 0);
	arc_sealer_free(s);
	buf_reset(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_hops_rsa),
		cmocka_unit_test(test_hops_ed25519),
		cmocka_unit_test(test_hops_mixed),
		cmocka_unit_test(test_seal_failed_chain),
		cmocka_unit_test(test_temporary),
		cmocka_unit_test(test_seal_refuses),
	};

	return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
