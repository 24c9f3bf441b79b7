/* SPDX-License-Identifier: ISC */
/*
 * cli/sendmail.c - `tern sendmail` / a `sendmail` symlink.
 *
 * XXX not finished (issue 5 part 3): the maildrop hand-off to the
 * server (queue/pickup) is not written yet, so this refuses with
 * EX_UNAVAILABLE rather than pretend the message was queued.
 * Trust: argv and stdin are the local user's.
 */
#include <stdio.h>
#include <sysexits.h>

#include "cli/cli.h"

int
cli_sendmail(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fputs("sendmail: not available yet in this build of tern: nothing "
	      "was queued\n",
	    stderr);
	return EX_UNAVAILABLE;
}
