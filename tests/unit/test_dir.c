/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for dir/dir.c in a temporary directory: users (normalized,
 * case-insensitive, UTF-8 local parts kept), passwords, aliases and the
 * resolution rules (multi-target, self-copy, catch-all, remote targets,
 * loops, depth and size limits), and the configuration's policy: the
 * admin address and names, subaddresses (issue 15).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "conf/conf.h"
#include "dir/dir.h"
#include "util/buf.h"

struct fixture {
	char tmp[64];
	char path[128];
	struct dir *d;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct why why;

	(void)snprintf(f->tmp, sizeof(f->tmp), "/tmp/test_dir_XXXXXX");
	if (mkdtemp(f->tmp) == NULL)
		return -1;
	(void)snprintf(f->path, sizeof(f->path), "%s/tern.db", f->tmp);
	why_clear(&why);
	if ((f->d = dir_open(f->path, &why)) == NULL) {
		fprintf(stderr, "dir_open: %s\n", why.text);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char p[160];

	dir_close(f->d);
	(void)snprintf(p, sizeof(p), "%s-wal", f->path);
	(void)unlink(p);
	(void)snprintf(p, sizeof(p), "%s-shm", f->path);
	(void)unlink(p);
	(void)unlink(f->path);
	(void)rmdir(f->tmp);
	free(f);
	return 0;
}

/* Raw SQL on the test database, to look behind the API or bulk-load. */
static void
sql(struct fixture *f, const char *q)
{
	sqlite3 *db;
	char *err = NULL;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, q, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", q, err);
	sqlite3_close(db);
}

static void
collect(void *arg, const char *s)
{
	struct buf *b = arg;

	assert_int_equal(buf_printf(b, "%s%s", b->len ? "," : "", s), 0);
}

static void
collect2(void *arg, const char *a, const char *t)
{
	struct buf *b = arg;

	assert_int_equal(buf_printf(b, "%s%s>%s", b->len ? "," : "", a, t), 0);
}

static void
assert_users(struct dir *d, const char *want)
{
	struct buf b;
	struct why why;

	buf_init(&b, 64 * 1024);
	assert_int_equal(dir_user_list(d, collect, &b, &why), 0);
	assert_string_equal(b.len ? (char *)b.data : "", want);
	buf_reset(&b);
}

static void
assert_aliases(struct dir *d, const char *want)
{
	struct buf b;
	struct why why;

	buf_init(&b, 64 * 1024);
	assert_int_equal(dir_alias_list(d, collect2, &b, &why), 0);
	assert_string_equal(b.len ? (char *)b.data : "", want);
	buf_reset(&b);
}

struct addr_case {
	const char *name;
	const char *in;
	const char *want; /* NULL: refused */
};

static const struct addr_case addr_cases[] = {
	{ "plain", "bob@example.org", "bob@example.org" },
	{ "upper", "Bob@Example.ORG", "bob@example.org" },
	{ "trailing-dot", "bob@example.org.", "bob@example.org" },
	{ "utf8-kept", "J\xc3\xb6rg@Example.org", "J\xc3\xb6rg@example.org" },
	{ "quoted-plain", "\"bob\"@example.org", "bob@example.org" },
	{ "local-64",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "@x.org",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "@x.org" },
	{ "empty", "", NULL },
	{ "no-at", "bob", NULL },
	{ "no-local", "@example.org", NULL },
	{ "no-domain", "bob@", NULL },
	{ "space", "b ob@example.org", NULL },
	{ "quoted-space", "\"b ob\"@example.org", NULL },
	{ "literal", "bob@[192.0.2.1]", NULL },
	{ "slash", "a/b@example.org", NULL },
	{ "angle", "<bob@example.org>", NULL },
	{ "two-at", "a@b@example.org", NULL },
	{ "bad-utf8", "J\xc3@example.org", NULL },
	{ "local-65",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "@x.org",
	    NULL },
	{ "newline", "bob@example.org\n", NULL },
};

static void
test_addr_norm(void **state)
{
	char out[DIR_ADDR_MAX];
	const char *w;
	size_t i, nbad = 0;

	(void)state;
	for (i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]); i++) {
		const struct addr_case *c = &addr_cases[i];
		bool ok = dir_addr_norm(c->in, out, &w);

		if (ok != (c->want != NULL))
			fail_msg("%s: %s", c->name, ok ? "accepted" : w);
		if (ok)
			assert_string_equal(out, c->want);
		nbad += c->want == NULL;
	}
	assert_true(nbad * 2 >= i);
}

