/* SPDX-License-Identifier: ISC */
/*
 * conf/conf.h - the configuration file, read once into an immutable
 * `struct conf`.
 *
 * INI via libinih. Unknown sections or keys, bad values and missing files
 * are refused with "FILE:LINE: what is wrong" in why->text. Without a file,
 * conf_default() gives the demo set-up (data_dir ./var, domain localhost,
 * one mx listener on 127.0.0.1:2525).
 * Lines are at most 198 bytes (libinih's buffer); a long domain list
 * continues on further "domains =" lines, the one key that may repeat.
 * Trust: the file is written by the operator (trusted, but checked).
 */
#ifndef TERN_CONF_CONF_H
#define TERN_CONF_CONF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "util/cidr.h"
#include "util/why.h"

enum conf_mode {
	CONF_MODE_MX = 0,
	CONF_MODE_SUBMISSION,
};

enum conf_tls {
	CONF_TLS_NONE = 0,
	CONF_TLS_STARTTLS,
	CONF_TLS_IMPLICIT,
};

struct conf_listener {
	char *name;    /* from [listener NAME] */
	char *address; /* as written: "127.0.0.1:2525", "[::1]:25" */
	struct sockaddr_storage sa;
	socklen_t salen;
	enum conf_mode mode;
	enum conf_tls tls;
	/* Access lists (server/access.h): most specific network decides. */
	struct cidr *allow;
	size_t nallow;
	struct cidr *deny;
	size_t ndeny;
	/* milters = ... (issue 18): indices into conf->milters, in order. */
	size_t *milters;
	size_t nmilters;
};

/*
 * What crossing a per-user hourly limit does (a stolen password). Word
 * settings are ints of the enum, in the order of their words (keys.c).
 */
enum conf_limit_action {
	CONF_LIMIT_HOLD = 0, /* accept, keep the message held in the queue */
	CONF_LIMIT_DEFER,    /* 450 4.7.1 / 452 4.5.3: the client retries */
};

/* Every limit has a minimum and maximum checked at load (conf.c table). */
struct conf_limits {
	uint64_t max_message_size;     /* bytes; "35M" accepted; default 35M */
	size_t max_recipients;         /* per message; default 100 */
	size_t max_errors;             /* per session before 421; default 10 */
	size_t max_connections;        /* total; default 1000 */
	size_t max_connections_per_ip; /* default 50 */
	/* The operator's own clients (conf_is_own_client()): their own,
	 * higher limits, as Postfix exempts mynetworks (issue 14). */
	size_t own_max_connections_per_ip; /* default 1000 */
	size_t max_received;           /* Received headers; default 100 */
	/* Timeouts in seconds, RFC 5321 4.5.3.2 server side. */
	unsigned timeout_command;    /* default 300 */
	unsigned timeout_data_block; /* default 180 (one read in DATA) */
	unsigned timeout_data_total; /* whole DATA phase; default 600 */
	unsigned greet_delay; /* seconds to wait before the 220; 0: none */
	/* Failed AUTH (issues 3, 14): per client, never per account. */
	size_t auth_max_failures;  /* within auth_lockout, then 454/421 */
	unsigned auth_lockout;     /* seconds; default 900 */
	unsigned auth_fail_delay;  /* seconds, doubled per failure; def. 1 */
	unsigned auth_ipv6_prefix; /* an IPv6 client's key; default 64 */
	/* Token-bucket rates (issue 3, server/ratelimit.h); 0: no limit. */
	size_t ip_connections_per_minute;
	size_t ip_messages_per_minute;
	size_t own_ip_connections_per_minute; /* own clients; 0: none */
	size_t own_ip_messages_per_minute;
	size_t user_messages_per_hour; /* authenticated users */
	size_t user_recipients_per_hour;
	enum conf_limit_action user_limit_action; /* default hold */
};

enum conf_tls_version {
	CONF_TLS_V1_2 = 0, /* default: TLS 1.0 and 1.1 are refused */
	CONF_TLS_V1_3,
};

/* [tls]: one certificate for every TLS listener. */
struct conf_tls_opts {
	char *cert;    /* PEM chain, leaf first; NULL: self-signed */
	char *key;     /* PEM private key; NULL: in the cert file */
	char *ciphers; /* OpenSSL cipher list for TLS <= 1.2, or NULL */
	enum conf_tls_version min_version;
};

/* Which MAIL FROM an authenticated submission client may use. */
enum conf_sender {
	CONF_SENDER_OWN = 0, /* own address or an alias pointing to it */
	CONF_SENDER_ANY,
};

