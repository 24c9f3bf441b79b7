/* SPDX-License-Identifier: ISC */
/*
 * lib/msg.c - the public message builder: struct tern_msg and
 * tern_msg_render() (see tern/tern.h).
 *
 * Everything is kept as given and encoded only when rendered, so the
 * order of the setters does not matter. Allocation failures return
 * TERN_E_NOMEM; nothing here exits.
 * Trust: the application's input; header values can never carry a CR
 * or LF into the output (refused, or encoded).
 */
#include "tern/tern.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "lib/lib-private.h"
#include "lib/mime.h"
#include "msg/received.h"
#include "util/str.h"

#define MSG_RENDER_MAX (256u * 1024 * 1024) /* rendered message bytes */
#define MSG_ATTACH_MAX (64u * 1024 * 1024)  /* one attachment file */

struct mbox {
	char *name; /* NULL: none */
	char *addr;
};

struct part {
	char *filename, *type;
	uint8_t *data;
	size_t len;
};

struct tern_msg {
	struct mbox from, reply_to;
	struct mbox *to, *cc, *bcc;
	size_t nto, ncc, nbcc;
	char *subject;
	char *text, *html;
	size_t text_len, html_len;
	struct part *parts;
	size_t nparts;
};

struct tern_msg *
tern_msg_new(void)
{
	return calloc(1, sizeof(struct tern_msg));
}

static void
mbox_free(struct mbox *m)
{
	free(m->name);
	free(m->addr);
	m->name = m->addr = NULL;
}

void
tern_msg_free(struct tern_msg *m)
{
	size_t i;

	if (m == NULL)
		return;
	mbox_free(&m->from);
	mbox_free(&m->reply_to);
	for (i = 0; i < m->nto; i++)
		mbox_free(&m->to[i]);
	for (i = 0; i < m->ncc; i++)
		mbox_free(&m->cc[i]);
	for (i = 0; i < m->nbcc; i++)
		mbox_free(&m->bcc[i]);
	free(m->to);
	free(m->cc);
	free(m->bcc);
	free(m->subject);
	free(m->text);
	free(m->html);
	for (i = 0; i < m->nparts; i++) {
		free(m->parts[i].filename);
		free(m->parts[i].type);
		free(m->parts[i].data);
	}
	free(m->parts);
	free(m);
}

static bool
has_eol(const char *s)
{
	return s != NULL && strpbrk(s, "\r\n") != NULL;
}

static enum tern_err
mbox_set(struct mbox *mb, const char *name, const char *addr)
{
	char *n = NULL, *a;

	if (!mime_addr_ok(addr) || has_eol(name))
		return TERN_E_INVAL;
	if ((a = strdup(addr)) == NULL)
		return TERN_E_NOMEM;
	if (name != NULL && name[0] != '\0' && (n = strdup(name)) == NULL) {
		free(a);
		return TERN_E_NOMEM;
	}
	mbox_free(mb);
	mb->name = n;
	mb->addr = a;
	return TERN_OK;
}

static enum tern_err
mbox_add(struct mbox **v, size_t *n, const char *name, const char *addr)
{
	struct mbox *nv;
	enum tern_err e;

	if (*n >= LIB_RCPTS_MAX)
		return TERN_E_INVAL;
	if ((nv = realloc(*v, (*n + 1) * sizeof(*nv))) == NULL)
		return TERN_E_NOMEM;
	*v = nv;
	memset(&nv[*n], 0, sizeof(nv[*n]));
	if ((e = mbox_set(&nv[*n], name, addr)) == TERN_OK)
		(*n)++;
	return e;
}

enum tern_err
tern_msg_set_from(struct tern_msg *m, const char *name, const char *addr)
{
	return m == NULL ? TERN_E_INVAL : mbox_set(&m->from, name, addr);
}

