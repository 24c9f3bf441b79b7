/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for smtp/addr.c: RFC 5321 4.1.2 paths and mailboxes, RFC
 * 6531 UTF-8, limits of 4.5.3.1, canonical form and round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/addr.h"

#define L(s) s, sizeof(s) - 1
#define U SMTP_ADDR_UTF8
#define N SMTP_ADDR_NULL_OK
#define P SMTP_ADDR_POSTMASTER_OK

enum { F_NULL = 1, F_PM = 2, F_UTF8 = 4, F_QUOTED = 8, F_LIT = 16 };

struct addr_case {
	const char *name;
	const char *in;
	size_t n;
	unsigned flags;
	bool ok;
	const char *local;  /* ok: expected; !ok: expected reason */
	const char *domain; /* ok only */
	unsigned bits;      /* F_* */
	size_t used;        /* path only; 0 means n */
};

static const struct addr_case path_cases[] = {
	/* valid */
	{ "simple", L("<a@b.example>"), 0, true, "a", "b.example", 0, 0 },
	{ "null", L("<>"), N, true, "", "", F_NULL, 0 },
	{ "null-then-params", L("<> SIZE=1"), N, true, "", "", F_NULL, 2 },
	{ "postmaster-bare", L("<Postmaster>"), P, true, "postmaster", "", F_PM,
	    0 },
	{ "postmaster-upper", L("<POSTMASTER>"), P, true, "postmaster", "",
	    F_PM, 0 },
	{ "postmaster-domain", L("<postmaster@x.example>"), P, true,
	    "postmaster", "x.example", 0, 0 },
	{ "quoted-plain", L("<\"john\"@x>"), 0, true, "john", "x", 0, 0 },
	{ "quoted-dots", L("<\"j.o.hn\"@x>"), 0, true, "j.o.hn", "x", 0, 0 },
	{ "quoted-space", L("<\"john doe\"@x>"), 0, true, "\"john doe\"", "x",
	    F_QUOTED, 0 },
	{ "quoted-escaped-quote", L("<\"a\\\"b\"@x>"), 0, true, "\"a\\\"b\"",
	    "x", F_QUOTED, 0 },
	{ "quoted-escaped-bs", L("<\"a\\\\b\"@x>"), 0, true, "\"a\\\\b\"", "x",
	    F_QUOTED, 0 },
	{ "quoted-needless-escape", L("<\"a\\ b\"@x>"), 0, true, "\"a b\"", "x",
	    F_QUOTED, 0 },
	{ "quoted-escape-to-atom", L("<\"a\\b\"@x>"), 0, true, "ab", "x", 0,
	    0 },
	{ "quoted-double-dot", L("<\"a..b\"@x>"), 0, true, "\"a..b\"", "x",
	    F_QUOTED, 0 },
	{ "quoted-at", L("<\"a@b\"@x>"), 0, true, "\"a@b\"", "x", F_QUOTED, 0 },
	{ "percent-bang", L("<a%b!c@x>"), 0, true, "a%b!c", "x", 0, 0 },
	{ "all-atext", L("<!#$%&'*+-/=?^_`{|}~@x>"), 0, true,
	    "!#$%&'*+-/=?^_`{|}~", "x", 0, 0 },
	{ "route-one", L("<@a:u@d>"), 0, true, "u", "d", 0, 0 },
	{ "route-two", L("<@a.example,@b.example:u@d>"), 0, true, "u", "d", 0,
	    0 },
	{ "trailing-dot", L("<a@b.example.>"), 0, true, "a", "b.example", 0,
	    0 },
	{ "single-label", L("<a@localhost>"), 0, true, "a", "localhost", 0, 0 },
	{ "digit-domain", L("<a@1.2.3.4>"), 0, true, "a", "1.2.3.4", 0, 0 },
	{ "hyphen-inside", L("<a@a-b.c--d>"), 0, true, "a", "a-b.c--d", 0, 0 },
	{ "case-kept", L("<AbC@ExAmPle.ORG>"), 0, true, "AbC", "ExAmPle.ORG", 0,
	    0 },
	{ "ipv4", L("<a@[192.0.2.1]>"), 0, true, "a", "[192.0.2.1]", F_LIT, 0 },
	{ "ipv4-zeros", L("<a@[001.0.0.255]>"), 0, true, "a", "[001.0.0.255]",
	    F_LIT, 0 },
	{ "ipv6", L("<a@[IPv6:2001:db8::1]>"), 0, true, "a",
	    "[IPv6:2001:db8::1]", F_LIT, 0 },
	{ "ipv6-lower-tag", L("<a@[ipv6:::1]>"), 0, true, "a", "[ipv6:::1]",
	    F_LIT, 0 },
	{ "ipv6-v4", L("<a@[IPv6:::ffff:192.0.2.1]>"), 0, true, "a",
	    "[IPv6:::ffff:192.0.2.1]", F_LIT, 0 },
	{ "ipv6-full", L("<a@[IPv6:1:2:3:4:5:6:7:8]>"), 0, true, "a",
	    "[IPv6:1:2:3:4:5:6:7:8]", F_LIT, 0 },
	{ "utf8-local", L("<j\xc3\xb6@x>"), U, true, "j\xc3\xb6", "x", F_UTF8,
	    0 },
	{ "utf8-domain",
	    L("<a@b\xc3\xbc"
	      "cher.de>"),
	    U, true, "a",
	    "b\xc3\xbc"
	    "cher.de",
	    F_UTF8, 0 },
	{ "utf8-4byte", L("<\xf0\x9f\x98\x80@x>"), U, true, "\xf0\x9f\x98\x80",
	    "x", F_UTF8, 0 },
	{ "utf8-quoted", L("<\"j \xc3\xb6\"@x>"), U, true, "\"j \xc3\xb6\"",
	    "x", F_UTF8 | F_QUOTED, 0 },
	{ "ascii-with-utf8-flag", L("<a@b>"), U, true, "a", "b", 0, 0 },
	{ "rest-is-callers", L("<a@b> SIZE=1"), 0, true, "a", "b", 0, 5 },
	{ "rest-angle", L("<a@b>>"), 0, true, "a", "b", 0, 5 },
	/* invalid */
	{ "empty", L(""), N, false, "address must be in <>", 0, 0, 0 },
	{ "no-brackets", L("a@b"), 0, false, "address must be in <>", 0, 0, 0 },
	{ "lt-only", L("<"), 0, false, "empty local part", 0, 0, 0 },
	{ "missing-gt", L("<a@b"), 0, false, "missing >", 0, 0, 0 },
	{ "double-lt", L("<<a@b>>"), 0, false,
	    "invalid character in local part", 0, 0, 0 },
	{ "null-not-ok", L("<>"), P | U, false, "null address not allowed", 0,
	    0, 0 },
	{ "postmaster-not-ok", L("<postmaster>"), N | U, false,
	    "missing @domain", 0, 0, 0 },
	{ "route-postmaster", L("<@a:postmaster>"), P, false, "missing @domain",
	    0, 0, 0 },
	{ "route-only", L("<@b.c>"), 0, false, "invalid source route", 0, 0,
	    0 },
	{ "route-no-at", L("<@a,u@d>"), 0, false, "invalid source route", 0, 0,
	    0 },
	{ "route-empty", L("<@:u@d>"), 0, false, "missing domain", 0, 0, 0 },
	{ "route-comma-colon", L("<@a,:u@d>"), 0, false, "invalid source route",
	    0, 0, 0 },
	{ "route-literal", L("<@[1.2.3.4]:u@d>"), 0, false,
	    "invalid character in domain", 0, 0, 0 },
	{ "route-twice", L("<@a:@b:u@d>"), 0, false, "empty local part", 0, 0,
	    0 },
	{ "empty-local", L("<@>"), 0, false, "missing domain", 0, 0, 0 },
	{ "empty-local-2", L("<@x.y"), 0, false, "invalid source route", 0, 0,
	    0 },
	{ "empty-quoted", L("<\"\"@x>"), 0, false, "empty local part", 0, 0,
	    0 },
	{ "lead-dot", L("<.a@x>"), 0, false, "local part starts with a dot", 0,
	    0, 0 },
	{ "trail-dot", L("<a.@x>"), 0, false, "local part ends with a dot", 0,
	    0, 0 },
	{ "double-dot", L("<a..b@x>"), 0, false,
	    "consecutive dots in local part", 0, 0, 0 },
	{ "unbalanced-quote", L("<\"a@x>"), 0, false,
	    "unbalanced quote in local part", 0, 0, 0 },
	{ "escaped-close", L("<\"a\\\"@x>"), 0, false,
	    "unbalanced quote in local part", 0, 0, 0 },
	{ "quote-mid-atom", L("<a\"b\"@x>"), 0, false,
	    "invalid character in local part", 0, 0, 0 },
	{ "ctl",
	    L("<a\x01"
	      "b@x>"),
	    0, false, "control character in address", 0, 0, 0 },
	{ "nul", L("<a\0b@x>"), 0, false, "control character in address", 0, 0,
	    0 },
	{ "nul-in-domain", L("<a@b\0c>"), 0, false,
	    "control character in address", 0, 0, 0 },
	{ "del-quoted", L("<\"a\x7f\"@x>"), 0, false,
	    "control character in address", 0, 0, 0 },
	{ "bad-quoted-pair", L("<\"a\\\x01\"@x>"), 0, false,
	    "control character in address", 0, 0, 0 },
	{ "tab-quoted", L("<\"a\tb\"@x>"), 0, false,
	    "control character in address", 0, 0, 0 },
	{ "space", L("<a b@x>"), 0, false, "invalid character in local part", 0,
	    0, 0 },
	{ "8bit-no-flag", L("<j\xc3\xb6@x>"), N | P, false,
	    "8-bit character without SMTPUTF8", 0, 0, 0 },
	{ "8bit-domain-no-flag", L("<a@b\xc3\xa9>"), 0, false,
	    "8-bit character without SMTPUTF8", 0, 0, 0 },
	{ "utf8-truncated", L("<j\xc3@x>"), U, false, "invalid UTF-8", 0, 0,
	    0 },
	{ "utf8-overlong", L("<j\xc0\xaf@x>"), U, false, "invalid UTF-8", 0, 0,
	    0 },
	{ "utf8-overlong-3", L("<j\xe0\x80\xaf@x>"), U, false, "invalid UTF-8",
	    0, 0, 0 },
	{ "utf8-surrogate", L("<j\xed\xa0\x80@x>"), U, false, "invalid UTF-8",
	    0, 0, 0 },
	{ "utf8-too-big", L("<j\xf4\x90\x80\x80@x>"), U, false, "invalid UTF-8",
	    0, 0, 0 },
	{ "utf8-c1", L("<j\xc2\x85@x>"), U, false,
	    "control character in address", 0, 0, 0 },
	{ "utf8-lone-cont", L("<a@\x80>"), U, false, "invalid UTF-8", 0, 0, 0 },
	{ "missing-domain", L("<a@>"), 0, false, "missing domain", 0, 0, 0 },
	{ "missing-at", L("<a>"), 0, false, "missing @domain", 0, 0, 0 },
	{ "two-at", L("<a@b@c>"), 0, false, "invalid character in domain", 0, 0,
	    0 },
	{ "empty-label", L("<a@b..c>"), 0, false, "empty label in domain", 0, 0,
	    0 },
	{ "lead-dot-domain", L("<a@.b>"), 0, false, "empty label in domain", 0,
	    0, 0 },
	{ "two-trailing-dots", L("<a@b.c..>"), 0, false,
	    "empty label in domain", 0, 0, 0 },
	{ "only-dot", L("<a@.>"), 0, false, "empty label in domain", 0, 0, 0 },
	{ "hyphen-start", L("<a@-b.c>"), 0, false,
	    "hyphen at the end of a domain label", 0, 0, 0 },
	{ "hyphen-end", L("<a@b-.c>"), 0, false,
	    "hyphen at the end of a domain label", 0, 0, 0 },
	{ "underscore", L("<a@b_c>"), 0, false, "invalid character in domain",
	    0, 0, 0 },
	{ "space-domain", L("<a@b c>"), 0, false, "invalid character in domain",
	    0, 0, 0 },
	{ "ipv4-short", L("<a@[1.2.3]>"), 0, false,
	    "invalid IPv4 address literal", 0, 0, 0 },
	{ "ipv4-256", L("<a@[256.1.1.1]>"), 0, false,
	    "invalid IPv4 address literal", 0, 0, 0 },
	{ "ipv4-long", L("<a@[1.2.3.4.5]>"), 0, false,
	    "invalid IPv4 address literal", 0, 0, 0 },
	{ "ipv4-4digits", L("<a@[0001.1.1.1]>"), 0, false,
	    "invalid IPv4 address literal", 0, 0, 0 },
	{ "ipv4-empty-part", L("<a@[1..2.3]>"), 0, false,
	    "invalid IPv4 address literal", 0, 0, 0 },
	{ "ipv6-two-gaps", L("<a@[IPv6:1::2::3]>"), 0, false,
	    "invalid IPv6 address literal", 0, 0, 0 },
	{ "ipv6-empty", L("<a@[IPv6:]>"), 0, false, "invalid address literal",
	    0, 0, 0 },
	{ "ipv6-no-tag", L("<a@[::1]>"), 0, false, "invalid address literal", 0,
	    0, 0 },
	{ "ipv6-too-many", L("<a@[IPv6:1:2:3:4:5:6:7:8:9]>"), 0, false,
	    "invalid IPv6 address literal", 0, 0, 0 },
	{ "general-literal", L("<a@[x400:foo]>"), 0, false,
	    "unsupported address literal tag", 0, 0, 0 },
	{ "empty-literal", L("<a@[]>"), 0, false, "invalid address literal", 0,
	    0, 0 },
	{ "unterminated-literal", L("<a@[1.2.3.4>"), 0, false,
	    "unterminated address literal", 0, 0, 0 },
	{ "literal-junk", L("<a@[1.2.3.4]x>"), 0, false,
	    "invalid character in domain", 0, 0, 0 },
	{ "literal-bracket", L("<a@[1[2]>"), 0, false,
	    "invalid character in address literal", 0, 0, 0 },
};

