/* SPDX-License-Identifier: ISC */
/*
 * server/ratelimit.c - token buckets in one bounded hash table.
 *
 * Entries live in an array (grown by doubling up to max_entries) and are
 * chained from a fixed array of heads by index, so growing never
 * rehashes. A level is tokens * period_ms: a millisecond adds `rate`
 * units and an event costs `period_ms` units per token, so there is no
 * rounding anywhere (burst and period are capped, so nothing overflows).
 * Trust: keys are peer text, copied with a cap; the hash is seeded from
 * getrandom() so that chosen keys cannot be made to collide on purpose
 * without knowing the seed.
 */
#include "server/ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define NONE UINT32_MAX

struct entry {
	char *key;
	uint64_t level;   /* tokens * period_ms */
	uint64_t last_ms; /* when level was brought up to date */
	bool over;        /* refused since the bucket was last full */
	uint32_t next;    /* chain, by index; NONE at the end */
};

struct ratelimit {
	pthread_mutex_t mtx;
	struct ratelimit_rule rule;
	uint64_t full;    /* burst * period_ms */
	uint64_t fill_ms; /* time to fill an empty bucket, rounded up */
	uint64_t seed;
	struct entry *tab;
	size_t n, cap, max;
	uint32_t *heads;
	size_t mask; /* heads - 1, a power of two minus one */
};

/* Check a rule and derive the table's constants from it. */
static void
rule_set(struct ratelimit *rl, const struct ratelimit_rule *rule)
{
	if (rule->rate > RATELIMIT_RATE_MAX || rule->burst < 1 ||
	    rule->burst > RATELIMIT_RATE_MAX || rule->period_ms < 1 ||
	    rule->period_ms > RATELIMIT_PERIOD_MAX)
		PANIC("ratelimit: rule out of range");
	rl->rule = *rule;
	rl->full = rule->burst * rule->period_ms;
	rl->fill_ms =
	    rule->rate > 0 ? (rl->full + rule->rate - 1) / rule->rate : 0;
}

