/* SPDX-License-Identifier: ISC */
/*
 * server/session.c - one inbound SMTP session: glue between a bufferevent
 * and the pure protocol code in smtp/ (RFC 5321 with PIPELINING, SIZE,
 * 8BITMIME, ENHANCEDSTATUSCODES, SMTPUTF8, CHUNKING).
 *
 * This file owns the connection: accept (access rules, connection rate
 * and count limits) and shutdown, the session's lifetime, its replies and
 * its deadline, and reading input into the parser of the current phase.
 * The commands live next to it, one file per group (session-private.h):
 * session-cmd.c dispatches them, session-mail.c and session-data.c run
 * the transaction, session-tls.c and session-auth.c STARTTLS and AUTH.
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
#include "server/session-private.h"

#include <arpa/inet.h>
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

#include "obs/metrics.h"
#include "server/access.h"
#include "server/limits.h"
#include "server/loop.h"
#include "server/ratelimit.h"
#include "server/tls.h"
#include "smtp/auth.h"
#include "smtp/cmd.h"
#include "smtp/data.h"
#include "util/buf.h"
#include "util/cidr.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

static enum session_ret process_input(struct session *);
static void session_close(struct session *);

/* ---- output ------------------------------------------------------- */

void
session_reply(struct session *s, const char *fmt, ...)
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
		log_debug("event=reply sid=%llu line=%s",
		    (unsigned long long)s->id, LOG_ESC(line));
	evbuffer_add(out, line, (size_t)n);
	evbuffer_add(out, "\r\n", 2);
}

void
session_obs_refusal(const struct session *s, const char *reply,
    enum obs_reason reason)
{
	const char *stage = s->stage != NULL ? s->stage : "command";
	struct obs_event ev = { .kind = OBS_REJECTED, .client = s->addr,
		.helo = s->helo[0] != '\0' ? s->helo : NULL,
		.listener = s->cl->name,
		.user = s->authed ? s->auth_user : NULL,
		.tls = s->tls_desc[0] != '\0' ? s->tls_desc : NULL,
		.from = s->has_mail ? s->sender : NULL,
		.to = strcmp(stage, "rcpt") == 0 && s->cmd_path[0] != '\0'
		          ? s->cmd_path
		          : NULL,
		.stage = stage, .reason = reason, .reply = reply };

	obs_emit(&ev);
}

/* A 5xx/4xx the client caused: counted towards max_errors. */
enum session_ret
session_reply_error(struct session *s, const char *fmt, ...)
{
	char line[1024], esc[256]; /* the reply holds the peer's words */
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	session_reply(s, "%s", line);
	session_obs_refusal(s, line, obs_reason_of(line, s->stage));
	log_info("event=reject sid=%llu client=%s reply=%s",
	    (unsigned long long)s->id, s->addr,
	    log_escs(esc, sizeof(esc), line));
	session_count_error(s);
	return SESSION_OK;
}

void
session_count_error(struct session *s)
{
	if (++s->nerrors < s->conf->limits.max_errors || s->closing)
		return;
	session_reply(s, "421 4.7.0 %s Too many errors, closing connection",
	    s->conf->hostname);
	log_info("event=too_many_errors sid=%llu client=%s errors=%zu",
	    (unsigned long long)s->id, s->addr, s->nerrors);
	s->closing = true;
}

/* ---- timers ------------------------------------------------------- */

void
session_arm_timer(struct session *s, unsigned seconds)
{
	struct timeval tv = { .tv_sec = seconds, .tv_usec = 0 };

	evtimer_add(s->timer, &tv);
}

static void
greet(struct session *s)
{
	s->greeted = true;
	session_reply(s, "220 %s ESMTP tern", s->conf->hostname);
	session_arm_timer(s, s->conf->limits.timeout_command);
}

void
session_greet(struct session *s)
{
	/*
	 * Pre-greet check (postscreen-style): a client that talks before
	 * the 220 is a bot that does not wait for replies. The delay makes
	 * that visible; under implicit TLS the handshake comes first.
	 */
	if (s->conf->limits.greet_delay > 0 && !s->tls) {
		session_arm_timer(s, s->conf->limits.greet_delay);
		return;
	}
	greet(s);
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
	session_arm_timer(s, SESSION_DRAIN_TIMEOUT);
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
		session_arm_timer(s, s->conf->limits.timeout_command);
		return;
	}
	log_info("event=timeout sid=%llu client=%s phase=%d",
	    (unsigned long long)s->id, s->addr, (int)s->phase);
	session_reply(s, "421 4.4.2 %s Error: timeout exceeded",
	    s->conf->hostname);
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
	session_tx_reset(s);
	session_milter_free(s);
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
	conf_unref(s->conf); /* after a reload, maybe the last of it */
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
	metrics_session_end((size_t)(s->cl - s->conf->listeners));
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
void
session_step_done(struct session *s)
{
	if (!s->dead && !s->in_process)
		(void)process_input(s);
	session_unref(s);
}

