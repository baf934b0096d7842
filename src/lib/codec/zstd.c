/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * zstd.c - zstd decoding with libzstd: the decoder both sides of the
 * module run (struct zstd_dec, see zstd.h for its rule on what may come
 * after the last frame), and the STREAM decoder over a codec_input, which
 * works on a pipe.
 *
 * libzstd's streaming decoder stops at the end of every frame, skippable
 * ones included: there the next bytes are looked at before it is given
 * any (another frame, padding, the end, or garbage).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define ZSTD_STATIC_LINKING_ONLY	/* the step by step API */
#include <zstd.h>

#include "base/error.h"
#include "codec/codec.h"
#include "codec/zstd.h"

/* The STREAM decoder reads its input in pieces of this size. */
#define ZST_STREAM_CHUNK (1024 * 1024)
/* The longest frame header there is (magic included). */
#define ZST_HEADER_MAX 18

uint32_t zstd_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

bool zstd_is_frame(const unsigned char *p)
{
	return zstd_le32(p) == ZST_MAGIC;
}

bool zstd_is_skippable(const unsigned char *p)
{
	return (zstd_le32(p) & ZST_SKIP_MASK) == ZST_SKIP_MAGIC;
}

/* Whether the n (< 4) bytes at p are the start of either magic. */
static bool zstd_magic_prefix(const unsigned char *p, size_t n)
{
	static const unsigned char fm[4] = { 0x28, 0xb5, 0x2f, 0xfd };
	static const unsigned char sm[4] = { 0x50, 0x2a, 0x4d, 0x18 };
	bool f = true, s = true;

	for (size_t i = 0; i < n; i++) {
		f = f && p[i] == fm[i];
		s = s && (i == 0 ? (p[i] & 0xf0) == sm[0] : p[i] == sm[i]);
	}
	return f || s;
}

int zstd_dec_init(struct zstd_dec *d, zstd_fill_fn fill, void *src,
		  uint64_t raw, size_t cap, struct bmap_err *err)
{
	memset(d, 0, sizeof(*d));
	d->fill = fill;
	d->src = src;
	d->raw = raw;
	d->cap = cap;
	d->between = true;
	d->buf = malloc(cap);
	d->dctx = ZSTD_createDCtx();
	if (!d->buf || !d->dctx) {
		zstd_dec_free(d);
		return bmap_seterr(err, ENOMEM, "out of memory");
	}
	return 0;
}

void zstd_dec_free(struct zstd_dec *d)
{
	ZSTD_freeDCtx(d->dctx);
	free(d->buf);
	d->dctx = NULL;
	d->buf = NULL;
}

/* More input after the bytes not used yet (moved to the front). */
static int zstd_dec_more(struct zstd_dec *d)
{
	ssize_t n;

	if (d->pos > 0) {
		memmove(d->buf, d->buf + d->pos, d->len - d->pos);
		d->raw += d->pos;
		d->len -= d->pos;
		d->pos = 0;
	}
	n = d->fill(d->src, d->buf + d->len, d->cap - d->len, &d->ferr);
	if (n < 0)
		return (int)n;
	d->eof = n == 0;
	d->len += (size_t)n;
	return 0;
}

