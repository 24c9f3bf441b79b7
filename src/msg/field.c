/* SPDX-License-Identifier: ISC */
/*
 * msg/field.c - one header field in memory (see field.h).
 */
#include "msg/field.h"

#include <string.h>

#include "util/str.h"

size_t
msg_field_len(const char *p, size_t n)
{
	const char *nl;
	size_t i = 0;

	for (;;) {
		nl = memchr(p + i, '\n', n - i);
		if (nl == NULL)
			return n;
		i = (size_t)(nl - p) + 1;
		if (i >= n || (p[i] != ' ' && p[i] != '\t'))
			return i;
	}
}

bool
msg_field_is(const char *f, size_t n, const char *name)
{
	size_t k = strlen(name);

	if (n <= k || ascii_ncasecmp(f, name, k) != 0)
		return false;
	for (; k < n && (f[k] == ' ' || f[k] == '\t'); k++)
		;
	return k < n && f[k] == ':';
}

const char *
msg_field_value(const char *f, size_t n, size_t *vlen)
{
	const char *c = memchr(f, ':', n);
	size_t v;

	if (c == NULL) {
		*vlen = 0;
		return f + n;
	}
	v = n - (size_t)(c + 1 - f);
	if (v >= 1 && c[v] == '\n')
		v--;
	if (v >= 1 && c[v] == '\r')
		v--;
	*vlen = v;
	return c + 1;
}

static bool
is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool
msg_tls_required_no(const char *hdr, size_t n)
{
	const char *v;
	size_t len, vlen, seen = 0;
	bool no = false;

	while (n > 0 && hdr[0] != '\r' && hdr[0] != '\n') {
		len = msg_field_len(hdr, n);
		if (msg_field_is(hdr, len, "TLS-Required")) {
			seen++;
			v = msg_field_value(hdr, len, &vlen);
			while (vlen > 0 && is_fws(v[0])) {
				v++;
				vlen--;
			}
			while (vlen > 0 && is_fws(v[vlen - 1]))
				vlen--;
			no = vlen == 2 && ascii_ncasecmp(v, "no", 2) == 0;
		}
		hdr += len;
		n -= len;
	}
	return seen == 1 && no;
}
