/* SPDX-License-Identifier: ISC */
/*
 * server/session-mail.c - the envelope of an inbound SMTP transaction:
 * MAIL (RFC 5321 4.1.1.2; SIZE, BODY, SMTPUTF8, DSN and AUTH= parameters)
 * with the sender ownership check of authenticated users, RCPT (4.1.1.3)
 * with the directory lookup or the relay decision, the per-message rate
 * limits (issue 3), and the reset that ends a transaction.
 *
 * Directory lookups run on a worker (struct rcpt_job, struct mail_job)
 * holding a session reference; the session waits meanwhile. The message
 * itself (DATA, BDAT, the spool) is session-data.c's.
 * Trust: addresses and parameters are hostile; smtp/params parses them,
 * and escaped copies are logged. Relaying needs AUTH or relay_networks
 * on submission, or a [relay_domains] domain whose check knows the
 * recipient (server/relay.h); recipients are capped by max_recipients.
 */
#include "server/session-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir/dir.h"
#include "queue/spool.h"
#include "server/msgauth.h"
#include "server/ratelimit.h"
#include "server/relay.h"
#include "server/workers.h"
#include "smtp/addr.h"
#include "smtp/command.h"
#include "smtp/params.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/str.h"
#include "util/why.h"
#include "util/xmalloc.h"

/* A RCPT lookup in flight on a directory worker. */
struct rcpt_job {
	struct session *s;
	struct smtp_rcpt rcpt;
	char address[SMTP_LOCAL_MAX + SMTP_DOMAIN_MAX + 2]; /* normalised */
	enum dir_resolve_status st;
	struct dir_targets targets;
	struct why why;
};

/* ---- the transaction ---------------------------------------------- */

void
session_tx_reset(struct session *s)
{
	size_t i;

	if (s->msg != NULL) {
		spool_msg_abort(s->msg);
		s->msg = NULL;
	}
	for (i = 0; i < s->nrcpts; i++) {
		free(s->rcpts[i].addr);
		free(s->rcpts[i].orcpt);
		free(s->dsn[i].orcpt);
	}
	s->nrcpts = 0;
	s->nrcpt_cmds = 0;
	s->has_mail = false;
	s->sender[0] = '\0';
	s->msg_size = 0;
	s->too_big = false;
	s->write_failed = false;
	s->bdat_used = false;
	s->bdat_last = false;
	s->bdat_discard = false;
	s->bdat_left = 0;
	buf_clear(&s->dbuf);
	buf_clear(&s->hbuf);
	s->hold_hdr = false;
	s->hold_limit = NULL;
	s->hold_reason = NULL;
	s->milter_discard = false;
	s->milter_data_sent = false;
	session_milter_abort(s);
	msgauth_free(s->ma);
	s->ma = NULL;
}

static bool
has_rcpt(const struct session *s, const char *addr)
{
	size_t i;

	for (i = 0; i < s->nrcpts; i++)
		if (strcmp(s->rcpts[i].addr, addr) == 0)
			return true;
	return false;
}

void
session_rcpt_add(struct session *s, const char *addr, const char *orcpt,
    const struct smtp_rcpt *r)
{
	if (has_rcpt(s, addr))
		return;
	if (s->nrcpts == s->rcpts_cap) {
		s->rcpts_cap = s->rcpts_cap ? s->rcpts_cap * 2 : 8;
		s->rcpts = xrealloc(s->rcpts,
		    s->rcpts_cap * sizeof(*s->rcpts));
		s->dsn = xrealloc(s->dsn, s->rcpts_cap * sizeof(*s->dsn));
	}
	s->rcpts[s->nrcpts].addr = xstrdup(addr);
	s->rcpts[s->nrcpts].orcpt = xstrdup(orcpt);
	s->rcpts[s->nrcpts].state = SPOOL_RCPT_PENDING;
	s->rcpts[s->nrcpts].last_error = NULL;
	/* RFC 3461 5.2.1: every expansion of a recipient keeps its DSN. */
	s->dsn[s->nrcpts].notify = r != NULL ? r->notify : 0;
	s->dsn[s->nrcpts].orcpt =
	    r != NULL && r->orcpt[0] ? xstrdup(r->orcpt) : NULL;
	s->nrcpts++;
}

