/* SPDX-License-Identifier: ISC */
/*
 * cli/confpath.c - which configuration file a command reads, and loading
 * it with a message a new operator can act on (issue 15: one path for
 * every command, no silent fallback to the demo).
 *
 * Trust: the path and TERN_CONFIG come from the local user running the
 * command; the file is read with that user's rights.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

const char *
cli_conf_path(const char *given, const char **from_out)
{
	const char *env = getenv("TERN_CONFIG");
	const char *path = CLI_CONF_DEFAULT, *from = "the default";

	if (given != NULL && given[0] != '\0') {
		path = given;
		from = "named on the command line";
	} else if (env != NULL && env[0] != '\0') {
		path = env;
		from = "from TERN_CONFIG";
	}
	if (from_out != NULL)
		*from_out = from;
	return path;
}

struct conf *
cli_conf_load(const char *prog, const char *given, bool demo, int *code)
{
	struct conf *conf;
	struct why why;
	const char *path, *from;

	if (demo)
		return conf_default();
	path = cli_conf_path(given, &from);
	why_clear(&why);
	if ((conf = conf_load(path, &why)) != NULL)
		return conf;
	*code = EX_CONFIG;
	if (why.sys_errno != ENOENT) {
		fprintf(stderr, "%s: %s\n", prog, why.text);
		return NULL;
	}
	fprintf(stderr,
	    "%s: no configuration file at %s (%s)\n"
	    "%s: make one with `tern init%s%s` and edit it, or name another "
	    "with -c FILE or TERN_CONFIG=FILE;\n"
	    "%s: to try tern first, `tern --demo serve` runs the embedded "
	    "demo (what `make run` does)\n",
	    prog, path, from, prog,
	    strcmp(path, CLI_CONF_DEFAULT) == 0 ? "" : " ",
	    strcmp(path, CLI_CONF_DEFAULT) == 0 ? "" : path, prog);
	return NULL;
}
