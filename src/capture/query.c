/* SPDX-License-Identifier: ISC */
/* capture/query.c - routes, filters and fault bodies (query.h). */
#include "capture/query.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "util/str.h"

#define ID_DIGITS_MAX 20

/* A decimal id at p[0..n), all of it: 1 to 20 digits, fits 64 bits. */
static bool
parse_u64(const char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > ID_DIGITS_MAX)
		return false;
	for (i = 0; i < n; i++) {
		unsigned d;

		if (p[i] < '0' || p[i] > '9')
			return false;
		d = (unsigned)(p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static bool
has_prefix(const char *p, size_t n, const char *pre, size_t *rest)
{
	size_t l = strlen(pre);

	if (n < l || memcmp(p, pre, l) != 0)
		return false;
	*rest = l;
	return true;
}

static bool
is(const char *p, size_t n, const char *s)
{
	return n == strlen(s) && memcmp(p, s, n) == 0;
}

/* The page's file names: letters, digits, '.', '-', '_'; no leading dot. */
static bool
page_name_ok(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || n >= CAP_PAGE_NAME_MAX || p[0] == '.')
		return false;
	for (i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		        (p[i] >= 'A' && p[i] <= 'Z') ||
		        (p[i] >= '0' && p[i] <= '9') || p[i] == '.' ||
		        p[i] == '-' || p[i] == '_'))
			return false;
	return true;
}

/* /api/messages/ID[/raw|/html|/parts/N]: the route for GET, or NONE. */
static enum cap_route
message_route(const char *p, size_t n, struct cap_req *r)
{
	const char *slash = memchr(p, '/', n);
	size_t idlen = slash != NULL ? (size_t)(slash - p) : n, k;

	if (!parse_u64(p, idlen, &r->id))
		return CAP_R_NONE;
	if (slash == NULL)
		return CAP_R_MSG;
	p += idlen;
	n -= idlen;
	if (is(p, n, "/raw"))
		return CAP_R_RAW;
	if (is(p, n, "/html"))
		return CAP_R_HTML;
	if (has_prefix(p, n, "/parts/", &k) &&
	    parse_u64(p + k, n - k, &r->part))
		return CAP_R_PART;
	return CAP_R_NONE;
}

static enum cap_route
by_method(enum cap_method m, enum cap_route get, enum cap_route put,
    enum cap_route del)
{
	enum cap_route r = CAP_R_NONE;

	if (m == CAP_GET || m == CAP_HEAD)
		r = get;
	else if (m == CAP_PUT)
		r = put;
	else if (m == CAP_DELETE)
		r = del;
	return r != CAP_R_NONE ? r : CAP_R_BAD_METHOD;
}

void
cap_route(enum cap_method m, const char *p, size_t n, struct cap_req *r)
{
	size_t k;

	memset(r, 0, sizeof(*r));
	if (is(p, n, "/")) {
		memcpy(r->page, "index.html", sizeof("index.html"));
		r->route = by_method(m, CAP_R_PAGE, CAP_R_NONE, CAP_R_NONE);
	} else if (has_prefix(p, n, "/page/", &k)) {
		if (!page_name_ok(p + k, n - k))
			return;
		memcpy(r->page, p + k, n - k);
		r->page[n - k] = '\0';
		r->route = by_method(m, CAP_R_PAGE, CAP_R_NONE, CAP_R_NONE);
	} else if (is(p, n, "/api/messages"))
		r->route =
		    by_method(m, CAP_R_LIST, CAP_R_NONE, CAP_R_DELETE_ALL);
	else if (has_prefix(p, n, "/api/messages/", &k)) {
		enum cap_route g = message_route(p + k, n - k, r);

		if (g == CAP_R_NONE)
			return;
		r->route = by_method(m, g, CAP_R_NONE,
		    g == CAP_R_MSG ? CAP_R_DELETE_MSG : CAP_R_NONE);
	} else if (is(p, n, "/api/wait"))
		r->route = by_method(m, CAP_R_WAIT, CAP_R_NONE, CAP_R_NONE);
	else if (is(p, n, "/api/faults"))
		r->route = by_method(m, CAP_R_FAULTS_GET, CAP_R_FAULTS_PUT,
		    CAP_R_NONE);
}

