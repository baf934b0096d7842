/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ra-xz.c - seek points in xz files: the start of every block. The index
 * at the end of each stream lists the blocks with their compressed and
 * uncompressed sizes, so open reads only the indexes (liblzma's file info
 * decoder, fed by pread and following its seek requests through
 * concatenated streams and stream padding) and every seek point is known
 * from then on: nothing to learn, nothing to save. A file whose index
 * cannot be read (cut short, or damaged at its end) is left to the
 * engine's sequential path (open says -ENOTSUP): it decodes from the
 * start, serves what lies before the damage and then fails as bmapcopy
 * does, -EIO "truncated xz data". Walking the block headers forward
 * instead would find blocks only in files whose headers hold their sizes
 * (which they need not), and would be a second index reader, for damaged
 * files only.
 *
 * A cursor decodes one block at a time with liblzma's block decoder, which
 * verifies the block's check and its sizes against the index, then goes on
 * to the next block (in the same stream or the next) until the last.
 *
 * Blocks decode independently, so with two threads or more a cursor that
 * goes past its first block (it is reading on, not serving one small
 * read) starts a worker thread of its own with a second block decoder:
 * while the caller decodes block k into the buffers it reads into, the
 * worker decodes block k + 1 into a buffer of the cursor, which the next
 * reads copy out (as soon as it is produced, not only once the block is
 * whole); then the caller decodes k + 2 and the worker k + 3, and so on.
 * Memory: at most one block ahead per cursor, in a buffer of the block's
 * uncompressed size, or RXZ_AHEAD_MAX when it is larger, in which case
 * the worker decodes it in pieces of that size, each one waiting for the
 * previous one to be read. Errors the worker finds (header, data, check,
 * sizes) are held until the reader has had the bytes before them. Closing
 * the cursor stops the worker between two calls to liblzma (each makes at
 * most RXZ_STEP of output) and joins it.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lzma.h>

#include "base/error.h"
#include "codec/codec.h"

/* Compressed input is read in pieces of this size. */
#define RXZ_CHUNK (128 * 1024)
/* The index of a sane file fits in far less (a block costs a few dozen
 * bytes of it): this only stops a hostile file from eating memory. */
#define RXZ_INDEX_MEMLIMIT (256ull * 1024 * 1024)
/* The most a cursor decodes ahead: a larger block goes in pieces. */
#define RXZ_AHEAD_MAX (64u * 1024 * 1024)
/* The most output of one call to liblzma by the worker, so that it sees
 * a stop, and hands out what it made, soon enough. */
#define RXZ_STEP (1024 * 1024)
/* Fewer blocks than this: no useful seek point, decode sequentially. */
#define RXZ_MIN_BLOCKS 2

static const unsigned char rxz_magic[6] = { 0xfd, '7', 'z', 'X', 'Z', 0 };

/* Shared by every cursor; read-only once open has returned, but for the
 * points dropped. */
struct rxz {
	int fd;
	uint64_t file_size;
	lzma_index *idx;	/* the blocks of all streams, in file order */
	uint64_t size;		/* uncompressed */
	bool ahead;		/* cursors decode a block ahead */
	size_t ahead_max;	/* RXZ_AHEAD_MAX but in the tests */
	pthread_mutex_t lock;	/* for dropped, ndropped */
	uint64_t *dropped;	/* block starts no cursor starts at */
	size_t ndropped;
};

/* A block decoder, for the block of it. */
struct rxz_dec {
	const struct rxz *x;
	lzma_index_iter it;	/* the block being decoded */
	lzma_stream strm;	/* its block decoder, reused block to block */
	lzma_block block;	/* which that decoder keeps a pointer to */
	uint64_t in_pos;	/* file offset of the next input to read */
	uint64_t in_left;	/* input of the block not read yet */
	unsigned char buf[RXZ_CHUNK];
};

/* The worker of a cursor and the block it decodes ahead. The reader owns
 * everything while state is RXZ_IDLE; otherwise the worker owns dec and
 * out[wpos..], the reader out[rpos..wpos), and lock guards the rest. */
enum rxz_state { RXZ_IDLE, RXZ_POSTED, RXZ_RUNNING, RXZ_DONE };

