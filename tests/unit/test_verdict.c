/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for auth/verdict.c: the Authentication-Results field the
 * server and `tern check message` write for one message's results
 * (exact output, which resinfos appear when), and the [authentication]
 * actions (DMARC at end of DATA, SPF at MAIL FROM).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/verdict.h"
#include "util/str.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define ID "mx.example.net"

/* The field unfolded (CRLF SP -> SP), without its final CRLF. */
static char *
field_of(const struct verdict *v)
{
	struct buf b;
	char *u;
	size_t i, o = 0;

	buf_init(&b, 64 * 1024);
	assert_int_equal(verdict_authres_write(&b, ID, v), 0);
	assert_true(b.len >= 2 && b.data[b.len - 2] == '\r');
	u = malloc(b.len + 1);
	assert_non_null(u);
	for (i = 0; i + 2 < b.len; i++) {
		if (b.data[i] == '\r' && b.data[i + 1] == '\n') {
			i++; /* the SP that follows stays */
			continue;
		}
		u[o++] = (char)b.data[i];
	}
	u[o] = '\0';
	buf_reset(&b);
	return u;
}

static void
spf_set(struct spf_verdict *s, enum spf_result r, const char *domain,
    const char *reason)
{
	memset(s, 0, sizeof(*s));
	s->result = r;
	(void)snprintf(s->domain, sizeof(s->domain), "%s", domain);
	(void)snprintf(s->reason, sizeof(s->reason), "%s", reason);
}

static void
dkim_set(struct dkim_result *d, enum dkim_res r, const char *domain,
    const char *reason)
{
	memset(d, 0, sizeof(*d));
	d->result = r;
	(void)snprintf(d->domain, sizeof(d->domain), "%s", domain);
	(void)snprintf(d->selector, sizeof(d->selector), "s1");
	(void)snprintf(d->algorithm, sizeof(d->algorithm), "rsa-sha256");
	(void)snprintf(d->bprefix, sizeof(d->bprefix), "AbCdEfGh1234");
	(void)snprintf(d->reason, sizeof(d->reason), "%s", reason);
}

static void
dmarc_set(struct dmarc_verdict *m, enum dmarc_result r,
    enum dmarc_policy published, enum dmarc_policy policy, const char *from,
    const char *reason)
{
	memset(m, 0, sizeof(*m));
	m->result = r;
	m->published = published;
	m->policy = policy;
	(void)snprintf(m->from_domain, sizeof(m->from_domain), "%s", from);
	(void)snprintf(m->reason, sizeof(m->reason), "%s", reason);
}

/* Everything: spf mailfrom and helo, two signatures, dmarc. */
static void
test_full(void **state)
{
	struct spf_verdict sm, sh;
	struct dkim_result dk[2];
	struct dmarc_verdict dm;
	struct verdict v = { 0 };
	char *f;

	(void)state;
	spf_set(&sm, SPF_PASS, "example.org", "ip4:192.0.2.1 matched");
	spf_set(&sh, SPF_NONE, "mail.example.org", "no SPF record");
	dkim_set(&dk[0], DKIM_PASS, "example.org", "");
	dkim_set(&dk[1], DKIM_FAIL, "other.test", "body hash mismatch");
	dmarc_set(&dm, DMARC_PASS, DMARC_POLICY_REJECT, DMARC_POLICY_NONE,
	    "example.org", "");
	v.spf_mail = &sm;
	v.spf_helo = &sh;
	v.helo = "mail.example.org";
	v.mailfrom = "a@example.org";
	v.dkim = dk;
	v.ndkim = 2;
	v.dmarc = &dm;
	f = field_of(&v);
	assert_string_equal(f,
	    "Authentication-Results: " ID "; spf=pass "
	    "reason=\"ip4:192.0.2.1 matched\" smtp.mailfrom=a@example.org; "
	    "spf=none reason=\"no SPF record\" smtp.helo=mail.example.org; "
	    "dkim=pass header.d=example.org header.s=s1 header.a=rsa-sha256 "
	    "header.b=AbCdEfGh1234; dkim=fail reason=\"body hash mismatch\" "
	    "header.d=other.test header.s=s1 header.a=rsa-sha256 "
	    "header.b=AbCdEfGh1234; dmarc=pass header.from=example.org "
	    "policy.dmarc=reject");
	free(f);
}

