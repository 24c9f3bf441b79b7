/* SPDX-License-Identifier: ISC */
/*
 * auth/arc.c - ARC (RFC 8617): the chain's structure (4.2), the
 * verifier (5.2) and the sealer (5.1). An ARC-Message-Signature is a
 * DKIM signature with i= (4.1.2); an ARC-Seal signs the ARC sets in
 * instance order, each as AAR, AMS, AS, relaxed (5.1.1). Both use
 * dkim.c's pieces (dkim-private.h).
 * Trust: see arc.h.
 */
#include "auth/arc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/authres.h"
#include "auth/dkim-private.h"

_Static_assert(ARC_SETS_MAX == DKIM_ARC_SETS_MAX, "one ARC limit");

/* The three fields of a set, in the order an ARC-Seal signs them. */
enum kind {
	K_AAR = 0,
	K_AMS,
	K_AS,
	K_N,
};

static const char *const kind_name[K_N] = {
	"arc-authentication-results",
	"arc-message-signature",
	"arc-seal",
};

static const char *const kind_label[K_N] = {
	"ARC-Authentication-Results",
	"ARC-Message-Signature",
	"ARC-Seal",
};

const char *
arc_cv_name(enum arc_cv cv)
{
	return cv == ARC_PASS ? "pass" : cv == ARC_FAIL ? "fail" : "none";
}

static int
kind_of(const char *field, size_t n)
{
	int k;

	for (k = 0; k < K_N; k++)
		if (dkim_name_is(field, n, kind_name[k]))
			return k;
	return -1;
}

/*
 * The instance of an ARC field: its i= tag (for the AAR the first tag,
 * RFC 8617 4.1.1), 1..ARC_SETS_MAX; 0 when absent or out of range.
 */
static unsigned
field_instance(const char *field, size_t n, enum kind k)
{
	const char *v = memchr(field, ':', n), *why;
	struct dkim_tag t;
	size_t pos = 0, i;
	unsigned inst = 0;

	if (v == NULL)
		return 0;
	v++;
	n -= (size_t)(v - field);
	while (dkim_tag_next(v, n, &pos, &t, &why) == 1) {
		if (t.name_len == 1 && t.name[0] == 'i') {
			if (t.val_len == 0 || t.val_len > 2)
				return 0;
			for (i = 0; i < t.val_len; i++) {
				if (t.val[i] < '0' || t.val[i] > '9')
					return 0;
				inst = inst * 10 + (unsigned)(t.val[i] - '0');
			}
			return inst <= ARC_SETS_MAX ? inst : 0;
		}
		if (k == K_AAR)
			return 0;
	}
	return 0;
}

/* Feed md field i of hs, relaxed, with CRLF. 0 or -1. */
static int
hash_field(EVP_MD_CTX *md, const struct dkim_hstore *hs, size_t i,
    struct buf *tmp)
{
	const char *f;
	size_t len;

	f = dkim_hstore_field(hs, i, &len);
	buf_clear(tmp);
	if (dkim_canon_header(DKIM_RELAXED, f, len, true, tmp) == -1 ||
	    EVP_DigestUpdate(md, tmp->data, tmp->len) != 1)
		return -1;
	return 0;
}

/* ---- verifying ---- */

struct aset {
	size_t field[K_N]; /* index in the kept header */
	unsigned count[K_N];
	struct dkim_sig ams, as;
	struct dkim_body *body;
	bool body_ok;
};

struct arc_verifier {
	struct dkim_hstore hdr;
	struct aset *sets; /* [1..ARC_SETS_MAX]; NULL without ARC fields */
	unsigned n;        /* the highest instance */
	bool any;          /* an ARC field was seen */
	bool temp;         /* a key lookup failed for now */
	char error[ARC_REASON_MAX]; /* the chain is broken: why */
};

struct arc_verifier *
arc_verifier_new(void)
{
	struct arc_verifier *v = calloc(1, sizeof(*v));

	if (v != NULL)
		dkim_hstore_init(&v->hdr);
	return v;
}

