/* SPDX-License-Identifier: ISC */
/*
 * Fuzz the whole inbound SMTP session: the real server/session*.c, with a
 * real spool, directory (SQLite) workers and scheduler in a temporary
 * data_dir, driven in-process over a socketpair.
 *
 * Input: byte 0 picks how the stream is written (bit 7 set: in pieces of
 * (byte & 63) + 1 bytes, the event loop running between pieces; clear:
 * one write); the rest is what the client sends. After the last byte the
 * harness waits until the server has been quiet for a few milliseconds,
 * half-closes, and waits until the session is freed: a session that never
 * goes away after EOF is a hang (abort). Replies are read and checked
 * for shape: every line is "DDD" + ' ' or '-', ends in CRLF, is shorter
 * than 1 KiB. TERN_FUZZ_ECHO=1 copies them to stderr (to see how deep a
 * seed gets: `fuzz_session corpus/session/full`).
 * Trust: test code; the server's own checks (ASSERT, ASan, UBSan, LSan)
 * are what this harness exercises.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf/conf.h"
#include "dir/dir.h"
#include "queue/sched.h"
#include "queue/spool.h"
#include "server/loop.h"
#include "server/server-private.h"
#include "server/workers.h"
#include "util/fsutil.h"
#include "util/log.h"

#include "../unit/testutil.h"

#define QUIET_ROUNDS 3    /* 1 ms rounds without output before EOF */
#define CLOSE_MS 10000    /* a session must be gone this long after EOF */
#define REPLY_LINE_MAX 1024

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

static struct server srv;
static struct conf *conf;
static struct listener_ctx lc;
static struct sched_deliverer dlv;
static char dir[TESTUTIL_DIR_MAX];
static bool echo; /* TERN_FUZZ_ECHO=1: copy the replies to stderr */

/* Delivery discards: the spool must still see every message through. */
static int
deliver_discard(void *ctx, const struct conf *c, const struct spool_env *env,
    int fd, size_t idx, struct why *why)
{
	(void)ctx;
	(void)c;
	(void)env;
	(void)fd;
	(void)idx;
	(void)why;
	return 0;
}

static void *
dir_init(void *arg)
{
	struct why why;
	struct dir *d = dir_open(arg, &why);

	if (d == NULL)
		abort();
	return d;
}

static void
dir_fini(void *ctx)
{
	dir_close(ctx);
}

static void
cleanup(void)
{
	workers_free(srv.dirw);
	sched_free(srv.sched);
	spool_close(srv.spool);
	loop_free(srv.loops[0].loop);
	free(srv.loops);
	free(srv.ips);
	conf_holder_free(srv.confs);
	conf_free(conf);
	testutil_rmtree(dir);
}

static void
init(void)
{
	static char db[128], q[128];
	char text[1024];
	struct why why;
	struct dir *d;
	int n;

	/* tmpfs when there is one: each input writes to the spool. */
	if (testutil_mkdtemp(dir, sizeof(dir),
	        access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
	        "fuzz-session") == -1)
		abort();
	n = snprintf(text, sizeof(text),
	    "hostname = mx.example.test\n"
	    "data_dir = %s\n"
	    "domains = example.test, example.org\n"
	    "[listener fuzz]\naddress = 127.0.0.1:2525\nmode = mx\n"
	    "tls = none\n"
	    "[limits]\nmax_message_size = 64k\nmax_recipients = 5\n"
	    "max_errors = 40\nmax_received = 3\n",
	    dir);
	if (n < 0 || (size_t)n >= sizeof(text))
		abort();
	if ((conf = conf_load_string(text, "fuzz", &why)) == NULL) {
		fprintf(stderr, "%s\n", why.text);
		abort();
	}
	(void)snprintf(db, sizeof(db), "%s/tern.db", dir);
	(void)snprintf(q, sizeof(q), "%s/queue", dir);
	if ((d = dir_open(db, &why)) == NULL ||
	    dir_user_add(d, "alice@example.test", "pw", &why) == -1 ||
	    dir_user_add(d, "bob@example.org", "pw", &why) == -1 ||
	    dir_alias_add(d, "list@example.test", "alice@example.test",
		&why) == -1 ||
	    dir_alias_add(d, "list@example.test", "bob@example.org",
		&why) == -1 ||
	    dir_alias_add(d, "loop1@example.test", "loop2@example.test",
		&why) == -1 ||
	    dir_alias_add(d, "loop2@example.test", "loop1@example.test",
		&why) == -1) {
		fprintf(stderr, "directory: %s\n", why.text);
		abort();
	}
	dir_close(d);

	echo = getenv("TERN_FUZZ_ECHO") != NULL;
	/* Quiet, but with the verbose paths (escaping peer text) on. */
	if (log_open("/dev/null", NULL) == -1)
		abort();
	log_set_verbose(true);

	memset(&srv, 0, sizeof(srv));
	srv.boot = conf;
	srv.confs = conf_holder_new(conf_ref(conf));
	pthread_mutex_init(&srv.ip_mtx, NULL);
	atomic_init(&srv.nconn, 0);
	atomic_init(&srv.next_sid, 1);
	if ((srv.spool = spool_open(q, &why)) == NULL)
		abort();
	dlv.deliver = deliver_discard;
	dlv.name = "fuzz";
	srv.sched = sched_new(srv.confs, srv.spool, &dlv);
	if (sched_start(srv.sched) == -1)
		abort();
	srv.dirw = workers_new(1, dir_init, dir_fini, db);
	srv.nloops = 1;
	srv.loops = calloc(1, sizeof(*srv.loops));
	if (srv.loops == NULL)
		abort();
	srv.loops[0].loop = loop_new(0); /* run here, not on a thread */
	lc.srv = &srv;
	lc.loop = srv.loops[0].loop;
	lc.index = 0;
	lc.fd = -1;
	srv.listeners = &lc;
	srv.nlisteners = 1;
	atexit(cleanup);
}

