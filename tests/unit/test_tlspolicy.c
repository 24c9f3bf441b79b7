/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for deliver/tlspolicy.c (the pure decision of how a hop is
 * secured: RFC 7672 2.2, RFC 8461 4 and 5, RFC 8689 4.1), table-driven,
 * and dns_trust_anchor_name() of dns/dns.c on files written here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "deliver/tlspolicy.h"
#include "dns/dns.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define SEC DNS_SEC_SECURE
#define INS DNS_SEC_INSECURE
#define BOG DNS_SEC_BOGUS
#define ENF TLSPOLICY_STS_MODE_ENFORCE
#define TST TLSPOLICY_STS_MODE_TESTING
#define NOSTS TLSPOLICY_STS_NONE

struct decide_case {
	const char *name;
	struct tlspolicy_facts f;
	bool wants_tlsa;
	enum tlspolicy_kind want;
	const char *why; /* a part of the reason */
};

static const struct decide_case cases[] = {
	/* DANE applies only with DANE on and secure MX and addresses. */
	{ "dane", { true, SEC, SEC, true, DNS_OK, SEC, 2, 1, NOSTS, false },
	    true, TLSPOLICY_DANE, "1 usable TLSA record" },
	{ "dane, several",
	    { true, SEC, SEC, true, DNS_OK, SEC, 3, 2, NOSTS, false }, true,
	    TLSPOLICY_DANE, "2 usable TLSA records" },
	{ "none usable",
	    { true, SEC, SEC, true, DNS_OK, SEC, 2, 0, NOSTS, false }, true,
	    TLSPOLICY_DANE_UNAUTH, "none usable" },
	{ "tlsa bogus",
	    { true, SEC, SEC, true, DNS_TEMP, BOG, 0, 0, NOSTS, false }, true,
	    TLSPOLICY_SKIP, "bogus" },
	{ "tlsa servfail",
	    { true, SEC, SEC, true, DNS_TEMP, INS, 0, 0, NOSTS, false }, true,
	    TLSPOLICY_SKIP, "failed" },
	{ "no tlsa",
	    { true, SEC, SEC, true, DNS_NODATA, SEC, 0, 0, NOSTS, false }, true,
	    TLSPOLICY_OPPORTUNISTIC, "no TLSA" },
	{ "no tlsa name",
	    { true, SEC, SEC, true, DNS_NXDOMAIN, SEC, 0, 0, NOSTS, false },
	    true, TLSPOLICY_OPPORTUNISTIC, "no TLSA" },
	{ "tlsa insecure",
	    { true, SEC, SEC, true, DNS_OK, INS, 1, 1, NOSTS, false }, true,
	    TLSPOLICY_OPPORTUNISTIC, "TLSA answer insecure" },
	{ "mx insecure",
	    { true, INS, SEC, false, DNS_OK, SEC, 1, 1, NOSTS, false }, false,
	    TLSPOLICY_OPPORTUNISTIC, "MX answer insecure" },
	{ "addr insecure",
	    { true, SEC, INS, false, DNS_OK, SEC, 1, 1, NOSTS, false }, false,
	    TLSPOLICY_OPPORTUNISTIC, "address answer insecure" },
	{ "dane off",
	    { false, SEC, SEC, false, DNS_OK, SEC, 1, 1, NOSTS, false }, false,
	    TLSPOLICY_OPPORTUNISTIC, "DANE off" },
	/* A TLSA answer that was not asked for decides nothing. */
	{ "insecure mx, stale facts",
	    { true, INS, SEC, true, DNS_TEMP, BOG, 0, 0, NOSTS, false }, false,
	    TLSPOLICY_OPPORTUNISTIC, "MX answer insecure" },
	/* MTA-STS when DANE does not apply; DANE wins where both do. */
	{ "sts enforce listed",
	    { true, INS, INS, false, 0, INS, 0, 0, ENF, true }, false,
	    TLSPOLICY_STS_ENFORCE, "enforce" },
	{ "sts enforce unlisted",
	    { true, INS, INS, false, 0, INS, 0, 0, ENF, false }, false,
	    TLSPOLICY_SKIP, "does not list" },
	{ "sts testing unlisted",
	    { false, INS, INS, false, 0, INS, 0, 0, TST, false }, false,
	    TLSPOLICY_STS_TESTING, "testing" },
	{ "dane beats sts",
	    { true, SEC, SEC, true, DNS_OK, SEC, 1, 1, ENF, false }, true,
	    TLSPOLICY_DANE, "usable" },
	{ "no tlsa, then sts",
	    { true, SEC, SEC, true, DNS_NODATA, SEC, 0, 0, ENF, true }, true,
	    TLSPOLICY_STS_ENFORCE, "enforce" },
	{ "bogus tlsa beats sts",
	    { true, SEC, SEC, true, DNS_TEMP, BOG, 0, 0, ENF, true }, true,
	    TLSPOLICY_SKIP, "bogus" },
};

