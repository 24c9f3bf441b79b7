/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for smtp/data.c. The first byte picks the mode and a
 * seed for how the rest is split. The split result must equal the
 * whole-input result; decoded bytes never exceed consumed ones; and DOT
 * mode ends only right after CRLF "." CRLF (the DATA command's CRLF
 * counts as the one before the first line).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

struct result {
	enum smtp_data_status st;
	size_t used;
	unsigned flags;
	uint64_t size;
};

static void
run(struct smtp_data *d, enum smtp_data_mode mode, const uint8_t *p, size_t n,
    uint32_t seed, struct buf *out, struct result *r)
{
	size_t off = 0, piece, used;

	memset(r, 0, sizeof(*r)); /* padding too: results are memcmp'd */
	smtp_data_start(d, mode);
	buf_clear(out);
	r->st = SMTP_DATA_NEED_MORE;
	while (off < n) {
		piece = n - off;
		if (seed != 0) {
			seed = seed * 1103515245u + 12345u;
			piece = 1 + (seed >> 16) % 17;
			if (piece > n - off)
				piece = n - off;
		}
		r->st = smtp_data_parse(d, p + off, piece, &used, out);
		if (used > piece)
			abort();
		off += used;
		if (r->st == SMTP_DATA_END)
			break;
		if (used != piece)
			abort();
	}
	if (mode == SMTP_DATA_CHUNK) {
		if (r->st != SMTP_DATA_NEED_MORE)
			abort();
		smtp_data_finish(d);
	}
	r->used = off;
	r->flags = smtp_data_flags(d);
	r->size = smtp_data_size(d);
	if (r->size != out->len || r->size > off)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	struct smtp_data_limits lim = { SMTP_DATA_LINE_MAX };
	enum smtp_data_mode mode;
	struct result whole, split;
	struct smtp_data *d;
	struct buf a, b;
	uint32_t seed;

	if (n < 1)
		return 0;
	mode = (p[0] & 1) ? SMTP_DATA_CHUNK : SMTP_DATA_DOT;
	seed = p[0] | 1u;
	if (p[0] & 2)
		lim.line_max = 3 + (p[0] >> 2); /* small limits too */
	p++;
	n--;
	if ((d = smtp_data_new(&lim)) == NULL)
		abort();
	buf_init(&a, n + 8);
	buf_init(&b, n + 8);
	run(d, mode, p, n, 0, &a, &whole);
	run(d, mode, p, n, seed, &b, &split);
	if (memcmp(&whole, &split, sizeof(whole)) != 0 || a.len != b.len ||
	    (a.len > 0 && memcmp(a.data, b.data, a.len) != 0))
		abort();
	if (whole.st == SMTP_DATA_END) {
		/* "\r\n" + input ends with "\r\n.\r\n" at whole.used. */
		if (whole.used < 3 ||
		    memcmp(p + whole.used - 3, ".\r\n", 3) != 0)
			abort();
		if (whole.used > 3 &&
		    (whole.used < 5 ||
		        memcmp(p + whole.used - 5, "\r\n", 2) != 0))
			abort();
	} else if (mode == SMTP_DATA_DOT &&
	           ((n >= 3 && memcmp(p, ".\r\n", 3) == 0) ||
	               memmem(p, n, "\r\n.\r\n", 5) != NULL))
		abort(); /* an end marker was missed */
	buf_reset(&a);
	buf_reset(&b);
	smtp_data_free(d);
	return 0;
}
