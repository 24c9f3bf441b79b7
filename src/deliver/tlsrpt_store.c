/* SPDX-License-Identifier: ISC */
/*
 * deliver/tlsrpt_store.c - TLS-RPT counts per policy domain and UTC day
 * (see tlsrpt_store.h).
 *
 * Memory: up to TLSRPT_STORE_DAYS_MAX days, each an array of policies
 * (domain, type) with their counts; one mutex guards it all, held only
 * for memory work. tlsrpt_store_flush() copies the changed days out as
 * JSON under the mutex and writes them after, one flush at a time
 * (flush_mtx), so a delivery thread never waits for a disk.
 * Files: DATA_DIR/tlsrpt/, opened once; every file is reached from that
 * descriptor with O_NOFOLLOW, written as DAY.json.tmp, fsync'd, renamed
 * over DAY.json, and the directory fsync'd.
 * Trust: the noted strings are hostile (see the header); the files are
 * ours but read with caps and type checks all the same.
 */
#include "deliver/tlsrpt_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "util/buf.h"
#include "util/fsutil.h"
#include "util/json.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define DOMAIN_MAX 256 /* as struct tlsrpt_policy.domain */

struct pol {
	char domain[DOMAIN_MAX];
	enum tlsrpt_policy_type type;
	char **strings;
	size_t nstrings;
	char **mx;
	size_t nmx;
	uint64_t ok, failed;
	struct tlsrpt_failure fail[TLSRPT_STORE_FAIL_MAX];
	size_t nfail;
};

struct day {
	char day[TLSRPT_DAY_LEN + 1];
	struct pol *pols;
	size_t npol, cap;
	bool dirty; /* differs from its file */
};

struct tlsrpt_store {
	pthread_mutex_t mtx; /* everything below */
	pthread_mutex_t flush_mtx;
	int dirfd;
	struct day days[TLSRPT_STORE_DAYS_MAX];
	size_t ndays;
	/* Days dropped from memory (too many) whose files must go too. */
	char gone[TLSRPT_STORE_DAYS_MAX][TLSRPT_DAY_LEN + 1];
	size_t ngone;
	uint64_t dropped; /* notes beyond the caps, logged at flush */
};

static _Atomic(struct tlsrpt_store *) default_store;

/* ---- days ------------------------------------------------------------ */

void
tlsrpt_day_of(time_t t, char *day)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(day, TLSRPT_DAY_LEN + 1,
	                                     "%Y-%m-%d", &tm) != TLSRPT_DAY_LEN)
		(void)strlcpy(day, "1970-01-01", TLSRPT_DAY_LEN + 1);
}

static bool
digits(const char *s, size_t n, unsigned *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return true;
}

bool
tlsrpt_day_parse(const char *s, time_t *start_out)
{
	static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
		31, 30, 31 };
	unsigned y, m, d, dim;
	struct tm tm;

	if (strlen(s) != TLSRPT_DAY_LEN || s[4] != '-' || s[7] != '-' ||
	    !digits(s, 4, &y) || !digits(s + 5, 2, &m) ||
	    !digits(s + 8, 2, &d) || y < 1970 || m < 1 || m > 12 || d < 1)
		return false;
	dim = mdays[m - 1];
	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		dim = 29;
	if (d > dim)
		return false;
	if (start_out != NULL) {
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = (int)y - 1900;
		tm.tm_mon = (int)m - 1;
		tm.tm_mday = (int)d;
		*start_out = timegm(&tm);
	}
	return true;
}

static void
pol_free(struct pol *p)
{
	size_t i;

	for (i = 0; i < p->nstrings; i++)
		free(p->strings[i]);
	for (i = 0; i < p->nmx; i++)
		free(p->mx[i]);
	free(p->strings);
	free(p->mx);
}

static void
day_free(struct day *d)
{
	size_t i;

	for (i = 0; i < d->npol; i++)
		pol_free(&d->pols[i]);
	free(d->pols);
	memset(d, 0, sizeof(*d));
}

/* Copies of at most TLSRPT_STORE_STRINGS_MAX strings, each capped. */
static char **
strs_copy(const char *const *in, size_t n, size_t *n_out)
{
	char **out;
	size_t i, k = 0;

	if (n > TLSRPT_STORE_STRINGS_MAX)
		n = TLSRPT_STORE_STRINGS_MAX;
	out = xcalloc(n ? n : 1, sizeof(*out));
	for (i = 0; i < n; i++)
		if (in[i] != NULL)
			out[k++] = xstrndup(in[i],
			    strnlen(in[i], TLSRPT_STORE_STRING_MAX - 1));
	*n_out = k;
	return out;
}

