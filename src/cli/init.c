/* SPDX-License-Identifier: ISC */
/*
 * cli/init.c - `tern init`: write a commented starting configuration.
 *
 * The file is built in memory, loaded with conf_load_string() (so what
 * init writes always loads), then created with O_EXCL: an existing file
 * is never touched. Missing directories above it are made 0755, the
 * file is 0644 whatever the umask (the server reads it as root before it
 * drops privileges, and `tern sendmail` reads it as any user; secrets do
 * not belong in it).
 * Trust: argv is the local operator's; every value is checked by the
 * configuration grammar before anything is written.
 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/fsutil.h"
#include "util/str.h"

#define INIT_TEXT_MAX 8192
#define INIT_VALUE_MAX 190 /* a line is at most 198 bytes (conf.h) */
#define INIT_USER "tern"   /* the service user README and tern(8) make */

struct init_opts {
	const char *path, *domain, *hostname, *postmaster, *data_dir;
};

void
cli_init_usage(FILE *f)
{
	fputs("usage: tern init [PATH] [--domain D] [--hostname H] "
	      "[--postmaster A]\n"
	      "                 [--data-dir DIR]\n"
	      "Write a commented starting configuration to PATH (default: "
	      "-c FILE,\n"
	      "else $TERN_CONFIG, else " CLI_CONF_DEFAULT "); never "
	      "overwrites a file.\n"
	      "  --hostname H    this server's name (default: the machine's "
	      "host name)\n"
	      "  --domain D      the local mail domain (default: H without "
	      "its first label)\n"
	      "  --postmaster A  the admin address for postmaster@, root@ ... "
	      "(default: postmaster@D)\n"
	      "  --data-dir DIR  queue, mailboxes and users (default: "
	      "/var/lib/tern)\n",
	    f);
}

static int
usage(void)
{
	cli_init_usage(stderr);
	return EX_USAGE;
}

/* mx.example.org -> example.org; example.org and host stay as they are. */
static void
domain_of(const char *host, char *out, size_t outsz)
{
	const char *dot = strchr(host, '.');

	if (dot != NULL && strchr(dot + 1, '.') != NULL)
		host = dot + 1;
	(void)strlcpy(out, host, outsz);
}

/* A value the grammar will check; here only what it cannot see. */
static bool
value_ok(const char *opt, const char *v)
{
	size_t i, n = strlen(v);

	if (n == 0 || n > INIT_VALUE_MAX) {
		fprintf(stderr,
		    "tern: init: %s: empty or longer than %d "
		    "bytes\n",
		    opt, INIT_VALUE_MAX);
		return false;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f || v[i] == ';' ||
		    v[i] == '#') {
			fprintf(stderr,
			    "tern: init: %s: control character or "
			    "comment mark in '%s'\n",
			    opt, v);
			return false;
		}
	return true;
}

static int
render(struct buf *b, const char *host, const char *domain,
    const char *postmaster, const char *data_dir, bool have_user)
{
	int rc = 0;

	rc |= buf_printf(b,
	    "# tern configuration, written by `tern init`.\n"
	    "# Every setting: docs/configuration.md and tern.conf(5). Check "
	    "the file\n"
	    "# with `tern check-config`; `tern serve` reads it at start.\n"
	    "# Lines are `key = value`; `;` or `#` starts a comment.\n"
	    "\n"
	    "# The name in the greeting and in Received fields: the name "
	    "the world\n"
	    "# finds this server by (its MX record, and the reverse DNS of "
	    "its address).\n"
	    "hostname = %s\n"
	    "\n"
	    "# Mail for these domains is delivered here, into Maildirs "
	    "under data_dir;\n"
	    "# add more with commas: example.org, example.net\n"
	    "domains = %s\n"
	    "\n"
	    "# The admin address: postmaster@ of every local domain, and "
	    "root@, abuse@\n"
	    "# and mailer-daemon@ unless the user store has them, reach it; "
	    "bounces of\n"
	    "# bounces go there too. Make it an address a person reads.\n"
	    "postmaster = %s\n"
	    "\n"
	    "# Queue, mailboxes (mail/DOMAIN/USER/) and users (tern.db).\n"
	    "data_dir = %s\n"
	    "\n",
	    host, domain, postmaster, data_dir);
	if (have_user)
		rc |= buf_printf(b,
		    "# tern starts as root to bind port 25, then runs as this "
		    "user.\n"
		    "user = %s\n",
		    INIT_USER);
	else
		rc |= buf_printf(b,
		    "# tern starts as root to bind port 25, then should run "
		    "as its own user:\n"
		    "# create it (adduser --system --group --home "
		    "/var/lib/tern %s)\n"
		    "# and remove the `#` below; until then tern keeps root.\n"
		    "#user = %s\n",
		    INIT_USER, INIT_USER);
	rc |= buf_printf(b,
	    "\n"
	    "# Mail from the Internet for the local domains (port 25). "
	    "STARTTLS uses\n"
	    "# [tls] below, or a self-signed certificate made in "
	    "data_dir/tls/.\n"
	    "[listener mx]\n"
	    "address = 0.0.0.0:25\n"
	    "mode = mx\n"
	    "tls = starttls\n"
	    "\n"
	    "# Mail clients sending with a login (tern user add) on port "
	    "587: remove\n"
	    "# the `#`s, and give [tls] a certificate the clients trust.\n"
	    "#[listener submission]\n"
	    "#address = 0.0.0.0:587\n"
	    "#mode = submission\n"
	    "#tls = starttls\n"
	    "\n"
	    "#[tls]\n"
	    "#cert = /etc/letsencrypt/live/%s/fullchain.pem\n"
	    "#key = /etc/letsencrypt/live/%s/privkey.pem\n"
	    "\n"
	    "[limits]\n"
	    "max_message_size = 35M\n"
	    "max_recipients = 100\n",
	    host, host);
	return rc;
}

