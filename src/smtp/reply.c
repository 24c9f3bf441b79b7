/* SPDX-License-Identifier: ISC */
/*
 * smtp/reply.c - the reply reader and EHLO keyword parser (see reply.h).
 *
 * Trust: peer bytes only. A byte is stored only after checking that it
 * and the CRLF still to come fit in line_max; the joined text is capped.
 */
#include "smtp/reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"

struct smtp_reply_parser {
	struct smtp_reply_limits lim;
	char *line; /* lim.line_max bytes */
	size_t len;
	bool cr;   /* the last byte was CR: only LF may follow */
	bool done; /* a reply was returned: start afresh */
	enum smtp_reply_status broken; /* sticky error, or NEED_MORE */
	char *text;                    /* lim.text_max bytes */
	struct smtp_reply r;
};

struct smtp_reply_parser *
smtp_reply_new(const struct smtp_reply_limits *lim)
{
	struct smtp_reply_parser *rp;

	if (lim == NULL || lim->line_max < 5 || lim->lines_max < 1 ||
	    lim->text_max < 1)
		return NULL;
	if ((rp = calloc(1, sizeof(*rp))) == NULL)
		return NULL;
	rp->line = malloc(lim->line_max);
	rp->text = malloc(lim->text_max);
	if (rp->line == NULL || rp->text == NULL) {
		smtp_reply_free(rp);
		return NULL;
	}
	rp->lim = *lim;
	smtp_reply_reset(rp);
	return rp;
}

void
smtp_reply_free(struct smtp_reply_parser *rp)
{
	if (rp == NULL)
		return;
	free(rp->line);
	free(rp->text);
	free(rp);
}

void
smtp_reply_reset(struct smtp_reply_parser *rp)
{
	rp->len = 0;
	rp->cr = false;
	rp->done = false;
	rp->broken = SMTP_REPLY_NEED_MORE;
	memset(&rp->r, 0, sizeof(rp->r));
	rp->text[0] = '\0';
	rp->r.text = rp->text;
}

/*
 * "X.Y.Z" at p[0..n) (RFC 3463 2: class 2, 4 or 5, subject and detail of
 * 1-3 digits), followed by SP or the end. Returns the bytes it spans
 * including one SP, or 0.
 */
static size_t
esc_parse(const char *p, size_t n, unsigned *c, unsigned *s, unsigned *d)
{
	unsigned v[3] = { 0, 0, 0 };
	size_t i = 0, part, digits;

	for (part = 0; part < 3; part++) {
		if (part > 0) {
			if (i >= n || p[i] != '.')
				return 0;
			i++;
		}
		for (digits = 0; i < n && ascii_is_digit(p[i]); i++) {
			if (++digits > (part == 0 ? 1 : 3))
				return 0;
			v[part] = v[part] * 10 + (unsigned)(p[i] - '0');
		}
		if (digits == 0)
			return 0;
	}
	if (v[0] != 2 && v[0] != 4 && v[0] != 5)
		return 0;
	if (i < n && p[i] != ' ')
		return 0;
	*c = v[0];
	*s = v[1];
	*d = v[2];
	return i < n ? i + 1 : i;
}

static void
text_add(struct smtp_reply_parser *rp, const char *p, size_t n)
{
	struct smtp_reply *r = &rp->r;
	size_t room;

	if (r->nlines > 1) {
		if (r->text_len + 1 >= rp->lim.text_max) {
			r->truncated = true;
			return;
		}
		rp->text[r->text_len++] = '\n';
	}
	room = rp->lim.text_max - 1 - r->text_len;
	if (n > room) {
		n = room;
		r->truncated = true;
	}
	memcpy(rp->text + r->text_len, p, n);
	r->text_len += n;
	rp->text[r->text_len] = '\0';
}

/* One complete line without its CRLF. */
static enum smtp_reply_status
on_line(struct smtp_reply_parser *rp, const char *p, size_t n)
{
	struct smtp_reply *r = &rp->r;
	unsigned code, c, s, d;
	size_t skip;
	bool last;

	/* Check the length before looking at p[3] (CVE-2020-8794). */
	if (n < 3 || p[0] < '2' || p[0] > '5' || p[1] < '0' || p[1] > '5' ||
	    !ascii_is_digit(p[2]))
		return SMTP_REPLY_BAD;
	if (n > 3 && p[3] != ' ' && p[3] != '-')
		return SMTP_REPLY_BAD;
	code = (unsigned)(p[0] - '0') * 100 + (unsigned)(p[1] - '0') * 10 +
	       (unsigned)(p[2] - '0');
	last = n == 3 || p[3] == ' ';
	if (r->nlines > 0 && code != r->code)
		return SMTP_REPLY_BAD; /* RFC 5321 4.2.1: one code per reply */
	if (r->nlines >= rp->lim.lines_max)
		return SMTP_REPLY_TOO_MANY;
	r->code = code;
	r->nlines++;
	p += n > 3 ? 4 : 3;
	n -= n > 3 ? 4 : 3;
	/* RFC 2034: the code starts every line; strip it when it matches. */
	if ((skip = esc_parse(p, n, &c, &s, &d)) > 0 && c == code / 100) {
		if (!r->has_esc && r->nlines == 1) {
			r->has_esc = true;
			r->esc_class = c;
			r->esc_subject = s;
			r->esc_detail = d;
		}
		if (r->has_esc && c == r->esc_class && s == r->esc_subject &&
		    d == r->esc_detail) {
			p += skip;
			n -= skip;
		}
	}
	text_add(rp, p, n);
	return last ? SMTP_REPLY_DONE : SMTP_REPLY_NEED_MORE;
}

