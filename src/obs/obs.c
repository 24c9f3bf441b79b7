/* SPDX-License-Identifier: ISC */
/*
 * obs/obs.c - obs_emit(): count, journal, tell the sinks (obs.h).
 *
 * One lock orders everything an event does after it is counted: its
 * seq, its journal line, its sinks. So the journal, the socket and the
 * webhook see one order. Under the lock an event is formatted and its
 * line copied (into the journal's pending buffer, into each sink):
 * microseconds, a few times per message.
 *
 * The journal is written by a thread of its own (the flusher): one
 * write(2) for all the lines pending, then a pause of JOURNAL_PAUSE_MS
 * so that under load lines gather into few writes; when idle, the first
 * line wakes it at once. (Measured: a write and a wake-up per event
 * cost several per cent of throughput; bench workload 9.)
 */
#include "obs/obs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "obs/metrics.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/json.h"
#include "util/log.h"

#define SINKS_MAX 8
#define LINE_MAX_BYTES (64 * 1024) /* a longer event is cut (rcpts) */
#define TAIL_READ (64 * 1024)      /* read back for the last seq */
#define PENDING_MAX (4 * 1024 * 1024) /* lines waiting for the flusher */
#define JOURNAL_PAUSE_MS 10

struct sink {
	obs_sink_fn *fn;
	void *arg;
};

static struct {
	pthread_mutex_t mtx;
	uint64_t seq;
	struct sink sinks[SINKS_MAX];
	size_t nsinks;
	struct buf line;
	/* The journal: lines wait in `pending` (under mtx) for the
	 * flusher, which alone touches dfd, fd, size and rotation. */
	bool journal;       /* on: there is a flusher */
	struct buf pending;
	uint64_t dropped;   /* lines lost to a full pending buffer */
	pthread_cond_t cv;  /* the flusher waits here for a line */
	bool flusher_waits; /* ... and emit signals only then */
	bool stopping;
	pthread_t flusher;
	int dfd; /* data_dir, or -1 */
	int fd;  /* the journal, or -1 */
	uint64_t size, max;
	bool write_failed;  /* logged once until a write works again */
	bool rotate_failed; /* the same for a rename */
	bool reopen_failed; /* the same for opening a new journal */
} O = { .mtx = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
	.dfd = -1, .fd = -1 };

static const char *const kind_names[OBS_KIND_COUNT] = { "accepted",
	"rejected", "delivered", "deferred", "bounced", "held", "released",
	"deleted", "removed" };
static const char *const reason_names[OBS_R_COUNT] = { "other", "relay",
	"unknown_user", "sender", "rate_limit", "policy", "size",
	"tls_required", "auth", "protocol", "loop" };
static const char *const reason_words[OBS_R_COUNT] = {
	"other refusals",
	"relaying denied (not our domain, client not allowed to relay)",
	"recipient unknown",
	"sender refused (bad address, or not the user's own)",
	"rate or connection limit reached",
	"policy (SPF, DMARC, access rules)",
	"message too big",
	"TLS required but not used",
	"authentication required or failed",
	"protocol errors (bad command order or syntax, bare LF)",
	"mail loop",
};
static const char *const route_names[OBS_ROUTE_COUNT] = { "none", "local",
	"lmtp", "smtp" };

const char *
obs_kind_name(enum obs_kind k)
{
	return (unsigned)k < OBS_KIND_COUNT ? kind_names[k] : "unknown";
}

const char *
obs_reason_name(enum obs_reason r)
{
	return (unsigned)r < OBS_R_COUNT ? reason_names[r] : "other";
}

const char *
obs_reason_words(enum obs_reason r)
{
	return (unsigned)r < OBS_R_COUNT ? reason_words[r] : reason_words[0];
}

const char *
obs_route_name(enum obs_route r)
{
	return (unsigned)r < OBS_ROUTE_COUNT ? route_names[r] : "none";
}

