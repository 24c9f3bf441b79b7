/* SPDX-License-Identifier: ISC */
/*
 * server/auth.c - failed-AUTH counters: one small table under a mutex.
 *
 * AUTH is rare next to RCPT and DATA, so a linear table is enough; it is
 * capped, and a full table drops its stalest entry, which at worst lets
 * a very wide attack start counting again (the per-IP delay still
 * holds for each address while it is remembered).
 * Trust: keys are peer text (an IP string, a user name from AUTH),
 * copied with a cap.
 */
#include "server/auth.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "smtp/auth.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define KEY_MAX (SMTP_AUTH_USER_MAX + 8)

struct entry {
	char key[KEY_MAX]; /* "ip:192.0.2.1" or "user:alice@example.org" */
	size_t count;
	time_t last;
};

struct authfail {
	pthread_mutex_t mtx;
	size_t max_failures;
	unsigned lockout, delay;
	struct entry *tab;
	size_t n, cap;
};

struct authfail *
authfail_new(const struct conf_limits *lim)
{
	struct authfail *af = xcalloc(1, sizeof(*af));

	pthread_mutex_init(&af->mtx, NULL);
	af->max_failures = lim->auth_max_failures;
	af->lockout = lim->auth_lockout;
	af->delay = lim->auth_fail_delay;
	return af;
}

void
authfail_free(struct authfail *af)
{
	if (af == NULL)
		return;
	pthread_mutex_destroy(&af->mtx);
	free(af->tab);
	free(af);
}

static void
make_key(char *dst, const char *kind, const char *v)
{
	(void)strlcpy(dst, kind, KEY_MAX);
	(void)strlcat(dst, v, KEY_MAX);
	ascii_lower_str(dst);
}

static bool
expired(const struct authfail *af, const struct entry *e, time_t now)
{
	return now - e->last >= (time_t)af->lockout;
}

static struct entry *
find(struct authfail *af, const char *key, time_t now, bool create)
{
	size_t i, victim = 0;

	for (i = 0; i < af->n; i++)
		if (strcmp(af->tab[i].key, key) == 0) {
			if (expired(af, &af->tab[i], now))
				af->tab[i].count = 0;
			return &af->tab[i];
		}
	if (!create)
		return NULL;
	if (af->n == af->cap && af->cap < AUTHFAIL_ENTRIES_MAX) {
		af->cap = af->cap ? af->cap * 2 : 64;
		af->tab = xrealloc(af->tab, af->cap * sizeof(*af->tab));
	}
	if (af->n < af->cap) {
		i = af->n++;
	} else {
		/* Full: take an expired entry, else the stalest. */
		for (i = 0; i < af->n; i++) {
			if (expired(af, &af->tab[i], now))
				break;
			if (af->tab[i].last < af->tab[victim].last)
				victim = i;
		}
		if (i == af->n)
			i = victim;
	}
	memset(&af->tab[i], 0, sizeof(af->tab[i]));
	(void)strlcpy(af->tab[i].key, key, KEY_MAX);
	af->tab[i].last = now;
	return &af->tab[i];
}

static unsigned
left(const struct authfail *af, const struct entry *e, time_t now)
{
	if (e == NULL || e->count < af->max_failures || expired(af, e, now))
		return 0;
	return (unsigned)((time_t)af->lockout - (now - e->last));
}

unsigned
authfail_locked(struct authfail *af, const char *ip, const char *user,
    time_t now)
{
	char key[KEY_MAX];
	unsigned a = 0, b = 0;

	pthread_mutex_lock(&af->mtx);
	if (ip != NULL) {
		make_key(key, "ip:", ip);
		a = left(af, find(af, key, now, false), now);
	}
	if (user != NULL) {
		make_key(key, "user:", user);
		b = left(af, find(af, key, now, false), now);
	}
	pthread_mutex_unlock(&af->mtx);
	return a > b ? a : b;
}

size_t
authfail_record(struct authfail *af, const char *ip, const char *user,
    time_t now)
{
	char key[KEY_MAX];
	struct entry *e;
	size_t n = 1;

	pthread_mutex_lock(&af->mtx);
	if (ip != NULL) {
		make_key(key, "ip:", ip);
		e = find(af, key, now, true);
		e->count++;
		e->last = now;
		n = e->count;
	}
	if (user != NULL) {
		make_key(key, "user:", user);
		e = find(af, key, now, true);
		e->count++;
		e->last = now;
		if (e->count > n)
			n = e->count;
	}
	pthread_mutex_unlock(&af->mtx);
	return n;
}

void
authfail_clear(struct authfail *af, const char *ip, const char *user)
{
	char key[KEY_MAX];
	struct entry *e;

	pthread_mutex_lock(&af->mtx);
	if (ip != NULL) {
		make_key(key, "ip:", ip);
		if ((e = find(af, key, 0, false)) != NULL)
			e->count = 0;
	}
	if (user != NULL) {
		make_key(key, "user:", user);
		if ((e = find(af, key, 0, false)) != NULL)
			e->count = 0;
	}
	pthread_mutex_unlock(&af->mtx);
}

unsigned
authfail_delay(const struct authfail *af, size_t n)
{
	size_t shift = n > 0 ? n - 1 : 0;

	if (shift > AUTHFAIL_DELAY_SHIFT_MAX)
		shift = AUTHFAIL_DELAY_SHIFT_MAX;
	return af->delay << shift;
}

bool
authfail_is_lockout(const struct authfail *af, size_t n)
{
	return n >= af->max_failures;
}
