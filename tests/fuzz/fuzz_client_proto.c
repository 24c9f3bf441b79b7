/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for client/proto.c: the SMTP/LMTP client state
 * machine talking to a hostile server. The server's bytes go through the
 * real reply parser (smtp/reply.h) and the events are handled as
 * client/client.c does (client_open, client_send for each message,
 * client_close), with the socket, the TLS handshake and the body faked.
 *
 * Input: three option bytes, then the server's byte stream.
 *   byte 0: bit 0 LMTP; bits 1-2 TLS mode (1 none, 2 require, else may);
 *           bit 3 the driver can do TLS; bit 4 an AUTH user; bit 5 an
 *           AUTH password; bit 6 the TLS handshake succeeds; bit 7
 *           implicit TLS (handshake before the greeting).
 *   byte 1: bits 0-2 recipients - 1; bit 3 8-bit body; bit 4 needs
 *           SMTPUTF8; bit 5 DSN parameters; bit 6 per-recipient replies
 *           wanted; bit 7 a message larger than any SIZE.
 *   byte 2: bits 0-1 messages - 1; bit 2 no peer name; bits 3-7 read
 *           size / 8, 0: the whole stream is one read. After STARTTLS
 *           the rest of the current read is dropped (client.c, RFC 3207
 *           4.2).
 * The engine has no BDAT/DATA option: it uses BDAT when the server
 * offers CHUNKING, so the server's EHLO chooses.
 *
 * Checks (abort): every command line queued ends in CRLF and holds no
 * other CR, LF or NUL; the credential mark stays inside `out`; nothing is
 * queued when the engine asks for TLS or the body, or is idle or closed;
 * STARTTLS is alone in its write, and so is EHLO after the handshake; a
 * model of the commands in flight (one reply each; LMTP: one per
 * accepted recipient after the data) says the engine never waits with
 * nothing in flight and is never idle with replies due, unless the server
 * itself answered more than it was asked; results and kept replies exist
 * only for real recipients (exact heap arrays, freed after each message
 * as deliver/remote.c does), have a code 0 or 200..559, NUL-terminated
 * texts without CR or LF, and a recipient is delivered only if its body
 * was sent and a 2xx decided it; the phase is always a defined one.
 * Work is bounded: at most FZ_REPLIES_MAX replies per input.
 * TERN_FUZZ_ECHO=1 traces commands, replies and results to stderr (to
 * see how deep a seed gets).
 * Trust: test code; ASan, UBSan and LSan do the rest.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/proto.h"
#include "smtp/params.h"

#define FZ_REPLIES_MAX 200 /* replies read per input */
#define FZ_FLIGHT_MAX 64   /* commands in flight the model tracks */
#define FZ_LINE_MAX 512    /* RFC 5321 4.5.3.1.4, with CRLF */

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

static bool echo; /* TERN_FUZZ_ECHO=1 */

/* What the server owes a reply to, in order. */
enum fz_kind {
	K_OTHER = 0, /* one reply */
	K_MAIL,      /* one reply; 2xx opens the transaction */
	K_RCPT,      /* one reply; 2xx accepts a recipient */
	K_LMTP_END,  /* LMTP end of data: one reply per accepted recipient */
};

struct fz {
	struct client_proto p;
	struct smtp_reply_parser *rp;
	const uint8_t *in;
	size_t n, pos, rend; /* rend: end of the current read */
	size_t rsize;        /* read size, 0: everything at once */
	unsigned nreplies;
	bool tls_ok, implicit;
	/* The model of the commands in flight. */
	enum fz_kind flight[FZ_FLIGHT_MAX];
	size_t nflight;
	bool desync; /* the server answered more than it was asked */
	bool m_mail_ok;
	size_t m_accepted, m_end_left;
	bool body_sent; /* in this transaction */
};

static void
check_phase(const struct fz *f)
{
	if ((unsigned)f->p.phase > CP_CLOSED)
		abort();
	if (client_phase_awaits(f->p.phase) == NULL)
		abort();
	switch (client_proto_timeout(&f->p)) {
	case 120:
	case 300:
	case 600:
		break;
	default:
		abort();
	}
}

