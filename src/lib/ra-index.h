/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ra-index.h - seek points kept in a folder between runs: one file per
 * image, named by a hash of the image's path, identity and modification
 * time, so an image that changed is never matched with stale points.
 */
#ifndef BMAP_RA_INDEX_H
#define BMAP_RA_INDEX_H

#include <sys/stat.h>

#include "ra.h"

/* The index file for the image at path (st: its stat) in dir, which is
 * made (mode 0700) if missing; *out is malloc()ed. */
int ra_index_path(const char *dir, const char *path, const struct stat *st,
		  char **out, struct bmap_err *err);
/* Hand the points in file path to ops->load; 0 when they were taken,
 * -errno when there were none or they did not fit. */
int ra_index_load(const char *path, const struct ra_format_ops *ops,
		  void *fmt);
/* Write the points of fmt to file path, atomically (a temporary file
 * renamed over it). */
int ra_index_save(const char *path, const struct ra_format_ops *ops,
		  void *fmt, struct bmap_err *err);

#endif
