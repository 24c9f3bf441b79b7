/* SPDX-License-Identifier: ISC */
/*
 * obs/events.c - the event socket (see events.h): a ring the sink fills
 * under a mutex, and a libevent thread that copies from it to each
 * consumer's capped output buffer.
 * Trust: see events.h.
 */
#include "obs/events.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "obs/evring.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/log.h"
#include "util/str.h"
#include "util/usock.h"
#include "util/xmalloc.h"

#define SEQ_DIGITS_MAX 20 /* UINT64_MAX */

struct consumer {
	struct events *ev;
	struct bufferevent *bev;
	struct event *hello; /* the wait for a first line */
	uint64_t pos;        /* ring position of the next event to send */
	uint64_t last_seq;   /* the last event it has (for the overflow) */
	uid_t uid;
	bool started; /* events flow */
	bool cut;     /* its last line is queued: close once it is out */
	struct consumer *next, *prev;
};

struct events {
	char *path;
	pthread_t thread;
	bool running;
	struct event_base *base;
	struct evconnlistener *evl;
	struct event *wake;
	struct consumer *consumers;
	/* Written by the thread, read by the sink: with nobody connected
	 * an event is only kept in the ring, and nothing is woken (a
	 * wake-up per event costs the server several per cent). */
	atomic_size_t nconsumers;
	/* Shared with the sink: mtx guards what follows. */
	pthread_mutex_t mtx;
	struct evring *ring;
	uint64_t last_seq; /* the newest event's seq */
	bool wake_pending; /* wake is active: no need to activate it again */
};

/* ---- the first line ------------------------------------------------ */

