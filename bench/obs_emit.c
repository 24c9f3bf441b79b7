/* SPDX-License-Identifier: ISC */
/*
 * bench/obs_emit.c - what observability costs per message, measured
 * without the disk's noise (bench workload 9; issue 17).
 *
 * Emits the events of N messages (accepted, delivered, removed: what a
 * message delivered here leaves) twice in one process: with only the
 * counters (observability off), then with the journal and the event
 * socket on, as tern's defaults are. Prints the process CPU (every
 * thread: the journal's and the socket's too) per message of each, and
 * the difference, as one line of key=value:
 *   messages=N off_us=A on_us=B added_us=B-A
 * bench/run.py divides added_us by tern's CPU per message.
 * Usage: obs_emit DIR [N]   (DIR: an empty directory, the data_dir)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "conf/conf.h"
#include "obs/events.h"
#include "obs/obs.h"
#include "util/why.h"

static double
cpu_seconds(void)
{
	struct rusage ru;

	(void)getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void
messages(unsigned long n)
{
	const char *rcpt = "u3@bench.test";
	char id[32];
	unsigned long i;

	for (i = 0; i < n; i++) {
		(void)snprintf(id, sizeof(id), "0661d2%014lx", i);
		obs_emit(&(struct obs_event){ .kind = OBS_ACCEPTED, .id = id,
		    .from = "sender@example.org", .rcpts = &rcpt, .nrcpts = 1,
		    .client = "127.0.0.1", .helo = "localhost",
		    .listener = "mx", .size = 4096 });
		obs_emit(&(struct obs_event){ .kind = OBS_DELIVERED, .id = id,
		    .to = rcpt, .relay = "maildir:mail/bench.test/u3",
		    .route = OBS_ROUTE_LOCAL, .delay = 0.012, .attempt = 1 });
		obs_emit(&(struct obs_event){ .kind = OBS_REMOVED, .id = id });
	}
}

static struct conf *
conf_for(const char *dir, const char *obs)
{
	char text[1024];
	struct why why;
	struct conf *c;

	(void)snprintf(text, sizeof(text),
	    "hostname = bench.test\ndata_dir = %s\ndomains = bench.test\n"
	    "[listener mx]\naddress = 127.0.0.1:2525\nmode = mx\n"
	    "[observability]\n%s\n",
	    dir, obs);
	if ((c = conf_load_string(text, "bench", &why)) == NULL) {
		fprintf(stderr, "obs_emit: %s\n", why.text);
		exit(1);
	}
	return c;
}

/* CPU seconds for n messages under the settings `obs`. */
static double
run(const char *dir, const char *obs, bool sockets, unsigned long n)
{
	struct conf *c = conf_for(dir, obs);
	struct events *ev = NULL;
	char path[512];
	struct why why;
	double t0, t;

	if (obs_open(c, &why) == -1) {
		fprintf(stderr, "obs_emit: %s\n", why.text);
		exit(1);
	}
	if (sockets) {
		if (events_socket_path(dir, path, sizeof(path)) == -1 ||
		    (ev = events_open(path, obs_last_seq(), &why)) == NULL) {
			fprintf(stderr, "obs_emit: events: %s\n", why.text);
			exit(1);
		}
		obs_add_sink(events_sink, ev);
	}
	t0 = cpu_seconds();
	messages(n);
	if (ev != NULL) {
		obs_remove_sink(events_sink, ev);
		events_close(ev);
	}
	obs_close(); /* the journal's last lines are written: counted */
	t = cpu_seconds() - t0;
	conf_unref(c);
	return t;
}

int
main(int argc, char **argv)
{
	unsigned long n = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000;
	double off, on;

	if (argc < 2 || n == 0) {
		fprintf(stderr, "usage: obs_emit DIR [MESSAGES]\n");
		return 64;
	}
	(void)run(argv[1], "journal = off", false, n / 10); /* warm */
	off = run(argv[1], "journal = off", false, n);
	on = run(argv[1], "journal = on", true, n);
	printf("messages=%lu off_us=%.3f on_us=%.3f added_us=%.3f\n", n,
	    off * 1e6 / (double)n, on * 1e6 / (double)n,
	    (on - off) * 1e6 / (double)n);
	return 0;
}
