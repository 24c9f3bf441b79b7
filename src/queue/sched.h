/* SPDX-License-Identifier: ISC */
/*
 * queue/sched.h - the queue manager: which committed message to deliver
 * next, retries with backoff, expiry.
 *
 * Delivery threads take messages, hand each pending recipient to the
 * delivery function, and record the result in the spool. A message leaves
 * the queue when no recipient is pending. Temporary failures are retried
 * after retry_initial, doubling up to retry_max.
 * Trust: none; it only reads what the spool validated.
 */
#ifndef TERN_QUEUE_SCHED_H
#define TERN_QUEUE_SCHED_H

#include <stdbool.h>
#include <stddef.h>

#include "queue/spool.h"
#include "util/why.h"

struct buf;
struct conf;
struct conf_holder;
struct sched;

/*
 * relay= text: "smtp:" + a host name + [IPv6]:port (deliver/nexthop.h,
 * NEXTHOP_RELAY_MAX), or "maildir:mail/" + a domain + "/" + a local part
 * of 64 octets (RFC 5321 4.5.3.1.1); a longer one is cut. One per
 * recipient, so not more.
 */
#define SCHED_RELAY_MAX 384

/*
 * Where a delivered recipient went, which decides what a sender who
 * asked NOTIFY=SUCCESS hears (RFC 3461 5.2.1-5.2.3).
 */
enum sched_handoff {
	/*
	 * Delivered here: a Maildir, or an LMTP server without DSN, which
	 * is the local delivery agent (RFC 2033), not a relay: "delivered"
	 * report.
	 */
	SCHED_HANDOFF_FINAL = 0,
	/*
	 * Handed to a next hop (SMTP or LMTP) that offers DSN: the
	 * parameters went with the message and reporting is its job now
	 * (5.2.1): no report.
	 */
	SCHED_HANDOFF_DSN,
	/* Relayed to a next hop without DSN (5.2.2): "relayed" report. */
	SCHED_HANDOFF_RELAYED,
};

/*
 * The remote server's reply that decided a recipient (RFC 5321 4.2.1,
 * RFC 3463), for the DSN's Status and Diagnostic-Code fields. code 0
 * when no reply did (local delivery, a timeout: the why says).
 * The zeroed value means "delivered here, by no server" (FINAL).
 */
struct sched_reply {
	unsigned code;  /* 200..559, or 0 */
	char esc[16];   /* enhanced status "5.1.1", or "" when none given */
	char text[256]; /* the server's text on one line */
	/* The server's host name (RFC 3464 2.3.5 Remote-MTA), or "". */
	char mta[256];
	enum sched_handoff handoff; /* of a delivered recipient */
	/*
	 * Where the recipient went, or was last tried, for the relay= field
	 * of its log line (docs/configuration.md, "Log lines"):
	 * "maildir:mail/DOMAIN/USER" (below data_dir), "lmtp:PATH",
	 * "lmtp:HOST[IP]:PORT", "smtp:HOST[IP]:PORT". Raw (a host name from
	 * DNS): escaped when logged. "" when no server or mailbox was tried:
	 * logged as "none".
	 */
	char relay[SCHED_RELAY_MAX];
};

/*
 * Deliver message `env` (body readable from `fd` at env->body_offset) to
 * recipient `idx`. 0 when delivered; -1 with why (WHY_TEMP: retry later,
 * WHY_PERM: give up on this recipient). Runs on a delivery thread; `ctx`
 * is the per-thread value returned by the thread_init hook; `conf` is
 * the configuration this pass runs on (the one in force when it began:
 * a reload may replace it for later passes), valid during the call.
 */
struct sched_deliverer {
	void *(*thread_init)(void *arg); /* per delivery thread */
	void (*thread_fini)(void *ctx);
	int (*deliver)(void *ctx, const struct conf *conf,
	    const struct spool_env *env, int fd, size_t idx, struct why *why);
	/*
	 * Optional, used instead of deliver() when set: all pending
	 * recipients of one message at once, idx[0..n), so that those with
	 * one destination share a transaction. whys[k] is the result for
	 * idx[k]: kind WHY_NONE when delivered; replies[k] (zeroed by the
	 * caller) the server reply that decided it, if any, and for a
	 * delivered recipient handed on over SMTP its handoff (DSN or
	 * RELAYED: whether the next hop offered DSN). A recipient
	 * delivered through deliver() alone counts as FINAL.
	 */
	void (*deliver_many)(void *ctx, const struct conf *conf,
	    const struct spool_env *env, int fd, const size_t *idx, size_t n,
	    struct why *whys, struct sched_reply *replies);
	void *arg;
	/*
	 * relay= in the log lines when deliver() alone runs (no
	 * deliver_many(), so no sched_reply.relay), e.g. "maildir".
	 * NULL: "-".
	 */
	const char *name;
};

/*
 * A scheduler over spool, delivering with d; each pass takes the
 * configuration in force from confs (conf.h), which must outlive it.
 */
struct sched *sched_new(struct conf_holder *confs, struct spool *,
    const struct sched_deliverer *d);
/*
 * The user database (dir/dir.h) that notices to local addresses are
 * resolved with, as RCPT TO would resolve them (a postmaster alias, the
 * admin address). Without it they go to their address as it is. Call
 * before sched_start().
 */
void sched_set_user_db(struct sched *, const char *dbpath);
/* Start the delivery threads. */
int sched_start(struct sched *);
/* A message was committed: queue it now. Any thread. */
void sched_submit(struct sched *, const char *id);
/*
 * A message found in the spool at start-up (spool_scan): queued like
 * sched_submit(), but in a backlog that delivery threads take from only
 * every other time when new mail waits too, so that the first look at
 * a long queue (100,000 envelopes to read) does not hold back what
 * arrives after a restart, and new mail cannot starve it either.
 */
void sched_recover(struct sched *, const char *id);
/* Finish deliveries in progress, stop the threads, free. */
void sched_free(struct sched *);

/*
 * The queue now (issue 17: metrics): the messages the scheduler knows,
 * how many were found held, and the oldest arrival (unix seconds, from
 * the queue id; 0 when empty). Up to `max` held ids into held_ids (may
 * be NULL). Any thread; walks the queue under its lock, O(messages).
 */
struct sched_stats {
	size_t messages;
	size_t held;
	int64_t oldest_arrival;
};
size_t sched_stats(struct sched *, struct sched_stats *,
    char (*held_ids)[SPOOL_ID_MAX], size_t max);

/*
 * Seconds to wait after the `attempts`-th failed attempt (1 = the first):
 * retry_initial * 2^(attempts-1), capped at retry_max, at least 1.
 */
unsigned sched_backoff(const struct conf *, unsigned attempts);

/*
 * An operator's request (`tern queue`, through the control socket):
 * "flush", or "retry", "hold", "release" or "delete" with a queue id.
 * What was done, or why not, is appended to out for the person (lines
 * ending in LF). 0 when done as asked; -1 when not (no such message,
 * retry of a held one, an unknown verb). Any thread.
 */
int sched_request(struct sched *, const char *verb, const char *id,
    struct buf *out);

#endif
