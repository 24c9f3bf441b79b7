/* SPDX-License-Identifier: ISC */
/*
 * lib/mime.c - base64, RFC 2047 encoded-words, header folding and MIME
 * types for the message builder (see mime.h).
 *
 * Trust: application input; every append is bounded by the buf's max.
 */
#include "lib/mime.h"

#include <string.h>

#include "smtp/auth.h"
#include "util/str.h"

#define B64_IN (MIME_B64_LINE / 4 * 3) /* 57 input bytes per line */

bool
mime_is_plain(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (((unsigned char)p[i] < 0x20 && p[i] != '\t') ||
		    (unsigned char)p[i] >= 0x7f)
			return false;
	return true;
}

int
mime_base64(struct buf *b, const void *p, size_t n)
{
	const uint8_t *q = p;
	char line[MIME_B64_LINE + 4];
	size_t k;
	int len;

	while (n > 0) {
		k = n < B64_IN ? n : B64_IN;
		len = smtp_b64_encode(q, k, line, sizeof(line));
		if (len < 0 || buf_append(b, line, (size_t)len) == -1 ||
		    buf_append(b, "\r\n", 2) == -1)
			return -1;
		q += k;
		n -= k;
	}
	return 0;
}

/* Length of the UTF-8 sequence starting with byte c (1 for a stray). */
static size_t
utf8_len(unsigned char c)
{
	if (c >= 0xf0 && c < 0xf8)
		return 4;
	if (c >= 0xe0)
		return c < 0xf0 ? 3 : 1;
	if (c >= 0xc0)
		return 2;
	return 1;
}

int
mime_encode_words(struct buf *b, const char *p, size_t n, size_t col)
{
	static const char pre[] = "=?UTF-8?B?", post[] = "?=";
	const size_t syntax = sizeof(pre) - 1 + sizeof(post) - 1;
	char enc[MIME_WORD_MAX];
	size_t i = 0, k, l, in_max;
	int len;

	/* A word that would not fit after `col` starts on the next line. */
	if (col + syntax + 4 > MIME_FOLD_AT) {
		if (buf_append(b, "\r\n ", 3) == -1)
			return -1;
		col = 1;
	}
	while (i < n) {
		/* Input bytes whose base64 fits the line and the word. */
		in_max = (MIME_FOLD_AT - col - syntax) / 4 * 3;
		if (in_max > (MIME_WORD_MAX - syntax) / 4 * 3)
			in_max = (MIME_WORD_MAX - syntax) / 4 * 3;
		k = 0;
		while (i + k < n) {
			l = utf8_len((unsigned char)p[i + k]);
			if (i + k + l > n)
				l = n - i - k;
			if (k + l > in_max)
				break;
			k += l;
		}
		if (k == 0) /* cannot happen: in_max exceeds a sequence */
			k = 1;
		len = smtp_b64_encode((const uint8_t *)p + i, k, enc,
		    sizeof(enc));
		if (len < 0)
			return -1;
		/* Words are separated by folding white space (RFC 2047 2). */
		if (i > 0 && buf_append(b, "\r\n ", 3) == -1)
			return -1;
		if (buf_append_str(b, pre) == -1 ||
		    buf_append(b, enc, (size_t)len) == -1 ||
		    buf_append_str(b, post) == -1)
			return -1;
		i += k;
		col = 1;
	}
	return 0;
}

/* Append plain text, folding at spaces near MIME_FOLD_AT columns. */
static int
fold_plain(struct buf *b, const char *p, size_t n, size_t col)
{
	size_t i = 0, w, sp;

	while (n - i + col > MIME_FOLD_AT) {
		/* The last space that keeps the line short... */
		sp = 0;
		for (w = i + 1; w < n && w - i + col <= MIME_FOLD_AT; w++)
			if (p[w] == ' ')
				sp = w;
		/* ...else the first one that keeps it legal. */
		for (w = i + 1; sp == 0 && w < n && w - i + col < MIME_LINE_MAX;
		     w++)
			if (p[w] == ' ')
				sp = w;
		if (sp == 0) {
			if (n - i + col < MIME_LINE_MAX)
				break; /* long, but legal as it is */
			/* One word over 998 octets: split it (adds a space). */
			sp = i + (MIME_LINE_MAX - 1 - col);
		}
		if (buf_append(b, p + i, sp - i) == -1 ||
		    buf_append(b, "\r\n", 2) == -1)
			return -1;
		col = 0;
		if (p[sp] != ' ') {
			if (buf_append(b, " ", 1) == -1)
				return -1;
			col = 1;
		}
		i = sp;
	}
	return buf_append(b, p + i, n - i);
}

