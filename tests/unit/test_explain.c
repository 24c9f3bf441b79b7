/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for ops/explain.c: the journal line parser (a table of
 * good and bad lines, the line cap at limit-1, limit and limit+1, a line
 * torn by a crash), the line reader (all at once and trickled through a
 * pipe, long lines, a torn last line), the stories (by id, by address
 * with its limit, bounces tied in, refusals) and both renderings on
 * synthetic journals.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "ops/explain.h"

/* ---- the line parser ---- */

struct line_case {
	const char *name;
	const char *line;
	bool ok;
	long long seq; /* when ok */
};

#define EV "\"time\":\"2026-12-04T18:00:00.123Z\",\"event\":"

static const struct line_case line_cases[] = {
	{ "minimal", "{\"seq\":1," EV "\"removed\",\"id\":\"a\"}", true, 1 },
	{ "seq-0", "{\"seq\":0," EV "\"held\"}", true, 0 },
	{ "unknown-field", "{\"seq\":2," EV "\"held\",\"new\":[1,{}]}", true,
	    2 },
	{ "all-fields",
	    "{\"seq\":3," EV "\"accepted\",\"id\":\"a\",\"from\":\"\","
	    "\"rcpts\":[\"b@c\"],\"client\":\"::1\",\"helo\":\"h\","
	    "\"listener\":\"mx\",\"user\":\"u\",\"tls\":\"TLSv1.3\","
	    "\"checks\":\"spf=pass\",\"size\":12}",
	    true, 3 },
	{ "delivery-fields",
	    "{\"seq\":4," EV "\"deferred\",\"id\":\"a\",\"to\":\"b@c\","
	    "\"reply\":\"451 x\",\"route\":\"smtp\",\"relay\":\"smtp:h\","
	    "\"text\":\"t\",\"delay\":0.5,\"attempt\":1,"
	    "\"next_attempt\":1800000000}",
	    true, 4 },
	{ "delay-integer", "{\"seq\":5," EV "\"delivered\",\"delay\":1}", true,
	    5 },
	{ "torn-then-whole",
	    "{\"seq\":6,\"ti{\"seq\":7," EV "\"removed\",\"id\":\"a\"}", true,
	    7 },
	/* invalid */
	{ "empty", "", false, 0 },
	{ "not-json", "hello", false, 0 },
	{ "array", "[1,2]", false, 0 },
	{ "string", "\"x\"", false, 0 },
	{ "torn", "{\"seq\":8," EV "\"remo", false, 0 },
	{ "trailing", "{\"seq\":1," EV "\"held\"} x", false, 0 },
	{ "no-seq", "{" EV "\"held\"}", false, 0 },
	{ "seq-negative", "{\"seq\":-1," EV "\"held\"}", false, 0 },
	{ "seq-string", "{\"seq\":\"1\"," EV "\"held\"}", false, 0 },
	{ "seq-real", "{\"seq\":1.5," EV "\"held\"}", false, 0 },
	{ "no-time", "{\"seq\":1,\"event\":\"held\"}", false, 0 },
	{ "time-number", "{\"seq\":1,\"time\":5,\"event\":\"held\"}", false,
	    0 },
	{ "no-event", "{\"seq\":1,\"time\":\"t\"}", false, 0 },
	{ "event-unknown", "{\"seq\":1," EV "\"exploded\"}", false, 0 },
	{ "event-number", "{\"seq\":1," EV "3}", false, 0 },
	{ "id-number", "{\"seq\":1," EV "\"held\",\"id\":7}", false, 0 },
	{ "to-null", "{\"seq\":1," EV "\"held\",\"to\":null}", false, 0 },
	{ "rcpts-string", "{\"seq\":1," EV "\"held\",\"rcpts\":\"a\"}", false,
	    0 },
	{ "rcpts-number", "{\"seq\":1," EV "\"held\",\"rcpts\":[1]}", false,
	    0 },
	{ "size-string", "{\"seq\":1," EV "\"held\",\"size\":\"1\"}", false,
	    0 },
	{ "attempt-real", "{\"seq\":1," EV "\"held\",\"attempt\":1.5}", false,
	    0 },
	{ "delay-string", "{\"seq\":1," EV "\"held\",\"delay\":\"1\"}", false,
	    0 },
	{ "duplicate-key", "{\"seq\":1,\"seq\":2," EV "\"held\"}", false, 0 },
	{ "nul-in-string", "{\"seq\":1," EV "\"held\",\"text\":\"a\\u0000b\"}",
	    false, 0 },
	{ "bad-utf8", "{\"seq\":1," EV "\"held\",\"text\":\"\xff\"}", false,
	    0 },
	{ "torn-mark-only", "x{\"seq\":", false, 0 },
};

