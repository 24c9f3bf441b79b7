/* SPDX-License-Identifier: ISC */
/*
 * server/loop.h - event-loop threads and the hand-off between threads.
 *
 * One libevent event_base per thread (DESIGN.md "Runtime model"). Work
 * finished on another thread (a worker, the spool's sync thread) comes
 * back with loop_post(), which runs a function on the loop's own thread:
 * sessions are only ever touched by their loop.
 * Trust: internal; no peer input.
 */
#ifndef TERN_SERVER_LOOP_H
#define TERN_SERVER_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct loop;

typedef void loop_fn(struct loop *, void *arg);

/* A loop that runs on its own thread once loop_start() is called. */
struct loop *loop_new(unsigned index);
void loop_free(struct loop *);
struct event_base *loop_base(struct loop *);
unsigned loop_index(const struct loop *);
int loop_start(struct loop *);
/* Wait for the loop's thread to return (after loop_exit()). */
void loop_join(struct loop *);
/* Make the loop return once it is idle. Loop thread only. */
void loop_exit(struct loop *);

/* Run fn(loop, arg) on the loop's thread soon. Any thread. */
void loop_post(struct loop *, loop_fn *fn, void *arg);

#endif