void
arc_verifier_free(struct arc_verifier *v)
{
	unsigned i;

	if (v == NULL)
		return;
	for (i = 0; v->sets != NULL && i <= ARC_SETS_MAX; i++)
		dkim_body_free(v->sets[i].body);
	free(v->sets);
	dkim_hstore_free(&v->hdr);
	free(v);
}

void
arc_verifier_header(struct arc_verifier *v, const char *field, size_t n)
{
	dkim_hstore_add(&v->hdr, field, n);
}

static void
set_error(struct arc_verifier *v, const char *fmt, const char *a, unsigned i)
{
	if (v->error[0] == '\0')
		(void)snprintf(v->error, sizeof(v->error), fmt, a, i);
}

/* One ARC field: its instance, parsed AMS and AS kept in the set. */
static void
add_field(struct arc_verifier *v, size_t fi, enum kind k)
{
	struct dkim_sig sig;
	const char *f, *val, *why = NULL;
	unsigned inst;
	size_t len;

	f = dkim_hstore_field(&v->hdr, fi, &len);
	val = memchr(f, ':', len); /* there: kind_of() matched a name */
	if (k == K_AAR)
		inst = field_instance(f, len, k);
	else if (val != NULL &&
	         dkim_sig_parse_kind(k == K_AMS ? DKIM_KIND_AMS : DKIM_KIND_AS,
	             val + 1, len - (size_t)(val + 1 - f), &sig, &why) == 0)
		inst = sig.instance;
	else
		inst = 0;
	if (inst == 0) {
		if (v->error[0] == '\0')
			(void)snprintf(v->error, sizeof(v->error), "%s: %s",
			    kind_label[k],
			    why != NULL ? why : "bad instance i=");
		return;
	}
	if (inst > v->n)
		v->n = inst;
	if (v->sets[inst].count[k]++ > 0)
		return;
	v->sets[inst].field[k] = fi;
	if (k == K_AMS)
		v->sets[inst].ams = sig;
	else if (k == K_AS)
		v->sets[inst].as = sig;
}

/* RFC 8617 5.2 step 1 (structure): 1..N, each set whole and unique. */
static void
check_structure(struct arc_verifier *v)
{
	unsigned i;
	int k;

	for (i = 1; i <= v->n; i++)
		for (k = 0; k < K_N; k++) {
			if (v->sets[i].count[k] == 0)
				set_error(v, "%s %u missing", kind_label[k], i);
			else if (v->sets[i].count[k] > 1)
				set_error(v, "%s %u twice", kind_label[k], i);
		}
}

void
arc_verifier_eoh(struct arc_verifier *v)
{
	const struct dkim_sig *ams;
	const char *f;
	size_t i, len;
	int k;

	for (i = 0; i < v->hdr.n; i++) {
		f = dkim_hstore_field(&v->hdr, i, &len);
		if ((k = kind_of(f, len)) < 0)
			continue;
		if (v->sets == NULL && (v->sets = calloc(ARC_SETS_MAX + 1,
		                            sizeof(*v->sets))) == NULL) {
			(void)snprintf(v->error, sizeof(v->error), "no memory");
			v->temp = v->any = true;
			return;
		}
		v->any = true;
		add_field(v, i, (enum kind)k);
	}
	if (!v->any)
		return;
	if (v->hdr.overflow)
		set_error(v, "%s%u", "header too large", 0);
	check_structure(v);
	for (i = 1; v->error[0] == '\0' && i <= v->n; i++) {
		ams = &v->sets[i].ams;
		v->sets[i].body = dkim_body_new(ams->bcanon,
		    ams->has_l ? ams->l : UINT64_MAX);
		if (v->sets[i].body == NULL) {
			set_error(v, "%s%u", "no memory", 0);
			v->temp = true;
		}
	}
}

void
arc_verifier_body(struct arc_verifier *v, const uint8_t *p, size_t n)
{
	unsigned i;

	for (i = 1; v->sets != NULL && i <= v->n; i++)
		if (v->sets[i].body != NULL)
			dkim_body_update(v->sets[i].body, p, n);
}

