/* SPDX-License-Identifier: ISC */
/*
 * server/session-auth.c - AUTH (RFC 4954) of an inbound SMTP session:
 * where AUTH is offered (submission, after TLS), the PLAIN and LOGIN
 * exchange through smtp/auth, the password check on a worker, and the
 * failure delays and lock-outs of server/auth.c.
 *
 * The user name is normalized once, here, before the lock-out check,
 * the password check and every log line: dir_addr_norm() lower-cases
 * the domain (and an ASCII local part) and drops one trailing dot, so
 * "Alice@EXAMPLE.TEST." is alice@example.test throughout. Login does
 * not go through aliases (dir_user_check_password() reads the users
 * table only), so there is no alias to resolve.
 * Failures are counted per client key (s->auth_key, server/auth.h),
 * never per account; the operator's relay_networks are counted too, as
 * guessing from inside is still guessing.
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
#include "obs/metrics.h"
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

_Static_assert(SMTP_AUTH_USER_MAX + 1 >= DIR_ADDR_MAX,
    "a user name buffer must hold a normalized address");

struct auth_job {
	struct session *s;
	char user[SMTP_AUTH_USER_MAX + 1]; /* normalized if it could be */
	bool is_norm; /* user is an address dir_addr_norm() accepted */
	char pass[SMTP_AUTH_PASS_MAX + 1];
	char key[CIDR_STR_MAX]; /* the client key, for authfail_end() */
	enum smtp_auth_mech mech;
	int ok; /* 1 right, 0 wrong or no such user, -1 trouble */
	struct why why;
};

static const char *
mech_name(enum smtp_auth_mech m)
{
	return m == SMTP_AUTH_MECH_LOGIN ? "LOGIN" : "PLAIN";
}

/* The clock of the failure table: monotonic seconds. */
static time_t
auth_now(void)
{
	return (time_t)(session_now_ms() / 1000);
}

/* Worker thread: yescrypt, ~20 ms of CPU. */
static void
auth_verify(void *ctx, void *arg)
{
	struct auth_job *j = arg;
	struct dir *d = ctx;

	if (d == NULL) {
		j->ok = -1;
		why_set(&j->why, WHY_TEMP, 0, "user database unavailable");
	} else {
		/* Not an address: no such user, but take the same time. */
		j->ok = dir_user_check_password(d,
		    j->is_norm ? j->user : "nobody@invalid", j->pass, &j->why);
		if (!j->is_norm && j->ok == 1)
			j->ok = 0;
	}
	explicit_bzero(j->pass, sizeof(j->pass));
}

/*
 * The user name as it is looked up and logged: normalized into
 * out[DIR_ADDR_MAX], or, when it is no address dir/ could hold, copied
 * as sent (escaped when logged). true when normalized.
 */
static bool
auth_user_norm(const char *user, char *out, size_t outsz)
{
	const char *why;

	if (outsz >= DIR_ADDR_MAX && dir_addr_norm(user, out, &why))
		return true;
	(void)strlcpy(out, user, outsz);
	return false;
}

/*
 * One fail2ban-friendly line per failure; never the password. The first
 * fields (event, sid, client) are a contract: filters anchor on them.
 * failures: the client key's count after this one (0: not counted);
 * delay: seconds before the 535; wait: seconds left of a lock-out.
 */
static void
log_auth_failed(const struct session *s, const char *user,
    enum smtp_auth_mech mech, const char *reason, size_t n, unsigned delay,
    unsigned wait)
{
	char esc[SMTP_AUTH_USER_MAX * 2], extra[32] = "";

	metrics_auth(false);
	if (wait > 0)
		(void)snprintf(extra, sizeof(extra), " wait=%u", wait);
	log_info("event=auth_failed sid=%llu client=%s user=%s mech=%s "
	         "reason=%s failures=%zu key=%s delay=%u%s",
	    (unsigned long long)s->id, s->addr,
	    log_escs(esc, sizeof(esc), user), mech_name(mech), reason, n,
	    s->auth_key, delay, extra);
}

static enum session_ret auth_check(struct session *);

/*
 * The session's AUTH timer: the delay after a failure is over (now say
 * 535), or a held AUTH may try for its turn again.
 */
static void
auth_timer_done(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	s->waiting = false;
	if (s->auth_held)
		(void)auth_check(s); /* replies, holds again, or checks */
	else
		session_reply_error(s,
		    "535 5.7.8 Authentication credentials invalid");
	if (!s->waiting)
		session_arm_timer(s, s->conf->limits.timeout_command);
	session_step_done(s);
}

/* Wait on the AUTH timer; the input waits too, and a reference is held. */
static void
auth_timer_arm(struct session *s, const struct timeval *tv)
{
	if (s->delay == NULL)
		s->delay =
		    evtimer_new(loop_base(s->ls->loop), auth_timer_done, s);
	s->waiting = true;
	s->refs++;
	evtimer_add(s->delay, tv);
}

