/* SPDX-License-Identifier: ISC */
/*
 * smtp/auth.c - AUTH PLAIN and LOGIN responses: base64 and the
 * credentials inside (RFC 4954, RFC 4616, RFC 4648).
 *
 * Base64 is hand-written rather than OpenSSL's EVP_DecodeBlock, which
 * skips white space, accepts missing padding and cannot tell the length
 * of its output without help: a response that is not exactly base64
 * must be refused (RFC 4954 4: 501), and smtp/ links no crypto library.
 * Trust: peer bytes; the decode checks the room left before each write.
 */
#include "smtp/auth.h"

#include <string.h>

#include "util/str.h"

enum {
	ST_NONE = 0,
	ST_PLAIN_WAIT, /* PLAIN without initial response: "334 " sent */
	ST_LOGIN_USER, /* "334 VXNlcm5hbWU6" (Username:) sent */
	ST_LOGIN_PASS, /* "334 UGFzc3dvcmQ6" (Password:) sent */
};

#define CH_EMPTY ""
#define CH_USER "VXNlcm5hbWU6"
#define CH_PASS "UGFzc3dvcmQ6"

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool
smtp_b64_decode(const char *p, size_t n, uint8_t *dst, size_t dstsz,
    size_t *len_out)
{
	size_t i, o = 0, npad;
	int v[4], k;

	*len_out = 0;
	if (n % 4 != 0)
		return false;
	for (i = 0; i < n; i += 4) {
		npad = 0;
		for (k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)p[i + (size_t)k];

			if (c == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				npad++;
				continue;
			}
			/* No data after a pad: "a=b=" is not base64. */
			if (npad > 0 || (v[k] = ascii_b64_value(c)) < 0)
				return false;
		}
		if (o + 3 - npad > dstsz)
			return false;
		dst[o++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
		if (npad < 2)
			dst[o++] = (uint8_t)((v[1] & 0xf) << 4 | v[2] >> 2);
		if (npad < 1)
			dst[o++] = (uint8_t)((v[2] & 0x3) << 6 | v[3]);
		/* Canonical encoding only: the bits under a pad are zero. */
		if ((npad == 2 && (v[1] & 0xf) != 0) ||
		    (npad == 1 && (v[2] & 0x3) != 0))
			return false;
	}
	*len_out = o;
	return true;
}

int
smtp_b64_encode(const uint8_t *p, size_t n, char *dst, size_t dstsz)
{
	size_t i, o = 0;
	uint32_t w;

	if (dstsz < 4 * ((n + 2) / 3) + 1)
		return -1;
	for (i = 0; i < n; i += 3) {
		w = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			w |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			w |= p[i + 2];
		dst[o++] = b64[w >> 18 & 63];
		dst[o++] = b64[w >> 12 & 63];
		dst[o++] = i + 1 < n ? b64[w >> 6 & 63] : '=';
		dst[o++] = i + 2 < n ? b64[w & 63] : '=';
	}
	dst[o] = '\0';
	return (int)o;
}

void
smtp_auth_wipe(struct smtp_auth *a)
{
	explicit_bzero(a, sizeof(*a));
}

static enum smtp_auth_status
fail(struct smtp_auth *a, enum smtp_auth_status st)
{
	smtp_auth_wipe(a);
	return st;
}

/* A user name we can store and log: no NUL, no control characters. */
static bool
copy_user(char *dst, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return true;
}

/*
 * Decode one response line into dst. "*" cancels; "" is only valid as
 * an empty response where one may be empty (PLAIN's continuation is
 * never empty: RFC 4616 2 needs two NULs).
 */
static enum smtp_auth_status
decode(const char *line, size_t n, uint8_t *dst, size_t dstsz,
    size_t *len_out)
{
	uint8_t tmp[SMTP_AUTH_MSG_MAX + 3];

	if (n == 1 && line[0] == '*')
		return SMTP_AUTH_CANCELLED;
	/* Over the cap even before decoding: say so, do not work on it. */
	if (n / 4 * 3 > dstsz + 2)
		return SMTP_AUTH_TOO_LONG;
	if (!smtp_b64_decode(line, n, tmp, sizeof(tmp), len_out)) {
		explicit_bzero(tmp, sizeof(tmp));
		return SMTP_AUTH_BAD_BASE64;
	}
	if (*len_out > dstsz) {
		explicit_bzero(tmp, sizeof(tmp));
		return SMTP_AUTH_TOO_LONG;
	}
	memcpy(dst, tmp, *len_out);
	explicit_bzero(tmp, sizeof(tmp));
	return SMTP_AUTH_DONE;
}

/* RFC 4616 2: [authzid] NUL authcid NUL passwd, authcid and passwd
 * non-empty, no other NUL. */
static enum smtp_auth_status
plain_message(struct smtp_auth *a, const uint8_t *m, size_t n)
{
	const uint8_t *nul1, *nul2;
	size_t zl, ul, pl;

	if (n < 4) /* the shortest is NUL, one octet, NUL, one octet */
		return SMTP_AUTH_BAD_MESSAGE;
	nul1 = memchr(m, '\0', n);
	if (nul1 == NULL)
		return SMTP_AUTH_BAD_MESSAGE;
	zl = (size_t)(nul1 - m);
	nul2 = memchr(nul1 + 1, '\0', n - zl - 1);
	if (nul2 == NULL)
		return SMTP_AUTH_BAD_MESSAGE;
	ul = (size_t)(nul2 - nul1 - 1);
	pl = n - zl - ul - 2;
	if (ul == 0 || pl == 0 || memchr(nul2 + 1, '\0', pl) != NULL)
		return SMTP_AUTH_BAD_MESSAGE;
	if (zl > SMTP_AUTH_USER_MAX || ul > SMTP_AUTH_USER_MAX ||
	    pl > SMTP_AUTH_PASS_MAX)
		return SMTP_AUTH_TOO_LONG;
	if (!copy_user(a->authzid, m, zl) || !copy_user(a->user, nul1 + 1, ul))
		return SMTP_AUTH_BAD_MESSAGE;
	memcpy(a->pass, nul2 + 1, pl);
	a->pass[pl] = '\0';
	return SMTP_AUTH_DONE;
}

