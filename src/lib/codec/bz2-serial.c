/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bz2-serial.c - the bzip2 STREAM decoder on one thread: plain libbz2,
 * stream after stream, as bzip2 does; zero bytes after the last stream
 * are padding, anything else trailing garbage.
 */
#include "config.h"

#include <bzlib.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "codec/bz2-pipe.h"

#define RAW_CHUNK (256 * 1024)

/* ------------------------------------------------------------------ */
/* One thread: plain libbz2, stream after stream                       */

struct bz1 {
	struct codec_input *in;
	bz_stream strm;
	bool live;		/* strm is decoding a stream */
	bool eof;		/* the raw input is exhausted */
	uint64_t streams;	/* streams decoded and verified */
	unsigned char raw[RAW_CHUNK];
};

static int bz1_fill(struct bz1 *s, struct bmap_err *err)
{
	ssize_t n;

	if (s->strm.avail_in > 0 || s->eof)
		return 0;
	n = codec_input_read(s->in, s->raw, sizeof(s->raw));
	if (n < 0)
		return bz2_err_read(err, (int)n);
	s->eof = n == 0;
	s->strm.next_in = (char *)s->raw;
	s->strm.avail_in = (unsigned)n;
	return 0;
}

static int bz1_error(const struct bz1 *s, int ret, struct bmap_err *err)
{
	uint64_t at = s->in->consumed - s->strm.avail_in;

	if (ret == BZ_MEM_ERROR)
		return bz2_err_nomem(err);
	if (ret == BZ_DATA_ERROR_MAGIC && s->streams > 0)
		return bz2_err_garbage(err);
	if (ret == BZ_DATA_ERROR_MAGIC)
		return bmap_seterr(err, EBADMSG, "not bzip2 data");
	return bz2_err_corrupt(err, "bad block or CRC mismatch", at * 8);
}

/* Zero bytes after the last stream, to the end of the input. */
static int bz1_padding(struct bz1 *s, bool *end, struct bmap_err *err)
{
	int ret = codec_input_rest_zero(s->in, s->strm.next_in,
				      s->strm.avail_in);

	s->strm.avail_in = 0;
	if (ret == -EBADMSG)
		return bz2_err_garbage(err);
	if (ret < 0)
		return bz2_err_read(err, ret);
	s->eof = true;
	*end = true;
	return 0;
}

/* Between streams: the end of the input, or another stream. */
static int bz1_between(struct bz1 *s, bool *end)
{
	*end = s->strm.avail_in == 0 && s->eof;
	if (*end || s->strm.avail_in == 0)
		return 0;
	if (BZ2_bzDecompressInit(&s->strm, 0, 0) != BZ_OK)
		return BZ_MEM_ERROR;
	s->live = true;
	return BZ_OK;
}

/* One step of the current stream; *end at the end of the last one. */
static int bz1_step(struct bz1 *s, bool *end, struct bmap_err *err)
{
	int ret;

	ret = bz1_fill(s, err);
	if (ret < 0)
		return ret;
	if (!s->live) {
		if (s->streams > 0 && s->strm.avail_in > 0 &&
		    s->strm.next_in[0] == 0)
			return bz1_padding(s, end, err);
		ret = bz1_between(s, end);
		if (*end && s->streams == 0)
			return bz2_err_truncated(err);
		return ret == BZ_MEM_ERROR ? bz2_err_nomem(err) : 0;
	}
	ret = BZ2_bzDecompress(&s->strm);
	if (ret == BZ_STREAM_END) {
		BZ2_bzDecompressEnd(&s->strm);
		s->live = false;
		s->streams++;
		return 0;
	}
	if (ret != BZ_OK)
		return bz1_error(s, ret, err);
	if (s->strm.avail_in == 0 && s->eof && s->strm.avail_out > 0)
		return bz2_err_truncated(err);
	return 0;
}

static ssize_t bz1_read(void *state, void *buf, size_t len,
			struct bmap_err *err)
{
	struct bz1 *s = state;
	bool end = false;
	int ret;

	if (len > UINT32_MAX)
		len = UINT32_MAX;
	s->strm.next_out = buf;
	s->strm.avail_out = (unsigned)len;
	while (s->strm.avail_out > 0 && !end) {
		ret = bz1_step(s, &end, err);
		if (ret < 0)
			return ret;
	}
	return (ssize_t)(len - s->strm.avail_out);
}

static void bz1_close(void *state)
{
	struct bz1 *s = state;

	if (s->live)
		BZ2_bzDecompressEnd(&s->strm);
	free(s);
}

static const struct codec_stream_ops bz1_ops = {
	.name = "bzip2",
	.read = bz1_read,
	.close = bz1_close,
};

int bz2_serial_open(struct codec_input *in,
		     const struct codec_stream_ops **ops, void **state,
		     struct bmap_err *err)
{
	struct bz1 *s = calloc(1, sizeof(*s));

	if (!s)
		return bz2_err_nomem(err);
	s->in = in;
	*ops = &bz1_ops;
	*state = s;
	return 0;
}

