/* SPDX-License-Identifier: ISC */
/*
 * deliver/nexthop.h - where a recipient's mail goes next, and a session
 * to it: the route decision and the walk over MX hosts and addresses.
 *
 * Shared by delivery (deliver/remote.c, which adds session reuse and
 * per-destination slots) and recipient verification at RCPT time
 * (server/verify.c, which asks the same next hop whether a recipient
 * exists), so that both always reach the same host the same way.
 *
 * Routing, first match wins: a [routes] entry for the recipient's domain;
 * then our own domains (local Maildir: no next hop); then "*" from
 * [routes]; then the domain's MX hosts (dns/dns.h).
 * Trust: addresses are validated (RCPT) or come from the spool; what the
 * remote says is hostile and handled by client/.
 */
#ifndef TERN_DELIVER_NEXTHOP_H
#define TERN_DELIVER_NEXTHOP_H

#include <stdbool.h>
#include <stddef.h>

#include "deliver/tlspolicy.h"
#include "dns/dns.h"
#include "util/why.h"

struct client_conn;
struct conf;
struct conf_route;

/* "route:" + a domain (255, RFC 5321) + "+requiretls" or "+tlsoptional". */
#define NEXTHOP_KEY_MAX (DNS_NAME_MAX + 32)
#define NEXTHOP_ADDR_MAX 108 /* sun_path; longer than any IPv6 text */

/* Where one recipient goes. */
struct nexthop_target {
	/* "route:DOMAIN" or "mx:domain"; "" for our own Maildirs. */
	char key[NEXTHOP_KEY_MAX];
	const struct conf_route *route; /* NULL: MX; borrowed from conf */
	const char *domain;             /* borrowed from the address */
	/*
	 * RFC 8689 (REQUIRETLS, set by its caller): only hosts that
	 * tlspolicy_hop_requiretls() accepts are used. Sessions for such
	 * mail must not be shared with others (give it its own key).
	 */
	bool requiretls;
	/*
	 * RFC 8689 5 (TLS-Required: No, set by its caller): DANE and
	 * MTA-STS are not enforced for this mail; the decision is logged,
	 * the session is opportunistic.
	 */
	bool tls_optional;
};

/*
 * The server a session reached, or the last one tried: for the relay=
 * field of log lines (nexthop_peer_str()) and the DSN's Remote-MTA.
 */
struct nexthop_peer {
	char host[DNS_NAME_MAX];     /* MX host or route host; "" for unix */
	char addr[NEXTHOP_ADDR_MAX]; /* IP, or the socket path; "": none */
	unsigned port;               /* 0 for a unix socket */
	bool lmtp;
	/*
	 * How the hop was secured (issue 19, deliver/tlspolicy.h): for MX
	 * hosts the policy and why; routes keep OPPORTUNISTIC with why ""
	 * (their tls = setting decides). Raw DNS text may be in tls_why.
	 */
	enum tlspolicy_kind tls_policy;
	char tls_why[TLSPOLICY_WHY_MAX];
};

/* "lmtp:" + a socket path, or "smtp:HOST[IP]:PORT", and a NUL. */
#define NEXTHOP_RELAY_MAX (NEXTHOP_ADDR_MAX + DNS_NAME_MAX + 16)

struct nexthop;

/*
 * Session set-up with its TLS client contexts; routes and options come
 * from the configuration given to each call. Never NULL: without TLS
 * contexts (logged), only plain sessions are possible.
 */
struct nexthop *nexthop_new(void);
void nexthop_free(struct nexthop *); /* NULL is fine */

/* The next hop of `addr` (local@domain) into *t; t->domain points into
 * addr. */
void nexthop_route(const struct conf *, const char *addr,
    struct nexthop_target *t);

/*
 * Make t (from nexthop_route(), key not "") a REQUIRETLS target: sets
 * t->requiretls and gives it its own key (sessions are not shared with
 * mail that may go without verified TLS).
 */
void nexthop_require_tls(struct nexthop_target *t);

/*
 * Make t a `TLS-Required: No` target (RFC 8689 5): sets t->tls_optional
 * and gives it its own key, so that a session opened without the
 * domain's DANE or MTA-STS policy never carries mail that needs it. No
 * effect on a REQUIRETLS target.
 */
void nexthop_tls_optional(struct nexthop_target *t);

/*
 * Open a session to t (t->key not ""): each mail host in preference
 * order, each of its addresses, until one greets us. *dnsp is the
 * calling thread's resolver, made on first use (the caller frees it with
 * dns_free()). *peer_out gets the server that answered, or the last one
 * tried (addr "" when none was: no host, no address).
 * timeout_cap (seconds, 0: none) caps every wait of the session beyond
 * [queue] remote_timeout. NULL with why: WHY_PERM only when DNS says no
 * host can exist (NXDOMAIN, null MX, no address at all).
 * Issue 19: for MX delivery each host is asked tlspolicy_hop() first
 * (DANE: STARTTLS mandatory and the certificate matched by TLSA records
 * before any MAIL; hosts it says to skip are skipped, and when all are,
 * why says why: mail is deferred, never sent in the clear). The resolver
 * validates with [outbound_tls] trust_anchor unless DANE is off, the
 * anchor is "none", or the resolver path turns out not to carry DNSSEC
 * (logged once, event=dnssec_unavailable: then no validation, no DANE).
 */
struct client_conn *nexthop_open(const struct nexthop *,
    const struct conf *, struct dns **dnsp, const struct nexthop_target *t,
    unsigned timeout_cap, struct nexthop_peer *peer_out, struct why *);

/*
 * Where a session went, as Postfix's relay= says it: "smtp:HOST[IP]:PORT"
 * (IPv6 too: the brackets delimit it), "lmtp:HOST[IP]:PORT", or
 * "lmtp:PATH" for a unix socket; "" when no address was tried. Raw text
 * (a host name from DNS): escape it for a log line. Into dst (at least
 * NEXTHOP_RELAY_MAX to be whole); returns dst.
 */
const char *nexthop_peer_str(const struct nexthop_peer *, char *dst,
    size_t dstsz);

#endif
