/* SPDX-License-Identifier: ISC */
/*
 * obs/http.c - the metrics and dashboard listener (http.h).
 *
 * At OBS_HTTP_CONN_MAX connections the listener stops accepting until
 * one closes (obs/httpcap.h).
 * XXX evhttp's timeout restarts with every read, so a client that
 * trickles a header byte every few seconds keeps its slot; 64 such
 * local clients would block scrapes (never mail: this is not a session
 * loop). libevent 2.1 has no whole-request deadline to set.
 */
#include "obs/http.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
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
#include <event2/thread.h>

#include "conf/conf.h"
#include "obs/assets.h"
#include "obs/httpcap.h"
#include "obs/httpreq.h"
#include "obs/metrics.h"
#include "obs/obs.h"
#include "queue/sched.h"
#include "queue/spool.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define METRICS_OUT_MAX (8u << 20) /* bytes of a /metrics answer */
#define PROM_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define STATUS_OUT_MAX (2u << 20) /* bytes of an /api/status answer */
#define HOLD_NOTES 128            /* HELD reasons remembered */
#define HOLD_TEXT_MAX 200         /* bytes of one reason kept */

/*
 * default-src 'none': the page may load its own script, style and JSON
 * and nothing else; no inline script, no frames, no forms.
 */
#define CSP                                                                    \
	"default-src 'none'; script-src 'self'; style-src 'self'; "            \
	"connect-src 'self'; img-src 'self'; base-uri 'none'; "                \
	"form-action 'none'; frame-ancestors 'none'"

struct hold_note {
	char id[SPOOL_ID_MAX]; /* "" when free */
	char text[HOLD_TEXT_MAX];
};

struct held_msg {
	char id[SPOOL_ID_MAX];
	char *from;
	int64_t arrival;
};

struct obs_http {
	int fd; /* the bound socket, until evhttp owns it */
	char *address;
	char *token; /* conf_token_load(), or NULL: none asked */
	size_t token_len;
	const char *token_file;
	const struct obs_asset *assets[OBS_HTTP_ROUTE_COUNT];

	struct event_base *base;
	struct evhttp *http;
	struct httpcap *cap; /* OBS_HTTP_CONN_MAX connections */
	pthread_t thread;
	bool running;

	/* The held messages, refreshed on the HTTP thread only. */
	struct sched *sched;
	struct spool *spool;
	time_t held_at;
	struct held_msg held[OBS_HTTP_HELD_MAX];
	size_t nheld;

	/* Reasons of HELD events: written by any emitting thread. */
	pthread_mutex_t notes_mtx;
	struct hold_note notes[HOLD_NOTES];
	size_t notes_next;
	bool sink_added;
};

/* ---- the reasons messages were held (an obs sink) ------------------ */

static void
note_forget(struct obs_http *h, const char *id)
{
	size_t i;

	for (i = 0; i < HOLD_NOTES; i++)
		if (strcmp(h->notes[i].id, id) == 0)
			h->notes[i].id[0] = '\0';
}

/* Called under the obs lock: copy and return (obs.h). */
static void
on_event(void *arg, uint64_t seq, const char *line, size_t len,
    const struct obs_event *ev)
{
	struct obs_http *h = arg;
	struct hold_note *n;

	(void)seq;
	(void)line;
	(void)len;
	if (ev->id == NULL || strlen(ev->id) >= SPOOL_ID_MAX)
		return;
	if (ev->kind != OBS_HELD && ev->kind != OBS_RELEASED &&
	    ev->kind != OBS_DELETED && ev->kind != OBS_REMOVED)
		return;
	pthread_mutex_lock(&h->notes_mtx);
	note_forget(h, ev->id);
	if (ev->kind == OBS_HELD && ev->text != NULL) {
		/* A ring: the oldest reason gives way. */
		n = &h->notes[h->notes_next];
		h->notes_next = (h->notes_next + 1) % HOLD_NOTES;
		memcpy(n->id, ev->id, strlen(ev->id) + 1);
		/* A cut is harmless: json_str() shows a torn character. */
		(void)snprintf(n->text, sizeof(n->text), "%s", ev->text);
	}
	pthread_mutex_unlock(&h->notes_mtx);
}

/* The reason id was held, copied into out, or false when not known. */
static bool
note_find(struct obs_http *h, const char *id, char *out, size_t outsz)
{
	bool found = false;
	size_t i;

	pthread_mutex_lock(&h->notes_mtx);
	for (i = 0; i < HOLD_NOTES && !found; i++)
		if (strcmp(h->notes[i].id, id) == 0) {
			(void)snprintf(out, outsz, "%s", h->notes[i].text);
			found = true;
		}
	pthread_mutex_unlock(&h->notes_mtx);
	return found;
}

