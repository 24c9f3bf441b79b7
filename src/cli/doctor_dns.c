/* SPDX-License-Identifier: ISC */
/*
 * cli/doctor_dns.c - the checks of `tern doctor` that ask DNS, through
 * the configured resolver (struct authdns on dns_server): MX, FCrDNS of
 * hostname, SPF, DKIM, DMARC and MTA-STS. Each adds its findings to the
 * report (doctor.h); none of them sends mail or fetches anything but
 * DNS records (MTA-STS: the TXT record only, never the HTTPS policy).
 * Trust: every answer is hostile; records are parsed by the auth/
 * parsers, names by spf_dname_parse(), and any text quoted from them is
 * made printable before it is reported.
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
#define FIX_MAX 2048
#define TXT_FIX_MAX 16384 /* an RSA 8192 key record, quoted */

static enum dns_status
lookup(struct doctor *d, const char *name, int type, struct dns_rrset *out,
    struct why *why)
{
	memset(out, 0, sizeof(*out));
	why_clear(why);
	return d->dns.lookup(d->dns.arg, name, type, out, why);
}

static void
dns_failed(struct doctor *d, const char *check, const char *subject,
    const char *name, const struct why *why)
{
	char fix[FIX_MAX];

	(void)snprintf(fix, sizeof(fix),
	    "make sure the name servers of %s answer (dig %s), and that "
	    "dns_server reaches them; then run tern doctor again",
	    name, name);
	doctor_add(d, DOCTOR_FAIL, check, subject, fix,
	    "DNS lookup of %s failed: %s", name, why->text);
}

/* The printable start of a published record, for a message. */
static const char *
quote(const char *s, char *buf, size_t bufsz)
{
	return str_printable(buf, bufsz, s);
}

/* name. IN TXT "value" with the value cut into 255-byte strings. */
static void
txt_fix(const char *name, const char *value, char *out, size_t outsz)
{
	struct buf q;

	buf_init(&q, TXT_FIX_MAX);
	if (dkimkeys_txt_quoted(value, &q) == 0 && q.data != NULL)
		(void)snprintf(out, outsz, "%s. IN TXT %s", name,
		    (const char *)q.data);
	else
		(void)snprintf(out, outsz, "%s. IN TXT \"%s\"", name, value);
	buf_reset(&q);
}

/* A and AAAA records of host into out[], at most max; *n_out. */
static enum dns_status
resolve(struct doctor *d, const char *host, struct sockaddr_storage *out,
    size_t max, size_t *n_out, struct why *why)
{
	static const int types[2] = { DNS_T_A, DNS_T_AAAA };
	enum dns_status st, ret = DNS_NODATA;
	struct dns_rrset rr;
	struct sockaddr_in *s4;
	struct sockaddr_in6 *s6;
	size_t i, t;

	*n_out = 0;
	for (t = 0; t < 2; t++) {
		st = lookup(d, host, types[t], &rr, why);
		if (st == DNS_TEMP)
			ret = DNS_TEMP;
		else if (st == DNS_NXDOMAIN && ret != DNS_TEMP)
			ret = DNS_NXDOMAIN;
		for (i = 0; st == DNS_OK && i < rr.n && *n_out < max; i++) {
			memset(&out[*n_out], 0, sizeof(out[0]));
			if (types[t] == DNS_T_A && rr.len[i] == 4) {
				s4 = (void *)&out[(*n_out)++];
				s4->sin_family = AF_INET;
				memcpy(&s4->sin_addr, rr.data[i], 4);
			} else if (types[t] == DNS_T_AAAA && rr.len[i] == 16) {
				s6 = (void *)&out[(*n_out)++];
				s6->sin6_family = AF_INET6;
				memcpy(&s6->sin6_addr, rr.data[i], 16);
			}
		}
		dns_rrset_free(&rr);
	}
	return *n_out > 0 ? DNS_OK : ret;
}

/* ---- FCrDNS ---------------------------------------------------------- */

/* A public address of this machine to suggest, or a placeholder. */
static void
suggest_addr(const struct doctor *d, char *out, size_t outsz, int *type)
{
	const struct sockaddr_storage *ss;
	const struct sockaddr_in *s4;
	const struct sockaddr_in6 *s6;
	size_t i;

	for (i = 0; i < d->nlocal; i++) {
		ss = &d->local[i];
		s4 = (const void *)ss;
		s6 = (const void *)ss;
		if (ss->ss_family == AF_INET &&
		    (ntohl(s4->sin_addr.s_addr) >> 24) != 127 &&
		    s4->sin_addr.s_addr != INADDR_ANY) {
			*type = DNS_T_A;
			doctor_addr_str((const void *)ss, out, outsz);
			return;
		}
		if (ss->ss_family == AF_INET6 &&
		    !IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) &&
		    !IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr) &&
		    !IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr)) {
			*type = DNS_T_AAAA;
			doctor_addr_str((const void *)ss, out, outsz);
			return;
		}
	}
	*type = DNS_T_A;
	(void)strlcpy(out, "<this server's public IPv4 address>", outsz);
}

