/* SPDX-License-Identifier: ISC */
/*
 * queue/bounce.c - RFC 3464 delivery status notifications (see bounce.h),
 * in the RFC 6533 forms for a message that came with SMTPUTF8.
 *
 * The notification for a person is wrapped at 78 characters (RFC 5322
 * 2.1.1), on spaces; the delivery-status fields are folded when long, as
 * any header field may be (RFC 3464 2.1.1, RFC 5322 2.2.3), so that
 * unfolding gives each back exactly.
 * Trust: reasons may quote a remote server; addresses were validated at
 * RCPT; ORCPT and ENVID are the client's. Everything is put on one line
 * with controls replaced, and capped, before it is wrapped or folded.
 */
#include "queue/bounce.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "msg/received.h"
#include "smtp/params.h"
#include "util/str.h"
#include "util/utf8.h"
#include "util/xmalloc.h"

#define REASON_MAX 400     /* bytes of a reason shown */
#define ORCPT_SHOW_MAX 600 /* bytes of an ORCPT shown */
#define READ_CHUNK 65536
#define TEXT_WIDTH 78     /* characters a line, RFC 5322 2.1.1 */
#define INDENT "    "     /* a recipient's lines in the notification */
#define OWN_TEXT_MAX 1000 /* bytes of our own words (intro, advice) */
/* The longest field folded: Final-Recipient with a whole spool field. */
#define FIELD_MAX (SPOOL_FIELD_MAX + 128)

/*
 * p as one line: CR, LF, TAB and controls become spaces; at most max
 * bytes. `ascii` (a field of message/delivery-status, which RFC 3464
 * keeps ASCII): every byte above 0x7f becomes '?'. Otherwise the cap
 * falls before a UTF-8 character that would not fit whole: half of one
 * is invalid UTF-8 in a text/plain; charset=utf-8 part (RFC 3629 4),
 * and bytes that are not UTF-8 pass as they came.
 */
static int
put_line(struct buf *b, const char *p, size_t max, bool ascii)
{
	char c;
	size_t i;

	for (i = 0; p != NULL && p[i] != '\0' && i < max; i++) {
		/* strnlen: the decoder must not read past p's NUL */
		if (!ascii && (unsigned char)p[i] >= 0x80 &&
		    utf8_decode((const uint8_t *)p + i, strnlen(p + i, 4),
		        NULL) > max - i)
			break;
		c = p[i];
		if ((unsigned char)c < 0x20 || c == 0x7f)
			c = ' ';
		else if (ascii && (unsigned char)c >= 0x80)
			c = '?';
		if (buf_append(b, &c, 1) == -1)
			return -1;
	}
	return 0;
}

/* Does byte c start a character (is it no UTF-8 continuation byte)? */
static bool
is_char_start(char c)
{
	return ((unsigned char)c & 0xc0) != 0x80;
}

/* Characters in p[0..n): bytes that start one (RFC 5322 counts those). */
static size_t
width_of(const char *p, size_t n)
{
	size_t i, w = 0;

	for (i = 0; i < n; i++)
		w += is_char_start(p[i]);
	return w;
}

/*
 * Text t[0..n) (one line, controls already gone) as lines of at most
 * TEXT_WIDTH characters, each after `indent` and ending in CRLF. Lines
 * break at spaces, which are dropped there; a word longer than a whole
 * line is cut at a character boundary (its exact text is in the
 * delivery-status part, folded there but never cut). Nothing for empty
 * text.
 */
