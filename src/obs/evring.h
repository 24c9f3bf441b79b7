/* SPDX-License-Identifier: ISC */
/*
 * obs/evring.h - a bounded FIFO of event lines (issue 17): the event
 * socket's replay ring and the webhook's backlog.
 *
 * Each entry is a copy of one journal line and its seq. Entries have
 * positions that count every push since evring_new() (0, 1, 2, ...),
 * so a reader keeps its place by position even while the oldest are
 * dropped beneath it: a position below evring_begin() is gone. Seqs are
 * expected to grow, which evring_after() relies on.
 * Not thread-safe: the owner locks. Memory: at most `cap` entries; the
 * slot array grows as entries come (a large cap costs nothing unused).
 * Trust: lines are ours (obs built them), copied as bytes.
 */
#ifndef TERN_OBS_EVRING_H
#define TERN_OBS_EVRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evring;

/* An empty ring of at most cap (>= 1) entries. */
struct evring *evring_new(size_t cap);
void evring_free(struct evring *); /* NULL is fine */

/*
 * Append a copy of line[0..len) with its seq. When the ring is full the
 * oldest entry is dropped first: returns 1 then, else 0.
 */
size_t evring_push(struct evring *, uint64_t seq, const char *line, size_t len);

/* The position of the oldest entry, and the one after the newest. */
uint64_t evring_begin(const struct evring *);
uint64_t evring_end(const struct evring *);
size_t evring_count(const struct evring *);

/*
 * The entry at position pos: true with its seq and line (borrowed, NUL
 * after len; valid until the next push or pop), false when pos is not
 * in [begin, end).
 */
bool evring_get(const struct evring *, uint64_t pos, uint64_t *seq_out,
    const char **line_out, size_t *len_out);

/* The position of the oldest entry whose seq is above `seq` (end: none). */
uint64_t evring_after(const struct evring *, uint64_t seq);

/* Forget every entry before position pos (none when pos <= begin). */
void evring_pop(struct evring *, uint64_t pos);

#endif