static void
test_users(void **state)
{
	struct fixture *f = *state;
	struct dir *d = f->d, *d2;
	struct why why;

	why_clear(&why);
	assert_users(d, "");
	assert_int_equal(dir_user_add(d, "Bob@Example.ORG", "pw1", &why), 0);
	assert_int_equal(dir_user_add(d, "alice@example.org", "pw2", &why), 0);
	assert_int_equal(dir_user_add(d, "J\xc3\xb6rg@example.org", "pw3",
	                     &why),
	    0);
	assert_users(d,
	    "J\xc3\xb6rg@example.org,alice@example.org,bob@example.org");

	/* Exists, in any case of the ASCII parts. */
	assert_int_equal(dir_user_add(d, "BOB@example.org.", "x", &why), -1);
	assert_string_equal(why.text, "user bob@example.org exists");
	assert_int_equal(why.kind, WHY_PERM);
	assert_int_equal(dir_user_exists(d, "bob@EXAMPLE.org", &why), 1);
	assert_int_equal(dir_user_exists(d, "J\xc3\xb6rg@EXAMPLE.ORG", &why),
	    1);
	/* A UTF-8 local part is compared as sent. */
	assert_int_equal(dir_user_exists(d, "j\xc3\xb6rg@example.org", &why),
	    0);
	assert_int_equal(dir_user_exists(d, "carol@example.org", &why), 0);
	assert_int_equal(dir_user_exists(d, "not an address", &why), 0);

	/* Bad input is refused with a reason. */
	assert_int_equal(dir_user_add(d, "bob", "x", &why), -1);
	assert_non_null(strstr(why.text, "address bob: "));
	assert_int_equal(dir_user_add(d, "carol@example.org", "", &why), -1);
	assert_string_equal(why.text, "empty password");

	/* A second handle (another thread or process) sees every change. */
	why_clear(&why);
	d2 = dir_open(f->path, &why);
	assert_non_null(d2);
	assert_int_equal(dir_user_exists(d2, "alice@example.org", &why), 1);
	assert_int_equal(dir_user_del(d, "ALICE@example.org", &why), 0);
	assert_int_equal(dir_user_exists(d2, "alice@example.org", &why), 0);
	assert_int_equal(dir_user_del(d2, "alice@example.org", &why), -1);
	assert_string_equal(why.text, "no such user alice@example.org");
	assert_int_equal(dir_user_del(d2, "bob", &why), -1);
	dir_close(d2);
	assert_users(d, "J\xc3\xb6rg@example.org,bob@example.org");

	/* Reopening keeps everything (the schema is not recreated). */
	dir_close(d);
	f->d = d = dir_open(f->path, &why);
	assert_non_null(d);
	assert_users(d, "J\xc3\xb6rg@example.org,bob@example.org");
}

static void
test_passwords(void **state)
{
	struct fixture *f = *state;
	struct dir *d = f->d;
	char pw[DIR_PASSWORD_MAX + 2];
	struct why why;
	sqlite3 *db;
	sqlite3_stmt *s;

	why_clear(&why);
	assert_int_equal(dir_user_add(d, "bob@example.org", "s3cret", &why), 0);
	assert_int_equal(dir_user_check_password(d, "bob@example.org", "s3cret",
	                     &why),
	    1);
	assert_int_equal(dir_user_check_password(d, "BOB@Example.org", "s3cret",
	                     &why),
	    1);
	assert_int_equal(dir_user_check_password(d, "bob@example.org", "S3cret",
	                     &why),
	    0);
	assert_int_equal(dir_user_check_password(d, "bob@example.org",
	                     "s3cret ", &why),
	    0);
	assert_int_equal(dir_user_check_password(d, "bob@example.org", "",
	                     &why),
	    0);
	assert_int_equal(dir_user_check_password(d, "eve@example.org", "s3cret",
	                     &why),
	    0);
	assert_int_equal(dir_user_check_password(d, "junk", "s3cret", &why), 0);

	/* Stored as a yescrypt hash only, which Dovecot reads as CRYPT. */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
	                     "SELECT hash FROM users WHERE address = "
	                     "'bob@example.org'",
	                     -1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_memory_equal(sqlite3_column_text(s, 0), "$y$", 3);
	assert_null(strstr((const char *)sqlite3_column_text(s, 0), "s3cret"));
	sqlite3_finalize(s);
	sqlite3_close(db);

	/* Change it: the old one stops working. */
	assert_int_equal(dir_user_passwd(d, "bob@example.org", "n3w", &why), 0);
	assert_int_equal(dir_user_check_password(d, "bob@example.org", "s3cret",
	                     &why),
	    0);
	assert_int_equal(dir_user_check_password(d, "bob@example.org", "n3w",
	                     &why),
	    1);
	assert_int_equal(dir_user_passwd(d, "eve@example.org", "n3w", &why),
	    -1);
	assert_string_equal(why.text, "no such user eve@example.org");
	assert_int_equal(dir_user_passwd(d, "bob@example.org", "", &why), -1);

	/* DIR_PASSWORD_MAX: max-1 and max are fine, max+1 is refused. */
	memset(pw, 'p', sizeof(pw));
	pw[DIR_PASSWORD_MAX - 1] = '\0';
	assert_int_equal(dir_user_passwd(d, "bob@example.org", pw, &why), 0);
	assert_int_equal(dir_user_check_password(d, "bob@example.org", pw,
	                     &why),
	    1);
	pw[DIR_PASSWORD_MAX - 1] = 'p';
	pw[DIR_PASSWORD_MAX] = '\0';
	assert_int_equal(dir_user_passwd(d, "bob@example.org", pw, &why), 0);
	assert_int_equal(dir_user_check_password(d, "bob@example.org", pw,
	                     &why),
	    1);
	pw[DIR_PASSWORD_MAX] = 'p';
	pw[DIR_PASSWORD_MAX + 1] = '\0';
	assert_int_equal(dir_user_passwd(d, "bob@example.org", pw, &why), -1);
	assert_non_null(strstr(why.text, "password longer than"));
	assert_int_equal(dir_user_check_password(d, "bob@example.org", pw,
	                     &why),
	    0);
}

