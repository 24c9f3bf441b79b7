/* SPDX-License-Identifier: ISC */
/*
 * util/xmalloc.h - allocation that panics on failure.
 *
 * Daemon only: allowed because every allocation a peer can drive is
 * bounded (STYLE 2.7). The client library never uses these.
 */
#ifndef TERN_UTIL_XMALLOC_H
#define TERN_UTIL_XMALLOC_H

#include <stddef.h>

/* Never NULL: they PANIC instead (the analyzer should know). */
#define XMALLOC_ATTR __attribute__((returns_nonnull, warn_unused_result))
void *xmalloc(size_t) XMALLOC_ATTR;
void *xcalloc(size_t, size_t) XMALLOC_ATTR;
void *xrealloc(void *, size_t) XMALLOC_ATTR;
char *xstrdup(const char *) XMALLOC_ATTR;
char *xstrndup(const char *, size_t) XMALLOC_ATTR;

#endif
