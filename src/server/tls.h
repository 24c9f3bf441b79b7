/* SPDX-License-Identifier: ISC */
/*
 * server/tls.h - the server's TLS context (OpenSSL 3): certificate chain
 * and key from [tls], or a self-signed pair generated in
 * <data_dir>/tls/ at first start; TLS 1.2 or newer; reloaded on SIGHUP.
 *
 * A reload builds a new SSL_CTX and swaps it in: sessions already
 * running keep the SSL they have (it holds its own reference to the old
 * context), new sessions get the new certificate. It does not do I/O on
 * connections: server/session-tls.c wraps its bufferevents with the SSL
 * objects made here (bufferevent_openssl).
 * Trust: runs as root at start (the key may be readable by root only);
 * the files are the operator's. A reload after the privilege drop can
 * only read what the unprivileged user may read; a failed reload keeps
 * the old context and says why.
 */
#ifndef TERN_SERVER_TLS_H
#define TERN_SERVER_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "util/why.h"

struct conf;
struct tls;

/* "TLSv1.3 TLS_AES_256_GCM_SHA384": version, space, cipher. */
#define TLS_DESC_MAX 96

/*
 * Load [tls] cert/key, or create (or reuse) <data_dir>/tls/self-signed.*
 * when no cert is configured, logging a warning that says how to install
 * a real one. NULL with why on any error (bad file, key mismatch, bad
 * cipher list).
 */
struct tls *tls_new(const struct conf *, struct why *);
void tls_free(struct tls *); /* NULL is fine */

/*
 * Build a new context from conf's [tls] (a reload: the files may be
 * renewed, or the settings changed) and use it for new connections; -1
 * with why keeps the old one.
 */
int tls_reload(struct tls *, const struct conf *, struct why *);

/* An SSL for one new connection (server side). Any thread. NULL on
 * error (out of memory). The caller owns it. */
SSL *tls_ssl_new(struct tls *);

/* Version and cipher of an established connection into dst. */
void tls_describe(const SSL *, char *dst, size_t dstsz);

/* The reason of an OpenSSL error code, for a log line. */
void tls_error_text(unsigned long err, char *dst, size_t dstsz);

#endif
