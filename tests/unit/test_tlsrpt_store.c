/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for deliver/tlsrpt_store.c: counting per policy domain and
 * day, from several threads at once; the caps; the durable file (flush,
 * reopen, the same counts; a planted file read; a broken one set aside;
 * a symbolic link never followed); snapshots and forgetting; the day
 * parser at its edges.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "deliver/tlsrpt_store.h"
#include "testutil.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static char dir[TESTUTIL_DIR_MAX];

static int
setup(void **state)
{
	(void)state;
	return testutil_mkdtemp(dir, sizeof(dir), NULL, "tlsrpt-store");
}

static int
teardown(void **state)
{
	(void)state;
	testutil_rmtree(dir);
	return 0;
}

static void
today(char *day)
{
	tlsrpt_day_of(time(NULL), day);
}

static struct tlsrpt_failure
failure(enum tlsrpt_result r, const char *mx)
{
	struct tlsrpt_failure f;

	memset(&f, 0, sizeof(f));
	f.result = r;
	(void)snprintf(f.mx_host, sizeof(f.mx_host), "%s", mx);
	(void)snprintf(f.mx_ip, sizeof(f.mx_ip), "192.0.2.1");
	f.sessions = 999; /* ignored by the note */
	return f;
}

static const struct tlsrpt_policy *
find(const struct tlsrpt_snapshot *s, const char *dom,
    enum tlsrpt_policy_type t)
{
	size_t i;

	for (i = 0; i < s->npol; i++)
		if (strcmp(s->pol[i].domain, dom) == 0 && s->pol[i].type == t)
			return &s->pol[i];
	return NULL;
}

static void
test_day_parse(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{ "2026-12-04", true },
		{ "1970-01-01", true },
		{ "2024-02-29", true },
		{ "2000-02-29", true },
		{ "9999-12-31", true },
		{ "2023-02-29", false },
		{ "1900-02-29", false },
		{ "2026-13-01", false },
		{ "2026-00-10", false },
		{ "2026-04-31", false },
		{ "2026-12-00", false },
		{ "1969-12-31", false },
		{ "2026-1-01", false },
		{ "2026-12-041", false },
		{ "2026/12/04", false },
		{ "", false },
		{ "../../etc", false },
		{ "2026-12-0a", false },
	};
	time_t t;
	char day[TLSRPT_DAY_LEN + 1];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++)
		if (tlsrpt_day_parse(cases[i].s, NULL) != cases[i].ok)
			fail_msg("%s", cases[i].s);
	assert_true(tlsrpt_day_parse("2026-12-04", &t));
	assert_int_equal(t, 1796342400);
	tlsrpt_day_of(t + 86399, day);
	assert_string_equal(day, "2026-12-04");
	tlsrpt_day_of(t + 86400, day);
	assert_string_equal(day, "2026-12-05");
}

