/* SPDX-License-Identifier: ISC */
/*
 * The one rule for a log value (util/log.h): a table of every class of
 * byte and code point, every cut near the limit, and the round trip
 * through the strict reader of tests/unit/logvalue.h. Then what vlog()
 * does with a line too long or with a raw control byte in it.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/log.h"

#include "logvalue.h"
#include "testutil.h"

#define BIG 4096
/* The bytes of a bare value, for strspn(). */
#define BARE                                                                   \
	"!#$%&'()*+,-./0123456789:;<>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`"        \
	"abcdefghijklmnopqrstuvwxyz{|}~"
#define ESC_UNIT_MAX 8 /* the longest escape: \\u{NNNN} */

struct esc_case {
	const char *name;
	const char *in;
	size_t n; /* 0: strlen(in) */
	const char *want;
};

#define C(name, in, want)                                                      \
	{                                                                      \
		name, in, 0, want                                              \
	}
#define CN(name, in, want)                                                     \
	{                                                                      \
		name, in, sizeof(in) - 1, want                                 \
	}

static const struct esc_case cases[] = {
	/* Bare: printable ASCII other than space, `"`, `\` and `=`. */
	C("plain", "alice@example.test", "alice@example.test"),
	C("angle", "<a@b>", "<a@b>"),
	C("dash", "-", "-"),
	C("punct", "!#$%&'()*+,-./:;<>?@[]^_`{|}~",
	    "!#$%&'()*+,-./:;<>?@[]^_`{|}~"),
	/* Quoted, and what forces the quotes. */
	C("empty", "", "\"\""),
	C("space", "a b", "\"a b\""),
	C("equals", "a=b", "\"a=b\""),
	C("dquote", "a\"b", "\"a\\\"b\""),
	C("backslash", "a\\b", "\"a\\\\b\""),
	C("crlf", "ab\r\n", "\"ab\\x0d\\x0a\""),
	CN("nul", "a\0b", "\"a\\x00b\""),
	C("tab", "\t", "\"\\x09\""),
	C("esc", "\x1b[31m", "\"\\x1b[31m\""),
	C("del", "\x7f", "\"\\x7f\""),
	C("injection", "x event=auth_failed client=203.0.113.9",
	    "\"x event=auth_failed client=203.0.113.9\""),
	C("injection-quote", "x\" client=203.0.113.9 y=\"",
	    "\"x\\\" client=203.0.113.9 y=\\\"\""),
	C("injection-backslash", "x\\\" client=1.2.3.4",
	    "\"x\\\\\\\" client=1.2.3.4\""),
	/* Well-formed UTF-8 stays readable, quoted. */
	C("utf8-2", "caf\xc3\xa9", "\"caf\xc3\xa9\""),
	C("utf8-3", "\xe2\x82\xac", "\"\xe2\x82\xac\""),
	C("utf8-4", "\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""),
	C("nbsp", "\xc2\xa0", "\"\xc2\xa0\""),           /* U+00A0, past C1 */
	C("u+2027", "\xe2\x80\xa7", "\"\xe2\x80\xa7\""), /* below U+2028 */
	C("u+202f", "\xe2\x80\xaf", "\"\xe2\x80\xaf\""), /* above U+202E */
	C("u+2065", "\xe2\x81\xa5", "\"\xe2\x81\xa5\""), /* below U+2066 */
	C("u+206a", "\xe2\x81\xaa", "\"\xe2\x81\xaa\""), /* above U+2069 */
	C("u+200d", "\xe2\x80\x8d", "\"\xe2\x80\x8d\""), /* below U+200E */
	C("u+2010", "\xe2\x80\x90", "\"\xe2\x80\x90\""), /* above U+200F */
	C("u+feff-1", "\xef\xbb\xbe", "\"\xef\xbb\xbe\""),
	/* Code points that hide or reorder text: \u{NNNN}. */
	C("c1-first", "\xc2\x80", "\"\\u{0080}\""),
	C("c1-nel",
	    "a\xc2\x85"
	    "b",
	    "\"a\\u{0085}b\""),
	C("c1-last", "\xc2\x9f", "\"\\u{009f}\""),
	C("u+061c", "\xd8\x9c", "\"\\u{061c}\""),
	C("u+200e", "\xe2\x80\x8e", "\"\\u{200e}\""),
	C("u+200f", "\xe2\x80\x8f", "\"\\u{200f}\""),
	C("u+2028",
	    "a\xe2\x80\xa8"
	    "b",
	    "\"a\\u{2028}b\""),
	C("u+2029", "\xe2\x80\xa9", "\"\\u{2029}\""),
	C("u+202a", "\xe2\x80\xaa", "\"\\u{202a}\""),
	C("u+202e",
	    "x\xe2\x80\xae"
	    "cba",
	    "\"x\\u{202e}cba\""),
	C("u+2066", "\xe2\x81\xa6", "\"\\u{2066}\""),
	C("u+2069", "\xe2\x81\xa9", "\"\\u{2069}\""),
	C("u+feff", "\xef\xbb\xbf", "\"\\u{feff}\""),
	/* Ill-formed UTF-8: each byte \xNN, the rest read afresh. */
	C("lone-cont", "\x80", "\"\\x80\""),
	C("overlong", "\xc0\xaf", "\"\\xc0\\xaf\""),
	C("overlong-3", "\xe0\x80\xaf", "\"\\xe0\\x80\\xaf\""),
	C("surrogate", "\xed\xa0\x80", "\"\\xed\\xa0\\x80\""),
	C("above-max", "\xf4\x90\x80\x80", "\"\\xf4\\x90\\x80\\x80\""),
	C("ff", "\xff", "\"\\xff\""),
	C("short-seq", "a\xe2\x80", "\"a\\xe2\\x80\""),
	C("short-then-ok",
	    "\xe2"
	    "caf\xc3\xa9",
	    "\"\\xe2caf\xc3\xa9\""),
	/* U+2028 cut short is ill-formed, not hidden: its bytes. */
	C("short-2028", "\xe2\x80", "\"\\xe2\\x80\""),
};

/* s[0..n) must be exactly one value; its decoded bytes into out. */
static void
read_whole(const char *name, const char *s, unsigned char *out, size_t outsz,
    size_t *outlen)
{
	long len = logvalue_read(s, strlen(s), out, outsz, outlen);

	if (len != (long)strlen(s))
		fail_msg("%s: [%s] is not one value (read %ld of %zu)", name, s,
		    len, strlen(s));
}

static void
test_log_esc_table(void **state)
{
	char dst[BIG];
	unsigned char back[BIG];
	size_t i, n, got;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct esc_case *c = &cases[i];

		n = c->n != 0 ? c->n : strlen(c->in);
		log_esc(dst, sizeof(dst), c->in, n);
		if (strcmp(dst, c->want) != 0)
			fail_msg("%s: got [%s], want [%s]", c->name, dst,
			    c->want);
		read_whole(c->name, dst, back, sizeof(back), &got);
		if (got != n || memcmp(back, c->in, n) != 0)
			fail_msg("%s: does not read back", c->name);
		/* Quoted only when it must be. */
		if ((dst[0] == '"') != (n == 0 || strspn(c->in, BARE) != n))
			fail_msg("%s: quoting", c->name);
	}
}

