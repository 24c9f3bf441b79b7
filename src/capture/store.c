/* SPDX-License-Identifier: ISC */
/* capture/store.c - the captured messages, a bounded ring (store.h). */
#include "capture/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/check.h"
#include "capture/view.h"
#include "msg/mimetree.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define FIELD_MAX 4096 /* bytes of a Subject, From or To value kept */

struct cap_store {
	struct cap_msg **ring; /* ring[(head + i) % max], i < n: oldest first */
	size_t max, head, n;
	uint64_t max_bytes, bytes; /* cap (0: none) and held now */
	uint64_t next_id;
	char *dir;
};

/* The N of a file name "N.eml" (1 to 20 digits, below UINT64_MAX), or 0. */
static uint64_t
eml_id(const char *name)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; name[i] >= '0' && name[i] <= '9'; i++) {
		unsigned d = (unsigned)(name[i] - '0');

		if (i == 20 || v > (UINT64_MAX - 1 - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	return i > 0 && strcmp(name + i, ".eml") == 0 ? v : 0;
}

/*
 * The highest N of the DIR/N.eml already there (a previous run's), so
 * that the ids go on after it: mail of that run is neither overwritten
 * nor, having an id this run never gives, ever removed.
 */
static uint64_t
highest_id(const char *dir)
{
	DIR *d = opendir(dir);
	const struct dirent *e;
	uint64_t top = 0, v;

	if (d == NULL)
		return 0; /* the write of each file will say why */
	while ((e = readdir(d)) != NULL)
		if ((v = eml_id(e->d_name)) > top)
			top = v;
	(void)closedir(d);
	return top;
}

struct cap_store *
cap_store_new(size_t max, uint64_t max_bytes, const char *dir)
{
	struct cap_store *s = xcalloc(1, sizeof(*s));

	s->max = max > 0 ? max : 1;
	s->max_bytes = max_bytes;
	s->ring = xcalloc(s->max, sizeof(*s->ring));
	s->next_id = 1;
	s->dir = dir != NULL ? xstrdup(dir) : NULL;
	if (dir != NULL)
		s->next_id = highest_id(dir) + 1;
	return s;
}

void
cap_msg_free(struct cap_msg *m)
{
	size_t i;

	if (m == NULL)
		return;
	free(m->from);
	for (i = 0; i < m->nto; i++)
		free(m->to[i]);
	free(m->to);
	free(m->helo);
	free(m->auth);
	free(m->data);
	free(m->subject);
	free(m->header_from);
	free(m->header_to);
	free(m->problems);
	free(m);
}

void
cap_store_free(struct cap_store *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++)
		cap_msg_free(s->ring[(s->head + i) % s->max]);
	free(s->ring);
	free(s->dir);
	free(s);
}

static char *
field(const struct cap_msg *m, const char *name, bool decode)
{
	struct buf v, d;
	const char *p;
	char *r;

	buf_init(&v, FIELD_MAX);
	buf_init(&d, FIELD_MAX * 2);
	(void)cap_view_field(m->data, m->len, name, &v);
	p = v.data != NULL ? (const char *)v.data : "";
	if (decode && mimetree_words_decode(p, v.len, &d) == 0)
		r = xstrndup(d.len > 0 ? (const char *)d.data : "", d.len);
	else
		r = xstrndup(v.len > 0 ? (const char *)v.data : "", v.len);
	buf_reset(&v);
	buf_reset(&d);
	return r;
}

static void
file_path(const struct cap_store *s, uint64_t id, char *dst, size_t dstsz)
{
	(void)snprintf(dst, dstsz, "%s/%" PRIu64 ".eml", s->dir, id);
}

/* DIR/ID.eml, never over a file that is there (not ours); sets
 * m->in_dir when the file is ours to remove later. */
static void
write_file(const struct cap_store *s, struct cap_msg *m)
{
	char path[4096];
	int fd;

	file_path(s, m->id, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0640);
	m->in_dir = fd != -1;
	if (fd == -1 || fsutil_write_all(fd, m->data, m->len) == -1)
		log_warn("event=capture_write_failed path=%s error=%s",
		    LOG_ESC(path), LOG_ESC(strerror(errno)));
	if (fd != -1)
		(void)close(fd);
}

static void
remove_file(const struct cap_store *s, const struct cap_msg *m)
{
	char path[4096];

	if (s->dir == NULL || !m->in_dir)
		return;
	file_path(s, m->id, path, sizeof(path));
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("event=capture_unlink_failed path=%s error=%s",
		    LOG_ESC(path), LOG_ESC(strerror(errno)));
}

const struct cap_msg *
cap_store_add(struct cap_store *s, struct cap_msg *m,
    const struct cap_problem *extra, size_t nextra)
{
	size_t i;

	m->id = s->next_id++;
	m->received = time(NULL);
	m->subject = field(m, "Subject", true);
	m->header_from = field(m, "From", false);
	m->header_to = field(m, "To", false);
	m->problems = xcalloc(CAP_PROBLEMS_MAX, sizeof(*m->problems));
	m->nproblems =
	    cap_check(m->data, m->len, m->nto, m->problems, CAP_PROBLEMS_MAX);
	for (i = 0; i < nextra && m->nproblems < CAP_PROBLEMS_MAX; i++)
		m->problems[m->nproblems++] = extra[i];
	/* Full (count or bytes): the oldest give way (documented). */
	while (s->n > 0 && (s->n == s->max ||
	                       (s->max_bytes > 0 &&
	                           s->bytes + m->len > s->max_bytes))) {
		struct cap_msg *old = s->ring[s->head];

		s->bytes -= old->len;
		remove_file(s, old);
		cap_msg_free(old);
		s->head = (s->head + 1) % s->max;
		s->n--;
	}
	s->ring[(s->head + s->n) % s->max] = m;
	s->n++;
	s->bytes += m->len;
	if (s->dir != NULL)
		write_file(s, m);
	return m;
}

const struct cap_msg *
cap_store_nth(const struct cap_store *s, size_t i)
{
	if (i >= s->n)
		return NULL;
	return s->ring[(s->head + s->n - 1 - i) % s->max];
}

size_t
cap_store_count(const struct cap_store *s)
{
	return s->n;
}

/* The ring position of id (0 = oldest), or SIZE_MAX. Ids grow along
 * the ring, so a binary search would do; the ring is small enough. */
static size_t
find(const struct cap_store *s, uint64_t id)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->ring[(s->head + i) % s->max]->id == id)
			return i;
	return SIZE_MAX;
}

