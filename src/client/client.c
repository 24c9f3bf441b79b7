/* SPDX-License-Identifier: ISC */
/*
 * client/client.c - the blocking session driver (see client.h).
 *
 * Non-blocking socket plus poll(2), so that every read, write, connect
 * and TLS handshake step has a deadline (a blocking socket would wait
 * forever on a silent peer).
 * Trust: reply bytes go only to smtp/reply.h; after STARTTLS, anything
 * the server sent before the handshake is discarded (RFC 3207 4.2, the
 * client side of CVE-2011-0411).
 */
#include "client/client.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "util/str.h"

#define RBUF_SIZE 16384
#define BODY_CHUNK 65536
#define DATA_BLOCK_SECS 180 /* RFC 5321 4.5.3.2.5 */
#define QUIT_SECS 5

struct client_conn {
	struct client_conn_opts o;
	struct client_proto p;
	struct smtp_reply_parser *rp;
	char peer[CLIENT_PEER_MAX];
	bool has_peer; /* opts named the server (else peer is a stand-in) */
	int fd;
	SSL *ssl;
	uint8_t rbuf[RBUF_SIZE];
	size_t rpos, rlen;
	char tline[SMTP_REPLY_LINE_MAX + 1]; /* reply line being traced */
	size_t tlen;
	char tls_auth[160];    /* client_tls_auth() */
	char tls_subject[256]; /* client_tls_subject() */
	long pkix_result;      /* client_tls_pkix_result() */
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
deadline(const struct client_conn *c, unsigned secs)
{
	if (c->o.timeout_cap > 0 && c->o.timeout_cap < secs)
		secs = c->o.timeout_cap;
	return mono_ms() + (int64_t)secs * 1000;
}

/* Wait for fd to be ready for `ev`: 0, or -1 with why on timeout. */
static int
wait_fd(struct client_conn *c, short ev, int64_t until, struct why *why)
{
	struct pollfd pfd;
	int64_t left;
	int n;

	for (;;) {
		left = until - mono_ms();
		if (left <= 0)
			return why_set(why, WHY_TEMP, 0,
			    "%s: timed out waiting for %s", c->o.proto.peer,
			    (ev & POLLOUT) != 0
			        ? "the server to take more data"
			        : client_phase_awaits(c->p.phase));
		pfd.fd = c->fd;
		pfd.events = ev;
		pfd.revents = 0;
		n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 0;
		if (n == -1 && errno != EINTR)
			return why_set(why, WHY_TEMP, errno, "poll");
	}
}

bool
client_tls_err_is_nomem(unsigned long e)
{
	if (ERR_SYSTEM_ERROR(e))
		return ERR_GET_REASON(e) == ENOMEM;
	/* Compare the whole reason: its flags are part of it (err.h). */
	return e != 0 && ERR_GET_REASON(e) == (ERR_R_MALLOC_FAILURE &
	                                          ERR_REASON_MASK);
}

bool
client_tls_drain_errors(char *dst, size_t dstsz)
{
	unsigned long e;
	bool first = true, nomem = false;

	if (dstsz > 0)
		dst[0] = '\0';
	/* Every entry: the allocation failure is often the oldest one,
	 * under the errors its callers added on the way out. */
	while ((e = ERR_get_error()) != 0) {
		if (first && dstsz > 0)
			ERR_error_string_n(e, dst, dstsz);
		first = false;
		if (client_tls_err_is_nomem(e))
			nomem = true;
	}
	return nomem;
}

/* The why for an SSL call that failed with rc. */
static int
ssl_fail(struct client_conn *c, int rc, const char *what, struct why *why)
{
	char msg[160];
	int se = SSL_get_error(c->ssl, rc);

	if (client_tls_drain_errors(msg, sizeof(msg)))
		return why_set(why, WHY_TEMP, ENOMEM,
		    "%s: TLS %s (OpenSSL)", c->o.proto.peer, what);
	if (msg[0] == '\0')
		(void)strlcpy(msg,
		    se == SSL_ERROR_ZERO_RETURN ? "closed by peer"
		    : se == SSL_ERROR_SYSCALL   ? "connection lost"
		                                : "TLS error",
		    sizeof(msg));
	return why_set(why, WHY_TEMP, 0, "%s: TLS %s: %s", c->o.proto.peer,
	    what, msg);
}

/* Wait as OpenSSL asks after a WANT_*; -1 with why for anything else. */
static int
ssl_wait(struct client_conn *c, int rc, int64_t until, const char *what,
    struct why *why)
{
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		return wait_fd(c, POLLIN, until, why);
	case SSL_ERROR_WANT_WRITE:
		return wait_fd(c, POLLOUT, until, why);
	default:
		return ssl_fail(c, rc, what, why);
	}
}

