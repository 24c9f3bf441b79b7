/* SPDX-License-Identifier: ISC */
/*
 * capture/store.h - the messages `tern capture` keeps (issue 22): a ring
 * of at most `max` messages and `max_bytes` of their data in memory,
 * newest last; when a new one comes and either cap would be passed, the
 * oldest are dropped. With a directory, each
 * message is also written there as ID.eml (ID is ours: a decimal
 * counter, never a byte from the network). The counter starts after
 * the highest ID.eml already in the directory (a previous run's), and
 * no file that is there is ever overwritten or removed.
 *
 * One thread (the capture loop); no locking. Ids start at 1 (with a
 * directory, after its highest ID.eml) and are never reused while the
 * process lives (deleting does not reset them).
 * Trust: a message's bytes and envelope are the peer's; the store keeps
 * them as they are, the API escapes them on output.
 */
#ifndef TERN_CAPTURE_STORE_H
#define TERN_CAPTURE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/why.h"

#define CAP_RULE_MAX 40
#define CAP_REF_MAX 40
#define CAP_DETAIL_MAX 160
#define CAP_PROBLEMS_MAX 32 /* problems kept per message */

struct cap_problem {
	char rule[CAP_RULE_MAX];
	char ref[CAP_REF_MAX];
	char detail[CAP_DETAIL_MAX];
};

struct cap_msg {
	uint64_t id;     /* set by cap_store_add() */
	time_t received; /* set by cap_store_add() */
	char *from;      /* envelope sender, "" for <> */
	char **to;       /* envelope recipients */
	size_t nto;
	char *helo;      /* "" when none was given */
	char client[64]; /* the peer's IP address, text */
	bool tls;
	char *auth; /* the AUTH user, or NULL */
	char *data; /* the message as received, NUL after len */
	size_t len;
	bool in_dir; /* set by cap_store_add(): DIR/ID.eml is ours */
	/* Filled by cap_store_add() from data (capture/view.h). */
	char *subject;     /* decoded to UTF-8, "" when none */
	char *header_from; /* the raw value, unfolded, "" when none */
	char *header_to;
	struct cap_problem *problems;
	size_t nproblems;
};

struct cap_store;

/*
 * max >= 1 messages, and at most max_bytes of message data in all (0:
 * no byte cap): a new message drops the oldest until both hold (the new
 * one is always kept). dir NULL: memory only; it must exist and be
 * writable.
 */
struct cap_store *cap_store_new(size_t max, uint64_t max_bytes,
    const char *dir);
/* Bytes of message data held now. */
uint64_t cap_store_bytes(const struct cap_store *);
void cap_store_free(struct cap_store *);

/*
 * Take m (allocated with the xmalloc family, fields as above; the store
 * frees it), give it an id and the time, derive the subject, header
 * fields and problems (capture/check.h's, then the nextra of extra: the
 * ones found elsewhere, DKIM's), drop the oldest when full, write
 * DIR/ID.eml. Returns the stored message. A failed file write is
 * logged, the message is kept in memory anyway.
 */
const struct cap_msg *cap_store_add(struct cap_store *, struct cap_msg *m,
    const struct cap_problem *extra, size_t nextra);

/* Stored messages, newest first: i = 0 is the newest; NULL past the end. */
const struct cap_msg *cap_store_nth(const struct cap_store *, size_t i);
size_t cap_store_count(const struct cap_store *);
const struct cap_msg *cap_store_get(const struct cap_store *, uint64_t id);

/* Delete one (true if it was there) or all (returns the count); with a
 * directory, their files too. */
bool cap_store_delete(struct cap_store *, uint64_t id);
size_t cap_store_delete_all(struct cap_store *);

/* Free a message that was never added. NULL is fine. */
void cap_msg_free(struct cap_msg *);

#endif
