/* SPDX-License-Identifier: ISC */
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

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
log_open(const char *path)
{
	int fd;

	if (path == NULL) {
		log_fd = 2;
		return 0;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
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
log_reopen(void)
{
	if (log_path == NULL)
		return 0;
	return log_open(log_path);
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

static void
vlog(const char *level, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	size_t off;
	int n, saved = errno;

	(void)pthread_once(&log_pid_once, log_pid_init);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	off = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line + off, sizeof(line) - off, ".%03ldZ tern[%ld]: %s ",
	    ts.tv_nsec / 1000000, log_pid, level);
	if (n > 0 && (size_t)n < sizeof(line) - off)
		off += (size_t)n;
	n = vsnprintf(line + off, sizeof(line) - off - 1, fmt, ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(line) - off - 1)
		off = sizeof(line) - 2; /* truncated: keep one line */
	else
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
	va_list ap;

	fputs("tern: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (log_fd != 2) {
		va_start(ap, fmt);
		vlog("crit", fmt, ap);
		va_end(ap);
	}
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
	log_crit("event=panic file=%s line=%d msg=\"%s\"", file, line, msg);
	abort();
}

const char *
log_esc(char *dst, size_t dstsz, const void *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = p;
	size_t i, o = 0, lim = dstsz - 5; /* room for `..."` + NUL */
	bool quote = (n == 0);

	for (i = 0; i < n && !quote; i++)
		if (s[i] == ' ' || s[i] == '=')
			quote = true;
	if (quote)
		dst[o++] = '"';
	for (i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (o + 4 > lim) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	if (quote)
		dst[o++] = '"';
	dst[o] = '\0';
	return dst;
}

const char *
log_escs(char *dst, size_t dstsz, const char *s)
{
	if (s == NULL)
		return log_esc(dst, dstsz, "-", 1);
	return log_esc(dst, dstsz, s, strlen(s));
}
