/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for milter/client.c (issue 18) against a scripted filter.
 *
 * The filter is a thread (struct fake) that accepts one connection on a
 * listening socket the test made, reads the client's packets, records
 * them (commands, macros, header fields, body bytes) and answers from a
 * script: a list of expected command codes, each with the bytes to send
 * back (replies, or garbage, a 10 MB length...) and whether to close
 * after them. When the script is over it goes on reading silently until
 * EOF. Every read and write of the filter waits at most FAKE_IO_MS.
 *
 * The client runs on an event base in the test thread: a stage call, then
 * the loop until done fired (at most RUN_CAP_S), and the result checked;
 * done must never run from inside the stage call. The filters' timeouts
 * are 1 s, so only the few timeout cases cost time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>
#include <event2/event.h>

#include "conf/conf.h"
#include "milter/client.h"
#include "milter/edit.h"
#include "milter/proto.h"
#include "util/why.h"
#include "testutil.h"

#define FAKE_IO_MS 3000          /* one read or write of the filter */
#define FAKE_ACCEPT_MS 5000      /* waiting for the client to connect */
#define FAKE_PKT_MAX (16u << 20) /* a packet the filter will read */
#define FAKE_STEPS_MAX 32
#define RUN_CAP_S 5 /* one stage, wall clock */
#define BIG (10u * 1024 * 1024)
#define MID (300u * 1000) /* five body chunks */

/* ---- the scripted filter -------------------------------------------- */

struct step {
	char expect; /* the command code that triggers it */
	bool repeat; /* matches every such command in a row */
	bool close;  /* close the connection after sending out */
	unsigned gap_ms; /* out's packets one by one, this far apart */
	uint8_t *out;
	size_t len, cap;
};

struct rec {
	char code;
	uint8_t *p; /* payload (not kept for BODY: see fake.body) */
	size_t n;
};

struct fake {
	int lfd; /* listening socket (the test's, not closed here) */
	int stop[2];
	pthread_t th;
	bool started;
	struct step steps[FAKE_STEPS_MAX];
	size_t nsteps, at;
	/* What it received. */
	struct rec *rec;
	size_t nrec;
	uint8_t *body; /* BODY chunks joined */
	size_t body_len, body_cap, nbody, body_chunk_max;
	bool accepted, eof;
	char err[256];   /* a script mismatch or a broken packet */
	char seq[1024];  /* after finish: the codes, runs of B as one */
	char cmds[1024]; /* the same without the macro packets */
};

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
grow(uint8_t **p, size_t *cap, size_t need)
{
	size_t c = *cap != 0 ? *cap : 256;

	if (need <= *cap)
		return;
	while (c < need)
		c *= 2;
	*p = realloc(*p, c);
	if (*p == NULL)
		abort();
	*cap = c;
}

/* 1: n bytes read; 0: EOF before any; -1: EOF inside, timeout, error. */
static int
read_full(int fd, uint8_t *p, size_t n)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		if (poll(&pfd, 1, FAKE_IO_MS) != 1)
			return -1;
		r = read(fd, p + got, n - got);
		if (r == 0)
			return got == 0 ? 0 : -1;
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return got == 0 && errno == ECONNRESET ? 0 : -1;
		}
		got += (size_t)r;
	}
	return 1;
}

static int
write_full(int fd, const uint8_t *p, size_t n)
{
	struct pollfd pfd = { fd, POLLOUT, 0 };
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		if (poll(&pfd, 1, FAKE_IO_MS) != 1)
			return -1;
		r = send(fd, p + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		done += (size_t)r;
	}
	return 0;
}

static void
record(struct fake *f, char code, const uint8_t *p, size_t n)
{
	struct rec *r;

	f->rec = realloc(f->rec, (f->nrec + 1) * sizeof(*f->rec));
	if (f->rec == NULL)
		abort();
	r = &f->rec[f->nrec++];
	r->code = code;
	r->n = n;
	r->p = NULL;
	if (code == MILTER_C_BODY) {
		grow(&f->body, &f->body_cap, f->body_len + n);
		memcpy(f->body + f->body_len, p, n);
		f->body_len += n;
		f->nbody++;
		if (n > f->body_chunk_max)
			f->body_chunk_max = n;
		return;
	}
	r->p = malloc(n + 1);
	if (r->p == NULL)
		abort();
	memcpy(r->p, p, n);
	r->p[n] = '\0';
}

/* The step for a command, advancing the script; NULL: say nothing. */
static struct step *
script_next(struct fake *f, char code)
{
	struct step *s;

	/* Macros, ABORT and QUIT never get a reply. */
	if (code == MILTER_C_MACRO || code == MILTER_C_ABORT ||
	    code == MILTER_C_QUIT || f->at >= f->nsteps)
		return NULL;
	s = &f->steps[f->at];
	if (s->repeat && code != s->expect && ++f->at < f->nsteps)
		s = &f->steps[f->at];
	if (f->at >= f->nsteps || code != s->expect) {
		if (f->err[0] == '\0')
			(void)snprintf(f->err, sizeof(f->err),
			    "step %zu: expected '%c', got '%c'", f->at,
			    f->at < f->nsteps ? s->expect : '-', code);
		f->at = f->nsteps; /* silent from now on */
		return NULL;
	}
	if (!s->repeat)
		f->at++;
	return s;
}

/* Send s's packets gap_ms apart; stop when the client or the test does. */
static void
trickle(struct fake *f, int fd, const struct step *s)
{
	struct pollfd pfd = { f->stop[0], POLLIN, 0 };
	size_t o = 0, n;

	while (o + 4 <= s->len) {
		n = 4 + (size_t)be32(s->out + o);
		if (write_full(fd, s->out + o, n) == -1)
			return;
		o += n;
		if (o < s->len && poll(&pfd, 1, (int)s->gap_ms) != 0)
			return;
	}
}

static void
fake_serve(struct fake *f, int fd)
{
	uint8_t h[4], *p = NULL;
	struct step *s;
	uint32_t len;
	int r;

	for (;;) {
		r = read_full(fd, h, 4);
		if (r == 0) {
			f->eof = true;
			break;
		}
		if (r < 0) {
			(void)snprintf(f->err, sizeof(f->err),
			    "reading a packet: timeout or short");
			break;
		}
		len = be32(h);
		if (len == 0 || len > FAKE_PKT_MAX) {
			(void)snprintf(f->err, sizeof(f->err),
			    "bad packet length %u", len);
			break;
		}
		p = malloc(len);
		if (p == NULL)
			abort();
		if (read_full(fd, p, len) != 1) {
			(void)snprintf(f->err, sizeof(f->err),
			    "short packet of %u", len);
			break;
		}
		record(f, (char)p[0], p + 1, len - 1);
		s = script_next(f, (char)p[0]);
		free(p);
		p = NULL;
		if (s == NULL)
			continue;
		/* A write may fail once the client gave up on us: fine. */
		if (s->len > 0 && s->gap_ms == 0)
			(void)write_full(fd, s->out, s->len);
		else if (s->len > 0)
			trickle(f, fd, s);
		if (s->close)
			break;
	}
	free(p);
}

static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	struct pollfd pfd[2] = { { f->lfd, POLLIN, 0 },
		{ f->stop[0], POLLIN, 0 } };
	int fd;

	if (poll(pfd, 2, FAKE_ACCEPT_MS) <= 0 || !(pfd[0].revents & POLLIN))
		return NULL; /* stopped, or nobody came */
	fd = accept(f->lfd, NULL, NULL);
	if (fd == -1) {
		(void)snprintf(f->err, sizeof(f->err), "accept: %s",
		    strerror(errno));
		return NULL;
	}
	f->accepted = true;
	fake_serve(f, fd);
	(void)close(fd);
	return NULL;
}

static void
fake_init(struct fake *f, int lfd)
{
	memset(f, 0, sizeof(*f));
	f->lfd = lfd;
	f->stop[0] = f->stop[1] = -1;
}

static void
fake_start(struct fake *f)
{
	assert_int_equal(pipe(f->stop), 0);
	assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
	f->started = true;
}

/* Codes received, a run of BODY chunks as one 'B'; with macros or not. */
static void
fake_codes(struct fake *f, char *dst, size_t dstsz, bool macros)
{
	size_t i, o = 0;

	for (i = 0; i < f->nrec && o + 1 < dstsz; i++) {
		char c = f->rec[i].code;

		if (!macros && c == MILTER_C_MACRO)
			continue;
		if (c == MILTER_C_BODY && o > 0 && dst[o - 1] == c)
			continue;
		dst[o++] = c;
	}
	dst[o] = '\0';
}

/* Wait for the thread (it ends at EOF, or at once if nobody came). */
static void
fake_finish(struct fake *f)
{
	if (!f->started)
		return;
	(void)write(f->stop[1], "x", 1);
	assert_int_equal(pthread_join(f->th, NULL), 0);
	(void)close(f->stop[0]);
	(void)close(f->stop[1]);
	f->started = false;
	fake_codes(f, f->seq, sizeof(f->seq), true);
	fake_codes(f, f->cmds, sizeof(f->cmds), false);
}

static void
fake_free(struct fake *f)
{
	size_t i;

	for (i = 0; i < f->nrec; i++)
		free(f->rec[i].p);
	free(f->rec);
	for (i = 0; i < f->nsteps; i++)
		free(f->steps[i].out);
	free(f->body);
	memset(f, 0, sizeof(*f));
}

/* The n-th (from 0) packet with this code, or fail. */
static const struct rec *
fake_get(const struct fake *f, char code, size_t nth)
{
	size_t i, k = nth;

	for (i = 0; i < f->nrec; i++)
		if (f->rec[i].code == code && k-- == 0)
			return &f->rec[i];
	fail_msg("no packet '%c' #%zu (got %s)", code, nth, f->seq);
	return NULL;
}

/* The macro packets as text: "C{j=mx {client_addr}=1.2.3.4} H{...}". */
static void
fake_macros(const struct fake *f, char *dst, size_t dstsz)
{
	size_t i, o = 0, k;
	const struct rec *r;
	int n;

	dst[0] = '\0';
	for (i = 0; i < f->nrec; i++) {
		r = &f->rec[i];
		if (r->code != MILTER_C_MACRO || r->n < 1)
			continue;
		n = snprintf(dst + o, dstsz - o, "%s%c[", o > 0 ? " " : "",
		    r->p[0]);
		o += (size_t)n;
		for (k = 1; k < r->n && o + 2 < dstsz;) {
			const char *name = (const char *)r->p + k;
			const char *val = name + strlen(name) + 1;

			n = snprintf(dst + o, dstsz - o, "%s%s=%s",
			    k > 1 ? " " : "", name, val);
			o += (size_t)n;
			k = (size_t)(val - (const char *)r->p) + strlen(val) +
			    1;
		}
		n = snprintf(dst + o, dstsz - o, "]");
		o += (size_t)n;
		assert_true(o < dstsz);
	}
}

