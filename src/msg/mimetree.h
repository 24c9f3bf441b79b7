/* SPDX-License-Identifier: ISC */
/*
 * msg/mimetree.h - the MIME structure of a message held in memory
 * (RFC 2045, 2046, 2183, 2231, 2047): where each part's header and body
 * are, its type, charset, transfer encoding, file name and disposition;
 * and the decoders a reader of a part needs (base64, quoted-printable,
 * RFC 2047 encoded-words, a few charsets to UTF-8).
 *
 * The tree is a flat array in document order: part 0 is the message
 * itself (parent -1, depth 0); a multipart is followed by its children
 * (parent = the multipart's index, depth + 1). message/rfc822 parts are
 * leaves. Preamble and epilogue are skipped. It does not validate the
 * message (msg/lint.h does), convert bodies or look at addresses.
 *
 * Pure: no I/O, no logging, no globals; the only allocation is the part
 * array (at most MIMETREE_PARTS_MAX entries).
 * Trust: every byte of the message is hostile. Offsets are always within
 * [0, len); recursion is bounded by MIMETREE_DEPTH_MAX; strings in a
 * part are NUL-terminated and cut to their buffers. `filename` is valid
 * UTF-8 without C0 controls or DEL (they become '?'), but is still the
 * sender's: escape it before a log line, JSON, a header or a file name.
 */
#ifndef TERN_MSG_MIMETREE_H
#define TERN_MSG_MIMETREE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

#define MIMETREE_PARTS_MAX 256 /* parts kept, the root included */
#define MIMETREE_DEPTH_MAX 16  /* nesting of multiparts kept */

struct mime_part {
	/*
	 * Offsets into the message. The header is its fields with their
	 * line ends, without the empty line that ends it; the body starts
	 * after that empty line and ends before the line end that precedes
	 * the next boundary delimiter (RFC 2046 5.1.1). A part without an
	 * empty line (header only) has body_len 0 and body_off at its end.
	 */
	size_t hdr_off, hdr_len, body_off, body_len;
	/* "text/plain", lowercased. Default (RFC 2045 5.2, RFC 2046
	 * 5.1.5): text/plain, or message/rfc822 inside multipart/digest;
	 * also when Content-Type cannot be parsed. */
	char type[128];
	char charset[64];   /* lowercased; "" if none given */
	char encoding[32];  /* Content-Transfer-Encoding, lowercased;
	                       "7bit" if none */
	char filename[256]; /* Content-Disposition filename, else
	                       Content-Type name; RFC 2231/2047 decoded to
	                       UTF-8; "" if none. UNTRUSTED (see above). */
	bool attachment;    /* Content-Disposition: attachment */
	bool unclosed;      /* a multipart whose closing delimiter is
	                       missing (the last child runs to the end) */
	int parent;         /* index of the enclosing multipart; -1: root */
	int depth;          /* 0 for the root */
};

struct mime_tree {
	struct mime_part *part;  /* n entries, owned by the tree */
	size_t n;                /* >= 1 after a successful parse */
	bool truncated;          /* a cap was hit: parts or depth were
	                            not split further / not kept */
	bool unclosed_multipart; /* some part has `unclosed` set */
};

/*
 * Parse msg[0..len) (any line ends: CRLF, bare LF; may contain NUL)
 * into *out, which the caller later frees with mimetree_free(). A
 * multipart nested deeper than MIMETREE_DEPTH_MAX is kept as a leaf and
 * parts past MIMETREE_PARTS_MAX are dropped; both set `truncated`.
 * A multipart without a boundary parameter is a leaf. Returns 0, or -1
 * (ENOMEM) with *out empty (safe to mimetree_free).
 */
int mimetree_parse(const char *msg, size_t len, struct mime_tree *out);
/* Free the part array; *t is left empty. NULL is fine. */
void mimetree_free(struct mime_tree *t);

/*
 * Append the body of part p of msg to out, undoing its transfer
 * encoding: "base64" (lenient: bytes outside the alphabet are skipped,
 * a trailing partial group gives what it holds), "quoted-printable"
 * (soft breaks removed, =XX decoded in either case, a bad '=' kept
 * as is, trailing blanks of a line dropped, RFC 2045 6.7), anything
 * else copied. No charset conversion. Reads only within the part.
 * Returns 0, or -1 when out is full or memory is short (see buf.h).
 */
int mimetree_decode(const char *msg, const struct mime_part *p,
    struct buf *out);

/*
 * Append p[0..n), text in `charset` (any case; "" or unknown: taken as
 * UTF-8), to out as UTF-8. Known: utf-8, us-ascii, iso-8859-1 (latin1),
 * windows-1252. Ill-formed sequences and NUL become U+FFFD. 0 or -1 as
 * for mimetree_decode.
 */
int mimetree_to_utf8(const char *charset, const char *p, size_t n,
    struct buf *out);

/*
 * Append an unstructured header value (a Subject: the value as
 * msg_field_value() gives it) to out as UTF-8: folding line ends
 * removed (RFC 5322 2.2.3), RFC 2047 encoded-words decoded and the
 * blanks between two adjacent ones dropped, other bytes as
 * mimetree_to_utf8(""). 0 or -1 as for mimetree_decode.
 */
int mimetree_words_decode(const char *p, size_t n, struct buf *out);

#endif
