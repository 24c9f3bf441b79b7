/* SPDX-License-Identifier: ISC */
/*
 * queue/sched_notify.c - what a sender hears about its message (RFC
 * 3461, RFC 3464): a bounce for recipients that failed, one delay
 * warning, success reports; notices to local addresses follow their
 * aliases as RCPT TO would. Runs on the delivery threads, inside a pass.
 * Trust: none; it only reads what the spool validated.
 */
#include "queue/sched-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "dir/dir.h"
#include "queue/bounce.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define SUCCESS_REASON_MAX 320 /* "relayed to <host>, ..." */

void
sched_set_user_db(struct sched *s, const char *dbpath)
{
	pthread_mutex_lock(&s->dir_mtx);
	free(s->dbpath);
	s->dbpath = dbpath != NULL ? xstrdup(dbpath) : NULL;
	pthread_mutex_unlock(&s->dir_mtx);
}

/*
 * bounce_resolve_fn: a notice to a local address goes where RCPT TO
 * would send it (dir.h), so that the postmaster's aliases apply; one
 * elsewhere goes as it is.
 */
/* What notice_rcpt() needs: the scheduler and the pass's settings. */
struct notice {
	struct sched *s;
	const struct conf *conf;
};

static enum dir_resolve_status
notice_rcpt(void *arg, const char *to, struct dir_targets *out, struct why *why)
{
	const struct notice *nt = arg;
	struct sched *s = nt->s;
	struct dir_policy pol;
	enum dir_resolve_status st;
	const char *at = strrchr(to, '@');

	out->addrs = NULL;
	out->n = 0;
	if (at == NULL || !conf_is_local_domain(nt->conf, at + 1)) {
		out->addrs = xcalloc(1, sizeof(char *));
		out->addrs[0] = xstrdup(to);
		out->n = 1;
		return DIR_RESOLVED;
	}
	pthread_mutex_lock(&s->dir_mtx);
	if (s->dir == NULL && (s->dir = dir_open(s->dbpath, why)) == NULL) {
		pthread_mutex_unlock(&s->dir_mtx);
		return DIR_TEMPFAIL;
	}
	dir_policy_conf(&pol, nt->conf);
	st = dir_resolve(s->dir, to, &pol, out, why);
	pthread_mutex_unlock(&s->dir_mtx);
	return st;
}

/* Where notices about null-sender mail go (RFC 5321 4.5.1). */
static void
postmaster(const struct conf *conf, char *dst, size_t dstsz)
{
	if (conf->postmaster != NULL)
		(void)snprintf(dst, dstsz, "%s", conf->postmaster);
	else
		(void)snprintf(dst, dstsz, "postmaster@%s",
		    conf->ndomains > 0 ? conf->domains[0] : conf->hostname);
}

/*
 * Recipient i of a DSN, with the reply and the server behind it (rep,
 * may be NULL); reason and rep are borrowed.
 */
static void
rcpt_init(struct bounce_rcpt *br, size_t i, const char *reason,
    const struct sched_reply *rep)
{
	memset(br, 0, sizeof(*br));
	br->idx = i;
	br->reason = reason;
	if (rep != NULL && rep[i].code != 0) {
		br->code = rep[i].code;
		br->esc = rep[i].esc;
		br->text = rep[i].text;
		br->mta = rep[i].mta;
	}
}

/*
 * Queue one DSN (queue/bounce.h) about the recipients of env whose
 * res[] kind is `want` and whose state is `state`, with the replies
 * behind them (rep, may be NULL); -1 with why.
 */
static int
send_dsn(struct sched *s, const struct conf *conf, struct spool_env *env,
    int fd, const struct why *res, const struct sched_reply *rep,
    enum why_kind want, enum spool_rcpt_state state, enum bounce_kind kind,
    size_t *n_out, char *bid_out, struct why *why)
{
	struct notice nt = { s, conf };
	struct bounce_rcpt *br;
	char bid[SPOOL_ID_MAX], pm[SPOOL_FIELD_MAX + 1], reason[300];
	size_t i, n = 0;
	int rc = 0;

	br = xcalloc(env->nrcpts, sizeof(*br));
	for (i = 0; i < env->nrcpts; i++)
		if (res[i].kind == want && env->rcpts[i].state == state &&
		    bounce_wanted(env, i, kind)) {
			rcpt_init(&br[n], i, res[i].text, rep);
			n++;
		}
	*n_out = n;
	postmaster(conf, pm, sizeof(pm));
	bid[0] = '\0';
	why_clear(why);
	if (n > 0)
		rc = bounce_enqueue(s->spool, conf->hostname, pm, env, fd, kind,
		    br, n, s->dbpath != NULL ? notice_rcpt : NULL, &nt, bid,
		    why);
	free(br);
	if (bid_out != NULL)
		memcpy(bid_out, bid, SPOOL_ID_MAX);
	if (rc == 0 && bid[0] != '\0') {
		log_info("event=%s id=%s dsn_id=%s rcpts=%zu",
		    kind == BOUNCE_FAILED ? "bounce" : "delay_warning", env->id,
		    bid, n);
		sched_submit(s, bid);
	} else if (rc == 0 && n > 0)
		log_info("event=bounce_dropped id=%s reason=%s", env->id,
		    log_escs(reason, sizeof(reason),
		        why->kind == WHY_PERM
		            ? why->text
		            : "undeliverable notice to the postmaster"));
	return rc;
}

