/* SPDX-License-Identifier: ISC */
/*
 * cli/check_msg.c - `tern check message [--ip IP --helo NAME --from
 * ADDR] [--timeout SECS] < FILE` (issue 16): what the server would make
 * of a message from outside. It prints
 *
 *   Authentication-Results: HOSTNAME; ...   the field tern would add
 *   spf: RESULT (reason) mailfrom=<ADDR>    or "spf: skipped (...)"
 *   spf-helo: RESULT (reason) helo=NAME     when the HELO was checked
 *   dkim: RESULT d=D s=S a=ALG (reason)     one line per signature
 *   dmarc: RESULT policy=P from=D (reason)  [applied=P2 after pct]
 *   arc: RESULT sets=N [oldest-pass=I sealed-by=D s=S] (reason)
 *   note: ...                               forged A-R fields left out
 *   action: accept | deliver to Junk | refuse CODE TEXT
 *
 * The field comes from auth/verdict.c, as the server's does, and the
 * action from the same [authentication] settings through the same
 * functions. A field claiming our authserv-id is left out, as the
 * server removes it. The message may have LF or CRLF line ends (LF
 * becomes CRLF, as the server sees it) and an mbox "From " line first.
 * Without --ip SPF is skipped; --from defaults to the Return-Path.
 *
 * Blocking: asks the configured resolver (dns_server), each query
 * bounded by --timeout (and SPF as a whole too).
 * Trust: run by the operator, but the message and every DNS answer are
 * hostile; the message is read up to max_message_size, everything
 * printed from it or from DNS is made printable ASCII.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "auth/authdns.h"
#include "auth/authres.h"
#include "auth/dkim.h"
#include "auth/arc.h"
#include "auth/dmarc.h"
#include "auth/spf.h"
#include "auth/verdict.h"
#include "msg/field.h"
#include "dns/dns.h"
#include "util/buf.h"
#include "util/str.h"

#define TIMEOUT_MAX 600
#define FROM_FIELDS_MAX 8 /* as the server: more is "several" anyway */
#define ADDR_MAX 512
#define HELO_MAX 256
#define TEXT_MAX 512 /* one printed reason */

/* One run: the options, the message's parts, the results. */
struct msgcheck {
	const struct conf *conf;
	/* Options */
	const char *ip_arg;
	bool have_ip;
	struct spf_query q;
	char helo[HELO_MAX];
	char mailfrom[ADDR_MAX];
	bool have_from;       /* --from given */
	bool from_returnpath; /* mailfrom is the Return-Path's */
	unsigned timeout;
	/* The message */
	struct buf msg;
	struct dkim_verifier *ver;
	struct arc_verifier *arc;
	struct arc_result arc_res;
	struct dmarc_field from[FROM_FIELDS_MAX];
	size_t nfrom, from_extra;
	size_t removed; /* forged Authentication-Results left out */
	/* Results */
	struct authdns dns;
	struct spf_verdict spf_helo, spf_mail;
	struct dkim_result dk[VERDICT_DKIM_MAX];
	size_t ndk;
	struct dmarc_verdict dm;
};

/* ---- arguments ----------------------------------------------------- */

static int
usage_error(const char *what)
{
	fprintf(stderr, "tern: check message: %s\n", what);
	cli_check_usage(stderr);
	return EX_USAGE;
}

static int
parse_args(struct msgcheck *mc, int argc, char **argv)
{
	const char *helo = NULL, *from = NULL;
	uint64_t secs = SPF_TIMEOUT_SECS;
	int i;

	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--ip") != 0 &&
		    strcmp(argv[i], "--helo") != 0 &&
		    strcmp(argv[i], "--from") != 0 &&
		    strcmp(argv[i], "--timeout") != 0)
			return usage_error("unknown argument");
		if (i + 1 == argc)
			return usage_error("an option without its value");
		if (strcmp(argv[i], "--ip") == 0)
			mc->ip_arg = argv[++i];
		else if (strcmp(argv[i], "--helo") == 0)
			helo = argv[++i];
		else if (strcmp(argv[i], "--from") == 0)
			from = argv[++i];
		else if (strcmp(argv[i], "--timeout") == 0) {
			if (!str_to_u64(argv[++i], TIMEOUT_MAX, &secs) ||
			    secs == 0)
				return usage_error("--timeout wants 1 to 600 "
				                   "seconds");
		}
	}
	if (mc->ip_arg != NULL && !cli_parse_ip(mc->ip_arg, &mc->q.ip))
		return usage_error("--ip wants an IPv4 or IPv6 address");
	mc->have_ip = mc->ip_arg != NULL;
	if (helo != NULL && strlen(helo) >= sizeof(mc->helo))
		return usage_error("--helo is too long");
	if (from != NULL && strlen(from) >= sizeof(mc->mailfrom))
		return usage_error("--from is too long");
	(void)strlcpy(mc->helo, helo != NULL ? helo : "", sizeof(mc->helo));
	(void)strlcpy(mc->mailfrom, from != NULL ? from : "",
	    sizeof(mc->mailfrom));
	mc->have_from = from != NULL;
	mc->timeout = (unsigned)secs;
	return 0;
}

