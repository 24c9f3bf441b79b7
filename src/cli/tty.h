/* SPDX-License-Identifier: ISC */
/*
 * cli/tty.h - read a secret line: from a file or, with a prompt and echo
 * off, from the terminal. Shared by `tern user add|passwd` (cli/
 * dir_cmds.c) and `tern send` (cli/send.c).
 *
 * Does not open /dev/tty (the caller does, and may ask twice) and prints
 * no errors: the caller knows which command failed and why it asked.
 * Trust: the line is the local user's; it is never echoed, and the
 * terminal's mode is restored before returning.
 */
#ifndef TERN_CLI_TTY_H
#define TERN_CLI_TTY_H

#include <stddef.h>
#include <stdio.h>

enum cli_tty_status {
	CLI_TTY_OK = 0,
	CLI_TTY_EOF,      /* no line at all */
	CLI_TTY_TOO_LONG, /* the line does not fit in buf */
	CLI_TTY_ERROR,    /* echo could not be turned off: see errno */
};

/*
 * One line of fp into buf (bufsz >= 2), CR/LF stripped, NUL-terminated.
 * On anything but CLI_TTY_OK, buf holds no secret.
 */
enum cli_tty_status cli_read_line(FILE *fp, char *buf, size_t bufsz);

/*
 * Write `text` to tty, turn echo off (the newline is still echoed), read
 * one line as cli_read_line() does, and restore the terminal. Nothing
 * is read when echo cannot be turned off (CLI_TTY_ERROR).
 */
enum cli_tty_status cli_tty_prompt(FILE *tty, const char *text, char *buf,
    size_t bufsz);

#endif
