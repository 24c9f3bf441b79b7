/* SPDX-License-Identifier: ISC */
/*
 * cli/queue_cmds.c - `tern queue list|show`: look at the spool;
 * `tern queue flush|retry|hold|release|delete`: act on it.
 *
 * Looking is read-only (spool_open_readonly), so it is safe next to a
 * running server; a message delivered between the scan and the load is
 * skipped. Acting is a request to the running server over its control
 * socket (cli_control()), which answers with what it did; with no server
 * running nothing is done, and the command says so (issue 15: the CLI
 * never writes the spool, so no file is ever made there as root).
 * Trust: the operator runs it, but envelope strings and headers came from
 * peers: every byte that is not printable UTF-8 is escaped before it
 * reaches the terminal (no escape sequences) or the JSON (valid UTF-8).
 * In the message's header a tab stays a tab (issue 15); the bidi controls
 * and line separators that could reorder or hide what a person reads are
 * escaped everywhere.
 */
#include "cli/cli.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "queue/spool.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/utf8.h"
#include "util/xmalloc.h"

#define HEADER_SHOW_MAX 65536 /* bytes of message header `show` prints */
#define RCPT_LIST_MAX 60      /* longer recipient lists print a count */
#define LIST_BATCH 2048       /* envelopes loaded before they are printed */
#define LIST_THREADS_MAX 8    /* loading threads of `list`, with the main */

void
cli_queue_usage(FILE *f)
{
	fputs("usage: tern queue list [--json] [--held]\n"
	      "       tern queue show ID\n"
	      "       tern queue flush\n"
	      "       tern queue retry|hold|release|delete ID\n"
	      "flush, retry, hold, release and delete ask the running server "
	      "and print\n"
	      "what it did; exit 0 done, 1 not done, 69 no server running, "
	      "77 not allowed.\n",
	    f);
}

static void
usage(void)
{
	cli_queue_usage(stderr);
}

enum out_mode {
	OUT_FIELD = 0, /* one value on one line: TAB is escaped too */
	OUT_TEXT,      /* a line of the message: TAB is a tab */
};

/*
 * Print n bytes of peer text. Field and text mode: controls (C0, DEL,
 * C1; TAB in field mode) and invalid UTF-8 as \xNN, the other code
 * points that hide or reorder text (utf8_is_hidden()) as \uNNNN, '\' as
 * "\\". (JSON: util/json.h.)
 */
static void
put_chars(FILE *f, const char *s, size_t n, enum out_mode mode)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k, len;
	uint32_t cp;

	/* One lock per value, not per byte: `list` prints 100,000 lines. */
	flockfile(f);
	while (i < n) {
		len = utf8_decode(p + i, n - i, &cp);
		if (len != 0 && cp == '\t' && mode == OUT_TEXT) {
			putc_unlocked('\t', f);
			i++;
			continue;
		}
		if (len == 0 || cp < 0x20 || cp == 0x7f ||
		    (cp >= 0x80 && cp < 0xa0)) {
			/* every byte: a C1 control is two */
			for (k = 0; k < (len ? len : 1); k++)
				fprintf(f, "\\x%02x", p[i + k]);
			i += len ? len : 1;
			continue;
		}
		if (utf8_is_hidden(cp)) {
			fprintf(f, "\\u%04x", (unsigned)cp);
			i += len;
			continue;
		}
		if (cp == '\\')
			putc_unlocked('\\', f); /* so \x.. in the output is ours */
		for (k = 0; k < len; k++)
			putc_unlocked(p[i + k], f);
		i += len;
	}
	funlockfile(f);
}

/* A value on one line. */
static void
put_text(FILE *f, const char *s, size_t n)
{
	put_chars(f, s, n, OUT_FIELD);
}

/* A value: on one line (json false), or a JSON string (util/json.h). */
static void
put_str(FILE *f, const char *s, bool json)
{
	struct buf b;

	if (s == NULL) {
		fputs(json ? "null" : "-", f);
		return;
	}
	if (!json) {
		put_text(f, s, strlen(s));
		return;
	}
	buf_init(&b, SIZE_MAX);
	if (json_str(&b, s) == -1)
		fputs("null", f); /* out of memory */
	else
		(void)fwrite(b.data, 1, b.len, f);
	buf_reset(&b);
}

