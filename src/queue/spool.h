/* SPDX-License-Identifier: ISC */
/*
 * queue/spool.h - durable storage of queued messages and their envelopes.
 *
 * The only code that touches spool files. A small message is held in
 * memory while it arrives and committed by an append to the segment log
 * (queue/spool_seg.h, issue 20); a big one is written to incoming/ and
 * moved to active/. Either way its data (and directory entry) reach
 * stable storage before the commit callback reports success, which is
 * what lets the server answer 250 (DESIGN.md, "what 250 OK means").
 * Commits that arrive within a few milliseconds share their syncs (group
 * commit) on the spool's sync thread.
 * Per-recipient delivery state is updated in place and synced, so a
 * restart never loses it; at worst a recipient is delivered twice.
 * Layout below the spool directory: seg/ (the segment log), incoming/
 * (being written), active/ (committed files), free/ (files for reuse),
 * corrupt/ (failed validation), notes/ (retry count and last errors, not
 * synced), and `lock` (one server per spool, flock).
 * Queue ids are SPOOL_ID_LEN lower-case hex digits: 14 of microseconds
 * since the epoch (so ids sort by arrival until the year 4253; 12 digits
 * would wrap every 8.9 years), 3 of a per-process counter and 3 from
 * getrandom(); creation is O_EXCL so a clash is retried, not lost.
 * Envelopes may carry DSN data (issue 4): a "dsn RET ENVID" line after
 * "flags" and two more fields on a rcpt line (NOTIFY bits, ORCPT), both
 * written only when given, so files from before stay valid unchanged.
 * Trust: spool files are ours (mode 0600); recovery still validates them
 * and moves unreadable ones to corrupt/ instead of crashing.
 */
#ifndef TERN_QUEUE_SPOOL_H
#define TERN_QUEUE_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "util/why.h"

#define SPOOL_ID_MAX 32       /* queue id length + NUL */
#define SPOOL_ID_LEN 20       /* 14 hex usec, 3 hex counter, 3 hex random */
#define SPOOL_ID_TIME_LEN 14  /* leading hex digits: usec since the epoch */
#define SPOOL_FIELD_MAX 1024  /* one decoded envelope string */
#define SPOOL_RCPTS_MAX 10000 /* recipients per message */
#define SPOOL_ENV_MAX (16u * 1024 * 1024) /* envelope bytes on disk */
#define SPOOL_NOTE_MAX 512                /* one stored error text */
#define SPOOL_PREFIX_MAX (64u * 1024)     /* header fields added on top */

enum spool_rcpt_state {
	SPOOL_RCPT_PENDING = 'P',
	SPOOL_RCPT_DELIVERED = 'D',
	SPOOL_RCPT_FAILED = 'F', /* permanent failure (bounce later) */
};

struct spool_rcpt {
	char *addr;  /* final mailbox address, local@domain */
	char *orcpt; /* the address as the client gave it in RCPT TO */
	enum spool_rcpt_state state;
	char *last_error; /* from spool_note_error(), or NULL; loaded only */
};

/* DSN parameters of one recipient (RFC 3461 4.1, 4.2). */
struct spool_dsn {
	unsigned notify; /* SMTP_NOTIFY_* bits (smtp/params.h), 0: none */
	char *orcpt;     /* ORCPT= as received ("rfc822;xtext"), or NULL */
};

