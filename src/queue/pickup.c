/* SPDX-License-Identifier: ISC */
/*
 * queue/pickup.c - the maildrop pickup thread (see pickup.h).
 *
 * Trust: drop files are any local user's bytes; see pickup.h.
 */
#include "queue/pickup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "dir/dir.h"
#include "msg/qualify.h"
#include "msg/received.h"
#include "queue/bounce.h"
#include "obs/obs.h"
#include "queue/sched.h"
#include "queue/spool.h"
#include "util/buf.h"
#include "util/dirwatch.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"
#include "queue/pickup_milter.h"

#define STALE_TMP_SECS (24 * 3600) /* a writer died: remove its .NAME */
#define SCAN_BATCH 256             /* names taken per directory pass */

struct pickup {
	struct conf_holder *confs;
	/* The configuration in force when the current file was taken: one
	 * reference a file (a reload may change the next one's). */
	const struct conf *conf;
	struct spool *spool;
	struct sched *sched;
	char *dbpath;
	struct dir *dir; /* opened by the thread, retried when it fails */
	int dfd;         /* maildrop/ */
	int rfd;         /* maildrop-refused/ */
	struct dirwatch *watch; /* maildrop/: new drops, or a stop */
	pickup_sign_fn *sign;   /* DKIM (issue 16), or NULL */
	void *sign_arg;
	pthread_t thr;
	pthread_mutex_t mtx;
	pthread_cond_t cond;
	bool stop;
	/* The commit in progress (spool's sync thread -> ours). */
	bool commit_done;
	int commit_ok;
	struct why commit_why;
};

/* ---- the drop file format (pure) ---------------------------------- */

void
pickup_drop_free(struct pickup_drop *d)
{
	if (d == NULL)
		return;
	free(d->rcpts);
	memset(d, 0, sizeof(*d));
}

/* One "X <path>\n" line at p[0..n); 0 or -1 with *why_out. */
static int
env_line(const uint8_t *p, size_t n, char tag, unsigned flags,
    struct smtp_addr *out, const char **why_out)
{
	size_t used;

	if (n < 3 || p[0] != (uint8_t)tag || p[1] != ' ') {
		*why_out = tag == 'S' ? "no sender line" : "bad recipient line";
		return -1;
	}
	if (!smtp_path_parse((const char *)p + 2, n - 2, flags, out, &used,
	        why_out))
		return -1;
	if (used != n - 2) {
		*why_out = "text after the address";
		return -1;
	}
	return 0;
}

/* The message: CRLF lines only, no NUL, at most body_max bytes. */
static int
body_check(const uint8_t *p, size_t n, uint64_t body_max, bool *eightbit,
    const char **why_out)
{
	size_t i;

	if (n > body_max) {
		*why_out = "message too big (max_message_size)";
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (p[i] == '\0') {
			*why_out = "NUL in the message";
			return -1;
		}
		if (p[i] >= 0x80)
			*eightbit = true;
		if (p[i] == '\r' && (i + 1 == n || p[i + 1] != '\n')) {
			*why_out = "bare CR in the message";
			return -1;
		}
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r')) {
			*why_out = "bare LF in the message";
			return -1;
		}
	}
	if (n > 0 && p[n - 1] != '\n') {
		*why_out = "the message does not end with CRLF";
		return -1;
	}
	return 0;
}

int
pickup_parse(const uint8_t *p, size_t n, uint64_t body_max,
    struct pickup_drop *out, const char **why_out)
{
	const size_t mlen = sizeof(PICKUP_MAGIC) - 1;
	const uint8_t *nl;
	size_t pos, lim, cap = 0;

