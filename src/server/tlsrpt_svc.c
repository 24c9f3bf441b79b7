/* SPDX-License-Identifier: ISC */
/*
 * server/tlsrpt_svc.c - TLS-RPT in the running server (see
 * tlsrpt_svc.h). The timer and the control request are on the main
 * thread; the daily run is not (review r19): it looks up and posts one
 * report after another, each bounded but slow when a name server or an
 * https: rua hangs, and the main thread also serves signals and the
 * control socket. run_mtx keeps to one run at a time.
 */
#include "server/tlsrpt_svc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "conf/conf.h"
#include "deliver/tlsrpt_send.h"
#include "deliver/tlsrpt_store.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

struct tlsrpt_svc {
	struct tlsrpt_store *store;
	struct event *tick;
	struct event *first; /* one shot, TLSRPT_SVC_FIRST after start */
	struct conf_holder *confs;
	struct spool *spool;
	struct sched *sched;
	/* The last UTC day whose earlier days were sent ("": none yet). */
	char checked[TLSRPT_DAY_LEN + 1];
	bool curl_ok;
	pthread_mutex_t run_mtx; /* one run at a time */
	/* The daily run's thread (main thread: started, joined). */
	pthread_t thr;
	bool thr_started;
	atomic_bool thr_done; /* it has returned: join it */
	atomic_bool stop;     /* shutting down: no next domain */
};

struct tlsrpt_svc *
tlsrpt_svc_new(const struct conf *conf)
{
	struct tlsrpt_svc *svc;
	struct tlsrpt_store *st;
	struct why why;

	if (conf->outtls.tlsrpt != CONF_ON)
		return NULL;
	if ((st = tlsrpt_store_open(conf->data_dir, &why)) == NULL) {
		log_warn("event=tlsrpt_unavailable reason=%s msg=\"TLS reports "
		         "are off until this is fixed\"",
		    LOG_ESC(why.text));
		return NULL;
	}
	svc = xcalloc(1, sizeof(*svc));
	svc->store = st;
	pthread_mutex_init(&svc->run_mtx, NULL);
	atomic_init(&svc->thr_done, false);
	atomic_init(&svc->stop, false);
	/* https: reports; webhook.c may have done it too (counted). */
	svc->curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
	tlsrpt_store_set_default(st);
	return svc;
}

/* Send; 0 reports sent but some tried is a failure for the caller. */
static size_t
run(struct tlsrpt_svc *svc, const char *day, bool before_today, struct buf *out,
    size_t *tried)
{
	struct tlsrpt_send_ctx x = { svc->store, svc->spool, svc->sched,
		&svc->stop };
	const struct conf *conf = conf_holder_get(svc->confs);
	size_t sent;

	pthread_mutex_lock(&svc->run_mtx);
	sent = tlsrpt_send_run(&x, conf, day, before_today, out, tried);
	pthread_mutex_unlock(&svc->run_mtx);
	conf_unref(conf);
	if (*tried > 0)
		log_info("event=tlsrpt_run day=%s domains=%zu sent=%zu",
		    day != NULL    ? day
		    : before_today ? "before-today"
		                   : "all",
		    *tried, sent);
	return sent;
}

/* The daily run: the days that have ended. */
static void *
daily(void *arg)
{
	struct tlsrpt_svc *svc = arg;
	struct buf out;
	size_t tried;

	buf_init(&out, CONTROL_REPLY_MAX);
	(void)run(svc, NULL, true, &out, &tried);
	buf_reset(&out);
	atomic_store(&svc->thr_done, true);
	return NULL;
}

