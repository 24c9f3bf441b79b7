/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for the pure parts of `tern capture` (issue 22): routes,
 * query strings and filters, the PUT /api/faults body, the fault
 * draws, header views, the parts (msg/mimetree.h underneath), the
 * store's ring with its derived subject and problems.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "capture/body.h"
#include "capture/fault.h"
#include "capture/query.h"
#include "capture/store.h"
#include "capture/view.h"
#include "util/buf.h"
#include "util/xmalloc.h"
#include "testutil.h"

/* ---- routes -------------------------------------------------------- */

struct route_case {
	enum cap_method m;
	const char *path;
	enum cap_route want;
	uint64_t id, part;
};

static const struct route_case route_cases[] = {
	{ CAP_GET, "/", CAP_R_PAGE, 0, 0 },
	{ CAP_GET, "/page/app.js", CAP_R_PAGE, 0, 0 },
	{ CAP_GET, "/page/../x", CAP_R_NONE, 0, 0 },
	{ CAP_GET, "/page/.hidden", CAP_R_NONE, 0, 0 },
	{ CAP_GET, "/page/", CAP_R_NONE, 0, 0 },
	{ CAP_GET, "/api/messages", CAP_R_LIST, 0, 0 },
	{ CAP_HEAD, "/api/messages", CAP_R_LIST, 0, 0 },
	{ CAP_DELETE, "/api/messages", CAP_R_DELETE_ALL, 0, 0 },
	{ CAP_PUT, "/api/messages", CAP_R_BAD_METHOD, 0, 0 },
	{ CAP_GET, "/api/messages/17", CAP_R_MSG, 17, 0 },
	{ CAP_DELETE, "/api/messages/17", CAP_R_DELETE_MSG, 17, 0 },
	{ CAP_GET, "/api/messages/17/raw", CAP_R_RAW, 17, 0 },
	{ CAP_GET, "/api/messages/17/html", CAP_R_HTML, 17, 0 },
	{ CAP_GET, "/api/messages/17/parts/2", CAP_R_PART, 17, 2 },
	{ CAP_DELETE, "/api/messages/17/raw", CAP_R_BAD_METHOD, 17, 0 },
	{ CAP_GET, "/api/messages/17/parts/", CAP_R_NONE, 0, 0 },
	{ CAP_GET, "/api/messages/17/parts/x", CAP_R_NONE, 0, 0 },
	{ CAP_GET, "/api/messages/x", CAP_R_NONE, 0, 0 },
	{ CAP_GET, "/api/messages/", CAP_R_NONE, 0, 0 },
	{ CAP_GET, "/api/messages/18446744073709551615", CAP_R_MSG, UINT64_MAX,
	    0 },
	{ CAP_GET, "/api/messages/18446744073709551616", CAP_R_NONE, 0, 0 },
	{ CAP_GET, "/api/messages/17/raw/", CAP_R_NONE, 0, 0 },
	{ CAP_GET, "/api/wait", CAP_R_WAIT, 0, 0 },
	{ CAP_DELETE, "/api/wait", CAP_R_BAD_METHOD, 0, 0 },
	{ CAP_GET, "/api/faults", CAP_R_FAULTS_GET, 0, 0 },
	{ CAP_PUT, "/api/faults", CAP_R_FAULTS_PUT, 0, 0 },
	{ CAP_OTHER, "/api/faults", CAP_R_BAD_METHOD, 0, 0 },
	{ CAP_GET, "/API/messages", CAP_R_NONE, 0, 0 },
	{ CAP_GET, "/api/%6dessages", CAP_R_NONE, 0, 0 },
	{ CAP_GET, "", CAP_R_NONE, 0, 0 },
};

static void
test_routes(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(route_cases) / sizeof(route_cases[0]); i++) {
		const struct route_case *c = &route_cases[i];
		struct cap_req r;

		cap_route(c->m, c->path, strlen(c->path), &r);
		if (r.route != c->want)
			fail_msg("%s: route %d, want %d", c->path, r.route,
			    c->want);
		if (c->want >= CAP_R_MSG && c->want <= CAP_R_PART) {
			assert_int_equal(r.id, c->id);
			assert_int_equal(r.part, c->part);
		}
	}
}