static void
test_aliases(void **state)
{
	struct fixture *f = *state;
	struct dir *d = f->d;
	struct why why;

	why_clear(&why);
	assert_int_equal(dir_alias_add(d, "Info@Example.org", "bob@example.org",
	                     &why),
	    0);
	assert_int_equal(dir_alias_add(d, "info@example.org",
	                     "Carol@Example.org", &why),
	    0);
	assert_int_equal(dir_alias_add(d, "@Example.ORG.", "bob@example.org",
	                     &why),
	    0);
	assert_int_equal(dir_alias_add(d, "info@example.org", "bob@EXAMPLE.org",
	                     &why),
	    -1);
	assert_string_equal(why.text,
	    "alias info@example.org -> bob@example.org exists");
	assert_int_equal(dir_alias_add(d, "info", "bob@example.org", &why), -1);
	assert_int_equal(dir_alias_add(d, "info@example.org", "@example.org",
	                     &why),
	    -1);
	assert_int_equal(dir_alias_add(d, "@", "bob@example.org", &why), -1);
	assert_int_equal(dir_alias_add(d, "@exa mple.org", "bob@example.org",
	                     &why),
	    -1);
	assert_int_equal(dir_alias_add(d, "a@[192.0.2.1]", "bob@example.org",
	                     &why),
	    -1);
	assert_aliases(d, "@example.org>bob@example.org,"
	                  "info@example.org>bob@example.org,"
	                  "info@example.org>carol@example.org");

	assert_int_equal(dir_alias_del(d, "info@example.org",
	                     "CAROL@example.org", &why),
	    0);
	assert_int_equal(dir_alias_del(d, "info@example.org",
	                     "carol@example.org", &why),
	    -1);
	assert_string_equal(why.text,
	    "no alias info@example.org -> carol@example.org");
	assert_int_equal(dir_alias_del(d, "@example.org", NULL, &why), 0);
	assert_int_equal(dir_alias_del(d, "@example.org", NULL, &why), -1);
	assert_string_equal(why.text, "no alias @example.org");
	assert_int_equal(dir_alias_del(d, "nope", NULL, &why), -1);
	assert_aliases(d, "info@example.org>bob@example.org");
}

static bool
is_local(void *arg, const char *domain)
{
	(void)arg;
	return strcmp(domain, "a.org") == 0 || strcmp(domain, "b.org") == 0 ||
	       strcmp(domain, "c.org") == 0;
}

/* The rules before issue 15: local domains, nothing else. */
static const struct dir_policy plain = { .is_local = is_local };

struct resolve_case {
	const char *name;
	const char *in;
	enum dir_resolve_status want;
	const char *targets; /* comma-separated, in order */
};