struct rxz_ahead {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* any change below (two threads only) */
	enum rxz_state state;
	bool stop;		/* the cursor is closing */
	bool waiting;		/* the worker waits for out to be read */
	unsigned char *out;	/* cap + 1 bytes */
	size_t cap;		/* the block's size, at most ahead_max */
	size_t alloc;		/* out's size */
	size_t wpos;		/* out[0..wpos) decoded, of this piece */
	size_t rpos;		/* out[0..rpos) handed out */
	int ret;		/* RXZ_DONE: 0, or the error, with err */
	struct bmap_err err;
	struct rxz_dec dec;
};

struct rxz_cursor {
	const struct rxz *x;
	struct rxz_dec dec;	/* dec.it: the block being read */
	bool in_block;		/* reading the block of dec.it */
	bool from_ahead;	/* which comes from the worker */
	bool first;		/* the cursor's first block */
	bool end;		/* past the last block */
	bool no_ahead;		/* one thread, or no worker to be had */
	bool posted;		/* the next block is the worker's */
	struct rxz_ahead *ah;	/* NULL until started */
};

static int rxz_pread(int fd, void *buf, size_t len, uint64_t off,
		     struct bmap_err *err)
{
	return codec_pread(fd, buf, len, off, "xz", err);
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
	/* No index to be had (the file is cut short, or damaged at its
	 * end): decode from the start, as bmapcopy does, so that what lies
	 * before the damage still reads and the decoder says what is wrong
	 * where it is ("truncated xz data"). */
	if (r == -EBADMSG)
		r = -ENOTSUP;
	if (r == 0 && lzma_index_block_count(x->idx) < RXZ_MIN_BLOCKS)
		r = -ENOTSUP;
	if (r < 0) {
		lzma_index_end(x->idx, NULL);
		free(x);
		return r;
	}
	x->size = lzma_index_uncompressed_size(x->idx);
	x->ahead = threads >= 2;
	x->ahead_max = RXZ_AHEAD_MAX;
	pthread_mutex_init(&x->lock, NULL);
	*fmt = x;
	return 0;
}

static uint64_t rxz_size(void *fmt)
{
	return ((struct rxz *)fmt)->size;
}

/* The block holding off, or the last block when off is at or past the
 * end. lzma_index_iter_locate skips empty blocks. */
