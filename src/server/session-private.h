/* SPDX-License-Identifier: ISC */
/*
 * server/session-private.h - what the files of an inbound SMTP session
 * share: struct session, and the functions one of them calls in another.
 *
 * One file per concern (STYLE 2.1; Dovecot splits lib-smtp's server the
 * same way, one file per command):
 *   session.c       the connection: accept, shutdown, lifetime, replies,
 *                   the deadline, input into the parser of the phase
 *   session-cmd.c   the dispatch table; HELO/EHLO, RSET, NOOP, QUIT,
 *                   VRFY, EXPN, HELP
 *   session-mail.c  the envelope: MAIL, RCPT, per-message rate limits,
 *                   the transaction's reset
 *   session-data.c  the message: DATA, BDAT, the spool, the commit
 *   session-tls.c   STARTTLS (RFC 3207)
 *   session-auth.c  AUTH (RFC 4954)
 *   session-milter.c content filters (issue 18): each stage's gate
 * The rest of server/ sees only session_accept(), session_shutdown_all()
 * and session_free_all() (server-private.h); nothing here is for it.
 * Everything runs on the session's loop thread, worker results included
 * (they are posted back to it).
 * Trust: as session.c; a function that may free the session says so.
 */
#ifndef TERN_SERVER_SESSION_PRIVATE_H
#define TERN_SERVER_SESSION_PRIVATE_H

#include "server/server-private.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/ssl.h>

#include "dir/dir.h"
#include "msg/hdr.h"
#include "obs/obs.h"
#include "server/limits.h"
#include "server/tls.h"
#include "smtp/addr.h"
#include "smtp/auth.h"
#include "smtp/cmd.h"
#include "smtp/params.h"
#include "util/buf.h"
#include "util/cidr.h"
#include "util/why.h"

struct bufferevent;
struct event;
struct evbuffer;
struct smtp_command;
struct smtp_data;
struct spool_rcpt;
struct spool_dsn;
struct spool_msg;
struct spool_env;
struct milter_client;
struct milter_src;

enum phase {
	PH_CMD = 0, /* reading command lines */
	PH_DATA,    /* reading a DATA body up to CRLF.CRLF */
	PH_BDAT,    /* reading the octets of one BDAT chunk */
};

enum session_ret {
	SESSION_OK = 0,
	SESSION_GONE, /* the session was freed: touch nothing */
};

struct session {
	struct session *next, *prev; /* loop_state list */
	uint64_t id;
	struct server *srv;
	struct loop_state *ls;
	const struct conf *conf;
	const struct conf_listener *cl;
	struct bufferevent *bev;
	struct event *timer;
	struct sockaddr_storage sa;
	char addr[INET6_ADDRSTRLEN];
	char ip_key[CIDR_STR_MAX];   /* rate-limit key: addr, or /64 */
	char auth_key[CIDR_STR_MAX]; /* AUTH failures: addr, or prefix */
	time_t started;

	/* Lifetime: references held by pending steps (workers, commit). */
	unsigned refs;
	bool dead;         /* connection gone; free when refs drops to 0 */
	bool waiting;      /* a step owns the next move; input waits */
	bool closing;      /* close once the output has drained */
	bool in_process;   /* process_input() is on the stack */
	bool greeted;      /* the 220 has been sent */

	struct smtp_cmd *cmd;
	struct smtp_cmd *auth_cmd; /* AUTH lines; made at the first one */
	struct smtp_cmd *cur;      /* parser of the line in progress, or NULL */
	struct smtp_data *data;
	enum phase phase;
	bool esmtp;
	char helo[SESSION_HELO_MAX + 1];
	size_t nerrors;
	size_t ncmds;
	/* Issue 17: the command being answered, for the journal: its
	 * stage ("mail", "rcpt", ...) and the path in its <...>, if any. */
	const char *stage;
	char cmd_path[SMTP_PATH_MAX + 1];
	size_t nmsgs;

