/* SPDX-License-Identifier: ISC */
/*
 * dns/dns.c - MX, address and raw record lookups with libunbound (see dns.h).
 *
 * A query's state is on the heap: when the deadline passes and
 * ub_cancel() comes too late, libunbound still calls back later, and the
 * callback then frees the orphaned query instead of writing into a stack
 * frame that is gone.
 * Trust: answers are parsed by dns_mx_rdata_parse() only; addresses are
 * copied by their fixed sizes.
 */
#include "dns/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <unbound.h>

#include "util/str.h"

#define DNS_RCODE_NXDOMAIN 3 /* RFC 1035 4.1.1 */
#define DNS_TYPE_A 1
#define DNS_TYPE_MX 15
#define DNS_TYPE_AAAA 28
#define DNS_TYPE_DNSKEY 48
#define DNS_CLASS_IN 1
#define MX_READ_MAX 64 /* records looked at before sorting */

struct dns {
	struct ub_ctx *ub;
	unsigned timeout;
	bool validating;     /* a trust anchor was added */
	bool last_timed_out; /* the last query() had no answer in time */
};

struct query {
	bool done, orphan;
	int err;
	struct ub_result *res;
};

static void
on_answer(void *arg, int err, struct ub_result *res)
{
	struct query *q = arg;

	if (q->orphan) { /* the asker gave up: clean up for it */
		if (res != NULL)
			ub_resolve_free(res);
		free(q);
		return;
	}
	q->done = true;
	q->err = err;
	q->res = res;
}

struct dns *
dns_new(const char *server, unsigned timeout_secs, struct why *why)
{
	char fwd[INET6_ADDRSTRLEN + 16];
	const char *host, *end, *port = NULL;
	struct dns *d;
	size_t n;
	int rc;

	if ((d = calloc(1, sizeof(*d))) == NULL) {
		why_set(why, WHY_TEMP, ENOMEM, "dns");
		return NULL;
	}
	d->timeout = timeout_secs ? timeout_secs : DNS_TIMEOUT_SECS;
	if ((d->ub = ub_ctx_create()) == NULL) {
		why_set(why, WHY_TEMP, 0, "ub_ctx_create failed");
		free(d);
		return NULL;
	}
	/* A thread, not a forked process, answers in the background. */
	rc = ub_ctx_async(d->ub, 1);
	/* A local resolver (dnsmasq, systemd-resolved) is on loopback. */
	if (rc == 0)
		rc = ub_ctx_set_option(d->ub, "do-not-query-localhost:", "no");
	/*
	 * Unbound answers .test and .invalid (RFC 6761) with NXDOMAIN
	 * itself; let the DNS server decide ("nodefault" does not work
	 * through ub_ctx_set_option in 1.17, "transparent" does).
	 */
	if (rc == 0)
		rc = ub_ctx_set_option(d->ub,
		    "local-zone:", "test. transparent");
	if (rc == 0)
		rc = ub_ctx_set_option(d->ub,
		    "local-zone:", "invalid. transparent");
	/*
	 * Unbound also answers the reverse zones of private (RFC 1918) and
	 * documentation (2001:db8::/32) addresses itself, with NXDOMAIN.
	 * tern always forwards, to the operator's resolver, which may well
	 * hold those PTR records (SPF ptr and %{p}, RFC 7208 5.5): ask it.
	 */
	if (rc == 0)
		rc = ub_ctx_set_option(d->ub, "unblock-lan-zones:", "yes");
	if (rc == 0)
		rc = ub_ctx_set_option(d->ub, "insecure-lan-zones:", "yes");
	if (rc == 0)
		rc = ub_ctx_set_option(d->ub,
		    "local-zone:", "8.b.d.0.1.0.0.2.ip6.arpa. transparent");
	if (rc == 0 && server == NULL)
		rc = ub_ctx_resolvconf(d->ub, NULL);
	else if (rc == 0) {
		/* "IP:port", "[v6]:port" -> "IP@port" as unbound wants. */
		host = server;
		if (server[0] == '[') {
			host = server + 1;
			end = strchr(host, ']');
			if (end != NULL && end[1] == ':')
				port = end + 2;
		} else {
			end = strchr(server, ':');
			if (end != NULL)
				port = end + 1;
		}
		n = end != NULL ? (size_t)(end - host) : strlen(host);
		if (n >= INET6_ADDRSTRLEN ||
		    snprintf(fwd, sizeof(fwd), "%.*s%s%s", (int)n, host,
		        port ? "@" : "", port ? port : "") >= (int)sizeof(fwd))
			rc = UB_SYNTAX;
		else
			rc = ub_ctx_set_fwd(d->ub, fwd);
	}
	if (rc != 0) {
		why_set(why, WHY_TEMP, 0, "DNS resolver set-up: %s",
		    ub_strerror(rc));
		dns_free(d);
		return NULL;
	}
	return d;
}

