/* SPDX-License-Identifier: ISC */
/*
 * auth/arc.h - Authenticated Received Chain (RFC 8617): verify the ARC
 * chain of inbound mail, and seal mail that tern forwards (add the set
 * ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results of the
 * next instance). Both stream like dkim.h: header fields one by one as
 * received (folded, ending CRLF), then the body in chunks cut anywhere.
 * The DKIM primitives (tag lists, relaxed canonicalization, the
 * streaming body hash, RSA and Ed25519 through OpenSSL EVP, the key
 * records) are dkim.c's own.
 *
 * arc_verifier_finish() BLOCKS on DNS (authdns.h): one key lookup per
 * signature checked, at most 3 * ARC_SETS_MAX (no cache yet; the newest
 * AMS, every AS, then older AMSes for oldest_pass): a worker thread,
 * never an event loop.
 * The sealer is CPU only (no I/O). Objects are not shared between
 * threads; different objects may be used by different threads at once.
 * Trust: header fields, bodies, ARC fields and key records are hostile.
 * Memory is bounded (DKIM_HDR_BYTES_MAX, DKIM_HDR_FIELDS_MAX,
 * ARC_SETS_MAX sets); every string a result carries is bounded
 * printable ASCII.
 */
#ifndef TERN_AUTH_ARC_H
#define TERN_AUTH_ARC_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "auth/authdns.h"
#include "auth/dkim.h"
#include "util/buf.h"
#include "util/why.h"

#define ARC_SETS_MAX 50 /* RFC 8617 4.2.1: i= is 1..50 */
#define ARC_REASON_MAX 80

/* The chain validation status, cv= (RFC 8617 4.4). */
enum arc_cv {
	ARC_NONE = 0, /* no ARC field at all */
	ARC_PASS,
	ARC_FAIL,
};

/* "none", "pass", "fail": static strings. */
const char *arc_cv_name(enum arc_cv);

struct arc_result {
	enum arc_cv cv;
	unsigned sets;        /* the highest instance seen, 0..ARC_SETS_MAX */
	unsigned oldest_pass; /* the smallest k with AMS k..N all passing;
	                       * 0 when the chain does not pass */
	bool temporary;       /* fail because of a DNS failure (temperror) */
	char domain[DNS_NAME_MAX];        /* d= of the last ARC-Seal, or "" */
	char selector[DKIM_SELECTOR_MAX]; /* s= of the last ARC-Seal, or "" */
	char reason[ARC_REASON_MAX];      /* "", "ARC-Seal 2 did not verify" */
};

/* ---- verifying (RFC 8617 5.2) ---- */

struct arc_verifier;

/* NULL: no memory. */
struct arc_verifier *arc_verifier_new(void);
/* Each header field in order, as received (folded, CRLF). */
void arc_verifier_header(struct arc_verifier *, const char *field, size_t n);
/*
 * End of header: collect and parse the ARC-* fields, check the chain's
 * structure (instances 1..N, no gap, N <= ARC_SETS_MAX, exactly one
 * AS, AMS and AAR per instance), start a body hash per AMS.
 */
void arc_verifier_eoh(struct arc_verifier *);
/* The body, in chunks cut anywhere. */
void arc_verifier_body(struct arc_verifier *, const uint8_t *p, size_t n);
/*
 * End of message: look up the keys (TXT SELECTOR._domainkey.DOMAIN via
 * dns; BLOCKS) and fill *out: cv=none without ARC fields; fail when the
 * structure is broken, the newest AMS does not verify, any AS does not
 * verify, or a cv= is wrong (instance 1 none, later pass; a cv=fail
 * anywhere ends the chain as fail); else pass. Call once.
 */
void arc_verifier_finish(struct arc_verifier *, const struct authdns *dns,
    time_t now, struct arc_result *out);
void arc_verifier_free(struct arc_verifier *);

/* ---- sealing (RFC 8617 5.1) ---- */

struct arc_sealer;

/*
 * A sealer signing with key (domain, selector, pkey, alg as in dkim.h;
 * the strings are copied, pkey up-ref'd). now: the t= of the new set.
 * NULL with why when the key's type does not match alg, or no memory.
 */
struct arc_sealer *arc_sealer_new(const struct dkim_sign_key *key, time_t now,
    struct why *);
/* Each header field in order, as received (folded, CRLF). */
void arc_sealer_header(struct arc_sealer *, const char *field, size_t n);
/* The body, in chunks cut anywhere. */
void arc_sealer_body(struct arc_sealer *, const uint8_t *p, size_t n);
/*
 * Append the set of instance i = chain->sets + 1 to out, ARC-Seal first,
 * then ARC-Message-Signature, then ARC-Authentication-Results, each
 * folded under 78 columns and ending CRLF, to be put on top of the
 * header. chain: the verification of this same message (cv=none makes
 * i=1 with cv=none; pass seals cv=pass; fail seals cv=fail, the seal
 * covering only the new set, RFC 8617 5.1.2, which tells the next hops
 * the chain is broken). authres_value: the Authentication-Results
 * value tern wrote for this message, without the field name (it should
 * hold "arc=..." from chain). The AMS is relaxed/relaxed, no l=, with
 * t=, over the header fields dkim.c signs plus DKIM-Signature (never
 * ARC-Seal or Authentication-Results, RFC 8617 4.1.2).
 * -1 with why, and out unchanged: the chain already holds ARC_SETS_MAX
 * sets (WHY_PERM), a header too large (WHY_PERM), authserv_id not a host
 * name (WHY_PERM), a signing failure, out full. Call once.
 */
int arc_sealer_finish(struct arc_sealer *, const struct arc_result *chain,
    const char *authserv_id, const char *authres_value, struct buf *out,
    struct why *);
void arc_sealer_free(struct arc_sealer *);

#endif