static const struct resolve_case resolve_cases[] = {
	{ "user", "carol@a.org", DIR_RESOLVED, "carol@a.org" },
	{ "user-case", "CAROL@A.ORG.", DIR_RESOLVED, "carol@a.org" },
	{ "user-utf8", "J\xc3\xb6rg@a.org", DIR_RESOLVED, "J\xc3\xb6rg@a.org" },
	{ "self-copy", "bob@a.org", DIR_RESOLVED, "bob@a.org,bob@remote.net" },
	{ "multi", "info@a.org", DIR_RESOLVED,
	    "bob@a.org,bob@remote.net,carol@a.org" },
	{ "nested", "sales@a.org", DIR_RESOLVED,
	    "dave@b.org,ext@remote.net,bob@a.org,bob@remote.net,carol@a.org" },
	{ "dedup", "dup@a.org", DIR_RESOLVED,
	    "bob@a.org,bob@remote.net,carol@a.org" },
	{ "remote", "fwd@a.org", DIR_RESOLVED, "x@remote.net" },
	{ "catch-all", "anyone@b.org", DIR_RESOLVED, "dave@b.org" },
	{ "catch-all-user-wins", "dave@b.org", DIR_RESOLVED, "dave@b.org" },
	{ "catch-all-alias-wins", "post@b.org", DIR_RESOLVED, "carol@a.org" },
	{ "dangling-skipped", "dangle@a.org", DIR_RESOLVED, "carol@a.org" },
	{ "unknown", "nobody@a.org", DIR_NO_SUCH_USER, NULL },
	{ "all-dangling", "allgone@a.org", DIR_NO_SUCH_USER, NULL },
	{ "invalid", "not an address", DIR_NO_SUCH_USER, NULL },
	{ "empty", "", DIR_NO_SUCH_USER, NULL },
	{ "no-domain", "carol@", DIR_NO_SUCH_USER, NULL },
	{ "literal", "carol@[192.0.2.1]", DIR_NO_SUCH_USER, NULL },
	{ "remote-input", "someone@remote.net", DIR_NO_SUCH_USER, NULL },
	{ "utf8-case", "j\xc3\xb6rg@a.org", DIR_NO_SUCH_USER, NULL },
	{ "loop", "loop1@a.org", DIR_ALIAS_LOOP, NULL },
	{ "loop-three", "ring1@a.org", DIR_ALIAS_LOOP, NULL },
	{ "self-no-user", "self@a.org", DIR_ALIAS_LOOP, NULL },
	{ "catch-all-self", "z@c.org", DIR_ALIAS_LOOP, NULL },
	{ "loop-inside", "deep@a.org", DIR_ALIAS_LOOP, NULL },
};

static void
test_resolve(void **state)
{
	struct fixture *f = *state;
	struct dir *d = f->d;
	struct dir_targets t;
	struct buf b;
	struct why why;
	size_t i, j, nbad = 0;
	static const char *const aliases[][2] = {
		{ "info@a.org", "bob@a.org" },
		{ "info@a.org", "carol@a.org" },
		{ "bob@a.org", "bob@a.org" },
		{ "bob@a.org", "bob@remote.net" },
		{ "sales@a.org", "info@a.org" },
		{ "sales@a.org", "dave@b.org" },
		{ "sales@a.org", "ext@remote.net" },
		{ "dup@a.org", "info@a.org" },
		{ "dup@a.org", "bob@a.org" },
		{ "dup@a.org", "carol@a.org" },
		{ "fwd@a.org", "x@remote.net" },
		{ "@b.org", "dave@b.org" },
		{ "post@b.org", "carol@a.org" },
		{ "dangle@a.org", "nobody@a.org" },
		{ "dangle@a.org", "carol@a.org" },
		{ "allgone@a.org", "nobody@a.org" },
		{ "loop1@a.org", "loop2@a.org" },
		{ "loop2@a.org", "loop1@a.org" },
		{ "ring1@a.org", "ring2@a.org" },
		{ "ring2@a.org", "ring3@a.org" },
		{ "ring3@a.org", "ring1@a.org" },
		{ "self@a.org", "self@a.org" },
		{ "@c.org", "z@c.org" },
		{ "deep@a.org", "carol@a.org" },
		{ "deep@a.org", "loop1@a.org" },
	};

	why_clear(&why);
	assert_int_equal(dir_user_add(d, "bob@a.org", "x", &why), 0);
	assert_int_equal(dir_user_add(d, "carol@a.org", "x", &why), 0);
	assert_int_equal(dir_user_add(d, "dave@b.org", "x", &why), 0);
	assert_int_equal(dir_user_add(d, "J\xc3\xb6rg@a.org", "x", &why), 0);
	for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (dir_alias_add(d, aliases[i][0], aliases[i][1], &why) != 0)
			fail_msg("%s -> %s: %s", aliases[i][0], aliases[i][1],
			    why.text);

	buf_init(&b, 4096);
	for (i = 0; i < sizeof(resolve_cases) / sizeof(resolve_cases[0]); i++) {
		const struct resolve_case *c = &resolve_cases[i];
		enum dir_resolve_status st;

		why_clear(&why);
		st = dir_resolve(d, c->in, &plain, &t, &why);
		if (st != c->want)
			fail_msg("%s: status %d, want %d (%s)", c->name, st,
			    c->want, why.text);
		buf_clear(&b);
		for (j = 0; j < t.n; j++)
			collect(&b, t.addrs[j]);
		if (c->targets != NULL)
			assert_string_equal((char *)b.data, c->targets);
		else
			assert_int_equal(t.n, 0);
		dir_targets_free(&t);
		nbad += c->want != DIR_RESOLVED;
	}
	buf_reset(&b);
	assert_true(nbad * 2 >= i);

	/* is_local NULL: every domain is local, remote.net too. */
	assert_int_equal(dir_resolve(d, "fwd@a.org", NULL, &t, &why),
	    DIR_NO_SUCH_USER);
	assert_int_equal(t.n, 0);
}

