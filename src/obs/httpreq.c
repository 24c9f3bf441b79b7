/* SPDX-License-Identifier: ISC */
/*
 * obs/httpreq.c - routing and authorizing one HTTP request (httpreq.h).
 */
#include "obs/httpreq.h"

#include <string.h>

static const char *const route_paths[OBS_HTTP_ROUTE_COUNT] = {
	[OBS_HTTP_INDEX] = "/",
	[OBS_HTTP_JS] = "/dashboard.js",
	[OBS_HTTP_CSS] = "/dashboard.css",
	[OBS_HTTP_METRICS] = "/metrics",
	[OBS_HTTP_STATUS] = "/api/status",
};

const char *
obs_http_route_path(enum obs_http_route r)
{
	return (unsigned)r < OBS_HTTP_ROUTE_COUNT ? route_paths[r] : "";
}

bool
obs_http_route_needs_token(enum obs_http_route r)
{
	return r == OBS_HTTP_METRICS || r == OBS_HTTP_STATUS;
}

static bool
ascii_ieq(const char *p, const char *word, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = p[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != word[i])
			return false;
	}
	return true;
}

/*
 * The time taken depends on tok_len only, never on where the bytes
 * differ or on the other length (a length mismatch still fails).
 */
static bool
same_token(const char *got, size_t got_len, const char *tok, size_t tok_len)
{
	unsigned char diff = got_len != tok_len;
	size_t i;

	for (i = 0; i < tok_len; i++)
		diff |= (unsigned char)(tok[i] ^ (i < got_len ? got[i] : 0));
	return diff == 0;
}

/*
 * "Bearer TOKEN" (RFC 6750 2.1; the scheme is case-insensitive, RFC
 * 7235 2.1), spaces around the token allowed, nothing else.
 */
static bool
authorized(const char *auth, size_t n, const char *tok, size_t tok_len)
{
	static const char scheme[] = "bearer";
	const size_t slen = sizeof(scheme) - 1;
	size_t i, end;

	if (auth == NULL || n <= slen || !ascii_ieq(auth, scheme, slen) ||
	    (auth[slen] != ' ' && auth[slen] != '\t'))
		return false;
	for (i = slen; i < n && (auth[i] == ' ' || auth[i] == '\t'); i++)
		;
	for (end = n;
	     end > i && (auth[end - 1] == ' ' || auth[end - 1] == '\t'); end--)
		;
	return same_token(auth + i, end - i, tok, tok_len);
}

/* The route the path of target names, or OBS_HTTP_ROUTE_COUNT. */
static enum obs_http_route
route_of(const char *target, size_t n)
{
	const char *q = memchr(target, '?', n);
	size_t plen = q != NULL ? (size_t)(q - target) : n;
	unsigned r;

	for (r = 0; r < OBS_HTTP_ROUTE_COUNT; r++)
		if (strlen(route_paths[r]) == plen &&
		    memcmp(route_paths[r], target, plen) == 0)
			return (enum obs_http_route)r;
	return OBS_HTTP_ROUTE_COUNT;
}

enum obs_http_status
obs_http_decide(const struct obs_http_req *req, const char *tok, size_t tok_len,
    enum obs_http_route *route_out)
{
	enum obs_http_route r;

	/* Origin form only (RFC 9112 3.2.1): "http://..." is for proxies. */
	if (req->target == NULL || req->target_len == 0 ||
	    req->target[0] != '/')
		return tok_len > 0 && !authorized(req->auth, req->auth_len, tok,
		                          tok_len)
		           ? OBS_HTTP_UNAUTHORIZED
		           : OBS_HTTP_BAD_REQUEST;
	r = route_of(req->target, req->target_len);
	if (tok_len > 0 &&
	    (r == OBS_HTTP_ROUTE_COUNT || obs_http_route_needs_token(r)) &&
	    !authorized(req->auth, req->auth_len, tok, tok_len))
		return OBS_HTTP_UNAUTHORIZED;
	if (!req->get_or_head)
		return OBS_HTTP_BAD_METHOD;
	if (r == OBS_HTTP_ROUTE_COUNT)
		return OBS_HTTP_NOT_FOUND;
	*route_out = r;
	return OBS_HTTP_OK;
}
