/* SPDX-License-Identifier: ISC */
/*
 * server/auth.h - brakes on password guessing: failed AUTH attempts
 * counted per client, shared by all loops (issue 14).
 *
 * A client is its key from cidr_client_key(): an IPv4 address, or an
 * IPv6 network of auth_ipv6_prefix bits. After the nth failure of a key
 * the 535 waits auth_fail_delay * 2^(n-1) seconds (at most
 * AUTHFAIL_DELAY_SHIFT_MAX doublings); the failure that reaches
 * auth_max_failures within auth_lockout gets 421, and until auth_lockout
 * has passed since the key's last failure every AUTH from it gets 454
 * 4.7.0 without a password check. Attempts still being checked count
 * too, so parallel sessions cannot race past the limit.
 * There is no per-account counter, on purpose: nothing a stranger does
 * may refuse, or slow, a right password sent from another client. (An
 * account counter could only lengthen failure replies, and a guesser
 * that hangs up after a moment without an answer loses nothing by it.)
 * A success neither adds nor clears failures: if it cleared them, a
 * guesser holding any one account could reset its own count between
 * guesses.
 * It does not check passwords (dir/), parse AUTH (smtp/auth.h) or make
 * keys (util/cidr.h).
 * Trust: keys come from accept(2), but an attacker chooses them among
 * the addresses it holds, so the table is capped (see authfail_new())
 * and keys are hashed with a per-table random seed.
 */
#ifndef TERN_SERVER_AUTH_H
#define TERN_SERVER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct conf_limits;
struct authfail;

#define AUTHFAIL_ENTRIES_MAX 16384 /* the server's table size */
#define AUTHFAIL_DELAY_SHIFT_MAX 4 /* at most 16 * auth_fail_delay */

/*
 * A table for auth_max_failures, auth_lockout and auth_fail_delay of
 * lim, holding at most max_entries (>= 1) keys. When it is full, room
 * is made in this order: every entry whose failures have expired goes;
 * else the unlocked entry with the fewest failures (the stalest of
 * those); only when every entry is locked, the lock that ends soonest.
 * So a locked key is forgotten early only after max_entries keys have
 * each been locked, which costs max_entries * auth_max_failures
 * password checks from as many addresses (or IPv6 networks) within
 * auth_lockout: an attacker with that many gets as many guesses anyway.
 * Never NULL.
 */
struct authfail *authfail_new(const struct conf_limits *lim,
    size_t max_entries);
void authfail_free(struct authfail *); /* NULL is fine */
/*
 * auth_max_failures, auth_lockout and auth_fail_delay of lim from now on
 * (a reload); the counts are kept. Any thread.
 */
void authfail_set_limits(struct authfail *, const struct conf_limits *lim);

/*
 * Seconds until key may try again, or 0 when it is not locked out.
 * Takes nothing. Any thread.
 */
unsigned authfail_locked(struct authfail *, const char *key, time_t now);

enum authfail_status {
	AUTHFAIL_GO = 0, /* check it: the attempt is in flight until _end */
	AUTHFAIL_BUSY,   /* its checks in flight reach the limit: wait */
	AUTHFAIL_LOCKED, /* locked out for *wait_out (>= 1) more seconds */
};

/*
 * Before a password check for key. AUTHFAIL_GO takes an attempt, which
 * authfail_end() must end. AUTHFAIL_BUSY: the key's failures and checks
 * in flight already reach auth_max_failures, so one more could pass the
 * limit unseen; try again when one has ended (a crowd of right logins
 * from one address is only put in a line). AUTHFAIL_LOCKED: refuse.
 * Nothing is taken unless AUTHFAIL_GO. Any thread.
 */
enum authfail_status authfail_begin(struct authfail *, const char *key,
    time_t now, unsigned *wait_out);

/*
 * After the check begun by authfail_begin(): failed counts one failure
 * and returns the key's failures within auth_lockout (>= 1); a success
 * or an error of ours counts nothing and returns 0. Any thread.
 */
size_t authfail_end(struct authfail *, const char *key, bool failed,
    time_t now);

/* Seconds to wait before replying to the nth failure (n >= 1). */
unsigned authfail_delay(struct authfail *, size_t n);

/* Has the nth failure reached the lockout? */
bool authfail_is_lockout(struct authfail *, size_t n);

/* Keys held now (tests, monitoring). Any thread. */
size_t authfail_count(struct authfail *);

#endif
