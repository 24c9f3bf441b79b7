/* SPDX-License-Identifier: ISC */
/*
 * server/msgauth.c - mail authentication in the SMTP session (see
 * msgauth.h): the pool of check workers, the signing key table, and one
 * transaction's SPF, DKIM, DMARC and Authentication-Results.
 */
#include "server/msgauth.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/authdns.h"
#include "auth/arc.h"
#include "auth/authres.h"
#include "auth/dkim.h"
#include "auth/dkimkeys.h"
#include "auth/dmarc.h"
#include "auth/spf.h"
#include "auth/verdict.h"
#include "dns/dns.h"
#include "msg/field.h"
#include "server/workers.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define POOL_WORKERS 4
#define DNS_SECS 10      /* one query; SPF has its own total deadline */
#define FROM_FIELDS_MAX 8 /* From fields kept; more is "several" anyway */
#define SIGS_MAX VERDICT_DKIM_MAX
#define SUMMARY_MAX 320
#define REPLY_MAX VERDICT_REPLY_MAX
#define SEAL_MAX (64 * 1024) /* an ARC set and the A-R under it */

/* The signing keys of one domain. */
struct keyent {
	char *domain;
	struct dkimkeys keys;
};

struct msgauth_pool {
	char *dns_server;
	pthread_mutex_t mtx; /* w, and the key table */
	struct workers *w;   /* NULL until the first job */
	struct keyent *tab;
	size_t ntab;
};

/* A worker's own resolver. */
struct wctx {
	struct dns *dns;
	struct authdns adns;
};

struct msgauth {
	struct msgauth_pool *pool;
	const struct conf *conf; /* the session's, which it holds */
	bool verify, sign;
	/* SPF */
	struct spf_query q;
	char helo[256];
	char mailfrom[512];
	bool spf_done;
	struct spf_verdict spf_helo, spf_mail;
	/* The header */
	struct dkim_verifier *ver;
	struct dmarc_field from[FROM_FIELDS_MAX];
	size_t nfrom, from_extra;
	struct buf fields;  /* signing: the header, until the keys are known */
	struct dkim_signer *signer;
	char sign_domain[DNS_NAME_MAX];
	/* ARC (RFC 8617): the chain as it came; a seal when we forward. */
	struct arc_verifier *arc;
	struct arc_result arc_res;
	bool arc_done;
	char seal_domain[DNS_NAME_MAX]; /* "" unless forwarded */
	struct arc_sealer *sealer;
	bool sealed;
	bool arc_override; /* a trusted sealer vouched: DMARC not applied */
	/* Results */
	struct dkim_result dk[SIGS_MAX];
	size_t ndk;
	bool dmarc_done;
	struct dmarc_verdict dm;
	struct buf prefix;
	bool junk;
	char refusal[REPLY_MAX];
	char summary[SUMMARY_MAX];
	/* The caller's continuation */
	loop_fn *done;
	void *arg;
};

/* ---- the pool ------------------------------------------------------ */

struct msgauth_pool *
msgauth_pool_new(const char *dns_server)
{
	struct msgauth_pool *p = xcalloc(1, sizeof(*p));

	p->dns_server = dns_server != NULL ? xstrdup(dns_server) : NULL;
	pthread_mutex_init(&p->mtx, NULL);
	return p;
}

static void
tab_free(struct keyent *tab, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		dkimkeys_free(&tab[i].keys);
		free(tab[i].domain);
	}
	free(tab);
}

void
msgauth_pool_free(struct msgauth_pool *p)
{
	if (p == NULL)
		return;
	workers_free(p->w);
	tab_free(p->tab, p->ntab);
	pthread_mutex_destroy(&p->mtx);
	free(p->dns_server);
	free(p);
}

