/* SPDX-License-Identifier: ISC */
/*
 * deliver/nexthop.c - routing and session set-up (see nexthop.h).
 *
 * The client is blocking and runs on the caller's thread (a delivery or
 * verification worker): each step has a deadline (client/client.h), so a
 * stalled server holds one thread for a bounded time.
 * Trust: remote replies and DNS names are handled by client/ and dns.c
 * and reach logs through LOG_ESC().
 */
#include "deliver/nexthop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "client/client.h"
#include "conf/conf.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

/*
 * The verifying context loads the system's CA store, which takes
 * OpenSSL a good part of a start-up (every certificate of the bundle is
 * parsed; several times that under ASan). Only routes with tls =
 * require use it, so it is made on first use, once.
 */
/* A verifying context with [outbound_tls] ca_file (REQUIRETLS). */
struct ca_ctx {
	char *ca_file;
	SSL_CTX *ctx; /* NULL: could not be made (logged) */
	struct ca_ctx *next;
};

struct nexthop {
	SSL_CTX *ctx_may;
	pthread_mutex_t mtx; /* ctx_verify, made once; ca_ctxs */
	SSL_CTX *ctx_verify;
	bool verify_tried;
	/*
	 * One per ca_file ever configured: a reload may change it while a
	 * session is still opening with the old one, so they live as long
	 * as nh (a handful at most).
	 */
	struct ca_ctx *ca_ctxs;
};

static void
unavailable(const struct why *why)
{
	char esc[300];

	log_warn("event=tls_client_unavailable reason=%s",
	    log_escs(esc, sizeof(esc), why->text));
}

struct nexthop *
nexthop_new(void)
{
	struct nexthop *nh = xcalloc(1, sizeof(*nh));
	struct why why;

	why_clear(&why);
	pthread_mutex_init(&nh->mtx, NULL);
	if ((nh->ctx_may = client_tls_ctx_new(false, NULL, &why)) == NULL)
		unavailable(&why);
	return nh;
}

void
nexthop_free(struct nexthop *nh)
{
	struct ca_ctx *cc, *next;

	if (nh == NULL)
		return;
	SSL_CTX_free(nh->ctx_may);
	SSL_CTX_free(nh->ctx_verify);
	for (cc = nh->ca_ctxs; cc != NULL; cc = next) {
		next = cc->next;
		SSL_CTX_free(cc->ctx);
		free(cc->ca_file);
		free(cc);
	}
	pthread_mutex_destroy(&nh->mtx);
	free(nh);
}

/* The verifying context, made at the first call; NULL if it cannot be. */
static SSL_CTX *
ctx_verify(const struct nexthop *cnh)
{
	struct nexthop *nh = (struct nexthop *)cnh; /* a cache: see above */
	struct why why;
	SSL_CTX *ctx;

	pthread_mutex_lock(&nh->mtx);
	if (!nh->verify_tried) {
		nh->verify_tried = true;
		why_clear(&why);
		if ((nh->ctx_verify = client_tls_ctx_new(true, NULL, &why)) ==
		    NULL)
			unavailable(&why);
	}
	ctx = nh->ctx_verify;
	pthread_mutex_unlock(&nh->mtx);
	return ctx;
}

/* The verifying context with ca_file (NULL: none), made on first use. */
static SSL_CTX *
ctx_ca(const struct nexthop *cnh, const char *ca_file)
{
	struct nexthop *nh = (struct nexthop *)cnh; /* a cache: see above */
	struct ca_ctx *cc;
	struct why why;
	SSL_CTX *ctx;

	if (ca_file == NULL)
		return ctx_verify(cnh);
	pthread_mutex_lock(&nh->mtx);
	for (cc = nh->ca_ctxs; cc != NULL; cc = cc->next)
		if (strcmp(cc->ca_file, ca_file) == 0)
			break;
	if (cc == NULL) {
		cc = xcalloc(1, sizeof(*cc));
		cc->ca_file = xstrdup(ca_file);
		why_clear(&why);
		if ((cc->ctx = client_tls_ctx_new(true, ca_file, &why)) == NULL)
			unavailable(&why);
		cc->next = nh->ca_ctxs;
		nh->ca_ctxs = cc;
	}
	ctx = cc->ctx;
	pthread_mutex_unlock(&nh->mtx);
	return ctx;
}

