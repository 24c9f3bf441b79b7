/* SPDX-License-Identifier: ISC */
/* capture/api.c - the JSON API and the page of `tern capture` (api.h). */
#include "capture/api.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "capture/assets.h"
#include "capture/body.h"
#include "capture/capture-private.h"
#include "capture/query.h"
#include "capture/view.h"
#include "obs/httpcap.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define HEADER_VALUE_MAX (64u << 10) /* bytes of one header value shown */

/* The page: its own script, style and JSON, frames of our own origin. */
#define PAGE_CSP                                                               \
	"default-src 'none'; script-src 'self'; style-src 'self'; "            \
	"connect-src 'self'; img-src 'self' data:; frame-src 'self'; "         \
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
/* A message's HTML part (contract): no script, no remote load. */
#define HTML_CSP                                                               \
	"default-src 'none'; style-src 'unsafe-inline'; img-src data:; "       \
	"sandbox"
/* Raw source and parts: never rendered as anything active. */
#define DATA_CSP "default-src 'none'; sandbox"

struct waiter {
	struct cap_api *api;
	struct waiter *prev, *next;
	struct evhttp_request *req;
	struct event *timer;
	struct event *peer; /* the client's socket: has it hung up? */
	struct cap_filter f;
};

struct cap_api {
	struct cap_ctx *c;
	struct evhttp *http;
	struct waiter *waiters;
	size_t nwaiters;
	struct httpcap *cap; /* CAP_HTTP_CONN_MAX connections */
};

/* ---- answering ----------------------------------------------------- */

