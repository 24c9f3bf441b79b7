/* SPDX-License-Identifier: ISC */
/*
 * auth/dkim.c - DKIM signing and verifying (RFC 6376 5 and 6, RFC 8463).
 * The header hash input is built from the kept header fields; the body
 * streams through dkim_body (dkim_canon.c). RSA signs and verifies the
 * SHA-256 digest with PKCS#1 v1.5, Ed25519 signs the digest itself
 * (RFC 8463 3), both through OpenSSL EVP.
 * Trust: see dkim.h.
 */
#include "auth/dkim.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "auth/dkim-private.h"
#include "util/str.h"

/* ---- the kept header ---- */

void
dkim_hstore_init(struct dkim_hstore *h)
{
	memset(h, 0, sizeof(*h));
	buf_init(&h->text, DKIM_HDR_BYTES_MAX);
}

void
dkim_hstore_free(struct dkim_hstore *h)
{
	buf_reset(&h->text);
	free(h->f);
}

void
dkim_hstore_add(struct dkim_hstore *h, const char *field, size_t n)
{
	struct dkim_hfield *f;

	if (h->overflow || h->n == DKIM_HDR_FIELDS_MAX) {
		h->overflow = true;
		return;
	}
	if ((f = realloc(h->f, (h->n + 1) * sizeof(*f))) == NULL) {
		h->overflow = true;
		return;
	}
	h->f = f;
	f[h->n].off = h->text.len;
	f[h->n].len = n;
	if (buf_append(&h->text, field, n) == -1) {
		h->overflow = true;
		return;
	}
	h->n++;
}

const char *
dkim_hstore_field(const struct dkim_hstore *h, size_t i, size_t *len)
{
	*len = h->f[i].len;
	return (const char *)h->text.data + h->f[i].off;
}

bool
dkim_name_is(const char *field, size_t n, const char *name)
{
	size_t nl = dkim_field_name(field, n);

	return nl == strlen(name) && strncasecmp(field, name, nl) == 0;
}

/*
 * Hash the fields that h[] names, each occurrence of a name taking the
 * next instance from the bottom up (RFC 6376 5.4.2); a name with no
 * instance left adds nothing.
 */
int
dkim_hash_fields(EVP_MD_CTX *md, const struct dkim_hstore *hs,
    const char (*h)[DKIM_FIELD_NAME_MAX], size_t nh, enum dkim_canon canon,
    struct buf *tmp)
{
	size_t used[DKIM_H_MAX], i, j, k, len;
	const char *f;

	for (i = 0; i < nh; i++) {
		/* Instances already taken by earlier copies of this name. */
		for (used[i] = 0, j = 0; j < i; j++)
			if (strcmp(h[j], h[i]) == 0)
				used[i]++;
		for (k = hs->n, j = 0; k > 0; k--) {
			f = dkim_hstore_field(hs, k - 1, &len);
			if (!dkim_name_is(f, len, h[i]) || j++ < used[i])
				continue;
			buf_clear(tmp);
			if (dkim_canon_header(canon, f, len, true, tmp) == -1 ||
			    EVP_DigestUpdate(md, tmp->data, tmp->len) != 1)
				return -1;
			break;
		}
	}
	return 0;
}

/* RSA: PKCS#1 v1.5 over the digest; Ed25519: the digest is the message. */
int
dkim_sign_digest(EVP_PKEY *pkey, enum dkim_alg alg, const uint8_t d[32],
    uint8_t *sig, size_t *siglen)
{
	EVP_PKEY_CTX *pc = NULL;
	EVP_MD_CTX *md = NULL;
	int ok = 0;

	if (alg == DKIM_ED25519_SHA256) {
		ok = (md = EVP_MD_CTX_new()) != NULL &&
		     EVP_DigestSignInit(md, NULL, NULL, NULL, pkey) == 1 &&
		     EVP_DigestSign(md, sig, siglen, d, 32) == 1;
		EVP_MD_CTX_free(md);
		return ok ? 0 : -1;
	}
	ok = (pc = EVP_PKEY_CTX_new(pkey, NULL)) != NULL &&
	     EVP_PKEY_sign_init(pc) == 1 &&
	     EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1 &&
	     EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1 &&
	     EVP_PKEY_sign(pc, sig, siglen, d, 32) == 1;
	EVP_PKEY_CTX_free(pc);
	return ok ? 0 : -1;
}

