/* SPDX-License-Identifier: ISC */
/*
 * util/log.h - one line per event, key=value fields.
 *
 * A line reads: `<UTC time> tern[pid]: <level> event=NAME key=value ...`.
 * The caller writes everything after the level. Values that come from a
 * peer must go through log_esc() first. Thread-safe: each line is one
 * write(2) to the log descriptor.
 */
#ifndef TERN_UTIL_LOG_H
#define TERN_UTIL_LOG_H

#include <stdbool.h>
#include <stddef.h>

/* Log to stderr (the default) or append to `path`; -1 if it can't open. */
int log_open(const char *path);
/* Reopen the file given to log_open() (SIGHUP, log rotation). */
int log_reopen(void);
void log_set_verbose(bool);
bool log_is_verbose(void);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_crit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Startup errors: print "tern: <message>" to stderr and exit(1). */
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void log_panic(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

/* A bug: log at crit and abort() for a core. On in release builds. */
#define PANIC(...) log_panic(__FILE__, __LINE__, __VA_ARGS__)
#define ASSERT(e)                                                          \
	do {                                                               \
		if (!(e))                                                  \
			PANIC("assertion failed: %s", #e);                 \
	} while (0)

/*
 * Make peer bytes safe for a log value: printable ASCII is kept except
 * `"` and `\`, everything else becomes \xNN; the result is quoted when it
 * is empty or holds a space or '='. Truncated with "..." to fit dst
 * (dstsz >= 8). Returns dst.
 */
const char *log_esc(char *dst, size_t dstsz, const void *p, size_t n);
/* The same for a NUL-terminated string (NULL logs as "-"). */
const char *log_escs(char *dst, size_t dstsz, const char *s);

#endif
