/* SPDX-License-Identifier: ISC */
/*
 * server/session-data.c - the message of an inbound SMTP transaction:
 * DATA (RFC 5321 4.1.1.4) and BDAT (RFC 3030 CHUNKING), feeding the body
 * through smtp_data into the spool with the Received header first, the
 * submission header fix-up (Date, Message-ID: RFC 6409 8), the size and
 * loop checks, and the durable commit before the 250.
 *
 * The commit runs on the spool's sync thread (struct commit_job) holding
 * a session reference; the 250 leaves only after it, and a queued
 * message is handed to the scheduler first. The envelope (MAIL, RCPT) is
 * session-mail.c's.
 * Trust: body bytes are hostile. They are decoded SESSION_CHUNK_MAX at a
 * time, never buffered whole; the size is capped by max_message_size,
 * bare CR or LF is refused (smuggling), and a held header by
 * SESSION_HDR_HOLD_MAX.
 */
#include "server/session-private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "msg/field.h"
#include "msg/hdr.h"
#include "msg/received.h"
#include "obs/metrics.h"
#include "queue/sched.h"
#include "queue/spool.h"
#include "server/limits.h"
#include "server/msgauth.h"
#include "server/loop.h"
#include "smtp/command.h"
#include "smtp/data.h"
#include "smtp/params.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

struct commit_job {
	struct session *s;
	char id[SPOOL_ID_MAX];
	int ok;
	struct why why;
	size_t nrcpts;
	uint64_t size;
	const char *hold_limit; /* held (a limit's name), or NULL */
	char hold_reason[600];  /* held by a filter (quarantine), or "" */
	char auth[320];         /* mail authentication results, or "" */
};

/*
 * ARC (issue 16): a recipient given as one of our addresses that
 * resolved to an address elsewhere (an alias forwarding out) makes us a
 * forwarder, and the message is sealed by that local domain.
 */
static void
auth_forwarding(struct session *s)
{
	const char *given, *final;
	size_t i;

	for (i = 0; s->ma != NULL && i < s->nrcpts; i++) {
		given = s->rcpts[i].orcpt != NULL
		            ? strrchr(s->rcpts[i].orcpt, '@')
		            : NULL;
		final = strrchr(s->rcpts[i].addr, '@');
		if (given != NULL && final != NULL &&
		    conf_is_local_domain(s->conf, given + 1) &&
		    !conf_is_local_domain(s->conf, final + 1)) {
			msgauth_seal_for(s->ma, given + 1);
			return;
		}
	}
}

/* The envelope as the transaction stands; strings point into s. */
void
session_env_fill(struct session *s, struct spool_env *env)
{
	memset(env, 0, sizeof(*env));
	env->arrival = time(NULL);
	env->sender = s->sender;
	env->helo = s->helo;
	env->client_addr = s->addr;
	env->client_name = (char *)"unknown";
	env->smtputf8 = s->mail.smtputf8;
	env->eightbit = s->mail.body == SMTP_BODY_8BITMIME;
	env->rcpts = s->rcpts;
	env->nrcpts = s->nrcpts;
	env->dsn = s->dsn;
	env->dsn_ret = s->mail.ret;
	env->envid = s->mail.envid;
	env->requiretls = s->mail.requiretls;
	/* In the envelope, so a crash after the 250 cannot release it. */
	env->held = s->hold_limit != NULL || s->hold_reason != NULL;
}

