/* SPDX-License-Identifier: ISC */
/*
 * auth/dkim_parse.c - the pure parsers of DKIM: tag lists (RFC 6376
 * 3.2), DKIM-Signature values (3.5), key records (3.6.1), base64.
 * Trust: every byte is hostile; everything is bounded by the sizes in
 * dkim.h, nothing is allocated.
 */
#include "auth/dkim.h"

#include <ctype.h>
#include <string.h>

#include "auth/dkim-private.h"
#include "util/str.h"

static bool
is_fws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* VALCHAR = %x21-3A / %x3C-7E (RFC 6376 3.2) */
static bool
is_valchar(int c)
{
	return c >= 0x21 && c <= 0x7e && c != ';';
}

static size_t
skip_fws(const char *p, size_t n, size_t i)
{
	while (i < n && is_fws((unsigned char)p[i]))
		i++;
	return i;
}

int
dkim_tag_next(const char *p, size_t n, size_t *pos, struct dkim_tag *t,
    const char **why)
{
	size_t i = skip_fws(p, n, *pos), end;

	if (i == n)
		return 0;
	if (!isalpha((unsigned char)p[i]))
		return (*why = "tag-list syntax: bad tag name"), -1;
	t->name = p + i;
	while (i < n && (isalnum((unsigned char)p[i]) || p[i] == '_'))
		i++;
	t->name_len = (size_t)(p + i - t->name);
	i = skip_fws(p, n, i);
	if (i == n || p[i] != '=')
		return (*why = "tag-list syntax: no '=' after a tag"), -1;
	t->raw_off = ++i;
	i = skip_fws(p, n, i);
	t->val = p + i;
	end = i;
	for (; i < n && p[i] != ';'; i++) {
		if (is_valchar((unsigned char)p[i]))
			end = i + 1;
		else if (!is_fws((unsigned char)p[i]))
			return (*why = "tag-list syntax: bad byte in a value"),
			       -1;
	}
	t->val_len = end - (size_t)(t->val - p);
	t->raw_end = i;
	*pos = i < n ? i + 1 : n;
	return 1;
}

