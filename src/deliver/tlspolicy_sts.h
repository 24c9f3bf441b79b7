/* SPDX-License-Identifier: ISC */
/*
 * deliver/tlspolicy_sts.h - the MTA-STS branch of deliver/tlspolicy.h:
 * which policy a domain has (deliver/mtasts_fetch.h: record, cache,
 * fetch), and its TLS-RPT notes (RFC 8460, deliver/tlsrpt_store.h).
 *
 * What the policy then means for each MX host (skip an unlisted one,
 * PKIX for a listed one, report only in testing mode) is
 * tlspolicy_decide()'s; DANE wins where both exist (RFC 8461 2).
 * Trust: the policy came over HTTPS from anyone's server: parsed by
 * mtasts.c, and only ever compared, counted or escaped.
 * Thread: any delivery thread; the cache is shared through files.
 */
#ifndef TERN_DELIVER_TLSPOLICY_STS_H
#define TERN_DELIVER_TLSPOLICY_STS_H

#include <stdbool.h>

#include "deliver/tlspolicy.h"
#include "deliver/tlsrpt.h"

struct client_conn;
struct conf;
struct dns;

/*
 * Fill d->sts, d->sts_policy and d->sts_id for d->domain when
 * [outbound_tls] mta_sts is on: the policy in force (mode none and no
 * policy both leave TLSPOLICY_STS_NONE). A fetch that fails with no
 * valid cached policy is noted for TLS-RPT (sts-policy-fetch-error).
 */
void tlspolicy_sts_fill(struct tlspolicy_domain *d, const struct conf *,
    struct dns *);

/*
 * The TLS-RPT note of one session to `mx_host` (IP mx_ip, may be "")
 * under d's MTA-STS policy: failure NULL for a success (the certificate
 * was PKIX-valid for the host), else its kind. Does nothing when d has
 * no policy or TLS-RPT is off. Never blocks.
 */
void tlspolicy_sts_note(const struct tlspolicy_domain *d, const char *mx_host,
    const char *mx_ip, enum tlsrpt_result result, bool failed,
    const char *reason);

/*
 * After client_open() to MX host `host` (address addr) whose hop was
 * decided `kind`; c is the session, or NULL when it failed (fail_text
 * then says why). Only the MTA-STS kinds do anything:
 *  - TLSPOLICY_STS_TESTING: c was opened with opts.pkix_report; what
 *    enforce would have refused (no STARTTLS, a certificate that is not
 *    PKIX-valid for the host) is logged (event=mta_sts_report) and noted
 *    for TLS-RPT; the session goes on (RFC 8461 5);
 *  - TLSPOLICY_STS_ENFORCE: a session is a success; a failure whose
 *    text is a TLS one (tlspolicy_sts_failure_of()) is noted.
 */
void tlspolicy_sts_session(const struct tlspolicy_domain *d,
    enum tlspolicy_kind kind, const char *host, const char *addr,
    const struct client_conn *c, const char *fail_text);

/*
 * Is the client's failure text (client/client.c) a TLS failure, and of
 * which kind? Certificate verification errors as tlspolicy_sts_result_of()
 * says, a missing STARTTLS as starttls-not-supported; false for the
 * rest (refused connections, time-outs: not TLS outcomes). Pure.
 */
bool tlspolicy_sts_failure_of(const char *fail_text, enum tlsrpt_result *out);

/*
 * The TLS-RPT failure kind (RFC 8460 4.3) of an X509 verification error
 * (X509_V_ERR_*): certificate-host-mismatch, certificate-expired,
 * certificate-not-trusted, or validation-failure for the rest. Pure.
 */
enum tlsrpt_result tlspolicy_sts_result_of(long x509_err);

#endif
