/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for deliver/tlsrpt.c: the input is read as an
 * _smtp._tls TXT record, and its bytes also become every string of a
 * report (host names, policy lines, addresses) as if a hostile peer had
 * chosen them. The record keeps only printable mailto:/https: URIs; the
 * report is always one valid JSON object (jansson reads it back) whose
 * strings are what went in.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "deliver/tlsrpt.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

static void
check_record(const uint8_t *p, size_t n)
{
	struct tlsrpt_record rec;
	struct why why;
	size_t i, j;

	if (tlsrpt_txt_parse((const char *)p, n, &rec, &why) !=
	    TLSRPT_TXT_OK)
		return;
	if (rec.nrua == 0 || rec.nrua > TLSRPT_RUA_MAX)
		abort();
	for (i = 0; i < rec.nrua; i++) {
		if (strncmp(rec.rua[i], "mailto:", 7) != 0 &&
		    strncmp(rec.rua[i], "https://", 8) != 0 &&
		    strncasecmp(rec.rua[i], "mailto:", 7) != 0 &&
		    strncasecmp(rec.rua[i], "https://", 8) != 0)
			abort();
		for (j = 0; rec.rua[i][j] != '\0'; j++)
			if ((unsigned char)rec.rua[i][j] <= 0x20 ||
			    (unsigned char)rec.rua[i][j] >= 0x7f)
				abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	char s[300];
	const char *lines[2];
	struct tlsrpt_failure f;
	struct tlsrpt_policy pol;
	struct tlsrpt_report r;
	struct buf b;
	json_error_t err;
	json_t *root;
	size_t len = n < sizeof(s) - 1 ? n : sizeof(s) - 1;

	check_record(p, n);
	memcpy(s, p, len);
	s[len] = '\0';
	memset(&f, 0, sizeof(f));
	f.result = n > 0 ? (enum tlsrpt_result)(p[0] % (TLSRPT_RESULT_COUNT + 2))
	                 : TLSRPT_CERT_EXPIRED;
	(void)snprintf(f.mx_host, sizeof(f.mx_host), "%s", s);
	(void)snprintf(f.reason, sizeof(f.reason), "%s", s);
	f.sessions = n;
	lines[0] = s;
	lines[1] = "mode: enforce";
	memset(&pol, 0, sizeof(pol));
	pol.type = n > 1 ? (enum tlsrpt_policy_type)(p[1] % 4) : TLSRPT_STS;
	(void)snprintf(pol.domain, sizeof(pol.domain), "%s", s);
	pol.strings = lines;
	pol.nstrings = 2;
	pol.mx = lines;
	pol.nmx = 1;
	pol.fail = &f;
	pol.nfail = 1;
	r = (struct tlsrpt_report){ s, s, s, (time_t)n, (time_t)n * 2, &pol,
		1 };
	buf_init(&b, 1 << 20);
	if (tlsrpt_write(&b, &r) != 0)
		abort();
	root = json_loadb((const char *)b.data, b.len, 0, &err);
	if (root == NULL || !json_is_object(root))
		abort();
	json_decref(root);
	buf_reset(&b);
	return 0;
}
