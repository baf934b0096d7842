/* SPDX-License-Identifier: GPL-2.0-or-later */
/* error.c - filling the caller's message buffer. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "error.h"

int bmap_seterr(struct bmap_err *err, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return -errnum;
}
