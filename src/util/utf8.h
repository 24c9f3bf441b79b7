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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Length (1-4) of the well-formed sequence at p[0..n), storing its code
 * point in *cp_out (may be NULL); 0 if p does not start with one (also
 * when n == 0).
 */
size_t utf8_decode(const uint8_t *p, size_t n, uint32_t *cp_out);

/*
 * Code points a terminal or a log viewer acts on instead of showing: the
 * C1 controls (U+0085 ends a line for some), the line and paragraph
 * separators, the bidirectional controls that reorder what follows them
 * (Trojan Source, CVE-2021-42574), and U+FEFF, which shows as nothing.
 * The log (util/log.c) and JSON (util/json.c) escapers write them escaped.
 */
bool utf8_is_hidden(uint32_t cp);

#endif
