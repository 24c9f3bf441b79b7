/* SPDX-License-Identifier: ISC */
/*
 * util/cidr.h - IPv4 and IPv6 networks in CIDR notation (RFC 4632 3.1,
 * RFC 4291 2.3): parse, match an address, format.
 *
 * An IPv4-mapped IPv6 address (::ffff:192.0.2.1, as a dual-stack socket
 * reports an IPv4 client) matches IPv4 networks. It does not resolve
 * names.
 * Pure. Trust: the text comes from the configuration; addresses from
 * accept(2).
 */
#ifndef TERN_UTIL_CIDR_H
#define TERN_UTIL_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CIDR_STR_MAX 50 /* "ffff:...:ffff/128" + NUL, rounded up */

struct cidr {
	int family;      /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network byte order; 4 used for AF_INET */
	unsigned prefix; /* 0..32 or 0..128 */
};

/*
 * "192.0.2.0/24", "2001:db8::/32", or a bare address (a /32 or /128).
 * false with *why_out (static) on bad syntax, a prefix out of range, or
 * bits set after the prefix ("10.0.0.1/8" is a typo more often than not).
 */
bool cidr_parse(const char *s, size_t n, struct cidr *out,
    const char **why_out);
/* Is sa (AF_INET or AF_INET6) inside the network? */
bool cidr_match(const struct cidr *, const struct sockaddr *sa);
/* Is sa inside any of nets[0..n)? */
bool cidr_match_any(const struct cidr *nets, size_t n,
    const struct sockaddr *sa);
/* "192.0.2.0/24" into dst (CIDR_STR_MAX always fits). */
void cidr_format(const struct cidr *, char *dst, size_t dstsz);

/*
 * The key a per-client limit counts a client under: an IPv4 client's
 * address ("192.0.2.1"; an IPv4-mapped IPv6 one too), an IPv6 client's
 * network of v6_prefix bits ("2001:db8:1::/64"; 1..128, any other value
 * reads as 128), since one host usually holds a whole /64 and a fresh
 * address there costs nothing.
 * Anything else is "unknown". dst of CIDR_STR_MAX always fits.
 */
void cidr_client_key(const struct sockaddr *sa, unsigned v6_prefix,
    char *dst, size_t dstsz);

#endif