/* Does one PTR of rr name hostname? The names seen go into seen. */
static bool
ptr_names_host(const struct dns_rrset *rr, const char *host, char *seen,
    size_t seensz)
{
	char name[DNS_NAME_MAX];
	bool found = false;
	size_t i;

	seen[0] = '\0';
	for (i = 0; i < rr->n; i++) {
		if (!spf_dname_parse(rr->data[i], rr->len[i], name,
		        sizeof(name)))
			continue;
		if (ascii_casecmp(name, host) == 0)
			found = true;
		if (seen[0] != '\0')
			(void)strlcat(seen, ", ", seensz);
		(void)strlcat(seen, name, seensz);
	}
	return found;
}

static void
check_ptr(struct doctor *d, const struct sockaddr *sa)
{
	const char *host = d->conf->hostname;
	char addr[INET6_ADDRSTRLEN], rev[DOCTOR_PTR_NAME_MAX];
	char seen[512], safe[512], fix[FIX_MAX];
	struct dns_rrset rr;
	enum dns_status st;
	struct why why;

	doctor_addr_str(sa, addr, sizeof(addr));
	if (!doctor_reverse_name(sa, rev, sizeof(rev)))
		return;
	(void)snprintf(fix, sizeof(fix),
	    "ask whoever gives you %s (your hosting provider) to set its "
	    "reverse DNS to %s: %s. IN PTR %s.",
	    addr, host, rev, host);
	st = lookup(d, rev, DNS_T_PTR, &rr, &why);
	if (st == DNS_TEMP) {
		dns_failed(d, "fcrdns", addr, rev, &why);
		return;
	}
	if (st != DNS_OK) {
		doctor_add(d, DOCTOR_FAIL, "fcrdns", addr, fix,
		    "%s has no PTR record: many receivers refuse or junk mail "
		    "from it",
		    addr);
		return;
	}
	if (ptr_names_host(&rr, host, seen, sizeof(seen)))
		doctor_add(d, DOCTOR_OK, "fcrdns", addr, NULL,
		    "PTR %s, which resolves back to %s", host, addr);
	else
		doctor_add(d, DOCTOR_FAIL, "fcrdns", addr, fix,
		    "PTR is %s, not hostname %s: receivers that check "
		    "forward-confirmed reverse DNS refuse or junk the mail",
		    quote(seen, safe, sizeof(safe)), host);
	dns_rrset_free(&rr);
}

void
doctor_fcrdns(struct doctor *d)
{
	const char *host = d->conf->hostname;
	char addr[INET6_ADDRSTRLEN + 40], fix[FIX_MAX];
	enum dns_status st;
	struct why why;
	size_t i;
	int type;

	st = resolve(d, host, d->host_addrs, DOCTOR_ADDRS_MAX, &d->nhost_addrs,
	    &why);
	if (st == DNS_TEMP) {
		dns_failed(d, "fcrdns", host, host, &why);
		return;
	}
	if (st != DNS_OK) {
		suggest_addr(d, addr, sizeof(addr), &type);
		(void)snprintf(fix, sizeof(fix), "%s. IN %s %s", host,
		    type == DNS_T_A ? "A" : "AAAA", addr);
		doctor_add(d, DOCTOR_FAIL, "fcrdns", host, fix,
		    "hostname %s has no A or AAAA record: it is the name this "
		    "server gives in HELO, and receivers look it up",
		    host);
		return;
	}
	for (i = 0; i < d->nhost_addrs; i++)
		check_ptr(d, (const struct sockaddr *)&d->host_addrs[i]);
}

/* ---- MX -------------------------------------------------------------- */

static void
remember_mx(struct doctor *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->nmx_names; i++)
		if (strcmp(d->mx_names[i], name) == 0)
			return;
	if (d->nmx_names < DOCTOR_MXNAMES_MAX)
		d->mx_names[d->nmx_names++] = xstrdup(name);
}

/* Is MX host `mx` this host: hostname, or one of our addresses? */
static bool
mx_is_here(struct doctor *d, const char *mx, bool *by_addr)
{
	struct sockaddr_storage a[DNS_ADDRS_MAX];
	struct why why;
	size_t i, n;

	*by_addr = false;
	if (ascii_casecmp(mx, d->conf->hostname) == 0)
		return true;
	if (resolve(d, mx, a, DNS_ADDRS_MAX, &n, &why) != DNS_OK)
		return false;
	for (i = 0; i < n; i++)
		if (doctor_is_local(d, (const struct sockaddr *)&a[i]))
			*by_addr = true;
	return *by_addr;
}

