/* SPDX-License-Identifier: ISC */
/*
 * client/client.h - a blocking SMTP/LMTP client session over one socket:
 * connect, greeting, EHLO, STARTTLS, AUTH, then any number of messages,
 * then QUIT. The protocol is client/proto.h; this file only moves bytes,
 * keeps deadlines and does TLS (OpenSSL).
 *
 * Every wait has a deadline (RFC 5321 4.5.3.2, capped by
 * client_conn_opts.timeout_cap), so a server that accepts and then stalls
 * costs one delivery thread for a bounded time and nothing more.
 * Runs on a delivery thread; a session belongs to one thread at a time.
 * Trust: the peer is hostile: replies go through smtp/reply.h with its
 * limits, reads are bounded, and certificates are verified only when the
 * route says tls = require (opportunistic TLS cannot be verified: RFC
 * 7435), then against the peer's name or, for an IP literal, its
 * address; never without one.
 */
#ifndef TERN_CLIENT_CLIENT_H
#define TERN_CLIENT_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "client/proto.h"
#include "util/why.h"

/* Which way a traced line went. */
enum client_trace_dir {
	CLIENT_TRACE_SENT = 0, /* a command line (or a body summary) */
	CLIENT_TRACE_RECEIVED, /* one line of a server reply */
};

/*
 * Called with each command line sent and each reply line read, without
 * its CRLF (line[len] is NUL; a reply line is raw peer bytes, capped at
 * SMTP_REPLY_LINE_MAX, and may hold any byte but NUL: escape before
 * printing). Credentials never reach it: the base64 of AUTH PLAIN's
 * initial response and each AUTH LOGIN continuation line read "****".
 * The message body is not traced, only "<message body: N octets>".
 */
typedef void client_trace_fn(void *arg, enum client_trace_dir, const char *line,
    size_t len);

/* A TLS authentication that is not PKIX (client_conn_opts.tls_check). */
struct client_tls_check {
	/* On the session's SSL before the handshake: 0, or -1 with why. */
	int (*setup)(void *arg, SSL *ssl, struct why *why);
	/*
	 * After the handshake: is the peer authenticated? what gets how
	 * (shown by client_tls_auth()) or why not (the failure's text).
	 */
	bool (*verify)(void *arg, SSL *ssl, char *what, size_t what_size);
	void *arg;
};

struct client_conn_opts {
	struct client_opts proto; /* helo, peer name, lmtp, tls, auth */
	client_trace_fn *trace;   /* NULL: no trace */
	void *trace_arg;
	unsigned connect_timeout; /* seconds; 0: 30 */
	unsigned timeout_cap;     /* seconds; 0: the RFC 5321 values */
	SSL_CTX *ssl_ctx;         /* NULL: no STARTTLS */
	/*
	 * RFC 8314 3.3: TLS from the first byte (port 465), before the
	 * greeting; needs ssl_ctx, and verifies as for CLIENT_TLS_REQUIRE.
	 */
	bool implicit_tls;
	/*
	 * Authentication other than PKIX (issue 19: DANE, RFC 7672 3),
	 * or NULL. With it, proto.tls must be CLIENT_TLS_REQUIRE; the CA
	 * store and names are not checked, tls_check is: no match means
	 * QUIT over the encrypted session and failure before any MAIL.
	 * Must outlive client_open() only.
	 */
	const struct client_tls_check *tls_check;
	/*
	 * With CLIENT_TLS_REQUIRE: encrypt, verify nothing (a TLSA RRset
	 * with no usable record, RFC 7672 2.2: TLS is still mandatory).
	 */
	bool tls_unauthenticated;
	/*
	 * With CLIENT_TLS_MAY and a verifying ssl_ctx (issue 19, MTA-STS
	 * testing mode, RFC 8461 5): check the certificate as PKIX would
	 * for proto.peer, but never fail the session for it; the outcome is
	 * client_tls_pkix_result().
	 */
	bool pkix_report;
};

struct client_conn;

/*
 * Is s an IP address literal, IPv4 dotted quad or IPv6 without brackets,
 * as inet_pton(3) reads it? Pure. Such a peer is verified against the
 * certificate's IP subjectAltNames and gets no SNI (RFC 6066 3).
 */
bool client_is_ip_literal(const char *s);

