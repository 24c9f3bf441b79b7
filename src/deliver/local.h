/* SPDX-License-Identifier: ISC */
/*
 * deliver/local.h - the deliverer for mail to our own domains.
 *
 * Recipient local@domain, already resolved to a final mailbox by the
 * server at RCPT time, goes to the Maildir <data_dir>/mail/<domain>/
 * <local>/ (DESIGN.md; Dovecot: mail_location = maildir:.../mail/%d/%n),
 * with "Return-Path:" and "Delivered-To:" prepended (RFC 5321 4.4).
 * A recipient given as a subaddress of its mailbox (orcpt alice+news@
 * for alice@, dir/subaddr.h) goes into the Maildir++ folder ".news" when
 * that directory exists, else the inbox; Delivered-To is then the
 * address as given.
 * Each delivery is keyed by queue id and recipient index (maildir.h):
 * one found in the Maildir already (a crash cut the spool's record of
 * it) is reported delivered without a second copy, and logged as
 * event=already_delivered.
 * Mail for other domains is deferred: remote delivery comes later.
 * Trust: the address comes from the spool but was chosen by a peer, so
 * both path components are checked ('/', "..", leading '.', control
 * characters are refused with WHY_PERM) before they touch the file system.
 */
#ifndef TERN_DELIVER_LOCAL_H
#define TERN_DELIVER_LOCAL_H

#include <stdbool.h>
#include <stddef.h>

struct conf;
struct sched_deliverer;

/*
 * Maildir delivery below the data_dir of the configuration each call is
 * given. Never NULL. Free with local_deliverer_free().
 */
struct sched_deliverer *local_deliverer_new(void);
void local_deliverer_free(struct sched_deliverer *);

/*
 * Where deliver() puts addr's mail, for the relay= of its log line
 * (sched.h): "maildir:mail/<domain>/<local>", the Maildir below
 * data_dir; "" when addr has none (deliver() refuses it). Into dst
 * (SCHED_RELAY_MAX; a longer path is cut).
 */
void local_relay(const struct conf *, const char *addr, char *dst,
    size_t dstsz);

/* Is p[0..n) safe as one directory name below <data_dir>/mail? */
bool local_is_safe_component(const char *p, size_t n);

#endif
