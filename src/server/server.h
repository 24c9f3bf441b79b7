/* SPDX-License-Identifier: ISC */
/*
 * server/server.h - `tern serve`: bind the listeners, recover the queue,
 * run the event loops until SIGTERM.
 *
 * Trust: runs as root only until the listeners are bound, then drops to
 * conf->user when one is configured.
 */
#ifndef TERN_SERVER_SERVER_H
#define TERN_SERVER_SERVER_H

struct conf;

/* Serve until SIGTERM/SIGINT; returns the process exit status. */
int server_run(const struct conf *);

#endif
