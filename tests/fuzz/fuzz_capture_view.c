/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for capture/view.c and capture/body.c on a whole
 * message: walk every header field, list the parts and decode each, take the
 * text and HTML parts. Checks: the walk ends within the header and always moves
 * forward; outputs stay within their bufs' caps.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/body.h"
#include "capture/view.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	static struct cap_part_info parts[CAP_PARTS_MAX];
	const char *msg = (const char *)p, *name;
	size_t pos = 0, last, nlen, np, i, hl = cap_view_header_len(msg, n);
	struct buf v, d;

	buf_init(&v, 4096);
	buf_init(&d, 8192);
	for (;;) {
		last = pos;
		if (!cap_view_next_field(msg, n, &pos, &name, &nlen, &v))
			break;
		if (pos <= last || pos > hl || v.len > v.max || name < msg ||
		    name + nlen > msg + n)
			abort();
	}
	np = cap_body_parts(msg, n, parts, CAP_PARTS_MAX);
	for (i = 0; i < np; i++) {
		struct cap_part_info info;

		buf_clear(&d);
		if (!cap_body_part(msg, n, parts[i].index, &info, &d) ||
		    memchr(info.filename, '\0', sizeof(info.filename)) == NULL)
			abort();
	}
	buf_clear(&d);
	(void)cap_body_first(msg, n, "text/plain", &d);
	buf_clear(&d);
	(void)cap_body_first(msg, n, "text/html", &d);
	buf_reset(&v);
	buf_reset(&d);
	return 0;
}
