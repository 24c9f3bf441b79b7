/* SPDX-License-Identifier: ISC */
/*
 * deliver/tlsrpt.c - the TLS-RPT record parser and report writer (RFC
 * 8460 3, 4). See tlsrpt.h for the rules.
 */
#include <string.h>

#include "deliver/tlsrpt.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/str.h"

#define TXT_PREFIX "v=TLSRPTv1"

static const char *const result_names[TLSRPT_RESULT_COUNT] = {
	[TLSRPT_STARTTLS_NOT_SUPPORTED] = "starttls-not-supported",
	[TLSRPT_CERT_HOST_MISMATCH] = "certificate-host-mismatch",
	[TLSRPT_CERT_EXPIRED] = "certificate-expired",
	[TLSRPT_CERT_NOT_TRUSTED] = "certificate-not-trusted",
	[TLSRPT_VALIDATION_FAILURE] = "validation-failure",
	[TLSRPT_TLSA_INVALID] = "tlsa-invalid",
	[TLSRPT_DNSSEC_INVALID] = "dnssec-invalid",
	[TLSRPT_DANE_REQUIRED] = "dane-required",
	[TLSRPT_STS_POLICY_FETCH_ERROR] = "sts-policy-fetch-error",
	[TLSRPT_STS_POLICY_INVALID] = "sts-policy-invalid",
	[TLSRPT_STS_WEBPKI_INVALID] = "sts-webpki-invalid",
};

const char *
tlsrpt_result_name(enum tlsrpt_result r)
{
	return (unsigned)r < TLSRPT_RESULT_COUNT ? result_names[r]
	                                         : "validation-failure";
}

const char *
tlsrpt_policy_type_name(enum tlsrpt_policy_type t)
{
	switch (t) {
	case TLSRPT_STS:
		return "sts";
	case TLSRPT_TLSA:
		return "tlsa";
	case TLSRPT_NO_POLICY:
		break;
	}
	return "no-policy-found";
}

/* ---- the record (3) ---- */

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static void
trim(const char **p, size_t *n)
{
	while (*n > 0 && is_wsp((*p)[0]))
		(*p)++, (*n)--;
	while (*n > 0 && is_wsp((*p)[*n - 1]))
		(*n)--;
}

/* Is p[0..n) one URI we can send to, printable and of a kept scheme? */
static bool
uri_ok(const char *p, size_t n)
{
	size_t i, scheme;

	if (n >= 7 && ascii_ncasecmp(p, "mailto:", 7) == 0)
		scheme = 7;
	else if (n >= 8 && ascii_ncasecmp(p, "https://", 8) == 0)
		scheme = 8;
	else
		return false;
	if (n == scheme || n >= TLSRPT_URI_MAX)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f)
			return false;
	return true;
}

/* rua=URI *("," URI): keep the usable ones. */
static void
rua_list(const char *p, size_t n, struct tlsrpt_record *out)
{
	const char *end = p + n, *comma;
	size_t len;

	for (; p < end && out->nrua < TLSRPT_RUA_MAX; p = comma + 1) {
		if ((comma = memchr(p, ',', (size_t)(end - p))) == NULL)
			comma = end;
		len = (size_t)(comma - p);
		trim(&p, &len);
		if (uri_ok(p, len)) {
			memcpy(out->rua[out->nrua], p, len);
			out->rua[out->nrua][len] = '\0';
			out->nrua++;
		}
		if (comma == end)
			break;
	}
}

enum tlsrpt_txt
tlsrpt_txt_parse(const char *txt, size_t len, struct tlsrpt_record *out,
    struct why *why)
{
	const size_t plen = sizeof(TXT_PREFIX) - 1;
	const char *p, *end = txt + len, *semi, *eq;
	bool seen_rua = false;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (len < plen || memcmp(txt, TXT_PREFIX, plen) != 0)
		return TLSRPT_TXT_OTHER;
	p = txt + plen;
	while (p < end && is_wsp(*p))
		p++;
	if (p == end || *p != ';')
		return TLSRPT_TXT_OTHER;
	for (p++; p < end; p = semi + 1) {
		if ((semi = memchr(p, ';', (size_t)(end - p))) == NULL)
			semi = end;
		n = (size_t)(semi - p);
		trim(&p, &n);
		if (n > 0 && (eq = memchr(p, '=', n)) != NULL &&
		    eq - p == 3 && memcmp(p, "rua", 3) == 0) {
			if (seen_rua) {
				memset(out, 0, sizeof(*out));
				(void)why_set(why, WHY_PERM, 0,
				    "tls-rpt record: two rua fields");
				return TLSRPT_TXT_INVALID;
			}
			seen_rua = true;
			rua_list(eq + 1, n - 4, out);
		}
		if (semi == end)
			break;
	}
	if (out->nrua == 0) {
		(void)why_set(why, WHY_PERM, 0, "tls-rpt record: no mailto: "
		    "or https: address in rua");
		return TLSRPT_TXT_INVALID;
	}
	return TLSRPT_TXT_OK;
}

