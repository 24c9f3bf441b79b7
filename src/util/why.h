/* SPDX-License-Identifier: ISC */
/*
 * util/why.h - the reason an action failed, and whether retrying may help.
 *
 * Modelled on Postfix's `why`: WHY_TEMP means the environment may get
 * better (defer, reply 4xx); WHY_PERM means it will not (bounce, 5xx).
 */
#ifndef TERN_UTIL_WHY_H
#define TERN_UTIL_WHY_H

enum why_kind {
	WHY_NONE = 0,
	WHY_TEMP,
	WHY_PERM,
};

struct why {
	enum why_kind kind;
	int sys_errno; /* 0 when not a system error */
	char text[256];
};

/*
 * Fill `why` (may be NULL) with kind, errno and a formatted text; when
 * sys_errno is nonzero ": strerror" is appended. Always returns -1 so
 * that `return why_set(...)` reads as a failure.
 */
int why_set(struct why *, enum why_kind, int sys_errno, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void why_clear(struct why *);

#endif