/* s[0..sz) holds a NUL, and no CR or LF before it. */
static void
check_text(const char *s, size_t sz)
{
	size_t i;

	for (i = 0; i < sz && s[i] != '\0'; i++)
		if (s[i] == '\r' || s[i] == '\n')
			abort();
	if (i == sz)
		abort();
}

static void
check_reply(const struct client_reply *cr)
{
	size_t i;

	check_text(cr->esc, sizeof(cr->esc));
	check_text(cr->text, sizeof(cr->text));
	if (cr->code == 0)
		return;
	if (cr->code < 200 || cr->code > 559)
		abort();
	if (cr->cmd == NULL || cr->cmd[0] == '\0')
		abort();
	/* "" or "X.Y.Z" with digits (RFC 3463). */
	for (i = 0; cr->esc[i] != '\0'; i++)
		if (!(cr->esc[i] == '.' ||
		        (cr->esc[i] >= '0' && cr->esc[i] <= '9')))
			abort();
}

static void
check_why(const struct why *w)
{
	if (w->kind != WHY_NONE && w->kind != WHY_TEMP && w->kind != WHY_PERM)
		abort();
	check_text(w->text, sizeof(w->text));
}

static void
push(struct fz *f, enum fz_kind k)
{
	if (f->nflight == FZ_FLIGHT_MAX) {
		f->desync = true; /* more than the model follows: stop */
		return;
	}
	f->flight[f->nflight++] = k;
}

/* A reply arrived: the model's head command got (one of) its reply. */
static void
model_reply(struct fz *f, const struct smtp_reply *r)
{
	bool ok = smtp_reply_class(r) == 2;

	if (f->nflight == 0) {
		f->desync = true;
		return;
	}
	switch (f->flight[0]) {
	case K_MAIL:
		f->m_mail_ok = ok;
		f->m_accepted = 0;
		break;
	case K_RCPT:
		if (ok && f->m_mail_ok)
			f->m_accepted++;
		break;
	case K_LMTP_END:
		/* RFC 2033 4.2; none accepted: a single refusal. */
		if (f->m_end_left == 0)
			f->m_end_left = f->m_accepted > 0 ? f->m_accepted : 1;
		if (--f->m_end_left > 0)
			return;
		break;
	case K_OTHER:
		break;
	}
	f->nflight--;
	memmove(f->flight, f->flight + 1, f->nflight * sizeof(f->flight[0]));
}

/* The body went out (DATA's dot-stuffed one ends with "."). */
static void
body_out(struct fz *f, bool data)
{
	f->body_sent = true;
	if (data)
		push(f, f->p.o.lmtp ? K_LMTP_END : K_OTHER);
}

/* What client.c's flush() does: check, send (into the model), empty. */
static void
flush(struct fz *f)
{
	const struct buf *b = &f->p.out;
	const uint8_t *l, *nl;
	size_t pos = 0, len, i;
	bool bdat;

	if (f->p.secret_len > 0 &&
	    (f->p.secret_off > b->len ||
	        f->p.secret_len > b->len - f->p.secret_off))
		abort();
	while (pos < b->len) {
		l = b->data + pos;
		nl = memchr(l, '\n', b->len - pos);
		if (nl == NULL) /* a command without its CRLF */
			abort();
		len = (size_t)(nl - l) + 1;
		/* "\r\n" alone is an empty AUTH response (RFC 4954 4). */
		if (len < 2 || l[len - 2] != '\r' || len > FZ_LINE_MAX)
			abort();
		for (i = 0; i < len - 2; i++)
			if (l[i] == '\r' || l[i] == '\n' || l[i] == '\0')
				abort();
		if (echo)
			fprintf(stderr, "C: %.*s\n", (int)(len - 2), l);
		bdat = len > 5 && memcmp(l, "BDAT ", 5) == 0;
		if (len > 10 && memcmp(l, "MAIL FROM:", 10) == 0)
			push(f, K_MAIL);
		else if (len > 8 && memcmp(l, "RCPT TO:", 8) == 0)
			push(f, K_RCPT);
		else if ((bdat || (len == 3 && l[0] == '.')) && f->p.o.lmtp)
			push(f, K_LMTP_END);
		else
			push(f, K_OTHER);
		pos += len;
	}
	if (f->p.secret_len > 0)
		explicit_bzero(f->p.out.data, f->p.out.len);
	f->p.secret_len = 0;
	buf_clear(&f->p.out);
}