static void
test_route_page_names(void **state)
{
	struct cap_req r;

	(void)state;
	cap_route(CAP_GET, "/", 1, &r);
	assert_string_equal(r.page, "index.html");
	cap_route(CAP_GET, "/page/app.css", 13, &r);
	assert_string_equal(r.page, "app.css");
	/* A NUL inside the path never passes as a name. */
	cap_route(CAP_GET, "/page/a\0b", 9, &r);
	assert_int_equal(r.route, CAP_R_NONE);
}

/* ---- query strings ------------------------------------------------- */

static void
test_filter_parse(void **state)
{
	struct cap_filter f;
	const char *why;
	const char *q = "to=Bob%40Example.test&subject=Reset+your%20password"
	                "&limit=5&since=12&timeout=7&other=x";

	(void)state;
	assert_true(cap_filter_parse(q, strlen(q), &f, &why));
	assert_string_equal(f.to, "Bob@Example.test");
	assert_string_equal(f.subject, "Reset your password");
	assert_int_equal(f.limit, 5);
	assert_int_equal(f.since, 12);
	assert_int_equal(f.timeout, 7);
	assert_true(cap_filter_parse("", 0, &f, &why));
	assert_int_equal(f.timeout, CAP_WAIT_DEFAULT);
	assert_string_equal(f.to, "");
	/* The last of a repeated name wins; empty pairs are skipped. */
	assert_true(cap_filter_parse("to=a&&to=b&", 11, &f, &why));
	assert_string_equal(f.to, "b");
}

static void
test_filter_refused(void **state)
{
	static const char *const bad[] = {
		"limit=x",
		"limit=",
		"since=-1",
		"timeout=301",
		"timeout=99999999999999999999999",
		"to=%4",
		"to=%zz",
		"subject=%00",
		"limit=1%00",
		"limit=2000000",
	};
	struct cap_filter f;
	char big[CAP_FILTER_TEXT_MAX + 8];
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (cap_filter_parse(bad[i], strlen(bad[i]), &f, &why))
			fail_msg("accepted %s", bad[i]);
		assert_non_null(why);
	}
	memcpy(big, "to=", 3);
	memset(big + 3, 'a', sizeof(big) - 3);
	assert_false(cap_filter_parse(big, sizeof(big), &f, &why));
	/* Exactly the cap fits. */
	assert_true(cap_filter_parse(big, 3 + CAP_FILTER_TEXT_MAX, &f, &why));
	assert_int_equal(strlen(f.to), CAP_FILTER_TEXT_MAX);
}

static void
test_filter_match(void **state)
{
	const char *const to[] = { "a@x.test", "Bob@Example.test" };
	struct cap_filter f;
	const char *why;

	(void)state;
	assert_true(cap_filter_parse("to=bob%40example.test", 21, &f, &why));
	assert_true(cap_filter_match(&f, 1, to, 2, "s"));
	assert_false(cap_filter_match(&f, 1, to, 1, "s"));
	/* Whole address, not a substring. */
	assert_true(cap_filter_parse("to=bob%40example", 16, &f, &why));
	assert_false(cap_filter_match(&f, 1, to, 2, "s"));
	assert_true(cap_filter_parse("subject=RESET", 13, &f, &why));
	assert_true(cap_filter_match(&f, 1, to, 2, "Please reset now"));
	assert_false(cap_filter_match(&f, 1, to, 2, "Welcome"));
	assert_true(cap_filter_parse("since=4", 7, &f, &why));
	assert_false(cap_filter_match(&f, 4, to, 2, "x"));
	assert_true(cap_filter_match(&f, 5, to, 2, "x"));
}

/* ---- faults -------------------------------------------------------- */

