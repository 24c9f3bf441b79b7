/* SPDX-License-Identifier: ISC */
/*
 * capture/query.h - what a request to `tern capture`'s JSON API asks
 * (issue 22, docs/capture.md): its route from the method and path, its
 * filter from the query string, new fault settings from a PUT body.
 *
 * Routes (the path is matched exactly, no decoding; ID and N decimal,
 * 1 to 20 digits):
 *   GET /  GET /page/NAME                       the page's files
 *   GET|DELETE /api/messages                    list, delete all
 *   GET|DELETE /api/messages/ID                 one, delete one
 *   GET /api/messages/ID/raw | /html | /parts/N
 *   GET /api/wait                               held until a match
 *   GET|PUT /api/faults
 * HEAD is answered as GET. A known path with another method is 405.
 * Query string: `to`, `subject`, `limit`, `since`, `timeout`, with
 * percent-decoding and '+' for space (application/x-www-form-urlencoded);
 * unknown names are ignored; a repeated name takes its last value; a bad
 * number, a bad %XX, a value over its cap or a NUL is refused.
 * Pure: no I/O, no allocation but jansson's in cap_faults_parse().
 * Trust: every byte is the HTTP peer's.
 */
#ifndef TERN_CAPTURE_QUERY_H
#define TERN_CAPTURE_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/fault.h"

#define CAP_FILTER_TEXT_MAX 320 /* bytes of `to` or `subject`, decoded */
#define CAP_WAIT_DEFAULT 30     /* seconds */
#define CAP_WAIT_MAX 300
#define CAP_PAGE_NAME_MAX 64

enum cap_route {
	CAP_R_NONE = 0, /* 404 */
	CAP_R_PAGE,     /* / or /page/NAME: name in page */
	CAP_R_LIST,
	CAP_R_DELETE_ALL,
	CAP_R_MSG,
	CAP_R_DELETE_MSG,
	CAP_R_RAW,
	CAP_R_HTML,
	CAP_R_PART,
	CAP_R_WAIT,
	CAP_R_FAULTS_GET,
	CAP_R_FAULTS_PUT,
	CAP_R_BAD_METHOD, /* 405 */
};

enum cap_method { CAP_GET, CAP_HEAD, CAP_PUT, CAP_DELETE, CAP_OTHER };

struct cap_req {
	enum cap_route route;
	uint64_t id;                  /* CAP_R_MSG .. CAP_R_PART */
	uint64_t part;                /* CAP_R_PART */
	char page[CAP_PAGE_NAME_MAX]; /* CAP_R_PAGE: "index.html", "app.js" */
};

struct cap_filter {
	char to[CAP_FILTER_TEXT_MAX + 1];      /* "" = any */
	char subject[CAP_FILTER_TEXT_MAX + 1]; /* "" = any */
	size_t limit;                          /* 0 = no limit */
	uint64_t since;                        /* ids above this */
	unsigned timeout;                      /* /api/wait, seconds */
};

/* Route path[0..n) (no query string: the caller split it off). */
void cap_route(enum cap_method, const char *path, size_t n, struct cap_req *);

/*
 * Parse the query string q[0..n) (what follows '?', may be empty) into
 * *f, which is reset to the defaults first (timeout CAP_WAIT_DEFAULT).
 * true, or false with *why_out a short static reason.
 */
bool cap_filter_parse(const char *q, size_t n, struct cap_filter *f,
    const char **why_out);

/*
 * A PUT /api/faults body: a JSON object with any of the keys
 * rcpt_tempfail, rcpt_permfail, msg_tempfail, msg_permfail,
 * drop_mid_data (numbers 0-100) and delay_ms (an integer 0 to
 * CAP_DELAY_MAX). *f is changed only when the whole body is good; an
 * unknown key is refused. false with err (a message for the client,
 * NUL-terminated, errsz >= 1).
 */
bool cap_faults_parse(const char *body, size_t n, struct cap_faults *f,
    char *err, size_t errsz);

/*
 * Is h[0..n), a request's Host header, a name that only reaches this
 * machine: a loopback IP literal (127.0.0.0/8, [::1]), `localhost` or
 * NAME.localhost (RFC 6761 6.3), with or without a port? Any other
 * name is a web page elsewhere that an attacker pointed at 127.0.0.1
 * (DNS rebinding): in the browser it is then same-origin with the API
 * and could read the captured mail. A request without a Host (h NULL:
 * HTTP/1.0, not a browser) is fine.
 */
bool cap_host_is_local(const char *h, size_t n);

/* Does a recipient list match filter's `to` (any case, whole address)
 * and a decoded subject its `subject` (any case substring)? */
bool cap_filter_match(const struct cap_filter *, uint64_t id,
    const char *const *to, size_t nto, const char *subject);

#endif
