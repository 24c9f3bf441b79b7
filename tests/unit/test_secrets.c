/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for conf/secrets.c (issue 15): the secrets file's grammar,
 * a table of good and bad files, that no message ever holds a password,
 * and the file checks of conf_secrets_load() (mode, link, owner, missing)
 * on real files in a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf/conf.h"

/* Every password below holds "PW": no message may. */
#define TOP "secrets_file = /etc/tern/secrets\n"
#define BASE                                                                   \
	"domains = example.org\n[listener mx]\naddress = 127.0.0.1:2525\n"     \
	"[routes]\n* = smart.test:587 tls=require auth=relay@example.org\n"    \
	"r.test = 127.0.0.1:26 auth=bob\n"                                     \
	"i.test = 127.0.0.1:27 auth=carol:inlinePW\n"                          \
	"n.test = 127.0.0.1:28\n"

struct warned {
	char text[4096];
	size_t n;
};

static void
collect(void *arg, const char *name, const char *text)
{
	struct warned *w = arg;
	size_t len = strlen(w->text);

	w->n++;
	(void)snprintf(w->text + len, sizeof(w->text) - len, "%s: %s\n", name,
	    text);
}

static struct conf *
load(void)
{
	struct conf *c;
	struct why why;

	c = conf_load_string(TOP BASE, "t", &why);
	if (c == NULL)
		fail_msg("%s", why.text);
	return c;
}

struct secrets_case {
	const char *name;
	const char *text;
	const char *err; /* NULL: must load; else a substring of why.text */
};

static const struct secrets_case cases[] = {
	{ "ok", "* relay@example.org:s3cretPW\nr.test bob:b0bPW\n", NULL },
	{ "ok-comments-blanks-crlf",
	    "# a comment\r\n\r\n   \t\n  # indented comment\n"
	    "*\t relay@example.org:s3cretPW\r\nR.Test. bob:b0bPW\n",
	    NULL },
	{ "ok-no-final-newline", "* relay@example.org:s3cretPW\nr.test bob:PW",
	    NULL },
	{ "missing-route", "* relay@example.org:s3cretPW\n",
	    "s: no password for route r.test; add the line 'r.test "
	    "bob:PASSWORD'" },
	{ "empty", "", "s: no password for route *" },
	{ "no-credentials", "* relay@example.org:s3cretPW\nr.test\n",
	    "s:2: expected 'ROUTE_DOMAIN USER:PASSWORD'" },
	{ "no-colon", "r.test bobPW\n",
	    "s:1: route r.test: expected USER:PASSWORD after the domain" },
	{ "no-user", "r.test :PW\n",
	    "s:1: route r.test: expected USER:PASSWORD" },
	{ "blank-in-user", "r.test bo b:PW\n",
	    "s:1: route r.test: expected USER:PASSWORD" },
	{ "no-password", "r.test bob:\n",
	    "s:1: route r.test: no password after ':'" },
	{ "trailing-blank", "r.test bob:PW \n",
	    "s:1: route r.test: the password ends in a blank" },
	{ "password-first", "bobPW:x r.test\n",
	    "s:1: expected a [routes] domain or '*' first" },
	{ "other-user", "* relay@example.org:s3cretPW\nr.test alicePW:PW\n",
	    "s:2: route r.test authenticates as bob (auth= in the config), "
	    "but this line names another user" },
	{ "twice",
	    "* relay@example.org:s3cretPW\nr.test bob:PW\nr.test bob:PW2\n",
	    "s:3: route r.test given twice (first on line 2)" },
	{ "control-char", "r.test bob:P\001W\n",
	    "s:1: control character in line" },
};

/* The password of route `domain` after a successful parse. */
static const char *
pass_of(const struct conf *c, const char *domain)
{
	size_t i;

	for (i = 0; i < c->nroutes; i++)
		if (strcmp(c->routes[i].domain, domain) == 0)
			return c->routes[i].auth_pass;
	return NULL;
}

