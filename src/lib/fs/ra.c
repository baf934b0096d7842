/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ra.c - random access into a compressed image: reads through a pool of
 * cursors (decoders part-way through the image) into the bounded cache
 * of decoded chunks (cache.c). ra-open.c opens the engine: the format,
 * the cache size, the index file.
 *
 * A read wants whole chunks. A cached chunk is copied out; a missing one
 * is decoded by the cursor that gets there cheapest: an idle cursor at or
 * before it that is at least as far on as the format's last seek point
 * before it; else, if a busy cursor would be such a one, the read waits
 * for it (a sequential reader's next chunk is then decoded once, not
 * twice, and a sequential format is not restarted from 0); else a new
 * cursor at that seek point.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/types.h>

#include "base/error.h"
#include "codec/codec.h"
#include "fs/cache.h"
#include "fs/ra.h"
#include "fs/ra-int.h"

/* ------------------------------------------------------------------ */
/* Cursors                                                             */

/* Called locked. The idle cursor to decode chunk offset off with, or -1;
 * *wait set when a busy cursor would serve better than anything idle. */
static int pick_cursor(struct bmap_ra *ra, uint64_t off, uint64_t point,
		       bool *wait)
{
	int best = -1, i;

	*wait = false;
	for (i = 0; i < RA_CURSORS; i++) {
		struct ra_cursor *c = &ra->cursors[i];

		if ((!c->state && !c->busy) || c->pos > off || c->pos < point)
			continue;
		if (c->busy) {
			*wait = true;
			continue;
		}
		if (best < 0 || c->pos > ra->cursors[best].pos)
			best = i;
	}
	if (best >= 0)
		*wait = false;
	return best;
}

void ra_cursor_end(struct bmap_ra *ra, struct ra_cursor *c)
{
	if (c->state)
		ra->ops->cursor_close(c->state);
	if (ra->tap && c->tap_state)
		ra->tap(ra->tap_ctx, &c->tap_state, 0, NULL, 0);
	c->state = NULL;
	c->tap_state = NULL;
}

/* Called locked: a slot for a new cursor (closing the least recently
 * used idle one if all are taken), or -1 when every cursor is busy. */
static int free_slot(struct bmap_ra *ra)
{
	int i, lru = -1;

	for (i = 0; i < ra->ncursors; i++) {
		struct ra_cursor *c = &ra->cursors[i];

		if (!c->state && !c->busy)
			return i;
		if (!c->busy && (lru < 0 || c->used < ra->cursors[lru].used))
			lru = i;
	}
	if (lru >= 0)
		ra_cursor_end(ra, &ra->cursors[lru]);
	return lru;
}

/* Read exactly len bytes (fewer only at the end) with cursor w (this
 * thread's copy of one held busy); w->pos follows, and the tap sees
 * every byte. */
static ssize_t cursor_fill(struct bmap_ra *ra, struct ra_cursor *w,
			   unsigned char *buf, size_t len,
			   struct bmap_err *err)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = ra->ops->cursor_read(w->state, buf + got,
						 len - got, err);
		if (n < 0)
			return n;
		if (n == 0)
			break;
		if (ra->tap)
			ra->tap(ra->tap_ctx, &w->tap_state, w->pos, buf + got,
				(size_t)n);
		got += (size_t)n;
		w->pos += (uint64_t)n;
	}
	return (ssize_t)got;
}

/* Read the whole chunk at *pos (chunk-aligned) into ch; 0 (ch->len 0)
 * when the image ends there. */
static int read_chunk(struct bmap_ra *ra, struct ra_cursor *w,
		      struct ra_chunk *ch, struct bmap_err *err)
{
	ssize_t n;

	ch->idx = w->pos / RA_CHUNK;
	ch->point = w->start;
	n = cursor_fill(ra, w, ch->data, RA_CHUNK, err);
	if (n < 0)
		return (int)n;
	ch->len = (size_t)n;
	return 0;
}

/*
 * Decode chunk idx with cursor w (this thread's copy of one held busy):
 * skip up to the chunk,
 * then read it. Chunks passed within RA_KEEP of it are cached too:
 * parallel readers (the kernel's readahead among them) ask for nearby
 * chunks a little out of order, and one that was skipped could
 * otherwise cost a decode from far back.
 */
