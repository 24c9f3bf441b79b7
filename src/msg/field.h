/* SPDX-License-Identifier: ISC */
/*
 * msg/field.h - one header field of a message held in memory (RFC 5322
 * 2.2): where it ends, what its name is, where its value is. Used where
 * a whole header is at hand: the session's held header (mail
 * authentication, issue 16), `tern check message`, the maildrop.
 * Pure; the bytes are the sender's, only read within n.
 */
#ifndef TERN_MSG_FIELD_H
#define TERN_MSG_FIELD_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The length of the field at p: through its line end and any
 * continuation lines (starting with SP or HT), at most n.
 */
size_t msg_field_len(const char *p, size_t n);

/* Is the field f[0..n) named `name` (any case, blanks before ':')? */
bool msg_field_is(const char *f, size_t n, const char *name);

/*
 * The value of the field f[0..n): after the ':', up to (not including)
 * the field's final CRLF or LF, its length in *vlen. f + n and 0 when
 * there is no ':'.
 */
const char *msg_field_value(const char *f, size_t n, size_t *vlen);

/*
 * RFC 8689 4: does the header section at hdr[0..n) ask, with exactly one
 * `TLS-Required: No` field (value "No" in any case, folding white space
 * around it allowed), that TLS policy failures be ignored? The header
 * ends at the first empty line or at n; a second TLS-Required field or
 * any other value means no (the safe reading).
 */
bool msg_tls_required_no(const char *hdr, size_t n);

#endif
