/* SPDX-License-Identifier: ISC */
/*
 * queue/spool_seg.h - the spool's segment log: small messages are made
 * durable by an append to a shared file, not by a file of their own
 * (issue 20).
 *
 * Why: a file per message costs ext4 an inode, three renames (free/ ->
 * incoming/ -> active/ -> free/) and a directory sync per batch; an
 * append to one open file costs a write, and one fdatasync covers a
 * whole batch of messages.
 *
 * Layout: seg/<16 hex digits>, numbered in creation order. A segment is
 * a sequence of records, each a SEG_HDR_LEN header followed by the
 * payload, which is exactly a message file of the per-file spool (the
 * "TERN1" envelope, the message, the prefix; spool.c):
 *
 *	"TSG1"  4 bytes magic
 *	state   1 byte: 'L' live, 'X' done (removed, or moved to active/)
 *	0 0 0   3 bytes
 *	len     4 bytes little-endian: payload length
 *	crc     4 bytes little-endian: zlib crc32 of id and payload
 *	id      SPOOL_ID_LEN bytes: the queue id, also in the envelope
 *	0 0 0 0 to SEG_HDR_LEN
 *
 * Only the spool's sync thread appends, a batch at a time, then syncs;
 * the records are published (found by seg_lookup) only after the sync.
 * A record's state byte is the only byte ever rewritten, without a sync:
 * a 'X' lost in a crash means the message is delivered again, never
 * lost (DESIGN.md). The payload is never changed: a message whose
 * recipients' states must be recorded is settled into a file first.
 *
 * Recovery reads every segment in order: a record is live when its
 * header, length and crc are whole and its state is 'L'. A torn record
 * (a crash in the middle of an append, before its sync, so before any
 * 250) ends the segment's scan. A segment without live records is
 * removed; a new segment is started for new appends after every open.
 * A live record with a file active/ID beside it was settled just before
 * a crash (the file is made durable before the record is marked): it is
 * marked done then, so the message exists once.
 * A message that stays queued (deferred, held) is moved out into a file
 * of its own by seg_settle's caller, so that segments are reclaimed in
 * minutes, not kept for days by one message.
 * Trust: our own files, but every length read back is bounded and
 * checked against the crc before use.
 */
#ifndef TERN_QUEUE_SPOOL_SEG_H
#define TERN_QUEUE_SPOOL_SEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/why.h"

struct spool;

#define SEG_HDR_LEN 40
#define SEG_MAX_BYTES (64u * 1024 * 1024) /* a segment is rolled past it */
#define SEG_NAME_LEN 16

/* Where a published record is. */
struct seg_loc {
	uint64_t seq;   /* segment number (its file name in hex) */
	off_t payload;  /* file offset of the payload (after the header) */
	uint32_t len;   /* payload bytes */
};

/* One record of a batch handed to seg_append(). */
struct seg_item {
	const char *id;
	const uint8_t *data;
	size_t len;
	uint32_t crc; /* seg_crc(id, data, len) */
};

/*
 * A record's crc: of its id and payload. Computed by the thread that
 * commits the message, so the sync thread, which every commit waits
 * for, does not read every byte again.
 */
uint32_t seg_crc(const char *id, const uint8_t *data, size_t len);

/* The SEG_HDR_LEN header of a record (live, or done), into h. */
void seg_record_header(uint8_t *h, const struct seg_item *it, bool done);

/*
 * Open seg/ below the spool (creating it unless read-only), read every
 * segment and build the index of live records; a read-write spool also
 * removes segments with nothing live. 0, or -1 with why.
 */
int seg_open(struct spool *, struct why *);
/* Close every segment and free the index. */
void seg_close(struct spool *);

/*
 * Append n records to the current segment (starting one when needed) and
 * return its descriptor for the caller's sync (sync thread only), or -1
 * with why; after a failure nothing of the batch remains in the file.
 * The records are not found by seg_lookup() until seg_publish().
 */
int seg_append(struct spool *, const struct seg_item *items, size_t n,
    struct why *);
/* After the sync succeeded: index the batch just appended. */
void seg_publish(struct spool *, const struct seg_item *items, size_t n);
/* After the sync failed: cut the batch off the segment again. */
void seg_unappend(struct spool *);

/* Is id a live record? Its location in *loc (may be NULL). */
bool seg_lookup(struct spool *, const char *id, struct seg_loc *loc);
/* A new descriptor on segment loc->seq (O_RDONLY or O_RDWR), or -1. */
int seg_open_file(struct spool *, const struct seg_loc *, int flags);
/*
 * The record of id is done (delivered, or now in a file of its own):
 * mark it, drop it from the index, and remove its segment when nothing
 * in it is live any more. false if id is not a live record.
 */
bool seg_drop(struct spool *, const char *id);
/* Call fn for every live record's id (any order). */
void seg_foreach(struct spool *, void (*fn)(void *, const char *), void *arg);
/* Live records and segments, for the tests and the counters. */
void seg_counts(struct spool *, size_t *records, size_t *segments);

#endif
