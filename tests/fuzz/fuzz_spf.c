/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for auth/spf. The first byte picks the target:
 *   0  spf_record_parse(): every term's pointers lie inside the input,
 *      CIDR lengths are in range, a failure has a reason
 *   1  spf_macro_expand(), domain-spec and explanation: the output is
 *      NUL-terminated within its buffer, spf_domain_trim() leaves at
 *      most 253 octets
 *   2  spf_dname_parse(): a name of printable bytes, no empty label
 *   3  spf_check_host() on a fake DNS that answers every TXT query with
 *      the input (so include and redirect recurse into it), A with
 *      192.0.2.1, MX and PTR with fixed names: the result is one of the
 *      seven, the query count stays within SPF_QUERIES_MAX, and the
 *      reason and explanation are printable ASCII
 * Any broken invariant aborts.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

static void
check_record(const char *s, size_t n)
{
	struct spf_record r;
	const char *why = NULL;
	size_t i;

	if (!spf_record_parse(s, n, &r, &why)) {
		if (why == NULL)
			abort();
		return;
	}
	if (r.n > SPF_TERMS_MAX)
		abort();
	for (i = 0; i < r.n; i++) {
		const struct spf_term *t = &r.terms[i];

		if (t->text < s || t->text + t->text_len > s + n)
			abort();
		if (t->spec != NULL &&
		    (t->spec < s || t->spec + t->spec_len > s + n))
			abort();
		if (t->cidr4 > 32 || t->cidr6 > 128)
			abort();
	}
	if (r.redirect && r.redirect + r.redirect_len > s + n)
		abort();
	if (r.exp && r.exp + r.exp_len > s + n)
		abort();
}

static void
check_macro(const char *s, size_t n)
{
	struct sockaddr_in6 s6;
	struct spf_macro_env env;
	char out[SPF_EXPAND_MAX + 1];
	const char *why;
	int exp;

	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	(void)inet_pton(AF_INET6, "2001:db8::cb01", &s6.sin6_addr);
	memset(&env, 0, sizeof(env));
	env.sender = "strong-bad@email.example.com";
	env.domain = "email.example.com";
	env.helo = "mx.example.org";
	env.ip = (const struct sockaddr *)&s6;
	env.now = 1;
	for (exp = 0; exp < 2; exp++) {
		out[sizeof(out) - 1] = 'x';
		if (!spf_macro_expand(s, n, &env, exp, out, sizeof(out) - 1,
		        &why))
			continue;
		if (memchr(out, 0, sizeof(out) - 1) == NULL ||
		    out[sizeof(out) - 1] != 'x')
			abort();
		spf_domain_trim(out);
		if (strlen(out) > 253 && strchr(out, '.') != NULL)
			abort();
	}
}

static void
check_dname(const uint8_t *p, size_t n)
{
	char out[DNS_NAME_MAX];
	size_t i, len;

	if (!spf_dname_parse(p, n, out, sizeof(out)))
		return;
	len = strlen(out);
	if (len >= sizeof(out) ||
	    (len > 0 && (out[0] == '.' || out[len - 1] == '.')))
		abort();
	for (i = 0; i < len; i++)
		if ((unsigned char)out[i] < 0x21 ||
		    (unsigned char)out[i] > 0x7e ||
		    (out[i] == '.' && out[i + 1] == '.'))
			abort();
}

struct fake {
	const char *txt;
	size_t n;
};

static void
add(struct dns_rrset *out, const void *p, size_t n)
{
	if (out->data == NULL) {
		out->data = calloc(DNS_RRS_MAX, sizeof(*out->data));
		out->len = calloc(DNS_RRS_MAX, sizeof(*out->len));
		if (out->data == NULL || out->len == NULL)
			abort();
	}
	if ((out->data[out->n] = malloc(n + 1)) == NULL)
		abort();
	memcpy(out->data[out->n], p, n);
	out->data[out->n][n] = 0;
	out->len[out->n++] = n;
}

static enum dns_status
fake_lookup(void *arg, const char *name, int type, struct dns_rrset *out,
    struct why *why)
{
	static const uint8_t a[4] = { 192, 0, 2, 1 };
	static const uint8_t mx[] = "\0\12\2mx\7example\3com";
	static const uint8_t ptr[] = "\1h\7example\3com";
	const struct fake *f = arg;

	(void)why;
	memset(out, 0, sizeof(*out));
	if (name[0] == 'n') /* some names do not exist: void lookups */
		return DNS_NXDOMAIN;
	switch (type) {
	case DNS_T_TXT:
		if (memchr(f->txt, 0, f->n) != NULL)
			return DNS_NODATA; /* dns_txt_join() drops these */
		add(out, f->txt, f->n);
		break;
	case DNS_T_A:
		add(out, a, sizeof(a));
		break;
	case DNS_T_MX:
		add(out, mx, sizeof(mx));
		break;
	case DNS_T_PTR:
		add(out, ptr, sizeof(ptr));
		break;
	default:
		return DNS_NODATA;
	}
	return DNS_OK;
}

static void
printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			abort();
}

static void
check_host(const char *s, size_t n)
{
	struct fake f = { s, n };
	struct authdns ad = { fake_lookup, &f };
	struct spf_query q;
	struct sockaddr_in *s4 = (void *)&q.ip;
	struct spf_verdict v;

	memset(&q, 0, sizeof(q));
	s4->sin_family = AF_INET;
	s4->sin_addr.s_addr = htonl(0xc0000209);
	q.helo = "mail.example.com";
	q.mailfrom = "joe@example.com";
	q.receiver = "rcv.example";
	q.timeout_secs = 5;
	q.now = 1;
	spf_check_host(&ad, &q, "example.com", &v);
	if (v.result > SPF_PERMERROR || v.queries > SPF_QUERIES_MAX ||
	    v.dns_terms > SPF_DNS_TERMS_MAX + 1 ||
	    v.void_lookups > SPF_VOID_MAX + 1 || v.n_trace > SPF_TRACE_MAX)
		abort();
	printable(v.reason);
	printable(v.explanation);
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	const char *s = (const char *)p + 1;

	if (n == 0 || n > 8192)
		return 0;
	switch (p[0] & 3) {
	case 0:
		check_record(s, n - 1);
		break;
	case 1:
		check_macro(s, n - 1);
		break;
	case 2:
		check_dname(p + 1, n - 1);
		break;
	case 3:
		check_host(s, n - 1);
		break;
	}
	return 0;
}
