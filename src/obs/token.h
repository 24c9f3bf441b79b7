/* SPDX-License-Identifier: ISC */
/*
 * obs/token.h - reading a bearer token from a file named in the
 * configuration ([observability] http_token_file, issue 17).
 *
 * The file must be a regular file (not a symlink), give no access to
 * group or other (chmod 600), and hold one token of 1..OBS_TOKEN_MAX
 * visible ASCII characters (0x21..0x7e), optionally followed by one LF
 * (an editor's). Anything else is refused with a message that says what
 * to fix: a token others can read protects nothing.
 * Trust: the operator's file; read as whoever calls (root before the
 * server drops privileges).
 */
#ifndef TERN_OBS_TOKEN_H
#define TERN_OBS_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "util/why.h"

#define OBS_TOKEN_MAX 256 /* bytes of a token, without the LF */
/* A buffer for obs_token_read(): the token, an LF, one byte to tell
 * "too long", and the NUL. */
#define OBS_TOKEN_BUF (OBS_TOKEN_MAX + 3)

/*
 * Read the token of `path` into out[0..outsz), NUL-terminated, its
 * length in *len_out. outsz must be at least OBS_TOKEN_BUF. `key` names
 * the setting in messages. -1 with
 * why (WHY_PERM: "http_token_file /x: ..." saying what is wrong).
 */
int obs_token_read(const char *key, const char *path, char *out,
    size_t outsz, size_t *len_out, struct why *);

/* Is p[0..n) a valid token (as after the LF is stripped)? */
bool obs_token_valid(const char *p, size_t n);

#endif
