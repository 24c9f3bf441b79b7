/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for queue/bounce.c: the DSN's structure (RFC 3464, RFC
 * 6522), status codes from reasons, NOTIFY, RET=HDRS, hostile reasons,
 * delivered and relayed reports (RFC 3461 5.2.2, 5.2.3), a header end
 * that straddles a read chunk, the RFC 6533 forms of a DSN about a
 * message that came with SMTPUTF8, and reasons cut at a UTF-8 boundary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "queue/bounce.h"
#include "smtp/params.h"

static int
body_fd(const char *text, size_t n)
{
	FILE *fp = tmpfile();
	int fd;

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, n, fp), n);
	fflush(fp);
	fd = dup(fileno(fp));
	fclose(fp);
	return fd;
}

struct rig {
	struct spool_env env;
	struct spool_rcpt r[2];
	struct spool_dsn d[2];
	struct bounce_rcpt br[2];
	struct bounce_info bi;
	struct buf out;
	int fd;
};

static const char msg[] = "Subject: hello\r\nFrom: <a@x.test>\r\n\r\n"
                          "body line\r\n";

static void
rig_init(struct rig *g, const char *text, size_t n)
{
	memset(g, 0, sizeof(*g));
	g->r[0].addr = (char *)"bad@y.test";
	g->r[1].addr = (char *)"gone@z.test";
	g->d[1].orcpt = (char *)"rfc822;Gone@z.test";
	g->env.dsn = g->d;
	g->env.rcpts = g->r;
	g->env.nrcpts = 2;
	memcpy(g->env.id, "0601a2b3c4d5e6001a3f", 21);
	g->env.sender = (char *)"a@x.test";
	g->env.arrival = 1700000000;
	g->env.body_offset = 0;
	g->env.body_size = (off_t)n;
	g->fd = body_fd(text, n);
	g->br[0].idx = 0;
	g->br[0].reason = "mx.y.test said: 550 5.1.1 no such\r\nuser "
	                  "(in reply to RCPT TO)";
	g->br[0].code = 550;
	g->br[0].esc = "5.1.1";
	g->br[0].text = "no such\r\nuser";
	g->br[1].idx = 1;
	g->br[1].reason = "delivery time expired: last error: none";
	g->bi.hostname = "mx.x.test";
	g->bi.to = "a@x.test";
	g->bi.boundary = "BOUNDARY";
	g->bi.now = 1700000100;
	g->bi.env = &g->env;
	g->bi.fd = g->fd;
	g->bi.rcpts = g->br;
	g->bi.nrcpts = 2;
	buf_init(&g->out, BOUNCE_MAX);
}

static void
rig_free(struct rig *g)
{
	buf_reset(&g->out);
	close(g->fd);
}

static const char *
text(struct rig *g)
{
	return (const char *)g->out.data;
}

/* RFC 5322 2.1: every line of the notice ends in CRLF. */
static void
assert_crlf_lines(const char *t)
{
	const char *p;

	for (p = t; (p = strchr(p, '\n')) != NULL; p++)
		assert_true(p > t && p[-1] == '\r');
}

/* Characters (UTF-8 lead bytes) in p[0..n). */
static size_t
chars(const char *p, size_t n)
{
	size_t i, w = 0;

	for (i = 0; i < n; i++)
		w += ((unsigned char)p[i] & 0xc0) != 0x80;
	return w;
}

/*
 * RFC 5322 2.1.1: each line of the notification part (the text a person
 * reads) is at most 78 characters. The part ends at the next boundary.
 */
static void
assert_notification_width(const char *t)
{
	const char *p, *end, *eol;

	p = strstr(t, "Content-Transfer-Encoding: 8bit\r\n\r\n");
	assert_non_null(p);
	end = strstr(p, "\r\n--BOUNDARY\r\n");
	assert_non_null(end);
	for (; p < end; p = eol + 2) {
		eol = strstr(p, "\r\n");
		if (chars(p, (size_t)(eol - p)) > 78)
			fail_msg("line over 78 characters: %.*s",
			    (int)(eol - p), p);
	}
}

/*
 * The lines of the notification between the line `head` and the first
 * line starting with `stop` (the advice), CRLFs and indents included,
 * into dst; "" when there are none.
 */
static void
notification_reason(const char *t, const char *head, const char *stop,
    char *dst, size_t dstsz)
{
	const char *p, *end;
	size_t n;

	p = strstr(t, head);
	assert_non_null(p);
	p += strlen(head);
	assert_memory_equal(p, "\r\n", 2);
	p += 2;
	end = strstr(p, stop);
	assert_non_null(end);
	n = (size_t)(end - p);
	assert_true(n < dstsz);
	memcpy(dst, p, n);
	dst[n] = '\0';
}

/* Drop the indents and line breaks of wrapped lines (in place). */
static char *
unwrap(char *s)
{
	char *r = s, *w = s;

	while (*r != '\0') {
		if (strncmp(r, "    ", 4) == 0 && (r == s || r[-1] == '\n'))
			r += 4;
		else if (r[0] == '\r' && r[1] == '\n')
			r += 2;
		else
			*w++ = *r++;
	}
	*w = '\0';
	return s;
}

/* Remove every space, CR and LF (in place): the words, run together. */
static char *
squeeze(char *s)
{
	char *r, *w = s;

	for (r = s; *r != '\0'; r++)
		if (*r != ' ' && *r != '\r' && *r != '\n')
			*w++ = *r;
	*w = '\0';
	return s;
}

/*
 * The field starting with `name` (unfolded: each CRLF before a space
 * removed, RFC 5322 2.2.3) into dst; asserts it is there, that each
 * continuation line starts with a space and holds more than spaces.
 */
static void
unfolded_field(const char *t, const char *name, char *dst, size_t dstsz)
{
	const char *p, *eol;
	size_t n = 0, k;

	p = strstr(t, name);
	assert_non_null(p);
	for (;;) {
		eol = strstr(p, "\r\n");
		assert_non_null(eol);
		k = (size_t)(eol - p);
		assert_true(n + k < dstsz);
		memcpy(dst + n, p, k);
		n += k;
		p = eol + 2;
		if (*p != ' ')
			break;
		assert_true(strspn(p, " ") < strcspn(p, "\r"));
	}
	dst[n] = '\0';
}