/* The response of the current step: PLAIN message, LOGIN user or pass. */
static enum smtp_auth_status
response(struct smtp_auth *a, const char *line, size_t n,
    const char **challenge_out)
{
	uint8_t m[SMTP_AUTH_MSG_MAX];
	enum smtp_auth_status st;
	size_t len, cap;

	cap = a->step == ST_PLAIN_WAIT ? sizeof(m)
	    : a->step == ST_LOGIN_USER ? SMTP_AUTH_USER_MAX
				       : SMTP_AUTH_PASS_MAX;
	st = decode(line, n, m, cap, &len);
	if (st != SMTP_AUTH_DONE)
		return fail(a, st);
	switch (a->step) {
	case ST_PLAIN_WAIT:
		st = plain_message(a, m, len);
		break;
	case ST_LOGIN_USER:
		if (len == 0 || memchr(m, '\0', len) != NULL ||
		    !copy_user(a->user, m, len)) {
			st = SMTP_AUTH_BAD_MESSAGE;
			break;
		}
		a->step = ST_LOGIN_PASS;
		*challenge_out = CH_PASS;
		st = SMTP_AUTH_CONTINUE;
		break;
	default: /* ST_LOGIN_PASS */
		if (len == 0 || memchr(m, '\0', len) != NULL) {
			st = SMTP_AUTH_BAD_MESSAGE;
			break;
		}
		memcpy(a->pass, m, len);
		a->pass[len] = '\0';
		st = SMTP_AUTH_DONE;
		break;
	}
	explicit_bzero(m, sizeof(m));
	if (st == SMTP_AUTH_DONE)
		a->step = ST_NONE;
	else if (st != SMTP_AUTH_CONTINUE)
		return fail(a, st);
	return st;
}

enum smtp_auth_status
smtp_auth_begin(struct smtp_auth *a, const char *arg, size_t n,
    const char **challenge_out)
{
	const char *sp;
	size_t ml, rn;

	smtp_auth_wipe(a);
	*challenge_out = NULL;
	sp = memchr(arg, ' ', n);
	ml = sp != NULL ? (size_t)(sp - arg) : n;
	if (ml == 0)
		return SMTP_AUTH_SYNTAX;
	if (ml == 5 && ascii_ncasecmp(arg, "PLAIN", 5) == 0)
		a->mech = SMTP_AUTH_MECH_PLAIN;
	else if (ml == 5 && ascii_ncasecmp(arg, "LOGIN", 5) == 0)
		a->mech = SMTP_AUTH_MECH_LOGIN;
	else
		return fail(a, SMTP_AUTH_UNKNOWN_MECH);
	a->step = a->mech == SMTP_AUTH_MECH_PLAIN ? ST_PLAIN_WAIT
						  : ST_LOGIN_USER;
	if (sp == NULL) {
		*challenge_out = a->step == ST_PLAIN_WAIT ? CH_EMPTY : CH_USER;
		return SMTP_AUTH_CONTINUE;
	}
	/* Exactly one SP, then one word: the initial response. */
	arg = sp + 1;
	rn = n - ml - 1;
	if (rn == 0 || memchr(arg, ' ', rn) != NULL)
		return fail(a, SMTP_AUTH_SYNTAX);
	if (rn == 1 && arg[0] == '=') /* RFC 4954 4: empty response */
		rn = 0;
	if (rn == 1 && arg[0] == '*')
		return fail(a, SMTP_AUTH_SYNTAX); /* no cancel before asking */
	return response(a, arg, rn, challenge_out);
}

enum smtp_auth_status
smtp_auth_step(struct smtp_auth *a, const char *line, size_t n,
    const char **challenge_out)
{
	*challenge_out = NULL;
	if (a->step == ST_NONE)
		return fail(a, SMTP_AUTH_SYNTAX);
	return response(a, line, n, challenge_out);
}

const char *
smtp_auth_reply(enum smtp_auth_status st)
{
	switch (st) {
	case SMTP_AUTH_SYNTAX:
		return "501 5.5.2 Syntax: AUTH mechanism [initial-response]";
	case SMTP_AUTH_UNKNOWN_MECH:
		return "504 5.5.4 Unrecognized authentication type; use PLAIN "
		       "or LOGIN";
	case SMTP_AUTH_BAD_BASE64:
		return "501 5.5.2 Cannot decode response: not base64";
	case SMTP_AUTH_BAD_MESSAGE:
		return "501 5.5.2 Malformed authentication response";
	case SMTP_AUTH_TOO_LONG:
		return "500 5.5.6 Authentication exchange line is too long";
	case SMTP_AUTH_CANCELLED:
		return "501 5.0.0 Authentication cancelled";
	case SMTP_AUTH_CONTINUE:
	case SMTP_AUTH_DONE:
		break;
	}
	return "454 4.7.0 Temporary authentication failure";
}
