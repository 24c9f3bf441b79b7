/* SPDX-License-Identifier: ISC */
/*
 * smtp/command.h - name the verb of one command line and find its
 * argument; parse the BDAT argument (RFC 3030 2).
 *
 * It does not check a verb's argument grammar (see smtp/addr.h and
 * smtp/params.h) nor whether the verb is allowed now (the session's
 * command table does).
 * Pure. Trust: the line comes from the peer, CRLF already stripped by
 * smtp/cmd.h; it may contain any byte, NUL included.
 */
#ifndef TERN_SMTP_COMMAND_H
#define TERN_SMTP_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_HELP,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
};

struct smtp_command {
	enum smtp_verb verb;
	/*
	 * What follows the verb and its separating space(s), trailing
	 * spaces trimmed; borrowed from the line (so NOT NUL-terminated at
	 * arg_len: always use arg_len), or a static "" when there is none.
	 * Also set for SMTP_VERB_UNKNOWN (after the first word), for logs.
	 */
	const char *arg;
	size_t arg_len;
};

/*
 * Split line[0..len). The verb is matched case-insensitively and must
 * be followed by SP or the end of the line ("MAILFROM:<>" and
 * "QUIT\tx" are SMTP_VERB_UNKNOWN). Only SP separates (RFC 5321 4.1.1).
 */
void smtp_command_split(const char *line, size_t len, struct smtp_command *out);

/* "HELO", ..., "AUTH"; "UNKNOWN" for anything else. Static. */
const char *smtp_verb_name(enum smtp_verb);

/*
 * The argument of BDAT: chunk-size [SP "LAST"] (RFC 3030 2), e.g.
 * "1000" or "0 LAST"; LAST in any case; SPs between. Any other byte,
 * an empty size, or a size above UINT64_MAX is refused (false, outputs
 * untouched).
 */
bool smtp_bdat_parse(const char *arg, size_t n, uint64_t *size_out,
    bool *last_out);

#endif
