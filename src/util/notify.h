/* SPDX-License-Identifier: ISC */
/*
 * util/notify.h - tell the service manager how `tern serve` is doing
 * (sd_notify(3), for the systemd unit's Type=notify).
 *
 * Each call sends one datagram to $NOTIFY_SOCKET and does nothing when
 * that is unset (tern not started by systemd), so the server calls them
 * unconditionally. Failures are ignored: readiness is a courtesy to the
 * service manager, never a reason to stop serving. Thread-safe
 * (sd_notify keeps no state).
 * Its own library (notify_lib), apart from util_lib, so that libtern,
 * which takes util_lib whole, does not link libsystemd.
 * Trust: the texts are tern's own; no peer data goes into them.
 */
#ifndef TERN_UTIL_NOTIFY_H
#define TERN_UTIL_NOTIFY_H

/* The server accepts mail: READY=1, MAINPID and a STATUS line. */
void notify_ready(const char *status);

/*
 * A reload (SIGHUP, `tern reload`) begins: RELOADING=1 with
 * MONOTONIC_USEC. Call notify_reloaded() when it is over, done or not.
 */
void notify_reloading(void);

/* The reload is over: READY=1 again, and a STATUS line. */
void notify_reloaded(const char *status);

/* Shutdown begins (SIGTERM): STOPPING=1. */
void notify_stopping(void);

#endif