static void
test_parse_line(void **state)
{
	const struct line_case *c;
	json_t *o;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++) {
		c = &line_cases[i];
		o = explain_parse_line(c->line, strlen(c->line));
		if ((o != NULL) != c->ok)
			fail_msg("%s: got %s", c->name, o ? "event" : "NULL");
		if (o != NULL &&
		    json_integer_value(json_object_get(o, "seq")) != c->seq)
			fail_msg("%s: seq", c->name);
		json_decref(o);
	}
}

/* A valid event line of exactly n bytes (n >= 64). */
static char *
line_of(size_t n)
{
	static const char head[] = "{\"seq\":1," EV "\"held\",\"text\":\"";
	char *s = malloc(n + 1);
	size_t h = sizeof(head) - 1;

	assert_non_null(s);
	memcpy(s, head, h);
	memset(s + h, 'x', n - h - 2);
	memcpy(s + n - 2, "\"}", 2);
	s[n] = '\0';
	return s;
}

static void
test_parse_line_cap(void **state)
{
	size_t sizes[] = { EXPLAIN_LINE_MAX - 1, EXPLAIN_LINE_MAX,
		EXPLAIN_LINE_MAX + 1 };
	json_t *o;
	char *s;
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		s = line_of(sizes[i]);
		o = explain_parse_line(s, sizes[i]);
		if ((o != NULL) != (sizes[i] <= EXPLAIN_LINE_MAX))
			fail_msg("line of %zu", sizes[i]);
		json_decref(o);
		free(s);
	}
}

/* Every proper prefix of a good line is not an event. */
static void
test_parse_line_prefixes(void **state)
{
	const char *line = line_cases[3].line;
	size_t cut, n = strlen(line);
	json_t *o;

	(void)state;
	for (cut = 0; cut < n; cut++) {
		o = explain_parse_line(line, cut);
		if (o != NULL)
			fail_msg("prefix %zu is an event", cut);
	}
}

/* ---- the reader ---- */

struct feed {
	int fd;
	const char *p;
	size_t n, step;
};

static void *
writer(void *arg)
{
	struct feed *f = arg;
	size_t off = 0, k;
	ssize_t w;

	while (off < f->n) {
		k = f->n - off < f->step ? f->n - off : f->step;
		w = write(f->fd, f->p + off, k);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(f->fd);
	return NULL;
}

/*
 * Read p[0..n) written in `step`-byte pieces through a pipe; describe
 * what came out in out: "L<len>" per line, "T" too long, "R" torn.
 */
static void
read_all(const char *p, size_t n, size_t step, char *out, size_t outsz)
{
	struct explain_reader *r;
	enum explain_read_status st;
	struct feed f;
	pthread_t th;
	const char *line;
	size_t len, used = 0;
	int fds[2];
	int k;

	assert_int_equal(pipe(fds), 0);
	f = (struct feed){ fds[1], p, n, step };
	assert_int_equal(pthread_create(&th, NULL, writer, &f), 0);
	r = explain_reader_new(fds[0]);
	assert_non_null(r);
	out[0] = '\0';
	while ((st = explain_read_line(r, &line, &len)) != EXPLAIN_READ_EOF) {
		assert_int_not_equal(st, EXPLAIN_READ_ERROR);
		if (st == EXPLAIN_READ_LINE) {
			assert_null(memchr(line, '\n', len));
			k = snprintf(out + used, outsz - used, "L%zu ", len);
		} else {
			k = snprintf(out + used, outsz - used, "%s ",
			    st == EXPLAIN_READ_TOO_LONG ? "T" : "R");
		}
		assert_true(k > 0 && (size_t)k < outsz - used);
		used += (size_t)k;
	}
	/* EOF stays EOF. */
	assert_int_equal(explain_read_line(r, &line, &len), EXPLAIN_READ_EOF);
	explain_reader_free(r);
	pthread_join(th, NULL);
	close(fds[0]);
}

static void
test_reader(void **state)
{
	static const size_t steps[] = { 1, 7, 4096, 1 << 20 };
	const size_t max = EXPLAIN_LINE_MAX;
	struct {
		const char *name;
		size_t a, b; /* two lines of a and b bytes */
		bool lf_last;
		const char *want;
	} cases[] = {
		{ "short", 3, 0, true, "L3 L0 " },
		{ "max-1", max - 1, 2, true, NULL },
		{ "max", max, 2, true, NULL },
		{ "max+1", max + 1, 2, true, "T L2 " },
		{ "huge", 5 * max, 2, true, "T L2 " },
		{ "torn", 3, 5, false, "L3 R " },
		{ "torn-huge", 3, 3 * max, false, "L3 R " },
	};
	char want[64], got[256], *p;
	size_t i, j, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = cases[i].a + 1 + cases[i].b + (cases[i].lf_last ? 1 : 0);
		p = malloc(n);
		assert_non_null(p);
		memset(p, 'x', n);
		p[cases[i].a] = '\n';
		if (cases[i].lf_last)
			p[n - 1] = '\n';
		if (cases[i].want == NULL)
			snprintf(want, sizeof(want), "L%zu L2 ", cases[i].a);
		else
			snprintf(want, sizeof(want), "%s", cases[i].want);
		for (j = 0; j < sizeof(steps) / sizeof(steps[0]); j++) {
			if (steps[j] == 1 && n > 4096)
				continue; /* a byte at a time: slow, no news */
			read_all(p, n, steps[j], got, sizeof(got));
			if (strcmp(got, want) != 0)
				fail_msg("%s step %zu: got '%s' want '%s'",
				    cases[i].name, steps[j], got, want);
		}
		free(p);
	}
	read_all("", 0, 1, got, sizeof(got));
	assert_string_equal(got, "");
}

