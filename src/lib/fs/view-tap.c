/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * view-tap.c - checking on the way: the engine's tap hashes the ranges a
 * decoder passes through whole, so reading them later costs no check.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fs/view-int.h"

/*
 * Checking on the way: a decoder that passes through a whole range
 * (skipping to a read further on, say) hashes it as it goes, so a later
 * read of that range needs no check of its own. Only ranges nobody is
 * checking yet, and only from their first byte; a range that fails is
 * left to its first reader, which reports it. The tap keeps the pieces'
 * digests too, but no chunk serial (it sees a decoder's output, not the
 * cache): the first read of each piece hashes it again.
 */
struct tap {
	size_t range;
	uint64_t next;		/* offset the digest wants next */
	struct bmap_digest *d;	/* NULL: not hashing */
	struct bmap_digest *pd;	/* the current piece's */
	struct piece *sums;	/* the range's pieces */
	size_t k;		/* pieces done */
};

static void tap_drop(struct tap *t)
{
	bmap_digest_free(t->d);
	bmap_digest_free(t->pd);
	free(t->sums);
	t->d = t->pd = NULL;
	t->sums = NULL;
}

/* Range t->range was hashed whole: keep it if it matched. */
static void tap_done(struct bmap_view *v, struct tap *t)
{
	const struct bmap_range *r = &v->map->ranges[t->range];
	unsigned char sum[BMAP_DIGEST_MAX];

	bmap_digest_final(t->d, sum);
	if (!memcmp(sum, r->digest, v->map->digest_len)) {
		pthread_mutex_lock(&v->lock);
		if (v->state[t->range] == R_UNCHECKED)
			view_set_good(v, t->range, t->sums);
		pthread_mutex_unlock(&v->lock);
	}
	tap_drop(t);
}

/* Hash what range t->range gets of buf; the bytes used. */
static size_t tap_feed(struct bmap_view *v, struct tap *t,
		       const unsigned char *buf, size_t len)
{
	const struct bmap_range *r = &v->map->ranges[t->range];
	uint64_t end = range_end(v->map, r);
	size_t n = end - t->next < len ? (size_t)(end - t->next) : len;
	size_t done = 0;

	while (done < n) {
		uint64_t cut = t->next - t->next % PIECE + PIECE;
		size_t m;

		if (cut > end)
			cut = end;
		m = cut - t->next < n - done ? (size_t)(cut - t->next) :
			n - done;
		bmap_digest_update(t->d, buf + done, m);
		bmap_digest_update(t->pd, buf + done, m);
		t->next += m;
		done += m;
		if (t->next == cut) {
			bmap_digest_final(t->pd, t->sums[t->k].sum);
			t->sums[t->k++].serial = 0;
		}
	}
	if (t->next == end)
		tap_done(v, t);
	return n;
}

/* Start hashing range i (which starts at off) if nobody checks it yet. */
static void tap_start(struct bmap_view *v, struct tap *t, size_t i,
		      uint64_t off)
{
	const struct bmap_range *r = &v->map->ranges[i];
	unsigned char st;

	pthread_mutex_lock(&v->lock);
	st = v->state[i];
	pthread_mutex_unlock(&v->lock);
	if (st != R_UNCHECKED || !r->has_digest)
		return;
	t->sums = malloc(pieces_of(v->map, r) * sizeof(*t->sums));
	if (!t->sums ||
	    bmap_digest_new(&t->d, v->map->checksum_type, NULL) < 0 ||
	    bmap_digest_new(&t->pd, "sha256", NULL) < 0) {
		tap_drop(t);
		return;
	}
	t->range = i;
	t->next = off;
	t->k = 0;
}

void view_tap(void *ctx, void **state, uint64_t off,
		     const unsigned char *buf, size_t len)
{
	struct bmap_view *v = ctx;
	const struct bmap *map;
	struct tap *t = *state;

	if (!buf) {		/* the decoder is gone */
		if (t)
			tap_drop(t);
		free(t);
		*state = NULL;
		return;
	}
	map = v->map;
	if (!t && !(t = *state = calloc(1, sizeof(*t))))
		return;
	if (t->d && t->next != off)
		tap_drop(t);	/* a jump: that range is not seen whole */
	while (len > 0) {
		size_t i, n;
		uint64_t to;

		if (t->d) {
			n = tap_feed(v, t, buf, len);
			buf += n;
			off += n;
			len -= n;
			continue;
		}
		i = view_range_after(map, off);
		if (i == map->nranges)
			return;
		to = bmap_range_offset(map, &map->ranges[i]);
		if (to >= off) {
			if (to - off >= len)
				return;
			buf += to - off;
			len -= to - off;
			off = to;
			tap_start(v, t, i, off);
			if (t->d)
				continue;
		}
		/* Seen from its middle, or not to be hashed: pass it. */
		to = range_end(map, &map->ranges[i]);
		if (to - off >= len)
			return;
		buf += to - off;
		len -= to - off;
		off = to;
	}
}