	memset(out, 0, sizeof(*out));
	if (n < mlen || memcmp(p, PICKUP_MAGIC, mlen) != 0) {
		*why_out = "not a maildrop file (bad first line)";
		return -1;
	}
	pos = mlen;
	lim = n < PICKUP_ENV_MAX ? n : PICKUP_ENV_MAX;
	for (;;) {
		nl = pos < lim ? memchr(p + pos, '\n', lim - pos) : NULL;
		if (nl == NULL) {
			*why_out = "envelope not ended by an empty line";
			goto fail;
		}
		if (nl == p + pos) /* the empty line */
			break;
		if (pos == mlen) {
			if (env_line(p + pos, (size_t)(nl - (p + pos)), 'S',
			        SMTP_ADDR_UTF8 | SMTP_ADDR_NULL_OK,
			        &out->sender, why_out) == -1)
				goto fail;
		} else {
			if (out->nrcpts == PICKUP_RCPTS_MAX) {
				*why_out = "too many recipients";
				goto fail;
			}
			if (out->nrcpts == cap) {
				cap = cap == 0 ? 8 : cap * 2;
				out->rcpts = xrealloc(out->rcpts,
				    cap * sizeof(*out->rcpts));
			}
			if (env_line(p + pos, (size_t)(nl - (p + pos)), 'R',
			        SMTP_ADDR_UTF8, &out->rcpts[out->nrcpts],
			        why_out) == -1)
				goto fail;
			if (out->rcpts[out->nrcpts].utf8)
				out->smtputf8 = true;
			out->nrcpts++;
		}
		pos = (size_t)(nl - p) + 1;
	}
	if (pos == mlen) {
		*why_out = "no sender line";
		goto fail;
	}
	if (out->nrcpts == 0) {
		*why_out = "no recipients";
		goto fail;
	}
	if (out->sender.utf8)
		out->smtputf8 = true;
	out->body_off = pos + 1;
	if (body_check(p + out->body_off, n - out->body_off, body_max,
	        &out->eightbit, why_out) == -1)
		goto fail;
	return 0;
fail:
	pickup_drop_free(out);
	return -1;
}

/* ---- one drop file ------------------------------------------------ */

/* Mailbox string of a parsed address: lower-case domain (and an ASCII
 * local part), as RCPT TO stores it. */
static void
addr_string(const struct smtp_addr *a, char *dst, size_t dstsz)
{
	char *at;

	if (a->is_null || smtp_addr_format(a, dst, dstsz) < 0) {
		dst[0] = '\0';
		return;
	}
	at = strrchr(dst, '@');
	if (!a->utf8)
		ascii_lower_str(dst);
	else if (at != NULL)
		ascii_lower_str(at);
}

/* Move a file we will not take aside, and say why. */
static void
refuse(struct pickup *pk, const char *name, long uid, const char *reason)
{
	if (renameat(pk->dfd, name, pk->rfd, name) == -1 &&
	    unlinkat(pk->dfd, name, 0) == -1 && errno != ENOENT)
		log_warn("event=pickup_remove_failed file=%s error=%s",
		    LOG_ESC(name), LOG_ESC(strerror(errno)));
	log_warn("event=pickup_refused file=%s uid=%ld reason=%s "
	         "msg=\"moved to maildrop-refused/\"",
	    LOG_ESC(name), uid, LOG_ESC(reason));
}

static bool
is_drop_name(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n >= PICKUP_NAME_MAX || name[0] == '.')
		return false;
	for (i = 0; i < n; i++)
		if (!ascii_is_alnum(name[i]) && name[i] != '-' &&
		    name[i] != '_' && name[i] != '.')
			return false;
	return true;
}

/* Runs on the spool's sync thread. */
static void
commit_done(void *arg, const char *id, int ok, const struct why *why)
{
	struct pickup *pk = arg;

	(void)id;
	pthread_mutex_lock(&pk->mtx);
	pk->commit_ok = ok;
	if (why != NULL)
		pk->commit_why = *why;
	pk->commit_done = true;
	pthread_cond_broadcast(&pk->cond);
	pthread_mutex_unlock(&pk->mtx);
}

/*
 * Why a local recipient was refused: what RCPT TO would have answered
 * (server/session-mail.c), for the DSN's Status and Diagnostic-Code.
 */
static const struct {
	const char *text;
	const char *esc;
} refusals[] = {
	{ "no such user here", "5.1.1" }, /* DIR_NO_SUCH_USER */
	{ "alias loop", "5.4.6" },        /* DIR_ALIAS_LOOP */
};

/* Add one recipient (state P or F) to env->rcpts, growing it. */
static void
add_rcpt(struct spool_env *env, size_t *cap, const char *addr,
    const char *orcpt, enum spool_rcpt_state state)
{
	if (env->nrcpts == *cap) {
		*cap = *cap == 0 ? 8 : *cap * 2;
		env->rcpts = xrealloc(env->rcpts, *cap * sizeof(*env->rcpts));
	}
	memset(&env->rcpts[env->nrcpts], 0, sizeof(env->rcpts[0]));
	env->rcpts[env->nrcpts].addr = xstrdup(addr);
	env->rcpts[env->nrcpts].orcpt = xstrdup(orcpt);
	env->rcpts[env->nrcpts].state = state;
	env->nrcpts++;
}

