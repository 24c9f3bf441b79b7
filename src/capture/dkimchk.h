/* SPDX-License-Identifier: ISC */
/*
 * capture/dkimchk.h - the dkim-fail problem of `tern capture` (issue
 * 22, RFC 6376): each DKIM-Signature of a captured message is verified
 * with tern's verifier (auth/dkim.h), its key asked of --dns-server (or
 * of /etc/resolv.conf's servers) through libunbound (dns/dns.h), as
 * `tern check message` does. A signature whose result is anything but
 * pass (fail, neutral, policy, temperror, permerror) is one problem.
 *
 * XXX blocking: the lookups run on the capture's one thread, at most
 * CAP_DKIM_TIMEOUT seconds each, and only for mail that carries a
 * DKIM-Signature; meanwhile other sessions wait. A development tool
 * with a local resolver does not notice.
 * Trust: the message and the DNS answers are untrusted; the details are
 * built from the verifier's bounded, checked fields and escaped on
 * output like every problem.
 */
#ifndef TERN_CAPTURE_DKIMCHK_H
#define TERN_CAPTURE_DKIMCHK_H

#include <stddef.h>

#include "capture/store.h"
#include "util/why.h"

struct cap_ctx;

#define CAP_DKIM_TIMEOUT 5 /* seconds per DNS lookup */

/* Set up the resolver (dns_server NULL: resolv.conf's). A bad
 * --dns-server: -1 with why. Without it, a resolver that cannot be set
 * up only turns the check off (logged). */
int cap_dkim_init(struct cap_ctx *, const char *dns_server, struct why *);
void cap_dkim_free(struct cap_ctx *);

/* The dkim-fail problems of msg[0..len), at most max into out; returns
 * how many were stored (0 when the message has no DKIM-Signature). */
size_t cap_dkim_check(struct cap_ctx *, const char *msg, size_t len,
    struct cap_problem *out, size_t max);

#endif
