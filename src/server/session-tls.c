/* SPDX-License-Identifier: ISC */
/*
 * server/session-tls.c - STARTTLS (RFC 3207) of an inbound SMTP session:
 * the command, and the switch of the session to an SSL bufferevent once
 * the 220 has left. Implicit TLS (RFC 8314) is set up at accept in
 * session.c; the handshake's outcome is logged by its event callback.
 *
 * Trust: anything the client pipelined after STARTTLS came in plaintext
 * and is discarded (CVE-2011-0411); all state learnt before the
 * handshake is forgotten (RFC 3207 4.2). The keys are tls.c's.
 */
#include "server/session-private.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "server/tls.h"
#include "smtp/cmd.h"
#include "smtp/command.h"
#include "util/log.h"

enum session_ret
session_cmd_starttls(struct session *s, const struct smtp_command *c)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t junk;

	if (s->cl->tls != CONF_TLS_STARTTLS && !s->tls)
		return session_reply_error(s,
		    "502 5.5.1 STARTTLS not available on "
		    "this listener");
	if (s->tls)
		return session_reply_error(s,
		    "503 5.5.1 Error: TLS already active");
	if (c->arg_len != 0)
		return session_reply_error(s, "501 5.5.4 Syntax: STARTTLS");
	if ((s->tls_next = tls_ssl_new(s->srv->tls)) == NULL) {
		session_reply(s, "454 4.7.0 TLS not available due to temporary "
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
	session_reply(s, "220 2.0.0 Ready to start TLS");
	return SESSION_OK; /* on_write switches once the 220 is out */
}

/*
 * The 220 has left: put an SSL bufferevent on the same socket. The plain
 * one read nothing since STARTTLS, so the next bytes the kernel holds
 * are the client's ClientHello. RFC 3207 4.2: forget everything learnt
 * before TLS, EHLO included.
 */
void
session_start_tls(struct session *s)
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
	session_tx_reset(s);
	s->helo[0] = '\0';
	s->esmtp = false;
	s->authed = false;
	s->auth_user[0] = '\0';
}
