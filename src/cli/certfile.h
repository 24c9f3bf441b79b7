/* SPDX-License-Identifier: ISC */
/*
 * cli/certfile.h - read a [tls] certificate file and check it, for the
 * commands that look at one (`tern check-config`, `tern doctor`): the
 * mechanics only; each command words its own findings.
 *
 * It reads a PEM file: the first certificate is the leaf, the ones after
 * it the chain the server sends. A passphrase prompt is refused, as the
 * server cannot answer one either. It trusts this system's default CA
 * store (X509_STORE_set_default_paths) and, as intermediates only, the
 * chain in the file. Nothing is written or changed.
 * Trust: the operator's files, read with the caller's privileges. The
 * reason texts are OpenSSL's own, printable ASCII.
 */
#ifndef TERN_CLI_CERTFILE_H
#define TERN_CLI_CERTFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define CERTFILE_REASON_MAX 256 /* enough for ERR_error_string_n() */
#define CERTFILE_DATE_MAX 32

struct certfile; /* the leaf and the chain after it */

enum certfile_status {
	CERTFILE_OK = 0,
	CERTFILE_ERRNO,    /* the file did not open: errno says why */
	CERTFILE_NO_PEM,   /* no PEM certificate, or no unencrypted PEM key */
	CERTFILE_MISMATCH, /* the key is not the leaf's */
};

enum certfile_trust {
	CERTFILE_TRUSTED,     /* chains to a system CA */
	CERTFILE_SELF_SIGNED, /* alone in the file, and its own issuer */
	CERTFILE_UNTRUSTED,   /* does not chain: *why_out says why */
	CERTFILE_UNCHECKED,   /* the store could not be set up (memory) */
};

enum certfile_bound {
	CERTFILE_NOT_BEFORE,
	CERTFILE_NOT_AFTER,
};

/*
 * Read the certificate file at path into *out (free it with
 * certfile_free()); the chain may be empty. CERTFILE_ERRNO: it could not
 * be opened, errno says why (EINVAL: not a regular file; ELOOP: a link,
 * with no_links, for a file in a directory others may write). Never
 * waits on a FIFO. CERTFILE_NO_PEM: no certificate could be read; reason
 * (NUL-terminated, reasonsz bytes at most) holds OpenSSL's reason, or
 * "no PEM data". *out is NULL unless CERTFILE_OK. Clears OpenSSL's
 * error queue.
 */
enum certfile_status certfile_load(const char *path, bool no_links,
    struct certfile **out, char *reason, size_t reasonsz);

/* NULL is fine. */
void certfile_free(struct certfile *);

/*
 * Does the PEM private key in the file at path belong to cf's leaf?
 * CERTFILE_ERRNO and CERTFILE_NO_PEM as for certfile_load() (an encrypted
 * key is CERTFILE_NO_PEM); CERTFILE_MISMATCH when it is another's.
 */
enum certfile_status certfile_key_check(const struct certfile *cf,
    const char *path, char *reason, size_t reasonsz);

/* Is the leaf's notBefore still to come? */
bool certfile_is_not_yet_valid(const struct certfile *);

/* Does the leaf's notAfter fall before `when` (time(NULL): expired)? */
bool certfile_expires_before(const struct certfile *, time_t when);

/*
 * The leaf's notBefore or notAfter as "2025-03-01" or, with minute,
 * "2025-03-01 12:00 UTC"; "(bad date)" when it cannot be read or does
 * not fit dstsz (CERTFILE_DATE_MAX is enough).
 */
void certfile_date(const struct certfile *, enum certfile_bound, bool minute,
    char *dst, size_t dstsz);

/* Does the leaf name host (subjectAltName or CN, wildcards as RFC 6125)? */
bool certfile_has_name(const struct certfile *, const char *host);

/*
 * Does the leaf chain to this system's CAs, through the file's chain?
 * The dates are not looked at: callers check them with better words. On
 * CERTFILE_UNTRUSTED, *why_out is OpenSSL's reason (static text).
 */
enum certfile_trust certfile_verify(const struct certfile *,
    const char **why_out);

#endif
