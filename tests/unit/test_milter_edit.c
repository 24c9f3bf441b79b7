/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for milter/edit.c: the source over memory and over a real
 * file (with pre, read in odd chunks, a short file), the header split
 * at every pre/message boundary, every edit kind recorded and applied
 * with Sendmail's semantics, a 10 MB body replaced and copied, and
 * errors from the writer, the reader and the allocator.
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

#include "failalloc.h"
#include "milter/edit.h"
#include "milter/proto.h"
#include "util/buf.h"

#define L(s) s, sizeof(s) - 1

/* ---------------------------------------------------------------- */
/* Helpers                                                           */

/* A message as a source: in memory, or in a temp file after junk. */
struct tsrc {
	struct milter_src s;
	int fd;
};

static void
tsrc_mem(struct tsrc *t, const char *pre, size_t pre_len, const char *msg,
    size_t len)
{
	memset(t, 0, sizeof(*t));
	t->s.pre = (const uint8_t *)pre;
	t->s.pre_len = pre_len;
	t->s.mem = (const uint8_t *)(msg != NULL ? msg : "");
	t->s.mem_len = len;
	t->s.fd = -1;
	t->fd = -1;
}

static int
tmpfile_with(const void *p, size_t n)
{
	char path[] = "/tmp/test_milter_edit.XXXXXX";
	const uint8_t *b = p;
	ssize_t w;
	int fd;

	fd = mkstemp(path);
	assert_true(fd != -1);
	assert_int_equal(unlink(path), 0);
	while (n > 0) {
		w = write(fd, b, n);
		assert_true(w > 0);
		b += w;
		n -= (size_t)w;
	}
	return fd;
}

/* msg at offset 5 of a file, after junk the source must skip. */
static void
tsrc_file(struct tsrc *t, const char *pre, size_t pre_len, const char *msg,
    size_t len)
{
	char *tmp = malloc(len + 5);

	assert_non_null(tmp);
	memset(tmp, '#', 5); /* junk before the message */
	if (len > 0)
		memcpy(tmp + 5, msg, len);
	memset(t, 0, sizeof(*t));
	t->fd = tmpfile_with(tmp, len + 5);
	free(tmp);
	t->s.pre = (const uint8_t *)pre;
	t->s.pre_len = pre_len;
	t->s.fd = t->fd;
	t->s.fd_off = 5;
	t->s.fd_len = len;
}

static void
tsrc_close(struct tsrc *t)
{
	if (t->fd != -1)
		(void)close(t->fd);
	t->fd = -1;
}

/* A writer into a buf; fails with ENOSPC on call number fail_at. */
struct sink {
	struct buf b;
	int calls;
	int fail_at; /* -1: never */
};

static void
sink_init(struct sink *k)
{
	buf_init(&k->b, (size_t)64 << 20);
	k->calls = 0;
	k->fail_at = -1;
}

static int
sink_write(void *arg, const void *p, size_t n)
{
	struct sink *k = arg;

	if (k->calls++ == k->fail_at) {
		errno = ENOSPC;
		return -1;
	}
	return buf_append(&k->b, p, n);
}

static struct milter_reply
rep(char code, uint32_t index, const char *s1, const char *s2)
{
	struct milter_reply r;

	memset(&r, 0, sizeof(r));
	r.code = code;
	r.index = index;
	r.s1 = s1;
	r.s1_len = s1 != NULL ? strlen(s1) : 0;
	r.s2 = s2;
	r.s2_len = s2 != NULL ? strlen(s2) : 0;
	return r;
}

static struct milter_reply
rep_body(const char *p, size_t n)
{
	struct milter_reply r;

	memset(&r, 0, sizeof(r));
	r.code = MILTER_R_REPLBODY;
	r.data = (const uint8_t *)p;
	r.data_len = n;
	return r;
}

static void
add_ok(struct milter_edits *e, struct milter_reply r)
{
	const char *why = NULL;

	if (milter_edits_add(e, &r, &why) != 0)
		fail_msg("add '%c': %s", r.code, why);
}

/* ---------------------------------------------------------------- */
/* The source                                                        */

static void
read_all_in(const struct milter_src *s, size_t step, struct buf *out)
{
	uint8_t tmp[64];
	uint64_t off = 0;
	ssize_t got;
	int i;

	buf_clear(out);
	for (i = 0; i < 100000; i++) {
		got = milter_src_read(s, off, tmp, step);
		assert_true(got >= 0 && (size_t)got <= step);
		if (got == 0)
			break;
		assert_int_equal(buf_append(out, tmp, (size_t)got), 0);
		off += (uint64_t)got;
	}
}

