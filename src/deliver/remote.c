/* SPDX-License-Identifier: ISC */
/*
 * deliver/remote.c - routing, SMTP/LMTP delivery and session reuse (see
 * remote.h).
 *
 * The client is blocking and runs on the delivery thread: each step has
 * a deadline (client/client.h), so a stalled server holds one thread for
 * a bounded time while the other threads go on.
 * Trust: addresses come from the spool; remote replies are handled by
 * client/ and reach logs through log_escs().
 */
#include "deliver/remote.h"

#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>

#include "client/client.h"
#include "conf/conf.h"
#include "deliver/dns.h"
#include "deliver/local.h"
#include "queue/sched.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define DEST_KEY_MAX (DNS_NAME_MAX + 16)
#define IDLE_SECS 5       /* a reusable session waits this long */
#define IDLE_MAX 64       /* idle sessions kept in all */
#define SLOT_WAIT_SECS 60 /* for a free session slot to a destination */

struct idle {
	struct client_conn *c;
	int64_t since_ms;
	struct idle *next;
};

struct dest {
	char key[DEST_KEY_MAX];
	unsigned active;   /* sessions in use */
	struct idle *idle; /* sessions waiting for a message */
	struct dest *next;
};

struct remote {
	struct sched_deliverer d; /* first: the server holds &r->d */
	const struct conf *conf;
	struct sched_deliverer *local;
	SSL_CTX *ctx_may, *ctx_verify;
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	struct dest *dests;
	size_t nidle;
};

struct rthread {
	struct remote *r;
	void *local_ctx;
	struct dns *dns; /* NULL until first needed */
};

/* Where one group of recipients goes. */
struct target {
	char key[DEST_KEY_MAX];
	const struct conf_route *route; /* NULL: MX */
	const char *domain;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct dest *
dest_get(struct remote *r, const char *key)
{
	struct dest *d;

	for (d = r->dests; d != NULL; d = d->next)
		if (strcmp(d->key, key) == 0)
			return d;
	d = xcalloc(1, sizeof(*d));
	(void)strlcpy(d->key, key, sizeof(d->key));
	d->next = r->dests;
	r->dests = d;
	return d;
}

/* Unlink idle sessions older than IDLE_SECS (all: force); caller closes. */
static struct idle *
reap_locked(struct remote *r, bool force)
{
	struct idle *out = NULL, **pp, *i;
	struct dest *d;
	int64_t now = mono_ms();

	for (d = r->dests; d != NULL; d = d->next)
		for (pp = &d->idle; (i = *pp) != NULL;) {
			if (force || now - i->since_ms > IDLE_SECS * 1000) {
				*pp = i->next;
				i->next = out;
				out = i;
				r->nidle--;
			} else
				pp = &i->next;
		}
	return out;
}

static void
close_list(struct idle *i)
{
	struct idle *next;

	for (; i != NULL; i = next) {
		next = i->next;
		client_close(i->c);
		free(i);
	}
}

/*
 * Wait for a session slot to key; *reuse_out gets an idle session or
 * NULL. -1 when no slot came free in time.
 */
static int
slot_take(struct remote *r, const char *key, struct client_conn **reuse_out)
{
	struct dest *d;
	struct idle *i, *stale;
	struct timespec ts;
	unsigned limit = r->conf->queue.destination_concurrency;
	int rc = 0;

	*reuse_out = NULL;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += SLOT_WAIT_SECS;
	pthread_mutex_lock(&r->mtx);
	stale = reap_locked(r, false);
	d = dest_get(r, key);
	while (d->idle == NULL && d->active >= (limit ? limit : 1) && rc == 0)
		rc = pthread_cond_timedwait(&r->cv, &r->mtx, &ts);
	if (d->idle != NULL) {
		i = d->idle;
		d->idle = i->next;
		r->nidle--;
		*reuse_out = i->c;
		free(i);
		d->active++;
		rc = 0;
	} else if (d->active < (limit ? limit : 1)) {
		d->active++;
		rc = 0;
	} else
		rc = -1;
	pthread_mutex_unlock(&r->mtx);
	close_list(stale);
	return rc;
}

/* Give the slot back, and the session when it can carry more mail. */
static void
slot_give(struct remote *r, const char *key, struct client_conn *c)
{
	struct idle *i = NULL, *stale;
	struct dest *d;

	pthread_mutex_lock(&r->mtx);
	d = dest_get(r, key);
	d->active--;
	if (c != NULL && r->nidle < IDLE_MAX) {
		i = xcalloc(1, sizeof(*i));
		i->c = c;
		i->since_ms = mono_ms();
		i->next = d->idle;
		d->idle = i;
		r->nidle++;
		c = NULL;
	}
	stale = reap_locked(r, false);
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mtx);
	client_close(c);
	close_list(stale);
}

