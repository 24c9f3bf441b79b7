/* SPDX-License-Identifier: ISC */
/*
 * util/ttlcache.h - a bounded map from string keys to small values, each
 * kept until its own expiry: "this answer holds for N more seconds".
 *
 * Used for recipient verification answers (server/relay.c). At most
 * max_entries keys: when full, expired entries go first, then the entry
 * closest to its expiry. Keys are hashed with a per-map random seed, so
 * peer-chosen keys cannot be made to collide without knowing it.
 * The clock is passed in (monotonic milliseconds), so tests need no
 * sleeping. Thread-safe: one mutex inside.
 * Trust: keys and values may come from peers: both are copied with caps
 * (TTLCACHE_KEY_MAX, TTLCACHE_VALUE_MAX), longer keys are refused.
 */
#ifndef TERN_UTIL_TTLCACHE_H
#define TERN_UTIL_TTLCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TTLCACHE_KEY_MAX 512   /* bytes with the NUL */
#define TTLCACHE_VALUE_MAX 512 /* bytes */

struct ttlcache;

/* A map of at most max_entries (>= 1) keys. Never NULL. */
struct ttlcache *ttlcache_new(size_t max_entries);
void ttlcache_free(struct ttlcache *); /* NULL is fine */

/*
 * Keep val[0..vlen) under key until now_ms + ttl_ms, replacing what key
 * held. false (nothing stored) when the key or value is too long.
 */
bool ttlcache_put(struct ttlcache *, const char *key, const void *val,
    size_t vlen, uint64_t now_ms, uint64_t ttl_ms);

/*
 * Copy key's value into out[0..outsz) (cut to outsz) and its full length
 * into *len_out (may be NULL): true when key is there and not expired at
 * now_ms; false otherwise (an expired entry is dropped).
 */
bool ttlcache_get(struct ttlcache *, const char *key, uint64_t now_ms,
    void *out, size_t outsz, size_t *len_out);

/* Keys held now, expired or not (tests). */
size_t ttlcache_count(struct ttlcache *);

#endif
