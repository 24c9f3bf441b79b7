/* SPDX-License-Identifier: ISC */
/*
 * auth/authres.h - the Authentication-Results header field (RFC 8601):
 * write tern's own, and recognize received ones that claim tern's
 * authserv-id so that they can be removed first (RFC 8601 5).
 *
 * The writer produces one field, "Authentication-Results: ID; resinfo;
 * resinfo...\r\n" (RFC 8601 2.2), or "ID; none" without results, folded
 * with CRLF SP so that a line stays within 78 columns whenever each
 * piece fits (a piece longer than that gets a line of its own; no line
 * ever exceeds AUTHRES_LINE_HARD_MAX). Values that come from outside
 * (domains from a DKIM signature, the HELO name, an SPF explanation) are
 * made safe: a value is written bare when it is all RFC 5322 atext plus
 * "." and "@" (a token, a domain, local@domain, a base64 header.b), else
 * as a quoted-string; reasons are quoted-strings, comments are (...);
 * in both, bytes outside printable ASCII become '?', runs of white space
 * become one space, and \ " ( ) are escaped as quoted-pairs. A property
 * whose value is longer than AUTHRES_VALUE_MAX is left out; reasons and
 * comments are cut to AUTHRES_TEXT_MAX. Properties with quoted values are
 * written after the bare ones (python3-authres 1.2 reads a quoted value
 * only at the end of a resinfo).
 *
 * Pure: no logging, no allocation beyond `out`. Any thread.
 * Trust: values, reasons and comments are hostile; method, result,
 * ptype and property names and the authserv-id are the caller's and
 * must be keywords (else the call fails, EINVAL).
 */
#ifndef TERN_AUTH_AUTHRES_H
#define TERN_AUTH_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

#define AUTHRES_LINE_MAX 78       /* RFC 5322 2.1.1 SHOULD */
#define AUTHRES_LINE_HARD_MAX 998 /* RFC 5322 2.1.1 MUST */
#define AUTHRES_VALUE_MAX 255     /* longest property value written */
#define AUTHRES_TEXT_MAX 200      /* reason and comment, after cleaning */
#define AUTHRES_ID_MAX 253        /* authserv-id: a host name */
#define AUTHRES_PROPS_MAX 8

/* ptype.property=value, e.g. "smtp", "mailfrom", "user@example.com";
 * "header", "d", "example.com"; "policy", "dmarc", "reject". */
struct authres_prop {
	const char *ptype;
	const char *prop;
	const char *value; /* hostile; NULL or "" leaves the property out */
};

/* One resinfo: method=result [reason="..."] [(comment)] props. */
struct authres_result {
	const char *method;  /* "spf", "dkim", "dmarc", "arc", "iprev" */
	const char *result;  /* "pass", "fail", ... */
	const char *reason;  /* hostile; NULL: none */
	const char *comment; /* hostile; NULL: none */
	struct authres_prop props[AUTHRES_PROPS_MAX];
	size_t n_props;
};

/*
 * Append the whole field, name and final CRLF included, to out. 0, or -1
 * with out unchanged and errno EINVAL (authserv_id not a dot-atom host
 * name of at most AUTHRES_ID_MAX bytes, or a method, result, ptype or
 * property that is not a keyword, or n_props > AUTHRES_PROPS_MAX),
 * EMSGSIZE or ENOMEM (buf_append()).
 */
int authres_write(struct buf *out, const char *authserv_id,
    const struct authres_result *res, size_t n);

/*
 * true if the field value p[0..n) (after "Authentication-Results:",
 * folded or not) names authserv_id: leading CFWS (comments nested to any
 * depth within n) skipped, then the authserv-id as a token or a
 * quoted-string, compared case-insensitively and as a whole. What
 * follows (a version, the results) does not matter: a forged field is
 * removed even when the rest of it is malformed. Pure.
 */
bool authres_claims_id(const char *p, size_t n, const char *authserv_id);

#endif
