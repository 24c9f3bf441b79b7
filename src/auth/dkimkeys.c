/* SPDX-License-Identifier: ISC */
/*
 * auth/dkimkeys.c - the DKIM key store: <data_dir>/dkim/DOMAIN/SEL.key.
 * Every step below data_dir is relative to a directory descriptor and
 * follows no symbolic link; key bytes are wiped from our buffers after
 * OpenSSL has parsed them.
 */
#include "auth/dkimkeys.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/dkim-private.h"

#define KEY_SUFFIX ".key"

bool
dkimkeys_name_ok(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n >= DKIM_SELECTOR_MAX * 4 || n >= DNS_NAME_MAX ||
	    name[0] == '.' || name[0] == '-' || name[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		int c = (unsigned char)name[i];

		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return false;
		if (c == '.' && (name[i - 1] == '.' || name[i + 1] == '-'))
			return false;
	}
	return true;
}

static void
lower(char *dst, const char *src, size_t max)
{
	size_t i;

	for (i = 0; src[i] != '\0' && i + 1 < max; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[i] = '\0';
}

/* A directory below dirfd, never a link: the fd, or -1 with errno. */
static int
open_subdir(int dirfd, const char *name)
{
	return openat(dirfd, name,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/*
 * data_dir/dkim/DOMAIN (making the missing ones, 0700, when create):
 * the fd, or -1 with errno (ENOENT: not there).
 */
static int
open_domain_dir(const char *data_dir, const char *domain, bool create)
{
	int top, dk, dom = -1, e;

	/* Like `tern user`, a first command may come before data_dir. */
	if (create && mkdir(data_dir, 0750) == -1 && errno != EEXIST)
		return -1;
	if ((top = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if (create && mkdirat(top, DKIMKEYS_DIR, 0700) == -1 && errno != EEXIST)
		goto fail_top;
	if ((dk = open_subdir(top, DKIMKEYS_DIR)) == -1)
		goto fail_top;
	if (create && mkdirat(dk, domain, 0700) == -1 && errno != EEXIST)
		goto fail_dk;
	dom = open_subdir(dk, domain);
fail_dk:
	e = errno;
	close(dk);
	errno = e;
fail_top:
	e = errno;
	close(top);
	errno = e;
	return dom;
}

/* Read one PEM private key file below dirfd: 0, or -1 with why. */
static int
read_key(int dirfd, const char *domain, const char *file, EVP_PKEY **out,
    struct why *why)
{
	char data[DKIMKEYS_FILE_MAX];
	struct stat st;
	ssize_t got;
	size_t len = 0;
	BIO *bio;
	int fd;

	fd =
	    openat(dirfd, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return why_set(why, WHY_PERM, errno, "dkim key %s/%s/%s",
		    DKIMKEYS_DIR, domain, file);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return why_set(why, WHY_PERM, 0,
		    "dkim key %s/%s/%s: not a regular file", DKIMKEYS_DIR,
		    domain, file);
	}
	while (len < sizeof(data) &&
	       (got = read(fd, data + len, sizeof(data) - len)) > 0)
		len += (size_t)got;
	close(fd);
	bio = BIO_new_mem_buf(data, (int)len);
	*out =
	    bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	OPENSSL_cleanse(data, len);
	if (*out == NULL)
		return why_set(why, WHY_PERM, 0,
		    "dkim key %s/%s/%s: not a PEM private key", DKIMKEYS_DIR,
		    domain, file);
	return 0;
}

static int
add_key(struct dkimkeys *ks, int dirfd, const char *domain,
    const char *selector, struct why *why)
{
	char file[DKIM_SELECTOR_MAX + sizeof(KEY_SUFFIX)];
	struct dkim_sign_key *k;
	EVP_PKEY *pkey;
	int id;

	if (ks->n == DKIMKEYS_MAX)
		return why_set(why, WHY_PERM, 0,
		    "dkim: more than %d keys for %s", DKIMKEYS_MAX, domain);
	if (!dkimkeys_name_ok(selector) ||
	    strlen(selector) >= DKIM_SELECTOR_MAX)
		return why_set(why, WHY_PERM, 0, "dkim: bad selector '%s'",
		    selector);
	(void)snprintf(file, sizeof(file), "%s%s", selector, KEY_SUFFIX);
	if (read_key(dirfd, domain, file, &pkey, why) == -1)
		return -1;
	id = EVP_PKEY_get_base_id(pkey);
	if (id != EVP_PKEY_RSA && id != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pkey);
		return why_set(why, WHY_PERM, 0,
		    "dkim key %s/%s/%s: neither RSA nor Ed25519", DKIMKEYS_DIR,
		    domain, file);
	}
	k = &ks->key[ks->n];
	k->pkey = pkey;
	k->alg = id == EVP_PKEY_RSA ? DKIM_RSA_SHA256 : DKIM_ED25519_SHA256;
	ks->bits[ks->n] = (unsigned)EVP_PKEY_get_bits(pkey);
	k->domain = strdup(domain);
	k->selector = strdup(selector);
	ks->n++;
	if (k->domain == NULL || k->selector == NULL)
		return why_set(why, WHY_TEMP, ENOMEM, "dkim");
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Names in dirfd: with want_dirs, the subdirectories; else the stems of
 * the *.key files. Sorted, NULL-terminated, only names dkimkeys_name_ok.
 */
static char **
list_names(int dirfd, bool want_dirs, struct why *why)
{
	char **v = calloc(1, sizeof(*v)), **nv;
	size_t n = 0, len, sl = strlen(KEY_SUFFIX);
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;

	if (v == NULL || (fd = dup(dirfd)) == -1 ||
	    (d = fdopendir(fd)) == NULL) {
		why_set(why, WHY_TEMP, errno, "dkim: cannot list keys");
		free(v);
		return NULL;
	}
	while ((de = readdir(d)) != NULL) {
		char name[256];

		(void)snprintf(name, sizeof(name), "%s", de->d_name);
		len = strlen(name);
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		if (want_dirs ? !S_ISDIR(st.st_mode)
		              : (!S_ISREG(st.st_mode) || len <= sl ||
		                    strcmp(name + len - sl, KEY_SUFFIX) != 0))
			continue;
		if (!want_dirs)
			name[len - sl] = '\0';
		if (!dkimkeys_name_ok(name) ||
		    (nv = realloc(v, (n + 2) * sizeof(*v))) == NULL)
			continue;
		v = nv;
		if ((v[n] = strdup(name)) != NULL)
			v[++n] = NULL;
	}
	closedir(d);
	qsort(v, n, sizeof(*v), cmp_str);
	return v;
}

static void
free_names(char **v)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

int
dkimkeys_load(const char *data_dir, const char *domain,
    const char *const *selectors, struct dkimkeys *out, struct why *why)
{
	char dom[DNS_NAME_MAX], **names = NULL;
	const char *const *sel = selectors;
	int fd, rc = 0;
	size_t i;

	memset(out, 0, sizeof(*out));
	lower(dom, domain, sizeof(dom));
	if (!dkimkeys_name_ok(dom))
		return why_set(why, WHY_PERM, 0, "dkim: bad domain '%s'",
		    domain);
	if ((fd = open_domain_dir(data_dir, dom, false)) == -1) {
		if (errno == ENOENT && selectors == NULL)
			return 0;
		return why_set(why, WHY_PERM, errno, "dkim: %s/%s/%s", data_dir,
		    DKIMKEYS_DIR, dom);
	}
	if (sel == NULL) {
		if ((names = list_names(fd, false, why)) == NULL) {
			close(fd);
			return -1;
		}
		sel = (const char *const *)names;
	}
	for (i = 0; sel[i] != NULL && rc == 0; i++)
		rc = add_key(out, fd, dom, sel[i], why);
	close(fd);
	free_names(names);
	if (rc == -1)
		dkimkeys_free(out);
	return rc;
}

void
dkimkeys_free(struct dkimkeys *ks)
{
	size_t i;

	for (i = 0; i < ks->n; i++) {
		free((char *)ks->key[i].domain);
		free((char *)ks->key[i].selector);
		EVP_PKEY_free(ks->key[i].pkey);
	}
	memset(ks, 0, sizeof(*ks));
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Write pkey as PEM to dirfd/file, created exclusively, 0600. */
static int
write_key(int dirfd, const char *file, EVP_PKEY *pkey, struct why *why)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem;
	long len;
	int fd, e;

	if (bio == NULL || PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0,
	                       NULL, NULL) != 1) {
		BIO_free(bio);
		return why_set(why, WHY_TEMP, 0, "dkim: cannot encode the key");
	}
	len = BIO_get_mem_data(bio, &pem);
	fd = openat(dirfd, file,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1 || write_all(fd, pem, (size_t)len) == -1 ||
	    fsync(fd) == -1) {
		e = errno;
		if (fd != -1) {
			close(fd);
			unlinkat(dirfd, file, 0);
		}
		BIO_free(bio);
		return why_set(why, WHY_PERM, e, "dkim: %s", file);
	}
	close(fd);
	(void)fsync(dirfd);
	BIO_free(bio);
	return 0;
}

int
dkimkeys_generate(const char *data_dir, const char *domain,
    const char *selector, enum dkim_alg alg, unsigned bits, EVP_PKEY **pkey_out,
    struct why *why)
{
	char dom[DNS_NAME_MAX], file[DKIM_SELECTOR_MAX + sizeof(KEY_SUFFIX)];
	EVP_PKEY *pkey;
	int fd, rc;

	lower(dom, domain, sizeof(dom));
	if (!dkimkeys_name_ok(dom))
		return why_set(why, WHY_PERM, 0, "bad domain '%s'", domain);
	if (!dkimkeys_name_ok(selector) ||
	    strlen(selector) >= DKIM_SELECTOR_MAX)
		return why_set(why, WHY_PERM, 0, "bad selector '%s'", selector);
	if (alg == DKIM_RSA_SHA256 && (bits < 1024 || bits > 8192))
		return why_set(why, WHY_PERM, 0,
		    "RSA keys have 1024 to 8192 bits");
	(void)snprintf(file, sizeof(file), "%s%s", selector, KEY_SUFFIX);
	if ((fd = open_domain_dir(data_dir, dom, true)) == -1)
		return why_set(why, WHY_PERM, errno, "%s/%s/%s", data_dir,
		    DKIMKEYS_DIR, dom);
	if (faccessat(fd, file, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		close(fd);
		return why_set(why, WHY_PERM, EEXIST,
		    "selector %s of %s exists", selector, dom);
	}
	pkey = alg == DKIM_RSA_SHA256
	           ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits)
	           : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (pkey == NULL) {
		close(fd);
		return why_set(why, WHY_TEMP, 0, "cannot make a key");
	}
	rc = write_key(fd, file, pkey, why);
	close(fd);
	if (rc == 0 && pkey_out != NULL)
		*pkey_out = pkey;
	else
		EVP_PKEY_free(pkey);
	return rc;
}

void
dkimkeys_default_selector(time_t now, enum dkim_alg alg, char out[16])
{
	struct tm tm;
	unsigned year, month;

	gmtime_r(&now, &tm);
	/* Bounded so that the compiler sees the 8 characters fit. */
	year = (unsigned)(tm.tm_year + 1900) % 10000u;
	month = (unsigned)(tm.tm_mon + 1) % 100u;
	(void)snprintf(out, 16, "t%04u%02u%c", year, month,
	    alg == DKIM_ED25519_SHA256 ? 'e' : 'r');
}

int
dkimkeys_txt_value(EVP_PKEY *pkey, enum dkim_alg alg, struct buf *out)
{
	unsigned char *der = NULL, raw[32];
	size_t rawlen = sizeof(raw);
	int len, rc;

	if (alg == DKIM_ED25519_SHA256) {
		/* RFC 8463 4.2: p= is the raw 32-byte public key. */
		if (EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen) != 1)
			return -1;
		return buf_append_str(out, "v=DKIM1; k=ed25519; p=") == -1
		           ? -1
		           : dkim_b64_encode(raw, rawlen, out);
	}
	if ((len = i2d_PUBKEY(pkey, &der)) <= 0)
		return -1;
	rc = buf_append_str(out, "v=DKIM1; k=rsa; p=") == -1
	         ? -1
	         : dkim_b64_encode(der, (size_t)len, out);
	OPENSSL_free(der);
	return rc;
}

int
dkimkeys_txt_quoted(const char *value, struct buf *out)
{
	size_t n = strlen(value), k;

	while (n > 0) {
		k = n < 255 ? n : 255;
		if (buf_printf(out, "\"%.*s\"%s", (int)k, value,
		        n > k ? " " : "") == -1)
			return -1;
		value += k;
		n -= k;
	}
	return 0;
}

int
dkimkeys_domains(const char *data_dir, char ***out, struct why *why)
{
	int top, dk = -1;

	top = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (top == -1 && errno != ENOENT)
		return why_set(why, WHY_PERM, errno, "%s", data_dir);
	if (top != -1) {
		dk = open_subdir(top, DKIMKEYS_DIR);
		close(top);
	}
	if (dk == -1) {
		if (errno != ENOENT)
			return why_set(why, WHY_PERM, errno, "%s/%s", data_dir,
			    DKIMKEYS_DIR);
		if ((*out = calloc(1, sizeof(**out))) == NULL)
			return why_set(why, WHY_TEMP, ENOMEM, "dkim");
		return 0;
	}
	*out = list_names(dk, true, why);
	close(dk);
	return *out == NULL ? -1 : 0;
}
