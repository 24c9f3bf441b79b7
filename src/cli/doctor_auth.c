/* SPDX-License-Identifier: ISC */
/*
 * cli/doctor_auth.c - the checks of `tern doctor` on the records that
 * authenticate mail from a domain: SPF (the record, and whether it
 * passes hostname's addresses, evaluated by auth/spf.c), DKIM (each key
 * under data_dir against the published one) and DMARC (the record and
 * its policy). DNS through doctor_lookup() (doctor_dns.c).
 * Trust: every record is hostile: parsed by the auth/ parsers, quoted
 * only as printable ASCII.
 */
#include "cli/doctor.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/dkim.h"
#include "auth/dkimkeys.h"
#include "auth/dmarc.h"
#include "auth/spf.h"
#include "cli/doctor_text.h"
#include "util/buf.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define QUOTE_MAX 120 /* bytes of a published record quoted back */

/* ---- SPF ------------------------------------------------------------- */

/* "ip4:A ip6:B" for the addresses SPF did not pass, into add. */
static void
spf_terms(const struct doctor *d, const bool *passed, char *add, size_t sz)
{
	char a[INET6_ADDRSTRLEN];
	size_t i;

	add[0] = '\0';
	for (i = 0; i < d->nhost_addrs; i++) {
		if (passed[i])
			continue;
		doctor_addr_str((const void *)&d->host_addrs[i], a, sizeof(a));
		if (add[0] != '\0')
			(void)strlcat(add, " ", sz);
		(void)strlcat(add,
		    d->host_addrs[i].ss_family == AF_INET ? "ip4:" : "ip6:",
		    sz);
		(void)strlcat(add, a, sz);
	}
	if (add[0] == '\0')
		(void)snprintf(add, sz, "a:%s", d->conf->hostname);
}

/* The record to publish: the old one with add in front, or a new one. */
static void
spf_fix(const char *domain, const char *old, const char *add, char *fix,
    size_t fixsz)
{
	char rec[SPF_RECORD_MAX];

	if (old == NULL ||
	    !doctor_spf_suggest(old, strlen(old), add, rec, sizeof(rec)))
		(void)snprintf(rec, sizeof(rec), "v=spf1 %s -all", add);
	doctor_txt_fix(domain, rec, fix, fixsz);
}

/* Evaluate the record for each of hostname's addresses. */
static void
spf_eval(struct doctor *d, const char *domain, const char *record)
{
	bool passed[DOCTOR_ADDRS_MAX] = { false };
	char from[DNS_NAME_MAX + 16], add[1024], fix[TXT_FIX_MAX];
	char a[INET6_ADDRSTRLEN], reason[SPF_REASON_MAX];
	struct spf_verdict *v = xcalloc(1, sizeof(*v));
	struct spf_query q;
	size_t i, bad = 0;

	(void)snprintf(from, sizeof(from), "postmaster@%s", domain);
	for (i = 0; i < d->nhost_addrs; i++) {
		memset(&q, 0, sizeof(q));
		q.ip = d->host_addrs[i];
		q.helo = d->conf->hostname;
		q.mailfrom = from;
		q.receiver = d->conf->hostname;
		spf_check_host(&d->dns, &q, domain, v);
		passed[i] = v->result == SPF_PASS;
		if (!passed[i] && bad++ == 0) {
			doctor_addr_str((const void *)&q.ip, a, sizeof(a));
			(void)str_printable(reason, sizeof(reason), v->reason);
		}
	}
	free(v);
	if (d->nhost_addrs == 0) {
		spf_terms(d, passed, add, sizeof(add));
		spf_fix(domain, record, add, fix, sizeof(fix));
		doctor_add(d, DOCTOR_WARN, "spf", domain, fix,
		    "the record parses, but hostname %s has no address to "
		    "check it with",
		    d->conf->hostname);
		return;
	}
	if (bad == 0) {
		doctor_add(d, DOCTOR_OK, "spf", domain, NULL,
		    "the record passes this host's address%s",
		    d->nhost_addrs > 1 ? "es" : "");
		return;
	}
	spf_terms(d, passed, add, sizeof(add));
	spf_fix(domain, record, add, fix, sizeof(fix));
	doctor_add(d, DOCTOR_FAIL, "spf", domain, fix,
	    "mail from %s sent by this host (%s) does not pass SPF: %s", domain,
	    a, reason);
}

