/* SPDX-License-Identifier: ISC */
/*
 * conf/holder.c - shared configurations and the one in force (conf.h):
 * a reference count in each struct conf, and a mutex around the current
 * pointer, taken once per unit of work (a session, a delivery pass), so
 * its cost is nothing next to the work.
 * Trust: internal.
 */
#include "conf/conf-private.h"

#include <pthread.h>
#include <stdlib.h>

#include "util/log.h"
#include "util/xmalloc.h"

struct conf_holder {
	pthread_mutex_t mtx;
	const struct conf *cur;
};

const struct conf *
conf_ref(const struct conf *c)
{
	/* The count is not a setting: it may change in a const conf. */
	struct conf *m = (struct conf *)(uintptr_t)c;

	if (atomic_fetch_add(&m->refs, 1) == 0)
		PANIC("conf_ref: a freed configuration");
	return c;
}

void
conf_unref(const struct conf *c)
{
	struct conf *m = (struct conf *)(uintptr_t)c;

	if (c == NULL)
		return;
	if (atomic_fetch_sub(&m->refs, 1) == 1)
		conf_free(m);
}

struct conf_holder *
conf_holder_new(const struct conf *c)
{
	struct conf_holder *h = xcalloc(1, sizeof(*h));

	pthread_mutex_init(&h->mtx, NULL);
	h->cur = c;
	return h;
}

void
conf_holder_free(struct conf_holder *h)
{
	if (h == NULL)
		return;
	conf_unref(h->cur);
	pthread_mutex_destroy(&h->mtx);
	free(h);
}

const struct conf *
conf_holder_get(struct conf_holder *h)
{
	const struct conf *c;

	pthread_mutex_lock(&h->mtx);
	c = conf_ref(h->cur);
	pthread_mutex_unlock(&h->mtx);
	return c;
}

void
conf_holder_set(struct conf_holder *h, const struct conf *c)
{
	const struct conf *old;

	pthread_mutex_lock(&h->mtx);
	old = h->cur;
	h->cur = c;
	pthread_mutex_unlock(&h->mtx);
	conf_unref(old);
}
