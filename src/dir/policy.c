/* SPDX-License-Identifier: ISC */
/*
 * dir/policy.c - dir_policy_conf(): the configuration's rules for
 * dir_resolve(), built in one place for every caller (RCPT TO, the
 * maildrop pickup, notices to the postmaster, check-config).
 * Trust: the configuration is the operator's.
 */
#include "dir/dir.h"

#include <string.h>

#include "conf/conf.h"

static bool
is_local(void *arg, const char *domain)
{
	return conf_is_local_domain(arg, domain);
}

void
dir_policy_conf(struct dir_policy *out, const struct conf *conf)
{
	memset(out, 0, sizeof(*out));
	out->is_local = is_local;
	out->arg = (void *)conf;
	out->postmaster = conf->postmaster;
	out->admin_names = (const char *const *)conf->admin_aliases;
	out->nadmin_names = conf->nadmin_aliases;
	out->postmaster_always = true;
	out->delimiters = conf->recipient_delimiter;
}