/* The day named day, made (the oldest dropped when full): under mtx. */
static struct day *
day_get(struct tlsrpt_store *st, const char *day, bool make)
{
	size_t i;

	for (i = 0; i < st->ndays; i++)
		if (strcmp(st->days[i].day, day) == 0)
			return &st->days[i];
	if (!make)
		return NULL;
	if (st->ndays == TLSRPT_STORE_DAYS_MAX) {
		/* Days are kept oldest first: the first goes. */
		if (st->ngone < TLSRPT_STORE_DAYS_MAX)
			(void)strlcpy(st->gone[st->ngone++], st->days[0].day,
			    sizeof(st->gone[0]));
		st->dropped += st->days[0].npol;
		day_free(&st->days[0]);
		memmove(&st->days[0], &st->days[1],
		    (st->ndays - 1) * sizeof(st->days[0]));
		st->ndays--;
	}
	/* Keep them sorted: a planted or late day may be older. */
	for (i = st->ndays; i > 0 && strcmp(st->days[i - 1].day, day) > 0; i--)
		st->days[i] = st->days[i - 1];
	memset(&st->days[i], 0, sizeof(st->days[i]));
	(void)strlcpy(st->days[i].day, day, sizeof(st->days[i].day));
	st->ndays++;
	return &st->days[i];
}

/* domain lower-cased, without a final dot, into dst[DOMAIN_MAX]. */
static bool
norm_domain(const char *domain, char *dst)
{
	size_t n = strlen(domain);

	if (n > 0 && domain[n - 1] == '.')
		n--;
	if (n == 0 || n >= DOMAIN_MAX)
		return false;
	memcpy(dst, domain, n);
	dst[n] = '\0';
	ascii_lower_str(dst);
	return true;
}

static struct pol *
pol_get(struct tlsrpt_store *st, struct day *d, const char *domain,
    enum tlsrpt_policy_type type, bool make)
{
	size_t i;

	for (i = 0; i < d->npol; i++)
		if (d->pols[i].type == type &&
		    strcmp(d->pols[i].domain, domain) == 0)
			return &d->pols[i];
	if (!make)
		return NULL;
	if (d->npol == TLSRPT_STORE_POLICIES_MAX) {
		st->dropped++;
		return NULL;
	}
	if (d->npol == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 8;
		d->pols = xrealloc(d->pols, d->cap * sizeof(*d->pols));
	}
	memset(&d->pols[d->npol], 0, sizeof(d->pols[0]));
	(void)strlcpy(d->pols[d->npol].domain, domain, DOMAIN_MAX);
	d->pols[d->npol].type = type;
	return &d->pols[d->npol++];
}

static bool
same_failure(const struct tlsrpt_failure *a, const struct tlsrpt_failure *b)
{
	return a->result == b->result &&
	       strcmp(a->sending_ip, b->sending_ip) == 0 &&
	       strcmp(a->mx_host, b->mx_host) == 0 &&
	       strcmp(a->mx_ip, b->mx_ip) == 0 &&
	       strcmp(a->reason, b->reason) == 0;
}

/* Count `sessions` failures like f: under mtx. */
static void
add_failure(struct tlsrpt_store *st, struct pol *p,
    const struct tlsrpt_failure *f, uint64_t sessions)
{
	struct tlsrpt_failure c;
	size_t i;

	p->failed += sessions;
	if ((unsigned)f->result >= TLSRPT_RESULT_COUNT) {
		st->dropped++;
		return;
	}
	/* Copied with NULs forced: the caller's arrays are hostile text. */
	memset(&c, 0, sizeof(c));
	c.result = f->result;
	(void)snprintf(c.sending_ip, sizeof(c.sending_ip), "%.*s",
	    (int)sizeof(c.sending_ip) - 1, f->sending_ip);
	(void)snprintf(c.mx_host, sizeof(c.mx_host), "%.*s",
	    (int)sizeof(c.mx_host) - 1, f->mx_host);
	(void)snprintf(c.mx_ip, sizeof(c.mx_ip), "%.*s",
	    (int)sizeof(c.mx_ip) - 1, f->mx_ip);
	(void)snprintf(c.reason, sizeof(c.reason), "%.*s",
	    (int)sizeof(c.reason) - 1, f->reason);
	for (i = 0; i < p->nfail; i++)
		if (same_failure(&p->fail[i], &c)) {
			p->fail[i].sessions += sessions;
			return;
		}
	if (p->nfail == TLSRPT_STORE_FAIL_MAX) {
		st->dropped++; /* counted in "failed", not detailed */
		return;
	}
	c.sessions = sessions;
	p->fail[p->nfail++] = c;
}