/* [routes] (issue 4): where mail for a domain goes instead of its MX. */
enum conf_route_kind {
	CONF_ROUTE_SMTP = 0, /* host[:port], default port 25 */
	CONF_ROUTE_LMTP,     /* lmtp:/socket or lmtp:host[:port], port 24 */
};

enum conf_route_tls {
	CONF_ROUTE_TLS_MAY = 0, /* STARTTLS when offered, unverified */
	CONF_ROUTE_TLS_NONE,
	CONF_ROUTE_TLS_REQUIRE, /* verify the certificate and the name */
};

struct conf_route {
	char *domain; /* lower-case, or "*" for every other remote domain */
	enum conf_route_kind kind;
	char *host;   /* name or IP literal (no brackets); NULL: unix */
	unsigned port;
	char *path;   /* LMTP unix socket, or NULL */
	enum conf_route_tls tls;
	char *auth_user; /* AUTH PLAIN/LOGIN for a smarthost, or NULL */
	/*
	 * With auth=USER:PASSWORD, the password from the config file
	 * (auth_inline); with auth=USER, NULL until conf_secrets_load()
	 * fills it in from secrets_file (only the server does).
	 */
	char *auth_pass;
	bool auth_inline;
};

/*
 * [relay_domains] (issue 14): domains this server relays for on behalf
 * of anyone (a backup MX, an internal host behind it), and how a
 * recipient there is known to exist before RCPT gets its 250. A [routes]
 * entry only says how mail travels; it opens no relaying.
 */
enum conf_relay_check {
	CONF_RELAY_VERIFY = 0, /* ask the next hop with RCPT; cache it */
	CONF_RELAY_FILE,       /* a file of addresses, one per line */
	CONF_RELAY_USERS,      /* tern's user store: a user or an alias */
	CONF_RELAY_ANY,        /* every local part (backscatter: warned) */
};

struct conf_relay_domain {
	char *domain; /* lower-case, no trailing dot */
	enum conf_relay_check check;
	char *file; /* CONF_RELAY_FILE: its path, else NULL */
};

/* What the end of the queue lifetime does to a held message. */
enum conf_held_action {
	CONF_HELD_BOUNCE = 0, /* like any undelivered message: bounced */
	CONF_HELD_KEEP,       /* kept until released or deleted */
};

struct conf_queue {
	unsigned retry_initial;    /* seconds; default 300 */
	unsigned retry_max;        /* seconds; default 14400 */
	unsigned lifetime;         /* seconds; default 432000 (5 days) */
	unsigned delivery_threads; /* default 4 */
	/* Outbound (issue 4). */
	unsigned delay_warning;    /* seconds; default 4h; 0: never */
	unsigned connect_timeout;  /* seconds; default 30 */
	unsigned remote_timeout;   /* cap on RFC 5321 4.5.3.2; 0: none */
	unsigned destination_concurrency; /* sessions per destination */
	/* Recipient verification for [relay_domains] (issue 14). */
	unsigned verify_positive_ttl; /* seconds an "exists" is kept; 7d */
	unsigned verify_negative_ttl; /* seconds a "no such user"; 3h */
	unsigned verify_timeout;      /* cap on each wait of a probe; 30s */
	enum conf_held_action held_action; /* default bounce */
};

/* [authentication] (issue 16): the checks on mail from outside. */
enum conf_onoff {
	CONF_ON = 0,
	CONF_OFF,
};
enum conf_spf_fail {
	CONF_SPF_FAIL_NOTE = 0, /* recorded; DMARC decides */
	CONF_SPF_FAIL_REJECT,   /* 550 5.7.23 at MAIL FROM */
};
enum conf_temperror {
	CONF_TEMP_ACCEPT = 0, /* a DNS failure does not hold mail back */
	CONF_TEMP_DEFER,      /* 451 4.7.x: the sender tries again */
};
enum conf_dmarc_action {
	CONF_DMARC_FOLLOW = 0, /* p=reject: 550 5.7.1; p=quarantine: Junk */
	CONF_DMARC_QUARANTINE, /* both into Junk, nothing refused */
	CONF_DMARC_NOTE,       /* recorded only */
};
enum conf_key_error {
	CONF_KEY_ERROR_UNSIGNED = 0, /* logged; the message goes unsigned */
	CONF_KEY_ERROR_DEFER,        /* 451 4.3.0: the client tries again */
};

