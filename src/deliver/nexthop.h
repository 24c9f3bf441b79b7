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
 * [routes]; then the domain's MX hosts (deliver/dns.h).
 * Trust: addresses are validated (RCPT) or come from the spool; what the
 * remote says is hostile and handled by client/.
 */
#ifndef TERN_DELIVER_NEXTHOP_H
#define TERN_DELIVER_NEXTHOP_H

#include <stddef.h>

#include "deliver/dns.h"
#include "util/why.h"

struct client_conn;
struct conf;
struct conf_route;

#define NEXTHOP_KEY_MAX (DNS_NAME_MAX + 16)

/* Where one recipient goes. */
struct nexthop_target {
	/* "route:DOMAIN" or "mx:domain"; "" for our own Maildirs. */
	char key[NEXTHOP_KEY_MAX];
	const struct conf_route *route; /* NULL: MX; borrowed from conf */
	const char *domain;             /* borrowed from the address */
};

struct nexthop;

/*
 * Routing and session set-up for conf (which must outlive it), with its
 * TLS client contexts. Never NULL: without TLS contexts (logged), only
 * plain sessions are possible.
 */
struct nexthop *nexthop_new(const struct conf *);
void nexthop_free(struct nexthop *); /* NULL is fine */

/* The next hop of `addr` (local@domain) into *t; t->domain points into
 * addr. */
void nexthop_route(const struct nexthop *, const char *addr,
    struct nexthop_target *t);

/*
 * Open a session to t (t->key not ""): each mail host in preference
 * order, each of its addresses, until one greets us. *dnsp is the
 * calling thread's resolver, made on first use (the caller frees it with
 * dns_free()). addr_out gets the address that answered ("" if none).
 * timeout_cap (seconds, 0: none) caps every wait of the session beyond
 * [queue] remote_timeout. NULL with why: WHY_PERM only when DNS says no
 * host can exist (NXDOMAIN, null MX, no address at all).
 */
struct client_conn *nexthop_open(const struct nexthop *, struct dns **dnsp,
    const struct nexthop_target *t, unsigned timeout_cap, char *addr_out,
    size_t addrsz, struct why *);

#endif
