/* SPDX-License-Identifier: ISC */
/*
 * ops/explain.c - the journal read back as stories (ops/explain.h).
 *
 * A story is a message (or a refusal that got no queue id) and the
 * messages tied to it by a bounce. Pass 1 decides which stories to tell
 * and remembers only their queue ids; pass 2 keeps their events. Two
 * passes, because an address can first appear in the journal long after
 * the message's first events (a retry, a bounce), and keeping every
 * message's events until we know would cost the journal's size.
 */
#include "ops/explain.h"
#include "ops/explain-private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "obs/obs.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/utf8.h"

/* ---- lines ---- */


static const char *const str_fields[] = {
	"id",
	"from",
	"to",
	"client",
	"helo",
	"listener",
	"user",
	"tls",
	"checks",
	"stage",
	"reason",
	"reply",
	"route",
	"relay",
	"text",
	"dsn_id",
};

static const char *const int_fields[] = {
	"size",
	"attempt",
	"next_attempt",
};

static bool
is_kind(const char *s)
{
	size_t i;

	/* The journal's own names (obs.h), not a copy of them. */
	for (i = 0; i < OBS_KIND_COUNT; i++)
		if (strcmp(s, obs_kind_name((enum obs_kind)i)) == 0)
			return true;
	return false;
}

/* The fields tern writes have their types; others are let through. */
static bool
is_event(json_t *o)
{
	json_t *v, *e;
	size_t i;

	if (!json_is_object(o))
		return false;
	v = json_object_get(o, "seq");
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	if (!json_is_string(json_object_get(o, "time")))
		return false;
	v = json_object_get(o, "event");
	if (!json_is_string(v) || !is_kind(json_string_value(v)))
		return false;
	for (i = 0; i < sizeof(str_fields) / sizeof(str_fields[0]); i++)
		if ((v = json_object_get(o, str_fields[i])) != NULL &&
		    !json_is_string(v))
			return false;
	for (i = 0; i < sizeof(int_fields) / sizeof(int_fields[0]); i++)
		if ((v = json_object_get(o, int_fields[i])) != NULL &&
		    !json_is_integer(v))
			return false;
	if ((v = json_object_get(o, "delay")) != NULL && !json_is_number(v))
		return false;
	if ((v = json_object_get(o, "rcpts")) != NULL) {
		if (!json_is_array(v))
			return false;
		json_array_foreach(v, i,
		    e) if (!json_is_string(e)) return false;
	}
	return true;
}

