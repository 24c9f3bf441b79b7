/* SPDX-License-Identifier: ISC */
/*
 * server/relay.c - the recipient checks of [relay_domains] (relay.h).
 *
 * One small worker pool (its threads each hold a user-store connection
 * and a resolver) runs every check that needs I/O: a probe to the next
 * hop, a read of a recipient file that changed, an SQLite lookup. The
 * cache of verification answers is shared by all threads and loops.
 * Keys: "a:" and the address (ASCII lower-cased when the local part is
 * ASCII, as RFC 5321 2.4 lets us only for the domain, but as every
 * mail system treats it), "d:" and a domain whose next hop could not
 * be reached.
 * Trust: see relay.h. Recipient files are the operator's; a line that is
 * not an address is logged and skipped.
 */
#include "server/relay.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "client/client.h"
#include "conf/conf.h"
#include "deliver/nexthop.h"
#include "dir/dir.h"
#include "server/workers.h"
#include "smtp/addr.h"
#include "util/log.h"
#include "util/str.h"
#include "util/ttlcache.h"
#include "util/xmalloc.h"

#define LIST_LINE_MAX 1024   /* bytes of a recipient-file line */
#define LIST_MAX 1000000     /* addresses in one recipient file */
#define LIST_RECHECK_MS 1000 /* stat a recipient file at most this often */
#define KEY_MAX (SMTP_PATH_MAX + 3) /* "a:" and the address */

/* One recipient file: its addresses, sorted, and what it looked like. */
struct rlist {
	char *path;
	bool loaded;
	struct timespec mtime;
	ino_t ino;
	off_t size;
	uint64_t checked_ms;
	char **addrs;
	size_t n;
};

struct relay {
	char *dbpath;
	struct nexthop *nh;
	struct ttlcache *cache;
	pthread_mutex_t mtx;       /* starting the workers (loop threads) */
	struct workers *w;         /* NULL until the first check */
	pthread_mutex_t lists_mtx; /* the lists (workers only: may read) */
	struct rlist *lists; /* one per distinct file of [relay_domains] */
	size_t nlists;
};

/* A worker thread's own handles. */
struct wctx {
	struct relay *r;
	struct dir *dir; /* NULL when the user store cannot be opened */
	struct dns *dns; /* made on the first probe */
};

struct job {
	struct relay_query *q;
	loop_fn *done;
	void *arg;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The address as a lookup key: lower-cased unless its local part is
 * not ASCII (then only the domain). */
static void
addr_key(const char *prefix, const char *addr, char *dst, size_t dstsz)
{
	char *at;

	(void)snprintf(dst, dstsz, "%s%s", prefix, addr);
	at = strrchr(dst, '@');
	if (at == NULL || ascii_only(dst))
		ascii_lower_str(dst);
	else
		ascii_lower_str(at);
}

static const char *
domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : "";
}

struct relay *
relay_new(const char *dbpath)
{
	struct relay *r = xcalloc(1, sizeof(*r));

	r->dbpath = xstrdup(dbpath);
	r->nh = nexthop_new();
	r->cache = ttlcache_new(RELAY_CACHE_MAX);
	pthread_mutex_init(&r->mtx, NULL);
	pthread_mutex_init(&r->lists_mtx, NULL);
	return r;
}

static void
list_clear(struct rlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->addrs[i]);
	free(l->addrs);
	l->addrs = NULL;
	l->n = 0;
}

void
relay_free(struct relay *r)
{
	size_t i;

	if (r == NULL)
		return;
	workers_free(r->w); /* runs what is queued: jobs use the rest */
	for (i = 0; i < r->nlists; i++) {
		list_clear(&r->lists[i]);
		free(r->lists[i].path);
	}
	free(r->lists);
	ttlcache_free(r->cache);
	nexthop_free(r->nh);
	pthread_mutex_destroy(&r->mtx);
	pthread_mutex_destroy(&r->lists_mtx);
	free(r->dbpath);
	free(r);
}

/* ---- the cache ---------------------------------------------------- */

