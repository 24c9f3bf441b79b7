/* SPDX-License-Identifier: ISC */
/*
 * conf/conf.c - read the INI configuration into one immutable struct conf.
 *
 * libinih does the INI tokenising; this file feeds it one line at a time
 * through its reader callback, which is where the line number comes from
 * (Debian 12's libinih is built without INI_HANDLER_LINENO) and where
 * section headers are checked. Numeric keys come from keys.c's table,
 * values are checked by value.c, [routes] by route.c (conf-private.h).
 * Trust: the file is the operator's: trusted, but every value is checked
 * and every error names FILE:LINE and says what would be accepted.
 */
#include "conf/conf-private.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <ini.h>

#include "smtp/addr.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

static const char *const sect_names[] = { "top level", "listener", "limits",
	"queue", "tls", "routes", "relay_domains", "authentication", "dkim",
	"observability", "milter", "outbound_tls" };

static const char *const str_keys[K_STR_COUNT] = { "hostname", "data_dir",
	"domains", "user", "postmaster", "log_file", "relay_networks",
	"sender_ownership", "secrets_file", "admin_aliases",
	"recipient_delimiter" };

static const char *const lis_keys[L_COUNT] = { "address", "mode", "tls",
	"allow", "deny", "milters" };

static const char default_text[] = "# tern demo configuration\n"
                                   "hostname = localhost\n"
                                   "data_dir = ./var\n"
                                   "domains = localhost\n"
                                   "postmaster = admin@localhost\n"
                                   "\n"
                                   "[listener mx]\n"
                                   "address = 127.0.0.1:2525\n"
                                   "mode = mx\n"
                                   "tls = none\n"
                                   "\n"
                                   "# Mail from this host only: no SPF, "
                                   "DKIM or DMARC lookups.\n"
                                   "[authentication]\n"
                                   "checks = off\n";

int
conf_fail(struct parse *p, int line, const char *fmt, ...)
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

