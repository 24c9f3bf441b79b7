/* SPDX-License-Identifier: ISC */
/*
 * smtp/cmd.c - the command line splitter (see cmd.h).
 *
 * Trust: peer bytes only. A byte is stored only after checking that it
 * and the CRLF still to come fit in line_max.
 */
#include "smtp/cmd.h"

#include <stdlib.h>

enum cmd_state {
	ST_TEXT = 0, /* inside a line */
	ST_CR,       /* saw CR: only LF may follow */
	ST_SKIP,     /* discarding up to the next LF, then report skip_why */
};

struct smtp_cmd {
	struct smtp_cmd_limits lim;
	enum cmd_state st;
	enum smtp_cmd_status skip_why;
	size_t len;
	char *line; /* lim.line_max bytes: content + NUL */
};

struct smtp_cmd *
smtp_cmd_new(const struct smtp_cmd_limits *lim)
{
	struct smtp_cmd *cp;

	if (lim == NULL || lim->line_max < 3)
		return NULL;
	if ((cp = calloc(1, sizeof(*cp))) == NULL)
		return NULL;
	if ((cp->line = malloc(lim->line_max)) == NULL) {
		free(cp);
		return NULL;
	}
	cp->lim = *lim;
	smtp_cmd_reset(cp);
	return cp;
}

void
smtp_cmd_free(struct smtp_cmd *cp)
{
	if (cp == NULL)
		return;
	free(cp->line);
	free(cp);
}

void
smtp_cmd_reset(struct smtp_cmd *cp)
{
	cp->st = ST_TEXT;
	cp->skip_why = SMTP_CMD_NEED_MORE;
	cp->len = 0;
	cp->line[0] = '\0';
}

/* The first error on a line wins; the line is reported at its LF. */
static void
skip_line(struct smtp_cmd *cp, enum smtp_cmd_status why)
{
	cp->st = ST_SKIP;
	cp->skip_why = why;
	cp->len = 0;
}

enum smtp_cmd_status
smtp_cmd_parse(struct smtp_cmd *cp, const uint8_t *p, size_t n, size_t *used,
    const char **line_out, size_t *len_out)
{
	enum smtp_cmd_status ret;
	size_t i;
	uint8_t c;

	*line_out = NULL;
	*len_out = 0;
	for (i = 0; i < n; i++) {
		c = p[i];
		switch (cp->st) {
		case ST_SKIP:
			if (c == '\n') {
				ret = cp->skip_why;
				goto event;
			}
			continue;
		case ST_CR:
			if (c == '\n') {
				cp->line[cp->len] = '\0';
				*line_out = cp->line;
				*len_out = cp->len;
				ret = SMTP_CMD_LINE;
				goto event;
			}
			/*
			 * A bare CR (RFC 5321 2.3.8). Skip to the LF; if this
			 * byte is that LF's CR, ST_SKIP still ends at its LF.
			 */
			skip_line(cp, SMTP_CMD_BAD_EOL);
			continue;
		case ST_TEXT:
			if (c == '\n') { /* bare LF never ends a line */
				ret = SMTP_CMD_BAD_EOL;
				goto event;
			}
			if (c == '\r') {
				cp->st = ST_CR;
				continue;
			}
			/* Room for the CRLF we have not seen yet. */
			if (cp->len + 2 >= cp->lim.line_max) {
				skip_line(cp, SMTP_CMD_TOO_LONG);
				continue;
			}
			cp->line[cp->len++] = (char)c;
			continue;
		}
	}
	*used = n;
	return SMTP_CMD_NEED_MORE;
event:
	cp->st = ST_TEXT;
	cp->skip_why = SMTP_CMD_NEED_MORE;
	cp->len = 0; /* a line stays readable until the next call stores */
	*used = i + 1;
	return ret;
}
