/* SPDX-License-Identifier: ISC */
/*
 * auth/authdns.h - the DNS that mail authentication asks (issue 16):
 * SPF, DKIM keys, DMARC policies and ARC all look records up through
 * one function, so that the real resolver (dns/dns.h, libunbound,
 * `dns_server`) serves the server and `tern check`, and a table serves
 * unit tests and fuzzers.
 *
 * Lookups block the calling thread (a worker, never an event loop) for
 * at most the resolver's timeout. Each checker counts its own lookups
 * against its own limits (RFC 7208 4.6.4 and the like).
 * Trust: answers are hostile; dns_lookup() bounds them, and the
 * checkers parse them as untrusted text.
 */
#ifndef TERN_AUTH_AUTHDNS_H
#define TERN_AUTH_AUTHDNS_H

#include "dns/dns.h"

/*
 * Look up `type` records at `name` into *out (dns_rrset_free() it):
 * the raw rdata, as dns_lookup() gives it; for DNS_T_TXT the strings
 * already joined (dns_txt_join()). DNS_NXDOMAIN/DNS_NODATA are answers;
 * DNS_TEMP a failure or timeout.
 */
typedef enum dns_status authdns_fn(void *arg, const char *name, int type,
    struct dns_rrset *out, struct why *why);

struct authdns {
	authdns_fn *lookup;
	void *arg;
};

/* The real resolver: arg is a struct dns * (dns/dns.h). */
enum dns_status authdns_resolver(void *dns, const char *name, int type,
    struct dns_rrset *out, struct why *why);

#endif
