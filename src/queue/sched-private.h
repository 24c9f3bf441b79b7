/* SPDX-License-Identifier: ISC */
/*
 * queue/sched-private.h - what sched.c (the queue and its threads) and
 * sched_notify.c (what a sender hears: bounces, delay warnings, success
 * reports) share. Not for other modules: sched.h is the contract.
 */
#ifndef TERN_QUEUE_SCHED_PRIVATE_H
#define TERN_QUEUE_SCHED_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue/sched.h"
#include "queue/spool.h"

struct dir;

enum qent_where {
	Q_READY,
	Q_BACKLOG, /* found at start-up, not looked at yet */
	Q_TIMER,
	Q_RUNNING,
};

struct qent {
	char id[SPOOL_ID_MAX];
	int64_t when_ms; /* wall clock, for the heap */
	size_t heap_idx;
	enum qent_where where;
	bool forced;       /* `tern queue retry|flush`: ignore next_attempt */
	bool held;         /* waits for its expiry, not for a retry */
	struct qent *next, *prev; /* ready or backlog list */
};

/* A list of entries in order, both ways linked: O(1) to take one out. */
struct qlist {
	struct qent *head, *tail;
};

struct sched {
	struct conf_holder *confs; /* each pass takes the one in force */
	struct spool *spool;
	struct sched_deliverer d;
	pthread_mutex_t mtx;
	pthread_cond_t cv; /* CLOCK_MONOTONIC */
	void *index;       /* tsearch tree of struct qent by id */
	struct qlist ready;   /* new mail, due retries, operator requests */
	struct qlist backlog; /* sched_recover(): served every other pick */
	bool backlog_turn;    /* the next pick is the backlog's */
	struct qent **heap;
	size_t nheap, heapcap;
	pthread_t *thr;
	size_t nthr;
	bool stopping;
	/* The user store, for notices to local addresses (postmaster
	 * aliases): opened on first use, one thread at a time. */
	pthread_mutex_t dir_mtx;
	char *dbpath; /* NULL: notices go as addressed */
	struct dir *dir;
};

/*
 * Seconds since env's arrival: the queue id's microseconds when they
 * agree with the envelope's whole seconds.
 */
double sched_age(const struct spool_env *env);

/*
 * Tell env's sender about the recipients that failed in this pass
 * (res[i] WHY_PERM, state FAILED: one DSN), and once about delays
 * (RFC 3464). A failed recipient whose DSN cannot be queued now goes
 * back to pending, so a later pass bounces it; returns how many went
 * back. The failure DSN's queue id into bid_out (SPOOL_ID_MAX), "" when
 * none was queued.
 */
size_t sched_notify_sender(struct sched *, const struct conf *,
    struct spool_env *env, int fd, struct why *res,
    const struct sched_reply *rep, size_t pending, char *bid_out);
/*
 * Success reports (RFC 3461 5.2.1-5.2.3) for the recipients delivered
 * in this pass (delivered now, was_delivered[i] false before) that
 * asked NOTIFY=SUCCESS.
 */
void sched_notify_success(struct sched *, const struct conf *,
    const struct spool_env *env, int fd, const bool *was_delivered,
    const struct sched_reply *rep);

#endif
