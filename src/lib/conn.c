/* SPDX-License-Identifier: ISC */
/*
 * lib/conn.c - the public connection API (tern/tern.h) on top of the
 * blocking client engine (client/client.h).
 *
 * The engine takes the message from a file descriptor, so a body from a
 * buffer, a FILE* or a callback is first copied, with its line ends made
 * CRLF, into an anonymous memory file (memfd); the engine dot-stuffs it.
 * Its errors arrive as a struct why (text for a person) and, when a
 * server reply decided them, as a struct client_reply (code, enhanced
 * code, text, command) per recipient or for the session; they are
 * classified here into enum tern_err.
 * Certificates: the SSL_CTX is this handle's own; a verify callback
 * remembers why verification failed (reason, depth, subject, notAfter)
 * so the message names the host and the reason. The expected name (or
 * IP) is set on the context, so IP literals are checked too.
 * Trust: the server is untrusted (the engine bounds what it reads); the
 * password is wiped when the handle is freed.
 */
#include "tern/tern.h"

#include <errno.h>
#include <stdarg.h>
#include <netdb.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "client/client.h"
#include "lib/lib-private.h"
#include "lib/mime.h"
#include "util/fsutil.h"
#include "util/str.h"

#define HOST_MAX 256
#define ERRMSG_MAX 512
#define REPLY_TEXT_MAX 512
#define CHUNK 65536

struct verify_info {
	bool failed;
	long err;
	int depth;
	char subject[160];
	char not_after[48];
};

struct tern_conn {
	enum tern_tls tls;
	bool insecure;
	char *ca_file, *ca_dir;
	unsigned connect_s, reply_s;
	char helo[HOST_MAX];
	char *user, *pass;
	tern_trace_fn *trace;
	void *trace_arg;
	char host[HOST_MAX];
	struct client_conn *cc;
	SSL_CTX *ctx;
	struct verify_info vi;
	char errmsg[ERRMSG_MAX];
	unsigned reply_code;
	char reply_esc[16];
	char reply_text[REPLY_TEXT_MAX];
	struct tern_rcpt_result *res;
	struct why *whys;
	struct client_reply *reps;
	char **res_addr;
	size_t nres;
};

const char *
tern_strerror(enum tern_err e)
{
	switch (e) {
	case TERN_OK:
		return "success";
	case TERN_E_NOMEM:
		return "out of memory";
	case TERN_E_INVAL:
		return "invalid argument";
	case TERN_E_STATE:
		return "not connected, or already connected";
	case TERN_E_DNS:
		return "the server name did not resolve";
	case TERN_E_CONNECT:
		return "cannot connect to the server";
	case TERN_E_TLS:
		return "TLS failed";
	case TERN_E_TLS_VERIFY:
		return "the server's certificate is not trusted";
	case TERN_E_TIMEOUT:
		return "the server did not answer in time";
	case TERN_E_PROTOCOL:
		return "SMTP protocol error or connection lost";
	case TERN_E_AUTH:
		return "the server refused the login";
	case TERN_E_REPLY:
		return "the server refused the request";
	case TERN_E_RCPT:
		return "the server refused some recipients";
	case TERN_E_IO:
		return "cannot read the message or a file";
	case TERN_E_UNSUPPORTED:
		return "not supported";
	case TERN_E_TOO_BIG:
		return "the message is too big for the server";
	}
	return "unknown error";
}

struct tern_conn *
tern_conn_new(void)
{
	struct tern_conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->tls = TERN_TLS_STARTTLS;
	if (gethostname(c->helo, sizeof(c->helo)) == -1 || c->helo[0] == '\0')
		(void)strlcpy(c->helo, "localhost", sizeof(c->helo));
	c->helo[sizeof(c->helo) - 1] = '\0';
	return c;
}

static void
results_free(struct tern_conn *c)
{
	size_t i;

	for (i = 0; i < c->nres; i++)
		free(c->res_addr[i]);
	free(c->res_addr);
	free(c->res);
	free(c->whys);
	free(c->reps);
	c->res_addr = NULL;
	c->res = NULL;
	c->whys = NULL;
	c->reps = NULL;
	c->nres = 0;
}

