/* SPDX-License-Identifier: ISC */
/*
 * msg/qualify.h - qualify bare local parts in a locally submitted
 * message's address fields: "To: alice" becomes "To: alice@DOMAIN", as
 * Postfix's cleanup does for local submissions (its append_at_myorigin).
 *
 * Only the From, To, Cc and Reply-To fields (RFC 5322 3.6.2, 3.6.3), and
 * in them only an address-list item (3.4) that is one bare word: a
 * dot-atom local part without '@', alone ("alice", "alice (Alice)") or
 * as an angle-addr ("Alice <alice>", "<alice>"). "@DOMAIN" is inserted
 * right after the word; every other byte stays as it was: display names,
 * quoted strings (commas in them too), comments, folding, other fields.
 * Left alone: a group ("team: a, b;", "undisclosed-recipients:;") with
 * all it holds, a quoted local part, anything with '@', a phrase without
 * angle brackets ("Alice Smith"), a word longer than 64 bytes (RFC 5321
 * 4.5.3.1.1), and a whole field whose quotes, comments or brackets do
 * not close, or which would get a line longer than 998 bytes (RFC 5322
 * 2.1.1).
 * Pure: bytes in, bytes out. Trust: the message is any local user's;
 * memory is bounded by the caller's `out` buffer.
 */
#ifndef TERN_MSG_QUALIFY_H
#define TERN_MSG_QUALIFY_H

#include <stddef.h>
#include <stdint.h>

struct buf;

/*
 * The header section of message p[0..n) (its fields, as msg/hdr.h finds
 * them), with bare local parts qualified with "@" domain, appended to
 * out; *used_out is the number of bytes of p it stands for (the caller
 * copies p[*used_out..n) unchanged after it: the empty line and the
 * body). Returns how many addresses were qualified (0: out holds a plain
 * copy), or -1 when out cannot take it (buf_append's errno: EMSGSIZE
 * over its max, ENOMEM).
 */
int msg_qualify_header(const uint8_t *p, size_t n, const char *domain,
    struct buf *out, size_t *used_out);

#endif
