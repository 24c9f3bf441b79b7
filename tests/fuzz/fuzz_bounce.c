/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for queue/bounce.c: bounce_build() makes a DSN out of
 * hostile material, the original message (anyone on the Internet), the
 * remote server's reply code, enhanced code, text and host name (any
 * server we deliver to), ORCPT and ENVID (the client's xtext) and the
 * reasons (which quote the server). The envelope is built by hand, the
 * original lives in a temporary file (tmpfs when there is one).
 *
 * Input: seven control bytes, 21 strings each ended by NUL, the original.
 *   byte 0: bits 0-1 kind (FAILED, DELAYED, DELIVERED, RELAYED); bits 2-3
 *           RET (0 none, 1 FULL, 2 HDRS, 3 none); bits 4-5 recipients - 1;
 *           bit 6 the envelope has DSN data (ORCPT); bit 7 ENVID given.
 *   byte 1: bits 0-3 which recipients have a server reply (code != 0);
 *           bits 4-6 body_size: 0-3 the message's length, 4
 *           BOUNCE_FULL_MAX, 5 BOUNCE_FULL_MAX + 1, 6 2 * BOUNCE_MAX (the
 *           file is extended with sparse zeros), 7 one byte more than the
 *           file holds (reading fails); bit 7 raw: the message is stored
 *           as given, not with bare CR and LF made CRLF as the spool
 *           guarantees (smtp/data.h, pickup.c).
 *   byte 2: bit 0 recipients in reverse envelope order; bit 1 the message
 *           starts after an envelope-like prefix (body_offset > 0); bit 2
 *           a 64 KiB header line comes first, 65536 - (bits 3-6) bytes
 *           long, so that the header's end can straddle a read chunk;
 *           bit 7 the message came with SMTPUTF8 (RFC 6533 forms).
 *   bytes 3-6: reply code of recipient 0-3: (2 + b % 4) * 100 + b / 4 % 60.
 *   strings: for each of 4 recipients reason, esc, text, mta, orcpt; then
 *           ENVID. Missing ones are empty; an empty one is NULL for an
 *           odd recipient (and for the last recipient's reason).
 *   the rest: the original message.
 * The MIME boundary is shaped like bounce_enqueue()'s and never occurs in
 * the input (bounce_enqueue() relies on 64 random bits for that).
 *
 * Checks (abort), from bounce.h and RFC 5322, 2046, 3464, 6522: the
 * result is 0, or -1 with WHY_TEMP exactly when the file is short; the
 * DSN fits BOUNCE_MAX; outside the returned original: no NUL, every line
 * ends in CRLF (inside too, unless raw), none is longer than 998 octets;
 * the boundary occurs only in the Content-Type parameter and as the four
 * delimiter lines; the DSN's own header is exactly its nine fields, each
 * part's header exactly its fields; the notification has one block per
 * recipient, every line at most 78 characters (RFC 5322 2.1.1, issue 15),
 * the address whole when its pieces are joined, the reason's words all
 * there, in order, before the advice; the delivery-status part has
 * the per-message fields and one group per recipient, in order, with
 * exactly the fields due (Original-Recipient iff ORCPT, Remote-MTA iff a
 * host name, Diagnostic-Code iff a code), Final-Recipient "rfc822; "
 * the address, or with SMTPUTF8 "utf-8; " for a non-ASCII one (RFC 6533
 * 3), Action of the kind, Status
 * "X.Y.Z" equal to bounce_status() with class 5 for a failure, 2.0.0 for
 * a success, 4 or 5 for a delay (bounce.h: the server's class passes);
 * every field folded exactly where bounce.c's rule says (check_folds():
 * only when over 78 characters, at the last space within them, never
 * into a blank line) and, unfolded,
 * every quoted string (ENVID, ORCPT, host, text) is the source
 * with controls made spaces and capped (100, 600, 255, 400 bytes)
 * before any UTF-8 character the cap would cut,
 * but with SMTPUTF8 a utf-8 ORCPT that is utf-8-addr-xtext or -unitext
 * of a Mailbox (RFC 6533 3, checked here by the ABNF) is that Mailbox;
 * the report is message/global-delivery-status with SMTPUTF8, the
 * original message/global or message/global-headers (RFC 6533 4);
 * the original part is the message (headers only for RET=HDRS, a success
 * or a message over BOUNCE_FULL_MAX: up to the CRLF ending the last
 * field), byte for byte, then the closing delimiter.
 * A header-only copy stops at BOUNCE_FULL_MAX, after the last whole line
 * below it (a message without an empty line is all header); this harness
 * found bounce_build() failing there with "bounce too large" instead.
 * Trust: test code; ASan, UBSan and LSan do the rest.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "queue/bounce.h"
#include "smtp/addr.h"
#include "smtp/params.h"
#include "util/utf8.h"

#include "../unit/testutil.h"

#define FZ_CTL 7        /* control bytes */
#define FZ_FIELDS 21    /* strings: 5 per recipient, then ENVID */
#define FZ_RCPTS 4      /* recipients in the envelope */
#define FZ_LINE_MAX 998 /* RFC 5322 2.1.1, without CRLF */
#define FZ_WIDTH 78     /* characters, RFC 5322 2.1.1: bounce.c keeps to it */
#define FZ_INDENT "    "
#define FZ_FIELD_MAX 4096 /* an unfolded delivery-status field */
#define FZ_FOLDS_MAX 256  /* physical lines of one field */
#define FZ_CHUNK 65536  /* bounce.c's READ_CHUNK */
#define FZ_HOST "mx.x.test"
#define FZ_ID "0601a2b3c4d5e6001a3f"
#define FZ_PREFIX "TERN1 id " FZ_ID "\nsender a@x.test\nend\n"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

static int msg_fd = -1;
static char long_addr[256];

/* The recipients: validated at RCPT, so not fuzzed; one long, one UTF-8. */
static const char *addrs[FZ_RCPTS] = { "bad@y.test",
	"First.Last+tag@sub.example.org", long_addr,
	"j\xc3\xb6rg@b\xc3\xbc"
	"cher.test" };

static const char *actions[] = { "failed", "delayed", "delivered", "relayed" };

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[TESTUTIL_DIR_MAX], path[TESTUTIL_DIR_MAX + 8];
	int n;

	(void)argc;
	(void)argv;
	/* 64 + 1 + 63 + 1 + 63 + 1 + 50 + 5 = 248 octets (RFC 5321 4.5.3.1). */
	memset(long_addr, 'l', 64);
	long_addr[64] = '@';
	memset(long_addr + 65, 'd', 63);
	long_addr[128] = '.';
	memset(long_addr + 129, 'e', 63);
	long_addr[192] = '.';
	memset(long_addr + 193, 'f', 50);
	memcpy(long_addr + 243, ".test", 6);
	/* One file for all inputs; unlinked at once, so nothing is left. */
	if (testutil_mkdtemp(dir, sizeof(dir),
	        access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
	        "fuzz-bounce") == -1)
		abort();
	n = snprintf(path, sizeof(path), "%s/msg", dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		abort();
	msg_fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (msg_fd == -1)
		abort();
	(void)unlink(path);
	(void)rmdir(dir);
	return 0;
}

/* Bare CR and bare LF become CRLF, as the spool holds a message. */
static size_t
crlf(const uint8_t *p, size_t n, uint8_t *out)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '\r' || p[i] == '\n') {
			out[k++] = '\r';
			out[k++] = '\n';
			if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n')
				i++;
			continue;
		}
		out[k++] = p[i];
	}
	return k;
}

