/* SPDX-License-Identifier: ISC */
/*
 * deliver/maildir.h - durable delivery of one message into a Maildir.
 *
 * The file is written in tmp/, fsync'd, renamed into new/, and new/ is
 * fsync'd before success is reported (DESIGN.md: a crash may duplicate a
 * delivery, never lose one or show half of one). Line endings are
 * converted from CRLF to LF, the Unix Maildir convention (Postfix does
 * the same). Every failure is WHY_TEMP: a full disk or a bad mode is for
 * the operator to fix, and the queue retries.
 * Trust: the message bytes are the peer's but are only copied; the path
 * must be safe already (local.c checks the components it builds).
 */
#ifndef TERN_DELIVER_MAILDIR_H
#define TERN_DELIVER_MAILDIR_H

#include <stddef.h>
#include <sys/types.h>

#include "util/why.h"

#define MAILDIR_NAME_MAX 256 /* a delivered file name + NUL, at most */

/*
 * Deliver `prefix` (trace headers, LF line endings, written as they are)
 * followed by `len` bytes of fd from `offset` into the Maildir at
 * `maildir_path`, creating it (and missing parent directories, mode 0700)
 * when needed. The new file's name (below new/) goes to name_out, which
 * may be NULL. Unique across threads and processes: "SEC.MUSECPPIDQSEQ
 * RRAND.HOST" in the style of the Maildir spec and Dovecot.
 * 0, or -1 with a WHY_TEMP why.
 */
int maildir_deliver(const char *maildir_path, const char *prefix,
    size_t prefix_len, int fd, off_t offset, off_t len, char *name_out,
    size_t name_outsz, struct why *);

#endif
