/* SPDX-License-Identifier: ISC */
/*
 * conf/relay.c - [relay_domains]: the domains this server relays for on
 * behalf of anyone, each with the way a recipient there is checked:
 *
 *   example.com = verify                  ask the next hop (RCPT)
 *   example.net = file:/etc/tern/relay/example.net
 *   example.org = users                   tern user / tern alias entries
 *   legacy.example = any                  every local part (warned)
 *
 * As Postfix's relay_domains with relay_recipient_maps or
 * reject_unverified_recipient. Parse, look up, print.
 * Trust: the operator's text, checked.
 */
#include "conf/conf-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"
#include "util/xmalloc.h"

static const char *const check_names[] = { "verify", "file", "users", "any" };

const char *
conf_relay_check_name(enum conf_relay_check c)
{
	return (size_t)c < sizeof(check_names) / sizeof(check_names[0])
	           ? check_names[c]
	           : "?";
}

void
conf_relay_free(struct conf_relay_domain *rd)
{
	free(rd->domain);
	free(rd->file);
}

/* "verify", "users", "any" or "file:/absolute/path". */
static int
relay_check(struct parse *p, struct conf_relay_domain *rd, const char *v)
{
	if (strcmp(v, "verify") == 0)
		rd->check = CONF_RELAY_VERIFY;
	else if (strcmp(v, "users") == 0)
		rd->check = CONF_RELAY_USERS;
	else if (strcmp(v, "any") == 0)
		rd->check = CONF_RELAY_ANY;
	else if (strncmp(v, "file:", 5) == 0) {
		if (v[5] != '/')
			return conf_fail(p, p->lineno,
			    "relay domain %s: file: needs an absolute path, "
			    "e.g. file:/etc/tern/relay-recipients",
			    rd->domain);
		if (strlen(v + 5) >= CONF_PATH_MAX)
			return conf_fail(p, p->lineno,
			    "relay domain %s: path longer than %d bytes",
			    rd->domain, CONF_PATH_MAX - 1);
		rd->check = CONF_RELAY_FILE;
		rd->file = xstrdup(v + 5);
	} else
		return conf_fail(p, p->lineno,
		    "relay domain %s: '%.64s': expected verify (ask the "
		    "next hop), file:/path (a list of addresses), users "
		    "(tern's user store) or any",
		    rd->domain, v);
	return 1;
}

int
conf_on_relay(struct parse *p, const char *key, const char *v)
{
	struct conf *c = p->c;
	struct conf_relay_domain rd;
	const char *why;
	size_t i;

	memset(&rd, 0, sizeof(rd));
	if (strcmp(key, "*") == 0)
		return conf_fail(p, p->lineno,
		    "[relay_domains] takes domains, not '*': relaying for "
		    "every domain is an open relay");
	if (!conf_domain_norm(key, strlen(key), &rd.domain, &why))
		return conf_fail(p, p->lineno, "relay domain '%.64s' %s", key,
		    why);
	for (i = 0; i < c->nrelay_domains; i++)
		if (strcmp(c->relay_domains[i].domain, rd.domain) == 0) {
			conf_fail(p, p->lineno, "relay domain '%s' given twice",
			    rd.domain);
			goto bad;
		}
	if (c->nrelay_domains >= CONF_RELAY_MAX) {
		conf_fail(p, p->lineno, "more than %d relay domains",
		    CONF_RELAY_MAX);
		goto bad;
	}
	if (relay_check(p, &rd, v) == 0)
		goto bad;
	c->relay_domains =
	    xrealloc(c->relay_domains, (c->nrelay_domains + 1) * sizeof(rd));
	c->relay_domains[c->nrelay_domains++] = rd;
	return 1;
bad:
	conf_relay_free(&rd);
	return 0;
}

const struct conf_relay_domain *
conf_relay_domain_find(const struct conf *c, const char *domain)
{
	size_t i, n = strlen(domain);

	if (n > 0 && domain[n - 1] == '.')
		n--;
	for (i = 0; i < c->nrelay_domains; i++)
		if (strlen(c->relay_domains[i].domain) == n &&
		    ascii_ncasecmp(c->relay_domains[i].domain, domain, n) == 0)
			return &c->relay_domains[i];
	return NULL;
}

void
conf_print_relay(const struct conf *c, FILE *fp, unsigned flags)
{
	const struct conf_relay_domain *rd;
	const char *sep;
	size_t i;

	if (c->nrelay_domains == 0 && !(flags & CONF_PRINT_ALL))
		return;
	fprintf(fp, "\n[relay_domains]\n");
	if (c->nrelay_domains == 0)
		fprintf(fp, "# (none: mail from outside is accepted only for "
		            "our own domains)\n");
	for (i = 0; i < c->nrelay_domains; i++) {
		rd = &c->relay_domains[i];
		/* " = " only where it fits the line the entry came from. */
		sep =
		    strlen(rd->domain) + strlen(rd->file ? rd->file : "") + 16 >
		            CONF_LINE_MAX
		        ? "="
		        : " = ";
		if (rd->check == CONF_RELAY_FILE)
			fprintf(fp, "%s%sfile:%s\n", rd->domain, sep, rd->file);
		else
			fprintf(fp, "%s%s%s\n", rd->domain, sep,
			    conf_relay_check_name(rd->check));
	}
}