static void
send_raw(struct evhttp_request *req, int code, const char *type,
    const char *csp, const void *p, size_t n)
{
	struct evkeyvalq *hd = evhttp_request_get_output_headers(req);
	struct evbuffer *b = evbuffer_new();

	if (b == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evhttp_add_header(hd, "Content-Type", type);
	evhttp_add_header(hd, "Cache-Control", "no-store");
	evhttp_add_header(hd, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(hd, "Referrer-Policy", "no-referrer");
	if (csp != NULL)
		evhttp_add_header(hd, "Content-Security-Policy", csp);
	if (n > 0 && evbuffer_add(b, p, n) == -1) {
		evbuffer_free(b);
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evhttp_send_reply(req, code, NULL, b);
	evbuffer_free(b);
}

static void
send_json(struct evhttp_request *req, int code, const struct buf *b)
{
	send_raw(req, code, "application/json", DATA_CSP, b->data, b->len);
}

/* {"error":"text"} with code. */
static void
send_err(struct evhttp_request *req, int code, const char *text)
{
	struct buf b;

	buf_init(&b, 4096);
	if (buf_append_str(&b, "{") == -1 ||
	    json_kv_str(&b, "error", text) == -1 ||
	    buf_append_str(&b, "}") == -1)
		evhttp_send_error(req, 500, NULL);
	else
		send_json(req, code, &b);
	buf_reset(&b);
}

/* `"key":` with the comma rule of util/json.h, then a raw value. */
static int
kv_raw(struct buf *out, const char *key, const char *raw)
{
	if (out->len > 0 && out->data[out->len - 1] != '{' &&
	    out->data[out->len - 1] != '[' && buf_append_str(out, ",") == -1)
		return -1;
	if (json_str(out, key) == -1 || buf_append_str(out, ":") == -1)
		return -1;
	return buf_append_str(out, raw);
}

static int
kv_strn(struct buf *out, const char *key, const void *p, size_t n)
{
	if (kv_raw(out, key, "") == -1)
		return -1;
	return json_strn(out, p, n);
}

/* ---- rendering ----------------------------------------------------- */

/* The summary's members; its "problems" count only when count. */
static int
render_summary_members(struct buf *o, const struct cap_msg *m, bool count)
{
	char id[24], when[32];
	struct tm tm;
	size_t i;

	(void)snprintf(id, sizeof(id), "%" PRIu64, m->id);
	(void)gmtime_r(&m->received, &tm);
	(void)strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (json_kv_str(o, "id", id) == -1 ||
	    json_kv_str(o, "received", when) == -1 ||
	    json_kv_str(o, "from", m->from) == -1 || kv_raw(o, "to", "[") == -1)
		return -1;
	for (i = 0; i < m->nto; i++)
		if ((i > 0 && buf_append_str(o, ",") == -1) ||
		    json_str(o, m->to[i]) == -1)
			return -1;
	if (buf_append_str(o, "]") == -1 ||
	    json_kv_str(o, "helo", m->helo) == -1 ||
	    json_kv_str(o, "client", m->client) == -1 ||
	    kv_raw(o, "tls", m->tls ? "true" : "false") == -1 ||
	    (m->auth != NULL ? json_kv_str(o, "auth", m->auth)
	                     : kv_raw(o, "auth", "null")) == -1 ||
	    json_kv_u64(o, "size", m->len) == -1 ||
	    json_kv_str(o, "subject", m->subject) == -1 ||
	    json_kv_str(o, "header_from", m->header_from) == -1 ||
	    json_kv_str(o, "header_to", m->header_to) == -1)
		return -1;
	return count ? json_kv_u64(o, "problems", m->nproblems) : 0;
}

static int
render_summary(struct buf *o, const struct cap_msg *m)
{
	if (buf_append_str(o, "{") == -1 ||
	    render_summary_members(o, m, true) == -1)
		return -1;
	return buf_append_str(o, "}");
}

static int
render_headers(struct buf *o, const struct cap_msg *m)
{
	struct buf v;
	const char *name;
	size_t pos = 0, nlen;
	bool first = true;
	int r = 0;

	buf_init(&v, HEADER_VALUE_MAX);
	if (kv_raw(o, "headers", "[") == -1)
		r = -1;
	while (r == 0 &&
	       cap_view_next_field(m->data, m->len, &pos, &name, &nlen, &v)) {
		if ((!first && buf_append_str(o, ",") == -1) ||
		    buf_append_str(o, "[") == -1 ||
		    json_strn(o, name, nlen) == -1 ||
		    buf_append_str(o, ",") == -1 ||
		    json_strn(o, v.data != NULL ? (const char *)v.data : "",
		        v.len) == -1 ||
		    buf_append_str(o, "]") == -1)
			r = -1;
		first = false;
	}
	buf_reset(&v);
	return r == -1 ? -1 : buf_append_str(o, "]");
}

static int
render_parts(struct buf *o, const struct cap_msg *m)
{
	struct cap_part_info *p = xcalloc(CAP_PARTS_MAX, sizeof(*p));
	size_t n = cap_body_parts(m->data, m->len, p, CAP_PARTS_MAX), i;
	int r = kv_raw(o, "parts", "[");

	for (i = 0; i < n && r == 0; i++) {
		if ((i > 0 && buf_append_str(o, ",") == -1) ||
		    buf_append_str(o, "{") == -1 ||
		    json_kv_u64(o, "index", p[i].index) == -1 ||
		    json_kv_str(o, "type", p[i].type) == -1 ||
		    (p[i].filename[0] != '\0'
		            ? json_kv_str(o, "filename", p[i].filename)
		            : kv_raw(o, "filename", "null")) == -1 ||
		    json_kv_u64(o, "size", p[i].size) == -1 ||
		    kv_raw(o, "attachment",
		        p[i].attachment ? "true" : "false") == -1 ||
		    buf_append_str(o, "}") == -1)
			r = -1;
	}
	free(p);
	return r == -1 ? -1 : buf_append_str(o, "]");
}

static int
render_problems(struct buf *o, const struct cap_msg *m)
{
	size_t i;

	if (kv_raw(o, "problems", "[") == -1)
		return -1;
	for (i = 0; i < m->nproblems; i++) {
		const struct cap_problem *p = &m->problems[i];

		if ((i > 0 && buf_append_str(o, ",") == -1) ||
		    buf_append_str(o, "{") == -1 ||
		    json_kv_str(o, "rule", p->rule) == -1 ||
		    json_kv_str(o, "ref", p->ref) == -1 ||
		    json_kv_str(o, "detail", p->detail) == -1 ||
		    buf_append_str(o, "}") == -1)
			return -1;
	}
	return buf_append_str(o, "]");
}

/* The summary plus the details; "problems" is the list here. */
static int
render_message(struct buf *o, const struct cap_msg *m)
{
	struct buf text, html;
	bool has_text, has_html;
	int r;

	buf_init(&text, m->len + 16);
	buf_init(&html, m->len + 16);
	has_text = cap_body_first(m->data, m->len, "text/plain", &text);
	has_html = cap_body_first(m->data, m->len, "text/html", &html);
	r = buf_append_str(o, "{");
	if (r == 0)
		r = render_summary_members(o, m, false);
	if (r == 0)
		r = render_headers(o, m);
	if (r == 0)
		r = has_text
		        ? kv_strn(o, "text",
		              text.data != NULL ? (const char *)text.data : "",
		              text.len)
		        : kv_raw(o, "text", "null");
	if (r == 0)
		r = kv_raw(o, "html", has_html ? "true" : "false");
	if (r == 0)
		r = render_parts(o, m);
	if (r == 0)
		r = render_problems(o, m);
	if (r == 0)
		r = buf_append_str(o, "}");
	buf_reset(&text);
	buf_reset(&html);
	return r;
}

/* ---- the routes ---------------------------------------------------- */

static void
get_list(struct cap_api *a, struct evhttp_request *req,
    const struct cap_filter *f)
{
	const struct cap_msg *m;
	struct buf o;
	size_t i, total = 0, shown = 0;
	int r = 0;

	buf_init(&o, CAP_JSON_MAX);
	r = buf_append_str(&o, "{\"messages\":[");
	for (i = 0; r == 0 && (m = cap_store_nth(a->c->store, i)) != NULL;
	     i++) {
		if (!cap_filter_match(f, m->id, (const char *const *)m->to,
		        m->nto, m->subject))
			continue;
		total++;
		if (f->limit != 0 && shown >= f->limit)
			continue;
		if ((shown > 0 && buf_append_str(&o, ",") == -1) ||
		    render_summary(&o, m) == -1)
			r = -1;
		shown++;
	}
	if (r == 0)
		r = buf_append_str(&o, "]");
	if (r == 0)
		r = json_kv_u64(&o, "total", total);
	if (r == 0)
		r = buf_append_str(&o, "}");
	if (r == -1)
		send_err(req, 500, "the answer is too big: use limit=");
	else
		send_json(req, 200, &o);
	buf_reset(&o);
}

static void
get_message(struct evhttp_request *req, const struct cap_msg *m)
{
	struct buf o;

	buf_init(&o, CAP_JSON_MAX);
	if (render_message(&o, m) == -1)
		send_err(req, 500, "the answer is too big or memory is short");
	else
		send_json(req, 200, &o);
	buf_reset(&o);
}

static void
get_html(struct evhttp_request *req, const struct cap_msg *m)
{
	struct buf h;

	buf_init(&h, m->len + 16);
	if (!cap_body_first(m->data, m->len, "text/html", &h))
		send_err(req, 404, "the message has no text/html part");
	else
		send_raw(req, 200, "text/html; charset=utf-8", HTML_CSP, h.data,
		    h.len);
	buf_reset(&h);
}

/* A file name a browser may use: [A-Za-z0-9._-], no leading dot. */
static void
safe_name(const char *in, size_t index, char *dst, size_t dstsz)
{
	size_t i, o = 0;

	for (i = 0; in[i] != '\0' && o + 1 < dstsz && o < 100; i++) {
		char ch = in[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		        (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
		        ch == '_'))
			ch = '_';
		if (o == 0 && ch == '.')
			ch = '_';
		dst[o++] = ch;
	}
	dst[o] = '\0';
	if (o == 0)
		(void)snprintf(dst, dstsz, "part-%zu", index);
}

static void
get_part(struct evhttp_request *req, const struct cap_msg *m, uint64_t n)
{
	struct cap_part_info info;
	char name[128], disp[160];
	struct buf b;

	buf_init(&b, m->len + 16);
	if (n > SIZE_MAX ||
	    !cap_body_part(m->data, m->len, (size_t)n, &info, &b)) {
		send_err(req, 404, "no such part");
		buf_reset(&b);
		return;
	}
	safe_name(info.filename, info.index, name, sizeof(name));
	(void)snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", name);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Disposition", disp);
	send_raw(req, 200, "application/octet-stream", DATA_CSP, b.data, b.len);
	buf_reset(&b);
}

static void
delete_all(struct cap_api *a, struct evhttp_request *req)
{
	struct buf o;

	buf_init(&o, 256);
	(void)buf_printf(&o, "{\"deleted\":%zu}",
	    cap_store_delete_all(a->c->store));
	send_json(req, 200, &o);
	buf_reset(&o);
}

static void
delete_one(struct cap_api *a, struct evhttp_request *req, uint64_t id)
{
	struct buf o;

	if (!cap_store_delete(a->c->store, id)) {
		send_err(req, 404, "no such message");
		return;
	}
	buf_init(&o, 256);
	(void)buf_append_str(&o, "{\"deleted\":1}");
	send_json(req, 200, &o);
	buf_reset(&o);
}

static int
render_faults(struct buf *o, const struct cap_faults *f)
{
	return buf_printf(o,
	    "{\"rcpt_tempfail\":%g,\"rcpt_permfail\":%g,\"msg_tempfail\":%g,"
	    "\"msg_permfail\":%g,\"delay_ms\":%u,\"drop_mid_data\":%g}",
	    f->rcpt_tempfail, f->rcpt_permfail, f->msg_tempfail,
	    f->msg_permfail, f->delay_ms, f->drop_mid_data);
}

static void
faults(struct cap_api *a, struct evhttp_request *req, bool put)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	char err[256];
	struct buf o;

	if (put) {
		size_t n = evbuffer_get_length(in);
		const char *p = (const char *)evbuffer_pullup(in, -1);

		if (!cap_faults_parse(p != NULL ? p : "", n, &a->c->faults, err,
		        sizeof(err))) {
			send_err(req, 400, err);
			return;
		}
		log_info("event=capture_faults rcpt_tempfail=%g "
		         "rcpt_permfail=%g msg_tempfail=%g msg_permfail=%g "
		         "delay_ms=%u drop_mid_data=%g",
		    a->c->faults.rcpt_tempfail, a->c->faults.rcpt_permfail,
		    a->c->faults.msg_tempfail, a->c->faults.msg_permfail,
		    a->c->faults.delay_ms, a->c->faults.drop_mid_data);
	}
	buf_init(&o, 1024);
	if (render_faults(&o, &a->c->faults) == -1)
		evhttp_send_error(req, 500, NULL);
	else
		send_json(req, 200, &o);
	buf_reset(&o);
}

static void
get_page(struct evhttp_request *req, const char *name)
{
	size_t i;

	for (i = 0; i < capture_nassets; i++)
		if (strcmp(capture_assets[i].name, name) == 0) {
			send_raw(req, 200, obs_asset_type(name), PAGE_CSP,
			    capture_assets[i].data, capture_assets[i].len);
			return;
		}
	send_err(req, 404, "no such file");
}

/* ---- /api/wait ----------------------------------------------------- */

static void
waiter_free(struct waiter *w)
{
	struct cap_api *a = w->api;

	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		a->waiters = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	a->nwaiters--;
	event_free(w->timer);
	if (w->peer != NULL)
		event_free(w->peer);
	free(w);
}

static void
on_wait_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;

	(void)fd;
	(void)what;
	send_err(w->req, 408, "timeout");
	waiter_free(w);
}

