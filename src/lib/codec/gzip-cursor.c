/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * gzip-cursor.c - SEEK cursors over a gzip file's seek points
 * (gzip-seek.c). A cursor opened at the last known point inflates raw
 * deflate with zlib's Z_BLOCK, which stops at every block end, and once
 * past GZIP_SPAN bytes beyond the furthest point known it records one
 * there (its window compressed). Cursors that start where more points
 * are known (nothing to record) decode with ISA-L instead, about three
 * times faster. Member headers, trailers, padding and every error are
 * gzip-member.c's, the same as the STREAM decoder's.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/crc.h>
#include <zlib.h>

#include "base/error.h"
#include "codec/gzip.h"

#define GZIP_C_CHUNK (256u * 1024)

struct gzip_cursor {
	struct gzip_fmt *f;
	z_stream zs;
	struct inflate_state *isal;	/* NULL: zlib decodes */
	enum gzip_phase phase;
	struct gzip_fail fail;
	unsigned stalls;	/* decoder calls in a row that moved nothing */
	struct gzip_in in;	/* the bytes of buf not yet used */
	uint64_t in_pos;	/* file offset of the byte after buf's */
	uint64_t hdr_pos;	/* GZIP_P_HEADER: where the header starts */
	uint64_t out;		/* image offset of the next output byte */
	uint64_t mstart;	/* image offset of this member's start */
	uint32_t crc;		/* of this member's output so far */
	uint64_t next_rec;	/* no point worth recording before this */
	struct gzip_hdr hdr;
	struct gzip_trl trl;
	unsigned char win[GZIP_WIN];
	unsigned char buf[GZIP_C_CHUNK];
};

/* The next chunk of the file once the last one is used up. */
static int gzip_cursor_fill(struct gzip_cursor *c, struct bmap_err *err)
{
	uint64_t left = c->f->file_size - c->in_pos;
	size_t n = left < GZIP_C_CHUNK ? (size_t)left : GZIP_C_CHUNK;
	int ret;

	if (c->in.avail > 0 || c->in.eof)
		return 0;
	if (n > 0 && (ret = codec_pread(c->f->fd, c->buf, n, c->in_pos,
					"gzip", err)) < 0)
		return ret;
	c->in_pos += n;
	c->in = (struct gzip_in){ c->buf, n, c->in_pos == c->f->file_size };
	return 0;
}

/* ---- recording points ---- */

static int gzip_record_error(int ret, struct bmap_err *err)
{
	return bmap_seterr(err, -ret, "cannot record a gzip seek point");
}

/*
 * Record a point at the member start the cursor is at, if it is new. An
 * ISA-L cursor records no block points: past a span beyond the last
 * point it must not add a member start either, or the block points that
 * belong before it would never be recorded.
 */
static int gzip_record_member(struct gzip_cursor *c)
{
	struct gzip_fmt *f = c->f;
	struct gzip_point p = { .out = c->out, .in = c->hdr_pos,
				.mstart = c->out, .member = true };
	const struct gzip_point *last;
	int ret = 0;

	pthread_mutex_lock(&f->lock);
	last = gzip_last(f);
	if (c->out > last->out && (!c->isal || c->out < last->out + GZIP_SPAN))
		ret = gzip_append(f, &p);
	c->next_rec = gzip_last(f)->out + GZIP_SPAN;
	pthread_mutex_unlock(&f->lock);
	return ret;
}

/* At a block boundary at or past next_rec: a point, unless another
 * cursor went further meanwhile. */
static int gzip_record_block(struct gzip_cursor *c)
{
	struct gzip_fmt *f = c->f;
	struct gzip_point p = { .out = c->out, .mstart = c->mstart,
				.crc = c->crc };
	uLongf blen;
	uInt wraw = 0;
	bool want;
	int ret = 0;

	pthread_mutex_lock(&f->lock);
	want = c->out >= gzip_last(f)->out + GZIP_SPAN;
	c->next_rec = gzip_last(f)->out + GZIP_SPAN;
	pthread_mutex_unlock(&f->lock);
	if (!want)
		return 0;
	if (inflateGetDictionary(&c->zs, c->win, &wraw) != Z_OK)
		return -EIO;
	if (wraw > 0) {
		blen = compressBound(wraw);
		p.win = malloc(blen);
		if (!p.win)
			return -ENOMEM;
		if (compress2(p.win, &blen, c->win, wraw, GZIP_WIN_LEVEL)
		    != Z_OK) {
			free(p.win);
			return -ENOMEM;
		}
		p.wraw = wraw;
		p.wlen = (uint32_t)blen;
	}
	p.in = c->in_pos - c->in.avail;
	p.bits = (uint8_t)(c->zs.data_type & 7);

	pthread_mutex_lock(&f->lock);
	if (c->out >= gzip_last(f)->out + GZIP_SPAN) {
		ret = gzip_append(f, &p);
		if (ret == 0)
			p.win = NULL;
	}
	c->next_rec = gzip_last(f)->out + GZIP_SPAN;
	pthread_mutex_unlock(&f->lock);
	free(p.win);
	return ret;
}

