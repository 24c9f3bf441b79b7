/* SPDX-License-Identifier: ISC */
/*
 * cli/send.c - `tern send`: build a message from the command line and
 * stdin and submit it to a server with libtern (include/tern/tern.h),
 * like msmtp or swaks.
 *
 * Exit codes (sysexits.h): 0 every recipient accepted; 64 usage; 66 an
 * input file cannot be read; 68 the server name does not resolve; 69
 * cannot connect, or a permanent (5xx) refusal, the message being too
 * big for the server among them (TERN_E_TOO_BIG); 65 some recipients
 * refused; 75 temporary failure (4xx, timeout); 76 TLS or protocol
 * failure (including an untrusted certificate); 77 login refused.
 * Trust: argv and stdin are the local user's. The password comes from
 * TERN_PASSWORD, --password-file or the terminal (echo off), never
 * argv, and is wiped after use; -v never prints it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/tty.h"
#include "tern/tern.h"
#include "util/log.h"
#include "util/str.h"

#define PW_MAX 512
#define BODY_MAX (64u * 1024 * 1024)

struct send_opts {
	char host[256];
	unsigned port;
	enum tern_tls tls;
	const char *user, *pwfile, *from, *subject, *html, *ca_file, *helo;
	bool insecure, verbose;
};

void
cli_send_usage(FILE *f)
{
	fputs("usage: tern send --server HOST[:PORT] [--starttls|--tls] "
	      "[--user U]\n"
	      "                 [--password-file F] --from A --to B [--to "
	      "...] [--cc C]\n"
	      "                 [--subject S] [--attach FILE]... [--html "
	      "FILE]\n"
	      "                 [--ca-file F] [--insecure] [--helo NAME] [-v]"
	      " < body\n"
	      "The password is read from TERN_PASSWORD, --password-file, or"
	      " the terminal.\n"
	      "--insecure: INSECURE, do not check the server's certificate "
	      "(testing only).\n",
	    f);
}

static void
send_usage(void)
{
	cli_send_usage(stderr);
}

/* "host", "host:port", "[v6]:port"; 0 or -1. */
static int
parse_server(const char *s, struct send_opts *o)
{
	const char *colon, *end;
	size_t n;
	uint64_t port = 0;

	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL)
			return -1;
		n = (size_t)(end - s - 1);
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && colon == NULL)
			return -1;
		s++;
	} else {
		colon = strrchr(s, ':');
		n = colon != NULL ? (size_t)(colon - s) : strlen(s);
	}
	if (n == 0 || n >= sizeof(o->host))
		return -1;
	memcpy(o->host, s, n);
	o->host[n] = '\0';
	if (colon != NULL &&
	    (!str_to_u64(colon + 1, 65535, &port) || port == 0))
		return -1;
	o->port = (unsigned)port;
	return 0;
}

/* -v: the dialogue on stderr, "C: " and "S: ", controls escaped. */
static void
trace_line(void *arg, bool sent, const char *line)
{
	size_t i;

	(void)arg;
	fputs(sent ? "C: " : "S: ", stderr);
	for (i = 0; line[i] != '\0'; i++) {
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			fprintf(stderr, "\\x%02x", (unsigned char)line[i]);
		else
			fputc(line[i], stderr);
	}
	fputc('\n', stderr);
}

/* One line from the terminal with echo off, into pw. */
static int
ask_password(const char *user, char *pw, size_t pwsz)
{
	char text[300];
	FILE *tty;
	enum cli_tty_status st;

	if ((tty = fopen("/dev/tty", "r+e")) == NULL)
		return -1;
	(void)snprintf(text, sizeof(text), "Password for %s: ", user);
	st = cli_tty_prompt(tty, text, pw, pwsz);
	(void)fclose(tty);
	return st == CLI_TTY_OK ? 0 : -1;
}