/* ---- the held messages, from the spool ----------------------------- */

static void
held_clear(struct obs_http *h)
{
	size_t i;

	for (i = 0; i < h->nheld; i++)
		free(h->held[i].from);
	h->nheld = 0;
}

/*
 * Which messages are held (the scheduler knows), with their sender and
 * arrival (their envelopes), at most every OBS_HTTP_HELD_REFRESH
 * seconds: each look walks the queue and reads envelopes.
 */
static void
held_refresh(struct obs_http *h)
{
	char ids[OBS_HTTP_HELD_MAX][SPOOL_ID_MAX];
	struct sched_stats st;
	struct spool_env env;
	struct why why;
	time_t now = time(NULL);
	size_t i, n;

	if (h->sched == NULL || h->spool == NULL ||
	    (h->held_at != 0 && now >= h->held_at &&
	        now - h->held_at < OBS_HTTP_HELD_REFRESH))
		return;
	h->held_at = now;
	held_clear(h);
	n = sched_stats(h->sched, &st, ids, OBS_HTTP_HELD_MAX);
	for (i = 0; i < n && i < OBS_HTTP_HELD_MAX; i++) {
		struct held_msg *m;

		memset(&env, 0, sizeof(env));
		if (spool_env_load(h->spool, ids[i], &env, &why) == -1)
			continue; /* deleted meanwhile, most likely */
		m = &h->held[h->nheld++];
		memcpy(m->id, ids[i], sizeof(m->id));
		m->from = xstrdup(env.sender);
		m->arrival = (int64_t)env.arrival;
		spool_env_free(&env);
	}
}

/* `"held_messages":[{"id":..,"from":..,"arrival":..,"reason":..}]` */
static int
held_render(struct obs_http *h, struct buf *out)
{
	char reason[HOLD_TEXT_MAX];
	size_t i;

	held_refresh(h);
	if (buf_append_str(out, "\"held_messages\":[") == -1)
		return -1;
	for (i = 0; i < h->nheld; i++) {
		const struct held_msg *m = &h->held[i];

		if ((i > 0 && buf_append_str(out, ",") == -1) ||
		    buf_append_str(out, "{") == -1 ||
		    json_kv_str(out, "id", m->id) == -1 ||
		    json_kv_str(out, "from", m->from) == -1 ||
		    json_kv_i64(out, "arrival", m->arrival) == -1 ||
		    (note_find(h, m->id, reason, sizeof(reason)) &&
		        json_kv_str(out, "reason", reason) == -1) ||
		    buf_append_str(out, "}") == -1)
			return -1;
	}
	return buf_append_str(out, "]");
}

/* ---- answering ----------------------------------------------------- */

