/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bz2-seek.c - the bzip2 SEEK decoder (bmapfs): seek points at every block.
 *
 * A bzip2 block decodes on its own, but its place in the output is the sum
 * of the output lengths of all blocks before it, which bzip2 records
 * nowhere. So:
 *  - The first cursor_open (or load) scans the whole file for block and
 *    end-of-stream magics (bz2_find_magics, on `threads` threads): a table
 *    of candidate cuts, 32 bytes each (bz2-table.c). Magics may also
 *    occur by chance inside a block: a block that fails at its next cut
 *    is joined up past them (bz2_block_join), and they are dropped.
 *  - The output offsets are known for a front run of the table (from 0)
 *    and, when the engine gives the image size (hint_size), for a
 *    back run (from the end). A cursor_open beyond both extends the cheaper
 *    one: batches of blocks decoded on `threads` threads just for their
 *    lengths, the side that has cost less so far going next
 *    (bz2-resolve.c).
 *  - Disk images hold many identical blocks (runs of zeros): a block's
 *    length is remembered by its exact bits, so each costs one decode, and
 *    a cursor passes an all-zero block without decoding it.
 *  - Cursors decode from a block in order, check every block CRC (libbz2
 *    does, on a block wrapped as a stream of its own), a stream's combined
 *    CRC when they saw the whole stream, and what lies between streams;
 *    they record the lengths they learn. From its second block on, a
 *    cursor (given two threads or more) has a worker decode the next block
 *    that needs decoding while it decodes and hands out the current one
 *    (bz2-ahead.c): the cursor takes it over, output, then result,
 *    in the order a decode of its own would give them.
 *
 * The engine tells the image size (hint_size) when it knows it: it must be
 * exact; a wrong size is noticed, and dropped, only when the front meets
 * the back or a cursor reaches the end (and a range read with wrong
 * offsets fails its checksum).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "codec/bz2-seek.h"
#include "codec/bz2-ahead.h"

static void bzip2_hint_size(void *fmt, uint64_t size)
{
	struct bz2_fmt *f = fmt;

	pthread_mutex_lock(&f->lock);
	if (f->hint != size) {
		if (f->back < f->n)
			bz2_drop_back(f);
		f->back_dead = false;
		f->hint = size;
		bz2_advance_back(f);
	}
	pthread_mutex_unlock(&f->lock);
}

/* ------------------------------------------------------------------ */
/* Cursors                                                             */


static int block_bad(struct bz2_cursor *c, const char *what)
{
	return bz2_err_corrupt(&c->msg, what, c->pos);
}

/* The block is done: learn its length, go on to the next cut. */
static int finish_block(struct bz2_cursor *c)
{
	struct bz2_fmt *f = c->f;

	bz2_attempt_end(&c->att);
	c->in_block = false;
	if (c->known != NOLEN && c->produced != c->known)
		return block_bad(c, "block length differs from the index");
	c->combined = bz2_combine_crc(c->combined, c->crc);
	pthread_mutex_lock(&f->lock);
	if (c->zero && !c->zeros)
		bz2_memo_add(f, &c->bits, c->produced, true);
	bz2_learn(f, c->pos, c->to, c->produced);
	pthread_mutex_unlock(&f->lock);
	c->pos = c->to;
	c->joined = false;
	return 0;
}

