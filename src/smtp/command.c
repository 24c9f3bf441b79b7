/* SPDX-License-Identifier: ISC */
/*
 * smtp/command.c - verb table and BDAT argument (see command.h).
 *
 * Trust: peer bytes; nothing is copied, every index is checked against
 * the length given.
 */
#include "smtp/command.h"

#include "util/str.h"

static const struct {
	const char *name;
	size_t len;
	enum smtp_verb verb;
} verbs[] = {
	{ "HELO", 4, SMTP_VERB_HELO },
	{ "EHLO", 4, SMTP_VERB_EHLO },
	{ "MAIL", 4, SMTP_VERB_MAIL },
	{ "RCPT", 4, SMTP_VERB_RCPT },
	{ "DATA", 4, SMTP_VERB_DATA },
	{ "BDAT", 4, SMTP_VERB_BDAT },
	{ "RSET", 4, SMTP_VERB_RSET },
	{ "NOOP", 4, SMTP_VERB_NOOP },
	{ "QUIT", 4, SMTP_VERB_QUIT },
	{ "VRFY", 4, SMTP_VERB_VRFY },
	{ "EXPN", 4, SMTP_VERB_EXPN },
	{ "HELP", 4, SMTP_VERB_HELP },
	{ "STARTTLS", 8, SMTP_VERB_STARTTLS },
	{ "AUTH", 4, SMTP_VERB_AUTH },
};

#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

void
smtp_command_split(const char *line, size_t len, struct smtp_command *out)
{
	size_t i, w;

	out->verb = SMTP_VERB_UNKNOWN;
	out->arg = "";
	out->arg_len = 0;

	/* The first word ends at SP or at the end of the line. */
	for (w = 0; w < len && line[w] != ' '; w++)
		;
	for (i = 0; i < NVERBS; i++) {
		if (w == verbs[i].len &&
		    ascii_ncasecmp(line, verbs[i].name, w) == 0) {
			out->verb = verbs[i].verb;
			break;
		}
	}
	while (w < len && line[w] == ' ')
		w++;
	while (len > w && line[len - 1] == ' ')
		len--;
	if (len > w) {
		out->arg = line + w;
		out->arg_len = len - w;
	}
}

const char *
smtp_verb_name(enum smtp_verb v)
{
	size_t i;

	for (i = 0; i < NVERBS; i++)
		if (verbs[i].verb == v)
			return verbs[i].name;
	return "UNKNOWN";
}

bool
smtp_bdat_parse(const char *arg, size_t n, uint64_t *size_out, bool *last_out)
{
	uint64_t v = 0;
	size_t i = 0, d;
	bool last = false;

	for (; i < n && ascii_is_digit((unsigned char)arg[i]); i++) {
		d = (size_t)(arg[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (i == 0)
		return false;
	if (i < n) {
		if (arg[i] != ' ')
			return false;
		while (i < n && arg[i] == ' ')
			i++;
		if (n - i != 4 || ascii_ncasecmp(arg + i, "LAST", 4) != 0)
			return false;
		last = true;
	}
	*size_out = v;
	*last_out = last;
	return true;
}