bool
dkim_verify_digest(EVP_PKEY *pkey, enum dkim_alg alg, const uint8_t d[32],
    const uint8_t *sig, size_t siglen)
{
	EVP_PKEY_CTX *pc = NULL;
	EVP_MD_CTX *md = NULL;
	bool ok;

	if (alg == DKIM_ED25519_SHA256) {
		ok = (md = EVP_MD_CTX_new()) != NULL &&
		     EVP_DigestVerifyInit(md, NULL, NULL, NULL, pkey) == 1 &&
		     EVP_DigestVerify(md, sig, siglen, d, 32) == 1;
		EVP_MD_CTX_free(md);
		return ok;
	}
	ok = (pc = EVP_PKEY_CTX_new(pkey, NULL)) != NULL &&
	     EVP_PKEY_verify_init(pc) == 1 &&
	     EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1 &&
	     EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1 &&
	     EVP_PKEY_verify(pc, sig, siglen, d, 32) == 1;
	EVP_PKEY_CTX_free(pc);
	return ok;
}

/* ---- signing ---- */

struct skey {
	char *domain, *selector;
	EVP_PKEY *pkey;
	enum dkim_alg alg;
};

struct dkim_signer {
	struct skey *keys;
	size_t nkeys;
	struct dkim_hstore hdr;
	struct dkim_body *body;
};

/* What we sign, in this order; oversign: listed once more than present. */
static const struct {
	const char *name;
	bool oversign;
} sign_fields[] = {
	{ "from", true },
	{ "reply-to", false },
	{ "subject", true },
	{ "date", true },
	{ "to", true },
	{ "cc", true },
	{ "message-id", true },
	{ "in-reply-to", false },
	{ "references", false },
	{ "mime-version", true },
	{ "content-type", true },
	{ "content-transfer-encoding", true },
};

bool
dkim_key_matches(EVP_PKEY *pkey, enum dkim_alg alg)
{
	int id = EVP_PKEY_get_base_id(pkey);

	return alg == DKIM_ED25519_SHA256 ? id == EVP_PKEY_ED25519
	                                  : id == EVP_PKEY_RSA;
}

struct dkim_signer *
dkim_signer_new(const struct dkim_sign_key *keys, size_t nkeys, struct why *why)
{
	struct dkim_signer *s;
	size_t i;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->keys = calloc(nkeys + 1, sizeof(*s->keys))) == NULL) {
		free(s);
		why_set(why, WHY_TEMP, 12, "dkim: no memory");
		return NULL;
	}
	dkim_hstore_init(&s->hdr);
	for (i = 0; i < nkeys; i++) {
		if (!dkim_key_matches(keys[i].pkey, keys[i].alg)) {
			why_set(why, WHY_PERM, 0,
			    "dkim: key %s for %s is not %s", keys[i].selector,
			    keys[i].domain, dkim_alg_name(keys[i].alg));
			goto fail;
		}
		s->keys[i].domain = strdup(keys[i].domain);
		s->keys[i].selector = strdup(keys[i].selector);
		s->keys[i].alg = keys[i].alg;
		s->nkeys++;
		if (s->keys[i].domain == NULL || s->keys[i].selector == NULL ||
		    EVP_PKEY_up_ref(keys[i].pkey) != 1) {
			why_set(why, WHY_TEMP, 12, "dkim: no memory");
			goto fail;
		}
		s->keys[i].pkey = keys[i].pkey;
	}
	if ((s->body = dkim_body_new(DKIM_RELAXED, UINT64_MAX)) == NULL) {
		why_set(why, WHY_TEMP, 0, "dkim: cannot start SHA-256");
		goto fail;
	}
	return s;
fail:
	dkim_signer_free(s);
	return NULL;
}

void
dkim_signer_free(struct dkim_signer *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nkeys; i++) {
		free(s->keys[i].domain);
		free(s->keys[i].selector);
		EVP_PKEY_free(s->keys[i].pkey);
	}
	free(s->keys);
	dkim_hstore_free(&s->hdr);
	dkim_body_free(s->body);
	free(s);
}

/*
 * List-Id, List-Unsubscribe ... (RFC 2369, 2919, 8058): "List-" and a
 * name of letters, digits and '-'. Any other name could not be written
 * into h= (a ';' ends the tag: found by fuzz_arc), and is no list field.
 */