static void
wipe_free(char *s)
{
	if (s != NULL)
		explicit_bzero(s, strlen(s));
	free(s);
}

void
tern_conn_free(struct tern_conn *c)
{
	if (c == NULL)
		return;
	tern_quit(c);
	results_free(c);
	free(c->ca_file);
	free(c->ca_dir);
	free(c->user);
	wipe_free(c->pass);
	free(c);
}

enum tern_err
tern_conn_set_tls(struct tern_conn *c, enum tern_tls mode)
{
	if (c == NULL || (mode != TERN_TLS_NONE && mode != TERN_TLS_STARTTLS &&
	                     mode != TERN_TLS_IMPLICIT))
		return TERN_E_INVAL;
	c->tls = mode;
	return TERN_OK;
}

static enum tern_err
dup_opt(char **dst, const char *s)
{
	char *d = NULL;

	if (s != NULL && (d = strdup(s)) == NULL)
		return TERN_E_NOMEM;
	free(*dst);
	*dst = d;
	return TERN_OK;
}

enum tern_err
tern_conn_set_ca(struct tern_conn *c, const char *file, const char *dir)
{
	enum tern_err e;

	if (c == NULL)
		return TERN_E_INVAL;
	if ((e = dup_opt(&c->ca_file, file)) != TERN_OK)
		return e;
	return dup_opt(&c->ca_dir, dir);
}

void
tern_conn_set_insecure(struct tern_conn *c, bool insecure)
{
	if (c != NULL)
		c->insecure = insecure;
}

void
tern_conn_set_timeouts(struct tern_conn *c, unsigned connect_s,
    unsigned reply_s)
{
	if (c == NULL)
		return;
	if (connect_s > 0)
		c->connect_s = connect_s;
	if (reply_s > 0)
		c->reply_s = reply_s;
}

void
tern_conn_set_trace(struct tern_conn *c, tern_trace_fn *fn, void *arg)
{
	if (c == NULL)
		return;
	c->trace = fn;
	c->trace_arg = arg;
}

/* The engine's trace, passed on to the application's. */
static void
trace_cb(void *arg, enum client_trace_dir dir, const char *line, size_t len)
{
	struct tern_conn *c = arg;

	(void)len;
	c->trace(c->trace_arg, dir == CLIENT_TRACE_SENT, line);
}

enum tern_err
tern_conn_set_helo(struct tern_conn *c, const char *name)
{
	if (c == NULL || name == NULL || name[0] == '\0' ||
	    strlen(name) >= sizeof(c->helo) ||
	    !mime_is_plain(name, strlen(name)) || strchr(name, ' ') != NULL)
		return TERN_E_INVAL;
	(void)strlcpy(c->helo, name, sizeof(c->helo));
	return TERN_OK;
}

enum tern_err
tern_conn_set_auth(struct tern_conn *c, const char *user, const char *password)
{
	char *u, *p;

	if (c == NULL || user == NULL || password == NULL || user[0] == '\0')
		return TERN_E_INVAL;
	if ((u = strdup(user)) == NULL)
		return TERN_E_NOMEM;
	if ((p = strdup(password)) == NULL) {
		free(u);
		return TERN_E_NOMEM;
	}
	free(c->user);
	wipe_free(c->pass);
	c->user = u;
	c->pass = p;
	return TERN_OK;
}

