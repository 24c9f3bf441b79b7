/* SPDX-License-Identifier: ISC */
/*
 * server/msgauth.h - mail authentication in the SMTP session (issue 16):
 * SPF at MAIL FROM, DKIM verification and DMARC on the message, one
 * Authentication-Results header on top; DKIM signing of mail from our
 * own users. The checks themselves are src/auth/'s; this is where the
 * session meets them.
 *
 * Threads: the session's loop feeds header fields and body bytes (CPU
 * only: canonicalization and hashing); everything that asks DNS or
 * signs runs on the pool's workers, each with its own resolver, and
 * comes back to the loop with loop_post(). The signing keys are read
 * at start and on reload (msgauth_pool_keys()), never on a loop.
 * Trust: everything fed is the client's; the results are bounded text
 * that goes into a header through authres_write() and into the log
 * through LOG_ESC.
 */
#ifndef TERN_SERVER_MSGAUTH_H
#define TERN_SERVER_MSGAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf/conf.h"
#include "server/loop.h"
#include "util/buf.h"

struct msgauth_pool;
struct msgauth;

/* Workers (started on first use) asking dns_server (NULL: resolv.conf). */
struct msgauth_pool *msgauth_pool_new(const char *dns_server);
void msgauth_pool_free(struct msgauth_pool *);
/*
 * (Re)load the signing keys below conf->data_dir/dkim, as conf's [dkim]
 * chooses them. Blocking file reads: start-up and reload only. Problems
 * go to the log; the keys that loaded are used.
 */
void msgauth_pool_keys(struct msgauth_pool *, const struct conf *);

/*
 * One transaction's authentication. `verify`: mail from outside on an
 * mx listener (SPF, DKIM, DMARC, Authentication-Results); `sign`: mail
 * from our own users, signed when its From domain has keys. NULL when
 * neither applies.
 */
struct msgauth *msgauth_new(struct msgauth_pool *, const struct conf *,
    bool verify, bool sign);
void msgauth_free(struct msgauth *);

/*
 * ARC (RFC 8617): mail from outside that we forward to another domain
 * (an alias to an outside address) is sealed by `domain`, ours, with
 * its RSA key. Before the message's header.
 */
void msgauth_seal_for(struct msgauth *, const char *domain);
/* Does this transaction check SPF (mail from outside)? */
bool msgauth_wants_spf(const struct msgauth *);
/* SPF for this transaction (RFC 7208 2.3, 2.4), then done on loop. */
void msgauth_spf_submit(struct msgauth *, const struct sockaddr_storage *ip,
    const char *helo, const char *mailfrom, struct loop *loop,
    loop_fn *done, void *arg);
/*
 * After SPF: a refusal of MAIL FROM that the configuration asks for
 * ([authentication] spf_fail, spf_temperror) into reply ("550 5.7.23
 * ..."), or false to go on.
 */
bool msgauth_spf_refusal(const struct msgauth *, char *reply, size_t n);

/*
 * A complete header field as received (with folding, ending CRLF).
 * false: leave it out of the message (an Authentication-Results field
 * that claims our authserv-id, RFC 8601 5).
 */
bool msgauth_field(struct msgauth *, const char *field, size_t n);
/* The header is over: signing keys are chosen by the From domain. */
void msgauth_eoh(struct msgauth *);
/* Body bytes (after the empty line), in order. */
void msgauth_body(struct msgauth *, const uint8_t *p, size_t n);

/*
 * Is there anything left for the end of the message (checks, a
 * signature, a seal, a refusal)? false: commit it as it is, with no
 * trip to a worker (mail from our users whose From has no key).
 */
bool msgauth_has_work(const struct msgauth *);
/* Verify, DMARC, sign on a worker; then done on loop. */
void msgauth_finish_submit(struct msgauth *, struct loop *loop,
    loop_fn *done, void *arg);
/* After finish: the header fields to put on top (may be empty). */
const struct buf *msgauth_prefix(const struct msgauth *);
/* After finish: deliver into Junk (DMARC quarantine). */
bool msgauth_junk(const struct msgauth *);
/*
 * After finish: a refusal of the message ("550 5.7.1 ...", "451
 * ...") into reply, or false to accept it.
 */
bool msgauth_refusal(const struct msgauth *, char *reply, size_t n);
/* After finish: "spf=pass dkim=pass dmarc=pass" for the log line. */
const char *msgauth_summary(const struct msgauth *);

/*
 * Sign a whole message (`tern sendmail`'s, pickup.h pickup_sign_fn):
 * the DKIM-Signature fields into out, nothing when its From domain has
 * no key; -1 when [authentication] dkim_key_error = defer says to wait.
 * Blocking (CPU): the pickup thread, never a loop. arg: the pool.
 */
int msgauth_sign_message(void *pool, const struct conf *, const uint8_t *msg,
    size_t n, struct buf *out);

#endif