static bool
is_list_field(const char *field, size_t n)
{
	size_t nl = dkim_field_name(field, n), i;

	if (nl <= 5 || nl >= DKIM_FIELD_NAME_MAX ||
	    strncasecmp(field, "list-", 5) != 0)
		return false;
	for (i = 5; i < nl; i++)
		if (!ascii_is_alnum((unsigned char)field[i]) && field[i] != '-')
			return false;
	return true;
}

bool
dkim_is_signed_field(const char *field, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(sign_fields) / sizeof(sign_fields[0]); i++)
		if (dkim_name_is(field, n, sign_fields[i].name))
			return true;
	return is_list_field(field, n);
}

void
dkim_signer_header(struct dkim_signer *s, const char *field, size_t n)
{
	/* Only the fields we may sign are kept. */
	if (dkim_is_signed_field(field, n))
		dkim_hstore_add(&s->hdr, field, n);
}

void
dkim_signer_body(struct dkim_signer *s, const uint8_t *p, size_t n)
{
	dkim_body_update(s->body, p, n);
}

static size_t
count_named(const struct dkim_hstore *hs, const char *name)
{
	size_t i, n = 0, len;
	const char *f;

	for (i = 0; i < hs->n; i++) {
		f = dkim_hstore_field(hs, i, &len);
		n += dkim_name_is(f, len, name);
	}
	return n;
}

static int
add_name(char (*h)[DKIM_FIELD_NAME_MAX], size_t *nh, const char *name,
    size_t times)
{
	for (; times > 0; times--) {
		if (*nh == DKIM_H_MAX)
			return -1;
		(void)snprintf(h[(*nh)++], DKIM_FIELD_NAME_MAX, "%s", name);
	}
	return 0;
}

/* h=: sign_fields[], then each List-* field name (lower-cased) once per
 * instance. */
int
dkim_choose_names(const struct dkim_hstore *hs, char (*h)[DKIM_FIELD_NAME_MAX],
    size_t *nh)
{
	char name[DKIM_FIELD_NAME_MAX];
	size_t i, j, k, len, nl;
	const char *f;

	*nh = 0;
	for (i = 0; i < sizeof(sign_fields) / sizeof(sign_fields[0]); i++) {
		k = count_named(hs, sign_fields[i].name);
		if (add_name(h, nh, sign_fields[i].name,
		        k + sign_fields[i].oversign) == -1)
			return -1;
	}
	for (i = 0; i < hs->n; i++) {
		f = dkim_hstore_field(hs, i, &len);
		if (!is_list_field(f, len))
			continue;
		nl = dkim_field_name(f, len);
		for (j = 0; j < nl; j++)
			name[j] = (char)tolower((unsigned char)f[j]);
		name[nl] = '\0';
		for (j = 0; j < *nh && strcmp(h[j], name) != 0; j++)
			;
		if (j == *nh &&
		    add_name(h, nh, name, count_named(hs, name)) == -1)
			return -1;
	}
	return 0;
}

void
dkim_fold_word(struct dkim_fold *f, const char *w, size_t n, bool space)
{
	if (f->col + space + n > DKIM_FOLD_WIDTH) {
		f->err |= buf_append(f->b, "\r\n\t", 3);
		f->col = 1;
	} else if (space) {
		f->err |= buf_append(f->b, " ", 1);
		f->col++;
	}
	f->err |= buf_append(f->b, w, n);
	f->col += n;
}

/* A value that may break anywhere (base64): fill each line. */
void
dkim_fold_long(struct dkim_fold *f, const char *w, size_t n)
{
	size_t k;

	while (n > 0) {
		if (f->col >= DKIM_FOLD_WIDTH) {
			f->err |= buf_append(f->b, "\r\n\t", 3);
			f->col = 1;
		}
		k = DKIM_FOLD_WIDTH - f->col < n ? DKIM_FOLD_WIDTH - f->col : n;
		f->err |= buf_append(f->b, w, k);
		f->col += k;
		w += k;
		n -= k;
	}
}