static enum tern_err
set_err(struct tern_conn *c, enum tern_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum tern_err
set_err(struct tern_conn *c, enum tern_err e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
	return e;
}

/* Remember a server reply as the last one (tern_conn_reply()). */
static void
note_reply(struct tern_conn *c, const struct client_reply *rep)
{
	c->reply_code = rep->code;
	(void)strlcpy(c->reply_esc, rep->esc, sizeof(c->reply_esc));
	(void)strlcpy(c->reply_text, rep->text, sizeof(c->reply_text));
}

/* ---- TLS -------------------------------------------------------------- */

static int
verify_cb(int ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tern_conn *c;
	X509 *cert;
	BIO *bio;
	int n;

	if (ssl == NULL)
		return ok;
	c = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	if (c == NULL || ok)
		return ok;
	if (!c->vi.failed) {
		c->vi.failed = true;
		c->vi.err = X509_STORE_CTX_get_error(x);
		c->vi.depth = X509_STORE_CTX_get_error_depth(x);
		c->vi.subject[0] = c->vi.not_after[0] = '\0';
		if ((cert = X509_STORE_CTX_get_current_cert(x)) != NULL) {
			(void)X509_NAME_oneline(X509_get_subject_name(cert),
			    c->vi.subject, sizeof(c->vi.subject));
			if ((bio = BIO_new(BIO_s_mem())) != NULL) {
				if (ASN1_TIME_print(bio,
				        X509_get0_notAfter(cert)) == 1 &&
				    (n = BIO_read(bio, c->vi.not_after,
				         sizeof(c->vi.not_after) - 1)) > 0)
					c->vi.not_after[n] = '\0';
				BIO_free(bio);
			}
		}
	}
	if (c->insecure) { /* asked for: accept, and leave no error */
		X509_STORE_CTX_set_error(x, X509_V_OK);
		return 1;
	}
	return 0;
}

static enum tern_err
tls_ctx(struct tern_conn *c, const char *name)
{
	struct why why;

	if ((c->ctx = client_tls_ctx_new(true, c->ca_file, &why)) == NULL)
		return set_err(c,
		    why.sys_errno == ENOMEM ? TERN_E_NOMEM : TERN_E_TLS, "%s",
		    why.text);
	if (c->ca_dir != NULL &&
	    SSL_CTX_load_verify_locations(c->ctx, NULL, c->ca_dir) != 1) {
		if (client_tls_drain_errors(NULL, 0))
			return set_err(c, TERN_E_NOMEM,
			    "load CA certificates: out of memory");
		return set_err(c, TERN_E_TLS,
		    "cannot load CA certificates from %s", c->ca_dir);
	}
	SSL_CTX_set_app_data(c->ctx, c);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, verify_cb);
	/* The engine sets the name (or IP) on each SSL too; this refuses a
	 * bad one before connecting, as TERN_E_INVAL. */
	if (client_tls_expect_peer(SSL_CTX_get0_param(c->ctx), name) == -1)
		return set_err(c, TERN_E_INVAL, "%s: not a valid host name",
		    name);
	return TERN_OK;
}

static enum tern_err
verify_error(struct tern_conn *c)
{
	const char *why = X509_verify_cert_error_string(c->vi.err);

	if (c->vi.err == X509_V_ERR_CERT_HAS_EXPIRED)
		return set_err(c, TERN_E_TLS_VERIFY,
		    "%s: certificate verification failed: the certificate "
		    "expired on %s (%s)",
		    c->host, c->vi.not_after, c->vi.subject);
	if (c->vi.err == X509_V_ERR_HOSTNAME_MISMATCH ||
	    c->vi.err == X509_V_ERR_IP_ADDRESS_MISMATCH)
		return set_err(c, TERN_E_TLS_VERIFY,
		    "%s: certificate verification failed: the certificate is "
		    "for another name (%s)",
		    c->host, c->vi.subject);
	return set_err(c, TERN_E_TLS_VERIFY,
	    "%s: certificate verification failed: %s (%s%s)", c->host, why,
	    c->vi.subject,
	    c->vi.err == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
	            c->vi.err == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
	            c->vi.err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
	        ? "; give its CA with --ca-file or tern_conn_set_ca()"
	        : "");
}

/* ---- connect ---------------------------------------------------------- */

/*
 * Did rep refuse the message for its size? 552 (RFC 1870 3, 6.1) or
 * enhanced 5.3.4 / 5.2.3 (RFC 3463) to MAIL FROM, DATA, BDAT or the end
 * of the data. Not to RCPT TO: a 552 there means too many recipients
 * (RFC 5321 4.5.3.1.10).
 */
