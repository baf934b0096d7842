/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xz-stream.c - the STREAM side of xz: liblzma's threaded decoder, from
 * the start of the input (a file or a pipe). The blocks of a multi-block
 * file (xz -T) decode in parallel, single-block files in one thread;
 * every block's check is verified. Concatenated streams (with stream
 * padding between them) decode as one; anything else after the last
 * stream is refused. Errors follow the module's one mapping (xz.c); once
 * the decoder has failed, every later read gives the same error.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "codec/codec.h"
#include "codec/xz.h"

/* Raw input is read in chunks of this size. */
#define XZ_STREAM_CHUNK (1024 * 1024)

enum xz_stream_phase {
	XZ_STREAM_IN,		/* decoding a stream */
	XZ_STREAM_BETWEEN,	/* after a stream: padding, the end or another */
	XZ_STREAM_END,		/* every stream decoded and verified */
};

struct xz_stream {
	struct codec_input *in;
	lzma_stream strm;
	lzma_mt mt;
	enum xz_stream_phase phase;
	bool eof;		/* the raw input is exhausted */
	uint64_t streams;	/* streams decoded and verified */
	uint64_t padding;	/* zero bytes since the last stream */
	int failed;		/* 0, or the -errno every read now gives */
	struct bmap_err fail_err;	/* with its message */
	unsigned char chunk[XZ_STREAM_CHUNK];
};

/* More raw input once the last chunk is used up. */
static int xz_stream_fill(struct xz_stream *s, struct bmap_err *err)
{
	ssize_t n;

	if (s->strm.avail_in > 0 || s->eof)
		return 0;
	n = codec_input_read(s->in, s->chunk, sizeof(s->chunk));
	if (n < 0)
		return bmap_seterr(err, (int)-n, "cannot read the image: %s",
				   strerror((int)-n));
	s->eof = n == 0;
	s->strm.next_in = s->chunk;
	s->strm.avail_in = (size_t)n;
	return 0;
}

/* A decoder for one stream (the next one, after the first). */
static int xz_stream_start(struct xz_stream *s, struct bmap_err *err)
{
	lzma_ret ret = lzma_stream_decoder_mt(&s->strm, &s->mt);

	if (ret != LZMA_OK)
		return xz_error(ret, err);
	s->phase = XZ_STREAM_IN;
	return 0;
}

/* Neither padding nor another stream after a stream: corrupt data, by
 * the codec rule. */
static int xz_stream_garbage(struct bmap_err *err)
{
	return codec_corrupt(err, "xz", "trailing garbage after the last "
			     "stream");
}

/* After a stream: zero padding in multiples of four bytes, then the end
 * of the input or another stream. */
static int xz_stream_between(struct xz_stream *s, struct bmap_err *err)
{
	while (s->strm.avail_in > 0 && *s->strm.next_in == 0) {
		s->strm.next_in++;
		s->strm.avail_in--;
		s->padding++;
	}
	if (s->strm.avail_in == 0 && !s->eof)
		return 0;
	if (s->padding % 4 != 0)
		return codec_corrupt(err, "xz", "bad stream padding");
	if (s->strm.avail_in == 0) {
		s->phase = XZ_STREAM_END;
		return 0;
	}
	if (*s->strm.next_in != xz_magic[0])
		return xz_stream_garbage(err);
	s->padding = 0;
	return xz_stream_start(s, err);
}

/* One step of decoding the current stream into the output at hand. */
static int xz_stream_step(struct xz_stream *s, struct bmap_err *err)
{
	lzma_ret ret;

	/* LZMA_FINISH at the end of the input: a truncated stream is
	 * reported instead of waited on. */
	ret = lzma_code(&s->strm, s->eof ? LZMA_FINISH : LZMA_RUN);
	if (ret == LZMA_STREAM_END) {
		s->streams++;
		s->phase = XZ_STREAM_BETWEEN;
		return 0;
	}
	if (ret == LZMA_OK)
		return 0;
	/* No stream header where another stream seemed to start. */
	if (ret == LZMA_FORMAT_ERROR && s->streams > 0)
		return xz_stream_garbage(err);
	return xz_error(ret, err);
}

static ssize_t xz_stream_read(void *state, void *buf, size_t len,
			      struct bmap_err *err)
{
	struct xz_stream *s = state;
	int ret = 0;

	if (s->failed < 0) {
		if (err)
			*err = s->fail_err;
		return s->failed;
	}
	s->strm.next_out = buf;
	s->strm.avail_out = len;
	while (ret == 0 && s->strm.avail_out > 0 &&
	       s->phase != XZ_STREAM_END) {
		ret = xz_stream_fill(s, &s->fail_err);
		if (ret == 0 && s->phase == XZ_STREAM_IN)
			ret = xz_stream_step(s, &s->fail_err);
		else if (ret == 0)
			ret = xz_stream_between(s, &s->fail_err);
	}
	if (ret < 0) {
		/* The bytes made before the error are handed out first;
		 * the error comes with the next read, and every one after. */
		s->failed = ret;
		if (s->strm.avail_out < len)
			return (ssize_t)(len - s->strm.avail_out);
		if (err)
			*err = s->fail_err;
		return ret;
	}
	return (ssize_t)(len - s->strm.avail_out);
}

static void xz_stream_close(void *state)
{
	struct xz_stream *s = state;

	lzma_end(&s->strm);
	free(s);
}

static const struct codec_stream_ops xz_stream_ops = {
	.name = "xz",
	.read = xz_stream_read,
	.close = xz_stream_close,
};

int xz_stream_open(struct codec_input *in, unsigned threads,
		   const struct codec_stream_ops **ops, void **state,
		   struct bmap_err *err)
{
	struct xz_stream *s;
	int ret;

	s = malloc(sizeof(*s));
	if (!s)
		return bmap_seterr(err, ENOMEM, "out of memory");
	memset(s, 0, offsetof(struct xz_stream, chunk));
	s->strm = (lzma_stream)LZMA_STREAM_INIT;
	s->in = in;
	xz_options(&s->mt, threads);
	ret = xz_stream_start(s, err);
	if (ret < 0) {
		xz_stream_close(s);
		return ret;
	}
	*ops = &xz_stream_ops;
	*state = s;
	return 0;
}