/*
 * Resolve the recipients into env->rcpts; -1: try the file later. A
 * local recipient that does not exist (or loops) is kept in state F,
 * to be bounced (sendmail already said yes to it), unless the sender is
 * null: then it is only logged (RFC 5321 6.1: never bounce a bounce).
 */
static int
resolve(struct pickup *pk, const struct pickup_drop *d, struct spool_env *env,
    const char *name)
{
	char addr[SMTP_ADDR_FMT_MAX];
	struct dir_policy pol;
	struct dir_targets t;
	struct why why;
	size_t i, k, cap = 0;
	enum dir_resolve_status st;
	const char *at;

	/* The same answer as RCPT TO: postmaster, admin names, +detail. */
	dir_policy_conf(&pol, pk->conf);
	for (i = 0; i < d->nrcpts; i++) {
		addr_string(&d->rcpts[i], addr, sizeof(addr));
		at = strrchr(addr, '@');
		memset(&t, 0, sizeof(t));
		if (at != NULL && conf_is_local_domain(pk->conf, at + 1)) {
			if (pk->dir == NULL)
				return -1;
			st = dir_resolve(pk->dir, addr, &pol, &t, &why);
		} else {
			/* Remote: the scheduler's router delivers it. */
			t.addrs = xcalloc(1, sizeof(char *));
			t.addrs[0] = xstrdup(addr);
			t.n = 1;
			st = DIR_RESOLVED;
		}
		if (st == DIR_TEMPFAIL) {
			log_warn("event=pickup_deferred file=%s error=%s",
			    LOG_ESC(name), LOG_ESC(why.text));
			return -1;
		}
		if (st != DIR_RESOLVED) {
			log_info("event=pickup_rcpt_refused file=%s to=%s "
			         "reason=\"%s\" action=%s",
			    LOG_ESC(name), LOG_ESC(addr),
			    st == DIR_NO_SUCH_USER ? "no such user here"
			                           : "alias loop",
			    env->sender[0] != '\0' ? "bounce" : "drop");
			if (env->sender[0] == '\0' ||
			    env->nrcpts >= SPOOL_RCPTS_MAX)
				continue;
			add_rcpt(env, &cap, addr, addr, SPOOL_RCPT_FAILED);
			env->rcpts[env->nrcpts - 1].last_error = xstrdup(
			    refusals[st == DIR_NO_SUCH_USER ? 0 : 1].text);
			continue;
		}
		for (k = 0; k < t.n && env->nrcpts < SPOOL_RCPTS_MAX; k++)
			add_rcpt(env, &cap, t.addrs[k], addr,
			    SPOOL_RCPT_PENDING);
		dir_targets_free(&t);
	}
	return 0;
}

static void
env_rcpts_free(struct spool_env *env)
{
	size_t i;

	for (i = 0; i < env->nrcpts; i++) {
		free(env->rcpts[i].addr);
		free(env->rcpts[i].orcpt);
		free(env->rcpts[i].last_error);
	}
	free(env->rcpts);
	env->rcpts = NULL;
	env->nrcpts = 0;
}

/*
 * The message into m, with bare names in From, To, Cc and Reply-To
 * qualified with the first local domain (msg/qualify.h), as Postfix
 * does for local submissions. Done here, by the server, not by `tern
 * sendmail`: its configuration is the one that counts, and a drop file
 * may come from any program. A header that would grow past
 * PICKUP_QUALIFY_GROWTH goes in as it was.
 */
static int sign_message(struct pickup *, struct spool_msg *,
    const uint8_t *a, size_t an, const uint8_t *b, size_t bn, struct why *);

static int
write_message(struct pickup *pk, struct spool_msg *m, const uint8_t *p,
    size_t n, bool sign, struct why *why)
{
	struct buf q;
	size_t used;
	int rc, count;

	buf_init(&q, n + PICKUP_QUALIFY_GROWTH);
	count = msg_qualify_header(p, n, pk->conf->domains[0], &q, &used);
	if (count <= 0) {
		buf_reset(&q);
		return spool_msg_write(m, p, n, why) == -1 ||
		               (sign && sign_message(pk, m, p, n, NULL, 0,
		                            why) == -1)
		           ? -1
		           : 0;
	}
	rc = spool_msg_write(m, q.data, q.len, why) == -1 ||
	             spool_msg_write(m, p + used, n - used, why) == -1 ||
	             (sign && sign_message(pk, m, q.data, q.len, p + used,
	                          n - used, why) == -1)
	         ? -1
	         : 0;
	buf_reset(&q);
	return rc;
}