struct conf_auth {
	enum conf_onoff checks;            /* SPF, DKIM, DMARC inbound */
	enum conf_spf_fail spf_fail;
	enum conf_temperror spf_temperror;
	enum conf_dmarc_action dmarc_policy;
	enum conf_temperror dmarc_temperror;
	size_t dkim_max_signatures; /* signatures checked per message; 5 */
	enum conf_key_error dkim_key_error;
	/* ARC sealers (mailing lists, forwarders) whose passing chain
	 * overrides a DMARC failure (RFC 8617 7.2), lower-case; none. */
	char **arc_trusted;
	size_t narc_trusted;
};

/*
 * [outbound_tls] (issue 19): how delivery to other domains' MX hosts
 * secures a hop. DANE (RFC 7672) needs a DNSSEC trust anchor; MTA-STS
 * (RFC 8461) fetches policies over HTTPS; TLS-RPT (RFC 8460) reports
 * on both; REQUIRETLS (RFC 8689) lets a sender demand verified TLS.
 * Every switch is on by default (safe: none of them ever sends in the
 * clear where the old behaviour encrypted).
 */
#define CONF_TRUST_ANCHOR_DEFAULT "/usr/share/dns/root.key"
struct conf_outtls {
	enum conf_onoff dane;       /* TLSA records of signed zones; on */
	enum conf_onoff mta_sts;    /* MTA-STS policies; on */
	enum conf_onoff tlsrpt;     /* daily TLS reports to rua; on */
	enum conf_onoff requiretls; /* offer REQUIRETLS; on */
	/* DNSSEC trust anchor file (unbound's format: DS or DNSKEY lines),
	 * or NULL: CONF_TRUST_ANCHOR_DEFAULT (Debian's dns-root-data);
	 * "none" turns validation, and so DANE, off. */
	char *trust_anchor;
	/* Extra CA certificates (PEM) trusted for outbound verification:
	 * MX certificates under MTA-STS, routes with tls = require, the
	 * MTA-STS and TLS-RPT HTTPS fetches; NULL: the system's store. */
	char *ca_file;
};

/*
 * [observability] (issue 17): the metrics and dashboard listener, the
 * journal that `tern explain` reads, and the event stream. All take a
 * restart (server/reload.c).
 */
struct conf_obs {
	/* http_listen = 127.0.0.1:9425: /metrics, the dashboard and its
	 * JSON. Loopback only (a numeric 127/8 or ::1 address); NULL: off,
	 * the default. */
	char *http_listen;
	struct sockaddr_storage http_sa;
	socklen_t http_salen;
	/* A file holding the bearer token every HTTP request must carry
	 * (Authorization: Bearer ...), or NULL: none asked. */
	char *http_token_file;
	enum conf_onoff journal;   /* <data_dir>/journal; on */
	uint64_t journal_max_size; /* bytes before it rotates; 64M */
	enum conf_onoff events_socket; /* <data_dir>/events.sock; on */
	/* Every event POSTed as JSON to this http:// or https:// URL, or
	 * NULL: none, the default. */
	char *webhook_url;
	char *webhook_token_file; /* bearer token for the webhook, or NULL */
	size_t webhook_backlog;   /* events kept while it is down; 100000 */
};

/*
 * [milter NAME] (issue 18): a content filter speaking the milter
 * protocol (rspamd, OpenDKIM, clamav-milter), as Postfix's smtpd_milters:
 *
 *   [milter rspamd]
 *   address = inet:127.0.0.1:11332      or unix:/run/rspamd/milter.sock
 *   default_action = tempfail           or accept
 *   connect_timeout = 30s
 *   command_timeout = 30s
 *   content_timeout = 5m
 *
 * A listener's `milters = rspamd opendkim` (names, or addresses for a
 * filter with the defaults) applies them in order; the top-level
 * `non_smtpd_milters` does the same for `tern sendmail` mail.
 */
enum conf_milter_default {
	CONF_MILTER_TEMPFAIL = 0, /* 451 4.7.1 while the filter is broken */
	CONF_MILTER_ACCEPT,       /* go on without it */
};

struct conf_milter {
	char *name;    /* [milter NAME], or the address of an inline one */
	char *address; /* as written: "inet:127.0.0.1:11332", "unix:/p" */
	/* Where it listens: resolved when the configuration is read. */
	struct sockaddr_storage sa;
	socklen_t salen;
	/* What a filter that is down, times out or breaks the protocol
	 * means: default tempfail (nothing passes unfiltered). */
	enum conf_milter_default default_action;
	unsigned connect_timeout; /* seconds; default 30 */
	unsigned command_timeout; /* seconds per reply; default 30 */
	/* seconds for each reply to the body, and from the end of the
	 * message to the verdict, changes included; default 300 */
	unsigned content_timeout;
};

