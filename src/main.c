/* SPDX-License-Identifier: ISC */
/*
 * main.c - command dispatch: serve, check-config, check, doctor, init,
 * user, alias, queue, explain, dkim, send, capture, sendmail, version,
 * help.
 *
 * `-c FILE`, `--demo` and `-v` are accepted before or after the command,
 * so `tern -c F user add` and `tern user add -c F` mean the same (after
 * `sendmail`, every option is sendmail's). Every command reads the same
 * file (cli_conf_path(): -c, TERN_CONFIG, /etc/tern/tern.conf) or, with
 * --demo, the embedded demo. `--help` after a command, or `tern help
 * COMMAND`, prints its usage on stdout (exit 0); a usage error prints it
 * on stderr and exits 64 (EX_USAGE); a configuration that does not load
 * exits 78 (EX_CONFIG).
 * Trust: argv comes from the local operator.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "capture/capture.h"
#include "cli/cli.h"
#include "conf/conf.h"
#include "dir/dir.h"
#include "server/privdrop.h"
#include "server/server.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define TERN_VERSION "0.1.0"

static void
usage(FILE *f)
{
	fputs("usage: tern [-c FILE | --demo] [-v] COMMAND [ARGS]\n"
	      "       tern --version | --help | help COMMAND\n"
	      "\n"
	      "commands:\n"
	      "  serve          run the server in the foreground\n"
	      "  check-config   check the configuration and print it\n"
	      "  check spf ...  the SPF result for an address, HELO and "
	      "sender\n"
	      "  check message  the Authentication-Results and action for "
	      "a message\n"
	      "  doctor ...     check DNS records, certificate, relaying, "
	      "data_dir\n"
	      "  init [PATH]    write a commented starting configuration\n"
	      "  user ...       add, delete, list users; set passwords\n"
	      "  alias ...      add, delete, list aliases\n"
	      "  queue ...      look at the queue and act on it\n"
	      "  explain ...    what happened to a message, or to mail "
	      "of an address\n"
	      "  dkim ...       make and list DKIM keys; sign, verify a "
	      "message\n"
	      "  reload         the running server re-reads its "
	      "configuration\n"
	      "  send ...       submit one message to an SMTP server\n"
	      "  capture ...    a development mail server that keeps every "
	      "message\n"
	      "  tlsrpt send    the running server sends its TLS reports "
	      "now\n"
	      "  sendmail ...   queue a message from stdin "
	      "(sendmail-compatible)\n"
	      "  version        print the version\n"
	      "  help COMMAND   describe a command\n"
	      "\n"
	      "The configuration is -c FILE, else $TERN_CONFIG, "
	      "else " CLI_CONF_DEFAULT ".\n"
	      "--demo uses the embedded demo instead: data_dir ./var, domain "
	      "localhost,\n"
	      "an mx listener on 127.0.0.1:2525, postmaster admin@localhost "
	      "(make run).\n"
	      "`tern help COMMAND` or `tern COMMAND --help` describes a "
	      "command.\n",
	    f);
}

static void
usage_reload(FILE *f)
{
	fputs("usage: tern [-c FILE] reload\n"
	      "Ask the running server (through <data_dir>/control.sock) to "
	      "re-read its\n"
	      "configuration, reopen its log and load a renewed certificate, "
	      "and print\n"
	      "what it did. Exit 0 when it did; 1 when it refused the new "
	      "file (the old\n"
	      "configuration stays); 69 when no server runs.\n",
	    f);
}

static void
usage_serve(FILE *f)
{
	fputs("usage: tern [-c FILE | --demo] [-v] serve\n"
	      "Run the server in the foreground. It logs one key=value line "
	      "per event to\n"
	      "stderr (or log_file), says event=ready once it accepts mail "
	      "(and READY=1\n"
	      "to systemd), stops cleanly on SIGTERM, and reopens the log and "
	      "reloads the\n"
	      "certificate on SIGHUP.\n",
	    f);
}

static void
usage_version(FILE *f)
{
	fputs("usage: tern version (or tern --version)\n", f);
}

static void
usage_help(FILE *f)
{
	fputs("usage: tern help [COMMAND]\n", f);
}

enum cmd_conf {
	CMD_NO_CONF = 0, /* needs no configuration */
	CMD_CONF,        /* loads it before running */
};