/* ---- the message --------------------------------------------------- */

/* stdin, whole, every line ending CRLF (a bare LF gains its CR). */
static int
read_message(struct buf *out)
{
	char chunk[65536];
	size_t n, i, start;
	bool cr = false;

	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
		for (i = start = 0; i < n; i++) {
			if (chunk[i] == '\n' && !cr) {
				if (buf_append(out, chunk + start, i - start) ==
				        -1 ||
				    buf_append(out, "\r", 1) == -1)
					return -1;
				start = i;
			}
			cr = chunk[i] == '\r';
		}
		if (buf_append(out, chunk + start, n - start) == -1)
			return -1;
	}
	return ferror(stdin) ? -1 : 0;
}

/*
 * The first Return-Path's address (RFC 5322 3.6.7: "<addr>", "<>" the
 * null sender) as MAIL FROM, unless --from gave one.
 */
static void
take_return_path(struct msgcheck *mc, const char *v, size_t n)
{
	const char *lt, *gt;

	if (mc->have_from || mc->from_returnpath)
		return;
	lt = memchr(v, '<', n);
	gt = lt != NULL ? memchr(lt, '>', n - (size_t)(lt - v)) : NULL;
	if (lt == NULL || gt == NULL ||
	    (size_t)(gt - lt - 1) >= sizeof(mc->mailfrom))
		return;
	memcpy(mc->mailfrom, lt + 1, (size_t)(gt - lt - 1));
	mc->mailfrom[gt - lt - 1] = '\0';
	if (memchr(mc->mailfrom, '\0', (size_t)(gt - lt - 1)) != NULL)
		mc->mailfrom[0] = '\0'; /* a NUL inside: not an address */
	mc->from_returnpath = true;
}

/* One header field, as the server's msgauth_field() takes it. */
static void
on_field(struct msgcheck *mc, const char *f, size_t n)
{
	const char *v;
	size_t vn;

	v = msg_field_value(f, n, &vn);
	if (msg_field_is(f, n, "Authentication-Results") &&
	    authres_claims_id(v, vn, mc->conf->hostname)) {
		mc->removed++; /* the server removes it: nor is it signed */
		return;
	}
	if (msg_field_is(f, n, "From")) {
		if (mc->nfrom < FROM_FIELDS_MAX) {
			mc->from[mc->nfrom].p = v;
			mc->from[mc->nfrom++].n = vn;
		} else
			mc->from_extra++;
	}
	if (msg_field_is(f, n, "Return-Path"))
		take_return_path(mc, v, vn);
	dkim_verifier_header(mc->ver, f, n);
	arc_verifier_header(mc->arc, f, n);
}

/* Header fields to on_field(), then the body to the DKIM verifier. */
static void
feed_message(struct msgcheck *mc)
{
	const char *p = (const char *)mc->msg.data, *end = p + mc->msg.len;
	size_t len;

	if (p == NULL)
		p = end = "";
	/* An mbox "From " line is no header field: skip it. */
	if (end - p >= 5 && memcmp(p, "From ", 5) == 0)
		p += msg_field_len(p, (size_t)(end - p));
	while (p < end && !(end - p >= 2 && p[0] == '\r' && p[1] == '\n')) {
		len = msg_field_len(p, (size_t)(end - p));
		on_field(mc, p, len);
		p += len;
	}
	dkim_verifier_eoh(mc->ver);
	arc_verifier_eoh(mc->arc);
	if (p < end)
		p += 2; /* the empty line */
	dkim_verifier_body(mc->ver, (const uint8_t *)p, (size_t)(end - p));
	arc_verifier_body(mc->arc, (const uint8_t *)p, (size_t)(end - p));
}

/* ---- the checks ---------------------------------------------------- */

static void
check_spf(struct msgcheck *mc)
{
	if (!mc->have_ip)
		return;
	mc->q.helo = mc->helo;
	mc->q.mailfrom = mc->mailfrom;
	mc->q.receiver = mc->conf->hostname;
	mc->q.timeout_secs = mc->timeout;
	spf_check(&mc->dns, &mc->q, &mc->spf_helo, &mc->spf_mail);
}

