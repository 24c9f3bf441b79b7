/* SPDX-License-Identifier: ISC */
/*
 * dir/dir.c - users and aliases in SQLite, yescrypt password hashes.
 *
 * Schema (user_version 1):
 *   users(address PRIMARY KEY, hash)       one row per mailbox
 *   aliases(alias, target, PRIMARY KEY)    one row per alias target
 * Statements are prepared once per struct dir and reset after each use;
 * no row is kept between calls, so other writers are seen at once.
 * Trust: see dir.h. Input is bound with sqlite3_bind_text, never spliced.
 */
#include "dir/dir.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "dir/subaddr.h"
#include "smtp/addr.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define DIR_SCHEMA_VERSION 1

_Static_assert(DIR_PASSWORD_MAX < CRYPT_MAX_PASSPHRASE_SIZE,
    "libxcrypt refuses longer passphrases");
#define DIR_BUSY_MS 5000

/*
 * A yescrypt hash of a random password with libxcrypt's default cost,
 * checked against when the user does not exist, so that "no such user"
 * costs the same time as "wrong password" (no user enumeration by timing).
 */
static const char dummy_hash[] =
    "$y$j9T$RSuVawxnQ1YRYV65bMWYI/$ez1OoMpu6PnvEB6a3lA/wc.V0726LGR8aab/"
    "5UwN1A1";

enum q {
	Q_USER_ADD = 0,
	Q_USER_DEL,
	Q_USER_PASSWD,
	Q_USER_LIST,
	Q_USER_GET,
	Q_ALIAS_ADD,
	Q_ALIAS_DEL_ONE,
	Q_ALIAS_DEL_ALL,
	Q_ALIAS_LIST,
	Q_ALIAS_GET,
	Q_COUNT,
};

static const char *const sql[Q_COUNT] = {
	[Q_USER_ADD] = "INSERT INTO users(address, hash) VALUES (?1, ?2)",
	[Q_USER_DEL] = "DELETE FROM users WHERE address = ?1",
	[Q_USER_PASSWD] = "UPDATE users SET hash = ?2 WHERE address = ?1",
	[Q_USER_LIST] = "SELECT address FROM users ORDER BY address",
	[Q_USER_GET] = "SELECT hash FROM users WHERE address = ?1",
	[Q_ALIAS_ADD] = "INSERT INTO aliases(alias, target) VALUES (?1, ?2)",
	[Q_ALIAS_DEL_ONE] = "DELETE FROM aliases WHERE alias = ?1 AND "
	                    "target = ?2",
	[Q_ALIAS_DEL_ALL] = "DELETE FROM aliases WHERE alias = ?1",
	[Q_ALIAS_LIST] = "SELECT alias, target FROM aliases "
	                 "ORDER BY alias, target",
	[Q_ALIAS_GET] = "SELECT target FROM aliases WHERE alias = ?1 "
	                "ORDER BY target",
};

static const char schema[] = "BEGIN IMMEDIATE;"
                             "CREATE TABLE IF NOT EXISTS users ("
                             " address TEXT PRIMARY KEY NOT NULL,"
                             " hash TEXT NOT NULL);"
                             "CREATE TABLE IF NOT EXISTS aliases ("
                             " alias TEXT NOT NULL,"
                             " target TEXT NOT NULL,"
                             " PRIMARY KEY (alias, target));"
                             "PRAGMA user_version = 1;"
                             "COMMIT;";

struct dir {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *st[Q_COUNT];
	struct crypt_data *cd; /* ~32 KiB: never on the stack */
};

static int
db_fail(struct dir *d, struct why *why, const char *what)
{
	return why_set(why, WHY_TEMP, 0, "%s: %s: %s", d->path, what,
	    sqlite3_errmsg(d->db));
}

/* The statement for q, reset and unbound; NULL with why on error. */
static sqlite3_stmt *
stmt(struct dir *d, enum q q, struct why *why)
{
	if (d->st[q] == NULL &&
	    sqlite3_prepare_v3(d->db, sql[q], -1, SQLITE_PREPARE_PERSISTENT,
	        &d->st[q], NULL) != SQLITE_OK) {
		db_fail(d, why, "prepare");
		return NULL;
	}
	sqlite3_reset(d->st[q]);
	sqlite3_clear_bindings(d->st[q]);
	return d->st[q];
}

