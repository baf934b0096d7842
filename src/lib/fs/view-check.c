/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * view-check.c - checking one range of the view: decoded through the
 * engine's cache (a second thread decoding a little ahead of the hash,
 * a third the second half of a long range), hashed whole against the
 * bmap's checksum by the bmap layer's range walk (bmap/verify.c: its
 * verdict and its mismatch message are bmapcopy's too), and piece by
 * piece (SHA-256 of its part in each chunk, with the chunk's serial), so
 * that view.c can tell later whether what it serves is what was checked. A check that fails after decoding from
 * seek points other than the stream's start is made once more without
 * them.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "bmap/verify.h"
#include "fs/view-int.h"

/* A step of the decoding ahead (a chunk). */
#define VIEW_STEP (1u << 20)
/* How far decoding runs ahead of hashing while a range is checked: enough
 * to keep both cores busy, little against the smallest cache. */
#define AHEAD_MAX (2u * VIEW_STEP)

/*
 * Decoding ahead of the hash: while a range is checked, a second thread
 * reads it through the cache a little ahead of the hashing thread, so
 * that decoding and hashing overlap. It stops at the first error (the
 * hashing thread then meets that error itself).
 */
struct ahead {
	struct bmap_ra *ra;
	uint64_t end;
	uint64_t pos;		/* decoded up to */
	uint64_t hashed;	/* hashed up to */
	bool far;		/* a second part: not held back by hashed */
	bool stop;
	pthread_mutex_t lock;
	pthread_cond_t moved;
	pthread_t thread;
};

static void *ahead_run(void *arg)
{
	struct ahead *a = arg;
	struct bmap_err err;

	pthread_mutex_lock(&a->lock);
	while (!a->stop && a->pos < a->end) {
		uint64_t pos = a->pos;
		struct bmap_ra_ref ref;
		int ret;

		if (!a->far && pos - a->hashed >= AHEAD_MAX) {
			pthread_cond_wait(&a->moved, &a->lock);
			continue;
		}
		pthread_mutex_unlock(&a->lock);
		ret = bmap_ra_get(a->ra, pos, &ref, &err);
		bmap_ra_put(a->ra, &ref);
		pthread_mutex_lock(&a->lock);
		if (ret < 0 || ref.off + ref.len <= pos)
			break;
		a->pos = ref.off + ref.len;
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

/* Start decoding [off, end) ahead of the hash; false when it could not
 * start (the check then simply goes on without). */
static bool ahead_start(struct ahead *a, struct bmap_ra *ra, uint64_t off,
			uint64_t end, bool far)
{
	*a = (struct ahead){ .ra = ra, .end = end, .pos = off, .hashed = off,
			     .far = far };
	if (end - off <= VIEW_STEP)
		return false;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->moved, NULL);
	if (pthread_create(&a->thread, NULL, ahead_run, a) == 0)
		return true;
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->moved);
	return false;
}

static void ahead_hashed(struct ahead *a, uint64_t off)
{
	pthread_mutex_lock(&a->lock);
	a->hashed = off;
	pthread_cond_signal(&a->moved);
	pthread_mutex_unlock(&a->lock);
}

static void ahead_stop(struct ahead *a)
{
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_signal(&a->moved);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->moved);
}

/* What one pass of a check saw: per piece its digest and the chunk it
 * came from (off, serial and seek point; the bytes are not kept). */
struct pass {
	struct piece *sums;
	struct bmap_ra_ref *seen;
	size_t n;		/* pieces seen */
	bool match;		/* the whole range matched */
	struct bmap_err mismatch;	/* when it did not: the walk's message */
};

/* Feed [off, off + len) of range i to the walk: 0 (at the range's last
 * byte p->match or p->mismatch tell the verdict), or -EIO when hashing
 * failed (why says so). */
static int feed_walk(struct verify *w, uint64_t off, const unsigned char *b,
		     size_t len, struct pass *p, struct bmap_err *why)
{
	struct verify_step step;
	int ret;

	while (len > 0) {
		ret = verify_feed(w, off, b, len, &step, &p->mismatch);
		if (ret < 0 && ret != -EBADMSG)
			return bmap_seterr(why, -ret, "%s", p->mismatch.msg);
		p->match = step.verdict == VERIFY_MATCH;
		b += step.len;
		off += step.len;
		len -= step.len;
	}
	return 0;
}

/* Hash range i once, piece by piece: 0 (p->match tells the verdict), or
 * -errno with the reason in why when it could not be decoded. */
static int hash_range(struct bmap_view *v, size_t i, struct pass *p,
		      struct bmap_err *why)
{
	const struct bmap_range *r = &v->map->ranges[i];
	uint64_t off = bmap_range_offset(v->map, r), end = range_end(v->map, r);
	struct bmap_digest *pd;
	struct ahead ahead, far;
	bool helped, far_helped = false;
	struct verify *w;
	uint64_t split;
	char name[64];
	int ret;

	p->n = 0;
	p->match = false;
	verify_range_name(r, name, sizeof(name));
	bmap_seterr(&p->mismatch, EBADMSG, "%s: not checked whole", name);
	ret = verify_new(&w, v->map, NULL, NULL, why);
	if (ret < 0)
		return ret;
	ret = bmap_digest_new(&pd, "sha256", why);
	if (ret < 0) {
		verify_free(w);
		return ret;
	}
	/* A long range with a seek point in its second half, that fits the
	 * cache twice over: its second part is decoded at the same time, by
	 * a decoder of its own, and waits in the cache for the hash. */
	split = bmap_ra_point(v->ra, off + (end - off) / 2);
	if (end - off > 8 * VIEW_STEP && split > off + 4 * VIEW_STEP &&
	    2 * (end - off) <= bmap_ra_cache_size(v->ra))
		far_helped = ahead_start(&far, v->ra, split, end, true);
	else
		split = end;
	helped = ahead_start(&ahead, v->ra, off, split, false);
	while (off < end) {
		uint64_t to = off - off % PIECE + PIECE;
		struct bmap_ra_ref ref;
		const unsigned char *b;

		if (to > end)
			to = end;
		ret = bmap_ra_get(v->ra, off, &ref, why);
		if (ret < 0) {
			/* The decoder that failed started at or before the
			 * point a new one would use. */
			p->seen[p->n++] = (struct bmap_ra_ref){
				.off = off - off % PIECE,
				.point = bmap_ra_point(v->ra, off) };
			break;
		}
		if (ref.off + ref.len < to) {
			bmap_ra_put(v->ra, &ref);
			ret = bmap_seterr(why, EBADMSG,
					  "the image ends before it");
			break;
		}
		b = ref.data + (off - ref.off);
		ret = feed_walk(w, off, b, (size_t)(to - off), p, why);
		bmap_digest_update(pd, b, (size_t)(to - off));
		bmap_digest_final(pd, p->sums[p->n].sum);
		p->sums[p->n].serial = ref.serial;
		bmap_ra_put(v->ra, &ref);
		p->seen[p->n++] = ref;
		if (ret < 0)
			break;
		off = to;
		if (helped && off <= split)
			ahead_hashed(&ahead, off);
	}
	if (helped)
		ahead_stop(&ahead);
	if (far_helped)
		ahead_stop(&far);
	bmap_digest_free(pd);
	verify_free(w);
	return ret;
}

/* A pass failed: the chunks it saw leave the cache and the seek points
 * they came from are forgotten; true when that can change the bytes. */
static bool reject_pass(struct bmap_view *v, const struct pass *p)
{
	bool again = false;
	size_t k;

	for (k = 0; k < p->n; k++)
		if (p->seen[k].point > 0)
			again |= bmap_ra_reject(v->ra, &p->seen[k]);
	return again;
}

/* Check range i against its checksum, its pieces' digests into sums: 0
 * when it matches; -EBADMSG (with a message naming the range) when it
 * does not or cannot be decoded; another -errno (ENOMEM, ...) when the
 * check could not be made. A failure that came through a seek point
 * other than the stream's start is tried once more without those
 * points: a bad point (a damaged or planted index) costs a decode, not
 * a range. */
int view_check_range(struct bmap_view *v, size_t i, struct piece *sums,
		       struct bmap_err *err)
{
	size_t n = pieces_of(v->map, &v->map->ranges[i]);
	struct pass p = { .sums = sums };
	struct bmap_err why;
	char name[64];
	int ret, tries;

	verify_range_name(&v->map->ranges[i], name, sizeof(name));
	p.seen = calloc(n, sizeof(*p.seen));
	if (!p.seen)
		return bmap_seterr(err, ENOMEM, "out of memory");
	for (tries = 0;; tries++) {
		why.msg[0] = '\0';
		ret = hash_range(v, i, &p, &why);
		if ((ret == 0 && p.match) ||
		    (ret < 0 && ret != -EIO && ret != -EBADMSG))
			break;
		if (tries > 0 || !reject_pass(v, &p))
			break;
	}
	free(p.seen);
	if (ret == 0 && !p.match)
		ret = bmap_seterr(err, EBADMSG, "%s", p.mismatch.msg);
	else if (ret == -EIO || ret == -EBADMSG)
		ret = bmap_seterr(err, EBADMSG, "%s: %s", name, why.msg);
	else if (ret < 0)
		ret = bmap_seterr(err, -ret, "%s", why.msg);
	return ret;
}