/* Begin storing a message: envelope and Received header go first. */
static int
msg_begin(struct session *s)
{
	struct spool_env env;
	struct msg_received rcv;
	struct why why;
	struct buf hdr;
	char with[16];
	int ret = 0;

	session_env_fill(s, &env);
	/* Authentication-Results or DKIM-Signature go on top (issue 16). */
	env.prefix_slot = s->ma != NULL || s->sign_after_filters;
	s->msg = spool_msg_new(s->srv->spool, &env, &why);
	if (s->msg == NULL) {
		log_warn("event=spool_error sid=%llu error=%s",
		    (unsigned long long)s->id, LOG_ESC(why.text));
		return -1;
	}
	memset(&rcv, 0, sizeof(rcv));
	rcv.helo = s->helo;
	rcv.client_name = "unknown";
	rcv.client_addr = s->addr;
	rcv.by = s->conf->hostname;
	/* RFC 3848 and RFC 6531 7.7: ESMTP[S][A], UTF8SMTP[S][A]. */
	(void)snprintf(with, sizeof(with), "%s%s%s",
	    s->mail.smtputf8 ? "UTF8SMTP"
	    : s->esmtp	     ? "ESMTP"
			     : "SMTP",
	    s->esmtp && s->tls ? "S" : "", s->esmtp && s->authed ? "A" : "");
	rcv.with = with;
	rcv.tls = s->tls && s->tls_desc[0] != '\0' ? s->tls_desc : NULL;
	rcv.auth_user = s->authed ? s->auth_user : NULL;
	rcv.id = spool_msg_id(s->msg);
	rcv.for_addr = s->nrcpts == 1 ? s->rcpts[0].addr : NULL;
	rcv.when = env.arrival;
	buf_init(&hdr, 4096);
	if (msg_received_format(&rcv, &hdr) == -1 ||
	    spool_msg_write(s->msg, hdr.data, hdr.len, &why) == -1) {
		spool_msg_abort(s->msg);
		s->msg = NULL;
		ret = -1;
	}
	buf_reset(&hdr);
	msg_hdr_scan_init(&s->hdr);
	s->msg_size = 0;
	s->body_sep = 0;
	s->hold_hdr = s->cl->mode == CONF_MODE_SUBMISSION || s->ma != NULL;
	auth_forwarding(s);
	buf_clear(&s->hbuf);
	return ret;
}

static void
store_bytes(struct session *s, const void *p, size_t n)
{
	if (n == 0 || s->too_big || s->write_failed || s->msg == NULL)
		return;
	if (spool_msg_write(s->msg, p, n, &s->write_why) == -1) {
		s->write_failed = true;
		log_warn("event=spool_error sid=%llu id=%s error=%s",
		    (unsigned long long)s->id, spool_msg_id(s->msg),
		    LOG_ESC(s->write_why.text));
	}
}

/*
 * Body bytes to the checks: the empty line that ends the header is not
 * the body's (RFC 6376 3.7); a header ended otherwise has none.
 */
static void
auth_body(struct session *s, const uint8_t *p, size_t n)
{
	if (s->ma == NULL)
		return;
	while (s->body_sep < 2 && n > 0) {
		if (p[0] != "\r\n"[s->body_sep]) {
			s->body_sep = 2;
			break;
		}
		s->body_sep++;
		p++;
		n--;
	}
	msgauth_body(s->ma, p, n);
}

/*
 * The held header, field by field, through the checks: a field they
 * drop (a forged Authentication-Results) is not stored.
 */
static void
auth_fields(struct session *s, const char *p, size_t n)
{
	size_t len;

	while (n > 0) {
		len = msg_field_len(p, n);
		if (msgauth_field(s->ma, p, len))
			store_bytes(s, p, len);
		p += len;
		n -= len;
	}
}

/*
 * Submission (RFC 6409 8.2, 8.3): write the held header, adding Date and
 * Message-ID where the header ends if it lacks them. `complete`: the
 * message is over, so the header is all there even without its empty
 * line. A header too big to hold goes out unchanged.
 */
static void
hdr_flush(struct session *s, bool complete)
{
	char date[MSG_DATE_MAX], add[MSG_DATE_MAX + SPOOL_ID_MAX + 300];
	size_t at = s->hdr.header_bytes;
	int n = 0, m;

	if (!s->hold_hdr)
		return;
	s->hold_hdr = false;
	add[0] = '\0';
	if ((complete || s->hdr.in_body) && at <= s->hbuf.len &&
	    s->msg != NULL && s->cl->mode == CONF_MODE_SUBMISSION) {
		if (!s->hdr.has_date &&
		    msg_date_format(time(NULL), date, sizeof(date)) > 0) {
			m = snprintf(add, sizeof(add), "Date: %s\r\n", date);
			n = m > 0 && (size_t)m < sizeof(add) ? m : 0;
		}
		if (!s->hdr.has_message_id) {
			m = snprintf(add + n, sizeof(add) - (size_t)n,
			    "Message-ID: <%s@%s>\r\n", spool_msg_id(s->msg),
			    s->conf->hostname);
			if (m > 0 && (size_t)m < sizeof(add) - (size_t)n)
				n += m;
		}
	} else if (!(complete || s->hdr.in_body) || at > s->hbuf.len) {
		at = s->hbuf.len;
		/* Too big to hold: no field can be checked or signed. */
		if (s->ma != NULL) {
			log_warn("event=mail_auth_skipped sid=%llu "
			         "reason=\"header larger than %d bytes\"",
			    (unsigned long long)s->id, SESSION_HDR_HOLD_MAX);
			msgauth_free(s->ma);
			s->ma = NULL;
		}
	}
	if (s->ma != NULL) {
		auth_fields(s, (const char *)s->hbuf.data, at);
		auth_fields(s, add, (size_t)n);
		msgauth_eoh(s->ma);
	} else {
		store_bytes(s, s->hbuf.data, at);
		store_bytes(s, add, (size_t)n);
	}
	store_bytes(s, s->hbuf.data + at, s->hbuf.len - at);
	auth_body(s, s->hbuf.data + at, s->hbuf.len - at);
	buf_clear(&s->hbuf);
}

