/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * gzip-seek.c - gzip's SEEK decoder (bmapfs): the table of seek points
 * the cursors (gzip-cursor.c) learn and use, and its keeping between runs.
 *
 * Deflate has no seek points of its own, but decoding can resume at any
 * block boundary given the bit position there and the 32 KiB of output
 * before it (zlib's zran.c): a point is plain data, image offset, file
 * offset, the bits of the previous byte still to be taken, the CRC-32 of
 * the member so far (so a cursor started anywhere still checks the
 * member's trailer) and the window, kept compressed. Every member start
 * is a point too, without window.
 *
 * Kept through codec/seekidx.h, format "gzip", GZIP_IDX_FIELDS fields a
 * record: first one record for the file (its size, the image size or all
 * ones when unknown, the span it was made with), then one per point (out,
 * in, mstart, crc, wraw, bits, member) with its compressed window as the
 * blob. A load takes the points only when every one fits the file and
 * follows the one before, and every window decompresses to its length.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "base/error.h"
#include "base/io.h"
#include "codec/gzip.h"
#include "codec/seekidx.h"

/* ---- the table (callers hold f->lock) ---- */

size_t gzip_find(const struct gzip_fmt *f, uint64_t off)
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

int gzip_append(struct gzip_fmt *f, const struct gzip_point *p)
{
	if (f->npts == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 64;
		struct gzip_point *pts = realloc(f->pts, cap * sizeof(*pts));

		if (!pts)
			return -ENOMEM;
		f->pts = pts;
		f->cap = cap;
	}
	f->pts[f->npts++] = *p;
	return 0;
}

void gzip_free_points(struct gzip_point *pts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(pts[i].win);
	free(pts);
}

/* ---- the format ---- */

/* The first member's header, parsed whole at open: a file that does not
 * start with gzip's magic is -ENOTSUP; a broken header is its error. */
static int gzip_seek_header(const struct gzip_fmt *f, struct bmap_err *err)
{
	unsigned char buf[512];
	struct gzip_hdr h;
	struct gzip_in in = { buf, 0, false };
	uint64_t pos = 0;
	size_t n;
	int ret = 0;

	n = f->file_size < 3 ? (size_t)f->file_size : 3;
	if (n < 3 || io_pread_full(f->fd, buf, n, 0) != (ssize_t)n ||
	    memcmp(buf, "\x1f\x8b\x08", 3) != 0)
		return -ENOTSUP;
	gzip_hdr_init(&h, true);
	while (ret == 0) {
		n = f->file_size - pos < sizeof(buf) ?
		    (size_t)(f->file_size - pos) : sizeof(buf);
		if (n > 0 && (ret = codec_pread(f->fd, buf, n, pos, "gzip",
						err)) < 0)
			return ret;
		pos += n;
		in = (struct gzip_in){ buf, n, pos == f->file_size };
		ret = gzip_hdr_feed(&h, &in, err);
	}
	return ret < 0 ? ret : 0;
}

static int gzip_seek_open(int fd, uint64_t file_size, unsigned threads,
			  void **fmt, struct bmap_err *err)
{
	struct gzip_fmt *f;
	struct gzip_point p0 = { .member = true };
	int ret;

	(void)threads;		/* decoding is sequential per cursor */
	f = calloc(1, sizeof(*f));
	if (!f)
		return bmap_seterr(err, ENOMEM, "out of memory");
	f->fd = fd;
	f->file_size = file_size;
	f->end = BMAP_SIZE_UNKNOWN;
	ret = gzip_seek_header(f, err);
	if (ret == 0)
		ret = gzip_append(f, &p0);
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

static void gzip_seek_close(void *fmt)
{
	struct gzip_fmt *f = fmt;

	if (!f)
		return;
	gzip_free_points(f->pts, f->npts);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static uint64_t gzip_seek_size(void *fmt)
{
	struct gzip_fmt *f = fmt;
	uint64_t end;

	pthread_mutex_lock(&f->lock);
	end = f->end;
	pthread_mutex_unlock(&f->lock);
	return end;
}

static uint64_t gzip_seek_point(void *fmt, uint64_t off)
{
	struct gzip_fmt *f = fmt;
	uint64_t at;

	pthread_mutex_lock(&f->lock);
	at = f->pts[gzip_find(f, off)].out;
	pthread_mutex_unlock(&f->lock);
	return at;
}

/* Points are only ever appended past the last one, so a point dropped in
 * the middle stays gone; one dropped at the end is recorded again (from
 * a window decoded afresh) by the next cursor that passes it. */
static void gzip_seek_drop_point(void *fmt, uint64_t off)
{
	struct gzip_fmt *f = fmt;
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

/* ---- keeping the table ---- */

static int gzip_seek_save(void *fmt, struct strbuf *out)
{
	struct gzip_fmt *f = fmt;
	struct seekidx_out o;
	uint64_t v[GZIP_IDX_FIELDS] = { 0 };

	pthread_mutex_lock(&f->lock);
	seekidx_begin(&o, out, "gzip", GZIP_IDX_FIELDS);
	v[0] = f->file_size;
	v[1] = f->end;
	v[2] = GZIP_SPAN;
	seekidx_put(&o, v, NULL, 0);
	for (size_t i = 0; i < f->npts; i++) {
		const struct gzip_point *p = &f->pts[i];
		uint64_t pv[GZIP_IDX_FIELDS] = {
			p->out, p->in, p->mstart, p->crc, p->wraw, p->bits,
			p->member,
		};

		seekidx_put(&o, pv, p->win, p->wlen);
	}
	pthread_mutex_unlock(&f->lock);
	return seekidx_end(&o);
}

/* Position in bits of where decoding from p resumes. */
static uint64_t gzip_bitpos(const struct gzip_point *p)
{
	return p->in * 8 - p->bits;
}

/* p fits the file and follows prev (NULL: p is the first point). */
static bool gzip_point_ok(const struct gzip_fmt *f, const struct gzip_point *p,
			  const struct gzip_point *prev)
{
	if (!prev)
		return p->member && p->out == 0 && p->in == 0;
	if (p->out <= prev->out || p->mstart < prev->mstart || p->in == 0 ||
	    p->in > f->file_size || p->in > UINT64_MAX / 8 ||
	    gzip_bitpos(p) <= gzip_bitpos(prev))
		return false;
	if (p->member)
		return p->bits == 0 && p->wraw == 0 && p->wlen == 0 &&
		       p->crc == 0 && p->mstart == p->out &&
		       p->in < f->file_size;
	return p->bits < 8 && p->mstart <= p->out &&
	       p->wraw == (p->out - p->mstart < GZIP_WIN ?
			   p->out - p->mstart : GZIP_WIN) &&
	       (p->wraw == 0) == (p->wlen == 0) &&
	       p->wlen <= compressBound(GZIP_WIN);
}

/* The window of p decompresses to exactly wraw bytes. */
static bool gzip_window_ok(const struct gzip_point *p, unsigned char *tmp)
{
	uLongf n = GZIP_WIN;

	if (p->wlen == 0)
		return true;
	return uncompress(tmp, &n, p->win, p->wlen) == Z_OK && n == p->wraw;
}

/* One saved point into p (its window copied), when its fields fit. */
static bool gzip_read_point(struct seekidx_in *in, struct gzip_point *p)
{
	uint64_t v[GZIP_IDX_FIELDS];
	const void *blob;
	uint32_t len;

	memset(p, 0, sizeof(*p));
	if (seekidx_next(in, v, &blob, &len) != 1 || v[3] > UINT32_MAX ||
	    v[4] > GZIP_WIN || v[5] > 7 || v[6] > 1)
		return false;
	*p = (struct gzip_point){ .out = v[0], .in = v[1], .mstart = v[2],
				  .crc = (uint32_t)v[3], .wraw = (uint32_t)v[4],
				  .wlen = len, .bits = (uint8_t)v[5],
				  .member = v[6] != 0 };
	if (len > 0) {
		p->win = malloc(len);
		if (!p->win)
			return false;
		memcpy(p->win, blob, len);
	}
	return true;
}

/* All n saved points into pts, checked. */
static bool gzip_read_points(const struct gzip_fmt *f, struct seekidx_in *in,
			     struct gzip_point *pts, size_t n)
{
	unsigned char *tmp = malloc(GZIP_WIN);
	bool ok = tmp != NULL;

	for (size_t i = 0; ok && i < n; i++)
		ok = gzip_read_point(in, &pts[i]) &&
		     gzip_point_ok(f, &pts[i], i ? &pts[i - 1] : NULL) &&
		     gzip_window_ok(&pts[i], tmp);
	free(tmp);
	return ok;
}

static int gzip_seek_load(void *fmt, const void *buf, size_t len,
			  struct bmap_err *err)
{
	struct gzip_fmt *f = fmt;
	struct seekidx_in in;
	struct gzip_point *pts, *old;
	uint64_t v[GZIP_IDX_FIELDS], more[GZIP_IDX_FIELDS], n;
	const void *blob;
	uint32_t bloblen;
	size_t i;
	int ret;

	ret = seekidx_open(&in, buf, len, "gzip", GZIP_IDX_FIELDS, err);
	if (ret < 0)
		return ret;
	if (seekidx_next(&in, v, &blob, &bloblen) != 1 || bloblen != 0)
		return bmap_seterr(err, EINVAL, "saved gzip seek points: "
				   "no file record");
	if (v[0] != f->file_size)
		return bmap_seterr(err, EINVAL, "saved gzip seek points: "
				   "they are for another file size");
	n = seekidx_count(&in);
	if (n == 0)
		return bmap_seterr(err, EINVAL, "saved gzip seek points: "
				   "none");
	pts = calloc((size_t)n, sizeof(*pts));
	if (!pts)
		return bmap_seterr(err, ENOMEM, "out of memory");
	if (!gzip_read_points(f, &in, pts, (size_t)n) ||
	    seekidx_next(&in, more, &blob, &bloblen) != 0 ||
	    (v[1] != BMAP_SIZE_UNKNOWN && v[1] < pts[n - 1].out)) {
		gzip_free_points(pts, (size_t)n);
		return bmap_seterr(err, EINVAL, "saved gzip seek points: "
				   "they do not fit the file");
	}
	pthread_mutex_lock(&f->lock);
	old = f->pts;
	i = f->npts;
	f->pts = pts;
	f->npts = f->cap = (size_t)n;
	f->end = v[1];
	pthread_mutex_unlock(&f->lock);
	gzip_free_points(old, i);
	return 0;
}

const struct codec_seek_ops gzip_seek_ops = {
	.name = "gzip",
	.open = gzip_seek_open,
	.size = gzip_seek_size,
	.point = gzip_seek_point,
	.drop_point = gzip_seek_drop_point,
	.cursor_open = gzip_cursor_open,
	.cursor_read = gzip_cursor_read,
	.cursor_close = gzip_cursor_close,
	.save = gzip_seek_save,
	.load = gzip_seek_load,
	.close = gzip_seek_close,
};