void
dns_free(struct dns *d)
{
	if (d == NULL)
		return;
	ub_ctx_delete(d->ub);
	free(d);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Ask, wait up to the deadline; *res_out to be ub_resolve_free()d. */
static enum dns_status
query(struct dns *d, const char *name, int type, const char *tname,
    struct ub_result **res_out, enum dns_security *sec_out, struct why *why)
{
	int64_t until = mono_ms() + (int64_t)d->timeout * 1000, left;
	struct pollfd pfd;
	struct query *q;
	struct ub_result *res;
	int id, rc;

	*res_out = NULL;
	*sec_out = DNS_SEC_INSECURE;
	d->last_timed_out = false;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return why_set(why, WHY_TEMP, ENOMEM, "dns"), DNS_TEMP;
	rc = ub_resolve_async(d->ub, name, type, DNS_CLASS_IN, q, on_answer,
	    &id);
	if (rc != 0) {
		free(q);
		why_set(why, WHY_TEMP, 0, "DNS %s %s: %s", tname, name,
		    ub_strerror(rc));
		return DNS_TEMP;
	}
	while (!q->done) {
		left = until - mono_ms();
		if (left <= 0) {
			if (ub_cancel(d->ub, id) == 0)
				free(q);
			else
				q->orphan = true; /* on_answer frees it */
			d->last_timed_out = true;
			why_set(why, WHY_TEMP, 0, "DNS %s %s: timed out", tname,
			    name);
			return DNS_TEMP;
		}
		pfd.fd = ub_fd(d->ub);
		pfd.events = POLLIN;
		if (poll(&pfd, 1, left > 1000 ? 1000 : (int)left) > 0)
			(void)ub_process(d->ub);
	}
	rc = q->err;
	res = q->res;
	free(q);
	if (rc != 0 || res == NULL) {
		if (res != NULL)
			ub_resolve_free(res);
		why_set(why, WHY_TEMP, 0, "DNS %s %s: %s", tname, name,
		    ub_strerror(rc));
		return DNS_TEMP;
	}
	/* A bogus answer comes as SERVFAIL: say why, never use it. */
	if (res->bogus) {
		*sec_out = DNS_SEC_BOGUS;
		why_set(why, WHY_TEMP, 0,
		    "DNS %s %s: DNSSEC validation failed (bogus): %.120s",
		    tname, name,
		    res->why_bogus != NULL ? res->why_bogus : "no reason given");
		ub_resolve_free(res);
		return DNS_TEMP;
	}
	if (res->secure)
		*sec_out = DNS_SEC_SECURE;
	if (res->rcode == DNS_RCODE_NXDOMAIN) {
		ub_resolve_free(res);
		why_set(why, WHY_PERM, 0,
		    "the domain %s does not exist (DNS NXDOMAIN)", name);
		return DNS_NXDOMAIN;
	}
	if (res->rcode != 0) {
		why_set(why, WHY_TEMP, 0,
		    "DNS %s %s: server failure (rcode %d)", tname, name,
		    res->rcode);
		ub_resolve_free(res);
		return DNS_TEMP;
	}
	if (!res->havedata) {
		ub_resolve_free(res);
		why_set(why, WHY_PERM, 0, "DNS %s %s: no such record", tname,
		    name);
		return DNS_NODATA;
	}
	*res_out = res;
	return DNS_OK;
}

void
dns_rrset_free(struct dns_rrset *rs)
{
	size_t i;

	if (rs == NULL)
		return;
	for (i = 0; i < rs->n; i++)
		free(rs->data[i]);
	free(rs->data);
	free(rs->len);
	memset(rs, 0, sizeof(*rs));
}

static const char *
type_name(int type)
{
	switch (type) {
	case DNS_T_A:
		return "A";
	case DNS_T_PTR:
		return "PTR";
	case DNS_T_MX:
		return "MX";
	case DNS_T_TXT:
		return "TXT";
	case DNS_T_AAAA:
		return "AAAA";
	case DNS_T_TLSA:
		return "TLSA";
	default:
		return "record";
	}
}

enum dns_status
dns_lookup(struct dns *d, const char *name, int type, struct dns_rrset *out,
    struct why *why)
{
	enum dns_security sec;

	return dns_lookup_sec(d, name, type, out, &sec, why);
}

enum dns_status
dns_lookup_sec(struct dns *d, const char *name, int type,
    struct dns_rrset *out, enum dns_security *sec_out, struct why *why)
{
	struct ub_result *res;
	enum dns_status st;
	size_t i, len;

	memset(out, 0, sizeof(*out));
	st = query(d, name, type, type_name(type), &res, sec_out, why);
	if (st != DNS_OK)
		return st;
	for (i = 0; res->data[i] != NULL && out->n < DNS_RRS_MAX; i++) {
		len = (size_t)res->len[i];
		if (len > DNS_RDATA_MAX)
			continue;
		if (out->data == NULL) {
			out->data = calloc(DNS_RRS_MAX, sizeof(*out->data));
			out->len = calloc(DNS_RRS_MAX, sizeof(*out->len));
			if (out->data == NULL || out->len == NULL)
				goto nomem;
		}
		/* One spare byte, so dns_txt() can end a string. */
		if ((out->data[out->n] = malloc(len + 1)) == NULL)
			goto nomem;
		memcpy(out->data[out->n], res->data[i], len);
		out->data[out->n][len] = 0;
		out->len[out->n++] = len;
	}
	ub_resolve_free(res);
	return DNS_OK;
nomem:
	ub_resolve_free(res);
	dns_rrset_free(out);
	why_set(why, WHY_TEMP, ENOMEM, "DNS %s %s", type_name(type), name);
	return DNS_TEMP;
}

void
dns_txt_join(struct dns_rrset *rs)
{
	size_t i, k = 0, pos, o, n, sl;
	uint8_t *p;

	/* Each record's strings joined in place: the text is never longer
	 * than the rdata. */
	for (i = 0; i < rs->n; i++) {
		p = rs->data[i];
		n = rs->len[i];
		for (pos = 0, o = 0; pos < n; pos += 1 + sl) {
			sl = p[pos];
			if (pos + 1 + sl > n)
				break;
			memmove(p + o, p + pos + 1, sl);
			o += sl;
		}
		if (pos != n) {
			free(p); /* malformed: skip it */
			continue;
		}
		/*
		 * A NUL inside becomes DEL, which no record grammar (SPF,
		 * DKIM, DMARC) accepts: the record is there, and broken
		 * (RFC 7208 suite: a NUL in an SPF record is a permerror).
		 */
		for (pos = 0; pos < o; pos++)
			if (p[pos] == 0)
				p[pos] = 0x7f;
		p[o] = 0;
		rs->data[k] = p;
		rs->len[k++] = o;
	}
	rs->n = k;
}

enum dns_status
dns_txt(struct dns *d, const char *name, struct dns_rrset *out,
    struct why *why)
{
	enum dns_status st;

	st = dns_lookup(d, name, DNS_T_TXT, out, why);
	if (st == DNS_OK)
		dns_txt_join(out);
	return st;
}

bool
dns_mx_rdata_parse(const uint8_t *p, size_t n, struct dns_mx *out)
{
	size_t i = 2, o = 0, len, k;
	uint8_t c;

	if (n < 3)
		return false;
	out->pref = (unsigned)p[0] << 8 | p[1];
	for (;;) {
		if (i >= n)
			return false;
		len = p[i++];
		if (len == 0)
			break;
		if (len > 63 || i + len > n)
			return false; /* 0xC0: no compression in rdata */
		/* Room for a dot, the label and the final NUL. */
		if (o + (o > 0) + len + 1 > sizeof(out->host))
			return false;
		if (o > 0)
			out->host[o++] = '.';
		for (k = 0; k < len; k++) {
			c = p[i + k];
			if (!ascii_is_alnum(c) && c != '-' && c != '_')
				return false;
			out->host[o++] = (char)ascii_lower(c);
		}
		i += len;
	}
	if (i != n)
		return false; /* trailing bytes */
	out->host[o] = '\0';
	return true;
}

void
dns_mx_sort(struct dns_mx *mx, size_t n, const uint32_t *rnd)
{
	struct dns_mx t;
	uint32_t tr, r[DNS_MX_MAX > MX_READ_MAX ? DNS_MX_MAX : MX_READ_MAX];
	size_t i, j;

	/* Insertion sort: n is small, and ties follow rnd. */
	for (i = 0; i < n && i < sizeof(r) / sizeof(r[0]); i++)
		r[i] = rnd[i];
	for (i = 1; i < n && i < sizeof(r) / sizeof(r[0]); i++) {
		t = mx[i];
		tr = r[i];
		for (j = i;
		     j > 0 && (mx[j - 1].pref > t.pref ||
		                  (mx[j - 1].pref == t.pref && r[j - 1] > tr));
		     j--) {
			mx[j] = mx[j - 1];
			r[j] = r[j - 1];
		}
		mx[j] = t;
		r[j] = tr;
	}
}

enum dns_status
dns_mx(struct dns *d, const char *domain, struct dns_mx *out, size_t *n_out,
    struct why *why)
{
	enum dns_security sec;

	return dns_mx_sec(d, domain, out, n_out, &sec, why);
}

enum dns_status
dns_mx_sec(struct dns *d, const char *domain, struct dns_mx *out,
    size_t *n_out, enum dns_security *sec_out, struct why *why)
{
	struct dns_mx all[MX_READ_MAX];
	uint32_t rnd[MX_READ_MAX];
	struct ub_result *res;
	enum dns_status st;
	size_t i, n = 0;
	bool null_mx = false;

	*n_out = 0;
	st = query(d, domain, DNS_TYPE_MX, "MX", &res, sec_out, why);
	if (st == DNS_NODATA) {
		/* RFC 5321 5.1: no MX, the domain is its own mail host. */
		if (strlen(domain) >= sizeof(out[0].host))
			return why_set(why, WHY_PERM, 0, "domain too long"),
			       DNS_NXDOMAIN;
		(void)strlcpy(out[0].host, domain, sizeof(out[0].host));
		ascii_lower_str(out[0].host);
		out[0].pref = 0;
		*n_out = 1;
		why_clear(why);
		return DNS_OK;
	}
	if (st != DNS_OK)
		return st;
	for (i = 0; res->data[i] != NULL && n < MX_READ_MAX; i++) {
		if (!dns_mx_rdata_parse((const uint8_t *)res->data[i],
		        (size_t)res->len[i], &all[n]))
			continue; /* hostile or broken: skip it */
		if (all[n].host[0] == '\0') {
			null_mx = true; /* RFC 7505 3: "." */
			continue;
		}
		n++;
	}
	ub_resolve_free(res);
	if (n == 0 && null_mx) {
		why_set(why, WHY_PERM, 0,
		    "the domain %s accepts no mail (null MX, RFC 7505)",
		    domain);
		return DNS_NULLMX;
	}
	if (n == 0) {
		why_set(why, WHY_TEMP, 0, "DNS MX %s: no usable MX record",
		    domain);
		return DNS_TEMP;
	}
	if (getrandom(rnd, n * sizeof(rnd[0]), 0) !=
	    (ssize_t)(n * sizeof(rnd[0])))
		for (i = 0; i < n; i++)
			rnd[i] = (uint32_t)i;
	dns_mx_sort(all, n, rnd);
	for (i = 0; i < n && i < DNS_MX_MAX; i++)
		out[i] = all[i];
	*n_out = i;
	return DNS_OK;
}

/* Append the addresses of one answer. */
static void
add_addrs(const struct ub_result *res, int family, unsigned port,
    struct sockaddr_storage *out, size_t *n)
{
	struct sockaddr_in *s4;
	struct sockaddr_in6 *s6;
	size_t i;

	for (i = 0; res->data[i] != NULL && *n < DNS_ADDRS_MAX; i++) {
		memset(&out[*n], 0, sizeof(out[*n]));
		if (family == AF_INET6 && res->len[i] == 16) {
			s6 = (struct sockaddr_in6 *)&out[*n];
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((uint16_t)port);
			memcpy(&s6->sin6_addr, res->data[i], 16);
			(*n)++;
		} else if (family == AF_INET && res->len[i] == 4) {
			s4 = (struct sockaddr_in *)&out[*n];
			s4->sin_family = AF_INET;
			s4->sin_port = htons((uint16_t)port);
			memcpy(&s4->sin_addr, res->data[i], 4);
			(*n)++;
		}
	}
}

enum dns_status
dns_addrs(struct dns *d, const char *host, unsigned port,
    struct sockaddr_storage *out, size_t *n_out, struct why *why)
{
	enum dns_security sec;

	return dns_addrs_sec(d, host, port, out, n_out, &sec, why);
}

enum dns_status
dns_addrs_sec(struct dns *d, const char *host, unsigned port,
    struct sockaddr_storage *out, size_t *n_out, enum dns_security *sec_out,
    struct why *why)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&out[0];
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out[0];
	struct ub_result *res;
	enum dns_status st6, st4;
	enum dns_security sec6, sec4;
	struct why why6;

	*n_out = 0;
	*sec_out = DNS_SEC_INSECURE;
	memset(&out[0], 0, sizeof(out[0]));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*n_out = 1;
		return DNS_OK;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*n_out = 1;
		return DNS_OK;
	}
	st6 = query(d, host, DNS_TYPE_AAAA, "AAAA", &res, &sec6, &why6);
	if (st6 == DNS_OK) {
		add_addrs(res, AF_INET6, port, out, n_out);
		ub_resolve_free(res);
	}
	st4 = query(d, host, DNS_TYPE_A, "A", &res, &sec4, why);
	if (st4 == DNS_OK) {
		add_addrs(res, AF_INET, port, out, n_out);
		ub_resolve_free(res);
	}
	if (*n_out > 0) {
		/*
		 * Secure when every answer whose addresses (or proof of
		 * none) we use was (RFC 7672 2.2.2): an insecure AAAA beside
		 * a secure A could point elsewhere. A failed answer, bogus
		 * included, gave nothing we use: it must not turn DANE off
		 * for the addresses that did validate.
		 */
		if ((st6 == DNS_TEMP || sec6 == DNS_SEC_SECURE) &&
		    (st4 == DNS_TEMP || sec4 == DNS_SEC_SECURE))
			*sec_out = DNS_SEC_SECURE;
		why_clear(why);
		return DNS_OK;
	}
	if (sec6 == DNS_SEC_BOGUS || sec4 == DNS_SEC_BOGUS)
		*sec_out = DNS_SEC_BOGUS;
	if (st6 == DNS_TEMP || st4 == DNS_TEMP) {
		if (st6 == DNS_TEMP)
			*why = why6;
		return DNS_TEMP;
	}
	if (st6 == DNS_NXDOMAIN || st4 == DNS_NXDOMAIN)
		return why_set(why, WHY_PERM, 0,
		           "the mail host %s does not exist (DNS NXDOMAIN)",
		           host),
		       DNS_NXDOMAIN;
	return why_set(why, WHY_PERM, 0, "the mail host %s has no address",
	           host),
	       DNS_NODATA;
}

