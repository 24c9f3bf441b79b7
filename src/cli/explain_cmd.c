/* SPDX-License-Identifier: ISC */
/*
 * cli/explain_cmd.c - `tern explain ID|ADDRESS [--json] [--limit N]`:
 * open the journal's two files and run ops/explain.h over them.
 *
 * It reads files only, so it answers the same with the server running
 * or stopped; a line being written as it reads is a torn last line,
 * skipped and counted. The files are opened once and read from the
 * start for each pass: a rotation meanwhile (journal renamed journal.1)
 * leaves our descriptors on the same bytes.
 * Trust: run by the operator, often as root (main.c first becomes the
 * server's user). The journal is data: never opened through a symbolic
 * link or when not a regular file (a FIFO would block us).
 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "obs/obs.h"
#include "ops/explain.h"
#include "util/log.h"

void
cli_explain_usage(FILE *f)
{
	fputs("usage: tern explain ID|ADDRESS [--json] [--limit N]\n"
	      "What happened to message ID, or to the latest N (default 5) "
	      "messages to or\n"
	      "from ADDRESS and the commands refused for it, from "
	      "<data_dir>/journal.1 and\n"
	      "journal: the client and its checks, each delivery attempt "
	      "and its reply,\n"
	      "retries, bounces, holds, and when the message left the queue. "
	      "Times are UTC.\n"
	      "--json: a JSON array of the stories, each {\"id\", \"ids\", "
	      "\"events\", \"dropped\"}.\n"
	      "Exit 0 found, 1 nothing matches, 64 usage, 74 a journal file "
	      "cannot be read.\n",
	    f);
}

struct args {
	const char *what;
	bool json;
	size_t limit;
};

/* A usage error; arg (may be NULL) is escaped into fmt's %s. */
static int
bad(const char *fmt, const char *arg)
{
	fputs("tern: explain: ", stderr);
	if (arg != NULL)
		fprintf(stderr, fmt, LOG_ESC(arg));
	else
		fputs(fmt, stderr);
	fputc('\n', stderr);
	cli_explain_usage(stderr);
	return EX_USAGE;
}

static int
parse_limit(const char *s, size_t *out)
{
	char *end;
	unsigned long v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > EXPLAIN_LIMIT_MAX)
		return -1;
	*out = (size_t)v;
	return 0;
}

static int
parse_args(int argc, char **argv, struct args *a)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			a->json = true;
		} else if (strcmp(argv[i], "--limit") == 0) {
			if (i + 1 == argc)
				return bad("--limit needs a number", NULL);
			if (parse_limit(argv[++i], &a->limit) == -1)
				return bad("--limit takes 1 to 1000, not %s",
				    argv[i]);
		} else if (strncmp(argv[i], "--limit=", 8) == 0) {
			if (parse_limit(argv[i] + 8, &a->limit) == -1)
				return bad("--limit takes 1 to 1000, not %s",
				    argv[i] + 8);
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			return bad("unknown option %s", argv[i]);
		} else if (a->what != NULL) {
			return bad("one ID or ADDRESS at a time, not also %s",
			    argv[i]);
		} else {
			a->what = argv[i];
		}
	}
	if (a->what == NULL || a->what[0] == '\0')
		return bad("which message? give an ID or an ADDRESS", NULL);
	return 0;
}

/*
 * Open data_dir/name for reading: the descriptor, -2 when there is no
 * such file, -1 refused or failed (said on stderr).
 */
