/* SPDX-License-Identifier: ISC */
/*
 * conf/conf-private.h - what the files of the configuration reader share.
 *
 *   conf.c   the reader: lines, sections, keys, the checks after the last
 *            line, load and free
 *   keys.c   the table of numeric settings: default, minimum, maximum
 *   value.c  the value grammar: numbers with units, domains, networks,
 *            host:port, login names
 *   route.c  [routes]: parse, look up, print
 *   relay.c  [relay_domains]: parse, look up, print
 *   secrets.c secrets_file: route passwords, read by the server only
 *   check.c  conf_warnings(): advice about a configuration that loads
 *   print.c  conf_print(): the effective configuration as a file
 *   addr.c   admin_aliases and recipient_delimiter: where local
 *            addresses go (besides postmaster, which conf.c reads)
 *   milter.c [milter NAME], a listener's milters, non_smtpd_milters
 * Nothing outside conf/ includes this.
 * Trust: as conf.h: the operator's file, trusted but checked.
 */
#ifndef TERN_CONF_CONF_PRIVATE_H
#define TERN_CONF_CONF_PRIVATE_H

#include "conf/conf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/cidr.h"
#include "util/why.h"

#define CONF_FILE_MAX (1024 * 1024) /* bytes; a config is a few KiB */
#define CONF_LISTENERS_MAX 64
#define CONF_DOMAINS_MAX 1000
#define CONF_NAME_MAX 32       /* listener names */
#define CONF_DOMAIN_MAX 253    /* RFC 1035 2.3.4, without the dot */
#define CONF_LABEL_MAX 63      /* RFC 1035 2.3.4 */
#define CONF_PATH_MAX 1024     /* data_dir, log_file */
#define CONF_USER_MAX 32       /* login names, useradd(8) */
#define CONF_PRINT_WIDTH 72    /* wrap printed domain lists */
#define CONF_NETWORKS_MAX 1000 /* relay_networks entries */
#define CONF_ROUTES_MAX 1000   /* [routes] entries */
#define CONF_RELAY_MAX 1000    /* [relay_domains] entries */
#define CONF_DKIM_MAX 1000     /* [dkim] domains */
#define CONF_ARC_TRUSTED_MAX 100 /* arc_trusted_sealers */
#define CONF_SELECTORS_MAX 8   /* selectors of one [dkim] domain */
#define CONF_SELECTOR_MAX 63   /* one selector: a DNS label */
#define CONF_AUTH_MAX 255      /* route auth= user and password */
#define CONF_LINE_MAX 198      /* libinih's line buffer less LF and NUL */
#define CONF_NUM_KEYS_MAX 64   /* entries of conf_keys[] */
/* [limits] own_networks when not given: loopback, as Postfix's
 * mynetworks_style = host includes it (issue 14). */
#define CONF_OWN_NETWORKS_DEFAULT "127.0.0.0/8 ::1/128"
#define CONF_ADMIN_ALIASES_MAX 32 /* admin_aliases names */
#define CONF_ADMIN_NAME_MAX 64    /* a local part, RFC 5321 4.5.3.1.1 */
#define CONF_DELIMITERS_MAX 8     /* recipient_delimiter characters */
#define CONF_MILTERS_MAX 32       /* [milter] sections and list items */

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
	S_RELAY, /* [relay_domains] */
	S_AUTH,  /* [authentication] */
	S_DKIM,  /* [dkim] */
	S_OBS,   /* [observability] */
	S_MILTER, /* [milter NAME] */
	S_OUTTLS, /* [outbound_tls] */
};

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

/* Top-level string keys (conf.c). */
enum str_key {
	K_HOSTNAME = 0,
	K_DATA_DIR,
	K_DOMAINS,
	K_USER,
	K_POSTMASTER,
	K_LOG_FILE,
	K_RELAY_NETWORKS,
	K_SENDER_OWNERSHIP,
	K_SECRETS_FILE,
	K_ADMIN_ALIASES,
	K_RECIPIENT_DELIMITER,
	K_STR_COUNT,
};