static void *
thread_init(void *arg)
{
	struct remote *r = arg;
	struct rthread *t = xcalloc(1, sizeof(*t));

	t->r = r;
	t->local_ctx = r->local->thread_init != NULL
	                   ? r->local->thread_init(r->local->arg)
	                   : r->local->arg;
	return t;
}

static void
thread_fini(void *ctx)
{
	struct rthread *t = ctx;

	if (t->r->local->thread_fini != NULL)
		t->r->local->thread_fini(t->local_ctx);
	dns_free(t->dns);
	free(t);
}

static const char *
domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : "";
}

/* Route of one recipient: NULL target->key means "local Maildir". */
static void
route(const struct remote *r, const char *addr, struct target *t)
{
	const char *dom = domain_of(addr);
	const struct conf_route *rt;

	memset(t, 0, sizeof(*t));
	t->domain = dom;
	rt = conf_route_find(r->conf, dom);
	/* "*" is for other domains; our own go to their Maildirs. */
	if (rt != NULL && strcmp(rt->domain, "*") == 0 &&
	    conf_is_local_domain(r->conf, dom))
		rt = NULL;
	if (rt == NULL && conf_is_local_domain(r->conf, dom))
		return;
	t->route = rt;
	if (rt != NULL)
		(void)snprintf(t->key, sizeof(t->key), "route:%s", rt->domain);
	else {
		(void)snprintf(t->key, sizeof(t->key), "mx:%s", dom);
		ascii_lower_str(t->key);
	}
}

