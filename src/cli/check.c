/* SPDX-License-Identifier: ISC */
/*
 * cli/check.c - `tern check-config [--all]`: print the configuration
 * (what differs from the defaults, or all of it) and check what the
 * server would trip on, the checks that look at the system:
 *
 *   error (exit 78)   `user =` unknown; [tls] cert or key missing,
 *                     unreadable, expired, not yet valid or not a pair;
 *                     data_dir the server's user cannot write or reach;
 *                     secrets_file missing, open to others, a link,
 *                     wrongly owned, unreadable by the server's user, or
 *                     without a password a route needs
 *   warning (exit 0)  a certificate that expires within 14 days, is
 *                     self-signed, does not chain to the system's CAs or
 *                     does not name `hostname`; a key or certificate the
 *                     server's user cannot read (a reload cannot); an
 *                     alias to a local address that is no user or alias;
 *                     a domain without a postmaster; a route password in
 *                     a world-readable config file; conf_warnings()
 *
 * Whatever the server's user must be able to do is tried as that user:
 * a child process drops to it exactly as `tern serve` does and reports
 * through a pipe; as root with `user =`, the user database is read there
 * too, never by root (SQLite run as root gives the journal files it
 * makes to the database's owner). Nothing is created or changed, except
 * that opening the user database may leave SQLite's journal files as
 * they would be.
 * Trust: run by the operator, usually as root. No password or secret is
 * ever printed: the routes print their user only, and the secrets file's
 * messages name files, lines and domains.
 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cli/certfile.h"
#include "dir/dir.h"
#include "server/privdrop.h"
#include "util/fsutil.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define CHECK_TEXT_MAX 1024
#define CHECK_PATH_MAX 4096          /* data_dir is at most 1023 bytes (conf) */
#define CHECK_REPORT_MAX (64 * 1024) /* the child's lines, all of them */
#define CERT_WARN_DAYS 14
#define POSTMASTER_LIST_MAX 5 /* domains named in one warning */

enum level {
	L_NOTE = 'N',
	L_WARN = 'W',
	L_ERR = 'E',
};

struct check {
	int fd; /* -1: print; else the child's end of the pipe */
	size_t nerr, nwarn;
};

/* Who the server runs as, and whether we can act as it. */
struct service {
	bool known; /* `user =` names an account: uid, gid */
	uid_t uid;
	gid_t gid;
	char name[64];   /* for messages: "tern", or "uid 1000" */
	char owner[64];  /* for chown: "tern", or "1000" */
	bool root_start; /* started as root, drops to uid and gid */
	bool can_try;    /* we are root, or already that user */
};

