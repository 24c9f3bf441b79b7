/* SPDX-License-Identifier: ISC */
/*
 * obs/httpcap.c - counting an evhttp server's connections and pausing
 * its listener at a cap. See httpcap.h.
 */
#include <stdbool.h>
#include <stdlib.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "obs/httpcap.h"
#include "util/log.h"
#include "util/xmalloc.h"

struct httpcap {
	struct evconnlistener *lev; /* NULL once detached */
	struct event *adopt_ev;
	struct bufferevent **pending; /* made, not yet adopted */
	size_t npending, pending_max;
	size_t nconn, max;
	bool paused;
	const char *busy_event;
};

static void
conn_gone(struct httpcap *hc)
{
	if (hc->nconn > 0)
		hc->nconn--;
	if (hc->paused && hc->nconn < hc->max && hc->lev != NULL) {
		hc->paused = false;
		(void)evconnlistener_enable(hc->lev);
	}
}

static void
on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	conn_gone(arg);
}

/*
 * Right after the accept callback: evhttp made each pending
 * bufferevent's connection (its callbacks' argument), or already freed
 * it on a failure (bufferevent_free() clears the callbacks).
 */
static void
adopt(evutil_socket_t fd, short what, void *arg)
{
	struct httpcap *hc = arg;
	void *evcon;
	size_t i;

	(void)fd;
	(void)what;
	for (i = 0; i < hc->npending; i++) {
		evcon = NULL;
		bufferevent_getcb(hc->pending[i], NULL, NULL, NULL, &evcon);
		if (evcon != NULL)
			evhttp_connection_set_closecb(evcon, on_conn_close, hc);
		else
			conn_gone(hc);
		(void)bufferevent_decref(hc->pending[i]);
	}
	hc->npending = 0;
}

/* evhttp asks for each new connection's bufferevent. */
static struct bufferevent *
new_bev(struct event_base *base, void *arg)
{
	struct httpcap *hc = arg;
	struct bufferevent *bev;

	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		return NULL; /* evhttp makes its own: uncounted, still timed */
	if (hc->npending == hc->pending_max)
		return bev;      /* beyond the burst: uncounted */
	bufferevent_incref(bev); /* alive until adopt() looked at it */
	hc->pending[hc->npending++] = bev;
	event_active(hc->adopt_ev, EV_TIMEOUT, 0);
	if (++hc->nconn >= hc->max && !hc->paused && hc->lev != NULL) {
		/* The rest wait in the kernel's backlog. */
		hc->paused = true;
		(void)evconnlistener_disable(hc->lev);
		log_info("event=%s connections=%zu", hc->busy_event, hc->nconn);
	}
	return bev;
}

struct httpcap *
httpcap_new(struct event_base *base, struct evhttp *http, size_t max,
    const char *busy_event)
{
	struct httpcap *hc = xcalloc(1, sizeof(*hc));

	hc->max = max > 0 ? max : 1;
	hc->pending_max = hc->max + HTTPCAP_BURST;
	hc->pending = xcalloc(hc->pending_max, sizeof(*hc->pending));
	hc->busy_event = busy_event;
	if ((hc->adopt_ev = event_new(base, -1, 0, adopt, hc)) == NULL) {
		free(hc->pending);
		free(hc);
		return NULL;
	}
	evhttp_set_bevcb(http, new_bev, hc);
	return hc;
}

void
httpcap_listen(struct httpcap *hc, struct evconnlistener *lev)
{
	hc->lev = lev;
}

size_t
httpcap_count(const struct httpcap *hc)
{
	return hc->nconn;
}

void
httpcap_detach(struct httpcap *hc)
{
	if (hc == NULL)
		return;
	adopt(-1, 0, hc); /* let go of what evhttp made last */
	hc->lev = NULL;
}

void
httpcap_free(struct httpcap *hc)
{
	if (hc == NULL)
		return;
	event_free(hc->adopt_ev);
	free(hc->pending);
	free(hc);
}