/* Check the shape of the replies read so far; keep a partial line. */
static void
check_replies(char *buf, size_t *len)
{
	size_t i, start = 0;

	for (i = 0; i < *len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i - start < 5 || buf[i - 1] != '\r' ||
		    buf[start] < '2' || buf[start] > '5' ||
		    buf[start + 1] < '0' || buf[start + 1] > '9' ||
		    buf[start + 2] < '0' || buf[start + 2] > '9' ||
		    (buf[start + 3] != ' ' && buf[start + 3] != '-'))
			abort(); /* a malformed reply line */
		start = i + 1;
	}
	if (*len - start >= REPLY_LINE_MAX)
		abort(); /* a reply line without end */
	memmove(buf, buf + start, *len - start);
	*len -= start;
}

/* Read what the server wrote; true if anything came. */
static bool
drain(int fd, char *buf, size_t *len)
{
	bool got = false;
	ssize_t r;

	for (;;) {
		r = read(fd, buf + *len, REPLY_LINE_MAX * 2 - *len);
		if (r <= 0)
			break;
		got = true;
		if (echo)
			(void)fwrite(buf + *len, 1, (size_t)r, stderr);
		*len += (size_t)r;
		check_replies(buf, len);
	}
	return got;
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* One round of the loop: run what is ready, wait at most 1 ms. */
static void
run_once(struct event_base *base, struct event *tick)
{
	struct timeval tv = { 0, 1000 };

	evtimer_add(tick, &tv);
	(void)event_base_loop(base, EVLOOP_ONCE);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	struct sockaddr_in sin;
	struct loop_state *ls;
	struct event_base *base;
	struct event *tick;
	char out[REPLY_LINE_MAX * 2];
	size_t outlen = 0, off = 0, step;
	unsigned quiet = 0;
	uint64_t t0;
	ssize_t w;
	int sv[2];

	if (conf == NULL)
		init();
	if (n == 0)
		return 0;
	step = (p[0] & 0x80) ? (size_t)(p[0] & 63) + 1 : SIZE_MAX;
	p++;
	n--;
	ls = &srv.loops[0];
	base = loop_base(ls->loop);
	tick = evtimer_new(base, on_tick, NULL);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		0, sv) == -1)
		abort();
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(40000);
	sin.sin_addr.s_addr = htonl(0xc0000201); /* 192.0.2.1 */
	session_accept(&lc, sv[0], (struct sockaddr *)&sin, sizeof(sin));

	/* Write the stream while the server runs; stop if it closed. */
	while (off < n) {
		size_t k = n - off < step ? n - off : step;

		w = write(sv[1], p + off, k);
		if (w == -1 && errno != EAGAIN && errno != EINTR)
			break; /* the server closed: the rest is unread */
		if (w > 0)
			off += (size_t)w;
		(void)drain(sv[1], out, &outlen);
		run_once(base, tick);
		if (ls->nalloc == 0)
			break;
	}
	/* Let pending steps (lookups, commits) finish, then EOF. */
	while (ls->nalloc > 0 && quiet < QUIET_ROUNDS) {
		run_once(base, tick);
		quiet = drain(sv[1], out, &outlen) ? 0 : quiet + 1;
	}
	(void)shutdown(sv[1], SHUT_WR);
	t0 = now_ms();
	while (ls->nalloc > 0) {
		if (now_ms() - t0 > CLOSE_MS)
			abort(); /* the session outlived its connection */
		(void)drain(sv[1], out, &outlen);
		run_once(base, tick);
	}
	(void)drain(sv[1], out, &outlen);
	(void)close(sv[1]);
	event_free(tick);
	if (atomic_load(&srv.nconn) != 0)
		abort(); /* a connection slot leaked */
	return 0;
}