static void
write_all(const void *p, size_t n, off_t off)
{
	ssize_t w;

	while (n > 0) {
		if ((w = pwrite(msg_fd, p, n, off)) <= 0)
			abort(); /* the harness's own trouble */
		p = (const uint8_t *)p + w;
		n -= (size_t)w;
		off += w;
	}
}

/* One line of the DSN; a field unfolded (next_field()). */
struct cur {
	const uint8_t *p;
	size_t pos, end;
	uint8_t field[FZ_FIELD_MAX];
	size_t starts[FZ_FOLDS_MAX]; /* each physical line's, in field */
	size_t nlines;
};

/* The next line without its CRLF into *l, *ll; there must be one. */
static void
next_line(struct cur *c, const uint8_t **l, size_t *ll)
{
	const uint8_t *nl;

	if (c->pos >= c->end)
		abort();
	nl = memchr(c->p + c->pos, '\n', c->end - c->pos);
	if (nl == NULL || nl == c->p + c->pos || nl[-1] != '\r')
		abort();
	*l = c->p + c->pos;
	*ll = (size_t)(nl - *l) - 1;
	c->pos = (size_t)(nl - c->p) + 1;
}

static void
expect_line(struct cur *c, const char *s)
{
	const uint8_t *l;
	size_t ll;

	next_line(c, &l, &ll);
	if (ll != strlen(s) || memcmp(l, s, ll) != 0)
		abort();
}

/* Characters (bytes that are no UTF-8 continuation byte) in p[0..n). */
static size_t
width_of(const uint8_t *p, size_t n)
{
	size_t i, w = 0;

	for (i = 0; i < n; i++)
		w += (p[i] & 0xc0) != 0x80;
	return w;
}

/*
 * May field u[0..n) be folded before u[k] (bounce.c's rule)? A space
 * after a word, past the first word of the line that starts at u[s]
 * (the first two on the field's first line: its name and the first word
 * of its value), with more than spaces after it.
 */
static bool
fold_ok(const uint8_t *u, size_t n, size_t s, size_t k)
{
	size_t min = s, words, j;

	for (words = s == 0 ? 2 : 1; words > 0; words--) {
		while (min < n && u[min] == ' ')
			min++;
		while (min < n && u[min] != ' ')
			min++;
	}
	if (k < min || k >= n || u[k] != ' ' || u[k - 1] == ' ')
		return false;
	for (j = k; j < n && u[j] == ' '; j++)
		;
	return j < n;
}

