/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for msg/qualify.c. Checks (abort): the output is the
 * input's header with only "@example.test" inserted (removing the
 * insertions gives the input back, and their count is the return value),
 * each insertion follows a word character and is not followed by '@',
 * *used_out is the header scanner's, no line grows past 998 bytes, and
 * a too-small buffer is -1 (never a cut header).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg/hdr.h"
#include "msg/qualify.h"
#include "util/buf.h"

#define DOMAIN "example.test"
#define DOM "@" DOMAIN

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

/* Longest line of b[0..n) (bytes before LF, CR not counted). */
static size_t
longest(const uint8_t *b, size_t n)
{
	size_t i, col = 0, max = 0;

	for (i = 0; i < n; i++) {
		if (b[i] == '\n')
			col = 0;
		else if (b[i] != '\r' && ++col > max)
			max = col;
	}
	return max;
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	const size_t dl = strlen(DOM);
	struct msg_hdr_scan hs;
	struct buf out;
	size_t used, i = 0, j = 0, found = 0;
	int count;

	buf_init(&out, n * 16 + 4096);
	count = msg_qualify_header(p, n, DOMAIN, &out, &used);
	if (count < 0)
		abort(); /* the buffer was big enough */
	msg_hdr_scan_init(&hs);
	msg_hdr_scan_feed(&hs, p, n);
	if (used != hs.header_bytes || used > n)
		abort();
	/* Align: the input, plus insertions of DOM. */
	while (i < used || j < out.len) {
		if (i < used && j < out.len && p[i] == out.data[j]) {
			i++;
			j++;
			continue;
		}
		if (j + dl > out.len || memcmp(out.data + j, DOM, dl) != 0)
			abort();
		if (i == 0 || p[i - 1] == '@' || (i < used && p[i] == '@'))
			abort();
		j += dl;
		found++;
	}
	if (found != (size_t)count)
		abort();
	if (count > 0 && longest(out.data, out.len) > 998 &&
	    longest(out.data, out.len) > longest(p, used))
		abort();
	/* One byte short of what it needs: -1, not a cut copy. */
	if (out.len > 0) {
		struct buf small;

		buf_init(&small, out.len - 1);
		if (msg_qualify_header(p, n, DOMAIN, &small, &used) != -1)
			abort();
		buf_reset(&small);
	}
	buf_reset(&out);
	return 0;
}