void
doctor_spf(struct doctor *d, const char *domain)
{
	char add[1024], fix[TXT_FIX_MAX], safe[QUOTE_MAX];
	const char *record = NULL, *why_parse = NULL;
	bool passed[DOCTOR_ADDRS_MAX] = { false };
	struct spf_record *rec;
	struct dns_rrset rr;
	enum dns_status st;
	struct why why;
	size_t i, nspf = 0;

	st = doctor_lookup(d, domain, DNS_T_TXT, &rr, &why);
	if (st == DNS_TEMP) {
		doctor_dns_failed(d, "spf", domain, domain, &why);
		return;
	}
	for (i = 0; st == DNS_OK && i < rr.n; i++)
		if (spf_is_record((const char *)rr.data[i], rr.len[i])) {
			record = (const char *)rr.data[i];
			nspf++;
		}
	spf_terms(d, passed, add, sizeof(add));
	if (nspf == 0) {
		spf_fix(domain, NULL, add, fix, sizeof(fix));
		doctor_add(d, DOCTOR_FAIL, "spf", domain, fix,
		    "no SPF record: receivers cannot tell this host may send "
		    "for %s",
		    domain);
	} else if (nspf > 1) {
		spf_fix(domain, NULL, add, fix, sizeof(fix));
		doctor_add(d, DOCTOR_FAIL, "spf", domain, fix,
		    "%zu SPF records: RFC 7208 4.5 makes that a permerror; "
		    "keep one",
		    nspf);
	} else {
		rec = xcalloc(1, sizeof(*rec));
		if (!spf_record_parse(record, strlen(record), rec,
		        &why_parse)) {
			spf_fix(domain, NULL, add, fix, sizeof(fix));
			doctor_add(d, DOCTOR_FAIL, "spf", domain, fix,
			    "the record \"%s\" does not parse: %s",
			    str_printable(safe, sizeof(safe), record),
			    why_parse);
		} else
			spf_eval(d, domain, record);
		free(rec);
	}
	dns_rrset_free(&rr);
}

/* ---- DKIM ------------------------------------------------------------ */

/* Does one record of rr publish ours (same algorithm, same p=)? */
static bool
dkim_published(const struct dns_rrset *rr, const struct dkim_key *ours,
    const char **why_out, bool *other_key)
{
	struct dkim_key *k = xcalloc(1, sizeof(*k));
	bool found = false;
	size_t i;

	*other_key = false;
	*why_out = NULL;
	for (i = 0; i < rr->n && !found; i++) {
		if (dkim_key_parse((const char *)rr->data[i], rr->len[i], k,
		        why_out) == -1)
			continue;
		if (k->alg == ours->alg && !k->revoked &&
		    k->p_len == ours->p_len &&
		    memcmp(k->p, ours->p, k->p_len) == 0)
			found = true;
		else
			*other_key = true;
	}
	free(k);
	return found;
}

static void
dkim_one(struct doctor *d, const char *domain, const struct dkim_sign_key *key)
{
	char name[DNS_NAME_MAX + 64], fix[TXT_FIX_MAX];
	struct dkim_key *ours = xcalloc(1, sizeof(*ours));
	const char *why_parse = NULL;
	struct dns_rrset rr = { 0 };
	enum dns_status st;
	struct why why;
	bool other = false;
	struct buf v;

	buf_init(&v, TXT_FIX_MAX);
	(void)snprintf(name, sizeof(name), "%s._domainkey.%s", key->selector,
	    domain);
	if (dkimkeys_txt_value(key->pkey, key->alg, &v) == -1 ||
	    dkim_key_parse((const char *)v.data, v.len, ours, &why_parse) ==
	        -1) {
		doctor_add(d, DOCTOR_FAIL, "dkim", name, NULL,
		    "cannot read the public half of the key in %s/%s/%s/%s.key",
		    d->conf->data_dir, DKIMKEYS_DIR, domain, key->selector);
		goto out;
	}
	doctor_txt_fix(name, (const char *)v.data, fix, sizeof(fix));
	st = doctor_lookup(d, name, DNS_T_TXT, &rr, &why);
	if (st == DNS_TEMP)
		doctor_dns_failed(d, "dkim", name, name, &why);
	else if (st != DNS_OK)
		doctor_add(d, DOCTOR_FAIL, "dkim", name, fix,
		    "the key is not published: receivers cannot check the "
		    "signatures it makes");
	else if (dkim_published(&rr, ours, &why_parse, &other))
		doctor_add(d, DOCTOR_OK, "dkim", name, NULL,
		    "the published key matches %s/%s/%s/%s.key",
		    d->conf->data_dir, DKIMKEYS_DIR, domain, key->selector);
	else if (other)
		doctor_add(d, DOCTOR_FAIL, "dkim", name, fix,
		    "the published key is not the one in %s/%s/%s/%s.key: "
		    "every signature fails",
		    d->conf->data_dir, DKIMKEYS_DIR, domain, key->selector);
	else
		doctor_add(d, DOCTOR_FAIL, "dkim", name, fix,
		    "the published record does not parse: %s",
		    why_parse != NULL ? why_parse : "no key record");
out:
	dns_rrset_free(&rr);
	buf_reset(&v);
	free(ours);
}

void
doctor_dkim(struct doctor *d, const char *domain)
{
	struct dkimkeys ks;
	char fix[FIX_MAX];
	struct why why;
	size_t i;

	if (dkimkeys_load(d->conf->data_dir, domain,
	        conf_dkim_selectors(d->conf, domain), &ks, &why) == -1) {
		if (why.sys_errno == EACCES && geteuid() != 0)
			doctor_add(d, DOCTOR_WARN, "dkim", domain,
			    "run tern doctor as root or as the server's user",
			    "cannot read the keys: %s", why.text);
		else
			doctor_add(d, DOCTOR_FAIL, "dkim", domain, NULL, "%s",
			    why.text);
		return;
	}
	if (ks.n == 0) {
		(void)snprintf(fix, sizeof(fix),
		    "tern dkim keygen %s, then publish the TXT record it "
		    "prints",
		    domain);
		doctor_add(d, DOCTOR_FAIL, "dkim", domain, fix,
		    "no DKIM key: mail from %s goes out unsigned, and DMARC "
		    "rests on SPF alone",
		    domain);
	}
	for (i = 0; i < ks.n; i++)
		dkim_one(d, domain, &ks.key[i]);
	dkimkeys_free(&ks);
}

