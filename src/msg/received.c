/* SPDX-License-Identifier: ISC */
/*
 * msg/received.c - Received: field and date-time (see received.h).
 *
 * Trust: every input string is sanitized into a bounded local copy
 * before it is written; output goes through the capped struct buf.
 */
#include "msg/received.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "smtp/addr.h"
#include "util/utf8.h"

enum {
	SAN_SPACE = 1, /* keep SP (inside comments) */
	SAN_ADDR = 2,  /* an address: keep '"', '\', SP and UTF-8 */
};

/*
 * Copy at most cap bytes of printable text from s into dst (dstsz >
 * cap). Anything else becomes '?', so peer text cannot close a comment,
 * start the date (';'), or end a line.
 */
static const char *
sanitize(const char *s, unsigned how, size_t cap, char *dst, size_t dstsz)
{
	const uint8_t *p = (const uint8_t *)(s != NULL ? s : "");
	size_t n = strlen((const char *)p), i = 0, o = 0, len;
	uint32_t cp;
	uint8_t c;

	if (cap >= dstsz)
		cap = dstsz - 1;
	while (i < n && o < cap) {
		c = p[i];
		if (c >= 0x80 && (how & SAN_ADDR) &&
		    (len = utf8_decode(p + i, n - i, &cp)) != 0 && cp >= 0xa0) {
			if (o + len > cap)
				break; /* never split a character */
			memcpy(dst + o, p + i, len);
			o += len;
			i += len;
			continue;
		}
		if (c == ' ' && (how & (SAN_SPACE | SAN_ADDR)))
			dst[o++] = ' ';
		else if ((c == '"' || c == '\\') && (how & SAN_ADDR))
			dst[o++] = (char)c;
		else if (c > 0x20 && c < 0x7f && strchr("()\\;<>\"", c) == NULL)
			dst[o++] = (char)c;
		else
			dst[o++] = '?';
		i++;
	}
	dst[o] = '\0';
	if (o == 0)
		memcpy(dst, "unknown", sizeof("unknown"));
	return dst;
}

/* Writes words, folding before one that would pass column 78. */
struct fold {
	struct buf *out;
	size_t col;
	bool bol; /* at the start of a folded line: no separating SP */
	int err;
};

static void
emit(struct fold *f, const char *s, size_t n)
{
	if (f->err == 0 && buf_append(f->out, s, n) == -1)
		f->err = -1;
}

static void
newline(struct fold *f)
{
	emit(f, "\r\n\t", 3);
	f->col = 1;
	f->bol = true;
}

static void
word(struct fold *f, const char *w)
{
	size_t n = strlen(w);

	if (!f->bol && f->col + 1 + n > MSG_LINE_FOLD && f->col > 1)
		newline(f);
	if (!f->bol) {
		emit(f, " ", 1);
		f->col++;
	}
	emit(f, w, n);
	f->col += n;
	f->bol = false;
}

/* Each SP-separated word of s (SPs collapse). */
static void
words(struct fold *f, const char *s)
{
	char w[MSG_FIELD_MAX + 32];
	size_t i, n;

	while (*s != '\0') {
		while (*s == ' ')
			s++;
		for (n = 0; s[n] != '\0' && s[n] != ' '; n++)
			;
		if (n == 0)
			break;
		i = n < sizeof(w) ? n : sizeof(w) - 1;
		memcpy(w, s, i);
		w[i] = '\0';
		word(f, w);
		s += n;
	}
}