/*
 * DKIM: sign the message as spooled (a + b, the qualified header and
 * the rest) and put the signatures on top. -1 with why when the
 * configuration says to wait for a usable key.
 */
static int
sign_message(struct pickup *pk, struct spool_msg *m, const uint8_t *a,
    size_t an, const uint8_t *b, size_t bn, struct why *why)
{
	struct buf whole, out;
	const uint8_t *msg = a;
	size_t n = an;
	int rc = 0;

	if (pk->sign == NULL)
		return 0;
	buf_init(&whole, an + bn + 1);
	buf_init(&out, SPOOL_PREFIX_MAX);
	/* One piece (no header rewritten) is signed where it is. */
	if (bn > 0 && (buf_append(&whole, a, an) == -1 ||
	                  buf_append(&whole, b, bn) == -1))
		rc = why_set(why, WHY_TEMP, ENOMEM, "sign the message");
	else if (bn > 0) {
		msg = whole.data;
		n = whole.len;
	}
	if (rc == 0 && pk->sign(pk->sign_arg, pk->conf, msg, n, &out) == -1)
		rc = why_set(why, WHY_TEMP, 0,
		    "no usable DKIM key (dkim_key_error = defer)");
	else if (out.len > 0 &&
	    spool_msg_set_prefix(m, out.data, out.len, false, why) == -1)
		rc = -1;
	buf_reset(&whole);
	buf_reset(&out);
	return rc;
}

/*
 * Sign the message as the filters left it (non_smtpd_milters): read
 * back from the spool file.
 */
static int
sign_spooled(struct pickup *pk, struct spool_msg *m, struct why *why)
{
	uint8_t *msg;
	size_t len;
	int rc;

	if (pk->sign == NULL)
		return 0;
	if (spool_msg_read_back(m, &msg, &len, why) == -1)
		return -1;
	rc = sign_message(pk, m, msg, len, NULL, 0, why);
	free(msg);
	return rc;
}

static enum dir_resolve_status notice_rcpt(void *arg, const char *to,
    struct dir_targets *out, struct why *why);

/*
 * non_smtpd_milters (issue 18): 0 to commit *m, 1 when there is nothing
 * to commit (refused: its recipients failed, to be bounced; or
 * discarded), -1 to keep the drop file for later.
 */
static int
filter(struct pickup *pk, struct spool_msg **m, struct spool_env *env,
    struct pickup_milter_out *out, const char *name)
{
	size_t i;

	switch (pickup_milter_run(pk->conf, m, env, env->sender,
	    SMTP_ADDR_FMT_MAX, notice_rcpt, pk, out)) {
	case PICKUP_MILTER_ACCEPT:
		return 0;
	case PICKUP_MILTER_REJECT:
		for (i = 0; i < env->nrcpts; i++) {
			if (env->rcpts[i].state != SPOOL_RCPT_PENDING)
				continue;
			env->rcpts[i].state = SPOOL_RCPT_FAILED;
			free(env->rcpts[i].last_error);
			env->rcpts[i].last_error = xstrdup(out->reply);
		}
		return 1;
	case PICKUP_MILTER_DISCARD:
		log_info("event=milter_discard source=maildrop file=%s",
		    LOG_ESC(name));
		return 1;
	case PICKUP_MILTER_TEMPFAIL:
	default:
		log_warn("event=pickup_deferred file=%s error=%s",
		    LOG_ESC(name), LOG_ESC("a content filter tempfailed"));
		return -1;
	}
}

/* Spool it, wait for the commit; 0 when it is durable and submitted. */
/* A maildrop message queued, for the journal and metrics (obs.h). */
static void
obs_pickup(const struct spool_env *env, const char *id, size_t size)
{
	const char **rcpts = xcalloc(env->nrcpts + 1, sizeof(*rcpts));
	size_t i;

	for (i = 0; i < env->nrcpts; i++)
		rcpts[i] = env->rcpts[i].addr;
	obs_emit(&(struct obs_event){ .kind = OBS_ACCEPTED, .id = id,
	    .from = env->sender, .rcpts = rcpts, .nrcpts = env->nrcpts,
	    .listener = "pickup", .size = size });
	free(rcpts);
}

