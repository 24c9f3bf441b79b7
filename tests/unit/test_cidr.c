/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for util/cidr.c: parsing (prefix 0, max, max+1, host bits),
 * matching IPv4, IPv6 and IPv4-mapped IPv6 clients, and the per-client
 * key (issue 14: an IPv6 client's network of a configurable prefix).
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

#include "util/cidr.h"

struct parse_case {
	const char *in;
	bool ok;
	const char *fmt; /* formatted back, when ok */
};

static const struct parse_case parse_cases[] = {
	{ "127.0.0.1/32", true, "127.0.0.1/32" },
	{ "127.0.0.1", true, "127.0.0.1/32" },
	{ "10.0.0.0/8", true, "10.0.0.0/8" },
	{ "0.0.0.0/0", true, "0.0.0.0/0" },
	{ "192.168.1.128/25", true, "192.168.1.128/25" },
	{ "::1/128", true, "::1/128" },
	{ "::1", true, "::1/128" },
	{ "2001:db8::/32", true, "2001:db8::/32" },
	{ "::/0", true, "::/0" },
	{ "fe80::/10", true, "fe80::/10" },
	/* invalid */
	{ "", false, NULL },
	{ "/8", false, NULL },
	{ "10.0.0.0/", false, NULL },
	{ "10.0.0.0/33", false, NULL },
	{ "::/129", false, NULL },
	{ "10.0.0.0/-1", false, NULL },
	{ "10.0.0.0/8x", false, NULL },
	{ "10.0.0.0/0008", false, NULL },
	{ "10.0.0.1/8", false, NULL },
	{ "192.168.1.129/25", false, NULL },
	{ "2001:db8::1/32", false, NULL },
	{ "10.0.0", false, NULL },
	{ "localhost", false, NULL },
	{ "10.0.0.0 /8", false, NULL },
	{ "1.2.3.4.5", false, NULL },
};

static void
test_parse(void **state)
{
	char buf[CIDR_STR_MAX];
	struct cidr c;
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *pc = &parse_cases[i];
		bool ok = cidr_parse(pc->in, strlen(pc->in), &c, &why);

		if (ok != pc->ok)
			fail_msg("%s: got %d", pc->in, ok);
		if (!ok) {
			assert_non_null(why);
			continue;
		}
		cidr_format(&c, buf, sizeof(buf));
		assert_string_equal(buf, pc->fmt);
	}
}

static struct sockaddr_storage
sa_of(const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
	}
	return ss;
}

struct match_case {
	const char *net, *ip;
	bool want;
};

static const struct match_case match_cases[] = {
	{ "127.0.0.1/32", "127.0.0.1", true },
	{ "127.0.0.1/32", "127.0.0.2", false },
	{ "127.0.0.0/8", "127.255.255.255", true },
	{ "127.0.0.0/8", "128.0.0.0", false },
	{ "192.168.1.128/25", "192.168.1.255", true },
	{ "192.168.1.128/25", "192.168.1.127", false },
	{ "0.0.0.0/0", "203.0.113.9", true },
	{ "0.0.0.0/0", "::1", false },
	{ "::1/128", "::1", true },
	{ "::1/128", "::2", false },
	{ "2001:db8::/33", "2001:db8:7fff::1", true },
	{ "2001:db8::/33", "2001:db8:8000::1", false },
	{ "::/0", "127.0.0.1", false },
	{ "127.0.0.0/8", "::ffff:127.0.0.5", true },
	{ "127.0.0.0/8", "::ffff:10.0.0.5", false },
	{ "::ffff:0:0/96", "::ffff:10.0.0.5", true },
};

static void
test_match(void **state)
{
	struct sockaddr_storage ss;
	struct cidr c;
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		const struct match_case *m = &match_cases[i];

		assert_true(cidr_parse(m->net, strlen(m->net), &c, &why));
		ss = sa_of(m->ip);
		if (cidr_match(&c, (struct sockaddr *)&ss) != m->want)
			fail_msg("%s in %s: want %d", m->ip, m->net, m->want);
		assert_int_equal(
		    cidr_match_any(&c, 1, (struct sockaddr *)&ss), m->want);
	}
	ss = sa_of("10.0.0.1");
	assert_false(cidr_match_any(NULL, 0, (struct sockaddr *)&ss));
}

struct key_case {
	const char *ip;
	unsigned prefix;
	const char *want;
};

static const struct key_case key_cases[] = {
	/* IPv4, and IPv4 on a dual-stack socket: the address, any prefix. */
	{ "192.0.2.1", 64, "192.0.2.1" },
	{ "127.0.0.2", 128, "127.0.0.2" },
	{ "::ffff:192.0.2.1", 64, "192.0.2.1" },
	{ "::ffff:192.0.2.1", 32, "192.0.2.1" },
	/* IPv6: the network of prefix bits, host bits cleared. */
	{ "2001:db8:1::1", 64, "2001:db8:1::/64" },
	{ "2001:db8:1:0:ffff:ffff:ffff:ffff", 64, "2001:db8:1::/64" },
	{ "2001:db8:1:1::1", 64, "2001:db8:1:1::/64" },
	{ "2001:db8:1:ff::1", 56, "2001:db8:1::/56" },
	{ "2001:db8:1:100::1", 56, "2001:db8:1:100::/56" },
	{ "2001:db8:ffff:ffff::1", 32, "2001:db8::/32" },
	{ "2001:db8:1:ffff::1", 63, "2001:db8:1:fffe::/63" },
	{ "2001:db8:1:ffff::1", 65, "2001:db8:1:ffff::/65" },
	{ "2001:db8:1:ffff:ffff::1", 65, "2001:db8:1:ffff:8000::/65" },
	{ "2001:db8::1", 127, "2001:db8::/127" },
	{ "2001:db8::1", 128, "2001:db8::1/128" },
	{ "::1", 64, "::/64" },
	/* Out of range reads as 128: never a wider net than asked for. */
	{ "2001:db8::1", 0, "2001:db8::1/128" },
	{ "2001:db8::1", 129, "2001:db8::1/128" },
};

static void
test_client_key(void **state)
{
	struct sockaddr_storage ss;
	char buf[CIDR_STR_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(key_cases) / sizeof(key_cases[0]); i++) {
		const struct key_case *k = &key_cases[i];

		ss = sa_of(k->ip);
		cidr_client_key((struct sockaddr *)&ss, k->prefix, buf,
		    sizeof(buf));
		if (strcmp(buf, k->want) != 0)
			fail_msg("%s/%u: got %s, want %s", k->ip, k->prefix,
			    buf, k->want);
	}
	/* The longest key fits CIDR_STR_MAX. */
	ss = sa_of("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	cidr_client_key((struct sockaddr *)&ss, 128, buf, sizeof(buf));
	assert_string_equal(buf, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	cidr_client_key((struct sockaddr *)&ss, 64, buf, sizeof(buf));
	assert_string_equal(buf, "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_client_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
