/* SPDX-License-Identifier: ISC */
/*
 * tern/tern.h - libtern, a blocking SMTP submission client and a MIME
 * message builder. This is the library's only public header.
 *
 * Two opaque handles: `struct tern_conn` (one SMTP connection) and
 * `struct tern_msg` (one message being built). Every function that can
 * fail returns `enum tern_err`; TERN_OK is 0. A library error (DNS,
 * connect, TLS, certificate, timeout, protocol) is distinct from a
 * server's reply: when the server refused something, the error is
 * TERN_E_REPLY (or TERN_E_AUTH for a refused login, TERN_E_TOO_BIG for
 * a message over the server's size limit) and tern_conn_reply() gives
 * its code, enhanced code and text. Allocation failures, the library's
 * own or inside OpenSSL, are TERN_E_NOMEM, never TERN_E_TLS.
 *
 * Threads: handles are independent; different handles may be used on
 * different threads at once. One handle must not be used by two threads
 * at the same time. The library keeps no global state and never exits
 * or aborts on an error it can report (out of memory is TERN_E_NOMEM).
 * Strings are NUL-terminated UTF-8 unless said otherwise. Pointers
 * passed in are copied before the call returns unless said otherwise.
 * Trust: the server and its replies are untrusted; TLS certificates are
 * verified by default (system CA store, plus a CA file or directory),
 * with the host name given to tern_connect() checked and sent as SNI.
 */
#ifndef TERN_TERN_H
#define TERN_TERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TERN_BUILDING_LIB)
#define TERN_API __attribute__((visibility("default")))
#else
#define TERN_API
#endif

enum tern_err {
	TERN_OK = 0,
	TERN_E_NOMEM,      /* out of memory */
	TERN_E_INVAL,      /* bad argument (NULL, empty, bad address...) */
	TERN_E_STATE,      /* not connected, or already connected */
	TERN_E_DNS,        /* the server's name did not resolve */
	TERN_E_CONNECT,    /* TCP connect failed (refused, unreachable) */
	TERN_E_TLS,        /* TLS handshake or TLS I/O failed */
	TERN_E_TLS_VERIFY, /* certificate not trusted or not for the host */
	TERN_E_TIMEOUT,    /* the server did not answer in time */
	TERN_E_PROTOCOL,   /* connection lost or malformed reply */
	TERN_E_AUTH,       /* the server refused the login (see reply) */
	TERN_E_REPLY,      /* the server refused a command (see reply) */
	TERN_E_RCPT,       /* some or all recipients refused (see results) */
	TERN_E_IO,         /* reading the body or a file failed */
	TERN_E_UNSUPPORTED, /* asked for something not implemented */
	/*
	 * The message is bigger than the server takes (RFC 1870): its EHLO
	 * SIZE limit is below the message's size (nothing was sent; each
	 * result says so, code 0), or it answered 552 to MAIL FROM, DATA or
	 * the end of the data, or a refusal with enhanced code 5.3.4 or
	 * 5.2.3 (RFC 3463) there (tern_conn_reply() gives it). Permanent:
	 * do not retry the same message. A 552 to RCPT TO is "too many
	 * recipients" (RFC 5321 4.5.3.1.10), a TERN_E_RCPT. Appended last
	 * (issue 22) so that the values above keep their numbers (ABI).
	 */
	TERN_E_TOO_BIG,
};

enum tern_tls {
	TERN_TLS_NONE = 0, /* plain text: never for passwords on a network */
	TERN_TLS_STARTTLS, /* RFC 3207: plain connect, then STARTTLS, or fail */
	TERN_TLS_IMPLICIT, /* RFC 8314: TLS from the first byte (port 465) */
};

/* A short English description of e ("certificate not trusted"). Static. */
TERN_API const char *tern_strerror(enum tern_err e);

/* ---- connections ------------------------------------------------------ */

struct tern_conn;

/* One recipient's outcome, valid until the next send or tern_conn_free. */
struct tern_rcpt_result {
	const char *addr;  /* the recipient as given */
	bool accepted;     /* the server took responsibility for it */
	unsigned code;     /* 3-digit reply code; 250 when accepted */
	char enhanced[16]; /* "5.1.1" (RFC 3463) or "" when none was given */
	const char *text;  /* the server's text, or the library's reason */
};

/* A body source for tern_send_cb(): copy up to n bytes into p and
 * return the count; 0 at the end; -1 on an error (TERN_E_IO). */
