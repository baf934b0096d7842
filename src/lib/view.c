/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * view.c - an image as its bmap says it is: holes are zeros that cost
 * nothing, and a mapped range's bytes are handed out only after the whole
 * range has matched its checksum. Each range is checked once, by the
 * first read that touches it (others wanting it wait), and its verdict is
 * remembered. Decoded data goes through the random-access cache, so the
 * check usually leaves the range ready to be read.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "bmap.h"

/* Bytes hashed at a time. */
#define VIEW_STEP (1u << 20)
/* How far decoding runs ahead of hashing while a range is checked: enough
 * to keep both cores busy, little against the smallest cache. */
#define AHEAD_MAX (2u * VIEW_STEP)

enum range_state { R_UNCHECKED, R_CHECKING, R_GOOD, R_BAD };

struct bmap_view {
	struct bmap_ra *ra;
	const struct bmap *map;
	bool verify;
	unsigned char *state;	/* enum range_state, one per range */
	pthread_mutex_t lock;
	pthread_cond_t done;	/* a check ended */
	size_t last;		/* the range read last, or SIZE_MAX */
	/* The scout: checks the range after the one being read in order. */
	pthread_t scout;
	bool scout_started;	/* scout needs joining */
	bool scout_running;
	size_t scout_range;
};

static void view_tap(void *ctx, void **state, uint64_t off,
		     const unsigned char *buf, size_t len);

int bmap_view_open(struct bmap_view **viewp, struct bmap_ra *ra,
		   const struct bmap *map, bool verify, struct bmap_err *err)
{
	struct bmap_view *v = calloc(1, sizeof(*v));

	if (v)
		v->state = calloc(map->nranges ? map->nranges : 1, 1);
	if (!v || !v->state) {
		free(v);
		return bmap_seterr(err, ENOMEM, "out of memory");
	}
	v->ra = ra;
	v->map = map;
	v->verify = verify && map->digest_len > 0;
	v->last = SIZE_MAX;
	if (v->verify && ra)
		bmap_ra_set_tap(ra, view_tap, v);
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->done, NULL);
	*viewp = v;
	return 0;
}

void bmap_view_close(struct bmap_view *v)
{
	if (!v)
		return;
	if (v->scout_started)
		pthread_join(v->scout, NULL);
	if (v->verify && v->ra)
		bmap_ra_set_tap(v->ra, NULL, NULL);
	pthread_mutex_destroy(&v->lock);
	pthread_cond_destroy(&v->done);
	free(v->state);
	free(v);
}

static uint64_t range_end(const struct bmap *map, const struct bmap_range *r)
{
	return bmap_range_offset(map, r) + bmap_range_length(map, r);
}

