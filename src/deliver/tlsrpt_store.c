/* SPDX-License-Identifier: ISC */
/*
 * deliver/tlsrpt_store.c - TLS-RPT counts (see tlsrpt_store.h).
 *
 * XXX stub: the interface compiles and notes are accepted and dropped;
 * the counting and the durable file follow on this branch.
 */
#include "deliver/tlsrpt_store.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "util/xmalloc.h"

struct tlsrpt_store {
	int unused;
};

static _Atomic(struct tlsrpt_store *) default_store;

struct tlsrpt_store *
tlsrpt_store_open(const char *data_dir, struct why *why)
{
	(void)data_dir;
	why_clear(why);
	return xcalloc(1, sizeof(struct tlsrpt_store));
}

void
tlsrpt_store_free(struct tlsrpt_store *st)
{
	free(st);
}

struct tlsrpt_store *
tlsrpt_store_default(void)
{
	return atomic_load(&default_store);
}

void
tlsrpt_store_set_default(struct tlsrpt_store *st)
{
	atomic_store(&default_store, st);
}

void
tlsrpt_store_note(struct tlsrpt_store *st, const char *policy_domain,
    enum tlsrpt_policy_type type, const char *const *policy_strings,
    size_t nstrings, const char *const *mx_patterns, size_t nmx,
    const struct tlsrpt_failure *failure)
{
	(void)st;
	(void)policy_domain;
	(void)type;
	(void)policy_strings;
	(void)nstrings;
	(void)mx_patterns;
	(void)nmx;
	(void)failure;
}

int
tlsrpt_store_flush(struct tlsrpt_store *st, struct why *why)
{
	(void)st;
	why_clear(why);
	return 0;
}
