/* SPDX-License-Identifier: ISC */
/*
 * auth/dmarc.h - DMARC (RFC 7489) for inbound mail: the RFC5322.From
 * domain, the organizational domain (Public Suffix List, libpsl), the
 * policy record, SPF/DKIM identifier alignment, and the policy that
 * applies to one message.
 *
 * It does not check SPF or DKIM (the caller passes their results), send
 * reports (rua/ruf are parsed and kept, never used), or act on the
 * verdict: the caller maps `policy` to 550 / Junk / a note.
 *
 * The From decisions (RFC 7489 6.6.1, and the two maddy 0.9.7 bypasses):
 *  - domains are compared case-insensitively: every domain is lower-cased
 *    (ASCII letters) and loses a trailing dot before any comparison or
 *    lookup, so From: a@EXAMPLE.com aligns with d=example.COM;
 *  - a message without exactly one From address with a domain is never
 *    evaluated as if it had one: no From field, several From fields,
 *    several addresses (in one field or in groups; even when they share a
 *    domain), no address (an empty group), an IP literal or a From that
 *    does not parse all give result permerror and policy REJECT
 *    (dmarc_from_verdict()). RFC 5322 3.6 requires exactly one From field;
 *    mail with several authors is too rare to be worth the risk of
 *    picking the wrong domain;
 *  - an IDN is kept as given: an A-label (xn--...) stays an A-label and a
 *    U-label stays UTF-8 (only ASCII letters are lower-cased); nothing is
 *    converted, so a U-label From does not align with an A-label d= and
 *    its _dmarc lookup finds nothing (result none): never a false pass.
 *
 * Pure: dmarc_from_domain(), dmarc_record_parse(), dmarc_from_verdict(),
 * the name functions. dmarc_org_domain() reads the PSL once (thread-safe,
 * first call loads /usr/share/publicsuffix or libpsl's built-in list).
 * Blocking (worker threads only, never an event loop): dmarc_check() and
 * dmarc_check_message(), which ask DNS through struct authdns.
 * Trust: From field values are peer bytes and DNS answers are hostile;
 * both are parsed with bounds, nothing they hold is copied unchecked.
 */
#ifndef TERN_AUTH_DMARC_H
#define TERN_AUTH_DMARC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/authdns.h"
#include "auth/authres.h"

#define DMARC_DOMAIN_MAX 254   /* 253 + NUL, RFC 1035 2.3.4 */
#define DMARC_FROM_MAX 16384   /* bytes of one From field value we parse */
#define DMARC_REASON_MAX 200   /* verdict reason, NUL included */
#define DMARC_URIS_MAX 256     /* rua/ruf kept, NUL included; cut beyond */
#define DMARC_COMMENT_DEPTH 16 /* nested (comments) in a From value */

/* RFC 8601 2.7.1 / RFC 7489 11.2 result words (dmarc_result_name()). */
enum dmarc_result {
	DMARC_NONE = 0, /* no policy record: DMARC does not apply */
	DMARC_PASS,
	DMARC_FAIL,
	DMARC_TEMPERROR, /* DNS failed: the caller may defer (4xx) */
	DMARC_PERMERROR, /* the From is unusable (see above) */
};

/* p= / sp= values; also the action a verdict asks for. */
enum dmarc_policy {
	DMARC_POLICY_NONE = 0,
	DMARC_POLICY_QUARANTINE,
	DMARC_POLICY_REJECT,
};

/* ---- The RFC5322.From domain ---- */

/* One From field value as received: the bytes after "From:" up to, not
 * including, the CRLF that ends the field; folding (CRLF WSP) inside is
 * fine. Not NUL-terminated; a NUL byte inside is a syntax error. */
struct dmarc_field {
	const char *p;
	size_t n;
};

