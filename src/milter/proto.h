/* SPDX-License-Identifier: ISC */
/*
 * milter/proto.h - the milter protocol, version 6, as Sendmail 8.14+ and
 * Postfix speak it: encoders for the MTA's commands and a streaming
 * decoder for a filter's replies.
 *
 * A packet is a 4-byte big-endian length (counting the command byte and
 * the payload), a 1-byte command or reply code, and the payload. Numbers
 * in payloads are 32-bit big-endian (16-bit for the CONNECT port);
 * strings are NUL-terminated.
 *
 * Pure: no sockets, no clocks, no logging. The I/O layer (milter/client,
 * later) connects, writes what the encoders built, feeds what it reads
 * to milter_dec_feed() and decides what a reply means at each stage.
 * Trust: every byte from a filter is hostile. A packet's length is
 * checked against the caller's cap before its payload is stored, and
 * memory grows only with bytes that actually arrived; every string is
 * checked (NUL where the protocol puts one, none inside) before the
 * caller sees it. The encoders' input is ours (already checked SMTP
 * data); a string with a NUL cannot be passed as a C string.
 */
#ifndef TERN_MILTER_PROTO_H
#define TERN_MILTER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

#define MILTER_VERSION 6       /* SMFI_PROT_VERSION */
#define MILTER_VERSION_MIN 2   /* oldest filter version we accept */
#define MILTER_CHUNK_MAX 65535 /* SMFIC_BODY payload (MILTER_CHUNK_SIZE) */
#define MILTER_REPLY_MAX 65536 /* default cap on a reply's payload */

/* Commands, MTA -> filter (SMFIC_*). */
#define MILTER_C_ABORT 'A'
#define MILTER_C_BODY 'B'
#define MILTER_C_CONNECT 'C'
#define MILTER_C_MACRO 'D'
#define MILTER_C_BODYEOB 'E'
#define MILTER_C_HELO 'H'
#define MILTER_C_QUIT_NC 'K'
#define MILTER_C_HEADER 'L'
#define MILTER_C_MAIL 'M'
#define MILTER_C_EOH 'N'
#define MILTER_C_OPTNEG 'O'
#define MILTER_C_QUIT 'Q'
#define MILTER_C_RCPT 'R'
#define MILTER_C_DATA 'T'
#define MILTER_C_UNKNOWN 'U'

/* Replies, filter -> MTA (SMFIR_*); OPTNEG is 'O' as the command. */
#define MILTER_R_ADDRCPT '+'
#define MILTER_R_DELRCPT '-'
#define MILTER_R_ADDRCPT_PAR '2'
#define MILTER_R_SHUTDOWN '4'
#define MILTER_R_ACCEPT 'a'
#define MILTER_R_REPLBODY 'b'
#define MILTER_R_CONTINUE 'c'
#define MILTER_R_DISCARD 'd'
#define MILTER_R_CHGFROM 'e'
#define MILTER_R_CONN_FAIL 'f'
#define MILTER_R_ADDHEADER 'h'
#define MILTER_R_INSHEADER 'i'
#define MILTER_R_SETSYMLIST 'l'
#define MILTER_R_CHGHEADER 'm'
#define MILTER_R_OPTNEG 'O'
#define MILTER_R_PROGRESS 'p'
#define MILTER_R_QUARANTINE 'q'
#define MILTER_R_REJECT 'r'
#define MILTER_R_SKIP 's'
#define MILTER_R_TEMPFAIL 't'
#define MILTER_R_REPLYCODE 'y'

/* Connect address families (SMFIA_*). */
#define MILTER_FAM_UNKNOWN 'U' /* no port, no address follow */
#define MILTER_FAM_UNIX 'L'
#define MILTER_FAM_INET '4'
#define MILTER_FAM_INET6 '6'

/* Actions a filter may take at end of message (SMFIF_*). */
#define MILTER_A_ADDHDRS 0x001u
#define MILTER_A_CHGBODY 0x002u
#define MILTER_A_ADDRCPT 0x004u
#define MILTER_A_DELRCPT 0x008u
#define MILTER_A_CHGHDRS 0x010u
#define MILTER_A_QUARANTINE 0x020u
#define MILTER_A_CHGFROM 0x040u
#define MILTER_A_ADDRCPT_PAR 0x080u
#define MILTER_A_SETSYMLIST 0x100u
#define MILTER_A_ALL 0x1ffu

