/* SPDX-License-Identifier: ISC */
/*
 * milter/edit.c - the message as filters see it, their edits, and the
 * message rewritten with them (see edit.h).
 *
 * Memory: the header is held (at most max + 2 bytes of the source are
 * read to find its end), the body never is: it is copied through one
 * output buffer of OUT_MAX bytes. Allocation is plain malloc, checked:
 * a filter chooses the sizes, so running out is an error, not an abort.
 */
#include "milter/edit.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "milter/proto.h"
#include "util/fsutil.h"
#include "util/str.h"

#define READ_CHUNK 4096 /* header read-ahead per read */
#define OUT_MAX 65536   /* output staging, also the body copy's chunk */

/* ---------------------------------------------------------------- */
/* The source                                                         */

static uint64_t
msg_len(const struct milter_src *s)
{
	return s->mem != NULL ? s->mem_len : s->fd_len;
}

uint64_t
milter_src_len(const struct milter_src *s)
{
	return s->pre_len + msg_len(s);
}

/* Exactly n bytes at moff of the file range: a short file is EIO. */
static int
fd_read(const struct milter_src *s, uint64_t moff, uint8_t *p, size_t n)
{
	size_t got;

	if (s->fd_off < 0 || moff > (uint64_t)(INT64_MAX - s->fd_off) ||
	    n > (uint64_t)INT64_MAX - (uint64_t)s->fd_off - moff) {
		errno = EINVAL;
		return -1;
	}
	if (fsutil_pread_all(s->fd, p, n, s->fd_off + (off_t)moff, &got) == -1)
		return -1;
	if (got < n) {
		errno = EIO; /* the file is shorter than fd_len */
		return -1;
	}
	return 0;
}

ssize_t
milter_src_read(const struct milter_src *s, uint64_t off, void *buf, size_t n)
{
	uint8_t *p = buf;
	uint64_t mlen = msg_len(s), moff;
	size_t got = 0, k;

	if (n == 0)
		return 0;
	if (n > SSIZE_MAX)
		n = SSIZE_MAX;
	if (off < s->pre_len) {
		k = s->pre_len - off < n ? (size_t)(s->pre_len - off) : n;
		memcpy(p, s->pre + off, k);
		got = k;
		off += k;
	}
	if (got == n || off - s->pre_len >= mlen)
		return (ssize_t)got;
	moff = off - s->pre_len;
	k = mlen - moff < n - got ? (size_t)(mlen - moff) : n - got;
	if (s->mem != NULL)
		memcpy(p + got, s->mem + moff, k);
	else if (fd_read(s, moff, p + got, k) == -1)
		return -1;
	return (ssize_t)(got + k);
}

/* ---------------------------------------------------------------- */
/* The header                                                         */

struct hreader {
	const struct milter_src *src;
	struct buf *d; /* the source's first bytes, from offset 0 */
	size_t limit;  /* never hold more than this */
	bool eof;
};

static bool
is_ftext(uint8_t c)
{
	return c >= 33 && c <= 126 && c != ':'; /* RFC 5322 3.6.8 */
}