/* The first range that ends after off, or nranges. */
static size_t range_after(const struct bmap *map, uint64_t off)
{
	size_t lo = 0, hi = map->nranges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (range_end(map, &map->ranges[mid]) <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* "blocks 5-9" as the bmap numbers them. */
static void range_name(const struct bmap_range *r, char *buf, size_t size)
{
	if (r->first == r->last)
		snprintf(buf, size, "block %llu", (unsigned long long)r->first);
	else
		snprintf(buf, size, "blocks %llu-%llu",
			 (unsigned long long)r->first,
			 (unsigned long long)r->last);
}

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
	unsigned char *buf = malloc(VIEW_STEP);
	struct bmap_err err;

	pthread_mutex_lock(&a->lock);
	while (buf && !a->stop && a->pos < a->end) {
		uint64_t pos = a->pos;
		size_t want = a->end - pos < VIEW_STEP ?
			(size_t)(a->end - pos) : VIEW_STEP;
		ssize_t n;

		if (!a->far && pos - a->hashed >= AHEAD_MAX) {
			pthread_cond_wait(&a->moved, &a->lock);
			continue;
		}
		pthread_mutex_unlock(&a->lock);
		n = bmap_ra_pread(a->ra, buf, want, pos, &err);
		pthread_mutex_lock(&a->lock);
		if (n <= 0)
			break;
		a->pos = pos + (uint64_t)n;
	}
	pthread_mutex_unlock(&a->lock);
	free(buf);
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

/* Hash range i from the image: 0 when it matches; -EBADMSG (with a
 * message naming the range) when it does not or cannot be decoded;
 * another -errno (ENOMEM, ...) when the check could not be made. */
static int check_range(struct bmap_view *v, size_t i, struct bmap_err *err)
{
	const struct bmap_range *r = &v->map->ranges[i];
	uint64_t off = bmap_range_offset(v->map, r);
	uint64_t left = bmap_range_length(v->map, r);
	unsigned char sum[BMAP_DIGEST_MAX];
	struct bmap_digest *d;
	struct bmap_err why;
	struct ahead ahead, far;
	bool helped, far_helped = false;
	uint64_t split;
	unsigned char *buf;
	char name[64];
	int ret;

	range_name(r, name, sizeof(name));
	ret = bmap_digest_new(&d, v->map->checksum_type, err);
	if (ret < 0)
		return ret;
	buf = malloc(VIEW_STEP);
	if (!buf) {
		bmap_digest_free(d);
		return bmap_seterr(err, ENOMEM, "out of memory");
	}
	why.msg[0] = '\0';
	/* A long range with a seek point in its second half, that fits the
	 * cache twice over: its second part is decoded at the same time, by
	 * a decoder of its own, and waits in the cache for the hash. */
	split = bmap_ra_point(v->ra, off + left / 2);
	if (left > 8 * VIEW_STEP && split > off + 4 * VIEW_STEP &&
	    2 * left <= bmap_ra_cache_size(v->ra))
		far_helped = ahead_start(&far, v->ra, split, off + left, true);
	else
		split = off + left;
	helped = ahead_start(&ahead, v->ra, off, split, false);
	while (left > 0) {
		size_t want = left < VIEW_STEP ? (size_t)left : VIEW_STEP;
		ssize_t n = bmap_ra_pread(v->ra, buf, want, off, &why);

		if (n == 0)
			n = bmap_seterr(&why, EBADMSG,
					"the image ends before it");
		if (n < 0) {
			ret = (int)n;
			break;
		}
		bmap_digest_update(d, buf, (size_t)n);
		off += (uint64_t)n;
		left -= (uint64_t)n;
		if (helped && off <= split)
			ahead_hashed(&ahead, off);
	}
	if (helped)
		ahead_stop(&ahead);
	if (far_helped)
		ahead_stop(&far);
	if (ret == 0) {
		bmap_digest_final(d, sum);
		if (memcmp(sum, r->digest, v->map->digest_len))
			ret = bmap_seterr(err, EBADMSG, "%s: checksum mismatch",
					  name);
	} else if (ret == -EIO || ret == -EBADMSG) {
		ret = bmap_seterr(err, EBADMSG, "%s: %s", name, why.msg);
	} else {
		ret = bmap_seterr(err, -ret, "%s", why.msg);
	}
	free(buf);
	bmap_digest_free(d);
	return ret;
}

/* Range i is known good (0), or why not: -EBADMSG found bad just now
 * (err says why, once), -EIO known bad from before. */
static int ensure_checked(struct bmap_view *v, size_t i, struct bmap_err *err)
{
	char name[64];
	int ret;

	if (!v->verify || !v->map->ranges[i].has_digest)
		return 0;
	pthread_mutex_lock(&v->lock);
	while (v->state[i] == R_CHECKING)
		pthread_cond_wait(&v->done, &v->lock);
	if (v->state[i] != R_UNCHECKED) {
		ret = v->state[i] == R_GOOD ? 0 : -EIO;
		pthread_mutex_unlock(&v->lock);
		if (ret < 0) {
			range_name(&v->map->ranges[i], name, sizeof(name));
			ret = bmap_seterr(err, EIO, "%s failed its check",
					  name);
		}
		return ret;
	}
	v->state[i] = R_CHECKING;
	pthread_mutex_unlock(&v->lock);

	ret = check_range(v, i, err);

	pthread_mutex_lock(&v->lock);
	/* A check that could not be made (out of memory) is tried again
	 * by the next read. */
	v->state[i] = ret == 0 ? R_GOOD :
		ret == -EBADMSG ? R_BAD : R_UNCHECKED;
	pthread_cond_broadcast(&v->done);
	pthread_mutex_unlock(&v->lock);
	return ret;
}

/*
 * Checking on the way: a decoder that passes through a whole range
 * (skipping to a read further on, say) hashes it as it goes, so a later
 * read of that range needs no check of its own. Only ranges nobody is
 * checking yet, and only from their first byte; a range that fails is
 * left to its first reader, which reports it.
 */
struct tap {
	size_t range;
	uint64_t next;		/* offset the digest wants next */
	struct bmap_digest *d;	/* NULL: not hashing */
};

static void tap_drop(struct tap *t)
{
	bmap_digest_free(t->d);
	t->d = NULL;
}

/* Hash what range t->range gets of buf; the bytes used. */
static size_t tap_feed(struct bmap_view *v, struct tap *t,
		       const unsigned char *buf, size_t len)
{
	const struct bmap_range *r = &v->map->ranges[t->range];
	uint64_t end = range_end(v->map, r);
	unsigned char sum[BMAP_DIGEST_MAX];
	size_t n = end - t->next < len ? (size_t)(end - t->next) : len;

	bmap_digest_update(t->d, buf, n);
	t->next += n;
	if (t->next == end) {
		bmap_digest_final(t->d, sum);
		tap_drop(t);
		if (!memcmp(sum, r->digest, v->map->digest_len)) {
			pthread_mutex_lock(&v->lock);
			if (v->state[t->range] == R_UNCHECKED)
				v->state[t->range] = R_GOOD;
			pthread_mutex_unlock(&v->lock);
		}
	}
	return n;
}

/* Start hashing range i (which starts at off) if nobody checks it yet. */
static void tap_start(struct bmap_view *v, struct tap *t, size_t i,
		      uint64_t off)
{
	unsigned char st;

	pthread_mutex_lock(&v->lock);
	st = v->state[i];
	pthread_mutex_unlock(&v->lock);
	if (st != R_UNCHECKED || !v->map->ranges[i].has_digest ||
	    bmap_digest_new(&t->d, v->map->checksum_type, NULL) < 0)
		return;
	t->range = i;
	t->next = off;
}

static void view_tap(void *ctx, void **state, uint64_t off,
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
		i = range_after(map, off);
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

/*
 * Reading in order (bmapcopy, cp, dd): while range i is read, the next
 * range is checked in the background, so that its check does not hold
 * the reader up when it gets there; what the reader has had of range i
 * is the first the cache lets go. Only when both ranges fit the cache
 * together, or the check's data would push out what is to be read. A
 * range the scout finds bad is left unchecked: the reader that gets
 * there checks it again and reports it.
 */
static void *scout_run(void *arg)
{
	struct bmap_view *v = arg;
	size_t j = v->scout_range;
	int ret = check_range(v, j, NULL);

	pthread_mutex_lock(&v->lock);
	v->state[j] = ret == 0 ? R_GOOD : R_UNCHECKED;
	v->scout_running = false;
	pthread_cond_broadcast(&v->done);
	pthread_mutex_unlock(&v->lock);
	return NULL;
}

/* Called locked, as a read enters range i. */
static void maybe_scout(struct bmap_view *v, size_t i)
{
	const struct bmap *map = v->map;
	size_t j = i + 1;
	uint64_t both;

	if (v->last == i)
		return;
	if (v->last + 1 != i && !(v->last == SIZE_MAX && i == 0)) {
		v->last = i;
		return;		/* not reading in order */
	}
	v->last = i;
	if (!v->verify || j >= map->nranges || !map->ranges[j].has_digest ||
	    v->state[j] != R_UNCHECKED || v->scout_running)
		return;
	both = bmap_range_length(map, &map->ranges[i]) +
		bmap_range_length(map, &map->ranges[j]);
	if (both > bmap_ra_cache_size(v->ra))
		return;
	if (v->scout_started)
		pthread_join(v->scout, NULL);
	v->scout_started = false;
	v->scout_range = j;
	v->state[j] = R_CHECKING;
	if (pthread_create(&v->scout, NULL, scout_run, v) == 0) {
		v->scout_started = v->scout_running = true;
	} else {
		v->state[j] = R_UNCHECKED;
	}
}

/* A read of range i: true when it is read in order, and the scout was
 * set off for the next one. */
static bool note_read(struct bmap_view *v, size_t i)
{
	bool in_order;

	pthread_mutex_lock(&v->lock);
	maybe_scout(v, i);
	in_order = v->scout_started && v->scout_range == i + 1;
	pthread_mutex_unlock(&v->lock);
	return in_order;
}

ssize_t bmap_view_read(struct bmap_view *v, void *buf, size_t len,
		       uint64_t off, struct bmap_err *err)
{
	const struct bmap *map = v->map;
	unsigned char *out = buf;
	uint64_t end, pos = off;
	bool in_order;
	size_t i;
	int ret;

	if (off >= map->image_size)
		return 0;
	end = map->image_size - off < len ? map->image_size : off + len;
	i = range_after(map, pos);
	while (pos < end) {
		const struct bmap_range *r = i < map->nranges ?
			&map->ranges[i] : NULL;
		uint64_t start = r ? bmap_range_offset(map, r) : end;
		uint64_t stop;
		ssize_t n;

		if (pos < start) {	/* a hole */
			stop = start < end ? start : end;
			memset(out + (pos - off), 0, stop - pos);
			pos = stop;
			continue;
		}
		ret = ensure_checked(v, i, err);
		if (ret < 0)
			return ret;
		in_order = v->verify && note_read(v, i);
		stop = range_end(map, r) < end ? range_end(map, r) : end;
		n = bmap_ra_pread(v->ra, out + (pos - off), stop - pos, pos,
				  err);
		if (n < 0)
			return n == -EBADMSG ? -EIO : n;
		if ((uint64_t)n != stop - pos)
			return bmap_seterr(err, EIO, "the image ends at %llu, "
					   "before its bmap says",
					   (unsigned long long)(pos + n));
		if (in_order)
			bmap_ra_done(v->ra, pos, stop - pos);
		pos = stop;
		i++;
	}
	return (ssize_t)(end - off);
}

int64_t bmap_view_seek(const struct bmap_view *v, uint64_t off, int whence)
{
	const struct bmap *map = v->map;
	size_t i;
	uint64_t end;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	if (off >= map->image_size)
		return -ENXIO;
	i = range_after(map, off);
	if (whence == SEEK_DATA) {
		if (i == map->nranges)
			return -ENXIO;
		end = bmap_range_offset(map, &map->ranges[i]);
		return (int64_t)(end > off ? end : off);
	}
	if (i == map->nranges || bmap_range_offset(map, &map->ranges[i]) > off)
		return (int64_t)off;
	/* Ranges that touch make one extent of data. */
	end = range_end(map, &map->ranges[i]);
	while (++i < map->nranges &&
	       bmap_range_offset(map, &map->ranges[i]) == end)
		end = range_end(map, &map->ranges[i]);
	return (int64_t)end;
}
