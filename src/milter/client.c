/* SPDX-License-Identifier: ISC */
/*
 * milter/client.c - one SMTP session's content filters on its event loop
 * (issue 18). See client.h for the contract.
 *
 * A stage walks the filters in order (`cur`): each is sent its macros
 * and the command, and unless it negotiated not to reply, the walk waits
 * for its reply under a timer. The end of message is a small machine of
 * its own per filter: header fields, EOH, body chunks read from the
 * message source 64 KiB at a time, BODYEOB, then modification replies
 * until the final one. done() is called from an event (mc->later), never
 * from inside a stage call, so callers need not guard against re-entry.
 * Trust: as client.h; a filter's reply is decoded by proto.c and checked
 * against what it negotiated before anything acts on it.
 */
#include "milter/client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>

#include "conf/conf.h"
#include "milter/proto.h"
#include "smtp/addr.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define REPLBODY_CHUNK_MAX (1024 * 1024)
/*
 * Content a filter said it will not answer (NR_HDR, NR_BODY) is sent
 * without waiting; past this much unsent, the rest waits for the socket,
 * so a filter that stops reading cannot make us queue the whole message.
 */
#define OUT_QUEUED_MAX (256 * 1024)
#define MACROS_MAX 64
#define QUIT_FLUSH_MAX 16384 /* queued bytes sent before a QUIT */
/*
 * PROGRESS restarts a reply's timeout, as in Postfix, but one reply is
 * waited for at most this many timeouts in all: a filter that sends
 * PROGRESS forever must not hold the session (or the pickup) forever.
 */
#define PROGRESS_TIMEOUTS 4

static const char reject_text[] = "550 5.7.1 Command rejected";
static const char reject_msg_text[] = "550 5.7.1 Message content rejected";
static const char reject_conn_text[] = "554 5.7.1 Access denied";
static const char tempfail_text[] =
    "451 4.7.1 Service unavailable - try again later";
static const char tempfail_conn_text[] =
    "421 4.7.1 Service unavailable - try again later";

enum stage {
	ST_NONE = 0,
	ST_CONNECT,
	ST_HELO,
	ST_MAIL,
	ST_RCPT,
	ST_DATA,
	ST_UNKNOWN,
	ST_EOM,
};

static const char *const stage_names[] = { "none", "connect", "helo", "mail",
	"rcpt", "data", "unknown", "eom" };

/* What is sent at a stage: its command, macros, and the flags that skip
 * it or its reply. */
struct stage_desc {
	char cmd;
	int sym; /* SETSYMLIST stage (SMFIM_*), -1: none */
	uint32_t no, nr;
	const char *macros; /* names sent unless the filter chose */
};

static const struct stage_desc stages[] = {
	[ST_NONE] = { 0, -1, 0, 0, "" },
	[ST_CONNECT] = { MILTER_C_CONNECT, 0, MILTER_P_NOCONNECT,
	    MILTER_P_NR_CONN,
	    "j {daemon_name} {daemon_addr} {daemon_port} v _ {client_addr} "
	    "{client_port} "
	    "{client_name} {client_ptr}" },
	[ST_HELO] = { MILTER_C_HELO, 1, MILTER_P_NOHELO, MILTER_P_NR_HELO,
	    "{tls_version} {cipher} {cipher_bits} {cert_subject} "
	    "{cert_issuer}" },
	[ST_MAIL] = { MILTER_C_MAIL, 2, MILTER_P_NOMAIL, MILTER_P_NR_MAIL,
	    "i {auth_type} {auth_authen} {auth_author} {mail_addr} "
	    "{mail_host} {mail_mailer}" },
	[ST_RCPT] = { MILTER_C_RCPT, 3, MILTER_P_NORCPT, MILTER_P_NR_RCPT,
	    "i {rcpt_addr} {rcpt_host} {rcpt_mailer}" },
	[ST_DATA] = { MILTER_C_DATA, 4, MILTER_P_NODATA, MILTER_P_NR_DATA,
	    "i" },
	[ST_UNKNOWN] = { MILTER_C_UNKNOWN, -1, MILTER_P_NOUNKNOWN,
	    MILTER_P_NR_UNKN, "" },
	[ST_EOM] = { MILTER_C_BODYEOB, 5, 0, 0, "i" },
};
#define EOH_MACROS "i"
#define SYM_EOH 6

/* Where a filter is in the end of message. */
enum eom_phase {
	E_HEADER = 0, /* sending field hdr_i */
	E_EOH,
	E_BODY, /* sending the chunk at body_at */
	E_EOB,  /* BODYEOB sent: modifications, then the verdict */
};

enum fstate {
	F_IDLE = 0, /* not connected */
	F_CONNECTING,
	F_OPTNEG, /* OPTNEG sent */
	F_READY,
	F_FAILED, /* closed: its default action stands */
};

struct filter {
	struct milter_client *mc;
	const struct conf_milter *cm;
	enum fstate st;
	struct bufferevent *bev;
	struct event *timer;
	struct milter_dec *dec;
	struct milter_optneg neg;
	char *sym[MILTER_STAGE_MAX + 1]; /* SETSYMLIST names, or NULL */
	bool waiting;      /* a reply is due */
	bool draining;     /* no-reply content waits for the socket */
	/* The latest a PROGRESS may extend the wait to. */
	struct timespec wait_end;
	bool skip_session; /* accepted at connect or HELO */
	bool skip_msg;     /* accepted for this message */
	bool in_msg;       /* saw part of the transaction */
	bool failed_temp;  /* failed, default_action tempfail */
	enum eom_phase ph;
	size_t hdr_i;
	uint64_t body_at;
};