static int
write_all(struct client_conn *c, const uint8_t *p, size_t n, int64_t until,
    struct why *why)
{
	ssize_t w;
	int rc;

	while (n > 0) {
		if (c->ssl != NULL) {
			ERR_clear_error();
			rc = SSL_write(c->ssl, p,
			    n > INT32_MAX ? INT32_MAX : (int)n);
			if (rc > 0) {
				p += rc;
				n -= (size_t)rc;
				continue;
			}
			if (ssl_wait(c, rc, until, "write", why) == -1)
				return -1;
			continue;
		}
		w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(c, POLLOUT, until, why) == -1)
				return -1;
			continue;
		}
		return why_set(why, WHY_TEMP, errno, "%s: write",
		    c->o.proto.peer);
	}
	return 0;
}

/* Fill rbuf with at least one byte: 0, or -1 (EOF, error, timeout). */
static int
read_some(struct client_conn *c, int64_t until, struct why *why)
{
	ssize_t r;
	int rc;

	c->rpos = c->rlen = 0;
	for (;;) {
		if (c->ssl != NULL) {
			ERR_clear_error();
			rc = SSL_read(c->ssl, c->rbuf, sizeof(c->rbuf));
			if (rc > 0) {
				c->rlen = (size_t)rc;
				return 0;
			}
			if (ssl_wait(c, rc, until, "read", why) == -1)
				return -1;
			continue;
		}
		r = recv(c->fd, c->rbuf, sizeof(c->rbuf), 0);
		if (r > 0) {
			c->rlen = (size_t)r;
			return 0;
		}
		if (r == 0)
			return why_set(why, WHY_TEMP, 0,
			    "%s: connection closed by the server",
			    c->o.proto.peer);
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return why_set(why, WHY_TEMP, errno, "%s: read",
			    c->o.proto.peer);
		if (wait_fd(c, POLLIN, until, why) == -1)
			return -1;
	}
}

/*
 * Trace the reply bytes p[0..n) line by line (a line may span reads);
 * an overlong line is cut, and the parser rejects it anyway.
 */
static void
trace_in(struct client_conn *c, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; c->o.trace != NULL && i < n; i++) {
		if (p[i] == '\n') {
			if (c->tlen > 0 && c->tline[c->tlen - 1] == '\r')
				c->tlen--;
			c->tline[c->tlen] = '\0';
			c->o.trace(c->o.trace_arg, CLIENT_TRACE_RECEIVED,
			    c->tline, c->tlen);
			c->tlen = 0;
		} else if (c->tlen < sizeof(c->tline) - 1)
			c->tline[c->tlen++] = p[i] != '\0' ? (char)p[i] : '?';
	}
}

/* Trace the command lines in out, with credentials masked. */
static void
trace_out(struct client_conn *c)
{
	const struct buf *b = &c->p.out;
	char line[SMTP_REPLY_LINE_MAX + 8];
	size_t pos = 0, end, n, k;
	const uint8_t *nl;

	while (c->o.trace != NULL && pos < b->len) {
		nl = memchr(b->data + pos, '\n', b->len - pos);
		end = nl != NULL ? (size_t)(nl - b->data) + 1 : b->len;
		for (n = 0, k = pos; k < end && n + 5 < sizeof(line); k++) {
			if (c->p.secret_len > 0 && k == c->p.secret_off) {
				memcpy(line + n, "****", 4);
				n += 4;
				k += c->p.secret_len - 1;
			} else if (b->data[k] != '\r' && b->data[k] != '\n')
				line[n++] = (char)b->data[k];
		}
		line[n] = '\0';
		c->o.trace(c->o.trace_arg, CLIENT_TRACE_SENT, line, n);
		pos = end;
	}
}

