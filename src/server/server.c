/* SPDX-License-Identifier: ISC */
/*
 * server/server.c - start-up, listeners, admission control and shutdown
 * of `tern serve`.
 *
 * Order matters (STYLE 2.9): create the data directory (as root with
 * `user =`, check it and hand it over: server/privdrop.h), bind every
 * listener, load a configured TLS key, drop privileges and verify, make
 * what is missing below data_dir (the self-signed certificate too), read
 * the secrets file, recover the queue, then start the loops and say
 * `event=ready`. SIGTERM stops accepting, lets sessions in the middle of
 * a message finish (bounded by a grace period), and exits with the queue
 * intact.
 * Trust: root until the listeners are bound and a configured TLS key is
 * loaded; as root it opens log_file and data_dir's fixed entries only.
 */
#include "server/server.h"
#include "server/server-private.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "deliver/local.h"
#include "deliver/remote.h"
#include "dir/dir.h"
#include "obs/events.h"
#include "obs/http.h"
#include "obs/metrics.h"
#include "obs/obs.h"
#include "obs/webhook.h"
#include "ops/control.h"
#include "queue/pickup.h"
#include "queue/sched.h"
#include "queue/spool.h"
#include "server/limits.h"
#include "server/auth.h"
#include "server/loop.h"
#include "server/msgauth.h"
#include "server/privdrop.h"
#include "server/ratelimit.h"
#include "server/relay.h"
#include "server/tls.h"
#include "server/tlsrpt_svc.h"
#include "server/workers.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/notify.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define DIR_WORKERS 2
#define AUTH_WORKERS 4 /* yescrypt takes ~20 ms of CPU per check */
#define IP_TABLE_MIN 256

/* ---- admission control -------------------------------------------- */

static bool
same_ip(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	if (a->ss_family != b->sa_family)
		return false;
	if (b->sa_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)(const void *)a)
				    ->sin_addr,
			   &((const struct sockaddr_in *)(const void *)b)
				->sin_addr,
			   sizeof(struct in_addr)) == 0;
	if (b->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)(const void *)a)
				    ->sin6_addr,
			   &((const struct sockaddr_in6 *)(const void *)b)
				->sin6_addr,
			   sizeof(struct in6_addr)) == 0;
	return false;
}

/* Linear table: only touched at connect and disconnect. */
static struct ip_count *
ip_find(struct server *srv, const struct sockaddr *sa, bool create)
{
	size_t i, free_slot = SIZE_MAX;

	for (i = 0; i < srv->ips_cap; i++) {
		if (srv->ips[i].n == 0) {
			if (free_slot == SIZE_MAX)
				free_slot = i;
			continue;
		}
		if (same_ip(&srv->ips[i].addr, sa))
			return &srv->ips[i];
	}
	if (!create)
		return NULL;
	if (free_slot == SIZE_MAX) {
		free_slot = srv->ips_cap;
		srv->ips_cap = srv->ips_cap ? srv->ips_cap * 2 : IP_TABLE_MIN;
		srv->ips = xrealloc(srv->ips, srv->ips_cap * sizeof(*srv->ips));
		memset(srv->ips + free_slot, 0,
		    (srv->ips_cap - free_slot) * sizeof(*srv->ips));
	}
	memset(&srv->ips[free_slot].addr, 0, sizeof(srv->ips[free_slot].addr));
	memcpy(&srv->ips[free_slot].addr, sa,
	    sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
				      : sizeof(struct sockaddr_in));
	return &srv->ips[free_slot];
}

bool
server_conn_acquire(struct server *srv, const struct conf_limits *lim,
    const struct sockaddr *sa, bool own, bool *per_ip_out)
{
	size_t per_ip =
	    own ? lim->own_max_connections_per_ip : lim->max_connections_per_ip;
	struct ip_count *ic;
	bool ok = false;

	*per_ip_out = false;
	pthread_mutex_lock(&srv->ip_mtx);
	if (atomic_load(&srv->nconn) >= lim->max_connections)
		goto out;
	ic = ip_find(srv, sa, true);
	if (ic->n >= per_ip) {
		*per_ip_out = true;
		goto out;
	}
	ic->n++;
	atomic_fetch_add(&srv->nconn, 1);
	ok = true;
out:
	pthread_mutex_unlock(&srv->ip_mtx);
	return ok;
}

