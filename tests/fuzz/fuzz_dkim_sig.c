/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for dkim_sig_parse() (a DKIM-Signature tag list),
 * then the whole verifier on a message carrying that field, whose key
 * lookups a table answers. A parsed signature must be within its bounds
 * and a result's strings bounded printable ASCII.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

static const char key[] = "v=DKIM1; k=ed25519; "
                          "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

static enum dns_status
lookup(void *arg, const char *name, int type, struct dns_rrset *out,
    struct why *why)
{
	(void)arg;
	(void)name;
	(void)type;
	(void)why;
	out->n = 1;
	out->data = calloc(1, sizeof(*out->data));
	out->len = calloc(1, sizeof(*out->len));
	if (out->data == NULL || out->len == NULL ||
	    (out->data[0] = (uint8_t *)strdup(key)) == NULL)
		abort();
	out->len[0] = strlen(key);
	return DNS_OK;
}

static void
check_str(const char *s, size_t max)
{
	size_t i, n = strnlen(s, max);

	if (n == max)
		abort();
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			abort();
}

static void
check_sig(const struct dkim_sig *s)
{
	size_t i;

	if (s->nh == 0 || s->nh > DKIM_H_MAX || s->b_len == 0 ||
	    s->b_len > DKIM_SIG_B_MAX || s->bh_len != 32 ||
	    strchr(s->identity, '@') == NULL || s->domain[0] == '\0')
		abort();
	check_str(s->domain, sizeof(s->domain));
	check_str(s->selector, sizeof(s->selector));
	check_str(s->identity, sizeof(s->identity));
	check_str(s->bprefix, sizeof(s->bprefix));
	for (i = 0; i < s->nh; i++)
		check_str(s->h[i], sizeof(s->h[i]));
}

static void
check_result(const struct dkim_result *r)
{
	if (r->result == DKIM_NONE || r->result > DKIM_PERMERROR)
		abort();
	check_str(r->domain, sizeof(r->domain));
	check_str(r->selector, sizeof(r->selector));
	check_str(r->algorithm, sizeof(r->algorithm));
	check_str(r->bprefix, sizeof(r->bprefix));
	check_str(r->identity, sizeof(r->identity));
	check_str(r->reason, sizeof(r->reason));
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	static const char from[] = "From: a@example.com\r\n";
	static const struct authdns dns = { lookup, NULL };
	struct dkim_result r[4];
	struct dkim_verifier *v;
	struct dkim_sig sig;
	const char *why;
	char *field;
	size_t k = 4, i;

	if (n > 8192)
		return 0;
	if (dkim_sig_parse((const char *)p, n, &sig, &why) == 0)
		check_sig(&sig);
	else if (why == NULL)
		abort();
	if ((field = malloc(n + 20)) == NULL)
		return 0;
	memcpy(field, "DKIM-Signature:", 15);
	memcpy(field + 15, p, n);
	memcpy(field + 15 + n, "\r\n", 2);
	if ((v = dkim_verifier_new(2)) == NULL)
		abort();
	dkim_verifier_header(v, field, n + 17);
	dkim_verifier_header(v, from, strlen(from));
	dkim_verifier_header(v, field, n + 17);
	dkim_verifier_eoh(v);
	dkim_verifier_body(v, p, n);
	dkim_verifier_finish(v, &dns, 1528637909, r, &k);
	if (k != 2)
		abort();
	for (i = 0; i < k; i++)
		check_result(&r[i]);
	dkim_verifier_free(v);
	free(field);
	return 0;
}