void
session_rcpt_remove(struct session *s, size_t i)
{
	free(s->rcpts[i].addr);
	free(s->rcpts[i].orcpt);
	free(s->dsn[i].orcpt);
	memmove(&s->rcpts[i], &s->rcpts[i + 1],
	    (s->nrcpts - i - 1) * sizeof(s->rcpts[0]));
	memmove(&s->dsn[i], &s->dsn[i + 1],
	    (s->nrcpts - i - 1) * sizeof(s->dsn[0]));
	s->nrcpts--;
}

/* ---- rate limits (issue 3) ---------------------------------------- */

/*
 * May this client start one more message? ip_messages_per_minute, or
 * own_ip_messages_per_minute for the operator's own clients (issue 14):
 * *name_out and *max_out say which, for the refusal.
 */
static bool
ip_msg_ok(struct session *s, const char **name_out, size_t *max_out)
{
	const struct conf_limits *lim = &s->conf->limits;
	struct ratelimit *rl;

	if (s->own_client) {
		*name_out = "own_ip_messages_per_minute";
		*max_out = lim->own_ip_messages_per_minute;
		rl = s->srv->rl_own_ip_msgs;
	} else {
		*name_out = "ip_messages_per_minute";
		*max_out = lim->ip_messages_per_minute;
		rl = s->srv->rl_ip_msgs;
	}
	if (rl == NULL || ratelimit_take(rl, s->ip_key, 1, session_now_ms(),
	                      NULL) == RATELIMIT_OK)
		return true;
	log_info("event=rate_limited sid=%llu client=%s limit=%s max=%zu",
	    (unsigned long long)s->id, s->addr, *name_out, *max_out);
	return false;
}

/*
 * One of an authenticated user's hourly limits (rl NULL: none; `name`
 * is its key in [limits]). true: go on, and when the limit was crossed
 * with user_limit_action = hold, the message will be queued held; false:
 * the caller defers. One warning when the user first crosses it.
 */
static bool
user_limit_ok(struct session *s, struct ratelimit *rl, const char *name,
    size_t max)
{
	bool hold = s->conf->limits.user_limit_action == CONF_LIMIT_HOLD;
	enum ratelimit_status st;

	if (!s->authed || rl == NULL)
		return true;
	st = ratelimit_take(rl, s->auth_user, 1, session_now_ms(), NULL);
	if (st == RATELIMIT_OK)
		return true;
	if (st == RATELIMIT_OVER_FIRST)
		log_warn("event=user_limit sid=%llu client=%s user=%s "
		         "limit=%s max=%zu action=%s msg=\"this account "
		         "sends more than usual; check it is not "
		         "compromised%s\"",
		    (unsigned long long)s->id, s->addr, LOG_ESC(s->auth_user),
		    name, max, hold ? "hold" : "defer",
		    hold ? ", then tern queue release its held mail" : "");
	else
		log_info("event=rate_limited sid=%llu client=%s user=%s "
		         "limit=%s max=%zu action=%s",
		    (unsigned long long)s->id, s->addr, LOG_ESC(s->auth_user),
		    name, max, hold ? "hold" : "defer");
	if (hold && s->hold_limit == NULL)
		s->hold_limit = name;
	return hold;
}

/*
 * Defer a MAIL or RCPT over a rate limit: `code` is the reply and enhanced
 * codes, `what` is counted, user NULL means the client's address, and
 * `name` is the limit's key in [limits], allowing max per `per`.
 */
static enum session_ret
limit_refused(struct session *s, const char *code, const char *what,
    const char *user, size_t max, const char *per, const char *name)
{
	char line[512];

	(void)snprintf(line, sizeof(line),
	    "%s Too many %s from %s%s: the limit is %zu per %s (%s), try "
	    "again later",
	    code, what, user != NULL ? "user " : "your address",
	    user != NULL ? user : "", max, per, name);
	session_reply(s, "%s", line);
	session_obs_refusal(s, line, OBS_R_RATE_LIMIT);
	return SESSION_OK;
}

/* ---- MAIL and RCPT ------------------------------------------------- */

/* MAIL passed every check and the filters: the transaction begins. */
static void
mail_ok(struct session *s)
{
	s->has_mail = true;
	session_reply(s, "250 2.1.0 Ok");
}

/* RCPT passed every check and the filters. */
static void
rcpt_ok(struct session *s)
{
	session_reply(s, "250 2.1.5 Ok");
}

static enum session_ret sender_check(struct session *);

static enum session_ret session_spf(struct session *);