/*
 * evhttp reads nothing from a connection while its request waits for
 * an answer, so it does not see the client leave: without this, a gone
 * client's wait (a page reloaded, a search typed, a test's own socket
 * timeout) would hold its place among CAP_WAITERS_MAX, and its
 * connection, until its own timeout (up to 300 s).
 */
static void
on_wait_peer(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;
	struct evhttp_connection *evcon;
	ssize_t r;
	char ch;

	(void)what;
	r = recv(fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
	if (r == -1 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		(void)event_add(w->peer, NULL);
		return;
	}
	if (r > 0)
		return; /* its next request, pipelined: it still waits */
	/* End of file or an error: nobody will read the answer. */
	log_debug("event=capture_wait_gone");
	evcon = evhttp_request_get_connection(w->req);
	waiter_free(w);
	if (evcon != NULL)
		evhttp_connection_free(evcon); /* and the request with it */
}

/* Watch w's connection for the client's hang-up (on_wait_peer). */
static void
watch_peer(struct cap_api *a, struct waiter *w)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(w->req);
	struct bufferevent *bev =
	    evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
	evutil_socket_t fd = bev != NULL ? bufferevent_getfd(bev) : -1;

	if (fd == -1)
		return;
	w->peer = event_new(a->c->base, fd, EV_READ, on_wait_peer, w);
	if (w->peer != NULL)
		(void)event_add(w->peer, NULL);
}

