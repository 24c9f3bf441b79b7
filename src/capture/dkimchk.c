/* SPDX-License-Identifier: ISC */
/* capture/dkimchk.c - DKIM verification of captured mail (dkimchk.h). */
#include "capture/dkimchk.h"

#include <stddef.h>

#include "capture/capture-private.h"

int
cap_dkim_init(struct cap_ctx *c, const char *dns_server, struct why *why)
{
	(void)c;
	(void)dns_server;
	(void)why;
	return 0;
}

void
cap_dkim_free(struct cap_ctx *c)
{
	(void)c;
}
