/* SPDX-License-Identifier: ISC */
/*
 * deliver/mtasts_cache.h - the durable MTA-STS policy cache (RFC 8461
 * 5.1): one file per policy domain in data_dir/mta-sts/, named by the
 * domain (lower case), holding
 *
 *   tern-mta-sts 1\n
 *   id: <the TXT record's id when the policy was fetched>\n
 *   fetched: <unix time of the fetch>\n
 *   \n
 *   <the policy body, as served>
 *
 * The body is parsed again on every read (mtasts_policy_parse()), so a
 * file that was damaged or written by hand can never hold a policy the
 * parser would refuse; max_age comes from the body.
 *
 * Pure parts: the file's format and parser, the name check, and the
 * decision of 5.1 (mtasts_cache_decide()). The I/O parts work relative
 * to the cache directory's descriptor: reads refuse links (O_NOFOLLOW)
 * and anything but a regular file, writes go to a temporary name, are
 * fsynced and renamed over the old file, then the directory is fsynced.
 * Trust: the body came from the network, and the file is read back as
 * hostile bytes too (capped at MTASTS_CACHE_FILE_MAX, fuzzed); domain
 * names become file names only after mtasts_cache_name_ok().
 */
#ifndef TERN_DELIVER_MTASTS_CACHE_H
#define TERN_DELIVER_MTASTS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deliver/mtasts.h"
#include "util/buf.h"
#include "util/why.h"

/* The header lines, and the body. */
#define MTASTS_CACHE_HEAD_MAX 128
#define MTASTS_CACHE_FILE_MAX (MTASTS_CACHE_HEAD_MAX + MTASTS_POLICY_MAX)

struct mtasts_cache_entry {
	char id[MTASTS_ID_MAX + 1];
	int64_t fetched; /* unix seconds */
	struct mtasts_policy policy;
};

/*
 * Is `domain` fit to be a file name in the cache: 1 to 253 bytes of
 * letters, digits, '-', '_' and '.', no leading dot, no empty label
 * (so neither "." nor ".." nor a hidden or temporary name)? Pure.
 */
bool mtasts_cache_name_ok(const char *domain);

/*
 * The file's bytes for a policy fetched at `fetched` under record id
 * `id` (1-32 letters and digits) with body[0..len) (at most
 * MTASTS_POLICY_MAX): into out, which must allow MTASTS_CACHE_FILE_MAX.
 * 0, or -1 with why. Pure.
 */
int mtasts_cache_format(const char *id, int64_t fetched, const char *body,
    size_t len, struct buf *out, struct why *);

/*
 * Read a cache file's bytes into *out (id, fetched, the parsed policy).
 * 0, or -1 with why when it is not exactly that format or its policy
 * does not parse. Pure.
 */
int mtasts_cache_parse(const char *p, size_t n, struct mtasts_cache_entry *out,
    struct why *);

/* Has the entry's max_age run out at `now` (unix seconds)? Pure. */
bool mtasts_cache_expired(const struct mtasts_cache_entry *, int64_t now);

/* What the sender does next (RFC 8461 5.1, 3.1). */
enum mtasts_cache_action {
	MTASTS_USE_NONE = 0, /* no policy applies */
	MTASTS_USE_CACHED,   /* the cached entry, as it is */
	MTASTS_FETCH,        /* fetch; on failure mtasts_cache_on_failure() */
};

/*
 * `cached` (NULL: nothing cached) and the TXT record's id (NULL: no
 * valid record, or the lookup failed). A valid cached policy whose id is
 * the record's is used; a new id or an expired policy means a fetch;
 * without a record a still-valid cached policy is used until it expires
 * (5.1: a record that disappears does not withdraw a policy), and
 * nothing otherwise. Pure.
 */
enum mtasts_cache_action
mtasts_cache_decide(const struct mtasts_cache_entry *cached, const char *txt_id,
    int64_t now);

/*
 * After a failed fetch: may the cached entry still be used? Only while
 * it has not expired (5.1). Pure.
 */
bool mtasts_cache_on_failure(const struct mtasts_cache_entry *cached,
    int64_t now);

/*
 * Load the entry for `domain` from the directory open at dirfd. 1 with
 * *out filled; 0 when there is none (no file); -1 with why when the
 * file exists but cannot be read or does not parse (the caller treats
 * it as none, and a fetch replaces it).
 */
int mtasts_cache_load(int dirfd, const char *domain,
    struct mtasts_cache_entry *out, struct why *);

/*
 * Store a fetched policy for `domain` (tmp file, fsync, rename, fsync
 * of the directory). Safe from several threads at once: each writes
 * its own temporary name; the last rename wins. 0, or -1 with why.
 */
int mtasts_cache_store(int dirfd, const char *domain, const char *id,
    int64_t fetched, const char *body, size_t len, struct why *);

#endif