static json_t *
parse_one(const char *p, size_t n)
{
	json_error_t err;
	json_t *o;

	/* NUL in a string stays refused (jansson's default): no C string
	 * of ours is cut short by what a line says. */
	o = json_loadb(p, n, JSON_REJECT_DUPLICATES, &err);
	if (o != NULL && !is_event(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

/* Where the last event begins in p[1..n), or NULL. */
static const char *
last_start(const char *p, size_t n)
{
	static const char mark[] = "{\"seq\":";
	const char *q, *last = NULL;
	size_t off = 1;

	while (off < n &&
	       (q = memmem(p + off, n - off, mark, sizeof(mark) - 1)) != NULL) {
		last = q;
		off = (size_t)(q - p) + 1;
	}
	return last;
}

json_t *
explain_parse_line(const char *p, size_t n)
{
	const char *q;
	json_t *o;

	if (n > EXPLAIN_LINE_MAX)
		return NULL;
	if ((o = parse_one(p, n)) != NULL)
		return o;
	/* A crash cut a line, and the next run appended to it. */
	if ((q = last_start(p, n)) == NULL)
		return NULL;
	return parse_one(q, n - (size_t)(q - p));
}

/* ---- reader ---- */

#define READER_CAP (2 * EXPLAIN_LINE_MAX)

struct explain_reader {
	int fd;
	bool skipping; /* inside a line too long to keep */
	bool eof;
	size_t start, end;
	char data[READER_CAP];
};

struct explain_reader *
explain_reader_new(int fd)
{
	struct explain_reader *r = malloc(sizeof(*r));

	if (r == NULL)
		return NULL;
	r->fd = fd;
	r->skipping = false;
	r->eof = false;
	r->start = r->end = 0;
	return r;
}

void
explain_reader_free(struct explain_reader *r)
{
	free(r);
}

/* Read more after what is pending. 1 read some, 0 EOF, -1 error. */
static int
fill(struct explain_reader *r)
{
	ssize_t got;

	if (r->start > 0) {
		memmove(r->data, r->data + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	do
		got = read(r->fd, r->data + r->end, READER_CAP - r->end);
	while (got == -1 && errno == EINTR);
	if (got == -1)
		return -1;
	if (got == 0)
		return 0;
	r->end += (size_t)got;
	return 1;
}

enum explain_read_status
explain_read_line(struct explain_reader *r, const char **line_out,
    size_t *len_out)
{
	char *lf;
	size_t len;
	int rc;

	for (;;) {
		len = r->end - r->start;
		lf = memchr(r->data + r->start, '\n', len);
		if (lf != NULL) {
			len = (size_t)(lf - (r->data + r->start));
			*line_out = r->data + r->start;
			*len_out = len;
			r->start += len + 1;
			if (r->skipping || len > EXPLAIN_LINE_MAX) {
				r->skipping = false;
				return EXPLAIN_READ_TOO_LONG;
			}
			return EXPLAIN_READ_LINE;
		}
		if (len > EXPLAIN_LINE_MAX) { /* drop it, remember to skip */
			r->skipping = true;
			r->start = r->end = 0;
		}
		if (r->eof)
			break;
		if ((rc = fill(r)) == -1)
			return EXPLAIN_READ_ERROR;
		if (rc == 0)
			r->eof = true;
	}
	len = r->end - r->start;
	r->start = r->end = 0;
	if (len > 0 || r->skipping) {
		r->skipping = false;
		return EXPLAIN_READ_TORN;
	}
	return EXPLAIN_READ_EOF;
}

/* ---- stories ---- */

const char *
explain_get_str(json_t *ev, const char *k)
{
	return json_string_value(json_object_get(ev, k));
}

static bool
story_has(const struct story *s, const char *id)
{
	size_t i;

	for (i = 0; id != NULL && i < s->nids; i++)
		if (strcmp(s->ids[i], id) == 0)
			return true;
	return false;
}

/* Tie `id` into s (no-op when there or full; the limit is a bound,
 * not a promise: a message that bounced 17 times shows 16 bounces). */
static void
story_tie(struct explain *ex, struct story *s, const char *id)
{
	char *copy;

	if (id == NULL || id[0] == '\0' || story_has(s, id) ||
	    s->nids == EXPLAIN_IDS_MAX)
		return;
	if ((copy = strdup(id)) == NULL) {
		ex->oom = true;
		return;
	}
	s->ids[s->nids++] = copy;
}

static void
story_reset(struct story *s)
{
	size_t i;

	for (i = 0; i < s->nids; i++)
		free(s->ids[i]);
	json_decref(s->events);
	memset(s, 0, sizeof(*s));
}

struct explain *
explain_new(const char *what, size_t limit)
{
	struct explain *ex;
	const char *at;
	size_t n = strlen(what);

	if ((ex = calloc(1, sizeof(*ex))) == NULL)
		return NULL;
	/* <addr> as a person may paste it from a log. */
	if (n >= 2 && what[0] == '<' && what[n - 1] == '>') {
		what++;
		n -= 2;
	}
	if ((ex->what = strndup(what, n)) == NULL) {
		free(ex);
		return NULL;
	}
	if ((at = strrchr(ex->what, '@')) != NULL) {
		ex->address = true;
		ex->at = (size_t)(at - ex->what);
	}
	if (limit == 0)
		limit = EXPLAIN_LIMIT_DEFAULT;
	if (limit > EXPLAIN_LIMIT_MAX)
		limit = EXPLAIN_LIMIT_MAX;
	ex->limit = ex->address ? limit : 1;
	ex->stories = calloc(ex->limit, sizeof(*ex->stories));
	if (ex->stories == NULL) {
		free(ex->what);
		free(ex);
		return NULL;
	}
	ex->pass = 1;
	if (!ex->address) {
		ex->nstories = 1;
		story_tie(ex, &ex->stories[0], ex->what);
		if (ex->oom) {
			explain_free(ex);
			return NULL;
		}
	}
	return ex;
}

void
explain_free(struct explain *ex)
{
	size_t i;

	if (ex == NULL)
		return;
	for (i = 0; i < ex->nstories; i++)
		story_reset(&ex->stories[i]);
	free(ex->stories);
	free(ex->what);
	free(ex);
}

bool
explain_is_address(const struct explain *ex)
{
	return ex->address;
}

/* a is the address asked for: local part exact, domain any case. */
static bool
addr_is(const struct explain *ex, const char *a)
{
	const char *at;

	if (a == NULL || (at = strrchr(a, '@')) == NULL ||
	    (size_t)(at - a) != ex->at)
		return false;
	return memcmp(a, ex->what, ex->at) == 0 &&
	       strcasecmp(at + 1, ex->what + ex->at + 1) == 0;
}

static bool
matches_addr(const struct explain *ex, json_t *ev)
{
	json_t *rcpts, *r;
	size_t i;

	if (addr_is(ex, explain_get_str(ev, "from")) ||
	    addr_is(ex, explain_get_str(ev, "to")))
		return true;
	rcpts = json_object_get(ev, "rcpts");
	json_array_foreach(rcpts, i,
	    r) if (addr_is(ex, json_string_value(r))) return true;
	return false;
}

static uint64_t
seq_of(json_t *ev)
{
	return (uint64_t)json_integer_value(json_object_get(ev, "seq"));
}

/* The story ev belongs to by its ids, or NULL. */
static struct story *
story_of(struct explain *ex, json_t *ev)
{
	const char *id = explain_get_str(ev, "id"),
	           *dsn = explain_get_str(ev, "dsn_id");
	struct story *s;
	size_t i;

	for (i = 0; i < ex->nstories; i++) {
		s = &ex->stories[i];
		if (s->refusal ? id == NULL && s->seq == seq_of(ev)
		               : story_has(s, id) || story_has(s, dsn))
			return s;
	}
	return NULL;
}

/* A new story for an address, in place of the one matched longest ago. */
static struct story *
story_add(struct explain *ex)
{
	struct story *s;
	size_t i, old = 0;

	if (ex->nstories < ex->limit)
		return &ex->stories[ex->nstories++];
	for (i = 1; i < ex->nstories; i++)
		if (ex->stories[i].touch < ex->stories[old].touch)
			old = i;
	s = &ex->stories[old];
	story_reset(s);
	return s;
}

/*
 * Stories that now share a queue id become one (a bounce queued before
 * the event that names it): the others' ids join story number `keep`.
 */
static void
merge(struct explain *ex, size_t keep)
{
	struct story *s, *t;
	size_t i, j;

	j = 0;
	while (j < ex->nstories) {
		s = &ex->stories[keep];
		t = &ex->stories[j];
		for (i = 0; i < t->nids && !story_has(s, t->ids[i]); i++)
			;
		if (j == keep || t->refusal || i == t->nids) {
			j++;
			continue;
		}
		for (i = 0; i < t->nids; i++)
			story_tie(ex, s, t->ids[i]);
		if (t->touch > s->touch)
			s->touch = t->touch;
		story_reset(t);
		/* The last story moves into j, which is looked at again. */
		ex->nstories--;
		*t = ex->stories[ex->nstories];
		memset(&ex->stories[ex->nstories], 0, sizeof(*t));
		if (keep == ex->nstories)
			keep = j;
	}
}

static void
pass1(struct explain *ex, json_t *ev)
{
	const char *id = explain_get_str(ev, "id");
	struct story *s = story_of(ex, ev);
	bool hit = ex->address && matches_addr(ex, ev);

	if (s == NULL && !hit)
		return;
	if (s == NULL) {
		s = story_add(ex);
		if (id == NULL) {
			s->refusal = true;
			s->seq = seq_of(ev);
		}
	}
	if (hit)
		s->touch = ++ex->clock;
	if (!s->refusal) {
		story_tie(ex, s, id);
		story_tie(ex, s, explain_get_str(ev, "dsn_id"));
		merge(ex, (size_t)(s - ex->stories));
	}
}

static void
pass2(struct explain *ex, json_t *ev, size_t len)
{
	struct story *s = story_of(ex, ev);

	if (s == NULL)
		return;
	if (s->events == NULL && (s->events = json_array()) == NULL) {
		ex->oom = true;
		return;
	}
	if (json_array_size(s->events) >= EXPLAIN_EVENTS_MAX ||
	    ex->bytes + len > EXPLAIN_BYTES_MAX ||
	    json_array_append(s->events, ev) == -1) {
		s->dropped++;
		return;
	}
	ex->bytes += len;
}

void
explain_feed(struct explain *ex, const char *line, size_t len)
{
	json_t *ev = explain_parse_line(line, len);

	if (ev == NULL) {
		if (ex->pass == 2)
			ex->bad++;
		return;
	}
	if (ex->pass == 1)
		pass1(ex, ev);
	else
		pass2(ex, ev, len);
	json_decref(ev);
}

void
explain_skipped(struct explain *ex, enum explain_read_status st)
{
	if (ex->pass == 2 &&
	    (st == EXPLAIN_READ_TOO_LONG || st == EXPLAIN_READ_TORN))
		ex->bad++;
}

/* Stories in the order of their first event. */
static int
cmp_story(const void *a, const void *b)
{
	const struct story *x = a, *y = b;
	uint64_t sx = seq_of(json_array_get(x->events, 0));
	uint64_t sy = seq_of(json_array_get(y->events, 0));

	return sx < sy ? -1 : sx > sy;
}

/* The story is told by the id of its first event: the message that
 * started it (pass 1 may have met its bounce first). */
static void
first_id_first(struct story *s)
{
	const char *id = explain_get_str(json_array_get(s->events, 0), "id");
	char *t;
	size_t i;

	for (i = 1; id != NULL && i < s->nids; i++)
		if (strcmp(s->ids[i], id) == 0) {
			t = s->ids[0];
			s->ids[0] = s->ids[i];
			s->ids[i] = t;
			return;
		}
}

bool
explain_next_pass(struct explain *ex)
{
	size_t i, kept = 0;

	if (ex->pass == 1) {
		ex->pass = 2;
		return true;
	}
	/* A story whose events went (a rotation between the passes) is
	 * not told. */
	for (i = 0; i < ex->nstories; i++) {
		if (ex->stories[i].events == NULL) {
			story_reset(&ex->stories[i]);
			continue;
		}
		first_id_first(&ex->stories[i]);
		ex->stories[kept++] = ex->stories[i];
	}
	ex->nstories = kept;
	qsort(ex->stories, ex->nstories, sizeof(*ex->stories), cmp_story);
	return false;
}

size_t
explain_count(const struct explain *ex)
{
	return ex->nstories;
}

size_t
explain_bad_lines(const struct explain *ex)
{
	return ex->bad;
}

bool
explain_oom(const struct explain *ex)
{
	return ex->oom;
}

size_t
explain_dropped(const struct explain *ex)
{
	size_t i, n = 0;

	for (i = 0; i < ex->nstories; i++)
		n += ex->stories[i].dropped;
	return n;
}

/* ---- JSON ---- */

static int put_value(struct buf *, json_t *);

/* The shortest of %.15g and %.17g that reads back the same: 0.1, not
 * 0.10000000000000001. */
static int
put_real(struct buf *b, double d)
{
	char s[64];

	(void)snprintf(s, sizeof(s), "%.15g", d);
	if (strtod(s, NULL) != d)
		(void)snprintf(s, sizeof(s), "%.17g", d);
	return buf_append_str(b, s);
}

static int
put_object(struct buf *b, json_t *o)
{
	const char *k;
	json_t *v;
	bool first = true;

	if (buf_append_str(b, "{") == -1)
		return -1;
	json_object_foreach(o, k, v)
	{
		if ((!first && buf_append_str(b, ",") == -1) ||
		    json_str(b, k) == -1 || buf_append_str(b, ":") == -1 ||
		    put_value(b, v) == -1)
			return -1;
		first = false;
	}
	return buf_append_str(b, "}");
}

static int
put_value(struct buf *b, json_t *v)
{
	json_t *e;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return put_object(b, v);
	case JSON_ARRAY:
		if (buf_append_str(b, "[") == -1)
			return -1;
		json_array_foreach(v, i,
		    e) if ((i > 0 && buf_append_str(b, ",") == -1) ||
		           put_value(b, e) == -1) return -1;
		return buf_append_str(b, "]");
	case JSON_STRING:
		return json_strn(b, json_string_value(v),
		    json_string_length(v));
	case JSON_INTEGER:
		return buf_printf(b, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
	case JSON_REAL: /* finite: jansson reads no NaN or infinity */
		return put_real(b, json_real_value(v));
	case JSON_TRUE:
		return buf_append_str(b, "true");
	case JSON_FALSE:
		return buf_append_str(b, "false");
	case JSON_NULL:
	default:
		return buf_append_str(b, "null");
	}
}

static int
put_story(struct buf *b, const struct story *s)
{
	size_t i;

	if (buf_append_str(b, "{\"id\":") == -1 ||
	    json_str(b, s->refusal ? NULL : s->ids[0]) == -1 ||
	    buf_append_str(b, ",\"ids\":[") == -1)
		return -1;
	for (i = 0; i < s->nids; i++)
		if ((i > 0 && buf_append_str(b, ",") == -1) ||
		    json_str(b, s->ids[i]) == -1)
			return -1;
	if (buf_append_str(b, "],\"events\":") == -1 ||
	    put_value(b, s->events) == -1 ||
	    buf_printf(b, ",\"dropped\":%zu}", s->dropped) == -1)
		return -1;
	return 0;
}

int
explain_render_json(const struct explain *ex, FILE *out)
{
	struct buf b;
	size_t i;
	int rc = 0;

	/* One story at a time: bounded by the stories' own limits. */
	buf_init(&b, 2 * (size_t)EXPLAIN_BYTES_MAX);
	fputc('[', out);
	for (i = 0; i < ex->nstories && rc == 0; i++) {
		buf_clear(&b);
		if ((i > 0 && buf_append_str(&b, ",") == -1) ||
		    put_story(&b, &ex->stories[i]) == -1)
			rc = -1;
		else
			fwrite(b.data, 1, b.len, out);
	}
	fputs("]\n", out);
	buf_reset(&b);
	return rc;
}