static void
test_failed_full(void **state)
{
	struct rig g;
	struct why why;
	const char *t, *p;

	(void)state;
	rig_init(&g, msg, sizeof(msg) - 1);
	assert_int_equal(bounce_build(&g.bi, &g.out, &why), 0);
	t = text(&g);
	assert_non_null(strstr(t, "From: Mail Delivery System "
	                          "<MAILER-DAEMON@mx.x.test>\r\n"));
	assert_non_null(strstr(t, "To: <a@x.test>\r\n"));
	assert_non_null(strstr(t, "Auto-Submitted: auto-replied\r\n"));
	assert_non_null(strstr(t, "Content-Type: multipart/report; "
	                          "report-type=delivery-status;"));
	assert_non_null(strstr(t, "Reporting-MTA: dns; mx.x.test\r\n"));
	assert_non_null(strstr(t, "Final-Recipient: rfc822; bad@y.test\r\n"
	                          "Action: failed\r\nStatus: 5.1.1\r\n"
	                          "Diagnostic-Code: smtp; 550 5.1.1 no such  "
	                          "user\r\n"));
	/* No reply behind the expiry: no Diagnostic-Code for it. */
	p = strstr(t, "Final-Recipient: rfc822; gone@z.test\r\n");
	assert_non_null(p);
	assert_null(strstr(p, "Diagnostic-Code"));
	assert_non_null(strstr(t, "Original-Recipient: rfc822;Gone@z.test\r\n"
	                          "Final-Recipient: rfc822; gone@z.test\r\n"
	                          "Action: failed\r\nStatus: 5.4.7\r\n"));
	assert_non_null(strstr(t, "Content-Type: message/rfc822\r\n\r\n"
	                          "Subject: hello\r\n"));
	assert_non_null(strstr(t, "body line\r\n\r\n--BOUNDARY--\r\n"));
	/* Plain words for the person. */
	assert_non_null(strstr(t, "\r\n    address and send again.\r\n"));
	/* Every line ends in CRLF, no bare LF or CR anywhere. */
	assert_crlf_lines(t);
	assert_notification_width(t);
	for (p = t; (p = strchr(p, '\r')) != NULL; p++)
		assert_true(p[1] == '\n');
	rig_free(&g);
}

static void
test_hdrs_and_delay(void **state)
{
	struct rig g;
	struct why why;
	const char *t;

	(void)state;
	rig_init(&g, msg, sizeof(msg) - 1);
	g.env.dsn_ret = SMTP_RET_HDRS;
	g.env.envid = (char *)"ENV+2B1";
	g.bi.kind = BOUNCE_DELAYED;
	g.br[0].reason = "mx.y.test said: 451 4.2.2 full (in reply to RCPT TO)";
	g.br[0].code = 451;
	g.br[0].esc = "4.2.2";
	g.br[0].text = "full";
	assert_int_equal(bounce_build(&g.bi, &g.out, &why), 0);
	t = text(&g);
	assert_non_null(strstr(t, "Subject: Delayed Mail"));
	assert_non_null(strstr(t, "Original-Envelope-Id: ENV+2B1\r\n"));
	assert_non_null(strstr(t, "Action: delayed\r\nStatus: 4.2.2\r\n"));
	assert_non_null(strstr(t, "Content-Type: text/rfc822-headers\r\n\r\n"
	                          "Subject: hello\r\nFrom: <a@x.test>\r\n"
	                          "\r\n--BOUNDARY--\r\n"));
	assert_null(strstr(t, "body line"));
	rig_free(&g);
}

/*
 * RFC 3461 5.2.2: a recipient relayed to a next hop without DSN gets
 * Action: relayed, Status 2.0.0, the next hop as Remote-MTA (RFC 3464
 * 2.3.5) and its reply; the original's headers only, whatever RET says.
 */
static void
test_relayed(void **state)
{
	struct rig g;
	struct why why;
	const char *t;

	(void)state;
	rig_init(&g, msg, sizeof(msg) - 1);
	g.env.dsn_ret = SMTP_RET_FULL;
	g.bi.kind = BOUNCE_RELAYED;
	g.br[0].reason = "relayed to mx.y.test, which does not support "
	                 "delivery notifications (DSN)";
	g.br[0].code = 250;
	g.br[0].esc = "2.0.0";
	g.br[0].text = "Ok: queued as 1234";
	g.br[0].mta = "mx.y.test";
	g.br[1].reason = "relayed";
	g.br[1].mta = "mx.z.test\r\nX-Evil: 1"; /* one line */
	assert_int_equal(bounce_build(&g.bi, &g.out, &why), 0);
	t = text(&g);
	assert_non_null(strstr(t, "Subject: Relayed Mail Report\r\n"));
	assert_non_null(
	    strstr(t, "Message-ID: <0601a2b3c4d5e6001a3f.relayed@"));
	assert_non_null(strstr(t, "(NOTIFY=SUCCESS)"));
	assert_non_null(strstr(t, "Final-Recipient: rfc822; bad@y.test\r\n"
	                          "Action: relayed\r\nStatus: 2.0.0\r\n"
	                          "Remote-MTA: dns; mx.y.test\r\n"
	                          "Diagnostic-Code: smtp; 250 2.0.0 Ok: "
	                          "queued as 1234\r\n"));
	assert_non_null(strstr(t, "<bad@y.test>:\r\n    relayed to mx.y.test"));
	assert_non_null(strstr(t, "No report of the final delivery"));
	assert_non_null(strstr(t, "Original-Recipient: rfc822;Gone@z.test\r\n"
	                          "Final-Recipient: rfc822; gone@z.test\r\n"
	                          "Action: relayed\r\nStatus: 2.0.0\r\n"
	                          "Remote-MTA: dns; mx.z.test  X-Evil: 1\r\n"
	                          "Last-Attempt-Date: "));
	/* A success carries no copy of the body (RFC 3461 4.3). */
	assert_non_null(strstr(t, "Content-Type: text/rfc822-headers\r\n"));
	assert_null(strstr(t, "message/rfc822"));
	assert_null(strstr(t, "body line"));
	assert_crlf_lines(t);
	assert_notification_width(t);
	rig_free(&g);
}

