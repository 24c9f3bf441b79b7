/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for client/proto.c: scripted servers (one reply in, the
 * commands the client sends out), per-recipient results, PIPELINING,
 * CHUNKING, HELO fallback, LMTP, SIZE and SMTPUTF8 refusals, 421; and
 * client/client.c's pure TLS helpers: which peer a certificate must
 * name (issue 14) and the reason a person reads when it does not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/x509_vfy.h>

#include "client/client.h"
#include "client/proto.h"
#include "smtp/params.h"

static const struct smtp_reply_limits lim = { SMTP_REPLY_LINE_MAX,
	SMTP_REPLY_LINES_MAX, SMTP_REPLY_TEXT_MAX };

struct rig {
	struct client_proto p;
	struct smtp_reply_parser *rp;
	char sent[2048];
	char secret[64]; /* what a trace must mask in sent, or "" */
};

/* The commands queued so far, into r->sent. */
static void
take(struct rig *r)
{
	r->sent[0] = r->secret[0] = '\0';
	if (r->p.secret_len > 0) {
		assert_true(r->p.secret_len < sizeof(r->secret));
		assert_true(r->p.secret_off + r->p.secret_len <= r->p.out.len);
		memcpy(r->secret, r->p.out.data + r->p.secret_off,
		    r->p.secret_len);
		r->secret[r->p.secret_len] = '\0';
		r->p.secret_len = 0;
	}
	if (r->p.out.len > 0) {
		assert_true(r->p.out.len < sizeof(r->sent));
		memcpy(r->sent, r->p.out.data, r->p.out.len);
		r->sent[r->p.out.len] = '\0';
		buf_clear(&r->p.out);
	}
}

/* Feed one whole reply; the commands sent go into r->sent. */
static enum client_event
reply(struct rig *r, const char *text)
{
	const struct smtp_reply *rep;
	enum smtp_reply_status st;
	enum client_event ev;
	size_t used;

	st = smtp_reply_parse(r->rp, (const uint8_t *)text, strlen(text), &used,
	    &rep);
	assert_int_equal(st, SMTP_REPLY_DONE);
	assert_int_equal(used, strlen(text));
	ev = client_proto_on_reply(&r->p, rep);
	take(r);
	return ev;
}

static void
rig_init_opts(struct rig *r, const struct client_opts *o)
{
	memset(r, 0, sizeof(*r));
	client_proto_init(&r->p, o);
	r->rp = smtp_reply_new(&lim);
	assert_non_null(r->rp);
}

static void
rig_init(struct rig *r, bool lmtp)
{
	struct client_opts o;

	memset(&o, 0, sizeof(o));
	o.helo = "me.test";
	o.peer = "mx.test";
	o.lmtp = lmtp;
	rig_init_opts(r, &o);
}

/*
 * A rig past the greeting and EHLO (LHLO for lmtp), whose answer is
 * ehlo_reply: ready for client_proto_start().
 */
static void
rig_ready(struct rig *r, bool lmtp, const char *ehlo_reply)
{
	rig_init(r, lmtp);
	assert_int_equal(reply(r, lmtp ? "220 lmtp\r\n" : "220 hi\r\n"),
	    CLIENT_EV_NONE);
	assert_string_equal(r->sent,
	    lmtp ? "LHLO me.test\r\n" : "EHLO me.test\r\n");
	assert_int_equal(reply(r, ehlo_reply), CLIENT_EV_READY);
}

/* Start message m; the commands it sends go into r->sent. */
static enum client_event
rig_start(struct rig *r, const struct client_msg *m, struct why *res,
    struct client_reply *rep)
{
	enum client_event ev;

	ev = client_proto_start(&r->p, m, res, rep);
	take(r);
	return ev;
}

static void
rig_free(struct rig *r)
{
	client_proto_free(&r->p);
	smtp_reply_free(r->rp);
}

static const struct client_rcpt rcpts[3] = {
	{ "a@x.test", 0, NULL },
	{ "b@x.test", SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE,
	    "rfc822;b@x.test" },
	{ "c@x.test", 0, NULL },
};

