/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * zstd-seek.c - the SEEK side of the zstd module: seek points at the
 * start of every frame, so a file of several frames (concatenated zstd
 * outputs, pzstd, the "seekable format") can be decoded from any frame
 * on, and a file of one frame from its start.
 *
 * Open finds the frames without decoding: from the seek table when the
 * file ends with one (O(1)), else by walking the frames' headers and
 * their blocks' 3-byte headers, skipping skippable frames. A frame's
 * decompressed size comes from its header, or the seek table; a frame
 * without one (zstd reading a pipe writes none) has it learnt when a
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

#define ZSTD_STATIC_LINKING_ONLY	/* ZSTD_getFrameHeader */
#include <zstd.h>

#include "base/error.h"
#include "codec/codec.h"
#include "codec/seekidx.h"
#include "codec/zstd.h"

/* Cursors read the file in pieces of this size. */
#define ZST_CHUNK (128 * 1024)
/* The walk reads headers through a window of this size. */
#define ZST_WIN 4096
#define ZST_UNKNOWN UINT64_MAX

#define ZST_TABLE_MAGIC 0x184D2A5Eu	/* the seek table's skippable frame */
#define ZST_FOOTER_MAGIC 0x8F92EAB1u
#define ZST_FOOTER_LEN 9		/* frames, descriptor, magic */
/* The smallest zstd frame: magic, header of 2 bytes, an empty block. */
#define ZST_FRAME_MIN 9
/* More frames than this (40 bytes each here) is no image anyone made:
 * the walk stops there, the rest of the file is the tail. */
#define ZST_FRAMES_MAX (1u << 24)
/* A tail of at most this many zero bytes is seen as padding at open. */
#define ZST_PAD_CHECK (64 * 1024)
/* Saved points: coff, clen, dsize (ZST_UNKNOWN: not learnt). */
#define ZST_SAVE_FIELDS 3

struct zstd_frame {
	uint64_t coff;		/* where it starts in the file */
	uint64_t clen;		/* its compressed length, checksum included */
	uint64_t dsize;		/* decompressed length, or ZST_UNKNOWN */
	uint64_t dmax;		/* what its blocks can hold at most, or
				 * ZST_UNKNOWN (frames from a seek table) */
	bool dropped;		/* no cursor starts here (drop_point) */
};

struct zstd_seek {
	int fd;
	uint64_t file_size;
	/* fr[0 .. n-1]: the frames; fr[n]: the tail (clen 0 when there is
	 * none); coff, clen, dmax read-only after open. */
	struct zstd_frame *fr;
	size_t n;
	size_t npoints;		/* n, and 1 for a tail */
	bool tail_clean;	/* no tail, or zero bytes only */
	pthread_mutex_t lock;	/* for fr[].dsize, .dropped, ustart, known,
				 * end */
	uint64_t *ustart;	/* n + 1: where each frame starts in the
				 * image, then the tail */
	size_t known;		/* ustart[0 .. known - 1] are known */
	uint64_t end;		/* the image's size, or ZST_UNKNOWN */
};

struct zstd_cursor {
	struct zstd_seek *z;
	size_t i;		/* the frame decoded or next (n: the tail) */
	uint64_t in_pos;	/* file offset of the next input */
	uint64_t at;		/* image offset of the next output */
	struct zstd_dec dec;
};

/* Headers being walked: the file through a small window. */
struct zstd_win {
	uint64_t off;
	size_t len;
	unsigned char b[ZST_WIN];
};

/* Bytes [off, off + len) of the file (len <= ZST_WIN) through w; NULL
 * when the file ends before (*r 0) or cannot be read (*r < 0). */
static const unsigned char *zstd_win_get(const struct zstd_seek *z,
					 struct zstd_win *w, uint64_t off,
					 size_t len, int *r,
					 struct bmap_err *err)
{
	uint64_t left;