static void
auth_done(struct loop *loop, void *arg)
{
	struct auth_job *j = arg;
	struct session *s = j->s;
	struct timeval tv = { 0, 0 };
	char esc[SMTP_AUTH_USER_MAX * 2];
	unsigned delay = 0;
	bool lockout = false;
	size_t n;

	(void)loop;
	/*
	 * End the attempt first, even for a client that has hung up: a
	 * guess is counted whether or not anyone waits for its answer.
	 */
	n = authfail_end(s->srv->authf, j->key, j->ok == 0, auth_now());
	if (j->ok == 0) {
		lockout = authfail_is_lockout(s->srv->authf, n);
		delay = lockout ? 0 : authfail_delay(s->srv->authf, n);
		log_auth_failed(s, j->user, j->mech, "bad_credentials", n,
		    delay, 0);
	}
	if (s->dead)
		goto out;
	s->waiting = false;
	if (j->ok == 1) {
		s->authed = true;
		(void)strlcpy(s->auth_user, j->user, sizeof(s->auth_user));
		metrics_auth(true);
		log_info("event=auth sid=%llu client=%s user=%s mech=%s",
		    (unsigned long long)s->id, s->addr,
		    log_escs(esc, sizeof(esc), j->user), mech_name(j->mech));
		session_reply(s, "235 2.7.0 Authentication successful");
	} else if (j->ok == -1) {
		log_warn("event=auth_error sid=%llu client=%s error=%s",
		    (unsigned long long)s->id, s->addr, LOG_ESC(j->why.text));
		session_reply(s,
		    "454 4.7.0 Temporary authentication failure, try "
		    "again later");
	} else if (lockout) {
		session_reply(s,
		    "421 4.7.0 %s Too many failed authentication attempts; "
		    "try again later",
		    s->conf->hostname);
		s->closing = true;
	} else if ((tv.tv_sec = delay) > 0) {
		/* Growing delay: the client waits, others do not. */
		auth_timer_arm(s, &tv);
		goto out;
	} else {
		session_reply_error(s,
		    "535 5.7.8 Authentication credentials invalid");
	}
out:
	explicit_bzero(j, sizeof(*j));
	free(j);
	session_step_done(s); /* with a delay armed, waiting keeps the input */
}

/*
 * RFC 4954 4: an authorization identity other than the user is refused
 * (tern has no proxy rights); the same address in another spelling is
 * the same identity.
 */
static bool
authzid_ok(const char *authzid, const char *user, bool user_is_norm)
{
	char az[SMTP_AUTH_USER_MAX + 1];

	if (authzid[0] == '\0')
		return true;
	if (user_is_norm && auth_user_norm(authzid, az, sizeof(az)))
		return strcmp(az, user) == 0;
	return ascii_casecmp(authzid, user) == 0;
}

/*
 * Keep the credentials (in s->auth) while this client's other checks
 * run, and try again shortly; false once held SESSION_AUTH_HOLD_MAX_MS.
 */
static bool
auth_hold(struct session *s)
{
	const struct timeval tv = { 0, SESSION_AUTH_RETRY_MS * 1000 };
	uint64_t now = session_now_ms();

	if (!s->auth_held) {
		s->auth_held = true;
		s->auth_held_ms = now;
	} else if (now - s->auth_held_ms >= SESSION_AUTH_HOLD_MAX_MS) {
		return false;
	}
	auth_timer_arm(s, &tv);
	return true;
}

/*
 * The exchange produced credentials: check them off the loop, unless
 * the client is locked out; wait for a turn when it has as many checks
 * running as it has failures left.
 */
static enum session_ret
auth_check(struct session *s)
{
	char user[SMTP_AUTH_USER_MAX + 1];
	enum authfail_status st;
	struct auth_job *j;
	unsigned wait;
	bool is_norm;

	is_norm = auth_user_norm(s->auth.user, user, sizeof(user));
	if (!authzid_ok(s->auth.authzid, user, is_norm)) {
		s->auth_held = false;
		log_auth_failed(s, user, s->auth.mech, "authzid", 0, 0, 0);
		smtp_auth_wipe(&s->auth);
		return session_reply_error(s,
		    "535 5.7.8 Authentication credentials invalid");
	}
	st = authfail_begin(s->srv->authf, s->auth_key, auth_now(), &wait);
	if (st == AUTHFAIL_BUSY && auth_hold(s))
		return SESSION_OK;
	s->auth_held = false;
	if (st == AUTHFAIL_LOCKED) {
		log_auth_failed(s, user, s->auth.mech, "locked_out", 0, 0,
		    wait);
		smtp_auth_wipe(&s->auth);
		return session_reply_error(s,
		    "454 4.7.0 Too many failed authentication attempts; try "
		    "again in %u seconds",
		    wait);
	}
	if (st == AUTHFAIL_BUSY) {
		/* Not a failure of the client's: no auth_failed line. */
		log_info("event=auth_busy sid=%llu client=%s key=%s",
		    (unsigned long long)s->id, s->addr, s->auth_key);
		smtp_auth_wipe(&s->auth);
		return session_reply_error(s,
		    "454 4.7.0 Too many authentication attempts at once "
		    "from your address; try again later");
	}
	/* From here authfail_end() must follow: auth_done() calls it. */
	j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->mech = s->auth.mech;
	(void)strlcpy(j->user, user, sizeof(j->user));
	j->is_norm = is_norm;
	(void)strlcpy(j->key, s->auth_key, sizeof(j->key));
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
	wait = authfail_locked(s->srv->authf, s->auth_key, auth_now());
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
