/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for obs/httpreq.c (routing and the bearer token of the
 * metrics listener) and obs/token.c (the token file): named table
 * cases, the token at its length limit -1, 0, +1, every file rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "obs/httpreq.h"
#include "obs/token.h"

#define TOK "s3cret-T0ken"

struct req_case {
	const char *name;
	bool get;
	const char *target;
	const char *auth; /* NULL: no header */
	const char *tok;  /* NULL: no token configured */
	enum obs_http_status want;
	enum obs_http_route route; /* when OK */
};

static const struct req_case req_cases[] = {
	/* valid */
	{ "index", true, "/", NULL, NULL, OBS_HTTP_OK, OBS_HTTP_INDEX },
	{ "js", true, "/dashboard.js", NULL, NULL, OBS_HTTP_OK, OBS_HTTP_JS },
	{ "css", true, "/dashboard.css", NULL, NULL, OBS_HTTP_OK,
	    OBS_HTTP_CSS },
	{ "metrics", true, "/metrics", NULL, NULL, OBS_HTTP_OK,
	    OBS_HTTP_METRICS },
	{ "status", true, "/api/status", NULL, NULL, OBS_HTTP_OK,
	    OBS_HTTP_STATUS },
	{ "query ignored", true, "/metrics?x=1", NULL, NULL, OBS_HTTP_OK,
	    OBS_HTTP_METRICS },
	{ "empty query", true, "/?", NULL, NULL, OBS_HTTP_OK, OBS_HTTP_INDEX },
	{ "token", true, "/metrics", "Bearer " TOK, TOK, OBS_HTTP_OK,
	    OBS_HTTP_METRICS },
	{ "token scheme case", true, "/api/status", "bEARER " TOK, TOK,
	    OBS_HTTP_OK, OBS_HTTP_STATUS },
	{ "token spaces", true, "/metrics", "Bearer \t " TOK "  ", TOK,
	    OBS_HTTP_OK, OBS_HTTP_METRICS },
	{ "page without token", true, "/", NULL, TOK, OBS_HTTP_OK,
	    OBS_HTTP_INDEX },
	{ "js without token", true, "/dashboard.js", NULL, TOK, OBS_HTTP_OK,
	    OBS_HTTP_JS },
	{ "header ignored without token", true, "/metrics", "Bearer x", NULL,
	    OBS_HTTP_OK, OBS_HTTP_METRICS },
	/* invalid */
	{ "unknown", true, "/nope", NULL, NULL, OBS_HTTP_NOT_FOUND, 0 },
	{ "prefix", true, "/metric", NULL, NULL, OBS_HTTP_NOT_FOUND, 0 },
	{ "longer", true, "/metricsx", NULL, NULL, OBS_HTTP_NOT_FOUND, 0 },
	{ "trailing slash", true, "/metrics/", NULL, NULL,
	    OBS_HTTP_NOT_FOUND, 0 },
	{ "encoded", true, "/%6detrics", NULL, NULL, OBS_HTTP_NOT_FOUND, 0 },
	{ "dotdot", true, "/../metrics", NULL, NULL, OBS_HTTP_NOT_FOUND, 0 },
	{ "index.html", true, "/index.html", NULL, NULL, OBS_HTTP_NOT_FOUND,
	    0 },
	{ "fragment", true, "/metrics#x", NULL, NULL, OBS_HTTP_NOT_FOUND, 0 },
	{ "absolute", true, "http://127.0.0.1/metrics", NULL, NULL,
	    OBS_HTTP_BAD_REQUEST, 0 },
	{ "asterisk", true, "*", NULL, NULL, OBS_HTTP_BAD_REQUEST, 0 },
	{ "empty", true, "", NULL, NULL, OBS_HTTP_BAD_REQUEST, 0 },
	{ "post", false, "/metrics", NULL, NULL, OBS_HTTP_BAD_METHOD, 0 },
	{ "post unknown", false, "/nope", NULL, NULL, OBS_HTTP_BAD_METHOD, 0 },
	{ "post page with token set", false, "/", NULL, TOK,
	    OBS_HTTP_BAD_METHOD, 0 },
	{ "no token", true, "/metrics", NULL, TOK, OBS_HTTP_UNAUTHORIZED, 0 },
	{ "no token status", true, "/api/status", NULL, TOK,
	    OBS_HTTP_UNAUTHORIZED, 0 },
	{ "no token unknown path", true, "/nope", NULL, TOK,
	    OBS_HTTP_UNAUTHORIZED, 0 },
	{ "no token post", false, "/metrics", NULL, TOK,
	    OBS_HTTP_UNAUTHORIZED, 0 },
	{ "no token absolute", true, "http://x/metrics", NULL, TOK,
	    OBS_HTTP_UNAUTHORIZED, 0 },
	{ "wrong token", true, "/metrics", "Bearer s3cret-T0keN", TOK,
	    OBS_HTTP_UNAUTHORIZED, 0 },
	{ "token prefix", true, "/metrics", "Bearer s3cret-T0ke", TOK,
	    OBS_HTTP_UNAUTHORIZED, 0 },
	{ "token longer", true, "/metrics", "Bearer " TOK "x", TOK,
	    OBS_HTTP_UNAUTHORIZED, 0 },
	{ "token two words", true, "/metrics", "Bearer " TOK " x", TOK,
	    OBS_HTTP_UNAUTHORIZED, 0 },
	{ "empty token", true, "/metrics", "Bearer ", TOK,
	    OBS_HTTP_UNAUTHORIZED, 0 },
	{ "scheme only", true, "/metrics", "Bearer", TOK,
	    OBS_HTTP_UNAUTHORIZED, 0 },
	{ "no space", true, "/metrics", "Bearer" TOK, TOK,
	    OBS_HTTP_UNAUTHORIZED, 0 },
	{ "basic", true, "/metrics", "Basic " TOK, TOK,
	    OBS_HTTP_UNAUTHORIZED, 0 },
	{ "bare token", true, "/metrics", TOK, TOK, OBS_HTTP_UNAUTHORIZED, 0 },
	{ "empty header", true, "/metrics", "", TOK, OBS_HTTP_UNAUTHORIZED,
	    0 },
	{ "query token", true, "/metrics?token=" TOK, NULL, TOK,
	    OBS_HTTP_UNAUTHORIZED, 0 },
};