/* ---- the query string ---------------------------------------------- */

/* Percent-decode p[0..n) into dst (NUL-terminated); false: bad %XX, a
 * NUL, or more than dstsz - 1 bytes. */
static bool
form_decode(const char *p, size_t n, char *dst, size_t dstsz, size_t *len)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)p[i];

		if (c == '+')
			c = ' ';
		else if (c == '%') {
			int h, l;

			if (i + 2 >= n)
				return false;
			h = ascii_hex_value(p[i + 1]);
			l = ascii_hex_value(p[i + 2]);
			if (h < 0 || l < 0)
				return false;
			c = h * 16 + l;
			i += 2;
		}
		if (c == 0 || o + 1 >= dstsz)
			return false;
		dst[o++] = (char)c;
	}
	dst[o] = '\0';
	*len = o;
	return true;
}

static bool
set_param(struct cap_filter *f, const char *name, size_t nlen, const char *v,
    size_t vlen, const char **why)
{
	char num[ID_DIGITS_MAX + 2];
	uint64_t u;
	size_t len;

	if (is(name, nlen, "to") || is(name, nlen, "subject")) {
		char *dst = name[0] == 't' ? f->to : f->subject;

		if (!form_decode(v, vlen, dst, CAP_FILTER_TEXT_MAX + 1, &len)) {
			*why = "bad to= or subject=: bad %XX, NUL or too long";
			return false;
		}
		return true;
	}
	if (!is(name, nlen, "limit") && !is(name, nlen, "since") &&
	    !is(name, nlen, "timeout"))
		return true; /* unknown: ignored */
	if (!form_decode(v, vlen, num, sizeof(num), &len) ||
	    !parse_u64(num, len, &u)) {
		*why = "limit=, since= and timeout= take a decimal number";
		return false;
	}
	if (name[0] == 's')
		f->since = u;
	else if (name[0] == 'l') {
		if (u > 1000000) {
			*why = "limit= is at most 1000000";
			return false;
		}
		f->limit = (size_t)u;
	} else {
		if (u > CAP_WAIT_MAX) {
			*why = "timeout= is at most 300 seconds";
			return false;
		}
		f->timeout = (unsigned)u;
	}
	return true;
}

bool
cap_filter_parse(const char *q, size_t n, struct cap_filter *f,
    const char **why)
{
	size_t i = 0;

	memset(f, 0, sizeof(*f));
	f->timeout = CAP_WAIT_DEFAULT;
	*why = NULL;
	while (i < n) {
		const char *amp = memchr(q + i, '&', n - i);
		size_t end = amp != NULL ? (size_t)(amp - q) : n;
		const char *eq = memchr(q + i, '=', end - i);
		size_t nlen = eq != NULL ? (size_t)(eq - (q + i)) : end - i;
		const char *v = eq != NULL ? eq + 1 : q + end;
		size_t vlen = (size_t)(q + end - v);

		if (nlen > 0 && !set_param(f, q + i, nlen, v, vlen, why))
			return false;
		i = end + 1;
	}
	return true;
}

/* ---- PUT /api/faults ----------------------------------------------- */

static bool
take_pct(json_t *v, double *out, const char *key, char *err, size_t errsz)
{
	double d;

	if (!json_is_number(v)) {
		(void)snprintf(err, errsz, "%s: a number is expected", key);
		return false;
	}
	d = json_number_value(v);
	if (!isfinite(d) || d < 0 || d > 100) {
		(void)snprintf(err, errsz, "%s: a percentage, 0 to 100", key);
		return false;
	}
	*out = d;
	return true;
}

