/* SPDX-License-Identifier: ISC */
/*
 * server/session-milter.c - the session's content filters (issue 18):
 * the listener's milters asked before the 220, at HELO, MAIL, RCPT,
 * DATA, unknown commands and the end of the message, each before the
 * reply to the command it concerns.
 *
 * A gate holds a session reference while milter/client.h asks the
 * filters; their verdict either lets the command's own reply out (ok)
 * or replaces it with theirs. At the end of the message the filters
 * read it back from the spool file (spool_msg_reader); changes they ask
 * for are applied on a worker into a new spool file (the envelope's in
 * the session), and the commit and its 250 come only after all of it.
 * Trust: filters' replies were checked by milter/client.c; their
 * addresses and reasons reach the log through LOG_ESC and the envelope
 * only as addresses without controls (proto.c checked them).
 */
#include "server/session-private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "dir/dir.h"
#include "milter/client.h"
#include "milter/edit.h"
#include "queue/spool.h"
#include "server/msgauth.h"
#include "server/loop.h"
#include "server/workers.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define PARAMS_MAX 16

/* A filter's reply, line by line (joined by CRLF in the result). */
static void
reply_lines(struct session *s, const char *text)
{
	const char *p = text, *e;

	while (*p != '\0') {
		e = strstr(p, "\r\n");
		if (e == NULL) {
			session_reply(s, "%s", p);
			return;
		}
		session_reply(s, "%.*s", (int)(e - p), p);
		p = e + 2;
	}
}

/*
 * A filter's refusal, as the reply to the command. A 421 closes the
 * session, as its code says (RFC 5321 3.8) and Postfix does: the rest
 * of the session's commands would only be refused.
 */
static void
refusal_reply(struct session *s, const char *reply)
{
	reply_lines(s, reply);
	if (strncmp(reply, "421", 3) == 0)
		s->closing = true; /* on_write closes once it is sent */
}

static void
log_refusal(struct session *s, const char *stage,
    const struct milter_result *r)
{
	log_info("event=milter_reject sid=%llu client=%s stage=%s milter=%s "
	         "failed=%s reply=%s",
	    (unsigned long long)s->id, s->addr, stage,
	    LOG_ESC(r->milter != NULL ? r->milter : "-"),
	    r->failed ? "yes" : "no", LOG_ESC(r->reply));
	session_obs_refusal(s, r->reply, OBS_R_POLICY);
}

/* ---- connect ------------------------------------------------------ */

static void
connect_done(void *arg, const struct milter_result *r)
{
	struct session *s = arg;

	if (!s->dead) {
		s->waiting = false;
		if (r->verdict == MILTER_V_REJECT ||
		    r->verdict == MILTER_V_TEMPFAIL) {
			log_refusal(s, "connect", r);
			s->greeted = true; /* its reply stands for the 220 */
			reply_lines(s, r->reply);
			s->closing = true;
		} else
			session_greet(s);
	}
	session_step_done(s);
}

/* {daemon_addr}, {daemon_port}: where the client connected to. */
static void
daemon_macros(struct session *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char addr[INET6_ADDRSTRLEN], port[16];
	unsigned pn;

	if (getsockname(bufferevent_getfd(s->bev), (struct sockaddr *)&ss,
	        &len) == -1)
		return;
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)&ss;

		(void)inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
		pn = ntohs(in6->sin6_port);
	} else if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)&ss;

		(void)inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
		pn = ntohs(in->sin_port);
	} else
		return;
	(void)snprintf(port, sizeof(port), "%u", pn);
	milter_client_macro(s->mc, "daemon_addr", addr);
	milter_client_macro(s->mc, "daemon_port", port);
}

void
session_milter_connect(struct session *s)
{
	const struct conf_listener *cl = s->cl;
	char port[16];

	s->mc = milter_client_new(loop_base(s->ls->loop), s->conf,
	    cl->milters, cl->nmilters, s->id,
	    s->conf->limits.max_message_size);
	milter_client_macro(s->mc, "j", s->conf->hostname);
	milter_client_macro(s->mc, "v", "tern");
	milter_client_macro(s->mc, "daemon_name", cl->name);
	daemon_macros(s);
	milter_client_macro(s->mc, "client_addr", s->addr);
	milter_client_macro(s->mc, "client_name", "unknown");
	milter_client_macro(s->mc, "client_ptr", "unknown");
	(void)snprintf(port, sizeof(port), "%u",
	    s->sa.ss_family == AF_INET6
	        ? ntohs(((struct sockaddr_in6 *)&s->sa)->sin6_port)
	        : ntohs(((struct sockaddr_in *)&s->sa)->sin_port));
	milter_client_macro(s->mc, "client_port", port);
	{
		char under[INET6_ADDRSTRLEN + 16];

		(void)snprintf(under, sizeof(under), "unknown [%s]", s->addr);
		milter_client_macro(s->mc, "_", under);
	}
	s->refs++;
	s->waiting = true;
	milter_client_connect(s->mc, "unknown", (struct sockaddr *)&s->sa,
	    connect_done, s);
}

