/* SPDX-License-Identifier: ISC */
/*
 * examples/send.c - send one message with libtern.
 *
 *   cc send.c $(pkg-config --cflags --libs tern) -o send
 *   ./send HOST PORT FROM TO
 *
 * Plain SMTP (add tern_conn_set_tls(c, TERN_TLS_STARTTLS) and
 * tern_conn_set_auth() for a submission server).
 * Trust: an example; argv is the user's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/tern.h>

int
main(int argc, char **argv)
{
	struct tern_conn *c = tern_conn_new();
	struct tern_msg *m = tern_msg_new();
	const char *text = "Hello from libtern.\n";
	enum tern_err e;

	if (argc != 5 || c == NULL || m == NULL) {
		fprintf(stderr, "usage: send HOST PORT FROM TO\n");
		return 64;
	}
	tern_conn_set_tls(c, TERN_TLS_NONE);
	tern_msg_set_from(m, "Example", argv[3]);
	tern_msg_add_to(m, NULL, argv[4]);
	tern_msg_set_subject(m, "libtern example");
	tern_msg_set_text(m, text, strlen(text));
	if ((e = tern_connect(c, argv[1], (unsigned)atoi(argv[2]))) == TERN_OK)
		e = tern_send_msg(c, m);
	if (e != TERN_OK)
		fprintf(stderr, "send: %s\n", tern_conn_errmsg(c));
	tern_msg_free(m);
	tern_conn_free(c);
	return e == TERN_OK ? 0 : 1;
}