static void
test_src_read(void **state)
{
	static const char pre[] = "Authentication-Results: x; spf=pass\r\n";
	static const char msg[] = "Received: from a\r\nSubject: hi\r\n\r\nbody"
	                          "\r\n";
	static const size_t steps[] = { 1, 2, 3, 7, 13, 64 };
	struct tsrc t;
	struct buf out, want;
	uint8_t tmp[16];
	size_t i, j, k, off;
	int kind;

	(void)state;
	buf_init(&out, 4096);
	buf_init(&want, 4096);
	assert_int_equal(buf_append(&want, L(pre)), 0);
	assert_int_equal(buf_append(&want, L(msg)), 0);
	for (kind = 0; kind < 2; kind++) {
		/* With and without pre. */
		for (k = 0; k < 2; k++) {
			if (kind == 0)
				tsrc_mem(&t, k ? pre : NULL,
				    k ? sizeof(pre) - 1 : 0, L(msg));
			else
				tsrc_file(&t, k ? pre : NULL,
				    k ? sizeof(pre) - 1 : 0, L(msg));
			off = k ? 0 : sizeof(pre) - 1;
			assert_int_equal(milter_src_len(&t.s), want.len - off);
			for (j = 0; j < sizeof(steps) / sizeof(steps[0]); j++) {
				read_all_in(&t.s, steps[j], &out);
				assert_int_equal(out.len, want.len - off);
				assert_memory_equal(out.data, want.data + off,
				    out.len);
			}
			/* Every offset, across the pre/message boundary. */
			for (i = 0; i <= want.len - off; i++) {
				ssize_t got = milter_src_read(&t.s, i, tmp, 5);
				size_t w = want.len - off - i < 5
				               ? want.len - off - i
				               : 5;

				assert_int_equal(got, (ssize_t)w);
				assert_memory_equal(tmp, want.data + off + i,
				    w);
			}
			/* Past the end, and n == 0. */
			assert_int_equal(milter_src_read(&t.s, 100000, tmp, 5),
			    0);
			assert_int_equal(milter_src_read(&t.s, 0, tmp, 0), 0);
			tsrc_close(&t);
		}
	}
	buf_reset(&out);
	buf_reset(&want);
}