/* No SPF, no signature, no DMARC record: dkim=none, no policy.dmarc. */
static void
test_nothing(void **state)
{
	struct dmarc_verdict dm;
	struct verdict v = { 0 };
	char *f;

	(void)state;
	dmarc_set(&dm, DMARC_NONE, DMARC_POLICY_NONE, DMARC_POLICY_NONE,
	    "example.org", "no DMARC record");
	v.helo = v.mailfrom = "";
	v.dmarc = &dm;
	f = field_of(&v);
	assert_string_equal(f,
	    "Authentication-Results: " ID "; dkim=none; dmarc=none "
	    "reason=\"no DMARC record\" header.from=example.org");
	free(f);
}

/* The null sender: SPF's MAIL FROM verdict is the HELO's, written once
 * as smtp.helo; a HELO that checked no domain is left out too. */
static void
test_null_sender_and_helo(void **state)
{
	struct spf_verdict sm, sh;
	struct dmarc_verdict dm;
	struct verdict v = { 0 };
	struct authres_result r[VERDICT_RESULTS_MAX];
	size_t n;

	(void)state;
	spf_set(&sm, SPF_PASS, "mail.example.org", "a matched");
	spf_set(&sh, SPF_PASS, "mail.example.org", "a matched");
	dmarc_set(&dm, DMARC_FAIL, DMARC_POLICY_QUARANTINE,
	    DMARC_POLICY_QUARANTINE, "example.org", "no aligned pass");
	v.spf_mail = &sm;
	v.spf_helo = &sh;
	v.helo = "mail.example.org";
	v.mailfrom = "";
	v.dmarc = &dm;
	n = verdict_authres(&v, r, NELEM(r));
	assert_int_equal(n, 3); /* spf, dkim=none, dmarc */
	assert_string_equal(r[0].props[0].prop, "helo");
	assert_string_equal(r[0].props[0].value, "mail.example.org");
	assert_string_equal(r[1].result, "none");
	assert_string_equal(r[2].props[1].value, "quarantine");
	/* A sender, but a HELO that was no domain: one spf resinfo. */
	v.mailfrom = "a@example.org";
	sh.domain[0] = '\0';
	assert_int_equal(verdict_authres(&v, r, NELEM(r)), 3);
	assert_string_equal(r[0].props[0].prop, "mailfrom");
	/* No spf_helo at all. */
	v.spf_helo = NULL;
	assert_int_equal(verdict_authres(&v, r, NELEM(r)), 3);
}

/* More signatures than VERDICT_DKIM_MAX, and a small out[]: bounded. */
static void
test_bounds(void **state)
{
	static struct dkim_result dk[VERDICT_DKIM_MAX + 5];
	struct dmarc_verdict dm;
	struct verdict v = { 0 };
	struct authres_result r[VERDICT_RESULTS_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(dk); i++)
		dkim_set(&dk[i], DKIM_PERMERROR, "x.test", "bad");
	dmarc_set(&dm, DMARC_FAIL, DMARC_POLICY_NONE, DMARC_POLICY_NONE,
	    "x.test", "r");
	v.helo = v.mailfrom = "";
	v.dkim = dk;
	v.ndkim = NELEM(dk);
	v.dmarc = &dm;
	assert_int_equal(verdict_authres(&v, r, NELEM(r)),
	    VERDICT_DKIM_MAX + 1);
	assert_string_equal(r[VERDICT_DKIM_MAX].method, "dmarc");
	assert_int_equal(verdict_authres(&v, r, 2), 2);
	assert_int_equal(verdict_authres(&v, r, 0), 0);
}

struct dmarc_case {
	const char *name;
	enum dmarc_result result;
	enum dmarc_policy policy;
	enum conf_dmarc_action act;
	enum conf_temperror temp;
	enum verdict_action want;
	const char *reply; /* prefix; NULL: untouched */
};

