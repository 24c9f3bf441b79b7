/* SPDX-License-Identifier: ISC */
/*
 * deliver/tlsrpt_send.c - the daily TLS-RPT reports (see tlsrpt_send.h).
 *
 * One run: a snapshot of each day, its policies grouped by domain; per
 * domain the _smtp._tls lookup, the JSON, the gzip, then each rua.
 * XXX: a run blocks its thread for the DNS lookups and the POSTs (each
 * bounded: [queue] remote_timeout, TLSRPT_HTTPS_TIMEOUT); the server
 * runs it on its main thread, which delays control requests and
 * signals meanwhile, never mail (the loops are other threads).
 * Trust: see the header.
 */
#include "deliver/tlsrpt_send.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <zlib.h>

#include "conf/conf.h"
#include "deliver/tlsrpt.h"
#include "deliver/tlsrpt_store.h"
#include "dns/dns.h"
#include "msg/received.h"
#include "queue/sched.h"
#include "queue/spool.h"
#include "smtp/addr.h"
#include "smtp/auth.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define MAIL_MAX (TLSRPT_GZ_MAX * 4 / 3 + 64 * 1024) /* base64 + header */
#define B64_LINE 57 /* input bytes per 76-character base64 line */

/* ---- pure parts ------------------------------------------------------ */

bool
tlsrpt_is_hostname(const char *s)
{
	size_t i, label = 0, n = strlen(s);
	unsigned char c;

	if (n == 0 || n > 253)
		return false;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!ascii_is_alnum(c) && !(c == '-' && label > 0) && c != '_')
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[n - 1] != '-';
}

int
tlsrpt_gzip(const void *p, size_t n, struct buf *out)
{
	unsigned char chunk[16384];
	z_stream z;
	int zr;

	memset(&z, 0, sizeof(z));
	/* 15 + 16: a gzip wrapper (RFC 1952), as 5.3 and 5.4 ask. */
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
	        Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	z.next_in = (Bytef *)(uintptr_t)p;
	z.avail_in = (uInt)n;
	if ((size_t)z.avail_in != n) { /* over 4 GiB: never, by the caps */
		deflateEnd(&z);
		return -1;
	}
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zr = deflate(&z, Z_FINISH);
		if (zr == Z_STREAM_ERROR ||
		    buf_append(out, chunk, sizeof(chunk) - z.avail_out) == -1) {
			deflateEnd(&z);
			return -1;
		}
	} while (zr != Z_STREAM_END);
	deflateEnd(&z);
	return 0;
}

static bool
header_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

static int
b64_lines(struct buf *b, const unsigned char *p, size_t n)
{
	char line[80];
	size_t k;

	for (; n > 0; p += k, n -= k) {
		k = n < B64_LINE ? n : B64_LINE;
		if (smtp_b64_encode(p, k, line, sizeof(line)) < 0 ||
		    buf_append_str(b, line) == -1 ||
		    buf_append(b, "\r\n", 2) == -1)
			return -1;
	}
	return 0;
}

int
tlsrpt_mail_build(const struct tlsrpt_mail *m, struct buf *b)
{
	char date[MSG_DATE_MAX], boundary[96];
	uint8_t rnd[8];

	if (!tlsrpt_is_hostname(m->submitter) ||
	    !tlsrpt_is_hostname(m->domain) || !header_safe(m->report_id) ||
	    !header_safe(m->from) || !header_safe(m->to) ||
	    msg_date_format(m->now, date, sizeof(date)) == -1)
		return -1;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0x5a, sizeof(rnd));
	(void)snprintf(boundary, sizeof(boundary),
	    "tlsrpt-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
	    rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	/* RFC 8460 5.3: the fields, the Subject, the parts. */
	if (buf_printf(b,
	        "From: TLS reports <%s>\r\n"
	        "To: <%s>\r\n"
	        "Date: %s\r\n"
	        "Subject: Report Domain: %s Submitter: %s Report-ID: <%s>\r\n"
	        "Message-ID: <%s>\r\n"
	        "TLS-Report-Domain: %s\r\n"
	        "TLS-Report-Submitter: %s\r\n"
	        "Auto-Submitted: auto-generated\r\n"
	        "MIME-Version: 1.0\r\n"
	        "Content-Type: multipart/report; report-type=\"tlsrpt\";\r\n"
	        "\tboundary=\"%s\"\r\n"
	        "\r\n"
	        "This is a multipart message in MIME format.\r\n"
	        "\r\n"
	        "--%s\r\n"
	        "Content-Type: text/plain; charset=us-ascii\r\n"
	        "\r\n"
	        "This is an aggregate TLS report (RFC 8460) from %s\r\n"
	        "about mail sent to %s.\r\n"
	        "\r\n"
	        "--%s\r\n"
	        "Content-Type: application/tlsrpt+gzip\r\n"
	        "Content-Transfer-Encoding: base64\r\n"
	        "Content-Disposition: attachment;\r\n"
	        "\tfilename=\"%s!%s!%lld!%lld!%s.json.gz\"\r\n"
	        "\r\n",
	        m->from, m->to, date, m->domain, m->submitter, m->report_id,
	        m->report_id, m->domain, m->submitter, boundary, boundary,
	        m->submitter, m->domain, boundary, m->submitter, m->domain,
	        (long long)m->start, (long long)m->end, m->report_id) == -1 ||
	    b64_lines(b, m->gz, m->gzlen) == -1 ||
	    buf_printf(b, "\r\n--%s--\r\n", boundary) == -1)
		return -1;
	return 0;
}

