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
#include <time.h>

#include "client/client.h"
#include "conf/conf.h"
#include "deliver/dnssec_state.h"
#include "deliver/tlspolicy_sts.h"
#include "deliver/tlsrpt_store.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

/*
 * A verifying context: the system's CA store, and [outbound_tls]
 * ca_file when set. Loading the store takes OpenSSL a good part of a
 * start-up (every certificate of the bundle is parsed; several times
 * that under ASan), and only some hops verify (routes with tls =
 * require, MTA-STS, REQUIRETLS), so each is made on first use, once.
 */
struct ca_ctx {
	char *ca_file; /* NULL: the system store alone */
	SSL_CTX *ctx;  /* NULL: could not be made (logged) */
	struct ca_ctx *next;
};

struct nexthop {
	SSL_CTX *ctx_may;    /* also DANE's: SSL_CTX_dane_enable() */
	pthread_mutex_t mtx; /* ca_ctxs */
	/* Does DNSSEC work through the configured resolver? (issue 19) */
	struct dnssec_watch dnssec;
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
	dnssec_watch_init(&nh->dnssec);
	if ((nh->ctx_may = client_tls_ctx_new(false, NULL, &why)) == NULL)
		unavailable(&why);
	/* DANE verifies on the unverified context (RFC 7672 3: the TLSA
	 * records are the trust anchors); only sessions given records use
	 * it. */
	if (nh->ctx_may != NULL && SSL_CTX_dane_enable(nh->ctx_may) <= 0) {
		why_set(&why, WHY_TEMP, 0, "SSL_CTX_dane_enable failed");
		unavailable(&why);
		SSL_CTX_free(nh->ctx_may);
		nh->ctx_may = NULL;
	}
	return nh;
}

void
nexthop_free(struct nexthop *nh)
{
	struct ca_ctx *cc, *next;

	if (nh == NULL)
		return;
	SSL_CTX_free(nh->ctx_may);
	for (cc = nh->ca_ctxs; cc != NULL; cc = next) {
		next = cc->next;
		SSL_CTX_free(cc->ctx);
		free(cc->ca_file);
		free(cc);
	}
	pthread_mutex_destroy(&nh->mtx);
	dnssec_watch_destroy(&nh->dnssec);
	free(nh);
}

