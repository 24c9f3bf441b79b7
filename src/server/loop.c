/* SPDX-License-Identifier: ISC */
#include "server/loop.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "util/log.h"
#include "util/xmalloc.h"

struct post {
	struct post *next;
	loop_fn *fn;
	void *arg;
};

struct loop {
	unsigned index;
	struct event_base *base;
	struct event *wake; /* activated by loop_post() */
	pthread_t thread;
	bool started;
	pthread_mutex_t mtx;
	struct post *head, **tail;
};

static void
run_posts(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;
	struct post *p, *next;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&l->mtx);
	p = l->head;
	l->head = NULL;
	l->tail = &l->head;
	pthread_mutex_unlock(&l->mtx);
	for (; p != NULL; p = next) {
		next = p->next;
		p->fn(l, p->arg);
		free(p);
	}
}

struct loop *
loop_new(unsigned index)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct loop *l;

	/* libevent must know about threads before any base exists. */
	(void)pthread_once(&once, (void (*)(void))evthread_use_pthreads);
	l = xcalloc(1, sizeof(*l));
	l->index = index;
	l->base = event_base_new();
	if (l->base == NULL)
		PANIC("event_base_new failed");
	l->wake = event_new(l->base, -1, 0, run_posts, l);
	pthread_mutex_init(&l->mtx, NULL);
	l->tail = &l->head;
	return l;
}

void
loop_free(struct loop *l)
{
	struct post *p, *next;

	if (l == NULL)
		return;
	for (p = l->head; p != NULL; p = next) {
		next = p->next;
		free(p);
	}
	event_free(l->wake);
	event_base_free(l->base);
	pthread_mutex_destroy(&l->mtx);
	free(l);
}

struct event_base *
loop_base(struct loop *l)
{
	return l->base;
}

unsigned
loop_index(const struct loop *l)
{
	return l->index;
}

static void *
loop_main(void *arg)
{
	struct loop *l = arg;
	char name[16]; /* the kernel's limit, NUL included */

	/* Named for perf, top -H and bench/profile.py's per-thread counts. */
	(void)snprintf(name, sizeof(name), "loop%u", l->index);
	(void)pthread_setname_np(pthread_self(), name);
	(void)event_base_loop(l->base, EVLOOP_NO_EXIT_ON_EMPTY);
	run_posts(-1, 0, l); /* hand-offs that raced with the exit */
	return NULL;
}

int
loop_start(struct loop *l)
{
	if (pthread_create(&l->thread, NULL, loop_main, l) != 0)
		return -1;
	l->started = true;
	return 0;
}

void
loop_join(struct loop *l)
{
	if (l->started)
		(void)pthread_join(l->thread, NULL);
	l->started = false;
}

void
loop_exit(struct loop *l)
{
	(void)event_base_loopexit(l->base, NULL);
}

void
loop_post(struct loop *l, loop_fn *fn, void *arg)
{
	struct post *p = xmalloc(sizeof(*p));
	bool first;

	p->next = NULL;
	p->fn = fn;
	p->arg = arg;
	pthread_mutex_lock(&l->mtx);
	first = l->head == NULL;
	*l->tail = p;
	l->tail = &p->next;
	pthread_mutex_unlock(&l->mtx);
	/*
	 * One wake-up per batch (issue 20): whoever made the list non-empty
	 * activates the event after appending, and run_posts takes the whole
	 * list, so a post that finds others waiting rides on that wake-up
	 * and skips event_active (the event base's lock, contended with the
	 * loop, and maybe an eventfd write).
	 */
	if (first)
		event_active(l->wake, 0, 0);
}
