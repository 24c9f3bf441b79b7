/* SPDX-License-Identifier: ISC */
/*
 * dir/subaddr.c - split "alice+news" into mailbox and detail (see
 * subaddr.h).
 */
#include "dir/subaddr.h"

#include <string.h>

size_t
subaddr_split(const char *p, size_t n, const char *delims)
{
	size_t i;

	if (delims == NULL || delims[0] == '\0')
		return n;
	/* Postfix splits at the first delimiter; "+x" has no mailbox. */
	for (i = 1; i < n; i++)
		if (p[i] != '\0' && strchr(delims, p[i]) != NULL)
			return i;
	return n;
}

bool
subaddr_detail(const char *addr, const char *orcpt, const char *delims,
    const char **detail_out, size_t *len_out)
{
	const char *a_at = strrchr(addr, '@'), *o_at = strrchr(orcpt, '@');
	size_t alen, olen, cut;

	if (a_at == NULL || o_at == NULL || strcmp(a_at, o_at) != 0)
		return false;
	alen = (size_t)(a_at - addr);
	olen = (size_t)(o_at - orcpt);
	cut = subaddr_split(orcpt, olen, delims);
	if (cut == olen || cut != alen || memcmp(addr, orcpt, alen) != 0)
		return false;
	*detail_out = orcpt + cut + 1;
	*len_out = olen - cut - 1;
	return true;
}

bool
subaddr_folder_ok(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || n > SUBADDR_FOLDER_MAX || p[0] == '.' || p[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		/* '*' and '%' are IMAP LIST wildcards (RFC 3501 6.3.8). */
		if (c <= ' ' || c >= 0x7f || strchr("/&*%\"\\", c) != NULL)
			return false;
		if (c == '.' && p[i + 1] == '.')
			return false;
	}
	return true;
}