/* ---- delivery -------------------------------------------------------- */

/* Queue msg for `to` (null sender: a report is never bounced back to
 * us); the queue id into id (SPOOL_ID_MAX). */
static int
enqueue(const struct tlsrpt_send_ctx *x, const struct conf *conf,
    const char *to, const struct buf *msg, char *id, struct why *why)
{
	struct spool_rcpt r;
	struct spool_env env;
	struct spool_msg *m;

	memset(&r, 0, sizeof(r));
	r.addr = (char *)to;
	r.orcpt = (char *)to;
	r.state = SPOOL_RCPT_PENDING;
	memset(&env, 0, sizeof(env));
	env.arrival = time(NULL);
	env.sender = (char *)"";
	env.helo = conf->hostname;
	env.client_addr = (char *)"127.0.0.1";
	env.client_name = (char *)"localhost";
	env.rcpts = &r;
	env.nrcpts = 1;
	if ((m = spool_msg_new(x->spool, &env, why)) == NULL)
		return -1;
	(void)snprintf(id, SPOOL_ID_MAX, "%s", spool_msg_id(m));
	if (spool_msg_write(m, msg->data, msg->len, why) == -1) {
		spool_msg_abort(m);
		return -1;
	}
	if (spool_msg_commit_wait(m, why) == -1)
		return -1;
	sched_submit(x->sched, id);
	return 0;
}

struct report {
	const char *domain, *day, *report_id;
	time_t start, end;
	const struct buf *gz;
};

static int
send_mailto(const struct tlsrpt_send_ctx *x, const struct conf *conf,
    const struct report *r, const char *uri, struct why *why)
{
	char to[SMTP_ADDR_FMT_MAX], from[SMTP_ADDR_FMT_MAX + 16];
	char id[SPOOL_ID_MAX];
	const char *addr = uri + strlen("mailto:"), *q;
	struct smtp_addr a;
	struct tlsrpt_mail m;
	const char *bad;
	struct buf msg;
	int rc;

	/* RFC 6068: hfields after '?' are not ours to follow. */
	q = strchr(addr, '?');
	if (!smtp_mailbox_parse(addr,
	        q != NULL ? (size_t)(q - addr) : strlen(addr), 0, &a, &bad) ||
	    smtp_addr_format(&a, to, sizeof(to)) < 0)
		return why_set(why, WHY_PERM, 0, "not a mail address");
	if (conf->postmaster != NULL)
		(void)snprintf(from, sizeof(from), "%s", conf->postmaster);
	else
		(void)snprintf(from, sizeof(from), "postmaster@%s",
		    conf->hostname);
	memset(&m, 0, sizeof(m));
	m.submitter = conf->hostname;
	m.from = from;
	m.to = to;
	m.domain = r->domain;
	m.report_id = r->report_id;
	m.start = r->start;
	m.end = r->end;
	m.now = time(NULL);
	m.gz = r->gz->data;
	m.gzlen = r->gz->len;
	buf_init(&msg, MAIL_MAX);
	if (tlsrpt_mail_build(&m, &msg) == -1) {
		buf_reset(&msg);
		return why_set(why, WHY_PERM, 0, "cannot build the message");
	}
	rc = enqueue(x, conf, to, &msg, id, why);
	buf_reset(&msg);
	if (rc == 0)
		log_info("event=tlsrpt_queued domain=%s day=%s id=%s to=%s",
		    LOG_ESC(r->domain), r->day, id, LOG_ESC(to));
	return rc;
}

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* [outbound_tls] ca_file beside the system's store (CURLOPT_CAINFO
 * would replace it). */
static CURLcode
add_ca(CURL *c, void *sslctx, void *arg)
{
	(void)c;
	if (SSL_CTX_load_verify_locations(sslctx, arg, NULL) != 1)
		return CURLE_SSL_CACERT_BADFILE;
	return CURLE_OK;
}

