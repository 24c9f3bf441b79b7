/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for msg/mimetree.c: any input parses (or fails only
 * for memory), every part's offsets lie within the input and nest in
 * their parent's body, the caps hold, strings are terminated and the
 * file name is UTF-8 without controls; every part decodes within a
 * capped buffer, and decoding never grows a part (base64 and QP only
 * shrink); the header-value decoder gives UTF-8.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg/mimetree.h"
#include "util/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

static void
check_utf8(const uint8_t *s, size_t n, bool no_controls)
{
	size_t i = 0, k;
	uint32_t cp;

	while (i < n) {
		k = utf8_decode(s + i, n - i, &cp);
		if (k == 0 || cp == 0 ||
		    (no_controls && (cp < 0x20 || cp == 0x7f)))
			abort();
		i += k;
	}
}

static void
check_part(const struct mime_tree *t, size_t i, size_t n)
{
	const struct mime_part *p = &t->part[i], *up;

	if (p->hdr_off + p->hdr_len > p->body_off ||
	    p->body_off + p->body_len > n || p->body_off > n)
		abort();
	if (p->type[sizeof(p->type) - 1] != '\0' || p->type[0] == '\0' ||
	    strchr(p->type, '/') == NULL || p->encoding[0] == '\0' ||
	    memchr(p->charset, '\0', sizeof(p->charset)) == NULL ||
	    memchr(p->filename, '\0', sizeof(p->filename)) == NULL)
		abort();
	check_utf8((const uint8_t *)p->filename, strlen(p->filename), true);
	if (i == 0) {
		if (p->parent != -1 || p->depth != 0 || p->hdr_off != 0)
			abort();
		return;
	}
	if (p->parent < 0 || (size_t)p->parent >= i)
		abort();
	up = &t->part[p->parent];
	if (p->depth != up->depth + 1 || p->depth > MIMETREE_DEPTH_MAX ||
	    strncmp(up->type, "multipart/", 10) != 0 ||
	    p->hdr_off < up->body_off ||
	    p->body_off + p->body_len > up->body_off + up->body_len)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	const char *m = (const char *)p;
	struct mime_tree t;
	struct buf b;
	size_t i;

	if (mimetree_parse(m, n, &t) == -1)
		return 0;
	if (t.n < 1 || t.n > MIMETREE_PARTS_MAX)
		abort();
	for (i = 0; i < t.n; i++) {
		check_part(&t, i, n);
		buf_init(&b, 1 << 20);
		if (mimetree_decode(m, &t.part[i], &b) == 0 &&
		    b.len > t.part[i].body_len)
			abort();
		buf_reset(&b);
	}
	mimetree_free(&t);
	buf_init(&b, 1 << 22);
	if (mimetree_words_decode(m, n, &b) == 0)
		check_utf8(b.data, b.len, false);
	buf_reset(&b);
	return 0;
}
