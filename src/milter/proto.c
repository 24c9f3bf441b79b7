/* SPDX-License-Identifier: ISC */
/*
 * milter/proto.c - the milter protocol's packets (see proto.h).
 *
 * Constants and layouts follow libmilter's mfdef.h and Postfix's
 * src/milter/milter8.c; the code is our own.
 */
#include "milter/proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define HDR_LEN 5 /* 4-byte length, 1-byte code */

/* ---------------------------------------------------------------- */
/* Encoders                                                          */

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Open a packet: placeholder length and the code. *start for end_pkt. */
static int
begin_pkt(struct buf *b, char cmd, size_t *start)
{
	uint8_t h[HDR_LEN] = { 0, 0, 0, 0, (uint8_t)cmd };

	*start = b->len;
	return buf_append(b, h, sizeof(h));
}

/* Patch the length in; the payload can never exceed 32 bits here. */
static int
end_pkt(struct buf *b, size_t start)
{
	size_t n = b->len - start - 4;

	if (n > UINT32_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	put32(b->data + start, (uint32_t)n);
	return 0;
}

/* Undo a half-built packet so that b is as the caller left it. */
static int
undo_pkt(struct buf *b, size_t start)
{
	int saved = errno;

	b->len = start;
	if (b->data != NULL)
		b->data[start] = '\0';
	errno = saved;
	return -1;
}

/* A C string with its NUL. */
static int
put_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s) + 1);
}

int
milter_enc_optneg(struct buf *b, uint32_t version, uint32_t actions,
    uint32_t proto)
{
	uint8_t p[12];
	size_t start;

	put32(p, version);
	put32(p + 4, actions);
	put32(p + 8, proto);
	if (begin_pkt(b, MILTER_C_OPTNEG, &start) == -1 ||
	    buf_append(b, p, sizeof(p)) == -1 || end_pkt(b, start) == -1)
		return undo_pkt(b, start);
	return 0;
}

static bool
is_stage_cmd(char cmd)
{
	return cmd != '\0' && strchr("CHMRTNEUL", cmd) != NULL;
}

int
milter_enc_macro(struct buf *b, char cmd, const char *const *nv, size_t n)
{
	size_t i, start;
	uint8_t c = (uint8_t)cmd;

	if (n % 2 != 0 || !is_stage_cmd(cmd)) {
		errno = EINVAL;
		return -1;
	}
	if (begin_pkt(b, MILTER_C_MACRO, &start) == -1 ||
	    buf_append(b, &c, 1) == -1)
		return undo_pkt(b, start);
	for (i = 0; i < n; i++)
		if (put_str(b, nv[i]) == -1)
			return undo_pkt(b, start);
	if (end_pkt(b, start) == -1)
		return undo_pkt(b, start);
	return 0;
}

