/* SPDX-License-Identifier: ISC */
/*
 * cli/doctor.c - `tern doctor [DOMAIN] [--json] [--timeout SECS]`
 * (issue 17): what a new operator gets wrong, each finding with the
 * exact fix. The checks are in doctor_dns.c and doctor_host.c; this
 * file runs them, in order, and prints the report:
 *
 *   ok    mx example.org: MX 10 mx.example.org is this host
 *   FAIL  spf example.org: no SPF record
 *         fix: example.org. IN TXT "v=spf1 ip4:192.0.2.1 -all"
 *
 * one line per check, `ok`, `note`, `warn` or `FAIL`, and under a note,
 * warn or FAIL that has one an indented "fix:" line; then a summary.
 * --json prints one object instead (docs/observability.md). Exit 0 when
 * nothing failed (warnings do not fail), 1 when something did, 64 usage,
 * 69 the resolver cannot be set up; main.c exits 78 when the
 * configuration does not load.
 * Trust: see doctor.h.
 */
#include "cli/cli.h"
#include "cli/doctor.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "auth/dkimkeys.h"
#include "dns/dns.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define DOCTOR_TEXT_MAX 1024
#define DOCTOR_TIMEOUT_MAX 120
#define DOCTOR_JSON_MAX (4 * 1024 * 1024)

void
cli_doctor_usage(FILE *f)
{
	fputs("usage: tern [-c FILE] doctor [DOMAIN] [--json] "
	      "[--timeout SECS]\n"
	      "Check what mail from and to DOMAIN (default: every domain in "
	      "`domains`)\n"
	      "needs outside tern: MX, forward-confirmed reverse DNS of "
	      "hostname, the\n"
	      "certificate, SPF, DKIM, DMARC and MTA-STS records (asking "
	      "dns_server), an\n"
	      "open-relay test against the running server over loopback, "
	      "and data_dir's\n"
	      "owners and modes. One line per check: ok, note, warn or "
	      "FAIL, with a\n"
	      "\"fix:\" line holding the record to publish or the command "
	      "to run. --json:\n"
	      "one JSON object. --timeout bounds each DNS lookup and SMTP "
	      "reply (default\n"
	      "10 s). Exit 0 when nothing failed, 1 when something did, 69 "
	      "when no\n"
	      "resolver can be set up, 78 when the configuration does not "
	      "load.\n",
	    f);
}

/* ---- the report ---------------------------------------------------- */

/* Control characters and bytes past ASCII become '?': one line. */
static char *
one_line(const char *s)
{
	char *out = xstrdup(s);
	size_t i;

	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 ||
		    (unsigned char)out[i] > 0x7e)
			out[i] = '?';
	return out;
}

void
doctor_add(struct doctor *d, enum doctor_level lv, const char *check,
    const char *subject, const char *fix, const char *fmt, ...)
{
	struct doctor_finding *f;
	char text[DOCTOR_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 32;
		d->f = xrealloc(d->f, d->cap * sizeof(*d->f));
	}
	f = &d->f[d->n++];
	memset(f, 0, sizeof(*f));
	f->level = lv;
	(void)strlcpy(f->check, check, sizeof(f->check));
	(void)str_printable(f->subject, sizeof(f->subject),
	    subject != NULL ? subject : "");
	f->text = one_line(text);
	f->fix = fix != NULL ? one_line(fix) : NULL;
}

static const char *
level_word(enum doctor_level lv)
{
	switch (lv) {
	case DOCTOR_OK:
		return "ok";
	case DOCTOR_NOTE:
		return "note";
	case DOCTOR_WARN:
		return "warn";
	case DOCTOR_FAIL:
		return "FAIL";
	}
	return "?";
}

static void
count(const struct doctor *d, size_t *fails, size_t *warns)
{
	size_t i;

	*fails = *warns = 0;
	for (i = 0; i < d->n; i++) {
		if (d->f[i].level == DOCTOR_FAIL)
			(*fails)++;
		else if (d->f[i].level == DOCTOR_WARN)
			(*warns)++;
	}
}

static void
print_text(const struct doctor *d)
{
	const struct doctor_finding *f;
	size_t i, fails, warns;

	for (i = 0; i < d->n; i++) {
		f = &d->f[i];
		printf("%-5s %s%s%s: %s\n", level_word(f->level), f->check,
		    f->subject[0] != '\0' ? " " : "", f->subject, f->text);
		if (f->fix != NULL && f->level != DOCTOR_OK)
			printf("      fix: %s\n", f->fix);
	}
	count(d, &fails, &warns);
	printf("%zu check%s: %zu failed, %zu warning%s\n", d->n,
	    d->n == 1 ? "" : "s", fails, warns, warns == 1 ? "" : "s");
}

static int
print_json(const struct doctor *d)
{
	const struct doctor_finding *f;
	size_t i, fails, warns;
	struct buf b;
	int rc = 0;

	count(d, &fails, &warns);
	buf_init(&b, DOCTOR_JSON_MAX);
	rc |= buf_append_str(&b, "{");
	rc |= json_kv_str(&b, "hostname", d->conf->hostname);
	rc |= json_kv_u64(&b, "failed", fails);
	rc |= json_kv_u64(&b, "warnings", warns);
	rc |= buf_append_str(&b, ",\"results\":[");
	for (i = 0; i < d->n; i++) {
		f = &d->f[i];
		rc |= buf_append_str(&b, i > 0 ? ",{" : "{");
		rc |= json_kv_str(&b, "check", f->check);
		rc |= json_kv_str(&b, "subject", f->subject);
		rc |= json_kv_str(&b, "status", level_word(f->level));
		rc |= json_kv_str(&b, "text", f->text);
		if (f->level != DOCTOR_OK)
			rc |= json_kv_str(&b, "fix", f->fix);
		rc |= buf_append_str(&b, "}");
	}
	rc |= buf_append_str(&b, "]}\n");
	if (rc == 0)
		fputs((const char *)b.data, stdout);
	else
		fprintf(stderr, "tern: doctor: report too large for JSON\n");
	buf_reset(&b);
	return rc == 0 ? 0 : -1;
}