static void
test_parse(void **state)
{
	struct warned w;
	struct conf *c;
	struct why why;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = load();
		why_clear(&why);
		memset(&w, 0, sizeof(w));
		rc = conf_secrets_parse(c, cases[i].text, "s", collect, &w,
		    &why);
		if (cases[i].err == NULL && rc != 0)
			fail_msg("%s: %s", cases[i].name, why.text);
		if (cases[i].err != NULL &&
		    (rc != -1 || strstr(why.text, cases[i].err) == NULL))
			fail_msg("%s: got '%s'", cases[i].name,
			    rc == 0 ? "(loaded)" : why.text);
		/* Never a password, in an error or a warning. */
		if (strstr(why.text, "PW") != NULL ||
		    strstr(w.text, "PW") != NULL)
			fail_msg("%s: password shown: %s %s", cases[i].name,
			    why.text, w.text);
		conf_free(c);
	}
	/* The passwords land where they belong; the inline one stays. */
	c = load();
	assert_int_equal(conf_secrets_parse(c,
	                     "*  relay@example.org:s3cret PW: x\n"
	                     "r.test bob::b0b\n",
	                     "s", NULL, NULL, &why),
	    0);
	assert_string_equal(pass_of(c, "*"), "s3cret PW: x");
	assert_string_equal(pass_of(c, "r.test"), ":b0b");
	assert_string_equal(pass_of(c, "i.test"), "inlinePW");
	assert_null(pass_of(c, "n.test"));
	/* Read again (a reload): the new passwords replace the old. */
	assert_int_equal(conf_secrets_parse(c,
	                     "* relay@example.org:new1\nr.test bob:new2\n", "s",
	                     NULL, NULL, &why),
	    0);
	assert_string_equal(pass_of(c, "*"), "new1");
	assert_string_equal(pass_of(c, "r.test"), "new2");
	assert_string_equal(pass_of(c, "i.test"), "inlinePW");
	conf_free(c);
}

/* Lines no route uses are advice, not errors. */
static void
test_unused(void **state)
{
	struct warned w;
	struct conf *c = load();
	struct why why;

	(void)state;
	memset(&w, 0, sizeof(w));
	assert_int_equal(conf_secrets_parse(c,
	                     "* relay@example.org:aPW\nr.test bob:bPW\n"
	                     "x.test u:xPW\nn.test u:nPW\ni.test carol:iPW\n",
	                     "s", collect, &w, &why),
	    0);
	assert_int_equal(w.n, 3);
	assert_non_null(strstr(w.text, "s:3: no [routes] entry for x.test"));
	assert_non_null(strstr(w.text, "s:4: route n.test has no auth=USER"));
	assert_non_null(strstr(w.text, "s:5: route i.test has its password "
	                               "in the config file"));
	assert_null(strstr(w.text, "PW"));
	/* The inline password wins. */
	assert_string_equal(pass_of(c, "i.test"), "inlinePW");
	conf_free(c);
}

/* A line at the cap loads; one byte more is refused. */
static void
test_line_max(void **state)
{
	char text[1200];
	struct conf *c;
	struct why why;
	size_t pre;

	(void)state;
	/* A 255-byte password stays within 1024; pad with blanks before. */
	pre = 1024 - strlen("r.test bob:") - 255;
	memset(text, ' ', pre);
	(void)snprintf(text + pre, sizeof(text) - pre, "r.test bob:");
	memset(text + pre + 11, 'p', 255);
	(void)snprintf(text + pre + 11 + 255, sizeof(text) - pre - 266,
	    "\n* relay@example.org:x\n");
	c = load();
	if (conf_secrets_parse(c, text, "s", NULL, NULL, &why) != 0)
		fail_msg("%s", why.text);
	conf_free(c);
	memmove(text + 1, text, strlen(text) + 1);
	text[0] = ' ';
	c = load();
	assert_int_equal(conf_secrets_parse(c, text, "s", NULL, NULL, &why),
	    -1);
	assert_non_null(strstr(why.text, "s:1: line longer than 1024 bytes"));
	conf_free(c);
	/* A password of 256 bytes is too long. */
	memset(text, 'p', 256);
	text[256] = '\0';
	{
		char line[400];

		(void)snprintf(line, sizeof(line), "r.test bob:%s\n", text);
		c = load();
		assert_int_equal(conf_secrets_parse(c, line, "s", NULL, NULL,
		                     &why),
		    -1);
		assert_non_null(strstr(why.text, "longer than 255 bytes"));
		conf_free(c);
	}
}

/* The file itself: conf_secrets_load() as whoever runs the test. */
struct tmp {
	char dir[64];
	char path[128];
};