/* A numeric setting: where it lives in struct conf, and its bounds. */
struct num_key {
	enum sect sect;
	const char *name;
	enum num_kind kind;
	enum num_type type;
	size_t off; /* in struct conf */
	uint64_t def, min, max;
};

/* keys.c: the one table of numeric settings. */
extern const struct num_key conf_keys[];
extern const size_t conf_nkeys;

#define CONF_WORD_KEYS_MAX 16 /* entries of conf_word_keys[] */

/*
 * A setting that takes one of a few words ("hold" or "defer"), stored
 * as the word's index in an int-sized enum of struct conf; the first
 * word is the default.
 */
struct word_key {
	enum sect sect;
	const char *name;
	size_t off; /* of the enum in struct conf */
	const char *const *words; /* NULL-terminated */
};

/* keys.c: the table of word settings. */
extern const struct word_key conf_word_keys[];
extern const size_t conf_nword_keys;

enum lis_key {
	L_ADDRESS = 0,
	L_MODE,
	L_TLS,
	L_ALLOW, /* may repeat, like relay_networks */
	L_DENY,
	L_MILTERS,
	L_COUNT,
};

/* A `milters` list as written, resolved after the last line. */
struct mil_list {
	int line; /* 0 = not given */
	char *text;
};

struct lis_state {
	int line;              /* of the [listener NAME] header */
	int key_line[L_COUNT]; /* 0 = not given */
	struct mil_list milters;
};

struct mil_state {
	int line;        /* of the [milter NAME] header */
	int key_line[5]; /* address .. content_timeout (milter.c) */
};

/* One file being read. */
struct parse {
	struct conf *c;
	const char *name; /* for messages */
	const char *text;
	size_t pos;
	int lineno;
	enum sect sect;
	size_t lis; /* current listener when sect == S_LISTENER */
	struct lis_state *ls;
	int num_line[CONF_NUM_KEYS_MAX];
	int str_line[K_STR_COUNT];
	int tls_line[4]; /* [tls] cert, key, ciphers, min_version */
	int dns_line;    /* dns_server */
	int word_line[CONF_WORD_KEYS_MAX];
	int own_line;  /* [limits] own_networks, its first line */
	bool own_none; /* own_networks = none */
	int obs_line[4]; /* [observability] strings (observe.c) */
	int outtls_line[2]; /* [outbound_tls] paths (outbound.c) */
	int admin_line;  /* admin_aliases, its first line */
	bool admin_none; /* admin_aliases = none */
	struct mil_state *mil;     /* one per [milter] section */
	struct mil_list non_smtpd; /* non_smtpd_milters */
	bool failed;
	struct why *why;
};

/*
 * Record the first error as "NAME:LINE: text" (LINE 0: "NAME: text").
 * Returns 0, so that a key handler can `return conf_fail(...)`.
 */
