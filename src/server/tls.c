/* SPDX-License-Identifier: ISC */
/*
 * server/tls.c - build, generate and reload the server's SSL_CTX.
 *
 * The self-signed certificate uses an ECDSA P-256 key (fast to make and
 * to use; every current client accepts it), names the host name in CN
 * and subjectAltName, and is valid for ten years: it exists so that
 * STARTTLS works out of the box, not to be verified.
 * Trust: configuration paths. A configured cert and key are read as root
 * at start, through links if they are links (certbot's live/ is made of
 * them): reading the operator's files is not the danger. The self-signed
 * pair in <data_dir>/tls/ is made and read after the privilege drop, by
 * the user tern runs as, so that root never writes below data_dir.
 */
#include "server/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "conf/conf.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define SELF_DIR "tls"
#define SELF_CERT "self-signed.crt"
#define SELF_KEY "self-signed.key"
#define SELF_DAYS (10 * 365)

/* Where the certificate comes from and how the context is built. */
struct tls_settings {
	char cert[4096], key[4096];
	char *ciphers; /* a copy of [tls] ciphers, or NULL */
	enum conf_tls_version min_version;
};

struct tls {
	pthread_mutex_t mtx;
	SSL_CTX *ctx; /* under mtx */
	struct tls_settings set;
};

void
tls_error_text(unsigned long err, char *dst, size_t dstsz)
{
	if (err == 0) {
		(void)strlcpy(dst, "no OpenSSL error", dstsz);
		return;
	}
	ERR_error_string_n(err, dst, dstsz);
}

/* why from the OpenSSL error queue (which is then empty). */
static int
ssl_why(struct why *why, const char *what, const char *path)
{
	char text[160];

	tls_error_text(ERR_peek_last_error(), text, sizeof(text));
	ERR_clear_error();
	return why_set(why, WHY_PERM, 0, "%s %s: %s", what, path, text);
}

static SSL_CTX *
ctx_build(const struct tls_settings *t, struct why *why)
{
	SSL_CTX *ctx;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		(void)ssl_why(why, "create", "SSL_CTX");
		return NULL;
	}
	/* RFC 8996: TLS 1.0 and 1.1 are deprecated. */
	(void)SSL_CTX_set_min_proto_version(ctx,
	    t->min_version == CONF_TLS_V1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
	(void)SSL_CTX_set_options(ctx,
	    SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
		SSL_OP_CIPHER_SERVER_PREFERENCE);
	(void)SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (t->ciphers != NULL &&
	    SSL_CTX_set_cipher_list(ctx, t->ciphers) != 1) {
		(void)ssl_why(why, "[tls] ciphers", t->ciphers);
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, t->cert) != 1) {
		(void)ssl_why(why, "load certificate chain", t->cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, t->key, SSL_FILETYPE_PEM) != 1) {
		(void)ssl_why(why, "load private key", t->key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		(void)ssl_why(why, "private key does not match certificate",
		    t->cert);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* Write PEM through fn to path (via a temporary file and rename). */
static int
write_pem(const char *path, mode_t mode, int (*fn)(FILE *, void *),
    void *obj, struct why *why)
{
	char tmp[4200];
	FILE *fp;
	int fd, n;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return why_set(why, WHY_PERM, 0, "path too long: %s", path);
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd == -1)
		return why_set(why, WHY_PERM, errno, "create %s", tmp);
	if ((fp = fdopen(fd, "w")) == NULL) {
		(void)close(fd);
		(void)unlink(tmp);
		return why_set(why, WHY_PERM, errno, "fdopen %s", tmp);
	}
	if (fn(fp, obj) != 1 || fflush(fp) != 0 || fsync(fd) != 0) {
		(void)fclose(fp);
		(void)unlink(tmp);
		return why_set(why, WHY_PERM, errno, "write %s", tmp);
	}
	if (fclose(fp) != 0 || rename(tmp, path) != 0) {
		(void)unlink(tmp);
		return why_set(why, WHY_PERM, errno, "rename %s", tmp);
	}
	return 0;
}

static int
pem_key(FILE *fp, void *k)
{
	return PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL);
}

static int
pem_cert(FILE *fp, void *x)
{
	return PEM_write_X509(fp, x);
}

static int
add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* A fresh self-signed certificate for hostname at cert/key. */
static int
self_sign(const char *hostname, const char *cert, const char *key,
    struct why *why)
{
	char san[300];
	EVP_PKEY *pk = NULL;
	X509 *x = NULL;
	X509_NAME *name;
	int ret = -1;

