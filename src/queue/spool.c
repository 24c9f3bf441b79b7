/* SPDX-License-Identifier: ISC */
/*
 * queue/spool.c - the durable spool: new messages, group commit.
 *
 * Small messages go to the segment log (spool_seg.h); this file keeps
 * their bytes in memory until the commit. What follows is the layout of
 * a message file, which is also the payload of a segment record.
 *
 * A message file is a text envelope followed by the message bytes:
 *
 *	TERN1 0000000245\n		magic+version, envelope length (10
 *digits) id 0601a2b3c4d5e6001a3f\n arrival 1700000000\n sender
 *user@example.org\n	strings: see spool_env.c helo mail.example.org\n client
 *192.0.2.1 mail.example.org\n flags 01\n			SMTPUTF8,
 *8BITMIME rcpt P a@example.org A@Example.ORG\n	one per recipient; the state
 *	end\n				byte (offset 5) is rewritten in place
 *	<message bytes, CRLF lines as received>
 *	<prefix: header fields to put on top of the message>
 *
 * The prefix (issue 16) is optional: an envelope line "prefix
 * 0000000000 0" (before the recipients) reserves its length and the
 * junk flag (0/1: DMARC quarantine), written in place once the header
 * fields are known, after the message; a reader takes that many bytes
 * off the end of the file.
 *
 * The envelope length in the first line is also the body offset, so the
 * loader reads exactly that many bytes and refuses anything else.
 * Durability of a commit: file data (fdatasync, or one syncfs(2) for a
 * batch of several files), then rename incoming/ -> active/, then fsync
 * of active/; only then does the callback say ok. A crash before the
 * rename leaves a file in incoming/ that the next spool_open() removes; a
 * crash after it leaves a complete, synced file in active/.
 * Trust: our own files, but validated: nothing read from disk is used
 * without a bound.
 */
#include "queue/spool.h"
#include "queue/spool-private.h"
#include "queue/spool_seg.h"

#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "obs/metrics.h"
#include "smtp/params.h"
#include "util/fsutil.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define WBUF_SIZE 65536
/*
 * Files of removed messages kept in free/ for reuse. Creating a file
 * costs ext4 an inode allocation, which under create/delete churn scans
 * the block group for recently deleted inodes (measured: half the
 * server's CPU at 1,000 msg/s); a reused file costs a rename and a
 * truncate.
 */
#define POOL_MAX 1024



static atomic_uint id_counter;

bool
spool_is_id(const char *s)
{
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; i < SPOOL_ID_LEN; i++)
		if (!ascii_is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return false;
	return s[SPOOL_ID_LEN] == '\0';
}

/*
 * Read the envelope of a message that starts at `base` of an open file
 * (0 for a message file, the payload of a segment record) into a fresh
 * buffer.
 */
int
spool_read_env(int fd, off_t base, uint8_t **out, size_t *n_out, struct why *why)
{
	uint8_t first[FIRST_LINE_LEN], *p;
	size_t got;
	uint64_t n;

	*out = NULL;
	*n_out = 0;
	if (fsutil_pread_all(fd, first, sizeof(first), base, &got) == -1)
		return why_set(why, WHY_TEMP, errno, "read envelope");
	if (got < sizeof(first) || memcmp(first, MAGIC, MAGIC_LEN) != 0 ||
	    first[FIRST_LINE_LEN - 1] != '\n' ||
	    !spool_parse_num(first + MAGIC_LEN, 10, HLEN_MAX, &n))
		return why_set(why, WHY_PERM, 0, "bad first line");
	if (n < FIRST_LINE_LEN || n > SPOOL_ENV_MAX)
		return why_set(why, WHY_PERM, 0, "bad envelope length %llu",
		    (unsigned long long)n);
	p = xmalloc((size_t)n);
	if (fsutil_pread_all(fd, p, (size_t)n, base, &got) == -1) {
		free(p);
		return why_set(why, WHY_TEMP, errno, "read envelope");
	}
	if (got < n) {
		free(p);
		return why_set(why, WHY_PERM, 0, "envelope truncated");
	}
	*out = p;
	*n_out = (size_t)n;
	return 0;
}