/* ---- gates -------------------------------------------------------- */

static void
gate_done(void *arg, const struct milter_result *r)
{
	struct session *s = arg;
	void (*ok)(struct session *) = s->milter_ok;
	void (*no)(struct session *) = s->milter_no;

	s->milter_ok = s->milter_no = NULL;
	if (!s->dead) {
		s->waiting = false;
		switch (r->verdict) {
		case MILTER_V_DISCARD:
			s->milter_discard = true;
			ok(s);
			break;
		case MILTER_V_REJECT:
		case MILTER_V_TEMPFAIL:
			if (no != NULL)
				no(s);
			log_refusal(s, s->stage, r);
			refusal_reply(s, r->reply);
			/* A filter's 5xx counts as the client's error (a
			 * broken filter's tempfail does not). */
			if (r->verdict == MILTER_V_REJECT && !r->failed)
				session_count_error(s);
			break;
		default:
			ok(s);
			break;
		}
	}
	session_step_done(s);
}

/* true: the filters are asked, gate_done follows; false: ok(s) ran. */
static bool
gate_begin(struct session *s, void (*ok)(struct session *),
    void (*no)(struct session *))
{
	if (s->mc == NULL) {
		ok(s);
		return false;
	}
	s->milter_ok = ok;
	s->milter_no = no;
	s->refs++;
	s->waiting = true;
	return true;
}

/* Split s->cmd_params into words (in place, in a copy). */
static size_t
params_split(char *copy, const char **out)
{
	size_t n = 0;
	char *p = copy, *sp;

	while (*p != '\0' && n < PARAMS_MAX) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		out[n++] = p;
		if ((sp = strchr(p, ' ')) == NULL)
			break;
		*sp = '\0';
		p = sp + 1;
	}
	return n;
}

/* A refused HELO leaves the session as if it had not been sent. */
static void
helo_refused(struct session *s)
{
	s->helo[0] = '\0';
	s->esmtp = false;
}

void
session_milter_helo(struct session *s, void (*ok)(struct session *))
{
	if (!gate_begin(s, ok, helo_refused))
		return;
	if (s->tls && s->tls_desc[0] != '\0') {
		SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
		char bits[16];

		milter_client_macro(s->mc, "tls_version", SSL_get_version(ssl));
		milter_client_macro(s->mc, "cipher", SSL_get_cipher_name(ssl));
		(void)snprintf(bits, sizeof(bits), "%d",
		    SSL_get_cipher_bits(ssl, NULL));
		milter_client_macro(s->mc, "cipher_bits", bits);
	}
	milter_client_helo(s->mc, s->helo, gate_done, s);
}

void
session_milter_mail(struct session *s, void (*ok)(struct session *))
{
	char copy[sizeof(s->cmd_params)];
	const char *params[PARAMS_MAX];
	size_t n;

	if (!gate_begin(s, ok, NULL))
		return;
	milter_client_macro(s->mc, "mail_addr", s->sender);
	milter_client_macro(s->mc, "auth_authen",
	    s->authed ? s->auth_user : NULL);
	milter_client_macro(s->mc, "auth_type", s->authed ? "PLAIN" : NULL);
	milter_client_macro(s->mc, "i", NULL);
	(void)strlcpy(copy, s->cmd_params, sizeof(copy));
	n = params_split(copy, params);
	milter_client_mail(s->mc, s->sender, params, n, gate_done, s);
}

/* A refused RCPT: the recipients it added go. */
static void
rcpt_refused(struct session *s)
{
	while (s->nrcpts > s->milter_rcpt_from)
		session_rcpt_remove(s, s->nrcpts - 1);
	if (s->nrcpt_cmds > 0)
		s->nrcpt_cmds--;
}