static int
put_wrapped(struct buf *b, const char *indent, const char *t, size_t n)
{
	size_t width = TEXT_WIDTH - strlen(indent), i = 0, end, cut, brk, w;

	for (;;) {
		while (i < n && t[i] == ' ')
			i++;
		if (i >= n)
			return 0;
		/* end: the start of the first character past the width. */
		for (end = i, w = 0, brk = i; end < n; end++) {
			if (!is_char_start(t[end]))
				continue;
			if (w == width)
				break;
			if (t[end] == ' ' && t[end - 1] != ' ')
				brk = end; /* a word ends here */
			w++;
		}
		if (end >= n || t[end] == ' ')
			cut = end; /* all of it, or the words up to the width */
		else if (brk > i)
			cut = brk; /* the words that fit */
		else
			cut = end; /* one word longer than a line */
		while (cut > i && t[cut - 1] == ' ')
			cut--;
		if (buf_append_str(b, indent) == -1 ||
		    buf_append(b, t + i, cut - i) == -1 ||
		    buf_append_str(b, "\r\n") == -1)
			return -1;
		i = cut;
	}
}

/* p as put_line() makes it (UTF-8 passes), then wrapped after indent. */
static int
put_para(struct buf *b, const char *indent, const char *p, size_t max)
{
	struct buf t;
	int rc, err;

	buf_init(&t, max + 1);
	rc = put_line(&t, p, max, false);
	if (rc == 0)
		rc = put_wrapped(b, indent, (const char *)t.data, t.len);
	err = errno; /* buf_why() at the caller reads it */
	buf_reset(&t);
	errno = err;
	return rc;
}

/*
 * Fold the field b->data[start..b->len), one line without its CRLF, and
 * end it with CRLF. RFC 5322 2.2.3: a fold is a CRLF put before a space,
 * so unfolding gives the field back byte for byte. A line passing
 * TEXT_WIDTH characters is folded at its last space within the width
 * (else at its first one after it) that follows a word, leaves a word
 * after it, and keeps the field's name with the first word of its value
 * ("Diagnostic-Code: smtp;"). A word longer than a line stays whole: the
 * line is long then, but every field is capped far below 998 octets.
 */
static int
end_field(struct buf *b, size_t start)
{
	char t[FIELD_MAX];
	size_t n = b->len - start, i = 0, k, min, last, fit, brk, w;
	int words;

	if (n > sizeof(t)) /* not ours: every field is capped below */
		return buf_append_str(b, "\r\n");
	memcpy(t, b->data + start, n);
	b->len = start;
	/* Only spaces after a fold would leave a blank line: none there. */
	for (last = n; last > 0 && t[last - 1] == ' '; last--)
		;
	while (width_of(t + i, n - i) > TEXT_WIDTH) {
		/* min: past the first word (the first two on line one). */
		for (min = i, words = i == 0 ? 2 : 1; words > 0; words--) {
			while (min < n && t[min] == ' ')
				min++;
			while (min < n && t[min] != ' ')
				min++;
		}
		/* fit: the last place within the width; brk: the first past. */
		for (fit = 0, brk = 0, w = 0, k = i; k < last; k++) {
			if (k >= min && t[k] == ' ' && t[k - 1] != ' ') {
				if (w > TEXT_WIDTH) {
					brk = fit == 0 ? k : 0;
					break;
				}
				fit = k;
			}
			w += is_char_start(t[k]);
		}
		if (fit != 0)
			brk = fit;
		if (brk == 0)
			break; /* one long word: the line stays long */
		if (buf_append(b, t + i, brk - i) == -1 ||
		    buf_append_str(b, "\r\n") == -1)
			return -1;
		i = brk;
	}
	if (buf_append(b, t + i, n - i) == -1)
		return -1;
	return buf_append_str(b, "\r\n");
}

/*
 * The Original-Recipient field from ORCPT, "addr-type;xtext" as the
 * client gave it (RFC 3461 4.2, RFC 3464 2.3.1). In a DSN about an
 * SMTPUTF8 message (message/global-delivery-status), RFC 6533 3: a
 * utf-8 ORCPT in its xtext or unitext form is written as the
 * utf-8-address it encodes, and one that does not decode to an address
 * is copied without alteration. Every other value, and every value in a
 * message/delivery-status, is copied as it came (its controls made
 * spaces, non-ASCII made '?' outside the global form, capped: it was
 * checked at RCPT, but the spool is a file).
 */