static void
test_count_and_snapshot(void **state)
{
	const char *strs[] = { "version: STSv1", "mode: enforce",
		"mx: *.example.net" };
	const char *mx[] = { "*.example.net" };
	struct tlsrpt_failure f1 = failure(TLSRPT_CERT_EXPIRED, "mx1.x");
	struct tlsrpt_failure f2 =
	    failure(TLSRPT_STARTTLS_NOT_SUPPORTED, "mx2.x");
	struct tlsrpt_snapshot snap;
	const struct tlsrpt_policy *p;
	struct tlsrpt_store *st;
	char day[TLSRPT_DAY_LEN + 1], days[4][TLSRPT_DAY_LEN + 1];
	struct why why;

	(void)state;
	st = tlsrpt_store_open(dir, &why);
	assert_non_null(st);
	today(day);
	tlsrpt_store_note(st, "Example.NET.", TLSRPT_STS, strs, 3, mx, 1, NULL);
	tlsrpt_store_note(st, "example.net", TLSRPT_STS, NULL, 0, NULL, 0,
	    NULL);
	tlsrpt_store_note(st, "example.net", TLSRPT_STS, NULL, 0, NULL, 0, &f1);
	tlsrpt_store_note(st, "example.net", TLSRPT_STS, NULL, 0, NULL, 0, &f1);
	tlsrpt_store_note(st, "example.net", TLSRPT_STS, NULL, 0, NULL, 0, &f2);
	tlsrpt_store_note(st, "other.example", TLSRPT_NO_POLICY, NULL, 0, NULL,
	    0, NULL);
	/* Ignored: no store, no domain, an empty one, a bad type. */
	tlsrpt_store_note(NULL, "x.example", TLSRPT_STS, NULL, 0, NULL, 0,
	    NULL);
	tlsrpt_store_note(st, NULL, TLSRPT_STS, NULL, 0, NULL, 0, NULL);
	tlsrpt_store_note(st, ".", TLSRPT_STS, NULL, 0, NULL, 0, NULL);
	tlsrpt_store_note(st, "y.example", (enum tlsrpt_policy_type)7, NULL, 0,
	    NULL, 0, NULL);
	assert_int_equal(tlsrpt_store_days(st, days, 4), 1);
	assert_string_equal(days[0], day);
	assert_int_equal(tlsrpt_store_snapshot(st, day, &snap), 0);
	assert_int_equal(snap.npol, 2);
	/* Sorted by domain. */
	assert_string_equal(snap.pol[0].domain, "example.net");
	p = find(&snap, "example.net", TLSRPT_STS);
	assert_non_null(p);
	assert_int_equal(p->ok, 2);
	assert_int_equal(p->failed, 3);
	assert_int_equal(p->nstrings, 3);
	assert_string_equal(p->strings[1], "mode: enforce");
	assert_int_equal(p->nmx, 1);
	assert_int_equal(p->nfail, 2);
	assert_int_equal(p->fail[0].sessions, 2);
	assert_int_equal(p->fail[0].result, TLSRPT_CERT_EXPIRED);
	assert_string_equal(p->fail[0].mx_host, "mx1.x");
	assert_int_equal(p->fail[1].sessions, 1);
	p = find(&snap, "other.example", TLSRPT_NO_POLICY);
	assert_non_null(p);
	assert_int_equal(p->ok, 1);
	assert_int_equal(p->failed, 0);
	tlsrpt_snapshot_free(&snap);
	assert_int_equal(snap.npol, 0);
	assert_int_equal(tlsrpt_store_snapshot(st, "2001-01-01", &snap), -1);
	tlsrpt_store_forget(st, day, "EXAMPLE.net");
	assert_int_equal(tlsrpt_store_snapshot(st, day, &snap), 0);
	assert_int_equal(snap.npol, 1);
	assert_string_equal(snap.pol[0].domain, "other.example");
	tlsrpt_snapshot_free(&snap);
	tlsrpt_store_forget(st, day, "other.example");
	assert_int_equal(tlsrpt_store_days(st, days, 4), 0);
	assert_int_equal(tlsrpt_store_flush(st, &why), 0);
	tlsrpt_store_free(st);
}

/* Flushed counts come back after a restart; forgotten ones do not. */
static void
test_durable(void **state)
{
	struct tlsrpt_failure f =
	    failure(TLSRPT_VALIDATION_FAILURE, "mx\"\n\x01.evil");
	const char *tl[] = { "3 1 1 0123abcd" };
	struct tlsrpt_snapshot snap;
	const struct tlsrpt_policy *p;
	struct tlsrpt_store *st;
	char day[TLSRPT_DAY_LEN + 1], path[256];
	struct stat sb;
	struct why why;

	(void)state;
	today(day);
	st = tlsrpt_store_open(dir, &why);
	assert_non_null(st);
	tlsrpt_store_note(st, "dane.example", TLSRPT_TLSA, tl, 1, NULL, 0,
	    NULL);
	tlsrpt_store_note(st, "dane.example", TLSRPT_TLSA, NULL, 0, NULL, 0,
	    &f);
	assert_int_equal(tlsrpt_store_flush(st, &why), 0);
	(void)snprintf(path, sizeof(path), "%s/tlsrpt/%s.json", dir, day);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	tlsrpt_store_free(st);

	st = tlsrpt_store_open(dir, &why);
	assert_non_null(st);
	assert_int_equal(tlsrpt_store_snapshot(st, day, &snap), 0);
	p = find(&snap, "dane.example", TLSRPT_TLSA);
	assert_non_null(p);
	assert_int_equal(p->ok, 1);
	assert_int_equal(p->failed, 1);
	assert_int_equal(p->nfail, 1);
	assert_string_equal(p->fail[0].mx_host, "mx\"\n\x01.evil");
	assert_string_equal(p->strings[0], "3 1 1 0123abcd");
	tlsrpt_snapshot_free(&snap);
	/* More counts on top of the loaded ones. */
	tlsrpt_store_note(st, "dane.example", TLSRPT_TLSA, NULL, 0, NULL, 0,
	    NULL);
	tlsrpt_store_forget(st, day, "nobody.example");
	assert_int_equal(tlsrpt_store_snapshot(st, day, &snap), 0);
	assert_int_equal(snap.pol[0].ok, 2);
	tlsrpt_snapshot_free(&snap);
	tlsrpt_store_forget(st, day, "dane.example");
	assert_int_equal(tlsrpt_store_flush(st, &why), 0);
	/* All forgotten: the file is gone. */
	assert_int_equal(stat(path, &sb), -1);
	tlsrpt_store_free(st);
}