static bool
same_file(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

/*
 * The one place that makes verifying contexts: the one with ca_file
 * (NULL: none), made on first use; NULL if it cannot be (logged).
 */
static SSL_CTX *
ctx_ca(const struct nexthop *cnh, const char *ca_file)
{
	struct nexthop *nh = (struct nexthop *)cnh; /* a cache: see above */
	struct ca_ctx *cc;
	struct why why;
	SSL_CTX *ctx;

	pthread_mutex_lock(&nh->mtx);
	for (cc = nh->ca_ctxs; cc != NULL; cc = cc->next)
		if (same_file(cc->ca_file, ca_file))
			break;
	if (cc == NULL) {
		cc = xcalloc(1, sizeof(*cc));
		cc->ca_file = ca_file != NULL ? xstrdup(ca_file) : NULL;
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

/*
 * Append suffix to t->key. NEXTHOP_KEY_MAX has room for "route:" + the
 * longest domain + a suffix; should it not, the name is cut rather than
 * the suffix: a session of one kind must never serve mail of another.
 */
static void
key_suffix(struct nexthop_target *t, const char *suffix)
{
	size_t n = strlen(t->key), sl = strlen(suffix);

	if (n + sl + 1 > sizeof(t->key))
		n = sizeof(t->key) - sl - 1;
	memcpy(t->key + n, suffix, sl + 1);
}

void
nexthop_require_tls(struct nexthop_target *t)
{
	t->requiretls = true;
	key_suffix(t, "+requiretls");
}

void
nexthop_tls_optional(struct nexthop_target *t)
{
	if (t->requiretls)
		return; /* RFC 8689 4.1: REQUIRETLS wins over the field */
	t->tls_optional = true;
	key_suffix(t, "+tlsoptional");
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
 * One DANE session attempt: the hop's records, and how far TLS got, so
 * that TLS-RPT is told what failed (RFC 8460 4.3).
 */
struct dane_try {
	const struct tlspolicy_hop *hop;
	bool handshake; /* set up: the server took STARTTLS */
	bool checked;   /* the handshake ended and was checked */
	bool matched;
};

/* DANE on a client session (client_tls_check): the hop's records. */
static int
dane_setup_cb(void *arg, SSL *ssl, struct why *why)
{
	struct dane_try *dt = arg;

	dt->handshake = true;
	return dane_ssl_setup(ssl, dt->hop->tlsa_base, dt->hop->tlsa,
	    dt->hop->ntlsa, why);
}

static bool
dane_verify_cb(void *arg, SSL *ssl, char *what, size_t what_size)
{
	struct dane_try *dt = arg;
	char how[160];

	dt->checked = true;
	dt->matched = dane_ssl_verified(ssl, how, sizeof(how));
	(void)snprintf(what, what_size, "%s%s", dt->matched ? "" : "DANE: ",
	    how);
	return dt->matched;
}

/* "3 1 1 HEX" of each record, for TLS-RPT's policy-string (4.4). */
static char **
tlsa_strings(const struct tlspolicy_hop *hop)
{
	char **v = xcalloc(hop->ntlsa + 1, sizeof(*v));
	size_t i, k, o, cap = TLSRPT_STORE_STRING_MAX;

	for (i = 0; i < hop->ntlsa; i++) {
		const struct dane_tlsa *t = &hop->tlsa[i];

		v[i] = xmalloc(cap);
		o = (size_t)snprintf(v[i], cap, "%u %u %u ", t->usage,
		    t->selector, t->mtype);
		/* A full certificate (matching type 0) is cut at the cap;
		 * the store would cut it anyway. */
		for (k = 0; k < t->len && o + 3 <= cap; k++, o += 2)
			(void)snprintf(v[i] + o, 3, "%02x", t->data[k]);
	}
	return v;
}

/*
 * TLS-RPT (RFC 8460, the store is deliver/tlsrpt_store.h): one note per
 * DANE session attempt that reached TLS or needed it, success when
 * failure is NULL. MTA-STS hops: tlspolicy_sts_session(); hosts no
 * policy covers: nopolicy_note().
 */
static void
rpt_note(const struct nexthop_target *t, const struct tlspolicy_hop *hop,
    const struct nexthop_peer *peer, int result, const char *reason)
{
	struct tlsrpt_store *st = tlsrpt_store_default();
	struct tlsrpt_failure f;
	char **v;
	size_t i;

	if (st == NULL)
		return;
	memset(&f, 0, sizeof(f));
	if (result >= 0) {
		f.result = (enum tlsrpt_result)result;
		(void)strlcpy(f.mx_host, peer->host, sizeof(f.mx_host));
		/* A host skipped for its DNS answers was not connected to. */
		if (result != TLSRPT_DNSSEC_INVALID)
			(void)strlcpy(f.mx_ip, peer->addr, sizeof(f.mx_ip));
		(void)strlcpy(f.reason, reason, sizeof(f.reason));
	}
	v = tlsa_strings(hop);
	tlsrpt_store_note(st, t->domain, TLSRPT_TLSA, (const char *const *)v,
	    hop->ntlsa, NULL, 0, result >= 0 ? &f : NULL);
	for (i = 0; i < hop->ntlsa; i++)
		free(v[i]);
	free(v);
}

/*
 * The RFC 8460 4.3 result of a failed DANE attempt, or -1 when TLS was
 * never in question (the connection failed before the greeting).
 */
static int
dane_result(const struct dane_try *dt, const struct why *w)
{
	if (dt->checked && !dt->matched)
		return TLSRPT_TLSA_INVALID;
	if (dt->handshake)
		return TLSRPT_VALIDATION_FAILURE; /* the handshake failed */
	/* client/proto.c names STARTTLS when it was not offered or was
	 * refused: the only TLS failures before a handshake. */
	if (strstr(w->text, "STARTTLS") != NULL)
		return TLSRPT_STARTTLS_NOT_SUPPORTED;
	return -1;
}

/*
 * What an MX host's policy (tlspolicy.h) asks of the session; chk is
 * filled for DANE and must live as long as hop, through client_open().
 */
static void
hop_opts(const struct nexthop *nh, const struct conf *conf,
    const struct tlspolicy_hop *hop, struct client_tls_check *chk,
    struct client_conn_opts *o)
{
	SSL_CTX *vctx;

	/* MTA-STS testing: as opportunistic, the certificate checked as
	 * enforce would, only to report (RFC 8461 5). */
	if (hop->kind == TLSPOLICY_STS_TESTING &&
	    (vctx = ctx_ca(nh, conf->outtls.ca_file)) != NULL) {
		o->ssl_ctx = vctx;
		o->pkix_report = true;
	}
	if (!tlspolicy_needs_tls(hop->kind))
		return; /* opportunistic, MTA-STS testing: as a route's "may" */
	o->proto.tls = CLIENT_TLS_REQUIRE;
	if (tlspolicy_needs_pkix(hop->kind)) {
		o->ssl_ctx = ctx_ca(nh, conf->outtls.ca_file);
		return;
	}
	o->ssl_ctx = nh->ctx_may;
	if (hop->kind == TLSPOLICY_DANE) {
		chk->setup = dane_setup_cb;
		chk->verify = dane_verify_cb;
		o->tls_check = chk; /* chk->arg: the caller's dane_try */
	} else
		o->tls_unauthenticated = true;
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
	o->ssl_ctx = o->proto.tls == CLIENT_TLS_REQUIRE
	                 ? ctx_ca(nh, conf->outtls.ca_file)
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

/* The trust anchor file, or NULL when nothing is to be validated. */
static const char *
anchor_file(const struct conf *c)
{
	const char *ta = c->outtls.trust_anchor;

	if (c->outtls.dane != CONF_ON)
		return NULL; /* validation serves DANE alone */
	if (ta == NULL)
		return CONF_TRUST_ANCHOR_DEFAULT;
	return strcmp(ta, "none") == 0 ? NULL : ta;
}

static int64_t
mono_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

static enum dnssec_state
dnssec_get(const struct nexthop *cnh)
{
	struct nexthop *nh = (struct nexthop *)cnh; /* shared state */

	return dnssec_watch_get(&nh->dnssec, mono_secs());
}

/*
 * Record what a probe said (deliver/dnssec_state.h: unavailable for a
 * while, then probed again; WORKS stays); each change is logged once.
 */
static void
dnssec_set(const struct nexthop *cnh, enum dnssec_state st,
    const struct why *why)
{
	struct nexthop *nh = (struct nexthop *)cnh;
	char esc[300];

	if (!dnssec_watch_set(&nh->dnssec, st, mono_secs()))
		return;
	if (st == DNSSEC_UNAVAILABLE)
		log_warn("event=dnssec_unavailable reason=%s action=\"no "
		         "DNSSEC validation, so no DANE; TLS as without it; "
		         "probed again in %d s\"",
		    log_escs(esc, sizeof(esc), why->text),
		    DNSSEC_STATE_RETRY_SECS);
	else if (st == DNSSEC_WORKS)
		log_info("event=dnssec_available");
}

/* A resolver without validation, in place of *dnsp. */
static struct dns *
plain_dns(const struct conf *c, struct dns **dnsp, struct why *why)
{
	dns_free(*dnsp);
	*dnsp = dns_new(c->dns_server, c->queue.remote_timeout, why);
	return *dnsp;
}

/*
 * The thread's resolver, validating with the trust anchor while DNSSEC
 * works or is not known not to (contract: a resolver that strips DNSSEC
 * must not make every answer bogus, which would defer all mail). The
 * probe runs before the first lookup of a validating resolver and is
 * repeated until some thread gets an answer, and again when an
 * "unavailable" has lasted its time (dnssec_state.h). dns_server and
 * the anchor need a restart (a thread keeps its resolver).
 */
static struct dns *
thread_dns(const struct nexthop *nh, const struct conf *c, struct dns **dnsp,
    struct why *why)
{
	const char *ta = anchor_file(c);
	char name[DNS_NAME_MAX];
	enum dnssec_state st = dnssec_get(nh);
	struct why w;

	/* A plain resolver made while DNSSEC was unavailable: once that
	 * has lasted its time, a validating one and a probe again. */
	if (*dnsp != NULL && !dns_validates(*dnsp) && ta != NULL &&
	    st == DNSSEC_UNTESTED) {
		dns_free(*dnsp);
		*dnsp = NULL;
	}
	if (*dnsp != NULL) {
		if (!dns_validates(*dnsp) || st == DNSSEC_WORKS)
			return *dnsp;
		if (st == DNSSEC_UNAVAILABLE) /* found out by another thread */
			return plain_dns(c, dnsp, why);
	} else {
		*dnsp = dns_new(c->dns_server, c->queue.remote_timeout, why);
		if (*dnsp == NULL || ta == NULL || st == DNSSEC_UNAVAILABLE)
			return *dnsp;
		why_clear(&w);
		/* No anchor (dns-root-data missing?): no validation. */
		if (dns_trust_anchor_name(ta, name, sizeof(name), &w) == -1 ||
		    dns_set_trust_anchor(*dnsp, ta, &w) == -1) {
			dnssec_set(nh, DNSSEC_UNAVAILABLE, &w);
			return plain_dns(c, dnsp, why);
		}
		if (st == DNSSEC_WORKS)
			return *dnsp;
	}
	if (ta == NULL)
		return *dnsp; /* DANE turned off by a reload: no probe */
	why_clear(&w);
	if (dns_trust_anchor_name(ta, name, sizeof(name), &w) == -1) {
		dnssec_set(nh, DNSSEC_UNAVAILABLE, &w);
		return plain_dns(c, dnsp, why);
	}
	switch (dns_dnssec_probe(*dnsp, name, &w)) {
	case DNS_OK:
		dnssec_set(nh, DNSSEC_WORKS, &w);
		return *dnsp;
	case DNS_TEMP:
		return *dnsp; /* keep validating; ask again next time */
	default:
		dnssec_set(nh, DNSSEC_UNAVAILABLE, &w);
		return plain_dns(c, dnsp, why);
	}
}

/* One log line per host decision, with why. */
static void
log_hop(const struct nexthop_target *t, const char *host,
    const struct tlspolicy_hop *hop)
{
	log_info("event=tls_policy domain=%s host=%s policy=%s reason=%s",
	    LOG_ESC(t->domain), LOG_ESC(host), tlspolicy_kind_name(hop->kind),
	    LOG_ESC(hop->why));
}

/*
 * TLS-RPT for a host no policy covers (RFC 8460 4.4 "no-policy-found"):
 * a session that went TLS counts as a success, one without as
 * starttls-not-supported. The store counts every domain; only those
 * that publish _smtp._tls get a report (tlsrpt_send.h). A connection
 * that failed before its greeting says nothing about TLS: not counted.
 */
static void
nopolicy_note(const struct nexthop_target *t, const struct nexthop_peer *peer,
    const struct client_conn *c)
{
	struct tlsrpt_store *st = tlsrpt_store_default();
	struct tlsrpt_failure f;

	if (st == NULL || t->tls_optional) /* a policy was set aside */
		return;
	if (client_is_tls(c)) {
		tlsrpt_store_note(st, t->domain, TLSRPT_NO_POLICY, NULL, 0,
		    NULL, 0, NULL);
		return;
	}
	memset(&f, 0, sizeof(f));
	f.result = TLSRPT_STARTTLS_NOT_SUPPORTED;
	(void)strlcpy(f.mx_host, peer->host, sizeof(f.mx_host));
	(void)strlcpy(f.mx_ip, peer->addr, sizeof(f.mx_ip));
	tlsrpt_store_note(st, t->domain, TLSRPT_NO_POLICY, NULL, 0, NULL, 0,
	    &f);
}

/* A DANE session attempt's outcome to TLS-RPT (rpt_note()). */
static void
dane_report(const struct nexthop_target *t, const struct tlspolicy_hop *hop,
    const struct nexthop_peer *peer, bool ok, const struct dane_try *dt,
    const struct why *w)
{
	int r;

	if (ok)
		rpt_note(t, hop, peer, -1, "");
	else if ((r = dane_result(dt, w)) >= 0)
		rpt_note(t, hop, peer, r, w->text);
}

/*
 * An MX host's policy into *hop, peer and the session options *o; -1
 * (why set) when the host must not be used (RFC 7672 2.2: not even in
 * the clear; the next host may do).
 */
static int
mx_hop(const struct nexthop *nh, const struct conf *conf,
    const struct tlspolicy_domain *dom, struct dns *dns,
    const struct nexthop_target *t, const char *host,
    enum dns_security addr_sec, struct tlspolicy_hop *hop,
    struct client_tls_check *chk, struct nexthop_peer *peer,
    struct client_conn_opts *o, struct why *why)
{
	tlspolicy_hop_reset(hop);
	tlspolicy_hop(dom, dns, host, addr_sec, hop);
	if (t->requiretls && hop->kind != TLSPOLICY_SKIP &&
	    !tlspolicy_hop_requiretls(hop)) {
		(void)strlcpy(hop->why,
		    hop->kind == TLSPOLICY_DANE_UNAUTH
		        ? "REQUIRETLS: the host cannot be authenticated "
		          "(TLSA records, none usable)"
		        : "REQUIRETLS: the MX answer is not DNSSEC-validated "
		          "and no MTA-STS policy lists the host (RFC 8689 4.1)",
		    sizeof(hop->why));
		hop->kind = TLSPOLICY_SKIP;
	}
	if (t->tls_optional && !t->requiretls &&
	    hop->kind != TLSPOLICY_OPPORTUNISTIC) {
		char was[TLSPOLICY_WHY_MAX];

		(void)strlcpy(was, hop->why, sizeof(was));
		(void)snprintf(hop->why, sizeof(hop->why),
		    "TLS-Required: No, so not %s (%.180s)",
		    tlspolicy_kind_name(hop->kind), was);
		hop->kind = TLSPOLICY_OPPORTUNISTIC;
	}
	log_hop(t, host, hop);
	peer->tls_policy = hop->kind;
	(void)strlcpy(peer->tls_why, hop->why, sizeof(peer->tls_why));
	if (hop->kind == TLSPOLICY_SKIP) {
		if (strstr(hop->why, "TLSA") != NULL) /* bogus or failed */
			rpt_note(t, hop, peer, TLSRPT_DNSSEC_INVALID, hop->why);
		return why_set(why, WHY_TEMP, 0, "%s: not used: %s", host,
		    hop->why);
	}
	hop_opts(nh, conf, hop, chk, o);
	return 0;
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
	struct tlspolicy_domain *dom = NULL;
	struct tlspolicy_hop hop;
	struct client_tls_check chk;
	struct dane_try dt;
	enum dns_security mx_sec = DNS_SEC_INSECURE, addr_sec;
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
		if ((dns = thread_dns(nh, conf, dnsp, why)) == NULL)
			return NULL;
		if (dns_mx_sec(dns, t->domain, mx, &nmx, &mx_sec, why) !=
		    DNS_OK)
			return NULL;
		dom = xmalloc(sizeof(*dom));
		tlspolicy_domain_init(dom, conf, dns, t->domain, mx_sec,
		    dns_validates(dns));
	}
	memset(&hop, 0, sizeof(hop));
	why_set(why, WHY_TEMP, 0, "no mail host for %s", t->domain);
	for (h = 0; h < nmx; h++) {
		if (!is_ip(mx[h].host) && dns == NULL &&
		    (dns = thread_dns(nh, conf, dnsp, why)) == NULL)
			return NULL; /* only for a route: no dom */
		st = dns_addrs_sec(dns, mx[h].host, port, addrs, &na, &addr_sec,
		    &w);
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
		if (dom != NULL && mx_hop(nh, conf, dom, dns, t, mx[h].host,
		                       addr_sec, &hop, &chk, peer, &o, why) == -1) {
			/* RFC 8689 4: a host that cannot be authenticated
			 * never can: final for REQUIRETLS mail. */
			if (t->requiretls &&
			    strstr(hop.why, "REQUIRETLS") != NULL) {
				why->kind = WHY_PERM;
				tls_perm = true;
			}
			continue; /* skipped: why says why */
		}
		for (a = 0; a < na; a++) {
			addr_str(&addrs[a], peer->addr, sizeof(peer->addr));
			memset(&dt, 0, sizeof(dt));
			dt.hop = &hop;
			chk.arg = &dt;
			c = client_open(&o, (struct sockaddr *)&addrs[a],
			    sa_len(&addrs[a]), NULL, &w);
			if (dom != NULL && peer->tls_policy == TLSPOLICY_DANE)
				dane_report(t, &hop, peer, c != NULL, &dt, &w);
			/* MTA-STS: testing-mode findings, TLS-RPT notes. */
			if (dom != NULL)
				tlspolicy_sts_session(dom, hop.kind,
				    mx[h].host, peer->addr, c, w.text);
			if (dom != NULL && c != NULL &&
			    peer->tls_policy == TLSPOLICY_OPPORTUNISTIC)
				nopolicy_note(t, peer, c);
			if (c != NULL) {
				tlspolicy_hop_reset(&hop);
				free(dom);
				return c;
			}
			*why = w;
			/* REQUIRETLS: a server that cannot do it is final. */
			if (w.kind == WHY_PERM)
				tls_perm = true;
			else
				tls_temp = true;
			log_info("event=connect_failed domain=%s host=%s "
			         "addr=%s tls_policy=%s reason=%s",
			    LOG_ESC(t->domain), LOG_ESC(mx[h].host), peer->addr,
			    rt != NULL ? "route"
			               : tlspolicy_kind_name(peer->tls_policy),
			    LOG_ESC(w.text));
		}
	}
	tlspolicy_hop_reset(&hop);
	free(dom);
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
