/* SPDX-License-Identifier: ISC */
/*
 * conf/value.c - the grammar of configuration values: numbers with
 * units, domain names, network lists, host:port, login names. Pure
 * string checks; errors go through conf_fail() with the line.
 * Trust: the operator's text, checked byte by byte.
 */
#include "conf/conf-private.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "util/str.h"
#include "util/xmalloc.h"

static void *
field(struct conf *c, size_t off)
{
	return (char *)c + off;
}

void
conf_num_store(struct conf *c, const struct num_key *k, uint64_t v)
{
	switch (k->type) {
	case T_U64:
		*(uint64_t *)field(c, k->off) = v;
		break;
	case T_SIZE:
		*(size_t *)field(c, k->off) = (size_t)v;
		break;
	case T_UINT:
		*(unsigned *)field(c, k->off) = (unsigned)v;
		break;
	}
}

uint64_t
conf_num_load(const struct conf *c, const struct num_key *k)
{
	const char *b = (const char *)c + k->off;

	switch (k->type) {
	case T_U64:
		return *(const uint64_t *)(const void *)b;
	case T_SIZE:
		return *(const size_t *)(const void *)b;
	case T_UINT:
		return *(const unsigned *)(const void *)b;
	}
	return 0;
}

/* "35M", "5d", "0": the shortest exact spelling, which parse_num reads. */
void
conf_num_format(char *dst, size_t dstsz, enum num_kind kind, uint64_t v)
{
	static const struct {
		uint64_t mult;
		char suffix;
	} sizes[] = { { GiB, 'G' }, { MiB, 'M' }, { KiB, 'k' } },
	  durs[] = { { DAY, 'd' }, { HOUR, 'h' }, { MINUTE, 'm' } };
	size_t i;

	if (v != 0 && kind == N_SIZE)
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			if (v % sizes[i].mult == 0) {
				(void)snprintf(dst, dstsz, "%" PRIu64 "%c",
				    v / sizes[i].mult, sizes[i].suffix);
				return;
			}
	if (v != 0 && kind == N_DURATION) {
		for (i = 0; i < sizeof(durs) / sizeof(durs[0]); i++)
			if (v % durs[i].mult == 0) {
				(void)snprintf(dst, dstsz, "%" PRIu64 "%c",
				    v / durs[i].mult, durs[i].suffix);
				return;
			}
		(void)snprintf(dst, dstsz, "%" PRIu64 "s", v);
		return;
	}
	(void)snprintf(dst, dstsz, "%" PRIu64, v);
}

/* Digits with one optional unit suffix; false on junk or overflow. */
bool
conf_num_parse(const char *s, enum num_kind kind, uint64_t *out)
{
	char digits[21];
	uint64_t n, mult = 1;
	size_t len = strlen(s), nd = 0;

	while (nd < len && ascii_is_digit((unsigned char)s[nd]))
		nd++;
	if (nd == 0 || nd >= sizeof(digits) || len - nd > 1)
		return false;
	if (len - nd == 1) {
		switch (kind == N_COUNT ? '\0' : s[nd]) {
		case 'k':
		case 'K':
			mult = kind == N_SIZE ? KiB : 0;
			break;
		case 'M':
			mult = kind == N_SIZE ? MiB : 0;
			break;
		case 'G':
			mult = kind == N_SIZE ? GiB : 0;
			break;
		case 's':
			mult = kind == N_DURATION ? 1 : 0;
			break;
		case 'm':
			mult = kind == N_DURATION ? MINUTE : 0;
			break;
		case 'h':
			mult = kind == N_DURATION ? HOUR : 0;
			break;
		case 'd':
			mult = kind == N_DURATION ? DAY : 0;
			break;
		default:
			mult = 0;
		}
		if (mult == 0)
			return false;
	}
	memcpy(digits, s, nd);
	digits[nd] = '\0';
	if (!str_to_u64(digits, UINT64_MAX, &n) || n > UINT64_MAX / mult)
		return false;
	*out = n * mult;
	return true;
}

const char *
conf_num_expect(enum num_kind kind)
{
	switch (kind) {
	case N_SIZE:
		return "a size in bytes with an optional k, M or G suffix, "
		       "e.g. 35M";
	case N_DURATION:
		return "a duration in seconds with an optional s, m, h or d "
		       "suffix, e.g. 5m";
	case N_COUNT:
		break;
	}
	return "a whole number";
}

/*
 * A host name in ASCII (RFC 1035 2.3.1 LDH labels, RFC 1123 2.1 allows a
 * leading digit). The top label must not be all digits (RFC 3696 2), so
 * that "10.0.0.1" is never taken for a domain.
 */
bool
conf_is_domain(const char *s, size_t n)
{
	size_t i, label = 0;
	bool digits = true;

	if (n == 0 || n > CONF_DOMAIN_MAX)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			digits = true;
			continue;
		}
		if (ch == '-') {
			if (label == 0)
				return false;
		} else if (!ascii_is_alnum(ch))
			return false;
		if (!ascii_is_digit(ch))
			digits = false;
		if (++label > CONF_LABEL_MAX)
			return false;
	}
	return label > 0 && s[n - 1] != '-' && !digits;
}

/* Bytes a config value may hold: printable ASCII and UTF-8, no controls. */
bool
conf_is_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/*
 * Lower-case, drop one trailing dot, check: true with a new string in
 * *out (the caller frees it), or false with *why_out.
 */
