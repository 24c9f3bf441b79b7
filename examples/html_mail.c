/* SPDX-License-Identifier: ISC */
/*
 * examples/html_mail.c - send an HTML mail with a plain-text alternative
 * and an attachment with libtern, and tell a temporary failure (try
 * again later) from a permanent one (do not).
 *
 *   cc html_mail.c $(pkg-config --cflags --libs tern) -o html_mail
 *   ./html_mail HOST PORT FROM TO
 *
 * Plain SMTP, as to `tern capture` or a local tern on loopback; for a
 * submission server add tern_conn_set_tls(c, TERN_TLS_STARTTLS) (the
 * default) and tern_conn_set_auth(). Exit status: 0 sent, 75 temporary
 * failure (keep the message and retry with backoff), 69 permanent
 * failure (do not retry; tell someone), 64 usage. The message is
 * rendered once and those bytes are what a retry sends again, so that
 * every try carries the same Message-ID (printed on success).
 * docs/sending-from-applications.md explains the choices made here.
 * Trust: an example; argv is the user's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/tern.h>

static const char text[] = "Hello,\n"
                           "\n"
                           "your monthly report is attached (report.csv).\n"
                           "\n"
                           "-- \n"
                           "Example app\n";

static const char html[] =
    "<!doctype html>\n"
    "<html><body>\n"
    "<p>Hello,</p>\n"
    "<p>your <b>monthly report</b> is attached (report.csv).</p>\n"
    "<p>-- <br>Example app</p>\n"
    "</body></html>\n";

static const char csv[] = "month,messages\n2026-11,1234\n2026-12,1300\n";

/* Is e (with the server's reply, if any) worth retrying later? */
static int
is_temporary(const struct tern_conn *c, enum tern_err e)
{
	const struct tern_rcpt_result *r;
	size_t i;

	switch (e) {
	case TERN_E_DNS:
	case TERN_E_CONNECT:
	case TERN_E_TIMEOUT:
	case TERN_E_PROTOCOL: /* lost: a retry may duplicate (Message-ID) */
		return 1;
	case TERN_E_REPLY:
	case TERN_E_AUTH:
		return tern_conn_reply(c, NULL, NULL) / 100 == 4;
	case TERN_E_RCPT: /* retry only the recipients refused with 4xx */
		for (i = 0; (r = tern_conn_result(c, i)) != NULL; i++)
			if (!r->accepted && r->code / 100 == 4)
				return 1;
		return 0;
	default: /* TOO_BIG, TLS_VERIFY, INVAL...: the same try fails */
		return 0;
	}
}

static struct tern_msg *
build(const char *from, const char *to)
{
	struct tern_msg *m;

	if ((m = tern_msg_new()) == NULL)
		return NULL;
	if (tern_msg_set_from(m, "Example app", from) != TERN_OK ||
	    tern_msg_add_to(m, NULL, to) != TERN_OK ||
	    tern_msg_set_subject(m, "Your monthly report") != TERN_OK ||
	    tern_msg_set_text(m, text, strlen(text)) != TERN_OK ||
	    tern_msg_set_html(m, html, strlen(html)) != TERN_OK ||
	    tern_msg_attach(m, "report.csv", csv, strlen(csv), "text/csv") !=
	        TERN_OK) {
		tern_msg_free(m);
		return NULL;
	}
	return m;
}

/* Print the Message-ID header's value (what to keep with the job). */
static void
print_msgid(const char *msg, size_t len)
{
	const char *p = strstr(msg, "\r\nMessage-ID: "), *end;

	if (p == NULL || (size_t)(p - msg) >= len)
		return;
	p += strlen("\r\nMessage-ID: ");
	if ((end = strstr(p, "\r\n")) != NULL)
		printf("sent %.*s\n", (int)(end - p), p);
}

int
main(int argc, char **argv)
{
	const struct tern_rcpt_result *r;
	const char *rcpts[1];
	struct tern_conn *c;
	struct tern_msg *m;
	enum tern_err e;
	char *msg = NULL;
	size_t i, len;
	int rc;

	if (argc != 5) {
		fprintf(stderr, "usage: html_mail HOST PORT FROM TO\n");
		return 64;
	}
	rcpts[0] = argv[4];
	if ((m = build(argv[3], argv[4])) == NULL ||
	    tern_msg_render(m, &msg, &len) != TERN_OK) {
		fprintf(stderr, "html_mail: cannot build the message\n");
		tern_msg_free(m);
		return 64;
	}
	tern_msg_free(m);
	if ((c = tern_conn_new()) == NULL) {
		free(msg);
		return 75;
	}
	tern_conn_set_tls(c, TERN_TLS_NONE); /* loopback only */
	tern_conn_set_timeouts(c, 10, 60);
	if ((e = tern_connect(c, argv[1], (unsigned)atoi(argv[2]))) == TERN_OK)
		e = tern_send(c, argv[3], rcpts, 1, msg, len);
	for (i = 0; (r = tern_conn_result(c, i)) != NULL; i++)
		if (!r->accepted)
			fprintf(stderr, "html_mail: <%s> refused: %u %s %s\n",
			    r->addr, r->code, r->enhanced, r->text);
	if (e == TERN_OK) {
		print_msgid(msg, len);
		rc = 0;
	} else {
		rc = is_temporary(c, e) ? 75 : 69;
		fprintf(stderr, "html_mail: %s (%s): %s\n", tern_strerror(e),
		    rc == 75 ? "temporary, retry later" : "permanent",
		    tern_conn_errmsg(c));
	}
	tern_conn_free(c);
	free(msg);
	return rc;
}