static void
test_pipelined(void **state)
{
	struct client_msg m = { "s@y.test", rcpts, 3, 10, true, false, 0,
		NULL, false, NULL, 0, false };
	struct why res[3];
	struct client_reply rep[3];
	struct rig r;

	(void)state;
	rig_ready(&r, false,
	    "250-mx\r\n250-PIPELINING\r\n250-SIZE 100\r\n"
	    "250-8BITMIME\r\n250 DSN\r\n");
	assert_int_equal(rig_start(&r, &m, res, rep), CLIENT_EV_NONE);
	assert_string_equal(r.sent,
	    "MAIL FROM:<s@y.test> SIZE=10 BODY=8BITMIME\r\n"
	    "RCPT TO:<a@x.test>\r\n"
	    "RCPT TO:<b@x.test> NOTIFY=SUCCESS,FAILURE "
	    "ORCPT=rfc822;b@x.test\r\n"
	    "RCPT TO:<c@x.test>\r\nDATA\r\n");
	assert_int_equal(reply(&r, "250 ok\r\n"), CLIENT_EV_NONE);
	assert_int_equal(reply(&r, "250 ok\r\n"), CLIENT_EV_NONE);
	assert_int_equal(reply(&r, "550 5.1.1 no such user\r\n"),
	    CLIENT_EV_NONE);
	assert_int_equal(reply(&r, "451 4.3.0 later\r\n"), CLIENT_EV_NONE);
	assert_int_equal(reply(&r, "354 go\r\n"), CLIENT_EV_BODY);
	client_proto_body_sent(&r.p);
	assert_int_equal(reply(&r, "250 2.0.0 queued\r\n"), CLIENT_EV_MSG_DONE);
	assert_int_equal(res[0].kind, WHY_NONE);
	assert_int_equal(res[1].kind, WHY_PERM);
	assert_non_null(strstr(res[1].text,
	    "mx.test said: 550 5.1.1 no such user (in reply to RCPT TO)"));
	assert_int_equal(res[2].kind, WHY_TEMP);
	/* The replies themselves, not text to parse back. */
	assert_int_equal(rep[0].code, 250);
	assert_string_equal(rep[0].esc, "2.0.0");
	assert_string_equal(rep[0].text, "queued");
	assert_string_equal(rep[0].cmd, "end of data");
	assert_int_equal(rep[1].code, 550);
	assert_string_equal(rep[1].esc, "5.1.1");
	assert_string_equal(rep[1].text, "no such user");
	assert_string_equal(rep[1].cmd, "RCPT TO");
	assert_int_equal(rep[2].code, 451);
	assert_string_equal(rep[2].esc, "4.3.0");
	/* A second message on the same session. */
	m.nrcpts = 1;
	assert_int_equal(rig_start(&r, &m, res, rep), CLIENT_EV_NONE);
	assert_string_equal(r.sent,
	    "MAIL FROM:<s@y.test> SIZE=10 BODY=8BITMIME\r\n"
	    "RCPT TO:<a@x.test>\r\nDATA\r\n");
	assert_int_equal(reply(&r, "250 ok\r\n"), CLIENT_EV_NONE);
	assert_int_equal(reply(&r, "250 ok\r\n"), CLIENT_EV_NONE);
	assert_int_equal(reply(&r, "554 no\r\n"), CLIENT_EV_NONE);
	assert_string_equal(r.sent, "RSET\r\n");
	assert_int_equal(reply(&r, "250 ok\r\n"), CLIENT_EV_MSG_DONE);
	assert_int_equal(res[0].kind, WHY_PERM);
	assert_int_equal(rep[0].code, 554); /* no enhanced code given */
	assert_string_equal(rep[0].esc, "");
	assert_string_equal(rep[0].cmd, "DATA");
	assert_int_equal(client_proto_quit(&r.p), 0);
	take(&r);
	assert_string_equal(r.sent, "QUIT\r\n");
	rig_free(&r);
}

static void
test_plain_helo_fallback(void **state)
{
	struct client_msg m = { "", rcpts, 2, 10, false, false, 0, NULL, false, NULL, 0,
		false };
	struct why res[2];
	struct rig r;

	(void)state;
	rig_init(&r, false);
	reply(&r, "220 hi\r\n");
	assert_int_equal(reply(&r, "502 what\r\n"), CLIENT_EV_NONE);
	assert_string_equal(r.sent, "HELO me.test\r\n");
	assert_int_equal(reply(&r, "250 hi\r\n"), CLIENT_EV_READY);
	assert_int_equal(rig_start(&r, &m, res, NULL), CLIENT_EV_NONE);
	/* No PIPELINING: one command at a time, no DSN parameters. */
	assert_string_equal(r.sent, "MAIL FROM:<>\r\n");
	reply(&r, "250 ok\r\n");
	assert_string_equal(r.sent, "RCPT TO:<a@x.test>\r\n");
	reply(&r, "550 no\r\n");
	assert_string_equal(r.sent, "RCPT TO:<b@x.test>\r\n");
	reply(&r, "250 ok\r\n");
	assert_string_equal(r.sent, "DATA\r\n");
	assert_int_equal(reply(&r, "354 go\r\n"), CLIENT_EV_BODY);
	client_proto_body_sent(&r.p);
	assert_int_equal(reply(&r, "250 ok\r\n"), CLIENT_EV_MSG_DONE);
	assert_int_equal(res[0].kind, WHY_PERM);
	assert_int_equal(res[1].kind, WHY_NONE);
	rig_free(&r);
}