static void
tmp_make(struct tmp *t, const char *text, mode_t mode)
{
	FILE *fp;

	(void)snprintf(t->dir, sizeof(t->dir), "/tmp/test_secrets.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	(void)snprintf(t->path, sizeof(t->path), "%s/secrets", t->dir);
	fp = fopen(t->path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(t->path, mode), 0);
}

static void
tmp_rm(struct tmp *t)
{
	char link[160];

	(void)snprintf(link, sizeof(link), "%s/link", t->dir);
	(void)unlink(link);
	(void)unlink(t->path);
	(void)rmdir(t->dir);
}

static struct conf *
load_file(const char *path)
{
	char text[1024];
	struct conf *c;
	struct why why;

	(void)snprintf(text, sizeof(text), "secrets_file = %s\n%s", path, BASE);
	c = conf_load_string(text, "t", &why);
	if (c == NULL)
		fail_msg("%s", why.text);
	return c;
}

#define GOOD "* relay@example.org:aPW\nr.test bob:bPW\n"

static void
test_load_file(void **state)
{
	static const struct {
		mode_t mode;
		const char *err;
	} modes[] = {
		{ 0600, NULL },
		{ 0400, NULL },
		{ 0640, NULL }, /* the group is ours */
		{ 0644, "readable by others (mode 0644); chown root:" },
		{ 0604, "readable by others (mode 0604)" },
		{ 0602, "writable by others (mode 0602)" },
		{ 0601, "open to others (mode 0601)" },
		{ 0606, "writable by others (mode 0606)" },
		{ 0660, "writable by its group (mode 0660)" },
		{ 0610, "open to its group beyond reading (mode 0610)" },
	};
	char link[160], want[256];
	struct conf *c;
	struct why why;
	struct tmp t;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		tmp_make(&t, GOOD, modes[i].mode);
		c = load_file(t.path);
		why_clear(&why);
		rc = conf_secrets_load(c, NULL, NULL, &why);
		if (modes[i].err == NULL && rc != 0)
			fail_msg("mode %04o: %s", (unsigned)modes[i].mode,
			    why.text);
		if (modes[i].err != NULL &&
		    (rc != -1 || strstr(why.text, modes[i].err) == NULL))
			fail_msg("mode %04o: got '%s'", (unsigned)modes[i].mode,
			    rc == 0 ? "(loaded)" : why.text);
		if (rc == 0)
			assert_string_equal(pass_of(c, "r.test"), "bPW");
		else {
			/* The fix, and the file it is for. */
			(void)snprintf(want, sizeof(want),
			    "secrets_file %s: ", t.path);
			assert_non_null(strstr(why.text, want));
			assert_non_null(strstr(why.text, "and chmod 0640 it"));
			assert_null(pass_of(c, "r.test"));
		}
		conf_free(c);
		tmp_rm(&t);
	}

	/* A link is refused, even to a good file. */
	tmp_make(&t, GOOD, 0600);
	(void)snprintf(link, sizeof(link), "%s/link", t.dir);
	assert_int_equal(symlink(t.path, link), 0);
	c = load_file(link);
	assert_int_equal(conf_secrets_load(c, NULL, NULL, &why), -1);
	assert_non_null(strstr(why.text, "a symbolic link"));
	conf_free(c);
	/* A directory is no file. */
	c = load_file(t.dir);
	assert_int_equal(conf_secrets_load(c, NULL, NULL, &why), -1);
	assert_non_null(strstr(why.text, "not a regular file"));
	conf_free(c);
	tmp_rm(&t);

	/* Missing: says how to make it. */
	c = load_file("/nonexistent/tern-secrets");
	assert_int_equal(conf_secrets_load(c, NULL, NULL, &why), -1);
	assert_non_null(strstr(why.text, "secrets_file "
	                                 "/nonexistent/tern-secrets: no such "
	                                 "file; make it with a line "
	                                 "'ROUTE_DOMAIN USER:PASSWORD'"));
	conf_free(c);

	/* A bad line names the file and line, not the text. */
	tmp_make(&t, "* relay@example.org:aPW\nr.test bobPW\n", 0600);
	c = load_file(t.path);
	assert_int_equal(conf_secrets_load(c, NULL, NULL, &why), -1);
	(void)snprintf(want, sizeof(want), "%s:2: route r.test: expected",
	    t.path);
	assert_non_null(strstr(why.text, want));
	assert_null(strstr(why.text, "PW"));
	conf_free(c);
	tmp_rm(&t);

	/* Without secrets_file there is nothing to do. */
	c = conf_load_string("domains = a.org\n[listener mx]\n"
	                     "address = 127.0.0.1:1\n",
	    "t", &why);
	assert_non_null(c);
	assert_int_equal(conf_secrets_load(c, NULL, NULL, &why), 0);
	conf_free(c);
}

/* As root: owned by someone else, or readable by another group. */
static void
test_load_owner(void **state)
{
	struct conf *c;
	struct why why;
	struct tmp t;

	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "test_load_owner: skipped, needs root to "
		                "chown\n");
		return;
	}
	tmp_make(&t, GOOD, 0600);
	assert_int_equal(chown(t.path, 65534, 0), 0);
	c = load_file(t.path);
	assert_int_equal(conf_secrets_load(c, NULL, NULL, &why), -1);
	assert_non_null(strstr(why.text, "owned by nobody, neither root nor"));
	conf_free(c);
	assert_int_equal(chown(t.path, 0, 65534), 0);
	assert_int_equal(chmod(t.path, 0640), 0);
	c = load_file(t.path);
	assert_int_equal(conf_secrets_load(c, NULL, NULL, &why), -1);
	assert_non_null(
	    strstr(why.text, "readable by a group other than the server's"));
	conf_free(c);
	tmp_rm(&t);
}

