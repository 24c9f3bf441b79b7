/* SPDX-License-Identifier: ISC */
/*
 * deliver/mtasts_cache.c - the durable MTA-STS policy cache (see
 * mtasts_cache.h): its file format, the decision of RFC 8461 5.1, and
 * fd-relative reads and atomic writes.
 */
#include "deliver/mtasts_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "util/str.h"

#define MAGIC "tern-mta-sts 1\n"
/* Unix seconds until the year 30 000 000 000; no overflow in int64_t. */
#define TIME_DIGITS_MAX 18

bool
mtasts_cache_name_ok(const char *d)
{
	size_t i, n = strlen(d);

	if (n == 0 || n > 253 || d[0] == '.' || d[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d[i];

		if (c == '.' && d[i + 1] == '.')
			return false;
		if (!ascii_is_alnum(c) && c != '-' && c != '_' && c != '.')
			return false;
	}
	return true;
}

static bool
id_ok(const char *id)
{
	size_t i, n = strlen(id);

	if (n == 0 || n > MTASTS_ID_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!ascii_is_alnum((unsigned char)id[i]))
			return false;
	return true;
}

int
mtasts_cache_format(const char *id, int64_t fetched, const char *body,
    size_t len, struct buf *out, struct why *why)
{
	if (!id_ok(id))
		return why_set(why, WHY_PERM, 0, "mta-sts cache: bad id");
	if (len > MTASTS_POLICY_MAX)
		return why_set(why, WHY_PERM, 0,
		    "mta-sts cache: body over "
		    "%d bytes",
		    MTASTS_POLICY_MAX);
	if (fetched < 0)
		return why_set(why, WHY_PERM, 0, "mta-sts cache: bad time");
	buf_clear(out);
	if (buf_printf(out, MAGIC "id: %s\nfetched: %" PRId64 "\n\n", id,
	        fetched) == -1 ||
	    buf_append(out, body, len) == -1)
		return buf_why(why, "mta-sts cache: file too large");
	return 0;
}

/*
 * The line "<key>: <value>\n" at *p (n bytes left): the value's start
 * and length, *p moved past the LF. false when the line is not that.
 */
static bool
head_line(const char **p, size_t *n, const char *key, const char **val,
    size_t *vlen)
{
	size_t k = strlen(key);
	const char *lf;

	if (*n < k + 2 || memcmp(*p, key, k) != 0 || (*p)[k] != ':' ||
	    (*p)[k + 1] != ' ')
		return false;
	if ((lf = memchr(*p, '\n', *n)) == NULL)
		return false;
	*val = *p + k + 2;
	*vlen = (size_t)(lf - *val);
	*n -= (size_t)(lf + 1 - *p);
	*p = lf + 1;
	return true;
}

static bool
time_parse(const char *v, size_t n, int64_t *out)
{
	int64_t t = 0;
	size_t i;

	if (n == 0 || n > TIME_DIGITS_MAX)
		return false;
	for (i = 0; i < n; i++) {
		if (!ascii_is_digit((unsigned char)v[i]))
			return false;
		t = t * 10 + (v[i] - '0');
	}
	*out = t;
	return true;
}

int
mtasts_cache_parse(const char *p, size_t n, struct mtasts_cache_entry *out,
    struct why *why)
{
	const char *v;
	size_t vlen, i;

	memset(out, 0, sizeof(*out));
	if (n > MTASTS_CACHE_FILE_MAX)
		return why_set(why, WHY_PERM, 0,
		    "mta-sts cache: file too "
		    "large");
	if (n < strlen(MAGIC) || memcmp(p, MAGIC, strlen(MAGIC)) != 0)
		return why_set(why, WHY_PERM, 0,
		    "mta-sts cache: not a cache "
		    "file");
	p += strlen(MAGIC);
	n -= strlen(MAGIC);
	if (!head_line(&p, &n, "id", &v, &vlen) || vlen == 0 ||
	    vlen > MTASTS_ID_MAX)
		return why_set(why, WHY_PERM, 0, "mta-sts cache: bad id line");
	for (i = 0; i < vlen; i++)
		if (!ascii_is_alnum((unsigned char)v[i]))
			return why_set(why, WHY_PERM, 0,
			    "mta-sts cache: bad "
			    "id");
	memcpy(out->id, v, vlen);
	out->id[vlen] = '\0';
	if (!head_line(&p, &n, "fetched", &v, &vlen) ||
	    !time_parse(v, vlen, &out->fetched))
		return why_set(why, WHY_PERM, 0,
		    "mta-sts cache: bad fetched "
		    "line");
	if (n == 0 || p[0] != '\n')
		return why_set(why, WHY_PERM, 0,
		    "mta-sts cache: no blank "
		    "line before the policy");
	p++;
	n--;
	if (n > MTASTS_POLICY_MAX)
		return why_set(why, WHY_PERM, 0,
		    "mta-sts cache: policy too "
		    "large");
	if (mtasts_policy_parse(p, n, &out->policy, why) == -1)
		return -1;
	return 0;
}

bool
mtasts_cache_expired(const struct mtasts_cache_entry *e, int64_t now)
{
	/* A fetch "in the future" (the clock was set back, or a file made
	 * by hand) could keep a policy for ever: fetch it again. */
	if (e->fetched > now)
		return true;
	return now - e->fetched >= (int64_t)e->policy.max_age;
}

enum mtasts_cache_action
mtasts_cache_decide(const struct mtasts_cache_entry *cached, const char *txt_id,
    int64_t now)
{
	bool valid = cached != NULL && !mtasts_cache_expired(cached, now);

	if (txt_id == NULL)
		return valid ? MTASTS_USE_CACHED : MTASTS_USE_NONE;
	if (valid && strcmp(cached->id, txt_id) == 0)
		return MTASTS_USE_CACHED;
	return MTASTS_FETCH;
}

bool
mtasts_cache_on_failure(const struct mtasts_cache_entry *cached, int64_t now)
{
	return cached != NULL && !mtasts_cache_expired(cached, now);
}

/* ---- I/O ---------------------------------------------------------- */

static int
read_capped(int fd, char *dst, size_t cap, size_t *n_out)
{
	size_t n = 0;
	ssize_t r;

	for (;;) {
		if (n == cap)
			break;
		r = read(fd, dst + n, cap - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*n_out = n;
	return 0;
}

int
mtasts_cache_load(int dirfd, const char *domain, struct mtasts_cache_entry *out,
    struct why *why)
{
	struct stat st;
	char *data;
	size_t n;
	int fd, rc;

	if (!mtasts_cache_name_ok(domain))
		return why_set(why, WHY_PERM, 0,
		    "mta-sts cache: not a name "
		    "for a file");
	fd = openat(dirfd, domain,
	    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1 && errno == ENOENT)
		return 0;
	if (fd == -1)
		return why_set(why, WHY_TEMP, errno, "mta-sts cache: open %s",
		    domain);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		(void)close(fd);
		return why_set(why, WHY_TEMP, 0,
		    "mta-sts cache: %s is not a "
		    "regular file",
		    domain);
	}
	/* One byte more than allowed tells "too large" from "just fits". */
	data = malloc(MTASTS_CACHE_FILE_MAX + 1);
	if (data == NULL) {
		(void)close(fd);
		return why_set(why, WHY_TEMP, ENOMEM, "mta-sts cache");
	}
	rc = read_capped(fd, data, MTASTS_CACHE_FILE_MAX + 1, &n);
	(void)close(fd);
	if (rc == -1)
		rc = why_set(why, WHY_TEMP, errno, "mta-sts cache: read %s",
		    domain);
	else
		rc = mtasts_cache_parse(data, n, out, why) == 0 ? 1 : -1;
	free(data);
	return rc;
}

int
mtasts_cache_store(int dirfd, const char *domain, const char *id,
    int64_t fetched, const char *body, size_t len, struct why *why)
{
	static atomic_uint seq;
	char tmp[64];
	struct buf b;
	int fd, n;

	if (!mtasts_cache_name_ok(domain))
		return why_set(why, WHY_PERM, 0,
		    "mta-sts cache: not a name "
		    "for a file");
	buf_init(&b, MTASTS_CACHE_FILE_MAX);
	if (mtasts_cache_format(id, fetched, body, len, &b, why) == -1) {
		buf_reset(&b);
		return -1;
	}
	/* A leading dot: never a domain (mtasts_cache_name_ok()). */
	n = snprintf(tmp, sizeof(tmp), ".tmp.%ld.%u", (long)getpid(),
	    atomic_fetch_add(&seq, 1));
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		buf_reset(&b);
		return why_set(why, WHY_TEMP, 0, "mta-sts cache: tmp name");
	}
	fd = openat(dirfd, tmp,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		buf_reset(&b);
		return why_set(why, WHY_TEMP, errno,
		    "mta-sts cache: create "
		    "%s",
		    tmp);
	}
	if (fsutil_write_all(fd, b.data, b.len) == -1 || fsync(fd) == -1) {
		why_set(why, WHY_TEMP, errno, "mta-sts cache: write %s", tmp);
		(void)close(fd);
		goto fail;
	}
	(void)close(fd); /* after fsync, close cannot lose data */
	if (renameat(dirfd, tmp, dirfd, domain) == -1) {
		why_set(why, WHY_TEMP, errno, "mta-sts cache: rename to %s",
		    domain);
		goto fail;
	}
	buf_reset(&b);
	/* A lost rename costs one more fetch, nothing else. */
	if (fsync(dirfd) == -1)
		return why_set(why, WHY_TEMP, errno, "mta-sts cache: fsync");
	return 0;
fail:
	(void)unlinkat(dirfd, tmp, 0);
	buf_reset(&b);
	return -1;
}