/*
 * Out of memory while taking the message: some of its bytes (or the
 * header fix-up) are missing, so it must not be accepted. As a failed
 * spool write: nothing more is stored and the end of data gets 452.
 */
static void
msg_nomem(struct session *s)
{
	if (s->write_failed)
		return;
	s->write_failed = true;
	log_warn("event=spool_error sid=%llu id=%s error=\"out of memory: "
	         "message incomplete\"",
	    (unsigned long long)s->id,
	    s->msg != NULL ? spool_msg_id(s->msg) : "-");
}

/* Store decoded bytes from dbuf, enforcing the size limit. */
static void
msg_store(struct session *s)
{
	if (smtp_data_flags(s->data) & SMTP_DATA_F_NOMEM)
		msg_nomem(s);
	if (s->dbuf.len == 0)
		return;
	msg_hdr_scan_feed(&s->hdr, s->dbuf.data, s->dbuf.len);
	s->msg_size += s->dbuf.len;
	if (s->msg_size > s->conf->limits.max_message_size)
		s->too_big = true;
	if (s->hold_hdr) {
		if (buf_append(&s->hbuf, s->dbuf.data, s->dbuf.len) == 0) {
			buf_clear(&s->dbuf);
			if (s->hdr.in_body)
				hdr_flush(s, false);
			return;
		}
		if (errno == ENOMEM) /* not "too big to hold": no fix-up */
			msg_nomem(s);
	}
	hdr_flush(s, false); /* no room to hold more: as it is */
	store_bytes(s, s->dbuf.data, s->dbuf.len);
	auth_body(s, s->dbuf.data, s->dbuf.len);
	buf_clear(&s->dbuf);
}

/*
 * The 250 for the journal and the metrics (obs.h); a hold too. On the
 * spool's thread: the session waits for the commit, its transaction
 * stays as it is meanwhile.
 */
static void
obs_accepted(const struct session *s, const struct commit_job *j)
{
	struct timespec now;
	const char **rcpts = xcalloc(s->nrcpts + 1, sizeof(*rcpts));
	struct obs_event ev = { .kind = OBS_ACCEPTED, .id = j->id,
		.from = s->sender, .rcpts = rcpts, .client = s->addr,
		.helo = s->helo[0] != '\0' ? s->helo : NULL,
		.listener = s->cl->name,
		.user = s->authed ? s->auth_user : NULL,
		.tls = s->tls_desc[0] != '\0' ? s->tls_desc : NULL,
		.checks = j->auth[0] != '\0' ? j->auth : NULL, .size = j->size };
	char why[128];
	size_t i;

	for (i = 0; i < s->nrcpts; i++)
		rcpts[i] = s->rcpts[i].addr;
	ev.nrcpts = s->nrcpts;
	clock_gettime(CLOCK_MONOTONIC, &now);
	metrics_accept_latency((double)(now.tv_sec - s->data_end.tv_sec) +
	                       (double)(now.tv_nsec - s->data_end.tv_nsec) / 1e9);
	obs_emit(&ev);
	free(rcpts);
	if (j->hold_reason[0] != '\0') {
		obs_emit(&(struct obs_event){
		    .kind = OBS_HELD, .id = j->id, .text = j->hold_reason });
		return;
	}
	if (j->hold_limit == NULL)
		return;
	(void)snprintf(why, sizeof(why),
	    "the sender went over %s; release it with tern queue release",
	    j->hold_limit);
	obs_emit(&(struct obs_event){
	    .kind = OBS_HELD, .id = j->id, .text = why });
}

