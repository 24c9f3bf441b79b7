/* SPDX-License-Identifier: ISC */
/*
 * obs/obs.h - what happened to mail, told once (issue 17).
 *
 * The server calls obs_emit() at each step of a message's life: the
 * 250 that accepted it, a refused command, each recipient's delivery,
 * deferral or bounce, a hold. Each event
 *   - counts in the metrics (obs/metrics.h),
 *   - becomes one JSON line of the journal, <data_dir>/journal, which
 *     `tern explain` reads (rotated at [observability]
 *     journal_max_size into journal.1: at most twice that on disk),
 *   - and goes to each sink (obs_add_sink(): the event socket and the
 *     webhook, obs/events.h), in the journal's order.
 *
 * A journal line (docs/observability.md has the schema):
 *   {"seq":42,"time":"2026-12-04T18:00:00.123Z","event":"delivered",
 *    "id":"...","to":"bob@example.org","route":"local",
 *    "relay":"maildir:mail/example.org/bob","delay":0.012,"attempt":1}
 * seq grows by one per event and goes on across restarts (read back
 * from the journal's last line), so a consumer can tell a repeat. Fields
 * that do not apply are left out. Strings go through json_str()
 * (util/json.h), the one escaping function for JSON.
 *
 * The journal is for people and tools, not for durability: it is
 * written (not synced) before the sinks hear of the event; a crash may
 * lose its last lines, never a message.
 * Thread-safe: any thread may emit; one lock orders seq, the journal
 * and the sinks. Emitting with no obs_open() (tests, tools) only counts.
 */
#ifndef TERN_OBS_OBS_H
#define TERN_OBS_OBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/why.h"

struct conf;

enum obs_kind {
	OBS_ACCEPTED = 0, /* 250 to the end of a message, or a pickup */
	OBS_REJECTED,     /* a command or a connection refused */
	OBS_DELIVERED,    /* one recipient delivered */
	OBS_DEFERRED,     /* one recipient failed for now: retried */
	OBS_BOUNCED,      /* one recipient failed for good */
	OBS_HELD,         /* held: by the operator, a limit or a filter */
	OBS_RELEASED,     /* `tern queue release` */
	OBS_DELETED,      /* `tern queue delete` */
	OBS_REMOVED,      /* no recipient left: the message left the queue */
	OBS_KIND_COUNT,
};

/* Why a command was refused: the label of the rejections metric. */
enum obs_reason {
	OBS_R_OTHER = 0,
	OBS_R_RELAY,        /* relay access denied */
	OBS_R_UNKNOWN_USER, /* no such recipient */
	OBS_R_SENDER,       /* sender refused: not owned, bad syntax */
	OBS_R_RATE_LIMIT,   /* rate, connection and user limits */
	OBS_R_POLICY,       /* SPF, DMARC, access rules */
	OBS_R_SIZE,         /* message too big */
	OBS_R_TLS_REQUIRED, /* STARTTLS or encryption required */
	OBS_R_AUTH,         /* authentication required or failed */
	OBS_R_PROTOCOL,     /* bad sequence, syntax, bare LF, line length */
	OBS_R_LOOP,         /* mail loop */
	OBS_R_COUNT,
};

/* Where a recipient went: the route label of the delivery metrics. */
enum obs_route {
	OBS_ROUTE_NONE = 0, /* nothing was tried (expired, held) */
	OBS_ROUTE_LOCAL,    /* a Maildir here */
	OBS_ROUTE_LMTP,
	OBS_ROUTE_SMTP,
	OBS_ROUTE_COUNT,
};

/*
 * One event. Strings are raw (from the peer, DNS, the spool): obs
 * escapes them. NULL (or 0) leaves a field out. Valid during the call.
 */
struct obs_event {
	enum obs_kind kind;
	const char *id;   /* queue id; NULL for a refusal before one */
	const char *from; /* envelope sender, "" the null sender */
	const char *to;   /* the recipient (not ACCEPTED) */
	const char *const *rcpts; /* ACCEPTED: every recipient */
	size_t nrcpts;
	/* The session: ACCEPTED and REJECTED. */
	const char *client;   /* IP address; NULL for a pickup */
	const char *helo;
	/* [listener NAME], "pickup" (tern sendmail), or "bounce" (a DSN
	 * of ours: not counted as accepted; text names its message). */
	const char *listener;
	const char *user;     /* AUTH user */
	const char *tls;      /* "TLSv1.3 TLS_AES_256_GCM_SHA384", or NULL */
	/* ACCEPTED: the checks' results, "spf=pass dkim=pass dmarc=pass",
	 * and what they did ("junk", "held"), or NULL: none ran. */
	const char *checks;
	uint64_t size; /* ACCEPTED: bytes */
	/* REJECTED: "connect", "helo", "auth", "mail", "rcpt", "data". */
	const char *stage;
	enum obs_reason reason; /* REJECTED */
	/* REJECTED: our reply. DELIVERED, DEFERRED, BOUNCED: the remote
	 * server's reply that decided it ("250 2.0.0 Ok"), if any. */
	const char *reply;
	/* DELIVERED, DEFERRED, BOUNCED: sched_reply.relay,
	 * "maildir:mail/DOMAIN/USER", "smtp:HOST[IP]:PORT", "lmtp:...". */
	const char *relay;
	enum obs_route route;
	/* DEFERRED, BOUNCED: why; HELD: the reason it is held. */
	const char *text;
	const char *dsn_id;   /* BOUNCED: the bounce message's queue id */
	double delay;         /* seconds since arrival (delivery events) */
	unsigned attempt;     /* delivery events: 1 for the first */
	int64_t next_attempt; /* DEFERRED: unix seconds of the next try */
};

/*
 * Start the journal (when [observability] journal = on) under
 * c->data_dir, continuing its seq, and name the metrics' listeners.
 * Call once, before any thread emits. -1 with why: the journal cannot
 * be opened (the server refuses to start: docs say how to turn it off).
 */
int obs_open(const struct conf *c, struct why *);
/* Stop: close the journal, forget the sinks. */
void obs_close(void);

/* Count ev, journal it, tell the sinks. Any thread; never blocks long. */
void obs_emit(const struct obs_event *ev);

/*
 * A consumer of every event in order: line[0..len) is its journal line
 * (JSON, no LF), seq its number. Called under the obs lock: copy what
 * you need and return; never block or emit from here.
 */
typedef void obs_sink_fn(void *arg, uint64_t seq, const char *line,
    size_t len, const struct obs_event *ev);
void obs_add_sink(obs_sink_fn *fn, void *arg);
void obs_remove_sink(obs_sink_fn *fn, void *arg);

/* The last seq emitted (or read back from the journal), 0 when none. */
uint64_t obs_last_seq(void);

/* The word of each enum, as in the journal and the metrics' labels. */
const char *obs_kind_name(enum obs_kind);
const char *obs_reason_name(enum obs_reason);
const char *obs_route_name(enum obs_route);
/* A person's words for a reason: "recipient unknown", ... */
const char *obs_reason_words(enum obs_reason);

/*
 * The reason of a refusal from our reply and the stage it answered
 * ("rcpt", ...): by its enhanced status code (RFC 3463), 5.7.1 at RCPT
 * being a relay refusal and at MAIL a sender refusal.
 */
enum obs_reason obs_reason_of(const char *reply, const char *stage);

/* The route of a relay= value ("maildir:...", "smtp:..."). */
enum obs_route obs_route_of(const char *relay);

/* The journal's file names under data_dir. */
#define OBS_JOURNAL_NAME "journal"
#define OBS_JOURNAL_OLD_NAME "journal.1"

#endif