static bool
bind2(sqlite3_stmt *s, const char *a, const char *b)
{
	if (sqlite3_bind_text(s, 1, a, -1, SQLITE_STATIC) != SQLITE_OK)
		return false;
	return b == NULL ||
	       sqlite3_bind_text(s, 2, b, -1, SQLITE_STATIC) == SQLITE_OK;
}

/* Run a statement that returns no rows; the sqlite3 result code. */
static int
exec_stmt(struct dir *d, enum q q, const char *a, const char *b,
    struct why *why)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = stmt(d, q, why)) == NULL)
		return SQLITE_ERROR;
	if (!bind2(s, a, b)) {
		db_fail(d, why, "bind");
		return SQLITE_ERROR;
	}
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && (rc & 0xff) != SQLITE_CONSTRAINT)
		db_fail(d, why, "write");
	return rc;
}

struct dir *
dir_open(const char *path, struct why *why)
{
	struct dir *d;
	sqlite3_stmt *s = NULL;
	int fd, version;

	/*
	 * Hashes inside: create it private before SQLite makes it 0644;
	 * SQLite gives the -wal and -shm files the same mode. O_EXCL, so an
	 * existing database is never opened and closed behind SQLite's
	 * back: close(2) drops every POSIX lock this process holds on the
	 * file, SQLite's included ("How To Corrupt An SQLite Database" 2.2;
	 * seen as a server that stopped seeing new users).
	 */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 && errno != EEXIST) {
		why_set(why, WHY_TEMP, errno, "open %s", path);
		return NULL;
	}
	if (fd != -1)
		(void)close(fd);
	d = xcalloc(1, sizeof(*d));
	d->path = xstrdup(path);
	d->cd = xcalloc(1, sizeof(*d->cd));
	/* NOMUTEX: a struct dir is used by one thread at a time. */
	if (sqlite3_open_v2(path, &d->db,
	        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
	        NULL) != SQLITE_OK) {
		if (d->db == NULL)
			why_set(why, WHY_TEMP, ENOMEM, "open %s", path);
		else
			db_fail(d, why, "open");
		goto fail;
	}
	sqlite3_extended_result_codes(d->db, 1);
	if (sqlite3_busy_timeout(d->db, DIR_BUSY_MS) != SQLITE_OK ||
	    sqlite3_exec(d->db, "PRAGMA journal_mode = WAL", NULL, NULL,
	        NULL) != SQLITE_OK) {
		db_fail(d, why, "set up");
		goto fail;
	}
	if (sqlite3_prepare_v2(d->db, "PRAGMA user_version", -1, &s, NULL) !=
	        SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		db_fail(d, why, "read schema version");
		goto fail;
	}
	version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	s = NULL;
	if (version > DIR_SCHEMA_VERSION) {
		why_set(why, WHY_PERM, 0,
		    "%s: schema version %d is newer than this tern's (%d); "
		    "upgrade tern",
		    path, version, DIR_SCHEMA_VERSION);
		goto fail;
	}
	if (version < DIR_SCHEMA_VERSION &&
	    sqlite3_exec(d->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		db_fail(d, why, "create schema");
		(void)sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
		goto fail;
	}
	return d;
fail:
	sqlite3_finalize(s);
	dir_close(d);
	return NULL;
}

void
dir_close(struct dir *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(d->st[i]);
	sqlite3_close(d->db);
	free(d->cd);
	free(d->path);
	free(d);
}