static int
put_orcpt(struct buf *b, const char *orcpt, bool global)
{
	char addr[ORCPT_SHOW_MAX + 1];
	const char *why;

	if (buf_append_str(b, "Original-Recipient: ") == -1)
		return -1;
	if (global && ascii_ncasecmp(orcpt, "utf-8;", 6) == 0 &&
	    smtp_orcpt_utf8_decode(orcpt + 6, strlen(orcpt + 6), addr,
	        sizeof(addr), &why)) {
		if (buf_append(b, orcpt, 6) == -1 ||
		    buf_append_str(b, addr) == -1)
			return -1;
	} else if (put_line(b, orcpt, ORCPT_SHOW_MAX, !global) == -1)
		return -1;
	return 0; /* the caller ends the field */
}

/* Is p "D.D{1,3}.D{1,3}" (RFC 3463 2) with a class of 2, 4 or 5? */
static bool
is_esc(const char *p)
{
	size_t i, n, part;

	if (p == NULL || (p[0] != '2' && p[0] != '4' && p[0] != '5') ||
	    p[1] != '.')
		return false;
	for (i = 2, part = 0; part < 2; part++, i++) {
		for (n = 0; ascii_is_digit(p[i]); i++)
			if (++n > 3)
				return false;
		if (n == 0 || p[i] != (part == 0 ? '.' : '\0'))
			return false;
	}
	return true;
}

/*
 * What a DSN of each kind says; a NULL note means advice(status). notify
 * is the NOTIFY keyword that asks for it (RFC 3461 4.1); status is the
 * default Status, and the only one for a success (class 2).
 */
static const struct {
	const char *subject, *tag, *intro, *action, *note, *status;
	unsigned notify;
} kind_words[] = {
	[BOUNCE_FAILED] = { "Undelivered Mail Returned to Sender", "bounce",
	    "Your message could not be delivered to one or more recipients, "
	    "and it will not be tried again for them. The details are below.",
	    "failed", NULL, "5.0.0", SMTP_NOTIFY_FAILURE },
	[BOUNCE_DELAYED] = { "Delayed Mail (still being retried)", "delay",
	    "Your message has not been delivered yet to the recipients "
	    "below. Nothing needs to be done: delivery will be tried again, "
	    "and you will hear from us again only if it fails for good.",
	    "delayed", "We keep trying; no action is needed.", "4.0.0",
	    SMTP_NOTIFY_DELAY },
	[BOUNCE_DELIVERED] = { "Successful Mail Delivery Report", "delivered",
	    "Your message was delivered to the recipients below, as you "
	    "asked (NOTIFY=SUCCESS).",
	    "delivered", "Nothing needs to be done.", "2.0.0",
	    SMTP_NOTIFY_SUCCESS },
	/* RFC 3464 2.3.3: the next hop takes no duty to report success. */
	[BOUNCE_RELAYED] = { "Relayed Mail Report", "relayed",
	    "Your message was passed on to the mail servers of the "
	    "recipients below, as you asked (NOTIFY=SUCCESS). Those servers "
	    "do not send delivery reports, so this is the last one you will "
	    "get from us; they may still tell you if delivery fails.",
	    "relayed", "No report of the final delivery will follow.", "2.0.0",
	    SMTP_NOTIFY_SUCCESS },
};

/* A report of success (delivered or relayed), not of a problem. */
static bool
is_success(enum bounce_kind kind)
{
	return kind_words[kind].status[0] == '2';
}