/* Nothing queued: the engine waits for the caller, or is gone. */
static void
check_empty(const struct fz *f)
{
	if (f->p.out.len != 0 || f->p.body_after_out)
		abort();
}

/* Idle, or about to do TLS: no reply may still be due. */
static void
check_nothing_due(const struct fz *f)
{
	if (!f->desync && f->nflight != 0)
		abort();
}

/* client.c's read_reply(): 0 with *r, or -1 (EOF, bad reply, budget). */
static int
read_reply(struct fz *f, const struct smtp_reply **r)
{
	enum smtp_reply_status st;
	size_t used;

	for (;;) {
		if (f->nreplies >= FZ_REPLIES_MAX)
			return -1;
		if (f->pos == f->rend) {
			if (f->pos == f->n)
				return -1; /* connection closed */
			f->rend = f->rsize == 0 || f->n - f->pos < f->rsize
			              ? f->n
			              : f->pos + f->rsize;
		}
		*r = NULL;
		st = smtp_reply_parse(f->rp, f->in + f->pos, f->rend - f->pos,
		    &used, r);
		if (used == 0 || used > f->rend - f->pos)
			abort();
		f->pos += used;
		if (st == SMTP_REPLY_NEED_MORE)
			continue;
		if (st != SMTP_REPLY_DONE)
			return -1;
		if (*r == NULL || (*r)->code < 200 || (*r)->code > 559)
			abort();
		f->nreplies++;
		if (echo)
			fprintf(stderr, "S: %u %s\n", (*r)->code, (*r)->text);
		model_reply(f, *r);
		return 0;
	}
}

/* client.c's tls_start(): drop what was read, pretend a handshake. */
static int
tls_start(struct fz *f)
{
	/*
	 * The rest of this read came before the handshake. With one read
	 * for everything, reads are taken to end with each reply instead.
	 */
	if (f->rsize != 0)
		f->pos = f->rend;
	smtp_reply_reset(f->rp);
	if (!f->tls_ok)
		return -1;
	if (f->implicit && f->p.phase == CP_GREETING) {
		f->p.tls_active = true;
		return 0;
	}
	client_proto_tls_done(&f->p);
	/* RFC 3207 4.2: EHLO again, alone. */
	if (f->p.phase != CP_EHLO || f->p.out.len == 0 ||
	    memchr(f->p.out.data, '\n', f->p.out.len) !=
	        f->p.out.data + f->p.out.len - 1)
		abort();
	return 0;
}