void
nexthop_require_tls(struct nexthop_target *t)
{
	size_t n = strlen(t->key);

	t->requiretls = true;
	/* NEXTHOP_KEY_MAX has room: "route:" + a name + this. */
	if (n + sizeof("+requiretls") <= sizeof(t->key))
		memcpy(t->key + n, "+requiretls", sizeof("+requiretls"));
}

static const char *
domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : "";
}

void
nexthop_route(const struct conf *conf, const char *addr,
    struct nexthop_target *t)
{
	const char *dom = domain_of(addr);
	const struct conf_route *rt;

	memset(t, 0, sizeof(*t));
	t->domain = dom;
	rt = conf_route_find(conf, dom);
	/* "*" is for other domains; our own go to their Maildirs. */
	if (rt != NULL && strcmp(rt->domain, "*") == 0 &&
	    conf_is_local_domain(conf, dom))
		rt = NULL;
	if (rt == NULL && conf_is_local_domain(conf, dom))
		return;
	t->route = rt;
	if (rt != NULL)
		(void)snprintf(t->key, sizeof(t->key), "route:%s", rt->domain);
	else {
		(void)snprintf(t->key, sizeof(t->key), "mx:%s", dom);
		ascii_lower_str(t->key);
	}
}

static void
addr_str(const struct sockaddr_storage *ss, char *dst, size_t dstsz)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
	const struct sockaddr_un *su = (const struct sockaddr_un *)ss;

	dst[0] = '\0';
	if (ss->ss_family == AF_INET)
		(void)inet_ntop(AF_INET, &s4->sin_addr, dst, (socklen_t)dstsz);
	else if (ss->ss_family == AF_INET6)
		(void)inet_ntop(AF_INET6, &s6->sin6_addr, dst,
		    (socklen_t)dstsz);
	else if (ss->ss_family == AF_UNIX)
		(void)strlcpy(dst, su->sun_path, dstsz);
}