static void
test_faults_parse(void **state)
{
	struct cap_faults f, was;
	char err[200];
	const char *ok = "{\"rcpt_tempfail\":30,\"msg_permfail\":2.5,"
	                 "\"delay_ms\":100}";
	static const char *const bad[] = {
		"",
		"[]",
		"{\"rcpt_tempfail\":101}",
		"{\"rcpt_tempfail\":-1}",
		"{\"rcpt_tempfail\":\"30\"}",
		"{\"delay_ms\":1.5}",
		"{\"delay_ms\":60001}",
		"{\"nope\":1}",
		"{\"rcpt_tempfail\":1,\"rcpt_tempfail\":2}",
		"{\"msg_tempfail\":5,\"bogus\":true}",
		"{\"delay_ms\":-1}",
	};
	size_t i;

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_true(cap_faults_parse(ok, strlen(ok), &f, err, sizeof(err)));
	assert_true(f.rcpt_tempfail == 30.0);
	assert_true(f.msg_permfail == 2.5);
	assert_int_equal(f.delay_ms, 100);
	assert_true(f.rcpt_permfail == 0.0);
	/* A subset keeps the rest. */
	assert_true(
	    cap_faults_parse("{\"delay_ms\":0}", 14, &f, err, sizeof(err)));
	assert_true(f.rcpt_tempfail == 30.0);
	assert_int_equal(f.delay_ms, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		was = f;
		err[0] = '\0';
		if (cap_faults_parse(bad[i], strlen(bad[i]), &f, err,
		        sizeof(err)))
			fail_msg("accepted %s", bad[i]);
		assert_memory_equal(&f, &was, sizeof(f));
		assert_true(err[0] != '\0');
	}
}

static void
test_fault_draws(void **state)
{
	struct cap_faults f;
	struct cap_rng r;
	int i, t = 0, p = 0, code;

	(void)state;
	memset(&f, 0, sizeof(f));
	cap_rng_seed(&r, 42);
	for (i = 0; i < 1000; i++)
		assert_int_equal(cap_fault_rcpt(&f, &r), 0);
	f.rcpt_tempfail = 100;
	assert_int_equal(cap_fault_rcpt(&f, &r), 451);
	f.rcpt_tempfail = 30;
	f.rcpt_permfail = 10;
	for (i = 0; i < 10000; i++) {
		code = cap_fault_rcpt(&f, &r);
		t += code == 451;
		p += code == 550;
	}
	/* Binomial(10000, 0.3): sd 46; (., 0.1): sd 30. 5 sd either way. */
	assert_in_range(t, 3000 - 230, 3000 + 230);
	assert_in_range(p, 1000 - 150, 1000 + 150);
	f.msg_permfail = 100;
	assert_int_equal(cap_fault_msg(&f, &r), 554);
	assert_false(cap_rng_hit(&r, 0));
	assert_true(cap_rng_hit(&r, 100));
}

/* ---- header views -------------------------------------------------- */

#define MSG1                                                                   \
	"Subject: =?UTF-8?B?SGVsbG8=?= =?UTF-8?Q?_w=C3=B6rld?=\r\n"            \
	"From: Alice\r\n <alice@example.test>\r\n"                             \
	"To: bob@example.test\r\n"                                             \
	"\r\n"                                                                 \
	"Subject: not a header\r\n"

static void
test_view_fields(void **state)
{
	struct buf v;
	const char *name;
	size_t pos = 0, nlen, n = 0;

	(void)state;
	buf_init(&v, 1024);
	assert_true(cap_view_field(MSG1, strlen(MSG1), "from", &v));
	assert_string_equal((char *)v.data, "Alice <alice@example.test>");
	assert_false(cap_view_field(MSG1, strlen(MSG1), "Date", &v));
	while (cap_view_next_field(MSG1, strlen(MSG1), &pos, &name, &nlen, &v))
		n++;
	assert_int_equal(n, 3); /* the body's "Subject:" is no field */
	assert_int_equal(cap_view_header_len(MSG1, strlen(MSG1)),
	    strstr(MSG1, "\r\n\r\n") - MSG1 + 2);
	/* Bare LF line ends are read too. */
	assert_true(cap_view_field("A: 1\nB: 2\n\nbody", 16, "b", &v));
	assert_string_equal((char *)v.data, "2");
	buf_reset(&v);
}

