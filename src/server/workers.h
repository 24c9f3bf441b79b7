/* SPDX-License-Identifier: ISC */
/*
 * server/workers.h - a small pool of threads for blocking work (SQLite,
 * password hashing) whose results return to an event loop.
 *
 * Each worker thread gets its own context from thread_init (for example
 * its own SQLite connection): contexts are never shared.
 * Trust: internal.
 */
#ifndef TERN_SERVER_WORKERS_H
#define TERN_SERVER_WORKERS_H

#include "server/loop.h"

struct workers;

typedef void workers_fn(void *ctx, void *job);

/*
 * The threads run thread_init on their own; one whose thread_init
 * returned NULL calls it again before each job (until it gives a
 * context), so a database that failed to open is retried.
 */
struct workers *workers_new(unsigned nthreads, void *(*thread_init)(void *),
    void (*thread_fini)(void *), void *arg);
/*
 * Wait until every thread has run thread_init (start-up: the server is
 * ready only with its workers' database connections open). Blocks: not
 * on an event loop.
 */
void workers_wait_ready(struct workers *);
/* Run queued jobs to completion, join the threads, free. */
void workers_free(struct workers *);
/*
 * Run work(ctx, job) on a worker, then done(loop, job) on `loop`.
 * Any thread.
 */
void workers_submit(struct workers *, workers_fn *work, struct loop *loop,
    loop_fn *done, void *job);

#endif
