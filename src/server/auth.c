/* SPDX-License-Identifier: ISC */
/*
 * server/auth.c - failed-AUTH counters per client key: one bounded hash
 * table under a mutex.
 *
 * Entries live in an array (grown by doubling up to max_entries) and are
 * chained from a fixed array of heads by index, so growing never
 * rehashes (as server/ratelimit.c). An entry holds a key's failures
 * within auth_lockout and its checks in flight; one with neither holds
 * no information and is dropped at once, so a client that only ever
 * logs in right leaves nothing behind.
 * Trust: keys are short strings made by cidr_client_key() from
 * accept(2) addresses, copied with a cap; the hash is seeded from
 * getrandom() so that an attacker choosing its addresses cannot make
 * them collide without knowing the seed.
 */
#include "server/auth.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "conf/conf.h"
#include "util/cidr.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define NONE UINT32_MAX

struct entry {
	char key[CIDR_STR_MAX]; /* "192.0.2.1", "2001:db8:1::/64" */
	size_t failures;        /* within auth_lockout of `last` */
	size_t inflight;        /* authfail_begin() without its end */
	time_t last;            /* the last failure (or creation) */
	uint32_t next;          /* chain, by index; NONE at the end */
};

struct authfail {
	pthread_mutex_t mtx;
	/* The limits, under mtx: a reload changes them. */
	size_t max_failures;
	unsigned lockout, delay;
	uint64_t seed;
	struct entry *tab;
	size_t n, cap, max;
	uint32_t *heads;
	size_t mask; /* heads - 1, a power of two minus one */
};

void
authfail_set_limits(struct authfail *af, const struct conf_limits *lim)
{
	pthread_mutex_lock(&af->mtx);
	af->max_failures = lim->auth_max_failures;
	af->lockout = lim->auth_lockout;
	af->delay = lim->auth_fail_delay;
	pthread_mutex_unlock(&af->mtx);
}

