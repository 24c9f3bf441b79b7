/* SPDX-License-Identifier: ISC */
/*
 * conf/route.c - [routes]: where mail for a domain goes instead of its
 * MX ("DOMAIN = host[:port] | lmtp:/path | lmtp:host[:port]" with tls=
 * and auth= options), the lookup the router uses, and printing back.
 * Trust: the operator's text; auth= passwords are wiped when freed and
 * never printed.
 */
#include "conf/conf-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/un.h>

#include "util/str.h"
#include "util/xmalloc.h"

void
conf_route_free(struct conf_route *r)
{
	free(r->domain);
	free(r->host);
	free(r->path);
	free(r->auth_user);
	if (r->auth_pass != NULL)
		explicit_bzero(r->auth_pass, strlen(r->auth_pass));
	free(r->auth_pass);
}

/*
 * One option after the target: tls=may|none|require, auth=USER (the
 * password from secrets_file) or auth=USER:PASS (inline, warned about
 * when the file is readable by others).
 */
static int
route_opt(struct parse *p, struct conf_route *r, const char *o, size_t n)
{
	const char *colon;
	size_t ulen;

	if (n > 4 && memcmp(o, "tls=", 4) == 0) {
		if (n == 7 && memcmp(o + 4, "may", 3) == 0)
			r->tls = CONF_ROUTE_TLS_MAY;
		else if (n == 8 && memcmp(o + 4, "none", 4) == 0)
			r->tls = CONF_ROUTE_TLS_NONE;
		else if (n == 11 && memcmp(o + 4, "require", 7) == 0)
			r->tls = CONF_ROUTE_TLS_REQUIRE;
		else
			return conf_fail(p, p->lineno,
			    "route %s: '%.*s': expected tls=may, tls=none or "
			    "tls=require",
			    r->domain, (int)(n > 64 ? 64 : n), o);
		return 1;
	}
	if (n > 5 && memcmp(o, "auth=", 5) == 0) {
		if (r->auth_user != NULL)
			return conf_fail(p, p->lineno,
			    "route %s: auth= given twice", r->domain);
		colon = memchr(o + 5, ':', n - 5);
		ulen = colon != NULL ? (size_t)(colon - o - 5) : n - 5;
		if (ulen == 0 || ulen > CONF_AUTH_MAX ||
		    (colon != NULL && n - 6 - ulen > CONF_AUTH_MAX))
			return conf_fail(p, p->lineno,
			    "route %s: auth= expects USER (its password in "
			    "secrets_file) or USER:PASSWORD",
			    r->domain);
		/* Top-level keys come before any section: this is final. */
		if (colon == NULL && p->c->secrets_file == NULL)
			return conf_fail(p, p->lineno,
			    "route %s: auth=%.*s takes its password from "
			    "secrets_file, which is not set; add at the top "
			    "secrets_file = /etc/tern/secrets and there the "
			    "line '%s %.*s:PASSWORD'",
			    r->domain, (int)(ulen > 64 ? 64 : ulen), o + 5,
			    r->domain, (int)(ulen > 64 ? 64 : ulen), o + 5);
		r->auth_user = xstrndup(o + 5, ulen);
		if (colon != NULL) {
			r->auth_pass =
			    xstrndup(colon + 1, (size_t)(o + n - colon - 1));
			r->auth_inline = true;
		}
		return 1;
	}
	return conf_fail(p, p->lineno,
	    "route %s: unknown option '%.*s'; known: tls=, auth=", r->domain,
	    (int)(n > 64 ? 64 : n), o);
}

/*
 * [routes]: "DOMAIN = TARGET [tls=...] [auth=USER[:PASS]]" where DOMAIN is
 * a domain or "*" and TARGET is host[:port] or lmtp:/path or
 * lmtp:host[:port].
 */