static void
fmt_age(char *out, size_t sz, long long s)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		(void)snprintf(out, sz, "%llds", s);
	else if (s < 3600)
		(void)snprintf(out, sz, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		(void)snprintf(out, sz, "%lldh%02lldm", s / 3600, s / 60 % 60);
	else
		(void)snprintf(out, sz, "%lldd%02lldh", s / 86400,
		    s / 3600 % 24);
}

static const char *
rcpt_state(enum spool_rcpt_state st)
{
	switch (st) {
	case SPOOL_RCPT_PENDING:
		return "pending";
	case SPOOL_RCPT_DELIVERED:
		return "delivered";
	case SPOOL_RCPT_FAILED:
		return "failed";
	}
	return "unknown";
}

/* A message is held (by `queue hold` or a user limit), deferred or active. */
static const char *
msg_state(const struct spool_env *env, time_t now)
{
	if (env->held)
		return "held";
	return env->attempts > 0 && env->next_attempt > now ? "deferred"
	                                                    : "active";
}

static const char *
last_error(const struct spool_env *env)
{
	size_t i;

	for (i = 0; i < env->nrcpts; i++)
		if (env->rcpts[i].state == SPOOL_RCPT_PENDING &&
		    env->rcpts[i].last_error != NULL)
			return env->rcpts[i].last_error;
	return NULL;
}

/* The pending recipients, comma-separated (JSON strings with json). */
static void
put_pending(const struct spool_env *env, bool json)
{
	bool first = true;
	size_t i;

	for (i = 0; i < env->nrcpts; i++) {
		if (env->rcpts[i].state != SPOOL_RCPT_PENDING)
			continue;
		if (!first)
			fputc(',', stdout);
		first = false;
		put_str(stdout, env->rcpts[i].addr, json);
	}
}

/*
 * When a held message leaves the queue, bounced ([queue] held_action =
 * bounce), in seconds from now; -1 when it never does (keep).
 */
static long long
held_expires_in(const struct conf *conf, const struct spool_env *env,
    time_t now)
{
	if (!env->held || conf->queue.held_action == CONF_HELD_KEEP ||
	    conf->queue.lifetime == 0)
		return -1;
	return (long long)(env->arrival + (time_t)conf->queue.lifetime - now);
}

static void
list_one(const struct conf *conf, const struct spool_env *env, time_t now,
    bool json)
{
	long long expires = held_expires_in(conf, env, now);
	char age[32];
	size_t i, pending = 0, len = 0;
	bool first = true;

	for (i = 0; i < env->nrcpts; i++)
		if (env->rcpts[i].state == SPOOL_RCPT_PENDING) {
			pending++;
			len += strlen(env->rcpts[i].addr) + 1;
		}
	if (json) {
		printf("{\"id\":\"%s\",\"arrival\":%lld,\"age\":%lld,"
		       "\"size\":%lld,\"sender\":",
		    env->id, (long long)env->arrival,
		    (long long)(now - env->arrival), (long long)env->body_size);
		put_str(stdout, env->sender, true);
		fputs(",\"recipients\":[", stdout);
		put_pending(env, true);
		printf("],\"pending\":%zu,\"nrcpts\":%zu,\"attempts\":%u,"
		       "\"state\":\"%s\",\"next_attempt\":%lld,",
		    pending, env->nrcpts, env->attempts, msg_state(env, now),
		    (long long)env->next_attempt);
		if (env->held)
			printf("\"held_expires_in\":%lld,",
			    expires >= 0 ? expires : -1);
		fputs("\"last_error\":", stdout);
		put_str(stdout, last_error(env), true);
		/* Issue 4: each pending recipient's own last error. */
		fputs(",\"errors\":{", stdout);
		for (first = true, i = 0; i < env->nrcpts; i++) {
			if (env->rcpts[i].state != SPOOL_RCPT_PENDING ||
			    env->rcpts[i].last_error == NULL)
				continue;
			if (!first)
				fputc(',', stdout);
			first = false;
			put_str(stdout, env->rcpts[i].addr, true);
			fputc(':', stdout);
			put_str(stdout, env->rcpts[i].last_error, true);
		}
		fputs("}}\n", stdout);
		return;
	}
	fmt_age(age, sizeof(age), (long long)(now - env->arrival));
	printf("%s  %6s  %8lld  <", env->id, age, (long long)env->body_size);
	put_text(stdout, env->sender, strlen(env->sender));
	fputs(">  ", stdout);
	if (len > RCPT_LIST_MAX || pending == 0)
		printf("%zu/%zu pending", pending, env->nrcpts);
	else
		put_pending(env, false);
	printf("  %s  ", msg_state(env, now));
	if (env->attempts > 0 && env->next_attempt > now && !env->held)
		printf("next in %llds  ", (long long)(env->next_attempt - now));
	if (env->held && expires < 0)
		fputs("kept until released  ", stdout);
	else if (env->held) {
		fmt_age(age, sizeof(age), expires);
		printf("bounced in %s unless released  ", age);
	}
	put_str(stdout, last_error(env), false);
	fputc('\n', stdout);
}