static void
test_all_rcpts_refused(void **state)
{
	struct client_msg m = { "s@y.test", rcpts, 1, 10, false, false, 0,
		NULL, false, NULL, 0, false };
	struct why res[1];
	struct rig r;

	(void)state;
	rig_ready(&r, false, "250 hi\r\n");
	rig_start(&r, &m, res, NULL);
	reply(&r, "250 ok\r\n");
	assert_int_equal(reply(&r, "450 busy\r\n"), CLIENT_EV_NONE);
	assert_string_equal(r.sent, "RSET\r\n");
	assert_int_equal(reply(&r, "250 ok\r\n"), CLIENT_EV_MSG_DONE);
	assert_int_equal(res[0].kind, WHY_TEMP);
	rig_free(&r);
}

/* Recipient verification: MAIL, RCPT, RSET; the RCPT reply decides. */
static void
test_probe(void **state)
{
	struct client_msg m = { "", rcpts, 2, 0, false, false, 0, NULL,
		true, NULL, 0, false };
	struct why res[2];
	struct client_reply rep[2];
	struct rig r;

	(void)state;
	/* Pipelined: no DATA, no SIZE; RSET after the last RCPT reply. */
	rig_ready(&r, false, "250-mx\r\n250-PIPELINING\r\n250 SIZE 100\r\n");
	assert_int_equal(rig_start(&r, &m, res, rep), CLIENT_EV_NONE);
	assert_string_equal(r.sent,
	    "MAIL FROM:<>\r\nRCPT TO:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n");
	assert_int_equal(reply(&r, "250 ok\r\n"), CLIENT_EV_NONE);
	assert_int_equal(reply(&r, "250 2.1.5 ok\r\n"), CLIENT_EV_NONE);
	assert_int_equal(reply(&r, "550 5.1.1 unknown\r\n"), CLIENT_EV_NONE);
	assert_string_equal(r.sent, "RSET\r\n");
	assert_int_equal(reply(&r, "250 ok\r\n"), CLIENT_EV_MSG_DONE);
	assert_int_equal(res[0].kind, WHY_NONE);
	assert_int_equal(rep[0].code, 250);
	assert_string_equal(rep[0].esc, "2.1.5");
	assert_string_equal(rep[0].cmd, "RCPT TO");
	assert_int_equal(res[1].kind, WHY_PERM);
	assert_int_equal(rep[1].code, 550);
	/* The session is idle again: another probe, MAIL refused. */
	m.nrcpts = 1;
	assert_int_equal(rig_start(&r, &m, res, rep), CLIENT_EV_NONE);
	assert_int_equal(reply(&r, "451 4.3.0 later\r\n"), CLIENT_EV_NONE);
	assert_int_equal(reply(&r, "503 no\r\n"), CLIENT_EV_NONE);
	assert_string_equal(r.sent, "RSET\r\n");
	assert_int_equal(reply(&r, "250 ok\r\n"), CLIENT_EV_MSG_DONE);
	assert_int_equal(res[0].kind, WHY_TEMP);
	assert_int_equal(rep[0].code, 451);
	assert_string_equal(rep[0].cmd, "MAIL FROM");
	rig_free(&r);

	/* One command at a time: the same answers. */
	m.nrcpts = 2;
	rig_ready(&r, false, "250 mx\r\n");
	assert_int_equal(rig_start(&r, &m, res, rep), CLIENT_EV_NONE);
	assert_string_equal(r.sent, "MAIL FROM:<>\r\n");
	reply(&r, "250 ok\r\n");
	assert_string_equal(r.sent, "RCPT TO:<a@x.test>\r\n");
	reply(&r, "450 4.2.0 greylisted\r\n");
	assert_string_equal(r.sent, "RCPT TO:<b@x.test>\r\n");
	assert_int_equal(reply(&r, "250 ok\r\n"), CLIENT_EV_NONE);
	assert_string_equal(r.sent, "RSET\r\n");
	assert_int_equal(reply(&r, "250 ok\r\n"), CLIENT_EV_MSG_DONE);
	assert_int_equal(res[0].kind, WHY_TEMP);
	assert_int_equal(res[1].kind, WHY_NONE);
	assert_int_equal(rep[1].code, 250);
	rig_free(&r);
}