static void say(struct check *, enum level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
emit(struct check *ck, enum level lv, const char *text)
{
	const char *word = lv == L_ERR    ? "error"
	                   : lv == L_WARN ? "warning"
	                                  : "note";

	if (lv == L_ERR)
		ck->nerr++;
	else if (lv == L_WARN)
		ck->nwarn++;
	fprintf(stderr, "tern: %s: %s\n", word, text);
}

static void
say(struct check *ck, enum level lv, const char *fmt, ...)
{
	char text[CHECK_TEXT_MAX + 3];
	va_list ap;
	size_t i, n;

	va_start(ap, fmt);
	(void)vsnprintf(text + 2, CHECK_TEXT_MAX, fmt, ap);
	va_end(ap);
	/* One line each: the pipe protocol is "L text\n". */
	for (i = 2; text[i] != '\0'; i++)
		if (text[i] == '\n' || text[i] == '\r')
			text[i] = ' ';
	if (ck->fd == -1) {
		emit(ck, lv, text + 2);
		return;
	}
	text[0] = (char)lv;
	text[1] = ' ';
	n = strlen(text);
	text[n] = '\n';
	(void)fsutil_write_all(ck->fd, text, n + 1);
}

static void
on_warning(void *arg, const char *name, const char *text)
{
	(void)name;
	say(arg, L_WARN, "%s", text);
}

/* ---- the server's user ------------------------------------------- */

static void
check_user(const struct conf *conf, struct check *ck, struct service *sv)
{
	const struct passwd *pw;

	memset(sv, 0, sizeof(*sv));
	if (conf->user == NULL) {
		/* The server runs as whoever starts it: take it to be us. */
		(void)snprintf(sv->name, sizeof(sv->name), "uid %u",
		    (unsigned)geteuid());
		(void)snprintf(sv->owner, sizeof(sv->owner), "%u",
		    (unsigned)geteuid());
		sv->can_try = true;
		return;
	}
	(void)strlcpy(sv->name, conf->user, sizeof(sv->name));
	(void)strlcpy(sv->owner, conf->user, sizeof(sv->owner));
	if ((pw = getpwnam(conf->user)) == NULL) {
		say(ck, L_ERR,
		    "user %s: no such user; create it (adduser --system "
		    "--group %s) or remove `user =`",
		    conf->user, conf->user);
		return;
	}
	sv->root_start = geteuid() == 0;
	/* Copied: getpwnam()'s buffer is reused by later calls. */
	sv->known = true;
	sv->uid = pw->pw_uid;
	sv->gid = pw->pw_gid;
	sv->can_try = geteuid() == 0 || geteuid() == sv->uid;
	if (!sv->can_try)
		say(ck, L_NOTE,
		    "not run as root: what user %s can read and write is not "
		    "checked (data_dir, [tls] files, secrets_file)",
		    conf->user);
}

/* ---- [tls] cert and key ------------------------------------------ */

/* A [tls] file did not open (errno): say why. */
static void
say_open_failed(struct check *ck, const char *what, const char *path)
{
	if (errno == EACCES && geteuid() != 0)
		say(ck, L_NOTE,
		    "[tls] %s %s: not readable by uid %u; run check-config "
		    "as root to check it",
		    what, path, (unsigned)geteuid());
	else
		say(ck, L_ERR, "[tls] %s %s: %s", what, path, strerror(errno));
}

static void
check_dates(struct check *ck, const char *path, const struct certfile *cf)
{
	time_t soon = time(NULL) + (time_t)CERT_WARN_DAYS * 86400;
	char date[CERTFILE_DATE_MAX];

	certfile_date(cf, CERTFILE_NOT_BEFORE, true, date, sizeof(date));
	if (certfile_is_not_yet_valid(cf))
		say(ck, L_ERR, "[tls] cert %s: not valid before %s", path,
		    date);
	certfile_date(cf, CERTFILE_NOT_AFTER, true, date, sizeof(date));
	if (certfile_expires_before(cf, time(NULL)))
		say(ck, L_ERR,
		    "[tls] cert %s: expired on %s; renew it, then send "
		    "SIGHUP",
		    path, date);
	else if (certfile_expires_before(cf, soon))
		say(ck, L_WARN,
		    "[tls] cert %s: expires on %s, within %d days; renew it, "
		    "then send SIGHUP",
		    path, date, CERT_WARN_DAYS);
}

/* Self-signed, or a chain the system's CAs do not vouch for. */
static void
check_chain(struct check *ck, const char *path, const struct certfile *cf)
{
	const char *why;

	switch (certfile_verify(cf, &why)) {
	case CERTFILE_SELF_SIGNED:
		say(ck, L_WARN,
		    "[tls] cert %s: self-signed; mail servers take it for "
		    "STARTTLS, but mail clients on submission will not trust "
		    "it",
		    path);
		break;
	case CERTFILE_UNTRUSTED:
		say(ck, L_WARN,
		    "[tls] cert %s: does not chain to this system's CAs (%s); "
		    "is the intermediate certificate in the file "
		    "(fullchain.pem)?",
		    path, why);
		break;
	case CERTFILE_TRUSTED:
	case CERTFILE_UNCHECKED:
		break;
	}
}

static void
check_key(struct check *ck, const char *cert, const char *key,
    const struct certfile *cf)
{
	char reason[CERTFILE_REASON_MAX];

	switch (certfile_key_check(cf, key, reason, sizeof(reason))) {
	case CERTFILE_ERRNO:
		say_open_failed(ck, "key", key);
		break;
	case CERTFILE_NO_PEM:
		say(ck, L_ERR,
		    "[tls] key %s: no unencrypted PEM private key in it (%s)",
		    key, reason);
		break;
	case CERTFILE_MISMATCH:
		say(ck, L_ERR,
		    "[tls] key %s does not belong to the certificate in %s",
		    key, cert);
		break;
	case CERTFILE_OK:
		break;
	}
}

static void
check_tls(const struct conf *conf, struct check *ck)
{
	const char *cert = conf->tls.cert;
	const char *key = conf->tls.key != NULL ? conf->tls.key : cert;
	char reason[CERTFILE_REASON_MAX];
	struct certfile *cf;
	size_t i;

	if (cert == NULL) {
		for (i = 0; i < conf->nlisteners; i++)
			if (conf->listeners[i].tls != CONF_TLS_NONE)
				break;
		if (i < conf->nlisteners)
			say(ck, L_WARN,
			    "[tls] no cert: [listener %s] uses a self-signed "
			    "certificate made in data_dir/tls, which clients "
			    "cannot verify; set [tls] cert and key",
			    conf->listeners[i].name);
		return;
	}
	switch (certfile_load(cert, false, &cf, reason, sizeof(reason))) {
	case CERTFILE_ERRNO:
		say_open_failed(ck, "cert", cert);
		return;
	case CERTFILE_NO_PEM:
		say(ck, L_ERR, "[tls] cert %s: no PEM certificate in it (%s)",
		    cert, reason);
		return;
	default:
		break;
	}
	check_dates(ck, cert, cf);
	if (!certfile_has_name(cf, conf->hostname))
		say(ck, L_WARN,
		    "[tls] cert %s: does not name hostname %s; clients that "
		    "check the name will refuse it",
		    cert, conf->hostname);
	check_chain(ck, cert, cf);
	check_key(ck, cert, key, cf);
	certfile_free(cf);
}

/* ---- the user database: aliases and postmasters ------------------- */

struct aliases {
	char **alias, **target; /* pairs, as listed */
	size_t n, cap;
	char **names; /* the distinct aliases, sorted */
	size_t nnames;
};

static void
alias_add(void *arg, const char *alias, const char *target)
{
	struct aliases *al = arg;

	if (al->n == al->cap) {
		al->cap = al->cap ? al->cap * 2 : 64;
		al->alias = xrealloc(al->alias, al->cap * sizeof(char *));
		al->target = xrealloc(al->target, al->cap * sizeof(char *));
	}
	al->alias[al->n] = xstrdup(alias);
	al->target[al->n++] = xstrdup(target);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
is_alias(const struct aliases *al, const char *a)
{
	return al->nnames > 0 && bsearch(&a, al->names, al->nnames,
	                             sizeof(char *), cmp_str) != NULL;
}

static void
aliases_free(struct aliases *al)
{
	size_t i;

	for (i = 0; i < al->n; i++) {
		free(al->alias[i]);
		free(al->target[i]);
	}
	free(al->alias);
	free(al->target);
	free(al->names);
}

/*
 * Is mail for normalized `a` taken here: a user, an alias, or the
 * domain's catch-all? -1 when the database fails.
 */
static int
has_mailbox(struct dir *d, const struct aliases *al, const char *a)
{
	struct why why;

	if (is_alias(al, a) || is_alias(al, strrchr(a, '@')))
		return 1;
	return dir_user_exists(d, a, &why);
}

static void
check_postmasters(const struct conf *conf, struct check *ck, struct dir *d,
    const struct aliases *al)
{
	char a[DIR_ADDR_MAX], list[512], more[32] = "";
	const char *why;
	size_t i, n = 0;
	int rc;

	list[0] = '\0';
	for (i = 0; i < conf->ndomains && conf->postmaster == NULL; i++) {
		(void)snprintf(a, sizeof(a), "postmaster@%s", conf->domains[i]);
		rc = d != NULL ? has_mailbox(d, al, a) : 0;
		if (rc != 0)
			continue;
		if (n < POSTMASTER_LIST_MAX) {
			(void)strlcat(list, n > 0 ? ", " : "", sizeof(list));
			(void)strlcat(list, conf->domains[i], sizeof(list));
		}
		n++;
	}
	if (n > POSTMASTER_LIST_MAX)
		(void)snprintf(more, sizeof(more), " and %zu more",
		    n - POSTMASTER_LIST_MAX);
	if (n > 0)
		say(ck, L_WARN,
		    "no postmaster (RFC 5321 4.5.1) for %s%s: its mail lands "
		    "in data_dir/mail/DOMAIN/postmaster/, where nobody reads "
		    "it; set postmaster = you@%s, or tern alias add "
		    "postmaster@DOMAIN you@%s",
		    list, more, conf->domains[0], conf->domains[0]);
	/*
	 * The postmaster address is a mailbox even without a user (issue
	 * 15): its mail (and root@, abuse@ ... of every domain) is kept,
	 * but with no user nobody can log in to read it.
	 */
	if (conf->postmaster != NULL && d != NULL &&
	    conf_is_local_domain(conf, strrchr(conf->postmaster, '@') + 1) &&
	    dir_addr_norm(conf->postmaster, a, &why) &&
	    has_mailbox(d, al, a) == 0)
		say(ck, L_WARN,
		    "postmaster = %s has no user: its mail (and root@, abuse@ "
		    "... of every domain) is kept in %s/mail/, but nobody can "
		    "log in to read it; add it with `tern user add %s`, or "
		    "forward it with `tern alias add %s ADDRESS`",
		    conf->postmaster, conf->data_dir, conf->postmaster,
		    conf->postmaster);
}

static void
check_aliases(const struct conf *conf, struct check *ck, struct dir *d,
    const struct aliases *al)
{
	const char *t, *at;
	size_t i;

	for (i = 0; i < al->n; i++) {
		t = al->target[i];
		at = strrchr(t, '@');
		/* Remote targets are relayed; "a -> a, b" keeps a's copy. */
		if (at == NULL || !conf_is_local_domain(conf, at + 1) ||
		    strcmp(t, al->alias[i]) == 0 ||
		    ascii_ncasecmp(t, "postmaster@", 11) == 0)
			continue;
		if (has_mailbox(d, al, t) == 0)
			say(ck, L_WARN,
			    "alias %s -> %s: %s is no user or alias here; "
			    "its copy is dropped (tern user add %s, or tern "
			    "alias del %s %s)",
			    al->alias[i], t, t, t, al->alias[i], t);
	}
}

static void
check_dir(const struct conf *conf, struct check *ck)
{
	struct aliases al = { 0 };
	char dbpath[CHECK_PATH_MAX];
	struct why why;
	struct dir *d = NULL;
	int n;

	n = snprintf(dbpath, sizeof(dbpath), "%s/tern.db", conf->data_dir);
	if (n < 0 || (size_t)n >= sizeof(dbpath))
		return;
	/* dir_open() would create it: look first, change nothing. */
	if (access(dbpath, F_OK) == -1) {
		if (conf->postmaster != NULL &&
		    conf_is_local_domain(conf,
		        strrchr(conf->postmaster, '@') + 1))
			say(ck, L_WARN,
			    "postmaster %s: no user database yet (%s)",
			    conf->postmaster, dbpath);
		check_postmasters(conf, ck, NULL, &al);
		return;
	}
	if ((d = dir_open(dbpath, &why)) == NULL ||
	    dir_alias_list(d, alias_add, &al, &why) == -1) {
		say(ck, L_NOTE, "%s: %s; aliases and postmasters not checked",
		    dbpath, why.text);
		goto out;
	}
	al.names = xcalloc(al.n + 1, sizeof(char *));
	for (n = 0; (size_t)n < al.n; n++)
		if (n == 0 || strcmp(al.alias[n], al.alias[n - 1]) != 0)
			al.names[al.nnames++] = al.alias[n];
	qsort(al.names, al.nnames, sizeof(char *), cmp_str);
	check_aliases(conf, ck, d, &al);
	check_postmasters(conf, ck, d, &al);
out:
	aliases_free(&al);
	dir_close(d);
}

/*
 * As root: what `tern serve` would refuse in data_dir before it drops
 * (a link, a foreign owner, group or other write; server/privdrop.h).
 */
static void
check_root_start(const struct conf *conf, struct check *ck,
    const struct service *sv)
{
	struct privdrop_user pu = { sv->name, sv->uid, sv->gid };
	struct why why;

	if (geteuid() != 0 || (conf->user != NULL && !sv->known))
		return;
	if (privdrop_check_data_dir(conf->data_dir, sv->root_start ? &pu : NULL,
	        &why) == -1)
		say(ck, L_ERR, "%s", why.text);
}

/* ---- as the server's user ----------------------------------------- */

/* Can the server's user write data_dir, or will it be made for it? */
static void
check_data_dir(const struct conf *conf, struct check *ck,
    const struct service *sv)
{
	char up[CHECK_PATH_MAX], *slash;
	const char *dd = conf->data_dir;
	struct stat st;
	int e;

	if (stat(dd, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			say(ck, L_ERR, "data_dir %s: not a directory", dd);
			return;
		}
		if (access(dd, W_OK | X_OK) == 0)
			return;
		e = errno;
		/* Root gives data_dir to the user at start. */
		if (e == EACCES && sv->root_start && st.st_uid == 0)
			return;
		say(ck, L_ERR, "data_dir %s: %s cannot write it (%s)%s%s%s%s",
		    dd, sv->name, strerror(e), e == EACCES ? "; chown " : "",
		    e == EACCES ? sv->owner : "", e == EACCES ? " " : "",
		    e == EACCES ? dd : "");
		return;
	}
	if (errno == EACCES) {
		say(ck, L_ERR,
		    "data_dir %s: %s cannot reach it: a directory above it "
		    "is not searchable by it (chmod o+x that directory)",
		    dd, sv->name);
		return;
	}
	if (errno != ENOENT) {
		say(ck, L_ERR, "data_dir %s: %s", dd, strerror(errno));
		return;
	}
	/* Missing: the nearest directory above must let it be made. */
	(void)strlcpy(up, dd, sizeof(up));
	for (;;) {
		if ((slash = strrchr(up, '/')) == NULL)
			(void)strlcpy(up, ".", sizeof(up));
		else if (slash == up)
			up[1] = '\0';
		else
			*slash = '\0';
		if (stat(up, &st) == 0 || errno != ENOENT ||
		    strcmp(up, ".") == 0 || strcmp(up, "/") == 0)
			break;
	}
	if (access(up, X_OK) == -1)
		say(ck, L_ERR,
		    "data_dir %s: %s could not reach it: %s is not "
		    "searchable by it (%s)",
		    dd, sv->name, up, strerror(errno));
	else if (!sv->root_start && access(up, W_OK) == -1)
		say(ck, L_ERR,
		    "data_dir %s does not exist and %s cannot make it in %s "
		    "(%s)",
		    dd, sv->name, up, strerror(errno));
	else
		say(ck, L_NOTE,
		    "data_dir %s does not exist yet; tern serve makes it", dd);
}

/* The server reads them as root at start, but reloads as its user. */
static void
check_tls_access(const struct conf *conf, struct check *ck,
    const struct service *sv)
{
	const char *files[2] = { conf->tls.cert, conf->tls.key };
	size_t i;
	int fd;

	for (i = 0; i < 2; i++) {
		if (files[i] == NULL)
			continue;
		fd = open(files[i], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd != -1) {
			(void)close(fd);
			continue;
		}
		if (errno == ENOENT)
			continue; /* said already */
		say(ck, L_WARN,
		    "[tls] %s %s: %s cannot read it (%s): the server loads it "
		    "as root at start, but a reload (SIGHUP, after a renewal) "
		    "runs as %s: it is refused and the old certificate stays",
		    i == 0 ? "cert" : "key", files[i], sv->name,
		    strerror(errno), sv->name);
	}
}

/*
 * [observability] token files (issue 17): read them as the server will
 * (conf_token_load(), as its user), so a bad one shows here and not
 * only when tern serve refuses to start. The token is never printed.
 */
static void
check_token(struct check *ck, const char *key, const char *path)
{
	struct why why;
	char *token;

	if (path == NULL)
		return;
	if (conf_token_load(key, path, &token, &why) == -1) {
		say(ck, L_ERR, "%s", why.text);
		return;
	}
	explicit_bzero(token, strlen(token));
	free(token);
}

static void
check_as_user(struct conf *conf, struct check *ck, const struct service *sv)
{
	struct why why;

	check_data_dir(conf, ck, sv);
	if (sv->root_start) {
		check_tls_access(conf, ck, sv);
		check_dir(conf, ck);
	}
	/* The child's own copy of conf gets the passwords, and dies. */
	if (conf_secrets_load(conf, on_warning, ck, &why) == -1)
		say(ck, L_ERR, "%s", why.text);
	check_token(ck, "http_token_file", conf->obs.http_token_file);
	check_token(ck, "webhook_token_file", conf->obs.webhook_token_file);
}

/* As `tern serve` drops (server.c): primary group only. */
static int
drop_to(uid_t uid, gid_t gid)
{
	uid_t r, e, s;

	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1 || getresuid(&r, &e, &s) == -1 ||
	    r != uid || e != uid || s != uid)
		return -1;
	return 0;
}

/* Run check_as_user() in a child that is the server's user. */
static void
try_as_user(struct conf *conf, struct check *ck, const struct service *sv)
{
	char tmp[4096], *buf, *line, *nl;
	struct check child;
	size_t n = 0;
	ssize_t r;
	pid_t pid;
	int fds[2], status;

	if (pipe2(fds, O_CLOEXEC) == -1) {
		say(ck, L_ERR, "pipe: %s", strerror(errno));
		return;
	}
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		say(ck, L_ERR, "fork: %s", strerror(errno));
		(void)close(fds[0]);
		(void)close(fds[1]);
		return;
	}
	if (pid == 0) {
		(void)close(fds[0]);
		memset(&child, 0, sizeof(child));
		child.fd = fds[1];
		if (sv->root_start && drop_to(sv->uid, sv->gid) == -1) {
			say(&child, L_ERR, "drop privileges to %s: %s",
			    sv->name, strerror(errno));
			_exit(0);
		}
		check_as_user(conf, &child, sv);
		_exit(0);
	}
	(void)close(fds[1]);
	buf = xmalloc(CHECK_REPORT_MAX + 1);
	/* To the end, past the cap too: a blocked child would never exit. */
	while ((r = read(fds[0], tmp, sizeof(tmp))) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			break;
		if ((size_t)r > CHECK_REPORT_MAX - n)
			r = (ssize_t)(CHECK_REPORT_MAX - n);
		memcpy(buf + n, tmp, (size_t)r);
		n += (size_t)r;
	}
	(void)close(fds[0]);
	buf[n] = '\0';
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	for (line = buf; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		*nl = '\0';
		if (nl - line >= 2 && line[1] == ' ' &&
		    (line[0] == L_ERR || line[0] == L_WARN ||
		        line[0] == L_NOTE))
			emit(ck, (enum level)line[0], line + 2);
	}
	free(buf);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		say(ck, L_ERR, "the checks as %s did not finish (status %d)",
		    sv->name, status);
}