/* ---- stories ---- */

#define T(s) "\"time\":\"2026-12-04T18:00:" s "Z\","

/* A deferred-then-delivered message, a bounce, a refusal, a hold. */
static const char journal[] =
    /* message A: bob@example.org, deferred then delivered */
    "{\"seq\":1," T(
        "00.100") "\"event\":\"accepted\",\"id\":\"AAA\","
                  "\"from\":\"alice@remote.example\",\"rcpts\":[\"bob@example."
                  "org\"],"
                  "\"client\":\"127.0.0.1\",\"helo\":\"client.example\","
                  "\"listener\":\"mx\",\"tls\":\"TLSv1.3 "
                  "TLS_AES_256_GCM_SHA384\","
                  "\"checks\":\"spf=pass dkim=none dmarc=none\",\"size\":321}\n"
                  "{\"seq\":2," T(
                      "00.200") "\"event\":\"deferred\",\"id\":\"AAA\","
                                "\"to\":\"bob@example.org\",\"route\":\"smtp\","
                                "\"relay\":\"smtp:sink[127.0.0.1]:2525\","
                                "\"reply\":\"451 4.3.0 later\","
                                "\"text\":\"451 4.3.0 "
                                "later\",\"delay\":0.1,\"attempt\":1,"
                                "\"next_attempt\":1796407201}\n"
                                /* garbage between */
                                "not json at all\n"
                                /* message B: to carol, bounced; its bounce C to
                                   alice */
                                "{\"seq\":3," T(
                                    "01.000") "\"event\":\"accepted\",\"id\":"
                                              "\"BBB\","
                                              "\"from\":\"alice@remote."
                                              "example\",\"rcpts\":[\"carol@"
                                              "example.org\"],"
                                              "\"client\":\"127.0.0.1\","
                                              "\"listener\":\"mx\",\"size\":"
                                              "100}\n"
                                              "{\"seq\":4," T(
                                                  "01.100") "\"event\":"
                                                            "\"accepted\","
                                                            "\"id\":\"CCC\","
                                                            "\"from\":\"\","
                                                            "\"rcpts\":["
                                                            "\"alice@remote."
                                                            "example\"],"
                                                            "\"listener\":"
                                                            "\"pickup\","
                                                            "\"size\":900}\n"
                                                            "{\"seq\":5," T(
                                                                "01.101") "\"ev"
                                                                          "ent"
                                                                          "\":"
                                                                          "\"bo"
                                                                          "unce"
                                                                          "d\","
                                                                          "\"id"
                                                                          "\":"
                                                                          "\"BB"
                                                                          "B\","
                                                                          "\"to"
                                                                          "\":"
                                                                          "\"ca"
                                                                          "rol@"
                                                                          "exam"
                                                                          "ple."
                                                                          "org"
                                                                          "\","
                                                                          "\"ro"
                                                                          "ute"
                                                                          "\":"
                                                                          "\"sm"
                                                                          "tp\""
                                                                          ","
                                                                          "\"re"
                                                                          "ply"
                                                                          "\":"
                                                                          "\"55"
                                                                          "0 "
                                                                          "5.1."
                                                                          "1 "
                                                                          "no "
                                                                          "such"
                                                                          " use"
                                                                          "r\","
                                                                          "\"te"
                                                                          "xt\""
                                                                          ":\"g"
                                                                          "one"
                                                                          "\","
                                                                          "\"ds"
                                                                          "n_"
                                                                          "id\""
                                                                          ":\"C"
                                                                          "CC\""
                                                                          ",\"a"
                                                                          "ttem"
                                                                          "pt\""
                                                                          ":1,"
                                                                          "\"de"
                                                                          "lay"
                                                                          "\":"
                                                                          "0.1}"
                                                                          "\n"
                                                                          "{\"s"
                                                                          "eq\""
                                                                          ":6"
                                                                          "," T(
                                                                              "01.102") "\"event\":\"removed\",\"id\":\"BBB\"}\n"
                                                                                        /* a refusal of dave, no queue id */
                                                                                        "{\"seq\":7," T(
                                                                                            "02.000") "\"event\":\"rejected\",\"stage\":\"rcpt\","
                                                                                                      "\"reason\":\"unknown_user\",\"from\":\"eve@remote.example\","
                                                                                                      "\"to\":\"dave@example.org\",\"client\":\"127.0.0.9\","
                                                                                                      "\"reply\":\"550 5.1.1 <dave@example.org>: no such user\"}\n"
                                                                                                      /* A delivered */
                                                                                                      "{\"seq\":8," T(
                                                                                                          "03.000") "\"event\":\"delivered\",\"id\":\"AAA\","
                                                                                                                    "\"to\":\"bob@example.org\",\"route\":\"smtp\","
                                                                                                                    "\"relay\":\"smtp:sink[127.0.0.1]:2525\",\"reply\":\"250 2.0.0 Ok\","
                                                                                                                    "\"delay\":2.9,\"attempt\":2}\n"
                                                                                                                    "{\"seq\":9," T(
                                                                                                                        "03.001") "\"event\":\"removed\",\"id\":\"AAA\"}\n"
                                                                                                                                  /* message D to bob: held, released, delivered to a Maildir */
                                                                                                                                  "{\"seq\":10," T(
                                                                                                                                      "04.000") "\"event\":\"accepted\",\"id\":\"DDD\","
                                                                                                                                                "\"from\":\"zed@remote.example\",\"rcpts\":[\"Bob@EXAMPLE.org\"],"
                                                                                                                                                "\"client\":\"::1\",\"listener\":\"mx\",\"size\":5}\n"
                                                                                                                                                "{\"seq\":11," T(
                                                                                                                                                    "04.001") "\"event\":\"held\",\"id\":\"DDD\","
                                                                                                                                                              "\"text\":\"operator\"}\n"
                                                                                                                                                              "{\"seq\":12," T(
                                                                                                                                                                  "05.000") "\"event\":\"released\",\"id\":\"DDD\"}\n"
                                                                                                                                                                            "{\"seq\":13," T("05.100") "\"event\":\"delivered\",\"id\":\"DDD\","
                                                                                                                                                                                                       "\"to\":\"Bob@EXAMPLE.org\",\"route\":\"local\","
                                                                                                                                                                                                       "\"relay\":\"maildir:mail/example.org/bob\",\"delay\":1.1,"
                                                                                                                                                                                                       "\"attempt\":1}\n"
                                                                                                                                                                                                       "{\"seq\":14," T(
                                                                                                                                                                                                           "05.101") "\"event\":\"removed\",\"id\":\"DDD\"}\n"
                                                                                                                                                                                                                     /* a torn last line */
                                                                                                                                                                                                                     "{\"seq\":15," T(
                                                                                                                                                                                                                         "06.000") "\"event\":\"acc";

