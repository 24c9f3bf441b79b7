/* SPDX-License-Identifier: ISC */
/*
 * ops/explain_text.c - the stories in plain words (explain_render_text).
 *
 * One block per story: a title line, then one line per event with its
 * UTC time of day (the date when it changes), and continuation lines
 * for what a person needs next (the next attempt, the bounce's id).
 * Every string from the journal goes through put_esc(): a terminal
 * shows what is there and acts on nothing in it.
 */
#include "ops/explain.h"
#include "ops/explain-private.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/utf8.h"

#define INDENT "                "

/*
 * A journal string for a terminal: controls and bytes that are not
 * UTF-8 as \xNN, code points that hide or reorder text as \u{NNNN},
 * and '\' doubled, so an escape in the output is always ours.
 */
static void
put_escn(FILE *f, const char *s, size_t n)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0, len;
	uint32_t cp;

	while (i < n) {
		len = utf8_decode(p + i, n - i, &cp);
		if (len == 0 || cp < 0x20 || cp == 0x7f) {
			fprintf(f, "\\x%02x", p[i]);
			i++;
		} else if (utf8_is_hidden(cp)) {
			fprintf(f, "\\u{%04" PRIX32 "}", cp);
			i += len;
		} else {
			if (cp == '\\')
				fputc('\\', f);
			fwrite(p + i, 1, len, f);
			i += len;
		}
	}
}

static void
put_esc(FILE *f, json_t *v)
{
	put_escn(f, json_string_value(v), json_string_length(v));
}

static json_t *
get(json_t *ev, const char *k)
{
	return json_object_get(ev, k);
}

static bool
has(json_t *ev, const char *k)
{
	return json_is_string(get(ev, k)) && json_string_length(get(ev, k)) > 0;
}

/* An address in angle brackets; "" is the null sender. */
static void
put_addr(FILE *f, json_t *v)
{
	fputc('<', f);
	if (json_is_string(v))
		put_esc(f, v);
	fputc('>', f);
}

/* ---- time ---- */

/* "YYYY-MM-DDTHH:MM:SS" at the start of t (the journal's form)? */
static bool
time_ok(const char *t)
{
	static const char form[] = "dddd-dd-ddTdd:dd:dd";
	size_t i;

	for (i = 0; form[i] != '\0'; i++)
		if (form[i] == 'd' ? t[i] < '0' || t[i] > '9' : t[i] != form[i])
			return false;
	return true;
}

static int
num(const char *p, size_t n)
{
	int v = 0;

	while (n-- > 0)
		v = v * 10 + (*p++ - '0');
	return v;
}

/* Unix seconds of a journal time, or -1. */
static int64_t
time_unix(const char *t)
{
	struct tm tm = { 0 };

	if (t == NULL || !time_ok(t))
		return -1;
	tm.tm_year = num(t, 4) - 1900;
	tm.tm_mon = num(t + 5, 2) - 1;
	tm.tm_mday = num(t + 8, 2);
	tm.tm_hour = num(t + 11, 2);
	tm.tm_min = num(t + 14, 2);
	tm.tm_sec = num(t + 17, 2);
	return (int64_t)timegm(&tm);
}

/* "3 s", "5 min", "2 h 05 min", "3 d 04 h". */
static void
put_span(FILE *f, int64_t s)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		fprintf(f, "%" PRId64 " s", s);
	else if (s < 3600)
		fprintf(f, "%" PRId64 " min %02" PRId64 " s", s / 60, s % 60);
	else if (s < 86400)
		fprintf(f, "%" PRId64 " h %02" PRId64 " min", s / 3600,
		    s / 60 % 60);
	else
		fprintf(f, "%" PRId64 " d %02" PRId64 " h", s / 86400,
		    s / 3600 % 24);
}

/*
 * The event's time of day, "HH:MM:SS.mmm" padded to the indent; a line
 * with the date first when it is not the date last shown (date[11]).
 */
