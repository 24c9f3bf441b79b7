/* SPDX-License-Identifier: ISC */
/*
 * ops/control.h - the control socket of a running server, and the client
 * side that `tern queue` and `tern reload` use.
 *
 * A unix stream socket at <data_dir>/control.sock (mode 0600, owned by
 * the server's user). One request per connection: a line of text
 * ("flush", "retry ID", "reload", ...); one answer, then the server
 * closes: a status line ("ok", "fail" or "refused") and text for a
 * person. So a command always learns what the server did, and "no
 * answer" means nothing was done.
 * The server checks the caller with SO_PEERCRED: root and the server's
 * own user may ask; anyone else is refused (the socket's mode keeps them
 * out too, this says so when it does not).
 * Requests run on the thread that owns the event base given to
 * control_open() (the server's main thread), one at a time.
 * Trust: requests come from local root or the service user, still
 * checked: the line is capped (CONTROL_LINE_MAX), must be printable
 * ASCII, and a slow client is cut off (CONTROL_TIMEOUT).
 */
#ifndef TERN_OPS_CONTROL_H
#define TERN_OPS_CONTROL_H

#include <stddef.h>
#include <sys/types.h>

#include "util/why.h"

struct buf;
struct event_base;

#define CONTROL_SOCKET_NAME "control.sock"
#define CONTROL_LINE_MAX 512          /* request bytes with the LF */
#define CONTROL_REPLY_MAX (64 * 1024) /* answer bytes */
#define CONTROL_TIMEOUT 30            /* seconds, each side */

enum control_status {
	CONTROL_OK = 0,  /* done as asked */
	CONTROL_FAIL,    /* not done: the text says why (unknown id ...) */
	CONTROL_REFUSED, /* not allowed, or not a request */
};

/*
 * A request: verb ("flush") and the rest of the line after one space
 * ("" when none). Append text for the person to `out` (lines end in LF;
 * no status line: control adds it). Returns what happened.
 */
typedef enum control_status control_fn(void *arg, const char *verb,
    const char *args, struct buf *out);

struct control;

/*
 * "<data_dir>/control.sock" into out[outsz]; -1 when it does not fit
 * a unix socket address (108 bytes).
 */
int control_socket_path(const char *data_dir, char *out, size_t outsz);

/*
 * Listen at `path` (a stale socket there is removed: the caller holds
 * the data_dir lock, so no other server uses it) and answer requests on
 * `base` with fn. Callers whose uid is neither 0 nor the server's euid
 * are refused. NULL with why.
 */
struct control *control_open(const char *path, struct event_base *base,
    control_fn *fn, void *arg, struct why *);
/* Stop listening, remove the socket, drop open connections. NULL ok. */
void control_close(struct control *);

/*
 * Ask the server at `path`: send `request` (one line, no LF), wait at
 * most CONTROL_TIMEOUT seconds for the answer. 0 with *status_out and
 * *text_out (malloc'd, NUL-terminated, possibly empty; the caller frees)
 * or -1 with why: sys_errno ENOENT or ECONNREFUSED when no server
 * listens there.
 */
int control_ask(const char *path, const char *request,
    enum control_status *status_out, char **text_out, struct why *);

#endif
