/* SPDX-License-Identifier: ISC */
/*
 * tests/unit/testutil.h - scratch directories for unit tests and fuzz
 * harnesses: make a fresh one, and remove it with everything below it.
 *
 * Header-only (static inline) so that a test needs no extra object and a
 * fuzzer (tests/fuzz, no cmocka) can include it too. Not for src/.
 * Trust: test code; the only paths removed are the ones made here.
 */
#ifndef TERN_TESTUTIL_H
#define TERN_TESTUTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define TESTUTIL_DIR_MAX 64 /* room for "/dev/shm/tern-NAME-XXXXXX" */

static inline int
testutil_rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

/*
 * Make an empty directory "BASE/tern-NAME-XXXXXX" (mode 0700) and put
 * its path in dir (dirsz bytes, at least TESTUTIL_DIR_MAX). base NULL:
 * /tmp. 0, or -1 when the name does not fit or mkdtemp fails (errno).
 */
static inline int
testutil_mkdtemp(char *dir, size_t dirsz, const char *base, const char *name)
{
	int n;

	n = snprintf(dir, dirsz, "%s/tern-%s-XXXXXX",
	    base != NULL ? base : "/tmp", name);
	if (n < 0 || (size_t)n >= dirsz)
		return -1;
	return mkdtemp(dir) != NULL ? 0 : -1;
}

/* Remove dir and all below it; symbolic links are removed, not followed. */
static inline void
testutil_rmtree(const char *dir)
{
	(void)nftw(dir, testutil_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