static const struct cap_msg *
first_match(struct cap_api *a, const struct cap_filter *f)
{
	const struct cap_msg *m, *found = NULL;
	size_t i;

	/* Newest first: the last match seen is the oldest one. */
	for (i = 0; (m = cap_store_nth(a->c->store, i)) != NULL; i++) {
		if (m->id <= f->since)
			break;
		if (cap_filter_match(f, m->id, (const char *const *)m->to,
		        m->nto, m->subject))
			found = m;
	}
	return found;
}

static void
send_summary(struct evhttp_request *req, const struct cap_msg *m)
{
	struct buf o;

	buf_init(&o, CAP_JSON_MAX);
	if (render_summary(&o, m) == -1)
		send_err(req, 500, "no memory");
	else
		send_json(req, 200, &o);
	buf_reset(&o);
}

static void
get_wait(struct cap_api *a, struct evhttp_request *req,
    const struct cap_filter *f)
{
	const struct cap_msg *m = first_match(a, f);
	struct timeval tv = { (time_t)f->timeout, 0 };
	struct waiter *w;

	if (m != NULL) {
		send_summary(req, m);
		return;
	}
	if (f->timeout == 0) {
		send_err(req, 408, "timeout");
		return;
	}
	if (a->nwaiters >= CAP_WAITERS_MAX) {
		send_err(req, 503, "too many waits held: try again");
		return;
	}
	w = xcalloc(1, sizeof(*w));
	w->api = a;
	w->req = req;
	w->f = *f;
	if ((w->timer = evtimer_new(a->c->base, on_wait_timeout, w)) == NULL) {
		free(w);
		send_err(req, 500, "no memory");
		return;
	}
	(void)evtimer_add(w->timer, &tv);
	watch_peer(a, w);
	w->next = a->waiters;
	if (a->waiters != NULL)
		a->waiters->prev = w;
	a->waiters = w;
	a->nwaiters++;
}