static int
open_dir(int at, const char *name, bool create, struct why *why)
{
	int fd;

	if (create && mkdirat(at, name, 0700) == 0) {
		/* A new directory entry must be durable before we rely on it.
		 */
		if (fsync(at) == -1)
			return why_set(why, WHY_TEMP, errno, "fsync for %s",
			    name);
	} else if (create && errno != EEXIST)
		return why_set(why, WHY_TEMP, errno, "mkdir %s", name);
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return why_set(why, WHY_TEMP, errno, "open %s", name);
	return fd;
}

static void
clean_dir(int fd, bool (*keep)(struct spool *, const char *), struct spool *sp,
    const char *what)
{
	struct dirent *de;
	DIR *d;
	int dfd;

	if ((dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return;
	if ((d = fdopendir(dfd)) == NULL) {
		(void)close(dfd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || (keep && keep(sp, de->d_name)))
			continue;
		if (unlinkat(fd, de->d_name, 0) == 0)
			log_info("event=spool_cleanup dir=%s file=%s", what,
			    spool_is_id(de->d_name) ? de->d_name : "(other)");
	}
	(void)closedir(d);
}

/* Take over the files a previous run left in free/. */
static void
pool_adopt(struct spool *sp)
{
	struct dirent *de;
	DIR *d;
	int dfd;

	sp->pool = xcalloc(POOL_MAX, sizeof(*sp->pool));
	dfd = openat(sp->freefd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1)
		return;
	if ((d = fdopendir(dfd)) == NULL) {
		(void)close(dfd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (sp->npool < POOL_MAX && spool_is_id(de->d_name))
			memcpy(sp->pool[sp->npool++], de->d_name,
			    SPOOL_ID_MAX);
		else
			(void)unlinkat(sp->freefd, de->d_name, 0);
	}
	(void)closedir(d);
}

/*
 * A file for new message `id` in incoming/, reusing one from free/; -1
 * when the pool is empty or the reuse fails (the caller creates one).
 * The old bytes stay (*size_out of them) and are overwritten: truncating
 * to 0 would free the blocks only for the new message to allocate them
 * again.
 */
int
spool_pool_take(struct spool *sp, const char *id, off_t *size_out)
{
	char name[SPOOL_ID_MAX];
	struct stat st;
	int fd;

	pthread_mutex_lock(&sp->pool_mtx);
	if (sp->npool == 0) {
		pthread_mutex_unlock(&sp->pool_mtx);
		return -1;
	}
	memcpy(name, sp->pool[--sp->npool], SPOOL_ID_MAX);
	pthread_mutex_unlock(&sp->pool_mtx);
	if (renameat2(sp->freefd, name, sp->incfd, id, RENAME_NOREPLACE) ==
	    -1) {
		(void)unlinkat(sp->freefd, name, 0);
		return -1;
	}
	fd = openat(sp->incfd, id, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd != -1 && fstat(fd, &st) == -1) {
		(void)close(fd);
		fd = -1;
	}
	if (fd == -1)
		(void)unlinkat(sp->incfd, id, 0);
	else
		*size_out = st.st_size;
	return fd;
}

/* Move a finished message's file to free/ (or unlink it): 0 or -1. */
int
spool_pool_put(struct spool *sp, const char *id)
{
	bool kept = false;

	if (renameat2(sp->actfd, id, sp->freefd, id, RENAME_NOREPLACE) ==
	    -1)
		return errno == ENOENT ? 0 : -1; /* ENOENT: already gone */
	pthread_mutex_lock(&sp->pool_mtx);
	if (sp->pool != NULL && sp->npool < POOL_MAX) {
		memcpy(sp->pool[sp->npool++], id, SPOOL_ID_MAX);
		kept = true;
	}
	pthread_mutex_unlock(&sp->pool_mtx);
	if (!kept)
		(void)unlinkat(sp->freefd, id, 0);
	return 0;
}


static struct spool *
spool_open_mode(const char *dir, bool readonly, struct why *why)
{
	struct spool *sp;

	sp = xcalloc(1, sizeof(*sp));
	sp->dir = xstrdup(dir);
	sp->readonly = readonly;
	sp->dirfd = sp->incfd = sp->actfd = sp->corfd = sp->notefd =
	    sp->lockfd = sp->freefd = -1;
	pthread_mutex_init(&sp->pool_mtx, NULL);
	sp->tailp = &sp->head;
	pthread_mutex_init(&sp->mtx, NULL);
	pthread_cond_init(&sp->cv, NULL);
	sp->mem_max = SPOOL_MEM_MSG_MAX;
	if (!readonly && fsutil_mkdirs(dir, 0700, why) == -1)
		goto fail;
	sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dirfd == -1) {
		why_set(why, WHY_TEMP, errno, "open spool %s", dir);
		goto fail;
	}
	if (!readonly) {
		sp->lockfd = openat(sp->dirfd, "lock",
		    O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (sp->lockfd == -1) {
			why_set(why, WHY_TEMP, errno, "open %s/lock", dir);
			goto fail;
		}
		if (flock(sp->lockfd, LOCK_EX | LOCK_NB) == -1) {
			why_set(why, WHY_TEMP, errno,
			    "spool %s is in use by another tern process", dir);
			goto fail;
		}
	}
	if ((sp->incfd = open_dir(sp->dirfd, "incoming", !readonly, why)) ==
	        -1 ||
	    (sp->actfd = open_dir(sp->dirfd, "active", !readonly, why)) == -1 ||
	    (sp->corfd = open_dir(sp->dirfd, "corrupt", !readonly, why)) ==
	        -1 ||
	    (sp->notefd = open_dir(sp->dirfd, "notes", !readonly, why)) == -1)
		goto fail;
	if (seg_open(sp, why) == -1)
		goto fail;
	if (readonly)
		return sp;
	if ((sp->freefd = open_dir(sp->dirfd, "free", true, why)) == -1)
		goto fail;
	pool_adopt(sp);
	/* Nobody was told 250 for these; the lock says they are not live. */
	clean_dir(sp->incfd, NULL, sp, "incoming");
	/* A note is kept while its message is in active/ or a segment. */
	spool_notes_clean(sp);
	if (pthread_create(&sp->thr, NULL, spool_sync_main, sp) != 0) {
		why_set(why, WHY_TEMP, errno, "start spool sync thread");
		goto fail;
	}
	sp->thr_started = true;
	return sp;
fail:
	spool_close(sp);
	return NULL;
}

struct spool *
spool_open(const char *dir, struct why *why)
{
	return spool_open_mode(dir, false, why);
}

struct spool *
spool_open_readonly(const char *dir, struct why *why)
{
	return spool_open_mode(dir, true, why);
}

void
spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	if (sp->thr_started) {
		pthread_mutex_lock(&sp->mtx);
		sp->stopping = true;
		pthread_cond_signal(&sp->cv);
		pthread_mutex_unlock(&sp->mtx);
		pthread_join(sp->thr, NULL);
	}
	seg_close(sp);
	if (sp->incfd != -1)
		(void)close(sp->incfd);
	if (sp->actfd != -1)
		(void)close(sp->actfd);
	if (sp->corfd != -1)
		(void)close(sp->corfd);
	if (sp->notefd != -1)
		(void)close(sp->notefd);
	if (sp->freefd != -1)
		(void)close(sp->freefd);
	free(sp->pool);
	pthread_mutex_destroy(&sp->pool_mtx);
	if (sp->lockfd != -1)
		(void)close(sp->lockfd); /* releases the flock */
	if (sp->dirfd != -1)
		(void)close(sp->dirfd);
	pthread_mutex_destroy(&sp->mtx);
	pthread_cond_destroy(&sp->cv);
	free(sp->dir);
	free(sp);
}

static void
new_id(char *out)
{
	struct timespec ts;
	uint64_t usec;
	uint16_t rnd;
	unsigned c;

	clock_gettime(CLOCK_REALTIME, &ts);
	usec = ((uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000) &
	       0xffffffffffffffULL; /* 14 hex digits */
	/* Two ids in one microsecond differ by the counter (4096 apart). */
	c = atomic_fetch_add(&id_counter, 1) & 0xfff;
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (uint16_t)(getpid() ^ (ts.tv_nsec >> 3));
	(void)snprintf(out, SPOOL_ID_MAX, "%014llx%03x%03x",
	    (unsigned long long)usec, c, (unsigned)rnd & 0xfff);
}

/* Write to the message's file (not the buffer): 0 or -1 with errno. */
static int
put(struct spool_msg *m, const void *p, size_t n)
{
	if (fsutil_write_all(m->fd, p, n) == -1)
		return -1;
	m->written += (off_t)n;
	return 0;
}

static struct spool_msg *msg_start(struct spool_msg *, struct spool_env *,
    struct why *);

/*
 * A file in incoming/ for message m: one from free/, or a new one. 0, or
 * -1 with errno (EEXIST: the id is taken).
 */
static int
msg_create_file(struct spool_msg *m)
{
	m->fd = spool_pool_take(m->sp, m->id, &m->stale);
	if (m->fd == -1)
		m->fd = openat(m->sp->incfd, m->id,
		    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	return m->fd == -1 ? -1 : 0;
}

/* Is id free: neither a message in active/ nor a segment record? */
static bool
id_unused(struct spool *sp, const char *id)
{
	return faccessat(sp->actfd, id, F_OK, AT_EACCESS) == -1 &&
	       !seg_lookup(sp, id, NULL);
}

struct spool_msg *
spool_msg_new(struct spool *sp, struct spool_env *env, struct why *why)
{
	struct spool_msg *m;
	int tries;

	if (sp->readonly) {
		why_set(why, WHY_TEMP, EROFS, "spool opened read-only");
		return NULL;
	}
	if (env->arrival == 0)
		env->arrival = time(NULL);
	m = xcalloc(1, sizeof(*m));
	m->sp = sp;
	m->fd = -1;
	for (tries = 0; tries < 8; tries++) {
		new_id(m->id);
		if (!id_unused(sp, m->id))
			continue;
		/* Small messages start in memory (spool_seg.h). */
		if (sp->mem_max > 0) {
			m->in_mem = true;
			break;
		}
		if (msg_create_file(m) == 0)
			break;
		if (errno != EEXIST) {
			why_set(why, WHY_TEMP, errno, "create incoming/%s",
			    m->id);
			free(m);
			return NULL;
		}
	}
	if (!m->in_mem && m->fd == -1) {
		why_set(why, WHY_TEMP, EEXIST, "no unique queue id");
		free(m);
		return NULL;
	}
	memcpy(env->id, m->id, SPOOL_ID_MAX);
	return msg_start(m, env, why);
}

/* Give back what an in-memory message holds of the spool's budget. */
static void
mem_release(struct spool_msg *m)
{
	if (m->in_mem)
		atomic_fetch_sub(&m->sp->mem_used, m->wcap);
	m->in_mem = false;
}

/*
 * Room for `need` bytes in an in-memory message's buffer: 0, or -1 when
 * it must go to a file instead (too big, or the budget is spent).
 */
static int
mem_reserve(struct spool_msg *m, size_t need)
{
	struct spool *sp = m->sp;
	size_t cap = m->wcap > 0 ? m->wcap : WBUF_SIZE, add;

	if (need <= m->wcap)
		return 0;
	if (need > sp->mem_max)
		return -1;
	while (cap < need)
		cap *= 2;
	if (cap > sp->mem_max)
		cap = sp->mem_max;
	add = cap - m->wcap;
	if (atomic_fetch_add(&sp->mem_used, add) + add > SPOOL_MEM_BUDGET) {
		atomic_fetch_sub(&sp->mem_used, add);
		return -1;
	}
	m->wbuf = xrealloc(m->wbuf, cap);
	m->wcap = cap;
	return 0;
}

/*
 * An in-memory message outgrew it: give it a file in incoming/ and
 * write what it holds. 0, or -1 (m failed).
 */
static int
spill(struct spool_msg *m)
{
	size_t n = m->wlen;

	mem_release(m);
	if (msg_create_file(m) == -1 || put(m, m->wbuf, n) == -1) {
		m->failed = true;
		why_set(&m->why, WHY_TEMP, errno, "write incoming/%s", m->id);
		return -1;
	}
	m->wlen = 0;
	if (m->wcap > WBUF_SIZE) {
		m->wbuf = xrealloc(m->wbuf, WBUF_SIZE);
		m->wcap = WBUF_SIZE;
	}
	return 0;
}

/* Append to the buffer, in memory or in front of the file. */
static int
buffer(struct spool_msg *m, const void *p, size_t n)
{
	if (m->in_mem && mem_reserve(m, m->wlen + n) == -1 && spill(m) == -1)
		return -1;
	if (m->in_mem) {
		memcpy(m->wbuf + m->wlen, p, n);
		m->wlen += n;
		return 0;
	}
	return spool_msg_write(m, p, n, NULL);
}

/* The file is open: the envelope at its head. NULL (m aborted) on error. */
static struct spool_msg *
msg_start(struct spool_msg *m, struct spool_env *env, struct why *why)
{
	struct buf b;

	buf_init(&b, SPOOL_ENV_MAX);
	if (spool_env_build(&b, env, why) == -1) {
		buf_reset(&b);
		spool_msg_abort(m);
		return NULL;
	}
	if (env->prefix_slot)
		m->prefix_at = spool_prefix_slot_at(&b);
	m->msg_at = (off_t)b.len;
	if (!m->in_mem) {
		m->wbuf = xmalloc(WBUF_SIZE);
		m->wcap = WBUF_SIZE;
	}
	if (buffer(m, b.data, b.len) == -1) {
		*why = m->why;
		buf_reset(&b);
		spool_msg_abort(m);
		return NULL;
	}
	buf_reset(&b);
	return m;
}

/* incoming/ID.r: where a replacement is written. */
static void
replacement_name(const struct spool_msg *m, char *dst, size_t dstsz)
{
	(void)snprintf(dst, dstsz, "%s.r", m->id);
}

struct spool_msg *
spool_msg_replace(struct spool_msg *old, struct spool_env *env,
    struct why *why)
{
	char name[SPOOL_ID_MAX + 3];
	struct spool_msg *m;

	m = xcalloc(1, sizeof(*m));
	m->sp = old->sp;
	memcpy(m->id, old->id, SPOOL_ID_MAX);
	m->replacing = true;
	replacement_name(m, name, sizeof(name));
	m->fd = openat(m->sp->incfd, name,
	    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (m->fd == -1) {
		why_set(why, WHY_TEMP, errno, "create incoming/%s", name);
		free(m);
		return NULL;
	}
	if (env->arrival == 0)
		env->arrival = time(NULL);
	memcpy(env->id, m->id, SPOOL_ID_MAX);
	return msg_start(m, env, why);
}

int
spool_msg_replaced(struct spool_msg *m, struct spool_msg *old,
    struct why *why)
{
	char name[SPOOL_ID_MAX + 3];

	replacement_name(m, name, sizeof(name));
	if (renameat(m->sp->incfd, name, m->sp->incfd, m->id) == -1)
		return why_set(why, WHY_TEMP, errno, "rename incoming/%s",
		    name);
	m->replacing = false;
	spool_msg_free(old); /* its file is gone: replaced by the rename */
	return 0;
}

const char *
spool_msg_id(const struct spool_msg *m)
{
	return m->id;
}

int
spool_msg_flush(struct spool_msg *m)
{
	if (m->in_mem)
		return 0;
	if (m->wlen > 0 && put(m, m->wbuf, m->wlen) == -1) {
		m->failed = true;
		why_set(&m->why, WHY_TEMP, errno, "write incoming/%s", m->id);
		return -1;
	}
	m->wlen = 0;
	return 0;
}

int
spool_msg_write(struct spool_msg *m, const void *p, size_t n, struct why *why)
{
	if (m->failed)
		goto fail;
	if (m->in_mem) {
		if (buffer(m, p, n) == -1)
			goto fail;
		return 0;
	}
	if (m->wlen + n <= m->wcap) {
		memcpy(m->wbuf + m->wlen, p, n);
		m->wlen += n;
		return 0;
	}
	if (spool_msg_flush(m) == -1)
		goto fail;
	if (n < m->wcap) {
		memcpy(m->wbuf, p, n);
		m->wlen = n;
		return 0;
	}
	if (put(m, p, n) == -1) {
		m->failed = true;
		why_set(&m->why, WHY_TEMP, errno, "write incoming/%s", m->id);
		goto fail;
	}
	return 0;
fail:
	if (why != NULL)
		*why = m->why;
	return -1;
}

int
spool_msg_reader(struct spool_msg *m, off_t *start, uint64_t *len,
    struct why *why)
{
	int fd;

	if (m->failed || (m->in_mem && spill(m) == -1) || spool_msg_flush(m) == -1) {
		*why = m->why;
		return -1;
	}
	ASSERT(!m->replacing);
	fd = openat(m->sp->incfd, m->id,
	    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd == -1) {
		why_set(why, WHY_TEMP, errno, "open incoming/%s", m->id);
		return -1;
	}
	*start = m->msg_at;
	*len = (uint64_t)(m->written - m->msg_at);
	return fd;
}

int
spool_msg_read_back(struct spool_msg *m, uint8_t **out, size_t *len,
    struct why *why)
{
	uint8_t *b;
	uint64_t n;
	off_t start;
	size_t got;
	int fd;

	if (m->in_mem && !m->failed) {
		n = m->wlen - (size_t)m->msg_at;
		*out = xmalloc(n + 1);
		memcpy(*out, m->wbuf + m->msg_at, n);
		*len = n;
		return 0;
	}
	if ((fd = spool_msg_reader(m, &start, &n, why)) == -1)
		return -1;
	if (n >= SIZE_MAX || (b = malloc((size_t)n + 1)) == NULL) {
		(void)close(fd);
		return why_set(why, WHY_TEMP, ENOMEM, "read back incoming/%s",
		    m->id);
	}
	if (fsutil_pread_all(fd, b, (size_t)n, start, &got) == -1 || got != n) {
		why_set(why, WHY_TEMP, got != n ? EIO : errno,
		    "read back incoming/%s", m->id);
		(void)close(fd);
		free(b);
		return -1;
	}
	(void)close(fd);
	*out = b;
	*len = (size_t)n;
	return 0;
}

int
spool_msg_write_cb(void *arg, const void *p, size_t n)
{
	struct spool_msg *m = arg;
	struct why why;

	if (spool_msg_write(m, p, n, &why) == -1) {
		errno = why.sys_errno != 0 ? why.sys_errno : EIO;
		return -1;
	}
	return 0;
}

int
spool_msg_set_prefix(struct spool_msg *m, const void *p, size_t n, bool junk,
    struct why *why)
{
	char digits[PREFIX_DIGITS + 3];

	if (m->prefix_at == 0 || m->prefix_set)
		return why_set(why, WHY_TEMP, EINVAL, "no room for a prefix");
	if (n > SPOOL_PREFIX_MAX)
		return why_set(why, WHY_PERM, 0,
		    "header fields on top: %zu bytes, at most %u", n,
		    SPOOL_PREFIX_MAX);
	if (n == 0 && !junk)
		return 0;
	if (n > 0 && spool_msg_write(m, p, n, why) == -1)
		return -1;
	m->prefix_set = true;
	(void)snprintf(digits, sizeof(digits), "%0*zu %c", PREFIX_DIGITS, n,
	    junk ? '1' : '0');
	/* The envelope is still in the buffer, or already in the file. */
	if (m->prefix_at + PREFIX_DIGITS + 2 <= m->written) {
		if (pwrite(m->fd, digits, PREFIX_DIGITS + 2, m->prefix_at) !=
		    PREFIX_DIGITS + 2) {
			m->failed = true;
			why_set(&m->why, WHY_TEMP, errno,
			    "write incoming/%s", m->id);
			*why = m->why;
			return -1;
		}
	} else
		memcpy(m->wbuf + (m->prefix_at - m->written), digits,
		    PREFIX_DIGITS + 2);
	return 0;
}

void
spool_msg_free(struct spool_msg *m)
{
	mem_release(m);
	if (m->fd != -1)
		(void)close(m->fd);
	free(m->wbuf);
	free(m);
}

void
spool_msg_abort(struct spool_msg *m)
{
	char name[SPOOL_ID_MAX + 3];

	if (m == NULL)
		return;
	if (m->replacing)
		replacement_name(m, name, sizeof(name));
	if (m->fd != -1)
		(void)unlinkat(m->sp->incfd, m->replacing ? name : m->id, 0);
	spool_msg_free(m);
}

const char *
spool_dir(const struct spool *sp)
{
	return sp->dir;
}

void
spool_get_stats(struct spool *sp, struct spool_stats *out)
{
	pthread_mutex_lock(&sp->mtx);
	*out = sp->stats;
	pthread_mutex_unlock(&sp->mtx);
}

