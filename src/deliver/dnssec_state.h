/* SPDX-License-Identifier: ISC */
/*
 * deliver/dnssec_state.h - does DNSSEC validation work through the
 * configured resolver? (issue 19; nexthop.c's probe records it here.)
 *
 * The probe (dns_dnssec_probe()) cannot tell a resolver that strips
 * DNSSEC from an attacker who spoofs or breaks the one answer it asks
 * for; "unavailable" turns DANE off. So that one bad answer does not
 * turn DANE off for the life of the process:
 *  - "unavailable" lasts DNSSEC_STATE_RETRY_SECS, then the probe is
 *    made again (state UNTESTED);
 *  - once DNSSEC has been seen to work it stays WORKS (a later failed
 *    probe, e.g. a thread that raced the first one, changes nothing):
 *    bogus answers then defer mail, as RFC 7672 wants.
 * Thread: every call takes the struct's mutex; times are the caller's
 * (seconds of a monotonic clock), so the rules are testable.
 */
#ifndef TERN_DELIVER_DNSSEC_STATE_H
#define TERN_DELIVER_DNSSEC_STATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define DNSSEC_STATE_RETRY_SECS 600

enum dnssec_state {
	DNSSEC_UNTESTED = 0, /* not probed yet, no answer in time, or again */
	DNSSEC_WORKS,
	DNSSEC_UNAVAILABLE, /* until `since` + DNSSEC_STATE_RETRY_SECS */
};

struct dnssec_watch {
	pthread_mutex_t mtx;
	enum dnssec_state state;
	int64_t since; /* when UNAVAILABLE was set */
};

void dnssec_watch_init(struct dnssec_watch *);
void dnssec_watch_destroy(struct dnssec_watch *);

/* The state at `now` (an UNAVAILABLE that has lasted its time: UNTESTED). */
enum dnssec_state dnssec_watch_get(struct dnssec_watch *, int64_t now);

/*
 * A probe said st (WORKS or UNAVAILABLE) at `now`. True when this call
 * changed the state (the caller logs it, once per change).
 */
bool dnssec_watch_set(struct dnssec_watch *, enum dnssec_state st, int64_t now);

#endif
