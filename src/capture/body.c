/* SPDX-License-Identifier: ISC */
/* capture/body.c - a message's parts, from msg/mimetree.h (body.h). */
#include "capture/body.h"

#include <string.h>

#include "msg/mimetree.h"
#include "util/buf.h"

/* A part with children is no leaf: its next part is its first child. */
static bool
is_leaf(const struct mime_tree *t, size_t i)
{
	return i + 1 >= t->n || t->part[i + 1].parent != (int)i;
}

static void
info_of(const char *msg, const struct mime_part *p, size_t index,
    struct cap_part_info *out)
{
	struct buf b;

	memset(out, 0, sizeof(*out));
	out->index = index;
	memcpy(out->type, p->type, sizeof(out->type));
	out->type[sizeof(out->type) - 1] = '\0';
	memcpy(out->charset, p->charset, sizeof(out->charset));
	out->charset[sizeof(out->charset) - 1] = '\0';
	memcpy(out->filename, p->filename, sizeof(out->filename));
	out->filename[sizeof(out->filename) - 1] = '\0';
	out->attachment = p->attachment;
	/* Decoded size: a part is at most its encoded size. */
	buf_init(&b, p->body_len + 16);
	out->size = mimetree_decode(msg, p, &b) == 0 ? b.len : p->body_len;
	buf_reset(&b);
}

size_t
cap_body_parts(const char *msg, size_t len, struct cap_part_info *out,
    size_t max)
{
	struct mime_tree t;
	size_t i, n = 0;

	if (mimetree_parse(msg, len, &t) == -1)
		return 0;
	for (i = 0; i < t.n && n < max; i++)
		if (is_leaf(&t, i))
			info_of(msg, &t.part[i], i, &out[n++]);
	mimetree_free(&t);
	return n;
}

bool
cap_body_first(const char *msg, size_t len, const char *type, struct buf *out)
{
	struct mime_tree t;
	struct buf raw;
	bool found = false;
	size_t i;

	if (mimetree_parse(msg, len, &t) == -1)
		return false;
	for (i = 0; i < t.n && !found; i++) {
		const struct mime_part *p = &t.part[i];

		if (!is_leaf(&t, i) || p->attachment ||
		    strcmp(p->type, type) != 0)
			continue;
		found = true;
		buf_init(&raw, p->body_len + 16);
		if (mimetree_decode(msg, p, &raw) == 0)
			(void)mimetree_to_utf8(p->charset,
			    raw.data != NULL ? (const char *)raw.data : "",
			    raw.len, out);
		buf_reset(&raw);
	}
	mimetree_free(&t);
	return found;
}

bool
cap_body_part(const char *msg, size_t len, size_t index,
    struct cap_part_info *info, struct buf *out)
{
	struct mime_tree t;
	bool found = false;

	if (mimetree_parse(msg, len, &t) == -1)
		return false;
	if (index < t.n && is_leaf(&t, index)) {
		found = true;
		info_of(msg, &t.part[index], index, info);
		(void)mimetree_decode(msg, &t.part[index], out);
	}
	mimetree_free(&t);
	return found;
}
