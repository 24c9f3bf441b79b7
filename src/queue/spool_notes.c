/* SPDX-License-Identifier: ISC */
/*
 * queue/spool_notes.c - the notes of a queued message (spool.h: retry
 * count and next attempt, each recipient's last error, hold, warned):
 * one side file in notes/ per message, rewritten whole and never
 * synced: losing it in a crash loses an explanation or a retry time,
 * never mail (the envelope holds what must survive).
 * Trust: our own files; a malformed line is skipped.
 */
#include "queue/spool-private.h"
#include "queue/spool_seg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

/*
 * Read the notes side file of id into a buffer; an absent file is empty.
 * -1 (b reset) only when memory is short: notes left out would undo a
 * hold or a retry time, so the caller must not go on without them.
 */
int
spool_notes_read(struct spool *sp, const char *id, struct buf *b)
{
	char chunk[4096];
	ssize_t r;
	int fd;

	buf_init(b, NOTES_MAX);
	fd = openat(sp->notefd, id, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return 0;
	while ((r = read(fd, chunk, sizeof(chunk))) > 0) {
		if (buf_append(b, chunk, (size_t)r) == -1) {
			if (errno == ENOMEM) {
				(void)close(fd);
				buf_reset(b);
				return -1;
			}
			buf_clear(b); /* too big to be ours: start over */
			break;
		}
		/*
		 * A short read of a regular file is its end: no read() just
		 * to see 0 (`tern queue list` reads 100,000 of these). A
		 * file replaced meanwhile is another version either way.
		 */
		if ((size_t)r < sizeof(chunk))
			break;
	}
	(void)close(fd);
	return 0;
}

struct names {
	char (*v)[SPOOL_ID_MAX];
	size_t n, cap;
};

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
unlink_note(struct spool *sp, const char *name)
{
	if (unlinkat(sp->notefd, name, 0) == 0)
		log_info("event=spool_cleanup dir=notes file=%s",
		    spool_is_id(name) ? name : "(other)");
}

/*
 * The queue ids named in directory dfd, sorted. With sp, every other
 * name (but dot files) is a leftover in notes/ (a half-written ID.tmp)
 * and is removed at once. -1 when the directory cannot be read.
 */
static int
read_ids(int dfd, struct names *ids, struct spool *sp)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (!spool_is_id(de->d_name)) {
			if (sp != NULL)
				unlink_note(sp, de->d_name);
			continue;
		}
		if (ids->n == ids->cap) {
			ids->cap = ids->cap ? ids->cap * 2 : 256;
			ids->v = xrealloc(ids->v, ids->cap * sizeof(*ids->v));
		}
		memcpy(ids->v[ids->n++], de->d_name, SPOOL_ID_LEN + 1);
	}
	(void)closedir(d);
	if (ids->n > 1)
		qsort(ids->v, ids->n, sizeof(*ids->v), cmp_name);
	return 0;
}

void
spool_notes_clean(struct spool *sp)
{
	struct names act = { 0 }, notes = { 0 };
	size_t i, j = 0;
	int c = 1;

	if (read_ids(sp->actfd, &act, NULL) == -1 ||
	    read_ids(sp->notefd, &notes, sp) == -1)
		goto done; /* housekeeping only: the next start tries again */
	/* Both sorted: one merge, no lookup per note. */
	for (i = 0; i < notes.n; i++) {
		while (j < act.n && (c = strcmp(act.v[j], notes.v[i])) < 0)
			j++;
		/* Not in active/: maybe a record in a segment (in memory). */
		if ((j == act.n || c != 0) && !seg_lookup(sp, notes.v[i], NULL))
			unlink_note(sp, notes.v[i]);
	}
done:
	free(act.v);
	free(notes.v);
}

/* Advisory data: a malformed line is skipped, never an error. */
void
spool_notes_apply(const struct buf *b, struct spool_env *env)
{
	const uint8_t *line, *f[3];
	size_t len, fl[3], pos = 0;
	uint64_t v, idx;

	while (b->len > 0 && spool_next_line(b->data, b->len, &pos, &line, &len)) {
		if (!spool_split(line, len, 2, f, fl) && !spool_split(line, len, 3, f, fl))
			continue;
		if (fl[0] == 8 && memcmp(f[0], "attempts", 8) == 0 &&
		    spool_split(line, len, 2, f, fl) &&
		    spool_parse_num(f[1], fl[1], UINT32_MAX, &v))
			env->attempts = (unsigned)v;
		else if (fl[0] == 4 && memcmp(f[0], "next", 4) == 0 &&
		         spool_split(line, len, 2, f, fl) &&
		         spool_parse_num(f[1], fl[1], ARRIVAL_MAX, &v))
			env->next_attempt = (time_t)v;
		else if (fl[0] == 6 && memcmp(f[0], "warned", 6) == 0 &&
		         spool_split(line, len, 2, f, fl))
			env->warned = true;
		else if (fl[0] == 4 && memcmp(f[0], "hold", 4) == 0 &&
		         spool_split(line, len, 2, f, fl))
			env->held = fl[1] != 1 || f[1][0] != '0'; /* "hold 0" */
		else if (fl[0] == 5 && memcmp(f[0], "error", 5) == 0 &&
		         spool_split(line, len, 3, f, fl) &&
		         spool_parse_num(f[1], fl[1], SPOOL_RCPTS_MAX, &idx) &&
		         idx < env->nrcpts) {
			free(env->rcpts[idx].last_error);
			env->rcpts[idx].last_error =
			    spool_dec(f[2], fl[2], SPOOL_NOTE_MAX);
		}
	}
}

