/* SPDX-License-Identifier: ISC */
/*
 * cli/doctor_relay.c - the open-relay check of `tern doctor`:
 * relay_networks holding every address, and a self-test against the
 * running server's mx listeners.
 *
 * The self-test connects to each mx listener over loopback and stops
 * after RCPT (RSET, QUIT): nothing is ever queued. What it proves
 * depends on who we are to the server: a refusal from loopback proves
 * a stranger is refused too, because a stranger is trusted by no
 * setting and tern grants relaying only by relay_networks or AUTH; an
 * acceptance from an address relay_networks holds proves nothing about
 * strangers, and is reported as such.
 * Trust: the server's replies are hostile: read by smtp/reply.c within
 * its limits and a deadline per reply, quoted as printable ASCII.
 */
#include "cli/doctor.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "smtp/reply.h"
#include "util/str.h"

#define PROBE_SENDER "doctor@doctor-test.invalid"
#define PROBE_RCPT "relay-test@doctor-test.invalid"

struct probe {
	int fd;
	struct smtp_reply_parser *rp;
	uint8_t buf[4096];
	size_t off, len;
	unsigned secs; /* for each reply: a trickle cannot hold us */
	unsigned code; /* of the last reply; 0: none (closed, timeout) */
	char text[160];
};

/* The next reply into p->code and p->text; false on EOF or timeout. */
static bool
probe_reply(struct probe *p)
{
	const struct smtp_reply *r;
	enum smtp_reply_status st;
	size_t used;
	ssize_t n;
	time_t end;

	p->code = 0;
	/* Bounded by the parser's limits and by the deadline. */
	for (end = time(NULL) + p->secs; time(NULL) <= end;) {
		if (p->off == p->len) {
			n = recv(p->fd, p->buf, sizeof(p->buf), 0);
			if (n <= 0)
				return false;
			p->off = 0;
			p->len = (size_t)n;
		}
		st = smtp_reply_parse(p->rp, p->buf + p->off, p->len - p->off,
		    &used, &r);
		p->off += used;
		if (st == SMTP_REPLY_DONE) {
			p->code = r->code;
			(void)str_printable(p->text, sizeof(p->text), r->text);
			return true;
		}
		if (st != SMTP_REPLY_NEED_MORE)
			return false;
	}
	return false;
}

static bool
probe_cmd(struct probe *p, const char *line)
{
	size_t n = strlen(line);

	if (send(p->fd, line, n, MSG_NOSIGNAL) != (ssize_t)n)
		return false;
	return probe_reply(p);
}

/* Where to reach a listener from here: a wildcard means loopback. */
static void
probe_target(const struct conf_listener *l, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in *s4 = (void *)ss;
	struct sockaddr_in6 *s6 = (void *)ss;

	memcpy(ss, &l->sa, sizeof(*ss));
	*len = l->salen;
	if (ss->ss_family == AF_INET && s4->sin_addr.s_addr == INADDR_ANY)
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (ss->ss_family == AF_INET6 &&
	         IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr))
		s6->sin6_addr = in6addr_loopback;
}

