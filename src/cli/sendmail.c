/* SPDX-License-Identifier: ISC */
/*
 * cli/sendmail.c - `tern sendmail` / a `sendmail` symlink: queue one
 * message from stdin for the local tern server.
 *
 * sendmail-compatible options: -t (recipients from To/Cc/Bcc, Bcc
 * removed), -i/-oi (a lone "." does not end the message), -f/-r ADDR
 * (envelope sender), -F NAME (full name for an added From), -bm (the
 * default mode), -C FILE (tern's configuration, also given as `tern -c
 * FILE sendmail ...`; else $TERN_CONFIG, else /etc/tern/tern.conf, as
 * for every tern command: cli_conf_path(); `tern --demo sendmail` uses
 * the embedded demo), --help; other -o, -B, -N, -R, -V, -U, -e, -v
 * options are accepted and ignored.
 * Recipients on the command line (also "a, b") are added to -t's; a bare
 * name gets the first local domain. From, Date and Message-ID are added
 * when missing. The message goes to <data_dir>/maildrop/ as described in
 * queue/pickup.h: written to ".NAME", fsync'd, renamed to NAME, and the
 * rename made durable; only then is the exit status 0.
 * Exit codes (sysexits.h): 64 usage, 65 bad message or address, 69 no
 * maildrop (the server never ran), 71 out of memory, 75 could not write
 * the drop file, 78 bad configuration.
 * Trust: argv and stdin are the local user's, who may be anyone; the
 * server's pickup checks the drop file again, so nothing here is a
 * security boundary. The file is mode 0644 so that a server running as
 * its own user can read it; the directory cannot be listed by others.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "lib/mime.h"
#include "msg/hdr.h"
#include "msg/received.h"
#include "queue/pickup.h"
#include "smtp/addr.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define NAME_MAX_LEN 256 /* -F full name bytes */

struct sm {
	const struct conf *conf;
	const char *domain; /* qualifies bare names */
	bool t, dot_ends;
	const char *from, *fullname, *conf_path;
	char **rcpts;
	size_t nrcpts;
	char sender[SMTP_ADDR_FMT_MAX];
};

static int fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("sendmail: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	return code;
}

/*
 * A buffer append failed: out of memory (buf.h) is the system's fault
 * (EX_OSERR), anything else is the message's (EX_DATAERR, `too_big`).
 */
static int
fail_append(const char *too_big)
{
	if (errno == ENOMEM)
		return fail(EX_OSERR, "%s", "out of memory");
	return fail(EX_DATAERR, "%s", too_big);
}

/*
 * One address as text (no angle brackets) -> "local@domain" in dst,
 * qualified with sm->domain when bare, checked by the SMTP grammar.
 * "" or "<>" is the null sender when null_ok.
 */
static int
qualify(const struct sm *sm, const char *a, bool null_ok, char *dst,
    size_t dstsz)
{
	char path[SMTP_PATH_MAX + SMTP_DOMAIN_MAX + 8];
	struct smtp_addr sa;
	const char *why;
	size_t used, n;
	int k;

	while (*a == ' ' || *a == '\t')
		a++;
	n = strlen(a);
	while (n > 0 && (a[n - 1] == ' ' || a[n - 1] == '\t'))
		n--;
	if (n >= 2 && a[0] == '<' && a[n - 1] == '>') {
		a++;
		n -= 2;
	}
	if (n == 0 && null_ok) {
		dst[0] = '\0';
		return 0;
	}
	k = snprintf(path, sizeof(path), "<%.*s%s%s>", (int)n, a,
	    memchr(a, '@', n) == NULL ? "@" : "",
	    memchr(a, '@', n) == NULL ? sm->domain : "");
	if (k < 0 || (size_t)k >= sizeof(path) ||
	    !smtp_path_parse(path, (size_t)k, SMTP_ADDR_UTF8, &sa, &used,
	        &why) ||
	    used != (size_t)k || smtp_addr_format(&sa, dst, dstsz) < 0) {
		fprintf(stderr, "sendmail: bad address '%.*s'\n", (int)n, a);
		return -1;
	}
	return 0;
}

static void
add_rcpt(struct sm *sm, const char *a, size_t n)
{
	sm->rcpts = xrealloc(sm->rcpts, (sm->nrcpts + 1) * sizeof(char *));
	sm->rcpts[sm->nrcpts++] = xstrndup(a, n);
}

