/* SPDX-License-Identifier: ISC */
/*
 * client/proto.h - the SMTP and LMTP client protocol as a state machine:
 * replies in, commands out. No sockets, no clocks, no logging; the I/O
 * driver (client/client.h, blocking; an event-loop driver for the public
 * library can reuse this unchanged) moves the bytes and keeps the time.
 *
 * Covers EHLO with HELO fallback (LHLO for LMTP, RFC 2033), STARTTLS
 * (RFC 3207), AUTH PLAIN and LOGIN (RFC 4954), PIPELINING (RFC 2920),
 * SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), CHUNKING
 * (RFC 3030), DSN parameters (RFC 3461), one result per recipient, and
 * several transactions per session (RSET between them when needed).
 * Trust: replies are hostile and go through smtp/reply.h; texts copied
 * into results are truncated and may hold any byte except NUL, CR, LF.
 */
#ifndef TERN_CLIENT_PROTO_H
#define TERN_CLIENT_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp/reply.h"
#include "util/buf.h"
#include "util/why.h"

#define CLIENT_OUT_MAX (64u * 1024 * 1024) /* queued command bytes */
#define CLIENT_PEER_MAX 256                /* remote name kept for messages */
#define CLIENT_REPLY_TEXT_MAX 256          /* server text kept per reply */

/*
 * A server reply that decided something (RFC 5321 4.2.1, RFC 3463),
 * kept apart from the human-readable why text, so that nobody has to
 * parse that back. code 0: no reply decided it (a local limit, a timeout,
 * a lost connection: the why says).
 */
struct client_reply {
	unsigned code; /* 200..559 */
	char esc[16];  /* enhanced status "5.1.1", or "" when none was given */
	char text[CLIENT_REPLY_TEXT_MAX]; /* one line; lines joined by ' ' */
	const char *cmd; /* static: "RCPT TO", "MAIL FROM", "DATA", "BDAT",
	                    "end of data", "AUTH", "EHLO", ...; NULL if none */
};

enum client_tls_mode {
	CLIENT_TLS_MAY = 0, /* STARTTLS when offered, no verification */
	CLIENT_TLS_NONE,    /* never */
	CLIENT_TLS_REQUIRE, /* STARTTLS or fail; the driver verifies */
};

struct client_opts {
	const char *helo;  /* our name for EHLO */
	const char *peer;  /* the server's name, for result texts */
	bool lmtp;         /* LHLO, and one reply per recipient after DATA */
	bool tls_possible; /* the driver can do TLS */
	enum client_tls_mode tls;
	/*
	 * RFC 8689 4 (with tls CLIENT_TLS_REQUIRE): a server without
	 * STARTTLS or with a certificate that does not verify fails the
	 * session WHY_PERM, its text naming REQUIRETLS (a bounce, 5.7.30).
	 */
	bool requiretls;
	const char *auth_user; /* NULL: no AUTH */
	const char *auth_pass;
};

/* One recipient with its DSN parameters (RFC 3461 4.1, 4.2). */
struct client_rcpt {
	const char *addr;
	unsigned notify;   /* SMTP_NOTIFY_* bits, 0: none given */
	const char *orcpt; /* "rfc822;xtext" or NULL */
};

struct client_msg {
	const char *sender; /* "" for the null path */
	const struct client_rcpt *rcpts;
	size_t nrcpts;
	uint64_t size; /* bytes of the (unstuffed) message, prefix included */
	bool eightbit;
	bool smtputf8;     /* needs SMTPUTF8: fail if the server lacks it */
	int ret;           /* enum smtp_ret; 0: not given */
	const char *envid; /* xtext or NULL */
	/*
	 * Recipient verification: MAIL and RCPT only, then RSET, no body
	 * (Postfix's address probe). A recipient the server accepts is
	 * decided WHY_NONE with its RCPT reply; size is not sent.
	 */
	bool probe;
	/*
	 * Header fields sent before the bytes read from the file (the
	 * spool's prefix, spool.h): CRLF lines, or NULL.
	 */
	const char *prefix;
	size_t prefix_len;
	/*
	 * RFC 8689 4: send only over TLS the driver verified (opts tls
	 * CLIENT_TLS_REQUIRE) to a server offering REQUIRETLS, and pass the
	 * parameter on; else every recipient fails WHY_PERM, nothing sent.
	 */
	bool requiretls;
};

enum client_event {
	CLIENT_EV_NONE = 0, /* keep reading replies */
	CLIENT_EV_TLS,      /* STARTTLS accepted: handshake, then tls_done */
	CLIENT_EV_READY,    /* idle: start a message, or quit */
	CLIENT_EV_BODY,     /* DATA accepted: send the stuffed body + "." */
	CLIENT_EV_MSG_DONE, /* results are final; the session is idle */
	CLIENT_EV_FAIL,     /* session unusable: see client_proto.why */
};