/* Run cases[0..n) with policy pol; returns how many expect a failure. */
static size_t
run_cases(struct dir *d, const struct dir_policy *pol, const char *set,
    const struct resolve_case *cases, size_t n)
{
	struct dir_targets t;
	struct why why;
	struct buf b;
	size_t i, j, nbad = 0;

	buf_init(&b, 4096);
	for (i = 0; i < n; i++) {
		const struct resolve_case *c = &cases[i];
		enum dir_resolve_status st;

		why_clear(&why);
		st = dir_resolve(d, c->in, pol, &t, &why);
		if (st != c->want)
			fail_msg("%s/%s: status %d, want %d (%s)", set, c->name,
			    st, c->want, why.text);
		buf_clear(&b);
		for (j = 0; j < t.n; j++)
			collect(&b, t.addrs[j]);
		if (c->targets != NULL &&
		    strcmp(c->targets, (char *)b.data) != 0)
			fail_msg("%s/%s: %s, want %s", set, c->name,
			    (char *)b.data, c->targets);
		if (c->targets == NULL)
			assert_int_equal(t.n, 0);
		dir_targets_free(&t);
		nbad += c->want != DIR_RESOLVED;
	}
	buf_reset(&b);
	return nbad;
}

static const char *const admin_names[] = { "root", "abuse", "mailer-daemon" };

/* postmaster = admin@a.org (no such user), root, abuse, mailer-daemon. */
static const struct resolve_case admin_cases[] = {
	{ "postmaster", "postmaster@a.org", DIR_RESOLVED, "admin@a.org" },
	{ "postmaster-case", "PostMaster@A.ORG", DIR_RESOLVED, "admin@a.org" },
	{ "postmaster-before-catch-all", "postmaster@b.org", DIR_RESOLVED,
	    "admin@a.org" },
	{ "root", "root@a.org", DIR_RESOLVED, "admin@a.org" },
	{ "root-upper", "ROOT@b.org", DIR_RESOLVED, "admin@a.org" },
	{ "mailer-daemon", "MAILER-DAEMON@a.org", DIR_RESOLVED, "admin@a.org" },
	{ "abuse", "abuse@a.org", DIR_RESOLVED, "admin@a.org" },
	{ "admin-mailbox", "Admin@a.org", DIR_RESOLVED, "admin@a.org" },
	{ "user-wins", "root@c.org", DIR_RESOLVED, "root@c.org" },
	{ "alias-wins", "abuse@b.org", DIR_RESOLVED, "carol@a.org" },
	{ "root-detail", "root+cron@a.org", DIR_RESOLVED, "admin@a.org" },
	{ "postmaster-detail", "postmaster+x@a.org", DIR_RESOLVED,
	    "admin@a.org" },
	{ "not-admin", "webmaster@a.org", DIR_NO_SUCH_USER, NULL },
	{ "not-admin-catch-all", "webmaster@b.org", DIR_RESOLVED,
	    "dave@b.org" },
	{ "admin-remote-domain", "root@remote.net", DIR_NO_SUCH_USER, NULL },
	{ "rootx", "rootx@a.org", DIR_NO_SUCH_USER, NULL },
	{ "xroot", "xroot@a.org", DIR_NO_SUCH_USER, NULL },
	{ "admin-prefix", "admin+x@a.org", DIR_RESOLVED, "admin@a.org" },
	{ "admin-other-domain", "admin@b.org", DIR_RESOLVED, "dave@b.org" },
	{ "admin-other-domain-c", "admin@c.org", DIR_NO_SUCH_USER, NULL },
	{ "postmasterx", "postmasterx@a.org", DIR_NO_SUCH_USER, NULL },
	{ "root-dot", "root.x@a.org", DIR_NO_SUCH_USER, NULL },
	{ "underscore", "mailer_daemon@a.org", DIR_NO_SUCH_USER, NULL },
	{ "literal", "root@[192.0.2.1]", DIR_NO_SUCH_USER, NULL },
	{ "split-root", "ro+ot@a.org", DIR_NO_SUCH_USER, NULL },
};