/* ---- decoding ---- */

/* A member header starts at the next byte. */
static void gzip_cursor_header(struct gzip_cursor *c)
{
	c->hdr_pos = c->in_pos - c->in.avail;
	gzip_hdr_init(&c->hdr, c->hdr_pos == 0);
	c->phase = GZIP_P_HEADER;
}

/* The header is whole: record its member, then inflate. */
static int gzip_cursor_member(struct gzip_cursor *c, struct bmap_err *err)
{
	int ret = gzip_record_member(c);

	if (ret < 0)
		return gzip_record_error(ret, err);
	if (c->isal) {
		isal_inflate_reset(c->isal);
		c->isal->crc_flag = ISAL_DEFLATE;
	} else if (inflateReset(&c->zs) != Z_OK) {
		return bmap_seterr(err, EIO, "cannot reset the gzip decoder");
	}
	c->mstart = c->out;
	c->crc = 0;
	c->stalls = 0;
	c->phase = GZIP_P_BODY;
	return 0;
}

/* zlib, stopping at block ends to record points there: 1 at the end of
 * the member's deflate data. */
static int gzip_zlib_step(struct gzip_cursor *c, unsigned char *dst,
			  size_t len, size_t *done, struct bmap_err *err)
{
	uInt avail = c->in.avail > UINT_MAX ? UINT_MAX : (uInt)c->in.avail;
	int zret, ret, state = c->zs.data_type;

	c->zs.next_in = (unsigned char *)c->in.next;
	c->zs.avail_in = avail;
	c->zs.next_out = dst;
	c->zs.avail_out = len < GZIP_OUT_MAX ? (uInt)len : GZIP_OUT_MAX;
	zret = inflate(&c->zs, Z_BLOCK);
	*done = (size_t)(c->zs.next_out - dst);
	c->in.next = c->zs.next_in;
	c->in.avail -= avail - c->zs.avail_in;
	c->crc = crc32_gzip_refl(c->crc, dst, (uint64_t)*done);
	c->out += *done;
	if (zret == Z_STREAM_END) {
		c->trl.have = 0;
		return 1;
	}
	if (zret != Z_OK && zret != Z_BUF_ERROR)
		return gzip_err_zlib(zret, err);
	/* Stopping at a block's start after decoding its header from the
	 * bits at hand moves nothing but the state. */
	if (*done > 0 || c->zs.avail_in != avail || c->zs.data_type != state)
		c->stalls = 0;
	else if ((ret = gzip_stalled(&c->in, &c->stalls, err)) < 0)
		return ret;
	if ((c->zs.data_type & 128) && !(c->zs.data_type & 64) &&
	    c->out >= c->next_rec && (ret = gzip_record_block(c)) < 0)
		return gzip_record_error(ret, err);
	return 0;
}

static int gzip_cursor_body(struct gzip_cursor *c, unsigned char *dst,
			    size_t len, size_t *done, struct bmap_err *err)
{
	int ret;

	if (c->isal) {
		ret = gzip_isal_step(c->isal, &c->in, dst, len, done, &c->crc,
				     &c->trl, &c->stalls, err);
		c->out += *done;
	} else {
		ret = gzip_zlib_step(c, dst, len, done, err);
	}
	if (ret == 1)
		c->phase = GZIP_P_TRAILER;
	return ret < 0 ? ret : 0;
}

/* The end of the image: the file's end, or zero padding up to it. */
static void gzip_cursor_end(struct gzip_cursor *c)
{
	c->phase = GZIP_P_END;
	pthread_mutex_lock(&c->f->lock);
	c->f->end = c->out;
	pthread_mutex_unlock(&c->f->lock);
}

/* One step in the current phase; *done is what it wrote to dst. */
static int gzip_cursor_step(struct gzip_cursor *c, unsigned char *dst,
			    size_t len, size_t *done, struct bmap_err *err)
{
	int ret = 0;

	*done = 0;
	switch (c->phase) {
	case GZIP_P_HEADER:
		ret = gzip_hdr_feed(&c->hdr, &c->in, err);
		return ret == 1 ? gzip_cursor_member(c, err) : ret;
	case GZIP_P_BODY:
		return gzip_cursor_body(c, dst, len, done, err);
	case GZIP_P_TRAILER:
		ret = gzip_trl_feed(&c->trl, &c->in, c->crc,
				    c->out - c->mstart, err);
		if (ret == 1)
			c->phase = GZIP_P_NEXT;
		break;
	case GZIP_P_NEXT:
		switch (gzip_next(&c->in)) {
		case GZIP_NEXT_MORE:
			break;
		case GZIP_NEXT_END:
			gzip_cursor_end(c);
			break;
		case GZIP_NEXT_PAD:
			c->phase = GZIP_P_PAD;
			break;
		case GZIP_NEXT_MEMBER:
			gzip_cursor_header(c);
			break;
		}
		break;
	case GZIP_P_PAD:
		ret = gzip_pad_feed(&c->in, err);
		if (ret == 1)
			gzip_cursor_end(c);
		break;
	case GZIP_P_END:
		break;
	}
	return ret < 0 ? ret : 0;
}

