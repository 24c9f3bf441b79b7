/* SPDX-License-Identifier: ISC */
/*
 * conf/conf.c - read the INI configuration into one immutable struct conf.
 *
 * libinih does the INI tokenising; this file feeds it one line at a time
 * through its reader callback, which is where the line number comes from
 * (Debian 12's libinih is built without INI_HANDLER_LINENO) and where
 * section headers are checked. Every numeric key has its default, minimum
 * and maximum in the one table keys[] below (Postfix's bounds idea).
 * Trust: the file is the operator's: trusted, but every value is checked
 * and every error names FILE:LINE and says what would be accepted.
 */
#include "conf/conf.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <sys/un.h>

#include <ini.h>

#include "smtp/addr.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define CONF_FILE_MAX (1024 * 1024) /* bytes; a config is a few KiB */
#define CONF_LISTENERS_MAX 64
#define CONF_DOMAINS_MAX 1000
#define CONF_NAME_MAX 32    /* listener names */
#define CONF_DOMAIN_MAX 253 /* RFC 1035 2.3.4, without the dot */
#define CONF_LABEL_MAX 63   /* RFC 1035 2.3.4 */
#define CONF_PATH_MAX 1024  /* data_dir, log_file */
#define CONF_USER_MAX 32    /* login names, useradd(8) */
#define CONF_PRINT_WIDTH 72 /* wrap printed domain lists */
#define CONF_NETWORKS_MAX 1000 /* relay_networks entries */
#define CONF_ROUTES_MAX 1000 /* [routes] entries */
#define CONF_AUTH_MAX 255    /* route auth= user and password */
#define CONF_LINE_MAX 198    /* libinih's line buffer less LF and NUL */

#define KiB ((uint64_t)1024)
#define MiB (KiB * 1024)
#define GiB (MiB * 1024)
#define MINUTE 60
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)

enum sect {
	S_TOP = 0,
	S_LISTENER,
	S_LIMITS,
	S_QUEUE,
	S_TLS,
	S_ROUTES,
};

static const char *const sect_names[] = { "top level", "listener", "limits",
	"queue", "tls", "routes" };

enum num_kind {
	N_COUNT = 0, /* plain decimal */
	N_SIZE,      /* bytes, k/K M G suffix */
	N_DURATION,  /* seconds, s m h d suffix */
};

enum num_type {
	T_U64 = 0,
	T_SIZE,
	T_UINT,
};

/* Top-level string keys; their ids follow the numeric ones in seen[]. */
enum str_key {
	K_HOSTNAME = 0,
	K_DATA_DIR,
	K_DOMAINS,
	K_USER,
	K_POSTMASTER,
	K_LOG_FILE,
	K_RELAY_NETWORKS,
	K_SENDER_OWNERSHIP,
	K_STR_COUNT,
};

static const char *const str_keys[K_STR_COUNT] = { "hostname", "data_dir",
	"domains", "user", "postmaster", "log_file", "relay_networks",
	"sender_ownership" };

struct num_key {
	enum sect sect;
	const char *name;
	enum num_kind kind;
	enum num_type type;
	size_t off; /* in struct conf */
	uint64_t def, min, max;
};

#define OFF(m) offsetof(struct conf, m)

