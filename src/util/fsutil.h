/* SPDX-License-Identifier: ISC */
/*
 * util/fsutil.h - making directory entries and files durable.
 *
 * fsutil_mkdirs() creates missing directories and fsyncs each new one's
 * parent, so a directory made for a message survives a crash with it.
 * Trust: paths come from the configuration and from validated addresses.
 */
#ifndef TERN_UTIL_FSUTIL_H
#define TERN_UTIL_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "util/why.h"

/* write(2) all of p, retrying short writes and EINTR; -1 with errno. */
int fsutil_write_all(int fd, const void *p, size_t n);
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


#endif