/* Build "<" + local(ln) + "@" + labels(dn) + ">" of exact sizes. */
static size_t
make(char *dst, size_t ln, size_t dn, bool brackets)
{
	size_t o = 0, i, lab = 0;

	if (brackets)
		dst[o++] = '<';
	for (i = 0; i < ln; i++)
		dst[o++] = 'l';
	dst[o++] = '@';
	for (i = 0; i < dn; i++) {
		/* 50-octet labels with dots between, never ending in '.' */
		if (lab == 50 && i + 1 < dn) {
			dst[o++] = '.';
			lab = 0;
			continue;
		}
		dst[o++] = 'd';
		lab++;
	}
	if (brackets)
		dst[o++] = '>';
	dst[o] = '\0';
	return o;
}

static void
check_ok(const char *name, const struct smtp_addr *a, const struct addr_case *c)
{
	if (strcmp(a->local, c->local) != 0)
		fail_msg("%s: local \"%s\"", name, a->local);
	if (strcmp(a->domain, c->domain) != 0)
		fail_msg("%s: domain \"%s\"", name, a->domain);
	if (a->is_null != !!(c->bits & F_NULL) ||
	    a->is_postmaster_bare != !!(c->bits & F_PM) ||
	    a->utf8 != !!(c->bits & F_UTF8) ||
	    a->quoted != !!(c->bits & F_QUOTED) ||
	    a->literal != !!(c->bits & F_LIT))
		fail_msg("%s: flags", name);
}

