/* SPDX-License-Identifier: ISC */
/*
 * capture/smtpd.h - the SMTP side of `tern capture` (issue 22): accept
 * any sender and any recipient, AUTH PLAIN and LOGIN with any
 * credentials, STARTTLS with the certificate made at start; store each
 * message (capture/store.h) and tell the API's waiters; inject the
 * failures of capture/fault.h.
 *
 * Lines are split by smtp/cmd.h, verbs by smtp/command.h, MAIL and RCPT
 * by smtp/params.h, AUTH by smtp/auth.h, DATA unstuffed by smtp/data.h:
 * no SMTP parser of its own. Unlike `tern serve`, a message with bare
 * CR or LF is kept (showing it is the point: the problems list says so).
 * Bounds: CAP_SESSIONS_MAX connections (more wait in the backlog),
 * CAP_SMTP_IDLE seconds idle, CAP_RCPTS_MAX recipients, --max-size bytes
 * of message (552 5.3.4 after the final dot, or at MAIL SIZE=).
 * Trust: the peer is anyone who can reach the port.
 */
#ifndef TERN_CAPTURE_SMTPD_H
#define TERN_CAPTURE_SMTPD_H

#include "util/why.h"

struct cap_ctx;
struct cap_smtpd;

/* Listen on the bound socket fd (ours from now on). NULL with why. */
struct cap_smtpd *cap_smtpd_new(struct cap_ctx *, int fd, struct why *);
/* Close the listener and every session. NULL is fine. */
void cap_smtpd_free(struct cap_smtpd *);

#endif
