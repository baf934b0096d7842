/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dec-xz.c - xz decoding with liblzma's threaded decoder: the blocks of a
 * multi-block file (xz -T) decode in parallel, single-block files in one
 * thread; every block's check is verified. Concatenated streams (with
 * stream padding between them) decode as one; anything else after the last
 * stream is refused.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <lzma.h>

#include "base/error.h"
#include "codec/codec.h"

/* Raw input is read in chunks of this size. */
#define XZ_CHUNK (1024 * 1024)
/* Above this much memory liblzma uses fewer threads, down to one (which
 * it never refuses: see memlimit_stop). */
#define XZ_MEMLIMIT_THREADING (256ull * 1024 * 1024)
/* More threads than this is a mistake (liblzma's own limit is 16384). */
#define XZ_THREADS_MAX 256u

/* An xz stream starts with 0xfd "7zXZ" 0x00. */
#define XZ_MAGIC0 0xfd

enum xz_phase {
	XZ_STREAM,	/* decoding a stream */
	XZ_BETWEEN,	/* after a stream: padding, the end or another */
	XZ_END,		/* every stream decoded and verified */
};

struct xz {
	struct codec_input *in;
	lzma_stream strm;
	lzma_mt mt;
	enum xz_phase phase;
	bool eof;		/* the raw input is exhausted */
	uint64_t streams;	/* streams decoded and verified */
	uint64_t padding;	/* zero bytes since the last stream */
	unsigned char chunk[XZ_CHUNK];
};

/* More raw input once the last chunk is used up. */
static int xz_fill(struct xz *s, struct bmap_err *err)
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

static int xz_error(const struct xz *s, lzma_ret ret, struct bmap_err *err)
{
	switch (ret) {
	case LZMA_MEM_ERROR:
		return bmap_seterr(err, ENOMEM, "xz: out of memory");
	case LZMA_MEMLIMIT_ERROR:
		return bmap_seterr(err, ENOMEM, "xz: memory limit reached");
	case LZMA_FORMAT_ERROR:
		if (s->streams > 0)
			return bmap_seterr(err, EBADMSG,
					   "trailing garbage after xz data");
		return bmap_seterr(err, EBADMSG, "not xz data");
	case LZMA_OPTIONS_ERROR:
		return bmap_seterr(err, EBADMSG, "unsupported xz options");
	case LZMA_UNSUPPORTED_CHECK:
		return bmap_seterr(err, EBADMSG, "unsupported xz integrity "
				   "check: the data cannot be verified");
	case LZMA_DATA_ERROR:
		return bmap_seterr(err, EBADMSG, "corrupt xz data: compressed "
				   "data or integrity check is wrong");
	case LZMA_BUF_ERROR:
		return bmap_seterr(err, EIO, "truncated xz data");
	default:
		return bmap_seterr(err, EIO, "xz decoder error %d", (int)ret);
	}
}

/* A decoder for one stream (the next one, after the first). */
static int xz_start(struct xz *s, struct bmap_err *err)
{
	lzma_ret ret = lzma_stream_decoder_mt(&s->strm, &s->mt);

	if (ret != LZMA_OK)
		return xz_error(s, ret, err);
	s->phase = XZ_STREAM;
	return 0;
}

/* After a stream: zero padding in multiples of four bytes, then the end
 * of the input or another stream. */
static int xz_between(struct xz *s, struct bmap_err *err)
{
	while (s->strm.avail_in > 0 && *s->strm.next_in == 0) {
		s->strm.next_in++;
		s->strm.avail_in--;
		s->padding++;
	}
	if (s->strm.avail_in == 0 && !s->eof)
		return 0;
	if (s->padding % 4 != 0)
		return bmap_seterr(err, EBADMSG,
				   "corrupt xz data: bad stream padding");
	if (s->strm.avail_in == 0) {
		s->phase = XZ_END;
		return 0;
	}
	if (*s->strm.next_in != XZ_MAGIC0)
		return bmap_seterr(err, EBADMSG,
				   "trailing garbage after xz data");
	s->padding = 0;
	return xz_start(s, err);
}

/* One step of decoding the current stream into the output at hand. */
static int xz_stream(struct xz *s, struct bmap_err *err)
{
	lzma_ret ret;

	/* LZMA_FINISH at the end of the input: a truncated stream is
	 * reported instead of waited on. */
	ret = lzma_code(&s->strm, s->eof ? LZMA_FINISH : LZMA_RUN);
	if (ret == LZMA_STREAM_END) {
		s->streams++;
		s->phase = XZ_BETWEEN;
		return 0;
	}
	if (ret != LZMA_OK)
		return xz_error(s, ret, err);
	return 0;
}

static ssize_t xz_read(void *state, void *buf, size_t len,
		       struct bmap_err *err)
{
	struct xz *s = state;
	int ret;

	s->strm.next_out = buf;
	s->strm.avail_out = len;
	while (s->strm.avail_out > 0 && s->phase != XZ_END) {
		ret = xz_fill(s, err);
		if (ret < 0)
			return ret;
		if (s->phase == XZ_STREAM)
			ret = xz_stream(s, err);
		else
			ret = xz_between(s, err);
		if (ret < 0)
			return ret;
	}
	return (ssize_t)(len - s->strm.avail_out);
}

static void xz_close(void *state)
{
	struct xz *s = state;

	lzma_end(&s->strm);
	free(s);
}

static const struct codec_stream_ops xz_ops = {
	.name = "xz",
	.read = xz_read,
	.close = xz_close,
};

/* The decoder's options, the same for every stream. */
static void xz_options(lzma_mt *mt, unsigned threads)
{
	memset(mt, 0, sizeof(*mt));
	/* Checks are verified (no LZMA_IGNORE_CHECK); a check type liblzma
	 * cannot verify is an error, not a silent pass. Streams are taken
	 * one at a time (no LZMA_CONCATENATED) so that what follows one can
	 * be told apart: padding, another stream, or garbage. No
	 * LZMA_FAIL_FAST: with it, liblzma 5.4 reports some truncated files
	 * as corrupt. */
	mt->flags = LZMA_TELL_UNSUPPORTED_CHECK;
	mt->threads = threads < 1 ? 1 : threads > XZ_THREADS_MAX ?
		      XZ_THREADS_MAX : threads;
	mt->timeout = 0;	/* block until input is used or output full */
	/* One thread: liblzma's plain single-threaded decoder. */
	mt->memlimit_threading = mt->threads == 1 ? 1 : XZ_MEMLIMIT_THREADING;
	mt->memlimit_stop = UINT64_MAX;
}

int src_xz_open(struct codec_input *in, unsigned threads,
		const struct codec_stream_ops **ops, void **state,
		struct bmap_err *err)
{
	struct xz *s;
	int ret;

	s = malloc(sizeof(*s));
	if (!s)
		return bmap_seterr(err, ENOMEM, "out of memory");
	memset(s, 0, offsetof(struct xz, chunk));
	s->strm = (lzma_stream)LZMA_STREAM_INIT;
	s->in = in;
	xz_options(&s->mt, threads);
	ret = xz_start(s, err);
	if (ret < 0) {
		xz_close(s);
		return ret;
	}
	*ops = &xz_ops;
	*state = s;
	return 0;
}