const char *
bounce_status(const struct bounce_rcpt *br, enum bounce_kind kind, char *buf,
    size_t bufsz)
{
	const char *reason = br->reason;
	int n;

	if (is_success(kind)) {
		(void)snprintf(buf, bufsz, "%s", kind_words[kind].status);
		return buf;
	}
	/* The server's own code; a failure is final even after a 4xx. */
	if (br->code != 0 && is_esc(br->esc) && br->esc[0] != '2') {
		n = snprintf(buf, bufsz, "%c%s",
		    kind == BOUNCE_FAILED ? '5' : br->esc[0], br->esc + 1);
		if (n > 0 && (size_t)n < bufsz)
			return buf;
	}
	/*
	 * Our own reasons only: with a server's reply the reason quotes its
	 * words, and "550 password expired" is no expiry of ours.
	 */
	if (br->code != 0)
		reason = NULL;
	if (reason != NULL && strstr(reason, "expired") != NULL)
		(void)snprintf(buf, bufsz, "%s",
		    kind == BOUNCE_FAILED ? "5.4.7" : "4.4.7");
	else if (reason != NULL && (strstr(reason, "null MX") != NULL))
		(void)snprintf(buf, bufsz, "5.1.10"); /* RFC 7505 4.2 */
	else if (reason != NULL && strstr(reason, "REQUIRETLS") != NULL)
		(void)snprintf(buf, bufsz, "5.7.30"); /* RFC 8689 5 */
	else if (reason != NULL && strstr(reason, "does not exist") != NULL)
		(void)snprintf(buf, bufsz, "5.1.2"); /* bad destination */
	else
		(void)snprintf(buf, bufsz, "%s", kind_words[kind].status);
	return buf;
}

bool
bounce_wanted(const struct spool_env *env, size_t idx, enum bounce_kind kind)
{
	unsigned notify = env->dsn != NULL ? env->dsn[idx].notify : 0;

	/* RFC 3461 4.1: no NOTIFY is FAILURE,DELAY; 5.2.2: no "relayed". */
	if (notify == 0)
		return !is_success(kind);
	if (notify & SMTP_NOTIFY_NEVER)
		return false;
	return (notify & kind_words[kind].notify) != 0;
}

/*
 * Plain words for the sender: what happened, what to do. A status ending
 * in '.' matches as a prefix, any other exactly.
 */
static const struct {
	const char *status;
	const char *text;
} advice_table[] = {
	{ "5.1.1", "The address may be misspelt, or the mailbox may no "
		   "longer exist. Check the address and send again." },
	{ "5.1.2", "The recipient's domain does not exist. Check the part "
		   "of the address after the @ for typos." },
	{ "5.1.10", "The recipient's domain says it accepts no mail at all. "
		    "Use another address for this person." },
	{ "5.2.2", "The recipient's mailbox is full. Try again later, or "
		   "reach them another way." },
	{ "5.3.4", "The message is too big for the receiving system. Send a "
		   "smaller one, or share large files another way." },
	{ "5.4.7", "The receiving system could not be reached for the whole "
		   "time we kept trying. Try again later, or check the "
		   "address." },
	{ "5.6.7", "The address needs international mail (SMTPUTF8), which "
		   "the receiving system does not support." },
	{ "5.7.", "The receiving system refused the message by policy. Its "
		  "explanation above may say why; if it names a block list, "
		  "ask your mail administrator." },
};

static const char *
advice(const char *status)
{
	size_t i, n;

	for (i = 0; i < sizeof(advice_table) / sizeof(advice_table[0]); i++) {
		n = strlen(advice_table[i].status);
		if (advice_table[i].status[n - 1] == '.'
		        ? strncmp(status, advice_table[i].status, n) == 0
		        : strcmp(status, advice_table[i].status) == 0)
			return advice_table[i].text;
	}
	return "The explanation above comes from the system that refused "
	       "the message. If it does not help, ask your mail "
	       "administrator and quote this message.";
}

/*
 * A header longer than BOUNCE_FULL_MAX (nothing bounds one: a message
 * without a blank line is all header) is cut after its last whole line
 * below that, so the DSN still fits BOUNCE_MAX and the sender hears.
 */