void
msgauth_pool_keys(struct msgauth_pool *p, const struct conf *conf)
{
	struct keyent *tab = NULL, *old;
	char **names = NULL;
	struct why why;
	size_t i, n = 0, nold, nd = 0;

	why_clear(&why);
	if (dkimkeys_domains(conf->data_dir, &names, &why) == -1) {
		log_warn("event=dkim_keys_unreadable error=%s",
		    LOG_ESC(why.text));
		names = NULL;
	}
	while (names != NULL && names[nd] != NULL)
		nd++;
	if (nd > 0)
		tab = xcalloc(nd, sizeof(*tab));
	for (i = 0; i < nd; i++) {
		why_clear(&why);
		if (dkimkeys_load(conf->data_dir, names[i],
		        conf_dkim_selectors(conf, names[i]), &tab[n].keys,
		        &why) == -1) {
			log_crit("event=dkim_key_error domain=%s error=%s "
			          "msg=\"mail from this domain is %s\"",
			    LOG_ESC(names[i]), LOG_ESC(why.text),
			    conf->auth.dkim_key_error == CONF_KEY_ERROR_DEFER
			        ? "deferred"
			        : "sent unsigned");
			tab[n].domain = xstrdup(names[i]);
			tab[n++].keys.n = 0; /* known, but no key: see finish */
			continue;
		}
		tab[n].domain = xstrdup(names[i]);
		log_info("event=dkim_keys domain=%s keys=%zu",
		    LOG_ESC(names[i]), tab[n].keys.n);
		n++;
	}
	for (i = 0; i < nd; i++)
		free(names[i]);
	free(names);
	pthread_mutex_lock(&p->mtx);
	old = p->tab;
	nold = p->ntab;
	p->tab = tab;
	p->ntab = n;
	pthread_mutex_unlock(&p->mtx);
	tab_free(old, nold);
}

static void *
thread_init(void *arg)
{
	struct msgauth_pool *p = arg;
	struct wctx *c = xcalloc(1, sizeof(*c));
	struct why why;

	c->dns = dns_new(p->dns_server, DNS_SECS, &why);
	if (c->dns == NULL)
		log_warn("event=dns_unavailable error=%s "
		         "msg=\"mail checks answer temperror\"",
		    LOG_ESC(why.text));
	c->adns.lookup = authdns_resolver;
	c->adns.arg = c->dns;
	return c;
}

static void
thread_fini(void *ctx)
{
	struct wctx *c = ctx;

	dns_free(c->dns);
	free(c);
}

/* A resolver that always fails, when libunbound could not start. */
static enum dns_status
no_dns(void *arg, const char *name, int type, struct dns_rrset *out,
    struct why *why)
{
	(void)arg;
	(void)type;
	memset(out, 0, sizeof(*out));
	why_set(why, WHY_TEMP, 0, "DNS %s: no resolver", name);
	return DNS_TEMP;
}

static const struct authdns *
ctx_dns(struct wctx *c)
{
	static const struct authdns none = { no_dns, NULL };

	return c->dns != NULL ? &c->adns : &none;
}

static void
job_done(struct loop *loop, void *arg)
{
	struct msgauth *ma = arg;

	ma->done(loop, ma->arg);
}

static void
submit(struct msgauth *ma, workers_fn *work, struct loop *loop,
    loop_fn *done, void *arg)
{
	struct msgauth_pool *p = ma->pool;
	struct workers *w;

	ma->done = done;
	ma->arg = arg;
	pthread_mutex_lock(&p->mtx);
	if (p->w == NULL)
		p->w = workers_new(POOL_WORKERS, thread_init, thread_fini, p);
	w = p->w;
	pthread_mutex_unlock(&p->mtx);
	workers_submit(w, work, loop, job_done, ma);
}

/* ---- one transaction ----------------------------------------------- */

struct msgauth *
msgauth_new(struct msgauth_pool *p, const struct conf *conf, bool verify,
    bool sign)
{
	struct msgauth *ma;

	if (p == NULL || (!verify && !sign))
		return NULL;
	if (verify && conf->auth.checks == CONF_OFF)
		verify = false;
	if (sign) {
		pthread_mutex_lock(&p->mtx);
		sign = p->ntab > 0; /* no key at all: nothing to sign with */
		pthread_mutex_unlock(&p->mtx);
	}
	if (!verify && !sign)
		return NULL;
	ma = xcalloc(1, sizeof(*ma));
	ma->pool = p;
	ma->conf = conf;
	ma->verify = verify;
	ma->sign = sign;
	buf_init(&ma->prefix, 256 * 1024);
	buf_init(&ma->fields, 1024 * 1024);
	if (verify) {
		ma->ver = dkim_verifier_new((unsigned)conf->auth.dkim_max_signatures);
		ma->arc = arc_verifier_new();
	}
	return ma;
}