/*
 * Split an RFC 5322 address-list (3.4) into addresses: commas outside
 * quotes, comments and angle brackets separate them; "Name <a@b>" gives
 * a@b; a group "name: a, b;" gives a and b. Comments are dropped.
 */
static void
split_addrs(struct sm *sm, const char *p, size_t n)
{
	char cur[SMTP_PATH_MAX * 2];
	size_t len = 0, i, angle_at = 0;
	int depth = 0;
	bool quoted = false, in_angle = false, have_angle = false;

	for (i = 0; i <= n; i++) {
		char c = i < n ? p[i] : ',';

		if (quoted) {
			if (c == '\\' && i + 1 < n)
				i++;
			else if (c == '"')
				quoted = false;
			if (!in_angle)
				continue;
		} else if (depth > 0) {
			if (c == '\\' && i + 1 < n)
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			continue;
		} else if (c == '(') {
			depth++;
			continue;
		} else if (c == '"') {
			quoted = true;
			if (!in_angle)
				continue;
		} else if (c == '<' && !have_angle) {
			in_angle = have_angle = true;
			angle_at = len = 0;
			continue;
		} else if (c == '>' && in_angle) {
			in_angle = false;
			angle_at = len;
			continue;
		} else if (c == ':' && !in_angle && !have_angle) {
			len = 0; /* a group's display name */
			continue;
		} else if ((c == ',' || c == ';') && !in_angle) {
			if (have_angle)
				len = angle_at;
			while (len > 0 &&
			       (cur[len - 1] == ' ' || cur[len - 1] == '\t'))
				len--;
			if (len > 0)
				add_rcpt(sm, cur, len);
			len = 0;
			have_angle = in_angle = false;
			continue;
		}
		if (have_angle && !in_angle)
			continue; /* after "<...>" only comments or spaces */
		if ((c == ' ' || c == '\t' || c == '\r' || c == '\n') &&
		    !in_angle && len == 0)
			continue;
		if (c == '\r' || c == '\n')
			continue;
		if (len + 1 < sizeof(cur))
			cur[len++] = c;
	}
}

/* Is line p[0..n) the start of field `name` (case-insensitive)? */
static bool
is_field(const uint8_t *p, size_t n, const char *name)
{
	size_t k = strlen(name);

	return n > k && ascii_ncasecmp((const char *)p, name, k) == 0 &&
	       p[k] == ':';
}

/*
 * -t: take recipients from To, Cc and Bcc of the header p[0..hlen),
 * and drop the Bcc fields (with their continuation lines) from it.
 * Returns the new header length.
 */
static size_t
header_rcpts(struct sm *sm, uint8_t *p, size_t hlen)
{
	size_t pos = 0, out = 0, end, fend;
	bool bcc;

	while (pos < hlen) {
		/* One field: its line and the continuation lines. */
		fend = pos;
		do {
			const uint8_t *nl = memchr(p + fend, '\n', hlen - fend);

			fend = nl != NULL ? (size_t)(nl - p) + 1 : hlen;
		} while (fend < hlen && (p[fend] == ' ' || p[fend] == '\t'));
		end = fend;
		bcc = is_field(p + pos, end - pos, "bcc");
		if (is_field(p + pos, end - pos, "to") ||
		    is_field(p + pos, end - pos, "cc") || bcc) {
			const uint8_t *colon = memchr(p + pos, ':', end - pos);

			split_addrs(sm, (const char *)colon + 1,
			    end - (size_t)(colon + 1 - p));
		}
		if (!bcc) {
			memmove(p + out, p + pos, end - pos);
			out += end - pos;
		}
		pos = end;
	}
	return out;
}

