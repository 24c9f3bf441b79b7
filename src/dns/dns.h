/* SPDX-License-Identifier: ISC */
/*
 * dns/dns.h - where mail for a domain goes: MX records (RFC 5321 5.1)
 * with the implicit MX and null MX (RFC 7505) rules, and the IPv6 and
 * IPv4 addresses of a host. libunbound's asynchronous interface, driven
 * by the calling thread with a deadline (poll on ub_fd), so a silent DNS
 * server costs a bounded wait.
 *
 * One struct dns per delivery thread (each has its own libunbound
 * context and cache). dns_mx_rdata_parse() is the pure part: it reads
 * one MX record's bytes as libunbound hands them over.
 * Trust: DNS answers are hostile (anyone can publish records): names are
 * length-checked while decoded, counts are capped, and only what looks
 * like a host name is returned.
 */
#ifndef TERN_DNS_DNS_H
#define TERN_DNS_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util/why.h"

#define DNS_NAME_MAX 254 /* presentation form + NUL, RFC 1035 2.3.4 */
#define DNS_MX_MAX 16    /* MX hosts tried per domain */
#define DNS_ADDRS_MAX 16 /* addresses tried per host */
#define DNS_TIMEOUT_SECS 30

struct dns_mx {
	char host[DNS_NAME_MAX]; /* lower-case, no trailing dot */
	unsigned pref;
};

enum dns_status {
	DNS_OK = 0,
	DNS_NXDOMAIN, /* the domain does not exist: bounce */
	DNS_NULLMX,   /* RFC 7505: the domain takes no mail: bounce */
	DNS_NODATA,   /* no records of that type (addresses: bounce) */
	DNS_TEMP,     /* SERVFAIL, timeout: try later */
};

/*
 * What DNSSEC validation says of an answer (RFC 4033 5, RFC 4035 4.3),
 * NXDOMAIN and NODATA included (their proofs of non-existence are
 * validated too). Without a trust anchor every answer is INSECURE.
 * A BOGUS answer is never returned as data: the call fails with
 * DNS_TEMP and why names unbound's reason (why_bogus).
 */
enum dns_security {
	DNS_SEC_INSECURE = 0, /* not signed, or no trust anchor covers it */
	DNS_SEC_SECURE,       /* validated up to a trust anchor */
	DNS_SEC_BOGUS,        /* signed but fails validation: an attack? */
};

struct dns;

/*
 * A resolver that forwards to `server` ("IP" or "IP:port", "[v6]:port")
 * or, when NULL, to the servers of /etc/resolv.conf. NULL with why.
 */
struct dns *dns_new(const char *server, unsigned timeout_secs, struct why *);
void dns_free(struct dns *);

/*
 * Validate answers with the trust anchors of `file` (unbound's format:
 * DS or DNSKEY records in zone-file syntax, e.g. Debian's
 * /usr/share/dns/root.key), before the first query. 0, or -1 with why
 * (a missing or unreadable file).
 */
int dns_set_trust_anchor(struct dns *, const char *file, struct why *);
/* Was a trust anchor set (answers can be SECURE)? */
bool dns_validates(const struct dns *);

/*
 * The owner name of the first record of a trust anchor file ("." for the
 * root key), into name (DNS_NAME_MAX), lower-case, no final dot except
 * for the root. 0, or -1 with why when there is no record. Pure but for
 * reading the file.
 */
int dns_trust_anchor_name(const char *file, char *name, size_t size,
    struct why *);

/*
 * Does validation work through this resolver (the resolver may strip
 * DNSSEC records)? Asks for the DNSKEY RRset of `anchor_name` (see
 * dns_trust_anchor_name()): DNS_OK when it validates as secure;
 * DNS_NODATA with why when any other answer comes back (insecure,
 * bogus, SERVFAIL, REFUSED: DNSSEC is unavailable, the caller turns
 * validation off); DNS_TEMP only when no answer came in time (keep
 * validating, ask again later).
 */
enum dns_status dns_dnssec_probe(struct dns *, const char *anchor_name,
    struct why *);

/*
 * The mail hosts of `domain`, sorted by preference, in random order
 * among equal preferences; the domain itself (pref 0) when it has no MX
 * (implicit MX, RFC 5321 5.1). At most DNS_MX_MAX into out[]; *n_out.
 * DNS_OK, or another status with why (WHY_PERM for NXDOMAIN and NULLMX).
 */
