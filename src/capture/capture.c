/* SPDX-License-Identifier: ISC */
/*
 * capture/capture.c - `tern capture`: its options, its listeners, its
 * certificate and its loop (capture.h).
 */
#include "capture/capture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "capture/api.h"
#include "capture/capture-private.h"
#include "capture/dkimchk.h"
#include "capture/smtpd.h"
#include "util/log.h"
#include "util/why.h"

#define CERT_DAYS 30
#define STOP_FLUSH_US 200000 /* answers' time to leave at a stop */

struct opts {
	const char *smtp, *http, *dir, *hostname, *dns_server;
	uint64_t max_messages, max_size, max_memory, seed;
	bool have_seed, allow_remote;
	struct cap_faults f;
};

void
cli_capture_usage(FILE *fp)
{
	fputs("usage: tern capture [--smtp ADDR:PORT] [--http ADDR:PORT] "
	      "[--dir DIR]\n"
	      "         [--max-messages N] [--max-size BYTES] "
	      "[--max-memory BYTES]\n"
	      "         [--hostname NAME]\n"
	      "         [--rcpt-tempfail PCT] [--rcpt-permfail PCT] "
	      "[--msg-tempfail PCT]\n"
	      "         [--msg-permfail PCT] [--delay MS] "
	      "[--drop-mid-data PCT] [--seed N]\n"
	      "         [--dns-server IP[:PORT]] [--allow-remote] [-v]\n"
	      "A development mail server: accepts every message, delivers "
	      "none, shows them\n"
	      "on http://ADDR:PORT/ (defaults: --smtp 127.0.0.1:1025 --http "
	      "127.0.0.1:8025).\n"
	      "See docs/capture.md.\n",
	    fp);
}

/* ---- options ------------------------------------------------------- */

static bool
parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

static bool
parse_pct(const char *s, double *out)
{
	char *end;
	double v;

	if (!((s[0] >= '0' && s[0] <= '9') || s[0] == '.'))
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v) || v < 0 || v > 100)
		return false;
	*out = v;
	return true;
}

static int
bad(const char *opt, const char *v, const char *want)
{
	fprintf(stderr, "tern: capture: bad %s '%s': %s\n", opt, v, want);
	return EX_USAGE;
}

static int
take_opt(struct opts *o, int ch, const char *v)
{
	uint64_t u;

	switch (ch) {
	case 's':
		o->smtp = v;
		return 0;
	case 'h':
		o->http = v;
		return 0;
	case 'd':
		o->dir = v;
		return 0;
	case 'H':
		o->hostname = v;
		return 0;
	case 'D':
		o->dns_server = v;
		return 0;
	case 'r':
		o->allow_remote = true;
		return 0;
	case 'v':
		log_set_verbose(true);
		return 0;
	case 'm':
		return parse_u64(v, 10000000, &o->max_messages) &&
		               o->max_messages > 0
		           ? 0
		           : bad("--max-messages", v,
		                 "a number, 1 to 10000000");
	case 'z':
		return parse_u64(v, (uint64_t)1 << 32, &o->max_size) &&
		               o->max_size > 0
		           ? 0
		           : bad("--max-size", v, "bytes, 1 to 4294967296");
	case 'M':
		return parse_u64(v, UINT64_MAX, &o->max_memory)
		           ? 0
		           : bad("--max-memory", v, "bytes, 0 for no cap");
	case 'S':
		o->have_seed = true;
		return parse_u64(v, UINT64_MAX, &o->seed)
		           ? 0
		           : bad("--seed", v, "a number");
	case 'w':
		if (!parse_u64(v, CAP_DELAY_MAX, &u))
			return bad("--delay", v, "milliseconds, 0 to 60000");
		o->f.delay_ms = (unsigned)u;
		return 0;
	case '1':
		return parse_pct(v, &o->f.rcpt_tempfail)
		           ? 0
		           : bad("--rcpt-tempfail", v,
		                 "a percentage, 0 to 100");
	case '2':
		return parse_pct(v, &o->f.rcpt_permfail)
		           ? 0
		           : bad("--rcpt-permfail", v,
		                 "a percentage, 0 to 100");
	case '3':
		return parse_pct(v, &o->f.msg_tempfail)
		           ? 0
		           : bad("--msg-tempfail", v, "a percentage, 0 to 100");
	case '4':
		return parse_pct(v, &o->f.msg_permfail)
		           ? 0
		           : bad("--msg-permfail", v, "a percentage, 0 to 100");
	case '5':
		return parse_pct(v, &o->f.drop_mid_data)
		           ? 0
		           : bad("--drop-mid-data", v,
		                 "a percentage, 0 to 100");
	default:
		return EX_USAGE;
	}
}