/* Whether sig's b= verifies over digest d with its key (BLOCKS). */
static bool
sig_ok(struct arc_verifier *v, const struct dkim_sig *sig, const uint8_t d[32],
    const struct authdns *dns, time_t now)
{
	struct dkim_result r = { 0 };
	struct dkim_key key;
	EVP_PKEY *pkey = NULL;
	bool ok;

	dkim_check_time(sig, now, &r);
	if (r.result != DKIM_NONE)
		return false;
	if (dkim_key_get(sig, dns, &key, &pkey, &r) == -1) {
		v->temp |= r.result == DKIM_TEMPERROR;
		return false;
	}
	ok = dkim_verify_digest(pkey, sig->alg, d, sig->b, sig->b_len);
	EVP_PKEY_free(pkey);
	return ok;
}

static bool
ams_ok(struct arc_verifier *v, unsigned i, const struct authdns *dns,
    time_t now)
{
	struct aset *s = &v->sets[i];
	uint8_t d[32];

	return s->body_ok &&
	       dkim_header_digest(&v->hdr, s->field[K_AMS], &s->ams, d) == 0 &&
	       sig_ok(v, &s->ams, d, dns, now);
}

/* The ARC-Seal i's hash: sets 1..i as AAR, AMS, AS (RFC 8617 5.1.1). */
static int
seal_digest(const struct arc_verifier *v, unsigned i, uint8_t d[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct buf tmp;
	const char *f;
	size_t len;
	unsigned j;
	int k, rc = -1;

	buf_init(&tmp, DKIM_HDR_BYTES_MAX);
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		goto done;
	for (j = 1; j <= i; j++)
		for (k = 0; k < K_N; k++) {
			if (j == i && k == K_AS)
				break;
			if (hash_field(md, &v->hdr, v->sets[j].field[k],
			        &tmp) == -1)
				goto done;
		}
	f = dkim_hstore_field(&v->hdr, v->sets[i].field[K_AS], &len);
	rc = dkim_hash_self(md, f, len, DKIM_RELAXED, d);
done:
	EVP_MD_CTX_free(md);
	buf_reset(&tmp);
	return rc;
}

static bool
as_ok(struct arc_verifier *v, unsigned i, const struct authdns *dns, time_t now)
{
	uint8_t d[32];

	return seal_digest(v, i, d) == 0 &&
	       sig_ok(v, &v->sets[i].as, d, dns, now);
}

static void
fail(struct arc_result *out, const char *fmt, unsigned i)
{
	out->cv = ARC_FAIL;
	(void)snprintf(out->reason, sizeof(out->reason), fmt, i);
}

/* cv= of each seal (RFC 8617 5.2 step 2, 4.1.3): 0, or -1 with out set. */
static int
check_cvs(const struct arc_verifier *v, struct arc_result *out)
{
	unsigned i, cv;

	for (i = v->n; i >= 1; i--) {
		cv = v->sets[i].as.arc_cv;
		if (cv == ARC_FAIL) {
			fail(out, "ARC-Seal %u says cv=fail", i);
			return -1;
		}
		if ((i == 1) != (cv == ARC_NONE)) {
			fail(out, "ARC-Seal %u has the wrong cv=", i);
			return -1;
		}
	}
	return 0;
}

static void
validate(struct arc_verifier *v, const struct authdns *dns, time_t now,
    struct arc_result *out)
{
	uint8_t bh[32];
	unsigned i;

	if (v->sets == NULL) /* not reached: an ARC field made them */
		return fail(out, "no ARC set", 0);
	for (i = 1; i <= v->n; i++)
		v->sets[i].body_ok =
		    dkim_body_final(v->sets[i].body, bh, NULL) == 0 &&
		    memcmp(bh, v->sets[i].ams.bh, 32) == 0;
	if (check_cvs(v, out) == -1)
		return;
	if (!ams_ok(v, v->n, dns, now))
		return fail(out, "ARC-Message-Signature %u did not verify",
		    v->n);
	for (i = v->n; i >= 1; i--)
		if (!as_ok(v, i, dns, now))
			return fail(out, "ARC-Seal %u did not verify", i);
	out->cv = ARC_PASS;
	/* The oldest AMS from which all newer ones still verify. */
	for (i = v->n; i > 1 && ams_ok(v, i - 1, dns, now); i--)
		;
	out->oldest_pass = i;
}

void
arc_verifier_finish(struct arc_verifier *v, const struct authdns *dns,
    time_t now, struct arc_result *out)
{
	const struct aset *last;

	memset(out, 0, sizeof(*out));
	if (!v->any)
		return;
	out->sets = v->n;
	last = v->n > 0 ? &v->sets[v->n] : NULL;
	if (last != NULL && last->count[K_AS] > 0) {
		(void)snprintf(out->domain, sizeof(out->domain), "%s",
		    last->as.domain);
		(void)snprintf(out->selector, sizeof(out->selector), "%s",
		    last->as.selector);
	}
	if (v->error[0] != '\0') {
		out->cv = ARC_FAIL;
		(void)snprintf(out->reason, sizeof(out->reason), "%s",
		    v->error);
	} else
		validate(v, dns, now, out);
	if (out->cv == ARC_FAIL)
		out->temporary = v->temp;
}

/* ---- sealing ---- */

struct arc_sealer {
	char *domain, *selector;
	EVP_PKEY *pkey;
	enum dkim_alg alg;
	time_t now;
	struct dkim_hstore hdr; /* every field: the signed ones, ARC sets */
	struct dkim_body *body;
};

struct arc_sealer *
arc_sealer_new(const struct dkim_sign_key *key, time_t now, struct why *why)
{
	struct arc_sealer *s;

	if (!dkim_key_matches(key->pkey, key->alg)) {
		why_set(why, WHY_PERM, 0, "arc: key %s for %s is not %s",
		    key->selector, key->domain, dkim_alg_name(key->alg));
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		why_set(why, WHY_TEMP, 12, "arc: no memory");
		return NULL;
	}
	dkim_hstore_init(&s->hdr);
	s->alg = key->alg;
	s->now = now;
	s->domain = strdup(key->domain);
	s->selector = strdup(key->selector);
	s->body = dkim_body_new(DKIM_RELAXED, UINT64_MAX);
	if (s->domain == NULL || s->selector == NULL || s->body == NULL ||
	    EVP_PKEY_up_ref(key->pkey) != 1) {
		arc_sealer_free(s);
		why_set(why, WHY_TEMP, 12, "arc: no memory");
		return NULL;
	}
	s->pkey = key->pkey;
	return s;
}

void
arc_sealer_free(struct arc_sealer *s)
{
	if (s == NULL)
		return;
	free(s->domain);
	free(s->selector);
	EVP_PKEY_free(s->pkey);
	dkim_hstore_free(&s->hdr);
	dkim_body_free(s->body);
	free(s);
}

void
arc_sealer_header(struct arc_sealer *s, const char *field, size_t n)
{
	dkim_hstore_add(&s->hdr, field, n);
}

void
arc_sealer_body(struct arc_sealer *s, const uint8_t *p, size_t n)
{
	dkim_body_update(s->body, p, n);
}

/* A host name: letters, digits, '-', '.', not empty, within bounds. */
static bool
is_host(const char *id)
{
	size_t i, n = strlen(id);

	if (n == 0 || n > AUTHRES_ID_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') ||
		        (id[i] >= 'A' && id[i] <= 'Z') ||
		        (id[i] >= '0' && id[i] <= '9') || id[i] == '-' ||
		        id[i] == '.'))
			return false;
	return true;
}

