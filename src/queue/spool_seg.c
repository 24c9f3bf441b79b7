/* SPDX-License-Identifier: ISC */
/*
 * queue/spool_seg.c - the segment log (see spool_seg.h for the layout).
 *
 * One mutex guards the index (a tsearch tree by queue id) and the list
 * of segments. Appends happen on the sync thread only, so the current
 * segment's end is changed by one thread; readers open the segment file
 * by name and read with pread.
 */
#include "queue/spool_seg.h"
#include "queue/spool-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include "util/fsutil.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define SEG_MAGIC "TSG1"
#define SEG_LIVE 'L'
#define SEG_DONE 'X'
#define SEG_STATE_POS 4
#define SEG_REC_MAX (SPOOL_MEM_MSG_MAX + 2u * 1024 * 1024)
#define IOV_BATCH 64 /* records per pwritev */

struct seg {
	uint64_t seq;
	int fd;
	off_t end;   /* bytes of whole records */
	size_t live; /* published records not yet dropped */
	struct seg *next;
};

struct rec {
	char id[SPOOL_ID_MAX];
	struct seg *seg;
	off_t payload;
	uint32_t len;
};

struct seg_state {
	int dirfd;
	pthread_mutex_t mtx;
	struct seg *segs; /* newest first */
	struct seg *cur;  /* appended to; NULL until the first append */
	void *index;      /* tsearch tree of struct rec */
	size_t nrecs, nsegs;
	uint64_t next_seq;
	off_t batch_at; /* cur->end before the batch being appended */
	bool roll;      /* start a new segment at the next append */
	uint8_t (*hdrs)[SEG_HDR_LEN];
	size_t hdrs_cap;
};

static int
rec_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rec *)a)->id, ((const struct rec *)b)->id);
}

static void
seg_name(uint64_t seq, char *out, size_t outsz)
{
	(void)snprintf(out, outsz, "%016" PRIx64, seq);
}