static int
send_https(const struct conf *conf, const struct report *r, const char *uri,
    struct why *why)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *h = NULL;
	long status = 0;
	CURLcode cr;
	CURL *c;
	int bad = 0;

	if ((c = curl_easy_init()) == NULL)
		return why_set(why, WHY_TEMP, ENOMEM, "curl");
	h = curl_slist_append(h, "Content-Type: application/tlsrpt+gzip");
	bad |= curl_easy_setopt(c, CURLOPT_URL, uri) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, h) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_USERAGENT, "tern") != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT,
	           (long)TLSRPT_HTTPS_TIMEOUT) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->gz->data) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
	           (curl_off_t)r->gz->len) != CURLE_OK;
	if (conf->outtls.ca_file != NULL) {
		bad |= curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, add_ca) !=
		       CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA,
		           conf->outtls.ca_file) != CURLE_OK;
	}
	if (bad || h == NULL) {
		curl_slist_free_all(h);
		curl_easy_cleanup(c);
		return why_set(why, WHY_TEMP, 0, "curl set-up failed");
	}
	cr = curl_easy_perform(c);
	if (cr == CURLE_OK)
		(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (cr != CURLE_OK)
		return why_set(why, WHY_TEMP, 0, "%s",
		    errbuf[0] ? errbuf : curl_easy_strerror(cr));
	if (status < 200 || status > 299)
		return why_set(why, WHY_TEMP, 0, "HTTP status %ld", status);
	log_info("event=tlsrpt_posted domain=%s day=%s status=%ld",
	    LOG_ESC(r->domain), r->day, status);
	return 0;
}

/* ---- a run ----------------------------------------------------------- */

/* The rua of the domain's one valid record: 1 found, 0 none (forget),
 * -1 DNS failure (keep). */
static int
lookup_rua(struct dns *dns, const char *domain, struct tlsrpt_record *rec,
    struct why *why)
{
	struct tlsrpt_record tmp;
	struct dns_rrset rrs;
	char name[DNS_NAME_MAX + 16];
	enum dns_status st;
	size_t i, nvalid = 0, nrec = 0;
	struct why w;

	(void)snprintf(name, sizeof(name), "_smtp._tls.%s", domain);
	memset(&rrs, 0, sizeof(rrs));
	st = dns_txt(dns, name, &rrs, why);
	if (st == DNS_TEMP)
		return -1;
	for (i = 0; st == DNS_OK && i < rrs.n; i++)
		switch (tlsrpt_txt_parse((const char *)rrs.data[i], rrs.len[i],
		    &tmp, &w)) {
		case TLSRPT_TXT_OK:
			nrec++;
			nvalid++;
			*rec = tmp;
			break;
		case TLSRPT_TXT_INVALID:
			nrec++;
			break;
		default:
			break;
		}
	dns_rrset_free(&rrs);
	/* RFC 8460 3: not exactly one TLSRPTv1 record: no reports. */
	if (nrec != 1 || nvalid != 1) {
		why_set(why, WHY_PERM, 0, "%s TLSRPTv1 record at %s",
		    nrec == 0 ? "no" : "not exactly one valid", name);
		return 0;
	}
	return 1;
}

static void
report_id(const char *day, const char *domain, const char *host, char *dst,
    size_t dstsz)
{
	uint8_t rnd[6];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0x5a, sizeof(rnd));
	(void)snprintf(dst, dstsz, "%s.%s.%02x%02x%02x%02x%02x%02x@%s", day,
	    domain, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], host);
}