struct macro {
	char *name; /* without braces */
	char *value;
};

struct milter_client {
	struct event_base *base;
	const struct conf *conf;
	uint64_t sid;
	struct filter *f;
	size_t n;
	struct macro mac[MACROS_MAX];
	size_t nmac;
	struct event *later; /* calls done */

	/* The stage in flight. */
	enum stage stage;
	struct buf pkt; /* its command packet, the same for every filter */
	size_t cur;     /* the filter being asked */
	milter_done_fn *done;
	void *arg;
	struct milter_result res;
	bool finished; /* res is final; later will call done */

	/* The message (end of message). */
	const struct milter_src *src;
	struct milter_header hdr;
	bool hdr_read;
	size_t eom_next; /* first filter not yet asked for this message */
	struct milter_edits edits;
	uint8_t *chunk;
	struct buf out; /* a packet being built */
};

static void next_filter(struct milter_client *);
static void filter_send_stage(struct filter *);
static void eom_step(struct filter *);

/* ---- macros ------------------------------------------------------ */

/* "{name}" or "name" -> "name", n bytes at s. */
static void
bare_name(const char **s, size_t *n)
{
	if (*n >= 2 && (*s)[0] == '{' && (*s)[*n - 1] == '}') {
		(*s)++;
		*n -= 2;
	}
}

void
milter_client_macro(struct milter_client *mc, const char *name,
    const char *value)
{
	const char *b = name;
	size_t n = strlen(name), i;

	bare_name(&b, &n);
	for (i = 0; i < mc->nmac; i++)
		if (strlen(mc->mac[i].name) == n &&
		    memcmp(mc->mac[i].name, b, n) == 0)
			break;
	if (i == mc->nmac) {
		if (value == NULL || mc->nmac == MACROS_MAX)
			return;
		mc->mac[mc->nmac].name = xstrndup(b, n);
		mc->mac[mc->nmac++].value = NULL;
	}
	free(mc->mac[i].value);
	mc->mac[i].value = value != NULL ? xstrdup(value) : NULL;
}

static const char *
macro_get(const struct milter_client *mc, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < mc->nmac; i++)
		if (strlen(mc->mac[i].name) == n &&
		    memcmp(mc->mac[i].name, b, n) == 0)
			return mc->mac[i].value;
	return NULL;
}

/*
 * SMFIC_MACRO for `cmd` with the names in `list` (space-separated) that
 * have values, as "{name}" (one-letter names bare, as Sendmail sends
 * them). Appended to out.
 */
static int
macros_packet(const struct milter_client *mc, char cmd, const char *list,
    struct buf *out)
{
	const char *nv[2 * MACROS_MAX], *v, *s = list, *b;
	char names[MACROS_MAX][72];
	size_t n = 0, len;

	while (*s != '\0' && n / 2 < MACROS_MAX) {
		while (*s == ' ')
			s++;
		len = strcspn(s, " ");
		if (len == 0)
			break;
		b = s;
		s += len;
		bare_name(&b, &len);
		if (len == 0 || len > 64 || (v = macro_get(mc, b, len)) == NULL)
			continue;
		(void)snprintf(names[n / 2], sizeof(names[0]),
		    len == 1 ? "%.*s" : "{%.*s}", (int)len, b);
		nv[n] = names[n / 2];
		nv[n + 1] = v;
		n += 2;
	}
	if (n == 0)
		return 0;
	return milter_enc_macro(out, cmd, nv, n);
}

/* ---- results ----------------------------------------------------- */

static void
later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct milter_client *mc = arg;
	milter_done_fn *done = mc->done;
	void *darg = mc->arg;

	(void)fd;
	(void)what;
	mc->done = NULL;
	mc->stage = ST_NONE;
	mc->finished = false;
	if (done != NULL)
		done(darg, &mc->res); /* may free mc: last */
}

/* The stage is decided: done() from the loop, soon. */
static void
finish(struct milter_client *mc, enum milter_verdict v, const char *reply,
    const struct filter *f)
{
	if (mc->finished)
		return;
	mc->finished = true;
	mc->res.verdict = v;
	(void)strlcpy(mc->res.reply, reply != NULL ? reply : "",
	    sizeof(mc->res.reply));
	mc->res.milter = f != NULL ? f->cm->name : NULL;
	mc->res.edits = v == MILTER_V_EDITED ? &mc->edits : NULL;
	event_active(mc->later, EV_TIMEOUT, 0);
}

static bool
refusable(enum stage st)
{
	return st == ST_MAIL || st == ST_RCPT || st == ST_DATA ||
	       st == ST_EOM;
}

static const char *
default_reject(enum stage st)
{
	return st == ST_CONNECT ? reject_conn_text
	       : st == ST_EOM   ? reject_msg_text
			        : reject_text;
}

static const char *
default_tempfail(enum stage st)
{
	return st == ST_CONNECT ? tempfail_conn_text : tempfail_text;
}

/* ---- filter connections ------------------------------------------- */

