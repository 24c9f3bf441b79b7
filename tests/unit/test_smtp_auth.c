/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for smtp/auth.c: strict base64 (RFC 4648 4), AUTH PLAIN
 * (RFC 4616) and LOGIN exchanges, cancel, caps at limit-1/limit/limit+1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/auth.h"

#define L(s) s, sizeof(s) - 1

struct b64_case {
	const char *name;
	const char *in;
	bool ok;
	const char *out; /* when ok */
	size_t out_len;
};

static const struct b64_case b64_cases[] = {
	{ "empty", "", true, "", 0 },
	{ "f", "Zg==", true, "f", 1 },
	{ "fo", "Zm8=", true, "fo", 2 },
	{ "foo", "Zm9v", true, "foo", 3 },
	{ "foobar", "Zm9vYmFy", true, "foobar", 6 },
	{ "nul", "AGFiYwBk", true, "\0abc\0d", 6 },
	{ "plus-slash", "+/+/", true, "\xfb\xff\xbf", 3 },
	/* invalid */
	{ "no-pad", "Zg", false, NULL, 0 },
	{ "short-pad", "Zg=", false, NULL, 0 },
	{ "pad-inside", "Zg==Zm9v", false, NULL, 0 },
	{ "pad-first", "=Zg=", false, NULL, 0 },
	{ "three-pads", "Z===", false, NULL, 0 },
	{ "data-after-pad", "Zg=v", false, NULL, 0 },
	{ "space", "Zm9v Zm9v", false, NULL, 0 },
	{ "crlf", "Zm9v\r\n", false, NULL, 0 },
	{ "bad-char", "Zm9-", false, NULL, 0 },
	{ "url-safe", "Zm9_", false, NULL, 0 },
	{ "nonzero-pad-bits-2", "Zh==", false, NULL, 0 },
	{ "nonzero-pad-bits-1", "Zm9=", false, NULL, 0 },
	{ "8bit", "Zm9\xc3", false, NULL, 0 },
	{ "star", "*", false, NULL, 0 },
};

static void
test_b64(void **state)
{
	uint8_t out[64];
	char enc[128];
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++) {
		const struct b64_case *c = &b64_cases[i];
		bool ok = smtp_b64_decode(c->in, strlen(c->in), out,
		    sizeof(out), &len);

		if (ok != c->ok)
			fail_msg("%s: decode returned %d", c->name, ok);
		if (!ok)
			continue;
		if (len != c->out_len || memcmp(out, c->out, len) != 0)
			fail_msg("%s: wrong bytes", c->name);
		/* Canonical: encoding gives back the input. */
		assert_int_equal(smtp_b64_encode(out, len, enc, sizeof(enc)),
		    (int)strlen(c->in));
		assert_string_equal(enc, c->in);
	}
	/* The output cap: 3 bytes fit in 3, not in 2. */
	assert_true(smtp_b64_decode(L("Zm9v"), out, 3, &len));
	assert_false(smtp_b64_decode(L("Zm9v"), out, 2, &len));
	assert_true(smtp_b64_decode(L("Zm8="), out, 2, &len));
	assert_false(smtp_b64_decode(L("Zm8="), out, 1, &len));
	/* Encode needs room for the NUL. */
	assert_int_equal(smtp_b64_encode((const uint8_t *)"foo", 3, enc, 4),
	    -1);
	assert_int_equal(smtp_b64_encode((const uint8_t *)"foo", 3, enc, 5),
	    4);
}

/* b64 of s[0..n) into dst (static helper for building cases). */
static const char *
b64(const char *s, size_t n, char *dst, size_t dstsz)
{
	assert_true(smtp_b64_encode((const uint8_t *)s, n, dst, dstsz) >= 0);
	return dst;
}

struct ex_case {
	const char *name;
	const char *arg;        /* AUTH argument */
	const char *lines[3];   /* further client lines, NULL-terminated */
	enum smtp_auth_status want;
	const char *user, *pass, *authzid;
};

