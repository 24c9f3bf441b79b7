/* SPDX-License-Identifier: ISC */
/*
 * util/utf8.h - decode one UTF-8 sequence strictly (RFC 3629 4): no
 * overlong forms, no surrogates, nothing above U+10FFFF.
 *
 * Shared by the address grammar (RFC 6531), parameters, msg/received,
 * bounces and the log escaper (util/log.c).
 * Pure. Trust: peer bytes.
 */
#ifndef TERN_UTIL_UTF8_H
#define TERN_UTIL_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * Length (1-4) of the well-formed sequence at p[0..n), storing its code
 * point in *cp_out (may be NULL); 0 if p does not start with one (also
 * when n == 0).
 */
size_t utf8_decode(const uint8_t *p, size_t n, uint32_t *cp_out);

#endif
