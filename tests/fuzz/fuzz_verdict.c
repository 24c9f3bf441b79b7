/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for auth/verdict.c. The input fills one message's
 * verdicts: bytes pick the results, policies and [authentication]
 * settings, NUL-separated pieces become the hostile texts (domains,
 * reasons, the SPF explanation, HELO, MAIL FROM). The field written must
 * be printable ASCII in CRLF-ended lines of at most 998 bytes (or the
 * write refused); a refusal reply must be printable, start with 4xx or
 * 5xx and fit its buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/verdict.h"
#include "util/str.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

#define SIGS 6

struct cursor {
	const uint8_t *p;
	size_t n;
};

static uint8_t
byte(struct cursor *c)
{
	uint8_t b = 0;

	if (c->n > 0) {
		b = *c->p++;
		c->n--;
	}
	return b;
}

/* The next NUL-terminated piece into dst[sz], cut to fit. */
static void
text(struct cursor *c, char *dst, size_t sz)
{
	const uint8_t *end = memchr(c->p, 0, c->n);
	size_t len = end != NULL ? (size_t)(end - c->p) : c->n;
	size_t k = len < sz - 1 ? len : sz - 1;

	memcpy(dst, c->p, k);
	dst[k] = '\0';
	c->p += len;
	c->n -= len;
	if (c->n > 0) {
		c->p++;
		c->n--;
	}
}

static void
check_field(const struct buf *b)
{
	size_t i, start = 0;

	if (b->len < 2 || b->data[b->len - 2] != '\r' ||
	    b->data[b->len - 1] != '\n')
		abort();
	for (i = 0; i < b->len; i++) {
		if (b->data[i] == '\r') {
			if (i + 1 >= b->len || b->data[i + 1] != '\n')
				abort();
			if (i - start > AUTHRES_LINE_HARD_MAX)
				abort();
			start = i + 2;
			i++;
			continue;
		}
		if (b->data[i] < 0x20 || b->data[i] > 0x7e)
			abort();
	}
}

static void
check_reply(const char *r, size_t sz)
{
	size_t len = strnlen(r, sz);

	if (len == sz || len < 3 || (r[0] != '4' && r[0] != '5'))
		abort();
	for (; *r != '\0'; r++)
		if ((unsigned char)*r < 0x20 || (unsigned char)*r > 0x7e)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct spf_verdict sm, sh;
	static struct dkim_result dk[SIGS];
	static struct dmarc_verdict dm;
	char helo[256], from[512], reply[VERDICT_REPLY_MAX];
	struct cursor c = { data, size };
	struct verdict v;
	struct conf_auth ca;
	struct buf out;
	uint8_t flags = byte(&c);
	size_t i;

	memset(&v, 0, sizeof(v));
	memset(&ca, 0, sizeof(ca));
	sm.result = (enum spf_result)(byte(&c) % 7);
	sh.result = (enum spf_result)(byte(&c) % 7);
	text(&c, sm.domain, sizeof(sm.domain));
	text(&c, sm.reason, sizeof(sm.reason));
	text(&c, sm.explanation, sizeof(sm.explanation));
	text(&c, sh.domain, sizeof(sh.domain));
	text(&c, sh.reason, sizeof(sh.reason));
	text(&c, helo, sizeof(helo));
	text(&c, from, sizeof(from));
	v.ndkim = byte(&c) % (SIGS + 1);
	for (i = 0; i < v.ndkim; i++) {
		dk[i].result = (enum dkim_res)(byte(&c) % 7);
		text(&c, dk[i].domain, sizeof(dk[i].domain));
		text(&c, dk[i].selector, sizeof(dk[i].selector));
		text(&c, dk[i].reason, sizeof(dk[i].reason));
		(void)strlcpy(dk[i].algorithm, "rsa-sha256",
		    sizeof(dk[i].algorithm));
		text(&c, dk[i].bprefix, sizeof(dk[i].bprefix));
	}
	dm.result = (enum dmarc_result)(byte(&c) % 5);
	dm.policy = (enum dmarc_policy)(byte(&c) % 3);
	dm.published = (enum dmarc_policy)(byte(&c) % 3);
	text(&c, dm.from_domain, sizeof(dm.from_domain));
	text(&c, dm.reason, sizeof(dm.reason));
	v.spf_mail = (flags & 1) ? &sm : NULL;
	v.spf_helo = (flags & 2) ? &sh : NULL;
	v.helo = helo;
	v.mailfrom = from;
	v.dkim = dk;
	v.dmarc = &dm;
	buf_init(&out, 64 * 1024);
	if (verdict_authres_write(&out, "mx.example.org", &v) == 0)
		check_field(&out);
	buf_reset(&out);
	ca.dmarc_policy = (enum conf_dmarc_action)((flags >> 2) % 3);
	ca.dmarc_temperror = (enum conf_temperror)((flags >> 4) & 1);
	ca.spf_fail = (enum conf_spf_fail)((flags >> 5) & 1);
	ca.spf_temperror = (enum conf_temperror)((flags >> 6) & 1);
	reply[0] = '\0';
	if (verdict_dmarc_action(&dm, &ca, reply, sizeof(reply)) ==
	    VERDICT_REFUSE)
		check_reply(reply, sizeof(reply));
	reply[0] = '\0';
	if (verdict_spf_refusal(&sm, &ca, reply, sizeof(reply)))
		check_reply(reply, sizeof(reply));
	return 0;
}