int
milter_enc_connect(struct buf *b, const char *host, char family, uint16_t port,
    const char *addr)
{
	uint8_t f = (uint8_t)family, pb[2];
	size_t start;

	if (family != MILTER_FAM_UNKNOWN && family != MILTER_FAM_UNIX &&
	    family != MILTER_FAM_INET && family != MILTER_FAM_INET6) {
		errno = EINVAL;
		return -1;
	}
	if (family != MILTER_FAM_UNKNOWN && addr == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (begin_pkt(b, MILTER_C_CONNECT, &start) == -1 ||
	    put_str(b, host) == -1 || buf_append(b, &f, 1) == -1)
		return undo_pkt(b, start);
	if (family != MILTER_FAM_UNKNOWN) {
		pb[0] = (uint8_t)(port >> 8);
		pb[1] = (uint8_t)port;
		if (buf_append(b, pb, 2) == -1 || put_str(b, addr) == -1)
			return undo_pkt(b, start);
	}
	if (end_pkt(b, start) == -1)
		return undo_pkt(b, start);
	return 0;
}

/* A packet of one string. */
static int
enc_str(struct buf *b, char cmd, const char *s)
{
	size_t start;

	if (begin_pkt(b, cmd, &start) == -1 || put_str(b, s) == -1 ||
	    end_pkt(b, start) == -1)
		return undo_pkt(b, start);
	return 0;
}

int
milter_enc_helo(struct buf *b, const char *helo)
{
	return enc_str(b, MILTER_C_HELO, helo);
}

int
milter_enc_unknown(struct buf *b, const char *line)
{
	return enc_str(b, MILTER_C_UNKNOWN, line);
}

static int
enc_addr(struct buf *b, char cmd, const char *addr, const char *const *params,
    size_t n)
{
	size_t i, start;

	if (begin_pkt(b, cmd, &start) == -1 || buf_append(b, "<", 1) == -1 ||
	    buf_append_str(b, addr) == -1 || put_str(b, ">") == -1)
		return undo_pkt(b, start);
	for (i = 0; i < n; i++)
		if (put_str(b, params[i]) == -1)
			return undo_pkt(b, start);
	if (end_pkt(b, start) == -1)
		return undo_pkt(b, start);
	return 0;
}

int
milter_enc_mail(struct buf *b, const char *addr, const char *const *params,
    size_t n)
{
	return enc_addr(b, MILTER_C_MAIL, addr, params, n);
}

int
milter_enc_rcpt(struct buf *b, const char *addr, const char *const *params,
    size_t n)
{
	return enc_addr(b, MILTER_C_RCPT, addr, params, n);
}

int
milter_enc_header(struct buf *b, const char *name, const char *value)
{
	size_t start;

	if (begin_pkt(b, MILTER_C_HEADER, &start) == -1 ||
	    put_str(b, name) == -1 || put_str(b, value) == -1 ||
	    end_pkt(b, start) == -1)
		return undo_pkt(b, start);
	return 0;
}

int
milter_enc_body(struct buf *b, const uint8_t *p, size_t n)
{
	size_t start;

	if (n > MILTER_CHUNK_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (begin_pkt(b, MILTER_C_BODY, &start) == -1 ||
	    (n > 0 && buf_append(b, p, n) == -1) || end_pkt(b, start) == -1)
		return undo_pkt(b, start);
	return 0;
}

int
milter_enc_cmd(struct buf *b, char cmd)
{
	size_t start;

	if (cmd == '\0' || strchr("TNEAQK", cmd) == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (begin_pkt(b, cmd, &start) == -1 || end_pkt(b, start) == -1)
		return undo_pkt(b, start);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Decoder                                                           */

struct milter_dec {
	struct milter_limits lim;
	uint8_t hdr[HDR_LEN];
	size_t hdr_len;  /* bytes of hdr[] read */
	size_t want;     /* payload bytes of the current packet */
	struct buf pay;  /* payload read so far */
	const char *err; /* sticky error, or NULL */
	struct milter_reply r;
};

struct milter_dec *
milter_dec_new(const struct milter_limits *lim)
{
	struct milter_dec *d;
	size_t max;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->lim.reply_max = lim != NULL && lim->reply_max > 0 ? lim->reply_max
	                                                     : MILTER_REPLY_MAX;
	d->lim.replbody_max = lim != NULL && lim->replbody_max > 0
	                          ? lim->replbody_max
	                          : MILTER_REPLY_MAX;
	max = d->lim.reply_max > d->lim.replbody_max ? d->lim.reply_max
	                                             : d->lim.replbody_max;
	buf_init(&d->pay, max);
	return d;
}

void
milter_dec_free(struct milter_dec *d)
{
	if (d == NULL)
		return;
	buf_reset(&d->pay);
	free(d);
}

/* A cursor over a payload. */
struct cur {
	const uint8_t *p;
	size_t n;
};

static bool
take32(struct cur *c, uint32_t *v)
{
	if (c->n < 4)
		return false;
	*v = get32(c->p);
	c->p += 4;
	c->n -= 4;
	return true;
}

/* A NUL-terminated string: the NUL must be there, inside the payload. */
static bool
take_str(struct cur *c, const char **s, size_t *len)
{
	const uint8_t *nul;

	if (c->n == 0 || (nul = memchr(c->p, '\0', c->n)) == NULL)
		return false;
	*s = (const char *)c->p;
	*len = (size_t)(nul - c->p);
	c->p = nul + 1;
	c->n -= *len + 1;
	return true;
}

/* RFC 5322 3.6.8 ftext: printable ASCII but ':'. */
static bool
is_hdr_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 33 || c > 126 || c == ':')
			return false;
	}
	return true;
}

/*
 * A header value: CR and LF only as folding (CRLF or LF before SP or
 * HTAB: libmilter filters fold with "\n\t"); no other control but HTAB.
 * 8-bit bytes pass (RFC 6532 headers).
 */
static bool
is_hdr_value(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r') {
			if (i + 1 >= n || s[i + 1] != '\n')
				return false;
			continue;
		}
		if (c == '\n') {
			if (i + 1 >= n || (s[i + 1] != ' ' && s[i + 1] != '\t'))
				return false;
			continue;
		}
		if ((c < 32 && c != '\t') || c == 127)
			return false;
	}
	return true;
}

