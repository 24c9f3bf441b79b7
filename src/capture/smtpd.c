/* SPDX-License-Identifier: ISC */
/*
 * capture/smtpd.c - the SMTP sessions of `tern capture` (smtpd.h).
 *
 * A session reads what the peer sent and acts on it one step at a time
 * (process()). A reply is written at once, or, with an injected delay,
 * held in `pending` while reading stops; the timer writes it and reading
 * goes on, so every reply of a pipelined group waits its delay.
 */
#include "capture/smtpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "capture/capture-private.h"
#include "capture/dkimchk.h"
#include "smtp/addr.h"
#include "smtp/auth.h"
#include "smtp/cmd.h"
#include "smtp/command.h"
#include "smtp/data.h"
#include "smtp/params.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define READ_CHUNK 16384 /* bytes looked at per step */
/* Input read ahead while replies wait (a delay, a STARTTLS): at most. */
#define READ_AHEAD_MAX (256u << 10)
#define REPLY_MAX 1024
#define DKIM_PROBLEMS_MAX 5 /* dkim-fail problems per message */
#define AUTH_LINE_MAX 12288 /* incl. CRLF, RFC 4954 4 (as server/limits.h) */

enum sess_state { S_CMD = 0, S_AUTH, S_DATA };

struct sess {
	struct cap_smtpd *d;
	struct cap_ctx *c;
	struct sess *prev, *next;
	struct bufferevent *bev;
	struct smtp_cmd *cmd;
	struct smtp_cmd *auth_cmd; /* AUTH's longer lines; made when needed */
	struct smtp_cmd *cur;      /* the parser of the line under way */
	struct smtp_data *data;
	struct smtp_auth auth;
	enum sess_state st;
	char client[64];
	char *helo;
	char *user; /* after AUTH */
	bool esmtp, tls, smtputf8;
	/* The transaction. */
	bool in_mail;
	char *from;
	char **to;
	size_t nto;
	struct buf msg;
	bool drop; /* drop_mid_data drawn for this DATA */
	/* Replies held by an injected delay. */
	struct evbuffer *pending;
	struct event *delay_ev;
	bool waiting;
	bool quit;     /* close once the replies are out */
	SSL *ssl_next; /* STARTTLS: switch once the 220 is out */
};

struct cap_smtpd {
	struct cap_ctx *c;
	struct evconnlistener *lev;
	struct sess *head;
	size_t n;
	bool paused;
};

static void process(struct sess *);
static void setup_bev(struct sess *);

/* ---- the transaction ----------------------------------------------- */

static void
tx_reset(struct sess *s)
{
	size_t i;

	free(s->from);
	s->from = NULL;
	for (i = 0; i < s->nto; i++)
		free(s->to[i]);
	free(s->to);
	s->to = NULL;
	s->nto = 0;
	s->in_mail = false;
	s->smtputf8 = false;
	buf_reset(&s->msg);
	buf_init(&s->msg, s->c->max_size);
}

static void
sess_free(struct sess *s)
{
	struct cap_smtpd *d = s->d;

	tx_reset(s);
	buf_reset(&s->msg);
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	if (s->delay_ev != NULL)
		event_free(s->delay_ev);
	if (s->pending != NULL)
		evbuffer_free(s->pending);
	if (s->ssl_next != NULL)
		SSL_free(s->ssl_next);
	smtp_cmd_free(s->cmd);
	smtp_cmd_free(s->auth_cmd);
	smtp_data_free(s->data);
	smtp_auth_wipe(&s->auth);
	free(s->helo);
	free(s->user);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		d->head = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	free(s);
	d->n--;
	if (d->paused && d->n < CAP_SESSIONS_MAX) {
		d->paused = false;
		(void)evconnlistener_enable(d->lev);
	}
}

/* ---- replies ------------------------------------------------------- */

