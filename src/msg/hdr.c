/* SPDX-License-Identifier: ISC */
/*
 * msg/hdr.c - streaming header-section scanner (see hdr.h).
 *
 * Trust: peer bytes; only a bounded copy of each field name is kept.
 */
#include "msg/hdr.h"

#include <string.h>

#include "util/str.h"

enum hdr_state {
	H_LINE_START = 0, /* at the start of a header line */
	H_NAME,           /* in a field name */
	H_NAME_WSP,       /* WSP after the name (obs-optional, RFC 5322 4.5) */
	H_VALUE,          /* in a field body */
	H_VALUE_CR,       /* CR in a field body */
	H_EMPTY_CR,       /* CR at the start of a line */
	H_BODY,           /* the header has ended */
};

void
msg_hdr_scan_init(struct msg_hdr_scan *h)
{
	memset(h, 0, sizeof(*h));
	h->st = H_LINE_START;
}

/* ftext = %d33-57 / %d59-126, RFC 5322 3.6.8 */
static bool
is_ftext(uint8_t c)
{
	return c >= 33 && c <= 126 && c != ':';
}

static bool
is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* The header ends where the current line starts. */
static void
end_header(struct msg_hdr_scan *h)
{
	h->header_bytes = h->line_start;
	h->in_body = true;
	h->st = H_BODY;
}

static void
field_done(struct msg_hdr_scan *h)
{
	const char *nm = h->name;

	if (h->name_len > MSG_HDR_NAME_MAX)
		return;
	h->name[h->name_len] = '\0';
	if (ascii_casecmp(nm, "Received") == 0)
		h->received++;
	else if (ascii_casecmp(nm, "Date") == 0)
		h->has_date = true;
	else if (ascii_casecmp(nm, "Message-ID") == 0)
		h->has_message_id = true;
	else if (ascii_casecmp(nm, "From") == 0)
		h->has_from = true;
}

void
msg_hdr_scan_feed(struct msg_hdr_scan *h, const uint8_t *p, size_t n)
{
	size_t i;
	uint8_t c;

	for (i = 0; i < n && h->st != H_BODY; i++, h->off++) {
		c = p[i];
		switch (h->st) {
		case H_LINE_START:
			h->line_start = h->off;
			if (c == '\r') {
				h->st = H_EMPTY_CR;
			} else if (c == '\n') {
				end_header(h); /* LF LF, tolerated */
			} else if (is_wsp(c)) {
				/* Folding; on the first line it folds nothing.
				 */
				if (h->off == 0)
					end_header(h);
				else
					h->st = H_VALUE;
			} else if (is_ftext(c)) {
				/* The previous field is complete. */
				h->header_bytes = h->off;
				h->name[0] = (char)c;
				h->name_len = 1;
				h->st = H_NAME;
			} else
				end_header(h);
			break;
		case H_NAME:
			if (is_ftext(c)) {
				/* Past the cap only the length grows. */
				if (h->name_len < MSG_HDR_NAME_MAX)
					h->name[h->name_len] = (char)c;
				if (h->name_len <= MSG_HDR_NAME_MAX)
					h->name_len++;
			} else if (c == ':') {
				field_done(h);
				h->st = H_VALUE;
			} else if (is_wsp(c))
				h->st = H_NAME_WSP;
			else
				end_header(h);
			break;
		case H_NAME_WSP:
			if (c == ':') {
				field_done(h);
				h->st = H_VALUE;
			} else if (!is_wsp(c))
				end_header(h);
			break;
		case H_VALUE:
			if (c == '\r')
				h->st = H_VALUE_CR;
			else if (c == '\n')
				h->st = H_LINE_START;
			break;
		case H_VALUE_CR:
			if (c == '\n')
				h->st = H_LINE_START;
			else if (c != '\r')
				h->st = H_VALUE;
			break;
		case H_EMPTY_CR:
			/* CRLF CRLF; a CR then anything else is no field. */
			end_header(h);
			break;
		case H_BODY:
			break;
		}
	}
}
