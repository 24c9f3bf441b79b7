/* SPDX-License-Identifier: ISC */
/*
 * bench/maildir_sync.c - the Maildir sync path alone (issue 20): T
 * threads each write 4 KiB files into tmp/ of one of 10 Maildirs, make
 * the data durable, rename into new/, make new/ durable. Mode "alone":
 * fdatasync(file) and fsync(new/) per message (today's cost per file,
 * without main's sharing of a directory's fsync); mode "group":
 * deliver/syncgroup.c. Prints msgs/s, the process's CPU per 1000
 * messages (user+system, kernel write-back done in its syncs
 * included; syncfs's write-back runs in kernel flusher threads, so
 * the machine's CPU per 1000 too, /proc/stat), syncs and device flushes
 * per message (/proc/diskstats).
 * Build: cc -O2 -pthread -D_GNU_SOURCE -Isrc bench/maildir_sync.c
 *   src/deliver/syncgroup.c -o /tmp/maildir_sync
 * Run:   /tmp/maildir_sync group|alone THREADS MESSAGES DIR DEVICE
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deliver/syncgroup.h"

#define BOXES 10

static int group_mode;
static const char *root;
static atomic_long next_msg;
static long total;
static atomic_long fails;

static int
sync_fd(int fd, int dirfd, int datasync)
{
	if (group_mode)
		return syncgroup_sync(fd, dirfd, datasync);
	return datasync ? fdatasync(fd) : fsync(fd);
}

static void
one(long n)
{
	static const char blk[4096] = { 'x' };
	char p[512];
	int tmp, new, fd, ok;

	(void)snprintf(p, sizeof(p), "%s/u%ld/tmp", root, n % BOXES);
	tmp = open(p, O_RDONLY | O_DIRECTORY);
	(void)snprintf(p, sizeof(p), "%s/u%ld/new", root, n % BOXES);
	new = open(p, O_RDONLY | O_DIRECTORY);
	(void)snprintf(p, sizeof(p), "m%ld", n);
	fd = openat(tmp, p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ok = tmp != -1 && new != -1 && fd != -1 &&
	     write(fd, blk, sizeof(blk)) == (ssize_t)sizeof(blk) &&
	     sync_fd(fd, tmp, 1) == 0 && close(fd) == 0 &&
	     renameat(tmp, p, new, p) == 0 && sync_fd(new, new, 0) == 0;
	if (!ok)
		atomic_fetch_add(&fails, 1);
	if (tmp != -1)
		close(tmp);
	if (new != -1)
		close(new);
}

static void *
worker(void *arg)
{
	long n;

	(void)arg;
	while ((n = atomic_fetch_add(&next_msg, 1)) < total)
		one(n);
	return NULL;
}

static long long
flushes(const char *dev)
{
	char line[512], name[64];
	long long f[17];
	FILE *fp = fopen("/proc/diskstats", "r");

	while (fp != NULL && fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line,
		        "%*d %*d %63s %lld %lld %lld %lld %lld %lld %lld %lld "
		        "%lld %lld %lld %lld %lld %lld %lld %lld %lld",
		        name, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6],
		        &f[7], &f[8], &f[9], &f[10], &f[11], &f[12], &f[13],
		        &f[14], &f[15], &f[16]) == 18 &&
		    strcmp(name, dev) == 0) {
			fclose(fp);
			return f[15];
		}
	if (fp != NULL)
		fclose(fp);
	return -1;
}

/* CPU seconds all cores spent not idle since boot (/proc/stat). */
static double
machine_busy_s(void)
{
	unsigned long long v[8] = { 0 };
	FILE *fp = fopen("/proc/stat", "r");
	int n = 0;

	if (fp != NULL) {
		n = fscanf(fp, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
		    &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
		fclose(fp);
	}
	if (n != 8)
		return 0;
	/* all but idle (3) and iowait (4), in clock ticks */
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) /
	       (double)sysconf(_SC_CLK_TCK);
}

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

int
main(int argc, char **argv)
{
	struct syncgroup_stats st;
	struct timespec a, b;
	pthread_t t[256];
	char p[512];
	long i, nt;
	long long f0, f1;
	double c0, c1, m0, m1, wall;

	if (argc != 6 || strtol(argv[2], NULL, 10) < 1 ||
	    strtol(argv[2], NULL, 10) > 256) {
		fprintf(stderr, "usage: maildir_sync group|alone THREADS "
		                "MESSAGES DIR DEVICE\n");
		return 64;
	}
	group_mode = strcmp(argv[1], "group") == 0;
	nt = strtol(argv[2], NULL, 10);
	total = strtol(argv[3], NULL, 10);
	root = argv[4];
	for (i = 0; i < BOXES; i++) {
		(void)snprintf(p, sizeof(p), "%s/u%ld", root, i);
		(void)mkdir(p, 0700);
		(void)snprintf(p, sizeof(p), "%s/u%ld/tmp", root, i);
		(void)mkdir(p, 0700);
		(void)snprintf(p, sizeof(p), "%s/u%ld/new", root, i);
		(void)mkdir(p, 0700);
	}
	sync();
	f0 = flushes(argv[5]);
	c0 = cpu_s();
	m0 = machine_busy_s();
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < nt; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (i = 0; i < nt; i++)
		pthread_join(t[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	c1 = cpu_s();
	m1 = machine_busy_s();
	f1 = flushes(argv[5]);
	wall = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	syncgroup_stats(&st);
	printf("mode=%s threads=%ld msgs=%ld fails=%ld msgs_per_s=%.0f "
	       "cpu_s_per_1000=%.3f machine_cpu_s_per_1000=%.3f "
	       "syncs_per_msg=%.3f flushes_per_msg=%.3f\n",
	    argv[1], nt, total, (long)atomic_load(&fails), total / wall,
	    (c1 - c0) * 1000.0 / total, (m1 - m0) * 1000.0 / total,
	    group_mode ? (double)st.syncs / total : 2.0,
	    (double)(f1 - f0) / total);
	return atomic_load(&fails) != 0;
}
