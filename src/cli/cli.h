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

#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>

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

/* ---- tern check-config (issue 15, cli/check.c) ---- */

/*
 * argv[0] is "check-config": print conf (only what differs from the
 * defaults; --all: everything; never a password) on stdout, then check
 * it against the system, as the server's user where that matters
 * (cli/check.c lists the checks). Errors and warnings go to stderr as
 * "tern: error: ..." and "tern: warning: ...". Exit 0 (warnings too),
 * 78 (EX_CONFIG) after an error, 64 on a usage error. conf is left as
 * it is; a child process fills its own copy with the secrets.
 */
int cli_check_config(struct conf *, int argc, char **argv);
void cli_check_config_usage(FILE *);

/* ---- tern check (issue 16, cli/check_auth.c) ---- */

/*
 * argv[0] is "check": `check spf --ip IP --helo NAME --from ADDR
 * [--timeout SECS]` (or --batch, queries on stdin) prints each SPF
 * identity's result, reason, explanation and DNS lookups, asking the
 * configured resolver; `check message [--ip IP --helo NAME --from ADDR]
 * [--timeout SECS] < FILE` (cli/check_msg.c) prints the
 * Authentication-Results field the server would add to the message on
 * stdin, each method's reason and the action [authentication] asks
 * for. Exit 0 when it ran, 64 usage, 69 the resolver cannot be set up,
 * 65 the message cannot be read (larger than max_message_size).
 */
int cli_check(const struct conf *, int argc, char **argv);
void cli_check_usage(FILE *);
/* `tern check message` (argv[0] "check", argv[1] "message"). */
int cli_check_message(const struct conf *, int argc, char **argv);
/* An IPv4 or IPv6 address into *ss (port 0); false if it is neither. */
bool cli_parse_ip(const char *s, struct sockaddr_storage *ss);

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
/*
 * `tern tlsrpt send [--day YYYY-MM-DD]` (issue 19): the running server
 * sends the TLS-RPT reports now (all days with counts, or that day) and
 * says what went where; exit 1 when nothing could be sent.
 */
int cli_tlsrpt(const struct conf *, int argc, char **argv);
void cli_tlsrpt_usage(FILE *);

/* ---- tern explain (issue 17, cli/explain_cmd.c) ---- */

/*
 * argv[0] is "explain": `explain ID|ADDRESS [--json] [--limit N]` tells
 * from <data_dir>/journal.1 and journal (ops/explain.h) what happened to
 * message ID, or to the latest N (5) messages to or from ADDRESS and the
 * refusals of it. Reads files only: the server may run or not. Exit 0
 * found, 1 nothing matches (or no journal), 64 usage, 74 (EX_IOERR) a
 * journal cannot be read (a symbolic link, not a file, an I/O error).
 */
int cli_explain(const struct conf *, int argc, char **argv);
void cli_explain_usage(FILE *);

/* ---- tern send and tern sendmail (issue 5) ---- */

/*
 * argv[0] is "send": submit one message with libtern (cli/send.c has
 * the options and the sysexits.h exit codes). Needs no configuration.
 */
int cli_send(int argc, char **argv);

/*
 * sendmail-compatible (cli/sendmail.c): argv[0] is "sendmail" (the
 * program's name, or tern's command word), its options follow. conf_path
 * is tern's -c FILE or NULL (sendmail's own -C FILE wins), demo is
 * tern's --demo. Queues through <data_dir>/maildrop/; 0 only once the
 * drop file is fsync'd.
 */
int cli_sendmail(const char *conf_path, bool demo, int argc, char **argv);

/* ---- tern dkim (issue 16, cli/dkim_cmd.c) ---- */

/*
 * argv[0] is "dkim":
 *   dkim keygen DOMAIN [--selector S] [--algorithm rsa|ed25519] [--bits N]
 *   dkim list
 *   dkim sign DOMAIN [--selector S ...] < MESSAGE
 *   dkim verify < MESSAGE        uses conf's dns_server (blocking)
 * Exit 0, 1 (message on stderr), 64 usage.
 */
int cli_dkim(const struct conf *, int argc, char **argv);
void cli_dkim_usage(FILE *);

/* ---- tern doctor (issue 17, cli/doctor.c) ---- */

/*
 * argv[0] is "doctor": `doctor [DOMAIN] [--json] [--timeout SECS]`
 * checks DNS (MX, FCrDNS, SPF, DKIM, DMARC, MTA-STS, with dns_server),
 * the certificate, an open-relay self-test on the running server and
 * data_dir, for DOMAIN or every domain. Changes nothing. Exit 0 nothing
 * failed, 1 something failed, 64 usage, 69 no resolver.
 */
int cli_doctor(const struct conf *, int argc, char **argv);
void cli_doctor_usage(FILE *);

/* ---- usage texts: `tern help COMMAND` prints them on stdout ---- */

void cli_user_usage(FILE *);
void cli_alias_usage(FILE *);
void cli_queue_usage(FILE *);
void cli_send_usage(FILE *);
void cli_sendmail_usage(FILE *);

/* ---- the configuration file (cli/confpath.c, issue 15) ---- */

#define CLI_CONF_DEFAULT "/etc/tern/tern.conf"

/*
 * The file every command reads: `given` (-c FILE, or sendmail's -C) when
 * not NULL or empty, else $TERN_CONFIG when set and not empty, else
 * CLI_CONF_DEFAULT. *from_out (may be NULL) says which, for messages.
 * Borrowed: the string lives as long as argv or the environment.
 */
const char *cli_conf_path(const char *given, const char **from_out);

/*
 * Load the configuration (cli_conf_path(given)), or the embedded demo
 * (conf_default()) when demo. NULL with *code = EX_CONFIG and the reason
 * on stderr, each line starting "PROG: "; a missing file says where tern
 * looked, why there, and how to make one (`tern init`) or use the demo.
 */
struct conf *cli_conf_load(const char *prog, const char *given, bool demo,
    int *code);

/* ---- tern init (cli/init.c) ---- */

/*
 * argv[0] is "init": `init [PATH] [--domain D] [--hostname H]
 * [--postmaster A] [--data-dir DIR]` writes a commented starting
 * configuration to PATH (else conf_path, as cli_conf_path() resolves
 * it), making missing directories (0755). It never overwrites: an
 * existing file is refused with EX_CANTCREAT (73). The text is loaded
 * (conf_load_string) before it is written, so what init writes always
 * loads. 0 written; 64 usage; 65 (EX_DATAERR) an option makes no valid
 * configuration; 73 exists or cannot be created.
 */
int cli_init(const char *conf_path, int argc, char **argv);
void cli_init_usage(FILE *);

#endif
