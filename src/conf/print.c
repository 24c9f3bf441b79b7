/* SPDX-License-Identifier: ISC */
/*
 * conf/print.c - conf_print(): the effective configuration written back
 * as a file that conf_load() reads to the same struct conf; by default
 * only the settings that differ from their defaults, with CONF_PRINT_ALL
 * all of them. Sections with nothing to show are left out.
 * Trust: internal. Passwords are never printed (route.c).
 */
#include "conf/conf-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/str.h"

#define DEFAULT_DATA_DIR "/var/lib/tern" /* as conf.c's finish() */

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

static int word_load(const struct conf *, const struct word_key *);

/* Does a numeric or word key of `sect` differ from its default? */
static bool
changed(const struct conf *c, enum sect sect)
{
	size_t i;

	for (i = 0; i < conf_nkeys; i++)
		if (conf_keys[i].sect == sect &&
		    conf_num_load(c, &conf_keys[i]) != conf_keys[i].def)
			return true;
	for (i = 0; i < conf_nword_keys; i++)
		if (conf_word_keys[i].sect == sect &&
		    word_load(c, &conf_word_keys[i]) != 0)
			return true;
	return false;
}

static void
print_nums(const struct conf *c, enum sect sect, FILE *fp, unsigned flags)
{
	char v[32], lo[32], hi[32];
	size_t i;

	for (i = 0; i < conf_nkeys; i++) {
		if (conf_keys[i].sect != sect)
			continue;
		if (!(flags & CONF_PRINT_ALL) &&
		    conf_num_load(c, &conf_keys[i]) == conf_keys[i].def)
			continue;
		conf_num_format(v, sizeof(v), conf_keys[i].kind,
		    conf_num_load(c, &conf_keys[i]));
		conf_num_format(lo, sizeof(lo), conf_keys[i].kind,
		    conf_keys[i].min);
		conf_num_format(hi, sizeof(hi), conf_keys[i].kind,
		    conf_keys[i].max);
		fprintf(fp, "%s = %s\t; %s..%s%s\n", conf_keys[i].name, v, lo,
		    hi,
		    strcmp(conf_keys[i].name, "threads") == 0
		        ? ", 0: one per core"
		        : "");
	}
}

static int
word_load(const struct conf *c, const struct word_key *wk)
{
	return *(const int *)(const void *)((const char *)c + wk->off);
}

/* The word settings of a section, with the words they may take. */
static void
print_words(const struct conf *c, enum sect sect, FILE *fp, unsigned flags)
{
	const struct word_key *wk;
	size_t i, j;
	int v;

	for (i = 0; i < conf_nword_keys; i++) {
		wk = &conf_word_keys[i];
		if (wk->sect != sect)
			continue;
		/* The first word is the default. */
		if ((v = word_load(c, wk)) == 0 && !(flags & CONF_PRINT_ALL))
			continue;
		fprintf(fp, "%s = %s\t;", wk->name, wk->words[v]);
		for (j = 0; wk->words[j] != NULL; j++)
			fprintf(fp, " %s%s", wk->words[j],
			    wk->words[j + 1] != NULL ? " |" : "\n");
	}
}

/* Four networks a line: lines are capped at load, the key may repeat. */
static void
print_networks(FILE *fp, const char *key, const struct cidr *nets, size_t n,
    const char *unset, unsigned flags)
{
	char net[CIDR_STR_MAX];
	size_t i;

	if (n == 0 && unset != NULL && (flags & CONF_PRINT_ALL))
		fprintf(fp, "# %s = (not set: %s)\n", key, unset);
	for (i = 0; i < n; i++) {
		cidr_format(&nets[i], net, sizeof(net));
		fprintf(fp, "%s%s%s%s", i % 4 == 0 ? key : " ",
		    i % 4 == 0 ? " = " : "", net,
		    i % 4 == 3 || i + 1 == n ? "\n" : "");
	}
}

/* Is own_networks the loopback default (CONF_OWN_NETWORKS_DEFAULT)? */
static bool
own_networks_default(const struct conf *c)
{
	char net[CIDR_STR_MAX], list[2 * CIDR_STR_MAX + 2];
	size_t i;

	if (c->nown_networks != 2)
		return false;
	list[0] = '\0';
	for (i = 0; i < c->nown_networks; i++) {
		cidr_format(&c->own_networks[i], net, sizeof(net));
		(void)strlcat(list, i > 0 ? " " : "", sizeof(list));
		(void)strlcat(list, net, sizeof(list));
	}
	return strcmp(list, CONF_OWN_NETWORKS_DEFAULT) == 0;
}