/* ---- the hook -------------------------------------------------------- */

struct tlsrpt_store *
tlsrpt_store_default(void)
{
	return atomic_load(&default_store);
}

void
tlsrpt_store_set_default(struct tlsrpt_store *st)
{
	atomic_store(&default_store, st);
}

void
tlsrpt_store_note(struct tlsrpt_store *st, const char *policy_domain,
    enum tlsrpt_policy_type type, const char *const *policy_strings,
    size_t nstrings, const char *const *mx_patterns, size_t nmx,
    const struct tlsrpt_failure *failure)
{
	char dom[DOMAIN_MAX], today[TLSRPT_DAY_LEN + 1];
	struct day *d;
	struct pol *p;

	if (st == NULL || policy_domain == NULL ||
	    (unsigned)type > TLSRPT_TLSA || !norm_domain(policy_domain, dom))
		return;
	tlsrpt_day_of(time(NULL), today);
	pthread_mutex_lock(&st->mtx);
	d = day_get(st, today, true);
	if ((p = pol_get(st, d, dom, type, true)) != NULL) {
		if (p->ok == 0 && p->failed == 0 && p->nstrings == 0 &&
		    p->nmx == 0) {
			if (policy_strings != NULL)
				p->strings = strs_copy(policy_strings, nstrings,
				    &p->nstrings);
			if (mx_patterns != NULL)
				p->mx = strs_copy(mx_patterns, nmx, &p->nmx);
		}
		if (failure == NULL)
			p->ok++;
		else
			add_failure(st, p, failure, 1);
		d->dirty = true;
	}
	pthread_mutex_unlock(&st->mtx);
}

/* ---- the file -------------------------------------------------------- */

static int
pol_json(struct buf *b, const struct pol *p)
{
	const struct tlsrpt_failure *f;
	size_t i;

	if (buf_append(b, "{", 1) == -1 ||
	    json_kv_str(b, "domain", p->domain) == -1 ||
	    json_kv_str(b, "type", tlsrpt_policy_type_name(p->type)) == -1 ||
	    json_kv_strs(b, "strings", (const char *const *)p->strings,
	        p->nstrings) == -1 ||
	    json_kv_strs(b, "mx", (const char *const *)p->mx, p->nmx) == -1 ||
	    json_kv_u64(b, "ok", p->ok) == -1 ||
	    json_kv_u64(b, "failed", p->failed) == -1 ||
	    buf_append_str(b, ",\"failures\":[") == -1)
		return -1;
	for (i = 0; i < p->nfail; i++) {
		f = &p->fail[i];
		if ((i > 0 && buf_append(b, ",", 1) == -1) ||
		    buf_append(b, "{", 1) == -1 ||
		    json_kv_str(b, "result", tlsrpt_result_name(f->result)) ==
		        -1 ||
		    json_kv_str(b, "sending-ip", f->sending_ip) == -1 ||
		    json_kv_str(b, "mx-host", f->mx_host) == -1 ||
		    json_kv_str(b, "mx-ip", f->mx_ip) == -1 ||
		    json_kv_str(b, "reason", f->reason) == -1 ||
		    json_kv_u64(b, "sessions", f->sessions) == -1 ||
		    buf_append(b, "}", 1) == -1)
			return -1;
	}
	return buf_append_str(b, "]}");
}

/* The day as the file's JSON into b. 0, or -1 (over the cap). */
static int
day_json(struct buf *b, const struct day *d)
{
	size_t i;

	if (buf_append_str(b, "{\"version\":1") == -1 ||
	    json_kv_str(b, "day", d->day) == -1 ||
	    buf_append_str(b, ",\"policies\":[") == -1)
		return -1;
	for (i = 0; i < d->npol; i++)
		if ((i > 0 && buf_append(b, ",", 1) == -1) ||
		    pol_json(b, &d->pols[i]) == -1)
			return -1;
	return buf_append_str(b, "]}\n");
}

