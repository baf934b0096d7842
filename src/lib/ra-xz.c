/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ra-xz.c - seek points in xz files: the start of every block. The index
 * at the end of each stream lists the blocks with their compressed and
 * uncompressed sizes, so open reads only the indexes (liblzma's file info
 * decoder, fed by pread and following its seek requests through
 * concatenated streams and stream padding) and every seek point is known
 * from then on: nothing to learn, nothing to save.
 *
 * A cursor decodes one block at a time with liblzma's block decoder, which
 * verifies the block's check and its sizes against the index, then goes on
 * to the next block (in the same stream or the next) until the last.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lzma.h>

#include "error.h"
#include "ra.h"

/* Compressed input is read in pieces of this size. */
#define RXZ_CHUNK (128 * 1024)
/* The index of a sane file fits in far less (a block costs a few dozen
 * bytes of it): this only stops a hostile file from eating memory. */
#define RXZ_INDEX_MEMLIMIT (256ull * 1024 * 1024)
/* Fewer blocks than this: no useful seek point, decode sequentially. */
#define RXZ_MIN_BLOCKS 2

static const unsigned char rxz_magic[6] = { 0xfd, '7', 'z', 'X', 'Z', 0 };

/* Shared by every cursor; read-only once open has returned. */
struct rxz {
	int fd;
	uint64_t file_size;
	lzma_index *idx;	/* the blocks of all streams, in file order */
	uint64_t size;		/* uncompressed */
};

struct rxz_cursor {
	const struct rxz *x;
	lzma_index_iter it;	/* the block being decoded */
	lzma_stream strm;	/* its block decoder, reused block to block */
	lzma_block block;	/* which that decoder keeps a pointer to */
	bool in_block;		/* strm set up for the block of it */
	bool end;		/* past the last block */
	uint64_t in_pos;	/* file offset of the next input to read */
	uint64_t in_left;	/* input of the block not read yet */
	unsigned char buf[RXZ_CHUNK];
};

static int rxz_pread(int fd, void *buf, size_t len, uint64_t off,
		     struct bmap_err *err)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
				  (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return bmap_seterr(err, errno, "cannot read the xz "
					   "file: %s", strerror(errno));
		if (n == 0)
			return bmap_seterr(err, EBADMSG, "truncated xz file");
		done += (size_t)n;
	}
	return 0;
}

static int rxz_lzma_error(lzma_ret ret, const char *what,
			  struct bmap_err *err)
{
	switch (ret) {
	case LZMA_MEM_ERROR:
		return bmap_seterr(err, ENOMEM, "xz: out of memory");
	case LZMA_MEMLIMIT_ERROR:
		return bmap_seterr(err, ENOMEM, "xz: the index of the file is "
				   "too large");
	case LZMA_OPTIONS_ERROR:
		return bmap_seterr(err, EBADMSG, "unsupported xz options");
	case LZMA_BUF_ERROR:
		return bmap_seterr(err, EBADMSG, "corrupt xz %s: truncated",
				   what);
	case LZMA_FORMAT_ERROR:
	case LZMA_DATA_ERROR:
		return bmap_seterr(err, EBADMSG, "corrupt xz %s", what);
	default:
		return bmap_seterr(err, EBADMSG, "corrupt xz %s (liblzma "
				   "error %d)", what, (int)ret);
	}
}

/* The combined index of every stream, read by liblzma's file info decoder
 * which tells where it wants its input from. */
static int rxz_read_index(struct rxz *x, struct bmap_err *err)
{
	lzma_stream strm = LZMA_STREAM_INIT;
	unsigned char *buf;
	uint64_t pos = 0;
	lzma_ret ret;
	int r = 0;

	buf = malloc(RXZ_CHUNK);
	if (!buf)
		return bmap_seterr(err, ENOMEM, "out of memory");
	ret = lzma_file_info_decoder(&strm, &x->idx, RXZ_INDEX_MEMLIMIT,
				     x->file_size);
	while (ret == LZMA_OK || ret == LZMA_SEEK_NEEDED) {
		lzma_action action = LZMA_RUN;

		if (strm.avail_in == 0) {
			uint64_t left = x->file_size - pos;
			size_t n = left < RXZ_CHUNK ? (size_t)left : RXZ_CHUNK;

			r = rxz_pread(x->fd, buf, n, pos, err);
			if (r < 0)
				break;
			strm.next_in = buf;
			strm.avail_in = n;
			pos += n;
			if (n == 0)	/* it wants more than the file has */
				action = LZMA_FINISH;
		}
		ret = lzma_code(&strm, action);
		if (ret == LZMA_SEEK_NEEDED) {
			pos = strm.seek_pos;
			strm.avail_in = 0;
		} else if (ret == LZMA_OK && action == LZMA_FINISH) {
			ret = LZMA_BUF_ERROR;
		}
	}
	if (r == 0 && ret != LZMA_STREAM_END)
		r = rxz_lzma_error(ret, "index", err);
	lzma_end(&strm);
	free(buf);
	return r;
}

