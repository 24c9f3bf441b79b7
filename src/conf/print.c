/* SPDX-License-Identifier: ISC */
/*
 * conf/print.c - conf_print(): the effective configuration written back
 * as a file that conf_load() reads to the same struct conf.
 * Trust: internal.
 */
#include "conf/conf-private.h"

#include <stdio.h>
#include <string.h>

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

	for (i = 0; i < conf_nkeys; i++) {
		if (conf_keys[i].sect != sect)
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
	conf_print_addr(c, fp);
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
	conf_print_routes(c, fp);
	conf_print_relay(c, fp);
	fprintf(fp, "\n[tls]\n");
	print_opt(fp, "cert", c->tls.cert,
	    "self-signed, generated in data_dir/tls");
	print_opt(fp, "key", c->tls.key,
	    c->tls.cert != NULL ? "in the cert file" : "self-signed");
	print_opt(fp, "ciphers", c->tls.ciphers, "OpenSSL's defaults");
	fprintf(fp, "min_version = %s\n",
	    c->tls.min_version == CONF_TLS_V1_3 ? "TLSv1.3" : "TLSv1.2");
}