static void rxz_locate_any(const struct rxz *x, lzma_index_iter *it,
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
static bool rxz_dropped(const struct rxz *x, uint64_t off)
{
	size_t i;

	for (i = 0; i < x->ndropped; i++)
		if (x->dropped[i] == off)
			return true;
	return false;
}

/* Point it at the block holding off, or the last block when off is at or
 * past the end; back past blocks whose start was dropped. */
static void rxz_locate(struct rxz *x, lzma_index_iter *it, uint64_t off)
{
	uint64_t start;

	pthread_mutex_lock(&x->lock);
	rxz_locate_any(x, it, off);
	while ((start = it->block.uncompressed_file_offset) > 0 &&
	       rxz_dropped(x, start))
		rxz_locate_any(x, it, start - 1);
	pthread_mutex_unlock(&x->lock);
}

static uint64_t rxz_point(void *fmt, uint64_t off)
{
	lzma_index_iter it;

	rxz_locate(fmt, &it, off);
	return it.block.uncompressed_file_offset;
}

/* Set up d's block decoder for the block of d->it: read and decode its
 * header, check it against the index. */
static int rxz_block_start(struct rxz_dec *d, struct bmap_err *err)
{
	lzma_filter filters[LZMA_FILTERS_MAX + 1];
	const lzma_index_iter *it = &d->it;
	lzma_block *block = &d->block;
	uint64_t pos = it->block.compressed_file_offset;
	lzma_ret ret;
	size_t i;
	int r;

	r = rxz_pread(d->x->fd, d->buf, 1, pos, err);
	if (r < 0)
		return r;
	if (d->buf[0] == 0)	/* the index indicator: not a block */
		return bmap_seterr(err, EBADMSG, "corrupt xz data: block "
				   "missing at offset %llu",
				   (unsigned long long)pos);
	memset(block, 0, sizeof(*block));
	block->version = 1;
	block->header_size = lzma_block_header_size_decode(d->buf[0]);
	block->check = it->stream.flags->check;
	block->filters = filters;
	if (block->header_size > it->block.total_size)
		return bmap_seterr(err, EBADMSG, "corrupt xz data: block "
				   "header larger than the block");
	r = rxz_pread(d->x->fd, d->buf, block->header_size, pos, err);
	if (r < 0)
		return r;
	ret = lzma_block_header_decode(block, NULL, d->buf);
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
		ret = lzma_block_decoder(&d->strm, block);
	for (i = 0; filters[i].id != LZMA_VLI_UNKNOWN; i++)
		free(filters[i].options);
	block->filters = NULL;	/* only needed to set the decoder up */
	if (ret != LZMA_OK)
		return rxz_lzma_error(ret, "data: block sizes do not match "
				      "the index", err);
	d->in_pos = pos + block->header_size;
	d->in_left = it->block.total_size - block->header_size;
	d->strm.avail_in = 0;
	return 0;
}

/* Feed the block decoder the next piece of its block. */
static int rxz_fill(struct rxz_dec *d, struct bmap_err *err)
{
	size_t n;
	int r;

	if (d->strm.avail_in > 0 || d->in_left == 0)
		return 0;
	n = d->in_left < RXZ_CHUNK ? (size_t)d->in_left : RXZ_CHUNK;
	r = rxz_pread(d->x->fd, d->buf, n, d->in_pos, err);
	if (r < 0)
		return r;
	d->strm.next_in = d->buf;
	d->strm.avail_in = n;
	d->in_pos += n;
	d->in_left -= n;
	return 0;
}

/* One call to the block decoder, with out[0..len) to decode into; *got
 * says how much it did. 1 when the block is over (every byte of it used,
 * as the index says), 0 when not yet, or an error. */
static int rxz_dec_code(struct rxz_dec *d, unsigned char *out, size_t len,
			size_t *got, struct bmap_err *err)
{
	lzma_ret ret;
	bool last;
	int r;

	*got = 0;
	r = rxz_fill(d, err);
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
		if (d->strm.avail_in > 0 || d->in_left > 0)
			return bmap_seterr(err, EBADMSG, "corrupt xz data: "
					   "block shorter than the index "
					   "says");
		return 1;
	}
	if (ret != LZMA_OK)
		return rxz_lzma_error(ret, "data", err);
	return 0;
}

static void rxz_dec_init(struct rxz_dec *d, const struct rxz *x)
{
	d->x = x;
	d->strm = (lzma_stream)LZMA_STREAM_INIT;
}

/* The worker: decodes each block posted to it into out, piece by piece
 * when it is larger than out, until told to stop. */
static void *rxz_worker(void *arg)
{
	struct rxz_ahead *ah = arg;

	pthread_mutex_lock(&ah->lock);
	for (;;) {
		uint64_t made = 0, usize;
		int r;

		while (!ah->stop && ah->state != RXZ_POSTED)
			pthread_cond_wait(&ah->cond, &ah->lock);
		if (ah->stop)
			break;
		ah->state = RXZ_RUNNING;
		usize = ah->dec.it.block.uncompressed_size;
		pthread_mutex_unlock(&ah->lock);
		r = rxz_block_start(&ah->dec, &ah->err);
		pthread_mutex_lock(&ah->lock);
		while (r == 0 && !ah->stop) {
			unsigned char *p = ah->out + ah->wpos;
			size_t n = ah->cap - ah->wpos, got;

			if (made == usize) {
				/* Only the end of the block is left (its
				 * check): room for a byte, out[cap] is
				 * spare, in case liblzma wants room. */
				n = 1;
			} else if (n == 0) {
				/* A piece of a large block, all decoded:
				 * wait for it to be read. */
				ah->waiting = true;
				pthread_cond_broadcast(&ah->cond);
				pthread_cond_wait(&ah->cond, &ah->lock);
				ah->waiting = false;
				continue;
			} else if (n > RXZ_STEP) {
				n = RXZ_STEP;
			}
			pthread_mutex_unlock(&ah->lock);
			r = rxz_dec_code(&ah->dec, p, n, &got, &ah->err);
			pthread_mutex_lock(&ah->lock);
			if (made == usize)
				got = 0;	/* never data: it errs */
			ah->wpos += got;
			made += got;
			if (got > 0)
				pthread_cond_broadcast(&ah->cond);
		}
		if (ah->stop)
			break;
		ah->ret = r < 0 ? r : 0;
		ah->state = RXZ_DONE;
		pthread_cond_broadcast(&ah->cond);
	}
	pthread_mutex_unlock(&ah->lock);
	return NULL;
}

