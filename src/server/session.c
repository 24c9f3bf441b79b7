/* SPDX-License-Identifier: ISC */
/*
 * server/session.c - one inbound SMTP session: glue between a bufferevent
 * and the pure protocol code in smtp/ (RFC 5321 with PIPELINING, SIZE,
 * 8BITMIME, ENHANCEDSTATUSCODES, SMTPUTF8, CHUNKING).
 *
 * A session lives on one loop thread. Blocking steps (directory lookups,
 * the durable commit) run elsewhere; while one is pending the session is
 * `waiting` and unread input stays in the bufferevent (PIPELINING). A
 * pending step holds a reference, so a session whose client vanished is
 * only freed when its last step has come back: results never reach freed
 * memory (the role OpenSMTPD's wait trees play).
 * Trust: every byte from the peer is hostile. Input is capped by the read
 * watermark; lines by smtp_cmd (512 octets, 12288 for AUTH lines);
 * message size by max_message_size.
 */
#include "server/server-private.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "dir/dir.h"
#include "msg/hdr.h"
#include "msg/received.h"
#include "queue/sched.h"
#include "queue/spool.h"
#include "server/access.h"
#include "server/auth.h"
#include "server/limits.h"
#include "server/loop.h"
#include "server/ratelimit.h"
#include "server/tls.h"
#include "server/workers.h"
#include "smtp/addr.h"
#include "smtp/auth.h"
#include "smtp/cmd.h"
#include "smtp/command.h"
#include "smtp/data.h"
#include "smtp/params.h"
#include "util/buf.h"
#include "util/cidr.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define SESSION_AUTH_LINE_MAX 12288 /* incl. CRLF, RFC 4954 4 */

enum phase {
	PH_CMD = 0, /* reading command lines */
	PH_DATA,    /* reading a DATA body up to CRLF.CRLF */
	PH_BDAT,    /* reading the octets of one BDAT chunk */
};

enum session_ret {
	SESSION_OK = 0,
	SESSION_GONE, /* the session was freed: touch nothing */
};

struct session {
	struct session *next, *prev; /* loop_state list */
	uint64_t id;
	struct server *srv;
	struct loop_state *ls;
	const struct conf *conf;
	const struct conf_listener *cl;
	struct bufferevent *bev;
	struct event *timer;
	struct sockaddr_storage sa;
	char addr[INET6_ADDRSTRLEN];
	char ip_key[INET6_ADDRSTRLEN + 4]; /* rate-limit key: addr, or /64 */
	time_t started;

	/* Lifetime: references held by pending steps (workers, commit). */
	unsigned refs;
	bool dead;         /* connection gone; free when refs drops to 0 */
	bool waiting;      /* a step owns the next move; input waits */
	bool closing;      /* close once the output has drained */
	bool in_process;   /* process_input() is on the stack */
	bool greeted;      /* the 220 has been sent */

	struct smtp_cmd *cmd;
	struct smtp_cmd *auth_cmd; /* AUTH lines; made at the first one */
	struct smtp_cmd *cur;      /* parser of the line in progress, or NULL */
	struct smtp_data *data;
	enum phase phase;
	bool esmtp;
	char helo[SESSION_HELO_MAX + 1];
	size_t nerrors;
	size_t ncmds;
	size_t nmsgs;

	/* The transaction (MAIL .. end of data). */
	bool has_mail;
	struct smtp_mail mail;
	char sender[SMTP_PATH_MAX + 1];
	struct spool_rcpt *rcpts;
	struct spool_dsn *dsn; /* parallel to rcpts: NOTIFY, ORCPT */
	size_t nrcpts, rcpts_cap;
	size_t nrcpt_cmds; /* accepted RCPT commands, for max_recipients */
	struct spool_msg *msg;
	struct buf dbuf;
	struct msg_hdr_scan hdr;
	uint64_t msg_size;
	bool too_big;
	bool write_failed;
	struct why write_why;
	bool bdat_used;    /* BDAT started; DATA now out of sequence */
	bool bdat_last;
	bool bdat_discard; /* chunk read only to stay in sync */
	uint64_t bdat_left;
	struct timespec data_end; /* for the commit latency log */

	/* TLS (RFC 3207, RFC 8314). */
	bool tls;          /* encrypted from here on */
	SSL *tls_next;     /* STARTTLS answered: switch once 220 is out */
	char tls_desc[TLS_DESC_MAX]; /* "" until the handshake is done */
	/* AUTH (RFC 4954) and relaying. */
	bool relay_ok;     /* client in relay_networks */
	bool in_auth;      /* lines are AUTH responses, not commands */
	bool authed;
	char auth_user[DIR_ADDR_MAX]; /* normalized, when authed */
	struct smtp_auth auth;
	struct event *delay; /* the reply to a failed AUTH waits here */
	size_t auth_fails;   /* the n of the pending delayed reply */
	/* Submission: hold the header to add Date/Message-ID (RFC 6409 8). */
	bool hold_hdr;
	struct buf hbuf;
	/* The user crossed this hourly limit: queue the message held. */
	const char *hold_limit;
};

/* A RCPT lookup in flight on a directory worker. */
struct rcpt_job {
	struct session *s;
	struct smtp_rcpt rcpt;
	char address[SMTP_LOCAL_MAX + SMTP_DOMAIN_MAX + 2]; /* normalised */
	enum dir_resolve_status st;
	struct dir_targets targets;
	struct why why;
};

struct commit_job {
	struct session *s;
	char id[SPOOL_ID_MAX];
	int ok;
	struct why why;
	size_t nrcpts;
	uint64_t size;
	const char *hold_limit; /* held (a limit's name), or NULL */
};

static enum session_ret process_input(struct session *);
static void session_close(struct session *);
static void session_setup_bev(struct session *);
static void tx_reset(struct session *);

/* ---- output ------------------------------------------------------- */

static void
reply(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
reply(struct session *s, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(line) - 2)
		n = (int)sizeof(line) - 3;
	line[n] = '\0';
	if (log_is_verbose())
		log_debug("event=reply sid=%llu line=\"%s\"",
		    (unsigned long long)s->id, line);
	evbuffer_add(out, line, (size_t)n);
	evbuffer_add(out, "\r\n", 2);
}

