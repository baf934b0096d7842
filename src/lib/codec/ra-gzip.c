/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ra-gzip.c - seek points in gzip files.
 *
 * Deflate has no seek points of its own, but decoding can resume at any
 * block boundary given the bit position there and the 32 KiB of output
 * before it (the window matches refer back to). Cursors inflate raw
 * deflate with zlib's Z_BLOCK, which stops at every block end, and once
 * past GZ_SPAN bytes beyond the furthest point known they record one:
 * image offset, file offset, the bits of the previous byte still to be
 * taken, and the window, kept compressed (runs of zeros shrink to a few
 * dozen bytes). Every member start is a point too, without window. The
 * CRC-32 of the member so far travels with each point, so a cursor
 * started anywhere still checks the member's CRC-32 and ISIZE at its end.
 * Cursors that start where more points are known (nothing to record)
 * decode with ISA-L instead, about three times faster than zlib.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#include <zlib.h>

#include "base/error.h"
#include "codec/ra-gzip.h"

#define GZ_ID1 0x1f
#define GZ_ID2 0x8b
#define GZ_CM_DEFLATE 8
#define GZ_FHCRC 0x02
#define GZ_FEXTRA 0x04
#define GZ_FNAME 0x08
#define GZ_FCOMMENT 0x10
#define GZ_FRESERVED 0xe0

enum gz_phase { GZ_HEADER, GZ_BODY, GZ_END, GZ_FAILED };

struct gz_cursor {
	struct gz_fmt *f;
	z_stream zs;		/* zs.next_in/avail_in: input for either */
	struct inflate_state *isal;	/* NULL: zlib decodes */
	enum gz_phase phase;
	int failed;		/* GZ_FAILED: the -errno it failed with */
	unsigned stalls;	/* inflate calls in a row without progress */
	uint64_t hdr_pos;	/* GZ_HEADER: where the member header is */
	uint64_t in_pos;	/* file offset of the byte after in[] */
	uint64_t out;		/* image offset of the next output byte */
	uint64_t mstart;	/* image offset of this member's start */
	uint32_t crc;		/* of this member's output so far */
	uint64_t next_rec;	/* no point worth recording before this */
	unsigned char win[GZ_WIN];
	unsigned char in[GZ_IN_CHUNK];
};

static int gz_truncated(struct bmap_err *err)
{
	return bmap_seterr(err, EIO, "truncated gzip data");
}

