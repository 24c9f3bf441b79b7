/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for conf_load_string(). Besides "no crash, no leak",
 * it checks the round trip: whatever loads must print as a config that
 * loads again and prints the same.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"

#define FUZZ_CONF_MAX (64 * 1024)

static char *
print_str(const struct conf *c)
{
	char *s = NULL;
	size_t n = 0;
	FILE *fp = open_memstream(&s, &n);

	if (fp == NULL)
		abort();
	conf_print(c, fp);
	if (fclose(fp) != 0)
		abort();
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf *c, *c2;
	struct why why;
	char *text, *s1, *s2;

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
	s1 = print_str(c);
	c2 = conf_load_string(s1, "printed", &why);
	if (c2 == NULL) {
		fprintf(stderr, "reload failed: %s\n%s", why.text, s1);
		abort();
	}
	s2 = print_str(c2);
	if (strcmp(s1, s2) != 0)
		abort();
	free(s1);
	free(s2);
	conf_free(c);
	conf_free(c2);
	return 0;
}
