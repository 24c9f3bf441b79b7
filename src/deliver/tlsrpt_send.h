/* SPDX-License-Identifier: ISC */
/*
 * deliver/tlsrpt_send.h - sending the TLS-RPT aggregate reports (RFC
 * 8460 3, 4, 5): for each policy domain of a day in the store, look up
 * _smtp._tls.DOMAIN, write the report (tlsrpt_write()), gzip it, and
 * deliver it to every rua: mailto: as a message through tern's own queue
 * (5.3: multipart/report; report-type="tlsrpt", the report as an
 * application/tlsrpt+gzip attachment, TLS-Report-Domain and
 * TLS-Report-Submitter fields, the Subject 5.3 gives), https: as a POST
 * with libcurl (5.4: Content-Type application/tlsrpt+gzip; certificate
 * verified with the system store and [outbound_tls] ca_file, no
 * redirects, bounded in time).
 *
 * A domain without exactly one valid TLSRPTv1 record gets no report and
 * its counts are forgotten (3: no record, no report; this is how
 * "no-policy-found" sessions of domains that do not ask are ignored); a
 * DNS failure keeps them for the next run; a report that reached at
 * least one rua forgets them; one that reached none keeps them.
 *
 * Blocking (DNS, HTTPS, the queue commit): the caller's thread, one run
 * at a time (the server's main thread: `tern tlsrpt send`, and once a
 * day). Trust: the TXT record and the counts' strings are hostile:
 * record through tlsrpt_txt_parse(), JSON through tlsrpt_write(); a
 * domain goes into header fields only when it is a plain host name, a
 * mailto: address only when it parses as a mailbox.
 */
#ifndef TERN_DELIVER_TLSRPT_SEND_H
#define TERN_DELIVER_TLSRPT_SEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/why.h"

struct buf;
struct conf;
struct sched;
struct spool;
struct tlsrpt_store;

#define TLSRPT_GZ_MAX (8u * 1024 * 1024)    /* a report, compressed */
#define TLSRPT_JSON_MAX (32u * 1024 * 1024) /* a report, as JSON */
#define TLSRPT_HTTPS_TIMEOUT 20             /* seconds, one POST */

/* What a run may use; borrowed for its length. */
struct tlsrpt_send_ctx {
	struct tlsrpt_store *store;
	struct spool *spool; /* mailto: reports are queued here ... */
	struct sched *sched; /* ... and handed to the scheduler */
	/* Set by another thread: the run ends before its next domain
	 * (NULL: never). */
	const atomic_bool *stop;
};

/*
 * Send the reports of `day` ("YYYY-MM-DD"), or of every day with counts
 * (day NULL, before_today false: `tern tlsrpt send`), or of every day
 * before today (day NULL, before_today true: the daily run). `out` gets
 * one line per domain for a person ("DOMAIN DAY: sent to URI, ..." or
 * why not). Returns the number of reports that reached at least one
 * rua; *tried_out the number of domains looked at.
 */
size_t tlsrpt_send_run(const struct tlsrpt_send_ctx *, const struct conf *,
    const char *day, bool before_today, struct buf *out, size_t *tried_out);

/* p[0..n) gzip'd (RFC 1952) into out (its max). 0, or -1 (too big). */
int tlsrpt_gzip(const void *p, size_t n, struct buf *out);

/* The message of 5.3, for one mailto: recipient. */
struct tlsrpt_mail {
	const char *submitter; /* our host name */
	const char *from;      /* our contact address */
	const char *to;        /* the rua's address */
	const char *domain;    /* the policy domain */
	const char *report_id;
	time_t start, end; /* the report's date-range */
	time_t now;        /* Date: */
	const void *gz;    /* the gzip'd report */
	size_t gzlen;
};

/*
 * The message as CRLF text into out (its max). 0, or -1: too big, or a
 * field that may not go into a header (submitter, domain or report_id
 * not a plain name, an address with CR/LF...). Pure.
 */
int tlsrpt_mail_build(const struct tlsrpt_mail *, struct buf *out);

/* Is s a host name fit for a header and a file name (LDH labels)? */
bool tlsrpt_is_hostname(const char *s);

#endif
