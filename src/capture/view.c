/* SPDX-License-Identifier: ISC */
/* capture/view.c - header fields, unfolded and decoded (view.h). */
#include "capture/view.h"

#include <string.h>
#include <strings.h>

#include "util/buf.h"

/* Is the line that starts at msg[p] (p < len) empty: LF or CRLF? */
static bool
is_empty_line(const char *msg, size_t len, size_t p)
{
	return msg[p] == '\n' ||
	       (msg[p] == '\r' && p + 1 < len && msg[p + 1] == '\n');
}

size_t
cap_view_header_len(const char *msg, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		/* An empty line: at the start, or after a line end. */
		if ((i == 0 || msg[i - 1] == '\n') &&
		    is_empty_line(msg, len, i))
			return i;
	return len;
}

/* The end of the line at p (just past its LF), at most end. */
static size_t
line_end(const char *msg, size_t pos, size_t end)
{
	const char *lf = memchr(msg + pos, '\n', end - pos);

	return lf != NULL ? (size_t)(lf - msg) + 1 : end;
}

/* Append the line's text without its CRLF or LF (cut at out's max). */
static void
append_line(struct buf *out, const char *p, size_t n)
{
	if (n > 0 && p[n - 1] == '\n')
		n--;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (out->len + n > out->max)
		n = out->max - out->len;
	(void)buf_append(out, p, n);
}

bool
cap_view_next_field(const char *msg, size_t len, size_t *pos, const char **name,
    size_t *name_len, struct buf *val)
{
	size_t p = *pos, e, v;
	const char *colon;

	buf_clear(val);
	/*
	 * *pos is a line's start, and the header ends at the first empty
	 * line: looking at this line only keeps a walk over every field
	 * linear (cap_view_header_len() on each step made it quadratic).
	 */
	if (p >= len || is_empty_line(msg, len, p))
		return false;
	e = line_end(msg, p, len);
	colon = memchr(msg + p, ':', e - p);
	if (colon == NULL || colon == msg + p)
		return false;
	*name = msg + p;
	*name_len = (size_t)(colon - (msg + p));
	while (*name_len > 0 && ((*name)[*name_len - 1] == ' ' ||
	                            (*name)[*name_len - 1] == '\t'))
		(*name_len)--;
	v = (size_t)(colon - msg) + 1;
	while (v < e && (msg[v] == ' ' || msg[v] == '\t'))
		v++;
	append_line(val, msg + v, e - v);
	/* Continuation lines: their blank is kept, the line break goes. */
	while (e < len && (msg[e] == ' ' || msg[e] == '\t')) {
		size_t ne = line_end(msg, e, len);

		append_line(val, msg + e, ne - e);
		e = ne;
	}
	*pos = e;
	return true;
}

bool
cap_view_field(const char *msg, size_t len, const char *name, struct buf *out)
{
	size_t pos = 0, nlen, want = strlen(name);
	const char *n;

	while (cap_view_next_field(msg, len, &pos, &n, &nlen, out))
		if (nlen == want && strncasecmp(n, name, want) == 0)
			return true;
	buf_clear(out);
	return false;
}
