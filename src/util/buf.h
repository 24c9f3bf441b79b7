/* SPDX-License-Identifier: ISC */
/*
 * util/buf.h - a growable byte buffer with a hard cap.
 *
 * Every buffer has a `max`: appending past it fails cleanly and leaves the
 * buffer unchanged (curl's dynbuf). The data is always NUL-terminated after
 * `len` bytes so it can be logged, but may itself contain NUL.
 * Trust: none needed; callers bound peer-driven growth with `max`.
 */
#ifndef TERN_UTIL_BUF_H
#define TERN_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data; /* NULL until the first append */
	size_t len;
	size_t cap;
	size_t max; /* appends that would exceed this fail */
};

void buf_init(struct buf *, size_t max);
/* Free the storage and return to the state buf_init() left. */
void buf_reset(struct buf *);
/* Keep the storage, drop the contents. */
void buf_clear(struct buf *);
/* 0, or -1 when len + n would exceed max (buffer unchanged). */
int buf_append(struct buf *, const void *p, size_t n);
int buf_append_str(struct buf *, const char *s);
int buf_printf(struct buf *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hand over the storage (caller frees; may be NULL if empty); reset b. */
uint8_t *buf_take(struct buf *, size_t *len_out);
/* Remove the first n bytes (n <= len). */
void buf_consume(struct buf *, size_t n);

#endif