static int
enqueue(struct pickup *pk, const struct pickup_drop *d, const uint8_t *p,
    size_t n, struct spool_env *env, long uid, const char *name)
{
	char date[MSG_DATE_MAX], id[SPOOL_ID_MAX];
	bool milters = pk->conf->nnon_smtpd_milters > 0;
	struct pickup_milter_out mout;
	struct spool_msg *m;
	struct why why;
	struct buf hdr;
	size_t i;
	int ok;

	mout.hold_reason[0] = '\0';
	env->prefix_slot = pk->sign != NULL;
	m = spool_msg_new(pk->spool, env, &why);
	if (m == NULL) {
		log_warn("event=spool_error file=%s error=%s", LOG_ESC(name),
		    LOG_ESC(why.text));
		return -1;
	}
	(void)strlcpy(id, spool_msg_id(m), sizeof(id));
	/* Postfix's shape for local submissions (RFC 5321 4.4). */
	buf_init(&hdr, 1024);
	/* The text if the field itself fails (no date, or out of memory). */
	(void)why_set(&why, WHY_TEMP, 0, "format the Received field");
	if (msg_date_format(env->arrival, date, sizeof(date)) < 0 ||
	    buf_printf(&hdr,
	        "Received: by %s (tern, from userid %ld)\r\n"
	        "\tid %s; %s\r\n",
	        pk->conf->hostname, uid, id, date) == -1 ||
	    spool_msg_write(m, hdr.data, hdr.len, &why) == -1 ||
	    write_message(pk, m, p + d->body_off, n - d->body_off, !milters,
	        &why) == -1) {
		buf_reset(&hdr);
		spool_msg_abort(m);
		log_warn("event=spool_error file=%s id=%s error=%s",
		    LOG_ESC(name), id, LOG_ESC(why.text));
		return -1;
	}
	buf_reset(&hdr);
	if (milters) {
		if ((ok = filter(pk, &m, env, &mout, name)) != 0)
			return ok == 1 ? 0 : -1;
		(void)strlcpy(id, spool_msg_id(m), sizeof(id));
		if (sign_spooled(pk, m, &why) == -1) {
			spool_msg_abort(m);
			log_warn("event=spool_error file=%s id=%s error=%s",
			    LOG_ESC(name), id, LOG_ESC(why.text));
			return -1;
		}
	}
	pthread_mutex_lock(&pk->mtx);
	pk->commit_done = false;
	pthread_mutex_unlock(&pk->mtx);
	spool_msg_commit(m, commit_done, pk);
	pthread_mutex_lock(&pk->mtx);
	while (!pk->commit_done)
		pthread_cond_wait(&pk->cond, &pk->mtx);
	ok = pk->commit_ok;
	why = pk->commit_why;
	pthread_mutex_unlock(&pk->mtx);
	if (!ok) {
		log_warn("event=commit_failed id=%s file=%s error=%s", id,
		    LOG_ESC(name), LOG_ESC(why.text));
		return -1;
	}
	obs_pickup(env, id, n - d->body_off);
	for (i = 0; mout.hold_reason[0] != '\0' && i < env->nrcpts; i++)
		(void)spool_note_error(pk->spool, id, i, mout.hold_reason,
		    &why);
	if (mout.hold_reason[0] != '\0')
		obs_emit(&(struct obs_event){
		    .kind = OBS_HELD, .id = id, .text = mout.hold_reason });
	if (!env->held)
		sched_submit(pk->sched, id);
	log_info("event=queued id=%s source=maildrop file=%s uid=%ld "
	         "from=%s nrcpt=%zu size=%zu",
	    id, LOG_ESC(name), uid, LOG_ADDR(env->sender), env->nrcpts,
	    n - d->body_off);
	return 0;
}