bool
dir_addr_norm(const char *address, char *out, const char **why_out)
{
	struct smtp_addr a;
	size_t n = strlen(address);

	if (n >= DIR_ADDR_MAX) {
		*why_out = "address too long";
		return false;
	}
	if (!smtp_mailbox_parse(address, n, SMTP_ADDR_UTF8, &a, why_out))
		return false;
	if (a.is_null || a.domain[0] == '\0') {
		*why_out = "address needs a local part and a domain";
		return false;
	}
	if (a.quoted || a.literal) {
		*why_out = "quoted local parts and address literals are "
		           "not supported here";
		return false;
	}
	/* dot-atom allows '/', which would make a Maildir sub-directory. */
	if (strchr(a.local, '/') != NULL) {
		*why_out = "'/' is not allowed in a local part here";
		return false;
	}
	/* RFC 5321 2.4: the local part may be case-sensitive; we fold ASCII
	 * only, and keep UTF-8 (RFC 6531) as sent. */
	if (ascii_only(a.local))
		ascii_lower_str(a.local);
	ascii_lower_str(a.domain);
	(void)snprintf(out, DIR_ADDR_MAX, "%s@%s", a.local, a.domain);
	return true;
}

/* An alias key: a normalized address or "@domain". */
static bool
alias_norm(const char *alias, char *out, const char **why_out)
{
	char tmp[DIR_ADDR_MAX + 1];

	if (alias[0] != '@')
		return dir_addr_norm(alias, out, why_out);
	/* Borrow the mailbox grammar for the domain alone. */
	if (strlen(alias) + 1 >= sizeof(tmp)) {
		*why_out = "domain too long";
		return false;
	}
	(void)snprintf(tmp, sizeof(tmp), "x%s", alias);
	if (!dir_addr_norm(tmp, out, why_out))
		return false;
	memmove(out, out + 1, strlen(out)); /* drop the "x", keep NUL */
	return true;
}

static int
bad_addr(struct why *why, const char *what, const char *addr,
    const char *why_text)
{
	char esc[128];

	return why_set(why, WHY_PERM, 0, "%s %s: %s", what,
	    log_escs(esc, sizeof(esc), addr), why_text);
}

static int
check_password(const char *pw, struct why *why)
{
	size_t n = strlen(pw);

	if (n == 0)
		return why_set(why, WHY_PERM, 0, "empty password");
	if (n > DIR_PASSWORD_MAX)
		return why_set(why, WHY_PERM, 0,
		    "password longer than %d bytes", DIR_PASSWORD_MAX);
	return 0;
}

/* A fresh yescrypt hash of pw into out[CRYPT_OUTPUT_SIZE]. */
static int
hash_password(struct dir *d, const char *pw, char *out, struct why *why)
{
	char *setting;
	const char *h;

	/* NULL entropy: libxcrypt reads the OS random source itself. */
	if ((setting = crypt_gensalt_ra("$y$", 0, NULL, 0)) == NULL)
		return why_set(why, WHY_TEMP, errno, "crypt_gensalt");
	memset(d->cd, 0, sizeof(*d->cd));
	h = crypt_rn(pw, setting, d->cd, (int)sizeof(*d->cd));
	free(setting);
	if (h == NULL || h[0] == '*')
		return why_set(why, WHY_TEMP, errno, "crypt");
	if (strlcpy(out, h, CRYPT_OUTPUT_SIZE) >= CRYPT_OUTPUT_SIZE)
		return why_set(why, WHY_TEMP, 0, "crypt: hash too long");
	explicit_bzero(d->cd, sizeof(*d->cd));
	return 0;
}

int
dir_user_add(struct dir *d, const char *address, const char *password,
    struct why *why)
{
	char a[DIR_ADDR_MAX], h[CRYPT_OUTPUT_SIZE];
	const char *w;
	int rc;

	if (!dir_addr_norm(address, a, &w))
		return bad_addr(why, "address", address, w);
	if (check_password(password, why) == -1 ||
	    hash_password(d, password, h, why) == -1)
		return -1;
	rc = exec_stmt(d, Q_USER_ADD, a, h, why);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return why_set(why, WHY_PERM, 0, "user %s exists", a);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
dir_user_del(struct dir *d, const char *address, struct why *why)
{
	char a[DIR_ADDR_MAX];
	const char *w;

	if (!dir_addr_norm(address, a, &w))
		return bad_addr(why, "address", address, w);
	if (exec_stmt(d, Q_USER_DEL, a, NULL, why) != SQLITE_DONE)
		return -1;
	if (sqlite3_changes(d->db) == 0)
		return why_set(why, WHY_PERM, 0, "no such user %s", a);
	return 0;
}

int
dir_user_passwd(struct dir *d, const char *address, const char *password,
    struct why *why)
{
	char a[DIR_ADDR_MAX], h[CRYPT_OUTPUT_SIZE];
	const char *w;