static const struct dmarc_case dmarc_cases[] = {
	{ "pass", DMARC_PASS, DMARC_POLICY_NONE, CONF_DMARC_FOLLOW,
	    CONF_TEMP_ACCEPT, VERDICT_ACCEPT, NULL },
	{ "reject-follow", DMARC_FAIL, DMARC_POLICY_REJECT, CONF_DMARC_FOLLOW,
	    CONF_TEMP_ACCEPT, VERDICT_REFUSE,
	    "550 5.7.1 Message rejected: the DMARC policy of bank.test "
	    "(p=reject) refuses it: why?not" },
	{ "reject-quarantine", DMARC_FAIL, DMARC_POLICY_REJECT,
	    CONF_DMARC_QUARANTINE, CONF_TEMP_ACCEPT, VERDICT_JUNK, NULL },
	{ "reject-note", DMARC_FAIL, DMARC_POLICY_REJECT, CONF_DMARC_NOTE,
	    CONF_TEMP_ACCEPT, VERDICT_ACCEPT, NULL },
	{ "quarantine-follow", DMARC_FAIL, DMARC_POLICY_QUARANTINE,
	    CONF_DMARC_FOLLOW, CONF_TEMP_ACCEPT, VERDICT_JUNK, NULL },
	{ "quarantine-note", DMARC_FAIL, DMARC_POLICY_QUARANTINE,
	    CONF_DMARC_NOTE, CONF_TEMP_ACCEPT, VERDICT_ACCEPT, NULL },
	{ "fail-p-none", DMARC_FAIL, DMARC_POLICY_NONE, CONF_DMARC_FOLLOW,
	    CONF_TEMP_DEFER, VERDICT_ACCEPT, NULL },
	{ "temperror-defer", DMARC_TEMPERROR, DMARC_POLICY_NONE,
	    CONF_DMARC_NOTE, CONF_TEMP_DEFER, VERDICT_REFUSE,
	    "451 4.7.5 DMARC: temporary DNS failure for bank.test" },
	{ "temperror-accept", DMARC_TEMPERROR, DMARC_POLICY_NONE,
	    CONF_DMARC_FOLLOW, CONF_TEMP_ACCEPT, VERDICT_ACCEPT, NULL },
};

static void
test_dmarc_action(void **state)
{
	const struct dmarc_case *c;
	struct dmarc_verdict dm;
	struct conf_auth ca;
	char reply[VERDICT_REPLY_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(dmarc_cases); i++) {
		c = &dmarc_cases[i];
		dmarc_set(&dm, c->result, DMARC_POLICY_REJECT, c->policy,
		    "bank.test", "why\x01not");
		memset(&ca, 0, sizeof(ca));
		ca.dmarc_policy = c->act;
		ca.dmarc_temperror = c->temp;
		(void)strlcpy(reply, "untouched", sizeof(reply));
		if (verdict_dmarc_action(&dm, &ca, reply, sizeof(reply)) !=
		    c->want)
			fail_msg("%s: action", c->name);
		if (c->reply == NULL)
			assert_string_equal(reply, "untouched");
		else if (strncmp(reply, c->reply, strlen(c->reply)) != 0)
			fail_msg("%s: reply '%s'", c->name, reply);
	}
	/* A From error: no from_domain, "its From"; a short reply buffer
	 * is cut and NUL-terminated. */
	dmarc_set(&dm, DMARC_PERMERROR, DMARC_POLICY_REJECT,
	    DMARC_POLICY_REJECT, "", "several From fields");
	memset(&ca, 0, sizeof(ca));
	assert_int_equal(verdict_dmarc_action(&dm, &ca, reply, sizeof(reply)),
	    VERDICT_REFUSE);
	assert_non_null(strstr(reply, "policy of its From (p=reject)"));
	assert_int_equal(verdict_dmarc_action(&dm, &ca, reply, 8),
	    VERDICT_REFUSE);
	assert_string_equal(reply, "550 5.7");
	/* A U-label From domain (kept as UTF-8 by dmarc.c): ASCII reply. */
	dmarc_set(&dm, DMARC_FAIL, DMARC_POLICY_REJECT, DMARC_POLICY_REJECT,
	    "b\xc3\xa4nk.test", "no aligned pass");
	assert_int_equal(verdict_dmarc_action(&dm, &ca, reply, sizeof(reply)),
	    VERDICT_REFUSE);
	assert_non_null(strstr(reply, "policy of b??nk.test (p=reject)"));
}

struct spf_case {
	const char *name;
	enum spf_result result;
	enum conf_spf_fail fail;
	enum conf_temperror temp;
	const char *reply; /* NULL: no refusal */
};

