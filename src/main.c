/* SPDX-License-Identifier: ISC */
/*
 * main.c - command dispatch: serve, check-config, user, alias, queue.
 *
 * `-c FILE` and `-v` are accepted before or after the subcommand, so
 * `tern -c F user add` and `tern user add -c F` mean the same.
 * Trust: argv comes from the local operator.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "dir/dir.h"
#include "server/server.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define TERN_VERSION "0.1.0"

static void
usage(FILE *f)
{
	fputs("usage: tern [-v] [-c FILE] COMMAND [ARGS]\n"
	      "\n"
	      "commands:\n"
	      "  serve                      run the server in the foreground\n"
	      "  check-config               validate and print the "
	      "configuration\n"
	      "  user add|passwd ADDRESS [--password-stdin] [--allow-weak]\n"
	      "  user del ADDRESS\n"
	      "  user list\n"
	      "  alias add ALIAS TARGET...  (ALIAS may be @domain: "
	      "catch-all)\n"
	      "  alias del ALIAS [TARGET]\n"
	      "  alias list\n"
	      "  queue list [--json]\n"
	      "  queue show ID\n"
	      "  send --server HOST[:PORT] --from A --to B ...  (submit "
	      "a message)\n"
	      "  sendmail [-t] [-i] [-f FROM] [RCPT...]  (queue a message "
	      "locally)\n"
	      "  version\n"
	      "\n"
	      "Without -c, the embedded demo configuration is used: "
	      "data_dir ./var,\n"
	      "domain localhost, an mx listener on 127.0.0.1:2525.\n",
	    f);
}

static struct conf *
load_conf(const char *path)
{
	struct conf *conf;
	struct why why;

	if (path == NULL)
		return conf_default();
	conf = conf_load(path, &why);
	if (conf == NULL)
		fatal("%s", why.text);
	return conf;
}

static bool
warn_postmaster(const struct conf *conf)
{
	char dbpath[4096];
	struct dir_targets t = { 0 };
	struct dir_policy pol;
	struct why why;
	struct dir *d;
	enum dir_resolve_status st;
	bool ok = true, local;
	int n;

	if (conf->postmaster == NULL)
		return true;
	n = snprintf(dbpath, sizeof(dbpath), "%s/tern.db", conf->data_dir);
	if (n < 0 || (size_t)n >= sizeof(dbpath) ||
	    access(dbpath, F_OK) == -1) {
		fprintf(stderr, "tern: warning: postmaster %s: no user "
				"database yet (%s)\n",
		    conf->postmaster, dbpath);
		return false;
	}
	d = dir_open(dbpath, &why);
	if (d == NULL)
		return false;
	dir_policy_conf(&pol, conf);
	st = dir_resolve(d, conf->postmaster, &pol, &t, &why);
	local = conf_is_local_domain(conf, strrchr(conf->postmaster, '@') + 1);
	if (st == DIR_RESOLVED && local && t.n == 1 &&
	    dir_user_exists(d, t.addrs[0], &why) == 0) {
		/* Delivered (a mailbox without a user), but unread. */
		fprintf(stderr,
		    "tern: warning: postmaster = %s has no user: its mail "
		    "(and root@, abuse@ ... of every domain) is kept in "
		    "%s/mail/, but nobody can log in to read it; add it "
		    "with `tern user add %s`, or forward it with `tern "
		    "alias add %s ADDRESS`\n",
		    conf->postmaster, conf->data_dir, conf->postmaster,
		    conf->postmaster);
		ok = false;
	} else if (st != DIR_RESOLVED && st != DIR_TEMPFAIL && local) {
		fprintf(stderr, "tern: warning: postmaster = %s: %s\n",
		    conf->postmaster, why.text);
		ok = false;
	}
	dir_targets_free(&t);
	dir_close(d);
	return ok;
}

static void
print_warning(void *arg, const char *name, const char *text)
{
	(void)arg;
	(void)name;
	fprintf(stderr, "tern: warning: %s\n", text);
}

static int
cmd_check_config(const struct conf *conf, const char *path)
{
	conf_print(conf, stdout);
	conf_warnings(conf, print_warning, NULL);
	(void)warn_postmaster(conf);
	fprintf(stderr, "tern: %s: configuration ok\n",
	    path ? path : "(embedded default)");
	return 0;
}

/* Run as `sendmail` (a symlink) or `tern sendmail`? */
static bool
is_sendmail(int argc, char **argv)
{
	const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;

	base = base != NULL ? base + 1 : (argc > 0 ? argv[0] : "");
	/* `tern -c FILE sendmail ...` too (cron lines, issue 5). */
	return strcmp(base, "sendmail") == 0 ||
	    (argc > 1 && strcmp(argv[1], "sendmail") == 0) ||
	    (argc > 3 &&
	        (strcmp(argv[1], "-c") == 0 ||
	            strcmp(argv[1], "--config") == 0) &&
	        strcmp(argv[3], "sendmail") == 0);
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	char **args;
	struct conf *conf;
	int i, nargs = 0, ret;

	/* sendmail's own flags (-f, -F, -oi...) are not tern's. */
	if (is_sendmail(argc, argv))
		return cli_sendmail(argc, argv);
	/* Pull -c/-v out wherever they are; keep the rest in order. */
	args = xcalloc((size_t)argc + 1, sizeof(*args));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 ||
		    strcmp(argv[i], "--config") == 0) {
			if (++i == argc) {
				fprintf(stderr, "tern: -c needs a FILE\n");
				free(args);
				return EX_USAGE;
			}
			path = argv[i];
		} else if (strcmp(argv[i], "-v") == 0 ||
		    strcmp(argv[i], "--verbose") == 0) {
			log_set_verbose(true);
		} else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			free(args);
			return 0;
		} else {
			args[nargs++] = argv[i];
		}
	}
	if (nargs == 0) {
		usage(stderr);
		free(args);
		return EX_USAGE;
	}
	if (strcmp(args[0], "version") == 0) {
		printf("tern %s\n", TERN_VERSION);
		free(args);
		return 0;
	}
	if (strcmp(args[0], "send") == 0) {
		ret = cli_send(nargs, args);
		free(args);
		return ret;
	}
	if (strcmp(args[0], "serve") != 0 &&
	    strcmp(args[0], "check-config") != 0 &&
	    strcmp(args[0], "user") != 0 && strcmp(args[0], "alias") != 0 &&
	    strcmp(args[0], "queue") != 0) {
		fprintf(stderr, "tern: unknown command '%s'\n", args[0]);
		usage(stderr);
		free(args);
		return EX_USAGE;
	}
	conf = load_conf(path);
	if (strcmp(args[0], "serve") == 0)
		ret = server_run(conf);
	else if (strcmp(args[0], "check-config") == 0)
		ret = cmd_check_config(conf, path);
	else if (strcmp(args[0], "user") == 0)
		ret = cli_user(conf, nargs, args);
	else if (strcmp(args[0], "alias") == 0)
		ret = cli_alias(conf, nargs, args);
	else
		ret = cli_queue(conf, nargs, args);
	conf_free(conf);
	free(args);
	return ret;
}
