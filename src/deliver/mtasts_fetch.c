/* SPDX-License-Identifier: ISC */
/*
 * deliver/mtasts_fetch.c - the MTA-STS policy over HTTPS, and which
 * policy applies to a domain (see mtasts_fetch.h).
 *
 * libcurl's easy interface, one handle per fetch: a fetch happens when
 * a policy is new, changed or expired, rarely enough that keeping
 * handles (and their connections) around is not worth the state.
 * Trust: see mtasts_fetch.h.
 */
#include "deliver/mtasts_fetch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "deliver/mtasts_cache.h"
#include "dns/dns.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define WELL_KNOWN "/.well-known/mta-sts.txt"
#define HOST_PREFIX "mta-sts."
/* "mta-sts." + a domain + ":443:" + addresses, each "[v6]," */
#define RESOLVE_MAX (DNS_NAME_MAX + 16 + DNS_ADDRS_MAX * (INET6_ADDRSTRLEN + 3))

/*
 * A fetch that failed is not tried again for MTASTS_FETCH_RETRY_SECS
 * for the same domain and record id: a policy host that does not answer
 * would otherwise hold a delivery thread for the fetch's time-outs on
 * every message to the domain. A new id is fetched at once.
 */
struct failed_fetch {
	char domain[DNS_NAME_MAX];
	char id[MTASTS_ID_MAX + 1];
	int64_t until; /* unix seconds; 0: a free slot */
};

#define FAILED_MAX 64

struct mtasts_ctx {
	int dirfd;           /* data_dir/mta-sts, or -1: no cache */
	pthread_mutex_t mtx; /* failed[] */
	struct failed_fetch failed[FAILED_MAX];
};

/* ---- the fetch ---------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void
curl_init(void)
{
	/* Never cleaned up: delivery threads may fetch until exit. */
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct sink {
	struct buf *body;
	bool too_big;
};

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;

	/* Stop reading past the cap (RFC 8461 3.3: senders may limit). */
	if (buf_append(s->body, p, size * n) == -1) {
		s->too_big = true;
		return 0;
	}
	return size * n;
}

/* Trust [outbound_tls] ca_file on top of the store curl has loaded. */
static CURLcode
add_ca_file(CURL *c, void *sslctx, void *arg)
{
	(void)c;
	if (SSL_CTX_load_verify_locations(sslctx, arg, NULL) != 1)
		return CURLE_SSL_CACERT_BADFILE;
	return CURLE_OK;
}

/* "mta-sts.DOMAIN:443:ADDR,ADDR" for CURLOPT_RESOLVE. */
static int
resolve_entry(const char *host, const struct sockaddr_storage *addrs,
    size_t naddrs, char *dst, size_t dstsz)
{
	char ip[INET6_ADDRSTRLEN];
	size_t i, len;
	int n;

	n = snprintf(dst, dstsz, "%s:%d:", host, MTASTS_FETCH_PORT);
	if (n < 0 || (size_t)n >= dstsz)
		return -1;
	for (i = 0; i < naddrs; i++) {
		const struct sockaddr_in *s4 = (const void *)&addrs[i];
		const struct sockaddr_in6 *s6 = (const void *)&addrs[i];
		bool v6 = addrs[i].ss_family == AF_INET6;

		if (addrs[i].ss_family == AF_INET)
			(void)inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		else if (v6)
			(void)inet_ntop(AF_INET6, &s6->sin6_addr, ip,
			    sizeof(ip));
		else
			continue;
		len = strlen(dst);
		n = snprintf(dst + len, dstsz - len, "%s%s%s%s",
		    dst[len - 1] == ':' ? "" : ",", v6 ? "[" : "", ip,
		    v6 ? "]" : "");
		if (n < 0 || (size_t)n >= dstsz - len)
			return -1;
	}
	return dst[strlen(dst) - 1] == ':' ? -1 : 0;
}