void
cap_api_stored(struct cap_api *a, const struct cap_msg *m)
{
	struct waiter *w, *next;

	if (a == NULL)
		return;
	for (w = a->waiters; w != NULL; w = next) {
		next = w->next;
		if (!cap_filter_match(&w->f, m->id, (const char *const *)m->to,
		        m->nto, m->subject))
			continue;
		send_summary(w->req, m);
		waiter_free(w);
	}
}

/* ---- dispatch ------------------------------------------------------ */

static enum cap_method
method_of(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
		return CAP_GET;
	case EVHTTP_REQ_HEAD:
		return CAP_HEAD;
	case EVHTTP_REQ_PUT:
		return CAP_PUT;
	case EVHTTP_REQ_DELETE:
		return CAP_DELETE;
	default:
		return CAP_OTHER;
	}
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct cap_api *a = arg;
	const char *uri = evhttp_request_get_uri(req), *q, *host;
	const struct cap_msg *m = NULL;
	struct cap_filter f;
	struct cap_req r;
	const char *why;
	size_t plen;

	if (uri == NULL)
		uri = "";
	host =
	    evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
	if (!a->c->allow_remote &&
	    !cap_host_is_local(host, host != NULL ? strlen(host) : 0)) {
		log_debug("event=capture_http_refused host=%s", LOG_ESC(host));
		send_err(req, 403,
		    "the Host is not this machine's name (DNS rebinding?): "
		    "open the page as http://127.0.0.1:PORT/ or "
		    "http://localhost:PORT/");
		return;
	}
	q = strchr(uri, '?');
	plen = q != NULL ? (size_t)(q - uri) : strlen(uri);
	cap_route(method_of(req), uri, plen, &r);
	log_debug("event=capture_http target=%s route=%d", LOG_ESC(uri),
	    (int)r.route);
	if (r.route >= CAP_R_MSG && r.route <= CAP_R_PART &&
	    (m = cap_store_get(a->c->store, r.id)) == NULL &&
	    r.route != CAP_R_DELETE_MSG) {
		send_err(req, 404, "no such message");
		return;
	}
	if ((r.route == CAP_R_LIST || r.route == CAP_R_WAIT) &&
	    !cap_filter_parse(q != NULL ? q + 1 : "",
	        q != NULL ? strlen(q + 1) : 0, &f, &why)) {
		send_err(req, 400, why);
		return;
	}
	switch (r.route) {
	case CAP_R_NONE:
		send_err(req, 404, "not found: see docs/capture.md");
		return;
	case CAP_R_BAD_METHOD:
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET, HEAD, PUT, DELETE");
		send_err(req, 405, "method not allowed here");
		return;
	case CAP_R_PAGE:
		get_page(req, r.page);
		return;
	case CAP_R_LIST:
		get_list(a, req, &f);
		return;
	case CAP_R_DELETE_ALL:
		delete_all(a, req);
		return;
	case CAP_R_MSG:
		get_message(req, m);
		return;
	case CAP_R_DELETE_MSG:
		delete_one(a, req, r.id);
		return;
	case CAP_R_RAW:
		send_raw(req, 200, "message/rfc822", DATA_CSP, m->data, m->len);
		return;
	case CAP_R_HTML:
		get_html(req, m);
		return;
	case CAP_R_PART:
		get_part(req, m, r.part);
		return;
	case CAP_R_WAIT:
		get_wait(a, req, &f);
		return;
	case CAP_R_FAULTS_GET:
	case CAP_R_FAULTS_PUT:
		faults(a, req, r.route == CAP_R_FAULTS_PUT);
		return;
	}
}

