/* SPDX-License-Identifier: ISC */
/*
 * auth/dkim-private.h - helpers shared by dkim_parse.c, dkim_canon.c,
 * dkim.c and dkimkeys.c. Pure.
 */
#ifndef TERN_AUTH_DKIM_PRIVATE_H
#define TERN_AUTH_DKIM_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* One tag of a tag-list (RFC 6376 3.2), pointing into the input. */
struct dkim_tag {
	const char *name;
	size_t name_len;
	const char *val; /* without the surrounding whitespace */
	size_t val_len;
	size_t raw_off; /* the value region: after '=', up to ';' or end */
	size_t raw_end;
};

#define DKIM_TAGS_MAX 64 /* tags in one list, our bound */

/*
 * The next tag of p[0..n) from *pos: 1 with *t filled, 0 at the end,
 * -1 with *why on a syntax error.
 */
int dkim_tag_next(const char *p, size_t n, size_t *pos, struct dkim_tag *t,
    const char **why);

/*
 * Decode base64 (whitespace ignored, '=' padding only at the end) into
 * out[0..max). The decoded length, or -1 when malformed or too long.
 */
long dkim_b64_decode(const char *p, size_t n, uint8_t *out, size_t max);
/* Encode into out (NUL-terminated). 0 or -1 (buf.h). */
int dkim_b64_encode(const uint8_t *p, size_t n, struct buf *out);

/* ' ' or '\t' */
static inline bool
dkim_is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/*
 * The field name of a header field (up to the colon, trailing WSP
 * dropped): its length, or 0 when there is no colon.
 */
size_t dkim_field_name(const char *field, size_t n);

#endif
