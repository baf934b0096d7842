/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lzop.c - lzop decoding with liblzo2, in place of the external lzop
 * program that libarchive runs (whose messages would reach our stderr).
 * Every file's header is parsed and its checksum verified; every block's
 * checksums (Adler-32 and CRC-32 of its compressed and decompressed data,
 * those the header's flags ask for) and size are verified; concatenated
 * lzop files decode as one stream; anything after the last one that is
 * not another lzop file is refused. Filters (lzop --filter) are not
 * supported.
 *
 * The input is read exactly as far as the format says, so a block's data
 * lands where it is decoded from. A block that fits in the caller's buffer
 * is decoded straight into it; one that does not is decoded into ours and
 * handed out over the next reads. Memory: two buffers of the largest
 * block's size at most (lzop writes 256 KiB blocks; 64 MiB is its limit).
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lzo/lzo1x.h>

#include "base/error.h"
#include "codec/codec.h"
#include "codec/lzop.h"

/* ------------------------------------------------------------------ */
/* Blocks                                                              */

/* A checksum field at *p if present (then past it), else 0. */
static uint32_t lzp_field(bool present, const unsigned char **p)
{
	uint32_t v = present ? lzp_be32(*p) : 0;

	*p += present ? 4 : 0;
	return v;
}

/* A block's sizes and checksums; *end at the end-of-file marker. */
static int lzp_block_header(struct lzp *s, struct lzp_block *b, bool *end,
			    struct bmap_err *err)
{
	const uint32_t f = s->flags;
	unsigned char buf[16];
	const unsigned char *p = buf;
	bool ad, cd, ac, cc;
	int ret;

	b->at = s->in->consumed;
	ret = lzp_need(s, buf, 4, err);
	if (ret < 0)
		return ret;
	b->dlen = lzp_be32(buf);
	*end = b->dlen == 0;
	if (*end)
		return 0;
	if (b->dlen > LZP_BLOCK_MAX)
		return lzp_corrupt(b, "block size over 64 MiB", err);
	ret = lzp_need(s, buf, 4, err);
	if (ret < 0)
		return ret;
	b->clen = lzp_be32(buf);
	if (b->clen == 0 || b->clen > b->dlen)
		return lzp_corrupt(b, "bad compressed block size", err);
	/* The compressed data's checksums only if it is not stored as is. */
	ad = f & LZP_F_ADLER32_D;
	cd = f & LZP_F_CRC32_D;
	ac = (f & LZP_F_ADLER32_C) && b->clen < b->dlen;
	cc = (f & LZP_F_CRC32_C) && b->clen < b->dlen;
	ret = lzp_need(s, buf, 4u * ((unsigned)ad + cd + ac + cc), err);
	if (ret < 0)
		return ret;
	b->adler_d = lzp_field(ad, &p);
	b->crc_d = lzp_field(cd, &p);
	b->adler_c = lzp_field(ac, &p);
	b->crc_c = lzp_field(cc, &p);
	return 0;
}

/* The checksums the flags ask for: Adler-32 if fa, CRC-32 if fc. */
static bool lzp_sums_ok(uint32_t flags, uint32_t fa, uint32_t fc,
			uint32_t adler, uint32_t crc, const unsigned char *p,
			size_t n)
{
	if ((flags & fa) && lzo_adler32(1, p, n) != adler)
		return false;
	return !(flags & fc) || lzo_crc32(0, p, n) == crc;
}

static int lzp_decompress(const struct lzp_block *b, const unsigned char *src,
			  unsigned char *dst, struct bmap_err *err)
{
	lzo_uint n = b->dlen;
	int r = lzo1x_decompress_safe(src, b->clen, dst, &n, NULL);

	if (r == LZO_E_INPUT_OVERRUN)
		return lzp_corrupt(b, "compressed block cut short", err);
	if (r == LZO_E_OUTPUT_OVERRUN)
		return lzp_corrupt(b, "block decodes to more than its size",
				   err);
	if (r == LZO_E_LOOKBEHIND_OVERRUN)
		return lzp_corrupt(b, "invalid back reference", err);
	if (r == LZO_E_INPUT_NOT_CONSUMED)
		return lzp_corrupt(b, "bytes after the compressed block's end",
				   err);
	if (r != LZO_E_OK)
		return bmap_seterr(err, EBADMSG, "corrupt lzop data: LZO "
				   "error %d (block at byte %llu)", r,
				   (unsigned long long)b->at);
	if (n != b->dlen)
		return lzp_corrupt(b, "block decodes to less than its size",
				   err);
	return 0;
}

/* A block's data, read (stored) or decoded into dst. */
static int lzp_block_data(struct lzp *s, const struct lzp_block *b,
			  unsigned char *dst, struct bmap_err *err)
{
	int ret;

	if (b->clen == b->dlen)
		return lzp_need(s, dst, b->dlen, err);
	ret = lzp_grow(&s->cbuf, &s->cbuf_size, b->clen, err);
	if (ret < 0)
		return ret;
	ret = lzp_need(s, s->cbuf, b->clen, err);
	if (ret < 0)
		return ret;
	if (!lzp_sums_ok(s->flags, LZP_F_ADLER32_C, LZP_F_CRC32_C, b->adler_c,
			 b->crc_c, s->cbuf, b->clen))
		return lzp_corrupt(b, "compressed data checksum mismatch",
				   err);
	return lzp_decompress(b, s->cbuf, dst, err);
}

/* One block: into out if it fits in room (*done is then its size), else
 * into dbuf to be handed out. At the end marker, on to the next file. */
static int lzp_block(struct lzp *s, unsigned char *out, size_t room,
		     size_t *done, struct bmap_err *err)
{
	struct lzp_block b = { 0 };
	unsigned char *dst = out;
	bool end;
	int ret;

	*done = 0;
	ret = lzp_block_header(s, &b, &end, err);
	if (ret < 0)
		return ret;
	if (end) {
		s->files++;
		s->phase = LZP_FILE;
		return 0;
	}
	if (room < b.dlen) {
		ret = lzp_grow(&s->dbuf, &s->dbuf_size, b.dlen, err);
		if (ret < 0)
			return ret;
		dst = s->dbuf;
	}
	ret = lzp_block_data(s, &b, dst, err);
	if (ret < 0)
		return ret;
	if (!lzp_sums_ok(s->flags, LZP_F_ADLER32_D, LZP_F_CRC32_D, b.adler_d,
			 b.crc_d, dst, b.dlen))
		return lzp_corrupt(&b, "checksum mismatch", err);
	if (dst == out) {
		*done = b.dlen;
	} else {
		s->pend = dst;
		s->pend_len = b.dlen;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The decoder                                                         */

static ssize_t lzp_read(void *state, void *buf, size_t len,
			struct bmap_err *err)
{
	struct lzp *s = state;
	unsigned char *out = buf;
	size_t got = 0, n;
	int ret;

	if (s->failed) {
		if (err)
			*err = s->fail_err;
		return s->failed;
	}
	while (got < len && s->phase != LZP_END) {
		if (s->pend_len > 0) {
			n = len - got < s->pend_len ? len - got : s->pend_len;
			memcpy(out + got, s->pend, n);
			s->pend += n;
			s->pend_len -= n;
			got += n;
			continue;
		}
		if (s->phase == LZP_FILE) {
			ret = lzp_file(s, err);
		} else {
			ret = lzp_block(s, out + got, len - got, &n, err);
			got += n;
		}
		if (ret < 0) {
			s->failed = ret;
			if (err)
				s->fail_err = *err;
			return ret;
		}
	}
	return (ssize_t)got;
}

static void lzp_close(void *state)
{
	struct lzp *s = state;

	free(s->cbuf);
	free(s->dbuf);
	free(s);
}

static const struct codec_stream_ops lzp_ops = {
	.name = "lzop (liblzo2)",
	.read = lzp_read,
	.close = lzp_close,
};

int lzop_stream_open(struct codec_input *in, unsigned threads,
		  const struct codec_stream_ops **ops, void **state,
		  struct bmap_err *err)
{
	struct lzp *s;

	(void)threads;	/* one thread: the caller overlaps hash and write */
	/* lzo_init() only checks that the library matches the header's
	 * types; it sets no state, so calling it on every open is safe. */
	if (lzo_init() != LZO_E_OK)
		return bmap_seterr(err, EINVAL, "lzop: liblzo2 does not match "
				   "the one built against");
	s = calloc(1, sizeof(*s));
	if (!s)
		return bmap_seterr(err, ENOMEM, "lzop: out of memory");
	s->in = in;
	s->phase = LZP_FILE;
	*ops = &lzp_ops;
	*state = s;
	return 0;
}