void
server_conn_release(struct server *srv, const struct sockaddr *sa)
{
	struct ip_count *ic;

	pthread_mutex_lock(&srv->ip_mtx);
	ic = ip_find(srv, sa, false);
	if (ic != NULL && ic->n > 0)
		ic->n--;
	atomic_fetch_sub(&srv->nconn, 1);
	pthread_mutex_unlock(&srv->ip_mtx);
}

/* ---- rate limits (issue 3) ---------------------------------------- */

/* `limit` per `period_ms`, in bursts of up to `limit`; 0: off. */
static struct ratelimit_rule
limit_rule(size_t limit, uint64_t period_ms)
{
	struct ratelimit_rule r = { limit, period_ms, limit > 0 ? limit : 1 };

	return r;
}

/* The [limits] rates, at start and on reload (rules are copied). */
static void
limits_apply(struct server *srv, const struct conf_limits *lim)
{
	const struct {
		struct ratelimit **rl;
		size_t limit;
		uint64_t period_ms;
	} t[] = {
		{ &srv->rl_ip_conns, lim->ip_connections_per_minute, 60000 },
		{ &srv->rl_ip_msgs, lim->ip_messages_per_minute, 60000 },
		{ &srv->rl_own_ip_conns, lim->own_ip_connections_per_minute,
		    60000 },
		{ &srv->rl_own_ip_msgs, lim->own_ip_messages_per_minute,
		    60000 },
		{ &srv->rl_user_msgs, lim->user_messages_per_hour, 3600000 },
		{ &srv->rl_user_rcpts, lim->user_recipients_per_hour,
		    3600000 },
	};
	struct ratelimit_rule r;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		r = limit_rule(t[i].limit, t[i].period_ms);
		if (*t[i].rl == NULL)
			*t[i].rl = ratelimit_new(&r, RATELIMIT_ENTRIES_MAX);
		else
			ratelimit_set_rule(*t[i].rl, &r);
	}
	if (srv->authf == NULL)
		srv->authf = authfail_new(lim, AUTHFAIL_ENTRIES_MAX);
	else
		authfail_set_limits(srv->authf, lim);
}

void
server_limits_apply(struct server *srv, const struct conf_limits *lim)
{
	limits_apply(srv, lim);
}

static void
limits_free(struct server *srv)
{
	ratelimit_free(srv->rl_ip_conns);
	ratelimit_free(srv->rl_ip_msgs);
	ratelimit_free(srv->rl_own_ip_conns);
	ratelimit_free(srv->rl_own_ip_msgs);
	ratelimit_free(srv->rl_user_msgs);
	ratelimit_free(srv->rl_user_rcpts);
}

/* ---- start-up ----------------------------------------------------- */


static void
path_join(char *dst, size_t dstsz, const char *a, const char *b)
{
	int n = snprintf(dst, dstsz, "%s/%s", a, b);

	if (n < 0 || (size_t)n >= dstsz)
		fatal("path too long: %s/%s", a, b);
}

/*
 * Who listens on cl's address? "pid N (comm)" from /proc when this user
 * can see it; "another process" otherwise. Only for the message.
 */