/* The envelope: what the client said around the message. */
struct spool_env {
	char id[SPOOL_ID_MAX];
	time_t arrival;
	char *sender; /* "" for the null reverse-path <> */
	char *helo;
	char *client_addr; /* "192.0.2.1" */
	char *client_name; /* reverse DNS or "unknown" */
	bool smtputf8;
	bool eightbit;
	/* DSN (RFC 3461 4.3, 4.4): RET= (enum smtp_ret, 0: none), ENVID= */
	int dsn_ret;
	char *envid; /* xtext as received, or NULL */
	struct spool_rcpt *rcpts;
	size_t nrcpts;
	/* nrcpts entries parallel to rcpts, or NULL when none were given */
	struct spool_dsn *dsn;
	off_t body_offset; /* where the message starts in the file */
	off_t body_size;   /* message bytes (Received header included) */
	/*
	 * Header fields that go on top of the message, decided only after
	 * it arrived (issue 16: Authentication-Results, DKIM-Signature):
	 * CRLF lines, prefix_len bytes, or NULL. Every reader of a queued
	 * message (delivery, bounce, `tern queue show`) puts them before
	 * the body_size bytes at body_offset. spool_msg_new() reserves
	 * room for them when prefix_slot is set; loaded by spool_env_*.
	 */
	bool prefix_slot;
	char *prefix;
	size_t prefix_len;
	/* Set with the prefix: deliver into the Junk folder (DMARC
	 * quarantine). */
	bool junk;
	/* Retry bookkeeping from spool_note_retry(); 0 when never tried. */
	unsigned attempts;
	time_t next_attempt;
	bool warned; /* a delay warning went out (spool_note_warned) */
	/*
	 * On hold: not delivered until released. spool_msg_new() stores it
	 * in the envelope (durable with the commit); spool_note_hold()
	 * changes it later.
	 */
	bool held;
	/*
	 * REQUIRETLS (RFC 8689 4): every hop over verified TLS to a server
	 * that offers REQUIRETLS, or a bounce. In the envelope from the
	 * start ("requiretls 1"), as durable as the 250.
	 */
	bool requiretls;
};

struct spool;
struct spool_msg;

/* Called once, on the spool's sync thread; hop to your own thread. */
typedef void spool_commit_fn(void *arg, const char *id, int ok,
    const struct why *why);

/*
 * Open (creating with mode 0700 when missing) the spool below `dir` and
 * start its sync thread. NULL with why on failure.
 */
struct spool *spool_open(const char *dir, struct why *);
/*
 * Open an existing spool for reading only (`tern queue` while the server
 * runs): no sync thread, no lock, nothing is created, moved or removed;
 * spool_msg_new, spool_rcpt_set, spool_note_* and spool_remove fail.
 */
struct spool *spool_open_readonly(const char *dir, struct why *);
/* Stop the sync thread after finishing queued commits; free. */
void spool_close(struct spool *);
/* The directory given to spool_open(): active/ etc. are below it. */
const char *spool_dir(const struct spool *);

/*
 * Begin a message: a fresh unique queue id and a file in incoming/ with
 * the envelope written at its head. `env->id` is filled in, and
 * `env->arrival` when it is 0; the envelope is copied (NULL strings are
 * stored as ""; rcpt states other than D and F as P). Any thread. NULL
 * with a WHY_TEMP why on failure, or WHY_PERM when the envelope breaks a
 * limit (SPOOL_FIELD_MAX, 1..SPOOL_RCPTS_MAX recipients, SPOOL_ENV_MAX).
 */
struct spool_msg *spool_msg_new(struct spool *, struct spool_env *env,
    struct why *);
const char *spool_msg_id(const struct spool_msg *);
/* Append message bytes (as received, CRLF lines). -1 with why (ENOSPC). */
int spool_msg_write(struct spool_msg *, const void *p, size_t n, struct why *);
/*
 * Put header fields on top of the message (see spool_env.prefix): the
 * p[0..n) CRLF lines, written after the message bytes and named in the
 * envelope, so the commit makes them durable with it. Once, after the
 * last spool_msg_write(), and only for a message begun with
 * prefix_slot. `junk`: local delivery goes into the Junk folder. -1 with why (n > SPOOL_PREFIX_MAX, no slot, I/O).
 */
int spool_msg_set_prefix(struct spool_msg *, const void *p, size_t n,
    bool junk, struct why *);
/*
 * Read back what was written so far (issue 18: content filters read the
 * message before the commit): the buffered bytes are written out, and a
 * new read-only descriptor on the file is returned (the caller closes
 * it) with the offset of the message's first byte (after the envelope)
 * and the count of message bytes written. -1 with why.
 */
int spool_msg_reader(struct spool_msg *, off_t *start, uint64_t *len,
    struct why *);
/*
 * What was written so far, read back whole into a new buffer (*out,
 * the caller frees; *len bytes): a filter's result signed (issue 18).
 * Blocking file reads: a worker or the pickup thread. -1 with why.
 */
int spool_msg_read_back(struct spool_msg *, uint8_t **out, size_t *len,
    struct why *);
/*
 * spool_msg_write() as a write callback (milter/edit.h milter_write_fn):
 * m is the struct spool_msg; -1 with errno set from the failure.
 */
