/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for smtp/cmd.c and smtp/command.c: the first byte
 * picks line_max, the rest is the client's byte stream. Every line is
 * also split into verb and argument, and BDAT arguments are parsed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/cmd.h"
#include "smtp/command.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	struct smtp_cmd_limits lim;
	struct smtp_command cmd;
	enum smtp_cmd_status st;
	struct smtp_cmd *cp;
	const char *line;
	size_t used, len;
	uint64_t size;
	bool last;

	if (n < 1)
		return 0;
	lim.line_max = p[0] < 3 ? SMTP_CMD_LINE_MAX : (size_t)p[0];
	p++;
	n--;
	if ((cp = smtp_cmd_new(&lim)) == NULL)
		abort();
	while (n > 0) {
		st = smtp_cmd_parse(cp, p, n, &used, &line, &len);
		if (used == 0 || used > n) /* must always make progress */
			abort();
		if (st == SMTP_CMD_LINE && len + 2 > lim.line_max)
			abort(); /* a limit was not enforced */
		if (st == SMTP_CMD_LINE) {
			if (line[len] != '\0' || memchr(line, '\n', len))
				abort();
			smtp_command_split(line, len, &cmd);
			if (cmd.arg_len > len ||
			    (cmd.arg_len > 0 &&
			        (cmd.arg < line ||
			            cmd.arg + cmd.arg_len > line + len)))
				abort();
			if (cmd.arg_len > 0 &&
			    (cmd.arg[0] == ' ' ||
			        cmd.arg[cmd.arg_len - 1] == ' '))
				abort();
			if (cmd.verb == SMTP_VERB_BDAT &&
			    smtp_bdat_parse(cmd.arg, cmd.arg_len, &size,
			        &last) &&
			    cmd.arg_len == 0)
				abort();
		} else if (line != NULL || len != 0)
			abort();
		p += used;
		n -= used;
	}
	smtp_cmd_free(cp);
	return 0;
}
