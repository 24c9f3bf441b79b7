/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for auth/dkim.c and auth/dkimkeys.c: the tag-list parsers,
 * canonicalization (RFC 6376 3.4.5), the body cut at every byte,
 * sign-then-verify for rsa-sha256 and ed25519-sha256 with a table DNS,
 * tampering, key records that refuse, and the RFC 8463 appendix A
 * message with both of its signatures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "auth/dkim.h"
#include "auth/dkimkeys.h"
#include "testauth.h"
#include "testutil.h"

static void
vfield(void *v, const char *f, size_t n)
{
	dkim_verifier_header(v, f, n);
}

static void
sfield(void *s, const char *f, size_t n)
{
	dkim_signer_header(s, f, n);
}

static size_t
verify(const char *msg, time_t now, struct dkim_result *r, size_t room)
{
	struct dkim_verifier *v = dkim_verifier_new(0);
	const char *body = testauth_each_field(msg, vfield, v);
	size_t n = room;

	dkim_verifier_eoh(v);
	dkim_verifier_body(v, (const uint8_t *)body, strlen(body));
	dkim_verifier_finish(v, &testauth_dns, now, r, &n);
	dkim_verifier_free(v);
	return n;
}

/* The message signed: the DKIM-Signature fields, then msg. */
static char *
sign(const struct dkim_sign_key *keys, size_t nkeys, const char *msg)
{
	struct dkim_signer *s = dkim_signer_new(keys, nkeys, NULL);
	struct why why;
	const char *body;
	struct buf out;

	assert_non_null(s);
	body = testauth_each_field(msg, sfield, s);
	dkim_signer_body(s, (const uint8_t *)body, strlen(body));
	buf_init(&out, 1 << 20);
	assert_int_equal(dkim_signer_finish(s, &out, &why), 0);
	assert_int_equal(buf_append_str(&out, msg), 0);
	dkim_signer_free(s);
	return (char *)buf_take(&out, NULL);
}

/* ---- parsers ---- */

#define SIG_OK                                                                 \
	"v=1; a=rsa-sha256; d=example.com; s=sel; h=From:To;"                  \
	" bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA"

static void
test_sig_parse(void **state)
{
	static const struct {
		const char *in;
		const char *why; /* NULL: parses */
	} cases[] = {
		{ SIG_OK, NULL },
		{ SIG_OK "; future_tag=whatever; z=a|b", NULL },
		{ SIG_OK ";", NULL },
		{ SIG_OK "; i=user@sub.example.com", NULL },
		{ SIG_OK "; i=@notexample.com", "i= is not within d=" },
		{ SIG_OK "; i=@xexample.com", "i= is not within d=" },
		{ SIG_OK "; d=example.org", "a tag occurs twice" },
		{ "v=1; a=rsa-sha256; d=example.com; s=sel; h=To;"
		  " bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA",
		    "h= does not sign From" },
		{ "v=1; a=rsa-sha1; d=example.com; s=sel; h=From;"
		  " bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA",
		    "rsa-sha1 is not accepted (RFC 8301)" },
		{ "v=1; a=rsa-sha256; d=example.com; h=From;"
		  " bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA",
		    "a required tag is missing" },
		{ "v=2; a=rsa-sha256", "unsupported v=" },
		{ SIG_OK "; t=200; x=100", "x= is before t=" },
		{ SIG_OK "; l=12a", "bad l=" },
		{ SIG_OK "; c=relaxed/fancy", "unknown canonicalization" },
		{ SIG_OK "; q=http", "unsupported q=" },
		{ SIG_OK "; 1x=3", "tag-list syntax: bad tag name" },
		{ SIG_OK "; y", "tag-list syntax: no '=' after a tag" },
		{ SIG_OK ";;", "tag-list syntax: bad tag name" },
		{ "v=1; a=rsa-sha256; d=exa mple.com", "bad d=" },
	};
	struct dkim_sig sig;
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = dkim_sig_parse(cases[i].in, strlen(cases[i].in), &sig,
		    &why);

		if (cases[i].why == NULL) {
			assert_int_equal(rc, 0);
		} else {
			assert_int_equal(rc, -1);
			assert_string_equal(why, cases[i].why);
		}
	}
	assert_int_equal(dkim_sig_parse(SIG_OK "; c=relaxed; l=100",
	                     strlen(SIG_OK "; c=relaxed; l=100"), &sig, &why),
	    0);
	assert_int_equal(sig.hcanon, DKIM_RELAXED);
	assert_int_equal(sig.bcanon, DKIM_SIMPLE);
	assert_true(sig.has_l);
	assert_int_equal(sig.l, 100);
	assert_int_equal(sig.nh, 2);
	assert_string_equal(sig.h[0], "from");
	assert_string_equal(sig.identity, "@example.com");
	assert_string_equal(sig.bprefix, "AAAA");
}

