/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * zstd-seek.c - the SEEK side of the zstd module: seek points at the
 * start of every frame, so a file of several frames (concatenated zstd
 * outputs, pzstd, the "seekable format") can be decoded from any frame
 * on, and a file of one frame from its start.
 *
 * Open finds the frames without decoding (zstd-walk.c): from the seek
 * table when the file ends with one (O(1)), else by walking the frames'
 * headers and their blocks' 3-byte headers, skipping skippable frames.
 * A frame's decompressed size comes from its header, or the seek table;
 * a frame without one (zstd reading a pipe writes none) has it learnt when a
 * cursor decodes it, and the seek points after it become known then;
 * save/load keep what was learnt for the next mount (codec/seekidx.h).
 *
 * The walk stops at the first bytes that are not a whole frame: a frame
 * cut short, a broken header, padding, garbage. What follows is the
 * *tail*, one more seek point, which cursors decode with the same
 * decoder as bmapcopy's STREAM side (zstd.c): the same bytes up to the
 * same error, "truncated zstd data" for a file cut short. So the file
 * always opens; damage is reported where the data is read.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "codec/codec.h"
#include "codec/seekidx.h"
#include "codec/zstd.h"

/* Cursors read the file in pieces of this size. */
#define ZST_CHUNK (128 * 1024)
/* Saved points: coff, clen, dsize (ZST_UNKNOWN: not learnt). */
#define ZST_SAVE_FIELDS 3

struct zstd_cursor {
	struct zstd_seek *z;
	size_t i;		/* the frame decoded or next (n: the tail) */
	uint64_t in_pos;	/* file offset of the next input */
	uint64_t at;		/* image offset of the next output */
	struct zstd_dec dec;
};

/* Extend the known starts over the frames whose size is now known (the
 * lock held, or at open); the image's size with them when the tail is
 * clean. */
static void zstd_extend(struct zstd_seek *z)
{
	while (z->known <= z->n &&
	       z->fr[z->known - 1].dsize != ZST_UNKNOWN) {
		z->ustart[z->known] = z->ustart[z->known - 1] +
				      z->fr[z->known - 1].dsize;
		z->known++;
	}
	if (z->known == z->n + 1 && z->tail_clean)
		z->end = z->ustart[z->n];
}

static void zstd_seek_free(struct zstd_seek *z)
{
	pthread_mutex_destroy(&z->lock);
	free(z->fr);
	free(z->ustart);
	free(z);
}

static int zstd_seek_open(int fd, uint64_t file_size, unsigned threads,
			  void **fmt, struct bmap_err *err)
{
	unsigned char head[4];
	struct zstd_seek *z;
	int r;

	(void)threads;	/* one frame at a time per cursor */
	if (file_size < sizeof(head) ||
	    codec_pread(fd, head, sizeof(head), 0, "zstd", NULL) < 0 ||
	    (!zstd_is_frame(head) && !zstd_is_skippable(head)))
		return -ENOTSUP;
	z = calloc(1, sizeof(*z));
	if (!z)
		return bmap_seterr(err, ENOMEM, "out of memory");
	z->fd = fd;
	z->file_size = file_size;
	z->end = ZST_UNKNOWN;
	pthread_mutex_init(&z->lock, NULL);
	r = zstd_frames_find(z, zstd_is_frame(head), err);
	/* Only skippable frames: not zstd data. */
	if (r >= 0 && z->n == 0 && z->fr[0].clen == 0)
		r = -ENOTSUP;
	if (r >= 0) {
		z->npoints = z->n + (z->fr[z->n].clen > 0);
		z->ustart = calloc(z->n + 1, sizeof(*z->ustart));
		if (!z->ustart)
			r = bmap_seterr(err, ENOMEM, "out of memory");
	}
	if (r < 0) {
		zstd_seek_free(z);
		return r;
	}
	z->known = 1;
	zstd_extend(z);
	*fmt = z;
	return 0;
}

static uint64_t zstd_seek_size(void *fmt)
{
	struct zstd_seek *z = fmt;
	uint64_t size;

	pthread_mutex_lock(&z->lock);
	size = z->end == ZST_UNKNOWN ? BMAP_SIZE_UNKNOWN : z->end;
	pthread_mutex_unlock(&z->lock);
	return size;
}

