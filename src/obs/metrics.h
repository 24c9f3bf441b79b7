/* SPDX-License-Identifier: ISC */
/*
 * obs/metrics.h - the server's numbers (issue 17): counters, gauges and
 * latency histograms, for /metrics (Prometheus text format 0.0.4) and
 * the dashboard's JSON.
 *
 * Counters live as long as the process: a reload keeps them, a restart
 * starts them at zero (as Prometheus expects of a counter). Most count
 * obs events (obs_emit() calls metrics_on_event()); the rest are
 * counted where they happen with the calls below. Every update is one
 * relaxed atomic add: cheap from any thread.
 *
 * Names (docs/observability.md lists each with its labels):
 *   tern_connections_total{listener}      tern_sessions{listener}
 *   tern_tls_sessions_total{listener}     inbound sessions that did TLS
 *   tern_auth_total{result}               success | failure
 *   tern_messages_accepted_total{listener} ("pickup" for tern sendmail)
 *   tern_rejections_total{reason}         refusals, obs_reason_name()
 *   tern_deliveries_total{route,result}   delivered|deferred|bounced
 *   tern_outbound_transactions_total{tls} yes | no (SMTP, LMTP hosts)
 *   tern_messages_held_total, tern_queue_messages, tern_queue_held,
 *   tern_queue_oldest_age_seconds,
 *   tern_spool_syncs_total,
 *   tern_accept_latency_seconds           end of data to our 250
 *   tern_delivery_latency_seconds         arrival to delivery
 *   tern_start_time_seconds, tern_build_info{version}
 */
#ifndef TERN_OBS_METRICS_H
#define TERN_OBS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct buf;
struct conf;
struct obs_event;

/* Listeners are named from c (they take a restart); call once. */
void metrics_init(const struct conf *c);

/* A session began on listener number `lis` (its index in conf), ended. */
void metrics_session_start(size_t lis);
void metrics_session_end(size_t lis);
/* A session on listener `lis` completed its TLS handshake. */
void metrics_tls_in(size_t lis);
void metrics_auth(bool ok);
/* A mail transaction with an SMTP or LMTP host, over TLS or not. */
void metrics_tls_out(bool tls);
/* n fsync/fdatasync/syncfs calls of the spool (a group commit's). */
void metrics_spool_syncs(uint64_t n);
/* From the end of a message's data to the 250 that accepted it. */
void metrics_accept_latency(double seconds);

/* What obs_emit() counts of each event. */
void metrics_on_event(const struct obs_event *ev);

/*
 * The queue as the scheduler sees it, asked at each scrape: how many
 * messages, how many held, the oldest arrival (unix seconds, 0: empty).
 */
struct metrics_queue {
	size_t messages; /* held ones included */
	size_t held;
	int64_t oldest_arrival;
};
typedef void metrics_queue_fn(void *arg, struct metrics_queue *out);
void metrics_set_queue_probe(metrics_queue_fn *fn, void *arg);

/* /metrics: the Prometheus text format, every metric above. -1: full. */
int metrics_render_prometheus(struct buf *out);

/*
 * The dashboard's JSON (one object; docs/observability.md):
 *   "now", "started": unix seconds; "counters": {accepted, rejected,
 *   delivered, deferred, bounced, held, connections, tls_in,
 *   auth_ok, auth_failed}; "queue": {messages, held, oldest_age};
 *   "minutes": the last 60 one-minute buckets, oldest first, each
 *   {"t": start, accepted, delivered, deferred, bounced, rejected};
 *   "rejections", "deferrals": the top causes of the last hour, each
 *   {"cause": plain words, "count": n}, most first, at most 10.
 * -1: full.
 */
int metrics_render_json(struct buf *out);

/* Forget every count (unit tests). */
void metrics_reset(void);

#endif
