/* SPDX-License-Identifier: ISC */
/* capture/dkimchk.c - DKIM verification of captured mail (dkimchk.h). */
#include "capture/dkimchk.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth/authdns.h"
#include "auth/dkim.h"
#include "capture/capture-private.h"
#include "capture/view.h"
#include "dns/dns.h"
#include "msg/field.h"
#include "util/buf.h"
#include "util/log.h"

#define SIGS_MAX DKIM_SIGS_DEFAULT

int
cap_dkim_init(struct cap_ctx *c, const char *dns_server, struct why *why)
{
	struct why w;

	c->dns = dns_new(dns_server, CAP_DKIM_TIMEOUT, &w);
	if (c->dns != NULL)
		return 0;
	if (dns_server != NULL)
		return why_set(why, WHY_PERM, 0, "--dns-server %s: %s",
		    dns_server, w.text);
	log_warn("event=capture_no_dns error=%s msg=\"DKIM signatures are "
	         "not checked: give --dns-server\"",
	    LOG_ESC(w.text));
	return 0;
}

void
cap_dkim_free(struct cap_ctx *c)
{
	dns_free(c->dns);
	c->dns = NULL;
}

static bool
has_signature(const char *msg, size_t len)
{
	struct buf v;
	bool yes;

	buf_init(&v, 64);
	yes = cap_view_field(msg, len, "DKIM-Signature", &v);
	buf_reset(&v);
	return yes;
}

/* Feed the header fields as received, then the body. */
static void
feed(struct dkim_verifier *ver, const char *msg, size_t len)
{
	const char *p = msg, *end = msg + len;
	size_t flen;

	while (p < end && *p != '\r' && *p != '\n') {
		flen = msg_field_len(p, (size_t)(end - p));
		if (flen == 0)
			break;
		dkim_verifier_header(ver, p, flen);
		p += flen;
	}
	dkim_verifier_eoh(ver);
	if (p < end && *p == '\r')
		p++;
	if (p < end && *p == '\n')
		p++;
	dkim_verifier_body(ver, (const uint8_t *)p, (size_t)(end - p));
}

size_t
cap_dkim_check(struct cap_ctx *c, const char *msg, size_t len,
    struct cap_problem *out, size_t max)
{
	struct dkim_result res[SIGS_MAX];
	struct dkim_verifier *ver;
	struct authdns ad;
	size_t n = SIGS_MAX, i, k = 0;

	if (c->dns == NULL || max == 0 || !has_signature(msg, len) ||
	    (ver = dkim_verifier_new(SIGS_MAX)) == NULL)
		return 0;
	ad.lookup = authdns_resolver;
	ad.arg = c->dns;
	feed(ver, msg, len);
	dkim_verifier_finish(ver, &ad, time(NULL), res, &n);
	dkim_verifier_free(ver);
	for (i = 0; i < n && i < SIGS_MAX && k < max; i++) {
		if (res[i].result == DKIM_PASS)
			continue;
		(void)snprintf(out[k].rule, sizeof(out[k].rule), "dkim-fail");
		(void)snprintf(out[k].ref, sizeof(out[k].ref), "RFC 6376");
		(void)snprintf(out[k].detail, sizeof(out[k].detail),
		    "d=%s s=%s: %s%s%s", res[i].domain, res[i].selector,
		    dkim_res_name(res[i].result),
		    res[i].reason[0] != '\0' ? ", " : "", res[i].reason);
		k++;
	}
	return k;
}