struct authfail *
authfail_new(const struct conf_limits *lim, size_t max_entries)
{
	struct authfail *af;
	size_t nheads = 16, i;

	if (max_entries < 1 || max_entries >= NONE ||
	    lim->auth_max_failures < 1)
		PANIC("authfail_new: limits out of range");
	af = xcalloc(1, sizeof(*af));
	pthread_mutex_init(&af->mtx, NULL);
	authfail_set_limits(af, lim);
	af->max = max_entries;
	while (nheads < max_entries && nheads < ((size_t)1 << 30))
		nheads <<= 1;
	af->heads = xcalloc(nheads, sizeof(*af->heads));
	for (i = 0; i < nheads; i++)
		af->heads[i] = NONE;
	af->mask = nheads - 1;
	if (getrandom(&af->seed, sizeof(af->seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(af->seed))
		af->seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)af;
	return af;
}

void
authfail_free(struct authfail *af)
{
	if (af == NULL)
		return;
	pthread_mutex_destroy(&af->mtx);
	free(af->tab);
	free(af->heads);
	free(af);
}

/* FNV-1a, seeded. */
static size_t
slot(const struct authfail *af, const char *key)
{
	uint64_t h = 14695981039346656037ull ^ af->seed;

	for (; *key != '\0'; key++) {
		h ^= (unsigned char)*key;
		h *= 1099511628211ull;
	}
	h ^= h >> 29;
	return (size_t)h & af->mask;
}

/* Seconds since e's last failure; a clock that went back reads as 0. */
static time_t
age(const struct entry *e, time_t now)
{
	return now > e->last ? now - e->last : 0;
}

/* Forget failures older than the lockout window. */
static void
refresh(const struct authfail *af, struct entry *e, time_t now)
{
	if (age(e, now) >= (time_t)af->lockout)
		e->failures = 0;
}

static bool
is_locked(const struct authfail *af, const struct entry *e)
{
	return e->failures >= af->max_failures;
}

/* Holds nothing worth keeping: no failures in the window, none pending. */
static bool
is_idle(const struct authfail *af, const struct entry *e, time_t now)
{
	return e->inflight == 0 &&
	       (e->failures == 0 || age(e, now) >= (time_t)af->lockout);
}

/* Unlink entry i and move the last entry into its place. */
static void
remove_at(struct authfail *af, size_t i)
{
	uint32_t *pp;
	size_t last = af->n - 1;

	for (pp = &af->heads[slot(af, af->tab[i].key)]; *pp != i;
	     pp = &af->tab[*pp].next)
		;
	*pp = af->tab[i].next;
	if (i != last) {
		for (pp = &af->heads[slot(af, af->tab[last].key)]; *pp != last;
		     pp = &af->tab[*pp].next)
			;
		*pp = (uint32_t)i;
		af->tab[i] = af->tab[last];
	}
	af->n--;
}

/*
 * Which goes first when the table is full (authfail_new() says why):
 * 0 an unlocked entry, 1 a locked one, 2 one with a check in flight
 * (its end would find nothing and count afresh).
 */
static int
victim_class(const struct authfail *af, const struct entry *e)
{
	if (e->inflight > 0)
		return 2;
	return is_locked(af, e) ? 1 : 0;
}

/* Is a a better victim than b? */
static bool
before(const struct authfail *af, const struct entry *a, const struct entry *b)
{
	int ca = victim_class(af, a), cb = victim_class(af, b);

	if (ca != cb)
		return ca < cb;
	if (ca == 0 && a->failures != b->failures)
		return a->failures < b->failures;
	return a->last < b->last; /* locked: the lock that ends soonest */
}

static void
make_room(struct authfail *af, time_t now)
{
	size_t i, victim = 0;

	for (i = 0; i < af->n;) {
		if (is_idle(af, &af->tab[i], now))
			remove_at(af, i); /* i now holds another entry */
		else
			i++;
	}
	if (af->n < af->max)
		return;
	for (i = 1; i < af->n; i++)
		if (before(af, &af->tab[i], &af->tab[victim]))
			victim = i;
	remove_at(af, victim);
}

static struct entry *
find(struct authfail *af, const char *key, time_t now)
{
	uint32_t i;

	for (i = af->heads[slot(af, key)]; i != NONE; i = af->tab[i].next)
		if (strcmp(af->tab[i].key, key) == 0) {
			refresh(af, &af->tab[i], now);
			return &af->tab[i];
		}
	return NULL;
}

static struct entry *
insert(struct authfail *af, const char *key, time_t now)
{
	struct entry *e;
	size_t h;

	if (af->n == af->max)
		make_room(af, now);
	if (af->n == af->cap) {
		af->cap = af->cap ? af->cap * 2 : 64;
		if (af->cap > af->max)
			af->cap = af->max;
		af->tab = xrealloc(af->tab, af->cap * sizeof(*af->tab));
	}
	h = slot(af, key);
	e = &af->tab[af->n];
	memset(e, 0, sizeof(*e));
	(void)strlcpy(e->key, key, sizeof(e->key)); /* a longer key is cut */
	e->last = now;
	e->next = af->heads[h];
	af->heads[h] = (uint32_t)af->n++;
	return e;
}

/* Seconds left of e's lock, 0 when it is not locked. */
static unsigned
left(const struct authfail *af, const struct entry *e, time_t now)
{
	if (e == NULL || !is_locked(af, e))
		return 0;
	/* refresh() has run: age < lockout, so at least 1 is left. */
	return (unsigned)((time_t)af->lockout - age(e, now));
}

/* The key as stored: cut like insert() cuts it, so lookups agree. */
static void
cut_key(char dst[CIDR_STR_MAX], const char *key)
{
	(void)strlcpy(dst, key, CIDR_STR_MAX);
}

unsigned
authfail_locked(struct authfail *af, const char *key, time_t now)
{
	char k[CIDR_STR_MAX];
	unsigned wait;

	cut_key(k, key);
	pthread_mutex_lock(&af->mtx);
	wait = left(af, find(af, k, now), now);
	pthread_mutex_unlock(&af->mtx);
	return wait;
}

enum authfail_status
authfail_begin(struct authfail *af, const char *key, time_t now,
    unsigned *wait_out)
{
	enum authfail_status st = AUTHFAIL_GO;
	char k[CIDR_STR_MAX];
	struct entry *e;

	*wait_out = 0;
	cut_key(k, key);
	pthread_mutex_lock(&af->mtx);
	if ((e = find(af, k, now)) != NULL &&
	    (*wait_out = left(af, e, now)) > 0)
		st = AUTHFAIL_LOCKED;
	else if (e != NULL && e->failures + e->inflight >= af->max_failures)
		st = AUTHFAIL_BUSY;
	else {
		if (e == NULL)
			e = insert(af, k, now);
		e->inflight++;
	}
	pthread_mutex_unlock(&af->mtx);
	return st;
}

size_t
authfail_end(struct authfail *af, const char *key, bool failed, time_t now)
{
	char k[CIDR_STR_MAX];
	struct entry *e;
	size_t n = 0;

	cut_key(k, key);
	pthread_mutex_lock(&af->mtx);
	e = find(af, k, now);
	if (e == NULL && failed) /* made room for others meanwhile */
		e = insert(af, k, now);
	if (e == NULL)
		goto out;
	if (e->inflight > 0)
		e->inflight--;
	if (failed) {
		n = ++e->failures;
		e->last = now;
	}
	if (is_idle(af, e, now))
		remove_at(af, (size_t)(e - af->tab));
out:
	pthread_mutex_unlock(&af->mtx);
	return n;
}

unsigned
authfail_delay(struct authfail *af, size_t n)
{
	size_t shift = n > 0 ? n - 1 : 0;
	unsigned d;

	if (shift > AUTHFAIL_DELAY_SHIFT_MAX)
		shift = AUTHFAIL_DELAY_SHIFT_MAX;
	pthread_mutex_lock(&af->mtx);
	d = af->delay << shift;
	pthread_mutex_unlock(&af->mtx);
	return d;
}

bool
authfail_is_lockout(struct authfail *af, size_t n)
{
	bool lock;

	pthread_mutex_lock(&af->mtx);
	lock = n >= af->max_failures;
	pthread_mutex_unlock(&af->mtx);
	return lock;
}

size_t
authfail_count(struct authfail *af)
{
	size_t n;

	pthread_mutex_lock(&af->mtx);
	n = af->n;
	pthread_mutex_unlock(&af->mtx);
	return n;
}
