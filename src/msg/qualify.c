/* SPDX-License-Identifier: ISC */
/*
 * msg/qualify.c - "To: alice" -> "To: alice@DOMAIN" (see qualify.h).
 *
 * Each field of interest is scanned once, at the top level of its
 * address list, with the state a lexer for RFC 5322 3.2 needs: quoted
 * strings, nested comments (both with quoted-pairs), the angle-addr and
 * the group. The scan only records where "@DOMAIN" goes; the output is
 * the input with those insertions, so nothing else can change.
 * Trust: see qualify.h; every index is checked against the field's end.
 */
#include "msg/qualify.h"

#include <stdbool.h>
#include <string.h>

#include "msg/hdr.h"
#include "util/buf.h"
#include "util/str.h"

#define LOCAL_MAX 64    /* RFC 5321 4.5.3.1.1 */
#define LINE_MAX_ 998   /* RFC 5322 2.1.1, without CRLF */
#define INSERTS_MAX 256 /* per field; more items are left bare */

static const char *const fields[] = { "From", "To", "Cc", "Reply-To" };

/* atext (RFC 5322 3.2.3), and UTF-8 bytes (RFC 6532 3.2). */
static bool
is_atext(uint8_t c)
{
	return ascii_is_alnum(c) || c >= 0x80 ||
	       (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static bool
is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A dot-atom (3.2.3): no leading, trailing or double dot. */
static bool
is_dot_atom(const uint8_t *p, size_t n)
{
	size_t i;

	if (n == 0 || n > LOCAL_MAX || p[0] == '.' || p[n - 1] == '.')
		return false;
	for (i = 0; i + 1 < n; i++)
		if (p[i] == '.' && p[i + 1] == '.')
			return false;
	return true;
}

/* One address-list item being scanned. */
struct item {
	size_t words;     /* top-level words outside <> */
	size_t word_end;  /* end of the last of them */
	bool word_ok;     /* ... and it was a dot-atom */
	bool other;       /* a quoted string, '@', '.' alone or junk */
	bool angle;       /* an angle-addr was seen */
	bool after_angle; /* something other than CFWS after '>' */
	size_t in_words;  /* words inside <> */
	size_t in_end;
	bool in_ok;
	bool in_other;
};

/* Where does "@DOMAIN" go for item it? 0: nowhere. */
static size_t
item_insert(const struct item *it)
{
	if (it->angle)
		return !it->after_angle && !it->in_other && it->in_words == 1 &&
		               it->in_ok
		           ? it->in_end
		           : 0;
	return !it->other && it->words == 1 && it->word_ok ? it->word_end : 0;
}

/*
 * Scan field body b[0..n) (after the colon, up to the end of its last
 * line). Record insertion offsets in ins[]; returns their count, or 0
 * when the field does not scan cleanly (left alone whole).
 */
static size_t
scan(const uint8_t *b, size_t n, size_t *ins)
{
	struct item it;
	size_t i = 0, k, nins = 0, depth;
	bool in_angle = false, in_group = false;

	memset(&it, 0, sizeof(it));
	while (i <= n) {
		uint8_t c = i < n ? b[i] : ',';

		if (i < n && c == '"') { /* quoted string */
			for (i++; i < n && b[i] != '"'; i++)
				if (b[i] == '\\')
					i++;
			if (i >= n)
				return 0;
			i++;
			if (in_angle)
				it.in_other = true;
			else if (it.angle)
				it.after_angle = true;
			else
				it.other = true;
			continue;
		}
		if (i < n && c == '(') { /* comment, nested */
			for (depth = 1, i++; i < n && depth > 0; i++) {
				if (b[i] == '\\')
					i++;
				else if (b[i] == '(')
					depth++;
				else if (b[i] == ')')
					depth--;
			}
			if (depth > 0)
				return 0;
			continue;
		}
		if (i < n && is_wsp(c)) {
			i++;
			continue;
		}
		if (i < n && (is_atext(c) || c == '.')) {
			for (k = i; k < n && (is_atext(b[k]) || b[k] == '.');
			     k++)
				;
			if (in_angle) {
				it.in_words++;
				it.in_end = k;
				it.in_ok = is_dot_atom(b + i, k - i);
			} else if (it.angle)
				it.after_angle = true;
			else {
				it.words++;
				it.word_end = k;
				it.word_ok = is_dot_atom(b + i, k - i);
			}
			i = k;
			continue;
		}
		if (in_angle) {
			if (i >= n)
				return 0; /* '<' never closed */
			if (c == '>')
				in_angle = false;
			else
				it.in_other = true; /* '@', ',', ':' ... */
			i++;
			continue;
		}
		if (c == '<' && !it.angle) {
			in_angle = it.angle = true;
			i++;
			continue;
		}
		if (c == ':' && !in_group) { /* a group: all of it stays */
			in_group = true;
			i++;
			continue;
		}
		if (c == ';' && in_group) {
			in_group = false;
			memset(&it, 0, sizeof(it));
			i++;
			continue;
		}
		if (c == ',') {
			if (!in_group && item_insert(&it) != 0) {
				if (nins == INSERTS_MAX)
					return nins;
				ins[nins++] = item_insert(&it);
			}
			memset(&it, 0, sizeof(it));
			i++;
			continue;
		}
		/* '@', '>', '[', ')' ... */
		if (it.angle)
			it.after_angle = true;
		else
			it.other = true;
		i++;
	}
	return in_group ? 0 : nins;
}

/* Would b[0..n) with insertions of dlen bytes at ins[] keep every line
 * within LINE_MAX_? */
static bool
lines_fit(const uint8_t *b, size_t n, const size_t *ins, size_t nins,
    size_t dlen, size_t col0)
{
	size_t i, k = 0, col = col0;

	for (i = 0; i <= n; i++) {
		while (k < nins && ins[k] == i) {
			col += dlen;
			k++;
		}
		/* An insertion just before the LF still counts. */
		if (col > LINE_MAX_)
			return false;
		if (i == n)
			break;
		if (b[i] == '\n')
			col = 0;
		else if (b[i] != '\r')
			col++;
		if (col > LINE_MAX_)
			return false;
	}
	return col <= LINE_MAX_;
}

/* Is the field at f[0..n) one of ours? Its body's offset in *body_out. */
static bool
wanted(const uint8_t *f, size_t n, size_t *body_out)
{
	size_t i, k, name;

	for (i = 0; i < n && f[i] != ':'; i++)
		;
	if (i == n)
		return false;
	*body_out = i + 1;
	for (name = i; name > 0 && (f[name - 1] == ' ' || f[name - 1] == '\t');
	     name--)
		;
	for (k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
		if (strlen(fields[k]) == name &&
		    ascii_ncasecmp((const char *)f, fields[k], name) == 0)
			return true;
	return false;
}

int
msg_qualify_header(const uint8_t *p, size_t n, const char *domain,
    struct buf *out, size_t *used_out)
{
	struct msg_hdr_scan hs;
	size_t ins[INSERTS_MAX];
	size_t pos = 0, end, body, nins, i, k, dlen = strlen(domain);
	const uint8_t *nl;
	int count = 0;

	msg_hdr_scan_init(&hs);
	msg_hdr_scan_feed(&hs, p, n);
	*used_out = hs.header_bytes;
	while (pos < hs.header_bytes) {
		/* One field: its first line and its continuation lines. */
		end = pos;
		do {
			nl = memchr(p + end, '\n', hs.header_bytes - end);
			end =
			    nl != NULL ? (size_t)(nl - p) + 1 : hs.header_bytes;
		} while (
		    end < hs.header_bytes && (p[end] == ' ' || p[end] == '\t'));
		nins = 0;
		if (dlen > 0 && wanted(p + pos, end - pos, &body)) {
			nins = scan(p + pos + body, end - pos - body, ins);
			if (nins > 0 &&
			    !lines_fit(p + pos + body, end - pos - body, ins,
			        nins, dlen + 1, body))
				nins = 0;
		}
		for (i = 0, k = pos; i < nins; i++) {
			if (buf_append(out, p + k, pos + body + ins[i] - k) ==
			        -1 ||
			    buf_append(out, "@", 1) == -1 ||
			    buf_append(out, domain, dlen) == -1)
				return -1;
			k = pos + body + ins[i];
		}
		if (buf_append(out, p + k, end - k) == -1)
			return -1;
		count += (int)nins;
		pos = end;
	}
	return count;
}
