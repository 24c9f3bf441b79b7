/* SPDX-License-Identifier: ISC */
/*
 * ops/explain.h - read the journal (obs/obs.h) back and tell the story
 * of one message, or of the latest messages to or from an address: the
 * core of `tern explain` (issue 17; cli/explain_cmd.c is the glue).
 *
 * The journal is read as a stream of lines, journal.1 then journal, in
 * one or two passes:
 *   pass 1 picks the stories: for an ID, the message and the messages
 *     tied to it by a bounce (dsn_id); for an ADDRESS, the `limit`
 *     messages (and refusals) to or from it whose last matching event is
 *     the latest, plus their bounces;
 *   pass 2 keeps the events of those stories and nothing else.
 * So memory is bounded by the stories kept (each at most
 * EXPLAIN_EVENTS_MAX events and EXPLAIN_BYTES_MAX bytes of lines), not
 * by the journal's size. A line is parsed with jansson.
 * Not here: opening files (the caller hands bytes in), the configuration.
 * Trust: the journal is a file tern wrote, but its strings came from
 * peers and the file may be torn or tampered with: a line longer than
 * EXPLAIN_LINE_MAX, not JSON, or not shaped like an event is skipped and
 * counted; every string is escaped before it reaches a terminal or JSON.
 */
#ifndef TERN_OPS_EXPLAIN_H
#define TERN_OPS_EXPLAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct json_t; /* jansson's json_t */

#define EXPLAIN_LINE_MAX 65536        /* a longer journal line is skipped */
#define EXPLAIN_LIMIT_DEFAULT 5       /* stories for an address */
#define EXPLAIN_LIMIT_MAX 1000        /* --limit's ceiling */
#define EXPLAIN_EVENTS_MAX 10000      /* events kept per story */
#define EXPLAIN_BYTES_MAX (64u << 20) /* bytes of lines kept in all */
#define EXPLAIN_IDS_MAX 16            /* queue ids tied into one story */

/* ---- lines ---- */

/*
 * One journal line p[0..n) (no LF) as a JSON object with an integer
 * "seq" >= 0, a "time" string and a known "event"; the optional fields
 * of docs/observability.md, when present, have their types. A line torn
 * by a crash and continued by the next run ({"seq":1,"ti{"seq":2,...})
 * yields the last whole event in it. NULL: not an event (not JSON, over
 * EXPLAIN_LINE_MAX, wrong shape). The caller owns the result
 * (json_decref()).
 */
struct json_t *explain_parse_line(const char *p, size_t n);

/*
 * Split a file's bytes into lines without ever holding more than
 * EXPLAIN_LINE_MAX + 1 bytes of one: a longer line is skipped to its LF.
 */
struct explain_reader;

enum explain_read_status {
	EXPLAIN_READ_LINE = 0, /* *line_out, *len_out: valid until next call */
	EXPLAIN_READ_TOO_LONG, /* a line over EXPLAIN_LINE_MAX was skipped */
	EXPLAIN_READ_TORN,     /* bytes after the last LF: a torn last line */
	EXPLAIN_READ_EOF,
	EXPLAIN_READ_ERROR, /* read(2) failed: errno */
};

/* A reader of fd (not closed by it; reads from the current offset). */
struct explain_reader *explain_reader_new(int fd);
void explain_reader_free(struct explain_reader *);
enum explain_read_status explain_read_line(struct explain_reader *,
    const char **line_out, size_t *len_out);

/* ---- stories ---- */

struct explain;

/*
 * A query: `what` holding '@' is an address (its domain matched without
 * regard to case, its local part exactly), anything else a queue id.
 * limit: stories for an address, 1..EXPLAIN_LIMIT_MAX (0: the default).
 * NULL: out of memory.
 */
struct explain *explain_new(const char *what, size_t limit);
void explain_free(struct explain *);
bool explain_is_address(const struct explain *);

/*
 * Feed one line of the journal (as read, no LF) to the current pass:
 * lines go in the journal's order, journal.1 first. A line that is not
 * an event is counted (in the last pass only) and otherwise ignored.
 */
void explain_feed(struct explain *, const char *line, size_t len);
/* A line the reader skipped (too long, torn): counted in the last pass. */
void explain_skipped(struct explain *, enum explain_read_status);
/*
 * End the current pass. true: feed the journal again from its start
 * (the same files: reopen nothing, seek back); false: done, render.
 */
bool explain_next_pass(struct explain *);

/* How many stories were found (0: nothing matches). */
size_t explain_count(const struct explain *);
/* Lines skipped: not events, over EXPLAIN_LINE_MAX, a torn last line. */
size_t explain_bad_lines(const struct explain *);
/* Did memory run out (a story or an id may be missing)? */
bool explain_oom(const struct explain *);
/* Events of the stories not kept (EXPLAIN_EVENTS_MAX, _BYTES_MAX). */
size_t explain_dropped(const struct explain *);

/*
 * The stories for a person, oldest first: each event with its UTC time
 * in plain words, every string from the journal escaped (controls,
 * invalid UTF-8 and code points that hide text shown as \xNN or
 * \u{NNNN}). Each story ends with what the journal does not say (its
 * arrival rotated away, still queued, events not kept). The caller
 * tells of skipped lines (explain_bad_lines()).
 */
void explain_render_text(const struct explain *, FILE *out);

/*
 * The stories as one JSON array, oldest first, each
 *   {"id":"ID or null for a refusal without one","ids":[...],
 *    "events":[journal events as they were read, in order],
 *    "dropped":N}
 * written with util/json.h, then an LF. -1: out of memory.
 */
int explain_render_json(const struct explain *, FILE *out);

#endif