/* bounce_resolve_fn: a DSN to a local sender goes where RCPT TO would. */
static enum dir_resolve_status
notice_rcpt(void *arg, const char *to, struct dir_targets *out, struct why *why)
{
	struct pickup *pk = arg;
	struct dir_policy pol;
	const char *at = strrchr(to, '@');

	if (at == NULL || !conf_is_local_domain(pk->conf, at + 1)) {
		out->addrs = xcalloc(1, sizeof(char *));
		out->addrs[0] = xstrdup(to);
		out->n = 1;
		return DIR_RESOLVED;
	}
	if (pk->dir == NULL) {
		why_set(why, WHY_TEMP, 0, "user database unavailable");
		return DIR_TEMPFAIL;
	}
	dir_policy_conf(&pol, pk->conf);
	return dir_resolve(pk->dir, to, &pol, out, why);
}

/*
 * Return the message to its sender for the recipients resolve() failed
 * (state F), as a DSN (queue/bounce.h) about the queued message env,
 * read from the drop file fd. 0 when there are none or the DSN is
 * queued; -1 (logged): keep the drop file for the next scan.
 */
static int
bounce_refused(struct pickup *pk, struct spool_env *env, int fd,
    const struct pickup_drop *d, size_t n, const char *name)
{
	struct bounce_rcpt *br;
	char bid[SPOOL_ID_MAX];
	struct spool_env be;
	struct why why;
	size_t i, k, nb = 0;
	int rc;

	br = xcalloc(env->nrcpts, sizeof(*br));
	for (i = 0; i < env->nrcpts; i++) {
		if (env->rcpts[i].state != SPOOL_RCPT_FAILED)
			continue;
		for (k = 0;
		     k < sizeof(refusals) / sizeof(refusals[0]) - 1 &&
		     strcmp(env->rcpts[i].last_error, refusals[k].text) != 0;
		     k++)
			;
		br[nb].idx = i;
		br[nb].reason = env->rcpts[i].last_error;
		br[nb].code = 550;
		br[nb].esc = refusals[k].esc;
		br[nb++].text = env->rcpts[i].last_error;
	}
	/* The original as sendmail got it, without our Received field. */
	be = *env;
	be.body_offset = (off_t)d->body_off;
	be.body_size = (off_t)(n - d->body_off);
	why_clear(&why);
	rc = nb == 0 ? 0
	             : bounce_enqueue(pk->spool, pk->conf->hostname,
	                   pk->conf->postmaster, &be, fd, BOUNCE_FAILED, br, nb,
	                   notice_rcpt, pk, bid, &why);
	free(br);
	if (rc == -1) {
		log_warn("event=bounce_failed id=%s file=%s rcpts=%zu "
		         "error=%s",
		    env->id, LOG_ESC(name), nb, LOG_ESC(why.text));
		return -1;
	}
	if (nb > 0 && bid[0] != '\0') {
		log_info("event=bounce id=%s dsn_id=%s rcpts=%zu", env->id, bid,
		    nb);
		sched_submit(pk->sched, bid);
	} else if (nb > 0) {
		char esc[300];

		log_info("event=bounce_dropped id=%s rcpts=%zu reason=%s",
		    env->id, nb,
		    log_escs(esc, sizeof(esc),
		        why.kind != WHY_NONE ? why.text : "no notice needed"));
	}
	return 0;
}

/* Queued (and bounced): the file may go. A crash before is a duplicate. */
static void
drop_done(struct pickup *pk, const char *name, const char *id)
{
	if (unlinkat(pk->dfd, name, 0) == -1 && errno != ENOENT)
		log_warn("event=pickup_remove_failed file=%s id=%s error=%s",
		    LOG_ESC(name), id, LOG_ESC(strerror(errno)));
}

/* Read the whole file (at most cap bytes); -1 with errno. */
static int
read_file(int fd, size_t cap, struct buf *b)
{
	uint8_t chunk[65536];
	ssize_t r;

	for (;;) {
		r = read(fd, chunk, sizeof(chunk));
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			return 0;
		if (b->len + (size_t)r > cap) {
			errno = EFBIG;
			return -1;
		}
		if (buf_append(b, chunk, (size_t)r) == -1)
			return -1; /* ENOMEM, or EMSGSIZE: over cap too */
	}
}