/* stdin -> msg (CRLF lines, "." ends it unless -i); exit code or 0. */
static int
read_message(const struct sm *sm, struct buf *msg)
{
	struct buf raw;
	uint8_t chunk[65536];
	size_t r, i, cut;

	buf_init(&raw, msg->max);
	while ((r = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		if (buf_append(&raw, chunk, r) == -1) {
			buf_reset(&raw);
			if (errno == ENOMEM)
				return fail_append("");
			return fail(EX_DATAERR,
			    "message too big: the limit is %zu bytes "
			    "(max_message_size)",
			    msg->max);
		}
	if (ferror(stdin)) {
		buf_reset(&raw);
		return fail(EX_NOINPUT, "read the message: %s",
		    strerror(errno));
	}
	if (raw.len > 0 && memchr(raw.data, '\0', raw.len) != NULL) {
		buf_reset(&raw);
		return fail(EX_DATAERR, "%s",
		    "the message contains a NUL byte");
	}
	cut = raw.len;
	for (i = 0; sm->dot_ends && i < raw.len;) {
		const uint8_t *nl = memchr(raw.data + i, '\n', raw.len - i);
		size_t ll =
		    (nl != NULL ? (size_t)(nl - raw.data) : raw.len) - i;

		if ((ll == 1 && raw.data[i] == '.') ||
		    (ll == 2 && raw.data[i] == '.' &&
		        raw.data[i + 1] == '\r')) {
			cut = i;
			break;
		}
		i += ll + 1;
	}
	if (mime_crlf(msg, (const char *)raw.data, cut) == -1 ||
	    (msg->len > 0 && msg->data[msg->len - 1] != '\n' &&
	        buf_append(msg, "\r\n", 2) == -1)) {
		buf_reset(&raw);
		return fail_append("message too big");
	}
	buf_reset(&raw);
	return 0;
}

/* From/Date/Message-ID when the header lacks them, inserted at its end. */
static int
add_fields(const struct sm *sm, struct buf *msg, const char *name_hint)
{
	struct msg_hdr_scan hs;
	struct buf add, out;
	char date[MSG_DATE_MAX];
	uint64_t rnd = 0;
	size_t at;
	int rc = 0;

	msg_hdr_scan_init(&hs);
	msg_hdr_scan_feed(&hs, msg->data, msg->len);
	at = hs.in_body ? hs.header_bytes : msg->len;
	buf_init(&add, 4096);
	if (!hs.has_from && sm->sender[0] != '\0') {
		rc |= buf_append_str(&add, "From: ");
		rc |= mime_mailbox(&add, name_hint, sm->sender, 6);
		rc |= buf_append(&add, "\r\n", 2);
	}
	if (!hs.has_date && msg_date_format(time(NULL), date, sizeof(date)) > 0)
		rc |= buf_printf(&add, "Date: %s\r\n", date);
	if (!hs.has_message_id) {
		(void)getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK);
		rc |= buf_printf(&add, "Message-ID: <%lld.%ld.%016llx@%s>\r\n",
		    (long long)time(NULL), (long)getpid(),
		    (unsigned long long)rnd, sm->conf->hostname);
	}
	buf_init(&out, msg->max + add.len);
	if (rc != 0 || buf_append(&out, msg->data, at) == -1 ||
	    buf_append(&out, add.data, add.len) == -1 ||
	    (!(msg->len - at >= 2 && msg->data[at] == '\r' &&
	         msg->data[at + 1] == '\n') &&
	        buf_append(&out, "\r\n", 2) == -1) ||
	    buf_append(&out, msg->data + at, msg->len - at) == -1) {
		buf_reset(&add);
		buf_reset(&out);
		return -1;
	}
	buf_reset(&add);
	buf_reset(msg);
	*msg = out;
	return 0;
}

/* Write, fsync, rename into place, make the rename durable. */
static int
drop(const struct sm *sm, const struct buf *env, const struct buf *msg)
{
	char dir[4096], tmp[4200], dst[4200], name[PICKUP_NAME_MAX];
	struct timespec ts;
	uint64_t rnd = 0;
	int fd, dfd, k;

	k = snprintf(dir, sizeof(dir), "%s/maildrop", sm->conf->data_dir);
	if (k < 0 || (size_t)k >= sizeof(dir))
		return fail(EX_CONFIG, "data_dir too long: %s",
		    sm->conf->data_dir);
	if (access(dir, W_OK | X_OK) == -1)
		return fail(errno == ENOENT ? EX_UNAVAILABLE : EX_TEMPFAIL,
		    "cannot use %s: start `tern serve` once to create it, "
		    "and make data_dir searchable (o+x)",
		    dir);
	clock_gettime(CLOCK_REALTIME, &ts);
	(void)getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK);
	(void)snprintf(name, sizeof(name), "%lld.%09ld.%ld.%016llx",
	    (long long)ts.tv_sec, ts.tv_nsec, (long)getpid(),
	    (unsigned long long)rnd);
	(void)snprintf(tmp, sizeof(tmp), "%s/.%s", dir, name);
	(void)snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (fd == -1)
		return fail(EX_TEMPFAIL, "create %s: %s", tmp, strerror(errno));
	/* The umask must not keep the server (another user) out. */
	if (fchmod(fd, 0644) == -1 ||
	    fsutil_write_all(fd, env->data, env->len) == -1 ||
	    fsutil_write_all(fd, msg->data, msg->len) == -1 ||
	    fsync(fd) == -1 || rename(tmp, dst) == -1) {
		k = errno;
		(void)close(fd);
		(void)unlink(tmp);
		return fail(EX_TEMPFAIL, "write the drop file: %s",
		    strerror(k));
	}
	/*
	 * The directory is not readable by others, so we may not be able to
	 * open it for fsync; syncfs() on our file covers the entry too.
	 */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if ((dfd != -1 && fsync(dfd) == -1) ||
	    (dfd == -1 && syncfs(fd) == -1)) {
		k = errno;
		if (dfd != -1)
			(void)close(dfd);
		(void)close(fd);
		/* It may still be picked up: say so rather than unlink. */
		return fail(EX_TEMPFAIL,
		    "sync the maildrop (the message may still be sent): %s",
		    strerror(k));
	}
	if (dfd != -1)
		(void)close(dfd);
	(void)close(fd);
	return 0;
}

