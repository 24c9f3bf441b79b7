/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for smtp/reply.c: the first byte picks line_max, the
 * rest is a server's byte stream. Every reply is checked against the
 * limits and its EHLO keywords are parsed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	struct smtp_reply_limits lim;
	const struct smtp_reply *r;
	enum smtp_reply_status st;
	struct smtp_reply_parser *rp;
	struct smtp_ehlo e;
	char esc[16];
	size_t used;

	if (n < 1)
		return 0;
	lim.line_max = p[0] < 5 ? SMTP_REPLY_LINE_MAX : (size_t)p[0];
	lim.lines_max = (p[0] & 7) + 1;
	lim.text_max = (size_t)p[0] * 2 + 1;
	p++;
	n--;
	if ((rp = smtp_reply_new(&lim)) == NULL)
		abort();
	while (n > 0) {
		st = smtp_reply_parse(rp, p, n, &used, &r);
		if (used == 0 || used > n) /* must always make progress */
			abort();
		if ((st == SMTP_REPLY_DONE) != (r != NULL))
			abort();
		if (r != NULL) {
			if (r->code < 200 || r->code > 559 ||
			    r->nlines > lim.lines_max ||
			    r->text_len >= lim.text_max ||
			    r->text[r->text_len] != '\0' ||
			    strlen(r->text) != r->text_len)
				abort();
			smtp_reply_esc(r, esc, sizeof(esc));
			smtp_ehlo_parse(r->text, r->text_len, &e);
		}
		p += used;
		n -= used;
	}
	smtp_reply_free(rp);
	return 0;
}
