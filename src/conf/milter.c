/* SPDX-License-Identifier: ISC */
/*
 * conf/milter.c - [milter NAME] sections, a listener's `milters` and the
 * top-level `non_smtpd_milters` (issue 18), as Postfix's smtpd_milters:
 *
 *   [milter rspamd]
 *   address = inet:127.0.0.1:11332
 *   default_action = tempfail
 *
 *   [listener mx]
 *   milters = rspamd inet:127.0.0.1:8891
 *
 * A list item is a section's name, or an address for a filter with the
 * defaults. Lists are resolved after the last line, so a section may
 * come after the listener that names it. inet: host names are resolved
 * when the configuration is read, never on an event loop.
 * Trust: the operator's text, checked.
 */
#include "conf/conf-private.h"

#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "util/str.h"
#include "util/xmalloc.h"

enum mil_key {
	M_ADDRESS = 0,
	M_DEFAULT_ACTION,
	M_CONNECT_TIMEOUT,
	M_COMMAND_TIMEOUT,
	M_CONTENT_TIMEOUT,
	M_COUNT,
};
static const char *const mil_keys[M_COUNT] = { "address", "default_action",
	"connect_timeout", "command_timeout", "content_timeout" };

#define MILTER_TIMEOUT_MAX (24u * HOUR)

static void
milter_defaults(struct conf_milter *m)
{
	m->default_action = CONF_MILTER_TEMPFAIL;
	m->connect_timeout = 30;
	m->command_timeout = 30;
	m->content_timeout = 300;
}

void
conf_milter_free(struct conf *c)
{
	size_t i;

	for (i = 0; i < c->nmilters; i++) {
		free(c->milters[i].name);
		free(c->milters[i].address);
	}
	free(c->milters);
	free(c->non_smtpd_milters);
	for (i = 0; i < c->nlisteners; i++)
		free(c->listeners[i].milters);
	c->milters = NULL;
	c->nmilters = 0;
	c->non_smtpd_milters = NULL;
}

static struct conf_milter *
milter_add(struct conf *c, const char *name)
{
	struct conf_milter *m;

	c->milters = xrealloc(c->milters,
	    (c->nmilters + 1) * sizeof(c->milters[0]));
	m = &c->milters[c->nmilters++];
	memset(m, 0, sizeof(*m));
	m->name = xstrdup(name);
	milter_defaults(m);
	return m;
}

/* "[milter NAME]": a new section, made current. */
int
conf_milter_section(struct parse *p, const char *name)
{
	size_t i;

	if (!conf_section_name_ok(p, "milter", name, "rspamd"))
		return 0;
	for (i = 0; i < p->c->nmilters; i++)
		if (strcmp(p->c->milters[i].name, name) == 0)
			return conf_fail(p, p->lineno,
			    "duplicate [milter %s] (first on line %d)", name,
			    p->mil[i].line);
	if (p->c->nmilters >= CONF_MILTERS_MAX)
		return conf_fail(p, p->lineno, "more than %d milters",
		    CONF_MILTERS_MAX);
	(void)milter_add(p->c, name);
	p->mil = xrealloc(p->mil, p->c->nmilters * sizeof(p->mil[0]));
	memset(&p->mil[p->c->nmilters - 1], 0, sizeof(p->mil[0]));
	p->mil[p->c->nmilters - 1].line = p->lineno;
	p->sect = S_MILTER;
	return 1;
}

/* "unix:/path" or "inet:host:port" into m->sa; NULL, or what is wrong. */
static const char *
milter_address(struct conf_milter *m, const char *v)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&m->sa;
	struct addrinfo hints, *res = NULL;
	char *host = NULL, port[16];
	unsigned pn;
	int ok;

	if (strncmp(v, "unix:", 5) == 0) {
		if (v[5] != '/')
			return "a unix: socket needs an absolute path";
		if (strlen(v + 5) >= sizeof(un->sun_path))
			return "socket path too long";
		un->sun_family = AF_UNIX;
		(void)strlcpy(un->sun_path, v + 5, sizeof(un->sun_path));
		m->salen = sizeof(*un);
		return NULL;
	}
	if (strncmp(v, "inet:", 5) != 0)
		return "expected unix:/path or inet:host:port";
	if (!conf_hostport_parse(v + 5, strlen(v + 5), 0, &host, &pn) ||
	    pn == 0) {
		free(host);
		return "expected inet:host:port, e.g. inet:127.0.0.1:11332";
	}
	(void)snprintf(port, sizeof(port), "%u", pn);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	ok = getaddrinfo(host, port, &hints, &res) == 0 && res != NULL &&
	     res->ai_addrlen <= sizeof(m->sa);
	free(host);
	if (!ok) {
		if (res != NULL)
			freeaddrinfo(res);
		return "the host does not resolve";
	}
	memcpy(&m->sa, res->ai_addr, res->ai_addrlen);
	m->salen = res->ai_addrlen;
	freeaddrinfo(res);
	return NULL;
}

