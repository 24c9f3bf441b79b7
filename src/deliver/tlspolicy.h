/* SPDX-License-Identifier: ISC */
/*
 * deliver/tlspolicy.h - how one hop of an outbound delivery is secured:
 * the seam where DANE (RFC 7672), MTA-STS (RFC 8461) and REQUIRETLS
 * (RFC 8689) meet, so that deliver/nexthop.c asks one question per MX
 * host and the client gets one answer.
 *
 * Per delivery attempt to an MX domain (routes are not asked: their
 * tls = setting decides):
 *  1. tlspolicy_domain_init(): what the domain publishes: the security
 *     of its MX answer (dns_mx_sec()), and its MTA-STS policy (the STS
 *     branch: a cached or fetched policy, or none).
 *  2. tlspolicy_hop(): per MX host, once its addresses are known (and
 *     their security, dns_addrs_sec()): the TLSA lookup and the decision.
 *
 * The decision (tlspolicy_decide(), pure), in this order:
 *  - DANE (RFC 7672 2.2): only when DANE is on, DNSSEC validation works,
 *    and both the MX answer and the host's addresses are secure. Then
 *    the TLSA RRset at _25._tcp.HOST: secure with a usable record: DANE;
 *    secure with none usable: TLS required, unauthenticated (2.2); bogus
 *    or no answer (SERVFAIL, timeout): skip the host (2.2: it must not
 *    be used without its TLSA answer); secure NODATA/NXDOMAIN or
 *    insecure: no DANE, go on. DANE wins over MTA-STS (RFC 8461 2).
 *  - MTA-STS (RFC 8461 4, 5): enforce: a host the policy does not list is
 *    skipped, a listed one needs a PKIX-verified certificate for its
 *    name; testing: opportunistic, failures reported.
 *  - else opportunistic STARTTLS (RFC 7435): unverified, plain when the
 *    server does not offer it.
 * REQUIRETLS (RFC 8689 4.1) is asked afterwards, per message:
 * tlspolicy_hop_requiretls().
 *
 * Trust: DNS answers are hostile (dns/, dane_tlsa_parse()); the MX
 * host names come from DNS and are only compared and passed on.
 * Thread: the delivery thread's own struct dns; nothing shared.
 */
#ifndef TERN_DELIVER_TLSPOLICY_H
#define TERN_DELIVER_TLSPOLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "deliver/dane.h"
#include "deliver/mtasts.h"
#include "dns/dns.h"
#include "util/why.h"

struct conf;

#define TLSPOLICY_WHY_MAX 256 /* as struct why's text */

/* What reaching one MX host requires. */
enum tlspolicy_kind {
	TLSPOLICY_OPPORTUNISTIC = 0, /* STARTTLS if offered, unverified */
	/* STARTTLS required; the certificate must match a TLSA record
	 * (RFC 7672 3); no match: QUIT before MAIL, next host. */
	TLSPOLICY_DANE,
	/* STARTTLS required, nothing verified: a secure TLSA RRset with no
	 * usable record (RFC 7672 2.2). */
	TLSPOLICY_DANE_UNAUTH,
	/* MTA-STS enforce: STARTTLS required, the certificate PKIX-verified
	 * for the MX host name (RFC 8461 4.2) against the system store and
	 * [outbound_tls] ca_file. */
	TLSPOLICY_STS_ENFORCE,
	/* MTA-STS testing: as opportunistic; what enforce would have refused
	 * is only reported (RFC 8461 5). */
	TLSPOLICY_STS_TESTING,
	/* No policy asked for it, REQUIRETLS does (RFC 8689 4.1): STARTTLS
	 * required, PKIX-verified for the MX host name. */
	TLSPOLICY_PKIX,
	/* Do not use this host; try the next one (hop.why says why): TLSA
	 * answer bogus or missing (RFC 7672 2.2), or an MX that an enforced
	 * MTA-STS policy does not list (RFC 8461 4.1). */
	TLSPOLICY_SKIP,
};

/* The MTA-STS policy in force for a domain (the STS branch fills it). */
enum tlspolicy_sts {
	TLSPOLICY_STS_NONE = 0, /* no policy, or mode none */
	TLSPOLICY_STS_MODE_TESTING,
	TLSPOLICY_STS_MODE_ENFORCE,
};

