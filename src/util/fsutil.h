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


#endif
