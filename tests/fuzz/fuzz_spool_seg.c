/* SPDX-License-Identifier: ISC */
/*
 * Fuzz segment recovery (queue/spool_seg.c, issue 20): the input becomes
 * a segment file of a read-only spool. It is cut into records: two
 * length bytes (the top bit: the record is done), then that many payload
 * bytes, written with a correct header and crc, so the envelope loader
 * is reached; what is left at the end is written raw, as a torn append.
 * Opening, listing and loading every live record must never crash, leak
 * or read out of bounds, and every id listed must load or be refused as
 * permanent.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/spool.h"
#include "queue/spool_seg.h"

#include "../unit/testutil.h"

static char dir[TESTUTIL_DIR_MAX];
static char file[160];

static void
cleanup(void)
{
	testutil_rmtree(dir);
}

static void
init(void)
{
	static const char *const sub[] = { "incoming", "active", "corrupt",
		"notes", "seg" };
	char p[128];
	size_t i;

	if (testutil_mkdtemp(dir, sizeof(dir),
	        access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
	        "fuzz-seg") == -1)
		abort();
	atexit(cleanup);
	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		(void)snprintf(p, sizeof(p), "%s/%s", dir, sub[i]);
		if (mkdir(p, 0700) == -1)
			abort();
	}
	(void)snprintf(file, sizeof(file), "%s/seg/0000000000000001", dir);
}

/* Record n of the input: header with a valid crc, then the payload. */
static void
put_record(int fd, unsigned n, const uint8_t *p, size_t len, int done)
{
	uint8_t h[SEG_HDR_LEN];
	char id[SPOOL_ID_MAX];
	struct seg_item it = { id, p, len, 0 };

	(void)snprintf(id, sizeof(id), "00000000000a%04xabcd", n & 0xffff);
	it.crc = seg_crc(id, p, len);
	seg_record_header(h, &it, done);
	if (write(fd, h, sizeof(h)) != (ssize_t)sizeof(h) ||
	    write(fd, p, len) != (ssize_t)len)
		abort();
}

static void
load_one(void *arg, const char *id)
{
	struct spool *sp = arg;
	struct spool_env env;
	struct why why;

	if (spool_env_load(sp, id, &env, &why) == -1) {
		if (why.kind != WHY_PERM)
			abort();
		return;
	}
	if (env.nrcpts == 0 || env.nrcpts > SPOOL_RCPTS_MAX ||
	    env.body_size < 0 || strcmp(env.id, id) != 0)
		abort();
	spool_env_free(&env);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spool *sp;
	struct why why;
	size_t at = 0, len;
	unsigned n = 0;
	int fd;

	if (dir[0] == '\0')
		init();
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1)
		abort();
	while (at + 2 <= size) {
		len = (size_t)(data[at] & 0x7f) << 8 | data[at + 1];
		if (len == 0 || at + 2 + len > size)
			break;
		put_record(fd, n++, data + at + 2, len, data[at] & 0x80);
		at += 2 + len;
	}
	if (at < size && write(fd, data + at, size - at) !=
	                     (ssize_t)(size - at))
		abort();
	(void)close(fd);
	if ((sp = spool_open_readonly(dir, &why)) == NULL)
		abort();
	if (spool_scan(sp, load_one, sp, &why) == -1)
		abort();
	spool_close(sp);
	return 0;
}