typedef ssize_t tern_read_fn(void *arg, void *p, size_t n);

/* A new, unconnected handle with defaults: STARTTLS required,
 * certificates verified, timeouts 30 s (connect) and 300 s (replies),
 * EHLO name from gethostname(). NULL when out of memory. Free with
 * tern_conn_free(). */
TERN_API struct tern_conn *tern_conn_new(void);

/* Send QUIT when connected, close, free. NULL is fine. */
TERN_API void tern_conn_free(struct tern_conn *);

/* TLS mode (before tern_connect). TERN_E_INVAL for an unknown mode. */
TERN_API enum tern_err tern_conn_set_tls(struct tern_conn *, enum tern_tls);

/* Trust the CA certificates in file (PEM) and/or dir (c_rehash'ed), in
 * addition to the system store. Either may be NULL. Checked at connect. */
TERN_API enum tern_err tern_conn_set_ca(struct tern_conn *, const char *file,
    const char *dir);

/*
 * INSECURE: do not verify the server's certificate or name. Anyone on
 * the path can then read the password and the mail. Meant only for
 * testing against a server with a self-signed certificate.
 */
TERN_API void tern_conn_set_insecure(struct tern_conn *, bool insecure);

/* Seconds to wait for connect and for each reply (0: keep default). */
TERN_API void tern_conn_set_timeouts(struct tern_conn *, unsigned connect_s,
    unsigned reply_s);

/*
 * A trace of the SMTP dialogue (like swaks or msmtp -v): fn is called
 * with sent = true for each command line sent and false for each reply
 * line read, without CRLF; line is valid only during the call and may
 * hold any byte but NUL (escape it before printing). Credentials are
 * masked ("AUTH PLAIN ****"; AUTH LOGIN's lines read "****"), and the
 * message body appears only as "<message body: N octets>". fn NULL: no
 * trace (the default). Takes effect at the next tern_connect().
 */
typedef void tern_trace_fn(void *arg, bool sent, const char *line);
TERN_API void tern_conn_set_trace(struct tern_conn *, tern_trace_fn *fn,
    void *arg);

/* The name sent in EHLO (default: this host's name). */
TERN_API enum tern_err tern_conn_set_helo(struct tern_conn *, const char *);

/*
 * Log in with AUTH PLAIN (or LOGIN when the server offers only that)
 * during tern_connect(). The password is copied and wiped when the
 * handle is freed. The library refuses to send it without TLS unless
 * tern_conn_set_insecure() was called: TERN_E_INVAL at connect.
 */
TERN_API enum tern_err tern_conn_set_auth(struct tern_conn *,
    const char *user, const char *password);

/*
 * Connect to host (name or IP literal) on port, read the greeting, EHLO,
 * STARTTLS or implicit TLS, AUTH. On failure the handle is unconnected
 * again and tern_conn_errmsg() says what happened, for a person:
 * "mail.example.com: certificate verification failed: certificate has
 * expired (notAfter Jan  1 00:00:00 2024 GMT)". host is copied.
 */
TERN_API enum tern_err tern_connect(struct tern_conn *, const char *host,
    unsigned port);

/*
 * Send one message: envelope sender `from` ("" for the null path), the
 * nrcpts recipients, and the message (header and body, RFC 5322). The
 * library turns bare LF or CR into CRLF and dot-stuffs. Pipelined when
 * the server offers PIPELINING. Returns TERN_OK when every recipient
 * was accepted, TERN_E_RCPT when some or all were refused (the message
 * went to the accepted ones, if any), TERN_E_TOO_BIG when the server
 * refused it for its size (it went to nobody), or another error. The per-
 * recipient outcomes are in tern_conn_result() either way. The
 * connection stays usable for more messages unless the error says it
 * was lost (then tern_conn_is_connected() is false).
 */
TERN_API enum tern_err tern_send(struct tern_conn *, const char *from,
    const char *const *rcpts, size_t nrcpts, const void *msg, size_t len);

/* As tern_send(), reading the message from f to its end (f borrowed). */
TERN_API enum tern_err tern_send_file(struct tern_conn *, const char *from,
    const char *const *rcpts, size_t nrcpts, FILE *f);

/* As tern_send(), pulling the message from fn(arg, ...) until it says 0. */
TERN_API enum tern_err tern_send_cb(struct tern_conn *, const char *from,
    const char *const *rcpts, size_t nrcpts, tern_read_fn *fn, void *arg);

