/* SPDX-License-Identifier: ISC */
/*
 * util/ttlcache.c - entries in an array, chained by index from a fixed
 * array of heads (as server/ratelimit.c), so growing never rehashes; a
 * removed entry's place is taken by the last one.
 * Trust: see ttlcache.h.
 */
#include "util/ttlcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "util/log.h"
#include "util/xmalloc.h"

#define NONE UINT32_MAX

struct entry {
	char *key;
	void *val;
	size_t vlen;
	uint64_t expires_ms;
	uint32_t next; /* chain, by index; NONE at the end */
};

struct ttlcache {
	pthread_mutex_t mtx;
	uint64_t seed;
	struct entry *tab;
	size_t n, cap, max;
	uint32_t *heads;
	size_t mask; /* number of heads - 1 (a power of two - 1) */
};

struct ttlcache *
ttlcache_new(size_t max_entries)
{
	struct ttlcache *tc;
	size_t nheads = 16, i;

	if (max_entries < 1 || max_entries >= NONE)
		PANIC("ttlcache_new: max_entries out of range");
	tc = xcalloc(1, sizeof(*tc));
	pthread_mutex_init(&tc->mtx, NULL);
	tc->max = max_entries;
	while (nheads < max_entries && nheads < ((size_t)1 << 30))
		nheads <<= 1;
	tc->heads = xcalloc(nheads, sizeof(*tc->heads));
	for (i = 0; i < nheads; i++)
		tc->heads[i] = NONE;
	tc->mask = nheads - 1;
	if (getrandom(&tc->seed, sizeof(tc->seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(tc->seed))
		tc->seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)tc;
	return tc;
}

void
ttlcache_free(struct ttlcache *tc)
{
	size_t i;

	if (tc == NULL)
		return;
	for (i = 0; i < tc->n; i++) {
		free(tc->tab[i].key);
		free(tc->tab[i].val);
	}
	free(tc->tab);
	free(tc->heads);
	pthread_mutex_destroy(&tc->mtx);
	free(tc);
}

/* FNV-1a, seeded. */
static size_t
slot(const struct ttlcache *tc, const char *key)
{
	uint64_t h = 14695981039346656037ull ^ tc->seed;

	for (; *key != '\0'; key++) {
		h ^= (unsigned char)*key;
		h *= 1099511628211ull;
	}
	h ^= h >> 29;
	return (size_t)h & tc->mask;
}

static uint32_t *
link_to(struct ttlcache *tc, size_t i)
{
	uint32_t *pp;

	for (pp = &tc->heads[slot(tc, tc->tab[i].key)]; *pp != i;
	     pp = &tc->tab[*pp].next)
		;
	return pp;
}

/* Unlink entry i and move the last entry into its place. */
static void
remove_at(struct ttlcache *tc, size_t i)
{
	size_t last = tc->n - 1;

	*link_to(tc, i) = tc->tab[i].next;
	free(tc->tab[i].key);
	free(tc->tab[i].val);
	if (i != last) {
		*link_to(tc, last) = (uint32_t)i;
		tc->tab[i] = tc->tab[last];
	}
	tc->n--;
}

static struct entry *
find(struct ttlcache *tc, const char *key, size_t *idx_out)
{
	uint32_t i;

	for (i = tc->heads[slot(tc, key)]; i != NONE; i = tc->tab[i].next)
		if (strcmp(tc->tab[i].key, key) == 0) {
			*idx_out = i;
			return &tc->tab[i];
		}
	return NULL;
}

/* Full: drop every expired entry; if none was, the soonest to expire. */
static void
make_room(struct ttlcache *tc, uint64_t now)
{
	size_t i, soonest = 0, before = tc->n;

	for (i = tc->n; i-- > 0;)
		if (tc->tab[i].expires_ms <= now)
			remove_at(tc, i);
	if (tc->n < before)
		return;
	for (i = 1; i < tc->n; i++)
		if (tc->tab[i].expires_ms < tc->tab[soonest].expires_ms)
			soonest = i;
	remove_at(tc, soonest);
}

bool
ttlcache_put(struct ttlcache *tc, const char *key, const void *val, size_t vlen,
    uint64_t now_ms, uint64_t ttl_ms)
{
	struct entry *e;
	size_t i;

	if (strlen(key) >= TTLCACHE_KEY_MAX || vlen > TTLCACHE_VALUE_MAX)
		return false;
	pthread_mutex_lock(&tc->mtx);
	if ((e = find(tc, key, &i)) == NULL) {
		if (tc->n == tc->max)
			make_room(tc, now_ms);
		if (tc->n == tc->cap) {
			tc->cap = tc->cap ? tc->cap * 2 : 64;
			if (tc->cap > tc->max)
				tc->cap = tc->max;
			tc->tab = xrealloc(tc->tab, tc->cap * sizeof(*tc->tab));
		}
		i = tc->n++;
		e = &tc->tab[i];
		e->key = xstrdup(key);
		e->val = NULL;
		e->next = tc->heads[slot(tc, key)];
		tc->heads[slot(tc, key)] = (uint32_t)i;
	}
	free(e->val);
	e->val = xmalloc(vlen > 0 ? vlen : 1);
	memcpy(e->val, val, vlen);
	e->vlen = vlen;
	e->expires_ms =
	    ttl_ms > UINT64_MAX - now_ms ? UINT64_MAX : now_ms + ttl_ms;
	pthread_mutex_unlock(&tc->mtx);
	return true;
}

bool
ttlcache_get(struct ttlcache *tc, const char *key, uint64_t now_ms, void *out,
    size_t outsz, size_t *len_out)
{
	struct entry *e;
	bool found = false;
	size_t i;

	pthread_mutex_lock(&tc->mtx);
	if ((e = find(tc, key, &i)) != NULL) {
		if (e->expires_ms <= now_ms) {
			remove_at(tc, i);
		} else {
			memcpy(out, e->val, e->vlen < outsz ? e->vlen : outsz);
			if (len_out != NULL)
				*len_out = e->vlen;
			found = true;
		}
	}
	pthread_mutex_unlock(&tc->mtx);
	return found;
}

size_t
ttlcache_count(struct ttlcache *tc)
{
	size_t n;

	pthread_mutex_lock(&tc->mtx);
	n = tc->n;
	pthread_mutex_unlock(&tc->mtx);
	return n;
}
