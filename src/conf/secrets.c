/* SPDX-License-Identifier: ISC */
/*
 * conf/secrets.c - secrets_file: the passwords of [routes] entries that
 * say auth=USER, kept out of the config file that every command (and so
 * every local user running `tern sendmail`) reads. One line per route:
 *
 *   # ROUTE_DOMAIN  USER:PASSWORD
 *   *               relay@example.org:s3cret
 *
 * The domain is the route's own ("*" included), the user must be the
 * route's auth=USER, and the password is the rest of the line (it may
 * hold blanks and colons, but not end in a blank). As Postfix's
 * smtp_sasl_password_maps, without the map.
 * Trust: the file is the operator's, but only if nobody else could have
 * written it: it is refused when it is a link, not a regular file, owned
 * by someone other than root or the reader, or open to others. Messages
 * name files, lines and domains, never a password or a line's text.
 */
#include "conf/conf-private.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/str.h"
#include "util/xmalloc.h"

#define SECRETS_FILE_MAX (256 * 1024) /* ~500 bytes a route, 1000 routes */
#define SECRETS_LINE_MAX 1024         /* domain, user and password fit */

typedef void warn_fn(void *arg, const char *name, const char *text);

static void warn_line(warn_fn *, void *, const char *name, int line,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
warn_line(warn_fn *warn, void *arg, const char *name, int line, const char *fmt,
    ...)
{
	char text[1024], what[512];
	va_list ap;

	if (warn == NULL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	(void)snprintf(text, sizeof(text), "%s:%d: %s", name, line, what);
	warn(arg, "secrets_line_unused", text);
}

/* The route for exactly `domain` ("*" too), or NULL. */
static struct conf_route *
route_exact(struct conf *c, const char *domain)
{
	size_t i;

	for (i = 0; i < c->nroutes; i++)
		if (strcmp(c->routes[i].domain, domain) == 0)
			return &c->routes[i];
	return NULL;
}

static void
pass_free(struct conf_route *r)
{
	if (r->auth_pass == NULL)
		return;
	explicit_bzero(r->auth_pass, strlen(r->auth_pass));
	free(r->auth_pass);
	r->auth_pass = NULL;
}

/*
 * One line, without its end and leading blanks: 0, or -1 with why. The
 * line numbers of the routes already given are in seen[] (0: not yet).
 */
static int
parse_line(struct conf *c, char *s, const char *name, int lineno, int *seen,
    warn_fn *warn, void *arg, struct why *why)
{
	struct conf_route *r;
	const char *dwhy;
	char *domain, *cred, *colon, *pass;
	size_t n, i;

	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
			return why_set(why, WHY_PERM, 0,
			    "%s:%d: control character in line", name, lineno);
	n = strcspn(s, " \t");
	if (s[n] == '\0')
		return why_set(why, WHY_PERM, 0,
		    "%s:%d: expected 'ROUTE_DOMAIN USER:PASSWORD'", name,
		    lineno);
	s[n] = '\0';
	cred = s + n + 1;
	cred += strspn(cred, " \t");
	/* Not echoed: a line in the wrong order may start with a secret. */
	if (strcmp(s, "*") == 0)
		domain = xstrdup("*");
	else if (!conf_domain_norm(s, n, &domain, &dwhy))
		return why_set(why, WHY_PERM, 0,
		    "%s:%d: expected a [routes] domain or '*' first, then "
		    "USER:PASSWORD",
		    name, lineno);
	colon = strchr(cred, ':');
	if (colon == NULL || colon == cred ||
	    strcspn(cred, " \t") < (size_t)(colon - cred)) {
		why_set(why, WHY_PERM, 0,
		    "%s:%d: route %s: expected USER:PASSWORD after the domain",
		    name, lineno, domain);
		goto bad;
	}
	*colon = '\0';
	pass = colon + 1;
	n = strlen(pass);
	if (n == 0 || pass[n - 1] == ' ' || pass[n - 1] == '\t') {
		why_set(why, WHY_PERM, 0, "%s:%d: route %s: %s", name, lineno,
		    domain,
		    n == 0 ? "no password after ':'"
		           : "the password ends in a blank; remove it");
		goto bad;
	}
	if (strlen(cred) > CONF_AUTH_MAX || n > CONF_AUTH_MAX) {
		why_set(why, WHY_PERM, 0,
		    "%s:%d: route %s: user or password longer than %d bytes",
		    name, lineno, domain, CONF_AUTH_MAX);
		goto bad;
	}
	r = route_exact(c, domain);
	if (r == NULL)
		warn_line(warn, arg, name, lineno,
		    "no [routes] entry for %s: the line is unused", domain);
	else if (r->auth_user == NULL)
		warn_line(warn, arg, name, lineno,
		    "route %s has no auth=USER: the line is unused", domain);
	else if (r->auth_inline)
		warn_line(warn, arg, name, lineno,
		    "route %s has its password in the config file, which "
		    "is used instead: remove one of the two",
		    domain);
	else if (seen[r - c->routes] != 0) {
		why_set(why, WHY_PERM, 0,
		    "%s:%d: route %s given twice (first on line %d)", name,
		    lineno, domain, seen[r - c->routes]);
		goto bad;
	} else if (strcmp(cred, r->auth_user) != 0) {
		/* Not the line's user: it may be a misplaced password. */
		why_set(why, WHY_PERM, 0,
		    "%s:%d: route %s authenticates as %.64s (auth= in the "
		    "config), but this line names another user",
		    name, lineno, domain, r->auth_user);
		goto bad;
	} else {
		seen[r - c->routes] = lineno;
		r->auth_pass = xstrdup(pass);
	}
	free(domain);
	return 0;
bad:
	free(domain);
	return -1;
}

int
conf_secrets_parse(struct conf *c, const char *text, const char *name,
    warn_fn *warn, void *arg, struct why *why)
{
	char line[SECRETS_LINE_MAX + 2], *s;
	const char *p = text, *nl;
	size_t n, i;
	int lineno = 0, ret = -1, *seen;

	seen = xcalloc(c->nroutes + 1, sizeof(*seen));
	for (i = 0; i < c->nroutes; i++)
		if (!c->routes[i].auth_inline)
			pass_free(&c->routes[i]);
	for (; *p != '\0'; p = nl != NULL ? nl + 1 : p + n) {
		lineno++;
		nl = strchr(p, '\n');
		n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > SECRETS_LINE_MAX) {
			why_set(why, WHY_PERM, 0,
			    "%s:%d: line longer than %d bytes", name, lineno,
			    SECRETS_LINE_MAX);
			goto out;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		s = line + strspn(line, " \t");
		if (*s != '\0' && *s != '#' &&
		    parse_line(c, s, name, lineno, seen, warn, arg, why) == -1)
			goto out;
		if (nl == NULL)
			break;
	}
	for (i = 0; i < c->nroutes; i++) {
		const struct conf_route *r = &c->routes[i];

		if (r->auth_user != NULL && r->auth_pass == NULL) {
			why_set(why, WHY_PERM, 0,
			    "%s: no password for route %s; add the line "
			    "'%s %.64s:PASSWORD'",
			    name, r->domain, r->domain, r->auth_user);
			goto out;
		}
	}
	ret = 0;
out:
	explicit_bzero(line, sizeof(line));
	free(seen);
	return ret;
}

/*
 * "chown root:GROUP and chmod 0640 it", for the caller's group; the path
 * is in the message already (why->text is 256 bytes).
 */
static void
fix_text(char *dst, size_t dstsz, gid_t gid)
{
	struct group *gr = getgrgid(gid);
	char gname[32];

	if (gr != NULL && strlen(gr->gr_name) < sizeof(gname))
		(void)strlcpy(gname, gr->gr_name, sizeof(gname));
	else
		(void)snprintf(gname, sizeof(gname), "%u", (unsigned)gid);
	(void)snprintf(dst, dstsz, "chown root:%s and chmod 0640 it", gname);
}

static const char *
user_name(uid_t uid, char *dst, size_t dstsz)
{
	struct passwd *pw = getpwuid(uid);

	if (pw != NULL && strlen(pw->pw_name) < dstsz)
		(void)strlcpy(dst, pw->pw_name, dstsz);
	else
		(void)snprintf(dst, dstsz, "uid %u", (unsigned)uid);
	return dst;
}

/* Who may have written or may read it: root, us, our group. */
static int
check_stat(const char *key, const char *path, const struct stat *st, uid_t uid,
    gid_t gid, struct why *why)
{
	char fix[80], owner[64], who[64];
	mode_t m = st->st_mode & 07777;
	const char *what = NULL;

	fix_text(fix, sizeof(fix), gid);
	if (!S_ISREG(st->st_mode))
		return why_set(why, WHY_PERM, 0, "%s %s: not a regular file",
		    key, path);
	if (st->st_uid != 0 && st->st_uid != uid)
		return why_set(why, WHY_PERM, 0,
		    "%s %s: owned by %s, neither root nor %s; %s", key, path,
		    user_name(st->st_uid, owner, sizeof(owner)),
		    user_name(uid, who, sizeof(who)), fix);
	if (m & S_IWOTH)
		what = "writable by others";
	else if (m & S_IROTH)
		what = "readable by others";
	else if (m & S_IXOTH)
		what = "open to others";
	else if (m & S_IWGRP)
		what = "writable by its group";
	else if (m & S_IXGRP)
		what = "open to its group beyond reading";
	else if ((m & S_IRGRP) && st->st_gid != gid && st->st_gid != 0)
		what = "readable by a group other than the server's";
	if (what != NULL)
		return why_set(why, WHY_PERM, 0, "%s %s: %s (mode %04o); %s",
		    key, path, what, (unsigned)m, fix);
	return 0;
}

/*
 * Read the file `path` (named `key` in messages) into *text_out
 * (malloc'd, NUL-terminated, at most max bytes, no NUL inside) with the
 * checks above; `hint` says what to put in a missing file. 0, or -1
 * with why. The caller wipes and frees the text.
 */
static int
read_private(const char *key, const char *path, size_t max, const char *hint,
    char **text_out, size_t *n_out, struct why *why)
{
	char fix[80], who[64], *text = NULL;
	uid_t uid = geteuid();
	gid_t gid = getegid();
	struct stat st;
	size_t n = 0;
	ssize_t r;
	int fd, ret = -1;

	fix_text(fix, sizeof(fix), gid);
	fd = open(path,
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ELOOP)
			return why_set(why, WHY_PERM, 0,
			    "%s %s: a symbolic link; name the file itself", key,
			    path);
		if (errno == EACCES)
			return why_set(why, WHY_PERM, 0,
			    "%s %s: %s cannot read it; %s", key, path,
			    user_name(uid, who, sizeof(who)), fix);
		if (errno == ENOENT)
			return why_set(why, WHY_PERM, 0,
			    "%s %s: no such file; make it with %s, then %s",
			    key, path, hint, fix);
		return why_set(why, WHY_PERM, errno, "%s %s", key, path);
	}
	if (fstat(fd, &st) == -1) {
		why_set(why, WHY_PERM, errno, "%s %s: fstat", key, path);
		goto out;
	}
	if (check_stat(key, path, &st, uid, gid, why) == -1)
		goto out;
	text = xmalloc(max + 1);
	while (n <= max && (r = read(fd, text + n, max + 1 - n)) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			why_set(why, WHY_PERM, errno, "%s %s: read", key, path);
			goto out;
		}
		n += (size_t)r;
	}
	if (n > max) {
		why_set(why, WHY_PERM, 0, "%s %s: larger than %zu bytes", key,
		    path, max);
		goto out;
	}
	text[n] = '\0';
	if (strlen(text) != n) {
		why_set(why, WHY_PERM, 0, "%s %s: NUL byte in file", key, path);
		goto out;
	}
	*text_out = text;
	*n_out = n;
	text = NULL;
	ret = 0;
out:
	if (text != NULL) {
		explicit_bzero(text, n);
		free(text);
	}
	(void)close(fd);
	return ret;
}

