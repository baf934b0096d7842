/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xz-seek.c - the SEEK side of xz: every block's start is a seek point.
 * The index at the end of each stream lists the blocks with their
 * compressed and uncompressed sizes, so open reads only the indexes
 * (liblzma's file info decoder, fed by pread and following its seek
 * requests through concatenated streams and stream padding) and every
 * seek point is known from then on: nothing to learn, nothing to save.
 *
 * Open says -ENOTSUP, and the engine decodes the file from the start
 * with the STREAM side (xz-stream.c), when seeking would not help or
 * could not say what the stream decoder says: a single block; an index
 * that cannot be read (the file cut short, its footer or an index
 * damaged, trailing garbage, an index too large); an integrity check
 * liblzma cannot verify. What lies before the damage is then served, and
 * the error is the stream decoder's, where it is ("truncated xz data").
 * Walking the block headers forward instead would find blocks only in
 * files whose headers hold their sizes (which they need not), and would be
 * a second index reader, for damaged files only.
 *
 * A cursor decodes one block at a time (xz-block.c), then goes on to the
 * next block (in the same stream or the next) until the last. With two
 * threads or more, a cursor that goes past its first block (it is reading
 * on, not serving one small read) has a worker decode the block after
 * the one it decodes (xz-ahead.c). A cursor that failed keeps failing,
 * after handing out the bytes before the damage.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "codec/codec.h"
#include "codec/xz.h"

/* Fewer blocks than this: no useful seek point, decode sequentially. */
#define XZ_SEEK_MIN_BLOCKS 2

/* Shared by every cursor; read-only once open has returned, but for the
 * points dropped. */
struct xz_file {
	int fd;
	uint64_t file_size;
	lzma_index *idx;	/* the blocks of all streams, in file order */
	uint64_t size;		/* uncompressed */
	bool ahead;		/* cursors decode a block ahead */
	size_t ahead_max;	/* XZ_AHEAD_MAX but in the tests */
	pthread_mutex_t lock;	/* for dropped, ndropped */
	uint64_t *dropped;	/* block starts no cursor starts at */
	size_t ndropped;
};

struct xz_cursor {
	const struct xz_file *x;
	struct xz_block dec;	/* dec.it: the block being read */
	bool in_block;		/* reading the block of dec.it */
	bool from_ahead;	/* which comes from the worker */
	bool first;		/* the cursor's first block */
	bool end;		/* past the last block */
	bool no_ahead;		/* one thread, or no worker to be had */
	bool posted;		/* the next block is the worker's */
	struct xz_ahead *ah;	/* NULL until started */
	int failed;		/* 0, or the -errno every read now gives */
	struct bmap_err fail_err;	/* with its message */
};

/* Feed liblzma's file info decoder what it asks for, until it has read
 * the index of every stream into x->idx. 0; -ENOTSUP when it cannot (the
 * file is not whole, or damaged at its end); -errno when the file cannot
 * be read, or memory runs out. */
