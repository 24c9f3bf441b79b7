/* SPDX-License-Identifier: ISC */
/*
 * dir/subaddr.h - subaddresses (recipient_delimiter): "alice+news" is
 * the local part "alice" with the detail "news", as in Postfix and
 * Sieve's subaddress extension (RFC 5233).
 *
 * Pure string functions, shared by the resolution (dir.c: which mailbox)
 * and the Maildir deliverer (deliver/local.c: which folder), so that
 * both split an address the same way. Addresses here are already
 * normalized (dir_addr_norm()).
 * Trust: the addresses come from a peer; nothing is copied beyond the
 * sizes given, and a detail is only a detail, never a path, until
 * subaddr_folder_ok() says it may name a folder.
 */
#ifndef TERN_DIR_SUBADDR_H
#define TERN_DIR_SUBADDR_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Where local part p[0..n) splits: the index of its first character
 * that is in `delims`, when at least one character comes before it;
 * else n (no subaddress). delims NULL or "": never splits.
 */
size_t subaddr_split(const char *p, size_t n, const char *delims);

/*
 * Is the recipient `orcpt` (as addressed) the subaddress of the mailbox
 * `addr` it was resolved to: the same domain, and orcpt's local part
 * split by subaddr_split() into addr's local part and a detail? Then
 * true with *detail_out pointing into orcpt (not NUL-terminated: it ends
 * at the '@') and *len_out its length, which may be 0 ("alice+@").
 */
bool subaddr_detail(const char *addr, const char *orcpt, const char *delims,
    const char **detail_out, size_t *len_out);

/*
 * May detail p[0..n) name a Maildir++ folder ".DETAIL" (Dovecot's
 * layout)? Printable ASCII only; no '/', no '&' (modified UTF-7 on
 * disk), no IMAP wildcard '*' or '%', no '"' or '\'; no leading or
 * trailing '.', no ".."; 1..SUBADDR_FOLDER_MAX bytes.
 */
#define SUBADDR_FOLDER_MAX 200
bool subaddr_folder_ok(const char *p, size_t n);

#endif