static int rxz_open(int fd, uint64_t file_size, unsigned threads,
		    void **fmt, struct bmap_err *err)
{
	unsigned char head[sizeof(rxz_magic)];
	struct rxz *x;
	int r;

	(void)threads;	/* one block per cursor: nothing to share out */
	if (file_size < sizeof(head) ||
	    rxz_pread(fd, head, sizeof(head), 0, NULL) < 0 ||
	    memcmp(head, rxz_magic, sizeof(head)) != 0)
		return -ENOTSUP;
	x = calloc(1, sizeof(*x));
	if (!x)
		return bmap_seterr(err, ENOMEM, "out of memory");
	x->fd = fd;
	x->file_size = file_size;
	r = rxz_read_index(x, err);
	if (r == 0 && lzma_index_block_count(x->idx) < RXZ_MIN_BLOCKS)
		r = -ENOTSUP;
	if (r < 0) {
		lzma_index_end(x->idx, NULL);
		free(x);
		return r;
	}
	x->size = lzma_index_uncompressed_size(x->idx);
	*fmt = x;
	return 0;
}

static uint64_t rxz_size(void *fmt)
{
	return ((struct rxz *)fmt)->size;
}

/* Point it at the block holding off, or the last block when off is at or
 * past the end. lzma_index_iter_locate skips empty blocks. */
static void rxz_locate(const struct rxz *x, lzma_index_iter *it,
		       uint64_t off)
{
	lzma_index_iter_init(it, x->idx);
	if (off < x->size && !lzma_index_iter_locate(it, off))
		return;
	/* At or past the end: the last block with data. */
	if (x->size > 0 && !lzma_index_iter_locate(it, x->size - 1))
		return;
	/* No data at all: the first block (open saw two or more). */
	if (lzma_index_iter_next(it, LZMA_INDEX_ITER_BLOCK))
		lzma_index_iter_init(it, x->idx);
}

static uint64_t rxz_point(void *fmt, uint64_t off)
{
	lzma_index_iter it;

	rxz_locate(fmt, &it, off);
	return it.block.uncompressed_file_offset;
}

/* Set up the block decoder for the block of c->it: read and decode its
 * header, check it against the index. */
static int rxz_block_start(struct rxz_cursor *c, struct bmap_err *err)
{
	lzma_filter filters[LZMA_FILTERS_MAX + 1];
	const lzma_index_iter *it = &c->it;
	lzma_block *block = &c->block;
	uint64_t pos = it->block.compressed_file_offset;
	lzma_ret ret;
	size_t i;
	int r;

	r = rxz_pread(c->x->fd, c->buf, 1, pos, err);
	if (r < 0)
		return r;
	if (c->buf[0] == 0)	/* the index indicator: not a block */
		return bmap_seterr(err, EBADMSG, "corrupt xz data: block "
				   "missing at offset %llu",
				   (unsigned long long)pos);
	memset(block, 0, sizeof(*block));
	block->version = 1;
	block->header_size = lzma_block_header_size_decode(c->buf[0]);
	block->check = it->stream.flags->check;
	block->filters = filters;
	if (block->header_size > it->block.total_size)
		return bmap_seterr(err, EBADMSG, "corrupt xz data: block "
				   "header larger than the block");
	r = rxz_pread(c->x->fd, c->buf, block->header_size, pos, err);
	if (r < 0)
		return r;
	ret = lzma_block_header_decode(block, NULL, c->buf);
	if (ret != LZMA_OK)
		return rxz_lzma_error(ret, "block header", err);
	/* Checks the header's compressed size, or sets it from the
	 * index's; the uncompressed size likewise, the decoder then
	 * holds the block to it. */
	ret = lzma_block_compressed_size(block, it->block.unpadded_size);
	if (ret == LZMA_OK && block->uncompressed_size != LZMA_VLI_UNKNOWN &&
	    block->uncompressed_size != it->block.uncompressed_size)
		ret = LZMA_DATA_ERROR;
	block->uncompressed_size = it->block.uncompressed_size;
	if (ret == LZMA_OK)
		ret = lzma_block_decoder(&c->strm, block);
	for (i = 0; filters[i].id != LZMA_VLI_UNKNOWN; i++)
		free(filters[i].options);
	block->filters = NULL;	/* only needed to set the decoder up */
	if (ret != LZMA_OK)
		return rxz_lzma_error(ret, "data: block sizes do not match "
				      "the index", err);
	c->in_pos = pos + block->header_size;
	c->in_left = it->block.total_size - block->header_size;
	c->strm.avail_in = 0;
	c->in_block = true;
	return 0;
}

