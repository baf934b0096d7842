/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * view.c - an image as its bmap says it is: holes are zeros that cost
 * nothing, and a mapped range's bytes are handed out only after the whole
 * range has matched its checksum. Each range is checked once, by the
 * first read that touches it (others wanting it wait), and its verdict is
 * remembered.
 *
 * What is handed out is never trusted for having been checked once: the
 * check also keeps a SHA-256 of each *piece* of the range (the part of it
 * inside one cache chunk), with the serial of the chunk it hashed. A read
 * is served from a chunk whose serial is the one its piece was hashed in
 * (the very bytes the check saw, still in memory), or else the piece is
 * hashed again from the chunk it is served from and compared. A chunk
 * decoded again from a bad seek point, or from an image file changed
 * since, is caught there: it costs an EIO (logged) or a decode from an
 * earlier point, never a wrong byte.
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

/* A piece: the part of a range inside one chunk of BMAP_RA_CHUNK. */
#define PIECE BMAP_RA_CHUNK
#define PIECE_SUM 32		/* SHA-256 */
/* Times a read decodes a piece again after a seek point failed. */
#define RETRIES 8

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

static void view_tap(void *ctx, void **state, uint64_t off,
		     const unsigned char *buf, size_t len);

static uint64_t range_end(const struct bmap *map, const struct bmap_range *r)
{
	return bmap_range_offset(map, r) + bmap_range_length(map, r);
}

/* Pieces of range r. */
static size_t pieces_of(const struct bmap *map, const struct bmap_range *r)
{
	return (size_t)((range_end(map, r) - 1) / PIECE -
			bmap_range_offset(map, r) / PIECE + 1);
}

/* The piece of range i that holds off. */
static struct piece *piece_at(const struct bmap_view *v, size_t i,
			      uint64_t off)
{
	uint64_t first = bmap_range_offset(v->map, &v->map->ranges[i]);

	return &v->pieces[v->first_piece[i] + (off / PIECE - first / PIECE)];
}

/* [*from, *to): the piece of range i that holds off. */
static void piece_span(const struct bmap_view *v, size_t i, uint64_t off,
		       uint64_t *from, uint64_t *to)
{
	const struct bmap_range *r = &v->map->ranges[i];
	uint64_t lo = off - off % PIECE, hi = lo + PIECE;
	uint64_t start = bmap_range_offset(v->map, r);
	uint64_t end = range_end(v->map, r);

	*from = start > lo ? start : lo;
	*to = end < hi ? end : hi;
}

static int alloc_pieces(struct bmap_view *v)
{
	const struct bmap *map = v->map;
	size_t i, n = 0;

	v->first_piece = calloc(map->nranges ? map->nranges : 1,
				sizeof(*v->first_piece));
	if (!v->first_piece)
		return -ENOMEM;
	for (i = 0; i < map->nranges; i++) {
		v->first_piece[i] = n;
		n += pieces_of(map, &map->ranges[i]);
	}
	v->pieces = calloc(n ? n : 1, sizeof(*v->pieces));
	return v->pieces ? 0 : -ENOMEM;
}

int bmap_view_open(struct bmap_view **viewp, struct bmap_ra *ra,
		   const struct bmap *map, bool verify, struct bmap_err *err)
{
	struct bmap_view *v = calloc(1, sizeof(*v));

	if (v) {
		v->map = map;
		v->state = calloc(map->nranges ? map->nranges : 1, 1);
	}
	if (!v || !v->state || alloc_pieces(v) < 0) {
		if (v) {
			free(v->state);
			free(v->first_piece);
		}
		free(v);
		return bmap_seterr(err, ENOMEM, "out of memory");
	}
	v->ra = ra;
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
	free(v->first_piece);
	free(v->pieces);
	free(v);
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
};

/* Hash range i once, piece by piece: 0 (p->match tells the verdict), or
 * -errno with the reason in why when it could not be decoded. */