/* [dkim] DOMAIN = SELECTOR ...: which of the domain's keys sign. */
struct conf_dkim_domain {
	char *domain; /* lower-case */
	char **selectors;
	size_t nselectors;
};

struct conf {
	/* conf_ref()/conf_unref(): 1 when loaded. Not a setting. */
	atomic_uint refs;
	char *path;     /* file it came from, or NULL for the default */
	char *hostname; /* default: gethostname() */
	char *data_dir; /* default /var/lib/tern; demo default ./var */
	char **domains; /* lower-case, no trailing dot */
	size_t ndomains;
	char *user;       /* drop privileges to this user, or NULL */
	char *postmaster; /* where postmaster mail goes, or NULL */
	/* Local parts of every local domain that go to postmaster (RFC
	 * 2142), lower-case; default root, abuse, mailer-daemon. */
	char **admin_aliases;
	size_t nadmin_aliases;
	/* Characters that start a subaddress (alice+news@); "" none. */
	char *recipient_delimiter;
	char *log_file;   /* NULL: stderr */
	unsigned threads; /* event-loop threads; 0 = number of cores */
	struct conf_listener *listeners;
	size_t nlisteners;
	struct conf_limits limits;
	struct conf_queue queue;
	struct conf_auth auth;
	/* [dkim]: domains whose signing keys are chosen (default: all). */
	struct conf_dkim_domain *dkim_domains;
	size_t ndkim_domains;
	struct conf_tls_opts tls;
	/* Clients that may relay through submission without AUTH. */
	struct cidr *relay_networks;
	size_t nrelay_networks;
	/* [limits] own_networks: with relay_networks, the clients that get
	 * the own_ limits. Default loopback; may be empty ("none"). */
	struct cidr *own_networks;
	size_t nown_networks;
	enum conf_sender sender_ownership;
	/* Outbound (issue 4). */
	struct conf_route *routes;
	size_t nroutes;
	struct conf_relay_domain *relay_domains;
	size_t nrelay_domains;
	char *dns_server; /* "127.0.0.1:5353", or NULL: /etc/resolv.conf */
	/* Route passwords for auth=USER (issue 15), or NULL: none. */
	char *secrets_file;
	struct conf_obs obs; /* [observability] */
	struct conf_outtls outtls; /* [outbound_tls] */
	/* [milter NAME] sections and inline filters (issue 18). */
	struct conf_milter *milters;
	size_t nmilters;
	/* non_smtpd_milters: indices into milters, for `tern sendmail`. */
	size_t *non_smtpd_milters;
	size_t nnon_smtpd_milters;
};

/* Load FILE; NULL with why->text = "FILE:LINE: problem" on error. */
struct conf *conf_load(const char *path, struct why *);
/* The embedded default (never fails). */
struct conf *conf_default(void);
/* Parse from a string (used by tests and conf_default); name for errors. */
struct conf *conf_load_string(const char *text, const char *name, struct why *);
void conf_free(struct conf *);

/*
 * Shared configurations (issue 15, reload): a loaded conf holds one
 * reference. conf_ref() adds one and returns c; conf_unref() drops one
 * and frees c with the last (NULL is fine). Any thread. They take const
 * pointers: the count is bookkeeping, the settings stay immutable.
 */
const struct conf *conf_ref(const struct conf *);
void conf_unref(const struct conf *);

/*
 * The configuration in force, which a reload replaces: work that needs
 * settings takes the current one with conf_holder_get() (a reference:
 * conf_unref() it when done), so work in flight finishes on the
 * settings it started with and the old conf is freed after it.
 */
struct conf_holder;

/* Holding c, whose reference it takes over. Never NULL. */
struct conf_holder *conf_holder_new(const struct conf *c);
/* Drop the held reference; free. NULL is fine. */
void conf_holder_free(struct conf_holder *);
/* The current conf, with a new reference. Any thread. */
const struct conf *conf_holder_get(struct conf_holder *);
/* Make c current (its reference taken over); the old one is dropped. */
void conf_holder_set(struct conf_holder *, const struct conf *c);

/* conf_print() flags. */
#define CONF_PRINT_ALL 0x1u /* defaults too, each number with its range */