/* No control characters (an address, params, a reason, a symbol list). */
static bool
is_text(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 32 || c == 127)
			return false;
	}
	return true;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * SMFIR_REPLYCODE: one or more lines joined by CRLF (an optional final
 * CRLF is dropped), each "CODE-text" but the last "CODE text" or a bare
 * "CODE"; CODE is 4xx or 5xx and the same on every line; a text that
 * starts with "D." starts an enhanced code, whose class D must be the
 * code's (Postfix checks as much); the text is printable ASCII or HTAB. As
 * sent, '%' may be doubled (Sendmail uses the text as a format): that is the
 * caller's to undo.
 */
static const char *
check_replycode(struct milter_reply *r)
{
	const char *s = r->s1, *eol;
	size_t n = r->s1_len, len, i;
	bool last;

	if (n >= 2 && s[n - 2] == '\r' && s[n - 1] == '\n')
		r->s1_len = n = n - 2;
	r->nlines = 0;
	for (;;) {
		eol = NULL;
		for (i = 0; i + 1 < n; i++)
			if (s[i] == '\r' && s[i + 1] == '\n') {
				eol = s + i;
				break;
			}
		len = eol != NULL ? (size_t)(eol - s) : n;
		last = eol == NULL;
		if (len < 3 || (s[0] != '4' && s[0] != '5') ||
		    !is_digit(s[1]) || !is_digit(s[2]))
			return "REPLYCODE: not a 4xx or 5xx code";
		if (r->nlines == 0)
			r->smtp_code = (unsigned)(s[0] - '0') * 100 +
			               (unsigned)(s[1] - '0') * 10 +
			               (unsigned)(s[2] - '0');
		else if (memcmp(s, r->s1, 3) != 0)
			return "REPLYCODE: lines with different codes";
		if (len > 3 && s[3] != (last ? ' ' : '-'))
			return "REPLYCODE: bad separator after the code";
		/* An enhanced code (RFC 3463) must be of the code's class. */
		if (len > 5 && is_digit(s[4]) && s[5] == '.' && s[4] != s[0])
			return "REPLYCODE: enhanced code of another class";
		if (len == 3 && !last)
			return "REPLYCODE: continued line without '-'";
		for (i = 4; i < len; i++) {
			unsigned char c = (unsigned char)s[i];

			if ((c < 32 && c != '\t') || c > 126)
				return "REPLYCODE: text not printable";
		}
		r->nlines++;
		if (last)
			return NULL;
		n -= len + 2;
		s = eol + 2;
	}
}

/* Header edits: [index] name NUL value NUL. */
static const char *
dec_header(struct milter_reply *r, struct cur *c, bool indexed)
{
	if (indexed && !take32(c, &r->index))
		return "header edit: short index";
	if (!take_str(c, &r->s1, &r->s1_len) ||
	    !take_str(c, &r->s2, &r->s2_len))
		return "header edit: missing NUL";
	if (!is_hdr_name(r->s1, r->s1_len))
		return "header edit: bad header name";
	if (!is_hdr_value(r->s2, r->s2_len))
		return "header edit: bad header value";
	return NULL;
}

/* Recipient or sender: addr NUL [params NUL] (params if may_params). */
static const char *
dec_addr(struct milter_reply *r, struct cur *c, bool may_params)
{
	if (!take_str(c, &r->s1, &r->s1_len))
		return "address: missing NUL";
	if (r->s1_len == 0 || !is_text(r->s1, r->s1_len))
		return "address: empty or control characters";
	r->s2 = "";
	r->s2_len = 0;
	if (may_params && c->n > 0) {
		if (!take_str(c, &r->s2, &r->s2_len))
			return "address params: missing NUL";
		if (!is_text(r->s2, r->s2_len))
			return "address params: control characters";
	}
	return NULL;
}