/* recipient_delimiter = + (with the admin policy above). */
static const struct resolve_case detail_cases[] = {
	{ "detail", "carol+news@a.org", DIR_RESOLVED, "carol@a.org" },
	{ "detail-case", "Carol+News@A.org", DIR_RESOLVED, "carol@a.org" },
	{ "empty-detail", "carol+@a.org", DIR_RESOLVED, "carol@a.org" },
	{ "two-delims", "carol+a+b@a.org", DIR_RESOLVED, "carol@a.org" },
	{ "exact-user-wins", "alice+news@a.org", DIR_RESOLVED,
	    "alice+news@a.org" },
	{ "other-detail", "alice+other@a.org", DIR_RESOLVED, "alice@a.org" },
	{ "exact-alias-wins", "list+x@a.org", DIR_RESOLVED, "carol@a.org" },
	{ "alias-base", "team+x@a.org", DIR_RESOLVED,
	    "bob@remote.net,carol@a.org" },
	{ "catch-all-after", "nobody+x@b.org", DIR_RESOLVED, "dave@b.org" },
	{ "user-before-catch-all", "dave+x@b.org", DIR_RESOLVED, "dave@b.org" },
	{ "unknown-base", "nobody+x@a.org", DIR_NO_SUCH_USER, NULL },
	{ "no-base", "+carol@a.org", DIR_NO_SUCH_USER, NULL },
	{ "list-other", "list+y@a.org", DIR_NO_SUCH_USER, NULL },
	{ "other-char", "carol-news@a.org", DIR_NO_SUCH_USER, NULL },
	{ "only-delim", "+@a.org", DIR_NO_SUCH_USER, NULL },
};

/* No postmaster: today's rules (postmaster@ last, to its own name). */
static const struct resolve_case no_pm_cases[] = {
	{ "root", "root@a.org", DIR_NO_SUCH_USER, NULL },
	{ "abuse-alias", "abuse@b.org", DIR_RESOLVED, "carol@a.org" },
	{ "postmaster", "postmaster@a.org", DIR_RESOLVED, "postmaster@a.org" },
	{ "postmaster-catch-all", "postmaster@b.org", DIR_RESOLVED,
	    "dave@b.org" },
	{ "postmaster-detail", "postmaster+x@a.org", DIR_RESOLVED,
	    "postmaster@a.org" },
	{ "postmaster-remote", "postmaster@remote.net", DIR_NO_SUCH_USER,
	    NULL },
	{ "admin", "admin@a.org", DIR_NO_SUCH_USER, NULL },
};

/* admin_aliases = none: postmaster only. */
static const struct resolve_case none_cases[] = {
	{ "root", "root@a.org", DIR_NO_SUCH_USER, NULL },
	{ "abuse", "abuse@a.org", DIR_NO_SUCH_USER, NULL },
	{ "postmaster", "postmaster@a.org", DIR_RESOLVED, "admin@a.org" },
	{ "root-catch-all", "root@b.org", DIR_RESOLVED, "dave@b.org" },
};

/* The admin address elsewhere, or itself an alias, or in a loop. */
static const struct resolve_case remote_cases[] = {
	{ "root", "root@a.org", DIR_RESOLVED, "ops@remote.net" },
	{ "postmaster", "postmaster@b.org", DIR_RESOLVED, "ops@remote.net" },
};
static const struct resolve_case alias_pm_cases[] = {
	{ "root", "root@a.org", DIR_RESOLVED, "bob@remote.net,carol@a.org" },
	{ "pm", "team@a.org", DIR_RESOLVED, "bob@remote.net,carol@a.org" },
};
static const struct resolve_case loop_cases[] = {
	{ "root", "root@a.org", DIR_ALIAS_LOOP, NULL },
	{ "loopy", "loopy@a.org", DIR_ALIAS_LOOP, NULL },
	/* RFC 5321 4.5.1: accepted all the same, into its own name. */
	{ "postmaster", "postmaster@a.org", DIR_RESOLVED, "postmaster@a.org" },
	{ "postmaster-detail", "postmaster+x@a.org", DIR_RESOLVED,
	    "postmaster@a.org" },
};

#define NCASES(a) (sizeof(a) / sizeof((a)[0]))