struct ids {
	char **v;
	size_t n, cap;
};

static void
collect(void *arg, const char *id)
{
	struct ids *ids = arg;

	if (ids->n == ids->cap) {
		ids->cap = ids->cap ? ids->cap * 2 : 64;
		ids->v = xrealloc(ids->v, ids->cap * sizeof(*ids->v));
	}
	ids->v[ids->n++] = xstrdup(id);
}

/* One envelope of `list`, loaded by some thread, printed by the main. */
struct loaded {
	struct spool_env env;
	struct why why;
	int rc;
};

/*
 * A batch of ids whose envelopes several threads load at once: with
 * 100,000 messages `list` is a million small system calls (open, read,
 * close of the message and of its notes), so it goes about as fast as
 * the cores can make them (issue 20: under 2 s). The helpers load the
 * next batch while the main thread prints this one, then it helps.
 */
struct list_batch {
	struct spool *sp;
	char **ids;
	struct loaded *out;
	size_t n;
	atomic_size_t next;
	pthread_t thr[LIST_THREADS_MAX];
	size_t nthr; /* helpers started */
};

static void *
load_some(void *arg)
{
	struct list_batch *b = arg;
	size_t i;

	while ((i = atomic_fetch_add(&b->next, 1)) < b->n)
		b->out[i].rc = spool_env_load(b->sp, b->ids[i], &b->out[i].env,
		    &b->out[i].why);
	return NULL;
}

/* Start loading ids[0..n) with up to `helpers` threads besides this one. */
static void
batch_start(struct list_batch *b, char **ids, size_t n, size_t helpers)
{
	b->ids = ids;
	b->n = n;
	b->nthr = 0;
	atomic_store(&b->next, 0);
	while (b->nthr < helpers && b->nthr < n &&
	       pthread_create(&b->thr[b->nthr], NULL, load_some, b) == 0)
		b->nthr++; /* fewer helpers: the same result, later */
}

/* Load what is left of the batch on this thread too; wait for it all. */
static void
batch_finish(struct list_batch *b)
{
	size_t i;

	(void)load_some(b);
	for (i = 0; i < b->nthr; i++)
		pthread_join(b->thr[i], NULL);
}

/* Print a loaded batch in order and free it; 0, or 1 after an error. */
static int
batch_print(struct list_batch *b, const struct conf *conf, time_t now,
    bool json, bool held_only)
{
	struct loaded *l;
	size_t i;
	int rc = 0;

	for (i = 0; i < b->n; i++) {
		l = &b->out[i];
		if (l->rc == 0) {
			if (!held_only || l->env.held)
				list_one(conf, &l->env, now, json);
			spool_env_free(&l->env);
		} else if (l->why.sys_errno != ENOENT) {
			/* ENOENT: it just left the queue */
			fprintf(stderr, "tern: queue list: %s: %s\n",
			    b->ids[i], l->why.text);
			rc = 1;
		}
		free(b->ids[i]);
	}
	return rc;
}

static size_t
list_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > LIST_THREADS_MAX ? LIST_THREADS_MAX : (size_t)n;
}

