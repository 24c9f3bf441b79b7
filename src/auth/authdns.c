/* SPDX-License-Identifier: ISC */
/*
 * auth/authdns.c - authdns_resolver(): the authdns interface on the
 * real resolver (dns/dns.c).
 */
#include "auth/authdns.h"

enum dns_status
authdns_resolver(void *dns, const char *name, int type,
    struct dns_rrset *out, struct why *why)
{
	if (type == DNS_T_TXT)
		return dns_txt(dns, name, out, why);
	return dns_lookup(dns, name, type, out, why);
}