static int
domain_item(struct parse *p, const char *s, size_t n, void *arg)
{
	struct conf *c = p->c;
	const char *why;
	size_t i;
	char *d;

	(void)arg;
	if (!conf_domain_norm(s, n, &d, &why))
		return conf_fail(p, p->lineno, "domains: '%.*s' %s",
		    (int)(n > 64 ? 64 : n), s, why);
	for (i = 0; i < c->ndomains; i++)
		if (strcmp(c->domains[i], d) == 0) {
			conf_fail(p, p->lineno, "domains: '%s' is listed twice",
			    d);
			free(d);
			return 0;
		}
	if (c->ndomains >= CONF_DOMAINS_MAX) {
		free(d);
		return conf_fail(p, p->lineno, "domains: more than %d domains",
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

	if (conf_each_word(p, v, domain_item, NULL) == 0)
		return 0;
	if (p->c->ndomains == before)
		return conf_fail(p, p->lineno,
		    "domains is empty; list the mail domains this server "
		    "accepts, e.g. domains = example.org, example.net");
	return 1;
}

/*
 * Index of key in names[0..n) of section `where` ("[tls]"), recording
 * its line in lines[]; -1 after conf_fail() when the key is unknown, or given
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
		conf_fail(p, p->lineno, "unknown key '%.64s' in %s; known: %s",
		    key, where, known);
		return -1;
	}
	if (lines[i] != 0 && !(repeatable & (1u << i))) {
		conf_fail(p, p->lineno,
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
			return conf_fail(p, p->lineno,
			    "address '%.64s': expected [IPv6]:PORT, "
			    "e.g. [::1]:25",
			    v);
		colon = he + 1;
	} else {
		hs = v;
		colon = strchr(v, ':');
		if (colon == NULL)
			return conf_fail(p, p->lineno,
			    "address '%.64s' has no port; write e.g. "
			    "0.0.0.0:25",
			    v);
		if (strchr(colon + 1, ':') != NULL)
			return conf_fail(p, p->lineno,
			    "address '%.64s': put an IPv6 address in "
			    "brackets, e.g. [::1]:25",
			    v);
		he = colon;
	}
	if (he == hs)
		return conf_fail(p, p->lineno,
		    "address '%.64s' has no host; use 0.0.0.0 or [::] for "
		    "all addresses",
		    v);
	if ((size_t)(he - hs) >= sizeof(host))
		return conf_fail(p, p->lineno, "address '%.64s': host too long",
		    v);
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	if (!conf_num_parse(colon + 1, N_COUNT, &pn) || pn < 1 || pn > 65535 ||
	    strlen(colon + 1) > 5)
		return conf_fail(p, p->lineno,
		    "address '%.64s': port must be 1..65535", v);
	(void)snprintf(port, sizeof(port), "%" PRIu64, pn);

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = v[0] == '[' ? AF_INET6 : AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
		return conf_fail(p, p->lineno,
		    "address '%.64s': '%.64s' is not a numeric IP%s address "
		    "(host names are not resolved here)",
		    v, host, v[0] == '[' ? "v6" : "v4");
	if (res->ai_addrlen > sizeof(l->sa)) {
		freeaddrinfo(res);
		return conf_fail(p, p->lineno, "address '%.64s': too long", v);
	}
	memset(&l->sa, 0, sizeof(l->sa));
	memcpy(&l->sa, res->ai_addr, res->ai_addrlen);
	l->salen = res->ai_addrlen;
	freeaddrinfo(res);

	for (i = 0; i < p->c->nlisteners; i++) {
		const struct conf_listener *o = &p->c->listeners[i];

		if (o != l && o->salen == l->salen &&
		    memcmp(&o->sa, &l->sa, l->salen) == 0)
			return conf_fail(p, p->lineno,
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
		return conf_set_networks(p, "allow", &l->allow, &l->nallow, v);
	case L_DENY:
		return conf_set_networks(p, "deny", &l->deny, &l->ndeny, v);
	case L_MILTERS:
		return conf_set_milter_list(p, &p->ls[p->lis].milters, v);
	case L_MODE:
		if (strcmp(v, "mx") == 0)
			l->mode = CONF_MODE_MX;
		else if (strcmp(v, "submission") == 0)
			l->mode = CONF_MODE_SUBMISSION;
		else
			return conf_fail(p, p->lineno,
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
			return conf_fail(p, p->lineno,
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
			return conf_fail(p, p->lineno,
			    "min_version '%.64s': expected TLSv1.2 or TLSv1.3 "
			    "(older versions are not offered)",
			    v);
		return 1;
	}
	if (strlen(v) >= CONF_PATH_MAX)
		return conf_fail(p, p->lineno, "%s: longer than %d bytes", key,
		    CONF_PATH_MAX - 1);
	*dst[i] = xstrdup(v);
	return 1;
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
		if (!conf_domain_norm(v, strlen(v), &d, &why))
			return conf_fail(p, p->lineno, "hostname '%.64s' %s", v,
			    why);
		free(c->hostname);
		c->hostname = d;
		return 1;
	case K_DOMAINS:
		return set_domains(p, v);
	case K_DATA_DIR:
	case K_LOG_FILE:
		if (strlen(v) >= CONF_PATH_MAX)
			return conf_fail(p, p->lineno,
			    "%s: path longer than %d bytes", str_keys[k],
			    CONF_PATH_MAX - 1);
		if (k == K_DATA_DIR) {
			free(c->data_dir);
			c->data_dir = xstrdup(v);
		} else
			c->log_file = xstrdup(v);
		return 1;
	case K_USER:
		if (!conf_is_user(v))
			return conf_fail(p, p->lineno,
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
			return conf_fail(p, p->lineno,
			    "postmaster '%.64s' is not a mail address "
			    "(local@domain): %s",
			    v, a.is_null ? "empty" : why);
		c->postmaster = xstrdup(v);
		return 1;
	case K_SECRETS_FILE:
		/* The server's working directory is not the operator's. */
		if (v[0] != '/')
			return conf_fail(p, p->lineno,
			    "secrets_file '%.64s': needs an absolute path, "
			    "e.g. /etc/tern/secrets",
			    v);
		if (strlen(v) >= CONF_PATH_MAX)
			return conf_fail(p, p->lineno,
			    "secrets_file: path longer than %d bytes",
			    CONF_PATH_MAX - 1);
		c->secrets_file = xstrdup(v);
		return 1;
	case K_RELAY_NETWORKS:
		return conf_set_networks(p, "relay_networks",
		    &c->relay_networks, &c->nrelay_networks, v);
	case K_SENDER_OWNERSHIP:
		if (strcmp(v, "own") == 0)
			c->sender_ownership = CONF_SENDER_OWN;
		else if (strcmp(v, "any") == 0)
			c->sender_ownership = CONF_SENDER_ANY;
		else
			return conf_fail(p, p->lineno,
			    "sender_ownership '%.64s': expected own or any", v);
		return 1;
	case K_ADMIN_ALIASES:
		return conf_set_admin_aliases(p, v);
	case K_RECIPIENT_DELIMITER:
		return conf_set_delimiter(p, v);
	case K_STR_COUNT:
		break;
	}
	return conf_fail(p, p->lineno, "internal error: key %d", (int)k);
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
		return conf_fail(p, p->lineno,
		    "duplicate key 'dns_server' (first on line %d)",
		    p->dns_line);
	p->dns_line = p->lineno;
	ok = conf_hostport_parse(v, strlen(v), 53, &host, &port) &&
	     (inet_pton(AF_INET, host, bin) == 1 ||
	         inet_pton(AF_INET6, host, bin) == 1);
	free(host);
	if (!ok)
		return conf_fail(p, p->lineno,
		    "dns_server '%.64s': expected a numeric IP address with "
		    "an optional port, e.g. 127.0.0.1:5353 or [::1]:53",
		    v);
	p->c->dns_server = xstrdup(v);
	return 1;
}

