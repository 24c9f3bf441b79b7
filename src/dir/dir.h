/* SPDX-License-Identifier: ISC */
/*
 * dir/dir.h - users, aliases and password hashes, kept in SQLite.
 *
 * The only module that runs SQL (DESIGN.md). Addresses are stored
 * normalized: domain lower-cased, local part lower-cased when it is pure
 * ASCII, a UTF-8 local part (RFC 6531) kept byte for byte. Passwords are
 * stored only as yescrypt hashes from libxcrypt ("$y$..."), which Dovecot
 * reads with scheme CRYPT. Nothing is cached between calls, so a change
 * made by `tern user ...` in another process is seen by the next call.
 * Every call blocks (SQLite, and ~20 ms of hashing for passwords): run it
 * on a worker thread, never on an event loop.
 * Trust: addresses and passwords may come from a peer (RCPT TO, AUTH);
 * they are parsed with smtp_mailbox_parse() and bound as SQL parameters,
 * never pasted into SQL. The database file is created mode 0640.
 */
#ifndef TERN_DIR_DIR_H
#define TERN_DIR_DIR_H

#include <stdbool.h>
#include <stddef.h>

#include "util/why.h"

/* local (64, RFC 5321 4.5.3.1.1) '@' domain (255, 4.5.3.1.2) NUL */
#define DIR_ADDR_MAX (64 + 1 + 255 + 1)
/* Bytes; longer is refused (libxcrypt's CRYPT_MAX_PASSPHRASE_SIZE - 1). */
#define DIR_PASSWORD_MAX 511
#define DIR_RESOLVE_DEPTH_MAX 20     /* nested alias expansions */
#define DIR_RESOLVE_TARGETS_MAX 1000 /* alias rows read per resolution */

struct dir;

/*
 * Open (creating file and schema if missing) the database at path: WAL
 * journal, busy timeout 5 s. A struct dir belongs to one thread. NULL
 * with why (WHY_TEMP) on error.
 */
struct dir *dir_open(const char *path, struct why *);
void dir_close(struct dir *); /* NULL is fine */

/*
 * Normalize `address` into out[DIR_ADDR_MAX]; false with *why_out when
 * it is not a plain local@domain mailbox (no quoted local part, no
 * address literal, no '/' which would escape a Maildir path).
 */
bool dir_addr_norm(const char *address, char *out, const char **why_out);

/* 0 ok, -1 with why (WHY_PERM: bad input, exists, no such user). */
int dir_user_add(struct dir *, const char *address, const char *password,
    struct why *);
int dir_user_del(struct dir *, const char *address, struct why *);
int dir_user_passwd(struct dir *, const char *address, const char *password,
    struct why *);
/* Calls fn for each user, sorted; address valid during the call only. */
int dir_user_list(struct dir *, void (*fn)(void *arg, const char *address),
    void *arg, struct why *);
/* 1 yes, 0 no (also for an address that cannot exist), -1 error. */
int dir_user_exists(struct dir *, const char *address, struct why *);
/*
 * 1 right password, 0 wrong or no such user (a dummy hash is computed so
 * that both take the same time), -1 error.
 */
int dir_user_check_password(struct dir *, const char *address,
    const char *password, struct why *);

/*
 * alias is local@domain or "@domain" (catch-all for the domain); target
 * is local@domain. One row per (alias, target): several targets are
 * several calls; an existing pair is refused.
 */
int dir_alias_add(struct dir *, const char *alias, const char *target,
    struct why *);
/* target NULL: remove every target of alias. -1 if nothing matched. */
int dir_alias_del(struct dir *, const char *alias, const char *target,
    struct why *);
/* Sorted by alias, then target; strings valid during the call only. */
int dir_alias_list(struct dir *,
    void (*fn)(void *arg, const char *alias, const char *target), void *arg,
    struct why *);

struct dir_targets {
	char **addrs; /* normalized, deduplicated, each malloc'd */
	size_t n;
};
void dir_targets_free(struct dir_targets *); /* leaves it empty */

enum dir_resolve_status {
	DIR_RESOLVED = 0,
	DIR_NO_SUCH_USER, /* reply 550 5.1.1 */
	DIR_ALIAS_LOOP,   /* loop, too deep or too many: 550 5.4.6 */
	DIR_TEMPFAIL,     /* database trouble: 451 4.3.0 */
};

/*
 * The rules around the user store (the configuration's, dir_policy_conf):
 * which domains are local, the admin address, subaddressing. Pointers
 * are borrowed for the duration of each call.
 */
struct dir_policy {
	/* Is domain ours (NULL: every domain is)? Mail to a target
	 * elsewhere is kept as addressed, not resolved again. */
	bool (*is_local)(void *arg, const char *domain);
	void *arg;
	/*
	 * The admin address (conf `postmaster`), or NULL. In a local
	 * domain it is a mailbox even without a user of that name, and
	 * `postmaster` and each of admin_names in every local domain go
	 * to it unless the user store has that address itself.
	 */
	const char *postmaster;
	const char *const *admin_names; /* lower-case local parts */
	size_t nadmin_names;
	/* postmaster@ of a local domain always resolves (RFC 5321 4.5.1):
	 * when nothing else takes it, to the mailbox of that name. */
	bool postmaster_always;
	/* recipient_delimiter characters; NULL or "": no subaddresses */
	const char *delimiters;
};

/*
 * The configuration's policy into *out: its local domains, postmaster,
 * admin_aliases, recipient_delimiter, postmaster_always set. conf must
 * outlive every use of *out (dir/policy.c).
 */
struct conf;
void dir_policy_conf(struct dir_policy *out, const struct conf *);

/*
 * Where mail for `address` goes: the one answer for RCPT TO, `tern
 * sendmail`'s recipients and notices to the postmaster. For a local
 * address (pol->is_local; pol NULL: every domain local, nothing else),
 * the first of these that exists decides:
 *   1. an alias of the address itself, expanded; else a user of that
 *      name; else, when it is pol->postmaster, that mailbox;
 *   2. when its local part is `postmaster` or one of pol->admin_names
 *      and pol->postmaster is set: pol->postmaster, resolved the same
 *      way;
 *   3. with a delimiter (alice+news): 1 and 2 for the address without
 *      the subaddress (alice); a mailbox found so is returned without
 *      it (the deliverer finds the folder, dir/subaddr.h);
 *   4. the domain's catch-all alias "@domain";
 *   5. with pol->postmaster_always, postmaster@domain (also
 *      postmaster+x@) is the mailbox of that name.
 * An alias target in a local domain is resolved again by the same
 * rules; one elsewhere is kept as it is. A target equal to the alias
 * being expanded is that user's own mailbox, so "a@x -> a@x, b@y" keeps
 * a copy. A local target that resolves to nothing is skipped (and
 * logged); if nothing is left, DIR_NO_SUCH_USER. A cycle, more than
 * DIR_RESOLVE_DEPTH_MAX levels or DIR_RESOLVE_TARGETS_MAX alias rows is
 * DIR_ALIAS_LOOP; postmaster@ (5) that loops is its own mailbox then
 * (logged). On DIR_RESOLVED, out holds at least one address and the
 * caller frees it with dir_targets_free(); otherwise out is empty.
 */
enum dir_resolve_status dir_resolve(struct dir *, const char *address,
    const struct dir_policy *pol, struct dir_targets *out, struct why *);

#endif
