/* SPDX-License-Identifier: ISC */
/*
 * smtp/data.h - decode a message body sent with DATA (dot mode: end at
 * CRLF "." CRLF, undo dot-stuffing, RFC 5321 4.1.1.4 and 4.5.2) or BDAT
 * (chunk mode: bytes as they are, RFC 3030 2).
 *
 * Defends against SMTP smuggling (CVE-2023-51764 class,
 * https://www.postfix.org/smtp-smuggling.html): ONLY <CR><LF>.<CR><LF>
 * ends DATA. "\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n" and the like never
 * do; a bare CR or bare LF is passed through unchanged and flagged, and
 * the session refuses the whole message after its real end. A dot is
 * unstuffed only at the start of a line that began after CRLF (or at the
 * very start). Every split of the input gives the same result (unless
 * memory runs out: SMTP_DATA_F_NOMEM).
 * It does not look at headers (msg/hdr.h) nor enforce the size limit
 * (the caller caps `out` and checks smtp_data_size()).
 * Pure. Trust: every byte is hostile; no memory beyond the struct and
 * the caller's `out`.
 */
#ifndef TERN_SMTP_DATA_H
#define TERN_SMTP_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define SMTP_DATA_LINE_MAX 1000 /* incl. CRLF, RFC 5321 4.5.3.1.6 */

struct smtp_data_limits {
	size_t line_max; /* text line incl. CRLF, not counting a stuffed dot */
};

enum smtp_data_mode {
	SMTP_DATA_DOT = 0,
	SMTP_DATA_CHUNK,
};

enum smtp_data_status {
	SMTP_DATA_NEED_MORE = 0,
	SMTP_DATA_END, /* DOT mode only: CRLF.CRLF seen */
};

/* Sticky for the message; the session refuses a message with BARE_CR
 * or BARE_LF (RFC 5321 2.3.8, smuggling), must refuse one with NOMEM
 * for now (4xx: its bytes are incomplete) and decides on the others: a
 * NUL, a long line and 8-bit bytes are kept as they are. */
enum smtp_data_flag {
	SMTP_DATA_F_BARE_CR = 1,   /* CR not followed by LF */
	SMTP_DATA_F_BARE_LF = 2,   /* LF not preceded by CR */
	SMTP_DATA_F_LONG_LINE = 4, /* a line longer than line_max */
	SMTP_DATA_F_8BIT = 8,      /* a byte >= 0x80 */
	SMTP_DATA_F_NUL = 16,      /* a NUL byte */
	SMTP_DATA_F_NOMEM = 32,    /* out could not grow: bytes were lost */
};

struct smtp_data;

/* NULL if memory is short or lim->line_max < 3. NULL is fine to free. */
struct smtp_data *smtp_data_new(const struct smtp_data_limits *);
void smtp_data_free(struct smtp_data *);

/* Reset for a new message: state, flags and size. */
void smtp_data_start(struct smtp_data *, enum smtp_data_mode);

/*
 * Decode up to n bytes of p and append the message bytes to out; the
 * caller guarantees room for n + 4 more bytes (at most n + 1 are added),
 * otherwise the excess is dropped and the message is broken anyway
 * (the caller must treat a full `out` as "message too big"). Bytes that
 * out has no memory for are dropped too, and SMTP_DATA_F_NOMEM says so;
 * smtp_data_size() counts dropped bytes either way.
 * DOT mode: returns SMTP_DATA_END with *used just past the LF of the
 * final ".\r\n"; that line is not output, the CRLF before it is (it
 * ends the last line). After END, further calls return END with *used
 * 0 until smtp_data_start(). Otherwise NEED_MORE with *used == n.
 * CHUNK mode: always NEED_MORE with *used == n.
 */
enum smtp_data_status smtp_data_parse(struct smtp_data *, const uint8_t *p,
    size_t n, size_t *used, struct buf *out);

/*
 * CHUNK mode, at BDAT LAST: settle the state (a trailing CR is a bare
 * CR). A message may end without CRLF in BDAT, which is not flagged.
 * Afterwards smtp_data_parse() returns END with *used 0 until
 * smtp_data_start().
 */
void smtp_data_finish(struct smtp_data *);

unsigned smtp_data_flags(const struct smtp_data *); /* SMTP_DATA_F_* */
uint64_t smtp_data_size(const struct smtp_data *);  /* decoded bytes */

#endif