static void
doctor_free(struct doctor *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->f[i].text);
		free(d->f[i].fix);
	}
	for (i = 0; i < d->nmx_names; i++)
		free(d->mx_names[i]);
	free(d->f);
}

/* ---- this host's addresses ------------------------------------------ */

static bool
same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;

	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return memcmp(&a6->sin6_addr, &b6->sin6_addr, 16) == 0;
	return false;
}

bool
doctor_is_local(const struct doctor *d, const struct sockaddr *sa)
{
	size_t i;

	for (i = 0; i < d->nlocal; i++)
		if (same_addr((const struct sockaddr *)&d->local[i], sa))
			return true;
	/* Behind NAT the public address is on no interface: hostname's. */
	for (i = 0; i < d->nhost_addrs; i++)
		if (same_addr((const struct sockaddr *)&d->host_addrs[i], sa))
			return true;
	return false;
}

void
doctor_addr_str(const struct sockaddr *sa, char *out, size_t outsz)
{
	const struct sockaddr_in *s4 = (const void *)sa;
	const struct sockaddr_in6 *s6 = (const void *)sa;
	const void *a = sa->sa_family == AF_INET ? (const void *)&s4->sin_addr
	                                         : (const void *)&s6->sin6_addr;

	if (inet_ntop(sa->sa_family, a, out, (socklen_t)outsz) == NULL)
		(void)strlcpy(out, "?", outsz);
}

static void
add_local(struct doctor *d, const struct sockaddr *sa)
{
	size_t len = sa->sa_family == AF_INET ? sizeof(struct sockaddr_in)
	                                      : sizeof(struct sockaddr_in6);
	size_t i;

	if ((sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
	    d->nlocal == DOCTOR_ADDRS_MAX)
		return;
	for (i = 0; i < d->nlocal; i++)
		if (same_addr((const struct sockaddr *)&d->local[i], sa))
			return;
	memset(&d->local[d->nlocal], 0, sizeof(d->local[0]));
	memcpy(&d->local[d->nlocal++], sa, len);
}

/* The listeners' own addresses, then every interface's. */
static void
find_local(struct doctor *d)
{
	struct ifaddrs *ifa, *i;
	size_t k;

	for (k = 0; k < d->conf->nlisteners; k++)
		add_local(d,
		    (const struct sockaddr *)&d->conf->listeners[k].sa);
	if (getifaddrs(&ifa) == -1)
		return;
	for (i = ifa; i != NULL; i = i->ifa_next)
		if (i->ifa_addr != NULL)
			add_local(d, i->ifa_addr);
	freeifaddrs(ifa);
}

/* ---- the command ---------------------------------------------------- */

static void
check_domain(struct doctor *d, const char *domain)
{
	doctor_mx(d, domain);
	doctor_spf(d, domain);
	doctor_dkim(d, domain);
	doctor_dmarc(d, domain);
	doctor_mta_sts(d, domain);
}

static int
run(struct doctor *d, const char *domain, unsigned timeout, bool json)
{
	size_t i, fails, warns;

	find_local(d);
	doctor_fcrdns(d);
	if (domain != NULL)
		check_domain(d, domain);
	for (i = 0; domain == NULL && i < d->conf->ndomains; i++)
		check_domain(d, d->conf->domains[i]);
	/* After the MX checks: the certificate must name their hosts. */
	doctor_cert(d);
	doctor_relay(d, timeout);
	doctor_data_dir(d);
	if (json) {
		if (print_json(d) == -1)
			return 1;
	} else
		print_text(d);
	count(d, &fails, &warns);
	return fails > 0 ? 1 : 0;
}

int
cli_doctor(const struct conf *conf, int argc, char **argv)
{
	struct doctor d = { .conf = conf };
	char dom[DNS_NAME_MAX];
	const char *domain = NULL;
	uint64_t secs = DOCTOR_DNS_TIMEOUT;
	struct why why;
	struct dns *dns;
	bool json = false;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			if (!str_to_u64(argv[++i], DOCTOR_TIMEOUT_MAX, &secs) ||
			    secs == 0)
				goto usage;
		} else if (argv[i][0] != '-' && domain == NULL)
			domain = argv[i];
		else
			goto usage;
	}
	if (domain != NULL) {
		/* Lower case, no trailing dot: as conf keeps `domains`. */
		if (strlcpy(dom, domain, sizeof(dom)) >= sizeof(dom))
			goto usage;
		ascii_lower_str(dom);
		if (strlen(dom) > 1 && dom[strlen(dom) - 1] == '.')
			dom[strlen(dom) - 1] = '\0';
		/* It becomes a DNS name and a directory name (dkim/DOMAIN). */
		if (!dkimkeys_name_ok(dom))
			goto usage;
		domain = dom;
	}
	if ((dns = dns_new(conf->dns_server, (unsigned)secs, &why)) == NULL) {
		fprintf(stderr, "tern: doctor: %s\n", why.text);
		return EX_UNAVAILABLE;
	}
	d.dns.lookup = authdns_resolver;
	d.dns.arg = dns;
	rc = run(&d, domain, (unsigned)secs, json);
	dns_free(dns);
	doctor_free(&d);
	/* A report that did not reach its reader is no report. */
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "tern: doctor: cannot write the report\n");
		return EX_IOERR;
	}
	return rc;
usage:
	cli_doctor_usage(stderr);
	return EX_USAGE;
}