/* Exactly len bytes at off, which the caller knows lie in the file. */
static int gz_pread(const struct gz_fmt *f, void *buf, size_t len,
		    uint64_t off, struct bmap_err *err)
{
	unsigned char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = pread(f->fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return bmap_seterr(err, errno, "cannot read the gzip "
					   "file: %s", strerror(errno));
		if (n == 0)
			return gz_truncated(err);
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reading a member header, with its CRC for FHCRC. */
struct gz_hdrrd {
	const struct gz_fmt *f;
	uint64_t pos;
	uLong crc;
};

static int hdr_get(struct gz_hdrrd *h, void *buf, size_t len,
		   struct bmap_err *err)
{
	int ret;

	if (len > h->f->file_size - h->pos)
		return gz_truncated(err);
	ret = gz_pread(h->f, buf, len, h->pos, err);
	if (ret < 0)
		return ret;
	h->crc = crc32(h->crc, buf, (uInt)len);
	h->pos += len;
	return 0;
}

static int hdr_skip(struct gz_hdrrd *h, size_t len, struct bmap_err *err)
{
	unsigned char buf[512];
	size_t n;
	int ret;

	for (; len > 0; len -= n) {
		n = len < sizeof(buf) ? len : sizeof(buf);
		ret = hdr_get(h, buf, n, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* A NUL-terminated field (FNAME, FCOMMENT): as long as it likes. */
static int hdr_skip_string(struct gz_hdrrd *h, struct bmap_err *err)
{
	unsigned char buf[256];
	uint64_t left;
	size_t n;
	unsigned char *nul;
	int ret;

	for (;;) {
		left = h->f->file_size - h->pos;
		if (left == 0)
			return gz_truncated(err);
		n = left < sizeof(buf) ? (size_t)left : sizeof(buf);
		ret = gz_pread(h->f, buf, n, h->pos, err);
		if (ret < 0)
			return ret;
		nul = memchr(buf, 0, n);
		if (nul)
			n = (size_t)(nul - buf) + 1;
		h->crc = crc32(h->crc, buf, (uInt)n);
		h->pos += n;
		if (nul)
			return 0;
	}
}

/*
 * The member header at off: *data is where its deflate data starts. A
 * file that does not start with a gzip header is -ENOTSUP (first); after
 * a member, anything but another member is trailing garbage.
 */
static int gz_parse_header(const struct gz_fmt *f, uint64_t off, bool first,
			   uint64_t *data, struct bmap_err *err)
{
	struct gz_hdrrd h = { f, off, 0 };
	unsigned char b[10];
	uint64_t left = f->file_size - off;
	size_t n = left < sizeof(b) ? (size_t)left : sizeof(b);
	int ret;

	if (n > 0 && (ret = gz_pread(f, b, n, off, err)) < 0)
		return ret;
	if (n == 0 || b[0] != GZ_ID1 || (n > 1 && b[1] != GZ_ID2))
		return first ? -ENOTSUP : bmap_seterr(err, EBADMSG,
				"trailing garbage after gzip data");
	if (n < 3)
		return first ? -ENOTSUP : gz_truncated(err);
	if (b[2] != GZ_CM_DEFLATE)
		return first ? -ENOTSUP : bmap_seterr(err, EBADMSG,
				"unsupported gzip compression method");
	if ((ret = hdr_get(&h, b, sizeof(b), err)) < 0)
		return ret;
	if (b[3] & GZ_FRESERVED)
		return bmap_seterr(err, EBADMSG,
				   "corrupt gzip header: reserved flags set");
	if (b[3] & GZ_FEXTRA) {
		unsigned char x[2];

		ret = hdr_get(&h, x, 2, err);
		if (ret == 0)
			ret = hdr_skip(&h, (size_t)x[0] | (size_t)x[1] << 8,
				       err);
	}
	if (ret == 0 && (b[3] & GZ_FNAME))
		ret = hdr_skip_string(&h, err);
	if (ret == 0 && (b[3] & GZ_FCOMMENT))
		ret = hdr_skip_string(&h, err);
	if (ret == 0 && (b[3] & GZ_FHCRC)) {
		unsigned want = (unsigned)(h.crc & 0xffff);

		ret = hdr_get(&h, b, 2, err);
		if (ret == 0 && (b[0] | (unsigned)b[1] << 8) != want)
			return bmap_seterr(err, EBADMSG, "corrupt gzip header: "
					   "header CRC mismatch");
	}
	*data = h.pos;
	return ret;
}

/* ---- the point table (callers hold f->lock) ---- */

static const struct gz_point *gz_last(const struct gz_fmt *f)
{
	return &f->pts[f->npts - 1];
}

/* Index of the last point at or before off. */
static size_t gz_find(const struct gz_fmt *f, uint64_t off)
{
	size_t lo = 0, hi = f->npts;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->pts[mid].out <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static int gz_append(struct gz_fmt *f, const struct gz_point *p)
{
	if (f->npts == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 64;
		struct gz_point *pts = realloc(f->pts, cap * sizeof(*pts));

		if (!pts)
			return -ENOMEM;
		f->pts = pts;
		f->cap = cap;
	}
	f->pts[f->npts++] = *p;
	return 0;
}

void gz_free_points(struct gz_point *pts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(pts[i].win);
	free(pts);
}

/* ---- cursors ---- */

static int gz_fail(struct gz_cursor *c, int ret)
{
	c->phase = GZ_FAILED;
	c->failed = ret;
	return ret;
}

/*
 * Record a point at the member start the cursor is at, if it is new. An
 * ISA-L cursor records no block points: past a span beyond the last
 * point it must not add a member start either, or the block points that
 * belong before it would never be recorded.
 */
static int gz_record_member(struct gz_cursor *c)
{
	struct gz_fmt *f = c->f;
	struct gz_point p = { .out = c->out, .in = c->hdr_pos,
			      .mstart = c->out, .member = true };
	const struct gz_point *last;
	int ret = 0;

	pthread_mutex_lock(&f->lock);
	last = gz_last(f);
	if (c->out > last->out && (!c->isal || c->out < last->out + GZ_SPAN))
		ret = gz_append(f, &p);
	c->next_rec = gz_last(f)->out + GZ_SPAN;
	pthread_mutex_unlock(&f->lock);
	return ret;
}

/* At a block boundary at or past next_rec: a point, unless another
 * cursor went further meanwhile. */
static int gz_record_block(struct gz_cursor *c)
{
	struct gz_fmt *f = c->f;
	struct gz_point p = { .out = c->out, .mstart = c->mstart,
			      .crc = c->crc };
	uLongf blen;
	uInt wraw = 0;
	bool want;
	int ret = 0;

	pthread_mutex_lock(&f->lock);
	want = c->out >= gz_last(f)->out + GZ_SPAN;
	c->next_rec = gz_last(f)->out + GZ_SPAN;
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
		if (compress2(p.win, &blen, c->win, wraw, GZ_WIN_LEVEL)
		    != Z_OK) {
			free(p.win);
			return -ENOMEM;
		}
		p.wraw = wraw;
		p.wlen = (uint32_t)blen;
	}
	p.in = c->in_pos - c->zs.avail_in;
	p.bits = (uint8_t)(c->zs.data_type & 7);

	pthread_mutex_lock(&f->lock);
	if (c->out >= gz_last(f)->out + GZ_SPAN) {
		ret = gz_append(f, &p);
		if (ret == 0)
			p.win = NULL;
	}
	c->next_rec = gz_last(f)->out + GZ_SPAN;
	pthread_mutex_unlock(&f->lock);
	free(p.win);
	return ret;
}

static int gz_record_error(int ret, struct bmap_err *err)
{
	return bmap_seterr(err, -ret, "cannot record a gzip seek point");
}

/* Start decoding the member whose header is at hdr_pos. */
static int gz_begin_member(struct gz_cursor *c, struct bmap_err *err)
{
	uint64_t data;
	int ret;

	ret = gz_parse_header(c->f, c->hdr_pos, false, &data, err);
	if (ret < 0)
		return ret;
	ret = gz_record_member(c);
	if (ret < 0)
		return gz_record_error(ret, err);
	if (c->isal) {
		isal_inflate_reset(c->isal);
		c->isal->crc_flag = ISAL_DEFLATE;
	} else if (inflateReset(&c->zs) != Z_OK) {
		return bmap_seterr(err, EIO, "cannot reset the gzip decoder");
	}
	c->zs.avail_in = 0;
	c->in_pos = data;
	c->mstart = c->out;
	c->crc = 0;
	c->phase = GZ_BODY;
	return 0;
}

static int gz_trailer_error(struct bmap_err *err, const char *what)
{
	return bmap_seterr(err, EBADMSG, "corrupt gzip data: %s mismatch",
			   what);
}

/* Deflate data ended: check CRC-32 and ISIZE, find what comes next. */
static int gz_end_member(struct gz_cursor *c, struct bmap_err *err)
{
	struct gz_fmt *f = c->f;
	/* ISA-L may hold whole bytes past the deflate data in read_in. */
	uint64_t held = c->isal ? (uint64_t)c->isal->read_in_length / 8 : 0;
	uint64_t pos = c->in_pos - c->zs.avail_in - held;
	unsigned char t[8];
	uint32_t crc, isize;
	int ret;

	if (f->file_size - pos < sizeof(t))
		return gz_truncated(err);
	ret = gz_pread(f, t, sizeof(t), pos, err);
	if (ret < 0)
		return ret;
	crc = t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 |
	      (uint32_t)t[3] << 24;
	isize = t[4] | (uint32_t)t[5] << 8 | (uint32_t)t[6] << 16 |
		(uint32_t)t[7] << 24;
	if (crc != c->crc)
		return gz_trailer_error(err, "CRC-32");
	if (isize != (uint32_t)(c->out - c->mstart))
		return gz_trailer_error(err, "length");
	pos += sizeof(t);
	if (pos < f->file_size) {
		c->hdr_pos = pos;
		c->phase = GZ_HEADER;
		return 0;
	}
	c->phase = GZ_END;
	pthread_mutex_lock(&f->lock);
	f->end = c->out;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static int gz_fill(struct gz_cursor *c, struct bmap_err *err)
{
	uint64_t left = c->f->file_size - c->in_pos;
	size_t n = left < GZ_IN_CHUNK ? (size_t)left : GZ_IN_CHUNK;
	int ret;

	if (n == 0)
		return gz_truncated(err);
	ret = gz_pread(c->f, c->in, n, c->in_pos, err);
	if (ret < 0)
		return ret;
	c->in_pos += n;
	c->zs.next_in = c->in;
	c->zs.avail_in = (uInt)n;
	return 0;
}

static int gz_inflate_error(struct gz_cursor *c, int zret,
			    struct bmap_err *err)
{
	if (zret == Z_MEM_ERROR)
		return bmap_seterr(err, ENOMEM, "out of memory");
	return bmap_seterr(err, EBADMSG, "corrupt gzip data: %s",
			   c->zs.msg ? c->zs.msg : "inflate failed");
}

/* zlib, stopping at block ends to record points there. */
static int gz_zlib(struct gz_cursor *c, unsigned char *dst, size_t len,
		   size_t *done, bool *end, struct bmap_err *err)
{
	int zret;

	c->zs.next_out = dst;
	c->zs.avail_out = len < GZ_OUT_MAX ? (uInt)len : GZ_OUT_MAX;
	zret = inflate(&c->zs, Z_BLOCK);
	*done = (size_t)(c->zs.next_out - dst);
	*end = zret == Z_STREAM_END;
	if (zret != Z_OK && zret != Z_BUF_ERROR && zret != Z_STREAM_END)
		return gz_inflate_error(c, zret, err);
	return 0;
}

/* ISA-L: three to five times faster, but it cannot stop at block ends,
 * so it records no points. */
static int gz_isal(struct gz_cursor *c, unsigned char *dst, size_t len,
		   size_t *done, bool *end, struct bmap_err *err)
{
	struct inflate_state *st = c->isal;
	int ret;

	st->next_in = c->zs.next_in;
	st->avail_in = c->zs.avail_in;
	st->next_out = dst;
	st->avail_out = len < GZ_OUT_MAX ? (uint32_t)len : GZ_OUT_MAX;
	ret = isal_inflate(st);
	c->zs.next_in = st->next_in;
	c->zs.avail_in = st->avail_in;
	*done = (size_t)(st->next_out - dst);
	*end = st->block_state == ISAL_BLOCK_FINISH;
	if (ret < 0 || ret == ISAL_NEED_DICT)
		return bmap_seterr(err, EBADMSG, "corrupt gzip data "
				   "(ISA-L error %d)", ret);
	return 0;
}

/* What tells whether a decoder call moved. */
static uint64_t gz_progress_mark(const struct gz_cursor *c)
{
	uint64_t m = c->zs.avail_in;

	if (c->isal)
		m |= (uint64_t)c->isal->block_state << 32 |
		     (uint64_t)(c->isal->read_in_length & 0xff) << 40;
	return m;
}

/* One decoder call into dst; *done is what it produced. */
static int gz_body(struct gz_cursor *c, unsigned char *dst, size_t len,
		   size_t *done, struct bmap_err *err)
{
	bool at_eof, end;
	uint64_t mark;
	int ret;

	if (c->zs.avail_in == 0 && c->in_pos < c->f->file_size &&
	    (ret = gz_fill(c, err)) < 0)
		return ret;
	at_eof = c->zs.avail_in == 0;
	mark = gz_progress_mark(c);
	ret = c->isal ? gz_isal(c, dst, len, done, &end, err) :
			gz_zlib(c, dst, len, done, &end, err);
	c->crc = crc32_gzip_refl(c->crc, dst, (uint64_t)*done);
	c->out += *done;
	if (ret < 0)
		return ret;
	if (end)
		return gz_end_member(c, err);
	/* Input and room for output, yet nothing moved: at the end of the
	 * file that is truncation; elsewhere once may be, not twice. */
	if (*done > 0 || gz_progress_mark(c) != mark)
		c->stalls = 0;
	else if (at_eof)
		return gz_truncated(err);
	else if (++c->stalls > 1)
		return bmap_seterr(err, EIO, "gzip decoder made no progress");
	if (!c->isal && (c->zs.data_type & 128) && !(c->zs.data_type & 64) &&
	    c->out >= c->next_rec && (ret = gz_record_block(c)) < 0)
		return gz_record_error(ret, err);
	return 0;
}

static ssize_t gz_cursor_read(void *cur, void *buf, size_t len,
			      struct bmap_err *err)
{
	struct gz_cursor *c = cur;
	size_t got = 0, n;
	int ret = 0;

	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	while (got < len && ret == 0) {
		switch (c->phase) {
		case GZ_HEADER:
			ret = gz_begin_member(c, err);
			break;
		case GZ_BODY:
			n = 0;
			ret = gz_body(c, (unsigned char *)buf + got, len - got,
				      &n, err);
			got += n;
			break;
		case GZ_END:
			return (ssize_t)got;
		case GZ_FAILED:
			return bmap_seterr(err, -c->failed,
					   "gzip decoding failed earlier");
		}
	}
	if (ret < 0)
		return gz_fail(c, ret);
	return (ssize_t)got;
}

/* Set the cursor up to decode from point p, whose window is already in
 * c->win. */
static int gz_start_at(struct gz_cursor *c, const struct gz_point *p)
{
	c->out = p->out;
	if (p->member) {
		c->hdr_pos = p->in;
		c->phase = GZ_HEADER;
		return 0;
	}
	c->in_pos = p->in;
	c->mstart = p->mstart;
	c->crc = p->crc;
	c->phase = GZ_BODY;
	if (p->wraw == 0)
		return 0;
	if (c->isal)
		return isal_inflate_set_dict(c->isal, c->win, p->wraw) ==
		       COMP_OK ? 0 : -EINVAL;
	return inflateSetDictionary(&c->zs, c->win, p->wraw) == Z_OK ?
	       0 : -EINVAL;
}

/* The bits of the byte before the point that its first block uses. */
static int gz_prime(struct gz_cursor *c, unsigned bits, struct bmap_err *err)
{
	unsigned char b;
	int ret;

	if (bits == 0)
		return 0;
	ret = gz_pread(c->f, &b, 1, c->in_pos - 1, err);
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

static void gz_cursor_close(void *cur)
{
	struct gz_cursor *c = cur;

	if (!c)
		return;
	inflateEnd(&c->zs);
	free(c->isal);
	free(c);
}

/* ISA-L's state, for a cursor that will decode with it. */
static int gz_use_isal(struct gz_cursor *c)
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
static int gz_pick(struct gz_cursor *c, uint64_t off, struct gz_point *p,
		   bool *isal)
{
	struct gz_fmt *f = c->f;
	uLongf wraw = GZ_WIN;
	int ret = 0;

	pthread_mutex_lock(&f->lock);
	*p = f->pts[gz_find(f, off)];
	*isal = p->out != gz_last(f)->out;
	c->next_rec = gz_last(f)->out + GZ_SPAN;
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
static int gz_cursor_open(void *fmt, uint64_t off, void **cur,
			  uint64_t *start, struct bmap_err *err)
{
	struct gz_cursor *c = calloc(1, sizeof(*c));
	struct gz_point p;
	bool isal;
	int ret;

	if (!c)
		return bmap_seterr(err, ENOMEM, "out of memory");
	c->f = fmt;
	if (inflateInit2(&c->zs, -15) != Z_OK) {
		free(c);
		return bmap_seterr(err, ENOMEM, "out of memory");
	}
	ret = gz_pick(c, off, &p, &isal);
	if (ret == 0 && isal)
		ret = gz_use_isal(c);
	if (ret == 0)
		ret = gz_start_at(c, &p);
	if (ret < 0)
		ret = bmap_seterr(err, -ret, ret == -ENOMEM ? "out of memory" :
				  "bad gzip seek point");
	else
		ret = gz_prime(c, p.bits, err);
	if (ret < 0) {
		gz_cursor_close(c);
		return ret;
	}
	*start = c->out;
	*cur = c;
	return 0;
}

/* ---- the format ---- */

static int gz_open(int fd, uint64_t file_size, unsigned threads, void **fmt,
		   struct bmap_err *err)
{
	struct gz_fmt *f;
	struct gz_point p0 = { .member = true };
	uint64_t data;
	int ret;

	(void)threads;		/* decoding is sequential per cursor */
	f = calloc(1, sizeof(*f));
	if (!f)
		return bmap_seterr(err, ENOMEM, "out of memory");
	f->fd = fd;
	f->file_size = file_size;
	f->end = BMAP_SIZE_UNKNOWN;
	ret = gz_parse_header(f, 0, true, &data, err);
	if (ret == 0)
		ret = gz_append(f, &p0);
	if (ret == 0 && pthread_mutex_init(&f->lock, NULL) != 0)
		ret = -ENOMEM;
	if (ret < 0) {
		free(f->pts);
		free(f);
		if (ret == -ENOMEM)
			return bmap_seterr(err, ENOMEM, "out of memory");
		return ret;
	}
	*fmt = f;
	return 0;
}

static void gz_close(void *fmt)
{
	struct gz_fmt *f = fmt;

	if (!f)
		return;
	gz_free_points(f->pts, f->npts);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static uint64_t gz_size(void *fmt)
{
	struct gz_fmt *f = fmt;
	uint64_t end;

	pthread_mutex_lock(&f->lock);
	end = f->end;
	pthread_mutex_unlock(&f->lock);
	return end;
}

static uint64_t gz_point(void *fmt, uint64_t off)
{
	struct gz_fmt *f = fmt;
	uint64_t at;

	pthread_mutex_lock(&f->lock);
	at = f->pts[gz_find(f, off)].out;
	pthread_mutex_unlock(&f->lock);
	return at;
}

/* Points are only ever appended past the last one, so a point dropped in
 * the middle stays gone; one dropped at the end is recorded again (from
 * a window decoded afresh) by the next cursor that passes it. */
static void gz_drop_point(void *fmt, uint64_t off)
{
	struct gz_fmt *f = fmt;
	size_t i, kept = 1;

	if (off == 0)
		return;
	pthread_mutex_lock(&f->lock);
	for (i = 1; i < f->npts; i++) {
		if (f->pts[i].out == off)
			free(f->pts[i].win);
		else
			f->pts[kept++] = f->pts[i];
	}
	f->npts = kept;
	pthread_mutex_unlock(&f->lock);
}

const struct codec_seek_ops ra_gzip_ops = {
	.name = "gzip",
	.open = gz_open,
	.size = gz_size,
	.point = gz_point,
	.drop_point = gz_drop_point,
	.cursor_open = gz_cursor_open,
	.cursor_read = gz_cursor_read,
	.cursor_close = gz_cursor_close,
	.save = gz_save,
	.load = gz_load,
	.close = gz_close,
};