static int rxz_ahead_start(struct rxz_cursor *c)
{
	struct rxz_ahead *ah = calloc(1, sizeof(*ah));

	if (!ah)
		return -ENOMEM;
	rxz_dec_init(&ah->dec, c->x);
	pthread_mutex_init(&ah->lock, NULL);
	pthread_cond_init(&ah->cond, NULL);
	ah->state = RXZ_IDLE;
	if (pthread_create(&ah->thread, NULL, rxz_worker, ah) != 0) {
		pthread_cond_destroy(&ah->cond);
		pthread_mutex_destroy(&ah->lock);
		free(ah);
		return -EAGAIN;
	}
	c->ah = ah;
	return 0;
}

/* Hand the block after the one being read to the worker, if there is one
 * and a worker (and its buffer) can be had: else it is decoded here. */
static void rxz_post_next(struct rxz_cursor *c)
{
	lzma_index_iter next = c->dec.it;
	struct rxz_ahead *ah;
	size_t cap;

	if (lzma_index_iter_next(&next, LZMA_INDEX_ITER_BLOCK))
		return;		/* the last block */
	if (!c->ah && rxz_ahead_start(c) < 0) {
		c->no_ahead = true;
		return;
	}
	ah = c->ah;		/* RXZ_IDLE: all the reader's */
	cap = next.block.uncompressed_size < c->x->ahead_max ?
		(size_t)next.block.uncompressed_size : c->x->ahead_max;
	if (ah->alloc < cap + 1) {
		free(ah->out);
		ah->out = malloc(cap + 1);
		ah->alloc = ah->out ? cap + 1 : 0;
		if (!ah->out)
			return;
	}
	pthread_mutex_lock(&ah->lock);
	ah->dec.it = next;
	ah->cap = cap;
	ah->wpos = 0;
	ah->rpos = 0;
	ah->ret = 0;
	ah->state = RXZ_POSTED;
	pthread_cond_broadcast(&ah->cond);
	pthread_mutex_unlock(&ah->lock);
	c->posted = true;
}

/* The next bytes of the block the worker decodes, as they come: 0 at its
 * end, or its error once every byte before it was read. */
static ssize_t rxz_ahead_read(struct rxz_cursor *c, void *buf, size_t len,
			      struct bmap_err *err)
{
	struct rxz_ahead *ah = c->ah;
	const unsigned char *src;
	size_t n;

	pthread_mutex_lock(&ah->lock);
	while (ah->rpos == ah->wpos) {
		if (ah->state == RXZ_DONE) {
			int r = ah->ret;

			if (r < 0 && err)
				*err = ah->err;
			else
				ah->state = RXZ_IDLE;
			pthread_mutex_unlock(&ah->lock);
			return r;	/* stays so after an error */
		}
		if (ah->waiting && ah->wpos == ah->cap) {
			/* That piece was read: on to the next. */
			ah->wpos = 0;
			ah->rpos = 0;
			pthread_cond_broadcast(&ah->cond);
		}
		pthread_cond_wait(&ah->cond, &ah->lock);
	}
	n = ah->wpos - ah->rpos < len ? ah->wpos - ah->rpos : len;
	src = ah->out + ah->rpos;
	pthread_mutex_unlock(&ah->lock);
	memcpy(buf, src, n);
	pthread_mutex_lock(&ah->lock);
	ah->rpos += n;
	if (ah->rpos == ah->cap && ah->waiting) {
		ah->wpos = 0;
		ah->rpos = 0;
		pthread_cond_broadcast(&ah->cond);
	}
	pthread_mutex_unlock(&ah->lock);
	return (ssize_t)n;
}