/* A 5xx/4xx the client caused: counted towards max_errors. */
static enum session_ret
reply_error(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum session_ret
reply_error(struct session *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	reply(s, "%s", line);
	log_info("event=reject sid=%llu client=%s reply=\"%.200s\"",
	    (unsigned long long)s->id, s->addr, line);
	if (++s->nerrors >= s->conf->limits.max_errors) {
		reply(s, "421 4.7.0 %s Too many errors, closing connection",
		    s->conf->hostname);
		log_info("event=too_many_errors sid=%llu client=%s errors=%zu",
		    (unsigned long long)s->id, s->addr, s->nerrors);
		s->closing = true;
	}
	return SESSION_OK;
}

/* ---- timers ------------------------------------------------------- */

static void
arm_timer(struct session *s, unsigned seconds)
{
	struct timeval tv = { .tv_sec = seconds, .tv_usec = 0 };

	evtimer_add(s->timer, &tv);
}

static void
greet(struct session *s)
{
	s->greeted = true;
	reply(s, "220 %s ESMTP tern", s->conf->hostname);
	arm_timer(s, s->conf->limits.timeout_command);
}

/* Stop reading; close once the last reply has left, or after a while. */
static void
close_after_reply(struct session *s)
{
	s->closing = true;
	bufferevent_disable(s->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
		session_close(s);
		return;
	}
	arm_timer(s, SESSION_DRAIN_TIMEOUT);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	if (s->closing) { /* a client that never reads our last reply */
		session_close(s);
		return;
	}
	if (!s->greeted) { /* the greet_delay is over and it kept quiet */
		greet(s);
		return;
	}
	if (s->waiting) { /* our own step is slow: not the client's fault */
		arm_timer(s, s->conf->limits.timeout_command);
		return;
	}
	log_info("event=timeout sid=%llu client=%s phase=%d",
	    (unsigned long long)s->id, s->addr, (int)s->phase);
	reply(s, "421 4.4.2 %s Error: timeout exceeded", s->conf->hostname);
	close_after_reply(s);
}

/* ---- lifetime ----------------------------------------------------- */

static void
session_unref(struct session *s)
{
	struct loop_state *ls;

	ASSERT(s->refs > 0);
	if (--s->refs > 0 || !s->dead)
		return;
	ls = s->ls;
	tx_reset(s);
	smtp_cmd_free(s->cmd);
	smtp_cmd_free(s->auth_cmd);
	smtp_data_free(s->data);
	buf_reset(&s->dbuf);
	buf_reset(&s->hbuf);
	free(s->rcpts);
	free(s->dsn);
	if (s->delay != NULL)
		event_free(s->delay);
	SSL_free(s->tls_next);
	smtp_auth_wipe(&s->auth);
	free(s);
	/* A stopping loop exits once no session is left, pending or not. */
	if (--ls->nalloc == 0 && ls->stopping)
		loop_exit(ls->loop);
}

/* Close the connection; the struct lives until pending steps return. */
static void
session_close(struct session *s)
{
	struct loop_state *ls = s->ls;

	if (s->dead)
		return;
	s->dead = true;
	log_info("event=disconnect sid=%llu client=%s cmds=%zu msgs=%zu "
		 "errors=%zu duration=%lds",
	    (unsigned long long)s->id, s->addr, s->ncmds, s->nmsgs,
	    s->nerrors, (long)(time(NULL) - s->started));
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		ls->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	ls->nsessions--;
	event_free(s->timer);
	s->timer = NULL;
	/* A delayed AUTH reply has no one to go to: drop it and its ref. */
	if (s->delay != NULL && evtimer_pending(s->delay, NULL)) {
		evtimer_del(s->delay);
		ASSERT(s->refs > 1);
		s->refs--;
	}
	if (s->tls && s->tls_desc[0] != '\0') {
		/* close_notify, best effort: the socket is non-blocking. */
		(void)SSL_shutdown(bufferevent_openssl_get_ssl(s->bev));
		ERR_clear_error();
	}
	bufferevent_free(s->bev);
	s->bev = NULL;
	server_conn_release(s->srv, (struct sockaddr *)&s->sa);
	session_unref(s);
}

/*
 * A step that held a reference (worker, commit, delay) has come back:
 * read the input that waited for it, then drop the reference, which may
 * free a session whose client has gone.
 */
static void
step_done(struct session *s)
{
	if (!s->dead && !s->in_process)
		(void)process_input(s);
	session_unref(s);
}

/* ---- the transaction ---------------------------------------------- */

static void
tx_reset(struct session *s)
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

static void
add_rcpt(struct session *s, const char *addr, const char *orcpt,
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
	s->dsn[s->nrcpts].notify = r->notify;
	s->dsn[s->nrcpts].orcpt = r->orcpt[0] ? xstrdup(r->orcpt) : NULL;
	s->nrcpts++;
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

	memset(&env, 0, sizeof(env));
	env.arrival = time(NULL);
	env.sender = s->sender;
	env.helo = s->helo;
	env.client_addr = s->addr;
	env.client_name = (char *)"unknown";
	env.smtputf8 = s->mail.smtputf8;
	env.eightbit = s->mail.body == SMTP_BODY_8BITMIME;
	env.rcpts = s->rcpts;
	env.nrcpts = s->nrcpts;
	env.dsn = s->dsn;
	env.dsn_ret = s->mail.ret;
	env.envid = s->mail.envid;
	/* In the envelope, so a crash after the 250 cannot release it. */
	env.held = s->hold_limit != NULL;
	s->msg = spool_msg_new(s->srv->spool, &env, &why);
	if (s->msg == NULL) {
		log_warn("event=spool_error sid=%llu error=\"%s\"",
		    (unsigned long long)s->id, why.text);
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
	s->hold_hdr = s->cl->mode == CONF_MODE_SUBMISSION;
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
		log_warn("event=spool_error sid=%llu id=%s error=\"%s\"",
		    (unsigned long long)s->id, spool_msg_id(s->msg),
		    s->write_why.text);
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
	    s->msg != NULL) {
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
	} else {
		at = s->hbuf.len;
	}
	store_bytes(s, s->hbuf.data, at);
	store_bytes(s, add, (size_t)n);
	store_bytes(s, s->hbuf.data + at, s->hbuf.len - at);
	buf_clear(&s->hbuf);
}

/* Store decoded bytes from dbuf, enforcing the size limit. */
static void
msg_store(struct session *s)
{
	if (s->dbuf.len == 0)
		return;
	msg_hdr_scan_feed(&s->hdr, s->dbuf.data, s->dbuf.len);
	s->msg_size += s->dbuf.len;
	if (s->msg_size > s->conf->limits.max_message_size)
		s->too_big = true;
	if (s->hold_hdr &&
	    buf_append(&s->hbuf, s->dbuf.data, s->dbuf.len) == 0) {
		buf_clear(&s->dbuf);
		if (s->hdr.in_body)
			hdr_flush(s, false);
		return;
	}
	hdr_flush(s, false); /* no room to hold more: as it is */
	store_bytes(s, s->dbuf.data, s->dbuf.len);
	buf_clear(&s->dbuf);
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
			reply(s, "250 2.0.0 Ok: queued as %s", j->id);
		} else {
			if (j->why.sys_errno == ENOSPC ||
			    j->why.sys_errno == EDQUOT)
				reply(s, "452 4.3.1 Insufficient system "
					 "storage, try again later");
			else
				reply(s, "451 4.3.0 Error: queue file write "
					 "error, try again later");
		}
		arm_timer(s, s->conf->limits.timeout_command);
	}
	if (j->ok)
		log_info("event=queued id=%s sid=%llu client=%s from=<%s> "
		         "nrcpt=%zu size=%llu commit_ms=%.2f%s%s",
		    j->id, (unsigned long long)s->id, s->addr, s->sender,
		    j->nrcpts, (unsigned long long)j->size, ms,
		    j->hold_limit != NULL ? " held=" : "",
		    j->hold_limit != NULL ? j->hold_limit : "");
	if (!j->ok)
		log_warn("event=commit_failed id=%s sid=%llu error=\"%s\"",
		    j->id, (unsigned long long)s->id, j->why.text);
	if (!s->dead)
		tx_reset(s);
	free(j);
	step_done(s);
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
	if (ok && j->hold_limit == NULL)
		sched_submit(j->s->srv->sched, id);
	loop_post(j->s->ls->loop, commit_done_loop, j);
}

