/* SPDX-License-Identifier: ISC */
/*
 * msg/hdr.h - scan the header section of a message (RFC 5322 2.2, 3.6)
 * as it streams in, counting the fields tern cares about: Received (loop
 * detection, RFC 5321 6.3: "more than 100 Received headers" -> 554 5.4.6),
 * and Date, Message-ID, From (to add them on submission, RFC 6409 8).
 *
 * Field names are matched case-insensitively at line starts; a line
 * starting with SP or HTAB continues the previous field (RFC 5322 2.2.3).
 * The header ends at the first empty line (CRLF CRLF; LF LF tolerated)
 * or at the first line that is not a field ("name:" with RFC 5322 3.6.8
 * ftext, optionally WSP before the colon, the obsolete syntax of 4.5).
 * It does not store, unfold or decode anything.
 * Pure; feed it any split of the message. Trust: peer bytes; fixed
 * memory (the struct).
 */
#ifndef TERN_MSG_HDR_H
#define TERN_MSG_HDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSG_HDR_NAME_MAX 31 /* longest name we compare; longer ones pass */

struct msg_hdr_scan {
	/* Public, read-only for callers. */
	size_t received; /* Received: fields seen */
	bool has_date, has_message_id, has_from;
	bool in_body; /* the header section has ended */
	/*
	 * Bytes of complete header fields: the offset where the empty
	 * line, the first non-field line or (while scanning) the field in
	 * progress starts. New fields may be inserted there.
	 */
	size_t header_bytes;

	/* Private. */
	int st;
	size_t off;        /* bytes fed so far, up to the end of the header */
	size_t line_start; /* offset of the current line */
	size_t name_len;
	char name[MSG_HDR_NAME_MAX + 1];
};

void msg_hdr_scan_init(struct msg_hdr_scan *);
/* Feed the next n bytes of the message; bytes after the header are
 * ignored (cheap). */
void msg_hdr_scan_feed(struct msg_hdr_scan *, const uint8_t *p, size_t n);

#endif