/*
 * Whether v is a field value that can be written as is: printable ASCII
 * and WSP, a CRLF only where a folded line follows.
 */
static bool
is_foldable(const char *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == '\r') {
			if (i + 2 >= n || v[i + 1] != '\n' ||
			    !dkim_is_wsp((unsigned char)v[i + 2]))
				return false;
			i++;
		} else if ((c < 0x20 && c != '\t') || c > 0x7e)
			return false;
	}
	return true;
}

/*
 * The new AAR (RFC 8617 4.1.1): "i=N;" then, on a line of its own, the
 * Authentication-Results value, with the authserv-id put first when the
 * value does not start with it. 0, or -1 with why.
 */
static int
make_aar(struct buf *out, unsigned inst, const char *authserv_id,
    const char *value, struct why *why)
{
	size_t n = strlen(value);

	while (n > 0 && (value[n - 1] == '\r' || value[n - 1] == '\n'))
		n--;
	if (!is_host(authserv_id) || !is_foldable(value, n))
		return why_set(why, WHY_PERM, 0,
		    "arc: bad authserv-id or Authentication-Results value");
	if (buf_printf(out, "ARC-Authentication-Results: i=%u;\r\n\t", inst) ==
	        -1 ||
	    (!authres_claims_id(value, n, authserv_id) &&
	        buf_printf(out, "%s; ", authserv_id) == -1) ||
	    buf_append(out, value, n) == -1 || buf_append(out, "\r\n", 2) == -1)
		return why_set(why, WHY_TEMP, 0, "arc: no room for the AAR");
	return 0;
}