/* Protocol flags (SMFIP_*): events not sent, replies not expected. */
#define MILTER_P_NOCONNECT 0x000001u
#define MILTER_P_NOHELO 0x000002u
#define MILTER_P_NOMAIL 0x000004u
#define MILTER_P_NORCPT 0x000008u
#define MILTER_P_NOBODY 0x000010u
#define MILTER_P_NOHDRS 0x000020u
#define MILTER_P_NOEOH 0x000040u
#define MILTER_P_NR_HDR 0x000080u
#define MILTER_P_NOUNKNOWN 0x000100u
#define MILTER_P_NODATA 0x000200u
#define MILTER_P_SKIP 0x000400u
#define MILTER_P_RCPT_REJ 0x000800u
#define MILTER_P_NR_CONN 0x001000u
#define MILTER_P_NR_HELO 0x002000u
#define MILTER_P_NR_MAIL 0x004000u
#define MILTER_P_NR_RCPT 0x008000u
#define MILTER_P_NR_DATA 0x010000u
#define MILTER_P_NR_UNKN 0x020000u
#define MILTER_P_NR_EOH 0x040000u
#define MILTER_P_NR_BODY 0x080000u
#define MILTER_P_HDR_LEADSPC 0x100000u
#define MILTER_P_ALL 0x1fffffu

/* Macro stages in an OPTNEG reply's symbol lists (SMFIM_*). */
#define MILTER_STAGE_MAX 6 /* CONNECT 0 .. EOH 6 */

/*
 * Encoders: each appends one whole packet to b and returns 0, or -1
 * with b unchanged and errno EMSGSIZE/ENOMEM (util/buf.h), or EINVAL
 * for an argument the protocol cannot carry (said at each).
 */
int milter_enc_optneg(struct buf *b, uint32_t version, uint32_t actions,
    uint32_t proto);
/*
 * SMFIC_MACRO for stage cmd (a MILTER_C_* code): nv holds n strings,
 * name, value, name, value... (names as filters read them: "j",
 * "{client_addr}"). EINVAL: n odd.
 */
int milter_enc_macro(struct buf *b, char cmd, const char *const *nv, size_t n);
/*
 * SMFIC_CONNECT: family MILTER_FAM_*; port and addr are sent unless the
 * family is MILTER_FAM_UNKNOWN (then they are ignored; addr may be
 * NULL). EINVAL: unknown family, addr NULL for a known one.
 */
int milter_enc_connect(struct buf *b, const char *host, char family,
    uint16_t port, const char *addr);
int milter_enc_helo(struct buf *b, const char *helo);
/*
 * SMFIC_MAIL, SMFIC_RCPT: addr without its angle brackets ("" for the
 * null sender), sent as "<addr>"; then the n ESMTP params as given
 * ("SIZE=100").
 */
int milter_enc_mail(struct buf *b, const char *addr, const char *const *params,
    size_t n);
int milter_enc_rcpt(struct buf *b, const char *addr, const char *const *params,
    size_t n);
/*
 * SMFIC_HEADER: name, value as received (folding kept, no final CRLF).
 * With MILTER_P_HDR_LEADSPC negotiated the value keeps the space after
 * the colon; without it the caller strips one (as Postfix does).
 */
int milter_enc_header(struct buf *b, const char *name, const char *value);
/* SMFIC_BODY: a chunk; EINVAL: n > MILTER_CHUNK_MAX. */
int milter_enc_body(struct buf *b, const uint8_t *p, size_t n);
/* SMFIC_UNKNOWN: the command line as the client sent it, no CRLF. */
int milter_enc_unknown(struct buf *b, const char *line);
/*
 * A command without payload: MILTER_C_DATA, _EOH, _BODYEOB, _ABORT,
 * _QUIT, _QUIT_NC. EINVAL: any other.
 */
int milter_enc_cmd(struct buf *b, char cmd);

struct milter_limits {
	size_t reply_max;    /* payload cap of every reply but REPLBODY */
	size_t replbody_max; /* payload cap of one REPLBODY chunk */
};

/*
 * One decoded reply. Pointers point into the decoder and are valid until
 * the next milter_dec_feed() or milter_dec_free(); every string is also
 * NUL-terminated at its length, and holds no NUL.
 */