/* The one table of numeric keys: default, minimum, maximum. */
static const struct num_key keys[] = {
	{ S_TOP, "threads", N_COUNT, T_UINT, OFF(threads), 0, 0, 1024 },
	{ S_LIMITS, "max_message_size", N_SIZE, T_U64,
	    OFF(limits.max_message_size), 35 * MiB, 1 * KiB, 2 * GiB },
	{ S_LIMITS, "max_recipients", N_COUNT, T_SIZE,
	    OFF(limits.max_recipients), 100, 1, 100000 },
	{ S_LIMITS, "max_errors", N_COUNT, T_SIZE, OFF(limits.max_errors), 10,
	    1, 1000 },
	{ S_LIMITS, "max_connections", N_COUNT, T_SIZE,
	    OFF(limits.max_connections), 1000, 1, 1000000 },
	{ S_LIMITS, "max_connections_per_ip", N_COUNT, T_SIZE,
	    OFF(limits.max_connections_per_ip), 50, 1, 1000000 },
	/* RFC 5321 6.3: loop detection by counting Received, 100 is usual. */
	{ S_LIMITS, "max_received", N_COUNT, T_SIZE, OFF(limits.max_received),
	    100, 1, 1000 },
	/* RFC 5321 4.5.3.2.7: at least 5 minutes; tests need shorter. */
	{ S_LIMITS, "timeout_command", N_DURATION, T_UINT,
	    OFF(limits.timeout_command), 300, 1, HOUR },
	{ S_LIMITS, "greet_delay", N_DURATION, T_UINT,
	    OFF(limits.greet_delay), 0, 0, 30 },
	{ S_LIMITS, "timeout_data_block", N_DURATION, T_UINT,
	    OFF(limits.timeout_data_block), 180, 1, HOUR },
	{ S_LIMITS, "timeout_data_total", N_DURATION, T_UINT,
	    OFF(limits.timeout_data_total), 600, 1, DAY },
	/* Brute-force brakes on AUTH (issue 3); 0s delay is for tests. */
	{ S_LIMITS, "auth_max_failures", N_COUNT, T_SIZE,
	    OFF(limits.auth_max_failures), 5, 1, 1000 },
	{ S_LIMITS, "auth_lockout", N_DURATION, T_UINT,
	    OFF(limits.auth_lockout), 15 * MINUTE, 1, DAY },
	{ S_LIMITS, "auth_fail_delay", N_DURATION, T_UINT,
	    OFF(limits.auth_fail_delay), 1, 0, MINUTE },
	/* Token-bucket rates (issue 3); 0 turns one off. Per client IP
	 * they are off by default, as big senders share few addresses. */
	{ S_LIMITS, "ip_connections_per_minute", N_COUNT, T_SIZE,
	    OFF(limits.ip_connections_per_minute), 0, 0, 1000000 },
	{ S_LIMITS, "ip_messages_per_minute", N_COUNT, T_SIZE,
	    OFF(limits.ip_messages_per_minute), 0, 0, 1000000 },
	{ S_LIMITS, "user_messages_per_hour", N_COUNT, T_SIZE,
	    OFF(limits.user_messages_per_hour), 500, 0, 1000000 },
	{ S_LIMITS, "user_recipients_per_hour", N_COUNT, T_SIZE,
	    OFF(limits.user_recipients_per_hour), 2000, 0, 1000000 },
	{ S_QUEUE, "retry_initial", N_DURATION, T_UINT,
	    OFF(queue.retry_initial), 300, 1, DAY },
	{ S_QUEUE, "retry_max", N_DURATION, T_UINT, OFF(queue.retry_max),
	    4 * HOUR, 1, 7 * DAY },
	/* RFC 5321 4.5.4.1: give up after at least 4-5 days. */
	{ S_QUEUE, "lifetime", N_DURATION, T_UINT, OFF(queue.lifetime), 5 * DAY,
	    1, 30 * DAY },
	{ S_QUEUE, "delivery_threads", N_COUNT, T_UINT,
	    OFF(queue.delivery_threads), 16, 1, 256 },
	/* Outbound (issue 4). */
	{ S_QUEUE, "delay_warning", N_DURATION, T_UINT,
	    OFF(queue.delay_warning), 4 * HOUR, 0, 30 * DAY },
	{ S_QUEUE, "connect_timeout", N_DURATION, T_UINT,
	    OFF(queue.connect_timeout), 30, 1, 10 * MINUTE },
	/* 0: the RFC 5321 4.5.3.2 timeouts; tests set a few seconds. */
	{ S_QUEUE, "remote_timeout", N_DURATION, T_UINT,
	    OFF(queue.remote_timeout), 0, 0, HOUR },
	{ S_QUEUE, "destination_concurrency", N_COUNT, T_UINT,
	    OFF(queue.destination_concurrency), 20, 1, 1000 },
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

enum lis_key {
	L_ADDRESS = 0,
	L_MODE,
	L_TLS,
	L_ALLOW, /* may repeat, like relay_networks */
	L_DENY,
	L_COUNT,
};

struct lis_state {
	int line;              /* of the [listener NAME] header */
	int key_line[L_COUNT]; /* 0 = not given */
};

static const char *const lis_keys[L_COUNT] = { "address", "mode", "tls",
	"allow", "deny" };

struct parse {
	struct conf *c;
	const char *name; /* for messages */
	const char *text;
	size_t pos;
	int lineno;
	enum sect sect;
	size_t lis; /* current listener when sect == S_LISTENER */
	struct lis_state *ls;
	int num_line[NKEYS];
	int str_line[K_STR_COUNT];
	int tls_line[4]; /* [tls] cert, key, ciphers, min_version */
	int dns_line;    /* dns_server */
	int action_line; /* [limits] user_limit_action */
	bool failed;
	struct why *why;
};

static const char default_text[] = "# tern demo configuration\n"
                                   "hostname = localhost\n"
                                   "data_dir = ./var\n"
                                   "domains = localhost\n"
                                   "\n"
                                   "[listener mx]\n"
                                   "address = 127.0.0.1:2525\n"
                                   "mode = mx\n"
                                   "tls = none\n";

static int fail(struct parse *, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record the first error as "NAME:LINE: text" (LINE 0: "NAME: text"). */
static int
fail(struct parse *p, int line, const char *fmt, ...)
{
	char msg[sizeof(p->why->text)];
	va_list ap;

	if (p->failed)
		return 0;
	p->failed = true;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		why_set(p->why, WHY_PERM, 0, "%s:%d: %s", p->name, line, msg);
	else
		why_set(p->why, WHY_PERM, 0, "%s: %s", p->name, msg);
	return 0;
}

static void *
field(struct conf *c, size_t off)
{
	return (char *)c + off;
}

static void
num_store(struct conf *c, const struct num_key *k, uint64_t v)
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

static uint64_t
num_load(const struct conf *c, const struct num_key *k)
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
static void
num_format(char *dst, size_t dstsz, enum num_kind kind, uint64_t v)
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
static bool
parse_num(const char *s, enum num_kind kind, uint64_t *out)
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

static const char *
num_expect(enum num_kind kind)
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
static bool
is_domain(const char *s, size_t n)
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
static bool
is_printable(const char *s)
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
static bool
domain_norm(const char *s, size_t n, char **out, const char **why_out)
{
	if (n > 0 && s[n - 1] == '.')
		n--;
	if (!is_domain(s, n)) {
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
static int
each_word(struct parse *p, const char *v,
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

static int
domain_item(struct parse *p, const char *s, size_t n, void *arg)
{
	struct conf *c = p->c;
	const char *why;
	size_t i;
	char *d;

	(void)arg;
	if (!domain_norm(s, n, &d, &why))
		return fail(p, p->lineno, "domains: '%.*s' %s",
		    (int)(n > 64 ? 64 : n), s, why);
	for (i = 0; i < c->ndomains; i++)
		if (strcmp(c->domains[i], d) == 0) {
			fail(p, p->lineno, "domains: '%s' is listed twice", d);
			free(d);
			return 0;
		}
	if (c->ndomains >= CONF_DOMAINS_MAX) {
		free(d);
		return fail(p, p->lineno, "domains: more than %d domains",
		    CONF_DOMAINS_MAX);
	}
	c->domains =
	    xrealloc(c->domains, (c->ndomains + 1) * sizeof(c->domains[0]));
	c->domains[c->ndomains++] = d;
	return 1;
}

static int
set_domains(struct parse *p, const char *v)
{
	size_t before = p->c->ndomains;

	if (each_word(p, v, domain_item, NULL) == 0)
		return 0;
	if (p->c->ndomains == before)
		return fail(p, p->lineno,
		    "domains is empty; list the mail domains this server "
		    "accepts, e.g. domains = example.org, example.net");
	return 1;
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
		return fail(p, p->lineno,
		    "%s: '%.*s' %s (e.g. 192.0.2.0/24 2001:db8::/32)", l->key,
		    (int)(n > 64 ? 64 : n), s, why);
	if (*l->n >= CONF_NETWORKS_MAX)
		return fail(p, p->lineno, "%s: more than %d networks", l->key,
		    CONF_NETWORKS_MAX);
	*l->nets = xrealloc(*l->nets, (*l->n + 1) * sizeof(**l->nets));
	(*l->nets)[(*l->n)++] = net;
	return 1;
}

/* "127.0.0.1/32 ::1/128": CIDR networks, comma- or space-separated. */
static int
set_networks(struct parse *p, const char *key, struct cidr **nets, size_t *n,
    const char *v)
{
	struct net_list l = { key, nets, n };

	return each_word(p, v, net_item, &l);
}

/*
 * Index of key in names[0..n) of section `where` ("[tls]"), recording
 * its line in lines[]; -1 after fail() when the key is unknown, or given
 * twice and its bit is not in `repeatable`.
 */
static int
find_key(struct parse *p, const char *key, const char *const *names, size_t n,
    int *lines, unsigned repeatable, const char *where)
{
	char known[256];
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(key, names[i]) == 0)
			break;
	if (i == n) {
		known[0] = '\0';
		for (i = 0; i < n; i++) {
			(void)strlcat(known, i > 0 ? ", " : "", sizeof(known));
			(void)strlcat(known, names[i], sizeof(known));
		}
		fail(p, p->lineno, "unknown key '%.64s' in %s; known: %s", key,
		    where, known);
		return -1;
	}
	if (lines[i] != 0 && !(repeatable & (1u << i))) {
		fail(p, p->lineno,
		    "duplicate key '%s' in %s (first on line %d)", key, where,
		    lines[i]);
		return -1;
	}
	lines[i] = p->lineno;
	return (int)i;
}

/* "0.0.0.0:25", "[::1]:2525": numeric host and port, resolved to sa. */
static int
set_address(struct parse *p, struct conf_listener *l, const char *v)
{
	struct addrinfo hints, *res = NULL;
	char host[INET6_ADDRSTRLEN + 32], port[8];
	const char *colon, *hs, *he;
	uint64_t pn;
	size_t i;

	if (v[0] == '[') {
		hs = v + 1;
		if ((he = strchr(hs, ']')) == NULL || he[1] != ':')
			return fail(p, p->lineno,
			    "address '%.64s': expected [IPv6]:PORT, "
			    "e.g. [::1]:25",
			    v);
		colon = he + 1;
	} else {
		hs = v;
		colon = strchr(v, ':');
		if (colon == NULL)
			return fail(p, p->lineno,
			    "address '%.64s' has no port; write e.g. "
			    "0.0.0.0:25",
			    v);
		if (strchr(colon + 1, ':') != NULL)
			return fail(p, p->lineno,
			    "address '%.64s': put an IPv6 address in "
			    "brackets, e.g. [::1]:25",
			    v);
		he = colon;
	}
	if (he == hs)
		return fail(p, p->lineno,
		    "address '%.64s' has no host; use 0.0.0.0 or [::] for "
		    "all addresses",
		    v);
	if ((size_t)(he - hs) >= sizeof(host))
		return fail(p, p->lineno, "address '%.64s': host too long", v);
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	if (!parse_num(colon + 1, N_COUNT, &pn) || pn < 1 || pn > 65535 ||
	    strlen(colon + 1) > 5)
		return fail(p, p->lineno,
		    "address '%.64s': port must be 1..65535", v);
	(void)snprintf(port, sizeof(port), "%" PRIu64, pn);

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = v[0] == '[' ? AF_INET6 : AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
		return fail(p, p->lineno,
		    "address '%.64s': '%.64s' is not a numeric IP%s address "
		    "(host names are not resolved here)",
		    v, host, v[0] == '[' ? "v6" : "v4");
	if (res->ai_addrlen > sizeof(l->sa)) {
		freeaddrinfo(res);
		return fail(p, p->lineno, "address '%.64s': too long", v);
	}
	memset(&l->sa, 0, sizeof(l->sa));
	memcpy(&l->sa, res->ai_addr, res->ai_addrlen);
	l->salen = res->ai_addrlen;
	freeaddrinfo(res);

	for (i = 0; i < p->c->nlisteners; i++) {
		const struct conf_listener *o = &p->c->listeners[i];

		if (o != l && o->salen == l->salen &&
		    memcmp(&o->sa, &l->sa, l->salen) == 0)
			return fail(p, p->lineno,
			    "address %.64s is already used by [listener %s]", v,
			    o->name);
	}
	l->address = xstrdup(v);
	return 1;
}

static int
on_listener(struct parse *p, const char *key, const char *v)
{
	struct conf_listener *l = &p->c->listeners[p->lis];
	char where[CONF_NAME_MAX + 16];

	(void)snprintf(where, sizeof(where), "[listener %s]", l->name);
	switch (find_key(p, key, lis_keys, L_COUNT, p->ls[p->lis].key_line,
	    1u << L_ALLOW | 1u << L_DENY, where)) {
	case -1:
		return 0;
	case L_ADDRESS:
		return set_address(p, l, v);
	case L_ALLOW:
		return set_networks(p, "allow", &l->allow, &l->nallow, v);
	case L_DENY:
		return set_networks(p, "deny", &l->deny, &l->ndeny, v);
	case L_MODE:
		if (strcmp(v, "mx") == 0)
			l->mode = CONF_MODE_MX;
		else if (strcmp(v, "submission") == 0)
			l->mode = CONF_MODE_SUBMISSION;
		else
			return fail(p, p->lineno,
			    "mode '%.64s': expected mx or submission", v);
		return 1;
	default:
		if (strcmp(v, "none") == 0)
			l->tls = CONF_TLS_NONE;
		else if (strcmp(v, "starttls") == 0)
			l->tls = CONF_TLS_STARTTLS;
		else if (strcmp(v, "implicit") == 0)
			l->tls = CONF_TLS_IMPLICIT;
		else
			return fail(p, p->lineno,
			    "tls '%.64s': expected none, starttls or implicit",
			    v);
		return 1;
	}
}

/* [tls]: cert, key, ciphers, min_version. */
static int
on_tls(struct parse *p, const char *key, const char *v)
{
	static const char *const names[4] = { "cert", "key", "ciphers",
		"min_version" };
	struct conf_tls_opts *t = &p->c->tls;
	char **dst[3] = { &t->cert, &t->key, &t->ciphers };
	int i;

	if ((i = find_key(p, key, names, 4, p->tls_line, 0, "[tls]")) == -1)
		return 0;
	if (i == 3) {
		if (strcmp(v, "TLSv1.2") == 0 || strcmp(v, "1.2") == 0)
			t->min_version = CONF_TLS_V1_2;
		else if (strcmp(v, "TLSv1.3") == 0 || strcmp(v, "1.3") == 0)
			t->min_version = CONF_TLS_V1_3;
		else
			return fail(p, p->lineno,
			    "min_version '%.64s': expected TLSv1.2 or TLSv1.3 "
			    "(older versions are not offered)",
			    v);
		return 1;
	}
	if (strlen(v) >= CONF_PATH_MAX)
		return fail(p, p->lineno, "%s: longer than %d bytes", key,
		    CONF_PATH_MAX - 1);
	*dst[i] = xstrdup(v);
	return 1;
}

/* A login name: [a-z_][a-z0-9_.-]*, as useradd(8) accepts by default. */
static bool
is_user(const char *s)
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

static int
set_str(struct parse *p, enum str_key k, const char *v)
{
	struct conf *c = p->c;
	struct smtp_addr a;
	const char *why;
	char *d;

	switch (k) {
	case K_HOSTNAME:
		if (!domain_norm(v, strlen(v), &d, &why))
			return fail(p, p->lineno, "hostname '%.64s' %s", v,
			    why);
		free(c->hostname);
		c->hostname = d;
		return 1;
	case K_DOMAINS:
		return set_domains(p, v);
	case K_DATA_DIR:
	case K_LOG_FILE:
		if (strlen(v) >= CONF_PATH_MAX)
			return fail(p, p->lineno,
			    "%s: path longer than %d bytes", str_keys[k],
			    CONF_PATH_MAX - 1);
		if (k == K_DATA_DIR) {
			free(c->data_dir);
			c->data_dir = xstrdup(v);
		} else
			c->log_file = xstrdup(v);
		return 1;
	case K_USER:
		if (!is_user(v))
			return fail(p, p->lineno,
			    "user '%.64s' is not a login name (letters, "
			    "digits, "
			    "'_', '-', '.'; at most %d)",
			    v, CONF_USER_MAX);
		c->user = xstrdup(v);
		return 1;
	case K_POSTMASTER:
		if (!smtp_mailbox_parse(v, strlen(v), SMTP_ADDR_UTF8, &a,
		        &why) ||
		    a.is_null)
			return fail(p, p->lineno,
			    "postmaster '%.64s' is not a mail address "
			    "(local@domain): %s",
			    v, a.is_null ? "empty" : why);
		c->postmaster = xstrdup(v);
		return 1;
	case K_RELAY_NETWORKS:
		return set_networks(p, "relay_networks", &c->relay_networks,
		    &c->nrelay_networks, v);
	case K_SENDER_OWNERSHIP:
		if (strcmp(v, "own") == 0)
			c->sender_ownership = CONF_SENDER_OWN;
		else if (strcmp(v, "any") == 0)
			c->sender_ownership = CONF_SENDER_ANY;
		else
			return fail(p, p->lineno,
			    "sender_ownership '%.64s': expected own or any", v);
		return 1;
	case K_STR_COUNT:
		break;
	}
	return fail(p, p->lineno, "internal error: key %d", (int)k);
}

/*
 * "host", "host:port", "[v6]:port", "192.0.2.1:port": *host_out is a
 * copy without brackets. A host is a domain or an IP literal.
 */
static bool
parse_hostport(const char *s, size_t n, unsigned defport, char **host_out,
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
		if (!parse_num(num, N_COUNT, &pn) || pn < 1 || pn > 65535)
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
	                      !is_domain(hs, (size_t)(he - hs)))
		return false;
	*host_out = xstrndup(hs, (size_t)(he - hs));
	ascii_lower_str(*host_out);
	*port_out = (unsigned)pn;
	return true;
}

/* dns_server = IP[:port] (port 53), IPv6 in brackets. */
static int
set_dns_server(struct parse *p, const char *v)
{
	unsigned char bin[sizeof(struct in6_addr)];
	unsigned port;
	char *host = NULL;
	bool ok;

	if (p->dns_line != 0)
		return fail(p, p->lineno,
		    "duplicate key 'dns_server' (first on line %d)",
		    p->dns_line);
	p->dns_line = p->lineno;
	ok = parse_hostport(v, strlen(v), 53, &host, &port) &&
	     (inet_pton(AF_INET, host, bin) == 1 ||
	         inet_pton(AF_INET6, host, bin) == 1);
	free(host);
	if (!ok)
		return fail(p, p->lineno,
		    "dns_server '%.64s': expected a numeric IP address with "
		    "an optional port, e.g. 127.0.0.1:5353 or [::1]:53",
		    v);
	p->c->dns_server = xstrdup(v);
	return 1;
}

static void
route_free(struct conf_route *r)
{
	free(r->domain);
	free(r->host);
	free(r->path);
	free(r->auth_user);
	if (r->auth_pass != NULL)
		explicit_bzero(r->auth_pass, strlen(r->auth_pass));
	free(r->auth_pass);
}

/* One option after the target: tls=may|none|require, auth=USER:PASS. */
static int
route_opt(struct parse *p, struct conf_route *r, const char *o, size_t n)
{
	const char *colon;

	if (n > 4 && memcmp(o, "tls=", 4) == 0) {
		if (n == 7 && memcmp(o + 4, "may", 3) == 0)
			r->tls = CONF_ROUTE_TLS_MAY;
		else if (n == 8 && memcmp(o + 4, "none", 4) == 0)
			r->tls = CONF_ROUTE_TLS_NONE;
		else if (n == 11 && memcmp(o + 4, "require", 7) == 0)
			r->tls = CONF_ROUTE_TLS_REQUIRE;
		else
			return fail(p, p->lineno,
			    "route %s: '%.*s': expected tls=may, tls=none or "
			    "tls=require",
			    r->domain, (int)(n > 64 ? 64 : n), o);
		return 1;
	}
	if (n > 5 && memcmp(o, "auth=", 5) == 0) {
		colon = memchr(o + 5, ':', n - 5);
		if (colon == NULL || colon == o + 5 ||
		    n - 5 > 2 * CONF_AUTH_MAX)
			return fail(p, p->lineno,
			    "route %s: auth= expects USER:PASSWORD", r->domain);
		if (r->auth_user != NULL)
			return fail(p, p->lineno, "route %s: auth= given twice",
			    r->domain);
		r->auth_user = xstrndup(o + 5, (size_t)(colon - o - 5));
		r->auth_pass = xstrndup(colon + 1, (size_t)(o + n - colon - 1));
		return 1;
	}
	return fail(p, p->lineno,
	    "route %s: unknown option '%.*s'; known: tls=, auth=", r->domain,
	    (int)(n > 64 ? 64 : n), o);
}

/*
 * [routes]: "DOMAIN = TARGET [tls=...] [auth=USER:PASS]" where DOMAIN is
 * a domain or "*" and TARGET is host[:port] or lmtp:/path or
 * lmtp:host[:port].
 */
static int
on_route(struct parse *p, const char *key, const char *v)
{
	struct conf *c = p->c;
	struct conf_route r;
	const char *why, *t = v;
	size_t i, n;

	memset(&r, 0, sizeof(r));
	if (strcmp(key, "*") == 0)
		r.domain = xstrdup("*");
	else if (!domain_norm(key, strlen(key), &r.domain, &why))
		return fail(p, p->lineno, "route '%.64s': the domain %s", key,
		    why);
	for (i = 0; i < c->nroutes; i++)
		if (strcmp(c->routes[i].domain, r.domain) == 0) {
			fail(p, p->lineno, "route for '%s' given twice",
			    r.domain);
			goto bad;
		}
	if (c->nroutes >= CONF_ROUTES_MAX) {
		fail(p, p->lineno, "more than %d routes", CONF_ROUTES_MAX);
		goto bad;
	}
	n = strcspn(t, " \t");
	if (n > 5 && memcmp(t, "lmtp:", 5) == 0) {
		r.kind = CONF_ROUTE_LMTP;
		if (t[5] == '/') {
			if (n - 5 >=
			    sizeof(((struct sockaddr_un *)0)->sun_path)) {
				fail(p, p->lineno,
				    "route %s: socket path too long", r.domain);
				goto bad;
			}
			r.path = xstrndup(t + 5, n - 5);
		} else if (!parse_hostport(t + 5, n - 5, 24, &r.host,
		               &r.port)) {
			fail(p, p->lineno,
			    "route %s: '%.*s': expected lmtp:/path/to/socket "
			    "or lmtp:HOST:PORT",
			    r.domain, (int)(n > 64 ? 64 : n), t);
			goto bad;
		}
	} else if (!parse_hostport(t, n, 25, &r.host, &r.port)) {
		fail(p, p->lineno,
		    "route %s: '%.*s': expected HOST[:PORT] (IPv6 in "
		    "brackets), lmtp:/path or lmtp:HOST:PORT",
		    r.domain, (int)(n > 64 ? 64 : n), t);
		goto bad;
	} else if (strcmp(r.host, "lmtp") == 0) {
		/* "lmtp:25" would read as LMTP to a host named "25". */
		fail(p, p->lineno,
		    "route %s: a host named 'lmtp' is ambiguous; use its "
		    "full name or address",
		    r.domain);
		goto bad;
	}
	for (t += n; *t != '\0'; t += n) {
		while (*t == ' ' || *t == '\t')
			t++;
		if ((n = strcspn(t, " \t")) == 0)
			break;
		if (route_opt(p, &r, t, n) == 0)
			goto bad;
	}
	c->routes = xrealloc(c->routes, (c->nroutes + 1) * sizeof(r));
	c->routes[c->nroutes++] = r;
	return 1;
bad:
	route_free(&r);
	return 0;
}

const struct conf_route *
conf_route_find(const struct conf *c, const char *domain)
{
	size_t i, n = strlen(domain);
	const struct conf_route *star = NULL;

	if (n > 0 && domain[n - 1] == '.')
		n--;
	for (i = 0; i < c->nroutes; i++) {
		if (strcmp(c->routes[i].domain, "*") == 0)
			star = &c->routes[i];
		else if (strlen(c->routes[i].domain) == n &&
		         ascii_ncasecmp(c->routes[i].domain, domain, n) == 0)
			return &c->routes[i];
	}
	return star;
}

/*
 * One route as a config line. `compact` leaves out what loading fills
 * in (the default port, tls=may) and the spaces around '=': never longer
 * than the line it was loaded from. Returns the length.
 */
static size_t
format_route(const struct conf_route *r, bool compact, char *out,
    size_t outsz)
{
	static const char *const tls[] = { "may", "none", "require" };
	unsigned dport = r->kind == CONF_ROUTE_LMTP ? 24 : 25;
	const char *v6 = r->host != NULL && strchr(r->host, ':') ? "[" : "";
	size_t n;

	n = (size_t)snprintf(out, outsz, "%s%s%s", r->domain,
	    compact ? "=" : " = ", r->kind == CONF_ROUTE_LMTP ? "lmtp:" : "");
	if (r->path != NULL)
		n += (size_t)snprintf(out + n, outsz - n, "%s", r->path);
	else {
		n += (size_t)snprintf(out + n, outsz - n, "%s%s%s", v6,
		    r->host, *v6 != '\0' ? "]" : "");
		if (!compact || r->port != dport)
			n += (size_t)snprintf(out + n, outsz - n, ":%u",
			    r->port);
	}
	if (r->tls != CONF_ROUTE_TLS_MAY)
		n += (size_t)snprintf(out + n, outsz - n, " tls=%s",
		    tls[r->tls]);
	/* The operator's own file: print it back as written. */
	if (r->auth_user != NULL)
		n += (size_t)snprintf(out + n, outsz - n, " auth=%s:%s",
		    r->auth_user, r->auth_pass);
	return n;
}

static void
print_routes(const struct conf *c, FILE *fp)
{
	char line[2048]; /* domain, host, auth: each capped well below */
	size_t i;

	fprintf(fp, "\n[routes]\n");
	for (i = 0; i < c->nroutes; i++) {
		/* Explicit where it fits in a line, as loadable as the input. */
		if (format_route(&c->routes[i], false, line, sizeof(line)) >
		    CONF_LINE_MAX)
			(void)format_route(&c->routes[i], true, line,
			    sizeof(line));
		fprintf(fp, "%s\n", line);
	}
}

/* [limits] user_limit_action = hold | defer */
static int
set_limit_action(struct parse *p, const char *v)
{
	if (p->action_line != 0)
		return fail(p, p->lineno,
		    "duplicate key 'user_limit_action' (first on line %d)",
		    p->action_line);
	p->action_line = p->lineno;
	if (strcmp(v, "hold") == 0)
		p->c->limits.user_limit_action = CONF_LIMIT_HOLD;
	else if (strcmp(v, "defer") == 0)
		p->c->limits.user_limit_action = CONF_LIMIT_DEFER;
	else
		return fail(p, p->lineno,
		    "user_limit_action '%.64s': expected hold or defer", v);
	return 1;
}

static int
on_key(void *user, const char *section, const char *key, const char *v)
{
	struct parse *p = user;
	const struct num_key *nk;
	char lo[32], hi[32];
	uint64_t n;
	size_t i;

	(void)section; /* the reader tracked it, with its line */
	if (p->failed)
		return 0;
	if (!is_printable(key) || !is_printable(v))
		return fail(p, p->lineno, "control character in line");
	if (v[0] == '\0')
		return fail(p, p->lineno, "'%.64s' has no value", key);
	/* "k =;x" reaches us as ";x", but "k = ;x" is a comment: refuse
	 * what conf_print could not write back. */
	if (v[0] == ';')
		return fail(p, p->lineno,
		    "'%.64s' value starts with ';', which starts a comment",
		    key);
	if (p->sect == S_LISTENER)
		return on_listener(p, key, v);
	if (p->sect == S_TLS)
		return on_tls(p, key, v);
	if (p->sect == S_ROUTES)
		return on_route(p, key, v);
	if (p->sect == S_TOP && strcmp(key, "dns_server") == 0)
		return set_dns_server(p, v);
	if (p->sect == S_LIMITS && strcmp(key, "user_limit_action") == 0)
		return set_limit_action(p, v);

	for (i = 0; i < NKEYS; i++)
		if (keys[i].sect == p->sect && strcmp(keys[i].name, key) == 0)
			break;
	if (i < NKEYS) {
		nk = &keys[i];
		if (p->num_line[i] != 0)
			return fail(p, p->lineno,
			    "duplicate key '%s' (first on line %d)", key,
			    p->num_line[i]);
		p->num_line[i] = p->lineno;
		num_format(lo, sizeof(lo), nk->kind, nk->min);
		num_format(hi, sizeof(hi), nk->kind, nk->max);
		if (!parse_num(v, nk->kind, &n))
			return fail(p, p->lineno,
			    "%s = %.64s: expected %s (%s..%s)", key, v,
			    num_expect(nk->kind), lo, hi);
		if (n < nk->min || n > nk->max)
			return fail(p, p->lineno,
			    "%s = %.64s is out of range; use %s..%s", key, v,
			    lo, hi);
		num_store(p->c, nk, n);
		return 1;
	}
	if (p->sect == S_TOP)
		for (i = 0; i < K_STR_COUNT; i++)
			if (strcmp(str_keys[i], key) == 0) {
				/* A long domain list continues on a second
				 * "domains =" line: lines are capped. */
				if (p->str_line[i] != 0 && i != K_DOMAINS &&
				    i != K_RELAY_NETWORKS)
					return fail(p, p->lineno,
					    "duplicate key '%s' (first on line "
					    "%d)",
					    key, p->str_line[i]);
				p->str_line[i] = p->lineno;
				return set_str(p, (enum str_key)i, v);
			}
	if (p->sect == S_TOP)
		return fail(p, p->lineno,
		    "unknown key '%.64s' at top level (before any [section])",
		    key);
	return fail(p, p->lineno, "unknown key '%.64s' in [%s]", key,
	    sect_names[p->sect]);
}

/* "[limits]", "[listener NAME]" (a copy): switch p->sect; 0 on error. */
static int
section(struct parse *p, char *line)
{
	struct conf *c = p->c;
	struct conf_listener *l;
	char *end, *in, *word2;
	size_t i, n;

	if ((end = strchr(line, ']')) == NULL)
		return fail(p, p->lineno,
		    "missing ']' in section header; write e.g. [limits]");
	for (i = 1; end[i] == ' ' || end[i] == '\t'; i++)
		;
	if (end[i] != '\n' && end[i] != ';' && end[i] != '#')
		return fail(p, p->lineno, "text after ']' in section header");
	*end = '\0';
	in = str_trim(line + 1);
	word2 = in + strcspn(in, " \t");
	if (*word2 != '\0') {
		*word2++ = '\0';
		word2 = str_trim(word2);
	}
	if (strcmp(in, "routes") == 0) {
		if (*word2 != '\0')
			return fail(p, p->lineno,
			    "[routes] takes no name; write [routes]");
		p->sect = S_ROUTES;
		return 1;
	}
	if (strcmp(in, "tls") == 0) {
		if (*word2 != '\0')
			return fail(p, p->lineno,
			    "[tls] takes no name; write [tls]");
		p->sect = S_TLS;
		return 1;
	}
	if (strcmp(in, "limits") == 0 || strcmp(in, "queue") == 0) {
		if (*word2 != '\0')
			return fail(p, p->lineno,
			    "[%s] takes no name; write [%s]", in, in);
		p->sect = in[0] == 'l' ? S_LIMITS : S_QUEUE;
		return 1;
	}
	if (strcmp(in, "listener") != 0)
		return fail(p, p->lineno,
		    "unknown section [%.64s]; known: [listener NAME], "
		    "[limits], [queue], [tls], [routes]",
		    in);
	n = strlen(word2);
	if (n == 0)
		return fail(p, p->lineno,
		    "[listener] needs a name, e.g. [listener mx]");
	for (i = 0; i < n; i++)
		if (!ascii_is_alnum((unsigned char)word2[i]) &&
		    word2[i] != '-' && word2[i] != '_')
			break;
	if (i < n || n > CONF_NAME_MAX)
		return fail(p, p->lineno,
		    "listener name '%.64s': use up to %d letters, digits, "
		    "'-' or '_'",
		    word2, CONF_NAME_MAX);
	for (i = 0; i < c->nlisteners; i++)
		if (strcmp(c->listeners[i].name, word2) == 0)
			return fail(p, p->lineno,
			    "duplicate [listener %s] (first on line %d)", word2,
			    p->ls[i].line);
	if (c->nlisteners >= CONF_LISTENERS_MAX)
		return fail(p, p->lineno, "more than %d listeners",
		    CONF_LISTENERS_MAX);
	c->listeners = xrealloc(c->listeners,
	    (c->nlisteners + 1) * sizeof(c->listeners[0]));
	p->ls = xrealloc(p->ls, (c->nlisteners + 1) * sizeof(p->ls[0]));
	l = &c->listeners[c->nlisteners];
	memset(l, 0, sizeof(*l));
	l->name = xstrdup(word2);
	l->mode = CONF_MODE_MX;
	l->tls = CONF_TLS_NONE;
	memset(&p->ls[c->nlisteners], 0, sizeof(p->ls[0]));
	p->ls[c->nlisteners].line = p->lineno;
	p->lis = c->nlisteners++;
	p->sect = S_LISTENER;
	return 1;
}

static int
on_section(struct parse *p, const char *line)
{
	char *copy = xstrdup(line);
	int rc;

	rc = section(p, copy);
	free(copy);
	return rc;
}

/*
 * libinih's fgets-like reader: hand over one line, count it, and check
 * what libinih would take differently from us. Leading blanks are cut so
 * that an indented key is a key, not a continuation of the previous value
 * (inih's multi-line mode). NULL ends the parse, also on an error.
 */
static char *
next_line(char *str, int num, void *stream)
{
	struct parse *p = stream;
	const char *s, *e, *nl;
	size_t len;

	if (p->failed || p->text[p->pos] == '\0')
		return NULL;
	s = p->text + p->pos;
	nl = strchr(s, '\n');
	e = nl != NULL ? nl : s + strlen(s);
	p->pos = (size_t)((nl != NULL ? nl + 1 : e) - p->text);
	p->lineno++;
	if (p->lineno == 1 && e - s >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3; /* UTF-8 byte order mark */
	if (e > s && e[-1] == '\r')
		e--;
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	len = (size_t)(e - s);
	if (num < 3 || len > (size_t)num - 2) {
		fail(p, p->lineno, "line longer than %d bytes%s", num - 2,
		    "; continue a long list on another 'domains =' line");
		return NULL;
	}
	memcpy(str, s, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	if (str[0] == '[' && on_section(p, str) == 0)
		return NULL;
	if (str[0] != '[' && str[0] != ';' && str[0] != '#' && str[0] != '\n' &&
	    strcspn(str, "=:") == len + 1) {
		fail(p, p->lineno, "expected 'key = value' or '[section]'");
		return NULL;
	}
	return str;
}

static void
str_free(char **s)
{
	free(*s);
	*s = NULL;
}

void
conf_free(struct conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	str_free(&c->path);
	str_free(&c->hostname);
	str_free(&c->data_dir);
	for (i = 0; i < c->ndomains; i++)
		free(c->domains[i]);
	free(c->domains);
	str_free(&c->user);
	str_free(&c->postmaster);
	str_free(&c->log_file);
	str_free(&c->tls.cert);
	str_free(&c->tls.key);
	str_free(&c->tls.ciphers);
	free(c->relay_networks);
	for (i = 0; i < c->nroutes; i++)
		route_free(&c->routes[i]);
	free(c->routes);
	str_free(&c->dns_server);
	for (i = 0; i < c->nlisteners; i++) {
		free(c->listeners[i].name);
		free(c->listeners[i].address);
		free(c->listeners[i].allow);
		free(c->listeners[i].deny);
	}
	free(c->listeners);
	free(c);
}

/* The line where key a, else key b, was set (0: neither). */
static int
key_line(const struct parse *p, const char *a, const char *b)
{
	size_t i;
	int la = 0, lb = 0;

	for (i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].name, a) == 0)
			la = p->num_line[i];
		if (strcmp(keys[i].name, b) == 0)
			lb = p->num_line[i];
	}
	return la != 0 ? la : lb;
}

/* After the last line: what must be there, and cross-key checks. */
static int
finish(struct parse *p)
{
	struct conf *c = p->c;
	char host[256];
	const char *why;
	size_t i;
	int rl;

	for (i = 0; i < c->nlisteners; i++)
		if (c->listeners[i].address == NULL)
			return fail(p, p->ls[i].line,
			    "[listener %s] has no address; add e.g. "
			    "address = 0.0.0.0:25",
			    c->listeners[i].name);
	if (c->nlisteners == 0)
		return fail(p, 0,
		    "no listener; add e.g. [listener mx] with "
		    "address = 0.0.0.0:25");
	if (c->ndomains == 0)
		return fail(p, 0,
		    "no domains; list the mail domains this server accepts, "
		    "e.g. domains = example.org");
	if (c->hostname == NULL) {
		if (gethostname(host, sizeof(host)) != 0)
			host[0] = '\0';
		host[sizeof(host) - 1] = '\0';
		if (!domain_norm(host, strlen(host), &c->hostname, &why))
			return fail(p, 0,
			    "no hostname given and this machine's name "
			    "'%.64s' %s; set hostname = mx.example.org",
			    host, why);
	}
	if (c->data_dir == NULL)
		c->data_dir = xstrdup("/var/lib/tern");
	if (c->tls.key != NULL && c->tls.cert == NULL)
		return fail(p, p->tls_line[1],
		    "[tls] key without cert; add cert = /path/fullchain.pem");
	if (c->queue.retry_initial > c->queue.retry_max) {
		rl = key_line(p, "retry_initial", "retry_max");
		return fail(p, rl,
		    "retry_initial (%us) is longer than retry_max (%us)",
		    c->queue.retry_initial, c->queue.retry_max);
	}
	if (c->limits.timeout_data_block > c->limits.timeout_data_total) {
		rl = key_line(p, "timeout_data_block", "timeout_data_total");
		return fail(p, rl,
		    "timeout_data_block (%us) is longer than "
		    "timeout_data_total (%us)",
		    c->limits.timeout_data_block, c->limits.timeout_data_total);
	}
	return 1;
}

struct conf *
conf_load_string(const char *text, const char *name, struct why *why)
{
	struct parse p;
	size_t i;
	int rc;

	memset(&p, 0, sizeof(p));
	p.c = xcalloc(1, sizeof(*p.c));
	p.name = name != NULL ? name : "(config)";
	p.text = text;
	p.why = why;
	for (i = 0; i < NKEYS; i++)
		num_store(p.c, &keys[i], keys[i].def);
	rc = ini_parse_stream(next_line, &p, on_key, &p);
	if (!p.failed && rc != 0)
		fail(&p, rc, "expected 'key = value' or '[section]'");
	if (!p.failed)
		(void)finish(&p);
	free(p.ls);
	if (p.failed) {
		conf_free(p.c);
		return NULL;
	}
	return p.c;
}

struct conf *
conf_load(const char *path, struct why *why)
{
	struct conf *c;
	char *text;
	size_t n = 0, r;
	FILE *fp;
	int line;

	if ((fp = fopen(path, "re")) == NULL) {
		why_set(why, WHY_PERM, errno, "%s", path);
		return NULL;
	}
	text = xmalloc(CONF_FILE_MAX + 1);
	while ((r = fread(text + n, 1, CONF_FILE_MAX + 1 - n, fp)) > 0)
		n += r;
	if (ferror(fp)) {
		why_set(why, WHY_PERM, errno, "%s: read", path);
		goto fail;
	}
	if (n > CONF_FILE_MAX) {
		why_set(why, WHY_PERM, 0, "%s: larger than %d bytes", path,
		    CONF_FILE_MAX);
		goto fail;
	}
	text[n] = '\0';
	if (strlen(text) != n) {
		/* A NUL would silently end the string: say where it is. */
		for (line = 1, r = 0; text[r] != '\0'; r++)
			line += text[r] == '\n';
		why_set(why, WHY_PERM, 0, "%s:%d: NUL byte in file", path,
		    line);
		goto fail;
	}
	(void)fclose(fp);
	c = conf_load_string(text, path, why);
	free(text);
	if (c != NULL)
		c->path = xstrdup(path);
	return c;
fail:
	(void)fclose(fp);
	free(text);
	return NULL;
}

struct conf *
conf_default(void)
{
	struct conf *c;
	struct why why;

	why_clear(&why);
	if ((c = conf_load_string(default_text, "(default)", &why)) == NULL)
		PANIC("embedded default configuration: %s", why.text);
	return c;
}

static const char *
mode_name(enum conf_mode m)
{
	return m == CONF_MODE_SUBMISSION ? "submission" : "mx";
}

static const char *
tls_name(enum conf_tls t)
{
	switch (t) {
	case CONF_TLS_STARTTLS:
		return "starttls";
	case CONF_TLS_IMPLICIT:
		return "implicit";
	case CONF_TLS_NONE:
		break;
	}
	return "none";
}

static void
print_nums(const struct conf *c, enum sect sect, FILE *fp)
{
	char v[32], lo[32], hi[32];
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		if (keys[i].sect != sect)
			continue;
		num_format(v, sizeof(v), keys[i].kind, num_load(c, &keys[i]));
		num_format(lo, sizeof(lo), keys[i].kind, keys[i].min);
		num_format(hi, sizeof(hi), keys[i].kind, keys[i].max);
		fprintf(fp, "%s = %s\t; %s..%s%s\n", keys[i].name, v, lo, hi,
		    strcmp(keys[i].name, "threads") == 0 ? ", 0: one per core"
		                                         : "");
	}
}

/* Four networks a line: lines are capped at load, the key may repeat. */
static void
print_networks(FILE *fp, const char *key, const struct cidr *nets, size_t n,
    const char *unset)
{
	char net[CIDR_STR_MAX];
	size_t i;

	if (n == 0 && unset != NULL)
		fprintf(fp, "# %s = (not set: %s)\n", key, unset);
	for (i = 0; i < n; i++) {
		cidr_format(&nets[i], net, sizeof(net));
		fprintf(fp, "%s%s%s%s", i % 4 == 0 ? key : " ",
		    i % 4 == 0 ? " = " : "", net,
		    i % 4 == 3 || i + 1 == n ? "\n" : "");
	}
}

static void
print_opt(FILE *fp, const char *key, const char *v, const char *unset)
{
	if (v != NULL)
		fprintf(fp, "%s = %s\n", key, v);
	else
		fprintf(fp, "# %s = (not set: %s)\n", key, unset);
}

void
conf_print(const struct conf *c, FILE *fp)
{
	size_t i, col = 0;

	fprintf(fp, "# tern configuration%s%s\n", c->path ? " from " : "",
	    c->path ? c->path : "");
	fprintf(fp, "hostname = %s\n", c->hostname);
	fprintf(fp, "data_dir = %s\n", c->data_dir);
	/* Wrapped: lines are capped at load, "domains" may repeat. */
	for (i = 0; i < c->ndomains; i++) {
		if (col > 0 && col + strlen(c->domains[i]) > CONF_PRINT_WIDTH) {
			fputc('\n', fp);
			col = 0;
		}
		if (col == 0)
			col =
			    (size_t)fprintf(fp, "domains = %s", c->domains[i]);
		else
			col += (size_t)fprintf(fp, ", %s", c->domains[i]);
	}
	fputc('\n', fp);
	print_opt(fp, "user", c->user, "no privilege drop");
	print_opt(fp, "postmaster", c->postmaster, "none");
	print_opt(fp, "log_file", c->log_file, "log to stderr");
	print_opt(fp, "dns_server", c->dns_server, "/etc/resolv.conf");
	print_networks(fp, "relay_networks", c->relay_networks,
	    c->nrelay_networks,
	    "submission relays for authenticated clients only");
	fprintf(fp, "sender_ownership = %s\n",
	    c->sender_ownership == CONF_SENDER_ANY ? "any" : "own");
	print_nums(c, S_TOP, fp);
	for (i = 0; i < c->nlisteners; i++) {
		const struct conf_listener *l = &c->listeners[i];

		fprintf(fp,
		    "\n[listener %s]\naddress = %s\nmode = %s\n"
		    "tls = %s\n",
		    l->name, l->address, mode_name(l->mode), tls_name(l->tls));
		print_networks(fp, "allow", l->allow, l->nallow,
		    l->ndeny > 0 ? "all but deny" : "everyone");
		print_networks(fp, "deny", l->deny, l->ndeny, NULL);
	}
	fprintf(fp, "\n[limits]\n");
	print_nums(c, S_LIMITS, fp);
	fprintf(fp, "user_limit_action = %s\n",
	    c->limits.user_limit_action == CONF_LIMIT_DEFER ? "defer" : "hold");
	fprintf(fp, "\n[queue]\n");
	print_nums(c, S_QUEUE, fp);
	print_routes(c, fp);
	fprintf(fp, "\n[tls]\n");
	print_opt(fp, "cert", c->tls.cert,
	    "self-signed, generated in data_dir/tls");
	print_opt(fp, "key", c->tls.key,
	    c->tls.cert != NULL ? "in the cert file" : "self-signed");
	print_opt(fp, "ciphers", c->tls.ciphers, "OpenSSL's defaults");
	fprintf(fp, "min_version = %s\n",
	    c->tls.min_version == CONF_TLS_V1_3 ? "TLSv1.3" : "TLSv1.2");
}

bool
conf_is_local_domain(const struct conf *c, const char *domain)
{
	size_t i, n = strlen(domain);

	if (n > 0 && domain[n - 1] == '.')
		n--;
	if (n == 0)
		return false;
	for (i = 0; i < c->ndomains; i++)
		if (strlen(c->domains[i]) == n &&
		    ascii_ncasecmp(c->domains[i], domain, n) == 0)
			return true;
	return false;
}
