/* SPDX-License-Identifier: ISC */
/*
 * ops/control.c - the control socket (see control.h): a libevent
 * listener on the server's main event base, and a blocking client.
 * Trust: see control.h.
 */
#include "ops/control.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "util/buf.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/str.h"
#include "util/usock.h"
#include "util/xmalloc.h"

struct control {
	struct evconnlistener *evl;
	char *path;
	control_fn *fn;
	void *arg;
	struct conn *conns; /* open connections, closed with the control */
};

/* One caller: read its line, answer, close once the answer is out. */
struct conn {
	struct control *ctl;
	struct bufferevent *bev;
	bool answered;
	struct conn *next, *prev;
};

static const char *const status_words[] = { "ok", "fail", "refused" };

int
control_socket_path(const char *data_dir, char *out, size_t outsz)
{
	struct sockaddr_un su;
	int n;

	n = snprintf(out, outsz, "%s/%s", data_dir, CONTROL_SOCKET_NAME);
	if (n < 0 || (size_t)n >= outsz || (size_t)n >= sizeof(su.sun_path))
		return -1;
	return 0;
}

static void
conn_free(struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		c->ctl->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	bufferevent_free(c->bev);
	free(c);
}

/* Queue the answer; the write callback closes once it has left. */
static void
answer(struct conn *c, enum control_status st, const struct buf *text)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	c->answered = true;
	bufferevent_disable(c->bev, EV_READ);
	evbuffer_add_printf(out, "%s\n", status_words[st]);
	if (text != NULL && text->len > 0) {
		evbuffer_add(out, text->data, text->len);
		if (text->data[text->len - 1] != '\n')
			evbuffer_add(out, "\n", 1);
	}
}

static void
answer_text(struct conn *c, enum control_status st, const char *text)
{
	struct buf b;

	buf_init(&b, CONTROL_REPLY_MAX);
	(void)buf_append_str(&b, text);
	answer(c, st, &b);
	buf_reset(&b);
}

/* The request line: printable ASCII, one space between verb and rest. */
static void
dispatch(struct conn *c, char *line)
{
	struct buf out;
	enum control_status st;
	char *args, esc1[CONTROL_LINE_MAX * 2], esc2[CONTROL_LINE_MAX * 2];
	size_t i;

	for (i = 0; line[i] != '\0'; i++)
		if ((unsigned char)line[i] < 0x20 ||
		    (unsigned char)line[i] >= 0x7f) {
			answer_text(c, CONTROL_REFUSED,
			    "not a request: control characters or non-ASCII");
			return;
		}
	args = strchr(line, ' ');
	if (args != NULL)
		*args++ = '\0';
	else
		args = line + strlen(line);
	buf_init(&out, CONTROL_REPLY_MAX - 16);
	st = c->ctl->fn(c->ctl->arg, line, args, &out);
	log_info("event=control request=%s args=%s status=%s",
	    log_escs(esc1, sizeof(esc1), line),
	    log_escs(esc2, sizeof(esc2), *args ? args : "-"), status_words[st]);
	answer(c, st, &out);
	buf_reset(&out);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr p;
	char line[CONTROL_LINE_MAX + 1];
	size_t n;

	if (c->answered)
		return;
	p = evbuffer_search(in, "\n", 1, NULL);
	if (p.pos < 0) {
		if (evbuffer_get_length(in) >= CONTROL_LINE_MAX)
			answer_text(c, CONTROL_REFUSED,
			    "request longer than 512 bytes");
		return;
	}
	n = (size_t)p.pos;
	(void)evbuffer_copyout(in, line, n);
	line[n] = '\0';
	if (n > 0 && line[n - 1] == '\r')
		line[n - 1] = '\0';
	evbuffer_drain(in, n + 1);
	dispatch(c, line);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->answered &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_free(c);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what; /* EOF, error or time-out: the caller is gone */
	conn_free(arg);
}

static void
on_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct control *ctl = arg;
	struct timeval tv = { CONTROL_TIMEOUT, 0 };
	struct conn *c;
	char text[160];
	uid_t uid = (uid_t)-1;

	(void)evl;
	(void)sa;
	(void)salen;
	c = xcalloc(1, sizeof(*c));
	c->ctl = ctl;
	c->bev = bufferevent_socket_new(evconnlistener_get_base(ctl->evl), fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		(void)close(fd);
		free(c);
		return;
	}
	c->next = ctl->conns;
	if (ctl->conns != NULL)
		ctl->conns->prev = c;
	ctl->conns = c;
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, CONTROL_LINE_MAX);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (!usock_peer_allowed(fd, &uid)) {
		(void)snprintf(text, sizeof(text),
		    "uid %ld may not control this server: only root and its "
		    "own user (uid %ld) may",
		    (long)uid, (long)geteuid());
		log_warn("event=control_refused uid=%ld", (long)uid);
		answer_text(c, CONTROL_REFUSED, text);
	}
}

