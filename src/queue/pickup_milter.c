/* SPDX-License-Identifier: ISC */
/*
 * queue/pickup_milter.c - non_smtpd_milters for the pickup thread
 * (issue 18). See pickup_milter.h.
 */
#include "queue/pickup_milter.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf/conf.h"
#include "dir/dir.h"
#include "milter/client.h"
#include "milter/edit.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

/* One stage's verdict, waited for on the private base. */
struct run {
	struct event_base *base;
	struct milter_client *mc;
	bool done;
	enum milter_verdict v;
	char reply[MILTER_REPLY_TEXT_MAX];
	char milter[64];
	const struct milter_edits *edits;
	bounce_resolve_fn *resolve; /* where an added recipient goes */
	void *resolve_arg;
};

static void
on_done(void *arg, const struct milter_result *r)
{
	struct run *run = arg;

	run->done = true;
	run->v = r->verdict;
	(void)strlcpy(run->reply, r->reply, sizeof(run->reply));
	(void)strlcpy(run->milter, r->milter != NULL ? r->milter : "-",
	    sizeof(run->milter));
	run->edits = r->edits;
}

/* Run the base until the stage is decided; false if it cannot be. */
static bool
wait_verdict(struct run *run)
{
	while (!run->done)
		/* 1: nothing is pending, so nothing would ever decide. */
		if (event_base_loop(run->base, EVLOOP_ONCE) != 0)
			return false;
	run->done = false;
	return true;
}

static enum pickup_milter_verdict
refused(const struct run *run, struct pickup_milter_out *out)
{
	(void)strlcpy(out->reply, run->reply, sizeof(out->reply));
	log_info("event=milter_reject source=maildrop milter=%s reply=%s",
	    LOG_ESC(run->milter), LOG_ESC(run->reply));
	switch (run->v) {
	case MILTER_V_REJECT:
		return PICKUP_MILTER_REJECT;
	case MILTER_V_DISCARD:
		return PICKUP_MILTER_DISCARD;
	default:
		return PICKUP_MILTER_TEMPFAIL;
	}
}

static bool
is_refusal(enum milter_verdict v)
{
	return v == MILTER_V_REJECT || v == MILTER_V_TEMPFAIL ||
	       v == MILTER_V_DISCARD;
}

/*
 * A recipient a filter added, resolved as a drop file's recipients are
 * (an alias to its targets), each target once. false: a lookup failed
 * for now.
 */
static bool
add_resolved(struct run *run, struct spool_env *env, const char *addr)
{
	struct dir_targets t = { NULL, 0 };
	struct why why;
	size_t k, i;

	why_clear(&why);
	switch (run->resolve(run->resolve_arg, addr, &t, &why)) {
	case DIR_RESOLVED:
		break;
	case DIR_TEMPFAIL:
		dir_targets_free(&t);
		return false;
	default:
		log_warn("event=milter_change_ignored source=maildrop "
		         "change=ADDRCPT address=%s reason=%s",
		    LOG_ESC(addr),
		    LOG_ESC(why.text[0] != '\0' ? why.text : "no such user"));
		dir_targets_free(&t);
		return true;
	}
	for (k = 0; k < t.n && env->nrcpts < SPOOL_RCPTS_MAX; k++) {
		for (i = 0; i < env->nrcpts; i++)
			if (strcmp(env->rcpts[i].addr, t.addrs[k]) == 0)
				break;
		if (i < env->nrcpts)
			continue;
		env->rcpts = xrealloc(env->rcpts,
		    (env->nrcpts + 1) * sizeof(env->rcpts[0]));
		memset(&env->rcpts[env->nrcpts], 0, sizeof(env->rcpts[0]));
		env->rcpts[env->nrcpts].addr = xstrdup(t.addrs[k]);
		env->rcpts[env->nrcpts].orcpt = xstrdup(addr);
		env->rcpts[env->nrcpts++].state = SPOOL_RCPT_PENDING;
	}
	dir_targets_free(&t);
	return true;
}

/* The filter's envelope changes, made to env; false: try again later. */
static bool
envelope_edits(struct run *run, const struct milter_edits *e,
    struct spool_env *env, char *sender, size_t sendersz,
    struct pickup_milter_out *out, const char *milter)
{
	char a[SPOOL_FIELD_MAX];
	struct milter_dels dels;
	size_t i, k;

