/* SPDX-License-Identifier: ISC */
/*
 * deliver/tlspolicy_sts.c - the MTA-STS branch of tlspolicy (see
 * tlspolicy_sts.h).
 *
 * One mtasts_ctx for the process, made on first use from the data_dir
 * of the configuration in force: data_dir takes a restart, so the first
 * one is the one.
 */
#include "deliver/tlspolicy_sts.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/x509_vfy.h>

#include "client/client.h"
#include "conf/conf.h"
#include "deliver/mtasts_fetch.h"
#include "deliver/tlsrpt_store.h"
#include "util/log.h"
#include "util/str.h"

static pthread_mutex_t ctx_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct mtasts_ctx *ctx; /* made once, kept until exit */

static struct mtasts_ctx *
sts_ctx(const struct conf *conf)
{
	struct mtasts_ctx *m;

	pthread_mutex_lock(&ctx_mtx);
	if (ctx == NULL)
		ctx = mtasts_ctx_new(conf->data_dir);
	m = ctx;
	pthread_mutex_unlock(&ctx_mtx);
	return m;
}

/*
 * The policy as the lines of its text (RFC 8460 4.4 "policy-string"),
 * rebuilt from what was parsed: into lines[] (each a row of text[]).
 */
#define STS_LINES_MAX (MTASTS_MX_MAX + 3)

struct sts_text {
	char text[STS_LINES_MAX][MTASTS_NAME_MAX + 16];
	const char *lines[STS_LINES_MAX];
	const char *mx[MTASTS_MX_MAX];
	size_t nlines, nmx;
};

static void
sts_text(const struct mtasts_policy *p, struct sts_text *t)
{
	size_t i;

	t->nlines = t->nmx = 0;
	(void)snprintf(t->text[t->nlines++], sizeof(t->text[0]),
	    "version: STSv1");
	(void)snprintf(t->text[t->nlines++], sizeof(t->text[0]), "mode: %s",
	    mtasts_mode_name(p->mode));
	for (i = 0; i < p->nmx && i < MTASTS_MX_MAX; i++) {
		(void)snprintf(t->text[t->nlines++], sizeof(t->text[0]),
		    "mx: %s", p->mx[i]);
		t->mx[t->nmx++] = p->mx[i];
	}
	(void)snprintf(t->text[t->nlines++], sizeof(t->text[0]), "max_age: %u",
	    (unsigned)p->max_age);
	for (i = 0; i < t->nlines; i++)
		t->lines[i] = t->text[i];
}

static void
note(const char *domain, const struct mtasts_policy *p, const char *mx_host,
    const char *mx_ip, enum tlsrpt_result result, bool failed,
    const char *reason)
{
	struct tlsrpt_store *st = tlsrpt_store_default();
	struct tlsrpt_failure f;
	struct sts_text t;

	if (st == NULL)
		return;
	memset(&t, 0, sizeof(t));
	if (p != NULL)
		sts_text(p, &t);
	memset(&f, 0, sizeof(f));
	f.result = result;
	(void)strlcpy(f.mx_host, mx_host != NULL ? mx_host : "",
	    sizeof(f.mx_host));
	(void)strlcpy(f.mx_ip, mx_ip != NULL ? mx_ip : "", sizeof(f.mx_ip));
	(void)strlcpy(f.reason, reason != NULL ? reason : "", sizeof(f.reason));
	tlsrpt_store_note(st, domain, TLSRPT_STS, t.lines, t.nlines, t.mx,
	    t.nmx, failed ? &f : NULL);
}

void
tlspolicy_sts_fill(struct tlspolicy_domain *d, const struct conf *conf,
    struct dns *dns)
{
	struct mtasts_result r;

	d->sts = TLSPOLICY_STS_NONE;
	if (conf->outtls.mta_sts != CONF_ON || dns == NULL)
		return;
	mtasts_get(sts_ctx(conf), dns, d->domain, conf->outtls.ca_file, &r);
	/* A record whose policy could not be had: RFC 8460 4.3. */
	if (r.problem[0] != '\0' && r.source != MTASTS_SRC_FETCHED)
		note(d->domain, r.source != MTASTS_SRC_NONE ? &r.policy : NULL,
		    NULL, NULL, TLSRPT_STS_POLICY_FETCH_ERROR, true,
		    "policy fetch failed");
	if (r.source == MTASTS_SRC_NONE)
		return;
	log_debug("event=mta_sts_policy domain=%s id=%s mode=%s source=%s",
	    LOG_ESC(d->domain), r.id, mtasts_mode_name(r.policy.mode),
	    mtasts_source_name(r.source));
	switch (r.policy.mode) {
	case MTASTS_ENFORCE:
		d->sts = TLSPOLICY_STS_MODE_ENFORCE;
		break;
	case MTASTS_TESTING:
		d->sts = TLSPOLICY_STS_MODE_TESTING;
		break;
	case MTASTS_NONE:
		return;
	}
	d->sts_policy = r.policy;
	(void)strlcpy(d->sts_id, r.id, sizeof(d->sts_id));
}