	/* The transaction (MAIL .. end of data). */
	bool has_mail;
	struct smtp_mail mail;
	char sender[SMTP_PATH_MAX + 1];
	struct spool_rcpt *rcpts;
	struct spool_dsn *dsn; /* parallel to rcpts: NOTIFY, ORCPT */
	size_t nrcpts, rcpts_cap;
	size_t nrcpt_cmds; /* accepted RCPT commands, for max_recipients */
	struct spool_msg *msg;
	struct buf dbuf;
	struct msg_hdr_scan hdr;
	uint64_t msg_size;
	bool too_big;
	bool write_failed;
	struct why write_why;
	bool bdat_used;    /* BDAT started; DATA now out of sequence */
	bool bdat_last;
	bool bdat_discard; /* chunk read only to stay in sync */
	uint64_t bdat_left;
	struct timespec data_end; /* for the commit latency log */

	/* TLS (RFC 3207, RFC 8314). */
	bool tls;          /* encrypted from here on */
	SSL *tls_next;     /* STARTTLS answered: switch once 220 is out */
	char tls_desc[TLS_DESC_MAX]; /* "" until the handshake is done */
	/* AUTH (RFC 4954) and relaying. */
	bool relay_ok;     /* client in relay_networks */
	bool own_client;   /* relay_networks or own_networks: own_ limits */
	bool in_auth;      /* lines are AUTH responses, not commands */
	bool authed;
	char auth_user[DIR_ADDR_MAX]; /* normalized, when authed */
	struct smtp_auth auth;
	struct event *delay; /* a failed AUTH's reply, or a held AUTH */
	bool auth_held;      /* credentials in auth wait for a turn */
	uint64_t auth_held_ms; /* since when (session_now_ms()) */
	/* Submission: hold the header to add Date/Message-ID (RFC 6409 8). */
	bool hold_hdr;
	struct buf hbuf;
	/* The user crossed this hourly limit: queue the message held. */
	const char *hold_limit;
	/* Mail authentication of this transaction (issue 16), or NULL. */
	struct msgauth *ma;
	unsigned body_sep; /* bytes of the header's ending CRLF passed */
	/* Content filters (issue 18): the listener's milters, or NULL. */
	struct milter_client *mc;
	void (*milter_ok)(struct session *); /* a gate's two ways on */
	void (*milter_no)(struct session *);
	size_t milter_rcpt_from; /* rcpts added by the RCPT being asked */
	bool milter_discard;     /* a filter said: deliver nothing */
	bool milter_data_sent;   /* DATA went to the filters (not BDAT) */
	bool sign_after_filters; /* DKIM-sign once the filters are done */
	const char *hold_reason; /* quarantined: held, with this reason */
	char hold_buf[600];      /* hold_reason's text */
	const struct buf *milter_pre; /* header fields on top, or NULL */
	bool milter_junk;
	struct milter_src *msrc; /* the message the filters read */
	/* MAIL/RCPT's ESMTP parameters, or an unknown command's line. */
	char cmd_params[SMTP_LINE_MAX + 1];
};

/* session.c: replies, deadline, lifetime, bufferevents */