static const struct spf_case spf_cases[] = {
	{ "fail-reject", SPF_FAIL, CONF_SPF_FAIL_REJECT, CONF_TEMP_ACCEPT,
	    "550 5.7.23 SPF: bank.test does not allow this host to send "
	    "for bank.test: see http://x/?" },
	{ "fail-note", SPF_FAIL, CONF_SPF_FAIL_NOTE, CONF_TEMP_DEFER, NULL },
	{ "softfail-reject", SPF_SOFTFAIL, CONF_SPF_FAIL_REJECT,
	    CONF_TEMP_DEFER, NULL },
	{ "temperror-defer", SPF_TEMPERROR, CONF_SPF_FAIL_NOTE, CONF_TEMP_DEFER,
	    "451 4.7.24 SPF: temporary DNS failure for bank.test, try again "
	    "later" },
	{ "temperror-accept", SPF_TEMPERROR, CONF_SPF_FAIL_REJECT,
	    CONF_TEMP_ACCEPT, NULL },
	{ "pass", SPF_PASS, CONF_SPF_FAIL_REJECT, CONF_TEMP_DEFER, NULL },
	{ "permerror", SPF_PERMERROR, CONF_SPF_FAIL_REJECT, CONF_TEMP_DEFER,
	    NULL },
};

static void
test_spf_refusal(void **state)
{
	const struct spf_case *c;
	struct spf_verdict sv;
	struct conf_auth ca;
	char reply[VERDICT_REPLY_MAX];
	size_t i;
	bool got;

	(void)state;
	for (i = 0; i < NELEM(spf_cases); i++) {
		c = &spf_cases[i];
		spf_set(&sv, c->result, "bank.test", "matched -all");
		/* The explanation wins over the reason, made printable. */
		(void)snprintf(sv.explanation, sizeof(sv.explanation),
		    "see http://x/\x7f");
		memset(&ca, 0, sizeof(ca));
		ca.spf_fail = c->fail;
		ca.spf_temperror = c->temp;
		got = verdict_spf_refusal(&sv, &ca, reply, sizeof(reply));
		if (got != (c->reply != NULL))
			fail_msg("%s: refusal %d", c->name, got);
		if (got)
			assert_string_equal(reply, c->reply);
	}
	/* Without an explanation, the reason. */
	spf_set(&sv, SPF_FAIL, "bank.test", "-all matched");
	memset(&ca, 0, sizeof(ca));
	ca.spf_fail = CONF_SPF_FAIL_REJECT;
	assert_true(verdict_spf_refusal(&sv, &ca, reply, sizeof(reply)));
	assert_non_null(strstr(reply, "bank.test: -all matched"));
}

/* RFC 8617 7.2: a trusted sealer's passing chain overrides DMARC. */
static void
test_arc_override(void **state)
{
	char *trusted[] = { (char *)"lists.example.org" };
	struct dmarc_verdict dm;
	struct arc_result arc;
	struct conf_auth ca;

	(void)state;
	memset(&ca, 0, sizeof(ca));
	ca.arc_trusted = trusted;
	ca.narc_trusted = 1;
	dmarc_set(&dm, DMARC_FAIL, DMARC_POLICY_REJECT, DMARC_POLICY_REJECT,
	    "bank.test", "no aligned pass");
	memset(&arc, 0, sizeof(arc));
	arc.cv = ARC_PASS;
	arc.sets = 1;
	(void)strlcpy(arc.domain, "Lists.Example.ORG", sizeof(arc.domain));
	assert_true(verdict_arc_override(&dm, &arc, &ca));
	assert_false(verdict_arc_override(&dm, NULL, &ca));
	arc.cv = ARC_FAIL; /* a broken chain vouches for nothing */
	assert_false(verdict_arc_override(&dm, &arc, &ca));
	arc.cv = ARC_PASS;
	(void)strlcpy(arc.domain, "evil.example", sizeof(arc.domain));
	assert_false(verdict_arc_override(&dm, &arc, &ca));
	(void)strlcpy(arc.domain, "lists.example.org", sizeof(arc.domain));
	dm.result = DMARC_PASS; /* nothing to override */
	assert_false(verdict_arc_override(&dm, &arc, &ca));
	dm.result = DMARC_FAIL;
	ca.narc_trusted = 0; /* the default: nobody is trusted */
	assert_false(verdict_arc_override(&dm, &arc, &ca));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_arc_override),
		cmocka_unit_test(test_nothing),
		cmocka_unit_test(test_null_sender_and_helo),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_dmarc_action),
		cmocka_unit_test(test_spf_refusal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
