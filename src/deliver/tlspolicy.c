/* SPDX-License-Identifier: ISC */
/*
 * deliver/tlspolicy.c - how a hop is secured (see tlspolicy.h): the pure
 * decision, and the TLSA lookup that feeds it.
 */
#include "deliver/tlspolicy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "deliver/tlspolicy_sts.h"
#include "util/str.h"
#include "util/xmalloc.h"

bool
tlspolicy_wants_tlsa(const struct tlspolicy_facts *f)
{
	/* RFC 7672 2.2.1, 2.2.2: an insecure MX or address answer may
	 * already be the attacker's, so its TLSA answer would prove
	 * nothing. */
	return f->dane && f->mx_sec == DNS_SEC_SECURE &&
	       f->addr_sec == DNS_SEC_SECURE;
}

/* The MTA-STS branch, when DANE did not decide (RFC 8461 4, 5). */
static enum tlspolicy_kind
decide_sts(const struct tlspolicy_facts *f, char *why, size_t why_size)
{
	switch (f->sts) {
	case TLSPOLICY_STS_MODE_ENFORCE:
		if (!f->sts_listed) {
			(void)snprintf(why, why_size,
			    "MTA-STS policy (enforce) does not list this MX");
			return TLSPOLICY_SKIP;
		}
		(void)snprintf(why, why_size, "MTA-STS policy (enforce)");
		return TLSPOLICY_STS_ENFORCE;
	case TLSPOLICY_STS_MODE_TESTING:
		(void)snprintf(why, why_size, "MTA-STS policy (testing)%s",
		    f->sts_listed ? "" : ", MX not listed");
		return TLSPOLICY_STS_TESTING;
	case TLSPOLICY_STS_NONE:
		break;
	}
	return TLSPOLICY_OPPORTUNISTIC;
}

enum tlspolicy_kind
tlspolicy_decide(const struct tlspolicy_facts *f, char *why, size_t why_size)
{
	char none[64];
	enum tlspolicy_kind k;

	if (why_size > 0)
		why[0] = '\0';
	if (tlspolicy_wants_tlsa(f) && f->tlsa_asked) {
		if (f->tlsa_sec == DNS_SEC_BOGUS) {
			(void)snprintf(why, why_size, "TLSA answer bogus");
			return TLSPOLICY_SKIP;
		}
		if (f->tlsa_st == DNS_TEMP) {
			/* RFC 7672 2.2: an indeterminate TLSA answer may be
			 * an attacker's doing; the host cannot be used. */
			(void)snprintf(why, why_size, "TLSA lookup failed");
			return TLSPOLICY_SKIP;
		}
		if (f->tlsa_st == DNS_OK && f->tlsa_sec == DNS_SEC_SECURE &&
		    f->ntlsa > 0) {
			if (f->nusable > 0) {
				(void)snprintf(why, why_size,
				    "%zu usable TLSA record%s", f->nusable,
				    f->nusable == 1 ? "" : "s");
				return TLSPOLICY_DANE;
			}
			(void)snprintf(why, why_size,
			    "TLSA records, none usable: TLS without "
			    "authentication");
			return TLSPOLICY_DANE_UNAUTH;
		}
	}
	/* Say why DANE did not apply, then ask MTA-STS. */
	if (!f->dane)
		(void)strlcpy(none, "DANE off or DNSSEC unavailable",
		    sizeof(none));
	else if (f->mx_sec != DNS_SEC_SECURE)
		(void)strlcpy(none, "MX answer insecure", sizeof(none));
	else if (f->addr_sec != DNS_SEC_SECURE)
		(void)strlcpy(none, "address answer insecure", sizeof(none));
	else if (!f->tlsa_asked)
		(void)strlcpy(none, "TLSA not looked up", sizeof(none));
	else if (f->tlsa_sec != DNS_SEC_SECURE)
		(void)strlcpy(none, "TLSA answer insecure", sizeof(none));
	else
		(void)strlcpy(none, "no TLSA records", sizeof(none));
	k = decide_sts(f, why, why_size);
	if (why_size > 0 && why[0] == '\0')
		(void)snprintf(why, why_size, "%s", none);
	return k;
}

void
tlspolicy_domain_init(struct tlspolicy_domain *d, const struct conf *conf,
    struct dns *dns, const char *domain, enum dns_security mx_sec,
    bool dane_ok)
{
	memset(d, 0, sizeof(*d));
	(void)strlcpy(d->domain, domain, sizeof(d->domain));
	ascii_lower_str(d->domain);
	d->mx_sec = mx_sec;
	d->dane = dane_ok && conf->outtls.dane == CONF_ON;
	/* The MTA-STS branch fills sts, sts_policy and sts_id. */
	tlspolicy_sts_fill(d, conf, dns);
}