void
doctor_mx(struct doctor *d, const char *domain)
{
	char fix[FIX_MAX], list[512], safe[512];
	struct dns_mx mx;
	struct dns_rrset rr;
	enum dns_status st;
	struct why why;
	bool here = false, by_addr = false, null_mx = false;
	size_t i;

	(void)snprintf(fix, sizeof(fix), "%s. IN MX 10 %s.", domain,
	    d->conf->hostname);
	st = lookup(d, domain, DNS_T_MX, &rr, &why);
	if (st == DNS_TEMP) {
		dns_failed(d, "mx", domain, domain, &why);
		return;
	}
	if (st != DNS_OK) {
		doctor_add(d, DOCTOR_FAIL, "mx", domain, fix, "%s",
		    st == DNS_NXDOMAIN
		        ? "the domain does not exist in DNS"
		        : "no MX record: senders fall back to the domain's "
		          "own address, or give up");
		return;
	}
	list[0] = '\0';
	for (i = 0; i < rr.n; i++) {
		if (!dns_mx_rdata_parse(rr.data[i], rr.len[i], &mx))
			continue;
		if (mx.host[0] == '\0') {
			null_mx = true;
			continue;
		}
		if (list[0] != '\0')
			(void)strlcat(list, ", ", sizeof(list));
		(void)strlcat(list, mx.host, sizeof(list));
		if (mx_is_here(d, mx.host, &by_addr)) {
			here = true;
			remember_mx(d, mx.host);
		}
	}
	dns_rrset_free(&rr);
	if (null_mx)
		doctor_add(d, DOCTOR_FAIL, "mx", domain, fix,
		    "a null MX (RFC 7505) says the domain takes no mail; "
		    "replace it");
	else if (here)
		doctor_add(d, DOCTOR_OK, "mx", domain, NULL,
		    "MX %s reaches this host%s",
		    quote(list, safe, sizeof(safe)),
		    by_addr ? " (by address)" : "");
	else
		doctor_add(d, DOCTOR_FAIL, "mx", domain, fix,
		    "MX %s: none is this host (%s or its addresses); mail for "
		    "%s goes elsewhere",
		    list[0] != '\0' ? quote(list, safe, sizeof(safe))
		                    : "(unreadable)",
		    d->conf->hostname, domain);
}

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
	txt_fix(domain, rec, fix, fixsz);
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

	st = lookup(d, domain, DNS_T_TXT, &rr, &why);
	if (st == DNS_TEMP) {
		dns_failed(d, "spf", domain, domain, &why);
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
			    quote(record, safe, sizeof(safe)), why_parse);
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
	txt_fix(name, (const char *)v.data, fix, sizeof(fix));
	st = lookup(d, name, DNS_T_TXT, &rr, &why);
	if (st == DNS_TEMP)
		dns_failed(d, "dkim", name, name, &why);
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
	st = lookup(d, name, DNS_T_TXT, &rr, &why);
	if (st == DNS_TEMP) {
		dns_failed(d, "dmarc", subject, name, &why);
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
	txt_fix(name, value, fix, sizeof(fix));
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

/* ---- MTA-STS --------------------------------------------------------- */

void
doctor_mta_sts(struct doctor *d, const char *domain)
{
	char name[DNS_NAME_MAX + 16], fix[FIX_MAX];
	struct dns_rrset rr;
	enum dns_status st;
	struct why why;
	bool found = false, broken = false;
	size_t i;

	(void)snprintf(name, sizeof(name), "_mta-sts.%s", domain);
	(void)snprintf(fix, sizeof(fix),
	    "optional (RFC 8461): serve a policy at "
	    "https://mta-sts.%s/.well-known/mta-sts.txt, then publish "
	    "%s. IN TXT \"v=STSv1; id=YYYYMMDD01\"",
	    domain, name);
	st = lookup(d, name, DNS_T_TXT, &rr, &why);
	if (st == DNS_TEMP) {
		dns_failed(d, "mta-sts", domain, name, &why);
		return;
	}
	for (i = 0; st == DNS_OK && i < rr.n; i++) {
		if (doctor_sts_is_record((const char *)rr.data[i], rr.len[i]))
			found = true;
		else if (rr.len[i] >= 5 && memcmp(rr.data[i], "v=STS", 5) == 0)
			broken = true;
	}
	dns_rrset_free(&rr);
	if (found)
		doctor_add(d, DOCTOR_OK, "mta-sts", domain, NULL,
		    "%s is published (the policy itself is not fetched)", name);
	else if (broken)
		doctor_add(d, DOCTOR_WARN, "mta-sts", domain, fix,
		    "the record at %s does not parse (it needs v=STSv1 and "
		    "an id= of 1 to 32 letters or digits)",
		    name);
	else
		doctor_add(d, DOCTOR_NOTE, "mta-sts", domain, fix,
		    "no MTA-STS record: senders fall back to plain text if "
		    "someone strips STARTTLS");
}