void
msgauth_seal_for(struct msgauth *ma, const char *domain)
{
	if (ma != NULL && ma->verify)
		(void)strlcpy(ma->seal_domain, domain, sizeof(ma->seal_domain));
}

void
msgauth_free(struct msgauth *ma)
{
	size_t i;

	if (ma == NULL)
		return;
	dkim_verifier_free(ma->ver);
	dkim_signer_free(ma->signer);
	arc_verifier_free(ma->arc);
	arc_sealer_free(ma->sealer);
	for (i = 0; i < ma->nfrom; i++)
		free((char *)ma->from[i].p);
	buf_reset(&ma->fields);
	buf_reset(&ma->prefix);
	free(ma);
}

bool
msgauth_wants_spf(const struct msgauth *ma)
{
	return ma != NULL && ma->verify;
}

static void
spf_work(void *ctx, void *job)
{
	struct msgauth *ma = job;

	spf_check(ctx_dns(ctx), &ma->q, &ma->spf_helo, &ma->spf_mail);
	ma->spf_done = true;
}

void
msgauth_spf_submit(struct msgauth *ma, const struct sockaddr_storage *ip,
    const char *helo, const char *mailfrom, struct loop *loop,
    loop_fn *done, void *arg)
{
	(void)strlcpy(ma->helo, helo != NULL ? helo : "", sizeof(ma->helo));
	(void)strlcpy(ma->mailfrom, mailfrom != NULL ? mailfrom : "",
	    sizeof(ma->mailfrom));
	memset(&ma->q, 0, sizeof(ma->q));
	ma->q.ip = *ip;
	ma->q.helo = ma->helo;
	ma->q.mailfrom = ma->mailfrom;
	ma->q.receiver = ma->conf->hostname;
	submit(ma, spf_work, loop, done, arg);
}

bool
msgauth_spf_refusal(const struct msgauth *ma, char *reply, size_t n)
{
	if (ma == NULL || !ma->spf_done)
		return false;
	return verdict_spf_refusal(&ma->spf_mail, &ma->conf->auth, reply, n);
}

bool
msgauth_field(struct msgauth *ma, const char *f, size_t n)
{
	const char *v;
	size_t vn;

	if (ma == NULL)
		return true;
	v = msg_field_value(f, n, &vn);
	if (ma->verify && msg_field_is(f, n, "Authentication-Results") &&
	    authres_claims_id(v, vn, ma->conf->hostname))
		return false;
	if (msg_field_is(f, n, "From")) {
		if (ma->nfrom < FROM_FIELDS_MAX) {
			ma->from[ma->nfrom].p = xstrndup(v, vn);
			ma->from[ma->nfrom++].n = vn;
		} else
			ma->from_extra++;
	}
	if (ma->verify) {
		dkim_verifier_header(ma->ver, f, n);
		arc_verifier_header(ma->arc, f, n);
	}
	if ((ma->sign || ma->seal_domain[0] != '\0') &&
	    buf_append(&ma->fields, f, n) == -1) {
		ma->sign = false; /* a header too big to sign */
		ma->seal_domain[0] = '\0';
	}
	return true;
}

/* The key table entry of `domain`, or NULL. With p->mtx held. */
static const struct keyent *
tab_find(const struct msgauth_pool *p, const char *domain)
{
	size_t i;

	for (i = 0; i < p->ntab; i++)
		if (ascii_casecmp(p->tab[i].domain, domain) == 0)
			return &p->tab[i];
	return NULL;
}

