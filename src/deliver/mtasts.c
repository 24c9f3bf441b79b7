/* SPDX-License-Identifier: ISC */
/*
 * deliver/mtasts.c - the MTA-STS record and policy parsers and the MX
 * name match (RFC 8461 3.1, 3.2, 4.1). See mtasts.h for the decisions.
 */
#include <string.h>

#include "deliver/mtasts.h"
#include "util/str.h"

#define TXT_PREFIX "v=STSv1"

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * A host name in LDH form (letters, digits, hyphens; labels 1-63, not
 * starting or ending with a hyphen), at most 253 octets. An A-label
 * (xn--) is LDH too; a U-label is not kept (policies carry A-labels).
 */
static bool
host_ok(const char *p, size_t n)
{
	size_t label = 0, i;

	if (n == 0 || n > 253)
		return false;
	for (i = 0; i < n; i++) {
		char c = p[i];

		if (c == '.') {
			if (label == 0 || p[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!ascii_is_alnum((unsigned char)c) && c != '-')
			return false;
		if (label == 0 && c == '-')
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && p[n - 1] != '-';
}

/* ---- the TXT record (3.1) ---- */

/* The field at p[0..n): "name=value" with optional spaces around it. */
static int
txt_field(const char *p, size_t n, char id[MTASTS_ID_MAX + 1], bool *got_id,
    struct why *why)
{
	const char *eq;
	size_t i;

	while (n > 0 && is_wsp(p[0]))
		p++, n--;
	while (n > 0 && is_wsp(p[n - 1]))
		n--;
	if (n == 0)
		return 0; /* "v=STSv1; id=x;" ends with an empty field */
	if ((eq = memchr(p, '=', n)) == NULL || eq == p)
		return why_set(why, WHY_PERM, 0, "mta-sts record: a field "
		    "without '='");
	if ((size_t)(eq - p) != 2 || memcmp(p, "id", 2) != 0)
		return 0; /* unknown fields are ignored */
	if (*got_id)
		return why_set(why, WHY_PERM, 0, "mta-sts record: two ids");
	p = eq + 1;
	n -= 3;
	if (n == 0 || n > MTASTS_ID_MAX)
		return why_set(why, WHY_PERM, 0, "mta-sts record: the id must "
		    "be 1 to %d letters or digits", MTASTS_ID_MAX);
	for (i = 0; i < n; i++)
		if (!ascii_is_alnum((unsigned char)p[i]))
			return why_set(why, WHY_PERM, 0, "mta-sts record: "
			    "the id must be letters and digits only");
	memcpy(id, p, n);
	id[n] = '\0';
	*got_id = true;
	return 0;
}

enum mtasts_txt
mtasts_txt_parse(const char *txt, size_t len, char id[MTASTS_ID_MAX + 1],
    struct why *why)
{
	const size_t plen = sizeof(TXT_PREFIX) - 1;
	bool got_id = false;
	const char *p, *end = txt + len, *semi;

	id[0] = '\0';
	/* 3.1: "records that do not begin with v=STSv1; are discarded". */
	if (len < plen || memcmp(txt, TXT_PREFIX, plen) != 0)
		return MTASTS_TXT_OTHER;
	p = txt + plen;
	while (p < end && is_wsp(*p))
		p++;
	if (p == end || *p != ';')
		return MTASTS_TXT_OTHER; /* "v=STSv10" is another version */
	for (p++; p < end; p = semi + 1) {
		if ((semi = memchr(p, ';', (size_t)(end - p))) == NULL)
			semi = end;
		if (txt_field(p, (size_t)(semi - p), id, &got_id, why) == -1)
			return MTASTS_TXT_INVALID;
		if (semi == end)
			break;
	}
	if (!got_id) {
		(void)why_set(why, WHY_PERM, 0, "mta-sts record: no id");
		return MTASTS_TXT_INVALID;
	}
	return MTASTS_TXT_OK;
}

/* ---- the policy (3.2) ---- */

struct seen {
	bool version, mode, max_age;
};

static int
policy_mode(const char *v, size_t n, struct mtasts_policy *out,
    struct why *why)
{
	static const struct {
		const char *word;
		enum mtasts_mode mode;
	} modes[] = {
		{ "none", MTASTS_NONE },
		{ "testing", MTASTS_TESTING },
		{ "enforce", MTASTS_ENFORCE },
	};
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strlen(modes[i].word) == n &&
		    memcmp(v, modes[i].word, n) == 0) {
			out->mode = modes[i].mode;
			return 0;
		}
	return why_set(why, WHY_PERM, 0, "mta-sts policy: mode must be "
	    "enforce, testing or none");
}

static int
policy_max_age(const char *v, size_t n, struct mtasts_policy *out,
    struct why *why)
{
	uint64_t age = 0;
	size_t i;

	/* 1*10DIGIT; the value is cut to one year, not refused. */
	if (n == 0 || n > 10)
		return why_set(why, WHY_PERM, 0, "mta-sts policy: max_age "
		    "must be 1 to 10 digits");
	for (i = 0; i < n; i++) {
		if (!ascii_is_digit((unsigned char)v[i]))
			return why_set(why, WHY_PERM, 0, "mta-sts policy: "
			    "max_age must be digits");
		age = age * 10 + (uint64_t)(v[i] - '0');
	}
	out->max_age =
	    age > MTASTS_MAX_AGE_MAX ? MTASTS_MAX_AGE_MAX : (uint32_t)age;
	return 0;
}

static int
policy_mx(const char *v, size_t n, struct mtasts_policy *out,
    struct why *why)
{
	const char *host = v;
	size_t hn = n;

	if (hn > 2 && v[0] == '*' && v[1] == '.')
		host += 2, hn -= 2;
	if (hn > 0 && host[hn - 1] == '.')
		hn--, n--;
	if (!host_ok(host, hn) || n >= MTASTS_NAME_MAX)
		return why_set(why, WHY_PERM, 0, "mta-sts policy: an mx "
		    "that is not a host name");
	if (out->nmx == MTASTS_MX_MAX)
		return why_set(why, WHY_PERM, 0, "mta-sts policy: more than "
		    "%d mx patterns", MTASTS_MX_MAX);
	memcpy(out->mx[out->nmx], v, n);
	out->mx[out->nmx][n] = '\0';
	ascii_lower_str(out->mx[out->nmx]);
	out->nmx++;
	return 0;
}

/* Mark a field that may appear once; -1 when it is there a second time. */
static int
once(bool *seen, const char *key, struct why *why)
{
	if (*seen)
		return why_set(why, WHY_PERM, 0, "mta-sts policy: %s given "
		    "twice", key);
	*seen = true;
	return 0;
}

/* One line without its terminator: "key:" *WSP value *WSP. */
static int
policy_line(const char *p, size_t n, struct mtasts_policy *out,
    struct seen *seen, struct why *why)
{
	const char *colon, *v;
	size_t kn, vn;

	while (n > 0 && is_wsp(p[0]))
		p++, n--;
	while (n > 0 && is_wsp(p[n - 1]))
		n--;
	if (n == 0)
		return 0; /* a blank line, e.g. the body's last */
	if ((colon = memchr(p, ':', n)) == NULL)
		return why_set(why, WHY_PERM, 0, "mta-sts policy: a line "
		    "without ':'");
	kn = (size_t)(colon - p);
	v = colon + 1;
	vn = n - kn - 1;
	while (vn > 0 && is_wsp(v[0]))
		v++, vn--;
#define KEY(k) (kn == sizeof(k) - 1 && memcmp(p, k, kn) == 0)
	if (KEY("version")) {
		if (once(&seen->version, "version", why) == -1)
			return -1;
		if (vn != 5 || memcmp(v, "STSv1", 5) != 0)
			return why_set(why, WHY_PERM, 0, "mta-sts policy: "
			    "version is not STSv1");
		return 0;
	}
	if (KEY("mode"))
		return once(&seen->mode, "mode", why) == -1
		           ? -1
		           : policy_mode(v, vn, out, why);
	if (KEY("max_age"))
		return once(&seen->max_age, "max_age", why) == -1
		           ? -1
		           : policy_max_age(v, vn, out, why);
	if (KEY("mx"))
		return policy_mx(v, vn, out, why);
#undef KEY
	return 0; /* 3.2: unknown fields are ignored */
}

int
mtasts_policy_parse(const char *body, size_t len, struct mtasts_policy *out,
    struct why *why)
{
	struct seen seen = { false, false, false };
	const char *p = body, *end = body + len, *nl;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (len > MTASTS_POLICY_MAX)
		return why_set(why, WHY_PERM, 0, "mta-sts policy: over %d "
		    "bytes", MTASTS_POLICY_MAX);
	if (memchr(body, '\0', len) != NULL)
		return why_set(why, WHY_PERM, 0, "mta-sts policy: a NUL byte");
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		n = (size_t)(nl - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (policy_line(p, n, out, &seen, why) == -1) {
			memset(out, 0, sizeof(*out));
			return -1;
		}
		if (nl == end)
			break;
	}
	if (!seen.version || !seen.mode || !seen.max_age) {
		memset(out, 0, sizeof(*out));
		return why_set(why, WHY_PERM, 0, "mta-sts policy: version, "
		    "mode and max_age are required");
	}
	if (out->mode != MTASTS_NONE && out->nmx == 0) {
		memset(out, 0, sizeof(*out));
		return why_set(why, WHY_PERM, 0, "mta-sts policy: mode %s "
		    "without an mx", mtasts_mode_name(out->mode));
	}
	return 0;
}

/* ---- matching (4.1) ---- */

bool
mtasts_name_match(const char *pattern, const char *host)
{
	size_t pn = strlen(pattern), hn = strlen(host);
	const char *dot;

	if (pn > 0 && pattern[pn - 1] == '.')
		pn--;
	if (hn > 0 && host[hn - 1] == '.')
		hn--;
	if (pn == 0 || hn == 0)
		return false;
	if (pn > 2 && pattern[0] == '*' && pattern[1] == '.') {
		/* The wildcard stands for exactly one non-empty label. */
		if ((dot = memchr(host, '.', hn)) == NULL || dot == host)
			return false;
		pattern += 2, pn -= 2;
		hn -= (size_t)(dot + 1 - host);
		host = dot + 1;
	}
	return pn == hn && ascii_ncasecmp(pattern, host, pn) == 0;
}

bool
mtasts_mx_allowed(const struct mtasts_policy *pol, const char *host)
{
	size_t i;

	for (i = 0; i < pol->nmx; i++)
		if (mtasts_name_match(pol->mx[i], host))
			return true;
	return false;
}

const char *
mtasts_mode_name(enum mtasts_mode m)
{
	switch (m) {
	case MTASTS_TESTING:
		return "testing";
	case MTASTS_ENFORCE:
		return "enforce";
	case MTASTS_NONE:
		break;
	}
	return "none";
}