/* The message is complete: refuse it or make it durable, then reply. */
static enum session_ret
msg_end(struct session *s)
{
	unsigned flags = smtp_data_flags(s->data);
	struct commit_job *j;

	msg_store(s);
	hdr_flush(s, true);
	clock_gettime(CLOCK_MONOTONIC, &s->data_end);
	if (flags & (SMTP_DATA_F_BARE_CR | SMTP_DATA_F_BARE_LF)) {
		tx_reset(s);
		return reply_error(s,
		    "550 5.6.11 Message refused: bare CR or LF in the data "
		    "(RFC 5321 2.3.8); send CRLF line endings");
	}
	if (s->too_big) {
		tx_reset(s);
		return reply_error(s,
		    "552 5.3.4 Message too big: the limit is %llu bytes",
		    (unsigned long long)s->conf->limits.max_message_size);
	}
	if (s->hdr.received > s->conf->limits.max_received) {
		tx_reset(s);
		return reply_error(s,
		    "554 5.4.6 Too many Received headers (%zu): mail loop",
		    s->hdr.received);
	}
	if (s->write_failed || s->msg == NULL) {
		tx_reset(s);
		reply(s, "452 4.3.1 Insufficient system storage, try again "
			 "later");
		return SESSION_OK;
	}
	j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->nrcpts = s->nrcpts;
	j->size = s->msg_size;
	j->hold_limit = s->hold_limit;
	s->refs++;
	s->waiting = true;
	spool_msg_commit(s->msg, commit_done, j);
	s->msg = NULL; /* the spool owns it now */
	return SESSION_OK;
}

/* ---- rate limits (issue 3) ---------------------------------------- */

/* The rate limiters' clock: monotonic milliseconds. */
static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * The per-IP rate-limit key: the address, but an IPv6 client's /64, as
 * one host usually has all of it and a new address would cost nothing.
 */
static void
ip_key(const struct sockaddr *sa, const char *addr, char *dst, size_t dstsz)
{
	const struct sockaddr_in6 *s6 = (const void *)sa;
	struct in6_addr net;
	char buf[INET6_ADDRSTRLEN];

	if (sa->sa_family != AF_INET6 || IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		(void)strlcpy(dst, addr, dstsz);
		return;
	}
	memcpy(&net, &s6->sin6_addr, sizeof(net));
	memset(&net.s6_addr[8], 0, 8);
	(void)inet_ntop(AF_INET6, &net, buf, sizeof(buf));
	(void)snprintf(dst, dstsz, "%s/64", buf);
}

/* ip_messages_per_minute: may this client start one more message? */
static bool
ip_msg_ok(struct session *s)
{
	if (s->srv->rl_ip_msgs == NULL ||
	    ratelimit_take(s->srv->rl_ip_msgs, s->ip_key, 1, now_ms(), NULL) ==
	        RATELIMIT_OK)
		return true;
	log_info("event=rate_limited sid=%llu client=%s "
	         "limit=ip_messages_per_minute max=%zu",
	    (unsigned long long)s->id, s->addr,
	    s->conf->limits.ip_messages_per_minute);
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
	char esc[DIR_ADDR_MAX * 2];

	if (!s->authed || rl == NULL)
		return true;
	st = ratelimit_take(rl, s->auth_user, 1, now_ms(), NULL);
	if (st == RATELIMIT_OK)
		return true;
	log_escs(esc, sizeof(esc), s->auth_user);
	if (st == RATELIMIT_OVER_FIRST)
		log_warn("event=user_limit sid=%llu client=%s user=%s "
		         "limit=%s max=%zu action=%s msg=\"this account "
		         "sends more than usual; check it is not "
		         "compromised%s\"",
		    (unsigned long long)s->id, s->addr, esc, name, max,
		    hold ? "hold" : "defer",
		    hold ? ", then tern queue release its held mail" : "");
	else
		log_info("event=rate_limited sid=%llu client=%s user=%s "
		         "limit=%s max=%zu action=%s",
		    (unsigned long long)s->id, s->addr, esc, name, max,
		    hold ? "hold" : "defer");
	if (hold && s->hold_limit == NULL)
		s->hold_limit = name;
	return hold;
}

/* ---- commands ----------------------------------------------------- */

static bool
may_auth(const struct session *s)
{
	return s->cl->mode == CONF_MODE_SUBMISSION && s->tls;
}

static enum session_ret
cmd_helo(struct session *s, const struct smtp_command *c)
{
	bool ehlo = c->verb == SMTP_VERB_EHLO;

	if (c->arg_len == 0 || c->arg_len > SESSION_HELO_MAX ||
	    !str_is_clean(c->arg, c->arg_len))
		return reply_error(s, "501 5.5.4 Syntax: %s hostname",
		    ehlo ? "EHLO" : "HELO");
	tx_reset(s);
	memcpy(s->helo, c->arg, c->arg_len);
	s->helo[c->arg_len] = '\0';
	s->esmtp = ehlo;
	if (!ehlo) {
		reply(s, "250 %s", s->conf->hostname);
		return SESSION_OK;
	}
	reply(s, "250-%s", s->conf->hostname);
	reply(s, "250-PIPELINING");
	reply(s, "250-SIZE %llu",
	    (unsigned long long)s->conf->limits.max_message_size);
	reply(s, "250-8BITMIME");
	reply(s, "250-ENHANCEDSTATUSCODES");
	reply(s, "250-DSN");
	reply(s, "250-SMTPUTF8");
	if (s->cl->tls == CONF_TLS_STARTTLS && !s->tls)
		reply(s, "250-STARTTLS");
	/* RFC 4954 4, RFC 8314: passwords only over TLS. */
	if (may_auth(s))
		reply(s, "250-AUTH PLAIN LOGIN");
	reply(s, "250 CHUNKING");
	return SESSION_OK;
}

static enum session_ret sender_check(struct session *);