/* The header kept so far (ma->fields), a field at a time, to fn. */
static void
replay_fields(const struct msgauth *ma,
    void (*fn)(void *to, const char *field, size_t n), void *to)
{
	const char *f = (const char *)ma->fields.data;
	const char *end = f + ma->fields.len;
	size_t len;

	while (f < end) {
		len = msg_field_len(f, (size_t)(end - f));
		fn(to, f, len);
		f += len;
	}
}

static void
to_sealer(void *to, const char *field, size_t n)
{
	arc_sealer_header(to, field, n);
}

static void
to_signer(void *to, const char *field, size_t n)
{
	dkim_signer_header(to, field, n);
}

/*
 * ARC: the seal of a message we forward, with the forwarding domain's
 * RSA key (RFC 8617 defines rsa-sha256 only), fed the header so far.
 */
static void
start_sealer(struct msgauth *ma)
{
	struct msgauth_pool *p = ma->pool;
	const struct keyent *e;
	struct why why;
	size_t k;

	pthread_mutex_lock(&p->mtx);
	e = tab_find(p, ma->seal_domain);
	for (k = 0; e != NULL && k < e->keys.n; k++)
		if (e->keys.key[k].alg == DKIM_RSA_SHA256) {
			ma->sealer = arc_sealer_new(&e->keys.key[k], time(NULL),
			    &why);
			break;
		}
	pthread_mutex_unlock(&p->mtx);
	if (ma->sealer != NULL) /* else no RSA key: not sealed */
		replay_fields(ma, to_sealer, ma->sealer);
}

/* The domain's keys, if any: a signer fed the header so far. */
static void
start_signer(struct msgauth *ma)
{
	struct msgauth_pool *p = ma->pool;
	const struct keyent *e;
	struct why why;

	pthread_mutex_lock(&p->mtx);
	e = tab_find(p, ma->sign_domain);
	if (e != NULL && e->keys.n > 0)
		ma->signer = dkim_signer_new(e->keys.key, e->keys.n, &why);
	else if (e != NULL &&
	    ma->conf->auth.dkim_key_error == CONF_KEY_ERROR_DEFER)
		(void)snprintf(ma->refusal, sizeof(ma->refusal),
		    "451 4.3.0 The signing key of %s cannot be used; try "
		    "again later",
		    ma->sign_domain);
	pthread_mutex_unlock(&p->mtx);
	if (ma->signer != NULL)
		replay_fields(ma, to_signer, ma->signer);
}

void
msgauth_eoh(struct msgauth *ma)
{
	enum dmarc_from fr;

	if (ma == NULL)
		return;
	if (ma->verify) {
		dkim_verifier_eoh(ma->ver);
		arc_verifier_eoh(ma->arc);
	}
	if (ma->seal_domain[0] != '\0')
		start_sealer(ma);
	if (ma->sign && ma->from_extra == 0) {
		fr = dmarc_from_domain(ma->from, ma->nfrom, ma->sign_domain);
		if (fr == DMARC_FROM_OK)
			start_signer(ma);
	}
	buf_reset(&ma->fields);
}

void
msgauth_body(struct msgauth *ma, const uint8_t *p, size_t n)
{
	if (ma == NULL)
		return;
	if (ma->verify) {
		dkim_verifier_body(ma->ver, p, n);
		arc_verifier_body(ma->arc, p, n);
	}
	if (ma->signer != NULL)
		dkim_signer_body(ma->signer, p, n);
	if (ma->sealer != NULL)
		arc_sealer_body(ma->sealer, p, n);
}

/* ---- the end of the message ---------------------------------------- */

/*
 * ARC-seal (RFC 8617 5.1) a message we forward: its Authentication-
 * Results value (in ma->prefix) goes into the new set, which is put on
 * top of it.
 */
