/* SPDX-License-Identifier: ISC */
/*
 * server/tlsrpt_svc.h - TLS-RPT in the running server (RFC 8460): the
 * count store (deliver/tlsrpt_store.h) opened at start and made the
 * process's default before delivery threads run, a timer on the main
 * event base that flushes it every minute and, once a UTC day has
 * ended, sends that day's reports (deliver/tlsrpt_send.h) from a thread
 * of its own (the main thread must not wait on the network), and the
 * control request `tlsrpt send [DAY]` behind `tern tlsrpt send`.
 * Off ([outbound_tls] tlsrpt = off, read at start): no store, no timer,
 * the hook does nothing and the request says so.
 * Trust: the control request comes from root or the service user; DAY
 * is checked with tlsrpt_day_parse().
 */
#ifndef TERN_SERVER_TLSRPT_SVC_H
#define TERN_SERVER_TLSRPT_SVC_H

#include "ops/control.h"

struct buf;
struct conf;
struct conf_holder;
struct event_base;
struct sched;
struct spool;
struct tlsrpt_svc;

#define TLSRPT_SVC_TICK 60 /* seconds between flushes and day checks */
/* Seconds after start: the days that ended while tern was down go out. */
#define TLSRPT_SVC_FIRST 2

/*
 * Open the store under conf's data_dir and make it the default (before
 * the delivery threads start). NULL when TLS-RPT is off, or when the
 * store cannot be opened (logged: counting is then off, mail is not
 * affected).
 */
struct tlsrpt_svc *tlsrpt_svc_new(const struct conf *);
/* Start the timer on base; reports are queued to spool/sched and sent
 * with the configuration confs holds at the time. NULL svc: nothing. */
void tlsrpt_svc_start(struct tlsrpt_svc *, struct event_base *,
    struct conf_holder *, struct spool *, struct sched *);
/* The control request "tlsrpt ARGS" (ARGS: "send" or "send DAY"). */
enum control_status tlsrpt_svc_control(struct tlsrpt_svc *, const char *args,
    struct buf *out);
/*
 * Stop the daily run (it ends before its next domain) and wait for it:
 * before the spool and the scheduler it queues reports to are closed.
 * NULL is fine.
 */
void tlsrpt_svc_stop(struct tlsrpt_svc *);
/* Flush and close, after the delivery threads stopped. NULL is fine. */
void tlsrpt_svc_free(struct tlsrpt_svc *);

#endif