static int
get_password(const struct send_opts *o, char *pw, size_t pwsz)
{
	const char *env = getenv("TERN_PASSWORD");
	enum cli_tty_status st;
	FILE *f;

	if (o->pwfile != NULL) {
		if ((f = fopen(o->pwfile, "re")) == NULL) {
			fprintf(stderr, "tern: send: %s: %s\n", o->pwfile,
			    strerror(errno));
			return EX_NOINPUT;
		}
		st = cli_read_line(f, pw, pwsz);
		(void)fclose(f);
		if (st == CLI_TTY_TOO_LONG) {
			fprintf(stderr, "tern: send: %s: password too long\n",
			    o->pwfile);
			return EX_DATAERR;
		}
		return 0; /* an empty file is an empty password */
	}
	if (env != NULL) {
		if (strlcpy(pw, env, pwsz) >= pwsz)
			return EX_USAGE;
		return 0;
	}
	if (ask_password(o->user, pw, pwsz) == -1) {
		fprintf(stderr, "tern: send: no password: set TERN_PASSWORD, "
		                "use --password-file, or run on a terminal\n");
		return EX_USAGE;
	}
	return 0;
}

/* The usual cause of a server reply, for a person; NULL: none known. */
static const char *
explain_reply(unsigned code, const char *esc)
{
	if (code == 535 || strcmp(esc, "5.7.8") == 0)
		return "the server rejected the user name or password";
	if (code == 530 || strcmp(esc, "5.7.0") == 0)
		return "the server wants you to log in (--user) or to use TLS "
		       "(--starttls) first";
	if (strcmp(esc, "5.7.1") == 0)
		return "the server refuses to relay this for you: log in with "
		       "--user, or send only to the server's own domains";
	if (strcmp(esc, "5.1.1") == 0)
		return "no such mailbox at the destination: check the address";
	if (strcmp(esc, "5.1.8") == 0 || code == 553)
		return "the server refused the sender address (--from)";
	if (code == 552 || strcmp(esc, "5.3.4") == 0)
		return "the message is too big for the server";
	if (code == 421)
		return "the server is closing the connection (busy or shutting "
		       "down): try again later";
	if (code / 100 == 4)
		return "a temporary failure at the server: try again later";
	return NULL;
}

static const char *
explain_err(enum tern_err e)
{
	switch (e) {
	case TERN_E_DNS:
		return "check the server name (--server)";
	case TERN_E_CONNECT:
		return "nothing listens there or a firewall blocks it: check "
		       "the host and the port";
	case TERN_E_TLS_VERIFY:
		return "the certificate is not trusted for this name: give its"
		       " CA with --ca-file (--insecure only for tests)";
	case TERN_E_TLS:
		return "TLS failed: check --starttls/--tls against the port "
		       "(587: --starttls, 465: --tls)";
	case TERN_E_TIMEOUT:
		return "the server did not answer: check the port and the "
		       "network";
	case TERN_E_TOO_BIG:
		return "the message is too big for the server: send less (a "
		       "link instead of a large attachment)";
	default:
		return NULL;
	}
}

static int
exit_for(enum tern_err e, unsigned code)
{
	switch (e) {
	case TERN_OK:
		return 0;
	case TERN_E_DNS:
		return EX_NOHOST;
	case TERN_E_CONNECT:
		return EX_UNAVAILABLE;
	case TERN_E_TLS:
	case TERN_E_TLS_VERIFY:
	case TERN_E_PROTOCOL:
		return EX_PROTOCOL;
	case TERN_E_TIMEOUT:
		return EX_TEMPFAIL;
	case TERN_E_AUTH:
		return code / 100 == 4 ? EX_TEMPFAIL : EX_NOPERM;
	case TERN_E_REPLY:
		return code / 100 == 4 ? EX_TEMPFAIL : EX_UNAVAILABLE;
	case TERN_E_TOO_BIG: /* permanent: the same message fails again */
		return EX_UNAVAILABLE;
	case TERN_E_RCPT:
		return EX_DATAERR;
	case TERN_E_IO:
		return EX_NOINPUT;
	case TERN_E_INVAL:
	case TERN_E_UNSUPPORTED:
		return EX_USAGE;
	default:
		return EX_SOFTWARE;
	}
}

/* Say what failed, the reply, and its usual cause. */
static void
report(const struct tern_conn *c, enum tern_err e)
{
	const char *text, *why;
	char esc[16];
	unsigned code = tern_conn_reply(c, esc, &text);

	fprintf(stderr, "tern: send: %s\n", tern_conn_errmsg(c)[0] != '\0'
	                                        ? tern_conn_errmsg(c)
	                                        : tern_strerror(e));
	why = code != 0 ? explain_reply(code, esc) : explain_err(e);
	if (why != NULL)
		fprintf(stderr, "tern: send: %s\n", why);
}

