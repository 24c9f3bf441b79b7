/* SPDX-License-Identifier: ISC */
/*
 * ops/explain-private.h - what explain.c (lines, stories, JSON) and
 * explain_text.c (the stories in plain words) share.
 */
#ifndef TERN_OPS_EXPLAIN_PRIVATE_H
#define TERN_OPS_EXPLAIN_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ops/explain.h"

struct story {
	/* Queue ids told: [0] the first one met (none for a refusal). */
	char *ids[EXPLAIN_IDS_MAX];
	size_t nids;
	bool refusal;   /* a refusal with no queue id: `seq` is its key */
	uint64_t seq;   /* refusal: its event's seq */
	uint64_t touch; /* pass 1: when an event last matched */
	json_t *events; /* pass 2: in journal order */
	size_t dropped; /* pass 2: events not kept (limits) */
};

struct explain {
	char *what;
	bool address;
	size_t at; /* address: offset of '@' in what */
	size_t limit;
	int pass;
	struct story *stories;
	size_t nstories;
	uint64_t clock;
	size_t bad;
	size_t bytes;
	bool oom;
};

/* ev's string field k, or NULL (absent, or not a string). */
const char *explain_get_str(json_t *ev, const char *k);

#endif
