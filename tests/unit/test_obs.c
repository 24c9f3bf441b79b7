/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for obs/ (issue 17) and util/json.c: the JSON escaper
 * (quotes, controls, hidden code points, bad UTF-8), the reason of a
 * refusal from its reply, the journal (lines, seq across a reopen,
 * rotation at journal_max_size, a symlink refused), the sinks' order,
 * and the metrics' Prometheus text and JSON after events.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf/conf.h"
#include "obs/metrics.h"
#include "obs/obs.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/why.h"

static const char *
js(struct buf *b, const char *s, size_t n)
{
	buf_clear(b);
	assert_int_equal(json_strn(b, s, n), 0);
	return (const char *)b->data;
}

static void
test_json_escape(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	assert_string_equal(js(&b, "a@b", 3), "\"a@b\"");
	assert_string_equal(js(&b, "q\"\\", 3), "\"q\\\"\\\\\"");
	assert_string_equal(js(&b, "a\r\nb\x7f", 5),
	    "\"a\\r\\nb\\u007f\"");
	assert_string_equal(js(&b, "a\0b", 3), "\"a\\u0000b\"");
	/* Not UTF-8: U+FFFD, one per byte. */
	assert_string_equal(js(&b, "x\xff\xc3", 3), "\"x\\ufffd\\ufffd\"");
	/* Kept: plain UTF-8. Escaped: U+202E (reorders), U+0085 (C1). */
	assert_string_equal(js(&b, "\xc3\xa9", 2), "\"\xc3\xa9\"");
	assert_string_equal(js(&b, "\xe2\x80\xae", 3), "\"\\u202e\"");
	assert_string_equal(js(&b, "\xc2\x85", 2), "\"\\u0085\"");
	buf_clear(&b);
	assert_int_equal(json_str(&b, NULL), 0);
	assert_string_equal((const char *)b.data, "null");
	/* Members: commas only between them. */
	buf_clear(&b);
	assert_int_equal(buf_append_str(&b, "{"), 0);
	assert_int_equal(json_kv_str(&b, "a", "x"), 0);
	assert_int_equal(json_kv_str(&b, "skip", NULL), 0);
	assert_int_equal(json_kv_u64(&b, "n", 7), 0);
	assert_int_equal(json_kv_double(&b, "d", 0.5), 0);
	assert_int_equal(buf_append_str(&b, "}"), 0);
	assert_string_equal((const char *)b.data,
	    "{\"a\":\"x\",\"n\":7,\"d\":0.500}");
	/* Full: -1, never a half string taken for whole. */
	buf_reset(&b);
	buf_init(&b, 4);
	assert_int_equal(json_str(&b, "abcdef"), -1);
	buf_reset(&b);
}

static void
test_reason_of(void **state)
{
	(void)state;
	assert_int_equal(obs_reason_of("554 5.7.1 <a@x>: Relay access denied",
	                     "rcpt"),
	    OBS_R_RELAY);
	assert_int_equal(obs_reason_of("550 5.1.1 <a@x>: Recipient address "
	                               "rejected",
	                     "rcpt"),
	    OBS_R_UNKNOWN_USER);
	assert_int_equal(obs_reason_of("553 5.7.1 <a@x>: Sender address "
	                               "rejected: not owned by user u",
	                     "mail"),
	    OBS_R_SENDER);
	assert_int_equal(obs_reason_of("501 5.1.7 Bad sender address syntax",
	                     "mail"),
	    OBS_R_SENDER);
	assert_int_equal(obs_reason_of("552 5.3.4 Message too big", "data"),
	    OBS_R_SIZE);
	assert_int_equal(obs_reason_of("530 5.7.0 Must issue a STARTTLS "
	                               "command first",
	                     "mail"),
	    OBS_R_TLS_REQUIRED);
	assert_int_equal(obs_reason_of("538 5.7.11 Encryption required",
	                     "auth"),
	    OBS_R_TLS_REQUIRED);
	assert_int_equal(obs_reason_of("535 5.7.8 Authentication credentials "
	                               "invalid",
	                     "auth"),
	    OBS_R_AUTH);
	assert_int_equal(obs_reason_of("530 5.7.0 Authentication required",
	                     "mail"),
	    OBS_R_AUTH);
	assert_int_equal(obs_reason_of("550 5.7.1 Message refused: DMARC",
	                     "data"),
	    OBS_R_POLICY);
	assert_int_equal(obs_reason_of("503 5.5.1 Error: need MAIL command",
	                     "rcpt"),
	    OBS_R_PROTOCOL);
	assert_int_equal(obs_reason_of("554 5.4.6 Too many Received headers",
	                     "data"),
	    OBS_R_LOOP);
	assert_int_equal(obs_reason_of("421 4.7.0 Rate limit reached",
	                     "connect"),
	    OBS_R_RATE_LIMIT);
	assert_int_equal(obs_reason_of("451 4.3.2 Too busy", "rcpt"),
	    OBS_R_RATE_LIMIT);
	assert_int_equal(obs_reason_of("550 no code", "rcpt"), OBS_R_OTHER);
	assert_int_equal(obs_reason_of(NULL, NULL), OBS_R_OTHER);
	assert_int_equal(obs_reason_of("5", "x"), OBS_R_OTHER);
	assert_int_equal(obs_route_of("maildir:mail/x/y"), OBS_ROUTE_LOCAL);
	assert_int_equal(obs_route_of("smtp:h[1.2.3.4]:25"), OBS_ROUTE_SMTP);
	assert_int_equal(obs_route_of("lmtp:/run/x"), OBS_ROUTE_LMTP);
	assert_int_equal(obs_route_of(""), OBS_ROUTE_NONE);
}