/* ---- scripts ---------------------------------------------------------- */

static struct step *
step(struct fake *f, char expect)
{
	struct step *s;

	assert_true(f->nsteps < FAKE_STEPS_MAX);
	s = &f->steps[f->nsteps++];
	memset(s, 0, sizeof(*s));
	s->expect = expect;
	return s;
}

static void
out_raw(struct step *s, const void *p, size_t n)
{
	grow(&s->out, &s->cap, s->len + n);
	memcpy(s->out + s->len, p, n);
	s->len += n;
}

static void
out_pkt(struct step *s, char code, const void *p, size_t n)
{
	uint8_t h[5];

	put32(h, (uint32_t)n + 1);
	h[4] = (uint8_t)code;
	out_raw(s, h, 5);
	if (n > 0)
		out_raw(s, p, n);
}

/* A reply of NUL-terminated strings (NULL ends the list). */
static void
out_strs(struct step *s, int code, ...)
{
	uint8_t pay[4096];
	const char *a;
	size_t n = 0, l;
	va_list ap;

	va_start(ap, code);
	while ((a = va_arg(ap, const char *)) != NULL) {
		l = strlen(a) + 1;
		assert_true(n + l <= sizeof(pay));
		memcpy(pay + n, a, l);
		n += l;
	}
	va_end(ap);
	out_pkt(s, (char)code, pay, n);
}

/* INSHEADER / CHGHEADER: index, name, value. */
static void
out_idx(struct step *s, char code, uint32_t idx, const char *name,
    const char *value)
{
	uint8_t pay[1024];
	size_t a = strlen(name) + 1, b = strlen(value) + 1;

	assert_true(4 + a + b <= sizeof(pay));
	put32(pay, idx);
	memcpy(pay + 4, name, a);
	memcpy(pay + 4 + a, value, b);
	out_pkt(s, code, pay, 4 + a + b);
}

/* OPTNEG reply; then nsym pairs (int stage, const char *names). */
static void
out_optneg(struct step *s, uint32_t ver, uint32_t act, uint32_t proto, int nsym,
    ...)
{
	uint8_t pay[1024];
	size_t n = 12, l;
	const char *names;
	va_list ap;
	int i;

	put32(pay, ver);
	put32(pay + 4, act);
	put32(pay + 8, proto);
	va_start(ap, nsym);
	for (i = 0; i < nsym; i++) {
		put32(pay + n, (uint32_t)va_arg(ap, int));
		names = va_arg(ap, const char *);
		l = strlen(names) + 1;
		assert_true(n + 4 + l <= sizeof(pay));
		memcpy(pay + n + 4, names, l);
		n += 4 + l;
	}
	va_end(ap);
	out_pkt(s, MILTER_R_OPTNEG, pay, n);
}

/* A step that answers one bare reply (0: none). */
static struct step *
on(struct fake *f, char expect, char reply)
{
	struct step *s = step(f, expect);

	if (reply != 0)
		out_pkt(s, reply, NULL, 0);
	return s;
}

/* Every command of a run of them answered with reply. */
static struct step *
on_each(struct fake *f, char expect, char reply)
{
	struct step *s = on(f, expect, reply);

	s->repeat = true;
	return s;
}

static struct step *
hello(struct fake *f, uint32_t act, uint32_t proto)
{
	struct step *s = step(f, MILTER_C_OPTNEG);

	out_optneg(s, MILTER_VERSION, act, proto, 0);
	return s;
}

/* OPTNEG, then continue at connect, helo, mail, rcpt, data. */
static void
script_envelope(struct fake *f, uint32_t act, uint32_t proto)
{
	(void)hello(f, act, proto);
	(void)on(f, MILTER_C_CONNECT, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_HELO, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_MAIL, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_RCPT, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_DATA, MILTER_R_CONTINUE);
}

/* Continue at the header fields, EOH and body; the step for BODYEOB. */
static struct step *
script_message(struct fake *f)
{
	(void)on_each(f, MILTER_C_HEADER, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_EOH, MILTER_R_CONTINUE);
	(void)on_each(f, MILTER_C_BODY, MILTER_R_CONTINUE);
	return step(f, MILTER_C_BODYEOB);
}

/* ---- the group: sockets and configuration ----------------------------- */

static struct {
	char dir[TESTUTIL_DIR_MAX];
	int lfd_a, lfd_b, lfd_net;
	struct conf *conf;
	/* A 10 MB message in a file: "Subject: big", then big_body. */
	struct milter_src big;
	uint8_t *big_body;
	/* In memory: "Subject: big", then MID bytes of big_body. */
	struct milter_src mid;
	uint8_t *mid_text;
} G;

static void big_file(void);

static int
listen_unix(const char *path, bool listening)
{
	struct sockaddr_un un;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(un.sun_path));
	(void)snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	if (listening)
		assert_int_equal(listen(fd, 8), 0);
	return fd;
}

static int
listen_net(unsigned *port)
{
	struct sockaddr_in in;
	socklen_t len = sizeof(in);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	assert_true(fd >= 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&in, &len), 0);
	*port = ntohs(in.sin_port);
	return fd;
}

/* A [milter NAME] section with 1 s timeouts, appended to text. */
static void
section(char *text, size_t size, const char *name, const char *addr,
    const char *action)
{
	size_t n = strlen(text);

	(void)snprintf(text + n, size - n,
	    "[milter %s]\naddress = %s\ndefault_action = %s\n"
	    "connect_timeout = 1s\ncommand_timeout = 1s\n"
	    "content_timeout = 1s\n",
	    name, addr, action);
}

static int
group_setup(void **state)
{
	char path[256], addr[300], text[4096];
	struct why why;
	unsigned port;
	int fd;

	(void)state;
	/* As the server does: a filter that closes is an error, not a
	 * signal. */
	(void)signal(SIGPIPE, SIG_IGN);
	assert_int_equal(testutil_mkdtemp(G.dir, sizeof(G.dir), NULL,
	                     "milterc"),
	    0);
	(void)snprintf(path, sizeof(path), "%s/a.sock", G.dir);
	G.lfd_a = listen_unix(path, true);
	(void)snprintf(path, sizeof(path), "%s/b.sock", G.dir);
	G.lfd_b = listen_unix(path, true);
	G.lfd_net = listen_net(&port);
	big_file();
	/* A socket file nobody listens on: connect() is refused. */
	(void)snprintf(path, sizeof(path), "%s/stale.sock", G.dir);
	fd = listen_unix(path, false);
	(void)close(fd);
	(void)snprintf(text, sizeof(text),
	    "hostname = mx.example.test\ndomains = example.test\n"
	    "data_dir = %s\n[listener mx]\naddress = 127.0.0.1:2525\n",
	    G.dir);
	(void)snprintf(addr, sizeof(addr), "unix:%s/a.sock", G.dir);
	section(text, sizeof(text), "t1", addr, "tempfail");
	section(text, sizeof(text), "a1", addr, "accept");
	(void)snprintf(addr, sizeof(addr), "unix:%s/b.sock", G.dir);
	section(text, sizeof(text), "t2", addr, "tempfail");
	(void)snprintf(addr, sizeof(addr), "inet:127.0.0.1:%u", port);
	section(text, sizeof(text), "net", addr, "tempfail");
	(void)snprintf(addr, sizeof(addr), "unix:%s/gone.sock", G.dir);
	section(text, sizeof(text), "gone", addr, "tempfail");
	section(text, sizeof(text), "gonea", addr, "accept");
	(void)snprintf(addr, sizeof(addr), "unix:%s/stale.sock", G.dir);
	section(text, sizeof(text), "stale", addr, "tempfail");
	assert_true(strlen(text) < sizeof(text) - 1);
	why_clear(&why);
	G.conf = conf_load_string(text, "t", &why);
	if (G.conf == NULL)
		fail_msg("conf: %s", why.text);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	conf_unref(G.conf);
	(void)close(G.lfd_a);
	(void)close(G.lfd_b);
	(void)close(G.lfd_net);
	(void)close(G.big.fd);
	free(G.big_body);
	free(G.mid_text);
	testutil_rmtree(G.dir);
	return 0;
}

/* ---- sessions --------------------------------------------------------- */

struct t {
	struct event_base *base;
	struct milter_client *mc;
	struct fake fk[3];
	size_t nfk;
	int calls;
	bool sync; /* done ran inside a stage call */
	struct milter_result res;
};

static bool in_stage;

static void
on_done(void *arg, const struct milter_result *r)
{
	struct t *t = arg;

	if (in_stage)
		t->sync = true;
	t->calls++;
	t->res = *r;
}

static void
cap_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(bool *)arg = true;
}

/* The loop until done fired, at most RUN_CAP_S; then exactly once. */
static void
run(struct t *t)
{
	struct timeval tv = { RUN_CAP_S, 0 };
	bool capped = false;
	struct event *cap = evtimer_new(t->base, cap_cb, &capped);

	assert_non_null(cap);
	evtimer_add(cap, &tv);
	while (t->calls == 0 && !capped)
		if (event_base_loop(t->base, EVLOOP_ONCE) != 0)
			break;
	event_free(cap);
	if (t->calls == 0)
		fail_msg("done was not called within %d s", RUN_CAP_S);
	(void)event_base_loop(t->base, EVLOOP_NONBLOCK);
	assert_int_equal(t->calls, 1);
	assert_false(t->sync);
}

#define STAGE(t, call)                                                         \
	do {                                                                   \
		(t)->calls = 0;                                                \
		in_stage = true;                                               \
		call;                                                          \
		in_stage = false;                                              \
		assert_int_equal((t)->calls, 0);                               \
		run(t);                                                        \
	} while (0)

static size_t
conf_idx(const char *name)
{
	size_t i;

	for (i = 0; i < G.conf->nmilters; i++)
		if (strcmp(G.conf->milters[i].name, name) == 0)
			return i;
	fail_msg("no [milter %s]", name);
	return 0;
}

/*
 * On the heap: a test that fails leaves its filter threads running, and
 * they must not write into the next test's stack.
 */
static struct t *
t_new(void)
{
	struct t *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->base = event_base_new();
	assert_non_null(t->base);
	return t;
}

static struct fake *
t_fake(struct t *t, int lfd)
{
	assert_true(t->nfk < 3);
	fake_init(&t->fk[t->nfk], lfd);
	return &t->fk[t->nfk++];
}

/* A client for the filters named (NULL-terminated); starts the fakes. */
static void
t_client(struct t *t, uint64_t body_max, ...)
{
	size_t idx[8], n = 0, i;
	const char *name;
	va_list ap;

	va_start(ap, body_max);
	while ((name = va_arg(ap, const char *)) != NULL && n < 8)
		idx[n++] = conf_idx(name);
	va_end(ap);
	t->mc = milter_client_new(t->base, G.conf, idx, n, 7, body_max);
	assert_non_null(t->mc);
	for (i = 0; i < t->nfk; i++)
		fake_start(&t->fk[i]);
}

