/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for dmarc_record_parse() and dmarc_check(): the input
 * is one DMARC TXT record. The parse must stay within its limits, and the
 * check, with that record served at every _dmarc name and the first byte
 * choosing the SPF/DKIM situation, must give a verdict that agrees with
 * the record (pass only when aligned; policy never stricter than
 * published).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

struct input {
	const uint8_t *p;
	size_t n;
};

static enum dns_status
serve(void *arg, const char *name, int type, struct dns_rrset *out,
    struct why *why)
{
	const struct input *in = arg;

	(void)name;
	(void)why;
	memset(out, 0, sizeof(*out));
	if (type != DNS_T_TXT)
		abort();
	out->data = calloc(1, sizeof(*out->data));
	out->len = calloc(1, sizeof(*out->len));
	if (out->data == NULL || out->len == NULL ||
	    (out->data[0] = malloc(in->n + 1)) == NULL)
		abort();
	memcpy(out->data[0], in->p, in->n);
	out->data[0][in->n] = 0;
	out->len[0] = in->n;
	out->n = 1;
	return DNS_OK;
}

static void
check_record(const uint8_t *p, size_t n)
{
	struct dmarc_record r;
	const char *why = NULL;
	enum dmarc_record_status st;

	st = dmarc_record_parse((const char *)p, n, &r, &why);
	if (why == NULL)
		abort();
	if (st != DMARC_RECORD_OK)
		return;
	if (r.pct > 100 || r.p > DMARC_POLICY_REJECT ||
	    r.sp > DMARC_POLICY_REJECT)
		abort();
	if (strlen(r.rua) >= sizeof(r.rua) || strlen(r.ruf) >= sizeof(r.ruf))
		abort();
	if (!r.has_sp && r.sp != r.p)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	struct input in;
	struct authdns dns = { serve, &in };
	struct dmarc_dkim dkim = { "example.com", false };
	struct dmarc_verdict v;
	uint8_t mode;

	check_record(p, n);
	if (n < 1)
		return 0;
	mode = p[0];
	in.p = p + 1;
	in.n = n - 1;
	dkim.pass = mode & 1;
	dkim.domain = mode & 2 ? "mail.example.com" : "evil.example";
	dmarc_check(&dns, mode & 4 ? "a.example.com" : "example.com",
	    mode & 8 ? "pass" : "fail", "example.com", &dkim, 1, mode >> 4, &v);
	if (v.result == DMARC_PASS && !v.spf_aligned && !v.dkim_aligned)
		abort();
	if (v.result != DMARC_FAIL && v.policy != DMARC_POLICY_NONE)
		abort();
	if (v.policy > v.published)
		abort();
	if (strlen(v.reason) >= sizeof(v.reason))
		abort();
	return 0;
}
