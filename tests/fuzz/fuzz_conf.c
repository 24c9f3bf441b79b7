/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for conf_load_string(). Besides "no crash, no leak",
 * it checks the round trip in both print modes: whatever loads must
 * print as a config that loads again, prints the same, and has the same
 * settings (all of them printed alike). A config with an inline route
 * password prints without it (issue 15), so it does not load back; its
 * printed text must not hold the password.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"

#define FUZZ_CONF_MAX (64 * 1024)

static char *
print_str(const struct conf *c, unsigned flags)
{
	char *s = NULL;
	size_t n = 0;
	FILE *fp = open_memstream(&s, &n);

	if (fp == NULL)
		abort();
	conf_print(c, fp, flags);
	if (fclose(fp) != 0)
		abort();
	return s;
}

/*
 * Inline passwords: none may show. The printed text must not depend on
 * them at all: printed again with the passwords taken out, it is the
 * same (a password may also occur by chance in a host name or a
 * comment, so looking for its text would not do).
 */
static bool
has_inline(struct conf *c, const char *printed, unsigned flags)
{
	char **pass, *again;
	bool any = false;
	size_t i, n = c->nroutes;

	pass = calloc(n + 1, sizeof(*pass));
	if (pass == NULL)
		abort();
	for (i = 0; i < n; i++) {
		pass[i] = c->routes[i].auth_pass;
		if (c->routes[i].auth_inline) {
			any = true;
			c->routes[i].auth_pass = NULL;
		}
	}
	if (!any) {
		free(pass);
		return false;
	}
	again = print_str(c, flags);
	for (i = 0; i < n; i++)
		c->routes[i].auth_pass = pass[i];
	free(pass);
	if (strcmp(printed, again) != 0) {
		fprintf(stderr, "password printed:\n%s", printed);
		abort();
	}
	free(again);
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned modes[] = { CONF_PRINT_ALL, 0 };
	struct conf *c, *c2;
	struct why why;
	char *text, *all, *s1, *s2;
	size_t m;

	if (size > FUZZ_CONF_MAX)
		return 0;
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	why_clear(&why);
	c = conf_load_string(text, "fuzz", &why);
	free(text);
	if (c == NULL) {
		/* Every refusal names the input. */
		if (strncmp(why.text, "fuzz", 4) != 0)
			abort();
		return 0;
	}
	all = print_str(c, CONF_PRINT_ALL);
	for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		s1 = print_str(c, modes[m]);
		if (has_inline(c, s1, modes[m])) {
			free(s1);
			continue;
		}
		c2 = conf_load_string(s1, "printed", &why);
		if (c2 == NULL) {
			fprintf(stderr, "reload failed: %s\n%s", why.text, s1);
			abort();
		}
		s2 = print_str(c2, modes[m]);
		if (strcmp(s1, s2) != 0)
			abort();
		free(s2);
		s2 = print_str(c2, CONF_PRINT_ALL);
		if (strcmp(all, s2) != 0) {
			fprintf(stderr, "settings differ:\n%s---\n%s", all, s2);
			abort();
		}
		free(s1);
		free(s2);
		conf_free(c2);
	}
	free(all);
	conf_free(c);
	return 0;
}
