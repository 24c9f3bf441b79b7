/* SPDX-License-Identifier: ISC */
/*
 * tests/unit/failalloc.h - make one chosen allocation fail, as curl's
 * torture tests do, to prove that code reports running out of memory
 * instead of aborting or losing data (STYLE 2.11).
 *
 * For a test linked with `failalloc_args` (meson.build:
 * -Wl,--wrap=malloc,... ): every malloc, calloc, realloc and strdup
 * called from the objects linked in (the test and the tern libraries,
 * not libc's or cmocka's own) goes through the wrappers below. While
 * armed with failalloc_arm(n), the first n of them succeed and the next
 * one returns NULL with errno ENOMEM; later ones succeed again. Loop n
 * from 0 until failalloc_disarm() says nothing failed: every allocation
 * on the path has then failed once. Under ASan the __real_ functions are
 * ASan's interceptors, so leaks on the failure paths are caught too.
 * Include it in exactly one file of the test. Not thread-safe: arm it
 * only while other threads of the test do not allocate.
 * Trust: test code.
 */
#ifndef TERN_FAILALLOC_H
#define TERN_FAILALLOC_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

void *__real_malloc(size_t);
void *__real_calloc(size_t, size_t);
void *__real_realloc(void *, size_t);
char *__real_strdup(const char *);
void *__wrap_malloc(size_t);
void *__wrap_calloc(size_t, size_t);
void *__wrap_realloc(void *, size_t);
char *__wrap_strdup(const char *);

static bool failalloc_armed;
static unsigned long failalloc_left; /* allocations to let through */
static bool failalloc_fired;

/* Let n allocations succeed, then fail the next one (once). */
static inline void
failalloc_arm(unsigned long n)
{
	failalloc_left = n;
	failalloc_fired = false;
	failalloc_armed = true;
}

/* Stop failing; whether an allocation was failed since the arm. */
static inline bool
failalloc_disarm(void)
{
	failalloc_armed = false;
	return failalloc_fired;
}

static inline bool
failalloc_now(void)
{
	if (!failalloc_armed || failalloc_fired)
		return false;
	if (failalloc_left > 0) {
		failalloc_left--;
		return false;
	}
	failalloc_fired = true;
	errno = ENOMEM;
	return true;
}

void *
__wrap_malloc(size_t n)
{
	return failalloc_now() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t size)
{
	return failalloc_now() ? NULL : __real_calloc(n, size);
}

void *
__wrap_realloc(void *p, size_t n)
{
	return failalloc_now() ? NULL : __real_realloc(p, n);
}

char *
__wrap_strdup(const char *s)
{
	return failalloc_now() ? NULL : __real_strdup(s);
}

#endif