static const struct ex_case ex_cases[] = {
	{ "plain-initial", "PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=",
	    { NULL }, SMTP_AUTH_DONE, "alice@example.test", "secret", "" },
	{ "plain-lower", "plain AGFsaWNlAHNlY3JldA==", { NULL },
	    SMTP_AUTH_DONE, "alice", "secret", "" },
	{ "plain-authzid", "PLAIN Ym9iAGFsaWNlAHNlY3JldA==", { NULL },
	    SMTP_AUTH_DONE, "alice", "secret", "bob" },
	{ "plain-continue", "PLAIN", { "AGFsaWNlAHNlY3JldA==", NULL },
	    SMTP_AUTH_DONE, "alice", "secret", "" },
	{ "login", "LOGIN", { "YWxpY2U=", "c2VjcmV0", NULL }, SMTP_AUTH_DONE,
	    "alice", "secret", "" },
	{ "login-initial", "LOGIN YWxpY2U=", { "c2VjcmV0", NULL },
	    SMTP_AUTH_DONE, "alice", "secret", "" },
	{ "pass-with-space", "PLAIN AGEAYSBiIGM=", { NULL }, SMTP_AUTH_DONE,
	    "a", "a b c", "" },
	/* invalid */
	{ "no-mech", "", { NULL }, SMTP_AUTH_SYNTAX, NULL, NULL, NULL },
	{ "cram", "CRAM-MD5", { NULL }, SMTP_AUTH_UNKNOWN_MECH, NULL, NULL,
	    NULL },
	{ "plainx", "PLAINX", { NULL }, SMTP_AUTH_UNKNOWN_MECH, NULL, NULL,
	    NULL },
	{ "two-spaces", "PLAIN  AGEAYg==", { NULL }, SMTP_AUTH_SYNTAX, NULL,
	    NULL, NULL },
	{ "extra-word", "PLAIN AGEAYg== x", { NULL }, SMTP_AUTH_SYNTAX, NULL,
	    NULL, NULL },
	{ "initial-star", "PLAIN *", { NULL }, SMTP_AUTH_SYNTAX, NULL, NULL,
	    NULL },
	{ "plain-empty-initial", "PLAIN =", { NULL }, SMTP_AUTH_BAD_MESSAGE,
	    NULL, NULL, NULL },
	{ "plain-bad-b64", "PLAIN AGEAYg=", { NULL }, SMTP_AUTH_BAD_BASE64,
	    NULL, NULL, NULL },
	{ "plain-one-nul", "PLAIN YQBi", { NULL }, SMTP_AUTH_BAD_MESSAGE, NULL,
	    NULL, NULL },
	{ "plain-three-nul", "PLAIN AGEAYgBj", { NULL },
	    SMTP_AUTH_BAD_MESSAGE, NULL, NULL, NULL },
	{ "plain-empty-user", "PLAIN AABi", { NULL }, SMTP_AUTH_BAD_MESSAGE,
	    NULL, NULL, NULL },
	{ "plain-empty-pass", "PLAIN AGEA", { NULL }, SMTP_AUTH_BAD_MESSAGE,
	    NULL, NULL, NULL },
	{ "plain-ctl-user", "PLAIN AGEKYgBj", { NULL }, SMTP_AUTH_BAD_MESSAGE,
	    NULL, NULL, NULL },
	{ "plain-cancel", "PLAIN", { "*", NULL }, SMTP_AUTH_CANCELLED, NULL,
	    NULL, NULL },
	{ "login-cancel-user", "LOGIN", { "*", NULL }, SMTP_AUTH_CANCELLED,
	    NULL, NULL, NULL },
	{ "login-cancel-pass", "LOGIN", { "YQ==", "*", NULL },
	    SMTP_AUTH_CANCELLED, NULL, NULL, NULL },
	{ "login-empty-user", "LOGIN", { "", NULL }, SMTP_AUTH_BAD_MESSAGE,
	    NULL, NULL, NULL },
	{ "login-empty-pass", "LOGIN", { "YQ==", "", NULL },
	    SMTP_AUTH_BAD_MESSAGE, NULL, NULL, NULL },
	{ "login-nul-pass", "LOGIN", { "YQ==", "YQBi", NULL },
	    SMTP_AUTH_BAD_MESSAGE, NULL, NULL, NULL },
	{ "login-bad-b64", "LOGIN", { "YQ=", NULL }, SMTP_AUTH_BAD_BASE64,
	    NULL, NULL, NULL },
};

static enum smtp_auth_status
run(struct smtp_auth *a, const char *arg, const char *const *lines)
{
	enum smtp_auth_status st;
	const char *ch;
	size_t i;

	st = smtp_auth_begin(a, arg, strlen(arg), &ch);
	for (i = 0; st == SMTP_AUTH_CONTINUE; i++) {
		assert_non_null(ch);
		if (lines[i] == NULL)
			return st;
		st = smtp_auth_step(a, lines[i], strlen(lines[i]), &ch);
	}
	return st;
}

