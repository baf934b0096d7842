/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ra.c - random access engine (being written). */
#include "config.h"

#include <errno.h>

#include "error.h"
#include "ra.h"

int bmap_ra_open(struct bmap_ra **ra, const char *path,
		 const struct bmap_ra_opts *opts, struct bmap_err *err)
{
	(void)ra; (void)path; (void)opts;
	return bmap_seterr(err, ENOSYS, "not written yet");
}
