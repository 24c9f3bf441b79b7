/* SPDX-License-Identifier: ISC */
/* capture/fault.c - injected failures and their draws (fault.h). */
#include "capture/fault.h"

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* splitmix64 spreads one seed over the four words (the authors' advice). */
void
cap_rng_seed(struct cap_rng *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++) {
		uint64_t z = (seed += 0x9e3779b97f4a7c15ull);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		r->s[i] = z ^ (z >> 31);
	}
}

static uint64_t
next(struct cap_rng *r)
{
	uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

/* Uniform in [0, 100): 53 random bits. */
static double
draw(struct cap_rng *r)
{
	return (double)(next(r) >> 11) * (100.0 / 9007199254740992.0);
}

bool
cap_rng_hit(struct cap_rng *r, double pct)
{
	if (!(pct > 0))
		return false;
	return draw(r) < pct;
}

static int
pick(struct cap_rng *r, double temp, double perm, int tcode, int pcode)
{
	double x;

	if (!(temp > 0) && !(perm > 0))
		return 0;
	x = draw(r);
	if (temp > 0 && x < temp)
		return tcode;
	if (perm > 0 && x < (temp > 0 ? temp : 0) + perm)
		return pcode;
	return 0;
}

int
cap_fault_rcpt(const struct cap_faults *f, struct cap_rng *r)
{
	return pick(r, f->rcpt_tempfail, f->rcpt_permfail, 451, 550);
}

int
cap_fault_msg(const struct cap_faults *f, struct cap_rng *r)
{
	return pick(r, f->msg_tempfail, f->msg_permfail, 451, 554);
}