int
conf_on_route(struct parse *p, const char *key, const char *v)
{
	struct conf *c = p->c;
	struct conf_route r;
	const char *why, *t = v;
	size_t i, n;

	memset(&r, 0, sizeof(r));
	if (strcmp(key, "*") == 0)
		r.domain = xstrdup("*");
	else if (!conf_domain_norm(key, strlen(key), &r.domain, &why))
		return conf_fail(p, p->lineno, "route '%.64s': the domain %s",
		    key, why);
	for (i = 0; i < c->nroutes; i++)
		if (strcmp(c->routes[i].domain, r.domain) == 0) {
			conf_fail(p, p->lineno, "route for '%s' given twice",
			    r.domain);
			goto bad;
		}
	if (c->nroutes >= CONF_ROUTES_MAX) {
		conf_fail(p, p->lineno, "more than %d routes", CONF_ROUTES_MAX);
		goto bad;
	}
	n = strcspn(t, " \t");
	if (n > 5 && memcmp(t, "lmtp:", 5) == 0) {
		r.kind = CONF_ROUTE_LMTP;
		if (t[5] == '/') {
			if (n - 5 >=
			    sizeof(((struct sockaddr_un *)0)->sun_path)) {
				conf_fail(p, p->lineno,
				    "route %s: socket path too long", r.domain);
				goto bad;
			}
			r.path = xstrndup(t + 5, n - 5);
		} else if (!conf_hostport_parse(t + 5, n - 5, 24, &r.host,
		               &r.port)) {
			conf_fail(p, p->lineno,
			    "route %s: '%.*s': expected lmtp:/path/to/socket "
			    "or lmtp:HOST:PORT",
			    r.domain, (int)(n > 64 ? 64 : n), t);
			goto bad;
		}
	} else if (!conf_hostport_parse(t, n, 25, &r.host, &r.port)) {
		conf_fail(p, p->lineno,
		    "route %s: '%.*s': expected HOST[:PORT] (IPv6 in "
		    "brackets), lmtp:/path or lmtp:HOST:PORT",
		    r.domain, (int)(n > 64 ? 64 : n), t);
		goto bad;
	} else if (strcmp(r.host, "lmtp") == 0) {
		/* "lmtp:25" would read as LMTP to a host named "25". */
		conf_fail(p, p->lineno,
		    "route %s: a host named 'lmtp' is ambiguous; use its "
		    "full name or address",
		    r.domain);
		goto bad;
	}
	for (t += n; *t != '\0'; t += n) {
		while (*t == ' ' || *t == '\t')
			t++;
		if ((n = strcspn(t, " \t")) == 0)
			break;
		if (route_opt(p, &r, t, n) == 0)
			goto bad;
	}
	c->routes = xrealloc(c->routes, (c->nroutes + 1) * sizeof(r));
	c->routes[c->nroutes++] = r;
	return 1;
bad:
	conf_route_free(&r);
	return 0;
}

const struct conf_route *
conf_route_find(const struct conf *c, const char *domain)
{
	size_t i, n = strlen(domain);
	const struct conf_route *star = NULL;

	if (n > 0 && domain[n - 1] == '.')
		n--;
	for (i = 0; i < c->nroutes; i++) {
		if (strcmp(c->routes[i].domain, "*") == 0)
			star = &c->routes[i];
		else if (strlen(c->routes[i].domain) == n &&
		         ascii_ncasecmp(c->routes[i].domain, domain, n) == 0)
			return &c->routes[i];
	}
	return star;
}

/*
 * One route as a config line. `compact` leaves out what loading fills
 * in (the default port, tls=may) and the spaces around '=': never longer
 * than the line it was loaded from. Returns the length.
 */
static size_t
format_route(const struct conf_route *r, bool compact, char *out, size_t outsz)
{
	static const char *const tls[] = { "may", "none", "require" };
	unsigned dport = r->kind == CONF_ROUTE_LMTP ? 24 : 25;
	const char *v6 = r->host != NULL && strchr(r->host, ':') ? "[" : "";
	size_t n;

	n = (size_t)snprintf(out, outsz, "%s%s%s", r->domain,
	    compact ? "=" : " = ", r->kind == CONF_ROUTE_LMTP ? "lmtp:" : "");
	if (r->path != NULL)
		n += (size_t)snprintf(out + n, outsz - n, "%s", r->path);
	else {
		n += (size_t)snprintf(out + n, outsz - n, "%s%s%s", v6, r->host,
		    *v6 != '\0' ? "]" : "");
		if (!compact || r->port != dport)
			n += (size_t)snprintf(out + n, outsz - n, ":%u",
			    r->port);
	}
	if (r->tls != CONF_ROUTE_TLS_MAY)
		n += (size_t)snprintf(out + n, outsz - n, " tls=%s",
		    tls[r->tls]);
	/* Never the password: conf_print_routes() says where it is. */
	if (r->auth_user != NULL)
		n += (size_t)snprintf(out + n, outsz - n, " auth=%s",
		    r->auth_user);
	return n;
}

void
conf_print_routes(const struct conf *c, FILE *fp, unsigned flags)
{
	char line[2048]; /* domain, host, auth: each capped well below */
	size_t i;

	if (c->nroutes == 0 && !(flags & CONF_PRINT_ALL))
		return;
	fprintf(fp, "\n[routes]\n");
	for (i = 0; i < c->nroutes; i++) {
		/* No domain here: a comment is a line, and lines are capped. */
		if (c->routes[i].auth_inline)
			fprintf(fp,
			    "# next route: its auth= password is in the "
			    "config file (not shown); move it to "
			    "secrets_file\n");
		/* Explicit where it fits in a line, as loadable as the input.
		 */
		if (format_route(&c->routes[i], false, line, sizeof(line)) >
		    CONF_LINE_MAX)
			(void)format_route(&c->routes[i], true, line,
			    sizeof(line));
		fprintf(fp, "%s\n", line);
	}
}