/*
 * The physical lines of the field in c->field (RFC 5322 2.2.3, bounce.c):
 * each continuation starts with a space and holds more; a fold only where
 * the rest was over FZ_WIDTH characters, at the last place it may fold
 * within FZ_WIDTH or, when there is none, at the first after it; a line
 * over FZ_WIDTH only when it has no place to fold within it.
 */
static void
check_folds(const struct cur *c, size_t n)
{
	const uint8_t *u = c->field;
	size_t j, k, st, e, want, first;

	for (j = 0; j < c->nlines; j++) {
		st = c->starts[j];
		e = j + 1 < c->nlines ? c->starts[j + 1] : n;
		if (j > 0 && !fold_ok(u, n, c->starts[j - 1], st))
			abort();
		/* want: the last place within the width, else the first. */
		for (want = 0, first = 0, k = st + 1; k < n; k++) {
			if (!fold_ok(u, n, st, k))
				continue;
			if (first == 0)
				first = k;
			if (width_of(u + st, k - st) <= FZ_WIDTH)
				want = k;
		}
		if (want == 0)
			want = first;
		if (width_of(u + st, n - st) <= FZ_WIDTH)
			want = n; /* the rest fits: no fold */
		if (e != want && !(want == 0 && e == n))
			abort();
	}
}

/*
 * The next field, with its continuation lines, unfolded into c->field
 * (each CRLF before a space taken out): v, vl; its folds checked.
 */
static void
next_field(struct cur *c, const uint8_t **v, size_t *vl)
{
	const uint8_t *l;
	size_t ll, n = 0;

	c->nlines = 0;
	do {
		next_line(c, &l, &ll);
		if (n + ll > sizeof(c->field) || c->nlines == FZ_FOLDS_MAX)
			abort();
		c->starts[c->nlines++] = n;
		memcpy(c->field + n, l, ll);
		n += ll;
	} while (c->pos < c->end && c->p[c->pos] == ' ');
	check_folds(c, n);
	*v = c->field;
	*vl = n;
}

/* The next field is `name` and more: the rest into *v, *vl. */
static void
expect_field(struct cur *c, const char *name, const uint8_t **v, size_t *vl)
{
	const uint8_t *l;
	size_t ll, k = strlen(name);

	next_field(c, &l, &ll);
	if (ll < k || memcmp(l, name, k) != 0)
		abort();
	*v = l + k;
	*vl = ll - k;
}

/* No control bytes (as any header field body or text line). */
static void
check_plain(const uint8_t *v, size_t vl)
{
	size_t i;

	for (i = 0; i < vl; i++)
		if (v[i] < 0x20 || v[i] == 0x7f)
			abort();
}

/* The next line is `name` and a non-empty, plain rest. */
static void
expect_plain_field(struct cur *c, const char *name)
{
	const uint8_t *v;
	size_t vl;

	expect_field(c, name, &v, &vl);
	if (vl == 0)
		abort();
	check_plain(v, vl);
}

/*
 * one_line(): src as put on one line into out (returns its length), and
 * check_folded(): v is that. Each control byte made a space, at most
 * max bytes (bounce.h: "folded into single lines, control bytes removed,
 * and length-capped"), and a well-formed UTF-8 character that the cap
 * would cut is left out whole. `ascii` (message/delivery-status, RFC
 * 3464 2.1.1): each byte above 0x7f is '?' instead, and the cap is
 * exact. NULL and "" give nothing.
 */
static size_t
one_line(const char *src, size_t max, bool ascii, uint8_t *out)
{
	size_t i, k, n = src != NULL ? strnlen(src, max) : 0;
	uint8_t c;

	/* At most one character can straddle the cap: it starts at n - k. */
	for (k = 1; !ascii && n == max && k <= 3 && k <= n; k++)
		if (utf8_decode((const uint8_t *)src + n - k,
		        strnlen(src + n - k, 4), NULL) > k) {
			n -= k;
			break;
		}
	for (i = 0; i < n; i++) {
		c = (uint8_t)src[i];
		out[i] = c < 0x20 || c == 0x7f ? ' '
		         : ascii && c >= 0x80  ? '?'
		                               : c;
	}
	return n;
}

static void
check_folded(const uint8_t *v, size_t vl, const char *src, size_t max,
    bool ascii)
{
	uint8_t want[1024];

	if (max > sizeof(want) || one_line(src, max, ascii, want) != vl ||
	    memcmp(v, want, vl) != 0)
		abort();
}