/* Format, then re-parse as a mailbox and as a path: same struct. */
static void
round_trip(const char *name, const struct smtp_addr *a)
{
	unsigned fl = U | N | P;
	char s[SMTP_ADDR_FMT_MAX], path[SMTP_ADDR_FMT_MAX + 2];
	struct smtp_addr b;
	const char *why;
	size_t used;
	int n;

	n = smtp_addr_format(a, s, sizeof(s));
	assert_true(n >= 0);
	assert_int_equal(smtp_addr_format(a, s, (size_t)n), -1);
	assert_int_equal(smtp_addr_format(a, s, (size_t)n + 1), n);
	if (!smtp_mailbox_parse(s, (size_t)n, fl, &b, &why))
		fail_msg("%s: re-parse \"%s\": %s", name, s, why);
	if (memcmp(a, &b, sizeof(b)) != 0)
		fail_msg("%s: re-parse \"%s\" differs", name, s);
	if (a->is_null || a->is_postmaster_bare ||
	    (size_t)n + 2 > SMTP_PATH_MAX)
		return;
	snprintf(path, sizeof(path), "<%s>", s);
	if (!smtp_path_parse(path, (size_t)n + 2, fl, &b, &used, &why))
		fail_msg("%s: re-parse %s: %s", name, path, why);
	assert_memory_equal(a, &b, sizeof(b));
}

