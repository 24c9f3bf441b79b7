/* SPDX-License-Identifier: ISC */
/*
 * server/access.c - longest-prefix match over a listener's allow and
 * deny lists. Lists are short (an operator's handful of networks) and
 * checked once per connection, so a linear scan is enough.
 */
#include "server/access.h"

#include <sys/socket.h>

#include "conf/conf.h"

/*
 * Specificity on one scale: an IPv4-mapped client (::ffff:192.0.2.1) may
 * match both 192.0.2.0/24 and ::ffff:0:0/96, and /24 there is /120.
 */
static unsigned
bits(const struct cidr *net)
{
	return net->family == AF_INET ? net->prefix + 96 : net->prefix;
}

/* The most specific of nets[0..n) that holds sa, or NULL. */
static const struct cidr *
best(const struct cidr *nets, size_t n, const struct sockaddr *sa)
{
	const struct cidr *b = NULL;
	size_t i;

	for (i = 0; i < n; i++)
		if (cidr_match(&nets[i], sa) &&
		    (b == NULL || bits(&nets[i]) > bits(b)))
			b = &nets[i];
	return b;
}

bool
access_allowed(const struct conf_listener *cl, const struct sockaddr *sa,
    const struct cidr **rule_out)
{
	const struct cidr *a = best(cl->allow, cl->nallow, sa);
	const struct cidr *d = best(cl->deny, cl->ndeny, sa);
	const struct cidr *rule;
	bool ok;

	if (d != NULL && (a == NULL || bits(d) >= bits(a))) {
		rule = d;
		ok = false;
	} else if (a != NULL) {
		rule = a;
		ok = true;
	} else {
		rule = NULL;
		ok = cl->nallow == 0;
	}
	if (rule_out != NULL)
		*rule_out = rule;
	return ok;
}