struct command {
	const char *name;
	enum cmd_conf conf;
	void (*usage)(FILE *);
};

static const struct command commands[] = {
	{ "serve", CMD_CONF, usage_serve },
	{ "check-config", CMD_CONF, cli_check_config_usage },
	{ "check", CMD_CONF, cli_check_usage },
	{ "doctor", CMD_CONF, cli_doctor_usage },
	{ "init", CMD_NO_CONF, cli_init_usage },
	{ "user", CMD_CONF, cli_user_usage },
	{ "alias", CMD_CONF, cli_alias_usage },
	{ "queue", CMD_CONF, cli_queue_usage },
	{ "explain", CMD_CONF, cli_explain_usage },
	{ "dkim", CMD_CONF, cli_dkim_usage },
	{ "reload", CMD_CONF, usage_reload },
	{ "tlsrpt", CMD_CONF, cli_tlsrpt_usage },
	{ "send", CMD_NO_CONF, cli_send_usage },
	{ "capture", CMD_NO_CONF, cli_capture_usage },
	{ "sendmail", CMD_NO_CONF, cli_sendmail_usage },
	{ "version", CMD_NO_CONF, usage_version },
	{ "help", CMD_NO_CONF, usage_help },
};

static const struct command *
find_command(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static int
bad_usage(const struct command *c, const char *fmt, const char *arg)
{
	fputs("tern: ", stderr);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	if (c != NULL)
		c->usage(stderr);
	else
		usage(stderr);
	return EX_USAGE;
}

/* `tern help [COMMAND]`. */
static int
cmd_help(int nargs, char **args)
{
	const struct command *c;

	if (nargs == 1) {
		usage(stdout);
		return 0;
	}
	if (nargs > 2 || (c = find_command(args[1])) == NULL)
		return bad_usage(NULL, "help: no command '%s'", args[1]);
	c->usage(stdout);
	return 0;
}

/* Run as `sendmail` (a symlink to tern)? */
static bool
called_sendmail(int argc, char **argv)
{
	const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;

	base = base != NULL ? base + 1 : (argc > 0 ? argv[0] : "");
	return strcmp(base, "sendmail") == 0;
}

struct globals {
	const char *path; /* -c FILE */
	bool demo;        /* --demo */
	bool help;        /* --help or -h */
	bool version;     /* --version */
};

/*
 * Take tern's own options out of argv[i], the value from argv[i + 1];
 * 0 not one of them, 1 or 2 used, -1 no FILE after -c.
 */
static int
global_opt(struct globals *g, int argc, char **argv, int i)
{
	const char *a = argv[i];

	if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
		if (i + 1 == argc)
			return -1;
		g->path = argv[i + 1];
		return 2;
	}
	if (strncmp(a, "--config=", 9) == 0) {
		g->path = a + 9;
		return 1;
	}
	if (strcmp(a, "--demo") == 0)
		g->demo = true;
	else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0)
		log_set_verbose(true);
	else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
		g->help = true;
	else if (strcmp(a, "--version") == 0)
		g->version = true;
	else
		return 0;
	return 1;
}

/*
 * Root with `user =`: the commands that touch data_dir run as that user,
 * as the server does, so that what they make is the server's and root
 * never opens what the user could have swapped for a link (SQLite gives
 * a -wal file it creates as root to the database's owner; control.sock
 * could lead to another root service's socket).
 */
static void
become_service_user(const struct conf *conf)
{
	struct privdrop_user pu;
	struct why why;
	int rc;

	if ((rc = privdrop_lookup(conf, &pu, &why)) == 0)
		return;
	if (rc == -1 || privdrop_data_dir(conf->data_dir, &pu, &why) == -1 ||
	    privdrop_become(&pu, conf->data_dir, &why) == -1)
		fatal("%s", why.text);
}

