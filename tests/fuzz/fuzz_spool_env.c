/* SPDX-License-Identifier: ISC */
/*
 * Fuzz the spool envelope loader: the bytes become a message file in
 * active/ of a read-only spool and spool_env_load() must either load it
 * (with every field in bounds) or refuse it; never crash or leak.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/spool.h"

#include "../unit/testutil.h"

#define ID "00000000000a0001abcd"

static struct spool *sp;
static char dir[TESTUTIL_DIR_MAX];
static char file[128];

static void
cleanup(void)
{
	spool_close(sp);
	testutil_rmtree(dir);
}

static void
init(void)
{
	char p[128];
	struct why why;
	size_t i;

	/* tmpfs when there is one: a write per input is the hot path. */
	if (testutil_mkdtemp(dir, sizeof(dir),
	        access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
	        "fuzz-spool") == -1)
		abort();
	atexit(cleanup);
	for (i = 0; i < 4; i++) {
		static const char *const sub[] = { "incoming", "active",
			"corrupt", "notes" };
		(void)snprintf(p, sizeof(p), "%s/%s", dir, sub[i]);
		if (mkdir(p, 0700) == -1)
			abort();
	}
	(void)snprintf(file, sizeof(file), "%s/active/%s", dir, ID);
	if ((sp = spool_open_readonly(dir, &why)) == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spool_env env;
	struct why why;
	size_t i;
	int fd;

	if (sp == NULL)
		init();
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || write(fd, data, size) != (ssize_t)size)
		abort();
	(void)close(fd);
	if (spool_env_load(sp, ID, &env, &why) == -1) {
		if (why.kind != WHY_PERM)
			abort(); /* a malformed file is permanent */
		return 0;
	}
	if (env.nrcpts == 0 || env.nrcpts > SPOOL_RCPTS_MAX ||
	    env.body_offset > (off_t)size || strcmp(env.id, ID) != 0 ||
	    strlen(env.sender) > SPOOL_FIELD_MAX)
		abort();
	for (i = 0; i < env.nrcpts; i++)
		if (strlen(env.rcpts[i].addr) > SPOOL_FIELD_MAX ||
		    (env.rcpts[i].state != SPOOL_RCPT_PENDING &&
		        env.rcpts[i].state != SPOOL_RCPT_DELIVERED &&
		        env.rcpts[i].state != SPOOL_RCPT_FAILED))
			abort();
	spool_env_free(&env);
	return 0;
}