int
mime_header(struct buf *b, const char *name, const char *value)
{
	size_t n = strlen(value), col = strlen(name) + 2;

	if (buf_append_str(b, name) == -1 || buf_append(b, ": ", 2) == -1)
		return -1;
	if (mime_is_plain(value, n)) {
		if (fold_plain(b, value, n, col) == -1)
			return -1;
	} else if (mime_encode_words(b, value, n, col) == -1)
		return -1;
	return buf_append(b, "\r\n", 2);
}

/* Needs quoting as a phrase (RFC 5322 3.2.3 specials)? */
static bool
needs_quotes(const char *s)
{
	for (; *s != '\0'; s++)
		if (strchr("()<>[]:;@\\,.\"", *s) != NULL)
			return true;
	return false;
}

int
mime_mailbox(struct buf *b, const char *name, const char *addr, size_t col)
{
	size_t n = name != NULL ? strlen(name) : 0;
	const char *s;

	if (n == 0)
		return buf_append_str(b, addr);
	if (!mime_is_plain(name, n)) {
		if (mime_encode_words(b, name, n, col) == -1)
			return -1;
	} else if (needs_quotes(name)) {
		if (buf_append(b, "\"", 1) == -1)
			return -1;
		for (s = name; *s != '\0'; s++)
			if (((*s == '"' || *s == '\\') &&
			        buf_append(b, "\\", 1) == -1) ||
			    buf_append(b, s, 1) == -1)
				return -1;
		if (buf_append(b, "\"", 1) == -1)
			return -1;
	} else if (buf_append_str(b, name) == -1)
		return -1;
	return buf_printf(b, " <%s>", addr);
}

bool
mime_addr_ok(const char *addr)
{
	const char *at;
	size_t n;

	if (addr == NULL || (n = strlen(addr)) == 0 || n > 254)
		return false;
	if (!mime_is_plain(addr, n))
		return false;
	if (strpbrk(addr, " \t<>\"(),;:\\[]") != NULL)
		return false;
	at = strrchr(addr, '@');
	return at != NULL && at != addr && at[1] != '\0';
}

int
mime_crlf(struct buf *b, const char *p, size_t n)
{
	size_t i, start = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n') {
			i++;
			continue;
		}
		if (p[i] != '\r' && p[i] != '\n')
			continue;
		if (buf_append(b, p + start, i - start) == -1 ||
		    buf_append(b, "\r\n", 2) == -1)
			return -1;
		start = i + 1;
	}
	return buf_append(b, p + start, n - start);
}

bool
mime_text_needs_b64(const char *p, size_t n)
{
	size_t i, col = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n' || p[i] == '\r') {
			col = 0;
			continue;
		}
		if (p[i] == '\0' || (unsigned char)p[i] >= 0x80 ||
		    ++col > MIME_LINE_MAX)
			return true;
	}
	return false;
}

static const struct {
	const char *ext, *type;
} types[] = {
	{ "txt", "text/plain" },
	{ "text", "text/plain" },
	{ "log", "text/plain" },
	{ "csv", "text/csv" },
	{ "htm", "text/html" },
	{ "html", "text/html" },
	{ "css", "text/css" },
	{ "xml", "application/xml" },
	{ "json", "application/json" },
	{ "pdf", "application/pdf" },
	{ "zip", "application/zip" },
	{ "gz", "application/gzip" },
	{ "tar", "application/x-tar" },
	{ "png", "image/png" },
	{ "jpg", "image/jpeg" },
	{ "jpeg", "image/jpeg" },
	{ "gif", "image/gif" },
	{ "webp", "image/webp" },
	{ "svg", "image/svg+xml" },
	{ "ics", "text/calendar" },
	{ "eml", "message/rfc822" },
	{ "mp3", "audio/mpeg" },
	{ "mp4", "video/mp4" },
	{ "doc", "application/msword" },
	{ "docx", "application/vnd.openxmlformats-officedocument."
		  "wordprocessingml.document" },
	{ "xlsx", "application/vnd.openxmlformats-officedocument."
		  "spreadsheetml.sheet" },
	{ "odt", "application/vnd.oasis.opendocument.text" },
};

const char *
mime_type_for(const char *filename)
{
	const char *dot = filename != NULL ? strrchr(filename, '.') : NULL;
	size_t i;

	if (dot != NULL && strchr(dot, '/') == NULL)
		for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (ascii_casecmp(dot + 1, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream";
}