static void rxz_cursor_close(void *cur)
{
	struct rxz_cursor *c = cur;

	lzma_end(&c->strm);
	free(c);
}

static int rxz_cursor_open(void *fmt, uint64_t off, void **cur,
			   uint64_t *start, struct bmap_err *err)
{
	const struct rxz *x = fmt;
	struct rxz_cursor *c;

	c = malloc(sizeof(*c));
	if (!c)
		return bmap_seterr(err, ENOMEM, "out of memory");
	c->x = x;
	c->strm = (lzma_stream)LZMA_STREAM_INIT;
	c->in_block = false;
	c->end = false;
	rxz_locate(x, &c->it, off);
	*start = c->it.block.uncompressed_file_offset;
	*cur = c;
	return 0;
}

/* Feed the block decoder the next piece of its block. */
static int rxz_fill(struct rxz_cursor *c, struct bmap_err *err)
{
	size_t n;
	int r;

	if (c->strm.avail_in > 0 || c->in_left == 0)
		return 0;
	n = c->in_left < RXZ_CHUNK ? (size_t)c->in_left : RXZ_CHUNK;
	r = rxz_pread(c->x->fd, c->buf, n, c->in_pos, err);
	if (r < 0)
		return r;
	c->strm.next_in = c->buf;
	c->strm.avail_in = n;
	c->in_pos += n;
	c->in_left -= n;
	return 0;
}

/* The block decoder is done: every byte of the block must have been
 * used, then on to the next block, if any. */
static int rxz_block_end(struct rxz_cursor *c, struct bmap_err *err)
{
	if (c->strm.avail_in > 0 || c->in_left > 0)
		return bmap_seterr(err, EBADMSG, "corrupt xz data: block "
				   "shorter than the index says");
	c->in_block = false;
	c->end = lzma_index_iter_next(&c->it, LZMA_INDEX_ITER_BLOCK);
	return 0;
}

static ssize_t rxz_cursor_read(void *cur, void *buf, size_t len,
			       struct bmap_err *err)
{
	struct rxz_cursor *c = cur;
	lzma_ret ret;
	bool last;
	int r;

	c->strm.next_out = buf;
	c->strm.avail_out = len;
	while (c->strm.avail_out == len && len > 0 && !c->end) {
		if (!c->in_block) {
			r = rxz_block_start(c, err);
			if (r < 0)
				return r;
		}
		r = rxz_fill(c, err);
		if (r < 0)
			return r;
		/* Once the block's input is all given, FINISH makes liblzma
		 * say LZMA_BUF_ERROR rather than wait for more. */
		last = c->in_left == 0 && c->strm.avail_in == 0;
		ret = lzma_code(&c->strm, last ? LZMA_FINISH : LZMA_RUN);
		if (ret == LZMA_STREAM_END) {
			r = rxz_block_end(c, err);
			if (r < 0)
				return r;
		} else if (ret != LZMA_OK) {
			return rxz_lzma_error(ret, "data", err);
		}
	}
	return (ssize_t)(len - c->strm.avail_out);
}

static void rxz_close(void *fmt)
{
	struct rxz *x = fmt;

	lzma_index_end(x->idx, NULL);
	free(x);
}

const struct ra_format_ops ra_xz_ops = {
	.name = "xz",
	.open = rxz_open,
	.size = rxz_size,
	.point = rxz_point,
	.cursor_open = rxz_cursor_open,
	.cursor_read = rxz_cursor_read,
	.cursor_close = rxz_cursor_close,
	.close = rxz_close,
};
