/* SPDX-License-Identifier: ISC */
/*
 * server/session-cmd.c - the command dispatch of an inbound SMTP session:
 * the one table from verb to handler (STYLE 2.1), what a command line
 * that failed to parse gets, and the commands that belong to no group:
 * HELO/EHLO (and the EHLO keywords), RSET, NOOP, QUIT, VRFY, EXPN, HELP
 * (RFC 5321 4.1.1). MAIL/RCPT are in session-mail.c, DATA/BDAT in
 * session-data.c, STARTTLS in session-tls.c, AUTH in session-auth.c.
 *
 * Runs on the session's loop thread; never reads the socket itself.
 * Trust: command lines are hostile; smtp_command_split() has bounded
 * them, and peer text is escaped before it is logged. AUTH lines are
 * never logged (they hold credentials).
 */
#include "server/session-private.h"

#include <string.h>

#include "server/limits.h"
#include "smtp/auth.h"
#include "smtp/cmd.h"
#include "smtp/command.h"
#include "util/log.h"
#include "util/str.h"

static void helo_reply(struct session *);

static enum session_ret
cmd_helo(struct session *s, const struct smtp_command *c)
{
	bool ehlo = c->verb == SMTP_VERB_EHLO;

	if (c->arg_len == 0 || c->arg_len > SESSION_HELO_MAX ||
	    !str_is_clean(c->arg, c->arg_len))
		return session_reply_error(s, "501 5.5.4 Syntax: %s hostname",
		    ehlo ? "EHLO" : "HELO");
	session_tx_reset(s);
	memcpy(s->helo, c->arg, c->arg_len);
	s->helo[c->arg_len] = '\0';
	s->esmtp = ehlo;
	session_milter_helo(s, helo_reply);
	return SESSION_OK;
}

/* HELO/EHLO passed the filters: the greeting and, for EHLO, the list. */
static void
helo_reply(struct session *s)
{
	if (!s->esmtp) {
		session_reply(s, "250 %s", s->conf->hostname);
		return;
	}
	session_reply(s, "250-%s", s->conf->hostname);
	session_reply(s, "250-PIPELINING");
	session_reply(s, "250-SIZE %llu",
	    (unsigned long long)s->conf->limits.max_message_size);
	session_reply(s, "250-8BITMIME");
	session_reply(s, "250-ENHANCEDSTATUSCODES");
	session_reply(s, "250-DSN");
	session_reply(s, "250-SMTPUTF8");
	if (s->cl->tls == CONF_TLS_STARTTLS && !s->tls)
		session_reply(s, "250-STARTTLS");
	/* RFC 8689 2: only where the session itself is protected. */
	if (s->tls && s->conf->outtls.requiretls == CONF_ON)
		session_reply(s, "250-REQUIRETLS");
	/* RFC 4954 4, RFC 8314: passwords only over TLS. */
	if (session_may_auth(s))
		session_reply(s, "250-AUTH PLAIN LOGIN");
	session_reply(s, "250 CHUNKING");
}

static enum session_ret
cmd_rset(struct session *s, const struct smtp_command *c)
{
	(void)c;
	session_tx_reset(s);
	session_reply(s, "250 2.0.0 Ok");
	return SESSION_OK;
}

static enum session_ret
cmd_noop(struct session *s, const struct smtp_command *c)
{
	(void)c;
	session_reply(s, "250 2.0.0 Ok");
	return SESSION_OK;
}

static enum session_ret
cmd_quit(struct session *s, const struct smtp_command *c)
{
	(void)c;
	session_reply(s, "221 2.0.0 Bye");
	s->closing = true;
	return SESSION_OK;
}

static enum session_ret
cmd_vrfy(struct session *s, const struct smtp_command *c)
{
	(void)c;
	/* RFC 5321 3.5.3: 252 discloses nothing about who exists. */
	session_reply(s,
	    "252 2.5.0 Cannot VRFY user, but will accept message and "
	    "attempt delivery");
	return SESSION_OK;
}

static enum session_ret
cmd_expn(struct session *s, const struct smtp_command *c)
{
	(void)c;
	return session_reply_error(s, "502 5.5.1 EXPN not available");
}

static enum session_ret
cmd_help(struct session *s, const struct smtp_command *c)
{
	(void)c;
	session_reply(s,
	    "214-2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET "
	    "NOOP QUIT VRFY HELP");
	session_reply(s, "214 2.0.0 See RFC 5321; tern documentation in docs/");
	return SESSION_OK;
}

static void
unknown_reply(struct session *s)
{
	(void)session_reply_error(s,
	    "500 5.5.1 Error: command not recognized");
}

static enum session_ret
cmd_unknown(struct session *s, const struct smtp_command *c)
{
	(void)c;
	session_milter_unknown(s, unknown_reply);
	return SESSION_OK;
}

