/* SPDX-License-Identifier: ISC */
/*
 * smtp/reply.h - read a server's replies: multi-line replies (RFC 5321
 * 4.2.1), enhanced status codes (RFC 3463, RFC 2034) and the EHLO
 * keyword list (RFC 5321 4.1.1.1).
 *
 * A reply is one or more lines "CODE-text" ending with "CODE text" (or a
 * bare "CODE"); every line must carry the same code. Lines end with CRLF;
 * a bare LF is tolerated (replies cannot smuggle anything) but a bare CR
 * or a NUL inside a line is an error, and so is anything but three digits
 * [2-5][0-5][0-9] followed by ' ', '-' or the end of the line.
 * Pure: no sockets, no logging, no allocation after smtp_reply_new().
 * Trust: every byte is hostile (a remote MX, or someone in between before
 * STARTTLS). Lengths are checked before indexing (OpenSMTPD CVE-2020-8794
 * read line + 4 of a three-byte reply); memory is bounded by the limits.
 */
#ifndef TERN_SMTP_REPLY_H
#define TERN_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * RFC 5321 4.5.3.1.5 says 512 bytes per reply line; real servers send
 * longer ones (OpenSMTPD allows 64 KiB), so the default is a text line.
 */
#define SMTP_REPLY_LINE_MAX 1000 /* incl. CRLF, RFC 5322 2.1.1 */
#define SMTP_REPLY_LINES_MAX 100 /* lines per reply (EHLO lists) */
#define SMTP_REPLY_TEXT_MAX 4096 /* joined text kept per reply */

struct smtp_reply_limits {
	size_t line_max;  /* includes CRLF; at least 5 */
	size_t lines_max; /* at least 1 */
	size_t text_max;  /* at least 1; longer text is truncated */
};

enum smtp_reply_status {
	SMTP_REPLY_NEED_MORE = 0, /* all input used, no complete reply */
	SMTP_REPLY_DONE,          /* *reply_out valid until the next call */
	SMTP_REPLY_BAD,           /* malformed: close the connection */
	SMTP_REPLY_TOO_LONG,      /* a line over line_max: close */
	SMTP_REPLY_TOO_MANY,      /* more than lines_max lines: close */
};

struct smtp_reply {
	unsigned code; /* 200..559 */
	/* Enhanced status code of the first line (RFC 3463), if any. */
	bool has_esc;
	unsigned esc_class, esc_subject, esc_detail;
	/*
	 * Text of every line without code, separator and enhanced code,
	 * joined with '\n', NUL-terminated; may be truncated to text_max-1.
	 */
	const char *text;
	size_t text_len;
	size_t nlines;
	bool truncated;
};

struct smtp_reply_parser;

/* NULL on bad limits or no memory (plain malloc: the library uses it). */
struct smtp_reply_parser *smtp_reply_new(const struct smtp_reply_limits *);
void smtp_reply_free(struct smtp_reply_parser *);
/* Forget any partial reply (after STARTTLS, RFC 3207 4.2). */
void smtp_reply_reset(struct smtp_reply_parser *);

/*
 * Consume at most n bytes of p, stopping after the first event; *used is
 * the count consumed (n on NEED_MORE, >= 1 on any other status). An
 * error is sticky: later calls consume everything and return it again
 * until smtp_reply_reset(); the caller should drop the connection.
 */
enum smtp_reply_status smtp_reply_parse(struct smtp_reply_parser *,
    const uint8_t *p, size_t n, size_t *used,
    const struct smtp_reply **reply_out);

/* 2, 3, 4 or 5: the first digit of the code. */
static inline unsigned
smtp_reply_class(const struct smtp_reply *r)
{
	return r->code / 100;
}

/*
 * "X.Y.Z" of r into buf (at least 12 bytes), or when r has none, the
 * generic one for its class: "2.0.0", "4.0.0", "5.0.0". Returns buf.
 */
const char *smtp_reply_esc(const struct smtp_reply *r, char *buf, size_t bufsz);

/* What an EHLO reply offers (RFC 5321 4.1.1.1; keywords in any case). */
#define SMTP_EHLO_PIPELINING 0x001 /* RFC 2920 */
#define SMTP_EHLO_SIZE 0x002       /* RFC 1870 */
#define SMTP_EHLO_8BITMIME 0x004   /* RFC 6152 */
#define SMTP_EHLO_SMTPUTF8 0x008   /* RFC 6531 */
#define SMTP_EHLO_CHUNKING 0x010   /* RFC 3030 */
#define SMTP_EHLO_STARTTLS 0x020   /* RFC 3207 */
#define SMTP_EHLO_DSN 0x040        /* RFC 3461 */
#define SMTP_EHLO_ENHANCED 0x080   /* RFC 2034 */
#define SMTP_EHLO_AUTH_PLAIN 0x100 /* RFC 4954, RFC 4616 */
#define SMTP_EHLO_AUTH_LOGIN 0x200 /* draft-murchison-sasl-login */
#define SMTP_EHLO_REQUIRETLS 0x400 /* RFC 8689 */

struct smtp_ehlo {
	unsigned flags;    /* SMTP_EHLO_* */
	uint64_t size_max; /* SIZE n; 0: no limit announced */
};

/*
 * Read the keyword lines of an EHLO reply's text (the first line is the
 * greeting and is skipped). Unknown keywords are ignored; a bad SIZE
 * value is read as "no limit announced".
 */
void smtp_ehlo_parse(const char *text, size_t len, struct smtp_ehlo *out);

#endif
