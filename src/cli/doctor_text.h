/* SPDX-License-Identifier: ISC */
/*
 * cli/doctor_text.h - the pure text helpers of `tern doctor`: the SPF
 * record to suggest from the one published, whether a TXT record is an
 * MTA-STS one, and the PTR name of an address.
 *
 * Pure: no I/O, no allocation. Unit-tested (tests/unit/test_doctor.c)
 * and fuzzed (tests/fuzz/fuzz_doctor_text.c).
 * Trust: record text comes from DNS and is hostile; every output is
 * bounded by its buffer and printable ASCII.
 */
#ifndef TERN_CLI_DOCTOR_TEXT_H
#define TERN_CLI_DOCTOR_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define DOCTOR_PTR_NAME_MAX 73 /* 32 nibbles * 2 + "ip6.arpa" + NUL */

/*
 * The published SPF record p[0..n) with `add` (e.g. "ip4:192.0.2.1")
 * put first after "v=spf1", so it matches before any "all": into
 * out[outsz], NUL-terminated, runs of spaces made one. false when p is
 * not an SPF record (spf_is_record()), holds a byte outside 0x20..0x7e,
 * or the result does not fit: the caller suggests a fresh record then.
 */
bool doctor_spf_suggest(const char *p, size_t n, const char *add, char *out,
    size_t outsz);

/*
 * RFC 8461 3.1: is p[0..n) an MTA-STS TXT record? It starts "v=STSv1"
 * (case-sensitive), fields are separated by ';' with optional spaces and
 * tabs around it, and one of them is id= with 1..32 letters or digits.
 */
bool doctor_sts_is_record(const char *p, size_t n);

/*
 * The PTR query name of sa (AF_INET or AF_INET6): "4.3.2.1.in-addr.arpa"
 * or the 32 nibbles of RFC 3596 2.5 under ip6.arpa. An IPv4-mapped IPv6
 * address is taken as IPv4. false for another family or a small out.
 */
bool doctor_reverse_name(const struct sockaddr *sa, char *out, size_t outsz);

/*
 * s as one word an operator can paste into a shell: as it is when it
 * holds only letters, digits and /._+-@:, else in single quotes (a '
 * inside as '\''). A file name another user chose (data_dir/dkim/...)
 * must not become a command in a fix: line. false when out (outsz) is
 * too small.
 */
bool doctor_shell_word(const char *s, char *out, size_t outsz);

#endif
