/* SPDX-License-Identifier: ISC */
/*
 * cli/dkim_cmd.c - `tern dkim keygen|list|sign|verify|arc-verify|arc-seal`:
 * the operator's side of auth/dkimkeys.h, auth/dkim.h and auth/arc.h. main.c
 * has already become the service user, so every file made here is the server's.
 * Trust: the operator's argv; stdin (sign, verify) is a message that may
 * come from anyone and is bounded by CLI_DKIM_MSG_MAX.
 */
#include "cli/cli.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "auth/arc.h"
#include "auth/authdns.h"
#include "auth/dkim.h"
#include "auth/dkimkeys.h"
#include "dns/dns.h"
#include "util/buf.h"

#define CLI_DKIM_MSG_MAX (64 * 1024 * 1024)
#define CLI_DKIM_SEL_MAX 8
#define CLI_DKIM_RESULTS 16

static void dkim_err(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
dkim_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tern: dkim %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
cli_dkim_usage(FILE *f)
{
	fputs("usage: tern dkim keygen DOMAIN [--selector S] "
	      "[--algorithm rsa|ed25519] [--bits N]\n"
	      "       tern dkim list\n"
	      "       tern dkim sign DOMAIN [--selector S ...] < MESSAGE\n"
	      "       tern dkim verify < MESSAGE\n"
	      "       tern dkim arc-verify < MESSAGE\n"
	      "       tern dkim arc-seal DOMAIN [--selector S] --authres "
	      "VALUE < MESSAGE\n"
	      "DKIM keys live in <data_dir>/dkim/DOMAIN/SELECTOR.key (mode "
	      "0600). Every key\n"
	      "of a domain signs its mail, so keygen's key signs at once "
	      "once its TXT\n"
	      "record is published.\n"
	      "  keygen   make a key and print the TXT record to publish. "
	      "Default algorithm\n"
	      "           rsa, 2048 bits (--bits 1024..8192); the default "
	      "selector is dated,\n"
	      "           t<YYYYMM>r for rsa and t<YYYYMM>e for ed25519 "
	      "(e.g. t202612r).\n"
	      "           Not every receiver checks ed25519 alone: make "
	      "both for dual\n"
	      "           signing. An existing selector is never "
	      "overwritten.\n"
	      "  list     each domain's selectors, algorithm, size and TXT "
	      "record\n"
	      "  sign     print the message with DKIM-Signature fields on "
	      "top (all keys of\n"
	      "           DOMAIN, or the selectors given)\n"
	      "  verify   check the message's DKIM signatures with the "
	      "configured resolver\n"
	      "           (dns_server): one line per signature, \"dkim=RESULT "
	      "header.d=D\n"
	      "           header.s=S reason\"; exit 0 when it ran\n"
	      "  arc-verify  check the message's ARC chain (RFC 8617): "
	      "\"arc=RESULT (reason)\n"
	      "           sets=N oldest-pass=I\"; exit 0 when it ran\n"
	      "  arc-seal print the message with a new ARC set on top, "
	      "sealed with\n"
	      "           DOMAIN's key (the first, or S); VALUE is the "
	      "Authentication-Results\n"
	      "           value for the ARC-Authentication-Results field; "
	      "the chain is\n"
	      "           verified first (dns_server) for cv=\n",
	    f);
}

static int
print_record(const char *domain, const struct dkim_sign_key *k, unsigned bits)
{
	struct buf v, q;
	int rc = -1;

	buf_init(&v, 16384);
	buf_init(&q, 16384);
	if (dkimkeys_txt_value(k->pkey, k->alg, &v) == 0 &&
	    dkimkeys_txt_quoted((const char *)v.data, &q) == 0) {
		printf("%s %s %s %u\n", domain, k->selector,
		    dkim_alg_name(k->alg), bits);
		printf("  %s._domainkey.%s. IN TXT %s\n", k->selector, domain,
		    (const char *)q.data);
		rc = 0;
	}
	buf_reset(&v);
	buf_reset(&q);
	return rc;
}

static int
cmd_keygen(const struct conf *conf, int argc, char **argv)
{
	const char *domain = NULL, *selector = NULL;
	enum dkim_alg alg = DKIM_RSA_SHA256;
	unsigned bits = DKIMKEYS_RSA_BITS_DEFAULT;
	struct dkim_sign_key k = { 0 };
	char sel[16], dom[DNS_NAME_MAX];
	struct why why;
	EVP_PKEY *pkey;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--selector") == 0 && i + 1 < argc)
			selector = argv[++i];
		else if (strcmp(argv[i], "--algorithm") == 0 && i + 1 < argc) {
			i++;
			if (strcmp(argv[i], "rsa") == 0)
				alg = DKIM_RSA_SHA256;
			else if (strcmp(argv[i], "ed25519") == 0)
				alg = DKIM_ED25519_SHA256;
			else
				goto usage;
		} else if (strcmp(argv[i], "--bits") == 0 && i + 1 < argc)
			bits = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (argv[i][0] != '-' && domain == NULL)
			domain = argv[i];
		else
			goto usage;
	}
	if (domain == NULL || strlen(domain) >= sizeof(dom))
		goto usage;
	for (i = 0; domain[i] != '\0'; i++)
		dom[i] = (char)tolower((unsigned char)domain[i]);
	dom[i] = '\0';
	domain = dom;
	if (selector == NULL) {
		dkimkeys_default_selector(time(NULL), alg, sel);
		selector = sel;
	}
	if (dkimkeys_generate(conf->data_dir, domain, selector, alg, bits,
	        &pkey, &why) == -1) {
		dkim_err("keygen", "%s", why.text);
		return 1;
	}
	k.domain = domain;
	k.selector = selector;
	k.pkey = pkey;
	k.alg = alg;
	printf("made %s/%s/%s/%s.key; publish this TXT record:\n",
	    conf->data_dir, DKIMKEYS_DIR, domain, selector);
	rc = print_record(domain, &k, (unsigned)EVP_PKEY_get_bits(pkey)) == 0
	         ? 0
	         : 1;
	EVP_PKEY_free(pkey);
	return rc;
usage:
	cli_dkim_usage(stderr);
	return EX_USAGE;
}

