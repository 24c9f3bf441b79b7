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

/*
 * Serve until SIGTERM/SIGINT; returns the process exit status. After the
 * privilege drop, conf's routes get their passwords from secrets_file
 * (conf_secrets_load()); nothing else in conf changes.
 */
int server_run(struct conf *);

#endif
