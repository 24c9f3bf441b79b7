/* SPDX-License-Identifier: ISC */
/* deliver/dnssec_state.c - see dnssec_state.h. */
#include "deliver/dnssec_state.h"

void
dnssec_watch_init(struct dnssec_watch *w)
{
	pthread_mutex_init(&w->mtx, NULL);
	w->state = DNSSEC_UNTESTED;
	w->since = 0;
}

void
dnssec_watch_destroy(struct dnssec_watch *w)
{
	pthread_mutex_destroy(&w->mtx);
}

/* With the mutex held. */
static enum dnssec_state
current(const struct dnssec_watch *w, int64_t now)
{
	if (w->state == DNSSEC_UNAVAILABLE &&
	    now - w->since >= DNSSEC_STATE_RETRY_SECS)
		return DNSSEC_UNTESTED;
	return w->state;
}

enum dnssec_state
dnssec_watch_get(struct dnssec_watch *w, int64_t now)
{
	enum dnssec_state st;

	pthread_mutex_lock(&w->mtx);
	st = current(w, now);
	pthread_mutex_unlock(&w->mtx);
	return st;
}

bool
dnssec_watch_set(struct dnssec_watch *w, enum dnssec_state st, int64_t now)
{
	enum dnssec_state cur;
	bool changed = false;

	pthread_mutex_lock(&w->mtx);
	cur = current(w, now);
	/* WORKS stays; UNAVAILABLE stays its time (one log line). */
	if (cur == DNSSEC_UNTESTED && st != DNSSEC_UNTESTED) {
		w->state = st;
		w->since = now;
		changed = true;
	} else if (cur == DNSSEC_UNAVAILABLE && st == DNSSEC_WORKS) {
		w->state = st; /* a probe that got through: validate again */
		changed = true;
	}
	pthread_mutex_unlock(&w->mtx);
	return changed;
}