	if (!dir_addr_norm(address, a, &w))
		return bad_addr(why, "address", address, w);
	if (check_password(password, why) == -1 ||
	    hash_password(d, password, h, why) == -1)
		return -1;
	if (exec_stmt(d, Q_USER_PASSWD, a, h, why) != SQLITE_DONE)
		return -1;
	if (sqlite3_changes(d->db) == 0)
		return why_set(why, WHY_PERM, 0, "no such user %s", a);
	return 0;
}

int
dir_user_list(struct dir *d, void (*fn)(void *arg, const char *address),
    void *arg, struct why *why)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = stmt(d, Q_USER_LIST, why)) == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn(arg, (const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : db_fail(d, why, "list users");
}

/* The stored hash of a into out; 1 found, 0 not, -1 error. */
static int
user_get(struct dir *d, const char *a, char *out, size_t outsz, struct why *why)
{
	sqlite3_stmt *s;
	const unsigned char *h;
	int rc, ret = 0;

	if ((s = stmt(d, Q_USER_GET, why)) == NULL)
		return -1;
	if (!bind2(s, a, NULL))
		return db_fail(d, why, "bind");
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		h = sqlite3_column_text(s, 0);
		if (out != NULL)
			(void)strlcpy(out, h != NULL ? (const char *)h : "",
			    outsz);
		ret = 1;
	} else if (rc != SQLITE_DONE)
		ret = db_fail(d, why, "look up user");
	sqlite3_reset(s);
	return ret;
}

int
dir_user_exists(struct dir *d, const char *address, struct why *why)
{
	char a[DIR_ADDR_MAX];
	const char *w;

	if (!dir_addr_norm(address, a, &w))
		return 0;
	return user_get(d, a, NULL, 0, why);
}

/* Compare without an early exit: the time must not tell how much matched. */
static bool
same_string(const char *a, const char *b)
{
	size_t i, na = strlen(a), nb = strlen(b);
	unsigned char diff = na != nb;

	for (i = 0; i < na && i < nb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

int
dir_user_check_password(struct dir *d, const char *address,
    const char *password, struct why *why)
{
	char a[DIR_ADDR_MAX], stored[CRYPT_OUTPUT_SIZE];
	const char *w, *h;
	int found = 0;
	bool ok;

	if (dir_addr_norm(address, a, &w) &&
	    (found = user_get(d, a, stored, sizeof(stored), why)) == -1)
		return -1;
	if (found == 0)
		(void)strlcpy(stored, dummy_hash, sizeof(stored));
	if (strlen(password) > DIR_PASSWORD_MAX)
		password = ""; /* still hash, for the same time */
	memset(d->cd, 0, sizeof(*d->cd));
	h = crypt_rn(password, stored, d->cd, (int)sizeof(*d->cd));
	ok = h != NULL && h[0] != '*' && same_string(h, stored);
	explicit_bzero(d->cd, sizeof(*d->cd));
	return found == 1 && ok && password[0] != '\0' ? 1 : 0;
}

int
dir_alias_add(struct dir *d, const char *alias, const char *target,
    struct why *why)
{
	char a[DIR_ADDR_MAX], t[DIR_ADDR_MAX];
	const char *w;
	int rc;

	if (!alias_norm(alias, a, &w))
		return bad_addr(why, "alias", alias, w);
	if (!dir_addr_norm(target, t, &w))
		return bad_addr(why, "target", target, w);
	rc = exec_stmt(d, Q_ALIAS_ADD, a, t, why);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return why_set(why, WHY_PERM, 0, "alias %s -> %s exists", a, t);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
dir_alias_del(struct dir *d, const char *alias, const char *target,
    struct why *why)
{
	char a[DIR_ADDR_MAX], t[DIR_ADDR_MAX];
	const char *w;

	if (!alias_norm(alias, a, &w))
		return bad_addr(why, "alias", alias, w);
	if (target != NULL && !dir_addr_norm(target, t, &w))
		return bad_addr(why, "target", target, w);
	if (exec_stmt(d, target != NULL ? Q_ALIAS_DEL_ONE : Q_ALIAS_DEL_ALL, a,
	        target != NULL ? t : NULL, why) != SQLITE_DONE)
		return -1;
	if (sqlite3_changes(d->db) == 0)
		return target != NULL
		           ? why_set(why, WHY_PERM, 0, "no alias %s -> %s", a,
		                 t)
		           : why_set(why, WHY_PERM, 0, "no alias %s", a);
	return 0;
}

int
dir_alias_list(struct dir *d,
    void (*fn)(void *arg, const char *alias, const char *target), void *arg,
    struct why *why)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = stmt(d, Q_ALIAS_LIST, why)) == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn(arg, (const char *)sqlite3_column_text(s, 0),
		    (const char *)sqlite3_column_text(s, 1));
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : db_fail(d, why, "list aliases");
}

void
dir_targets_free(struct dir_targets *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++)
		free(t->addrs[i]);
	free(t->addrs);
	t->addrs = NULL;
	t->n = 0;
}

