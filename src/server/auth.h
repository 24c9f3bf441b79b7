/* SPDX-License-Identifier: ISC */
/*
 * server/auth.h - brakes on password guessing: failed AUTH attempts
 * counted per client IP and per account name, shared by all loops.
 *
 * After each failure the reply waits auth_fail_delay * 2^(n-1) seconds
 * (n = failures so far, capped at AUTHFAIL_DELAY_SHIFT_MAX doublings);
 * at auth_max_failures within auth_lockout the session gets 421 and,
 * until the lockout has passed since the last failure, every AUTH from
 * that IP or for that account gets 454 4.7.0 without a password check.
 * Counts are forgotten after a success for that IP and account, or after
 * auth_lockout without failures.
 * It does not check passwords (dir/) or parse AUTH (smtp/auth.h).
 * Trust: IPs and names come from peers, so the table is capped
 * (AUTHFAIL_ENTRIES_MAX; when full the stalest entry goes).
 */
#ifndef TERN_SERVER_AUTH_H
#define TERN_SERVER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct conf_limits;
struct authfail;

#define AUTHFAIL_ENTRIES_MAX 8192
#define AUTHFAIL_DELAY_SHIFT_MAX 4 /* at most 16 * auth_fail_delay */

struct authfail *authfail_new(const struct conf_limits *);
void authfail_free(struct authfail *); /* NULL is fine */

/*
 * Seconds until ip or user (either may be NULL) may try again, or 0 when
 * neither is locked out. Any thread.
 */
unsigned authfail_locked(struct authfail *, const char *ip, const char *user,
    time_t now);

/*
 * Count a failure for ip and user; returns the larger of the two counts
 * (within the lockout window), at least 1. Any thread.
 */
size_t authfail_record(struct authfail *, const char *ip, const char *user,
    time_t now);

/* A success: forget the counts of ip and user. Any thread. */
void authfail_clear(struct authfail *, const char *ip, const char *user);

/* Seconds to wait before replying to the nth failure (n >= 1). */
unsigned authfail_delay(const struct authfail *, size_t n);

/* Has the nth failure reached the lockout? */
bool authfail_is_lockout(const struct authfail *, size_t n);

#endif
