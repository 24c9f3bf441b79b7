/* SPDX-License-Identifier: ISC */
/*
 * cli/tty.c - secret lines from a file or the terminal (see tty.h).
 *
 * Trust: the local user's input; buffers are the caller's and capped,
 * and whatever did not fit is wiped rather than left behind.
 */
#include "cli/tty.h"

#include <string.h>
#include <termios.h>

enum cli_tty_status
cli_read_line(FILE *fp, char *buf, size_t bufsz)
{
	size_t n;
	int ch;

	if (fgets(buf, (int)bufsz, fp) == NULL) {
		buf[0] = '\0';
		return CLI_TTY_EOF;
	}
	n = strlen(buf);
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	else if (n + 1 == bufsz && (ch = fgetc(fp)) != EOF && ch != '\n') {
		/* Not all of it: leave no piece of a secret behind. */
		explicit_bzero(buf, bufsz);
		return CLI_TTY_TOO_LONG;
	}
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	return CLI_TTY_OK;
}

enum cli_tty_status
cli_tty_prompt(FILE *tty, const char *text, char *buf, size_t bufsz)
{
	struct termios old, quiet;
	enum cli_tty_status st;
	int fd = fileno(tty);

	buf[0] = '\0';
	if (tcgetattr(fd, &old) == -1)
		return CLI_TTY_ERROR;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	/*
	 * Echo off before the prompt shows: TCSAFLUSH drops what was typed
	 * ahead, so an answer to a visible prompt is never lost.
	 */
	if (tcsetattr(fd, TCSAFLUSH, &quiet) == -1)
		return CLI_TTY_ERROR;
	fputs(text, tty);
	fflush(tty);
	st = cli_read_line(tty, buf, bufsz);
	(void)tcsetattr(fd, TCSAFLUSH, &old);
	return st;
}
