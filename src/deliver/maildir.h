/* SPDX-License-Identifier: ISC */
/*
 * deliver/maildir.h - durable, idempotent delivery of one message into a
 * Maildir.
 *
 * The file is written in tmp/, its data made durable, renamed into new/,
 * and new/ made durable before success is reported (DESIGN.md: a crash
 * may not lose a delivery or show half of one). The syncs are shared
 * with the deliveries in flight on the same file system
 * (deliver/syncgroup.h): two flushes for the data of many files, two
 * for their renames.
 * Idempotent: a delivery with a key (queue id, recipient index) gets a
 * name made from it, and one whose name is already in new/ (or in cur/
 * as "NAME:2,", read but not flagged) is not written again: it was
 * delivered before a crash cut the queue's record of it, and is whole,
 * since a name reaches new/ only after its file's data is durable.
 * Only a regular file of our own user counts: a symlink, directory or
 * another user's file under the keyed name (planted by whoever can
 * write to the Maildir) does not stop the delivery, which then gets a
 * fresh name.
 * Not caught: a message a reader moved to cur/ and flagged (":2,S"),
 * renamed, deleted or moved to another folder; a host name that
 * changed; a folder that appeared between the attempts (a
 * subaddress's, the Junk folder). Those are delivered again.
 * Line endings are converted from CRLF to LF, the Unix Maildir
 * convention (Postfix does the same). Every failure is WHY_TEMP: a full
 * disk or a bad mode is for the operator to fix, and the queue retries.
 * Trust: the message bytes are the peer's but are only copied; the path
 * must be safe already (local.c checks the components it builds); the
 * key's queue id is checked here (letters and digits only).
 */
#ifndef TERN_DELIVER_MAILDIR_H
#define TERN_DELIVER_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "util/why.h"

#define MAILDIR_NAME_MAX 256 /* a delivered file name + NUL, at most */

/*
 * What makes a delivery the same one again: the queue id of the message
 * (letters and digits, at most MAILDIR_KEY_ID_MAX), its arrival time
 * and the recipient's index in its envelope.
 */
#define MAILDIR_KEY_ID_MAX 64
struct maildir_key {
	const char *qid;
	size_t idx;
	time_t arrival;
};

/*
 * The delivered file name for key on this host into out:
 * "ARRIVAL.T<qid>R<idx>.HOST" (the Maildir spec's time.unique.host,
 * '/' and ':' of the host escaped as \057 and \072). 0, or -1 when the
 * qid is not letters and digits or the name does not fit.
 */
int maildir_key_name(const struct maildir_key *, char *out, size_t outsz);

/*
 * Deliver `prefix` (trace headers, LF line endings, written as they are)
 * followed by `len` bytes of fd from `offset` into the Maildir at
 * `maildir_path`, creating it (and missing parent directories, mode 0700)
 * when needed. With a key, the name is maildir_key_name()'s and a
 * delivery already there (see above) is reported done without writing;
 * without one (NULL) a fresh unique name: "SEC.MUSECPPIDQSEQRRAND.HOST"
 * in the style of the Maildir spec and Dovecot. The file's name (below
 * new/, or cur/ for a found one read since) goes to name_out, which may
 * be NULL. *found_out (may be NULL): true when it was there already.
 * 0, or -1 with a WHY_TEMP why.
 */
int maildir_deliver(const char *maildir_path, const struct maildir_key *,
    const char *prefix, size_t prefix_len, int fd, off_t offset, off_t len,
    char *name_out, size_t name_outsz, bool *found_out, struct why *);

#endif