static void
cut_header(struct buf *b, size_t start)
{
	while (b->len > start && b->data[b->len - 1] != '\n')
		b->len--;
}

/* Copy the original (headers only when hdrs) from fd. */
static int
put_original(struct buf *b, const struct bounce_info *bi, bool hdrs,
    struct why *why)
{
	uint8_t chunk[READ_CHUNK];
	off_t off = bi->env->body_offset, end;
	size_t take, i, start = b->len;
	ssize_t r;
	int state = 0; /* CRLFCRLF matcher for the end of the header */

	end = bi->env->body_offset + bi->env->body_size;
	/* The spool's header fields on top (never the blank line). */
	if (bi->env->prefix_len > 0 &&
	    buf_append(b, bi->env->prefix, bi->env->prefix_len) == -1)
		return buf_why(why, "bounce too large");
	while (off < end) {
		take = (size_t)(end - off) < sizeof(chunk) ? (size_t)(end - off)
		                                           : sizeof(chunk);
		if (hdrs && take > start + BOUNCE_FULL_MAX - b->len)
			take = start + BOUNCE_FULL_MAX - b->len;
		if (take == 0) { /* hdrs only: the cap is reached */
			cut_header(b, start);
			break;
		}
		if ((r = pread(bi->fd, chunk, take, off)) <= 0)
			return why_set(why, WHY_TEMP, r == 0 ? 0 : errno,
			    "read message %s", bi->env->id);
		if (hdrs) {
			for (i = 0; i < (size_t)r; i++) {
				state =
				    chunk[i] == (state % 2 == 0 ? '\r' : '\n')
				        ? state + 1
				        : (chunk[i] == '\r' ? 1 : 0);
				if (state != 4)
					continue;
				/* Keep the CRLF ending the last field; the
				 * blank line's CR may be in the last chunk. */
				if (i == 0)
					b->len--;
				else if (buf_append(b, chunk, i - 1) == -1)
					return buf_why(why, "bounce too large");
				return 0;
			}
		}
		if (buf_append(b, chunk, (size_t)r) == -1)
			return buf_why(why, "bounce too large");
		off += r;
	}
	/* No blank line: the whole message is header (or body-less). */
	if ((b->len < 2 || b->data[b->len - 1] != '\n') &&
	    buf_append_str(b, "\r\n") == -1)
		return buf_why(why, "bounce too large");
	return 0;
}