/* ---- input -------------------------------------------------------- */

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
	if (!session_may_auth(s))
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
			if (!session_feed_data(s, in))
				break;
			s->phase = PH_CMD;
			ret = session_msg_end(s);
			continue;
		}
		if (s->phase == PH_BDAT) {
			if (!session_feed_bdat(s, in))
				break;
			ret = session_bdat_chunk_end(s);
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
		ret = session_on_line(s, st, line, len, long_line);
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
		session_reply(s,
		    "554 5.5.1 %s Protocol error: you talked before "
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
		session_start_tls(s);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) { /* the TLS handshake is done */
		tls_describe(bufferevent_openssl_get_ssl(s->bev), s->tls_desc,
		    sizeof(s->tls_desc));
		metrics_tls_in((size_t)(s->cl - s->conf->listeners));
		log_info("event=tls sid=%llu client=%s tls=%s",
		    (unsigned long long)s->id, s->addr, LOG_ESC(s->tls_desc));
		return;
	}
	if ((what & BEV_EVENT_ERROR) && s->tls && s->tls_desc[0] == '\0') {
		char why[160];
		unsigned long e = bufferevent_get_openssl_error(s->bev);

		tls_error_text(e, why, sizeof(why));
		log_info("event=tls_failed sid=%llu client=%s error=%s",
		    (unsigned long long)s->id, s->addr,
		    LOG_ESC(e != 0 ? why : strerror(EVUTIL_SOCKET_ERROR())));
		/* Drain the rest so no other session sees it. */
		while (bufferevent_get_openssl_error(s->bev) != 0)
			;
		ERR_clear_error();
	} else if (what & BEV_EVENT_ERROR)
		log_info("event=connection_error sid=%llu client=%s error=%s",
		    (unsigned long long)s->id, s->addr,
		    LOG_ESC(strerror(EVUTIL_SOCKET_ERROR())));
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
/* The rate limiters' clock: monotonic milliseconds. */
uint64_t
session_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void refuse(const struct listener_ctx *lc, int fd, const char *addr,
    enum obs_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Turn a new connection away with one reply line, and tell obs. */
static void
refuse(const struct listener_ctx *lc, int fd, const char *addr,
    enum obs_reason reason, const char *fmt, ...)
{
	struct obs_event ev = { .kind = OBS_REJECTED, .client = addr,
		.listener = lc->srv->boot->listeners[lc->index].name,
		.stage = "connect", .reason = reason };
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
	line[n] = '\0';
	ev.reply = line;
	obs_emit(&ev);
	line[n] = '\r';
	line[n + 1] = '\n';
	/* Best effort: the socket is fresh, the write won't block. */
	/* tls takes a restart: the first configuration's is the one. */
	if (lc->srv->boot->listeners[lc->index].tls != CONF_TLS_IMPLICIT)
		(void)!write(fd, line, (size_t)n + 2);
	(void)close(fd);
}

/* [listener] allow/deny: false when the client was turned away. */
static bool
access_check(const struct listener_ctx *lc, const struct conf *conf,
    const struct conf_listener *cl, int fd, const struct sockaddr *sa,
    const char *addr)
{
	const struct cidr *rule;
	char net[CIDR_STR_MAX];

	if (access_allowed(cl, sa, &rule))
		return true;
	if (rule != NULL)
		cidr_format(rule, net, sizeof(net));
	log_info("event=access_denied client=%s listener=%s rule=%s%s", addr,
	    cl->name, rule != NULL ? "deny:" : "not_in_allow",
	    rule != NULL ? net : "");
	refuse(lc, fd, addr, OBS_R_POLICY,
	    "554 5.7.1 %s Access denied: connections from %s are not "
	    "accepted on this port",
	    conf->hostname, addr);
	return false;
}

/* Callbacks, input cap and events of a new (plain or TLS) bufferevent. */
void
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
	struct smtp_cmd_limits cmdl = { .line_max = SMTP_LINE_MAX };
	struct smtp_data_limits dl = { .line_max = SMTP_TEXT_LINE_MAX };
	/* The configuration in force now: this session's for its life,
	 * whatever a reload does meanwhile (issue 15). */
	const struct conf *conf = conf_holder_get(srv->confs);
	const struct conf_listener *cl = &conf->listeners[lc->index];
	const struct conf_limits *lim = &conf->limits;
	struct session *s;
	char addr[INET6_ADDRSTRLEN], key[sizeof(s->ip_key)];
	struct ratelimit *rl;
	bool per_ip = false, own;
	const char *name;
	size_t max;

	format_addr(sa, addr, sizeof(addr));
	/* The per-IP rate limits count an IPv6 client's /64. */
	cidr_client_key(sa, 64, key, sizeof(key));
	if (!ls->stopping && !access_check(lc, conf, cl, fd, sa, addr))
		goto refused;
	/* The operator's own clients have limits of their own (issue 14):
	 * a web application on this host is not a stranger. */
	own = conf_is_own_client(conf, sa);
	rl = own ? srv->rl_own_ip_conns : srv->rl_ip_conns;
	if (!ls->stopping && rl != NULL &&
	    ratelimit_take(rl, key, 1, session_now_ms(), NULL) !=
	        RATELIMIT_OK) {
		name = own ? "own_ip_connections_per_minute"
		           : "ip_connections_per_minute";
		max = own ? lim->own_ip_connections_per_minute
		          : lim->ip_connections_per_minute;
		log_info("event=rate_limited client=%s listener=%s "
		         "limit=%s max=%zu",
		    addr, cl->name, name, max);
		refuse(lc, fd, addr, OBS_R_RATE_LIMIT,
		    "421 4.7.0 %s Too many connections from your "
		    "address: the limit is %zu per minute (%s), try again "
		    "later",
		    conf->hostname, max, name);
		goto refused;
	}
	if (ls->stopping) {
		log_info("event=refused client=%s listener=%s reason=shutdown",
		    addr, cl->name);
		refuse(lc, fd, addr, OBS_R_OTHER,
		    "421 4.3.2 Server shutting down");
		goto refused;
	}
	if (!server_conn_acquire(srv, lim, sa, own, &per_ip)) {
		name = !per_ip ? "max_connections"
		       : own   ? "own_max_connections_per_ip"
		               : "max_connections_per_ip";
		max = !per_ip ? lim->max_connections
		      : own   ? lim->own_max_connections_per_ip
		              : lim->max_connections_per_ip;
		log_info("event=refused client=%s listener=%s reason=%s "
		         "max=%zu",
		    addr, cl->name, name, max);
		refuse(lc, fd, addr, OBS_R_RATE_LIMIT,
		    "421 4.7.0 %s Too many connections%s: the limit is %zu "
		    "(%s), try again later",
		    conf->hostname, per_ip ? " from your address" : "", max,
		    name);
		goto refused;
	}
	s = xcalloc(1, sizeof(*s));
	s->id = atomic_fetch_add(&srv->next_sid, 1);
	s->srv = srv;
	s->ls = ls;
	s->conf = conf; /* the reference passes to the session */
	s->cl = cl;
	s->refs = 1; /* the connection's own */
	s->started = time(NULL);
	memcpy(&s->sa, sa, (size_t)salen < sizeof(s->sa) ? (size_t)salen
							  : sizeof(s->sa));
	(void)strlcpy(s->addr, addr, sizeof(s->addr));
	(void)strlcpy(s->ip_key, key, sizeof(s->ip_key));
	cidr_client_key(sa, s->conf->limits.auth_ipv6_prefix, s->auth_key,
	    sizeof(s->auth_key));
	s->cmd = smtp_cmd_new(&cmdl);
	s->data = smtp_data_new(&dl);
	buf_init(&s->dbuf, SESSION_CHUNK_MAX + 64);
	buf_init(&s->hbuf, SESSION_HDR_HOLD_MAX);
	s->relay_ok = cidr_match_any(s->conf->relay_networks,
	    s->conf->nrelay_networks, sa);
	s->own_client = own;
	if (cl->tls == CONF_TLS_IMPLICIT) { /* RFC 8314 3.3 */
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
	metrics_session_start(lc->index);
	log_info("event=connect sid=%llu client=%s listener=%s",
	    (unsigned long long)s->id, s->addr, cl->name);
	if (cl->nmilters > 0) /* they answer first: then the 220 */
		session_milter_connect(s);
	else
		session_greet(s);
	return;
refused:
	conf_unref(conf);
}

void
session_shutdown_all(struct loop_state *ls)
{
	struct session *s, *next;

	for (s = ls->sessions; s != NULL; s = next) {
		next = s->next;
		if (s->waiting || s->phase != PH_CMD)
			continue; /* let it finish; the grace timer bounds it */
		session_reply(s, "421 4.3.2 %s Server shutting down",
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