int
dkim_field_head(struct buf *out, const char *lead,
    const struct dkim_sign_key *k, const char *extra, const uint8_t bh[32],
    char (*h)[DKIM_FIELD_NAME_MAX], size_t nh)
{
	struct dkim_fold f = { out, 0, 0 };
	struct buf tmp;
	char w[DNS_NAME_MAX + 8];
	size_t i, start = out->len;

	buf_init(&tmp, 128);
	f.err |= buf_printf(out, "%s a=%s;", lead, dkim_alg_name(k->alg));
	f.col = out->len - start;
	dkim_fold_word(&f, "c=relaxed/relaxed;", 18, true);
	dkim_fold_word(&f, w,
	    (size_t)snprintf(w, sizeof(w), "d=%s;", k->domain), true);
	dkim_fold_word(&f, w,
	    (size_t)snprintf(w, sizeof(w), "s=%s;", k->selector), true);
	if (extra != NULL)
		dkim_fold_word(&f, extra, strlen(extra), true);
	for (i = 0; i < nh; i++)
		dkim_fold_word(&f, w,
		    (size_t)snprintf(w, sizeof(w), "%s%s%s", i == 0 ? "h=" : "",
		        h[i], i + 1 < nh ? ":" : ";"),
		    i == 0);
	f.err |= buf_append_str(&tmp, "bh=") | dkim_b64_encode(bh, 32, &tmp) |
	         buf_append_str(&tmp, ";");
	dkim_fold_word(&f, (const char *)tmp.data, tmp.len, true);
	dkim_fold_word(&f, "b=", 2, true);
	buf_reset(&tmp);
	return f.err != 0 ? -1 : (int)f.col;
}

int
dkim_sign_field(EVP_MD_CTX *md, struct buf *out, size_t start, size_t col,
    EVP_PKEY *pkey, enum dkim_alg alg)
{
	uint8_t d[32], sig[DKIM_SIG_B_MAX];
	size_t siglen = sizeof(sig);
	struct buf tmp, b64;
	struct dkim_fold f = { out, col, 0 };
	unsigned dl = 0;
	int rc = -1;

	buf_init(&tmp, DKIM_HDR_BYTES_MAX);
	buf_init(&b64, 2 * DKIM_SIG_B_MAX);
	if (dkim_canon_header(DKIM_RELAXED, (const char *)out->data + start,
	        out->len - start, false, &tmp) == -1 ||
	    EVP_DigestUpdate(md, tmp.data, tmp.len) != 1 ||
	    EVP_DigestFinal_ex(md, d, &dl) != 1 ||
	    dkim_sign_digest(pkey, alg, d, sig, &siglen) == -1 ||
	    dkim_b64_encode(sig, siglen, &b64) == -1)
		goto done;
	dkim_fold_long(&f, (const char *)b64.data, b64.len);
	if (f.err == 0 && buf_append(out, "\r\n", 2) == 0)
		rc = 0;
done:
	buf_reset(&tmp);
	buf_reset(&b64);
	return rc;
}

static int
sign_one(struct dkim_signer *s, const struct skey *k, const uint8_t bh[32],
    char (*h)[DKIM_FIELD_NAME_MAX], size_t nh, struct buf *out)
{
	size_t start = out->len;
	struct dkim_sign_key pk = { k->domain, k->selector, k->pkey, k->alg };
	struct buf tmp;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int col, rc = -1;

	buf_init(&tmp, DKIM_HDR_BYTES_MAX);
	if (md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    dkim_hash_fields(md, &s->hdr, (const char(*)[DKIM_FIELD_NAME_MAX])h,
	        nh, DKIM_RELAXED, &tmp) == 0 &&
	    (col = dkim_field_head(out, "DKIM-Signature: v=1;", &pk, NULL, bh,
	         h, nh)) >= 0)
		rc = dkim_sign_field(md, out, start, (size_t)col, k->pkey,
		    k->alg);
	EVP_MD_CTX_free(md);
	buf_reset(&tmp);
	return rc;
}

int
dkim_signer_finish(struct dkim_signer *s, struct buf *out, struct why *why)
{
	char h[DKIM_H_MAX][DKIM_FIELD_NAME_MAX];
	uint8_t bh[32];
	size_t nh, i, len0 = out->len;

	if (s->hdr.overflow)
		return why_set(why, WHY_PERM, 0,
		    "dkim: header too large to sign");
	if (dkim_body_final(s->body, bh, NULL) == -1)
		return why_set(why, WHY_TEMP, 0, "dkim: body hash failed");
	if (dkim_choose_names(&s->hdr, h, &nh) == -1)
		return why_set(why, WHY_PERM, 0,
		    "dkim: too many header fields to sign");
	for (i = 0; i < s->nkeys; i++)
		if (sign_one(s, &s->keys[i], bh, h, nh, out) == -1) {
			out->len = len0;
			return why_set(why, WHY_TEMP, 0,
			    "dkim: signing with %s for %s failed",
			    s->keys[i].selector, s->keys[i].domain);
		}
	return 0;
}