static void reply(struct sess *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
reply(struct sess *s, const char *fmt, ...)
{
	char line[REPLY_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	memcpy(line + n, "\r\n", 2);
	n += 2;
	if (s->c->faults.delay_ms == 0 && !s->waiting) {
		(void)bufferevent_write(s->bev, line, (size_t)n);
		return;
	}
	(void)evbuffer_add(s->pending, line, (size_t)n);
	if (!s->waiting) {
		struct timeval tv = { (time_t)(s->c->faults.delay_ms / 1000),
			(suseconds_t)(s->c->faults.delay_ms % 1000) * 1000 };

		s->waiting = true;
		(void)evtimer_add(s->delay_ev, &tv);
	}
}

static void
on_delay(evutil_socket_t fd, short what, void *arg)
{
	struct sess *s = arg;

	(void)fd;
	(void)what;
	s->waiting = false;
	(void)bufferevent_write_buffer(s->bev, s->pending);
	if (s->quit || s->ssl_next != NULL)
		return; /* on_write finishes once it is out */
	process(s);
}

/* ---- TLS ----------------------------------------------------------- */

/* RFC 3207 4.2: after the handshake, forget what was said before. */
static void
start_tls(struct sess *s)
{
	struct event_base *base = bufferevent_get_base(s->bev);
	evutil_socket_t fd = bufferevent_getfd(s->bev);
	SSL *ssl = s->ssl_next;

	s->ssl_next = NULL;
	(void)bufferevent_setfd(s->bev, -1);
	bufferevent_free(s->bev);
	s->bev = bufferevent_openssl_socket_new(base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL)
		PANIC("bufferevent_openssl_socket_new failed");
	setup_bev(s);
	s->tls = true;
	s->esmtp = false;
	free(s->helo);
	s->helo = NULL;
	free(s->user);
	s->user = NULL;
	tx_reset(s);
}

/* ---- commands ------------------------------------------------------ */

static void
do_ehlo(struct sess *s, const struct smtp_command *c, bool ehlo)
{
	free(s->helo);
	s->helo = xstrndup(c->arg, c->arg_len);
	tx_reset(s);
	s->esmtp = ehlo;
	if (!ehlo) {
		reply(s, "250 %s", s->c->hostname);
		return;
	}
	reply(s, "250-%s", s->c->hostname);
	reply(s, "250-PIPELINING");
	reply(s, "250-SIZE %" PRIu64, s->c->max_size);
	reply(s, "250-8BITMIME");
	reply(s, "250-SMTPUTF8");
	reply(s, "250-ENHANCEDSTATUSCODES");
	if (!s->tls && s->c->ssl != NULL)
		reply(s, "250-STARTTLS");
	reply(s, "250 AUTH PLAIN LOGIN");
}

static char *
addr_text(const struct smtp_addr *a)
{
	char t[SMTP_ADDR_FMT_MAX];

	if (smtp_addr_format(a, t, sizeof(t)) == -1)
		t[0] = '\0';
	return xstrdup(t);
}

static void
do_mail(struct sess *s, const struct smtp_command *c)
{
	struct smtp_mail m;
	enum smtp_arg_status st;
	const char *why;

	if (s->in_mail) {
		reply(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	st = smtp_mail_parse(c->arg, c->arg_len,
	    (s->esmtp ? SMTP_EXT_ESMTP | SMTP_EXT_AUTH : 0), &m, &why);
	if (st != SMTP_ARG_OK) {
		reply(s, "%s: %s", smtp_arg_reply(st, false), why);
		return;
	}
	if (m.has_size && m.size > s->c->max_size) {
		reply(s,
		    "552 5.3.4 Message size exceeds fixed limit of "
		    "%" PRIu64 " bytes",
		    s->c->max_size);
		return;
	}
	tx_reset(s);
	s->from = addr_text(&m.from);
	s->smtputf8 = m.smtputf8;
	s->in_mail = true;
	reply(s, "%s", smtp_arg_reply(SMTP_ARG_OK, false));
}

static void
do_rcpt(struct sess *s, const struct smtp_command *c)
{
	struct smtp_rcpt r;
	enum smtp_arg_status st;
	const char *why;
	unsigned ext = s->esmtp ? SMTP_EXT_ESMTP : 0;

	if (!s->in_mail) {
		reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->smtputf8)
		ext |= SMTP_EXT_SMTPUTF8;
	st = smtp_rcpt_parse(c->arg, c->arg_len, ext, &r, &why);
	if (st != SMTP_ARG_OK) {
		reply(s, "%s: %s", smtp_arg_reply(st, true), why);
		return;
	}
	if (s->nto >= CAP_RCPTS_MAX) {
		reply(s, "452 4.5.3 Too many recipients");
		return;
	}
	switch (cap_fault_rcpt(&s->c->faults, &s->c->rng)) {
	case 451:
		reply(s, "451 4.3.0 capture: injected temporary failure");
		return;
	case 550:
		reply(s, "550 5.1.1 capture: injected permanent failure");
		return;
	default:
		break;
	}
	s->to = xrealloc(s->to, (s->nto + 1) * sizeof(*s->to));
	s->to[s->nto++] = addr_text(&r.to);
	reply(s, "%s", smtp_arg_reply(SMTP_ARG_OK, true));
}

static void
do_data(struct sess *s, const struct smtp_command *c)
{
	if (c->arg_len != 0) {
		reply(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (!s->in_mail) {
		reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->nto == 0) {
		reply(s, "554 5.5.1 Error: no valid recipients");
		return;
	}
	s->st = S_DATA;
	s->drop = cap_rng_hit(&s->c->rng, s->c->faults.drop_mid_data);
	smtp_data_start(s->data, SMTP_DATA_DOT);
	buf_clear(&s->msg);
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void
do_starttls(struct sess *s, const struct smtp_command *c)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);

	if (s->tls) {
		reply(s, "503 5.5.1 Error: TLS already active");
		return;
	}
	if (c->arg_len != 0) {
		reply(s, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	if (s->c->ssl == NULL || (s->ssl_next = SSL_new(s->c->ssl)) == NULL) {
		reply(s, "454 4.7.0 TLS not available due to temporary "
		         "reason");
		return;
	}
	/* CVE-2011-0411: nothing sent in plaintext survives the switch. */
	(void)evbuffer_drain(in, evbuffer_get_length(in));
	smtp_cmd_reset(s->cmd);
	if (s->auth_cmd != NULL)
		smtp_cmd_reset(s->auth_cmd);
	s->cur = NULL;
	bufferevent_disable(s->bev, EV_READ);
	reply(s, "220 2.0.0 Ready to start TLS");
}

static void
auth_result(struct sess *s, enum smtp_auth_status st, const char *challenge)
{
	switch (st) {
	case SMTP_AUTH_CONTINUE:
		s->st = S_AUTH;
		reply(s, "334 %s", challenge);
		return;
	case SMTP_AUTH_DONE:
		s->st = S_CMD;
		free(s->user);
		s->user = xstrdup(s->auth.user);
		smtp_auth_wipe(&s->auth);
		/* Any credentials will do: this is a test server. */
		reply(s, "235 2.7.0 Authentication successful");
		return;
	default:
		s->st = S_CMD;
		reply(s, "%s", smtp_auth_reply(st));
		return;
	}
}

static void
do_auth(struct sess *s, const struct smtp_command *c)
{
	const char *ch = "";
	enum smtp_auth_status st;

	if (s->user != NULL) {
		reply(s, "503 5.5.1 Error: already authenticated");
		return;
	}
	if (s->in_mail) {
		reply(s, "503 5.5.1 Error: AUTH not allowed during a "
		         "transaction");
		return;
	}
	st = smtp_auth_begin(&s->auth, c->arg, c->arg_len, &ch);
	auth_result(s, st, ch);
}

static void
on_line(struct sess *s, const char *line, size_t len)
{
	struct smtp_command c;

	if (s->st == S_AUTH) {
		const char *ch = "";
		/* Two statements: the order in which a call's arguments are
		 * evaluated is unspecified, and ch is set by the step. */
		enum smtp_auth_status st =
		    smtp_auth_step(&s->auth, line, len, &ch);

		auth_result(s, st, ch);
		return;
	}
	smtp_command_split(line, len, &c);
	switch (c.verb) {
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		do_ehlo(s, &c, c.verb == SMTP_VERB_EHLO);
		return;
	case SMTP_VERB_MAIL:
		do_mail(s, &c);
		return;
	case SMTP_VERB_RCPT:
		do_rcpt(s, &c);
		return;
	case SMTP_VERB_DATA:
		do_data(s, &c);
		return;
	case SMTP_VERB_RSET:
		tx_reset(s);
		reply(s, "250 2.0.0 Ok");
		return;
	case SMTP_VERB_NOOP:
		reply(s, "250 2.0.0 Ok");
		return;
	case SMTP_VERB_QUIT:
		s->quit = true;
		bufferevent_disable(s->bev, EV_READ);
		reply(s, "221 2.0.0 Bye");
		return;
	case SMTP_VERB_VRFY:
		reply(s, "252 2.1.5 Cannot VRFY, but will accept the message");
		return;
	case SMTP_VERB_STARTTLS:
		do_starttls(s, &c);
		return;
	case SMTP_VERB_AUTH:
		do_auth(s, &c);
		return;
	case SMTP_VERB_HELP:
		reply(s, "214 2.0.0 tern capture: see docs/capture.md");
		return;
	case SMTP_VERB_BDAT:
	case SMTP_VERB_EXPN:
	case SMTP_VERB_UNKNOWN:
		break;
	}
	reply(s, "500 5.5.2 Error: command not recognized");
}

/* ---- the end of a message ------------------------------------------ */

static void
store(struct sess *s)
{
	struct cap_msg *m = xcalloc(1, sizeof(*m));
	struct cap_problem dk[DKIM_PROBLEMS_MAX];
	const struct cap_msg *stored;
	size_t len, ndk;

	m->from = s->from;
	s->from = NULL;
	m->to = s->to;
	m->nto = s->nto;
	s->to = NULL;
	s->nto = 0;
	m->helo = xstrdup(s->helo != NULL ? s->helo : "");
	(void)snprintf(m->client, sizeof(m->client), "%s", s->client);
	m->tls = s->tls;
	m->auth = s->user != NULL ? xstrdup(s->user) : NULL;
	m->data = (char *)buf_take(&s->msg, &len);
	if (m->data == NULL)
		m->data = xstrdup("");
	m->len = len;
	ndk = cap_dkim_check(s->c, m->data, m->len, dk, DKIM_PROBLEMS_MAX);
	stored = cap_store_add(s->c->store, m, dk, ndk);
	log_info("event=captured id=%" PRIu64 " from=%s rcpts=%zu size=%zu",
	    stored->id, LOG_ADDR(stored->from), stored->nto, stored->len);
	reply(s, "250 2.0.0 Ok: queued as %" PRIu64, stored->id);
	cap_api_stored(s->c->api, stored);
}

static void
end_of_data(struct sess *s)
{
	s->st = S_CMD;
	if (smtp_data_size(s->data) > s->c->max_size)
		reply(s,
		    "552 5.3.4 Message size exceeds fixed limit of "
		    "%" PRIu64 " bytes",
		    s->c->max_size);
	else if (smtp_data_flags(s->data) & SMTP_DATA_F_NOMEM)
		reply(s, "451 4.3.0 Out of memory");
	else
		switch (cap_fault_msg(&s->c->faults, &s->c->rng)) {
		case 451:
			reply(s, "451 4.3.0 capture: injected temporary "
			         "failure");
			break;
		case 554:
			reply(s, "554 5.6.0 capture: injected permanent "
			         "failure");
			break;
		default:
			store(s);
			break;
		}
	tx_reset(s);
}

/* ---- input --------------------------------------------------------- */

/*
 * The parser for the line that starts at p[0..n): RFC 4954 4 lets an
 * AUTH command and the responses of its exchange be 12288 octets, every
 * other command keeps the 512 of RFC 5321 4.5.3.1.4 (as tern serve
 * reads them, server/session.c). NULL: too few bytes yet to tell.
 */
static struct smtp_cmd *
line_parser(struct sess *s, const uint8_t *p, size_t n)
{
	static const char verb[] = "AUTH ";
	const struct smtp_cmd_limits lim = { AUTH_LINE_MAX };
	size_t k = n < sizeof(verb) - 1 ? n : sizeof(verb) - 1;

	if (s->st != S_AUTH) {
		if (ascii_ncasecmp((const char *)p, verb, k) != 0)
			return s->cmd;
		if (k < sizeof(verb) - 1)
			return NULL;
	}
	if (s->auth_cmd == NULL && (s->auth_cmd = smtp_cmd_new(&lim)) == NULL)
		PANIC("capture: out of memory for a session");
	return s->auth_cmd;
}

/* One step on p[0..n): the count of bytes used (0: more are needed);
 * -1: the session is gone. */
static ssize_t
step(struct sess *s, const uint8_t *p, size_t n)
{
	enum smtp_cmd_status st;
	const char *line;
	size_t used = 0, len;

	if (s->st == S_DATA) {
		if (s->drop) {
			/* Part of the data is in: hang up (drop_mid_data). */
			log_info("event=capture_dropped client=%s "
			         "reason=drop_mid_data",
			    s->client);
			sess_free(s);
			return -1;
		}
		if (smtp_data_parse(s->data, p, n, &used, &s->msg) ==
		    SMTP_DATA_END)
			end_of_data(s);
		return (ssize_t)used;
	}
	/* A line is read to its end by the parser it started with. */
	if (s->cur == NULL && (s->cur = line_parser(s, p, n)) == NULL)
		return 0;
	st = smtp_cmd_parse(s->cur, p, n, &used, &line, &len);
	if (st != SMTP_CMD_NEED_MORE)
		s->cur = NULL;
	if (s->st == S_AUTH && st != SMTP_CMD_LINE &&
	    st != SMTP_CMD_NEED_MORE) {
		/* The exchange is over (as in server/session-cmd.c): the
		 * next line is a command, not credentials. */
		s->st = S_CMD;
		smtp_auth_wipe(&s->auth);
	}
	switch (st) {
	case SMTP_CMD_LINE:
		on_line(s, line, len);
		break;
	case SMTP_CMD_TOO_LONG:
		reply(s, "500 5.5.6 Error: line too long");
		break;
	case SMTP_CMD_BAD_EOL:
		reply(s, "500 5.5.2 Error: bare CR or LF in a command");
		break;
	case SMTP_CMD_NEED_MORE:
		break;
	}
	return (ssize_t)used;
}

static void
process(struct sess *s)
{
	struct evbuffer *in;

	while (!s->waiting && !s->quit && s->ssl_next == NULL) {
		size_t n;
		ssize_t used;
		const uint8_t *p;

		in = bufferevent_get_input(s->bev);
		if ((n = evbuffer_get_length(in)) == 0)
			return;
		if (n > READ_CHUNK)
			n = READ_CHUNK;
		if ((p = evbuffer_pullup(in, (ssize_t)n)) == NULL)
			return;
		if ((used = step(s, p, n)) == -1)
			return;
		if (used == 0)
			return; /* on_read comes back with more */
		/* STARTTLS drained the input already. */
		if (s->ssl_next == NULL)
			(void)evbuffer_drain(in, (size_t)used);
	}
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	process(arg);
}

/* Everything written: finish a QUIT or a STARTTLS. */
static void
on_write(struct bufferevent *bev, void *arg)
{
	struct sess *s = arg;

	(void)bev;
	if (s->waiting)
		return;
	if (s->quit) {
		sess_free(s);
		return;
	}
	if (s->ssl_next != NULL)
		start_tls(s);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct sess *s = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & BEV_EVENT_TIMEOUT)
		log_info("event=capture_timeout client=%s", s->client);
	sess_free(s);
}

static void
setup_bev(struct sess *s)
{
	struct timeval idle = { CAP_SMTP_IDLE, 0 };

	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	bufferevent_set_timeouts(s->bev, &idle, &idle);
	bufferevent_setwatermark(s->bev, EV_READ, 0, READ_AHEAD_MAX);
	(void)bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

/* ---- accepting ----------------------------------------------------- */

static void
peer_text(const struct sockaddr *sa, char *dst, size_t dstsz)
{
	const void *a = NULL;

	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (a == NULL ||
	    inet_ntop(sa->sa_family, a, dst, (socklen_t)dstsz) == NULL)
		(void)snprintf(dst, dstsz, "unknown");
}

static void
on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct cap_smtpd *d = arg;
	struct smtp_cmd_limits cl = { SMTP_CMD_LINE_MAX };
	struct smtp_data_limits dl = { SMTP_DATA_LINE_MAX };
	struct sess *s = xcalloc(1, sizeof(*s));

	(void)salen;
	s->d = d;
	s->c = d->c;
	peer_text(sa, s->client, sizeof(s->client));
	buf_init(&s->msg, d->c->max_size);
	if ((s->cmd = smtp_cmd_new(&cl)) == NULL ||
	    (s->data = smtp_data_new(&dl)) == NULL ||
	    (s->pending = evbuffer_new()) == NULL ||
	    (s->delay_ev = evtimer_new(d->c->base, on_delay, s)) == NULL ||
	    (s->bev = bufferevent_socket_new(d->c->base, fd,
	         BEV_OPT_CLOSE_ON_FREE)) == NULL)
		PANIC("capture: out of memory for a session");
	s->next = d->head;
	if (d->head != NULL)
		d->head->prev = s;
	d->head = s;
	if (++d->n >= CAP_SESSIONS_MAX && !d->paused) {
		d->paused = true;
		(void)evconnlistener_disable(lev);
	}
	setup_bev(s);
	log_debug("event=capture_connect client=%s", s->client);
	reply(s, "220 %s ESMTP tern capture", d->c->hostname);
}

struct cap_smtpd *
cap_smtpd_new(struct cap_ctx *c, int fd, struct why *why)
{
	struct cap_smtpd *d = xcalloc(1, sizeof(*d));

	d->c = c;
	d->lev = evconnlistener_new(c->base, on_accept, d,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (d->lev == NULL) {
		(void)close(fd);
		free(d);
		why_set(why, WHY_TEMP, errno, "capture: SMTP listener");
		return NULL;
	}
	return d;
}

void
cap_smtpd_free(struct cap_smtpd *d)
{
	if (d == NULL)
		return;
	while (d->head != NULL)
		sess_free(d->head);
	evconnlistener_free(d->lev);
	free(d);
}
