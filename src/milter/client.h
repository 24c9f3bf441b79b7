/* SPDX-License-Identifier: ISC */
/*
 * milter/client.h - one SMTP session's content filters (issue 18): a
 * connection to each, on the session's event loop, asked at every stage
 * in the configured order, as Postfix's smtpd_milters.
 *
 * Each stage call sends the stage to the filters one after the other and
 * calls done(arg, result) once, always later from the event loop (never
 * from within the call): the first filter that rejects, tempfails or
 * discards decides; a filter that accepts is not asked again for this
 * message (at connect and HELO: for this session). Nothing blocks: the
 * sockets are non-blocking, every wait has its filter's timeout
 * (connect_timeout for connecting and negotiating, command_timeout for a
 * command's reply, content_timeout for the message's), and a filter
 * that is down, slow, or breaks the protocol is closed and gets its
 * default_action: accept (skipped for the rest of the session) or
 * tempfail (this stage and every later MAIL, RCPT, DATA and message get
 * 451 4.7.1; HELO is not refused for it, so a client can still QUIT).
 * Macros (j, {client_addr}, {auth_authen}, i ...) are set by the caller
 * as it learns them and sent at the stages that carry them, as Postfix
 * does, or as the filter's SETSYMLIST asked.
 * Trust: every byte from a filter is hostile (proto.h decodes it with
 * caps); its replies reach the client only as checked SMTP replies, and
 * its name and errors reach the log through LOG_ESC.
 */
#ifndef TERN_MILTER_CLIENT_H
#define TERN_MILTER_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "milter/edit.h"

struct conf;
struct event_base;
struct milter_client;

#define MILTER_REPLY_TEXT_MAX 2048 /* an SMTP reply a filter chose */

enum milter_verdict {
	MILTER_V_CONTINUE = 0, /* go on (at end of message: accept) */
	MILTER_V_REJECT,       /* refuse with reply (5xx) */
	MILTER_V_TEMPFAIL,     /* refuse with reply (4xx) */
	MILTER_V_DISCARD,      /* say 250, deliver nothing */
	/*
	 * End of message only: the filter named in `milter` accepted with
	 * changes (edits); apply them, then call milter_client_eom() again
	 * with the changed message for the filters after it.
	 */
	MILTER_V_EDITED,
};

struct milter_result {
	enum milter_verdict verdict;
	/*
	 * REJECT, TEMPFAIL: the SMTP reply, one or more lines joined by
	 * CRLF without a final one ("550 5.7.1 Command rejected", or the
	 * filter's own SMFIR_REPLYCODE).
	 */
	char reply[MILTER_REPLY_TEXT_MAX];
	const char *milter; /* the filter that decided, or NULL */
	/* A failed filter's default action decided (for the log). */
	bool failed;
	/* EDITED: the changes (owned by the client, valid until the next
	 * call); quarantine reasons are edits too. */
	const struct milter_edits *edits;
};

typedef void milter_done_fn(void *arg, const struct milter_result *);

/*
 * The filters idx[0..n) of conf->milters (a listener's milters, or
 * non_smtpd_milters), on base; sid names the session in log lines;
 * body_max caps a replacement body (max_message_size). Keeps a
 * reference to conf. Connects at milter_client_connect().
 */
struct milter_client *milter_client_new(struct event_base *base,
    const struct conf *conf, const size_t *idx, size_t n, uint64_t sid,
    uint64_t body_max);
/* Say QUIT to each filter and close; a stage in flight is dropped
 * without its done. NULL is fine. */
void milter_client_free(struct milter_client *);

/* A macro for the stages that carry it: value NULL unsets it. */
void milter_client_macro(struct milter_client *, const char *name,
    const char *value);

/*
 * The stages. connect: connect to the filters, negotiate, and send the
 * client's host name and address (sa: AF_INET, AF_INET6, or AF_UNIX /
 * NULL for a local submission). mail, rcpt: the address without angle
 * brackets ("" for <>), and its ESMTP parameters as given.
 */
void milter_client_connect(struct milter_client *, const char *host,
    const struct sockaddr *sa, milter_done_fn *done, void *arg);
void milter_client_helo(struct milter_client *, const char *helo,
    milter_done_fn *done, void *arg);
void milter_client_mail(struct milter_client *, const char *addr,
    const char *const *params, size_t nparams, milter_done_fn *done,
    void *arg);
void milter_client_rcpt(struct milter_client *, const char *addr,
    const char *const *params, size_t nparams, milter_done_fn *done,
    void *arg);
void milter_client_data(struct milter_client *, milter_done_fn *done,
    void *arg);
/* A command the server does not know, as the client sent it. */
void milter_client_unknown(struct milter_client *, const char *line,
    milter_done_fn *done, void *arg);
/*
 * The message: header fields, end of header, body, end of message, to
 * each filter not yet asked for this message. src stays valid (and its
 * fd open) until done.
 */
void milter_client_eom(struct milter_client *, const struct milter_src *src,
    milter_done_fn *done, void *arg);
/* The transaction is over (RSET, refused, committed): ABORT to the
 * filters that saw part of it; the next MAIL starts afresh. */
void milter_client_abort(struct milter_client *);

/*
 * The envelope side of a filter's changes, for the caller that owns the
 * envelope. An address as a filter wrote it ("<a@b>" or "a@b"; "<>"
 * too when null_ok) checked as a mailbox (RFC 5321, UTF-8 allowed) and
 * written canonical into dst ("" for the null address): false when it
 * is not one or does not fit, and the change is then ignored.
 */
bool milter_addr_parse(const char *a, bool null_ok, char *dst, size_t dstsz);
/* Do the edits delete recipient `addr` (any case)? */
bool milter_edits_deletes(const struct milter_edits *, const char *addr);
/*
 * The same question for many recipients: the DELRCPT addresses parsed
 * once and sorted, so that a filter's 10000 deletions against 10000
 * recipients cost a lookup each, not 10^8 parses on the event loop.
 * milter_dels_free() releases what milter_dels_init() made.
 */
struct milter_dels {
	char **a; /* canonical, lower-cased, sorted */
	size_t n;
};
void milter_dels_init(struct milter_dels *, const struct milter_edits *);
bool milter_dels_has(const struct milter_dels *, const char *addr);
void milter_dels_free(struct milter_dels *);

#endif