/* Run what over text, both passes, as the CLI does (lines split at LF;
 * the last piece without an LF is a torn line). */
static struct explain *
run(const char *what, size_t limit, const char *text)
{
	struct explain *ex = explain_new(what, limit);
	const char *p, *lf;
	bool more = true;

	assert_non_null(ex);
	while (more) {
		for (p = text; *p != '\0'; p = lf + 1) {
			if ((lf = strchr(p, '\n')) == NULL) {
				explain_skipped(ex, EXPLAIN_READ_TORN);
				break;
			}
			explain_feed(ex, p, (size_t)(lf - p));
		}
		more = explain_next_pass(ex);
	}
	return ex;
}

static char *
text_of(const struct explain *ex)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	assert_non_null(f);
	explain_render_text(ex, f);
	assert_int_equal(fclose(f), 0);
	return out;
}

static json_t *
json_of(const struct explain *ex)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);
	json_error_t err;
	json_t *j;

	assert_non_null(f);
	assert_int_equal(explain_render_json(ex, f), 0);
	assert_int_equal(fclose(f), 0);
	j = json_loadb(out, n, 0, &err);
	if (j == NULL)
		fail_msg("JSON does not parse: %s: %s", err.text, out);
	free(out);
	return j;
}

static void
want_in(const char *text, const char *want)
{
	assert_non_null(text);
	if (strstr(text, want) == NULL)
		fail_msg("no '%s' in:\n%s", want, text != NULL ? text : "");
}