void
session_milter_rcpt(struct session *s, const char *addr,
    void (*ok)(struct session *))
{
	char copy[sizeof(s->cmd_params)];
	const char *params[PARAMS_MAX];
	size_t n;

	if (!gate_begin(s, ok, rcpt_refused))
		return;
	milter_client_macro(s->mc, "rcpt_addr", addr);
	(void)strlcpy(copy, s->cmd_params, sizeof(copy));
	n = params_split(copy, params);
	milter_client_rcpt(s->mc, addr, params, n, gate_done, s);
}

void
session_milter_data(struct session *s, void (*ok)(struct session *),
    void (*no)(struct session *))
{
	if (!gate_begin(s, ok, no))
		return;
	s->milter_data_sent = true;
	milter_client_macro(s->mc, "i",
	    s->msg != NULL ? spool_msg_id(s->msg) : NULL);
	milter_client_data(s->mc, gate_done, s);
}

void
session_milter_unknown(struct session *s, void (*ok)(struct session *))
{
	if (!gate_begin(s, ok, NULL))
		return;
	milter_client_unknown(s->mc, s->cmd_params, gate_done, s);
}

/* ---- end of message ----------------------------------------------- */

static void eom_send(struct session *);

static void
src_close(struct session *s)
{
	if (s->msrc == NULL)
		return;
	if (s->msrc->fd != -1)
		(void)close(s->msrc->fd);
	free(s->msrc);
	s->msrc = NULL;
}

/* The end-of-message step is over: the session reads on. */
static void
eom_end(struct session *s)
{
	src_close(s);
	if (!s->dead)
		session_arm_timer(s, s->conf->limits.timeout_command);
	session_step_done(s);
}

static void
eom_tempfail(struct session *s, const char *what)
{
	log_warn("event=milter_error sid=%llu error=%s",
	    (unsigned long long)s->id, LOG_ESC(what));
	session_tx_reset(s);
	session_reply(s, "451 4.3.0 Error: queue file write error, try "
	                 "again later");
}

/* A filter said DISCARD: the client hears 250, nothing is kept. */
static void
discard(struct session *s, const char *milter)
{
	char id[SPOOL_ID_MAX];

	(void)strlcpy(id, s->msg != NULL ? spool_msg_id(s->msg) : "-",
	    sizeof(id));
	log_info("event=milter_discard sid=%llu client=%s id=%s from=%s "
	         "milter=%s",
	    (unsigned long long)s->id, s->addr, id, LOG_ADDR(s->sender),
	    LOG_ESC(milter != NULL ? milter : "-"));
	session_tx_reset(s);
	/* As Postfix: the sender must not learn it was dropped. */
	session_reply(s, "250 2.0.0 Ok: queued as %s", id);
}

static void
bad_address(const struct session *s, const char *milter, const char *what,
    const char *addr)
{
	log_warn("event=milter_change_ignored sid=%llu milter=%s change=%s "
	         "address=%s reason=\"not a mailbox address\"",
	    (unsigned long long)s->id, LOG_ESC(milter), what, LOG_ESC(addr));
}

/* The message rewritten with a filter's changes, on a worker. */
struct rewrite_job {
	struct session *s;
	struct spool_env env;
	const struct milter_edits *edits;
	const struct milter_src *src;
	struct spool_msg *old; /* the session's, untouched meanwhile */
	struct spool_msg *out;
	struct why why;
	/* Recipients a filter added in a local domain: resolved on the
	 * worker (aliases, users) as RCPT would, into added[]. */
	char **local;
	size_t nlocal;
	struct spool_rcpt *rcpts; /* the session's, then the added ones */
	struct spool_dsn *dsn;
	size_t nbase, nadded; /* the session's count; the added ones */
	bool none; /* no recipient left: nothing to keep */
};

