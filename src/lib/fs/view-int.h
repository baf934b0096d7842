/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * view-int.h - the verified view's insides, shared by its three files:
 * view.c (reads, holes, the scout), view-check.c (checking a range, and
 * the digests of its pieces) and view-tap.c (checking on the way).
 */
#ifndef BMAP_VIEW_INT_H
#define BMAP_VIEW_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bmap.h"

enum range_state { R_UNCHECKED, R_CHECKING, R_GOOD, R_BAD };

/* A piece: the part of a range inside one chunk of BMAP_RA_CHUNK. */
#define PIECE BMAP_RA_CHUNK
#define PIECE_SUM 32		/* SHA-256 */

struct piece {
	unsigned char sum[PIECE_SUM];
	uint64_t serial;	/* a chunk known to hold these bytes, or 0 */
};

struct bmap_view {
	struct bmap_ra *ra;
	const struct bmap *map;
	bool verify;
	unsigned char *state;	/* enum range_state, one per range */
	size_t *first_piece;	/* per range, its first in pieces[] */
	struct piece *pieces;	/* valid for R_GOOD ranges */
	pthread_mutex_t lock;
	pthread_cond_t done;	/* a check ended */
	size_t last;		/* the range read last, or SIZE_MAX */
	/* The scout: checks the range after the one being read in order. */
	pthread_t scout;
	bool scout_started;	/* scout needs joining */
	bool scout_running;
	size_t scout_range;
};

static inline uint64_t range_end(const struct bmap *map,
				 const struct bmap_range *r)
{
	return bmap_range_offset(map, r) + bmap_range_length(map, r);
}

/* Pieces of range r. */
static inline size_t pieces_of(const struct bmap *map,
			       const struct bmap_range *r)
{
	return (size_t)((range_end(map, r) - 1) / PIECE -
			bmap_range_offset(map, r) / PIECE + 1);
}

/* Called locked: range i passed, its pieces are sums. */
static inline void view_set_good(struct bmap_view *v, size_t i,
				 const struct piece *sums)
{
	memcpy(&v->pieces[v->first_piece[i]], sums,
	       pieces_of(v->map, &v->map->ranges[i]) * sizeof(*sums));
	v->state[i] = R_GOOD;
}

/* Check range i against its checksum, its pieces' digests into sums
 * (pieces_of entries): 0 when it matches; -EBADMSG (with a message naming
 * the range) when it does not or cannot be decoded; another -errno
 * (ENOMEM, ...) when the check could not be made. */
int view_check_range(struct bmap_view *v, size_t i, struct piece *sums,
		     struct bmap_err *err);
/* The engine's tap (bmap_ra_tap_fn): ranges hashed on the way. */
void view_tap(void *ctx, void **state, uint64_t off,
	      const unsigned char *buf, size_t len);

#endif
