/* SPDX-License-Identifier: ISC */
/*
 * auth/dkim-private.h - helpers shared by dkim_parse.c, dkim_canon.c,
 * dkim.c, dkimkeys.c and arc.c (ARC signs and verifies with DKIM's
 * pieces, RFC 8617 4.1). Pure, except dkim_key_get(), which blocks on
 * DNS.
 */
#ifndef TERN_AUTH_DKIM_PRIVATE_H
#define TERN_AUTH_DKIM_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <time.h>

#include <openssl/evp.h>

#include "auth/authdns.h"
#include "auth/dkim.h"
#include "util/buf.h"

/* One tag of a tag-list (RFC 6376 3.2), pointing into the input. */
struct dkim_tag {
	const char *name;
	size_t name_len;
	const char *val; /* without the surrounding whitespace */
	size_t val_len;
	size_t raw_off; /* the value region: after '=', up to ';' or end */
	size_t raw_end;
};

#define DKIM_TAGS_MAX 64 /* tags in one list, our bound */

/*
 * The next tag of p[0..n) from *pos: 1 with *t filled, 0 at the end,
 * -1 with *why on a syntax error.
 */
int dkim_tag_next(const char *p, size_t n, size_t *pos, struct dkim_tag *t,
    const char **why);

/*
 * Decode base64 (whitespace ignored, '=' padding only at the end) into
 * out[0..max). The decoded length, or -1 when malformed or too long.
 */
long dkim_b64_decode(const char *p, size_t n, uint8_t *out, size_t max);
/* Encode into out (NUL-terminated). 0 or -1 (buf.h). */
int dkim_b64_encode(const uint8_t *p, size_t n, struct buf *out);

/* ' ' or '\t' */
static inline bool
dkim_is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/*
 * The field name of a header field (up to the colon, trailing WSP
 * dropped): its length, or 0 when there is no colon.
 */
size_t dkim_field_name(const char *field, size_t n);

/* ---- signature fields of three kinds (dkim_parse.c) ---- */

#define DKIM_ARC_SETS_MAX 50 /* RFC 8617 4.2.1; ARC_SETS_MAX in arc.h */

enum dkim_sig_kind {
	DKIM_KIND_SIG = 0, /* DKIM-Signature (RFC 6376 3.5) */
	DKIM_KIND_AMS,     /* ARC-Message-Signature (RFC 8617 4.1.2) */
	DKIM_KIND_AS,      /* ARC-Seal (RFC 8617 4.1.3) */
};

/*
 * dkim_sig_parse() for a kind: the AMS has i= (an instance, into
 * out->instance) instead of v= and an identity, must not sign ARC-Seal;
 * the AS has i= and cv= (out->arc_cv), no h= and no bh=. out->identity
 * is "@" d= for both. 0, or -1 with *why_out static.
 */
int dkim_sig_parse_kind(enum dkim_sig_kind, const char *value, size_t n,
    struct dkim_sig *out, const char **why_out);

/* ---- the kept header (dkim.c) ---- */

struct dkim_hfield {
	size_t off, len;
};

/* Header fields as received, up to DKIM_HDR_BYTES_MAX/FIELDS_MAX. */
struct dkim_hstore {
	struct buf text;
	struct dkim_hfield *f;
	size_t n;
	bool overflow; /* a field was dropped: nothing can verify */
};

void dkim_hstore_init(struct dkim_hstore *);
void dkim_hstore_free(struct dkim_hstore *);
void dkim_hstore_add(struct dkim_hstore *, const char *field, size_t n);
/* Field i (0 is the top), as added; *len its length. */
const char *dkim_hstore_field(const struct dkim_hstore *, size_t i,
    size_t *len);
/* Whether the field's name is `name` (ASCII case-insensitive). */
bool dkim_name_is(const char *field, size_t n, const char *name);

/* ---- hashing, signing, verifying (dkim.c) ---- */