static void
address_owner(const struct conf_listener *cl, char *out, size_t outsz)
{
	const struct sockaddr_in *s4 = (const void *)&cl->sa;
	const struct sockaddr_in6 *s6 = (const void *)&cl->sa;
	unsigned port = ntohs(cl->sa.ss_family == AF_INET6 ? s6->sin6_port
	                                                  : s4->sin_port);
	char line[512], want[24], link[64], path[64], comm[64];
	unsigned long inode = 0, ino;
	unsigned lport, st;
	struct dirent *pd, *fd;
	DIR *procs, *fds;
	FILE *fp;
	ssize_t n;

	(void)snprintf(out, outsz, "another process");
	fp = fopen(cl->sa.ss_family == AF_INET6 ? "/proc/net/tcp6"
	                                        : "/proc/net/tcp",
	    "re");
	if (fp == NULL)
		return;
	/* "sl local rem st tx:rx tr:when retrnsmt uid timeout inode" */
	while (inode == 0 && fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "%*s %*[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*s "
		                 "%*s %lu",
		        &lport, &st, &ino) == 3 &&
		    lport == port && st == 0x0a /* LISTEN */)
			inode = ino;
	(void)fclose(fp);
	if (inode == 0 || (procs = opendir("/proc")) == NULL)
		return;
	(void)snprintf(want, sizeof(want), "%lu", inode);
	while ((pd = readdir(procs)) != NULL) {
		if (!ascii_is_digit((unsigned char)pd->d_name[0]))
			continue;
		(void)snprintf(path, sizeof(path), "/proc/%.16s/fd",
		    pd->d_name);
		if ((fds = opendir(path)) == NULL)
			continue;
		while ((fd = readdir(fds)) != NULL) {
			(void)snprintf(path, sizeof(path), "/proc/%.16s/fd/%.16s",
			    pd->d_name, fd->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			if (strncmp(link, "socket:[", 8) != 0 ||
			    strncmp(link + 8, want, strlen(want)) != 0 ||
			    link[8 + strlen(want)] != ']')
				continue;
			(void)snprintf(path, sizeof(path), "/proc/%.16s/comm",
			    pd->d_name);
			comm[0] = '\0';
			if ((fp = fopen(path, "re")) != NULL) {
				if (fgets(comm, sizeof(comm), fp) == NULL)
					comm[0] = '\0';
				(void)fclose(fp);
			}
			comm[strcspn(comm, "\n")] = '\0';
			(void)snprintf(out, outsz, "pid %.16s (%s)", pd->d_name,
			    comm[0] != '\0' ? comm : "?");
			(void)closedir(fds);
			(void)closedir(procs);
			return;
		}
		(void)closedir(fds);
	}
	(void)closedir(procs);
}

/*
 * Our listeners share their ports between loop threads (SO_REUSEPORT),
 * which would also let a second server, started by mistake, take half
 * the connections. So bind once without it first: if that fails with
 * EADDRINUSE, someone else serves the address (issue 15).
 */
static void
check_address_free(const struct conf_listener *cl)
{
	char who[128];
	int fd, on = 1;

	fd = socket(cl->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		fatal("listener %s: socket: %s", cl->name, strerror(errno));
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (cl->sa.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
		    sizeof(on));
	if (bind(fd, (const struct sockaddr *)&cl->sa, cl->salen) == -1 &&
	    errno == EADDRINUSE) {
		address_owner(cl, who, sizeof(who));
		fatal("listener %s: %s is already in use by %s; if that is "
		      "another tern, stop it first (two servers on one "
		      "address would share its mail), else change `address` "
		      "in [listener %s]",
		    cl->name, cl->address, who, cl->name);
	}
	(void)close(fd);
}

/*
 * One server per data_dir: <data_dir>/tern.pid, flock()ed for the life
 * of the process and holding its pid, which names the holder when a
 * second server tries. Returns the descriptor to keep open.
 * Opened as root in a directory the service user (pu) may write: no
 * link, only a regular file with no other name, then it is pu's.
 */
/* The metrics' view of the queue (obs/metrics.h). */
static void
queue_probe(void *arg, struct metrics_queue *out)
{
	struct sched_stats st;

	(void)sched_stats(arg, &st, NULL, 0);
	out->messages = st.messages;
	out->held = st.held;
	out->oldest_arrival = st.oldest_arrival;
}

static int
lock_data_dir(const char *data_dir, const struct privdrop_user *pu)
{
	char path[4096], pid[32];
	struct stat st;
	ssize_t n;
	int fd;

	path_join(path, sizeof(path), data_dir, "tern.pid");
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd == -1)
		fatal("open %s: %s; check data_dir and its owner", path,
		    strerror(errno));
	if (fstat(fd, &st) == -1)
		fatal("stat %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    (st.st_uid != 0 && st.st_uid != geteuid() &&
	        (pu == NULL || st.st_uid != pu->uid)))
		fatal("%s is not tern's own pid file (a regular file with one "
		      "link, owned by root or tern's user); remove it",
		    path);
	if (pu != NULL && (st.st_uid != pu->uid || st.st_gid != pu->gid) &&
	    fchown(fd, pu->uid, pu->gid) == -1)
		fatal("chown %s to %s: %s", path, pu->name, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		fatal("data_dir %s is in use by another tern server (pid %s); "
		      "stop it first, or give this one its own data_dir",
		    data_dir, pid[0] != '\0' ? pid : "unknown");
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, pid, (size_t)n, 0) != n)
		fatal("write %s: %s", path, strerror(errno));
	return fd;
}

