/* SPDX-License-Identifier: ISC */
/*
 * cli/doctor_host.c - the checks of `tern doctor` that look at this
 * machine: the certificate the listeners present, and data_dir's owners
 * and modes.
 * Trust: the operator's files; data_dir is walked relative to
 * descriptors, following no link, looking at most DIR_ENTRIES_MAX
 * entries per directory.
 */
#include "cli/doctor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/certfile.h"
#include "cli/doctor_text.h"
#include "util/fsutil.h"
#include "util/str.h"

#define CERT_WARN_DAYS 21
#define PATH_MAX_DOC 4096
#define DIR_ENTRIES_MAX 10000 /* entries looked at per directory */

/* ---- the certificate ------------------------------------------------- */

/* Which kinds of listener use TLS: bit 0 mx, bit 1 submission. */
static unsigned
tls_modes(const struct conf *conf)
{
	unsigned m = 0;
	size_t i;

	for (i = 0; i < conf->nlisteners; i++)
		if (conf->listeners[i].tls != CONF_TLS_NONE)
			m |= conf->listeners[i].mode == CONF_MODE_MX ? 1u : 2u;
	return m;
}

/* Expired, not yet valid, or expiring soon; true when dates are fine. */
static bool
cert_dates(struct doctor *d, const char *path, const struct certfile *cf,
    const char *fix)
{
	time_t soon = time(NULL) + (time_t)CERT_WARN_DAYS * 86400;
	char date[CERTFILE_DATE_MAX];

	certfile_date(cf, CERTFILE_NOT_AFTER, false, date, sizeof(date));
	if (certfile_is_not_yet_valid(cf)) {
		doctor_add(d, DOCTOR_FAIL, "tls", path, fix,
		    "the certificate is not valid yet");
		return false;
	}
	if (certfile_expires_before(cf, time(NULL))) {
		doctor_add(d, DOCTOR_FAIL, "tls", path, fix,
		    "the certificate expired on %s", date);
		return false;
	}
	if (certfile_expires_before(cf, soon)) {
		doctor_add(d, DOCTOR_WARN, "tls", path, fix,
		    "the certificate expires on %s, within %d days", date,
		    CERT_WARN_DAYS);
		return false;
	}
	return true;
}

/* hostname and every MX name that points here must be in the cert. */
static bool
cert_names(struct doctor *d, const char *path, const struct certfile *cf,
    unsigned modes, const char *fix)
{
	const char *name;
	bool ok = true;
	size_t i;

	for (i = 0; i <= d->nmx_names; i++) {
		name = i == 0 ? d->conf->hostname : d->mx_names[i - 1];
		if (i > 0 && ascii_casecmp(name, d->conf->hostname) == 0)
			continue;
		if (certfile_has_name(cf, name))
			continue;
		ok = false;
		/* Submission clients check the name: they will not log in. */
		doctor_add(d, (modes & 2u) ? DOCTOR_FAIL : DOCTOR_WARN, "tls",
		    path, fix, "the certificate does not name %s: %s refuse it",
		    name,
		    (modes & 2u) ? "mail clients"
		                 : "senders that check (MTA-STS, DANE)");
	}
	return ok;
}

/* Self-signed, or not chaining to this system's CAs: warnings. */
static bool
cert_issuer(struct doctor *d, const char *path, const struct certfile *cf,
    const char *fix)
{
	const char *why;

	switch (certfile_verify(cf, &why)) {
	case CERTFILE_SELF_SIGNED:
		doctor_add(d, DOCTOR_WARN, "tls", path, fix,
		    "the certificate is self-signed: senders that check "
		    "(MTA-STS, DANE) and mail clients refuse it");
		return false;
	case CERTFILE_UNTRUSTED:
		doctor_add(d, DOCTOR_WARN, "tls", path, fix,
		    "the certificate does not chain to this system's "
		    "CAs (%s): is the intermediate in the file "
		    "(fullchain.pem)?",
		    why);
		return false;
	case CERTFILE_TRUSTED:
	case CERTFILE_UNCHECKED:
		break;
	}
	return true;
}

/* The certificate did not open (errno): report why. */
static void
open_failed(struct doctor *d, const char *path, bool own, const char *fix)
{
	if (own && errno == ENOENT)
		doctor_add(d, DOCTOR_WARN, "tls", path, fix,
		    "no [tls] cert, and the server has not made its "
		    "self-signed one yet: senders that check and mail clients "
		    "will refuse it");
	else if (errno == EACCES && geteuid() != 0)
		doctor_add(d, DOCTOR_WARN, "tls", path,
		    "run tern doctor as root", "cannot read it as uid %u",
		    (unsigned)geteuid());
	else
		doctor_add(d, DOCTOR_FAIL, "tls", path, NULL, "%s",
		    strerror(errno));
}