static int
cmd_list(const struct conf *conf)
{
	struct dkimkeys ks;
	struct why why;
	char **doms;
	size_t i, k;
	int rc = 0;

	if (dkimkeys_domains(conf->data_dir, &doms, &why) == -1) {
		dkim_err("list", "%s", why.text);
		return 1;
	}
	for (i = 0; doms[i] != NULL; i++) {
		if (dkimkeys_load(conf->data_dir, doms[i], NULL, &ks, &why) ==
		    -1) {
			dkim_err("list", "%s", why.text);
			rc = 1;
		} else {
			for (k = 0; k < ks.n; k++)
				rc |= print_record(doms[i], &ks.key[k],
				    ks.bits[k]);
			dkimkeys_free(&ks);
		}
		free(doms[i]);
	}
	free(doms);
	return rc != 0 ? 1 : 0;
}

/* stdin, whole, with every line ending CRLF (a bare LF gains its CR). */
static int
read_message(struct buf *out)
{
	char chunk[65536];
	size_t n, i;
	bool cr = false;

	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		for (i = 0; i < n; i++) {
			if (chunk[i] == '\n' && !cr &&
			    buf_append(out, "\r", 1) == -1)
				return -1;
			if (buf_append(out, &chunk[i], 1) == -1)
				return -1;
			cr = chunk[i] == '\r';
		}
	return ferror(stdin) ? -1 : 0;
}

typedef void field_fn(void *, const char *, size_t);

/* Hand each header field to fn; the offset where the body starts. */
static size_t
split_header(const struct buf *m, field_fn *fn, void *arg)
{
	const char *p = (const char *)m->data, *end = p + m->len, *e, *nl;

	if (p == NULL)
		return 0;
	while (p < end && !(end - p >= 2 && p[0] == '\r' && p[1] == '\n')) {
		e = p;
		do {
			nl = memchr(e, '\n', (size_t)(end - e));
			e = nl != NULL ? nl + 1 : end;
		} while (e < end && (*e == ' ' || *e == '\t'));
		fn(arg, p, (size_t)(e - p));
		p = e;
	}
	return p < end ? (size_t)(p + 2 - (const char *)m->data) : m->len;
}

static void
sign_field(void *s, const char *f, size_t n)
{
	dkim_signer_header(s, f, n);
}

static void
verify_field(void *v, const char *f, size_t n)
{
	dkim_verifier_header(v, f, n);
}

static int
sign_message(const struct dkimkeys *ks, const struct buf *m)
{
	struct dkim_signer *s = dkim_signer_new(ks->key, ks->n, NULL);
	struct buf out;
	struct why why;
	size_t body;
	int rc = 1;

	if (s == NULL)
		return 1;
	body = split_header(m, sign_field, s);
	dkim_signer_body(s, m->data + body, m->len - body);
	buf_init(&out, 1024 * 1024);
	if (dkim_signer_finish(s, &out, &why) == -1)
		dkim_err("sign", "%s", why.text);
	else if (fwrite(out.data, 1, out.len, stdout) == out.len &&
	         (m->len == 0 || fwrite(m->data, 1, m->len, stdout) == m->len))
		rc = 0;
	buf_reset(&out);
	dkim_signer_free(s);
	return rc;
}

