/* SPDX-License-Identifier: ISC */
/*
 * lib/mime.h - the encodings the message builder needs: base64 (RFC
 * 2045 6.8), RFC 2047 encoded-words for headers, header folding (RFC
 * 5322 2.2.3), MIME types by file extension, line-end normalisation.
 *
 * Pure: no I/O, no clocks. Appends go to a capped struct buf and return
 * -1 when it is full (the caller reports TERN_E_NOMEM).
 * Trust: input is the application's (display names, subjects, files)
 * and may hold any byte; nothing it contains can end a header line.
 */
#ifndef TERN_LIB_MIME_H
#define TERN_LIB_MIME_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

#define MIME_LINE_MAX 998 /* octets per line, CRLF excluded: RFC 5322 2.1.1 */
#define MIME_FOLD_AT 78   /* preferred line length: RFC 5322 2.1.1 */
#define MIME_WORD_MAX 75  /* one encoded-word: RFC 2047 2 */
#define MIME_B64_LINE 76  /* base64 output line: RFC 2045 6.8 */

/* Is every byte printable ASCII or TAB (so no encoding is needed)? */
bool mime_is_plain(const char *p, size_t n);

/* base64 of n bytes of p, CRLF after every 76 output chars and at end. */
int mime_base64(struct buf *, const void *p, size_t n);

/*
 * Header value text as RFC 2047 "B" encoded-words (UTF-8), each at most
 * 75 octets, never splitting a UTF-8 sequence, separated by CRLF SP so
 * the line stays short. `col` is the column the value starts at.
 */
int mime_encode_words(struct buf *, const char *p, size_t n, size_t col);

/*
 * Append "Name: value" + CRLF, folding at spaces to stay near 78 columns
 * and always under 998. Non-plain values go through mime_encode_words.
 */
int mime_header(struct buf *, const char *name, const char *value);

/*
 * A display name + address as a mailbox: `addr`, `"Name" <addr>`, or
 * `=?UTF-8?B?...?= <addr>`. col as for mime_encode_words.
 */
int mime_mailbox(struct buf *, const char *name, const char *addr,
    size_t col);

/* Is addr acceptable in a header and an envelope (local@domain, no
 * controls, spaces, quotes, angle brackets or commas)? */
bool mime_addr_ok(const char *addr);

/* Copy n bytes of p, with bare LF and bare CR made CRLF. */
int mime_crlf(struct buf *, const char *p, size_t n);

/* Does p (n bytes) need base64 as a text part: non-ASCII, NUL, or a
 * line over 998 octets? */
bool mime_text_needs_b64(const char *p, size_t n);

/* MIME type for a file name by extension (case-insensitive). */
const char *mime_type_for(const char *filename);

#endif