int
bounce_build(const struct bounce_info *bi, struct buf *b, struct why *why)
{
	const struct spool_env *env = bi->env;
	char date[MSG_DATE_MAX], arr[MSG_DATE_MAX], st[16];
	const char *note;
	/* RFC 3461 4.3: RET is about failures; a success needs no copy. */
	/* RFC 8689 5: the content of a REQUIRETLS message stays off a
	 * notice that may travel without TLS: headers only. */
	bool hdrs = env->dsn_ret == SMTP_RET_HDRS || is_success(bi->kind) ||
	            (uint64_t)env->body_size > BOUNCE_FULL_MAX ||
	            env->requiretls;
	/*
	 * RFC 6533 4: a DSN about a message that came with SMTPUTF8 (so its
	 * addresses and header may be UTF-8, RFC 6531, 6532) uses the
	 * global forms; bounce_enqueue() sends it with SMTPUTF8 too.
	 */
	bool global = env->smtputf8;
	const struct spool_rcpt *r;
	const char *orcpt;
	char line[SPOOL_FIELD_MAX + 64];
	size_t i, start;

	if (msg_date_format(bi->now, date, sizeof(date)) == -1 ||
	    msg_date_format(env->arrival, arr, sizeof(arr)) == -1)
		return why_set(why, WHY_PERM, 0, "bad date");
	if (buf_printf(b,
	        "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
	        "To: <%s>\r\n"
	        "Subject: %s\r\n"
	        "Date: %s\r\n"
	        "Message-ID: <%s.%s@%s>\r\n"
	        "Auto-Submitted: auto-replied\r\n"
	        "MIME-Version: 1.0\r\n"
	        "Content-Type: multipart/report; "
	        "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n"
	        "\r\n"
	        "This is a MIME-encapsulated message.\r\n\r\n"
	        "--%s\r\n"
	        "Content-Description: Notification\r\n"
	        "Content-Type: text/plain; charset=utf-8\r\n"
	        "Content-Transfer-Encoding: 8bit\r\n\r\n",
	        bi->hostname, bi->to, kind_words[bi->kind].subject, date,
	        env->id, kind_words[bi->kind].tag, bi->hostname,
	        bi->boundary, bi->boundary) == -1)
		goto big;
	/*
	 * The part a person reads: lines of at most 78 characters (RFC 5322
	 * 2.1.1), broken at spaces. A line (<addr>:, our host name) gets no
	 * controls: addresses were checked at RCPT, the name is configured.
	 */
	(void)snprintf(line, sizeof(line), "This is the mail system at %s.",
	    bi->hostname);
	if (put_wrapped(b, "", line, strlen(line)) == -1 ||
	    buf_append_str(b, "\r\n") == -1 ||
	    put_para(b, "", kind_words[bi->kind].intro, OWN_TEXT_MAX) == -1 ||
	    buf_append_str(b, "\r\n") == -1)
		goto big;
	for (i = 0; i < bi->nrcpts; i++) {
		r = &env->rcpts[bi->rcpts[i].idx];
		bounce_status(&bi->rcpts[i], bi->kind, st, sizeof(st));
		note = kind_words[bi->kind].note;
		(void)snprintf(line, sizeof(line), "<%s>:", r->addr);
		if (put_wrapped(b, "", line, strlen(line)) == -1 ||
		    put_para(b, INDENT, bi->rcpts[i].reason, REASON_MAX) ==
		        -1 ||
		    put_para(b, INDENT, note != NULL ? note : advice(st),
		        OWN_TEXT_MAX) == -1 ||
		    buf_append_str(b, "\r\n") == -1)
			goto big;
	}
	/*
	 * RFC 3464 2.2: per-message fields, then per-recipient groups.
	 * Where UTF-8 may appear: message/delivery-status is ASCII (RFC
	 * 3464 2.1.1); message/global-delivery-status allows UTF-8 in the
	 * utf-8 address type (RFC 6533 3) and in the 'smtp' Diagnostic-Code
	 * text (RFC 6533 6.2), the rest stays ASCII: Reporting-MTA and
	 * Remote-MTA are dns names, Action and Status are keywords and
	 * digits, ENVID and an rfc822 ORCPT are xtext. So in
	 * message/delivery-status put_line() makes a non-ASCII byte from a
	 * server or the spool '?'; the global form passes it.
	 */
	if (buf_printf(b,
	        "--%s\r\n"
	        "Content-Description: Delivery report\r\n"
	        "Content-Type: %s\r\n\r\n",
	        bi->boundary,
	        global ? "message/global-delivery-status"
	               : "message/delivery-status") == -1)
		goto big;
	/* Every field with a value from elsewhere ends in end_field(). */
	start = b->len;
	if (buf_printf(b, "Reporting-MTA: dns; %s", bi->hostname) == -1 ||
	    end_field(b, start) == -1)
		goto big;
	start = b->len;
	if (env->envid != NULL && env->envid[0] != '\0' &&
	    (buf_append_str(b, "Original-Envelope-Id: ") == -1 ||
	        put_line(b, env->envid, 100, !global) == -1 ||
	        end_field(b, start) == -1))
		goto big;
	if (buf_printf(b, "Arrival-Date: %s\r\n", arr) == -1)
		goto big;
	for (i = 0; i < bi->nrcpts; i++) {
		r = &env->rcpts[bi->rcpts[i].idx];
		bounce_status(&bi->rcpts[i], bi->kind, st, sizeof(st));
		if (buf_append_str(b, "\r\n") == -1)
			goto big;
		orcpt =
		    env->dsn != NULL ? env->dsn[bi->rcpts[i].idx].orcpt : NULL;
		start = b->len;
		if (orcpt != NULL && orcpt[0] != '\0' &&
		    (put_orcpt(b, orcpt, global) == -1 ||
		        end_field(b, start) == -1))
			goto big;
		/*
		 * RFC 6533 3: "utf-8; " and the address as it is (the
		 * utf-8-address form) when it is not ASCII; an ASCII one
		 * keeps rfc822, which RFC 6533 allows in the global form.
		 */
		start = b->len;
		if (buf_printf(b, "Final-Recipient: %s; %s",
		        global && !ascii_only(r->addr) ? "utf-8" : "rfc822",
		        r->addr) == -1 ||
		    end_field(b, start) == -1 ||
		    buf_printf(b,
		        "Action: %s\r\n"
		        "Status: %s\r\n",
		        kind_words[bi->kind].action, st) == -1)
			goto big;
		/* RFC 3464 2.3.5: the server that said it, when one did. */
		start = b->len;
		if (bi->rcpts[i].mta != NULL && bi->rcpts[i].mta[0] != '\0' &&
		    (buf_append_str(b, "Remote-MTA: dns; ") == -1 ||
		        put_line(b, bi->rcpts[i].mta, 255, !global) == -1 ||
		        end_field(b, start) == -1))
			goto big;
		/* RFC 3464 2.3.6: the reply as the server sent it. */
		start = b->len;
		if (bi->rcpts[i].code != 0 &&
		    (buf_printf(b, "Diagnostic-Code: smtp; %u%s%s ",
		         bi->rcpts[i].code,
		         is_esc(bi->rcpts[i].esc) ? " " : "",
		         is_esc(bi->rcpts[i].esc) ? bi->rcpts[i].esc : "") ==
		            -1 ||
		        put_line(b, bi->rcpts[i].text, REASON_MAX, !global) ==
		            -1 ||
		        end_field(b, start) == -1))
			goto big;
		if (buf_printf(b, "Last-Attempt-Date: %s\r\n", date) == -1)
			goto big;
	}
	/*
	 * RFC 6533 4 (and 6.3): message/global-headers for the header
	 * alone, message/global (RFC 6532 3.7) for the whole message.
	 */
	if (buf_printf(b,
	        "\r\n--%s\r\nContent-Description: %s\r\n"
	        "Content-Type: %s\r\n\r\n",
	        bi->boundary,
	        hdrs ? "Headers of the original message"
	             : "The original message",
	        hdrs ? (global ? "message/global-headers"
	                       : "text/rfc822-headers")
	             : (global ? "message/global" : "message/rfc822")) == -1)
		goto big;
	if (put_original(b, bi, hdrs, why) == -1)
		return -1;
	if (buf_printf(b, "\r\n--%s--\r\n", bi->boundary) == -1)
		goto big;
	return 0;
big:
	return buf_why(why, "bounce too large");
}