void
cli_sendmail_usage(FILE *f)
{
	fputs("usage: sendmail [-t] [-i] [-f FROM] [-F NAME] [-C CONF] "
	      "[RCPT...] < message\n"
	      "       tern [-c CONF | --demo] sendmail [OPTIONS] [RCPT...] "
	      "< message\n"
	      "Queue the message on stdin for the local tern server (through "
	      "<data_dir>/maildrop/).\n"
	      "  -t       take recipients from To, Cc and Bcc (Bcc is "
	      "removed)\n"
	      "  -i, -oi  a line with a lone \".\" does not end the "
	      "message\n"
	      "  -f FROM  envelope sender (default: your user name)\n"
	      "  -F NAME  full name for the From field tern adds\n"
	      "  -C CONF  tern's configuration file (default: $TERN_CONFIG, "
	      "else " CLI_CONF_DEFAULT ")\n"
	      "A bare name (root) gets the first of `domains`. Exit 0 once "
	      "the message is on stable storage.\n",
	    f);
}

/* Options; the index of the first recipient, or -1 with *code set. */
static int
parse_args(struct sm *sm, int argc, char **argv, int first, int *code)
{
	int i;
	const char *a, *v;

	for (i = first; i < argc && argv[i][0] == '-'; i++) {
		a = argv[i];
		if (strcmp(a, "--") == 0)
			return i + 1;
		if (strcmp(a, "--help") == 0) {
			cli_sendmail_usage(stdout);
			*code = 0;
			return -1;
		}
		/* Options with a value: -fADDR or -f ADDR. */
		if (strchr("frFCBNRVh", a[1]) != NULL && a[1] != '\0') {
			v = a[2] != '\0' ? a + 2
			                 : (i + 1 < argc ? argv[++i] : NULL);
			if (v == NULL) {
				*code = fail(EX_USAGE, "%s needs a value", a);
				return -1;
			}
			if (a[1] == 'f' || a[1] == 'r')
				sm->from = v;
			else if (a[1] == 'F')
				sm->fullname = v;
			else if (a[1] == 'C')
				sm->conf_path = v;
			continue;
		}
		if (strcmp(a, "-t") == 0)
			sm->t = true;
		else if (strcmp(a, "-i") == 0 || strcmp(a, "-oi") == 0)
			sm->dot_ends = false;
		else if (strcmp(a, "-bm") == 0 || strcmp(a, "-v") == 0 ||
		         strncmp(a, "-o", 2) == 0 || strncmp(a, "-e", 2) == 0 ||
		         strcmp(a, "-U") == 0 || strcmp(a, "-n") == 0)
			continue;
		else if (strncmp(a, "-b", 2) == 0) {
			*code = fail(EX_USAGE,
			    "%s: only -bm (deliver a message) is supported; "
			    "see `tern queue list` and `tern alias`",
			    a);
			return -1;
		} else {
			*code = fail(EX_USAGE, "unknown option %s", a);
			cli_sendmail_usage(stderr);
			return -1;
		}
	}
	return i;
}