enum session_ret
session_cmd_mail(struct session *s, const struct smtp_command *c)
{
	enum smtp_arg_status st;
	const char *why = "", *limit;
	unsigned ext = s->esmtp ? SMTP_EXT_ESMTP | SMTP_EXT_DSN : 0;
	bool verify, sign;
	size_t max;

	if (s->helo[0] == '\0')
		return session_reply_error(s,
		    "503 5.5.1 Error: send HELO/EHLO first");
	if (s->has_mail)
		return session_reply_error(s,
		    "503 5.5.1 Error: nested MAIL command");
	/* RFC 6409 4.3: submission is for known clients only. */
	if (s->cl->mode == CONF_MODE_SUBMISSION && !s->authed &&
	    !s->relay_ok)
		return session_reply_error(s,
		    "530 5.7.0 Authentication required%s",
		    s->tls ? "" : ": issue STARTTLS, then AUTH");
	if (session_may_auth(s))
		ext |= SMTP_EXT_AUTH; /* RFC 4954 5: AUTH= is accepted */
	/* Known on every session, so that one without TLS gets the
	 * refusal below rather than "unknown parameter". */
	if (s->esmtp && s->conf->outtls.requiretls == CONF_ON)
		ext |= SMTP_EXT_REQUIRETLS;
	memset(&s->mail, 0, sizeof(s->mail));
	st = smtp_mail_parse(c->arg, c->arg_len, ext, &s->mail, &why);
	if (st != SMTP_ARG_OK)
		return session_reply_error(s, "%s%s%s",
		    smtp_arg_reply(st, false), why && *why ? ": " : "",
		    why ? why : "");
	/* RFC 8689 2: REQUIRETLS only on a session that uses TLS. */
	if (s->mail.requiretls && !s->tls) {
		s->mail.requiretls = false;
		return session_reply_error(s,
		    "530 5.7.10 REQUIRETLS needs TLS: issue STARTTLS first");
	}
	if (s->mail.has_size &&
	    s->mail.size > s->conf->limits.max_message_size)
		return session_reply_error(s,
		    "552 5.3.4 Message size exceeds fixed limit of %llu bytes",
		    (unsigned long long)s->conf->limits.max_message_size);
	if (smtp_addr_format(&s->mail.from, s->sender, sizeof(s->sender)) ==
	    -1)
		return session_reply_error(s,
		    "501 5.1.7 Bad sender address syntax");
	s->hold_limit = NULL; /* no transaction yet: nothing to hold */
	if (!ip_msg_ok(s, &limit, &max))
		return limit_refused(s, "450 4.7.1", "messages", NULL, max,
		    "minute", limit);
	if (!user_limit_ok(s, s->srv->rl_user_msgs, "user_messages_per_hour",
	        s->conf->limits.user_messages_per_hour))
		return limit_refused(s, "450 4.7.1", "messages", s->auth_user,
		    s->conf->limits.user_messages_per_hour, "hour",
		    "user_messages_per_hour");
	/* Issue 16: outside mail is checked, our users' mail signed. */
	msgauth_free(s->ma);
	verify = s->cl->mode == CONF_MODE_MX && !s->relay_ok && !s->authed;
	sign = s->authed || s->relay_ok;
	/* Issue 18: with content filters, our users' mail is signed as the
	 * filters left it (session-milter.c), not before they change it. */
	s->sign_after_filters = sign && !verify && s->mc != NULL;
	s->ma = msgauth_new(s->srv->mauth, s->conf, verify,
	    sign && !s->sign_after_filters);
	if (s->authed && s->conf->sender_ownership == CONF_SENDER_OWN &&
	    !s->mail.from.is_null)
		return sender_check(s);
	if (s->ma != NULL && msgauth_wants_spf(s->ma))
		return session_spf(s);
	session_milter_mail(s, mail_ok);
	return SESSION_OK;
}

/* Worker thread: who gets mail sent to this address? */
static void
rcpt_lookup(void *ctx, void *arg)
{
	struct rcpt_job *j = arg;
	struct dir_policy pol;
	struct dir *d = ctx;

	if (d == NULL) {
		j->st = DIR_TEMPFAIL;
		why_set(&j->why, WHY_TEMP, 0, "user database unavailable");
		return;
	}
	/* postmaster@ and the admin names included (dir.h). */
	dir_policy_conf(&pol, j->s->conf);
	j->st = dir_resolve(d, j->address, &pol, &j->targets, &j->why);
}

