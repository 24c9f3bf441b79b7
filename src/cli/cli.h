/* SPDX-License-Identifier: ISC */
/*
 * cli/cli.h - the admin subcommands `tern user ...` and `tern alias ...`.
 *
 * Each opens <data_dir>/tern.db (creating data_dir, mode 0750, if
 * missing), does one thing, and returns the process exit status: 0 done,
 * 1 failed (a message "tern: user add: ..." is on stderr), 64 usage
 * error (EX_USAGE, sysexits.h; the usage is on stderr). Listings go to
 * stdout. main.c dispatches to them after loading the configuration.
 * Trust: run by the operator; argv and stdin are the operator's.
 * Passwords are read from stdin (--password-stdin, one line) or from
 * /dev/tty with echo off, never from argv, and wiped after use.
 */
#ifndef TERN_CLI_CLI_H
#define TERN_CLI_CLI_H

#include "conf/conf.h"

/*
 * argv[0] is "user":
 *   user add ADDRESS [--password-stdin]   ADDRESS's domain must be local
 *   user del ADDRESS
 *   user list                             one address per line
 *   user passwd ADDRESS [--password-stdin]
 */
int cli_user(const struct conf *, int argc, char **argv);

/*
 * argv[0] is "alias":
 *   alias add ALIAS TARGET [TARGET...]    ALIAS is local@domain or @domain
 *   alias del ALIAS [TARGET]              no TARGET: all of them
 *   alias list                            "alias -> target" per line
 */
int cli_alias(const struct conf *, int argc, char **argv);

/* ---- tern queue (queue/spool.h, read-only) ---- */

/*
 * argv[0] is "queue"; reads <data_dir>/queue without locking it, so it
 * runs next to a live server:
 *   queue list [--json]   one line per message, oldest first: id, age,
 *                         size, sender (<> for null), pending recipients
 *                         (or their count), state (active | deferred),
 *                         last error; --json: one JSON object per line
 *   queue show ID         the envelope, each recipient with its state and
 *                         last error, then the message header
 *   queue flush           deliver every queued message now (issue 4)
 *   queue retry ID        deliver this one now
 *   queue hold ID         keep it undelivered until release (it still
 *                         expires: [queue] held_action)
 *   queue release ID      undo hold, and deliver it now
 *   queue delete ID       remove it without a bounce
 * The last five are requests to the running server (cli_control()).
 * Exit 0, 1 (e.g. "tern: queue show: no message ID in the queue"), or 64,
 * or cli_control()'s codes.
 */
int cli_queue(const struct conf *, int argc, char **argv);

/*
 * Ask the running server (ops/control.h) to do `request`; print what it
 * did (stdout) or why not (stderr, "tern: CMD: ..."). Exit status: 0
 * done; 1 not done (no such message ...); 69 (EX_UNAVAILABLE) no server
 * runs on data_dir, so nothing was done; 77 (EX_NOPERM) this user may
 * not ask it; 75 (EX_TEMPFAIL) no answer in time: whether it was done is
 * unknown.
 */
int cli_control(const struct conf *, const char *cmd, const char *request);

/* ---- tern send and tern sendmail (issue 5) ---- */

/*
 * argv[0] is "send": submit one message with libtern (cli/send.c has
 * the options and the sysexits.h exit codes). Needs no configuration.
 */
int cli_send(int argc, char **argv);

/*
 * sendmail-compatible (cli/sendmail.c): argv as the program got it
 * (argv[0] "sendmail" or "tern", then "sendmail"). Queues through
 * <data_dir>/maildrop/; 0 only once the drop file is fsync'd.
 */
int cli_sendmail(int argc, char **argv);

#endif