struct milter_reply {
	char code; /* MILTER_R_* */
	/*
	 * INSHEADER, CHGHEADER: index (as sent; Sendmail's CHGHEADER
	 * counts from 1, treats 0 as 1; INSHEADER 0 means the top).
	 * SETSYMLIST: the stage, 0..MILTER_STAGE_MAX.
	 */
	uint32_t index;
	/*
	 * s1: ADDHEADER/INSHEADER/CHGHEADER: the name (RFC 5322 ftext,
	 * not empty). ADDRCPT/ADDRCPT_PAR/DELRCPT/CHGFROM: the address
	 * (no CR, LF or other control; not empty). QUARANTINE: the
	 * reason (no control). REPLYCODE: the whole reply, lines joined
	 * by CRLF (a final CRLF is dropped); accepted: every line
	 * "CODE-text" but the last "CODE text" or "CODE", CODE 4xx or 5xx
	 * and the same on every line, an enhanced code (a text
	 * starting "D.") of CODE's class, text printable ASCII or
	 * HTAB; '%' as sent (Sendmail doubles it: the caller undoes).
	 * SETSYMLIST: the macro names.
	 */
	const char *s1;
	size_t s1_len;
	/*
	 * s2: header value (may be empty: for CHGHEADER that deletes;
	 * folded lines are kept, CR/LF only before SP/HTAB), or the ESMTP
	 * params of ADDRCPT_PAR/CHGFROM ("" when none were sent).
	 */
	const char *s2;
	size_t s2_len;
	/* REPLBODY: the chunk, any bytes, on-the-wire CRLF. */
	const uint8_t *data;
	size_t data_len;
	/* REPLYCODE: the SMTP code (400..599) and the number of lines. */
	unsigned smtp_code;
	size_t nlines;
	/*
	 * OPTNEG: what the filter wants; the symbol lists that followed
	 * (pairs of 32-bit stage and NUL-terminated names, already
	 * checked) raw in data/data_len, for milter_symlist_next().
	 */
	uint32_t version, actions, proto;
};

enum milter_dec_status {
	MILTER_DEC_NEED_MORE = 0, /* all input used, no whole reply yet */
	MILTER_DEC_REPLY,         /* *reply_out valid until the next call */
	MILTER_DEC_ERROR,         /* *why_out says what; sticky: close */
};

struct milter_dec;

/* NULL on ENOMEM. Caps of 0 are taken as MILTER_REPLY_MAX. */
struct milter_dec *milter_dec_new(const struct milter_limits *lim);
void milter_dec_free(struct milter_dec *);
/*
 * Consume at most n bytes of p, stopping after the first whole reply;
 * *used is the count consumed (all of n unless a reply ended first).
 * MILTER_DEC_ERROR: the stream is broken (oversize, zero length,
 * unknown code, a malformed payload, out of memory): *why_out is a
 * static text, and every later call returns the error again without
 * consuming anything. A reply's meaning at a given stage (is CHGHEADER
 * allowed now, did the filter negotiate it) is the caller's to check.
 */
enum milter_dec_status milter_dec_feed(struct milter_dec *, const uint8_t *p,
    size_t n, size_t *used, const struct milter_reply **reply_out,
    const char **why_out);

/*
 * A reply code's name for log lines ("continue", "replycode", ...), or
 * NULL for a code that is not a reply. Static text.
 */
const char *milter_reply_name(char code);

struct milter_optneg {
	uint32_t version, actions, proto;
};

/*
 * Negotiate with an OPTNEG reply: the version becomes the lower of
 * ours and the filter's (which must be at least MILTER_VERSION_MIN);
 * the filter may ask only for actions and protocol flags we offered.
 * 0 with *out filled, or -1 with *why_out (static text).
 */
int milter_optneg_check(const struct milter_reply *r,
    const struct milter_optneg *offered, struct milter_optneg *out,
    const char **why_out);

/*
 * Walk an OPTNEG reply's symbol lists: *p, *n start at r->data,
 * r->data_len. true with the next stage and its macro names (a
 * NUL-terminated, space-separated list as the filter sent it), or false
 * at the end.
 */
bool milter_symlist_next(const uint8_t **p, size_t *n, uint32_t *stage_out,
    const char **names_out, size_t *len_out);

#endif
