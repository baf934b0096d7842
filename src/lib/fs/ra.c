/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ra.c - random access into a compressed image: a pool of cursors
 * (decoders part-way through the image) and a bounded cache of decoded
 * chunks over the seekable formats of ra-*.c, or over bmap_source for
 * the rest (decoding from the start).
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "base/error.h"
#include "codec/codec.h"
#include "fs/cache.h"
#include "fs/ra.h"
#include "fs/ra-index.h"

/* Chunks passed this close before the one wanted are kept. */
#define RA_KEEP (8ull * RA_CHUNK)
/* Cursors kept: enough for a few interleaved sequential readers. */
#define RA_CURSORS 6
/* What a cursor may hold (a decoder's buffers, blocks decoded ahead),
 * charged against the cache size: a small cache keeps fewer cursors, so
 * that cache_size bounds the decoded data the engine holds. */
#define RA_CURSOR_COST (16ull << 20)

struct cursor {
	void *state;		/* NULL: a free slot */
	uint64_t start;		/* the seek point it started at */
	uint64_t pos;		/* image offset of its next byte */
	void *tap_state;	/* the tap's, for this cursor */
	bool busy;		/* a thread is decoding with it */
	unsigned long used;	/* tick of last use */
};

struct bmap_ra {
	int fd;
	const struct codec_seek_ops *ops;
	void *fmt;
	char format[64];
	struct ra_index *index;	/* NULL: no index kept */
	/* Why the index folder is not used ("": it is, or none was asked
	 * for): for the program to say. */
	struct bmap_err index_warning;
	uint64_t file_size;
	struct timespec file_mtime;

	pthread_mutex_t lock;
	pthread_cond_t changed;	/* a cursor was handed back */
	bool sync_made;		/* lock and changed are initialised */
	struct ra_cache cache;
	struct cursor cursors[RA_CURSORS];
	int ncursors;		/* of them used: the cache size allows */
	unsigned long tick;
	bool saved_dirty;	/* cursors may have found new points */
	/* A seek point failed a check: the index is removed, never saved
	 * (__atomic: set with or without the lock held). */
	bool index_bad;
	bmap_ra_tap_fn tap;
	void *tap_ctx;
};

/* ------------------------------------------------------------------ */
/* Opening: which format                                               */

/* Does the decoded stream start like a tar or zip archive? Then the
 * image is a file inside it, which only the sequential path (through
 * the container) finds. */
static bool holds_archive(const struct codec_seek_ops *ops, void *fmt)
{
	unsigned char head[512];
	size_t got = 0;
	uint64_t start;
	void *cur;
	ssize_t n = 1;

	if (ops->cursor_open(fmt, 0, &cur, &start, NULL) < 0)
		return false;
	while (got < sizeof(head) && n > 0) {
		n = ops->cursor_read(cur, head + got, sizeof(head) - got, NULL);
		if (n > 0)
			got += (size_t)n;
	}
	ops->cursor_close(cur);
	return codec_is_archive(head, got);
}

/* The format by its magic (the registry's table): its SEEK decoder when
 * it has one and the file has seek points, else decoding from the start
 * (the STREAM side, through bmap_source), or the plain file itself. */