static int
open_journal(const char *data_dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;
	int fd, n;

	n = snprintf(path, sizeof(path), "%s/%s", data_dir, name);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		fprintf(stderr, "tern: explain: %s/%s: path too long\n",
		    data_dir, name);
		return -1;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		return -2;
	if (fd == -1 && errno == ELOOP) {
		fprintf(stderr,
		    "tern: explain: refusing %s: it is a symbolic "
		    "link (the journal never is)\n",
		    path);
		return -1;
	}
	if (fd == -1) {
		fprintf(stderr, "tern: explain: open %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		fprintf(stderr,
		    "tern: explain: refusing %s: not a regular "
		    "file\n",
		    path);
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* One pass over one file from its start. 0, or -1 (said on stderr). */
static int
read_file(struct explain *ex, int fd, const char *name)
{
	struct explain_reader *r;
	enum explain_read_status st;
	const char *line;
	size_t len;
	int rc = 0;

	if (lseek(fd, 0, SEEK_SET) == -1 ||
	    (r = explain_reader_new(fd)) == NULL) {
		fprintf(stderr, "tern: explain: %s: %s\n", name,
		    strerror(errno));
		return -1;
	}
	while ((st = explain_read_line(r, &line, &len)) != EXPLAIN_READ_EOF) {
		if (st == EXPLAIN_READ_ERROR) {
			fprintf(stderr, "tern: explain: read %s: %s\n", name,
			    strerror(errno));
			rc = -1;
			break;
		}
		if (st == EXPLAIN_READ_LINE)
			explain_feed(ex, line, len);
		else
			explain_skipped(ex, st);
	}
	explain_reader_free(r);
	return rc;
}

static void
say_nothing(const struct explain *ex, const char *what, bool any_file)
{
	if (!any_file)
		fprintf(stderr,
		    "tern: explain: there is no journal yet (is "
		    "[observability] journal off?): nothing to "
		    "tell about %s\n",
		    LOG_ESC(what));
	else if (explain_is_address(ex))
		fprintf(stderr,
		    "tern: explain: no mail to or from %s in the "
		    "journal\n",
		    LOG_ESC(what));
	else
		fprintf(stderr,
		    "tern: explain: no message %s in the journal "
		    "(a queue id, as `tern queue list` shows, or an "
		    "address)\n",
		    LOG_ESC(what));
}

int
cli_explain(const struct conf *conf, int argc, char **argv)
{
	static const char *const names[] = { OBS_JOURNAL_OLD_NAME,
		OBS_JOURNAL_NAME };
	struct args a = { 0 };
	struct explain *ex;
	int fds[2] = { -2, -2 }, rc, i;
	bool more = true;

	if ((rc = parse_args(argc, argv, &a)) != 0)
		return rc;
	for (i = 0; i < 2; i++)
		if ((fds[i] = open_journal(conf->data_dir, names[i])) == -1)
			goto fail;
	if ((ex = explain_new(a.what, a.limit)) == NULL) {
		fputs("tern: explain: out of memory\n", stderr);
		rc = EX_OSERR;
		goto out;
	}
	while (more) {
		for (i = 0; i < 2; i++)
			if (fds[i] >= 0 &&
			    read_file(ex, fds[i], names[i]) == -1)
				goto fail_ex;
		more = explain_next_pass(ex);
	}
	if (explain_oom(ex)) { /* a story could be missing or cut */
		fputs("tern: explain: out of memory\n", stderr);
		explain_free(ex);
		rc = EX_OSERR;
		goto out;
	}
	if (explain_count(ex) == 0) {
		say_nothing(ex, a.what, fds[0] >= 0 || fds[1] >= 0);
		rc = 1;
	} else if (a.json) {
		rc = explain_render_json(ex, stdout) == 0 ? 0 : EX_OSERR;
	} else {
		explain_render_text(ex, stdout);
	}
	if (explain_bad_lines(ex) > 0)
		fprintf(stderr,
		    "tern: explain: skipped %zu journal line%s: "
		    "not an event (torn by a crash, being written, "
		    "or not tern's)\n",
		    explain_bad_lines(ex),
		    explain_bad_lines(ex) == 1 ? "" : "s");
	/* An earlier write may have failed where the last one did not. */
	if ((fflush(stdout) == EOF || ferror(stdout)) && rc == 0)
		rc = EX_IOERR;
	explain_free(ex);
	goto out;
fail_ex:
	explain_free(ex);
fail:
	rc = EX_IOERR;
out:
	for (i = 0; i < 2; i++)
		if (fds[i] >= 0)
			(void)close(fds[i]);
	return rc;
}