enum events_hello
events_hello_parse(const char *p, size_t n, uint64_t *seq_out)
{
	uint64_t v = 0;
	size_t i;

	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (n == 0)
		return EVENTS_HELLO_START;
	if (n < 7 || memcmp(p, "since ", 6) != 0 || n - 6 > SEQ_DIGITS_MAX)
		return EVENTS_HELLO_BAD;
	for (i = 6; i < n; i++) {
		if (!ascii_is_digit(p[i]))
			return EVENTS_HELLO_BAD;
		if (v > (UINT64_MAX - (uint64_t)(p[i] - '0')) / 10)
			return EVENTS_HELLO_BAD; /* past UINT64_MAX */
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*seq_out = v;
	return EVENTS_HELLO_SINCE;
}

int
events_socket_path(const char *data_dir, char *out, size_t outsz)
{
	struct sockaddr_un su;
	int n;

	n = snprintf(out, outsz, "%s/%s", data_dir, EVENTS_SOCKET_NAME);
	if (n < 0 || (size_t)n >= outsz || (size_t)n >= sizeof(su.sun_path))
		return -1;
	return 0;
}

/* ---- consumers (on the socket's thread) ---------------------------- */

static void
consumer_free(struct consumer *c)
{
	struct events *ev = c->ev;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		ev->consumers = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	atomic_fetch_sub(&ev->nconsumers, 1);
	event_free(c->hello);
	bufferevent_free(c->bev);
	free(c);
}

/*
 * Queue the consumer's last line and close once it has left (or after
 * EVENTS_CUT_GRACE without progress). `line` is a JSON object.
 */
static void
cut(struct consumer *c, const struct buf *line)
{
	struct timeval tv = { EVENTS_CUT_GRACE, 0 };
	struct evbuffer *out = bufferevent_get_output(c->bev);

	c->cut = true;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	evbuffer_add(out, line->data, line->len);
	evbuffer_add(out, "\n", 1);
}

static void
cut_overflow(struct consumer *c)
{
	struct buf b;

	buf_init(&b, 128);
	(void)buf_append_str(&b, "{");
	(void)json_kv_str(&b, "event", "overflow");
	(void)json_kv_u64(&b, "seq", c->last_seq);
	(void)buf_append_str(&b, "}");
	log_info("event=events_overflow uid=%ld seq=%llu", (long)c->uid,
	    (unsigned long long)c->last_seq);
	cut(c, &b);
	buf_reset(&b);
}

static void
cut_error(struct consumer *c, const char *text)
{
	struct buf b;

	buf_init(&b, 512);
	(void)buf_append_str(&b, "{");
	(void)json_kv_str(&b, "event", "error");
	(void)json_kv_str(&b, "text", text);
	(void)buf_append_str(&b, "}");
	cut(c, &b);
	buf_reset(&b);
}

/*
 * Copy what c has not had yet from the ring into its output, up to its
 * cap; the rest waits in the ring until the output drains (on_write).
 * Once the ring has dropped an event c has not had, c is cut. Under
 * ev->mtx.
 */
static void
feed(struct consumer *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const struct evring *ring = c->ev->ring;
	const char *line;
	uint64_t seq;
	size_t len;

	if (!c->started || c->cut)
		return;
	if (c->pos < evring_begin(ring)) {
		cut_overflow(c);
		return;
	}
	for (; evring_get(ring, c->pos, &seq, &line, &len); c->pos++) {
		if (evbuffer_get_length(out) + len + 1 > EVENTS_OUTBUF_MAX)
			return;
		evbuffer_add(out, line, len);
		evbuffer_add(out, "\n", 1);
		c->last_seq = seq;
	}
}

static void
start(struct consumer *c)
{
	c->started = true;
	event_del(c->hello);
	pthread_mutex_lock(&c->ev->mtx);
	feed(c);
	pthread_mutex_unlock(&c->ev->mtx);
}

/* "since SEQ": go back to the first event after SEQ the ring holds. */
static void
rewind_to(struct consumer *c, uint64_t seq)
{
	uint64_t pos;

	pthread_mutex_lock(&c->ev->mtx);
	pos = evring_after(c->ev->ring, seq);
	/* Never past where it joined: a SEQ from the future (another
	 * run's numbering) means no replay, not fewer live events. */
	if (pos < c->pos) {
		c->pos = pos;
		c->last_seq = seq;
	}
	pthread_mutex_unlock(&c->ev->mtx);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct consumer *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr p;
	char line[EVENTS_HELLO_MAX];
	uint64_t seq;
	size_t n;

	if (c->cut)
		return;
	p = evbuffer_search(in, "\n", 1, NULL);
	if (p.pos < 0 && evbuffer_get_length(in) < EVENTS_HELLO_MAX)
		return; /* the rest of the line is on its way */
	if (c->started) {
		cut_error(c, "nothing may be sent after the stream started "
		             "(send 'since SEQ' first, within 1 s)");
		return;
	}
	if (p.pos < 0 || (size_t)p.pos >= EVENTS_HELLO_MAX) {
		cut_error(c, "expected 'since SEQ' or an empty line");
		return;
	}
	n = (size_t)p.pos;
	(void)evbuffer_copyout(in, line, n);
	evbuffer_drain(in, n + 1);
	switch (events_hello_parse(line, n, &seq)) {
	case EVENTS_HELLO_SINCE:
		rewind_to(c, seq);
		break;
	case EVENTS_HELLO_START:
		break;
	case EVENTS_HELLO_BAD:
		cut_error(c, "expected 'since SEQ' or an empty line");
		return;
	}
	start(c);
}

/* Half drained (or all, once cut): refill from the ring, or close. */
static void
on_write(struct bufferevent *bev, void *arg)
{
	struct consumer *c = arg;

	if (c->cut) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			consumer_free(c);
		return;
	}
	pthread_mutex_lock(&c->ev->mtx);
	feed(c);
	pthread_mutex_unlock(&c->ev->mtx);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct consumer *c = arg;

	(void)bev;
	if ((what & BEV_EVENT_TIMEOUT) != 0)
		log_info("event=events_consumer_gone uid=%ld reason=\"did "
		         "not read its last line within %d s\"",
		    (long)c->uid, EVENTS_CUT_GRACE);
	consumer_free(c); /* EOF, error or time-out: it is gone */
}

static void
on_hello_wait(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	start(arg);
}