static void
test_chunking(void **state)
{
	struct client_msg m = { "s@y.test", rcpts, 1, 42, false, false, 0,
		NULL, false, NULL, 0, false };
	struct why res[1];
	struct rig r;

	(void)state;
	rig_ready(&r, false, "250-hi\r\n250-PIPELINING\r\n250 CHUNKING\r\n");
	assert_int_equal(rig_start(&r, &m, res, NULL), CLIENT_EV_NONE);
	assert_true(r.p.body_after_out);
	assert_string_equal(r.sent,
	    "MAIL FROM:<s@y.test>\r\nRCPT TO:<a@x.test>\r\nBDAT 42 LAST\r\n");
	client_proto_body_sent(&r.p);
	reply(&r, "250 ok\r\n");
	reply(&r, "250 ok\r\n");
	assert_int_equal(reply(&r, "250 ok\r\n"), CLIENT_EV_MSG_DONE);
	assert_int_equal(res[0].kind, WHY_NONE);
	rig_free(&r);
}

static void
test_lmtp(void **state)
{
	struct client_msg m = { "s@y.test", rcpts, 3, 10, false, false, 0,
		NULL, false, NULL, 0, false };
	struct why res[3];
	struct client_reply rep[3];
	struct rig r;

	(void)state;
	rig_ready(&r, true, "250-x\r\n250 PIPELINING\r\n");
	rig_start(&r, &m, res, rep);
	reply(&r, "250 ok\r\n");
	reply(&r, "250 ok\r\n");
	reply(&r, "550 5.1.1 unknown\r\n");
	reply(&r, "250 ok\r\n");
	assert_int_equal(reply(&r, "354 go\r\n"), CLIENT_EV_BODY);
	client_proto_body_sent(&r.p);
	/* RFC 2033 4.2: one reply per accepted recipient. */
	assert_int_equal(reply(&r, "452 4.2.2 over quota\r\n"), CLIENT_EV_NONE);
	assert_int_equal(reply(&r, "250 ok\r\n"), CLIENT_EV_MSG_DONE);
	assert_int_equal(res[0].kind, WHY_TEMP);
	assert_non_null(strstr(res[0].text, "over quota"));
	assert_int_equal(res[1].kind, WHY_PERM);
	assert_int_equal(res[2].kind, WHY_NONE);
	assert_int_equal(rep[0].code, 452);
	assert_string_equal(rep[0].esc, "4.2.2");
	assert_string_equal(rep[0].text, "over quota");
	assert_string_equal(rep[0].cmd, "end of data");
	assert_int_equal(rep[1].code, 550);
	assert_string_equal(rep[1].cmd, "RCPT TO");
	assert_int_equal(rep[2].code, 250);
	rig_free(&r);
}

/* Found by fuzz_client_proto: a 2xx to DATA is not a delivery. */
static void
test_data_2xx_is_not_delivery(void **state)
{
	struct client_msg m = { "s@y.test", rcpts, 1, 10, false, false, 0,
		NULL, false, NULL, 0, false };
	struct why res[1];
	struct rig r;

	(void)state;
	rig_ready(&r, false, "250-hi\r\n250 PIPELINING\r\n");
	rig_start(&r, &m, res, NULL);
	reply(&r, "250 ok\r\n");
	reply(&r, "250 ok\r\n");
	/* RFC 5321 4.3.2: only 354 lets the body go. */
	assert_int_equal(reply(&r, "250 fine\r\n"), CLIENT_EV_FAIL);
	assert_int_equal(r.p.why.kind, WHY_TEMP);
	/* As the driver does: the undecided recipients get the reason. */
	client_proto_fail_rest(&r.p, &r.p.why);
	assert_int_equal(res[0].kind, WHY_TEMP);
	assert_non_null(strstr(res[0].text, "instead of 354"));
	rig_free(&r);
}

