/* SPDX-License-Identifier: ISC */
/*
 * server/privdrop.h - hand data_dir to the service user, then become it.
 *
 * Started as root with `user = NAME`, `tern serve` and the admin commands
 * that touch data_dir (user, alias, queue, reload) call, in order:
 * privdrop_lookup(), privdrop_data_dir(), privdrop_become();
 * check-config runs privdrop_check_data_dir(), which changes nothing.
 * Root never walks data_dir (issue 14): it makes data_dir when missing,
 * then checks and hands over only the fixed entries that tern itself
 * makes below it (the table in privdrop.c). Everything else below
 * data_dir is created after the drop, by the service user.
 * Trust: root, over a directory the service user can write. Every step
 * below data_dir is relative to a descriptor and follows no symbolic
 * link; root enters only directories nobody but root and the service
 * user can write, and never opens maildrop/, which anyone can write.
 */
#ifndef TERN_SERVER_PRIVDROP_H
#define TERN_SERVER_PRIVDROP_H

#include <sys/types.h>

#include "util/why.h"

struct conf;

struct privdrop_user {
	const char *name; /* borrowed from the struct conf */
	uid_t uid;
	gid_t gid;
};

/*
 * Whether this process must drop privileges: 1 with *pu filled when it
 * runs as root and `user` is set, 0 when not (not root, or no `user`),
 * -1 when the user does not exist (why says how to create it).
 */
int privdrop_lookup(const struct conf *, struct privdrop_user *pu,
    struct why *);

/*
 * Make data_dir (mkdir -p, mode 0750) when missing. As root, refuse it
 * when it is a symbolic link, is owned by anyone but root or pu's user,
 * or is writable by group or other. With pu (NULL: root keeps running as
 * root), also check every fixed entry that exists below it (the type tern
 * makes, not a link, owned by root or pu's user, a file with no other
 * hard link) and give data_dir and those entries to pu's user and group.
 * Not root: only the mkdir. 0, or -1 with why naming the path and what to
 * do; entries checked before a refusal may already have been handed over.
 */
int privdrop_data_dir(const char *data_dir, const struct privdrop_user *pu,
    struct why *);

/*
 * The checks of privdrop_data_dir() alone, changing nothing (tern
 * check-config): a missing data_dir passes, it is made at start.
 */
int privdrop_check_data_dir(const char *data_dir,
    const struct privdrop_user *pu, struct why *);

/*
 * Become pu's user for good: setgroups, setresgid and setresuid, verified.
 * Then data_dir (NULL: not checked) must be usable (read, write, search)
 * by that user, or -1 says which directories to open up.
 */
int privdrop_become(const struct privdrop_user *pu, const char *data_dir,
    struct why *);

#endif