/* A word setting (keys.c conf_word_keys[]): 1, or 0 after conf_fail. */
static int
set_word(struct parse *p, size_t k, const char *v)
{
	const struct word_key *wk = &conf_word_keys[k];
	char known[128];
	size_t i;

	if (p->word_line[k] != 0)
		return conf_fail(p, p->lineno,
		    "duplicate key '%s' (first on line %d)", wk->name,
		    p->word_line[k]);
	p->word_line[k] = p->lineno;
	for (i = 0; wk->words[i] != NULL; i++)
		if (strcmp(v, wk->words[i]) == 0) {
			*(int *)(void *)((char *)p->c + wk->off) = (int)i;
			return 1;
		}
	known[0] = '\0';
	for (i = 0; wk->words[i] != NULL; i++) {
		(void)strlcat(known, i == 0 ? "" : wk->words[i + 1] ? ", " : " or ",
		    sizeof(known));
		(void)strlcat(known, wk->words[i], sizeof(known));
	}
	return conf_fail(p, p->lineno, "%s '%.64s': expected %s", wk->name, v,
	    known);
}

/*
 * [limits] own_networks: networks, or "none" for no own clients beyond
 * relay_networks. The key may repeat (lines are capped); given at all,
 * it replaces the loopback default (finish()).
 */