static bool
is_blank(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/*
 * Hold at least k bytes of the source: 1; 0 when the source ends first
 * or k is past the limit; -1 with errno.
 */
static int
need(struct hreader *r, size_t k)
{
	uint8_t tmp[READ_CHUNK];
	size_t want;
	ssize_t got;

	while (r->d->len < k) {
		if (r->eof || k > r->limit)
			return 0;
		want = r->limit - r->d->len;
		if (want > sizeof(tmp))
			want = sizeof(tmp);
		got = milter_src_read(r->src, r->d->len, tmp, want);
		if (got == -1)
			return -1;
		if (got == 0) {
			r->eof = true;
			return 0;
		}
		if (buf_append(r->d, tmp, (size_t)got) == -1)
			return -1;
	}
	return 1;
}

/* The empty line at pos: its length (1 for a lone LF, 2), 0, or -1. */
static int
blank_line(struct hreader *r, size_t pos)
{
	int ok;

	if ((ok = need(r, pos + 1)) != 1)
		return ok;
	if (r->d->data[pos] == '\n')
		return 1;
	if (r->d->data[pos] != '\r')
		return 0;
	if ((ok = need(r, pos + 2)) != 1)
		return ok;
	return r->d->data[pos + 1] == '\n' ? 2 : 0;
}

/*
 * The field at pos into *f: 1; 0 when there is none that ends within
 * max (not a field, a line the source ends without ending, too big);
 * -1 with errno.
 */
static int
scan_field(struct hreader *r, size_t pos, size_t max, struct milter_field *f)
{
	const uint8_t *lf;
	size_t i = pos, end;
	int ok;

	while ((ok = need(r, i + 1)) == 1 && is_ftext(r->d->data[i]))
		i++;
	if (ok != 1 || i == pos)
		return ok == -1 ? -1 : 0;
	f->name_len = i - pos;
	/* obs-optional (RFC 5322 4.5): blanks before the colon. */
	while ((ok = need(r, i + 1)) == 1 && is_blank(r->d->data[i]))
		i++;
	if (ok != 1 || r->d->data[i] != ':')
		return ok == -1 ? -1 : 0;
	f->value_off = ++i;
	for (;;) {
		while ((lf = memchr(r->d->data + i, '\n', r->d->len - i)) ==
		       NULL) {
			i = r->d->len;
			if ((ok = need(r, i + 1)) != 1)
				return ok;
		}
		end = (size_t)(lf - r->d->data) + 1;
		if (end > max)
			return 0;
		/* A line starting with a blank continues the field. */
		if ((ok = need(r, end + 1)) == -1)
			return -1;
		if (ok == 0 || !is_blank(r->d->data[end]))
			break;
		i = end + 1;
	}
	f->off = pos;
	f->len = end - pos;
	f->value_len = end - 1 - f->value_off;
	if (f->value_len > 0 && r->d->data[end - 2] == '\r')
		f->value_len--;
	return 1;
}

/*
 * Room for element n of an array of n: its capacity doubles at each
 * power of two, so no struct needs a capacity field. The array (maybe
 * moved), or NULL with errno ENOMEM (arr is then unchanged).
 */
static void *
grow(void *arr, size_t n, size_t size)
{
	size_t cap;
	void *p;

	if (n != 0 && (n & (n - 1)) != 0)
		return arr; /* n is not a power of two: there is room */
	cap = n == 0 ? 1 : n * 2;
	if (cap > SIZE_MAX / size || (p = realloc(arr, cap * size)) == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

static int
push_field(struct milter_header *h, const struct milter_field *f)
{
	struct milter_field *nf;

	if ((nf = grow(h->f, h->n, sizeof(*nf))) == NULL)
		return -1;
	h->f = nf;
	h->f[h->n++] = *f;
	return 0;
}

int
milter_header_read(const struct milter_src *src, size_t max,
    struct milter_header *h)
{
	struct hreader r;
	struct milter_field f;
	size_t pos = 0;
	int ok;

	/* +2: room to see the empty line or a continuation after max. */
	r.limit = max > SIZE_MAX - 2 ? SIZE_MAX : max + 2;
	r.src = src;
	r.d = &h->data;
	r.eof = false;
	buf_init(&h->data, r.limit);
	h->f = NULL;
	h->n = 0;
	h->body_off = 0;
	h->has_blank = false;
	for (;;) {
		if ((ok = blank_line(&r, pos)) == -1)
			return -1;
		if (ok > 0) {
			h->has_blank = true;
			h->body_off = pos + (size_t)ok;
			break;
		}
		if ((ok = scan_field(&r, pos, max, &f)) == -1)
			return -1;
		if (ok == 0) {
			h->body_off = pos;
			break;
		}
		if (push_field(h, &f) == -1)
			return -1;
		pos += f.len;
	}
	/* Keep the fields only: what was read after them is body. */
	h->data.len = pos;
	if (h->data.data != NULL)
		h->data.data[pos] = '\0';
	return 0;
}

void
milter_header_free(struct milter_header *h)
{
	buf_reset(&h->data);
	free(h->f);
	h->f = NULL;
	h->n = 0;
}

/* ---------------------------------------------------------------- */
/* The edits                                                          */

void
milter_edits_init(struct milter_edits *e, uint64_t body_max)
{
	size_t max = SIZE_MAX;

	if (body_max < (uint64_t)max)
		max = (size_t)body_max;
	memset(e, 0, sizeof(*e));
	buf_init(&e->body, max);
}

static void
addr_free(struct milter_addr_edit *a)
{
	free(a->addr);
	free(a->params);
	a->addr = NULL;
	a->params = NULL;
}

void
milter_edits_free(struct milter_edits *e)
{
	size_t i;

	for (i = 0; i < e->nhdr; i++) {
		free(e->hdr[i].name);
		free(e->hdr[i].value);
	}
	free(e->hdr);
	for (i = 0; i < e->nadd_rcpt; i++)
		addr_free(&e->add_rcpt[i]);
	free(e->add_rcpt);
	for (i = 0; i < e->ndel_rcpt; i++)
		free(e->del_rcpt[i]);
	free(e->del_rcpt);
	addr_free(&e->from);
	buf_reset(&e->body);
	free(e->quarantine);
	milter_edits_init(e, e->body.max);
}

void
milter_edits_clear(struct milter_edits *e)
{
	milter_edits_free(e);
}

/* A copy of s[0..n) (NULL: ""), NUL-terminated, or NULL on ENOMEM. */
static char *
dup_str(const char *s, size_t n)
{
	char *p;

	if (s == NULL)
		n = 0;
	if (n == SIZE_MAX || (p = malloc(n + 1)) == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static int
add_hdr(struct milter_edits *e, const struct milter_reply *r)
{
	struct milter_hdr_edit *h;

	if ((h = grow(e->hdr, e->nhdr, sizeof(*h))) == NULL)
		return -1;
	e->hdr = h;
	h = &e->hdr[e->nhdr];
	h->op = r->code == MILTER_R_ADDHEADER   ? MILTER_HDR_ADD
	        : r->code == MILTER_R_INSHEADER ? MILTER_HDR_INSERT
	                                        : MILTER_HDR_CHANGE;
	h->index = r->index;
	h->name = dup_str(r->s1, r->s1_len);
	h->value = dup_str(r->s2, r->s2_len);
	if (h->name == NULL || h->value == NULL) {
		free(h->name);
		free(h->value);
		return -1;
	}
	e->nhdr++;
	return 0;
}

static int
set_addr(struct milter_addr_edit *a, const struct milter_reply *r)
{
	a->addr = dup_str(r->s1, r->s1_len);
	a->params =
	    dup_str(r->code == MILTER_R_ADDRCPT ? NULL : r->s2, r->s2_len);
	if (a->addr == NULL || a->params == NULL) {
		addr_free(a);
		return -1;
	}
	return 0;
}

static int
add_rcpt(struct milter_edits *e, const struct milter_reply *r)
{
	struct milter_addr_edit *a;

	if ((a = grow(e->add_rcpt, e->nadd_rcpt, sizeof(*a))) == NULL)
		return -1;
	e->add_rcpt = a;
	if (set_addr(&e->add_rcpt[e->nadd_rcpt], r) == -1)
		return -1;
	e->nadd_rcpt++;
	return 0;
}

static int
del_rcpt(struct milter_edits *e, const struct milter_reply *r)
{
	char **d;

	if ((d = grow(e->del_rcpt, e->ndel_rcpt, sizeof(*d))) == NULL)
		return -1;
	e->del_rcpt = d;
	if ((d[e->ndel_rcpt] = dup_str(r->s1, r->s1_len)) == NULL)
		return -1;
	e->ndel_rcpt++;
	return 0;
}

static int
chg_from(struct milter_edits *e, const struct milter_reply *r)
{
	struct milter_addr_edit a;

	if (set_addr(&a, r) == -1)
		return -1;
	addr_free(&e->from); /* the last CHGFROM wins */
	e->from = a;
	e->chg_from = true;
	return 0;
}

static int
quarantine(struct milter_edits *e, const struct milter_reply *r)
{
	char *q;

	if ((q = dup_str(r->s1, r->s1_len)) == NULL)
		return -1;
	free(e->quarantine); /* the last reason wins */
	e->quarantine = q;
	return 0;
}

static bool
is_edit(char code)
{
	switch (code) {
	case MILTER_R_ADDHEADER:
	case MILTER_R_INSHEADER:
	case MILTER_R_CHGHEADER:
	case MILTER_R_ADDRCPT:
	case MILTER_R_ADDRCPT_PAR:
	case MILTER_R_DELRCPT:
	case MILTER_R_CHGFROM:
	case MILTER_R_REPLBODY:
	case MILTER_R_QUARANTINE:
		return true;
	default:
		return false;
	}
}

int
milter_edits_add(struct milter_edits *e, const struct milter_reply *r,
    const char **why_out)
{
	int ret;

	if (!is_edit(r->code)) {
		*why_out = "not a modification reply";
		return -1;
	}
	/* A replacement body is one edit, however many chunks carry it. */
	if ((r->code != MILTER_R_REPLBODY || !e->body_replaced) &&
	    e->nedits >= MILTER_EDITS_MAX) {
		*why_out = "too many modifications";
		return -1;
	}
	if (r->code != MILTER_R_REPLBODY &&
	    r->s1_len + r->s2_len > MILTER_EDITS_BYTES_MAX - e->nbytes) {
		*why_out = "modifications too big";
		return -1;
	}
	switch (r->code) {
	case MILTER_R_ADDHEADER:
	case MILTER_R_INSHEADER:
	case MILTER_R_CHGHEADER:
		ret = add_hdr(e, r);
		break;
	case MILTER_R_ADDRCPT:
	case MILTER_R_ADDRCPT_PAR:
		ret = add_rcpt(e, r);
		break;
	case MILTER_R_DELRCPT:
		ret = del_rcpt(e, r);
		break;
	case MILTER_R_CHGFROM:
		ret = chg_from(e, r);
		break;
	case MILTER_R_QUARANTINE:
		ret = quarantine(e, r);
		break;
	default: /* MILTER_R_REPLBODY */
		if (buf_append(&e->body, r->data, r->data_len) == -1) {
			*why_out = errno == EMSGSIZE
			               ? "replacement body too big"
			               : "out of memory";
			return -1;
		}
		if (e->body_replaced)
			return 0;
		e->body_replaced = true;
		ret = 0;
		break;
	}
	if (ret == -1) {
		*why_out = "out of memory";
		return -1;
	}
	e->nedits++;
	e->nbytes += r->s1_len + r->s2_len;
	return 0;
}

bool
milter_edits_rewrite(const struct milter_edits *e)
{
	return e->nhdr > 0 || e->body_replaced;
}

bool
milter_edits_any(const struct milter_edits *e)
{
	return milter_edits_rewrite(e) || e->nadd_rcpt > 0 ||
	       e->ndel_rcpt > 0 || e->chg_from || e->quarantine != NULL;
}

/* ---------------------------------------------------------------- */
/* The rewrite                                                        */

/* Output staged in one buffer, so small pieces make few writes. */
struct out {
	milter_write_fn *w;
	void *arg;
	size_t n;
	uint8_t b[OUT_MAX];
};

static int
flush(struct out *o)
{
	if (o->n == 0)
		return 0;
	if (o->w(o->arg, o->b, o->n) == -1)
		return -1;
	o->n = 0;
	return 0;
}

static int
put(struct out *o, const void *p, size_t n)
{
	if (n > sizeof(o->b) - o->n) {
		if (flush(o) == -1)
			return -1;
		if (n >= sizeof(o->b))
			return o->w(o->arg, p, n);
	}
	if (n > 0)
		memcpy(o->b + o->n, p, n);
	o->n += n;
	return 0;
}

/* p[0..n) with every bare LF and bare CR written as CRLF. */
static int
put_crlf(struct out *o, const uint8_t *p, size_t n)
{
	size_t i = 0, run;

	while (i < n) {
		for (run = i; run < n && p[run] != '\r' && p[run] != '\n';
		     run++)
			;
		if (put(o, p + i, run - i) == -1)
			return -1;
		if (run == n)
			break;
		if (put(o, "\r\n", 2) == -1)
			return -1;
		i = run + 1;
		if (p[run] == '\r' && i < n && p[i] == '\n')
			i++;
	}
	return 0;
}

/*
 * A header value: its line breaks (LF, CRLF, CR) written as CRLF where
 * a blank follows (a fold); any other break, which the decoder never
 * passes, becomes a space or (at the end) nothing, so that no value
 * can end the header early or start a field of its own.
 */
static int
put_value(struct out *o, const char *v)
{
	const uint8_t *p = (const uint8_t *)v;
	size_t n = strlen(v), i = 0, run, next;

	while (i < n) {
		for (run = i; run < n && p[run] != '\r' && p[run] != '\n';
		     run++)
			;
		if (put(o, p + i, run - i) == -1)
			return -1;
		if (run == n)
			break;
		next = run + 1;
		if (p[run] == '\r' && next < n && p[next] == '\n')
			next++;
		if (next < n && (p[next] == ' ' || p[next] == '\t')) {
			if (put(o, "\r\n", 2) == -1)
				return -1;
		} else if (next < n && put(o, " ", 1) == -1) {
			return -1;
		}
		i = next;
	}
	return 0;
}

/* The source from off to its end, through the output buffer. */
static int
copy_rest(struct out *o, const struct milter_src *src, uint64_t off)
{
	uint64_t len = milter_src_len(src);
	ssize_t got;

	while (off < len) {
		if (o->n == sizeof(o->b) && flush(o) == -1)
			return -1;
		got =
		    milter_src_read(src, off, o->b + o->n, sizeof(o->b) - o->n);
		if (got == -1)
			return -1;
		if (got == 0) { /* cannot happen within milter_src_len */
			errno = EIO;
			return -1;
		}
		o->n += (size_t)got;
		off += (uint64_t)got;
	}
	return 0;
}

/* The header as the edits leave it: original fields or edits' ones. */
struct hent {
	const char *name;
	size_t name_len;
	const struct milter_field *f;    /* an original field, or NULL: */
	const struct milter_hdr_edit *e; /* a field written from an edit */
};

struct hlist {
	struct hent *v;
	size_t n;
};

/* Each edit adds at most one field: the room is taken once. */
static int
hlist_init(struct hlist *l, const struct milter_header *h, size_t nedits)
{
	size_t i, cap;

	l->n = 0;
	if (nedits > SIZE_MAX - h->n - 1)
		cap = SIZE_MAX;
	else
		cap = h->n + nedits + 1;
	if (cap > SIZE_MAX / sizeof(*l->v) ||
	    (l->v = malloc(cap * sizeof(*l->v))) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < h->n; i++) {
		l->v[i].name = (const char *)h->data.data + h->f[i].off;
		l->v[i].name_len = h->f[i].name_len;
		l->v[i].f = &h->f[i];
		l->v[i].e = NULL;
	}
	l->n = h->n;
	return 0;
}

static struct hent
edit_ent(const struct milter_hdr_edit *e)
{
	struct hent x;

	x.name = e->name;
	x.name_len = strlen(e->name);
	x.f = NULL;
	x.e = e;
	return x;
}

static void
hlist_insert(struct hlist *l, size_t at, const struct milter_hdr_edit *e)
{
	memmove(&l->v[at + 1], &l->v[at], (l->n - at) * sizeof(*l->v));
	l->v[at] = edit_ent(e);
	l->n++;
}

/* The index of the k-th (from 1) field called name, or l->n. */
static size_t
hlist_find(const struct hlist *l, const char *name, uint32_t k)
{
	size_t i, len = strlen(name);

	for (i = 0; i < l->n; i++)
		if (l->v[i].name_len == len &&
		    ascii_ncasecmp(l->v[i].name, name, len) == 0 && --k == 0)
			return i;
	return l->n;
}

/*
 * One edit, Sendmail's way (edit.h). XXX each costs a walk of the
 * header: a filter sending MILTER_EDITS_MAX edits against a header of
 * tiny fields makes this slow, never unbounded.
 */
static void
hlist_edit(struct hlist *l, const struct milter_hdr_edit *e)
{
	size_t i;

	switch (e->op) {
	case MILTER_HDR_ADD:
		hlist_insert(l, l->n, e);
		break;
	case MILTER_HDR_INSERT:
		hlist_insert(l, e->index < l->n ? e->index : l->n, e);
		break;
	case MILTER_HDR_CHANGE:
		i = hlist_find(l, e->name, e->index == 0 ? 1 : e->index);
		if (i == l->n) {
			if (e->value[0] != '\0')
				hlist_insert(l, l->n, e);
		} else if (e->value[0] == '\0') {
			memmove(&l->v[i], &l->v[i + 1],
			    (l->n - i - 1) * sizeof(*l->v));
			l->n--;
		} else {
			l->v[i] = edit_ent(e);
		}
		break;
	}
}

static int
put_header(struct out *o, const struct hlist *l, const struct milter_header *h)
{
	const struct hent *x;
	size_t i;

	for (i = 0; i < l->n; i++) {
		x = &l->v[i];
		if (x->f != NULL) {
			if (put(o, h->data.data + x->f->off, x->f->len) == -1)
				return -1;
			continue;
		}
		if (put(o, x->name, x->name_len) == -1 ||
		    put(o, ": ", 2) == -1 || put_value(o, x->e->value) == -1 ||
		    put(o, "\r\n", 2) == -1)
			return -1;
	}
	return 0;
}

int
milter_edit_apply(const struct milter_edits *e, const struct milter_src *src,
    size_t header_max, milter_write_fn *w, void *arg)
{
	struct milter_header h;
	struct hlist l = { NULL, 0 };
	struct out *o = NULL;
	int ret = -1, saved;
	size_t i;

	if (milter_header_read(src, header_max, &h) == -1)
		goto done;
	if ((o = malloc(sizeof(*o))) == NULL) {
		errno = ENOMEM;
		goto done;
	}
	o->w = w;
	o->arg = arg;
	o->n = 0;
	if (hlist_init(&l, &h, e->nhdr) == -1)
		goto done;
	for (i = 0; i < e->nhdr; i++)
		hlist_edit(&l, &e->hdr[i]);
	if (put_header(o, &l, &h) == -1)
		goto done;
	if (e->body_replaced) {
		if (put(o, "\r\n", 2) == -1 ||
		    put_crlf(o, e->body.data, e->body.len) == -1)
			goto done;
	} else if (copy_rest(o, src, h.data.len) == -1) {
		/* From the fields' end: the empty line, as it was, too. */
		goto done;
	}
	if (flush(o) == -1)
		goto done;
	ret = 0;
done:
	saved = errno;
	free(o);
	free(l.v);
	milter_header_free(&h);
	errno = saved;
	return ret;
}