enum obs_route
obs_route_of(const char *relay)
{
	if (relay == NULL)
		return OBS_ROUTE_NONE;
	if (strncmp(relay, "maildir", 7) == 0)
		return OBS_ROUTE_LOCAL;
	if (strncmp(relay, "lmtp:", 5) == 0)
		return OBS_ROUTE_LMTP;
	if (strncmp(relay, "smtp:", 5) == 0)
		return OBS_ROUTE_SMTP;
	return OBS_ROUTE_NONE;
}

/* "550 5.1.1 ..." -> class 5, subject 1, detail 1; false if none. */
static bool
enhanced(const char *reply, unsigned *subj, unsigned *det)
{
	unsigned cls;
	int n = 0;

	if (reply == NULL || strlen(reply) < 4)
		return false;
	if (sscanf(reply + 4, "%1u.%3u.%3u%n", &cls, subj, det, &n) != 3 ||
	    n == 0)
		return false;
	return cls == 4 || cls == 5;
}

enum obs_reason
obs_reason_of(const char *reply, const char *stage)
{
	unsigned subj, det;

	if (!enhanced(reply, &subj, &det))
		return OBS_R_OTHER;
	stage = stage != NULL ? stage : "";
	if (subj == 1 && (det == 1 || det == 0 || det == 10))
		return strcmp(stage, "mail") == 0 ? OBS_R_SENDER
		                                   : OBS_R_UNKNOWN_USER;
	if (subj == 1 && det == 7)
		return OBS_R_SENDER;
	if (subj == 3 && det == 4)
		return OBS_R_SIZE;
	if (subj == 4 && det == 6)
		return OBS_R_LOOP;
	if (subj == 5 || (subj == 6 && det == 11))
		return OBS_R_PROTOCOL;
	if (subj == 7) {
		if (det == 11 || (det == 0 && strstr(reply, "STARTTLS")))
			return OBS_R_TLS_REQUIRED;
		if (det == 8 || det == 9 ||
		    (det == 0 && strstr(reply, "uthentication")))
			return OBS_R_AUTH;
		if (det == 1 && strcmp(stage, "rcpt") == 0 &&
		    strstr(reply, "Relay") != NULL)
			return OBS_R_RELAY;
		if (det == 1 && strcmp(stage, "mail") == 0)
			return OBS_R_SENDER;
		if (det == 0 && strstr(reply, "imit") != NULL)
			return OBS_R_RATE_LIMIT;
		return OBS_R_POLICY;
	}
	if (subj == 3 && det == 2) /* busy, or a limit of ours */
		return OBS_R_RATE_LIMIT;
	return OBS_R_OTHER;
}

/* ---- the journal -------------------------------------------------- */

/* The seq of the last complete line of the file at dfd/name, or 0. */
static uint64_t
tail_seq(int dfd, const char *name)
{
	char buf[TAIL_READ + 1], *p, *end;
	struct stat st;
	off_t off;
	ssize_t n;
	int fd;
	uint64_t seq = 0;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return 0;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		(void)close(fd);
		return 0;
	}
	off = st.st_size > TAIL_READ ? st.st_size - TAIL_READ : 0;
	n = pread(fd, buf, TAIL_READ, off);
	(void)close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* Every complete line starting {"seq":N: the last one wins. */
	for (p = buf; (p = strstr(p, "{\"seq\":")) != NULL; p++) {
		if (p != buf && p[-1] != '\n')
			continue;
		if (strchr(p, '\n') == NULL)
			break; /* torn by a crash */
		errno = 0;
		uint64_t v = strtoull(p + 7, &end, 10);
		if (errno == 0 && end != p + 7 && v > seq)
			seq = v;
	}
	return seq;
}

static int
journal_open_file(struct why *why)
{
	struct stat st;
	int fd;

	fd = openat(O.dfd, OBS_JOURNAL_NAME,
	    O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return why_set(why, WHY_TEMP, errno,
		    "journal: cannot open %s in data_dir%s", OBS_JOURNAL_NAME,
		    errno == ELOOP ? " (a symbolic link: remove it)" : "");
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		(void)close(fd);
		return why_set(why, WHY_PERM, 0,
		    "journal: data_dir/%s is not a regular file",
		    OBS_JOURNAL_NAME);
	}
	O.fd = fd;
	O.size = (uint64_t)st.st_size;
	return 0;
}