static void
test_key_parse(void **state)
{
	struct dkim_key k;
	const char *why;

	(void)state;
#define KP(s) dkim_key_parse(s, strlen(s), &k, &why)
	assert_int_equal(KP("v=DKIM1; p=AAAA"), 0);
	assert_int_equal(k.alg, DKIM_RSA_SHA256);
	assert_int_equal(k.p_len, 3);
	assert_false(k.revoked);
	assert_true(k.sha256_ok);
	assert_int_equal(KP("k=ed25519; t=y:s; p=AAAA; n=notes ok"), 0);
	assert_int_equal(k.alg, DKIM_ED25519_SHA256);
	assert_true(k.testing);
	assert_true(k.strict);
	assert_int_equal(KP("v=DKIM1; p="), 0);
	assert_true(k.revoked);
	assert_int_equal(KP("h=sha1; p=AAAA"), 0);
	assert_false(k.sha256_ok);
	assert_int_equal(KP("s=email:*; p=AAAA"), 0);
	assert_int_equal(KP("s=tlsrpt; p=AAAA"), -1);
	assert_string_equal(why, "key not for email (s=)");
	assert_int_equal(KP("p=AAAA; v=DKIM1"), -1);
	assert_string_equal(why, "key v= is not first");
	assert_int_equal(KP("k=dsa; p=AAAA"), -1);
	assert_string_equal(why, "unknown key type");
	assert_int_equal(KP("k=rsa"), -1);
	assert_string_equal(why, "key record has no p=");
	assert_int_equal(KP("p=AA!A"), -1);
	assert_int_equal(KP("p=AAAA; p=AAAA"), -1);
	assert_string_equal(why, "a tag occurs twice");
#undef KP
}

/* ---- canonicalization ---- */

static void
digest_of(const char *s, uint8_t d[32])
{
	unsigned len;

	assert_int_equal(EVP_Digest(s, strlen(s), d, &len, EVP_sha256(), NULL),
	    1);
}

static void
body_digest(enum dkim_canon c, uint64_t limit, const char *s, size_t chunk,
    uint8_t d[32], uint64_t *total)
{
	struct dkim_body *b = dkim_body_new(c, limit);
	size_t n = strlen(s), i, k;

	for (i = 0; i < n; i += k) {
		k = n - i < chunk ? n - i : chunk;
		dkim_body_update(b, (const uint8_t *)s + i, k);
	}
	assert_int_equal(dkim_body_final(b, d, total), 0);
	dkim_body_free(b);
}