int conf_fail(struct parse *, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* value.c */

void conf_num_store(struct conf *, const struct num_key *, uint64_t v);
uint64_t conf_num_load(const struct conf *, const struct num_key *);
/* "35M", "5d", "0": the shortest exact spelling conf_num_parse reads. */
void conf_num_format(char *dst, size_t dstsz, enum num_kind, uint64_t v);
/* Digits with one optional unit suffix; false on junk or overflow. */
bool conf_num_parse(const char *s, enum num_kind, uint64_t *out);
/* What a value of this kind looks like, for messages. */
const char *conf_num_expect(enum num_kind);
/* An ASCII host name (RFC 1035 2.3.1, RFC 1123 2.1), not all digits. */
bool conf_is_domain(const char *s, size_t n);
/* Printable ASCII and UTF-8, no controls. */
bool conf_is_printable(const char *s);
/*
 * Lower-case, drop one trailing dot, check: true with a new string in
 * *out (the caller frees it), or false with *why_out.
 */
bool conf_domain_norm(const char *s, size_t n, char **out,
    const char **why_out);
/*
 * Call item(p, word, length, arg) for each word of a list separated by
 * commas and blanks (domains, networks), stopping at the first 0 it
 * returns. 1, or 0 after an error.
 */
int conf_each_word(struct parse *, const char *v,
    int (*item)(struct parse *, const char *, size_t, void *), void *arg);
/* "127.0.0.1/32 ::1/128" appended to *nets; `key` names it in errors. */
int conf_set_networks(struct parse *, const char *key, struct cidr **nets,
    size_t *n, const char *v);
/*
 * The NAME of "[sect NAME]": 1 to CONF_NAME_MAX letters, digits, '-' or
 * '_'. 1, or 0 after conf_fail (which shows [sect example]).
 */
int conf_section_name_ok(struct parse *, const char *sect, const char *name,
    const char *example);
/* A login name: [a-z_][a-z0-9_.-]*, as useradd(8) accepts by default. */
bool conf_is_user(const char *s);
/*
 * "host", "host:port", "[v6]:port", "192.0.2.1:port": *host_out is a
 * copy without brackets. A host is a domain or an IP literal.
 */
bool conf_hostport_parse(const char *s, size_t n, unsigned defport,
    char **host_out, unsigned *port_out);

/* addr.c */

/* The defaults (before the file is read), and their release. */
void conf_addr_defaults(struct conf *);
void conf_addr_free(struct conf *);
/* admin_aliases = NAME, ... | none. 1, or 0 after conf_fail. */
int conf_set_admin_aliases(struct parse *, const char *v);
/* recipient_delimiter = CHARS | none. 1, or 0 after conf_fail. */
int conf_set_delimiter(struct parse *, const char *v);
void conf_print_addr(const struct conf *, FILE *, unsigned flags);
/* "KEY = a, b, c" wrapped at CONF_PRINT_WIDTH: KEY repeats per line. */
void conf_print_list(FILE *, const char *key, const char *const *items,
    size_t n);

/* route.c */

/* A [routes] line: "DOMAIN = TARGET [options]". 1, or 0 after fail. */
int conf_on_route(struct parse *, const char *key, const char *v);
void conf_route_free(struct conf_route *);
void conf_print_routes(const struct conf *, FILE *, unsigned flags);

/* relay.c */

/* A [relay_domains] line: "DOMAIN = CHECK". 1, or 0 after conf_fail. */
int conf_on_relay(struct parse *, const char *key, const char *v);
void conf_relay_free(struct conf_relay_domain *);
void conf_print_relay(const struct conf *, FILE *, unsigned flags);
/* dkim.c: [dkim] DOMAIN = SELECTOR ... */
int conf_on_dkim(struct parse *, const char *key, const char *v);
void conf_dkim_free(struct conf *);
void conf_print_dkim(const struct conf *, FILE *, unsigned flags);
/* [authentication] arc_trusted_sealers = DOMAIN ... (may repeat). */
int conf_set_arc_trusted(struct parse *, const char *v);
/*
 * observe.c: [observability]'s strings (its numbers and words are in
 * keys.c, print.c prints them all): 1 taken, 0 refused (conf_fail), -1
 * not one of them.
 */
int conf_on_obs(struct parse *, const char *key, const char *v);
/* outbound.c: [outbound_tls]'s paths (its switches are in keys.c); -1
 * when key is not one of them. */
int conf_on_outtls(struct parse *, const char *key, const char *v);
void conf_outtls_free(struct conf *);
void conf_obs_free(struct conf *);
void conf_print_arc_trusted(const struct conf *, FILE *, unsigned flags);

/* milter.c (issue 18). 1 taken, 0 refused (conf_fail). */
int conf_milter_section(struct parse *, const char *name);
int conf_on_milter(struct parse *, const char *key, const char *v);
int conf_set_milter_list(struct parse *, struct mil_list *, const char *v);
/* After the last line: list names to sections; 1, or 0 (conf_fail). */
int conf_milters_resolve(struct parse *);
void conf_milter_parse_free(struct parse *);
void conf_milter_free(struct conf *);
void conf_print_milters(const struct conf *, FILE *, unsigned flags);
void conf_print_listener_milters(const struct conf *,
    const struct conf_listener *, FILE *);
void conf_print_non_smtpd(const struct conf *, FILE *);

#endif