static int start_block(struct bz2_cursor *c, const struct bz2_entry *cut)
{
	struct bz2_job job = { c->pos, c->to, cut->crc, cut->level };
	uint64_t len;
	size_t slen, boundary;
	bool zero;
	int ret;

	if (c->to == UNKNOWN)
		return bz2_err_truncated(&c->msg);
	if (c->to - c->pos > BZ2_BLOCK_BITS_MAX(9))
		return block_bad(c, "no block boundary where one must be");
	c->produced = 0;
	c->crc = cut->crc;
	c->known = cut->len;
	if (c->ahead && bz2_ahead_take(c->ahead, &job)) {
		c->taken = true;
		c->blocks++;
		return 0;
	}
	bz2_decode_ahead(c);
	ret = bz2_read_bits(c->f, c->pos, c->to, &c->bits);
	if (ret == -ENOMEM)
		return bz2_err_nomem(&c->msg);
	if (ret < 0)
		return bz2_err_read(&c->msg, ret == -ENODATA ? -EIO : ret);
	if (bz2_memo_get(c->f, &c->bits, &len, &zero) && zero) {
		c->zeros = len;
		c->zero = false;
		return len ? 0 : finish_block(c);
	}
	c->zero = c->bits.nbits <= MEMO_BYTES * 8;
	if (bz2_bits_wrap(&c->bits, cut->level, cut->crc, &slen,
			  &boundary) < 0 ||
	    bz2_attempt_start(&c->att, c->bits.buf, slen, boundary) !=
	    BZ2_ATT_MORE)
		return bz2_err_nomem(&c->msg);
	c->in_block = true;
	return 0;
}

/* The end of a stream: its CRC, then the end or another stream. */
static int cur_eos(struct bz2_cursor *c, const struct bz2_entry *cut)
{
	struct bz2_fmt *f = c->f;
	struct bz2_cut look = { .kind = BZ2_CUT_EOS, .pos = cut->pos % 8 };
	uint64_t t = bz2_eos_end(cut->pos), avail = f->fsize - cut->pos / 8;
	size_t q = (size_t)(t - cut->pos / 8), i;

	look.looklen = avail < BZ2_LOOK ? (size_t)avail : BZ2_LOOK;
	if (bz2_pread(f->fd, look.look, look.looklen, cut->pos / 8) < 0 ||
	    !bz2_cut_has_crc(&look))
		return bz2_err_truncated(&c->msg);
	if (c->whole && bz2_cut_crc(&look) != c->combined) {
		block_bad(c, "stream CRC mismatch");
		pthread_mutex_lock(&f->lock);
		f->failed = EBADMSG;	/* every later cursor fails too */
		f->failmsg = c->msg;
		pthread_mutex_unlock(&f->lock);
		return -EBADMSG;
	}
	if (t >= f->data_end) {	/* the end, or zero bytes to it */
		c->done = true;
		return 0;
	}
	if (look.looklen < q + 4 && memcmp(look.look + q, "BZh",
					   look.looklen - q < 3 ?
					   look.looklen - q : 3) == 0)
		return bz2_err_truncated(&c->msg);
	if (!bz2_header_level(look.look + q, look.looklen - q))
		return bz2_err_garbage(&c->msg);
	c->pos = bz2_eos_next(cut->pos);
	pthread_mutex_lock(&f->lock);
	i = bz2_cut_index(f, c->pos);
	t = i < f->n ? f->cuts[i].pos : UNKNOWN;
	pthread_mutex_unlock(&f->lock);
	if (t == UNKNOWN)
		return bz2_err_truncated(&c->msg);
	if (t != c->pos)
		return block_bad(c, "no block where one must start");
	c->whole = true;
	c->combined = 0;
	return 0;
}

/* Start on the cut at c->pos. */
static int next_cut(struct bz2_cursor *c)
{
	struct bz2_fmt *f = c->f;
	struct bz2_entry cut = { .pos = UNKNOWN };
	size_t i;

	pthread_mutex_lock(&f->lock);
	i = bz2_cut_index(f, c->pos);
	if (i < f->n && f->cuts[i].pos == c->pos) {
		cut = f->cuts[i];
		c->to = i + 1 < f->n ? f->cuts[i + 1].pos : UNKNOWN;
	}
	pthread_mutex_unlock(&f->lock);
	if (cut.pos != c->pos)
		return block_bad(c, "the index lost a block");
	return cut.kind == BZ2_CUT_EOS ? cur_eos(c, &cut) : start_block(c, &cut);
}

/* The block ended before its next cut: find where it really ends. */
static int rejoin(struct bz2_cursor *c)
{
	struct bz2_bits b = { 0 };
	int ret;

	bz2_attempt_end(&c->att);
	c->in_block = false;
	if (c->joined)
		return block_bad(c, "bad block or CRC mismatch");
	ret = bz2_join_block(c->f, c->pos, &b, &c->msg);
	bz2_bits_free(&b);
	c->joined = true;
	return ret;
}

