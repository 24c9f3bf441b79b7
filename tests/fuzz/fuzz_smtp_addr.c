/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for smtp/addr.c and smtp/params.c. The first byte
 * holds the flags (and the MAIL/RCPT extension bits); the rest is a path,
 * a mailbox, and a MAIL / RCPT argument. A parsed address must re-format
 * and re-parse to the same struct, and stay within its limits.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/addr.h"
#include "smtp/params.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

static void
check_addr(const struct smtp_addr *a)
{
	unsigned fl =
	    SMTP_ADDR_UTF8 | SMTP_ADDR_NULL_OK | SMTP_ADDR_POSTMASTER_OK;
	char s[SMTP_ADDR_FMT_MAX], path[SMTP_ADDR_FMT_MAX + 2];
	struct smtp_addr b;
	const char *why;
	size_t used;
	int len;

	if (strlen(a->local) > SMTP_LOCAL_MAX ||
	    strlen(a->domain) > SMTP_DOMAIN_MAX)
		abort();
	if (!a->is_null && !a->is_postmaster_bare &&
	    (a->local[0] == '\0' || a->domain[0] == '\0'))
		abort();
	if ((len = smtp_addr_format(a, s, sizeof(s))) < 0)
		abort(); /* SMTP_ADDR_FMT_MAX must always fit */
	if (!smtp_mailbox_parse(s, (size_t)len, fl, &b, &why))
		abort();
	if (memcmp(a, &b, sizeof(b)) != 0)
		abort();
	if (a->is_null || a->is_postmaster_bare ||
	    (size_t)len + 2 > SMTP_PATH_MAX)
		return;
	(void)snprintf(path, sizeof(path), "<%s>", s);
	if (!smtp_path_parse(path, (size_t)len + 2, fl, &b, &used, &why) ||
	    used != (size_t)len + 2 || memcmp(a, &b, sizeof(b)) != 0)
		abort();
}

static void
check_fail(bool ok, const char *why, const struct smtp_addr *a)
{
	static const struct smtp_addr zero;

	if (ok && why != NULL)
		abort();
	if (!ok && (why == NULL || memcmp(a, &zero, sizeof(zero)) != 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	const char *s = (const char *)p + 1, *why;
	struct smtp_addr a;
	struct smtp_mail m;
	struct smtp_rcpt r;
	enum smtp_arg_status st;
	unsigned flags;
	size_t used;
	bool ok;

	if (n < 1)
		return 0;
	flags = p[0];
	n--;

	ok = smtp_path_parse(s, n, flags & 7, &a, &used, &why);
	check_fail(ok, why, &a);
	if (ok) {
		if (used < 2 || used > n || used > SMTP_PATH_MAX ||
		    s[0] != '<' || s[used - 1] != '>')
			abort();
		if (a.utf8 && !(flags & SMTP_ADDR_UTF8))
			abort();
		check_addr(&a);
	}
	ok = smtp_mailbox_parse(s, n, flags & 7, &a, &why);
	check_fail(ok, why, &a);
	if (ok)
		check_addr(&a);

	st = smtp_mail_parse(s, n, flags >> 3, &m, &why);
	if ((st == SMTP_ARG_OK) != (why == NULL) ||
	    smtp_arg_reply(st, false) == NULL)
		abort();
	if (st == SMTP_ARG_OK) {
		check_addr(&m.from);
		if (m.from.utf8 && !m.smtputf8)
			abort();
		if (m.from.is_postmaster_bare ||
		    strlen(m.envid) > SMTP_ENVID_MAX)
			abort();
	}
	st = smtp_rcpt_parse(s, n, flags >> 3, &r, &why);
	if ((st == SMTP_ARG_OK) != (why == NULL) ||
	    smtp_arg_reply(st, true) == NULL)
		abort();
	if (st == SMTP_ARG_OK) {
		check_addr(&r.to);
		if (r.to.is_null || (r.to.utf8 && !(flags & (2 << 3))))
			abort();
		if ((r.notify & SMTP_NOTIFY_NEVER) &&
		    r.notify != SMTP_NOTIFY_NEVER)
			abort();
	}
	return 0;
}