/*
 * Tell the sender about the recipients that failed in this pass, and
 * once about delays (RFC 3464). A failed recipient whose DSN cannot be
 * queued now goes back to pending, so a later pass bounces it; returns
 * how many went back.
 */
size_t
sched_notify_sender(struct sched *s, const struct conf *conf, struct spool_env *env,
    int fd, struct why *res, const struct sched_reply *rep, size_t pending,
    char *bid_out)
{
	unsigned warn = conf->queue.delay_warning;
	char reason[300];
	struct why why;
	size_t i, n, back = 0;

	if (send_dsn(s, conf, env, fd, res, rep, WHY_PERM, SPOOL_RCPT_FAILED,
	        BOUNCE_FAILED, &n, bid_out, &why) == -1) {
		log_warn("event=bounce_failed id=%s rcpts=%zu reason=%s",
		    env->id, n, log_escs(reason, sizeof(reason), why.text));
		for (i = 0; why.kind == WHY_TEMP && i < env->nrcpts; i++)
			if (res[i].kind == WHY_PERM &&
			    env->rcpts[i].state == SPOOL_RCPT_FAILED) {
				env->rcpts[i].state = SPOOL_RCPT_PENDING;
				res[i].kind = WHY_TEMP;
				back++;
			}
	}
	/* One warning per message, when it has waited long enough. */
	if (warn > 0 && pending > 0 && !env->warned && sched_age(env) >= warn &&
	    env->sender[0] != '\0') {
		if (send_dsn(s, conf, env, fd, res, rep, WHY_TEMP,
		        SPOOL_RCPT_PENDING, BOUNCE_DELAYED, &n, NULL, &why) == 0 &&
		    n > 0)
			(void)spool_note_warned(s->spool, env->id, NULL);
		else if (n > 0)
			log_warn("event=delay_warning_failed id=%s reason=%s",
			    env->id,
			    log_escs(reason, sizeof(reason), why.text));
	}
	return back;
}

/*
 * Which success report (RFC 3461 5.2.1-5.2.3) recipient i, delivered
 * in this pass, may earn; BOUNCE_FAILED (never a success) for none.
 * Without replies (deliver() alone) delivery is final.
 */
static enum bounce_kind
success_kind(const struct sched_reply *rep, size_t i)
{
	switch (rep != NULL ? rep[i].handoff : SCHED_HANDOFF_FINAL) {
	case SCHED_HANDOFF_FINAL:
		return BOUNCE_DELIVERED;
	case SCHED_HANDOFF_RELAYED:
		return BOUNCE_RELAYED;
	case SCHED_HANDOFF_DSN:
		break; /* the next hop has the parameters and the duty */
	}
	return BOUNCE_FAILED;
}

/*
 * Recipients delivered in this pass that asked NOTIFY=SUCCESS get the
 * sender one report per kind: "delivered" here (a Maildir, an LMTP
 * server), "relayed" to a next hop without DSN (RFC 3461 5.2.2); none
 * when the next hop offers DSN. Best effort: the mail is delivered, a
 * lost report is only logged.
 */
void
sched_notify_success(struct sched *s, const struct conf *conf,
    const struct spool_env *env, int fd, const bool *was_delivered,
    const struct sched_reply *rep)
{
	struct notice nt = { s, conf };
	static const struct {
		enum bounce_kind kind;
		const char *event; /* event=, and event=..._failed */
	} kinds[] = { { BOUNCE_DELIVERED, "delivery_report" },
		{ BOUNCE_RELAYED, "relay_report" } };
	struct bounce_rcpt *br;
	struct why why;
	char bid[SPOOL_ID_MAX], pm[SPOOL_FIELD_MAX + 1], reason[300];
	char(*txt)[SUCCESS_REASON_MAX]; /* br[n].reason; truncation is fine */
	size_t i, k, n;

	if (env->dsn == NULL || env->sender[0] == '\0')
		return;
	br = xcalloc(env->nrcpts, sizeof(*br));
	txt = xcalloc(env->nrcpts, sizeof(*txt));
	postmaster(conf, pm, sizeof(pm));
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		for (i = 0, n = 0; i < env->nrcpts; i++) {
			if (env->rcpts[i].state != SPOOL_RCPT_DELIVERED ||
			    was_delivered[i] ||
			    success_kind(rep, i) != kinds[k].kind ||
			    !bounce_wanted(env, i, kinds[k].kind))
				continue;
			rcpt_init(&br[n], i, "delivered to the mailbox", rep);
			if (kinds[k].kind == BOUNCE_RELAYED) {
				(void)snprintf(txt[n], sizeof(txt[n]),
				    "relayed to %s, which does not support "
				    "delivery notifications (DSN)",
				    rep[i].mta[0] != '\0' ? rep[i].mta
				                          : "the next server");
				br[n].reason = txt[n];
			}
			n++;
		}
		if (n == 0)
			continue;
		why_clear(&why);
		if (bounce_enqueue(s->spool, conf->hostname, pm, env, fd,
		        kinds[k].kind, br, n,
		        s->dbpath != NULL ? notice_rcpt : NULL, &nt, bid,
		        &why) == -1)
			log_warn("event=%s_failed id=%s reason=%s",
			    kinds[k].event, env->id,
			    log_escs(reason, sizeof(reason), why.text));
		else if (bid[0] != '\0') {
			log_info("event=%s id=%s dsn_id=%s rcpts=%zu",
			    kinds[k].event, env->id, bid, n);
			sched_submit(s, bid);
		}
	}
	free(txt);
	free(br);
}