/* RFC 3461 5.2.3: final delivery here; no server, no Remote-MTA. */
static void
test_delivered(void **state)
{
	struct rig g;
	struct why why;
	const char *t;

	(void)state;
	rig_init(&g, msg, sizeof(msg) - 1);
	g.bi.kind = BOUNCE_DELIVERED;
	g.bi.nrcpts = 1;
	g.br[0].reason = "delivered to the mailbox";
	g.br[0].code = 0;
	assert_int_equal(bounce_build(&g.bi, &g.out, &why), 0);
	t = text(&g);
	assert_non_null(strstr(t, "Subject: Successful Mail Delivery "
	                          "Report\r\n"));
	assert_non_null(strstr(t, "Action: delivered\r\nStatus: 2.0.0\r\n"
	                          "Last-Attempt-Date: "));
	assert_null(strstr(t, "Remote-MTA"));
	assert_null(strstr(t, "Diagnostic-Code"));
	assert_null(strstr(t, "body line"));
	rig_free(&g);
}

/* The blank line's CRLF split over two 64 KiB reads. */
static void
test_header_end_straddles_chunk(void **state)
{
	size_t n = 65536 + 100, i;
	char *big = malloc(n);
	struct rig g;
	struct why why;
	const char *t, *end;

	(void)state;
	memset(big, 'a', n);
	memcpy(big, "X-Long: ", 8);
	/* "\r\n\r\n" at 65534..65537: the second \n is read at offset 0. */
	for (i = 65536 - 3; i < 65536 + 1; i++)
		big[i] = (i % 2 == 1) ? '\r' : '\n';
	big[65533] = '\r';
	big[65534] = '\n';
	big[65535] = '\r';
	big[65536] = '\n';
	rig_init(&g, big, n);
	g.env.dsn_ret = SMTP_RET_HDRS;
	assert_int_equal(bounce_build(&g.bi, &g.out, &why), 0);
	t = text(&g);
	end = strstr(t, "\r\n--BOUNDARY--\r\n");
	assert_non_null(end);
	/* The header is kept up to its last CRLF, then the closing part. */
	assert_memory_equal(end - 3, "a\r\n\r\n--BOUNDARY--", 17);
	rig_free(&g);
	free(big);
}

/*
 * Found by fuzz_bounce: a message without a blank line is all header,
 * and nothing bounds a header; a header-only copy of 2 MiB made the DSN
 * too large to build, so the sender never heard. It is cut after its
 * last whole line below BOUNCE_FULL_MAX.
 */
static void
test_huge_header_cut(void **state)
{
	size_t n = 2u * 1024 * 1024, i;
	char *big = malloc(n);
	struct rig g;
	struct why why;
	const char *t, *orig, *end;

	(void)state;
	assert_non_null(big);
	for (i = 0; i < n; i++) /* "X-Hdr: aaa...\r\n" lines of 100 */
		big[i] = i % 100 == 98 ? '\r' : i % 100 == 99 ? '\n' : 'a';
	memcpy(big, "X-Hdr: ", 7);
	rig_init(&g, big, n);
	g.env.dsn_ret = SMTP_RET_HDRS;
	assert_int_equal(bounce_build(&g.bi, &g.out, &why), 0);
	assert_true(g.out.len <= BOUNCE_MAX);
	t = text(&g);
	orig = strstr(t, "\r\n\r\nX-Hdr: ");
	end = strstr(t, "\r\n--BOUNDARY--\r\n");
	assert_non_null(orig);
	assert_non_null(end);
	/* Whole lines, ending in CRLF, no more than BOUNCE_FULL_MAX. */
	assert_memory_equal(end - 101, "\naaa", 4);
	assert_true((size_t)(end - orig) <= BOUNCE_FULL_MAX + 40);
	assert_true((size_t)(end - orig) > BOUNCE_FULL_MAX - 200);
	rig_free(&g);
	free(big);
}

/* A message that came with SMTPUTF8: UTF-8 in its header too. */
static const char umsg[] = "Subject: gr\xc3\xbc\xc3\x9f"
                           "e\r\nFrom: <j\xc3\xb6rg@x.test>\r\n\r\n"
                           "body line\r\n";

/* The rig on umsg, received with SMTPUTF8. */
static void
rig_init_smtputf8(struct rig *g)
{
	rig_init(g, umsg, sizeof(umsg) - 1);
	g->env.smtputf8 = true;
}

/*
 * RFC 6533 3: a non-ASCII recipient is "utf-8; " and the address (the
 * utf-8-address form); RFC 6533 4: the report is
 * message/global-delivery-status and the original message/global. A
 * utf-8 ORCPT in utf-8-addr-xtext form ("\x{F6}") is written as the
 * utf-8-address it stands for (RFC 6533 3).
 */
static void
test_smtputf8_utf8_rcpt(void **state)
{
	struct rig g;
	struct why why;
	const char *t;

	(void)state;
	rig_init_smtputf8(&g);
	g.r[0].addr = (char *)"j\xc3\xb6rg@b\xc3\xbc"
	                      "cher.test";
	g.d[0].orcpt = (char *)"utf-8;J\\x{F6}rg@b\\x{FC}cher.test";
	assert_int_equal(bounce_build(&g.bi, &g.out, &why), 0);
	t = text(&g);
	assert_non_null(strstr(t, "Content-Type: multipart/report; "
	                          "report-type=delivery-status;"));
	assert_non_null(strstr(t, "Content-Description: Delivery report\r\n"
	                          "Content-Type: "
	                          "message/global-delivery-status\r\n\r\n"
	                          "Reporting-MTA: dns; mx.x.test\r\n"));
	assert_non_null(
	    strstr(t, "\r\n\r\nOriginal-Recipient: utf-8;J\xc3\xb6"
	              "rg@b\xc3\xbc"
	              "cher.test\r\n"
	              "Final-Recipient: utf-8; j\xc3\xb6rg@b\xc3\xbc"
	              "cher.test\r\n"
	              "Action: failed\r\nStatus: 5.1.1\r\n"));
	/* The ASCII one keeps rfc822, and its ORCPT as given. */
	assert_non_null(strstr(t, "Original-Recipient: rfc822;Gone@z.test\r\n"
	                          "Final-Recipient: rfc822; gone@z.test\r\n"));
	assert_non_null(strstr(t, "<j\xc3\xb6rg@b\xc3\xbc"
	                          "cher.test>:\r\n    mx.y.test said:"));
	assert_non_null(
	    strstr(t, "Content-Description: The original message\r\n"
	              "Content-Type: message/global\r\n\r\n"
	              "Subject: gr\xc3\xbc\xc3\x9f"
	              "e\r\n"));
	assert_non_null(strstr(t, "body line\r\n\r\n--BOUNDARY--\r\n"));
	assert_null(strstr(t, "message/delivery-status"));
	assert_null(strstr(t, "message/rfc822"));
	assert_null(strstr(t, "rfc822; j"));
	assert_crlf_lines(t);
	rig_free(&g);
}

