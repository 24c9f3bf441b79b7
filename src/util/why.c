/* SPDX-License-Identifier: ISC */
#include "util/why.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
why_set(struct why *why, enum why_kind kind, int sys_errno, const char *fmt,
    ...)
{
	va_list ap;
	size_t off;
	int n;

	if (why == NULL)
		return -1;
	why->kind = kind;
	why->sys_errno = sys_errno;
	va_start(ap, fmt);
	n = vsnprintf(why->text, sizeof(why->text), fmt, ap);
	va_end(ap);
	if (n < 0)
		why->text[0] = '\0';
	off = strlen(why->text);
	if (sys_errno != 0 && off < sizeof(why->text))
		(void)snprintf(why->text + off, sizeof(why->text) - off,
		    ": %s", strerror(sys_errno));
	return -1;
}

void
why_clear(struct why *why)
{
	why->kind = WHY_NONE;
	why->sys_errno = 0;
	why->text[0] = '\0';
}