/*
 * Quarantined (issue 18): the reason where `tern queue list` shows a
 * message's last error. A side note: the hold itself is in the
 * envelope, durable with the commit.
 */
static void
note_hold_reason(const struct session *s, const struct commit_job *j)
{
	struct why why;
	size_t i;

	for (i = 0; i < j->nrcpts; i++)
		if (spool_note_error(s->srv->spool, j->id, i, j->hold_reason,
		        &why) == -1)
			log_warn("event=spool_error id=%s error=%s", j->id,
			    LOG_ESC(why.text));
}

static void
commit_done_loop(struct loop *loop, void *arg)
{
	struct commit_job *j = arg;
	struct session *s = j->s;
	struct timespec now;
	double ms;

	(void)loop;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (double)(now.tv_sec - s->data_end.tv_sec) * 1e3 +
	    (double)(now.tv_nsec - s->data_end.tv_nsec) / 1e6;
	if (!s->dead) {
		s->waiting = false;
		if (j->ok) {
			s->nmsgs++;
			session_reply(s, "250 2.0.0 Ok: queued as %s", j->id);
		} else {
			if (j->why.sys_errno == ENOSPC ||
			    j->why.sys_errno == EDQUOT)
				session_reply(s,
				    "452 4.3.1 Insufficient system "
				    "storage, try again later");
			else
				session_reply(s,
				    "451 4.3.0 Error: queue file write "
				    "error, try again later");
		}
		session_arm_timer(s, s->conf->limits.timeout_command);
	}
	if (j->ok)
		log_info("event=queued id=%s sid=%llu client=%s from=%s "
		         "nrcpt=%zu size=%llu commit_ms=%.2f%s%s%s%s%s",
		    j->id, (unsigned long long)s->id, s->addr,
		    LOG_ADDR(s->sender), j->nrcpts, (unsigned long long)j->size,
		    ms, s->mail.requiretls ? " requiretls=yes" : "", j->hold_limit != NULL || j->hold_reason[0] != '\0'
		            ? " held="
		            : "",
		    j->hold_limit != NULL        ? j->hold_limit
		    : j->hold_reason[0] != '\0' ? "milter"
		                                 : "",
		    j->auth[0] != '\0' ? " " : "", j->auth);
	if (!j->ok)
		log_warn("event=commit_failed id=%s sid=%llu error=%s", j->id,
		    (unsigned long long)s->id, LOG_ESC(j->why.text));
	if (!s->dead)
		session_tx_reset(s);
	free(j);
	session_step_done(s);
}

/* Runs on the spool's sync thread. */
static void
commit_done(void *arg, const char *id, int ok, const struct why *why)
{
	struct commit_job *j = arg;

	j->ok = ok;
	(void)strlcpy(j->id, id, sizeof(j->id));
	if (why != NULL)
		j->why = *why;
	/*
	 * Queue it before telling the client: a 250'd message is ours. A
	 * held one waits for `tern queue release`; its envelope says so
	 * (msg_begin), durably, so neither a crash nor a restart sends it.
	 */
	if (ok && j->hold_reason[0] != '\0')
		note_hold_reason(j->s, j);
	if (ok)
		obs_accepted(j->s, j); /* before any delivery event */
	if (ok && j->hold_limit == NULL && j->hold_reason[0] == '\0')
		sched_submit(j->s->srv->sched, id);
	loop_post(j->s->ls->loop, commit_done_loop, j);
}

static void msg_commit(struct session *);
static void auth_done(struct loop *, void *);

