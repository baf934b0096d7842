/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xz-block.c - the SEEK side's block decoder: one block of a seekable xz
 * file, located by the index (its offset and sizes), decoded with
 * liblzma's block decoder, which verifies the block's check and holds it
 * to the sizes the index gives. Damage is reported by the module's one
 * mapping (xz.c), as the stream decoder reports it: a block that
 * disagrees with the index is corrupt data, like a bad header or check.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "codec/codec.h"
#include "codec/xz.h"

static int xz_block_pread(int fd, void *buf, size_t len, uint64_t off,
			  struct bmap_err *err)
{
	return codec_pread(fd, buf, len, off, "xz", err);
}

/* The block is not what the index says it is. */
static int xz_block_corrupt(struct bmap_err *err)
{
	return xz_error(LZMA_DATA_ERROR, err);
}

void xz_block_init(struct xz_block *d, int fd)
{
	d->fd = fd;
	d->strm = (lzma_stream)LZMA_STREAM_INIT;
}

void xz_block_end(struct xz_block *d)
{
	lzma_end(&d->strm);
}

int xz_block_start(struct xz_block *d, struct bmap_err *err)
{
	lzma_filter filters[LZMA_FILTERS_MAX + 1];
	const lzma_index_iter *it = &d->it;
	lzma_block *block = &d->block;
	uint64_t pos = it->block.compressed_file_offset;
	lzma_ret ret;
	size_t i;
	int r;

	r = xz_block_pread(d->fd, d->buf, 1, pos, err);
	if (r < 0)
		return r;
	if (d->buf[0] == 0)	/* the index indicator: not a block */
		return xz_block_corrupt(err);
	memset(block, 0, sizeof(*block));
	block->version = 1;
	block->header_size = lzma_block_header_size_decode(d->buf[0]);
	block->check = it->stream.flags->check;
	block->filters = filters;
	if (block->header_size > it->block.total_size)
		return xz_block_corrupt(err);
	r = xz_block_pread(d->fd, d->buf, block->header_size, pos, err);
	if (r < 0)
		return r;
	ret = lzma_block_header_decode(block, NULL, d->buf);
	if (ret != LZMA_OK)
		return xz_error(ret, err);
	/* Checks the header's compressed size, or sets it from the
	 * index's; the uncompressed size likewise, the decoder then
	 * holds the block to it. */
	ret = lzma_block_compressed_size(block, it->block.unpadded_size);
	if (ret == LZMA_OK && block->uncompressed_size != LZMA_VLI_UNKNOWN &&
	    block->uncompressed_size != it->block.uncompressed_size)
		ret = LZMA_DATA_ERROR;
	block->uncompressed_size = it->block.uncompressed_size;
	if (ret == LZMA_OK)
		ret = lzma_block_decoder(&d->strm, block);
	for (i = 0; filters[i].id != LZMA_VLI_UNKNOWN; i++)
		free(filters[i].options);
	block->filters = NULL;	/* only needed to set the decoder up */
	if (ret != LZMA_OK)
		return xz_error(ret, err);
	d->in_pos = pos + block->header_size;
	d->in_left = it->block.total_size - block->header_size;
	d->strm.avail_in = 0;
	return 0;
}

/* Feed the block decoder the next piece of its block. */
static int xz_block_fill(struct xz_block *d, struct bmap_err *err)
{
	size_t n;
	int r;

	if (d->strm.avail_in > 0 || d->in_left == 0)
		return 0;
	n = d->in_left < XZ_BLOCK_CHUNK ? (size_t)d->in_left : XZ_BLOCK_CHUNK;
	r = xz_block_pread(d->fd, d->buf, n, d->in_pos, err);
	if (r < 0)
		return r;
	d->strm.next_in = d->buf;
	d->strm.avail_in = n;
	d->in_pos += n;
	d->in_left -= n;
	return 0;
}

int xz_block_code(struct xz_block *d, unsigned char *out, size_t len,
		  size_t *got, bool *done, struct bmap_err *err)
{
	lzma_ret ret;
	bool last;
	int r;

	*got = 0;
	*done = false;
	r = xz_block_fill(d, err);
	if (r < 0)
		return r;
	/* Once the block's input is all given, FINISH makes liblzma say
	 * LZMA_BUF_ERROR rather than wait for more. */
	last = d->in_left == 0 && d->strm.avail_in == 0;
	d->strm.next_out = out;
	d->strm.avail_out = len;
	ret = lzma_code(&d->strm, last ? LZMA_FINISH : LZMA_RUN);
	*got = len - d->strm.avail_out;
	if (ret == LZMA_STREAM_END) {
		/* Shorter than the index says. */
		if (d->strm.avail_in > 0 || d->in_left > 0)
			return xz_block_corrupt(err);
		*done = true;
		return 0;
	}
	/* Every byte the index gives the block, and it wants more: the
	 * file is whole (its index was read), the block is wrong. */
	if (ret == LZMA_BUF_ERROR)
		return xz_block_corrupt(err);
	if (ret != LZMA_OK)
		return xz_error(ret, err);
	return 0;
}
