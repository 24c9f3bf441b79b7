/* SPDX-License-Identifier: ISC */
/*
 * capture/check.h - the problems `tern capture` lists for a message
 * (issue 22): the rules of msg/lint.h (RFC 5322 and friends).
 * The dkim-fail problem needs DNS and is added by capture/dkimchk.h.
 * Pure. Trust: the message is the peer's.
 */
#ifndef TERN_CAPTURE_CHECK_H
#define TERN_CAPTURE_CHECK_H

#include <stddef.h>

#include "capture/store.h"

/* At most max problems of msg[0..len) (sent to nrcpt recipients) into
 * out; returns how many were stored. */
size_t cap_check(const char *msg, size_t len, size_t nrcpt,
    struct cap_problem *out, size_t max);

#endif
