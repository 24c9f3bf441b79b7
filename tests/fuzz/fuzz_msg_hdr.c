/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for msg/hdr.c and msg/received.c: the scanner must
 * give the same answer for any split; the Received: field built from
 * hostile strings must be well-formed (CRLF line ends, folded lines
 * start with TAB, no other controls).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg/field.h"
#include "msg/hdr.h"
#include "msg/received.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

static void
check_received(const uint8_t *p, size_t n)
{
	char s[4][128];
	struct msg_received r = { 0 };
	struct buf b;
	size_t i, k, len, col = 0;

	/* Four NUL-terminated strings from the input. */
	for (k = 0; k < 4; k++) {
		len = n < sizeof(s[k]) - 1 ? n : sizeof(s[k]) - 1;
		memcpy(s[k], p, len);
		s[k][len] = '\0';
		p += len;
		n -= len;
	}
	r.helo = s[0];
	r.client_name = s[1][0] ? s[1] : NULL;
	r.client_addr = s[2];
	r.by = "mx.example";
	r.with = "ESMTPS";
	r.id = "q1";
	r.for_addr = s[3];
	r.tls = s[1];
	r.auth_user = s[2][0] ? s[2] : NULL;
	r.when = 0;
	buf_init(&b, 8192);
	if (msg_received_format(&r, &b) != 0)
		abort();
	for (i = 0; i < b.len; i++) {
		if (b.data[i] == '\r') {
			if (i + 1 >= b.len || b.data[i + 1] != '\n')
				abort();
			i++;
			if (i + 1 < b.len && b.data[i + 1] != '\t')
				abort();
			col = 0;
			continue;
		}
		if (b.data[i] == '\n' ||
		    (b.data[i] < 0x20 && b.data[i] != '\t'))
			abort();
		col++;
	}
	if (col != 0 || b.len < 2)
		abort();
	buf_reset(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	struct msg_hdr_scan whole, split;
	size_t off, piece;
	uint32_t seed = 1;

	msg_hdr_scan_init(&whole);
	msg_hdr_scan_feed(&whole, p, n);
	msg_hdr_scan_init(&split);
	for (off = 0; off < n; off += piece) {
		seed = seed * 1103515245u + (n > 0 ? p[0] : 0) + 12345u;
		piece = 1 + (seed >> 16) % 9;
		if (piece > n - off)
			piece = n - off;
		msg_hdr_scan_feed(&split, p + off, piece);
	}
	if (whole.received != split.received ||
	    whole.has_date != split.has_date ||
	    whole.has_message_id != split.has_message_id ||
	    whole.has_from != split.has_from ||
	    whole.in_body != split.in_body ||
	    whole.header_bytes != split.header_bytes || whole.st != split.st)
		abort();
	if (whole.header_bytes > n || whole.received > n / 9 + 1)
		abort();
	/* RFC 8689 4: a yes needs the field in the input, at least
	 * "TLS-Required:No". */
	if (msg_tls_required_no((const char *)p, n) &&
	    n < sizeof("TLS-Required:No") - 1)
		abort();
	check_received(p, n);
	return 0;
}
