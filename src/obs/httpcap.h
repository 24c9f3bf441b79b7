/* SPDX-License-Identifier: ISC */
/*
 * obs/httpcap.h - a cap on an evhttp server's open connections, shared
 * by the metrics/dashboard listener (obs/http.c) and `tern capture`'s
 * API (capture/api.c).
 *
 * evhttp has no connection limit of its own. This counts each
 * connection evhttp makes (its bufferevent callback) until the
 * connection's close callback, and disables the listener at `max`: the
 * next clients wait in the kernel's backlog, nothing is refused. A
 * connection is counted from its bufferevent: evhttp sets the close
 * callback only after the accept callback returns, so the new
 * bufferevents are adopted from a deferred event right after it.
 * Connections beyond max + HTTPCAP_BURST made in one accept burst are
 * not counted (they are still timed out by evhttp).
 * The close callback of every counted connection is this module's:
 * a user that needs one of its own cannot have it (neither does now).
 * One thread: the event base's.
 */
#ifndef TERN_OBS_HTTPCAP_H
#define TERN_OBS_HTTPCAP_H

#include <stddef.h>

struct event_base;
struct evhttp;
struct evconnlistener;
struct httpcap;

#define HTTPCAP_BURST 16 /* accepts beyond max in one burst, counted */

/*
 * Count the connections of `http` (sets its bufferevent callback: call
 * before the socket is bound). busy_event is the log event name written
 * when the cap is reached ("http_busy"). NULL: no memory.
 */
struct httpcap *httpcap_new(struct event_base *, struct evhttp *http,
    size_t max, const char *busy_event);

/* The listener to pause at the cap (evhttp_bound_socket_get_listener). */
void httpcap_listen(struct httpcap *, struct evconnlistener *);

/* Connections open now. */
size_t httpcap_count(const struct httpcap *);

/*
 * Before evhttp_free(): adopt what is pending and forget the listener
 * (evhttp frees it before its connections, whose close callbacks still
 * come here). After evhttp_free(): httpcap_free(). NULL is fine.
 */
void httpcap_detach(struct httpcap *);
void httpcap_free(struct httpcap *);

#endif