enum dns_status
dns_tlsa(struct dns *d, const char *host, unsigned port,
    struct dns_rrset *out, enum dns_security *sec_out, struct why *why)
{
	char name[DNS_NAME_MAX + 16];

	memset(out, 0, sizeof(*out));
	*sec_out = DNS_SEC_INSECURE;
	if (snprintf(name, sizeof(name), "_%u._tcp.%s", port, host) >=
	    (int)sizeof(name))
		return why_set(why, WHY_TEMP, 0, "TLSA name too long"),
		       DNS_TEMP;
	return dns_lookup_sec(d, name, DNS_T_TLSA, out, sec_out, why);
}

const char *
dns_security_name(enum dns_security s)
{
	switch (s) {
	case DNS_SEC_SECURE:
		return "secure";
	case DNS_SEC_BOGUS:
		return "bogus";
	case DNS_SEC_INSECURE:
		break;
	}
	return "insecure";
}

int
dns_set_trust_anchor(struct dns *d, const char *file, struct why *why)
{
	int rc;

	/* The autotrust variant would write to the file: it is read-only. */
	if ((rc = ub_ctx_add_ta_file(d->ub, file)) != 0)
		return why_set(why, WHY_TEMP, 0,
		    "DNSSEC trust anchor %s: %s", file, ub_strerror(rc));
	d->validating = true;
	return 0;
}