/* One domain's policies pol[0..n) of snap: true when a rua got it. */
static bool
send_domain(const struct tlsrpt_send_ctx *x, const struct conf *conf,
    struct dns *dns, const struct tlsrpt_snapshot *snap,
    const struct tlsrpt_policy *pol, size_t n, struct buf *out)
{
	const char *domain = pol[0].domain;
	struct tlsrpt_record rec;
	struct tlsrpt_report rep;
	struct report r;
	struct buf json, gz;
	char id[600], contact[SMTP_ADDR_FMT_MAX + 16];
	struct why why;
	size_t i, sent = 0;
	int found;

	why_clear(&why);
	if (!tlsrpt_is_hostname(domain)) {
		(void)buf_printf(out, "%s: not a host name: dropped\n",
		    LOG_ESC(domain));
		tlsrpt_store_forget(x->store, snap->day, domain);
		return false;
	}
	found = lookup_rua(dns, domain, &rec, &why);
	if (found <= 0) {
		(void)buf_printf(out, "%s %s: %s: %s\n", domain, snap->day,
		    found == 0 ? "no report wanted" : "not sent", why.text);
		log_info("event=tlsrpt_skipped domain=%s day=%s reason=%s",
		    LOG_ESC(domain), snap->day, LOG_ESC(why.text));
		if (found == 0)
			tlsrpt_store_forget(x->store, snap->day, domain);
		return false;
	}
	report_id(snap->day, domain, conf->hostname, id, sizeof(id));
	if (conf->postmaster != NULL)
		(void)snprintf(contact, sizeof(contact), "%s",
		    conf->postmaster);
	else
		(void)snprintf(contact, sizeof(contact), "postmaster@%s",
		    conf->hostname);
	memset(&rep, 0, sizeof(rep));
	rep.org = conf->hostname;
	rep.contact = contact;
	rep.report_id = id;
	(void)tlsrpt_day_parse(snap->day, &rep.start);
	rep.end = rep.start + 86399;
	rep.pol = pol;
	rep.npol = n;
	buf_init(&json, TLSRPT_JSON_MAX);
	buf_init(&gz, TLSRPT_GZ_MAX);
	if (tlsrpt_write(&json, &rep) == -1 ||
	    tlsrpt_gzip(json.data, json.len, &gz) == -1) {
		(void)buf_printf(out, "%s %s: not sent: report too large\n",
		    domain, snap->day);
		goto done;
	}
	r.domain = domain;
	r.day = snap->day;
	r.report_id = id;
	r.start = rep.start;
	r.end = rep.end;
	r.gz = &gz;
	(void)buf_printf(out, "%s %s:", domain, snap->day);
	for (i = 0; i < rec.nrua; i++) {
		const char *uri = rec.rua[i];
		int rc;

		why_clear(&why);
		if (ascii_ncasecmp(uri, "mailto:", 7) == 0)
			rc = send_mailto(x, conf, &r, uri, &why);
		else
			rc = send_https(conf, &r, uri, &why);
		if (rc == 0) {
			sent++;
			(void)buf_printf(out, " sent to %s;", LOG_ESC(uri));
		} else {
			(void)buf_printf(out, " failed for %s: %s;",
			    LOG_ESC(uri), LOG_ESC(why.text));
			log_warn("event=tlsrpt_failed domain=%s day=%s rua=%s "
			         "reason=%s",
			    LOG_ESC(domain), snap->day, LOG_ESC(uri),
			    LOG_ESC(why.text));
		}
	}
	(void)buf_append(out, "\n", 1);
	/* Reached someone: done with these counts. None: next run. */
	if (sent > 0)
		tlsrpt_store_forget(x->store, snap->day, domain);
done:
	buf_reset(&json);
	buf_reset(&gz);
	return sent > 0;
}

size_t
tlsrpt_send_run(const struct tlsrpt_send_ctx *x, const struct conf *conf,
    const char *day, bool before_today, struct buf *out, size_t *tried_out)
{
	char days[TLSRPT_STORE_DAYS_MAX][TLSRPT_DAY_LEN + 1];
	char today[TLSRPT_DAY_LEN + 1];
	struct tlsrpt_snapshot snap;
	struct dns *dns = NULL;
	struct why why;
	size_t ndays, d, i, j, sent = 0;

	*tried_out = 0;
	tlsrpt_day_of(time(NULL), today);
	if (day != NULL) {
		(void)strlcpy(days[0], day, sizeof(days[0]));
		ndays = 1;
	} else
		ndays =
		    tlsrpt_store_days(x->store, days, TLSRPT_STORE_DAYS_MAX);
	for (d = 0; d < ndays; d++) {
		if (before_today && strcmp(days[d], today) >= 0)
			continue;
		if (tlsrpt_store_snapshot(x->store, days[d], &snap) == -1)
			continue;
		if (dns == NULL &&
		    (dns = dns_new(conf->dns_server, conf->queue.remote_timeout,
		         &why)) == NULL) {
			(void)buf_printf(out, "no DNS resolver: %s\n",
			    LOG_ESC(why.text));
			tlsrpt_snapshot_free(&snap);
			break;
		}
		for (i = 0; i < snap.npol; i = j) {
			if (x->stop != NULL && atomic_load(x->stop))
				break; /* the counts stay for the next run */
			for (j = i + 1;
			     j < snap.npol && strcmp(snap.pol[j].domain,
			                          snap.pol[i].domain) == 0;
			     j++)
				;
			++*tried_out;
			sent += send_domain(x, conf, dns, &snap, &snap.pol[i],
			    j - i, out);
		}
		tlsrpt_snapshot_free(&snap);
	}
	dns_free(dns);
	if (tlsrpt_store_flush(x->store, &why) == -1)
		log_warn("event=tlsrpt_store_error reason=%s",
		    LOG_ESC(why.text));
	return sent;
}
