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
	(void)snprintf(t->text[t->nlines++], sizeof(t->text[0]),
	    "max_age: %u", (unsigned)p->max_age);
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
	(void)strlcpy(f.reason, reason != NULL ? reason : "",
	    sizeof(f.reason));
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
	note(d->domain, &d->sts_policy, mx_host, mx_ip, result, failed,
	    reason);
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
