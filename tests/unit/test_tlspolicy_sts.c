/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for deliver/tlspolicy_sts.c, the pure parts: which TLS-RPT
 * result type (RFC 8460 4.3) a certificate error or a client failure
 * text is, and that failures which are not TLS outcomes are not
 * counted as such.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/x509_vfy.h>

#include "client/client.h"
#include "deliver/tlspolicy_sts.h"
#include "deliver/tlsrpt_store.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void
test_result_of(void **state)
{
	static const struct {
		long err;
		enum tlsrpt_result want;
	} cases[] = {
		{ X509_V_ERR_HOSTNAME_MISMATCH, TLSRPT_CERT_HOST_MISMATCH },
		{ X509_V_ERR_IP_ADDRESS_MISMATCH, TLSRPT_CERT_HOST_MISMATCH },
		{ X509_V_ERR_CERT_HAS_EXPIRED, TLSRPT_CERT_EXPIRED },
		{ X509_V_ERR_CERT_NOT_YET_VALID, TLSRPT_CERT_EXPIRED },
		{ X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
		    TLSRPT_CERT_NOT_TRUSTED },
		{ X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
		    TLSRPT_CERT_NOT_TRUSTED },
		{ X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
		    TLSRPT_CERT_NOT_TRUSTED },
		{ X509_V_ERR_CERT_SIGNATURE_FAILURE,
		    TLSRPT_VALIDATION_FAILURE },
		{ X509_V_ERR_CERT_REVOKED, TLSRPT_VALIDATION_FAILURE },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++)
		if (tlspolicy_sts_result_of(cases[i].err) != cases[i].want)
			fail_msg("X509 error %ld", cases[i].err);
}

/* The client's own texts (client_verify_reason()) map back. */
static void
test_failure_of_client_texts(void **state)
{
	static const long errs[] = {
		X509_V_ERR_HOSTNAME_MISMATCH,
		X509_V_ERR_CERT_HAS_EXPIRED,
		X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
		X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
		X509_V_ERR_CERT_REVOKED,
	};
	enum tlsrpt_result r;
	char text[256];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(errs); i++) {
		client_verify_reason(errs[i], "mx.example.test", text,
		    sizeof(text));
		assert_true(tlspolicy_sts_failure_of(text, &r));
		if (r != tlspolicy_sts_result_of(errs[i]))
			fail_msg("%s", text);
	}
}

static void
test_failure_of_other_texts(void **state)
{
	enum tlsrpt_result r;

	(void)state;
	assert_true(tlspolicy_sts_failure_of("mx.example.test: TLS required, "
	                                     "but the server does not offer "
	                                     "STARTTLS",
	    &r));
	assert_int_equal(r, TLSRPT_STARTTLS_NOT_SUPPORTED);
	assert_true(tlspolicy_sts_failure_of("TLS handshake failed", &r));
	assert_int_equal(r, TLSRPT_VALIDATION_FAILURE);
	/* Not TLS outcomes: nothing to count. */
	assert_false(
	    tlspolicy_sts_failure_of("connect: Connection refused", &r));
	assert_false(
	    tlspolicy_sts_failure_of("timeout waiting for greeting", &r));
	assert_false(tlspolicy_sts_failure_of("", &r));
}

/*
 * A TLS-RPT store of our own: these definitions take the place of
 * deliver/tlsrpt_store.c's (the linker takes an archive member only for
 * symbols still missing), so the notes can be looked at.
 */
static struct {
	int calls;
	char domain[256];
	enum tlsrpt_policy_type type;
	char strings[8][300];
	size_t nstrings, nmx;
	char mx0[300];
	bool failed;
	struct tlsrpt_failure f;
} seen;

struct tlsrpt_store *
tlsrpt_store_default(void)
{
	return (struct tlsrpt_store *)&seen; /* never dereferenced */
}