static void rxz_cursor_close(void *cur)
{
	struct rxz_cursor *c = cur;
	struct rxz_ahead *ah = c->ah;

	if (ah) {
		pthread_mutex_lock(&ah->lock);
		ah->stop = true;
		pthread_cond_broadcast(&ah->cond);
		pthread_mutex_unlock(&ah->lock);
		pthread_join(ah->thread, NULL);
		lzma_end(&ah->dec.strm);
		pthread_cond_destroy(&ah->cond);
		pthread_mutex_destroy(&ah->lock);
		free(ah->out);
		free(ah);
	}
	lzma_end(&c->dec.strm);
	free(c);
}

static int rxz_cursor_open(void *fmt, uint64_t off, void **cur,
			   uint64_t *start, struct bmap_err *err)
{
	struct rxz *x = fmt;
	struct rxz_cursor *c;

	c = calloc(1, sizeof(*c));
	if (!c)
		return bmap_seterr(err, ENOMEM, "out of memory");
	c->x = x;
	rxz_dec_init(&c->dec, x);
	c->first = true;
	c->no_ahead = !x->ahead;
	rxz_locate(x, &c->dec.it, off);
	*start = c->dec.it.block.uncompressed_file_offset;
	*cur = c;
	return 0;
}

/* The block of c->dec.it is over: on to the next, if any. */
static void rxz_block_end(struct rxz_cursor *c)
{
	c->in_block = false;
	c->from_ahead = false;
	c->first = false;
	c->end = lzma_index_iter_next(&c->dec.it, LZMA_INDEX_ITER_BLOCK);
}

static ssize_t rxz_cursor_read(void *cur, void *buf, size_t len,
			       struct bmap_err *err)
{
	struct rxz_cursor *c = cur;
	size_t got = 0;
	ssize_t n;
	int r;

	while (got == 0 && len > 0 && !c->end) {
		if (!c->in_block) {
			c->in_block = true;
			if (c->posted) {
				/* The worker has (or is decoding) it. */
				c->posted = false;
				c->from_ahead = true;
			} else {
				r = rxz_block_start(&c->dec, err);
				if (r < 0) {
					c->in_block = false;
					return r;
				}
				if (!c->first && !c->no_ahead)
					rxz_post_next(c);
			}
		}
		if (c->from_ahead) {
			n = rxz_ahead_read(c, buf, len, err);
			if (n < 0)
				return n;
			if (n == 0)
				rxz_block_end(c);
			got = (size_t)n;
			continue;
		}
		r = rxz_dec_code(&c->dec, buf, len, &got, err);
		if (r < 0)
			return r;
		if (r == 1)
			rxz_block_end(c);
	}
	return (ssize_t)got;
}

/* For the tests: decode ahead in pieces of at most max bytes. */
void ra_xz_test_ahead_max(void *fmt, size_t max)
{
	((struct rxz *)fmt)->ahead_max = max;
}

/* Blocks are found from the index, not learnt: one dropped stays so (a
 * cursor decoding through it is unaffected, blocks decode alike from
 * wherever a cursor started). */
static void rxz_drop_point(void *fmt, uint64_t off)
{
	struct rxz *x = fmt;
	uint64_t *p;

	if (off == 0)
		return;
	pthread_mutex_lock(&x->lock);
	if (!rxz_dropped(x, off)) {
		p = realloc(x->dropped, (x->ndropped + 1) * sizeof(*p));
		if (p) {	/* else it stays: it costs an error, no more */
			x->dropped = p;
			p[x->ndropped++] = off;
		}
	}
	pthread_mutex_unlock(&x->lock);
}

static void rxz_close(void *fmt)
{
	struct rxz *x = fmt;

	lzma_index_end(x->idx, NULL);
	pthread_mutex_destroy(&x->lock);
	free(x->dropped);
	free(x);
}

const struct codec_seek_ops ra_xz_ops = {
	.name = "xz",
	.open = rxz_open,
	.size = rxz_size,
	.point = rxz_point,
	.drop_point = rxz_drop_point,
	.cursor_open = rxz_cursor_open,
	.cursor_read = rxz_cursor_read,
	.cursor_close = rxz_cursor_close,
	.close = rxz_close,
};