/* Open the journal when it is not (after a rotation, or a failure). */
static void
reopen(void)
{
	struct why why;

	if (O.fd != -1)
		return;
	if (journal_open_file(&why) == 0) {
		O.reopen_failed = false;
		return;
	}
	if (!O.reopen_failed)
		log_warn("event=journal_unavailable error=%s "
		         "msg=\"tried again with each batch of lines\"",
		    LOG_ESC(why.text));
	O.reopen_failed = true;
}

/*
 * journal -> journal.1, and a new journal. false when the rename fails:
 * the journal stays open and grows past max (logged once), rather than
 * being reopened whole and rotated again forever. The flusher's alone.
 */
static bool
rotate(void)
{
	if (renameat(O.dfd, OBS_JOURNAL_NAME, O.dfd, OBS_JOURNAL_OLD_NAME) ==
	    -1) {
		if (!O.rotate_failed)
			log_warn("event=journal_rotate_failed error=%s "
			         "msg=\"the journal grows past "
			         "journal_max_size until this is fixed\"",
			    LOG_ESC(strerror(errno)));
		O.rotate_failed = true;
		return false;
	}
	O.rotate_failed = false;
	(void)close(O.fd);
	O.fd = -1;
	log_info("event=journal_rotated");
	reopen();
	return true;
}

/*
 * Write p[0..n) (whole lines) to the journal, rotating first when they
 * would take it past max: the lines that still fit go to the old file.
 * The flusher's alone.
 */
static void
journal_write(const uint8_t *p, size_t n)
{
	const uint8_t *cut;
	size_t take, room;
	bool grow = false; /* the rename failed: write past max */

	reopen();
	while (n > 0 && O.fd != -1) {
		take = n;
		if (!grow && O.size + n > O.max) {
			room = O.max > O.size ? (size_t)(O.max - O.size) : 0;
			cut = room > 0 ? memrchr(p, '\n', room) : NULL;
			if (cut == NULL && O.size > 0) {
				grow = !rotate();
				continue;
			}
			if (cut == NULL) /* a line longer than max: whole */
				cut = memchr(p, '\n', n);
			take = cut != NULL ? (size_t)(cut - p) + 1 : n;
		}
		if (fsutil_write_all(O.fd, p, take) == -1) {
			if (!O.write_failed)
				log_warn("event=journal_write_failed error=%s "
				         "msg=\"tern explain misses events "
				         "until this is fixed\"",
				    LOG_ESC(strerror(errno)));
			O.write_failed = true;
			return;
		}
		O.write_failed = false;
		O.size += take;
		p += take;
		n -= take;
	}
}

