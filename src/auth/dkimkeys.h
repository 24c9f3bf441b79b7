/* SPDX-License-Identifier: ISC */
/*
 * auth/dkimkeys.h - the DKIM signing keys under data_dir:
 * <data_dir>/dkim/DOMAIN/SELECTOR.key, one PEM private key (PKCS#8) per
 * file, mode 0600, the directories 0700. `tern dkim keygen` makes them,
 * the server loads them (dkimkeys_load()) to sign mail from DOMAIN.
 *
 * Blocking file I/O (small files); no logging: errors come back in why.
 * Thread-safe (no shared state).
 * Trust: the caller runs as the service user (main.c drops privileges
 * before any dkim command); data_dir is trusted, the names below it are
 * not followed when they are symbolic links (O_NOFOLLOW, descriptor-
 * relative), and domain and selector names are checked before use as
 * path components.
 */
#ifndef TERN_AUTH_DKIMKEYS_H
#define TERN_AUTH_DKIMKEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "auth/dkim.h"
#include "util/buf.h"
#include "util/why.h"

#define DKIMKEYS_DIR "dkim"
#define DKIMKEYS_MAX 16         /* keys per domain, our bound */
#define DKIMKEYS_FILE_MAX 65536 /* one PEM file */
#define DKIMKEYS_RSA_BITS_DEFAULT 2048

/* The keys that sign for one domain; owns everything it points to. */
struct dkimkeys {
	size_t n;
	struct dkim_sign_key key[DKIMKEYS_MAX];
	unsigned bits[DKIMKEYS_MAX]; /* RSA modulus size; 256 for ed25519 */
};

/*
 * Whether name may be a domain (letters, digits, '-', '.', '_'; labels
 * not empty, no leading '-') or a selector (the same): safe as a path
 * component and as a DNS name. Pure.
 */
bool dkimkeys_name_ok(const char *name);

/*
 * The keys of `domain` (lower-cased before use) under data_dir: those
 * named in selectors (a NULL-terminated list) or, when selectors is
 * NULL, every *.key of the domain, sorted by selector. No directory for
 * the domain: 0 with out->n == 0 (the domain does not sign). A listed
 * selector without a key, a file that is a link, not regular, not
 * readable or not a key of a supported type: -1 with why naming the
 * file (WHY_PERM). out is zeroed first; dkimkeys_free() it after 0.
 */
int dkimkeys_load(const char *data_dir, const char *domain,
    const char *const *selectors, struct dkimkeys *out, struct why *);
void dkimkeys_free(struct dkimkeys *);

/*
 * Make a new key and write it as <data_dir>/dkim/DOMAIN/SELECTOR.key
 * (making data_dir 0750, dkim/ and DOMAIN/ 0700 when missing; O_EXCL: an
 * existing selector is refused with errno EEXIST in why). bits: RSA size
 * (1024..8192), ignored for ed25519. On 0, *pkey_out (may be NULL) is
 * the new key (EVP_PKEY_free it). Blocking: RSA generation takes a
 * second or so.
 */
int dkimkeys_generate(const char *data_dir, const char *domain,
    const char *selector, enum dkim_alg alg, unsigned bits, EVP_PKEY **pkey_out,
    struct why *);

/*
 * The default selector for a key made at `now`: "t" YYYYMM then 'r'
 * (rsa) or 'e' (ed25519), e.g. t202612r. out has room for 16 bytes.
 */
void dkimkeys_default_selector(time_t now, enum dkim_alg, char out[16]);

/*
 * The TXT record's value for pkey's public half ("v=DKIM1; k=rsa;
 * p=BASE64"), appended to out as one string. 0 or -1.
 */
int dkimkeys_txt_value(EVP_PKEY *, enum dkim_alg, struct buf *out);

/*
 * The same value as a zone file would hold it: 255-octet quoted strings
 * separated by spaces (RFC 1035 3.3.14, RFC 6376 3.6.2.2). 0 or -1.
 */
int dkimkeys_txt_quoted(const char *value, struct buf *out);

/*
 * The domains that have a key directory under data_dir, sorted, as a
 * NULL-terminated array of strings (free each, then the array). *out
 * is an empty list when dkim/ is missing. 0, or -1 with why.
 */
int dkimkeys_domains(const char *data_dir, char ***out, struct why *);

#endif