/*
 * RFC 6533 3: ORCPT of the utf-8 type, as written into a
 * message/global-delivery-status. The xtext and unitext forms become
 * the utf-8-address; "if an address is labeled with the UTF-8 address
 * type but does not conform to utf-8 syntax", it is copied unaltered.
 */
static const struct orcpt_case {
	const char *name, *orcpt, *want;
} orcpt_cases[] = {
	{ "xtext", "utf-8;j\\x{F6}rg@x.test", "utf-8;j\xc3\xb6rg@x.test" },
	{ "xtext-lower", "UTF-8;j\\x{f6}rg@x.test",
	    "UTF-8;j\xc3\xb6rg@x.test" },
	{ "unitext", "utf-8;j\xc3\xb6rg@x.test", "utf-8;j\xc3\xb6rg@x.test" },
	{ "4-byte", "utf-8;\\x{1F600}@x.test",
	    "utf-8;\xf0\x9f\x98\x80@x.test" },
	{ "escaped-plus", "utf-8;a\\x{2B}b@x.test", "utf-8;a+b@x.test" },
	{ "ascii", "utf-8;bob@x.test", "utf-8;bob@x.test" },
	/* Not conforming: as given. */
	{ "raw-plus", "utf-8;a+b@x.test", "utf-8;a+b@x.test" },
	{ "needless-escape", "utf-8;\\x{41}@x.test", "utf-8;\\x{41}@x.test" },
	{ "leading-zero", "utf-8;\\x{00F6}@x.test", "utf-8;\\x{00F6}@x.test" },
	{ "surrogate", "utf-8;\\x{D800}@x.test", "utf-8;\\x{D800}@x.test" },
	{ "too-big", "utf-8;\\x{110000}@x.test", "utf-8;\\x{110000}@x.test" },
	{ "unclosed", "utf-8;\\x{F6@x.test", "utf-8;\\x{F6@x.test" },
	{ "control", "utf-8;a\\x{01}b@x.test", "utf-8;a\\x{01}b@x.test" },
	{ "no-at", "utf-8;j\\x{F6}rg", "utf-8;j\\x{F6}rg" },
	{ "bad-utf8", "utf-8;j\xc3rg@x.test", "utf-8;j\xc3rg@x.test" },
	{ "empty", "utf-8;", "utf-8;" },
	/* Another type is never decoded (RFC 3461 4.2: as the client gave). */
	{ "rfc822", "rfc822;a+2Bb@x.test", "rfc822;a+2Bb@x.test" },
	{ "rfc822-utf8", "rfc822;j\\x{F6}rg@x.test",
	    "rfc822;j\\x{F6}rg@x.test" },
};

static void
test_smtputf8_orcpt(void **state)
{
	const struct orcpt_case *c;
	struct rig g;
	struct why why;
	char want[256];
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < sizeof(orcpt_cases) / sizeof(orcpt_cases[0]); i++) {
		c = &orcpt_cases[i];
		rig_init_smtputf8(&g);
		g.d[0].orcpt = (char *)c->orcpt;
		n = snprintf(want, sizeof(want),
		    "\r\n\r\nOriginal-Recipient: %s\r\nFinal-Recipient: "
		    "rfc822; bad@y.test\r\n",
		    c->want);
		assert_true(n > 0 && (size_t)n < sizeof(want));
		assert_int_equal(bounce_build(&g.bi, &g.out, &why), 0);
		if (strstr(text(&g), want) == NULL)
			fail_msg("%s: no \"%s\"", c->name, want);
		rig_free(&g);
	}
}

/*
 * An SMTPUTF8 message with ASCII recipients only: rfc822 stays (RFC
 * 6533 3 adds a type, it does not replace rfc822), the containers are
 * the global ones (RFC 6533 4).
 */
static void
test_smtputf8_ascii_rcpt(void **state)
{
	struct rig g;
	struct why why;
	const char *t;

	(void)state;
	rig_init_smtputf8(&g);
	assert_int_equal(bounce_build(&g.bi, &g.out, &why), 0);
	t = text(&g);
	assert_non_null(strstr(t, "Final-Recipient: rfc822; bad@y.test\r\n"
	                          "Action: failed\r\nStatus: 5.1.1\r\n"
	                          "Diagnostic-Code: smtp; 550 5.1.1 no such  "
	                          "user\r\n"));
	assert_non_null(strstr(t, "Original-Recipient: rfc822;Gone@z.test\r\n"
	                          "Final-Recipient: rfc822; gone@z.test\r\n"));
	assert_null(strstr(t, "utf-8;"));
	assert_non_null(
	    strstr(t, "Content-Type: message/global-delivery-status\r\n"));
	assert_non_null(strstr(t, "Content-Type: message/global\r\n\r\n"));
	assert_null(strstr(t, "message/delivery-status"));
	assert_null(strstr(t, "message/rfc822"));
	rig_free(&g);
}

/* RFC 6533 4 and 6.3: the header alone is message/global-headers. */
static void
test_smtputf8_headers_only(void **state)
{
	struct rig g;
	struct why why;
	const char *t;

	(void)state;
	rig_init_smtputf8(&g);
	g.env.dsn_ret = SMTP_RET_HDRS;
	assert_int_equal(bounce_build(&g.bi, &g.out, &why), 0);
	t = text(&g);
	assert_non_null(strstr(t, "Content-Description: Headers of the "
	                          "original message\r\n"
	                          "Content-Type: message/global-headers\r\n\r\n"
	                          "Subject: gr\xc3\xbc\xc3\x9f"
	                          "e\r\nFrom: <j\xc3\xb6rg@x.test>\r\n"
	                          "\r\n--BOUNDARY--\r\n"));
	assert_null(strstr(t, "text/rfc822-headers"));
	assert_null(strstr(t, "message/global\r\n"));
	assert_null(strstr(t, "body line"));
	rig_free(&g);
}

/*
 * Without SMTPUTF8 the RFC 3464 forms, byte for byte as before RFC 6533
 * support, even for a UTF-8 final address (an alias may give one) and a
 * utf-8 ORCPT: the whole DSN is compared. Since issue 15 the notification
 * is wrapped at 78 characters.
 */
