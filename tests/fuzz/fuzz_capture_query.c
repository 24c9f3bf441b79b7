/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for capture/query.c: the first byte picks the
 * method (low two bits) and what the rest is (bits 2-3): a path to
 * route, a query string, or a PUT /api/faults body (also read as a
 * Host header: only a local name may pass, and only n bytes are read).
 * Checks: a routed page name is a NUL-terminated safe name; a parsed
 * filter's texts are NUL-terminated within their size and its timeout
 * within its cap; parsed faults are in range, and a refused body leaves
 * the faults as they were.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

/* Does p[0..n) start with "127.", "[::1]" or hold "localhost" (any
 * case)? What every Host that cap_host_is_local() takes must do. */
static int
names_loopback(const uint8_t *p, size_t n)
{
	static const char lh[] = "localhost";
	size_t i, k;

	if ((n >= 4 && memcmp(p, "127.", 4) == 0) ||
	    (n >= 5 && memcmp(p, "[::1]", 5) == 0))
		return 1;
	for (i = 0; i + sizeof(lh) - 1 <= n; i++) {
		for (k = 0; k < sizeof(lh) - 1; k++)
			if ((p[i + k] | 0x20) != lh[k])
				break;
		if (k == sizeof(lh) - 1)
			return 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	struct cap_faults f, before;
	struct cap_filter flt;
	struct cap_req r;
	const char *why;
	char err[128];

	if (n < 1)
		return 0;
	switch ((p[0] >> 2) & 3) {
	case 0:
		cap_route((enum cap_method)(p[0] & 3), (const char *)p + 1,
		    n - 1, &r);
		if (r.route == CAP_R_PAGE &&
		    (memchr(r.page, '\0', sizeof(r.page)) == NULL ||
		        strchr(r.page, '/') != NULL || r.page[0] == '.'))
			abort();
		break;
	case 1:
		if (cap_filter_parse((const char *)p + 1, n - 1, &flt, &why)) {
			if (memchr(flt.to, '\0', sizeof(flt.to)) == NULL ||
			    memchr(flt.subject, '\0', sizeof(flt.subject)) ==
			        NULL ||
			    flt.timeout > CAP_WAIT_MAX)
				abort();
			(void)cap_filter_match(&flt, 7,
			    (const char *const[]){ "a@b" }, 1, "Hello");
		} else if (why == NULL)
			abort();
		break;
	default:
		/* A Host that passes names loopback (or localhost) only. */
		if (cap_host_is_local((const char *)p + 1, n - 1) &&
		    !names_loopback(p + 1, n - 1))
			abort();
		memset(&f, 0, sizeof(f));
		f.delay_ms = 5;
		before = f;
		if (cap_faults_parse((const char *)p + 1, n - 1, &f, err,
		        sizeof(err))) {
			if (f.rcpt_tempfail < 0 || f.rcpt_tempfail > 100 ||
			    f.msg_permfail < 0 || f.msg_permfail > 100 ||
			    f.drop_mid_data < 0 || f.drop_mid_data > 100 ||
			    f.delay_ms > CAP_DELAY_MAX)
				abort();
		} else if (memcmp(&f, &before, sizeof(f)) != 0 ||
		           memchr(err, '\0', sizeof(err)) == NULL)
			abort();
		break;
	}
	return 0;
}
