/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ra-bzip2.c - seek points in bzip2 files (not written yet: sequential). */
#include "config.h"

#include <errno.h>

#include "ra.h"

static int bzip2_open(int fd, uint64_t file_size, unsigned threads, void **fmt,
		   struct bmap_err *err)
{
	(void)fd; (void)file_size; (void)threads; (void)fmt; (void)err;
	return -ENOTSUP;
}

const struct ra_format_ops ra_bzip2_ops = {
	.name = "bzip2",
	.open = bzip2_open,
};
