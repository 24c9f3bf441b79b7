/* SPDX-License-Identifier: ISC */
/*
 * deliver/dane.h - DANE for SMTP (RFC 7672, RFC 6698): TLSA records as
 * DNS hands them over, which of them SMTP may use, and putting them on
 * one TLS connection, where OpenSSL's DANE verifier (SSL_dane_enable)
 * does the matching during the handshake.
 *
 * The decisions (RFC 7672):
 *  - only DANE-TA(2) and DANE-EE(3) are usable (3.1.3): PKIX-TA(0) and
 *    PKIX-EE(1) need a CA list that SMTP clients do not share, so those
 *    records are skipped; so are unknown selectors (0 Cert and 1 SPKI
 *    are known) and matching types (0 Full, 1 SHA2-256, 2 SHA2-512), and
 *    a digest of the wrong length;
 *  - a TLSA RRset with no usable record still means "TLS is required"
 *    (2.2): the caller encrypts but cannot authenticate; dane_usable()
 *    counts what is left so it can tell;
 *  - DANE-EE(3) matches the server's key or certificate alone: names and
 *    dates are not checked (3.1.1); DANE-TA(2) needs a chain to the
 *    matched trust anchor and the certificate to name the MX host (or
 *    the TLSA base domain), dates included (3.1.2, 3.2.2). OpenSSL's
 *    DANE code implements exactly this once given the base domain.
 * The lookup (a DNSSEC-secure TLSA RRset at _25._tcp.MXHOST) is the
 * caller's: nothing here asks DNS.
 * Trust: TLSA rdata is hostile (a signed zone is still anyone's zone):
 * lengths are checked, at most DANE_TLSA_MAX records are kept.
 */
#ifndef TERN_DELIVER_DANE_H
#define TERN_DELIVER_DANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "util/why.h"

#define DANE_TLSA_MAX 16      /* records used per host */
#define DANE_DATA_MAX 4096    /* bytes of association data (a full cert) */

enum dane_usage { DANE_PKIX_TA = 0, DANE_PKIX_EE, DANE_TA, DANE_EE };
enum dane_selector { DANE_SEL_CERT = 0, DANE_SEL_SPKI };
enum dane_mtype { DANE_FULL = 0, DANE_SHA256, DANE_SHA512 };

struct dane_tlsa {
	uint8_t usage, selector, mtype;
	size_t len;
	uint8_t data[DANE_DATA_MAX];
};

/*
 * One TLSA rdata (RFC 6698 2.1: usage, selector, matching type, data).
 * false when it is shorter than 4 bytes or its data is longer than
 * DANE_DATA_MAX; any values are kept (dane_tlsa_usable() judges them).
 */
bool dane_tlsa_parse(const uint8_t *rdata, size_t n, struct dane_tlsa *out);

/* Can SMTP use this record (the rules above)? */
bool dane_tlsa_usable(const struct dane_tlsa *);

/*
 * Keep only the usable records of recs[0..n), in order, at most
 * DANE_TLSA_MAX; returns how many are left.
 */
size_t dane_usable(struct dane_tlsa *recs, size_t n);

/*
 * Before the handshake on `ssl`: verify the peer by the usable records
 * recs[0..n) (n >= 1) for MX host `host` (the TLSA base domain, also
 * the name a DANE-TA chain's certificate must carry). The SSL_CTX must
 * have had SSL_CTX_dane_enable(). -1 with why (WHY_TEMP) when OpenSSL
 * refuses the set-up.
 */
int dane_ssl_setup(SSL *ssl, const char *host, const struct dane_tlsa *recs,
    size_t n, struct why *);

/*
 * After a handshake: did a TLSA record match (SSL_get_verify_result is
 * X509_V_OK and the DANE authority is known)? `what` gets e.g.
 * "DANE-EE(3) SPKI(1) SHA2-256(1) matched the leaf" for the log, or the
 * verification error.
 */
bool dane_ssl_verified(SSL *ssl, char *what, size_t what_size);

/* "3 1 1" in words, as above, into buf. */
void dane_tlsa_describe(const struct dane_tlsa *, char *buf, size_t size);

#endif
