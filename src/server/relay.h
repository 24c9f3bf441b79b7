/* SPDX-License-Identifier: ISC */
/*
 * server/relay.h - may a client without AUTH send to this recipient of
 * a [relay_domains] domain? The check RCPT waits for (issue 14):
 *
 *   verify   ask the domain's next hop (its [routes] entry or its MX)
 *            with MAIL FROM:<> and RCPT TO, as delivery would reach it;
 *            answers are cached: "exists" for verify_positive_ttl, "no
 *            such user" for verify_negative_ttl, and "could not ask"
 *            (next hop down, 4xx) for RELAY_TEMP_TTL, per domain, so a
 *            flood of RCPTs to a dead next hop costs one probe a minute
 *   file     a list of addresses, one per line ('#' comments), re-read
 *            when the file changes
 *   users    tern's user store: a user or an alias of the address
 *   any      every local part (the old behaviour; check-config warns)
 *
 * Lookups that need I/O run on the module's own worker threads, never
 * on an event loop; relay_quick() answers on the loop when no I/O is
 * needed (any, a cached verification).
 * It does not decide who may relay through submission (session-mail.c)
 * or route mail (deliver/nexthop.h).
 * Trust: addresses come from RCPT (parsed by smtp/addr); the next hop's
 * replies are hostile: they reach the client's reply and the log only as
 * capped printable ASCII.
 */
#ifndef TERN_SERVER_RELAY_H
#define TERN_SERVER_RELAY_H

#include <stdbool.h>

#include "server/loop.h"
#include "smtp/addr.h"

struct conf;
struct conf_relay_domain;

#define RELAY_TEXT_MAX 256     /* the reason kept with an answer */
#define RELAY_TEMP_TTL 60      /* seconds a "could not ask" is kept */
#define RELAY_CACHE_MAX 100000 /* verification answers kept */
#define RELAY_WORKERS 4        /* probes and lookups in parallel */

enum relay_verdict {
	RELAY_YES = 0, /* the recipient exists: 250 */
	RELAY_NO,      /* it does not: 550 5.1.1 */
	RELAY_TEMP,    /* we could not tell: 450 4.1.1 */
};

struct relay_answer {
	enum relay_verdict verdict;
	bool cached; /* from the cache, not asked now */
	/* Why, for the client's reply and the log: printable ASCII, "" for
	 * RELAY_YES ("host said: 550 5.1.1 ... (in reply to RCPT TO)"). */
	char text[RELAY_TEXT_MAX];
};

/*
 * One check: the caller fills conf, rd and addr, relay fills ans. conf
 * (with rd in it) must stay valid until the answer: a session's own.
 */
struct relay_query {
	const struct conf *conf;
	const struct conf_relay_domain *rd; /* borrowed from conf */
	char addr[SMTP_PATH_MAX + 1];       /* as the client gave it */
	struct relay_answer ans;
};

struct relay;

/*
 * The checks of [relay_domains], each by the configuration its query
 * names; dbpath is the user store (for `users`). Its threads start on
 * the first relay_submit(). Never NULL.
 */
struct relay *relay_new(const char *dbpath);
/* Finish queued checks, join the threads, free. NULL is fine. */
void relay_free(struct relay *);

/*
 * Answer q at once when no I/O is needed (`any`, a fresh cached
 * verification): true with q->ans; false: relay_submit() it. Any thread.
 */
bool relay_quick(struct relay *, struct relay_query *q);

/*
 * Run q's check on a relay worker, then done(loop, arg) on `loop` with
 * q->ans filled. q must stay valid until then.
 */
void relay_submit(struct relay *, struct relay_query *q, struct loop *loop,
    loop_fn *done, void *arg);

#endif
