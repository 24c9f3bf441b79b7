/* SPDX-License-Identifier: ISC */
#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

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
