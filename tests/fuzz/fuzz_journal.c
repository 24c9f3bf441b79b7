/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for ops/explain.c: the journal's line parser, the
 * line reader, the stories and both renderings. The input is a journal
 * file; it is read through a pipe-less memfd by the reader, fed to an
 * explain by id and one by address (two passes each), and rendered.
 * What must hold: the reader never returns a line over EXPLAIN_LINE_MAX
 * and never one with an LF; the JSON rendering parses back (jansson)
 * to an array; nothing crashes or leaks (ASan).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <jansson.h>

#include "ops/explain.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

static void
run(int fd, const char *what)
{
	struct explain *ex = explain_new(what, 3);
	struct explain_reader *r;
	enum explain_read_status st;
	const char *line;
	size_t len;
	bool more = true;
	char *out = NULL;
	size_t outlen = 0;
	FILE *f;
	json_t *back;
	json_error_t err;

	if (ex == NULL)
		abort();
	while (more) {
		if (lseek(fd, 0, SEEK_SET) == -1 ||
		    (r = explain_reader_new(fd)) == NULL)
			abort();
		while ((st = explain_read_line(r, &line, &len)) !=
		       EXPLAIN_READ_EOF) {
			if (st == EXPLAIN_READ_ERROR)
				abort();
			if (st != EXPLAIN_READ_LINE) {
				explain_skipped(ex, st);
				continue;
			}
			if (len > EXPLAIN_LINE_MAX || memchr(line, '\n', len))
				abort(); /* a limit or a split was wrong */
			explain_feed(ex, line, len);
		}
		explain_reader_free(r);
		more = explain_next_pass(ex);
	}
	if ((f = open_memstream(&out, &outlen)) == NULL)
		abort();
	explain_render_text(ex, f);
	fclose(f);
	free(out);
	out = NULL;
	if ((f = open_memstream(&out, &outlen)) == NULL)
		abort();
	if (explain_render_json(ex, f) != 0)
		abort();
	fclose(f);
	back = json_loadb(out, outlen, 0, &err);
	if (!json_is_array(back) || json_array_size(back) != explain_count(ex))
		abort(); /* the JSON we write must read back */
	json_decref(back);
	free(out);
	explain_free(ex);
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	int fd;

	if (n > 4 * EXPLAIN_LINE_MAX)
		return 0;
	/* The line parser alone, on the whole input as one line. */
	json_decref(explain_parse_line((const char *)p, n));
	if ((fd = memfd_create("journal", 0)) == -1)
		abort();
	if (write(fd, p, n) != (ssize_t)n)
		abort();
	run(fd, "00000000000000000001");
	run(fd, "bob@Example.ORG");
	close(fd);
	return 0;
}
