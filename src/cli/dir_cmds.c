/* SPDX-License-Identifier: ISC */
/*
 * cli/dir_cmds.c - `tern user ...` and `tern alias ...`: thin argument
 * handling around dir/dir.h. See cli.h for the commands and exit codes.
 * Trust: the operator's argv and stdin; the password never reaches argv,
 * the environment or a log, and its buffers are wiped.
 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli/tty.h"
#include "dir/dir.h"
#include "util/str.h"

#define CLI_DB_NAME "tern.db"
#define CLI_PW_BUF (DIR_PASSWORD_MAX + 3) /* password, CR, LF, NUL */
/*
 * Characters a new password needs unless --allow-weak (docs/
 * configuration.md says why): a mail password is a single factor that
 * anyone on the internet may try (SMTP AUTH, IMAP through Dovecot).
 */
#define CLI_PW_MIN 12

static void cli_err(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "tern: user add: message" on stderr. */
static void
cli_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tern: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
cli_user_usage(FILE *f)
{
	fprintf(f,
	    "usage: tern user add ADDRESS [--password-stdin] [--allow-weak]\n"
	    "       tern user del ADDRESS\n"
	    "       tern user list\n"
	    "       tern user passwd ADDRESS [--password-stdin] "
	    "[--allow-weak]\n"
	    "Users of the local domains, in <data_dir>/tern.db. The password "
	    "is read\n"
	    "from the terminal (twice, echo off) or, with --password-stdin, "
	    "one line\n"
	    "of stdin; never from the command line. It has at least %d "
	    "characters;\n"
	    "--allow-weak takes a shorter one.\n",
	    CLI_PW_MIN);
}

static int
usage_user(void)
{
	cli_user_usage(stderr);
	return EX_USAGE;
}

void
cli_alias_usage(FILE *f)
{
	fputs("usage: tern alias add ALIAS TARGET [TARGET...]\n"
	      "       tern alias del ALIAS [TARGET]\n"
	      "       tern alias list\n"
	      "ALIAS is local@domain, or @domain for a catch-all.\n",
	    f);
}

static int
usage_alias(void)
{
	cli_alias_usage(stderr);
	return EX_USAGE;
}

/* mkdir -p with mode 0750 for what is missing. */
static int
make_dirs(const char *cmd, const char *path)
{
	char buf[PATH_MAX];
	struct stat sb;
	size_t i, n;

	if ((n = strlcpy(buf, path, sizeof(buf))) >= sizeof(buf)) {
		cli_err(cmd, "data_dir is too long");
		return -1;
	}
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0750) == -1 && errno != EEXIST) {
			cli_err(cmd, "create %s: %s", buf, strerror(errno));
			return -1;
		}
		buf[i] = i < n ? '/' : '\0';
	}
	if (stat(path, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
		cli_err(cmd, "data_dir %s is not a directory", path);
		return -1;
	}
	return 0;
}

static struct dir *
open_dir(const char *cmd, const struct conf *c)
{
	char path[PATH_MAX];
	struct why why;
	struct dir *d;

	if (make_dirs(cmd, c->data_dir) == -1)
		return NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", c->data_dir,
	        CLI_DB_NAME) >= sizeof(path)) {
		cli_err(cmd, "data_dir is too long");
		return NULL;
	}
	why_clear(&why);
	if ((d = dir_open(path, &why)) == NULL)
		cli_err(cmd, "%s", why.text);
	return d;
}

/* Say what went wrong reading a password; 0 only for CLI_TTY_OK. */
static int
pw_status(const char *cmd, enum cli_tty_status st)
{
	switch (st) {
	case CLI_TTY_OK:
		return 0;
	case CLI_TTY_EOF:
		cli_err(cmd, "no password given");
		break;
	case CLI_TTY_TOO_LONG:
		cli_err(cmd, "password longer than %d bytes", DIR_PASSWORD_MAX);
		break;
	case CLI_TTY_ERROR:
		cli_err(cmd, "terminal: %s", strerror(errno));
		break;
	}
	return -1;
}