/* Results of the last send: count, and result i (NULL when i >= count). */
TERN_API size_t tern_conn_nresults(const struct tern_conn *);
TERN_API const struct tern_rcpt_result *tern_conn_result(
    const struct tern_conn *, size_t i);

/*
 * The server reply behind the last TERN_E_REPLY, TERN_E_AUTH or
 * TERN_E_TOO_BIG: code (0:
 * none), enhanced code into esc (16 bytes; "" when none) and the text
 * (valid until the next call on the handle). Any out-param may be NULL.
 */
TERN_API unsigned tern_conn_reply(const struct tern_conn *, char *esc,
    const char **text);

/* The last error, for a person (never NULL; "" after success). Valid
 * until the next call on the handle. */
TERN_API const char *tern_conn_errmsg(const struct tern_conn *);

/* Is the handle connected (and so reusable for another message)? */
TERN_API bool tern_conn_is_connected(const struct tern_conn *);

/* Is the connection encrypted? */
TERN_API bool tern_conn_is_tls(const struct tern_conn *);

/* QUIT and close; the handle may connect again. */
TERN_API void tern_quit(struct tern_conn *);

/* ---- messages --------------------------------------------------------- */

struct tern_msg;

/* An empty message. NULL when out of memory. Free with tern_msg_free. */
TERN_API struct tern_msg *tern_msg_new(void);
TERN_API void tern_msg_free(struct tern_msg *); /* NULL is fine */

/*
 * Address headers. name is a display name (UTF-8, may be NULL or "";
 * non-ASCII is RFC 2047-encoded); addr is local@domain (ASCII, no
 * spaces, CR, LF, <, > or quotes: TERN_E_INVAL). set_from and
 * set_reply_to replace; add_to/add_cc/add_bcc append. Bcc recipients
 * get the message but are not written in the header.
 */
TERN_API enum tern_err tern_msg_set_from(struct tern_msg *, const char *name,
    const char *addr);
TERN_API enum tern_err tern_msg_set_reply_to(struct tern_msg *,
    const char *name, const char *addr);
TERN_API enum tern_err tern_msg_add_to(struct tern_msg *, const char *name,
    const char *addr);
TERN_API enum tern_err tern_msg_add_cc(struct tern_msg *, const char *name,
    const char *addr);
TERN_API enum tern_err tern_msg_add_bcc(struct tern_msg *, const char *addr);

/* Subject (UTF-8; RFC 2047-encoded when not ASCII). No CR or LF. */
TERN_API enum tern_err tern_msg_set_subject(struct tern_msg *, const char *);

/* The plain text body and the optional HTML alternative (UTF-8, n
 * bytes, copied; LF or CRLF line ends). */
TERN_API enum tern_err tern_msg_set_text(struct tern_msg *, const char *text,
    size_t n);
TERN_API enum tern_err tern_msg_set_html(struct tern_msg *, const char *html,
    size_t n);

/*
 * Attach n bytes as `filename` (the name shown; no directory). type is a
 * MIME type, or NULL to pick one from the file name's extension
 * (application/octet-stream when unknown). data is copied.
 */
TERN_API enum tern_err tern_msg_attach(struct tern_msg *, const char *filename,
    const void *data, size_t n, const char *type);

/* Attach the file at path (read now; its base name is used). TERN_E_IO
 * when it cannot be read. */
TERN_API enum tern_err tern_msg_attach_file(struct tern_msg *,
    const char *path, const char *type);

/*
 * The whole message: From, To, Cc, Reply-To, Subject, Date, Message-ID
 * (<random@from's domain>), MIME-Version, then text, HTML alternative
 * and attachments as MIME parts (base64 for attachments and for text
 * that is not short-lined ASCII). CRLF line ends, header lines folded to
 * stay under 998 octets. *out is malloc'ed, NUL-terminated, and the
 * caller's to free(); *len_out excludes the NUL. TERN_E_INVAL without a
 * From address.
 */
TERN_API enum tern_err tern_msg_render(const struct tern_msg *, char **out,
    size_t *len_out);

/* Send m on c: envelope sender From, recipients To + Cc + Bcc. */
TERN_API enum tern_err tern_send_msg(struct tern_conn *,
    const struct tern_msg *);

/* The MIME type for a file name by its extension ("image/png"). Static. */
TERN_API const char *tern_mime_type(const char *filename);

#ifdef __cplusplus
}
#endif

#endif
