/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for milter/edit.c: a message and a filter's edits
 * are read from the input, the header is split and the edits applied.
 *
 * Input: byte 0 picks the header cap, byte 1 how much of the message
 * is pre, byte 2 the number of edits (up to 31); then each edit as
 * code, index, name length, value length (each one byte) and the name
 * and value bytes; the rest is the message. Names are mapped to RFC
 * 5322 ftext and values lose their NULs, as the decoder guarantees.
 * Checked: the header is the source's prefix, split into contiguous
 * fields with sane offsets; without edits the output is the input;
 * with header edits only, it ends with the source's bytes after the
 * fields (never shorter than the body), and split again it has the
 * same body; a replaced body is written with no bare CR or LF and
 * after an empty line; nothing leaks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "milter/edit.h"
#include "milter/proto.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

static const char codes[] = { MILTER_R_ADDHEADER, MILTER_R_INSHEADER,
	MILTER_R_CHGHEADER, MILTER_R_ADDRCPT, MILTER_R_ADDRCPT_PAR,
	MILTER_R_DELRCPT, MILTER_R_CHGFROM, MILTER_R_REPLBODY,
	MILTER_R_QUARANTINE, MILTER_R_ACCEPT };

static int
collect(void *arg, const void *p, size_t n)
{
	return buf_append(arg, p, n);
}

static void
check_header(const struct milter_header *h, const uint8_t *msg, size_t len,
    size_t max)
{
	const struct milter_field *f;
	size_t i, pos = 0;

	if (h->data.len > max || h->data.len > len ||
	    (h->data.len > 0 && memcmp(h->data.data, msg, h->data.len) != 0))
		abort();
	if (h->body_off < h->data.len || h->body_off > len ||
	    h->body_off > h->data.len + 2)
		abort();
	if (h->has_blank != (h->body_off > h->data.len))
		abort();
	if (h->has_blank && msg[h->body_off - 1] != '\n')
		abort();
	for (i = 0; i < h->n; i++) {
		f = &h->f[i];
		if (f->off != pos || f->len < 3 || f->name_len == 0 ||
		    f->value_off <= f->off + f->name_len ||
		    f->value_off + f->value_len >= f->off + f->len ||
		    msg[f->value_off - 1] != ':' ||
		    msg[f->off + f->len - 1] != '\n')
			abort();
		pos += f->len;
	}
	if (pos != h->data.len)
		abort();
}

/* One edit from the input into e; false when the input ran out. */
static bool
take_edit(const uint8_t **pp, size_t *np, struct milter_edits *e)
{
	const uint8_t *p = *pp;
	struct milter_reply r;
	char name[16], value[32];
	size_t raw, nl, vl, i;
	const char *why;

	if (*np < 4)
		return false;
	raw = nl = p[2] % sizeof(name);
	vl = p[3] % sizeof(value);
	if (*np - 4 < raw + vl)
		return false;
	memset(&r, 0, sizeof(r));
	r.code = codes[p[0] % sizeof(codes)];
	r.index = p[1] >= 250 ? UINT32_MAX - (p[1] - 250) : p[1] % 8;
	for (i = 0; i < nl; i++) {
		name[i] = (char)(33 + p[4 + i] % 94);
		if (name[i] == ':')
			name[i] = 'x';
	}
	if (nl == 0)
		name[nl++] = 'X';
	name[nl] = '\0';
	for (i = 0; i < vl; i++)
		value[i] = p[4 + raw + i] == 0 ? ' ' : (char)p[4 + raw + i];
	value[vl] = '\0';
	r.s1 = name;
	r.s1_len = nl;
	r.s2 = value;
	r.s2_len = vl;
	r.data = (const uint8_t *)value;
	r.data_len = vl;
	(void)milter_edits_add(e, &r, &why);
	*pp = p + 4 + raw + vl;
	*np -= 4 + raw + vl;
	return true;
}

static void
check_output(const struct milter_edits *e, const struct milter_header *h,
    const uint8_t *msg, size_t len, const struct buf *out,
    const struct milter_header *reread)
{
	size_t rest = len - h->data.len, i, start;

	if (e->nhdr == 0 && !e->body_replaced) {
		if (out->len != len ||
		    (len > 0 && memcmp(out->data, msg, len) != 0))
			abort();
		return;
	}
	if (!e->body_replaced) {
		/* No edit ends the header early or moves the body. */
		if (h->has_blank &&
		    (!reread->has_blank ||
		        out->len - reread->body_off != len - h->body_off))
			abort();
		if (out->len < rest ||
		    (rest > 0 && memcmp(out->data + out->len - rest,
		                     msg + h->data.len, rest) != 0))
			abort();
		return;
	}
	/* The replacement: at least its bytes, every CR before LF. */
	if (!reread->has_blank || out->len - reread->body_off < e->body.len)
		abort();
	if (out->len < e->body.len + 2)
		abort();
	start = out->len - e->body.len;
	for (i = start; i < out->len; i++)
		if ((out->data[i] == '\r' &&
		        (i + 1 == out->len || out->data[i + 1] != '\n')) ||
		    (out->data[i] == '\n' &&
		        (i == 0 || out->data[i - 1] != '\r')))
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	struct milter_edits e;
	struct milter_header h, h2;
	struct milter_src src;
	struct buf out;
	size_t max, pre, nedits, i;

	if (n < 3)
		return 0;
	max = p[0] == 0xff ? MILTER_HEADER_MAX : p[0];
	pre = p[1];
	nedits = p[2] % 32;
	p += 3;
	n -= 3;
	milter_edits_init(&e, 64);
	for (i = 0; i < nedits && take_edit(&p, &n, &e); i++)
		;
	if (pre > n)
		pre = n;
	memset(&src, 0, sizeof(src));
	src.pre = p;
	src.pre_len = pre;
	src.mem = p + pre;
	src.mem_len = n - pre;
	src.fd = -1;
	if (milter_header_read(&src, max, &h) != 0)
		abort();
	check_header(&h, p, n, max);
	buf_init(&out, (size_t)1 << 24);
	if (milter_edit_apply(&e, &src, max, collect, &out) != 0)
		abort();
	/* The output's own header, split again without a cap. */
	memset(&src, 0, sizeof(src));
	src.mem = out.data != NULL ? out.data : (const uint8_t *)"";
	src.mem_len = out.len;
	src.fd = -1;
	if (milter_header_read(&src, MILTER_HEADER_MAX, &h2) != 0)
		abort();
	check_output(&e, &h, p, n, &out, &h2);
	milter_header_free(&h2);
	buf_reset(&out);
	milter_header_free(&h);
	milter_edits_free(&e);
	return 0;
}
