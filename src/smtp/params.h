/* SPDX-License-Identifier: ISC */
/*
 * smtp/params.h - the arguments of MAIL and RCPT: the path and the ESMTP
 * parameters (RFC 5321 4.1.1.2, 4.1.1.3, 4.1.2; RFC 1869 grammar
 * esmtp-keyword["=" esmtp-value], keyword in any case, each at most once).
 *
 * Known parameters: SIZE (RFC 1870), BODY=7BIT|8BITMIME (RFC 6152),
 * SMTPUTF8 (RFC 6531), AUTH (RFC 4954 5), RET, ENVID, NOTIFY, ORCPT
 * (RFC 3461 4), REQUIRETLS (RFC 8689 2, no value). It does not apply policy: a SIZE above the limit, an AUTH=
 * from an unauthenticated client or a relay attempt are the session's
 * business.
 * Pure. Trust: the argument comes from the peer; outputs are fixed-size.
 */
#ifndef TERN_SMTP_PARAMS_H
#define TERN_SMTP_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp/addr.h"

enum smtp_body {
	SMTP_BODY_DEFAULT = 0, /* no BODY= given */
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
};

enum smtp_ret {
	SMTP_RET_NONE = 0,
	SMTP_RET_FULL,
	SMTP_RET_HDRS,
};

/* NOTIFY= bits, RFC 3461 4.1; 0 means not given. */
#define SMTP_NOTIFY_NEVER 1
#define SMTP_NOTIFY_SUCCESS 2
#define SMTP_NOTIFY_FAILURE 4
#define SMTP_NOTIFY_DELAY 8

#define SMTP_ENVID_MAX 100 /* RFC 3461 4.4 */

struct smtp_mail {
	struct smtp_addr from; /* may be the null path */
	uint64_t size;         /* SIZE=, valid if has_size */
	bool has_size;
	enum smtp_body body;
	bool smtputf8;
	bool has_auth;
	char auth[SMTP_PATH_MAX + 1]; /* AUTH= as sent (xtext or "<>") */
	enum smtp_ret ret;
	char envid[SMTP_ENVID_MAX + 1]; /* ENVID= as sent (xtext), or "" */
	bool requiretls; /* REQUIRETLS (RFC 8689 2): TLS on every hop */
};

struct smtp_rcpt {
	struct smtp_addr to; /* never null; may be bare postmaster */
	unsigned notify;     /* SMTP_NOTIFY_* bits, 0 if not given */
	/* ORCPT= as sent, "addr-type;xtext" (RFC 3461 4.2), or "" */
	char orcpt[SMTP_PATH_MAX + 12];
};

/* What the session offered, and for RCPT, what the MAIL said. */
enum smtp_ext {
	SMTP_EXT_ESMTP = 1,    /* client said EHLO: parameters allowed */
	SMTP_EXT_SMTPUTF8 = 2, /* for RCPT: the transaction's MAIL had it */
	SMTP_EXT_DSN = 4,      /* DSN advertised: RET ENVID NOTIFY ORCPT */
	SMTP_EXT_AUTH = 8,     /* AUTH advertised: AUTH= on MAIL */
	/* REQUIRETLS known (RFC 8689): the session checks it came over TLS */
	SMTP_EXT_REQUIRETLS = 16,
};

enum smtp_arg_status {
	SMTP_ARG_OK = 0,
	SMTP_ARG_SYNTAX,        /* not "FROM:<path>" / "TO:<path>" shape */
	SMTP_ARG_BAD_ADDR,      /* the path failed smtp_path_parse() */
	SMTP_ARG_UTF8_NEEDED,   /* UTF-8 address without SMTPUTF8 */
	SMTP_ARG_UNKNOWN_PARAM, /* keyword not known or not advertised */
	SMTP_ARG_BAD_PARAM,     /* known keyword, bad or repeated value */
};

/*
 * arg is what follows "MAIL ": "FROM:<a@b> SIZE=10 BODY=8BITMIME". One
 * space after the colon is tolerated (a common client bug that Postfix
 * also accepts); parameters are separated by one or more SP. The null
 * path is allowed. A UTF-8 address needs the SMTPUTF8 parameter (RFC
 * 6531 3.4). Without SMTP_EXT_ESMTP any parameter is UNKNOWN_PARAM. On
 * failure *why_out is a short static reason (never NULL) and *out is
 * cleared; on success *why_out is NULL.
 */
enum smtp_arg_status smtp_mail_parse(const char *arg, size_t n, unsigned ext,
    struct smtp_mail *out, const char **why_out);

/*
 * arg is what follows "RCPT ": "TO:<x@y> NOTIFY=SUCCESS,FAILURE
 * ORCPT=rfc822;x@y". "<Postmaster>" without a domain is allowed, the
 * null path is not. A UTF-8 address needs SMTP_EXT_SMTPUTF8 in ext.
 * Otherwise as smtp_mail_parse().
 */
enum smtp_arg_status smtp_rcpt_parse(const char *arg, size_t n, unsigned ext,
    struct smtp_rcpt *out, const char **why_out);

/*
 * RFC 6533 3: the utf-8-address that an ORCPT of the "utf-8" type
 * encodes. p[0..n) is what follows "utf-8;" (as smtp_rcpt.orcpt keeps
 * it); it must be utf-8-addr-xtext or utf-8-addr-unitext, made of:
 *   - QCHAR: "!".."~" but '+', '=' and '\' (so an xtext "+XX" is refused);
 *   - QUCHAR: raw UTF-8, strict as utf8_decode();
 *   - EmbeddedUnicodeChar "\x{HEX}": 2 to 6 hex digits in any case, no
 *     leading zero but in "01"-"09", naming U+0001-U+0020, '+', '=', '\',
 *     DEL or a non-ASCII scalar value (no surrogate, nothing above
 *     U+10FFFF).
 * The decoded text must be a Mailbox of RFC 6531 (smtp_mailbox_parse()
 * with SMTP_ADDR_UTF8).
 * true: dst holds it as UTF-8, NUL-terminated, and *why_out is NULL.
 * false: p is not such an address or the result and its NUL do not fit
 * dstsz (dst then holds garbage); *why_out is a short static reason.
 * Reads only p[0..n) (a NUL in it is refused), writes only dst[0..dstsz).
 * Pure. Trust: p is the client's, from RCPT or from the spool.
 */
bool smtp_orcpt_utf8_decode(const char *p, size_t n, char *dst, size_t dstsz,
    const char **why_out);

/*
 * The reply line (no CRLF) for a status; the caller may append ": why".
 * Static strings. The table:
 *
 *   status          MAIL                                RCPT
 *   OK              250 2.1.0 Sender ok                 250 2.1.5 Recipient ok
 *   SYNTAX          501 5.5.4 Syntax error in parameters (both)
 *   BAD_ADDR        501 5.1.7 Bad sender address syntax
 *                                                       553 5.1.3 Bad recipient
 *                                                         address syntax
 *   UTF8_NEEDED     553 5.6.7 Address needs SMTPUTF8 (both; RFC 6531 3.4)
 *   UNKNOWN_PARAM   555 5.5.4 Unsupported parameter (both; RFC 5321
 *                   4.1.1.11, RFC 1869 6)
 *   BAD_PARAM       501 5.5.4 Invalid parameter value (both)
 *
 * Enhanced codes are from RFC 3463 and RFC 6531 3.7.4.
 */
const char *smtp_arg_reply(enum smtp_arg_status, bool is_rcpt);

#endif
