/* SPDX-License-Identifier: ISC */
/*
 * util/json.c - JSON strings and members, escaped one way (json.h).
 */
#include "util/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util/buf.h"
#include "util/utf8.h"

/*
 * \n, \r, \t (RFC 8259 7's short forms: a message of bare line feeds
 * stays near its size, not six times it), else \uNNNN: controls and
 * utf8_is_hidden() ones, all below U+10000.
 */
static int
put_u(struct buf *b, uint32_t cp)
{
	char e[8];

	if (cp == '\n' || cp == '\r' || cp == '\t')
		return buf_append(b,
		    cp == '\n'   ? "\\n"
		    : cp == '\r' ? "\\r"
		                 : "\\t",
		    2);
	(void)snprintf(e, sizeof(e), "\\u%04x", (unsigned)(cp & 0xffff));
	return buf_append_str(b, e);
}

int
json_strn(struct buf *b, const void *p, size_t n)
{
	const uint8_t *s = p;
	size_t i = 0, run, len;
	uint32_t cp;

	if (buf_append(b, "\"", 1) == -1)
		return -1;
	while (i < n) {
		/* The common case: a run of plain printable ASCII. */
		for (run = i; run < n && s[run] >= 0x20 && s[run] < 0x7f &&
		              s[run] != '"' && s[run] != '\\';
		     run++)
			;
		if (run > i && buf_append(b, s + i, run - i) == -1)
			return -1;
		if ((i = run) >= n)
			break;
		if (s[i] == '"' || s[i] == '\\') {
			if (buf_append(b, s[i] == '"' ? "\\\"" : "\\\\", 2) ==
			    -1)
				return -1;
			i++;
			continue;
		}
		if ((len = utf8_decode(s + i, n - i, &cp)) == 0) {
			if (buf_append_str(b, "\\ufffd") == -1)
				return -1;
			i++;
			continue;
		}
		if (cp < 0x20 || cp == 0x7f || utf8_is_hidden(cp)) {
			if (put_u(b, cp) == -1)
				return -1;
		} else if (buf_append(b, s + i, len) == -1)
			return -1;
		i += len;
	}
	return buf_append(b, "\"", 1);
}

int
json_str(struct buf *b, const char *s)
{
	if (s == NULL)
		return buf_append_str(b, "null");
	return json_strn(b, s, strlen(s));
}

static int
key(struct buf *b, const char *k)
{
	if (b->len > 0 && b->data[b->len - 1] != '{' &&
	    b->data[b->len - 1] != '[' && buf_append(b, ",", 1) == -1)
		return -1;
	if (json_str(b, k) == -1)
		return -1;
	return buf_append(b, ":", 1);
}

int
json_kv_str(struct buf *b, const char *k, const char *s)
{
	if (s == NULL)
		return 0;
	if (key(b, k) == -1)
		return -1;
	return json_str(b, s);
}

int
json_kv_u64(struct buf *b, const char *k, uint64_t v)
{
	if (key(b, k) == -1)
		return -1;
	return buf_printf(b, "%" PRIu64, v);
}

int
json_kv_i64(struct buf *b, const char *k, int64_t v)
{
	if (key(b, k) == -1)
		return -1;
	return buf_printf(b, "%" PRId64, v);
}

int
json_kv_double(struct buf *b, const char *k, double v)
{
	if (key(b, k) == -1)
		return -1;
	if (!isfinite(v))
		v = 0;
	return buf_printf(b, "%.3f", v);
}

int
json_kv_strs(struct buf *b, const char *k, const char *const *s, size_t n)
{
	size_t i;

	if (key(b, k) == -1 || buf_append(b, "[", 1) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if ((i > 0 && buf_append(b, ",", 1) == -1) ||
		    json_str(b, s[i]) == -1)
			return -1;
	return buf_append(b, "]", 1);
}