static void
on_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct events *ev = arg;
	struct timeval tv = { EVENTS_HELLO_WAIT_MS / 1000,
		(EVENTS_HELLO_WAIT_MS % 1000) * 1000 };
	struct consumer *c;
	uid_t uid;

	(void)evl;
	(void)sa;
	(void)salen;
	if (!usock_peer_allowed(fd, &uid)) {
		log_warn("event=events_refused uid=%ld msg=\"only root and "
		         "the server's own user (uid %ld) may read events\"",
		    (long)uid, (long)geteuid());
		(void)close(fd);
		return;
	}
	if (atomic_load(&ev->nconsumers) >= EVENTS_CONSUMERS_MAX) {
		log_warn("event=events_refused uid=%ld msg=\"already %d "
		         "consumers\"",
		    (long)uid, EVENTS_CONSUMERS_MAX);
		(void)close(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->ev = ev;
	c->uid = uid;
	c->bev = bufferevent_socket_new(ev->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		(void)close(fd);
		free(c);
		return;
	}
	c->hello = evtimer_new(ev->base, on_hello_wait, c);
	/* Counted before it takes its place: an event after that place
	 * wakes the thread for it. */
	atomic_fetch_add(&ev->nconsumers, 1);
	/* It has what was emitted before it came: it starts at the end. */
	pthread_mutex_lock(&ev->mtx);
	c->pos = evring_end(ev->ring);
	c->last_seq = ev->last_seq;
	pthread_mutex_unlock(&ev->mtx);
	c->next = ev->consumers;
	if (ev->consumers != NULL)
		ev->consumers->prev = c;
	ev->consumers = c;
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, EVENTS_HELLO_MAX);
	bufferevent_setwatermark(c->bev, EV_WRITE, EVENTS_OUTBUF_MAX / 2, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	evtimer_add(c->hello, &tv);
	log_debug("event=events_consumer uid=%ld", (long)uid);
}

/* ---- the thread ---------------------------------------------------- */

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct events *ev = arg;
	struct consumer *c;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&ev->mtx);
	ev->wake_pending = false;
	for (c = ev->consumers; c != NULL; c = c->next)
		feed(c);
	pthread_mutex_unlock(&ev->mtx);
}

void
events_sink(void *arg, uint64_t seq, const char *line, size_t len,
    const struct obs_event *oe)
{
	struct events *ev = arg;
	bool wake;

	(void)oe;
	pthread_mutex_lock(&ev->mtx);
	(void)evring_push(ev->ring, seq, line, len);
	ev->last_seq = seq;
	wake = !ev->wake_pending && atomic_load(&ev->nconsumers) > 0;
	if (wake)
		ev->wake_pending = true;
	pthread_mutex_unlock(&ev->mtx);
	if (wake)
		event_active(ev->wake, 0, 0);
}

static void *
events_main(void *arg)
{
	struct events *ev = arg;

	(void)event_base_loop(ev->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static void
use_threads(void)
{
	(void)evthread_use_pthreads();
}

struct events *
events_open(const char *path, uint64_t last_seq, struct why *why)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct events *ev;
	int fd;

	/* The sink wakes the base from other threads: libevent must
	 * lock, which it learns before the base exists. */
	(void)pthread_once(&once, use_threads);
	if ((fd = usock_listen(path, "event socket", why)) == -1)
		return NULL;
	ev = xcalloc(1, sizeof(*ev));
	ev->path = xstrdup(path);
	ev->last_seq = last_seq;
	ev->ring = evring_new(EVENTS_RING_MAX);
	pthread_mutex_init(&ev->mtx, NULL);
	ev->base = event_base_new();
	if (ev->base == NULL)
		PANIC("event_base_new failed");
	if ((ev->wake = event_new(ev->base, -1, 0, on_wake, ev)) == NULL)
		PANIC("event_new failed");
	ev->evl = evconnlistener_new(ev->base, on_accept, ev,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (ev->evl == NULL) {
		why_set(why, WHY_TEMP, 0, "event socket %s: cannot watch it",
		    path);
		(void)close(fd);
		(void)unlink(path);
		goto fail;
	}
	if ((errno = pthread_create(&ev->thread, NULL, events_main, ev)) !=
	    0) {
		why_set(why, WHY_TEMP, errno, "event socket: start its thread");
		goto fail;
	}
	ev->running = true;
	return ev;
fail:
	events_close(ev);
	return NULL;
}

void
events_close(struct events *ev)
{
	if (ev == NULL)
		return;
	if (ev->running) {
		(void)event_base_loopexit(ev->base, NULL);
		(void)pthread_join(ev->thread, NULL);
	}
	/* The thread is over: its objects are ours to free. */
	while (ev->consumers != NULL)
		consumer_free(ev->consumers);
	if (ev->evl != NULL) {
		evconnlistener_free(ev->evl);
		(void)unlink(ev->path);
	}
	event_free(ev->wake);
	event_base_free(ev->base);
	evring_free(ev->ring);
	pthread_mutex_destroy(&ev->mtx);
	free(ev->path);
	free(ev);
}