static ssize_t block_read(struct bz2_cursor *c, void *buf, size_t len)
{
	size_t n = 0;
	int ret = bz2_attempt_step(&c->att, buf, len, &n);

	if (ret == BZ2_ATT_NOMEM)
		return bz2_err_nomem(&c->msg);
	if (ret == BZ2_ATT_RETRY)
		return rejoin(c);
	if (ret == BZ2_ATT_BAD)
		return block_bad(c, "bad block or CRC mismatch");
	c->produced += n;
	c->zero = c->zero && bz2_all_zero(buf, n);
	if (ret == BZ2_ATT_DONE)
		ret = finish_block(c);
	return ret < 0 ? ret : (ssize_t)n;
}

/* The worker's block: its output, then what it found. */
static ssize_t ahead_step(struct bz2_cursor *c, void *buf, size_t len)
{
	struct bz2_ahead_end end;
	size_t n = bz2_ahead_read(c->ahead, buf, len);

	if (n) {
		c->produced += n;
		return (ssize_t)n;
	}
	c->taken = false;
	bz2_ahead_result(c->ahead, &end, &c->bits);
	if (end.err == -ENOMEM)
		return bz2_err_nomem(&c->msg);
	if (end.err)
		return bz2_err_read(&c->msg, end.err == -ENODATA ? -EIO : end.err);
	if (end.zeros) {
		c->zeros = end.len;
		c->zero = false;
		return end.len ? 0 : finish_block(c);
	}
	c->zero = end.zero && c->bits.nbits <= MEMO_BYTES * 8;
	switch (end.att) {
	case BZ2_ATT_DONE:
		return finish_block(c);
	case BZ2_ATT_RETRY:
		return rejoin(c);
	case BZ2_ATT_NOMEM:
		return bz2_err_nomem(&c->msg);
	default:
		return block_bad(c, "bad block or CRC mismatch");
	}
}

static ssize_t cur_step(struct bz2_cursor *c, void *buf, size_t len)
{
	size_t n;

	if (c->zeros) {
		n = c->zeros < len ? (size_t)c->zeros : len;
		memset(buf, 0, n);
		c->zeros -= n;
		c->produced += n;
		if (!c->zeros && finish_block(c) < 0)
			return -EBADMSG;
		return (ssize_t)n;
	}
	if (c->taken)
		return ahead_step(c, buf, len);
	if (c->in_block)
		return block_read(c, buf, len);
	return next_cut(c);
}

static ssize_t bzip2_cursor_read(void *cur, void *buf, size_t len,
				 struct bmap_err *err)
{
	struct bz2_cursor *c = cur;
	ssize_t n = 0;

	while (n == 0 && !c->done && !c->error && len > 0) {
		n = cur_step(c, buf, len);
		if (n < 0)
			c->error = (int)-n;
	}
	if (c->error) {
		if (err)
			*err = c->msg;
		return -c->error;
	}
	return n;
}

static void bzip2_cursor_close(void *cur)
{
	struct bz2_cursor *c = cur;

	if (!c)
		return;
	bz2_ahead_free(c->ahead);
	bz2_attempt_end(&c->att);
	bz2_bits_free(&c->bits);
	free(c);
}