static void
put_time(FILE *f, json_t *ev, char *date)
{
	const char *t = explain_get_str(ev, "time");
	size_t n;

	if (!time_ok(t)) { /* not ours: show it as it is */
		fputs("  ", f);
		put_esc(f, get(ev, "time"));
		fputs("  ", f);
		return;
	}
	if (strncmp(date, t, 10) != 0) {
		memcpy(date, t, 10);
		date[10] = '\0';
		fprintf(f, "  %s (UTC)\n", date);
	}
	/* Milliseconds when they are there, as digits. */
	for (n = 19;
	     n < 23 && (n == 19 ? t[n] == '.' : t[n] >= '0' && t[n] <= '9');
	     n++)
		;
	fprintf(f, "  %-14.*s", (int)(n - 11), t + 11);
}

/* ---- events ---- */

static const struct {
	const char *name, *words;
} reasons[] = {
	{ "relay", "relay access denied" },
	{ "unknown_user", "unknown user" },
	{ "sender", "sender refused" },
	{ "rate_limit", "rate limit" },
	{ "policy", "policy" },
	{ "size", "message too big" },
	{ "tls_required", "TLS required" },
	{ "auth", "authentication" },
	{ "protocol", "protocol error" },
	{ "loop", "mail loop" },
};

static void
put_reason(FILE *f, json_t *ev)
{
	const char *r = explain_get_str(ev, "reason");
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strcmp(r, reasons[i].name) == 0) {
			fprintf(f, " (%s)", reasons[i].words);
			return;
		}
}

/* The session: "from 127.0.0.1, HELO x, listener mx, TLS ..., user u". */
static void
put_session(FILE *f, json_t *ev)
{
	const char *lis = explain_get_str(ev, "listener");

	if (lis != NULL && strcmp(lis, "pickup") == 0 && !has(ev, "client")) {
		fputs("from tern sendmail (pickup)", f);
		return;
	}
	fputs("from ", f);
	if (has(ev, "client"))
		put_esc(f, get(ev, "client"));
	else
		fputs("an unknown client", f);
	if (has(ev, "helo")) {
		fputs(", HELO ", f);
		put_esc(f, get(ev, "helo"));
	}
	if (lis != NULL) {
		fputs(", listener ", f);
		put_esc(f, get(ev, "listener"));
	}
	if (has(ev, "tls")) {
		fputs(", ", f);
		put_esc(f, get(ev, "tls"));
	} else {
		fputs(", no TLS", f);
	}
	if (has(ev, "user")) {
		fputs(", AUTH user ", f);
		put_esc(f, get(ev, "user"));
	}
}

static void
put_accepted(FILE *f, json_t *ev)
{
	json_t *rcpts = get(ev, "rcpts"), *r;
	size_t i, n = json_array_size(rcpts);

	fputs("accepted ", f);
	put_session(f, ev);
	fprintf(f, "\n" INDENT "250 queued as ");
	put_esc(f, get(ev, "id"));
	fputs(": from ", f);
	put_addr(f, get(ev, "from"));
	if (json_is_integer(get(ev, "size")))
		fprintf(f, ", %" JSON_INTEGER_FORMAT " bytes",
		    json_integer_value(get(ev, "size")));
	fprintf(f, ", %zu recipient%s", n, n == 1 ? "" : "s");
	for (i = 0; i < n && i < 20; i++) {
		r = json_array_get(rcpts, i);
		fputs(i == 0 ? ": " : ", ", f);
		put_addr(f, r);
	}
	if (n > 20)
		fprintf(f, " and %zu more", n - 20);
	if (has(ev, "checks")) {
		fputs("\n" INDENT "checks: ", f);
		put_esc(f, get(ev, "checks"));
	}
}

static void
put_stage(FILE *f, const char *stage)
{
	static const char *const up[][2] = {
		{ "connect", "connect" },
		{ "helo", "HELO" },
		{ "auth", "AUTH" },
		{ "mail", "MAIL FROM" },
		{ "rcpt", "RCPT TO" },
		{ "data", "DATA" },
	};
	size_t i;

	for (i = 0; stage != NULL && i < sizeof(up) / sizeof(up[0]); i++)
		if (strcmp(stage, up[i][0]) == 0) {
			fputs(up[i][1], f);
			return;
		}
	if (stage != NULL)
		put_escn(f, stage, strlen(stage));
	else
		fputs("an unknown stage", f);
}

