/* SPDX-License-Identifier: ISC */
/* capture/check.c - a message's problems, from msg/lint.h (check.h). */
#include "capture/check.h"

#include <stdio.h>

#include "msg/lint.h"

size_t
cap_check(const char *msg, size_t len, size_t nrcpt, struct cap_problem *out,
    size_t max)
{
	struct lint_problem lp[LINT_RULES];
	size_t n, i;

	n = msg_lint(msg, len, nrcpt, lp, LINT_RULES);
	if (n > LINT_RULES)
		n = LINT_RULES;
	for (i = 0; i < n && i < max; i++) {
		(void)snprintf(out[i].rule, sizeof(out[i].rule), "%s",
		    lp[i].rule);
		(void)snprintf(out[i].ref, sizeof(out[i].ref), "%s", lp[i].ref);
		(void)snprintf(out[i].detail, sizeof(out[i].detail), "%s",
		    lp[i].detail);
	}
	return i;
}