static void
filter_close(struct filter *f)
{
	size_t i;

	if (f->bev != NULL) {
		bufferevent_free(f->bev);
		f->bev = NULL;
	}
	if (f->timer != NULL)
		evtimer_del(f->timer);
	milter_dec_free(f->dec);
	f->dec = NULL;
	for (i = 0; i <= MILTER_STAGE_MAX; i++) {
		free(f->sym[i]);
		f->sym[i] = NULL;
	}
	f->waiting = false;
	f->draining = false;
}

/*
 * The filter is down, slow or broken: close it, log, and apply its
 * default action to the stage in flight (if it was being asked).
 */
static void
filter_fail(struct filter *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
filter_fail(struct filter *f, const char *fmt, ...)
{
	struct milter_client *mc = f->mc;
	bool asked = mc->stage != ST_NONE && !mc->finished &&
	             &mc->f[mc->cur] == f;
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	f->failed_temp = f->cm->default_action == CONF_MILTER_TEMPFAIL;
	log_warn("event=milter_error sid=%llu milter=%s stage=%s action=%s "
	         "error=%s",
	    (unsigned long long)mc->sid, LOG_ESC(f->cm->name),
	    stage_names[mc->stage], f->failed_temp ? "tempfail" : "accept",
	    LOG_ESC(why));
	filter_close(f);
	f->st = F_FAILED;
	if (!asked)
		return;
	/* Changes it sent before breaking are not the next filter's. */
	if (mc->stage == ST_EOM)
		milter_edits_clear(&mc->edits);
	if (f->failed_temp && refusable(mc->stage)) {
		mc->res.failed = true;
		finish(mc, MILTER_V_TEMPFAIL, default_tempfail(mc->stage), f);
		return;
	}
	mc->cur++;
	next_filter(mc);
}

static void
arm(struct filter *f, unsigned seconds)
{
	struct timeval tv = { (time_t)seconds, 0 };

	f->waiting = true;
	(void)clock_gettime(CLOCK_MONOTONIC, &f->wait_end);
	f->wait_end.tv_sec += (time_t)seconds * PROGRESS_TIMEOUTS;
	evtimer_add(f->timer, &tv);
}

/* PROGRESS: the timeout again, but never past wait_end. */
static void
progress(struct filter *f, unsigned seconds)
{
	struct timespec now;
	struct timeval tv = { (time_t)seconds, 0 };
	int64_t left_us;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	left_us = (int64_t)(f->wait_end.tv_sec - now.tv_sec) * 1000000 +
	          (f->wait_end.tv_nsec - now.tv_nsec) / 1000;
	if (left_us <= 0)
		return; /* the running timer ends the wait */
	if (left_us < (int64_t)seconds * 1000000) {
		tv.tv_sec = (time_t)(left_us / 1000000);
		tv.tv_usec = (suseconds_t)(left_us % 1000000);
	}
	evtimer_add(f->timer, &tv);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct filter *f = arg;

	(void)fd;
	(void)what;
	filter_fail(f, "no reply within the timeout (%s)",
	    f->st == F_CONNECTING || f->st == F_OPTNEG ? "connect_timeout"
	    : f->mc->stage == ST_EOM ? "content_timeout"
				     : "command_timeout");
}

/* Queue a built packet (mc->out) to the filter. */
static bool
send_out(struct filter *f)
{
	struct milter_client *mc = f->mc;
	struct evbuffer *o = bufferevent_get_output(f->bev);
	const uint8_t *p = mc->out.data;
	size_t n = mc->out.len;
	ssize_t w;
	int rc = 0;

	/*
	 * Straight to the socket when nothing waits before it: a round trip
	 * per stage, and queueing each command would arm and disarm
	 * EV_WRITE and cost a loop turn every time (bench workload 10).
	 */
	if (f->st != F_CONNECTING && evbuffer_get_length(o) == 0) {
		w = send(bufferevent_getfd(f->bev), p, n,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR) {
			buf_clear(&mc->out);
			filter_fail(f, "send: %s", strerror(errno));
			return false;
		}
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		}
	}
	if (n > 0)
		rc = bufferevent_write(f->bev, p, n);
	buf_clear(&mc->out);
	if (rc == -1) {
		filter_fail(f, "out of memory queueing a command");
		return false;
	}
	return true;
}

static bool
build_failed(struct filter *f)
{
	buf_clear(&f->mc->out);
	filter_fail(f, "cannot encode the command: %s", strerror(errno));
	return false;
}

/* What we offer: every action, and every step a filter may skip. */
static const struct milter_optneg offer = {
	MILTER_VERSION,
	MILTER_A_ALL,
	MILTER_P_ALL & ~(MILTER_P_HDR_LEADSPC | MILTER_P_RCPT_REJ),
};

static void
on_optneg(struct filter *f, const struct milter_reply *r)
{
	const uint8_t *p = r->data;
	size_t n = r->data_len, len;
	const char *why, *names;
	uint32_t stage;

	if (r->code != MILTER_R_OPTNEG) {
		filter_fail(f, "expected the OPTNEG reply, got %s",
		    milter_reply_name(r->code));
		return;
	}
	if (milter_optneg_check(r, &offer, &f->neg, &why) == -1) {
		filter_fail(f, "negotiation: %s", why);
		return;
	}
	while (milter_symlist_next(&p, &n, &stage, &names, &len))
		if (stage <= MILTER_STAGE_MAX &&
		    (f->neg.actions & MILTER_A_SETSYMLIST)) {
			free(f->sym[stage]);
			f->sym[stage] = xstrndup(names, len);
		}
	evtimer_del(f->timer);
	f->waiting = false;
	f->st = F_READY;
	/*
	 * On with the connect stage that opened it, through next_filter()
	 * (mc->cur is still f) so that what the filter just negotiated
	 * counts: NOCONNECT skips the stage.
	 */
	next_filter(f->mc);
}

