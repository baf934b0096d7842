/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * verify.h - per-range verdicts over an image's bytes seen in order: the
 * one range walk, and the one mismatch message, of bmapcopy's copy engine
 * and bmapfs's view.
 *
 * A walk is fed an image's bytes with their offsets. A range is hashed
 * when its first byte is fed and the rest of it follows in order; its
 * digest is finished at its last byte and compared with the bmap's: that
 * is its verdict. Bytes outside the ranges, of a range without a
 * checksum, of a range first seen after its start, or of one the caller
 * does not want, are passed over. A jump (bytes that do not follow the
 * last ones fed) drops the range being hashed: it gets no verdict.
 */
#ifndef BMAP_VERIFY_H
#define BMAP_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bmap.h"

struct verify;

/* Is range i to be hashed? Asked as its first byte is fed (never for a
 * range without a checksum). NULL: every range with a checksum is. */
typedef bool (*verify_want_fn)(void *ctx, size_t i);

/* A walk over map's ranges (map outlives it). A map without a checksum
 * type makes a walk that hashes nothing. */
int verify_new(struct verify **w, const struct bmap *map,
	       verify_want_fn want, void *ctx, struct bmap_err *err);
void verify_free(struct verify *w);

enum verify_verdict {
	VERIFY_NONE,		/* no range ended in these bytes */
	VERIFY_MATCH,		/* the range ended and matched */
	VERIFY_MISMATCH,	/* the range ended and did not match */
};

/* step.range when the bytes were not hashed. */
#define VERIFY_NOT_HASHED SIZE_MAX

/* What one verify_feed call did with the first bytes it was given: they
 * were all hashed for one range, or all passed over. */
struct verify_step {
	size_t len;		/* bytes used, from buf[0]; > 0 when len is */
	size_t range;		/* the range they were hashed for, or
				 * VERIFY_NOT_HASHED */
	enum verify_verdict verdict;	/* range's, when its last byte was
					 * among them */
};

/*
 * Feed the first bytes of buf, which holds len bytes at image offset off;
 * it stops at the end of a hashed range (so one step has at most one
 * verdict) and before the start of one. Call again with the rest. 0 when
 * nothing failed; -EBADMSG when step->range did not match, with err
 * saying "checksum mismatch in blocks A-B: the bmap says TYPE HEX, the
 * image has HEX"; -EIO when hashing failed. *step is filled in each case.
 */
int verify_feed(struct verify *w, uint64_t off, const void *buf, size_t len,
		struct verify_step *step, struct bmap_err *err);

/* Ranges that matched so far. */
size_t verify_matched(const struct verify *w);
/* Ranges of map a walk hashes when all are wanted: those with a
 * checksum (none when the map has no checksum type). */
size_t verify_count(const struct bmap *map);

/* "block 7" or "blocks 5-9": a range as messages name it. */
void verify_range_name(const struct bmap_range *r, char *buf, size_t size);
/* The first range of map that ends after off, or map->nranges. */
size_t verify_range_after(const struct bmap *map, uint64_t off);

#endif