static void
pause_ms(long ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = ms * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* The flusher: takes what is pending, writes it, pauses; to the end. */
static void *
flusher_main(void *arg)
{
	struct buf batch;
	uint64_t dropped;
	bool last;

	(void)arg;
	(void)pthread_setname_np(pthread_self(), "journal"); /* for perf */
	buf_init(&batch, PENDING_MAX);
	for (;;) {
		pthread_mutex_lock(&O.mtx);
		while (O.pending.len == 0 && !O.stopping) {
			O.flusher_waits = true;
			(void)pthread_cond_wait(&O.cv, &O.mtx);
			O.flusher_waits = false;
		}
		last = O.stopping;
		/* Swap: emitters fill the other buffer meanwhile. */
		struct buf t = O.pending;
		O.pending = batch;
		batch = t;
		dropped = O.dropped;
		O.dropped = 0;
		pthread_mutex_unlock(&O.mtx);
		if (dropped > 0)
			log_warn("event=journal_write_failed error=\"%llu "
			         "lines dropped: the journal is not written "
			         "fast enough\"",
			    (unsigned long long)dropped);
		journal_write(batch.data, batch.len);
		buf_clear(&batch);
		if (last)
			break;
		pause_ms(JOURNAL_PAUSE_MS);
	}
	buf_reset(&batch);
	return NULL;
}

int
obs_open(const struct conf *c, struct why *why)
{
	uint64_t a, b;

	metrics_init(c);
	if (c->obs.journal != CONF_ON)
		return 0;
	O.dfd = open(c->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (O.dfd == -1)
		return why_set(why, WHY_TEMP, errno, "journal: data_dir %s",
		    c->data_dir);
	if (journal_open_file(why) == -1) {
		(void)close(O.dfd);
		O.dfd = -1;
		return -1;
	}
	O.max = c->obs.journal_max_size;
	a = tail_seq(O.dfd, OBS_JOURNAL_NAME);
	b = tail_seq(O.dfd, OBS_JOURNAL_OLD_NAME);
	O.seq = a > b ? a : b;
	buf_init(&O.pending, PENDING_MAX);
	O.stopping = false;
	O.dropped = 0;
	if ((errno = pthread_create(&O.flusher, NULL, flusher_main, NULL)) !=
	    0) {
		(void)close(O.fd);
		(void)close(O.dfd);
		O.fd = O.dfd = -1;
		return why_set(why, WHY_TEMP, errno, "journal: start its thread");
	}
	O.journal = true;
	return 0;
}

void
obs_close(void)
{
	if (O.journal) {
		pthread_mutex_lock(&O.mtx);
		O.stopping = true;
		(void)pthread_cond_signal(&O.cv);
		pthread_mutex_unlock(&O.mtx);
		(void)pthread_join(O.flusher, NULL); /* it writes what is left */
		O.journal = false;
	}
	pthread_mutex_lock(&O.mtx);
	if (O.fd != -1)
		(void)close(O.fd);
	if (O.dfd != -1)
		(void)close(O.dfd);
	O.fd = O.dfd = -1;
	O.nsinks = 0;
	buf_reset(&O.line);
	buf_reset(&O.pending);
	pthread_mutex_unlock(&O.mtx);
}

void
obs_add_sink(obs_sink_fn *fn, void *arg)
{
	pthread_mutex_lock(&O.mtx);
	if (O.nsinks < SINKS_MAX)
		O.sinks[O.nsinks++] = (struct sink){ fn, arg };
	else
		PANIC("obs: more than %d sinks", SINKS_MAX);
	pthread_mutex_unlock(&O.mtx);
}

void
obs_remove_sink(obs_sink_fn *fn, void *arg)
{
	size_t i;

	pthread_mutex_lock(&O.mtx);
	for (i = 0; i < O.nsinks; i++)
		if (O.sinks[i].fn == fn && O.sinks[i].arg == arg) {
			memmove(&O.sinks[i], &O.sinks[i + 1],
			    (O.nsinks - i - 1) * sizeof(O.sinks[0]));
			O.nsinks--;
			break;
		}
	pthread_mutex_unlock(&O.mtx);
}

uint64_t
obs_last_seq(void)
{
	uint64_t s;

	pthread_mutex_lock(&O.mtx);
	s = O.seq;
	pthread_mutex_unlock(&O.mtx);
	return s;
}

static int
put_time(struct buf *b)
{
	struct timespec ts;
	struct tm tm;
	char t[40];

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	(void)gmtime_r(&ts.tv_sec, &tm);
	(void)strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
	return buf_printf(b, ",\"time\":\"%s.%03ldZ\"", t,
	    ts.tv_nsec / 1000000);
}

static int
put_rcpts(struct buf *b, const struct obs_event *ev)
{
	size_t i;

	if (ev->rcpts == NULL)
		return 0;
	if (buf_append_str(b, ",\"rcpts\":[") == -1)
		return -1;
	for (i = 0; i < ev->nrcpts; i++)
		if ((i > 0 && buf_append(b, ",", 1) == -1) ||
		    json_str(b, ev->rcpts[i]) == -1)
			return -1;
	return buf_append(b, "]", 1);
}

/* The event's JSON object (no LF) into b. -1: too long. */
static int
format(struct buf *b, uint64_t seq, const struct obs_event *ev)
{
	bool deliv = ev->kind == OBS_DELIVERED || ev->kind == OBS_DEFERRED ||
	             ev->kind == OBS_BOUNCED;

	if (buf_printf(b, "{\"seq\":%" PRIu64, seq) == -1 || put_time(b) == -1 ||
	    json_kv_str(b, "event", obs_kind_name(ev->kind)) == -1 ||
	    json_kv_str(b, "id", ev->id) == -1 ||
	    json_kv_str(b, "from", ev->from) == -1 ||
	    put_rcpts(b, ev) == -1 || json_kv_str(b, "to", ev->to) == -1 ||
	    json_kv_str(b, "client", ev->client) == -1 ||
	    json_kv_str(b, "helo", ev->helo) == -1 ||
	    json_kv_str(b, "listener", ev->listener) == -1 ||
	    json_kv_str(b, "user", ev->user) == -1 ||
	    json_kv_str(b, "tls", ev->tls) == -1 ||
	    json_kv_str(b, "checks", ev->checks) == -1)
		return -1;
	if (ev->kind == OBS_ACCEPTED && json_kv_u64(b, "size", ev->size) == -1)
		return -1;
	if (ev->kind == OBS_REJECTED &&
	    (json_kv_str(b, "stage", ev->stage) == -1 ||
	        json_kv_str(b, "reason", obs_reason_name(ev->reason)) == -1))
		return -1;
	if (json_kv_str(b, "reply", ev->reply) == -1)
		return -1;
	if (deliv &&
	    (json_kv_str(b, "route", obs_route_name(ev->route)) == -1 ||
	        json_kv_str(b, "relay",
	            ev->relay != NULL && ev->relay[0] != '\0' ? ev->relay
	                                                      : NULL) == -1))
		return -1;
	if (json_kv_str(b, "text", ev->text) == -1 ||
	    json_kv_str(b, "dsn_id", ev->dsn_id) == -1)
		return -1;
	if (deliv && (json_kv_double(b, "delay", ev->delay) == -1 ||
	                 json_kv_u64(b, "attempt", ev->attempt) == -1))
		return -1;
	if (ev->kind == OBS_DEFERRED && ev->next_attempt > 0 &&
	    json_kv_i64(b, "next_attempt", ev->next_attempt) == -1)
		return -1;
	return buf_append(b, "}", 1);
}

/* O.line and its LF for the flusher, whole or not at all. Under mtx. */
static void
journal_queue(void)
{
	size_t before = O.pending.len;

	if (buf_append(&O.pending, O.line.data, O.line.len) == -1 ||
	    buf_append(&O.pending, "\n", 1) == -1) {
		O.pending.len = before; /* never half a line */
		if (O.pending.data != NULL)
			O.pending.data[before] = '\0';
		O.dropped++;
		return;
	}
	if (O.flusher_waits)
		(void)pthread_cond_signal(&O.cv);
}

void
obs_emit(const struct obs_event *ev)
{
	size_t i;

	metrics_on_event(ev);
	pthread_mutex_lock(&O.mtx);
	if (!O.journal && O.nsinks == 0) {
		pthread_mutex_unlock(&O.mtx);
		return;
	}
	O.seq++;
	if (O.line.max == 0)
		buf_init(&O.line, LINE_MAX_BYTES);
	buf_clear(&O.line);
	if (format(&O.line, O.seq, ev) == -1) {
		/* Too long (a huge recipient list): say what it was. */
		buf_clear(&O.line);
		struct obs_event cut = { .kind = ev->kind, .id = ev->id,
			.text = "event too long for the journal" };
		if (format(&O.line, O.seq, &cut) == -1)
			PANIC("obs: short event does not fit");
	}
	if (O.journal)
		journal_queue();
	for (i = 0; i < O.nsinks; i++)
		O.sinks[i].fn(O.sinks[i].arg, O.seq, (const char *)O.line.data,
		    O.line.len, ev);
	pthread_mutex_unlock(&O.mtx);
}