/* Free the client (QUIT), wait for the fakes; their records stay. */
static void
t_end(struct t *t)
{
	size_t i;

	milter_client_free(t->mc);
	t->mc = NULL;
	/* libevent closes a freed bufferevent's socket from the loop. */
	event_base_free(t->base);
	t->base = NULL;
	for (i = 0; i < t->nfk; i++)
		fake_finish(&t->fk[i]);
}

static void
t_free(struct t *t)
{
	size_t i;

	for (i = 0; i < t->nfk; i++)
		fake_free(&t->fk[i]);
	free(t);
}

static const char tempfail_451[] =
    "451 4.7.1 Service unavailable - try again later";

static void
expect(const struct t *t, enum milter_verdict v, const char *reply,
    const char *milter)
{
	if (t->res.verdict != v)
		fail_msg("verdict %d, want %d (reply '%s')", t->res.verdict, v,
		    t->res.reply);
	if (reply != NULL)
		assert_string_equal(t->res.reply, reply);
	if (milter == NULL)
		assert_null(t->res.milter);
	else {
		assert_non_null(t->res.milter);
		assert_string_equal(t->res.milter, milter);
	}
}

static struct sockaddr_in client_sa;

static void
do_connect(struct t *t)
{
	memset(&client_sa, 0, sizeof(client_sa));
	client_sa.sin_family = AF_INET;
	client_sa.sin_port = htons(4242);
	client_sa.sin_addr.s_addr = htonl(0xc0000201); /* 192.0.2.1 */
	STAGE(t, milter_client_connect(t->mc, "client.example",
	             (const struct sockaddr *)&client_sa, on_done, t));
}

static void
do_helo(struct t *t)
{
	STAGE(t, milter_client_helo(t->mc, "client.example", on_done, t));
}

static void
do_mail(struct t *t)
{
	static const char *const params[] = { "SIZE=100", "BODY=8BITMIME" };

	STAGE(t, milter_client_mail(t->mc, "alice@example.org", params, 2,
	             on_done, t));
}

static void
do_rcpt(struct t *t)
{
	STAGE(t,
	    milter_client_rcpt(t->mc, "bob@example.test", NULL, 0, on_done, t));
}

static void
do_data(struct t *t)
{
	STAGE(t, milter_client_data(t->mc, on_done, t));
}

static void
do_unknown(struct t *t)
{
	STAGE(t, milter_client_unknown(t->mc, "XYZZY plugh", on_done, t));
}

/* A small message in memory, with a field on top. */
static const char msg_pre[] = "Authentication-Results: mx; spf=pass\r\n";
static const char msg_text[] = "Received: from x by y\r\n"
                               "Subject: hello\r\n"
                               "  world\r\n"
                               "X-A:\tone\r\n"
                               "X-A: two\r\n"
                               "X-Empty:\r\n"
                               "\r\n"
                               "body line 1\r\n"
                               "body line 2\r\n";
static const char msg_body[] = "body line 1\r\nbody line 2\r\n";

static struct milter_src small_src = {
	(const uint8_t *)msg_pre,
	sizeof(msg_pre) - 1,
	(const uint8_t *)msg_text,
	sizeof(msg_text) - 1,
	-1,
	0,
	0,
};

static void
do_eom(struct t *t, const struct milter_src *src)
{
	STAGE(t, milter_client_eom(t->mc, src, on_done, t));
}