enum dns_status dns_mx(struct dns *, const char *domain, struct dns_mx *out,
    size_t *n_out, struct why *);
/* The same, and *sec_out the security of the MX answer (for an implicit
 * MX: of the NODATA answer). */
enum dns_status dns_mx_sec(struct dns *, const char *domain,
    struct dns_mx *out, size_t *n_out, enum dns_security *sec_out,
    struct why *);

/*
 * AAAA then A addresses of `host` with `port`, at most DNS_ADDRS_MAX. An
 * IP literal is returned as it is. DNS_OK with *n_out >= 1, or a status
 * with why.
 */
enum dns_status dns_addrs(struct dns *, const char *host, unsigned port,
    struct sockaddr_storage *out, size_t *n_out, struct why *);
/* The same, and *sec_out: SECURE only when every answer used (AAAA and
 * A, data or proof of none) was; an IP literal is INSECURE. */
enum dns_status dns_addrs_sec(struct dns *, const char *host, unsigned port,
    struct sockaddr_storage *out, size_t *n_out, enum dns_security *sec_out,
    struct why *);

/*
 * Any record type (issue 16: SPF, DKIM keys, DMARC policies): the
 * rdata of each record of `type` at `name`, copied, at most
 * DNS_RRS_MAX records of DNS_RDATA_MAX bytes each (a longer record is
 * skipped). DNS_NXDOMAIN and DNS_NODATA are answers (the "void lookups"
 * of RFC 7208 4.6.4); DNS_TEMP is a failure or a timeout. Free with
 * dns_rrset_free().
 */
#define DNS_RRS_MAX 64
#define DNS_RDATA_MAX 65535
#define DNS_T_A 1
#define DNS_T_PTR 12
#define DNS_T_MX 15
#define DNS_T_TXT 16
#define DNS_T_AAAA 28
#define DNS_T_TLSA 52 /* RFC 6698 7.1 */

struct dns_rrset {
	size_t n;
	uint8_t **data;
	size_t *len;
};

enum dns_status dns_lookup(struct dns *, const char *name, int type,
    struct dns_rrset *out, struct why *);
void dns_rrset_free(struct dns_rrset *);

/*
 * The TXT records at `name`, each one's character-strings joined (RFC
 * 7208 3.3, RFC 6376 3.6.2.2), NUL-terminated; a NUL byte inside is
 * turned into DEL (0x7f), which no record grammar accepts. Into out (freed with dns_rrset_free; data[i] is a string
 * of len[i] bytes).
 */
enum dns_status dns_txt(struct dns *, const char *name, struct dns_rrset *out,
    struct why *);
/*
 * dns_lookup(), and *sec_out the security of the answer (DNS_OK,
 * DNS_NXDOMAIN and DNS_NODATA alike).
 */
enum dns_status dns_lookup_sec(struct dns *, const char *name, int type,
    struct dns_rrset *out, enum dns_security *sec_out, struct why *);

/*
 * The TLSA records of `host` for `port` (_PORT._tcp.HOST, RFC 6698 3;
 * RFC 7672 2.2.3 for SMTP: port 25 at the MX host name), raw rdata for
 * dane_tlsa_parse(), and their security. As dns_lookup_sec().
 */
enum dns_status dns_tlsa(struct dns *, const char *host, unsigned port,
    struct dns_rrset *out, enum dns_security *sec_out, struct why *);

/* "secure", "insecure", "bogus". */
const char *dns_security_name(enum dns_security);

/* The joining alone, on a TXT rrset from dns_lookup() or a test. Pure. */
void dns_txt_join(struct dns_rrset *);

/*
 * Parse one MX rdata (2-byte preference, uncompressed wire-format name)
 * into *out. The root name "." becomes host "". false when malformed or
 * when the name has bytes that are not letters, digits, '-' or '_'.
 * Pure.
 */
bool dns_mx_rdata_parse(const uint8_t *p, size_t n, struct dns_mx *out);

/*
 * Sort mx[0..n) by preference; `rnd` gives the order among equals
 * (random in dns_mx(); fixed in tests). Pure.
 */
void dns_mx_sort(struct dns_mx *mx, size_t n, const uint32_t *rnd);

#endif