static void
check_dkim(struct msgcheck *mc)
{
	mc->ndk = mc->conf->auth.dkim_max_signatures < VERDICT_DKIM_MAX
	              ? mc->conf->auth.dkim_max_signatures
	              : VERDICT_DKIM_MAX;
	dkim_verifier_finish(mc->ver, &mc->dns, time(NULL), mc->dk, &mc->ndk);
	if (mc->ndk > VERDICT_DKIM_MAX)
		mc->ndk = VERDICT_DKIM_MAX;
}

/* As the server: SPF's result and domain, each signature's d=. */
static void
check_dmarc(struct msgcheck *mc)
{
	struct dmarc_dkim dd[VERDICT_DKIM_MAX];
	size_t i;

	for (i = 0; i < mc->ndk; i++) {
		dd[i].domain = mc->dk[i].domain;
		dd[i].pass = mc->dk[i].result == DKIM_PASS;
	}
	if (mc->from_extra > 0)
		dmarc_from_verdict(DMARC_FROM_SEVERAL_FIELDS, &mc->dm);
	else
		dmarc_check_message(&mc->dns, mc->from, mc->nfrom,
		    mc->have_ip ? spf_result_name(mc->spf_mail.result) : "none",
		    mc->spf_mail.domain, dd, mc->ndk, dmarc_random(), &mc->dm);
}

/* ARC (RFC 8617): the chain the message carries, as the server sees it. */
static void
check_arc(struct msgcheck *mc)
{
	arc_verifier_finish(mc->arc, &mc->dns, time(NULL), &mc->arc_res);
}

static void
print_arc(const struct msgcheck *mc)
{
	const struct arc_result *a = &mc->arc_res;

	printf("arc: %s sets=%u", arc_cv_name(a->cv), a->sets);
	if (a->cv == ARC_PASS)
		printf(" oldest-pass=%u sealed-by=%s s=%s", a->oldest_pass,
		    a->domain, a->selector);
	if (a->reason[0] != '\0')
		printf(" (%s)", a->reason);
	putchar('\n');
}

/* ---- output -------------------------------------------------------- */

static int
print_authres(const struct msgcheck *mc)
{
	struct verdict v;
	struct buf out;
	int rc = 0;

	memset(&v, 0, sizeof(v));
	v.spf_mail = mc->have_ip ? &mc->spf_mail : NULL;
	v.spf_helo = &mc->spf_helo;
	v.helo = mc->helo;
	v.mailfrom = mc->mailfrom;
	v.dkim = mc->dk;
	v.ndkim = mc->ndk;
	v.dmarc = &mc->dm;
	v.arc = &mc->arc_res;
	buf_init(&out, 64 * 1024);
	if (verdict_authres_write(&out, mc->conf->hostname, &v) == -1) {
		fprintf(stderr,
		    "tern: check message: cannot write the "
		    "Authentication-Results field (is hostname '%s' a host "
		    "name?)\n",
		    mc->conf->hostname);
		rc = EX_CONFIG;
	} else
		(void)fwrite(out.data, 1, out.len, stdout);
	buf_reset(&out);
	return rc;
}

static void
print_spf(const struct msgcheck *mc)
{
	char r[TEXT_MAX], d[DNS_NAME_MAX], a[ADDR_MAX];

	if (!mc->have_ip) {
		printf("spf: skipped (no --ip: DMARC goes by DKIM alone)\n");
		return;
	}
	printf("spf: %s (%s) mailfrom=<%s>%s\n",
	    spf_result_name(mc->spf_mail.result),
	    str_printable(r, sizeof(r), mc->spf_mail.reason),
	    str_printable(a, sizeof(a), mc->mailfrom),
	    mc->from_returnpath ? " (from Return-Path)"
	    : mc->have_from     ? ""
	                        : " (no --from nor Return-Path: the null "
	                          "sender, postmaster@HELO)");
	if (mc->mailfrom[0] != '\0' && mc->helo[0] != '\0')
		printf("spf-helo: %s (%s) helo=%s\n",
		    spf_result_name(mc->spf_helo.result),
		    str_printable(r, sizeof(r), mc->spf_helo.reason),
		    str_printable(d, sizeof(d), mc->helo));
}

static void
print_dkim(const struct msgcheck *mc)
{
	const struct dkim_result *k;
	char r[TEXT_MAX], d[DNS_NAME_MAX];
	size_t i;

	if (mc->ndk == 0)
		printf("dkim: none (no DKIM-Signature)\n");
	for (i = 0; i < mc->ndk; i++) {
		k = &mc->dk[i];
		printf("dkim: %s d=%s s=%s a=%s (%s)\n",
		    dkim_res_name(k->result),
		    k->domain[0] != '\0'
		        ? str_printable(d, sizeof(d), k->domain)
		        : "-",
		    k->selector[0] != '\0' ? k->selector : "-",
		    k->algorithm[0] != '\0' ? k->algorithm : "-",
		    k->reason[0] != '\0'
		        ? str_printable(r, sizeof(r), k->reason)
		        : "verified");
	}
}