/* ---- verifying ---- */

struct vsig {
	struct dkim_sig sig;
	size_t field;     /* its index in the kept header */
	const char *perm; /* set: permerror with this reason */
	struct dkim_body *body;
};

struct dkim_verifier {
	unsigned max;
	struct dkim_hstore hdr;
	struct vsig *sigs;
	size_t nsigs;
};

struct dkim_verifier *
dkim_verifier_new(unsigned max_sigs)
{
	struct dkim_verifier *v = calloc(1, sizeof(*v));

	if (v == NULL)
		return NULL;
	v->max = max_sigs > 0 ? max_sigs : DKIM_SIGS_DEFAULT;
	dkim_hstore_init(&v->hdr);
	if ((v->sigs = calloc(v->max, sizeof(*v->sigs))) == NULL) {
		dkim_verifier_free(v);
		return NULL;
	}
	return v;
}

void
dkim_verifier_free(struct dkim_verifier *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->nsigs; i++)
		dkim_body_free(v->sigs[i].body);
	free(v->sigs);
	dkim_hstore_free(&v->hdr);
	free(v);
}

void
dkim_verifier_header(struct dkim_verifier *v, const char *field, size_t n)
{
	dkim_hstore_add(&v->hdr, field, n);
}

static void
add_sig(struct dkim_verifier *v, size_t fi, const char *f, size_t len)
{
	struct vsig *s = &v->sigs[v->nsigs++];
	const char *colon = memchr(f, ':', len);
	size_t off = (size_t)(colon + 1 - f);

	s->field = fi;
	if (dkim_sig_parse(colon + 1, len - off, &s->sig, &s->perm) == -1)
		return;
	s->body =
	    dkim_body_new(s->sig.bcanon, s->sig.has_l ? s->sig.l : UINT64_MAX);
	if (s->body == NULL)
		s->perm = "no memory";
}

void
dkim_verifier_eoh(struct dkim_verifier *v)
{
	size_t i, len;
	const char *f;

	for (i = 0; i < v->hdr.n && v->nsigs < v->max; i++) {
		f = dkim_hstore_field(&v->hdr, i, &len);
		if (dkim_name_is(f, len, "dkim-signature"))
			add_sig(v, i, f, len);
	}
}

void
dkim_verifier_body(struct dkim_verifier *v, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < v->nsigs; i++)
		if (v->sigs[i].body != NULL)
			dkim_body_update(v->sigs[i].body, p, n);
}

void
dkim_set_reason(struct dkim_result *r, enum dkim_res res, const char *reason)
{
	r->result = res;
	(void)snprintf(r->reason, sizeof(r->reason), "%s", reason);
}

/* The key record at SELECTOR._domainkey.DOMAIN: 0, or -1 with r set. */
static int
fetch_key(const struct dkim_sig *sig, const struct authdns *dns,
    struct dkim_key *key, struct dkim_result *r)
{
	struct dns_rrset rr = { 0 };
	struct why why = { 0 };
	const char *kwhy = "key record has no p=";
	char name[DNS_NAME_MAX + DKIM_SELECTOR_MAX + 16];
	enum dns_status st;
	size_t i;
	int rc = -1;

	if ((size_t)snprintf(name, sizeof(name), "%s._domainkey.%s",
	        sig->selector, sig->domain) >= DNS_NAME_MAX) {
		dkim_set_reason(r, DKIM_PERMERROR, "key name too long");
		return -1;
	}
	st = dns->lookup(dns->arg, name, DNS_T_TXT, &rr, &why);
	if (st == DNS_TEMP) {
		dkim_set_reason(r, DKIM_TEMPERROR, "key lookup failed");
		goto done;
	}
	if (st != DNS_OK || rr.n == 0) {
		dkim_set_reason(r, DKIM_PERMERROR, "key not found");
		goto done;
	}
	/* The first record that parses is the key (RFC 6376 3.6.2.2). */
	for (i = 0; i < rr.n && rc == -1; i++)
		if (dkim_key_parse((const char *)rr.data[i], rr.len[i], key,
		        &kwhy) == 0)
			rc = 0;
	if (rc == -1)
		dkim_set_reason(r, DKIM_PERMERROR, kwhy);
done:
	dns_rrset_free(&rr);
	return rc;
}

