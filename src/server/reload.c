/* SPDX-License-Identifier: ISC */
/*
 * server/reload.c - SIGHUP and `tern reload` (issue 15): re-read the
 * configuration file and put it in force, or refuse it and keep the one
 * running (server-private.h server_reload()).
 *
 * Nothing is stopped: the new configuration goes into the holder
 * (conf.h), where each new session, delivery pass, pickup file and
 * recipient check takes it; the ones already under way hold a reference
 * to the old one and finish on it, which is then freed. What was bound,
 * created or started from a setting (the listeners, data_dir, the user,
 * the threads, the log file, the resolver) takes a restart: a file that
 * changes one is refused whole, so the server never runs half on one
 * file and half on another.
 * Trust: the file is the operator's and is checked as at start; this
 * runs as the unprivileged user, so it reads only what that user may.
 */
#include "server/server-private.h"

#include <string.h>
#include <sys/socket.h>

#include "server/auth.h"
#include "server/msgauth.h"
#include "server/tls.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/notify.h"

static bool
str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

/*
 * Append to out every setting that differs between the running old and
 * the new configuration and takes a restart; returns how many.
 */
static size_t
restart_changes(const struct conf *old, const struct conf *new,
    struct buf *out)
{
	const struct conf_listener *a, *b;
	size_t i, n = 0;

#define CHANGED(...)                                                       \
	do {                                                               \
		(void)buf_printf(out, "  " __VA_ARGS__);                   \
		(void)buf_append_str(out, "\n");                           \
		n++;                                                       \
	} while (0)
	if (str_differs(old->data_dir, new->data_dir))
		CHANGED("data_dir");
	if (str_differs(old->user, new->user))
		CHANGED("user");
	if (str_differs(old->log_file, new->log_file))
		CHANGED("log_file");
	if (str_differs(old->dns_server, new->dns_server))
		CHANGED("dns_server");
	if (old->threads != new->threads)
		CHANGED("threads");
	if (old->queue.delivery_threads != new->queue.delivery_threads)
		CHANGED("[queue] delivery_threads");
	if (str_differs(old->obs.http_listen, new->obs.http_listen) ||
	    str_differs(old->obs.http_token_file, new->obs.http_token_file))
		CHANGED("[observability] http_listen, http_token_file");
	if (old->obs.journal != new->obs.journal ||
	    old->obs.journal_max_size != new->obs.journal_max_size ||
	    old->obs.events_socket != new->obs.events_socket)
		CHANGED("[observability] journal, journal_max_size, "
		        "events_socket");
	if (str_differs(old->obs.webhook_url, new->obs.webhook_url) ||
	    str_differs(old->obs.webhook_token_file,
	        new->obs.webhook_token_file) ||
	    old->obs.webhook_backlog != new->obs.webhook_backlog)
		CHANGED("[observability] webhook_url, webhook_token_file, "
		        "webhook_backlog");
	if (old->nlisteners != new->nlisteners)
		CHANGED("the set of [listener] sections");
	for (i = 0; i < old->nlisteners && i < new->nlisteners; i++) {
		a = &old->listeners[i];
		b = &new->listeners[i];
		if (strcmp(a->name, b->name) != 0)
			CHANGED("the order or names of the [listener] "
			        "sections");
		else if (a->salen != b->salen ||
		    memcmp(&a->sa, &b->sa, a->salen) != 0)
			CHANGED("[listener %s] address", a->name);
		else if (a->tls != b->tls)
			CHANGED("[listener %s] tls", a->name);
	}
#undef CHANGED
	return n;
}

/* Reopen the log file (rotation); -1 with a line in out. */
static int
reopen_log(struct buf *out)
{
	struct why why;

	if (log_reopen(&why) == 0)
		return 0;
	log_warn("event=log_reopen_failed error=%s", LOG_ESC(why.text));
	(void)buf_printf(out, "log file: %s\n", why.text);
	return -1;
}

/*
 * Load and check the file the server started from; NULL with the
 * reason in out (and the log) when it must be refused.
 */
static struct conf *
load_new(struct server *srv, const struct conf *cur, struct buf *out)
{
	struct conf *c;
	struct buf changes;
	struct why why;

	why_clear(&why);
	c = srv->boot->path != NULL ? conf_load(srv->boot->path, &why)
	                            : conf_default();
	if (c == NULL) {
		(void)buf_printf(out, "%s\n", why.text);
		return NULL;
	}
	buf_init(&changes, 4096);
	if (restart_changes(cur, c, &changes) > 0) {
		(void)buf_printf(out,
		    "%s changes settings that take a restart (tern serve "
		    "again, or systemctl restart tern):\n%s",
		    c->path != NULL ? c->path : "(default)",
		    changes.data != NULL ? (const char *)changes.data : "");
		buf_reset(&changes);
		conf_free(c);
		return NULL;
	}
	buf_reset(&changes);
	if (conf_secrets_load(c, server_log_config_warning, NULL, &why) ==
	        -1 ||
	    (srv->tls != NULL && tls_reload(srv->tls, c, &why) == -1)) {
		(void)buf_printf(out, "%s\n", why.text);
		conf_free(c);
		return NULL;
	}
	return c;
}

int
server_reload(struct server *srv, struct buf *out)
{
	const struct conf *cur = conf_holder_get(srv->confs);
	struct conf *c;
	struct buf text;
	int rc = 0;

	notify_reloading();
	buf_init(&text, 64 * 1024);
	(void)reopen_log(&text); /* said in text; the rest goes on */
	if ((c = load_new(srv, cur, &text)) == NULL) {
		rc = -1;
		log_warn("event=reload_refused path=%s error=%s "
		         "msg=\"the running configuration stays\"",
		    LOG_ESC(srv->boot->path != NULL ? srv->boot->path
		                                    : "(default)"),
		    LOG_ESC(text.data != NULL ? (const char *)text.data : ""));
		(void)buf_append_str(&text, "nothing was changed: the running "
		                            "configuration stays\n");
	} else {
		conf_warnings(c, server_log_config_warning, NULL);
		conf_secrets_warnings(c, server_log_config_warning, NULL);
		server_limits_apply(srv, &c->limits);
		if (srv->mauth != NULL)
			msgauth_pool_keys(srv->mauth, c); /* keygen, [dkim] */
		conf_holder_set(srv->confs, c); /* new sessions get it now */
		log_info("event=reload what=config path=%s",
		    LOG_ESC(c->path != NULL ? c->path : "(default)"));
		(void)buf_printf(&text,
		    "reloaded %s: new sessions and deliveries use it, those "
		    "under way finish on the previous settings%s\n",
		    c->path != NULL ? c->path : "(default)",
		    srv->tls != NULL ? "; certificate loaded" : "");
	}
	if (out != NULL && text.len > 0)
		(void)buf_append(out, text.data, text.len);
	buf_reset(&text);
	conf_unref(cur);
	notify_reloaded(rc == 0 ? "reloaded" : "reload refused");
	return rc;
}