long
dkim_b64_decode(const char *p, size_t n, uint8_t *out, size_t max)
{
	uint32_t acc = 0;
	size_t i, len = 0, pad = 0;
	int bits = 0, v;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)p[i];

		if (is_fws(c))
			continue;
		if (c == '=') {
			if (++pad > 2)
				return -1;
			continue;
		}
		if (pad > 0 || (v = ascii_b64_value(c)) < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (len == max)
				return -1;
			out[len++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Six leftover bits cannot be a byte: a truncated value. */
	if (bits >= 6)
		return -1;
	return (long)len;
}

int
dkim_b64_encode(const uint8_t *p, size_t n, struct buf *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                          "abcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];
	size_t i;

	for (i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = tab[(v >> 18) & 63];
		q[1] = tab[(v >> 12) & 63];
		q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? tab[v & 63] : '=';
		if (buf_append(out, q, 4) == -1)
			return -1;
	}
	return 0;
}

size_t
dkim_field_name(const char *field, size_t n)
{
	const char *c = memchr(field, ':', n);
	size_t len;

	if (c == NULL)
		return 0;
	len = (size_t)(c - field);
	while (len > 0 && dkim_is_wsp((unsigned char)field[len - 1]))
		len--;
	return len;
}

/* ---- helpers for tag values ---- */

static bool
tag_is(const struct dkim_tag *t, const char *name)
{
	return t->name_len == strlen(name) &&
	       memcmp(t->name, name, t->name_len) == 0;
}

static bool
val_is(const struct dkim_tag *t, const char *s)
{
	return t->val_len == strlen(s) &&
	       strncasecmp(t->val, s, t->val_len) == 0;
}

/* A duplicate tag makes the whole list invalid (RFC 6376 3.2). */
static int
note_tag(const struct dkim_tag *seen, size_t *nseen, const struct dkim_tag *t,
    const char **why)
{
	size_t i;

	for (i = 0; i < *nseen; i++)
		if (seen[i].name_len == t->name_len &&
		    memcmp(seen[i].name, t->name, t->name_len) == 0)
			return (*why = "a tag occurs twice"), -1;
	if (*nseen == DKIM_TAGS_MAX)
		return (*why = "too many tags"), -1;
	((struct dkim_tag *)seen)[(*nseen)++] = *t;
	return 0;
}

/* Letters, digits, '-', '_', '.'; labels not empty; lower-cased copy. */
static int
copy_name(const struct dkim_tag *t, char *out, size_t max)
{
	size_t i;

	if (t->val_len == 0 || t->val_len >= max || t->val[0] == '.' ||
	    t->val[t->val_len - 1] == '.')
		return -1;
	for (i = 0; i < t->val_len; i++) {
		int c = (unsigned char)t->val[i];

		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return -1;
		if (c == '.' && t->val[i - 1] == '.')
			return -1;
		out[i] = (char)tolower(c);
	}
	out[i] = '\0';
	return 0;
}

static int
parse_u64(const struct dkim_tag *t, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (t->val_len == 0 || t->val_len > 19)
		return -1;
	for (i = 0; i < t->val_len; i++) {
		if (!isdigit((unsigned char)t->val[i]))
			return -1;
		v = v * 10 + (uint64_t)(t->val[i] - '0');
	}
	*out = v;
	return 0;
}

/* Whether s[0..n) contains `want` as one element of a ':' list. */
static bool
list_has(const char *s, size_t n, const char *want)
{
	size_t i = 0, a, b;

	while (i <= n) {
		a = i;
		while (i < n && s[i] != ':')
			i++;
		b = i;
		while (a < b && is_fws((unsigned char)s[a]))
			a++;
		while (b > a && is_fws((unsigned char)s[b - 1]))
			b--;
		if (b - a == strlen(want) &&
		    strncasecmp(s + a, want, b - a) == 0)
			return true;
		i++;
	}
	return false;
}

/* ---- DKIM-Signature ---- */

static int
sig_h(const struct dkim_tag *t, struct dkim_sig *s, const char **why)
{
	size_t i = 0, a, b, k;
	bool from = false;

	while (i <= t->val_len) {
		a = i;
		while (i < t->val_len && t->val[i] != ':')
			i++;
		b = i++;
		while (a < b && is_fws((unsigned char)t->val[a]))
			a++;
		while (b > a && is_fws((unsigned char)t->val[b - 1]))
			b--;
		if (a == b || b - a >= DKIM_FIELD_NAME_MAX)
			return (*why = "bad header name in h="), -1;
		if (s->nh == DKIM_H_MAX)
			return (*why = "too many names in h="), -1;
		for (k = a; k < b; k++) {
			int c = (unsigned char)t->val[k];

			if (c < 0x21 || c > 0x7e)
				return (*why = "bad header name in h="), -1;
			s->h[s->nh][k - a] = (char)tolower(c);
		}
		s->h[s->nh][b - a] = '\0';
		if (strcmp(s->h[s->nh], "from") == 0)
			from = true;
		s->nh++;
	}
	if (!from)
		return (*why = "h= does not sign From"), -1;
	return 0;
}

static int
sig_a(const struct dkim_tag *t, struct dkim_sig *s, const char **why)
{
	if (val_is(t, "rsa-sha256"))
		s->alg = DKIM_RSA_SHA256;
	else if (val_is(t, "ed25519-sha256"))
		s->alg = DKIM_ED25519_SHA256;
	else if (val_is(t, "rsa-sha1"))
		return (*why = "rsa-sha1 is not accepted (RFC 8301)"), -1;
	else
		return (*why = "unknown algorithm"), -1;
	return 0;
}

static int
sig_c(const struct dkim_tag *t, struct dkim_sig *s, const char **why)
{
	const char *slash = memchr(t->val, '/', t->val_len);
	size_t hl = slash != NULL ? (size_t)(slash - t->val) : t->val_len;
	struct dkim_tag part = *t;

	part.val_len = hl;
	if (val_is(&part, "relaxed"))
		s->hcanon = DKIM_RELAXED;
	else if (!val_is(&part, "simple"))
		return (*why = "unknown canonicalization"), -1;
	if (slash == NULL)
		return 0;
	part.val = slash + 1;
	part.val_len = t->val_len - hl - 1;
	if (val_is(&part, "relaxed"))
		s->bcanon = DKIM_RELAXED;
	else if (!val_is(&part, "simple"))
		return (*why = "unknown canonicalization"), -1;
	return 0;
}

static int
sig_b(const struct dkim_tag *t, struct dkim_sig *s, const char **why)
{
	size_t i, k = 0;
	long len;

	len = dkim_b64_decode(t->val, t->val_len, s->b, sizeof(s->b));
	if (len <= 0)
		return (*why = "bad b="), -1;
	s->b_len = (size_t)len;
	for (i = 0; i < t->val_len && k < DKIM_BPREFIX_LEN; i++)
		if (!is_fws((unsigned char)t->val[i]))
			s->bprefix[k++] = t->val[i];
	s->bprefix[k] = '\0';
	return 0;
}

static int
sig_i(const struct dkim_tag *t, struct dkim_sig *s, const char **why)
{
	size_t i;

	if (t->val_len >= sizeof(s->identity) ||
	    memchr(t->val, '@', t->val_len) == NULL)
		return (*why = "bad i="), -1;
	for (i = 0; i < t->val_len; i++) {
		if ((unsigned char)t->val[i] < 0x21 ||
		    (unsigned char)t->val[i] > 0x7e)
			return (*why = "bad i="), -1;
		s->identity[i] = t->val[i];
	}
	s->identity[i] = '\0';
	return 0;
}

#define TAG_V 1u
#define TAG_A 2u
#define TAG_B 4u
#define TAG_BH 8u
#define TAG_D 16u
#define TAG_H 32u
#define TAG_S 64u
#define TAG_I 128u /* ARC's instance */
#define TAG_CV 256u

/* ARC's i=: an instance 1..ARC_SETS_MAX (RFC 8617 4.2.1). */
static int
arc_i(const struct dkim_tag *t, struct dkim_sig *s, const char **why)
{
	uint64_t v;

	if (parse_u64(t, &v) == -1 || v < 1 || v > DKIM_ARC_SETS_MAX)
		return (*why = "bad ARC instance i="), -1;
	s->instance = (unsigned)v;
	return 0;
}

/* cv= none, pass or fail (RFC 8617 4.1.3); the numbers of enum arc_cv. */
static int
arc_cv(const struct dkim_tag *t, struct dkim_sig *s, const char **why)
{
	if (val_is(t, "none"))
		s->arc_cv = 0;
	else if (val_is(t, "pass"))
		s->arc_cv = 1;
	else if (val_is(t, "fail"))
		s->arc_cv = 2;
	else
		return (*why = "bad cv="), -1;
	return 0;
}

/* Tags that only ARC has, or that ARC reads its own way. */
static int
arc_tag(enum dkim_sig_kind kind, const struct dkim_tag *t, struct dkim_sig *s,
    unsigned *have, const char **why)
{
	if (tag_is(t, "i")) {
		*have |= TAG_I;
		return arc_i(t, s, why);
	}
	if (tag_is(t, "cv") && kind == DKIM_KIND_AS) {
		*have |= TAG_CV;
		return arc_cv(t, s, why);
	}
	return 0; /* v= and the rest mean nothing in ARC */
}

static int
sig_tag(enum dkim_sig_kind kind, const struct dkim_tag *t, struct dkim_sig *s,
    unsigned *have, const char **why)
{
	if (kind != DKIM_KIND_SIG &&
	    (tag_is(t, "i") || tag_is(t, "cv") || tag_is(t, "v")))
		return arc_tag(kind, t, s, have, why);
	if (tag_is(t, "v")) {
		*have |= TAG_V;
		if (!val_is(t, "1"))
			return (*why = "unsupported v="), -1;
	} else if (tag_is(t, "a")) {
		*have |= TAG_A;
		return sig_a(t, s, why);
	} else if (tag_is(t, "b")) {
		*have |= TAG_B;
		return sig_b(t, s, why);
	} else if (tag_is(t, "bh")) {
		long len =
		    dkim_b64_decode(t->val, t->val_len, s->bh, sizeof(s->bh));

		*have |= TAG_BH;
		if (len != 32)
			return (*why = "bad bh="), -1;
		s->bh_len = 32;
	} else if (tag_is(t, "d")) {
		*have |= TAG_D;
		if (copy_name(t, s->domain, sizeof(s->domain)) == -1)
			return (*why = "bad d="), -1;
	} else if (tag_is(t, "h")) {
		*have |= TAG_H;
		return sig_h(t, s, why);
	} else if (tag_is(t, "s")) {
		*have |= TAG_S;
		if (copy_name(t, s->selector, sizeof(s->selector)) == -1)
			return (*why = "bad s="), -1;
	} else if (tag_is(t, "c"))
		return sig_c(t, s, why);
	else if (tag_is(t, "i"))
		return sig_i(t, s, why);
	else if (tag_is(t, "l")) {
		s->has_l = true;
		if (parse_u64(t, &s->l) == -1)
			return (*why = "bad l="), -1;
	} else if (tag_is(t, "q")) {
		if (!list_has(t->val, t->val_len, "dns/txt"))
			return (*why = "unsupported q="), -1;
	} else if (tag_is(t, "t")) {
		s->has_t = true;
		if (parse_u64(t, &s->t) == -1)
			return (*why = "bad t="), -1;
	} else if (tag_is(t, "x")) {
		s->has_x = true;
		if (parse_u64(t, &s->x) == -1)
			return (*why = "bad x="), -1;
	}
	return 0;
}

/* i= must be in d= or below it (RFC 6376 3.5, i=). */
static bool
identity_ok(const struct dkim_sig *s)
{
	const char *at = strrchr(s->identity, '@');
	size_t il = strlen(at + 1), dl = strlen(s->domain);

	if (il == dl)
		return strcasecmp(at + 1, s->domain) == 0;
	return il > dl && at[il - dl] == '.' &&
	       strcasecmp(at + 1 + il - dl, s->domain) == 0;
}

/* The tags each kind requires (RFC 6376 3.5, RFC 8617 4.1.2, 4.1.3). */
static const unsigned required[] = {
	[DKIM_KIND_SIG] =
	    TAG_V | TAG_A | TAG_B | TAG_BH | TAG_D | TAG_H | TAG_S,
	[DKIM_KIND_AMS] =
	    TAG_I | TAG_A | TAG_B | TAG_BH | TAG_D | TAG_H | TAG_S,
	[DKIM_KIND_AS] = TAG_I | TAG_A | TAG_B | TAG_CV | TAG_D | TAG_S,
};

/* What an ARC field may not have. */
static int
arc_check(enum dkim_sig_kind kind, const struct dkim_sig *s, unsigned have,
    const char **why)
{
	size_t i;

	if (kind == DKIM_KIND_AS && (have & (TAG_H | TAG_BH)) != 0)
		return (*why = "h= or bh= in ARC-Seal"), -1;
	for (i = 0; kind == DKIM_KIND_AMS && i < s->nh; i++)
		if (strcmp(s->h[i], "arc-seal") == 0)
			return (*why = "ARC-Message-Signature signs ARC-Seal"),
			       -1;
	return 0;
}

int
dkim_sig_parse(const char *value, size_t n, struct dkim_sig *out,
    const char **why_out)
{
	return dkim_sig_parse_kind(DKIM_KIND_SIG, value, n, out, why_out);
}

int
dkim_sig_parse_kind(enum dkim_sig_kind kind, const char *value, size_t n,
    struct dkim_sig *out, const char **why_out)
{
	struct dkim_tag seen[DKIM_TAGS_MAX], t;
	size_t pos = 0, nseen = 0;
	unsigned have = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	while ((rc = dkim_tag_next(value, n, &pos, &t, why_out)) == 1)
		if (note_tag(seen, &nseen, &t, why_out) == -1 ||
		    sig_tag(kind, &t, out, &have, why_out) == -1)
			return -1;
	if (rc == -1)
		return -1;
	if ((have & required[kind]) != required[kind])
		return (*why_out = "a required tag is missing"), -1;
	if (kind != DKIM_KIND_SIG && arc_check(kind, out, have, why_out) == -1)
		return -1;
	if (out->identity[0] == '\0')
		(void)snprintf(out->identity, sizeof(out->identity), "@%s",
		    out->domain);
	else if (!identity_ok(out))
		return (*why_out = "i= is not within d="), -1;
	if (out->has_t && out->has_x && out->x < out->t)
		return (*why_out = "x= is before t="), -1;
	return 0;
}

/* ---- key records ---- */

static int
key_tag(const struct dkim_tag *t, struct dkim_key *k, bool *have_p,
    const char **why)
{
	long len;

	if (tag_is(t, "v")) {
		if (!val_is(t, "DKIM1"))
			return (*why = "unsupported key v="), -1;
	} else if (tag_is(t, "k")) {
		if (val_is(t, "rsa"))
			k->alg = DKIM_RSA_SHA256;
		else if (val_is(t, "ed25519"))
			k->alg = DKIM_ED25519_SHA256;
		else
			return (*why = "unknown key type"), -1;
	} else if (tag_is(t, "h")) {
		k->sha256_ok = list_has(t->val, t->val_len, "sha256");
	} else if (tag_is(t, "s")) {
		if (!list_has(t->val, t->val_len, "email") &&
		    !list_has(t->val, t->val_len, "*"))
			return (*why = "key not for email (s=)"), -1;
	} else if (tag_is(t, "t")) {
		k->testing = list_has(t->val, t->val_len, "y");
		k->strict = list_has(t->val, t->val_len, "s");
	} else if (tag_is(t, "p")) {
		*have_p = true;
		len = dkim_b64_decode(t->val, t->val_len, k->p, sizeof(k->p));
		if (len < 0)
			return (*why = "bad key p="), -1;
		k->p_len = (size_t)len;
		k->revoked = len == 0;
	}
	return 0;
}

int
dkim_key_parse(const char *txt, size_t n, struct dkim_key *out,
    const char **why_out)
{
	struct dkim_tag seen[DKIM_TAGS_MAX], t;
	size_t pos = 0, nseen = 0;
	bool have_p = false;
	int rc;

	memset(out, 0, sizeof(*out));
	out->sha256_ok = true;
	while ((rc = dkim_tag_next(txt, n, &pos, &t, why_out)) == 1) {
		/* v=, when present, must come first (RFC 6376 3.6.1). */
		if (tag_is(&t, "v") && nseen > 0)
			return (*why_out = "key v= is not first"), -1;
		if (note_tag(seen, &nseen, &t, why_out) == -1 ||
		    key_tag(&t, out, &have_p, why_out) == -1)
			return -1;
	}
	if (rc == -1)
		return -1;
	if (!have_p)
		return (*why_out = "key record has no p="), -1;
	return 0;
}

const char *
dkim_res_name(enum dkim_res r)
{
	static const char *const names[] = { "none", "pass", "fail", "neutral",
		"policy", "temperror", "permerror" };

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r]
	                                                      : "permerror";
}

const char *
dkim_alg_name(enum dkim_alg a)
{
	return a == DKIM_ED25519_SHA256 ? "ed25519-sha256" : "rsa-sha256";
}