/*
 * Print the configuration as a file that conf_load() reads back to the
 * same settings: only what differs from the defaults (like postconf -n),
 * or with CONF_PRINT_ALL every setting. A password is never printed: a
 * route's auth= shows its user alone, and one whose password is inline
 * gets a comment saying so (that printed line needs a secrets_file).
 */
void conf_print(const struct conf *, FILE *, unsigned flags);

/*
 * The route for `domain` (any case, optional trailing dot): its own
 * [routes] entry, else "*", else NULL (use DNS). Borrowed from conf.
 */
const struct conf_route *conf_route_find(const struct conf *,
    const char *domain);

/* Is `domain` (any case, optional trailing dot) one of ours? */
bool conf_is_local_domain(const struct conf *, const char *domain);

/*
 * Is the client at sa one of the operator's own, in relay_networks or
 * own_networks? Such clients get the own_ per-IP limits of [limits]
 * instead of the ones for strangers; it grants nothing else.
 */
bool conf_is_own_client(const struct conf *, const struct sockaddr *sa);

/* "verify", "file", "users" or "any". */
const char *conf_relay_check_name(enum conf_relay_check);

/*
 * Advice about a configuration that loads but is likely not what its
 * operator wants (a [routes] domain that no longer relays, a relay
 * domain without a recipient check, a password sent without TLS):
 * fn(arg, name, text) once for each, `name` a short tag for logs, `text`
 * one line for a person. Pure: looks at nothing but the conf
 * (conf/check.c; cli/check.c has the checks that look at the system).
 */
void conf_warnings(const struct conf *,
    void (*fn)(void *arg, const char *name, const char *text), void *arg);

/*
 * Secrets (issue 15, conf/secrets.c). secrets_file holds the passwords of
 * routes that say auth=USER, one line per route:
 *
 *   # ROUTE_DOMAIN  USER:PASSWORD
 *   *               relay@example.org:s3cret
 *
 * conf_load() never reads it, so `tern sendmail`, `tern user` and
 * `tern queue` work without the right to. The server reads it after the
 * privilege drop, as the user it runs as.
 */

/*
 * Read c->secrets_file (nothing to do when unset) and give every route
 * with auth=USER its password. Run it as the server's user: the file must
 * be a regular file, not a link, owned by root or the caller, neither
 * writable by group or others nor readable by others, and readable by
 * its group only when that is the caller's group or root's. Call it on
 * a conf no other thread uses yet: the server calls it at start after
 * the privilege drop, and must on every reload with the new conf.
 * warn(arg, name, text) gets advice (a line no route uses); may be NULL.
 * 0, or -1 with why->text ("FILE[:LINE]: what is wrong; what to do"),
 * which never holds a password.
 */
int conf_secrets_load(struct conf *,
    void (*warn)(void *arg, const char *name, const char *text), void *arg,
    struct why *);

/*
 * The parser of conf_secrets_load(), for tests: `text` is the file's
 * contents, `name` its name in messages. Same results.
 */
int conf_secrets_parse(struct conf *, const char *text, const char *name,
    void (*warn)(void *arg, const char *name, const char *text), void *arg,
    struct why *);

/*
 * A bearer token file ([observability] http_token_file,
 * webhook_token_file; issue 17): read `path` with the secrets file's
 * checks (a regular file, not a link, owned by root or the caller, not
 * open to others), as the server's user. The token is the file's one
 * line without its LF: 1 to CONF_TOKEN_MAX characters of RFC 6750's
 * b64token (letters, digits, -._~+/=), so it is safe in a header. `key`
 * names the setting in messages. 0 with *token_out (malloc'd; wipe with
 * explicit_bzero and free), or -1 with why, which never holds the token.
 */
#define CONF_TOKEN_MAX 1024
int conf_token_load(const char *key, const char *path, char **token_out,
    struct why *);

/*
 * Advice that needs the file system: a route with auth=USER:PASSWORD in
 * a config file every local user may read. fn as for conf_warnings().
 */
void conf_secrets_warnings(const struct conf *,
    void (*fn)(void *arg, const char *name, const char *text), void *arg);

/*
 * The [dkim] selectors that sign for `domain` (a NULL-terminated list),
 * or NULL when the domain has no line: every key of the domain signs.
 */
const char *const *conf_dkim_selectors(const struct conf *,
    const char *domain);

/*
 * The [relay_domains] entry for `domain` (any case, optional trailing
 * dot), or NULL when we do not relay for it. Borrowed from conf.
 */
const struct conf_relay_domain *conf_relay_domain_find(const struct conf *,
    const char *domain);

#endif