static int
cmd_list(const struct conf *conf, struct spool *sp, bool json,
    bool held_only)
{
	struct ids ids = { 0 };
	struct list_batch b[2], *cur = &b[0], *nxt = &b[1], *t;
	struct why why;
	time_t now = time(NULL);
	size_t k, helpers = list_threads() - 1;
	int rc = 0;

	if (sp != NULL && spool_scan(sp, collect, &ids, &why) == -1) {
		fprintf(stderr, "tern: queue list: %s\n", why.text);
		return 1;
	}
	memset(b, 0, sizeof(b));
	b[0].sp = b[1].sp = sp;
	b[0].out = xcalloc(LIST_BATCH, sizeof(*b[0].out));
	b[1].out = xcalloc(LIST_BATCH, sizeof(*b[1].out));
	k = ids.n < LIST_BATCH ? ids.n : LIST_BATCH;
	batch_start(cur, ids.v, k, helpers);
	batch_finish(cur);
	while (cur->n > 0) {
		batch_start(nxt, ids.v + k,
		    ids.n - k < LIST_BATCH ? ids.n - k : LIST_BATCH, helpers);
		k += nxt->n;
		rc |= batch_print(cur, conf, now, json, held_only);
		batch_finish(nxt);
		t = cur;
		cur = nxt;
		nxt = t;
	}
	free(b[0].out);
	free(b[1].out);
	free(ids.v);
	if (fflush(stdout) == EOF) {
		fprintf(stderr, "tern: queue list: write: %s\n",
		    strerror(errno));
		return 1;
	}
	return rc;
}

/*
 * The message header (the spool's fields on top, then fd, the message
 * file): up to the first empty line, at most a cap.
 */
static void
show_header(int fd, const struct spool_env *env)
{
	char *b, *p, *end, *eol;
	ssize_t n;
	size_t want;

	want = env->body_size < HEADER_SHOW_MAX ? (size_t)env->body_size
	                                        : HEADER_SHOW_MAX;
	b = xmalloc(env->prefix_len + want + 1);
	if (env->prefix_len > 0)
		memcpy(b, env->prefix, env->prefix_len);
	n = pread(fd, b + env->prefix_len, want, env->body_offset);
	if (n < 0) {
		printf("(message unreadable: %s)\n", strerror(errno));
		free(b);
		return;
	}
	end = b + env->prefix_len + n;
	for (p = b; p < end; p = eol + 1) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		if (eol > p && eol[-1] == '\r')
			put_chars(stdout, p, (size_t)(eol - 1 - p), OUT_TEXT);
		else
			put_chars(stdout, p, (size_t)(eol - p), OUT_TEXT);
		fputc('\n', stdout);
		if (eol == p || (eol == p + 1 && *p == '\r'))
			break; /* the empty line ends the header */
	}
	if (p >= end && (size_t)n == HEADER_SHOW_MAX)
		printf("(header longer than %d bytes: cut)\n", HEADER_SHOW_MAX);
	free(b);
}

/* `queue show` of an id that is not in the queue (or is no id): 1. */
static int
show_missing(const char *id)
{
	fputs("tern: queue show: no message ", stderr);
	put_text(stderr, id, strlen(id));
	fputs(" in the queue\n", stderr);
	return 1;
}