static int pick_format(struct bmap_ra *ra, const char *path,
		       unsigned threads, struct bmap_err *err)
{
	unsigned char head[CODEC_HEAD_MAX];
	const struct codec *c;
	struct bmap_source *src;
	ssize_t n;
	int ret;

	do
		n = pread(ra->fd, head, sizeof(head), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return bmap_seterr(err, errno, "cannot read %s: %s", path,
				   strerror(errno));
	c = codec_find(head, (size_t)n);
	if (c->seek) {
		ret = c->seek->open(ra->fd, ra->file_size, threads, &ra->fmt,
				    err);
		if (ret < 0 && ret != -ENOTSUP)
			return ret;
		if (ret == 0 && holds_archive(c->seek, ra->fmt)) {
			c->seek->close(ra->fmt);
			ra->fmt = NULL;
		} else if (ret == 0) {
			ra->ops = c->seek;
			snprintf(ra->format, sizeof(ra->format),
				 "%s, seekable", c->name);
			return 0;
		}
	}
	/* Opened once here so that an unreadable or unknown input fails
	 * now, not at the first read. */
	ret = bmap_source_open(&src, path, threads, err);
	if (ret < 0)
		return ret;
	if (bmap_source_seekable_fd(src) >= 0) {
		bmap_source_close(src);
		ra->ops = &ra_raw_ops;
		ra->fmt = &ra->fd;
		snprintf(ra->format, sizeof(ra->format), "raw");
		return 0;
	}
	snprintf(ra->format, sizeof(ra->format), "%s, sequential",
		 bmap_source_format(src));
	bmap_source_close(src);
	ra->ops = &ra_seq_ops;
	return ra_seq_open(path, threads, &ra->fmt, err);
}

static uint64_t default_cache(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	uint64_t c = pages > 0 && size > 0 ?
		(uint64_t)pages * (uint64_t)size / 16 : 0;

	if (c < BMAP_RA_CACHE_DEFAULT_MIN)
		c = BMAP_RA_CACHE_DEFAULT_MIN;
	if (c > BMAP_RA_CACHE_DEFAULT_MAX)
		c = BMAP_RA_CACHE_DEFAULT_MAX;
	return c;
}

/* Tell the format the image's size, when every byte read is checked: a
 * format may place seek points by it, and a wrong size then costs a
 * decode (the points fail their checks and are dropped), never a byte. */
static void tell_size(struct bmap_ra *ra, const struct bmap_ra_opts *opts)
{
	if (opts->image_size && opts->verified && ra->ops->hint_size)
		ra->ops->hint_size(ra->fmt, opts->image_size);
}

/*
 * The index is only an optimisation: a folder that cannot be used leaves
 * a warning, and a missing or stale index nothing (points are found again
 * as the image is read). Points that loaded but tell an image size other
 * than the caller's are let go of the same way (the format is opened
 * again, empty), and the file is saved over at close. Fails only when
 * that second open does.
 */
static int use_index(struct bmap_ra *ra, const struct bmap_ra_opts *opts,
		     const char *path, const struct stat *st,
		     unsigned threads, struct bmap_err *err)
{
	uint64_t size;
	int ret;

	if (ra_index_open(&ra->index, opts->index_dir, ra->fd, path, st,
			  &ra->index_warning) < 0) {
		ra->index = NULL;
		return 0;
	}
	if (ra_index_load(ra->index, ra->ops, ra->fmt) < 0)
		return 0;
	size = ra->ops->size(ra->fmt);
	if (!opts->image_size || size == BMAP_SIZE_UNKNOWN ||
	    size == opts->image_size)
		return 0;
	ra->ops->close(ra->fmt);
	ra->fmt = NULL;
	ra->saved_dirty = true;
	ret = ra->ops->open(ra->fd, ra->file_size, threads, &ra->fmt, err);
	if (ret == 0)
		tell_size(ra, opts);
	return ret;
}

int bmap_ra_open(struct bmap_ra **rap, const char *path,
		 const struct bmap_ra_opts *opts, struct bmap_err *err)
{
	struct bmap_ra *ra;
	struct stat st;
	unsigned threads = opts->threads ? opts->threads : 1;
	uint64_t max;
	int ret;

	ra = calloc(1, sizeof(*ra));
	if (!ra)
		return bmap_seterr(err, ENOMEM, "out of memory");
	ra->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ra->fd < 0) {
		ret = bmap_seterr(err, errno, "cannot open %s: %s", path,
				  strerror(errno));
		free(ra);
		return ret;
	}
	if (fstat(ra->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ret = bmap_seterr(err, EINVAL, "%s: not a regular file", path);
		goto fail;
	}
	ra->file_size = (uint64_t)st.st_size;
	ra->file_mtime = st.st_mtim;
	max = opts->cache_size ? opts->cache_size : default_cache();
	if (max < BMAP_RA_CACHE_MIN)
		max = BMAP_RA_CACHE_MIN;
	ra->ncursors = max / RA_CURSOR_COST < RA_CURSORS ?
		(int)(max / RA_CURSOR_COST) : RA_CURSORS;
	if (ra->ncursors < 1)
		ra->ncursors = 1;
	if (ra_cache_init(&ra->cache, max) < 0) {
		ret = bmap_seterr(err, ENOMEM, "out of memory");
		goto fail;
	}
	pthread_mutex_init(&ra->lock, NULL);
	pthread_cond_init(&ra->changed, NULL);
	ra->sync_made = true;
	ret = pick_format(ra, path, threads, err);
	if (ret < 0) {
		ra->ops = NULL;
		goto fail;
	}
	tell_size(ra, opts);
	if (opts->index_dir && ra->ops->load) {
		ret = use_index(ra, opts, path, &st, threads, err);
		if (ret < 0) {
			ra->ops = NULL;
			goto fail;
		}
	}
	*rap = ra;
	return 0;
fail:
	bmap_ra_close(ra);
	return ret;
}

const char *bmap_ra_index_warning(const struct bmap_ra *ra)
{
	return ra->index_warning.msg[0] ? ra->index_warning.msg : NULL;
}

const char *bmap_ra_format(const struct bmap_ra *ra)
{
	return ra->format;
}

uint64_t bmap_ra_point(const struct bmap_ra *ra, uint64_t off)
{
	return ra->ops->point(ra->fmt, off);
}

uint64_t bmap_ra_cache_size(const struct bmap_ra *ra)
{
	return ra->cache.max;
}

uint64_t bmap_ra_size(const struct bmap_ra *ra)
{
	return ra->ops->size(ra->fmt);
}

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
		struct cursor *c = &ra->cursors[i];

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

/* Close a cursor's decoder, and tell the tap it is gone. */
static void cursor_end(struct bmap_ra *ra, struct cursor *c)
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
		struct cursor *c = &ra->cursors[i];

		if (!c->state && !c->busy)
			return i;
		if (!c->busy && (lru < 0 || c->used < ra->cursors[lru].used))
			lru = i;
	}
	if (lru >= 0)
		cursor_end(ra, &ra->cursors[lru]);
	return lru;
}

