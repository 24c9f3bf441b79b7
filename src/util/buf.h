/* SPDX-License-Identifier: ISC */
/*
 * util/buf.h - a growable byte buffer with a hard cap.
 *
 * Every buffer has a `max`: appending past it fails cleanly and leaves the
 * buffer unchanged (curl's dynbuf). So does running out of memory: this
 * never aborts, because the client library (tern/tern.h) uses it too; the
 * two failures differ by errno (EMSGSIZE: over max, ENOMEM: no memory),
 * and a caller that turns -1 into "too big" must check which it was.
 * The data is always NUL-terminated after `len` bytes so it can be
 * logged, but may itself contain NUL.
 * Trust: none needed; callers bound peer-driven growth with `max`.
 */
#ifndef TERN_UTIL_BUF_H
#define TERN_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

struct why;

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
/*
 * Append n bytes (a string, a formatted string). 0, or -1 with the
 * buffer unchanged and errno EMSGSIZE when len + n would exceed max,
 * ENOMEM when the storage cannot grow, or (buf_printf only) vsnprintf's
 * errno when fmt cannot be formatted.
 */
int buf_append(struct buf *, const void *p, size_t n);
/*
 * After an append failed: why (may be NULL) becomes WHY_TEMP with ENOMEM
 * when memory was short (ours, so retried, never a bounce), else
 * WHY_PERM `too_big` (for good). Returns -1, for `return buf_why(...)`.
 */
int buf_why(struct why *, const char *too_big);
int buf_append_str(struct buf *, const char *s);
int buf_printf(struct buf *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hand over the storage (caller frees; may be NULL if empty); reset b. */
uint8_t *buf_take(struct buf *, size_t *len_out);
/* Remove the first n bytes (n <= len). */
void buf_consume(struct buf *, size_t n);

#endif