static void
test_path(void **state)
{
	struct smtp_addr a, zero;
	const char *why;
	size_t i, used, cut;
	bool ok;

	(void)state;
	memset(&zero, 0, sizeof(zero));
	for (i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct addr_case *c = &path_cases[i];

		ok = smtp_path_parse(c->in, c->n, c->flags, &a, &used, &why);
		if (ok != c->ok)
			fail_msg("%s: got %s (%s)", c->name, ok ? "ok" : "fail",
			    ok ? "" : why);
		if (!ok) {
			if (strcmp(why, c->local) != 0)
				fail_msg("%s: why \"%s\"", c->name, why);
			assert_int_equal(used, 0);
			assert_memory_equal(&a, &zero, sizeof(a));
			continue;
		}
		assert_null(why);
		check_ok(c->name, &a, c);
		assert_int_equal(used, c->used ? c->used : c->n);
		round_trip(c->name, &a);
		/* No proper prefix of a path is a path. */
		for (cut = 0; cut < used; cut++)
			if (smtp_path_parse(c->in, cut, c->flags, &a, &used,
			        &why))
				fail_msg("%s: prefix %zu parsed", c->name, cut);
	}
}

static const struct addr_case mailbox_cases[] = {
	/* valid */
	{ "simple", L("a@b"), 0, true, "a", "b", 0, 0 },
	{ "null", L(""), N, true, "", "", F_NULL, 0 },
	{ "postmaster", L("PostMaster"), P, true, "postmaster", "", F_PM, 0 },
	{ "quoted", L("\"a b\"@c"), 0, true, "\"a b\"", "c", F_QUOTED, 0 },
	{ "literal", L("a@[IPv6:::1]"), 0, true, "a", "[IPv6:::1]", F_LIT, 0 },
	{ "utf8", L("\xc3\xa9@\xc3\xa9"), U, true, "\xc3\xa9", "\xc3\xa9",
	    F_UTF8, 0 },
	/* invalid */
	{ "empty", L(""), U | P, false, "empty address", 0, 0, 0 },
	{ "postmaster-not-ok", L("postmaster"), N, false, "missing @domain", 0,
	    0, 0 },
	{ "brackets", L("<a@b>"), 0, false, "invalid character in local part",
	    0, 0, 0 },
	{ "trailing-gt", L("a@b>"), 0, false, "invalid character in domain", 0,
	    0, 0 },
	{ "trailing-sp", L("a@b "), 0, false, "invalid character in domain", 0,
	    0, 0 },
	{ "no-domain", L("a"), 0, false, "missing @domain", 0, 0, 0 },
	{ "nul-after", L("a@b\0"), 0, false, "control character in address", 0,
	    0, 0 },
	{ "8bit", L("\xc3\xa9@x"), 0, false, "8-bit character without SMTPUTF8",
	    0, 0, 0 },
};