/* Join the daily thread (wait: even when it has not returned yet). */
static void
join_daily(struct tlsrpt_svc *svc, bool wait)
{
	if (!svc->thr_started || (!wait && !atomic_load(&svc->thr_done)))
		return;
	(void)pthread_join(svc->thr, NULL);
	svc->thr_started = false;
	atomic_store(&svc->thr_done, false);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct tlsrpt_svc *svc = arg;
	char today[TLSRPT_DAY_LEN + 1];
	struct why why;

	(void)fd;
	(void)what;
	if (tlsrpt_store_flush(svc->store, &why) == -1)
		log_warn("event=tlsrpt_store_error reason=%s",
		    LOG_ESC(why.text));
	join_daily(svc, false);
	tlsrpt_day_of(time(NULL), today);
	if (strcmp(today, svc->checked) == 0 || svc->thr_started)
		return; /* done today, or yesterday's run is still going */
	/* Once a day (and at the first tick): the days that have ended. */
	(void)strlcpy(svc->checked, today, sizeof(svc->checked));
	if (pthread_create(&svc->thr, NULL, daily, svc) != 0) {
		log_warn("event=tlsrpt_store_error reason=\"cannot start the "
		         "daily run's thread; next tick\"");
		svc->checked[0] = '\0';
		return;
	}
	svc->thr_started = true;
}

void
tlsrpt_svc_start(struct tlsrpt_svc *svc, struct event_base *base,
    struct conf_holder *confs, struct spool *spool, struct sched *sched)
{
	struct timeval tv = { TLSRPT_SVC_TICK, 0 };
	struct timeval tv1 = { TLSRPT_SVC_FIRST, 0 };

	if (svc == NULL)
		return;
	svc->confs = confs;
	svc->spool = spool;
	svc->sched = sched;
	svc->tick = event_new(base, -1, EV_PERSIST, on_tick, svc);
	svc->first = event_new(base, -1, 0, on_tick, svc);
	if (svc->tick == NULL || event_add(svc->tick, &tv) == -1 ||
	    svc->first == NULL || event_add(svc->first, &tv1) == -1)
		log_warn("event=tlsrpt_unavailable reason=\"cannot arm the "
		         "timer\" msg=\"counts are kept; send with tern tlsrpt "
		         "send\"");
}

enum control_status
tlsrpt_svc_control(struct tlsrpt_svc *svc, const char *args, struct buf *out)
{
	const char *day = NULL;
	size_t sent, tried;

	if (strncmp(args, "send", 4) != 0 ||
	    (args[4] != '\0' && args[4] != ' ')) {
		(void)buf_append_str(out, "usage: tlsrpt send [YYYY-MM-DD]\n");
		return CONTROL_REFUSED;
	}
	if (args[4] == ' ') {
		day = args + 5;
		if (!tlsrpt_day_parse(day, NULL)) {
			(void)buf_printf(out, "not a day: '%s' (YYYY-MM-DD)\n",
			    LOG_ESC(day));
			return CONTROL_REFUSED;
		}
	}
	if (svc == NULL) {
		(void)buf_append_str(out,
		    "TLS reporting is off ([outbound_tls] "
		    "tlsrpt = off, or its store could not "
		    "be opened: see the log)\n");
		return CONTROL_FAIL;
	}
	sent = run(svc, day, false, out, &tried);
	if (tried == 0) {
		(void)buf_printf(out, "no TLS counts%s%s: nothing to send\n",
		    day != NULL ? " for " : "", day != NULL ? day : "");
		return CONTROL_FAIL;
	}
	(void)buf_printf(out, "%zu of %zu report%s sent\n", sent, tried,
	    tried == 1 ? "" : "s");
	return sent > 0 ? CONTROL_OK : CONTROL_FAIL;
}

void
tlsrpt_svc_stop(struct tlsrpt_svc *svc)
{
	if (svc == NULL)
		return;
	atomic_store(&svc->stop, true);
	join_daily(svc, true);
}

void
tlsrpt_svc_free(struct tlsrpt_svc *svc)
{
	if (svc == NULL)
		return;
	tlsrpt_svc_stop(svc);
	if (svc->tick != NULL)
		event_free(svc->tick);
	if (svc->first != NULL)
		event_free(svc->first);
	tlsrpt_store_set_default(NULL);
	tlsrpt_store_free(svc->store);
	if (svc->curl_ok)
		curl_global_cleanup();
	pthread_mutex_destroy(&svc->run_mtx);
	free(svc);
}
