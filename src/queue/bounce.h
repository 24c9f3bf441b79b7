/* SPDX-License-Identifier: ISC */
/*
 * queue/bounce.h - delivery status notifications (RFC 3464): tell the
 * sender which recipients failed (or are delayed), why in plain words,
 * and hand back the original headers or message (RFC 3461 RET).
 *
 * A delivery report (NOTIFY=SUCCESS: final delivery here, or relayed to
 * a next hop that cannot report) has the same form with the original's
 * headers only.
 * A DSN is multipart/report; report-type=delivery-status (RFC 6522)
 * with a human-readable part, a message/delivery-status part and the
 * original as message/rfc822 (or text/rfc822-headers for RET=HDRS or a
 * large message). About a message that came with SMTPUTF8 it has the RFC
 * 6533 forms instead: message/global-delivery-status, the utf-8 address
 * type for a non-ASCII recipient, message/global or message/global-headers
 * (and it is sent with SMTPUTF8). It comes from MAILER-DAEMON with the
 * null sender, so
 * it is never bounced itself (RFC 5321 6.1, 4.5.5); when a message with
 * the null sender fails, the notice goes to the postmaster instead, and
 * a failed notice to the postmaster is dropped (logged).
 * bounce_build() is pure apart from reading the original from its file;
 * bounce_enqueue() writes the DSN into the spool and waits for its
 * commit, so the caller may mark the recipients failed afterwards.
 * The notification a person reads keeps to 78 characters a line (RFC
 * 5322 2.1.1); the delivery-status fields carry the exact values, folded
 * when long (RFC 5322 2.2.3).
 * Trust: recipients' reasons may quote a remote server: they are put on
 * single lines, control bytes removed, and length-capped, before they are
 * wrapped or folded.
 */
#ifndef TERN_QUEUE_BOUNCE_H
#define TERN_QUEUE_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "dir/dir.h"
#include "queue/spool.h"
#include "util/buf.h"
#include "util/why.h"

#define BOUNCE_FULL_MAX (1024u * 1024) /* larger originals: headers only */
#define BOUNCE_MAX (BOUNCE_FULL_MAX + 256u * 1024) /* whole DSN */

enum bounce_kind {
	BOUNCE_FAILED = 0, /* Action: failed */
	BOUNCE_DELAYED,    /* Action: delayed (a warning, RFC 3464 2.3.3) */
	BOUNCE_DELIVERED,  /* Action: delivered, asked with NOTIFY=SUCCESS */
	BOUNCE_RELAYED,    /* Action: relayed, to a next hop without DSN,
	                      asked with NOTIFY=SUCCESS (RFC 3461 5.2.2) */
};

struct bounce_rcpt {
	size_t idx;         /* into env->rcpts */
	const char *reason; /* why text for a person: "mx said: 550 ..." */
	/* The server reply that decided it, if one did (code 0: none). */
	unsigned code;    /* 3-digit reply code */
	const char *esc;  /* its enhanced status "5.1.1"; NULL or "": none */
	const char *text; /* its text, or NULL */
	const char *mta;  /* the server's host name; NULL or "": unknown */
};

struct bounce_info {
	const char *hostname; /* our name: Reporting-MTA, From: */
	const char *to;       /* the DSN's recipient (sender or postmaster) */
	const char *boundary; /* MIME boundary, unique per DSN */
	time_t now;
	enum bounce_kind kind;
	const struct spool_env *env; /* the original message */
	int fd;                      /* its body at env->body_offset */
	const struct bounce_rcpt *rcpts;
	size_t nrcpts;
};

/*
 * The DSN as CRLF message text into out (cap BOUNCE_MAX). -1 with why
 * (WHY_TEMP: reading the original failed).
 */
int bounce_build(const struct bounce_info *, struct buf *out, struct why *);

/*
 * "X.Y.Z" status for a recipient: the server's enhanced code (its class
 * made 5 for a failure), else one that fits our own reason (expiry
 * 5.4.7/4.4.7, null MX 5.1.10, no such domain 5.1.2), else the kind's
 * (5.0.0, 4.0.0; 2.0.0 for a delivery or a relay). Into buf (>= 16);
 * returns buf.
 */
const char *bounce_status(const struct bounce_rcpt *, enum bounce_kind,
    char *buf, size_t bufsz);

/*
 * Should the sender hear about recipient idx about this kind of event (RFC
 * 3461 4.1)? NOTIFY=NEVER: no; NOTIFY given without the kind's keyword
 * (FAILURE, DELAY, SUCCESS for a delivery or a relay): no; not given:
 * failures and delays yes, deliveries and relays no (5.2.2).
 */
bool bounce_wanted(const struct spool_env *, size_t idx, enum bounce_kind);

/*
 * Where a notice to `to` goes, as dir_resolve() answers it with the
 * configuration's policy (queue/sched.c and pickup.c use their user
 * store): *out filled on DIR_RESOLVED.
 */
typedef enum dir_resolve_status bounce_resolve_fn(void *arg, const char *to,
    struct dir_targets *out, struct why *why);

/*
 * Build a DSN about rcpts of env and commit it to the spool (waiting for
 * the commit). The DSN goes to the original sender, or to `postmaster`
 * when the sender is null; none is made when the sender is null and the
 * failed recipients are the postmaster (a double bounce): returns 0 with
 * *id_out = "". When `resolve` is given and the recipient is in a local
 * domain, its answer decides the mailboxes (an alias of the postmaster,
 * the admin address, ...) while the DSN's To: stays `to`; an address it
 * says does not exist (or loops) gets no DSN: 0 with *id_out = "" and why
 * (WHY_PERM) saying so; its DIR_TEMPFAIL is -1 (WHY_TEMP). resolve NULL:
 * the DSN goes to the address as it is. Else 0 with the new queue id in
 * id_out (SPOOL_ID_MAX), or -1 with why.
 */
int bounce_enqueue(struct spool *, const char *hostname, const char *postmaster,
    const struct spool_env *env, int fd, enum bounce_kind,
    const struct bounce_rcpt *rcpts, size_t n, bounce_resolve_fn *resolve,
    void *resolve_arg, char *id_out, struct why *);

#endif