/*
 * Make vp (of an SSL or an SSL_CTX) require a certificate for `peer`:
 * an IP literal must be among its IP subjectAltNames (RFC 5280
 * 4.2.1.6), a name must match its DNS names (RFC 6125). 0, or -1 when
 * OpenSSL refuses the value.
 */
int client_tls_expect_peer(X509_VERIFY_PARAM *vp, const char *peer);

/*
 * What a person reads when the certificate of `peer` failed
 * verification with X509 error `err` (X509_V_ERR_*): "PEER: TLS
 * certificate verification failed: REASON", where a name or address
 * mismatch says what the certificate lacks. Pure (OpenSSL's static
 * error strings); dst always NUL-terminated.
 */
void client_verify_reason(long err, const char *peer, char *dst, size_t dstsz);

/*
 * Is OpenSSL's packed error code e an allocation failure: any library's
 * ERR_R_MALLOC_FAILURE, or a system error ENOMEM? Pure.
 */
bool client_tls_err_is_nomem(unsigned long e);

/*
 * Empty this thread's OpenSSL error queue: the text of its oldest error
 * into dst (dstsz bytes, always NUL-terminated; "" when the queue was
 * empty), and true when any error on it was an allocation failure
 * (client_tls_err_is_nomem), so that out of memory inside OpenSSL is
 * reported as such (why.sys_errno ENOMEM), not as a TLS failure.
 */
bool client_tls_drain_errors(char *dst, size_t dstsz);

/*
 * An SSL_CTX for outbound sessions: TLS 1.2 or later; with `verify`,
 * the peer's chain is checked against the system's CA store (plus
 * `ca_file` when not NULL). NULL with why (sys_errno ENOMEM when
 * OpenSSL ran out of memory).
 */
SSL_CTX *client_tls_ctx_new(bool verify, const char *ca_file, struct why *);

/*
 * Connect to sa (AF_INET, AF_INET6 or AF_UNIX for LMTP) and run the
 * session up to the point where a message can be sent. NULL with why
 * (always WHY_TEMP except for a permanent setup error) and, when
 * reply_out is not NULL, the server reply that ended the session there
 * (cmd "AUTH" for a refused login; code 0 when no reply did). opts'
 * strings must outlive the session, except proto.peer, which is copied.
 */
struct client_conn *client_open(const struct client_conn_opts *,
    const struct sockaddr *sa, socklen_t salen, struct client_reply *reply_out,
    struct why *);

/*
 * Send one message whose bytes are size bytes of fd from offset off
 * (unstuffed CRLF text, as the spool keeps it). results[i] gets the
 * outcome of msg->rcpts[i] (kind WHY_NONE: accepted) and, when replies
 * is not NULL, replies[i] the server reply that decided it (see
 * client_proto_start()). 0 when the session can carry another message;
 * -1 when it is dead (why says how; every undecided recipient got a
 * WHY_TEMP result): client_close() it.
 */
int client_send(struct client_conn *, const struct client_msg *msg, int fd,
    off_t off, struct why *results, struct client_reply *replies,
    struct why *why);

/* The server's name as given in opts (a copy; valid while c lives). */
const char *client_peer(const struct client_conn *);

/* Is the session encrypted? */
bool client_is_tls(const struct client_conn *);

/*
 * How the server was authenticated: the DANE match ("DANE-EE(3) SPKI(1)
 * SHA2-256(1) matched the server's certificate"), "PKIX" for a verified
 * chain and name, "none" for unverified TLS, "" without TLS.
 */
const char *client_tls_auth(const struct client_conn *);

/*
 * With opts.pkix_report: X509_V_OK when the certificate was PKIX-valid
 * for the server's name, else the X509_V_ERR_* it failed with; -1 when
 * nothing was checked (no TLS, or not asked).
 */
long client_tls_pkix_result(const struct client_conn *);

/*
 * The subject of the server's certificate (one line, RFC 2253), "" when
 * none. The peer's bytes: escape for a log line.
 */
const char *client_tls_subject(const struct client_conn *);

/*
 * Did the server offer DSN (RFC 3461 3) in its last EHLO or LHLO reply,
 * so that client_send() passed NOTIFY, ORCPT, RET and ENVID on?
 */
bool client_has_dsn(const struct client_conn *);

/* The server's SIZE limit (RFC 1870) from its last EHLO; 0: none. */
uint64_t client_size_max(const struct client_conn *);

/* QUIT (when idle, with a short deadline), close, free. NULL is fine. */
void client_close(struct client_conn *);

#endif
