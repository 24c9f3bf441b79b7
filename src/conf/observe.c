/* SPDX-License-Identifier: ISC */
/*
 * conf/observe.c - [observability] (issue 17): where the metrics and
 * dashboard listen, the bearer tokens, the webhook.
 *
 *   http_listen = 127.0.0.1:9425     /metrics, /, /api/status
 *   http_token_file = /etc/tern/metrics-token
 *   webhook_url = https://hooks.example.org/tern
 *
 * The listener is loopback only: metrics name clients and queue ids,
 * which are nobody else's business, and the dashboard has no login. A
 * proxy in front of it is the way to publish it.
 * Trust: the operator's text, checked.
 */
#include "conf/conf-private.h"

#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "util/xmalloc.h"

enum obs_key { O_HTTP_LISTEN = 0, O_HTTP_TOKEN, O_WEBHOOK_URL, O_WEBHOOK_TOKEN };
static const char *const obs_keys[] = { "http_listen", "http_token_file",
	"webhook_url", "webhook_token_file" };

_Static_assert(sizeof(obs_keys) / sizeof(obs_keys[0]) <=
        sizeof(((struct parse *)0)->obs_line) /
            sizeof(((struct parse *)0)->obs_line[0]),
    "struct parse keeps a line per [observability] string");

void
conf_obs_free(struct conf *c)
{
	free(c->obs.http_listen);
	free(c->obs.http_token_file);
	free(c->obs.webhook_url);
	free(c->obs.webhook_token_file);
	c->obs.http_listen = c->obs.http_token_file = NULL;
	c->obs.webhook_url = c->obs.webhook_token_file = NULL;
}

static bool
is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in *in = (const void *)sa;
	const struct sockaddr_in6 *in6 = (const void *)sa;

	if (sa->sa_family == AF_INET)
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	return sa->sa_family == AF_INET6 &&
	       IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
}

/* "127.0.0.1:9425" or "[::1]:9425": numeric, loopback, with a port. */
static int
set_http_listen(struct parse *p, const char *v)
{
	struct conf_obs *o = &p->c->obs;
	struct addrinfo hints, *res = NULL;
	char *host = NULL, port[16];
	unsigned pn;
	int ok;

	if (!conf_hostport_parse(v, strlen(v), 0, &host, &pn) || pn == 0)
		return conf_fail(p, p->lineno,
		    "http_listen '%.64s': expected a loopback IP:PORT, e.g. "
		    "127.0.0.1:9425 or [::1]:9425",
		    v);
	(void)snprintf(port, sizeof(port), "%u", pn);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	ok = getaddrinfo(host, port, &hints, &res) == 0 && res != NULL &&
	     res->ai_addrlen <= sizeof(o->http_sa);
	free(host);
	if (!ok) {
		if (res != NULL)
			freeaddrinfo(res);
		return conf_fail(p, p->lineno,
		    "http_listen '%.64s': expected a numeric IP address "
		    "(host names are not resolved here)",
		    v);
	}
	if (!is_loopback(res->ai_addr)) {
		freeaddrinfo(res);
		return conf_fail(p, p->lineno,
		    "http_listen '%.64s': only a loopback address (127.0.0.1, "
		    "[::1]); the metrics and dashboard have no login, so "
		    "publish them through a proxy of your own",
		    v);
	}
	memcpy(&o->http_sa, res->ai_addr, res->ai_addrlen);
	o->http_salen = res->ai_addrlen;
	freeaddrinfo(res);
	o->http_listen = xstrdup(v);
	return 1;
}

static int
set_path(struct parse *p, const char *key, const char *v, char **dst)
{
	if (v[0] != '/')
		return conf_fail(p, p->lineno,
		    "%s '%.64s': needs an absolute path", key, v);
	if (strlen(v) > CONF_PATH_MAX)
		return conf_fail(p, p->lineno,
		    "%s: path longer than %d bytes", key, CONF_PATH_MAX);
	*dst = xstrdup(v);
	return 1;
}

static int
set_url(struct parse *p, const char *v)
{
	if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
		return conf_fail(p, p->lineno,
		    "webhook_url '%.64s': expected an http:// or https:// URL",
		    v);
	if (strlen(v) > CONF_PATH_MAX || strpbrk(v, " \t\"<>\\") != NULL)
		return conf_fail(p, p->lineno,
		    "webhook_url '%.64s': too long, or holds a space, quote, "
		    "'<', '>' or '\\'",
		    v);
	p->c->obs.webhook_url = xstrdup(v);
	return 1;
}

int
conf_on_obs(struct parse *p, const char *key, const char *v)
{
	struct conf_obs *o = &p->c->obs;
	size_t k;

	for (k = 0; k < sizeof(obs_keys) / sizeof(obs_keys[0]); k++)
		if (strcmp(obs_keys[k], key) == 0)
			break;
	if (k == sizeof(obs_keys) / sizeof(obs_keys[0]))
		return -1;
	if (p->obs_line[k] != 0)
		return conf_fail(p, p->lineno,
		    "duplicate key '%s' (first on line %d)", key,
		    p->obs_line[k]);
	p->obs_line[k] = p->lineno;
	switch ((enum obs_key)k) {
	case O_HTTP_LISTEN:
		return set_http_listen(p, v);
	case O_HTTP_TOKEN:
		return set_path(p, key, v, &o->http_token_file);
	case O_WEBHOOK_URL:
		return set_url(p, v);
	case O_WEBHOOK_TOKEN:
		return set_path(p, key, v, &o->webhook_token_file);
	}
	return -1;
}