/* Is the media type text/plain, whatever its parameters? */
static bool
is_text_plain(const char *ct)
{
	size_t n = strlen("text/plain");

	if (ct == NULL || ascii_ncasecmp(ct, "text/plain", n) != 0)
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

static int
setup(CURL *c, const char *url, struct curl_slist *resolve, const char *ca_file,
    struct sink *s, char *errbuf)
{
	int bad = 0;

	bad |= curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_RESOLVE, resolve) != CURLE_OK;
	/* Never through a proxy from the environment (https_proxy). */
	bad |= curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_SSLVERSION,
	           (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_USERAGENT, "tern") != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
	           (long)MTASTS_FETCH_CONNECT_SECS) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT,
	           (long)MTASTS_FETCH_TOTAL_SECS) != CURLE_OK;
	/* A Content-Length over the cap fails before the body is read. */
	bad |= curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
	           (curl_off_t)MTASTS_POLICY_MAX) != CURLE_OK;
	/* Threads: no SIGALRM for time-outs (curl's advice). */
	bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, s) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK;
	if (ca_file != NULL) {
		bad |= curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION,
		           add_ca_file) != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, ca_file) !=
		       CURLE_OK;
	}
	return bad ? -1 : 0;
}

static int
outcome(CURL *c, CURLcode rc, const struct sink *s, const char *errbuf,
    struct why *why)
{
	long status = 0;
	char *ct = NULL;

