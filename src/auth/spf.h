/* SPDX-License-Identifier: ISC */
/*
 * auth/spf.h - Sender Policy Framework (RFC 7208): check_host() for the
 * HELO and MAIL FROM identities, the record parser and the macro
 * expander.
 *
 * spf_check_host() and spf_check() block on DNS (struct authdns): call
 * them from a worker thread, never from an event loop. They are bounded:
 * the RFC 7208 4.6.4 limits (SPF_DNS_TERMS_MAX terms that query DNS,
 * SPF_VOID_MAX void lookups, SPF_MX_NAMES_MAX names per mx,
 * SPF_PTR_NAMES_MAX names per ptr), SPF_QUERIES_MAX DNS queries in all,
 * and a deadline (spf_query.timeout_secs) over the whole check; an
 * include or redirect loop ends at the term limit as permerror.
 * spf_record_parse(), spf_macro_expand() and spf_dname_parse() are pure.
 * Everything here is thread-safe (no globals).
 * Trust: records and DNS answers are hostile (anyone publishes them);
 * the HELO name and MAIL FROM come from the SMTP client. Every output
 * string is bounded and printable ASCII.
 */
#ifndef TERN_AUTH_SPF_H
#define TERN_AUTH_SPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "auth/authdns.h"

#define SPF_DNS_TERMS_MAX 10 /* RFC 7208 4.6.4 */
#define SPF_VOID_MAX 2       /* RFC 7208 4.6.4 */
#define SPF_MX_NAMES_MAX 10  /* RFC 7208 4.6.4 */
#define SPF_PTR_NAMES_MAX 10 /* RFC 7208 4.6.4 */
#define SPF_QUERIES_MAX 150  /* every query of one check, ours */
#define SPF_TIMEOUT_SECS 20  /* RFC 7208 4.6.4: at least 20 s */
#define SPF_TERMS_MAX 64     /* terms in one record, ours */
#define SPF_RECORD_MAX 4096  /* a longer record is a permerror, ours */
#define SPF_EXPAND_MAX 512   /* an expanded domain-spec or exp text */
#define SPF_REASON_MAX 160
#define SPF_EXP_MAX 256
#define SPF_TRACE_MAX 48 /* lookups remembered for `tern check spf` */