static int
parse_opts(struct opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "smtp", required_argument, NULL, 's' },
		{ "http", required_argument, NULL, 'h' },
		{ "dir", required_argument, NULL, 'd' },
		{ "max-messages", required_argument, NULL, 'm' },
		{ "max-size", required_argument, NULL, 'z' },
		{ "max-memory", required_argument, NULL, 'M' },
		{ "hostname", required_argument, NULL, 'H' },
		{ "rcpt-tempfail", required_argument, NULL, '1' },
		{ "rcpt-permfail", required_argument, NULL, '2' },
		{ "msg-tempfail", required_argument, NULL, '3' },
		{ "msg-permfail", required_argument, NULL, '4' },
		{ "drop-mid-data", required_argument, NULL, '5' },
		{ "delay", required_argument, NULL, 'w' },
		{ "seed", required_argument, NULL, 'S' },
		{ "dns-server", required_argument, NULL, 'D' },
		{ "allow-remote", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, rc;

	memset(o, 0, sizeof(*o));
	o->smtp = "127.0.0.1:1025";
	o->http = "127.0.0.1:8025";
	o->hostname = "capture.localhost";
	o->max_messages = 1000;
	o->max_size = CAP_SIZE_DEFAULT;
	o->max_memory = CAP_MEMORY_DEFAULT;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		if (ch == '?' || ch == ':') {
			fprintf(stderr,
			    "tern: capture: unknown or incomplete "
			    "option '%s'\n",
			    argv[optind - 1]);
			cli_capture_usage(stderr);
			return EX_USAGE;
		}
		if ((rc = take_opt(o, ch, optarg)) != 0)
			return rc;
	}
	if (optind != argc) {
		fprintf(stderr, "tern: capture: unexpected '%s'\n",
		    argv[optind]);
		cli_capture_usage(stderr);
		return EX_USAGE;
	}
	return 0;
}

/* ---- listeners ----------------------------------------------------- */

/* "ADDR:PORT" or "[V6]:PORT", ADDR numeric, into *ss. */
static bool
parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints, *ai = NULL;
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':'), *h = s;
	size_t hl;
	bool ok;

	if (colon == NULL || colon[1] == '\0')
		return false;
	hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		h = s + 1;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return false;
	memcpy(host, h, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || ai == NULL)
		return false;
	ok = ai->ai_addrlen <= sizeof(*ss);
	if (ok) {
		memcpy(ss, ai->ai_addr, ai->ai_addrlen);
		*len = (socklen_t)ai->ai_addrlen;
	}
	freeaddrinfo(ai);
	return ok;
}

static bool
is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)ss)
		                  ->sin_addr.s_addr) >>
		           24) == 127;
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(
		    &((const struct sockaddr_in6 *)(const void *)ss)
		         ->sin6_addr);
	return false;
}

/* Bind and listen; the bound address as text into dst. -1 with why. */
static int
bind_one(const char *what, const char *spec, bool allow_remote, char *dst,
    size_t dstsz, struct why *why)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	int fd, on = 1;

	if (!parse_listen(spec, &ss, &len))
		return why_set(why, WHY_PERM, 0,
		    "--%s %s: expected IP:PORT or [IPv6]:PORT", what, spec);
	if (!allow_remote && !is_loopback(&ss))
		return why_set(why, WHY_PERM, 0,
		    "--%s %s is not a loopback address: capture accepts any "
		    "login and shows all mail to whoever can reach it; add "
		    "--allow-remote if that is what you want",
		    what, spec);
	fd =
	    socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return why_set(why, WHY_PERM, errno, "--%s: socket", what);
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, 128) == -1) {
		why_set(why, WHY_PERM, errno, "--%s %s: bind", what, spec);
		(void)close(fd);
		return -1;
	}
	len = sizeof(ss);
	(void)getsockname(fd, (struct sockaddr *)&ss, &len);
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)&ss;

		(void)inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		(void)snprintf(dst, dstsz, "[%s]:%u", host,
		    (unsigned)ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)&ss;

		(void)inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		(void)snprintf(dst, dstsz, "%s:%u", host,
		    (unsigned)ntohs(s4->sin_port));
	}
	return fd;
}

/* ---- the certificate ----------------------------------------------- */

