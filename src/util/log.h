/* SPDX-License-Identifier: ISC */
/*
 * util/log.h - one line per event, key=value fields.
 *
 * A line reads `<time> tern[<pid>]: <level> event=NAME key=value ...`:
 * <time> is ISO 8601 UTC with milliseconds, <level> is debug, info, warn
 * or crit. The caller writes everything after the level, one space
 * between fields. docs/logging.md has the grammar and the event names.
 *
 * A value is one of (the one rule, in log_esc()):
 *   bare    non-empty, every byte printable ASCII other than space, `"`,
 *           `\` and `=`: written as it is;
 *   quoted  anything else, between double quotes, with `\"` and `\\`
 *           for `"` and `\`, \xNN (lowercase hex) for a control byte
 *           (< 0x20, 0x7f) and for a byte that is not part of well-formed
 *           UTF-8, and \u{NNNN} for the code points that hide or reorder
 *           text on a screen (C1 controls U+0080-U+009F, U+061C, U+200E,
 *           U+200F, U+2028-U+202E, U+2066-U+2069, U+FEFF). Other UTF-8
 *           is kept readable.
 * So a line parses back to exactly the fields tern wrote, whatever the
 * peer sent: a value cannot end early, hold a line break, or make a
 * viewer show a forged field.
 *
 * Trust: every value that comes from outside (a peer, a remote server, a
 * file, the configuration) goes through log_esc() once, usually as
 * LOG_ESC(); no caller adds quotes of its own around it. Constant text of
 * ours may be written quoted (msg="...") when it follows the grammar.
 * Thread-safe: each line is one write(2) to the log descriptor.
 */
#ifndef TERN_UTIL_LOG_H
#define TERN_UTIL_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "util/why.h"

/*
 * Log to stderr (path NULL, the default) or append to `path`, opened with
 * fsutil_open_private(): never through a symbolic link, only a regular
 * file (or /dev/null) in a directory nobody but root or us can write.
 * 0, or -1 with why (may be NULL) naming the path; the old log stays.
 */
int log_open(const char *path, struct why *);
/* Reopen the file given to log_open() (SIGHUP, log rotation); the same. */
int log_reopen(struct why *);
void log_set_verbose(bool);
bool log_is_verbose(void);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_crit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Startup errors: print "tern: <message>" to stderr (and log it as
 * event=fatal when the log is a file), then exit(1).
 */
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

/* The smallest dst log_esc() accepts: `"<..."` plus `>"` and NUL. */
#define LOG_ESC_MIN 8
/* An escaped value's buffer for LOG_ESC() and friends, NUL included. */
#define LOG_VALUE_MAX 512

/*
 * Write bytes p[0..n) as one log value (the rule above) into dst and
 * return dst. A value too long for dst is cut at a character boundary and
 * ends with "..." inside its quotes, so the result always parses; it is
 * never cut when the whole value fits (dstsz >= LOG_ESC_MIN).
 * Cheap: plain ASCII values are one scan and one memcpy.
 */
const char *log_esc(char *dst, size_t dstsz, const void *p, size_t n);
/* The same for a NUL-terminated string (NULL logs as -). */
const char *log_escs(char *dst, size_t dstsz, const char *s);
/*
 * The same for a mail address, logged in angle brackets as one value:
 * <> for the null sender, <a@b> bare, "<\"x y\"@b>" quoted.
 * NULL logs as -.
 */
const char *log_esc_addr(char *dst, size_t dstsz, const char *addr);

/*
 * The usual way in: log_info("event=x to=%s", LOG_ESC(addr)). Each use
 * escapes into its own LOG_VALUE_MAX buffer (a compound literal, which
 * lives until the end of the enclosing block), so several may share one
 * call. Not for a value kept past the statement: use log_esc() and a
 * buffer of your own for that.
 */
#define LOG_ESC(s) log_escs((char[LOG_VALUE_MAX]){ 0 }, LOG_VALUE_MAX, (s))
#define LOG_ESCN(p, n)                                                         \
	log_esc((char[LOG_VALUE_MAX]){ 0 }, LOG_VALUE_MAX, (p), (n))
#define LOG_ADDR(s) log_esc_addr((char[LOG_VALUE_MAX]){ 0 }, LOG_VALUE_MAX, (s))

#endif