static void
seal(struct msgauth *ma)
{
	static const char name[] = "Authentication-Results:";
	struct buf set, value;
	struct why why;
	size_t n = ma->prefix.len;
	const char *ar = (const char *)ma->prefix.data;

	if (n < sizeof(name) + 1 || memcmp(ar, name, sizeof(name) - 1) != 0)
		return;
	buf_init(&value, n);
	buf_init(&set, SEAL_MAX);
	why_clear(&why);
	/* The value: after the name and its space, without the CRLF. */
	if (buf_append(&value, ar + sizeof(name), n - sizeof(name) - 2) == -1 ||
	    buf_append(&value, "", 1) == -1 ||
	    arc_sealer_finish(ma->sealer, &ma->arc_res, ma->conf->hostname,
	        (const char *)value.data, &set, &why) == -1 ||
	    buf_append(&set, ma->prefix.data, ma->prefix.len) == -1)
		log_warn("event=arc_seal_failed domain=%s error=%s",
		    LOG_ESC(ma->seal_domain), LOG_ESC(why.text));
	else {
		buf_clear(&ma->prefix);
		if (buf_append(&ma->prefix, set.data, set.len) == 0)
			ma->sealed = true;
	}
	buf_reset(&set);
	buf_reset(&value);
}

/* DMARC's verdict as [authentication] dmarc_policy says to apply it. */
static void
apply_dmarc(struct msgauth *ma)
{
	if (verdict_arc_override(&ma->dm, &ma->arc_res, &ma->conf->auth)) {
		ma->arc_override = true;
		return;
	}
	if (verdict_dmarc_action(&ma->dm, &ma->conf->auth, ma->refusal,
	        sizeof(ma->refusal)) == VERDICT_JUNK)
		ma->junk = true;
}

static void
verify_finish(struct msgauth *ma, const struct authdns *dns)
{
	struct dmarc_dkim dd[SIGS_MAX];
	struct verdict v;
	size_t i, off;

	ma->ndk = ma->conf->auth.dkim_max_signatures < SIGS_MAX
	              ? ma->conf->auth.dkim_max_signatures
	              : SIGS_MAX; /* room in dk[] */
	dkim_verifier_finish(ma->ver, dns, time(NULL), ma->dk, &ma->ndk);
	if (ma->ndk > SIGS_MAX)
		ma->ndk = SIGS_MAX;
	for (i = 0; i < ma->ndk; i++) {
		dd[i].domain = ma->dk[i].domain;
		dd[i].pass = ma->dk[i].result == DKIM_PASS;
	}
	if (ma->from_extra > 0)
		dmarc_from_verdict(DMARC_FROM_SEVERAL_FIELDS, &ma->dm);
	else
		dmarc_check_message(dns, ma->from, ma->nfrom,
		    ma->spf_done ? spf_result_name(ma->spf_mail.result) : "none",
		    ma->spf_mail.domain, dd, ma->ndk, dmarc_random(), &ma->dm);
	ma->dmarc_done = true;
	arc_verifier_finish(ma->arc, dns, time(NULL), &ma->arc_res);
	ma->arc_done = true;
	apply_dmarc(ma);
	memset(&v, 0, sizeof(v));
	v.spf_mail = ma->spf_done ? &ma->spf_mail : NULL;
	v.spf_helo = &ma->spf_helo;
	v.helo = ma->helo;
	v.mailfrom = ma->mailfrom;
	v.dkim = ma->dk;
	v.ndkim = ma->ndk;
	v.dmarc = &ma->dm;
	v.arc = &ma->arc_res;
	if (verdict_authres_write(&ma->prefix, ma->conf->hostname, &v) == -1)
		log_warn("event=authres_failed msg=\"header too long\"");
	else if (ma->sealer != NULL)
		seal(ma);
	/* Every result on the log line: "dkim=pass,fail" for two. */
	off = (size_t)snprintf(ma->summary, sizeof(ma->summary),
	    "spf=%s dkim=%s",
	    ma->spf_done ? spf_result_name(ma->spf_mail.result) : "none",
	    ma->ndk > 0 ? dkim_res_name(ma->dk[0].result) : "none");
	for (i = 1; i < ma->ndk && off < sizeof(ma->summary); i++)
		off += (size_t)snprintf(ma->summary + off,
		    sizeof(ma->summary) - off, ",%s",
		    dkim_res_name(ma->dk[i].result));
	if (off < sizeof(ma->summary))
		off += (size_t)snprintf(ma->summary + off,
		    sizeof(ma->summary) - off, " dmarc=%s arc=%s%s%s",
		    dmarc_result_name(ma->dm.result),
		    arc_cv_name(ma->arc_res.cv),
		    ma->arc_override ? " dmarc_override=arc" : "",
		    ma->sealed ? " arc_sealed=yes" : "");
	if (off < sizeof(ma->summary) && (ma->junk || ma->refusal[0]))
		(void)snprintf(ma->summary + off, sizeof(ma->summary) - off,
		    " dmarc_action=%s", ma->refusal[0] ? "refuse" : "junk");
}