static void
test_log_esc_strings(void **state)
{
	char d[64];

	(void)state;
	assert_string_equal(log_escs(d, sizeof(d), NULL), "-");
	assert_string_equal(log_escs(d, sizeof(d), "a b"), "\"a b\"");
	assert_string_equal(log_esc_addr(d, sizeof(d), ""), "<>");
	assert_string_equal(log_esc_addr(d, sizeof(d), "a@b"), "<a@b>");
	assert_string_equal(log_esc_addr(d, sizeof(d), "\"x y\"@b"),
	    "\"<\\\"x y\\\"@b>\"");
	assert_string_equal(log_esc_addr(d, sizeof(d), NULL), "-");
	assert_string_equal(LOG_ESC("x=1"), "\"x=1\"");
	assert_string_equal(LOG_ESCN("a\nb", 3), "\"a\\x0ab\"");
	assert_string_equal(LOG_ADDR("a@b"), "<a@b>");
	/* Several in one call, each in its own buffer. */
	(void)snprintf(d, sizeof(d), "%s %s", LOG_ESC("a b"), LOG_ESC("c"));
	assert_string_equal(d, "\"a b\" c");
}

/*
 * Every size from LOG_ESC_MIN to past the whole value: the result fits,
 * is one value by the strict reader (so no half escape and no half
 * UTF-8 character), is the whole value once it fits, and is otherwise
 * a prefix of pre+in followed by "..." (and the closing `>`).
 */