static void
common_headers(struct evhttp_request *req, const char *type)
{
	struct evkeyvalq *hd = evhttp_request_get_output_headers(req);

	evhttp_add_header(hd, "Content-Type", type);
	evhttp_add_header(hd, "Cache-Control", "no-store");
	evhttp_add_header(hd, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(hd, "Content-Security-Policy", CSP);
	evhttp_add_header(hd, "Referrer-Policy", "no-referrer");
	evhttp_add_header(hd, "X-Frame-Options", "DENY");
}

static void
send_body(struct evhttp_request *req, int code, const char *reason,
    const char *type, const void *p, size_t n)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	common_headers(req, type);
	if (n > 0 && evbuffer_add(b, p, n) == -1) {
		evbuffer_free(b);
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evhttp_send_reply(req, code, reason, b);
	evbuffer_free(b);
}

static void
send_error(struct evhttp_request *req, enum obs_http_status st)
{
	struct evkeyvalq *hd = evhttp_request_get_output_headers(req);
	const char *reason = "Bad Request", *text = "bad request\n";

	switch (st) {
	case OBS_HTTP_UNAUTHORIZED:
		/* RFC 6750 3: the scheme the client must use. */
		evhttp_add_header(hd, "WWW-Authenticate",
		    "Bearer realm=\"tern\"");
		reason = "Unauthorized";
		text = "a bearer token is required: Authorization: Bearer "
		       "TOKEN (http_token_file)\n";
		break;
	case OBS_HTTP_NOT_FOUND:
		reason = "Not Found";
		text = "not found: try /, /metrics or /api/status\n";
		break;
	case OBS_HTTP_BAD_METHOD:
		evhttp_add_header(hd, "Allow", "GET, HEAD");
		reason = "Method Not Allowed";
		text = "only GET and HEAD\n";
		break;
	case OBS_HTTP_OK:
	case OBS_HTTP_BAD_REQUEST:
		break;
	}
	send_body(req, (int)st, reason, "text/plain; charset=utf-8", text,
	    strlen(text));
}

static void
send_metrics(struct evhttp_request *req)
{
	struct buf out;

	buf_init(&out, METRICS_OUT_MAX);
	if (metrics_render_prometheus(&out) == -1) {
		log_warn("event=http_error path=/metrics error=\"render "
		         "failed: over %u bytes or no memory\"",
		    METRICS_OUT_MAX);
		evhttp_send_error(req, 500, NULL);
	} else
		send_body(req, 200, "OK", PROM_TYPE, out.data, out.len);
	buf_reset(&out);
}

/*
 * metrics_render_json()'s object with "held_messages" added as its
 * last member: `{...}` becomes `{...,"held_messages":[...]}`.
 */
static int
render_status(struct obs_http *h, struct buf *out)
{
	if (metrics_render_json(out) == -1 || out->len < 2 ||
	    out->data[out->len - 1] != '}')
		return -1;
	out->len--; /* reopen the object */
	if (out->data[out->len - 1] != '{' && buf_append_str(out, ",") == -1)
		return -1;
	if (held_render(h, out) == -1)
		return -1;
	return buf_append_str(out, "}");
}

static void
send_status(struct obs_http *h, struct evhttp_request *req)
{
	struct buf out;

	buf_init(&out, STATUS_OUT_MAX);
	if (render_status(h, &out) == -1) {
		log_warn("event=http_error path=/api/status error=\"render "
		         "failed: over %u bytes or no memory\"",
		    STATUS_OUT_MAX);
		evhttp_send_error(req, 500, NULL);
	} else
		send_body(req, 200, "OK", "application/json", out.data,
		    out.len);
	buf_reset(&out);
}

static const char *
method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	}
	return "OTHER";
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct obs_http *h = arg;
	struct obs_http_req r;
	enum obs_http_route route = OBS_HTTP_INDEX;
	enum obs_http_status st;
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	const char *target = evhttp_request_get_uri(req);
	const struct obs_asset *a;

	memset(&r, 0, sizeof(r));
	r.get_or_head = m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD;
	r.target = target != NULL ? target : "";
	r.target_len = strlen(r.target);
	r.auth = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	r.auth_len = r.auth != NULL ? strlen(r.auth) : 0;
	st = obs_http_decide(&r, h->token, h->token_len, &route);
	log_debug("event=http_request method=%s target=%s status=%d",
	    method_name(m), LOG_ESCN(r.target, r.target_len), (int)st);
	if (st != OBS_HTTP_OK) {
		send_error(req, st);
		return;
	}
	switch (route) {
	case OBS_HTTP_METRICS:
		send_metrics(req);
		return;
	case OBS_HTTP_STATUS:
		send_status(h, req);
		return;
	case OBS_HTTP_INDEX:
	case OBS_HTTP_JS:
	case OBS_HTTP_CSS:
	case OBS_HTTP_ROUTE_COUNT:
		break;
	}
	a = h->assets[route];
	send_body(req, 200, "OK", obs_asset_type(a->name), a->data, a->len);
}

/* ---- life ---------------------------------------------------------- */

static const char *const asset_names[OBS_HTTP_ROUTE_COUNT] = {
	[OBS_HTTP_INDEX] = "index.html",
	[OBS_HTTP_JS] = "dashboard.js",
	[OBS_HTTP_CSS] = "dashboard.css",
};

static void
find_assets(struct obs_http *h)
{
	size_t r, i;

	for (r = 0; r < OBS_HTTP_ROUTE_COUNT; r++) {
		if (asset_names[r] == NULL)
			continue;
		for (i = 0; i < obs_nassets; i++)
			if (strcmp(obs_assets[i].name, asset_names[r]) == 0)
				h->assets[r] = &obs_assets[i];
		if (h->assets[r] == NULL)
			PANIC("dashboard file %s not compiled in",
			    asset_names[r]);
	}
}

