/* SPDX-License-Identifier: ISC */
/*
 * client/proto.c - the client protocol state machine (see proto.h).
 *
 * The commands of a transaction always go out in the same order (MAIL,
 * each RCPT, DATA or BDAT), so one phase and two counters say which reply
 * comes next, with or without PIPELINING.
 * Trust: replies come from the peer; only smtp/reply.h reads their bytes,
 * and their text reaches results truncated and on one line.
 */
#include "client/proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "smtp/params.h"
#include "util/str.h"

#define SECS_5M 300  /* RFC 5321 4.5.3.2.1-3, .7 */
#define SECS_2M 120  /* 4.5.3.2.4 DATA initiation */
#define SECS_10M 600 /* 4.5.3.2.6 DATA termination */
#define AUTH_MAX 512 /* user + password, before base64 */

void
client_proto_init(struct client_proto *cp, const struct client_opts *o)
{
	memset(cp, 0, sizeof(*cp));
	cp->o = *o;
	cp->phase = CP_GREETING;
	buf_init(&cp->out, CLIENT_OUT_MAX);
}

void
client_proto_free(struct client_proto *cp)
{
	free(cp->accepted);
	cp->accepted = NULL;
	buf_reset(&cp->out);
}

static const char *
peer(const struct client_proto *cp)
{
	return cp->o.peer != NULL ? cp->o.peer : "remote server";
}

/* "mx.example said: 550 5.1.1 text" on one line into w. */
static void
reply_why(const struct client_proto *cp, const struct smtp_reply *r,
    const char *cmd, struct why *w)
{
	char esc[16], text[160];
	size_t i;

	for (i = 0; i < r->text_len && i + 1 < sizeof(text); i++)
		text[i] = r->text[i] == '\n' ? ' ' : r->text[i];
	text[i] = '\0';
	(void)why_set(w, smtp_reply_class(r) == 5 ? WHY_PERM : WHY_TEMP, 0,
	    "%s said: %u %s %s (in reply to %s)", peer(cp), r->code,
	    smtp_reply_esc(r, esc, sizeof(esc)), text, cmd);
}

void
client_reply_keep(const struct smtp_reply *r, const char *cmd,
    struct client_reply *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	out->code = r->code;
	out->cmd = cmd;
	if (r->has_esc)
		(void)snprintf(out->esc, sizeof(out->esc), "%u.%u.%u",
		    r->esc_class, r->esc_subject, r->esc_detail);
	for (i = 0; i < r->text_len && i + 1 < sizeof(out->text); i++)
		out->text[i] = r->text[i] == '\n' ? ' ' : r->text[i];
	out->text[i] = '\0';
}

/* Recipient i was decided by r: its reply, and a why unless 2xx. */
static void
decide(struct client_proto *cp, size_t i, const struct smtp_reply *r,
    const char *cmd)
{
	if (cp->replies != NULL)
		client_reply_keep(r, cmd, &cp->replies[i]);
	if (smtp_reply_class(r) != 2)
		reply_why(cp, r, cmd, &cp->results[i]);
}

static enum client_event
fail(struct client_proto *cp, const struct smtp_reply *r, const char *cmd)
{
	client_reply_keep(r, cmd, &cp->fail_reply);
	reply_why(cp, r, cmd, &cp->why);
	/* A session-level refusal is the host's, not the recipient's. */
	cp->why.kind = WHY_TEMP;
	cp->phase = CP_CLOSED;
	return CLIENT_EV_FAIL;
}

static enum client_event
fail_text(struct client_proto *cp, enum why_kind k, const char *text)
{
	(void)why_set(&cp->why, k, 0, "%s: %s", peer(cp), text);
	memset(&cp->fail_reply, 0, sizeof(cp->fail_reply));
	cp->phase = CP_CLOSED;
	return CLIENT_EV_FAIL;
}

/*
 * A command could not be queued in out: `what` (over CLIENT_OUT_MAX, or
 * a credential too long), or, when errno says ENOMEM (buf.h), out of
 * memory, which the why keeps as its sys_errno for the caller.
 */
static enum client_event
fail_out(struct client_proto *cp, const char *what)
{
	bool nomem = errno == ENOMEM;

	(void)fail_text(cp, WHY_TEMP, nomem ? "out of memory" : what);
	if (nomem)
		cp->why.sys_errno = ENOMEM;
	return CLIENT_EV_FAIL;
}

static int
out(struct client_proto *cp, const char *s)
{
	return buf_append_str(&cp->out, s);
}

