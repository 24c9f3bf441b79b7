/* SPDX-License-Identifier: ISC */
/*
 * smtp/addr.h - the one address grammar: RFC 5321 4.1.2 Path, Mailbox,
 * Local-part (Dot-string / Quoted-string), Domain and address-literal
 * (IPv4 and "IPv6:"), with RFC 6531 UTF-8 when the caller allows it.
 *
 * It does not look addresses up, lower-case domains, convert U-labels to
 * A-labels, or apply relay policy ('%' and '!' are plain local-part
 * characters here). Nothing outside smtp/ parses addresses.
 * Pure. Trust: every byte is hostile; all output is bounded by the
 * fixed-size fields of struct smtp_addr.
 */
#ifndef TERN_SMTP_ADDR_H
#define TERN_SMTP_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#define SMTP_LOCAL_MAX 64   /* octets, RFC 5321 4.5.3.1.1 */
#define SMTP_DOMAIN_MAX 255 /* octets, RFC 5321 4.5.3.1.2 */
#define SMTP_PATH_MAX 256   /* octets incl. "<" ">", RFC 5321 4.5.3.1.3 */
#define SMTP_LABEL_MAX 63   /* octets, RFC 1035 2.3.4 */
/* A dst of this size always holds smtp_addr_format()'s output. */
#define SMTP_ADDR_FMT_MAX (SMTP_LOCAL_MAX + 1 + SMTP_DOMAIN_MAX + 1)

struct smtp_addr {
	/*
	 * Canonical local part: a quoted string whose content is a valid
	 * Dot-string is stored unquoted ("john"@x == john@x); otherwise it
	 * is stored quoted, with a backslash only before '"' and '\'.
	 */
	char local[SMTP_LOCAL_MAX + 1];
	/*
	 * As sent, minus one trailing dot; never lower-cased here. An
	 * address literal keeps its brackets: "[192.0.2.1]", "[IPv6:::1]".
	 */
	char domain[SMTP_DOMAIN_MAX + 1];
	bool is_null;            /* "<>": local and domain empty */
	bool is_postmaster_bare; /* "<Postmaster>": local "postmaster" */
	bool utf8;               /* a non-ASCII byte in local or domain */
	bool quoted;             /* local holds the quoted form */
	bool literal;            /* domain is an address literal */
};

enum smtp_addr_flags {
	SMTP_ADDR_UTF8 = 1,          /* RFC 6531 UTF-8 allowed */
	SMTP_ADDR_NULL_OK = 2,       /* "<>" allowed (reverse-path) */
	SMTP_ADDR_POSTMASTER_OK = 4, /* "<postmaster>" allowed (RCPT) */
};

/*
 * Parse a Path (or "<>") starting at p[0] == '<'. A source route
 * "<@a,@b:u@d>" is checked and dropped (RFC 5321 4.1.2, appendix C).
 * The whole path, brackets included, must fit in SMTP_PATH_MAX. On
 * success *out is filled, *used_out is the count of bytes up to and
 * including '>' (the rest of p is the caller's) and true is returned.
 * On failure *why_out is a short static English reason; *out is
 * cleared. Without SMTP_ADDR_UTF8 any 8-bit byte is refused; with it,
 * only well-formed UTF-8 above U+009F is accepted (C1 controls never).
 */
bool smtp_path_parse(const char *p, size_t n, unsigned flags,
    struct smtp_addr *out, size_t *used_out, const char **why_out);

/*
 * Parse a bare Mailbox "local@domain" filling all of p[0..n) (for the
 * CLI and aliases). With SMTP_ADDR_NULL_OK an empty input is the null
 * address; with SMTP_ADDR_POSTMASTER_OK a bare "postmaster" (any case)
 * is accepted. Same results and reasons as smtp_path_parse().
 */
bool smtp_mailbox_parse(const char *p, size_t n, unsigned flags,
    struct smtp_addr *out, const char **why_out);

/*
 * Write "local@domain" ("" for the null address, "postmaster" for the
 * bare one) NUL-terminated into dst; returns its length, or -1 if it
 * does not fit (dst then holds "" if dstsz > 0). The output re-parses
 * with smtp_mailbox_parse() to an equal struct smtp_addr.
 */
int smtp_addr_format(const struct smtp_addr *, char *dst, size_t dstsz);

#endif
