/* SPDX-License-Identifier: ISC */
/*
 * capture/capture-private.h - what the parts of `tern capture` share:
 * one event base, one thread (a development tool: simple beats fast).
 */
#ifndef TERN_CAPTURE_PRIVATE_H
#define TERN_CAPTURE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "capture/fault.h"
#include "capture/store.h"

struct event_base;
struct cap_api;
struct cap_smtpd;
struct dns;

#define CAP_SESSIONS_MAX 128 /* SMTP connections at once */
#define CAP_SMTP_IDLE 300    /* seconds without input: close */
#define CAP_RCPTS_MAX 1000   /* recipients per message */
#define CAP_SIZE_DEFAULT (25u << 20)
/* --max-memory: message data kept in all; the oldest go beyond it. */
#define CAP_MEMORY_DEFAULT ((uint64_t)1 << 30)

struct cap_ctx {
	struct event_base *base;
	struct cap_store *store;
	struct cap_faults faults;
	struct cap_rng rng;
	SSL_CTX *ssl;
	const char *hostname;
	uint64_t max_size;
	bool allow_remote; /* --allow-remote: any Host header too */
	struct cap_api *api;
	struct cap_smtpd *smtpd;
	struct dns *dns; /* capture/dkimchk.h; NULL: no check */
};

/* A message was stored: wake the waiters that match (capture/api.c). */
void cap_api_stored(struct cap_api *, const struct cap_msg *);

#endif