/* The whole envelope, each stage expected to continue. */
static void
envelope_ok(struct t *t)
{
	do_connect(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_helo(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_mail(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_rcpt(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_data(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
}

/* ---- negotiation ------------------------------------------------------ */

/* What we offer; a filter that wants less: actions, steps, replies. */
static void
test_optneg(void **state)
{
	const uint32_t offered =
	    MILTER_P_ALL & ~(MILTER_P_HDR_LEADSPC | MILTER_P_RCPT_REJ);
	const struct rec *r;
	struct fake *f;
	struct t *t;

	(void)state;
	t = t_new();
	f = t_fake(t, G.lfd_a);
	(void)hello(f, MILTER_A_ADDHDRS,
	    MILTER_P_NOHELO | MILTER_P_NR_MAIL | MILTER_P_NOUNKNOWN);
	(void)on(f, MILTER_C_CONNECT, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_MAIL, 0); /* NR_MAIL: no reply awaited */
	(void)on(f, MILTER_C_RCPT, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_DATA, MILTER_R_CONTINUE);
	out_strs(script_message(f), MILTER_R_ADDHEADER, "X-Scanned", "yes",
	    NULL);
	out_pkt(&f->steps[f->nsteps - 1], MILTER_R_CONTINUE, NULL, 0);
	t_client(t, 1 << 20, "t1", NULL);
	do_connect(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_helo(t); /* NOHELO: not sent, continues */
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_unknown(t); /* NOUNKNOWN */
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_mail(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_rcpt(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_data(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_eom(t, &small_src);
	expect(t, MILTER_V_EDITED, "", "t1");
	assert_false(t->res.failed);
	assert_int_equal(t->res.edits->nhdr, 1);
	assert_string_equal(t->res.edits->hdr[0].name, "X-Scanned");
	t_end(t);
	assert_string_equal(f->err, "");
	assert_string_equal(f->cmds, "OCMRTLLLLLLNBEQ");
	r = fake_get(f, MILTER_C_OPTNEG, 0);
	assert_int_equal(r->n, 12);
	assert_int_equal(be32(r->p), 6);
	assert_int_equal(be32(r->p + 4), MILTER_A_ALL);
	assert_int_equal(be32(r->p + 8), offered);
	t_free(t);
}

/* Version 1 is refused: the default action, at once and after. */
static void
test_optneg_old(void **state)
{
	struct fake *f;
	struct step *s;
	struct t *t;

	(void)state;
	/* tempfail: connect and HELO pass, MAIL and later are 451. */
	t = t_new();
	f = t_fake(t, G.lfd_a);
	s = step(f, MILTER_C_OPTNEG);
	out_optneg(s, 1, 0, 0, 0);
	t_client(t, 1 << 20, "t1", NULL);
	do_connect(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_helo(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_mail(t);
	expect(t, MILTER_V_TEMPFAIL, tempfail_451, "t1");
	assert_true(t->res.failed);
	do_rcpt(t);
	expect(t, MILTER_V_TEMPFAIL, tempfail_451, "t1");
	t_end(t);
	assert_string_equal(f->seq, "O"); /* closed after the OPTNEG */
	assert_true(f->eof);
	t_free(t);

	/* accept: the filter is skipped for the session. */
	t = t_new();
	f = t_fake(t, G.lfd_a);
	s = step(f, MILTER_C_OPTNEG);
	out_optneg(s, 1, 0, 0, 0);
	t_client(t, 1 << 20, "a1", NULL);
	envelope_ok(t);
	do_eom(t, &small_src);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	t_end(t);
	assert_string_equal(f->seq, "O");
	t_free(t);

	/* Version 2 is fine, but gets neither DATA (4) nor UNKNOWN (3). */
	t = t_new();
	f = t_fake(t, G.lfd_a);
	s = step(f, MILTER_C_OPTNEG);
	out_optneg(s, 2, 0, 0, 0);
	(void)on(f, MILTER_C_CONNECT, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_HELO, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_MAIL, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_RCPT, MILTER_R_CONTINUE);
	t_client(t, 1 << 20, "t1", NULL);
	envelope_ok(t);
	do_unknown(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	t_end(t);
	assert_string_equal(f->err, "");
	assert_string_equal(f->cmds, "OCHMRQ");
	t_free(t);
}

/* ---- the stages ------------------------------------------------------- */

/* CONNECT's payload for each family; the inet filter too. */
static void
test_connect_families(void **state)
{
	struct sockaddr_in6 in6;
	struct sockaddr_un un;
	const struct rec *r;
	struct fake *f;
	struct t *t;
	static const char want4[] = "client.example\0"
	                            "4\x10\x92"
	                            "192.0.2.1";
	static const char want6[] = "v6.example\0"
	                            "6\x00\x19"
	                            "2001:db8::1";
	static const char wantu[] = "localhost\0U";

	(void)state;
	/* AF_INET, to the filter on 127.0.0.1. */
	t = t_new();
	f = t_fake(t, G.lfd_net);
	(void)hello(f, 0, 0);
	(void)on(f, MILTER_C_CONNECT, MILTER_R_CONTINUE);
	t_client(t, 1 << 20, "net", NULL);
	do_connect(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	t_end(t);
	assert_string_equal(f->cmds, "OCQ");
	r = fake_get(f, MILTER_C_CONNECT, 0);
	assert_int_equal(r->n, sizeof(want4));
	assert_memory_equal(r->p, want4, sizeof(want4));
	t_free(t);

	/* AF_INET6. */
	t = t_new();
	f = t_fake(t, G.lfd_a);
	(void)hello(f, 0, 0);
	(void)on(f, MILTER_C_CONNECT, MILTER_R_CONTINUE);
	t_client(t, 1 << 20, "t1", NULL);
	memset(&in6, 0, sizeof(in6));
	in6.sin6_family = AF_INET6;
	in6.sin6_port = htons(25);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr), 1);
	STAGE(t, milter_client_connect(t->mc, "v6.example",
	             (const struct sockaddr *)&in6, on_done, t));
	expect(t, MILTER_V_CONTINUE, "", NULL);
	t_end(t);
	r = fake_get(f, MILTER_C_CONNECT, 0);
	assert_int_equal(r->n, sizeof(want6));
	assert_memory_equal(r->p, want6, sizeof(want6));
	t_free(t);

	/* A local submission: NULL, and AF_UNIX, are family 'U' alone. */
	t = t_new();
	f = t_fake(t, G.lfd_a);
	(void)hello(f, 0, 0);
	(void)on(f, MILTER_C_CONNECT, MILTER_R_CONTINUE);
	t_client(t, 1 << 20, "t1", NULL);
	STAGE(t, milter_client_connect(t->mc, "localhost", NULL, on_done, t));
	expect(t, MILTER_V_CONTINUE, "", NULL);
	t_end(t);
	r = fake_get(f, MILTER_C_CONNECT, 0);
	assert_int_equal(r->n, sizeof(wantu) - 1); /* no port, no address */
	assert_memory_equal(r->p, wantu, sizeof(wantu) - 1);
	t_free(t);

	t = t_new();
	f = t_fake(t, G.lfd_a);
	(void)hello(f, 0, 0);
	(void)on(f, MILTER_C_CONNECT, MILTER_R_CONTINUE);
	t_client(t, 1 << 20, "t1", NULL);
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	STAGE(t, milter_client_connect(t->mc, "localhost",
	             (const struct sockaddr *)&un, on_done, t));
	expect(t, MILTER_V_CONTINUE, "", NULL);
	t_end(t);
	r = fake_get(f, MILTER_C_CONNECT, 0);
	assert_int_equal(r->n, sizeof(wantu) - 1);
	assert_memory_equal(r->p, wantu, sizeof(wantu) - 1);
	t_free(t);
}

/* HELO, MAIL (with params, and <>), RCPT, DATA, UNKNOWN payloads. */
static void
test_stage_payloads(void **state)
{
	static const char mail[] = "<alice@example.org>\0SIZE=100\0"
	                           "BODY=8BITMIME";
	static const char rcpt[] = "<bob@example.test>";
	const struct rec *r;
	struct fake *f;
	struct t *t;

	(void)state;
	t = t_new();
	f = t_fake(t, G.lfd_a);
	script_envelope(f, 0, 0);
	(void)on(f, MILTER_C_UNKNOWN, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_MAIL, MILTER_R_CONTINUE);
	t_client(t, 1 << 20, "t1", NULL);
	envelope_ok(t);
	do_unknown(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	milter_client_abort(t->mc);
	STAGE(t, milter_client_mail(t->mc, "", NULL, 0, on_done, t));
	expect(t, MILTER_V_CONTINUE, "", NULL);
	t_end(t);
	assert_string_equal(f->err, "");
	assert_string_equal(f->cmds, "OCHMRTUAMQ");
	r = fake_get(f, MILTER_C_HELO, 0);
	assert_string_equal((const char *)r->p, "client.example");
	assert_int_equal(r->n, sizeof("client.example"));
	r = fake_get(f, MILTER_C_MAIL, 0);
	assert_int_equal(r->n, sizeof(mail));
	assert_memory_equal(r->p, mail, sizeof(mail));
	r = fake_get(f, MILTER_C_MAIL, 1);
	assert_int_equal(r->n, 3);
	assert_memory_equal(r->p, "<>", 3);
	r = fake_get(f, MILTER_C_RCPT, 0);
	assert_int_equal(r->n, sizeof(rcpt));
	assert_memory_equal(r->p, rcpt, sizeof(rcpt));
	assert_int_equal(fake_get(f, MILTER_C_DATA, 0)->n, 0);
	r = fake_get(f, MILTER_C_UNKNOWN, 0);
	assert_string_equal((const char *)r->p, "XYZZY plugh");
	t_free(t);
}

enum st { S_CONNECT, S_HELO, S_MAIL, S_RCPT, S_DATA, S_UNKNOWN, S_EOM };
static const char st_cmd[] = { MILTER_C_CONNECT, MILTER_C_HELO, MILTER_C_MAIL,
	MILTER_C_RCPT, MILTER_C_DATA, MILTER_C_UNKNOWN, MILTER_C_BODYEOB };

static void
do_stage(struct t *t, enum st s)
{
	switch (s) {
	case S_CONNECT:
		do_connect(t);
		break;
	case S_HELO:
		do_helo(t);
		break;
	case S_MAIL:
		do_mail(t);
		break;
	case S_RCPT:
		do_rcpt(t);
		break;
	case S_DATA:
		do_data(t);
		break;
	case S_UNKNOWN:
		do_unknown(t);
		break;
	case S_EOM:
		do_eom(t, &small_src);
		break;
	}
}

/* Script continue up to stage s (UNKNOWN: after HELO), then `out`. */
static struct step *
script_until(struct fake *f, enum st s)
{
	(void)hello(f, 0, 0);
	if (s == S_CONNECT)
		return step(f, MILTER_C_CONNECT);
	(void)on(f, MILTER_C_CONNECT, MILTER_R_CONTINUE);
	if (s == S_HELO)
		return step(f, MILTER_C_HELO);
	(void)on(f, MILTER_C_HELO, MILTER_R_CONTINUE);
	if (s == S_UNKNOWN)
		return step(f, MILTER_C_UNKNOWN);
	if (s == S_MAIL)
		return step(f, MILTER_C_MAIL);
	(void)on(f, MILTER_C_MAIL, MILTER_R_CONTINUE);
	if (s == S_RCPT)
		return step(f, MILTER_C_RCPT);
	(void)on(f, MILTER_C_RCPT, MILTER_R_CONTINUE);
	if (s == S_DATA)
		return step(f, MILTER_C_DATA);
	(void)on(f, MILTER_C_DATA, MILTER_R_CONTINUE);
	return script_message(f);
}

/* Run the stages before s (each continues), then s. */
static void
run_until(struct t *t, enum st s)
{
	enum st order[] = { S_CONNECT, S_HELO, S_UNKNOWN, S_MAIL, S_RCPT,
		S_DATA, S_EOM };
	size_t i;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (order[i] == S_UNKNOWN && s != S_UNKNOWN)
			continue;
		do_stage(t, order[i]);
		if (order[i] == s)
			return;
		expect(t, MILTER_V_CONTINUE, "", NULL);
	}
}

/* reject, tempfail, replycode, discard at every stage. */
static void
test_stage_verdicts(void **state)
{
	static const char multi[] = "550-5.7.1 first line\r\n"
	                            "550 5.7.1 100%% sure";
	static const char multi_out[] = "550-5.7.1 first line\r\n"
	                                "550 5.7.1 100% sure";
	enum { R_REJECT, R_TEMPFAIL, R_CODE5, R_CODE4, R_DISCARD, R_N };
	const char *reject, *tempfail;
	struct fake *f;
	struct step *s;
	struct t *t;
	int st, rep;

	(void)state;
	for (st = S_CONNECT; st <= S_EOM; st++)
		for (rep = 0; rep < R_N; rep++) {
			t = t_new();
			f = t_fake(t, G.lfd_a);
			s = script_until(f, (enum st)st);
			switch (rep) {
			case R_REJECT:
				out_pkt(s, MILTER_R_REJECT, NULL, 0);
				break;
			case R_TEMPFAIL:
				out_pkt(s, MILTER_R_TEMPFAIL, NULL, 0);
				break;
			case R_CODE5:
				out_strs(s, MILTER_R_REPLYCODE, multi, NULL);
				break;
			case R_CODE4:
				out_strs(s, MILTER_R_REPLYCODE,
				    "421 4.7.0 not now\r\n", NULL);
				break;
			case R_DISCARD:
				out_pkt(s, MILTER_R_DISCARD, NULL, 0);
				break;
			}
			t_client(t, 1 << 20, "t1", NULL);
			run_until(t, (enum st)st);
			reject = st == S_CONNECT ? "554 5.7.1 Access denied"
			         : st == S_EOM
			             ? "550 5.7.1 Message content rejected"
			             : "550 5.7.1 Command rejected";
			tempfail = st == S_CONNECT
			               ? "421 4.7.1 Service unavailable - try "
			                 "again later"
			               : tempfail_451;
			switch (rep) {
			case R_REJECT:
				expect(t, MILTER_V_REJECT, reject, "t1");
				break;
			case R_TEMPFAIL:
				expect(t, MILTER_V_TEMPFAIL, tempfail, "t1");
				break;
			case R_CODE5:
				expect(t, MILTER_V_REJECT, multi_out, "t1");
				break;
			case R_CODE4:
				expect(t, MILTER_V_TEMPFAIL,
				    "421 4.7.0 not now", "t1");
				break;
			case R_DISCARD:
				if (st == S_CONNECT || st == S_HELO ||
				    st == S_UNKNOWN) {
					/* Not allowed there: the filter is
					 * broken, and tempfail does not
					 * refuse these stages. */
					expect(t, MILTER_V_CONTINUE, "", NULL);
					break;
				}
				expect(t, MILTER_V_DISCARD, "", "t1");
				break;
			}
			assert_false(t->res.failed);
			t_end(t);
			if (f->err[0] != '\0')
				fail_msg("stage %c reply %d: %s", st_cmd[st],
				    rep, f->err);
			assert_int_equal(f->cmds[strlen(f->cmds) - 1],
			    rep == R_DISCARD &&
			            (st == S_CONNECT || st == S_HELO ||
			                st == S_UNKNOWN)
			        ? st_cmd[st]
			        : MILTER_C_QUIT);
			t_free(t);
		}
}

/*
 * ACCEPT: at connect the filter is done for the session; at MAIL for
 * the message (asked again at the next MAIL); at EOM it is the verdict.
 */
static void
test_accept(void **state)
{
	struct fake *f;
	struct t *t;

	(void)state;
	t = t_new();
	f = t_fake(t, G.lfd_a);
	(void)hello(f, 0, 0);
	(void)on(f, MILTER_C_CONNECT, MILTER_R_ACCEPT);
	t_client(t, 1 << 20, "t1", NULL);
	envelope_ok(t);
	do_eom(t, &small_src);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	milter_client_abort(t->mc);
	do_mail(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	t_end(t);
	assert_string_equal(f->err, "");
	assert_string_equal(f->cmds, "OCQ");
	t_free(t);

	t = t_new();
	f = t_fake(t, G.lfd_a);
	(void)hello(f, 0, 0);
	(void)on(f, MILTER_C_CONNECT, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_HELO, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_MAIL, MILTER_R_ACCEPT);
	(void)on(f, MILTER_C_MAIL, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_RCPT, MILTER_R_ACCEPT);
	t_client(t, 1 << 20, "t1", NULL);
	envelope_ok(t);
	do_eom(t, &small_src);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	milter_client_abort(t->mc);
	do_mail(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_rcpt(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_rcpt(t); /* accepted: not asked for the next recipient */
	expect(t, MILTER_V_CONTINUE, "", NULL);
	t_end(t);
	assert_string_equal(f->err, "");
	assert_string_equal(f->cmds, "OCHMAMRQ");
	t_free(t);
}

/* NR_*: every command sent, no reply awaited (but at end of message). */
static void
test_no_reply_flags(void **state)
{
	const uint32_t nr =
	    MILTER_P_NR_CONN | MILTER_P_NR_HELO | MILTER_P_NR_MAIL |
	    MILTER_P_NR_RCPT | MILTER_P_NR_DATA | MILTER_P_NR_UNKN |
	    MILTER_P_NR_HDR | MILTER_P_NR_EOH | MILTER_P_NR_BODY;
	struct fake *f;
	struct t *t;

	(void)state;
	t = t_new();
	f = t_fake(t, G.lfd_a);
	(void)hello(f, 0, nr);
	(void)on(f, MILTER_C_CONNECT, 0);
	(void)on(f, MILTER_C_HELO, 0);
	(void)on(f, MILTER_C_UNKNOWN, 0);
	(void)on(f, MILTER_C_MAIL, 0);
	(void)on(f, MILTER_C_RCPT, 0);
	(void)on(f, MILTER_C_DATA, 0);
	(void)on_each(f, MILTER_C_HEADER, 0);
	(void)on(f, MILTER_C_EOH, 0);
	(void)on_each(f, MILTER_C_BODY, 0);
	(void)on(f, MILTER_C_BODYEOB, MILTER_R_CONTINUE);
	t_client(t, 1 << 20, "t1", NULL);
	run_until(t, S_UNKNOWN);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_mail(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_rcpt(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_data(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_eom(t, &G.mid);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	t_end(t);
	assert_string_equal(f->err, "");
	assert_string_equal(f->cmds, "OCHUMRTLNBEQ");
	assert_int_equal(f->nbody,
	    (MID + MILTER_CHUNK_MAX - 1) / MILTER_CHUNK_MAX);
	assert_int_equal(f->body_len, MID);
	assert_memory_equal(f->body, G.big_body, MID);
	t_free(t);
}

/*
 * NR_BODY with 10 MB: sent without replies, but never more than
 * OUT_QUEUED_MAX queued ahead of the socket (the rest waits for it to
 * drain): all of it arrives, in order.
 */
static void
test_no_reply_big_body(void **state)
{
	struct fake *f;
	struct t *t;

	(void)state;
	t = t_new();
	f = t_fake(t, G.lfd_a);
	(void)hello(f, 0, MILTER_P_NR_HDR | MILTER_P_NR_EOH | MILTER_P_NR_BODY);
	(void)on(f, MILTER_C_CONNECT, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_HELO, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_MAIL, MILTER_R_CONTINUE);
	(void)on_each(f, MILTER_C_HEADER, 0);
	(void)on(f, MILTER_C_EOH, 0);
	(void)on_each(f, MILTER_C_BODY, 0);
	(void)on(f, MILTER_C_BODYEOB, MILTER_R_CONTINUE);
	t_client(t, 1 << 20, "t1", NULL);
	run_until(t, S_HELO);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_mail(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_eom(t, &G.big);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	t_end(t);
	assert_string_equal(f->err, "");
	assert_int_equal(f->body_len, BIG);
	assert_memory_equal(f->body, G.big_body, BIG);
	t_free(t);
}

/* NO*: the stages are not sent at all; the message's parts neither. */
static void
test_no_stage_flags(void **state)
{
	const uint32_t no = MILTER_P_NOCONNECT | MILTER_P_NOHELO |
	                    MILTER_P_NOMAIL | MILTER_P_NORCPT |
	                    MILTER_P_NODATA | MILTER_P_NOUNKNOWN |
	                    MILTER_P_NOHDRS | MILTER_P_NOEOH | MILTER_P_NOBODY;
	struct fake *f;
	struct t *t;

	(void)state;
	t = t_new();
	f = t_fake(t, G.lfd_a);
	(void)hello(f, 0, no);
	(void)on(f, MILTER_C_BODYEOB, MILTER_R_CONTINUE);
	t_client(t, 1 << 20, "t1", NULL);
	run_until(t, S_UNKNOWN);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_mail(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_rcpt(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_data(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_eom(t, &small_src);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	t_end(t);
	assert_string_equal(f->err, "");
	assert_string_equal(f->cmds, "OEQ");
	t_free(t);
}

/* ---- macros ----------------------------------------------------------- */

static void
set_macros(struct milter_client *mc)
{
	milter_client_macro(mc, "j", "mx.example.test");
	milter_client_macro(mc, "{daemon_name}", "tern");
	milter_client_macro(mc, "daemon_addr", "192.0.2.25");
	milter_client_macro(mc, "v", "tern 0.1");
	milter_client_macro(mc, "_", "client.example [192.0.2.1]");
	milter_client_macro(mc, "{client_addr}", "192.0.2.1");
	milter_client_macro(mc, "{client_port}", "4242");
	milter_client_macro(mc, "{client_name}", "client.example");
	milter_client_macro(mc, "{client_ptr}", "client.example");
	milter_client_macro(mc, "{tls_version}", "TLSv1.3");
	milter_client_macro(mc, "{cipher}", "TLS_AES_256_GCM_SHA384");
	milter_client_macro(mc, "{auth_authen}", "alice");
	milter_client_macro(mc, "{auth_type}", "PLAIN");
	milter_client_macro(mc, "{mail_addr}", "alice@example.org");
	milter_client_macro(mc, "{rcpt_addr}", "bob@example.test");
	milter_client_macro(mc, "i", "4Q1ID");
	milter_client_macro(mc, "{unsent}", "never");
	milter_client_macro(mc, "{cert_subject}", "gone");
	milter_client_macro(mc, "{cert_subject}", NULL); /* unset */
}

/* The macros sent at each stage when the filter does not choose. */
static void
test_macros_default(void **state)
{
	static const char want[] =
	    "C[j=mx.example.test {daemon_name}=tern "
	    "{daemon_addr}=192.0.2.25 v=tern 0.1 "
	    "_=client.example [192.0.2.1] {client_addr}=192.0.2.1 "
	    "{client_port}=4242 {client_name}=client.example "
	    "{client_ptr}=client.example] "
	    "H[{tls_version}=TLSv1.3 {cipher}=TLS_AES_256_GCM_SHA384] "
	    "M[i=4Q1ID {auth_type}=PLAIN {auth_authen}=alice "
	    "{mail_addr}=alice@example.org] "
	    "R[i=4Q1ID {rcpt_addr}=bob@example.test] "
	    "T[i=4Q1ID] N[i=4Q1ID] E[i=4Q1ID]";
	char got[2048];
	struct fake *f;
	struct t *t;

	(void)state;
	t = t_new();
	f = t_fake(t, G.lfd_a);
	script_envelope(f, 0, 0);
	(void)on(f, MILTER_C_UNKNOWN, MILTER_R_CONTINUE);
	out_pkt(script_message(f), MILTER_R_CONTINUE, NULL, 0);
	t_client(t, 1 << 20, "t1", NULL);
	set_macros(t->mc);
	envelope_ok(t);
	do_unknown(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_eom(t, &small_src);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	t_end(t);
	assert_string_equal(f->err, "");
	fake_macros(f, got, sizeof(got));
	assert_string_equal(got, want);
	/* Each macro packet just before its command. */
	assert_string_equal(f->seq, "ODCDHDMDRDTULLLLLLDNBDEQ");
	t_free(t);
}

/* SETSYMLIST narrows (or widens) the lists, if negotiated. */
static void
test_macros_symlist(void **state)
{
	/* HELO has no list: its defaults; DATA's and EOM's are empty. */
	static const char want[] =
	    "C[{client_addr}=192.0.2.1] "
	    "H[{tls_version}=TLSv1.3 {cipher}=TLS_AES_256_GCM_SHA384] "
	    "M[{mail_addr}=alice@example.org "
	    "{auth_authen}=alice] R[{unsent}=never] N[j=mx.example.test]";
	char got[2048];
	struct fake *f;
	struct step *s;
	struct t *t;

	(void)state;
	t = t_new();
	f = t_fake(t, G.lfd_a);
	s = step(f, MILTER_C_OPTNEG);
	out_optneg(s, 6, MILTER_A_SETSYMLIST, 0, 6, 0, "{client_addr}", 2,
	    "{mail_addr} {auth_authen}  {nope}", 3, "unsent", 4, "", 5,
	    "{nope}", 6, "j");
	(void)on(f, MILTER_C_CONNECT, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_HELO, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_MAIL, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_RCPT, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_DATA, MILTER_R_CONTINUE);
	out_pkt(script_message(f), MILTER_R_CONTINUE, NULL, 0);
	t_client(t, 1 << 20, "t1", NULL);
	set_macros(t->mc);
	envelope_ok(t);
	do_eom(t, &small_src);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	t_end(t);
	assert_string_equal(f->err, "");
	fake_macros(f, got, sizeof(got));
	assert_string_equal(got, want);
	t_free(t);

	/* Lists from a filter that did not negotiate SETSYMLIST: ignored. */
	t = t_new();
	f = t_fake(t, G.lfd_a);
	s = step(f, MILTER_C_OPTNEG);
	out_optneg(s, 6, 0, 0, 1, 0, "{client_addr}");
	(void)on(f, MILTER_C_CONNECT, MILTER_R_CONTINUE);
	t_client(t, 1 << 20, "t1", NULL);
	milter_client_macro(t->mc, "j", "mx.example.test");
	milter_client_macro(t->mc, "{client_addr}", "192.0.2.1");
	do_connect(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	t_end(t);
	fake_macros(f, got, sizeof(got));
	assert_string_equal(got,
	    "C[j=mx.example.test {client_addr}=192.0.2.1]");
	t_free(t);
}

/* ---- the message ------------------------------------------------------ */

/* Header fields as filters read them, EOH, the body, BODYEOB. */
static void
test_eom_message(void **state)
{
	static const char *const want[][2] = {
		{ "Authentication-Results", "mx; spf=pass" },
		{ "Received", "from x by y" },
		{ "Subject", "hello\n  world" },
		{ "X-A", "one" },
		{ "X-A", "two" },
		{ "X-Empty", "" },
	};
	const struct rec *r;
	struct fake *f;
	struct t *t;
	size_t i;

	(void)state;
	t = t_new();
	f = t_fake(t, G.lfd_a);
	script_envelope(f, 0, 0);
	out_pkt(script_message(f), MILTER_R_CONTINUE, NULL, 0);
	t_client(t, 1 << 20, "t1", NULL);
	envelope_ok(t);
	do_eom(t, &small_src);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	assert_null(t->res.edits);
	t_end(t);
	assert_string_equal(f->err, "");
	assert_string_equal(f->cmds, "OCHMRTLLLLLLNBEQ");
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		r = fake_get(f, MILTER_C_HEADER, i);
		assert_string_equal((const char *)r->p, want[i][0]);
		assert_string_equal((const char *)r->p + strlen(want[i][0]) + 1,
		    want[i][1]);
		assert_int_equal(r->n,
		    strlen(want[i][0]) + strlen(want[i][1]) + 2);
	}
	assert_int_equal(fake_get(f, MILTER_C_EOH, 0)->n, 0);
	assert_int_equal(fake_get(f, MILTER_C_BODYEOB, 0)->n, 0);
	assert_int_equal(f->nbody, 1);
	assert_int_equal(f->body_len, strlen(msg_body));
	assert_memory_equal(f->body, msg_body, f->body_len);
	t_free(t);
}

/* The 10 MB message, at fd_off 5 in its (unlinked) file. */
static void
big_file(void)
{
	static const char hdr[] = "Subject: big\r\n\r\n";
	char path[256];
	uint8_t *b = malloc(BIG);
	size_t i;
	int fd;

	assert_non_null(b);
	for (i = 0; i < BIG; i++)
		b[i] = (i % 64 == 62) ? '\r'
		       : (i % 64 == 63)
		           ? '\n'
		           : (uint8_t)('a' + (i * 7 + i / 64) % 26);
	(void)snprintf(path, sizeof(path), "%s/big.eml", G.dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "junk!", 5), 5);
	assert_int_equal(write(fd, hdr, sizeof(hdr) - 1),
	    (ssize_t)sizeof(hdr) - 1);
	assert_int_equal(write(fd, b, BIG), (ssize_t)BIG);
	(void)unlink(path);
	memset(&G.big, 0, sizeof(G.big));
	G.big.fd = fd;
	G.big.fd_off = 5;
	G.big.fd_len = sizeof(hdr) - 1 + BIG;
	G.big_body = b;
	G.mid_text = malloc(sizeof(hdr) - 1 + MID);
	assert_non_null(G.mid_text);
	memcpy(G.mid_text, hdr, sizeof(hdr) - 1);
	memcpy(G.mid_text + sizeof(hdr) - 1, b, MID);
	memset(&G.mid, 0, sizeof(G.mid));
	G.mid.mem = G.mid_text;
	G.mid.mem_len = sizeof(hdr) - 1 + MID;
}

/* The 10 MB body in chunks of at most 65535; and a 10 MB replacement. */
static void
test_eom_big(void **state)
{
	uint8_t *repl;
	size_t i, off, n;
	struct fake *f;
	struct step *s;
	struct t *t;

	(void)state;
	repl = malloc(BIG);
	assert_non_null(repl);
	for (i = 0; i < BIG; i++)
		repl[i] = (i % 40 == 39) ? '\n' : (uint8_t)('A' + i % 23);
	t = t_new();
	f = t_fake(t, G.lfd_a);
	script_envelope(f, MILTER_A_CHGBODY, 0);
	s = script_message(f);
	for (off = 0; off < BIG; off += n) {
		n = BIG - off < MILTER_CHUNK_MAX ? BIG - off : MILTER_CHUNK_MAX;
		out_pkt(s, MILTER_R_REPLBODY, repl + off, n);
		/* As a libmilter filter calling smfi_progress(): the 1 s
		 * content_timeout runs from the last reply of any kind. */
		if (off / MILTER_CHUNK_MAX % 16 == 15)
			out_pkt(s, MILTER_R_PROGRESS, NULL, 0);
	}
	out_pkt(s, MILTER_R_ACCEPT, NULL, 0);
	t_client(t, 2 * BIG, "t1", NULL);
	envelope_ok(t);
	do_eom(t, &G.big);
	expect(t, MILTER_V_EDITED, "", "t1");
	assert_true(t->res.edits->body_replaced);
	assert_int_equal(t->res.edits->body.len, BIG);
	assert_memory_equal(t->res.edits->body.data, repl, BIG);
	assert_int_equal(t->res.edits->nhdr, 0);
	t_end(t);
	assert_string_equal(f->err, "");
	assert_string_equal(f->cmds, "OCHMRTLNBEQ");
	assert_int_equal(f->nbody,
	    (BIG + MILTER_CHUNK_MAX - 1) / MILTER_CHUNK_MAX);
	assert_int_equal(f->body_chunk_max, MILTER_CHUNK_MAX);
	assert_int_equal(f->body_len, BIG);
	assert_memory_equal(f->body, G.big_body, BIG);
	t_free(t);
	free(repl);
}

/* SKIP ends the body early, when negotiated; else it breaks the filter. */
static void
test_eom_skip(void **state)
{
	struct fake *f;
	struct t *t;

	(void)state;
	t = t_new();
	f = t_fake(t, G.lfd_a);
	script_envelope(f, 0, MILTER_P_SKIP);
	(void)on_each(f, MILTER_C_HEADER, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_EOH, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_BODY, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_BODY, MILTER_R_SKIP);
	(void)on(f, MILTER_C_BODYEOB, MILTER_R_CONTINUE);
	t_client(t, 1 << 20, "t1", NULL);
	envelope_ok(t);
	do_eom(t, &G.big);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	t_end(t);
	assert_string_equal(f->err, "");
	assert_string_equal(f->cmds, "OCHMRTLNBEQ");
	assert_int_equal(f->nbody, 2);
	assert_int_equal(f->body_len, 2 * MILTER_CHUNK_MAX);
	assert_memory_equal(f->body, G.big_body, 2 * MILTER_CHUNK_MAX);
	t_free(t);

	t = t_new();
	f = t_fake(t, G.lfd_a);
	script_envelope(f, 0, 0);
	(void)on_each(f, MILTER_C_HEADER, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_EOH, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_BODY, MILTER_R_SKIP);
	t_client(t, 1 << 20, "t1", NULL);
	envelope_ok(t);
	do_eom(t, &G.big);
	expect(t, MILTER_V_TEMPFAIL, tempfail_451, "t1");
	assert_true(t->res.failed);
	t_end(t);
	assert_string_equal(f->cmds, "OCHMRTLNB");
	t_free(t);
}

/* Every modification reply, recorded in order; the EDITED verdict. */
static void
test_eom_edits(void **state)
{
	const struct milter_edits *e;
	char bare[64];
	struct fake *f;
	struct step *s;
	struct t *t;

	(void)state;
	t = t_new();
	f = t_fake(t, G.lfd_a);
	script_envelope(f, MILTER_A_ALL & ~MILTER_A_SETSYMLIST, 0);
	s = script_message(f);
	out_pkt(s, MILTER_R_PROGRESS, NULL, 0);
	out_strs(s, MILTER_R_ADDHEADER, "X-Spam", "no", NULL);
	out_idx(s, MILTER_R_INSHEADER, 0, "X-Top", "first\n\tfolded");
	out_idx(s, MILTER_R_CHGHEADER, 2, "x-a", "changed");
	out_idx(s, MILTER_R_CHGHEADER, 1, "Subject", "");
	out_strs(s, MILTER_R_DELRCPT, "<bob@example.test>", NULL);
	out_strs(s, MILTER_R_ADDRCPT, "<carol@example.test>", NULL);
	out_strs(s, MILTER_R_ADDRCPT_PAR, "dave@example.test", "NOTIFY=NEVER",
	    NULL);
	out_strs(s, MILTER_R_CHGFROM, "<new@example.org>", "SIZE=10", NULL);
	out_strs(s, MILTER_R_QUARANTINE, "first reason", NULL);
	out_strs(s, MILTER_R_QUARANTINE, "held for review", NULL);
	out_pkt(s, MILTER_R_REPLBODY, "new ", 4);
	out_pkt(s, MILTER_R_REPLBODY, "body\r\n", 6);
	out_pkt(s, MILTER_R_CONTINUE, NULL, 0);
	t_client(t, 1 << 20, "t1", NULL);
	envelope_ok(t);
	do_eom(t, &small_src);
	expect(t, MILTER_V_EDITED, "", "t1");
	assert_false(t->res.failed);
	e = t->res.edits;
	assert_non_null(e);
	assert_int_equal(e->nhdr, 4);
	assert_int_equal(e->hdr[0].op, MILTER_HDR_ADD);
	assert_string_equal(e->hdr[0].name, "X-Spam");
	assert_string_equal(e->hdr[0].value, "no");
	assert_int_equal(e->hdr[1].op, MILTER_HDR_INSERT);
	assert_int_equal(e->hdr[1].index, 0);
	assert_string_equal(e->hdr[1].name, "X-Top");
	assert_string_equal(e->hdr[1].value, "first\n\tfolded");
	assert_int_equal(e->hdr[2].op, MILTER_HDR_CHANGE);
	assert_int_equal(e->hdr[2].index, 2);
	assert_string_equal(e->hdr[2].name, "x-a");
	assert_string_equal(e->hdr[2].value, "changed");
	assert_int_equal(e->hdr[3].op, MILTER_HDR_CHANGE);
	assert_int_equal(e->hdr[3].index, 1);
	assert_string_equal(e->hdr[3].value, "");
	assert_int_equal(e->ndel_rcpt, 1);
	assert_string_equal(e->del_rcpt[0], "<bob@example.test>");
	assert_true(milter_edits_deletes(e, "BOB@example.test"));
	assert_false(milter_edits_deletes(e, "carol@example.test"));
	assert_int_equal(e->nadd_rcpt, 2);
	assert_string_equal(e->add_rcpt[0].addr, "<carol@example.test>");
	assert_string_equal(e->add_rcpt[0].params, "");
	assert_string_equal(e->add_rcpt[1].addr, "dave@example.test");
	assert_string_equal(e->add_rcpt[1].params, "NOTIFY=NEVER");
	assert_true(e->chg_from);
	assert_string_equal(e->from.addr, "<new@example.org>");
	assert_string_equal(e->from.params, "SIZE=10");
	assert_true(milter_addr_parse(e->from.addr, false, bare, sizeof(bare)));
	assert_string_equal(bare, "new@example.org");
	assert_true(milter_addr_parse("<>", true, bare, sizeof(bare)));
	assert_string_equal(bare, "");
	assert_false(milter_addr_parse("<>", false, bare, sizeof(bare)));
	assert_false(
	    milter_addr_parse("not an address", true, bare, sizeof(bare)));
	assert_non_null(e->quarantine);
	assert_string_equal(e->quarantine, "held for review");
	assert_true(e->body_replaced);
	assert_int_equal(e->body.len, 10);
	assert_memory_equal(e->body.data, "new body\r\n", 10);
	t_end(t);
	assert_string_equal(f->err, "");
	assert_string_equal(f->cmds, "OCHMRTLLLLLLNBEQ");
	t_free(t);
}

/* A modification the filter did not negotiate, or outside the EOM. */
static void
test_eom_unnegotiated(void **state)
{
	static const struct {
		uint32_t act;
		char code;
		const char *a, *b;
	} cases[] = {
		{ MILTER_A_ADDHDRS, MILTER_R_ADDRCPT, "<x@y>", NULL },
		{ MILTER_A_ADDRCPT, MILTER_R_ADDRCPT_PAR, "<x@y>", "" },
		{ MILTER_A_ADDHDRS, MILTER_R_DELRCPT, "<x@y>", NULL },
		{ MILTER_A_CHGHDRS, MILTER_R_ADDHEADER, "X-A", "b" },
		{ MILTER_A_ADDRCPT, MILTER_R_CHGFROM, "<x@y>", NULL },
		{ MILTER_A_ADDRCPT, MILTER_R_QUARANTINE, "why", NULL },
		{ MILTER_A_ADDHDRS, MILTER_R_REPLBODY, "body", NULL },
	};
	struct fake *f;
	struct step *s;
	struct t *t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = t_new();
		f = t_fake(t, G.lfd_a);
		script_envelope(f, cases[i].act, 0);
		s = script_message(f);
		if (cases[i].code == MILTER_R_REPLBODY)
			out_pkt(s, cases[i].code, cases[i].a, 4);
		else
			out_strs(s, cases[i].code, cases[i].a, cases[i].b,
			    NULL);
		out_pkt(s, MILTER_R_CONTINUE, NULL, 0);
		t_client(t, 1 << 20, "t1", NULL);
		envelope_ok(t);
		do_eom(t, &small_src);
		if (t->res.verdict != MILTER_V_TEMPFAIL)
			fail_msg("case %zu: verdict %d", i, t->res.verdict);
		expect(t, MILTER_V_TEMPFAIL, tempfail_451, "t1");
		assert_true(t->res.failed);
		assert_null(t->res.edits);
		t_end(t);
		t_free(t);
	}

	/* A header change in reply to RCPT: broken, its default (accept). */
	t = t_new();
	f = t_fake(t, G.lfd_a);
	(void)hello(f, MILTER_A_ALL, 0);
	(void)on(f, MILTER_C_CONNECT, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_HELO, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_MAIL, MILTER_R_CONTINUE);
	out_strs(step(f, MILTER_C_RCPT), MILTER_R_ADDHEADER, "X-A", "b", NULL);
	t_client(t, 1 << 20, "a1", NULL);
	envelope_ok(t);
	do_eom(t, &small_src);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	t_end(t);
	assert_string_equal(f->cmds, "OCHMR");
	t_free(t);
}

/*
 * Two filters: the first's changes stop the end of message (EDITED); the
 * second call goes on with the next; the first is not asked again.
 */
static void
test_eom_edited_then_next(void **state)
{
	struct fake *f1, *f2;
	struct step *s;
	struct t *t;

	(void)state;
	t = t_new();
	f1 = t_fake(t, G.lfd_a);
	f2 = t_fake(t, G.lfd_b);
	script_envelope(f1, MILTER_A_ADDHDRS, 0);
	s = script_message(f1);
	out_strs(s, MILTER_R_ADDHEADER, "X-First", "1", NULL);
	out_pkt(s, MILTER_R_CONTINUE, NULL, 0);
	script_envelope(f2, MILTER_A_ADDHDRS, 0);
	s = script_message(f2);
	out_strs(s, MILTER_R_ADDHEADER, "X-Second", "2", NULL);
	out_pkt(s, MILTER_R_ACCEPT, NULL, 0);
	t_client(t, 1 << 20, "t1", "t2", NULL);
	envelope_ok(t);
	do_eom(t, &small_src);
	expect(t, MILTER_V_EDITED, "", "t1");
	assert_int_equal(t->res.edits->nhdr, 1);
	assert_string_equal(t->res.edits->hdr[0].name, "X-First");
	/* The caller applied them; the next call sends the new message. */
	do_eom(t, &small_src);
	expect(t, MILTER_V_EDITED, "", "t2");
	assert_int_equal(t->res.edits->nhdr, 1);
	assert_string_equal(t->res.edits->hdr[0].name, "X-Second");
	do_eom(t, &small_src); /* nobody left */
	expect(t, MILTER_V_CONTINUE, "", NULL);
	t_end(t);
	assert_string_equal(f1->err, "");
	assert_string_equal(f2->err, "");
	assert_string_equal(f1->cmds, "OCHMRTLLLLLLNBEQ");
	assert_string_equal(f2->cmds, "OCHMRTLLLLLLNBEQ");
	t_free(t);
}

/* ---- several filters -------------------------------------------------- */

static void
test_two_filters(void **state)
{
	struct fake *f1, *f2;
	struct t *t;

	(void)state;
	/* The first rejects RCPT: the second is not asked. */
	t = t_new();
	f1 = t_fake(t, G.lfd_a);
	f2 = t_fake(t, G.lfd_b);
	(void)hello(f1, 0, 0);
	(void)on(f1, MILTER_C_CONNECT, MILTER_R_CONTINUE);
	(void)on(f1, MILTER_C_HELO, MILTER_R_CONTINUE);
	(void)on(f1, MILTER_C_MAIL, MILTER_R_CONTINUE);
	(void)on(f1, MILTER_C_RCPT, MILTER_R_REJECT);
	(void)on(f1, MILTER_C_RCPT, MILTER_R_CONTINUE);
	(void)hello(f2, 0, 0);
	(void)on(f2, MILTER_C_CONNECT, MILTER_R_CONTINUE);
	(void)on(f2, MILTER_C_HELO, MILTER_R_CONTINUE);
	(void)on(f2, MILTER_C_MAIL, MILTER_R_CONTINUE);
	(void)on(f2, MILTER_C_RCPT, MILTER_R_TEMPFAIL);
	t_client(t, 1 << 20, "t1", "t2", NULL);
	do_connect(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_helo(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_mail(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_rcpt(t);
	expect(t, MILTER_V_REJECT, "550 5.7.1 Command rejected", "t1");
	do_rcpt(t); /* the next one: the first says continue, the second */
	expect(t, MILTER_V_TEMPFAIL, tempfail_451, "t2");
	t_end(t);
	assert_string_equal(f1->err, "");
	assert_string_equal(f2->err, "");
	assert_string_equal(f1->cmds, "OCHMRRQ");
	assert_string_equal(f2->cmds, "OCHMRQ");
	t_free(t);

	/* A reject at connect: the second is never even connected. */
	t = t_new();
	f1 = t_fake(t, G.lfd_a);
	f2 = t_fake(t, G.lfd_b);
	(void)hello(f1, 0, 0);
	(void)on(f1, MILTER_C_CONNECT, MILTER_R_REJECT);
	t_client(t, 1 << 20, "t1", "t2", NULL);
	do_connect(t);
	expect(t, MILTER_V_REJECT, "554 5.7.1 Access denied", "t1");
	t_end(t);
	assert_string_equal(f1->cmds, "OCQ");
	assert_false(f2->accepted);
	t_free(t);
}

/* ABORT only to the filters that saw the transaction; QUIT at free. */
static void
test_abort_quit(void **state)
{
	struct fake *f1, *f2, *f3;
	struct t *t;

	(void)state;
	t = t_new();
	f1 = t_fake(t, G.lfd_a);
	f2 = t_fake(t, G.lfd_b);
	f3 = t_fake(t, G.lfd_net);
	(void)hello(f1, 0, 0);
	(void)on(f1, MILTER_C_CONNECT, MILTER_R_ACCEPT); /* session done */
	(void)hello(f2, 0, 0);
	(void)on(f2, MILTER_C_CONNECT, MILTER_R_CONTINUE);
	(void)on(f2, MILTER_C_HELO, MILTER_R_CONTINUE);
	(void)on(f2, MILTER_C_MAIL, MILTER_R_CONTINUE);
	(void)on(f2, MILTER_C_RCPT, MILTER_R_REJECT);
	(void)hello(f3, 0, MILTER_P_NOMAIL | MILTER_P_NORCPT);
	(void)on(f3, MILTER_C_CONNECT, MILTER_R_CONTINUE);
	(void)on(f3, MILTER_C_HELO, MILTER_R_CONTINUE);
	t_client(t, 1 << 20, "t1", "t2", "net", NULL);
	do_connect(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_helo(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	milter_client_abort(t->mc); /* no transaction yet: nobody */
	do_mail(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_rcpt(t);
	expect(t, MILTER_V_REJECT, "550 5.7.1 Command rejected", "t2");
	milter_client_abort(t->mc);
	t_end(t);
	assert_string_equal(f1->err, "");
	assert_string_equal(f2->err, "");
	assert_string_equal(f3->err, "");
	assert_string_equal(f1->cmds, "OCQ");
	assert_string_equal(f2->cmds, "OCHMRAQ");
	assert_string_equal(f3->cmds, "OCHQ");
	t_free(t);
}

/* Freeing the client with a stage in flight: no done, QUIT, closed. */
static void
test_free_in_flight(void **state)
{
	struct fake *f;
	struct t *t;

	(void)state;
	t = t_new();
	f = t_fake(t, G.lfd_a);
	(void)hello(f, 0, 0);
	(void)on(f, MILTER_C_CONNECT, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_HELO, 0); /* never answered */
	t_client(t, 1 << 20, "t1", NULL);
	do_connect(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	t->calls = 0;
	milter_client_helo(t->mc, "x", on_done, t);
	/* Let the HELO go out, without waiting for its timeout. */
	(void)event_base_loop(t->base, EVLOOP_NONBLOCK);
	t_end(t);
	assert_int_equal(t->calls, 0);
	assert_string_equal(f->err, "");
	assert_string_equal(f->cmds, "OCHQ");
	assert_true(f->eof);
	t_free(t);

	/* No filters at all: every stage continues, later. */
	t = t_new();
	t_client(t, 1 << 20, NULL);
	envelope_ok(t);
	do_eom(t, &small_src);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	t_end(t);
	t_free(t);
	milter_client_free(NULL);
}

/* ---- failures --------------------------------------------------------- */

enum hostile { H_SILENT, H_GARBAGE, H_EOF, H_BIGLEN };
enum where { W_OPTNEG, W_RCPT, W_BODY };

static const char *const hostile_name[] = { "silent", "garbage", "eof",
	"10MB length" };
static const char *const where_name[] = { "optneg", "rcpt", "body" };

/* Script continue up to `where`, then behave as h. */
static void
script_hostile(struct fake *f, enum where w, enum hostile h)
{
	static const uint8_t garbage[] = "\x00\x00\x00\x05Zjunk";
	static const uint8_t biglen[] = "\x00\xa0\x00\x00"
	                                "c";
	struct step *s;

	if (w == W_OPTNEG)
		s = step(f, MILTER_C_OPTNEG);
	else {
		(void)hello(f, 0, 0);
		(void)on(f, MILTER_C_CONNECT, MILTER_R_CONTINUE);
		(void)on(f, MILTER_C_HELO, MILTER_R_CONTINUE);
		(void)on(f, MILTER_C_MAIL, MILTER_R_CONTINUE);
		if (w == W_RCPT)
			s = step(f, MILTER_C_RCPT);
		else {
			(void)on(f, MILTER_C_RCPT, MILTER_R_CONTINUE);
			(void)on(f, MILTER_C_DATA, MILTER_R_CONTINUE);
			(void)on_each(f, MILTER_C_HEADER, MILTER_R_CONTINUE);
			(void)on(f, MILTER_C_EOH, MILTER_R_CONTINUE);
			s = step(f, MILTER_C_BODY);
		}
	}
	switch (h) {
	case H_SILENT:
		f->nsteps--; /* the script ends before it: no answer */
		break;
	case H_GARBAGE:
		out_raw(s, garbage, sizeof(garbage) - 1);
		break;
	case H_EOF:
		s->close = true;
		break;
	case H_BIGLEN:
		out_raw(s, biglen, sizeof(biglen) - 1);
		break;
	}
}

/* One broken filter, one default action; the session from end to end. */
static void
fail_case(enum where w, enum hostile h, bool tempfail)
{
	const char *name = tempfail ? "t1" : "a1";
	struct fake *f;
	struct t *t;

	t = t_new();
	f = t_fake(t, G.lfd_a);
	script_hostile(f, w, h);
	t_client(t, 1 << 20, name, NULL);
	do_connect(t);
	expect(t, MILTER_V_CONTINUE, "", NULL); /* never refused here */
	do_helo(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_mail(t);
	if (tempfail && w == W_OPTNEG) {
		expect(t, MILTER_V_TEMPFAIL, tempfail_451, name);
		assert_true(t->res.failed);
	} else
		expect(t, MILTER_V_CONTINUE, "", NULL);
	do_rcpt(t);
	if (tempfail && w <= W_RCPT) {
		expect(t, MILTER_V_TEMPFAIL, tempfail_451, name);
		assert_true(t->res.failed);
	} else
		expect(t, MILTER_V_CONTINUE, "", NULL);
	do_data(t);
	if (tempfail && w <= W_RCPT)
		expect(t, MILTER_V_TEMPFAIL, tempfail_451, name);
	else
		expect(t, MILTER_V_CONTINUE, "", NULL);
	do_eom(t, w == W_BODY ? &G.big : &small_src);
	if (tempfail) {
		expect(t, MILTER_V_TEMPFAIL, tempfail_451, name);
		assert_true(t->res.failed);
	} else
		expect(t, MILTER_V_CONTINUE, "", NULL);
	/* It sticks for the next transaction, but HELO passes. */
	milter_client_abort(t->mc);
	do_helo(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_mail(t);
	if (tempfail)
		expect(t, MILTER_V_TEMPFAIL, tempfail_451, name);
	else
		expect(t, MILTER_V_CONTINUE, "", NULL);
	t_end(t);
	if (f->err[0] != '\0')
		fail_msg("%s at %s: %s", hostile_name[h], where_name[w],
		    f->err);
	/* Closed by one side or the other, never spoken to again. */
	assert_true(f->eof || h == H_EOF);
	assert_null(strchr(f->cmds, MILTER_C_QUIT));
	assert_null(strchr(f->cmds, MILTER_C_ABORT));
	t_free(t);
}

static void
test_fail_broken(void **state)
{
	enum hostile h;
	enum where w;

	(void)state;
	for (w = W_OPTNEG; w <= W_BODY; w++)
		for (h = H_GARBAGE; h <= H_BIGLEN; h++) {
			fail_case(w, h, true);
			fail_case(w, h, false);
		}
}

/* Timeouts (1 s each): connect, command, content. */
static void
test_fail_timeout(void **state)
{
	(void)state;
	fail_case(W_OPTNEG, H_SILENT, true);
	fail_case(W_RCPT, H_SILENT, false);
	fail_case(W_BODY, H_SILENT, true);
}

/*
 * Regression: PROGRESS restarted the timeout without end, so a filter
 * that kept sending it held the stage (and the session) forever. Now a
 * reply is waited for at most 4 timeouts (1 s each here) in all.
 */
static void
test_progress_bounded(void **state)
{
	struct timespec t0, t1;
	struct fake *f;
	struct step *s;
	struct t *t;
	double took;
	int i;

	(void)state;
	t = t_new();
	f = t_fake(t, G.lfd_a);
	(void)hello(f, 0, 0);
	(void)on(f, MILTER_C_CONNECT, MILTER_R_CONTINUE);
	(void)on(f, MILTER_C_HELO, MILTER_R_CONTINUE);
	s = step(f, MILTER_C_MAIL);
	s->gap_ms = 300;
	for (i = 0; i < 40; i++) /* 12 s of PROGRESS, never a verdict */
		out_pkt(s, MILTER_R_PROGRESS, NULL, 0);
	t_client(t, 1 << 20, "t1", NULL);
	do_connect(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	do_helo(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	do_mail(t); /* run() fails it past RUN_CAP_S (5 s) */
	(void)clock_gettime(CLOCK_MONOTONIC, &t1);
	expect(t, MILTER_V_TEMPFAIL, tempfail_451, "t1");
	assert_true(t->res.failed);
	took = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (took < 3.5) /* PROGRESS did extend the 1 s timeout */
		fail_msg("tempfailed after %.2f s", took);
	t_end(t);
	t_free(t);
}

/*
 * Regression: each recipient parsed every DELRCPT address again, so
 * 10000 deletions against 10000 recipients were 10^8 parses on the
 * event loop (minutes under ASan). Parsed once and sorted: a lookup.
 */
static void
test_dels_many(void **state)
{
	struct milter_edits e;
	struct milter_reply r;
	struct milter_dels d;
	char a[64];
	const char *why;
	size_t i, hits = 0;

	(void)state;
	milter_edits_init(&e, 0);
	memset(&r, 0, sizeof(r));
	r.code = MILTER_R_DELRCPT;
	for (i = 0; i < MILTER_EDITS_MAX; i++) {
		(void)snprintf(a, sizeof(a), "<u%zu@Example.TEST>", i);
		r.s1 = a;
		r.s1_len = strlen(a);
		assert_int_equal(milter_edits_add(&e, &r, &why), 0);
	}
	milter_dels_init(&d, &e);
	assert_int_equal(d.n, MILTER_EDITS_MAX);
	for (i = 0; i < 2 * MILTER_EDITS_MAX; i += 2) {
		(void)snprintf(a, sizeof(a), "U%zu@example.test", i);
		hits += milter_dels_has(&d, a);
	}
	assert_int_equal(hits, MILTER_EDITS_MAX / 2);
	assert_false(milter_dels_has(&d, "u1@example.test.x"));
	milter_dels_free(&d);
	assert_true(milter_edits_deletes(&e, "u9999@EXAMPLE.test"));
	milter_edits_free(&e);
}

/* A filter that is not there: no file, or nobody listening. */
static void
test_fail_refused(void **state)
{
	static const char *const names[] = { "gone", "gonea", "stale" };
	struct t *t;
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		bool temp = strcmp(names[i], "gonea") != 0;

		t = t_new();
		t_client(t, 1 << 20, names[i], NULL);
		do_connect(t);
		expect(t, MILTER_V_CONTINUE, "", NULL);
		do_helo(t);
		expect(t, MILTER_V_CONTINUE, "", NULL);
		do_mail(t);
		if (temp) {
			expect(t, MILTER_V_TEMPFAIL, tempfail_451, names[i]);
			assert_true(t->res.failed);
		} else
			expect(t, MILTER_V_CONTINUE, "", NULL);
		do_rcpt(t);
		expect(t, temp ? MILTER_V_TEMPFAIL : MILTER_V_CONTINUE, NULL,
		    temp ? names[i] : NULL);
		t_end(t);
		t_free(t);
	}

	/* A dead first filter with accept: the second still decides. */
	t = t_new();
	{
		struct fake *f = t_fake(t, G.lfd_b);

		(void)hello(f, 0, 0);
		(void)on(f, MILTER_C_CONNECT, MILTER_R_REJECT);
		t_client(t, 1 << 20, "gonea", "t2", NULL);
		do_connect(t);
		expect(t, MILTER_V_REJECT, "554 5.7.1 Access denied", "t2");
		t_end(t);
		assert_string_equal(f->cmds, "OCQ");
	}
	t_free(t);
}

/*
 * A filter that breaks at end of message after some changes: with
 * accept, its changes must not reach the next filter's verdict.
 */
static void
test_fail_edits_dropped(void **state)
{
	static const uint8_t garbage[] = "\x00\x00\x00\x05Zjunk";
	struct fake *f1, *f2;
	struct step *s;
	struct t *t;

	(void)state;
	t = t_new();
	f1 = t_fake(t, G.lfd_a);
	f2 = t_fake(t, G.lfd_b);
	script_envelope(f1, MILTER_A_ADDHDRS, 0);
	s = script_message(f1);
	out_strs(s, MILTER_R_ADDHEADER, "X-Half", "done", NULL);
	out_raw(s, garbage, sizeof(garbage) - 1);
	script_envelope(f2, 0, 0);
	out_pkt(script_message(f2), MILTER_R_CONTINUE, NULL, 0);
	t_client(t, 1 << 20, "a1", "t2", NULL);
	envelope_ok(t);
	do_eom(t, &small_src);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	assert_null(t->res.edits);
	t_end(t);
	assert_string_equal(f2->cmds, "OCHMRTLLLLLLNBEQ");
	t_free(t);
}

/* Our own data too long for a packet: tempfail, no filter to blame. */
static void
test_unencodable(void **state)
{
	struct fake *f;
	char *helo;
	struct t *t;

	(void)state;
	helo = malloc(MILTER_REPLY_MAX * 2);
	assert_non_null(helo);
	memset(helo, 'h', MILTER_REPLY_MAX * 2 - 1);
	helo[MILTER_REPLY_MAX * 2 - 1] = '\0';
	t = t_new();
	f = t_fake(t, G.lfd_a);
	(void)hello(f, 0, 0);
	(void)on(f, MILTER_C_CONNECT, MILTER_R_CONTINUE);
	t_client(t, 1 << 20, "t1", NULL);
	do_connect(t);
	expect(t, MILTER_V_CONTINUE, "", NULL);
	STAGE(t, milter_client_helo(t->mc, helo, on_done, t));
	expect(t, MILTER_V_TEMPFAIL, tempfail_451, NULL);
	assert_true(t->res.failed);
	t_end(t);
	assert_string_equal(f->cmds, "OCQ");
	t_free(t);
	free(helo);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_optneg),
		cmocka_unit_test(test_optneg_old),
		cmocka_unit_test(test_connect_families),
		cmocka_unit_test(test_stage_payloads),
		cmocka_unit_test(test_stage_verdicts),
		cmocka_unit_test(test_accept),
		cmocka_unit_test(test_no_reply_flags),
		cmocka_unit_test(test_no_reply_big_body),
		cmocka_unit_test(test_no_stage_flags),
		cmocka_unit_test(test_macros_default),
		cmocka_unit_test(test_macros_symlist),
		cmocka_unit_test(test_eom_message),
		cmocka_unit_test(test_eom_big),
		cmocka_unit_test(test_eom_skip),
		cmocka_unit_test(test_eom_edits),
		cmocka_unit_test(test_eom_unnegotiated),
		cmocka_unit_test(test_eom_edited_then_next),
		cmocka_unit_test(test_two_filters),
		cmocka_unit_test(test_abort_quit),
		cmocka_unit_test(test_free_in_flight),
		cmocka_unit_test(test_fail_broken),
		cmocka_unit_test(test_fail_timeout),
		cmocka_unit_test(test_progress_bounded),
		cmocka_unit_test(test_dels_many),
		cmocka_unit_test(test_fail_refused),
		cmocka_unit_test(test_fail_edits_dropped),
		cmocka_unit_test(test_unencodable),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
