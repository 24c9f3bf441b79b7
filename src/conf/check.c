/* SPDX-License-Identifier: ISC */
/*
 * conf/check.c - conf_warnings(): advice about a configuration that
 * loads but likely does not do what its operator meant. Pure: it looks
 * at the struct conf alone; the checks that look at the system (files,
 * users, certificates, the user database) are in cli/check.c, and the
 * secrets file's own checks in secrets.c. Both the server's start-up
 * and `tern check-config` show these.
 * Trust: internal.
 */
#include "conf/conf-private.h"

#include <stdio.h>
#include <string.h>

void
conf_warnings(const struct conf *c,
    void (*fn)(void *arg, const char *name, const char *text), void *arg)
{
	const struct conf_route *rt;
	char text[1024];
	size_t i;

	for (i = 0; i < c->nroutes; i++) {
		rt = &c->routes[i];
		if (strcmp(rt->domain, "*") == 0 ||
		    conf_is_local_domain(c, rt->domain) ||
		    conf_relay_domain_find(c, rt->domain) != NULL)
			continue;
		(void)snprintf(text, sizeof(text),
		    "[routes] %s: mail from outside for %s is refused "
		    "(relay access denied): a route says how mail travels, "
		    "not who may send it. If this server relays for %s (a "
		    "backup MX, an internal host), add it to [relay_domains] "
		    "with a recipient check, e.g. `%s = verify`",
		    rt->domain, rt->domain, rt->domain, rt->domain);
		fn(arg, "route_not_relay_domain", text);
	}
	for (i = 0; i < c->nroutes; i++) {
		rt = &c->routes[i];
		if (rt->auth_user == NULL || rt->tls != CONF_ROUTE_TLS_NONE)
			continue;
		(void)snprintf(text, sizeof(text),
		    "[routes] %s: auth= with tls=none sends the password "
		    "unencrypted; use tls=require (or tls=may, the default)",
		    rt->domain);
		fn(arg, "route_auth_cleartext", text);
	}
	for (i = 0; i < c->nrelay_domains; i++) {
		if (c->relay_domains[i].check != CONF_RELAY_ANY)
			continue;
		(void)snprintf(text, sizeof(text),
		    "[relay_domains] %s = any: mail for every local part is "
		    "accepted, and what the next hop refuses is bounced, often "
		    "to forged senders (backscatter); choose verify, "
		    "file:/path or users",
		    c->relay_domains[i].domain);
		fn(arg, "relay_domain_unchecked", text);
	}
	for (i = 0; i < c->nmilters; i++) {
		if (c->milters[i].default_action != CONF_MILTER_ACCEPT)
			continue;
		(void)snprintf(text, sizeof(text),
		    "[milter %s] default_action = accept: while this filter "
		    "is down or hangs, mail passes unfiltered; keep tempfail "
		    "for a virus or spam filter",
		    c->milters[i].name);
		fn(arg, "milter_fails_open", text);
	}
}