/* ---- replies ------------------------------------------------------ */

/* An SMFIR_REPLYCODE's reply as we send it: "%%" made "%". */
static void
replycode_text(const struct milter_reply *r, char *dst, size_t dstsz)
{
	size_t i, o = 0;

	for (i = 0; i < r->s1_len && o + 1 < dstsz; i++) {
		if (r->s1[i] == '%' && i + 1 < r->s1_len && r->s1[i + 1] == '%')
			i++;
		dst[o++] = r->s1[i];
	}
	dst[o] = '\0';
}

static bool
modification_allowed(const struct filter *f, char code)
{
	uint32_t a = f->neg.actions;

	switch (code) {
	case MILTER_R_ADDHEADER:
		return a & MILTER_A_ADDHDRS;
	case MILTER_R_INSHEADER:
	case MILTER_R_CHGHEADER:
		return a & (MILTER_A_CHGHDRS | MILTER_A_ADDHDRS);
	case MILTER_R_REPLBODY:
		return a & MILTER_A_CHGBODY;
	case MILTER_R_ADDRCPT:
		return a & MILTER_A_ADDRCPT;
	case MILTER_R_ADDRCPT_PAR:
		return a & MILTER_A_ADDRCPT_PAR;
	case MILTER_R_DELRCPT:
		return a & MILTER_A_DELRCPT;
	case MILTER_R_CHGFROM:
		return a & MILTER_A_CHGFROM;
	case MILTER_R_QUARANTINE:
		return a & MILTER_A_QUARANTINE;
	default:
		return false;
	}
}

/* This filter is done with the stage: on to the next one. */
static void
filter_next(struct filter *f)
{
	struct milter_client *mc = f->mc;

	evtimer_del(f->timer);
	f->waiting = false;
	mc->cur++;
	next_filter(mc);
}

/* The filter's verdict on the end of message. */
static void
eom_verdict(struct filter *f, enum milter_verdict v, const char *reply)
{
	struct milter_client *mc = f->mc;

	evtimer_del(f->timer);
	f->waiting = false;
	mc->eom_next = mc->cur + 1;
	if (v == MILTER_V_CONTINUE && milter_edits_any(&mc->edits)) {
		finish(mc, MILTER_V_EDITED, NULL, f);
		return;
	}
	if (v != MILTER_V_CONTINUE) {
		finish(mc, v, reply, f);
		return;
	}
	mc->cur++;
	next_filter(mc);
}

/* A reply that ends the stage for this filter, any stage. */
static bool
on_final(struct filter *f, const struct milter_reply *r)
{
	struct milter_client *mc = f->mc;
	char text[MILTER_REPLY_TEXT_MAX];
	enum milter_verdict v;

	switch (r->code) {
	case MILTER_R_REJECT:
		v = MILTER_V_REJECT;
		(void)strlcpy(text, default_reject(mc->stage), sizeof(text));
		break;
	case MILTER_R_TEMPFAIL:
		v = MILTER_V_TEMPFAIL;
		(void)strlcpy(text, default_tempfail(mc->stage),
		    sizeof(text));
		break;
	case MILTER_R_REPLYCODE:
		v = r->smtp_code >= 500 ? MILTER_V_REJECT : MILTER_V_TEMPFAIL;
		replycode_text(r, text, sizeof(text));
		break;
	case MILTER_R_DISCARD:
		if (mc->stage == ST_CONNECT || mc->stage == ST_HELO ||
		    mc->stage == ST_UNKNOWN)
			return false;
		v = MILTER_V_DISCARD;
		text[0] = '\0';
		break;
	default:
		return false;
	}
	if (mc->stage == ST_EOM) {
		eom_verdict(f, v, text);
		return true;
	}
	evtimer_del(f->timer);
	f->waiting = false;
	finish(mc, v, text, f);
	return true;
}

/* ACCEPT: no more of this message (at connect, HELO: of the session). */
static void
on_accept(struct filter *f)
{
	struct milter_client *mc = f->mc;

	if (mc->stage == ST_CONNECT || mc->stage == ST_HELO)
		f->skip_session = true;
	else
		f->skip_msg = true;
	if (mc->stage == ST_EOM) {
		eom_verdict(f, MILTER_V_CONTINUE, NULL);
		return;
	}
	filter_next(f);
}

static void
on_eom_reply(struct filter *f, const struct milter_reply *r)
{
	struct milter_client *mc = f->mc;
	const char *why;

	if (r->code == MILTER_R_CONTINUE && f->ph != E_EOB) {
		evtimer_del(f->timer);
		f->waiting = false;
		eom_step(f);
		return;
	}
	if (r->code == MILTER_R_SKIP && f->ph == E_BODY &&
	    (f->neg.proto & MILTER_P_SKIP)) {
		evtimer_del(f->timer);
		f->waiting = false;
		f->body_at = milter_src_len(mc->src);
		eom_step(f);
		return;
	}
	if (r->code == MILTER_R_CONTINUE || r->code == MILTER_R_ACCEPT) {
		on_accept(f);
		return;
	}
	if (f->ph == E_EOB && modification_allowed(f, r->code)) {
		if (milter_edits_add(&mc->edits, r, &why) == -1)
			filter_fail(f, "%s", why);
		return; /* the verdict is still to come */
	}
	if (!on_final(f, r))
		filter_fail(f, "unexpected reply '%s' at %s",
		    milter_reply_name(r->code),
		    f->ph == E_EOB ? "end of message" : "the message");
}