enum client_phase {
	CP_GREETING = 0,
	CP_EHLO,
	CP_HELO,
	CP_STARTTLS,
	CP_AUTH,      /* AUTH PLAIN, or AUTH LOGIN's first reply */
	CP_AUTH_USER, /* AUTH LOGIN: user name sent */
	CP_AUTH_PASS, /* AUTH LOGIN: password sent */
	CP_READY,
	CP_MAIL,
	CP_RCPT,
	CP_DATA,
	CP_DOT,  /* after the body's final "." (LMTP: one per accepted) */
	CP_BDAT, /* BDAT n LAST */
	CP_RSET,
	CP_QUIT,
	CP_CLOSED,
};

/* What a client in `phase` waits for, for messages: "the greeting". */
const char *client_phase_awaits(enum client_phase);

struct client_proto {
	struct client_opts o;
	enum client_phase phase;
	struct smtp_ehlo ehlo;
	bool esmtp, tls_active, authed, tls_tried;
	/*
	 * The driver verified the server's certificate in the handshake
	 * (PKIX for the peer name, or a tls_check such as DANE); set before
	 * client_proto_tls_done(). RFC 8689: REQUIRETLS mail needs it, not
	 * merely TLS that was required (DANE without usable records is
	 * required and unauthenticated).
	 */
	bool tls_verified;
	struct buf out; /* bytes to send before reading on */
	/*
	 * out[secret_off..+secret_len) is a credential (base64 AUTH data):
	 * a trace shows "****" instead. The driver zeroes secret_len when
	 * it empties out.
	 */
	size_t secret_off, secret_len;
	/*
	 * BDAT: after sending `out`, send the raw body at once (RFC 3030
	 * lets BDAT be pipelined); the driver checks and clears this.
	 */
	bool body_after_out;
	/* The transaction in progress. */
	const struct client_msg *msg;
	struct why *results; /* msg->nrcpts; kind WHY_NONE = delivered */
	struct client_reply *replies; /* msg->nrcpts, or NULL */
	bool *accepted;               /* RCPT got 2xx */
	size_t rcpt_sent, rcpt_done, naccepted, dot_done;
	bool mail_ok, pipelined, chunking, rset_after;
	bool decided;   /* results are final (RSET may still be due) */
	struct why why; /* session failure */
	struct client_reply fail_reply; /* the reply behind it, if any */
};

/*
 * Start a session: the greeting is the first reply. `o` strings are
 * borrowed for the life of the session. Free with client_proto_free.
 */
void client_proto_init(struct client_proto *, const struct client_opts *o);
void client_proto_free(struct client_proto *);

/* One complete reply from the server. */
enum client_event client_proto_on_reply(struct client_proto *,
    const struct smtp_reply *);

/* The TLS handshake succeeded: EHLO again (RFC 3207 4.2). */
void client_proto_tls_done(struct client_proto *);

/*
 * Begin a transaction in state READY. `results` (msg->nrcpts entries)
 * receive each recipient's outcome: kind WHY_NONE when accepted, else
 * WHY_TEMP or WHY_PERM with "host said: 550 5.1.1 text" for a person.
 * `replies` (NULL, or msg->nrcpts entries) receive the reply that
 * decided each recipient: a refusal of MAIL or RCPT, or the final reply
 * to the data (DATA, BDAT, or LMTP's per-recipient one) for those
 * accepted at RCPT, 2xx included; code 0 when none did. All must stay
 * valid until MSG_DONE or FAIL. Returns NONE (commands are in out),
 * MSG_DONE (failed before sending anything: size, SMTPUTF8) or FAIL.
 */
enum client_event client_proto_start(struct client_proto *,
    const struct client_msg *msg, struct why *results,
    struct client_reply *replies);

/* After a body was sent in CLIENT_EV_BODY: wait for its reply. */
void client_proto_body_sent(struct client_proto *);

/*
 * Queue QUIT (state READY): 0, or -1 when it could not be queued (out of
 * memory): then no reply is to be waited for.
 */
int client_proto_quit(struct client_proto *);

/*
 * RFC 5321 4.5.3.2 timeout for the reply now awaited, in seconds:
 * greeting, MAIL, RCPT 5 min; DATA 2 min; the final "." 10 min.
 */
unsigned client_proto_timeout(const struct client_proto *);

/*
 * The session failed: fill every undecided recipient with `why` (its
 * reply, when there is one, is left as the failure's: fail_reply or
 * none).
 */
void client_proto_fail_rest(struct client_proto *, const struct why *why);

/* Keep reply r, sent in answer to cmd (static), in *out. */
void client_reply_keep(const struct smtp_reply *r, const char *cmd,
    struct client_reply *out);

#endif