static bool
is_too_big(const struct client_reply *rep)
{
	static const char *const cmds[] = { "MAIL FROM", "DATA", "BDAT",
		"end of data" };
	size_t i;

	if (rep == NULL || rep->code / 100 != 5 || rep->cmd == NULL)
		return false;
	if (rep->code != 552 && strcmp(rep->esc, "5.3.4") != 0 &&
	    strcmp(rep->esc, "5.2.3") != 0)
		return false;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(rep->cmd, cmds[i]) == 0)
			return true;
	return false;
}

/*
 * Classify an engine failure into an error, and keep it: rep (may be
 * NULL) is the server reply behind it, if any.
 */
static enum tern_err
engine_error(struct tern_conn *c, const struct why *why,
    const struct client_reply *rep)
{
	if (c->vi.failed && !c->insecure)
		return verify_error(c);
	(void)strlcpy(c->errmsg, why->text, sizeof(c->errmsg));
	/* Ours, whatever the server said before it (buf.h, client.c). */
	if (why->sys_errno == ENOMEM)
		return TERN_E_NOMEM;
	if (rep != NULL && rep->code != 0) {
		note_reply(c, rep);
		if (is_too_big(rep))
			return TERN_E_TOO_BIG;
		return rep->cmd != NULL && strcmp(rep->cmd, "AUTH") == 0
		           ? TERN_E_AUTH
		           : TERN_E_REPLY;
	}
	if (strstr(why->text, "AUTH failed") != NULL)
		return TERN_E_AUTH;
	if (strstr(why->text, "timed out") != NULL)
		return TERN_E_TIMEOUT;
	if (strncmp(why->text, "connect to ", 11) == 0)
		return TERN_E_CONNECT;
	if (strstr(why->text, ": TLS ") != NULL ||
	    strstr(why->text, "STARTTLS") != NULL ||
	    strstr(why->text, "without TLS") != NULL)
		return TERN_E_TLS;
	return TERN_E_PROTOCOL;
}

enum tern_err
tern_connect(struct tern_conn *c, const char *host, unsigned port)
{
	struct client_conn_opts o;
	struct addrinfo hints, *res = NULL, *ai;
	struct client_reply rep;
	char portstr[8];
	struct why why;
	enum tern_err e = TERN_E_CONNECT;
	int rc;

	if (c == NULL)
		return TERN_E_INVAL;
	c->errmsg[0] = '\0';
	c->reply_code = 0;
	if (c->cc != NULL)
		return set_err(c, TERN_E_STATE, "already connected");
	if (host == NULL || host[0] == '\0' || strlen(host) >= HOST_MAX ||
	    port == 0 || port > 65535)
		return set_err(c, TERN_E_INVAL, "bad server name or port");
	if (c->tls == TERN_TLS_NONE && c->user != NULL && !c->insecure)
		return set_err(c, TERN_E_INVAL,
		    "refusing to send a password without TLS");
	(void)strlcpy(c->host, host, sizeof(c->host));
	memset(&o, 0, sizeof(o));
	o.proto.helo = c->helo;
	o.proto.peer = c->host;
	o.proto.tls = c->tls == TERN_TLS_NONE ? CLIENT_TLS_NONE
	                                      : CLIENT_TLS_REQUIRE;
	o.implicit_tls = c->tls == TERN_TLS_IMPLICIT;
	o.proto.auth_user = c->user;
	o.proto.auth_pass = c->pass;
	o.connect_timeout = c->connect_s;
	o.timeout_cap = c->reply_s;
	if (c->trace != NULL) {
		o.trace = trace_cb;
		o.trace_arg = c;
	}
	memset(&c->vi, 0, sizeof(c->vi));
	if (c->tls != TERN_TLS_NONE) {
		if ((e = tls_ctx(c, host)) != TERN_OK)
			goto out;
		o.ssl_ctx = c->ctx;
	}
	(void)snprintf(portstr, sizeof(portstr), "%u", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, portstr, &hints, &res)) != 0) {
		e = set_err(c, rc == EAI_MEMORY ? TERN_E_NOMEM : TERN_E_DNS,
		    "cannot resolve %s: %s", host, gai_strerror(rc));
		goto out;
	}
	/* Next address only when this one did not answer at all. */
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		c->cc =
		    client_open(&o, ai->ai_addr, ai->ai_addrlen, &rep, &why);
		if (c->cc != NULL)
			break;
		e = engine_error(c, &why, &rep);
		if (e != TERN_E_CONNECT && e != TERN_E_TIMEOUT)
			break;
	}
	freeaddrinfo(res);
	if (c->cc != NULL) {
		c->errmsg[0] = '\0';
		return TERN_OK;
	}
