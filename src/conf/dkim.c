/* SPDX-License-Identifier: ISC */
/*
 * conf/dkim.c - [dkim] (issue 16): which of a domain's signing keys sign.
 *
 *   example.org = t202612r t202612e     rsa + ed25519 dual signing
 *   example.net = new2027               a rotation: only the new key
 *
 * A domain without a line signs with every key `tern dkim keygen` made
 * for it (the first key signs at once). Parse, look up, print. Also
 * [authentication] arc_trusted_sealers: the domains whose ARC seal
 * tern trusts to vouch for mail it forwards.
 * Trust: the operator's text, checked.
 */
#include "conf/conf-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"
#include "util/xmalloc.h"

static void
domain_free(struct conf_dkim_domain *d)
{
	size_t i;

	for (i = 0; i < d->nselectors; i++)
		free(d->selectors[i]);
	free(d->selectors);
	free(d->domain);
}

void
conf_dkim_free(struct conf *c)
{
	size_t i;

	for (i = 0; i < c->ndkim_domains; i++)
		domain_free(&c->dkim_domains[i]);
	free(c->dkim_domains);
	c->dkim_domains = NULL;
	c->ndkim_domains = 0;
	for (i = 0; i < c->auth.narc_trusted; i++)
		free(c->auth.arc_trusted[i]);
	free(c->auth.arc_trusted);
	c->auth.arc_trusted = NULL;
	c->auth.narc_trusted = 0;
}

static int
trusted_item(struct parse *p, const char *s, size_t n, void *arg)
{
	struct conf_auth *a = &p->c->auth;
	const char *why;
	char *d;
	size_t i;

	(void)arg;
	if (!conf_domain_norm(s, n, &d, &why))
		return conf_fail(p, p->lineno,
		    "arc_trusted_sealers: '%.*s' %s", (int)(n > 64 ? 64 : n), s,
		    why);
	for (i = 0; i < a->narc_trusted; i++)
		if (strcmp(a->arc_trusted[i], d) == 0) {
			conf_fail(p, p->lineno,
			    "arc_trusted_sealers: '%s' is listed twice", d);
			free(d);
			return 0;
		}
	if (a->narc_trusted >= CONF_ARC_TRUSTED_MAX) {
		free(d);
		return conf_fail(p, p->lineno,
		    "arc_trusted_sealers: more than %d domains",
		    CONF_ARC_TRUSTED_MAX);
	}
	a->arc_trusted = xrealloc(a->arc_trusted,
	    (a->narc_trusted + 1) * sizeof(*a->arc_trusted));
	a->arc_trusted[a->narc_trusted++] = d;
	return 1;
}

int
conf_set_arc_trusted(struct parse *p, const char *v)
{
	return conf_each_word(p, v, trusted_item, NULL);
}

void
conf_print_arc_trusted(const struct conf *c, FILE *fp, unsigned flags)
{
	if (c->auth.narc_trusted > 0)
		conf_print_list(fp, "arc_trusted_sealers",
		    (const char *const *)c->auth.arc_trusted,
		    c->auth.narc_trusted);
	else if (flags & CONF_PRINT_ALL)
		fprintf(fp, "# arc_trusted_sealers = (not set: none)\n");
}

/* A selector is a DNS label (RFC 6376 3.1; dots would name a subtree,
 * which tern's key store does not make). */
static bool
is_selector(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > CONF_SELECTOR_MAX || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!ascii_is_alnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_')
			return false;
	return true;
}

static int
selector_item(struct parse *p, const char *s, size_t n, void *arg)
{
	struct conf_dkim_domain *d = arg;
	size_t i;

	if (!is_selector(s, n))
		return conf_fail(p, p->lineno,
		    "[dkim] %s: selector '%.*s': use letters, digits, '-' "
		    "and '_', at most %d (a name from tern dkim list)",
		    d->domain, (int)(n > 64 ? 64 : n), s, CONF_SELECTOR_MAX);
	for (i = 0; i < d->nselectors; i++)
		if (strlen(d->selectors[i]) == n &&
		    ascii_ncasecmp(d->selectors[i], s, n) == 0)
			return conf_fail(p, p->lineno,
			    "[dkim] %s: selector '%.*s' listed twice",
			    d->domain, (int)n, s);
	if (d->nselectors >= CONF_SELECTORS_MAX)
		return conf_fail(p, p->lineno,
		    "[dkim] %s: more than %d selectors", d->domain,
		    CONF_SELECTORS_MAX);
	d->selectors = xrealloc(d->selectors,
	    (d->nselectors + 2) * sizeof(*d->selectors));
	d->selectors[d->nselectors] = xstrndup(s, n);
	ascii_lower_str(d->selectors[d->nselectors]);
	d->selectors[++d->nselectors] = NULL;
	return 1;
}

int
conf_on_dkim(struct parse *p, const char *key, const char *v)
{
	struct conf *c = p->c;
	struct conf_dkim_domain d;
	const char *why;
	size_t i;

	memset(&d, 0, sizeof(d));
	if (!conf_domain_norm(key, strlen(key), &d.domain, &why))
		return conf_fail(p, p->lineno, "[dkim] domain '%.64s' %s", key,
		    why);
	/* A long list goes on on another line with the same domain. */
	for (i = 0; i < c->ndkim_domains; i++)
		if (strcmp(c->dkim_domains[i].domain, d.domain) == 0) {
			domain_free(&d);
			return conf_each_word(p, v, selector_item,
			    &c->dkim_domains[i]);
		}
	if (c->ndkim_domains >= CONF_DKIM_MAX) {
		conf_fail(p, p->lineno, "more than %d [dkim] domains",
		    CONF_DKIM_MAX);
		goto bad;
	}
	if (conf_each_word(p, v, selector_item, &d) == 0)
		goto bad;
	if (d.nselectors == 0) {
		conf_fail(p, p->lineno, "[dkim] %s: no selector", d.domain);
		goto bad;
	}
	c->dkim_domains = xrealloc(c->dkim_domains,
	    (c->ndkim_domains + 1) * sizeof(d));
	c->dkim_domains[c->ndkim_domains++] = d;
	return 1;
bad:
	domain_free(&d);
	return 0;
}

const char *const *
conf_dkim_selectors(const struct conf *c, const char *domain)
{
	size_t i;

	for (i = 0; i < c->ndkim_domains; i++)
		if (ascii_casecmp(c->dkim_domains[i].domain, domain) == 0)
			return (const char *const *)c->dkim_domains[i]
			    .selectors;
	return NULL;
}

void
conf_print_dkim(const struct conf *c, FILE *fp, unsigned flags)
{
	size_t i;

	if (c->ndkim_domains == 0 && !(flags & CONF_PRINT_ALL))
		return;
	fprintf(fp, "\n[dkim]\n");
	if (c->ndkim_domains == 0)
		fprintf(fp, "# (none: each domain signs with every key of "
		            "tern dkim list)\n");
	for (i = 0; i < c->ndkim_domains; i++)
		conf_print_list(fp, c->dkim_domains[i].domain,
		    (const char *const *)c->dkim_domains[i].selectors,
		    c->dkim_domains[i].nselectors);
}