/* The documented test path: a file planted before the start; a broken
 * one set aside; a link never followed. */
static void
test_planted_and_broken(void **state)
{
	static const char planted[] =
	    "{\"version\":1,\"day\":\"2026-12-03\",\"policies\":["
	    "{\"domain\":\"p.example\",\"type\":\"sts\",\"strings\":[\"a\"],"
	    "\"mx\":[\"mx.p.example\"],\"ok\":7,\"failed\":2,\"failures\":["
	    "{\"result\":\"certificate-host-mismatch\",\"mx-host\":\"m\","
	    "\"sessions\":2},{\"result\":\"no-such-result\",\"sessions\":1}]},"
	    "{\"domain\":\"bad.example\",\"type\":\"nope\",\"ok\":1},"
	    "{\"domain\":\"neg.example\",\"type\":\"tlsa\",\"ok\":-1}]}";
	struct tlsrpt_snapshot snap;
	struct tlsrpt_store *st;
	char path[256], path2[256], days[8][TLSRPT_DAY_LEN + 1];
	struct stat sb;
	struct why why;
	FILE *f;

	(void)state;
	(void)snprintf(path, sizeof(path), "%s/tlsrpt", dir);
	(void)mkdir(path, 0700);
	(void)snprintf(path, sizeof(path), "%s/tlsrpt/2026-12-03.json", dir);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs(planted, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	(void)snprintf(path, sizeof(path), "%s/tlsrpt/2026-12-02.json", dir);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs("[1,2,3]", f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	(void)snprintf(path2, sizeof(path2), "%s/tlsrpt/2026-12-01.json", dir);
	assert_int_equal(symlink("/etc/passwd", path2), 0);

	st = tlsrpt_store_open(dir, &why);
	assert_non_null(st);
	assert_int_equal(tlsrpt_store_days(st, days, 8), 1);
	assert_string_equal(days[0], "2026-12-03");
	assert_int_equal(tlsrpt_store_snapshot(st, "2026-12-03", &snap), 0);
	assert_int_equal(snap.npol, 1);
	assert_string_equal(snap.pol[0].domain, "p.example");
	assert_int_equal(snap.pol[0].ok, 7);
	assert_int_equal(snap.pol[0].failed, 2);
	assert_int_equal(snap.pol[0].nfail, 1);
	assert_int_equal(snap.pol[0].fail[0].result, TLSRPT_CERT_HOST_MISMATCH);
	tlsrpt_snapshot_free(&snap);
	tlsrpt_store_free(st);
	/* The broken file and the link were set aside, not followed. */
	assert_int_equal(stat(path, &sb), -1);
	(void)snprintf(path, sizeof(path), "%s/tlsrpt/2026-12-02.json.bad",
	    dir);
	assert_int_equal(stat(path, &sb), 0);
	(void)snprintf(path, sizeof(path), "%s/tlsrpt/2026-12-01.json.bad",
	    dir);
	assert_int_equal(lstat(path, &sb), 0);
	assert_true(S_ISLNK(sb.st_mode));
}

/* Caps: strings and failure kinds per policy. */
static void
test_caps(void **state)
{
	const char *many[TLSRPT_STORE_STRINGS_MAX + 1];
	char longs[TLSRPT_STORE_STRING_MAX + 10];
	struct tlsrpt_snapshot snap;
	struct tlsrpt_failure f;
	struct tlsrpt_store *st;
	char day[TLSRPT_DAY_LEN + 1];
	struct why why;
	size_t i;

	(void)state;
	memset(longs, 'a', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	for (i = 0; i < NELEM(many); i++)
		many[i] = longs;
	st = tlsrpt_store_open(dir, &why);
	assert_non_null(st);
	today(day);
	tlsrpt_store_note(st, "cap.example", TLSRPT_STS, many, NELEM(many),
	    NULL, 0, NULL);
	for (i = 0; i < TLSRPT_STORE_FAIL_MAX + 1; i++) {
		char mxh[32];

		(void)snprintf(mxh, sizeof(mxh), "mx%zu", i);
		f = failure(TLSRPT_CERT_NOT_TRUSTED, mxh);
		tlsrpt_store_note(st, "cap.example", TLSRPT_STS, NULL, 0, NULL,
		    0, &f);
	}
	f = failure((enum tlsrpt_result)TLSRPT_RESULT_COUNT, "x");
	tlsrpt_store_note(st, "cap.example", TLSRPT_STS, NULL, 0, NULL, 0, &f);
	assert_int_equal(tlsrpt_store_snapshot(st, day, &snap), 0);
	assert_int_equal(snap.pol[0].nstrings, TLSRPT_STORE_STRINGS_MAX);
	assert_int_equal(strlen(snap.pol[0].strings[0]),
	    TLSRPT_STORE_STRING_MAX - 1);
	assert_int_equal(snap.pol[0].nfail, TLSRPT_STORE_FAIL_MAX);
	/* Every failed session counts in the total, detailed or not. */
	assert_int_equal(snap.pol[0].failed, TLSRPT_STORE_FAIL_MAX + 2);
	tlsrpt_snapshot_free(&snap);
	tlsrpt_store_forget(st, day, "cap.example");
	tlsrpt_store_free(st);
}

#define THREADS 4
#define NOTES 2000

static void *
noter(void *arg)
{
	struct tlsrpt_store *st = arg;
	struct tlsrpt_failure f = failure(TLSRPT_DANE_REQUIRED, "mx.t");
	int i;

	for (i = 0; i < NOTES; i++)
		tlsrpt_store_note(st, "threads.example", TLSRPT_TLSA, NULL, 0,
		    NULL, 0, i % 4 == 0 ? &f : NULL);
	return NULL;
}

/* Thread-safe: no note lost, with a flush going on meanwhile. */
static void
test_threads(void **state)
{
	pthread_t t[THREADS];
	struct tlsrpt_snapshot snap;
	struct tlsrpt_store *st;
	char day[TLSRPT_DAY_LEN + 1];
	struct why why;
	int i;

	(void)state;
	st = tlsrpt_store_open(dir, &why);
	assert_non_null(st);
	tlsrpt_store_set_default(st);
	assert_ptr_equal(tlsrpt_store_default(), st);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, noter, st), 0);
	for (i = 0; i < 5; i++)
		assert_int_equal(tlsrpt_store_flush(st, &why), 0);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	today(day);
	assert_int_equal(tlsrpt_store_snapshot(st, day, &snap), 0);
	assert_int_equal(snap.pol[0].ok, THREADS * NOTES * 3 / 4);
	assert_int_equal(snap.pol[0].failed, THREADS * NOTES / 4);
	assert_int_equal(snap.pol[0].fail[0].sessions, THREADS * NOTES / 4);
	tlsrpt_snapshot_free(&snap);
	tlsrpt_store_set_default(NULL);
	tlsrpt_store_forget(st, day, "threads.example");
	tlsrpt_store_free(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_day_parse),
		cmocka_unit_test_setup_teardown(test_count_and_snapshot, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_durable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_planted_and_broken, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_caps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
