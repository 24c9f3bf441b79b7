/* SPDX-License-Identifier: ISC */
/*
 * queue/pickup_milter.h - non_smtpd_milters (issue 18): the content
 * filters for mail from `tern sendmail`, asked by the pickup thread the
 * way a session asks its listener's (milter/client.h), on a private
 * event base the thread runs until each verdict is in (the thread has
 * no other work meanwhile; every wait is bounded by the filters'
 * timeouts).
 * Trust: as milter/client.h.
 */
#ifndef TERN_QUEUE_PICKUP_MILTER_H
#define TERN_QUEUE_PICKUP_MILTER_H

#include <stddef.h>

#include "queue/bounce.h"
#include "queue/spool.h"

struct conf;

enum pickup_milter_verdict {
	PICKUP_MILTER_ACCEPT = 0, /* commit *m (maybe a new one) */
	PICKUP_MILTER_REJECT,     /* bounce: reply says why */
	PICKUP_MILTER_TEMPFAIL,   /* keep the drop file, try again later */
	PICKUP_MILTER_DISCARD,    /* drop it, deliver nothing */
};

struct pickup_milter_out {
	char reply[2048]; /* REJECT, TEMPFAIL: the filter's SMTP reply */
	/* ACCEPT: recipients a filter refused at RCPT are in state F with
	 * last_error; a quarantine holds it: the reason, or "". */
	char hold_reason[600];
};

/*
 * Ask conf's non_smtpd_milters about the message being written into *m
 * with envelope env (sender a buffer of sendersz bytes: a filter may
 * change it, as it may add or delete recipients: env->rcpts is
 * reallocated; an added one goes where resolve(resolve_arg) says). A filter's changes to the message are written into a
 * new version of *m under the same queue id (spool_msg_replace). On
 * anything but ACCEPT, *m is aborted and NULL.
 */
enum pickup_milter_verdict pickup_milter_run(const struct conf *,
    struct spool_msg **m, struct spool_env *env, char *sender,
    size_t sendersz, bounce_resolve_fn *resolve, void *resolve_arg,
    struct pickup_milter_out *out);

#endif
