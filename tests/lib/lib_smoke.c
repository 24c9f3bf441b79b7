/* SPDX-License-Identifier: ISC */
/*
 * tests/lib/lib_smoke.c - drives libtern.so for the integration tests:
 *
 *   lib_smoke HOST PORT none|starttls|implicit CAFILE|- USER|- NMSGS
 *             FROM RCPT...
 *
 * Connects once, sends NMSGS messages over that one connection (the
 * password is TERN_PASSWORD), and prints one line per recipient per
 * message: "MSG i RCPT addr accepted|refused code esc text", then
 * "RESULT err-name errmsg". Exit 0 when every call succeeded.
 * Trust: test input only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/tern.h>

static int
done(struct tern_conn *c, enum tern_err e)
{
	printf("RESULT %d %s | %s\n", (int)e, tern_strerror(e),
	    tern_conn_errmsg(c));
	tern_conn_free(c);
	return e == TERN_OK ? 0 : 1;
}

int
main(int argc, char **argv)
{
	static const char body[] = "Subject: smoke\nFrom: <x@example.org>\n"
	                           "\n.leading dot\nbody\n";
	const struct tern_rcpt_result *r;
	struct tern_conn *c;
	enum tern_err e, last = TERN_OK;
	long n, i;
	size_t j;

	if (argc < 9 || (c = tern_conn_new()) == NULL)
		return 64;
	(void)tern_conn_set_tls(c, strcmp(argv[3], "starttls") == 0
	        ? TERN_TLS_STARTTLS
	        : strcmp(argv[3], "implicit") == 0 ? TERN_TLS_IMPLICIT
	                                           : TERN_TLS_NONE);
	if (strcmp(argv[4], "-") != 0)
		(void)tern_conn_set_ca(c, argv[4], NULL);
	if (strcmp(argv[5], "-") != 0 &&
	    tern_conn_set_auth(c, argv[5], getenv("TERN_PASSWORD") != NULL
	                           ? getenv("TERN_PASSWORD")
	                           : "") != TERN_OK)
		return 64;
	if ((e = tern_connect(c, argv[1], (unsigned)strtoul(argv[2], NULL,
	                                      10))) != TERN_OK)
		return done(c, e);
	printf("CONNECTED tls=%d\n", tern_conn_is_tls(c));
	n = strtol(argv[6], NULL, 10);
	for (i = 0; i < n; i++) {
		e = tern_send(c, argv[7], (const char *const *)argv + 8,
		    (size_t)(argc - 8), body, sizeof(body) - 1);
		for (j = 0; (r = tern_conn_result(c, j)) != NULL; j++)
			printf("MSG %ld RCPT %s %s %u %s %s\n", i, r->addr,
			    r->accepted ? "accepted" : "refused", r->code,
			    r->enhanced[0] ? r->enhanced : "-", r->text);
		if (e != TERN_OK)
			last = e;
		if (!tern_conn_is_connected(c))
			break;
	}
	tern_quit(c);
	return done(c, last);
}