enum spf_result {
	SPF_NONE = 0,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

/* "none", "neutral", "pass", "fail", "softfail", "temperror",
 * "permerror" (RFC 8601 2.7.2). Static strings. */
const char *spf_result_name(enum spf_result);

struct spf_query {
	/* The client: AF_INET or AF_INET6 (a v4-mapped v6 is taken as v4). */
	struct sockaddr_storage ip;
	const char *helo;      /* as the client sent it; NULL or "" if none */
	const char *mailfrom;  /* the address without <>; "" the null sender */
	const char *receiver;  /* our host name, for %{r}; NULL: "unknown" */
	unsigned timeout_secs; /* whole check; 0: SPF_TIMEOUT_SECS */
	time_t now;            /* for %{t}; 0: time(NULL) */
};

/* One DNS lookup made, for `tern check spf` (answer summary bounded). */
struct spf_trace {
	char name[DNS_NAME_MAX];
	int type; /* DNS_T_* */
	enum dns_status status;
	char answer[96]; /* "1.2.3.4 ..." / "v=spf1 ..." shortened */
};

struct spf_verdict {
	enum spf_result result;
	const char *identity;          /* "mailfrom" or "helo" (static) */
	char domain[DNS_NAME_MAX];     /* the domain checked (may be "") */
	char reason[SPF_REASON_MAX];   /* "matched ip4:1.2.3.0/24", why */
	char explanation[SPF_EXP_MAX]; /* fail only: exp= text, or "" */
	unsigned dns_terms;            /* DNS-querying terms evaluated */
	unsigned void_lookups;
	unsigned queries; /* DNS queries made */
	size_t n_trace;   /* trace[0..n_trace) */
	struct spf_trace trace[SPF_TRACE_MAX];
};

/*
 * RFC 7208 4 check_host() for one identity: `domain` is the HELO name
 * or the MAIL FROM domain; the sender (%{s}, %{l}) comes from q
 * (q->mailfrom, or postmaster@helo when it is ""). Fills *v (always,
 * whatever the result). Blocking.
 */
void spf_check_host(const struct authdns *, const struct spf_query *,
    const char *domain, struct spf_verdict *v);

/*
 * RFC 7208 2.3 and 2.4: the HELO identity (result none, reason "not a
 * domain name", when the HELO is an address literal or not a fully
 * qualified name), then the MAIL FROM identity (postmaster@HELO for
 * the null sender; with a null sender the MAIL FROM verdict is the HELO
 * one). Either out pointer may be NULL to skip that identity. Blocking.
 */
void spf_check(const struct authdns *, const struct spf_query *,
    struct spf_verdict *helo, struct spf_verdict *mailfrom);

/* ---- the pure parts (fuzzed) ---- */

enum spf_mech {
	SPF_M_ALL = 0,
	SPF_M_INCLUDE,
	SPF_M_A,
	SPF_M_MX,
	SPF_M_PTR,
	SPF_M_IP4,
	SPF_M_IP6,
	SPF_M_EXISTS,
};

/* One directive; pointers borrow the record text given to the parser. */
struct spf_term {
	const char *text; /* the whole term, for reasons */
	size_t text_len;
	enum spf_mech mech;
	char qualifier;   /* '+', '-', '~', '?' */
	const char *spec; /* domain-spec, or NULL when absent */
	size_t spec_len;
	unsigned cidr4, cidr6; /* 32 and 128 when not given */
	uint8_t addr[16];      /* ip4 (first 4 bytes) / ip6 */
};

struct spf_record {
	size_t n;
	struct spf_term terms[SPF_TERMS_MAX];
	const char *redirect; /* domain-spec of redirect=, or NULL */
	size_t redirect_len;
	const char *exp; /* domain-spec of exp=, or NULL */
	size_t exp_len;
};

/*
 * Parse the record text p[0..n) (the TXT strings joined), which starts
 * with "v=spf1" (case-insensitive) followed by a space or the end.
 * Unknown modifiers are skipped (their syntax still checked); a
 * syntax error, an unknown mechanism, a repeated redirect= or exp=, a
 * bad CIDR length or more than SPF_TERMS_MAX terms is false with a
 * short reason in why_out (static string). Pure.
 */
bool spf_record_parse(const char *p, size_t n, struct spf_record *out,
    const char **why_out);

/* Is this the start of an SPF record ("v=spf1" then space or end)? */
bool spf_is_record(const char *p, size_t n);

/* What a macro expansion sees (RFC 7208 7.3). */
struct spf_macro_env {
	const char *sender;        /* local-part@domain */
	const char *domain;        /* the current domain (%{d}) */
	const char *helo;          /* %{h} */
	const struct sockaddr *ip; /* AF_INET or AF_INET6 (%{i} %{c} %{v}) */
	const char *ptr;           /* %{p}: validated name, NULL: "unknown" */
	const char *receiver;      /* %{r}: NULL: "unknown" */
	long long now;             /* %{t} */
};

/*
 * RFC 7208 7: expand the macro-string p[0..n) into out (NUL-terminated,
 * at most outsz - 1 bytes, outsz <= SPF_EXPAND_MAX + 1 recommended).
 * exp: the text of an explanation (c, r, t allowed; a domain-spec may
 * not use them). %{p} is looked up by the caller beforehand (env->ptr).
 * false when the syntax is bad or the result does not fit. For a
 * domain-spec the caller then applies the 253-octet left truncation
 * (spf_domain_trim). Pure.
 */
bool spf_macro_expand(const char *p, size_t n, const struct spf_macro_env *,
    bool exp, char *out, size_t outsz, const char **why_out);

/*
 * RFC 7208 7.3: shorten an expanded domain name longer than 253
 * octets by dropping labels from the left. In place. Pure.
 */
void spf_domain_trim(char *name);

/*
 * A wire-format, uncompressed domain name (PTR rdata, or an MX rdata
 * after its 2-byte preference) into presentation form without the
 * trailing dot, lower-cased, in out[outsz]. The root name is "". false
 * when malformed, too long for out, or holding a byte outside 0x21..0x7e
 * or a '.' or '\\' inside a label (SPF names may hold ':' or '/', RFC
 * 7208 7.1, but never an ambiguous dot). Pure.
 */
bool spf_dname_parse(const uint8_t *p, size_t n, char *out, size_t outsz);

#endif