enum dmarc_from {
	DMARC_FROM_OK = 0,
	DMARC_FROM_NONE,           /* no From field */
	DMARC_FROM_SEVERAL_FIELDS, /* more than one From field */
	DMARC_FROM_SEVERAL_ADDRS,  /* more than one address */
	DMARC_FROM_NO_ADDR,        /* no address (empty, or empty groups) */
	DMARC_FROM_SYNTAX,         /* does not parse as RFC 5322/6854/6532 */
	DMARC_FROM_BAD_DOMAIN,     /* IP literal, bad label, too long */
};

/*
 * The domain of the single From address of fields[0..n) into
 * domain_out (lower-case, no trailing dot) on DMARC_FROM_OK. Accepts the
 * RFC 5322 address grammar with its obsolete forms (CFWS anywhere,
 * comments nested up to DMARC_COMMENT_DEPTH, quoted local parts, display
 * names with encoded words, routes in angle addresses), RFC 6854 groups
 * and RFC 6532 UTF-8. The domain is always the one of the addr-spec,
 * never text from a display name or a comment. Pure.
 */
enum dmarc_from dmarc_from_domain(const struct dmarc_field *fields, size_t n,
    char domain_out[DMARC_DOMAIN_MAX]);
/* "ok", "no From field", ... for logs and reasons. */
const char *dmarc_from_name(enum dmarc_from);

/* ---- Organizational domain (RFC 7489 3.2) ---- */

/*
 * The organizational domain of `domain` (normalized first) into out:
 * the registrable domain by the Public Suffix List with its private
 * section (a.b.example.com -> example.com, mail.example.co.uk ->
 * example.co.uk, x.user.github.io -> user.github.io); a domain that is
 * itself a public suffix is its own. false if domain is empty or too
 * long. The list is loaded on first use: psl_latest() (the newest of
 * /usr/share/publicsuffix and the built-in list), else psl_builtin().
 */
bool dmarc_org_domain(const char *domain, char out[DMARC_DOMAIN_MAX]);

/* ---- The policy record (RFC 7489 6.3, 6.4) ---- */

struct dmarc_record {
	enum dmarc_policy p;
	enum dmarc_policy sp; /* = p when absent */
	bool has_sp;
	bool p_from_rua;          /* p or sp was invalid, rua valid: p=none */
	unsigned pct;             /* 0..100; 100 when absent or invalid */
	bool adkim_strict;        /* adkim=s; relaxed by default */
	bool aspf_strict;         /* aspf=s */
	uint32_t ri;              /* 86400 when absent or invalid */
	char rua[DMARC_URIS_MAX]; /* as published, cut to fit; "" if none */
	char ruf[DMARC_URIS_MAX];
};

enum dmarc_record_status {
	DMARC_RECORD_OK = 0,
	DMARC_RECORD_NOT_DMARC, /* does not start with v=DMARC1: skip it */
	DMARC_RECORD_INVALID,   /* a DMARC record that cannot be used */
};

/*
 * Parse one joined TXT record p[0..n) (not NUL-terminated; a NUL makes
 * it invalid). v=DMARC1 must be the first tag ("DMARC1" case-sensitive,
 * RFC 7489 6.4); p= is required, but an invalid or missing p (or an
 * invalid sp) with a syntactically valid rua URI reads as p=none (RFC
 * 7489 6.6.3). Tag names and policy words are case-insensitive; unknown
 * tags are ignored; a repeated tag keeps its first value; a tag-spec
 * that is not `name = value` makes the record invalid. Records longer
 * than DNS_RDATA_MAX are invalid. *why_out (may be NULL) says what was
 * wrong, a static string. Pure.
 */
enum dmarc_record_status dmarc_record_parse(const char *p, size_t n,
    struct dmarc_record *out, const char **why_out);

/* ---- The check ---- */

/* A DKIM signature's result: d= and whether it verified. */
struct dmarc_dkim {
	const char *domain;
	bool pass;
};