static enum obs_http_status
decide(bool get, const char *target, size_t tlen, const char *auth,
    size_t alen, const char *tok, enum obs_http_route *route)
{
	struct obs_http_req r = { get, target, tlen, auth, alen };

	return obs_http_decide(&r, tok, tok != NULL ? strlen(tok) : 0, route);
}

static void
test_decide(void **state)
{
	enum obs_http_route route;
	enum obs_http_status st;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++) {
		const struct req_case *c = &req_cases[i];

		route = OBS_HTTP_ROUTE_COUNT;
		st = decide(c->get, c->target, strlen(c->target), c->auth,
		    c->auth != NULL ? strlen(c->auth) : 0, c->tok, &route);
		if (st != c->want)
			fail_msg("%s: status %d, want %d", c->name, (int)st,
			    (int)c->want);
		if (st == OBS_HTTP_OK && route != c->route)
			fail_msg("%s: route %d, want %d", c->name, (int)route,
			    (int)c->route);
	}
}

/* A NUL inside the target or the header is data, never an end. */
static void
test_embedded_nul(void **state)
{
	static const char target[] = "/metrics\0x";
	static const char auth[] = "Bearer " TOK "\0";
	enum obs_http_route route;

	(void)state;
	assert_int_equal(decide(true, target, sizeof(target) - 1, NULL, 0,
	                     NULL, &route),
	    OBS_HTTP_NOT_FOUND);
	assert_int_equal(decide(true, "/metrics", 8, auth, sizeof(auth) - 1,
	                     TOK, &route),
	    OBS_HTTP_UNAUTHORIZED);
	assert_int_equal(decide(true, "/metrics", 8, auth, sizeof(auth) - 2,
	                     TOK, &route),
	    OBS_HTTP_OK);
}

/* Every proper prefix of a good header is refused. */
static void
test_auth_prefixes(void **state)
{
	static const char auth[] = "Bearer " TOK;
	enum obs_http_route route;
	size_t cut;

	(void)state;
	for (cut = 0; cut < sizeof(auth) - 1; cut++)
		if (decide(true, "/metrics", 8, auth, cut, TOK, &route) !=
		    OBS_HTTP_UNAUTHORIZED)
			fail_msg("prefix %zu accepted", cut);
}

static void
test_routes(void **state)
{
	unsigned r;

	(void)state;
	for (r = 0; r < OBS_HTTP_ROUTE_COUNT; r++) {
		enum obs_http_route got = OBS_HTTP_ROUTE_COUNT;
		const char *p = obs_http_route_path((enum obs_http_route)r);

		assert_int_equal(decide(true, p, strlen(p), NULL, 0, NULL,
		                     &got),
		    OBS_HTTP_OK);
		assert_int_equal(got, r);
	}
	assert_true(obs_http_route_needs_token(OBS_HTTP_METRICS));
	assert_true(obs_http_route_needs_token(OBS_HTTP_STATUS));
	assert_false(obs_http_route_needs_token(OBS_HTTP_INDEX));
	assert_string_equal(obs_http_route_path(OBS_HTTP_ROUTE_COUNT), "");
}