static enum client_event
send_ehlo(struct client_proto *cp, bool helo)
{
	cp->phase = helo ? CP_HELO : CP_EHLO;
	if (buf_printf(&cp->out, "%s %s\r\n",
	        cp->o.lmtp ? "LHLO" : (helo ? "HELO" : "EHLO"),
	        cp->o.helo) == -1)
		return fail_out(cp, "command buffer full");
	return CLIENT_EV_NONE;
}

/* base64 of p[0..n) appended to out, then CRLF. */
static int
out_b64(struct client_proto *cp, const void *p, size_t n)
{
	unsigned char enc[AUTH_MAX * 4 / 3 + 8];
	int rc;

	if (n > AUTH_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	EVP_EncodeBlock(enc, p, (int)n);
	cp->secret_off = cp->out.len;
	cp->secret_len = strlen((const char *)enc);
	rc = 0;
	if (buf_append_str(&cp->out, (const char *)enc) == -1 ||
	    out(cp, "\r\n") == -1)
		rc = -1;
	explicit_bzero(enc, sizeof(enc)); /* keeps errno */
	return rc;
}

/* After EHLO (or HELO): STARTTLS, AUTH, or ready. */
static enum client_event
after_hello(struct client_proto *cp)
{
	char plain[AUTH_MAX + 2];
	size_t ul, pl;
	bool offered = (cp->ehlo.flags & SMTP_EHLO_STARTTLS) != 0;

	if (!cp->tls_active && cp->o.tls != CLIENT_TLS_NONE &&
	    cp->o.tls_possible && offered && !cp->tls_tried) {
		cp->tls_tried = true;
		cp->phase = CP_STARTTLS;
		if (out(cp, "STARTTLS\r\n") == -1)
			return fail_out(cp, "command buffer full");
		return CLIENT_EV_NONE;
	}
	if (!cp->tls_active && cp->o.tls == CLIENT_TLS_REQUIRE)
		return fail_text(cp, cp->o.requiretls ? WHY_PERM : WHY_TEMP,
		    cp->o.requiretls
		        ? "the message needs REQUIRETLS but the server does "
		          "not offer STARTTLS"
		        : "TLS is required for this route but the server "
		          "does not offer STARTTLS");
	if (cp->o.auth_user != NULL && !cp->authed) {
		/* Never send a password in the clear, unless told so. */
		if (!cp->tls_active && cp->o.tls != CLIENT_TLS_NONE)
			return fail_text(cp, WHY_TEMP,
			    "refusing to send AUTH credentials without TLS");
		ul = strlen(cp->o.auth_user);
		pl = cp->o.auth_pass != NULL ? strlen(cp->o.auth_pass) : 0;
		if (ul + pl + 2 > AUTH_MAX)
			return fail_text(cp, WHY_PERM,
			    "AUTH user name and password too long");
		if (cp->ehlo.flags & SMTP_EHLO_AUTH_PLAIN) {
			/* RFC 4616: authzid NUL authcid NUL passwd */
			plain[0] = '\0';
			memcpy(plain + 1, cp->o.auth_user, ul);
			plain[ul + 1] = '\0';
			if (pl > 0)
				memcpy(plain + ul + 2, cp->o.auth_pass, pl);
			cp->phase = CP_AUTH;
			if (out(cp, "AUTH PLAIN ") == -1 ||
			    out_b64(cp, plain, ul + pl + 2) == -1) {
				explicit_bzero(plain, sizeof(plain));
				return fail_out(cp, "command buffer full");
			}
			explicit_bzero(plain, sizeof(plain));
			return CLIENT_EV_NONE;
		}
		if (cp->ehlo.flags & SMTP_EHLO_AUTH_LOGIN) {
			cp->phase = CP_AUTH;
			if (out(cp, "AUTH LOGIN\r\n") == -1)
				return fail_out(cp, "command buffer full");
			return CLIENT_EV_NONE;
		}
		return fail_text(cp, WHY_TEMP,
		    "server offers neither AUTH PLAIN nor AUTH LOGIN");
	}
	cp->phase = CP_READY;
	return CLIENT_EV_READY;
}

static int
send_mail(struct client_proto *cp)
{
	const struct client_msg *m = cp->msg;
	struct buf *b = &cp->out;
	bool dsn = (cp->ehlo.flags & SMTP_EHLO_DSN) != 0;

	if (buf_printf(b, "MAIL FROM:<%s>", m->sender) == -1)
		return -1;
	if ((cp->ehlo.flags & SMTP_EHLO_SIZE) && !m->probe &&
	    buf_printf(b, " SIZE=%llu", (unsigned long long)m->size) == -1)
		return -1;
	if (m->eightbit && (cp->ehlo.flags & SMTP_EHLO_8BITMIME) &&
	    buf_append_str(b, " BODY=8BITMIME") == -1)
		return -1;
	if (m->smtputf8 && buf_append_str(b, " SMTPUTF8") == -1)
		return -1;
	if (m->requiretls && buf_append_str(b, " REQUIRETLS") == -1)
		return -1;
	if (dsn && m->ret != SMTP_RET_NONE &&
	    buf_append_str(b,
	        m->ret == SMTP_RET_FULL ? " RET=FULL" : " RET=HDRS") == -1)
		return -1;
	if (dsn && m->envid != NULL && m->envid[0] != '\0' &&
	    buf_printf(b, " ENVID=%s", m->envid) == -1)
		return -1;
	return out(cp, "\r\n");
}

/* "SUCCESS,FAILURE,DELAY" for the bits set (RFC 3461 4.1). */
static const char *
notify_list(unsigned bits, char *dst, size_t dstsz)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = { { SMTP_NOTIFY_SUCCESS, "SUCCESS" },
		{ SMTP_NOTIFY_FAILURE, "FAILURE" },
		{ SMTP_NOTIFY_DELAY, "DELAY" } };
	size_t i;

	dst[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (bits & names[i].bit) {
			if (dst[0] != '\0')
				(void)strlcat(dst, ",", dstsz);
			(void)strlcat(dst, names[i].name, dstsz);
		}
	return dst;
}

static int
send_rcpt(struct client_proto *cp, size_t i)
{
	const struct client_rcpt *r = &cp->msg->rcpts[i];
	struct buf *b = &cp->out;
	bool dsn = (cp->ehlo.flags & SMTP_EHLO_DSN) != 0;
	char nl[32];

	if (buf_printf(b, "RCPT TO:<%s>", r->addr) == -1)
		return -1;
	if (dsn && r->notify != 0 &&
	    buf_printf(b, " NOTIFY=%s",
	        (r->notify & SMTP_NOTIFY_NEVER)
	            ? "NEVER"
	            : notify_list(r->notify, nl, sizeof(nl))) == -1)
		return -1;
	if (dsn && r->orcpt != NULL && r->orcpt[0] != '\0' &&
	    buf_printf(b, " ORCPT=%s", r->orcpt) == -1)
		return -1;
	cp->rcpt_sent++;
	return out(cp, "\r\n");
}

static int
send_data_cmd(struct client_proto *cp)
{
	if (cp->chunking) {
		cp->body_after_out = true;
		return buf_printf(&cp->out, "BDAT %llu LAST\r\n",
		    (unsigned long long)cp->msg->size);
	}
	return out(cp, "DATA\r\n");
}

enum client_event
client_proto_start(struct client_proto *cp, const struct client_msg *msg,
    struct why *results, struct client_reply *replies)
{
	size_t i;

	if (cp->phase != CP_READY)
		return fail_text(cp, WHY_TEMP, "internal error: not idle");
	cp->msg = msg;
	cp->results = results;
	cp->replies = replies;
	for (i = 0; i < msg->nrcpts; i++)
		why_clear(&results[i]);
	if (replies != NULL)
		memset(replies, 0, msg->nrcpts * sizeof(*replies));
	free(cp->accepted);
	if ((cp->accepted = calloc(msg->nrcpts ? msg->nrcpts : 1,
	         sizeof(*cp->accepted))) == NULL) {
		errno = ENOMEM;
		return fail_out(cp, "out of memory");
	}
	cp->rcpt_sent = cp->rcpt_done = cp->naccepted = cp->dot_done = 0;
	cp->mail_ok = false;
	cp->decided = false;
	cp->rset_after = false;
	cp->body_after_out = false;
	/* RFC 1870 6: don't send what the server said it won't take. */
	if (cp->ehlo.size_max > 0 && msg->size > cp->ehlo.size_max) {
		for (i = 0; i < msg->nrcpts; i++)
			(void)why_set(&results[i], WHY_PERM, 0,
			    "%s: message of %llu bytes exceeds the server's "
			    "limit of %llu bytes (SIZE)",
			    peer(cp), (unsigned long long)msg->size,
			    (unsigned long long)cp->ehlo.size_max);
		cp->decided = true;
		return CLIENT_EV_MSG_DONE;
	}
	/* RFC 6531 3.5: no downgrade; the sender gets a bounce. */
	if (msg->smtputf8 && !(cp->ehlo.flags & SMTP_EHLO_SMTPUTF8)) {
		for (i = 0; i < msg->nrcpts; i++)
			(void)why_set(&results[i], WHY_PERM, 0,
			    "%s: the message needs SMTPUTF8 (international "
			    "addresses) and the server does not support it",
			    peer(cp));
		cp->decided = true;
		return CLIENT_EV_MSG_DONE;
	}
	/* RFC 8689 4: verified TLS and the keyword after it, or a bounce
	 * (5, "REQUIRETLS" in the text gives the DSN 5.7.30). */
	if (msg->requiretls &&
	    (!cp->tls_active || !cp->tls_verified ||
	        !(cp->ehlo.flags & SMTP_EHLO_REQUIRETLS))) {
		for (i = 0; i < msg->nrcpts; i++)
			(void)why_set(&results[i], WHY_PERM, 0,
			    "%s: the message needs REQUIRETLS and the server "
			    "%s",
			    peer(cp),
			    cp->tls_active && cp->tls_verified
			        ? "does not offer it"
			        : "is not reached over verified TLS");
		cp->decided = true;
		return CLIENT_EV_MSG_DONE;
	}
	cp->pipelined = (cp->ehlo.flags & SMTP_EHLO_PIPELINING) != 0;
	cp->chunking = (cp->ehlo.flags & SMTP_EHLO_CHUNKING) != 0;
	cp->phase = CP_MAIL;
	if (send_mail(cp) == -1)
		return fail_out(cp, "command buffer full");
	if (cp->pipelined) {
		for (i = 0; i < msg->nrcpts; i++)
			if (send_rcpt(cp, i) == -1)
				return fail_out(cp, "command buffer full");
		if (!msg->probe && send_data_cmd(cp) == -1)
			return fail_out(cp, "command buffer full");
	}
	return CLIENT_EV_NONE;
}

/* Reply r to the data decides every accepted recipient still open. */
static void
set_accepted(struct client_proto *cp, const struct smtp_reply *r,
    const char *cmd)
{
	size_t i;

	for (i = 0; i < cp->msg->nrcpts; i++)
		if (cp->accepted[i] && cp->results[i].kind == WHY_NONE)
			decide(cp, i, r, cmd);
}

static enum client_event
finish_msg(struct client_proto *cp)
{
	cp->decided = true;
	if (cp->rset_after) {
		cp->rset_after = false;
		cp->phase = CP_RSET;
		if (out(cp, "RSET\r\n") == -1)
			return fail_out(cp, "command buffer full");
		return CLIENT_EV_NONE;
	}
	cp->phase = CP_READY;
	return CLIENT_EV_MSG_DONE;
}

/* All RCPT replies are in (non-pipelined): DATA/BDAT or give up. */
static enum client_event
after_rcpts(struct client_proto *cp)
{
	if (cp->naccepted == 0 || cp->msg->probe) {
		cp->rset_after = true;
		return finish_msg(cp);
	}
	cp->phase = cp->chunking ? CP_BDAT : CP_DATA;
	if (send_data_cmd(cp) == -1)
		return fail_out(cp, "command buffer full");
	return CLIENT_EV_NONE;
}

/* The first accepted recipient at or after i, or nrcpts. */
static size_t
next_accepted(const struct client_proto *cp, size_t i)
{
	while (i < cp->msg->nrcpts && !cp->accepted[i])
		i++;
	return i;
}

/* RFC 2033 4.2: one reply per accepted RCPT, in order. */
static enum client_event
lmtp_data_reply(struct client_proto *cp, const struct smtp_reply *r,
    const char *cmd)
{
	size_t i;

	i = next_accepted(cp, cp->dot_done);
	if (i >= cp->msg->nrcpts)
		return fail_text(cp, WHY_TEMP, "reply out of order");
	decide(cp, i, r, cmd);
	cp->dot_done = next_accepted(cp, i + 1);
	if (cp->dot_done < cp->msg->nrcpts)
		return CLIENT_EV_NONE;
	return finish_msg(cp);
}

static enum client_event
on_txn_reply(struct client_proto *cp, const struct smtp_reply *r)
{
	size_t i;
	unsigned cls = smtp_reply_class(r);

	if (r->code == 421) { /* RFC 5321 3.8: closing */
		client_reply_keep(r, "a command", &cp->fail_reply);
		reply_why(cp, r, "a command", &cp->why);
		cp->why.kind = WHY_TEMP;
		client_proto_fail_rest(cp, &cp->why);
		cp->phase = CP_CLOSED;
		return CLIENT_EV_FAIL;
	}
	switch (cp->phase) {
	case CP_MAIL:
		cp->mail_ok = cls == 2;
		if (!cp->mail_ok) {
			for (i = 0; i < cp->msg->nrcpts; i++)
				decide(cp, i, r, "MAIL FROM");
			cp->rset_after = true;
		}
		cp->phase = CP_RCPT;
		if (cp->pipelined)
			return CLIENT_EV_NONE;
		if (!cp->mail_ok)
			return finish_msg(cp);
		if (cp->msg->nrcpts == 0)
			return after_rcpts(cp);
		if (send_rcpt(cp, 0) == -1)
			return fail_out(cp, "command buffer full");
		return CLIENT_EV_NONE;
	case CP_RCPT:
		i = cp->rcpt_done++;
		if (i >= cp->msg->nrcpts)
			return fail_text(cp, WHY_TEMP, "reply out of order");
		if (cls == 2 && cp->mail_ok) {
			cp->accepted[i] = true;
			cp->naccepted++;
			if (cp->msg->probe) /* the RCPT reply is the answer */
				decide(cp, i, r, "RCPT TO");
		} else if (cp->mail_ok)
			decide(cp, i, r, "RCPT TO");
		if (cp->rcpt_done < cp->msg->nrcpts) {
			if (!cp->pipelined &&
			    send_rcpt(cp, cp->rcpt_done) == -1)
				return fail_out(cp, "command buffer full");
			return CLIENT_EV_NONE;
		}
		if (cp->pipelined && !cp->msg->probe) {
			cp->phase = cp->chunking ? CP_BDAT : CP_DATA;
			return CLIENT_EV_NONE;
		}
		return after_rcpts(cp);
	case CP_DATA:
		if (r->code == 354) {
			/* With none accepted (pipelined), end at once. */
			cp->phase = CP_DOT;
			if (cp->naccepted == 0) {
				if (out(cp, ".\r\n") == -1)
					return fail_out(cp,
					    "command buffer full");
				return CLIENT_EV_NONE;
			}
			return CLIENT_EV_BODY;
		}
		/*
		 * Only 354 lets the body go (RFC 5321 4.3.2). A 2xx here would
		 * mark recipients delivered whose body was never sent: out of
		 * step with the server, give up for now.
		 */
		if (cls == 2)
			return fail_text(cp, WHY_TEMP,
			    "DATA answered with 2xx instead of 354");
		set_accepted(cp, r, "DATA");
		cp->rset_after = true;
		return finish_msg(cp);
	case CP_BDAT:
		/*
		 * LMTP answers BDAT LAST as it answers the end of DATA: once
		 * per accepted recipient (Dovecot does; RFC 2033 4.2).
		 */
		if (cp->o.lmtp && cp->naccepted > 0)
			return lmtp_data_reply(cp, r, "BDAT");
		set_accepted(cp, r, "BDAT");
		if (cls != 2)
			cp->rset_after = true;
		return finish_msg(cp);
	case CP_DOT:
		if (!cp->o.lmtp || cp->naccepted == 0) {
			if (cp->naccepted > 0)
				set_accepted(cp, r, "end of data");
			return finish_msg(cp);
		}
		return lmtp_data_reply(cp, r, "end of data");
	default:
		break;
	}
	return fail_text(cp, WHY_TEMP, "unexpected reply");
}

enum client_event
client_proto_on_reply(struct client_proto *cp, const struct smtp_reply *r)
{
	unsigned cls = smtp_reply_class(r);

	switch (cp->phase) {
	case CP_GREETING:
		if (cls != 2)
			return fail(cp, r, "the greeting");
		return send_ehlo(cp, false);
	case CP_EHLO:
		if (cls == 2) {
			cp->esmtp = true;
			smtp_ehlo_parse(r->text, r->text_len, &cp->ehlo);
			return after_hello(cp);
		}
		/* RFC 5321 3.2: an old server; LMTP has no fallback. */
		if (r->code == 421 || cp->o.lmtp)
			return fail(cp, r, cp->o.lmtp ? "LHLO" : "EHLO");
		return send_ehlo(cp, true);
	case CP_HELO:
		if (cls != 2)
			return fail(cp, r, "HELO");
		memset(&cp->ehlo, 0, sizeof(cp->ehlo));
		return after_hello(cp);
	case CP_STARTTLS:
		if (r->code == 220)
			return CLIENT_EV_TLS;
		if (cp->o.tls == CLIENT_TLS_REQUIRE)
			return fail(cp, r, "STARTTLS");
		return after_hello(cp); /* opportunistic: carry on */
	case CP_AUTH:
		if (r->code == 235) {
			cp->authed = true;
			return after_hello(cp);
		}
		if (r->code == 334 &&
		    !(cp->ehlo.flags & SMTP_EHLO_AUTH_PLAIN)) {
			cp->phase = CP_AUTH_USER;
			if (out_b64(cp, cp->o.auth_user,
			        strlen(cp->o.auth_user)) == -1)
				return fail_out(cp, "AUTH failed");
			return CLIENT_EV_NONE;
		}
		return fail(cp, r, "AUTH");
	case CP_AUTH_USER:
		if (r->code != 334)
			return fail(cp, r, "AUTH");
		cp->phase = CP_AUTH_PASS;
		if (out_b64(cp, cp->o.auth_pass ? cp->o.auth_pass : "",
		        cp->o.auth_pass ? strlen(cp->o.auth_pass) : 0) == -1)
			return fail_out(cp, "AUTH failed");
		return CLIENT_EV_NONE;
	case CP_AUTH_PASS:
		if (r->code != 235)
			return fail(cp, r, "AUTH");
		cp->authed = true;
		return after_hello(cp);
	case CP_RSET:
		if (cls != 2)
			return fail(cp, r, "RSET");
		cp->phase = CP_READY;
		return cp->msg != NULL ? CLIENT_EV_MSG_DONE : CLIENT_EV_READY;
	case CP_QUIT:
		cp->phase = CP_CLOSED;
		return CLIENT_EV_NONE;
	case CP_READY:
	case CP_CLOSED:
		return fail_text(cp, WHY_TEMP, "unexpected reply while idle");
	default:
		return on_txn_reply(cp, r);
	}
}

void
client_proto_tls_done(struct client_proto *cp)
{
	cp->tls_active = true;
	memset(&cp->ehlo, 0, sizeof(cp->ehlo)); /* RFC 3207 4.2 */
	(void)send_ehlo(cp, false);
}

void
client_proto_body_sent(struct client_proto *cp)
{
	cp->body_after_out = false;
}

int
client_proto_quit(struct client_proto *cp)
{
	cp->phase = CP_QUIT;
	return out(cp, "QUIT\r\n");
}

unsigned
client_proto_timeout(const struct client_proto *cp)
{
	switch (cp->phase) {
	case CP_DATA:
		return SECS_2M;
	case CP_DOT:
	case CP_BDAT:
		return SECS_10M;
	default:
		return SECS_5M;
	}
}

void
client_proto_fail_rest(struct client_proto *cp, const struct why *why)
{
	size_t i;

	if (cp->msg == NULL || cp->results == NULL)
		return;
	for (i = 0; i < cp->msg->nrcpts; i++)
		/* LMTP: those before dot_done have their own final reply. */
		if (cp->results[i].kind == WHY_NONE && !cp->decided &&
		    !(cp->o.lmtp && i < cp->dot_done)) {
			if (cp->replies != NULL)
				cp->replies[i] = cp->fail_reply;
			cp->results[i] = *why;
			if (cp->results[i].kind == WHY_NONE)
				cp->results[i].kind = WHY_TEMP;
		}
}

const char *
client_phase_awaits(enum client_phase ph)
{
	switch (ph) {
	case CP_GREETING:
		return "the greeting";
	case CP_EHLO:
		return "the reply to EHLO";
	case CP_HELO:
		return "the reply to HELO";
	case CP_STARTTLS:
		return "the reply to STARTTLS";
	case CP_AUTH:
	case CP_AUTH_USER:
	case CP_AUTH_PASS:
		return "the reply to AUTH";
	case CP_MAIL:
		return "the reply to MAIL FROM";
	case CP_RCPT:
		return "the reply to RCPT TO";
	case CP_DATA:
		return "the reply to DATA";
	case CP_DOT:
		return "the reply to the end of the message";
	case CP_BDAT:
		return "the reply to BDAT";
	case CP_RSET:
		return "the reply to RSET";
	case CP_QUIT:
		return "the reply to QUIT";
	case CP_READY:
	case CP_CLOSED:
		break;
	}
	return "the server";
}