static const char plain_want[] =
    "From: Mail Delivery System <MAILER-DAEMON@mx.x.test>\r\n"
    "To: <a@x.test>\r\n"
    "Subject: Undelivered Mail Returned to Sender\r\n"
    "Date: Tue, 14 Nov 2023 22:15:00 +0000\r\n"
    "Message-ID: <0601a2b3c4d5e6001a3f.bounce@mx.x.test>\r\n"
    "Auto-Submitted: auto-replied\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
    "\tboundary=\"BOUNDARY\"\r\n"
    "\r\n"
    "This is a MIME-encapsulated message.\r\n"
    "\r\n"
    "--BOUNDARY\r\n"
    "Content-Description: Notification\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "This is the mail system at mx.x.test.\r\n"
    "\r\n"
    "Your message could not be delivered to one or more recipients, and "
    "it will not\r\n"
    "be tried again for them. The details are below.\r\n"
    "\r\n"
    "<j\xc3\xb6rg@x.test>:\r\n"
    "    mx.y.test said: 550 5.1.1 no such  user (in reply to RCPT TO)\r\n"
    "    The address may be misspelt, or the mailbox may no longer exist. "
    "Check the\r\n"
    "    address and send again.\r\n"
    "\r\n"
    "<gone@z.test>:\r\n"
    "    delivery time expired: last error: none\r\n"
    "    The receiving system could not be reached for the whole time we "
    "kept\r\n"
    "    trying. Try again later, or check the address.\r\n"
    "\r\n"
    "--BOUNDARY\r\n"
    "Content-Description: Delivery report\r\n"
    "Content-Type: message/delivery-status\r\n"
    "\r\n"
    "Reporting-MTA: dns; mx.x.test\r\n"
    "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    "\r\n"
    "Original-Recipient: utf-8;j\\x{F6}rg@x.test\r\n"
    "Final-Recipient: rfc822; j\xc3\xb6rg@x.test\r\n"
    "Action: failed\r\n"
    "Status: 5.1.1\r\n"
    "Diagnostic-Code: smtp; 550 5.1.1 no such  user\r\n"
    "Last-Attempt-Date: Tue, 14 Nov 2023 22:15:00 +0000\r\n"
    "\r\n"
    "Original-Recipient: rfc822;Gone@z.test\r\n"
    "Final-Recipient: rfc822; gone@z.test\r\n"
    "Action: failed\r\n"
    "Status: 5.4.7\r\n"
    "Last-Attempt-Date: Tue, 14 Nov 2023 22:15:00 +0000\r\n"
    "\r\n"
    "--BOUNDARY\r\n"
    "Content-Description: Headers of the original message\r\n"
    "Content-Type: text/rfc822-headers\r\n"
    "\r\n"
    "Subject: hello\r\n"
    "From: <a@x.test>\r\n"
    "\r\n"
    "--BOUNDARY--\r\n";

static void
test_plain_unchanged(void **state)
{
	struct rig g;
	struct why why;

	(void)state;
	rig_init(&g, msg, sizeof(msg) - 1);
	g.env.dsn_ret = SMTP_RET_HDRS;
	g.r[0].addr = (char *)"j\xc3\xb6rg@x.test";
	g.d[0].orcpt = (char *)"utf-8;j\\x{F6}rg@x.test";
	assert_int_equal(bounce_build(&g.bi, &g.out, &why), 0);
	assert_int_equal(g.out.len, sizeof(plain_want) - 1);
	assert_memory_equal(g.out.data, plain_want, sizeof(plain_want) - 1);
	rig_free(&g);
}

/* bounce_status() reads the reply's fields, never the reason text. */
static const struct status_case {
	const char *name;
	unsigned code;
	const char *esc, *reason;
	enum bounce_kind kind;
	const char *want;
} status_cases[] = {
	{ "esc", 550, "5.7.1", "h said: 550 5.7.1 no", BOUNCE_FAILED, "5.7.1" },
	/* A failure reported with a 4xx (e.g. after expiry) is still 5. */
	{ "4xx-failed", 451, "4.4.1", "x", BOUNCE_FAILED, "5.4.1" },
	{ "4xx-delayed", 451, "4.4.1", "x", BOUNCE_DELAYED, "4.4.1" },
	{ "no-esc", 550, "", "h said: 550 no code", BOUNCE_FAILED, "5.0.0" },
	{ "null-esc", 550, NULL, "h said: ", BOUNCE_FAILED, "5.0.0" },
	{ "2xx-esc", 550, "2.0.0", "odd", BOUNCE_FAILED, "5.0.0" },
	{ "bad-esc", 550, "5.1", "x", BOUNCE_FAILED, "5.0.0" },
	{ "long-esc", 550, "5.1.1234", "x", BOUNCE_FAILED, "5.0.0" },
	{ "esc-junk", 550, "5.1.1x", "x", BOUNCE_FAILED, "5.0.0" },
	/* Found by fuzz_bounce: a server's words never pick the status. */
	{ "remote-dne", 550, NULL, "h said: 550 user does not exist",
	    BOUNCE_FAILED, "5.0.0" },
	{ "remote-dne-4xx", 451, "", "h said: 451 mailbox does not exist yet",
	    BOUNCE_DELAYED, "4.0.0" },
	{ "remote-expired", 550, NULL, "h said: 550 password expired",
	    BOUNCE_FAILED, "5.0.0" },
	/* The text is a person's: a quoted code there is not read. */
	{ "text-only", 0, NULL, "h said: 550 5.7.1 no", BOUNCE_FAILED,
	    "5.0.0" },
	{ "no-reply-esc", 0, "5.7.1", "x", BOUNCE_FAILED, "5.0.0" },
	{ "null-mx", 0, NULL,
	    "the domain x accepts no mail (null MX, RFC "
	    "7505)",
	    BOUNCE_FAILED, "5.1.10" },
	{ "expired", 0, NULL, "delivery time expired: ...", BOUNCE_FAILED,
	    "5.4.7" },
	{ "nothing", 0, NULL, NULL, BOUNCE_DELAYED, "4.0.0" },
	/* A success is 2.0.0 whatever the server's code or our reason. */
	{ "delivered", 0, NULL, "expired", BOUNCE_DELIVERED, "2.0.0" },
	{ "relayed", 250, "2.1.5", "x", BOUNCE_RELAYED, "2.0.0" },
	{ "relayed-odd", 550, "5.1.1", "x", BOUNCE_RELAYED, "2.0.0" },
};

static void
test_status(void **state)
{
	const struct status_case *c;
	struct bounce_rcpt br;
	char b[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]); i++) {
		c = &status_cases[i];
		memset(&br, 0, sizeof(br));
		br.code = c->code;
		br.esc = c->esc;
		br.reason = c->reason;
		if (strcmp(bounce_status(&br, c->kind, b, sizeof(b)),
		        c->want) != 0)
			fail_msg("%s: got %s, want %s", c->name, b, c->want);
	}
}