static int
set_timeout(struct parse *p, const char *key, const char *v, unsigned *dst)
{
	uint64_t n;

	if (!conf_num_parse(v, N_DURATION, &n) || n == 0 ||
	    n > MILTER_TIMEOUT_MAX)
		return conf_fail(p, p->lineno,
		    "%s = %.64s: expected a duration (1s..1d), e.g. 30s", key,
		    v);
	*dst = (unsigned)n;
	return 1;
}

int
conf_on_milter(struct parse *p, const char *key, const char *v)
{
	struct conf_milter *m = &p->c->milters[p->c->nmilters - 1];
	int *lines = p->mil[p->c->nmilters - 1].key_line;
	const char *why;
	size_t k;

	for (k = 0; k < M_COUNT; k++)
		if (strcmp(mil_keys[k], key) == 0)
			break;
	if (k == M_COUNT)
		return conf_fail(p, p->lineno,
		    "unknown key '%.64s' in [milter %s]; known: address, "
		    "default_action, connect_timeout, command_timeout, "
		    "content_timeout",
		    key, m->name);
	if (lines[k] != 0)
		return conf_fail(p, p->lineno,
		    "duplicate key '%s' (first on line %d)", key, lines[k]);
	lines[k] = p->lineno;
	switch ((enum mil_key)k) {
	case M_ADDRESS:
		if ((why = milter_address(m, v)) != NULL)
			return conf_fail(p, p->lineno, "address '%.64s': %s",
			    v, why);
		m->address = xstrdup(v);
		return 1;
	case M_DEFAULT_ACTION:
		if (strcmp(v, "tempfail") == 0)
			m->default_action = CONF_MILTER_TEMPFAIL;
		else if (strcmp(v, "accept") == 0)
			m->default_action = CONF_MILTER_ACCEPT;
		else
			return conf_fail(p, p->lineno,
			    "default_action '%.64s': expected tempfail or "
			    "accept",
			    v);
		return 1;
	case M_CONNECT_TIMEOUT:
		return set_timeout(p, key, v, &m->connect_timeout);
	case M_COMMAND_TIMEOUT:
		return set_timeout(p, key, v, &m->command_timeout);
	case M_CONTENT_TIMEOUT:
		return set_timeout(p, key, v, &m->content_timeout);
	case M_COUNT:
		break;
	}
	return 0;
}

/* A `milters` list, kept as written until finish (conf_milters_resolve). */
int
conf_set_milter_list(struct parse *p, struct mil_list *l, const char *v)
{
	if (l->line != 0)
		return conf_fail(p, p->lineno,
		    "duplicate key 'milters' (first on line %d); list them "
		    "on one line, in order",
		    l->line);
	l->line = p->lineno;
	l->text = xstrdup(v);
	return 1;
}

/* One list being resolved. */
struct resolve {
	size_t *idx;
	size_t n;
	int line;
};

