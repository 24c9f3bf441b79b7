/* SPDX-License-Identifier: ISC */
/*
 * cli/check_auth.c - `tern check SUBCOMMAND`, the operator's view of
 * the inbound mail checks (issue 16):
 *
 *   check spf --ip IP --helo NAME --from ADDR [--timeout SECS]
 *   check spf --batch [--timeout SECS]   queries from stdin, one a line:
 *                                        IP TAB HELO TAB FROM
 *   check message [--ip IP --helo NAME --from ADDR] [--timeout SECS]
 *                                        < FILE: cli/check_msg.c
 *
 * `check spf` prints, for each query:
 *
 *   mailfrom: RESULT (reason)
 *   explanation: TEXT                    on fail, when exp= gave one
 *   helo: RESULT (reason)
 *   helo-explanation: TEXT
 *   dns: IDENTITY NAME TYPE ANSWER       each lookup made, in order
 *   stats: IDENTITY terms=N void=N queries=N
 *   end                                  (--batch only)
 *
 * It asks the configured resolver (dns_server, else resolv.conf). Exit
 * 0 when it ran, whatever the results; 64 usage; 69 the resolver cannot
 * be set up.
 * Trust: run by the operator; what DNS answers is hostile, and every
 * text printed from it is made printable ASCII by auth/spf.c.
 */
#include "cli/cli.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "auth/authdns.h"
#include "auth/spf.h"
#include "dns/dns.h"
#include "util/str.h"

#define BATCH_LINE_MAX 2048
#define TIMEOUT_MAX 600

void
cli_check_usage(FILE *f)
{
	fputs("usage: tern [-c FILE] check spf --ip IP --helo NAME "
	      "--from ADDR [--timeout SECS]\n"
	      "       tern [-c FILE] check spf --batch [--timeout SECS] "
	      "< QUERIES\n"
	      "       tern [-c FILE] check message [--ip IP --helo NAME "
	      "--from ADDR]\n"
	      "                [--timeout SECS] < MESSAGE\n"
	      "Check SPF (RFC 7208) for a client address, HELO name and "
	      "MAIL FROM address\n"
	      "(\"\" for the null sender) with the configured resolver "
	      "(dns_server), and\n"
	      "print each identity's result with its reason, the "
	      "explanation of a fail,\n"
	      "and every DNS lookup made. --batch reads one query a line: "
	      "IP<TAB>HELO<TAB>FROM,\n"
	      "and ends each answer with a line \"end\". --timeout bounds "
	      "each check\n"
	      "(default 20 s). Exit 0 when it ran, whatever the result.\n"
	      "\n"
	      "`check message` reads a message (LF or CRLF lines) and "
	      "prints the\n"
	      "Authentication-Results field the server would add (DKIM, "
	      "SPF, DMARC),\n"
	      "then one line per method with its reason (spf:, spf-helo:, "
	      "dkim: per\n"
	      "signature, dmarc:) and what the server would do under "
	      "[authentication]:\n"
	      "\"action: accept\", \"action: deliver to Junk\" or "
	      "\"action: refuse CODE TEXT\".\n"
	      "Without --ip SPF is skipped and DMARC goes by DKIM alone; "
	      "--from defaults\n"
	      "to the message's Return-Path (else the null sender). Exit "
	      "0 when it ran,\n"
	      "whatever the result; 64 usage; 65 unreadable message; 69 "
	      "no resolver.\n",
	    f);
}

static const char *
type_name(int type)
{
	switch (type) {
	case DNS_T_A:
		return "A";
	case DNS_T_AAAA:
		return "AAAA";
	case DNS_T_MX:
		return "MX";
	case DNS_T_PTR:
		return "PTR";
	case DNS_T_TXT:
		return "TXT";
	}
	return "?";
}

bool
cli_parse_ip(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (void *)ss;
	struct sockaddr_in6 *s6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		return true;
	}
	return false;
}

static void
print_verdict(const struct spf_verdict *v, const char *exp_label)
{
	char safe[SPF_REASON_MAX];

	printf("%s: %s (%s)\n", v->identity, spf_result_name(v->result),
	    str_printable(safe, sizeof(safe), v->reason));
	if (v->result == SPF_FAIL && v->explanation[0] != '\0')
		printf("%s: %s\n", exp_label, v->explanation);
}