void
tlspolicy_sts_note(const struct tlspolicy_domain *d, const char *mx_host,
    const char *mx_ip, enum tlsrpt_result result, bool failed,
    const char *reason)
{
	if (d->sts == TLSPOLICY_STS_NONE)
		return;
	note(d->domain, &d->sts_policy, mx_host, mx_ip, result, failed, reason);
}

enum tlsrpt_result
tlspolicy_sts_result_of(long err)
{
	switch (err) {
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return TLSRPT_CERT_HOST_MISMATCH;
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return TLSRPT_CERT_EXPIRED;
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_UNTRUSTED:
		return TLSRPT_CERT_NOT_TRUSTED;
	default:
		return TLSRPT_VALIDATION_FAILURE;
	}
}

/* The X509 errors tlspolicy_sts_result_of() tells apart. */
static const long known_errs[] = {
	X509_V_ERR_HOSTNAME_MISMATCH,
	X509_V_ERR_IP_ADDRESS_MISMATCH,
	X509_V_ERR_CERT_HAS_EXPIRED,
	X509_V_ERR_CERT_NOT_YET_VALID,
	X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
	X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
	X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
	X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
	X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE,
	X509_V_ERR_CERT_UNTRUSTED,
};

bool
tlspolicy_sts_failure_of(const char *text, enum tlsrpt_result *out)
{
	size_t i;

	if (strstr(text, "TLS certificate verification failed") != NULL) {
		/* client_verify_reason() quotes OpenSSL's own words. */
		*out = TLSRPT_VALIDATION_FAILURE;
		for (i = 0; i < sizeof(known_errs) / sizeof(known_errs[0]); i++)
			if (strstr(text, X509_verify_cert_error_string(
			                     known_errs[i])) != NULL) {
				*out = tlspolicy_sts_result_of(known_errs[i]);
				break;
			}
		return true;
	}
	if (strstr(text, "STARTTLS") != NULL) {
		*out = TLSRPT_STARTTLS_NOT_SUPPORTED;
		return true;
	}
	if (strstr(text, "TLS") != NULL) { /* a failed handshake */
		*out = TLSRPT_VALIDATION_FAILURE;
		return true;
	}
	return false;
}

static void
testing_report(const struct tlspolicy_domain *d, const char *host,
    const char *addr, enum tlsrpt_result r, const char *what)
{
	log_warn("event=mta_sts_report domain=%s host=%s addr=%s mode=testing "
	         "result=%s reason=%s action=\"delivered anyway (RFC 8461 "
	         "5)\"",
	    LOG_ESC(d->domain), LOG_ESC(host), LOG_ESC(addr),
	    tlsrpt_result_name(r), LOG_ESC(what));
	tlspolicy_sts_note(d, host, addr, r, true, what);
}

void
tlspolicy_sts_session(const struct tlspolicy_domain *d,
    enum tlspolicy_kind kind, const char *host, const char *addr,
    const struct client_conn *c, const char *fail_text)
{
	enum tlsrpt_result r;
	long vr;

	if (kind == TLSPOLICY_STS_ENFORCE) {
		if (c != NULL)
			tlspolicy_sts_note(d, host, addr, 0, false, NULL);
		else if (tlspolicy_sts_failure_of(fail_text, &r))
			tlspolicy_sts_note(d, host, addr, r, true, fail_text);
		return;
	}
	if (kind != TLSPOLICY_STS_TESTING || c == NULL)
		return;
	if (!mtasts_mx_allowed(&d->sts_policy, host)) {
		testing_report(d, host, addr, TLSRPT_VALIDATION_FAILURE,
		    "MX host not listed in the policy");
		return;
	}
	if (!client_is_tls(c)) {
		testing_report(d, host, addr, TLSRPT_STARTTLS_NOT_SUPPORTED,
		    "no STARTTLS");
		return;
	}
	vr = client_tls_pkix_result(c);
	if (vr == X509_V_OK) {
		tlspolicy_sts_note(d, host, addr, 0, false, NULL);
		return;
	}
	testing_report(d, host, addr,
	    vr == -1 ? TLSRPT_VALIDATION_FAILURE : tlspolicy_sts_result_of(vr),
	    vr == -1 ? "certificate not checked"
	             : X509_verify_cert_error_string(vr));
}
