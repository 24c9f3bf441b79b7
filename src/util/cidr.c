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

void
cidr_client_key(const struct sockaddr *sa, unsigned v6_prefix, char *dst,
    size_t dstsz)
{
	const struct sockaddr_in6 *s6 = (const void *)sa;
	const struct sockaddr_in *s4 = (const void *)sa;
	struct cidr c = { .family = AF_INET6 };
	unsigned i;

	if (sa->sa_family == AF_INET) {
		if (inet_ntop(AF_INET, &s4->sin_addr, dst, (socklen_t)dstsz) ==
		    NULL)
			(void)strlcpy(dst, "unknown", dstsz);
		return;
	}
	if (sa->sa_family != AF_INET6) {
		(void)strlcpy(dst, "unknown", dstsz);
		return;
	}
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		if (inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], dst,
		        (socklen_t)dstsz) == NULL)
			(void)strlcpy(dst, "unknown", dstsz);
		return;
	}
	if (v6_prefix < 1 || v6_prefix > 128)
		v6_prefix = 128;
	memcpy(c.addr, s6->sin6_addr.s6_addr, 16);
	/* Clear the host bits: whole bytes, then the rest of a partial one. */
	for (i = 0; i < 16; i++)
		if (i * 8 >= v6_prefix)
			c.addr[i] = 0;
		else if (i * 8 + 8 > v6_prefix)
			c.addr[i] &= (uint8_t)(0xff << (8 - v6_prefix % 8));
	c.prefix = v6_prefix;
	cidr_format(&c, dst, dstsz);
}
