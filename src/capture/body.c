/* SPDX-License-Identifier: ISC */
/*
 * capture/body.c - a message's parts (body.h).
 * XXX until msg/mimetree.h lands (branch i22-lint): the whole body is
 * one part, its type from the top Content-Type, not decoded.
 */
#include "capture/body.h"

#include <ctype.h>
#include <string.h>

#include "capture/view.h"
#include "util/buf.h"

static void
top_part(const char *msg, size_t len, struct cap_part_info *p, size_t *off)
{
	struct buf v;
	size_t i, h = cap_view_header_len(msg, len);

	memset(p, 0, sizeof(*p));
	memcpy(p->type, "text/plain", sizeof("text/plain"));
	buf_init(&v, 1024);
	if (cap_view_field(msg, len, "Content-Type", &v)) {
		for (i = 0; i < v.len && i + 1 < sizeof(p->type) &&
		     v.data[i] != ';' && v.data[i] != ' ';
		     i++)
			p->type[i] = (char)tolower(v.data[i]);
		p->type[i] = '\0';
	}
	buf_reset(&v);
	/* Past the empty line. */
	if (h < len && msg[h] == '\r')
		h++;
	if (h < len && msg[h] == '\n')
		h++;
	*off = h;
	p->size = len - h;
}

size_t
cap_body_parts(const char *msg, size_t len, struct cap_part_info *out,
    size_t max)
{
	size_t off;

	if (max == 0)
		return 0;
	top_part(msg, len, &out[0], &off);
	return 1;
}

bool
cap_body_first(const char *msg, size_t len, const char *type, struct buf *out)
{
	struct cap_part_info p;
	size_t off;

	top_part(msg, len, &p, &off);
	if (strcmp(p.type, type) != 0)
		return false;
	(void)buf_append(out, msg + off, len - off);
	return true;
}

bool
cap_body_part(const char *msg, size_t len, size_t index,
    struct cap_part_info *info, struct buf *out)
{
	size_t off;

	if (index != 0)
		return false;
	top_part(msg, len, info, &off);
	(void)buf_append(out, msg + off, len - off);
	return true;
}