static void
test_wanted(void **state)
{
	struct spool_env env;
	struct spool_dsn d;

	(void)state;
	memset(&env, 0, sizeof(env));
	memset(&d, 0, sizeof(d));
	/* No DSN data at all: failures and delays are reported. */
	assert_true(bounce_wanted(&env, 0, BOUNCE_FAILED));
	assert_true(bounce_wanted(&env, 0, BOUNCE_DELAYED));
	env.dsn = &d;
	assert_true(bounce_wanted(&env, 0, BOUNCE_FAILED));
	d.notify = SMTP_NOTIFY_NEVER;
	assert_false(bounce_wanted(&env, 0, BOUNCE_FAILED));
	d.notify = SMTP_NOTIFY_SUCCESS;
	assert_false(bounce_wanted(&env, 0, BOUNCE_FAILED));
	d.notify = SMTP_NOTIFY_FAILURE;
	assert_true(bounce_wanted(&env, 0, BOUNCE_FAILED));
	assert_false(bounce_wanted(&env, 0, BOUNCE_DELAYED));
	d.notify = SMTP_NOTIFY_DELAY;
	assert_true(bounce_wanted(&env, 0, BOUNCE_DELAYED));
	/* Delivery reports only when asked (RFC 3461 4.1). */
	assert_false(bounce_wanted(&env, 0, BOUNCE_DELIVERED));
	d.notify = SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE;
	assert_true(bounce_wanted(&env, 0, BOUNCE_DELIVERED));
	env.dsn = NULL;
	assert_false(bounce_wanted(&env, 0, BOUNCE_DELIVERED));
}

/*
 * RFC 3461 5.2.2: "relayed" only with NOTIFY=SUCCESS; never without
 * NOTIFY, with NOTIFY=NEVER, or with FAILURE/DELAY alone.
 */
static const struct wanted_case {
	const char *name;
	bool has_dsn;
	unsigned notify;
	bool want;
} relayed_cases[] = {
	{ "no-dsn-data", false, 0, false },
	{ "no-notify", true, 0, false },
	{ "never", true, SMTP_NOTIFY_NEVER, false },
	{ "failure", true, SMTP_NOTIFY_FAILURE, false },
	{ "delay", true, SMTP_NOTIFY_DELAY, false },
	{ "failure-delay", true, SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY,
	    false },
	{ "success", true, SMTP_NOTIFY_SUCCESS, true },
	{ "success-failure", true, SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE,
	    true },
	{ "all", true,
	    SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY,
	    true },
};

static void
test_wanted_relayed(void **state)
{
	const struct wanted_case *c;
	struct spool_env env;
	struct spool_dsn d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(relayed_cases) / sizeof(relayed_cases[0]); i++) {
		c = &relayed_cases[i];
		memset(&env, 0, sizeof(env));
		memset(&d, 0, sizeof(d));
		d.notify = c->notify;
		env.dsn = c->has_dsn ? &d : NULL;
		if (bounce_wanted(&env, 0, BOUNCE_RELAYED) != c->want)
			fail_msg("%s: want %d", c->name, c->want);
		/* The same keyword asks for "delivered" (RFC 3461 4.1). */
		if (bounce_wanted(&env, 0, BOUNCE_DELIVERED) != c->want)
			fail_msg("%s: delivered: want %d", c->name, c->want);
	}
}

/*
 * Regression: a reason cut at its 400-byte cap could end in half of a
 * UTF-8 character. The cut now falls before a character that does not
 * fit whole, in the notification and in Diagnostic-Code alike. Each
 * reason is `pad` bytes of 'a', then `mid`, then "zz"; `keep` is how
 * much of `mid` is shown.
 */
#define CUT_MAX 400 /* REASON_MAX in bounce.c */

static const struct cut_case {
	const char *name;
	size_t pad;
	const char *mid;
	size_t keep;
} cut_cases[] = {
	{ "ascii-at-cap", CUT_MAX - 1, "b", 1 },
	{ "2-byte-fits", CUT_MAX - 2, "\xc3\xb6", 2 },
	{ "2-byte-straddles", CUT_MAX - 1, "\xc3\xb6", 0 },
	{ "2-byte-after-cap", CUT_MAX, "\xc3\xb6", 0 },
	{ "3-byte-fits", CUT_MAX - 3, "\xe2\x82\xac", 3 },
	{ "3-byte-straddles-1", CUT_MAX - 2, "\xe2\x82\xac", 0 },
	{ "3-byte-straddles-2", CUT_MAX - 1, "\xe2\x82\xac", 0 },
	{ "4-byte-fits", CUT_MAX - 4, "\xf0\x9f\x98\x80", 4 },
	{ "4-byte-straddles-1", CUT_MAX - 3, "\xf0\x9f\x98\x80", 0 },
	{ "4-byte-straddles-2", CUT_MAX - 2, "\xf0\x9f\x98\x80", 0 },
	{ "4-byte-straddles-3", CUT_MAX - 1, "\xf0\x9f\x98\x80", 0 },
	{ "char-then-straddle", CUT_MAX - 3, "\xc3\xb6\xc3\xb6", 2 },
	/* Not UTF-8 to begin with: passed as it came, cut at the cap. */
	{ "lone-lead-byte", CUT_MAX - 1, "\xc3z", 1 },
	{ "overlong", CUT_MAX - 1, "\xc0\xaf", 1 },
};

static void
test_reason_cut_utf8(void **state)
{
	const struct cut_case *c;
	struct rig g;
	struct why why;
	char reason[CUT_MAX + 16], want[CUT_MAX + 64], got[2048];
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < sizeof(cut_cases) / sizeof(cut_cases[0]); i++) {
		c = &cut_cases[i];
		memset(reason, 'a', c->pad);
		n = snprintf(reason + c->pad, sizeof(reason) - c->pad, "%szz",
		    c->mid);
		assert_true(n > 0 && (size_t)n < sizeof(reason) - c->pad);
		rig_init(&g, msg, sizeof(msg) - 1);
		/* Global: a plain message/delivery-status has no UTF-8. */
		g.env.smtputf8 = true;
		g.br[0].reason = reason;
		g.br[0].text = reason;
		assert_int_equal(bounce_build(&g.bi, &g.out, &why), 0);
		/* One word, so only the wrapping's line breaks come between. */
		n = snprintf(want, sizeof(want), "%.*s",
		    (int)(c->pad + c->keep), reason);
		assert_true(n > 0 && (size_t)n < sizeof(want));
		notification_reason(text(&g),
		    "<bad@y.test>:", "    The address may", got, sizeof(got));
		if (strcmp(unwrap(got), want) != 0)
			fail_msg("%s: notification cut wrong", c->name);
		n = snprintf(want, sizeof(want),
		    "Diagnostic-Code: smtp; 550 5.1.1 %.*s",
		    (int)(c->pad + c->keep), reason);
		assert_true(n > 0 && (size_t)n < sizeof(want));
		unfolded_field(text(&g), "Diagnostic-Code: ", got, sizeof(got));
		if (strcmp(got, want) != 0)
			fail_msg("%s: Diagnostic-Code cut wrong", c->name);
		rig_free(&g);
	}
}

