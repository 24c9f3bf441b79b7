/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for libtern's error classification (issue 22): a message
 * too big for the server is TERN_E_TOO_BIG, told apart from the other
 * refusals (scripted servers on loopback: EHLO SIZE below the message,
 * 552 to MAIL FROM, to DATA, after the dot, 5.3.4 in a 554, and the
 * look-alikes that are not: 552 to RCPT TO, 554 5.7.1 after the dot);
 * OpenSSL's allocation failures are out of memory, not TLS errors (the
 * error-code mapping, errors injected on OpenSSL's queue, and an
 * SSL_CTX that cannot be allocated making tern_connect say NOMEM).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "client/client.h"
#include "tern/tern.h"

/* ---- a scripted server ------------------------------------------------ */

/*
 * One script per test: the EHLO reply's SIZE line (0: none) and the
 * replies to MAIL, RCPT, DATA and the final dot. It counts the DATA
 * commands and the message bodies it received, so a test can check
 * that nothing was sent.
 */
struct script {
	unsigned long size_max;
	const char *mail, *rcpt, *data, *dot;
};

struct fake {
	int lfd;
	unsigned port;
	pthread_t th;
	const struct script *sc;
	unsigned ndata, nbodies;
};

static void
say(int fd, const char *s)
{
	(void)send(fd, s, strlen(s), MSG_NOSIGNAL);
}

static bool
is_cmd(const char *b, size_t len, const char *cmd)
{
	size_t n = strlen(cmd);

	return len >= n && strncasecmp(b, cmd, n) == 0;
}

/* Where a transaction is, as a real server keeps it (RFC 5321 3.3). */
struct txn {
	bool mail, rcpt, data;
};

/* The reply to one command line b (len bytes) outside the data. */
static bool
answer(struct fake *f, int fd, const char *b, size_t len, struct txn *t)
{
	char ehlo[128];

	if (is_cmd(b, len, "QUIT")) {
		say(fd, "221 2.0.0 bye\r\n");
		return false;
	}
	if (is_cmd(b, len, "EHLO")) {
		(void)snprintf(ehlo, sizeof(ehlo),
		    "250-fake\r\n250-PIPELINING\r\n250-SIZE %lu\r\n"
		    "250 ENHANCEDSTATUSCODES\r\n",
		    f->sc->size_max);
		say(fd, f->sc->size_max ? ehlo
		                        : "250-fake\r\n250-PIPELINING\r\n"
		                          "250 ENHANCEDSTATUSCODES\r\n");
	} else if (is_cmd(b, len, "MAIL")) {
		say(fd, f->sc->mail);
		t->mail = f->sc->mail[0] == '2';
	} else if (is_cmd(b, len, "RCPT") && !t->mail)
		say(fd, "503 5.5.1 MAIL first\r\n");
	else if (is_cmd(b, len, "RCPT")) {
		say(fd, f->sc->rcpt);
		t->rcpt = t->rcpt || f->sc->rcpt[0] == '2';
	} else if (is_cmd(b, len, "DATA") && !t->rcpt)
		say(fd, "503 5.5.1 no valid recipients\r\n");
	else if (is_cmd(b, len, "DATA")) {
		f->ndata++;
		say(fd, f->sc->data);
		t->data = f->sc->data[0] == '3';
	} else if (is_cmd(b, len, "RSET")) {
		t->mail = t->rcpt = false;
		say(fd, "250 2.0.0 ok\r\n");
	} else
		say(fd, "500 5.5.2 what?\r\n");
	return true;
}

