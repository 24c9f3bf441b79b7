/* SPDX-License-Identifier: ISC */
/*
 * util/dirwatch.c - inotify plus an eventfd, waited on with poll(2).
 */
#include "util/dirwatch.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "util/xmalloc.h"

struct dirwatch {
	int ino;  /* inotify, or -1 */
	int wake; /* eventfd, or -1 */
	unsigned rescan_ms;
};

struct dirwatch *
dirwatch_new(const char *path, unsigned rescan_ms)
{
	struct dirwatch *w = xcalloc(1, sizeof(*w));

	w->rescan_ms = rescan_ms;
	w->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->ino != -1 &&
	    inotify_add_watch(w->ino, path,
	        IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR) == -1) {
		(void)close(w->ino);
		w->ino = -1;
	}
	return w;
}

/* Read everything pending on a non-blocking fd: only the wakeup counts. */
static void
drain(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

void
dirwatch_wait(struct dirwatch *w)
{
	struct pollfd p[2];
	nfds_t n = 0;
	int rc;

	if (w->ino != -1)
		p[n++] = (struct pollfd){ .fd = w->ino, .events = POLLIN };
	if (w->wake != -1)
		p[n++] = (struct pollfd){ .fd = w->wake, .events = POLLIN };
	do
		rc = poll(p, n, (int)w->rescan_ms);
	while (rc == -1 && errno == EINTR);
	if (w->ino != -1)
		drain(w->ino);
	if (w->wake != -1)
		drain(w->wake);
}

void
dirwatch_wake(struct dirwatch *w)
{
	uint64_t one = 1;
	ssize_t r;

	/* Only EAGAIN can fail it (counter full): a wake is pending then. */
	if (w->wake != -1) {
		r = write(w->wake, &one, sizeof(one));
		(void)r;
	}
}

bool
dirwatch_has_events(const struct dirwatch *w)
{
	return w->ino != -1;
}

void
dirwatch_free(struct dirwatch *w)
{
	if (w == NULL)
		return;
	if (w->ino != -1)
		(void)close(w->ino);
	if (w->wake != -1)
		(void)close(w->wake);
	free(w);
}