/* The filter's envelope changes, made to the session's transaction. */
static void
envelope_edits(struct session *s, const struct milter_edits *e,
    const char *milter, struct rewrite_job *j)
{
	const char *at;
	char a[SMTP_PATH_MAX + 1];
	struct milter_dels dels;
	size_t i, k;

	if (e->chg_from && milter_addr_parse(e->from.addr, true, a, sizeof(a)))
		(void)strlcpy(s->sender, a, sizeof(s->sender));
	else if (e->chg_from)
		bad_address(s, milter, "CHGFROM", e->from.addr);
	milter_dels_init(&dels, e);
	for (k = s->nrcpts; dels.n > 0 && k-- > 0;)
		if (milter_dels_has(&dels, s->rcpts[k].addr) ||
		    (s->rcpts[k].orcpt != NULL &&
		        milter_dels_has(&dels, s->rcpts[k].orcpt)))
			session_rcpt_remove(s, k);
	milter_dels_free(&dels);
	for (i = 0; i < e->nadd_rcpt; i++)
		if (!milter_addr_parse(e->add_rcpt[i].addr, false, a,
		        sizeof(a)))
			bad_address(s, milter, "ADDRCPT", e->add_rcpt[i].addr);
		else if ((at = strrchr(a, '@')) != NULL &&
		    conf_is_local_domain(s->conf, at + 1)) {
			j->local = xrealloc(j->local,
			    (j->nlocal + 1) * sizeof(*j->local));
			j->local[j->nlocal++] = xstrdup(a);
		} else if (s->nrcpts < SPOOL_RCPTS_MAX)
			session_rcpt_add(s, a, a, NULL);
	if (e->quarantine != NULL) {
		(void)snprintf(s->hold_buf, sizeof(s->hold_buf),
		    "quarantined by milter %s: %s", milter, e->quarantine);
		s->hold_reason = s->hold_buf;
	}
	log_info("event=milter_changes sid=%llu id=%s milter=%s headers=%zu "
	         "body=%s rcpts_added=%zu rcpts_deleted=%zu sender=%s "
	         "quarantine=%s",
	    (unsigned long long)s->id, spool_msg_id(s->msg), LOG_ESC(milter),
	    e->nhdr, e->body_replaced ? "replaced" : "kept", e->nadd_rcpt,
	    e->ndel_rcpt, e->chg_from ? LOG_ADDR(s->sender) : "kept",
	    e->quarantine != NULL ? "yes" : "no");
}

static bool
has_addr(const struct rewrite_job *j, size_t n, const char *addr)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(j->rcpts[i].addr, addr) == 0)
			return true;
	return false;
}

/*
 * Worker: the recipients a filter added in our domains, resolved as
 * RCPT resolves them, after the session's (as session_rcpt_add() will
 * add them: once each). false with why on a lookup failure.
 */
static bool
resolve_added(struct rewrite_job *j, struct dir *d)
{
	size_t n = j->env.nrcpts, i, k;
	struct dir_targets t;
	struct dir_policy pol;

	if (d == NULL) {
		why_set(&j->why, WHY_TEMP, 0, "user database unavailable");
		return false;
	}
	dir_policy_conf(&pol, j->s->conf);
	j->nbase = n;
	j->rcpts = xcalloc(n, sizeof(*j->rcpts));
	j->dsn = xcalloc(n, sizeof(*j->dsn));
	memcpy(j->rcpts, j->env.rcpts, n * sizeof(*j->rcpts));
	if (j->env.dsn != NULL)
		memcpy(j->dsn, j->env.dsn, n * sizeof(*j->dsn));
	for (i = 0; i < j->nlocal; i++) {
		memset(&t, 0, sizeof(t));
		switch (dir_resolve(d, j->local[i], &pol, &t, &j->why)) {
		case DIR_RESOLVED:
			break;
		case DIR_TEMPFAIL:
			dir_targets_free(&t);
			return false;
		default:
			log_warn("event=milter_change_ignored sid=%llu "
			         "change=ADDRCPT address=%s reason=%s",
			    (unsigned long long)j->s->id, LOG_ESC(j->local[i]),
			    LOG_ESC(j->why.text[0] != '\0' ? j->why.text
			                                   : "no such user"));
			why_clear(&j->why);
			continue;
		}
		for (k = 0; k < t.n && n + j->nadded < SPOOL_RCPTS_MAX; k++) {
			if (has_addr(j, n + j->nadded, t.addrs[k]))
				continue;
			j->rcpts = xrealloc(j->rcpts,
			    (n + j->nadded + 1) * sizeof(*j->rcpts));
			j->dsn = xrealloc(j->dsn,
			    (n + j->nadded + 1) * sizeof(*j->dsn));
			memset(&j->rcpts[n + j->nadded], 0, sizeof(*j->rcpts));
			memset(&j->dsn[n + j->nadded], 0, sizeof(*j->dsn));
			j->rcpts[n + j->nadded].addr = xstrdup(t.addrs[k]);
			j->rcpts[n + j->nadded].orcpt = xstrdup(j->local[i]);
			j->rcpts[n + j->nadded++].state = SPOOL_RCPT_PENDING;
		}
		dir_targets_free(&t);
	}
	j->env.rcpts = j->rcpts;
	j->env.dsn = j->dsn;
	j->env.nrcpts = n + j->nadded;
	return true;
}

