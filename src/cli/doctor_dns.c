/* SPDX-License-Identifier: ISC */
/*
 * cli/doctor_dns.c - the DNS helpers of `tern doctor` (doctor.h), and
 * its checks of where mail goes: FCrDNS of hostname, MX, MTA-STS. DNS
 * goes through the configured resolver (struct authdns on dns_server).
 * Nothing is fetched but DNS records (MTA-STS: the TXT record only,
 * never the HTTPS policy).
 * Trust: every answer is hostile; records are parsed by the auth/
 * parsers, names by spf_dname_parse(), and any text quoted from them is
 * made printable before it is reported.
 */
#include "cli/doctor.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "auth/dkimkeys.h"
#include "auth/spf.h"
#include "cli/doctor_text.h"
#include "util/buf.h"
#include "util/str.h"
#include "util/xmalloc.h"

enum dns_status
doctor_lookup(struct doctor *d, const char *name, int type,
    struct dns_rrset *out, struct why *why)
{
	memset(out, 0, sizeof(*out));
	why_clear(why);
	return d->dns.lookup(d->dns.arg, name, type, out, why);
}

void
doctor_dns_failed(struct doctor *d, const char *check, const char *subject,
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

/* name. IN TXT "value" with the value cut into 255-byte strings. */
void
doctor_txt_fix(const char *name, const char *value, char *out, size_t outsz)
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
enum dns_status
doctor_resolve(struct doctor *d, const char *host, struct sockaddr_storage *out,
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
		st = doctor_lookup(d, host, types[t], &rr, why);
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
	st = doctor_lookup(d, rev, DNS_T_PTR, &rr, &why);
	if (st == DNS_TEMP) {
		doctor_dns_failed(d, "fcrdns", addr, rev, &why);
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
		    str_printable(safe, sizeof(safe), seen), host);
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

	st = doctor_resolve(d, host, d->host_addrs, DOCTOR_ADDRS_MAX,
	    &d->nhost_addrs, &why);
	if (st == DNS_TEMP) {
		doctor_dns_failed(d, "fcrdns", host, host, &why);
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
	if (doctor_resolve(d, mx, a, DNS_ADDRS_MAX, &n, &why) != DNS_OK)
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
	st = doctor_lookup(d, domain, DNS_T_MX, &rr, &why);
	if (st == DNS_TEMP) {
		doctor_dns_failed(d, "mx", domain, domain, &why);
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
		    str_printable(safe, sizeof(safe), list),
		    by_addr ? " (by address)" : "");
	else
		doctor_add(d, DOCTOR_FAIL, "mx", domain, fix,
		    "MX %s: none is this host (%s or its addresses); mail for "
		    "%s goes elsewhere",
		    list[0] != '\0' ? str_printable(safe, sizeof(safe), list)
		                    : "(unreadable)",
		    d->conf->hostname, domain);
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
	st = doctor_lookup(d, name, DNS_T_TXT, &rr, &why);
	if (st == DNS_TEMP) {
		doctor_dns_failed(d, "mta-sts", domain, name, &why);
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