out:
	SSL_CTX_free(c->ctx);
	c->ctx = NULL;
	return e;
}

bool
tern_conn_is_connected(const struct tern_conn *c)
{
	return c != NULL && c->cc != NULL;
}

bool
tern_conn_is_tls(const struct tern_conn *c)
{
	return c != NULL && c->cc != NULL && client_is_tls(c->cc);
}

void
tern_quit(struct tern_conn *c)
{
	if (c == NULL)
		return;
	client_close(c->cc);
	c->cc = NULL;
	SSL_CTX_free(c->ctx);
	c->ctx = NULL;
}

/* ---- send ------------------------------------------------------------- */

struct mem_src {
	const uint8_t *p;
	size_t n;
};

static ssize_t
mem_read(void *arg, void *p, size_t n)
{
	struct mem_src *m = arg;

	if (n > m->n)
		n = m->n;
	memcpy(p, m->p, n);
	m->p += n;
	m->n -= n;
	return (ssize_t)n;
}

static ssize_t
file_read(void *arg, void *p, size_t n)
{
	size_t r = fread(p, 1, n, arg);

	if (r == 0 && ferror((FILE *)arg))
		return -1;
	return (ssize_t)r;
}

enum tern_err
lib_read_file(FILE *f, struct buf *b)
{
	uint8_t in[CHUNK];
	ssize_t r;

	while ((r = file_read(f, in, sizeof(in))) > 0)
		if (buf_append(b, in, (size_t)r) == -1)
			return TERN_E_NOMEM;
	return r == 0 ? TERN_OK : TERN_E_IO;
}