static void
check_cuts(const char *name, bool addr, const unsigned char *in, size_t n)
{
	char full[BIG], dst[BIG + 8];
	unsigned char back[BIG], want[BIG];
	size_t sz, flen, got, wn = 0;

	if (addr) {
		log_esc_addr(full, sizeof(full), (const char *)in);
		want[wn++] = '<';
	} else
		log_esc(full, sizeof(full), in, n);
	memcpy(want + wn, in, n);
	wn += n;
	flen = strlen(full);
	assert_true(flen + 1 < sizeof(full));
	for (sz = LOG_ESC_MIN; sz <= flen + 3; sz++) {
		memset(dst, 0x5a, sizeof(dst));
		if (addr)
			log_esc_addr(dst, sz, (const char *)in);
		else
			log_esc(dst, sz, in, n);
		if (strlen(dst) >= sz || dst[sz] != 0x5a)
			fail_msg("%s: size %zu overflows", name, sz);
		read_whole(name, dst, back, sizeof(back), &got);
		if (sz > flen) {
			if (strcmp(dst, full) != 0)
				fail_msg("%s: size %zu cut a value that fits",
				    name, sz);
			continue;
		}
		if (addr) {
			if (got < 4 || back[got - 1] != '>')
				fail_msg("%s: size %zu lost its >", name, sz);
			got--;
		}
		if (got < 3 || memcmp(back + got - 3, "...", 3) != 0)
			fail_msg("%s: size %zu cut without ...", name, sz);
		got -= 3;
		if (got > wn || memcmp(back, want, got) != 0)
			fail_msg("%s: size %zu is not a prefix", name, sz);
		/* Cut no earlier than it must: one more unit would not fit. */
		if (strlen(dst) + ESC_UNIT_MAX < sz)
			fail_msg("%s: size %zu cut early: [%s]", name, sz, dst);
	}
}

static void
test_log_esc_cuts(void **state)
{
	unsigned char long_in[600];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_cuts(cases[i].name, false,
		    (const unsigned char *)cases[i].in,
		    cases[i].n != 0 ? cases[i].n : strlen(cases[i].in));
	/* Long values around LOG_VALUE_MAX, of each kind of character. */
	memset(long_in, 'a', sizeof(long_in));
	check_cuts("long-bare", false, long_in, sizeof(long_in));
	for (i = 0; i + 3 <= sizeof(long_in); i += 3)
		memcpy(long_in + i, "\xe2\x80\xa8", 3); /* U+2028 */
	check_cuts("long-hidden", false, long_in, i);
	for (i = 0; i + 2 <= sizeof(long_in); i += 2)
		memcpy(long_in + i, "\xc3\xa9", 2);
	check_cuts("long-utf8", false, long_in, i);
	for (i = 0; i < sizeof(long_in); i++)
		long_in[i] = (unsigned char)(i % 7 == 0 ? '"' : 0x80 + i % 64);
	check_cuts("long-mixed", false, long_in, sizeof(long_in));
	long_in[sizeof(long_in) - 1] = '\0';
	check_cuts("addr-mixed", true, long_in, strlen((char *)long_in));
	check_cuts("addr-plain", true, (const unsigned char *)"a@b", 3);
	check_cuts("addr-null", true, (const unsigned char *)"", 0);
	check_cuts("addr-space", true, (const unsigned char *)"\"a b\"@c", 7);
}