/*
 * RFC 3464 2.1.1: message/delivery-status is ASCII. A server's non-ASCII
 * reply text (and a Remote-MTA or ENVID from a damaged spool) shows as
 * '?' there; the human-readable part (charset=utf-8) keeps the UTF-8.
 */
static void
test_plain_report_ascii(void **state)
{
	struct rig g;
	struct why why;
	const char *t, *report, *end, *p;

	(void)state;
	rig_init(&g, msg, sizeof(msg) - 1);
	g.env.envid = (char *)"env-\xc3\xa9";
	g.br[0].reason = "mx.y.test said: 550 5.1.1 Benutzer unbekannt: "
	                 "J\xc3\xbcrgen";
	g.br[0].text = "Benutzer unbekannt: J\xc3\xbcrgen";
	g.br[0].mta = "mx.\xe2\x82\xac.test";
	assert_int_equal(bounce_build(&g.bi, &g.out, &why), 0);
	t = text(&g);
	assert_non_null(strstr(t, "    mx.y.test said: 550 5.1.1 Benutzer "
	                          "unbekannt: J\xc3\xbcrgen\r\n"));
	report = strstr(t, "Content-Type: message/delivery-status\r\n");
	assert_non_null(report);
	end = strstr(report, "\r\n--BOUNDARY");
	assert_non_null(end);
	for (p = report; p < end; p++)
		assert_true((unsigned char)*p < 0x80);
	assert_non_null(strstr(report, "Original-Envelope-Id: env-??\r\n"));
	assert_non_null(strstr(report, "Remote-MTA: dns; mx.???.test\r\n"));
	assert_non_null(strstr(report, "Diagnostic-Code: smtp; 550 5.1.1 "
	                               "Benutzer unbekannt: J??rgen\r\n"));
	rig_free(&g);
}

/*
 * Issue 15: the notification is wrapped at 78 characters (RFC 5322
 * 2.1.1), on spaces. A recipient's lines have a 4-space indent, so 74
 * characters of text: each case at the limit - 1, at it and past it.
 * want: the reason's lines without their indent, joined by '|'.
 */
#define A10 "aaaaaaaaaa"
#define B10 "bbbbbbbbbb"
#define O10                                                                    \
	"\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3" \
	"\xb6\xc3\xb6"
#define W74 A10 A10 A10 A10 A10 A10 A10 "aaaa" /* 74 'a' */
#define W70 B10 B10 B10 B10 B10 B10 B10        /* 70 'b' */
#define O37                                                                    \
	O10 O10 O10 "\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6"

static const struct wrap_case {
	const char *name, *reason, *want;
} wrap_cases[] = {
	{ "short", "mx said: 550 no", "mx said: 550 no" },
	{ "word-73", &W74[1], &W74[1] },
	{ "word-74", W74, W74 },
	/* Longer than a line: cut, there is no space to break at. */
	{ "word-75", W74 "a", W74 "|a" },
	{ "word-150", W74 W74 "aa", W74 "|" W74 "|aa" },
	{ "words-73", W70 " cc", W70 " cc" },
	{ "words-74", W70 " ccc", W70 " ccc" },
	{ "words-75", W70 " cccc", W70 "|cccc" },
	/* A word is never cut when it fits a line of its own. */
	{ "next-word-fits-alone", "x " W74, "x|" W74 },
	/* The spaces where a line breaks are dropped; inside, kept. */
	{ "spaces-at-break", W70 "     dd  ee", W70 "|dd  ee" },
	{ "spaces-around", "   x   ", "x" },
	{ "controls", "a\r\nb\tc", "a  b c" },
	/* Characters, not bytes: 74 two-byte characters are one line. */
	{ "utf8-74", O37 O37, O37 O37 },
	{ "utf8-75", O37 O37 "\xc3\xb6", O37 O37 "|\xc3\xb6" },
	{ "utf8-words", "\xc3\xb6 " O37 O37, "\xc3\xb6|" O37 O37 },
	{ "empty", "", "" },
	{ "null", NULL, "" },
};

static void
test_wrap(void **state)
{
	const struct wrap_case *c;
	struct rig g;
	struct why why;
	char got[2048], *p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(wrap_cases) / sizeof(wrap_cases[0]); i++) {
		c = &wrap_cases[i];
		rig_init(&g, msg, sizeof(msg) - 1);
		g.bi.nrcpts = 1;
		g.br[0].reason = c->reason;
		assert_int_equal(bounce_build(&g.bi, &g.out, &why), 0);
		assert_notification_width(text(&g));
		assert_crlf_lines(text(&g));
		notification_reason(text(&g),
		    "<bad@y.test>:", "    The address may", got, sizeof(got));
		/* "    line\r\n" each: as "line|line". */
		for (p = got; (p = strstr(p, "\r\n")) != NULL;) {
			if (p[2] == '\0') {
				*p = '\0';
				break;
			}
			assert_memory_equal(p + 2, "    ", 4);
			*p = '|';
			memmove(p + 1, p + 6, strlen(p + 6) + 1);
		}
		if (got[0] != '\0') {
			assert_memory_equal(got, "    ", 4);
			memmove(got, got + 4, strlen(got + 4) + 1);
		}
		if (strcmp(got, c->want) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", c->name, got,
			    c->want);
		rig_free(&g);
	}
}

/*
 * A long server reply, a long URL in it and a long address: every line
 * a person reads fits 78 characters, no word that fits a line is cut,
 * and no word is lost; the delivery-status part has the reply and the
 * address whole, folded (RFC 5322 2.2.3) so that unfolding gives them
 * back exactly, with the field name and the first word together.
 */
