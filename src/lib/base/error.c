/* SPDX-License-Identifier: GPL-2.0-or-later */
/* error.c - filling the caller's message buffer. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "base/error.h"

int bmap_seterr(struct bmap_err *err, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		/* A message is one line, whatever it quotes (a bmap's
		 * text, libxml2's messages with the bad bytes on a line of
		 * their own): control characters become spaces. */
		for (char *p = err->msg; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
	}
	return -errnum;
}
