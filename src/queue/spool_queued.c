/* SPDX-License-Identifier: ISC */
/*
 * queue/spool_queued.c - committed messages: load an envelope, record a
 * recipient's state, remove, list, and settle (move a message out of the
 * segment log into a file of its own when it stays queued).
 *
 * A committed message is either a file active/ID (a big one, or one
 * that was settled) or a live record of the segment log (spool_seg.h).
 * Both hold the same bytes: the envelope, the message, the prefix. The
 * segment log is asked first: while a message is settled it is briefly
 * in both places, and the record is the one that is still current.
 */
#include "queue/spool.h"
#include "queue/spool-private.h"
#include "queue/spool_seg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "obs/metrics.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* A committed message opened: where its bytes are in fd. */
struct qmsg {
	int fd;
	off_t base; /* its first byte (the envelope) */
	off_t end;  /* after its last byte */
	bool in_seg;
};

int
spool_check_id(const char *id, struct why *why)
{
	if (!spool_is_id(id))
		return why_set(why, WHY_PERM, 0, "bad queue id");
	return 0;
}

static int
open_active(struct spool *sp, const char *id, int flags, struct qmsg *q,
    struct why *why)
{
	struct stat st;

	q->fd = openat(sp->actfd, id, flags | O_NOFOLLOW | O_CLOEXEC);
	if (q->fd == -1 && errno == ENOENT)
		return why_set(why, WHY_PERM, ENOENT, "no message %s", id);
	if (q->fd == -1)
		return why_set(why, WHY_TEMP, errno, "open active/%s", id);
	if (fstat(q->fd, &st) == -1) {
		why_set(why, WHY_TEMP, errno, "stat active/%s", id);
		(void)close(q->fd);
		q->fd = -1;
		return -1;
	}
	q->base = 0;
	q->end = st.st_size;
	q->in_seg = false;
	return 0;
}

/* Open committed message id, wherever it is. 0, or -1 with why. */
static int
qmsg_open(struct spool *sp, const char *id, int flags, struct qmsg *q,
    struct why *why)
{
	struct seg_loc loc;

	q->fd = -1;
	if (spool_check_id(id, why) == -1)
		return -1;
	if (seg_lookup(sp, id, &loc)) {
		q->fd = seg_open_file(sp, &loc, flags);
		if (q->fd != -1) {
			q->base = loc.payload;
			q->end = loc.payload + loc.len;
			q->in_seg = true;
			return 0;
		}
		/* ENOENT: settled or removed since the lookup. */
		if (errno != ENOENT)
			return why_set(why, WHY_TEMP, errno,
			    "open the segment of %s", id);
	}
	return open_active(sp, id, flags, q, why);
}

/*
 * body_size, and the prefix at the end of the message: read into
 * env->prefix. WHY_PERM when the message is too short for what the
 * envelope says.
 */
static int
prefix_read(const struct qmsg *q, const char *id, struct spool_env *env,
    struct why *why)
{
	size_t got;
	int rc;

	if (q->end < env->body_offset + (off_t)env->prefix_len)
		return why_set(why, WHY_PERM, 0, "file shorter than its prefix");
	env->body_size = q->end - env->body_offset - (off_t)env->prefix_len;
	if (env->prefix_len == 0)
		return 0;
	env->prefix = xmalloc(env->prefix_len + 1);
	rc = fsutil_pread_all(q->fd, env->prefix, env->prefix_len,
	    env->body_offset + env->body_size, &got);
	if (rc == -1 || got != env->prefix_len)
		return why_set(why, WHY_TEMP, rc == -1 ? errno : EIO,
		    "read the prefix of %s", id);
	env->prefix[env->prefix_len] = '\0';
	return 0;
}

/* The envelope of q into env, body_offset in q->fd's terms. */
static int
qmsg_env(const struct qmsg *q, const char *id, struct spool_env *env,
    size_t want_idx, off_t *want_off, struct why *why)
{
	uint8_t *p;
	size_t n;
	int rc;

	if (spool_read_env(q->fd, q->base, &p, &n, why) == -1)
		return -1;
	rc = spool_env_parse(id, p, n, env, want_idx, want_off, why);
	free(p);
	if (rc == -1)
		return -1;
	env->body_offset += q->base;
	if (want_off != NULL)
		*want_off += q->base;
	return 0;
}

/*
 * Keep an unreadable message for a person to look at: active/ID moves
 * to corrupt/, a segment record is copied there and dropped.
 */
