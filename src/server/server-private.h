/* SPDX-License-Identifier: ISC */
/*
 * server/server-private.h - state shared by the files of server/.
 */
#ifndef TERN_SERVER_PRIVATE_H
#define TERN_SERVER_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf/conf.h"

struct loop;
struct buf;
struct session;
struct spool;
struct sched;
struct workers;
struct evconnlistener;
struct tls;
struct tlsrpt_svc;
struct authfail;
struct ratelimit;

/* One bound socket of one [listener], on one loop. */
struct listener_ctx {
	struct server *srv;
	struct loop *loop;
	/* Its [listener] in every configuration: a reload may change its
	 * settings (allow, deny, mode), never the set or the addresses. */
	size_t index;
	int fd;
	struct evconnlistener *evl;
};

/* Per-loop server state; touched only by that loop's thread. */
struct loop_state {
	struct loop *loop;
	struct session *sessions; /* list, for shutdown */
	size_t nsessions; /* connected */
	size_t nalloc;    /* not yet freed (some wait for a step) */
	bool stopping;
	struct event *grace; /* shutdown deadline */
};

struct ip_count {
	struct sockaddr_storage addr;
	size_t n;
};

struct server {
	/*
	 * The configuration tern started with: what takes a restart to
	 * change (listeners, data_dir, user, threads) is read here. All
	 * else comes from the one in force: conf_holder_get(confs).
	 */
	const struct conf *boot;
	struct conf_holder *confs;
	struct spool *spool;
	struct sched *sched;
	struct tlsrpt_svc *tlsrpt; /* issue 19: TLS-RPT; NULL when off */
	struct workers *dirw; /* directory lookups */
	struct workers *authw; /* password checks (slow on purpose) */
	struct tls *tls;       /* NULL when no listener uses TLS */
	struct authfail *authf; /* failed AUTH counters */
	struct relay *relay;    /* [relay_domains] recipient checks */
	struct msgauth_pool *mauth; /* SPF, DKIM, DMARC; NULL: none */
	struct control *control; /* the control socket (ops/control.h) */
	struct events *events;   /* events.sock (obs/events.h), or NULL */
	struct webhook *webhook; /* webhook_url (obs/webhook.h), or NULL */
	int lockfd;             /* <data_dir>/tern.pid, flock()ed */
	/* Token buckets of [limits] (issue 3); NULL when a limit is 0. */
	struct ratelimit *rl_ip_conns;   /* ip_connections_per_minute */
	struct ratelimit *rl_ip_msgs;    /* ip_messages_per_minute */
	/* The same for own clients (conf_is_own_client(), issue 14). */
	struct ratelimit *rl_own_ip_conns; /* own_ip_connections_per_minute */
	struct ratelimit *rl_own_ip_msgs;  /* own_ip_messages_per_minute */
	struct ratelimit *rl_user_msgs;  /* user_messages_per_hour */
	struct ratelimit *rl_user_rcpts; /* user_recipients_per_hour */
	struct loop_state *loops;
	unsigned nloops;
	struct listener_ctx *listeners; /* nloops * conf->nlisteners */
	size_t nlisteners;
	atomic_size_t nconn;
	pthread_mutex_t ip_mtx;
	struct ip_count *ips; /* open-addressed table */
	size_t ips_cap;
	atomic_uint_fast64_t next_sid;
};

/*
 * Admission control shared by all loops (server.c): one more session
 * from sa, within max_connections and the client's per-IP limit
 * (own_max_connections_per_ip when `own`, else max_connections_per_ip).
 * false when refused, with *per_ip_out true when the per-IP limit was
 * the reason.
 */
bool server_conn_acquire(struct server *, const struct conf_limits *,
    const struct sockaddr *, bool own, bool *per_ip_out);
void server_conn_release(struct server *, const struct sockaddr *);

/* The rate limits and AUTH brakes of lim: made at start, updated on a
 * reload (server.c). Main thread. */
void server_limits_apply(struct server *, const struct conf_limits *lim);
/* Log one piece of conf_warnings() advice (event=config_warning). */
void server_log_config_warning(void *arg, const char *name,
    const char *text);

/*
 * reload.c: SIGHUP and `tern reload`. Re-read the configuration file and
 * put it in force for new sessions and delivery passes (those under way
 * finish on the one they began with), reopen the log and load the
 * certificate; or refuse it and keep the running one: a file that does
 * not load (FILE:LINE), a change that takes a restart, secrets or a
 * certificate that cannot be read. What was done, or why not, is
 * appended to out (NULL: the log only). 0 done, -1 refused. Main thread.
 */
int server_reload(struct server *, struct buf *out);

/* session.c */
void session_accept(struct listener_ctx *, int fd, const struct sockaddr *,
    int salen);
/* Shutdown: end idle sessions now, the others after their reply. */
void session_shutdown_all(struct loop_state *);
void session_free_all(struct loop_state *);

#endif
