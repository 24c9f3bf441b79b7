/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for the event stream (issue 17): obs/evring.c (the ring
 * and backlog), events_hello_parse() (the consumer's one line), the
 * webhook's batches and back-off, and the event socket itself, live in
 * a scratch directory: order, `since`, the wait for a first line, a bad
 * line, overflow, mode 0600.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "obs/events.h"
#include "obs/evring.h"
#include "obs/webhook.h"
#include "util/buf.h"
#include "testutil.h"

/* ---- evring -------------------------------------------------------- */

static void
push_str(struct evring *r, uint64_t seq, const char *s)
{
	(void)evring_push(r, seq, s, strlen(s));
}

static void
test_evring(void **state)
{
	struct evring *r = evring_new(3);
	const char *line;
	uint64_t seq;
	size_t len;

	(void)state;
	assert_int_equal(evring_begin(r), 0);
	assert_int_equal(evring_end(r), 0);
	assert_false(evring_get(r, 0, &seq, &line, &len));
	assert_int_equal(evring_after(r, 0), 0);
	/* Up to the cap nothing is dropped (cap-1, cap)... */
	assert_int_equal(evring_push(r, 10, "a", 1), 0);
	assert_int_equal(evring_push(r, 11, "bb", 2), 0);
	assert_int_equal(evring_push(r, 12, "ccc", 3), 0);
	assert_int_equal(evring_count(r), 3);
	/* ... cap+1 drops the oldest, and positions go on. */
	assert_int_equal(evring_push(r, 13, "dddd", 4), 1);
	assert_int_equal(evring_begin(r), 1);
	assert_int_equal(evring_end(r), 4);
	assert_false(evring_get(r, 0, &seq, &line, &len));
	assert_true(evring_get(r, 1, &seq, &line, &len));
	assert_int_equal(seq, 11);
	assert_int_equal(len, 2);
	assert_string_equal(line, "bb");
	assert_true(evring_get(r, 3, &seq, &line, &len));
	assert_string_equal(line, "dddd");
	assert_false(evring_get(r, 4, &seq, &line, &len));
	/* after(): the first above; below all: begin; above all: end. */
	assert_int_equal(evring_after(r, 0), 1);
	assert_int_equal(evring_after(r, 11), 2);
	assert_int_equal(evring_after(r, 12), 3);
	assert_int_equal(evring_after(r, 13), 4);
	assert_int_equal(evring_after(r, UINT64_MAX), 4);
	/* pop(): below begin is nothing, past end empties. */
	evring_pop(r, 0);
	assert_int_equal(evring_count(r), 3);
	evring_pop(r, 2);
	assert_int_equal(evring_begin(r), 2);
	assert_int_equal(evring_count(r), 2);
	evring_pop(r, 100);
	assert_int_equal(evring_count(r), 0);
	assert_int_equal(evring_begin(r), 4);
	assert_int_equal(evring_end(r), 4);
	push_str(r, 14, "e");
	assert_true(evring_get(r, 4, &seq, &line, &len));
	assert_int_equal(seq, 14);
	evring_free(r);
	evring_free(NULL);
}

/* Growth keeps the order across the circle's wrap, many times over. */
static void
test_evring_grow(void **state)
{
	struct evring *r = evring_new(1000);
	const char *line;
	char s[32];
	uint64_t seq, pos, i;
	size_t len;

	(void)state;
	for (i = 1; i <= 5000; i++) {
		(void)snprintf(s, sizeof(s), "%" PRIu64, i);
		push_str(r, i, s);
		if (i % 7 == 0) /* a consumer that pops now and then */
			evring_pop(r, evring_begin(r) + 3);
	}
	assert_true(evring_count(r) <= 1000);
	for (pos = evring_begin(r); pos < evring_end(r); pos++) {
		assert_true(evring_get(r, pos, &seq, &line, &len));
		assert_int_equal(seq, pos + 1);
		(void)snprintf(s, sizeof(s), "%" PRIu64, seq);
		assert_string_equal(line, s);
	}
	assert_int_equal(evring_end(r), 5000);
	evring_free(r);
}

/* ---- the first line ------------------------------------------------ */

struct hello_case {
	const char *name;
	const char *in;
	enum events_hello want;
	uint64_t seq;
};

static const struct hello_case hello_cases[] = {
	{ "empty", "", EVENTS_HELLO_START, 0 },
	{ "cr", "\r", EVENTS_HELLO_START, 0 },
	{ "since-0", "since 0", EVENTS_HELLO_SINCE, 0 },
	{ "since-42", "since 42", EVENTS_HELLO_SINCE, 42 },
	{ "since-crlf", "since 42\r", EVENTS_HELLO_SINCE, 42 },
	{ "leading-zeros", "since 007", EVENTS_HELLO_SINCE, 7 },
	{ "max", "since 18446744073709551615", EVENTS_HELLO_SINCE, UINT64_MAX },
	{ "max-1", "since 18446744073709551614", EVENTS_HELLO_SINCE,
	    UINT64_MAX - 1 },
	{ "max+1", "since 18446744073709551616", EVENTS_HELLO_BAD, 0 },
	{ "21-digits", "since 000000000000000000001", EVENTS_HELLO_BAD, 0 },
	{ "no-number", "since ", EVENTS_HELLO_BAD, 0 },
	{ "no-space", "since", EVENTS_HELLO_BAD, 0 },
	{ "two-spaces", "since  1", EVENTS_HELLO_BAD, 0 },
	{ "tab", "since\t1", EVENTS_HELLO_BAD, 0 },
	{ "upper", "SINCE 1", EVENTS_HELLO_BAD, 0 },
	{ "minus", "since -1", EVENTS_HELLO_BAD, 0 },
	{ "plus", "since +1", EVENTS_HELLO_BAD, 0 },
	{ "trailing-space", "since 1 ", EVENTS_HELLO_BAD, 0 },
	{ "trailing-junk", "since 1x", EVENTS_HELLO_BAD, 0 },
	{ "hex", "since 0x10", EVENTS_HELLO_BAD, 0 },
	{ "nul", "since 1\0", EVENTS_HELLO_BAD, 0 },
	{ "cr-inside", "since 1\r2", EVENTS_HELLO_BAD, 0 },
	{ "two-crs", "\r\r", EVENTS_HELLO_BAD, 0 },
	{ "other", "hello", EVENTS_HELLO_BAD, 0 },
};

static void
test_hello(void **state)
{
	const struct hello_case *c;
	uint64_t seq;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(hello_cases) / sizeof(hello_cases[0]); i++) {
		c = &hello_cases[i];
		/* "nul" holds a NUL: its length is the literal's. */
		n = strcmp(c->name, "nul") == 0 ? 8 : strlen(c->in);
		seq = 12345;
		if (events_hello_parse(c->in, n, &seq) != c->want)
			fail_msg("%s: wrong answer", c->name);
		if (c->want == EVENTS_HELLO_SINCE && seq != c->seq)
			fail_msg("%s: seq %" PRIu64, c->name, seq);
	}
}