static void
print_dmarc(const struct msgcheck *mc)
{
	const struct dmarc_verdict *v = &mc->dm;
	char r[TEXT_MAX], d[DNS_NAME_MAX];

	printf("dmarc: %s policy=%s", dmarc_result_name(v->result),
	    dmarc_policy_name(v->published));
	if (v->policy != v->published && v->result == DMARC_FAIL)
		printf(" applied=%s", dmarc_policy_name(v->policy));
	printf(" from=%s (%s%s)\n",
	    v->from_domain[0] != '\0'
	        ? str_printable(d, sizeof(d), v->from_domain)
	        : "-",
	    str_printable(r, sizeof(r), v->reason),
	    v->sampled_out ? "; sampled out by pct" : "");
}

/* What the server would do: at MAIL FROM (SPF), then at end of DATA. */
static void
print_action(const struct msgcheck *mc)
{
	const struct conf_auth *ca = &mc->conf->auth;
	char reply[VERDICT_REPLY_MAX];

	if (ca->checks == CONF_OFF) {
		printf("action: accept ([authentication] checks = off: the "
		       "server checks nothing and adds no field)\n");
		return;
	}
	if (mc->have_ip &&
	    verdict_spf_refusal(&mc->spf_mail, ca, reply, sizeof(reply))) {
		printf("action: refuse %s (at MAIL FROM)\n", reply);
		return;
	}
	if (verdict_arc_override(&mc->dm, &mc->arc_res, ca)) {
		printf("action: accept (the DMARC failure is overridden: a "
		       "passing ARC chain sealed by %s, in "
		       "arc_trusted_sealers)\n",
		    mc->arc_res.domain);
		return;
	}
	switch (verdict_dmarc_action(&mc->dm, ca, reply, sizeof(reply))) {
	case VERDICT_REFUSE:
		printf("action: refuse %s\n", reply);
		break;
	case VERDICT_JUNK:
		printf("action: deliver to Junk\n");
		break;
	case VERDICT_ACCEPT:
		printf("action: accept\n");
		break;
	}
}

static void
print_reasons(const struct msgcheck *mc)
{
	print_spf(mc);
	print_dkim(mc);
	print_dmarc(mc);
	print_arc(mc);
	if (mc->removed > 0)
		printf("note: %zu Authentication-Results field%s claiming %s "
		       "left out (the server removes them)\n",
		    mc->removed, mc->removed == 1 ? "" : "s",
		    mc->conf->hostname);
	print_action(mc);
}

/* ---- the command --------------------------------------------------- */

static int
run(struct msgcheck *mc)
{
	struct dns *dns;
	struct why why;
	int rc;

	buf_init(&mc->msg, (size_t)mc->conf->limits.max_message_size);
	if (read_message(&mc->msg) == -1) {
		fprintf(stderr,
		    "tern: check message: cannot read the message from "
		    "stdin (larger than max_message_size = %llu bytes?)\n",
		    (unsigned long long)mc->conf->limits.max_message_size);
		return EX_DATAERR;
	}
	dns = dns_new(mc->conf->dns_server, mc->timeout, &why);
	if (dns == NULL) {
		fprintf(stderr, "tern: check message: %s\n", why.text);
		return EX_UNAVAILABLE;
	}
	mc->dns.lookup = authdns_resolver;
	mc->dns.arg = dns;
	mc->ver =
	    dkim_verifier_new((unsigned)mc->conf->auth.dkim_max_signatures);
	mc->arc = arc_verifier_new();
	if (mc->ver == NULL || mc->arc == NULL) {
		fprintf(stderr, "tern: check message: out of memory\n");
		dns_free(dns);
		return EX_OSERR;
	}
	feed_message(mc);
	check_spf(mc);
	check_dkim(mc);
	check_arc(mc);
	check_dmarc(mc);
	if ((rc = print_authres(mc)) == 0)
		print_reasons(mc);
	dns_free(dns);
	return rc;
}

int
cli_check_message(const struct conf *conf, int argc, char **argv)
{
	struct msgcheck *mc;
	int rc;

	/* Big (the DKIM results, the verdicts): not on the stack. */
	if ((mc = calloc(1, sizeof(*mc))) == NULL) {
		fprintf(stderr, "tern: check message: out of memory\n");
		return EX_OSERR;
	}
	mc->conf = conf;
	if ((rc = parse_args(mc, argc, argv)) == 0)
		rc = run(mc);
	dkim_verifier_free(mc->ver);
	arc_verifier_free(mc->arc);
	buf_reset(&mc->msg);
	free(mc);
	return rc;
}