static int
write_file(int dirfd, const char *day, const struct buf *b, struct why *why)
{
	char tmp[TLSRPT_DAY_LEN + 16], fin[TLSRPT_DAY_LEN + 16];
	int fd;

	(void)snprintf(tmp, sizeof(tmp), "%s.json.tmp", day);
	(void)snprintf(fin, sizeof(fin), "%s.json", day);
	fd = openat(dirfd, tmp,
	    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return why_set(why, WHY_TEMP, errno, "tlsrpt: open %s", tmp);
	if (fsutil_write_all(fd, b->data, b->len) == -1 || fsync(fd) == -1) {
		why_set(why, WHY_TEMP, errno, "tlsrpt: write %s", tmp);
		(void)close(fd);
		(void)unlinkat(dirfd, tmp, 0);
		return -1;
	}
	(void)close(fd);
	if (renameat(dirfd, tmp, dirfd, fin) == -1) {
		why_set(why, WHY_TEMP, errno, "tlsrpt: rename %s", tmp);
		(void)unlinkat(dirfd, tmp, 0);
		return -1;
	}
	return 0;
}

static int
remove_file(int dirfd, const char *day, struct why *why)
{
	char fin[TLSRPT_DAY_LEN + 16];

	(void)snprintf(fin, sizeof(fin), "%s.json", day);
	if (unlinkat(dirfd, fin, 0) == -1 && errno != ENOENT)
		return why_set(why, WHY_TEMP, errno, "tlsrpt: remove %s", fin);
	return 0;
}

/* One day to write (json NULL: remove its file). */
struct pending {
	char day[TLSRPT_DAY_LEN + 1];
	struct buf json;
	bool remove;
};

int
tlsrpt_store_flush(struct tlsrpt_store *st, struct why *why)
{
	struct pending todo[2 * TLSRPT_STORE_DAYS_MAX];
	size_t n = 0, i, k;
	uint64_t dropped;
	int rc = 0;

	why_clear(why);
	if (st == NULL)
		return 0;
	pthread_mutex_lock(&st->flush_mtx);
	pthread_mutex_lock(&st->mtx);
	for (i = 0; i < st->ngone; i++) {
		memset(&todo[n], 0, sizeof(todo[n]));
		(void)strlcpy(todo[n].day, st->gone[i], sizeof(todo[n].day));
		todo[n++].remove = true;
	}
	st->ngone = 0;
	for (i = 0; i < st->ndays; i++) {
		if (!st->days[i].dirty)
			continue;
		memset(&todo[n], 0, sizeof(todo[n]));
		(void)strlcpy(todo[n].day, st->days[i].day,
		    sizeof(todo[n].day));
		todo[n].remove = st->days[i].npol == 0;
		buf_init(&todo[n].json, TLSRPT_STORE_FILE_MAX);
		if (!todo[n].remove &&
		    day_json(&todo[n].json, &st->days[i]) == -1) {
			/* Cannot happen within the caps; say so if it does. */
			log_warn("event=tlsrpt_store_error day=%s "
			         "reason=\"over "
			         "%u bytes: not written\"",
			    st->days[i].day, TLSRPT_STORE_FILE_MAX);
			buf_reset(&todo[n].json);
			continue;
		}
		st->days[i].dirty = false;
		n++;
	}
	/* Days emptied by tlsrpt_store_forget() leave memory too. */
	for (i = 0, k = 0; i < st->ndays; i++)
		if (st->days[i].npol > 0 || st->days[i].dirty)
			st->days[k++] = st->days[i];
		else
			day_free(&st->days[i]);
	st->ndays = k;
	dropped = st->dropped;
	st->dropped = 0;
	pthread_mutex_unlock(&st->mtx);
	if (dropped > 0)
		log_warn("event=tlsrpt_dropped notes=%llu reason=\"over the "
		         "store's caps (tlsrpt_store.h)\"",
		    (unsigned long long)dropped);
	for (i = 0; i < n; i++) {
		struct why w;
		struct day *d;

		why_clear(&w);
		if ((todo[i].remove ? remove_file(st->dirfd, todo[i].day, &w)
		                    : write_file(st->dirfd, todo[i].day,
		                          &todo[i].json, &w)) == -1) {
			if (rc == 0 && why != NULL)
				*why = w;
			rc = -1;
			/* Written at the next flush. */
			pthread_mutex_lock(&st->mtx);
			d = day_get(st, todo[i].day, false);
			if (d != NULL)
				d->dirty = true;
			pthread_mutex_unlock(&st->mtx);
		}
		buf_reset(&todo[i].json);
	}
	if (n > 0 && fsync(st->dirfd) == -1 && rc == 0) {
		why_set(why, WHY_TEMP, errno, "tlsrpt: fsync the directory");
		rc = -1;
	}
	pthread_mutex_unlock(&st->flush_mtx);
	return rc;
}

/* ---- loading --------------------------------------------------------- */

static bool
result_of(const char *name, enum tlsrpt_result *out)
{
	unsigned r;

	for (r = 0; r < TLSRPT_RESULT_COUNT; r++)
		if (strcmp(tlsrpt_result_name((enum tlsrpt_result)r), name) ==
		    0) {
			*out = (enum tlsrpt_result)r;
			return true;
		}
	return false;
}

static bool
type_of(const char *name, enum tlsrpt_policy_type *out)
{
	unsigned t;

	for (t = TLSRPT_NO_POLICY; t <= TLSRPT_TLSA; t++)
		if (strcmp(tlsrpt_policy_type_name((enum tlsrpt_policy_type)t),
		        name) == 0) {
			*out = (enum tlsrpt_policy_type)t;
			return true;
		}
	return false;
}

/* A JSON array of strings into a copy; false on any other shape. */
static bool
load_strs(json_t *a, char ***out, size_t *n_out)
{
	const char *v[TLSRPT_STORE_STRINGS_MAX];
	size_t i, n;

	*out = NULL;
	*n_out = 0;
	if (a == NULL)
		return true;
	if (!json_is_array(a))
		return false;
	n = json_array_size(a);
	if (n > TLSRPT_STORE_STRINGS_MAX)
		n = TLSRPT_STORE_STRINGS_MAX;
	for (i = 0; i < n; i++)
		if ((v[i] = json_string_value(json_array_get(a, i))) == NULL)
			return false;
	*out = strs_copy(v, n, n_out);
	return true;
}

static void
load_failure(struct tlsrpt_store *st, struct pol *p, json_t *o)
{
	struct tlsrpt_failure f;
	const char *r, *s;
	json_t *n;

	memset(&f, 0, sizeof(f));
	r = json_string_value(json_object_get(o, "result"));
	n = json_object_get(o, "sessions");
	if (r == NULL || !result_of(r, &f.result) || !json_is_integer(n) ||
	    json_integer_value(n) < 0) {
		st->dropped++;
		return;
	}
	if ((s = json_string_value(json_object_get(o, "sending-ip"))) != NULL)
		(void)strlcpy(f.sending_ip, s, sizeof(f.sending_ip));
	if ((s = json_string_value(json_object_get(o, "mx-host"))) != NULL)
		(void)strlcpy(f.mx_host, s, sizeof(f.mx_host));
	if ((s = json_string_value(json_object_get(o, "mx-ip"))) != NULL)
		(void)strlcpy(f.mx_ip, s, sizeof(f.mx_ip));
	if ((s = json_string_value(json_object_get(o, "reason"))) != NULL)
		(void)strlcpy(f.reason, s, sizeof(f.reason));
	add_failure(st, p, &f, (uint64_t)json_integer_value(n));
	/* add_failure() counted them in p->failed: the file's own
	 * "failed" total is the one that counts. */
	p->failed -= (uint64_t)json_integer_value(n);
}

static void
load_policy(struct tlsrpt_store *st, struct day *d, json_t *o)
{
	enum tlsrpt_policy_type type;
	const char *dom, *ty;
	char ndom[DOMAIN_MAX];
	json_t *ok, *failed, *fails, *f;
	struct pol *p;
	size_t i;

	dom = json_string_value(json_object_get(o, "domain"));
	ty = json_string_value(json_object_get(o, "type"));
	ok = json_object_get(o, "ok");
	failed = json_object_get(o, "failed");
	fails = json_object_get(o, "failures");
	if (dom == NULL || !norm_domain(dom, ndom) || ty == NULL ||
	    !type_of(ty, &type) || !json_is_integer(ok) ||
	    json_integer_value(ok) < 0 ||
	    (failed != NULL &&
	        (!json_is_integer(failed) || json_integer_value(failed) < 0)) ||
	    (fails != NULL && !json_is_array(fails)) ||
	    pol_get(st, d, ndom, type, false) != NULL ||
	    (p = pol_get(st, d, ndom, type, true)) == NULL) {
		st->dropped++;
		return;
	}
	if (!load_strs(json_object_get(o, "strings"), &p->strings,
	        &p->nstrings) ||
	    !load_strs(json_object_get(o, "mx"), &p->mx, &p->nmx)) {
		pol_free(p);
		d->npol--;
		st->dropped++;
		return;
	}
	p->ok = (uint64_t)json_integer_value(ok);
	for (i = 0; fails != NULL && i < json_array_size(fails); i++)
		if (json_is_object(f = json_array_get(fails, i)))
			load_failure(st, p, f);
	if (failed != NULL)
		p->failed = (uint64_t)json_integer_value(failed);
	else
		for (i = 0; i < p->nfail; i++)
			p->failed += p->fail[i].sessions;
}

/* Read DAY.json into memory; a file we cannot read as ours is set
 * aside (renamed .bad) rather than overwritten. */
static void
load_day(struct tlsrpt_store *st, const char *name, const char *day)
{
	char bad[TLSRPT_DAY_LEN + 16], *p = NULL;
	json_t *root = NULL, *pols;
	json_error_t jerr;
	struct stat sb;
	struct day *d;
	ssize_t got;
	size_t i;
	int fd;

	fd = openat(st->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > (off_t)TLSRPT_STORE_FILE_MAX)
		goto bad;
	p = xmalloc((size_t)sb.st_size + 1);
	got = pread(fd, p, (size_t)sb.st_size, 0);
	if (got != (ssize_t)sb.st_size)
		goto bad;
	root = json_loadb(p, (size_t)got, JSON_REJECT_DUPLICATES, &jerr);
	pols = json_object_get(root, "policies");
	if (root == NULL || !json_is_object(root) || !json_is_array(pols) ||
	    json_string_value(json_object_get(root, "day")) == NULL ||
	    strcmp(json_string_value(json_object_get(root, "day")), day) != 0)
		goto bad;
	d = day_get(st, day, true);
	for (i = 0; i < json_array_size(pols); i++)
		if (json_is_object(json_array_get(pols, i)))
			load_policy(st, d, json_array_get(pols, i));
	json_decref(root);
	free(p);
	(void)close(fd);
	return;
bad:
	(void)snprintf(bad, sizeof(bad), "%s.json.bad", day);
	log_warn("event=tlsrpt_store_error file=%s reason=\"not a TLS-RPT "
	         "count file (or unreadable): set aside as %s\"",
	    LOG_ESC(name), LOG_ESC(bad));
	(void)renameat(st->dirfd, name, st->dirfd, bad);
	json_decref(root);
	free(p);
	if (fd != -1)
		(void)close(fd);
}

static void
load_all(struct tlsrpt_store *st)
{
	char day[TLSRPT_DAY_LEN + 1];
	struct dirent *de;
	DIR *dir;
	int fd;

	if ((fd = dup(st->dirfd)) == -1 || (dir = fdopendir(fd)) == NULL) {
		if (fd != -1)
			(void)close(fd);
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		if (strlen(de->d_name) != TLSRPT_DAY_LEN + 5 ||
		    strcmp(de->d_name + TLSRPT_DAY_LEN, ".json") != 0)
			continue;
		memcpy(day, de->d_name, TLSRPT_DAY_LEN);
		day[TLSRPT_DAY_LEN] = '\0';
		if (tlsrpt_day_parse(day, NULL))
			load_day(st, de->d_name, day);
	}
	(void)closedir(dir);
}

struct tlsrpt_store *
tlsrpt_store_open(const char *data_dir, struct why *why)
{
	struct tlsrpt_store *st;
	char path[4096];
	int n, fd;

	n = snprintf(path, sizeof(path), "%s/tlsrpt", data_dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return why_set(why, WHY_PERM, 0, "tlsrpt: data_dir too long"),
		       NULL;
	if (fsutil_mkdirs(path, 0700, why) == -1)
		return NULL;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return why_set(why, WHY_TEMP, errno, "tlsrpt: open %s", path),
		       NULL;
	st = xcalloc(1, sizeof(*st));
	st->dirfd = fd;
	pthread_mutex_init(&st->mtx, NULL);
	pthread_mutex_init(&st->flush_mtx, NULL);
	load_all(st);
	return st;
}

void
tlsrpt_store_free(struct tlsrpt_store *st)
{
	struct why why;
	size_t i;

	if (st == NULL)
		return;
	if (tlsrpt_store_flush(st, &why) == -1)
		log_warn("event=tlsrpt_store_error reason=%s",
		    LOG_ESC(why.text));
	for (i = 0; i < st->ndays; i++)
		day_free(&st->days[i]);
	(void)close(st->dirfd);
	pthread_mutex_destroy(&st->mtx);
	pthread_mutex_destroy(&st->flush_mtx);
	free(st);
}

/* ---- reading for a report -------------------------------------------- */

size_t
tlsrpt_store_days(struct tlsrpt_store *st, char (*days)[TLSRPT_DAY_LEN + 1],
    size_t max)
{
	size_t i, n = 0;

	pthread_mutex_lock(&st->mtx);
	for (i = 0; i < st->ndays && n < max; i++)
		if (st->days[i].npol > 0)
			(void)strlcpy(days[n++], st->days[i].day,
			    TLSRPT_DAY_LEN + 1);
	pthread_mutex_unlock(&st->mtx);
	return n;
}

static int
pol_cmp(const void *a, const void *b)
{
	const struct tlsrpt_policy *x = a, *y = b;
	int c = strcmp(x->domain, y->domain);

	return c != 0 ? c : (int)x->type - (int)y->type;
}

int
tlsrpt_store_snapshot(struct tlsrpt_store *st, const char *day,
    struct tlsrpt_snapshot *out)
{
	struct tlsrpt_failure *fail;
	struct tlsrpt_policy *tp;
	const struct pol *p;
	struct day *d;
	char **s;
	size_t i, k;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&st->mtx);
	d = day_get(st, day, false);
	if (d == NULL || d->npol == 0) {
		pthread_mutex_unlock(&st->mtx);
		return -1;
	}
	(void)strlcpy(out->day, day, sizeof(out->day));
	out->pol = xcalloc(d->npol, sizeof(*out->pol));
	out->npol = d->npol;
	for (i = 0; i < d->npol; i++) {
		p = &d->pols[i];
		tp = &out->pol[i];
		tp->type = p->type;
		(void)strlcpy(tp->domain, p->domain, sizeof(tp->domain));
		s = xcalloc(p->nstrings + 1, sizeof(*s));
		for (k = 0; k < p->nstrings; k++)
			s[k] = xstrdup(p->strings[k]);
		tp->strings = (const char *const *)s;
		tp->nstrings = p->nstrings;
		s = xcalloc(p->nmx + 1, sizeof(*s));
		for (k = 0; k < p->nmx; k++)
			s[k] = xstrdup(p->mx[k]);
		tp->mx = (const char *const *)s;
		tp->nmx = p->nmx;
		tp->ok = p->ok;
		tp->failed = p->failed;
		fail = xcalloc(p->nfail + 1, sizeof(*fail));
		memcpy(fail, p->fail, p->nfail * sizeof(*fail));
		tp->fail = fail;
		tp->nfail = p->nfail;
	}
	pthread_mutex_unlock(&st->mtx);
	qsort(out->pol, out->npol, sizeof(*out->pol), pol_cmp);
	return 0;
}

void
tlsrpt_snapshot_free(struct tlsrpt_snapshot *s)
{
	size_t i, k;

	for (i = 0; i < s->npol; i++) {
		for (k = 0; k < s->pol[i].nstrings; k++)
			free((char *)s->pol[i].strings[k]);
		for (k = 0; k < s->pol[i].nmx; k++)
			free((char *)s->pol[i].mx[k]);
		free((void *)s->pol[i].strings);
		free((void *)s->pol[i].mx);
		free((void *)s->pol[i].fail);
	}
	free(s->pol);
	memset(s, 0, sizeof(*s));
}

void
tlsrpt_store_forget(struct tlsrpt_store *st, const char *day,
    const char *domain)
{
	char dom[DOMAIN_MAX];
	struct day *d;
	size_t i, k;

	if (!norm_domain(domain, dom))
		return;
	pthread_mutex_lock(&st->mtx);
	if ((d = day_get(st, day, false)) != NULL) {
		for (i = 0, k = 0; i < d->npol; i++)
			if (strcmp(d->pols[i].domain, dom) == 0) {
				pol_free(&d->pols[i]);
				d->dirty = true;
			} else
				d->pols[k++] = d->pols[i];
		d->npol = k;
	}
	pthread_mutex_unlock(&st->mtx);
}