const struct cap_msg *
cap_store_get(const struct cap_store *s, uint64_t id)
{
	size_t i = find(s, id);

	return i == SIZE_MAX ? NULL : s->ring[(s->head + i) % s->max];
}

bool
cap_store_delete(struct cap_store *s, uint64_t id)
{
	size_t i = find(s, id), j;

	if (i == SIZE_MAX)
		return false;
	s->bytes -= s->ring[(s->head + i) % s->max]->len;
	remove_file(s, s->ring[(s->head + i) % s->max]);
	cap_msg_free(s->ring[(s->head + i) % s->max]);
	/* Close the gap: the newer ones move one place back. */
	for (j = i; j + 1 < s->n; j++)
		s->ring[(s->head + j) % s->max] =
		    s->ring[(s->head + j + 1) % s->max];
	s->n--;
	return true;
}

size_t
cap_store_delete_all(struct cap_store *s)
{
	size_t n = s->n, i;

	for (i = 0; i < n; i++) {
		struct cap_msg *m = s->ring[(s->head + i) % s->max];

		remove_file(s, m);
		cap_msg_free(m);
	}
	s->head = 0;
	s->n = 0;
	s->bytes = 0;
	return n;
}

uint64_t
cap_store_bytes(const struct cap_store *s)
{
	return s->bytes;
}
