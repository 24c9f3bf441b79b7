/* SPDX-License-Identifier: ISC */
/*
 * milter/edit.h - a message as the filters see it, what they ask to
 * change at end of message, and the message rewritten with it (issue
 * 18).
 *
 * The message is read through a struct milter_src: header fields decided
 * after it arrived (our Authentication-Results) on top, then the message
 * as stored (our Received first), from memory or from a file with
 * pread(). The client (milter/client.h) sends it to a filter from here
 * and records the filter's modification replies in a struct
 * milter_edits; when the filter accepts the message with changes, the
 * server writes a new spool file with milter_edit_apply() on a worker
 * (envelope changes, which are the envelope's, stay the caller's).
 *
 * Header edits follow Sendmail's libmilter (smfi_addheader,
 * smfi_insheader, smfi_chgheader), which Postfix copies:
 *   ADDHEADER          appends a field after the last one;
 *   INSHEADER i        inserts before field i of the whole header
 *                      (0: on top; past the end: appended);
 *   CHGHEADER i name   changes the i-th field called `name` (any case;
 *                      i counts from 1, and 0 is taken as 1); an empty
 *                      value deletes it; when there is no i-th such
 *                      field, a non-empty value is appended as a new
 *                      field and an empty one does nothing.
 * Each edit applies to the header as the edits before it left it.
 * Written fields are "Name: value" CRLF: the value as the filter sent it
 * (without the space after the colon, which we never negotiate to keep),
 * its line breaks (LF, CRLF or CR before a blank) made CRLF; a break
 * before anything else, which the decoder never passes, is unfolded to
 * a space, so that no edit can end the header early.
 * Pure: no sockets, no spool, no logging; the only I/O is pread() on the
 * source's fd and the caller's write function.
 * Trust: the message is the client's and the edits a filter's, both
 * hostile: the strings were checked by the decoder (proto.h), every
 * size here is capped, and a header too big to hold is left as body.
 */
#ifndef TERN_MILTER_EDIT_H
#define TERN_MILTER_EDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"

struct milter_reply;

#define MILTER_HEADER_MAX (1024 * 1024) /* header bytes held; rest: body */
#define MILTER_EDITS_MAX 10000 /* edits recorded from one filter */
/*
 * Bytes of names, values and addresses recorded from one filter (a
 * replacement body is capped by body_max instead): without it, 10000
 * edits of 64 KiB each would hold 1.3 GB per session.
 */
#define MILTER_EDITS_BYTES_MAX (2 * MILTER_HEADER_MAX)

/* A message: pre, then mem or the fd range. */
struct milter_src {
	const uint8_t *pre; /* header fields on top (CRLF lines), or NULL */
	size_t pre_len;
	const uint8_t *mem; /* the message in memory, or NULL: */
	size_t mem_len;
	int fd;             /* the message in a file (when mem is NULL) */
	off_t fd_off;       /* where it starts there */
	uint64_t fd_len;    /* its length */
};

/* pre_len plus the message's length. */
uint64_t milter_src_len(const struct milter_src *);
/*
 * Up to n bytes at logical offset off into buf: the count, 0 at the
 * end, or -1 with errno (pread's, or EIO for a file shorter than
 * fd_len).
 */
ssize_t milter_src_read(const struct milter_src *, uint64_t off, void *buf,
    size_t n);

/* One field of a header held in memory. */
struct milter_field {
	size_t off, len;  /* in the header's data: the field with its CRLF */
	size_t name_len;  /* its name, from off (no blanks before ':') */
	size_t value_off; /* its value (just after the ':'), like off */
	size_t value_len; /* up to (not including) its final CRLF (or LF) */
};

struct milter_header {
	struct buf data; /* the fields' bytes, the empty line not included */
	struct milter_field *f;
	size_t n;
	/*
	 * Where the body starts in the source: after the empty line that
	 * ends the header, or at the first byte that is not a field
	 * (a line without ':', a header over max): everything from
	 * there on is body, sent and copied unchanged.
	 */
	uint64_t body_off;
	bool has_blank; /* the header ended with its empty line */
};

/*
 * Read src's header, at most max bytes of fields (a field that would
 * pass max, and all after it, stay body). 0, or -1 with errno (a read
 * error; ENOMEM). Free with milter_header_free() either way.
 */
int milter_header_read(const struct milter_src *, size_t max,
    struct milter_header *out);
void milter_header_free(struct milter_header *);

enum milter_hdr_op {
	MILTER_HDR_ADD = 0, /* ADDHEADER */
	MILTER_HDR_INSERT,  /* INSHEADER */
	MILTER_HDR_CHANGE,  /* CHGHEADER (empty value: delete) */
};

struct milter_hdr_edit {
	enum milter_hdr_op op;
	uint32_t index; /* INSERT, CHANGE: as sent */
	char *name;
	char *value; /* as sent: folded lines, no leading space */
};

/* A recipient added by ADDRCPT / ADDRCPT_PAR, or a sender by CHGFROM. */
struct milter_addr_edit {
	char *addr;   /* as sent: "<a@b>" or "a@b" */
	char *params; /* ESMTP parameters as sent, or "" */
};

struct milter_edits {
	struct milter_hdr_edit *hdr;
	size_t nhdr;
	struct milter_addr_edit *add_rcpt;
	size_t nadd_rcpt;
	char **del_rcpt; /* DELRCPT addresses as sent */
	size_t ndel_rcpt;
	bool chg_from;
	struct milter_addr_edit from;
	bool body_replaced; /* REPLBODY: body holds the new body */
	struct buf body;
	char *quarantine; /* QUARANTINE's reason, or NULL */
	size_t nedits;    /* all recorded, against MILTER_EDITS_MAX */
	size_t nbytes;    /* their strings, against MILTER_EDITS_BYTES_MAX */
};

/* Empty; a replacement body may grow to body_max bytes. */
void milter_edits_init(struct milter_edits *, uint64_t body_max);
void milter_edits_free(struct milter_edits *);
/* Forget every edit (the next filter starts afresh); keeps body_max. */
void milter_edits_clear(struct milter_edits *);

/*
 * Record one reply: ADDHEADER, INSHEADER, CHGHEADER, ADDRCPT,
 * ADDRCPT_PAR, DELRCPT, CHGFROM, REPLBODY (chunks are joined in order)
 * or QUARANTINE (the last reason wins). 0, or -1 with *why_out (static
 * text): a reply that is none of these, more than MILTER_EDITS_MAX
 * edits or MILTER_EDITS_BYTES_MAX bytes of them, a body over body_max,
 * or out of memory. Whether the filter
 * negotiated the action is the caller's to check.
 */
int milter_edits_add(struct milter_edits *, const struct milter_reply *r,
    const char **why_out);

/* Does the message itself change (header or body edits)? */
bool milter_edits_rewrite(const struct milter_edits *);
/* Does anything change (message, envelope, or a quarantine)? */
bool milter_edits_any(const struct milter_edits *);

/* Writes n bytes; 0, or -1 with errno. */
typedef int milter_write_fn(void *arg, const void *p, size_t n);

/*
 * Write src with the header and body edits applied: the header fields
 * (pre's included: they are fields like the others) after the edits,
 * the empty line if src had one (or if the body was replaced), then the
 * body: src's from body_off, or the replacement with its bare LF and CR
 * made CRLF. header_max as for milter_header_read(). 0, or -1 with
 * errno from reading src or from w.
 */
int milter_edit_apply(const struct milter_edits *, const struct milter_src *,
    size_t header_max, milter_write_fn *w, void *arg);

#endif