/* Trace what stands for a body (never its bytes); dot: ended by ".". */
static void
trace_body(struct client_conn *c, uint64_t size, bool dot)
{
	char line[64];
	int n;

	if (c->o.trace == NULL)
		return;
	n = snprintf(line, sizeof(line), "<message body: %llu octets>",
	    (unsigned long long)size);
	if (n > 0 && (size_t)n < sizeof(line))
		c->o.trace(c->o.trace_arg, CLIENT_TRACE_SENT, line, (size_t)n);
	if (dot)
		c->o.trace(c->o.trace_arg, CLIENT_TRACE_SENT, ".", 1);
}

/* The next complete reply (one deadline for all of it). */
static int
read_reply(struct client_conn *c, const struct smtp_reply **r, struct why *why)
{
	int64_t until = deadline(c, client_proto_timeout(&c->p));
	enum smtp_reply_status st;
	size_t used;

	for (;;) {
		if (c->rpos == c->rlen && read_some(c, until, why) == -1)
			return -1;
		st = smtp_reply_parse(c->rp, c->rbuf + c->rpos,
		    c->rlen - c->rpos, &used, r);
		trace_in(c, c->rbuf + c->rpos, used);
		c->rpos += used;
		switch (st) {
		case SMTP_REPLY_NEED_MORE:
			continue;
		case SMTP_REPLY_DONE:
			return 0;
		case SMTP_REPLY_TOO_LONG:
		case SMTP_REPLY_TOO_MANY:
			return why_set(why, WHY_TEMP, 0, "%s: reply too long",
			    c->o.proto.peer);
		case SMTP_REPLY_BAD:
			break;
		}
		return why_set(why, WHY_TEMP, 0, "%s: malformed reply",
		    c->o.proto.peer);
	}
}

static int
flush(struct client_conn *c, struct why *why)
{
	int rc;

	if (c->p.out.len == 0)
		return 0;
	trace_out(c);
	rc = write_all(c, c->p.out.data, c->p.out.len,
	    deadline(c, DATA_BLOCK_SECS), why);
	/* The buffer may have held a password: leave none behind. */
	if (c->p.secret_len > 0)
		explicit_bzero(c->p.out.data, c->p.out.len);
	c->p.secret_len = 0;
	buf_clear(&c->p.out);
	return rc;
}

bool
client_is_ip_literal(const char *s)
{
	unsigned char bin[sizeof(struct in6_addr)];

	return s != NULL && (inet_pton(AF_INET, s, bin) == 1 ||
	                        inet_pton(AF_INET6, s, bin) == 1);
}