/* Found by fuzz_client_proto: LMTP BDAT LAST answers per recipient. */
static void
test_lmtp_bdat_per_rcpt(void **state)
{
	struct client_msg m = { "s@y.test", rcpts, 2, 10, false, false, 0,
		NULL, false, NULL, 0, false };
	struct why res[2];
	struct rig r;

	(void)state;
	rig_ready(&r, true, "250-x\r\n250-PIPELINING\r\n250 CHUNKING\r\n");
	rig_start(&r, &m, res, NULL);
	client_proto_body_sent(&r.p);
	reply(&r, "250 ok\r\n");
	reply(&r, "250 ok\r\n");
	reply(&r, "250 ok\r\n");
	/* RFC 2033 4.2 for BDAT LAST as for DATA: one reply each. */
	assert_int_equal(reply(&r, "250 first\r\n"), CLIENT_EV_NONE);
	assert_int_equal(reply(&r, "452 4.2.2 full\r\n"), CLIENT_EV_MSG_DONE);
	assert_int_equal(res[0].kind, WHY_NONE);
	assert_int_equal(res[1].kind, WHY_TEMP);
	rig_free(&r);
}

/* An LMTP session lost half-way through the per-recipient replies. */
static void
test_lmtp_drop_keeps_confirmed(void **state)
{
	struct client_msg m = { "s@y.test", rcpts, 2, 10, false, false, 0,
		NULL, false, NULL, 0, false };
	struct why res[2], lost;
	struct rig r;

	(void)state;
	rig_ready(&r, true, "250-x\r\n250 PIPELINING\r\n");
	rig_start(&r, &m, res, NULL);
	reply(&r, "250 ok\r\n");
	reply(&r, "250 ok\r\n");
	reply(&r, "250 ok\r\n");
	assert_int_equal(reply(&r, "354 go\r\n"), CLIENT_EV_BODY);
	client_proto_body_sent(&r.p);
	assert_int_equal(reply(&r, "250 2.0.0 saved\r\n"), CLIENT_EV_NONE);
	/* The connection drops: the driver fails the rest. */
	why_set(&lost, WHY_TEMP, 0, "connection closed by the server");
	client_proto_fail_rest(&r.p, &lost);
	assert_int_equal(res[0].kind, WHY_NONE); /* delivered: no retry */
	assert_int_equal(res[1].kind, WHY_TEMP);
	rig_free(&r);
}

static void
test_refusals(void **state)
{
	struct client_msg m = { "s@y.test", rcpts, 1, 1000, false, true, 0,
		NULL, false, NULL, 0, false };
	struct why res[1];
	struct client_reply rep[1];
	struct rig r;

	(void)state;
	rig_ready(&r, false, "250-hi\r\n250 SIZE 999\r\n");
	/* RFC 1870: bigger than announced: permanent, nothing sent. */
	assert_int_equal(rig_start(&r, &m, res, rep), CLIENT_EV_MSG_DONE);
	assert_string_equal(r.sent, "");
	assert_int_equal(res[0].kind, WHY_PERM);
	assert_int_equal(rep[0].code, 0); /* our decision, no reply */
	m.size = 10;
	/* Needs SMTPUTF8, server lacks it: permanent. */
	assert_int_equal(rig_start(&r, &m, res, NULL), CLIENT_EV_MSG_DONE);
	assert_int_equal(res[0].kind, WHY_PERM);
	assert_non_null(strstr(res[0].text, "SMTPUTF8"));
	/* 421 in the middle: the session is gone, the rest is TEMP. */
	m.smtputf8 = false;
	rig_start(&r, &m, res, rep);
	assert_int_equal(reply(&r, "421 4.3.2 bye\r\n"), CLIENT_EV_FAIL);
	assert_int_equal(res[0].kind, WHY_TEMP);
	assert_int_equal(rep[0].code, 421);
	assert_string_equal(rep[0].esc, "4.3.2");
	rig_free(&r);
	/* A 554 greeting fails the session. */
	rig_init(&r, false);
	assert_int_equal(reply(&r, "554 go away\r\n"), CLIENT_EV_FAIL);
	assert_non_null(strstr(r.p.why.text, "go away"));
	assert_int_equal(r.p.fail_reply.code, 554);
	assert_string_equal(r.p.fail_reply.text, "go away");
	rig_free(&r);
}

