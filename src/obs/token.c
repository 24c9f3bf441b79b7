/* SPDX-License-Identifier: ISC */
/*
 * obs/token.c - a bearer token from a file (token.h).
 */
#include "obs/token.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool
obs_token_valid(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || n > OBS_TOKEN_MAX)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e)
			return false;
	return true;
}

/* The file's bytes, up to outsz - 1 of them; -1 with errno. */
static ssize_t
read_all(int fd, char *out, size_t outsz)
{
	size_t got = 0;
	ssize_t n;

	while (got < outsz - 1) {
		n = read(fd, out + got, outsz - 1 - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int
obs_token_read(const char *key, const char *path, char *out, size_t outsz,
    size_t *len_out, struct why *why)
{
	struct stat st;
	ssize_t n;
	int fd;

	if (outsz < OBS_TOKEN_BUF)
		return why_set(why, WHY_PERM, 0, "%s: token buffer too small",
		    key);
	/* O_NOFOLLOW: a symlink could point anywhere, refuse it. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return why_set(why, WHY_PERM, errno,
		    "%s %s: cannot open (a regular file, not a symlink)", key,
		    path);
	if (fstat(fd, &st) == -1) {
		why_set(why, WHY_PERM, errno, "%s %s: stat", key, path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		why_set(why, WHY_PERM, 0, "%s %s: not a regular file", key,
		    path);
		goto fail;
	}
	if ((st.st_mode & 077) != 0) {
		why_set(why, WHY_PERM, 0,
		    "%s %s: mode %03o lets group or other at the token; "
		    "chmod 600 it",
		    key, path, (unsigned)(st.st_mode & 0777));
		goto fail;
	}
	/* One byte more than a token and its LF: tells "too long". */
	if ((n = read_all(fd, out, OBS_TOKEN_BUF)) == -1) {
		why_set(why, WHY_PERM, errno, "%s %s: read", key, path);
		goto fail;
	}
	(void)close(fd);
	if (n > 0 && out[n - 1] == '\n')
		n--;
	if (!obs_token_valid(out, (size_t)n)) {
		out[0] = '\0';
		return why_set(why, WHY_PERM, 0,
		    "%s %s: expected one token of 1 to %d visible ASCII "
		    "characters (no spaces), optionally ending in a newline",
		    key, path, OBS_TOKEN_MAX);
	}
	out[n] = '\0';
	*len_out = (size_t)n;
	return 0;
fail:
	(void)close(fd);
	return -1;
}