/*
 * [limits] own_networks, with relay_networks who gets the own_ limits.
 * An empty list is "none", so that it reads back empty, not as the
 * loopback default.
 */
static void
print_own_networks(const struct conf *c, FILE *fp, unsigned flags)
{
	if (!(flags & CONF_PRINT_ALL) && own_networks_default(c))
		return;
	if (c->nown_networks == 0)
		fprintf(fp, "own_networks = none\n");
	print_networks(fp, "own_networks", c->own_networks, c->nown_networks,
	    NULL, flags);
}

/*
 * "key = value"; "key=value" when the spaces would make the line longer
 * than a loaded one may be (the file may have had it so).
 */
static void
print_kv(FILE *fp, const char *key, const char *v)
{
	bool tight = strlen(key) + strlen(v) + 3 > CONF_LINE_MAX;

	fprintf(fp, "%s%s%s\n", key, tight ? "=" : " = ", v);
}

static void
print_opt(FILE *fp, const char *key, const char *v, const char *unset,
    unsigned flags)
{
	if (v != NULL)
		print_kv(fp, key, v);
	else if (flags & CONF_PRINT_ALL)
		fprintf(fp, "# %s = (not set: %s)\n", key, unset);
}

static void
print_obs(const struct conf *c, FILE *fp, unsigned flags)
{
	const struct conf_obs *o = &c->obs;

	if (!(flags & CONF_PRINT_ALL) && !changed(c, S_OBS) &&
	    o->http_listen == NULL && o->http_token_file == NULL &&
	    o->webhook_url == NULL && o->webhook_token_file == NULL)
		return;
	fprintf(fp, "\n[observability]\n");
	print_opt(fp, "http_listen", o->http_listen, "no metrics listener",
	    flags);
	print_opt(fp, "http_token_file", o->http_token_file,
	    "no token asked", flags);
	print_opt(fp, "webhook_url", o->webhook_url, "no webhook", flags);
	print_opt(fp, "webhook_token_file", o->webhook_token_file,
	    "no token sent", flags);
	print_nums(c, S_OBS, fp, flags);
	print_words(c, S_OBS, fp, flags);
}

static void
print_outtls(const struct conf *c, FILE *fp, unsigned flags)
{
	const struct conf_outtls *o = &c->outtls;

	if (!(flags & CONF_PRINT_ALL) && !changed(c, S_OUTTLS) &&
	    o->trust_anchor == NULL && o->ca_file == NULL)
		return;
	fprintf(fp, "\n[outbound_tls]\n");
	print_words(c, S_OUTTLS, fp, flags);
	print_opt(fp, "trust_anchor", o->trust_anchor,
	    CONF_TRUST_ANCHOR_DEFAULT, flags);
	print_opt(fp, "ca_file", o->ca_file, "the system's CA store", flags);
}

/* Is h what conf_load() would pick without `hostname =`? */
static bool
is_default_hostname(const char *h)
{
	char host[256], *norm;
	const char *why;
	bool same;

	if (gethostname(host, sizeof(host)) != 0)
		return false;
	host[sizeof(host) - 1] = '\0';
	if (!conf_domain_norm(host, strlen(host), &norm, &why))
		return false;
	same = strcmp(norm, h) == 0;
	free(norm);
	return same;
}

static void
print_listener(const struct conf *c, const struct conf_listener *l, FILE *fp,
    unsigned flags)
{
	bool all = flags & CONF_PRINT_ALL;

	fprintf(fp, "\n[listener %s]\naddress = %s\n", l->name, l->address);
	if (all || l->mode != CONF_MODE_MX)
		fprintf(fp, "mode = %s\n", mode_name(l->mode));
	if (all || l->tls != CONF_TLS_NONE)
		fprintf(fp, "tls = %s\n", tls_name(l->tls));
	print_networks(fp, "allow", l->allow, l->nallow,
	    l->ndeny > 0 ? "all but deny" : "everyone", flags);
	print_networks(fp, "deny", l->deny, l->ndeny, NULL, flags);
	conf_print_listener_milters(c, l, fp);
}

