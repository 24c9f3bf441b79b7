/* SPDX-License-Identifier: ISC */
/*
 * server/ratelimit.h - token buckets keyed by a string (a client IP, a
 * user name): "at most `rate` per `period`, in bursts of up to `burst`".
 *
 * A bucket holds up to `burst` tokens and gains `rate` tokens per
 * `period`, continuously; an event takes tokens or is refused without
 * taking any. A key never seen has a full bucket, so a full bucket holds
 * no information: it is dropped when room is needed, and that is how
 * memory stays bounded (at most max_entries keys). Only when every
 * bucket is in use does the fullest (then the stalest) one go, which at
 * worst gives a very wide attack a fresh bucket per address.
 * The clock is passed in (milliseconds, monotonic), so the maths is
 * unit-tested without sleeping. Counting is exact: levels are kept in
 * token*period_ms units, integers only.
 * It does not decide what a refusal means: server/session.c does for
 * connections, server/session-mail.c for messages and recipients.
 * Trust: keys come from peers (addresses, AUTH names): copied with a cap
 * (RATELIMIT_KEY_MAX), hashed with a per-table random seed.
 */
#ifndef TERN_SERVER_RATELIMIT_H
#define TERN_SERVER_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_KEY_MAX 320       /* longer keys are cut here */
#define RATELIMIT_ENTRIES_MAX 16384 /* the server's table size */
#define RATELIMIT_RATE_MAX 1000000
#define RATELIMIT_PERIOD_MAX (7 * 24 * 3600 * 1000ull) /* a week, in ms */

struct ratelimit_rule {
	uint64_t rate;      /* tokens gained per period, 0 (off)..RATE_MAX */
	uint64_t period_ms; /* 1..PERIOD_MAX */
	uint64_t burst;     /* bucket size, 1..RATE_MAX */
};

enum ratelimit_status {
	RATELIMIT_OK = 0, /* the tokens were taken */
	RATELIMIT_OVER,   /* refused, nothing taken */
	/* Refused, and the first refusal since the bucket was last full:
	 * "this key has just crossed its limit" (log it once). */
	RATELIMIT_OVER_FIRST,
};

struct ratelimit;

/*
 * A table of buckets that all follow `rule` (copied), holding at most
 * max_entries (>= 1) keys. A rate of 0 turns the limit off: every take
 * succeeds and nothing is kept. Panics on a rule out of range: rules
 * come from the checked configuration.
 */
struct ratelimit *ratelimit_new(const struct ratelimit_rule *,
    size_t max_entries);
/*
 * Follow `rule` from now on (a reload). When it differs from the old
 * one every key is forgotten, so each starts with a full bucket of the
 * new rule. Any thread.
 */
void ratelimit_set_rule(struct ratelimit *, const struct ratelimit_rule *);
void ratelimit_free(struct ratelimit *); /* NULL is fine */

/*
 * Take n tokens from key's bucket at time now_ms. On a refusal,
 * *wait_ms_out (may be NULL) is how long until n tokens are there
 * (UINT64_MAX when n > burst: never). A clock that goes back is read as
 * standing still. Any thread (a mutex inside).
 */
enum ratelimit_status ratelimit_take(struct ratelimit *, const char *key,
    uint64_t n, uint64_t now_ms, uint64_t *wait_ms_out);

/* Keys held now (tests, monitoring). */
size_t ratelimit_count(struct ratelimit *);

#endif