/*
 * A header of many short fields: walking all of them (the API's
 * "headers", the store's Subject, From and To) once took time quadratic
 * in their count, since each step looked for the header's end again; a
 * 320 KB header held capture's one thread for over a minute. Now each
 * step looks at its own lines only. The CPU bound is some 100 times
 * what the linear walk needs under ASan, and far below the old cost.
 */
static void
test_view_many_fields_linear(void **state)
{
	static const char f[] = "X-A: b\r\n";
	const size_t nf = 30000, fl = sizeof(f) - 1;
	size_t len = nf * fl + 6, i, pos = 0, nlen, n = 0;
	char *msg = xmalloc(len);
	const char *name;
	struct buf v;
	clock_t t0;

	(void)state;
	for (i = 0; i < nf; i++)
		memcpy(msg + i * fl, f, fl);
	memcpy(msg + nf * fl, "\r\nbody", 6);
	buf_init(&v, 1024);
	t0 = clock();
	assert_false(cap_view_field(msg, len, "Subject", &v));
	while (cap_view_next_field(msg, len, &pos, &name, &nlen, &v))
		n++;
	assert_int_equal(n, nf);
	assert_int_equal(pos, nf * fl);
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);
	buf_reset(&v);
	free(msg);
}

/* ---- the Host header ----------------------------------------------- */

static void
test_host_is_local(void **state)
{
	static const char *const yes[] = { "127.0.0.1", "127.0.0.1:8025",
		"127.255.0.9:1", "localhost", "LocalHost:8025", "localhost.",
		"app.localhost", "a.b.localhost:80", "[::1]", "[::1]:8025",
		"localhost.:8025" };
	static const char *const no[] = { "", ":8025", "evil.example",
		"evil.example:8025", "localhost.evil.example", "xlocalhost",
		".localhost", "10.0.0.1:8025", "128.0.0.1", "127.0.0.1.nip.io",
		"127.0.0.1:", "127.0.0.1:123456", "127.0.0.1:80x",
		"127.0.0.1:80:80", "[::2]:8025", "[::1]x", "[::1]:", "[::1",
		"[127.0.0.1]", "0x7f000001", "2130706433", "127.1" };
	size_t i;

	(void)state;
	assert_true(cap_host_is_local(NULL, 0));
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!cap_host_is_local(yes[i], strlen(yes[i])))
			fail_msg("refused: %s", yes[i]);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (cap_host_is_local(no[i], strlen(no[i])))
			fail_msg("taken: %s", no[i]);
	/* Only n bytes are read. */
	assert_true(cap_host_is_local("localhost.evil", 9));
}

/* ---- parts --------------------------------------------------------- */

#define MULTI                                                                  \
	"From: a@x.test\r\n"                                                   \
	"Content-Type: multipart/mixed; boundary=\"m\"\r\n"                    \
	"\r\n"                                                                 \
	"--m\r\n"                                                              \
	"Content-Type: multipart/alternative; boundary=\"a\"\r\n"              \
	"\r\n"                                                                 \
	"--a\r\n"                                                              \
	"Content-Type: text/plain; charset=iso-8859-1\r\n"                     \
	"Content-Transfer-Encoding: quoted-printable\r\n"                      \
	"\r\n"                                                                 \
	"caf=E9\r\n"                                                           \
	"--a\r\n"                                                              \
	"Content-Type: text/html; charset=utf-8\r\n"                           \
	"Content-Transfer-Encoding: base64\r\n"                                \
	"\r\n"                                                                 \
	"PGI+aGk8L2I+\r\n"                                                     \
	"--a--\r\n"                                                            \
	"--m\r\n"                                                              \
	"Content-Type: text/plain; name=\"notes.txt\"\r\n"                     \
	"Content-Disposition: attachment; filename=\"notes.txt\"\r\n"          \
	"\r\n"                                                                 \
	"not the text\r\n"                                                     \
	"--m--\r\n"

