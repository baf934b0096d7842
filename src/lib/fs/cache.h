/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cache.h - the random-access engine's bounded cache of decoded chunks
 * (cache.c): chunks of RA_CHUNK bytes of image, found by their index in
 * a hash table, let go of least recently used first, held by readers
 * with a count (a chunk that leaves the cache while held is freed at the
 * last release), and numbered by a serial that tells one decode of a
 * chunk from the next.
 *
 * The cache has no lock of its own: every ra_cache_* call is made with
 * the engine's lock held. ra_chunk_new and ra_chunk_free, for a chunk
 * the cache does not (yet) own, need no lock.
 */
#ifndef BMAP_FS_CACHE_H
#define BMAP_FS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bmap.h"

/* Bytes of image in a cached chunk. */
#define RA_CHUNK BMAP_RA_CHUNK

struct ra_chunk {
	uint64_t idx;
	size_t len;		/* RA_CHUNK, or fewer for the last chunk */
	unsigned char *data;
	uint64_t serial;	/* this decode of it, unique in the engine */
	uint64_t point;		/* the seek point its decoder started at */
	unsigned refs;		/* readers holding it (bmap_ra_get) */
	bool gone;		/* out of the cache, freed at the last release */
	struct ra_chunk *prev, *next;	/* LRU list, most recent first */
	struct ra_chunk *hnext;		/* hash chain */
};

struct ra_cache {
	struct ra_chunk **hash;
	size_t nhash;
	struct ra_chunk *lru_head, *lru_tail;
	uint64_t cached, max;	/* bytes of image kept, and the most */
	uint64_t serial;	/* of the last chunk added */
};

/* An empty cache keeping at most max bytes of image: 0 or -ENOMEM. */
int ra_cache_init(struct ra_cache *cache, uint64_t max);
/* Let go of every chunk (held ones are freed at their last release) and
 * of the table. Safe on a zeroed cache whose init failed or never ran. */
void ra_cache_fini(struct ra_cache *cache);

/* A chunk with room for RA_CHUNK bytes, owned by the caller, or NULL. */
struct ra_chunk *ra_chunk_new(void);
void ra_chunk_free(struct ra_chunk *ch);

/* Chunk idx, made the most recently used, or NULL. */
struct ra_chunk *ra_cache_lookup(struct ra_cache *cache, uint64_t idx);
/* Keep ch (filled in: idx, len, data, point), which the cache then owns:
 * it gets the next serial, and the least recently used chunks leave to
 * make room. When chunk idx is cached already (another thread decoded
 * it first), ch is freed instead. */
void ra_cache_add(struct ra_cache *cache, struct ra_chunk *ch);
/* A reader holds ch: it is not freed until ra_cache_release. */
void ra_cache_hold(struct ra_chunk *ch);
/* A reader lets go of ch; freed when it was the last and ch left the
 * cache meanwhile. */
void ra_cache_release(struct ra_chunk *ch);
/* Chunk idx leaves the cache if it is still the decode numbered serial
 * (a copy decoded again since is kept). */
void ra_cache_reject(struct ra_cache *cache, uint64_t idx, uint64_t serial);
/* Chunk idx, if cached, becomes the first to leave. */
void ra_cache_demote(struct ra_cache *cache, uint64_t idx);

#endif