static int
bind_one(const struct conf_listener *cl)
{
	const struct sockaddr_in *s4 = (const void *)&cl->sa;
	const struct sockaddr_in6 *s6 = (const void *)&cl->sa;
	unsigned port =
	    ntohs(cl->sa.ss_family == AF_INET6 ? s6->sin6_port : s4->sin_port);
	int fd, on = 1;

	fd = socket(cl->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		fatal("listener %s: socket: %s", cl->name, strerror(errno));
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	/* One socket per loop thread; the kernel spreads connections. */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
	if (cl->sa.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
		    sizeof(on));
	if (bind(fd, (const struct sockaddr *)&cl->sa, cl->salen) == -1) {
		/* Ports below 1024 (25 among them) need a right: say which. */
		if ((errno == EACCES || errno == EPERM) && port < 1024)
			fatal("listener %s: bind %s: %s; a port below 1024 "
			      "needs privilege: start tern as root with `user "
			      "= tern` set (it binds, then runs as that user), "
			      "or give it CAP_NET_BIND_SERVICE "
			      "(AmbientCapabilities=CAP_NET_BIND_SERVICE in "
			      "its systemd unit, or setcap "
			      "cap_net_bind_service=+ep on the binary)",
			    cl->name, cl->address, strerror(errno));
		fatal("listener %s: bind %s: %s; is another server using "
		      "this port? Change `address` in [listener %s]",
		    cl->name, cl->address, strerror(errno), cl->name);
	}
	if (listen(fd, 1024) == -1)
		fatal("listener %s: listen %s: %s", cl->name, cl->address,
		    strerror(errno));
	return fd;
}

static void
on_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	(void)evl;
	/*
	 * Replies are written whole: Nagle would hold a pipelined group's
	 * later replies until the client's delayed ACK.
	 */
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 },
		    sizeof(int));
	session_accept(arg, fd, sa, salen);
}

static void
on_accept_error(struct evconnlistener *evl, void *arg)
{
	struct listener_ctx *lc = arg;

	(void)evl;
	/* EMFILE and friends: log and keep going, libevent retries. */
	log_warn("event=accept_error listener=%s error=%s",
	    lc->srv->boot->listeners[lc->index].name,
	    LOG_ESC(strerror(EVUTIL_SOCKET_ERROR())));
}

/*
 * Root with `user =`: hand data_dir over (never walking it, issue 14) and
 * become the user. Privileges stay only when there is no one to drop to.
 */
static void
drop_privileges(const struct conf *conf, const struct privdrop_user *pu)
{
	struct why why;

	if (pu == NULL)
		return;
	if (privdrop_become(pu, conf->data_dir, &why) == -1)
		fatal("%s", why.text);
	log_info("event=privileges_dropped user=%s uid=%u", LOG_ESC(pu->name),
	    (unsigned)pu->uid);
}

static struct tls *
load_tls(const struct conf *conf)
{
	struct why why;
	struct tls *t = tls_new(conf, &why);

	if (t == NULL)
		fatal("TLS: %s; fix [tls] cert and key, or remove them to use "
		      "a self-signed certificate",
		    why.text);
	return t;
}

static void *
dir_thread_init(void *arg)
{
	const char *path = arg;
	struct why why;
	struct dir *d = dir_open(path, &why);

	if (d == NULL)
		log_warn("event=dir_open_failed path=%s error=%s",
		    LOG_ESC(path), LOG_ESC(why.text));
	return d;
}

static void
dir_thread_fini(void *ctx)
{
	dir_close(ctx);
}

static void
recover_one(void *arg, const char *id)
{
	struct server *srv = arg;

	/* Behind new mail: a long queue must not delay it (issue 20). */
	sched_recover(srv->sched, id);
}

