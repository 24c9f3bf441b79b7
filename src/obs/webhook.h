/* SPDX-License-Identifier: ISC */
/*
 * obs/webhook.h - every obs event POSTed to [observability]
 * webhook_url (issue 17), from a thread of its own (libcurl).
 *
 * Events go in batches: a JSON array of up to WEBHOOK_BATCH_MAX journal
 * lines, oldest first, Content-Type: application/json, with
 * `Authorization: Bearer TOKEN` when webhook_token_file is set. A 2xx
 * answer means delivered; anything else (another status, a refused
 * connection, a time-out: WEBHOOK_CONNECT_TIMEOUT to connect,
 * WEBHOOK_TIMEOUT in all) is retried, starting with the same oldest
 * event, after 1 s, 2 s, 4 s ... up to WEBHOOK_BACKOFF_MAX. Redirects
 * are not followed (a 3xx is a failure); TLS certificates and names are
 * verified.
 * Meanwhile events wait in a backlog of at most webhook_backlog; when
 * it is full the oldest are dropped and counted: every webhook_failed
 * log line says how many so far, and webhook_dropped (once, when the
 * episode ends: the webhook answers again, or the server stops) gives
 * the total and the range of seqs lost. The receiver sees the gap in
 * the seqs too.
 * The receiver gets every event once, in order, as long as none is
 * dropped, with one exception: a batch whose 2xx is lost (a time-out
 * after the receiver took it, a crash between the 2xx and tern noting
 * it) is sent again. Each event carries its seq: a receiver that keeps
 * the highest seq it has seen can drop the repeats. The backlog is in
 * memory: what is not delivered when the server stops is not sent by
 * the next run (it is in the journal).
 * Trust: the answer's body is read and thrown away; only its status is
 * used. The token is read once at start with the secrets file's checks
 * (conf_token_load()) and never logged.
 */
#ifndef TERN_OBS_WEBHOOK_H
#define TERN_OBS_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "util/why.h"

struct buf;
struct conf_obs;
struct evring;
struct obs_event;

#define WEBHOOK_BATCH_MAX 100
#define WEBHOOK_CONNECT_TIMEOUT 5 /* seconds */
#define WEBHOOK_TIMEOUT 15        /* seconds for a whole POST */
#define WEBHOOK_BACKOFF_MAX 60    /* seconds between tries, at most */

struct webhook;

/*
 * Start POSTing to o->webhook_url (which must be set): read the token
 * file, start the thread. NULL with why (the token file is refused, no
 * thread). Then give webhook_sink with the result to obs_add_sink().
 */
struct webhook *webhook_start(const struct conf_obs *o, struct why *);

/*
 * Stop: a POST in flight is abandoned, what is still in the backlog is
 * logged and forgotten. obs_remove_sink() it first. NULL is fine.
 */
void webhook_stop(struct webhook *);

/* The obs sink (obs_sink_fn): arg is the struct webhook. */
void webhook_sink(void *arg, uint64_t seq, const char *line, size_t len,
    const struct obs_event *ev);

/* ---- its pure parts, for tests ---- */

/* The wait after `cur` seconds: 1 after 0, then doubling to the max. */
unsigned webhook_backoff_next(unsigned cur);

/*
 * The next batch: the ring's oldest entries, at most `max`, as a JSON
 * array into out (cleared first). *end_out is the ring position after
 * its last entry (evring_pop() it once delivered). The number of
 * events in it (0: the ring is empty), or -1: out is full.
 */
int webhook_batch(const struct evring *, size_t max, struct buf *out,
    uint64_t *end_out);

#endif
