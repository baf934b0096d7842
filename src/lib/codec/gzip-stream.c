/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * gzip-stream.c - gzip's STREAM decoder (bmapcopy): ISA-L's igzip from
 * the start of the input, a file or a pipe, member after member. Headers,
 * trailers, padding and every error are gzip-member.c's, the same as the
 * SEEK cursors'; this file only moves the bytes.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "codec/gzip.h"

/* Raw input is read in chunks of this size. */
#define GZIP_STREAM_CHUNK (1024 * 1024)

struct gzip_stream {
	struct codec_input *src;
	struct gzip_in in;	/* the bytes of chunk not yet used */
	enum gzip_phase phase;
	uint64_t mlen;		/* this member's output so far */
	uint32_t crc;		/* and its CRC-32 */
	unsigned stalls;
	struct gzip_fail fail;
	struct gzip_hdr hdr;
	struct gzip_trl trl;
	struct inflate_state inf;
	unsigned char chunk[GZIP_STREAM_CHUNK];
};

/* More raw input once the last chunk is used up. */
static int gzip_stream_fill(struct gzip_stream *s, struct bmap_err *err)
{
	ssize_t n;

	if (s->in.avail > 0 || s->in.eof)
		return 0;
	n = codec_input_read(s->src, s->chunk, sizeof(s->chunk));
	if (n < 0)
		return gzip_err_read((int)n, err);
	s->in.eof = n == 0;
	s->in.next = s->chunk;
	s->in.avail = (size_t)n;
	return 0;
}

/* The member's header is whole: its deflate data comes. */
static void gzip_stream_body(struct gzip_stream *s)
{
	isal_inflate_reset(&s->inf);
	s->inf.crc_flag = ISAL_DEFLATE;
	s->mlen = 0;
	s->crc = 0;
	s->stalls = 0;
	s->phase = GZIP_P_BODY;
}

/* After a member (or its padding): what comes next. */
static void gzip_stream_next(struct gzip_stream *s)
{
	switch (gzip_next(&s->in)) {
	case GZIP_NEXT_MORE:
		break;
	case GZIP_NEXT_END:
		s->phase = GZIP_P_END;
		break;
	case GZIP_NEXT_PAD:
		s->phase = GZIP_P_PAD;
		break;
	case GZIP_NEXT_MEMBER:
		gzip_hdr_init(&s->hdr, false);
		s->phase = GZIP_P_HEADER;
		break;
	}
}

/* One step in the current phase; *done is what it wrote to out. */
static int gzip_stream_step(struct gzip_stream *s, unsigned char *out,
			    size_t len, size_t *done, struct bmap_err *err)
{
	int ret = 0;

	*done = 0;
	switch (s->phase) {
	case GZIP_P_HEADER:
		ret = gzip_hdr_feed(&s->hdr, &s->in, err);
		if (ret == 1)
			gzip_stream_body(s);
		break;
	case GZIP_P_BODY:
		ret = gzip_isal_step(&s->inf, &s->in, out, len, done, &s->crc,
				     &s->trl, &s->stalls, err);
		s->mlen += *done;
		if (ret == 1)
			s->phase = GZIP_P_TRAILER;
		break;
	case GZIP_P_TRAILER:
		ret = gzip_trl_feed(&s->trl, &s->in, s->crc, s->mlen, err);
		if (ret == 1)
			s->phase = GZIP_P_NEXT;
		break;
	case GZIP_P_NEXT:
		gzip_stream_next(s);
		break;
	case GZIP_P_PAD:
		ret = gzip_pad_feed(&s->in, err);
		if (ret == 1)
			s->phase = GZIP_P_END;
		break;
	case GZIP_P_END:
		break;
	}
	return ret < 0 ? ret : 0;
}

static ssize_t gzip_stream_read(void *state, void *buf, size_t len,
				struct bmap_err *err)
{
	struct gzip_stream *s = state;
	size_t got = 0, n;
	int ret;

	if (s->fail.code)
		return gzip_fail_again(&s->fail, err);
	while (got < len && s->phase != GZIP_P_END) {
		ret = gzip_stream_fill(s, err);
		if (ret == 0)
			ret = gzip_stream_step(s, (unsigned char *)buf + got,
					       len - got, &n, err);
		if (ret < 0)
			return gzip_fail_keep(&s->fail, ret, err);
		got += n;
	}
	return (ssize_t)got;
}

static void gzip_stream_close(void *state)
{
	free(state);
}

static const struct codec_stream_ops gzip_stream_ops = {
	.name = "gzip (ISA-L)",
	.read = gzip_stream_read,
	.close = gzip_stream_close,
};

int gzip_stream_open(struct codec_input *in, unsigned threads,
		     const struct codec_stream_ops **ops, void **state,
		     struct bmap_err *err)
{
	struct gzip_stream *s;

	(void)threads;	/* one thread: the caller overlaps hash and write */
	s = malloc(sizeof(*s));
	if (!s)
		return bmap_seterr(err, ENOMEM, "out of memory");
	memset(s, 0, offsetof(struct gzip_stream, chunk));
	s->src = in;
	s->phase = GZIP_P_HEADER;
	gzip_hdr_init(&s->hdr, true);
	isal_inflate_init(&s->inf);
	*ops = &gzip_stream_ops;
	*state = s;
	return 0;
}