enum tern_err
tern_msg_set_reply_to(struct tern_msg *m, const char *name, const char *addr)
{
	return m == NULL ? TERN_E_INVAL : mbox_set(&m->reply_to, name, addr);
}

enum tern_err
tern_msg_add_to(struct tern_msg *m, const char *name, const char *addr)
{
	return m == NULL ? TERN_E_INVAL : mbox_add(&m->to, &m->nto, name, addr);
}

enum tern_err
tern_msg_add_cc(struct tern_msg *m, const char *name, const char *addr)
{
	return m == NULL ? TERN_E_INVAL : mbox_add(&m->cc, &m->ncc, name, addr);
}

enum tern_err
tern_msg_add_bcc(struct tern_msg *m, const char *addr)
{
	return m == NULL ? TERN_E_INVAL
	                 : mbox_add(&m->bcc, &m->nbcc, NULL, addr);
}

static enum tern_err
set_str(char **dst, const char *s, size_t n)
{
	char *c;

	if ((c = malloc(n + 1)) == NULL)
		return TERN_E_NOMEM;
	memcpy(c, s, n);
	c[n] = '\0';
	free(*dst);
	*dst = c;
	return TERN_OK;
}

enum tern_err
tern_msg_set_subject(struct tern_msg *m, const char *s)
{
	if (m == NULL || s == NULL || has_eol(s))
		return TERN_E_INVAL;
	return set_str(&m->subject, s, strlen(s));
}

/* A body part (text or HTML) of n bytes; NULL with n 0 clears it. */
static enum tern_err
set_part(char **dst, size_t *dst_len, const char *src, size_t n)
{
	enum tern_err e;

	if (src == NULL && n > 0)
		return TERN_E_INVAL;
	if ((e = set_str(dst, n > 0 ? src : "", n)) == TERN_OK)
		*dst_len = n;
	return e;
}

enum tern_err
tern_msg_set_text(struct tern_msg *m, const char *text, size_t n)
{
	if (m == NULL)
		return TERN_E_INVAL;
	return set_part(&m->text, &m->text_len, text, n);
}

enum tern_err
tern_msg_set_html(struct tern_msg *m, const char *html, size_t n)
{
	if (m == NULL)
		return TERN_E_INVAL;
	return set_part(&m->html, &m->html_len, html, n);
}

enum tern_err
tern_msg_attach(struct tern_msg *m, const char *filename, const void *data,
    size_t n, const char *type)
{
	struct part *np, *p;
	const char *base;

	if (m == NULL || filename == NULL || (data == NULL && n > 0) ||
	    has_eol(filename) || has_eol(type) ||
	    (type != NULL && !mime_is_plain(type, strlen(type))) ||
	    m->nparts >= LIB_PARTS_MAX)
		return TERN_E_INVAL;
	base = strrchr(filename, '/') != NULL ? strrchr(filename, '/') + 1
	                                      : filename;
	if (base[0] == '\0')
		return TERN_E_INVAL;
	if ((np = realloc(m->parts, (m->nparts + 1) * sizeof(*np))) == NULL)
		return TERN_E_NOMEM;
	m->parts = np;
	p = &np[m->nparts];
	memset(p, 0, sizeof(*p));
	p->filename = strdup(base);
	p->type = strdup(type != NULL ? type : mime_type_for(base));
	p->data = malloc(n > 0 ? n : 1);
	if (p->filename == NULL || p->type == NULL || p->data == NULL) {
		free(p->filename);
		free(p->type);
		free(p->data);
		return TERN_E_NOMEM;
	}
	if (n > 0)
		memcpy(p->data, data, n);
	p->len = n;
	m->nparts++;
	return TERN_OK;
}