static int
bind_http(const struct conf_obs *o, struct why *why)
{
	int fd, on = 1;

	fd = socket(o->http_sa.ss_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return why_set(why, WHY_PERM, errno, "http_listen: socket");
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (const struct sockaddr *)&o->http_sa, o->http_salen) ==
	        -1 ||
	    listen(fd, 128) == -1) {
		why_set(why, WHY_PERM, errno,
		    "http_listen %s: bind; is another server using this "
		    "port? Change http_listen in [observability]",
		    o->http_listen);
		(void)close(fd);
		return -1;
	}
	return fd;
}

struct obs_http *
obs_http_new(const struct conf *c, struct why *why)
{
	struct obs_http *h;

	h = xcalloc(1, sizeof(*h));
	h->fd = -1;
	pthread_mutex_init(&h->notes_mtx, NULL);
	find_assets(h);
	h->token_file = c->obs.http_token_file;
	if ((h->fd = bind_http(&c->obs, why)) == -1)
		goto fail;
	h->address = xstrdup(c->obs.http_listen);
	return h;
fail:
	obs_http_free(h);
	return NULL;
}

static void *
serve(void *arg)
{
	struct obs_http *h = arg;

	(void)event_base_dispatch(h->base);
	return NULL;
}

static int
setup(struct obs_http *h, struct why *why)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct evhttp_bound_socket *bs;

	/* Another thread stops this base: libevent must lock it. */
	(void)pthread_once(&once, (void (*)(void))evthread_use_pthreads);
	if ((h->base = event_base_new()) == NULL ||
	    (h->http = evhttp_new(h->base)) == NULL ||
	    (h->cap = httpcap_new(h->base, h->http, OBS_HTTP_CONN_MAX,
	         "http_busy")) == NULL)
		return why_set(why, WHY_TEMP, ENOMEM, "http: event base");
	evhttp_set_timeout(h->http, OBS_HTTP_TIMEOUT);
	evhttp_set_max_headers_size(h->http, OBS_HTTP_HEADERS_MAX);
	evhttp_set_max_body_size(h->http, OBS_HTTP_BODY_MAX);
	/* Every method evhttp knows reaches on_request, which says 405:
	 * left to evhttp, they would be 501. */
	evhttp_set_allowed_methods(h->http,
	    EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
	        EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
	        EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(h->http, on_request, h);
	if ((bs = evhttp_accept_socket_with_handle(h->http, h->fd)) == NULL)
		return why_set(why, WHY_TEMP, errno, "http: listen");
	h->fd = -1; /* evhttp's now */
	httpcap_listen(h->cap, evhttp_bound_socket_get_listener(bs));
	return 0;
}

int
obs_http_start(struct obs_http *h, struct sched *sched, const char *queue_dir,
    struct why *why)
{
	struct why swhy;
	int err;

	/* As the service user, like the webhook's (conf_token_load()). */
	if (h->token_file != NULL) {
		if (conf_token_load("http_token_file", h->token_file, &h->token,
		        why) == -1)
			return -1;
		h->token_len = strlen(h->token);
	}
	if (setup(h, why) == -1)
		return -1;
	h->sched = sched;
	/* Without the spool the page still shows every number. */
	if ((h->spool = spool_open_readonly(queue_dir, &swhy)) == NULL)
		log_warn("event=http_no_spool error=%s", LOG_ESC(swhy.text));
	obs_add_sink(on_event, h);
	h->sink_added = true;
	if ((err = pthread_create(&h->thread, NULL, serve, h)) != 0)
		return why_set(why, WHY_TEMP, err, "http: thread");
	h->running = true;
	log_info("event=listening listener=http address=%s token=%s",
	    LOG_ESC(h->address), h->token_len > 0 ? "yes" : "no");
	return 0;
}

void
obs_http_free(struct obs_http *h)
{
	if (h == NULL)
		return;
	if (h->running) {
		(void)event_base_loopexit(h->base, NULL);
		(void)pthread_join(h->thread, NULL);
	}
	if (h->sink_added)
		obs_remove_sink(on_event, h);
	httpcap_detach(h->cap);
	if (h->http != NULL)
		evhttp_free(h->http); /* closes every connection */
	httpcap_free(h->cap);
	if (h->base != NULL)
		event_base_free(h->base);
	if (h->fd != -1)
		(void)close(h->fd);
	spool_close(h->spool);
	held_clear(h);
	pthread_mutex_destroy(&h->notes_mtx);
	if (h->token != NULL) {
		explicit_bzero(h->token, h->token_len);
		free(h->token);
	}
	free(h->address);
	free(h);
}
