/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ra-zstd.c - seek points in zstd files: the start of every frame. A file
 * of several frames (concatenated zstd outputs, pzstd, the "seekable
 * format") can be decoded from any frame on.
 *
 * Open finds the frames without decoding: from the seek table when the
 * file ends with one (O(1)), else by walking the frames' headers and their
 * blocks' 3-byte headers, skipping skippable frames. A frame's decompressed
 * size comes from its header, or the seek table; a frame without one (zstd
 * reading a pipe writes none) has it learnt when a cursor decodes it, and
 * the seek points after it become known then; save/load keep what was
 * learnt for the next mount.
 *
 * A file cut short (the walk needs bytes past its end) keeps the frames
 * found before the cut as seek points; the rest of the file is one last
 * frame that cursors decode up to the cut and then fail with -EIO
 * "truncated zstd data", as every truncated format does. A frame that
 * is wrong rather than short still refuses the file at open.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ZSTD_STATIC_LINKING_ONLY	/* ZSTD_getFrameHeader */
#include <zstd.h>

#include "base/error.h"
#include "codec/codec.h"

/* Compressed input is read in pieces of this size. */
#define RZS_CHUNK (128 * 1024)
/* The walk reads headers through a window of this size. */
#define RZS_WIN 4096
#define RZS_UNKNOWN UINT64_MAX

#define RZS_SKIP_MAGIC 0x184D2A50u	/* 16 values: & 0xfffffff0 */
#define RZS_TABLE_MAGIC 0x184D2A5Eu	/* the seek table's skippable frame */
#define RZS_FOOTER_MAGIC 0x8F92EAB1u
#define RZS_FOOTER_LEN 9		/* frames, descriptor, magic */
/* The smallest zstd frame: magic, header of 2 bytes, an empty block. */
#define RZS_FRAME_MIN 9
/* More frames than this (40 bytes each here) is no image anyone made:
 * decode such a file sequentially rather than hold its table. */
#define RZS_FRAMES_MAX (1u << 24)

#define RZS_SAVE_HEAD "bmap-zstd-frames 1\n"

struct rzs_frame {
	uint64_t coff;		/* where it starts in the file */
	uint64_t clen;		/* its compressed length, checksum included */
	uint64_t dsize;		/* decompressed length, or RZS_UNKNOWN */
	uint64_t dmax;		/* what its blocks can hold at most, or
				 * RZS_UNKNOWN (frames from a seek table) */
	bool dropped;		/* no cursor starts here (drop_point) */
};

struct rzs {
	int fd;
	uint64_t file_size;
	struct rzs_frame *fr;	/* coff, clen, dmax: read-only after open */
	size_t n;
	pthread_mutex_t lock;	/* for fr[].dsize, .dropped, ustart, known */
	uint64_t *ustart;	/* n + 1: where each frame starts in the
				 * image, the last the image's size */
	size_t known;		/* ustart[0 .. known - 1] are known */
	bool cut;		/* the file ends inside its last frame */
};

struct rzs_cursor {
	struct rzs *z;
	ZSTD_DCtx *dctx;
	size_t i;		/* the frame being decoded */
	bool end;		/* past the last frame */
	uint64_t in_pos;	/* file offset of the frame's next input */
	uint64_t in_left;	/* the frame's input not read yet */
	uint64_t produced;	/* output of the frame so far */
	ZSTD_inBuffer in;
	unsigned char buf[RZS_CHUNK];
};

/* Headers being walked: the file through a small window. */
struct rzs_win {
	uint64_t off;
	size_t len;
	bool past_end;		/* a failure: the walk ran off the file */
	unsigned char b[RZS_WIN];
};

static uint32_t rzs_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static int rzs_pread(int fd, void *buf, size_t len, uint64_t off,
		     struct bmap_err *err)
{
	return codec_pread(fd, buf, len, off, "zstd", err);
}

/* Bytes [off, off + len) of the file (len <= RZS_WIN), through w. */
static const unsigned char *rzs_get(const struct rzs *z, struct rzs_win *w,
				    uint64_t off, size_t len,
				    struct bmap_err *err)
{
	uint64_t left;

	if (off >= w->off && off - w->off + len <= w->len)
		return w->b + (off - w->off);
	if (off > z->file_size || len > z->file_size - off) {
		w->past_end = true;
		bmap_seterr(err, EBADMSG, "corrupt zstd data: truncated "
			    "frame");
		return NULL;
	}
	left = z->file_size - off;
	w->off = off;
	w->len = left < RZS_WIN ? (size_t)left : RZS_WIN;
	if (rzs_pread(z->fd, w->b, w->len, off, err) < 0) {
		w->len = 0;
		return NULL;
	}
	return w->b;
}

static int rzs_add(struct rzs *z, size_t *cap, const struct rzs_frame *f,
		   struct bmap_err *err)
{
	if (z->n == RZS_FRAMES_MAX)
		return -ENOTSUP;
	if (z->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct rzs_frame *p = realloc(z->fr, ncap * sizeof(*p));

		if (!p)
			return bmap_seterr(err, ENOMEM, "out of memory");
		z->fr = p;
		*cap = ncap;
	}
	z->fr[z->n++] = *f;
	return 0;
}

/* The blocks of the frame whose header ends at *pos: on to its end. */
static int rzs_walk_blocks(const struct rzs *z, struct rzs_win *w,
			   uint64_t *pos, const ZSTD_frameHeader *h,
			   uint64_t *nblocks, struct bmap_err *err)
{
	const unsigned char *p;
	uint32_t hdr;

	do {
		p = rzs_get(z, w, *pos, 3, err);
		if (!p)
			return -EBADMSG;
		hdr = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
		      (uint32_t)p[2] << 16;
		if ((hdr >> 1 & 3) == 3 || (hdr >> 3) > h->blockSizeMax)
			return bmap_seterr(err, EBADMSG, "corrupt zstd data: "
					   "bad block header at offset %"
					   PRIu64, *pos);
		/* An RLE block holds one byte, the others their size. */
		*pos += 3 + ((hdr >> 1 & 3) == 1 ? 1 : hdr >> 3);
		++*nblocks;
	} while (!(hdr & 1));
	if (h->checksumFlag)
		*pos += 4;
	if (*pos > z->file_size) {
		w->past_end = true;
		return bmap_seterr(err, EBADMSG, "corrupt zstd data: "
				   "truncated frame");
	}
	return 0;
}

/* The zstd frame at *pos, added to the table. */
static int rzs_walk_frame(struct rzs *z, struct rzs_win *w, uint64_t *pos,
			  size_t *cap, struct bmap_err *err)
{
	struct rzs_frame f = { .coff = *pos };
	const unsigned char *p;
	ZSTD_frameHeader h;
	uint64_t left = z->file_size - *pos, nblocks = 0;
	size_t n = left < ZSTD_FRAMEHEADERSIZE_MAX ? (size_t)left :
		   ZSTD_FRAMEHEADERSIZE_MAX;
	size_t ret;
	int r;

	p = rzs_get(z, w, *pos, n, err);
	if (!p)
		return -EBADMSG;
	ret = ZSTD_getFrameHeader(&h, p, n);
	w->past_end = !ZSTD_isError(ret) && ret > 0 && n == left;
	if (ZSTD_isError(ret) || ret > 0 || h.frameType != ZSTD_frame)
		return bmap_seterr(err, EBADMSG, "corrupt zstd data: bad "
				   "frame header at offset %" PRIu64, *pos);
	*pos += h.headerSize;
	r = rzs_walk_blocks(z, w, pos, &h, &nblocks, err);
	if (r < 0)
		return r;
	f.clen = *pos - f.coff;
	f.dmax = nblocks * h.blockSizeMax;
	f.dsize = h.frameContentSize == ZSTD_CONTENTSIZE_UNKNOWN ?
		  RZS_UNKNOWN : h.frameContentSize;
	if (f.dsize != RZS_UNKNOWN && f.dsize > f.dmax)
		return bmap_seterr(err, EBADMSG, "corrupt zstd data: frame "
				   "at offset %" PRIu64 " larger than its "
				   "blocks", f.coff);
	return rzs_add(z, cap, &f, err);
}

/* The file ends inside the frame at pos: the rest of the file is one last
 * frame, decoded up to the cut. */
static int rzs_add_cut(struct rzs *z, size_t *cap, uint64_t pos,
		       struct bmap_err *err)
{
	struct rzs_frame f = {
		.coff = pos, .clen = z->file_size - pos,
		.dsize = RZS_UNKNOWN, .dmax = RZS_UNKNOWN,
	};

	z->cut = true;
	return rzs_add(z, cap, &f, err);
}

/* Every frame from the start: -ENOTSUP when the file is not zstd. */
static int rzs_walk(struct rzs *z, struct bmap_err *err)
{
	struct rzs_win *w = malloc(sizeof(*w));
	uint64_t pos = 0, at;
	size_t cap = 0;
	int r = 0;

	if (!w)
		return bmap_seterr(err, ENOMEM, "out of memory");
	w->len = 0;
	w->off = 0;
	w->past_end = false;
	while (pos < z->file_size && r == 0) {
		const unsigned char *p = rzs_get(z, w, pos, 4, err);
		uint32_t magic = p ? rzs_le32(p) : 0;

		at = pos;
		if (!p && w->past_end && z->n > 0) {
			r = -EBADMSG;
		} else if (magic == ZSTD_MAGICNUMBER) {
			r = rzs_walk_frame(z, w, &pos, &cap, err);
		} else if ((magic & 0xfffffff0u) == RZS_SKIP_MAGIC) {
			p = rzs_get(z, w, pos + 4, 4, err);
			if (p && rzs_le32(p) > z->file_size - pos - 8)
				w->past_end = true;
			if (!p || rzs_le32(p) > z->file_size - pos - 8)
				r = bmap_seterr(err, EBADMSG, "corrupt zstd "
						"data: truncated skippable "
						"frame");
			else
				pos += 8 + rzs_le32(p);
		} else if (z->n == 0) {
			r = -ENOTSUP;
		} else {
			r = bmap_seterr(err, EBADMSG, "corrupt zstd data: "
					"unknown data at offset %" PRIu64,
					pos);
		}
		/* Cut short after a frame: keep what was found. */
		if (r == -EBADMSG && w->past_end && z->n > 0)
			r = rzs_add_cut(z, &cap, at, err) < 0 ? -ENOMEM : 1;
	}
	if (r == 1)
		r = 0;
	if (r == 0 && z->n == 0)
		r = -ENOTSUP;	/* only skippable frames: not zstd */
	free(w);
	return r;
}

/* The frames from the seek table at the end of the file, if it has one
 * that fits it: 1 when read, 0 when there is none (walk the frames). */
static int rzs_seek_table(struct rzs *z, struct bmap_err *err)
{
	unsigned char foot[RZS_FOOTER_LEN], head[8], *t;
	uint64_t count, esize, tlen, off = 0;
	bool fits = true;
	size_t i;
	int r;

	if (z->file_size < sizeof(foot) + sizeof(head) ||
	    rzs_pread(z->fd, foot, sizeof(foot),
		      z->file_size - sizeof(foot), NULL) < 0 ||
	    rzs_le32(foot + 5) != RZS_FOOTER_MAGIC || (foot[4] & 0x7c))
		return 0;
	count = rzs_le32(foot);
	esize = foot[4] & 0x80 ? 12 : 8;
	tlen = count * esize + sizeof(foot);
	if (count < 1 || count > RZS_FRAMES_MAX ||
	    tlen + sizeof(head) > z->file_size ||
	    rzs_pread(z->fd, head, sizeof(head),
		      z->file_size - tlen - sizeof(head), NULL) < 0 ||
	    rzs_le32(head) != RZS_TABLE_MAGIC || rzs_le32(head + 4) != tlen)
		return 0;
	t = malloc((size_t)(tlen - sizeof(foot)));
	z->fr = calloc((size_t)count, sizeof(*z->fr));
	if (!t || !z->fr) {
		free(t);
		return bmap_seterr(err, ENOMEM, "out of memory");
	}
	r = rzs_pread(z->fd, t, (size_t)(tlen - sizeof(foot)),
		      z->file_size - tlen, err);
	for (i = 0; i < count && r == 0; i++) {
		z->fr[i].coff = off;
		z->fr[i].clen = rzs_le32(t + i * esize);
		z->fr[i].dsize = rzs_le32(t + i * esize + 4);
		z->fr[i].dmax = RZS_UNKNOWN;
		off += z->fr[i].clen;
		if (z->fr[i].clen < RZS_FRAME_MIN)
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
	return 1;
}

/* Extend the known starts over the frames whose size is now known. */
static void rzs_extend(struct rzs *z)
{
	while (z->known <= z->n && z->fr[z->known - 1].dsize != RZS_UNKNOWN) {
		z->ustart[z->known] = z->ustart[z->known - 1] +
				      z->fr[z->known - 1].dsize;
		z->known++;
	}
}

static void rzs_free(struct rzs *z)
{
	pthread_mutex_destroy(&z->lock);
	free(z->fr);
	free(z->ustart);
	free(z);
}

static int rzs_open(int fd, uint64_t file_size, unsigned threads,
		    void **fmt, struct bmap_err *err)
{
	unsigned char head[4];
	struct rzs *z;
	uint32_t magic;
	int r;

	(void)threads;	/* one frame at a time per cursor */
	if (file_size < sizeof(head) ||
	    rzs_pread(fd, head, sizeof(head), 0, NULL) < 0)
		return -ENOTSUP;
	magic = rzs_le32(head);
	if (magic != ZSTD_MAGICNUMBER &&
	    (magic & 0xfffffff0u) != RZS_SKIP_MAGIC)
		return -ENOTSUP;
	z = calloc(1, sizeof(*z));
	if (!z)
		return bmap_seterr(err, ENOMEM, "out of memory");
	z->fd = fd;
	z->file_size = file_size;
	pthread_mutex_init(&z->lock, NULL);
	r = magic == ZSTD_MAGICNUMBER ? rzs_seek_table(z, err) : 0;
	if (r == 0)
		r = rzs_walk(z, err);
	if (r >= 0 && z->n < 2)
		r = -ENOTSUP;	/* one frame: no seek point but 0 */
	if (r >= 0) {
		z->ustart = calloc(z->n + 1, sizeof(*z->ustart));
		if (!z->ustart)
			r = bmap_seterr(err, ENOMEM, "out of memory");
	}
	if (r < 0) {
		rzs_free(z);
		return r;
	}
	z->known = 1;
	rzs_extend(z);
	*fmt = z;
	return 0;
}

static uint64_t rzs_size(void *fmt)
{
	struct rzs *z = fmt;
	uint64_t size;

	pthread_mutex_lock(&z->lock);
	size = z->known == z->n + 1 ? z->ustart[z->n] : BMAP_SIZE_UNKNOWN;
	pthread_mutex_unlock(&z->lock);
	return size;
}

/* The last frame whose start is known and at or before off (the lock
 * held). */
static size_t rzs_find(const struct rzs *z, uint64_t off)
{
	size_t lo = 0, hi = z->known < z->n ? z->known : z->n;

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

static uint64_t rzs_point(void *fmt, uint64_t off)
{
	struct rzs *z = fmt;
	uint64_t pt;

	pthread_mutex_lock(&z->lock);
	pt = z->ustart[rzs_find(z, off)];
	pthread_mutex_unlock(&z->lock);
	return pt;
}

/* Frames are found from the file, not learnt: one dropped stays so (a
 * cursor decoding through it is unaffected). */
static void rzs_drop_point(void *fmt, uint64_t off)
{
	struct rzs *z = fmt;
	size_t i;

	if (off == 0)
		return;
	pthread_mutex_lock(&z->lock);
	for (i = 1; i < z->known && i < z->n; i++)
		if (z->ustart[i] == off)
			z->fr[i].dropped = true;
	pthread_mutex_unlock(&z->lock);
}

/* Start decoding frame i (or end when there is none). */
static void rzs_frame_start(struct rzs_cursor *c, size_t i)
{
	c->i = i;
	c->end = i >= c->z->n;
	if (c->end)
		return;
	c->in_pos = c->z->fr[i].coff;
	c->in_left = c->z->fr[i].clen;
	c->produced = 0;
	c->in.src = c->buf;
	c->in.size = 0;
	c->in.pos = 0;
	ZSTD_DCtx_reset(c->dctx, ZSTD_reset_session_only);
}

static int rzs_cursor_open(void *fmt, uint64_t off, void **cur,
			   uint64_t *start, struct bmap_err *err)
{
	struct rzs *z = fmt;
	struct rzs_cursor *c;
	size_t i;

	c = malloc(sizeof(*c));
	if (!c)
		return bmap_seterr(err, ENOMEM, "out of memory");
	c->z = z;
	c->dctx = ZSTD_createDCtx();
	if (!c->dctx) {
		free(c);
		return bmap_seterr(err, ENOMEM, "out of memory");
	}
	pthread_mutex_lock(&z->lock);
	i = rzs_find(z, off);
	*start = z->ustart[i];
	pthread_mutex_unlock(&z->lock);
	rzs_frame_start(c, i);
	*cur = c;
	return 0;
}

static int rzs_fill(struct rzs_cursor *c, struct bmap_err *err)
{
	size_t n;
	int r;

	if (c->in.pos < c->in.size || c->in_left == 0)
		return 0;
	n = c->in_left < RZS_CHUNK ? (size_t)c->in_left : RZS_CHUNK;
	r = rzs_pread(c->z->fd, c->buf, n, c->in_pos, err);
	if (r < 0)
		return r;
	c->in.size = n;
	c->in.pos = 0;
	c->in_pos += n;
	c->in_left -= n;
	return 0;
}

/* The decoder finished frame c->i: it must have used all of it and made
 * what its size says; a size not known before is learnt now. */
static int rzs_frame_end(struct rzs_cursor *c, struct bmap_err *err)
{
	struct rzs *z = c->z;
	struct rzs_frame *f = &z->fr[c->i];
	int r = 0;

	if (c->in.pos < c->in.size || c->in_left > 0)
		return bmap_seterr(err, EBADMSG, "corrupt zstd data: frame at "
				   "offset %" PRIu64 " ends early", f->coff);
	pthread_mutex_lock(&z->lock);
	if (f->dsize == RZS_UNKNOWN && c->produced <= f->dmax) {
		f->dsize = c->produced;
		rzs_extend(z);
	} else if (f->dsize != c->produced) {
		r = bmap_seterr(err, EBADMSG, "corrupt zstd data: frame at "
				"offset %" PRIu64 " holds %" PRIu64 " bytes, "
				"not %" PRIu64, f->coff, c->produced,
				f->dsize);
	}
	pthread_mutex_unlock(&z->lock);
	if (r == 0)
		rzs_frame_start(c, c->i + 1);
	return r;
}

static ssize_t rzs_cursor_read(void *cur, void *buf, size_t len,
			       struct bmap_err *err)
{
	struct rzs_cursor *c = cur;
	ZSTD_outBuffer out = { buf, len, 0 };
	size_t ret, before;
	int r;

	while (out.pos < out.size && !c->end) {
		r = rzs_fill(c, err);
		if (r < 0)
			return r;
		before = out.pos;
		ret = ZSTD_decompressStream(c->dctx, &out, &c->in);
		if (ZSTD_isError(ret))
			return bmap_seterr(err, EBADMSG, "corrupt zstd data: "
					   "%s", ZSTD_getErrorName(ret));
		c->produced += out.pos - before;
		if (ret == 0) {
			r = rzs_frame_end(c, err);
			if (r < 0)
				return r;
		} else if (c->in.pos == c->in.size && c->in_left == 0 &&
			   out.pos < out.size) {
			/* All of the frame given, room left, no end: the
			 * file's cut, or a frame shorter than its blocks
			 * said. */
			if (c->z->cut && c->i + 1 == c->z->n)
				return bmap_seterr(err, EIO, "truncated zstd "
						   "data");
			return bmap_seterr(err, EBADMSG, "corrupt zstd data: "
					   "truncated frame");
		}
	}
	return (ssize_t)out.pos;
}

static void rzs_cursor_close(void *cur)
{
	struct rzs_cursor *c = cur;

	ZSTD_freeDCtx(c->dctx);
	free(c);
}

/* FNV-1a: catches a saved table damaged since (a size cannot be checked
 * against the file without decoding the frames before it). */
static uint64_t rzs_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	while (len--)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ull;
	return h;
}

/* What was learnt: the size of every frame ("-" unknown), as text. */
static int rzs_save(void *fmt, struct strbuf *out)
{
	struct rzs *z = fmt;
	size_t i, from = out->len;

	pthread_mutex_lock(&z->lock);
	strbuf_addf(out, "%sframes %zu %" PRIu64 "\n", RZS_SAVE_HEAD, z->n,
		    z->fr[z->n - 1].coff + z->fr[z->n - 1].clen);
	for (i = 0; i < z->n; i++) {
		if (z->fr[i].dsize == RZS_UNKNOWN)
			strbuf_add(out, "-\n");
		else
			strbuf_addf(out, "%" PRIu64 "\n", z->fr[i].dsize);
	}
	pthread_mutex_unlock(&z->lock);
	if (out->error)
		return out->error;
	strbuf_addf(out, "check %016" PRIx64 "\n",
		    rzs_hash(out->buf + from, out->len - from));
	return out->error;
}

/* One line of a saved table: a size, or "-" (as RZS_UNKNOWN). */
static int rzs_parse_line(const char **p, uint64_t *v)
{
	const char *s = *p;
	char *end;

	if (s[0] == '-' && s[1] == '\n') {
		*v = RZS_UNKNOWN;
		*p = s + 2;
		return 0;
	}
	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno || *end != '\n' || *v == RZS_UNKNOWN)
		return -1;
	*p = end + 1;
	return 0;
}

/* Check every saved size against the frames: all or nothing. */
static int rzs_check_saved(const struct rzs *z, const char *p, uint64_t *v)
{
	const char *start = p;
	char head[128];
	size_t i;

	snprintf(head, sizeof(head), "%sframes %zu %" PRIu64 "\n",
		 RZS_SAVE_HEAD, z->n,
		 z->fr[z->n - 1].coff + z->fr[z->n - 1].clen);
	if (strncmp(p, head, strlen(head)) != 0)
		return -1;
	p += strlen(head);
	for (i = 0; i < z->n; i++) {
		if (rzs_parse_line(&p, &v[i]) < 0)
			return -1;
		if (v[i] == RZS_UNKNOWN)
			continue;
		if (z->fr[i].dsize != RZS_UNKNOWN ? v[i] != z->fr[i].dsize :
		    v[i] > z->fr[i].dmax)
			return -1;
	}
	snprintf(head, sizeof(head), "check %016" PRIx64 "\n",
		 rzs_hash(start, (size_t)(p - start)));
	return strcmp(p, head) ? -1 : 0;
}

static int rzs_load(void *fmt, const void *buf, size_t len,
		    struct bmap_err *err)
{
	struct rzs *z = fmt;
	uint64_t *v = malloc(z->n * sizeof(*v));
	char *text = malloc(len + 1);
	size_t i;
	int r;

	if (!v || !text) {
		free(v);
		free(text);
		return bmap_seterr(err, ENOMEM, "out of memory");
	}
	if (len > 0)
		memcpy(text, buf, len);
	text[len] = '\0';
	pthread_mutex_lock(&z->lock);
	r = strlen(text) != len || rzs_check_saved(z, text, v) < 0 ?
	    bmap_seterr(err, EINVAL, "saved zstd frame sizes do not fit "
			"the file") : 0;
	for (i = 0; i < z->n && r == 0; i++)
		if (z->fr[i].dsize == RZS_UNKNOWN)
			z->fr[i].dsize = v[i];
	if (r == 0)
		rzs_extend(z);
	pthread_mutex_unlock(&z->lock);
	free(v);
	free(text);
	return r;
}

static void rzs_close(void *fmt)
{
	rzs_free(fmt);
}

const struct codec_seek_ops ra_zstd_ops = {
	.name = "zstd",
	.open = rzs_open,
	.size = rzs_size,
	.point = rzs_point,
	.drop_point = rzs_drop_point,
	.cursor_open = rzs_cursor_open,
	.cursor_read = rzs_cursor_read,
	.cursor_close = rzs_cursor_close,
	.save = rzs_save,
	.load = rzs_load,
	.close = rzs_close,
};