/* The whole value fits in LOG_VALUE_MAX: no cut, whatever the bytes. */
static void
test_log_esc_value_max(void **state)
{
	char in[LOG_VALUE_MAX];
	unsigned char back[BIG];
	size_t got;

	(void)state;
	memset(in, 'a', sizeof(in));
	/* LOG_VALUE_MAX - 1 bare bytes and the NUL: fits exactly. */
	assert_int_equal(strlen(LOG_ESCN(in, LOG_VALUE_MAX - 1)),
	    LOG_VALUE_MAX - 1);
	/* One more is cut. */
	assert_non_null(strstr(LOG_ESCN(in, LOG_VALUE_MAX), "..."));
	in[0] = ' '; /* quoted: two bytes of quotes */
	assert_null(strstr(LOG_ESCN(in, LOG_VALUE_MAX - 3), "..."));
	assert_non_null(strstr(LOG_ESCN(in, LOG_VALUE_MAX - 2), "..."));
	read_whole("value-max", LOG_ESCN(in, LOG_VALUE_MAX), back, sizeof(back),
	    &got);
}

/* Random strings of every class: unescape(escape(x)) == x. */
static void
test_log_esc_roundtrip(void **state)
{
	static const char *const units[] = { "a", "Z", "0", " ", "=", "\"",
		"\\", "\r", "\n", "\t", "\x7f", "\x01", "<", ">", "@", "x",
		"\xc3\xa9", "\xe2\x80\xa8", "\xe2\x80\xae", "\xe2\x81\xa6",
		"\xc2\x85", "\xef\xbb\xbf", "\xd8\x9c", "\xf0\x9f\x98\x80",
		"\x80", "\xff", "\xc0", "\xe2\x80", "\xed\xa0\x80", "\\x41",
		"\\u{2028}", "event=auth_failed client=203.0.113.9" };
	const size_t nunits = sizeof(units) / sizeof(units[0]);
	char in[BIG], dst[BIG * 2];
	unsigned char back[BIG];
	uint32_t seed = 14;
	size_t round, n, len, got;

	(void)state;
	for (round = 0; round < 20000; round++) {
		n = 0;
		for (len = round % 40; len > 0; len--) {
			const char *u;

			seed = seed * 1103515245u + 12345u;
			u = units[(seed >> 16) % nunits];
			memcpy(in + n, u, strlen(u));
			n += strlen(u);
		}
		log_esc(dst, sizeof(dst), in, n);
		read_whole("roundtrip", dst, back, sizeof(back), &got);
		if (got != n || memcmp(back, in, n) != 0)
			fail_msg("round %zu: [%s] does not read back", round,
			    dst);
	}
}

/* ---- whole lines ---------------------------------------------------- */

static char logdir[TESTUTIL_DIR_MAX];
static char logpath[TESTUTIL_DIR_MAX + 16];

/* The body of the only line in the log file (after "<level> "). */
static size_t
last_body(char *buf, size_t bufsz, const char *level)
{
	char *p, *nl;
	ssize_t n;
	int fd;

	fd = open(logpath, O_RDONLY);
	assert_true(fd != -1);
	n = read(fd, buf, bufsz - 1);
	(void)close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	nl = strchr(buf, '\n');
	assert_non_null(nl);
	assert_true(nl == buf + n - 1); /* one line, ending the file */
	assert_true((size_t)n <= 4096);
	p = strstr(buf, "]: ");
	assert_non_null(p);
	p += 3;
	assert_memory_equal(p, level, strlen(level));
	p += strlen(level) + 1;
	*nl = '\0';
	memmove(buf, p, (size_t)(nl - p) + 1);
	return strlen(buf);
}

static int
open_log(void **state)
{
	(void)state;
	if (testutil_mkdtemp(logdir, sizeof(logdir), NULL, "log") == -1)
		return -1;
	(void)snprintf(logpath, sizeof(logpath), "%s/log", logdir);
	return 0;
}

static int
close_log(void **state)
{
	(void)state;
	(void)log_open(NULL, NULL);
	testutil_rmtree(logdir);
	return 0;
}

static void
fresh_log(void)
{
	(void)unlink(logpath);
	assert_int_equal(log_open(logpath, NULL), 0);
}

/* A raw line break from a careless caller still makes one line. */
static void
test_log_line_control(void **state)
{
	char buf[8192];
	size_t n;

	(void)state;
	fresh_log();
	log_info("event=test v=%s", "a\nevent=forged\rb");
	n = last_body(buf, sizeof(buf), "info");
	assert_string_equal(buf, "event=test v=a?event=forged?b");
	assert_int_equal(n, strlen(buf));
}