static int
cmd_sign(const struct conf *conf, int argc, char **argv)
{
	const char *sel[CLI_DKIM_SEL_MAX + 1] = { 0 }, *domain = NULL;
	struct dkimkeys ks;
	struct why why;
	struct buf m;
	size_t nsel = 0;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--selector") == 0 && i + 1 < argc &&
		    nsel < CLI_DKIM_SEL_MAX)
			sel[nsel++] = argv[++i];
		else if (argv[i][0] != '-' && domain == NULL)
			domain = argv[i];
		else {
			cli_dkim_usage(stderr);
			return EX_USAGE;
		}
	}
	if (domain == NULL) {
		cli_dkim_usage(stderr);
		return EX_USAGE;
	}
	if (dkimkeys_load(conf->data_dir, domain, nsel > 0 ? sel : NULL, &ks,
	        &why) == -1) {
		dkim_err("sign", "%s", why.text);
		return 1;
	}
	if (ks.n == 0) {
		dkim_err("sign", "no key for %s (tern dkim keygen %s)", domain,
		    domain);
		return 1;
	}
	buf_init(&m, CLI_DKIM_MSG_MAX);
	if (read_message(&m) == -1) {
		dkim_err("sign", "cannot read the message");
		rc = 1;
	} else
		rc = sign_message(&ks, &m);
	buf_reset(&m);
	dkimkeys_free(&ks);
	return rc;
}

static void
print_results(const struct dkim_result *r, size_t n)
{
	size_t i;

	if (n == 0)
		printf("dkim=none\n");
	for (i = 0; i < n; i++)
		printf("dkim=%s header.d=%s header.s=%s header.a=%s "
		       "header.b=%s %s\n",
		    dkim_res_name(r[i].result),
		    r[i].domain[0] != '\0' ? r[i].domain : "-",
		    r[i].selector[0] != '\0' ? r[i].selector : "-",
		    r[i].algorithm[0] != '\0' ? r[i].algorithm : "-",
		    r[i].bprefix[0] != '\0' ? r[i].bprefix : "-", r[i].reason);
}

/* The resolver tern check uses: dns_server when set. NULL with an error. */
static struct dns *
open_dns(const struct conf *conf, const char *cmd, struct authdns *adns)
{
	struct dns *dns;
	struct why why;

	if ((dns = dns_new(conf->dns_server, 10, &why)) == NULL) {
		dkim_err(cmd, "%s", why.text);
		return NULL;
	}
	adns->lookup = authdns_resolver;
	adns->arg = dns;
	return dns;
}

static int
cmd_verify(const struct conf *conf, int argc)
{
	struct dkim_result r[CLI_DKIM_RESULTS];
	struct dkim_verifier *v;
	struct authdns adns;
	struct dns *dns;
	struct buf m;
	size_t body, n = CLI_DKIM_RESULTS;

	if (argc > 1) {
		cli_dkim_usage(stderr);
		return EX_USAGE;
	}
	if ((dns = open_dns(conf, "verify", &adns)) == NULL)
		return 1;
	buf_init(&m, CLI_DKIM_MSG_MAX);
	if (read_message(&m) == -1 || (v = dkim_verifier_new(0)) == NULL) {
		dkim_err("verify", "cannot read the message");
		buf_reset(&m);
		dns_free(dns);
		return 1;
	}
	body = split_header(&m, verify_field, v);
	dkim_verifier_eoh(v);
	dkim_verifier_body(v, m.data + body, m.len - body);
	dkim_verifier_finish(v, &adns, time(NULL), r, &n);
	print_results(r, n);
	dkim_verifier_free(v);
	buf_reset(&m);
	dns_free(dns);
	return 0;
}

static void
arc_field(void *v, const char *f, size_t n)
{
	arc_verifier_header(v, f, n);
}

/* Verify m's ARC chain into *r. 0, or -1 when out of memory. */
static int
arc_check(const struct buf *m, const struct authdns *adns, struct arc_result *r)
{
	struct arc_verifier *v = arc_verifier_new();
	size_t body;

	if (v == NULL)
		return -1;
	body = split_header(m, arc_field, v);
	arc_verifier_eoh(v);
	arc_verifier_body(v, m->data + body, m->len - body);
	arc_verifier_finish(v, adns, time(NULL), r);
	arc_verifier_free(v);
	return 0;
}

static int
cmd_arc_verify(const struct conf *conf, int argc)
{
	struct arc_result r;
	struct authdns adns;
	struct dns *dns;
	struct buf m;
	int rc = 1;

	if (argc > 1) {
		cli_dkim_usage(stderr);
		return EX_USAGE;
	}
	if ((dns = open_dns(conf, "arc-verify", &adns)) == NULL)
		return 1;
	buf_init(&m, CLI_DKIM_MSG_MAX);
	if (read_message(&m) == -1 || arc_check(&m, &adns, &r) == -1)
		dkim_err("arc-verify", "cannot read the message");
	else {
		printf("arc=%s (%s) sets=%u oldest-pass=%u\n",
		    arc_cv_name(r.cv), r.reason[0] != '\0' ? r.reason : "ok",
		    r.sets, r.oldest_pass);
		rc = 0;
	}
	buf_reset(&m);
	dns_free(dns);
	return rc;
}

