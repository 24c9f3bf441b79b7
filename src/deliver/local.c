/* SPDX-License-Identifier: ISC */
/*
 * deliver/local.c - local mail into <data_dir>/mail/<domain>/<local>/.
 */
#include "deliver/local.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf/conf.h"
#include "deliver/maildir.h"
#include "dir/subaddr.h"
#include "queue/sched.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define PREFIX_MAX (2 * SPOOL_FIELD_MAX + 64 + SPOOL_PREFIX_MAX)

struct local {
	struct sched_deliverer d; /* first: the server holds &l->d */
};

bool
local_is_safe_component(const char *p, size_t n)
{
	size_t i;

	/* A leading '.' covers ".", ".." and Maildir++ folder names. */
	if (n == 0 || n > NAME_MAX || p[0] == '.')
		return false;
	for (i = 0; i < n; i++)
		if (p[i] == '/' || (unsigned char)p[i] < 0x20 ||
		    (unsigned char)p[i] == 0x7f)
			return false;
	return true;
}


/* Header text must stay on its line: control bytes become '?'. */
/* The spool's header fields on top (CRLF) as Maildir lines (LF). */
static int
append_lf(struct buf *b, const char *p, size_t n)
{
	size_t i, start = 0;

	for (i = 0; i + 1 < n; i++)
		if (p[i] == '\r' && p[i + 1] == '\n') {
			if (buf_append(b, p + start, i - start) == -1)
				return -1;
			start = i + 1; /* the LF */
		}
	return buf_append(b, p + start, n - start);
}

static int
append_clean(struct buf *b, const char *s)
{
	char c;

	for (; *s != '\0'; s++) {
		c = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
		if (buf_append(b, &c, 1) == -1)
			return -1;
	}
	return 0;
}

/*
 * The Maildir++ folder for a subaddress (alice+news@ -> <maildir>/.news,
 * Dovecot's layout), into path[] when the folder exists as a directory
 * of its own (not a link); else path[] is left as the inbox. Only a
 * folder the user made is used: tern never creates one.
 */
static void
pick_folder(char *path, size_t pathsz, const char *detail, size_t dlen)
{
	char folder[PATH_MAX];
	struct stat st;
	int n;

	if (!subaddr_folder_ok(detail, dlen))
		return;
	n = snprintf(folder, sizeof(folder), "%s/.%.*s", path, (int)dlen,
	    detail);
	if (n < 0 || (size_t)n >= sizeof(folder) || lstat(folder, &st) == -1 ||
	    !S_ISDIR(st.st_mode))
		return;
	(void)strlcpy(path, folder, pathsz);
}

static void *
thread_init(void *arg)
{
	return arg; /* no per-thread state yet */
}

static void
thread_fini(void *ctx)
{
	(void)ctx;
}

/*
 * The Maildir of addr relative to data_dir, "mail/<domain>/<local>",
 * into dst (PATH_MAX); -1 with why when addr has none here.
 */
static int
mailbox(const struct conf *conf, const char *addr, char *dst, size_t dstsz,
    struct why *why)
{
	const char *at;
	char domain[256];
	size_t llen;
	int n;

	at = strrchr(addr, '@');
	if (at == NULL || at == addr || at[1] == '\0')
		return why_set(why, WHY_PERM, 0,
		    "recipient address has no local part or domain");
	llen = (size_t)(at - addr);
	if (strlen(at + 1) >= sizeof(domain))
		return why_set(why, WHY_PERM, 0, "recipient domain too long");
	(void)strlcpy(domain, at + 1, sizeof(domain));
	ascii_lower_str(domain);
	if (!conf_is_local_domain(conf, domain))
		return why_set(why, WHY_TEMP, 0,
		    "remote delivery is not available yet");
	if (!local_is_safe_component(addr, llen) ||
	    !local_is_safe_component(domain, strlen(domain)))
		return why_set(why, WHY_PERM, 0,
		    "unsafe mailbox name for a Maildir path");
	n = snprintf(dst, dstsz, "mail/%s/%.*s", domain, (int)llen, addr);
	if (n < 0 || (size_t)n >= dstsz)
		return why_set(why, WHY_TEMP, ENAMETOOLONG,
		    "mailbox path too long below %s", conf->data_dir);
	return 0;
}