static void
print_trace(const struct spf_verdict *v)
{
	size_t i;

	for (i = 0; i < v->n_trace; i++)
		printf("dns: %s %s %s %s\n", v->identity, v->trace[i].name,
		    type_name(v->trace[i].type), v->trace[i].answer);
	printf("stats: %s terms=%u void=%u queries=%u\n", v->identity,
	    v->dns_terms, v->void_lookups, v->queries);
}

/*
 * One query: both identities, printed. Each query gets a fresh resolver
 * (and cache): a server that timed out in one query must not be
 * remembered as down by the next one (--batch).
 */
static int
check_one(const struct conf *conf, const struct spf_query *q)
{
	struct spf_verdict helo, mailfrom;
	struct authdns ad;
	struct dns *dns;
	struct why why;

	/* The resolver's own timeout is the check's: a silent server costs
	 * one bounded wait, and the check's deadline stops the rest. */
	dns = dns_new(conf->dns_server,
	    q->timeout_secs ? q->timeout_secs : SPF_TIMEOUT_SECS, &why);
	if (dns == NULL) {
		fprintf(stderr, "tern: check spf: %s\n", why.text);
		return EX_UNAVAILABLE;
	}
	ad.lookup = authdns_resolver;
	ad.arg = dns;
	spf_check(&ad, q, &helo, &mailfrom);
	dns_free(dns);
	print_verdict(&mailfrom, "explanation");
	print_verdict(&helo, "helo-explanation");
	print_trace(&mailfrom);
	/* With the null sender the MAIL FROM check was the HELO one. */
	if (q->mailfrom[0] != '\0')
		print_trace(&helo);
	return 0;
}

static int
batch(const struct conf *conf, struct spf_query *q)
{
	char line[BATCH_LINE_MAX], *ip, *helo, *from, *nl;
	int ret = 0;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		ip = line;
		helo = strchr(ip, '\t');
		from = helo ? strchr(helo + 1, '\t') : NULL;
		if (helo == NULL || from == NULL) {
			fprintf(stderr,
			    "tern: check spf: want IP<TAB>HELO"
			    "<TAB>FROM, not '%.60s'\n",
			    line);
			ret = EX_DATAERR;
			printf("end\n");
			continue;
		}
		*helo++ = '\0';
		*from++ = '\0';
		if (!cli_parse_ip(ip, &q->ip)) {
			fprintf(stderr, "tern: check spf: bad IP '%.60s'\n",
			    ip);
			ret = EX_DATAERR;
			printf("end\n");
			continue;
		}
		q->helo = helo;
		q->mailfrom = from;
		if (check_one(conf, q) != 0)
			return EX_UNAVAILABLE;
		printf("end\n");
		fflush(stdout);
	}
	return ret;
}

static int
check_spf(const struct conf *conf, int argc, char **argv)
{
	const char *ip = NULL, *helo = NULL, *from = NULL;
	struct spf_query q;
	uint64_t secs = 0;
	bool is_batch = false;
	int i;

	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--batch") == 0) {
			is_batch = true;
			continue;
		}
		if (i + 1 == argc)
			goto usage;
		if (strcmp(argv[i], "--ip") == 0)
			ip = argv[++i];
		else if (strcmp(argv[i], "--helo") == 0)
			helo = argv[++i];
		else if (strcmp(argv[i], "--from") == 0)
			from = argv[++i];
		else if (strcmp(argv[i], "--timeout") == 0) {
			if (!str_to_u64(argv[++i], TIMEOUT_MAX, &secs) ||
			    secs == 0)
				goto usage;
		} else
			goto usage;
	}
	memset(&q, 0, sizeof(q));
	if (!is_batch && (ip == NULL || helo == NULL || from == NULL ||
	                     !cli_parse_ip(ip, &q.ip)))
		goto usage;
	if (is_batch && (ip || helo || from))
		goto usage;
	q.helo = helo;
	q.mailfrom = from;
	q.receiver = conf->hostname;
	q.timeout_secs = (unsigned)secs;
	if (is_batch)
		return batch(conf, &q);
	return check_one(conf, &q);
usage:
	fprintf(stderr, "tern: check spf: bad arguments\n");
	cli_check_usage(stderr);
	return EX_USAGE;
}

int
cli_check(const struct conf *conf, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "spf") == 0)
		return check_spf(conf, argc, argv);
	if (argc >= 2 && strcmp(argv[1], "message") == 0)
		return cli_check_message(conf, argc, argv);
	fprintf(stderr, "tern: check: want spf or message\n");
	cli_check_usage(stderr);
	return EX_USAGE;
}