static struct conf *
conf_in(const char *dir, const char *extra)
{
	char text[2048];
	struct why why;
	struct conf *c;

	(void)snprintf(text, sizeof(text),
	    "hostname = mx.example.test\ndata_dir = %s\ndomains = example.test\n"
	    "[listener mx]\naddress = 127.0.0.1:2525\nmode = mx\n"
	    "[listener sub]\naddress = 127.0.0.1:2587\nmode = submission\n"
	    "[observability]\n%s",
	    dir, extra);
	c = conf_load_string(text, "t", &why);
	if (c == NULL)
		fail_msg("%s", why.text);
	return c;
}

static char *
slurp(const char *dir, const char *name)
{
	char path[512], *s;
	FILE *f;
	long n;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	(void)fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = calloc(1, (size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	(void)fclose(f);
	return s;
}

struct seen {
	uint64_t seqs[16];
	size_t n;
};

static void
sink(void *arg, uint64_t seq, const char *line, size_t len,
    const struct obs_event *ev)
{
	struct seen *s = arg;

	(void)ev;
	assert_true(len > 0 && line[0] == '{' && line[len - 1] == '}');
	if (s->n < 16)
		s->seqs[s->n++] = seq;
}

static void
emit_delivered(const char *id, const char *to)
{
	struct obs_event ev = { .kind = OBS_DELIVERED, .id = id, .to = to,
		.relay = "maildir:mail/example.test/bob",
		.route = OBS_ROUTE_LOCAL, .delay = 0.25, .attempt = 1 };

	obs_emit(&ev);
}

static void
test_journal(void **state)
{
	char dir[] = "/tmp/test_obs.XXXXXX", path[512];
	const char *rcpts[] = { "bob@example.test", "c\"d@example.test" };
	struct obs_event acc = { .kind = OBS_ACCEPTED, .id = "ID1",
		.from = "", .rcpts = rcpts, .nrcpts = 2, .client = "127.0.0.1",
		.helo = "evil\r\nhelo", .listener = "mx", .size = 42 };
	struct seen seen = { 0 };
	struct conf *c;
	struct why why;
	char *j;

	(void)state;
	assert_non_null(mkdtemp(dir));
	c = conf_in(dir, "journal_max_size = 1M\n");
	assert_int_equal(obs_open(c, &why), 0);
	obs_add_sink(sink, &seen);
	obs_emit(&acc);
	emit_delivered("ID1", "bob@example.test");
	obs_remove_sink(sink, &seen);
	obs_close();
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.seqs[0], 1);
	assert_int_equal(seen.seqs[1], 2);
	j = slurp(dir, "journal");
	assert_non_null(j);
	assert_non_null(strstr(j, "{\"seq\":1,\"time\":\""));
	assert_non_null(strstr(j, "\"event\":\"accepted\",\"id\":\"ID1\","
	                          "\"from\":\"\",\"rcpts\":[\"bob@example.test\","
	                          "\"c\\\"d@example.test\"],"));
	assert_non_null(strstr(j, "\"helo\":\"evil\\r\\nhelo\""));
	assert_non_null(strstr(j, "\"size\":42}\n{\"seq\":2,"));
	assert_non_null(strstr(j, "\"route\":\"local\",\"relay\":\"maildir:"
	                          "mail/example.test/bob\",\"delay\":0.250,"
	                          "\"attempt\":1}\n"));
	assert_null(strstr(j, "\"stage\""));
	free(j);

	/* Reopened: seq goes on from the last line, a torn one ignored. */
	(void)snprintf(path, sizeof(path), "%s/journal", dir);
	{
		int fd = open(path, O_WRONLY | O_APPEND);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, "{\"seq\":99,\"ti", 13), 13);
		(void)close(fd);
	}
	assert_int_equal(obs_open(c, &why), 0);
	assert_int_equal(obs_last_seq(), 2);
	obs_close();
	/* Rotation: over 1M of lines, journal.1 appears, seq goes on. */
	(void)truncate(path, 0);
	assert_int_equal(obs_open(c, &why), 0);
	assert_int_equal(obs_last_seq(), 0); /* journal.1 absent too */
	{
		char to[300];
		size_t i;

		memset(to, 'x', 250);
		memcpy(to + 250, "@example.test", sizeof("@example.test"));
		for (i = 0; i < 5000; i++)
			emit_delivered("ID2", to);
	}
	obs_close();
	j = slurp(dir, "journal.1");
	assert_non_null(j);
	assert_true(strlen(j) <= 1024 * 1024);
	free(j);
	assert_int_equal(obs_open(c, &why), 0);
	assert_int_equal(obs_last_seq(), 5000);
	obs_close();
	(void)snprintf(path, sizeof(path), "%s/journal.1", dir);
	(void)unlink(path);
	/* journal.1 cannot be replaced (a directory): the journal grows
	 * past max instead, and every line is still written, once. */
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(obs_open(c, &why), 0);
	{
		char to[300];
		size_t i;

		memset(to, 'y', 250);
		memcpy(to + 250, "@example.test", sizeof("@example.test"));
		for (i = 0; i < 5000; i++)
			emit_delivered("ID3", to);
	}
	obs_close();
	j = slurp(dir, "journal");
	assert_non_null(j);
	assert_true(strlen(j) > 1024 * 1024);
	assert_non_null(strstr(j, "{\"seq\":10000,"));
	free(j);
	assert_int_equal(rmdir(path), 0);
	(void)snprintf(path, sizeof(path), "%s/journal", dir);
	(void)unlink(path);
	/* A symbolic link in its place: refused, never followed. */
	assert_int_equal(symlink("/tmp/elsewhere-obs", path), 0);
	assert_int_equal(obs_open(c, &why), -1);
	assert_non_null(strstr(why.text, "symbolic link"));
	(void)unlink(path);
	(void)rmdir(dir);
	conf_unref(c);
}

