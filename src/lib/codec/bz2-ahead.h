/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bz2-ahead.h - a worker thread that decodes the next bzip2 block
 * while a cursor hands out the current one: one block at a time, into a
 * buffer of bounded size (a block of long runs waits for it to drain).
 *
 * The cursor gives it a block it will want next (bz2_ahead_give); when it
 * reaches a block, it takes the worker's if it is the same one
 * (bz2_ahead_take, which drops any other), reads its output
 * (bz2_ahead_read) and then its result (bz2_ahead_result). What a
 * block's result says (CRC, a false cut, ...) reaches the cursor only
 * after all the output before it.
 */
#ifndef BMAP_CODEC_BZ2_AHEAD_H
#define BMAP_CODEC_BZ2_AHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/bz2.h"

/* A block: its bits [pos, to) in the file, its CRC, its stream's level. */
struct bz2_job {
	uint64_t pos, to;
	uint32_t crc;
	unsigned level;
};

/*
 * Called on the worker: read the job's bits into bits. Returns 0 to
 * decode them, 1 when the block is known to be all zeros (*len of them:
 * no decode), or -errno.
 */
typedef int (*bz2_prepare_fn)(void *ctx, const struct bz2_job *job,
			      struct bz2_bits *bits, uint64_t *len);

struct bz2_ahead;

/* What came of a block taken from the worker. */
struct bz2_ahead_end {
	int err;		/* -errno from prepare (the rest unset), or 0 */
	enum bz2_att att;	/* the decode's result: DONE, RETRY, BAD... */
	bool zeros;		/* all zeros, not decoded: len of them */
	uint64_t len;
	bool zero;		/* decoded, and all its output was zeros */
};

/* NULL when no thread (or memory) could be had. */
struct bz2_ahead *bz2_ahead_new(bz2_prepare_fn prepare, void *ctx);
/* Stop a decode in flight, join the thread, free. */
void bz2_ahead_free(struct bz2_ahead *a);
/* Whether the worker has nothing in hand. */
bool bz2_ahead_idle(struct bz2_ahead *a);
/* Decode job next, if the worker has nothing in hand. */
void bz2_ahead_give(struct bz2_ahead *a, const struct bz2_job *job);
/* Whether the worker has job (then the caller reads it); it drops any
 * other but one further on (a block of the table after job's). */
bool bz2_ahead_take(struct bz2_ahead *a, const struct bz2_job *job);
/* The taken block's next output, up to len bytes: 0 once it is all
 * read (waiting for the worker meanwhile). */
size_t bz2_ahead_read(struct bz2_ahead *a, void *buf, size_t len);
/* After read gave 0: the result, and the block's bits swapped into bits
 * (the worker keeps the caller's buffer for its next block). The worker
 * is then free. */
void bz2_ahead_result(struct bz2_ahead *a, struct bz2_ahead_end *end,
		      struct bz2_bits *bits);

#endif
