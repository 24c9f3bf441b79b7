/* SPDX-License-Identifier: ISC */
/*
 * capture/fault.h - the failures `tern capture` injects on purpose
 * (issue 22, docs/capture.md): shares of RCPT commands and of messages
 * refused with 4xx or 5xx, a delay before every reply, connections
 * closed in the middle of DATA.
 *
 * Each draw is independent, from one xoshiro256** generator seeded by
 * --seed (or the clock): a fixed seed and the same traffic give the same
 * draws. Shares are percentages, 0 to 100, fractions allowed.
 * Pure but for the generator's state. One thread.
 */
#ifndef TERN_CAPTURE_FAULT_H
#define TERN_CAPTURE_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#define CAP_DELAY_MAX 60000 /* ms: a longer delay is refused */

struct cap_faults {
	double rcpt_tempfail, rcpt_permfail; /* percent of RCPT commands */
	double msg_tempfail, msg_permfail;   /* percent of messages */
	double drop_mid_data;                /* percent of DATA transfers */
	unsigned delay_ms;                   /* before every reply */
};

struct cap_rng {
	uint64_t s[4];
};

void cap_rng_seed(struct cap_rng *, uint64_t seed);

/* true with probability pct/100 (0: never, 100: always). */
bool cap_rng_hit(struct cap_rng *, double pct);

/* What one RCPT gets: 0 accepted, 451 or 550. The temporary share is
 * drawn first, then the permanent one among the rest of [0, 100). */
int cap_fault_rcpt(const struct cap_faults *, struct cap_rng *);
/* The same for a message after its final dot: 0, 451 or 554. */
int cap_fault_msg(const struct cap_faults *, struct cap_rng *);

#endif
