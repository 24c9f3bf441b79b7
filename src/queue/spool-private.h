/* SPDX-License-Identifier: ISC */
/*
 * queue/spool-private.h - what spool.c (the files, the commit, the
 * notes) and spool_env.c (the envelope's text format) share. Nothing
 * outside queue/spool*.c includes it.
 * Trust: as spool.h: our own files, validated when read.
 */
#ifndef TERN_QUEUE_SPOOL_PRIVATE_H
#define TERN_QUEUE_SPOOL_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "queue/spool.h"
#include "util/buf.h"
#include "util/why.h"

#define MAGIC "TERN1 "
#define MAGIC_LEN 6
#define FIRST_LINE_LEN 17 /* "TERN1 " + 10 digits + LF */
#define HLEN_MAX 9999999999ULL
#define PREFIX_DIGITS 10
#define PREFIX_LINE "prefix "
#define STATE_POS 5                 /* "rcpt " */
#define ARRIVAL_MAX 253402300799ULL /* 9999-12-31T23:59:59Z */

#define NOTES_MAX (4u * 1024 * 1024)
/*
 * A message of at most this many bytes (envelope and prefix included)
 * is kept in memory while it arrives and made durable by an append to
 * the segment log (spool_seg.h); a bigger one, or one arriving while
 * SPOOL_MEM_BUDGET bytes are held by others, gets a file of its own.
 */
#define SPOOL_MEM_MSG_MAX (1024u * 1024)
#define SPOOL_MEM_BUDGET (128u * 1024 * 1024)

struct seg_state;

struct spool {
	char *dir;
	bool readonly;
	int dirfd, incfd, actfd, corfd, notefd, lockfd;
	int freefd; /* free/: files of removed messages, for reuse */
	pthread_mutex_t pool_mtx;
	char (*pool)[SPOOL_ID_MAX]; /* names in free/ */
	size_t npool;
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	pthread_t thr;
	bool thr_started, stopping;
	struct spool_msg *head, **tailp; /* commits waiting for the thread */
	struct spool_stats stats;
	struct seg_state *seg;  /* spool_seg.c */
	size_t mem_max;         /* SPOOL_MEM_MSG_MAX; 0: no segments (tests) */
	_Atomic size_t mem_used; /* bytes of messages held in memory */
};

/* A message being written (spool.c) and committed (spool_commit.c). */
struct spool_msg {
	struct spool *sp;
	char id[SPOOL_ID_MAX];
	int fd;
	bool failed;
	bool renamed;
	struct why why; /* the first failure */
	uint8_t *wbuf;
	size_t wlen, wcap;
	/*
	 * Kept whole in wbuf (no file, fd -1) until the commit appends it
	 * to the segment log; wcap bytes counted in sp->mem_used.
	 */
	bool in_mem;
	uint32_t crc; /* of an in-memory message, set by the commit */
	off_t written; /* bytes written to fd so far */
	off_t stale;   /* size of a reused file: its tail is cut at commit */
	off_t prefix_at; /* file offset of the prefix length digits, or 0 */
	off_t msg_at;    /* file offset of the message, after the envelope */
	bool replacing;  /* named incoming/ID.r until spool_msg_replaced() */
	bool prefix_set;
	spool_commit_fn *done;
	void *arg;
	struct spool_msg *next;
};

/* spool.c: write out what wbuf holds of a file-backed message; 0 or -1. */
int spool_msg_flush(struct spool_msg *);
/* spool.c: close, give back memory, free (the file stays). */
void spool_msg_free(struct spool_msg *);
/* spool_commit.c: the sync thread (arg: the spool). */
void *spool_sync_main(void *arg);

/* spool_queued.c: a queue id as spool_is_id() says, or -1 with why. */
int spool_check_id(const char *id, struct why *why);

/*
 * The envelope of the message that starts at `base` of fd (0 for a
 * message file, the payload of a segment record), into a new buffer.
 */
int spool_read_env(int fd, off_t base, uint8_t **out, size_t *n_out,
    struct why *why);
/*
 * A file for message `id` in incoming/ from free/ (its old size in
 * *size_out: overwrite, then cut), or -1 when there is none.
 */
int spool_pool_take(struct spool *, const char *id, off_t *size_out);
/* Move active/ID to free/ for reuse (or unlink it): 0 or -1. */
int spool_pool_put(struct spool *, const char *id);

/*
 * spool_notes.c: the notes side file of a message (retry count and
 * time, last errors, hold, warned): read into b (absent: empty; -1
 * only when memory is short), and applied to a loaded envelope.
 */
int spool_notes_read(struct spool *, const char *id, struct buf *b);
void spool_notes_apply(const struct buf *b, struct spool_env *env);
/*
 * spool_notes.c: remove the notes whose message is neither in active/
 * nor a segment record (a crash between spool_remove()'s two steps) and
 * half-written ones: at start-up, after seg_open(), before anything can
 * write a note. Two directory reads and a merge, no file lookup per
 * note (issue 20); segment records are looked up in memory.
 */
void spool_notes_clean(struct spool *);

/* spool_env.c. One envelope string as a token (see spool_env.c); -1: no room. */
int spool_enc(struct buf *b, const char *s);
/* A token back to a string of at most max bytes (malloc'd), or NULL. */
char *spool_dec(const uint8_t *p, size_t n, size_t max);
/* Split a line into nf space-separated fields; false if it has not. */
bool spool_split(const uint8_t *p, size_t n, size_t nf, const uint8_t **f,
    size_t *fl);
/* Decimal digits only, at most max. */
bool spool_parse_num(const uint8_t *p, size_t n, uint64_t max, uint64_t *out);
/* The next LF-terminated line of p[*pos..n); false at the end. */
bool spool_next_line(const uint8_t *p, size_t n, size_t *pos,
    const uint8_t **line, size_t *len);
/* A recipient state byte (P, D, F). */
bool spool_is_state(uint8_t c);
/*
 * Parse the envelope text p[0..n) of message id into env; with want_off,
 * the file offset of recipient want_idx's state byte goes there. -1
 * with a WHY_PERM why when it is malformed.
 */
int spool_env_parse(const char *id, const uint8_t *p, size_t n,
    struct spool_env *env, size_t want_idx, off_t *want_off,
    struct why *why);
/* The envelope text of env into b. */
int spool_env_build(struct buf *b, const struct spool_env *env,
    struct why *why);
/* Where the prefix length digits are in a built envelope, or 0. */
off_t spool_prefix_slot_at(const struct buf *b);

#endif