void
tlsrpt_store_note(struct tlsrpt_store *st, const char *domain,
    enum tlsrpt_policy_type type, const char *const *strings, size_t nstrings,
    const char *const *mx, size_t nmx, const struct tlsrpt_failure *failure)
{
	size_t i;

	(void)st;
	seen.calls++;
	(void)snprintf(seen.domain, sizeof(seen.domain), "%s", domain);
	seen.type = type;
	seen.nstrings = nstrings;
	for (i = 0; i < nstrings && i < 8; i++)
		(void)snprintf(seen.strings[i], sizeof(seen.strings[i]), "%s",
		    strings[i]);
	seen.nmx = nmx;
	(void)snprintf(seen.mx0, sizeof(seen.mx0), "%s", nmx ? mx[0] : "");
	seen.failed = failure != NULL;
	if (failure != NULL)
		seen.f = *failure;
}

static void
sts_domain(struct tlspolicy_domain *d, enum tlspolicy_sts sts)
{
	memset(d, 0, sizeof(*d));
	(void)snprintf(d->domain, sizeof(d->domain), "example.test");
	d->sts = sts;
	d->sts_policy.mode =
	    sts == TLSPOLICY_STS_MODE_ENFORCE ? MTASTS_ENFORCE : MTASTS_TESTING;
	d->sts_policy.max_age = 86400;
	d->sts_policy.nmx = 1;
	(void)snprintf(d->sts_policy.mx[0], sizeof(d->sts_policy.mx[0]),
	    "*.example.test");
}

/* An enforce session that failed verification: one note, its kind. */
static void
test_note_enforce_failure(void **state)
{
	struct tlspolicy_domain d;
	char text[256];

	(void)state;
	memset(&seen, 0, sizeof(seen));
	sts_domain(&d, TLSPOLICY_STS_MODE_ENFORCE);
	client_verify_reason(X509_V_ERR_HOSTNAME_MISMATCH, "mx.example.test",
	    text, sizeof(text));
	tlspolicy_sts_session(&d, TLSPOLICY_STS_ENFORCE, "mx.example.test",
	    "192.0.2.1", NULL, text);
	assert_int_equal(seen.calls, 1);
	assert_string_equal(seen.domain, "example.test");
	assert_int_equal(seen.type, TLSRPT_STS);
	/* The policy's lines (RFC 8460 4.4 policy-string) and mx. */
	assert_int_equal(seen.nstrings, 4);
	assert_string_equal(seen.strings[0], "version: STSv1");
	assert_string_equal(seen.strings[1], "mode: enforce");
	assert_string_equal(seen.strings[2], "mx: *.example.test");
	assert_string_equal(seen.strings[3], "max_age: 86400");
	assert_int_equal(seen.nmx, 1);
	assert_string_equal(seen.mx0, "*.example.test");
	assert_true(seen.failed);
	assert_int_equal(seen.f.result, TLSRPT_CERT_HOST_MISMATCH);
	assert_string_equal(seen.f.mx_host, "mx.example.test");
	assert_string_equal(seen.f.mx_ip, "192.0.2.1");
	/* A refused connection is no TLS outcome: not counted. */
	tlspolicy_sts_session(&d, TLSPOLICY_STS_ENFORCE, "mx.example.test",
	    "192.0.2.1", NULL, "connect: Connection refused");
	assert_int_equal(seen.calls, 1);
	/* Hops under other policies, or no policy: nothing. */
	tlspolicy_sts_session(&d, TLSPOLICY_OPPORTUNISTIC, "mx.example.test",
	    "192.0.2.1", NULL, text);
	tlspolicy_sts_session(&d, TLSPOLICY_DANE, "mx.example.test",
	    "192.0.2.1", NULL, text);
	sts_domain(&d, TLSPOLICY_STS_NONE);
	tlspolicy_sts_note(&d, "mx.example.test", "", TLSRPT_CERT_EXPIRED, true,
	    "x");
	assert_int_equal(seen.calls, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_result_of),
		cmocka_unit_test(test_failure_of_client_texts),
		cmocka_unit_test(test_failure_of_other_texts),
		cmocka_unit_test(test_note_enforce_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