static void
test_by_id_deferred_delivered(void **state)
{
	struct explain *ex = run("AAA", 0, journal);
	char *t;

	(void)state;
	assert_false(explain_is_address(ex));
	assert_int_equal(explain_count(ex), 1);
	/* "not json at all" and the torn last line */
	assert_int_equal(explain_bad_lines(ex), 2);
	t = text_of(ex);
	want_in(t, "Message AAA\n");
	want_in(t, "  2026-12-04 (UTC)\n");
	want_in(t, "18:00:00.100  accepted from 127.0.0.1, HELO "
	           "client.example, listener mx, TLSv1.3 "
	           "TLS_AES_256_GCM_SHA384\n");
	want_in(t, "250 queued as AAA: from <alice@remote.example>, 321 "
	           "bytes, 1 recipient: <bob@example.org>\n");
	want_in(t, "checks: spf=pass dkim=none dmarc=none\n");
	want_in(t, "18:00:00.200  <bob@example.org>: deferred by "
	           "smtp:sink[127.0.0.1]:2525 (attempt 1, 0.100 s after "
	           "arrival)\n");
	want_in(t, "reply: 451 4.3.0 later\n");
	/* text equal to the reply is not said twice */
	assert_null(strstr(t, "why:"));
	want_in(t, "next attempt at 2026-12-04 18:00:01 UTC, 1 s later\n");
	want_in(t, "18:00:03.000  <bob@example.org>: delivered to "
	           "smtp:sink[127.0.0.1]:2525 (attempt 2, 2.900 s after "
	           "arrival)\n");
	want_in(t, "reply: 250 2.0.0 Ok\n");
	want_in(t, "18:00:03.001  left the queue\n");
	assert_null(strstr(t, "still in the queue"));
	assert_null(strstr(t, "BBB"));
	free(t);
	explain_free(ex);
}

static void
test_by_id_bounce(void **state)
{
	struct explain *ex = run("BBB", 0, journal);
	json_t *j, *s, *ids;
	char *t;

	(void)state;
	assert_int_equal(explain_count(ex), 1);
	t = text_of(ex);
	want_in(t, "Message BBB\n");
	want_in(t, "<carol@example.org>: bounced (attempt 1, 0.100 s after "
	           "arrival)\n");
	want_in(t, "reply: 550 5.1.1 no such user\n");
	want_in(t, "why: gone\n");
	want_in(t, "bounce sent to the sender as CCC\n");
	/* the bounce's own events, tagged, and from the pickup */
	want_in(t, "[bounce CCC] accepted from tern sendmail (pickup)\n");
	want_in(t, "250 queued as CCC: from <>, 900 bytes, 1 recipient: "
	           "<alice@remote.example>\n");
	want_in(t, "(CCC: still in the queue at the journal's end)\n");
	free(t);
	j = json_of(ex);
	assert_int_equal(json_array_size(j), 1);
	s = json_array_get(j, 0);
	assert_string_equal(json_string_value(json_object_get(s, "id")), "BBB");
	ids = json_object_get(s, "ids");
	assert_int_equal(json_array_size(ids), 2);
	assert_int_equal(json_array_size(json_object_get(s, "events")), 4);
	json_decref(j);
	explain_free(ex);

	/* Asked by the bounce's id: the same story, told from the start. */
	ex = run("CCC", 0, journal);
	assert_int_equal(explain_count(ex), 1);
	t = text_of(ex);
	want_in(t, "Message BBB\n");
	want_in(t, "[bounce CCC] accepted from tern sendmail (pickup)\n");
	free(t);
	explain_free(ex);

	/* With the original's lines gone (rotated away), the bounce says
	 * what it is and whose it was. */
	ex = run("CCC", 0, journal + (strstr(journal, "{\"seq\":4") - journal));
	assert_int_equal(explain_count(ex), 1);
	t = text_of(ex);
	want_in(t, "Message CCC (a bounce)\n");
	want_in(t, "[message BBB] <carol@example.org>: bounced");
	want_in(t, "(BBB: its arrival is no longer in the journal)\n");
	free(t);
	explain_free(ex);
}

