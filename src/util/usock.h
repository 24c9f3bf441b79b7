/* SPDX-License-Identifier: ISC */
/*
 * util/usock.h - the server's local unix stream sockets (the control
 * socket, the event socket): listen at a path only its owner may open,
 * and tell who connected.
 *
 * Trust: the path is ours (under data_dir, whose lock the caller
 * holds); a peer's uid comes from the kernel (SO_PEERCRED), not from
 * anything it says.
 */
#ifndef TERN_UTIL_USOCK_H
#define TERN_UTIL_USOCK_H

#include <stdbool.h>
#include <sys/types.h>

#include "util/why.h"

/*
 * Listen at `path` with mode 0600 (owned by the caller's euid): a
 * stale socket there is removed, any other file is left and refused.
 * `what` names the socket in messages ("control socket"). Returns a
 * non-blocking, close-on-exec descriptor, or -1 with why.
 */
int usock_listen(const char *path, const char *what, struct why *);

/*
 * Whether the peer on fd may talk to the server: root or the server's
 * own euid. *uid_out is the peer's uid ((uid_t)-1 when unknown).
 */
bool usock_peer_allowed(int fd, uid_t *uid_out);

#endif
