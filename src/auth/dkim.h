/* SPDX-License-Identifier: ISC */
/*
 * auth/dkim.h - DKIM signatures (RFC 6376) with rsa-sha256 and
 * ed25519-sha256 (RFC 8463): signing outbound mail and verifying
 * inbound mail, both streaming (header fields one by one as received,
 * folded and ending CRLF, then the body in chunks), so no message is
 * ever held whole in memory.
 *
 * Pure: dkim_sig_parse(), dkim_key_parse(), dkim_canon_header() and the
 * body canonicalizer. The signer is CPU only (no I/O): run it on a
 * worker thread. dkim_verifier_finish() blocks on DNS (authdns.h) for at
 * most max_sigs key lookups: a worker thread, never an event loop.
 * Objects are not shared between threads; different objects may be used
 * by different threads at once.
 * Trust: header fields, bodies, signatures and key records are hostile.
 * Memory is bounded (DKIM_HDR_BYTES_MAX, DKIM_HDR_FIELDS_MAX, the tag
 * sizes below); every string a result carries is bounded printable
 * ASCII. rsa-sha1 is refused (RFC 8301), as are RSA keys under 1024
 * bits.
 */
#ifndef TERN_AUTH_DKIM_H
#define TERN_AUTH_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "auth/authdns.h"
#include "util/buf.h"

#define DKIM_SELECTOR_MAX 64   /* our bound; RFC 6376 3.1 says a name */
#define DKIM_IDENTITY_MAX 256  /* i=, our bound */
#define DKIM_H_MAX 64          /* header names in h=, our bound */
#define DKIM_FIELD_NAME_MAX 78 /* one name in h=, our bound */
#define DKIM_SIG_B_MAX 1024    /* decoded b=: RSA up to 8192 bits */
#define DKIM_KEY_P_MAX 2048    /* decoded p=: SPKI of RSA 8192 */
#define DKIM_RSA_BITS_MIN 1024 /* RFC 8301 3.2: smaller is permerror */
#define DKIM_HDR_BYTES_MAX (1024 * 1024) /* header kept for verifying */
#define DKIM_HDR_FIELDS_MAX 1000
#define DKIM_SIGS_DEFAULT 5 /* signatures checked per message */
#define DKIM_CLOCK_SKEW 300 /* seconds allowed around t= and x= */
#define DKIM_REASON_MAX 80
#define DKIM_BPREFIX_LEN 12 /* chars of b= in header.b (RFC 6008) */

enum dkim_alg {
	DKIM_RSA_SHA256 = 0,
	DKIM_ED25519_SHA256,
};

enum dkim_canon {
	DKIM_SIMPLE = 0,
	DKIM_RELAXED,
};

/* RFC 8601 2.7.1 names; DKIM_NONE only when a message has no signature. */
enum dkim_res {
	DKIM_NONE = 0,
	DKIM_PASS,
	DKIM_FAIL,
	DKIM_NEUTRAL,
	DKIM_POLICY,
	DKIM_TEMPERROR,
	DKIM_PERMERROR,
};

/* "pass", "fail", ...: static strings. */
const char *dkim_res_name(enum dkim_res);
/* "rsa-sha256" or "ed25519-sha256". */
const char *dkim_alg_name(enum dkim_alg);

/* ---- the pure parsers ---- */

/* A DKIM-Signature header field's value, parsed (RFC 6376 3.5). */
struct dkim_sig {
	enum dkim_alg alg;
	enum dkim_canon hcanon, bcanon;
	char domain[DNS_NAME_MAX];               /* d=, lower-cased */
	char selector[DKIM_SELECTOR_MAX];        /* s=, lower-cased */
	char identity[DKIM_IDENTITY_MAX];        /* i=, or "@" d= when absent */
	char bprefix[DKIM_BPREFIX_LEN + 1];      /* first chars of b= */
	char h[DKIM_H_MAX][DKIM_FIELD_NAME_MAX]; /* h=, lower-cased */
	size_t nh;
	uint8_t bh[64];
	size_t bh_len;
	uint8_t b[DKIM_SIG_B_MAX];
	size_t b_len;
	bool has_l, has_t, has_x;
	uint64_t l, t, x;
	unsigned instance; /* ARC fields' i= (arc.h); 0 in DKIM */
	unsigned arc_cv;   /* ARC-Seal cv= as an enum arc_cv (arc.h) */
};

/*
 * Parse a DKIM-Signature value (after the colon; folding allowed) into
 * *out: tag-list syntax (RFC 6376 3.2), v=1, the required tags (v a b
 * bh d h s), the i= domain equal to or below d=, h= with From, x= not
 * before t=, no tag twice; unknown tags are ignored. 0, or -1 with
 * *why_out a static reason (a permerror). Pure.
 */
int dkim_sig_parse(const char *value, size_t n, struct dkim_sig *out,
    const char **why_out);

/* A key record (RFC 6376 3.6.1), from TXT SELECTOR._domainkey.DOMAIN. */
struct dkim_key {
	enum dkim_alg alg;         /* from k=: rsa (default) or ed25519 */
	bool revoked;              /* p= empty */
	bool testing;              /* t=y */
	bool strict;               /* t=s: i= must be d= exactly */
	bool sha256_ok;            /* h= absent or lists sha256 */
	uint8_t p[DKIM_KEY_P_MAX]; /* decoded: SPKI DER, or raw ed25519 */
	size_t p_len;
};