static const char *
dec_symlist(struct cur *c, uint32_t *stage, const char **s, size_t *len)
{
	if (!take32(c, stage))
		return "symbol list: short stage";
	if (*stage > MILTER_STAGE_MAX)
		return "symbol list: unknown stage";
	if (!take_str(c, s, len))
		return "symbol list: missing NUL";
	if (!is_text(*s, *len))
		return "symbol list: control characters";
	return NULL;
}

static const char *
dec_optneg(struct milter_reply *r, struct cur *c)
{
	struct cur rest;
	uint32_t stage;
	const char *s, *why;
	size_t len;

	if (!take32(c, &r->version) || !take32(c, &r->actions) ||
	    !take32(c, &r->proto))
		return "OPTNEG: short";
	r->data = c->p;
	r->data_len = c->n;
	rest = *c;
	while (rest.n > 0)
		if ((why = dec_symlist(&rest, &stage, &s, &len)) != NULL)
			return why;
	c->n = 0;
	return NULL;
}

/* Check and take apart the payload of a whole packet. */
static const char *
decode(struct milter_dec *d)
{
	struct milter_reply *r = &d->r;
	struct cur c = { d->pay.data, d->pay.len };
	const char *why = NULL;

	if (c.p == NULL)
		c.p = (const uint8_t *)"";
	memset(r, 0, sizeof(*r));
	r->code = (char)d->hdr[4];
	switch (r->code) {
	case MILTER_R_ACCEPT:
	case MILTER_R_CONTINUE:
	case MILTER_R_DISCARD:
	case MILTER_R_REJECT:
	case MILTER_R_TEMPFAIL:
	case MILTER_R_SKIP:
	case MILTER_R_PROGRESS:
	case MILTER_R_SHUTDOWN:
	case MILTER_R_CONN_FAIL:
		break;
	case MILTER_R_REPLYCODE:
		if (!take_str(&c, &r->s1, &r->s1_len))
			return "REPLYCODE: missing NUL";
		why = check_replycode(r);
		/* A final CRLF was dropped: end the string before it. */
		if (why == NULL)
			d->pay.data[(size_t)((const uint8_t *)r->s1 -
			                     d->pay.data) +
			            r->s1_len] = '\0';
		break;
	case MILTER_R_QUARANTINE:
		if (!take_str(&c, &r->s1, &r->s1_len))
			return "QUARANTINE: missing NUL";
		if (!is_text(r->s1, r->s1_len))
			why = "QUARANTINE: control characters";
		break;
	case MILTER_R_ADDHEADER:
		why = dec_header(r, &c, false);
		break;
	case MILTER_R_INSHEADER:
	case MILTER_R_CHGHEADER:
		why = dec_header(r, &c, true);
		break;
	case MILTER_R_ADDRCPT:
	case MILTER_R_DELRCPT:
		why = dec_addr(r, &c, false);
		break;
	case MILTER_R_ADDRCPT_PAR:
	case MILTER_R_CHGFROM:
		why = dec_addr(r, &c, true);
		break;
	case MILTER_R_REPLBODY:
		r->data = c.p;
		r->data_len = c.n;
		c.n = 0;
		break;
	case MILTER_R_SETSYMLIST:
		why = dec_symlist(&c, &r->index, &r->s1, &r->s1_len);
		break;
	case MILTER_R_OPTNEG:
		why = dec_optneg(r, &c);
		break;
	default:
		return "unknown reply code";
	}
	if (why == NULL && c.n != 0)
		why = "a NUL inside a string, or bytes after the payload";
	return why;
}

static bool
is_reply_code(uint8_t c)
{
	return milter_reply_name((char)c) != NULL;
}

/* The payload cap for a reply code. */
static size_t
cap_for(const struct milter_dec *d, uint8_t code)
{
	return code == MILTER_R_REPLBODY ? d->lim.replbody_max
	                                 : d->lim.reply_max;
}

static enum milter_dec_status
fail(struct milter_dec *d, const char *why, const char **why_out)
{
	d->err = why;
	*why_out = why;
	buf_reset(&d->pay);
	return MILTER_DEC_ERROR;
}