/*
 * Feed md the fields h[] names, canonicalized with CRLF, each occurrence
 * of a name taking the next instance from the bottom up (RFC 6376
 * 5.4.2). tmp: scratch. 0 or -1.
 */
int dkim_hash_fields(EVP_MD_CTX *md, const struct dkim_hstore *,
    const char (*h)[DKIM_FIELD_NAME_MAX], size_t nh, enum dkim_canon,
    struct buf *tmp);
/*
 * Feed md the signature field f itself with its b= value emptied and no
 * final CRLF (RFC 6376 3.7), then finish into d. 0 or -1.
 */
int dkim_hash_self(EVP_MD_CTX *md, const char *f, size_t len, enum dkim_canon,
    uint8_t d[32]);
/* The header hash of the signature at field index `field`. 0 or -1. */
int dkim_header_digest(const struct dkim_hstore *, size_t field,
    const struct dkim_sig *, uint8_t d[32]);
/*
 * out[start..] holds a signature field up to "b=" (relaxed): feed it to
 * md (which has the signed fields), sign, append b= folded from column
 * col and CRLF. 0 or -1.
 */
int dkim_sign_field(EVP_MD_CTX *md, struct buf *out, size_t start, size_t col,
    EVP_PKEY *, enum dkim_alg);
int dkim_sign_digest(EVP_PKEY *, enum dkim_alg, const uint8_t d[32],
    uint8_t *sig, size_t *siglen);
bool dkim_verify_digest(EVP_PKEY *, enum dkim_alg, const uint8_t d[32],
    const uint8_t *sig, size_t siglen);
/* Whether pkey is of alg's type. */
bool dkim_key_matches(EVP_PKEY *, enum dkim_alg);

/*
 * The key of sig (TXT SELECTOR._domainkey.DOMAIN; BLOCKS): parsed into
 * *key, checked against sig (RFC 6376 6.1.2), made into *pkey (free it).
 * 0, or -1 with r's result (temperror, permerror) and reason set.
 */
int dkim_key_get(const struct dkim_sig *, const struct authdns *,
    struct dkim_key *key, EVP_PKEY **pkey, struct dkim_result *r);
/* t= in the future or x= past (with DKIM_CLOCK_SKEW): r set permerror. */
void dkim_check_time(const struct dkim_sig *, time_t now,
    struct dkim_result *r);
void dkim_set_reason(struct dkim_result *, enum dkim_res, const char *);

/* ---- what the signer signs (dkim.c) ---- */

/* Whether the signer keeps (may sign) this field. */
bool dkim_is_signed_field(const char *field, size_t n);
/* The h= names for the kept fields hs (oversigned where dkim.c says). */
int dkim_choose_names(const struct dkim_hstore *hs,
    char (*h)[DKIM_FIELD_NAME_MAX], size_t *nh);

/*
 * Append a signature field up to and with "b=", its value still empty:
 * lead ("DKIM-Signature: v=1;"), a= c=relaxed/relaxed d= s=, extra (a
 * tag such as "t=1700000000;", or NULL), h=, bh=, folded. The column
 * after "b=", or -1 when out is full.
 */
int dkim_field_head(struct buf *out, const char *lead,
    const struct dkim_sign_key *k, const char *extra, const uint8_t bh[32],
    char (*h)[DKIM_FIELD_NAME_MAX], size_t nh);

/* Folding: words go on the line while it stays under 78 columns. */
struct dkim_fold {
	struct buf *b;
	size_t col;
	int err; /* nonzero once an append failed */
};

#define DKIM_FOLD_WIDTH 76

/* A word, after a space when `space`, or on a new line when too long. */
void dkim_fold_word(struct dkim_fold *, const char *w, size_t n, bool space);
/* A value that may break anywhere (base64): fill each line. */
void dkim_fold_long(struct dkim_fold *, const char *w, size_t n);

#endif