/* A password inline in a file others can read is warned about. */
static void
test_inline_warning(void **state)
{
	struct warned w;
	struct conf *c;
	struct why why;
	struct tmp t;

	(void)state;
	tmp_make(&t, TOP BASE, 0644);
	c = conf_load(t.path, &why);
	if (c == NULL)
		fail_msg("%s", why.text);
	memset(&w, 0, sizeof(w));
	conf_secrets_warnings(c, collect, &w);
	assert_int_equal(w.n, 1);
	assert_non_null(strstr(w.text, "route_password_readable: [routes] "
	                               "i.test: the auth= password is in"));
	assert_non_null(strstr(w.text, "(mode 0644)"));
	assert_null(strstr(w.text, "PW"));
	conf_free(c);
	assert_int_equal(chmod(t.path, 0640), 0);
	c = conf_load(t.path, &why);
	memset(&w, 0, sizeof(w));
	conf_secrets_warnings(c, collect, &w);
	assert_int_equal(w.n, 0);
	conf_free(c);
	tmp_rm(&t);
}

/* conf_token_load() (issue 17): the same checks, then one b64token. */
static void
test_token(void **state)
{
	static const struct {
		const char *name, *text;
		mode_t mode;
		const char *want; /* the token, or NULL: refused */
		const char *err;
	} cases[] = {
		{ "ok", "s3cret.TOKEN-1~+/=\n", 0600,
		    "s3cret.TOKEN-1~+/=", NULL },
		{ "no-newline", "abcPW", 0600, "abcPW", NULL },
		{ "crlf", "abcPW\r\n", 0400, "abcPW", NULL },
		{ "group-ours", "abcPW\n", 0640, "abcPW", NULL },
		{ "others", "abcPW\n", 0644, NULL, "readable by others" },
		{ "empty", "", 0600, NULL, "expected one line" },
		{ "just-newline", "\n", 0600, NULL, "expected one line" },
		{ "space", "abc PW\n", 0600, NULL, "expected one line" },
		{ "two-lines", "abcPW\ndefPW\n", 0600, NULL,
		    "expected one line" },
		{ "two-newlines", "abcPW\n\n", 0600, NULL,
		    "expected one line" },
		{ "quote", "abc\"PW\n", 0600, NULL, "expected one line" },
	};
	char *tok, big[CONF_TOKEN_MAX + 8];
	struct why why;
	struct tmp t;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tmp_make(&t, cases[i].text, cases[i].mode);
		why_clear(&why);
		rc = conf_token_load("webhook_token_file", t.path, &tok, &why);
		if (cases[i].want != NULL) {
			if (rc != 0)
				fail_msg("%s: %s", cases[i].name, why.text);
			assert_string_equal(tok, cases[i].want);
			free(tok);
		} else {
			if (rc != -1 || strstr(why.text, cases[i].err) == NULL)
				fail_msg("%s: got '%s'", cases[i].name,
				    rc == 0 ? "(loaded)" : why.text);
			assert_null(tok);
			assert_non_null(
			    strstr(why.text, "webhook_token_file /tmp/"));
			assert_null(strstr(why.text, "PW")); /* never shown */
		}
		tmp_rm(&t);
	}
	/* CONF_TOKEN_MAX characters load, one more does not. */
	memset(big, 'a', CONF_TOKEN_MAX);
	memcpy(big + CONF_TOKEN_MAX, "\n", 2);
	tmp_make(&t, big, 0600);
	assert_int_equal(conf_token_load("k", t.path, &tok, &why), 0);
	assert_int_equal(strlen(tok), CONF_TOKEN_MAX);
	free(tok);
	tmp_rm(&t);
	memcpy(big + CONF_TOKEN_MAX, "a\n", 3);
	tmp_make(&t, big, 0600);
	assert_int_equal(conf_token_load("k", t.path, &tok, &why), -1);
	tmp_rm(&t);
	/* A missing file says which setting and how to make it. */
	assert_int_equal(conf_token_load("k", "/nonexistent/tok", &tok, &why),
	    -1);
	assert_non_null(strstr(why.text, "k /nonexistent/tok: no such file"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_unused),
		cmocka_unit_test(test_line_max),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_load_owner),
		cmocka_unit_test(test_inline_warning),
		cmocka_unit_test(test_token),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
