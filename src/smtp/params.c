/* SPDX-License-Identifier: ISC */
/*
 * smtp/params.c - MAIL/RCPT arguments (see params.h).
 *
 * Parameters go through one table: keyword, the command(s) it belongs
 * to, the extension that must have been offered, and a value checker.
 * Trust: peer bytes; values are checked before they are copied into
 * fixed-size fields.
 */
#include "smtp/params.h"

#include <string.h>

#include "util/str.h"
#include "util/utf8.h"

enum {
	FOR_MAIL = 1,
	FOR_RCPT = 2,
};

struct ctx {
	unsigned ext;
	struct smtp_mail *mail; /* exactly one of these is set */
	struct smtp_rcpt *rcpt;
	const char *why;
};

/* One "KEYWORD[=value]"; v is NULL when there is no "=". */
typedef enum smtp_arg_status param_fn(struct ctx *, const char *v, size_t vn);

static enum smtp_arg_status
bad(struct ctx *x, enum smtp_arg_status st, const char *why)
{
	x->why = why;
	return st;
}

static bool
is_eq(const char *v, size_t vn, const char *word)
{
	size_t wn = strlen(word);

	return vn == wn && ascii_ncasecmp(v, word, wn) == 0;
}

static bool
is_hex_upper(int c)
{
	return ascii_is_digit(c) || (c >= 'A' && c <= 'F');
}

/*
 * xtext, RFC 3461 4: xchar is "!".."~" except "+" and "="; "+" must be
 * followed by two upper-case hex digits.
 */
static bool
is_xtext(const char *v, size_t vn)
{
	size_t i;
	unsigned char c;

	for (i = 0; i < vn; i++) {
		c = (unsigned char)v[i];
		if (c == '+') {
			if (vn - i < 3 || !is_hex_upper(v[i + 1]) ||
			    !is_hex_upper(v[i + 2]))
				return false;
			i += 2;
			continue;
		}
		if (c < 33 || c > 126 || c == '=')
			return false;
	}
	return true;
}

static void
copy(char *dst, const char *v, size_t vn)
{
	memcpy(dst, v, vn);
	dst[vn] = '\0';
}

/* SIZE=1*20DIGIT, RFC 1870 6 */
static enum smtp_arg_status
p_size(struct ctx *x, const char *v, size_t vn)
{
	uint64_t n = 0, d;
	size_t i;

	if (v == NULL)
		return bad(x, SMTP_ARG_BAD_PARAM, "SIZE needs a value");
	for (i = 0; i < vn; i++) {
		if (!ascii_is_digit((unsigned char)v[i]))
			return bad(x, SMTP_ARG_BAD_PARAM,
			    "SIZE is not a number");
		d = (uint64_t)(v[i] - '0');
		if (n > (UINT64_MAX - d) / 10)
			return bad(x, SMTP_ARG_BAD_PARAM, "SIZE is too large");
		n = n * 10 + d;
	}
	x->mail->size = n;
	x->mail->has_size = true;
	return SMTP_ARG_OK;
}

/* BODY=7BIT / 8BITMIME, RFC 6152 3; BINARYMIME (RFC 3030) not offered. */
static enum smtp_arg_status
p_body(struct ctx *x, const char *v, size_t vn)
{
	if (v != NULL && is_eq(v, vn, "7BIT"))
		x->mail->body = SMTP_BODY_7BIT;
	else if (v != NULL && is_eq(v, vn, "8BITMIME"))
		x->mail->body = SMTP_BODY_8BITMIME;
	else
		return bad(x, SMTP_ARG_BAD_PARAM,
		    "BODY must be 7BIT or 8BITMIME");
	return SMTP_ARG_OK;
}

/* SMTPUTF8 takes no value, RFC 6531 3.4. */
static enum smtp_arg_status
p_smtputf8(struct ctx *x, const char *v, size_t vn)
{
	(void)vn;
	if (v != NULL)
		return bad(x, SMTP_ARG_BAD_PARAM, "SMTPUTF8 takes no value");
	x->mail->smtputf8 = true;
	return SMTP_ARG_OK;
}

/* REQUIRETLS takes no value, RFC 8689 2 (item 4). */
static enum smtp_arg_status
p_requiretls(struct ctx *x, const char *v, size_t vn)
{
	(void)vn;
	if (v != NULL)
		return bad(x, SMTP_ARG_BAD_PARAM, "REQUIRETLS takes no value");
	x->mail->requiretls = true;
	return SMTP_ARG_OK;
}