/* ---- the command -------------------------------------------------- */

void
cli_check_config_usage(FILE *f)
{
	fprintf(f,
	    "usage: tern [-c FILE | --demo] check-config [--all]\n"
	    "Print the configuration (only what differs from the defaults; "
	    "--all: every\n"
	    "setting) and check it: errors exit 78, warnings leave it 0.\n");
}

int
cli_check_config(struct conf *conf, int argc, char **argv)
{
	struct check ck = { .fd = -1 };
	struct service sv;
	unsigned flags = 0;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--all") == 0)
			flags |= CONF_PRINT_ALL;
		else if (strcmp(argv[i], "--help") == 0 ||
		         strcmp(argv[i], "-h") == 0) {
			cli_check_config_usage(stdout);
			return 0;
		} else {
			cli_check_config_usage(stderr);
			return EX_USAGE;
		}
	}
	conf_print(conf, stdout, flags);
	fflush(stdout);
	conf_warnings(conf, on_warning, &ck);
	conf_secrets_warnings(conf, on_warning, &ck);
	check_user(conf, &ck, &sv);
	check_tls(conf, &ck);
	check_root_start(conf, &ck, &sv);
	/* Root with `user =`: the database is read as that user (below). */
	if (!sv.root_start)
		check_dir(conf, &ck);
	if (sv.can_try && (sv.known || conf->user == NULL))
		try_as_user(conf, &ck, &sv);
	if (ck.nerr > 0) {
		fprintf(stderr, "tern: %s: %zu error%s, %zu warning%s\n",
		    conf->path ? conf->path : "(embedded default)", ck.nerr,
		    ck.nerr == 1 ? "" : "s", ck.nwarn,
		    ck.nwarn == 1 ? "" : "s");
		return EX_CONFIG;
	}
	fprintf(stderr, "tern: %s: configuration ok%s\n",
	    conf->path ? conf->path : "(embedded default)",
	    ck.nwarn > 0 ? ", with warnings" : "");
	return 0;
}
