/* SPDX-License-Identifier: ISC */
/*
 * msg/lint.h - the "problems" of a message: rules a message held in
 * memory breaks, each with the RFC it comes from and where in the
 * message it was found. `tern capture` lists them (issue 22).
 *
 * Rules (id, ref), checked in this order, each reported at most once:
 *   no-date                        RFC 5322 3.6
 *   no-message-id                  RFC 5322 3.6.4
 *   no-from                        RFC 5322 3.6
 *   several-from                   RFC 5322 3.6
 *   bare-lf                        RFC 5322 2.3
 *   bare-cr                        RFC 5322 2.3
 *   line-too-long                  RFC 5322 2.1.1 (over 998 octets)
 *   8bit-header                    RFC 6532 / RFC 5322 2.2 (any header,
 *                                  the parts' included)
 *   unclosed-multipart             RFC 2046 5.1.1
 *   html-without-text              RFC 2046 5.1.4 (an inline text/html
 *                                  part and no inline text/plain one)
 *   no-list-unsubscribe            RFC 8058 / RFC 2369 (bulk: nrcpt >=
 *                                  LINT_BULK_RCPTS, Precedence: bulk or
 *                                  list, or a List-Id field)
 *   list-unsubscribe-post-missing  RFC 8058 (bulk, an https
 *                                  List-Unsubscribe, no
 *                                  "List-Unsubscribe-Post:
 *                                  List-Unsubscribe=One-Click")
 * Only the message's own header counts for the header rules (not those
 * of an attached message/rfc822).
 *
 * Pure: no I/O, no logging; allocates only through mimetree_parse().
 * Trust: the message is hostile. `detail` is printable ASCII (0x20-0x7e)
 * only, NUL-terminated: bytes of the message in it (field names) are
 * escaped as \xHH and cut; it says where (line, field, part index).
 */
#ifndef TERN_MSG_LINT_H
#define TERN_MSG_LINT_H

#include <stddef.h>

#define LINT_BULK_RCPTS 10 /* envelope recipients that make mail bulk */
#define LINT_RULES 12      /* rules msg_lint() knows: a max that fits all */

struct lint_problem {
	const char *rule; /* rule id above; static storage */
	const char *ref;  /* "RFC 5322 3.6"; static storage */
	char detail[160]; /* printable ASCII, where it was found */
};

/*
 * Check msg[0..len); nrcpt is the count of envelope recipients (for the
 * bulk rules; 0 if unknown). Stores at most max problems in out (out may
 * be NULL when max is 0) and returns how many were found, which may be
 * more than max. Out of memory for the MIME tree: the MIME rules
 * (unclosed-multipart, html-without-text, the parts' 8bit-header) are
 * skipped, the others still run.
 */
size_t msg_lint(const char *msg, size_t len, size_t nrcpt,
    struct lint_problem *out, size_t max);

#endif