	if (e->chg_from && milter_addr_parse(e->from.addr, true, a, sizeof(a)))
		(void)strlcpy(sender, a, sendersz);
	else if (e->chg_from)
		log_warn("event=milter_change_ignored source=maildrop "
		         "milter=%s change=CHGFROM address=%s "
		         "reason=\"not a mailbox address\"",
		    LOG_ESC(milter), LOG_ESC(e->from.addr));
	milter_dels_init(&dels, e);
	for (k = env->nrcpts; dels.n > 0 && k-- > 0;) {
		struct spool_rcpt *r = &env->rcpts[k];

		if (!milter_dels_has(&dels, r->addr) &&
		    (r->orcpt == NULL || !milter_dels_has(&dels, r->orcpt)))
			continue;
		free(r->addr);
		free(r->orcpt);
		free(r->last_error);
		memmove(r, r + 1, (env->nrcpts - k - 1) * sizeof(*r));
		env->nrcpts--;
	}
	milter_dels_free(&dels);
	for (i = 0; i < e->nadd_rcpt; i++) {
		if (!milter_addr_parse(e->add_rcpt[i].addr, false, a,
		        sizeof(a))) {
			log_warn("event=milter_change_ignored source=maildrop "
			         "milter=%s change=ADDRCPT address=%s "
			         "reason=\"not a mailbox address\"",
			    LOG_ESC(milter), LOG_ESC(e->add_rcpt[i].addr));
			continue;
		}
		if (!add_resolved(run, env, a))
			return false;
	}
	if (e->quarantine != NULL) {
		(void)snprintf(out->hold_reason, sizeof(out->hold_reason),
		    "quarantined by milter %s: %s", milter, e->quarantine);
		env->held = true;
	}
	return true;
}

/* The message of *m with the edits, into a new spool message. */
static bool
rewrite(struct spool_msg **m, struct spool_env *env,
    const struct milter_edits *e, const struct milter_src *src)
{
	struct spool_msg *nm;
	struct why why;

	why_clear(&why);
	nm = spool_msg_replace(*m, env, &why);
	if (nm == NULL ||
	    milter_edit_apply(e, src, MILTER_HEADER_MAX, spool_msg_write_cb,
	        nm) == -1 ||
	    spool_msg_replaced(nm, *m, &why) == -1) {
		log_warn("event=milter_error source=maildrop error=%s",
		    LOG_ESC(why.text[0] != '\0' ? why.text : strerror(errno)));
		if (nm != NULL)
			spool_msg_abort(nm);
		return false;
	}
	*m = nm;
	return true;
}

/*
 * The message to the filters, and their changes, until all have said.
 * dirty: the envelope changed since *m was begun (a recipient refused
 * at RCPT), so *m is written again even if no filter changes it.
 */
static enum pickup_milter_verdict
message(struct run *run, struct spool_msg **m,
    struct spool_env *env, char *sender, size_t sendersz,
    struct pickup_milter_out *out, bool dirty)
{
	struct milter_edits none;
	struct milter_src src;
	struct why why;
	off_t start;
	uint64_t len;
	bool ok;

	milter_edits_init(&none, 0); /* allocates nothing: no free */

	for (;;) {
		memset(&src, 0, sizeof(src));
		src.fd = spool_msg_reader(*m, &start, &len, &why);
		if (src.fd == -1) {
			log_warn("event=milter_error source=maildrop error=%s",
			    LOG_ESC(why.text));
			return PICKUP_MILTER_TEMPFAIL;
		}
		src.fd_off = start;
		src.fd_len = len;
		milter_client_macro(run->mc, "i", spool_msg_id(*m));
		milter_client_eom(run->mc, &src, on_done, run);
		ok = wait_verdict(run);
		if (ok && run->v == MILTER_V_EDITED) {
			ok = envelope_edits(run, run->edits, env, sender,
			    sendersz, out, run->milter);
			if (ok && env->nrcpts == 0) {
				/*
				 * Every recipient deleted: nothing to keep, as
				 * on SMTP; a spool file without recipients
				 * cannot be written, and a tempfail would
				 * keep the drop file (and ask again) forever.
				 */
				(void)close(src.fd);
				log_info("event=milter_discard "
				         "source=maildrop milter=%s "
				         "reason=\"every recipient deleted\"",
				    LOG_ESC(run->milter));
				return PICKUP_MILTER_DISCARD;
			}
			ok = ok && rewrite(m, env, run->edits, &src);
			dirty = false;
		} else if (ok && run->v == MILTER_V_CONTINUE && dirty)
			ok = rewrite(m, env, &none, &src);
		(void)close(src.fd);
		if (!ok)
			return PICKUP_MILTER_TEMPFAIL;
		if (run->v == MILTER_V_EDITED)
			continue;
		return is_refusal(run->v) ? refused(run, out)
		                          : PICKUP_MILTER_ACCEPT;
	}
}

