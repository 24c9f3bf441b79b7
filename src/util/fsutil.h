/* SPDX-License-Identifier: ISC */
/*
 * util/fsutil.h - making directory entries and files durable.
 *
 * fsutil_mkdirs() creates missing directories and fsyncs each new one's
 * parent, so a directory made for a message survives a crash with it.
 * fsutil_dir_is_private() and fsutil_open_private() are the one answer to
 * "may root write here?" (issue 14): a file root writes, creates or hands
 * over must sit in a directory nobody else can change, and is never
 * reached through a symbolic link.
 * Trust: paths come from the configuration and from validated addresses.
 */
#ifndef TERN_UTIL_FSUTIL_H
#define TERN_UTIL_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/why.h"

/* write(2) all of p, retrying short writes and EINTR; -1 with errno. */
int fsutil_write_all(int fd, const void *p, size_t n);
/*
 * pread(2) n bytes at off, retrying short reads and EINTR, until n or the
 * end of the file: *got says how many. 0, or -1 with errno.
 */
int fsutil_pread_all(int fd, void *p, size_t n, off_t off, size_t *got);
/*
 * A write-back error on fd's file not yet reported through fd (errno, or
 * 0): what fdatasync(fd) would report, without its device flush. For a
 * file that a syncfs(2) just wrote: syncfs reports an error once per
 * descriptor, so an error met before may have gone to another caller.
 */
int fsutil_writeback_error(int fd);
/* fsync the directory that holds `path`. 0, or -1 with errno. */
int fsutil_fsync_parent(const char *path);
/* mkdir -p with `mode`; each directory created is made durable. */
int fsutil_mkdirs(const char *path, mode_t mode, struct why *);
/*
 * Mark directory `path` as the top of unrelated hierarchies (chattr +T,
 * FS_TOPDIR_FL), as for /home: ext4's Orlov allocator then spreads its
 * subdirectories, and so their files, over block groups instead of
 * packing them into the parent's. Best effort: a file system without the
 * flag, or a directory we do not own, is left as it is.
 */
void fsutil_spread_subdirs(const char *path);

/*
 * Whether root may create or change entries in the directory open at dfd
 * (any open mode, O_PATH too): its owner is root, the caller's effective
 * uid or `also` ((uid_t)-1: nobody else), and only its owner may write it.
 * Group or other write permission is refused even with the sticky bit: a
 * world-writable /tmp lets others plant links and names that root would
 * then open. On false, why (may be NULL) names `path` and what to do.
 */
bool fsutil_dir_is_private(int dfd, const char *path, uid_t also, struct why *);

/*
 * open(2) for a file tern writes while it may be root (log_file): flags
 * gain O_NOFOLLOW and O_CLOEXEC, and with O_CREAT a new file gets `mode`.
 * Refused when `path` is a symbolic link, when it is neither a regular
 * file nor /dev/null (a FIFO could block or feed another reader), or when
 * the directory holding it fails fsutil_dir_is_private() with no other
 * owner allowed. Links in the directory's own path are followed: they are
 * the operator's. Returns the descriptor, or -1 with why naming the path.
 */
int fsutil_open_private(const char *path, int flags, mode_t mode, struct why *);

#endif
