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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_result_of),
		cmocka_unit_test(test_failure_of_client_texts),
		cmocka_unit_test(test_failure_of_other_texts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