/* RFC 6376 3.4.5 */
static void
test_canon_example(void **state)
{
	static const char *const fields[] = { "A: X\r\n",
		"B : Y\t\r\n\tZ  \r\n" };
	static const char body[] = " C \r\nD \t E\r\n\r\n\r\n";
	uint8_t got[32], want[32];
	struct buf out;

	(void)state;
	buf_init(&out, 1024);
	assert_int_equal(dkim_canon_header(DKIM_RELAXED, fields[0],
	                     strlen(fields[0]), true, &out),
	    0);
	assert_int_equal(dkim_canon_header(DKIM_RELAXED, fields[1],
	                     strlen(fields[1]), true, &out),
	    0);
	assert_string_equal((char *)out.data, "a:X\r\nb:Y Z\r\n");
	buf_clear(&out);
	assert_int_equal(dkim_canon_header(DKIM_SIMPLE, fields[1],
	                     strlen(fields[1]), true, &out),
	    0);
	assert_string_equal((char *)out.data, fields[1]);
	buf_clear(&out);
	assert_int_equal(dkim_canon_header(DKIM_SIMPLE, fields[1],
	                     strlen(fields[1]), false, &out),
	    0);
	assert_string_equal((char *)out.data, "B : Y\t\r\n\tZ  ");
	buf_reset(&out);

	body_digest(DKIM_RELAXED, UINT64_MAX, body, 1000, got, NULL);
	digest_of(" C\r\nD E\r\n", want);
	assert_memory_equal(got, want, 32);
	body_digest(DKIM_SIMPLE, UINT64_MAX, body, 1000, got, NULL);
	digest_of(" C \r\nD \t E\r\n", want);
	assert_memory_equal(got, want, 32);
}

static void
test_canon_body_edges(void **state)
{
	static const struct {
		enum dkim_canon c;
		const char *in, *want;
	} cases[] = {
		{ DKIM_SIMPLE, "", "\r\n" },
		{ DKIM_RELAXED, "", "" },
		{ DKIM_SIMPLE, "\r\n\r\n", "\r\n" },
		{ DKIM_RELAXED, " \r\n\t\r\n", "" },
		{ DKIM_SIMPLE, "abc", "abc\r\n" },
		{ DKIM_RELAXED, "abc  ", "abc\r\n" },
		{ DKIM_RELAXED, "a\r\n\r\n b\r\n\r\n", "a\r\n\r\n b\r\n" },
		{ DKIM_SIMPLE, "a\rb\nc\r", "a\rb\nc\r\r\n" },
		{ DKIM_RELAXED, "a \r\r\n", "a \r\r\n" },
	};
	uint8_t got[32], want[32];
	uint64_t total;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		body_digest(cases[i].c, UINT64_MAX, cases[i].in, 1000, got,
		    &total);
		digest_of(cases[i].want, want);
		assert_memory_equal(got, want, 32);
		assert_int_equal(total, strlen(cases[i].want));
	}
	/* l=: the first 3 canonical bytes hashed, all counted. */
	body_digest(DKIM_SIMPLE, 3, "hello\r\n", 1000, got, &total);
	digest_of("hel", want);
	assert_memory_equal(got, want, 32);
	assert_int_equal(total, 7);
}

/* Feeding byte by byte, and cut in two at every byte, == feeding whole. */
static void
test_canon_chunks(void **state)
{
	static const char *const bodies[] = {
		" C \r\nD \t E\r\n\r\n\r\n",
		"line one\r\n\r\n  \r\n\t\r\nline\t two  \r\n\r\n",
		"a\r\r\n\n\r b \r",
		"\r\n\r\n\r\nx",
	};
	uint8_t whole[32], got[32], a[32];
	enum dkim_canon c;
	size_t i, cut, n;

	(void)state;
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
		for (c = DKIM_SIMPLE; c <= DKIM_RELAXED; c++) {
			n = strlen(bodies[i]);
			body_digest(c, UINT64_MAX, bodies[i], n + 1, whole,
			    NULL);
			body_digest(c, UINT64_MAX, bodies[i], 1, got, NULL);
			assert_memory_equal(got, whole, 32);
			for (cut = 0; cut <= n; cut++) {
				struct dkim_body *b = dkim_body_new(c, 5);

				dkim_body_update(b, (const uint8_t *)bodies[i],
				    cut);
				dkim_body_update(b,
				    (const uint8_t *)bodies[i] + cut, n - cut);
				assert_int_equal(dkim_body_final(b, got, NULL),
				    0);
				dkim_body_free(b);
				body_digest(c, 5, bodies[i], n + 1, a, NULL);
				assert_memory_equal(got, a, 32);
			}
		}
}

/* ---- sign, then verify ---- */

