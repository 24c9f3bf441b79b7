/* SPDX-License-Identifier: ISC */
#include "server/workers.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "util/log.h"
#include "util/xmalloc.h"

struct job {
	struct job *next;
	workers_fn *work;
	struct loop *loop;
	loop_fn *done;
	void *arg;
};

struct workers {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	struct job *head, **tail;
	bool stopping;
	unsigned n;
	unsigned ready; /* threads past thread_init */
	pthread_t *threads;
	void *(*thread_init)(void *);
	void (*thread_fini)(void *);
	void *arg;
};

static void *
worker_main(void *arg)
{
	struct workers *w = arg;
	void *ctx;
	struct job *j;

	(void)pthread_setname_np(pthread_self(), "worker"); /* for perf */
	ctx = w->thread_init ? w->thread_init(w->arg) : NULL;

	pthread_mutex_lock(&w->mtx);
	w->ready++;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mtx);
	for (;;) {
		pthread_mutex_lock(&w->mtx);
		while (w->head == NULL && !w->stopping)
			pthread_cond_wait(&w->cv, &w->mtx);
		j = w->head;
		if (j == NULL) { /* stopping and drained */
			pthread_mutex_unlock(&w->mtx);
			break;
		}
		w->head = j->next;
		if (w->head == NULL)
			w->tail = &w->head;
		pthread_mutex_unlock(&w->mtx);
		/* A context that failed (a database that could not be opened,
		 * a full disk) is tried again with the next job. */
		if (ctx == NULL && w->thread_init != NULL)
			ctx = w->thread_init(w->arg);
		j->work(ctx, j->arg);
		loop_post(j->loop, j->done, j->arg);
		free(j);
	}
	if (w->thread_fini)
		w->thread_fini(ctx);
	return NULL;
}

struct workers *
workers_new(unsigned nthreads, void *(*thread_init)(void *),
    void (*thread_fini)(void *), void *arg)
{
	struct workers *w = xcalloc(1, sizeof(*w));
	unsigned i;

	pthread_mutex_init(&w->mtx, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->tail = &w->head;
	w->thread_init = thread_init;
	w->thread_fini = thread_fini;
	w->arg = arg;
	w->threads = xcalloc(nthreads, sizeof(*w->threads));
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&w->threads[i], NULL, worker_main, w) != 0)
			PANIC("pthread_create worker failed");
		w->n++;
	}
	return w;
}

void
workers_wait_ready(struct workers *w)
{
	pthread_mutex_lock(&w->mtx);
	while (w->ready < w->n)
		pthread_cond_wait(&w->cv, &w->mtx);
	pthread_mutex_unlock(&w->mtx);
}

void
workers_free(struct workers *w)
{
	unsigned i;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mtx);
	w->stopping = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mtx);
	for (i = 0; i < w->n; i++)
		(void)pthread_join(w->threads[i], NULL);
	free(w->threads);
	pthread_mutex_destroy(&w->mtx);
	pthread_cond_destroy(&w->cv);
	free(w);
}

void
workers_submit(struct workers *w, workers_fn *work, struct loop *loop,
    loop_fn *done, void *arg)
{
	struct job *j = xmalloc(sizeof(*j));

	j->next = NULL;
	j->work = work;
	j->loop = loop;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&w->mtx);
	*w->tail = j;
	w->tail = &j->next;
	pthread_mutex_unlock(&w->mtx);
	/*
	 * After the unlock: a worker woken under our lock would find it
	 * still held and sleep again on the mutex (issue 20 measured that
	 * second switch on every RCPT). A worker re-checks the list under
	 * the lock before it waits, so nothing is missed.
	 */
	pthread_cond_signal(&w->cv);
}