struct control *
control_open(const char *path, struct event_base *base, control_fn *fn,
    void *arg, struct why *why)
{
	struct control *ctl;
	int fd;

	if ((fd = usock_listen(path, "control socket", why)) == -1)
		return NULL;
	ctl = xcalloc(1, sizeof(*ctl));
	ctl->path = xstrdup(path);
	ctl->fn = fn;
	ctl->arg = arg;
	ctl->evl = evconnlistener_new(base, on_accept, ctl,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (ctl->evl == NULL) {
		why_set(why, WHY_TEMP, 0, "control socket %s: cannot watch it",
		    path);
		(void)close(fd);
		(void)unlink(path);
		free(ctl->path);
		free(ctl);
		return NULL;
	}
	return ctl;
}

void
control_close(struct control *ctl)
{
	if (ctl == NULL)
		return;
	while (ctl->conns != NULL)
		conn_free(ctl->conns);
	evconnlistener_free(ctl->evl);
	(void)unlink(ctl->path);
	free(ctl->path);
	free(ctl);
}

/* ---- the client --------------------------------------------------- */

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read until EOF into b, by the deadline. 0, or -1 with why. */
static int
read_all(int fd, struct buf *b, int64_t until, struct why *why)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	char chunk[4096];
	ssize_t r;
	int left;

	for (;;) {
		left = (int)(until - mono_ms());
		if (left <= 0)
			return why_set(why, WHY_TEMP, ETIMEDOUT,
			    "no answer from the server within %d s",
			    CONTROL_TIMEOUT);
		if (poll(&pfd, 1, left) == -1) {
			if (errno == EINTR)
				continue;
			return why_set(why, WHY_TEMP, errno, "poll");
		}
		r = read(fd, chunk, sizeof(chunk));
		if (r == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r == -1)
			return why_set(why, WHY_TEMP, errno, "read the answer");
		if (r == 0)
			return 0;
		if (buf_append(b, chunk, (size_t)r) == -1)
			return why_set(why, WHY_TEMP, 0, "answer too long");
	}
}

int
control_ask(const char *path, const char *request,
    enum control_status *status_out, char **text_out, struct why *why)
{
	struct sockaddr_un su;
	struct buf b;
	char *nl, line[CONTROL_LINE_MAX + 1];
	size_t i, n;
	int fd, rc = -1;

	*text_out = NULL;
	n = (size_t)snprintf(line, sizeof(line), "%s\n", request);
	if (n >= sizeof(line))
		return why_set(why, WHY_PERM, 0, "request too long");
	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(su.sun_path))
		return why_set(why, WHY_PERM, ENAMETOOLONG, "%s", path);
	(void)strlcpy(su.sun_path, path, sizeof(su.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return why_set(why, WHY_TEMP, errno, "socket");
	if (connect(fd, (struct sockaddr *)&su, sizeof(su)) == -1) {
		why_set(why, WHY_TEMP, errno, "connect %s", path);
		(void)close(fd);
		return -1;
	}
	buf_init(&b, CONTROL_REPLY_MAX);
	if (fsutil_write_all(fd, line, n) == -1)
		why_set(why, WHY_TEMP, errno, "send the request");
	else if (read_all(fd, &b, mono_ms() + CONTROL_TIMEOUT * 1000, why) ==
	         0) {
		(void)buf_append(&b, "", 1); /* NUL */
		nl = strchr((char *)b.data, '\n');
		if (nl == NULL)
			why_set(why, WHY_TEMP, 0,
			    "the server closed without an answer");
		else {
			*nl = '\0';
			for (i = 0; i < 3; i++)
				if (strcmp((char *)b.data, status_words[i]) ==
				    0)
					break;
			if (i == 3)
				why_set(why, WHY_TEMP, 0,
				    "not an answer from a tern server");
			else {
				*status_out = (enum control_status)i;
				*text_out = xstrdup(nl + 1);
				rc = 0;
			}
		}
	}
	buf_reset(&b);
	(void)close(fd);
	return rc;
}