/* Read exactly len bytes (fewer only at the end) with cursor w (this
 * thread's copy of one held busy); w->pos follows, and the tap sees
 * every byte. */
static ssize_t cursor_fill(struct bmap_ra *ra, struct cursor *w,
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
static int read_chunk(struct bmap_ra *ra, struct cursor *w,
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
static int decode_chunk(struct bmap_ra *ra, struct cursor *w, uint64_t idx,
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
	struct cursor *c, w;
	struct ra_chunk *ch = NULL;
	uint64_t point;
	bool wait;
	int i, ret;

	*eof = false;
	for (;;) {

		if (ra_cache_get(&ra->cache, idx))
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
		cursor_end(ra, &w);

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

		c = ra_cache_get(&ra->cache, idx);
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
	while (!(c = ra_cache_get(&ra->cache, idx))) {
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
		struct cursor *c = &ra->cursors[i];

		if (c->state && !c->busy && c->start == point)
			cursor_end(ra, c);
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
		struct cursor *c = &ra->cursors[i];

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

/* ------------------------------------------------------------------ */
/* Closing                                                             */

void ra_mark_index_bad(struct bmap_ra *ra)
{
	__atomic_store_n(&ra->index_bad, true, __ATOMIC_RELEASE);
}

int bmap_ra_save_index(struct bmap_ra *ra, struct bmap_err *err)
{
	int ret;

	if (!ra->index || !ra->ops->save)
		return 0;
	/* A bad index is never saved back, nor left for the next run. */
	if (__atomic_load_n(&ra->index_bad, __ATOMIC_ACQUIRE))
		return ra_index_remove(ra->index, err);
	pthread_mutex_lock(&ra->lock);
	ret = ra->saved_dirty ? 1 : 0;
	ra->saved_dirty = false;
	pthread_mutex_unlock(&ra->lock);
	if (!ret)
		return 0;
	return ra_index_save(ra->index, ra->ops, ra->fmt, err);
}

void bmap_ra_close(struct bmap_ra *ra)
{
	int i;

	if (!ra)
		return;
	if (ra->ops) {
		bmap_ra_save_index(ra, NULL);
		for (i = 0; i < RA_CURSORS; i++)
			cursor_end(ra, &ra->cursors[i]);
		ra->ops->close(ra->fmt);
	}
	ra_cache_fini(&ra->cache);
	if (ra->sync_made) {
		pthread_mutex_destroy(&ra->lock);
		pthread_cond_destroy(&ra->changed);
	}
	ra_index_close(ra->index);
	close(ra->fd);
	free(ra);
}