static int
set_own_networks(struct parse *p, const char *v)
{
	bool none = strcmp(v, "none") == 0;
	size_t before = p->c->nown_networks;

	if (p->own_line != 0 && (none || p->own_none))
		return conf_fail(p, p->lineno,
		    "own_networks = none cannot be combined with another "
		    "own_networks line (first on line %d)",
		    p->own_line);
	if (p->own_line == 0)
		p->own_line = p->lineno;
	if (none) {
		p->own_none = true;
		return 1;
	}
	if (conf_set_networks(p, "own_networks", &p->c->own_networks,
	        &p->c->nown_networks, v) == 0)
		return 0;
	if (p->c->nown_networks == before)
		return conf_fail(p, p->lineno,
		    "own_networks is empty; list networks, e.g. "
		    "own_networks = 127.0.0.0/8 ::1/128, or write "
		    "own_networks = none");
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
	int r;

	(void)section; /* the reader tracked it, with its line */
	if (p->failed)
		return 0;
	if (!conf_is_printable(key) || !conf_is_printable(v))
		return conf_fail(p, p->lineno, "control character in line");
	if (v[0] == '\0')
		return conf_fail(p, p->lineno, "'%.64s' has no value", key);
	/* "k =;x" reaches us as ";x", but "k = ;x" is a comment: refuse
	 * what conf_print could not write back. */
	if (v[0] == ';')
		return conf_fail(p, p->lineno,
		    "'%.64s' value starts with ';', which starts a comment",
		    key);
	if (p->sect == S_LISTENER)
		return on_listener(p, key, v);
	if (p->sect == S_TLS)
		return on_tls(p, key, v);
	if (p->sect == S_ROUTES)
		return conf_on_route(p, key, v);
	if (p->sect == S_RELAY)
		return conf_on_relay(p, key, v);
	if (p->sect == S_DKIM)
		return conf_on_dkim(p, key, v);
	if (p->sect == S_MILTER)
		return conf_on_milter(p, key, v);
	if (p->sect == S_TOP && strcmp(key, "non_smtpd_milters") == 0)
		return conf_set_milter_list(p, &p->non_smtpd, v);
	if (p->sect == S_OBS && (r = conf_on_obs(p, key, v)) != -1)
		return r;
	if (p->sect == S_OUTTLS && (r = conf_on_outtls(p, key, v)) != -1)
		return r;
	if (p->sect == S_TOP && strcmp(key, "dns_server") == 0)
		return set_dns_server(p, v);
	for (i = 0; i < conf_nword_keys; i++)
		if (conf_word_keys[i].sect == p->sect &&
		    strcmp(conf_word_keys[i].name, key) == 0)
			return set_word(p, i, v);
	if (p->sect == S_LIMITS && strcmp(key, "own_networks") == 0)
		return set_own_networks(p, v);
	if (p->sect == S_AUTH && strcmp(key, "arc_trusted_sealers") == 0)
		return conf_set_arc_trusted(p, v);

	for (i = 0; i < conf_nkeys; i++)
		if (conf_keys[i].sect == p->sect &&
		    strcmp(conf_keys[i].name, key) == 0)
			break;
	if (i < conf_nkeys) {
		nk = &conf_keys[i];
		if (p->num_line[i] != 0)
			return conf_fail(p, p->lineno,
			    "duplicate key '%s' (first on line %d)", key,
			    p->num_line[i]);
		p->num_line[i] = p->lineno;
		conf_num_format(lo, sizeof(lo), nk->kind, nk->min);
		conf_num_format(hi, sizeof(hi), nk->kind, nk->max);
		if (!conf_num_parse(v, nk->kind, &n))
			return conf_fail(p, p->lineno,
			    "%s = %.64s: expected %s (%s..%s)", key, v,
			    conf_num_expect(nk->kind), lo, hi);
		if (n < nk->min || n > nk->max)
			return conf_fail(p, p->lineno,
			    "%s = %.64s is out of range; use %s..%s", key, v,
			    lo, hi);
		conf_num_store(p->c, nk, n);
		return 1;
	}
	if (p->sect == S_TOP)
		for (i = 0; i < K_STR_COUNT; i++)
			if (strcmp(str_keys[i], key) == 0) {
				/* A long list continues on a second
				 * "domains =" line: lines are capped. */
				if (p->str_line[i] != 0 && i != K_DOMAINS &&
				    i != K_RELAY_NETWORKS &&
				    i != K_ADMIN_ALIASES)
					return conf_fail(p, p->lineno,
					    "duplicate key '%s' (first on line "
					    "%d)",
					    key, p->str_line[i]);
				p->str_line[i] = p->lineno;
				return set_str(p, (enum str_key)i, v);
			}
	if (p->sect == S_TOP)
		return conf_fail(p, p->lineno,
		    "unknown key '%.64s' at top level (before any [section])",
		    key);
	return conf_fail(p, p->lineno, "unknown key '%.64s' in [%s]", key,
	    sect_names[p->sect]);
}