static int
probe_connect(const struct conf_listener *l, unsigned secs,
    struct sockaddr_storage *src)
{
	struct timeval tv = { .tv_sec = secs };
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	probe_target(l, &ss, &len);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	/* Linux bounds connect() by SO_SNDTIMEO too. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(fd, (struct sockaddr *)&ss, len) == -1) {
		(void)close(fd);
		return -1;
	}
	len = sizeof(*src);
	if (getsockname(fd, (struct sockaddr *)src, &len) == -1)
		memset(src, 0, sizeof(*src));
	return fd;
}

/* What the RCPT answer proves, as a finding. */
static void
judge(struct doctor *d, const char *subject, const struct probe *p,
    const struct sockaddr *src)
{
	char a[INET6_ADDRSTRLEN];
	bool trusted = cidr_match_any(d->conf->relay_networks,
	    d->conf->nrelay_networks, src);

	doctor_addr_str(src, a, sizeof(a));
	if (p->code >= 200 && p->code < 300 && trusted)
		doctor_add(d, DOCTOR_WARN, "relay", subject,
		    "test from a host outside relay_networks: swaks --server "
		    "THIS_HOST --from " PROBE_SENDER " --to " PROBE_RCPT
		    " --quit-after RCPT",
		    "accepted RCPT TO:<" PROBE_RCPT "> from %s, which "
		    "relay_networks trusts: this test cannot tell what a "
		    "stranger gets",
		    a);
	else if (p->code >= 200 && p->code < 300)
		doctor_add(d, DOCTOR_FAIL, "relay", subject,
		    "find what lets it through with tern check-config "
		    "([relay_domains], relay_networks), fix it, restart tern",
		    "OPEN RELAY: accepted RCPT TO:<" PROBE_RCPT "> from %s, "
		    "which no setting trusts: anyone can send spam through it",
		    a);
	else if (p->code >= 500)
		doctor_add(d, DOCTOR_OK, "relay", subject, NULL,
		    "refused to relay for %s (%u %s); a stranger, trusted by "
		    "no setting, is refused too",
		    a, p->code, p->text);
	else
		doctor_add(d, DOCTOR_WARN, "relay", subject,
		    "run tern doctor again later",
		    "could not tell: RCPT got %u %s", p->code, p->text);
}

static void
probe_listener(struct doctor *d, const struct conf_listener *l, unsigned secs)
{
	static const struct smtp_reply_limits lim = { SMTP_REPLY_LINE_MAX,
		SMTP_REPLY_LINES_MAX, SMTP_REPLY_TEXT_MAX };
	struct probe p = { .fd = -1 };
	struct sockaddr_storage src;
	char subject[128];

	(void)snprintf(subject, sizeof(subject), "[listener %s] %s", l->name,
	    l->address);
	if (l->tls == CONF_TLS_IMPLICIT) {
		doctor_add(d, DOCTOR_NOTE, "relay", subject, NULL,
		    "implicit TLS: not tested");
		return;
	}
	/* The greeting may wait greet_delay on purpose. */
	p.secs = secs + d->conf->limits.greet_delay;
	p.fd = probe_connect(l, p.secs, &src);
	if (p.fd == -1) {
		doctor_add(d, DOCTOR_NOTE, "relay", subject, NULL,
		    "no server answers there (%s): the self-test was skipped, "
		    "only relay_networks was checked",
		    strerror(errno));
		return;
	}
	if ((p.rp = smtp_reply_new(&lim)) == NULL)
		goto out;
	if (!probe_reply(&p) || p.code != 220 ||
	    !probe_cmd(&p, "EHLO doctor-test.invalid\r\n") || p.code != 250 ||
	    !probe_cmd(&p, "MAIL FROM:<" PROBE_SENDER ">\r\n") ||
	    p.code != 250 || !probe_cmd(&p, "RCPT TO:<" PROBE_RCPT ">\r\n")) {
		doctor_add(d, DOCTOR_WARN, "relay", subject,
		    "test from another host: swaks --server THIS_HOST "
		    "--from " PROBE_SENDER " --to " PROBE_RCPT
		    " --quit-after RCPT",
		    "could not run the test: %s%u %s",
		    p.code != 0 ? "the server said " : "no answer ", p.code,
		    p.text);
		goto out;
	}
	judge(d, subject, &p, (const struct sockaddr *)&src);
	/* Nothing was queued: no DATA. Leave politely, answers unread. */
	(void)probe_cmd(&p, "RSET\r\n");
	(void)probe_cmd(&p, "QUIT\r\n");
out:
	smtp_reply_free(p.rp);
	(void)close(p.fd);
}

void
doctor_relay(struct doctor *d, unsigned timeout_secs)
{
	const struct conf *conf = d->conf;
	char net[CIDR_STR_MAX], fix[128];
	size_t i;

	for (i = 0; i < conf->nrelay_networks; i++) {
		if (conf->relay_networks[i].prefix != 0)
			continue;
		cidr_format(&conf->relay_networks[i], net, sizeof(net));
		(void)snprintf(fix, sizeof(fix),
		    "remove %s from relay_networks, then tern reload", net);
		doctor_add(d, DOCTOR_FAIL, "relay", "relay_networks", fix,
		    "%s lets every client relay through submission without "
		    "a password: an open relay",
		    net);
	}
	for (i = 0; i < conf->nlisteners; i++)
		if (conf->listeners[i].mode == CONF_MODE_MX)
			probe_listener(d, &conf->listeners[i], timeout_secs);
}