int spool_msg_write_cb(void *m, const void *p, size_t n);
/*
 * A new version of message `old`, not yet committed (issue 18: a content
 * filter changed it), under the same queue id: written to a file of its
 * own beside old's (env->id is set to old's id), then put in old's place
 * by spool_msg_replaced(), which frees old; until then old stays as it
 * was and either may be aborted. NULL with why.
 */
struct spool_msg *spool_msg_replace(struct spool_msg *old,
    struct spool_env *env, struct why *);
/* m takes old's place (rename); old is freed. -1 with why: both stay. */
int spool_msg_replaced(struct spool_msg *m, struct spool_msg *old,
    struct why *);
/* Throw the message away (client gave up, message refused); frees m. */
void spool_msg_abort(struct spool_msg *);
/*
 * Make the message durable and visible to spool_scan(); takes ownership
 * of m. `done` runs exactly once on the sync thread, after the data and
 * the directory entry are on stable storage (ok=1) or after a failure
 * (ok=0, the message is removed).
 */
void spool_msg_commit(struct spool_msg *, spool_commit_fn *done, void *arg);
/*
 * spool_msg_commit() and wait for it: for threads that may block (a
 * delivery thread writing a bounce, the TLS-RPT run), never the sync
 * thread or an event loop. 0, or -1 with why (the message is removed).
 */
int spool_msg_commit_wait(struct spool_msg *, struct why *);

/*
 * Read the envelope of committed message `id` into *env (caller frees
 * with spool_env_free; all strings non-NULL except last_error), with
 * body_size from the file size and the notes (attempts, next_attempt,
 * last errors). -1 with why: WHY_PERM with sys_errno ENOENT when the
 * message is gone, WHY_PERM when it is corrupt (a read-write spool then
 * moves it to corrupt/ and logs event=spool_corrupt), WHY_TEMP for I/O.
 */
int spool_env_load(struct spool *, const char *id, struct spool_env *env,
    struct why *);
/*
 * spool_env_load, with the message file left open read-only in *body_fd
 * for the body (at env->body_offset): one open per delivery attempt.
 * *body_fd is -1 on failure.
 */
int spool_env_open(struct spool *, const char *id, struct spool_env *env,
    int *body_fd, struct why *);
void spool_env_free(struct spool_env *);
/* Durably record recipient `idx`'s new state (in place, then fdatasync). */
int spool_rcpt_set(struct spool *, const char *id, size_t idx,
    enum spool_rcpt_state, struct why *);
/*
 * Remember the last error of recipient `idx` (text truncated to
 * SPOOL_NOTE_MAX) for `tern queue`; read back by spool_env_load() into
 * rcpts[idx].last_error. Kept in a side file that is not synced: losing
 * it in a crash loses only the explanation, never mail.
 */
int spool_note_error(struct spool *, const char *id, size_t idx,
    const char *text, struct why *);
/* Remember the attempt count and the next attempt time (side file). */
int spool_note_retry(struct spool *, const char *id, unsigned attempts,
    time_t next_attempt, struct why *);
/* Remember that the sender was warned of a delay (side file). */
int spool_note_warned(struct spool *, const char *id, struct why *);
/* Put on hold (not delivered, but kept and expired) or release. */
int spool_note_hold(struct spool *, const char *id, bool hold, struct why *);
/*
 * The message stays queued for a while (deferred, held): if it is a
 * record of the segment log, move it into a file of its own (synced),
 * so that its segment can be removed once the rest of it is delivered.
 * Nothing to do for a message that has a file. 0, or -1 with why (it
 * stays where it was, which is safe).
 */
int spool_settle(struct spool *, const char *id, struct why *);
/* Remove a finished message. */
int spool_remove(struct spool *, const char *id, struct why *);
/* Is `s` shaped like a queue id (so safe in a file name and a log)? */
bool spool_is_id(const char *s);

/*
 * Call fn for every committed message id, oldest first (start-up
 * recovery, `tern queue list`). Leftovers in incoming/ are removed by
 * spool_open() (nobody was ever told 250 for them), before any new
 * message can be there; a read-only spool never removes anything.
 */
int spool_scan(struct spool *, void (*fn)(void *arg, const char *id), void *arg,
    struct why *);

/* Counters for monitoring and the benchmark. */
struct spool_stats {
	uint64_t commits;
	uint64_t syncs; /* fsync/fdatasync/syncfs calls made for commits */
	uint64_t batches;
};
void spool_get_stats(struct spool *, struct spool_stats *);

#endif