static const char msg[] = "From: Alice <alice@example.com>\r\n"
                          "To: bob@example.net\r\n"
                          "Subject: lunch\r\n"
                          "  tomorrow?\r\n"
                          "Date: Mon, 7 Dec 2026 10:00:00 +0000\r\n"
                          "Message-ID: <1@example.com>\r\n"
                          "X-Mailer: test\r\n"
                          "\r\n"
                          "Hello Bob,\r\n"
                          "\r\n"
                          "see you at noon.  \r\n"
                          "\r\n"
                          "\r\n";

static EVP_PKEY *rsa_key, *ed_key;
static struct testauth_keys keys;

static int
setup_keys(void **state)
{
	(void)state;
	if (testauth_keys_new(&keys) == -1)
		return -1;
	rsa_key = keys.rsa;
	ed_key = keys.ed;
	testauth_table[0] = (struct testauth_rec){ "r1._domainkey.example.com",
		(char *)keys.rsa_txt.data };
	testauth_table[1] = (struct testauth_rec){ "e1._domainkey.example.com",
		(char *)keys.ed_txt.data };
	return 0;
}

static int
teardown_keys(void **state)
{
	(void)state;
	testauth_keys_free(&keys);
	return 0;
}

static char *
sign_both(void)
{
	struct dkim_sign_key keys[2] = {
		{ "example.com", "r1", rsa_key, DKIM_RSA_SHA256 },
		{ "example.com", "e1", ed_key, DKIM_ED25519_SHA256 },
	};

	return sign(keys, 2, msg);
}

static void
assert_results(const char *m, enum dkim_res want, const char *reason)
{
	struct dkim_result r[4];
	size_t n = verify(m, 1800000000, r, 4), i;

	assert_int_equal(n, 2);
	for (i = 0; i < n; i++) {
		if (r[i].result != want || strcmp(r[i].reason, reason) != 0)
			fail_msg("signature %zu: %s (%s), want %s (%s)", i,
			    dkim_res_name(r[i].result), r[i].reason,
			    dkim_res_name(want), reason);
		assert_string_equal(r[i].domain, "example.com");
	}
	assert_string_equal(r[0].selector, "r1");
	assert_string_equal(r[0].algorithm, "rsa-sha256");
	assert_string_equal(r[1].selector, "e1");
	assert_string_equal(r[1].algorithm, "ed25519-sha256");
}

/* Replace the first `from` after the signatures with `to`. */
static char *
edit(const char *m, const char *from, const char *to)
{
	const char *at = strstr(strstr(m, "\r\nFrom:"), from);
	size_t n = strlen(m) - strlen(from) + strlen(to) + 1, k;
	char *out = malloc(n);

	assert_non_null(at);
	k = (size_t)(at - m);
	memcpy(out, m, k);
	(void)snprintf(out + k, n - k, "%s%s", to, at + strlen(from));
	return out;
}

/* m with its folds removed, in place of the last one (static). */
static const char *
unfold(const char *m)
{
	static char out[8192];
	size_t i, k = 0;

	for (i = 0; m[i] != '\0' && k + 1 < sizeof(out); i++) {
		if (strncmp(m + i, "\r\n\t", 3) == 0) {
			i += 2;
			continue;
		}
		out[k++] = m[i];
	}
	out[k] = '\0';
	return out;
}

static void
test_sign_verify(void **state)
{
	char *m = sign_both(), *e;
	const char *line;

	(void)state;
	/* Every line of the signatures is under 78 columns. */
	for (line = m; strncmp(line, "From:", 5) != 0;
	     line = strstr(line, "\r\n") + 2)
		assert_true(strstr(line, "\r\n") - line < 78);
	assert_non_null(
	    strstr(unfold(m), "h=from:from:subject:subject:date:date:"
	                      "to:to:cc:message-id:message-id:"
	                      "mime-version:content-type:"
	                      "content-transfer-encoding;"));
	assert_results(m, DKIM_PASS, "");

	e = edit(m, "noon", "nooN");
	assert_results(e, DKIM_FAIL, "body hash mismatch");
	free(e);
	e = edit(m, "lunch", "Lunch");
	assert_results(e, DKIM_FAIL, "signature mismatch");
	free(e);
	/* Relaxed: folding and case of a signed field's name do not count. */
	e = edit(m, "Subject: lunch\r\n  tomorrow?",
	    "SUBJECT:  lunch tomorrow?");
	assert_results(e, DKIM_PASS, "");
	free(e);
	e = edit(m, "X-Mailer: test", "X-Mailer: changed");
	assert_results(e, DKIM_PASS, "");
	free(e);
	/* Oversigned: a field added below or above cannot pass. */
	e = edit(m, "X-Mailer: test", "Cc: eve@example.org");
	assert_results(e, DKIM_FAIL, "signature mismatch");
	free(e);
	e = edit(m, "X-Mailer: test", "From: eve@example.org");
	assert_results(e, DKIM_FAIL, "signature mismatch");
	free(e);
	free(m);
}

