/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for dir/subaddr.c: where a local part splits, which
 * delivered recipient is a subaddress of its mailbox, and which details
 * may name a Maildir++ folder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dir/subaddr.h"

struct split_case {
	const char *name;
	const char *local;
	const char *delims;
	size_t want;
};

static const struct split_case split_cases[] = {
	{ "plus", "alice+news", "+", 5 },
	{ "first-of-two", "a+b+c", "+", 1 },
	{ "set", "alice-news", "+-", 5 },
	{ "set-first-wins", "a-b+c", "+-", 1 },
	{ "empty-detail", "alice+", "+", 5 },
	{ "none", "alice", "+", 5 },
	{ "leading", "+news", "+", 5 },
	{ "only", "+", "+", 1 },
	{ "other-char", "alice-news", "+", 10 },
	{ "off-empty", "alice+news", "", 10 },
	{ "off-null", "alice+news", NULL, 10 },
	{ "empty-local", "", "+", 0 },
	{ "utf8", "j\xc3\xb6rg+x", "+", 5 },
};

static void
test_split(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
		const struct split_case *c = &split_cases[i];
		size_t got =
		    subaddr_split(c->local, strlen(c->local), c->delims);

		if (got != c->want)
			fail_msg("%s: %zu, want %zu", c->name, got, c->want);
	}
}

struct detail_case {
	const char *name;
	const char *addr, *orcpt, *delims;
	const char *want; /* NULL: not a subaddress */
};

static const struct detail_case detail_cases[] = {
	{ "plain", "alice@x.org", "alice+news@x.org", "+", "news" },
	{ "empty", "alice@x.org", "alice+@x.org", "+", "" },
	{ "nested", "alice@x.org", "alice+a+b@x.org", "+", "a+b" },
	{ "dots", "alice@x.org", "alice+lists.debian@x.org", "+",
	    "lists.debian" },
	{ "set", "alice@x.org", "alice-news@x.org", "+-", "news" },
	{ "same", "alice@x.org", "alice@x.org", "+", NULL },
	{ "exact-user", "alice+news@x.org", "alice+news@x.org", "+", NULL },
	{ "other-domain", "alice@x.org", "alice+news@y.org", "+", NULL },
	{ "other-user", "bob@x.org", "alice+news@x.org", "+", NULL },
	{ "prefix-only", "al@x.org", "alice+news@x.org", "+", NULL },
	{ "alias", "alice@x.org", "team+news@x.org", "+", NULL },
	{ "off", "alice@x.org", "alice+news@x.org", "", NULL },
	{ "split-earlier", "a-b@x.org", "a-b+c@x.org", "+-", NULL },
	{ "no-at", "alice", "alice+news", "+", NULL },
	{ "domain-suffix", "alice@x.org", "alice+n@ax.org", "+", NULL },
};

static void
test_detail(void **state)
{
	const char *d;
	size_t i, n, nbad = 0;
	bool ok;

	(void)state;
	for (i = 0; i < sizeof(detail_cases) / sizeof(detail_cases[0]); i++) {
		const struct detail_case *c = &detail_cases[i];

		d = NULL;
		n = 99;
		ok = subaddr_detail(c->addr, c->orcpt, c->delims, &d, &n);
		if (ok != (c->want != NULL))
			fail_msg("%s: %s", c->name, ok ? "split" : "no split");
		if (ok && (n != strlen(c->want) || memcmp(d, c->want, n) != 0))
			fail_msg("%s: detail '%.*s', want '%s'", c->name,
			    (int)n, d, c->want);
		nbad += c->want == NULL;
	}
	assert_true(nbad * 2 >= i);
}

struct folder_case {
	const char *name;
	const char *detail;
	bool ok;
};

static const struct folder_case folder_cases[] = {
	{ "word", "news", true },
	{ "nested", "lists.debian", true },
	{ "plus", "a+b", true },
	{ "dash", "new-stuff", true },
	{ "empty", "", false },
	{ "dot", ".", false },
	{ "dotdot", "..", false },
	{ "leading-dot", ".news", false },
	{ "trailing-dot", "news.", false },
	{ "double-dot", "a..b", false },
	{ "slash", "a/b", false },
	{ "up", "../../etc", false },
	{ "amp", "a&b", false },
	{ "star", "a*", false },
	{ "percent", "a%b", false },
	{ "quote", "a\"b", false },
	{ "backslash", "a\\b", false },
	{ "space", "a b", false },
	{ "tab", "a\tb", false },
	{ "newline", "a\nb", false },
	{ "del", "a\x7f", false },
	{ "utf8", "\xc3\xa9t\xc3\xa9", false },
};

static void
test_folder(void **state)
{
	char max[SUBADDR_FOLDER_MAX + 2];
	size_t i, nbad = 0;

	(void)state;
	for (i = 0; i < sizeof(folder_cases) / sizeof(folder_cases[0]); i++) {
		const struct folder_case *c = &folder_cases[i];

		if (subaddr_folder_ok(c->detail, strlen(c->detail)) != c->ok)
			fail_msg("%s: %s", c->name,
			    c->ok ? "refused" : "accepted");
		nbad += !c->ok;
	}
	assert_true(nbad * 2 >= i);
	/* The length limit at -1, at and +1. */
	memset(max, 'a', sizeof(max));
	assert_true(subaddr_folder_ok(max, SUBADDR_FOLDER_MAX - 1));
	assert_true(subaddr_folder_ok(max, SUBADDR_FOLDER_MAX));
	assert_false(subaddr_folder_ok(max, SUBADDR_FOLDER_MAX + 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_detail),
		cmocka_unit_test(test_folder),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