/* A self-signed EC P-256 certificate for hostname, made in memory. */
static SSL_CTX *
tls_ctx_new(const char *hostname, struct why *why)
{
	EVP_PKEY *pk = NULL;
	X509 *x = NULL;
	X509_NAME *name;
	SSL_CTX *ctx = NULL;

	if ((pk = EVP_EC_gen("P-256")) == NULL || (x = X509_new()) == NULL)
		goto fail;
	name = X509_get_subject_name(x);
	if (X509_set_version(x, 2) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL)) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * CERT_DAYS) ==
	        NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	        (const unsigned char *)hostname, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, pk) != 1 ||
	    X509_sign(x, pk, EVP_sha256()) == 0)
		goto fail;
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, pk) != 1)
		goto fail;
	X509_free(x);
	EVP_PKEY_free(pk);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	X509_free(x);
	EVP_PKEY_free(pk);
	why_set(why, WHY_TEMP, 0, "capture: cannot make a certificate: %s",
	    ERR_reason_error_string(ERR_get_error()));
	return NULL;
}

/* ---- the loop ------------------------------------------------------ */

/* Held waits are answered first; the loop runs a moment more so the
 * answers leave before the connections close. */
static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct cap_ctx *c = arg;
	struct timeval flush = { 0, STOP_FLUSH_US };

	(void)what;
	log_info("event=capture_stop signal=%d", (int)sig);
	cap_api_release(c->api);
	(void)event_base_loopexit(c->base, &flush);
}

static int
start(struct cap_ctx *c, const struct opts *o, char *smtp_at, char *http_at,
    size_t atsz, struct why *why)
{
	int sfd, hfd;

	if ((sfd = bind_one("smtp", o->smtp, o->allow_remote, smtp_at, atsz,
	         why)) == -1)
		return -1;
	if ((hfd = bind_one("http", o->http, o->allow_remote, http_at, atsz,
	         why)) == -1) {
		(void)close(sfd);
		return -1;
	}
	if ((c->smtpd = cap_smtpd_new(c, sfd, why)) == NULL) {
		(void)close(hfd);
		return -1;
	}
	if ((c->api = cap_api_new(c, hfd, why)) == NULL)
		return -1;
	return 0;
}

static int
run(const struct opts *o)
{
	struct cap_ctx c;
	struct event *sigterm = NULL, *sigint = NULL;
	char smtp_at[INET6_ADDRSTRLEN + 16], http_at[INET6_ADDRSTRLEN + 16];
	struct why why;
	struct stat st;
	int rc = 1;

	memset(&c, 0, sizeof(c));
	c.faults = o->f;
	c.hostname = o->hostname;
	c.max_size = o->max_size;
	c.allow_remote = o->allow_remote;
	cap_rng_seed(&c.rng,
	    o->have_seed ? o->seed
	                 : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
	if (o->dir != NULL &&
	    (stat(o->dir, &st) == -1 || !S_ISDIR(st.st_mode))) {
		fprintf(stderr, "tern: capture: --dir %s: not a directory\n",
		    o->dir);
		return 1;
	}
	(void)signal(SIGPIPE, SIG_IGN);
	if ((c.base = event_base_new()) == NULL) {
		fprintf(stderr, "tern: capture: no event base\n");
		return 1;
	}
	c.store = cap_store_new((size_t)o->max_messages, o->max_memory, o->dir);
	if ((c.ssl = tls_ctx_new(o->hostname, &why)) == NULL ||
	    cap_dkim_init(&c, o->dns_server, &why) == -1 ||
	    start(&c, o, smtp_at, http_at, sizeof(smtp_at), &why) == -1) {
		fprintf(stderr, "tern: capture: %s\n", why.text);
		goto out;
	}
	sigterm = evsignal_new(c.base, SIGTERM, on_signal, &c);
	sigint = evsignal_new(c.base, SIGINT, on_signal, &c);
	if (sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) ||
	    evsignal_add(sigint, NULL)) {
		fprintf(stderr, "tern: capture: cannot catch signals\n");
		goto out;
	}
	log_info("event=capture_ready smtp=%s http=%s max_messages=%" PRIu64
	         " dir=%s",
	    smtp_at, http_at, o->max_messages, LOG_ESC(o->dir));
	printf("capture: smtp=%s http=%s\n", smtp_at, http_at);
	(void)fflush(stdout);
	(void)event_base_dispatch(c.base);
	rc = 0;
out:
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	cap_api_free(c.api);
	cap_smtpd_free(c.smtpd);
	cap_dkim_free(&c);
	cap_store_free(c.store);
	SSL_CTX_free(c.ssl);
	event_base_free(c.base);
	return rc;
}

int
cli_capture(int argc, char **argv)
{
	struct opts o;
	int rc;

	if ((rc = parse_opts(&o, argc, argv)) != 0)
		return rc;
	return run(&o);
}