static void
on_reply(struct filter *f, const struct milter_reply *r)
{
	struct milter_client *mc = f->mc;

	if (r->code == MILTER_R_PROGRESS && f->waiting) {
		progress(f, mc->stage == ST_EOM ? f->cm->content_timeout
						: f->cm->command_timeout);
		return;
	}
	if (f->st == F_OPTNEG) {
		on_optneg(f, r);
		return;
	}
	if (!f->waiting || &mc->f[mc->cur] != f || mc->finished) {
		filter_fail(f, "reply '%s' when none was asked for",
		    milter_reply_name(r->code) != NULL
		        ? milter_reply_name(r->code)
		        : "?");
		return;
	}
	if (mc->stage == ST_EOM) {
		on_eom_reply(f, r);
		return;
	}
	if (r->code == MILTER_R_CONTINUE) {
		filter_next(f);
		return;
	}
	if (r->code == MILTER_R_ACCEPT) {
		on_accept(f);
		return;
	}
	if (!on_final(f, r))
		filter_fail(f, "unexpected reply '%s' at %s",
		    milter_reply_name(r->code), stage_names[mc->stage]);
}

/* The queued content has left: send the next of it (eom_step). */
static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct filter *f = arg;

	(void)bev;
	if (!f->draining)
		return;
	f->draining = false;
	evtimer_del(f->timer);
	f->waiting = false;
	eom_step(f);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct filter *f = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	const struct milter_reply *r;
	enum milter_dec_status ds;
	struct evbuffer_iovec v;
	const char *why;
	size_t used;

	while (f->bev != NULL && evbuffer_peek(in, -1, NULL, &v, 1) > 0) {
		ds = milter_dec_feed(f->dec, v.iov_base, v.iov_len, &used, &r,
		    &why);
		evbuffer_drain(in, used);
		if (ds == MILTER_DEC_ERROR) {
			filter_fail(f, "bad reply: %s", why);
			return;
		}
		if (ds == MILTER_DEC_REPLY)
			on_reply(f, r); /* may close f->bev */
	}
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct filter *f = arg;
	struct milter_client *mc = f->mc;
	int err = errno;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		f->st = F_OPTNEG;
		if (milter_enc_optneg(&mc->out, offer.version, offer.actions,
		        offer.proto) == -1) {
			(void)build_failed(f);
			return;
		}
		if (send_out(f))
			arm(f, f->cm->connect_timeout);
		return;
	}
	if (what & BEV_EVENT_EOF)
		filter_fail(f, "closed the connection");
	else
		filter_fail(f, "%s: %s",
		    f->st == F_CONNECTING ? "cannot connect" : "socket error",
		    err != 0 ? strerror(err) : "connection failed");
}