enum milter_dec_status
milter_dec_feed(struct milter_dec *d, const uint8_t *p, size_t n, size_t *used,
    const struct milter_reply **reply_out, const char **why_out)
{
	size_t i = 0, k;
	uint32_t len;
	const char *why;

	*used = 0;
	*reply_out = NULL;
	*why_out = NULL;
	if (d->err != NULL) {
		*why_out = d->err;
		return MILTER_DEC_ERROR;
	}
	while (d->hdr_len < HDR_LEN) {
		if (i == n) {
			*used = n;
			return MILTER_DEC_NEED_MORE;
		}
		d->hdr[d->hdr_len++] = p[i++];
		if (d->hdr_len < HDR_LEN)
			continue;
		/* Check the length before storing a byte of payload. */
		len = get32(d->hdr);
		*used = i;
		if (len == 0)
			return fail(d, "zero length", why_out);
		if (!is_reply_code(d->hdr[4]))
			return fail(d, "unknown reply code", why_out);
		d->want = (size_t)len - 1;
		if (d->want > cap_for(d, d->hdr[4]))
			return fail(d, "reply larger than the limit", why_out);
		buf_clear(&d->pay);
	}
	k = d->want - d->pay.len;
	if (k > n - i)
		k = n - i;
	if (k > 0 && buf_append(&d->pay, p + i, k) == -1) {
		*used = i;
		return fail(d, "out of memory", why_out);
	}
	i += k;
	*used = i;
	if (d->pay.len < d->want)
		return MILTER_DEC_NEED_MORE;
	d->hdr_len = 0;
	if ((why = decode(d)) != NULL)
		return fail(d, why, why_out);
	*reply_out = &d->r;
	return MILTER_DEC_REPLY;
}

static const struct {
	char code;
	const char *name;
} reply_names[] = {
	{ MILTER_R_ADDRCPT, "addrcpt" },
	{ MILTER_R_DELRCPT, "delrcpt" },
	{ MILTER_R_ADDRCPT_PAR, "addrcpt_par" },
	{ MILTER_R_SHUTDOWN, "shutdown" },
	{ MILTER_R_ACCEPT, "accept" },
	{ MILTER_R_REPLBODY, "replbody" },
	{ MILTER_R_CONTINUE, "continue" },
	{ MILTER_R_DISCARD, "discard" },
	{ MILTER_R_CHGFROM, "chgfrom" },
	{ MILTER_R_CONN_FAIL, "conn_fail" },
	{ MILTER_R_ADDHEADER, "addheader" },
	{ MILTER_R_INSHEADER, "insheader" },
	{ MILTER_R_SETSYMLIST, "setsymlist" },
	{ MILTER_R_CHGHEADER, "chgheader" },
	{ MILTER_R_OPTNEG, "optneg" },
	{ MILTER_R_PROGRESS, "progress" },
	{ MILTER_R_QUARANTINE, "quarantine" },
	{ MILTER_R_REJECT, "reject" },
	{ MILTER_R_SKIP, "skip" },
	{ MILTER_R_TEMPFAIL, "tempfail" },
	{ MILTER_R_REPLYCODE, "replycode" },
};

const char *
milter_reply_name(char code)
{
	size_t i;

	for (i = 0; i < sizeof(reply_names) / sizeof(reply_names[0]); i++)
		if (reply_names[i].code == code)
			return reply_names[i].name;
	return NULL;
}

/* ---------------------------------------------------------------- */
/* Negotiation                                                       */

int
milter_optneg_check(const struct milter_reply *r,
    const struct milter_optneg *offered, struct milter_optneg *out,
    const char **why_out)
{
	*why_out = NULL;
	if (r->code != MILTER_R_OPTNEG) {
		*why_out = "not an OPTNEG reply";
		return -1;
	}
	if (r->version < MILTER_VERSION_MIN) {
		*why_out = "filter's protocol version too old";
		return -1;
	}
	if ((r->actions & ~offered->actions) != 0) {
		*why_out = "filter asks for actions not offered";
		return -1;
	}
	if ((r->proto & ~offered->proto) != 0) {
		*why_out = "filter asks for protocol flags not offered";
		return -1;
	}
	out->version =
	    r->version < offered->version ? r->version : offered->version;
	out->actions = r->actions;
	out->proto = r->proto;
	return 0;
}

bool
milter_symlist_next(const uint8_t **p, size_t *n, uint32_t *stage_out,
    const char **names_out, size_t *len_out)
{
	struct cur c = { *p, *n };

	if (c.n == 0 || dec_symlist(&c, stage_out, names_out, len_out) != NULL)
		return false;
	*p = c.p;
	*n = c.n;
	return true;
}