static void
test_mailbox(void **state)
{
	struct smtp_addr a;
	const char *why;
	size_t i;
	bool ok;

	(void)state;
	for (i = 0; i < sizeof(mailbox_cases) / sizeof(mailbox_cases[0]); i++) {
		const struct addr_case *c = &mailbox_cases[i];

		ok = smtp_mailbox_parse(c->in, c->n, c->flags, &a, &why);
		if (ok != c->ok)
			fail_msg("%s: got %s", c->name, ok ? "ok" : why);
		if (!ok) {
			if (strcmp(why, c->local) != 0)
				fail_msg("%s: why \"%s\"", c->name, why);
			continue;
		}
		check_ok(c->name, &a, c);
		round_trip(c->name, &a);
	}
}

/* RFC 5321 4.5.3.1: every limit at -1, at, +1. */
static void
test_limits(void **state)
{
	char buf[600], q[80];
	struct smtp_addr a;
	const char *why;
	size_t n, used, i;

	(void)state;
	/* Local part, 4.5.3.1.1: 64 octets. */
	for (i = 63; i <= 65; i++) {
		n = make(buf, i, 1, true);
		assert_int_equal(smtp_path_parse(buf, n, 0, &a, &used, &why),
		    i <= SMTP_LOCAL_MAX);
		if (i > SMTP_LOCAL_MAX)
			assert_string_equal(why, "local part too long");
		else
			assert_int_equal(strlen(a.local), i);
	}
	/* Quoted local part: the limit is on the octets as sent. */
	for (i = 63; i <= 65; i++) {
		memset(q, ' ', sizeof(q));
		q[0] = '"';
		q[i - 1] = '"';
		memcpy(q + i, "@x", 3);
		assert_int_equal(smtp_mailbox_parse(q, i + 2, 0, &a, &why),
		    i <= SMTP_LOCAL_MAX);
		if (i <= SMTP_LOCAL_MAX)
			assert_int_equal(strlen(a.local), i);
	}
	/* Quoted content that is an atom: canonical form is shorter. */
	memset(q, 'a', sizeof(q));
	q[0] = '"';
	q[63] = '"';
	memcpy(q + 64, "@x", 3);
	assert_true(smtp_mailbox_parse(q, 66, 0, &a, &why));
	assert_int_equal(strlen(a.local), 62);
	/* Label, RFC 1035 2.3.4: 63 octets. */
	for (i = 62; i <= 64; i++) {
		n = make(buf, 1, 0, false);
		memset(buf + n, 'd', i);
		n += i;
		assert_int_equal(smtp_mailbox_parse(buf, n, 0, &a, &why),
		    i <= SMTP_LABEL_MAX);
		if (i > SMTP_LABEL_MAX)
			assert_string_equal(why, "domain label too long");
	}
	/* Domain, 4.5.3.1.2: 255 octets (mailbox: no path limit). */
	for (i = 254; i <= 256; i++) {
		n = make(buf, 1, i, false);
		assert_int_equal(smtp_mailbox_parse(buf, n, 0, &a, &why),
		    i <= SMTP_DOMAIN_MAX);
		if (i > SMTP_DOMAIN_MAX)
			assert_string_equal(why, "domain too long");
		else
			assert_int_equal(strlen(a.domain), i);
	}
	/* Domain 255 plus the dropped trailing dot. */
	n = make(buf, 1, 255, false);
	buf[n++] = '.';
	assert_true(smtp_mailbox_parse(buf, n, 0, &a, &why));
	/* Path, 4.5.3.1.3: 256 octets including "<" and ">". */
	for (i = 255; i <= 257; i++) {
		n = make(buf, 10, i - 13, true);
		assert_int_equal(n, i);
		assert_int_equal(smtp_path_parse(buf, n, 0, &a, &used, &why),
		    i <= SMTP_PATH_MAX);
		if (i > SMTP_PATH_MAX)
			assert_string_equal(why, "address too long");
	}
	/* A long source route counts towards the path. */
	n = 0;
	buf[n++] = '<';
	for (i = 0; i < 60; i++) {
		memcpy(buf + n, "@abc,", 5);
		n += 5;
	}
	memcpy(buf + n - 1, ":u@d>", 5);
	n += 4;
	assert_false(smtp_path_parse(buf, n, 0, &a, &used, &why));
	assert_string_equal(why, "address too long");
}

static void
test_format(void **state)
{
	struct smtp_addr a;
	const char *why;
	char s[16];

	(void)state;
	assert_true(smtp_mailbox_parse(L("ab@cd"), 0, &a, &why));
	assert_int_equal(smtp_addr_format(&a, s, 5), -1);
	assert_string_equal(s, "");
	assert_int_equal(smtp_addr_format(&a, s, 6), 5);
	assert_string_equal(s, "ab@cd");
	assert_int_equal(smtp_addr_format(&a, s, 0), -1);
	memset(&a, 0, sizeof(a));
	a.is_null = true;
	assert_int_equal(smtp_addr_format(&a, s, 1), 0);
	a.is_null = false;
	a.is_postmaster_bare = true;
	assert_int_equal(smtp_addr_format(&a, s, 10), -1);
	assert_int_equal(smtp_addr_format(&a, s, 11), 10);
	assert_string_equal(s, "postmaster");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_mailbox),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