void
doctor_cert(struct doctor *d)
{
	const struct conf *conf = d->conf;
	char path[PATH_MAX_DOC], fix[1024], until[CERTFILE_DATE_MAX];
	char reason[CERTFILE_REASON_MAX];
	unsigned modes = tls_modes(conf);
	struct certfile *cf;
	size_t i;
	bool ok;

	if (modes == 0) {
		doctor_add(d, DOCTOR_WARN, "tls", "",
		    "set tls = starttls in "
		    "the mx listener's section, then restart tern",
		    "no listener offers TLS: mail to this host crosses the "
		    "network in plain text");
		return;
	}
	(void)snprintf(fix, sizeof(fix),
	    "get a certificate for %s (e.g. certbot certonly --standalone "
	    "-d %s), set [tls] cert = .../fullchain.pem and key = "
	    ".../privkey.pem, then tern reload",
	    conf->hostname, conf->hostname);
	if (conf->tls.cert != NULL)
		(void)strlcpy(path, conf->tls.cert, sizeof(path));
	else
		(void)snprintf(path, sizeof(path), "%s/tls/self-signed.crt",
		    conf->data_dir);
	/* The self-signed one is in data_dir/tls, which the service user
	 * writes: no link is followed there. */
	switch (certfile_load(path, conf->tls.cert == NULL, &cf, reason,
	    sizeof(reason))) {
	case CERTFILE_ERRNO:
		open_failed(d, path, conf->tls.cert == NULL, fix);
		return;
	case CERTFILE_NO_PEM:
		doctor_add(d, DOCTOR_FAIL, "tls", path, fix,
		    "no PEM certificate in it");
		return;
	default:
		break;
	}
	ok = cert_dates(d, path, cf, fix);
	ok &= cert_names(d, path, cf, modes, fix);
	ok &= cert_issuer(d, path, cf, fix);
	certfile_date(cf, CERTFILE_NOT_AFTER, false, until, sizeof(until));
	for (i = 0; i < d->nmx_names; i++)
		if (ascii_casecmp(d->mx_names[i], conf->hostname) != 0)
			break;
	if (ok)
		doctor_add(d, DOCTOR_OK, "tls", path, NULL,
		    "names %s%s, valid until %s", conf->hostname,
		    i < d->nmx_names ? " and the MX names" : "", until);
	certfile_free(cf);
}

/* ---- data_dir ---------------------------------------------------------- */

struct walk {
	struct doctor *d;
	uid_t uid;     /* the server's user */
	char user[64]; /* for chown */
	size_t bad;
};

/* Owner, group/other write, a link, the type: one finding per fault. */
static void
check_mode(struct walk *w, const char *path, const struct stat *st, bool key)
{
	char word[PATH_MAX_DOC * 4 + 3], fix[sizeof(word) + 128];

	/* The names below data_dir are the service user's to choose. */
	if (!doctor_shell_word(path, word, sizeof(word)))
		(void)strlcpy(word, "PATH", sizeof(word));
	if (S_ISLNK(st->st_mode)) {
		(void)snprintf(fix, sizeof(fix),
		    "replace the link with what it points to (tern follows "
		    "no link in data_dir): mv TARGET %s",
		    word);
		doctor_add(w->d, DOCTOR_FAIL, "data_dir", path, fix,
		    "a symbolic link");
		w->bad++;
		return;
	}
	if (key ? !S_ISREG(st->st_mode) : !S_ISDIR(st->st_mode)) {
		doctor_add(w->d, DOCTOR_FAIL, "data_dir", path, NULL,
		    "not a %s", key ? "regular file" : "directory");
		w->bad++;
		return;
	}
	if (st->st_uid != 0 && st->st_uid != w->uid) {
		(void)snprintf(fix, sizeof(fix), "chown %s %s", w->user, word);
		doctor_add(w->d, DOCTOR_FAIL, "data_dir", path, fix,
		    "owned by uid %u, neither root nor the server's user",
		    (unsigned)st->st_uid);
		w->bad++;
	}
	if (key && (st->st_mode & 077) != 0) {
		(void)snprintf(fix, sizeof(fix), "chmod 600 %s", word);
		doctor_add(w->d, DOCTOR_FAIL, "data_dir", path, fix,
		    "a private key with mode %04o: others may read it",
		    (unsigned)(st->st_mode & 07777));
		w->bad++;
	} else if (!key && (st->st_mode & 022) != 0) {
		(void)snprintf(fix, sizeof(fix), "chmod go-w %s", word);
		doctor_add(w->d, DOCTOR_FAIL, "data_dir", path, fix,
		    "writable by %s (mode %04o): they could replace mail or "
		    "keys",
		    (st->st_mode & 002) ? "everyone" : "its group",
		    (unsigned)(st->st_mode & 07777));
		w->bad++;
	}
}