static void
put_rejected(FILE *f, json_t *ev)
{
	const char *stage = explain_get_str(ev, "stage");

	fputs("refused at ", f);
	put_stage(f, stage);
	if (has(ev, "to")) {
		fputc(' ', f);
		put_addr(f, get(ev, "to"));
	} else if (stage != NULL && strcmp(stage, "mail") == 0 &&
	           json_is_string(get(ev, "from"))) {
		fputc(' ', f);
		put_addr(f, get(ev, "from"));
	}
	fputs(": ", f);
	if (has(ev, "reply"))
		put_esc(f, get(ev, "reply"));
	else
		fputs("(no reply recorded)", f);
	put_reason(f, ev);
	fputs("\n" INDENT, f);
	put_session(f, ev);
	if (json_is_string(get(ev, "from")) && stage != NULL &&
	    strcmp(stage, "mail") != 0) {
		fputs(", sender ", f);
		put_addr(f, get(ev, "from"));
	}
}

/* " (attempt 2, 61.2 s after arrival)" */
static void
put_attempt(FILE *f, json_t *ev)
{
	json_t *a = get(ev, "attempt"), *d = get(ev, "delay");

	if (!json_is_integer(a) && !json_is_number(d))
		return;
	fputs(" (", f);
	if (json_is_integer(a))
		fprintf(f, "attempt %" JSON_INTEGER_FORMAT,
		    json_integer_value(a));
	if (json_is_integer(a) && json_is_number(d))
		fputs(", ", f);
	if (json_is_number(d))
		fprintf(f, "%.3f s after arrival", json_number_value(d));
	fputc(')', f);
}

/* "into Maildir mail/d/u" or "by smtp:host[ip]:port". */
static void
put_relay(FILE *f, json_t *ev, const char *into, const char *by)
{
	json_t *r = get(ev, "relay");
	const char *s = json_string_value(r);

	if (s == NULL || s[0] == '\0')
		return;
	if (strncmp(s, "maildir:", 8) == 0) {
		fprintf(f, " %s Maildir ", into);
		put_escn(f, s + 8, json_string_length(r) - 8);
		return;
	}
	fprintf(f, " %s ", by);
	put_esc(f, r);
}

/* The remote reply and our own words, each once. */
static void
put_why(FILE *f, json_t *ev)
{
	const char *reply = explain_get_str(ev, "reply");
	const char *text = explain_get_str(ev, "text");

	if (has(ev, "reply")) {
		fputs("\n" INDENT "reply: ", f);
		put_esc(f, get(ev, "reply"));
	}
	if (has(ev, "text") && (reply == NULL || strstr(text, reply) == NULL)) {
		fputs("\n" INDENT "why: ", f);
		put_esc(f, get(ev, "text"));
	}
}

static void
put_next(FILE *f, json_t *ev)
{
	json_t *v = get(ev, "next_attempt");
	int64_t next, now;
	time_t t;
	struct tm tm;
	char s[32];

	if (!json_is_integer(v))
		return;
	next = (int64_t)json_integer_value(v);
	t = (time_t)next;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(s, sizeof(s), "%Y-%m-%d %H:%M:%S", &tm) == 0)
		return;
	fprintf(f, "\n" INDENT "next attempt at %s UTC", s);
	if ((now = time_unix(explain_get_str(ev, "time"))) != -1) {
		fputs(", ", f);
		put_span(f, next - now);
		fputs(" later", f);
	}
}

static void
put_delivery(FILE *f, json_t *ev, const char *kind)
{
	put_addr(f, get(ev, "to"));
	if (strcmp(kind, "delivered") == 0) {
		fputs(": delivered", f);
		put_relay(f, ev, "into", "to");
		put_attempt(f, ev);
		if (has(ev, "reply")) {
			fputs("\n" INDENT "reply: ", f);
			put_esc(f, get(ev, "reply"));
		}
		return;
	}
	fprintf(f, ": %s", kind);
	put_relay(f, ev, "at", "by");
	put_attempt(f, ev);
	put_why(f, ev);
	if (strcmp(kind, "deferred") == 0) {
		put_next(f, ev);
		return;
	}
	if (has(ev, "dsn_id")) {
		fputs("\n" INDENT "bounce sent to the sender as ", f);
		put_esc(f, get(ev, "dsn_id"));
	} else {
		fputs("\n" INDENT "no bounce sent", f);
	}
}