void
server_log_config_warning(void *arg, const char *name, const char *text)
{
	char esc[1200];

	(void)arg;
	log_warn("event=config_warning what=%s msg=%s", name,
	    log_escs(esc, sizeof(esc), text));
}

/* ---- shutdown ----------------------------------------------------- */

static void
grace_expired(evutil_socket_t fd, short what, void *arg)
{
	struct loop_state *ls = arg;

	(void)fd;
	(void)what;
	log_warn("event=shutdown_forced sessions=%zu", ls->nsessions);
	session_free_all(ls);
	if (ls->nalloc == 0)
		loop_exit(ls->loop);
}

static void
loop_stop(struct loop *loop, void *arg)
{
	struct server *srv = arg;
	struct loop_state *ls = &srv->loops[loop_index(loop)];
	struct timeval tv = { .tv_sec = SESSION_SHUTDOWN_GRACE };
	size_t i;

	ls->stopping = true;
	for (i = 0; i < srv->nlisteners; i++) {
		struct listener_ctx *lc = &srv->listeners[i];

		if (lc->loop == loop && lc->evl != NULL) {
			evconnlistener_free(lc->evl);
			lc->evl = NULL;
		}
	}
	session_shutdown_all(ls);
	if (ls->nalloc == 0) {
		loop_exit(loop);
		return;
	}
	ls->grace = evtimer_new(loop_base(loop), grace_expired, ls);
	evtimer_add(ls->grace, &tv);
}

static bool
uses_tls(const struct conf *conf)
{
	size_t i;

	for (i = 0; i < conf->nlisteners; i++)
		if (conf->listeners[i].tls != CONF_TLS_NONE)
			return true;
	return false;
}

struct signals {
	struct event_base *base;
	struct server *srv;
	bool stop;
};

/* A request on the control socket (ops/control.h). */
/*
 * Issue 17: the event socket and the webhook hear every event from
 * here on (the recovery's too); they take a restart.
 */
static void
sinks_start(struct server *srv, const struct conf *conf)
{
	char path[4096];
	struct why why;

	if (conf->obs.events_socket == CONF_ON) {
		if (events_socket_path(conf->data_dir, path, sizeof(path)) ==
		    -1)
			fatal("data_dir is too long for the event socket (108 "
			      "bytes with \"/%s\"); use a shorter path, or "
			      "[observability] events_socket = off",
			    EVENTS_SOCKET_NAME);
		if ((srv->events = events_open(path, obs_last_seq(), &why)) ==
		    NULL)
			fatal("%s", why.text);
		obs_add_sink(events_sink, srv->events);
	}
	if (conf->obs.webhook_url != NULL) {
		if ((srv->webhook = webhook_start(&conf->obs, &why)) == NULL)
			fatal("%s", why.text);
		obs_add_sink(webhook_sink, srv->webhook);
	}
}

/* After the last emitter: nothing may reach a sink being freed. */
static void
sinks_stop(struct server *srv)
{
	if (srv->events != NULL) {
		obs_remove_sink(events_sink, srv->events);
		events_close(srv->events);
	}
	if (srv->webhook != NULL) {
		obs_remove_sink(webhook_sink, srv->webhook);
		webhook_stop(srv->webhook);
	}
}

static enum control_status
on_control(void *arg, const char *verb, const char *args, struct buf *out)
{
	struct server *srv = arg;
	bool flush = strcmp(verb, "flush") == 0;

	if (flush || strcmp(verb, "retry") == 0 ||
	    strcmp(verb, "hold") == 0 || strcmp(verb, "release") == 0 ||
	    strcmp(verb, "delete") == 0) {
		if (flush != (args[0] == '\0')) {
			(void)buf_printf(out, "usage: %s%s\n", verb,
			    flush ? "" : " ID");
			return CONTROL_REFUSED;
		}
		return sched_request(srv->sched, verb, args, out) == 0
		           ? CONTROL_OK
		           : CONTROL_FAIL;
	}
	if (strcmp(verb, "reload") == 0 && args[0] == '\0')
		return server_reload(srv, out) == 0 ? CONTROL_OK : CONTROL_FAIL;
	if (strcmp(verb, "tlsrpt") == 0) /* issue 19: tern tlsrpt send */
		return tlsrpt_svc_control(srv->tlsrpt, args, out);
	if (strcmp(verb, "status") == 0 && args[0] == '\0') {
		(void)buf_printf(out, "running: pid %ld, data_dir %s\n",
		    (long)getpid(), srv->boot->data_dir);
		return CONTROL_OK;
	}
	(void)buf_printf(out, "unknown request '%s'; known: flush, retry ID, "
	                      "hold ID, release ID, delete ID, reload, "
	                      "tlsrpt send [DAY], status\n",
	    verb);
	return CONTROL_REFUSED;
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct signals *sg = arg;
	unsigned i;

	(void)what;
	if (sig == SIGHUP) {
		(void)server_reload(sg->srv, NULL);
		return;
	}
	if (sg->stop)
		return;
	sg->stop = true;
	log_info("event=shutdown signal=%s", sig == SIGTERM ? "TERM" : "INT");
	notify_stopping(); /* systemd: the stop is under way */
	for (i = 0; i < sg->srv->nloops; i++)
		loop_post(sg->srv->loops[i].loop, loop_stop, sg->srv);
	event_base_loopexit(sg->base, NULL);
}

