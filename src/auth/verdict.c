/* SPDX-License-Identifier: ISC */
/*
 * auth/verdict.c - one message's results as tern's Authentication-
 * Results field and action (see verdict.h). Moved here from
 * server/msgauth.c so that `tern check message` shares it.
 */
#include "auth/verdict.h"

#include <stdio.h>
#include <string.h>

#include "util/str.h"

static void
add_spf(struct authres_result *r, const struct spf_verdict *sv,
    const struct verdict *v, bool helo)
{
	memset(r, 0, sizeof(*r));
	r->method = "spf";
	r->result = spf_result_name(sv->result);
	r->reason = sv->reason;
	r->props[0].ptype = "smtp";
	r->props[0].prop = helo ? "helo" : "mailfrom";
	r->props[0].value = helo ? v->helo : v->mailfrom;
	r->n_props = 1;
	if (!helo && v->mailfrom[0] == '\0') {
		r->props[0].prop = "helo";
		r->props[0].value = v->helo;
	}
}

static void
add_dkim(struct authres_result *r, const struct dkim_result *d)
{
	memset(r, 0, sizeof(*r));
	r->method = "dkim";
	r->result = dkim_res_name(d->result);
	r->reason = d->reason[0] != '\0' ? d->reason : NULL;
	r->props[0] = (struct authres_prop){ "header", "d", d->domain };
	r->props[1] = (struct authres_prop){ "header", "s", d->selector };
	r->props[2] = (struct authres_prop){ "header", "a", d->algorithm };
	r->props[3] = (struct authres_prop){ "header", "b", d->bprefix };
	r->n_props = 4;
}

static void
add_dmarc(struct authres_result *r, const struct dmarc_verdict *v)
{
	memset(r, 0, sizeof(*r));
	r->method = "dmarc";
	r->result = dmarc_result_name(v->result);
	r->reason = v->reason[0] != '\0' ? v->reason : NULL;
	r->props[0] = (struct authres_prop){ "header", "from", v->from_domain };
	r->props[1] = (struct authres_prop){ "policy", "dmarc",
		v->result == DMARC_NONE ? NULL
		                        : dmarc_policy_name(v->published) };
	r->n_props = 2;
}

/* RFC 8617 7.2: arc=pass|fail|none, with the oldest AMS that passed. */
static void
add_arc(struct authres_result *r, const struct arc_result *a, char *oldest,
    size_t n)
{
	memset(r, 0, sizeof(*r));
	r->method = "arc";
	r->result = arc_cv_name(a->cv);
	r->reason = a->reason[0] != '\0' ? a->reason : NULL;
	if (a->cv == ARC_PASS) {
		(void)snprintf(oldest, n, "%u", a->oldest_pass);
		r->props[0] = (struct authres_prop){ "header", "oldest-pass",
			oldest };
		r->n_props = 1;
	}
}

size_t
verdict_authres(const struct verdict *v, struct authres_result *out, size_t max)
{
	struct authres_result tmp[VERDICT_RESULTS_MAX];
	char oldest[16];
	size_t i, n = 0, ndk;

	if (v->spf_mail != NULL) {
		add_spf(&tmp[n++], v->spf_mail, v, false);
		if (v->spf_helo != NULL && v->mailfrom[0] != '\0' &&
		    v->helo[0] != '\0' && v->spf_helo->domain[0] != '\0')
			add_spf(&tmp[n++], v->spf_helo, v, true);
	}
	ndk = v->ndkim < VERDICT_DKIM_MAX ? v->ndkim : VERDICT_DKIM_MAX;
	for (i = 0; i < ndk; i++)
		add_dkim(&tmp[n++], &v->dkim[i]);
	if (ndk == 0) {
		memset(&tmp[n], 0, sizeof(tmp[n]));
		tmp[n].method = "dkim";
		tmp[n++].result = "none";
	}
	add_dmarc(&tmp[n++], v->dmarc);
	if (v->arc != NULL)
		add_arc(&tmp[n++], v->arc, oldest, sizeof(oldest));
	if (n > max)
		n = max;
	memcpy(out, tmp, n * sizeof(*out));
	return n;
}

int
verdict_authres_write(struct buf *out, const char *authserv_id,
    const struct verdict *v)
{
	struct authres_result res[VERDICT_RESULTS_MAX];
	size_t n;

	n = verdict_authres(v, res, VERDICT_RESULTS_MAX);
	return authres_write(out, authserv_id, res, n);
}

/*
 * Printable ASCII only: reasons and explanations come from DNS, and a
 * From domain may be a UTF-8 U-label (dmarc.h keeps it as given); an
 * SMTP reply is ASCII (RFC 5321 4.2).
 */
static void
clean(char *s, size_t n)
{
	if (n == 0)
		return;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

enum verdict_action
verdict_dmarc_action(const struct dmarc_verdict *v, const struct conf_auth *ca,
    char *reply, size_t n)
{
	if (v->result == DMARC_TEMPERROR &&
	    ca->dmarc_temperror == CONF_TEMP_DEFER) {
		(void)snprintf(reply, n,
		    "451 4.7.5 DMARC: temporary DNS failure for %s, try "
		    "again later",
		    v->from_domain[0] != '\0' ? v->from_domain : "the From");
		clean(reply, n);
		return VERDICT_REFUSE;
	}
	if (v->policy == DMARC_POLICY_NONE ||
	    ca->dmarc_policy == CONF_DMARC_NOTE)
		return VERDICT_ACCEPT;
	if (v->policy == DMARC_POLICY_REJECT &&
	    ca->dmarc_policy == CONF_DMARC_FOLLOW) {
		(void)snprintf(reply, n,
		    "550 5.7.1 Message rejected: the DMARC policy of %s "
		    "(p=reject) refuses it: %s",
		    v->from_domain[0] != '\0' ? v->from_domain : "its From",
		    v->reason);
		clean(reply, n);
		return VERDICT_REFUSE;
	}
	return VERDICT_JUNK; /* quarantine, or reject turned into quarantine */
}

bool
verdict_arc_override(const struct dmarc_verdict *dm,
    const struct arc_result *arc, const struct conf_auth *ca)
{
	size_t i;

	if (dm->result != DMARC_FAIL || dm->policy == DMARC_POLICY_NONE ||
	    arc == NULL || arc->cv != ARC_PASS || arc->domain[0] == '\0')
		return false;
	for (i = 0; i < ca->narc_trusted; i++)
		if (ascii_casecmp(ca->arc_trusted[i], arc->domain) == 0)
			return true;
	return false;
}

bool
verdict_spf_refusal(const struct spf_verdict *v, const struct conf_auth *ca,
    char *reply, size_t n)
{
	if (v->result == SPF_FAIL && ca->spf_fail == CONF_SPF_FAIL_REJECT) {
		(void)snprintf(reply, n,
		    "550 5.7.23 SPF: %s does not allow this host to send for "
		    "%s: %s",
		    v->domain, v->domain,
		    v->explanation[0] != '\0' ? v->explanation : v->reason);
		clean(reply, n);
		return true;
	}
	if (v->result == SPF_TEMPERROR &&
	    ca->spf_temperror == CONF_TEMP_DEFER) {
		(void)snprintf(reply, n,
		    "451 4.7.24 SPF: temporary DNS failure for %s, try again "
		    "later",
		    v->domain);
		clean(reply, n);
		return true;
	}
	return false;
}