static enum session_ret
cmd_mail(struct session *s, const struct smtp_command *c)
{
	enum smtp_arg_status st;
	const char *why = "";
	unsigned ext = s->esmtp ? SMTP_EXT_ESMTP | SMTP_EXT_DSN : 0;

	if (s->helo[0] == '\0')
		return reply_error(s, "503 5.5.1 Error: send HELO/EHLO first");
	if (s->has_mail)
		return reply_error(s, "503 5.5.1 Error: nested MAIL command");
	/* RFC 6409 4.3: submission is for known clients only. */
	if (s->cl->mode == CONF_MODE_SUBMISSION && !s->authed &&
	    !s->relay_ok)
		return reply_error(s, "530 5.7.0 Authentication required%s",
		    s->tls ? "" : ": issue STARTTLS, then AUTH");
	if (may_auth(s))
		ext |= SMTP_EXT_AUTH; /* RFC 4954 5: AUTH= is accepted */
	memset(&s->mail, 0, sizeof(s->mail));
	st = smtp_mail_parse(c->arg, c->arg_len, ext, &s->mail, &why);
	if (st != SMTP_ARG_OK)
		return reply_error(s, "%s%s%s", smtp_arg_reply(st, false),
		    why && *why ? ": " : "", why ? why : "");
	if (s->mail.has_size &&
	    s->mail.size > s->conf->limits.max_message_size)
		return reply_error(s,
		    "552 5.3.4 Message size exceeds fixed limit of %llu bytes",
		    (unsigned long long)s->conf->limits.max_message_size);
	if (smtp_addr_format(&s->mail.from, s->sender, sizeof(s->sender)) ==
	    -1)
		return reply_error(s, "501 5.1.7 Bad sender address syntax");
	s->hold_limit = NULL; /* no transaction yet: nothing to hold */
	if (!ip_msg_ok(s)) {
		reply(s,
		    "450 4.7.1 Too many messages from your address: the "
		    "limit is %zu per minute (ip_messages_per_minute), "
		    "try again later",
		    s->conf->limits.ip_messages_per_minute);
		return SESSION_OK;
	}
	if (!user_limit_ok(s, s->srv->rl_user_msgs, "user_messages_per_hour",
	        s->conf->limits.user_messages_per_hour)) {
		reply(s,
		    "450 4.7.1 Too many messages from user %s: the limit "
		    "is %zu per hour (user_messages_per_hour), try again "
		    "later",
		    s->auth_user, s->conf->limits.user_messages_per_hour);
		return SESSION_OK;
	}
	if (s->authed && s->conf->sender_ownership == CONF_SENDER_OWN &&
	    !s->mail.from.is_null)
		return sender_check(s);
	s->has_mail = true;
	reply(s, "250 2.1.0 Ok");
	return SESSION_OK;
}

static bool
is_local_cb(void *arg, const char *domain)
{
	return conf_is_local_domain(arg, domain);
}

/* Worker thread: who gets mail sent to this address? */
static void
rcpt_lookup(void *ctx, void *arg)
{
	struct rcpt_job *j = arg;
	const struct conf *conf = j->s->conf;
	struct dir *d = ctx;

	if (d == NULL) {
		j->st = DIR_TEMPFAIL;
		why_set(&j->why, WHY_TEMP, 0, "user database unavailable");
		return;
	}
	j->st = dir_resolve(d, j->address, is_local_cb, (void *)conf,
	    &j->targets, &j->why);
	/* RFC 5321 4.5.1: postmaster must always be accepted. */
	if (j->st == DIR_NO_SUCH_USER &&
	    ascii_ncasecmp(j->address, "postmaster@", 11) == 0) {
		if (conf->postmaster != NULL &&
		    ascii_casecmp(conf->postmaster, j->address) != 0)
			j->st = dir_resolve(d, conf->postmaster, is_local_cb,
			    (void *)conf, &j->targets, &j->why);
		if (j->st != DIR_RESOLVED) {
			dir_targets_free(&j->targets);
			j->targets.addrs = xcalloc(1, sizeof(char *));
			j->targets.addrs[0] = xstrdup(j->address);
			j->targets.n = 1;
			j->st = DIR_RESOLVED;
		}
	}
}