	*r = 0;
	if (off >= w->off && off - w->off + len <= w->len)
		return w->b + (off - w->off);
	if (off > z->file_size || len > z->file_size - off)
		return NULL;
	left = z->file_size - off;
	w->off = off;
	w->len = left < ZST_WIN ? (size_t)left : ZST_WIN;
	*r = codec_pread(z->fd, w->b, w->len, off, "zstd", err);
	if (*r < 0) {
		w->len = 0;
		return NULL;
	}
	return w->b;
}

static int zstd_add(struct zstd_seek *z, size_t *cap,
		    const struct zstd_frame *f, struct bmap_err *err)
{
	if (z->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct zstd_frame *p = realloc(z->fr, ncap * sizeof(*p));

		if (!p)
			return bmap_seterr(err, ENOMEM, "out of memory");
		z->fr = p;
		*cap = ncap;
	}
	z->fr[z->n++] = *f;
	return 0;
}

/* The blocks of the frame whose header ends at *pos, on to its end: 1
 * when they fit the file, 0 when not (the tail starts at the frame). */
static int zstd_walk_blocks(const struct zstd_seek *z, struct zstd_win *w,
			    uint64_t *pos, const ZSTD_frameHeader *h,
			    uint64_t *nblocks, struct bmap_err *err)
{
	const unsigned char *p;
	uint32_t hdr;
	int r;

	do {
		p = zstd_win_get(z, w, *pos, 3, &r, err);
		if (!p)
			return r;
		hdr = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
		      (uint32_t)p[2] << 16;
		if ((hdr >> 1 & 3) == 3 || (hdr >> 3) > h->blockSizeMax)
			return 0;
		/* An RLE block holds one byte, the others their size. */
		*pos += 3 + ((hdr >> 1 & 3) == 1 ? 1 : hdr >> 3);
		++*nblocks;
	} while (!(hdr & 1));
	if (h->checksumFlag)
		*pos += 4;
	return *pos <= z->file_size;
}

/* The zstd frame at *pos: 1 when it was whole and is added, 0 when the
 * tail starts at it, -errno. */
static int zstd_walk_frame(struct zstd_seek *z, struct zstd_win *w,
			   uint64_t *pos, size_t *cap, struct bmap_err *err)
{
	struct zstd_frame f = { .coff = *pos };
	const unsigned char *p;
	ZSTD_frameHeader h;
	uint64_t left = z->file_size - *pos, nblocks = 0, end = *pos;
	size_t n = left < ZSTD_FRAMEHEADERSIZE_MAX ? (size_t)left :
		   ZSTD_FRAMEHEADERSIZE_MAX;
	size_t ret;
	int r;

	p = zstd_win_get(z, w, *pos, n, &r, err);
	if (!p)
		return r;
	ret = ZSTD_getFrameHeader(&h, p, n);
	if (ZSTD_isError(ret) || ret > 0 || h.frameType != ZSTD_frame)
		return 0;
	end += h.headerSize;
	r = zstd_walk_blocks(z, w, &end, &h, &nblocks, err);
	if (r <= 0)
		return r;
	f.clen = end - f.coff;
	f.dmax = nblocks * h.blockSizeMax;
	f.dsize = h.frameContentSize == ZSTD_CONTENTSIZE_UNKNOWN ?
		  ZST_UNKNOWN : h.frameContentSize;
	if (f.dsize != ZST_UNKNOWN && f.dsize > f.dmax)
		return 0;
	r = zstd_add(z, cap, &f, err);
	*pos = end;
	return r < 0 ? r : 1;
}

/* Every whole frame from the start; z->fr[z->n].coff is then where the
 * walk stopped. */