	ERR_clear_error();
	if ((pk = EVP_EC_gen("P-256")) == NULL || (x = X509_new()) == NULL) {
		(void)ssl_why(why, "generate", "key");
		goto out;
	}
	(void)snprintf(san, sizeof(san), "DNS:%s", hostname);
	name = X509_get_subject_name(x);
	if (X509_set_version(x, 2) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL)) !=
		1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * SELF_DAYS) ==
		NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
		(const unsigned char *)hostname, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, pk) != 1 ||
	    add_ext(x, NID_basic_constraints, "critical,CA:FALSE") != 1 ||
	    add_ext(x, NID_subject_alt_name, san) != 1 ||
	    X509_sign(x, pk, EVP_sha256()) == 0) {
		(void)ssl_why(why, "make self-signed certificate", cert);
		goto out;
	}
	/* The key first: a certificate without its key is useless. */
	if (write_pem(key, 0600, pem_key, pk, why) == -1 ||
	    write_pem(cert, 0644, pem_cert, x, why) == -1)
		goto out;
	(void)fsutil_fsync_parent(cert);
	ret = 0;
out:
	X509_free(x);
	EVP_PKEY_free(pk);
	return ret;
}

static int
join(char *dst, size_t dstsz, const char *a, const char *b, const char *c)
{
	int n = snprintf(dst, dstsz, "%s/%s%s%s", a, b, c ? "/" : "",
	    c ? c : "");

	return n < 0 || (size_t)n >= dstsz ? -1 : 0;
}

static void
settings_free(struct tls_settings *ts)
{
	free(ts->ciphers);
	ts->ciphers = NULL;
}

/*
 * What conf's [tls] says, into ts: the configured files, or the
 * self-signed pair below data_dir, made when missing. -1 with why.
 */
static int
settings_from(struct tls_settings *ts, const struct conf *conf,
    struct why *why)
{
	char dir[4096];
	struct stat st;

	memset(ts, 0, sizeof(*ts));
	ts->ciphers =
	    conf->tls.ciphers != NULL ? xstrdup(conf->tls.ciphers) : NULL;
	ts->min_version = conf->tls.min_version;
	if (conf->tls.cert != NULL) {
		(void)strlcpy(ts->cert, conf->tls.cert, sizeof(ts->cert));
		(void)strlcpy(ts->key,
		    conf->tls.key != NULL ? conf->tls.key : conf->tls.cert,
		    sizeof(ts->key));
		return 0;
	}
	if (join(dir, sizeof(dir), conf->data_dir, SELF_DIR, NULL) == -1 ||
	    join(ts->cert, sizeof(ts->cert), conf->data_dir, SELF_DIR,
	        SELF_CERT) == -1 ||
	    join(ts->key, sizeof(ts->key), conf->data_dir, SELF_DIR,
	        SELF_KEY) == -1) {
		why_set(why, WHY_PERM, 0, "data_dir path too long");
		goto fail;
	}
	if (fsutil_mkdirs(dir, 0700, why) == -1)
		goto fail;
	if (stat(ts->cert, &st) == -1 || stat(ts->key, &st) == -1) {
		if (self_sign(conf->hostname, ts->cert, ts->key, why) == -1)
			goto fail;
		log_info("event=tls_self_signed cert=%s key=%s",
		    LOG_ESC(ts->cert), LOG_ESC(ts->key));
	}
	log_warn("event=tls_self_signed_in_use cert=%s "
	         "msg=\"no [tls] cert configured: using a self-signed "
	         "certificate that clients cannot verify; install a real one "
	         "with [tls] cert = /path/fullchain.pem and key = "
	         "/path/privkey.pem, then send SIGHUP\"",
	    LOG_ESC(ts->cert));
	return 0;
fail:
	settings_free(ts);
	return -1;
}

struct tls *
tls_new(const struct conf *conf, struct why *why)
{
	struct tls *t = xcalloc(1, sizeof(*t));

	if (settings_from(&t->set, conf, why) == -1)
		goto fail;
	if ((t->ctx = ctx_build(&t->set, why)) == NULL) {
		settings_free(&t->set);
		goto fail;
	}
	pthread_mutex_init(&t->mtx, NULL);
	return t;
fail:
	free(t);
	return NULL;
}

void
tls_free(struct tls *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	settings_free(&t->set);
	pthread_mutex_destroy(&t->mtx);
	free(t);
}

int
tls_reload(struct tls *t, const struct conf *conf, struct why *why)
{
	struct tls_settings ts, old;
	SSL_CTX *ctx, *oldctx;

	if (settings_from(&ts, conf, why) == -1)
		return -1;
	if ((ctx = ctx_build(&ts, why)) == NULL) {
		settings_free(&ts);
		return -1;
	}
	pthread_mutex_lock(&t->mtx);
	oldctx = t->ctx;
	old = t->set;
	t->ctx = ctx;
	t->set = ts;
	pthread_mutex_unlock(&t->mtx);
	settings_free(&old);
	SSL_CTX_free(oldctx); /* live SSLs hold their own reference */
	return 0;
}

SSL *
tls_ssl_new(struct tls *t)
{
	SSL *ssl;

	pthread_mutex_lock(&t->mtx);
	ssl = SSL_new(t->ctx);
	pthread_mutex_unlock(&t->mtx);
	return ssl;
}

void
tls_describe(const SSL *ssl, char *dst, size_t dstsz)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);

	(void)snprintf(dst, dstsz, "%s %s", SSL_get_version(ssl),
	    c != NULL ? SSL_CIPHER_get_name(c) : "unknown");
}