/* The one dispatch table, indexed by verb (STYLE 2.1). */
static enum session_ret (*const handlers[])(struct session *,
    const struct smtp_command *) = {
	[SMTP_VERB_UNKNOWN] = cmd_unknown,
	[SMTP_VERB_HELO] = cmd_helo,
	[SMTP_VERB_EHLO] = cmd_helo,
	[SMTP_VERB_MAIL] = session_cmd_mail,
	[SMTP_VERB_RCPT] = session_cmd_rcpt,
	[SMTP_VERB_DATA] = session_cmd_data,
	[SMTP_VERB_BDAT] = session_cmd_bdat,
	[SMTP_VERB_RSET] = cmd_rset,
	[SMTP_VERB_NOOP] = cmd_noop,
	[SMTP_VERB_QUIT] = cmd_quit,
	[SMTP_VERB_VRFY] = cmd_vrfy,
	[SMTP_VERB_EXPN] = cmd_expn,
	[SMTP_VERB_HELP] = cmd_help,
	[SMTP_VERB_STARTTLS] = session_cmd_starttls,
	[SMTP_VERB_AUTH] = session_cmd_auth,
};

/* The journal's stage of each verb (obs.h): what a refusal answered. */
static const char *const stages[] = {
	[SMTP_VERB_UNKNOWN] = "command",
	[SMTP_VERB_HELO] = "helo",
	[SMTP_VERB_EHLO] = "helo",
	[SMTP_VERB_MAIL] = "mail",
	[SMTP_VERB_RCPT] = "rcpt",
	[SMTP_VERB_DATA] = "data",
	[SMTP_VERB_BDAT] = "data",
	[SMTP_VERB_RSET] = "command",
	[SMTP_VERB_NOOP] = "command",
	[SMTP_VERB_QUIT] = "command",
	[SMTP_VERB_VRFY] = "command",
	[SMTP_VERB_EXPN] = "command",
	[SMTP_VERB_HELP] = "command",
	[SMTP_VERB_STARTTLS] = "starttls",
	[SMTP_VERB_AUTH] = "auth",
};

/*
 * Note what is being answered: the stage, and for MAIL and RCPT the
 * path between the first '<' and the next '>' (raw: obs escapes it), so
 * that a refusal names the address it refused.
 */
static void
note_stage(struct session *s, const struct smtp_command *c, const char *line,
    size_t len)
{
	const char *lt, *gt;

	s->stage = (size_t)c->verb < sizeof(stages) / sizeof(stages[0]) &&
	                   stages[c->verb] != NULL
	               ? stages[c->verb]
	               : "command";
	s->cmd_path[0] = '\0';
	s->cmd_params[0] = '\0';
	if (c->verb == SMTP_VERB_UNKNOWN && len < sizeof(s->cmd_params)) {
		memcpy(s->cmd_params, line, len); /* for the filters */
		s->cmd_params[len] = '\0';
	}
	if (c->verb != SMTP_VERB_MAIL && c->verb != SMTP_VERB_RCPT)
		return;
	if ((lt = memchr(line, '<', len)) == NULL ||
	    (gt = memchr(lt, '>', len - (size_t)(lt - line))) == NULL ||
	    (size_t)(gt - lt - 1) >= sizeof(s->cmd_path))
		return;
	memcpy(s->cmd_path, lt + 1, (size_t)(gt - lt - 1));
	s->cmd_path[gt - lt - 1] = '\0';
	/* The ESMTP parameters, for the filters (issue 18). */
	gt++;
	len -= (size_t)(gt - line);
	while (len > 0 && *gt == ' ') {
		gt++;
		len--;
	}
	if (len < sizeof(s->cmd_params)) {
		memcpy(s->cmd_params, gt, len);
		s->cmd_params[len] = '\0';
	}
}

/* long_line: read with the AUTH limit (RFC 4954 4) instead of 512. */
enum session_ret
session_on_line(struct session *s, enum smtp_cmd_status st, const char *line,
    size_t len, bool long_line)
{
	struct smtp_command c;
	char esc[160];

	s->ncmds++;
	session_arm_timer(s, s->conf->limits.timeout_command);
	if (s->in_auth && st != SMTP_CMD_LINE) { /* the exchange is over */
		s->in_auth = false;
		smtp_auth_wipe(&s->auth);
	}
	if (s->in_auth) /* never logged: it holds credentials */
		return session_auth_line(s, line, len);
	s->stage = "command";
	if (st == SMTP_CMD_TOO_LONG && long_line)
		return session_reply_error(s,
		    "500 5.5.6 Error: authentication exchange line too long "
		    "(the limit is %d octets)",
		    SESSION_AUTH_LINE_MAX);
	if (st == SMTP_CMD_TOO_LONG)
		return session_reply_error(s,
		    "500 5.5.2 Error: line too long (the "
		    "limit is %d octets)",
		    SMTP_LINE_MAX);
	if (st == SMTP_CMD_BAD_EOL)
		return session_reply_error(s,
		    "500 5.5.2 Error: bare CR or LF in "
		    "command; use CRLF");
	smtp_command_split(line, len, &c);
	note_stage(s, &c, line, len);
	if (log_is_verbose()) /* AUTH's initial response is a password */
		log_debug("event=command sid=%llu line=%s",
		    (unsigned long long)s->id,
		    c.verb == SMTP_VERB_AUTH
			? "AUTH..."
			: log_esc(esc, sizeof(esc), line, len));
	if ((size_t)c.verb >= sizeof(handlers) / sizeof(handlers[0]) ||
	    handlers[c.verb] == NULL)
		return cmd_unknown(s, &c);
	return handlers[c.verb](s, &c);
}