enum tern_err
tern_msg_attach_file(struct tern_msg *m, const char *path, const char *type)
{
	struct buf b;
	enum tern_err e;
	FILE *f;

	if (m == NULL || path == NULL)
		return TERN_E_INVAL;
	if ((f = fopen(path, "rb")) == NULL)
		return TERN_E_IO;
	buf_init(&b, MSG_ATTACH_MAX);
	e = lib_read_file(f, &b);
	(void)fclose(f);
	if (e == TERN_OK)
		e = tern_msg_attach(m, path,
		    b.data != NULL ? (const void *)b.data : "",
		    b.len, type);
	buf_reset(&b);
	return e;
}

/* "To: a <x@y>, b <z@w>" folded one mailbox per line after the first. */
static int
addr_header(struct buf *b, const char *name, const struct mbox *v, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	if (buf_printf(b, "%s: ", name) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (i > 0 && buf_append(b, ",\r\n ", 4) == -1)
			return -1;
		if (mime_mailbox(b, v[i].name, v[i].addr,
		        i == 0 ? strlen(name) + 2 : 1) == -1)
			return -1;
	}
	return buf_append(b, "\r\n", 2);
}

static int
random_hex(char *dst, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t r[32];
	size_t i;

	if (nbytes > sizeof(r) ||
	    getrandom(r, nbytes, 0) != (ssize_t)nbytes)
		return -1;
	for (i = 0; i < nbytes; i++) {
		dst[2 * i] = hex[r[i] >> 4];
		dst[2 * i + 1] = hex[r[i] & 15];
	}
	dst[2 * nbytes] = '\0';
	return 0;
}

/* One text part's header and body: 7bit when it can be, else base64. */
static int
text_part(struct buf *b, const char *subtype, const char *p, size_t n)
{
	if (buf_printf(b, "Content-Type: text/%s; charset=utf-8\r\n",
	        subtype) == -1)
		return -1;
	if (mime_text_needs_b64(p, n))
		return buf_append_str(b,
		           "Content-Transfer-Encoding: base64\r\n\r\n") == -1
		    ? -1
		    : mime_base64(b, p, n);
	if (buf_append_str(b, "Content-Transfer-Encoding: 7bit\r\n\r\n") ==
	        -1 ||
	    mime_crlf(b, p, n) == -1)
		return -1;
	if (n > 0 && p[n - 1] != '\n' && p[n - 1] != '\r')
		return buf_append(b, "\r\n", 2);
	return 0;
}

/* The text and/or HTML, as one part or a multipart/alternative. */
static int
body_parts(struct buf *b, const struct tern_msg *m, const char *bnd)
{
	const char *text = m->text != NULL ? m->text : "";

	if (m->html == NULL)
		return text_part(b, "plain", text, m->text_len);
	if (buf_printf(b,
	        "Content-Type: multipart/alternative; boundary=\"%s-a\"\r\n"
	        "\r\n--%s-a\r\n",
	        bnd, bnd) == -1 ||
	    text_part(b, "plain", text, m->text_len) == -1 ||
	    buf_printf(b, "\r\n--%s-a\r\n", bnd) == -1 ||
	    text_part(b, "html", m->html, m->html_len) == -1 ||
	    buf_printf(b, "\r\n--%s-a--\r\n", bnd) == -1)
		return -1;
	return 0;
}

/* filename="x" (RFC 2183), or filename*=UTF-8''%xx (RFC 2231). */
static int
filename_param(struct buf *b, const char *name)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s;

	if (mime_is_plain(name, strlen(name)) && strpbrk(name, "\"\\") == NULL)
		return buf_printf(b, ";\r\n filename=\"%s\"", name);
	if (buf_append_str(b, ";\r\n filename*=UTF-8''") == -1)
		return -1;
	for (s = (const unsigned char *)name; *s != '\0'; s++) {
		if (ascii_is_alnum(*s) || strchr("-._~", *s) != NULL) {
			if (buf_append(b, s, 1) == -1)
				return -1;
		} else if (buf_printf(b, "%%%c%c", hex[*s >> 4],
		               hex[*s & 15]) == -1)
			return -1;
	}
	return 0;
}