static void
test_resolve_policy(void **state)
{
	struct fixture *f = *state;
	struct dir *d = f->d;
	struct dir_policy pol = { .is_local = is_local,
		.postmaster = "Admin@A.org",
		.admin_names = admin_names,
		.nadmin_names = NCASES(admin_names),
		.postmaster_always = true,
		.delimiters = "+" };
	struct why why;
	size_t nbad = 0, n = 0;
	static const char *const aliases[][2] = {
		{ "abuse@b.org", "carol@a.org" },
		{ "@b.org", "dave@b.org" },
		{ "team@a.org", "carol@a.org" },
		{ "team@a.org", "bob@remote.net" },
		{ "list+x@a.org", "carol@a.org" },
		{ "loopy@a.org", "root@a.org" },
	};
	size_t i;

	why_clear(&why);
	assert_int_equal(dir_user_add(d, "carol@a.org", "x", &why), 0);
	assert_int_equal(dir_user_add(d, "dave@b.org", "x", &why), 0);
	assert_int_equal(dir_user_add(d, "root@c.org", "x", &why), 0);
	assert_int_equal(dir_user_add(d, "alice@a.org", "x", &why), 0);
	assert_int_equal(dir_user_add(d, "alice+news@a.org", "x", &why), 0);
	for (i = 0; i < NCASES(aliases); i++)
		if (dir_alias_add(d, aliases[i][0], aliases[i][1], &why) != 0)
			fail_msg("%s -> %s: %s", aliases[i][0], aliases[i][1],
			    why.text);

	nbad += run_cases(d, &pol, "admin", admin_cases, NCASES(admin_cases));
	n += NCASES(admin_cases);
	nbad +=
	    run_cases(d, &pol, "detail", detail_cases, NCASES(detail_cases));
	n += NCASES(detail_cases);
	/* The delimiter off: details are plain names again. */
	pol.delimiters = "";
	assert_int_equal(run_cases(d, &pol, "off",
	                     (const struct resolve_case[]){
	                         { "detail", "carol+news@a.org",
	                             DIR_NO_SUCH_USER, NULL },
	                         { "exact", "alice+news@a.org", DIR_RESOLVED,
	                             "alice+news@a.org" } },
	                     2),
	    1);
	/* A set of delimiters: each splits. */
	pol.delimiters = "+-";
	assert_int_equal(run_cases(d, &pol, "set",
	                     (const struct resolve_case[]){
	                         { "dash", "carol-news@a.org", DIR_RESOLVED,
	                             "carol@a.org" },
	                         { "admin-before-split", "mailer-daemon@a.org",
	                             DIR_RESOLVED, "admin@a.org" } },
	                     2),
	    0);
	pol.delimiters = "+";

	pol.postmaster = NULL;
	nbad += run_cases(d, &pol, "no-postmaster", no_pm_cases,
	    NCASES(no_pm_cases));
	n += NCASES(no_pm_cases);
	pol.postmaster = "admin@a.org";
	pol.nadmin_names = 0;
	nbad += run_cases(d, &pol, "none", none_cases, NCASES(none_cases));
	n += NCASES(none_cases);
	pol.nadmin_names = NCASES(admin_names);
	pol.postmaster = "ops@remote.net";
	nbad +=
	    run_cases(d, &pol, "remote", remote_cases, NCASES(remote_cases));
	n += NCASES(remote_cases);
	pol.postmaster = "team@a.org";
	nbad += run_cases(d, &pol, "alias-pm", alias_pm_cases,
	    NCASES(alias_pm_cases));
	n += NCASES(alias_pm_cases);
	pol.postmaster = "loopy@a.org";
	nbad += run_cases(d, &pol, "loop", loop_cases, NCASES(loop_cases));
	n += NCASES(loop_cases);
	/* An admin address tern cannot normalize is no admin address. */
	pol.postmaster = "a/b@a.org";
	assert_int_equal(run_cases(d, &pol, "bad-pm",
	                     (const struct resolve_case[]){
	                         { "root", "root@a.org", DIR_NO_SUCH_USER,
	                             NULL },
	                         { "postmaster", "postmaster@a.org",
	                             DIR_RESOLVED, "postmaster@a.org" } },
	                     2),
	    1);
	assert_true(nbad * 3 >= n); /* a third at least are refusals */
}

/* dir_policy_conf(): the configuration's settings, one for one. */
static void
test_policy_conf(void **state)
{
	struct dir_policy pol;
	struct conf *c;
	struct why why;

	(void)state;
	c = conf_load_string("domains = a.org, b.org\n"
	                     "postmaster = admin@a.org\n"
	                     "[listener mx]\naddress = 127.0.0.1:25\n",
	    "t", &why);
	assert_non_null(c);
	dir_policy_conf(&pol, c);
	assert_string_equal(pol.postmaster, "admin@a.org");
	assert_int_equal(pol.nadmin_names, 3);
	assert_string_equal(pol.admin_names[0], "root");
	assert_string_equal(pol.admin_names[1], "abuse");
	assert_string_equal(pol.admin_names[2], "mailer-daemon");
	assert_string_equal(pol.delimiters, "+");
	assert_true(pol.postmaster_always);
	assert_true(pol.is_local(pol.arg, "B.ORG"));
	assert_false(pol.is_local(pol.arg, "c.org"));
	conf_free(c);

	c = conf_load_string("domains = a.org\n"
	                     "admin_aliases = none\n"
	                     "recipient_delimiter = none\n"
	                     "[listener mx]\naddress = 127.0.0.1:25\n",
	    "t", &why);
	assert_non_null(c);
	dir_policy_conf(&pol, c);
	assert_null(pol.postmaster);
	assert_int_equal(pol.nadmin_names, 0);
	assert_string_equal(pol.delimiters, "");
	conf_free(c);
}

