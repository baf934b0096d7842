/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ra-index.h - seek points kept in a folder between runs: one file per
 * image, named by a hash of the image's path, identity, modification time
 * and compressed bytes at both ends, so an image that changed, even in
 * place with the same size and time, is not matched with stale points.
 *
 * The folder is only an optimisation and is trusted with nothing: it is
 * used only when it is the user's (or root's) and no one else can write
 * to it; files in it are made exclusively under a random name and
 * renamed into place, never followed through symbolic links, and read
 * back only when they are regular files of the user's.
 */
#ifndef BMAP_RA_INDEX_H
#define BMAP_RA_INDEX_H

#include <sys/stat.h>

#include "codec/codec.h"

/* An index folder, open, and the name of one image's file in it. */
struct ra_index;

/* The index of the image open on fd (path, st: its name and fstat) in
 * folder dir, which is made (mode 0700) if missing. -errno, with why the
 * folder cannot be used in warn, when it cannot be made or written, is
 * not a folder, is someone else's or others can write to it: the caller
 * goes on without an index. */
int ra_index_open(struct ra_index **ix, const char *dir, int fd,
		  const char *path, const struct stat *st,
		  struct bmap_err *warn);
/* Hand the points in the index file to ops->load; 0 when they were
 * taken, -errno when there were none or they did not fit. */
int ra_index_load(const struct ra_index *ix, const struct codec_seek_ops *ops,
		  void *fmt);
/* Write the points of fmt to the index file, atomically (a new file under
 * a random name, renamed over it). */
int ra_index_save(const struct ra_index *ix, const struct codec_seek_ops *ops,
		  void *fmt, struct bmap_err *err);
/* The index file's name in its folder (for tests and fuzzers). */
const char *ra_index_name(const struct ra_index *ix);
/* Remove the index file, if there is one. */
int ra_index_remove(const struct ra_index *ix, struct bmap_err *err);
void ra_index_close(struct ra_index *ix);

#endif
