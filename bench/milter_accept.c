/* SPDX-License-Identifier: ISC */
/*
 * bench/milter_accept.c - a milter that accepts everything, for workload 10
 * of bench/run.py (issue 18): what one content filter costs a server when
 * the filter itself does nothing.
 *
 * Built with Debian's libmilter (libmilter-dev) by bench/run.py, never by
 * the default build. It registers the callbacks a real filter does
 * (connect, helo, envfrom, envrcpt, header, eoh, body, eom, abort) and asks
 * for no SMFIP_NR_* flags, so each of those stages is a round trip, as with
 * rspamd; every callback answers SMFIS_CONTINUE and nothing is changed.
 * DATA and unknown commands are not registered: libmilter tells the MTA to
 * skip them, as filters that do not look at them do.
 *
 * It counts connections, ends of message and aborts. SIGUSR1 prints a line
 * "milter_accept: connect=N eom=N abort=N" on stdout (the bench takes the
 * difference around each run); SIGTERM stops libmilter and the same line
 * is printed with "exit" before it.
 *
 * Usage: milter_accept inet:PORT@127.0.0.1
 * Trust: listens on loopback only (refuses any other address); the MTA is
 * the bench's own server; no privileges needed.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmilter/mfapi.h>

#define LOOPBACK_SUFFIX "@127.0.0.1"
#define LISTEN_BACKLOG 256 /* the bench opens up to a few hundred at once */

static atomic_ulong n_connect;
static atomic_ulong n_eom;
static atomic_ulong n_abort;

static sfsistat
on_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	(void)ctx;
	(void)host;
	(void)sa;
	atomic_fetch_add(&n_connect, 1);
	return SMFIS_CONTINUE;
}

static sfsistat
on_helo(SMFICTX *ctx, char *helo)
{
	(void)ctx;
	(void)helo;
	return SMFIS_CONTINUE;
}

static sfsistat
on_envfrom(SMFICTX *ctx, char **argv)
{
	(void)ctx;
	(void)argv;
	return SMFIS_CONTINUE;
}

static sfsistat
on_envrcpt(SMFICTX *ctx, char **argv)
{
	(void)ctx;
	(void)argv;
	return SMFIS_CONTINUE;
}

static sfsistat
on_header(SMFICTX *ctx, char *name, char *value)
{
	(void)ctx;
	(void)name;
	(void)value;
	return SMFIS_CONTINUE;
}

static sfsistat
on_eoh(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat
on_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	(void)ctx;
	(void)chunk;
	(void)len;
	return SMFIS_CONTINUE;
}

/* CONTINUE at the end of the message means "accept it as it is". */
static sfsistat
on_eom(SMFICTX *ctx)
{
	(void)ctx;
	atomic_fetch_add(&n_eom, 1);
	return SMFIS_CONTINUE;
}

static sfsistat
on_abort(SMFICTX *ctx)
{
	(void)ctx;
	atomic_fetch_add(&n_abort, 1);
	return SMFIS_CONTINUE;
}

static void
report(const char *when)
{
	printf("milter_accept: %sconnect=%lu eom=%lu abort=%lu\n", when,
	    atomic_load(&n_connect), atomic_load(&n_eom),
	    atomic_load(&n_abort));
	fflush(stdout);
}

/*
 * SIGUSR1 is blocked in every thread (main() blocks it before any thread
 * starts) and taken here, so a report never interrupts a callback.
 */
static void *
reporter(void *arg)
{
	sigset_t *set = arg;
	int sig;

	for (;;) {
		if (sigwait(set, &sig) == 0 && sig == SIGUSR1)
			report("");
	}
	return NULL;
}

static int
is_loopback_spec(const char *spec)
{
	size_t n = strlen(spec), k = strlen(LOOPBACK_SUFFIX);

	return strncmp(spec, "inet:", 5) == 0 && n > 5 + k &&
	       strcmp(spec + n - k, LOOPBACK_SUFFIX) == 0;
}

int
main(int argc, char **argv)
{
	struct smfiDesc desc = {
		.xxfi_name = "milter_accept",
		.xxfi_version = SMFI_VERSION,
		.xxfi_flags = 0, /* no actions: it changes nothing */
		.xxfi_connect = on_connect,
		.xxfi_helo = on_helo,
		.xxfi_envfrom = on_envfrom,
		.xxfi_envrcpt = on_envrcpt,
		.xxfi_header = on_header,
		.xxfi_eoh = on_eoh,
		.xxfi_body = on_body,
		.xxfi_eom = on_eom,
		.xxfi_abort = on_abort,
	};
	static sigset_t usr1;
	sigset_t all;
	pthread_t t;
	int rc;

	if (argc != 2 || !is_loopback_spec(argv[1])) {
		fprintf(stderr, "usage: milter_accept inet:PORT@127.0.0.1\n");
		return 64;
	}
	/*
	 * Block the signals before any thread exists so every thread
	 * inherits the mask: SIGUSR1 goes to reporter(), and SIGTERM,
	 * SIGINT and SIGHUP to libmilter's own signal thread (a thread
	 * with them unblocked would die of them instead).
	 */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	all = usr1;
	sigaddset(&all, SIGTERM);
	sigaddset(&all, SIGINT);
	sigaddset(&all, SIGHUP);
	if ((rc = pthread_sigmask(SIG_BLOCK, &all, NULL)) != 0 ||
	    (rc = pthread_create(&t, NULL, reporter, &usr1)) != 0) {
		fprintf(stderr, "milter_accept: threads: %s\n", strerror(rc));
		return 71;
	}
	if (smfi_setconn(argv[1]) != MI_SUCCESS ||
	    smfi_setbacklog(LISTEN_BACKLOG) != MI_SUCCESS ||
	    smfi_register(desc) != MI_SUCCESS ||
	    smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "milter_accept: cannot listen on %s\n",
		    argv[1]);
		return 71;
	}
	printf("milter_accept: listening on %s\n", argv[1]);
	fflush(stdout);
	rc = smfi_main();
	report("exit ");
	return rc == MI_SUCCESS ? 0 : 1;
}
