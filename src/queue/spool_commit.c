/* SPDX-License-Identifier: ISC */
/*
 * queue/spool_commit.c - group commit: the spool's sync thread.
 *
 * Callers hand finished messages to spool_msg_commit(); the sync thread
 * takes whatever has queued up since its last pass as one batch, appends
 * the in-memory ones to the segment log, makes the batch durable with as
 * few syncs as it takes, moves the file-backed ones into active/, and
 * only then calls each message's callback (which lets the server answer
 * 250). A batch is what arrived while the previous one was syncing, so
 * under load one sync serves many messages and at rest a message waits
 * for nobody.
 */
#include "queue/spool.h"
#include "queue/spool-private.h"
#include "queue/spool_seg.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "obs/metrics.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/xmalloc.h"

void
spool_msg_commit(struct spool_msg *m, spool_commit_fn *done, void *arg)
{
	struct spool *sp = m->sp;
	bool was_empty;

	m->done = done;
	m->arg = arg;
	/* Page-cache writes stay on the caller's thread; syncs do not. */
	if (!m->failed)
		(void)spool_msg_flush(m);
	if (!m->failed && m->in_mem)
		m->crc = seg_crc(m->id, m->wbuf, m->wlen);
	/* A reused file's old tail goes before the sync covers the size. */
	if (!m->failed && !m->in_mem && m->stale > m->written &&
	    ftruncate(m->fd, m->written) == -1) {
		m->failed = true;
		why_set(&m->why, WHY_TEMP, errno, "truncate incoming/%s",
		    m->id);
	}
	m->next = NULL;
	pthread_mutex_lock(&sp->mtx);
	was_empty = sp->head == NULL;
	*sp->tailp = m;
	sp->tailp = &m->next;
	pthread_mutex_unlock(&sp->mtx);
	/*
	 * The sync thread waits only for an empty list: whoever filled it
	 * wakes it, after unlocking so that it does not sleep again on the
	 * mutex at once.
	 */
	if (was_empty)
		pthread_cond_signal(&sp->cv);
}

struct commit_wait {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	bool done;
	int ok;
	struct why why;
};

static void
commit_waited(void *arg, const char *id, int ok, const struct why *why)
{
	struct commit_wait *w = arg;

	(void)id;
	pthread_mutex_lock(&w->mtx);
	w->ok = ok;
	if (!ok && why != NULL)
		w->why = *why;
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mtx);
}

int
spool_msg_commit_wait(struct spool_msg *m, struct why *why)
{
	struct commit_wait w;

	memset(&w, 0, sizeof(w));
	pthread_mutex_init(&w.mtx, NULL);
	pthread_cond_init(&w.cv, NULL);
	spool_msg_commit(m, commit_waited, &w);
	pthread_mutex_lock(&w.mtx);
	while (!w.done)
		pthread_cond_wait(&w.cv, &w.mtx);
	pthread_mutex_unlock(&w.mtx);
	pthread_mutex_destroy(&w.mtx);
	pthread_cond_destroy(&w.cv);
	if (!w.ok) {
		if (why != NULL)
			*why = w.why;
		return -1;
	}
	return 0;
}

static void
fail_msg(struct spool_msg *m, int err, const char *what)
{
	if (m->failed)
		return;
	m->failed = true;
	why_set(&m->why, WHY_TEMP, err, "%s %s%s", what,
	    m->in_mem ? "message " : "incoming/", m->id);
}

/*
 * The batch's in-memory messages: appended to the segment log; their
 * items in *items (caller frees). The segment's descriptor, or -1 when
 * there are none or the append failed (those messages failed).
 */
static int
append_mem(struct spool *sp, struct spool_msg *batch, struct seg_item **items,
    size_t *nitems)
{
	struct spool_msg *m;
	struct why why;
	size_t n = 0;
	int fd;

	*items = NULL;
	*nitems = 0;
	for (m = batch; m != NULL; m = m->next)
		if (m->in_mem && !m->failed)
			n++;
	if (n == 0)
		return -1;
	*items = xcalloc(n, sizeof(**items));
	for (m = batch; m != NULL; m = m->next)
		if (m->in_mem && !m->failed)
			(*items)[(*nitems)++] = (struct seg_item){ m->id,
				m->wbuf, m->wlen, m->crc };
	fd = seg_append(sp, *items, n, &why);
	if (fd == -1) {
		for (m = batch; m != NULL; m = m->next)
			if (m->in_mem)
				fail_msg(m, why.sys_errno, "append to the segment log:");
		*nitems = 0;
	}
	return fd;
}

/*
 * After a clean syncfs: a write-back error of one of the batch's files
 * that an earlier syncfs reported elsewhere (fsutil_writeback_error()).
 * Failures go to the messages; -1 when the segment's (every in-memory
 * message of the batch failed).
 */
