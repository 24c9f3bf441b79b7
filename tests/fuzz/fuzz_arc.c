/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for ARC (auth/arc.h): the input is a message (header
 * fields, CRLF, folded, then a body) whose ARC fields the verifier
 * parses and checks as a chain, its key lookups answered by a table with
 * one ed25519 key. Then the sealer seals the same message with that key.
 * A result must be within its bounds with printable strings; a message
 * without ARC fields (and not starting with a continuation line), once
 * sealed, must verify as pass.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth/arc.h"
#include "auth/dkimkeys.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

#define FUZZ_MSG_MAX 65536

static EVP_PKEY *pkey;
static struct buf txt;

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
	    (out->data[0] = malloc(txt.len)) == NULL)
		abort();
	memcpy(out->data[0], txt.data, txt.len);
	out->len[0] = txt.len;
	return DNS_OK;
}

static const struct authdns dns = { lookup, NULL };

static void
init(void)
{
	static const uint8_t seed[32] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	if (pkey != NULL)
		return;
	pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	buf_init(&txt, 4096);
	if (pkey == NULL ||
	    dkimkeys_txt_value(pkey, DKIM_ED25519_SHA256, &txt) == -1)
		abort();
}

static void
check_str(const char *s, size_t max)
{
	size_t i, k = strnlen(s, max);

	if (k == max)
		abort();
	for (i = 0; i < k; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			abort();
}

static void
check_result(const struct arc_result *r)
{
	if (r->cv > ARC_FAIL || r->sets > ARC_SETS_MAX ||
	    r->oldest_pass > r->sets ||
	    (r->cv == ARC_PASS) != (r->oldest_pass > 0))
		abort();
	check_str(r->domain, sizeof(r->domain));
	check_str(r->selector, sizeof(r->selector));
	check_str(r->reason, sizeof(r->reason));
}

typedef void field_fn(void *, const char *, size_t);

/* Feed each field of m[0..n) to fn (as dkim_cmd.c splits); the body. */
static size_t
split(const char *m, size_t n, field_fn *fn, void *arg)
{
	const char *q = m, *end = m + n, *e, *nl;

	while (q < end && !(end - q >= 2 && q[0] == '\r' && q[1] == '\n')) {
		e = q;
		do {
			nl = memchr(e, '\n', (size_t)(end - e));
			e = nl != NULL ? nl + 1 : end;
		} while (e < end && (*e == ' ' || *e == '\t'));
		fn(arg, q, (size_t)(e - q));
		q = e;
	}
	return q < end ? (size_t)(q + 2 - m) : n;
}

static void
vfield(void *v, const char *f, size_t k)
{
	arc_verifier_header(v, f, k);
}

static void
sfield(void *s, const char *f, size_t k)
{
	arc_sealer_header(s, f, k);
}

static void
verify(const char *m, size_t n, struct arc_result *r)
{
	struct arc_verifier *v = arc_verifier_new();
	size_t body;

	if (v == NULL)
		abort();
	body = split(m, n, vfield, v);
	arc_verifier_eoh(v);
	arc_verifier_body(v, (const uint8_t *)m + body, n - body);
	arc_verifier_finish(v, &dns, 1800000000, r);
	arc_verifier_free(v);
	check_result(r);
}

/*
 * Is the header a list of well-formed fields (RFC 5322 2.2: a name of
 * printable ASCII but ':', then ':'; continuation lines after a
 * field)? The server ends the header at the first line that is not one
 * (msg/hdr.c), so only such headers are ever sealed.
 */
static bool
well_formed(const char *m, size_t n)
{
	size_t i = 0, k;
	bool first = true;

	while (i < n) {
		if (m[i] == '\r' || m[i] == '\n')
			return true; /* the empty line: the header is over */
		if (m[i] == ' ' || m[i] == '\t') {
			if (first)
				return false;
		} else {
			for (k = i; k < n && m[k] > ' ' && m[k] < 0x7f &&
			     m[k] != ':';
			     k++)
				;
			if (k == i || k >= n || m[k] != ':')
				return false;
		}
		first = false;
		while (i < n && m[i] != '\n')
			i++;
		i++;
	}
	return true;
}

static void
seal(const char *m, size_t n, const struct arc_result *chain)
{
	struct dkim_sign_key k = { "example.net", "e1", pkey,
		DKIM_ED25519_SHA256 };
	struct arc_sealer *s = arc_sealer_new(&k, 1800000000, NULL);
	struct arc_result r;
	struct why why;
	struct buf out;
	size_t body;

	if (s == NULL)
		abort();
	body = split(m, n, sfield, s);
	arc_sealer_body(s, (const uint8_t *)m + body, n - body);
	buf_init(&out, 4 * FUZZ_MSG_MAX);
	if (arc_sealer_finish(s, chain, "mx.example.net",
	        "mx.example.net; arc=none", &out, &why) == 0 &&
	    buf_append(&out, m, n) == 0) {
		verify((const char *)out.data, out.len, &r);
		/*
		 * Our own seal must verify, over a header the server would
		 * seal: one of well-formed fields (a header that starts
		 * with a continuation line would continue our last field,
		 * and a line that is no field is where the server's header
		 * ends).
		 */
		if (chain->cv == ARC_NONE && r.cv != ARC_PASS &&
		    well_formed(m, n))
			abort();
	}
	buf_reset(&out);
	arc_sealer_free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	struct arc_result r;

	init();
	if (n > FUZZ_MSG_MAX)
		return 0;
	verify((const char *)p, n, &r);
	seal((const char *)p, n, &r);
	return 0;
}