/* mkdir -p 0755 of the directories above path. */
static int
make_parents(const char *path)
{
	char dir[PATH_MAX];
	struct why why;
	char *slash;

	if (strlcpy(dir, path, sizeof(dir)) >= sizeof(dir)) {
		fprintf(stderr, "tern: init: %s: path too long\n", path);
		return -1;
	}
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return 0;
	*slash = '\0';
	why_clear(&why);
	if (fsutil_mkdirs(dir, 0755, &why) == -1) {
		fprintf(stderr, "tern: init: %s\n", why.text);
		return -1;
	}
	return 0;
}

static int
write_new(const char *path, const struct buf *b)
{
	int fd, e;

	if (make_parents(path) == -1)
		return EX_CANTCREAT;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (fd == -1) {
		e = errno;
		if (e == EEXIST)
			fprintf(stderr,
			    "tern: init: %s exists; tern init never overwrites "
			    "a file (check it with `tern%s%s check-config`, or "
			    "move it away first)\n",
			    path, strcmp(path, CLI_CONF_DEFAULT) ? " -c " : "",
			    strcmp(path, CLI_CONF_DEFAULT) ? path : "");
		else
			fprintf(stderr, "tern: init: create %s: %s\n", path,
			    strerror(e));
		return EX_CANTCREAT;
	}
	/* The umask must not keep the service user or sendmail out. */
	if (fchmod(fd, 0644) == -1 ||
	    fsutil_write_all(fd, b->data, b->len) == -1 || fsync(fd) == -1) {
		e = errno;
		(void)close(fd);
		(void)unlink(path);
		fprintf(stderr, "tern: init: write %s: %s\n", path,
		    strerror(e));
		return EX_CANTCREAT;
	}
	(void)close(fd);
	(void)fsutil_fsync_parent(path);
	return 0;
}

static int
parse(int argc, char **argv, struct init_opts *o)
{
	const char **slot;
	int i;

	for (i = 1; i < argc; i++) {
		slot = NULL;
		if (strcmp(argv[i], "--domain") == 0)
			slot = &o->domain;
		else if (strcmp(argv[i], "--hostname") == 0)
			slot = &o->hostname;
		else if (strcmp(argv[i], "--postmaster") == 0)
			slot = &o->postmaster;
		else if (strcmp(argv[i], "--data-dir") == 0)
			slot = &o->data_dir;
		else if (argv[i][0] == '-' || o->path != NULL) {
			fprintf(stderr, "tern: init: unexpected '%s'\n",
			    argv[i]);
			return -1;
		} else
			o->path = argv[i];
		if (slot == NULL)
			continue;
		if (++i == argc) {
			fprintf(stderr, "tern: init: %s needs a value\n",
			    argv[i - 1]);
			return -1;
		}
		*slot = argv[i];
	}
	return 0;
}

int
cli_init(const char *conf_path, int argc, char **argv)
{
	char host[256], domain[256], pm[512];
	struct init_opts o = { 0 };
	struct conf *check;
	struct why why;
	struct buf b;
	const char *path;
	int rc;

	if (parse(argc, argv, &o) == -1)
		return usage();
	path = o.path != NULL ? o.path : cli_conf_path(conf_path, NULL);
	if (o.hostname != NULL)
		(void)strlcpy(host, o.hostname, sizeof(host));
	else if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		(void)strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	if (o.domain != NULL)
		(void)strlcpy(domain, o.domain, sizeof(domain));
	else
		domain_of(host, domain, sizeof(domain));
	if (o.postmaster != NULL)
		(void)strlcpy(pm, o.postmaster, sizeof(pm));
	else
		(void)snprintf(pm, sizeof(pm), "postmaster@%s", domain);
	if (!value_ok("--hostname", host) || !value_ok("--domain", domain) ||
	    !value_ok("--postmaster", pm) ||
	    !value_ok("--data-dir", o.data_dir ? o.data_dir : "/var/lib/tern"))
		return EX_DATAERR;
	buf_init(&b, INIT_TEXT_MAX);
	if (render(&b, host, domain, pm,
	        o.data_dir != NULL ? o.data_dir : "/var/lib/tern",
	        getpwnam(INIT_USER) != NULL) != 0) {
		buf_reset(&b);
		fprintf(stderr, "tern: init: the file would be too long\n");
		return EX_SOFTWARE;
	}
	why_clear(&why);
	/* What init writes must load: check it as the server will. */
	if ((check = conf_load_string((const char *)b.data, path, &why)) ==
	    NULL) {
		buf_reset(&b);
		fprintf(stderr,
		    "tern: init: these values make no valid configuration: "
		    "%s\n",
		    why.text);
		return EX_DATAERR;
	}
	conf_free(check);
	rc = write_new(path, &b);
	buf_reset(&b);
	if (rc != 0)
		return rc;
	printf("wrote %s (hostname %s, domain %s, postmaster %s)\n"
	       "next: read and edit it, then `tern%s%s check-config`",
	    path, host, domain, pm,
	    strcmp(path, CLI_CONF_DEFAULT) ? " -c " : "",
	    strcmp(path, CLI_CONF_DEFAULT) ? path : "");
	if (getpwnam(INIT_USER) == NULL)
		printf("; create the service user first:\n"
		       "  adduser --system --group --home /var/lib/tern %s\n"
		       "and remove the `#` before `user = %s`\n",
		    INIT_USER, INIT_USER);
	else
		printf("\n");
	return 0;
}