/* Was recipient r of a notice (with the null sender) the postmaster? */
static bool
is_postmaster_rcpt(const struct spool_rcpt *r, const char *postmaster)
{
	/* orcpt: a notice to the postmaster may have gone to an alias's
	 * targets, and a failure there must not start another notice. */
	return ascii_casecmp(r->addr, postmaster) == 0 ||
	       (r->orcpt != NULL && ascii_casecmp(r->orcpt, postmaster) == 0);
}

int
bounce_enqueue(struct spool *sp, const char *hostname, const char *postmaster,
    const struct spool_env *env, int fd, enum bounce_kind kind,
    const struct bounce_rcpt *rcpts, size_t n, bounce_resolve_fn *resolve,
    void *resolve_arg, char *id_out, struct why *why)
{
	struct dir_targets t = { NULL, 0 };
	struct bounce_info bi;
	struct spool_env ne;
	struct spool_rcpt *nr = NULL;
	struct spool_msg *m;
	struct why rwhy;
	struct buf b;
	uint8_t rnd[8];
	char boundary[64];
	const char *to;
	size_t i;
	int rc = -1;

	id_out[0] = '\0';
	to = env->sender != NULL && env->sender[0] != '\0' ? env->sender
	                                                   : postmaster;
	if (to == NULL || n == 0)
		return 0;
	if (env->sender == NULL || env->sender[0] == '\0') {
		/* A failed notice to the postmaster ends here. */
		for (i = 0; i < n; i++)
			if (is_postmaster_rcpt(&env->rcpts[rcpts[i].idx],
			        postmaster))
				return 0;
		if (kind != BOUNCE_FAILED)
			return 0; /* no warnings or reports about bounces */
	}
	if (resolve != NULL) {
		why_clear(&rwhy);
		switch (resolve(resolve_arg, to, &t, &rwhy)) {
		case DIR_RESOLVED:
			break;
		case DIR_TEMPFAIL:
			if (why != NULL)
				*why = rwhy;
			return -1;
		default: /* nobody to tell: no notice, and say why */
			if (why != NULL)
				why_set(why, WHY_PERM, 0,
				    "no mailbox for the notice: %s", rwhy.text);
			return 0;
		}
	}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0x5a, sizeof(rnd));
	(void)snprintf(boundary, sizeof(boundary),
	    "%s/%02x%02x%02x%02x%02x%02x%02x%02x/%s", env->id, rnd[0], rnd[1],
	    rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], hostname);
	memset(&bi, 0, sizeof(bi));
	bi.hostname = hostname;
	bi.to = to;
	bi.boundary = boundary;
	bi.now = time(NULL);
	bi.kind = kind;
	bi.env = env;
	bi.fd = fd;
	bi.rcpts = rcpts;
	bi.nrcpts = n;
	buf_init(&b, BOUNCE_MAX);
	if (bounce_build(&bi, &b, why) == -1)
		goto out;
	memset(&ne, 0, sizeof(ne));
	ne.nrcpts = resolve != NULL ? t.n : 1;
	nr = xcalloc(ne.nrcpts, sizeof(*nr));
	for (i = 0; i < ne.nrcpts; i++) {
		nr[i].addr = resolve != NULL ? t.addrs[i] : (char *)to;
		nr[i].orcpt = (char *)to;
		nr[i].state = SPOOL_RCPT_PENDING;
	}
	ne.sender = (char *)"";
	ne.helo = (char *)hostname;
	ne.client_addr = (char *)"127.0.0.1";
	ne.client_name = (char *)"localhost";
	/*
	 * SMTPUTF8 (RFC 6531 3.4) when the DSN needs it: the global forms
	 * (any message that came with it; a non-ASCII sender did), or a
	 * non-ASCII recipient, a UTF-8 postmaster address, which is also
	 * in the DSN's To: (RFC 6532 3.2).
	 */
	ne.smtputf8 = env->smtputf8 || !ascii_only(to);
	for (i = 0; i < ne.nrcpts; i++)
		if (!ascii_only(nr[i].addr))
			ne.smtputf8 = true;
	ne.eightbit = true;
	ne.rcpts = nr;
	if ((m = spool_msg_new(sp, &ne, why)) == NULL)
		goto out;
	(void)snprintf(id_out, SPOOL_ID_MAX, "%s", spool_msg_id(m));
	if (spool_msg_write(m, b.data, b.len, why) == -1) {
		spool_msg_abort(m);
		id_out[0] = '\0';
		goto out;
	}
	buf_reset(&b);
	if (spool_msg_commit_wait(m, why) == -1) {
		id_out[0] = '\0';
		goto out;
	}
	rc = 0;
out:
	buf_reset(&b);
	free(nr);
	dir_targets_free(&t);
	return rc;
}