/* The h= of the AMS: what dkim.c signs, plus each DKIM-Signature. */
static int
ams_names(const struct dkim_hstore *hs, char (*h)[DKIM_FIELD_NAME_MAX],
    size_t *nh)
{
	const char *f;
	size_t i, len;

	if (dkim_choose_names(hs, h, nh) == -1)
		return -1;
	for (i = 0; i < hs->n; i++) {
		f = dkim_hstore_field(hs, i, &len);
		if (!dkim_name_is(f, len, "dkim-signature"))
			continue;
		if (*nh == DKIM_H_MAX)
			return -1;
		(void)snprintf(h[(*nh)++], DKIM_FIELD_NAME_MAX,
		    "dkim-signature");
	}
	return 0;
}

/* The new AMS (RFC 8617 4.1.2) into out. 0, or -1 with why. */
static int
make_ams(struct arc_sealer *s, unsigned inst, struct buf *out, struct why *why)
{
	char h[DKIM_H_MAX][DKIM_FIELD_NAME_MAX], lead[48], t[32];
	struct dkim_sign_key k = { s->domain, s->selector, s->pkey, s->alg };
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t bh[32];
	struct buf tmp;
	size_t nh;
	int col, rc = -1;

	buf_init(&tmp, DKIM_HDR_BYTES_MAX);
	(void)snprintf(lead, sizeof(lead), "ARC-Message-Signature: i=%u;",
	    inst);
	(void)snprintf(t, sizeof(t), "t=%lld;", (long long)s->now);
	if (ams_names(&s->hdr, h, &nh) == -1)
		why_set(why, WHY_PERM, 0, "arc: too many fields to sign");
	else if (dkim_body_final(s->body, bh, NULL) == -1 || md == NULL ||
	         EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	         dkim_hash_fields(md, &s->hdr,
	             (const char(*)[DKIM_FIELD_NAME_MAX])h, nh, DKIM_RELAXED,
	             &tmp) == -1 ||
	         (col = dkim_field_head(out, lead, &k, t, bh, h, nh)) < 0 ||
	         dkim_sign_field(md, out, 0, (size_t)col, s->pkey, s->alg) ==
	             -1)
		why_set(why, WHY_TEMP, 0, "arc: signing the AMS failed");
	else
		rc = 0;
	EVP_MD_CTX_free(md);
	buf_reset(&tmp);
	return rc;
}

/* The field of kind k and instance inst in hs: its index, or -1. */
static long
find_field(const struct dkim_hstore *hs, enum kind k, unsigned inst)
{
	const char *f;
	size_t i, len;

	for (i = 0; i < hs->n; i++) {
		f = dkim_hstore_field(hs, i, &len);
		if (dkim_name_is(f, len, kind_name[k]) &&
		    field_instance(f, len, k) == inst)
			return (long)i;
	}
	return -1;
}

/* Feed md the sets 1..n of the message (RFC 8617 5.1.1). 0 or -1. */
static int
hash_old_sets(EVP_MD_CTX *md, const struct dkim_hstore *hs, unsigned n,
    struct buf *tmp)
{
	unsigned j;
	long fi;
	int k;

	for (j = 1; j <= n; j++)
		for (k = 0; k < K_N; k++)
			if ((fi = find_field(hs, (enum kind)k, j)) == -1 ||
			    hash_field(md, hs, (size_t)fi, tmp) == -1)
				return -1;
	return 0;
}