static int decode_chunk(struct bmap_ra *ra, struct ra_cursor *w, uint64_t idx,
			struct ra_chunk **out, struct bmap_err *err)
{
	uint64_t off = idx * RA_CHUNK;
	struct ra_chunk *ch = ra_chunk_new();
	ssize_t n;
	int ret;

	if (!ch)
		return bmap_seterr(err, ENOMEM, "out of memory");
	*out = NULL;
	while (w->pos < off) {
		uint64_t skip = off - w->pos;

		if (w->pos % RA_CHUNK == 0 && skip <= RA_KEEP) {
			ret = read_chunk(ra, w, ch, err);
			if (ret < 0 || ch->len < RA_CHUNK)
				goto done;
			pthread_mutex_lock(&ra->lock);
			ra_cache_add(&ra->cache, ch);
			pthread_mutex_unlock(&ra->lock);
			ch = ra_chunk_new();
			if (!ch)
				return bmap_seterr(err, ENOMEM, "out of memory");
			continue;
		}
		if (skip > RA_CHUNK - w->pos % RA_CHUNK)
			skip = RA_CHUNK - w->pos % RA_CHUNK;
		n = cursor_fill(ra, w, ch->data, (size_t)skip, err);
		if (n <= 0) {
			ret = (int)n;	/* 0: the image ends before it */
			goto done;
		}
	}
	ret = read_chunk(ra, w, ch, err);
	if (ret == 0 && ch->len > 0) {
		*out = ch;
		return 0;
	}
done:
	ra_chunk_free(ch);
	return ret;
}

/* Called locked, returns locked: make chunk idx cached, or *eof when the
 * image ends before it. */
static int fetch_chunk(struct bmap_ra *ra, uint64_t idx, bool *eof,
		       struct bmap_err *err)
{
	uint64_t off = idx * RA_CHUNK;
	struct ra_cursor *c, w;
	struct ra_chunk *ch = NULL;
	uint64_t point;
	bool wait;
	int i, ret;

	*eof = false;
	for (;;) {

		if (ra_cache_lookup(&ra->cache, idx))
			return 0;
		point = ra->ops->point(ra->fmt, off);
		i = pick_cursor(ra, off, point, &wait);
		if (i >= 0 || !wait) {
			if (i < 0)
				i = free_slot(ra);
			if (i >= 0)
				break;
		}
		pthread_cond_wait(&ra->changed, &ra->lock);
	}
	c = &ra->cursors[i];
	c->busy = true;
	c->used = ++ra->tick;
	if (!c->state)
		c->pos = point;	/* where the new one will start */
	w = *c;
	pthread_mutex_unlock(&ra->lock);

	ret = 0;
	if (!w.state) {
		ret = ra->ops->cursor_open(ra->fmt, off, &w.state, &w.pos,
					   err);
		w.start = w.pos;
	}
	if (ret == 0)
		ret = decode_chunk(ra, &w, idx, &ch, err);
	if (ret < 0)	/* a cursor that failed is in no state to go on */
		ra_cursor_end(ra, &w);

	pthread_mutex_lock(&ra->lock);
	w.busy = false;
	*c = w;
	ra->saved_dirty = true;
	if (ret == 0 && ch)
		ra_cache_add(&ra->cache, ch);
	else if (ret == 0)
		*eof = true;
	pthread_cond_broadcast(&ra->changed);
	return ret;
}

ssize_t bmap_ra_pread(struct bmap_ra *ra, void *buf, size_t len,
		      uint64_t off, struct bmap_err *err)
{
	unsigned char *out = buf;
	size_t done = 0;
	int ret = 0;

	pthread_mutex_lock(&ra->lock);
	while (done < len) {
		uint64_t pos = off + done;
		uint64_t idx = pos / RA_CHUNK;
		size_t in = (size_t)(pos % RA_CHUNK), n;
		struct ra_chunk *c;
		bool eof;

		c = ra_cache_lookup(&ra->cache, idx);
		if (!c) {
			ret = fetch_chunk(ra, idx, &eof, err);
			if (ret < 0 || eof)
				break;
			continue;
		}
		if (in >= c->len)
			break;
		n = c->len - in;
		if (n > len - done)
			n = len - done;
		memcpy(out + done, c->data + in, n);
		done += n;
		if (c->len < RA_CHUNK && in + n == c->len)
			break;	/* the image's last chunk */
	}
	pthread_mutex_unlock(&ra->lock);
	return ret < 0 ? ret : (ssize_t)done;
}