struct resolve {
	struct dir *d;
	const struct dir_policy *pol; /* never NULL here */
	char pm[DIR_ADDR_MAX];        /* normalized pol->postmaster, or "" */
	char stack[DIR_RESOLVE_DEPTH_MAX + 1][DIR_ADDR_MAX];
	size_t depth;
	size_t rows; /* alias rows read so far */
	struct dir_targets *out;
	struct why *why;
};

static void
out_add(struct dir_targets *out, const char *a)
{
	size_t i;

	for (i = 0; i < out->n; i++)
		if (strcmp(out->addrs[i], a) == 0)
			return;
	out->addrs = xrealloc(out->addrs, (out->n + 1) * sizeof(char *));
	out->addrs[out->n++] = xstrdup(a);
}

/* Targets of alias key `a` into *list (malloc'd); -1 error, else count. */
static int
alias_get(struct resolve *r, const char *a, char ***list, size_t *n)
{
	sqlite3_stmt *s;
	int rc;

	*list = NULL;
	*n = 0;
	if ((s = stmt(r->d, Q_ALIAS_GET, r->why)) == NULL)
		return -1;
	if (!bind2(s, a, NULL))
		return db_fail(r->d, r->why, "bind");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (++r->rows > DIR_RESOLVE_TARGETS_MAX)
			break;
		*list = xrealloc(*list, (*n + 1) * sizeof(char *));
		(*list)[(*n)++] =
		    xstrdup((const char *)sqlite3_column_text(s, 0));
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(r->d, r->why, "look up alias");
	return 0;
}

