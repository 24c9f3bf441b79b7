/* SPDX-License-Identifier: ISC */
/*
 * deliver/tlsrpt_store.h - TLS-RPT counting (RFC 8460 4): the outcome
 * of each delivery attempt's TLS, per policy domain and UTC day, kept
 * durably under data_dir until the day's report has been sent.
 *
 * The delivery side (DANE, MTA-STS, plain PKIX) calls
 * tlsrpt_store_note() once per session's TLS outcome, from any delivery
 * thread: it takes a mutex, updates memory and returns; it never does
 * I/O. The counts reach the disk in tlsrpt_store_flush() (the server
 * calls it from a timer, before a report and at shutdown), written to a
 * temporary file, fsync'd and renamed (fd-relative, O_NOFOLLOW), so a
 * crash loses at most the counts since the last flush, never the file.
 *
 * What is not here: the _smtp._tls lookup, the report JSON (tlsrpt.h),
 * gzip and sending (deliver/tlsrpt_send.h). A domain that does not
 * publish a valid _smtp._tls record is counted but never reported: the
 * sender drops its counts (RFC 8460 3: no record, no report), which is
 * how "no-policy-found" is only reported for domains that ask for it.
 *
 * Trust: policy domains, MX names, policy strings and failure fields
 * come from DNS, HTTPS and remote servers: hostile. They are copied with
 * caps (longer strings truncated, at most TLSRPT_STORE_STRINGS_MAX
 * strings and TLSRPT_STORE_FAIL_MAX failure kinds per policy, at most
 * TLSRPT_STORE_POLICIES_MAX policies per day: beyond, notes are dropped
 * and counted in a log line) and only ever written out through the JSON
 * writer (util/json.h).
 */
#ifndef TERN_DELIVER_TLSRPT_STORE_H
#define TERN_DELIVER_TLSRPT_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "deliver/tlsrpt.h"
#include "util/why.h"

#define TLSRPT_STORE_POLICIES_MAX 4096 /* policy entries per day */
#define TLSRPT_STORE_STRINGS_MAX 32    /* policy strings / mx patterns */
#define TLSRPT_STORE_STRING_MAX 512    /* bytes of one, NUL included */
#define TLSRPT_STORE_FAIL_MAX 32       /* failure kinds per policy */
#define TLSRPT_STORE_DAYS_MAX 8        /* unsent days kept */

struct tlsrpt_store;

/*
 * Open (create if missing) the store in DATA_DIR/tlsrpt/ and load the
 * counts it holds. NULL with why when the directory cannot be made or
 * read. The caller frees it with tlsrpt_store_free().
 */
struct tlsrpt_store *tlsrpt_store_open(const char *data_dir, struct why *);
/* Flush (best effort, logged) and free. NULL is fine. */
void tlsrpt_store_free(struct tlsrpt_store *);

/*
 * The process's store, for delivery code that has no handle of its own:
 * the server sets it once at start (before delivery threads run) and
 * clears it at shutdown (after they stop). NULL when TLS-RPT is off;
 * tlsrpt_store_note() on NULL does nothing.
 */
struct tlsrpt_store *tlsrpt_store_default(void);
void tlsrpt_store_set_default(struct tlsrpt_store *);

/*
 * Count one session's TLS outcome for policy_domain (the recipient
 * domain whose policy applied), today (UTC). type is the policy that
 * applied (TLSRPT_NO_POLICY when neither DANE nor MTA-STS did);
 * policy_strings are its text (TLSA records, or the MTA-STS policy's
 * lines), mx_patterns the MTA-STS "mx" values (nmx 0 otherwise): both
 * are copied on the first note of the (domain, type) of the day and
 * ignored after. failure NULL counts a success; else one failed session
 * of that kind (result, sending_ip, mx_host, mx_ip, reason; its
 * `sessions` field is ignored). Thread-safe; never blocks on I/O. NULL
 * store or domain: nothing.
 */
void tlsrpt_store_note(struct tlsrpt_store *, const char *policy_domain,
    enum tlsrpt_policy_type, const char *const *policy_strings,
    size_t nstrings, const char *const *mx_patterns, size_t nmx,
    const struct tlsrpt_failure *failure);

/* Write the counts to disk if they changed. 0, or -1 with why (TEMP). */
int tlsrpt_store_flush(struct tlsrpt_store *, struct why *);

#endif
