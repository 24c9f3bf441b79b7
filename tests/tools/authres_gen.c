/* SPDX-License-Identifier: ISC */
/*
 * tests/tools/authres_gen.c - write Authentication-Results fields with
 * auth/authres.c for tests/integration/test_authres_parse.py, which
 * parses them with Debian's python3-authres. Built with the tests only.
 *
 * stdin, one command a line (values hex-encoded so that any byte can be
 * tested; "-" is NULL):
 *   F ID                      start a field for authserv-id ID
 *   R METHOD RESULT REASON COMMENT
 *   P PTYPE PROP VALUE        a property of the last R
 *   E                         write the field
 * stdout: each field (CRLF-folded, ending in CRLF) followed by ".\n", or
 * "ERROR errno\n.\n".
 * Trust: test input only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/authres.h"

#define RESULTS_MAX 16

struct field {
	char *id;
	struct authres_result r[RESULTS_MAX];
	size_t n;
	char *owned[RESULTS_MAX * (AUTHRES_PROPS_MAX * 3 + 4)];
	size_t n_owned;
};

static char *
keep(struct field *f, char *s)
{
	if (s == NULL || f->n_owned >= sizeof(f->owned) / sizeof(f->owned[0])) {
		free(s);
		fprintf(stderr, "authres_gen: too much input\n");
		exit(2);
	}
	f->owned[f->n_owned++] = s;
	return s;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "-" is NULL, else hex. */
static char *
unhex(struct field *f, const char *h)
{
	size_t i, n = strlen(h);
	char *s;

	if (strcmp(h, "-") == 0)
		return NULL;
	if (n % 2 != 0 || (s = malloc(n / 2 + 1)) == NULL) {
		fprintf(stderr, "authres_gen: bad hex %s\n", h);
		exit(2);
	}
	for (i = 0; i < n / 2; i++) {
		int a = hexval(h[2 * i]), b = hexval(h[2 * i + 1]);

		if (a < 0 || b < 0) {
			fprintf(stderr, "authres_gen: bad hex %s\n", h);
			exit(2);
		}
		s[i] = (char)(a << 4 | b);
	}
	s[n / 2] = 0;
	return keep(f, s);
}

static char *
word(struct field *f, const char *w)
{
	return keep(f, strdup(w));
}

static void
field_reset(struct field *f)
{
	size_t i;

	for (i = 0; i < f->n_owned; i++)
		free(f->owned[i]);
	memset(f, 0, sizeof(*f));
}

static void
field_write(struct field *f)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	if (authres_write(&b, f->id, f->r, f->n) == 0)
		fwrite(b.data, 1, b.len, stdout);
	else
		printf("ERROR %d\n", errno);
	printf(".\n");
	buf_reset(&b);
}

int
main(void)
{
	static struct field f;
	char *line = NULL, a[4][65536];
	size_t cap = 0;
	ssize_t len;
	int k;

	while ((len = getline(&line, &cap, stdin)) > 0) {
		if (len >= (ssize_t)sizeof(a[0]))
			return 2;
		k = sscanf(line, "%*s %65535s %65535s %65535s %65535s", a[0],
		    a[1], a[2], a[3]);
		if (line[0] == 'F' && k >= 1) {
			field_reset(&f);
			f.id = word(&f, a[0]);
		} else if (line[0] == 'R' && k == 4 && f.n < RESULTS_MAX) {
			struct authres_result *r = &f.r[f.n++];

			r->method = word(&f, a[0]);
			r->result = word(&f, a[1]);
			r->reason = unhex(&f, a[2]);
			r->comment = unhex(&f, a[3]);
		} else if (line[0] == 'P' && k == 3 && f.n > 0 &&
		           f.r[f.n - 1].n_props < AUTHRES_PROPS_MAX) {
			struct authres_result *r = &f.r[f.n - 1];
			struct authres_prop *p = &r->props[r->n_props++];

			p->ptype = word(&f, a[0]);
			p->prop = word(&f, a[1]);
			p->value = unhex(&f, a[2]);
		} else if (line[0] == 'E') {
			field_write(&f);
		} else {
			fprintf(stderr, "authres_gen: bad line: %s", line);
			return 2;
		}
	}
	field_reset(&f);
	free(line);
	return fflush(stdout) == 0 ? 0 : 1;
}
