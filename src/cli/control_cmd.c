/* SPDX-License-Identifier: ISC */
/*
 * cli/control_cmd.c - a request to the running server (`tern queue
 * flush|retry|hold|release|delete`, `tern reload`), and its answer told
 * to the person as it came: a command never reports success it did not
 * get from the server.
 * Trust: the answer is the server's (local, trusted), printed as text.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "deliver/tlsrpt_store.h"
#include "ops/control.h"

int
cli_control(const struct conf *conf, const char *cmd, const char *request)
{
	enum control_status st;
	struct why why;
	char path[4096], *text = NULL;
	int rc;

	if (control_socket_path(conf->data_dir, path, sizeof(path)) == -1) {
		fprintf(stderr,
		    "tern: %s: data_dir %s is too long for the "
		    "control socket\n",
		    cmd, conf->data_dir);
		return EX_CONFIG;
	}
	if (control_ask(path, request, &st, &text, &why) == -1) {
		switch (why.sys_errno) {
		case ENOENT:
		case ECONNREFUSED:
			fprintf(stderr,
			    "tern: %s: no server is running on data_dir %s "
			    "(nothing answers at %s); nothing was done\n",
			    cmd, conf->data_dir, path);
			return EX_UNAVAILABLE;
		case EACCES:
		case EPERM:
			fprintf(stderr,
			    "tern: %s: %s: permission denied: only root and "
			    "the server's user may ask it; nothing was done\n",
			    cmd, path);
			return EX_NOPERM;
		case ETIMEDOUT:
			fprintf(stderr,
			    "tern: %s: %s; it may or may not have been done "
			    "(see the server's log)\n",
			    cmd, why.text);
			return EX_TEMPFAIL;
		default:
			fprintf(stderr, "tern: %s: %s; nothing was done\n", cmd,
			    why.text);
			return EX_UNAVAILABLE;
		}
	}
	switch (st) {
	case CONTROL_OK:
		fputs(text, stdout);
		rc = 0;
		break;
	case CONTROL_FAIL:
		fprintf(stderr, "tern: %s: %s", cmd, text);
		rc = 1;
		break;
	default:
		fprintf(stderr, "tern: %s: refused: %s", cmd, text);
		rc = EX_NOPERM;
		break;
	}
	if (text[0] != '\0' && text[strlen(text) - 1] != '\n')
		fputc('\n', st == CONTROL_OK ? stdout : stderr);
	free(text);
	return rc;
}

void
cli_tlsrpt_usage(FILE *f)
{
	fputs("usage: tern [-c FILE] tlsrpt send [--day YYYY-MM-DD]\n"
	      "Ask the running server to send its TLS-RPT reports (RFC 8460) "
	      "now: for each\n"
	      "domain with counts (of every day kept, or of that UTC day) "
	      "that publishes\n"
	      "an _smtp._tls record, the gzip'd JSON report to each of its "
	      "rua (mailto:\n"
	      "through the queue, https: POST). It prints what went where. "
	      "Exit 0 when a\n"
	      "report was sent, 1 when none could be (no counts, no record, "
	      "all failed),\n"
	      "69 when no server runs.\n",
	    f);
}

int
cli_tlsrpt(const struct conf *conf, int argc, char **argv)
{
	char req[64];

	/* argv[0] is "tlsrpt". */
	if (argc == 2 && strcmp(argv[1], "send") == 0)
		return cli_control(conf, "tlsrpt send", "tlsrpt send");
	if (argc == 4 && strcmp(argv[1], "send") == 0 &&
	    strcmp(argv[2], "--day") == 0) {
		if (!tlsrpt_day_parse(argv[3], NULL)) {
			fprintf(stderr, "tern: tlsrpt send: --day: not a day: "
			                "%s (YYYY-MM-DD)\n",
			    argv[3]);
			return EX_USAGE;
		}
		(void)snprintf(req, sizeof(req), "tlsrpt send %s", argv[3]);
		return cli_control(conf, "tlsrpt send", req);
	}
	cli_tlsrpt_usage(stderr);
	return EX_USAGE;
}
