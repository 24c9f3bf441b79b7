/* SPDX-License-Identifier: ISC */
/*
 * obs/events.h - the event socket (issue 17): every obs event, live, to
 * local consumers on <data_dir>/events.sock.
 *
 * A unix stream socket, mode 0600, owned by the server's user; root and
 * that user may connect (SO_PEERCRED), others are refused. A consumer
 * receives every event from the moment it connects, as JSON lines (the
 * journal's line, then LF), in seq order. It may send one line first,
 *   since SEQ\n
 * to get before them the events after SEQ that the ring still holds
 * (the last EVENTS_RING_MAX), so one that reconnects misses nothing
 * recent; or an empty line to start at once. The stream starts at that
 * line, or EVENTS_HELLO_WAIT_MS after the connect (the events of that
 * wait are kept, not lost); a line after the start is an error. Then
 * the consumer only reads.
 * A consumer that does not keep up may not hold memory or slow the
 * server: at most EVENTS_OUTBUF_MAX bytes are queued for it, the rest of
 * what it has not had waits in the shared ring; once the ring drops an
 * event it has not had, it gets
 *   {"event":"overflow","seq":N}
 * (N: the last event it was given; `since N` resumes) and is cut off.
 * A line the server refuses gets {"event":"error","text":"..."}, and
 * the connection is closed.
 *
 * Threads: the socket runs on a thread of its own with its own event
 * base; events_sink() (an obs sink) only copies the line into the ring
 * and wakes that thread, so a session thread never waits for a consumer.
 * Trust: consumers are root or the service user, still checked: their
 * one line is capped and parsed by events_hello_parse(), and every
 * buffer has a cap.
 */
#ifndef TERN_OBS_EVENTS_H
#define TERN_OBS_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "util/why.h"

struct obs_event;

#define EVENTS_SOCKET_NAME "events.sock"
#define EVENTS_RING_MAX 10000           /* events kept for `since` */
#define EVENTS_OUTBUF_MAX (1024 * 1024) /* bytes queued per consumer */
#define EVENTS_CONSUMERS_MAX 64
#define EVENTS_HELLO_MAX 64 /* the first line, LF included */
#define EVENTS_HELLO_WAIT_MS 1000
#define EVENTS_CUT_GRACE 10 /* seconds to read the last line when cut */

enum events_hello {
	EVENTS_HELLO_START = 0, /* an empty line: no replay */
	EVENTS_HELLO_SINCE,     /* "since SEQ": *seq_out */
	EVENTS_HELLO_BAD,       /* anything else */
};

/*
 * A consumer's first line p[0..n), without its LF (a CR before it is
 * allowed): "" or "since SEQ", SEQ in decimal up to UINT64_MAX. Pure.
 */
enum events_hello events_hello_parse(const char *p, size_t n,
    uint64_t *seq_out);

struct events;

/* "<data_dir>/events.sock" into out[outsz]; -1: too long for a socket. */
int events_socket_path(const char *data_dir, char *out, size_t outsz);

/*
 * Listen at path (a stale socket there is removed) and start the
 * socket's thread. last_seq is obs_last_seq(): what a consumer that
 * connects before any event has seen. NULL with why. Then give
 * events_sink with the result to obs_add_sink().
 */
struct events *events_open(const char *path, uint64_t last_seq, struct why *);

/*
 * Stop the thread, close every consumer, remove the socket; NULL is
 * fine. obs_remove_sink() it first: no event may come during or after.
 */
void events_close(struct events *);

/* The obs sink (obs_sink_fn): arg is the struct events. */
void events_sink(void *arg, uint64_t seq, const char *line, size_t len,
    const struct obs_event *ev);

#endif