struct ratelimit *
ratelimit_new(const struct ratelimit_rule *rule, size_t max_entries)
{
	struct ratelimit *rl;
	size_t nheads = 16, i;

	if (max_entries < 1 || max_entries >= NONE)
		PANIC("ratelimit_new: max_entries out of range");
	rl = xcalloc(1, sizeof(*rl));
	pthread_mutex_init(&rl->mtx, NULL);
	rule_set(rl, rule);
	rl->max = max_entries;
	while (nheads < max_entries && nheads < ((size_t)1 << 30))
		nheads <<= 1;
	rl->heads = xcalloc(nheads, sizeof(*rl->heads));
	for (i = 0; i < nheads; i++)
		rl->heads[i] = NONE;
	rl->mask = nheads - 1;
	if (getrandom(&rl->seed, sizeof(rl->seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(rl->seed))
		rl->seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)rl;
	return rl;
}

void
ratelimit_set_rule(struct ratelimit *rl, const struct ratelimit_rule *rule)
{
	size_t i;

	pthread_mutex_lock(&rl->mtx);
	if (rule->rate != rl->rule.rate || rule->burst != rl->rule.burst ||
	    rule->period_ms != rl->rule.period_ms) {
		/* Levels are in units of the old rule: start afresh. */
		for (i = 0; i < rl->n; i++)
			free(rl->tab[i].key);
		rl->n = 0;
		for (i = 0; i <= rl->mask; i++)
			rl->heads[i] = NONE;
		rule_set(rl, rule);
	}
	pthread_mutex_unlock(&rl->mtx);
}

void
ratelimit_free(struct ratelimit *rl)
{
	size_t i;

	if (rl == NULL)
		return;
	for (i = 0; i < rl->n; i++)
		free(rl->tab[i].key);
	free(rl->tab);
	free(rl->heads);
	pthread_mutex_destroy(&rl->mtx);
	free(rl);
}

/* FNV-1a, seeded. */
static size_t
slot(const struct ratelimit *rl, const char *key)
{
	uint64_t h = 14695981039346656037ull ^ rl->seed;

	for (; *key != '\0'; key++) {
		h ^= (unsigned char)*key;
		h *= 1099511628211ull;
	}
	h ^= h >> 29;
	return (size_t)h & rl->mask;
}

/* Bring e's level up to now; a full bucket forgets it was over. */
static void
refill(const struct ratelimit *rl, struct entry *e, uint64_t now)
{
	uint64_t dt;

	if (now <= e->last_ms)
		return;
	dt = now - e->last_ms;
	e->last_ms = now;
	/* dt < fill_ms keeps dt * rate below full + rate: no overflow. */
	if (dt >= rl->fill_ms || e->level + dt * rl->rule.rate >= rl->full)
		e->level = rl->full;
	else
		e->level += dt * rl->rule.rate;
	if (e->level == rl->full)
		e->over = false;
}

/* Unlink entry i and move the last entry into its place. */
static void
remove_at(struct ratelimit *rl, size_t i)
{
	uint32_t *pp;
	size_t last = rl->n - 1;

	for (pp = &rl->heads[slot(rl, rl->tab[i].key)]; *pp != i;
	     pp = &rl->tab[*pp].next)
		;
	*pp = rl->tab[i].next;
	free(rl->tab[i].key);
	if (i != last) {
		for (pp = &rl->heads[slot(rl, rl->tab[last].key)]; *pp != last;
		     pp = &rl->tab[*pp].next)
			;
		*pp = (uint32_t)i;
		rl->tab[i] = rl->tab[last];
	}
	rl->n--;
}

/*
 * Make room for one more key: drop every full (idle) bucket; if none is,
 * drop the fullest, the stalest of those on a tie.
 */
static void
make_room(struct ratelimit *rl, uint64_t now)
{
	size_t i, victim = 0;

	for (i = 0; i < rl->n;) {
		refill(rl, &rl->tab[i], now);
		if (rl->tab[i].level == rl->full)
			remove_at(rl, i); /* i now holds another entry */
		else
			i++;
	}
	if (rl->n < rl->max)
		return;
	for (i = 1; i < rl->n; i++)
		if (rl->tab[i].level > rl->tab[victim].level ||
		    (rl->tab[i].level == rl->tab[victim].level &&
		        rl->tab[i].last_ms < rl->tab[victim].last_ms))
			victim = i;
	remove_at(rl, victim);
}

static struct entry *
lookup(struct ratelimit *rl, const char *key, uint64_t now)
{
	struct entry *e;
	uint32_t i;
	size_t h;

	for (i = rl->heads[slot(rl, key)]; i != NONE; i = rl->tab[i].next)
		if (strcmp(rl->tab[i].key, key) == 0)
			return &rl->tab[i];
	if (rl->n == rl->max)
		make_room(rl, now);
	if (rl->n == rl->cap) {
		rl->cap = rl->cap ? rl->cap * 2 : 64;
		if (rl->cap > rl->max)
			rl->cap = rl->max;
		rl->tab = xrealloc(rl->tab, rl->cap * sizeof(*rl->tab));
	}
	h = slot(rl, key);
	e = &rl->tab[rl->n];
	e->key = xstrdup(key);
	e->level = rl->full;
	e->last_ms = now;
	e->over = false;
	e->next = rl->heads[h];
	rl->heads[h] = (uint32_t)rl->n++;
	return e;
}

enum ratelimit_status
ratelimit_take(struct ratelimit *rl, const char *key, uint64_t n,
    uint64_t now_ms, uint64_t *wait_ms_out)
{
	enum ratelimit_status st = RATELIMIT_OK;
	char cut[RATELIMIT_KEY_MAX + 1];
	struct entry *e;
	uint64_t cost;

	(void)strlcpy(cut, key, sizeof(cut)); /* a longer key is cut */
	if (wait_ms_out != NULL)
		*wait_ms_out = 0;
	pthread_mutex_lock(&rl->mtx);
	if (rl->rule.rate == 0) { /* off: remember nothing */
		pthread_mutex_unlock(&rl->mtx);
		return RATELIMIT_OK;
	}
	e = lookup(rl, cut, now_ms);
	refill(rl, e, now_ms);
	if (n > rl->rule.burst) {
		st = e->over ? RATELIMIT_OVER : RATELIMIT_OVER_FIRST;
		if (wait_ms_out != NULL)
			*wait_ms_out = UINT64_MAX;
	} else if (e->level >= (cost = n * rl->rule.period_ms)) {
		e->level -= cost;
	} else {
		st = e->over ? RATELIMIT_OVER : RATELIMIT_OVER_FIRST;
		if (wait_ms_out != NULL)
			*wait_ms_out = (cost - e->level + rl->rule.rate - 1) /
			               rl->rule.rate;
	}
	if (st != RATELIMIT_OK)
		e->over = true;
	pthread_mutex_unlock(&rl->mtx);
	return st;
}

size_t
ratelimit_count(struct ratelimit *rl)
{
	size_t n;

	pthread_mutex_lock(&rl->mtx);
	n = rl->n;
	pthread_mutex_unlock(&rl->mtx);
	return n;
}
