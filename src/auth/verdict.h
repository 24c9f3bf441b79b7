/* SPDX-License-Identifier: ISC */
/*
 * auth/verdict.h - one message's authentication results (SPF, DKIM,
 * DMARC; ARC to come) turned into what tern does with them: the
 * Authentication-Results field it adds and the action the
 * [authentication] settings ask for. The server (server/msgauth.c) and
 * `tern check message` (cli/check_msg.c) both call these, so that the
 * check prints exactly what the server would write and do.
 *
 * It runs no check itself: the caller has the verdicts of spf.h, dkim.h
 * and dmarc.h.
 * Pure: no DNS, no logging, no allocation beyond the out buffer. Any
 * thread.
 * Trust: the verdicts carry hostile text (domains from DNS and from the
 * message, reasons, SPF explanations); authres_write() quotes it, and
 * the replies here hold it only made printable ASCII.
 */
#ifndef TERN_AUTH_VERDICT_H
#define TERN_AUTH_VERDICT_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/arc.h"
#include "auth/authres.h"
#include "auth/dkim.h"
#include "auth/dmarc.h"
#include "auth/spf.h"
#include "conf/conf.h"
#include "util/buf.h"

#define VERDICT_DKIM_MAX 50 /* [authentication] dkim_max_signatures's max */
/* spf mailfrom + spf helo + dkim... + dmarc + arc */
#define VERDICT_RESULTS_MAX (2 + VERDICT_DKIM_MAX + 1 + 1)
#define VERDICT_REPLY_MAX 768

/* What one message's checks found. Pointers are borrowed. */
struct verdict {
	/* SPF (RFC 7208): NULL when it was not checked. spf_helo may be
	 * NULL alone; it is written only when it checked a domain and the
	 * sender is not null (with the null sender spf_mail is the HELO). */
	const struct spf_verdict *spf_mail;
	const struct spf_verdict *spf_helo;
	const char *helo;     /* as given to SPF; "" none */
	const char *mailfrom; /* as given to SPF; "" the null sender */
	/* DKIM (RFC 6376): dkim[0..ndkim); 0 is dkim=none. At most
	 * VERDICT_DKIM_MAX are written. */
	const struct dkim_result *dkim;
	size_t ndkim;
	/* DMARC (RFC 7489): never NULL. */
	const struct dmarc_verdict *dmarc;
	/* ARC (RFC 8617): the chain's verification, written as the arc=
	 * resinfo after dmarc=; NULL when it was not checked. */
	const struct arc_result *arc;
};

/*
 * The resinfos of v, in the order tern writes them (spf mailfrom, spf
 * helo, each dkim, dkim=none without signatures, dmarc, [arc]), into
 * out[0..max); returns the count (at most max). out points into *v and
 * static strings: keep v alive while out is used.
 */
size_t verdict_authres(const struct verdict *v, struct authres_result *out,
    size_t max);

/*
 * The whole Authentication-Results field for v with authserv_id (the
 * config's hostname), appended to out, as authres_write(): 0, or -1
 * with out unchanged and errno set.
 */
int verdict_authres_write(struct buf *out, const char *authserv_id,
    const struct verdict *v);

enum verdict_action {
	VERDICT_ACCEPT = 0, /* deliver as usual */
	VERDICT_JUNK,       /* deliver into the recipient's .Junk */
	VERDICT_REFUSE,     /* refuse with the reply given ("550 ...") */
};

/*
 * What [authentication] dmarc_policy and dmarc_temperror make of the
 * DMARC verdict (at the end of DATA): p=reject followed is a "550
 * 5.7.1" refusal, a temperror deferred a "451 4.7.5" one (reply, NUL-
 * terminated, cut to n; untouched unless VERDICT_REFUSE), quarantine
 * (or reject turned into it) Junk.
 */
enum verdict_action verdict_dmarc_action(const struct dmarc_verdict *,
    const struct conf_auth *, char *reply, size_t n);

/*
 * What [authentication] spf_fail and spf_temperror make of the MAIL
 * FROM verdict (at MAIL FROM): true with a "550 5.7.23" or "451 4.7.24"
 * reply, false to go on.
 */
/*
 * RFC 8617 7.2, local policy: a DMARC failure is not acted on when the
 * message carries a passing ARC chain whose newest seal is by one of
 * [authentication] arc_trusted_sealers (a mailing list or forwarder
 * that vouches for the results it saw).
 */
bool verdict_arc_override(const struct dmarc_verdict *,
    const struct arc_result *, const struct conf_auth *);

bool verdict_spf_refusal(const struct spf_verdict *mail,
    const struct conf_auth *, char *reply, size_t n);

#endif