/* ---- the webhook's pure parts ---------------------------------------- */

static void
test_backoff(void **state)
{
	unsigned want[] = { 1, 2, 4, 8, 16, 32, 60, 60, 60 };
	unsigned cur = 0;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		cur = webhook_backoff_next(cur);
		assert_int_equal(cur, want[i]);
	}
	assert_int_equal(webhook_backoff_next(59), 60);
	assert_int_equal(webhook_backoff_next(29), 58);
}

static void
test_batch(void **state)
{
	struct evring *r = evring_new(500);
	struct buf b;
	char s[64];
	uint64_t end, i;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(webhook_batch(r, 100, &b, &end), 0);
	assert_string_equal((char *)b.data, "[]");
	push_str(r, 7, "{\"seq\":7}");
	assert_int_equal(webhook_batch(r, 100, &b, &end), 1);
	assert_string_equal((char *)b.data, "[{\"seq\":7}]");
	assert_int_equal(end, 1);
	push_str(r, 8, "{\"seq\":8}");
	assert_int_equal(webhook_batch(r, 100, &b, &end), 2);
	assert_string_equal((char *)b.data, "[{\"seq\":7},{\"seq\":8}]");
	assert_int_equal(end, 2);
	/* At most max (max-1, max, max+1 events in the ring). */
	evring_pop(r, end);
	for (i = 0; i < 101; i++) {
		(void)snprintf(s, sizeof(s), "{\"seq\":%" PRIu64 "}", i + 9);
		push_str(r, i + 9, s);
		if (i == 98)
			assert_int_equal(webhook_batch(r, 100, &b, &end), 99);
		if (i == 99)
			assert_int_equal(webhook_batch(r, 100, &b, &end), 100);
	}
	assert_int_equal(webhook_batch(r, 100, &b, &end), 100);
	assert_int_equal(end, 2 + 100);
	assert_non_null(strstr((char *)b.data, "{\"seq\":108}]"));
	assert_null(strstr((char *)b.data, "{\"seq\":109}"));
	/* A buf too small for the batch: -1, never a cut array. */
	buf_reset(&b);
	buf_init(&b, 20);
	assert_int_equal(webhook_batch(r, 100, &b, &end), -1);
	assert_int_equal(webhook_batch(r, 1, &b, &end), 1);
	assert_string_equal((char *)b.data, "[{\"seq\":9}]");
	buf_reset(&b);
	evring_free(r);
}

