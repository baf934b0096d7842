/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ra.h - the random-access engine's insides that its tests use (ra.c and
 * ra-open.c: a bounded cache of decoded chunks and a pool of cursors
 * over a codec's SEEK decoder, or over its STREAM decoder for files
 * without seek points). bmap.h has the public side (struct bmap_ra),
 * ra-int.h what the engine's own files share.
 */
#ifndef BMAP_FS_RA_H
#define BMAP_FS_RA_H

#include "bmap.h"

/* A seek point failed a check as it was used: the points may come from
 * a bad index file, which bmap_ra_save_index (and close) then removes
 * instead of saving anything. Safe from any thread, with or without the
 * engine's lock held. */
void ra_mark_index_bad(struct bmap_ra *ra);

#endif