/* Feed md a field made here (relaxed, with CRLF). 0 or -1. */
static int
hash_new(EVP_MD_CTX *md, const struct buf *f, struct buf *tmp)
{
	buf_clear(tmp);
	if (dkim_canon_header(DKIM_RELAXED, (const char *)f->data, f->len, true,
	        tmp) == -1 ||
	    EVP_DigestUpdate(md, tmp->data, tmp->len) != 1)
		return -1;
	return 0;
}

/* The new AS (RFC 8617 4.1.3): over the old sets unless cv=fail. */
static int
make_as(struct arc_sealer *s, unsigned inst, enum arc_cv cv,
    const struct buf *aar, const struct buf *ams, struct buf *out,
    struct why *why)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct dkim_fold f = { out, 0, 0 };
	char w[DNS_NAME_MAX + 8];
	struct buf tmp;
	int rc = -1;

	buf_init(&tmp, DKIM_HDR_BYTES_MAX);
	f.err |= buf_printf(out, "ARC-Seal: i=%u; a=%s;", inst,
	    dkim_alg_name(s->alg));
	f.col = out->len;
	dkim_fold_word(&f, w,
	    (size_t)snprintf(w, sizeof(w), "cv=%s;", arc_cv_name(cv)), true);
	dkim_fold_word(&f, w,
	    (size_t)snprintf(w, sizeof(w), "d=%s;", s->domain), true);
	dkim_fold_word(&f, w,
	    (size_t)snprintf(w, sizeof(w), "s=%s;", s->selector), true);
	dkim_fold_word(&f, w,
	    (size_t)snprintf(w, sizeof(w), "t=%lld;", (long long)s->now), true);
	dkim_fold_word(&f, "b=", 2, true);
	if (f.err != 0 || md == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		why_set(why, WHY_TEMP, 0, "arc: no memory");
	else if (cv != ARC_FAIL &&
	         hash_old_sets(md, &s->hdr, inst - 1, &tmp) == -1)
		why_set(why, WHY_PERM, 0, "arc: the chain is incomplete");
	else if (hash_new(md, aar, &tmp) == -1 ||
	         hash_new(md, ams, &tmp) == -1 ||
	         dkim_sign_field(md, out, 0, f.col, s->pkey, s->alg) == -1)
		why_set(why, WHY_TEMP, 0, "arc: signing the seal failed");
	else
		rc = 0;
	EVP_MD_CTX_free(md);
	buf_reset(&tmp);
	return rc;
}

int
arc_sealer_finish(struct arc_sealer *s, const struct arc_result *chain,
    const char *authserv_id, const char *authres_value, struct buf *out,
    struct why *why)
{
	unsigned inst = chain->sets + 1;
	enum arc_cv cv = chain->cv;
	size_t len0 = out->len;
	struct buf aar, ams, as;
	int rc = -1;

	if (s->hdr.overflow)
		return why_set(why, WHY_PERM, 0, "arc: header too large");
	if (inst > ARC_SETS_MAX)
		return why_set(why, WHY_PERM, 0,
		    "arc: the chain has %u sets already", chain->sets);
	/* cv=none only starts a chain (RFC 8617 4.1.3). */
	if (cv == ARC_NONE && inst > 1)
		cv = ARC_FAIL;
	if (cv == ARC_PASS && inst == 1)
		cv = ARC_NONE;
	buf_init(&aar, DKIM_HDR_BYTES_MAX);
	buf_init(&ams, DKIM_HDR_BYTES_MAX);
	buf_init(&as, DKIM_HDR_BYTES_MAX);
	if (make_aar(&aar, inst, authserv_id, authres_value, why) == 0 &&
	    make_ams(s, inst, &ams, why) == 0 &&
	    make_as(s, inst, cv, &aar, &ams, &as, why) == 0) {
		if (buf_append(out, as.data, as.len) == 0 &&
		    buf_append(out, ams.data, ams.len) == 0 &&
		    buf_append(out, aar.data, aar.len) == 0)
			rc = 0;
		else {
			out->len = len0;
			why_set(why, WHY_TEMP, 0, "arc: output full");
		}
	}
	buf_reset(&aar);
	buf_reset(&ams);
	buf_reset(&as);
	return rc;
}