static bool
parse_seg_name(const char *s, uint64_t *seq)
{
	uint64_t v = 0;
	size_t i;
	int d;

	for (i = 0; i < SEG_NAME_LEN; i++) {
		if ((d = ascii_hex_value((unsigned char)s[i])) < 0 ||
		    (s[i] >= 'A' && s[i] <= 'F'))
			return false;
		v = v << 4 | (uint64_t)d;
	}
	if (s[SEG_NAME_LEN] != '\0')
		return false;
	*seq = v;
	return true;
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t
get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

uint32_t
seg_crc(const char *id, const uint8_t *data, size_t len)
{
	uLong c = crc32(0L, Z_NULL, 0);

	c = crc32(c, (const Bytef *)id, SPOOL_ID_LEN);
	c = crc32_z(c, data, len);
	return (uint32_t)c;
}

void
seg_record_header(uint8_t *h, const struct seg_item *it, bool done)
{
	memset(h, 0, SEG_HDR_LEN);
	memcpy(h, SEG_MAGIC, 4);
	h[SEG_STATE_POS] = done ? SEG_DONE : SEG_LIVE;
	put_le32(h + 8, (uint32_t)it->len);
	put_le32(h + 12, it->crc);
	memcpy(h + 16, it->id, SPOOL_ID_LEN);
}

/* Add a record to the index (mutex held). */
static void
index_add(struct seg_state *st, struct seg *sg, const char *id, off_t payload,
    uint32_t len)
{
	struct rec *r = xcalloc(1, sizeof(*r)), **found;

	memcpy(r->id, id, SPOOL_ID_LEN);
	r->seg = sg;
	r->payload = payload;
	r->len = len;
	found = tsearch(r, &st->index, rec_cmp);
	if (found == NULL)
		PANIC("tsearch: out of memory");
	if (*found != r) { /* the same id twice: the later record wins */
		(*found)->seg->live--;
		free(*found);
		*found = r;
	} else
		st->nrecs++;
	sg->live++;
}

static struct seg *
seg_add(struct seg_state *st, uint64_t seq, int fd, off_t end)
{
	struct seg *sg = xcalloc(1, sizeof(*sg));

	sg->seq = seq;
	sg->fd = fd;
	sg->end = end;
	sg->next = st->segs;
	st->segs = sg;
	st->nsegs++;
	if (seq >= st->next_seq)
		st->next_seq = seq + 1;
	return sg;
}

/*
 * Read one segment's records into the index. Stops at the first record
 * that is not whole: nothing after it was ever synced as a batch end.
 */
static void
scan_segment(struct seg_state *st, struct seg *sg)
{
	uint8_t h[SEG_HDR_LEN], *p = NULL;
	char id[SPOOL_ID_MAX];
	size_t cap = 0;
	off_t off = 0;
	uint32_t len;
	size_t got;

	for (;;) {
		/* A read that fails ends the scan as a torn record would. */
		if (fsutil_pread_all(sg->fd, h, sizeof(h), off, &got) == -1 ||
		    got != sizeof(h) || memcmp(h, SEG_MAGIC, 4) != 0 ||
		    (h[SEG_STATE_POS] != SEG_LIVE &&
		        h[SEG_STATE_POS] != SEG_DONE))
			break;
		len = get_le32(h + 8);
		memcpy(id, h + 16, SPOOL_ID_LEN);
		id[SPOOL_ID_LEN] = '\0';
		if (len == 0 || len > SEG_REC_MAX || !spool_is_id(id))
			break;
		if (len > cap) {
			cap = len;
			p = xrealloc(p, cap);
		}
		if (fsutil_pread_all(sg->fd, p, len, off + SEG_HDR_LEN, &got) ==
		        -1 ||
		    got != len || seg_crc(id, p, len) != get_le32(h + 12))
			break;
		if (h[SEG_STATE_POS] == SEG_LIVE)
			index_add(st, sg, id, off + SEG_HDR_LEN, len);
		off += SEG_HDR_LEN + (off_t)len;
	}
	free(p);
	sg->end = off;
}

static void
seg_free_one(struct seg_state *st, struct seg *sg, bool unlink_it)
{
	char name[SEG_NAME_LEN + 1];
	struct seg **pp;

	for (pp = &st->segs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == sg) {
			*pp = sg->next;
			break;
		}
	if (unlink_it) {
		seg_name(sg->seq, name, sizeof(name));
		(void)unlinkat(st->dirfd, name, 0);
	}
	(void)close(sg->fd);
	st->nsegs--;
	free(sg);
}

static int
seg_cmp(const void *a, const void *b)
{
	uint64_t x = (*(struct seg *const *)a)->seq;
	uint64_t y = (*(struct seg *const *)b)->seq;

	return x < y ? -1 : x > y;
}

/* Open and index every segment file in seg/. */
static int
load_all(struct spool *sp, struct seg_state *st, struct why *why)
{
	struct seg *sg, *next;
	struct dirent *de;
	uint64_t seq;
	DIR *d;
	int dfd, fd;

	dfd = openat(st->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1 || (d = fdopendir(dfd)) == NULL) {
		if (dfd != -1)
			(void)close(dfd);
		return why_set(why, WHY_TEMP, errno, "open %s/seg", sp->dir);
	}
	while ((de = readdir(d)) != NULL) {
		if (!parse_seg_name(de->d_name, &seq))
			continue;
		/* Its number is taken even if it cannot be opened: a new
		 * segment of that name would fail every append (EEXIST). */
		if (seq >= st->next_seq)
			st->next_seq = seq + 1;
		fd = openat(st->dirfd, de->d_name,
		    (sp->readonly ? O_RDONLY : O_RDWR) | O_NOFOLLOW |
		        O_CLOEXEC);
		if (fd == -1) {
			log_warn("event=spool_segment_unreadable "
			         "segment=%016" PRIx64 " errno=%d action=skipped",
			    seq, errno);
			continue;
		}
		(void)seg_add(st, seq, fd, 0);
	}
	(void)closedir(d);
	/*
	 * Oldest first, so that a record found twice (never written so,
	 * but cheap to be sure of) ends with its newest copy.
	 */
	if (st->nsegs > 0) {
		size_t i = 0;
		struct seg **v = xcalloc(st->nsegs, sizeof(*v));

		for (sg = st->segs; sg != NULL; sg = sg->next)
			v[i++] = sg;
		qsort(v, i, sizeof(*v), seg_cmp);
		while (i-- > 0)
			scan_segment(st, v[st->nsegs - 1 - i]);
		free(v);
	}
	if (sp->readonly)
		return 0;
	for (sg = st->segs; sg != NULL; sg = next) {
		next = sg->next;
		if (sg->live == 0) {
			log_info("event=spool_segment_removed segment=%016" PRIx64
			         " reason=empty",
			    sg->seq);
			seg_free_one(st, sg, true);
		}
	}
	return 0;
}

/*
 * A crash while a record was settled (spool_queued.c): active/ID was
 * made durable before the record was marked, so a record with a file
 * beside it is done.
 */
static void
drop_if_settled(void *arg, const char *id)
{
	struct spool *sp = arg;

	if (faccessat(sp->actfd, id, F_OK, AT_EACCESS) == 0)
		(void)seg_drop(sp, id);
}

int
seg_open(struct spool *sp, struct why *why)
{
	struct seg_state *st = xcalloc(1, sizeof(*st));

	pthread_mutex_init(&st->mtx, NULL);
	st->dirfd = -1;
	sp->seg = st;
	if (!sp->readonly && mkdirat(sp->dirfd, "seg", 0700) == 0 &&
	    fsync(sp->dirfd) == -1)
		return why_set(why, WHY_TEMP, errno, "fsync %s", sp->dir);
	st->dirfd = openat(sp->dirfd, "seg",
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (st->dirfd == -1) {
		/* A spool from before segments, read by `tern queue`. */
		if (sp->readonly && errno == ENOENT)
			return 0;
		return why_set(why, WHY_TEMP, errno, "open %s/seg", sp->dir);
	}
	if (load_all(sp, st, why) == -1)
		return -1;
	if (!sp->readonly)
		seg_foreach(sp, drop_if_settled, sp);
	return 0;
}

static void
rec_free(void *p)
{
	free(p);
}

void
seg_close(struct spool *sp)
{
	struct seg_state *st = sp->seg;

	if (st == NULL)
		return;
	while (st->segs != NULL)
		seg_free_one(st, st->segs, false);
	tdestroy(st->index, rec_free);
	if (st->dirfd != -1)
		(void)close(st->dirfd);
	free(st->hdrs);
	pthread_mutex_destroy(&st->mtx);
	free(st);
	sp->seg = NULL;
}

/*
 * The segment to append to: a new one after every start (an old one may
 * end in a torn record) and whenever the current one is full.
 */
static int
current_segment(struct spool *sp, struct seg_state *st, struct why *why)
{
	char name[SEG_NAME_LEN + 1];
	struct seg *old = st->cur;
	int fd;

	if (old != NULL && old->end < (off_t)SEG_MAX_BYTES && !st->roll)
		return 0;
	seg_name(st->next_seq, name, sizeof(name));
	fd = openat(st->dirfd, name,
	    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return why_set(why, WHY_TEMP, errno, "create %s/seg/%s",
		    sp->dir, name);
	/* The new name must be durable before a 250 relies on the file. */
	if (fsync(st->dirfd) == -1) {
		why_set(why, WHY_TEMP, errno, "fsync %s/seg", sp->dir);
		(void)unlinkat(st->dirfd, name, 0);
		(void)close(fd);
		return -1;
	}
	pthread_mutex_lock(&st->mtx);
	st->cur = seg_add(st, st->next_seq, fd, 0);
	st->roll = false;
	/* A full segment nobody needs any more goes now. */
	if (old != NULL && old->live == 0)
		seg_free_one(st, old, true);
	pthread_mutex_unlock(&st->mtx);
	return 0;
}

int
seg_append(struct spool *sp, const struct seg_item *items, size_t n,
    struct why *why)
{
	struct seg_state *st = sp->seg;
	struct iovec iov[2 * IOV_BATCH];
	size_t i, j, k, want;
	off_t at;
	ssize_t w;

	if (st == NULL || st->dirfd == -1)
		return why_set(why, WHY_TEMP, EROFS, "no segment directory");
	if (current_segment(sp, st, why) == -1)
		return -1;
	if (n > st->hdrs_cap) {
		st->hdrs_cap = n;
		st->hdrs = xrealloc(st->hdrs, n * sizeof(*st->hdrs));
	}
	st->batch_at = at = st->cur->end;
	for (i = 0; i < n; i += k) {
		want = 0;
		for (k = 0; k < IOV_BATCH && i + k < n; k++) {
			seg_record_header(st->hdrs[i + k], &items[i + k], false);
			iov[2 * k].iov_base = st->hdrs[i + k];
			iov[2 * k].iov_len = SEG_HDR_LEN;
			iov[2 * k + 1].iov_base = (void *)items[i + k].data;
			iov[2 * k + 1].iov_len = items[i + k].len;
			want += SEG_HDR_LEN + items[i + k].len;
		}
		for (j = 0; want > 0;) {
			w = pwritev(st->cur->fd, iov + j, (int)(2 * k - j), at);
			if (w == -1 && errno == EINTR)
				continue;
			if (w <= 0) {
				why_set(why, WHY_TEMP, w == 0 ? EIO : errno,
				    "append to %s/seg", sp->dir);
				seg_unappend(sp);
				return -1;
			}
			at += w;
			want -= (size_t)w;
			/* A short write: skip what went, go on. */
			while (w > 0 && (size_t)w >= iov[j].iov_len) {
				w -= (ssize_t)iov[j].iov_len;
				j++;
			}
			if (w > 0) {
				iov[j].iov_base = (uint8_t *)iov[j].iov_base + w;
				iov[j].iov_len -= (size_t)w;
			}
		}
	}
	return st->cur->fd;
}

void
seg_publish(struct spool *sp, const struct seg_item *items, size_t n)
{
	struct seg_state *st = sp->seg;
	off_t at = st->batch_at;
	size_t i;

	pthread_mutex_lock(&st->mtx);
	for (i = 0; i < n; i++) {
		index_add(st, st->cur, items[i].id, at + SEG_HDR_LEN,
		    (uint32_t)items[i].len);
		at += SEG_HDR_LEN + (off_t)items[i].len;
	}
	st->cur->end = at;
	pthread_mutex_unlock(&st->mtx);
}

void
seg_unappend(struct spool *sp)
{
	struct seg_state *st = sp->seg;

	/* A failed cut leaves a record whose 250 was never sent: at worst
	 * a message delivered that its client will send again. */
	(void)ftruncate(st->cur->fd, st->batch_at);
	/*
	 * After a failed sync the file's cached pages cannot be trusted to
	 * reach the disk: new records go to a new segment.
	 */
	st->roll = true;
}

bool
seg_lookup(struct spool *sp, const char *id, struct seg_loc *loc)
{
	struct seg_state *st = sp->seg;
	struct rec key, **found;

	if (st == NULL || strlen(id) != SPOOL_ID_LEN)
		return false;
	memcpy(key.id, id, SPOOL_ID_LEN + 1);
	pthread_mutex_lock(&st->mtx);
	found = tfind(&key, &st->index, rec_cmp);
	if (found != NULL && loc != NULL) {
		loc->seq = (*found)->seg->seq;
		loc->payload = (*found)->payload;
		loc->len = (*found)->len;
	}
	pthread_mutex_unlock(&st->mtx);
	return found != NULL;
}

int
seg_open_file(struct spool *sp, const struct seg_loc *loc, int flags)
{
	char name[SEG_NAME_LEN + 1];

	seg_name(loc->seq, name, sizeof(name));
	return openat(sp->seg->dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC);
}

bool
seg_drop(struct spool *sp, const char *id)
{
	struct seg_state *st = sp->seg;
	struct rec key, **found, *r;
	static const char done = SEG_DONE;
	struct seg *sg;

	if (st == NULL || sp->readonly || strlen(id) != SPOOL_ID_LEN)
		return false;
	memcpy(key.id, id, SPOOL_ID_LEN + 1);
	pthread_mutex_lock(&st->mtx);
	found = tfind(&key, &st->index, rec_cmp);
	if (found == NULL) {
		pthread_mutex_unlock(&st->mtx);
		return false;
	}
	r = *found;
	(void)tdelete(&key, &st->index, rec_cmp);
	st->nrecs--;
	sg = r->seg;
	/* No sync: a lost mark means a second delivery, never a loss. */
	(void)pwrite(sg->fd, &done, 1,
	    r->payload - SEG_HDR_LEN + SEG_STATE_POS);
	free(r);
	if (--sg->live == 0 && sg != st->cur)
		seg_free_one(st, sg, true);
	pthread_mutex_unlock(&st->mtx);
	return true;
}

struct walk_ctx {
	char (*ids)[SPOOL_ID_MAX];
	size_t n;
};

static void
walk_rec(const void *node, VISIT v, void *arg)
{
	const struct rec *r = *(const struct rec *const *)node;
	struct walk_ctx *w = arg;

	if (v == postorder || v == leaf)
		memcpy(w->ids[w->n++], r->id, SPOOL_ID_MAX);
}

void
seg_foreach(struct spool *sp, void (*fn)(void *, const char *), void *arg)
{
	struct seg_state *st = sp->seg;
	struct walk_ctx w = { NULL, 0 };
	size_t i;

	if (st == NULL)
		return;
	/* Copied under the lock, called without it: fn may call us. */
	pthread_mutex_lock(&st->mtx);
	w.ids = xcalloc(st->nrecs + 1, sizeof(*w.ids));
	twalk_r(st->index, walk_rec, &w);
	pthread_mutex_unlock(&st->mtx);
	for (i = 0; i < w.n; i++)
		fn(arg, w.ids[i]);
	free(w.ids);
}

void
seg_counts(struct spool *sp, size_t *records, size_t *segments)
{
	struct seg_state *st = sp->seg;

	*records = *segments = 0;
	if (st == NULL)
		return;
	pthread_mutex_lock(&st->mtx);
	*records = st->nrecs;
	*segments = st->nsegs;
	pthread_mutex_unlock(&st->mtx);
}
