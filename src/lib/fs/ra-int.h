/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ra-int.h - what the random-access engine's files share: the engine
 * (struct bmap_ra, opaque in bmap.h) and its cursors. ra-open.c opens
 * and closes it (the format, the cache size, the index file); ra.c
 * reads through it (the cursor pool over the format's decoders, in front
 * of the chunk cache of cache.c).
 */
#ifndef BMAP_FS_RA_INT_H
#define BMAP_FS_RA_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "bmap.h"
#include "codec/codec.h"
#include "fs/cache.h"
#include "fs/ra-index.h"

/* Chunks passed this close before the one wanted are kept. */
#define RA_KEEP (8ull * RA_CHUNK)
/* Cursors kept: enough for a few interleaved sequential readers. */
#define RA_CURSORS 6
/* What a cursor may hold (a decoder's buffers, blocks decoded ahead),
 * charged against the cache size: a small cache keeps fewer cursors, so
 * that cache_size bounds the decoded data the engine holds. */
#define RA_CURSOR_COST (16ull << 20)

struct ra_cursor {
	void *state;		/* NULL: a free slot */
	uint64_t start;		/* the seek point it started at */
	uint64_t pos;		/* image offset of its next byte */
	void *tap_state;	/* the tap's, for this cursor */
	bool busy;		/* a thread is decoding with it */
	unsigned long used;	/* tick of last use */
};

struct bmap_ra {
	int fd;
	const struct codec_seek_ops *ops;
	void *fmt;
	char format[64];
	struct ra_index *index;	/* NULL: no index kept */
	/* Why the index folder is not used ("": it is, or none was asked
	 * for): for the program to say. */
	struct bmap_err index_warning;
	uint64_t file_size;
	struct timespec file_mtime;

	pthread_mutex_t lock;
	pthread_cond_t changed;	/* a cursor was handed back */
	bool sync_made;		/* lock and changed are initialised */
	struct ra_cache cache;
	struct ra_cursor cursors[RA_CURSORS];
	int ncursors;		/* of them used: the cache size allows */
	unsigned long tick;
	bool saved_dirty;	/* cursors may have found new points */
	/* A seek point failed a check: the index is removed, never saved
	 * (__atomic: set with or without the lock held). */
	bool index_bad;
	bmap_ra_tap_fn tap;
	void *tap_ctx;
};

/* Close a cursor's decoder, and tell the tap it is gone. */
void ra_cursor_end(struct bmap_ra *ra, struct ra_cursor *c);

#endif
