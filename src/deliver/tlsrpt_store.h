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

#include <stdbool.h>
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
    enum tlsrpt_policy_type, const char *const *policy_strings, size_t nstrings,
    const char *const *mx_patterns, size_t nmx,
    const struct tlsrpt_failure *failure);

/*
 * Write the counts that changed to disk: DATA_DIR/tlsrpt/DAY.json per
 * UTC day (a day whose every domain was forgotten loses its file). 0,
 * or -1 with why (TEMP; what could not be written stays to be written).
 */
int tlsrpt_store_flush(struct tlsrpt_store *, struct why *);

/*
 * The file format (also the documented way for tests to plant a day of
 * traffic before the server starts): one JSON object,
 *   {"version":1,"day":"YYYY-MM-DD","policies":[{"domain":"d",
 *    "type":"sts"|"tlsa"|"no-policy-found","strings":["..."],
 *    "mx":["..."],"ok":N,"failed":N,"failures":[{"result":"<4.3 name>",
 *    "sending-ip":"","mx-host":"","mx-ip":"","reason":"",
 *    "sessions":N}]}]}
 * read back with the caps above; a member of the wrong type or an
 * unknown result skips its entry (logged), a file that is not such an
 * object is renamed DAY.json.bad (logged) and left alone.
 */
#define TLSRPT_DAY_LEN 10                         /* "YYYY-MM-DD" */
#define TLSRPT_STORE_FILE_MAX (16u * 1024 * 1024) /* bytes of one file */

/* The UTC day of t, "YYYY-MM-DD", into day[TLSRPT_DAY_LEN + 1]. */
void tlsrpt_day_of(time_t t, char *day);
/*
 * Is s a "YYYY-MM-DD" naming a real day (1970..9999)? *start_out (may
 * be NULL) gets its 00:00:00 UTC. Pure.
 */
bool tlsrpt_day_parse(const char *s, time_t *start_out);

/* Days that hold counts, oldest first: at most max into days; their
 * count. */
size_t tlsrpt_store_days(struct tlsrpt_store *,
    char (*days)[TLSRPT_DAY_LEN + 1], size_t max);

/* A copy of one day's counts (tlsrpt.h's form), for a report. */
struct tlsrpt_snapshot {
	char day[TLSRPT_DAY_LEN + 1];
	struct tlsrpt_policy *pol; /* sorted by domain; pointers into the
	                              snapshot's own copies */
	size_t npol;
};

/* The counts of `day` into *out (free it with tlsrpt_snapshot_free()).
 * 0, or -1 when the day holds none. */
int tlsrpt_store_snapshot(struct tlsrpt_store *, const char *day,
    struct tlsrpt_snapshot *out);
void tlsrpt_snapshot_free(struct tlsrpt_snapshot *); /* zeroes it */

/*
 * Forget domain's counts of day (its report went out, or it asks for
 * none): the file follows at the next flush. Unknown day or domain:
 * nothing.
 */
void tlsrpt_store_forget(struct tlsrpt_store *, const char *day,
    const char *domain);

#endif