static void
rewrite_job_free(struct rewrite_job *j)
{
	size_t i;

	for (i = 0; i < j->nlocal; i++)
		free(j->local[i]);
	free(j->local);
	for (i = 0; j->rcpts != NULL && i < j->nadded; i++) {
		free(j->rcpts[j->nbase + i].addr);
		free(j->rcpts[j->nbase + i].orcpt);
	}
	free(j->rcpts);
	free(j->dsn);
	free(j);
}

static void
rewrite_work(void *ctx, void *arg)
{
	struct rewrite_job *j = arg;

	if (j->nlocal > 0 && !resolve_added(j, ctx))
		return;
	if (j->env.nrcpts == 0) {
		j->none = true;
		return;
	}
	/* Same queue id: the Received field and the logs keep naming it. */
	j->out = spool_msg_replace(j->old, &j->env, &j->why);
	if (j->out == NULL)
		return;
	if (milter_edit_apply(j->edits, j->src, MILTER_HEADER_MAX,
	        spool_msg_write_cb, j->out) == -1) {
		if (j->why.text[0] == '\0')
			why_set(&j->why, WHY_TEMP, errno,
			    "rewrite the message: %s", strerror(errno));
		spool_msg_abort(j->out);
		j->out = NULL;
	}
}

static void
rewrite_done(struct loop *loop, void *arg)
{
	struct rewrite_job *j = arg;
	struct session *s = j->s;

	size_t i, from;

	(void)loop;
	src_close(s);
	if (s->dead || s->msg == NULL) {
		if (j->out != NULL)
			spool_msg_abort(j->out);
		rewrite_job_free(j);
		eom_end(s);
		return;
	}
	s->waiting = false;
	if (j->none) { /* every recipient deleted or unknown */
		discard(s, NULL);
		rewrite_job_free(j);
		eom_end(s);
		return;
	}
	if (j->out == NULL ||
	    spool_msg_replaced(j->out, s->msg, &j->why) == -1) {
		if (j->out != NULL)
			spool_msg_abort(j->out);
		eom_tempfail(s, j->why.text);
		rewrite_job_free(j);
		eom_end(s);
		return;
	}
	s->waiting = true;
	s->msg = j->out;
	s->milter_pre = NULL; /* on top no more: in the message now */
	from = j->nbase;
	for (i = from; i < from + j->nadded; i++)
		session_rcpt_add(s, j->rcpts[i].addr, j->rcpts[i].orcpt, NULL);
	rewrite_job_free(j);
	eom_send(s); /* the filters after this one */
}

/* A filter asked for changes: apply them, then ask the next. */
static void
eom_edited(struct session *s, const struct milter_result *r)
{
	struct rewrite_job *j = xcalloc(1, sizeof(*j));

	envelope_edits(s, r->edits, r->milter, j);
	if (s->nrcpts == 0 && j->nlocal == 0) { /* all deleted: nothing kept */
		s->waiting = false;
		discard(s, r->milter);
		rewrite_job_free(j);
		eom_end(s);
		return;
	}
	j->s = s;
	session_env_fill(s, &j->env);
	j->env.prefix_slot = true; /* the junk flag, later */
	j->edits = r->edits;
	j->src = s->msrc;
	j->old = s->msg;
	workers_submit(s->srv->dirw, rewrite_work, s->ls->loop, rewrite_done,
	    j);
}

/* Our users' mail signed as the filters left it, on a worker. */
struct sign_job {
	struct session *s;
	struct spool_msg *m; /* the session's, untouched meanwhile */
	struct buf sig;      /* the DKIM-Signature fields */
	int rc;              /* -1: why says; sys_errno 0: the key (defer) */
	struct why why;
};

static void
sign_work(void *ctx, void *arg)
{
	struct sign_job *j = arg;
	uint8_t *msg;
	size_t len;

	(void)ctx;
	if ((j->rc = spool_msg_read_back(j->m, &msg, &len, &j->why)) == -1)
		return;
	if (msgauth_sign_message(j->s->srv->mauth, j->s->conf, msg, len,
	        &j->sig) == -1)
		j->rc = why_set(&j->why, WHY_TEMP, 0,
		    "no usable DKIM key (dkim_key_error = defer)");
	free(msg);
}

