/* SPDX-License-Identifier: ISC */
/*
 * smtp/auth.h - the client's side of an SMTP AUTH exchange (RFC 4954)
 * for the mechanisms PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-
 * login): the AUTH argument, base64 responses, the "*" cancel, and the
 * credentials they carry.
 *
 * It does not check passwords, decide whether AUTH is allowed now (TLS,
 * already authenticated), rate-limit, or log: that is the session's.
 * Pure: no I/O, no allocation; a struct smtp_auth is a few fixed buffers.
 * Trust: every byte is the peer's. Credentials are capped (user
 * SMTP_AUTH_USER_MAX, password SMTP_AUTH_PASS_MAX), NUL-free, and the
 * user name has no control characters, so it may be logged once escaped.
 * The caller wipes the struct (smtp_auth_wipe) when done: it holds a
 * password.
 */
#ifndef TERN_SMTP_AUTH_H
#define TERN_SMTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* local (64) '@' domain (255): a tern user name is an address. */
#define SMTP_AUTH_USER_MAX 320
#define SMTP_AUTH_PASS_MAX 511 /* libxcrypt's passphrase limit - 1 */
/* Decoded PLAIN message: authzid NUL authcid NUL passwd (RFC 4616 2). */
#define SMTP_AUTH_MSG_MAX (2 * SMTP_AUTH_USER_MAX + SMTP_AUTH_PASS_MAX + 2)

enum smtp_auth_mech {
	SMTP_AUTH_MECH_NONE = 0,
	SMTP_AUTH_MECH_PLAIN,
	SMTP_AUTH_MECH_LOGIN,
};

enum smtp_auth_status {
	SMTP_AUTH_CONTINUE = 0, /* reply "334 " + *challenge_out */
	SMTP_AUTH_DONE,         /* credentials in a->user, a->pass */
	SMTP_AUTH_SYNTAX,       /* 501 5.5.2: bad AUTH argument */
	SMTP_AUTH_UNKNOWN_MECH, /* 504 5.5.4: mechanism not offered */
	SMTP_AUTH_BAD_BASE64,   /* 501 5.5.2: response is not base64 */
	SMTP_AUTH_BAD_MESSAGE,  /* 501 5.5.2: decoded, but malformed */
	SMTP_AUTH_TOO_LONG,     /* 500 5.5.6: credentials over the caps */
	SMTP_AUTH_CANCELLED,    /* 501 5.0.0: the client sent "*" */
};

struct smtp_auth {
	/* Public, read-only: valid after SMTP_AUTH_DONE. */
	enum smtp_auth_mech mech;
	char authzid[SMTP_AUTH_USER_MAX + 1]; /* "" when not given */
	char user[SMTP_AUTH_USER_MAX + 1];
	char pass[SMTP_AUTH_PASS_MAX + 1];

	/* Private. */
	int step;
};

/*
 * Start an exchange from the AUTH argument "MECH [initial-response]"
 * (mechanism in any case; "=" is an empty initial response, RFC 4954 4).
 * Only PLAIN with an initial response is complete at once (DONE); LOGIN
 * with one (the user name, as Outlook sends it) asks for the password.
 * Returns CONTINUE (send the challenge), DONE, or an error; on an error
 * the exchange is over and the struct is wiped.
 */
enum smtp_auth_status smtp_auth_begin(struct smtp_auth *, const char *arg,
    size_t n, const char **challenge_out);

/*
 * Feed the client's next line (CRLF stripped) after a CONTINUE. Same
 * returns as smtp_auth_begin(); "*" cancels (RFC 4954 4).
 */
enum smtp_auth_status smtp_auth_step(struct smtp_auth *, const char *line,
    size_t n, const char **challenge_out);

/* Forget everything, password included (explicit_bzero). */
void smtp_auth_wipe(struct smtp_auth *);

/* The reply line (no CRLF) for an error status. Static. */
const char *smtp_auth_reply(enum smtp_auth_status);

/*
 * Strict base64 (RFC 4648 4, padding required, no white space) of
 * p[0..n) into dst[0..dstsz); *len_out is the decoded length. false on
 * any bad character, bad padding, non-zero pad bits, or when the result
 * would not fit (dst untouched past what was written).
 */
bool smtp_b64_decode(const char *p, size_t n, uint8_t *dst, size_t dstsz,
    size_t *len_out);

/*
 * Encode p[0..n) with padding and a NUL; returns the length, or -1 if
 * dstsz < 4 * ((n + 2) / 3) + 1.
 */
int smtp_b64_encode(const uint8_t *p, size_t n, char *dst, size_t dstsz);

#endif
