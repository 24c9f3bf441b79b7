/* SPDX-License-Identifier: ISC */
/*
 * capture/capture.h - `tern capture` (issue 22, docs/capture.md): a
 * development mail server that accepts every message over SMTP, keeps
 * it (in memory, and in --dir), delivers nothing, and shows it through a
 * JSON API and a web page; it can inject failures on purpose.
 *
 *   tern capture [--smtp ADDR:PORT] [--http ADDR:PORT] [--dir DIR]
 *     [--max-messages N] [--max-size BYTES] [--hostname NAME]
 *     [--rcpt-tempfail PCT] [--rcpt-permfail PCT] [--msg-tempfail PCT]
 *     [--msg-permfail PCT] [--delay MS] [--drop-mid-data PCT] [--seed N]
 *     [--dns-server IP[:PORT]] [--allow-remote] [-v]
 *
 * When both listeners are bound it prints, on stdout, exactly one line
 * `capture: smtp=ADDR:PORT http=ADDR:PORT` (port 0 asks for any port:
 * the line tells which). A non-loopback address is refused without
 * --allow-remote: it takes any login and shows all mail to anyone.
 * Foreground; SIGTERM and SIGINT exit 0. No configuration file.
 * Trust: argv is the operator's; the peers are untrusted.
 */
#ifndef TERN_CAPTURE_CAPTURE_H
#define TERN_CAPTURE_CAPTURE_H

#include <stdio.h>

/* argv[0] is "capture". 0 after a signal, 1 on a start failure, 64 on
 * a usage error. */
int cli_capture(int argc, char **argv);
void cli_capture_usage(FILE *);

#endif
