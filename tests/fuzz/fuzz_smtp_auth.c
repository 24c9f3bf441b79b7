/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for smtp/auth.c. The input is CRLF-separated lines:
 * the first is the AUTH argument, the others the client's responses.
 * Credentials must stay within their caps and be NUL-free; whatever
 * decodes must re-encode to the same text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

static void
check_b64(const char *s, size_t n)
{
	uint8_t out[2048];
	char enc[4096];
	size_t len;
	int elen;

	if (!smtp_b64_decode(s, n, out, sizeof(out), &len))
		return;
	if (len > sizeof(out) || len > n)
		abort();
	elen = smtp_b64_encode(out, len, enc, sizeof(enc));
	if (elen < 0 || (size_t)elen != n || memcmp(enc, s, n) != 0)
		abort();
}

static void
check_done(const struct smtp_auth *a)
{
	size_t ul = strnlen(a->user, sizeof(a->user));
	size_t pl = strnlen(a->pass, sizeof(a->pass));

	if (ul == 0 || ul > SMTP_AUTH_USER_MAX || pl == 0 ||
	    pl > SMTP_AUTH_PASS_MAX ||
	    strnlen(a->authzid, sizeof(a->authzid)) > SMTP_AUTH_USER_MAX)
		abort();
	if (a->mech != SMTP_AUTH_MECH_PLAIN && a->mech != SMTP_AUTH_MECH_LOGIN)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	const char *s = (const char *)p, *end = s + n, *nl, *ch;
	enum smtp_auth_status st = SMTP_AUTH_SYNTAX;
	struct smtp_auth a;
	bool first = true;
	size_t len;

	check_b64(s, n);
	while (s < end) {
		nl = memchr(s, '\n', (size_t)(end - s));
		len = (size_t)((nl != NULL ? nl : end) - s);
		if (len > 0 && s[len - 1] == '\r')
			len--;
		if (first)
			st = smtp_auth_begin(&a, s, len, &ch);
		else if (st == SMTP_AUTH_CONTINUE)
			st = smtp_auth_step(&a, s, len, &ch);
		else
			break;
		first = false;
		if (st == SMTP_AUTH_CONTINUE && ch == NULL)
			abort();
		if (st == SMTP_AUTH_DONE)
			check_done(&a);
		else if (st != SMTP_AUTH_CONTINUE &&
		    (a.pass[0] != '\0' || smtp_auth_reply(st) == NULL))
			abort(); /* an error must wipe the password */
		s = nl != NULL ? nl + 1 : end;
	}
	smtp_auth_wipe(&a);
	return 0;
}