/* Is p[0..n) an enhanced status code "C.S.D" (RFC 3463 2)? */
static bool
esc_ok(const char *p, size_t n)
{
	size_t i = 2, part, k;

	if (n < 5 || (p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
		return false;
	for (part = 0; part < 2; part++) {
		for (k = 0; i < n && p[i] >= '0' && p[i] <= '9'; i++)
			k++;
		if (k == 0 || k > 3)
			return false;
		if (part == 0 && (i == n || p[i++] != '.'))
			return false;
	}
	return i == n;
}

/* What the harness knows about one input. */
struct fz {
	const struct bounce_info *bi;
	const char *boundary;
	const uint8_t *msg; /* the message bytes, zeros after mlen */
	size_t mlen;
	size_t copy; /* bytes of it the DSN must return */
	bool hdrs;   /* headers only */
	bool raw;    /* the message may hold bare CR or LF */
	bool global; /* SMTPUTF8: the RFC 6533 forms */
};

/* Outside the original: no NUL, only CRLF line ends, <= 998 octets. */
static void
check_lines(const uint8_t *p, size_t from, size_t to, bool nul_ok, bool len_ok)
{
	size_t i, col = 0;

	for (i = from; i < to; i++) {
		if (p[i] == '\0' && !nul_ok)
			abort();
		if (p[i] == '\r') {
			if (i + 1 >= to || p[i + 1] != '\n')
				abort();
			i++;
			col = 0;
			continue;
		}
		if (p[i] == '\n')
			abort();
		if (++col > FZ_LINE_MAX && !len_ok)
			abort();
	}
	if (col != 0) /* the last line has its CRLF */
		abort();
}

/* A line of the notification: no controls, at most FZ_WIDTH characters. */
static void
check_text_line(const uint8_t *l, size_t ll)
{
	check_plain(l, ll);
	if (width_of(l, ll) > FZ_WIDTH)
		abort();
}

/* Keep the bytes of p[0..n) that are no space (the words, run together). */
static size_t
squeeze(const uint8_t *p, size_t n, uint8_t *out)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (p[i] != ' ')
			out[k++] = p[i];
	return k;
}

/*
 * The part a person reads (issue 15): every line at most FZ_WIDTH
 * characters. Per recipient "<addr>:" (cut in pieces when longer, none
 * lost), then indented lines: the reason's words, nothing lost, then the
 * advice; a recipient's lines never start or end with a space after the
 * indent.
 */
static void
check_notification(struct cur *c, const struct fz *f, const char *delim)
{
	const struct bounce_info *bi = f->bi;
	const struct bounce_rcpt *br;
	const uint8_t *l;
	uint8_t words[4096], want[1024], addr[300];
	size_t ll, i, nw, nwant, na, alen;

	expect_line(c, "Content-Description: Notification");
	expect_line(c, "Content-Type: text/plain; charset=utf-8");
	expect_line(c, "Content-Transfer-Encoding: 8bit");
	expect_line(c, "");
	expect_line(c, "This is the mail system at " FZ_HOST ".");
	expect_line(c, "");
	/* The kind's own words: fixed, plain, at least a line. */
	next_line(c, &l, &ll);
	do {
		if (ll == 0 || l[0] == '<' || l[0] == '-' || l[0] == ' ')
			abort();
		check_text_line(l, ll);
		next_line(c, &l, &ll);
	} while (ll != 0);
	for (i = 0; i < bi->nrcpts; i++) {
		br = &bi->rcpts[i];
		alen = strlen(addrs[br->idx]) + 3;
		for (na = 0; na < alen; na += ll) {
			next_line(c, &l, &ll);
			check_text_line(l, ll);
			if (ll == 0 || l[0] == ' ' || na + ll > alen)
				abort();
			memcpy(addr + na, l, ll);
		}
		if (addr[0] != '<' || memcmp(addr + 1, addrs[br->idx],
		                          alen - 3) != 0 ||
		    memcmp(addr + alen - 2, ">:", 2) != 0)
			abort();
		for (nw = 0;;) {
			next_line(c, &l, &ll);
			if (ll == 0)
				break;
			check_text_line(l, ll);
			if (ll <= 4 || memcmp(l, FZ_INDENT, 4) != 0 ||
			    l[4] == ' ' || l[ll - 1] == ' ' ||
			    nw + ll > sizeof(words))
				abort();
			nw += squeeze(l, ll, words + nw);
		}
		/* The reason's words first, then some advice. */
		nwant = one_line(br->reason, 400, false, want);
		nwant = squeeze(want, nwant, want);
		if (nw <= nwant || memcmp(words, want, nwant) != 0)
			abort();
	}
	expect_line(c, delim);
}

static void
check_status(const uint8_t *v, size_t vl, const struct bounce_rcpt *br,
    enum bounce_kind kind)
{
	char st[16];

	if (!esc_ok((const char *)v, vl))
		abort();
	bounce_status(br, kind, st, sizeof(st));
	if (vl != strlen(st) || memcmp(v, st, vl) != 0)
		abort();
	switch (kind) {
	case BOUNCE_FAILED:
		if (v[0] != '5')
			abort();
		break;
	case BOUNCE_DELAYED: /* bounce.h: class 5 only for a failure */
		if (v[0] != '4' && v[0] != '5')
			abort();
		break;
	case BOUNCE_DELIVERED:
	case BOUNCE_RELAYED:
		if (vl != 5 || memcmp(v, "2.0.0", 5) != 0)
			abort();
		break;
	default:
		abort();
	}
}

/* "smtp; CODE[ ESC] TEXT": the esc only when it is one. */
static void
check_diag(const uint8_t *v, size_t vl, const struct bounce_rcpt *br,
    bool ascii)
{
	char want[64];
	bool esc = br->esc != NULL && esc_ok(br->esc, strlen(br->esc));
	int k;

	k = snprintf(want, sizeof(want), "smtp; %u%s%s ", br->code,
	    esc ? " " : "", esc ? br->esc : "");
	if (k < 0 || (size_t)k >= sizeof(want))
		abort();
	if (vl < (size_t)k || memcmp(v, want, (size_t)k) != 0)
		abort();
	check_folded(v + k, vl - (size_t)k, br->text, 400, ascii);
}

/* Is c one of the characters of set (c not NUL)? */
static bool
in_set(char c, const char *set)
{
	return c != '\0' && strchr(set, c) != NULL;
}

/*
 * RFC 6533 3, HEXPOINT, digit by digit as the ABNF has it (HEXDIG in
 * any case, RFC 5234 2.3).
 */
static bool
hexpoint_ok(const char *h, size_t n)
{
	static const char hex[] = "0123456789ABCDEFabcdef";
	char up[8];
	size_t i;

	if (n < 2 || n > 6)
		return false;
	for (i = 0; i < n; i++) {
		if (!in_set(h[i], hex))
			return false;
		up[i] = (char)(h[i] >= 'a' ? h[i] - 'a' + 'A' : h[i]);
	}
	up[n] = '\0';
	switch (n) {
	case 2:
		return ((up[0] == '0' || up[0] == '1') &&
		           in_set(up[1], "123456789")) ||
		       strcmp(up, "10") == 0 || strcmp(up, "20") == 0 ||
		       strcmp(up, "2B") == 0 || strcmp(up, "3D") == 0 ||
		       strcmp(up, "7F") == 0 || strcmp(up, "5C") == 0 ||
		       in_set(up[0], "89ABCDEF");
	case 3:
	case 5:
		return up[0] != '0';
	case 4:
		return in_set(up[0], "123456789ABCEF") ||
		       (up[0] == 'D' && in_set(up[1], "01234567"));
	default:
		return up[0] == '1' && up[1] == '0';
	}
}

/*
 * The utf-8-address that utf-8-addr-xtext / utf-8-addr-unitext s stands
 * for (RFC 6533 3), into out; false if s is neither or the result is no
 * Mailbox (RFC 6531).
 */
static bool
utf8_addr(const char *s, char *out, size_t outsz)
{
	struct smtp_addr a;
	const char *why, *close;
	unsigned long v;
	size_t i = 0, k = 0, n = strlen(s), len;
	uint32_t cp;

	while (i < n) {
		if (k + 5 > outsz)
			return false;
		if (s[i] == '\\') {
			if (s[i + 1] != 'x' || s[i + 2] != '{' ||
			    (close = strchr(s + i + 3, '}')) == NULL ||
			    !hexpoint_ok(s + i + 3,
			        (size_t)(close - s) - i - 3))
				return false;
			v = strtoul(s + i + 3, NULL, 16);
			if (v < 0x80) {
				out[k++] = (char)v;
			} else if (v < 0x800) {
				out[k++] = (char)(0xc0 | (v >> 6));
				out[k++] = (char)(0x80 | (v & 0x3f));
			} else if (v < 0x10000) {
				out[k++] = (char)(0xe0 | (v >> 12));
				out[k++] = (char)(0x80 | ((v >> 6) & 0x3f));
				out[k++] = (char)(0x80 | (v & 0x3f));
			} else {
				out[k++] = (char)(0xf0 | (v >> 18));
				out[k++] = (char)(0x80 | ((v >> 12) & 0x3f));
				out[k++] = (char)(0x80 | ((v >> 6) & 0x3f));
				out[k++] = (char)(0x80 | (v & 0x3f));
			}
			i = (size_t)(close - s) + 1;
		} else if ((uint8_t)s[i] >= 0x80) { /* UTF8-2 / -3 / -4 */
			len = utf8_decode((const uint8_t *)s + i, n - i, &cp);
			if (len == 0)
				return false;
			memcpy(out + k, s + i, len);
			k += len;
			i += len;
		} else if ((uint8_t)s[i] > 0x20 && (uint8_t)s[i] < 0x7f &&
		           s[i] != '+' && s[i] != '=') { /* QCHAR */
			out[k++] = s[i++];
		} else
			return false;
	}
	out[k] = '\0';
	return k > 0 && smtp_mailbox_parse(out, k, SMTP_ADDR_UTF8, &a, &why);
}

/* Original-Recipient's value v for ORCPT orcpt. */
static void
check_orcpt(const uint8_t *v, size_t vl, const char *orcpt, bool global)
{
	char dec[1100];

	if (global && strncasecmp(orcpt, "utf-8;", 6) == 0 &&
	    utf8_addr(orcpt + 6, dec, sizeof(dec))) {
		if (vl != 6 + strlen(dec) || memcmp(v, orcpt, 6) != 0 ||
		    memcmp(v + 6, dec, vl - 6) != 0)
			abort();
		return;
	}
	check_folded(v, vl, orcpt, 600, !global);
}

static void
check_report(struct cur *c, const struct fz *f, const char *delim)
{
	const struct bounce_info *bi = f->bi;
	const struct spool_env *env = bi->env;
	const struct bounce_rcpt *br;
	const char *orcpt, *addr;
	const uint8_t *v;
	size_t vl, i, j;
	bool ascii;

	expect_line(c, "Content-Description: Delivery report");
	expect_line(c, f->global
	                   ? "Content-Type: message/global-delivery-status"
	                   : "Content-Type: message/delivery-status");
	expect_line(c, "");
	/* RFC 3464 2.2: the per-message fields. */
	expect_line(c, "Reporting-MTA: dns; " FZ_HOST);
	if (env->envid != NULL && env->envid[0] != '\0') {
		expect_field(c, "Original-Envelope-Id: ", &v, &vl);
		check_folded(v, vl, env->envid, 100, !f->global);
	}
	expect_plain_field(c, "Arrival-Date: ");
	/* One group per recipient, in order, each after an empty line. */
	for (i = 0; i < bi->nrcpts; i++) {
		br = &bi->rcpts[i];
		expect_line(c, "");
		orcpt = env->dsn != NULL ? env->dsn[br->idx].orcpt : NULL;
		if (orcpt != NULL && orcpt[0] != '\0') {
			expect_field(c, "Original-Recipient: ", &v, &vl);
			check_orcpt(v, vl, orcpt, f->global);
		}
		addr = addrs[br->idx];
		for (ascii = true, j = 0; addr[j] != '\0'; j++)
			if ((uint8_t)addr[j] >= 0x80)
				ascii = false;
		/* RFC 6533 3: utf-8 only for a non-ASCII address. */
		expect_field(c,
		    f->global && !ascii ? "Final-Recipient: utf-8; "
		                        : "Final-Recipient: rfc822; ",
		    &v, &vl);
		if (vl != strlen(addr) || memcmp(v, addr, vl) != 0)
			abort();
		expect_field(c, "Action: ", &v, &vl);
		if (vl != strlen(actions[bi->kind]) ||
		    memcmp(v, actions[bi->kind], vl) != 0)
			abort();
		expect_field(c, "Status: ", &v, &vl);
		check_status(v, vl, br, bi->kind);
		if (br->mta != NULL && br->mta[0] != '\0') {
			expect_field(c, "Remote-MTA: dns; ", &v, &vl);
			check_folded(v, vl, br->mta, 255, !f->global);
		}
		if (br->code != 0) {
			expect_field(c, "Diagnostic-Code: ", &v, &vl);
			check_diag(v, vl, br, !f->global);
		}
		expect_plain_field(c, "Last-Attempt-Date: ");
	}
	/* Nothing else: no field a remote text could have smuggled in. */
	expect_line(c, "");
	expect_line(c, delim);
}

static void
check_dsn(const struct buf *b, const struct fz *f)
{
	char delim[128], tail[128], param[128];
	const uint8_t *v, *o, *hit;
	struct cur c = { .p = b->data, .pos = 0, .end = b->len };
	size_t vl, taillen, ostart, oend, hits, i, add;
	int k;

	if (b->len > BOUNCE_MAX || b->data == NULL)
		abort();
	k = snprintf(delim, sizeof(delim), "--%s", f->boundary);
	if (k < 0 || (size_t)k >= sizeof(delim))
		abort();
	k = snprintf(tail, sizeof(tail), "\r\n--%s--\r\n", f->boundary);
	if (k < 0 || (size_t)k >= sizeof(tail))
		abort();
	taillen = (size_t)k;
	k = snprintf(param, sizeof(param), "\tboundary=\"%s\"", f->boundary);
	if (k < 0 || (size_t)k >= sizeof(param))
		abort();
	/* The DSN's own header: these nine lines, nothing else. */
	expect_line(&c,
	    "From: Mail Delivery System <MAILER-DAEMON@" FZ_HOST ">");
	expect_line(&c, "To: <a@x.test>");
	expect_field(&c, "Subject: ", &v, &vl);
	check_plain(v, vl);
	expect_field(&c, "Date: ", &v, &vl);
	check_plain(v, vl);
	expect_field(&c, "Message-ID: <" FZ_ID ".", &v, &vl);
	check_plain(v, vl);
	expect_line(&c, "Auto-Submitted: auto-replied");
	expect_line(&c, "MIME-Version: 1.0");
	expect_line(&c,
	    "Content-Type: multipart/report; report-type=delivery-status;");
	expect_line(&c, param);
	expect_line(&c, "");
	expect_line(&c, "This is a MIME-encapsulated message.");
	expect_line(&c, "");
	expect_line(&c, delim);
	check_notification(&c, f, delim);
	check_report(&c, f, delim);
	expect_line(&c, f->hdrs ? "Content-Description: Headers of the "
	                          "original message"
	                        : "Content-Description: The original message");
	if (f->global)
		expect_line(&c, f->hdrs ? "Content-Type: message/global-headers"
		                        : "Content-Type: message/global");
	else
		expect_line(&c, f->hdrs ? "Content-Type: text/rfc822-headers"
		                        : "Content-Type: message/rfc822");
	expect_line(&c, "");
	/* The original, then the closing delimiter, then nothing. */
	ostart = c.pos;
	if (b->len < ostart + taillen ||
	    memcmp(b->data + b->len - taillen, tail, taillen) != 0)
		abort();
	oend = b->len - taillen;
	o = b->data + ostart;
	add =
	    f->copy > 0 && (f->copy > f->mlen ? 0 : f->msg[f->copy - 1]) != '\n'
	        ? 2
	        : 0;
	if (oend - ostart != f->copy + add)
		abort();
	if (memcmp(o, f->msg, f->copy < f->mlen ? f->copy : f->mlen) != 0)
		abort();
	for (i = f->mlen; i < f->copy; i++) /* the sparse part */
		if (o[i] != '\0')
			abort();
	if (add != 0 && memcmp(o + f->copy, "\r\n", 2) != 0)
		abort();
	/* Line discipline: strict outside the original, CRLF inside. */
	check_lines(b->data, 0, ostart, false, false);
	if (!f->raw)
		check_lines(b->data, ostart, oend, true, true);
	check_lines(b->data, oend, b->len, false, false);
	/* The boundary: the parameter and the four delimiters only. */
	for (hits = 0, i = 0; i < b->len; i = (size_t)(hit - b->data) + 1) {
		hit = memmem(b->data + i, b->len - i, f->boundary,
		    strlen(f->boundary));
		if (hit == NULL)
			break;
		hits++;
	}
	if (hits != 5)
		abort();
}

/* Just past the last LF of m[0..n), or 0. */
static size_t
after_last_lf(const uint8_t *m, size_t n)
{
	while (n > 0 && m[n - 1] != '\n')
		n--;
	return n;
}

/* The first CRLF CRLF of m[0..n) (zeros after mlen hold none). */
static bool
header_end(const uint8_t *m, size_t n, size_t *at)
{
	const uint8_t *e = memmem(m, n, "\r\n\r\n", 4);

	if (e == NULL)
		return false;
	*at = (size_t)(e - m);
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	struct spool_rcpt rc[FZ_RCPTS];
	struct spool_dsn dsn[FZ_RCPTS];
	struct bounce_rcpt br[FZ_RCPTS];
	struct spool_env env;
	struct bounce_info bi;
	struct fz f;
	struct buf out;
	struct why why;
	const char *s[FZ_FIELDS];
	char boundary[96];
	uint8_t *strs, *msg;
	const uint8_t *orig = NULL, *nul;
	size_t olen = 0, mlen = 0, pad = 0, i, nr, pos, at = 0;
	uint64_t size, fsize, salt;
	off_t off;
	bool found, short_file, cut;
	unsigned sizemode;
	int rc_build, k;

	if (n < FZ_CTL)
		return 0;
	/* The strings: copies, so that each ends in NUL. */
	if ((strs = malloc(n + FZ_FIELDS)) == NULL)
		abort();
	memcpy(strs, p, n);
	memset(strs + n, 0, FZ_FIELDS);
	for (i = 0, pos = FZ_CTL; i < FZ_FIELDS; i++) {
		s[i] = pos < n ? (const char *)strs + pos : "";
		nul = pos < n ? memchr(p + pos, '\0', n - pos) : NULL;
		pos = nul != NULL ? (size_t)(nul - p) + 1 : n;
	}
	if (pos < n) {
		orig = p + pos;
		olen = n - pos;
	}
	/* The message as stored: a long first line or not, then CRLF'd. */
	if (p[2] & 0x04)
		pad = FZ_CHUNK - (size_t)((p[2] >> 3) & 15);
	if ((msg = malloc(pad + 2 * olen + 1)) == NULL)
		abort();
	if (pad > 0) {
		memcpy(msg, "X-Pad: ", 7);
		memset(msg + 7, 'x', pad - 9);
		memcpy(msg + pad - 2, "\r\n", 2);
	}
	mlen = pad;
	if (olen > 0 && (p[1] & 0x80)) {
		memcpy(msg + pad, orig, olen);
		mlen += olen;
	} else if (olen > 0)
		mlen += crlf(orig, olen, msg + pad);

	/* A boundary like bounce_enqueue()'s that the input does not hold. */
	for (salt = 0x5a5a5a5a5a5a5a5aull;; salt++) {
		k = snprintf(boundary, sizeof(boundary), "%s/%016llx/%s", FZ_ID,
		    (unsigned long long)salt, FZ_HOST);
		if (k < 0 || (size_t)k >= sizeof(boundary))
			abort();
		if (memmem(p, n, boundary, (size_t)k) == NULL)
			break;
	}

	memset(rc, 0, sizeof(rc));
	memset(dsn, 0, sizeof(dsn));
	memset(br, 0, sizeof(br));
	memset(&env, 0, sizeof(env));
	for (i = 0; i < FZ_RCPTS; i++) {
		rc[i].addr = (char *)addrs[i];
		rc[i].orcpt = (char *)addrs[i];
		rc[i].state = SPOOL_RCPT_FAILED;
		dsn[i].orcpt = (char *)s[5 * i + 4];
		if (s[5 * i + 4][0] == '\0' && (i & 1))
			dsn[i].orcpt = NULL;
	}
	memcpy(env.id, FZ_ID, sizeof(FZ_ID));
	env.arrival = 1700000000;
	env.sender = (char *)"a@x.test";
	env.helo = (char *)"client.x.test";
	env.client_addr = (char *)"192.0.2.1";
	env.client_name = (char *)"unknown";
	env.smtputf8 = (p[2] & 0x80) != 0;
	switch ((p[0] >> 2) & 3) {
	case 1:
		env.dsn_ret = SMTP_RET_FULL;
		break;
	case 2:
		env.dsn_ret = SMTP_RET_HDRS;
		break;
	default:
		env.dsn_ret = SMTP_RET_NONE;
		break;
	}
	env.envid = (p[0] & 0x80) ? (char *)s[20] : NULL;
	env.rcpts = rc;
	env.nrcpts = FZ_RCPTS;
	env.dsn = (p[0] & 0x40) ? dsn : NULL;
	off = (p[2] & 0x02) ? (off_t)(sizeof(FZ_PREFIX) - 1) : 0;
	sizemode = (p[1] >> 4) & 7;
	short_file = sizemode == 7;
	switch (sizemode) {
	case 4:
		size = BOUNCE_FULL_MAX;
		break;
	case 5:
		size = BOUNCE_FULL_MAX + 1;
		break;
	case 6:
		size = 2 * (uint64_t)BOUNCE_MAX;
		break;
	case 7:
		size = mlen + 1;
		break;
	default:
		size = mlen;
		break;
	}
	if (mlen > size) /* not with inputs of libFuzzer's sizes */
		mlen = size;
	fsize = short_file ? mlen : size;
	env.body_offset = off;
	env.body_size = (off_t)size;

	nr = (size_t)((p[0] >> 4) & 3) + 1;
	for (i = 0; i < nr; i++) {
		br[i].idx = (p[2] & 0x01) ? FZ_RCPTS - 1 - i : i;
		br[i].reason = s[5 * i];
		br[i].esc = s[5 * i + 1];
		br[i].text = s[5 * i + 2];
		br[i].mta = s[5 * i + 3];
		if (i & 1) {
			if (br[i].esc[0] == '\0')
				br[i].esc = NULL;
			if (br[i].text[0] == '\0')
				br[i].text = NULL;
			if (br[i].mta[0] == '\0')
				br[i].mta = NULL;
		}
		if (i == nr - 1 && br[i].reason[0] == '\0')
			br[i].reason = NULL;
		if (p[1] & (1u << i))
			br[i].code = (2u + p[3 + i] % 4u) * 100u +
			             (unsigned)(p[3 + i] / 4u % 60u);
	}

	/* The spool file: maybe an envelope first, then the message. */
	if (ftruncate(msg_fd, 0) == -1)
		abort();
	if (off > 0)
		write_all(FZ_PREFIX, (size_t)off, 0);
	if (mlen > 0)
		write_all(msg, mlen, off);
	if (ftruncate(msg_fd, off + (off_t)fsize) == -1)
		abort();

	memset(&bi, 0, sizeof(bi));
	bi.hostname = FZ_HOST;
	bi.to = "a@x.test";
	bi.boundary = boundary;
	bi.now = 1700000100;
	bi.kind = (enum bounce_kind)(p[0] & 3);
	bi.env = &env;
	bi.fd = msg_fd;
	bi.rcpts = br;
	bi.nrcpts = nr;

	memset(&f, 0, sizeof(f));
	f.bi = &bi;
	f.boundary = boundary;
	f.msg = msg;
	f.mlen = mlen;
	f.raw = (p[1] & 0x80) != 0;
	f.global = env.smtputf8;
	f.hdrs = env.dsn_ret == SMTP_RET_HDRS || bi.kind == BOUNCE_DELIVERED ||
	         bi.kind == BOUNCE_RELAYED || size > BOUNCE_FULL_MAX;
	/* The header's end counts if it is read before the cap. */
	found = f.hdrs && header_end(msg, mlen, &at) &&
	        at + 3 < BOUNCE_FULL_MAX;
	cut = f.hdrs && !found && size > BOUNCE_FULL_MAX;
	/* Headers: up to the CRLF that ends the last field; cut: up to the
	 * last line end below the cap. */
	f.copy = found ? at + 2
	         : cut ? after_last_lf(msg,
	                     mlen < BOUNCE_FULL_MAX ? mlen : BOUNCE_FULL_MAX)
	               : (size_t)size;

	memset(&why, 0, sizeof(why));
	buf_init(&out, BOUNCE_MAX);
	rc_build = bounce_build(&bi, &out, &why);
	if (short_file && !found && !cut) {
		/* bounce.h: WHY_TEMP when reading the original failed. */
		if (rc_build != -1 || why.kind != WHY_TEMP)
			abort();
	} else if (rc_build != 0) {
		abort();
	} else
		check_dsn(&out, &f);
	if (rc_build == -1 && memchr(why.text, '\0', sizeof(why.text)) == NULL)
		abort();
	buf_reset(&out);
	free(msg);
	free(strs);
	return 0;
}