/* name in dfd: checked; its descriptor when it is a directory we may
 * enter, else -1. */
static int
check_at(struct walk *w, int dfd, const char *dir, const char *name, bool key)
{
	char path[PATH_MAX_DOC];
	struct stat st;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return -1; /* not made yet */
	check_mode(w, path, &st, key);
	if (key || !S_ISDIR(st.st_mode))
		return -1;
	return openat(dfd, name,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static bool
is_key_name(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && strcmp(name + n - 4, ".key") == 0;
}

/* Every *.key in dfd (dir is its path); subdirs too when depth > 0. */
static void
check_keys(struct walk *w, int dfd, const char *dir, int depth)
{
	char sub[PATH_MAX_DOC];
	struct dirent *e;
	size_t seen = 0;
	DIR *dp;
	int fd;

	if ((fd = dup(dfd)) == -1 || (dp = fdopendir(fd)) == NULL) {
		if (fd != -1)
			(void)close(fd);
		return;
	}
	while ((e = readdir(dp)) != NULL && seen++ < DIR_ENTRIES_MAX) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (is_key_name(e->d_name)) {
			(void)check_at(w, dfd, dir, e->d_name, true);
			continue;
		}
		if (depth == 0)
			continue;
		if ((fd = check_at(w, dfd, dir, e->d_name, false)) == -1)
			continue;
		(void)snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
		check_keys(w, fd, sub, depth - 1);
		(void)close(fd);
	}
	(void)closedir(dp);
}

static bool
service_user(const struct conf *conf, struct walk *w)
{
	const struct passwd *pw;

	if (conf->user == NULL) {
		/* It runs as whoever starts it: take that to be us. */
		w->uid = geteuid();
		(void)snprintf(w->user, sizeof(w->user), "%u",
		    (unsigned)w->uid);
		return true;
	}
	if ((pw = getpwnam(conf->user)) == NULL) {
		doctor_add(w->d, DOCTOR_FAIL, "data_dir", conf->user, NULL,
		    "user %s does not exist: tern serve refuses to start",
		    conf->user);
		return false;
	}
	w->uid = pw->pw_uid;
	(void)strlcpy(w->user, conf->user, sizeof(w->user));
	return true;
}

void
doctor_data_dir(struct doctor *d)
{
	static const char *const subdirs[] = { "queue", "mail", "tls", "dkim" };
	const char *dd = d->conf->data_dir;
	struct walk w = { .d = d };
	struct stat st;
	char path[PATH_MAX_DOC];
	size_t i;
	int dfd, fd;

	if (!service_user(d->conf, &w))
		return;
	if (lstat(dd, &st) == -1) {
		if (errno == ENOENT)
			doctor_add(d, DOCTOR_NOTE, "data_dir", dd, NULL,
			    "does not exist yet: tern serve makes it");
		else
			doctor_add(d, DOCTOR_WARN, "data_dir", dd,
			    "run tern doctor as root", "%s", strerror(errno));
		return;
	}
	check_mode(&w, dd, &st, false);
	if (!S_ISDIR(st.st_mode))
		return;
	dfd = open(dd, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd == -1) {
		doctor_add(d, DOCTOR_WARN, "data_dir", dd,
		    "run tern doctor as root", "cannot look inside: %s",
		    strerror(errno));
		return;
	}
	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if ((fd = check_at(&w, dfd, dd, subdirs[i], false)) == -1)
			continue;
		(void)snprintf(path, sizeof(path), "%s/%s", dd, subdirs[i]);
		/* tls/self-signed.key; dkim/DOMAIN/SELECTOR.key */
		if (strcmp(subdirs[i], "tls") == 0)
			check_keys(&w, fd, path, 0);
		else if (strcmp(subdirs[i], "dkim") == 0)
			check_keys(&w, fd, path, 1);
		(void)close(fd);
	}
	(void)close(dfd);
	if (w.bad == 0)
		doctor_add(d, DOCTOR_OK, "data_dir", dd, NULL,
		    "owned by root or the server's user, no links, nothing "
		    "writable by others, keys 0600");
}
