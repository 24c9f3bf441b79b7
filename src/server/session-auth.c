/* SPDX-License-Identifier: ISC */
/*
 * server/session-auth.c - AUTH (RFC 4954) of an inbound SMTP session:
 * where AUTH is offered (submission, after TLS), the PLAIN and LOGIN
 * exchange through smtp/auth, the password check on a worker, and the
 * failure delays and lock-outs of server/auth.c.
 *
 * The check runs on the auth workers (struct auth_job) holding a session
 * reference; a delayed 535 holds one too, on the session's `delay` timer.
 * Trust: every line of the exchange holds credentials: never logged, and
 * wiped from memory once used. Lines are capped at
 * SESSION_AUTH_LINE_MAX (RFC 4954 4); failures are logged one line each,
 * with the user escaped, for fail2ban.
 */
#include "server/session-private.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "dir/dir.h"
#include "server/auth.h"
#include "server/loop.h"
#include "server/workers.h"
#include "smtp/auth.h"
#include "smtp/command.h"
#include "util/log.h"
#include "util/str.h"
#include "util/why.h"
#include "util/xmalloc.h"

bool
session_may_auth(const struct session *s)
{
	return s->cl->mode == CONF_MODE_SUBMISSION && s->tls;
}

struct auth_job {
	struct session *s;
	char user[SMTP_AUTH_USER_MAX + 1];
	char pass[SMTP_AUTH_PASS_MAX + 1];
	char norm[DIR_ADDR_MAX]; /* the user name as stored */
	enum smtp_auth_mech mech;
	int ok; /* 1 right, 0 wrong or no such user, -1 trouble */
	struct why why;
};

static const char *
mech_name(enum smtp_auth_mech m)
{
	return m == SMTP_AUTH_MECH_LOGIN ? "LOGIN" : "PLAIN";
}

/* Worker thread: yescrypt, ~20 ms of CPU. */
static void
auth_verify(void *ctx, void *arg)
{
	struct auth_job *j = arg;
	struct dir *d = ctx;
	const char *why;

	if (d == NULL) {
		j->ok = -1;
		why_set(&j->why, WHY_TEMP, 0, "user database unavailable");
	} else if (!dir_addr_norm(j->user, j->norm, &why)) {
		/* Not an address: no such user, but take the same time. */
		j->ok = dir_user_check_password(d, "nobody@invalid", j->pass,
		    &j->why) == -1 ? -1 : 0;
	} else {
		j->ok = dir_user_check_password(d, j->norm, j->pass, &j->why);
	}
	explicit_bzero(j->pass, sizeof(j->pass));
}

/* One fail2ban-friendly line per failure; never the password. */
static void
log_auth_failed(const struct session *s, const char *user,
    enum smtp_auth_mech mech, const char *reason, size_t n)
{
	char esc[SMTP_AUTH_USER_MAX * 2];

	log_info("event=auth_failed sid=%llu client=%s user=%s mech=%s "
		 "reason=%s failures=%zu",
	    (unsigned long long)s->id, s->addr,
	    log_escs(esc, sizeof(esc), user), mech_name(mech), reason, n);
}

/* The delay after a failure is over: now say 535. */
static void
auth_delay_done(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	s->waiting = false;
	session_reply_error(s, "535 5.7.8 Authentication credentials invalid");
	session_arm_timer(s, s->conf->limits.timeout_command);
	session_step_done(s);
}