/* The new password into pw[CLI_PW_BUF]: stdin, or asked twice on a tty. */
static int
get_password(const char *cmd, bool from_stdin, char *pw)
{
	char again[CLI_PW_BUF];
	FILE *tty;
	int rc = -1;

	if (from_stdin)
		return pw_status(cmd, cli_read_line(stdin, pw, CLI_PW_BUF));
	if ((tty = fopen("/dev/tty", "r+e")) == NULL) {
		cli_err(cmd, "no terminal to ask for the password; use "
		             "--password-stdin");
		return -1;
	}
	if (pw_status(cmd, cli_tty_prompt(tty, "Password: ", pw, CLI_PW_BUF)) ==
	        0 &&
	    pw_status(cmd, cli_tty_prompt(tty, "Retype password: ", again,
	                       sizeof(again))) == 0) {
		if (strcmp(pw, again) == 0)
			rc = 0;
		else
			cli_err(cmd, "the passwords differ; nothing changed");
	}
	explicit_bzero(again, sizeof(again));
	(void)fclose(tty);
	return rc;
}

/* Characters (UTF-8 code points) of s. */
static size_t
utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* Long enough, or allowed to be short? Says what to do when not. */
static bool
strong_enough(const char *cmd, const char *pw, bool allow_weak)
{
	if (allow_weak || utf8_chars(pw) >= CLI_PW_MIN)
		return true;
	cli_err(cmd,
	    "password shorter than %d characters; nothing changed. Choose a "
	    "longer one (a few words make a good one), or add --allow-weak "
	    "to keep it",
	    CLI_PW_MIN);
	return false;
}

/*
 * Is the domain of address one of conf->domains, or a [relay_domains]
 * domain whose recipients are the user store's (`= users`)? Explains if
 * not.
 */
static bool
domain_ok(const char *cmd, const struct conf *c, const char *address)
{
	const struct conf_relay_domain *rd;
	char norm[DIR_ADDR_MAX];
	const char *w, *at;
	size_t i;

	if (address[0] == '@')
		at = address;
	else if (!dir_addr_norm(address, norm, &w)) {
		cli_err(cmd, "%s: %s", address, w);
		return false;
	} else
		at = strrchr(norm, '@');
	if (conf_is_local_domain(c, at + 1))
		return true;
	rd = conf_relay_domain_find(c, at + 1);
	if (rd != NULL && rd->check == CONF_RELAY_USERS)
		return true;
	fprintf(stderr,
	    "tern: %s: %s is not a local domain; local domains:", cmd, at + 1);
	for (i = 0; i < c->ndomains; i++)
		fprintf(stderr, "%s %s", i > 0 ? "," : "", c->domains[i]);
	fprintf(stderr, " (add it to 'domains' in the configuration%s)\n",
	    rd != NULL ? ", or make its [relay_domains] check 'users'" : "");
	return false;
}

static void
print_user(void *arg, const char *address)
{
	(void)arg;
	printf("%s\n", address);
}

static void
print_alias(void *arg, const char *alias, const char *target)
{
	(void)arg;
	printf("%s -> %s\n", alias, target);
}