static void
seal_field(void *s, const char *f, size_t n)
{
	arc_sealer_header(s, f, n);
}

/* Seal m with key, chain being m's verification; print the result. */
static int
seal_message(const struct dkim_sign_key *key, const struct arc_result *chain,
    const char *authserv_id, const char *authres, const struct buf *m)
{
	struct arc_sealer *s;
	struct buf out;
	struct why why;
	size_t body;
	int rc = 1;

	if ((s = arc_sealer_new(key, time(NULL), &why)) == NULL) {
		dkim_err("arc-seal", "%s", why.text);
		return 1;
	}
	body = split_header(m, seal_field, s);
	arc_sealer_body(s, m->data + body, m->len - body);
	buf_init(&out, 1024 * 1024);
	if (arc_sealer_finish(s, chain, authserv_id, authres, &out, &why) == -1)
		dkim_err("arc-seal", "%s", why.text);
	else if (fwrite(out.data, 1, out.len, stdout) == out.len &&
	         (m->len == 0 || fwrite(m->data, 1, m->len, stdout) == m->len))
		rc = 0;
	buf_reset(&out);
	arc_sealer_free(s);
	return rc;
}

/* The authserv-id: the value's first token, else the host name. */
static void
authserv_id_of(const struct conf *conf, const char *value, char *id, size_t max)
{
	size_t i = 0;

	while (*value == ' ' || *value == '\t')
		value++;
	while (i + 1 < max && value[i] != '\0' && value[i] != ';' &&
	       value[i] != ' ' && value[i] != '\t' && value[i] != '(')
		id[i] = value[i], i++;
	id[i] = '\0';
	if (i == 0 || value[i] != ';')
		(void)snprintf(id, max, "%s", conf->hostname);
}

static int
cmd_arc_seal(const struct conf *conf, int argc, char **argv)
{
	const char *sel[2] = { 0 }, *domain = NULL, *authres = NULL;
	char id[256];
	struct arc_result chain;
	struct dkimkeys ks;
	struct authdns adns;
	struct dns *dns;
	struct why why;
	struct buf m;
	int i, rc = 1;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--selector") == 0 && i + 1 < argc)
			sel[0] = argv[++i];
		else if (strcmp(argv[i], "--authres") == 0 && i + 1 < argc)
			authres = argv[++i];
		else if (argv[i][0] != '-' && domain == NULL)
			domain = argv[i];
		else
			domain = authres = NULL, i = argc;
	}
	if (domain == NULL || authres == NULL) {
		cli_dkim_usage(stderr);
		return EX_USAGE;
	}
	if (dkimkeys_load(conf->data_dir, domain, sel[0] != NULL ? sel : NULL,
	        &ks, &why) == -1) {
		dkim_err("arc-seal", "%s", why.text);
		return 1;
	}
	if (ks.n == 0) {
		dkim_err("arc-seal", "no key for %s (tern dkim keygen %s)",
		    domain, domain);
		dkimkeys_free(&ks);
		return 1;
	}
	authserv_id_of(conf, authres, id, sizeof(id));
	buf_init(&m, CLI_DKIM_MSG_MAX);
	if ((dns = open_dns(conf, "arc-seal", &adns)) != NULL) {
		if (read_message(&m) == -1 ||
		    arc_check(&m, &adns, &chain) == -1)
			dkim_err("arc-seal", "cannot read the message");
		else
			rc = seal_message(&ks.key[0], &chain, id, authres, &m);
		dns_free(dns);
	}
	buf_reset(&m);
	dkimkeys_free(&ks);
	return rc;
}

int
cli_dkim(const struct conf *conf, int argc, char **argv)
{
	if (argc < 2) {
		cli_dkim_usage(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[1], "keygen") == 0)
		return cmd_keygen(conf, argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0 && argc == 2)
		return cmd_list(conf);
	if (strcmp(argv[1], "sign") == 0)
		return cmd_sign(conf, argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return cmd_verify(conf, argc - 1);
	if (strcmp(argv[1], "arc-verify") == 0)
		return cmd_arc_verify(conf, argc - 1);
	if (strcmp(argv[1], "arc-seal") == 0)
		return cmd_arc_seal(conf, argc - 1, argv + 1);
	cli_dkim_usage(stderr);
	return EX_USAGE;
}
