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

void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xrealloc(void *, size_t);
char *xstrdup(const char *);
char *xstrndup(const char *, size_t);

#endif
