/* SPDX-License-Identifier: ISC */
/*
 * server/privdrop.c - hand data_dir to the service user, then become it
 * (see privdrop.h).
 *
 * Until issue 14 root walked all of data_dir with nftw(3) and lchown(2)
 * at every start. The walk went down into maildrop/, which every local
 * user can write, so a user swapping one of its directories for a link
 * while root walked got root-owned files anywhere handed to the service
 * user. Now root looks only at the names in `entries` below, opens each
 * with O_PATH | O_NOFOLLOW relative to its parent's descriptor, checks and
 * changes the object it opened (fstat, fchownat on the descriptor), and
 * never opens a directory others can write.
 * Trust: root; data_dir's contents may have been made by the service user.
 */
#include "server/privdrop.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "util/fsutil.h"

enum entry_kind {
	E_DIR,
	E_FILE,
};

/* Indexes of the entries that hold others (see `entries`). */
enum {
	I_QUEUE = 0,
	I_TLS = 8,
};

struct entry {
	const char *name;
	enum entry_kind kind;
	int parent; /* index in entries, -1: data_dir itself */
	bool enter; /* entries below it follow: it must be private */
};

/*
 * Everything tern makes at a fixed name below data_dir, from the code.
 * Names made below these at run time (messages, mailboxes, drops) are
 * made by the service user after the drop and are never looked at here.
 */
static const struct entry entries[] = {
	/* queue/spool.c: the spool, its lock and its directories */
	[I_QUEUE] = { "queue", E_DIR, -1, true },
	{ "lock", E_FILE, I_QUEUE, false },
	{ "incoming", E_DIR, I_QUEUE, false },
	{ "active", E_DIR, I_QUEUE, false },
	{ "corrupt", E_DIR, I_QUEUE, false },
	{ "notes", E_DIR, I_QUEUE, false },
	{ "free", E_DIR, I_QUEUE, false },
	{ "seg", E_DIR, I_QUEUE, false }, /* queue/spool_seg.c */
	/* server/tls.c: the self-signed certificate, when [tls] has none */
	[I_TLS] = { "tls", E_DIR, -1, true },
	{ "self-signed.crt", E_FILE, I_TLS, false },
	{ "self-signed.key", E_FILE, I_TLS, false },
	/* server/server.c, deliver/maildir.c: mail/<domain>/<user>/ */
	{ "mail", E_DIR, -1, false },
	/* queue/pickup.c: mode 1733, anyone may write it: never entered */
	{ "maildrop", E_DIR, -1, false },
	{ "maildrop-refused", E_DIR, -1, false },
	/* server/server.c: the one-server-per-data_dir lock */
	{ "tern.pid", E_FILE, -1, false },
	/* dir/dir.c: the user database and SQLite's files beside it */
	{ "tern.db", E_FILE, -1, false },
	{ "tern.db-wal", E_FILE, -1, false },
	{ "tern.db-shm", E_FILE, -1, false },
	{ "tern.db-journal", E_FILE, -1, false },
};

#define NENTRIES (sizeof(entries) / sizeof(entries[0]))

int
privdrop_lookup(const struct conf *conf, struct privdrop_user *pu,
    struct why *why)
{
	struct passwd *pw;

	if (conf->user == NULL || geteuid() != 0)
		return 0;
	pw = getpwnam(conf->user);
	if (pw == NULL)
		return why_set(why, WHY_PERM, 0,
		    "user %.64s: no such user; create it (adduser --system "
		    "%.64s) or remove `user =`",
		    conf->user, conf->user);
	pu->name = conf->user;
	pu->uid = pw->pw_uid;
	pu->gid = pw->pw_gid;
	return 1;
}

/* Give the object open at fd (O_PATH is fine) to pu, unless it is. */
static int
hand_over(int fd, const struct stat *st, const struct privdrop_user *pu,
    const char *path, struct why *why)
{
	if (st->st_uid == pu->uid && st->st_gid == pu->gid)
		return 0;
	if (fchownat(fd, "", pu->uid, pu->gid, AT_EMPTY_PATH) == -1)
		return why_set(why, WHY_TEMP, errno, "chown %.150s to %.64s",
		    path, pu->name);
	return 0;
}

/*
 * Check entries[i], open at fd, and hand it over. A wrong type or owner
 * is the operator's to look at, not ours to repair: refuse to start.
 */