static void
rcpt_done(struct loop *loop, void *arg)
{
	struct rcpt_job *j = arg;
	struct session *s = j->s;
	char esc[300];
	size_t i;

	(void)loop;
	if (s->dead)
		goto out;
	s->waiting = false;
	log_escs(esc, sizeof(esc), j->address);
	switch (j->st) {
	case DIR_RESOLVED:
		for (i = 0; i < j->targets.n; i++)
			add_rcpt(s, j->targets.addrs[i], j->address, &j->rcpt);
		s->nrcpt_cmds++;
		log_info("event=rcpt sid=%llu client=%s from=<%s> to=%s "
			 "targets=%zu",
		    (unsigned long long)s->id, s->addr, s->sender, esc,
		    j->targets.n);
		reply(s, "250 2.1.5 Ok");
		break;
	case DIR_NO_SUCH_USER:
		reply_error(s,
		    "550 5.1.1 <%s>: Recipient address rejected: "
		    "no such user here",
		    j->address);
		break;
	case DIR_ALIAS_LOOP:
		log_warn("event=alias_loop sid=%llu to=%s error=\"%s\"",
		    (unsigned long long)s->id, esc, j->why.text);
		reply_error(s,
		    "550 5.4.6 <%s>: Recipient address rejected: alias loop; "
		    "please tell the postmaster",
		    j->address);
		break;
	case DIR_TEMPFAIL:
	default:
		log_warn("event=lookup_failed sid=%llu to=%s error=\"%s\"",
		    (unsigned long long)s->id, esc, j->why.text);
		reply(s, "451 4.3.0 <%s>: Temporary lookup failure, try "
			 "again later",
		    j->address);
		break;
	}
out:
	dir_targets_free(&j->targets);
	free(j);
	step_done(s);
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
	struct dir *d = ctx;
	size_t i;

	if (d == NULL) {
		j->tempfail = true;
		why_set(&j->why, WHY_TEMP, 0, "user database unavailable");
		return;
	}
	switch (dir_resolve(d, j->address, is_local_cb, (void *)j->s->conf,
	    &t, &j->why)) {
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
	char esc[300];

	if (owned) {
		s->has_mail = true;
		reply(s, "250 2.1.0 Ok");
		return;
	}
	if (tempfail) {
		reply(s, "451 4.3.0 <%s>: Temporary lookup failure, try again "
			 "later",
		    address);
		return;
	}
	log_info("event=sender_rejected sid=%llu client=%s user=%s from=%s",
	    (unsigned long long)s->id, s->addr, s->auth_user,
	    log_escs(esc, sizeof(esc), address));
	reply_error(s,
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
			log_warn("event=lookup_failed sid=%llu error=\"%s\"",
			    (unsigned long long)s->id, j->why.text);
		mail_reply(s, j->address, j->owned, j->tempfail);
	}
	free(j);
	step_done(s);
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
 * Submission relays for authenticated and relay_networks clients. Any
 * listener accepts a domain that has its own [routes] entry: that is a
 * domain we relay for (a backup MX, an internal host; Postfix's
 * relay_domains with a transport). The "*" smarthost route opens nothing.
 */
static bool
may_relay(const struct session *s, const struct smtp_addr *to)
{
	const struct conf_route *r;

	if (s->cl->mode == CONF_MODE_SUBMISSION && (s->authed || s->relay_ok))
		return true;
	if (to->literal)
		return false;
	r = conf_route_find(s->conf, to->domain);
	return r != NULL && strcmp(r->domain, "*") != 0;
}

/* A recipient elsewhere, accepted for relaying: queued as given. */
static enum session_ret
relay_rcpt(struct session *s, const char *addr, const struct smtp_rcpt *r)
{
	char esc[300];

	add_rcpt(s, addr, addr, r);
	s->nrcpt_cmds++;
	log_info("event=rcpt sid=%llu client=%s from=<%s> to=%s relay=%s",
	    (unsigned long long)s->id, s->addr, s->sender,
	    log_escs(esc, sizeof(esc), addr),
	    s->authed ? "auth" : s->relay_ok ? "network" : "route");
	reply(s, "250 2.1.5 Ok");
	return SESSION_OK;
}

static enum session_ret
cmd_rcpt(struct session *s, const struct smtp_command *c)
{
	enum smtp_arg_status st;
	struct rcpt_job *j;
	const char *why = "";
	unsigned ext = s->esmtp ? SMTP_EXT_ESMTP | SMTP_EXT_DSN : 0;

	if (!s->has_mail)
		return reply_error(s, "503 5.5.1 Error: need MAIL command");
	if (s->bdat_used)
		return reply_error(s, "503 5.5.1 Error: RCPT after BDAT");
	if (s->mail.smtputf8)
		ext |= SMTP_EXT_SMTPUTF8;
	j = xcalloc(1, sizeof(*j));
	st = smtp_rcpt_parse(c->arg, c->arg_len, ext, &j->rcpt, &why);
	if (st != SMTP_ARG_OK) {
		free(j);
		return reply_error(s, "%s%s%s", smtp_arg_reply(st, true),
		    why && *why ? ": " : "", why ? why : "");
	}
	if (s->nrcpt_cmds >= s->conf->limits.max_recipients) {
		free(j);
		reply(s, "452 4.5.3 Error: too many recipients (the limit "
			 "is %zu per message)",
		    s->conf->limits.max_recipients);
		return SESSION_OK;
	}
	if (!user_limit_ok(s, s->srv->rl_user_rcpts, "user_recipients_per_hour",
	        s->conf->limits.user_recipients_per_hour)) {
		free(j);
		reply(s,
		    "452 4.5.3 Too many recipients from user %s: the "
		    "limit is %zu per hour (user_recipients_per_hour), "
		    "try again later",
		    s->auth_user, s->conf->limits.user_recipients_per_hour);
		return SESSION_OK;
	}
	if (j->rcpt.to.is_postmaster_bare) {
		normalise(&j->rcpt.to, s->conf->domains[0], j->address,
		    sizeof(j->address));
	} else if (!j->rcpt.to.literal &&
	    conf_is_local_domain(s->conf, j->rcpt.to.domain)) {
		normalise(&j->rcpt.to, NULL, j->address, sizeof(j->address));
	} else {
		char a[SMTP_PATH_MAX + 1];

		(void)smtp_addr_format(&j->rcpt.to, a, sizeof(a));
		if (may_relay(s, &j->rcpt.to)) {
			enum session_ret ret = relay_rcpt(s, a, &j->rcpt);

			free(j);
			return ret;
		}
		free(j);
		return reply_error(s,
		    "554 5.7.1 <%s>: Relay access denied: this server only "
		    "accepts mail for its own domains",
		    a);
	}
	j->s = s;
	s->refs++;
	s->waiting = true;
	workers_submit(s->srv->dirw, rcpt_lookup, s->ls->loop, rcpt_done, j);
	return SESSION_OK;
}

static enum session_ret
cmd_data(struct session *s, const struct smtp_command *c)
{
	if (c->arg_len != 0)
		return reply_error(s, "501 5.5.4 Syntax: DATA");
	if (!s->has_mail)
		return reply_error(s, "503 5.5.1 Error: need MAIL command");
	if (s->bdat_used)
		return reply_error(s, "503 5.5.1 Error: DATA after BDAT");
	if (s->nrcpts == 0)
		return reply_error(s, "503 5.5.1 Error: no valid recipients");
	if (msg_begin(s) == -1) {
		reply(s, "452 4.3.1 Insufficient system storage, try again "
			 "later");
		return SESSION_OK;
	}
	smtp_data_start(s->data, SMTP_DATA_DOT);
	s->phase = PH_DATA;
	arm_timer(s, s->conf->limits.timeout_data_total);
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
	return SESSION_OK;
}

static enum session_ret
cmd_bdat(struct session *s, const struct smtp_command *c)
{
	uint64_t size;
	bool last;

	if (!smtp_bdat_parse(c->arg, c->arg_len, &size, &last)) {
		/* We cannot know how many octets follow: lose sync, close. */
		reply(s, "501 5.5.4 Syntax: BDAT size [LAST]; closing");
		s->closing = true;
		return SESSION_OK;
	}
	s->phase = PH_BDAT;
	s->bdat_left = size;
	s->bdat_last = last;
	s->bdat_discard = false;
	arm_timer(s, s->conf->limits.timeout_data_total);
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
static enum session_ret
bdat_chunk_end(struct session *s)
{
	s->phase = PH_CMD;
	arm_timer(s, s->conf->limits.timeout_command);
	if (s->bdat_discard) {
		if (!s->has_mail)
			return reply_error(s,
			    "503 5.5.1 Error: need MAIL command");
		return reply_error(s, "503 5.5.1 Error: no valid recipients");
	}
	msg_store(s);
	if (s->too_big) {
		tx_reset(s);
		return reply_error(s,
		    "552 5.3.4 Message too big: the limit is %llu bytes",
		    (unsigned long long)s->conf->limits.max_message_size);
	}
	if (s->bdat_last) {
		smtp_data_finish(s->data);
		return msg_end(s);
	}
	reply(s, "250 2.0.0 %llu octets received",
	    (unsigned long long)s->msg_size);
	return SESSION_OK;
}

static enum session_ret
cmd_rset(struct session *s, const struct smtp_command *c)
{
	(void)c;
	tx_reset(s);
	reply(s, "250 2.0.0 Ok");
	return SESSION_OK;
}

static enum session_ret
cmd_noop(struct session *s, const struct smtp_command *c)
{
	(void)c;
	reply(s, "250 2.0.0 Ok");
	return SESSION_OK;
}

static enum session_ret
cmd_quit(struct session *s, const struct smtp_command *c)
{
	(void)c;
	reply(s, "221 2.0.0 Bye");
	s->closing = true;
	return SESSION_OK;
}

static enum session_ret
cmd_vrfy(struct session *s, const struct smtp_command *c)
{
	(void)c;
	/* RFC 5321 3.5.3: 252 discloses nothing about who exists. */
	reply(s, "252 2.5.0 Cannot VRFY user, but will accept message and "
		 "attempt delivery");
	return SESSION_OK;
}

static enum session_ret
cmd_expn(struct session *s, const struct smtp_command *c)
{
	(void)c;
	return reply_error(s, "502 5.5.1 EXPN not available");
}

static enum session_ret
cmd_help(struct session *s, const struct smtp_command *c)
{
	(void)c;
	reply(s, "214-2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET "
		 "NOOP QUIT VRFY HELP");
	reply(s, "214 2.0.0 See RFC 5321; tern documentation in docs/");
	return SESSION_OK;
}

/* ---- STARTTLS (RFC 3207) ------------------------------------------ */

static enum session_ret
cmd_starttls(struct session *s, const struct smtp_command *c)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t junk;

	if (s->cl->tls != CONF_TLS_STARTTLS && !s->tls)
		return reply_error(s, "502 5.5.1 STARTTLS not available on "
				      "this listener");
	if (s->tls)
		return reply_error(s, "503 5.5.1 Error: TLS already active");
	if (c->arg_len != 0)
		return reply_error(s, "501 5.5.4 Syntax: STARTTLS");
	if ((s->tls_next = tls_ssl_new(s->srv->tls)) == NULL) {
		reply(s, "454 4.7.0 TLS not available due to temporary "
			 "reason");
		return SESSION_OK;
	}
	/*
	 * CVE-2011-0411: whatever the client sent after STARTTLS came in
	 * plaintext and must not be read as if it came over TLS.
	 */
	junk = evbuffer_get_length(in);
	if (junk > 0) {
		log_info("event=starttls_pipelined sid=%llu client=%s "
			 "discarded=%zu",
		    (unsigned long long)s->id, s->addr, junk);
		evbuffer_drain(in, junk);
	}
	smtp_cmd_reset(s->cmd);
	bufferevent_disable(s->bev, EV_READ);
	reply(s, "220 2.0.0 Ready to start TLS");
	return SESSION_OK; /* on_write switches once the 220 is out */
}

/*
 * The 220 has left: put an SSL bufferevent on the same socket. The plain
 * one read nothing since STARTTLS, so the next bytes the kernel holds
 * are the client's ClientHello. RFC 3207 4.2: forget everything learnt
 * before TLS, EHLO included.
 */
static void
start_tls(struct session *s)
{
	struct event_base *base = bufferevent_get_base(s->bev);
	evutil_socket_t fd = bufferevent_getfd(s->bev);
	SSL *ssl = s->tls_next;

	s->tls_next = NULL;
	/* Free the plain bufferevent without closing the socket. */
	(void)bufferevent_setfd(s->bev, -1);
	bufferevent_free(s->bev);
	s->bev = bufferevent_openssl_socket_new(base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL)
		PANIC("bufferevent_openssl_socket_new failed");
	session_setup_bev(s);
	s->tls = true;
	tx_reset(s);
	s->helo[0] = '\0';
	s->esmtp = false;
	s->authed = false;
	s->auth_user[0] = '\0';
}

/* ---- AUTH (RFC 4954) ---------------------------------------------- */

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
	reply_error(s, "535 5.7.8 Authentication credentials invalid");
	arm_timer(s, s->conf->limits.timeout_command);
	step_done(s);
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
		reply(s, "235 2.7.0 Authentication successful");
	} else if (j->ok == -1) {
		log_warn("event=auth_error sid=%llu client=%s error=\"%s\"",
		    (unsigned long long)s->id, s->addr, j->why.text);
		reply(s, "454 4.7.0 Temporary authentication failure, try "
			 "again later");
	} else {
		n = authfail_record(s->srv->authf, s->addr, j->user,
		    time(NULL));
		log_auth_failed(s, j->user, j->mech, "bad_credentials", n);
		if (authfail_is_lockout(s->srv->authf, n)) {
			reply(s, "421 4.7.0 %s Too many failed authentication "
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
			reply_error(s,
			    "535 5.7.8 Authentication credentials invalid");
		}
	}
out:
	explicit_bzero(j, sizeof(*j));
	free(j);
	step_done(s); /* with a delay armed, waiting keeps the input */
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
			return reply_error(s,
			    "454 4.7.0 Too many failed authentication "
			    "attempts; try again in %u seconds",
			    wait);
		return reply_error(s,
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
		reply(s, "334 %s", ch);
		return SESSION_OK;
	case SMTP_AUTH_DONE:
		s->in_auth = false;
		return auth_check(s);
	default:
		s->in_auth = false;
		return reply_error(s, "%s", smtp_auth_reply(st));
	}
}

static enum session_ret
cmd_auth(struct session *s, const struct smtp_command *c)
{
	enum smtp_auth_status st;
	const char *ch = NULL;
	unsigned wait;

	if (s->cl->mode != CONF_MODE_SUBMISSION)
		return reply_error(s, "502 5.5.1 AUTH not available on this "
				      "listener");
	if (!s->esmtp)
		return reply_error(s, "503 5.5.1 Error: send EHLO first");
	if (!s->tls)
		return reply_error(s, "538 5.7.11 Encryption required for "
				      "requested authentication mechanism; "
				      "issue STARTTLS first");
	if (s->authed)
		return reply_error(s, "503 5.5.1 Error: already "
				      "authenticated");
	if (s->has_mail)
		return reply_error(s, "503 5.5.1 Error: AUTH not allowed "
				      "during a mail transaction");
	wait = authfail_locked(s->srv->authf, s->addr, NULL, time(NULL));
	if (wait > 0)
		return reply_error(s,
		    "454 4.7.0 Too many failed authentication attempts; try "
		    "again in %u seconds",
		    wait);
	st = smtp_auth_begin(&s->auth, c->arg, c->arg_len, &ch);
	return auth_status(s, st, ch);
}

/* A line during the exchange: a response, never a command. */
static enum session_ret
auth_line(struct session *s, const char *line, size_t len)
{
	enum smtp_auth_status st;
	const char *ch = NULL;

	st = smtp_auth_step(&s->auth, line, len, &ch);
	return auth_status(s, st, ch);
}

static enum session_ret
cmd_unknown(struct session *s, const struct smtp_command *c)
{
	(void)c;
	return reply_error(s, "500 5.5.1 Error: command not recognized");
}

/* The one dispatch table, indexed by verb (STYLE 2.1). */
static enum session_ret (*const handlers[])(struct session *,
    const struct smtp_command *) = {
	[SMTP_VERB_UNKNOWN] = cmd_unknown,
	[SMTP_VERB_HELO] = cmd_helo,
	[SMTP_VERB_EHLO] = cmd_helo,
	[SMTP_VERB_MAIL] = cmd_mail,
	[SMTP_VERB_RCPT] = cmd_rcpt,
	[SMTP_VERB_DATA] = cmd_data,
	[SMTP_VERB_BDAT] = cmd_bdat,
	[SMTP_VERB_RSET] = cmd_rset,
	[SMTP_VERB_NOOP] = cmd_noop,
	[SMTP_VERB_QUIT] = cmd_quit,
	[SMTP_VERB_VRFY] = cmd_vrfy,
	[SMTP_VERB_EXPN] = cmd_expn,
	[SMTP_VERB_HELP] = cmd_help,
	[SMTP_VERB_STARTTLS] = cmd_starttls,
	[SMTP_VERB_AUTH] = cmd_auth,
};

/* long_line: read with the AUTH limit (RFC 4954 4) instead of 512. */
static enum session_ret
on_line(struct session *s, enum smtp_cmd_status st, const char *line,
    size_t len, bool long_line)
{
	struct smtp_command c;
	char esc[160];

	s->ncmds++;
	arm_timer(s, s->conf->limits.timeout_command);
	if (s->in_auth && st != SMTP_CMD_LINE) { /* the exchange is over */
		s->in_auth = false;
		smtp_auth_wipe(&s->auth);
	}
	if (s->in_auth) /* never logged: it holds credentials */
		return auth_line(s, line, len);
	if (st == SMTP_CMD_TOO_LONG && long_line)
		return reply_error(s,
		    "500 5.5.6 Error: authentication exchange line too long "
		    "(the limit is %d octets)",
		    SESSION_AUTH_LINE_MAX);
	if (st == SMTP_CMD_TOO_LONG)
		return reply_error(s, "500 5.5.2 Error: line too long (the "
				      "limit is %d octets)",
		    SMTP_LINE_MAX);
	if (st == SMTP_CMD_BAD_EOL)
		return reply_error(s, "500 5.5.2 Error: bare CR or LF in "
				      "command; use CRLF");
	smtp_command_split(line, len, &c);
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

/* ---- input -------------------------------------------------------- */

/* Feed a DATA body; true when the final dot was seen. */
static bool
feed_data(struct session *s, struct evbuffer *in)
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
static bool
feed_bdat(struct session *s, struct evbuffer *in)
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

/*
 * The parser for the line that starts at the head of `in`, or NULL when
 * too few bytes are in to tell. RFC 4954 4: an AUTH command and the
 * responses of its exchange may be up to 12288 octets; every other
 * command keeps the 512 of RFC 5321 4.5.3.1.4. The long parser is made
 * by the first AUTH line where AUTH may be used (submission, after TLS),
 * so a session that never sends one never pays for its buffer.
 */
static struct smtp_cmd *
line_parser(struct session *s, struct evbuffer *in)
{
	const struct smtp_cmd_limits lim = { .line_max =
		                                 SESSION_AUTH_LINE_MAX };
	static const char verb[] = "AUTH ";
	char b[sizeof(verb) - 1];
	ev_ssize_t n;

	/* Where AUTH is refused anyway, nobody gets the bigger buffer. */
	if (!may_auth(s))
		return s->cmd;
	if (!s->in_auth) {
		n = evbuffer_copyout(in, b, sizeof(b));
		if (n < 0 || ascii_ncasecmp(b, verb, (size_t)n) != 0)
			return s->cmd;
		if ((size_t)n < sizeof(b))
			return NULL; /* "AU": wait for the rest of the verb */
	}
	if (s->auth_cmd == NULL && (s->auth_cmd = smtp_cmd_new(&lim)) == NULL)
		PANIC("smtp_cmd_new: out of memory");
	return s->auth_cmd;
}

static enum session_ret
process_input(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct evbuffer_iovec v;
	enum smtp_cmd_status st;
	enum session_ret ret = SESSION_OK;
	const char *line;
	size_t used, len;
	bool long_line;

	s->in_process = true;
	while (!s->waiting && !s->closing && s->tls_next == NULL) {
		if (s->phase == PH_DATA) {
			if (!feed_data(s, in))
				break;
			s->phase = PH_CMD;
			ret = msg_end(s);
			continue;
		}
		if (s->phase == PH_BDAT) {
			if (!feed_bdat(s, in))
				break;
			ret = bdat_chunk_end(s);
			continue;
		}
		if (evbuffer_peek(in, -1, NULL, &v, 1) <= 0)
			break;
		/* Pick a parser at the start of a line, keep it to its end. */
		if (s->cur == NULL && (s->cur = line_parser(s, in)) == NULL)
			break;
		st = smtp_cmd_parse(s->cur, v.iov_base, v.iov_len, &used, &line,
		    &len);
		evbuffer_drain(in, used);
		if (st == SMTP_CMD_NEED_MORE)
			continue;
		long_line = s->cur == s->auth_cmd;
		s->cur = NULL;
		ret = on_line(s, st, line, len, long_line);
		if (ret == SESSION_GONE)
			return ret;
	}
	s->in_process = false;
	if (s->closing) {
		bufferevent_disable(s->bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
			session_close(s);
			return SESSION_GONE;
		}
	}
	return ret;
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	(void)bev;
	if (!s->greeted) {
		log_info("event=pregreet sid=%llu client=%s",
		    (unsigned long long)s->id, s->addr);
		reply(s, "554 5.5.1 %s Protocol error: you talked before "
			 "the greeting",
		    s->conf->hostname);
		close_after_reply(s);
		return;
	}
	s->refs++;
	(void)process_input(s);
	session_unref(s);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	/*
	 * A write callback may be left over from an earlier drain while
	 * newer replies still wait in the buffer: only an empty buffer
	 * means everything was sent.
	 */
	if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	if (s->closing && !s->waiting) {
		session_close(s);
		return;
	}
	if (s->tls_next != NULL && !s->closing)
		start_tls(s);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) { /* the TLS handshake is done */
		tls_describe(bufferevent_openssl_get_ssl(s->bev), s->tls_desc,
		    sizeof(s->tls_desc));
		log_info("event=tls sid=%llu client=%s tls=\"%s\"",
		    (unsigned long long)s->id, s->addr, s->tls_desc);
		return;
	}
	if ((what & BEV_EVENT_ERROR) && s->tls && s->tls_desc[0] == '\0') {
		char why[160];
		unsigned long e = bufferevent_get_openssl_error(s->bev);

		tls_error_text(e, why, sizeof(why));
		log_info("event=tls_failed sid=%llu client=%s error=\"%s\"",
		    (unsigned long long)s->id, s->addr,
		    e != 0 ? why : strerror(EVUTIL_SOCKET_ERROR()));
		/* Drain the rest so no other session sees it. */
		while (bufferevent_get_openssl_error(s->bev) != 0)
			;
		ERR_clear_error();
	} else if (what & BEV_EVENT_ERROR)
		log_info("event=connection_error sid=%llu client=%s error=\"%s\"",
		    (unsigned long long)s->id, s->addr,
		    strerror(EVUTIL_SOCKET_ERROR()));
	if (s->phase != PH_CMD || s->msg != NULL)
		log_info("event=lost_during_data sid=%llu client=%s",
		    (unsigned long long)s->id, s->addr);
	session_close(s);
}

/* ---- accept / shutdown -------------------------------------------- */

static void
format_addr(const struct sockaddr *sa, char *dst, size_t dstsz)
{
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			(void)inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12],
			    dst, (socklen_t)dstsz);
		else
			(void)inet_ntop(AF_INET6, &s6->sin6_addr, dst,
			    (socklen_t)dstsz);
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		(void)inet_ntop(AF_INET, &s4->sin_addr, dst, (socklen_t)dstsz);
	} else {
		(void)strlcpy(dst, "unknown", dstsz);
	}
}