static void
test_tls_and_auth(void **state)
{
	struct client_opts o;
	struct rig r;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.helo = "me.test";
	o.peer = "smart.test";
	o.tls_possible = true;
	o.tls = CLIENT_TLS_REQUIRE;
	o.auth_user = "u";
	o.auth_pass = "p";
	rig_init_opts(&r, &o);
	reply(&r, "220 hi\r\n");
	reply(&r, "250-hi\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n");
	assert_string_equal(r.sent, "STARTTLS\r\n");
	assert_int_equal(reply(&r, "220 go\r\n"), CLIENT_EV_TLS);
	client_proto_tls_done(&r.p);
	take(&r);
	assert_string_equal(r.sent, "EHLO me.test\r\n");
	reply(&r, "250-hi\r\n250 AUTH LOGIN PLAIN\r\n");
	/* base64("\0u\0p") */
	assert_string_equal(r.sent, "AUTH PLAIN AHUAcA==\r\n");
	assert_string_equal(r.secret, "AHUAcA=="); /* masked in a trace */
	assert_int_equal(reply(&r, "235 ok\r\n"), CLIENT_EV_READY);
	assert_string_equal(r.secret, "");
	rig_free(&r);
	/* Required TLS that is not offered fails. */
	rig_init_opts(&r, &o);
	reply(&r, "220 hi\r\n");
	assert_int_equal(reply(&r, "250 hi\r\n"), CLIENT_EV_FAIL);
	rig_free(&r);
	/* AUTH LOGIN; no TLS allowed with tls = none. */
	o.tls = CLIENT_TLS_NONE;
	rig_init_opts(&r, &o);
	reply(&r, "220 hi\r\n");
	reply(&r, "250-hi\r\n250-STARTTLS\r\n250 AUTH LOGIN\r\n");
	assert_string_equal(r.sent, "AUTH LOGIN\r\n");
	assert_string_equal(r.secret, "");
	reply(&r, "334 VXNlcm5hbWU6\r\n");
	assert_string_equal(r.sent, "dQ==\r\n");
	assert_string_equal(r.secret, "dQ==");
	reply(&r, "334 UGFzc3dvcmQ6\r\n");
	assert_string_equal(r.sent, "cA==\r\n");
	assert_string_equal(r.secret, "cA==");
	assert_int_equal(reply(&r, "235 ok\r\n"), CLIENT_EV_READY);
	rig_free(&r);
}

struct peer_case {
	const char *name;
	const char *peer;
	bool ip;          /* an IP literal: checked against IP SANs */
	const char *want; /* what the param then holds: the address as
	                     OpenSSL prints it, or the host; NULL: refused */
};

static const struct peer_case peer_cases[] = {
	{ "v4", "127.0.0.1", true, "127.0.0.1" },
	{ "v4-zeros", "192.0.2.0", true, "192.0.2.0" },
	{ "v6-loopback", "::1", true, "0:0:0:0:0:0:0:1" },
	{ "v6", "2001:db8::25", true, "2001:DB8:0:0:0:0:0:25" },
	{ "v4-mapped", "::ffff:192.0.2.1", true, "0:0:0:0:0:FFFF:C000:201" },
	{ "name", "mx.example.test", false, "mx.example.test" },
	{ "single-label", "localhost", false, "localhost" },
	{ "digits-label", "123.example", false, "123.example" },
	/* Not literals inet_pton reads: verified as names, so they can
	 * only match a DNS name, never an IP SAN. */
	{ "v4-short", "127.1", false, "127.1" },
	{ "v4-octal", "0177.0.0.1", false, "0177.0.0.1" },
	{ "v4-octet-256", "256.0.0.1", false, "256.0.0.1" },
	{ "v4-trailing-dot", "127.0.0.1.", false, "127.0.0.1." },
	{ "v4-port", "127.0.0.1:25", false, "127.0.0.1:25" },
	{ "v6-brackets", "[::1]", false, "[::1]" },
	{ "v6-zone", "fe80::1%eth0", false, "fe80::1%eth0" },
	{ "v6-two-gaps", "1::2::3", false, "1::2::3" },
	{ "v4-space", " 127.0.0.1", false, " 127.0.0.1" },
	/* "" would set no name at all: client_open() takes it as no peer,
	 * and tls_start() then refuses to verify. */
	{ "empty", "", false, NULL },
};