static void
test_decide(void **state)
{
	char why[TLSPOLICY_WHY_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		const struct decide_case *c = &cases[i];
		enum tlspolicy_kind k;

		k = tlspolicy_decide(&c->f, why, sizeof(why));
		if (k != c->want || strstr(why, c->why) == NULL ||
		    tlspolicy_wants_tlsa(&c->f) != c->wants_tlsa)
			fail_msg("%s: got %s (%s), want %s (%s)", c->name,
			    tlspolicy_kind_name(k), why,
			    tlspolicy_kind_name(c->want), c->why);
	}
}

static void
test_decide_small_buffer(void **state)
{
	char why[4];

	(void)state;
	assert_int_equal(tlspolicy_decide(&cases[0].f, why, sizeof(why)),
	    TLSPOLICY_DANE);
	assert_int_equal(strlen(why), 3);
	assert_int_equal(tlspolicy_decide(&cases[0].f, why, 0), TLSPOLICY_DANE);
}

static void
test_requiretls(void **state)
{
	static const struct {
		enum tlspolicy_kind in;
		bool ok;
		enum tlspolicy_kind out;
	} t[] = {
		{ TLSPOLICY_DANE, true, TLSPOLICY_DANE },
		{ TLSPOLICY_STS_ENFORCE, true, TLSPOLICY_STS_ENFORCE },
		{ TLSPOLICY_PKIX, true, TLSPOLICY_PKIX },
		{ TLSPOLICY_OPPORTUNISTIC, true, TLSPOLICY_PKIX },
		{ TLSPOLICY_STS_TESTING, true, TLSPOLICY_PKIX },
		{ TLSPOLICY_DANE_UNAUTH, false, TLSPOLICY_DANE_UNAUTH },
		{ TLSPOLICY_SKIP, false, TLSPOLICY_SKIP },
	};
	struct tlspolicy_hop hop;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(t); i++) {
		memset(&hop, 0, sizeof(hop));
		hop.kind = t[i].in;
		hop.mx_authentic = true; /* see the test below */
		assert_int_equal(tlspolicy_hop_requiretls(&hop), t[i].ok);
		assert_int_equal(hop.kind, t[i].out);
	}
	assert_true(tlspolicy_needs_tls(TLSPOLICY_DANE));
	assert_true(tlspolicy_needs_tls(TLSPOLICY_DANE_UNAUTH));
	assert_false(tlspolicy_needs_tls(TLSPOLICY_OPPORTUNISTIC));
	assert_false(tlspolicy_needs_tls(TLSPOLICY_STS_TESTING));
	assert_true(tlspolicy_needs_pkix(TLSPOLICY_STS_ENFORCE));
	assert_false(tlspolicy_needs_pkix(TLSPOLICY_DANE));
	assert_string_equal(tlspolicy_kind_name(TLSPOLICY_DANE), "dane");
	assert_string_equal(tlspolicy_kind_name(TLSPOLICY_STS_ENFORCE), "sts");
	tlspolicy_hop_reset(NULL);
}

