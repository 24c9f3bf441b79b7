/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for libtern under allocation failure (curl's torture idea,
 * tests/unit/failalloc.h): building and rendering a message, and a
 * connection that sends two messages to a scripted server on loopback.
 * Each allocation on the path fails once in turn; every time the call
 * that met it says TERN_E_NOMEM (or NULL where tern.h says so), nothing
 * aborts, and under ASan nothing leaks.
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

#include "tern/tern.h"

#include "failalloc.h"

/* ---- building a message --------------------------------------------- */

static char attach_path[64];

static enum tern_err
build(struct tern_msg **m_out)
{
	static const uint8_t bin[300] = { 0, 1, 2, 0xff, '\r', '\n', '.' };
	static const char text[] = "Grüße,\n.a dot\nand a line long enough "
	                           "to be worth folding or encoding, twice "
	                           "over, so that the buffer has to grow.\n";
	struct tern_msg *m;
	enum tern_err e;

	if ((*m_out = m = tern_msg_new()) == NULL)
		return TERN_E_NOMEM;
	if ((e = tern_msg_set_from(m, "Zoë Ünïcödé", "z@example.org")) ||
	    (e = tern_msg_set_reply_to(m, "Reply", "r@example.org")) ||
	    (e = tern_msg_add_to(m, "Ann", "a@example.test")) ||
	    (e = tern_msg_add_to(m, NULL, "b@example.test")) ||
	    (e = tern_msg_add_cc(m, "Çé", "c@example.test")) ||
	    (e = tern_msg_add_bcc(m, "d@example.test")) ||
	    (e = tern_msg_set_subject(m, "Ünïcödé subject, long enough to "
	                                 "need more than one encoded word")) ||
	    (e = tern_msg_set_text(m, text, sizeof(text) - 1)) ||
	    (e = tern_msg_set_html(m, "<p>hi</p>", 9)) ||
	    (e = tern_msg_attach(m, "/x/data.bin", bin, sizeof(bin), NULL)) ||
	    (e = tern_msg_attach(m, "naïve name.txt", "x", 1, "text/plain")))
		return e;
	return tern_msg_attach_file(m, attach_path, NULL);
}

/* Build and render: the first error, or TERN_OK with *out set. */
static enum tern_err
build_render(char **out, size_t *len)
{
	struct tern_msg *m;
	enum tern_err e;

	*out = NULL;
	if ((e = build(&m)) == TERN_OK)
		e = tern_msg_render(m, out, len);
	tern_msg_free(m);
	return e;
}