static void
print_tls(const struct conf *c, FILE *fp, unsigned flags)
{
	const struct conf_tls_opts *t = &c->tls;

	if (!(flags & CONF_PRINT_ALL) && t->cert == NULL && t->key == NULL &&
	    t->ciphers == NULL && t->min_version == CONF_TLS_V1_2)
		return;
	fprintf(fp, "\n[tls]\n");
	print_opt(fp, "cert", t->cert, "self-signed, generated in data_dir/tls",
	    flags);
	print_opt(fp, "key", t->key,
	    t->cert != NULL ? "in the cert file" : "self-signed", flags);
	print_opt(fp, "ciphers", t->ciphers, "OpenSSL's defaults", flags);
	if ((flags & CONF_PRINT_ALL) || t->min_version != CONF_TLS_V1_2)
		fprintf(fp, "min_version = %s\n",
		    t->min_version == CONF_TLS_V1_3 ? "TLSv1.3" : "TLSv1.2");
}

void
conf_print_list(FILE *fp, const char *key, const char *const *items,
    size_t n)
{
	size_t i, col = 0;

	for (i = 0; i < n; i++) {
		if (col > 0 && col + strlen(items[i]) > CONF_PRINT_WIDTH) {
			fputc('\n', fp);
			col = 0;
		}
		if (col == 0)
			col = (size_t)fprintf(fp, "%s = %s", key, items[i]);
		else
			col += (size_t)fprintf(fp, ", %s", items[i]);
	}
	fputc('\n', fp);
}

void
conf_print(const struct conf *c, FILE *fp, unsigned flags)
{
	bool all = flags & CONF_PRINT_ALL;
	size_t i;

	/* A comment is a line too: at most CONF_LINE_MAX bytes. */
	fprintf(fp, "# tern configuration%s%.160s\n", c->path ? " from " : "",
	    c->path ? c->path : "");
	if (!all)
		fprintf(fp, "# (settings that differ from the defaults; "
		            "check-config --all shows every one)\n");
	if (all || !is_default_hostname(c->hostname))
		print_kv(fp, "hostname", c->hostname);
	if (all || strcmp(c->data_dir, DEFAULT_DATA_DIR) != 0)
		print_kv(fp, "data_dir", c->data_dir);
	if (c->ndomains > 0)
		conf_print_list(fp, "domains", (const char *const *)c->domains,
		    c->ndomains);
	else
		fputc('\n', fp);
	print_opt(fp, "user", c->user, "no privilege drop", flags);
	print_opt(fp, "postmaster", c->postmaster, "none", flags);
	conf_print_addr(c, fp, flags);
	print_opt(fp, "log_file", c->log_file, "log to stderr", flags);
	print_opt(fp, "dns_server", c->dns_server, "/etc/resolv.conf", flags);
	print_opt(fp, "secrets_file", c->secrets_file,
	    "route passwords only inline", flags);
	print_networks(fp, "relay_networks", c->relay_networks,
	    c->nrelay_networks,
	    "submission relays for authenticated clients only", flags);
	if (all || c->sender_ownership != CONF_SENDER_OWN)
		fprintf(fp, "sender_ownership = %s\n",
		    c->sender_ownership == CONF_SENDER_ANY ? "any" : "own");
	conf_print_non_smtpd(c, fp);
	print_nums(c, S_TOP, fp, flags);
	for (i = 0; i < c->nlisteners; i++)
		print_listener(c, &c->listeners[i], fp, flags);
	if (all || changed(c, S_LIMITS) || !own_networks_default(c)) {
		fprintf(fp, "\n[limits]\n");
		print_nums(c, S_LIMITS, fp, flags);
		print_own_networks(c, fp, flags);
		print_words(c, S_LIMITS, fp, flags);
	}
	if (all || changed(c, S_QUEUE)) {
		fprintf(fp, "\n[queue]\n");
		print_nums(c, S_QUEUE, fp, flags);
		print_words(c, S_QUEUE, fp, flags);
	}
	if (all || changed(c, S_AUTH) || c->auth.narc_trusted > 0) {
		fprintf(fp, "\n[authentication]\n");
		print_nums(c, S_AUTH, fp, flags);
		print_words(c, S_AUTH, fp, flags);
		conf_print_arc_trusted(c, fp, flags);
	}
	conf_print_dkim(c, fp, flags);
	print_obs(c, fp, flags);
	print_outtls(c, fp, flags);
	conf_print_routes(c, fp, flags);
	conf_print_relay(c, fp, flags);
	print_tls(c, fp, flags);
	conf_print_milters(c, fp, flags);
}