static void
test_by_id_none(void **state)
{
	struct explain *ex = run("ZZZ", 0, journal);
	json_t *j;

	(void)state;
	assert_int_equal(explain_count(ex), 0);
	j = json_of(ex);
	assert_int_equal(json_array_size(j), 0);
	json_decref(j);
	explain_free(ex);
	/* A prefix of an id is not the id. */
	ex = run("AA", 0, journal);
	assert_int_equal(explain_count(ex), 0);
	explain_free(ex);
}

static void
test_by_address(void **state)
{
	struct explain *ex = run("bob@example.ORG", 0, journal);
	json_t *j;
	char *t, *a, *d;

	(void)state;
	assert_true(explain_is_address(ex));
	/* AAA, and DDD through Bob@EXAMPLE.org? No: the local part is
	 * exact. */
	assert_int_equal(explain_count(ex), 1);
	explain_free(ex);

	ex = run("<Bob@example.org>", 0, journal);
	assert_int_equal(explain_count(ex), 1);
	t = text_of(ex);
	want_in(t, "Message DDD\n");
	want_in(t, "held: operator\n");
	want_in(t, "released: delivery goes on\n");
	want_in(t, "<Bob@EXAMPLE.org>: delivered into Maildir "
	           "mail/example.org/bob (attempt 1, 1.100 s after "
	           "arrival)\n");
	free(t);
	explain_free(ex);

	/* alice: sender of AAA and BBB (with its bounce CCC to her). */
	ex = run("alice@REMOTE.example", 0, journal);
	assert_int_equal(explain_count(ex), 2);
	t = text_of(ex);
	a = strstr(t, "Message AAA");
	d = strstr(t, "Message BBB");
	assert_non_null(a);
	assert_non_null(d);
	assert_true(a < d);                    /* oldest first */
	assert_null(strstr(t, "Message CCC")); /* told inside BBB's story */
	free(t);
	j = json_of(ex);
	assert_int_equal(json_array_size(j), 2);
	json_decref(j);
	explain_free(ex);

	/* The limit keeps the latest: BBB's story (its bounce at seq 5)
	 * is later than AAA's last event naming alice (seq 1). */
	ex = run("alice@remote.example", 1, journal);
	assert_int_equal(explain_count(ex), 1);
	t = text_of(ex);
	want_in(t, "Message BBB");
	assert_null(strstr(t, "Message AAA"));
	free(t);
	explain_free(ex);
}

static void
test_refusal(void **state)
{
	struct explain *ex = run("dave@example.org", 0, journal);
	json_t *j, *s;
	char *t;

	(void)state;
	assert_int_equal(explain_count(ex), 1);
	t = text_of(ex);
	want_in(t, "Refused (no queue id)\n");
	want_in(t, "18:00:02.000  refused at RCPT TO <dave@example.org>: 550 "
	           "5.1.1 <dave@example.org>: no such user (unknown user)\n");
	want_in(t, "from 127.0.0.9, no TLS, sender <eve@remote.example>\n");
	free(t);
	j = json_of(ex);
	s = json_array_get(j, 0);
	assert_true(json_is_null(json_object_get(s, "id")));
	assert_int_equal(json_array_size(json_object_get(s, "events")), 1);
	json_decref(j);
	explain_free(ex);
	/* the sender of the refusal too */
	ex = run("eve@remote.example", 0, journal);
	assert_int_equal(explain_count(ex), 1);
	explain_free(ex);
}

