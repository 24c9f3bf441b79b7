/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for nexthop_peer_str() (deliver/nexthop.c): the relay= text
 * of the log lines (issue 15) for each kind of next hop, nothing tried,
 * and a destination too small for it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "deliver/nexthop.h"

static const struct peer_case {
	const char *name, *host, *addr;
	unsigned port;
	bool lmtp;
	const char *want;
} cases[] = {
	{ "smtp-v4", "mx1.example.net", "192.0.2.25", 25, false,
	    "smtp:mx1.example.net[192.0.2.25]:25" },
	{ "smtp-v6", "mx.example.com", "2001:db8::25", 25, false,
	    "smtp:mx.example.com[2001:db8::25]:25" },
	{ "smtp-ip-route", "127.0.0.1", "127.0.0.1", 2526, false,
	    "smtp:127.0.0.1[127.0.0.1]:2526" },
	{ "lmtp-tcp", "lmtp.example.org", "192.0.2.24", 24, true,
	    "lmtp:lmtp.example.org[192.0.2.24]:24" },
	{ "lmtp-unix", "", "/run/dovecot/lmtp", 0, true,
	    "lmtp:/run/dovecot/lmtp" },
	/* DNS gave no host, or no address: nothing was tried. */
	{ "none", "", "", 0, false, "" },
	{ "host-no-addr", "mx.example.net", "", 25, false, "" },
};

static void
test_peer_str(void **state)
{
	const struct peer_case *c;
	struct nexthop_peer p;
	char out[NEXTHOP_RELAY_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = &cases[i];
		memset(&p, 0, sizeof(p));
		(void)snprintf(p.host, sizeof(p.host), "%s", c->host);
		(void)snprintf(p.addr, sizeof(p.addr), "%s", c->addr);
		p.port = c->port;
		p.lmtp = c->lmtp;
		memset(out, 'x', sizeof(out));
		if (strcmp(nexthop_peer_str(&p, out, sizeof(out)), c->want) !=
		    0)
			fail_msg("%s: got \"%s\", want \"%s\"", c->name, out,
			    c->want);
	}
}

/* The longest host, address and port fit NEXTHOP_RELAY_MAX whole. */
static void
test_peer_str_limits(void **state)
{
	struct nexthop_peer p;
	char out[NEXTHOP_RELAY_MAX], small[8];

	(void)state;
	memset(&p, 0, sizeof(p));
	memset(p.host, 'h', sizeof(p.host) - 1);
	memset(p.addr, 'a', sizeof(p.addr) - 1);
	p.port = 65535;
	assert_int_equal(strlen(nexthop_peer_str(&p, out, sizeof(out))),
	    5 + (sizeof(p.host) - 1) + 1 + (sizeof(p.addr) - 1) + 2 + 5);
	/* Too small: cut, still a string; size 0 writes nothing. */
	assert_string_equal(nexthop_peer_str(&p, small, sizeof(small)),
	    "smtp:hh");
	small[0] = 'z';
	(void)nexthop_peer_str(&p, small, 0);
	assert_int_equal(small[0], 'z');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peer_str),
		cmocka_unit_test(test_peer_str_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