/* client.c's pump(); on FAIL, *why says why. */
static enum client_event
pump(struct fz *f, struct why *why)
{
	const struct smtp_reply *r;
	enum client_event ev;

	for (;;) {
		check_phase(f);
		if (f->p.phase == CP_STARTTLS &&
		    (f->p.out.len != 10 ||
		        memcmp(f->p.out.data, "STARTTLS\r\n", 10) != 0))
			abort(); /* nothing may follow STARTTLS */
		flush(f);
		if (f->p.body_after_out) {
			body_out(f, false);
			client_proto_body_sent(&f->p);
		}
		if (f->p.phase == CP_CLOSED) {
			*why = f->p.why;
			return CLIENT_EV_FAIL;
		}
		/* Waiting with nothing in flight would hang for good. */
		if (!f->desync && f->nflight == 0)
			abort();
		if (read_reply(f, &r) == -1) {
			why_set(why, WHY_TEMP, 0, "connection lost");
			return CLIENT_EV_FAIL;
		}
		ev = client_proto_on_reply(&f->p, r);
		check_phase(f);
		if (echo)
			fprintf(stderr,
			    "   event %d phase %d in flight %zu%s\n", (int)ev,
			    (int)f->p.phase, f->nflight,
			    f->desync ? " desync" : "");
		switch (ev) {
		case CLIENT_EV_NONE:
			if (f->p.phase == CP_READY)
				abort(); /* idle, yet reading on */
			continue;
		case CLIENT_EV_TLS:
			check_empty(f);
			check_nothing_due(f);
			if (tls_start(f) == -1) {
				why_set(why, WHY_TEMP, 0, "TLS handshake");
				return CLIENT_EV_FAIL;
			}
			continue;
		case CLIENT_EV_BODY:
			check_empty(f);
			if (f->p.phase != CP_DOT)
				abort();
			body_out(f, true);
			client_proto_body_sent(&f->p);
			continue;
		case CLIENT_EV_READY:
		case CLIENT_EV_MSG_DONE:
			check_empty(f);
			check_nothing_due(f);
			if (f->p.phase != CP_READY)
				abort();
			return ev;
		case CLIENT_EV_FAIL:
			check_empty(f);
			check_reply(&f->p.fail_reply);
			check_why(&f->p.why);
			if (f->p.phase != CP_CLOSED ||
			    f->p.why.kind == WHY_NONE)
				abort();
			*why = f->p.why;
			return ev;
		default:
			abort();
		}
	}
}

/* client.c's client_open(): 0 when READY. */
static int
open_session(struct fz *f)
{
	struct why why;

	if (f->implicit && (!f->p.o.tls_possible || tls_start(f) == -1))
		return -1;
	push(f, K_OTHER); /* the greeting */
	return pump(f, &why) == CLIENT_EV_READY ? 0 : -1;
}

/* client.c's client_send() for one message; 0 if the session lives on. */
static int
send_msg(struct fz *f, uint8_t o1)
{
	static const char *addrs[8] = { "a@x.test", "b@x.test", "c@x.test",
		"d@x.test", "e@x.test", "f@x.test", "g@x.test", "h@x.test" };
	struct client_rcpt *rc;
	struct client_reply *cr = NULL;
	struct client_msg *m;
	struct why *res, why;
	enum client_event ev;
	size_t i, nr = (size_t)(o1 & 7) + 1;
	bool dsn = (o1 & 0x20) != 0;
	int ret = -1;

	/* Exact heap arrays: ASan catches a recipient that does not exist. */
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (rc = calloc(nr, sizeof(*rc))) == NULL ||
	    (res = malloc(nr * sizeof(*res))) == NULL ||
	    ((o1 & 0x40) && (cr = malloc(nr * sizeof(*cr))) == NULL))
		abort();
	for (i = 0; i < nr; i++) {
		rc[i].addr = addrs[i];
		if (dsn && (i & 1) == 0)
			rc[i].notify = i == 0 ? SMTP_NOTIFY_NEVER
			                      : SMTP_NOTIFY_SUCCESS |
			                            SMTP_NOTIFY_FAILURE |
			                            SMTP_NOTIFY_DELAY;
		if (dsn && i == 1)
			rc[i].orcpt = "rfc822;b@x.test";
	}
	m->sender = (o1 & 0x08) ? "" : "s@y.test";
	m->rcpts = rc;
	m->nrcpts = nr;
	m->size = (o1 & 0x80) ? UINT64_C(1) << 40 : 1234;
	m->eightbit = (o1 & 0x08) != 0;
	m->smtputf8 = (o1 & 0x10) != 0;
	m->ret = dsn ? SMTP_RET_HDRS : SMTP_RET_NONE;
	m->envid = dsn ? "QQ+2Bid" : NULL;
	f->body_sent = false;

	ev = client_proto_start(&f->p, m, res, cr);
	check_phase(f);
	if (ev == CLIENT_EV_MSG_DONE) { /* refused before sending anything */
		check_empty(f);
		if (f->p.phase != CP_READY)
			abort();
	}
	if (ev == CLIENT_EV_NONE)
		ev = pump(f, &why);
	else if (ev == CLIENT_EV_FAIL)
		why = f->p.why;
	if (ev == CLIENT_EV_MSG_DONE && f->p.phase == CP_READY)
		ret = 0;
	else {
		if (ev != CLIENT_EV_FAIL)
			why_set(&why, WHY_TEMP, 0, "protocol error");
		check_why(&why);
		client_proto_fail_rest(&f->p, &why);
		f->p.phase = CP_CLOSED;
	}
	for (i = 0; i < nr; i++) {
		if (echo)
			fprintf(stderr, "rcpt %zu: %d %u %s\n", i,
			    (int)res[i].kind, cr != NULL ? cr[i].code : 0,
			    res[i].text);
		check_why(&res[i]);
		if (cr != NULL)
			check_reply(&cr[i]);
		/* Delivered: its body went out and a 2xx said so. */
		if (res[i].kind == WHY_NONE &&
		    (!f->body_sent || (cr != NULL && cr[i].code / 100 != 2)))
			abort();
		/* Refused: never by a 2xx. */
		if (res[i].kind != WHY_NONE && cr != NULL &&
		    cr[i].code / 100 == 2)
			abort();
		/* A failed session leaves no recipient undecided, but for
		 * LMTP recipients that had their own final reply. */
		if (ret == -1 && res[i].kind == WHY_NONE && !f->p.decided &&
		    !(f->p.o.lmtp && i < f->p.dot_done))
			abort();
	}
	free(cr);
	free(res);
	free(rc);
	free(m);
	return ret;
}