/* AUTH=xtext / "<>", RFC 4954 5 */
static enum smtp_arg_status
p_auth(struct ctx *x, const char *v, size_t vn)
{
	if (v == NULL || !is_xtext(v, vn))
		return bad(x, SMTP_ARG_BAD_PARAM, "AUTH= is not xtext");
	if (vn > SMTP_PATH_MAX)
		return bad(x, SMTP_ARG_BAD_PARAM, "AUTH= is too long");
	copy(x->mail->auth, v, vn);
	x->mail->has_auth = true;
	return SMTP_ARG_OK;
}

/* RET=FULL / HDRS, RFC 3461 4.3 */
static enum smtp_arg_status
p_ret(struct ctx *x, const char *v, size_t vn)
{
	if (v != NULL && is_eq(v, vn, "FULL"))
		x->mail->ret = SMTP_RET_FULL;
	else if (v != NULL && is_eq(v, vn, "HDRS"))
		x->mail->ret = SMTP_RET_HDRS;
	else
		return bad(x, SMTP_ARG_BAD_PARAM, "RET must be FULL or HDRS");
	return SMTP_ARG_OK;
}

/* ENVID=xtext of at most 100 characters, RFC 3461 4.4 */
static enum smtp_arg_status
p_envid(struct ctx *x, const char *v, size_t vn)
{
	if (v == NULL || !is_xtext(v, vn))
		return bad(x, SMTP_ARG_BAD_PARAM, "ENVID is not xtext");
	if (vn > SMTP_ENVID_MAX)
		return bad(x, SMTP_ARG_BAD_PARAM, "ENVID is too long");
	copy(x->mail->envid, v, vn);
	return SMTP_ARG_OK;
}

/* NOTIFY="NEVER" / 1#("SUCCESS" / "FAILURE" / "DELAY"), RFC 3461 4.1 */
static enum smtp_arg_status
p_notify(struct ctx *x, const char *v, size_t vn)
{
	static const struct {
		const char *name;
		unsigned bit;
	} kw[] = {
		{ "NEVER", SMTP_NOTIFY_NEVER },
		{ "SUCCESS", SMTP_NOTIFY_SUCCESS },
		{ "FAILURE", SMTP_NOTIFY_FAILURE },
		{ "DELAY", SMTP_NOTIFY_DELAY },
	};
	unsigned bits = 0, b;
	size_t i = 0, s, k;

	if (v == NULL)
		return bad(x, SMTP_ARG_BAD_PARAM, "NOTIFY needs a value");
	for (;;) {
		for (s = i; i < vn && v[i] != ','; i++)
			;
		for (b = 0, k = 0; k < sizeof(kw) / sizeof(kw[0]); k++)
			if (is_eq(v + s, i - s, kw[k].name))
				b = kw[k].bit;
		if (b == 0)
			return bad(x, SMTP_ARG_BAD_PARAM,
			    "NOTIFY must be NEVER or SUCCESS,FAILURE,DELAY");
		if (bits & b)
			return bad(x, SMTP_ARG_BAD_PARAM,
			    "NOTIFY keyword repeated");
		bits |= b;
		if (i == vn)
			break;
		i++; /* ',' */
	}
	if ((bits & SMTP_NOTIFY_NEVER) && bits != SMTP_NOTIFY_NEVER)
		return bad(x, SMTP_ARG_BAD_PARAM, "NOTIFY=NEVER must be alone");
	x->rcpt->notify = bits;
	return SMTP_ARG_OK;
}

/*
 * ORCPT=addr-type ";" xtext, RFC 3461 4.2. For addr-type "utf-8" in an
 * SMTPUTF8 transaction the value may also hold raw UTF-8 (RFC 6533 3).
 */
static enum smtp_arg_status
p_orcpt(struct ctx *x, const char *v, size_t vn)
{
	size_t t, i, len;
	uint32_t cp;

	if (v == NULL)
		return bad(x, SMTP_ARG_BAD_PARAM, "ORCPT needs a value");
	for (t = 0;
	     t < vn && (ascii_is_alnum((unsigned char)v[t]) || v[t] == '-');
	     t++)
		;
	if (t == 0 || t + 1 >= vn || v[t] != ';')
		return bad(x, SMTP_ARG_BAD_PARAM,
		    "ORCPT must be addr-type;address");
	if (vn >= sizeof(x->rcpt->orcpt))
		return bad(x, SMTP_ARG_BAD_PARAM, "ORCPT is too long");
	if (is_eq(v, t, "utf-8") && (x->ext & SMTP_EXT_SMTPUTF8)) {
		for (i = t + 1; i < vn; i += len) {
			if ((unsigned char)v[i] < 0x80) {
				len = 1;
				if (v[i] < 33 || v[i] > 126)
					return bad(x, SMTP_ARG_BAD_PARAM,
					    "ORCPT has a bad character");
				continue;
			}
			len = utf8_decode((const uint8_t *)v + i, vn - i, &cp);
			if (len == 0 || cp < 0xa0)
				return bad(x, SMTP_ARG_BAD_PARAM,
				    "ORCPT is not valid UTF-8");
		}
	} else if (!is_xtext(v + t + 1, vn - t - 1))
		return bad(x, SMTP_ARG_BAD_PARAM, "ORCPT address is not xtext");
	copy(x->rcpt->orcpt, v, vn);
	return SMTP_ARG_OK;
}

