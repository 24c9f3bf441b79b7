/* SPDX-License-Identifier: ISC */
/*
 * deliver/mtasts.h - MTA-STS (RFC 8461), the pure part: the
 * `_mta-sts.DOMAIN` TXT record (3.1), the policy file served at
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt (3.2), and whether an
 * MX host name is one the policy allows (4.1).
 *
 * Fetching the policy (HTTPS, libcurl), caching it for max_age and
 * refreshing it when the record's id changes are the caller's: these
 * functions only read bytes they are given.
 *
 * The decisions, where the RFC leaves room:
 *  - a record or policy that does not parse is no policy at all (3.1,
 *    3.2: "senders MUST assume the recipient domain does not have an
 *    available MTA-STS Policy"); never a guess at what was meant;
 *  - a policy field other than `mx` given twice makes the policy invalid
 *    (two modes cannot both apply); unknown fields are ignored (3.2);
 *  - a policy in mode testing or enforce without one `mx` is invalid: it
 *    could match no host; mode none needs none;
 *  - max_age above 31557600 (one year, 3.2) is cut to it, not refused;
 *  - names are compared case-insensitively, a trailing dot ignored; a
 *    `*.` pattern matches exactly one whole left-most label (4.1), so
 *    `*.example.com` matches `mx.example.com` but neither `example.com`
 *    nor `a.mx.example.com`.
 * Trust: the record and the policy are hostile bytes (anyone can publish
 * them): every length is checked, at most MTASTS_MX_MAX patterns are
 * kept (more make the policy invalid, not silently shorter), and a
 * pattern is kept only when it is a host name (optionally `*.`-led).
 */
#ifndef TERN_DELIVER_MTASTS_H
#define TERN_DELIVER_MTASTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/why.h"

#define MTASTS_ID_MAX 32             /* 1*32(ALPHA / DIGIT), 3.1 */
#define MTASTS_NAME_MAX 254          /* a pattern + NUL */
#define MTASTS_MX_MAX 32             /* mx patterns in one policy */
#define MTASTS_POLICY_MAX 65536      /* bytes of a policy body, 3.3 */
#define MTASTS_MAX_AGE_MAX 31557600u /* seconds, 3.2 */

enum mtasts_mode {
	MTASTS_NONE = 0, /* published to withdraw a policy: apply none */
	MTASTS_TESTING,  /* check and report, deliver anyway */
	MTASTS_ENFORCE,  /* deliver only to a listed MX over verified TLS */
};

struct mtasts_policy {
	enum mtasts_mode mode;
	uint32_t max_age; /* seconds, at most MTASTS_MAX_AGE_MAX */
	size_t nmx;
	char mx[MTASTS_MX_MAX][MTASTS_NAME_MAX]; /* lower-case, no final dot */
};

/* What one TXT record at _mta-sts.DOMAIN is (mtasts_txt_parse()). */
enum mtasts_txt {
	MTASTS_TXT_OTHER = 0, /* not "v=STSv1;...": ignore it (3.1) */
	MTASTS_TXT_OK,        /* an STS record; id filled */
	MTASTS_TXT_INVALID,   /* starts as one but does not parse */
};

/*
 * One TXT record (its strings joined, len bytes): v=STSv1 first, then
 * `; id=...` with 1-32 letters and digits; other fields ignored. id gets
 * the NUL-terminated id on MTASTS_TXT_OK; why says what is wrong on
 * MTASTS_TXT_INVALID. The caller counts the STS records: not exactly
 * one valid record means no policy (3.1).
 */
enum mtasts_txt mtasts_txt_parse(const char *txt, size_t len,
    char id[MTASTS_ID_MAX + 1], struct why *);

/*
 * A policy body (at most MTASTS_POLICY_MAX bytes: the fetcher stops
 * reading there): `key: value` lines ended by LF or CRLF. 0 with *out
 * filled, or -1 with why (the policy is invalid: treat as none).
 */
int mtasts_policy_parse(const char *body, size_t len,
    struct mtasts_policy *out, struct why *);

/* Does `host` (an MX name, any case, final dot allowed) match one of the
 * policy's mx patterns (4.1)? */
bool mtasts_mx_allowed(const struct mtasts_policy *, const char *host);

/* One pattern against one host name, the rule above. */
bool mtasts_name_match(const char *pattern, const char *host);

/* "none", "testing", "enforce". */
const char *mtasts_mode_name(enum mtasts_mode);

#endif
