/* SPDX-License-Identifier: ISC */
/*
 * capture/api.h - the HTTP side of `tern capture` (issue 22): the JSON
 * API of docs/capture.md and the page (src/capture/page/, compiled in).
 *
 * evhttp on the capture's event base. Routing and query strings are
 * capture/query.h's. Every request is bounded like obs/http.c's:
 * CAP_HTTP_HEADERS_MAX header bytes, CAP_HTTP_BODY_MAX body bytes,
 * CAP_HTTP_TIMEOUT seconds without progress, CAP_HTTP_CONN_MAX
 * connections at once (more wait in the kernel's backlog); at most
 * CAP_WAITERS_MAX /api/wait requests are held at once (more get 503), so
 * waits alone never take every connection.
 * A held /api/wait is answered from cap_api_stored() the moment a
 * matching message is stored, or 408 at its timeout.
 * Every value from a message goes out through util/json.h (JSON) or as
 * the body of a non-HTML type; the HTML part is sent with a CSP that
 * forbids scripts and remote loads (and `sandbox`).
 * Trust: anyone who can reach the port (loopback unless --allow-remote).
 */
#ifndef TERN_CAPTURE_API_H
#define TERN_CAPTURE_API_H

#include "util/why.h"

struct cap_ctx;
struct cap_api;

#define CAP_HTTP_TIMEOUT 30       /* seconds without progress */
#define CAP_HTTP_HEADERS_MAX 8192 /* request line and header bytes */
#define CAP_HTTP_BODY_MAX 4096    /* request body bytes (PUT faults) */
#define CAP_HTTP_CONN_MAX 512     /* connections at once */
#define CAP_WAITERS_MAX 256       /* /api/wait held at once */
#define CAP_JSON_MAX (64u << 20)  /* bytes of one JSON answer */

/* Serve on the bound socket fd (ours from now on). NULL with why. */
struct cap_api *cap_api_new(struct cap_ctx *, int fd, struct why *);
/* Answer the held waits now (503 "shutting down"), before a stop. */
void cap_api_release(struct cap_api *);
/* Answer any held waits left, close everything. NULL is fine. */
void cap_api_free(struct cap_api *);

#endif