/* A chain of n aliases c0 -> c1 -> ... -> cn, and cn a user. */
static enum dir_resolve_status
chain(struct fixture *f, int n)
{
	struct dir_targets t;
	enum dir_resolve_status st;
	struct why why;
	char q[256], t1[32];
	int i;

	sql(f, "DELETE FROM aliases; DELETE FROM users;"
	       "INSERT INTO users VALUES ('end@a.org', 'x')");
	for (i = 0; i < n; i++) {
		(void)snprintf(t1, sizeof(t1), "c%d@a.org", i + 1);
		(void)snprintf(q, sizeof(q),
		    "INSERT INTO aliases VALUES ('c%d@a.org', '%s')", i,
		    i + 1 < n ? t1 : "end@a.org");
		sql(f, q);
	}
	st = dir_resolve(f->d, "c0@a.org", &plain, &t, &why);
	if (st == DIR_RESOLVED) {
		assert_int_equal(t.n, 1);
		assert_string_equal(t.addrs[0], "end@a.org");
	}
	dir_targets_free(&t);
	return st;
}

/* One alias with n remote targets. */
static enum dir_resolve_status
wide(struct fixture *f, int n)
{
	struct dir_targets t;
	enum dir_resolve_status st;
	struct buf q;
	struct why why;
	int i;

	buf_init(&q, 1024 * 1024);
	assert_int_equal(buf_append_str(&q, "BEGIN; DELETE FROM aliases;"), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(buf_printf(&q,
		                     "INSERT INTO aliases VALUES ('w@a.org', "
		                     "'r%d@remote.net');",
		                     i),
		    0);
	assert_int_equal(buf_append_str(&q, "COMMIT;"), 0);
	sql(f, (const char *)q.data);
	buf_reset(&q);
	st = dir_resolve(f->d, "w@a.org", &plain, &t, &why);
	if (st == DIR_RESOLVED)
		assert_int_equal(t.n, (size_t)n);
	dir_targets_free(&t);
	return st;
}

static void
test_resolve_limits(void **state)
{
	struct fixture *f = *state;

	/* DIR_RESOLVE_DEPTH_MAX nested aliases, then the user. */
	assert_int_equal(chain(f, DIR_RESOLVE_DEPTH_MAX - 1), DIR_RESOLVED);
	assert_int_equal(chain(f, DIR_RESOLVE_DEPTH_MAX), DIR_RESOLVED);
	assert_int_equal(chain(f, DIR_RESOLVE_DEPTH_MAX + 1), DIR_ALIAS_LOOP);
	/* DIR_RESOLVE_TARGETS_MAX alias rows in one resolution. */
	assert_int_equal(wide(f, DIR_RESOLVE_TARGETS_MAX - 1), DIR_RESOLVED);
	assert_int_equal(wide(f, DIR_RESOLVE_TARGETS_MAX), DIR_RESOLVED);
	assert_int_equal(wide(f, DIR_RESOLVE_TARGETS_MAX + 1), DIR_ALIAS_LOOP);
}

static void
test_open_errors(void **state)
{
	struct fixture *f = *state;
	struct why why;
	char p[160];

	why_clear(&why);
	assert_null(dir_open("/nonexistent/dir/tern.db", &why));
	assert_string_equal(why.text,
	    "open /nonexistent/dir/tern.db: No such file or directory");
	assert_int_equal(why.kind, WHY_TEMP);

	/* Not a database. */
	(void)snprintf(p, sizeof(p), "%s/junk.db", f->tmp);
	{
		FILE *fp = fopen(p, "w");

		assert_non_null(fp);
		fputs("this is not an SQLite database, not at all......\n", fp);
		fclose(fp);
	}
	assert_null(dir_open(p, &why));
	assert_non_null(strstr(why.text, "junk.db"));
	(void)unlink(p);

	/* A schema from a newer tern is refused, not guessed at. */
	sql(f, "PRAGMA user_version = 2");
	assert_null(dir_open(f->path, &why));
	assert_non_null(strstr(why.text, "schema version 2 is newer"));
	sql(f, "PRAGMA user_version = 1");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_norm),
		cmocka_unit_test_setup_teardown(test_users, setup, teardown),
		cmocka_unit_test_setup_teardown(test_passwords, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_aliases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_policy, setup,
		    teardown),
		cmocka_unit_test(test_policy_conf),
		cmocka_unit_test_setup_teardown(test_resolve_limits, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