static void
test_tls_peer(void **state)
{
	const struct peer_case *c;
	X509_VERIFY_PARAM *vp;
	const char *host;
	char *ip;
	size_t i;
	int rc;

	(void)state;
	assert_false(client_is_ip_literal(NULL));
	for (i = 0; i < sizeof(peer_cases) / sizeof(peer_cases[0]); i++) {
		c = &peer_cases[i];
		if (client_is_ip_literal(c->peer) != c->ip)
			fail_msg("%s: is_ip_literal says %d", c->name, !c->ip);
		vp = X509_VERIFY_PARAM_new();
		assert_non_null(vp);
		rc = client_tls_expect_peer(vp, c->peer);
		host = X509_VERIFY_PARAM_get0_host(vp, 0);
		ip = X509_VERIFY_PARAM_get1_ip_asc(vp);
		if (c->want == NULL) {
			if (rc != -1 && host != NULL)
				fail_msg("%s: accepted as %s", c->name, host);
		} else if (rc != 0) {
			fail_msg("%s: refused", c->name);
		} else if (c->ip) {
			/* Checked as an address, and only as one. */
			if (ip == NULL || strcmp(ip, c->want) != 0 ||
			    host != NULL)
				fail_msg("%s: ip %s host %s", c->name,
				    ip ? ip : "-", host ? host : "-");
		} else if (ip != NULL || host == NULL ||
		           strcmp(host, c->want) != 0) {
			fail_msg("%s: ip %s host %s", c->name, ip ? ip : "-",
			    host ? host : "-");
		}
		OPENSSL_free(ip);
		X509_VERIFY_PARAM_free(vp);
	}
}

static void
test_verify_reason(void **state)
{
	char buf[512], small[24];

	(void)state;
	client_verify_reason(X509_V_ERR_IP_ADDRESS_MISMATCH, "127.0.0.1", buf,
	    sizeof(buf));
	assert_string_equal(buf,
	    "127.0.0.1: TLS certificate verification failed: IP address "
	    "mismatch: the certificate has no IP address subjectAltName "
	    "for 127.0.0.1");
	client_verify_reason(X509_V_ERR_HOSTNAME_MISMATCH, "mx.example.test",
	    buf, sizeof(buf));
	assert_string_equal(buf,
	    "mx.example.test: TLS certificate verification failed: hostname "
	    "mismatch: the certificate is not for mx.example.test");
	client_verify_reason(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
	    "mx.example.test", buf, sizeof(buf));
	assert_string_equal(buf,
	    "mx.example.test: TLS certificate verification failed: "
	    "self-signed certificate");
	client_verify_reason(X509_V_ERR_CERT_HAS_EXPIRED, "::1", buf,
	    sizeof(buf));
	assert_string_equal(buf,
	    "::1: TLS certificate verification failed: certificate has "
	    "expired");
	/* Cut, never overrun. */
	memset(small, 'x', sizeof(small));
	client_verify_reason(X509_V_ERR_IP_ADDRESS_MISMATCH, "127.0.0.1", small,
	    sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, "127.0.0.1: TLS certific", 23);
}

/*
 * tls = require with no peer name: refused before any handshake, never
 * a chain check without an identity (issue 14). A listening socket that
 * never accepts stands for the server: the kernel completes the connect.
 */
static void
test_require_without_peer(void **state)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	struct client_conn_opts o;
	struct client_conn *c;
	struct why why;
	int lfd;

	(void)state;
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	memset(&o, 0, sizeof(o));
	o.proto.helo = "me.test";
	o.proto.tls = CLIENT_TLS_REQUIRE;
	o.implicit_tls = true;
	o.timeout_cap = 2; /* a handshake would wait this long, then fail */
	why_clear(&why);
	o.ssl_ctx = client_tls_ctx_new(true, NULL, &why);
	assert_non_null(o.ssl_ctx);
	for (int i = 0; i < 2; i++) {
		o.proto.peer = i == 0 ? NULL : "";
		why_clear(&why);
		c = client_open(&o, (struct sockaddr *)&sa, sizeof(sa), NULL,
		    &why);
		assert_null(c);
		assert_int_equal(why.kind, WHY_TEMP);
		assert_string_equal(why.text,
		    "TLS required, but no server name or address to verify "
		    "the certificate against");
	}
	SSL_CTX_free(o.ssl_ctx);
	(void)close(lfd);
}

/* A rig with TLS as REQUIRETLS wants it (tls_done: the handshake
 * passed), its EHLO after TLS answered with ehlo2. */
static void
rig_tls_as(struct rig *r, const char *ehlo2, bool verified)
{
	struct client_opts o;

	memset(&o, 0, sizeof(o));
	o.helo = "me.test";
	o.peer = "mx.test";
	o.tls_possible = true;
	o.tls = CLIENT_TLS_REQUIRE;
	o.requiretls = true;
	rig_init_opts(r, &o);
	assert_int_equal(reply(r, "220 hi\r\n"), CLIENT_EV_NONE);
	assert_int_equal(reply(r, "250-mx.test\r\n250 STARTTLS\r\n"),
	    CLIENT_EV_NONE);
	assert_string_equal(r->sent, "STARTTLS\r\n");
	assert_int_equal(reply(r, "220 go ahead\r\n"), CLIENT_EV_TLS);
	r->p.tls_verified = verified; /* as client.c's handshake says */
	client_proto_tls_done(&r->p);
	take(r);
	assert_string_equal(r->sent, "EHLO me.test\r\n");
	assert_int_equal(reply(r, ehlo2), CLIENT_EV_READY);
}

