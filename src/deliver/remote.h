/* SPDX-License-Identifier: ISC */
/*
 * deliver/remote.h - the deliverer the scheduler uses: it routes each
 * recipient and delivers the recipients of one message that share a
 * destination in one SMTP or LMTP transaction.
 *
 * Routing, first match wins: a [routes] entry for the recipient's domain
 * (static host, smarthost with AUTH/TLS, or LMTP); then our own domains
 * go to the local deliverer (Maildir); then "*" from [routes]; then the
 * domain's MX hosts (dns/dns.h), most preferred first, every address
 * of each host (IPv6 and IPv4) until one takes the message.
 * Sessions are reused: after a message, a healthy session waits idle (a
 * few seconds) for the next message to the same destination, on any
 * delivery thread. At most [queue] destination_concurrency sessions run
 * to one destination; the delivery threads are the global limit.
 * Trust: recipients come from the spool (validated at RCPT); everything
 * the remote says is hostile and handled by client/.
 */
#ifndef TERN_DELIVER_REMOTE_H
#define TERN_DELIVER_REMOTE_H

struct conf;
struct sched_deliverer;

/*
 * A routing deliverer that takes ownership of `local` (freed with it);
 * each pass routes by the configuration the scheduler gives it. Never
 * NULL.
 */
struct sched_deliverer *remote_deliverer_new(struct sched_deliverer *local);
/* Close idle sessions (QUIT), free `local` too. NULL is fine. */
void remote_deliverer_free(struct sched_deliverer *);

#endif
