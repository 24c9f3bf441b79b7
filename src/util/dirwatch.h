/* SPDX-License-Identifier: ISC */
/*
 * util/dirwatch.h - sleep until a directory may have new entries.
 *
 * For the threads that take requests from a directory (`tern queue`'s
 * control/ files, `tern sendmail`'s maildrop/): inotify wakes them as soon
 * as an entry is created, closed after writing or moved in; a rescan timer
 * wakes them anyway (inotify can overflow, and some file systems never
 * report); dirwatch_wake() ends a wait at once, to stop the thread.
 * Without inotify (or the directory) it degrades to the timer alone.
 * Trust: events are only a hint to rescan; no name from them is used.
 */
#ifndef TERN_UTIL_DIRWATCH_H
#define TERN_UTIL_DIRWATCH_H

#include <stdbool.h>

struct dirwatch;

/* Watch `path`; never NULL (the xmalloc family aborts on no memory). */
struct dirwatch *dirwatch_new(const char *path, unsigned rescan_ms);
/*
 * Return after an event in the directory, a dirwatch_wake() (also one
 * made before the call) or rescan_ms, whichever comes first. Events and
 * wakes that arrived meanwhile are consumed: scan after each return.
 */
void dirwatch_wait(struct dirwatch *);
/* Any thread: end the current or the next dirwatch_wait(). */
void dirwatch_wake(struct dirwatch *);
/* Whether events come (false: timer only). */
bool dirwatch_has_events(const struct dirwatch *);
void dirwatch_free(struct dirwatch *);

#endif