/*
 * Replace the notes file of id with `add` followed by the old lines that
 * start with none of the prefixes in `drop` (NULL-terminated).
 */
static int
notes_rewrite(struct spool *sp, const char *id, const char *const *drop,
    const struct buf *add, struct why *why)
{
	struct buf old, out;
	const uint8_t *line;
	size_t len, pos = 0, i;
	char tmp[SPOOL_ID_MAX + 8];
	int fd, rc = -1;

	if (sp->readonly)
		return why_set(why, WHY_TEMP, EROFS, "spool opened read-only");
	if (spool_check_id(id, why) == -1)
		return -1;
	if (spool_notes_read(sp, id, &old) == -1)
		return why_set(why, WHY_TEMP, ENOMEM, "read notes/%s", id);
	buf_init(&out, NOTES_MAX);
	if (buf_append(&out, add->data, add->len) == -1) {
		buf_why(why, "note too long");
		goto done;
	}
	while (old.len > 0 && spool_next_line(old.data, old.len, &pos, &line, &len)) {
		for (i = 0; drop[i] != NULL; i++)
			if (len >= strlen(drop[i]) &&
			    memcmp(line, drop[i], strlen(drop[i])) == 0)
				break;
		if (drop[i] != NULL)
			continue;
		if (buf_append(&out, line, len + 1) == -1) {
			if (errno == ENOMEM) { /* never drop an old note */
				buf_why(why, "notes too long");
				goto done;
			}
			break; /* full: the newest note still made it */
		}
	}
	(void)snprintf(tmp, sizeof(tmp), "%s.tmp", id);
	fd = openat(sp->notefd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		why_set(why, WHY_TEMP, errno, "create notes/%s", tmp);
		goto done;
	}
	if (fsutil_write_all(fd, out.data, out.len) == -1) {
		why_set(why, WHY_TEMP, errno, "write notes/%s", tmp);
		(void)close(fd);
		(void)unlinkat(sp->notefd, tmp, 0);
		goto done;
	}
	(void)close(fd);
	/* Rename so a reader (`tern queue`) never sees half a file. */
	if (renameat(sp->notefd, tmp, sp->notefd, id) == -1) {
		why_set(why, WHY_TEMP, errno, "rename notes/%s", tmp);
		(void)unlinkat(sp->notefd, tmp, 0);
		goto done;
	}
	rc = 0;
done:
	buf_reset(&old);
	buf_reset(&out);
	return rc;
}

int
spool_note_error(struct spool *sp, const char *id, size_t idx, const char *text,
    struct why *why)
{
	char pfx[32], t[SPOOL_NOTE_MAX + 1];
	const char *drop[2] = { pfx, NULL };
	struct buf add;
	int rc;

	if (idx >= SPOOL_RCPTS_MAX)
		return why_set(why, WHY_PERM, 0, "bad recipient index");
	(void)strlcpy(t, text != NULL ? text : "", sizeof(t));
	(void)snprintf(pfx, sizeof(pfx), "error %zu ", idx);
	buf_init(&add, 4 * SPOOL_NOTE_MAX);
	if (buf_append_str(&add, pfx) == -1 || spool_enc(&add, t) == -1 ||
	    buf_append(&add, "\n", 1) == -1) {
		buf_why(why, "note too long");
		buf_reset(&add);
		return -1;
	}
	rc = notes_rewrite(sp, id, drop, &add, why);
	buf_reset(&add);
	return rc;
}

int
spool_note_retry(struct spool *sp, const char *id, unsigned attempts,
    time_t next_attempt, struct why *why)
{
	static const char *const drop[] = { "attempts ", "next ", NULL };
	struct buf add;
	int rc;

	buf_init(&add, 128);
	if (buf_printf(&add, "attempts %u\nnext %lld\n", attempts,
	        (long long)(next_attempt < 0 ? 0 : next_attempt)) == -1)
		rc = buf_why(why, "note too long");
	else
		rc = notes_rewrite(sp, id, drop, &add, why);
	buf_reset(&add);
	return rc;
}

int
spool_note_warned(struct spool *sp, const char *id, struct why *why)
{
	static const char *const drop[] = { "warned ", NULL };
	struct buf add;
	int rc;

	buf_init(&add, 32);
	if (buf_append_str(&add, "warned 1\n") == -1)
		rc = buf_why(why, "note too long");
	else
		rc = notes_rewrite(sp, id, drop, &add, why);
	buf_reset(&add);
	return rc;
}

int
spool_note_hold(struct spool *sp, const char *id, bool hold, struct why *why)
{
	static const char *const drop[] = { "hold ", NULL };
	struct buf add;
	int rc;

	buf_init(&add, 32);
	/* "hold 0" also overrides a hold in the envelope (spool_msg_new). */
	if (buf_append_str(&add, hold ? "hold 1\n" : "hold 0\n") == -1)
		rc = buf_why(why, "note too long");
	else
		rc = notes_rewrite(sp, id, drop, &add, why);
	buf_reset(&add);
	return rc;
}