static bool
cache_get(struct relay *r, const char *key, struct relay_answer *ans)
{
	char v[1 + RELAY_TEXT_MAX];
	size_t len;

	if (!ttlcache_get(r->cache, key, now_ms(), v, sizeof(v), &len) ||
	    len < 1 || len > sizeof(v))
		return false;
	ans->verdict = (enum relay_verdict)v[0];
	memcpy(ans->text, v + 1, len - 1);
	ans->text[len - 1] = '\0';
	ans->cached = true;
	return true;
}

static void
cache_put(struct relay *r, const char *key, const struct relay_answer *ans,
    unsigned ttl_secs)
{
	char v[1 + RELAY_TEXT_MAX];
	size_t n = strlen(ans->text);

	v[0] = (char)ans->verdict;
	memcpy(v + 1, ans->text, n);
	(void)ttlcache_put(r->cache, key, v, n + 1, now_ms(),
	    (uint64_t)ttl_secs * 1000);
}

static void answer(struct relay_answer *ans, enum relay_verdict v,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Set the verdict and its reason, made printable ASCII. */
static void
answer(struct relay_answer *ans, enum relay_verdict v, const char *fmt, ...)
{
	char raw[RELAY_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	ans->verdict = v;
	ans->cached = false;
	(void)str_printable(ans->text, sizeof(ans->text), raw);
}

bool
relay_quick(struct relay *r, struct relay_query *q)
{
	char key[KEY_MAX];

	if (q->rd->check == CONF_RELAY_ANY) {
		answer(&q->ans, RELAY_YES, "%s", "");
		return true;
	}
	if (q->rd->check != CONF_RELAY_VERIFY)
		return false;
	addr_key("a:", q->addr, key, sizeof(key));
	if (cache_get(r, key, &q->ans))
		return true;
	addr_key("d:", domain_of(q->addr), key, sizeof(key));
	return cache_get(r, key, &q->ans);
}

/* ---- verify: ask the next hop ------------------------------------- */

static void
verify(struct wctx *c, struct relay_query *q)
{
	const struct conf *conf = q->conf;
	struct nexthop_target t;
	struct client_conn *conn;
	struct client_rcpt rcpt = { q->addr, 0, NULL };
	struct client_msg m;
	struct client_reply rep;
	struct why why, res;
	struct nexthop_peer peer;
	char akey[KEY_MAX], dkey[KEY_MAX], esc[300], esc2[300];
	unsigned ttl;

	/* Another job may have asked while this one waited. */
	if (relay_quick(c->r, q))
		return;
	addr_key("a:", q->addr, akey, sizeof(akey));
	addr_key("d:", domain_of(q->addr), dkey, sizeof(dkey));
	nexthop_route(conf, q->addr, &t);
	if (t.key[0] == '\0') { /* config checks forbid it: a local domain */
		answer(&q->ans, RELAY_TEMP, "no next hop for %s",
		    domain_of(q->addr));
		return;
	}
	why_clear(&why);
	conn = nexthop_open(c->r->nh, conf, &c->dns, &t,
	    conf->queue.verify_timeout, &peer, &why);
	if (conn == NULL) {
		if (why.kind == WHY_PERM) { /* DNS: no host can exist */
			answer(&q->ans, RELAY_NO, "undeliverable address: %s",
			    why.text);
			cache_put(c->r, akey, &q->ans,
			    conf->queue.verify_negative_ttl);
		} else {
			answer(&q->ans, RELAY_TEMP, "unverified address: %s",
			    why.text);
			cache_put(c->r, dkey, &q->ans, RELAY_TEMP_TTL);
		}
		goto log;
	}
	memset(&m, 0, sizeof(m));
	m.sender = "";
	m.rcpts = &rcpt;
	m.nrcpts = 1;
	m.probe = true;
	why_clear(&res);
	if (client_send(conn, &m, -1, 0, &res, &rep, &why) == -1 &&
	    res.kind == WHY_NONE)
		res = why;
	client_close(conn);
	switch (res.kind) {
	case WHY_NONE:
		answer(&q->ans, RELAY_YES, "%s", "");
		ttl = conf->queue.verify_positive_ttl;
		break;
	case WHY_PERM:
		answer(&q->ans, RELAY_NO, "undeliverable address: %s",
		    res.text);
		ttl = conf->queue.verify_negative_ttl;
		break;
	default:
		answer(&q->ans, RELAY_TEMP, "unverified address: %s", res.text);
		ttl = RELAY_TEMP_TTL;
		break;
	}
	cache_put(c->r, akey, &q->ans, ttl);
log:
	log_info("event=verify to=%s result=%s addr=%s reason=%s",
	    log_escs(esc, sizeof(esc), q->addr),
	    q->ans.verdict == RELAY_YES  ? "exists"
	    : q->ans.verdict == RELAY_NO ? "unknown"
	                                 : "temp",
	    peer.addr[0] != '\0' ? peer.addr : "-",
	    log_escs(esc2, sizeof(esc2),
	        q->ans.text[0] != '\0' ? q->ans.text : "-"));
}

/* ---- file: a list of addresses ------------------------------------ */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read l->path into l (sorted, deduplicated keys); -1 with errno. */
static int
list_load(struct rlist *l)
{
	char line[LIST_LINE_MAX], key[KEY_MAX], esc[300];
	struct smtp_addr a;
	const char *why;
	size_t cap = 0, n, lineno = 0, bad = 0;
	FILE *fp;
	char *s;

	if ((fp = fopen(l->path, "re")) == NULL)
		return -1;
	list_clear(l);
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		s = str_trim(line);
		n = strcspn(s, "\r\n");
		s[n] = '\0';
		s = str_trim(s);
		if (*s == '\0' || *s == '#')
			continue;
		if (!smtp_mailbox_parse(s, strlen(s), SMTP_ADDR_UTF8, &a,
		        &why) ||
		    a.is_null || a.domain[0] == '\0' || l->n >= LIST_MAX) {
			if (bad++ == 0)
				log_warn("event=relay_list_bad_line file=%s "
				         "line=%zu reason=%s",
				    LOG_ESC(l->path), lineno,
				    log_escs(esc, sizeof(esc),
				        l->n >= LIST_MAX ? "too many addresses"
				                         : why));
			continue;
		}
		addr_key("", s, key, sizeof(key));
		if (l->n == cap) {
			cap = cap ? cap * 2 : 64;
			l->addrs = xrealloc(l->addrs, cap * sizeof(*l->addrs));
		}
		l->addrs[l->n++] = xstrdup(key);
	}
	(void)fclose(fp);
	qsort(l->addrs, l->n, sizeof(*l->addrs), cmp_str);
	log_info("event=relay_list_loaded file=%s addresses=%zu bad_lines=%zu",
	    LOG_ESC(l->path), l->n, bad);
	return 0;
}

/*
 * Is addr in the file `path`? Re-read when the file changed (checked at
 * most every LIST_RECHECK_MS). 1 yes, 0 no, -1 unreadable (errno).
 */
static int
list_has(struct relay *r, const char *path, const char *addr)
{
	struct rlist *l = NULL;
	struct stat st;
	char key[KEY_MAX];
	const char *kp = key;
	uint64_t now = now_ms();
	size_t i;
	int rc = -1, err = 0;

	addr_key("", addr, key, sizeof(key));
	pthread_mutex_lock(&r->lists_mtx);
	for (i = 0; i < r->nlists; i++)
		if (strcmp(r->lists[i].path, path) == 0)
			l = &r->lists[i];
	if (l == NULL) { /* first use of this file (after a reload too) */
		r->lists =
		    xrealloc(r->lists, (r->nlists + 1) * sizeof(*r->lists));
		l = &r->lists[r->nlists++];
		memset(l, 0, sizeof(*l));
		l->path = xstrdup(path);
	}
	if (!l->loaded || now - l->checked_ms >= LIST_RECHECK_MS) {
		l->checked_ms = now;
		if (stat(l->path, &st) == -1) {
			err = errno;
			l->loaded = false;
			goto out;
		}
		if (!l->loaded || st.st_ino != l->ino ||
		    st.st_size != l->size ||
		    st.st_mtim.tv_sec != l->mtime.tv_sec ||
		    st.st_mtim.tv_nsec != l->mtime.tv_nsec) {
			if (list_load(l) == -1) {
				err = errno;
				l->loaded = false;
				goto out;
			}
			l->loaded = true;
			l->ino = st.st_ino;
			l->size = st.st_size;
			l->mtime = st.st_mtim;
		}
	}
	rc = bsearch(&kp, l->addrs, l->n, sizeof(*l->addrs), cmp_str) != NULL;
out:
	pthread_mutex_unlock(&r->lists_mtx);
	errno = err;
	return rc;
}

/* ---- users: tern's user store ------------------------------------- */

struct one_domain {
	const struct conf *conf;
	const char *domain;
};

/* While resolving, the relay domain counts as ours: its aliases apply. */
static bool
is_ours(void *arg, const char *domain)
{
	const struct one_domain *od = arg;

	return ascii_casecmp(domain, od->domain) == 0 ||
	       conf_is_local_domain(od->conf, domain);
}

static void
users(struct wctx *c, struct relay_query *q)
{
	struct one_domain od = { q->conf, q->rd->domain };
	/* Not ours: no admin names or subaddresses, the next hop's rules
	 * apply there. */
	struct dir_policy pol = { .is_local = is_ours, .arg = &od };
	struct dir_targets t = { NULL, 0 };
	char norm[DIR_ADDR_MAX];
	const char *why_s;
	struct why why;

	if (c->dir == NULL) {
		answer(&q->ans, RELAY_TEMP, "user database unavailable");
		return;
	}
	if (!dir_addr_norm(q->addr, norm, &why_s)) {
		answer(&q->ans, RELAY_NO,
		    "user unknown in relay recipient "
		    "table");
		return;
	}
	switch (dir_resolve(c->dir, norm, &pol, &t, &why)) {
	case DIR_RESOLVED:
		answer(&q->ans, RELAY_YES, "%s", "");
		break;
	case DIR_TEMPFAIL:
		answer(&q->ans, RELAY_TEMP, "lookup failure: %s", why.text);
		break;
	default:
		answer(&q->ans, RELAY_NO,
		    "user unknown in relay recipient "
		    "table");
		break;
	}
	dir_targets_free(&t);
}

/* ---- the worker pool ---------------------------------------------- */

static void
check(void *ctx, void *arg)
{
	struct wctx *c = ctx;
	struct job *j = arg;
	struct relay_query *q = j->q;
	int rc;

	switch (q->rd->check) {
	case CONF_RELAY_VERIFY:
		verify(c, q);
		break;
	case CONF_RELAY_USERS:
		users(c, q);
		break;
	case CONF_RELAY_FILE:
		rc = list_has(c->r, q->rd->file, q->addr);
		if (rc == 1)
			answer(&q->ans, RELAY_YES, "%s", "");
		else if (rc == 0)
			answer(&q->ans, RELAY_NO,
			    "user unknown in relay recipient table");
		else {
			answer(&q->ans, RELAY_TEMP,
			    "recipient list unreadable");
			log_warn("event=relay_list_unreadable file=%s "
			         "error=%s",
			    LOG_ESC(q->rd->file), LOG_ESC(strerror(errno)));
		}
		break;
	case CONF_RELAY_ANY:
		answer(&q->ans, RELAY_YES, "%s", "");
		break;
	}
}

static void
job_done(struct loop *loop, void *arg)
{
	struct job *j = arg;

	j->done(loop, j->arg);
	free(j);
}

static void *
thread_init(void *arg)
{
	struct relay *r = arg;
	struct wctx *c = xcalloc(1, sizeof(*c));
	struct why why;

	c->r = r;
	c->dir = dir_open(r->dbpath, &why);
	if (c->dir == NULL)
		log_warn("event=dir_open_failed path=%s error=%s",
		    LOG_ESC(r->dbpath), LOG_ESC(why.text));
	return c;
}

static void
thread_fini(void *ctx)
{
	struct wctx *c = ctx;

	dir_close(c->dir);
	dns_free(c->dns);
	free(c);
}

void
relay_submit(struct relay *r, struct relay_query *q, struct loop *loop,
    loop_fn *done, void *arg)
{
	struct job *j = xcalloc(1, sizeof(*j));
	struct workers *w;

	j->q = q;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&r->mtx);
	if (r->w == NULL)
		r->w = workers_new(RELAY_WORKERS, thread_init, thread_fini, r);
	w = r->w;
	pthread_mutex_unlock(&r->mtx);
	workers_submit(w, check, loop, job_done, j);
}