/* ---- life ---------------------------------------------------------- */

struct cap_api *
cap_api_new(struct cap_ctx *c, int fd, struct why *why)
{
	struct cap_api *a = xcalloc(1, sizeof(*a));

	struct evhttp_bound_socket *bs;

	a->c = c;
	if ((a->http = evhttp_new(c->base)) == NULL ||
	    (a->cap = httpcap_new(c->base, a->http, CAP_HTTP_CONN_MAX,
	         "capture_http_busy")) == NULL) {
		cap_api_free(a);
		why_set(why, WHY_TEMP, ENOMEM, "capture: HTTP");
		return NULL;
	}
	evhttp_set_timeout(a->http, CAP_HTTP_TIMEOUT);
	evhttp_set_max_headers_size(a->http, CAP_HTTP_HEADERS_MAX);
	evhttp_set_max_body_size(a->http, CAP_HTTP_BODY_MAX);
	evhttp_set_allowed_methods(a->http,
	    EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
	        EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
	        EVHTTP_REQ_PATCH);
	evhttp_set_gencb(a->http, on_request, a);
	if ((bs = evhttp_accept_socket_with_handle(a->http, fd)) == NULL) {
		why_set(why, WHY_TEMP, errno, "capture: HTTP listen");
		(void)close(fd);
		cap_api_free(a);
		return NULL;
	}
	httpcap_listen(a->cap, evhttp_bound_socket_get_listener(bs));
	return a;
}

void
cap_api_release(struct cap_api *a)
{
	while (a != NULL && a->waiters != NULL) {
		send_err(a->waiters->req, 503, "shutting down");
		waiter_free(a->waiters);
	}
}

void
cap_api_free(struct cap_api *a)
{
	if (a == NULL)
		return;
	cap_api_release(a);
	httpcap_detach(a->cap);
	if (a->http != NULL)
		evhttp_free(a->http); /* closes every connection */
	httpcap_free(a->cap);
	free(a);
}