/* The message is complete: refuse it or make it durable, then reply. */
enum session_ret
session_msg_end(struct session *s)
{
	unsigned flags = smtp_data_flags(s->data);

	msg_store(s);
	hdr_flush(s, true);
	clock_gettime(CLOCK_MONOTONIC, &s->data_end);
	if (flags & (SMTP_DATA_F_BARE_CR | SMTP_DATA_F_BARE_LF)) {
		session_tx_reset(s);
		return session_reply_error(s,
		    "550 5.6.11 Message refused: bare CR or LF in the data "
		    "(RFC 5321 2.3.8); send CRLF line endings");
	}
	if (s->too_big) {
		session_tx_reset(s);
		return session_reply_error(s,
		    "552 5.3.4 Message too big: the limit is %llu bytes",
		    (unsigned long long)s->conf->limits.max_message_size);
	}
	if (s->hdr.received > s->conf->limits.max_received) {
		session_tx_reset(s);
		return session_reply_error(s,
		    "554 5.4.6 Too many Received headers (%zu): mail loop",
		    s->hdr.received);
	}
	if (s->write_failed || s->msg == NULL) {
		session_tx_reset(s);
		session_reply(s,
		    "452 4.3.1 Insufficient system storage, try again "
		    "later");
		return SESSION_OK;
	}
	if (msgauth_has_work(s->ma)) {
		/* Verify, DMARC, sign on a check worker; then commit. */
		s->refs++;
		s->waiting = true;
		msgauth_finish_submit(s->ma, s->ls->loop, auth_done, s);
		return SESSION_OK;
	}
	if (s->mc != NULL)
		session_milter_eom(s, NULL, false);
	else
		msg_commit(s);
	return SESSION_OK;
}

/* Hand the message to the spool; the 250 follows its commit. */
static void
msg_commit(struct session *s)
{
	struct commit_job *j;

	j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->nrcpts = s->nrcpts;
	j->size = s->msg_size;
	j->hold_limit = s->hold_limit;
	if (s->hold_reason != NULL)
		(void)strlcpy(j->hold_reason, s->hold_reason,
		    sizeof(j->hold_reason));
	if (s->ma != NULL)
		(void)strlcpy(j->auth, msgauth_summary(s->ma), sizeof(j->auth));
	s->refs++;
	s->waiting = true;
	spool_msg_commit(s->msg, commit_done, j);
	s->msg = NULL; /* the spool owns it now */
}

/*
 * The checks are done: refuse the message as they say, or put their
 * header fields on top and commit it.
 */
static void
auth_done(struct loop *loop, void *arg)
{
	struct session *s = arg;
	const struct buf *pre;
	char reply[768];

	(void)loop;
	if (s->dead || s->msg == NULL) {
		session_step_done(s);
		return;
	}
	s->waiting = false;
	if (msgauth_refusal(s->ma, reply, sizeof(reply))) {
		log_info("event=message_rejected sid=%llu client=%s from=%s %s",
		    (unsigned long long)s->id, s->addr, LOG_ADDR(s->sender),
		    msgauth_summary(s->ma));
		session_tx_reset(s);
		(void)session_reply_error(s, "%s", reply);
		session_arm_timer(s, s->conf->limits.timeout_command);
		session_step_done(s);
		return;
	}
	pre = msgauth_prefix(s->ma);
	if (s->mc != NULL)
		session_milter_eom(s, pre, msgauth_junk(s->ma));
	else
		session_msg_commit(s, pre, msgauth_junk(s->ma));
	session_step_done(s);
}

/* The checks passed: the fields on top, then the commit and the 250. */
void
session_msg_commit(struct session *s, const struct buf *pre, bool junk)
{
	struct why why;

	if (((pre != NULL && pre->len > 0) || junk) &&
	    spool_msg_set_prefix(s->msg, pre != NULL ? pre->data : NULL,
	        pre != NULL ? pre->len : 0, junk, &why) == -1) {
		log_warn("event=spool_error sid=%llu id=%s error=%s",
		    (unsigned long long)s->id, spool_msg_id(s->msg),
		    LOG_ESC(why.text));
		session_tx_reset(s);
		session_reply(s, "451 4.3.0 Error: queue file write error, "
		                 "try again later");
		session_arm_timer(s, s->conf->limits.timeout_command);
		return;
	}
	msg_commit(s);
}

/* ---- DATA and BDAT ------------------------------------------------- */

static void data_go(struct session *);

enum session_ret
session_cmd_data(struct session *s, const struct smtp_command *c)
{
	if (c->arg_len != 0)
		return session_reply_error(s, "501 5.5.4 Syntax: DATA");
	if (!s->has_mail)
		return session_reply_error(s,
		    "503 5.5.1 Error: need MAIL command");
	if (s->bdat_used)
		return session_reply_error(s,
		    "503 5.5.1 Error: DATA after BDAT");
	if (s->nrcpts == 0)
		return session_reply_error(s,
		    "503 5.5.1 Error: no valid recipients");
	if (msg_begin(s) == -1) {
		session_reply(s,
		    "452 4.3.1 Insufficient system storage, try again "
		    "later");
		return SESSION_OK;
	}
	session_milter_data(s, data_go, session_tx_reset);
	return SESSION_OK;
}