static bool
pending(const struct spool_env *env)
{
	size_t i;

	for (i = 0; i < env->nrcpts; i++)
		if (env->rcpts[i].state == SPOOL_RCPT_PENDING)
			return true;
	return false;
}

/* Connect, HELO, MAIL, each RCPT, DATA: until one refuses. */
static enum pickup_milter_verdict
envelope(struct run *run, const struct conf *conf, struct spool_env *env,
    struct pickup_milter_out *out, bool *dirty)
{
	struct milter_client *mc = run->mc;
	size_t i;

	milter_client_connect(mc, "localhost", NULL, on_done, run);
	if (!wait_verdict(run))
		return PICKUP_MILTER_TEMPFAIL;
	if (is_refusal(run->v))
		return refused(run, out);
	milter_client_helo(mc, conf->hostname, on_done, run);
	if (!wait_verdict(run))
		return PICKUP_MILTER_TEMPFAIL;
	milter_client_macro(mc, "mail_addr", env->sender);
	milter_client_mail(mc, env->sender, NULL, 0, on_done, run);
	if (!wait_verdict(run))
		return PICKUP_MILTER_TEMPFAIL;
	if (is_refusal(run->v))
		return refused(run, out);
	for (i = 0; i < env->nrcpts; i++) {
		struct spool_rcpt *r = &env->rcpts[i];

		if (r->state != SPOOL_RCPT_PENDING)
			continue;
		milter_client_macro(mc, "rcpt_addr", r->orcpt);
		milter_client_rcpt(mc, r->orcpt, NULL, 0, on_done, run);
		if (!wait_verdict(run))
			return PICKUP_MILTER_TEMPFAIL;
		if (run->v == MILTER_V_REJECT) { /* that recipient only */
			*dirty = true;
			r->state = SPOOL_RCPT_FAILED;
			free(r->last_error);
			r->last_error = xstrdup(run->reply);
			log_info("event=milter_reject source=maildrop to=%s "
			         "milter=%s reply=%s",
			    LOG_ESC(r->orcpt), LOG_ESC(run->milter),
			    LOG_ESC(run->reply));
		} else if (is_refusal(run->v))
			return refused(run, out);
	}
	if (!pending(env))
		return PICKUP_MILTER_ACCEPT; /* queued only to be bounced */
	milter_client_data(mc, on_done, run);
	if (!wait_verdict(run))
		return PICKUP_MILTER_TEMPFAIL;
	return is_refusal(run->v) ? refused(run, out) : PICKUP_MILTER_ACCEPT;
}

enum pickup_milter_verdict
pickup_milter_run(const struct conf *conf, struct spool_msg **m,
    struct spool_env *env, char *sender, size_t sendersz,
    bounce_resolve_fn *resolve, void *resolve_arg,
    struct pickup_milter_out *out)
{
	enum pickup_milter_verdict v;
	bool dirty = false;
	struct run run;

	memset(&run, 0, sizeof(run));
	memset(out, 0, sizeof(*out));
	run.resolve = resolve;
	run.resolve_arg = resolve_arg;
	run.base = event_base_new();
	if (run.base == NULL)
		v = PICKUP_MILTER_TEMPFAIL;
	else {
		run.mc = milter_client_new(run.base, conf,
		    conf->non_smtpd_milters, conf->nnon_smtpd_milters, 0,
		    conf->limits.max_message_size);
		milter_client_macro(run.mc, "j", conf->hostname);
		milter_client_macro(run.mc, "v", "tern");
		milter_client_macro(run.mc, "daemon_name", "pickup");
		milter_client_macro(run.mc, "_", "localhost");
		milter_client_macro(run.mc, "client_name", "localhost");
		v = envelope(&run, conf, env, out, &dirty);
		if (v == PICKUP_MILTER_ACCEPT && pending(env))
			v = message(&run, m, env, sender, sendersz, out,
			    dirty);
		else if (v == PICKUP_MILTER_ACCEPT) /* all refused at RCPT */
			v = PICKUP_MILTER_REJECT;
		milter_client_free(run.mc);
		event_base_free(run.base);
	}
	if (v != PICKUP_MILTER_ACCEPT) {
		spool_msg_abort(*m);
		*m = NULL;
	}
	return v;
}