/* The smaller of two caps in seconds, where 0 means none. */
static unsigned
cap_min(unsigned a, unsigned b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

/*
 * Session options for a route (NULL: MX) and a peer name; requiretls:
 * RFC 8689 (nexthop_target.requiretls).
 */
static void
conn_opts(const struct nexthop *nh, const struct conf *conf,
    const struct conf_route *rt, const char *peer, unsigned timeout_cap,
    bool requiretls, struct client_conn_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->proto.helo = conf->hostname;
	o->proto.peer = peer;
	o->proto.lmtp = rt != NULL && rt->kind == CONF_ROUTE_LMTP;
	o->proto.tls = CLIENT_TLS_MAY;
	if (rt != NULL && rt->tls == CONF_ROUTE_TLS_NONE)
		o->proto.tls = CLIENT_TLS_NONE;
	if (rt != NULL && rt->tls == CONF_ROUTE_TLS_REQUIRE)
		o->proto.tls = CLIENT_TLS_REQUIRE;
	if (rt != NULL) {
		o->proto.auth_user = rt->auth_user;
		o->proto.auth_pass = rt->auth_pass;
	}
	o->ssl_ctx = o->proto.tls == CLIENT_TLS_REQUIRE ? ctx_verify(nh)
	             : o->proto.tls == CLIENT_TLS_MAY   ? nh->ctx_may
	                                                : NULL;
	if (requiretls && !o->proto.lmtp) {
		o->proto.tls = CLIENT_TLS_REQUIRE;
		o->proto.requiretls = true;
		o->ssl_ctx = ctx_ca(nh, conf->outtls.ca_file);
	}
	o->timeout_cap = cap_min(conf->queue.remote_timeout, timeout_cap);
	o->connect_timeout = cap_min(conf->queue.connect_timeout, timeout_cap);
}

static bool
is_ip(const char *s)
{
	unsigned char b[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

static socklen_t
sa_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6  ? sizeof(struct sockaddr_in6)
	       : ss->ss_family == AF_INET ? sizeof(struct sockaddr_in)
	                                  : sizeof(struct sockaddr_un);
}

/* dns_server needs a restart (a thread keeps its resolver). */
static struct dns *
thread_dns(const struct conf *c, struct dns **dnsp, struct why *why)
{
	if (*dnsp == NULL)
		*dnsp = dns_new(c->dns_server, c->queue.remote_timeout, why);
	return *dnsp;
}

struct client_conn *
nexthop_open(const struct nexthop *nh, const struct conf *conf,
    struct dns **dnsp, const struct nexthop_target *t, unsigned timeout_cap,
    struct nexthop_peer *peer, struct why *why)
{
	const struct conf_route *rt = t->route;
	struct sockaddr_storage addrs[DNS_ADDRS_MAX];
	struct dns_mx mx[DNS_MX_MAX];
	struct client_conn_opts o;
	struct client_conn *c;
	struct sockaddr_un *su;
	struct dns *dns = NULL;
	enum dns_status st;
	struct why w;
	size_t nmx = 0, na, h, a;
	unsigned port = 25;
	bool all_perm = true, tls_perm = false, tls_temp = false;

	memset(peer, 0, sizeof(*peer));
	peer->lmtp = rt != NULL && rt->kind == CONF_ROUTE_LMTP;
	if (rt != NULL && rt->path != NULL) {
		memset(&addrs[0], 0, sizeof(addrs[0]));
		su = (struct sockaddr_un *)&addrs[0];
		su->sun_family = AF_UNIX;
		(void)strlcpy(su->sun_path, rt->path, sizeof(su->sun_path));
		(void)strlcpy(peer->addr, rt->path, sizeof(peer->addr));
		conn_opts(nh, conf, rt, rt->path, timeout_cap, false, &o);
		return client_open(&o, (struct sockaddr *)su, sizeof(*su), NULL,
		    why);
	}
	if (rt != NULL) {
		(void)strlcpy(mx[0].host, rt->host, sizeof(mx[0].host));
		mx[0].pref = 0;
		nmx = 1;
		port = rt->port;
	} else {
		if ((dns = thread_dns(conf, dnsp, why)) == NULL)
			return NULL;
		if (dns_mx(dns, t->domain, mx, &nmx, why) != DNS_OK)
			return NULL;
	}
	why_set(why, WHY_TEMP, 0, "no mail host for %s", t->domain);
	for (h = 0; h < nmx; h++) {
		if (!is_ip(mx[h].host) && dns == NULL &&
		    (dns = thread_dns(conf, dnsp, why)) == NULL)
			return NULL;
		st = dns_addrs(dns, mx[h].host, port, addrs, &na, &w);
		if (st != DNS_OK) {
			all_perm = all_perm && st != DNS_TEMP;
			*why = w;
			continue;
		}
		all_perm = false;
		conn_opts(nh, conf, rt, mx[h].host, timeout_cap, t->requiretls,
		    &o);
		(void)strlcpy(peer->host, mx[h].host, sizeof(peer->host));
		peer->port = port;
		for (a = 0; a < na; a++) {
			addr_str(&addrs[a], peer->addr, sizeof(peer->addr));
			c = client_open(&o, (struct sockaddr *)&addrs[a],
			    sa_len(&addrs[a]), NULL, &w);
			if (c != NULL)
				return c;
			*why = w;
			/* REQUIRETLS: a server that cannot do it is final. */
			if (w.kind == WHY_PERM)
				tls_perm = true;
			else
				tls_temp = true;
			log_info("event=connect_failed domain=%s host=%s "
			         "addr=%s reason=%s",
			    LOG_ESC(t->domain), LOG_ESC(mx[h].host), peer->addr,
			    LOG_ESC(w.text));
		}
	}
	why->kind = all_perm ? WHY_PERM : WHY_TEMP;
	/*
	 * RFC 8689 4: when every server reached failed the REQUIRETLS
	 * checks (no STARTTLS, a certificate that does not verify), the
	 * message bounces; one that could not be reached may come back.
	 */
	if (t->requiretls && tls_perm && !tls_temp)
		why->kind = WHY_PERM;
	return NULL;
}

const char *
nexthop_peer_str(const struct nexthop_peer *p, char *dst, size_t dstsz)
{
	const char *proto = p->lmtp ? "lmtp" : "smtp";

	if (dstsz == 0)
		return dst;
	dst[0] = '\0';
	if (p->addr[0] == '\0')
		return dst; /* nothing was tried */
	/* A unix socket's path says it all; a host name may have many IPs. */
	if (p->port == 0)
		(void)snprintf(dst, dstsz, "%s:%s", proto, p->addr);
	else
		(void)snprintf(dst, dstsz, "%s:%s[%s]:%u", proto, p->host,
		    p->addr, p->port);
	return dst;
}