static void
list_free(char **list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

static enum dir_resolve_status
loop(struct resolve *r, const char *what, const char *a)
{
	char esc[128];

	why_set(r->why, WHY_PERM, 0, "%s at %s", what,
	    log_escs(esc, sizeof(esc), a));
	return DIR_ALIAS_LOOP;
}

static bool
target_is_local(struct resolve *r, const char *t)
{
	const char *at = strrchr(t, '@');

	return r->pol->is_local == NULL ||
	       r->pol->is_local(r->pol->arg, at + 1);
}

static enum dir_resolve_status expand(struct resolve *, const char *a);

/* Was t expanded on the way here (an ancestor of the current address)? */
static bool
on_stack(const struct resolve *r, const char *t, size_t upto)
{
	size_t j;

	for (j = 0; j < upto; j++)
		if (strcmp(r->stack[j], t) == 0)
			return true;
	return false;
}

/*
 * Expand alias key a's targets list[0..n) into r->out (list is freed).
 * a is on the stack meanwhile, for the loop check.
 */
static enum dir_resolve_status
follow(struct resolve *r, const char *a, char **list, size_t n)
{
	enum dir_resolve_status st = DIR_NO_SUCH_USER;
	char esc1[128], esc2[128];
	size_t i;
	int rc;

	(void)strlcpy(r->stack[r->depth++], a, DIR_ADDR_MAX);
	for (i = 0; i < n; i++) {
		const char *t = list[i];

		if (strcmp(t, a) == 0) {
			/* "a -> a, b": a's own mailbox, if a is a user. */
			if ((rc = user_get(r->d, t, NULL, 0, r->why)) == -1) {
				st = DIR_TEMPFAIL;
				goto out;
			}
			if (rc == 0 && strcmp(t, r->pm) != 0) {
				st = loop(r, "alias to itself", a);
				goto out;
			}
			out_add(r->out, t);
			st = DIR_RESOLVED;
			continue;
		}
		if (on_stack(r, t, r->depth - 1)) {
			st = loop(r, "alias loop", t);
			goto out;
		}
		if (!target_is_local(r, t)) {
			out_add(r->out, t);
			st = DIR_RESOLVED;
			continue;
		}
		switch (expand(r, t)) {
		case DIR_RESOLVED:
			st = DIR_RESOLVED;
			break;
		case DIR_NO_SUCH_USER:
			/* An operator's slip; the other targets still get
			 * their copy. */
			log_warn("event=alias_dangling alias=%s target=%s",
			    log_escs(esc1, sizeof(esc1), a),
			    log_escs(esc2, sizeof(esc2), t));
			break;
		case DIR_ALIAS_LOOP:
			st = DIR_ALIAS_LOOP;
			goto out;
		case DIR_TEMPFAIL:
			st = DIR_TEMPFAIL;
			goto out;
		}
	}
	if (st == DIR_NO_SUCH_USER)
		why_set(r->why, WHY_PERM, 0, "alias %s has no valid target",
		    log_escs(esc1, sizeof(esc1), a));
out:
	r->depth--;
	list_free(list, n);
	return st;
}

/*
 * Step 1 of dir_resolve() for a: its alias, its user, or the admin
 * mailbox itself. DIR_NO_SUCH_USER when none of them is there.
 */
static enum dir_resolve_status
exact(struct resolve *r, const char *a)
{
	char **list;
	size_t n;
	int rc;

	if (alias_get(r, a, &list, &n) == -1)
		return DIR_TEMPFAIL;
	if (r->rows > DIR_RESOLVE_TARGETS_MAX) {
		list_free(list, n);
		return loop(r, "too many alias targets", a);
	}
	if (n > 0)
		return follow(r, a, list, n);
	if ((rc = user_get(r->d, a, NULL, 0, r->why)) == -1)
		return DIR_TEMPFAIL;
	/* The admin address is a mailbox even without a password. */
	if (rc == 1 || strcmp(a, r->pm) == 0) {
		out_add(r->out, a);
		return DIR_RESOLVED;
	}
	return DIR_NO_SUCH_USER;
}

/* Is local part p[0..n) postmaster or one of the admin names? */
static bool
is_admin(const struct resolve *r, const char *p, size_t n)
{
	size_t i;

	if (n == 10 && memcmp(p, "postmaster", 10) == 0)
		return true;
	for (i = 0; i < r->pol->nadmin_names; i++)
		if (strlen(r->pol->admin_names[i]) == n &&
		    memcmp(r->pol->admin_names[i], p, n) == 0)
			return true;
	return false;
}

/* Step 2 for a, whose local part is p[0..n): the admin address. */
static enum dir_resolve_status
admin(struct resolve *r, const char *a, const char *p, size_t n)
{
	char **list;

	if (r->pm[0] == '\0' || !is_admin(r, p, n) || !target_is_local(r, a))
		return DIR_NO_SUCH_USER;
	/* As an alias "a -> postmaster", with its loop checks. */
	list = xcalloc(1, sizeof(char *));
	list[0] = xstrdup(r->pm);
	return follow(r, a, list, 1);
}

/* Resolve normalized local address a into r->out. */
static enum dir_resolve_status
expand(struct resolve *r, const char *a)
{
	enum dir_resolve_status st;
	char base[DIR_ADDR_MAX], key[DIR_ADDR_MAX], **list;
	char esc[128];
	const char *at = strrchr(a, '@');
	size_t n, llen = (size_t)(at - a), cut;

	if (r->depth > DIR_RESOLVE_DEPTH_MAX)
		return loop(r, "aliases nested too deep", a);
	if ((st = exact(r, a)) != DIR_NO_SUCH_USER ||
	    (st = admin(r, a, a, llen)) != DIR_NO_SUCH_USER)
		return st;
	cut = subaddr_split(a, llen, r->pol->delimiters);
	if (cut < llen) {
		(void)snprintf(base, sizeof(base), "%.*s%s", (int)cut, a, at);
		if ((st = exact(r, base)) != DIR_NO_SUCH_USER ||
		    (st = admin(r, base, base, cut)) != DIR_NO_SUCH_USER)
			return st;
	}
	(void)strlcpy(key, at, sizeof(key));
	if (alias_get(r, key, &list, &n) == -1)
		return DIR_TEMPFAIL;
	if (r->rows > DIR_RESOLVE_TARGETS_MAX) {
		list_free(list, n);
		return loop(r, "too many alias targets", a);
	}
	if (n > 0)
		return follow(r, a, list, n);
	if (r->pol->postmaster_always && cut == 10 &&
	    memcmp(a, "postmaster", 10) == 0 && target_is_local(r, a)) {
		(void)snprintf(base, sizeof(base), "postmaster%s", at);
		out_add(r->out, base);
		return DIR_RESOLVED;
	}
	why_set(r->why, WHY_PERM, 0, "no such user %s",
	    log_escs(esc, sizeof(esc), a));
	return DIR_NO_SUCH_USER;
}

enum dir_resolve_status
dir_resolve(struct dir *d, const char *address, const struct dir_policy *pol,
    struct dir_targets *out, struct why *why)
{
	static const struct dir_policy none = { 0 };
	struct resolve *r;
	enum dir_resolve_status st;
	char a[DIR_ADDR_MAX], pmbox[DIR_ADDR_MAX], esc[128], esc2[300];
	const char *w;
	size_t llen;

	out->addrs = NULL;
	out->n = 0;
	if (!dir_addr_norm(address, a, &w)) {
		bad_addr(why, "address", address, w);
		return DIR_NO_SUCH_USER;
	}
	r = xcalloc(1, sizeof(*r));
	r->d = d;
	r->pol = pol != NULL ? pol : &none;
	r->out = out;
	r->why = why;
	/* An admin address tern cannot deliver to is no admin address. */
	if (r->pol->postmaster != NULL &&
	    !dir_addr_norm(r->pol->postmaster, r->pm, &w))
		r->pm[0] = '\0';
	st = expand(r, a);
	free(r);
	if (st != DIR_RESOLVED)
		dir_targets_free(out);
	/* RFC 5321 4.5.1: postmaster must always be accepted. */
	llen = (size_t)(strrchr(a, '@') - a);
	if (st == DIR_ALIAS_LOOP && pol != NULL && pol->postmaster_always &&
	    subaddr_split(a, llen, pol->delimiters) == 10 &&
	    memcmp(a, "postmaster", 10) == 0 &&
	    (pol->is_local == NULL ||
	        pol->is_local(pol->arg, strrchr(a, '@') + 1))) {
		log_warn("event=postmaster_fallback to=%s error=%s "
		         "msg=\"delivered to the mailbox of that name; fix the "
		         "aliases\"",
		    log_escs(esc, sizeof(esc), a),
		    log_escs(esc2, sizeof(esc2), why->text));
		(void)snprintf(pmbox, sizeof(pmbox), "postmaster%s",
		    strrchr(a, '@'));
		out->addrs = xcalloc(1, sizeof(char *));
		out->addrs[0] = xstrdup(pmbox);
		out->n = 1;
		st = DIR_RESOLVED;
	}
	return st;
}
