/* SPDX-License-Identifier: ISC */
/*
 * util/json.h - writing JSON (RFC 8259): the one escaping function for
 * the JSON sink (the journal, the event stream, the dashboard's data,
 * `tern explain --json`).
 *
 * A string is written between double quotes with `\"`, `\\`, `\n`, `\r`,
 * `\t`, and \uNNNN for every other control character (< 0x20, 0x7f,
 * C1) and for the code points that hide or reorder text on a screen
 * (utf8_is_hidden()); a
 * byte that is not part of well-formed UTF-8 becomes U+FFFD. So the
 * result is always valid JSON of valid UTF-8, whatever the peer sent,
 * and a viewer shows what is there.
 * Trust: any bytes. On a full buf (its max) these return -1 and leave
 * what was appended so far: the caller drops the whole value.
 */
#ifndef TERN_UTIL_JSON_H
#define TERN_UTIL_JSON_H

#include <stddef.h>
#include <stdint.h>

struct buf;

/* p[0..n) as a JSON string, quotes included. 0, or -1: full. */
int json_strn(struct buf *, const void *p, size_t n);
/* The same for a NUL-terminated string; NULL writes null. */
int json_str(struct buf *, const char *s);
/*
 * Members: `"key":` then the value, preceded by a comma unless the last
 * byte in the buf is `{` or `[` (so the first member of an object needs
 * none). json_kv_str() with NULL writes nothing at all.
 */
int json_kv_str(struct buf *, const char *key, const char *s);
/* `"key":N`, `"key":N.NNN` (3 decimals). */
int json_kv_u64(struct buf *, const char *key, uint64_t v);
int json_kv_i64(struct buf *, const char *key, int64_t v);
int json_kv_double(struct buf *, const char *key, double v);
/* `"key":["s0","s1",...]` of n strings (n may be 0: `[]`). */
int json_kv_strs(struct buf *, const char *key, const char *const *s,
    size_t n);

#endif
