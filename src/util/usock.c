/* SPDX-License-Identifier: ISC */
/*
 * util/usock.c - local unix stream sockets (see usock.h).
 */
#include "util/usock.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/str.h"

int
usock_listen(const char *path, const char *what, struct why *why)
{
	struct sockaddr_un su;
	struct stat st;
	int fd;

	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(su.sun_path))
		return why_set(why, WHY_PERM, ENAMETOOLONG,
		    "%s %s: path too long for a unix socket; use a shorter "
		    "data_dir",
		    what, path);
	(void)strlcpy(su.sun_path, path, sizeof(su.sun_path));
	/* Only a stale socket of ours is removed, never another file. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return why_set(why, WHY_PERM, EEXIST,
			    "%s %s: a file that is not a socket is in the "
			    "way; remove it",
			    what, path);
		(void)unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return why_set(why, WHY_TEMP, errno, "%s", what);
	/*
	 * bind() makes the file with the umask's mode: chmod before
	 * listen(), so nobody else can connect in between.
	 */
	if (bind(fd, (struct sockaddr *)&su, sizeof(su)) == -1 ||
	    chmod(path, 0600) == -1 || listen(fd, 16) == -1) {
		why_set(why, WHY_TEMP, errno, "%s %s", what, su.sun_path);
		(void)close(fd);
		(void)unlink(path);
		return -1;
	}
	return fd;
}

bool
usock_peer_allowed(int fd, uid_t *uid_out)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	*uid_out = (uid_t)-1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return false;
	*uid_out = cred.uid;
	return cred.uid == 0 || cred.uid == geteuid();
}