static void
to_corrupt(struct spool *sp, const char *id, const struct qmsg *q,
    const struct why *why)
{
	char esc[300];
	uint8_t *p;
	size_t n = (size_t)(q->end - q->base), got;
	int fd, ok = 0;

	if (!q->in_seg)
		ok = renameat(sp->actfd, id, sp->corfd, id) == 0;
	else if ((fd = openat(sp->corfd, id,
	              O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	              0600)) != -1) {
		p = xmalloc(n);
		ok = fsutil_pread_all(q->fd, p, n, q->base, &got) == 0 &&
		     got == n && fsutil_write_all(fd, p, n) == 0;
		free(p);
		(void)close(fd);
		if (ok)
			(void)seg_drop(sp, id);
	}
	if (ok)
		log_warn("event=spool_corrupt id=%s reason=%s "
		         "action=moved_to_corrupt",
		    id, log_escs(esc, sizeof(esc), why->text));
}

int
spool_env_load(struct spool *sp, const char *id, struct spool_env *env,
    struct why *why)
{
	return spool_env_open(sp, id, env, NULL, why);
}

int
spool_env_open(struct spool *sp, const char *id, struct spool_env *env,
    int *body_fd, struct why *why)
{
	struct buf notes;
	struct qmsg q;

	memset(env, 0, sizeof(*env));
	if (body_fd != NULL)
		*body_fd = -1;
	if (qmsg_open(sp, id, O_RDONLY, &q, why) == -1)
		return -1;
	if (qmsg_env(&q, id, env, 0, NULL, why) == -1 ||
	    prefix_read(&q, id, env, why) == -1) {
		spool_env_free(env);
		goto fail;
	}
	if (spool_notes_read(sp, id, &notes) == -1) {
		why_set(why, WHY_TEMP, ENOMEM, "read notes/%s", id);
		spool_env_free(env);
		goto fail;
	}
	spool_notes_apply(&notes, env);
	buf_reset(&notes);
	if (body_fd != NULL)
		*body_fd = q.fd;
	else
		(void)close(q.fd);
	return 0;
fail:
	if (why != NULL && why->kind == WHY_PERM && !sp->readonly)
		to_corrupt(sp, id, &q, why);
	(void)close(q.fd);
	return -1;
}

int
spool_rcpt_set(struct spool *sp, const char *id, size_t idx,
    enum spool_rcpt_state state, struct why *why)
{
	struct spool_env env;
	struct qmsg q;
	off_t off = -1;
	char c = (char)state;
	ssize_t w;
	int rc;

	if (sp->readonly)
		return why_set(why, WHY_TEMP, EROFS, "spool opened read-only");
	if (!spool_is_state((uint8_t)state))
		return why_set(why, WHY_PERM, 0, "bad recipient state");
	/*
	 * A segment record is never changed (its crc covers it): a message
	 * that keeps some recipients pending stays queued, so it moves to
	 * a file of its own now rather than after this pass.
	 */
	if (spool_settle(sp, id, why) == -1)
		return -1;
	if (qmsg_open(sp, id, O_RDWR, &q, why) == -1)
		return -1;
	rc = qmsg_env(&q, id, &env, idx, &off, why);
	if (rc == 0 && idx >= env.nrcpts)
		rc = why_set(why, WHY_PERM, 0, "no recipient %zu in %s", idx,
		    id);
	spool_env_free(&env);
	if (rc == -1)
		goto fail;
	do
		w = pwrite(q.fd, &c, 1, off);
	while (w == -1 && errno == EINTR);
	if (w != 1 || fdatasync(q.fd) == -1) {
		why_set(why, WHY_TEMP, w == 0 ? EIO : errno, "update %s", id);
		goto fail;
	}
	metrics_spool_syncs(1);
	(void)close(q.fd);
	return 0;
fail:
	(void)close(q.fd);
	return -1;
}

int
spool_remove(struct spool *sp, const char *id, struct why *why)
{
	if (sp->readonly)
		return why_set(why, WHY_TEMP, EROFS, "spool opened read-only");
	if (spool_check_id(id, why) == -1)
		return -1;
	/*
	 * No sync: if the removal is lost in a crash, the message is still
	 * there and is delivered again: a duplicate, never a loss.
	 */
	if (!seg_drop(sp, id) && spool_pool_put(sp, id) == -1 &&
	    unlinkat(sp->actfd, id, 0) == -1 && errno != ENOENT)
		return why_set(why, WHY_TEMP, errno, "remove active/%s", id);
	(void)unlinkat(sp->notefd, id, 0);
	return 0;
}

