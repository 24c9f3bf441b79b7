/* SPDX-License-Identifier: ISC */
/*
 * util/cidr.c - CIDR networks: inet_pton does the address grammar, this
 * file the prefix and the bit comparison.
 * Trust: configuration text, capped before it is copied.
 */
#include "util/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "util/str.h"

bool
cidr_parse(const char *s, size_t n, struct cidr *out, const char **why_out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash;
	uint64_t prefix;
	size_t hl, i, max;
	char digits[4];

	memset(out, 0, sizeof(*out));
	slash = memchr(s, '/', n);
	hl = slash != NULL ? (size_t)(slash - s) : n;
	if (hl == 0 || hl >= sizeof(host) || !str_is_clean(s, n)) {
		*why_out = "is not an IPv4 or IPv6 address";
		return false;
	}
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, host, out->addr) == 1)
		out->family = AF_INET6;
	else {
		*why_out = "is not an IPv4 or IPv6 address";
		return false;
	}
	max = out->family == AF_INET ? 32 : 128;
	prefix = max;
	if (slash != NULL) {
		size_t dl = n - hl - 1;

		if (dl == 0 || dl >= sizeof(digits)) {
			*why_out = "has a bad prefix length after '/'";
			return false;
		}
		memcpy(digits, slash + 1, dl);
		digits[dl] = '\0';
		if (!str_to_u64(digits, max, &prefix)) {
			*why_out = out->family == AF_INET
			    ? "has a prefix length that is not 0..32"
			    : "has a prefix length that is not 0..128";
			return false;
		}
	}
	out->prefix = (unsigned)prefix;
	/* Host bits must be zero. */
	for (i = 0; i < max / 8; i++) {
		unsigned keep = prefix >= (i + 1) * 8 ? 8
		    : prefix > i * 8		    ? (unsigned)(prefix - i * 8)
						    : 0;
		uint8_t mask = (uint8_t)(keep == 0 ? 0 : 0xff << (8 - keep));

		if ((out->addr[i] & (uint8_t)~mask) != 0) {
			*why_out = "has bits set after the prefix length; "
				   "write the network address";
			return false;
		}
	}
	*why_out = NULL;
	return true;
}

static bool
prefix_equal(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned whole = prefix / 8, rest = prefix % 8;
	uint8_t mask;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

bool
cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
	const uint8_t *a;

	if (sa->sa_family == AF_INET) {
		if (c->family != AF_INET)
			return false;
		a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)
					   sa)
			->sin_addr;
		return prefix_equal(a, c->addr, c->prefix);
	}
	if (sa->sa_family != AF_INET6)
		return false;
	a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
	if (c->family == AF_INET6)
		return prefix_equal(a, c->addr, c->prefix);
	/* ::ffff:a.b.c.d is the IPv4 client a.b.c.d. */
	if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(const void *)a))
		return prefix_equal(a + 12, c->addr, c->prefix);
	return false;
}

bool
cidr_match_any(const struct cidr *nets, size_t n, const struct sockaddr *sa)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (cidr_match(&nets[i], sa))
			return true;
	return false;
}

void
cidr_format(const struct cidr *c, char *dst, size_t dstsz)
{
	char host[INET6_ADDRSTRLEN];

	if (inet_ntop(c->family, c->addr, host, sizeof(host)) == NULL)
		(void)strlcpy(host, "?", sizeof(host));
	(void)snprintf(dst, dstsz, "%s/%u", host, c->prefix);
}
