/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ra-gzip-index.c - the gzip seek point table kept between runs: written
 * as it is, read back only when every point fits the file and follows
 * the one before, and every window decompresses to its stated length.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "base/error.h"
#include "codec/ra-gzip.h"
#include "base/strbuf.h"

/* ---- saving and loading the table ----
 *
 * Little-endian: magic, version, span, file size, image size (all ones:
 * unknown), point count; then per point out, in, mstart, crc, wraw, wlen,
 * bits, member, and wlen bytes of compressed window.
 */

static const char gz_magic[8] = "BMAPGZIX";
#define GZ_INDEX_VERSION 1u
#define GZ_HEAD_LEN (8 + 4 + 4 + 8 + 8 + 8)
#define GZ_POINT_LEN (8 + 8 + 8 + 4 + 4 + 4 + 1 + 1)

static void put_le(struct strbuf *sb, uint64_t v, size_t n)
{
	unsigned char b[8];

	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	strbuf_addbytes(sb, b, n);
}

static void put_point(struct strbuf *sb, const struct gz_point *p)
{
	put_le(sb, p->out, 8);
	put_le(sb, p->in, 8);
	put_le(sb, p->mstart, 8);
	put_le(sb, p->crc, 4);
	put_le(sb, p->wraw, 4);
	put_le(sb, p->wlen, 4);
	put_le(sb, p->bits, 1);
	put_le(sb, p->member, 1);
	if (p->wlen > 0)
		strbuf_addbytes(sb, p->win, p->wlen);
}

int gz_save(void *fmt, struct strbuf *out)
{
	struct gz_fmt *f = fmt;

	pthread_mutex_lock(&f->lock);
	strbuf_addbytes(out, gz_magic, sizeof(gz_magic));
	put_le(out, GZ_INDEX_VERSION, 4);
	put_le(out, GZ_SPAN, 4);
	put_le(out, f->file_size, 8);
	put_le(out, f->end, 8);
	put_le(out, f->npts, 8);
	for (size_t i = 0; i < f->npts; i++)
		put_point(out, &f->pts[i]);
	pthread_mutex_unlock(&f->lock);
	return out->error;
}

/* Reading the index: running out of bytes is sticky. */
struct gz_rd {
	const unsigned char *p;
	size_t left;
	bool short_;
};

static uint64_t get_le(struct gz_rd *r, size_t n)
{
	uint64_t v = 0;

	if (r->left < n) {
		r->short_ = true;
		r->left = 0;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += n;
	r->left -= n;
	return v;
}

/* Position in bits of where decoding from p resumes. */
static uint64_t gz_bitpos(const struct gz_point *p)
{
	return p->in * 8 - p->bits;
}

/* p fits the file and follows prev (NULL: p is the first point). */
static bool gz_point_ok(const struct gz_fmt *f, const struct gz_point *p,
			const struct gz_point *prev)
{
	if (!prev)
		return p->member && p->out == 0 && p->in == 0;
	if (p->out <= prev->out || p->mstart < prev->mstart ||
	    p->in > f->file_size || p->in > UINT64_MAX / 8 ||
	    gz_bitpos(p) <= gz_bitpos(prev))
		return false;
	if (p->member)
		return p->bits == 0 && p->wraw == 0 && p->wlen == 0 &&
		       p->crc == 0 && p->mstart == p->out &&
		       p->in < f->file_size;
	return p->bits < 8 && p->mstart <= p->out &&
	       p->wraw == (p->out - p->mstart < GZ_WIN ?
			   p->out - p->mstart : GZ_WIN) &&
	       (p->wraw == 0) == (p->wlen == 0) &&
	       p->wlen <= compressBound(GZ_WIN);
}

/* The window of p decompresses to exactly wraw bytes. */
static bool gz_window_ok(const struct gz_point *p, unsigned char *tmp)
{
	uLongf n = GZ_WIN;

	if (p->wlen == 0)
		return true;
	return uncompress(tmp, &n, p->win, p->wlen) == Z_OK && n == p->wraw;
}

static bool gz_read_point(struct gz_rd *r, struct gz_point *p)
{
	p->out = get_le(r, 8);
	p->in = get_le(r, 8);
	p->mstart = get_le(r, 8);
	p->crc = (uint32_t)get_le(r, 4);
	p->wraw = (uint32_t)get_le(r, 4);
	p->wlen = (uint32_t)get_le(r, 4);
	p->bits = (uint8_t)get_le(r, 1);
	p->member = get_le(r, 1) != 0;
	p->win = NULL;
	if (r->short_ || p->wlen > r->left)
		return false;
	if (p->wlen > 0) {
		p->win = malloc(p->wlen);
		if (!p->win)
			return false;
		memcpy(p->win, r->p, p->wlen);
		r->p += p->wlen;
		r->left -= p->wlen;
	}
	return true;
}

/* All points of the index into pts (npts of them), checked. */
static bool gz_read_points(const struct gz_fmt *f, struct gz_rd *r,
			   struct gz_point *pts, size_t npts)
{
	unsigned char *tmp = malloc(GZ_WIN);
	bool ok = tmp != NULL;

	for (size_t i = 0; ok && i < npts; i++) {
		ok = gz_read_point(r, &pts[i]) &&
		     gz_point_ok(f, &pts[i], i ? &pts[i - 1] : NULL) &&
		     gz_window_ok(&pts[i], tmp);
	}
	free(tmp);
	return ok;
}

int gz_load(void *fmt, const void *buf, size_t len,
		   struct bmap_err *err)
{
	struct gz_fmt *f = fmt;
	struct gz_rd r = { buf, len, false };
	struct gz_point *pts, *old;
	uint64_t npts, end, file_size;
	size_t i;

	if (len < GZ_HEAD_LEN || memcmp(buf, gz_magic, sizeof(gz_magic)))
		return bmap_seterr(err, EINVAL, "not a gzip seek point index");
	get_le(&r, sizeof(gz_magic));
	if (get_le(&r, 4) != GZ_INDEX_VERSION)
		return bmap_seterr(err, EINVAL, "unknown gzip index version");
	get_le(&r, 4);		/* the span it was made with: any works */
	file_size = get_le(&r, 8);
	end = get_le(&r, 8);
	npts = get_le(&r, 8);
	if (file_size != f->file_size)
		return bmap_seterr(err, EINVAL, "gzip index is for another "
				   "file size");
	if (npts == 0 || npts > r.left / GZ_POINT_LEN)
		return bmap_seterr(err, EINVAL, "corrupt gzip index");
	pts = calloc((size_t)npts, sizeof(*pts));
	if (!pts)
		return bmap_seterr(err, ENOMEM, "out of memory");
	if (!gz_read_points(f, &r, pts, (size_t)npts) || r.left != 0 ||
	    (end != BMAP_SIZE_UNKNOWN && end < pts[npts - 1].out)) {
		gz_free_points(pts, (size_t)npts);
		return bmap_seterr(err, EINVAL, "corrupt gzip index");
	}
	pthread_mutex_lock(&f->lock);
	old = f->pts;
	i = f->npts;
	f->pts = pts;
	f->npts = f->cap = (size_t)npts;
	f->end = end;
	pthread_mutex_unlock(&f->lock);
	gz_free_points(old, i);
	return 0;
}