static void
take(struct pickup *pk, const char *name)
{
	char sender[SMTP_ADDR_FMT_MAX];
	struct pickup_drop d;
	struct spool_env env;
	const char *why_text;
	struct stat st;
	struct buf b;
	size_t cap;
	long uid = -1;
	int fd;

	if (!is_drop_name(name)) {
		refuse(pk, name, uid, "bad file name");
		return;
	}
	/* O_NONBLOCK: a FIFO must not hang us; O_NOFOLLOW: no symlinks. */
	fd = openat(pk->dfd, name,
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1) {
		if (errno != ENOENT) /* its writer may have removed it */
			refuse(pk, name, uid,
			    errno == ELOOP ? "symbolic link"
			                   : "cannot open (check its mode)");
		return;
	}
	cap = (size_t)pk->conf->limits.max_message_size + PICKUP_ENV_MAX;
	if (fstat(fd, &st) == -1) {
		(void)close(fd);
		return;
	}
	uid = (long)st.st_uid;
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    (uint64_t)st.st_size > cap) {
		(void)close(fd);
		refuse(pk, name, uid,
		    !S_ISREG(st.st_mode) ? "not a regular file"
		    : st.st_nlink != 1   ? "more than one link"
		                         : "file too big (max_message_size)");
		return;
	}
	buf_init(&b, cap);
	if (read_file(fd, cap, &b) == -1) {
		bool nomem = errno == ENOMEM;

		(void)close(fd);
		buf_reset(&b);
		if (nomem) { /* ours, not the file's: leave it for a retry */
			log_warn("event=pickup_deferred file=%s uid=%ld "
			         "error=\"out of memory\"",
			    LOG_ESC(name), uid);
			return;
		}
		refuse(pk, name, uid, "read failed or file too big");
		return;
	}
	if (pickup_parse(b.data, b.len, pk->conf->limits.max_message_size, &d,
	        &why_text) == -1) {
		(void)close(fd);
		buf_reset(&b);
		refuse(pk, name, uid, why_text);
		return;
	}
	memset(&env, 0, sizeof(env));
	env.arrival = time(NULL);
	addr_string(&d.sender, sender, sizeof(sender));
	env.sender = sender;
	env.helo = (char *)"localhost";
	env.client_addr = (char *)"127.0.0.1";
	env.client_name = (char *)"localhost";
	env.smtputf8 = d.smtputf8;
	env.eightbit = d.eightbit;
	/*
	 * Refused local recipients go into the queue in state F (so that
	 * `tern queue` and the logs tie the bounce to the message) and
	 * back to the sender in a DSN; when none is left, the message is
	 * queued only to be bounced whole.
	 */
	if (resolve(pk, &d, &env, name) == 0) {
		if (env.nrcpts == 0)
			refuse(pk, name, uid, "no deliverable recipient");
		else if (enqueue(pk, &d, b.data, b.len, &env, uid, name) == 0 &&
		         bounce_refused(pk, &env, fd, &d, b.len, name) == 0)
			drop_done(pk, name, env.id);
	}
	(void)close(fd);
	env_rcpts_free(&env);
	pickup_drop_free(&d);
	buf_reset(&b);
}

/* One pass over the directory; true when there may be more. */
static bool
scan(struct pickup *pk)
{
	char names[SCAN_BATCH][PICKUP_NAME_MAX + 1];
	struct dirent *de;
	struct stat st;
	size_t i, n = 0;
	bool more = false;
	DIR *dp;
	int fd;

	fd = dup(pk->dfd);
	if (fd == -1 || (dp = fdopendir(fd)) == NULL) {
		if (fd != -1)
			(void)close(fd);
		log_warn("event=pickup_scan_failed error=%s",
		    LOG_ESC(strerror(errno)));
		return false;
	}
	rewinddir(dp);
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_name[0] == '.') {
			/* A writer's temporary file; gone stale? */
			if (fstatat(pk->dfd, de->d_name, &st,
			        AT_SYMLINK_NOFOLLOW) == 0 &&
			    st.st_mtime + STALE_TMP_SECS < time(NULL))
				(void)unlinkat(pk->dfd, de->d_name, 0);
			continue;
		}
		if (n == SCAN_BATCH) {
			more = true;
			break;
		}
		if (strlen(de->d_name) > PICKUP_NAME_MAX) {
			refuse(pk, de->d_name, -1, "bad file name");
			continue;
		}
		(void)strlcpy(names[n++], de->d_name, sizeof(names[0]));
	}
	(void)closedir(dp);
	for (i = 0; i < n; i++) {
		pk->conf = conf_holder_get(pk->confs);
		take(pk, names[i]);
		conf_unref(pk->conf);
		pk->conf = NULL;
	}
	return more;
}