static void
test_verify_refusals(void **state)
{
	char *m = sign_both(), *e;
	struct dkim_result r[8];
	struct buf small_txt;
	EVP_PKEY *small;
	size_t n;

	(void)state;
	testauth_table[0].txt = NULL; /* DNS_TEMP */
	testauth_table[1].txt = "v=DKIM1; k=ed25519; p=";
	n = verify(m, 1800000000, r, 8);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].result, DKIM_TEMPERROR);
	assert_int_equal(r[1].result, DKIM_PERMERROR);
	assert_string_equal(r[1].reason, "key revoked");
	small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)512);
	buf_init(&small_txt, 4096);
	assert_non_null(small);
	assert_int_equal(dkimkeys_txt_value(small, DKIM_RSA_SHA256, &small_txt),
	    0);
	testauth_table[0].txt = (char *)small_txt.data;
	testauth_table[1].txt = (char *)keys.rsa_txt.data;
	n = verify(m, 1800000000, r, 8);
	assert_int_equal(r[0].result, DKIM_PERMERROR);
	assert_string_equal(r[0].reason, "key too small");
	assert_int_equal(r[1].result, DKIM_PERMERROR);
	assert_string_equal(r[1].reason, "key type does not match a=");
	testauth_table[0].txt = (char *)keys.rsa_txt.data;
	testauth_table[1].txt = (char *)keys.ed_txt.data;
	EVP_PKEY_free(small);
	buf_reset(&small_txt);
	/* Too many for room: *n stops there. */
	assert_int_equal(verify(m, 1800000000, r, 1), 1);
	/* An x= in the past: expired (checked before the signature). */
	e = edit(m, "", "");
	memcpy(strstr(e, "c=relaxed/relaxed;"), "x=17;             ", 18);
	n = verify(e, 1800000000, r, 8);
	assert_int_equal(r[0].result, DKIM_PERMERROR);
	assert_string_equal(r[0].reason, "signature expired (x=)");
	free(e);
	/* An unknown selector. */
	e = edit(m, "", "");
	memcpy(strstr(e, "s=r1;"), "s=r9;", 5);
	n = verify(e, 1800000000, r, 8);
	assert_int_equal(r[0].result, DKIM_PERMERROR);
	assert_string_equal(r[0].reason, "key not found");
	free(e);
	/* No signature at all. */
	assert_int_equal(verify(msg, 1800000000, r, 8), 0);
	free(m);
}

/* RFC 8463 appendix A: one message, an ed25519 and an rsa signature. */
static const char rfc8463[] =
    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
    " subject : date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
    " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
    " date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
    " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
    " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
    "From: Joe SixPack <joe@football.example.com>\r\n"
    "To: Suzie Q <suzie@shopping.example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
    "\r\n"
    "Hi.\r\n"
    "\r\n"
    "We lost the game.  Are you hungry yet?\r\n"
    "\r\n"
    "Joe.\r\n";

