/* SPDX-License-Identifier: ISC */
/*
 * lib/lib-private.h - limits and helpers shared by the files of libtern
 * (src/lib); nothing here is exported from the shared library.
 *
 * Trust: as tern/tern.h.
 */
#ifndef TERN_LIB_PRIVATE_H
#define TERN_LIB_PRIVATE_H

#include <stdio.h>

#include "tern/tern.h"
#include "util/buf.h"

#define LIB_RCPTS_MAX 1000 /* recipients per message */
#define LIB_PARTS_MAX 100  /* attachments per message */
#define LIB_BODY_MAX (256u * 1024 * 1024) /* message bytes sent */

/* Read f to its end into b: TERN_OK, TERN_E_IO, or TERN_E_NOMEM when
 * b's max is reached or memory is short. */
enum tern_err lib_read_file(FILE *f, struct buf *b);

#endif