static void
test_wrap_long_reply_and_address(void **state)
{
	static const char text_[] =
	    "Service unavailable; Client host [192.0.2.1] blocked using "
	    "zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1 "
	    "see https://example.com/a/very/long/url/that/does/not/fit/on/"
	    "any/line/at/all/whatever/you/do/abcdefghijklmnop and then some "
	    "more words to fill the line";
	char reason[600], got[2048], want[2048], addr[256], field[2048];
	const char *t, *p, *w, *sp;
	struct rig g;
	struct why why;
	size_t n;

	(void)state;
	/* 64 + 1 + 63 + 1 + 63 + 1 + 50 + 5: the longest path (RFC 5321). */
	memset(addr, 'l', 64);
	addr[64] = '@';
	memset(addr + 65, 'd', 63);
	addr[128] = '.';
	memset(addr + 129, 'e', 63);
	addr[192] = '.';
	memset(addr + 193, 'f', 50);
	memcpy(addr + 243, ".test", 6);
	(void)snprintf(reason, sizeof(reason),
	    "mx.y.test said: 550 5.7.1 %s (in reply to RCPT TO)", text_);
	rig_init(&g, msg, sizeof(msg) - 1);
	g.r[0].addr = addr;
	g.br[0].reason = reason;
	g.br[0].esc = "5.7.1";
	g.br[0].text = text_;
	g.br[0].mta = "mx.y.test";
	assert_int_equal(bounce_build(&g.bi, &g.out, &why), 0);
	t = text(&g);
	assert_crlf_lines(t);
	assert_notification_width(t);
	/* The reason: every word there, in order; none that fits is cut. */
	n = (size_t)snprintf(want, sizeof(want), "<%s>:", addr);
	(void)n;
	p = strstr(t, "<llll");
	assert_non_null(p);
	notification_reason(p, "fff.test>:", "    The receiving system", got,
	    sizeof(got));
	(void)snprintf(want, sizeof(want), "%s", reason);
	assert_string_equal(squeeze(got), squeeze(want));
	for (w = reason; *w != '\0'; w = *sp != '\0' ? sp + 1 : sp) {
		sp = strchr(w, ' ');
		if (sp == NULL)
			sp = w + strlen(w);
		if (sp - w > 74 || sp == w)
			continue;
		(void)snprintf(want, sizeof(want), "%.*s", (int)(sp - w), w);
		assert_non_null(strstr(p, want));
	}
	/* The address line is cut (it cannot fit), nothing lost. */
	assert_memory_equal(p, "<llll", 5);
	/* Folded fields give back the exact values when unfolded. */
	unfolded_field(t, "Final-Recipient: ", field, sizeof(field));
	(void)snprintf(want, sizeof(want), "Final-Recipient: rfc822; %s", addr);
	assert_string_equal(field, want);
	assert_non_null(strstr(t, "Final-Recipient: rfc822;\r\n llll"));
	unfolded_field(t, "Diagnostic-Code: ", field, sizeof(field));
	(void)snprintf(want, sizeof(want),
	    "Diagnostic-Code: smtp; 550 5.7.1 %s", text_);
	assert_string_equal(field, want);
	/* Name and first word together; lines within 78 but for the URL. */
	assert_non_null(strstr(t, "\r\nDiagnostic-Code: smtp; 550 5.7.1 "
	                          "Service unavailable;"));
	p = strstr(t, "Diagnostic-Code: ");
	for (; *p != 'L'; p = strstr(p, "\r\n") + 2) { /* Last-Attempt */
		n = (size_t)(strstr(p, "\r\n") - p);
		if (n > 78)
			assert_memory_equal(p, " https://example.com/", 21);
		assert_true(n <= 998);
	}
	rig_free(&g);
}

/*
 * Folding counts characters too, never cuts a UTF-8 character, and does
 * not fold where only spaces would follow (a reply ending in CRLF shows
 * as trailing spaces).
 */
static void
test_fold_utf8_and_trailing_spaces(void **state)
{
	char text_[600], field[2048], want[2048];
	const char *t, *p, *eol;
	struct rig g;
	struct why why;
	size_t i;

	(void)state;
	/* "Gr\xc3\xb6\xc3\x9f" "e " 14 times: 84 characters, 112 bytes. */
	for (i = 0; i < 14; i++)
		memcpy(text_ + 8 * i,
		    "Gr\xc3\xb6\xc3\x9f"
		    "e ",
		    8);
	memcpy(text_ + 8 * i, "end\r\n", 6);
	rig_init_smtputf8(&g);
	g.br[0].text = text_;
	assert_int_equal(bounce_build(&g.bi, &g.out, &why), 0);
	t = text(&g);
	unfolded_field(t, "Diagnostic-Code: ", field, sizeof(field));
	(void)snprintf(want, sizeof(want),
	    "Diagnostic-Code: smtp; 550 5.1.1 %.*s  ", (int)strlen(text_) - 2,
	    text_);
	assert_string_equal(field, want);
	p = strstr(t, "Diagnostic-Code: ");
	for (; *p != 'L'; p = eol + 2) {
		eol = strstr(p, "\r\n");
		assert_true(chars(p, (size_t)(eol - p)) <= 78);
		/* No line starts inside a character. */
		assert_true(((unsigned char)p[0] & 0xc0) != 0x80);
		assert_true(((unsigned char)p[1] & 0xc0) != 0x80);
	}
	/* The trailing spaces stay on the last line, not alone on one. */
	assert_non_null(strstr(t, " end  \r\nLast-Attempt-Date: "));
	rig_free(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failed_full),
		cmocka_unit_test(test_hdrs_and_delay),
		cmocka_unit_test(test_header_end_straddles_chunk),
		cmocka_unit_test(test_huge_header_cut),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_wanted),
		cmocka_unit_test(test_wanted_relayed),
		cmocka_unit_test(test_relayed),
		cmocka_unit_test(test_delivered),
		cmocka_unit_test(test_smtputf8_utf8_rcpt),
		cmocka_unit_test(test_smtputf8_orcpt),
		cmocka_unit_test(test_smtputf8_ascii_rcpt),
		cmocka_unit_test(test_smtputf8_headers_only),
		cmocka_unit_test(test_plain_unchanged),
		cmocka_unit_test(test_reason_cut_utf8),
		cmocka_unit_test(test_plain_report_ascii),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_wrap_long_reply_and_address),
		cmocka_unit_test(test_fold_utf8_and_trailing_spaces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