struct dmarc_verdict {
	enum dmarc_result result;
	/* What to do with this message: REJECT/QUARANTINE only on fail (or
	 * the permerror From cases); NONE otherwise. pct applied. */
	enum dmarc_policy policy;
	/* The record's policy for this From (p or sp), before pct; NONE
	 * without a record, REJECT in the From error cases. For A-R
	 * policy.dmarc= use `policy` (dmarc_authres() does). */
	enum dmarc_policy published;
	bool sampled_out; /* fail, but outside pct: policy lowered a step */
	bool spf_aligned, dkim_aligned;
	char from_domain[DMARC_DOMAIN_MAX]; /* "" in the From error cases */
	char org_domain[DMARC_DOMAIN_MAX];
	char record_domain[DMARC_DOMAIN_MAX]; /* where the record was, or "" */
	char reason[DMARC_REASON_MAX];        /* one short line, for A-R */
};

/*
 * Evaluate DMARC for a message whose From domain is from_domain (from
 * dmarc_from_domain(); normalized again here). spf_result is the SPF
 * result word ("pass", "fail", ...; only "pass" counts, case-insensitive;
 * NULL is none) for spf_domain, the domain SPF checked: the MAIL FROM
 * domain, or the HELO name for the null sender (may be NULL). dkim[0..
 * n_dkim) are the DKIM results. sample is a random number (any value;
 * used modulo 100) for pct: the server passes dmarc_random(), tests a
 * fixed one; a fail is sampled in when sample % 100 < pct, otherwise
 * reject becomes quarantine and quarantine none (RFC 7489 6.6.4, 6.3).
 *
 * Policy discovery (RFC 7489 6.6.3): TXT _dmarc.FROM, and if it holds no
 * v=DMARC1 record, _dmarc.ORG; several v=DMARC1 records at a name give
 * none; an invalid record gives none; a DNS failure gives temperror.
 * sp applies when the record came from the organizational domain and
 * FROM is a subdomain of it. Alignment (RFC 7489 3.1): strict is equal
 * domains, relaxed is equal organizational domains. Fills *out always.
 * Blocking: up to two TXT lookups through dns.
 */
void dmarc_check(const struct authdns *dns, const char *from_domain,
    const char *spf_result, const char *spf_domain,
    const struct dmarc_dkim *dkim, size_t n_dkim, uint32_t sample,
    struct dmarc_verdict *out);

/* *out for a From that is not OK: permerror, policy REJECT, the reason.
 * Pure. */
void dmarc_from_verdict(enum dmarc_from, struct dmarc_verdict *out);

/*
 * dmarc_from_domain() and then dmarc_check() or dmarc_from_verdict():
 * the one call a caller needs. Blocking, as dmarc_check().
 */
void dmarc_check_message(const struct authdns *dns,
    const struct dmarc_field *from_fields, size_t n_from,
    const char *spf_result, const char *spf_domain,
    const struct dmarc_dkim *dkim, size_t n_dkim, uint32_t sample,
    struct dmarc_verdict *out);

/*
 * The verdict as an Authentication-Results resinfo (RFC 8601, RFC 7489
 * 11.2): dmarc=RESULT, reason= unless pass, a comment "p=PUBLISHED
 * dis=POLICY", header.from=FROM and policy.dmarc=POLICY (the action
 * asked for, after pct). *out points into *v and static strings: keep v
 * alive while out is used. Pure.
 */
void dmarc_authres(const struct dmarc_verdict *v, char *comment,
    size_t commentsz, struct authres_result *out);

/* A uniformly random number in 0..99 (getrandom(2)) for `sample`. */
uint32_t dmarc_random(void);

/* "none", "pass", "fail", "temperror", "permerror" (RFC 8601). */
const char *dmarc_result_name(enum dmarc_result);
/* "none", "quarantine", "reject" (RFC 7489 6.3). */
const char *dmarc_policy_name(enum dmarc_policy);

#endif