static void
test_exchange(void **state)
{
	struct smtp_auth a;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ex_cases) / sizeof(ex_cases[0]); i++) {
		const struct ex_case *c = &ex_cases[i];
		enum smtp_auth_status st = run(&a, c->arg, c->lines);

		if (st != c->want)
			fail_msg("%s: got %d, want %d", c->name, st, c->want);
		if (st == SMTP_AUTH_DONE) {
			assert_string_equal(a.user, c->user);
			assert_string_equal(a.pass, c->pass);
			assert_string_equal(a.authzid, c->authzid);
		} else {
			/* Wiped: no password left behind. */
			assert_int_equal(a.pass[0], 0);
			assert_non_null(smtp_auth_reply(st));
		}
	}
}

static void
test_challenges(void **state)
{
	struct smtp_auth a;
	const char *ch;

	(void)state;
	assert_int_equal(smtp_auth_begin(&a, L("PLAIN"), &ch),
	    SMTP_AUTH_CONTINUE);
	assert_string_equal(ch, "");
	assert_int_equal(smtp_auth_begin(&a, L("LOGIN"), &ch),
	    SMTP_AUTH_CONTINUE);
	assert_string_equal(ch, "VXNlcm5hbWU6"); /* Username: */
	assert_int_equal(smtp_auth_step(&a, L("YQ=="), &ch),
	    SMTP_AUTH_CONTINUE);
	assert_string_equal(ch, "UGFzc3dvcmQ6"); /* Password: */
	/* A step with no exchange in progress. */
	smtp_auth_wipe(&a);
	assert_int_equal(smtp_auth_step(&a, L("YQ=="), &ch),
	    SMTP_AUTH_SYNTAX);
}

/* PLAIN with user and password of given lengths. */
static enum smtp_auth_status
plain_sized(struct smtp_auth *a, size_t ul, size_t pl)
{
	char msg[2048], enc[4096], arg[4200];
	const char *ch;
	size_t n = 0;

	msg[n++] = '\0';
	memset(msg + n, 'u', ul);
	n += ul;
	msg[n++] = '\0';
	memset(msg + n, 'p', pl);
	n += pl;
	(void)b64(msg, n, enc, sizeof(enc));
	(void)snprintf(arg, sizeof(arg), "PLAIN %s", enc);
	return smtp_auth_begin(a, arg, strlen(arg), &ch);
}

static void
test_limits(void **state)
{
	struct smtp_auth a;
	char enc[2048];
	char big[1024];
	const char *ch;

	(void)state;
	assert_int_equal(plain_sized(&a, SMTP_AUTH_USER_MAX - 1, 10),
	    SMTP_AUTH_DONE);
	assert_int_equal(strlen(a.user), SMTP_AUTH_USER_MAX - 1);
	assert_int_equal(plain_sized(&a, SMTP_AUTH_USER_MAX, 10),
	    SMTP_AUTH_DONE);
	assert_int_equal(plain_sized(&a, SMTP_AUTH_USER_MAX + 1, 10),
	    SMTP_AUTH_TOO_LONG);
	assert_int_equal(plain_sized(&a, 5, SMTP_AUTH_PASS_MAX - 1),
	    SMTP_AUTH_DONE);
	assert_int_equal(plain_sized(&a, 5, SMTP_AUTH_PASS_MAX),
	    SMTP_AUTH_DONE);
	assert_int_equal(strlen(a.pass), SMTP_AUTH_PASS_MAX);
	assert_int_equal(plain_sized(&a, 5, SMTP_AUTH_PASS_MAX + 1),
	    SMTP_AUTH_TOO_LONG);

	/* LOGIN user name at the cap, and one over. */
	memset(big, 'u', sizeof(big));
	assert_int_equal(smtp_auth_begin(&a, L("LOGIN"), &ch),
	    SMTP_AUTH_CONTINUE);
	(void)b64(big, SMTP_AUTH_USER_MAX, enc, sizeof(enc));
	assert_int_equal(smtp_auth_step(&a, enc, strlen(enc), &ch),
	    SMTP_AUTH_CONTINUE);
	(void)b64(big, SMTP_AUTH_PASS_MAX + 1, enc, sizeof(enc));
	assert_int_equal(smtp_auth_step(&a, enc, strlen(enc), &ch),
	    SMTP_AUTH_TOO_LONG);
	assert_int_equal(smtp_auth_begin(&a, L("LOGIN"), &ch),
	    SMTP_AUTH_CONTINUE);
	(void)b64(big, SMTP_AUTH_USER_MAX + 1, enc, sizeof(enc));
	assert_int_equal(smtp_auth_step(&a, enc, strlen(enc), &ch),
	    SMTP_AUTH_TOO_LONG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64),
		cmocka_unit_test(test_exchange),
		cmocka_unit_test(test_challenges),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