static void
rcpt_done(struct loop *loop, void *arg)
{
	struct rcpt_job *j = arg;
	struct session *s = j->s;
	size_t i;

	(void)loop;
	if (s->dead)
		goto out;
	s->waiting = false;
	switch (j->st) {
	case DIR_RESOLVED:
		s->milter_rcpt_from = s->nrcpts;
		for (i = 0; i < j->targets.n; i++)
			session_rcpt_add(s, j->targets.addrs[i], j->address, &j->rcpt);
		s->nrcpt_cmds++;
		log_info("event=rcpt sid=%llu client=%s from=%s to=%s "
			 "targets=%zu",
		    (unsigned long long)s->id, s->addr, LOG_ADDR(s->sender),
		    LOG_ESC(j->address), j->targets.n);
		session_milter_rcpt(s, j->address, rcpt_ok);
		break;
	case DIR_NO_SUCH_USER:
		session_reply_error(s,
		    "550 5.1.1 <%s>: Recipient address rejected: "
		    "no such user here",
		    j->address);
		break;
	case DIR_ALIAS_LOOP:
		log_warn("event=alias_loop sid=%llu to=%s error=%s",
		    (unsigned long long)s->id, LOG_ESC(j->address),
		    LOG_ESC(j->why.text));
		session_reply_error(s,
		    "550 5.4.6 <%s>: Recipient address rejected: alias loop; "
		    "please tell the postmaster",
		    j->address);
		break;
	case DIR_TEMPFAIL:
	default:
		log_warn("event=lookup_failed sid=%llu to=%s error=%s",
		    (unsigned long long)s->id, LOG_ESC(j->address),
		    LOG_ESC(j->why.text));
		session_reply(s,
		    "451 4.3.0 <%s>: Temporary lookup failure, try "
		    "again later",
		    j->address);
		break;
	}
out:
	dir_targets_free(&j->targets);
	free(j);
	session_step_done(s);
}