static void
make_attach_file(void)
{
	char data[5000];
	int fd;

	(void)snprintf(attach_path, sizeof(attach_path),
	    "/tmp/tern-nomem-XXXXXX");
	assert_true((fd = mkstemp(attach_path)) != -1);
	memset(data, 'z', sizeof(data));
	assert_int_equal(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	(void)close(fd);
}

static void
test_msg_nomem(void **state)
{
	enum tern_err e;
	unsigned long n;
	char *out;
	size_t len;

	(void)state;
	make_attach_file();
	for (n = 0;; n++) {
		failalloc_arm(n);
		e = build_render(&out, &len);
		if (!failalloc_disarm())
			break;
		if (e != TERN_E_NOMEM)
			fail_msg("allocation %lu failed: got %s", n,
			    tern_strerror(e));
		assert_null(out);
	}
	(void)unlink(attach_path);
	if (e != TERN_OK || out == NULL) {
		fail_msg("nothing failed, yet: %s", tern_strerror(e));
		return;
	}
	assert_true(n > 30); /* every setter, the attachments, the render */
	assert_non_null(strstr(out, "MIME-Version: 1.0\r\n"));
	assert_non_null(strstr(out, "filename*=UTF-8''na%C3%AFve"));
	assert_true(len > 5000 * 4 / 3);
	free(out);
}

/* ---- a connection ---------------------------------------------------- */

/*
 * A scripted SMTP server on 127.0.0.1, one client at a time: 220, then
 * 250 to EHLO/MAIL/RCPT/RSET, 354 to DATA and 250 after the dot, 221 to
 * QUIT. It allocates nothing (the wrappers count every thread).
 */
struct fake {
	int lfd;
	unsigned port;
	pthread_t th;
};

static void
say(int fd, const char *s)
{
	(void)send(fd, s, strlen(s), MSG_NOSIGNAL);
}

static void
serve(int fd)
{
	char b[4096], *nl;
	size_t have = 0, len;
	ssize_t r;
	bool data = false;

	say(fd, "220 fake ESMTP\r\n");
	for (;;) {
		while ((nl = memchr(b, '\n', have)) == NULL) {
			if (have == sizeof(b))
				have = 0; /* overlong: not from libtern */
			r = recv(fd, b + have, sizeof(b) - have, 0);
			if (r <= 0)
				return;
			have += (size_t)r;
		}
		len = (size_t)(nl - b) + 1;
		if (data) {
			if (len == 3 && memcmp(b, ".\r\n", 3) == 0) {
				data = false;
				say(fd, "250 2.0.0 queued\r\n");
			}
		} else if (len >= 4 && strncasecmp(b, "QUIT", 4) == 0) {
			say(fd, "221 2.0.0 bye\r\n");
			return;
		} else if (len >= 4 && strncasecmp(b, "DATA", 4) == 0) {
			data = true;
			say(fd, "354 go on\r\n");
		} else if (len >= 4 && (strncasecmp(b, "EHLO", 4) == 0 ||
		                           strncasecmp(b, "MAIL", 4) == 0 ||
		                           strncasecmp(b, "RCPT", 4) == 0 ||
		                           strncasecmp(b, "RSET", 4) == 0))
			say(fd, "250 2.0.0 ok\r\n");
		else
			say(fd, "500 5.5.2 what?\r\n");
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
		serve(fd);
		(void)close(fd);
	}
	return NULL;
}

static void
fake_start(struct fake *f)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

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

/* Connect, send a raw message and a built one, quit: the first error. */
static enum tern_err
session(unsigned port)
{
	static const char *const rcpts[] = { "a@example.test",
		"b@example.test" };
	char body[3000];
	struct tern_conn *c;
	struct tern_msg *m = NULL;
	enum tern_err e;
	size_t i;

	/* LF line ends (made CRLF) and a leading dot (stuffed). */
	(void)snprintf(body, sizeof(body), "Subject: t\n\n.dot\n");
	for (i = strlen(body); i + 61 < sizeof(body); i += 61)
		(void)snprintf(body + i, sizeof(body) - i, "%060zu\n", i);
	if ((c = tern_conn_new()) == NULL)
		return TERN_E_NOMEM;
	tern_conn_set_timeouts(c, 10, 10);
	if ((e = tern_conn_set_tls(c, TERN_TLS_NONE)) ||
	    (e = tern_conn_set_ca(c, "/nonexistent/ca.pem", "/nonexistent")) ||
	    (e = tern_conn_set_helo(c, "client.test")) ||
	    (e = tern_connect(c, "127.0.0.1", port)) ||
	    (e = tern_send(c, "s@example.test", rcpts, 2, body, strlen(body))))
		goto out;
	if (tern_conn_nresults(c) != 2 || !tern_conn_result(c, 1)->accepted)
		fail_msg("results: %zu", tern_conn_nresults(c));
	if ((m = tern_msg_new()) == NULL) {
		e = TERN_E_NOMEM;
		goto out;
	}
	if ((e = tern_msg_set_from(m, NULL, "s@example.test")) ||
	    (e = tern_msg_add_to(m, NULL, "a@example.test")) ||
	    (e = tern_msg_set_text(m, body, strlen(body))))
		goto out;
	e = tern_send_msg(c, m);
out:
	if (e != TERN_OK && e != TERN_E_NOMEM)
		print_message("error: %s\n", tern_conn_errmsg(c));
	tern_msg_free(m);
	tern_conn_free(c);
	return e;
}

static void
test_conn_nomem(void **state)
{
	struct fake f;
	enum tern_err e;
	unsigned long n;

	(void)state;
	fake_start(&f);
	assert_int_equal(session(f.port), TERN_OK); /* the script works */
	for (n = 0;; n++) {
		failalloc_arm(n);
		e = session(f.port);
		if (!failalloc_disarm())
			break;
		if (e != TERN_E_NOMEM)
			fail_msg("allocation %lu failed: got %s", n,
			    tern_strerror(e));
	}
	fake_stop(&f);
	assert_int_equal(e, TERN_OK);
	assert_true(n > 15); /* handle, engine, results, body, commands */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msg_nomem),
		cmocka_unit_test(test_conn_nomem),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