/* The TLSA RRset's usable records into hop->tlsa; how many were there. */
static size_t
tlsa_take(struct tlspolicy_hop *hop, const struct dns_rrset *rs)
{
	struct dane_tlsa *recs;
	size_t i, n = 0;

	recs = xcalloc(rs->n > 0 ? rs->n : 1, sizeof(*recs));
	for (i = 0; i < rs->n; i++)
		if (dane_tlsa_parse(rs->data[i], rs->len[i], &recs[n]))
			n++;
	/* A malformed record counts as an unusable one (RFC 7672 2.2). */
	hop->ntlsa = dane_usable(recs, n);
	if (hop->ntlsa == 0) {
		free(recs);
		recs = NULL;
	}
	hop->tlsa = recs;
	return rs->n;
}

void
tlspolicy_hop(const struct tlspolicy_domain *d, struct dns *dns,
    const char *host, enum dns_security addr_sec, struct tlspolicy_hop *out)
{
	struct tlspolicy_facts f;
	struct dns_rrset rs;
	struct why why;
	char reason[TLSPOLICY_WHY_MAX];

	memset(out, 0, sizeof(*out));
	memset(&f, 0, sizeof(f));
	(void)strlcpy(out->tlsa_base, host, sizeof(out->tlsa_base));
	f.dane = d->dane;
	f.mx_sec = d->mx_sec;
	f.addr_sec = addr_sec;
	f.sts = d->sts;
	f.sts_listed = d->sts != TLSPOLICY_STS_NONE &&
	               mtasts_mx_allowed(&d->sts_policy, host);
	out->mx_authentic = d->mx_sec == DNS_SEC_SECURE || f.sts_listed;
	why_clear(&why);
	if (tlspolicy_wants_tlsa(&f) && dns != NULL) {
		f.tlsa_asked = true;
		f.tlsa_st = dns_tlsa(dns, host, 25, &rs, &f.tlsa_sec, &why);
		if (f.tlsa_st == DNS_OK) {
			f.ntlsa = tlsa_take(out, &rs);
			f.nusable = out->ntlsa;
			dns_rrset_free(&rs);
		}
	}
	out->kind = tlspolicy_decide(&f, reason, sizeof(reason));
	if (out->kind == TLSPOLICY_SKIP && why.text[0] != '\0')
		(void)snprintf(out->why, sizeof(out->why), "%.60s: %.190s", reason,
		    why.text);
	else
		(void)strlcpy(out->why, reason, sizeof(out->why));
	if (out->kind != TLSPOLICY_DANE) {
		free(out->tlsa);
		out->tlsa = NULL;
		out->ntlsa = 0;
	}
}

void
tlspolicy_hop_reset(struct tlspolicy_hop *hop)
{
	if (hop == NULL)
		return;
	free(hop->tlsa);
	memset(hop, 0, sizeof(*hop));
}

bool
tlspolicy_hop_requiretls(struct tlspolicy_hop *hop)
{
	switch (hop->kind) {
	case TLSPOLICY_DANE:
	case TLSPOLICY_STS_ENFORCE:
	case TLSPOLICY_PKIX:
		return true;
	case TLSPOLICY_OPPORTUNISTIC:
	case TLSPOLICY_STS_TESTING:
		if (!hop->mx_authentic)
			return false; /* the name may be an attacker's */
		hop->kind = TLSPOLICY_PKIX;
		return true;
	case TLSPOLICY_DANE_UNAUTH:
	case TLSPOLICY_SKIP:
		break;
	}
	return false;
}

bool
tlspolicy_needs_tls(enum tlspolicy_kind k)
{
	return k == TLSPOLICY_DANE || k == TLSPOLICY_DANE_UNAUTH ||
	       k == TLSPOLICY_STS_ENFORCE || k == TLSPOLICY_PKIX;
}

bool
tlspolicy_needs_pkix(enum tlspolicy_kind k)
{
	return k == TLSPOLICY_STS_ENFORCE || k == TLSPOLICY_PKIX;
}

const char *
tlspolicy_kind_name(enum tlspolicy_kind k)
{
	switch (k) {
	case TLSPOLICY_OPPORTUNISTIC:
		return "opportunistic";
	case TLSPOLICY_DANE:
		return "dane";
	case TLSPOLICY_DANE_UNAUTH:
		return "dane-unauthenticated";
	case TLSPOLICY_STS_ENFORCE:
		return "sts";
	case TLSPOLICY_STS_TESTING:
		return "sts-testing";
	case TLSPOLICY_PKIX:
		return "pkix";
	case TLSPOLICY_SKIP:
		return "skip";
	}
	return "?";
}
