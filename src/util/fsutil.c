/* SPDX-License-Identifier: ISC */
#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util/str.h"

int
fsutil_write_all(int fd, const void *p, size_t n)
{
	const unsigned char *b = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, b, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int
fsutil_pread_all(int fd, void *p, size_t n, off_t off, size_t *got)
{
	unsigned char *b = p;
	ssize_t r;

	*got = 0;
	while (*got < n) {
		r = pread(fd, b + *got, n - *got, off + (off_t)*got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return 0;
}

int
fsutil_writeback_error(int fd)
{
	/*
	 * SYNC_FILE_RANGE_WAIT_AFTER ends in file_fdatawait_range(), which
	 * checks and advances this descriptor's sample of the file's
	 * write-back errors; the data is clean, so nothing is written.
	 */
	if (sync_file_range(fd, 0, 0,
	        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
	            SYNC_FILE_RANGE_WAIT_AFTER) == -1)
		return errno;
	return 0;
}

int
fsutil_fsync_parent(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	size_t n;
	int fd, rc, err;

	if (slash == NULL) {
		dir[0] = '.';
		dir[1] = '\0';
	} else {
		n = slash == path ? 1 : (size_t)(slash - path); /* "/x" */
		if (n >= sizeof(dir)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	err = errno;
	(void)close(fd);
	errno = err;
	return rc;
}

int
fsutil_mkdirs(const char *path, mode_t mode, struct why *why)
{
	char tmp[4096];
	size_t i, n = strlen(path);

	if (n == 0 || n >= sizeof(tmp))
		return why_set(why, WHY_TEMP, ENAMETOOLONG, "mkdir %.100s",
		    path);
	memcpy(tmp, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, mode) == 0) {
			if (fsutil_fsync_parent(tmp) == -1)
				return why_set(why, WHY_TEMP, errno,
				    "fsync parent of %s", tmp);
		} else if (errno != EEXIST) {
			return why_set(why, WHY_TEMP, errno, "mkdir %s", tmp);
		}
		tmp[i] = (i == n) ? '\0' : '/';
	}
	return 0;
}

void
fsutil_spread_subdirs(const char *path)
{
	int fd, flags = 0;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1)
		return;
	/* The kernel reads and writes an int here, whatever the macro says. */
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 &&
	    (flags & FS_TOPDIR_FL) == 0) {
		flags |= FS_TOPDIR_FL;
		(void)ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
	(void)close(fd);
}

bool
fsutil_dir_is_private(int dfd, const char *path, uid_t also, struct why *why)
{
	struct stat st;

	if (fstat(dfd, &st) == -1) {
		why_set(why, WHY_TEMP, errno, "stat %.150s", path);
		return false;
	}
	if (!S_ISDIR(st.st_mode)) {
		why_set(why, WHY_PERM, 0, "%.150s is not a directory", path);
		return false;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid() &&
	    (also == (uid_t)-1 || st.st_uid != also)) {
		why_set(why, WHY_PERM, 0,
		    "%.150s is owned by uid %u; only root or tern's own user "
		    "may own it",
		    path, (unsigned)st.st_uid);
		return false;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		why_set(why, WHY_PERM, 0,
		    "%.150s is writable by others (mode %04o); chmod go-w it "
		    "or choose another directory",
		    path, (unsigned)(st.st_mode & 07777));
		return false;
	}
	return true;
}

/* The null device: writing to it is discarding, whoever asks. */
static bool
is_dev_null(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && major(st->st_rdev) == 1 &&
	       minor(st->st_rdev) == 3;
}

static int
refuse_type(const char *path, const struct stat *st, struct why *why)
{
	if (S_ISLNK(st->st_mode))
		return why_set(why, WHY_PERM, 0,
		    "%.150s is a symbolic link; name the file itself", path);
	return why_set(why, WHY_PERM, 0,
	    "%.150s is not a regular file; name a file tern may append to",
	    path);
}

int
fsutil_open_private(const char *path, int flags, mode_t mode, struct why *why)
{
	char dir[4096];
	const char *slash = strrchr(path, '/'), *base;
	struct stat st;
	size_t n;
	int dfd, fd, err;

	if (slash == NULL) {
		(void)strlcpy(dir, ".", sizeof(dir));
		base = path;
	} else {
		n = slash == path ? 1 : (size_t)(slash - path); /* "/x" */
		if (n >= sizeof(dir))
			return why_set(why, WHY_PERM, ENAMETOOLONG, "%.150s",
			    path);
		memcpy(dir, path, n);
		dir[n] = '\0';
		base = slash + 1;
	}
	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return why_set(why, WHY_PERM, EISDIR, "%.150s", path);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1)
		return why_set(why, WHY_TEMP, errno, "open directory %.150s",
		    dir);
	if (!fsutil_dir_is_private(dfd, dir, (uid_t)-1, why)) {
		(void)close(dfd);
		return -1;
	}
	/* For a clear refusal; the fstat of what we open decides. */
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !S_ISREG(st.st_mode) && !is_dev_null(&st)) {
		(void)close(dfd);
		return refuse_type(path, &st, why);
	}
	/* O_NONBLOCK: a FIFO must not hang start-up before it is refused. */
	fd = openat(dfd, base, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
	    mode);
	err = errno;
	(void)close(dfd);
	if (fd == -1 && err == ELOOP)
		return why_set(why, WHY_PERM, 0,
		    "%.150s is a symbolic link; name the file itself", path);
	if (fd == -1)
		return why_set(why, WHY_TEMP, err, "open %.150s", path);
	if (fstat(fd, &st) == -1) {
		err = errno;
		(void)close(fd);
		return why_set(why, WHY_TEMP, err, "stat %.150s", path);
	}
	if (!S_ISREG(st.st_mode) && !is_dev_null(&st)) {
		(void)close(fd);
		return refuse_type(path, &st, why);
	}
	if ((flags & O_NONBLOCK) == 0)
		(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}
