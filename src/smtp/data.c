/* SPDX-License-Identifier: ISC */
/*
 * smtp/data.c - DATA/BDAT body decoder (see data.h).
 *
 * A byte-at-a-time state machine, so that any split of the input gives
 * the same output; inside a line, a run up to the next CR or LF is taken
 * at once (the same transitions, found with memchr). Only two things are ever held back: a dot at the start
 * of a line (deleted anyway, RFC 5321 4.5.2) and the CR after it, which
 * is either the start of the end marker or a bare CR emitted late.
 * Trust: peer bytes; output goes only through buf_append (capped).
 */
#include "smtp/data.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum data_state {
	ST_BOL = 0, /* line start after CRLF, or the very start */
	ST_TEXT,    /* inside a line (or after a bare LF: no unstuffing) */
	ST_CR,      /* CR seen and output; LF makes it a line end */
	ST_DOT,     /* DOT mode: "." at ST_BOL, held back */
	ST_DOT_CR,  /* DOT mode: ".\r" at ST_BOL, both held back */
	ST_DONE,    /* END returned or smtp_data_finish() called */
};

struct smtp_data {
	struct smtp_data_limits lim;
	enum smtp_data_mode mode;
	enum data_state st;
	unsigned flags;
	size_t linelen; /* decoded bytes on this line, CRLF excluded */
	uint64_t size;
};

/* Output is staged here and appended in runs, not byte by byte. */
struct emit {
	struct buf *out;
	size_t len;
	uint8_t tmp[512];
};

struct smtp_data *
smtp_data_new(const struct smtp_data_limits *lim)
{
	struct smtp_data *d;

	if (lim == NULL || lim->line_max < 3)
		return NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->lim = *lim;
	smtp_data_start(d, SMTP_DATA_DOT);
	return d;
}

void
smtp_data_free(struct smtp_data *d)
{
	free(d);
}

void
smtp_data_start(struct smtp_data *d, enum smtp_data_mode mode)
{
	d->mode = mode;
	/* The DATA command's own CRLF precedes the first line. */
	d->st = ST_BOL;
	d->flags = 0;
	d->linelen = 0;
	d->size = 0;
}

/*
 * A full `out` breaks the contract; the bytes are lost but still counted
 * in size, so the caller's size check refuses the message. Bytes lost
 * for lack of memory are flagged instead: nothing else would tell.
 */
static void
append(struct smtp_data *d, struct buf *out, const void *p, size_t n)
{
	if (buf_append(out, p, n) == -1 && n > 0 && errno == ENOMEM)
		d->flags |= SMTP_DATA_F_NOMEM;
}

static void
flush(struct smtp_data *d, struct emit *e)
{
	append(d, e->out, e->tmp, e->len);
	e->len = 0;
}

static void
put(struct smtp_data *d, struct emit *e, uint8_t c)
{
	if (e->len == sizeof(e->tmp))
		flush(d, e);
	e->tmp[e->len++] = c;
	d->size++;
}

/* One more byte of line content (not a CRLF line end). */
static void
content(struct smtp_data *d, struct emit *e, uint8_t c)
{
	put(d, e, c);
	if (c >= 0x80)
		d->flags |= SMTP_DATA_F_8BIT;
	else if (c == 0)
		d->flags |= SMTP_DATA_F_NUL;
	/* RFC 5321 4.5.3.1.6: 1000 octets including the CRLF. */
	if (++d->linelen > d->lim.line_max - 2)
		d->flags |= SMTP_DATA_F_LONG_LINE;
}

/* A byte inside a line; also where the other states fall through to. */
static void
text(struct smtp_data *d, struct emit *e, uint8_t c)
{
	if (c == '\r') {
		put(d, e, c);
		d->st = ST_CR;
	} else if (c == '\n') {
		/* Bare LF: passed through, never a line end for dots. */
		put(d, e, c);
		d->flags |= SMTP_DATA_F_BARE_LF;
		d->linelen = 0;
		d->st = ST_TEXT;
	} else {
		content(d, e, c);
		d->st = ST_TEXT;
	}
}