static int
read_all(FILE *f, const char *name, char **out, size_t *len)
{
	size_t cap = 0, n = 0, r;
	char *p = NULL, *np;

	for (;;) {
		if (cap - n < 65536) {
			if (cap > BODY_MAX ||
			    (np = realloc(p, cap + 65536 + 1)) == NULL) {
				fprintf(stderr, "tern: send: %s: too big\n",
				    name);
				free(p);
				return EX_DATAERR;
			}
			p = np;
			cap += 65536;
		}
		r = fread(p + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "tern: send: read %s: %s\n", name,
		    strerror(errno));
		free(p);
		return EX_NOINPUT;
	}
	*out = p;
	*len = n;
	return 0;
}

static int
add_html(struct tern_msg *m, const char *path)
{
	FILE *f;
	char *p;
	size_t n;
	int rc;

	if ((f = fopen(path, "re")) == NULL) {
		fprintf(stderr, "tern: send: %s: %s\n", path, strerror(errno));
		return EX_NOINPUT;
	}
	rc = read_all(f, path, &p, &n);
	(void)fclose(f);
	if (rc != 0)
		return rc;
	if (tern_msg_set_html(m, p, n) != TERN_OK)
		rc = EX_SOFTWARE;
	free(p);
	return rc;
}

static int
run(struct send_opts *o, struct tern_msg *m)
{
	struct tern_conn *c;
	const struct tern_rcpt_result *r;
	char pw[PW_MAX];
	enum tern_err e;
	size_t i;
	int rc;

	if ((c = tern_conn_new()) == NULL)
		return EX_OSERR;
	(void)tern_conn_set_tls(c, o->tls);
	tern_conn_set_insecure(c, o->insecure);
	if (o->insecure)
		fprintf(stderr, "tern: send: warning: --insecure: the server's "
		                "certificate is not checked; anyone on the path "
		                "can read this session\n");
	if (o->ca_file != NULL)
		(void)tern_conn_set_ca(c, o->ca_file, NULL);
	if (o->verbose)
		tern_conn_set_trace(c, trace_line, NULL);
	if (o->helo != NULL && tern_conn_set_helo(c, o->helo) != TERN_OK) {
		tern_conn_free(c);
		return EX_USAGE;
	}
	if (o->user != NULL) {
		if ((rc = get_password(o, pw, sizeof(pw))) != 0) {
			tern_conn_free(c);
			return rc;
		}
		e = tern_conn_set_auth(c, o->user, pw);
		explicit_bzero(pw, sizeof(pw));
		if (e != TERN_OK) {
			tern_conn_free(c);
			return EX_USAGE;
		}
	}
	if (o->verbose)
		fprintf(stderr, "tern: send: connecting to %s port %u (%s)\n",
		    o->host, o->port,
		    o->tls == TERN_TLS_NONE       ? "no TLS"
		    : o->tls == TERN_TLS_STARTTLS ? "STARTTLS"
		                                  : "implicit TLS");
	if ((e = tern_connect(c, o->host, o->port)) != TERN_OK) {
		report(c, e);
		rc = exit_for(e, tern_conn_reply(c, NULL, NULL));
		tern_conn_free(c);
		return rc;
	}
	if (o->verbose)
		fprintf(stderr, "tern: send: connected%s%s%s\n",
		    tern_conn_is_tls(c) ? ", TLS verified" : ", not encrypted",
		    o->user != NULL ? ", logged in as " : "",
		    o->user != NULL ? o->user : "");
	e = tern_send_msg(c, m);
	for (i = 0; (r = tern_conn_result(c, i)) != NULL; i++)
		if (!r->accepted || o->verbose)
			fprintf(stderr, "tern: send: <%s>: %s%u %s%s%s\n",
			    r->addr, r->accepted ? "" : "refused: ", r->code,
			    r->enhanced, r->enhanced[0] ? " " : "", r->text);
	if (e != TERN_OK) {
		report(c, e);
		for (i = 0; (r = tern_conn_result(c, i)) != NULL; i++)
			if (!r->accepted &&
			    explain_reply(r->code, r->enhanced) != NULL) {
				fprintf(stderr, "tern: send: <%s>: %s\n",
				    r->addr,
				    explain_reply(r->code, r->enhanced));
			}
	}
	rc = exit_for(e, tern_conn_reply(c, NULL, NULL));
	if (e == TERN_E_RCPT && tern_conn_result(c, 0) != NULL &&
	    tern_conn_result(c, 0)->code / 100 == 4)
		rc = EX_TEMPFAIL;
	tern_conn_free(c);
	return rc;
}