static void
serve(struct fake *f, int fd)
{
	char b[4096], *nl;
	size_t have = 0, len;
	ssize_t r;
	struct txn t = { false, false, false };
	bool more = true;

	say(fd, "220 fake ESMTP\r\n");
	while (more) {
		while ((nl = memchr(b, '\n', have)) == NULL) {
			if (have == sizeof(b))
				have = 0; /* a body line we need not keep */
			r = recv(fd, b + have, sizeof(b) - have, 0);
			if (r <= 0)
				return;
			have += (size_t)r;
		}
		len = (size_t)(nl - b) + 1;
		if (t.data) {
			if (len == 3 && memcmp(b, ".\r\n", 3) == 0) {
				t.data = t.mail = t.rcpt = false;
				f->nbodies++;
				say(fd, f->sc->dot);
			}
		} else
			more = answer(f, fd, b, len, &t);
		memmove(b, b + len, have - len);
		have -= len;
	}
}

static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	int fd;

	while ((fd = accept(f->lfd, NULL, NULL)) != -1) {
		serve(f, fd);
		(void)close(fd);
	}
	return NULL;
}

static void
fake_start(struct fake *f, const struct script *sc)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

	memset(f, 0, sizeof(*f));
	f->sc = sc;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((f->lfd = socket(AF_INET, SOCK_STREAM, 0)) != -1);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lfd, 4), 0);
	assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&sa, &sl), 0);
	f->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void
fake_stop(struct fake *f)
{
	(void)shutdown(f->lfd, SHUT_RDWR); /* accept() returns */
	(void)pthread_join(f->th, NULL);
	(void)close(f->lfd);
}

/* ---- too big ---------------------------------------------------------- */

#define OK250 "250 2.0.0 ok\r\n"
#define GO354 "354 go on\r\n"

struct big_case {
	const char *name;
	struct script sc;
	enum tern_err want;
	unsigned want_code; /* tern_conn_reply(); 0: none */
	unsigned want_bodies;
};

static const struct big_case big_cases[] = {
	{ "ehlo-size-below-message", { 100, OK250, OK250, GO354, OK250 },
	    TERN_E_TOO_BIG, 0, 0 },
	{ "ehlo-size-above-message", { 100000, OK250, OK250, GO354, OK250 },
	    TERN_OK, 0, 1 },
	{ "552-to-mail", { 0, "552 5.3.4 too big\r\n", OK250, GO354, OK250 },
	    TERN_E_TOO_BIG, 552, 0 },
	{ "552-to-data", { 0, OK250, OK250, "552 5.3.4 too big\r\n", OK250 },
	    TERN_E_TOO_BIG, 552, 0 },
	{ "552-after-dot",
	    { 0, OK250, OK250, GO354, "552 5.3.4 message too big\r\n" },
	    TERN_E_TOO_BIG, 552, 1 },
	{ "552-no-esc-after-dot", { 0, OK250, OK250, GO354, "552 big\r\n" },
	    TERN_E_TOO_BIG, 552, 1 },
	{ "554-5.3.4-after-dot",
	    { 0, OK250, OK250, GO354, "554 5.3.4 too big\r\n" }, TERN_E_TOO_BIG,
	    554, 1 },
	{ "554-5.2.3-after-dot",
	    { 0, OK250, OK250, GO354, "554 5.2.3 over the limit\r\n" },
	    TERN_E_TOO_BIG, 554, 1 },
	/* Not about size: the other refusals keep their errors. */
	{ "554-5.7.1-after-dot",
	    { 0, OK250, OK250, GO354, "554 5.7.1 spam\r\n" }, TERN_E_REPLY, 554,
	    1 },
	{ "550-to-mail", { 0, "550 5.7.1 no\r\n", OK250, GO354, OK250 },
	    TERN_E_REPLY, 550, 0 },
	{ "452-size-to-mail",
	    { 0, "452 4.3.1 insufficient storage\r\n", OK250, GO354, OK250 },
	    TERN_E_REPLY, 452, 0 },
	{ "552-to-rcpt-is-too-many-rcpts",
	    { 0, OK250, "552 5.5.3 too many recipients\r\n", GO354, OK250 },
	    TERN_E_RCPT, 0, 0 },
};

