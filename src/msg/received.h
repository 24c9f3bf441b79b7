/* SPDX-License-Identifier: ISC */
/*
 * msg/received.h - build the Received: trace field (RFC 5321 4.4,
 * RFC 5322 3.6.7) and RFC 5322 3.3 date-times.
 *
 * It does not decide what goes in (TLS and AUTH details are the
 * session's choice: pass NULL to leave them out).
 * Pure apart from reading the time zone (localtime_r). Trust: helo
 * comes from the peer and the other strings may be peer-influenced
 * (reverse DNS, addresses), so every field is sanitized and capped.
 */
#ifndef TERN_MSG_RECEIVED_H
#define TERN_MSG_RECEIVED_H

#include <stddef.h>
#include <time.h>

#include "util/buf.h"

#define MSG_FIELD_MAX 100 /* chars kept of peer text, like %.100s */
#define MSG_LINE_FOLD 78  /* RFC 5322 2.1.1 */
#define MSG_DATE_MAX 32   /* "Sat, 28 Nov 2026 12:00:00 +0000" + NUL */

struct msg_received {
	const char *helo;        /* EHLO/HELO argument; NULL -> "unknown" */
	const char *client_name; /* verified rDNS name; NULL -> "unknown" */
	const char *client_addr; /* "192.0.2.1" or "2001:db8::1" */
	const char *by;          /* our host name */
	const char *with;        /* "ESMTP", "ESMTPSA", "UTF8SMTPS", ... */
	const char *id;          /* queue id */
	const char *for_addr;    /* one recipient (no <>), or NULL */
	const char *tls;         /* e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384" */
	const char *auth_user;   /* NULL unless the operator wants it shown */
	time_t when;
};

/*
 * Append the field, shaped like
 *   Received: from HELO (NAME [ADDR])
 *   \t(using TLS)
 *   \t(authenticated as USER)
 *   \tby BY (tern) with WITH id ID
 *   \tfor <X>; DATE
 * with CRLF line ends, folding further at white space so lines stay
 * within 78 characters where the words allow. Text is kept to printable
 * ASCII (others become '?'; parentheses, backslashes, ';', '<', '>' and
 * '"' too, so no peer text can close a comment or start the date) and
 * capped at MSG_FIELD_MAX chars; for_addr keeps well-formed UTF-8 (RFC
 * 6532) and up to SMTP_ADDR_FMT_MAX bytes. An IPv6 client_addr is written
 * "[IPv6:...]" (RFC 5321 4.1.3). Returns 0, or -1 if out is full or
 * cannot grow (out is then unchanged) or the date cannot be formatted.
 */
int msg_received_format(const struct msg_received *, struct buf *out);

/*
 * RFC 5322 3.3 date-time in local time with a numeric zone, e.g.
 * "Sat, 28 Nov 2026 12:00:00 +0000", NUL-terminated in dst. Uses
 * localtime_r and tm_gmtoff (no globals). Returns its length, or -1 if
 * it does not fit (dstsz >= MSG_DATE_MAX always fits) or t is out of
 * range.
 */
int msg_date_format(time_t t, char *dst, size_t dstsz);

#endif
