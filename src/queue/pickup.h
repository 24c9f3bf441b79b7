/* SPDX-License-Identifier: ISC */
/*
 * queue/pickup.h - take messages that local programs dropped into
 * <data_dir>/maildrop/ (`tern sendmail`) into the queue.
 *
 * The maildrop directory is mode 1733 and owned by the server's user,
 * like Postfix's maildrop: any local user may create a file in it, nobody
 * else may list it, and only the owner of a file (or of the directory)
 * may remove it. A writer creates ".NAME" (O_EXCL), writes, fsyncs and
 * renames it to NAME; names that start with '.' are never read.
 * A drop file is
 *   "TERN-MAILDROP 1\n"
 *   "S <sender>\n"              the envelope sender, "<>" allowed
 *   "R <rcpt>\n" ...            1..PICKUP_RCPTS_MAX recipients
 *   "\n"
 *   the message: CRLF lines, no NUL, no bare CR or LF
 * The pickup thread scans the directory at start, whenever a file is
 * moved in (inotify, util/dirwatch.h) and every PICKUP_INTERVAL_MS, turns each
 * file into a spool message (a Received field naming the file owner's uid
 * first), resolves local recipients through the directory like RCPT TO, waits
 * for the spool commit, hands the message to the scheduler, and only then
 * removes the file: a crash in between means a duplicate, never a loss. A local
 * recipient that does not exist (or loops) is queued in state F and returned to
 * the sender in a DSN (queue/bounce.h) before the file goes; with the null
 * sender it is only logged. A file it cannot accept is
 * moved to <data_dir>/maildrop-refused/ (mode 0700) and logged
 * (event=pickup_refused); a temporary failure (directory, spool) leaves
 * it for the next scan.
 * It does not add From, Date or Message-ID: `tern sendmail` does. It
 * qualifies bare names in From, To, Cc and Reply-To ("To: alice") with
 * the first of `domains` (msg/qualify.h), as Postfix does for local
 * submissions.
 * Trust: every drop file is hostile local input (any user, any bytes,
 * any file type, links): it is opened without following symlinks or
 * blocking, must be a regular file with one link and at most
 * max_message_size + PICKUP_ENV_MAX bytes, and is parsed strictly.
 */
#ifndef TERN_QUEUE_PICKUP_H
#define TERN_QUEUE_PICKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp/addr.h"
#include "util/buf.h"
#include "util/why.h"

#define PICKUP_MAGIC "TERN-MAILDROP 1\n"
#define PICKUP_RCPTS_MAX 1000 /* recipients in one drop file */
#define PICKUP_ENV_MAX ((PICKUP_RCPTS_MAX + 2) * (SMTP_PATH_MAX + 3) + 32)
#define PICKUP_NAME_MAX 64     /* drop file name bytes */
#define PICKUP_INTERVAL_MS 1000 /* rescan period; inotify wakes it first */
/* Bytes qualifying bare names (msg/qualify.h) may add to a header. */
#define PICKUP_QUALIFY_GROWTH (64 * 1024)

struct conf;
struct conf_holder;
struct sched;
struct spool;
struct pickup;

/* A parsed drop file; rcpts is allocated (pickup_drop_free). */
struct pickup_drop {
	struct smtp_addr sender;
	struct smtp_addr *rcpts;
	size_t nrcpts;
	size_t body_off; /* where the message starts */
	bool eightbit;   /* the message has a byte >= 0x80 */
	bool smtputf8;   /* an address is UTF-8 (RFC 6531) */
};

/*
 * Parse and check a whole drop file p[0..n): the format above, and a
 * message of at most body_max bytes. Pure. 0 with *out filled, or -1
 * with *out cleared and *why_out a short static English reason.
 */
int pickup_parse(const uint8_t *p, size_t n, uint64_t body_max,
    struct pickup_drop *out, const char **why_out);
void pickup_drop_free(struct pickup_drop *);

/*
 * Create <data_dir>/maildrop/ (mode 1733) and maildrop-refused/ when
 * missing, check that maildrop/ is a directory owned by us, and start the
 * pickup thread; dbpath is the user database it opens. Each drop file is
 * handled by the configuration in force when it is taken (confs, which
 * must outlive the pickup). NULL with why (WHY_TEMP) when that fails:
 * the server then runs without a pickup.
 */
/*
 * Issue 16: DKIM-sign a message taken from the maildrop (its final
 * bytes, CRLF lines) by the configuration conf: header fields to put on
 * top into out (nothing when its From domain has no key); -1 when it
 * must wait ([authentication] dkim_key_error = defer). Runs on the
 * pickup thread.
 */
typedef int pickup_sign_fn(void *arg, const struct conf *conf,
    const uint8_t *msg, size_t n, struct buf *out);

struct pickup *pickup_start(struct conf_holder *confs, const char *data_dir,
    struct spool *, struct sched *, const char *dbpath,
    pickup_sign_fn *sign, void *sign_arg, struct why *);
/* Finish the file in progress, stop the thread, free (NULL is fine). */
void pickup_stop(struct pickup *);

#endif
