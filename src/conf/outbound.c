/* SPDX-License-Identifier: ISC */
/*
 * conf/outbound.c - [outbound_tls] (issue 19): the files behind DANE and
 * verified outbound TLS. Its on/off switches (dane, mta_sts, tlsrpt,
 * requiretls) are word keys (keys.c).
 *
 *   trust_anchor = /usr/share/dns/root.key   DNSSEC anchor, or none
 *   ca_file = /etc/tern/private-ca.pem       extra CAs for outbound TLS
 *
 * Trust: the operator's text, checked; the files are read by the
 * server when it starts (a missing anchor turns DANE off, with a
 * warning; a missing ca_file is an error then).
 */
#include "conf/conf-private.h"

#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

enum outtls_key { T_TRUST_ANCHOR = 0, T_CA_FILE };
static const char *const outtls_keys[] = { "trust_anchor", "ca_file" };

_Static_assert(sizeof(outtls_keys) / sizeof(outtls_keys[0]) ==
        sizeof(((struct parse *)0)->outtls_line) /
            sizeof(((struct parse *)0)->outtls_line[0]),
    "struct parse keeps a line per [outbound_tls] path");

void
conf_outtls_free(struct conf *c)
{
	free(c->outtls.trust_anchor);
	free(c->outtls.ca_file);
	c->outtls.trust_anchor = c->outtls.ca_file = NULL;
}

/* An absolute path, or for trust_anchor the word "none". */
static int
set_file(struct parse *p, const char *key, const char *v, bool none_ok,
    char **dst)
{
	if (none_ok && strcmp(v, "none") == 0) {
		*dst = xstrdup(v);
		return 1;
	}
	if (v[0] != '/')
		return conf_fail(p, p->lineno, "%s '%.64s': needs an absolute "
		    "path%s", key, v, none_ok ? " or none" : "");
	if (strlen(v) > CONF_PATH_MAX)
		return conf_fail(p, p->lineno,
		    "%s: path longer than %d bytes", key, CONF_PATH_MAX);
	*dst = xstrdup(v);
	return 1;
}

int
conf_on_outtls(struct parse *p, const char *key, const char *v)
{
	struct conf_outtls *o = &p->c->outtls;
	size_t k;

	for (k = 0; k < sizeof(outtls_keys) / sizeof(outtls_keys[0]); k++)
		if (strcmp(outtls_keys[k], key) == 0)
			break;
	if (k == sizeof(outtls_keys) / sizeof(outtls_keys[0]))
		return -1;
	if (p->outtls_line[k] != 0)
		return conf_fail(p, p->lineno,
		    "duplicate key '%s' (first on line %d)", key,
		    p->outtls_line[k]);
	p->outtls_line[k] = p->lineno;
	switch ((enum outtls_key)k) {
	case T_TRUST_ANCHOR:
		return set_file(p, key, v, true, &o->trust_anchor);
	case T_CA_FILE:
		return set_file(p, key, v, false, &o->ca_file);
	}
	return -1;
}