int
cli_sendmail(const char *conf_path, bool demo, int argc, char **argv)
{
	struct sm sm;
	struct conf *conf = NULL;
	struct buf env, msg;
	struct passwd *pw;
	char addr[SMTP_ADDR_FMT_MAX], fullname[NAME_MAX_LEN];
	size_t i, hlen, nrcpt = 0;
	int first, code = 0;
	struct msg_hdr_scan hs;

	memset(&sm, 0, sizeof(sm));
	sm.dot_ends = true;
	/* `tern -c FILE sendmail ...`: tern's -c, as for other commands;
	 * sendmail's own -C after it still wins. */
	sm.conf_path = conf_path;
	first = parse_args(&sm, argc, argv, 1, &code);
	if (first == -1)
		return code;
	conf = cli_conf_load("sendmail", sm.conf_path, demo && sm.conf_path ==
	    conf_path, &code);
	if (conf == NULL)
		return code;
	sm.conf = conf;
	sm.domain = conf->ndomains > 0 ? conf->domains[0] : conf->hostname;
	buf_init(&env, PICKUP_ENV_MAX);
	buf_init(&msg, (size_t)conf->limits.max_message_size);
	fullname[0] = '\0';
	pw = getpwuid(getuid());
	if (sm.fullname != NULL)
		(void)strlcpy(fullname, sm.fullname, sizeof(fullname));
	else if (pw != NULL && pw->pw_gecos != NULL) {
		(void)strlcpy(fullname, pw->pw_gecos, sizeof(fullname));
		fullname[strcspn(fullname, ",")] = '\0';
	}
	if (sm.from != NULL) {
		if (qualify(&sm, sm.from, true, sm.sender, sizeof(sm.sender)) ==
		    -1) {
			code = EX_DATAERR;
			goto out;
		}
	} else if (pw == NULL || qualify(&sm, pw->pw_name, false, sm.sender,
	                             sizeof(sm.sender)) == -1) {
		code = fail(EX_NOUSER, "%s",
		    "who are you? (no user name for this uid; use -f)");
		goto out;
	}
	code = read_message(&sm, &msg);
	if (code != 0)
		goto out;
	for (i = (size_t)first; i < (size_t)argc; i++)
		split_addrs(&sm, argv[i], strlen(argv[i]));
	if (sm.t) {
		msg_hdr_scan_init(&hs);
		msg_hdr_scan_feed(&hs, msg.data, msg.len);
		hlen = hs.in_body ? hs.header_bytes : msg.len;
		i = header_rcpts(&sm, msg.data, hlen);
		memmove(msg.data + i, msg.data + hlen, msg.len - hlen);
		msg.len -= hlen - i;
	}
	if (add_fields(&sm, &msg, fullname) == -1) {
		code = fail_append("message too big");
		goto out;
	}
	if (buf_append_str(&env, PICKUP_MAGIC) == -1 ||
	    buf_printf(&env, "S <%s>\n", sm.sender) == -1) {
		code = fail_append("sender address too long");
		goto out;
	}
	for (i = 0; i < sm.nrcpts; i++) {
		if (qualify(&sm, sm.rcpts[i], false, addr, sizeof(addr)) ==
		    -1) {
			code = EX_DATAERR;
			goto out;
		}
		if (buf_printf(&env, "R <%s>\n", addr) == -1) {
			code = fail_append("too many recipients");
			goto out;
		}
		nrcpt++;
	}
	if (nrcpt == 0) {
		code = fail(EX_USAGE, "%s",
		    sm.t ? "no recipient addresses found in the header"
		         : "no recipients given (use -t or name them)");
		goto out;
	}
	if (nrcpt > PICKUP_RCPTS_MAX) {
		code = fail(EX_DATAERR, "%s", "too many recipients");
		goto out;
	}
	if (buf_append(&env, "\n", 1) == -1) {
		code = fail_append("too many recipients");
		goto out;
	}
	code = drop(&sm, &env, &msg);
out:
	for (i = 0; i < sm.nrcpts; i++)
		free(sm.rcpts[i]);
	free(sm.rcpts);
	buf_reset(&env);
	buf_reset(&msg);
	conf_free(conf);
	return code;
}