static int xz_seek_read_index(struct xz_file *x, struct bmap_err *err)
{
	lzma_stream strm = LZMA_STREAM_INIT;
	unsigned char *buf;
	uint64_t pos = 0;
	lzma_ret ret;
	int r = 0;

	buf = malloc(XZ_BLOCK_CHUNK);
	if (!buf)
		return bmap_seterr(err, ENOMEM, "out of memory");
	ret = lzma_file_info_decoder(&strm, &x->idx, XZ_INDEX_MEMLIMIT,
				     x->file_size);
	while (ret == LZMA_OK || ret == LZMA_SEEK_NEEDED) {
		lzma_action action = LZMA_RUN;

		if (strm.avail_in == 0) {
			uint64_t left = x->file_size - pos;
			size_t n = left < XZ_BLOCK_CHUNK ? (size_t)left :
				   XZ_BLOCK_CHUNK;

			r = codec_pread(x->fd, buf, n, pos, "xz", err);
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
	if (r == 0 && ret == LZMA_MEM_ERROR)
		r = xz_error(ret, err);
	else if (r == 0 && ret != LZMA_STREAM_END)
		r = -ENOTSUP;
	lzma_end(&strm);
	free(buf);
	return r;
}

static int xz_seek_open(int fd, uint64_t file_size, unsigned threads,
			void **fmt, struct bmap_err *err)
{
	unsigned char head[XZ_MAGIC_LEN];
	struct xz_file *x;
	int r;

	if (file_size < sizeof(head) ||
	    codec_pread(fd, head, sizeof(head), 0, "xz", NULL) < 0 ||
	    !xz_probe(head, sizeof(head)))
		return -ENOTSUP;
	x = calloc(1, sizeof(*x));
	if (!x)
		return bmap_seterr(err, ENOMEM, "out of memory");
	x->fd = fd;
	x->file_size = file_size;
	r = xz_seek_read_index(x, err);
	if (r == 0 && (lzma_index_block_count(x->idx) < XZ_SEEK_MIN_BLOCKS ||
		       !xz_checks_supported(lzma_index_checks(x->idx))))
		r = -ENOTSUP;
	if (r < 0) {
		lzma_index_end(x->idx, NULL);
		free(x);
		return r;
	}
	x->size = lzma_index_uncompressed_size(x->idx);
	x->ahead = threads >= 2;
	x->ahead_max = XZ_AHEAD_MAX;
	pthread_mutex_init(&x->lock, NULL);
	*fmt = x;
	return 0;
}

static uint64_t xz_seek_size(void *fmt)
{
	return ((struct xz_file *)fmt)->size;
}

/* The block holding off, or the last block when off is at or past the
 * end. lzma_index_iter_locate skips empty blocks. */
static void xz_seek_locate_any(const struct xz_file *x, lzma_index_iter *it,
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

/* Whether no cursor may start at image offset off. With the lock. */
static bool xz_seek_dropped(const struct xz_file *x, uint64_t off)
{
	size_t i;

	for (i = 0; i < x->ndropped; i++)
		if (x->dropped[i] == off)
			return true;
	return false;
}

/* Point it at the block holding off, or the last block when off is at or
 * past the end; back past blocks whose start was dropped. */
static void xz_seek_locate(struct xz_file *x, lzma_index_iter *it,
			   uint64_t off)
{
	uint64_t start;

	pthread_mutex_lock(&x->lock);
	xz_seek_locate_any(x, it, off);
	while ((start = it->block.uncompressed_file_offset) > 0 &&
	       xz_seek_dropped(x, start))
		xz_seek_locate_any(x, it, start - 1);
	pthread_mutex_unlock(&x->lock);
}

static uint64_t xz_seek_point(void *fmt, uint64_t off)
{
	lzma_index_iter it;

	xz_seek_locate(fmt, &it, off);
	return it.block.uncompressed_file_offset;
}

/* Blocks are found from the index, not learnt: one dropped stays so (a
 * cursor decoding through it is unaffected, blocks decode alike from
 * wherever a cursor started). */
static void xz_seek_drop_point(void *fmt, uint64_t off)
{
	struct xz_file *x = fmt;
	uint64_t *p;

	if (off == 0)
		return;
	pthread_mutex_lock(&x->lock);
	if (!xz_seek_dropped(x, off)) {
		p = realloc(x->dropped, (x->ndropped + 1) * sizeof(*p));
		if (p) {	/* else it stays: it costs an error, no more */
			x->dropped = p;
			p[x->ndropped++] = off;
		}
	}
	pthread_mutex_unlock(&x->lock);
}

static int xz_seek_cursor_open(void *fmt, uint64_t off, void **cur,
			       uint64_t *start, struct bmap_err *err)
{
	struct xz_file *x = fmt;
	struct xz_cursor *c;

	c = calloc(1, sizeof(*c));
	if (!c)
		return bmap_seterr(err, ENOMEM, "out of memory");
	c->x = x;
	xz_block_init(&c->dec, x->fd);
	c->first = true;
	c->no_ahead = !x->ahead;
	xz_seek_locate(x, &c->dec.it, off);
	*start = c->dec.it.block.uncompressed_file_offset;
	*cur = c;
	return 0;
}

static void xz_seek_cursor_close(void *cur)
{
	struct xz_cursor *c = cur;

	xz_ahead_free(c->ah);
	xz_block_end(&c->dec);
	free(c);
}

/* Hand the block after the one being read to the worker, if there is one
 * and a worker (and its buffer) can be had: else it is decoded here. */
static void xz_seek_post_next(struct xz_cursor *c)
{
	lzma_index_iter next = c->dec.it;

	if (lzma_index_iter_next(&next, LZMA_INDEX_ITER_BLOCK))
		return;		/* the last block */
	if (!c->ah)
		c->ah = xz_ahead_new(c->x->fd);
	if (!c->ah) {
		c->no_ahead = true;
		return;
	}
	c->posted = xz_ahead_post(c->ah, &next, c->x->ahead_max);
}

/* The block of c->dec.it is over: on to the next, if any. */
static void xz_seek_block_over(struct xz_cursor *c)
{
	c->in_block = false;
	c->from_ahead = false;
	c->first = false;
	c->end = lzma_index_iter_next(&c->dec.it, LZMA_INDEX_ITER_BLOCK);
}

/* At the start of the block of c->dec.it: the worker's, or decoded here
 * (and then the one after it goes to the worker). */
static int xz_seek_enter_block(struct xz_cursor *c, struct bmap_err *err)
{
	int r;

	if (c->posted) {
		c->posted = false;
		c->from_ahead = true;
	} else {
		r = xz_block_start(&c->dec, err);
		if (r < 0)
			return r;
		if (!c->first && !c->no_ahead)
			xz_seek_post_next(c);
	}
	c->in_block = true;
	return 0;
}

/* Some bytes (*got), or 0 at the end, or the first error. */
static int xz_seek_step(struct xz_cursor *c, void *buf, size_t len,
			size_t *got, struct bmap_err *err)
{
	bool done;
	ssize_t n;
	int r;

	*got = 0;
	while (*got == 0 && len > 0 && !c->end) {
		if (!c->in_block) {
			r = xz_seek_enter_block(c, err);
			if (r < 0)
				return r;
		}
		if (c->from_ahead) {
			n = xz_ahead_read(c->ah, buf, len, err);
			if (n < 0)
				return (int)n;
			if (n == 0)
				xz_seek_block_over(c);
			*got = (size_t)n;
			continue;
		}
		r = xz_block_code(&c->dec, buf, len, got, &done, err);
		if (r < 0)
			return r;
		if (done)
			xz_seek_block_over(c);
	}
	return 0;
}

static ssize_t xz_seek_cursor_read(void *cur, void *buf, size_t len,
				   struct bmap_err *err)
{
	struct xz_cursor *c = cur;
	size_t got;
	int r;

	if (c->failed == 0) {
		r = xz_seek_step(c, buf, len, &got, &c->fail_err);
		if (r == 0)
			return (ssize_t)got;
		c->failed = r;
		/* The bytes before the damage first. */
		if (got > 0)
			return (ssize_t)got;
	}
	if (err)
		*err = c->fail_err;
	return c->failed;
}

/* For the tests: decode ahead in pieces of at most max bytes. */
void xz_test_ahead_max(void *fmt, size_t max)
{
	((struct xz_file *)fmt)->ahead_max = max;
}

static void xz_seek_close(void *fmt)
{
	struct xz_file *x = fmt;

	lzma_index_end(x->idx, NULL);
	pthread_mutex_destroy(&x->lock);
	free(x->dropped);
	free(x);
}

const struct codec_seek_ops xz_seek_ops = {
	.name = "xz",
	.open = xz_seek_open,
	.size = xz_seek_size,
	.point = xz_seek_point,
	.drop_point = xz_seek_drop_point,
	.cursor_open = xz_seek_cursor_open,
	.cursor_read = xz_seek_cursor_read,
	.cursor_close = xz_seek_cursor_close,
	.close = xz_seek_close,
};