int
msg_received_format(const struct msg_received *r, struct buf *out)
{
	char helo[MSG_FIELD_MAX + 1], name[MSG_FIELD_MAX + 1];
	char addr[MSG_FIELD_MAX + 1], by[MSG_FIELD_MAX + 1];
	char with[MSG_FIELD_MAX + 1], id[MSG_FIELD_MAX + 1];
	char tls[MSG_FIELD_MAX + 1], user[MSG_FIELD_MAX + 1];
	char rcpt[SMTP_ADDR_FMT_MAX + 1], date[MSG_DATE_MAX];
	char tok[SMTP_ADDR_FMT_MAX + 16];
	struct fold f = { out, 0, false, 0 };
	size_t saved = out->len;
	int n;

	if (msg_date_format(r->when, date, sizeof(date)) == -1)
		return -1;
	sanitize(r->helo, 0, MSG_FIELD_MAX, helo, sizeof(helo));
	sanitize(r->client_name, 0, MSG_FIELD_MAX, name, sizeof(name));
	sanitize(r->client_addr, 0, MSG_FIELD_MAX, addr, sizeof(addr));
	sanitize(r->by, 0, MSG_FIELD_MAX, by, sizeof(by));
	sanitize(r->with, 0, MSG_FIELD_MAX, with, sizeof(with));
	sanitize(r->id, 0, MSG_FIELD_MAX, id, sizeof(id));

	emit(&f, "Received:", 9);
	f.col = 9;
	word(&f, "from");
	word(&f, helo);
	n = snprintf(tok, sizeof(tok), "(%s", name);
	if (n < 0 || (size_t)n >= sizeof(tok))
		goto fail;
	word(&f, tok);
	/* TCP-info address-literal, RFC 5321 4.4 and 4.1.3 */
	n = snprintf(tok, sizeof(tok), "[%s%s])",
	    strchr(addr, ':') != NULL && strncmp(addr, "IPv6:", 5) != 0
	        ? "IPv6:"
	        : "",
	    addr);
	if (n < 0 || (size_t)n >= sizeof(tok))
		goto fail;
	word(&f, tok);
	if (r->tls != NULL) {
		sanitize(r->tls, SAN_SPACE, MSG_FIELD_MAX, tls, sizeof(tls));
		newline(&f);
		word(&f, "(using");
		words(&f, tls);
		emit(&f, ")", 1);
		f.col++;
	}
	if (r->auth_user != NULL) {
		sanitize(r->auth_user, 0, MSG_FIELD_MAX, user, sizeof(user));
		newline(&f);
		word(&f, "(authenticated");
		word(&f, "as");
		n = snprintf(tok, sizeof(tok), "%s)", user);
		if (n < 0 || (size_t)n >= sizeof(tok))
			goto fail;
		word(&f, tok);
	}
	newline(&f);
	word(&f, "by");
	word(&f, by);
	word(&f, "(tern)");
	word(&f, "with");
	word(&f, with);
	word(&f, "id");
	if (r->for_addr != NULL) {
		word(&f, id);
		sanitize(r->for_addr, SAN_ADDR, SMTP_ADDR_FMT_MAX, rcpt,
		    sizeof(rcpt));
		newline(&f);
		word(&f, "for");
		n = snprintf(tok, sizeof(tok), "<%s>;", rcpt);
	} else
		n = snprintf(tok, sizeof(tok), "%s;", id);
	if (n < 0 || (size_t)n >= sizeof(tok))
		goto fail;
	word(&f, tok);
	word(&f, date); /* one word: 31 chars always fit a folded line */
	emit(&f, "\r\n", 2);
	if (f.err == 0)
		return 0;
fail:
	/* Leave out as it was. */
	out->len = saved;
	if (out->data != NULL)
		out->data[saved] = '\0';
	return -1;
}

int
msg_date_format(time_t t, char *dst, size_t dstsz)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu",
		"Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May",
		"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	long off;
	int n;

	if (dstsz > 0)
		dst[0] = '\0';
	if (localtime_r(&t, &tm) == NULL)
		return -1;
	/* RFC 5322 3.3: year = 4*DIGIT; keep to years that fit it. */
	if (tm.tm_year < 1900 - 1900 || tm.tm_year > 9999 - 1900 ||
	    tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 || tm.tm_mon > 11)
		return -1;
	off = tm.tm_gmtoff / 60;
	if (off <= -100 * 60 || off >= 100 * 60)
		return -1;
	n = snprintf(dst, dstsz, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+',
	    (off < 0 ? -off : off) / 60, (off < 0 ? -off : off) % 60);
	if (n < 0 || (size_t)n >= dstsz) {
		if (dstsz > 0)
			dst[0] = '\0';
		return -1;
	}
	return n;
}
