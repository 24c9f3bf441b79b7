/* SPDX-License-Identifier: ISC */
/*
 * deliver/mtasts_fetch.h - MTA-STS (RFC 8461) on the wire: the policy
 * fetched over HTTPS with libcurl (3.3), and the whole "which policy
 * applies to this domain" step: the _mta-sts TXT record (3.1), the
 * durable cache (deliver/mtasts_cache.h) and a fetch when the record's
 * id is new or the cached policy has expired (5.1).
 *
 * The fetch, as RFC 8461 3.3 asks:
 *  - https://mta-sts.DOMAIN/.well-known/mta-sts.txt, HTTPS only (curl is
 *    told no other protocol), port 443;
 *  - the certificate verified for mta-sts.DOMAIN against the system's
 *    CA store plus [outbound_tls] ca_file;
 *  - no redirects: a 3xx is a fetch error; only a 200 is a policy;
 *  - Content-Type text/plain (parameters such as charset allowed);
 *  - at most MTASTS_POLICY_MAX bytes: reading stops past it (error);
 *  - MTASTS_FETCH_CONNECT_SECS to connect, MTASTS_FETCH_TOTAL_SECS for
 *    the whole exchange, so a server that trickles its answer costs a
 *    bounded wait.
 * The host name mta-sts.DOMAIN is resolved with tern's own resolver
 * (dns/dns.h: the configured dns_server, the one MX lookups use), and
 * curl is handed the addresses (CURLOPT_RESOLVE): the policy host is
 * found the way the MX hosts are.
 * Blocking: runs on a delivery thread only.
 * Trust: the record, the HTTP answer and the policy are hostile; every
 * size is capped, and what reaches the log is escaped.
 */
#ifndef TERN_DELIVER_MTASTS_FETCH_H
#define TERN_DELIVER_MTASTS_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "deliver/mtasts.h"
#include "util/buf.h"
#include "util/why.h"

struct dns;

#define MTASTS_FETCH_CONNECT_SECS 10 /* TCP + TLS handshake */
#define MTASTS_FETCH_TOTAL_SECS 30   /* the whole fetch */
#define MTASTS_FETCH_PORT 443
/* A failed fetch is tried again after this, or at once for a new id. */
#define MTASTS_FETCH_RETRY_SECS 300

/*
 * GET the policy of `domain` from the given addresses of mta-sts.DOMAIN
 * (at least one). ca_file: extra PEM CAs, NULL for none. On 0, body
 * holds the policy bytes (body's max is raised to MTASTS_POLICY_MAX);
 * -1 with why (WHY_TEMP) saying what was wrong: "redirect refused",
 * "status 404", "policy larger than 65536 bytes", "Content-Type ...",
 * or curl's own words for TLS and network failures.
 */
int mtasts_fetch(const char *domain, const struct sockaddr_storage *addrs,
    size_t naddrs, const char *ca_file, struct buf *body, struct why *);

/* How mtasts_get() came to its answer (for the log). */
enum mtasts_source {
	MTASTS_SRC_NONE = 0, /* no policy applies */
	MTASTS_SRC_CACHE,    /* the cached policy, still valid */
	MTASTS_SRC_FETCHED,  /* fetched now (and cached) */
	MTASTS_SRC_STALE,    /* fetch failed: the cached one, still valid */
};

struct mtasts_result {
	enum mtasts_source source;
	struct mtasts_policy policy; /* when source != NONE */
	char id[MTASTS_ID_MAX + 1];  /* the policy's id ("" when none) */
	/* Why a fetch failed or a record was refused ("" when none did):
	 * raw text, escape it for a log line. */
	char problem[256];
};

struct mtasts_ctx;

/*
 * The cache lives in data_dir/mta-sts (made on first use, mode 0700).
 * Never NULL; a cache that cannot be opened is logged and used as
 * empty (policies are then fetched every time).
 */
struct mtasts_ctx *mtasts_ctx_new(const char *data_dir);
void mtasts_ctx_free(struct mtasts_ctx *); /* NULL is fine */

/*
 * The policy that applies to mail for `domain` now (RFC 8461 5.1):
 * the TXT record at _mta-sts.DOMAIN through dns, the cached policy, a
 * fetch when the record's id is not the cached one or the cached policy
 * has expired; a failed fetch keeps a cached policy that is still
 * valid; no record and no valid cache is no policy. A failed fetch is
 * not repeated for MTASTS_FETCH_RETRY_SECS (same domain and id; kept in
 * memory). Logs each fetch and its failure (event=mta_sts_fetch,
 * event=mta_sts_fetch_failed).
 * Always fills *out; thread-safe.
 */
void mtasts_get(struct mtasts_ctx *, struct dns *, const char *domain,
    const char *ca_file, struct mtasts_result *out);

/* "none", "cache", "fetched", "stale-cache". */
const char *mtasts_source_name(enum mtasts_source);

#endif
