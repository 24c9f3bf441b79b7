/* SPDX-License-Identifier: ISC */
/*
 * capture/dkimchk.h - the dkim-fail problem of `tern capture` (issue
 * 22): each DKIM-Signature of a captured message is verified with tern's
 * verifier (auth/dkim.h), its keys asked of --dns-server (or the
 * system's resolver) through libunbound, as `tern serve` does.
 * Trust: the message and the DNS answers are untrusted.
 */
#ifndef TERN_CAPTURE_DKIMCHK_H
#define TERN_CAPTURE_DKIMCHK_H

#include "util/why.h"

struct cap_ctx;

/* Set up the resolver (dns_server NULL: the system's). -1 with why. */
int cap_dkim_init(struct cap_ctx *, const char *dns_server, struct why *);
void cap_dkim_free(struct cap_ctx *);

#endif