static int
own_errors(struct spool_msg *batch, int segfd)
{
	struct spool_msg *m;
	int err;

	for (m = batch; m != NULL; m = m->next)
		if (!m->in_mem && !m->failed &&
		    (err = fsutil_writeback_error(m->fd)) != 0)
			fail_msg(m, err, "sync for");
	if (segfd == -1 || (err = fsutil_writeback_error(segfd)) == 0)
		return 0;
	for (m = batch; m != NULL; m = m->next)
		if (m->in_mem)
			fail_msg(m, err, "sync for");
	return -1;
}

/*
 * Make the batch's data durable with as few syncs as it takes: the
 * segment alone, one file alone, or one syncfs(2) for everything (it
 * writes back every dirty file on the spool's file system: cheaper than
 * one fdatasync per file once a batch has several; since Linux 5.8 it
 * reports write-back errors seen since the last call on this
 * descriptor). Failures go to the messages; -1 when the segment's data
 * is not known durable (cut it off again). Syncs made: *syncs.
 */
static int
sync_data(struct spool *sp, struct spool_msg *batch, int segfd,
    uint64_t *syncs)
{
	struct spool_msg *m, *one = NULL;
	size_t files = 0;
	int fd, err;

	for (m = batch; m != NULL; m = m->next)
		if (!m->in_mem && !m->failed) {
			files++;
			one = m;
		}
	if (files == 0 && segfd == -1)
		return 0;
	(*syncs)++;
	if (files + (segfd != -1) == 1) {
		fd = segfd != -1 ? segfd : one->fd;
		if (fdatasync(fd) == 0)
			return 0;
	} else if (syncfs(sp->dirfd) == 0)
		return own_errors(batch, segfd);
	err = errno;
	for (m = batch; m != NULL; m = m->next)
		fail_msg(m, err, "sync for");
	return -1;
}

/*
 * One batch: the in-memory messages appended to the segment log, the
 * data of everything synced, the files renamed into active/ and active/
 * synced once, then the callbacks.
 */
static void
commit_batch(struct spool *sp, struct spool_msg *batch)
{
	struct spool_msg *m, *next;
	struct seg_item *items;
	char esc[300];
	uint64_t syncs = 0, n = 0;
	size_t renamed = 0, nitems;
	int err, segfd;

	for (m = batch; m != NULL; m = m->next)
		n++;
	segfd = append_mem(sp, batch, &items, &nitems);
	if (sync_data(sp, batch, segfd, &syncs) == -1 && nitems > 0)
		seg_unappend(sp);
	else if (nitems > 0)
		seg_publish(sp, items, nitems);
	free(items);
	for (m = batch; m != NULL; m = m->next) {
		if (m->failed || m->in_mem)
			continue;
		if (renameat(sp->incfd, m->id, sp->actfd, m->id) == -1)
			fail_msg(m, errno, "rename to active/");
		else {
			m->renamed = true;
			renamed++;
		}
	}
	if (renamed > 0) {
		syncs++;
		if (fsync(sp->actfd) == -1) {
			err = errno;
			/* Not known durable: take it back, the client retries.
			 */
			for (m = batch; m != NULL; m = m->next)
				if (m->renamed)
					fail_msg(m, err, "fsync active/ for");
		}
	}
	/* Counted before the callbacks, so a caller told "done" sees it. */
	pthread_mutex_lock(&sp->mtx);
	sp->stats.commits += n;
	sp->stats.syncs += syncs;
	metrics_spool_syncs(syncs);
	sp->stats.batches++;
	pthread_mutex_unlock(&sp->mtx);
	for (m = batch; m != NULL; m = next) {
		next = m->next;
		if (m->failed) {
			if (!m->in_mem)
				(void)unlinkat(m->renamed ? sp->actfd
				                          : sp->incfd,
				    m->id, 0);
			log_warn("event=spool_commit_failed id=%s reason=%s",
			    m->id, log_escs(esc, sizeof(esc), m->why.text));
		}
		if (m->fd != -1)
			(void)close(m->fd);
		m->fd = -1;
		m->done(m->arg, m->id, m->failed ? 0 : 1,
		    m->failed ? &m->why : NULL);
		spool_msg_free(m);
	}
}

void *
spool_sync_main(void *arg)
{
	struct spool *sp = arg;
	struct spool_msg *batch;

	(void)pthread_setname_np(pthread_self(), "spool-sync");
	pthread_mutex_lock(&sp->mtx);
	for (;;) {
		while (sp->head == NULL && !sp->stopping)
			pthread_cond_wait(&sp->cv, &sp->mtx);
		if (sp->head == NULL)
			break; /* stopping, and nothing left to commit */
		batch = sp->head;
		sp->head = NULL;
		sp->tailp = &sp->head;
		pthread_mutex_unlock(&sp->mtx);
		commit_batch(sp, batch);
		pthread_mutex_lock(&sp->mtx);
	}
	pthread_mutex_unlock(&sp->mtx);
	return NULL;
}

