/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for obs/httpreq.c: routing and the bearer token of the
 * metrics listener, as named table cases, every proper prefix of a
 * good Authorization header, NUL bytes inside.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "obs/httpreq.h"

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
	{ "trailing slash", true, "/metrics/", NULL, NULL, OBS_HTTP_NOT_FOUND,
	    0 },
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
	{ "no token post", false, "/metrics", NULL, TOK, OBS_HTTP_UNAUTHORIZED,
	    0 },
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
	{ "scheme only", true, "/metrics", "Bearer", TOK, OBS_HTTP_UNAUTHORIZED,
	    0 },
	{ "no space", true, "/metrics", "Bearer" TOK, TOK,
	    OBS_HTTP_UNAUTHORIZED, 0 },
	{ "basic", true, "/metrics", "Basic " TOK, TOK, OBS_HTTP_UNAUTHORIZED,
	    0 },
	{ "bare token", true, "/metrics", TOK, TOK, OBS_HTTP_UNAUTHORIZED, 0 },
	{ "empty header", true, "/metrics", "", TOK, OBS_HTTP_UNAUTHORIZED, 0 },
	{ "query token", true, "/metrics?token=" TOK, NULL, TOK,
	    OBS_HTTP_UNAUTHORIZED, 0 },
};

static enum obs_http_status
decide(bool get, const char *target, size_t tlen, const char *auth, size_t alen,
    const char *tok, enum obs_http_route *route)
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
	assert_int_equal(decide(true, target, sizeof(target) - 1, NULL, 0, NULL,
	                     &route),
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_auth_prefixes),
		cmocka_unit_test(test_routes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
