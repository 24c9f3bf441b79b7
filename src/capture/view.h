/* SPDX-License-Identifier: ISC */
/*
 * capture/view.h - what `tern capture` shows of a message's header
 * (issue 22): its fields one by one with their values unfolded, and one
 * field's value. (The Subject's encoded-words: msg/mimetree.h.)
 *
 * The header is the message's start up to the first empty line (CRLF
 * CRLF, or a bare LF LF: captured mail may be broken, that is what the
 * problems list shows). Unfolding removes each line break that is
 * followed by SP or HT (RFC 5322 2.2.3) and keeps the blank.
 * Pure; bounded by the caller's bufs. Trust: every byte is the peer's;
 * outputs are not escaped here (the JSON writer does that).
 */
#ifndef TERN_CAPTURE_VIEW_H
#define TERN_CAPTURE_VIEW_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

/* The length of the header section of msg[0..len): where the body's
 * separator line starts (len when there is none). */
size_t cap_view_header_len(const char *msg, size_t len);

/*
 * Walk the header fields: *pos starts at 0; each call sets name (not
 * NUL-terminated, *name_len) and appends the unfolded value (blanks after
 * the colon skipped) to val (cleared first). false at the end or when a
 * line is not a field (no colon). -1 never: a value too big for val is
 * cut at val's max.
 */
bool cap_view_next_field(const char *msg, size_t len, size_t *pos,
    const char **name, size_t *name_len, struct buf *val);

/* The unfolded value of the first field named `name` (any case) into
 * out (cleared first); false when there is none. */
bool cap_view_field(const char *msg, size_t len, const char *name,
    struct buf *out);

#endif
