/* SPDX-License-Identifier: ISC */
/*
 * server/limits.h - fixed protocol limits, each with its RFC section.
 * Operator-tunable limits live in conf.h's struct conf_limits (with their
 * min/max in conf.c); these are the ones the RFCs set.
 */
#ifndef TERN_SERVER_LIMITS_H
#define TERN_SERVER_LIMITS_H

#define SMTP_LINE_MAX 512       /* RFC 5321 4.5.3.1.4, command line + CRLF */
#define SMTP_TEXT_LINE_MAX 1000 /* RFC 5321 4.5.3.1.6, text line + CRLF */
#define SESSION_AUTH_LINE_MAX 12288    /* incl. CRLF, RFC 4954 4 */
#define SESSION_INBUF_MAX (256 * 1024) /* stop reading past this */
#define SESSION_CHUNK_MAX (16 * 1024)  /* bytes decoded per step */
#define SESSION_HELO_MAX 255
/* Submission holds the header to add Date/Message-ID (RFC 6409 8). */
#define SESSION_HDR_HOLD_MAX (64 * 1024)
#define SESSION_SHUTDOWN_GRACE 20 /* seconds for sessions to finish */
#define SESSION_DRAIN_TIMEOUT 10  /* seconds for a last reply to leave */
/* AUTH waiting for its client's other checks (server/auth.h BUSY). */
#define SESSION_AUTH_RETRY_MS 50
#define SESSION_AUTH_HOLD_MAX_MS 10000 /* then 454 4.7.0 */

#endif