static bool zstd_all_zero(const unsigned char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

static int zstd_garbage(struct zstd_dec *d, uint64_t at)
{
	return codec_corrupt(&d->ferr, "zstd", "trailing garbage at offset %"
			     PRIu64, at);
}

/* A zero byte after the last frame: zeros up to the end are padding. */
static int zstd_dec_padding(struct zstd_dec *d)
{
	uint64_t at = zstd_dec_pos(d);
	int r;

	for (;;) {
		if (!zstd_all_zero(d->buf + d->pos, d->len - d->pos))
			return zstd_garbage(d, at);
		d->pos = d->len;
		if (d->eof)
			return 0;
		r = zstd_dec_more(d);
		if (r < 0)
			return r;
	}
}

/* Between frames: 1 when a frame (or a skippable one) starts, 0 at the
 * end of the data, -errno when what comes is not allowed. */
static int zstd_dec_boundary(struct zstd_dec *d)
{
	const unsigned char *p;
	size_t avail;
	int r;

	while (d->len - d->pos < ZST_HEADER_MAX && !d->eof) {
		r = zstd_dec_more(d);
		if (r < 0)
			return r;
	}
	p = d->buf + d->pos;
	avail = d->len - d->pos;
	if (avail >= 4 && (zstd_is_frame(p) || zstd_is_skippable(p))) {
		d->between = false;
		d->skipping = zstd_is_skippable(p);
		d->coff = zstd_dec_pos(d);
		d->produced = 0;
		d->hsize = d->skipping ? 8 : ZSTD_frameHeaderSize(p, avail);
		if (ZSTD_isError(d->hsize))
			d->hsize = avail;	/* libzstd says why */
		return 1;
	}
	if (avail == 0)
		return 0;
	if (p[0] == 0)
		return zstd_dec_padding(d);
	if (avail < 4 && zstd_magic_prefix(p, avail))
		return codec_truncated(&d->ferr, "zstd");
	return zstd_garbage(d, zstd_dec_pos(d));
}

/*
 * How much input the next call of libzstd gets. Within one call libzstd
 * may decode several blocks, and when one fails it returns the error
 * without counting the bytes it already gave of the others; given a
 * whole frame and room for all of it, it returns none of the frame when
 * its checksum fails. How much a call sees would then depend on how the
 * input came (a pipe, a file, a cursor's pieces) and so would the bytes
 * returned before an error. So each call gets exactly what libzstd
 * needs for its next step (a frame header, a block header, a block, a
 * checksum), once it is all here, and nothing when it may still hold
 * bytes back: one block at a time, the same on every side.
 */
static int zstd_dec_give(struct zstd_dec *d, size_t *give)
{
	size_t need;
	int r;

	if (d->pending) {
		*give = 0;
		return 0;
	}
	need = d->hsize ? d->hsize : ZSTD_nextSrcSizeToDecompress(d->dctx);
	if (need == 0)
		need = 1;	/* a byte libzstd held back */
	/* A skippable frame's content is skipped as it comes. */
	while (d->len - d->pos < need && !d->eof &&
	       (d->pos > 0 || d->len < d->cap) &&
	       (!d->skipping || d->pos == d->len)) {
		r = zstd_dec_more(d);
		if (r < 0)
			return r;
	}
	*give = d->len - d->pos < need ? d->len - d->pos : need;
	return 0;
}

/* One call of libzstd: 1 at the end of a frame, 0 when it needs more
 * input or more room, -errno on failure. */
static int zstd_dec_step(struct zstd_dec *d, ZSTD_outBuffer *out)
{
	ZSTD_inBuffer in;
	size_t before = out->pos, give, ret;
	bool flush_only = d->pending;
	int r;

	r = zstd_dec_give(d, &give);
	if (r < 0)
		return r;
	in.src = d->buf;
	in.pos = d->pos;
	in.size = d->pos + give;
	ret = ZSTD_decompressStream(d->dctx, out, &in);
	d->pos = in.pos;
	d->hsize = 0;
	if (ZSTD_isError(ret))
		return codec_corrupt(&d->ferr, "zstd", "%s",
				     ZSTD_getErrorName(ret));
	d->produced += out->pos - before;
	d->pending = out->pos == out->size;
	if (ret == 0) {
		d->between = true;
		d->pending = false;
		if (d->skipping || !d->frame_end)
			return 1;
		r = d->frame_end(d->arg, d->coff, zstd_dec_pos(d),
				 d->produced, &d->ferr);
		return r < 0 ? r : 1;
	}
	/* All the input taken, room left, and the frame goes on. */
	if (!flush_only && d->pos == d->len && d->eof && !d->pending)
		return codec_truncated(&d->ferr, "zstd");
	return 0;
}

ssize_t zstd_dec_read(struct zstd_dec *d, void *buf, size_t len,
		      struct bmap_err *err)
{
	ZSTD_outBuffer out = { buf, len, 0 };
	int r = 0;

	while (!d->failed && !d->done && out.pos < out.size) {
		if (d->between) {
			r = zstd_dec_boundary(d);
			if (r == 0)
				d->done = true;
			if (r <= 0)
				break;
		}
		r = zstd_dec_step(d, &out);
		if (r < 0)
			break;
	}
	if (r < 0)
		d->failed = r;
	/* What was decoded before a failure first; the failure next. */
	if (out.pos > 0)
		return (ssize_t)out.pos;
	if (d->failed) {
		if (err)
			*err = d->ferr;
		return d->failed;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* STREAM: from the start of a codec_input                             */

struct zstd_stream {
	struct codec_input *in;
	struct zstd_dec dec;
};

static ssize_t zstd_input_fill(void *src, void *buf, size_t len,
			       struct bmap_err *err)
{
	ssize_t n = codec_input_read(src, buf, len);

	if (n < 0)
		return bmap_seterr(err, (int)-n, "cannot read the image: %s",
				   strerror((int)-n));
	return n;
}

static ssize_t zstd_stream_read(void *state, void *buf, size_t len,
				struct bmap_err *err)
{
	struct zstd_stream *s = state;

	return zstd_dec_read(&s->dec, buf, len, err);
}

static void zstd_stream_close(void *state)
{
	struct zstd_stream *s = state;

	zstd_dec_free(&s->dec);
	free(s);
}

static const struct codec_stream_ops zstd_stream_ops = {
	.name = "zstd",
	.read = zstd_stream_read,
	.close = zstd_stream_close,
};

int zstd_stream_open(struct codec_input *in, unsigned threads,
		     const struct codec_stream_ops **ops, void **state,
		     struct bmap_err *err)
{
	struct zstd_stream *s = calloc(1, sizeof(*s));
	int r;

	(void)threads;	/* frames depend on none before them, but one
			 * decoder keeps up with the disk (DESIGN.md) */
	if (!s)
		return bmap_seterr(err, ENOMEM, "out of memory");
	s->in = in;
	r = zstd_dec_init(&s->dec, zstd_input_fill, in, 0, ZST_STREAM_CHUNK,
			  err);
	if (r < 0) {
		free(s);
		return r;
	}
	*ops = &zstd_stream_ops;
	*state = s;
	return 0;
}