static void
sign_finish(struct msgauth *ma)
{
	struct why why;
	size_t before = ma->prefix.len;

	why_clear(&why);
	if (dkim_signer_finish(ma->signer, &ma->prefix, &why) == 0) {
		(void)snprintf(ma->summary, sizeof(ma->summary),
		    "dkim_signed=%s", ma->sign_domain);
		return;
	}
	ma->prefix.len = before;
	log_crit("event=dkim_sign_failed domain=%s error=%s",
	    LOG_ESC(ma->sign_domain), LOG_ESC(why.text));
	if (ma->conf->auth.dkim_key_error == CONF_KEY_ERROR_DEFER)
		(void)snprintf(ma->refusal, sizeof(ma->refusal),
		    "451 4.3.0 The message could not be signed; try again "
		    "later");
}

static void
finish_work(void *ctx, void *job)
{
	struct msgauth *ma = job;

	if (ma->verify)
		verify_finish(ma, ctx_dns(ctx));
	if (ma->signer != NULL && ma->refusal[0] == '\0')
		sign_finish(ma);
}

bool
msgauth_has_work(const struct msgauth *ma)
{
	return ma != NULL && (ma->verify || ma->signer != NULL ||
	                         ma->sealer != NULL || ma->refusal[0] != '\0');
}

void
msgauth_finish_submit(struct msgauth *ma, struct loop *loop, loop_fn *done,
    void *arg)
{
	submit(ma, finish_work, loop, done, arg);
}

const struct buf *
msgauth_prefix(const struct msgauth *ma)
{
	return &ma->prefix;
}

bool
msgauth_junk(const struct msgauth *ma)
{
	return ma != NULL && ma->junk;
}

bool
msgauth_refusal(const struct msgauth *ma, char *reply, size_t n)
{
	if (ma == NULL || ma->refusal[0] == '\0')
		return false;
	(void)strlcpy(reply, ma->refusal, n);
	return true;
}

const char *
msgauth_summary(const struct msgauth *ma)
{
	return ma != NULL ? ma->summary : "";
}

int
msgauth_sign_message(void *pool, const struct conf *conf, const uint8_t *msg,
    size_t n, struct buf *out)
{
	struct msgauth *ma = msgauth_new(pool, conf, false, true);
	const char *p = (const char *)msg;
	size_t off = 0, len;
	int rc = 0;

	if (ma == NULL)
		return 0;
	/* The header fields, up to the empty line. */
	while (off < n && !(p[off] == '\r' && off + 1 < n &&
	                       p[off + 1] == '\n') &&
	       p[off] != '\n') {
		len = msg_field_len(p + off, n - off);
		(void)msgauth_field(ma, p + off, len);
		off += len;
	}
	msgauth_eoh(ma);
	if (off < n)
		off += p[off] == '\r' ? 2 : 1; /* the empty line */
	if (off < n)
		msgauth_body(ma, msg + off, n - off);
	if (ma->signer != NULL && ma->refusal[0] == '\0')
		sign_finish(ma);
	if (ma->refusal[0] != '\0')
		rc = -1;
	else if (ma->prefix.len > 0 &&
	    buf_append(out, ma->prefix.data, ma->prefix.len) == -1)
		rc = -1;
	if (rc == 0 && ma->signer != NULL)
		log_info("event=dkim_signed source=maildrop domain=%s",
		    LOG_ESC(ma->sign_domain));
	msgauth_free(ma);
	return rc;
}