static int bzip2_cursor_open(void *fmt, uint64_t off, void **cur,
			     uint64_t *start, struct bmap_err *err)
{
	struct bz2_fmt *f = fmt;
	struct bz2_cursor *c;
	size_t i;
	bool known;
	int ret;

	pthread_mutex_lock(&f->lock);
	ret = f->failed;
	if (ret && err)
		*err = f->failmsg;
	pthread_mutex_unlock(&f->lock);
	if (ret)
		return -ret;
	pthread_mutex_lock(&f->lock);
	known = f->scanned && bz2_known_cut(f, off, true) < f->n;
	pthread_mutex_unlock(&f->lock);
	if (!known) {
		ret = bz2_resolve(f, off, err);
		if (ret < 0)
			return ret;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return bz2_err_nomem(err);
	c->f = f;
	pthread_mutex_lock(&f->lock);
	i = bz2_known_cut(f, off, false);
	c->pos = f->cuts[i].pos;
	*start = f->cuts[i].out;
	c->whole = i == 0 || (f->cuts[i - 1].kind == BZ2_CUT_EOS &&
			      f->cuts[i - 1].out != UNKNOWN);
	pthread_mutex_unlock(&f->lock);
	*cur = c;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Saving and loading the table                                        */


/* ------------------------------------------------------------------ */
/* The format                                                          */

static int bzip2_open(int fd, uint64_t file_size, unsigned threads,
		      void **fmt, struct bmap_err *err)
{
	unsigned char h[10];
	uint64_t magic = 0;
	struct bz2_fmt *f;
	int i;

	if (file_size < sizeof(h) || bz2_pread(fd, h, sizeof(h), 0) < 0 ||
	    !bz2_header_level(h, 4))
		return -ENOTSUP;
	for (i = 4; i < 10; i++)
		magic = magic << 8 | h[i];
	if (magic != BZ2_MAGIC_BLOCK && magic != BZ2_MAGIC_EOS)
		return -ENOTSUP;
	f = calloc(1, sizeof(*f));
	if (!f)
		return bz2_err_nomem(err);
	f->fd = fd;
	f->fsize = file_size;
	f->data_end = bz2_data_end(fd, file_size);
	f->level0 = bz2_header_level(h, 4);
	f->threads = threads < 1 ? 1 : threads > THREADS_MAX ? THREADS_MAX :
		     threads;
	f->hint = UNKNOWN;
	pthread_mutex_init(&f->work, NULL);
	pthread_mutex_init(&f->lock, NULL);
	*fmt = f;
	return 0;
}

static uint64_t bzip2_size(void *fmt)
{
	struct bz2_fmt *f = fmt;
	uint64_t size;

	pthread_mutex_lock(&f->lock);
	size = f->front_end && !f->failed ? f->cuts[f->front].out :
	       BMAP_SIZE_UNKNOWN;
	pthread_mutex_unlock(&f->lock);
	return size;
}

static uint64_t bzip2_point(void *fmt, uint64_t off)
{
	struct bz2_fmt *f = fmt;
	uint64_t out = 0;

	pthread_mutex_lock(&f->lock);
	if (f->scanned)
		out = f->cuts[bz2_known_cut(f, off, false)].out;
	pthread_mutex_unlock(&f->lock);
	return out;
}

/* The cuts placed at off start no cursor again; a cursor decoding through
 * them is unaffected (it checks every block's CRC as it goes). A cut
 * placed from the end was placed by the size the engine told: that size
 * is wrong, and every cut placed by it goes, for good. */
static void bzip2_drop_point(void *fmt, uint64_t off)
{
	struct bz2_fmt *f = fmt;
	size_t i;

	if (off == 0)
		return;
	pthread_mutex_lock(&f->lock);
	for (i = 1; f->scanned && i < f->n; i++) {
		if (f->cuts[i].out != off)
			continue;
		if (i > f->front) {
			bz2_drop_back(f);
			break;
		}
		f->cuts[i].dropped = true;
	}
	pthread_mutex_unlock(&f->lock);
}

static void bzip2_close(void *fmt)
{
	struct bz2_fmt *f = fmt;
	unsigned i;

	for (i = 0; i < MEMO_N; i++)
		free(f->memo[i].bits);
	free(f->cuts);
	pthread_mutex_destroy(&f->lock);
	pthread_mutex_destroy(&f->work);
	free(f);
}

const struct codec_seek_ops bz2_seek_ops = {
	.name = "bzip2",
	.open = bzip2_open,
	.size = bzip2_size,
	.point = bzip2_point,
	.drop_point = bzip2_drop_point,
	.cursor_open = bzip2_cursor_open,
	.cursor_read = bzip2_cursor_read,
	.cursor_close = bzip2_cursor_close,
	.save = bz2_save,
	.load = bz2_load,
	.hint_size = bzip2_hint_size,
	.close = bzip2_close,
};