/* A message of about 1000 bytes to one recipient; the error. */
static enum tern_err
send_one(unsigned port, unsigned *code_out, struct tern_conn **c_out)
{
	static const char *const rcpt[] = { "a@example.test" };
	char body[1100];
	struct tern_conn *c;
	enum tern_err e;
	size_t i;

	(void)snprintf(body, sizeof(body), "Subject: big\r\n\r\n");
	for (i = strlen(body); i + 61 < 1000; i += 61)
		(void)snprintf(body + i, sizeof(body) - i, "%059zu\r\n", i);
	assert_non_null(c = tern_conn_new());
	tern_conn_set_timeouts(c, 10, 10);
	assert_int_equal(tern_conn_set_tls(c, TERN_TLS_NONE), TERN_OK);
	assert_int_equal(tern_connect(c, "127.0.0.1", port), TERN_OK);
	e = tern_send(c, "s@example.test", rcpt, 1, body, strlen(body));
	*code_out = tern_conn_reply(c, NULL, NULL);
	*c_out = c;
	return e;
}

static void
test_too_big(void **state)
{
	const struct big_case *bc;
	const struct tern_rcpt_result *r;
	struct tern_conn *c;
	struct fake f;
	enum tern_err e;
	unsigned code;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(big_cases) / sizeof(big_cases[0]); i++) {
		bc = &big_cases[i];
		fake_start(&f, &bc->sc);
		e = send_one(f.port, &code, &c);
		if (e != bc->want)
			fail_msg("%s: got %s (%s)", bc->name, tern_strerror(e),
			    tern_conn_errmsg(c));
		if (code != bc->want_code)
			fail_msg("%s: reply %u", bc->name, code);
		assert_non_null(r = tern_conn_result(c, 0));
		assert_true(r->accepted == (bc->want == TERN_OK));
		if (bc->want == TERN_E_TOO_BIG && bc->sc.size_max != 0) {
			/* Refused before MAIL: the library's reason. */
			assert_int_equal(r->code, 0);
			assert_non_null(strstr(r->text, "SIZE"));
			assert_non_null(
			    strstr(tern_conn_errmsg(c), "nothing was sent"));
			assert_true(tern_conn_is_connected(c));
		}
		tern_conn_free(c); /* QUIT: the server thread is done */
		fake_stop(&f);
		if (f.nbodies != bc->want_bodies)
			fail_msg("%s: %u bodies sent", bc->name, f.nbodies);
		if (bc->sc.size_max == 100)
			assert_int_equal(f.ndata, 0);
	}
}

static void
test_strerror(void **state)
{
	(void)state;
	/* Appended last: the numbers of the others did not move (ABI). */
	assert_int_equal(TERN_E_TOO_BIG, TERN_E_UNSUPPORTED + 1);
	assert_int_equal(TERN_E_UNSUPPORTED, 14);
	assert_string_equal(tern_strerror(TERN_E_TOO_BIG),
	    "the message is too big for the server");
	assert_string_equal(tern_strerror((enum tern_err)(TERN_E_TOO_BIG + 1)),
	    "unknown error");
}

/* ---- OpenSSL's allocation failures ------------------------------------ */