/* What the domain says, for all its hosts (step 1). */
struct tlspolicy_domain {
	char domain[DNS_NAME_MAX];
	/* DANE may be used: [outbound_tls] dane on and a validating
	 * resolver that works (dns_dnssec_probe()). */
	bool dane;
	enum dns_security mx_sec; /* of the MX answer */
	/* MTA-STS (RFC 8461): mode, and the policy when not NONE. */
	enum tlspolicy_sts sts;
	struct mtasts_policy sts_policy;
	char sts_id[MTASTS_ID_MAX + 1];
};

/* What one host requires (step 2). */
struct tlspolicy_hop {
	enum tlspolicy_kind kind;
	/* TLSPOLICY_DANE: the usable records (heap; tlspolicy_hop_reset()
	 * frees them), at most DANE_TLSA_MAX. */
	struct dane_tlsa *tlsa;
	size_t ntlsa;
	/* A DNS name of the host's TLSA RRset (TLSA base domain, RFC 7672
	 * 2.2.3): the MX host name. */
	char tlsa_base[DNS_NAME_MAX];
	/* How it was decided, for the log and `tern queue show`, e.g. "2
	 * usable TLSA records", "TLSA lookup bogus: ...". Raw DNS text may
	 * be inside: escape it. */
	char why[TLSPOLICY_WHY_MAX];
	/*
	 * The host's name can be trusted as the domain's (RFC 8689 4.1):
	 * the MX answer was DNSSEC-validated, or an MTA-STS policy lists
	 * the host. Without it a certificate valid for the name proves
	 * nothing: an unsigned MX answer may be an attacker's.
	 */
	bool mx_authentic;
};

/* The facts tlspolicy_decide() decides from. */
struct tlspolicy_facts {
	bool dane;                 /* as tlspolicy_domain.dane */
	enum dns_security mx_sec;  /* the MX answer */
	enum dns_security addr_sec; /* the host's A/AAAA answers */
	bool tlsa_asked;           /* false: not looked up (no DANE) */
	enum dns_status tlsa_st;   /* DNS_OK, NODATA, NXDOMAIN, TEMP */
	enum dns_security tlsa_sec;
	size_t ntlsa;              /* records in the RRset */
	size_t nusable;            /* of them usable (dane_usable()) */
	enum tlspolicy_sts sts;
	bool sts_listed; /* the host matches the policy's mx patterns */
};

/*
 * Should a TLSA lookup be made for this host (DANE on, MX and address
 * answers secure)? Pure.
 */
bool tlspolicy_wants_tlsa(const struct tlspolicy_facts *);

/*
 * The rules above. why gets a short reason (at most why_size bytes,
 * NUL-terminated). Pure.
 */
enum tlspolicy_kind tlspolicy_decide(const struct tlspolicy_facts *,
    char *why, size_t why_size);

/*
 * Step 1, for domain (an MX delivery's domain) whose MX answer had
 * security mx_sec; dane_ok: DNSSEC validation works through `dns`
 * (nexthop's probe). The STS branch looks the MTA-STS policy up here.
 */
void tlspolicy_domain_init(struct tlspolicy_domain *, const struct conf *,
    struct dns *, const char *domain, enum dns_security mx_sec,
    bool dane_ok);

/*
 * Step 2, for MX host `host` whose addresses came with addr_sec. Always
 * fills *out (kind SKIP when the host must not be used). Call
 * tlspolicy_hop_reset() after.
 */
void tlspolicy_hop(const struct tlspolicy_domain *, struct dns *,
    const char *host, enum dns_security addr_sec, struct tlspolicy_hop *out);

/* Free what a hop holds; it is then OPPORTUNISTIC. NULL is fine. */
void tlspolicy_hop_reset(struct tlspolicy_hop *);

/*
 * REQUIRETLS (RFC 8689 4.1): can this hop carry a message that requires
 * TLS? DANE, STS_ENFORCE and PKIX can (true); OPPORTUNISTIC and
 * STS_TESTING can once made PKIX (the hop is changed, true) when the
 * host's name is authentic (hop.mx_authentic), else not (false);
 * DANE_UNAUTH cannot (no authentication) and SKIP is not used (false).
 */
bool tlspolicy_hop_requiretls(struct tlspolicy_hop *);

/* Does the hop need STARTTLS (never plain text)? */
bool tlspolicy_needs_tls(enum tlspolicy_kind);

/* Does the hop verify the certificate by PKIX for the host name? */
bool tlspolicy_needs_pkix(enum tlspolicy_kind);

/*
 * For log lines (tls_policy=): "opportunistic", "dane",
 * "dane-unauthenticated", "sts", "sts-testing", "pkix", "skip".
 */
const char *tlspolicy_kind_name(enum tlspolicy_kind);

#endif