/* ---- the socket, live ---------------------------------------------- */

struct live {
	char dir[TESTUTIL_DIR_MAX];
	char path[128];
	struct events *ev;
	uint64_t seq; /* the last emitted */
};

static void
live_open(struct live *lv, uint64_t last_seq)
{
	struct why why;

	assert_int_equal(testutil_mkdtemp(lv->dir, sizeof(lv->dir), NULL,
	                     "events"),
	    0);
	assert_int_equal(events_socket_path(lv->dir, lv->path,
	                     sizeof(lv->path)),
	    0);
	lv->ev = events_open(lv->path, last_seq, &why);
	if (lv->ev == NULL)
		fail_msg("events_open: %s", why.text);
	lv->seq = last_seq;
}

static void
live_close(struct live *lv)
{
	events_close(lv->ev);
	/* The socket is gone with it. */
	assert_int_equal(access(lv->path, F_OK), -1);
	testutil_rmtree(lv->dir);
}

/* Emit one event the way obs would: its journal line, with padding. */
static void
emit(struct live *lv, size_t pad)
{
	char line[8192];
	int n;

	assert_true(pad < 8000);
	lv->seq++;
	n = snprintf(line, sizeof(line),
	    "{\"seq\":%" PRIu64 ",\"event\":\"accepted\",\"pad\":\"%*s\"}",
	    lv->seq, (int)pad, "");
	events_sink(lv->ev, lv->seq, line, (size_t)n, NULL);
}

static int
dial(const struct live *lv)
{
	struct sockaddr_un su;
	int fd;

	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	assert_true(strlen(lv->path) < sizeof(su.sun_path));
	memcpy(su.sun_path, lv->path, strlen(lv->path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&su, sizeof(su)), 0);
	return fd;
}

