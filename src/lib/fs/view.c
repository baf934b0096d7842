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

#include "base/error.h"
#include "bmap/verify.h"
#include "fs/view-int.h"

/* Times a read decodes a piece again after a seek point failed. */
#define RETRIES 8

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
			verify_range_name(&v->map->ranges[i], name,
					  sizeof(name));
			ret = bmap_seterr(err, EIO, "%s failed its check",
					  name);
		}
		return ret;
	}
	v->state[i] = R_CHECKING;
	pthread_mutex_unlock(&v->lock);

	sums = malloc(pieces_of(v->map, &v->map->ranges[i]) * sizeof(*sums));
	ret = sums ? view_check_range(v, i, sums, err) :
		bmap_seterr(err, ENOMEM, "out of memory");

	pthread_mutex_lock(&v->lock);
	/* A check that could not be made (out of memory) is tried again
	 * by the next read. */
	if (ret == 0)
		view_set_good(v, i, sums);
	else
		v->state[i] = ret == -EBADMSG ? R_BAD : R_UNCHECKED;
	pthread_cond_broadcast(&v->done);
	pthread_mutex_unlock(&v->lock);
	free(sums);
	return ret;
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
	int ret = sums ? view_check_range(v, j, sums, NULL) : -ENOMEM;

	pthread_mutex_lock(&v->lock);
	if (ret == 0)
		view_set_good(v, j, sums);
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
	verify_range_name(&v->map->ranges[i], name, sizeof(name));
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
	i = verify_range_after(map, pos);
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
	i = verify_range_after(map, off);
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