static int
run(const struct command *c, const struct globals *g, int nargs, char **args)
{
	struct conf *conf;
	int ret = 0;

	if (strcmp(c->name, "version") == 0) {
		if (nargs > 1)
			return bad_usage(c, "version: unexpected '%s'",
			    args[1]);
		printf("tern %s\n", TERN_VERSION);
		return 0;
	}
	if (strcmp(c->name, "help") == 0)
		return cmd_help(nargs, args);
	if (strcmp(c->name, "send") == 0)
		return cli_send(nargs, args);
	if (strcmp(c->name, "capture") == 0)
		return cli_capture(nargs, args);
	if (strcmp(c->name, "init") == 0)
		return cli_init(g->path, nargs, args);
	if ((strcmp(c->name, "serve") == 0 ||
	        strcmp(c->name, "reload") == 0) &&
	    nargs > 1)
		return bad_usage(c, "unexpected '%s'", args[1]);
	if ((conf = cli_conf_load("tern", g->path, g->demo, &ret)) == NULL) {
		/* The file the server would read is broken: say that the
		 * server, which keeps its own, was not disturbed. */
		if (strcmp(c->name, "reload") == 0)
			fprintf(stderr, "tern: reload: the running server was "
			                "not asked: it keeps its configuration\n");
		return ret;
	}
	/* user, alias, queue, dkim, reload: all of them touch data_dir. */
	if (strcmp(c->name, "serve") != 0 &&
	    strcmp(c->name, "check-config") != 0 &&
	    strcmp(c->name, "check") != 0 &&
	    strcmp(c->name, "doctor") != 0)
		become_service_user(conf);
	if (strcmp(c->name, "serve") == 0)
		ret = server_run(conf);
	else if (strcmp(c->name, "check-config") == 0)
		ret = cli_check_config(conf, nargs, args);
	else if (strcmp(c->name, "check") == 0)
		ret = cli_check(conf, nargs, args);
	else if (strcmp(c->name, "doctor") == 0)
		ret = cli_doctor(conf, nargs, args);
	else if (strcmp(c->name, "user") == 0)
		ret = cli_user(conf, nargs, args);
	else if (strcmp(c->name, "alias") == 0)
		ret = cli_alias(conf, nargs, args);
	else if (strcmp(c->name, "reload") == 0)
		ret = cli_control(conf, "reload", "reload");
	else if (strcmp(c->name, "tlsrpt") == 0)
		ret = cli_tlsrpt(conf, nargs, args);
	else if (strcmp(c->name, "dkim") == 0)
		ret = cli_dkim(conf, nargs, args);
	else if (strcmp(c->name, "explain") == 0)
		ret = cli_explain(conf, nargs, args);
	else
		ret = cli_queue(conf, nargs, args);
	conf_free(conf);
	return ret;
}

int
main(int argc, char **argv)
{
	struct globals g = { 0 };
	const struct command *c = NULL;
	char **args;
	int i, k, nargs = 0, ret;

	/* sendmail's own flags (-f, -F, -oi...) are not tern's. */
	if (called_sendmail(argc, argv))
		return cli_sendmail(NULL, false, argc, argv);
	/* Pull tern's options out wherever they are; keep the rest in
	 * order. After `sendmail` they are sendmail's (cron lines). */
	args = xcalloc((size_t)argc + 1, sizeof(*args));
	for (i = 1; i < argc; i++) {
		if (c != NULL && strcmp(c->name, "sendmail") == 0) {
			args[nargs++] = argv[i];
			continue;
		}
		if ((k = global_opt(&g, argc, argv, i)) == -1) {
			free(args);
			return bad_usage(c, "%s needs a FILE", argv[i]);
		}
		if (k > 0) {
			i += k - 1;
			continue;
		}
		if (c == NULL && (c = find_command(argv[i])) == NULL) {
			ret = bad_usage(NULL, "unknown command '%s'", argv[i]);
			free(args);
			return ret;
		}
		args[nargs++] = argv[i];
	}
	if (g.demo && g.path != NULL)
		ret =
		    bad_usage(c, "%s", "--demo and -c FILE exclude each other");
	else if (g.version) {
		printf("tern %s\n", TERN_VERSION);
		ret = 0;
	} else if (g.help) {
		if (c != NULL)
			c->usage(stdout);
		else
			usage(stdout);
		ret = 0;
	} else if (c == NULL)
		ret = bad_usage(NULL, "%s", "no command given");
	else if (strcmp(c->name, "sendmail") == 0)
		ret = cli_sendmail(g.path, g.demo, nargs, args);
	else
		ret = run(c, &g, nargs, args);
	free(args);
	return ret;
}