/* Queue one reply line; CRLF is added, and a longer line cut at 1 KiB. */
void session_reply(struct session *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * Reply with a 4xx/5xx the client caused, log it, and count it towards
 * max_errors: at the limit, a 421 follows and the session is closing.
 * Returns SESSION_OK.
 */
enum session_ret session_reply_error(struct session *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The 220, after greet_delay if one is set (or the filters' verdict). */
void session_greet(struct session *);
/* One more error from the client: at max_errors, 421 and closing. */
void session_count_error(struct session *);
/* A refusal `reply` told to the journal and the metrics (obs.h). */
void session_obs_refusal(const struct session *, const char *reply,
    enum obs_reason);
/* (Re)start the session's one deadline, `seconds` from now. */
void session_arm_timer(struct session *, unsigned seconds);
/*
 * A step that held a reference (worker, commit, AUTH delay) has come
 * back, its `waiting` cleared: read the input that waited for it, then
 * drop the reference. May free the session: touch nothing after it.
 */
void session_step_done(struct session *);
/* Callbacks, input cap and events of a new (plain or TLS) bufferevent. */
void session_setup_bev(struct session *);
/* The rate limiters' clock: monotonic milliseconds. */
uint64_t session_now_ms(void);

/* session-cmd.c: dispatch */

/*
 * Command handlers (the session_cmd_* below and session-cmd.c's own)
 * take one parsed command line, and reply or start a step that replies
 * later. None frees the session: they return SESSION_OK, and set
 * `closing` to have the input loop close it once the output has left.
 */

/*
 * One line from the command parser, or its error (st): run it, or
 * reply 500. long_line: the line was read with the AUTH limit
 * (SESSION_AUTH_LINE_MAX) instead of SMTP_LINE_MAX.
 */
enum session_ret session_on_line(struct session *, enum smtp_cmd_status st,
    const char *line, size_t len, bool long_line);

/* session-mail.c: the envelope */

/*
 * End the transaction: abort an unfinished spool message, free the
 * recipients, forget MAIL. HELO, TLS and AUTH state stay.
 */
void session_tx_reset(struct session *);
enum session_ret session_cmd_mail(struct session *,
    const struct smtp_command *);
enum session_ret session_cmd_rcpt(struct session *,
    const struct smtp_command *);
/* Add a recipient (once); r: its DSN parameters, or NULL for none. */
void session_rcpt_add(struct session *, const char *addr, const char *orcpt,
    const struct smtp_rcpt *r);
/* Drop recipient i, keeping the others' order. */
void session_rcpt_remove(struct session *, size_t i);

/* session-data.c: the message */

enum session_ret session_cmd_data(struct session *,
    const struct smtp_command *);
enum session_ret session_cmd_bdat(struct session *,
    const struct smtp_command *);
/* Feed a DATA body from `in`; true when the final dot was seen. */
bool session_feed_data(struct session *, struct evbuffer *in);
/* Feed the octets of a BDAT chunk from `in`; true when all are in. */
bool session_feed_bdat(struct session *, struct evbuffer *in);
/* The message is complete: refuse it or commit it; the reply follows. */
enum session_ret session_msg_end(struct session *);
/* All octets of one BDAT chunk are in: reply, or end the message. */
enum session_ret session_bdat_chunk_end(struct session *);

/*
 * The message is accepted by the checks: put `pre` (header fields on
 * top, or NULL) and the junk flag on it and commit it; the 250 follows.
 */
void session_msg_commit(struct session *, const struct buf *pre, bool junk);
/*
 * The envelope of the transaction as it stands (sender, recipients,
 * DSN, hold), for spool_msg_new(); strings point into the session.
 */
void session_env_fill(struct session *, struct spool_env *env);

/* session-milter.c: content filters (issue 18) */

/* Open the listener's filters and ask them about the client; then the
 * greeting (or their refusal). */
void session_milter_connect(struct session *);
/*
 * Gates: ask the filters about the command being answered. On continue
 * (or with no filters) ok(s) runs and replies; on a refusal the
 * filter's reply goes out after no(s) (may be NULL) undid the command.
 * The session waits meanwhile.
 */
void session_milter_helo(struct session *, void (*ok)(struct session *));
void session_milter_mail(struct session *, void (*ok)(struct session *));
/* addr: as the client gave it; rcpts from s->milter_rcpt_from on are
 * this command's, dropped if refused. */
void session_milter_rcpt(struct session *, const char *addr,
    void (*ok)(struct session *));
void session_milter_data(struct session *, void (*ok)(struct session *),
    void (*no)(struct session *));
/* A command we do not know (its line in s->cmd_params). */
void session_milter_unknown(struct session *, void (*ok)(struct session *));
/*
 * The message is complete and passed the built-in checks: the filters
 * see it (with pre on top), their changes are applied, then it is
 * committed (session_msg_commit) or refused.
 */
void session_milter_eom(struct session *, const struct buf *pre, bool junk);
/* The transaction is over (tx_reset): the filters forget it. */
void session_milter_abort(struct session *);
/* QUIT to the filters: the session ends. */
void session_milter_free(struct session *);

/* session-tls.c: STARTTLS */

enum session_ret session_cmd_starttls(struct session *,
    const struct smtp_command *);
/* The 220 to STARTTLS has left: go on over TLS (s->tls_next). */
void session_start_tls(struct session *);

/* session-auth.c: AUTH */

/* Is AUTH offered here? Submission listeners, after TLS (RFC 8314). */
bool session_may_auth(const struct session *);
enum session_ret session_cmd_auth(struct session *,
    const struct smtp_command *);
/* A line during the AUTH exchange (s->in_auth): a response. */
enum session_ret session_auth_line(struct session *, const char *line,
    size_t len);

#endif