static int hash_range(struct bmap_view *v, size_t i, struct pass *p,
		      struct bmap_err *why)
{
	const struct bmap_range *r = &v->map->ranges[i];
	uint64_t off = bmap_range_offset(v->map, r), end = range_end(v->map, r);
	unsigned char sum[BMAP_DIGEST_MAX];
	struct bmap_digest *d, *pd;
	struct ahead ahead, far;
	bool helped, far_helped = false;
	uint64_t split;
	int ret;

	p->n = 0;
	p->match = false;
	ret = bmap_digest_new(&d, v->map->checksum_type, why);
	if (ret < 0)
		return ret;
	ret = bmap_digest_new(&pd, "sha256", why);
	if (ret < 0) {
		bmap_digest_free(d);
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
		bmap_digest_update(d, b, (size_t)(to - off));
		bmap_digest_update(pd, b, (size_t)(to - off));
		bmap_digest_final(pd, p->sums[p->n].sum);
		p->sums[p->n].serial = ref.serial;
		bmap_ra_put(v->ra, &ref);
		p->seen[p->n++] = ref;
		off = to;
		if (helped && off <= split)
			ahead_hashed(&ahead, off);
	}
	if (helped)
		ahead_stop(&ahead);
	if (far_helped)
		ahead_stop(&far);
	if (ret == 0) {
		bmap_digest_final(d, sum);
		p->match = !memcmp(sum, r->digest, v->map->digest_len);
	}
	bmap_digest_free(pd);
	bmap_digest_free(d);
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
static int check_range(struct bmap_view *v, size_t i, struct piece *sums,
		       struct bmap_err *err)
{
	size_t n = pieces_of(v->map, &v->map->ranges[i]);
	struct pass p = { .sums = sums };
	struct bmap_err why;
	char name[64];
	int ret, tries;

	range_name(&v->map->ranges[i], name, sizeof(name));
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
		ret = bmap_seterr(err, EBADMSG, "%s: checksum mismatch", name);
	else if (ret == -EIO || ret == -EBADMSG)
		ret = bmap_seterr(err, EBADMSG, "%s: %s", name, why.msg);
	else if (ret < 0)
		ret = bmap_seterr(err, -ret, "%s", why.msg);
	return ret;
}

/* Called locked: range i passed, its pieces are sums. */
static void set_good(struct bmap_view *v, size_t i, const struct piece *sums)
{
	memcpy(&v->pieces[v->first_piece[i]], sums,
	       pieces_of(v->map, &v->map->ranges[i]) * sizeof(*sums));
	v->state[i] = R_GOOD;
}

/* Range i is known good (0), or why not: -EBADMSG found bad just now
 * (err says why, once), -EIO known bad from before. */
static int ensure_checked(struct bmap_view *v, size_t i, struct bmap_err *err)
{
	struct piece *sums;
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

	sums = malloc(pieces_of(v->map, &v->map->ranges[i]) * sizeof(*sums));
	ret = sums ? check_range(v, i, sums, err) :
		bmap_seterr(err, ENOMEM, "out of memory");

	pthread_mutex_lock(&v->lock);
	/* A check that could not be made (out of memory) is tried again
	 * by the next read. */
	if (ret == 0)
		set_good(v, i, sums);
	else
		v->state[i] = ret == -EBADMSG ? R_BAD : R_UNCHECKED;
	pthread_cond_broadcast(&v->done);
	pthread_mutex_unlock(&v->lock);
	free(sums);
	return ret;
}

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
			set_good(v, t->range, t->sums);
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
	struct piece *sums = malloc(pieces_of(v->map, &v->map->ranges[j]) *
				    sizeof(*sums));
	int ret = sums ? check_range(v, j, sums, NULL) : -ENOMEM;