int
conf_secrets_load(struct conf *c, warn_fn *warn, void *arg, struct why *why)
{
	char *text;
	size_t n;
	int ret;

	if (c->secrets_file == NULL)
		return 0;
	if (read_private("secrets_file", c->secrets_file, SECRETS_FILE_MAX,
	        "a line 'ROUTE_DOMAIN USER:PASSWORD' per route", &text, &n,
	        why) == -1)
		return -1;
	ret = conf_secrets_parse(c, text, c->secrets_file, warn, arg, why);
	explicit_bzero(text, n);
	free(text);
	return ret;
}

/* RFC 6750 2.1 b64token: what may follow "Bearer " in a header. */
static bool
is_b64token(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!ascii_is_alnum(s[i]) && strchr("-._~+/=", s[i]) == NULL)
			return false;
	return i > 0;
}

int
conf_token_load(const char *key, const char *path, char **token_out,
    struct why *why)
{
	char *text;
	size_t n;

	*token_out = NULL;
	if (read_private(key, path, CONF_TOKEN_MAX + 2, "the token on one line",
	        &text, &n, why) == -1)
		return -1;
	/* One line: its LF (or CRLF) is not part of the token. */
	if (n > 0 && text[n - 1] == '\n')
		text[--n] = '\0';
	if (n > 0 && text[n - 1] == '\r')
		text[--n] = '\0';
	if (n > CONF_TOKEN_MAX || !is_b64token(text)) {
		explicit_bzero(text, n);
		free(text);
		return why_set(why, WHY_PERM, 0,
		    "%s %s: expected one line of at most %d letters, digits "
		    "and -._~+/= (a bearer token, RFC 6750)",
		    key, path, CONF_TOKEN_MAX);
	}
	*token_out = text;
	return 0;
}

void
conf_secrets_warnings(const struct conf *c, warn_fn *fn, void *arg)
{
	char text[1400];
	struct stat st;
	size_t i;

	if (c->path == NULL || stat(c->path, &st) == -1 ||
	    !(st.st_mode & S_IROTH))
		return;
	for (i = 0; i < c->nroutes; i++) {
		if (!c->routes[i].auth_inline)
			continue;
		(void)snprintf(text, sizeof(text),
		    "[routes] %s: the auth= password is in %s, which every "
		    "local user can read (mode %04o); move it to secrets_file "
		    "(auth=%s in the route, the line '%s %s:PASSWORD' there)",
		    c->routes[i].domain, c->path,
		    (unsigned)(st.st_mode & 07777), c->routes[i].auth_user,
		    c->routes[i].domain, c->routes[i].auth_user);
		fn(arg, "route_password_readable", text);
	}
}
