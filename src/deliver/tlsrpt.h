/* SPDX-License-Identifier: ISC */
/*
 * deliver/tlsrpt.h - SMTP TLS Reporting (RFC 8460), the pure part: the
 * `_smtp._tls.DOMAIN` TXT record (3) and the aggregate report's JSON
 * (4), written from counts the delivery side keeps.
 *
 * Counting sessions during the day, sending the gzip'd report once a
 * day (mailto: through the queue, https: with libcurl) and the report's
 * durable store are the caller's; these functions only read and write
 * bytes.
 *
 * The record (3): "v=TLSRPTv1" first, then `; rua=URI,URI`; only
 * mailto: and https: URIs are kept (the two kinds 3 defines), at most
 * TLSRPT_RUA_MAX; unknown fields are ignored; a record with no usable
 * rua is invalid. The caller counts the TLSRPTv1 records: not exactly
 * one valid record means no reports.
 * The report (4.3, 4.4): every string goes through util/json.h (the one
 * escaping function for JSON), times are UTC RFC 3339 with a Z, and the
 * members are the ones the RFC's JSON schema names, so a validator
 * accepts it.
 * Trust: the record is hostile bytes; report fields that came from the
 * network (host names, policy strings) are escaped by the JSON writer.
 */
#ifndef TERN_DELIVER_TLSRPT_H
#define TERN_DELIVER_TLSRPT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/why.h"

struct buf;

#define TLSRPT_RUA_MAX 4     /* report addresses kept from a record */
#define TLSRPT_URI_MAX 512   /* bytes of one, NUL included */

struct tlsrpt_record {
	size_t nrua;
	char rua[TLSRPT_RUA_MAX][TLSRPT_URI_MAX]; /* "mailto:..."/"https:..." */
};

enum tlsrpt_txt {
	TLSRPT_TXT_OTHER = 0, /* not "v=TLSRPTv1;...": ignore it */
	TLSRPT_TXT_OK,
	TLSRPT_TXT_INVALID,
};

/* One TXT record (strings joined): the rules above. why on INVALID. */
enum tlsrpt_txt tlsrpt_txt_parse(const char *txt, size_t len,
    struct tlsrpt_record *out, struct why *);

/* The policy types of 4.4 ("policy-type"). */
enum tlsrpt_policy_type {
	TLSRPT_NO_POLICY = 0, /* "no-policy-found" */
	TLSRPT_STS,           /* "sts" */
	TLSRPT_TLSA,          /* "tlsa" */
};

/* The result types of 4.3 ("result-type"), failures only. */
enum tlsrpt_result {
	TLSRPT_STARTTLS_NOT_SUPPORTED = 0,
	TLSRPT_CERT_HOST_MISMATCH,
	TLSRPT_CERT_EXPIRED,
	TLSRPT_CERT_NOT_TRUSTED,
	TLSRPT_VALIDATION_FAILURE,
	TLSRPT_TLSA_INVALID,
	TLSRPT_DNSSEC_INVALID,
	TLSRPT_DANE_REQUIRED,
	TLSRPT_STS_POLICY_FETCH_ERROR,
	TLSRPT_STS_POLICY_INVALID,
	TLSRPT_STS_WEBPKI_INVALID,
	TLSRPT_RESULT_COUNT
};

/* One kind of failure, counted (4.4 "failure-details"). Strings empty
 * when unknown (then left out of the JSON). */
struct tlsrpt_failure {
	enum tlsrpt_result result;
	char sending_ip[64];     /* our address, "sending-mta-ip" */
	char mx_host[256];       /* "receiving-mx-hostname" */
	char mx_ip[64];          /* "receiving-ip" */
	char reason[128];        /* "failure-reason-code", ours */
	uint64_t sessions;       /* "failed-session-count" */
};

/* One policy domain's day (4.4 "policies" item). */
struct tlsrpt_policy {
	enum tlsrpt_policy_type type;
	char domain[256];           /* "policy-domain" */
	const char *const *strings; /* "policy-string": the policy's lines
	                               (MTA-STS) or TLSA records, text */
	size_t nstrings;
	const char *const *mx;      /* "mx-host": MTA-STS mx patterns */
	size_t nmx;
	uint64_t ok;                /* "total-successful-session-count" */
	uint64_t failed;            /* "total-failure-session-count" */
	const struct tlsrpt_failure *fail;
	size_t nfail;
};

struct tlsrpt_report {
	const char *org;       /* "organization-name": our host name */
	const char *contact;   /* "contact-info": an address */
	const char *report_id; /* "report-id": unique per report */
	time_t start, end;     /* "date-range", UTC */
	const struct tlsrpt_policy *pol;
	size_t npol;
};

/* The report as JSON into b. 0, or -1 when b is full (its max). */
int tlsrpt_write(struct buf *b, const struct tlsrpt_report *);

/* "starttls-not-supported", ... (4.3). */
const char *tlsrpt_result_name(enum tlsrpt_result);
/* "no-policy-found", "sts", "tlsa". */
const char *tlsrpt_policy_type_name(enum tlsrpt_policy_type);

#endif