static void
rig_tls(struct rig *r, const char *ehlo2)
{
	rig_tls_as(r, ehlo2, true);
}

/* RFC 8689 4: the parameter only over verified TLS to a server that
 * offers it; otherwise every recipient fails for good, nothing sent. */
static void
test_requiretls(void **state)
{
	struct client_msg m = { "s@y.test", rcpts, 2, 10, false, false, 0,
		NULL, false, NULL, 0, true };
	struct client_opts o;
	struct why res[2];
	struct rig r;

	(void)state;
	rig_tls(&r, "250-mx.test\r\n250 REQUIRETLS\r\n");
	assert_int_equal(rig_start(&r, &m, res, NULL), CLIENT_EV_NONE);
	assert_string_equal(r.sent, "MAIL FROM:<s@y.test> REQUIRETLS\r\n");
	rig_free(&r);

	/* TLS, but no REQUIRETLS after it. */
	rig_tls(&r, "250-mx.test\r\n250 8BITMIME\r\n");
	assert_int_equal(rig_start(&r, &m, res, NULL), CLIENT_EV_MSG_DONE);
	assert_string_equal(r.sent, "");
	assert_int_equal(res[0].kind, WHY_PERM);
	assert_int_equal(res[1].kind, WHY_PERM);
	assert_non_null(strstr(res[0].text, "REQUIRETLS"));
	rig_free(&r);

	/* Review r19: TLS required but not authenticated (DANE with no
	 * usable record) is not verified TLS. */
	rig_tls_as(&r, "250-mx.test\r\n250 REQUIRETLS\r\n", false);
	assert_int_equal(rig_start(&r, &m, res, NULL), CLIENT_EV_MSG_DONE);
	assert_string_equal(r.sent, "");
	assert_int_equal(res[0].kind, WHY_PERM);
	assert_non_null(strstr(res[0].text, "verified TLS"));
	rig_free(&r);

	/* The keyword without (verified) TLS is not enough. */
	rig_ready(&r, false, "250-mx.test\r\n250 REQUIRETLS\r\n");
	assert_int_equal(rig_start(&r, &m, res, NULL), CLIENT_EV_MSG_DONE);
	assert_int_equal(res[0].kind, WHY_PERM);
	assert_non_null(strstr(res[0].text, "verified TLS"));
	rig_free(&r);

	/* No STARTTLS at all: the session fails for good. */
	memset(&o, 0, sizeof(o));
	o.helo = "me.test";
	o.peer = "mx.test";
	o.tls_possible = true;
	o.tls = CLIENT_TLS_REQUIRE;
	o.requiretls = true;
	rig_init_opts(&r, &o);
	assert_int_equal(reply(&r, "220 hi\r\n"), CLIENT_EV_NONE);
	assert_int_equal(reply(&r, "250 mx.test\r\n"), CLIENT_EV_FAIL);
	assert_int_equal(r.p.why.kind, WHY_PERM);
	assert_non_null(strstr(r.p.why.text, "REQUIRETLS"));
	rig_free(&r);

	/* Without the flag, a message never carries the parameter. */
	m.requiretls = false;
	rig_tls(&r, "250-mx.test\r\n250 REQUIRETLS\r\n");
	assert_int_equal(rig_start(&r, &m, res, NULL), CLIENT_EV_NONE);
	assert_string_equal(r.sent, "MAIL FROM:<s@y.test>\r\n");
	rig_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requiretls),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_plain_helo_fallback),
		cmocka_unit_test(test_all_rcpts_refused),
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_chunking),
		cmocka_unit_test(test_lmtp),
		cmocka_unit_test(test_data_2xx_is_not_delivery),
		cmocka_unit_test(test_lmtp_bdat_per_rcpt),
		cmocka_unit_test(test_lmtp_drop_keeps_confirmed),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_tls_and_auth),
		cmocka_unit_test(test_tls_peer),
		cmocka_unit_test(test_verify_reason),
		cmocka_unit_test(test_require_without_peer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
