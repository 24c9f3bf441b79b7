/* SPDX-License-Identifier: ISC */
/*
 * cli/doctor_text.c - pure text helpers of `tern doctor` (doctor_text.h).
 */
#include "cli/doctor_text.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "auth/spf.h"
#include "util/str.h"

#define STS_ID_MAX 32 /* RFC 8461 3.1: sts-id = 1*32(ALPHA / DIGIT) */

/* Append s[0..n) to out at *len; false when it would not fit. */
static bool
put(char *out, size_t outsz, size_t *len, const char *s, size_t n)
{
	if (n >= outsz - *len)
		return false;
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = '\0';
	return true;
}

bool
doctor_spf_suggest(const char *p, size_t n, const char *add, char *out,
    size_t outsz)
{
	size_t i, len = 0, start;

	if (outsz == 0)
		return false;
	out[0] = '\0';
	if (!spf_is_record(p, n))
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] > 0x7e)
			return false;
	if (!put(out, outsz, &len, "v=spf1 ", 7) ||
	    !put(out, outsz, &len, add, strlen(add)))
		return false;
	/* The terms after "v=spf1", each after one space. */
	for (i = 6; i < n;) {
		while (i < n && p[i] == ' ')
			i++;
		if (i == n)
			break;
		start = i;
		while (i < n && p[i] != ' ')
			i++;
		if (!put(out, outsz, &len, " ", 1) ||
		    !put(out, outsz, &len, p + start, i - start))
			return false;
	}
	return true;
}

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* One field "name=value", spaces around it trimmed: is it a good id=? */
static bool
is_sts_id(const char *p, size_t n)
{
	size_t i;

	while (n > 0 && is_wsp(p[0])) {
		p++;
		n--;
	}
	while (n > 0 && is_wsp(p[n - 1]))
		n--;
	if (n < 4 || memcmp(p, "id=", 3) != 0 || n - 3 > STS_ID_MAX)
		return false;
	for (i = 3; i < n; i++)
		if (!ascii_is_alnum((unsigned char)p[i]))
			return false;
	return true;
}

bool
doctor_sts_is_record(const char *p, size_t n)
{
	size_t i, start;
	bool has_id = false;

	if (n < 7 || memcmp(p, "v=STSv1", 7) != 0)
		return false;
	i = 7;
	while (i < n && is_wsp(p[i]))
		i++;
	if (i < n && p[i] != ';')
		return false; /* "v=STSv10" is another version */
	while (i < n) {
		start = ++i; /* past the ';' */
		while (i < n && p[i] != ';')
			i++;
		if (is_sts_id(p + start, i - start))
			has_id = true;
	}
	return has_id;
}

bool
doctor_reverse_name(const struct sockaddr *sa, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	const struct sockaddr_in6 *s6 = (const void *)sa;
	const struct sockaddr_in *s4 = (const void *)sa;
	const uint8_t *a;
	size_t i, len = 0;
	char nib[4];
	int n;

	if (sa->sa_family == AF_INET ||
	    (sa->sa_family == AF_INET6 &&
	        IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))) {
		a = sa->sa_family == AF_INET ? (const uint8_t *)&s4->sin_addr
		                             : s6->sin6_addr.s6_addr + 12;
		n = snprintf(out, outsz, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2],
		    a[1], a[0]);
		return n > 0 && (size_t)n < outsz;
	}
	if (sa->sa_family != AF_INET6 || outsz < DOCTOR_PTR_NAME_MAX)
		return false;
	a = s6->sin6_addr.s6_addr;
	for (i = 16; i-- > 0;) {
		nib[0] = hex[a[i] & 0xf];
		nib[1] = '.';
		nib[2] = hex[a[i] >> 4];
		nib[3] = '.';
		memcpy(out + len, nib, 4);
		len += 4;
	}
	memcpy(out + len, "ip6.arpa", 9);
	return true;
}

bool
doctor_shell_word(const char *s, char *out, size_t outsz)
{
	size_t i, n = 0;
	bool plain = s[0] != '\0';

	for (i = 0; s[i] != '\0'; i++)
		if (!ascii_is_alnum((unsigned char)s[i]) &&
		    strchr("/._+-@:", s[i]) == NULL)
			plain = false;
	if (plain)
		return strlcpy(out, s, outsz) < outsz;
#define PUT(c)                                                             \
	do {                                                               \
		if (n + 1 >= outsz)                                        \
			return false;                                      \
		out[n++] = (c);                                            \
	} while (0)
	PUT('\'');
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '\'') {
			PUT('\'');
			PUT('\\');
			PUT('\'');
		}
		PUT(s[i]);
	}
	PUT('\'');
#undef PUT
	out[n] = '\0';
	return true;
}