static void *
pickup_main(void *arg)
{
	struct pickup *pk = arg;
	struct why why;
	bool more, stop;

	for (;;) {
		pthread_mutex_lock(&pk->mtx);
		stop = pk->stop;
		pthread_mutex_unlock(&pk->mtx);
		if (stop)
			break;
		if (pk->dir == NULL &&
		    (pk->dir = dir_open(pk->dbpath, &why)) == NULL)
			log_warn("event=dir_open_failed path=%s error=%s",
			    LOG_ESC(pk->dbpath), LOG_ESC(why.text));
		more = scan(pk);
		if (!more)
			dirwatch_wait(pk->watch);
	}
	return NULL;
}

/* mkdir `name` below data_dir if missing; open it if it is ours. */
static int
own_dir(const char *data_dir, const char *name, mode_t mode, struct why *why)
{
	char path[4096];
	struct stat st;
	int n, fd;

	n = snprintf(path, sizeof(path), "%s/%s", data_dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return why_set(why, WHY_TEMP, ENAMETOOLONG, "%s", data_dir);
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		return why_set(why, WHY_TEMP, errno, "create %s", path);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return why_set(why, WHY_TEMP, errno, "open %s", path);
	if (fstat(fd, &st) == -1 || st.st_uid != geteuid()) {
		(void)close(fd);
		return why_set(why, WHY_TEMP, 0,
		    "%s is not owned by the server's user (uid %u)", path,
		    (unsigned)geteuid());
	}
	/* mkdir's mode passes through the umask; the sticky bit must not. */
	if ((st.st_mode & 07777) != mode && fchmod(fd, mode) == -1) {
		why_set(why, WHY_TEMP, errno, "chmod %s", path);
		(void)close(fd);
		return -1;
	}
	return fd;
}

struct pickup *
pickup_start(struct conf_holder *confs, const char *data_dir,
    struct spool *spool, struct sched *sched, const char *dbpath,
    pickup_sign_fn *sign, void *sign_arg, struct why *why)
{
	pthread_condattr_t ca;
	struct pickup *pk;
	struct stat st;
	char path[4096];
	int e;

	pk = xcalloc(1, sizeof(*pk));
	pk->confs = confs;
	pk->sign = sign;
	pk->sign_arg = sign_arg;
	pk->spool = spool;
	pk->sched = sched;
	pk->rfd = -1;
	pk->dfd = own_dir(data_dir, "maildrop", 01733, why);
	if (pk->dfd == -1 || (pk->rfd = own_dir(data_dir,
	                          "maildrop-refused", 0700, why)) == -1)
		goto fail;
	if (stat(data_dir, &st) == 0 && (st.st_mode & S_IXOTH) == 0)
		log_info("event=maildrop_private data_dir=%s msg=\"only users "
		         "who can enter data_dir can use tern sendmail; chmod "
		         "o+x it to let every local user\"",
		    LOG_ESC(data_dir));
	pk->dbpath = xstrdup(dbpath);
	(void)snprintf(path, sizeof(path), "%s/maildrop", data_dir);
	pk->watch = dirwatch_new(path, PICKUP_INTERVAL_MS);
	pthread_mutex_init(&pk->mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pk->cond, &ca);
	pthread_condattr_destroy(&ca);
	if ((e = pthread_create(&pk->thr, NULL, pickup_main, pk)) != 0) {
		why_set(why, WHY_TEMP, e, "start the pickup thread");
		pthread_cond_destroy(&pk->cond);
		pthread_mutex_destroy(&pk->mtx);
		dirwatch_free(pk->watch);
		free(pk->dbpath);
		goto fail;
	}
	return pk;
fail:
	if (pk->dfd != -1)
		(void)close(pk->dfd);
	if (pk->rfd != -1)
		(void)close(pk->rfd);
	free(pk);
	return NULL;
}

void
pickup_stop(struct pickup *pk)
{
	if (pk == NULL)
		return;
	pthread_mutex_lock(&pk->mtx);
	pk->stop = true;
	pthread_cond_broadcast(&pk->cond);
	pthread_mutex_unlock(&pk->mtx);
	dirwatch_wake(pk->watch);
	(void)pthread_join(pk->thr, NULL);
	dirwatch_free(pk->watch);
	dir_close(pk->dir);
	pthread_cond_destroy(&pk->cond);
	pthread_mutex_destroy(&pk->mtx);
	(void)close(pk->dfd);
	(void)close(pk->rfd);
	free(pk->dbpath);
	free(pk);
}