/*
 * Write payload p[0..n) as active/ID: a file in incoming/, synced, then
 * renamed, then active/ synced. 0, or -1 with why (nothing left).
 */
static int
write_active(struct spool *sp, const char *id, const uint8_t *p, size_t n,
    struct why *why)
{
	off_t stale = 0;
	int fd;

	fd = spool_pool_take(sp, id, &stale);
	if (fd == -1)
		fd = openat(sp->incfd, id,
		    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd == -1)
		return why_set(why, WHY_TEMP, errno, "create incoming/%s", id);
	if (fsutil_write_all(fd, p, n) == -1 ||
	    (stale > (off_t)n && ftruncate(fd, (off_t)n) == -1) ||
	    fdatasync(fd) == -1) {
		why_set(why, WHY_TEMP, errno, "write incoming/%s", id);
		goto fail;
	}
	(void)close(fd);
	fd = -1;
	if (renameat(sp->incfd, id, sp->actfd, id) == -1) {
		why_set(why, WHY_TEMP, errno, "rename %s to active/", id);
		goto fail;
	}
	if (fsync(sp->actfd) == -1) {
		why_set(why, WHY_TEMP, errno, "fsync active/ for %s", id);
		(void)unlinkat(sp->actfd, id, 0);
		return -1;
	}
	metrics_spool_syncs(2);
	return 0;
fail:
	if (fd != -1)
		(void)close(fd);
	(void)unlinkat(sp->incfd, id, 0);
	return -1;
}

int
spool_settle(struct spool *sp, const char *id, struct why *why)
{
	struct seg_loc loc;
	struct qmsg q;
	uint8_t *p;
	size_t got;
	int rc;

	if (sp->readonly)
		return why_set(why, WHY_TEMP, EROFS, "spool opened read-only");
	if (!seg_lookup(sp, id, &loc))
		return 0; /* a file already, or gone */
	if ((q.fd = seg_open_file(sp, &loc, O_RDONLY)) == -1)
		return errno == ENOENT
		           ? 0
		           : why_set(why, WHY_TEMP, errno,
		                 "open the segment of %s", id);
	p = xmalloc(loc.len);
	rc = fsutil_pread_all(q.fd, p, loc.len, loc.payload, &got);
	(void)close(q.fd);
	if (rc == -1 || got != loc.len) {
		free(p);
		return why_set(why, WHY_TEMP, rc == -1 ? errno : EIO,
		    "read the segment record of %s", id);
	}
	rc = write_active(sp, id, p, loc.len, why);
	free(p);
	if (rc == -1)
		return -1;
	/* Removed meanwhile (`tern queue delete`): the copy goes too. */
	if (!seg_drop(sp, id))
		(void)unlinkat(sp->actfd, id, 0);
	return 0;
}

struct idlist {
	char **ids;
	size_t n, cap;
};

static void
idlist_add(void *arg, const char *id)
{
	struct idlist *l = arg;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->ids = xrealloc(l->ids, l->cap * sizeof(*l->ids));
	}
	l->ids[l->n++] = xstrdup(id);
}

static int
cmp_id(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
spool_scan(struct spool *sp, void (*fn)(void *arg, const char *id), void *arg,
    struct why *why)
{
	struct idlist l = { NULL, 0, 0 };
	struct dirent *de;
	size_t i;
	DIR *d;
	int dfd;

	dfd = openat(sp->actfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1)
		return why_set(why, WHY_TEMP, errno, "open %s/active", sp->dir);
	if ((d = fdopendir(dfd)) == NULL) {
		(void)close(dfd);
		return why_set(why, WHY_TEMP, errno, "open %s/active", sp->dir);
	}
	while ((de = readdir(d)) != NULL) {
		if (!spool_is_id(de->d_name)) {
			if (de->d_name[0] != '.')
				log_warn("event=spool_foreign_file dir=active "
				         "action=ignored");
			continue;
		}
		idlist_add(&l, de->d_name);
	}
	(void)closedir(d);
	seg_foreach(sp, idlist_add, &l);
	/* Ids begin with the arrival time in hex: name order is age order. */
	if (l.n > 0)
		qsort(l.ids, l.n, sizeof(*l.ids), cmp_id);
	for (i = 0; i < l.n; i++) {
		/* Being settled: in both places for a moment. */
		if (i == 0 || strcmp(l.ids[i], l.ids[i - 1]) != 0)
			fn(arg, l.ids[i]);
	}
	for (i = 0; i < l.n; i++)
		free(l.ids[i]);
	free(l.ids);
	return 0;
}