/* Set *why_out and say no: the failure path of the grammar helpers. */
static bool
refuse(const char **why_out, const char *why)
{
	*why_out = why;
	return false;
}

/* Append code point cp (<= U+10FFFF) as UTF-8 to dst[*n]; false if full. */
static bool
put_utf8(char *dst, size_t dstsz, size_t *n, uint32_t cp)
{
	static const unsigned char lead[] = { 0, 0x00, 0xc0, 0xe0, 0xf0 };
	size_t k = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4, i;

	if (*n + k >= dstsz) /* room for the NUL too */
		return false;
	for (i = k - 1; i > 0; i--) {
		dst[*n + i] = (char)(0x80 | (cp & 0x3f));
		cp >>= 6;
	}
	dst[*n] = (char)(lead[k] | cp);
	*n += k;
	return true;
}

/*
 * RFC 6533 3: EmbeddedUnicodeChar "\x{HEXPOINT}" at p[0..n) (p[0] ==
 * '\\'): its code point into *cp and its length into *len. HEXPOINT is
 * an xtext-special ("01"-"20", "2B", "3D", "7F"), "5C" or a non-ASCII
 * code point in 2 to 6 digits without leading zeros, never a surrogate.
 */
static bool
embedded_char(const char *p, size_t n, uint32_t *cp, size_t *len,
    const char **why_out)
{
	uint32_t v = 0;
	size_t d;
	int c;

	if (n < 3 || p[1] != 'x' || p[2] != '{')
		return refuse(why_out, "\\ not followed by x{");
	for (d = 0; d < 7 && 3 + d < n && p[3 + d] != '}'; d++) {
		c = ascii_upper((unsigned char)p[3 + d]); /* ABNF: any case */
		if (ascii_is_digit(c))
			v = v * 16 + (uint32_t)(c - '0');
		else if (c >= 'A' && c <= 'F')
			v = v * 16 + (uint32_t)(c - 'A' + 10);
		else
			return refuse(why_out, "\\x{} holds a non-hex digit");
	}
	if (3 + d >= n || d < 2 || d > 6)
		return refuse(why_out, "\\x{} needs 2 to 6 digits and }");
	if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return refuse(why_out, "\\x{} is no Unicode scalar value");
	if (d > 2 && p[3] == '0') /* only "01"-"09" have a leading zero */
		return refuse(why_out, "\\x{} has a leading zero");
	if (v < 0x80 && (v == 0 || v > 0x20) && v != 0x2b && v != 0x3d &&
	    v != 0x5c && v != 0x7f)
		return refuse(why_out, "\\x{} of a character that needs none");
	*cp = v;
	*len = 3 + d + 1;
	return true;
}

/*
 * The xtext encoding of RFC 3461 4 has nothing to remove from either
 * form: '+' is no QCHAR, so an xtext "+XX" is refused, not decoded.
 */
bool
smtp_orcpt_utf8_decode(const char *p, size_t n, char *dst, size_t dstsz,
    const char **why_out)
{
	struct smtp_addr a;
	uint32_t cp;
	size_t i, o = 0, len;
	unsigned char c;

	if (dstsz == 0)
		return refuse(why_out, "ORCPT does not fit");
	for (i = 0; i < n; i += len) {
		c = (unsigned char)p[i];
		if (c == '\\') {
			if (!embedded_char(p + i, n - i, &cp, &len, why_out))
				return false;
			if (!put_utf8(dst, dstsz, &o, cp))
				return refuse(why_out, "ORCPT does not fit");
			continue;
		}
		if (c >= 0x80) { /* QUCHAR: UTF8-2 / UTF8-3 / UTF8-4 */
			len = utf8_decode((const uint8_t *)p + i, n - i, &cp);
			if (len == 0)
				return refuse(why_out,
				    "ORCPT is not valid UTF-8");
			if (!put_utf8(dst, dstsz, &o, cp))
				return refuse(why_out, "ORCPT does not fit");
			continue;
		}
		/* QCHAR: printable ASCII but for '\\' (above), '+' and '=' */
		len = 1;
		if (c < 0x21 || c > 0x7e || c == '+' || c == '=')
			return refuse(why_out, "ORCPT has a bad character");
		if (!put_utf8(dst, dstsz, &o, c))
			return refuse(why_out, "ORCPT does not fit");
	}
	dst[o] = '\0';
	if (o == 0)
		return refuse(why_out, "ORCPT has no address");
	if (!smtp_mailbox_parse(dst, o, SMTP_ADDR_UTF8, &a, why_out))
		return false;
	*why_out = NULL;
	return true;
}