int
cli_user(const struct conf *c, int argc, char **argv)
{
	char pw[CLI_PW_BUF], cmd[32];
	const char *sub, *addr = NULL;
	bool pw_stdin = false, allow_weak = false;
	struct why why;
	struct dir *d;
	int i, rc = 1;

	if (argc < 2 || argv[1] == NULL)
		return usage_user();
	sub = argv[1];
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--password-stdin") == 0 &&
		    (strcmp(sub, "add") == 0 || strcmp(sub, "passwd") == 0))
			pw_stdin = true;
		else if (strcmp(argv[i], "--allow-weak") == 0 &&
		         (strcmp(sub, "add") == 0 ||
		             strcmp(sub, "passwd") == 0))
			allow_weak = true;
		else if (argv[i][0] == '-' || addr != NULL)
			return usage_user();
		else
			addr = argv[i];
	}
	if (strcmp(sub, "list") == 0) {
		if (addr != NULL)
			return usage_user();
	} else if ((strcmp(sub, "add") != 0 && strcmp(sub, "del") != 0 &&
	               strcmp(sub, "passwd") != 0) ||
	           addr == NULL)
		return usage_user();
	(void)snprintf(cmd, sizeof(cmd), "user %s", sub);
	if (strcmp(sub, "add") == 0 && !domain_ok(cmd, c, addr))
		return 1;
	if ((d = open_dir(cmd, c)) == NULL)
		return 1;
	why_clear(&why);
	pw[0] = '\0';
	if (strcmp(sub, "list") == 0)
		rc = dir_user_list(d, print_user, NULL, &why);
	else if (strcmp(sub, "del") == 0)
		rc = dir_user_del(d, addr, &why);
	else if (strcmp(sub, "add") == 0 && dir_user_exists(d, addr, &why) == 1)
		rc = why_set(&why, WHY_PERM, 0, "user %s exists", addr);
	else if (get_password(cmd, pw_stdin, pw) == -1 ||
	         !strong_enough(cmd, pw, allow_weak))
		why.text[0] = '\0'; /* already said */
	else if (strcmp(sub, "add") == 0)
		rc = dir_user_add(d, addr, pw, &why);
	else
		rc = dir_user_passwd(d, addr, pw, &why);
	explicit_bzero(pw, sizeof(pw));
	dir_close(d);
	if (rc != 0 && why.text[0] != '\0')
		cli_err(cmd, "%s", why.text);
	if (rc == 0 && fflush(stdout) == EOF) {
		cli_err(cmd, "stdout: %s", strerror(errno));
		rc = -1;
	}
	return rc == 0 ? 0 : 1;
}

int
cli_alias(const struct conf *c, int argc, char **argv)
{
	char cmd[32];
	const char *sub;
	struct why why;
	struct dir *d;
	bool bad;
	int i, rc = 0;

	if (argc < 2)
		return usage_alias();
	sub = argv[1];
	for (i = 2; i < argc; i++)
		if (argv[i][0] == '-' && argv[i][1] != '\0')
			return usage_alias();
	if (strcmp(sub, "list") == 0)
		bad = argc != 2;
	else if (strcmp(sub, "add") == 0)
		bad = argc < 4;
	else if (strcmp(sub, "del") == 0)
		bad = argc < 3 || argc > 4;
	else
		bad = true;
	if (bad)
		return usage_alias();
	(void)snprintf(cmd, sizeof(cmd), "alias %s", sub);
	if (strcmp(sub, "add") == 0 && !domain_ok(cmd, c, argv[2]))
		return 1;
	if ((d = open_dir(cmd, c)) == NULL)
		return 1;
	why_clear(&why);
	if (strcmp(sub, "list") == 0) {
		if (dir_alias_list(d, print_alias, NULL, &why) == -1) {
			cli_err(cmd, "%s", why.text);
			rc = 1;
		}
	} else if (strcmp(sub, "del") == 0) {
		if (dir_alias_del(d, argv[2], argc == 4 ? argv[3] : NULL,
		        &why) == -1) {
			cli_err(cmd, "%s", why.text);
			rc = 1;
		}
	} else {
		/* Each target on its own: one already there does not stop
		 * the others, and the exit status says something failed. */
		for (i = 3; i < argc; i++)
			if (dir_alias_add(d, argv[2], argv[i], &why) == -1) {
				cli_err(cmd, "%s", why.text);
				rc = 1;
			}
	}
	dir_close(d);
	if (rc == 0 && fflush(stdout) == EOF) {
		cli_err(cmd, "stdout: %s", strerror(errno));
		rc = 1;
	}
	return rc;
}
