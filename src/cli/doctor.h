/* SPDX-License-Identifier: ISC */
/*
 * cli/doctor.h - `tern doctor [DOMAIN]` (issue 17), its own files'
 * contract: the report the checks fill, and the checks.
 *
 * doctor.c runs the command and prints the report; doctor_dns.c holds
 * the DNS helpers and the checks of where mail goes (FCrDNS, MX,
 * MTA-STS), doctor_auth.c those of SPF, DKIM and DMARC, doctor_host.c
 * the ones that look at this machine (the certificate, data_dir),
 * doctor_relay.c the open-relay self-test; doctor_text.h the pure text
 * helpers they share. Nothing here changes anything: no file is made,
 * no mail is queued.
 * Trust: run by the operator (often root). DNS answers and the server's
 * replies are hostile: every text taken from them is made printable
 * (str_printable) before it reaches a finding, and JSON output escapes
 * it again (util/json.h).
 */
#ifndef TERN_CLI_DOCTOR_H
#define TERN_CLI_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "auth/authdns.h"
#include "conf/conf.h"

#define DOCTOR_ADDRS_MAX 32 /* addresses of this host we compare with */
#define DOCTOR_MXNAMES_MAX 32
#define DOCTOR_DNS_TIMEOUT 10 /* seconds per lookup, default */
#define FIX_MAX 2048          /* a fix line, most of them */
#define TXT_FIX_MAX 16384     /* a TXT fix: an RSA 8192 key, quoted */

enum doctor_level {
	DOCTOR_OK = 0,
	DOCTOR_NOTE, /* worth knowing, nothing to fix */
	DOCTOR_WARN, /* fix it, but mail flows */
	DOCTOR_FAIL, /* mail is lost, refused or spoofable: exit 1 */
};

struct doctor_finding {
	enum doctor_level level;
	char check[16];    /* "mx", "spf", ... */
	char subject[256]; /* a domain, an address, a listener, a path */
	char *text;        /* one line, printable ASCII */
	char *fix;         /* the exact record or command, or NULL */
};

/* What the checks share: the settings, DNS, and what was learnt. */
struct doctor {
	const struct conf *conf;
	struct authdns dns;
	/* This host's addresses: the listeners' and the interfaces'. */
	struct sockaddr_storage local[DOCTOR_ADDRS_MAX];
	size_t nlocal;
	/* hostname's A and AAAA, as DNS has them (doctor_fcrdns()). */
	struct sockaddr_storage host_addrs[DOCTOR_ADDRS_MAX];
	size_t nhost_addrs;
	/* MX names of the checked domains that point here: the cert must
	 * name them too. */
	char *mx_names[DOCTOR_MXNAMES_MAX];
	size_t nmx_names;
	struct doctor_finding *f;
	size_t n, cap;
};

/*
 * Add a finding; fix (may be NULL) and the formatted text are copied.
 * The text is made one printable line.
 */
void doctor_add(struct doctor *, enum doctor_level, const char *check,
    const char *subject, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Is sa one of this host's addresses (d->local, d->host_addrs)? */
bool doctor_is_local(const struct doctor *, const struct sockaddr *sa);

/* "192.0.2.1" or "2001:db8::1" into out (INET6_ADDRSTRLEN fits). */
void doctor_addr_str(const struct sockaddr *sa, char *out, size_t outsz);

/* ---- doctor_dns.c: DNS, blocking for at most the resolver's timeout ---- */

/* One lookup through d->dns (authdns.h): *out zeroed first. */
enum dns_status doctor_lookup(struct doctor *, const char *name, int type,
    struct dns_rrset *out, struct why *);
/* A FAIL for a lookup of name that failed (DNS_TEMP). */
void doctor_dns_failed(struct doctor *, const char *check, const char *subject,
    const char *name, const struct why *);
/* "name. IN TXT \"...\" ..." (255-byte strings) into out. */
void doctor_txt_fix(const char *name, const char *value, char *out,
    size_t outsz);
/* A then AAAA records of host, at most max, into out[]; *n_out. DNS_OK
 * when there is one, else the worst status seen. */
enum dns_status doctor_resolve(struct doctor *, const char *host,
    struct sockaddr_storage *out, size_t max, size_t *n_out, struct why *);

/* hostname's A/AAAA (into d->host_addrs) and each one's PTR. */
void doctor_fcrdns(struct doctor *);
/* The MX records of domain; the names pointing here go to d->mx_names. */
void doctor_mx(struct doctor *, const char *domain);
void doctor_mta_sts(struct doctor *, const char *domain);

/* ---- doctor_auth.c ---- */

/* The SPF record and whether it passes hostname's addresses. */
void doctor_spf(struct doctor *, const char *domain);
/* Each signing key of domain against its published TXT. */
void doctor_dkim(struct doctor *, const char *domain);
void doctor_dmarc(struct doctor *, const char *domain);

/* ---- doctor_host.c, doctor_relay.c ---- */

/* [tls] cert (or data_dir's self-signed one): names, dates, issuer. */
void doctor_cert(struct doctor *);
/* data_dir and what tern keeps in it: owners, modes, no links. */
void doctor_data_dir(struct doctor *);
/* relay_networks, then the loopback self-test on each mx listener. */
void doctor_relay(struct doctor *, unsigned timeout_secs);

#endif
