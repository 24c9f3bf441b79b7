/* SPDX-License-Identifier: ISC */
/*
 * cli/certfile.c - read a [tls] certificate file and check it
 * (certfile.h).
 */
#include "cli/certfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "util/str.h"
#include "util/xmalloc.h"

struct certfile {
	X509 *leaf;
	STACK_OF(X509) * chain; /* never NULL, maybe empty */
};

/* Refuse a passphrase prompt: the server could not answer one either. */
static int
no_passphrase(char *buf, int size, int rw, void *arg)
{
	(void)buf;
	(void)size;
	(void)rw;
	(void)arg;
	return -1;
}

/* OpenSSL's last reason, or "no PEM data" when it gave none. */
static void
ssl_reason(char *dst, size_t dstsz)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		(void)strlcpy(dst, "no PEM data", dstsz);
	else
		ERR_error_string_n(e, dst, dstsz);
	ERR_clear_error();
}

/* The certificates after the leaf into cf->chain; false when out of
 * memory. */
static bool
read_chain(FILE *fp, struct certfile *cf)
{
	X509 *x;

	if ((cf->chain = sk_X509_new_null()) == NULL)
		return false;
	while ((x = PEM_read_X509(fp, NULL, no_passphrase, NULL)) != NULL)
		if (sk_X509_push(cf->chain, x) == 0)
			X509_free(x);
	ERR_clear_error(); /* the end of the file reads as an error */
	return true;
}

enum certfile_status
certfile_load(const char *path, bool no_links, struct certfile **out,
    char *reason, size_t reasonsz)
{
	struct certfile *cf;
	struct stat st;
	X509 *leaf;
	FILE *fp;
	bool ok;
	int fd, err = 0;

	*out = NULL;
	ERR_clear_error();
	/* Never a FIFO that would hang us, nor (no_links) a link that the
	 * owner of a writable directory put there for root to follow. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK |
	                    (no_links ? O_NOFOLLOW : 0));
	if (fd == -1)
		return CERTFILE_ERRNO;
	fp = NULL;
	if (fstat(fd, &st) == -1)
		err = errno;
	else if (!S_ISREG(st.st_mode))
		err = EINVAL; /* a device, a FIFO, a directory */
	else if ((fp = fdopen(fd, "r")) == NULL)
		err = errno;
	if (fp == NULL) {
		(void)close(fd);
		errno = err;
		return CERTFILE_ERRNO;
	}
	if ((leaf = PEM_read_X509(fp, NULL, no_passphrase, NULL)) == NULL) {
		ssl_reason(reason, reasonsz);
		(void)fclose(fp);
		return CERTFILE_NO_PEM;
	}
	cf = xcalloc(1, sizeof(*cf));
	cf->leaf = leaf;
	ok = read_chain(fp, cf);
	(void)fclose(fp);
	if (!ok) {
		certfile_free(cf);
		errno = ENOMEM;
		return CERTFILE_ERRNO;
	}
	*out = cf;
	return CERTFILE_OK;
}

void
certfile_free(struct certfile *cf)
{
	if (cf == NULL)
		return;
	sk_X509_pop_free(cf->chain, X509_free);
	X509_free(cf->leaf);
	free(cf);
}

enum certfile_status
certfile_key_check(const struct certfile *cf, const char *path, char *reason,
    size_t reasonsz)
{
	enum certfile_status st = CERTFILE_OK;
	EVP_PKEY *pk;
	FILE *fp;

	ERR_clear_error();
	if ((fp = fopen(path, "re")) == NULL)
		return CERTFILE_ERRNO;
	pk = PEM_read_PrivateKey(fp, NULL, no_passphrase, NULL);
	(void)fclose(fp);
	if (pk == NULL) {
		ssl_reason(reason, reasonsz);
		return CERTFILE_NO_PEM;
	}
	if (X509_check_private_key(cf->leaf, pk) != 1) {
		ERR_clear_error();
		st = CERTFILE_MISMATCH;
	}
	EVP_PKEY_free(pk);
	return st;
}

bool
certfile_is_not_yet_valid(const struct certfile *cf)
{
	return X509_cmp_time(X509_get0_notBefore(cf->leaf), NULL) > 0;
}

bool
certfile_expires_before(const struct certfile *cf, time_t when)
{
	return X509_cmp_time(X509_get0_notAfter(cf->leaf), &when) < 0;
}

void
certfile_date(const struct certfile *cf, enum certfile_bound which, bool minute,
    char *dst, size_t dstsz)
{
	const ASN1_TIME *t = which == CERTFILE_NOT_BEFORE
	                         ? X509_get0_notBefore(cf->leaf)
	                         : X509_get0_notAfter(cf->leaf);
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1 ||
	    strftime(dst, dstsz, minute ? "%Y-%m-%d %H:%M UTC" : "%Y-%m-%d",
	        &tm) == 0)
		(void)strlcpy(dst, "(bad date)", dstsz);
}

bool
certfile_has_name(const struct certfile *cf, const char *host)
{
	return X509_check_host(cf->leaf, host, 0, 0, NULL) == 1;
}

enum certfile_trust
certfile_verify(const struct certfile *cf, const char **why_out)
{
	enum certfile_trust trust = CERTFILE_UNCHECKED;
	X509_STORE *store;
	X509_STORE_CTX *ctx;

	if (sk_X509_num(cf->chain) == 0 &&
	    X509_check_issued(cf->leaf, cf->leaf) == X509_V_OK) {
		ERR_clear_error();
		return CERTFILE_SELF_SIGNED;
	}
	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	if (store == NULL || ctx == NULL ||
	    X509_STORE_set_default_paths(store) != 1 ||
	    X509_STORE_CTX_init(ctx, store, cf->leaf, cf->chain) != 1)
		goto out;
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME);
	if (X509_verify_cert(ctx) == 1)
		trust = CERTFILE_TRUSTED;
	else {
		trust = CERTFILE_UNTRUSTED;
		*why_out = X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx));
	}
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return trust;
}
