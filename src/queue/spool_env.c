/* SPDX-License-Identifier: ISC */
/*
 * queue/spool_env.c - the envelope at the head of a spool file: its text
 * format, written (spool_env_build) and read back (spool_env_parse), and
 * the token encoding of its strings, which the notes use too. Pure: no
 * files (spool.c owns them). The layout is described in spool.c.
 * Trust: what is parsed is our own file, still validated: every field
 * bounded, every number range-checked, anything else refused.
 */
#include "queue/spool-private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/params.h"
#include "util/buf.h"
#include "util/str.h"
#include "util/xmalloc.h"

/*
 * Envelope strings are written as one token: bytes outside 0x21..0x7e and
 * '%' become %XX, the empty string is "-", and a leading '-' is escaped so
 * that "-" stays unambiguous. Peer bytes can thus never break a line.
 */
int
spool_enc(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *u = (const unsigned char *)(s ? s : "");
	char e[3];
	size_t i;

	if (*u == '\0')
		return buf_append(b, "-", 1);
	for (i = 0; u[i] != '\0'; i++) {
		if (u[i] <= 0x20 || u[i] >= 0x7f || u[i] == '%' ||
		    (i == 0 && u[i] == '-')) {
			e[0] = '%';
			e[1] = hex[u[i] >> 4];
			e[2] = hex[u[i] & 15];
			if (buf_append(b, e, 3) == -1)
				return -1;
		} else if (buf_append(b, &u[i], 1) == -1)
			return -1;
	}
	return 0;
}