/* "[limits]", "[listener NAME]" (a copy): switch p->sect; 0 on error. */
static int
section(struct parse *p, char *line)
{
	struct conf *c = p->c;
	struct conf_listener *l;
	char *end, *in, *word2;
	size_t i;

	if ((end = strchr(line, ']')) == NULL)
		return conf_fail(p, p->lineno,
		    "missing ']' in section header; write e.g. [limits]");
	for (i = 1; end[i] == ' ' || end[i] == '\t'; i++)
		;
	if (end[i] != '\n' && end[i] != ';' && end[i] != '#')
		return conf_fail(p, p->lineno,
		    "text after ']' in section header");
	*end = '\0';
	in = str_trim(line + 1);
	word2 = in + strcspn(in, " \t");
	if (*word2 != '\0') {
		*word2++ = '\0';
		word2 = str_trim(word2);
	}
	if (strcmp(in, "routes") == 0 || strcmp(in, "relay_domains") == 0) {
		if (*word2 != '\0')
			return conf_fail(p, p->lineno,
			    "[%s] takes no name; write [%s]", in, in);
		p->sect = in[1] == 'o' ? S_ROUTES : S_RELAY;
		return 1;
	}
	if (strcmp(in, "authentication") == 0 || strcmp(in, "dkim") == 0) {
		if (*word2 != '\0')
			return conf_fail(p, p->lineno,
			    "[%s] takes no name; write [%s]", in, in);
		p->sect = in[0] == 'a' ? S_AUTH : S_DKIM;
		return 1;
	}
	if (strcmp(in, "outbound_tls") == 0) {
		if (*word2 != '\0')
			return conf_fail(p, p->lineno,
			    "[outbound_tls] takes no name; write [outbound_tls]");
		p->sect = S_OUTTLS;
		return 1;
	}
	if (strcmp(in, "observability") == 0) {
		if (*word2 != '\0')
			return conf_fail(p, p->lineno,
			    "[observability] takes no name; write "
			    "[observability]");
		p->sect = S_OBS;
		return 1;
	}
	if (strcmp(in, "tls") == 0) {
		if (*word2 != '\0')
			return conf_fail(p, p->lineno,
			    "[tls] takes no name; write [tls]");
		p->sect = S_TLS;
		return 1;
	}
	if (strcmp(in, "limits") == 0 || strcmp(in, "queue") == 0) {
		if (*word2 != '\0')
			return conf_fail(p, p->lineno,
			    "[%s] takes no name; write [%s]", in, in);
		p->sect = in[0] == 'l' ? S_LIMITS : S_QUEUE;
		return 1;
	}
	if (strcmp(in, "milter") == 0)
		return conf_milter_section(p, word2);
	if (strcmp(in, "listener") != 0)
		return conf_fail(p, p->lineno,
		    "unknown section [%.64s]; known: [listener NAME], "
		    "[limits], [queue], [tls], [routes], [relay_domains], "
		    "[authentication], [dkim], [observability], "
		    "[milter NAME], [outbound_tls]",
		    in);
	if (!conf_section_name_ok(p, "listener", word2, "mx"))
		return 0;
	for (i = 0; i < c->nlisteners; i++)
		if (strcmp(c->listeners[i].name, word2) == 0)
			return conf_fail(p, p->lineno,
			    "duplicate [listener %s] (first on line %d)", word2,
			    p->ls[i].line);
	if (c->nlisteners >= CONF_LISTENERS_MAX)
		return conf_fail(p, p->lineno, "more than %d listeners",
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
		conf_fail(p, p->lineno, "line longer than %d bytes%s", num - 2,
		    "; a long list (domains, admin_aliases ...) goes on "
		    "over several lines, each with the key");
		return NULL;
	}
	memcpy(str, s, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	if (str[0] == '[' && on_section(p, str) == 0)
		return NULL;
	if (str[0] != '[' && str[0] != ';' && str[0] != '#' && str[0] != '\n' &&
	    strcspn(str, "=:") == len + 1) {
		conf_fail(p, p->lineno,
		    "expected 'key = value' or '[section]'");
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
	conf_addr_free(c);
	str_free(&c->log_file);
	str_free(&c->tls.cert);
	str_free(&c->tls.key);
	str_free(&c->tls.ciphers);
	free(c->relay_networks);
	free(c->own_networks);
	for (i = 0; i < c->nroutes; i++)
		conf_route_free(&c->routes[i]);
	free(c->routes);
	for (i = 0; i < c->nrelay_domains; i++)
		conf_relay_free(&c->relay_domains[i]);
	free(c->relay_domains);
	conf_dkim_free(c);
	conf_outtls_free(c);
	conf_obs_free(c);
	conf_milter_free(c);
	str_free(&c->dns_server);
	str_free(&c->secrets_file);
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

	for (i = 0; i < conf_nkeys; i++) {
		if (strcmp(conf_keys[i].name, a) == 0)
			la = p->num_line[i];
		if (strcmp(conf_keys[i].name, b) == 0)
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
			return conf_fail(p, p->ls[i].line,
			    "[listener %s] has no address; add e.g. "
			    "address = 0.0.0.0:25",
			    c->listeners[i].name);
	if (c->nlisteners == 0)
		return conf_fail(p, 0,
		    "no listener; add e.g. [listener mx] with "
		    "address = 0.0.0.0:25");
	if (c->ndomains == 0)
		return conf_fail(p, 0,
		    "no domains; list the mail domains this server accepts, "
		    "e.g. domains = example.org");
	for (i = 0; i < c->nrelay_domains; i++)
		if (conf_is_local_domain(c, c->relay_domains[i].domain))
			return conf_fail(p, 0,
			    "%s is in both domains and [relay_domains]; a "
			    "domain is either ours (delivered here) or relayed "
			    "to its next hop",
			    c->relay_domains[i].domain);
	if (c->hostname == NULL) {
		if (gethostname(host, sizeof(host)) != 0)
			host[0] = '\0';
		host[sizeof(host) - 1] = '\0';
		if (!conf_domain_norm(host, strlen(host), &c->hostname, &why))
			return conf_fail(p, 0,
			    "no hostname given and this machine's name "
			    "'%.64s' %s; set hostname = mx.example.org",
			    host, why);
	}
	if (c->data_dir == NULL)
		c->data_dir = xstrdup("/var/lib/tern");
	if (p->own_line == 0 &&
	    conf_set_networks(p, "own_networks", &c->own_networks,
	        &c->nown_networks, CONF_OWN_NETWORKS_DEFAULT) == 0)
		return 0;
	if (c->tls.key != NULL && c->tls.cert == NULL)
		return conf_fail(p, p->tls_line[1],
		    "[tls] key without cert; add cert = /path/fullchain.pem");
	if (c->queue.retry_initial > c->queue.retry_max) {
		rl = key_line(p, "retry_initial", "retry_max");
		return conf_fail(p, rl,
		    "retry_initial (%us) is longer than retry_max (%us)",
		    c->queue.retry_initial, c->queue.retry_max);
	}
	if (c->limits.timeout_data_block > c->limits.timeout_data_total) {
		rl = key_line(p, "timeout_data_block", "timeout_data_total");
		return conf_fail(p, rl,
		    "timeout_data_block (%us) is longer than "
		    "timeout_data_total (%us)",
		    c->limits.timeout_data_block, c->limits.timeout_data_total);
	}
	return conf_milters_resolve(p);
}

struct conf *
conf_load_string(const char *text, const char *name, struct why *why)
{
	struct parse p;
	size_t i;
	int rc;

	memset(&p, 0, sizeof(p));
	p.c = xcalloc(1, sizeof(*p.c));
	atomic_init(&p.c->refs, 1);
	p.name = name != NULL ? name : "(config)";
	p.text = text;
	p.why = why;
	for (i = 0; i < conf_nkeys; i++)
		conf_num_store(p.c, &conf_keys[i], conf_keys[i].def);
	conf_addr_defaults(p.c);
	rc = ini_parse_stream(next_line, &p, on_key, &p);
	if (!p.failed && rc != 0)
		conf_fail(&p, rc, "expected 'key = value' or '[section]'");
	if (!p.failed)
		(void)finish(&p);
	conf_milter_parse_free(&p);
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

bool
conf_is_own_client(const struct conf *c, const struct sockaddr *sa)
{
	return cidr_match_any(c->relay_networks, c->nrelay_networks, sa) ||
	       cidr_match_any(c->own_networks, c->nown_networks, sa);
}