/* The last point whose start is known and at or before off (the lock
 * held). */
static size_t zstd_find(const struct zstd_seek *z, uint64_t off)
{
	size_t lo = 0, hi = z->known < z->npoints ? z->known : z->npoints;

	/* ustart[lo] <= off; the answer is below hi */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (z->ustart[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	while (lo > 0 && z->fr[lo].dropped)
		lo--;
	return lo;
}

static uint64_t zstd_seek_point(void *fmt, uint64_t off)
{
	struct zstd_seek *z = fmt;
	uint64_t pt;

	pthread_mutex_lock(&z->lock);
	pt = z->ustart[zstd_find(z, off)];
	pthread_mutex_unlock(&z->lock);
	return pt;
}

/* Frames are found from the file, not learnt: one dropped stays so (a
 * cursor decoding through it is unaffected). */
static void zstd_seek_drop_point(void *fmt, uint64_t off)
{
	struct zstd_seek *z = fmt;
	size_t i;

	if (off == 0)
		return;
	pthread_mutex_lock(&z->lock);
	for (i = 1; i < z->known && i < z->npoints; i++)
		if (z->ustart[i] == off)
			z->fr[i].dropped = true;
	pthread_mutex_unlock(&z->lock);
}

static ssize_t zstd_cursor_fill(void *src, void *buf, size_t len,
				struct bmap_err *err)
{
	struct zstd_cursor *c = src;
	uint64_t left = c->z->file_size - c->in_pos;
	int r;

	if (len > left)
		len = (size_t)left;
	r = codec_pread(c->z->fd, buf, len, c->in_pos, "zstd", err);
	if (r < 0)
		return r;
	c->in_pos += len;
	return (ssize_t)len;
}

/* The decoder finished a frame: if it is frame c->i, it must end where
 * the walk (or the seek table) said and make what its size says; a size
 * not known before is learnt now. */
static int zstd_cursor_frame_end(void *arg, uint64_t coff, uint64_t cend,
				 uint64_t produced, struct bmap_err *err)
{
	struct zstd_cursor *c = arg;
	struct zstd_seek *z = c->z;
	struct zstd_frame *f = &z->fr[c->i];
	int r = 0;

	if (c->i >= z->n)
		return 0;	/* in the tail: no points there */
	if (coff != f->coff || cend != f->coff + f->clen)
		return codec_corrupt(err, "zstd", "frame at offset %" PRIu64
				     " does not end at %" PRIu64, f->coff,
				     f->coff + f->clen);
	pthread_mutex_lock(&z->lock);
	if (f->dsize == ZST_UNKNOWN && produced <= f->dmax) {
		f->dsize = produced;
		zstd_extend(z);
	} else if (f->dsize != produced) {
		r = codec_corrupt(err, "zstd", "frame at offset %" PRIu64
				  " holds %" PRIu64 " bytes, not %" PRIu64,
				  f->coff, produced, f->dsize);
	}
	pthread_mutex_unlock(&z->lock);
	c->i++;
	return r;
}

static int zstd_cursor_open(void *fmt, uint64_t off, void **cur,
			    uint64_t *start, struct bmap_err *err)
{
	struct zstd_seek *z = fmt;
	struct zstd_cursor *c;
	int r;

	c = malloc(sizeof(*c));
	if (!c)
		return bmap_seterr(err, ENOMEM, "out of memory");
	c->z = z;
	pthread_mutex_lock(&z->lock);
	c->i = zstd_find(z, off);
	c->at = *start = z->ustart[c->i];
	pthread_mutex_unlock(&z->lock);
	c->in_pos = z->fr[c->i].coff;
	r = zstd_dec_init(&c->dec, zstd_cursor_fill, c, c->in_pos, ZST_CHUNK,
			  err);
	if (r < 0) {
		free(c);
		return r;
	}
	c->dec.frame_end = zstd_cursor_frame_end;
	c->dec.arg = c;
	*cur = c;
	return 0;
}

static ssize_t zstd_cursor_read(void *cur, void *buf, size_t len,
				struct bmap_err *err)
{
	struct zstd_cursor *c = cur;
	struct zstd_seek *z = c->z;
	ssize_t n = zstd_dec_read(&c->dec, buf, len, err);

	if (n > 0) {
		c->at += (uint64_t)n;
	} else if (n == 0 && len > 0) {
		pthread_mutex_lock(&z->lock);
		if (z->end == ZST_UNKNOWN)
			z->end = c->at;
		pthread_mutex_unlock(&z->lock);
	}
	return n;
}

static void zstd_cursor_close(void *cur)
{
	struct zstd_cursor *c = cur;

	zstd_dec_free(&c->dec);
	free(c);
}

/* What was learnt: every frame, with its size where known. */
static int zstd_seek_save(void *fmt, struct strbuf *out)
{
	struct zstd_seek *z = fmt;
	struct seekidx_out o;
	size_t i;

	pthread_mutex_lock(&z->lock);
	seekidx_begin(&o, out, "zstd", ZST_SAVE_FIELDS);
	for (i = 0; i < z->n; i++) {
		uint64_t f[ZST_SAVE_FIELDS] = {
			z->fr[i].coff, z->fr[i].clen, z->fr[i].dsize,
		};

		seekidx_put(&o, f, NULL, 0);
	}
	pthread_mutex_unlock(&z->lock);
	return seekidx_end(&o);
}

/* Check every saved frame against the file's: all or nothing. */
static int zstd_check_saved(const struct zstd_seek *z, const void *buf,
			    size_t len, uint64_t *v, struct bmap_err *err)
{
	uint64_t f[ZST_SAVE_FIELDS];
	struct seekidx_in in;
	const void *blob;
	uint32_t bl;
	size_t i;
	int r = seekidx_open(&in, buf, len, "zstd", ZST_SAVE_FIELDS, err);

	if (r < 0)
		return r;
	if (seekidx_count(&in) != z->n)
		goto bad;
	for (i = 0; i < z->n; i++) {
		const struct zstd_frame *fr = &z->fr[i];

		if (seekidx_next(&in, f, &blob, &bl) != 1 || bl ||
		    f[0] != fr->coff || f[1] != fr->clen)
			goto bad;
		v[i] = f[2];
		if (v[i] != ZST_UNKNOWN &&
		    (fr->dsize != ZST_UNKNOWN ? v[i] != fr->dsize :
		     fr->dmax != ZST_UNKNOWN && v[i] > fr->dmax))
			goto bad;
	}
	if (seekidx_next(&in, f, &blob, &bl) == 0)
		return 0;
bad:
	return bmap_seterr(err, EINVAL, "saved zstd frame sizes do not fit "
			   "the file");
}

static int zstd_seek_load(void *fmt, const void *buf, size_t len,
			  struct bmap_err *err)
{
	struct zstd_seek *z = fmt;
	uint64_t *v = malloc((z->n + 1) * sizeof(*v));
	size_t i;
	int r;

	if (!v)
		return bmap_seterr(err, ENOMEM, "out of memory");
	pthread_mutex_lock(&z->lock);
	r = zstd_check_saved(z, buf, len, v, err);
	for (i = 0; i < z->n && r == 0; i++)
		if (z->fr[i].dsize == ZST_UNKNOWN)
			z->fr[i].dsize = v[i];
	if (r == 0)
		zstd_extend(z);
	pthread_mutex_unlock(&z->lock);
	free(v);
	return r;
}

static void zstd_seek_close(void *fmt)
{
	zstd_seek_free(fmt);
}

const struct codec_seek_ops zstd_seek_ops = {
	.name = "zstd",
	.open = zstd_seek_open,
	.size = zstd_seek_size,
	.point = zstd_seek_point,
	.drop_point = zstd_seek_drop_point,
	.cursor_open = zstd_cursor_open,
	.cursor_read = zstd_cursor_read,
	.cursor_close = zstd_cursor_close,
	.save = zstd_seek_save,
	.load = zstd_seek_load,
	.close = zstd_seek_close,
};