/*
 * Each session is a descriptor: let max_connections fit, up to the hard
 * limit, and say so when it cannot.
 */
static void
raise_fd_limit(const struct conf *conf)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)conf->limits.max_connections + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < want)
		log_warn("event=fd_limit limit=%llu max_connections=%zu "
			 "hint=\"raise the hard RLIMIT_NOFILE (ulimit -Hn)\"",
		    (unsigned long long)rl.rlim_cur,
		    conf->limits.max_connections);
}

static unsigned
loop_count(const struct conf *conf)
{
	long n;

	if (conf->threads > 0)
		return conf->threads;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

int
server_run(struct conf *conf)
{
	struct server srv;
	struct sched_deliverer *dlv;
	struct signals sg;
	struct event *sigev[3];
	const int signos[3] = { SIGTERM, SIGINT, SIGHUP };
	char qdir[4096], mdir[4096], dbpath[4096], ctlpath[4096];
	char status[300];
	struct privdrop_user pu;
	struct why why;
	struct pickup *pk;
	struct obs_http *http = NULL;
	int drop;
	struct dir *d;
	size_t i, j, k;

	if (conf->log_file != NULL && log_open(conf->log_file, &why) == -1)
		fatal("log_file: %s", why.text);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit(conf);
	memset(&srv, 0, sizeof(srv));
	srv.boot = conf;
	/* The one in force, which a reload replaces; it holds a reference
	 * of its own: the caller frees conf as ever. */
	srv.confs = conf_holder_new(conf_ref(conf));
	pthread_mutex_init(&srv.ip_mtx, NULL);
	atomic_init(&srv.nconn, 0);
	atomic_init(&srv.next_sid, 1);

	if ((drop = privdrop_lookup(conf, &pu, &why)) == -1)
		fatal("%s", why.text);
	if (privdrop_data_dir(conf->data_dir, drop ? &pu : NULL, &why) == -1)
		fatal("%s; check data_dir and permissions", why.text);
	path_join(qdir, sizeof(qdir), conf->data_dir, "queue");
	path_join(mdir, sizeof(mdir), conf->data_dir, "mail");
	path_join(dbpath, sizeof(dbpath), conf->data_dir, "tern.db");
	srv.lockfd = lock_data_dir(conf->data_dir, drop ? &pu : NULL);

	/* Bind everything first: a port in use is a start-up error. */
	srv.nloops = loop_count(conf);
	srv.loops = xcalloc(srv.nloops, sizeof(*srv.loops));
	for (i = 0; i < srv.nloops; i++)
		srv.loops[i].loop = loop_new((unsigned)i);
	srv.nlisteners = srv.nloops * conf->nlisteners;
	srv.listeners = xcalloc(srv.nlisteners, sizeof(*srv.listeners));
	for (j = 0; j < conf->nlisteners; j++)
		check_address_free(&conf->listeners[j]);
	for (k = 0, j = 0; j < conf->nlisteners; j++)
		for (i = 0; i < srv.nloops; i++, k++) {
			srv.listeners[k].srv = &srv;
			srv.listeners[k].loop = srv.loops[i].loop;
			srv.listeners[k].index = j;
			srv.listeners[k].fd = bind_one(&conf->listeners[j]);
		}
	/* Issue 17: /metrics and the dashboard, bound (and the token file
	 * read) while still root, like the listeners. */
	if (conf->obs.http_listen != NULL &&
	    (http = obs_http_new(conf, &why)) == NULL)
		fatal("%s", why.text);

	/* A configured key may be root's: load it before dropping. */
	if (uses_tls(conf) && conf->tls.cert != NULL)
		srv.tls = load_tls(conf);
	limits_apply(&srv, &conf->limits);
	conf_warnings(conf, server_log_config_warning, NULL);
	conf_secrets_warnings(conf, server_log_config_warning, NULL);

	drop_privileges(conf, drop ? &pu : NULL);

	/*
	 * Below data_dir, what is missing is made now, by the user tern
	 * runs as; root only made data_dir itself.
	 */
	if (fsutil_mkdirs(mdir, 0750, &why) == -1)
		fatal("%s; check data_dir and permissions", why.text);
	fsutil_spread_subdirs(mdir); /* domains: unrelated, as in /home */
	/* The self-signed key is ours: made and loaded without root. */
	if (uses_tls(conf) && srv.tls == NULL)
		srv.tls = load_tls(conf);

	/*
	 * As the user we now are, so that a reload (which cannot be root)
	 * reads it the same way; before any delivery thread runs.
	 */
	if (conf_secrets_load(conf, server_log_config_warning, NULL, &why) == -1)
		fatal("%s", why.text);

	/* Issue 17: the journal (as the user we now are) and metrics. */
	if (obs_open(conf, &why) == -1)
		fatal("%s; or turn it off: [observability] journal = off",
		    why.text);

	sinks_start(&srv, conf);

	/* Create the directory schema once, before threads race to. */
	d = dir_open(dbpath, &why);
	if (d == NULL)
		fatal("open %s: %s", dbpath, why.text);
	dir_close(d);

	/* Issue 19: TLS-RPT counts, before delivery threads note any. */
	srv.tlsrpt = tlsrpt_svc_new(conf);
	srv.spool = spool_open(qdir, &why);
	if (srv.spool == NULL)
		fatal("open queue %s: %s", qdir, why.text);
	/* Routes each recipient: Maildir, LMTP or SMTP (issue 4). */
	dlv = remote_deliverer_new(local_deliverer_new());
	srv.sched = sched_new(srv.confs, srv.spool, dlv);
	/* Notices to the postmaster follow its aliases, like RCPT TO. */
	sched_set_user_db(srv.sched, dbpath);
	if (spool_scan(srv.spool, recover_one, &srv, &why) == -1)
		fatal("recover queue %s: %s", qdir, why.text);
	if (sched_start(srv.sched) == -1)
		fatal("start delivery threads: %s", strerror(errno));
	metrics_set_queue_probe(queue_probe, srv.sched);
	srv.dirw = workers_new(DIR_WORKERS, dir_thread_init, dir_thread_fini,
	    dbpath);
	srv.relay = relay_new(dbpath);
	/* Issue 16: SPF, DKIM, DMARC; the signing keys read here, once. */
	srv.mauth = msgauth_pool_new(conf->dns_server);
	msgauth_pool_keys(srv.mauth, conf);
	/* Own pool: a burst of logins must not queue RCPT lookups. */
	srv.authw = workers_new(AUTH_WORKERS, dir_thread_init,
	    dir_thread_fini, dbpath);
	/* Their database connections are open before we say we listen. */
	workers_wait_ready(srv.dirw);
	workers_wait_ready(srv.authw);
	/* `tern sendmail` drops mail in <data_dir>/maildrop/ (issue 5). */
	pk = pickup_start(srv.confs, conf->data_dir, srv.spool, srv.sched,
	    dbpath, msgauth_sign_message, srv.mauth, &why);
	if (pk == NULL)
		log_warn("event=pickup_unavailable error=%s msg=\"tern "
		         "sendmail mail waits until this is fixed\"",
		    LOG_ESC(why.text));

	for (k = 0; k < srv.nlisteners; k++) {
		struct listener_ctx *lc = &srv.listeners[k];

		lc->evl = evconnlistener_new(loop_base(lc->loop), on_accept,
		    lc, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1,
		    lc->fd);
		if (lc->evl == NULL)
			fatal("listener %s: cannot watch socket",
			    conf->listeners[lc->index].name);
		evconnlistener_set_error_cb(lc->evl, on_accept_error);
	}
	for (i = 0; i < srv.nloops; i++)
		if (loop_start(srv.loops[i].loop) == -1)
			fatal("start loop thread: %s", strerror(errno));

	memset(&sg, 0, sizeof(sg));
	sg.base = event_base_new();
	sg.srv = &srv;
	for (i = 0; i < 3; i++) {
		sigev[i] = evsignal_new(sg.base, signos[i], on_signal, &sg);
		evsignal_add(sigev[i], NULL);
	}
	/* `tern queue ...` and `tern reload` ask here (issue 15). */
	if (control_socket_path(conf->data_dir, ctlpath, sizeof(ctlpath)) ==
	        -1 ||
	    (srv.control = control_open(ctlpath, sg.base, on_control, &srv,
	         &why)) == NULL)
		fatal("%s", control_socket_path(conf->data_dir, ctlpath,
		                sizeof(ctlpath)) == -1
		              ? "data_dir is too long for the control socket "
		                "(108 bytes with \"/control.sock\"); use a "
		                "shorter path"
		              : why.text);
	tlsrpt_svc_start(srv.tlsrpt, sg.base, srv.confs, srv.spool, srv.sched);
	if (http != NULL && obs_http_start(http, srv.sched, qdir, &why) == -1)
		fatal("%s", why.text);
	for (j = 0; j < conf->nlisteners; j++)
		log_info("event=listening listener=%s address=%s mode=%s",
		    conf->listeners[j].name,
		    LOG_ESC(conf->listeners[j].address),
		    conf->listeners[j].mode == CONF_MODE_MX ? "mx"
							    : "submission");
	log_info("event=ready hostname=%s data_dir=%s threads=%u pid=%ld",
	    LOG_ESC(conf->hostname), LOG_ESC(conf->data_dir), srv.nloops,
	    (long)getpid());
	/* systemd's Type=notify: start-up is over (a no-op without it). */
	(void)snprintf(status, sizeof(status), /* cut is harmless */
	    "accepting mail for %s on %zu listener%s", conf->hostname,
	    conf->nlisteners, conf->nlisteners == 1 ? "" : "s");
	notify_ready(status);

	(void)event_base_dispatch(sg.base);
	obs_http_free(http); /* it reads the spool: stop it first */
	control_close(srv.control); /* no more requests to the scheduler */
	tlsrpt_svc_stop(srv.tlsrpt); /* its daily run queues reports too */

	for (i = 0; i < srv.nloops; i++)
		loop_join(srv.loops[i].loop);
	pickup_stop(pk); /* before the spool and the scheduler it feeds */
	workers_free(srv.dirw);
	workers_free(srv.authw);
	relay_free(srv.relay);
	msgauth_pool_free(srv.mauth);
	authfail_free(srv.authf);
	limits_free(&srv);
	tls_free(srv.tls);
	metrics_set_queue_probe(NULL, NULL);
	sched_free(srv.sched);
	spool_close(srv.spool);
	sinks_stop(&srv);
	obs_close(); /* every thread that emits is gone */
	remote_deliverer_free(dlv);
	tlsrpt_svc_free(srv.tlsrpt); /* no delivery thread notes any more */
	for (i = 0; i < 3; i++)
		event_free(sigev[i]);
	event_base_free(sg.base);
	for (k = 0; k < srv.nlisteners; k++)
		if (srv.listeners[k].evl != NULL)
			evconnlistener_free(srv.listeners[k].evl);
	for (i = 0; i < srv.nloops; i++) {
		if (srv.loops[i].grace != NULL)
			event_free(srv.loops[i].grace);
		loop_free(srv.loops[i].loop);
	}
	free(srv.listeners);
	free(srv.loops);
	free(srv.ips);
	pthread_mutex_destroy(&srv.ip_mtx);
	conf_holder_free(srv.confs); /* every session and pass is over */
	(void)close(srv.lockfd); /* last: another server may start now */
	log_info("event=stopped");
	return 0;
}