static void
test_body_parts(void **state)
{
	struct cap_part_info p[8], info;
	struct buf b;
	size_t n;

	(void)state;
	n = cap_body_parts(MULTI, strlen(MULTI), p, 8);
	/* Leaves only: the two alternatives and the attachment. */
	assert_int_equal(n, 3);
	assert_string_equal(p[0].type, "text/plain");
	assert_string_equal(p[1].type, "text/html");
	assert_int_equal(p[1].size, 9); /* "<b>hi</b>" decoded */
	assert_string_equal(p[2].filename, "notes.txt");
	assert_true(p[2].attachment && !p[0].attachment);
	/* max is respected. */
	assert_int_equal(cap_body_parts(MULTI, strlen(MULTI), p, 2), 2);
	buf_init(&b, 1 << 16);
	/* The text: QP decoded, Latin-1 to UTF-8; never the attachment. */
	assert_true(cap_body_first(MULTI, strlen(MULTI), "text/plain", &b));
	assert_string_equal((char *)b.data, "caf\xc3\xa9");
	buf_clear(&b);
	assert_true(cap_body_first(MULTI, strlen(MULTI), "text/html", &b));
	assert_string_equal((char *)b.data, "<b>hi</b>");
	buf_clear(&b);
	assert_false(cap_body_first(MULTI, strlen(MULTI), "image/png", &b));
	assert_true(cap_body_part(MULTI, strlen(MULTI), p[2].index, &info, &b));
	assert_string_equal((char *)b.data, "not the text");
	assert_string_equal(info.filename, "notes.txt");
	buf_clear(&b);
	/* A multipart is no leaf; an index past the end is nothing. */
	assert_false(cap_body_part(MULTI, strlen(MULTI), 0, &info, &b));
	assert_false(cap_body_part(MULTI, strlen(MULTI), 99, &info, &b));
	/* No MIME at all: one text/plain part, the body. */
	assert_int_equal(cap_body_parts("A: b\r\n\r\nx", 10, p, 8), 1);
	assert_string_equal(p[0].type, "text/plain");
	buf_reset(&b);
}

/* ---- the store ----------------------------------------------------- */

static struct cap_msg *
msg(const char *subject, const char *to)
{
	struct cap_msg *m = xcalloc(1, sizeof(*m));
	struct buf b;
	size_t len;

	buf_init(&b, 4096);
	assert_int_equal(buf_printf(&b, "Subject: %s\r\n\r\nhi\r\n", subject),
	    0);
	m->data = (char *)buf_take(&b, &len);
	m->len = len;
	m->from = xstrdup("a@x.test");
	m->to = xcalloc(1, sizeof(*m->to));
	m->to[0] = xstrdup(to);
	m->nto = 1;
	m->helo = xstrdup("h");
	return m;
}

static const struct cap_msg *
cap_store_add0(struct cap_store *s, struct cap_msg *m)
{
	return cap_store_add(s, m, NULL, 0);
}

static void
test_store_ring(void **state)
{
	struct cap_store *s = cap_store_new(3, 0, NULL);
	const struct cap_msg *m;
	int i;

	(void)state;
	for (i = 0; i < 5; i++)
		(void)cap_store_add0(s, msg("s", "b@x.test"));
	assert_int_equal(cap_store_count(s), 3);
	/* The oldest were dropped: 3, 4, 5 are left, newest first. */
	assert_int_equal(cap_store_nth(s, 0)->id, 5);
	assert_int_equal(cap_store_nth(s, 2)->id, 3);
	assert_null(cap_store_nth(s, 3));
	assert_null(cap_store_get(s, 2));
	assert_true(cap_store_delete(s, 4));
	assert_false(cap_store_delete(s, 4));
	assert_int_equal(cap_store_count(s), 2);
	assert_int_equal(cap_store_nth(s, 0)->id, 5);
	assert_int_equal(cap_store_nth(s, 1)->id, 3);
	m = cap_store_add0(s, msg("=?UTF-8?B?SGk=?=", "c@x.test"));
	assert_int_equal(m->id, 6);
	assert_string_equal(m->subject, "Hi");
	assert_int_equal(cap_store_delete_all(s), 3);
	assert_int_equal(cap_store_count(s), 0);
	/* Ids are not reused. */
	assert_int_equal(cap_store_add0(s, msg("x", "d@x.test"))->id, 7);
	cap_store_free(s);
}

