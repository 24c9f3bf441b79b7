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
 *   user add ADDRESS [--password-stdin] [--allow-weak]
 *                                         ADDRESS's domain must be local
 *   user del ADDRESS
 *   user list                             one address per line
 *   user passwd ADDRESS [--password-stdin] [--allow-weak]
 * A new password has at least 12 characters (UTF-8 code points) unless
 * --allow-weak is given.
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
 *   queue hold ID         keep it undelivered and unexpired until release
 *   queue release ID      undo hold, and deliver it now
 *   queue delete ID       remove it without a bounce
 * The last five go through the running server (a request file in
 * <data_dir>/queue/control/, taken within 0.2 s) or, when none runs,
 * act on the spool directly.
 * Exit 0, 1 (e.g. "tern: queue show: no message ID in the queue"), or 64.
 */
int cli_queue(const struct conf *, int argc, char **argv);

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