int bmap_ra_get(struct bmap_ra *ra, uint64_t off, struct bmap_ra_ref *ref,
		struct bmap_err *err)
{
	uint64_t idx = off / RA_CHUNK;
	struct ra_chunk *c;
	bool eof = false;
	int ret = 0;

	memset(ref, 0, sizeof(*ref));
	ref->off = idx * RA_CHUNK;
	pthread_mutex_lock(&ra->lock);
	while (!(c = ra_cache_lookup(&ra->cache, idx))) {
		ret = fetch_chunk(ra, idx, &eof, err);
		if (ret < 0 || eof)
			break;
	}
	if (c) {
		ra_cache_hold(c);
		ref->data = c->data;
		ref->len = c->len;
		ref->serial = c->serial;
		ref->point = c->point;
		ref->chunk = c;
	}
	pthread_mutex_unlock(&ra->lock);
	return ret;
}

void bmap_ra_put(struct bmap_ra *ra, struct bmap_ra_ref *ref)
{
	struct ra_chunk *c = ref->chunk;

	if (!c)
		return;
	pthread_mutex_lock(&ra->lock);
	ra_cache_release(c);
	pthread_mutex_unlock(&ra->lock);
	ref->chunk = NULL;
	ref->data = NULL;
}

/* Called locked: forget seek point point, and the idle decoders that
 * started there; true when it was one the format could forget. */
static bool drop_point(struct bmap_ra *ra, uint64_t point)
{
	int i;

	if (point == 0 || !ra->ops->drop_point)
		return false;
	/* Already gone when another reader dropped it first: a new decode
	 * still starts before it. */
	if (ra->ops->point(ra->fmt, point) == point)
		ra->ops->drop_point(ra->fmt, point);
	ra_mark_index_bad(ra);
	for (i = 0; i < RA_CURSORS; i++) {
		struct ra_cursor *c = &ra->cursors[i];

		if (c->state && !c->busy && c->start == point)
			ra_cursor_end(ra, c);
	}
	return true;
}

bool bmap_ra_reject(struct bmap_ra *ra, const struct bmap_ra_ref *ref)
{
	bool again;

	pthread_mutex_lock(&ra->lock);
	ra_cache_reject(&ra->cache, ref->off / RA_CHUNK, ref->serial);
	again = drop_point(ra, ref->point);
	pthread_mutex_unlock(&ra->lock);
	return again;
}

void bmap_ra_set_tap(struct bmap_ra *ra, bmap_ra_tap_fn tap, void *ctx)
{
	int i;

	pthread_mutex_lock(&ra->lock);
	/* The old tap lets go of what it kept for each decoder. */
	for (i = 0; i < RA_CURSORS; i++) {
		struct ra_cursor *c = &ra->cursors[i];

		while (c->busy)
			pthread_cond_wait(&ra->changed, &ra->lock);
		if (ra->tap && c->tap_state)
			ra->tap(ra->tap_ctx, &c->tap_state, 0, NULL, 0);
		c->tap_state = NULL;
	}
	ra->tap = tap;
	ra->tap_ctx = ctx;
	pthread_mutex_unlock(&ra->lock);
}

void bmap_ra_done(struct bmap_ra *ra, uint64_t off, uint64_t len)
{
	uint64_t idx = (off + RA_CHUNK - 1) / RA_CHUNK;

	pthread_mutex_lock(&ra->lock);
	for (; (idx + 1) * RA_CHUNK <= off + len; idx++)
		ra_cache_demote(&ra->cache, idx);
	pthread_mutex_unlock(&ra->lock);
}