static bool
take_key(struct cap_faults *f, const char *key, json_t *v, char *err,
    size_t errsz)
{
	const struct {
		const char *name;
		double *val;
	} pct[] = {
		{ "rcpt_tempfail", &f->rcpt_tempfail },
		{ "rcpt_permfail", &f->rcpt_permfail },
		{ "msg_tempfail", &f->msg_tempfail },
		{ "msg_permfail", &f->msg_permfail },
		{ "drop_mid_data", &f->drop_mid_data },
	};
	size_t i;

	for (i = 0; i < sizeof(pct) / sizeof(pct[0]); i++)
		if (strcmp(key, pct[i].name) == 0)
			return take_pct(v, pct[i].val, pct[i].name, err, errsz);
	if (strcmp(key, "delay_ms") == 0) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > CAP_DELAY_MAX) {
			(void)snprintf(err, errsz,
			    "delay_ms: an integer, 0 to %d", CAP_DELAY_MAX);
			return false;
		}
		f->delay_ms = (unsigned)json_integer_value(v);
		return true;
	}
	(void)snprintf(err, errsz,
	    "unknown key (known: rcpt_tempfail, "
	    "rcpt_permfail, msg_tempfail, msg_permfail, "
	    "delay_ms, drop_mid_data)");
	return false;
}

bool
cap_faults_parse(const char *body, size_t n, struct cap_faults *f, char *err,
    size_t errsz)
{
	struct cap_faults nf = *f;
	json_error_t je;
	json_t *root, *v;
	const char *key;
	bool ok = true;

	root = json_loadb(body, n, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL || !json_is_object(root)) {
		(void)snprintf(err, errsz, "the body must be a JSON object");
		json_decref(root);
		return false;
	}
	json_object_foreach(root, key, v)
	{
		if (!(ok = take_key(&nf, key, v, err, errsz)))
			break;
	}
	json_decref(root);
	if (ok)
		*f = nf;
	return ok;
}

/* ---- the Host header ----------------------------------------------- */

#define HOST_NAME_MAX_ 253 /* RFC 1035 2.3.4, without a trailing dot */

/* p[0..n) all digits, 1 to 5 of them (a port). */
static bool
is_port(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || n > 5)
		return false;
	for (i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

static bool
ends_with_ci(const char *p, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && strncasecmp(p + n - k, suffix, k) == 0;
}

/* A host name or IPv4 literal, no port: loopback only. */
static bool
name_is_local(const char *p, size_t n)
{
	char ip[16];
	struct in_addr a;

	if (n > 0 && p[n - 1] == '.') /* "localhost.": the same name */
		n--;
	if (n == 0 || n > HOST_NAME_MAX_)
		return false;
	if (n < sizeof(ip)) {
		memcpy(ip, p, n);
		ip[n] = '\0';
		if (inet_pton(AF_INET, ip, &a) == 1)
			return (ntohl(a.s_addr) >> 24) == 127;
	}
	return (n == 9 && strncasecmp(p, "localhost", 9) == 0) ||
	       (n > 10 && ends_with_ci(p, n, ".localhost"));
}

bool
cap_host_is_local(const char *h, size_t n)
{
	const char *colon, *close;

	if (h == NULL)
		return true;
	if (n > 0 && h[0] == '[') { /* "[::1]" or "[::1]:PORT" */
		close = memchr(h, ']', n);
		if (close == NULL || !is(h + 1, (size_t)(close - h - 1), "::1"))
			return false;
		n -= (size_t)(close + 1 - h);
		return n == 0 || (close[1] == ':' && is_port(close + 2, n - 1));
	}
	colon = memchr(h, ':', n);
	if (colon != NULL) {
		if (!is_port(colon + 1, n - (size_t)(colon + 1 - h)))
			return false;
		n = (size_t)(colon - h);
	}
	return name_is_local(h, n);
}

/* ---- matching ------------------------------------------------------ */

bool
cap_filter_match(const struct cap_filter *f, uint64_t id, const char *const *to,
    size_t nto, const char *subject)
{
	size_t i;

	if (id <= f->since)
		return false;
	if (f->subject[0] != '\0' && strcasestr(subject, f->subject) == NULL)
		return false;
	if (f->to[0] == '\0')
		return true;
	for (i = 0; i < nto; i++)
		if (strcasecmp(to[i], f->to) == 0)
			return true;
	return false;
}
