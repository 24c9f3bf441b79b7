/* SPDX-License-Identifier: ISC */
/*
 * obs/webhook.c - POST events to a URL (see webhook.h): a backlog the
 * sink fills under a mutex, and a thread that sends its oldest events,
 * one batch at a time, with libcurl's easy interface.
 * Trust: see webhook.h.
 */
#include "obs/webhook.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "conf/conf.h"
#include "obs/evring.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* A batch's body: 100 lines of a few hundred bytes, with room. */
#define WEBHOOK_BODY_MAX (16 * 1024 * 1024)

struct webhook {
	pthread_t thread;
	CURL *curl;
	struct curl_slist *headers;
	char *url;
	char *auth; /* "Authorization: Bearer TOKEN", wiped at the end */
	char errbuf[CURL_ERROR_SIZE];
	atomic_bool stop; /* also read by curl's progress callback */
	/* Shared with the sink: mtx guards what follows. */
	pthread_mutex_t mtx;
	pthread_cond_t cond; /* an event came, or stop */
	struct evring *backlog;
	/* The drop episode: since the last delivery, when the backlog
	 * was full. */
	uint64_t dropped, drop_first, drop_last;
};

unsigned
webhook_backoff_next(unsigned cur)
{
	if (cur == 0)
		return 1;
	return cur >= WEBHOOK_BACKOFF_MAX / 2 ? WEBHOOK_BACKOFF_MAX : cur * 2;
}

int
webhook_batch(const struct evring *r, size_t max, struct buf *out,
    uint64_t *end_out)
{
	uint64_t pos, seq;
	const char *line;
	size_t len;
	int n = 0;

	buf_clear(out);
	pos = evring_begin(r);
	if (buf_append(out, "[", 1) == -1)
		return -1;
	for (; (size_t)n < max && evring_get(r, pos, &seq, &line, &len);
	     pos++, n++)
		if ((n > 0 && buf_append(out, ",", 1) == -1) ||
		    buf_append(out, line, len) == -1)
			return -1;
	if (buf_append(out, "]", 1) == -1)
		return -1;
	*end_out = pos;
	return n;
}

void
webhook_sink(void *arg, uint64_t seq, const char *line, size_t len,
    const struct obs_event *oe)
{
	struct webhook *wh = arg;
	const char *old;
	uint64_t oldest;
	size_t oldlen;
	bool have;

	(void)oe;
	pthread_mutex_lock(&wh->mtx);
	/* When full the push drops the oldest: note which for the log. */
	have = evring_get(wh->backlog, evring_begin(wh->backlog), &oldest, &old,
	    &oldlen);
	if (evring_push(wh->backlog, seq, line, len) > 0 && have) {
		if (wh->dropped++ == 0)
			wh->drop_first = oldest;
		wh->drop_last = oldest;
	}
	pthread_cond_signal(&wh->cond);
	pthread_mutex_unlock(&wh->mtx);
}

/* ---- one POST ------------------------------------------------------ */

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* Abandon a POST in flight when the server stops. */
static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	struct webhook *wh = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return atomic_load(&wh->stop) ? 1 : 0;
}

static int
setup(struct webhook *wh, struct why *why)
{
	CURL *c;
	int bad = 0;

	if ((c = wh->curl = curl_easy_init()) == NULL)
		return why_set(why, WHY_TEMP, 0, "webhook: curl_easy_init");
	wh->headers = curl_slist_append(NULL, "Content-Type: application/json");
	/* No 100-continue round trip: the receiver takes what comes. */
	wh->headers = curl_slist_append(wh->headers, "Expect:");
	if (wh->auth != NULL)
		wh->headers = curl_slist_append(wh->headers, wh->auth);
	if (wh->headers == NULL)
		return why_set(why, WHY_TEMP, 0, "webhook: no memory");
	bad |= curl_easy_setopt(c, CURLOPT_URL, wh->url) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") !=
	       CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, wh->headers) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_USERAGENT, "tern") != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
	           (long)WEBHOOK_CONNECT_TIMEOUT) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)WEBHOOK_TIMEOUT) !=
	       CURLE_OK;
	/* Threads: no SIGALRM for time-outs (curl's advice). */
	bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress) !=
	       CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_XFERINFODATA, wh) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, wh->errbuf) != CURLE_OK;
	if (bad)
		return why_set(why, WHY_PERM, 0,
		    "webhook: this libcurl lacks an option tern needs (7.85 "
		    "or later)");
	return 0;
}

/*
 * POST body; true when the answer was a 2xx. Otherwise what went wrong
 * is in err[errsz] ("status 503", or curl's words).
 */
static bool
post(struct webhook *wh, const struct buf *body, char *err, size_t errsz)
{
	CURLcode rc;
	long status = 0;

	wh->errbuf[0] = '\0';
	(void)curl_easy_setopt(wh->curl, CURLOPT_POSTFIELDS, body->data);
	(void)curl_easy_setopt(wh->curl, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)body->len);
	rc = curl_easy_perform(wh->curl);
	if (rc != CURLE_OK) {
		(void)snprintf(err, errsz, "%s",
		    wh->errbuf[0] != '\0' ? wh->errbuf
		                          : curl_easy_strerror(rc));
		return false;
	}
	(void)curl_easy_getinfo(wh->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status <= 299)
		return true;
	(void)snprintf(err, errsz, "status %ld", status);
	return false;
}

/* ---- the thread ---------------------------------------------------- */

