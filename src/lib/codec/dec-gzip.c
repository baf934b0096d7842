/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dec-gzip.c - gzip decoding with ISA-L's igzip. Every member's header is
 * parsed (FEXTRA, FNAME, FCOMMENT, FHCRC), its CRC-32 and ISIZE trailer
 * verified; concatenated members decode as one stream. After the last
 * member may come zero bytes (padding to a block, which gzip -t takes
 * too) up to the end of the input; anything else is refused.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/igzip_lib.h>

#include "base/error.h"
#include "codec/codec.h"

/* Raw input is read in chunks of this size. */
#define GZ_CHUNK (1024 * 1024)
/* isal_inflate() counts output in 32 bits: one call gets at most this. */
#define GZ_OUT_MAX (1u << 30)
/* RFC 1952: a member starts with ID1 ID2; reserved flag bits are zero. */
#define GZ_ID1 0x1f
#define GZ_ID2 0x8b
#define GZ_FLAGS_RESERVED 0xe0u

enum gz_phase {
	GZ_HEADER,	/* reading a member's header */
	GZ_BODY,	/* inflating a member, then checking its trailer */
	GZ_END,		/* every member decoded and verified */
};

struct gz {
	struct codec_input *in;
	enum gz_phase phase;
	bool eof;		/* the raw input is exhausted */
	bool hdr_started;	/* bytes of this member's header taken */
	uint64_t members;	/* members decoded and verified */
	/* Kept across calls: a header may straddle two input chunks. */
	struct isal_gzip_header hdr;
	struct inflate_state inf;
	unsigned char chunk[GZ_CHUNK];
};

/* More raw input once the last chunk is used up. */
static int gz_fill(struct gz *s, struct bmap_err *err)
{
	ssize_t n;

	if (s->inf.avail_in > 0 || s->eof)
		return 0;
	n = codec_input_read(s->in, s->chunk, sizeof(s->chunk));
	if (n < 0)
		return bmap_seterr(err, (int)-n, "cannot read the image: %s",
				   strerror((int)-n));
	s->eof = n == 0;
	s->inf.next_in = s->chunk;
	s->inf.avail_in = (uint32_t)n;
	return 0;
}

static int gz_truncated(struct bmap_err *err)
{
	return bmap_seterr(err, EIO, "truncated gzip data");
}

static int gz_garbage(struct bmap_err *err)
{
	return bmap_seterr(err, EBADMSG, "trailing garbage after gzip data");
}

/* Zero bytes after the last member, to the end of the input. */
static int gz_padding(struct gz *s, struct bmap_err *err)
{
	int ret = codec_input_rest_zero(s->in, s->inf.next_in, s->inf.avail_in);

	s->inf.avail_in = 0;
	if (ret == -EBADMSG)
		return gz_garbage(err);
	if (ret < 0)
		return bmap_seterr(err, -ret, "cannot read the image: %s",
				   strerror(-ret));
	s->eof = true;
	s->phase = GZ_END;
	return 0;
}

/* At the start of a member. After the first, the end of the input may
 * come instead, or zero bytes up to it, but nothing else than another
 * gzip magic. */
static int gz_next_member(struct gz *s, struct bmap_err *err)
{
	const uint8_t *p = s->inf.next_in;

	if (s->inf.avail_in == 0) {
		if (s->members == 0)
			return gz_truncated(err);
		s->phase = GZ_END;
		return 0;
	}
	if (s->members > 0 && p[0] == 0)
		return gz_padding(s, err);
	if (s->members > 0 && (p[0] != GZ_ID1 ||
			       (s->inf.avail_in > 1 && p[1] != GZ_ID2)))
		return gz_garbage(err);
	isal_inflate_reset(&s->inf);
	isal_gzip_header_init(&s->hdr);
	s->hdr_started = true;
	return 0;
}

static int gz_header_error(const struct gz *s, int ret, struct bmap_err *err)
{
	if (ret == ISAL_INVALID_WRAPPER && s->members > 0)
		return gz_garbage(err);
	if (ret == ISAL_INVALID_WRAPPER)
		return bmap_seterr(err, EBADMSG, "not gzip data");
	if (ret == ISAL_UNSUPPORTED_METHOD)
		return bmap_seterr(err, EBADMSG,
				   "unsupported gzip compression method");
	if (ret == ISAL_INCORRECT_CHECKSUM)
		return bmap_seterr(err, EBADMSG,
				   "corrupt gzip header: header CRC mismatch");
	return bmap_seterr(err, EBADMSG, "corrupt gzip header (ISA-L error %d)",
			   ret);
}