void
local_relay(const struct conf *conf, const char *addr, char *dst, size_t dstsz)
{
	char rel[PATH_MAX];
	struct why why;

	if (dstsz == 0)
		return;
	dst[0] = '\0';
	if (mailbox(conf, addr, rel, sizeof(rel), &why) == 0)
		(void)snprintf(dst, dstsz, "maildir:%s", rel);
}

static int
deliver(void *ctx, const struct conf *conf, const struct spool_env *env,
    int fd, size_t idx, struct why *why)
{
	const char *addr, *orcpt, *detail, *delivered_to;
	char path[PATH_MAX], rel[PATH_MAX];
	struct maildir_key key = { .qid = env->id,
		.idx = idx,
		.arrival = env->arrival };
	struct buf pre;
	size_t dlen;
	bool found = false;
	int n, rc;

	(void)ctx; /* no per-thread state */
	if (idx >= env->nrcpts)
		return why_set(why, WHY_PERM, 0, "no recipient %zu", idx);
	addr = env->rcpts[idx].addr;
	if (mailbox(conf, addr, rel, sizeof(rel), why) == -1)
		return -1;
	n = snprintf(path, sizeof(path), "%s/%s", conf->data_dir, rel);
	if (n < 0 || (size_t)n >= sizeof(path))
		return why_set(why, WHY_TEMP, ENAMETOOLONG,
		    "mailbox path too long below %s", conf->data_dir);
	/*
	 * A subaddress (alice+news@, resolved to the mailbox alice@):
	 * Delivered-To keeps the address as it was given, and the folder
	 * .news takes the mail when it exists.
	 */
	orcpt = env->rcpts[idx].orcpt;
	delivered_to = addr;
	if (orcpt != NULL &&
	    subaddr_detail(addr, orcpt, conf->recipient_delimiter, &detail,
	        &dlen)) {
		delivered_to = orcpt;
		if (!env->junk)
			pick_folder(path, sizeof(path), detail, dlen);
	}
	/*
	 * DMARC quarantine (issue 16): the Junk folder, which Dovecot
	 * shows as Junk (Maildir++ ".Junk", beside the others, so a
	 * subaddress folder gives way to it); made when missing.
	 */
	if (env->junk && strlen(path) + sizeof("/.Junk") <= sizeof(path))
		(void)strlcat(path, "/.Junk", sizeof(path));
	/* RFC 5321 4.4: the final delivery adds Return-Path. */
	buf_init(&pre, PREFIX_MAX);
	if (buf_append_str(&pre, "Return-Path: <") == -1 ||
	    append_clean(&pre, env->sender != NULL ? env->sender : "") == -1 ||
	    buf_append_str(&pre, ">\nDelivered-To: ") == -1 ||
	    append_clean(&pre, delivered_to) == -1 ||
	    buf_append(&pre, "\n", 1) == -1 ||
	    (env->prefix != NULL &&
	        append_lf(&pre, env->prefix, env->prefix_len) == -1)) {
		bool nomem = errno == ENOMEM;

		buf_reset(&pre);
		if (nomem) /* ours: retry later, never bounce */
			return why_set(why, WHY_TEMP, ENOMEM,
			    "build the Return-Path field");
		return why_set(why, WHY_PERM, 0, "addresses too long");
	}
	/*
	 * Keyed by queue id and recipient: a retry after a crash that cut
	 * the spool's record of this delivery finds it and does not copy.
	 */
	rc = maildir_deliver(path, env->id[0] != '\0' ? &key : NULL,
	    (const char *)pre.data, pre.len, fd, env->body_offset,
	    env->body_size, NULL, 0, &found, why);
	buf_reset(&pre);
	/* The id is the spool's (spool_is_id): safe in a log line. */
	if (rc == 0 && found)
		log_info("event=already_delivered id=%s rcpt=%zu", env->id,
		    idx);
	return rc;
}

struct sched_deliverer *
local_deliverer_new(void)
{
	struct local *l;

	l = xcalloc(1, sizeof(*l));
	l->d.thread_init = thread_init;
	l->d.thread_fini = thread_fini;
	l->d.deliver = deliver;
	l->d.arg = l;
	l->d.name = "maildir";
	return &l->d;
}

void
local_deliverer_free(struct sched_deliverer *d)
{
	free(d); /* d is the first member of struct local */
}