enum smtp_reply_status
smtp_reply_parse(struct smtp_reply_parser *rp, const uint8_t *p, size_t n,
    size_t *used, const struct smtp_reply **reply_out)
{
	enum smtp_reply_status st;
	size_t i;
	uint8_t c;

	*reply_out = NULL;
	if (rp->broken != SMTP_REPLY_NEED_MORE) {
		*used = n;
		return rp->broken;
	}
	if (rp->done)
		smtp_reply_reset(rp);
	for (i = 0; i < n; i++) {
		c = p[i];
		if (rp->cr && c != '\n') {
			st = SMTP_REPLY_BAD; /* bare CR */
			goto event;
		}
		if (c == '\r') {
			rp->cr = true;
			continue;
		}
		if (c == '\n') {
			rp->cr = false;
			st = on_line(rp, rp->line, rp->len);
			rp->len = 0;
			if (st == SMTP_REPLY_NEED_MORE)
				continue;
			goto event;
		}
		if (c == '\0') {
			st = SMTP_REPLY_BAD;
			goto event;
		}
		/* Room for this byte and the CRLF still to come. */
		if (rp->len + 3 > rp->lim.line_max) {
			st = SMTP_REPLY_TOO_LONG;
			goto event;
		}
		rp->line[rp->len++] = (char)c;
	}
	*used = n;
	return SMTP_REPLY_NEED_MORE;
event:
	*used = i + 1;
	if (st == SMTP_REPLY_DONE) {
		rp->done = true;
		*reply_out = &rp->r;
	} else {
		smtp_reply_reset(rp);
		rp->broken = st;
	}
	return st;
}

const char *
smtp_reply_esc(const struct smtp_reply *r, char *buf, size_t bufsz)
{
	int n;

	if (r->has_esc)
		n = snprintf(buf, bufsz, "%u.%u.%u", r->esc_class,
		    r->esc_subject, r->esc_detail);
	else
		n = snprintf(buf, bufsz, "%u.0.0",
		    r->code / 100 == 3 ? 2 : r->code / 100);
	if (n < 0 || (size_t)n >= bufsz)
		buf[0] = '\0';
	return buf;
}

/* Does line p[0..n) start with keyword kw followed by SP or its end? */
static bool
is_kw(const char *p, size_t n, const char *kw, const char **arg, size_t *argn)
{
	size_t k = strlen(kw);

	if (n < k || ascii_ncasecmp(p, kw, k) != 0 || (n > k && p[k] != ' '))
		return false;
	*arg = n > k ? p + k + 1 : p + n;
	*argn = n > k ? n - k - 1 : 0;
	return true;
}

static void
auth_mechs(const char *p, size_t n, unsigned *flags)
{
	size_t i = 0, w;

	while (i < n) {
		while (i < n && p[i] == ' ')
			i++;
		for (w = 0; i + w < n && p[i + w] != ' '; w++)
			;
		if (w == 5 && ascii_ncasecmp(p + i, "PLAIN", 5) == 0)
			*flags |= SMTP_EHLO_AUTH_PLAIN;
		if (w == 5 && ascii_ncasecmp(p + i, "LOGIN", 5) == 0)
			*flags |= SMTP_EHLO_AUTH_LOGIN;
		i += w;
	}
}

void
smtp_ehlo_parse(const char *text, size_t len, struct smtp_ehlo *out)
{
	static const struct {
		const char *kw;
		unsigned flag;
	} kws[] = {
		{ "PIPELINING", SMTP_EHLO_PIPELINING },
		{ "8BITMIME", SMTP_EHLO_8BITMIME },
		{ "SMTPUTF8", SMTP_EHLO_SMTPUTF8 },
		{ "CHUNKING", SMTP_EHLO_CHUNKING },
		{ "STARTTLS", SMTP_EHLO_STARTTLS },
		{ "DSN", SMTP_EHLO_DSN },
		{ "ENHANCEDSTATUSCODES", SMTP_EHLO_ENHANCED },
		{ "REQUIRETLS", SMTP_EHLO_REQUIRETLS },
	};
	const char *p = text, *end = text + len, *nl, *arg;
	char digits[21];
	uint64_t v;
	size_t n, argn, k;
	bool first = true;

	memset(out, 0, sizeof(*out));
	for (; p < end; p = nl + 1, first = false) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		n = (size_t)(nl - p);
		if (first)
			continue; /* "mx.example greets you" */
		for (k = 0; k < sizeof(kws) / sizeof(kws[0]); k++)
			if (is_kw(p, n, kws[k].kw, &arg, &argn))
				out->flags |= kws[k].flag;
		if (is_kw(p, n, "SIZE", &arg, &argn)) {
			out->flags |= SMTP_EHLO_SIZE;
			if (argn > 0 && argn < sizeof(digits)) {
				memcpy(digits, arg, argn);
				digits[argn] = '\0';
				if (str_to_u64(digits, UINT64_MAX, &v))
					out->size_max = v;
			}
		}
		if (is_kw(p, n, "AUTH", &arg, &argn))
			auth_mechs(arg, argn, &out->flags);
	}
}
