/* SPDX-License-Identifier: ISC */
/*
 * obs/http.h - the metrics and dashboard listener (issue 17):
 * [observability] http_listen, loopback only.
 *
 *   GET /metrics      Prometheus text format 0.0.4 (obs/metrics.h)
 *   GET /api/status   the dashboard's JSON: metrics_render_json() and
 *                     "held_messages" (at most OBS_HTTP_HELD_MAX)
 *   GET /             the dashboard (src/obs/dashboard/, compiled in)
 *
 * evhttp on a thread and event base of its own: a slow scrape never
 * delays a session, and the session loops never see an HTTP peer.
 * Routing and the token are obs/httpreq.h's; the bearer token comes
 * from http_token_file (conf_token_load(), the webhook's rules). Every
 * request is bounded: header and body sizes, OBS_HTTP_TIMEOUT without
 * progress closes a connection, OBS_HTTP_CONN_MAX connections at once
 * (more wait in the kernel's backlog).
 * Held messages are the scheduler's (sched_stats()), their envelopes
 * read from the spool read-only (queue/spool.h), at most every
 * OBS_HTTP_HELD_REFRESH seconds; their reasons come from the HELD
 * events seen since start (obs_add_sink()).
 * Trust: requests are local but untrusted; answers carry queue ids and
 * addresses, hence loopback only and the optional token.
 */
#ifndef TERN_OBS_HTTP_H
#define TERN_OBS_HTTP_H

#include "util/why.h"

struct conf;
struct obs_http;
struct sched;

#define OBS_HTTP_TIMEOUT 10       /* seconds without progress */
#define OBS_HTTP_HEADERS_MAX 8192 /* request line and header bytes */
#define OBS_HTTP_BODY_MAX 1024    /* request body bytes (none used) */
#define OBS_HTTP_CONN_MAX 64      /* connections at once */
#define OBS_HTTP_HELD_MAX 50      /* held messages in /api/status */
#define OBS_HTTP_HELD_REFRESH 2   /* seconds between spool reads */

/*
 * Bind c->obs.http_sa (as root, before the server drops privileges,
 * like the SMTP listeners). c->obs.http_listen must be set; c must
 * outlive the result. NULL with why: the server refuses to start.
 */
struct obs_http *obs_http_new(const struct conf *c, struct why *);

/*
 * Read http_token_file (as the service user: conf_token_load()) and
 * start serving on a thread of its own. The held messages are the ones
 * sched knows (sched_stats(); it must outlive obs_http_free()), their
 * envelopes read from the spool at queue_dir, opened read-only. -1
 * with why: a bad token file (the server refuses to start), no memory.
 */
int obs_http_start(struct obs_http *, struct sched *sched,
    const char *queue_dir, struct why *);

/* Stop the thread, close the listener and every connection, free.
 * NULL is fine; so is a never-started one. */
void obs_http_free(struct obs_http *);

#endif