/* --max-memory: the oldest go until the new one fits; it always stays. */
static void
test_store_byte_cap(void **state)
{
	struct cap_store *s;
	struct cap_msg *m;
	uint64_t one;
	int i;

	(void)state;
	m = msg("s", "b@x.test");
	one = m->len;
	s = cap_store_new(100, 3 * one, NULL);
	(void)cap_store_add0(s, m);
	for (i = 0; i < 4; i++)
		(void)cap_store_add0(s, msg("s", "b@x.test"));
	assert_int_equal(cap_store_count(s), 3);
	assert_int_equal(cap_store_bytes(s), 3 * one);
	assert_int_equal(cap_store_nth(s, 2)->id, 3);
	assert_true(cap_store_delete(s, 4));
	assert_int_equal(cap_store_bytes(s), 2 * one);
	cap_store_free(s);
	/* A cap below one message: the newest is kept alone. */
	s = cap_store_new(100, 1, NULL);
	(void)cap_store_add0(s, msg("s", "b@x.test"));
	(void)cap_store_add0(s, msg("s", "b@x.test"));
	assert_int_equal(cap_store_count(s), 1);
	assert_int_equal(cap_store_nth(s, 0)->id, 2);
	assert_int_equal(cap_store_delete_all(s), 1);
	assert_int_equal(cap_store_bytes(s), 0);
	cap_store_free(s);
}

static void
put_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *fp;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static bool
file_is(const char *dir, const char *name, const char *text)
{
	char path[256], got[64] = "";
	FILE *fp;
	size_t n;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fp = fopen(path, "r")) == NULL)
		return false;
	n = fread(got, 1, sizeof(got) - 1, fp);
	got[n] = '\0';
	(void)fclose(fp);
	return text == NULL || strcmp(got, text) == 0;
}

/*
 * --dir kept by a previous run (capture restarted on the same
 * directory): the ids go on after the highest ID.eml there, so that
 * run's files are neither overwritten by new mail nor removed by a
 * delete or the ring. Other names do not count.
 */
static void
test_store_dir_of_a_previous_run(void **state)
{
	char dir[TESTUTIL_DIR_MAX];
	struct cap_store *s;

	(void)state;
	assert_int_equal(testutil_mkdtemp(dir, sizeof(dir), NULL, "capdir"), 0);
	put_file(dir, "7.eml", "old 7");
	put_file(dir, "2.eml", "old 2");
	put_file(dir, "99.txt", "x");
	put_file(dir, "x.eml", "x");
	put_file(dir, "1e3.eml", "x");
	put_file(dir, "99999999999999999999999.eml", "x");
	s = cap_store_new(1, 0, dir);
	assert_int_equal(cap_store_add0(s, msg("new", "b@x.test"))->id, 8);
	assert_true(file_is(dir, "8.eml", NULL));
	assert_int_equal(cap_store_add0(s, msg("new", "b@x.test"))->id, 9);
	assert_false(file_is(dir, "8.eml", NULL)); /* the ring's, dropped */
	assert_int_equal(cap_store_delete_all(s), 1);
	assert_false(file_is(dir, "9.eml", NULL));
	assert_true(file_is(dir, "7.eml", "old 7"));
	assert_true(file_is(dir, "2.eml", "old 2"));
	cap_store_free(s);
	testutil_rmtree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_route_page_names),
		cmocka_unit_test(test_filter_parse),
		cmocka_unit_test(test_filter_refused),
		cmocka_unit_test(test_filter_match),
		cmocka_unit_test(test_faults_parse),
		cmocka_unit_test(test_fault_draws),
		cmocka_unit_test(test_host_is_local),
		cmocka_unit_test(test_view_fields),
		cmocka_unit_test(test_view_many_fields_linear),
		cmocka_unit_test(test_body_parts),
		cmocka_unit_test(test_store_ring),
		cmocka_unit_test(test_store_byte_cap),
		cmocka_unit_test(test_store_dir_of_a_previous_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
