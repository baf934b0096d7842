/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * zstd-walk.c - the frames of a zstd file, found without decoding (for
 * zstd-seek.c): from the seek table at the end of the file (zstd's
 * "seekable format"), or by walking the frames' headers and their blocks'
 * 3-byte headers, skippable frames skipped. The walk stops at the first
 * bytes that are not a whole frame; the rest of the file is the tail.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ZSTD_STATIC_LINKING_ONLY	/* ZSTD_getFrameHeader */
#include <zstd.h>

#include "base/error.h"
#include "codec/codec.h"
#include "codec/zstd.h"

/* The walk reads headers through a window of this size. */
#define ZST_WIN 4096

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

int zstd_frames_find(struct zstd_seek *z, bool table, struct bmap_err *err)
{
	int r = table ? zstd_seek_table(z, err) : 0;

	if (r == 0)
		r = zstd_walk(z, err);
	if (r < 0)
		return r;
	z->tail_clean = zstd_tail_clean(z);
	return 0;
}
