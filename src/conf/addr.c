/* SPDX-License-Identifier: ISC */
/*
 * conf/addr.c - the settings that decide where a local address goes,
 * beside `postmaster` (conf.c): admin_aliases (the local parts every
 * local domain sends to the postmaster, RFC 2142) and recipient_delimiter
 * (subaddressing: alice+news@ is alice's). dir/dir.h applies them.
 * Trust: the operator's text; every name and character is checked.
 */
#include "conf/conf-private.h"

#include <stdlib.h>
#include <string.h>

#include "util/str.h"
#include "util/xmalloc.h"

/* RFC 2142 and the Unix names mail to the machine arrives for. */
static const char *const admin_default[] = { "root", "abuse", "mailer-daemon" };

/*
 * Characters that may split a local part: RFC 5322 atext specials that
 * are neither '.' (dot-atom), '/' (a Maildir path) nor '&' (Dovecot's
 * folder names are modified UTF-7, where '&' starts an escape).
 */
#define DELIM_CHARS "+-_=#~!$%*^|{}?'`"

void
conf_addr_defaults(struct conf *c)
{
	size_t i, n = sizeof(admin_default) / sizeof(admin_default[0]);

	c->admin_aliases = xcalloc(n, sizeof(char *));
	for (i = 0; i < n; i++)
		c->admin_aliases[i] = xstrdup(admin_default[i]);
	c->nadmin_aliases = n;
	c->recipient_delimiter = xstrdup("+");
}

void
conf_addr_free(struct conf *c)
{
	size_t i;

	for (i = 0; i < c->nadmin_aliases; i++)
		free(c->admin_aliases[i]);
	free(c->admin_aliases);
	c->admin_aliases = NULL;
	c->nadmin_aliases = 0;
	free(c->recipient_delimiter);
	c->recipient_delimiter = NULL;
}

/* An ASCII dot-atom local part (RFC 5322 3.2.3): what a name may be. */
static bool
is_local_part(const char *s, size_t n)
{
	static const char specials[] = "!#$%&'*+-/=?^_`{|}~";
	size_t i;

	if (n == 0 || n > CONF_ADMIN_NAME_MAX || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return false;
			continue;
		}
		if (!ascii_is_alnum((unsigned char)s[i]) &&
		    (s[i] == '\0' || strchr(specials, s[i]) == NULL))
			return false;
	}
	return true;
}

static int
admin_item(struct parse *p, const char *s, size_t n, void *arg)
{
	struct conf *c = p->c;
	bool *none = arg;
	char *name;
	size_t i;

	if (n == 4 && ascii_ncasecmp(s, "none", 4) == 0) {
		if (c->nadmin_aliases > 0)
			return conf_fail(p, p->lineno,
			    "admin_aliases: 'none' must stand alone");
		*none = true;
		return 1;
	}
	if (*none)
		return conf_fail(p, p->lineno,
		    "admin_aliases: 'none' must stand alone");
	if (!is_local_part(s, n))
		return conf_fail(p, p->lineno,
		    "admin_aliases: '%.*s' is not a local part (letters, "
		    "digits and . ! # $ %% & ' * + - / = ? ^ _ ` { | } ~, "
		    "at most %d; no '@')",
		    (int)(n > 64 ? 64 : n), s, CONF_ADMIN_NAME_MAX);
	name = xstrndup(s, n);
	ascii_lower_str(name);
	for (i = 0; i < c->nadmin_aliases; i++)
		if (strcmp(c->admin_aliases[i], name) == 0) {
			conf_fail(p, p->lineno,
			    "admin_aliases: '%s' is listed twice", name);
			free(name);
			return 0;
		}
	if (c->nadmin_aliases >= CONF_ADMIN_ALIASES_MAX) {
		free(name);
		return conf_fail(p, p->lineno,
		    "admin_aliases: more than %d names",
		    CONF_ADMIN_ALIASES_MAX);
	}
	c->admin_aliases = xrealloc(c->admin_aliases,
	    (c->nadmin_aliases + 1) * sizeof(char *));
	c->admin_aliases[c->nadmin_aliases++] = name;
	return 1;
}

int
conf_set_admin_aliases(struct parse *p, const char *v)
{
	struct conf *c = p->c;
	size_t i;

	/*
	 * The file's list replaces the default one; like domains, it may
	 * go on over several lines (a printed config wraps it).
	 */
	if (p->admin_line == 0) {
		for (i = 0; i < c->nadmin_aliases; i++)
			free(c->admin_aliases[i]);
		c->nadmin_aliases = 0;
		p->admin_line = p->lineno;
	}
	if (conf_each_word(p, v, admin_item, &p->admin_none) == 0)
		return 0;
	if (c->nadmin_aliases == 0 && !p->admin_none)
		return conf_fail(p, p->lineno,
		    "admin_aliases is empty; write 'none' for no names "
		    "besides postmaster");
	return 1;
}

int
conf_set_delimiter(struct parse *p, const char *v)
{
	size_t i, n = strlen(v);

	free(p->c->recipient_delimiter);
	p->c->recipient_delimiter = NULL;
	if (strcmp(v, "none") == 0) {
		p->c->recipient_delimiter = xstrdup("");
		return 1;
	}
	if (n > CONF_DELIMITERS_MAX)
		return conf_fail(p, p->lineno,
		    "recipient_delimiter '%.64s': at most %d characters", v,
		    CONF_DELIMITERS_MAX);
	for (i = 0; i < n; i++)
		if (strchr(DELIM_CHARS, v[i]) == NULL)
			return conf_fail(p, p->lineno,
			    "recipient_delimiter '%.64s': '%c' cannot split "
			    "a local part; use characters of %s (e.g. +), or "
			    "none",
			    v,
			    (unsigned char)v[i] >= ' ' &&
			            (unsigned char)v[i] < 0x7f
			        ? v[i]
			        : '?',
			    DELIM_CHARS);
	p->c->recipient_delimiter = xstrdup(v);
	return 1;
}

/* Are c's admin_aliases and recipient_delimiter the defaults? */
static bool
addr_is_default(const struct conf *c)
{
	size_t i, n = sizeof(admin_default) / sizeof(admin_default[0]);

	if (c->nadmin_aliases != n || c->recipient_delimiter == NULL ||
	    strcmp(c->recipient_delimiter, "+") != 0)
		return false;
	for (i = 0; i < n; i++)
		if (strcmp(c->admin_aliases[i], admin_default[i]) != 0)
			return false;
	return true;
}

void
conf_print_addr(const struct conf *c, FILE *fp, unsigned flags)
{
	if (!(flags & CONF_PRINT_ALL) && addr_is_default(c))
		return;
	if (c->nadmin_aliases == 0)
		fputs("admin_aliases = none\n", fp);
	else
		conf_print_list(fp, "admin_aliases",
		    (const char *const *)c->admin_aliases, c->nadmin_aliases);
	fprintf(fp, "recipient_delimiter = %s\n",
	    c->recipient_delimiter != NULL && c->recipient_delimiter[0] != '\0'
	        ? c->recipient_delimiter
	        : "none");
}
