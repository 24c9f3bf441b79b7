/* SPDX-License-Identifier: ISC */
/*
 * obs/evring.c - a bounded FIFO of event lines (see evring.h).
 */
#include "obs/evring.h"

#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

#define EVRING_GROW_MIN 64

struct entry {
	uint64_t seq;
	char *line; /* NUL-terminated copy */
	size_t len;
};

struct evring {
	struct entry *slots; /* circular: the oldest at slots[head] */
	size_t alloc;        /* slots allocated, <= cap */
	size_t head, count, cap;
	uint64_t begin; /* position of slots[head] */
};

struct evring *
evring_new(size_t cap)
{
	struct evring *r = xcalloc(1, sizeof(*r));

	r->cap = cap > 0 ? cap : 1;
	return r;
}

static struct entry *
at(const struct evring *r, size_t k)
{
	return &r->slots[(r->head + k) % r->alloc];
}

static void
drop_oldest(struct evring *r)
{
	struct entry *e = at(r, 0);

	free(e->line);
	e->line = NULL;
	r->head = (r->head + 1) % r->alloc;
	r->count--;
	r->begin++;
}

void
evring_free(struct evring *r)
{
	if (r == NULL)
		return;
	while (r->count > 0)
		drop_oldest(r);
	free(r->slots);
	free(r);
}

/* Room for one more slot, up to cap: unroll the circle into a new array. */
static void
grow(struct evring *r)
{
	struct entry *n;
	size_t want, k;

	want = r->alloc < EVRING_GROW_MIN ? EVRING_GROW_MIN : r->alloc * 2;
	if (want > r->cap)
		want = r->cap;
	n = xcalloc(want, sizeof(*n));
	for (k = 0; k < r->count; k++)
		n[k] = *at(r, k);
	free(r->slots);
	r->slots = n;
	r->alloc = want;
	r->head = 0;
}

size_t
evring_push(struct evring *r, uint64_t seq, const char *line, size_t len)
{
	struct entry *e;
	size_t dropped = 0;

	if (r->count == r->cap) {
		drop_oldest(r);
		dropped = 1;
	} else if (r->count == r->alloc)
		grow(r);
	e = at(r, r->count);
	e->seq = seq;
	e->line = xmalloc(len + 1);
	memcpy(e->line, line, len);
	e->line[len] = '\0';
	e->len = len;
	r->count++;
	return dropped;
}

uint64_t
evring_begin(const struct evring *r)
{
	return r->begin;
}

uint64_t
evring_end(const struct evring *r)
{
	return r->begin + r->count;
}

size_t
evring_count(const struct evring *r)
{
	return r->count;
}

bool
evring_get(const struct evring *r, uint64_t pos, uint64_t *seq_out,
    const char **line_out, size_t *len_out)
{
	const struct entry *e;

	if (pos < r->begin || pos >= evring_end(r))
		return false;
	e = at(r, (size_t)(pos - r->begin));
	*seq_out = e->seq;
	*line_out = e->line;
	*len_out = e->len;
	return true;
}

uint64_t
evring_after(const struct evring *r, uint64_t seq)
{
	size_t lo = 0, hi = r->count, mid;

	/* Seqs grow: the first entry above seq, by bisection. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (at(r, mid)->seq <= seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return r->begin + lo;
}

void
evring_pop(struct evring *r, uint64_t pos)
{
	while (r->count > 0 && r->begin < pos)
		drop_oldest(r);
}