static void
test_metrics(void **state)
{
	char dir[] = "/tmp/test_obs.XXXXXX";
	struct obs_event rej = { .kind = OBS_REJECTED, .stage = "rcpt",
		.reason = OBS_R_UNKNOWN_USER };
	struct obs_event acc = { .kind = OBS_ACCEPTED, .listener = "sub" };
	struct obs_event def = { .kind = OBS_DEFERRED,
		.route = OBS_ROUTE_SMTP, .text = "connect: refused" };
	struct conf *c;
	struct why why;
	struct buf b;

	(void)state;
	assert_non_null(mkdtemp(dir));
	c = conf_in(dir, "journal = off\n");
	assert_int_equal(obs_open(c, &why), 0);
	metrics_reset();
	obs_emit(&rej);
	obs_emit(&acc);
	obs_emit(&acc);
	obs_emit(&def);
	emit_delivered("X", "y@z");
	metrics_session_start(0);
	metrics_session_start(0);
	metrics_session_end(0);
	metrics_tls_in(0);
	metrics_auth(true);
	metrics_auth(false);
	metrics_accept_latency(0.003);
	buf_init(&b, 1 << 20);
	assert_int_equal(metrics_render_prometheus(&b), 0);
	assert_non_null(strstr((char *)b.data,
	    "tern_messages_accepted_total{listener=\"sub\"} 2\n"));
	assert_non_null(strstr((char *)b.data,
	    "tern_messages_accepted_total{listener=\"mx\"} 0\n"));
	assert_non_null(strstr((char *)b.data,
	    "tern_rejections_total{reason=\"unknown_user\"} 1\n"));
	assert_non_null(strstr((char *)b.data,
	    "tern_deliveries_total{route=\"smtp\",result=\"deferred\"} 1\n"));
	assert_non_null(strstr((char *)b.data,
	    "tern_deliveries_total{route=\"local\",result=\"delivered\"} 1\n"));
	assert_non_null(strstr((char *)b.data,
	    "tern_connections_total{listener=\"mx\"} 2\n"));
	assert_non_null(
	    strstr((char *)b.data, "tern_sessions{listener=\"mx\"} 1\n"));
	assert_non_null(strstr((char *)b.data,
	    "tern_accept_latency_seconds_bucket{le=\"0.0025\"} 0\n"
	    "tern_accept_latency_seconds_bucket{le=\"0.005\"} 1\n"));
	assert_non_null(strstr((char *)b.data,
	    "tern_delivery_latency_seconds_count 1\n"));
	assert_non_null(strstr((char *)b.data,
	    "tern_auth_total{result=\"failure\"} 1\n"));
	buf_clear(&b);
	assert_int_equal(metrics_render_json(&b), 0);
	assert_non_null(strstr((char *)b.data,
	    "\"counters\":{\"accepted\":2,\"rejected\":1,\"delivered\":1,"
	    "\"deferred\":1,\"bounced\":0"));
	assert_non_null(strstr((char *)b.data,
	    "\"rejections\":[{\"cause\":\"recipient unknown\",\"count\":1}]"));
	assert_non_null(strstr((char *)b.data,
	    "\"deferrals\":[{\"cause\":\"connect: refused\",\"count\":1}]"));
	buf_reset(&b);
	obs_close();
	(void)rmdir(dir);
	conf_unref(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_escape),
		cmocka_unit_test(test_reason_of),
		cmocka_unit_test(test_journal),
		cmocka_unit_test(test_metrics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
