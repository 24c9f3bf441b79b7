/* SPDX-License-Identifier: ISC */
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "util/str.h"
#include "util/utf8.h"

#define LOG_LINE_MAX 4096
/* What a line cut to LOG_LINE_MAX ends with, after its last whole field. */
#define LOG_CUT_MARK " truncated=yes"

static int log_fd = 2;
static long log_pid; /* tern never forks after start-up: cache getpid() */
static pthread_once_t log_pid_once = PTHREAD_ONCE_INIT;

static void
log_pid_init(void)
{
	log_pid = (long)getpid();
}
static char *log_path;
static bool verbose;
static pthread_mutex_t log_mtx = PTHREAD_MUTEX_INITIALIZER;

int
log_open(const char *path, struct why *why)
{
	int fd;

	if (path == NULL) {
		log_fd = 2;
		return 0;
	}
	/* Opened as root at start: see fsutil_open_private() for why. */
	fd =
	    fsutil_open_private(path, O_WRONLY | O_APPEND | O_CREAT, 0640, why);
	if (fd == -1)
		return -1;
	pthread_mutex_lock(&log_mtx);
	if (log_fd != 2)
		(void)close(log_fd);
	log_fd = fd;
	if (log_path != path) {
		free(log_path);
		log_path = strdup(path);
	}
	pthread_mutex_unlock(&log_mtx);
	return 0;
}

int
log_reopen(struct why *why)
{
	if (log_path == NULL)
		return 0;
	return log_open(log_path, why);
}

void
log_set_verbose(bool v)
{
	verbose = v;
}

bool
log_is_verbose(void)
{
	return verbose;
}

/*
 * A body longer than its room: keep the fields that fit whole (a space
 * outside quotes ends a field) and say so, so the line still parses.
 * Returns the new length of body, which has room for at least max bytes.
 */
static size_t
cut_fields(char *body, size_t max)
{
	size_t i, end = 0, room = max - (sizeof(LOG_CUT_MARK) - 1);
	bool inq = false;

	for (i = 0; i < room; i++) {
		if (inq && body[i] == '\\')
			i++; /* an escape: its next byte is not a quote */
		else if (body[i] == '"')
			inq = !inq;
		else if (!inq && body[i] == ' ')
			end = i;
	}
	if (end == 0) /* not even the event: say that much */
		return strlcpy(body, "event=log_truncated", max + 1);
	memcpy(body + end, LOG_CUT_MARK, sizeof(LOG_CUT_MARK) - 1);
	return end + sizeof(LOG_CUT_MARK) - 1;
}

static void
vlog(const char *level, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	size_t off, i, room;
	int n, saved = errno;

	(void)pthread_once(&log_pid_once, log_pid_init);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	off = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line + off, sizeof(line) - off, ".%03ldZ tern[%ld]: %s ",
	    ts.tv_nsec / 1000000, log_pid, level);
	if (n > 0 && (size_t)n < sizeof(line) - off)
		off += (size_t)n;
	room = sizeof(line) - off - 1; /* and the newline */
	n = vsnprintf(line + off, room, fmt, ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= room)
		n = (int)cut_fields(line + off, room - 1);
	/*
	 * Values are escaped by their callers (log_esc()); a raw control
	 * byte here is a caller's bug. Never let it split the line.
	 */
	for (i = off; i < off + (size_t)n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	off += (size_t)n;
	line[off++] = '\n';
	(void)!write(log_fd, line, off);
	errno = saved;
}

#define LOG_FN(name, level, cond)                                          \
	void name(const char *fmt, ...)                                    \
	{                                                                  \
		va_list ap;                                                \
		if (!(cond))                                               \
			return;                                            \
		va_start(ap, fmt);                                         \
		vlog(level, fmt, ap);                                      \
		va_end(ap);                                                \
	}

LOG_FN(log_debug, "debug", verbose)
LOG_FN(log_info, "info", true)
LOG_FN(log_warn, "warn", true)
LOG_FN(log_crit, "crit", true)

void
fatal(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "tern: %s\n", msg);
	if (log_fd != 2)
		log_crit("event=fatal msg=%s", LOG_ESC(msg));
	exit(1);
}

void
log_panic(const char *file, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_crit("event=panic file=%s line=%d msg=%s", LOG_ESC(file), line,
	    LOG_ESC(msg));
	abort();
}