ssize_t gzip_cursor_read(void *cur, void *buf, size_t len,
			 struct bmap_err *err)
{
	struct gzip_cursor *c = cur;
	size_t got = 0, n;
	int ret;

	if (c->fail.code)
		return gzip_fail_again(&c->fail, err);
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	while (got < len && c->phase != GZIP_P_END) {
		ret = gzip_cursor_fill(c, err);
		if (ret == 0)
			ret = gzip_cursor_step(c, (unsigned char *)buf + got,
					       len - got, &n, err);
		if (ret < 0)
			return gzip_fail_keep(&c->fail, ret, err);
		got += n;
	}
	return (ssize_t)got;
}

/* ---- opening ---- */

/* Set the cursor up to decode from point p, whose window is already in
 * c->win. */
static int gzip_start_at(struct gzip_cursor *c, const struct gzip_point *p)
{
	c->out = p->out;
	c->in_pos = p->in;
	c->in = (struct gzip_in){ c->buf, 0, false };
	if (p->member) {
		gzip_cursor_header(c);
		return 0;
	}
	c->mstart = p->mstart;
	c->crc = p->crc;
	c->phase = GZIP_P_BODY;
	if (p->wraw == 0)
		return 0;
	if (c->isal)
		return isal_inflate_set_dict(c->isal, c->win, p->wraw) ==
		       COMP_OK ? 0 : -EINVAL;
	return inflateSetDictionary(&c->zs, c->win, p->wraw) == Z_OK ?
	       0 : -EINVAL;
}

/* The bits of the byte before the point that its first block uses. */
static int gzip_prime(struct gzip_cursor *c, unsigned bits,
		      struct bmap_err *err)
{
	unsigned char b;
	int ret;

	if (bits == 0)
		return 0;
	ret = codec_pread(c->f->fd, &b, 1, c->in_pos - 1, "gzip", err);
	if (ret < 0)
		return ret;
	if (c->isal) {
		c->isal->read_in = b >> (8 - bits);
		c->isal->read_in_length = (int32_t)bits;
	} else if (inflatePrime(&c->zs, (int)bits, b >> (8 - bits)) != Z_OK) {
		return bmap_seterr(err, EIO, "cannot prime the gzip decoder");
	}
	return 0;
}

void gzip_cursor_close(void *cur)
{
	struct gzip_cursor *c = cur;

	if (!c)
		return;
	inflateEnd(&c->zs);
	free(c->isal);
	free(c);
}

/* ISA-L's state, for a cursor that will decode with it. */
static int gzip_use_isal(struct gzip_cursor *c)
{
	c->isal = malloc(sizeof(*c->isal));
	if (!c->isal)
		return -ENOMEM;
	isal_inflate_init(c->isal);
	c->isal->crc_flag = ISAL_DEFLATE;
	return 0;
}

/*
 * The last point at or before off, and its window decompressed into
 * c->win (under the lock: a load may replace the table). *isal: other
 * points follow it.
 */
static int gzip_pick(struct gzip_cursor *c, uint64_t off,
		     struct gzip_point *p, bool *isal)
{
	struct gzip_fmt *f = c->f;
	uLongf wraw = GZIP_WIN;
	int ret = 0;

	pthread_mutex_lock(&f->lock);
	*p = f->pts[gzip_find(f, off)];
	*isal = p->out != gzip_last(f)->out;
	c->next_rec = gzip_last(f)->out + GZIP_SPAN;
	if (p->wlen > 0 && (uncompress(c->win, &wraw, p->win, p->wlen) != Z_OK
			    || wraw != p->wraw))
		ret = -EINVAL;
	p->win = NULL;
	pthread_mutex_unlock(&f->lock);
	return ret;
}

/*
 * Cursors starting before the last known point decode with ISA-L; from
 * the last point on, with zlib, which can record the points beyond it.
 */
int gzip_cursor_open(void *fmt, uint64_t off, void **cur, uint64_t *start,
		     struct bmap_err *err)
{
	struct gzip_cursor *c = calloc(1, sizeof(*c));
	struct gzip_point p;
	bool isal;
	int ret;

	if (!c)
		return bmap_seterr(err, ENOMEM, "out of memory");
	c->f = fmt;
	if (inflateInit2(&c->zs, -15) != Z_OK) {
		free(c);
		return bmap_seterr(err, ENOMEM, "out of memory");
	}
	ret = gzip_pick(c, off, &p, &isal);
	if (ret == 0 && isal)
		ret = gzip_use_isal(c);
	if (ret == 0)
		ret = gzip_start_at(c, &p);
	if (ret < 0)
		ret = bmap_seterr(err, -ret, ret == -ENOMEM ? "out of memory" :
				  "bad gzip seek point");
	else
		ret = gzip_prime(c, p.bits, err);
	if (ret < 0) {
		gzip_cursor_close(c);
		return ret;
	}
	*start = c->out;
	*cur = c;
	return 0;
}
