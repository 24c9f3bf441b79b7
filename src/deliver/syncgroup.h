/* SPDX-License-Identifier: ISC */
/*
 * deliver/syncgroup.h - group commit for Maildir deliveries: the syncs
 * asked for together on one file system share one flush.
 *
 * A caller that wants a descriptor durable (a file's data, or a
 * directory's entries) joins the group of its file system (st_dev). One
 * caller at a time syncs for the group; those that asked while it ran
 * are the next batch. A batch of one is an fdatasync/fsync of its own
 * descriptor (what a lone delivery paid before); a larger batch is one
 * syncfs(2), which writes back every dirty file, directory block and
 * inode of that file system, then one fsync of the group's directory,
 * which flushes the device after the last of those writes (syncgroup.c
 * says why): on an ext4 without a journal, N fsyncs are N device
 * flushes (fewer when the block layer merges concurrent ones), a batch
 * is two.
 * A failed sync fails every caller of its batch (nobody retries a sync
 * whose error was already reported: it would wrongly succeed).
 * Errors: syncfs reports write-back errors seen since the last call on
 * its descriptor (Linux 5.8). Each group keeps one descriptor of its
 * own, opened on the first directory it is given, for its life, so an
 * error anywhere on the file system between two batches fails the next
 * one (a spurious retry). The batch that owned the failed write may
 * then see a clean syncfs: each member of a batch that synced with
 * syncfs also checks its own descriptor's error (sync_file_range, no
 * flush), so its delivery fails too instead of being reported durable. That descriptor pins the
 * directory's inode (and keeps the file system busy) until exit.
 * Trust: none; descriptors are the caller's, only synced.
 */
#ifndef TERN_DELIVER_SYNCGROUP_H
#define TERN_DELIVER_SYNCGROUP_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Make fd durable, sharing the flush with the callers in flight on its
 * file system. datasync: fd is a regular file whose data matters (as
 * fdatasync); else fd is a directory whose entries do (as fsync). dirfd
 * is a directory on the same file system, reopened once as the group's
 * own descriptor (may be fd itself). Blocks; any thread.
 * 0, or -1 with errno.
 */
int syncgroup_sync(int fd, int dirfd, bool datasync);

/*
 * Since start: calls; sync calls made for them (a batch of one is one,
 * a larger batch two: syncfs and fsync); batches synced with syncfs.
 */
struct syncgroup_stats {
	uint64_t requests;
	uint64_t syncs;
	uint64_t syncfs;
};
void syncgroup_stats(struct syncgroup_stats *out);

#endif