int
client_tls_expect_peer(X509_VERIFY_PARAM *vp, const char *peer)
{
	int rc;

	rc = client_is_ip_literal(peer)
	         ? X509_VERIFY_PARAM_set1_ip_asc(vp, peer)
	         : X509_VERIFY_PARAM_set1_host(vp, peer, 0);
	if (rc != 1) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

void
client_verify_reason(long err, const char *peer, char *dst, size_t dstsz)
{
	const char *what = X509_verify_cert_error_string(err);

	if (err == X509_V_ERR_IP_ADDRESS_MISMATCH)
		(void)snprintf(dst, dstsz,
		    "%s: TLS certificate verification failed: %s: the "
		    "certificate has no IP address subjectAltName for %s",
		    peer, what, peer);
	else if (err == X509_V_ERR_HOSTNAME_MISMATCH)
		(void)snprintf(dst, dstsz,
		    "%s: TLS certificate verification failed: %s: the "
		    "certificate is not for %s",
		    peer, what, peer);
	else
		(void)snprintf(dst, dstsz,
		    "%s: TLS certificate verification failed: %s", peer, what);
}

/* The why for a certificate that failed verification: its reason. */
static int
verify_fail(struct client_conn *c, long vr, struct why *why)
{
	char text[sizeof(why->text)];

	client_verify_reason(vr, c->o.proto.peer, text, sizeof(text));
	/* RFC 8689 4: no verified TLS, no REQUIRETLS message: a bounce. */
	if (c->o.proto.requiretls)
		return why_set(why, WHY_PERM, 0, "%s (the message needs "
		                                 "REQUIRETLS)", text);
	return why_set(why, WHY_TEMP, 0, "%s", text);
}

/* The certificate's subject, for the log (the peer's text). */
static void
note_subject(struct client_conn *c)
{
	X509 *cert = SSL_get0_peer_certificate(c->ssl);
	BIO *b;
	long n;
	char *p;

	c->tls_subject[0] = '\0';
	if (cert == NULL || (b = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (X509_NAME_print_ex(b, X509_get_subject_name(cert), 0,
	        XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_get_mem_data(b, &p)) > 0)
		(void)snprintf(c->tls_subject, sizeof(c->tls_subject), "%.*s",
		    (int)(n < (long)sizeof(c->tls_subject)
		              ? n
		              : (long)sizeof(c->tls_subject) - 1),
		    p);
	BIO_free(b);
	ERR_clear_error();
}

/*
 * tls_check refused the server (RFC 7672 3: no TLSA record matched).
 * Say QUIT over the encrypted session (best effort, short deadline) so
 * that the server sees a polite end, and send nothing else.
 */
static int
check_fail(struct client_conn *c, const char *what, struct why *why)
{
	static const char quit[] = "QUIT\r\n";
	struct why ignored;

	c->o.timeout_cap = QUIT_SECS;
	(void)write_all(c, (const uint8_t *)quit, sizeof(quit) - 1,
	    deadline(c, QUIT_SECS), &ignored);
	return why_set(why, WHY_TEMP, 0, "%s: %s", c->o.proto.peer, what);
}

static int
tls_start(struct client_conn *c, struct why *why)
{
	int64_t until = deadline(c, 300);
	const char *name = c->o.proto.peer;
	const struct client_tls_check *chk = c->o.tls_check;
	/* PKIX: the CA store and the name; a tls_check (DANE) and
	 * "unauthenticated" do without (RFC 7672 3.1.1, 2.2). */
	bool require = c->o.proto.tls == CLIENT_TLS_REQUIRE && chk == NULL &&
	               !c->o.tls_unauthenticated;
	/* MTA-STS testing (issue 19): verify as PKIX would, never fail. */
	bool report = c->o.pkix_report && !require && chk == NULL &&
	              c->has_peer && c->o.proto.tls == CLIENT_TLS_MAY;
	char what[sizeof(c->tls_auth)];
	long vr;
	int rc;

	/* Verifying a chain without a name proves nothing about who the
	 * server is: refuse rather than skip the identity check. */
	if (require && !c->has_peer)
		return why_set(why, WHY_TEMP, 0,
		    "TLS required, but no server name or address to verify "
		    "the certificate against");
	if ((c->ssl = SSL_new(c->o.ssl_ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1) {
		ERR_clear_error();
		return why_set(why, WHY_TEMP, ENOMEM, "TLS session");
	}
	if (chk != NULL && chk->setup(chk->arg, c->ssl, why) == -1)
		return -1;
	if (require &&
	    client_tls_expect_peer(SSL_get0_param(c->ssl), name) == -1)
		return why_set(why, WHY_TEMP, 0,
		    "%s: TLS: not a name or address a certificate can be "
		    "verified for",
		    name);
	if (report) {
		SSL_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
		if (client_tls_expect_peer(SSL_get0_param(c->ssl), name) == -1)
			report = false;
	}
	/* RFC 6066 3: SNI carries host names, never IP literals. */
	if (c->has_peer && !client_is_ip_literal(name))
		(void)SSL_set_tlsext_host_name(c->ssl, name);
	/* RFC 3207 4.2: nothing read before the handshake may count. */
	c->rpos = c->rlen = 0;
	c->tlen = 0;
	smtp_reply_reset(c->rp);
	for (;;) {
		ERR_clear_error();
		if ((rc = SSL_connect(c->ssl)) == 1)
			break;
		if (ssl_wait(c, rc, until, "handshake", why) == -1) {
			/* A handshake that verification ended: say why. */
			if (require &&
			    (vr = SSL_get_verify_result(c->ssl)) != X509_V_OK)
				return verify_fail(c, vr, why);
			return -1;
		}
	}
	note_subject(c);
	if (report)
		c->pkix_result = SSL_get_verify_result(c->ssl);
	if (require && (vr = SSL_get_verify_result(c->ssl)) != X509_V_OK)
		return verify_fail(c, vr, why);
	if (chk != NULL && !chk->verify(chk->arg, c->ssl, what, sizeof(what)))
		return check_fail(c, what, why);
	(void)strlcpy(c->tls_auth, chk != NULL ? what : require ? "PKIX" : "none",
	    sizeof(c->tls_auth));
	c->p.tls_verified = chk != NULL || require;
	/* Implicit TLS: before the greeting, so no EHLO yet. */
	if (c->o.implicit_tls && c->p.phase == CP_GREETING)
		c->p.tls_active = true;
	else
		client_proto_tls_done(&c->p);
	return 0;
}

/*
 * Append in[0..n) to ob, dot-stuffed when stuff (RFC 5321 4.5.2): a '.'
 * that starts a line gets another one. *bol says whether in[0] starts a
 * line and is updated for the next chunk.
 */
static int
stuff_chunk(struct buf *ob, const uint8_t *in, size_t n, bool stuff,
    bool *bol)
{
	const uint8_t *p = in, *end = in + n, *nl;
	size_t len;

	if (!stuff)
		return n > 0 ? buf_append(ob, in, n) : 0;
	while (p < end) {
		if (*bol && *p == '.' && buf_append(ob, ".", 1) == -1)
			return -1;
		nl = memchr(p, '\n', (size_t)(end - p));
		len = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		if (buf_append(ob, p, len) == -1)
			return -1;
		*bol = nl != NULL;
		p += len;
	}
	return 0;
}

/*
 * The message body: raw for BDAT, dot-stuffed and ended with "." for
 * DATA (RFC 5321 4.5.2). A body that does not end in CRLF gets one. The
 * end marker goes out with the last chunk: one write, one segment.
 */
static int
send_body(struct client_conn *c, int fd, off_t off, uint64_t size, bool stuff,
    struct why *why)
{
	uint8_t in[BODY_CHUNK];
	struct buf ob;
	uint64_t done = 0;
	bool bol = true, crlf = true, last;
	ssize_t r;
	size_t want;
	int rc = -1;

	buf_init(&ob, 2 * BODY_CHUNK + 8);
	/* Header fields on top first, through the same stuffing. */
	if (c->p.msg != NULL && c->p.msg->prefix_len > 0 &&
	    c->p.msg->prefix_len <= size) {
		const struct client_msg *m = c->p.msg;

		if (stuff_chunk(&ob, (const uint8_t *)m->prefix,
		        m->prefix_len, stuff, &bol) == -1)
			goto full;
		if (write_all(c, ob.data, ob.len, deadline(c, DATA_BLOCK_SECS),
		        why) == -1)
			goto out;
		size -= m->prefix_len;
		crlf = m->prefix_len >= 2;
	}
	do {
		want = size - done < sizeof(in) ? (size_t)(size - done)
		                                : sizeof(in);
		r = want > 0 ? pread(fd, in, want, off + (off_t)done) : 0;
		if (want > 0 && r <= 0) {
			why_set(why, WHY_TEMP, r == 0 ? 0 : errno,
			    "read queued message");
			goto out;
		}
		done += (uint64_t)r;
		last = done >= size;
		buf_clear(&ob);
		if (stuff_chunk(&ob, in, (size_t)r, stuff, &bol) == -1)
			goto full;
		if (r > 0)
			crlf = r >= 2 && in[r - 2] == '\r' && in[r - 1] == '\n';
		if (last && stuff &&
		    ((!crlf && size > 0 && buf_append_str(&ob, "\r\n") == -1) ||
		        buf_append_str(&ob, ".\r\n") == -1))
			goto full;
		if (ob.len > 0 &&
		    write_all(c, ob.data, ob.len, deadline(c, DATA_BLOCK_SECS),
		        why) == -1)
			goto out;
	} while (!last);
	rc = 0;
	goto out;
full: /* ob holds two chunks: only memory can run short (buf.h) */
	why_set(why, WHY_TEMP, errno == ENOMEM ? ENOMEM : 0,
	    "%s: buffer the message body", c->o.proto.peer);
out:
	buf_reset(&ob);
	return rc;
}

/* Run the protocol until it wants something from the caller. */
static enum client_event
pump(struct client_conn *c, int fd, off_t off, struct why *why)
{
	const struct smtp_reply *r;
	enum client_event ev;
	uint64_t size = c->p.msg != NULL ? c->p.msg->size : 0;

	for (;;) {
		if (flush(c, why) == -1)
			return CLIENT_EV_FAIL;
		if (c->p.body_after_out) {
			if (send_body(c, fd, off, size, false, why) == -1)
				return CLIENT_EV_FAIL;
			trace_body(c, size, false);
			client_proto_body_sent(&c->p);
		}
		if (c->p.phase == CP_CLOSED) { /* e.g. no room for EHLO */
			*why = c->p.why;
			return CLIENT_EV_FAIL;
		}
		if (read_reply(c, &r, why) == -1)
			return CLIENT_EV_FAIL;
		ev = client_proto_on_reply(&c->p, r);
		switch (ev) {
		case CLIENT_EV_NONE:
			continue;
		case CLIENT_EV_TLS:
			if (tls_start(c, why) == -1)
				return CLIENT_EV_FAIL;
			continue;
		case CLIENT_EV_BODY:
			if (send_body(c, fd, off, size, true, why) == -1)
				return CLIENT_EV_FAIL;
			trace_body(c, size, true);
			client_proto_body_sent(&c->p);
			continue;
		case CLIENT_EV_FAIL:
			*why = c->p.why;
			return ev;
		default:
			return ev;
		}
	}
}

SSL_CTX *
client_tls_ctx_new(bool verify, const char *ca_file, struct why *why)
{
	SSL_CTX *ctx;
	char msg[160];

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		if (client_tls_drain_errors(msg, sizeof(msg)))
			why_set(why, WHY_TEMP, ENOMEM, "SSL_CTX_new");
		else
			why_set(why, WHY_TEMP, 0, "SSL_CTX_new failed: %s",
			    msg);
		return NULL;
	}
	(void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		if (SSL_CTX_set_default_verify_paths(ctx) != 1 ||
		    (ca_file != NULL && SSL_CTX_load_verify_locations(ctx,
		                            ca_file, NULL) != 1)) {
			if (client_tls_drain_errors(msg, sizeof(msg)))
				why_set(why, WHY_TEMP, ENOMEM,
				    "load CA certificates");
			else
				why_set(why, WHY_PERM, 0,
				    "cannot load CA certificates%s%s",
				    ca_file ? " from " : "",
				    ca_file ? ca_file : "");
			SSL_CTX_free(ctx);
			return NULL;
		}
	} else
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
}

static int
do_connect(struct client_conn *c, const struct sockaddr *sa, socklen_t salen,
    struct why *why)
{
	int64_t until =
	    mono_ms() +
	    (int64_t)(c->o.connect_timeout ? c->o.connect_timeout : 30) * 1000;
	socklen_t len = sizeof(int);
	int err = 0;

	c->fd = socket(sa->sa_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		return why_set(why, WHY_TEMP, errno, "socket");
	/*
	 * Every write is a whole command group or body chunk: Nagle would
	 * only hold the last one back until the peer's delayed ACK (40 ms a
	 * message on loopback).
	 */
	if (sa->sa_family != AF_UNIX)
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 },
		    sizeof(int));
	if (connect(c->fd, sa, salen) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EAGAIN)
		return why_set(why, WHY_TEMP, errno, "connect to %s",
		    c->o.proto.peer);
	if (wait_fd(c, POLLOUT, until, why) == -1)
		return why_set(why, WHY_TEMP, 0, "connect to %s: timed out",
		    c->o.proto.peer);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0)
		return why_set(why, WHY_TEMP, err, "connect to %s",
		    c->o.proto.peer);
	return 0;
}

struct client_conn *
client_open(const struct client_conn_opts *o, const struct sockaddr *sa,
    socklen_t salen, struct client_reply *reply_out, struct why *why)
{
	static const struct smtp_reply_limits lim = { SMTP_REPLY_LINE_MAX,
		SMTP_REPLY_LINES_MAX, SMTP_REPLY_TEXT_MAX };
	struct client_conn *c;
	enum client_event ev;

	if (reply_out != NULL)
		memset(reply_out, 0, sizeof(*reply_out));
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		why_set(why, WHY_TEMP, ENOMEM, "client session");
		return NULL;
	}
	c->o = *o;
	c->has_peer = o->proto.peer != NULL && o->proto.peer[0] != '\0';
	(void)strlcpy(c->peer, c->has_peer ? o->proto.peer : "remote server",
	    sizeof(c->peer));
	c->o.proto.peer = c->peer;
	c->o.proto.tls_possible = o->ssl_ctx != NULL;
	c->fd = -1;
	c->pkix_result = -1; /* not asked, or no TLS yet */
	client_proto_init(&c->p, &c->o.proto);
	if ((c->rp = smtp_reply_new(&lim)) == NULL) {
		why_set(why, WHY_TEMP, ENOMEM, "client session");
		goto fail;
	}
	if (do_connect(c, sa, salen, why) == -1)
		goto fail;
	if (o->implicit_tls &&
	    (o->ssl_ctx == NULL || tls_start(c, why) == -1)) {
		if (o->ssl_ctx == NULL)
			why_set(why, WHY_PERM, 0, "implicit TLS needs ssl_ctx");
		goto fail;
	}
	ev = pump(c, -1, 0, why);
	if (ev == CLIENT_EV_READY)
		return c;
	if (ev != CLIENT_EV_FAIL)
		why_set(why, WHY_TEMP, 0, "%s: protocol error",
		    c->o.proto.peer);
fail:
	if (reply_out != NULL)
		*reply_out = c->p.fail_reply;
	c->p.phase = CP_CLOSED; /* no QUIT */
	client_close(c);
	return NULL;
}

int
client_send(struct client_conn *c, const struct client_msg *msg, int fd,
    off_t off, struct why *results, struct client_reply *replies,
    struct why *why)
{
	enum client_event ev;

	ev = client_proto_start(&c->p, msg, results, replies);
	if (ev == CLIENT_EV_FAIL) /* e.g. out of memory: its why */
		*why = c->p.why;
	else if (ev == CLIENT_EV_NONE)
		ev = pump(c, fd, off, why);
	if (ev == CLIENT_EV_MSG_DONE && c->p.phase == CP_READY)
		return 0;
	if (ev != CLIENT_EV_FAIL)
		why_set(why, WHY_TEMP, 0, "%s: protocol error",
		    c->o.proto.peer);
	client_proto_fail_rest(&c->p, why);
	c->p.phase = CP_CLOSED;
	return -1;
}

const char *
client_peer(const struct client_conn *c)
{
	return c->peer;
}

bool
client_is_tls(const struct client_conn *c)
{
	return c->ssl != NULL;
}

const char *
client_tls_auth(const struct client_conn *c)
{
	return c->tls_auth;
}

long
client_tls_pkix_result(const struct client_conn *c)
{
	return c->pkix_result;
}

const char *
client_tls_subject(const struct client_conn *c)
{
	return c->tls_subject;
}

uint64_t
client_size_max(const struct client_conn *c)
{
	return c->p.ehlo.size_max;
}

bool
client_has_dsn(const struct client_conn *c)
{
	return (c->p.ehlo.flags & SMTP_EHLO_DSN) != 0;
}

void
client_close(struct client_conn *c)
{
	const struct smtp_reply *r;
	struct why why;

	if (c == NULL)
		return;
	if (c->fd != -1 && c->p.phase == CP_READY) {
		c->o.timeout_cap = QUIT_SECS;
		if (client_proto_quit(&c->p) == 0 && flush(c, &why) == 0)
			(void)read_reply(c, &r, &why);
	}
	if (c->ssl != NULL) {
		(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->fd != -1)
		(void)close(c->fd);
	smtp_reply_free(c->rp);
	client_proto_free(&c->p);
	free(c);
}