static int zstd_walk(struct zstd_seek *z, struct bmap_err *err)
{
	struct zstd_win *w = malloc(sizeof(*w));
	uint64_t pos = 0;
	size_t cap = 0;
	int r = 1;

	if (!w)
		return bmap_seterr(err, ENOMEM, "out of memory");
	w->len = 0;
	w->off = 0;
	while (pos < z->file_size && r == 1 && z->n < ZST_FRAMES_MAX) {
		const unsigned char *p = zstd_win_get(z, w, pos, 8, &r, err);

		if (!p)
			break;
		r = 0;
		if (zstd_is_frame(p)) {
			r = zstd_walk_frame(z, w, &pos, &cap, err);
		} else if (zstd_is_skippable(p) &&
			   zstd_le32(p + 4) <= z->file_size - pos - 8) {
			pos += 8 + zstd_le32(p + 4);
			r = 1;
		}
	}
	free(w);
	/* Room for the tail, and where it starts. */
	if (r >= 0) {
		struct zstd_frame t = { .coff = pos, .dsize = ZST_UNKNOWN,
					.dmax = ZST_UNKNOWN };

		t.clen = z->file_size - pos;
		r = zstd_add(z, &cap, &t, err);
		z->n--;
	}
	return r < 0 ? r : 0;
}

/* The frames from the seek table at the end of the file, if it has one
 * that fits it: 1 when read, 0 when there is none (walk the frames). */
static int zstd_seek_table(struct zstd_seek *z, struct bmap_err *err)
{
	unsigned char foot[ZST_FOOTER_LEN], head[8], *t;
	uint64_t count, esize, tlen, off = 0;
	bool fits = true;
	size_t i;
	int r;

	if (z->file_size < sizeof(foot) + sizeof(head) ||
	    codec_pread(z->fd, foot, sizeof(foot),
			z->file_size - sizeof(foot), "zstd", NULL) < 0 ||
	    zstd_le32(foot + 5) != ZST_FOOTER_MAGIC || (foot[4] & 0x7c))
		return 0;
	count = zstd_le32(foot);
	esize = foot[4] & 0x80 ? 12 : 8;
	tlen = count * esize + sizeof(foot);
	if (count < 1 || count > ZST_FRAMES_MAX ||
	    tlen + sizeof(head) > z->file_size ||
	    codec_pread(z->fd, head, sizeof(head),
			z->file_size - tlen - sizeof(head), "zstd", NULL) < 0 ||
	    zstd_le32(head) != ZST_TABLE_MAGIC || zstd_le32(head + 4) != tlen)
		return 0;
	t = malloc((size_t)(tlen - sizeof(foot)));
	z->fr = calloc((size_t)count + 1, sizeof(*z->fr));
	if (!t || !z->fr) {
		free(t);
		return bmap_seterr(err, ENOMEM, "out of memory");
	}
	r = codec_pread(z->fd, t, (size_t)(tlen - sizeof(foot)),
			z->file_size - tlen, "zstd", err);
	for (i = 0; i < count && r == 0; i++) {
		z->fr[i].coff = off;
		z->fr[i].clen = zstd_le32(t + i * esize);
		z->fr[i].dsize = zstd_le32(t + i * esize + 4);
		z->fr[i].dmax = ZST_UNKNOWN;
		off += z->fr[i].clen;
		if (z->fr[i].clen < ZST_FRAME_MIN)
			fits = false;	/* not a frame: not a table */
	}
	free(t);
	if (r < 0)
		return r;
	/* The frames must fill the file up to the table exactly. */
	if (!fits || off != z->file_size - tlen - sizeof(head)) {
		free(z->fr);
		z->fr = NULL;
		return 0;
	}
	z->n = count;
	z->fr[count].coff = z->file_size;	/* no tail */
	z->fr[count].dsize = z->fr[count].dmax = ZST_UNKNOWN;
	return 1;
}

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

/* A tail of a few zero bytes is padding: the image ends before it. */
static bool zstd_tail_clean(const struct zstd_seek *z)
{
	const struct zstd_frame *t = &z->fr[z->n];
	unsigned char b[ZST_PAD_CHECK];
	size_t i;

	if (t->clen == 0)
		return true;
	if (t->clen > sizeof(b) ||
	    codec_pread(z->fd, b, (size_t)t->clen, t->coff, "zstd", NULL) < 0)
		return false;
	for (i = 0; i < t->clen; i++)
		if (b[i])
			return false;
	return true;
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
	r = zstd_is_frame(head) ? zstd_seek_table(z, err) : 0;
	if (r == 0)
		r = zstd_walk(z, err);
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
	z->tail_clean = zstd_tail_clean(z);
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
