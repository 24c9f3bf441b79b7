/* SPDX-License-Identifier: ISC */
/*
 * deliver/syncgroup.c - one sync for the deliveries in flight together.
 *
 * Leader and followers, as in a database's group commit: requests queue
 * on their file system's group; whoever finds no sync running takes the
 * whole queue as a batch, syncs it, marks every request of the batch
 * done with one result, and wakes the rest. Requests that arrive during
 * a sync wait for the next, which starts after them: a sync covers only
 * work done before it began.
 */
#include "deliver/syncgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fsutil.h"

/* File systems with a group; beyond these a sync is done alone. */
#define GROUPS_MAX 16

struct request {
	struct request *next;
	int fd;
	bool datasync;
	bool done;
	int err; /* 0, or the errno of the batch's failed sync */
};

struct group {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	dev_t dev;
	int fsfd; /* the group's own descriptor, for syncfs; -1: none */
	bool busy;
	struct request *head, **tail;
};

static struct group groups[GROUPS_MAX];
static size_t ngroups;
static pthread_mutex_t table_mtx = PTHREAD_MUTEX_INITIALIZER;
static atomic_uint_fast64_t n_requests, n_syncs, n_syncfs;

static int
sync_alone(int fd, bool datasync)
{
	atomic_fetch_add(&n_syncs, 1);
	return datasync ? fdatasync(fd) : fsync(fd);
}

/*
 * The group of file system dev, made on first use with a descriptor of
 * its own reopened from dirfd; NULL when the table is full or the
 * reopen fails (the caller then syncs alone).
 */
static struct group *
group_of(dev_t dev, int dirfd)
{
	struct group *g = NULL;
	size_t i;
	int fsfd;

	pthread_mutex_lock(&table_mtx);
	for (i = 0; i < ngroups; i++)
		if (groups[i].dev == dev) {
			g = &groups[i];
			goto out;
		}
	if (ngroups == GROUPS_MAX)
		goto out;
	fsfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fsfd == -1)
		goto out;
	g = &groups[ngroups++];
	pthread_mutex_init(&g->mtx, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->dev = dev;
	g->fsfd = fsfd;
	g->head = NULL;
	g->tail = &g->head;
out:
	pthread_mutex_unlock(&table_mtx);
	return g;
}

/*
 * Sync one batch: 0 or an errno. Called without the group's lock.
 * syncfs(2) alone is not enough: sync_filesystem() flushes the device
 * (->sync_fs) before its last pass over the block device's dirty
 * buffers, and on ext2 or an ext4 without a journal those hold the
 * inode tables and directory blocks (a file's size and extents after
 * its data was written, a rename's entry). That pass waits for its
 * writes but nothing flushes them: without the fsync after it, a rename
 * into new/ could reach the disk before the inode of the file it names.
 * The fsync of the group's directory writes little (nothing of it is
 * dirty) and flushes the device once more; with a journal it costs less.
 */
static int
sync_batch(struct group *g, struct request *batch)
{
	if (batch->next == NULL)
		return sync_alone(batch->fd, batch->datasync) == -1 ? errno : 0;
	atomic_fetch_add(&n_syncs, 2);
	atomic_fetch_add(&n_syncfs, 1);
	if (syncfs(g->fsfd) == -1 || fsync(g->fsfd) == -1)
		return errno;
	return 0;
}

/* Lead one batch: everything queued now. Called and returns locked. */
static void
lead(struct group *g)
{
	struct request *batch = g->head, *r, *next;
	int err;

	g->head = NULL;
	g->tail = &g->head;
	g->busy = true;
	pthread_mutex_unlock(&g->mtx);
	err = sync_batch(g, batch);
	/*
	 * A shared syncfs may have handed an earlier write-back error of a
	 * member's file to another caller: each member checks its own.
	 */
	for (r = batch; r != NULL; r = r->next)
		r->err = err != 0 || batch->next == NULL
		             ? err
		             : fsutil_writeback_error(r->fd);
	pthread_mutex_lock(&g->mtx);
	/* A request lives on its caller's stack: read next before done. */
	for (r = batch; r != NULL; r = next) {
		next = r->next;
		r->done = true;
	}
	g->busy = false;
	pthread_cond_broadcast(&g->cv);
}

int
syncgroup_sync(int fd, int dirfd, bool datasync)
{
	struct request req = { .fd = fd, .datasync = datasync };
	struct group *g;
	struct stat st;

	atomic_fetch_add(&n_requests, 1);
	if (fstat(fd, &st) == -1)
		return -1;
	g = group_of(st.st_dev, dirfd);
	if (g == NULL)
		return sync_alone(fd, datasync);
	pthread_mutex_lock(&g->mtx);
	*g->tail = &req;
	g->tail = &req.next;
	while (!req.done) {
		if (g->busy)
			pthread_cond_wait(&g->cv, &g->mtx);
		else
			lead(g);
	}
	pthread_mutex_unlock(&g->mtx);
	if (req.err != 0) {
		errno = req.err;
		return -1;
	}
	return 0;
}

void
syncgroup_stats(struct syncgroup_stats *out)
{
	out->requests = atomic_load(&n_requests);
	out->syncs = atomic_load(&n_syncs);
	out->syncfs = atomic_load(&n_syncfs);
}