	pthread_mutex_lock(&v->lock);
	if (ret == 0)
		set_good(v, j, sums);
	else
		v->state[j] = R_UNCHECKED;
	v->scout_running = false;
	pthread_cond_broadcast(&v->done);
	pthread_mutex_unlock(&v->lock);
	free(sums);
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

/* Is the held chunk's piece [from, to) of range i what its check saw?
 * Yes at once when it is the chunk the check hashed (or one hashed
 * since); else its bytes are hashed now and compared. */
static bool piece_holds(struct bmap_view *v, size_t i,
			const struct bmap_ra_ref *ref, uint64_t from,
			uint64_t to)
{
	struct piece *p = piece_at(v, i, from);
	unsigned char sum[BMAP_DIGEST_MAX];
	struct bmap_digest *d;
	bool same;

	pthread_mutex_lock(&v->lock);
	same = p->serial == ref->serial;
	pthread_mutex_unlock(&v->lock);
	if (same)
		return true;
	if (ref->off + ref->len < to ||
	    bmap_digest_new(&d, "sha256", NULL) < 0)
		return false;
	bmap_digest_update(d, ref->data + (from - ref->off),
			   (size_t)(to - from));
	bmap_digest_final(d, sum);
	bmap_digest_free(d);
	if (memcmp(sum, p->sum, PIECE_SUM))
		return false;
	pthread_mutex_lock(&v->lock);
	p->serial = ref->serial;
	pthread_mutex_unlock(&v->lock);
	return true;
}

/* Copy [pos, stop) of range i into out, each piece from a chunk that
 * holds what the range's check saw (when it is checked): 0, or -errno
 * with err saying why. A piece that does not hold it is decoded again
 * while that drops a seek point; then the read fails with -EBADMSG. */
static int serve(struct bmap_view *v, size_t i, unsigned char *out,
		 uint64_t pos, uint64_t stop, struct bmap_err *err)
{
	bool check = v->verify && v->map->ranges[i].has_digest;
	int tries = 0, ret;

	while (pos < stop) {
		struct bmap_ra_ref ref;
		uint64_t from, to, n;
		bool again;

		ret = bmap_ra_get(v->ra, pos, &ref, err);
		if (ret < 0)
			return ret;
		if (ref.off + ref.len <= pos) {
			bmap_ra_put(v->ra, &ref);
			return bmap_seterr(err, EBADMSG, "the image ends at "
					   "%llu, before its bmap says",
					   (unsigned long long)(ref.off +
								ref.len));
		}
		piece_span(v, i, pos, &from, &to);
		if (check && !piece_holds(v, i, &ref, from, to)) {
			again = bmap_ra_reject(v->ra, &ref);
			bmap_ra_put(v->ra, &ref);
			if (again && ++tries <= RETRIES)
				continue;
			return bmap_seterr(err, EBADMSG, "the bytes at %llu-%llu "
					   "are not those its check saw (the "
					   "image changed since)",
					   (unsigned long long)from,
					   (unsigned long long)to - 1);
		}
		n = ref.off + ref.len < stop ? ref.off + ref.len - pos :
			stop - pos;
		memcpy(out, ref.data + (pos - ref.off), (size_t)n);
		bmap_ra_put(v->ra, &ref);
		out += n;
		pos += n;
	}
	return 0;
}

/* Serving range i failed: it fails from now on; -EBADMSG (report it,
 * err says why and where), or -EIO when another read reported it. */
static int serve_failed(struct bmap_view *v, size_t i, int ret,
			struct bmap_err *err)
{
	char name[64], why[BMAP_ERR_MAX];
	bool first;

	if (ret != -EIO && ret != -EBADMSG)
		return ret;
	pthread_mutex_lock(&v->lock);
	first = v->state[i] != R_BAD;
	v->state[i] = R_BAD;
	pthread_mutex_unlock(&v->lock);
	range_name(&v->map->ranges[i], name, sizeof(name));
	if (!first)
		return bmap_seterr(err, EIO, "%s failed before", name);
	if (err)
		snprintf(why, sizeof(why), "%s", err->msg);
	return bmap_seterr(err, EBADMSG, "%s: %s", name, why);
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
		ret = serve(v, i, out + (pos - off), pos, stop, err);
		if (ret < 0)
			return serve_failed(v, i, ret, err);
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