static int
render(const struct tern_msg *m, struct buf *b)
{
	char date[64], bnd[48], rnd[40];
	const char *dom = strrchr(m->from.addr, '@') + 1;
	size_t i;

	if (msg_date_format(time(NULL), date, sizeof(date)) == -1 ||
	    random_hex(rnd, 16) == -1)
		return -1;
	if (addr_header(b, "From", &m->from, 1) == -1 ||
	    addr_header(b, "To", m->to, m->nto) == -1 ||
	    addr_header(b, "Cc", m->cc, m->ncc) == -1 ||
	    (m->reply_to.addr != NULL &&
	        addr_header(b, "Reply-To", &m->reply_to, 1) == -1) ||
	    (m->subject != NULL && mime_header(b, "Subject", m->subject) == -1) ||
	    buf_printf(b, "Date: %s\r\nMessage-ID: <%s@%s>\r\n", date, rnd,
	        dom) == -1 ||
	    buf_append_str(b, "MIME-Version: 1.0\r\n") == -1)
		return -1;
	/* Base64 never holds '=' followed by '_': the boundary is safe. */
	(void)snprintf(bnd, sizeof(bnd), "=_tern_%.24s", rnd);
	if (m->nparts == 0)
		return body_parts(b, m, bnd);
	if (buf_printf(b,
	        "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
	        "This is a multi-part message in MIME format.\r\n"
	        "\r\n--%s\r\n",
	        bnd, bnd) == -1 ||
	    body_parts(b, m, bnd) == -1)
		return -1;
	for (i = 0; i < m->nparts; i++)
		if (buf_printf(b, "\r\n--%s\r\nContent-Type: %s\r\n"
		                  "Content-Disposition: attachment",
		        bnd, m->parts[i].type) == -1 ||
		    filename_param(b, m->parts[i].filename) == -1 ||
		    buf_append_str(b, "\r\nContent-Transfer-Encoding: "
		                      "base64\r\n\r\n") == -1 ||
		    mime_base64(b, m->parts[i].data, m->parts[i].len) == -1)
			return -1;
	return buf_printf(b, "\r\n--%s--\r\n", bnd);
}

enum tern_err
tern_msg_render(const struct tern_msg *m, char **out, size_t *len_out)
{
	struct buf b;
	size_t len;

	if (m == NULL || out == NULL || len_out == NULL ||
	    m->from.addr == NULL)
		return TERN_E_INVAL;
	buf_init(&b, MSG_RENDER_MAX);
	if (render(m, &b) == -1 || buf_append(&b, "", 0) == -1) {
		buf_reset(&b);
		return TERN_E_NOMEM;
	}
	*out = (char *)buf_take(&b, &len);
	*len_out = len;
	return *out != NULL ? TERN_OK : TERN_E_NOMEM;
}

enum tern_err
tern_send_msg(struct tern_conn *c, const struct tern_msg *m)
{
	const char **rcpts;
	size_t n = 0, i, len;
	char *data;
	enum tern_err e;

	if (c == NULL || m == NULL || m->nto + m->ncc + m->nbcc == 0)
		return TERN_E_INVAL;
	if ((e = tern_msg_render(m, &data, &len)) != TERN_OK)
		return e;
	if ((rcpts = calloc(m->nto + m->ncc + m->nbcc, sizeof(*rcpts))) ==
	    NULL) {
		free(data);
		return TERN_E_NOMEM;
	}
	for (i = 0; i < m->nto; i++)
		rcpts[n++] = m->to[i].addr;
	for (i = 0; i < m->ncc; i++)
		rcpts[n++] = m->cc[i].addr;
	for (i = 0; i < m->nbcc; i++)
		rcpts[n++] = m->bcc[i].addr;
	e = tern_send(c, m->from.addr, rcpts, n, data, len);
	free(rcpts);
	free(data);
	return e;
}

const char *
tern_mime_type(const char *filename)
{
	return mime_type_for(filename);
}