/* ---- the report (4) ---- */

static int
kv_time(struct buf *b, const char *key, time_t t)
{
	struct tm tm;
	char s[32];

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)strlcpy(s, "1970-01-01T00:00:00Z", sizeof(s));
	return json_kv_str(b, key, s);
}

/* json_kv_str(), but an empty string is left out (unknown). */
static int
kv_opt(struct buf *b, const char *key, const char *s)
{
	return s[0] == '\0' ? 0 : json_kv_str(b, key, s);
}

static int
write_failure(struct buf *b, const struct tlsrpt_failure *f)
{
	if (buf_append(b, "{", 1) == -1 ||
	    json_kv_str(b, "result-type", tlsrpt_result_name(f->result)) ==
		-1 ||
	    kv_opt(b, "sending-mta-ip", f->sending_ip) == -1 ||
	    kv_opt(b, "receiving-mx-hostname", f->mx_host) == -1 ||
	    kv_opt(b, "receiving-ip", f->mx_ip) == -1 ||
	    json_kv_u64(b, "failed-session-count", f->sessions) == -1 ||
	    kv_opt(b, "failure-reason-code", f->reason) == -1)
		return -1;
	return buf_append(b, "}", 1);
}

static int
write_policy(struct buf *b, const struct tlsrpt_policy *p)
{
	size_t i;

	if (buf_append_str(b, "{\"policy\":{") == -1 ||
	    json_kv_str(b, "policy-type", tlsrpt_policy_type_name(p->type)) ==
		-1 ||
	    (p->nstrings > 0 &&
		json_kv_strs(b, "policy-string", p->strings, p->nstrings) ==
		    -1) ||
	    json_kv_str(b, "policy-domain", p->domain) == -1 ||
	    (p->nmx > 0 && json_kv_strs(b, "mx-host", p->mx, p->nmx) == -1) ||
	    buf_append_str(b, "},\"summary\":{") == -1 ||
	    json_kv_u64(b, "total-successful-session-count", p->ok) == -1 ||
	    json_kv_u64(b, "total-failure-session-count", p->failed) == -1 ||
	    buf_append(b, "}", 1) == -1)
		return -1;
	if (p->nfail > 0) {
		if (buf_append_str(b, ",\"failure-details\":[") == -1)
			return -1;
		for (i = 0; i < p->nfail; i++)
			if ((i > 0 && buf_append(b, ",", 1) == -1) ||
			    write_failure(b, &p->fail[i]) == -1)
				return -1;
		if (buf_append(b, "]", 1) == -1)
			return -1;
	}
	return buf_append(b, "}", 1);
}

int
tlsrpt_write(struct buf *b, const struct tlsrpt_report *r)
{
	size_t i;

	if (buf_append(b, "{", 1) == -1 ||
	    json_kv_str(b, "organization-name", r->org) == -1 ||
	    buf_append_str(b, ",\"date-range\":{") == -1 ||
	    kv_time(b, "start-datetime", r->start) == -1 ||
	    kv_time(b, "end-datetime", r->end) == -1 ||
	    buf_append(b, "}", 1) == -1 ||
	    json_kv_str(b, "contact-info", r->contact) == -1 ||
	    json_kv_str(b, "report-id", r->report_id) == -1 ||
	    buf_append_str(b, ",\"policies\":[") == -1)
		return -1;
	for (i = 0; i < r->npol; i++)
		if ((i > 0 && buf_append(b, ",", 1) == -1) ||
		    write_policy(b, &r->pol[i]) == -1)
			return -1;
	return buf_append_str(b, "]}");
}