/* DATA passed the filters: the message follows. */
static void
data_go(struct session *s)
{
	smtp_data_start(s->data, SMTP_DATA_DOT);
	s->phase = PH_DATA;
	session_arm_timer(s, s->conf->limits.timeout_data_total);
	session_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

enum session_ret
session_cmd_bdat(struct session *s, const struct smtp_command *c)
{
	uint64_t size;
	bool last;

	if (!smtp_bdat_parse(c->arg, c->arg_len, &size, &last)) {
		/* We cannot know how many octets follow: lose sync, close. */
		session_reply(s, "501 5.5.4 Syntax: BDAT size [LAST]; closing");
		s->closing = true;
		return SESSION_OK;
	}
	s->phase = PH_BDAT;
	s->bdat_left = size;
	s->bdat_last = last;
	s->bdat_discard = false;
	session_arm_timer(s, s->conf->limits.timeout_data_total);
	if (!s->has_mail || s->nrcpts == 0) {
		s->bdat_discard = true; /* RFC 3030 3: read, then 503 */
		return SESSION_OK;
	}
	if (!s->bdat_used) {
		s->bdat_used = true;
		if (msg_begin(s) == -1)
			s->write_failed = true;
		smtp_data_start(s->data, SMTP_DATA_CHUNK);
	}
	return SESSION_OK;
}

/* All octets of one BDAT chunk are in. */
enum session_ret
session_bdat_chunk_end(struct session *s)
{
	s->phase = PH_CMD;
	session_arm_timer(s, s->conf->limits.timeout_command);
	if (s->bdat_discard) {
		if (!s->has_mail)
			return session_reply_error(s,
			    "503 5.5.1 Error: need MAIL command");
		return session_reply_error(s,
		    "503 5.5.1 Error: no valid recipients");
	}
	msg_store(s);
	if (s->too_big) {
		session_tx_reset(s);
		return session_reply_error(s,
		    "552 5.3.4 Message too big: the limit is %llu bytes",
		    (unsigned long long)s->conf->limits.max_message_size);
	}
	if (s->bdat_last) {
		smtp_data_finish(s->data);
		return session_msg_end(s);
	}
	session_reply(s, "250 2.0.0 %llu octets received",
	    (unsigned long long)s->msg_size);
	return SESSION_OK;
}

/* ---- input -------------------------------------------------------- */

/* Feed a DATA body; true when the final dot was seen. */
bool
session_feed_data(struct session *s, struct evbuffer *in)
{
	struct evbuffer_iovec v;
	enum smtp_data_status st;
	size_t used, n;

	while (evbuffer_peek(in, -1, NULL, &v, 1) > 0) {
		n = v.iov_len < SESSION_CHUNK_MAX ? v.iov_len
						  : SESSION_CHUNK_MAX;
		st = smtp_data_parse(s->data, v.iov_base, n, &used, &s->dbuf);
		evbuffer_drain(in, used);
		msg_store(s);
		if (st == SMTP_DATA_END)
			return true;
	}
	return false;
}

/* Feed BDAT octets; true when the chunk is complete. */
bool
session_feed_bdat(struct session *s, struct evbuffer *in)
{
	struct evbuffer_iovec v;
	size_t used, n;

	while (s->bdat_left > 0 && evbuffer_peek(in, -1, NULL, &v, 1) > 0) {
		n = v.iov_len < SESSION_CHUNK_MAX ? v.iov_len
						  : SESSION_CHUNK_MAX;
		if (n > s->bdat_left)
			n = (size_t)s->bdat_left;
		if (s->bdat_discard || s->too_big) {
			evbuffer_drain(in, n);
			s->bdat_left -= n;
			continue;
		}
		(void)smtp_data_parse(s->data, v.iov_base, n, &used,
		    &s->dbuf);
		evbuffer_drain(in, used);
		s->bdat_left -= used;
		msg_store(s);
	}
	return s->bdat_left == 0;
}