static const struct param {
	const char *name;
	unsigned cmds; /* FOR_MAIL, FOR_RCPT */
	unsigned ext;  /* SMTP_EXT_* that must be set, 0 for always */
	param_fn *fn;
} params[] = {
	{ "SIZE", FOR_MAIL, 0, p_size },
	{ "BODY", FOR_MAIL, 0, p_body },
	{ "SMTPUTF8", FOR_MAIL, 0, p_smtputf8 },
	{ "AUTH", FOR_MAIL, SMTP_EXT_AUTH, p_auth },
	{ "RET", FOR_MAIL, SMTP_EXT_DSN, p_ret },
	{ "ENVID", FOR_MAIL, SMTP_EXT_DSN, p_envid },
	{ "NOTIFY", FOR_RCPT, SMTP_EXT_DSN, p_notify },
	{ "ORCPT", FOR_RCPT, SMTP_EXT_DSN, p_orcpt },
	{ "REQUIRETLS", FOR_MAIL, SMTP_EXT_REQUIRETLS, p_requiretls },
};

#define NPARAMS (sizeof(params) / sizeof(params[0]))

/*
 * esmtp-value = 1*(%d33-60 / %d62-126), RFC 5321 4.1.2, plus
 * UTF8-non-ascii (RFC 6531 3.3); how long is the value at v?
 * Returns false on a byte that fits neither.
 */
static bool
scan_value(const char *v, size_t n, size_t *len_out)
{
	size_t i = 0, len;
	uint32_t cp;
	unsigned char c;

	while (i < n && v[i] != ' ') {
		c = (unsigned char)v[i];
		if (c >= 0x80) {
			len = utf8_decode((const uint8_t *)v + i, n - i, &cp);
			if (len == 0 || cp < 0xa0)
				return false;
			i += len;
			continue;
		}
		if (c < 33 || c > 126 || c == '=')
			return false;
		i++;
	}
	*len_out = i;
	return true;
}

/* Mail-parameters / Rcpt-parameters after the path: (SP esmtp-param)* */
static enum smtp_arg_status
parse_params(struct ctx *x, const char *a, size_t n, unsigned cmd)
{
	enum smtp_arg_status st;
	unsigned seen = 0;
	size_t i = 0, ks, kn, vn, k;
	const char *v;

	while (i < n) {
		if (a[i] != ' ')
			return bad(x, SMTP_ARG_SYNTAX,
			    "junk after the address");
		while (i < n && a[i] == ' ')
			i++;
		if (i == n)
			break;
		/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
		ks = i;
		while (i < n &&
		       (ascii_is_alnum((unsigned char)a[i]) || a[i] == '-'))
			i++;
		kn = i - ks;
		if (kn == 0 || a[ks] == '-')
			return bad(x, SMTP_ARG_SYNTAX,
			    "invalid parameter keyword");
		v = NULL;
		vn = 0;
		if (i < n && a[i] == '=') {
			i++;
			if (!scan_value(a + i, n - i, &vn))
				return bad(x, SMTP_ARG_SYNTAX,
				    "invalid character in parameter value");
			if (vn == 0)
				return bad(x, SMTP_ARG_SYNTAX,
				    "empty parameter value");
			v = a + i;
			i += vn;
		} else if (i < n && a[i] != ' ')
			return bad(x, SMTP_ARG_SYNTAX,
			    "invalid character in parameter keyword");
		/* RFC 5321 4.1.1.11: no parameters without EHLO. */
		if (!(x->ext & SMTP_EXT_ESMTP))
			return bad(x, SMTP_ARG_UNKNOWN_PARAM,
			    "parameters need EHLO");
		for (k = 0; k < NPARAMS; k++)
			if (is_eq(a + ks, kn, params[k].name))
				break;
		if (k == NPARAMS || !(params[k].cmds & cmd) ||
		    (params[k].ext != 0 && !(x->ext & params[k].ext)))
			return bad(x, SMTP_ARG_UNKNOWN_PARAM,
			    "unknown parameter");
		/* RFC 1869 6: a keyword may appear at most once. */
		if (seen & (1u << k))
			return bad(x, SMTP_ARG_BAD_PARAM, "repeated parameter");
		seen |= 1u << k;
		if ((st = params[k].fn(x, v, vn)) != SMTP_ARG_OK)
			return st;
	}
	return SMTP_ARG_OK;
}