/* The public key from p=: 0, or -1 with r set. */
static int
make_pkey(const struct dkim_key *key, EVP_PKEY **out, struct dkim_result *r)
{
	const unsigned char *p = key->p;

	if (key->alg == DKIM_ED25519_SHA256) {
		*out = key->p_len != 32
		           ? NULL
		           : EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
		                 key->p, 32);
	} else {
		*out = d2i_PUBKEY(NULL, &p, (long)key->p_len);
		/* Some publish the bare RSAPublicKey (PKCS#1) instead. */
		if (*out == NULL) {
			p = key->p;
			*out = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p,
			    (long)key->p_len);
		}
	}
	if (*out == NULL || !dkim_key_matches(*out, key->alg)) {
		EVP_PKEY_free(*out);
		*out = NULL;
		dkim_set_reason(r, DKIM_PERMERROR, "bad public key");
		return -1;
	}
	if (key->alg == DKIM_RSA_SHA256 &&
	    EVP_PKEY_get_bits(*out) < DKIM_RSA_BITS_MIN) {
		EVP_PKEY_free(*out);
		*out = NULL;
		dkim_set_reason(r, DKIM_PERMERROR, "key too small");
		return -1;
	}
	return 0;
}

/* What the key record allows (RFC 6376 6.1.2): 0, or -1 with r set. */
static int
key_allows(const struct dkim_key *key, const struct dkim_sig *sig,
    struct dkim_result *r)
{
	const char *at = strrchr(sig->identity, '@');

	if (key->revoked)
		dkim_set_reason(r, DKIM_PERMERROR, "key revoked");
	else if (key->alg != sig->alg)
		dkim_set_reason(r, DKIM_PERMERROR,
		    "key type does not match a=");
	else if (!key->sha256_ok)
		dkim_set_reason(r, DKIM_PERMERROR, "key h= excludes sha256");
	else if (key->strict && strcasecmp(at + 1, sig->domain) != 0)
		dkim_set_reason(r, DKIM_PERMERROR,
		    "i= is a subdomain (key t=s)");
	else
		return 0;
	return -1;
}

int
dkim_key_get(const struct dkim_sig *sig, const struct authdns *dns,
    struct dkim_key *key, EVP_PKEY **pkey, struct dkim_result *r)
{
	*pkey = NULL;
	if (fetch_key(sig, dns, key, r) == -1 ||
	    key_allows(key, sig, r) == -1 || make_pkey(key, pkey, r) == -1)
		return -1;
	return 0;
}

int
dkim_hash_self(EVP_MD_CTX *md, const char *f, size_t len, enum dkim_canon canon,
    uint8_t d[32])
{
	struct dkim_tag t;
	const char *why, *val = memchr(f, ':', len);
	struct buf self, tmp;
	size_t pos = 0, off;
	unsigned dl = 0;
	int rc = -1;

	if (val == NULL)
		return -1;
	off = (size_t)(++val - f);
	buf_init(&self, len + 1);
	buf_init(&tmp, len + 3);
	/* The signature field itself, b= emptied (3.5, b=). */
	while (dkim_tag_next(val, len - off, &pos, &t, &why) == 1)
		if (t.name_len == 1 && t.name[0] == 'b') {
			if (buf_append(&self, f, off + t.raw_off) == -1 ||
			    buf_append(&self, val + t.raw_end,
			        len - off - t.raw_end) == -1)
				goto done;
			break;
		}
	if (dkim_canon_header(canon, (const char *)self.data, self.len, false,
	        &tmp) == -1 ||
	    EVP_DigestUpdate(md, tmp.data, tmp.len) != 1 ||
	    EVP_DigestFinal_ex(md, d, &dl) != 1)
		goto done;
	rc = 0;
done:
	buf_reset(&self);
	buf_reset(&tmp);
	return rc;
}