/* ---- the one rule for a value (log.h) ----------------------------- */

/* The longest escaped form of one character: \u{NNNN}. */
#define ESC_ONE_MAX 8

/* Bytes a bare value may hold: printable ASCII but space, `"`, `\`, `=`. */
static bool
is_bare(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != '"' && c != '\\' && c != '=';
}

/*
 * The quoted form of the character at p[0..n) (n > 0) into out; *used is
 * the count of bytes it stands for. Returns the length of out.
 */
static size_t
esc_one(const unsigned char *p, size_t n, char out[ESC_ONE_MAX], size_t *used)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char c = p[0];
	uint32_t cp;
	size_t len;

	*used = 1;
	if (c >= 0x20 && c < 0x7f) {
		if (c != '"' && c != '\\') {
			out[0] = (char)c;
			return 1;
		}
		out[0] = '\\';
		out[1] = (char)c;
		return 2;
	}
	if (c >= 0x80 && (len = utf8_decode(p, n, &cp)) != 0) {
		*used = len;
		if (!utf8_is_hidden(cp)) {
			memcpy(out, p, len);
			return len;
		}
		/* Every hidden code point is below U+10000: four digits. */
		out[0] = '\\';
		out[1] = 'u';
		out[2] = '{';
		out[3] = hex[(cp >> 12) & 15];
		out[4] = hex[(cp >> 8) & 15];
		out[5] = hex[(cp >> 4) & 15];
		out[6] = hex[cp & 15];
		out[7] = '}';
		return 8;
	}
	/* A control byte, or a byte that does not start well-formed UTF-8. */
	out[0] = '\\';
	out[1] = 'x';
	out[2] = hex[c >> 4];
	out[3] = hex[c & 15];
	return 4;
}

/*
 * pre, s[0..n), post as one value. pre and post are our own bare bytes
 * (`<` and `>`, at most one each); only s decides the quoting.
 */
static const char *
esc(char *dst, size_t dstsz, const char *pre, const unsigned char *s, size_t n,
    const char *post)
{
	size_t i, k, used, o = 0, room, lim, ok;
	size_t npre = strlen(pre), npost = strlen(post);
	char one[ESC_ONE_MAX];
	bool quote;

	ASSERT(dstsz >= LOG_ESC_MIN && npre <= 1 && npost <= 1);
	for (i = 0; i < n && is_bare(s[i]); i++)
		;
	quote = i < n || npre + n + npost == 0;
	if (!quote && npre + n + npost < dstsz) { /* the usual case */
		memcpy(dst, pre, npre);
		memcpy(dst + npre, s, n);
		memcpy(dst + npre + n, post, npost + 1);
		return dst;
	}
	/* room: for the whole value; lim: for a cut one, which ends "...". */
	room = dstsz - 1 - npost - (quote ? 1 : 0);
	lim = room - 3;
	if (quote)
		dst[o++] = '"';
	memcpy(dst + o, pre, npre);
	o += npre;
	ok = o; /* the end of the last whole character a cut may keep */
	for (i = 0; i < n; i += used) {
		used = 1;
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' &&
		    s[i] != '\\') {
			if (o + 1 > room)
				goto cut;
			dst[o++] = (char)s[i];
		} else {
			k = esc_one(s + i, n - i, one, &used);
			if (o + k > room)
				goto cut;
			memcpy(dst + o, one, k);
			o += k;
		}
		if (o <= lim)
			ok = o;
	}
	goto tail;
cut: /* never half a character or half an escape */
	memcpy(dst + ok, "...", 3);
	o = ok + 3;
tail:
	memcpy(dst + o, post, npost);
	o += npost;
	if (quote)
		dst[o++] = '"';
	dst[o] = '\0';
	return dst;
}

const char *
log_esc(char *dst, size_t dstsz, const void *p, size_t n)
{
	return esc(dst, dstsz, "", p, n, "");
}

const char *
log_escs(char *dst, size_t dstsz, const char *s)
{
	if (s == NULL)
		s = "-";
	return esc(dst, dstsz, "", (const unsigned char *)s, strlen(s), "");
}

const char *
log_esc_addr(char *dst, size_t dstsz, const char *addr)
{
	if (addr == NULL)
		return log_escs(dst, dstsz, NULL);
	return esc(dst, dstsz, "<", (const unsigned char *)addr, strlen(addr),
	    ">");
}