	if (s->too_big || rc == CURLE_FILESIZE_EXCEEDED)
		return why_set(why, WHY_TEMP, 0, "policy larger than %d bytes",
		    MTASTS_POLICY_MAX);
	if (rc != CURLE_OK)
		return why_set(why, WHY_TEMP, 0, "%s",
		    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
	(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 300 && status <= 399)
		return why_set(why, WHY_TEMP, 0,
		    "status %ld: redirect "
		    "refused (RFC 8461 3.3)",
		    status);
	if (status != 200)
		return why_set(why, WHY_TEMP, 0, "status %ld", status);
	(void)curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	if (!is_text_plain(ct))
		return why_set(why, WHY_TEMP, 0,
		    "Content-Type %.64s, not "
		    "text/plain",
		    ct != NULL ? ct : "missing");
	return 0;
}

int
mtasts_fetch(const char *domain, const struct sockaddr_storage *addrs,
    size_t naddrs, const char *ca_file, struct buf *body, struct why *why)
{
	char host[DNS_NAME_MAX + sizeof(HOST_PREFIX)];
	char url[sizeof(host) + sizeof(WELL_KNOWN) + 16];
	char resolve[RESOLVE_MAX], errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *rs = NULL;
	struct sink s = { body, false };
	CURL *c;
	int n, rc;

	(void)pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return why_set(why, WHY_TEMP, 0, "curl_global_init failed");
	n = snprintf(host, sizeof(host), HOST_PREFIX "%s", domain);
	if (n < 0 || (size_t)n >= sizeof(host))
		return why_set(why, WHY_TEMP, 0, "domain name too long");
	n = snprintf(url, sizeof(url), "https://%s" WELL_KNOWN, host);
	if (n < 0 || (size_t)n >= sizeof(url) ||
	    resolve_entry(host, addrs, naddrs, resolve, sizeof(resolve)) == -1)
		return why_set(why, WHY_TEMP, 0, "no usable address for %s",
		    host);
	buf_reset(body);
	buf_init(body, MTASTS_POLICY_MAX);
	if ((rs = curl_slist_append(NULL, resolve)) == NULL ||
	    (c = curl_easy_init()) == NULL) {
		curl_slist_free_all(rs);
		return why_set(why, WHY_TEMP, ENOMEM, "curl");
	}
	if (setup(c, url, rs, ca_file, &s, errbuf) == -1)
		rc = why_set(why, WHY_TEMP, 0,
		    "this libcurl lacks an option "
		    "tern needs (7.85 or later, built with OpenSSL)");
	else
		rc = outcome(c, curl_easy_perform(c), &s, errbuf, why);
	curl_easy_cleanup(c);
	curl_slist_free_all(rs);
	return rc;
}

/* ---- which policy applies ---------------------------------------- */

struct mtasts_ctx *
mtasts_ctx_new(const char *data_dir)
{
	struct mtasts_ctx *m = xcalloc(1, sizeof(*m));
	int top, made;

	m->dirfd = -1;
	pthread_mutex_init(&m->mtx, NULL);
	top = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (top != -1) {
		made = mkdirat(top, "mta-sts", 0700);
		if (made == 0) /* the new directory survives a crash */
			(void)fsync(top);
		if (made == 0 || errno == EEXIST)
			m->dirfd = openat(top, "mta-sts",
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		(void)close(top);
	}
	if (m->dirfd == -1)
		log_warn("event=mta_sts_cache_unavailable data_dir=%s "
		         "reason=%s",
		    LOG_ESC(data_dir),
		    LOG_ESC("cannot open <data_dir>/mta-sts: "
		            "policies are fetched each time"));
	return m;
}

void
mtasts_ctx_free(struct mtasts_ctx *m)
{
	if (m == NULL)
		return;
	if (m->dirfd != -1)
		(void)close(m->dirfd);
	pthread_mutex_destroy(&m->mtx);
	free(m);
}

const char *
mtasts_source_name(enum mtasts_source s)
{
	switch (s) {
	case MTASTS_SRC_CACHE:
		return "cache";
	case MTASTS_SRC_FETCHED:
		return "fetched";
	case MTASTS_SRC_STALE:
		return "stale-cache";
	case MTASTS_SRC_NONE:
		break;
	}
	return "none";
}

/*
 * The id of the one STS record at _mta-sts.DOMAIN into id; false when
 * there is none, or more than one, or it does not parse (3.1). problem
 * gets why, when there is something to say.
 */
static bool
txt_id(struct dns *dns, const char *domain, char id[MTASTS_ID_MAX + 1],
    char *problem, size_t problemsz)
{
	char name[DNS_NAME_MAX + 16], one[MTASTS_ID_MAX + 1];
	struct dns_rrset rr;
	struct why why;
	size_t i, nsts = 0;
	bool ok = false;
	int n;

	n = snprintf(name, sizeof(name), "_mta-sts.%s", domain);
	if (n < 0 || (size_t)n >= sizeof(name))
		return false;
	memset(&rr, 0, sizeof(rr));
	why_clear(&why);
	if (dns_txt(dns, name, &rr, &why) != DNS_OK) {
		if (why.kind == WHY_TEMP && why.text[0] != '\0')
			(void)strlcpy(problem, why.text, problemsz);
		dns_rrset_free(&rr);
		return false;
	}
	for (i = 0; i < rr.n; i++) {
		switch (mtasts_txt_parse((const char *)rr.data[i], rr.len[i],
		    one, &why)) {
		case MTASTS_TXT_OTHER:
			continue;
		case MTASTS_TXT_OK:
			(void)strlcpy(id, one, MTASTS_ID_MAX + 1);
			ok = true;
			break;
		case MTASTS_TXT_INVALID:
			(void)strlcpy(problem, why.text, problemsz);
			ok = false;
			break;
		}
		nsts++;
	}
	dns_rrset_free(&rr);
	if (nsts > 1)
		(void)snprintf(problem, problemsz,
		    "%zu STS records at "
		    "_mta-sts: none applies (RFC 8461 3.1)",
		    nsts);
	return ok && nsts == 1;
}

/* Fetch, parse and store the policy; 0 with e filled, or -1 with why. */
static int
fetch_policy(struct mtasts_ctx *m, struct dns *dns, const char *domain,
    const char *id, const char *ca_file, struct mtasts_cache_entry *e,
    struct why *why)
{
	struct sockaddr_storage addrs[DNS_ADDRS_MAX];
	char host[DNS_NAME_MAX + sizeof(HOST_PREFIX)];
	struct buf body;
	struct why w;
	size_t naddrs = 0;
	int n, rc = -1;

	n = snprintf(host, sizeof(host), HOST_PREFIX "%s", domain);
	if (n < 0 || (size_t)n >= sizeof(host))
		return why_set(why, WHY_TEMP, 0, "domain name too long");
	if (dns_addrs(dns, host, MTASTS_FETCH_PORT, addrs, &naddrs, why) !=
	    DNS_OK)
		return -1;
	buf_init(&body, MTASTS_POLICY_MAX);
	if (mtasts_fetch(domain, addrs, naddrs, ca_file, &body, why) == -1)
		goto done;
	memset(e, 0, sizeof(*e));
	if (mtasts_policy_parse((const char *)body.data, body.len, &e->policy,
	        why) == -1)
		goto done;
	(void)strlcpy(e->id, id, sizeof(e->id));
	e->fetched = (int64_t)time(NULL);
	rc = 0;
	why_clear(&w);
	if (m->dirfd != -1 &&
	    mtasts_cache_store(m->dirfd, domain, id, e->fetched,
	        (const char *)body.data, body.len, &w) == -1)
		log_warn("event=mta_sts_cache_failed domain=%s error=%s",
		    LOG_ESC(domain), LOG_ESC(w.text));
done:
	buf_reset(&body);
	return rc;
}

/* Did a fetch for (domain, id) fail less than the retry time ago? */
static bool
recently_failed(struct mtasts_ctx *m, const char *domain, const char *id,
    int64_t now)
{
	bool hit = false;
	size_t i;

	pthread_mutex_lock(&m->mtx);
	for (i = 0; i < FAILED_MAX && !hit; i++)
		hit = m->failed[i].until > now &&
		      strcmp(m->failed[i].domain, domain) == 0 &&
		      strcmp(m->failed[i].id, id) == 0;
	pthread_mutex_unlock(&m->mtx);
	return hit;
}

/* Remember a failed fetch, in the slot that expires first. */
static void
note_failed(struct mtasts_ctx *m, const char *domain, const char *id,
    int64_t now)
{
	size_t i, pick = 0;

	pthread_mutex_lock(&m->mtx);
	for (i = 0; i < FAILED_MAX; i++) {
		if (strcmp(m->failed[i].domain, domain) == 0) {
			pick = i;
			break;
		}
		if (m->failed[i].until < m->failed[pick].until)
			pick = i;
	}
	(void)strlcpy(m->failed[pick].domain, domain,
	    sizeof(m->failed[pick].domain));
	(void)strlcpy(m->failed[pick].id, id, sizeof(m->failed[pick].id));
	m->failed[pick].until = now + MTASTS_FETCH_RETRY_SECS;
	pthread_mutex_unlock(&m->mtx);
}

static void
result_from(struct mtasts_result *out, enum mtasts_source src,
    const struct mtasts_cache_entry *e)
{
	out->source = src;
	out->policy = e->policy;
	(void)strlcpy(out->id, e->id, sizeof(out->id));
}

void
mtasts_get(struct mtasts_ctx *m, struct dns *dns, const char *domain,
    const char *ca_file, struct mtasts_result *out)
{
	struct mtasts_cache_entry cached, fresh;
	char dom[DNS_NAME_MAX], id[MTASTS_ID_MAX + 1];
	const struct mtasts_cache_entry *c = NULL;
	int64_t now = (int64_t)time(NULL);
	struct why why;
	bool have_id;

	memset(out, 0, sizeof(*out));
	memset(&fresh, 0, sizeof(fresh));
	id[0] = '\0'; /* a fetch is only decided with a record's id */
	if (strlcpy(dom, domain, sizeof(dom)) >= sizeof(dom) ||
	    !mtasts_cache_name_ok(dom))
		return; /* no such host name: no policy can exist */
	ascii_lower_str(dom);
	have_id = txt_id(dns, dom, id, out->problem, sizeof(out->problem));
	why_clear(&why);
	if (m->dirfd != -1) {
		switch (mtasts_cache_load(m->dirfd, dom, &cached, &why)) {
		case 1:
			c = &cached;
			break;
		case -1:
			log_warn("event=mta_sts_cache_unreadable domain=%s "
			         "error=%s",
			    LOG_ESC(dom), LOG_ESC(why.text));
			break;
		}
	}
	switch (mtasts_cache_decide(c, have_id ? id : NULL, now)) {
	case MTASTS_USE_NONE:
		return;
	case MTASTS_USE_CACHED: /* only ever with c */
		if (c != NULL)
			result_from(out, MTASTS_SRC_CACHE, c);
		return;
	case MTASTS_FETCH:
		break;
	}
	why_clear(&why);
	if (recently_failed(m, dom, id, now)) {
		(void)snprintf(out->problem, sizeof(out->problem),
		    "policy fetch failed less than %d s ago",
		    MTASTS_FETCH_RETRY_SECS);
		if (c != NULL && mtasts_cache_on_failure(c, now))
			result_from(out, MTASTS_SRC_STALE, c);
		return;
	}
	if (fetch_policy(m, dns, dom, id, ca_file, &fresh, &why) == 0) {
		result_from(out, MTASTS_SRC_FETCHED, &fresh);
		log_info("event=mta_sts_fetch domain=%s id=%s mode=%s "
		         "max_age=%u mx=%zu",
		    LOG_ESC(dom), id, mtasts_mode_name(fresh.policy.mode),
		    (unsigned)fresh.policy.max_age, fresh.policy.nmx);
		return;
	}
	note_failed(m, dom, id, now);
	(void)strlcpy(out->problem, why.text, sizeof(out->problem));
	log_warn("event=mta_sts_fetch_failed domain=%s id=%s cached=%s "
	         "reason=%s",
	    LOG_ESC(dom), id, mtasts_cache_on_failure(c, now) ? "kept" : "none",
	    LOG_ESC(why.text));
	if (c != NULL && mtasts_cache_on_failure(c, now))
		result_from(out, MTASTS_SRC_STALE, c);
}