/*
 * Turn a fresh connection away: one reply line, then close. Not on an
 * implicit-TLS listener, whose client expects a handshake, not text.
 */
static void refuse(const struct listener_ctx *lc, int fd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
refuse(const struct listener_ctx *lc, int fd, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	line[n] = '\r';
	line[n + 1] = '\n';
	/* Best effort: the socket is fresh, the write won't block. */
	if (lc->cl->tls != CONF_TLS_IMPLICIT)
		(void)!write(fd, line, (size_t)n + 2);
	(void)close(fd);
}

/* [listener] allow/deny: false when the client was turned away. */
static bool
access_check(const struct listener_ctx *lc, int fd, const struct sockaddr *sa,
    const char *addr)
{
	const struct cidr *rule;
	char net[CIDR_STR_MAX];

	if (access_allowed(lc->cl, sa, &rule))
		return true;
	if (rule != NULL)
		cidr_format(rule, net, sizeof(net));
	log_info("event=access_denied client=%s listener=%s rule=%s%s", addr,
	    lc->cl->name, rule != NULL ? "deny:" : "not_in_allow",
	    rule != NULL ? net : "");
	refuse(lc, fd,
	    "554 5.7.1 %s Access denied: connections from %s are not "
	    "accepted on this port",
	    lc->srv->conf->hostname, addr);
	return false;
}

/* Callbacks, input cap and events of a new (plain or TLS) bufferevent. */
static void
session_setup_bev(struct session *s)
{
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, SESSION_INBUF_MAX);
	if (s->tls_next == NULL && s->bev != NULL &&
	    bufferevent_openssl_get_ssl(s->bev) != NULL)
		/* Clients often close without close_notify: that is EOF. */
		bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

void
session_accept(struct listener_ctx *lc, int fd, const struct sockaddr *sa,
    int salen)
{
	struct server *srv = lc->srv;
	struct loop_state *ls = &srv->loops[loop_index(lc->loop)];
	struct smtp_cmd_limits cl = { .line_max = SMTP_LINE_MAX };
	struct smtp_data_limits dl = { .line_max = SMTP_TEXT_LINE_MAX };
	struct session *s;
	char addr[INET6_ADDRSTRLEN], key[sizeof(s->ip_key)];
	bool per_ip = false;
	const char *msg;

	format_addr(sa, addr, sizeof(addr));
	ip_key(sa, addr, key, sizeof(key));
	if (!ls->stopping && !access_check(lc, fd, sa, addr))
		return;
	if (!ls->stopping && srv->rl_ip_conns != NULL &&
	    ratelimit_take(srv->rl_ip_conns, key, 1, now_ms(), NULL) !=
	        RATELIMIT_OK) {
		log_info("event=rate_limited client=%s listener=%s "
		         "limit=ip_connections_per_minute max=%zu",
		    addr, lc->cl->name,
		    srv->conf->limits.ip_connections_per_minute);
		refuse(lc, fd,
		    "421 4.7.0 %s Too many connections from your "
		    "address: the limit is %zu per minute "
		    "(ip_connections_per_minute), try again later",
		    srv->conf->hostname,
		    srv->conf->limits.ip_connections_per_minute);
		return;
	}
	if (ls->stopping || !server_conn_acquire(srv, sa, &per_ip)) {
		msg = ls->stopping ? "421 4.3.2 Server shutting down"
		      : per_ip     ? "421 4.7.0 Too many connections from your "
		                     "address, try again later"
		               : "421 4.7.0 Too many connections, try again "
		                 "later";
		log_info("event=refused client=%s reason=%s", addr,
		    ls->stopping ? "shutdown"
		    : per_ip     ? "max_connections_per_ip"
				 : "max_connections");
		refuse(lc, fd, "%s", msg);
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->id = atomic_fetch_add(&srv->next_sid, 1);
	s->srv = srv;
	s->ls = ls;
	s->conf = srv->conf;
	s->cl = lc->cl;
	s->refs = 1; /* the connection's own */
	s->started = time(NULL);
	memcpy(&s->sa, sa, (size_t)salen < sizeof(s->sa) ? (size_t)salen
							  : sizeof(s->sa));
	(void)strlcpy(s->addr, addr, sizeof(s->addr));
	(void)strlcpy(s->ip_key, key, sizeof(s->ip_key));
	s->cmd = smtp_cmd_new(&cl);
	s->data = smtp_data_new(&dl);
	buf_init(&s->dbuf, SESSION_CHUNK_MAX + 64);
	buf_init(&s->hbuf, SESSION_HDR_HOLD_MAX);
	s->relay_ok = cidr_match_any(s->conf->relay_networks,
	    s->conf->nrelay_networks, sa);
	if (lc->cl->tls == CONF_TLS_IMPLICIT) { /* RFC 8314 3.3 */
		SSL *ssl = tls_ssl_new(srv->tls);

		if (ssl == NULL)
			PANIC("SSL_new failed");
		s->bev = bufferevent_openssl_socket_new(loop_base(lc->loop),
		    fd, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		s->tls = true;
	} else {
		s->bev = bufferevent_socket_new(loop_base(lc->loop), fd,
		    BEV_OPT_CLOSE_ON_FREE);
	}
	if (s->bev == NULL)
		PANIC("bufferevent for a new connection failed");
	session_setup_bev(s);
	s->timer = evtimer_new(loop_base(lc->loop), on_timeout, s);
	s->next = ls->sessions;
	if (ls->sessions != NULL)
		ls->sessions->prev = s;
	ls->sessions = s;
	ls->nsessions++;
	ls->nalloc++;
	log_info("event=connect sid=%llu client=%s listener=%s",
	    (unsigned long long)s->id, s->addr, lc->cl->name);
	/*
	 * Pre-greet check (postscreen-style): a client that talks before
	 * the 220 is a bot that does not wait for replies. The delay makes
	 * that visible; under implicit TLS the handshake comes first.
	 */
	if (s->conf->limits.greet_delay > 0 && !s->tls) {
		arm_timer(s, s->conf->limits.greet_delay);
		return;
	}
	greet(s);
}

void
session_shutdown_all(struct loop_state *ls)
{
	struct session *s, *next;

	for (s = ls->sessions; s != NULL; s = next) {
		next = s->next;
		if (s->waiting || s->phase != PH_CMD)
			continue; /* let it finish; the grace timer bounds it */
		reply(s, "421 4.3.2 %s Server shutting down",
		    s->conf->hostname);
		s->closing = true;
		bufferevent_disable(s->bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
			session_close(s);
	}
}

void
session_free_all(struct loop_state *ls)
{
	/* session_close() unlinks s from ls->sessions before any free. */
	while (ls->sessions != NULL)
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): see above */
		session_close(ls->sessions);
}
