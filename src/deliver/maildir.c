/* SPDX-License-Identifier: ISC */
/*
 * deliver/maildir.c - write one message into a Maildir, durably and once.
 *
 * Model: STYLE.md snippet 4 and https://cr.yp.to/proc/maildir.html.
 * A file appears in new/ only complete and synced: tmp/ write, data
 * sync, rename, sync of new/, both through the file system's sync group
 * (syncgroup.h) so that deliveries in flight together share the flushes.
 * A crash leaves at worst a stale file in tmp/ (Maildir readers ignore
 * tmp/ and remove it after 36 hours) and a queue retry, which finds the
 * keyed name in new/ and does not deliver again.
 */
#include "deliver/maildir.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deliver/syncgroup.h"
#include "util/fsutil.h"
#include "util/str.h"

#define COPY_CHUNK 65536
#define HOST_MAX 64 /* of the host part of a file name, escapes included */

static atomic_uint deliveries;

static int
create_maildir(const char *path, struct why *why)
{
	static const char *const sub[] = { "cur", "new", "tmp" };
	char p[4096], *slash;
	size_t i;
	int n;

	/*
	 * The directory that holds mailboxes holds unrelated hierarchies:
	 * spread them over the file system (chattr +T), so that one
	 * mailbox's churn does not slow file creation in all the others
	 * (ext4 scans recently freed inodes of the group it creates in).
	 */
	n = snprintf(p, sizeof(p), "%s", path);
	slash = strrchr(p, '/');
	if (n > 0 && (size_t)n < sizeof(p) && slash != NULL && slash != p) {
		*slash = '\0';
		if (fsutil_mkdirs(p, 0700, why) == -1)
			return -1;
		fsutil_spread_subdirs(p);
	}
	if (fsutil_mkdirs(path, 0700, why) == -1)
		return -1;
	for (i = 0; i < 3; i++) {
		n = snprintf(p, sizeof(p), "%s/%s", path, sub[i]);
		if (n < 0 || (size_t)n >= sizeof(p))
			return why_set(why, WHY_TEMP, ENAMETOOLONG, "%s", path);
		if (fsutil_mkdirs(p, 0700, why) == -1)
			return -1;
	}
	return 0;
}