static struct dns *
thread_dns(struct rthread *t, struct why *why)
{
	const struct conf *c = t->r->conf;

	if (t->dns == NULL)
		t->dns = dns_new(c->dns_server, c->queue.remote_timeout, why);
	return t->dns;
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

/* Session options for a route (NULL: MX) and a peer name. */
static void
conn_opts(const struct remote *r, const struct conf_route *rt, const char *peer,
    struct client_conn_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->proto.helo = r->conf->hostname;
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
	o->ssl_ctx = o->proto.tls == CLIENT_TLS_REQUIRE ? r->ctx_verify
	             : o->proto.tls == CLIENT_TLS_MAY   ? r->ctx_may
	                                                : NULL;
	o->connect_timeout = r->conf->queue.connect_timeout;
	o->timeout_cap = r->conf->queue.remote_timeout;
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

/*
 * Open a session for t: each mail host in preference order, each of its
 * addresses, until one greets us. NULL with why: WHY_PERM only when DNS
 * says no host can exist (NXDOMAIN, null MX, no address at all).
 */
static struct client_conn *
open_session(struct rthread *th, const struct target *t, char *addr,
    size_t addrsz, struct why *why)
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
	char esc[300];
	size_t nmx = 0, na, h, a;
	unsigned port = 25;
	bool all_perm = true;

	addr[0] = '\0';
	if (rt != NULL && rt->path != NULL) {
		memset(&addrs[0], 0, sizeof(addrs[0]));
		su = (struct sockaddr_un *)&addrs[0];
		su->sun_family = AF_UNIX;
		(void)strlcpy(su->sun_path, rt->path, sizeof(su->sun_path));
		(void)strlcpy(addr, rt->path, addrsz);
		conn_opts(th->r, rt, rt->path, &o);
		return client_open(&o, (struct sockaddr *)su, sizeof(*su), NULL,
		    why);
	}
	if (rt != NULL) {
		(void)strlcpy(mx[0].host, rt->host, sizeof(mx[0].host));
		mx[0].pref = 0;
		nmx = 1;
		port = rt->port;
	} else {
		if ((dns = thread_dns(th, why)) == NULL)
			return NULL;
		if (dns_mx(dns, t->domain, mx, &nmx, why) != DNS_OK)
			return NULL;
	}
	why_set(why, WHY_TEMP, 0, "no mail host for %s", t->domain);
	for (h = 0; h < nmx; h++) {
		if (!is_ip(mx[h].host) && dns == NULL &&
		    (dns = thread_dns(th, why)) == NULL)
			return NULL;
		st = dns_addrs(dns, mx[h].host, port, addrs, &na, &w);
		if (st != DNS_OK) {
			all_perm = all_perm && st != DNS_TEMP;
			*why = w;
			continue;
		}
		all_perm = false;
		conn_opts(th->r, rt, mx[h].host, &o);
		for (a = 0; a < na; a++) {
			addr_str(&addrs[a], addr, addrsz);
			c = client_open(&o, (struct sockaddr *)&addrs[a],
			    sa_len(&addrs[a]), NULL, &w);
			if (c != NULL)
				return c;
			*why = w;
			log_info("event=connect_failed domain=%s host=%s "
			         "addr=%s reason=%s",
			    t->domain, mx[h].host, addr,
			    log_escs(esc, sizeof(esc), w.text));
		}
	}
	why->kind = all_perm ? WHY_PERM : WHY_TEMP;
	return NULL;
}

/* May a failed send on a reused session be tried on a fresh one? */
static bool
all_temp(const struct why *whys, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (whys[i].kind != WHY_TEMP)
			return false;
	return true;
}

/*
 * The engine's reply as the scheduler keeps it (for DSNs), with the host
 * that gave it (mta; "" for a unix socket) and, for a delivered
 * recipient, where it went (sched.h).
 */
static void
reply_copy(const struct client_reply *cr, const char *mta,
    enum sched_handoff handoff, struct sched_reply *sr)
{
	memset(sr, 0, sizeof(*sr));
	sr->handoff = handoff;
	if (cr->code == 0)
		return;
	sr->code = cr->code;
	(void)strlcpy(sr->esc, cr->esc, sizeof(sr->esc));
	(void)strlcpy(sr->text, cr->text, sizeof(sr->text));
	(void)strlcpy(sr->mta, mta, sizeof(sr->mta));
}

/* One transaction for recipients idx[0..n) of env that share t. */
static void
deliver_group(struct rthread *th, const struct spool_env *env, int fd,
    const struct target *t, const size_t *idx, size_t n, struct why *whys,
    struct sched_reply *replies)
{
	struct remote *r = th->r;
	struct client_reply *cr;
	struct client_rcpt *rc;
	struct client_conn *c;
	struct client_msg m;
	struct why why;
	char addr[128], esc[300], mta[CLIENT_PEER_MAX] = "";
	enum sched_handoff handoff;
	size_t i, ok = 0;
	bool reused, dsn = false;
	int attempt, sent;

	rc = xcalloc(n, sizeof(*rc));
	cr = xcalloc(n, sizeof(*cr));
	for (i = 0; i < n; i++) {
		rc[i].addr = env->rcpts[idx[i]].addr;
		if (env->dsn != NULL) {
			rc[i].notify = env->dsn[idx[i]].notify;
			rc[i].orcpt = env->dsn[idx[i]].orcpt;
		}
	}
	memset(&m, 0, sizeof(m));
	m.sender = env->sender;
	m.rcpts = rc;
	m.nrcpts = n;
	m.size = (uint64_t)env->body_size;
	m.eightbit = env->eightbit;
	m.smtputf8 = env->smtputf8;
	m.ret = env->dsn_ret;
	m.envid = env->envid;
	if (slot_take(r, t->key, &c) == -1) {
		for (i = 0; i < n; i++)
			why_set(&whys[i], WHY_TEMP, 0,
			    "%s: all %u sessions busy", t->key,
			    r->conf->queue.destination_concurrency);
		free(cr);
		free(rc);
		return;
	}
	reused = c != NULL;
	addr[0] = '\0';
	for (attempt = 0; attempt < 2; attempt++) {
		if (c == NULL && (c = open_session(th, t, addr, sizeof(addr),
		                      &why)) == NULL) {
			for (i = 0; i < n; i++)
				whys[i] = why;
			break;
		}
		sent = client_send(c, &m, fd, env->body_offset, whys, cr, &why);
		/* A dead session may still have delivered some (LMTP). */
		dsn = client_has_dsn(c);
		if (t->route == NULL || t->route->path == NULL)
			(void)strlcpy(mta, client_peer(c), sizeof(mta));
		if (sent == 0)
			break;
		client_close(c);
		c = NULL;
		/* An idle session the server has dropped: once more. */
		if (!reused || !all_temp(whys, n))
			break;
		reused = false;
	}
	/*
	 * A next hop that offers DSN got the parameters and reports success
	 * itself (RFC 3461 5.2.1): nothing from us, or the sender hears
	 * twice. Without DSN, an LMTP server is the local delivery agent:
	 * what it accepts is delivered here (5.2.3, "delivered"); an SMTP
	 * server is a relay (5.2.2, "relayed").
	 */
	if (dsn)
		handoff = SCHED_HANDOFF_DSN;
	else if (t->route != NULL && t->route->kind == CONF_ROUTE_LMTP)
		handoff = SCHED_HANDOFF_FINAL;
	else
		handoff = SCHED_HANDOFF_RELAYED;
	for (i = 0; i < n; i++) {
		ok += whys[i].kind == WHY_NONE;
		reply_copy(&cr[i], mta, handoff, &replies[i]);
	}
	for (i = 0; i < n && whys[i].kind == WHY_NONE; i++)
		;
	log_info("event=remote_session id=%s dest=%s host=%s addr=%s tls=%s "
	         "reused=%s rcpts=%zu accepted=%zu%s%s",
	    env->id, t->key, c != NULL ? client_peer(c) : "-",
	    addr[0] ? addr : "-", c != NULL && client_is_tls(c) ? "yes" : "no",
	    reused ? "yes" : "no", n, ok, i < n ? " reason=" : "",
	    i < n ? log_escs(esc, sizeof(esc), whys[i].text) : "");
	slot_give(r, t->key, c);
	free(cr);
	free(rc);
}

static void
deliver_many(void *ctx, const struct spool_env *env, int fd, const size_t *idx,
    size_t n, struct why *whys, struct sched_reply *replies)
{
	struct rthread *th = ctx;
	struct remote *r = th->r;
	struct target *ts;
	struct why *gw;
	struct sched_reply *gr;
	size_t *gidx, *pos, k, j, m;
	bool *done;

	ts = xcalloc(n, sizeof(*ts));
	done = xcalloc(n, sizeof(*done));
	gidx = xcalloc(n, sizeof(*gidx));
	pos = xcalloc(n, sizeof(*pos));
	gw = xcalloc(n, sizeof(*gw));
	gr = xcalloc(n, sizeof(*gr));
	for (k = 0; k < n; k++)
		route(r, env->rcpts[idx[k]].addr, &ts[k]);
	for (k = 0; k < n; k++) {
		if (done[k])
			continue;
		if (ts[k].key[0] == '\0') {
			why_clear(&whys[k]);
			if (r->local->deliver(th->local_ctx, env, fd, idx[k],
			        &whys[k]) == 0)
				why_clear(&whys[k]);
			else if (whys[k].kind == WHY_NONE)
				whys[k].kind = WHY_TEMP;
			done[k] = true;
			continue;
		}
		for (m = 0, j = k; j < n; j++)
			if (!done[j] && strcmp(ts[j].key, ts[k].key) == 0) {
				gidx[m] = idx[j];
				pos[m++] = j;
				done[j] = true;
			}
		deliver_group(th, env, fd, &ts[k], gidx, m, gw, gr);
		for (j = 0; j < m; j++) {
			whys[pos[j]] = gw[j];
			replies[pos[j]] = gr[j];
		}
	}
	free(gr);
	free(gw);
	free(pos);
	free(gidx);
	free(done);
	free(ts);
}

static int
deliver_one(void *ctx, const struct spool_env *env, int fd, size_t idx,
    struct why *why)
{
	struct sched_reply rep;

	deliver_many(ctx, env, fd, &idx, 1, why, &rep);
	return why->kind == WHY_NONE ? 0 : -1;
}

struct sched_deliverer *
remote_deliverer_new(const struct conf *conf, struct sched_deliverer *local)
{
	struct remote *r;
	struct why why;
	char esc[300];

	r = xcalloc(1, sizeof(*r));
	r->conf = conf;
	r->local = local;
	r->d.thread_init = thread_init;
	r->d.thread_fini = thread_fini;
	r->d.deliver = deliver_one;
	r->d.deliver_many = deliver_many;
	r->d.arg = r;
	r->d.name = "router";
	pthread_mutex_init(&r->mtx, NULL);
	pthread_cond_init(&r->cv, NULL);
	why_clear(&why);
	if ((r->ctx_may = client_tls_ctx_new(false, NULL, &why)) == NULL ||
	    (r->ctx_verify = client_tls_ctx_new(true, NULL, &why)) == NULL)
		log_warn("event=tls_client_unavailable reason=%s",
		    log_escs(esc, sizeof(esc), why.text));
	return &r->d;
}

void
remote_deliverer_free(struct sched_deliverer *d)
{
	struct remote *r = (struct remote *)d; /* d is the first member */
	struct dest *dst, *next;
	struct idle *all;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mtx);
	all = reap_locked(r, true);
	pthread_mutex_unlock(&r->mtx);
	close_list(all);
	for (dst = r->dests; dst != NULL; dst = next) {
		next = dst->next;
		free(dst);
	}
	SSL_CTX_free(r->ctx_may);
	SSL_CTX_free(r->ctx_verify);
	pthread_mutex_destroy(&r->mtx);
	pthread_cond_destroy(&r->cv);
	local_deliverer_free(r->local);
	free(r);
}