/* One step of reading a member's header from the input at hand. */
static int gz_header(struct gz *s, struct bmap_err *err)
{
	int ret;

	if (!s->hdr_started) {
		ret = gz_next_member(s, err);
		if (ret < 0 || s->phase == GZ_END)
			return ret;
	}
	ret = isal_read_gzip_header(&s->inf, &s->hdr);
	if (ret == ISAL_END_INPUT)
		return s->eof ? gz_truncated(err) : 0;
	if (ret != ISAL_DECOMP_OK)
		return gz_header_error(s, ret, err);
	if (s->hdr.flags & GZ_FLAGS_RESERVED)
		return bmap_seterr(err, EBADMSG,
				   "corrupt gzip header: reserved flags set");
	/* The header is done: inflate, then check CRC-32 and ISIZE. */
	s->inf.crc_flag = ISAL_GZIP_NO_HDR_VER;
	s->phase = GZ_BODY;
	return 0;
}

static int gz_inflate_error(int ret, struct bmap_err *err)
{
	if (ret == ISAL_INCORRECT_CHECKSUM)
		return bmap_seterr(err, EBADMSG, "corrupt gzip data: CRC-32 "
				   "or length check failed");
	if (ret == ISAL_INVALID_LOOKBACK)
		return bmap_seterr(err, EBADMSG, "corrupt gzip data: "
				   "invalid distance");
	if (ret == ISAL_INVALID_SYMBOL)
		return bmap_seterr(err, EBADMSG, "corrupt gzip data: "
				   "invalid code");
	if (ret == ISAL_INVALID_BLOCK)
		return bmap_seterr(err, EBADMSG, "corrupt gzip data: "
				   "invalid block");
	return bmap_seterr(err, EBADMSG, "corrupt gzip data (ISA-L error %d)",
			   ret);
}

/* One step of inflating into out; *done is the bytes it produced. */
static int gz_body(struct gz *s, uint8_t *out, size_t len, size_t *done,
		   struct bmap_err *err)
{
	uint32_t avail_in = s->inf.avail_in;
	enum isal_block_state state = s->inf.block_state;
	int ret;

	s->inf.next_out = out;
	s->inf.avail_out = len > GZ_OUT_MAX ? GZ_OUT_MAX : (uint32_t)len;
	ret = isal_inflate(&s->inf);
	*done = (size_t)(s->inf.next_out - out);
	if (ret != ISAL_DECOMP_OK)
		return gz_inflate_error(ret, err);
	if (s->inf.block_state == ISAL_BLOCK_FINISH) {
		/* Trailer verified; the next member, if any, starts at
		 * next_in. */
		s->members++;
		s->phase = GZ_HEADER;
		s->hdr_started = false;
		return 0;
	}
	if (*done > 0 || s->inf.avail_in != avail_in ||
	    s->inf.block_state != state)
		return 0;
	/* No progress: out of input for good, or ISA-L is stuck. */
	if (s->eof)
		return gz_truncated(err);
	if (s->inf.avail_in > 0)
		return bmap_seterr(err, EIO, "gzip decoder made no progress");
	return 0;
}

static ssize_t gz_read(void *state, void *buf, size_t len,
		       struct bmap_err *err)
{
	struct gz *s = state;
	size_t got = 0, n;
	int ret;

	while (got < len && s->phase != GZ_END) {
		ret = gz_fill(s, err);
		if (ret < 0)
			return ret;
		if (s->phase == GZ_HEADER) {
			ret = gz_header(s, err);
		} else {
			ret = gz_body(s, (uint8_t *)buf + got, len - got, &n,
				      err);
			got += n;
		}
		if (ret < 0)
			return ret;
	}
	return (ssize_t)got;
}

static void gz_close(void *state)
{
	free(state);
}

static const struct codec_stream_ops gz_ops = {
	.name = "gzip (ISA-L)",
	.read = gz_read,
	.close = gz_close,
};

int src_gzip_open(struct codec_input *in, unsigned threads,
		  const struct codec_stream_ops **ops, void **state,
		  struct bmap_err *err)
{
	struct gz *s;

	(void)threads;	/* one thread: the caller overlaps hash and write */
	s = malloc(sizeof(*s));
	if (!s)
		return bmap_seterr(err, ENOMEM, "out of memory");
	memset(s, 0, offsetof(struct gz, chunk));
	s->in = in;
	s->phase = GZ_HEADER;
	isal_inflate_init(&s->inf);
	*ops = &gz_ops;
	*state = s;
	return 0;
}