/* A line too long keeps its whole fields and says it was cut. */
static void
test_log_line_cut(void **state)
{
	char buf[8192], val[600], want[8192];
	const char *mark = " truncated=yes";
	size_t n, len, keep;

	(void)state;
	memset(val, 'a', sizeof(val) - 1);
	val[sizeof(val) - 1] = '\0';
	val[3] = ' ';
	/* Every length of the values: the cut lands everywhere. */
	for (len = 0; len < 600; len++) {
		val[len] = '\0';
		fresh_log();
		log_info("event=test a=%s b=%s c=%s d=%s e=%s f=%s g=%s "
		         "h=%s i=%s",
		    LOG_ESC(val), LOG_ESC(val), LOG_ESC(val), LOG_ESC(val),
		    LOG_ESC(val), LOG_ESC(val), LOG_ESC(val), LOG_ESC(val),
		    LOG_ESC(val));
		(void)snprintf(want, sizeof(want),
		    "event=test a=%s b=%s c=%s d=%s e=%s f=%s g=%s h=%s i=%s",
		    LOG_ESC(val), LOG_ESC(val), LOG_ESC(val), LOG_ESC(val),
		    LOG_ESC(val), LOG_ESC(val), LOG_ESC(val), LOG_ESC(val),
		    LOG_ESC(val));
		val[len] = 'a';
		n = last_body(buf, sizeof(buf), "info");
		if (logvalue_fields(buf, n) < 1)
			fail_msg("len %zu: [%s] does not parse", len, buf);
		if (strcmp(buf, want) == 0)
			continue;
		/* Cut: whole fields of what was asked, then the mark. */
		if (n < strlen(mark) || strcmp(buf + n - strlen(mark), mark))
			fail_msg("len %zu: cut without a mark", len);
		keep = n - strlen(mark);
		if (memcmp(buf, want, keep) != 0 || want[keep] != ' ')
			fail_msg("len %zu: cut inside a field", len);
		if (strlen(want) < 4000)
			fail_msg("len %zu: cut a line that fits", len);
	}
}

/* One field longer than a line: the line still parses and says so. */
static void
test_log_line_one_huge_field(void **state)
{
	char buf[8192], big[5000];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fresh_log();
	log_info("event=%s", big);
	(void)last_body(buf, sizeof(buf), "info");
	assert_string_equal(buf, "event=log_truncated");
}

/* A panic's or a fatal's message is a value too. */
static void
test_log_line_fields(void **state)
{
	char buf[8192];
	size_t n;

	(void)state;
	fresh_log();
	log_warn("event=x msg=\"a constant, with = and spaces\" v=%s",
	    LOG_ESC("\"\\\xe2\x80\xae"));
	n = last_body(buf, sizeof(buf), "warn");
	assert_int_equal(logvalue_fields(buf, n), 3);
	assert_string_equal(buf, "event=x msg=\"a constant, with = and "
	                         "spaces\" v=\"\\\"\\\\\\u{202e}\"");
	/* The reader refuses what the rule never writes. */
	assert_int_equal(logvalue_fields("event=x v=a b", 13), -1);
	assert_int_equal(logvalue_fields("event=x v=\"a", 12), -1);
	assert_int_equal(logvalue_fields("event=x v=", 10), -1);
	assert_int_equal(logvalue_fields("event=x  v=1", 12), -1);
	assert_int_equal(logvalue_fields("event=x v=\"\xe2\x80\xa8\"", 15), -1);
	assert_int_equal(logvalue_fields("event=x v=\"\\q\"", 14), -1);
	assert_int_equal(logvalue_fields("x=1 event=x", 11), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_esc_table),
		cmocka_unit_test(test_log_esc_strings),
		cmocka_unit_test(test_log_esc_cuts),
		cmocka_unit_test(test_log_esc_value_max),
		cmocka_unit_test(test_log_esc_roundtrip),
		cmocka_unit_test(test_log_line_control),
		cmocka_unit_test(test_log_line_cut),
		cmocka_unit_test(test_log_line_one_huge_field),
		cmocka_unit_test(test_log_line_fields),
	};
	return cmocka_run_group_tests(tests, open_log, close_log);
}