static void
test_err_is_nomem(void **state)
{
	static const struct {
		const char *name;
		unsigned long e;
		bool want;
	} cases[] = {
		{ "ssl-malloc", ERR_PACK(ERR_LIB_SSL, 0, ERR_R_MALLOC_FAILURE),
		    true },
		{ "evp-malloc", ERR_PACK(ERR_LIB_EVP, 0, ERR_R_MALLOC_FAILURE),
		    true },
		{ "x509-malloc",
		    ERR_PACK(ERR_LIB_X509, 0, ERR_R_MALLOC_FAILURE), true },
		{ "sys-enomem", ERR_SYSTEM_FLAG | ENOMEM, true },
		{ "none", 0, false },
		{ "ssl-version",
		    ERR_PACK(ERR_LIB_SSL, 0, SSL_R_WRONG_VERSION_NUMBER),
		    false },
		{ "ssl-internal",
		    ERR_PACK(ERR_LIB_SSL, 0, ERR_R_INTERNAL_ERROR), false },
		{ "sys-econnreset", ERR_SYSTEM_FLAG | ECONNRESET, false },
		/* 256 without the common flags is some library's own
		 * reason, not ERR_R_MALLOC_FAILURE. */
		{ "reason-256-not-common", ERR_PACK(ERR_LIB_SSL, 0, 256),
		    false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (client_tls_err_is_nomem(cases[i].e) != cases[i].want)
			fail_msg("%s: %lx", cases[i].name, cases[i].e);
}

static void
test_drain_injected(void **state)
{
	char text[160];

	(void)state;
	/* As any SSL call would have: error strings loaded. */
	assert_int_equal(OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS |
	                                      OPENSSL_INIT_LOAD_CRYPTO_STRINGS,
	                     NULL),
	    1);
	ERR_clear_error();
	/* Empty queue: nothing, "". */
	assert_false(client_tls_drain_errors(text, sizeof(text)));
	assert_string_equal(text, "");
	/* A TLS error is not memory; its text is kept. */
	ERR_raise(ERR_LIB_SSL, SSL_R_WRONG_VERSION_NUMBER);
	assert_false(client_tls_drain_errors(text, sizeof(text)));
	assert_non_null(strstr(text, "wrong version number"));
	assert_int_equal(ERR_peek_error(), 0);
	/* The allocation failure under the errors of its callers. */
	ERR_raise(ERR_LIB_EVP, ERR_R_MALLOC_FAILURE);
	ERR_raise(ERR_LIB_SSL, ERR_R_EVP_LIB);
	ERR_raise(ERR_LIB_SSL, ERR_R_INTERNAL_ERROR);
	assert_true(client_tls_drain_errors(text, sizeof(text)));
	assert_non_null(strstr(text, "malloc failure"));
	assert_int_equal(ERR_peek_error(), 0); /* emptied */
	/* A system ENOMEM (BIO, socket calls). */
	ERR_raise(ERR_LIB_SYS, ENOMEM);
	assert_true(client_tls_drain_errors(NULL, 0));
	assert_int_equal(ERR_peek_error(), 0);
}

/*
 * OpenSSL's allocator, failing on demand: set before OpenSSL allocates
 * anything (main), so that every block it frees was ours.
 */
static bool ossl_fail;

static void *
ossl_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return ossl_fail ? NULL : malloc(n);
}

static void *
ossl_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return ossl_fail ? NULL : realloc(p, n);
}

static void
ossl_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

static void
test_connect_ssl_nomem(void **state)
{
	static const struct script sc = { 0, OK250, OK250, GO354, OK250 };
	struct tern_conn *c;
	struct fake f;
	enum tern_err e;
	SSL_CTX *warm;

	(void)state;
	/* Initialise OpenSSL and this thread's error state first: a
	 * failed one-time init would stay failed for the whole process. */
	assert_non_null(warm = SSL_CTX_new(TLS_client_method()));
	SSL_CTX_free(warm);
	ERR_raise(ERR_LIB_SSL, ERR_R_INTERNAL_ERROR);
	ERR_clear_error();
	fake_start(&f, &sc);
	assert_non_null(c = tern_conn_new());
	tern_conn_set_timeouts(c, 10, 10);
	ossl_fail = true;
	e = tern_connect(c, "127.0.0.1", f.port); /* STARTTLS: SSL_CTX */
	ossl_fail = false;
	if (e != TERN_E_NOMEM)
		fail_msg("got %s (%s)", tern_strerror(e), tern_conn_errmsg(c));
	assert_false(tern_conn_is_connected(c));
	tern_conn_free(c);
	fake_stop(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_err_is_nomem),
		cmocka_unit_test(test_drain_injected),
		cmocka_unit_test(test_connect_ssl_nomem),
	};

	if (CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free) != 1)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
