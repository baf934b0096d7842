/* SPDX-License-Identifier: GPL-2.0-or-later */
/* error.h - filling the caller's message buffer. */
#ifndef BMAP_ERROR_H
#define BMAP_ERROR_H

#include "bmap.h"

/* Format a one-line message into err (if not NULL) and return -errnum
 * (errnum > 0), so a failure reads: return bmap_seterr(err, EINVAL, ...). */
int bmap_seterr(struct bmap_err *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