/* A file shorter than fd_len is EIO; a bad fd is pread's errno. */
static void
test_src_short_file(void **state)
{
	static const char msg[] = "Subject: hi\r\n\r\nbody\r\n";
	struct tsrc t;
	uint8_t tmp[64];

	(void)state;
	tsrc_file(&t, NULL, 0, L(msg));
	t.s.fd_len += 10;
	assert_int_equal(milter_src_read(&t.s, 0, tmp, 5), 5);
	assert_memory_equal(tmp, "Subje", 5);
	errno = 0;
	assert_int_equal(milter_src_read(&t.s, 0, tmp, sizeof(tmp)), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(milter_src_read(&t.s, sizeof(msg) - 1, tmp, 1), -1);
	assert_int_equal(errno, EIO);
	tsrc_close(&t);
	t.s.fd = -1;
	assert_int_equal(milter_src_read(&t.s, 0, tmp, 5), -1);
	assert_int_equal(errno, EBADF);
}

/* ---------------------------------------------------------------- */
/* The header                                                        */

struct hcase {
	const char *name;
	const char *msg;
	size_t max;
	size_t nfields;
	bool has_blank;
	size_t body_off;
	const char *names[4];
	const char *values[4];
};

static const struct hcase hcases[] = {
	{ "simple", "A: 1\r\nB: 2\r\n\r\nbody\r\n", 1000, 2, true, 14,
	    { "A", "B" }, { " 1", " 2" } },
	{ "folded", "Subject: a\r\n b\r\n\tc\r\nX:y\r\n\r\n", 1000, 2, true, 27,
	    { "Subject", "X" }, { " a\r\n b\r\n\tc", "y" } },
	{ "obs-blanks", "Subject \t : hi\r\n\r\n", 1000, 1, true, 18,
	    { "Subject" }, { " hi" } },
	{ "no-empty-line", "A: 1\r\nB: 2\r\n", 1000, 2, false, 12, { "A", "B" },
	    { " 1", " 2" } },
	{ "not-a-field", "A: 1\r\nnot a field\r\nB: 2\r\n\r\n", 1000, 1, false,
	    6, { "A" }, { " 1" } },
	{ "lone-lf", "A: 1\nB:\n 2\n\nbody", 1000, 2, true, 12, { "A", "B" },
	    { " 1", "\n 2" } },
	{ "max", "A: 1\r\nB: 2\r\n\r\nbody", 12, 2, true, 14, { "A", "B" },
	    { " 1", " 2" } },
	{ "max-1", "A: 1\r\nB: 2\r\n\r\nbody", 11, 1, false, 6, { "A" },
	    { " 1" } },
	{ "max-0", "A: 1\r\n\r\nbody", 0, 0, false, 0, { NULL }, { NULL } },
	{ "max-0-empty-header", "\r\nbody", 0, 0, true, 2, { NULL }, { NULL } },
	{ "folded-over-max", "A: 1\r\n 2\r\n\r\n", 6, 0, false, 0, { NULL },
	    { NULL } },
	{ "unterminated", "A: 1\r\nB: 2", 1000, 1, false, 6, { "A" },
	    { " 1" } },
	{ "unterminated-fold", "A: 1\r\nB: 2\r\n 3", 1000, 1, false, 6, { "A" },
	    { " 1" } },
	{ "empty", "", 1000, 0, false, 0, { NULL }, { NULL } },
	{ "only-blank", "\r\n", 1000, 0, true, 2, { NULL }, { NULL } },
	{ "leading-space", " A: 1\r\n\r\n", 1000, 0, false, 0, { NULL },
	    { NULL } },
	{ "empty-name", ":x\r\n\r\n", 1000, 0, false, 0, { NULL }, { NULL } },
	{ "bare-cr-line", "A: 1\r\n\rX\r\n", 1000, 1, false, 6, { "A" },
	    { " 1" } },
	{ "cr-at-end", "A: 1\r\n\r", 1000, 1, false, 6, { "A" }, { " 1" } },
	{ "8bit-name", "A: 1\r\nS\xc3\xa9: x\r\n\r\n", 1000, 1, false, 6,
	    { "A" }, { " 1" } },
	{ "empty-value", "A:\r\nB:\n\r\n", 1000, 2, true, 9, { "A", "B" },
	    { "", "" } },
	{ "last-field-at-eof", "A: 1\r\n", 1000, 1, false, 6, { "A" },
	    { " 1" } },
};

static void
check_header(const struct hcase *c, const struct milter_header *h,
    const char *src, const char *how)
{
	size_t i, pos = 0;
	const struct milter_field *f;

	if (h->n != c->nfields || h->has_blank != c->has_blank ||
	    h->body_off != c->body_off)
		fail_msg("%s %s: n %zu blank %d body_off %llu", c->name, how,
		    h->n, h->has_blank, (unsigned long long)h->body_off);
	for (i = 0; i < h->n; i++) {
		f = &h->f[i];
		if (f->off != pos)
			fail_msg("%s %s: field %zu at %zu", c->name, how, i,
			    f->off);
		pos += f->len;
		if (f->name_len != strlen(c->names[i]) ||
		    memcmp(h->data.data + f->off, c->names[i], f->name_len) !=
		        0)
			fail_msg("%s %s: name %zu", c->name, how, i);
		if (f->value_len != strlen(c->values[i]) ||
		    memcmp(h->data.data + f->value_off, c->values[i],
		        f->value_len) != 0)
			fail_msg("%s %s: value %zu '%.*s'", c->name, how, i,
			    (int)f->value_len,
			    (const char *)h->data.data + f->value_off);
	}
	/* data: the source's fields, nothing else. */
	assert_int_equal(h->data.len, pos);
	if (pos > 0)
		assert_memory_equal(h->data.data, src, pos);
}

static void
test_header_cases(void **state)
{
	struct milter_header h;
	const struct hcase *c;
	struct tsrc t;
	size_t i, k, n;
	char how[32];

	(void)state;
	for (i = 0; i < sizeof(hcases) / sizeof(hcases[0]); i++) {
		c = &hcases[i];
		n = strlen(c->msg);
		/* Every split between pre and the message, memory and file. */
		for (k = 0; k <= n; k++) {
			tsrc_mem(&t, c->msg, k, c->msg + k, n - k);
			snprintf(how, sizeof(how), "mem pre %zu", k);
			assert_int_equal(milter_header_read(&t.s, c->max, &h),
			    0);
			check_header(c, &h, c->msg, how);
			milter_header_free(&h);
			tsrc_file(&t, c->msg, k, c->msg + k, n - k);
			snprintf(how, sizeof(how), "file pre %zu", k);
			assert_int_equal(milter_header_read(&t.s, c->max, &h),
			    0);
			check_header(c, &h, c->msg, how);
			milter_header_free(&h);
			tsrc_close(&t);
		}
	}
}

/* A header bigger than a read, a 1 MB body never held. */
static void
test_header_big(void **state)
{
	struct milter_header h;
	struct buf m;
	struct tsrc t;
	size_t i, hlen;

	(void)state;
	buf_init(&m, 4 << 20);
	for (i = 0; i < 500; i++)
		assert_int_equal(buf_printf(&m,
		                     "X-Field-%03zu: value %zu\r\n"
		                     "\tcontinued\r\n",
		                     i, i),
		    0);
	hlen = m.len;
	assert_int_equal(buf_append(&m, L("\r\n")), 0);
	while (m.len < (1 << 20) + hlen)
		assert_int_equal(buf_append(&m, L("a line of the body\r\n")),
		    0);
	tsrc_file(&t, NULL, 0, (const char *)m.data, m.len);
	assert_int_equal(milter_header_read(&t.s, MILTER_HEADER_MAX, &h), 0);
	assert_int_equal(h.n, 500);
	assert_true(h.has_blank);
	assert_int_equal(h.body_off, hlen + 2);
	assert_int_equal(h.data.len, hlen);
	assert_true(h.data.cap < 128 * 1024); /* the body is not held */
	milter_header_free(&h);
	/* The same header with max one byte short of the last field. */
	assert_int_equal(milter_header_read(&t.s, hlen - 1, &h), 0);
	assert_int_equal(h.n, 499);
	assert_false(h.has_blank);
	assert_int_equal(h.body_off, h.f[498].off + h.f[498].len);
	milter_header_free(&h);
	tsrc_close(&t);
	buf_reset(&m);
}

static void
test_header_read_errors(void **state)
{
	static const char msg[] = "A: 1\r\nB: 2\r\n\r\n";
	struct milter_header h;
	struct tsrc t;

	(void)state;
	tsrc_file(&t, NULL, 0, L(msg));
	t.s.fd_len += 1;
	errno = 0;
	assert_int_equal(milter_header_read(&t.s, 1000, &h), -1);
	assert_int_equal(errno, EIO);
	milter_header_free(&h);
	/* With max 3 only max + 2 bytes are read: the shortness is unseen. */
	assert_int_equal(milter_header_read(&t.s, 3, &h), 0);
	assert_int_equal(h.n, 0);
	assert_int_equal(h.body_off, 0);
	milter_header_free(&h);
	tsrc_close(&t);
	t.s.fd = -1;
	assert_int_equal(milter_header_read(&t.s, 1000, &h), -1);
	assert_int_equal(errno, EBADF);
	milter_header_free(&h);
}

/* ---------------------------------------------------------------- */
/* Recording edits                                                   */

static void
test_edits_record(void **state)
{
	struct milter_edits e;
	struct milter_reply r;
	const char *why;

	(void)state;
	milter_edits_init(&e, 10);
	assert_false(milter_edits_any(&e));
	assert_false(milter_edits_rewrite(&e));

	add_ok(&e, rep(MILTER_R_ADDRCPT, 0, "<a@b>", NULL));
	add_ok(&e, rep(MILTER_R_ADDRCPT_PAR, 0, "c@d", "NOTIFY=NEVER"));
	add_ok(&e, rep(MILTER_R_DELRCPT, 0, "<x@y>", NULL));
	assert_true(milter_edits_any(&e));
	assert_false(milter_edits_rewrite(&e));
	assert_int_equal(e.nadd_rcpt, 2);
	assert_string_equal(e.add_rcpt[0].addr, "<a@b>");
	assert_string_equal(e.add_rcpt[0].params, "");
	assert_string_equal(e.add_rcpt[1].addr, "c@d");
	assert_string_equal(e.add_rcpt[1].params, "NOTIFY=NEVER");
	assert_int_equal(e.ndel_rcpt, 1);
	assert_string_equal(e.del_rcpt[0], "<x@y>");

	add_ok(&e, rep(MILTER_R_CHGFROM, 0, "<f@g>", ""));
	add_ok(&e, rep(MILTER_R_CHGFROM, 0, "<h@i>", "SIZE=1"));
	assert_true(e.chg_from);
	assert_string_equal(e.from.addr, "<h@i>");
	assert_string_equal(e.from.params, "SIZE=1");

	add_ok(&e, rep(MILTER_R_QUARANTINE, 0, "first", NULL));
	add_ok(&e, rep(MILTER_R_QUARANTINE, 0, "virus", NULL));
	assert_string_equal(e.quarantine, "virus");

	add_ok(&e, rep(MILTER_R_ADDHEADER, 0, "X-A", "1"));
	add_ok(&e, rep(MILTER_R_INSHEADER, 3, "X-I", "2"));
	add_ok(&e, rep(MILTER_R_CHGHEADER, 2, "X-C", ""));
	assert_true(milter_edits_rewrite(&e));
	assert_int_equal(e.nhdr, 3);
	assert_int_equal(e.hdr[0].op, MILTER_HDR_ADD);
	assert_int_equal(e.hdr[1].op, MILTER_HDR_INSERT);
	assert_int_equal(e.hdr[1].index, 3);
	assert_string_equal(e.hdr[1].name, "X-I");
	assert_string_equal(e.hdr[1].value, "2");
	assert_int_equal(e.hdr[2].op, MILTER_HDR_CHANGE);
	assert_string_equal(e.hdr[2].value, "");

	/* REPLBODY chunks join, up to body_max (10), one edit in all. */
	add_ok(&e, rep_body(L("hello")));
	add_ok(&e, rep_body(L("")));
	add_ok(&e, rep_body(L("world")));
	assert_true(e.body_replaced);
	assert_int_equal(e.body.len, 10);
	assert_memory_equal(e.body.data, "helloworld", 10);
	r = rep_body(L("!"));
	assert_int_equal(milter_edits_add(&e, &r, &why), -1);
	assert_string_equal(why, "replacement body too big");
	assert_int_equal(e.nedits, 11);

	/* Not an edit. */
	r = rep(MILTER_R_ACCEPT, 0, NULL, NULL);
	assert_int_equal(milter_edits_add(&e, &r, &why), -1);
	assert_string_equal(why, "not a modification reply");
	r = rep(MILTER_R_REPLYCODE, 0, "550 no", NULL);
	assert_int_equal(milter_edits_add(&e, &r, &why), -1);

	/* Clear forgets all and keeps body_max. */
	milter_edits_clear(&e);
	assert_false(milter_edits_any(&e));
	assert_int_equal(e.nedits, 0);
	assert_null(e.quarantine);
	add_ok(&e, rep_body(L("0123456789")));
	r = rep_body(L("x"));
	assert_int_equal(milter_edits_add(&e, &r, &why), -1);
	milter_edits_free(&e);
}

/* MILTER_EDITS_MAX: at max-1, max, max+1; a running body still grows. */
static void
test_edits_cap(void **state)
{
	struct milter_edits e;
	struct milter_reply r;
	const char *why;
	size_t i;

	(void)state;
	milter_edits_init(&e, 100);
	add_ok(&e, rep_body(L("a")));
	for (i = 1; i < MILTER_EDITS_MAX - 1; i++)
		add_ok(&e, rep(MILTER_R_DELRCPT, 0, "<x@y>", NULL));
	assert_int_equal(e.nedits, MILTER_EDITS_MAX - 1);
	add_ok(&e, rep(MILTER_R_ADDHEADER, 0, "X", "y"));
	assert_int_equal(e.nedits, MILTER_EDITS_MAX);
	r = rep(MILTER_R_ADDHEADER, 0, "X", "y");
	assert_int_equal(milter_edits_add(&e, &r, &why), -1);
	assert_string_equal(why, "too many modifications");
	add_ok(&e, rep_body(L("b")));
	assert_int_equal(e.body.len, 2);
	assert_int_equal(e.ndel_rcpt, MILTER_EDITS_MAX - 2);
	milter_edits_free(&e);
}

/*
 * MILTER_EDITS_BYTES_MAX: the strings of all edits, at max-1, max and
 * max+1; regression: 10000 edits of 64 KiB each were all held.
 */
static void
test_edits_bytes_cap(void **state)
{
	const size_t chunk = 60000;
	struct milter_edits e;
	struct milter_reply r;
	const char *why;
	char *v = malloc(chunk + 1);
	size_t left;

	(void)state;
	assert_non_null(v);
	memset(v, 'v', chunk);
	v[chunk] = '\0';
	milter_edits_init(&e, 100);
	/* "X" + value: 1 + len bytes each, until max - 1 is held. */
	for (left = MILTER_EDITS_BYTES_MAX - 1; left > chunk + 1;
	     left -= chunk + 1)
		add_ok(&e, rep(MILTER_R_ADDHEADER, 0, "X", v));
	v[left - 1] = '\0'; /* "X" + left - 1 bytes: max - 1 in all */
	add_ok(&e, rep(MILTER_R_ADDHEADER, 0, "X", v));
	assert_int_equal(e.nbytes, MILTER_EDITS_BYTES_MAX - 1);
	add_ok(&e, rep(MILTER_R_DELRCPT, 0, "a", NULL)); /* max */
	assert_int_equal(e.nbytes, MILTER_EDITS_BYTES_MAX);
	r = rep(MILTER_R_DELRCPT, 0, "b", NULL); /* max + 1 */
	assert_int_equal(milter_edits_add(&e, &r, &why), -1);
	assert_string_equal(why, "modifications too big");
	/* A replacement body is body_max's, not this cap's. */
	add_ok(&e, rep_body(L("body")));
	/* Clear: the count starts again. */
	milter_edits_clear(&e);
	assert_int_equal(e.nbytes, 0);
	add_ok(&e, rep(MILTER_R_DELRCPT, 0, "b", NULL));
	milter_edits_free(&e);
	free(v);
}

/* ---------------------------------------------------------------- */
/* Applying edits                                                    */

static const char base[] = "Received: r\r\n"
                           "A: 1\r\n"
                           "B: x\r\n"
                           "a: 2\r\n"
                           "A: 3\r\n"
                           "\r\n"
                           "body\r\n";

/* Apply e to pre+msg over memory and over a file: both must be want. */
static void
want_apply(const struct milter_edits *e, const char *pre, const char *msg,
    size_t max, const char *want)
{
	struct sink k;
	struct tsrc t;
	int kind;

	for (kind = 0; kind < 2; kind++) {
		if (kind == 0)
			tsrc_mem(&t, pre, pre ? strlen(pre) : 0, msg,
			    strlen(msg));
		else
			tsrc_file(&t, pre, pre ? strlen(pre) : 0, msg,
			    strlen(msg));
		sink_init(&k);
		assert_int_equal(milter_edit_apply(e, &t.s, max, sink_write,
		                     &k),
		    0);
		if (k.b.len != strlen(want) ||
		    memcmp(k.b.data, want, k.b.len) != 0)
			fail_msg("got [%s]\nwant [%s]",
			    k.b.data ? (char *)k.b.data : "", want);
		buf_reset(&k.b);
		tsrc_close(&t);
	}
}

/* One header edit on base. */
static void
want_one(struct milter_reply r, const char *want)
{
	struct milter_edits e;

	milter_edits_init(&e, 1000);
	add_ok(&e, r);
	want_apply(&e, NULL, base, MILTER_HEADER_MAX, want);
	milter_edits_free(&e);
}

static void
test_apply_none(void **state)
{
	struct milter_edits e;

	(void)state;
	milter_edits_init(&e, 1000);
	want_apply(&e, NULL, base, MILTER_HEADER_MAX, base);
	want_apply(&e, "Pre: p\r\n", base, MILTER_HEADER_MAX,
	    "Pre: p\r\n"
	    "Received: r\r\nA: 1\r\nB: x\r\na: 2\r\nA: 3\r\n"
	    "\r\nbody\r\n");
	/* Envelope edits do not change the message. */
	add_ok(&e, rep(MILTER_R_ADDRCPT, 0, "<a@b>", NULL));
	want_apply(&e, NULL, base, MILTER_HEADER_MAX, base);
	milter_edits_free(&e);
}

static void
test_apply_add(void **state)
{
	(void)state;
	want_one(rep(MILTER_R_ADDHEADER, 0, "X-Spam", "no"),
	    "Received: r\r\nA: 1\r\nB: x\r\na: 2\r\nA: 3\r\nX-Spam: no\r\n"
	    "\r\nbody\r\n");
	/* Folded value: every line break becomes CRLF. */
	want_one(rep(MILTER_R_ADDHEADER, 0, "X-F", "a\n b\r\n\tc\r d"),
	    "Received: r\r\nA: 1\r\nB: x\r\na: 2\r\nA: 3\r\n"
	    "X-F: a\r\n b\r\n\tc\r\n d\r\n\r\nbody\r\n");
	/* Breaks not before a blank (never decoded) cannot end the header. */
	want_one(rep(MILTER_R_ADDHEADER, 0, "X-B", "a\r\n\r\nb\nc\r"),
	    "Received: r\r\nA: 1\r\nB: x\r\na: 2\r\nA: 3\r\nX-B: a  b c\r\n"
	    "\r\nbody\r\n");
	want_one(rep(MILTER_R_ADDHEADER, 0, "X-E", ""),
	    "Received: r\r\nA: 1\r\nB: x\r\na: 2\r\nA: 3\r\nX-E: \r\n"
	    "\r\nbody\r\n");
}

static void
test_apply_change(void **state)
{
	(void)state;
	/* The 2nd of 3 fields called A, whatever their case. */
	want_one(rep(MILTER_R_CHGHEADER, 2, "A", "new"),
	    "Received: r\r\nA: 1\r\nB: x\r\nA: new\r\nA: 3\r\n\r\nbody\r\n");
	/* 0 is taken as 1. */
	want_one(rep(MILTER_R_CHGHEADER, 0, "a", "new"),
	    "Received: r\r\na: new\r\nB: x\r\na: 2\r\nA: 3\r\n\r\nbody\r\n");
	want_one(rep(MILTER_R_CHGHEADER, 3, "A", "three"),
	    "Received: r\r\nA: 1\r\nB: x\r\na: 2\r\nA: three\r\n\r\nbody\r\n");
	/* An empty value deletes. */
	want_one(rep(MILTER_R_CHGHEADER, 2, "A", ""),
	    "Received: r\r\nA: 1\r\nB: x\r\nA: 3\r\n\r\nbody\r\n");
	/* No such field: appended when not empty, else nothing. */
	want_one(rep(MILTER_R_CHGHEADER, 1, "X-New", "v"),
	    "Received: r\r\nA: 1\r\nB: x\r\na: 2\r\nA: 3\r\nX-New: v\r\n"
	    "\r\nbody\r\n");
	want_one(rep(MILTER_R_CHGHEADER, 4, "A", "v"),
	    "Received: r\r\nA: 1\r\nB: x\r\na: 2\r\nA: 3\r\nA: v\r\n"
	    "\r\nbody\r\n");
	want_one(rep(MILTER_R_CHGHEADER, 1, "X-New", ""), base);
	want_one(rep(MILTER_R_CHGHEADER, 4, "A", ""), base);
	/* A name is the whole name: "A" is not "A-B", "Rec" not "Received". */
	want_one(rep(MILTER_R_CHGHEADER, 1, "Rec", ""), base);
}

static void
test_apply_insert(void **state)
{
	(void)state;
	want_one(rep(MILTER_R_INSHEADER, 0, "T", "top"),
	    "T: top\r\nReceived: r\r\nA: 1\r\nB: x\r\na: 2\r\nA: 3\r\n"
	    "\r\nbody\r\n");
	want_one(rep(MILTER_R_INSHEADER, 2, "M", "mid"),
	    "Received: r\r\nA: 1\r\nM: mid\r\nB: x\r\na: 2\r\nA: 3\r\n"
	    "\r\nbody\r\n");
	want_one(rep(MILTER_R_INSHEADER, 5, "E", "end"),
	    "Received: r\r\nA: 1\r\nB: x\r\na: 2\r\nA: 3\r\nE: end\r\n"
	    "\r\nbody\r\n");
	want_one(rep(MILTER_R_INSHEADER, 4000000000u, "P", "past"),
	    "Received: r\r\nA: 1\r\nB: x\r\na: 2\r\nA: 3\r\nP: past\r\n"
	    "\r\nbody\r\n");
}

/* Later edits see what earlier ones did. */
static void
test_apply_sequence(void **state)
{
	struct milter_edits e;

	(void)state;
	milter_edits_init(&e, 1000);
	add_ok(&e, rep(MILTER_R_INSHEADER, 0, "A", "top")); /* A: top first */
	add_ok(&e, rep(MILTER_R_CHGHEADER, 2, "A", ""));    /* A: 1 goes */
	add_ok(&e, rep(MILTER_R_INSHEADER, 2, "M", "m"));   /* before B */
	add_ok(&e, rep(MILTER_R_CHGHEADER, 1, "M", "m2"));  /* the new one */
	add_ok(&e, rep(MILTER_R_ADDHEADER, 0, "A", "add"));
	add_ok(&e, rep(MILTER_R_CHGHEADER, 4, "A", "4th")); /* the added one */
	add_ok(&e, rep(MILTER_R_CHGHEADER, 1, "Received", ""));
	want_apply(&e, NULL, base, MILTER_HEADER_MAX,
	    "A: top\r\nM: m2\r\nB: x\r\na: 2\r\nA: 3\r\nA: 4th\r\n"
	    "\r\nbody\r\n");
	milter_edits_free(&e);
}

/* Pre's fields are fields: counted, changed, deleted. */
static void
test_apply_pre(void **state)
{
	static const char pre[] = "Authentication-Results: mx; spf=pass\r\n";
	static const char msg[] = "A: 1\r\n\r\nb\r\n";
	struct milter_edits e;

	(void)state;
	milter_edits_init(&e, 1000);
	add_ok(&e, rep(MILTER_R_CHGHEADER, 1, "authentication-results",
	               "mx; spf=fail"));
	add_ok(&e, rep(MILTER_R_INSHEADER, 1, "X", "after-pre"));
	want_apply(&e, pre, msg, MILTER_HEADER_MAX,
	    "authentication-results: mx; spf=fail\r\nX: after-pre\r\n"
	    "A: 1\r\n\r\nb\r\n");
	milter_edits_clear(&e);
	add_ok(&e, rep(MILTER_R_CHGHEADER, 0, "Authentication-Results", ""));
	want_apply(&e, pre, msg, MILTER_HEADER_MAX, "A: 1\r\n\r\nb\r\n");
	milter_edits_free(&e);
}

static void
test_apply_odd_messages(void **state)
{
	struct milter_edits e;

	(void)state;
	milter_edits_init(&e, 1000);
	add_ok(&e, rep(MILTER_R_ADDHEADER, 0, "X", "v"));
	/* No empty line, no body. */
	want_apply(&e, NULL, "A: 1\r\n", MILTER_HEADER_MAX, "A: 1\r\nX: v\r\n");
	want_apply(&e, NULL, "", MILTER_HEADER_MAX, "X: v\r\n");
	/* A header over max: its rest stays body, unchanged. */
	want_apply(&e, NULL, "A: 1\r\nB: 2\r\n\r\nbody\r\n", 6,
	    "A: 1\r\nX: v\r\nB: 2\r\n\r\nbody\r\n");
	/* Not a field: the rest is body. */
	want_apply(&e, NULL, "A: 1\r\nnot a field\r\n\r\nbody\r\n",
	    MILTER_HEADER_MAX, "A: 1\r\nX: v\r\nnot a field\r\n\r\nbody\r\n");
	/* A lone-LF message keeps its bytes; ours are CRLF. */
	want_apply(&e, NULL, "A: 1\nB: 2\n\nbody\n", MILTER_HEADER_MAX,
	    "A: 1\nB: 2\nX: v\r\n\nbody\n");
	milter_edits_free(&e);
}

static void
test_apply_body(void **state)
{
	struct milter_edits e;

	(void)state;
	milter_edits_init(&e, 1000);
	add_ok(&e, rep_body(L("new\nline\rx\r\n\r\r\nend\r")));
	want_apply(&e, NULL, "A: 1\r\n\r\nold\r\n", MILTER_HEADER_MAX,
	    "A: 1\r\n\r\nnew\r\nline\r\nx\r\n\r\n\r\nend\r\n");
	/* No empty line before: one is written. */
	want_apply(&e, NULL, "A: 1\r\n", MILTER_HEADER_MAX,
	    "A: 1\r\n\r\nnew\r\nline\r\nx\r\n\r\n\r\nend\r\n");
	milter_edits_clear(&e);
	add_ok(&e, rep_body(L("")));
	want_apply(&e, NULL, "A: 1\r\n\r\nold\r\n", MILTER_HEADER_MAX,
	    "A: 1\r\n\r\n");
	milter_edits_free(&e);
}

/* ---------------------------------------------------------------- */
/* 10 MB                                                             */

#define BIG (10u << 20)

/* The next pseudo-random line of the big messages, LF-ended. */
static size_t
big_line(char *p, size_t i)
{
	return (size_t)snprintf(p, 128, "line %zu of the body %s\n", i,
	    i % 7 == 0 ? "with a longer tail to vary lengths" : "");
}

static void
test_apply_10mb(void **state)
{
	static const char hdr[] = "Received: r\r\nSubject: big\r\n\r\n";
	struct milter_edits e;
	struct buf body, want, msg;
	struct milter_reply r;
	struct sink k;
	struct tsrc t;
	char line[128];
	size_t i, n, off;
	const char *why;

	(void)state;
	buf_init(&body, BIG + 256);
	buf_init(&want, 2 * BIG);
	buf_init(&msg, 2 * BIG);
	assert_int_equal(buf_append(&want, L("Received: r\r\nSubject: big\r\n"
	                                     "X-Scanned: yes\r\n\r\n")),
	    0);
	for (i = 0; body.len < BIG; i++) {
		n = big_line(line, i);
		assert_int_equal(buf_append(&body, line, n), 0);
		assert_int_equal(buf_append(&want, line, n - 1), 0);
		assert_int_equal(buf_append(&want, L("\r\n")), 0);
	}
	/* The original: 10 MB of CRLF lines, in a file. */
	assert_int_equal(buf_append(&msg, L(hdr)), 0);
	while (msg.len < BIG)
		assert_int_equal(buf_append(&msg, L("original body line\r\n")),
		    0);
	tsrc_file(&t, NULL, 0, (const char *)msg.data, msg.len);

	/* Replaced in REPLBODY-sized chunks, as a filter sends it. */
	milter_edits_init(&e, BIG + 256);
	add_ok(&e, rep(MILTER_R_ADDHEADER, 0, "X-Scanned", "yes"));
	for (off = 0; off < body.len; off += MILTER_CHUNK_MAX) {
		n = body.len - off < MILTER_CHUNK_MAX ? body.len - off
		                                      : MILTER_CHUNK_MAX;
		r = rep_body((const char *)body.data + off, n);
		if (milter_edits_add(&e, &r, &why) != 0)
			fail_msg("replbody: %s", why);
	}
	sink_init(&k);
	assert_int_equal(milter_edit_apply(&e, &t.s, MILTER_HEADER_MAX,
	                     sink_write, &k),
	    0);
	assert_int_equal(k.b.len, want.len);
	assert_memory_equal(k.b.data, want.data, want.len);
	assert_true(k.calls > 100); /* streamed, not one write */
	buf_reset(&k.b);

	/* Not replaced: the 10 MB body is copied byte for byte. */
	milter_edits_clear(&e);
	add_ok(&e, rep(MILTER_R_INSHEADER, 0, "X-Top", "1"));
	sink_init(&k);
	assert_int_equal(milter_edit_apply(&e, &t.s, MILTER_HEADER_MAX,
	                     sink_write, &k),
	    0);
	assert_int_equal(k.b.len, msg.len + 10);
	assert_memory_equal(k.b.data, "X-Top: 1\r\n", 10);
	assert_memory_equal(k.b.data + 10, msg.data, msg.len);
	buf_reset(&k.b);

	milter_edits_free(&e);
	tsrc_close(&t);
	buf_reset(&body);
	buf_reset(&want);
	buf_reset(&msg);
}

/* ---------------------------------------------------------------- */
/* Errors                                                            */

static void
test_apply_write_errors(void **state)
{
	struct milter_edits e;
	struct buf msg;
	struct sink k;
	struct tsrc t;
	int fail, calls;

	(void)state;
	buf_init(&msg, 1 << 20);
	assert_int_equal(buf_append(&msg, L("A: 1\r\n\r\n")), 0);
	while (msg.len < 300000)
		assert_int_equal(buf_append(&msg, L("body line\r\n")), 0);
	tsrc_file(&t, NULL, 0, (const char *)msg.data, msg.len);
	milter_edits_init(&e, 1000);
	add_ok(&e, rep(MILTER_R_ADDHEADER, 0, "X", "v"));
	sink_init(&k);
	assert_int_equal(milter_edit_apply(&e, &t.s, 1000, sink_write, &k), 0);
	calls = k.calls;
	assert_true(calls > 2);
	buf_reset(&k.b);
	/* The writer failing at each of its calls: -1 with its errno. */
	for (fail = 0; fail < calls; fail++) {
		sink_init(&k);
		k.fail_at = fail;
		errno = 0;
		assert_int_equal(milter_edit_apply(&e, &t.s, 1000, sink_write,
		                     &k),
		    -1);
		assert_int_equal(errno, ENOSPC);
		assert_int_equal(k.calls, fail + 1); /* stops at once */
		buf_reset(&k.b);
	}
	/* The reader: a short file in the body, a bad fd in the header. */
	t.s.fd_len += 100;
	sink_init(&k);
	assert_int_equal(milter_edit_apply(&e, &t.s, 1000, sink_write, &k), -1);
	assert_int_equal(errno, EIO);
	buf_reset(&k.b);
	tsrc_close(&t);
	t.s.fd = -1;
	sink_init(&k);
	assert_int_equal(milter_edit_apply(&e, &t.s, 1000, sink_write, &k), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(k.calls, 0);
	buf_reset(&k.b);
	milter_edits_free(&e);
	buf_reset(&msg);
}

/* Every allocation on each path fails once: -1, ENOMEM, no leak. */
static void
test_nomem(void **state)
{
	static const char msg[] = "A: 1\r\nB: 2\r\nC: 3\r\n\r\nbody\r\n";
	struct milter_reply rs[9];
	struct milter_edits e;
	struct milter_header h;
	struct sink k;
	struct tsrc t;
	unsigned long fail;
	const char *why;
	size_t i;
	int ret;

	(void)state;
	rs[0] = rep(MILTER_R_ADDHEADER, 0, "X", "v");
	rs[1] = rep(MILTER_R_INSHEADER, 1, "Y", "w");
	rs[2] = rep(MILTER_R_CHGHEADER, 1, "A", "z");
	rs[3] = rep(MILTER_R_ADDRCPT, 0, "<a@b>", NULL);
	rs[4] = rep(MILTER_R_ADDRCPT_PAR, 0, "<a@b>", "X=1");
	rs[5] = rep(MILTER_R_DELRCPT, 0, "<a@b>", NULL);
	rs[6] = rep(MILTER_R_CHGFROM, 0, "<a@b>", "");
	rs[7] = rep(MILTER_R_QUARANTINE, 0, "why", NULL);
	rs[8] = rep_body(L("new body"));
	/* To fresh edits, and to edits whose arrays were grown once. */
	for (i = 0; i < 18; i++) {
		for (fail = 0;; fail++) {
			milter_edits_init(&e, 1000);
			if (i >= 9)
				add_ok(&e, rs[i - 9]);
			failalloc_arm(fail);
			why = NULL;
			ret = milter_edits_add(&e, &rs[i % 9], &why);
			if (!failalloc_disarm()) {
				assert_int_equal(ret, 0);
				milter_edits_free(&e);
				break;
			}
			assert_int_equal(ret, -1);
			assert_string_equal(why, "out of memory");
			milter_edits_free(&e);
		}
	}
	tsrc_mem(&t, "P: 1\r\n", 6, L(msg));
	for (fail = 0;; fail++) {
		failalloc_arm(fail);
		ret = milter_header_read(&t.s, 1000, &h);
		if (!failalloc_disarm()) {
			assert_int_equal(ret, 0);
			assert_int_equal(h.n, 4);
			milter_header_free(&h);
			break;
		}
		assert_int_equal(ret, -1);
		assert_int_equal(errno, ENOMEM);
		milter_header_free(&h);
	}
	milter_edits_init(&e, 1000);
	for (i = 0; i < 9; i++)
		add_ok(&e, rs[i]);
	for (fail = 0;; fail++) {
		sink_init(&k);
		failalloc_arm(fail);
		ret = milter_edit_apply(&e, &t.s, 1000, sink_write, &k);
		if (!failalloc_disarm()) {
			assert_int_equal(ret, 0);
			buf_reset(&k.b);
			break;
		}
		assert_int_equal(ret, -1);
		assert_int_equal(errno, ENOMEM);
		buf_reset(&k.b);
	}
	milter_edits_free(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_src_read),
		cmocka_unit_test(test_src_short_file),
		cmocka_unit_test(test_header_cases),
		cmocka_unit_test(test_header_big),
		cmocka_unit_test(test_header_read_errors),
		cmocka_unit_test(test_edits_record),
		cmocka_unit_test(test_edits_cap),
		cmocka_unit_test(test_edits_bytes_cap),
		cmocka_unit_test(test_apply_none),
		cmocka_unit_test(test_apply_add),
		cmocka_unit_test(test_apply_change),
		cmocka_unit_test(test_apply_insert),
		cmocka_unit_test(test_apply_sequence),
		cmocka_unit_test(test_apply_pre),
		cmocka_unit_test(test_apply_odd_messages),
		cmocka_unit_test(test_apply_body),
		cmocka_unit_test(test_apply_10mb),
		cmocka_unit_test(test_apply_write_errors),
		cmocka_unit_test(test_nomem),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