/*
 * Parse a key record into *out: v=DKIM1 first when present, k= rsa or
 * ed25519, s= containing email or *, p= required (empty: revoked), no
 * tag twice; unknown tags and flags ignored. 0, or -1 with *why_out a
 * static reason (permerror). Pure.
 */
int dkim_key_parse(const char *txt, size_t n, struct dkim_key *out,
    const char **why_out);

/* ---- canonicalization (RFC 6376 3.4) ---- */

/*
 * Append header field `field` (name, colon, value, folded, with or
 * without its final CRLF), canonicalized, to out: simple is the field as
 * it is; relaxed lower-cases the name, unfolds, reduces runs of WSP to
 * one SP and drops WSP at the ends of the value and around the colon.
 * with_crlf: end with CRLF (every field but the DKIM-Signature being
 * hashed). 0, or -1 when out is full (buf.h). Pure.
 */
int dkim_canon_header(enum dkim_canon, const char *field, size_t n,
    bool with_crlf, struct buf *out);

/*
 * The streaming body canonicalizer (3.4.3, 3.4.4) feeding SHA-256: bytes
 * cut anywhere give the same hash; trailing empty lines are held back
 * (as a count, so memory stays constant) until more content follows.
 * limit: hash only the first `limit` canonical bytes (l=), UINT64_MAX
 * for all. Bare CR and LF are content, not line ends.
 */
struct dkim_body;

struct dkim_body *dkim_body_new(enum dkim_canon, uint64_t limit);
void dkim_body_update(struct dkim_body *, const uint8_t *p, size_t n);
/*
 * End of body: the SHA-256 into digest[32]; *total_out (may be NULL) the
 * canonical body's whole length, which exceeds the limit when l= left
 * some unsigned. Call once. 0, or -1 when hashing failed.
 */
int dkim_body_final(struct dkim_body *, uint8_t digest[32],
    uint64_t *total_out);
void dkim_body_free(struct dkim_body *);

/* ---- signing ---- */

struct dkim_sign_key {
	const char *domain;   /* d=; copied by dkim_signer_new() */
	const char *selector; /* s=; copied */
	EVP_PKEY *pkey;       /* private key; up-ref'd, caller keeps its own */
	enum dkim_alg alg;    /* matching pkey's type */
};

struct dkim_signer;

/*
 * A signer making one signature per key (rsa + ed25519 dual signing,
 * old + new during a rotation), relaxed/relaxed, no l=, no t=, no x=;
 * h= the fields listed in dkim.c (From, To, Cc, Subject, Date, ...,
 * List-*), with From, To, Cc, Subject, Date, Message-ID and the MIME
 * fields listed once more than present (oversigned). NULL with why when
 * a key's type does not match its alg, or no memory. CPU only.
 */
struct dkim_signer *dkim_signer_new(const struct dkim_sign_key *keys,
    size_t nkeys, struct why *);
/* Each header field in order, as received (folded, CRLF). */
void dkim_signer_header(struct dkim_signer *, const char *field, size_t n);
/* The body (after the blank line), in chunks cut anywhere. */
void dkim_signer_body(struct dkim_signer *, const uint8_t *p, size_t n);
/*
 * Append one "DKIM-Signature: ..." field per key to out (lines end CRLF,
 * folded under 78 columns), to be put on top of the header. 0, or -1
 * with why (a header too large to sign, a signing failure, out full).
 */
int dkim_signer_finish(struct dkim_signer *, struct buf *out, struct why *);
void dkim_signer_free(struct dkim_signer *);

/* ---- verifying ---- */

struct dkim_result {
	enum dkim_res result;
	char domain[DNS_NAME_MAX];          /* header.d; "" when unknown */
	char selector[DKIM_SELECTOR_MAX];   /* header.s */
	char algorithm[16];                 /* header.a; "" when unknown */
	char bprefix[DKIM_BPREFIX_LEN + 1]; /* header.b */
	char identity[DKIM_IDENTITY_MAX];   /* header.i */
	char reason[DKIM_REASON_MAX];       /* "body hash mismatch", ... */
	bool testing;                       /* the key says t=y */
};

struct dkim_verifier;

/* max_sigs: signatures checked, 0 for DKIM_SIGS_DEFAULT. NULL: no memory. */
struct dkim_verifier *dkim_verifier_new(unsigned max_sigs);
/* Each header field in order, as received (folded, CRLF). */
void dkim_verifier_header(struct dkim_verifier *, const char *field, size_t n);
/*
 * End of header: parse the DKIM-Signature fields, top first; the first
 * max_sigs of them are checked (a field that does not parse is one, with
 * permerror), the rest ignored.
 */
void dkim_verifier_eoh(struct dkim_verifier *);
/* The body, in chunks cut anywhere. */
void dkim_verifier_body(struct dkim_verifier *, const uint8_t *p, size_t n);
/*
 * End of message: look the keys up (TXT SELECTOR._domainkey.DOMAIN via
 * dns; BLOCKS) and check each signature at time `now`. out[] has room
 * for *n results; *n becomes the count filled (0: the message has no
 * signature, dkim=none). Call once.
 */
void dkim_verifier_finish(struct dkim_verifier *, const struct authdns *dns,
    time_t now, struct dkim_result *out, size_t *n);
void dkim_verifier_free(struct dkim_verifier *);

#endif
