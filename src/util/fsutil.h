/* SPDX-License-Identifier: ISC */
/*
 * util/fsutil.h - making directory entries and files durable.
 *
 * fsutil_mkdirs() creates missing directories and fsyncs each new one's
 * parent, so a directory made for a message survives a crash with it.
 * struct gsync is group commit for any number of threads: callers that
 * need their writes on stable storage at about the same time share one
 * syncfs(2) of the filesystem instead of paying one fsync each.
 * Trust: paths come from the configuration and from validated addresses.
 */
#ifndef TERN_UTIL_FSUTIL_H
#define TERN_UTIL_FSUTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/why.h"

/* fsync the directory that holds `path`. 0, or -1 with errno. */
int fsutil_fsync_parent(const char *path);
/* mkdir -p with `mode`; each directory created is made durable. */
int fsutil_mkdirs(const char *path, mode_t mode, struct why *);

struct gsync {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	int fd; /* any descriptor on the filesystem to sync */
	bool running;
	uint64_t requested; /* tickets handed out */
	uint64_t completed; /* every ticket <= this has been synced */
	uint64_t fail_lo, fail_hi; /* tickets whose sync failed (if hi) */
	int fail_errno;
	uint64_t syncs; /* syncfs calls made, for the stats */
};

/* Sync the filesystem that holds directory `path`. -1 with errno. */
int gsync_init(struct gsync *, const char *path);
void gsync_destroy(struct gsync *);
/*
 * Return once everything this thread wrote before the call is on stable
 * storage: 0, or -1 with errno when the sync that covered the call
 * failed (maybe a false alarm after an error: retry, never assume).
 */
int gsync_wait(struct gsync *);

#endif