static void
auth_done(struct loop *loop, void *arg)
{
	struct auth_job *j = arg;
	struct session *s = j->s;
	struct timeval tv = { 0, 0 };
	char esc[SMTP_AUTH_USER_MAX * 2];
	size_t n;

	(void)loop;
	if (s->dead)
		goto out;
	s->waiting = false;
	if (j->ok == 1) {
		authfail_clear(s->srv->authf, s->addr, j->norm);
		s->authed = true;
		(void)strlcpy(s->auth_user, j->norm, sizeof(s->auth_user));
		log_info("event=auth sid=%llu client=%s user=%s mech=%s",
		    (unsigned long long)s->id, s->addr,
		    log_escs(esc, sizeof(esc), j->norm), mech_name(j->mech));
		session_reply(s, "235 2.7.0 Authentication successful");
	} else if (j->ok == -1) {
		log_warn("event=auth_error sid=%llu client=%s error=\"%s\"",
		    (unsigned long long)s->id, s->addr, j->why.text);
		session_reply(s,
		    "454 4.7.0 Temporary authentication failure, try "
		    "again later");
	} else {
		n = authfail_record(s->srv->authf, s->addr, j->user,
		    time(NULL));
		log_auth_failed(s, j->user, j->mech, "bad_credentials", n);
		if (authfail_is_lockout(s->srv->authf, n)) {
			session_reply(s,
			    "421 4.7.0 %s Too many failed authentication "
			    "attempts; try again later",
			    s->conf->hostname);
			s->closing = true;
		} else if ((tv.tv_sec = authfail_delay(s->srv->authf, n)) >
		    0) {
			/* Growing delay: the client waits, others do not. */
			if (s->delay == NULL)
				s->delay = evtimer_new(loop_base(s->ls->loop),
				    auth_delay_done, s);
			s->waiting = true;
			s->refs++;
			evtimer_add(s->delay, &tv);
			goto out;
		} else {
			session_reply_error(s,
			    "535 5.7.8 Authentication credentials invalid");
		}
	}
out:
	explicit_bzero(j, sizeof(*j));
	free(j);
	session_step_done(s); /* with a delay armed, waiting keeps the input */
}

/* The exchange produced credentials: check them off the loop. */
static enum session_ret
auth_check(struct session *s)
{
	struct auth_job *j;
	unsigned wait;

	wait = authfail_locked(s->srv->authf, s->addr, s->auth.user,
	    time(NULL));
	if (wait > 0 || (s->auth.authzid[0] != '\0' &&
			    ascii_casecmp(s->auth.authzid, s->auth.user) != 0)) {
		log_auth_failed(s, s->auth.user, s->auth.mech,
		    wait > 0 ? "locked_out" : "authzid", 0);
		smtp_auth_wipe(&s->auth);
		if (wait > 0)
			return session_reply_error(s,
			    "454 4.7.0 Too many failed authentication "
			    "attempts; try again in %u seconds",
			    wait);
		return session_reply_error(s,
		    "535 5.7.8 Authentication credentials invalid");
	}
	j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->mech = s->auth.mech;
	(void)strlcpy(j->user, s->auth.user, sizeof(j->user));
	memcpy(j->pass, s->auth.pass, sizeof(j->pass));
	smtp_auth_wipe(&s->auth);
	s->refs++;
	s->waiting = true;
	workers_submit(s->srv->authw, auth_verify, s->ls->loop, auth_done, j);
	return SESSION_OK;
}

static enum session_ret
auth_status(struct session *s, enum smtp_auth_status st, const char *ch)
{
	switch (st) {
	case SMTP_AUTH_CONTINUE:
		s->in_auth = true;
		session_reply(s, "334 %s", ch);
		return SESSION_OK;
	case SMTP_AUTH_DONE:
		s->in_auth = false;
		return auth_check(s);
	default:
		s->in_auth = false;
		return session_reply_error(s, "%s", smtp_auth_reply(st));
	}
}

enum session_ret
session_cmd_auth(struct session *s, const struct smtp_command *c)
{
	enum smtp_auth_status st;
	const char *ch = NULL;
	unsigned wait;

	if (s->cl->mode != CONF_MODE_SUBMISSION)
		return session_reply_error(s,
		    "502 5.5.1 AUTH not available on this "
		    "listener");
	if (!s->esmtp)
		return session_reply_error(s,
		    "503 5.5.1 Error: send EHLO first");
	if (!s->tls)
		return session_reply_error(s,
		    "538 5.7.11 Encryption required for "
		    "requested authentication mechanism; "
		    "issue STARTTLS first");
	if (s->authed)
		return session_reply_error(s, "503 5.5.1 Error: already "
		                              "authenticated");
	if (s->has_mail)
		return session_reply_error(s,
		    "503 5.5.1 Error: AUTH not allowed "
		    "during a mail transaction");
	wait = authfail_locked(s->srv->authf, s->addr, NULL, time(NULL));
	if (wait > 0)
		return session_reply_error(s,
		    "454 4.7.0 Too many failed authentication attempts; try "
		    "again in %u seconds",
		    wait);
	st = smtp_auth_begin(&s->auth, c->arg, c->arg_len, &ch);
	return auth_status(s, st, ch);
}

/* A line during the exchange: a response, never a command. */
enum session_ret
session_auth_line(struct session *s, const char *line, size_t len)
{
	enum smtp_auth_status st;
	const char *ch = NULL;

	st = smtp_auth_step(&s->auth, line, len, &ch);
	return auth_status(s, st, ch);
}
