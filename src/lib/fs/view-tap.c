/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * view-tap.c - checking on the way: the engine's tap hashes the ranges a
 * decoder passes through whole, so reading them later costs no check.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bmap/verify.h"
#include "fs/view-int.h"

/*
 * Checking on the way: a decoder that passes through a whole range
 * (skipping to a read further on, say) hashes it as it goes, so a later
 * read of that range needs no check of its own. The range walk is the
 * bmap layer's (bmap/verify.c), asked to hash only ranges nobody is
 * checking yet, and only from their first byte; a range that fails is
 * left to its first reader, which reports it. The tap keeps the pieces'
 * digests too, but no chunk serial (it sees a decoder's output, not the
 * cache): the first read of each piece hashes it again.
 */
struct tap {
	struct bmap_view *v;
	struct verify *walk;	/* one per decoder: it sees bytes in order */
	size_t range;		/* the range whose pieces are kept, or none */
	struct bmap_digest *pd;	/* the current piece's */
	struct piece *sums;	/* the range's pieces */
	size_t k;		/* pieces done */
};

static void tap_free(struct tap *t)
{
	if (!t)
		return;
	verify_free(t->walk);
	bmap_digest_free(t->pd);
	free(t->sums);
	free(t);
}

/* The walk asks, at range i's first byte: hash it? Only when nobody
 * checks it yet and there is room for its pieces' digests. */
static bool tap_want(void *ctx, size_t i)
{
	struct tap *t = ctx;
	struct bmap_view *v = t->v;
	unsigned char scrap[BMAP_DIGEST_MAX];
	unsigned char st;

	pthread_mutex_lock(&v->lock);
	st = v->state[i];
	pthread_mutex_unlock(&v->lock);
	free(t->sums);
	t->range = VERIFY_NOT_HASHED;
	t->sums = NULL;
	if (st != R_UNCHECKED)
		return false;
	t->sums = malloc(pieces_of(v->map, &v->map->ranges[i]) *
			 sizeof(*t->sums));
	if (!t->sums)
		return false;
	bmap_digest_final(t->pd, scrap);	/* a dropped range's rest */
	t->range = i;
	t->k = 0;
	return true;
}

static struct tap *tap_new(struct bmap_view *v)
{
	struct tap *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->v = v;
	t->range = VERIFY_NOT_HASHED;
	if (verify_new(&t->walk, v->map, tap_want, t, NULL) < 0 ||
	    bmap_digest_new(&t->pd, "sha256", NULL) < 0) {
		tap_free(t);
		return NULL;
	}
	return t;
}

/* What the walk did with the step's len bytes at off: the piece digests
 * of the range it hashes, and the range kept when it matched. */
static void tap_step(struct tap *t, const struct verify_step *step,
		     uint64_t off, const unsigned char *buf)
{
	struct bmap_view *v = t->v;
	size_t n;

	if (step->range == VERIFY_NOT_HASHED || step->range != t->range)
		return;
	n = pieces_of(v->map, &v->map->ranges[t->range]);
	bmap_digest_update(t->pd, buf, step->len);
	if (((off + step->len) % PIECE == 0 || step->verdict != VERIFY_NONE) &&
	    t->k < n) {
		bmap_digest_final(t->pd, t->sums[t->k].sum);
		t->sums[t->k++].serial = 0;
	}
	if (step->verdict == VERIFY_MATCH && t->k == n) {
		pthread_mutex_lock(&v->lock);
		if (v->state[t->range] == R_UNCHECKED)
			view_set_good(v, t->range, t->sums);
		pthread_mutex_unlock(&v->lock);
	}
	if (step->verdict != VERIFY_NONE)
		t->range = VERIFY_NOT_HASHED;
}

void view_tap(void *ctx, void **state, uint64_t off,
	      const unsigned char *buf, size_t len)
{
	struct tap *t = *state;

	if (!buf) {		/* the decoder is gone */
		tap_free(t);
		*state = NULL;
		return;
	}
	if (!t && !(t = *state = tap_new(ctx)))
		return;
	while (len > 0) {
		/* A step within one piece: its digest ends with one. */
		uint64_t cut = off - off % PIECE + PIECE;
		size_t n = cut - off < len ? (size_t)(cut - off) : len;
		struct verify_step step;

		/* A mismatch is left to the range's first reader. */
		verify_feed(t->walk, off, buf, n, &step, NULL);
		tap_step(t, &step, off, buf);
		buf += step.len;
		off += step.len;
		len -= step.len;
	}
}