/* ---- the token file ------------------------------------------------ */

static char dir[] = "/tmp/test_httpreq.XXXXXX";

static void
write_file(const char *name, const void *p, size_t n, mode_t mode)
{
	char path[256];
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	(void)unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static int
read_token(const char *name, char *out, size_t *len)
{
	char path[256];
	struct why why;
	int r;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	memset(&why, 0, sizeof(why));
	r = obs_token_read("http_token_file", path, out, OBS_TOKEN_BUF, len,
	    &why);
	if (r == -1)
		assert_non_null(strstr(why.text, "http_token_file"));
	return r;
}

struct file_case {
	const char *name;
	const char *content; /* NULL: a token of `len` 'a's */
	size_t len;
	mode_t mode;
	const char *want; /* NULL: refused; else the token read */
};

static void
test_token_file(void **state)
{
	static const struct file_case cases[] = {
		{ "plain", "abc", 3, 0600, "abc" },
		{ "lf", "abc\n", 4, 0600, "abc" },
		{ "owner only read", "abc\n", 4, 0400, "abc" },
		{ "max-1", NULL, OBS_TOKEN_MAX - 1, 0600, "" },
		{ "max", NULL, OBS_TOKEN_MAX, 0600, "" },
		{ "max lf", NULL, OBS_TOKEN_MAX, 0600, "" },
		/* refused */
		{ "max+1", NULL, OBS_TOKEN_MAX + 1, 0600, NULL },
		{ "max+2", NULL, OBS_TOKEN_MAX + 2, 0600, NULL },
		{ "empty", "", 0, 0600, NULL },
		{ "lf only", "\n", 1, 0600, NULL },
		{ "two lf", "abc\n\n", 5, 0600, NULL },
		{ "crlf", "abc\r\n", 5, 0600, NULL },
		{ "space", "ab c", 4, 0600, NULL },
		{ "two lines", "abc\ndef\n", 8, 0600, NULL },
		{ "nul", "ab\0c", 4, 0600, NULL },
		{ "high bit", "ab\xc3\xa9", 4, 0600, NULL },
		{ "group read", "abc", 3, 0640, NULL },
		{ "other read", "abc", 3, 0604, NULL },
		{ "group write", "abc", 3, 0620, NULL },
	};
	char big[OBS_TOKEN_MAX + 3], out[OBS_TOKEN_BUF];
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct file_case *c = &cases[i];
		const char *content = c->content;
		size_t n = c->len;

		if (content == NULL) {
			memset(big, 'a', sizeof(big));
			if (strcmp(c->name, "max lf") == 0)
				big[n++] = '\n';
			content = big;
		}
		write_file("tok", content, n, c->mode);
		len = 0;
		if (c->want == NULL) {
			if (read_token("tok", out, &len) != -1)
				fail_msg("%s: accepted", c->name);
			continue;
		}
		if (read_token("tok", out, &len) != 0)
			fail_msg("%s: refused", c->name);
		if (c->content == NULL) {
			assert_int_equal(len, c->len);
			assert_int_equal(strspn(out, "a"), c->len);
		} else
			assert_string_equal(out, c->want);
		assert_int_equal(strlen(out), len);
	}
}

static void
test_token_not_regular(void **state)
{
	char path[256], link[256], out[OBS_TOKEN_BUF];
	size_t len;

	(void)state;
	write_file("target", "abc", 3, 0600);
	(void)snprintf(path, sizeof(path), "%s/target", dir);
	(void)snprintf(link, sizeof(link), "%s/link", dir);
	(void)unlink(link);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(read_token("target", out, &len), 0);
	assert_int_equal(read_token("link", out, &len), -1);
	assert_int_equal(read_token("missing", out, &len), -1);
	assert_int_equal(read_token(".", out, &len), -1); /* a directory */
	assert_false(obs_token_valid("", 0));
	assert_true(obs_token_valid("!~", 2));
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	static const char *const names[] = { "tok", "target", "link" };
	char path[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		(void)unlink(path);
	}
	return rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_auth_prefixes),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_token_file),
		cmocka_unit_test(test_token_not_regular),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
