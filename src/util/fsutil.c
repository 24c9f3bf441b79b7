/* SPDX-License-Identifier: ISC */
#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

int
gsync_init(struct gsync *g, const char *path)
{
	memset(g, 0, sizeof(*g));
	g->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (g->fd == -1)
		return -1;
	pthread_mutex_init(&g->mtx, NULL);
	pthread_cond_init(&g->cv, NULL);
	return 0;
}

void
gsync_destroy(struct gsync *g)
{
	if (g->fd == -1)
		return;
	(void)close(g->fd);
	g->fd = -1;
	pthread_mutex_destroy(&g->mtx);
	pthread_cond_destroy(&g->cv);
}

int
gsync_wait(struct gsync *g)
{
	uint64_t ticket, upto;
	int rc, err = 0;

	pthread_mutex_lock(&g->mtx);
	ticket = ++g->requested;
	while (g->completed < ticket) {
		if (g->running) {
			pthread_cond_wait(&g->cv, &g->mtx);
			continue;
		}
		/*
		 * Lead a sync. It covers every ticket handed out so far,
		 * since their writes happened before they asked; tickets
		 * taken while it runs wait for the next one.
		 */
		g->running = true;
		upto = g->requested;
		pthread_mutex_unlock(&g->mtx);
		rc = syncfs(g->fd);
		err = errno;
		pthread_mutex_lock(&g->mtx);
		g->running = false;
		g->syncs++;
		if (rc == -1) {
			/* Widening may fail a good sync too: safe side. */
			if (g->fail_hi == 0)
				g->fail_lo = g->completed + 1;
			g->fail_hi = upto;
			g->fail_errno = err;
		}
		g->completed = upto;
		pthread_cond_broadcast(&g->cv);
	}
	rc = 0;
	if (g->fail_hi != 0 && ticket >= g->fail_lo && ticket <= g->fail_hi) {
		rc = -1;
		err = g->fail_errno;
	}
	pthread_mutex_unlock(&g->mtx);
	if (rc == -1)
		errno = err;
	return rc;
}