/* Length of the run of line content at p: up to the first CR or LF. */
static size_t
content_run_len(const uint8_t *p, size_t n)
{
	const uint8_t *cr = memchr(p, '\r', n), *lf;

	if (cr != NULL)
		n = (size_t)(cr - p);
	lf = memchr(p, '\n', n);
	return lf != NULL ? (size_t)(lf - p) : n;
}

/* content() for a run of bytes that holds no CR or LF, in one append. */
static void
content_run(struct smtp_data *d, struct emit *e, const uint8_t *p, size_t n)
{
	uint8_t any = 0;
	size_t k;

	for (k = 0; k < n; k++) /* no early exit: the compiler vectorises */
		any |= p[k];
	if (any & 0x80)
		d->flags |= SMTP_DATA_F_8BIT;
	if (memchr(p, 0, n) != NULL)
		d->flags |= SMTP_DATA_F_NUL;
	flush(d, e);
	append(d, e->out, p, n);
	d->size += n;
	d->linelen += n;
	if (d->linelen > d->lim.line_max - 2)
		d->flags |= SMTP_DATA_F_LONG_LINE;
}

/* The CR already output was not followed by LF. */
static void
bare_cr(struct smtp_data *d)
{
	d->flags |= SMTP_DATA_F_BARE_CR;
	if (++d->linelen > d->lim.line_max - 2)
		d->flags |= SMTP_DATA_F_LONG_LINE;
}

enum smtp_data_status
smtp_data_parse(struct smtp_data *d, const uint8_t *p, size_t n, size_t *used,
    struct buf *out)
{
	struct emit e;
	size_t i, run;
	uint8_t c;

	if (d->st == ST_DONE) {
		*used = 0;
		return SMTP_DATA_END;
	}
	e.out = out;
	e.len = 0;
	for (i = 0; i < n; i++) {
		c = p[i];
		switch (d->st) {
		case ST_BOL:
			if (c == '.' && d->mode == SMTP_DATA_DOT) {
				d->st = ST_DOT;
				break;
			}
			text(d, &e, c);
			break;
		case ST_TEXT:
			/* Most bytes: a run of line content, copied at once. */
			run = content_run_len(p + i, n - i);
			if (run > 1) {
				content_run(d, &e, p + i, run);
				i += run - 1;
				break;
			}
			text(d, &e, c);
			break;
		case ST_CR:
			if (c == '\n') {
				put(d, &e, c);
				d->linelen = 0;
				d->st = ST_BOL;
				break;
			}
			bare_cr(d);
			text(d, &e, c);
			break;
		case ST_DOT:
			if (c == '\r') {
				d->st = ST_DOT_CR;
				break;
			}
			/* RFC 5321 4.5.2: the leading dot is deleted. */
			text(d, &e, c);
			break;
		case ST_DOT_CR:
			if (c == '\n') {
				/* CRLF "." CRLF: the only end of DATA. */
				flush(d, &e);
				d->st = ST_DONE;
				*used = i + 1;
				return SMTP_DATA_END;
			}
			/* ".\r" then not LF: the CR was bare. */
			put(d, &e, '\r');
			bare_cr(d);
			text(d, &e, c);
			break;
		case ST_DONE: /* not reached: END returned above */
			break;
		}
	}
	flush(d, &e);
	*used = n;
	return SMTP_DATA_NEED_MORE;
}

void
smtp_data_finish(struct smtp_data *d)
{
	if (d->st == ST_CR || d->st == ST_DOT_CR)
		d->flags |= SMTP_DATA_F_BARE_CR;
	d->st = ST_DONE;
}

unsigned
smtp_data_flags(const struct smtp_data *d)
{
	return d->flags;
}

uint64_t
smtp_data_size(const struct smtp_data *d)
{
	return d->size;
}
