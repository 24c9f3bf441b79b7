/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for auth/authres.c. The input drives authres_write():
 * bytes pick methods, results and property names from fixed lists, and
 * NUL-separated pieces of the input become values, reasons and comments.
 * The field written must be printable ASCII in CRLF-ended lines of at
 * most 998 bytes, continuations starting with SP, and authres_claims_id()
 * must recognize it. authres_claims_id() also runs on the raw input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/authres.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

#define ID "mx.example.org"
#define HDR "Authentication-Results:"

static const char *methods[] = { "spf", "dkim", "dmarc", "arc", "iprev" };
static const char *results[] = { "pass", "fail", "none", "softfail", "neutral",
	"temperror", "permerror", "policy" };
static const char *ptypes[] = { "smtp", "header", "policy", "body" };
static const char *props[] = { "mailfrom", "helo", "d", "s", "b", "i", "a",
	"from", "dmarc", "remote-ip" };

#define PICK(a, b) (a)[(b) % (sizeof(a) / sizeof((a)[0]))]

struct cursor {
	const uint8_t *p;
	size_t n;
	char *strs[64];
	size_t nstr;
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

/* The next NUL-terminated piece (copied), or NULL when b says so. */
static const char *
text(struct cursor *c)
{
	const uint8_t *end;
	size_t len;
	char *s;

	if ((byte(c) & 3) == 0 || c->nstr >= 64)
		return NULL;
	end = memchr(c->p, 0, c->n);
	len = end != NULL ? (size_t)(end - c->p) : c->n;
	if ((s = malloc(len + 1)) == NULL)
		abort();
	memcpy(s, c->p, len);
	s[len] = 0;
	c->p += len;
	c->n -= len;
	if (c->n > 0) {
		c->p++;
		c->n--;
	}
	return c->strs[c->nstr++] = s;
}

static void
check_field(const struct buf *b)
{
	size_t i, start = 0;

	if (b->len < sizeof(HDR) || memcmp(b->data, HDR, sizeof(HDR) - 1))
		abort();
	for (i = 0; i < b->len; i++) {
		uint8_t c = b->data[i];

		if (c == '\r') {
			if (i + 1 >= b->len || b->data[i + 1] != '\n')
				abort();
			if (i - start > AUTHRES_LINE_HARD_MAX)
				abort();
			i++;
			start = i + 1;
			if (start < b->len && b->data[start] != ' ')
				abort();
			continue;
		}
		if (c < 0x20 || c > 0x7e)
			abort();
	}
	if (start != b->len)
		abort(); /* the last line ends in CRLF */
	if (!authres_claims_id((const char *)b->data + sizeof(HDR) - 1,
	        b->len - (sizeof(HDR) - 1), ID))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	struct authres_result r[4];
	struct cursor c = { p, n, { 0 }, 0 };
	struct buf b;
	size_t nr, i, k;

	(void)authres_claims_id((const char *)p, n, ID);
	memset(r, 0, sizeof(r));
	nr = byte(&c) % 5;
	for (i = 0; i < nr; i++) {
		r[i].method = PICK(methods, byte(&c));
		r[i].result = PICK(results, byte(&c));
		r[i].reason = text(&c);
		r[i].comment = text(&c);
		r[i].n_props = byte(&c) % (AUTHRES_PROPS_MAX + 1);
		for (k = 0; k < r[i].n_props; k++) {
			r[i].props[k].ptype = PICK(ptypes, byte(&c));
			r[i].props[k].prop = PICK(props, byte(&c));
			r[i].props[k].value = text(&c);
		}
	}
	buf_init(&b, 1 << 20);
	if (authres_write(&b, ID, r, nr) != 0)
		abort(); /* valid keywords and a big buffer: must succeed */
	check_field(&b);
	buf_reset(&b);
	for (i = 0; i < c.nstr; i++)
		free(c.strs[i]);
	return 0;
}
