/* SPDX-License-Identifier: ISC */
/*
 * server/access.h - a listener's own firewall: may this client connect?
 *
 * `allow` and `deny` in [listener NAME] are lists of CIDR networks. The
 * most specific network that contains the client decides (the longest
 * prefix; deny wins a tie). A client in no listed network is allowed
 * when the listener has no allow list, and denied when it has one.
 * Pure: no I/O, no logging. It does not rate-limit (server/ratelimit.h).
 * Trust: the lists come from the checked configuration, the address from
 * accept(2).
 */
#ifndef TERN_SERVER_ACCESS_H
#define TERN_SERVER_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "util/cidr.h"

struct conf_listener;

/*
 * Is sa allowed on the listener? *rule_out (may be NULL) is set to the
 * network that decided, or to NULL when no listed network contains sa.
 */
bool access_allowed(const struct conf_listener *, const struct sockaddr *sa,
    const struct cidr **rule_out);

#endif