/* Open the connection; the stage goes on once it is negotiated. */
static void
filter_open(struct filter *f)
{
	struct milter_client *mc = f->mc;
	struct milter_limits lim = { MILTER_REPLY_MAX, REPLBODY_CHUNK_MAX };

	f->dec = milter_dec_new(&lim);
	f->bev = bufferevent_socket_new(mc->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (f->dec == NULL || f->bev == NULL) {
		filter_fail(f, "out of memory");
		return;
	}
	bufferevent_setcb(f->bev, read_cb, write_cb, event_cb, f);
	bufferevent_enable(f->bev, EV_READ);
	f->st = F_CONNECTING;
	arm(f, f->cm->connect_timeout);
	if (bufferevent_socket_connect(f->bev,
	        (const struct sockaddr *)&f->cm->sa,
	        (int)f->cm->salen) == -1)
		filter_fail(f, "cannot connect: %s", strerror(errno));
}

/* ---- stages ------------------------------------------------------- */

static const char *
stage_macros(const struct filter *f, int sym, const char *def)
{
	if (sym >= 0 && sym <= MILTER_STAGE_MAX && f->sym[sym] != NULL)
		return f->sym[sym];
	return def;
}

/* Send the stage's macros and command to f; wait for its reply. */
static void
filter_send_stage(struct filter *f)
{
	struct milter_client *mc = f->mc;
	const struct stage_desc *d = &stages[mc->stage];

	if (mc->stage == ST_EOM) {
		f->ph = E_HEADER;
		f->hdr_i = 0;
		f->body_at = mc->hdr.body_off;
		f->in_msg = true;
		eom_step(f);
		return;
	}
	if (macros_packet(mc, d->cmd, stage_macros(f, d->sym, d->macros),
	        &mc->out) == -1 ||
	    buf_append(&mc->out, mc->pkt.data, mc->pkt.len) == -1) {
		(void)build_failed(f);
		return;
	}
	if (mc->stage != ST_CONNECT && mc->stage != ST_HELO &&
	    mc->stage != ST_UNKNOWN)
		f->in_msg = true;
	if (!send_out(f))
		return;
	if (f->neg.proto & d->nr) {
		mc->cur++;
		next_filter(mc);
		return;
	}
	arm(f, f->cm->command_timeout);
}

/* Ask filters from mc->cur on, until one decides or all have said. */
static void
next_filter(struct milter_client *mc)
{
	const struct stage_desc *d = &stages[mc->stage];
	struct filter *f;

	for (; mc->cur < mc->n && !mc->finished; mc->cur++) {
		f = &mc->f[mc->cur];
		if (f->st == F_FAILED) {
			if (f->failed_temp && refusable(mc->stage)) {
				mc->res.failed = true;
				finish(mc, MILTER_V_TEMPFAIL,
				    default_tempfail(mc->stage), f);
				return;
			}
			continue;
		}
		if (f->skip_session ||
		    (f->skip_msg && mc->stage != ST_CONNECT &&
		        mc->stage != ST_HELO && mc->stage != ST_UNKNOWN))
			continue;
		if (f->st == F_IDLE) {
			if (mc->stage != ST_CONNECT)
				continue; /* never connected: nothing to ask */
			filter_open(f);
			return;
		}
		if (f->st != F_READY || (f->neg.proto & d->no))
			continue;
		/* Sendmail 8.14's rule: DATA from version 4, UNKNOWN 3. */
		if ((mc->stage == ST_DATA && f->neg.version < 4) ||
		    (mc->stage == ST_UNKNOWN && f->neg.version < 3))
			continue;
		filter_send_stage(f);
		return;
	}
	if (mc->stage == ST_EOM && !mc->finished)
		mc->eom_next = mc->n;
	finish(mc, MILTER_V_CONTINUE, NULL, NULL);
}

static void
stage_begin(struct milter_client *mc, enum stage st, milter_done_fn *done,
    void *arg)
{
	ASSERT(mc->stage == ST_NONE);
	mc->stage = st;
	mc->done = done;
	mc->arg = arg;
	mc->cur = 0;
	mc->finished = false;
	memset(&mc->res, 0, sizeof(mc->res));
}

static void
stage_start(struct milter_client *mc, enum stage st, milter_done_fn *done,
    void *arg)
{
	stage_begin(mc, st, done, arg);
	next_filter(mc);
}

/* Encoding our own data failed (too long for a packet): as a failure of
 * no filter in particular, the stage tempfails. */
static void
stage_unencodable(struct milter_client *mc, enum stage st,
    milter_done_fn *done, void *arg)
{
	mc->stage = st;
	mc->done = done;
	mc->arg = arg;
	mc->finished = false;
	memset(&mc->res, 0, sizeof(mc->res));
	log_warn("event=milter_error sid=%llu stage=%s error=%s",
	    (unsigned long long)mc->sid, stage_names[st],
	    LOG_ESC(strerror(errno)));
	mc->res.failed = true;
	finish(mc, MILTER_V_TEMPFAIL, default_tempfail(st), NULL);
}

void
milter_client_connect(struct milter_client *mc, const char *host,
    const struct sockaddr *sa, milter_done_fn *done, void *arg)
{
	char addr[INET6_ADDRSTRLEN] = "";
	uint16_t port = 0;
	char fam = MILTER_FAM_UNKNOWN;
	int rc;

	buf_clear(&mc->pkt);
	if (sa != NULL && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		fam = MILTER_FAM_INET;
		port = ntohs(in->sin_port);
		(void)inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		fam = MILTER_FAM_INET6;
		port = ntohs(in6->sin6_port);
		(void)inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
	}
	rc = milter_enc_connect(&mc->pkt, host, fam, port,
	    fam == MILTER_FAM_UNKNOWN ? NULL : addr);
	if (rc == -1) {
		stage_unencodable(mc, ST_CONNECT, done, arg);
		return;
	}
	stage_start(mc, ST_CONNECT, done, arg);
}

void
milter_client_helo(struct milter_client *mc, const char *helo,
    milter_done_fn *done, void *arg)
{
	buf_clear(&mc->pkt);
	if (milter_enc_helo(&mc->pkt, helo) == -1) {
		stage_unencodable(mc, ST_HELO, done, arg);
		return;
	}
	stage_start(mc, ST_HELO, done, arg);
}

/* A new transaction: every filter is asked again. */
static void
msg_reset(struct milter_client *mc)
{
	size_t i;

	for (i = 0; i < mc->n; i++) {
		mc->f[i].skip_msg = false;
		mc->f[i].in_msg = false;
	}
	mc->eom_next = 0;
	milter_edits_clear(&mc->edits);
}

void
milter_client_mail(struct milter_client *mc, const char *addr,
    const char *const *params, size_t nparams, milter_done_fn *done,
    void *arg)
{
	msg_reset(mc);
	buf_clear(&mc->pkt);
	if (milter_enc_mail(&mc->pkt, addr, params, nparams) == -1) {
		stage_unencodable(mc, ST_MAIL, done, arg);
		return;
	}
	stage_start(mc, ST_MAIL, done, arg);
}

void
milter_client_rcpt(struct milter_client *mc, const char *addr,
    const char *const *params, size_t nparams, milter_done_fn *done,
    void *arg)
{
	buf_clear(&mc->pkt);
	if (milter_enc_rcpt(&mc->pkt, addr, params, nparams) == -1) {
		stage_unencodable(mc, ST_RCPT, done, arg);
		return;
	}
	stage_start(mc, ST_RCPT, done, arg);
}

void
milter_client_data(struct milter_client *mc, milter_done_fn *done, void *arg)
{
	buf_clear(&mc->pkt);
	if (milter_enc_cmd(&mc->pkt, MILTER_C_DATA) == -1) {
		stage_unencodable(mc, ST_DATA, done, arg);
		return;
	}
	stage_start(mc, ST_DATA, done, arg);
}

void
milter_client_unknown(struct milter_client *mc, const char *line,
    milter_done_fn *done, void *arg)
{
	buf_clear(&mc->pkt);
	if (milter_enc_unknown(&mc->pkt, line) == -1) {
		stage_unencodable(mc, ST_UNKNOWN, done, arg);
		return;
	}
	stage_start(mc, ST_UNKNOWN, done, arg);
}

/* ---- the message -------------------------------------------------- */

/*
 * SMFIC_HEADER for field i: the value without the one blank after the
 * colon, its CRLF line breaks sent as LF, as Sendmail and Postfix do.
 */
static int
header_packet(struct milter_client *mc, size_t i)
{
	const struct milter_field *fl = &mc->hdr.f[i];
	const char *base = (const char *)mc->hdr.data.data;
	const char *v = base + fl->value_off;
	size_t vn = fl->value_len, k, o = 0;
	char *name, *value;
	int rc;

	if (vn > 0 && (v[0] == ' ' || v[0] == '\t')) {
		v++;
		vn--;
	}
	name = xstrndup(base + fl->off, fl->name_len);
	value = xmalloc(vn + 1);
	for (k = 0; k < vn; k++) {
		if (v[k] == '\r' && k + 1 < vn && v[k + 1] == '\n')
			continue;
		value[o++] = v[k] == '\0' ? ' ' : v[k];
	}
	value[o] = '\0';
	rc = milter_enc_header(&mc->out, name, value);
	free(name);
	free(value);
	return rc;
}

/* One step of f's end of message: send the next piece, or the end. */
static void
eom_step(struct filter *f)
{
	struct milter_client *mc = f->mc;
	uint64_t total = milter_src_len(mc->src);
	uint32_t p = f->neg.proto;
	uint32_t nr = 0;
	ssize_t got;
	int rc = 0;

	f->draining = false;
	for (;;) {
		switch (f->ph) {
		case E_HEADER:
			if ((p & MILTER_P_NOHDRS) || f->hdr_i >= mc->hdr.n) {
				f->ph = E_EOH;
				continue;
			}
			rc = header_packet(mc, f->hdr_i++);
			nr = p & MILTER_P_NR_HDR;
			break;
		case E_EOH:
			f->ph = E_BODY;
			if (p & MILTER_P_NOEOH)
				continue;
			rc = macros_packet(mc, MILTER_C_EOH,
			    stage_macros(f, SYM_EOH, EOH_MACROS), &mc->out);
			if (rc == 0)
				rc = milter_enc_cmd(&mc->out, MILTER_C_EOH);
			nr = p & MILTER_P_NR_EOH;
			break;
		case E_BODY:
			if ((p & MILTER_P_NOBODY) || f->body_at >= total) {
				f->ph = E_EOB;
				continue;
			}
			if (mc->chunk == NULL) /* sessions without mail: none */
				mc->chunk = xmalloc(MILTER_CHUNK_MAX);
			got = milter_src_read(mc->src, f->body_at, mc->chunk,
			    MILTER_CHUNK_MAX);
			if (got <= 0) {
				/* Our own file: not the filter's fault. */
				log_warn("event=milter_error sid=%llu "
				         "error=%s",
				    (unsigned long long)mc->sid,
				    LOG_ESC(got == 0 ? "message shorter than "
				                       "expected"
				                     : strerror(errno)));
				mc->res.failed = true;
				finish(mc, MILTER_V_TEMPFAIL, tempfail_text,
				    NULL);
				return;
			}
			f->body_at += (uint64_t)got;
			rc = milter_enc_body(&mc->out, mc->chunk, (size_t)got);
			nr = p & MILTER_P_NR_BODY;
			break;
		case E_EOB:
			rc = macros_packet(mc, MILTER_C_BODYEOB,
			    stage_macros(f, stages[ST_EOM].sym,
			        stages[ST_EOM].macros),
			    &mc->out);
			if (rc == 0)
				rc = milter_enc_cmd(&mc->out,
				    MILTER_C_BODYEOB);
			nr = 0;
			break;
		}
		if (rc == -1) {
			(void)build_failed(f);
			return;
		}
		if (!send_out(f))
			return;
		if (!nr)
			break;
		if (evbuffer_get_length(bufferevent_get_output(f->bev)) >
		    OUT_QUEUED_MAX) {
			f->draining = true; /* write_cb goes on */
			break;
		}
	}
	arm(f, f->ph == E_HEADER || f->ph == E_EOH ? f->cm->command_timeout
						   : f->cm->content_timeout);
}

void
milter_client_eom(struct milter_client *mc, const struct milter_src *src,
    milter_done_fn *done, void *arg)
{
	mc->src = src;
	milter_header_free(&mc->hdr);
	memset(&mc->hdr, 0, sizeof(mc->hdr));
	milter_edits_clear(&mc->edits);
	if (milter_header_read(src, MILTER_HEADER_MAX, &mc->hdr) == -1) {
		stage_unencodable(mc, ST_EOM, done, arg);
		return;
	}
	stage_begin(mc, ST_EOM, done, arg);
	mc->cur = mc->eom_next; /* the filters not yet asked */
	next_filter(mc);
}

void
milter_client_abort(struct milter_client *mc)
{
	size_t i;

	for (i = 0; i < mc->n; i++) {
		struct filter *f = &mc->f[i];

		if (f->st != F_READY || !f->in_msg)
			continue;
		if (milter_enc_cmd(&mc->out, MILTER_C_ABORT) == 0)
			(void)send_out(f);
		else
			buf_clear(&mc->out);
	}
	msg_reset(mc);
	milter_header_free(&mc->hdr);
	memset(&mc->hdr, 0, sizeof(mc->hdr));
	mc->src = NULL;
}

/* ---- life --------------------------------------------------------- */

struct milter_client *
milter_client_new(struct event_base *base, const struct conf *conf,
    const size_t *idx, size_t n, uint64_t sid, uint64_t body_max)
{
	struct milter_client *mc = xcalloc(1, sizeof(*mc));
	size_t i;

	mc->base = base;
	mc->conf = conf_ref(conf);
	mc->sid = sid;
	mc->n = n;
	mc->f = xcalloc(n, sizeof(*mc->f));
	for (i = 0; i < n; i++) {
		mc->f[i].mc = mc;
		mc->f[i].cm = &conf->milters[idx[i]];
		mc->f[i].timer = evtimer_new(base, timer_cb, &mc->f[i]);
		if (mc->f[i].timer == NULL)
			PANIC("evtimer_new failed");
	}
	mc->later = event_new(base, -1, 0, later_cb, mc);
	if (mc->later == NULL)
		PANIC("event_new failed");
	buf_init(&mc->pkt, MILTER_REPLY_MAX + 1024);
	buf_init(&mc->out, MILTER_REPLY_MAX + 1024);
	milter_edits_init(&mc->edits, body_max);
	return mc;
}

/*
 * QUIT, best effort and never waited for (the filter sees EOF anyway):
 * after what is still queued, such as the ABORT of a transaction that
 * ended just before, so that neither is lost; not behind a backlog
 * bigger than QUIT_FLUSH_MAX (a body being sent): then EOF only.
 */
static void
say_quit(struct milter_client *mc, struct filter *f)
{
	struct evbuffer *o = bufferevent_get_output(f->bev);
	size_t n = evbuffer_get_length(o);

	if (n <= QUIT_FLUSH_MAX &&
	    (n == 0 || buf_append(&mc->out, evbuffer_pullup(o, -1), n) == 0) &&
	    milter_enc_cmd(&mc->out, MILTER_C_QUIT) == 0)
		(void)send(bufferevent_getfd(f->bev), mc->out.data,
		    mc->out.len, MSG_DONTWAIT | MSG_NOSIGNAL);
	buf_clear(&mc->out);
}

void
milter_client_free(struct milter_client *mc)
{
	size_t i;

	if (mc == NULL)
		return;
	for (i = 0; i < mc->n; i++) {
		struct filter *f = &mc->f[i];

		if (f->st == F_READY)
			say_quit(mc, f);
		filter_close(f);
		event_free(f->timer);
	}
	for (i = 0; i < mc->nmac; i++) {
		free(mc->mac[i].name);
		free(mc->mac[i].value);
	}
	event_free(mc->later);
	milter_header_free(&mc->hdr);
	milter_edits_free(&mc->edits);
	buf_reset(&mc->pkt);
	buf_reset(&mc->out);
	free(mc->chunk);
	free(mc->f);
	conf_unref(mc->conf);
	free(mc);
}

/* ---- the envelope's edits ----------------------------------------- */

bool
milter_addr_parse(const char *a, bool null_ok, char *dst, size_t dstsz)
{
	struct smtp_addr addr;
	const char *why;
	size_t n = strlen(a);

	if (n >= 2 && a[0] == '<' && a[n - 1] == '>') {
		a++;
		n -= 2;
	}
	if (!smtp_mailbox_parse(a, n,
	        SMTP_ADDR_UTF8 | (null_ok ? SMTP_ADDR_NULL_OK : 0), &addr,
	        &why))
		return false;
	return smtp_addr_format(&addr, dst, dstsz) != -1;
}

bool
milter_edits_deletes(const struct milter_edits *e, const char *addr)
{
	struct milter_dels d;
	bool yes;

	milter_dels_init(&d, e);
	yes = milter_dels_has(&d, addr);
	milter_dels_free(&d);
	return yes;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

#define DEL_ADDR_MAX 1024 /* longer than any canonical mailbox */

void
milter_dels_init(struct milter_dels *d, const struct milter_edits *e)
{
	char a[DEL_ADDR_MAX];
	size_t i;

	d->a = xcalloc(e->ndel_rcpt, sizeof(*d->a));
	d->n = 0;
	for (i = 0; i < e->ndel_rcpt; i++)
		if (milter_addr_parse(e->del_rcpt[i], false, a, sizeof(a))) {
			ascii_lower_str(a);
			d->a[d->n++] = xstrdup(a);
		}
	qsort(d->a, d->n, sizeof(*d->a), cmp_str);
}

bool
milter_dels_has(const struct milter_dels *d, const char *addr)
{
	char a[DEL_ADDR_MAX];
	const char *key = a;

	if (d->n == 0 || strlcpy(a, addr, sizeof(a)) >= sizeof(a))
		return false; /* too long to equal any of them */
	ascii_lower_str(a);
	return bsearch(&key, d->a, d->n, sizeof(*d->a), cmp_str) != NULL;
}

void
milter_dels_free(struct milter_dels *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->a[i]);
	free(d->a);
	d->a = NULL;
	d->n = 0;
}