static int
cmd_show(struct spool *sp, const char *id)
{
	struct spool_env env;
	struct why why;
	time_t now = time(NULL);
	char age[32], when[32];
	struct tm tm;
	size_t i;
	int fd;

	if (sp == NULL || !spool_is_id(id))
		return show_missing(id);
	if (spool_env_open(sp, id, &env, &fd, &why) == -1) {
		if (why.sys_errno == ENOENT)
			return show_missing(id);
		fprintf(stderr, "tern: queue show: %s: %s\n", id, why.text);
		return 1;
	}
	fmt_age(age, sizeof(age), (long long)(now - env.arrival));
	gmtime_r(&env.arrival, &tm);
	(void)strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("id: %s\narrival: %s (%s ago)\nsize: %lld\nsender: <", env.id,
	    when, age, (long long)env.body_size);
	put_text(stdout, env.sender, strlen(env.sender));
	fputs(">\nhelo: ", stdout);
	put_str(stdout, env.helo, false);
	fputs("\nclient: ", stdout);
	put_str(stdout, env.client_addr, false);
	fputs(" (", stdout);
	put_str(stdout, env.client_name, false);
	printf(")\nflags:%s%s%s%s\nstate: %s\nattempts: %u\n",
	    env.smtputf8 ? " smtputf8" : "", env.eightbit ? " 8bitmime" : "",
	    env.requiretls ? " requiretls" : "",
	    env.smtputf8 || env.eightbit || env.requiretls ? "" : " -",
	    msg_state(&env, now), env.attempts);
	if (env.attempts > 0) {
		gmtime_r(&env.next_attempt, &tm);
		(void)strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("next attempt: %s\n", when);
	}
	fputs("recipients:\n", stdout);
	for (i = 0; i < env.nrcpts; i++) {
		fputs("  ", stdout);
		put_str(stdout, env.rcpts[i].addr, false);
		if (env.rcpts[i].orcpt[0] != '\0' &&
		    strcmp(env.rcpts[i].orcpt, env.rcpts[i].addr) != 0) {
			fputs(" (as ", stdout);
			put_str(stdout, env.rcpts[i].orcpt, false);
			fputc(')', stdout);
		}
		printf(" %s", rcpt_state(env.rcpts[i].state));
		if (env.rcpts[i].last_error != NULL) {
			fputs(": ", stdout);
			put_str(stdout, env.rcpts[i].last_error, false);
		}
		fputc('\n', stdout);
	}
	fputs("header:\n", stdout);
	show_header(fd, &env);
	(void)close(fd);
	spool_env_free(&env);
	if (fflush(stdout) == EOF) {
		fprintf(stderr, "tern: queue show: write: %s\n",
		    strerror(errno));
		return 1;
	}
	return 0;
}

/* flush, or retry|hold|release|delete ID: the running server does it. */
static int
cmd_act(const struct conf *conf, const char *verb, const char *id)
{
	char req[256], cmd[32];

	(void)snprintf(cmd, sizeof(cmd), "queue %s", verb);
	if (id != NULL && !spool_is_id(id)) {
		fprintf(stderr, "tern: %s: '", cmd);
		put_text(stderr, id, strlen(id));
		fputs("' is not a queue id (see tern queue list)\n", stderr);
		return 1;
	}
	(void)snprintf(req, sizeof(req), "%s%s%s", verb, id ? " " : "",
	    id ? id : "");
	return cli_control(conf, cmd, req);
}

int
cli_queue(const struct conf *conf, int argc, char **argv)
{
	struct spool *sp;
	struct why why;
	char dir[4096];
	bool json = false, held_only = false;
	int i, n, rc;

	if (argc < 2) {
		usage();
		return EX_USAGE;
	}
	if (strcmp(argv[1], "flush") == 0 || strcmp(argv[1], "retry") == 0 ||
	    strcmp(argv[1], "hold") == 0 || strcmp(argv[1], "release") == 0 ||
	    strcmp(argv[1], "delete") == 0) {
		if (argc != (argv[1][0] == 'f' ? 2 : 3)) {
			usage();
			return EX_USAGE;
		}
		return cmd_act(conf, argv[1], argc == 3 ? argv[2] : NULL);
	}
	if (strcmp(argv[1], "list") == 0) {
		for (i = 2; i < argc; i++) {
			if (strcmp(argv[i], "--json") == 0)
				json = true;
			else if (strcmp(argv[i], "--held") == 0)
				held_only = true;
			else {
				usage();
				return EX_USAGE;
			}
		}
	} else if (strcmp(argv[1], "show") != 0 || argc != 3) {
		usage();
		return EX_USAGE;
	}
	n = snprintf(dir, sizeof(dir), "%s/queue", conf->data_dir);
	if (n < 0 || (size_t)n >= sizeof(dir)) {
		fprintf(stderr, "tern: queue %s: data_dir too long\n", argv[1]);
		return 1;
	}
	sp = spool_open_readonly(dir, &why);
	if (sp == NULL && why.sys_errno != ENOENT) {
		fprintf(stderr, "tern: queue %s: %s\n", argv[1], why.text);
		return 1;
	}
	/* No spool yet (ENOENT): the queue is simply empty. */
	if (json || strcmp(argv[1], "list") == 0)
		rc = cmd_list(conf, sp, json, held_only);
	else
		rc = cmd_show(sp, argv[2]);
	spool_close(sp);
	return rc;
}