/* client.c's client_close(): QUIT when idle, read its reply, free. */
static void
close_session(struct fz *f)
{
	const struct smtp_reply *r;

	if (f->p.phase == CP_READY) {
		client_proto_quit(&f->p);
		if (f->p.phase != CP_QUIT || f->p.out.len != 6 ||
		    memcmp(f->p.out.data, "QUIT\r\n", 6) != 0)
			abort();
		flush(f);
		if (read_reply(f, &r) == 0) {
			if (client_proto_on_reply(&f->p, r) != CLIENT_EV_NONE ||
			    f->p.phase != CP_CLOSED)
				abort();
			check_empty(f);
		}
	}
	check_phase(f);
	if (f->p.phase != CP_QUIT && f->p.phase != CP_CLOSED)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	static const struct smtp_reply_limits lim = { SMTP_REPLY_LINE_MAX,
		SMTP_REPLY_LINES_MAX, SMTP_REPLY_TEXT_MAX };
	static const enum client_tls_mode modes[4] = { CLIENT_TLS_MAY,
		CLIENT_TLS_NONE, CLIENT_TLS_REQUIRE, CLIENT_TLS_MAY };
	struct client_opts o;
	struct fz *f;
	unsigned nmsg, i;

	if (n < 3)
		return 0;
	echo = getenv("TERN_FUZZ_ECHO") != NULL;
	memset(&o, 0, sizeof(o));
	o.helo = "client.test";
	o.peer = (p[2] & 0x04) ? NULL : "mx.test";
	o.lmtp = (p[0] & 0x01) != 0;
	o.tls = modes[(p[0] >> 1) & 3];
	o.tls_possible = (p[0] & 0x08) != 0;
	o.auth_user = (p[0] & 0x10) ? "user@y.test" : NULL;
	o.auth_pass = (p[0] & 0x20) ? "s3cret pass" : NULL;
	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (f->rp = smtp_reply_new(&lim)) == NULL)
		abort();
	f->tls_ok = (p[0] & 0x40) != 0;
	f->implicit = (p[0] & 0x80) != 0;
	f->rsize = (size_t)(p[2] >> 3) * 8;
	f->in = p + 3;
	f->n = n - 3;
	nmsg = (p[2] & 3) + 1u;
	client_proto_init(&f->p, &o);
	if (open_session(f) == 0) {
		for (i = 0; i < nmsg; i++)
			if (send_msg(f, p[1]) == -1)
				break;
	} else
		f->p.phase = CP_CLOSED; /* no QUIT */
	close_session(f);
	client_proto_free(&f->p);
	smtp_reply_free(f->rp);
	free(f);
	return 0;
}