static void
put_event(FILE *f, json_t *ev)
{
	const char *kind = explain_get_str(ev, "event");

	if (strcmp(kind, "accepted") == 0)
		put_accepted(f, ev);
	else if (strcmp(kind, "rejected") == 0)
		put_rejected(f, ev);
	else if (strcmp(kind, "delivered") == 0 ||
	         strcmp(kind, "deferred") == 0 || strcmp(kind, "bounced") == 0)
		put_delivery(f, ev, kind);
	else if (strcmp(kind, "held") == 0) {
		fputs("held", f);
		if (has(ev, "text")) {
			fputs(": ", f);
			put_esc(f, get(ev, "text"));
		}
	} else if (strcmp(kind, "released") == 0)
		fputs("released: delivery goes on", f);
	else if (strcmp(kind, "deleted") == 0)
		fputs("deleted from the queue by the operator (no bounce)", f);
	else
		fputs("left the queue", f);
	fputc('\n', f);
}

/* ---- stories ---- */

/* ids[i] is a bounce: some event of the story names it as dsn_id. */
static bool
is_bounce(const struct story *s, const char *id)
{
	json_t *ev;
	size_t i;
	const char *dsn;

	json_array_foreach(s->events, i, ev)
	{
		dsn = explain_get_str(ev, "dsn_id");
		if (dsn != NULL && strcmp(dsn, id) == 0)
			return true;
	}
	return false;
}

static bool
has_event(const struct story *s, const char *id, const char *kind)
{
	json_t *ev;
	size_t i;
	const char *eid;

	json_array_foreach(s->events, i, ev)
	{
		eid = explain_get_str(ev, "id");
		if (eid != NULL && strcmp(eid, id) == 0 &&
		    strcmp(explain_get_str(ev, "event"), kind) == 0)
			return true;
	}
	return false;
}

static void
put_title(FILE *f, const struct story *s)
{
	if (s->refusal) {
		fputs("Refused (no queue id)\n", f);
		return;
	}
	fputs("Message ", f);
	put_escn(f, s->ids[0], strlen(s->ids[0]));
	if (is_bounce(s, s->ids[0]))
		fputs(" (a bounce)", f);
	fputc('\n', f);
}

/* What the journal does not say about each message of the story. */
static void
put_gaps(FILE *f, const struct story *s)
{
	size_t i;

	for (i = 0; !s->refusal && i < s->nids; i++) {
		/* A bounce is made here: it has no arrival to tell. */
		if (!has_event(s, s->ids[i], "accepted") &&
		    !is_bounce(s, s->ids[i])) {
			fputs("  (", f);
			put_escn(f, s->ids[i], strlen(s->ids[i]));
			fputs(": its arrival is no longer in the journal)\n",
			    f);
		}
		if (!has_event(s, s->ids[i], "removed") &&
		    !has_event(s, s->ids[i], "deleted")) {
			fputs("  (", f);
			put_escn(f, s->ids[i], strlen(s->ids[i]));
			fputs(": still in the queue at the journal's end)\n",
			    f);
		}
	}
	if (s->dropped > 0)
		fprintf(f,
		    "  (%zu more events not shown: over the limit of "
		    "what explain keeps)\n",
		    s->dropped);
}

static void
put_story(FILE *f, const struct story *s)
{
	char date[11] = "";
	const char *id;
	json_t *ev;
	size_t i;

	put_title(f, s);
	json_array_foreach(s->events, i, ev)
	{
		put_time(f, ev, date);
		id = explain_get_str(ev, "id");
		/* Events of the other messages of the story say whose. */
		if (!s->refusal && id != NULL && strcmp(id, s->ids[0]) != 0) {
			fputs(is_bounce(s, id) ? "[bounce " : "[message ", f);
			put_escn(f, id, strlen(id));
			fputs("] ", f);
		}
		put_event(f, ev);
	}
	put_gaps(f, s);
}

void
explain_render_text(const struct explain *ex, FILE *out)
{
	size_t i;

	for (i = 0; i < ex->nstories; i++) {
		if (i > 0)
			fputc('\n', out);
		put_story(out, &ex->stories[i]);
	}
}