static int
open_sub(const char *path, const char *sub)
{
	char p[4096];
	int n;

	n = snprintf(p, sizeof(p), "%s/%s", path, sub);
	if (n < 0 || (size_t)n >= sizeof(p)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* The spec: '/' and ':' in the host name become \057 and \072. */
static void
host_part(char *out, size_t outsz)
{
	char h[HOST_MAX + 1];
	size_t i, o = 0;

	if (gethostname(h, sizeof(h)) == -1 || h[0] == '\0')
		(void)strlcpy(h, "localhost", sizeof(h));
	h[HOST_MAX] = '\0';
	for (i = 0; h[i] != '\0' && o + 5 < outsz; i++) {
		if (h[i] == '/' || h[i] == ':') {
			(void)snprintf(out + o, outsz - o, "\\%03o",
			    (unsigned)(unsigned char)h[i]);
			o += 4;
		} else if ((unsigned char)h[i] > 0x20 &&
		           (unsigned char)h[i] < 0x7f)
			out[o++] = h[i];
	}
	out[o] = '\0';
}

/* The host name does not change under us: look it up once. */
static pthread_once_t host_once = PTHREAD_ONCE_INIT;
static char host_cached[HOST_MAX + 1];

static void
host_init(void)
{
	host_part(host_cached, sizeof(host_cached));
}

static int
make_name(char *out, size_t outsz)
{
	struct timespec ts;
	char host[HOST_MAX + 1];
	uint32_t rnd;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (uint32_t)ts.tv_nsec;
	(void)pthread_once(&host_once, host_init);
	(void)strlcpy(host, host_cached, sizeof(host));
	/* Q counts deliveries of this process: unique across threads. */
	n = snprintf(out, outsz, "%lld.M%06ldP%ldQ%uR%08x.%s",
	    (long long)ts.tv_sec, ts.tv_nsec / 1000, (long)getpid(),
	    atomic_fetch_add(&deliveries, 1) + 1, rnd, host);
	return (n < 0 || (size_t)n >= outsz) ? -1 : 0;
}

/* Letters and digits only: safe in a file name, no Maildir separator. */
static bool
is_key_id(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= MAILDIR_KEY_ID_MAX ||
		    !ascii_is_alnum((unsigned char)s[i]))
			return false;
	return i > 0;
}

int
maildir_key_name(const struct maildir_key *key, char *out, size_t outsz)
{
	int n;

	if (key == NULL || key->qid == NULL || !is_key_id(key->qid))
		return -1;
	(void)pthread_once(&host_once, host_init);
	n = snprintf(out, outsz, "%lld.T%sR%zu.%s", (long long)key->arrival,
	    key->qid, key->idx, host_cached);
	return (n < 0 || (size_t)n >= outsz) ? -1 : 0;
}

/*
 * Copy len bytes of in from off to out, CRLF -> LF. A CR not followed
 * by LF is kept: it is data, not a line ending.
 */
static int
copy_lf(int in, off_t off, off_t len, int out, struct why *why)
{
	uint8_t ib[COPY_CHUNK], ob[COPY_CHUNK + 1];
	const uint8_t *q;
	bool cr = false;
	size_t i, o, run;
	ssize_t r;

	while (len > 0) {
		r = pread(in, ib,
		    len < (off_t)sizeof(ib) ? (size_t)len : sizeof(ib), off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return why_set(why, WHY_TEMP, errno, "read spool file");
		if (r == 0)
			return why_set(why, WHY_TEMP, 0,
			    "spool file shorter than its envelope says");
		off += r;
		len -= r;
		/* A CR is held until the next byte shows whether LF follows. */
		for (i = 0, o = 0; i < (size_t)r;) {
			if (cr && ib[i] != '\n')
				ob[o++] = '\r';
			q = memchr(ib + i, '\r', (size_t)r - i);
			run = q != NULL ? (size_t)(q - ib) - i : (size_t)r - i;
			memcpy(ob + o, ib + i, run);
			o += run;
			i += run;
			cr = q != NULL;
			i += cr ? 1 : 0;
		}
		if (fsutil_write_all(out, ob, o) == -1)
			return why_set(why, WHY_TEMP, errno, "write");
	}
	if (cr && fsutil_write_all(out, "\r", 1) == -1)
		return why_set(why, WHY_TEMP, errno, "write");
	return 0;
}

/*
 * tmp/ and new/ of the Maildir at path into *tmpfd and *newfd, making it
 * on first delivery. -1 with why; the caller closes what is not -1.
 */
static int
open_dirs(const char *path, int *tmpfd, int *newfd, struct why *why)
{
	*tmpfd = open_sub(path, "tmp");
	*newfd = open_sub(path, "new");
	if (*tmpfd != -1 && *newfd != -1)
		return 0;
	if (errno != ENOENT)
		return why_set(why, WHY_TEMP, errno, "open maildir %s", path);
	/* First delivery to this mailbox. */
	if (create_maildir(path, why) == -1)
		return -1;
	if (*tmpfd == -1)
		*tmpfd = open_sub(path, "tmp");
	if (*newfd == -1)
		*newfd = open_sub(path, "new");
	if (*tmpfd == -1 || *newfd == -1)
		return why_set(why, WHY_TEMP, errno, "open maildir %s", path);
	return 0;
}

/*
 * Could st be a delivery this process made? A regular file of our user:
 * not a symlink, directory or FIFO, nor a file planted by another user
 * who can write to the Maildir, which must not stop a real delivery.
 */
static bool
ours(const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_uid == geteuid();
}

/*
 * Was the keyed delivery `name` made already, and a crash cut the
 * queue's record of it? It is in new/, or in cur/ as "name:2," (a
 * reader saw it and set no flag). Found: its directory is made durable
 * (the crash may have come before that), its name goes to where[], 1.
 * 0 when not found; 2 when the name is taken by something that is no
 * delivery of ours (see ours()); -1 with why.
 */
static int
find_delivered(const char *path, int newfd, const char *name, char *where,
    size_t wheresz, struct why *why)
{
	char seen[MAILDIR_NAME_MAX + 16];
	struct stat st;
	int curfd, err;

	if (fstatat(newfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!ours(&st))
			return 2;
		if (syncgroup_sync(newfd, newfd, false) == -1)
			return why_set(why, WHY_TEMP, errno, "sync %s/new",
			    path);
		(void)strlcpy(where, name, wheresz);
		return 1;
	}
	if (errno != ENOENT)
		return why_set(why, WHY_TEMP, errno, "look in %s/new", path);
	/* Relative to new/: no open of cur/ unless it is there. */
	if (snprintf(seen, sizeof(seen), "../cur/%s:2,", name) >=
	    (int)sizeof(seen))
		return 0; /* cannot be there: no reader makes it */
	if (fstatat(newfd, seen, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0
		                       : why_set(why, WHY_TEMP, errno,
		                             "look in %s/cur", path);
	if (!ours(&st))
		return 0; /* not a delivery; new/ has room for the name */
	curfd = open_sub(path, "cur");
	if (curfd == -1 || syncgroup_sync(curfd, curfd, false) == -1) {
		err = errno;
		if (curfd != -1)
			(void)close(curfd);
		return why_set(why, WHY_TEMP, err, "sync %s/cur", path);
	}
	(void)close(curfd);
	(void)strlcpy(where, seen + strlen("../cur/"), wheresz);
	return 1;
}

/*
 * tmp/from -> new/to, never replacing a file there: a keyed name in
 * new/ is a delivery already made. Falls back to a plain rename on a
 * file system without RENAME_NOREPLACE (find_delivered() looked).
 */
static int
move_in(int tmpfd, const char *from, int newfd, const char *to)
{
	if (renameat2(tmpfd, from, newfd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	return renameat(tmpfd, from, newfd, to);
}

/* Write the message into tmp/name and make its data durable. */
static int
write_tmp(const char *path, int tmpfd, const char *name, const char *prefix,
    size_t prefix_len, int fd, off_t offset, off_t len, struct why *why)
{
	int out, rc = -1;

	out =
	    openat(tmpfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out == -1) /* EEXIST: not ours to unlink */
		return why_set(why, WHY_TEMP, errno, "create %s/tmp/%s", path,
		    name);
	if (prefix_len > 0 && fsutil_write_all(out, prefix, prefix_len) == -1)
		why_set(why, WHY_TEMP, errno, "write %s/tmp", path);
	else if (copy_lf(fd, offset, len, out, why) == -1)
		;
	else if (syncgroup_sync(out, tmpfd, true) == -1)
		why_set(why, WHY_TEMP, errno, "sync %s/tmp", path);
	else
		rc = 0;
	(void)close(out); /* after the sync, close cannot lose data */
	if (rc == -1)
		(void)unlinkat(tmpfd, name, 0);
	return rc;
}

int
maildir_deliver(const char *maildir_path, const struct maildir_key *key,
    const char *prefix, size_t prefix_len, int fd, off_t offset, off_t len,
    char *name_out, size_t name_outsz, bool *found_out, struct why *why)
{
	char name[MAILDIR_NAME_MAX], tmpname[MAILDIR_NAME_MAX];
	char where[MAILDIR_NAME_MAX + 16];
	int tmpfd = -1, newfd = -1, rc = -1, found = 0;

	if (found_out != NULL)
		*found_out = false;
	if (offset < 0 || len < 0)
		return why_set(why, WHY_TEMP, EINVAL, "bad message range");
	if (key != NULL && maildir_key_name(key, name, sizeof(name)) == -1)
		return why_set(why, WHY_TEMP, EINVAL,
		    "no maildir file name for this queue id");
	if (open_dirs(maildir_path, &tmpfd, &newfd, why) == -1)
		goto done;
	if (key != NULL) {
		found = find_delivered(maildir_path, newfd, name, where,
		    sizeof(where), why);
		if (found == -1)
			goto done;
		if (found == 1) {
			if (found_out != NULL)
				*found_out = true;
			if (name_out != NULL)
				(void)strlcpy(name_out, where, name_outsz);
			rc = 0;
			goto done;
		}
	}
	/* tmp/ gets a unique name: a crashed attempt's file stays apart. */
	if (make_name(tmpname, sizeof(tmpname)) == -1) {
		why_set(why, WHY_TEMP, ENAMETOOLONG, "maildir file name");
		goto done;
	}
	/* found 2: the keyed name is taken, so this copy gets a fresh one
	 * (a retry after a crash may then deliver it twice, never lose it). */
	if (key == NULL || found == 2)
		(void)strlcpy(name, tmpname, sizeof(name));
	if (write_tmp(maildir_path, tmpfd, tmpname, prefix, prefix_len, fd,
	        offset, len, why) == -1)
		goto done;
	if (move_in(tmpfd, tmpname, newfd, name) == -1) {
		why_set(why, WHY_TEMP, errno, "rename into %s/new",
		    maildir_path);
		(void)unlinkat(tmpfd, tmpname, 0);
		goto done;
	}
	/* A failure here means a retry, which finds the name: no copy. */
	if (syncgroup_sync(newfd, newfd, false) == -1) {
		why_set(why, WHY_TEMP, errno, "sync %s/new", maildir_path);
		goto done;
	}
	if (name_out != NULL)
		(void)strlcpy(name_out, name, name_outsz);
	rc = 0;
done:
	if (tmpfd != -1)
		(void)close(tmpfd);
	if (newfd != -1)
		(void)close(newfd);
	return rc;
}
