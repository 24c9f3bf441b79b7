/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for milter/proto.c's reply decoder: the first byte
 * picks the caps and how the rest is cut into reads, the rest is a
 * filter's byte stream. Every reply is checked against the caps and the
 * decoder's promises (strings NUL-terminated at their length, no NUL
 * inside; progress on every call; errors sticky); OPTNEG replies are
 * negotiated and their symbol lists walked.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "milter/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

static void
check_str(const char *s, size_t len)
{
	if (s == NULL)
		return;
	if (s[len] != '\0' || strlen(s) != len)
		abort();
}

static void
check_reply(const struct milter_reply *r, const struct milter_limits *lim)
{
	const struct milter_optneg offered = { MILTER_VERSION, MILTER_A_ALL,
		MILTER_P_ALL };
	struct milter_optneg out;
	const uint8_t *sp;
	const char *why, *names;
	size_t sn, len;
	uint32_t stage;

	check_str(r->s1, r->s1_len);
	check_str(r->s2, r->s2_len);
	if (r->code == MILTER_R_REPLBODY) {
		if (r->data_len > lim->replbody_max)
			abort();
		if (r->data_len > 0) /* touch every byte: ASan checks */
			(void)memchr(r->data, 0xff, r->data_len);
	} else if (r->s1_len + r->s2_len > lim->reply_max) {
		abort();
	}
	if (r->code == MILTER_R_REPLYCODE &&
	    (r->smtp_code < 400 || r->smtp_code > 599 || r->nlines == 0))
		abort();
	if (r->code != MILTER_R_OPTNEG)
		return;
	if (milter_optneg_check(r, &offered, &out, &why) == 0 &&
	    out.version > MILTER_VERSION)
		abort();
	sp = r->data;
	sn = r->data_len;
	while (milter_symlist_next(&sp, &sn, &stage, &names, &len)) {
		if (stage > MILTER_STAGE_MAX)
			abort();
		check_str(names, len);
	}
	if (sn != 0) /* the decoder checked the lists whole */
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	struct milter_limits lim;
	const struct milter_reply *r;
	enum milter_dec_status st;
	struct milter_dec *d;
	const char *why;
	size_t used, step, piece;

	if (n < 1)
		return 0;
	lim.reply_max = (size_t)(p[0] & 0x0f) * 16 + 1;
	lim.replbody_max = (size_t)(p[0] >> 4) * 64 + 1;
	step = (size_t)(p[0] % 7) + 1;
	if (p[0] == 0xff)
		step = SIZE_MAX;
	p++;
	n--;
	if ((d = milter_dec_new(&lim)) == NULL)
		abort();
	while (n > 0) {
		piece = n < step ? n : step;
		st = milter_dec_feed(d, p, piece, &used, &r, &why);
		if (st == MILTER_DEC_ERROR) {
			if (why == NULL || r != NULL)
				abort();
			/* Sticky: nothing more is consumed. */
			if (milter_dec_feed(d, p, n, &used, &r, &why) !=
			        MILTER_DEC_ERROR ||
			    used != 0)
				abort();
			break;
		}
		if (used == 0 || used > piece) /* must always make progress */
			abort();
		if ((st == MILTER_DEC_REPLY) != (r != NULL))
			abort();
		if (st == MILTER_DEC_NEED_MORE && used != piece)
			abort();
		if (r != NULL)
			check_reply(r, &lim);
		p += used;
		n -= used;
	}
	milter_dec_free(d);
	return 0;
}
