/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for obs/httpreq.c. The first byte holds the method
 * (bit 0: GET) and whether a token is configured (bit 1); the rest is
 * the request target, an LF, and the Authorization header's value.
 * Checks: the status is one of the five; OK means a route whose path
 * the target begins with; with a token, OK for a data route means the
 * header carried the token; without one, 401 never happens.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "obs/httpreq.h"

#define TOK "Zm9vYmFyLXRva2Vu"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	struct obs_http_req r;
	enum obs_http_route route = OBS_HTTP_ROUTE_COUNT;
	enum obs_http_status st;
	const uint8_t *lf;
	bool tok;
	size_t plen;

	if (n < 1)
		return 0;
	memset(&r, 0, sizeof(r));
	r.get_or_head = p[0] & 1;
	tok = (p[0] & 2) != 0;
	p++;
	n--;
	lf = memchr(p, '\n', n);
	r.target = (const char *)p;
	r.target_len = lf != NULL ? (size_t)(lf - p) : n;
	if (lf != NULL) {
		r.auth = (const char *)lf + 1;
		r.auth_len = n - r.target_len - 1;
	}
	st = obs_http_decide(&r, tok ? TOK : NULL, tok ? strlen(TOK) : 0,
	    &route);
	switch (st) {
	case OBS_HTTP_OK:
		if (route >= OBS_HTTP_ROUTE_COUNT || !r.get_or_head)
			abort();
		plen = strlen(obs_http_route_path(route));
		if (r.target_len < plen ||
		    memcmp(r.target, obs_http_route_path(route), plen) != 0 ||
		    (r.target_len > plen && r.target[plen] != '?'))
			abort(); /* not the route's path */
		if (tok && obs_http_route_needs_token(route) &&
		    (r.auth == NULL ||
		        memmem(r.auth, r.auth_len, TOK, strlen(TOK)) == NULL))
			abort(); /* data without the token */
		break;
	case OBS_HTTP_UNAUTHORIZED:
		if (!tok)
			abort();
		break;
	case OBS_HTTP_BAD_REQUEST:
	case OBS_HTTP_NOT_FOUND:
	case OBS_HTTP_BAD_METHOD:
		break;
	default:
		abort();
	}
	return 0;
}