static void
test_rfc8463(void **state)
{
	struct testauth_rec saved[2] = { testauth_table[0], testauth_table[1] };
	struct dkim_result r[4];
	size_t n;

	(void)state;
	testauth_table[0] =
	    (struct testauth_rec){ "brisbane._domainkey.football.example.com",
		    "v=DKIM1; k=ed25519; "
		    "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=" };
	testauth_table[1] =
	    (struct testauth_rec){ "test._domainkey.football.example.com",
		    "v=DKIM1; k=rsa; "
		    "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR"
		    "iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/"
		    "byYzCNb3W91y3FutAC"
		    "DfzwQ/BC/e/"
		    "8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3"
		    "Ip3G+2kryOTIKT+l/K4w3QIDAQAB" };
	n = verify(rfc8463, 1528637909, r, 4);
	assert_int_equal(n, 2);
	assert_string_equal(dkim_res_name(r[0].result), "pass");
	assert_string_equal(r[0].algorithm, "ed25519-sha256");
	assert_string_equal(r[0].bprefix, "/gCrinpcQOoI");
	assert_string_equal(dkim_res_name(r[1].result), "pass");
	assert_string_equal(r[1].algorithm, "rsa-sha256");
	assert_string_equal(r[1].identity, "@football.example.com");
	testauth_table[0] = saved[0];
	testauth_table[1] = saved[1];
}

/* ---- the key store ---- */

static void
test_keystore(void **state)
{
	char dir[TESTUTIL_DIR_MAX], sel[16];
	const char *const only[] = { "b", NULL }, *const bad[] = { "zz", NULL };
	struct dkimkeys ks;
	struct why why;
	EVP_PKEY *pk = NULL;

	(void)state;
	assert_int_equal(testutil_mkdtemp(dir, sizeof(dir), NULL, "dkim"), 0);
	assert_int_equal(dkimkeys_load(dir, "example.com", NULL, &ks, &why), 0);
	assert_int_equal(ks.n, 0);
	assert_int_equal(dkimkeys_generate(dir, "Example.COM", "b",
	                     DKIM_ED25519_SHA256, 0, &pk, &why),
	    0);
	EVP_PKEY_free(pk);
	assert_int_equal(dkimkeys_generate(dir, "example.com", "a",
	                     DKIM_RSA_SHA256, 1024, NULL, &why),
	    0);
	assert_int_equal(dkimkeys_generate(dir, "example.com", "a",
	                     DKIM_ED25519_SHA256, 0, NULL, &why),
	    -1);
	assert_int_equal(dkimkeys_generate(dir, "../etc", "a",
	                     DKIM_ED25519_SHA256, 0, NULL, &why),
	    -1);
	assert_int_equal(dkimkeys_load(dir, "example.com", NULL, &ks, &why), 0);
	assert_int_equal(ks.n, 2);
	assert_string_equal(ks.key[0].selector, "a");
	assert_int_equal(ks.key[0].alg, DKIM_RSA_SHA256);
	assert_int_equal(ks.bits[0], 1024);
	assert_int_equal(ks.key[1].alg, DKIM_ED25519_SHA256);
	dkimkeys_free(&ks);
	assert_int_equal(dkimkeys_load(dir, "example.com", only, &ks, &why), 0);
	assert_int_equal(ks.n, 1);
	dkimkeys_free(&ks);
	assert_int_equal(dkimkeys_load(dir, "example.com", bad, &ks, &why), -1);
	dkimkeys_default_selector(1796083200, DKIM_ED25519_SHA256, sel);
	assert_string_equal(sel, "t202612e");
	testutil_rmtree(dir);
}

static void
test_txt_quoted(void **state)
{
	char v[600];
	struct buf out;

	(void)state;
	memset(v, 'a', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	buf_init(&out, 4096);
	assert_int_equal(dkimkeys_txt_quoted(v, &out), 0);
	assert_int_equal(out.len, 599 + 6 + 2);
	assert_int_equal(out.data[256], '"');
	assert_int_equal(out.data[257], ' ');
	buf_reset(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sig_parse),
		cmocka_unit_test(test_key_parse),
		cmocka_unit_test(test_canon_example),
		cmocka_unit_test(test_canon_body_edges),
		cmocka_unit_test(test_canon_chunks),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_verify_refusals),
		cmocka_unit_test(test_rfc8463),
		cmocka_unit_test(test_keystore),
		cmocka_unit_test(test_txt_quoted),
	};

	return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