static void
say(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* A client's reader: lines from fd, each within 10 s, or EOF. */
struct reader {
	int fd;
	char buf[1 << 16];
	size_t len;
};

/* The next line into out (LF stripped): 1, or 0 at EOF. Fails on a
 * time-out: the server must answer. */
static int
next_line(struct reader *rd, char *out, size_t outsz)
{
	struct pollfd pfd = { rd->fd, POLLIN, 0 };
	char *nl;
	ssize_t r;
	size_t n;

	for (;;) {
		nl = memchr(rd->buf, '\n', rd->len);
		if (nl != NULL) {
			n = (size_t)(nl - rd->buf);
			assert_true(n < outsz);
			memcpy(out, rd->buf, n);
			out[n] = '\0';
			memmove(rd->buf, nl + 1, rd->len - n - 1);
			rd->len -= n + 1;
			return 1;
		}
		assert_true(rd->len < sizeof(rd->buf));
		if (poll(&pfd, 1, 10000) != 1)
			fail_msg("no line from the event socket in 10 s");
		r = read(rd->fd, rd->buf + rd->len, sizeof(rd->buf) - rd->len);
		assert_true(r >= 0);
		if (r == 0) {
			assert_int_equal(rd->len, 0); /* no half line */
			return 0;
		}
		rd->len += (size_t)r;
	}
}

static uint64_t
seq_of(const char *line)
{
	const char *p = strstr(line, "\"seq\":");

	assert_non_null(p);
	return strtoull(p + 6, NULL, 10);
}

static void
expect_seqs(struct reader *rd, uint64_t from, uint64_t to)
{
	char line[9000];
	uint64_t s;

	for (s = from; s <= to; s++) {
		assert_int_equal(next_line(rd, line, sizeof(line)), 1);
		if (seq_of(line) != s)
			fail_msg("expected seq %" PRIu64 ", got: %.80s", s,
			    line);
	}
}

static void
test_live_order_and_since(void **state)
{
	struct reader rd1 = { 0 }, rd2 = { 0 }, rd3 = { 0 };
	struct live lv;
	struct stat st;
	char line[512];
	uint64_t first;
	int i;

	(void)state;
	live_open(&lv, 100);
	assert_int_equal(stat(lv.path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	for (i = 0; i < 10; i++)
		emit(&lv, 10); /* 101..110 */
	/*
	 * A consumer joins when the socket's thread takes the connection,
	 * which the client cannot see: `since` is how it misses nothing.
	 */
	rd1.fd = dial(&lv);
	say(rd1.fd, "since 110\n");
	/* since 105: 106..110 first, then live. */
	rd2.fd = dial(&lv);
	say(rd2.fd, "since 105\n");
	/* since a seq from the future (another run): no replay. */
	rd3.fd = dial(&lv);
	say(rd3.fd, "since 99999\r\n");
	expect_seqs(&rd2, 106, 110);
	for (i = 0; i < 50; i++)
		emit(&lv, 100); /* 111..160 */
	expect_seqs(&rd1, 111, 160);
	expect_seqs(&rd2, 111, 160);
	/* rd3 joined at some point: from there on, nothing missing. */
	assert_int_equal(next_line(&rd3, line, sizeof(line)), 1);
	first = seq_of(line);
	assert_true(first >= 111);
	expect_seqs(&rd3, first + 1, 160);
	emit(&lv, 0);
	expect_seqs(&rd1, 161, 161);
	expect_seqs(&rd3, 161, 161);
	close(rd1.fd);
	close(rd2.fd);
	close(rd3.fd);
	live_close(&lv);
}

/* No first line: the stream starts by itself, with what came meanwhile. */
static void
test_live_no_hello(void **state)
{
	struct pollfd pfd;
	struct reader rd = { 0 };
	struct live lv;
	char line[512];
	uint64_t first;
	int i;

	(void)state;
	live_open(&lv, 0);
	rd.fd = dial(&lv);
	pfd.fd = rd.fd;
	pfd.events = POLLIN;
	/* Events until the first line shows (bounded: 10 s). */
	for (i = 0; i < 200; i++) {
		emit(&lv, 0);
		if (poll(&pfd, 1, 50) == 1)
			break;
	}
	assert_true(i < 200);
	assert_int_equal(next_line(&rd, line, sizeof(line)), 1);
	first = seq_of(line);
	expect_seqs(&rd, first + 1, lv.seq);
	emit(&lv, 0);
	expect_seqs(&rd, lv.seq, lv.seq);
	/* A line now is an error, then the end. */
	say(rd.fd, "since 1\n");
	assert_int_equal(next_line(&rd, line, sizeof(line)), 1);
	assert_non_null(strstr(line, "{\"event\":\"error\""));
	assert_int_equal(next_line(&rd, line, sizeof(line)), 0);
	close(rd.fd);
	live_close(&lv);
}

static void
test_live_bad_hello(void **state)
{
	char toolong[EVENTS_HELLO_MAX + 1];
	const char *bad[] = { "hello\n", "since x\n", toolong };
	struct reader rd = { 0 };
	struct live lv;
	char line[512];
	size_t i;

	(void)state;
	/* EVENTS_HELLO_MAX bytes and no LF. */
	memset(toolong, '1', EVENTS_HELLO_MAX);
	memcpy(toolong, "since ", 6);
	toolong[EVENTS_HELLO_MAX] = '\0';
	assert_int_equal(strlen(bad[2]), EVENTS_HELLO_MAX);
	live_open(&lv, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&rd, 0, sizeof(rd));
		rd.fd = dial(&lv);
		say(rd.fd, bad[i]);
		assert_int_equal(next_line(&rd, line, sizeof(line)), 1);
		if (strstr(line, "{\"event\":\"error\",\"text\":") != line)
			fail_msg("case %zu: %s", i, line);
		assert_int_equal(next_line(&rd, line, sizeof(line)), 0);
		close(rd.fd);
	}
	live_close(&lv);
}

/*
 * One that does not read is cut off once the ring has dropped what it
 * has not had: overflow line, seqs up to it.
 */
static void
test_live_overflow(void **state)
{
	struct reader rd = { 0 }, live = { 0 };
	struct live lv;
	char line[9000], buf[64];
	uint64_t want = 1;
	int i;

	(void)state;
	live_open(&lv, 0);
	/* since 0: every event, whenever the thread takes the connection. */
	rd.fd = dial(&lv);
	say(rd.fd, "since 0\n");
	live.fd = dial(&lv);
	say(live.fd, "since 0\n");
	/* Past the ring, plus its cap and the kernel's buffer. */
	for (i = 0; i < EVENTS_RING_MAX + 4000; i++) {
		emit(&lv, 1000);
		/* The other consumer reads as it goes, and keeps up. */
		expect_seqs(&live, (uint64_t)i + 1, (uint64_t)i + 1);
	}
	/* Now read: consecutive lines, then the overflow, then EOF. */
	for (;;) {
		assert_int_equal(next_line(&rd, line, sizeof(line)), 1);
		if (strstr(line, "\"event\":\"overflow\"") != NULL)
			break;
		assert_int_equal(seq_of(line), want);
		want++;
	}
	(void)snprintf(buf, sizeof(buf),
	    "{\"event\":\"overflow\",\"seq\":%" PRIu64 "}", want - 1);
	/* N: the last it was given, so `since N` resumes. */
	assert_string_equal(line, buf);
	assert_true(want - 1 < EVENTS_RING_MAX + 4000); /* cut, not fed all */
	assert_true(want - 1 > 1000); /* its 1 MiB, at least */
	assert_int_equal(next_line(&rd, line, sizeof(line)), 0);
	close(rd.fd);
	close(live.fd);
	live_close(&lv);
}

/* A replay larger than the cap reaches a reader whole: flow, no cut. */
static void
test_live_replay_flow(void **state)
{
	struct reader rd = { 0 };
	struct live lv;
	int i;

	(void)state;
	live_open(&lv, 0);
	for (i = 0; i < 5000; i++) /* 5 MB: five times the cap */
		emit(&lv, 1000);
	rd.fd = dial(&lv);
	say(rd.fd, "since 0\n");
	expect_seqs(&rd, 1, 5000);
	emit(&lv, 0);
	expect_seqs(&rd, 5001, 5001);
	close(rd.fd);
	live_close(&lv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_evring),
		cmocka_unit_test(test_evring_grow),
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_live_order_and_since),
		cmocka_unit_test(test_live_no_hello),
		cmocka_unit_test(test_live_bad_hello),
		cmocka_unit_test(test_live_overflow),
		cmocka_unit_test(test_live_replay_flow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