static void
sign_done(struct loop *loop, void *arg)
{
	struct sign_job *j = arg;
	struct session *s = j->s;

	(void)loop;
	if (!s->dead && s->msg != NULL) {
		s->waiting = false;
		if (j->rc == -1 && j->why.sys_errno == 0) {
			log_warn("event=milter_error sid=%llu error=%s",
			    (unsigned long long)s->id, LOG_ESC(j->why.text));
			session_tx_reset(s);
			session_reply(s, "451 4.3.0 The message cannot be "
			                 "signed now; try again later");
		} else if (j->rc == -1)
			eom_tempfail(s, j->why.text);
		else
			session_msg_commit(s, &j->sig, s->milter_junk);
	}
	buf_reset(&j->sig);
	free(j);
	eom_end(s);
}

static void
sign_submit(struct session *s)
{
	struct sign_job *j = xcalloc(1, sizeof(*j));

	j->s = s;
	j->m = s->msg;
	buf_init(&j->sig, SPOOL_PREFIX_MAX);
	workers_submit(s->srv->dirw, sign_work, s->ls->loop, sign_done, j);
}

static void
eom_done(void *arg, const struct milter_result *r)
{
	struct session *s = arg;

	if (s->dead || s->msg == NULL) {
		eom_end(s);
		return;
	}
	s->waiting = false;
	switch (r->verdict) {
	case MILTER_V_EDITED:
		s->waiting = true;
		eom_edited(s, r);
		return;
	case MILTER_V_DISCARD:
		discard(s, r->milter);
		break;
	case MILTER_V_REJECT:
	case MILTER_V_TEMPFAIL:
		log_refusal(s, "data", r);
		session_tx_reset(s);
		refusal_reply(s, r->reply);
		break;
	default:
		src_close(s);
		if (s->milter_discard)
			discard(s, NULL);
		else if (s->sign_after_filters) {
			s->waiting = true;
			sign_submit(s);
			return;
		} else
			session_msg_commit(s, s->milter_pre, s->milter_junk);
		break;
	}
	eom_end(s);
}

/* Read the message back and give it to the filters not yet asked. */
static void
eom_send(struct session *s)
{
	struct milter_src *src = xcalloc(1, sizeof(*src));
	struct why why;
	off_t start;
	uint64_t len;

	src->fd = spool_msg_reader(s->msg, &start, &len, &why);
	if (src->fd == -1) {
		free(src);
		s->waiting = false;
		eom_tempfail(s, why.text);
		eom_end(s);
		return;
	}
	src->fd_off = start;
	src->fd_len = len;
	if (s->milter_pre != NULL) {
		src->pre = s->milter_pre->data;
		src->pre_len = s->milter_pre->len;
	}
	s->msrc = src;
	milter_client_macro(s->mc, "i", spool_msg_id(s->msg));
	milter_client_eom(s->mc, src, eom_done, s);
}

/* BDAT: the filters get DATA now, before the message. */
static void
bdat_data_done(void *arg, const struct milter_result *r)
{
	struct session *s = arg;

	if (s->dead || s->msg == NULL) {
		eom_end(s);
		return;
	}
	if (r->verdict == MILTER_V_REJECT || r->verdict == MILTER_V_TEMPFAIL) {
		s->waiting = false;
		log_refusal(s, "data", r);
		session_tx_reset(s);
		refusal_reply(s, r->reply);
		eom_end(s);
		return;
	}
	if (r->verdict == MILTER_V_DISCARD)
		s->milter_discard = true;
	eom_send(s);
}

void
session_milter_eom(struct session *s, const struct buf *pre, bool junk)
{
	s->milter_pre = pre;
	s->milter_junk = junk;
	s->refs++;
	s->waiting = true;
	if (!s->milter_data_sent) {
		s->milter_data_sent = true;
		milter_client_macro(s->mc, "i", spool_msg_id(s->msg));
		milter_client_data(s->mc, bdat_data_done, s);
		return;
	}
	eom_send(s);
}

void
session_milter_abort(struct session *s)
{
	if (s->mc != NULL)
		milter_client_abort(s->mc);
	s->milter_pre = NULL;
	s->milter_junk = false;
}

void
session_milter_free(struct session *s)
{
	src_close(s);
	milter_client_free(s->mc);
	s->mc = NULL;
}