/* The address we look up: lower-case domain, ASCII local part too. */
static void
normalise(const struct smtp_addr *a, const char *default_domain, char *dst,
    size_t dstsz)
{
	bool ascii = true;
	const char *p;

	for (p = a->local; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			ascii = false;
	int n;

	n = snprintf(dst, dstsz, "%s@%s", a->local,
	    a->domain[0] != '\0' ? a->domain : default_domain);
	ASSERT(n > 0 && (size_t)n < dstsz); /* sized for the longest */
	if (ascii) {
		ascii_lower_str(dst);
	} else {
		char *at = strrchr(dst, '@');

		if (at != NULL)
			ascii_lower_str(at);
	}
}

/* A MAIL FROM check of an authenticated user, on a directory worker. */
struct mail_job {
	struct session *s;
	char address[SMTP_LOCAL_MAX + SMTP_DOMAIN_MAX + 2]; /* normalised */
	char user[DIR_ADDR_MAX];
	bool owned;
	bool tempfail;
	struct why why;
};

/* Worker thread: does mail to this address reach the user? */
static void
sender_lookup(void *ctx, void *arg)
{
	struct mail_job *j = arg;
	struct dir_targets t = { NULL, 0 };
	struct dir_policy pol;
	struct dir *d = ctx;
	size_t i;

	if (d == NULL) {
		j->tempfail = true;
		why_set(&j->why, WHY_TEMP, 0, "user database unavailable");
		return;
	}
	dir_policy_conf(&pol, j->s->conf);
	switch (dir_resolve(d, j->address, &pol, &t, &j->why)) {
	case DIR_RESOLVED:
		for (i = 0; i < t.n; i++)
			if (strcmp(t.addrs[i], j->user) == 0)
				j->owned = true;
		break;
	case DIR_TEMPFAIL:
		j->tempfail = true;
		break;
	default:
		break;
	}
	dir_targets_free(&t);
}

static void
mail_reply(struct session *s, const char *address, bool owned,
    bool tempfail)
{
	if (owned) {
		session_milter_mail(s, mail_ok);
		return;
	}
	if (tempfail) {
		session_reply(s,
		    "451 4.3.0 <%s>: Temporary lookup failure, try again "
		    "later",
		    address);
		return;
	}
	log_info("event=sender_rejected sid=%llu client=%s user=%s from=%s",
	    (unsigned long long)s->id, s->addr, LOG_ESC(s->auth_user),
	    LOG_ESC(address));
	session_reply_error(s,
	    "553 5.7.1 <%s>: Sender address rejected: not owned by user %s",
	    address, s->auth_user);
}

static void
sender_done(struct loop *loop, void *arg)
{
	struct mail_job *j = arg;
	struct session *s = j->s;

	(void)loop;
	if (!s->dead) {
		s->waiting = false;
		if (j->tempfail)
			log_warn("event=lookup_failed sid=%llu error=%s",
			    (unsigned long long)s->id, LOG_ESC(j->why.text));
		mail_reply(s, j->address, j->owned, j->tempfail);
	}
	free(j);
	session_step_done(s);
}

static void
spf_done(struct loop *loop, void *arg)
{
	struct session *s = arg;
	char reply[768];

	(void)loop;
	if (!s->dead) {
		s->waiting = false;
		if (msgauth_spf_refusal(s->ma, reply, sizeof(reply))) {
			log_info("event=sender_rejected sid=%llu client=%s "
			         "from=%s reason=spf",
			    (unsigned long long)s->id, s->addr,
			    LOG_ADDR(s->sender));
			msgauth_free(s->ma);
			s->ma = NULL;
			(void)session_reply_error(s, "%s", reply);
		} else
			session_milter_mail(s, mail_ok);
	}
	session_step_done(s);
}

/* SPF for MAIL FROM on a check worker (RFC 7208 2.4); then the reply. */
static enum session_ret
session_spf(struct session *s)
{
	s->refs++;
	s->waiting = true;
	msgauth_spf_submit(s->ma, &s->sa, s->helo, s->sender, s->ls->loop,
	    spf_done, s);
	return SESSION_OK;
}

/*
 * An authenticated user may send as their own address, or as a local
 * address that resolves to them (an alias); anything else is 553 5.7.1.
 */
static enum session_ret
sender_check(struct session *s)
{
	struct mail_job *j;
	char address[sizeof(j->address)];

	normalise(&s->mail.from, NULL, address, sizeof(address));
	if (strcmp(address, s->auth_user) == 0 ||
	    !conf_is_local_domain(s->conf, s->mail.from.domain) ||
	    s->mail.from.literal) {
		mail_reply(s, address, strcmp(address, s->auth_user) == 0,
		    false);
		return SESSION_OK;
	}
	j = xcalloc(1, sizeof(*j));
	j->s = s;
	(void)strlcpy(j->address, address, sizeof(j->address));
	(void)strlcpy(j->user, s->auth_user, sizeof(j->user));
	s->refs++;
	s->waiting = true;
	workers_submit(s->srv->dirw, sender_lookup, s->ls->loop, sender_done,
	    j);
	return SESSION_OK;
}

/*
 * Submission relays anywhere for authenticated and relay_networks
 * clients. Anyone may send to a [relay_domains] domain, once its
 * recipient check says the address exists (relay_domain_rcpt()); a
 * [routes] entry only says how mail travels and opens nothing.
 */
static bool
may_relay(const struct session *s)
{
	return s->cl->mode == CONF_MODE_SUBMISSION &&
	       (s->authed || s->relay_ok);
}

/* A recipient elsewhere, accepted for relaying: queued as given. */
static enum session_ret
relay_rcpt(struct session *s, const char *addr, const struct smtp_rcpt *r,
    const char *why)
{
	s->milter_rcpt_from = s->nrcpts;
	session_rcpt_add(s, addr, addr, r);
	s->nrcpt_cmds++;
	log_info("event=rcpt sid=%llu client=%s from=%s to=%s relay=%s",
	    (unsigned long long)s->id, s->addr, LOG_ADDR(s->sender),
	    LOG_ESC(addr), why);
	session_milter_rcpt(s, addr, rcpt_ok);
	return SESSION_OK;
}

/* A RCPT to a [relay_domains] domain, waiting for its check. */
struct relay_job {
	struct session *s;
	struct smtp_rcpt rcpt;
	struct relay_query q;
};

/* Reply to a relay-domain RCPT with the check's answer. */
static void
relay_domain_reply(struct session *s, struct relay_job *j)
{
	const struct relay_answer *a = &j->q.ans;
	char how[32];

	switch (a->verdict) {
	case RELAY_YES:
		(void)snprintf(how, sizeof(how), "domain:%s%s",
		    conf_relay_check_name(j->q.rd->check),
		    a->cached ? ":cached" : "");
		(void)relay_rcpt(s, j->q.addr, &j->rcpt, how);
		break;
	case RELAY_NO:
		(void)session_reply_error(s,
		    "550 5.1.1 <%s>: Recipient address rejected: %s",
		    j->q.addr, a->text);
		break;
	case RELAY_TEMP:
		session_reply(s,
		    "450 4.1.1 <%s>: Recipient address rejected: %s",
		    j->q.addr, a->text);
		break;
	}
}

static void
relay_domain_done(struct loop *loop, void *arg)
{
	struct relay_job *j = arg;
	struct session *s = j->s;

	(void)loop;
	if (!s->dead) {
		s->waiting = false;
		relay_domain_reply(s, j);
	}
	free(j);
	session_step_done(s);
}

/*
 * RCPT to a domain we relay for: accepted only for a recipient its
 * check knows (issue 14), so that we never take mail the next hop will
 * refuse and bounce it to a forged sender (backscatter).
 */
static enum session_ret
relay_domain_rcpt(struct session *s, const struct conf_relay_domain *rd,
    const struct smtp_rcpt *rcpt, const char *addr)
{
	struct relay_job *j = xcalloc(1, sizeof(*j));

	j->s = s;
	j->rcpt = *rcpt;
	j->q.conf = s->conf;
	j->q.rd = rd;
	(void)strlcpy(j->q.addr, addr, sizeof(j->q.addr));
	if (relay_quick(s->srv->relay, &j->q)) {
		relay_domain_reply(s, j);
		free(j);
		return SESSION_OK;
	}
	s->refs++;
	s->waiting = true;
	relay_submit(s->srv->relay, &j->q, s->ls->loop, relay_domain_done, j);
	return SESSION_OK;
}

enum session_ret
session_cmd_rcpt(struct session *s, const struct smtp_command *c)
{
	enum smtp_arg_status st;
	struct rcpt_job *j;
	const char *why = "";
	unsigned ext = s->esmtp ? SMTP_EXT_ESMTP | SMTP_EXT_DSN : 0;

	if (!s->has_mail)
		return session_reply_error(s,
		    "503 5.5.1 Error: need MAIL command");
	if (s->bdat_used)
		return session_reply_error(s,
		    "503 5.5.1 Error: RCPT after BDAT");
	if (s->mail.smtputf8)
		ext |= SMTP_EXT_SMTPUTF8;
	j = xcalloc(1, sizeof(*j));
	st = smtp_rcpt_parse(c->arg, c->arg_len, ext, &j->rcpt, &why);
	if (st != SMTP_ARG_OK) {
		free(j);
		return session_reply_error(s, "%s%s%s",
		    smtp_arg_reply(st, true), why && *why ? ": " : "",
		    why ? why : "");
	}
	if (s->nrcpt_cmds >= s->conf->limits.max_recipients) {
		free(j);
		session_reply(s,
		    "452 4.5.3 Error: too many recipients (the limit "
		    "is %zu per message)",
		    s->conf->limits.max_recipients);
		return SESSION_OK;
	}
	if (!user_limit_ok(s, s->srv->rl_user_rcpts, "user_recipients_per_hour",
	        s->conf->limits.user_recipients_per_hour)) {
		free(j);
		return limit_refused(s, "452 4.5.3", "recipients", s->auth_user,
		    s->conf->limits.user_recipients_per_hour, "hour",
		    "user_recipients_per_hour");
	}
	if (j->rcpt.to.is_postmaster_bare) {
		normalise(&j->rcpt.to, s->conf->domains[0], j->address,
		    sizeof(j->address));
	} else if (!j->rcpt.to.literal &&
	    conf_is_local_domain(s->conf, j->rcpt.to.domain)) {
		normalise(&j->rcpt.to, NULL, j->address, sizeof(j->address));
	} else {
		char a[SMTP_PATH_MAX + 1];
		const struct conf_relay_domain *rd;
		enum session_ret ret;

		(void)smtp_addr_format(&j->rcpt.to, a, sizeof(a));
		rd = j->rcpt.to.literal
		         ? NULL
		         : conf_relay_domain_find(s->conf, j->rcpt.to.domain);
		if (may_relay(s))
			ret = relay_rcpt(s, a, &j->rcpt,
			    s->authed ? "auth" : "network");
		else if (rd != NULL)
			ret = relay_domain_rcpt(s, rd, &j->rcpt, a);
		else
			ret = session_reply_error(s,
			    "554 5.7.1 <%s>: Relay access denied: this server "
			    "only accepts mail for its own domains",
			    a);
		free(j);
		return ret;
	}
	j->s = s;
	s->refs++;
	s->waiting = true;
	workers_submit(s->srv->dirw, rcpt_lookup, s->ls->loop, rcpt_done, j);
	return SESSION_OK;
}