/* Under mtx: the end of a drop episode, told once. */
static void
log_dropped(struct webhook *wh)
{
	if (wh->dropped == 0)
		return;
	log_warn("event=webhook_dropped count=%llu first_seq=%llu "
	         "last_seq=%llu msg=\"the backlog was full: these events "
	         "were not sent (they are in the journal); raise "
	         "webhook_backlog to keep more\"",
	    (unsigned long long)wh->dropped, (unsigned long long)wh->drop_first,
	    (unsigned long long)wh->drop_last);
	wh->dropped = 0;
}

/* Under mtx: wait `secs`, or until stop. */
static void
wait_backoff(struct webhook *wh, unsigned secs)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += secs;
	while (!atomic_load(&wh->stop) &&
	       pthread_cond_timedwait(&wh->cond, &wh->mtx, &ts) != ETIMEDOUT)
		;
}

static void *
webhook_main(void *arg)
{
	struct webhook *wh = arg;
	struct buf body;
	char err[CURL_ERROR_SIZE + 32];
	unsigned backoff = 0, failures = 0;
	uint64_t end;
	int n;

	buf_init(&body, WEBHOOK_BODY_MAX);
	pthread_mutex_lock(&wh->mtx);
	while (!atomic_load(&wh->stop)) {
		if (evring_count(wh->backlog) == 0) {
			pthread_cond_wait(&wh->cond, &wh->mtx);
			continue;
		}
		n = webhook_batch(wh->backlog, WEBHOOK_BATCH_MAX, &body, &end);
		if (n == -1) /* lines of megabytes: send fewer */
			n = webhook_batch(wh->backlog, 1, &body, &end);
		if (n == -1) { /* cannot happen with journal lines */
			log_warn("event=webhook_dropped count=1 msg=\"an "
			         "event larger than %d bytes\"",
			    WEBHOOK_BODY_MAX);
			evring_pop(wh->backlog, evring_begin(wh->backlog) + 1);
			continue;
		}
		pthread_mutex_unlock(&wh->mtx);
		if (post(wh, &body, err, sizeof(err))) {
			pthread_mutex_lock(&wh->mtx);
			evring_pop(wh->backlog, end);
			if (failures > 0)
				log_info("event=webhook_recovered "
				         "failures=%u",
				    failures);
			log_dropped(wh);
			failures = backoff = 0;
			continue;
		}
		pthread_mutex_lock(&wh->mtx);
		if (atomic_load(&wh->stop))
			break;
		failures++;
		backoff = webhook_backoff_next(backoff);
		/* Once per step: at most one line a minute while down. */
		log_warn("event=webhook_failed error=%s pending=%zu "
		         "dropped=%llu retry_in=%u",
		    LOG_ESC(err), evring_count(wh->backlog),
		    (unsigned long long)wh->dropped, backoff);
		wait_backoff(wh, backoff);
	}
	if (evring_count(wh->backlog) > 0)
		log_warn("event=webhook_unsent count=%zu msg=\"the server "
		         "stopped before the webhook took them; they are in "
		         "the journal\"",
		    evring_count(wh->backlog));
	log_dropped(wh);
	pthread_mutex_unlock(&wh->mtx);
	buf_reset(&body);
	return NULL;
}

static void
wh_free(struct webhook *wh)
{
	if (wh->curl != NULL)
		curl_easy_cleanup(wh->curl);
	curl_slist_free_all(wh->headers);
	if (wh->auth != NULL) {
		explicit_bzero(wh->auth, strlen(wh->auth));
		free(wh->auth);
	}
	evring_free(wh->backlog);
	pthread_cond_destroy(&wh->cond);
	pthread_mutex_destroy(&wh->mtx);
	free(wh->url);
	free(wh);
	curl_global_cleanup();
}

struct webhook *
webhook_start(const struct conf_obs *o, struct why *why)
{
	pthread_condattr_t ca;
	struct webhook *wh;
	char *token = NULL;
	size_t n;

	if (o->webhook_token_file != NULL &&
	    conf_token_load("webhook_token_file", o->webhook_token_file, &token,
	        why) == -1)
		return NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(token);
		return why_set(why, WHY_TEMP, 0, "webhook: curl_global_init"),
		       NULL;
	}
	wh = xcalloc(1, sizeof(*wh));
	wh->url = xstrdup(o->webhook_url);
	if (token != NULL) {
		n = strlen("Authorization: Bearer ") + strlen(token) + 1;
		wh->auth = xmalloc(n);
		(void)snprintf(wh->auth, n, "Authorization: Bearer %s", token);
		explicit_bzero(token, strlen(token));
		free(token);
	}
	atomic_init(&wh->stop, false);
	pthread_mutex_init(&wh->mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wh->cond, &ca);
	pthread_condattr_destroy(&ca);
	wh->backlog = evring_new(o->webhook_backlog);
	if (setup(wh, why) == -1) {
		wh_free(wh);
		return NULL;
	}
	if ((errno = pthread_create(&wh->thread, NULL, webhook_main, wh)) !=
	    0) {
		why_set(why, WHY_TEMP, errno, "webhook: start its thread");
		wh_free(wh);
		return NULL;
	}
	return wh;
}

void
webhook_stop(struct webhook *wh)
{
	if (wh == NULL)
		return;
	pthread_mutex_lock(&wh->mtx);
	atomic_store(&wh->stop, true);
	pthread_cond_signal(&wh->cond);
	pthread_mutex_unlock(&wh->mtx);
	(void)pthread_join(wh->thread, NULL);
	wh_free(wh);
}