/* Decode one token; NULL on a bad escape, raw byte, NUL or overlength. */
char *
spool_dec(const uint8_t *p, size_t n, size_t max)
{
	char *out;
	size_t i, o = 0;
	int hi, lo;

	if (n == 0)
		return NULL;
	if (n == 1 && p[0] == '-')
		return xstrdup("");
	out = xmalloc(n + 1);
	for (i = 0; i < n; i++) {
		if (o >= max)
			goto bad;
		if (p[i] <= 0x20 || p[i] >= 0x7f)
			goto bad;
		if (p[i] != '%') {
			out[o++] = (char)p[i];
			continue;
		}
		if (n - i < 3 || (hi = ascii_hex_value(p[i + 1])) < 0 ||
		    (lo = ascii_hex_value(p[i + 2])) < 0 || (hi == 0 && lo == 0))
			goto bad;
		out[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[o] = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

/* Split line p[0..n) into exactly nf fields at single spaces. */
bool
spool_split(const uint8_t *p, size_t n, size_t nf, const uint8_t **f, size_t *fl)
{
	size_t i, k = 0, start = 0;

	for (i = 0; i <= n; i++) {
		if (i < n && p[i] != ' ')
			continue;
		if (k == nf || i == start)
			return false; /* too many fields, or an empty one */
		f[k] = p + start;
		fl[k++] = i - start;
		start = i + 1;
	}
	return k == nf;
}

bool
spool_parse_num(const uint8_t *p, size_t n, uint64_t max, uint64_t *out)
{
	char tmp[24];

	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	return str_to_u64(tmp, max, out);
}

/* The next line of the envelope, LF excluded; false at the end. */
bool
spool_next_line(const uint8_t *p, size_t n, size_t *pos, const uint8_t **line,
    size_t *len)
{
	const uint8_t *lf;

	if (*pos >= n)
		return false;
	lf = memchr(p + *pos, '\n', n - *pos);
	if (lf == NULL)
		return false;
	*line = p + *pos;
	*len = (size_t)(lf - (p + *pos));
	*pos += *len + 1;
	return true;
}

/* Does the line start with keyword `kw` and a space? Then skip them. */
static bool
keyword(const uint8_t **line, size_t *len, const char *kw)
{
	size_t k = strlen(kw);

	if (*len <= k || memcmp(*line, kw, k) != 0 || (*line)[k] != ' ')
		return false;
	*line += k + 1;
	*len -= k + 1;
	return true;
}

bool
spool_is_state(uint8_t c)
{
	return c == SPOOL_RCPT_PENDING || c == SPOOL_RCPT_DELIVERED ||
	       c == SPOOL_RCPT_FAILED;
}

/*
 * Parse a whole envelope p[0..n) (n is the length from its first line).
 * When want_off is not NULL, the file offset of recipient want_idx's
 * state byte goes there. -1 with a WHY_PERM why when it is malformed.
 */
int
spool_env_parse(const char *id, const uint8_t *p, size_t n,
    struct spool_env *env, size_t want_idx, off_t *want_off,
    struct why *why)
{
	const uint8_t *line, *f[5];
	size_t len, fl[5], pos = FIRST_LINE_LEN, cap = 0;
	uint64_t v;
	char *s;

	memset(env, 0, sizeof(*env));
	if (n < FIRST_LINE_LEN || memcmp(p, MAGIC, MAGIC_LEN) != 0 ||
	    p[FIRST_LINE_LEN - 1] != '\n' ||
	    !spool_parse_num(p + MAGIC_LEN, 10, HLEN_MAX, &v) || v != n)
		return why_set(why, WHY_PERM, 0, "bad first line");
	if (!spool_next_line(p, n, &pos, &line, &len) ||
	    !keyword(&line, &len, "id") || len != SPOOL_ID_LEN)
		goto bad;
	memcpy(env->id, line, len);
	env->id[len] = '\0';
	if (!spool_is_id(env->id) || (id != NULL && strcmp(id, env->id) != 0))
		return why_set(why, WHY_PERM, 0, "id does not match file name");
	if (!spool_next_line(p, n, &pos, &line, &len) ||
	    !keyword(&line, &len, "arrival") ||
	    !spool_parse_num(line, len, ARRIVAL_MAX, &v))
		goto bad;
	env->arrival = (time_t)v;
	if (!spool_next_line(p, n, &pos, &line, &len) ||
	    !keyword(&line, &len, "sender") ||
	    (env->sender = spool_dec(line, len, SPOOL_FIELD_MAX)) == NULL)
		goto bad;
	if (!spool_next_line(p, n, &pos, &line, &len) ||
	    !keyword(&line, &len, "helo") ||
	    (env->helo = spool_dec(line, len, SPOOL_FIELD_MAX)) == NULL)
		goto bad;
	if (!spool_next_line(p, n, &pos, &line, &len) ||
	    !keyword(&line, &len, "client") || !spool_split(line, len, 2, f, fl) ||
	    (env->client_addr = spool_dec(f[0], fl[0], SPOOL_FIELD_MAX)) == NULL ||
	    (env->client_name = spool_dec(f[1], fl[1], SPOOL_FIELD_MAX)) == NULL)
		goto bad;
	if (!spool_next_line(p, n, &pos, &line, &len) ||
	    !keyword(&line, &len, "flags") || len != 2 ||
	    (line[0] != '0' && line[0] != '1') ||
	    (line[1] != '0' && line[1] != '1'))
		goto bad;
	env->smtputf8 = line[0] == '1';
	env->eightbit = line[1] == '1';
	for (;;) {
		if (!spool_next_line(p, n, &pos, &line, &len))
			goto bad;
		if (len == 3 && memcmp(line, "end", 3) == 0)
			break;
		/* Optional, before the recipients: "dsn RET ENVID". */
		if (env->nrcpts == 0 && env->envid == NULL &&
		    keyword(&line, &len, "dsn")) {
			if (!spool_split(line, len, 2, f, fl) || fl[0] != 1 ||
			    (f[0][0] != '-' && f[0][0] != 'F' &&
			        f[0][0] != 'H') ||
			    (env->envid = spool_dec(f[1], fl[1], SPOOL_FIELD_MAX)) ==
			        NULL)
				goto bad;
			env->dsn_ret = f[0][0] == 'F'   ? SMTP_RET_FULL
			               : f[0][0] == 'H' ? SMTP_RET_HDRS
			                                : SMTP_RET_NONE;
			continue;
		}
		/* Optional, before the recipients: "prefix LEN". */
		if (env->nrcpts == 0 && keyword(&line, &len, "prefix")) {
			if (len != PREFIX_DIGITS + 2 || line[PREFIX_DIGITS] != ' ' ||
			    (line[PREFIX_DIGITS + 1] != '0' &&
			        line[PREFIX_DIGITS + 1] != '1') ||
			    !spool_parse_num(line, PREFIX_DIGITS, SPOOL_PREFIX_MAX, &v))
				goto bad;
			env->prefix_slot = true;
			env->prefix_len = (size_t)v;
			env->junk = line[PREFIX_DIGITS + 1] == '1';
			continue;
		}
		/* Optional, before the recipients: "requiretls 1". */
		if (env->nrcpts == 0 && !env->requiretls && len == 12 &&
		    memcmp(line, "requiretls 1", 12) == 0) {
			env->requiretls = true;
			continue;
		}
		/* Optional, before the recipients: "hold 1" (held at 250). */
		if (env->nrcpts == 0 && !env->held && len == 6 &&
		    memcmp(line, "hold 1", 6) == 0) {
			env->held = true;
			continue;
		}
		if (env->nrcpts == SPOOL_RCPTS_MAX)
			return why_set(why, WHY_PERM, 0, "too many recipients");
		if (want_off != NULL && env->nrcpts == want_idx)
			*want_off = (off_t)(line - p) + STATE_POS;
		/* rcpt STATE ADDR ORCPT [NOTIFY DSN-ORCPT] */
		if (!keyword(&line, &len, "rcpt") ||
		    (!spool_split(line, len, 3, f, fl) &&
		        !spool_split(line, len, 5, f, fl)) ||
		    fl[0] != 1 || !spool_is_state(f[0][0]))
			goto bad;
		if (env->nrcpts == cap) {
			cap = cap ? cap * 2 : 4;
			env->rcpts =
			    xrealloc(env->rcpts, cap * sizeof(*env->rcpts));
			if (env->dsn != NULL) {
				env->dsn =
				    xrealloc(env->dsn, cap * sizeof(*env->dsn));
				memset(env->dsn + cap / 2, 0,
				    (cap - cap / 2) * sizeof(*env->dsn));
			}
		}
		memset(&env->rcpts[env->nrcpts], 0, sizeof(*env->rcpts));
		env->rcpts[env->nrcpts].state = (enum spool_rcpt_state)f[0][0];
		if ((s = spool_dec(f[1], fl[1], SPOOL_FIELD_MAX)) == NULL)
			goto bad;
		env->rcpts[env->nrcpts++].addr = s;
		if ((s = spool_dec(f[2], fl[2], SPOOL_FIELD_MAX)) == NULL)
			goto bad;
		env->rcpts[env->nrcpts - 1].orcpt = s;
		if (spool_split(line, len, 5, f, fl)) {
			if (!spool_parse_num(f[3], fl[3], 15, &v) ||
			    (s = spool_dec(f[4], fl[4], SPOOL_FIELD_MAX)) == NULL)
				goto bad;
			if (env->dsn == NULL)
				env->dsn = xcalloc(cap, sizeof(*env->dsn));
			env->dsn[env->nrcpts - 1].notify = (unsigned)v;
			env->dsn[env->nrcpts - 1].orcpt = s;
		}
	}
	if (pos != n)
		return why_set(why, WHY_PERM, 0, "data after the envelope end");
	if (env->nrcpts == 0)
		return why_set(why, WHY_PERM, 0, "no recipients");
	env->body_offset = (off_t)n;
	return 0;
bad:
	/* Say which line, counted from 1, so a person can look at it. */
	len = 1;
	for (cap = 0; cap < pos && cap < n; cap++)
		if (p[cap] == '\n')
			len++;
	return why_set(why, WHY_PERM, 0, "malformed envelope near line %zu",
	    len > 1 ? len - 1 : len);
}

void
spool_env_free(struct spool_env *env)
{
	size_t i;

	if (env == NULL)
		return;
	for (i = 0; i < env->nrcpts; i++) {
		free(env->rcpts[i].addr);
		free(env->rcpts[i].orcpt);
		free(env->rcpts[i].last_error);
		if (env->dsn != NULL)
			free(env->dsn[i].orcpt);
	}
	free(env->rcpts);
	free(env->sender);
	free(env->helo);
	free(env->client_addr);
	free(env->client_name);
	free(env->envid);
	free(env->dsn);
	free(env->prefix);
	memset(env, 0, sizeof(*env));
}

int
spool_env_build(struct buf *b, const struct spool_env *env, struct why *why)
{
	char first[FIRST_LINE_LEN + 1];
	const char *strs[4] = { env->sender, env->helo, env->client_addr,
		env->client_name };
	size_t i;
	int n;
	char st;

	for (i = 0; i < 4; i++)
		if (strs[i] != NULL && strlen(strs[i]) > SPOOL_FIELD_MAX)
			return why_set(why, WHY_PERM, 0,
			    "envelope field too long");
	if (env->nrcpts == 0 || env->nrcpts > SPOOL_RCPTS_MAX)
		return why_set(why, WHY_PERM, 0, "bad recipient count %zu",
		    env->nrcpts);
	if (buf_append(b, "TERN1 0000000000\n", FIRST_LINE_LEN) == -1 ||
	    buf_printf(b, "id %s\narrival %lld\nsender ", env->id,
	        (long long)env->arrival) == -1 ||
	    spool_enc(b, env->sender) == -1 || buf_append_str(b, "\nhelo ") == -1 ||
	    spool_enc(b, env->helo) == -1 || buf_append_str(b, "\nclient ") == -1 ||
	    spool_enc(b, env->client_addr) == -1 || buf_append(b, " ", 1) == -1 ||
	    spool_enc(b, env->client_name) == -1 ||
	    buf_printf(b, "\nflags %d%d\n", env->smtputf8 ? 1 : 0,
	        env->eightbit ? 1 : 0) == -1)
		goto big;
	if (env->envid != NULL && strlen(env->envid) > SPOOL_FIELD_MAX)
		return why_set(why, WHY_PERM, 0, "envelope field too long");
	/* Written only when given: older envelopes stay byte-identical. */
	if ((env->dsn_ret != SMTP_RET_NONE ||
	        (env->envid != NULL && env->envid[0] != '\0')) &&
	    (buf_printf(b, "dsn %c ",
	         env->dsn_ret == SMTP_RET_FULL   ? 'F'
	         : env->dsn_ret == SMTP_RET_HDRS ? 'H'
	                                         : '-') == -1 ||
	        spool_enc(b, env->envid) == -1 || buf_append(b, "\n", 1) == -1))
		goto big;
	/*
	 * Held from the start (a user's hourly limit): in the envelope, so
	 * the hold is as durable as the 250 that promised it. A later
	 * `tern queue release` overrides it with a "hold 0" note.
	 */
	if (env->held && buf_append_str(b, "hold 1\n") == -1)
		goto big;
	/* Written only when set: older envelopes stay byte-identical. */
	if (env->requiretls && buf_append_str(b, "requiretls 1\n") == -1)
		goto big;
	/* Room for the prefix length, filled in by spool_msg_set_prefix. */
	if (env->prefix_slot &&
	    buf_printf(b, "prefix %0*u 0\n", PREFIX_DIGITS, 0u) == -1)
		goto big;
	for (i = 0; i < env->nrcpts; i++) {
		const struct spool_rcpt *r = &env->rcpts[i];
		const struct spool_dsn *d = env->dsn ? &env->dsn[i] : NULL;

		if (r->addr == NULL || r->addr[0] == '\0' ||
		    strlen(r->addr) > SPOOL_FIELD_MAX ||
		    (r->orcpt != NULL && strlen(r->orcpt) > SPOOL_FIELD_MAX) ||
		    (d != NULL && ((d->orcpt != NULL &&
		                       strlen(d->orcpt) > SPOOL_FIELD_MAX) ||
		                      d->notify > 15)))
			return why_set(why, WHY_PERM, 0,
			    "bad recipient address %zu", i);
		st = spool_is_state((uint8_t)r->state) ? (char)r->state
		                                 : SPOOL_RCPT_PENDING;
		if (buf_printf(b, "rcpt %c ", st) == -1 ||
		    spool_enc(b, r->addr) == -1 || buf_append(b, " ", 1) == -1 ||
		    spool_enc(b, r->orcpt) == -1)
			goto big;
		if (d != NULL &&
		    (d->notify != 0 || (d->orcpt != NULL && d->orcpt[0])) &&
		    (buf_printf(b, " %u ", d->notify) == -1 ||
		        spool_enc(b, d->orcpt) == -1))
			goto big;
		if (buf_append(b, "\n", 1) == -1)
			goto big;
	}
	if (buf_append(b, "end\n", 4) == -1)
		goto big;
	n = snprintf(first, sizeof(first), "TERN1 %010zu\n", b->len);
	if (n != FIRST_LINE_LEN)
		return why_set(why, WHY_PERM, 0, "envelope too large");
	memcpy(b->data, first, FIRST_LINE_LEN);
	return 0;
big:
	return buf_why(why, "envelope too large");
}

/* Where the prefix length digits are in a built envelope. */
off_t
spool_prefix_slot_at(const struct buf *b)
{
	const char *p = memmem(b->data, b->len, "\n" PREFIX_LINE,
	    sizeof(PREFIX_LINE));

	return p != NULL ? (off_t)(p - (const char *)b->data) +
	                       (off_t)sizeof(PREFIX_LINE)
	                 : 0;
}