/* What a peer wrote cannot drive the terminal or forge a line. */
static void
test_escaping(void **state)
{
	static const char j[] = "{\"seq\":1," T(
	    "00.000") "\"event\":\"accepted\",\"id\":\"E\","
	              "\"from\":\"a@b\",\"rcpts\":[\"c@d\"],\"client\":\"1.2.3."
	              "4\","
	              "\"helo\":\"x\\u001b[31mred\\nfake\\u202eevil\\\\\","
	              "\"listener\":\"mx\"}\n";
	struct explain *ex = run("E", 0, j);
	json_t *js;
	char *t;

	(void)state;
	t = text_of(ex);
	want_in(t, "HELO x\\x1b[31mred\\x0afake\\u{202E}evil\\\\,");
	assert_null(strchr(t, 0x1b));
	assert_null(strstr(t, "\xe2\x80\xae"));
	free(t);
	js = json_of(ex); /* parses back */
	json_decref(js);
	explain_free(ex);
}

/* Times not in the journal's form are shown as they are. */
static void
test_odd_time(void **state)
{
	static const char j[] =
	    "{\"seq\":1,\"time\":\"yesterday\",\"event\":\"removed\","
	    "\"id\":\"E\"}\n";
	struct explain *ex = run("E", 0, j);
	char *t;

	(void)state;
	t = text_of(ex);
	want_in(t, "  yesterday  left the queue\n");
	want_in(t, "(E: its arrival is no longer in the journal)\n");
	free(t);
	explain_free(ex);
}

/* An address's stories are bounded by the limit however many match. */
static void
test_address_bounded(void **state)
{
	struct explain *ex = explain_new("x@y", 3);
	char line[256], want[32];
	json_t *j, *s;
	int pass, i, n;
	char *t;

	(void)state;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < 1000; i++) {
			n = snprintf(line, sizeof(line),
			    "{\"seq\":%d," T(
			        "00.000") "\"event\":\"accepted\","
			                  "\"id\":\"M%d\",\"from\":\"x@y\","
			                  "\"rcpts\":[]}",
			    i, i);
			explain_feed(ex, line, (size_t)n);
		}
		if (!explain_next_pass(ex))
			break;
	}
	assert_int_equal(explain_count(ex), 3);
	j = json_of(ex);
	for (i = 0; i < 3; i++) {
		s = json_array_get(j, (size_t)i);
		snprintf(want, sizeof(want), "M%d", 997 + i);
		assert_string_equal(json_string_value(json_object_get(s, "id")),
		    want);
	}
	json_decref(j);
	t = text_of(ex);
	want_in(t, "0 recipients\n");
	free(t);
	explain_free(ex);
}

/* One message's events are capped at EXPLAIN_EVENTS_MAX. */
static void
test_events_capped(void **state)
{
	struct explain *ex = explain_new("M", 0);
	char line[256];
	int pass, i, n;
	char *t;

	(void)state;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < EXPLAIN_EVENTS_MAX + 5; i++) {
			n = snprintf(line, sizeof(line),
			    "{\"seq\":%d," T("00.000") "\"event\":\"held\","
			                               "\"id\":\"M\"}",
			    i);
			explain_feed(ex, line, (size_t)n);
		}
		if (!explain_next_pass(ex))
			break;
	}
	assert_int_equal(explain_count(ex), 1);
	assert_int_equal(explain_dropped(ex), 5);
	t = text_of(ex);
	want_in(t, "(5 more events not shown");
	free(t);
	explain_free(ex);
}

static void
test_new_limits(void **state)
{
	struct explain *ex;

	(void)state;
	ex = explain_new("a@b", EXPLAIN_LIMIT_MAX + 1);
	assert_non_null(ex);
	explain_free(ex);
	explain_free(NULL);
	ex = explain_new("<>", 0); /* no '@': an id, "" */
	assert_false(explain_is_address(ex));
	explain_free(ex);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_line),
		cmocka_unit_test(test_parse_line_cap),
		cmocka_unit_test(test_parse_line_prefixes),
		cmocka_unit_test(test_reader),
		cmocka_unit_test(test_by_id_deferred_delivered),
		cmocka_unit_test(test_by_id_bounce),
		cmocka_unit_test(test_by_id_none),
		cmocka_unit_test(test_by_address),
		cmocka_unit_test(test_refusal),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_odd_time),
		cmocka_unit_test(test_address_bounded),
		cmocka_unit_test(test_events_capped),
		cmocka_unit_test(test_new_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