static int
check_entry(int fd, size_t i, const struct privdrop_user *pu, bool change,
    const char *path, struct why *why)
{
	const struct entry *e = &entries[i];
	struct stat st;

	if (fstat(fd, &st) == -1)
		return why_set(why, WHY_TEMP, errno, "stat %.150s", path);
	if (S_ISLNK(st.st_mode))
		return why_set(why, WHY_PERM, 0,
		    "%.150s is a symbolic link; tern makes it itself and, as "
		    "root, follows no link there: remove it",
		    path);
	if (e->kind == E_DIR ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
		return why_set(why, WHY_PERM, 0,
		    "%.150s is not a %s; move it away and let tern make it",
		    path, e->kind == E_DIR ? "directory" : "regular file");
	if (st.st_uid != 0 && st.st_uid != pu->uid)
		return why_set(why, WHY_PERM, 0,
		    "%.150s is owned by uid %u, not by root or %.64s; check "
		    "who made it, then chown it to %.64s",
		    path, (unsigned)st.st_uid, pu->name, pu->name);
	/* Another name for the same file could be anything of root's. */
	if (e->kind == E_FILE && st.st_nlink != 1)
		return why_set(why, WHY_PERM, 0,
		    "%.150s has %lu hard links; tern's own files have one: "
		    "check where the others are",
		    path, (unsigned long)st.st_nlink);
	if (e->enter && !fsutil_dir_is_private(fd, path, pu->uid, why))
		return -1;
	return change ? hand_over(fd, &st, pu, path, why) : 0;
}

static int
check_entries(int dfd, const char *data_dir, const struct privdrop_user *pu,
    bool change, struct why *why)
{
	int fds[NENTRIES];
	char path[4096];
	size_t i;
	int pfd, n, rc = 0;

	for (i = 0; i < NENTRIES; i++)
		fds[i] = -1;
	for (i = 0; i < NENTRIES && rc == 0; i++) {
		const struct entry *e = &entries[i];

		pfd = e->parent == -1 ? dfd : fds[e->parent];
		if (pfd == -1) /* its parent does not exist */
			continue;
		n = e->parent == -1
		        ? snprintf(path, sizeof(path), "%s/%s", data_dir,
		              e->name)
		        : snprintf(path, sizeof(path), "%s/%s/%s", data_dir,
		              entries[e->parent].name, e->name);
		if (n < 0 || (size_t)n >= sizeof(path)) {
			rc = why_set(why, WHY_PERM, ENAMETOOLONG, "%.150s",
			    data_dir);
			break;
		}
		/* O_PATH: nothing opened for real, a FIFO cannot block us. */
		fds[i] = openat(pfd, e->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fds[i] == -1 && errno == ENOENT)
			continue;
		if (fds[i] == -1) {
			rc = why_set(why, WHY_TEMP, errno, "open %.150s", path);
			break;
		}
		rc = check_entry(fds[i], i, pu, change, path, why);
		if (!e->enter) {
			(void)close(fds[i]);
			fds[i] = -1;
		}
	}
	for (i = 0; i < NENTRIES; i++)
		if (fds[i] != -1)
			(void)close(fds[i]);
	return rc;
}

/* privdrop_data_dir(), or with change false its checks alone. */
static int
prepare(const char *data_dir, const struct privdrop_user *pu, bool change,
    struct why *why)
{
	struct stat st;
	int dfd, rc = -1;

	if (change && fsutil_mkdirs(data_dir, 0750, why) == -1)
		return -1;
	if (geteuid() != 0)
		return 0; /* we can only hurt ourselves */
	dfd = open(data_dir, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (dfd == -1 && !change && errno == ENOENT)
		return 0; /* made at start */
	if (dfd == -1)
		return why_set(why, WHY_TEMP, errno, "open data_dir %.150s",
		    data_dir);
	if (fstat(dfd, &st) == -1) {
		why_set(why, WHY_TEMP, errno, "stat data_dir %.150s", data_dir);
		goto out;
	}
	if (S_ISLNK(st.st_mode)) {
		why_set(why, WHY_PERM, 0,
		    "data_dir %.150s is a symbolic link; set data_dir to the "
		    "directory it points to",
		    data_dir);
		goto out;
	}
	if (!fsutil_dir_is_private(dfd, data_dir,
	        pu != NULL ? pu->uid : (uid_t)-1, why))
		goto out;
	if (pu == NULL) {
		rc = 0;
		goto out;
	}
	if (check_entries(dfd, data_dir, pu, change, why) == -1 ||
	    (change && hand_over(dfd, &st, pu, data_dir, why) == -1))
		goto out;
	rc = 0;
out:
	(void)close(dfd);
	return rc;
}

int
privdrop_data_dir(const char *data_dir, const struct privdrop_user *pu,
    struct why *why)
{
	return prepare(data_dir, pu, true, why);
}

int
privdrop_check_data_dir(const char *data_dir, const struct privdrop_user *pu,
    struct why *why)
{
	return prepare(data_dir, pu, false, why);
}

int
privdrop_become(const struct privdrop_user *pu, const char *data_dir,
    struct why *why)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;

	if (setgroups(1, &pu->gid) == -1 ||
	    setresgid(pu->gid, pu->gid, pu->gid) == -1 ||
	    setresuid(pu->uid, pu->uid, pu->uid) == -1)
		return why_set(why, WHY_TEMP, errno, "drop privileges to %.64s",
		    pu->name);
	if (getresuid(&r, &e, &s) == -1 || r != pu->uid || e != pu->uid ||
	    s != pu->uid || getresgid(&rg, &eg, &sg) == -1 || rg != pu->gid ||
	    eg != pu->gid || sg != pu->gid)
		return why_set(why, WHY_TEMP, 0,
		    "drop privileges to %.64s: uid still %u", pu->name,
		    (unsigned)geteuid());
	/*
	 * The kernel marks a process that changed uid as not dumpable; with
	 * root gone for good, let a PANIC leave its core (STYLE 2.7), and
	 * let LeakSanitizer inspect the process in tests.
	 */
	(void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	if (data_dir != NULL && access(data_dir, R_OK | W_OK | X_OK) == -1)
		return why_set(why, WHY_PERM, errno,
		    "user %.64s cannot use data_dir %.150s (let it search "
		    "every directory above: chmod o+x)",
		    pu->name, data_dir);
	return 0;
}