/*
 * Review r19, RFC 8689 4.1: REQUIRETLS mail goes to an MX host found by
 * a DNSSEC-validated MX answer or listed in an MTA-STS policy; a name
 * from an unsigned answer could be an attacker's (with a certificate
 * valid for it), so a certificate valid for that name proves nothing.
 */
static void
test_requiretls_needs_an_authentic_mx(void **state)
{
	static const struct {
		enum dns_security mx_sec;
		enum tlspolicy_sts sts;
		const char *policy_mx; /* NULL: no policy */
		bool ok;
	} t[] = {
		{ INS, NOSTS, NULL, false },  /* spoofable MX answer */
		{ SEC, NOSTS, NULL, true },   /* DNSSEC-validated MX */
		{ INS, TST, "mx.example.net", true },  /* policy lists it */
		{ INS, TST, "other.example.net", false },
		{ INS, ENF, "mx.example.net", true },
	};
	struct tlspolicy_domain d;
	struct tlspolicy_hop hop;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(t); i++) {
		memset(&d, 0, sizeof(d));
		(void)snprintf(d.domain, sizeof(d.domain), "example.net");
		d.mx_sec = t[i].mx_sec;
		d.sts = t[i].sts;
		if (t[i].policy_mx != NULL) {
			d.sts_policy.nmx = 1;
			(void)snprintf(d.sts_policy.mx[0],
			    sizeof(d.sts_policy.mx[0]), "%s", t[i].policy_mx);
		}
		tlspolicy_hop(&d, NULL, "mx.example.net", INS, &hop);
		assert_int_equal(tlspolicy_hop_requiretls(&hop), t[i].ok);
		if (t[i].ok)
			assert_true(tlspolicy_needs_pkix(hop.kind));
		tlspolicy_hop_reset(&hop);
	}
}

/* Write text to a new temporary file; its path into path. */
static void
write_tmp(char *path, size_t size, const char *text)
{
	FILE *fp;
	int fd;

	(void)snprintf(path, size, "/tmp/tern-ta-XXXXXX");
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(fp = fdopen(fd, "w"));
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static void
test_anchor_name(void **state)
{
	static const struct {
		const char *text;
		const char *name; /* NULL: -1 */
	} t[] = {
		/* Debian's root.key: comments, then the root's DS/DNSKEY. */
		{ "; // root key\n\n.\t172800\tIN\tDNSKEY\t257 3 8 AwE=\n",
		    "." },
		{ "Example.TEST.\tIN\tDS\t1 13 2 00\n", "example.test" },
		{ "$TTL 60\nsec.test. IN DS 1 13 2 00\n", "sec.test" },
		/* A continuation line is not an owner name. */
		{ "  ( 257 3 8 )\nzone.test. IN DS 1 2 3 4\n", "zone.test" },
		{ "; only a comment\n", NULL },
		{ "", NULL },
	};
	char path[64], name[DNS_NAME_MAX];
	struct why why;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(t); i++) {
		write_tmp(path, sizeof(path), t[i].text);
		if (t[i].name == NULL)
			assert_int_equal(dns_trust_anchor_name(path, name,
			                     sizeof(name), &why),
			    -1);
		else {
			assert_int_equal(dns_trust_anchor_name(path, name,
			                     sizeof(name), &why),
			    0);
			assert_string_equal(name, t[i].name);
		}
		(void)unlink(path);
	}
	assert_int_equal(dns_trust_anchor_name("/nonexistent/root.key", name,
	                     sizeof(name), &why),
	    -1);
	assert_string_equal(dns_security_name(DNS_SEC_BOGUS), "bogus");
	assert_string_equal(dns_security_name(DNS_SEC_SECURE), "secure");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_decide_small_buffer),
		cmocka_unit_test(test_requiretls),
		cmocka_unit_test(test_requiretls_needs_an_authentic_mx),
		cmocka_unit_test(test_anchor_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
