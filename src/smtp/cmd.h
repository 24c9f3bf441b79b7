/* SPDX-License-Identifier: ISC */
/*
 * smtp/cmd.h - split a client's byte stream into SMTP command lines.
 *
 * Only CRLF ends a line (RFC 5321 2.3.8); a bare CR or bare LF is an
 * error that is reported once the line has been skipped up to its LF, so
 * pipelined commands stay aligned (RFC 2920). It does not parse verbs or
 * arguments (see smtp/command.h).
 * Pure: no sockets, no logging, no allocation after smtp_cmd_new().
 * Trust: every byte is hostile; memory is bounded by the limits given
 * to smtp_cmd_new(), and an overlong line is skipped, never buffered.
 */
#ifndef TERN_SMTP_CMD_H
#define TERN_SMTP_CMD_H

#include <stddef.h>
#include <stdint.h>

#define SMTP_CMD_LINE_MAX 512 /* incl. CRLF, RFC 5321 4.5.3.1.4 */

struct smtp_cmd_limits {
	size_t line_max; /* includes CRLF; at least 3 */
};

enum smtp_cmd_status {
	SMTP_CMD_NEED_MORE = 0, /* all input used, no complete line yet */
	SMTP_CMD_LINE,          /* *line_out valid until the next call */
	SMTP_CMD_TOO_LONG,      /* line skipped up to its LF: reply 500 */
	SMTP_CMD_BAD_EOL,       /* bare CR or bare LF: reply 500 */
};

struct smtp_cmd;

/*
 * A parser with its own line buffer of lim->line_max bytes. Returns NULL
 * when lim->line_max < 3 or memory is short (plain malloc, so the client
 * library may use it). Free with smtp_cmd_free() (NULL is fine).
 */
struct smtp_cmd *smtp_cmd_new(const struct smtp_cmd_limits *);
void smtp_cmd_free(struct smtp_cmd *);

/*
 * Drop any partial line and any pending error: the next byte starts a
 * new line. Used after STARTTLS (RFC 3207 4.2: nothing sent before the
 * handshake may survive it) and when switching to DATA or BDAT.
 */
void smtp_cmd_reset(struct smtp_cmd *);

/*
 * Consume at most n bytes of p, stopping at the first event; *used is
 * the count consumed (n on SMTP_CMD_NEED_MORE, >= 1 on an event, so a
 * caller always makes progress). On SMTP_CMD_LINE, *line_out points into
 * the parser (CRLF stripped, NUL-terminated; use *len_out, it may contain
 * NUL) and *len_out + 2 <= line_max. On the other statuses *line_out is
 * NULL and *len_out is 0.
 */
enum smtp_cmd_status smtp_cmd_parse(struct smtp_cmd *, const uint8_t *p,
    size_t n, size_t *used, const char **line_out, size_t *len_out);

#endif