/* ---- DMARC ----------------------------------------------------------- */

/*
 * The v=DMARC1 records at name: 0 none (or NXDOMAIN), else the count,
 * with the first valid one in *out, or *why_out when none is valid.
 * -1 on a DNS failure (reported).
 */
static int
dmarc_at(struct doctor *d, const char *subject, const char *name,
    struct dmarc_record *out, bool *valid, const char **why_out)
{
	struct dmarc_record r;
	enum dmarc_record_status rs;
	struct dns_rrset rr;
	enum dns_status st;
	struct why why;
	const char *w;
	size_t i;
	int n = 0;

	*valid = false;
	st = doctor_lookup(d, name, DNS_T_TXT, &rr, &why);
	if (st == DNS_TEMP) {
		doctor_dns_failed(d, "dmarc", subject, name, &why);
		return -1;
	}
	for (i = 0; st == DNS_OK && i < rr.n; i++) {
		rs = dmarc_record_parse((const char *)rr.data[i], rr.len[i], &r,
		    &w);
		if (rs == DMARC_RECORD_NOT_DMARC)
			continue;
		n++;
		if (rs == DMARC_RECORD_OK && !*valid) {
			*out = r;
			*valid = true;
		} else if (rs != DMARC_RECORD_OK)
			*why_out = w;
	}
	dns_rrset_free(&rr);
	return n;
}

void
doctor_dmarc(struct doctor *d, const char *domain)
{
	char name[DNS_NAME_MAX + 8], org[DMARC_DOMAIN_MAX], value[512];
	char fix[FIX_MAX];
	const char *why_parse = "not a DMARC record", *at = domain;
	struct dmarc_record r;
	enum dmarc_policy p;
	bool valid;
	int n;

	(void)snprintf(value, sizeof(value),
	    "v=DMARC1; p=quarantine; rua=mailto:postmaster@%s", domain);
	(void)snprintf(name, sizeof(name), "_dmarc.%s", domain);
	doctor_txt_fix(name, value, fix, sizeof(fix));
	if ((n = dmarc_at(d, domain, name, &r, &valid, &why_parse)) == -1)
		return;
	/* RFC 7489 6.6.3: without one, the organizational domain's. */
	if (n == 0 && dmarc_org_domain(domain, org) &&
	    strcmp(org, domain) != 0) {
		at = org;
		(void)snprintf(name, sizeof(name), "_dmarc.%s", org);
		if ((n = dmarc_at(d, domain, name, &r, &valid, &why_parse)) ==
		    -1)
			return;
	}
	if (n == 0) {
		doctor_add(d, DOCTOR_FAIL, "dmarc", domain, fix,
		    "no DMARC record: anyone may put %s in From, and "
		    "receivers like Gmail and Yahoo ask bulk senders for one",
		    domain);
		return;
	}
	if (n > 1 || !valid) {
		if (n > 1)
			doctor_add(d, DOCTOR_FAIL, "dmarc", domain, fix,
			    "%d DMARC records at _dmarc.%s: receivers ignore "
			    "them all; keep one",
			    n, at);
		else
			doctor_add(d, DOCTOR_FAIL, "dmarc", domain, fix,
			    "the record at _dmarc.%s does not parse: %s", at,
			    why_parse);
		return;
	}
	p = at == domain ? r.p : r.sp;
	/* Keep the report address they chose, if it quotes safely. */
	if (p == DMARC_POLICY_NONE && r.rua[0] != '\0' &&
	    strcspn(r.rua, "\";\\") == strlen(r.rua) && ascii_only(r.rua) &&
	    str_is_clean(r.rua, strlen(r.rua))) {
		(void)snprintf(value, sizeof(value),
		    "v=DMARC1; p=quarantine; rua=%s", r.rua);
		(void)snprintf(name, sizeof(name), "_dmarc.%s", at);
		doctor_txt_fix(name, value, fix, sizeof(fix));
	}
	if (p == DMARC_POLICY_NONE)
		doctor_add(d, DOCTOR_WARN, "dmarc", domain, fix,
		    "p=none%s: receivers report failures but deliver them "
		    "anyway; once the reports (rua=) show your own mail "
		    "passing, ask for quarantine",
		    r.p_from_rua ? " (the policy did not parse)" : "");
	else
		doctor_add(d, DOCTOR_OK, "dmarc", domain, NULL, "p=%s%s%s",
		    dmarc_policy_name(p), at == domain ? "" : ", from _dmarc.",
		    at == domain ? "" : at);
}