/* "FROM:" / "TO:", one tolerated SP, then the path. */
static enum smtp_arg_status
parse_path(struct ctx *x, const char *arg, size_t n, const char *word,
    unsigned flags, struct smtp_addr *a, size_t *used_out)
{
	size_t wn = strlen(word), used;
	const char *why;

	if (n < wn || ascii_ncasecmp(arg, word, wn) != 0)
		return bad(x, SMTP_ARG_SYNTAX,
		    wn == 5 ? "expected FROM:<address>"
		            : "expected TO:<address>");
	if (wn < n && arg[wn] == ' ')
		wn++;
	if (wn == n)
		return bad(x, SMTP_ARG_SYNTAX, "missing address");
	if (!smtp_path_parse(arg + wn, n - wn, flags, a, &used, &why))
		return bad(x, SMTP_ARG_BAD_ADDR, why);
	*used_out = wn + used;
	return SMTP_ARG_OK;
}

static enum smtp_arg_status
finish(struct ctx *x, enum smtp_arg_status st, void *out, size_t outsz,
    const char **why_out)
{
	if (st != SMTP_ARG_OK) {
		memset(out, 0, outsz);
		*why_out = x->why != NULL ? x->why : "invalid argument";
	} else
		*why_out = NULL;
	return st;
}

enum smtp_arg_status
smtp_mail_parse(const char *arg, size_t n, unsigned ext, struct smtp_mail *out,
    const char **why_out)
{
	struct ctx x = { ext, out, NULL, NULL };
	enum smtp_arg_status st;
	size_t used;

	memset(out, 0, sizeof(*out));
	st = parse_path(&x, arg, n, "FROM:", SMTP_ADDR_UTF8 | SMTP_ADDR_NULL_OK,
	    &out->from, &used);
	if (st == SMTP_ARG_OK)
		st = parse_params(&x, arg + used, n - used, FOR_MAIL);
	/* RFC 6531 3.4: a UTF-8 address only with the SMTPUTF8 parameter. */
	if (st == SMTP_ARG_OK && out->from.utf8 && !out->smtputf8)
		st = bad(&x, SMTP_ARG_UTF8_NEEDED,
		    "UTF-8 address without SMTPUTF8");
	return finish(&x, st, out, sizeof(*out), why_out);
}

enum smtp_arg_status
smtp_rcpt_parse(const char *arg, size_t n, unsigned ext, struct smtp_rcpt *out,
    const char **why_out)
{
	struct ctx x = { ext, NULL, out, NULL };
	enum smtp_arg_status st;
	size_t used;

	memset(out, 0, sizeof(*out));
	st = parse_path(&x, arg, n,
	    "TO:", SMTP_ADDR_UTF8 | SMTP_ADDR_POSTMASTER_OK, &out->to, &used);
	if (st == SMTP_ARG_OK)
		st = parse_params(&x, arg + used, n - used, FOR_RCPT);
	if (st == SMTP_ARG_OK && out->to.utf8 && !(ext & SMTP_EXT_SMTPUTF8))
		st = bad(&x, SMTP_ARG_UTF8_NEEDED,
		    "UTF-8 address without SMTPUTF8");
	return finish(&x, st, out, sizeof(*out), why_out);
}

const char *
smtp_arg_reply(enum smtp_arg_status st, bool is_rcpt)
{
	switch (st) {
	case SMTP_ARG_OK:
		return is_rcpt ? "250 2.1.5 Recipient ok"
		               : "250 2.1.0 Sender ok";
	case SMTP_ARG_SYNTAX:
		return "501 5.5.4 Syntax error in parameters";
	case SMTP_ARG_BAD_ADDR:
		return is_rcpt ? "553 5.1.3 Bad recipient address syntax"
		               : "501 5.1.7 Bad sender address syntax";
	case SMTP_ARG_UTF8_NEEDED:
		return "553 5.6.7 Address needs SMTPUTF8";
	case SMTP_ARG_UNKNOWN_PARAM:
		return "555 5.5.4 Unsupported parameter";
	case SMTP_ARG_BAD_PARAM:
		return "501 5.5.4 Invalid parameter value";
	}
	return "501 5.5.4 Syntax error in parameters";
}