bool
conf_domain_norm(const char *s, size_t n, char **out, const char **why_out)
{
	if (n > 0 && s[n - 1] == '.')
		n--;
	if (!conf_is_domain(s, n)) {
		*why_out = "is not a domain name (letters, digits, '-' and "
		           "'.'; use the xn-- form for IDNs)";
		return false;
	}
	*out = xstrndup(s, n);
	ascii_lower_str(*out);
	return true;
}

/*
 * Call item(p, word, length, arg) for each word of a list separated by
 * commas and blanks (domains, networks), stopping at the first 0 it
 * returns. 1, or 0 after an error.
 */
int
conf_each_word(struct parse *p, const char *v,
    int (*item)(struct parse *, const char *, size_t, void *), void *arg)
{
	const char *s = v;
	size_t n;

	for (;;) {
		while (*s == ',' || *s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			return 1;
		n = strcspn(s, ", \t");
		if (item(p, s, n, arg) == 0)
			return 0;
		s += n;
	}
}

/* A network list being read: relay_networks, allow or deny. */
struct net_list {
	const char *key; /* for messages */
	struct cidr **nets;
	size_t *n;
};

static int
net_item(struct parse *p, const char *s, size_t n, void *arg)
{
	struct net_list *l = arg;
	const char *why;
	struct cidr net;

	if (!cidr_parse(s, n, &net, &why))
		return conf_fail(p, p->lineno,
		    "%s: '%.*s' %s (e.g. 192.0.2.0/24 2001:db8::/32)", l->key,
		    (int)(n > 64 ? 64 : n), s, why);
	if (*l->n >= CONF_NETWORKS_MAX)
		return conf_fail(p, p->lineno, "%s: more than %d networks",
		    l->key, CONF_NETWORKS_MAX);
	*l->nets = xrealloc(*l->nets, (*l->n + 1) * sizeof(**l->nets));
	(*l->nets)[(*l->n)++] = net;
	return 1;
}

/* "127.0.0.1/32 ::1/128": CIDR networks, comma- or space-separated. */
int
conf_set_networks(struct parse *p, const char *key, struct cidr **nets,
    size_t *n, const char *v)
{
	struct net_list l = { key, nets, n };

	return conf_each_word(p, v, net_item, &l);
}

/* A login name: [a-z_][a-z0-9_.-]*, as useradd(8) accepts by default. */
bool
conf_is_user(const char *s)
{
	size_t i;

	if (s[0] == '\0' || s[0] == '-' || s[0] == '.' ||
	    ascii_is_digit((unsigned char)s[0]))
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= CONF_USER_MAX ||
		    !(ascii_is_alnum((unsigned char)s[i]) || s[i] == '_' ||
		        s[i] == '-' || s[i] == '.'))
			return false;
	return true;
}

/*
 * "host", "host:port", "[v6]:port", "192.0.2.1:port": *host_out is a
 * copy without brackets. A host is a domain or an IP literal.
 */
bool
conf_hostport_parse(const char *s, size_t n, unsigned defport, char **host_out,
    unsigned *port_out)
{
	char host[INET6_ADDRSTRLEN + 8], num[8];
	unsigned char bin[sizeof(struct in6_addr)];
	const char *colon = NULL, *hs = s, *he;
	uint64_t pn = defport;
	size_t i;

	if (n > 0 && s[0] == '[') {
		hs = s + 1;
		if ((he = memchr(s, ']', n)) == NULL)
			return false;
		if (he + 1 < s + n && he[1] != ':')
			return false;
		if (he + 1 < s + n)
			colon = he + 1;
	} else {
		for (i = 0; i < n; i++)
			if (s[i] == ':') {
				if (colon != NULL)
					return false; /* v6 needs brackets */
				colon = s + i;
			}
		he = colon != NULL ? colon : s + n;
	}
	if (colon != NULL) {
		if ((size_t)(s + n - colon - 1) >= sizeof(num) ||
		    s + n - colon - 1 == 0)
			return false;
		memcpy(num, colon + 1, (size_t)(s + n - colon - 1));
		num[s + n - colon - 1] = '\0';
		if (!conf_num_parse(num, N_COUNT, &pn) || pn < 1 || pn > 65535)
			return false;
	}
	if (he <= hs || (size_t)(he - hs) > CONF_DOMAIN_MAX)
		return false;
	if ((size_t)(he - hs) < sizeof(host)) {
		memcpy(host, hs, (size_t)(he - hs));
		host[he - hs] = '\0';
	} else
		host[0] = '\0';
	if (s[0] == '[' ? inet_pton(AF_INET6, host, bin) != 1
	                : inet_pton(AF_INET, host, bin) != 1 &&
	                      !conf_is_domain(hs, (size_t)(he - hs)))
		return false;
	*host_out = xstrndup(hs, (size_t)(he - hs));
	ascii_lower_str(*host_out);
	*port_out = (unsigned)pn;
	return true;
}

int
conf_section_name_ok(struct parse *p, const char *sect, const char *name,
    const char *example)
{
	size_t i, n = strlen(name);

	if (n == 0)
		return conf_fail(p, p->lineno,
		    "[%s] needs a name, e.g. [%s %s]", sect, sect, example);
	for (i = 0; i < n; i++)
		if (!ascii_is_alnum((unsigned char)name[i]) &&
		    name[i] != '-' && name[i] != '_')
			break;
	if (i < n || n > CONF_NAME_MAX)
		return conf_fail(p, p->lineno,
		    "%s name '%.64s': use up to %d letters, digits, '-' or "
		    "'_'",
		    sect, name, CONF_NAME_MAX);
	return 1;
}