int
cli_send(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "starttls", no_argument, NULL, 'S' },
		{ "tls", no_argument, NULL, 'T' },
		{ "user", required_argument, NULL, 'u' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "cc", required_argument, NULL, 'C' },
		{ "bcc", required_argument, NULL, 'B' },
		{ "subject", required_argument, NULL, 'j' },
		{ "attach", required_argument, NULL, 'a' },
		{ "html", required_argument, NULL, 'H' },
		{ "ca-file", required_argument, NULL, 'A' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "helo", required_argument, NULL, 'e' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct send_opts o;
	struct tern_msg *m;
	enum tern_err e = TERN_OK;
	char *body = NULL;
	size_t blen = 0;
	int ch, rc = EX_USAGE;
	bool have_server = false, have_to = false;

	memset(&o, 0, sizeof(o));
	o.tls = TERN_TLS_NONE;
	o.verbose = log_is_verbose(); /* main.c takes -v before us */
	if ((m = tern_msg_new()) == NULL)
		return EX_OSERR;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (parse_server(optarg, &o) == -1) {
				fprintf(stderr, "tern: send: bad --server "
				                "'%s': use HOST or HOST:PORT\n",
				    optarg);
				goto out;
			}
			have_server = true;
			break;
		case 'S':
			o.tls = TERN_TLS_STARTTLS;
			break;
		case 'T':
			o.tls = TERN_TLS_IMPLICIT;
			break;
		case 'u':
			o.user = optarg;
			break;
		case 'p':
			o.pwfile = optarg;
			break;
		case 'f':
			o.from = optarg;
			e = tern_msg_set_from(m, NULL, optarg);
			break;
		case 't':
			e = tern_msg_add_to(m, NULL, optarg);
			have_to = true;
			break;
		case 'C':
			e = tern_msg_add_cc(m, NULL, optarg);
			have_to = true;
			break;
		case 'B':
			e = tern_msg_add_bcc(m, optarg);
			have_to = true;
			break;
		case 'j':
			e = tern_msg_set_subject(m, optarg);
			break;
		case 'a':
			e = tern_msg_attach_file(m, optarg, NULL);
			if (e == TERN_E_IO) {
				fprintf(stderr, "tern: send: --attach %s: %s\n",
				    optarg, strerror(errno));
				rc = EX_NOINPUT;
				goto out;
			}
			break;
		case 'H':
			o.html = optarg;
			break;
		case 'A':
			o.ca_file = optarg;
			break;
		case 'k':
			o.insecure = true;
			break;
		case 'e':
			o.helo = optarg;
			break;
		case 'v':
			o.verbose = true;
			break;
		default:
			fprintf(stderr, "tern: send: unknown or incomplete "
			                "option '%s'\n",
			    argv[optind - 1]);
			send_usage();
			goto out;
		}
		if (e != TERN_OK) {
			fprintf(stderr, "tern: send: bad value '%s': %s\n",
			    optarg, tern_strerror(e));
			goto out;
		}
	}
	if (!have_server || o.from == NULL || !have_to || optind != argc) {
		send_usage();
		goto out;
	}
	if (o.port == 0)
		o.port = o.tls == TERN_TLS_IMPLICIT ? 465
		    : o.tls == TERN_TLS_STARTTLS    ? 587
		                                    : 25;
	if (o.html != NULL && (rc = add_html(m, o.html)) != 0)
		goto out;
	if ((rc = read_all(stdin, "stdin", &body, &blen)) != 0)
		goto out;
	if (tern_msg_set_text(m, body, blen) != TERN_OK) {
		rc = EX_OSERR;
		goto out;
	}
	rc = run(&o, m);
out:
	free(body);
	tern_msg_free(m);
	return rc;
}