int
dkim_header_digest(const struct dkim_hstore *hs, size_t field,
    const struct dkim_sig *sig, uint8_t d[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct buf tmp;
	const char *f;
	size_t len;
	int rc = -1;

	buf_init(&tmp, DKIM_HDR_BYTES_MAX);
	f = dkim_hstore_field(hs, field, &len);
	if (md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    dkim_hash_fields(md, hs, (const char(*)[DKIM_FIELD_NAME_MAX])sig->h,
	        sig->nh, sig->hcanon, &tmp) == 0)
		rc = dkim_hash_self(md, f, len, sig->hcanon, d);
	EVP_MD_CTX_free(md);
	buf_reset(&tmp);
	return rc;
}

void
dkim_check_time(const struct dkim_sig *sig, time_t now, struct dkim_result *r)
{
	uint64_t t = now > 0 ? (uint64_t)now : 0;

	if (sig->has_x && sig->x + DKIM_CLOCK_SKEW < t)
		dkim_set_reason(r, DKIM_PERMERROR, "signature expired (x=)");
	else if (sig->has_t && sig->t > t + DKIM_CLOCK_SKEW)
		dkim_set_reason(r, DKIM_PERMERROR,
		    "signature in the future (t=)");
}

static void
check_one(const struct dkim_verifier *v, struct vsig *s,
    const struct authdns *dns, time_t now, struct dkim_result *r)
{
	const struct dkim_sig *sig = &s->sig;
	struct dkim_key key;
	EVP_PKEY *pkey = NULL;
	uint8_t bh[32], hd[32];
	uint64_t total = 0;
	bool body_ok;

	body_ok = dkim_body_final(s->body, bh, &total) == 0 &&
	          memcmp(bh, sig->bh, 32) == 0;
	dkim_check_time(sig, now, r);
	if (r->result != DKIM_NONE)
		return;
	if (dkim_key_get(sig, dns, &key, &pkey, r) == -1)
		return;
	r->testing = key.testing;
	if (dkim_header_digest(&v->hdr, s->field, sig, hd) == -1)
		dkim_set_reason(r, DKIM_TEMPERROR, "hashing failed");
	else if (!dkim_verify_digest(pkey, sig->alg, hd, sig->b, sig->b_len))
		dkim_set_reason(r, DKIM_FAIL, "signature mismatch");
	else if (!body_ok)
		dkim_set_reason(r, DKIM_FAIL, "body hash mismatch");
	else if (sig->has_l && total > sig->l) {
		r->result = DKIM_PASS;
		(void)snprintf(r->reason, sizeof(r->reason),
		    "l= signs %llu of %llu body bytes",
		    (unsigned long long)sig->l, (unsigned long long)total);
	} else
		dkim_set_reason(r, DKIM_PASS, "");
	if (key.testing && r->result != DKIM_PASS)
		(void)snprintf(r->reason + strlen(r->reason),
		    sizeof(r->reason) - strlen(r->reason), " (key testing)");
	EVP_PKEY_free(pkey);
}

static void
fill_ids(const struct vsig *s, struct dkim_result *r)
{
	memset(r, 0, sizeof(*r));
	(void)snprintf(r->domain, sizeof(r->domain), "%s", s->sig.domain);
	(void)snprintf(r->selector, sizeof(r->selector), "%s", s->sig.selector);
	(void)snprintf(r->bprefix, sizeof(r->bprefix), "%s", s->sig.bprefix);
	(void)snprintf(r->identity, sizeof(r->identity), "%s", s->sig.identity);
	if (s->perm == NULL)
		(void)snprintf(r->algorithm, sizeof(r->algorithm), "%s",
		    dkim_alg_name(s->sig.alg));
}

void
dkim_verifier_finish(struct dkim_verifier *v, const struct authdns *dns,
    time_t now, struct dkim_result *out, size_t *n)
{
	size_t i, room = *n;

	for (i = 0, *n = 0; i < v->nsigs && i < room; i++, (*n)++) {
		struct vsig *s = &v->sigs[i];
		struct dkim_result *r = &out[i];

		fill_ids(s, r);
		if (s->perm != NULL)
			dkim_set_reason(r, DKIM_PERMERROR, s->perm);
		else if (v->hdr.overflow)
			dkim_set_reason(r, DKIM_PERMERROR, "header too large");
		else
			check_one(v, s, dns, now, r);
	}
}