static int
resolve_item(struct parse *p, const char *s, size_t n, void *arg)
{
	struct resolve *r = arg;
	struct conf *c = p->c;
	struct conf_milter *m;
	char *word = xstrndup(s, n);
	const char *why;
	size_t i;

	for (i = 0; i < c->nmilters; i++)
		if (strcmp(c->milters[i].name, word) == 0)
			break;
	if (i == c->nmilters && strchr(word, ':') == NULL) {
		(void)conf_fail(p, r->line,
		    "milters: no [milter %.64s] section; add one, or give "
		    "an address (inet:host:port, unix:/path)",
		    word);
		free(word);
		return 0;
	}
	if (i == c->nmilters) { /* an inline address, with the defaults */
		m = milter_add(c, word);
		if ((why = milter_address(m, word)) != NULL) {
			(void)conf_fail(p, r->line, "milters: '%.64s': %s",
			    word, why);
			free(word);
			return 0;
		}
		m->address = xstrdup(word);
	}
	free(word);
	if (r->n >= CONF_MILTERS_MAX)
		return conf_fail(p, r->line, "milters: more than %d",
		    CONF_MILTERS_MAX);
	r->idx = xrealloc(r->idx, (r->n + 1) * sizeof(r->idx[0]));
	r->idx[r->n++] = i;
	return 1;
}

static int
resolve(struct parse *p, struct mil_list *l, size_t **idx, size_t *n)
{
	struct resolve r = { NULL, 0, l->line };
	int ok;

	if (l->text == NULL)
		return 1;
	ok = conf_each_word(p, l->text, resolve_item, &r);
	*idx = r.idx;
	*n = r.n;
	return ok;
}

/* After the last line: names to sections, every section complete. */
int
conf_milters_resolve(struct parse *p)
{
	struct conf *c = p->c;
	size_t i, nsect = c->nmilters;

	for (i = 0; i < nsect; i++)
		if (c->milters[i].address == NULL)
			return conf_fail(p, p->mil[i].line,
			    "[milter %s] has no address; add e.g. address = "
			    "inet:127.0.0.1:11332",
			    c->milters[i].name);
	for (i = 0; i < c->nlisteners; i++)
		if (!resolve(p, &p->ls[i].milters, &c->listeners[i].milters,
		        &c->listeners[i].nmilters))
			return 0;
	return resolve(p, &p->non_smtpd, &c->non_smtpd_milters,
	    &c->nnon_smtpd_milters);
}

void
conf_milter_parse_free(struct parse *p)
{
	size_t i;

	for (i = 0; p->ls != NULL && i < p->c->nlisteners; i++)
		free(p->ls[i].milters.text);
	free(p->non_smtpd.text);
	free(p->mil);
}

static void
print_list(FILE *fp, const char *key, const struct conf *c, const size_t *idx,
    size_t n)
{
	size_t i;

	if (n == 0)
		return;
	fprintf(fp, "%s =", key);
	for (i = 0; i < n; i++)
		fprintf(fp, " %s", c->milters[idx[i]].name);
	fputc('\n', fp);
}

void
conf_print_listener_milters(const struct conf *c,
    const struct conf_listener *l, FILE *fp)
{
	print_list(fp, "milters", c, l->milters, l->nmilters);
}

void
conf_print_non_smtpd(const struct conf *c, FILE *fp)
{
	print_list(fp, "non_smtpd_milters", c, c->non_smtpd_milters,
	    c->nnon_smtpd_milters);
}

/* The [milter] sections; an inline filter is its address, not printed. */
void
conf_print_milters(const struct conf *c, FILE *fp, unsigned flags)
{
	const struct conf_milter *m;
	struct conf_milter def;
	char t[32];
	size_t i;

	memset(&def, 0, sizeof(def));
	milter_defaults(&def);
	for (i = 0; i < c->nmilters; i++) {
		m = &c->milters[i];
		if (strcmp(m->name, m->address) == 0)
			continue;
		fprintf(fp, "\n[milter %s]\naddress = %s\n", m->name,
		    m->address);
		if ((flags & CONF_PRINT_ALL) ||
		    m->default_action != def.default_action)
			fprintf(fp, "default_action = %s\n",
			    m->default_action == CONF_MILTER_ACCEPT
			        ? "accept"
			        : "tempfail");
#define PRINT_T(f)                                                        \
	if ((flags & CONF_PRINT_ALL) || m->f != def.f) {                  \
		conf_num_format(t, sizeof(t), N_DURATION, m->f);          \
		fprintf(fp, #f " = %s\n", t);                             \
	}
		PRINT_T(connect_timeout)
		PRINT_T(command_timeout)
		PRINT_T(content_timeout)
#undef PRINT_T
	}
}