bool
dns_validates(const struct dns *d)
{
	return d->validating;
}

int
dns_trust_anchor_name(const char *file, char *name, size_t size,
    struct why *why)
{
	char line[1024];
	size_t n;
	FILE *fp;
	int rc = -1;

	if ((fp = fopen(file, "re")) == NULL)
		return why_set(why, WHY_TEMP, errno,
		    "DNSSEC trust anchor %s", file);
	/* The first token of the first line that is not a comment, blank or
	 * a $directive: the owner name of a DS or DNSKEY record. */
	while (fgets(line, sizeof(line), fp) != NULL) {
		n = strspn(line, " \t\r\n");
		if (line[n] == '\0' || line[n] == ';' || line[n] == '$' ||
		    n > 0)
			continue;
		n = strcspn(line, " \t\r\n");
		if (n == 0 || n >= size || n >= DNS_NAME_MAX)
			break;
		memcpy(name, line, n);
		name[n] = '\0';
		if (n > 1 && name[n - 1] == '.')
			name[n - 1] = '\0';
		ascii_lower_str(name);
		rc = 0;
		break;
	}
	(void)fclose(fp);
	if (rc == -1)
		why_set(why, WHY_TEMP, 0,
		    "DNSSEC trust anchor %s: no record in it", file);
	return rc;
}

enum dns_status
dns_dnssec_probe(struct dns *d, const char *anchor_name, struct why *why)
{
	struct ub_result *res;
	enum dns_security sec;
	enum dns_status st;
	struct why w;

	why_clear(&w);
	st = query(d, anchor_name, DNS_TYPE_DNSKEY, "DNSKEY", &res, &sec, &w);
	if (st == DNS_OK)
		ub_resolve_free(res);
	if (st == DNS_OK && sec == DNS_SEC_SECURE)
		return DNS_OK;
	/*
	 * No answer in time: maybe the network, maybe someone dropping
	 * packets to turn DANE off; keep validating and ask again later.
	 * Any answer that is not secure (bogus, SERVFAIL, REFUSED, unsigned)
	 * says this resolver path cannot do DNSSEC.
	 */
	if (st == DNS_TEMP && d->last_timed_out) {
		*why = w;
		return DNS_TEMP;
	}
	why_set(why, WHY_TEMP, 0,
	    "the DNSKEY records of %s do not validate through the resolver "
	    "(%s%s%s)",
	    anchor_name, sec == DNS_SEC_BOGUS ? "bogus" : "insecure",
	    w.text[0] != '\0' ? ": " : "", w.text);
	return DNS_NODATA;
}
