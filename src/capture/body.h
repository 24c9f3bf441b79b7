/* SPDX-License-Identifier: ISC */
/*
 * capture/body.h - the parts of a captured message as the API shows
 * them (issue 22): the leaf parts of its MIME tree (msg/mimetree.h),
 * the first text/plain and text/html parts decoded to UTF-8, one part
 * decoded for download.
 *
 * Text is decoded from its transfer encoding (base64, quoted-printable)
 * and from its charset when that is ISO-8859-1 (Latin-1) or
 * US-ASCII/UTF-8; other charsets are passed through (the JSON writer
 * turns what is not UTF-8 into U+FFFD). A part that is an attachment
 * (Content-Disposition: attachment) is never "the text".
 * Pure; outputs bounded by the caller's bufs. Trust: the message is the
 * peer's; the filename is untrusted text (escape it before any use).
 */
#ifndef TERN_CAPTURE_BODY_H
#define TERN_CAPTURE_BODY_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

#define CAP_PARTS_MAX 256

struct cap_part_info {
	size_t index;       /* the part's number in the tree (root 0) */
	char type[128];     /* lowercased, "text/plain" by default */
	char charset[64];   /* lowercased, "" when none */
	char filename[256]; /* decoded, "" when none */
	size_t size;        /* decoded bytes */
	bool attachment;
};

/* The leaf parts, in order, at most max into out; returns the count
 * stored. 0 also when memory is short. */
size_t cap_body_parts(const char *msg, size_t len, struct cap_part_info *out,
    size_t max);

/* The first leaf of type `type` ("text/plain") that is no attachment,
 * decoded to UTF-8 into out; false when there is none. */
bool cap_body_first(const char *msg, size_t len, const char *type,
    struct buf *out);

/* Part `index` decoded (transfer encoding only) into out with its info;
 * false when there is no such leaf part. */
bool cap_body_part(const char *msg, size_t len, size_t index,
    struct cap_part_info *info, struct buf *out);

#endif
