/* SPDX-License-Identifier: ISC */
/*
 * deliver/maildir.c - write one message into a Maildir, durably.
 *
 * Model: STYLE.md snippet 4 and https://cr.yp.to/proc/maildir.html.
 * A file appears in new/ only complete and synced: tmp/ write, fsync,
 * rename, fsync new/ (shared by deliveries into the same new/ at once). A crash leaves at worst a stale file in tmp/
 * (Maildir readers ignore tmp/) and a queue retry, so a duplicate.
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

#include "util/fsutil.h"
#include "util/str.h"

#define COPY_CHUNK 65536
#define HOST_MAX 64 /* of the host part of a file name, escapes included */
#define DSYNC_SLOTS 64 /* new/ directories synced as a group at once */

static atomic_uint deliveries;

/*
 * Group sync of one new/ directory: deliveries that renamed into it while
 * a sync ran share the next one. `want` counts renames that asked, `done`
 * the highest one a finished sync covers; a sync covers the renames that
 * asked before it started. A slot serves one directory (dev, ino) at a
 * time; another directory hashing to a busy slot syncs on its own.
 */
struct dsync {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	dev_t dev;
	ino_t ino;
	unsigned users;
	bool busy;
	uint64_t want, done;
};

static struct dsync dsyncs[DSYNC_SLOTS];
static pthread_once_t dsync_once = PTHREAD_ONCE_INIT;

static void
dsync_init(void)
{
	size_t i;

	for (i = 0; i < DSYNC_SLOTS; i++) {
		pthread_mutex_init(&dsyncs[i].mtx, NULL);
		pthread_cond_init(&dsyncs[i].cv, NULL);
	}
}

/*
 * fsync(dirfd), or wait for a sync of the same directory that starts
 * after this call. A failed sync is not shared: each waiter then syncs
 * its own descriptor, which reports the write-back error to it too.
 */
static int
sync_dir(int dirfd)
{
	struct dsync *d;
	struct stat st;
	uint64_t mine, target;
	int rc = 0, err = 0;

	if (fstat(dirfd, &st) == -1)
		return fsync(dirfd);
	(void)pthread_once(&dsync_once, dsync_init);
	d = &dsyncs[(st.st_ino ^ st.st_dev) % DSYNC_SLOTS];
	pthread_mutex_lock(&d->mtx);
	if (d->users > 0 && (d->dev != st.st_dev || d->ino != st.st_ino)) {
		pthread_mutex_unlock(&d->mtx);
		return fsync(dirfd);
	}
	d->dev = st.st_dev;
	d->ino = st.st_ino;
	d->users++;
	mine = ++d->want;
	while (d->done < mine && rc == 0) {
		if (d->busy) {
			pthread_cond_wait(&d->cv, &d->mtx);
			continue;
		}
		d->busy = true;
		target = d->want;
		pthread_mutex_unlock(&d->mtx);
		rc = fsync(dirfd);
		err = errno;
		pthread_mutex_lock(&d->mtx);
		d->busy = false;
		if (rc == 0 && target > d->done)
			d->done = target;
		pthread_cond_broadcast(&d->cv);
	}
	d->users--;
	pthread_mutex_unlock(&d->mtx);
	errno = err;
	return rc;
}

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

int
maildir_deliver(const char *maildir_path, const char *prefix, size_t prefix_len,
    int fd, off_t offset, off_t len, char *name_out, size_t name_outsz,
    struct why *why)
{
	char name[MAILDIR_NAME_MAX];
	int tmpfd = -1, newfd = -1, out = -1, rc = -1;

	if (offset < 0 || len < 0)
		return why_set(why, WHY_TEMP, EINVAL, "bad message range");
	tmpfd = open_sub(maildir_path, "tmp");
	newfd = open_sub(maildir_path, "new");
	if (tmpfd == -1 || newfd == -1) {
		if (errno != ENOENT) {
			why_set(why, WHY_TEMP, errno, "open maildir %s",
			    maildir_path);
			goto done;
		}
		/* First delivery to this mailbox. */
		if (create_maildir(maildir_path, why) == -1)
			goto done;
		if (tmpfd == -1)
			tmpfd = open_sub(maildir_path, "tmp");
		if (newfd == -1)
			newfd = open_sub(maildir_path, "new");
		if (tmpfd == -1 || newfd == -1) {
			why_set(why, WHY_TEMP, errno, "open maildir %s",
			    maildir_path);
			goto done;
		}
	}
	if (make_name(name, sizeof(name)) == -1) {
		why_set(why, WHY_TEMP, ENAMETOOLONG, "maildir file name");
		goto done;
	}
	out =
	    openat(tmpfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out == -1) { /* EEXIST: not ours to unlink */
		why_set(why, WHY_TEMP, errno, "create %s/tmp/%s", maildir_path,
		    name);
		goto done;
	}
	if (prefix_len > 0 &&
	    fsutil_write_all(out, prefix, prefix_len) == -1) {
		why_set(why, WHY_TEMP, errno, "write %s/tmp", maildir_path);
		goto unlink;
	}
	if (copy_lf(fd, offset, len, out, why) == -1)
		goto unlink;
	if (fsync(out) == -1) {
		why_set(why, WHY_TEMP, errno, "fsync %s/tmp", maildir_path);
		goto unlink;
	}
	(void)close(out); /* after fsync, close cannot lose data */
	out = -1;
	if (renameat(tmpfd, name, newfd, name) == -1) {
		why_set(why, WHY_TEMP, errno, "rename into %s/new",
		    maildir_path);
		goto unlink;
	}
	/* A failure here means a retry and maybe a duplicate, never a loss. */
	if (sync_dir(newfd) == -1) {
		why_set(why, WHY_TEMP, errno, "fsync %s/new", maildir_path);
		goto done;
	}
	if (name_out != NULL)
		(void)strlcpy(name_out, name, name_outsz);
	rc = 0;
	goto done;
unlink:
	if (out != -1)
		(void)close(out);
	out = -1;
	(void)unlinkat(tmpfd, name, 0);
done:
	if (out != -1)
		(void)close(out);
	if (tmpfd != -1)
		(void)close(tmpfd);
	if (newfd != -1)
		(void)close(newfd);
	return rc;
}
