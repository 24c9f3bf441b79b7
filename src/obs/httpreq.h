/* SPDX-License-Identifier: ISC */
/*
 * obs/httpreq.h - what the metrics and dashboard listener answers to a
 * request: its route, or the error status, decided from the method, the
 * request target and the Authorization header (issue 17).
 *
 * Pure: no sockets, no libevent, no allocation. obs/http.c feeds it what
 * evhttp parsed and sends what it says.
 * Routes match the path exactly (a query is ignored, nothing is
 * decoded: "/%6detrics" is not /metrics). With a token, every route
 * but the dashboard's three static files needs `Authorization: Bearer
 * TOKEN` (the files are the same for everyone and hold no data; the
 * page's script carries the token to the data, docs/observability.md).
 * Order: a missing or wrong token is 401 before anything else is
 * told (even whether a path exists), then 405 for a method other than
 * GET and HEAD, then 404.
 * Trust: target and auth are the peer's bytes, any length, any value.
 */
#ifndef TERN_OBS_HTTPREQ_H
#define TERN_OBS_HTTPREQ_H

#include <stdbool.h>
#include <stddef.h>

enum obs_http_route {
	OBS_HTTP_INDEX = 0, /* GET /: the dashboard's page */
	OBS_HTTP_JS,        /* /dashboard.js */
	OBS_HTTP_CSS,       /* /dashboard.css */
	OBS_HTTP_METRICS,   /* /metrics: Prometheus */
	OBS_HTTP_STATUS,    /* /api/status: the dashboard's JSON */
	OBS_HTTP_ROUTE_COUNT,
};

enum obs_http_status {
	OBS_HTTP_OK = 200,
	OBS_HTTP_BAD_REQUEST = 400,  /* the target is not an origin path */
	OBS_HTTP_UNAUTHORIZED = 401, /* token missing or wrong */
	OBS_HTTP_NOT_FOUND = 404,
	OBS_HTTP_BAD_METHOD = 405,
};

struct obs_http_req {
	bool get_or_head;   /* the method is GET or HEAD */
	const char *target; /* the request target as sent: "/metrics?x" */
	size_t target_len;
	const char *auth; /* the Authorization header's value, or NULL */
	size_t auth_len;
};

/*
 * Decide req against the token tok[0..tok_len) (tok_len 0: no token
 * asked). OBS_HTTP_OK with *route_out set, or the status to send. The
 * token is compared in constant time for its length.
 */
enum obs_http_status obs_http_decide(const struct obs_http_req *req,
    const char *tok, size_t tok_len, enum obs_http_route *route_out);

/* The path of a route ("/metrics"). */
const char *obs_http_route_path(enum obs_http_route);

/* Does a route need the token when one is configured? */
bool obs_http_route_needs_token(enum obs_http_route);

#endif