/* Copy the body into a memfd with CRLF line ends; its size and 8bit. */
static enum tern_err
spool_body(struct tern_conn *c, tern_read_fn *fn, void *arg, int *fd_out,
    uint64_t *size_out, bool *eightbit)
{
	uint8_t in[CHUNK];
	struct buf ob;
	bool cr = false;
	uint64_t size = 0;
	ssize_t r, i;
	enum tern_err e = TERN_E_IO;
	int fd;

	if ((fd = memfd_create("tern-body", MFD_CLOEXEC)) == -1)
		return set_err(c, errno == ENOMEM ? TERN_E_NOMEM : TERN_E_IO,
		    "cannot buffer the message: %s", strerror(errno));
	buf_init(&ob, 2 * CHUNK + 2);
	*eightbit = false;
	for (;;) {
		r = fn(arg, in, sizeof(in));
		if (r < 0) {
			set_err(c, TERN_E_IO, "cannot read the message");
			goto fail;
		}
		buf_clear(&ob);
		for (i = 0; i < r; i++) {
			if (cr) {
				cr = false;
				if (buf_append(&ob, "\r\n", 2) == -1)
					goto nomem;
				if (in[i] == '\n')
					continue;
			}
			if (in[i] == '\r')
				cr = true;
			else if (in[i] == '\n') {
				if (buf_append(&ob, "\r\n", 2) == -1)
					goto nomem;
			} else if (buf_append(&ob, &in[i], 1) == -1)
				goto nomem;
			if (in[i] >= 0x80)
				*eightbit = true;
		}
		if (r == 0 && cr && buf_append(&ob, "\r\n", 2) == -1)
			goto nomem;
		size += ob.len;
		if (size > LIB_BODY_MAX) {
			set_err(c, TERN_E_INVAL, "message over %u bytes",
			    LIB_BODY_MAX);
			e = TERN_E_INVAL;
			goto fail;
		}
		if (fsutil_write_all(fd, ob.data, ob.len) == -1) {
			set_err(c, errno == ENOMEM ? TERN_E_NOMEM : TERN_E_IO,
			    "cannot buffer the message: %s", strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
	}
	buf_reset(&ob);
	*fd_out = fd;
	*size_out = size;
	return TERN_OK;
nomem:
	e = set_err(c, TERN_E_NOMEM, "out of memory");
fail:
	buf_reset(&ob);
	(void)close(fd);
	return e;
}

static enum tern_err
results_new(struct tern_conn *c, const char *const *rcpts, size_t n)
{
	size_t i;

	results_free(c);
	c->res = calloc(n, sizeof(*c->res));
	c->whys = calloc(n, sizeof(*c->whys));
	c->reps = calloc(n, sizeof(*c->reps));
	c->res_addr = calloc(n, sizeof(*c->res_addr));
	if (c->res == NULL || c->whys == NULL || c->reps == NULL ||
	    c->res_addr == NULL)
		goto nomem;
	c->nres = n;
	for (i = 0; i < n; i++)
		if ((c->res_addr[i] = strdup(rcpts[i])) == NULL)
			goto nomem;
	return TERN_OK;
nomem:
	results_free(c);
	return set_err(c, TERN_E_NOMEM, "out of memory");
}

/* Is rep a refusal of the whole message (not of one recipient)? */
static bool
is_whole(const struct client_reply *rep)
{
	return rep->code != 0 && rep->code / 100 != 2 &&
	       (rep->cmd == NULL || strcmp(rep->cmd, "RCPT TO") != 0);
}

/*
 * Fill the public results from the engine's; the overall error. size:
 * the message's, to tell a refusal before sending for the server's
 * SIZE limit (each result has the engine's reason, no reply) apart.
 */
static enum tern_err
results_fill(struct tern_conn *c, uint64_t size)
{
	struct tern_rcpt_result *r;
	const struct client_reply *rep;
	size_t i, refused = 0, whole = SIZE_MAX;

	for (i = 0; i < c->nres; i++) {
		r = &c->res[i];
		rep = &c->reps[i];
		r->addr = c->res_addr[i];
		r->code = rep->code; /* 0: the library's reason, not a reply */
		(void)strlcpy(r->enhanced, rep->esc, sizeof(r->enhanced));
		r->text = rep->code != 0 ? rep->text : c->whys[i].text;
		if (c->whys[i].kind == WHY_NONE) {
			r->accepted = true;
			if (rep->code == 0) { /* cannot happen; be safe */
				r->code = 250;
				r->text = "accepted";
			}
			continue;
		}
		refused++;
		if (whole == SIZE_MAX && is_whole(rep))
			whole = i;
	}
	if (refused == 0)
		return TERN_OK;
	if (whole != SIZE_MAX) {
		note_reply(c, &c->reps[whole]);
		return set_err(c,
		    is_too_big(&c->reps[whole]) ? TERN_E_TOO_BIG : TERN_E_REPLY,
		    "%s said: %u %s%s%s", c->host,
		    c->reply_code, c->reply_esc, c->reply_esc[0] ? " " : "",
		    c->reply_text);
	}
	/* RFC 1870 6: the engine sent nothing the server said it won't take. */
	if (refused == c->nres && c->cc != NULL &&
	    client_size_max(c->cc) > 0 && size > client_size_max(c->cc))
		return set_err(c, TERN_E_TOO_BIG,
		    "%s: the message (%llu bytes) is over the server's limit "
		    "of %llu bytes (SIZE); nothing was sent",
		    c->host, (unsigned long long)size,
		    (unsigned long long)client_size_max(c->cc));
	return set_err(c, TERN_E_RCPT, "%zu of %zu recipients refused", refused,
	    c->nres);
}

enum tern_err
tern_send_cb(struct tern_conn *c, const char *from, const char *const *rcpts,
    size_t nrcpts, tern_read_fn *fn, void *arg)
{
	struct client_rcpt *cr = NULL;
	struct client_msg msg;
	struct why why;
	enum tern_err e;
	size_t i;
	int fd = -1;

	if (c == NULL)
		return TERN_E_INVAL;
	c->errmsg[0] = '\0';
	c->reply_code = 0;
	results_free(c);
	if (c->cc == NULL)
		return set_err(c, TERN_E_STATE, "not connected");
	if (from == NULL || (from[0] != '\0' && !mime_addr_ok(from)) ||
	    rcpts == NULL || nrcpts == 0 || nrcpts > LIB_RCPTS_MAX ||
	    fn == NULL)
		return set_err(c, TERN_E_INVAL, "bad sender or recipients");
	for (i = 0; i < nrcpts; i++)
		if (!mime_addr_ok(rcpts[i]))
			return set_err(c, TERN_E_INVAL, "bad recipient '%s'",
			    rcpts[i] != NULL ? rcpts[i] : "(null)");
	if ((e = results_new(c, rcpts, nrcpts)) != TERN_OK)
		return e;
	if ((cr = calloc(nrcpts, sizeof(*cr))) == NULL) {
		results_free(c);
		return set_err(c, TERN_E_NOMEM, "out of memory");
	}
	memset(&msg, 0, sizeof(msg));
	if ((e = spool_body(c, fn, arg, &fd, &msg.size, &msg.eightbit)) !=
	    TERN_OK)
		goto out;
	for (i = 0; i < nrcpts; i++)
		cr[i].addr = c->res_addr[i];
	msg.sender = from;
	msg.rcpts = cr;
	msg.nrcpts = nrcpts;
	if (client_send(c->cc, &msg, fd, 0, c->whys, c->reps, &why) == -1) {
		for (i = 0; i < nrcpts && !is_whole(&c->reps[i]); i++)
			;
		e = engine_error(c, &why, i < nrcpts ? &c->reps[i] : NULL);
		client_close(c->cc); /* dead: the engine said so */
		c->cc = NULL;
		(void)results_fill(c, msg.size);
		goto out;
	}
	e = results_fill(c, msg.size);
out:
	if (fd != -1)
		(void)close(fd);
	free(cr);
	return e;
}

enum tern_err
tern_send(struct tern_conn *c, const char *from, const char *const *rcpts,
    size_t nrcpts, const void *msg, size_t len)
{
	struct mem_src m = { msg, len };

	if (msg == NULL && len > 0)
		return TERN_E_INVAL;
	return tern_send_cb(c, from, rcpts, nrcpts, mem_read, &m);
}

enum tern_err
tern_send_file(struct tern_conn *c, const char *from,
    const char *const *rcpts, size_t nrcpts, FILE *f)
{
	if (f == NULL)
		return TERN_E_INVAL;
	return tern_send_cb(c, from, rcpts, nrcpts, file_read, f);
}

size_t
tern_conn_nresults(const struct tern_conn *c)
{
	return c != NULL ? c->nres : 0;
}

const struct tern_rcpt_result *
tern_conn_result(const struct tern_conn *c, size_t i)
{
	return c != NULL && i < c->nres ? &c->res[i] : NULL;
}

unsigned
tern_conn_reply(const struct tern_conn *c, char *esc, const char **text)
{
	if (c == NULL)
		return 0;
	if (esc != NULL)
		(void)strlcpy(esc, c->reply_code ? c->reply_esc : "", 16);
	if (text != NULL)
		*text = c->reply_code ? c->reply_text : "";
	return c->reply_code;
}

const char *
tern_conn_errmsg(const struct tern_conn *c)
{
	return c != NULL ? c->errmsg : "no handle";
}
