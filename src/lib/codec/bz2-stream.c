/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bz2-stream.c - the bzip2 STREAM decoder (bmapcopy): libbz2, block-parallel.
 *
 * A scanner thread cuts the input at every block and end-of-stream magic
 * (bz2-scan.c) into items. Worker threads decode each block item as a
 * stand-alone single-block stream, which makes libbz2 check the block's
 * CRC, into a short queue of output chunks. The reader takes the items in
 * order: a block whose decode ended exactly at the next cut confirms that
 * cut; the stream trailers' combined CRCs are checked against the block
 * CRCs; what follows a stream must be the end or another stream, or zero
 * bytes up to the end (padding to a block, which bzip2 takes too).
 *
 * A magic can occur by chance inside a block. Cut short there, the block
 * fails to decode, and before it produces any output (see bz2_attempt_step).
 * The reader then finds its true end with bz2_block_join over the items
 * that follow, decodes it itself and drops the items inside it. Only a
 * failure of a block that starts where the previous one ended is an error.
 *
 * With one thread the input is decoded in sequence (bz2-serial.c).
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

/* ------------------------------------------------------------------ */
/* The reader                                                          */

/* The next item after it (the head), once the scanner has it. */
static struct bz2_item *wait_next(struct bz2_pipe *d, struct bz2_item *it)
{
	while (!(it ? it->next : d->head) && !d->nomem)
		pthread_cond_wait(&d->ready, &d->lock);
	return it ? it->next : d->head;
}

/* The end of the input (or of scanning) where more should be. */
static int on_end(const struct bz2_item *it, struct bmap_err *err)
{
	if (it->cut.err == -ENOMEM)
		return bz2_err_nomem(err);
	if (it->cut.err)
		return bz2_err_read(err, it->cut.err);
	if (it->cut.oversize)
		return bz2_err_corrupt(err, "no block boundary where one must be",
				   it->cut.pos);
	return bz2_err_truncated(err);
}

static int on_start(struct bz2_pipe *d, struct bz2_item *it, struct bmap_err *err)
{
	d->level = bz2_header_level(it->cut.look, it->cut.looklen);
	if (!d->level && bz2_header_prefix(it->cut.look, it->cut.looklen))
		return bz2_err_truncated(err);
	if (!d->level)
		return bmap_seterr(err, EBADMSG, "not bzip2 data");
	d->combined = 0;
	d->expect = 32;
	bz2_release(d, NULL, it);
	return 0;
}

/*
 * A zero byte after a stream: padding, if the rest of the input is zeros.
 * The scanner hands that rest to this end-of-stream item's bits, up to
 * the end of the input (the next item is then a plain END); a very long
 * run ends its scan first (an oversize END), and the reader checks what
 * follows itself (see on_padding_end).
 */
static int on_padding(struct bz2_pipe *d, struct bz2_item *it, size_t q,
		      struct bmap_err *err)
{
	if (!bz2_bits_zero(&it->seg, q * 8 - it->cut.pos % 8))
		return bz2_err_garbage(err);
	d->padding = true;
	bz2_release(d, NULL, it);
	return 0;
}

/* The item after padding: only the end of the input may come. */
static int on_padding_end(struct bz2_pipe *d, struct bz2_item *it,
			  struct bmap_err *err)
{
	int ret = 0;

	if (it->cut.kind != BZ2_CUT_END)
		return bz2_err_garbage(err);
	if (it->cut.err)
		return on_end(it, err);
	if (it->cut.oversize) {
		/* The scanner has stopped for good: its input is ours. */
		pthread_mutex_unlock(&d->lock);
		ret = codec_input_rest_zero(d->in, d->scan.rest,
					  d->scan.restlen);
		pthread_mutex_lock(&d->lock);
	}
	if (ret == -EBADMSG)
		return bz2_err_garbage(err);
	if (ret < 0)
		return bz2_err_read(err, ret);
	d->finished = true;
	bz2_release(d, NULL, it);
	return 0;
}

/* The end of a stream: its CRC, then the end or another stream. */
static int on_eos(struct bz2_pipe *d, struct bz2_item *it, struct bmap_err *err)
{
	const struct bz2_cut *c = &it->cut;
	size_t q = (size_t)(c->pos % 8 + 87) / 8;
	size_t n = c->looklen - q;

	if (!bz2_cut_has_crc(c))
		return bz2_err_truncated(err);
	if (bz2_cut_crc(c) != d->combined)
		return bz2_err_corrupt(err, "stream CRC mismatch", c->pos);
	if (c->looklen == q) {
		d->finished = true;
		bz2_release(d, NULL, it);
		return 0;
	}
	if (c->look[q] == 0)
		return on_padding(d, it, q, err);
	d->level = bz2_header_level(c->look + q, n);
	if (!d->level && bz2_header_prefix(c->look + q, n))
		return bz2_err_truncated(err);
	if (!d->level)
		return bz2_err_garbage(err);
	d->combined = 0;
	d->expect = (c->pos / 8 + q) * 8 + 32;
	bz2_release(d, NULL, it);
	return 0;
}

static int block_error(struct bz2_item *it, struct bmap_err *err)
{
	if (it->state == IT_NOMEM)
		return bz2_err_nomem(err);
	if (it->next && it->next->cut.kind == BZ2_CUT_END && !it->next->cut.err)
		return bz2_err_truncated(err);
	return bz2_err_corrupt(err, "bad block or CRC mismatch", it->cut.pos);
}

/* The block the reader decoded itself is done. */
static void local_finish(struct bz2_pipe *d)
{
	bz2_attempt_end(&d->local);
	d->local_active = false;
	d->combined = bz2_combine_crc(d->combined, d->local_crc);
	d->expect = d->local_end;
}

/* The items after the head, for bz2_block_join: each is waited for;
 * the last one joined stays listed (the block may end where it starts),
 * the one before it goes. */
struct bz2_item_more {
	struct bz2_pipe *d;
	struct bz2_item *it;	/* the head block */
	struct bz2_item *peek;	/* the last item joined */
};

static int item_next(void *ctx, struct bz2_bits *bits, uint64_t *pos,
		     enum bz2_cut_kind *kind, struct bmap_err *err)
{
	struct bz2_item_more *m = ctx;
	struct bz2_pipe *d = m->d;
	struct bz2_item *nx;
	int ret = 1;

	pthread_mutex_lock(&d->lock);
	nx = wait_next(d, m->peek ? m->peek : m->it);
	if (!nx)
		ret = bz2_err_nomem(err);
	else if (nx->cut.kind == BZ2_CUT_END)
		ret = nx->cut.err || nx->cut.oversize ? on_end(nx, err) : 0;
	else if (m->peek)
		bz2_release(d, m->it, m->peek);
	if (ret == 1)
		m->peek = nx;
	pthread_mutex_unlock(&d->lock);
	*kind = BZ2_CUT_END;
	if (ret != 1)
		return ret;
	if (bz2_bits_append(bits, nx->seg.buf, 32, nx->seg.nbits) < 0)
		return bz2_err_nomem(err);
	*pos = nx->cut.pos + nx->seg.nbits;
	*kind = nx->cut.kind;
	return 1;
}

/*
 * Decode the head block here: the worker's decode failed before any of it
 * was taken, or used the wrong level. bz2_block_join finds its end (past
 * false cuts, if any); the items inside it go, and the reader decodes it.
 */
static ssize_t retry_block(struct bz2_pipe *d, struct bz2_item *it,
			   struct bmap_err *err)
{
	struct bz2_item_more m = { d, it, NULL };
	struct bz2_more more = { item_next, &m };
	uint32_t crc = bz2_cut_crc(&it->cut);
	struct bz2_joined out;
	int ret;

	d->joined.nbits = 0;
	if (bz2_bits_append(&d->joined, it->seg.buf, 32, it->seg.nbits) < 0)
		return bz2_err_nomem(err);
	pthread_mutex_unlock(&d->lock);
	ret = bz2_block_join(&d->joined, it->cut.pos, d->level, crc, &more,
			     &out, err);
	pthread_mutex_lock(&d->lock);
	if (ret < 0)
		return ret;
	if (m.peek && m.peek->cut.pos < out.end)
		bz2_release(d, it, m.peek);
	if (bz2_attempt_bits(&d->local, &d->joined, d->level, crc) !=
	    BZ2_ATT_MORE)
		return bz2_err_nomem(err);
	d->local_active = true;
	d->local_end = out.end;
	d->local_crc = crc;
	bz2_release(d, NULL, it);
	return 0;
}

/* More of the block the reader decodes itself. */
static ssize_t local_read(struct bz2_pipe *d, void *buf, size_t len,
			  struct bmap_err *err)
{
	size_t n;
	int ret;

	pthread_mutex_unlock(&d->lock);
	ret = bz2_attempt_step(&d->local, buf, len, &n);
	pthread_mutex_lock(&d->lock);
	if (ret == BZ2_ATT_NOMEM)
		return bz2_err_nomem(err);
	if (ret > BZ2_ATT_DONE)
		return bz2_err_corrupt(err, "bad block or CRC mismatch",
				   d->local_end);
	if (ret == BZ2_ATT_DONE)
		local_finish(d);
	return (ssize_t)n;
}

/* Output from the head item's queue. */
static ssize_t take_output(struct bz2_pipe *d, struct bz2_item *it, void *buf,
			   size_t len)
{
	struct bz2_chunk *c = it->qhead;
	size_t n = c->len - c->pos;

	if (n > len)
		n = len;
	it->taken = true;
	pthread_mutex_unlock(&d->lock);
	if (c->data)
		memcpy(buf, c->data + c->pos, n);
	else
		memset(buf, 0, n);
	pthread_mutex_lock(&d->lock);
	c->pos += n;
	if (c->pos == c->len) {
		it->qhead = c->next;
		if (!it->qhead)
			it->qtail = NULL;
		it->qlen -= c->data != NULL;
		bz2_put_chunk(d, c);
		pthread_cond_broadcast(&d->work);
	}
	return (ssize_t)n;
}

/* The head is a block at the expected place: its output, or its end. */
static ssize_t on_block(struct bz2_pipe *d, struct bz2_item *it, void *buf,
			size_t len, struct bmap_err *err)
{
	if (it->cut.level != d->level)
		return retry_block(d, it, err);
	for (;;) {
		/* a false cut may also fail after output, rarely */
		if (it->state == IT_RETRY || (it->state == IT_BAD && !it->taken))
			return retry_block(d, it, err);
		if (it->qhead)
			return take_output(d, it, buf, len);
		if (it->state == IT_OK)
			break;
		if (it->state == IT_BAD || it->state == IT_NOMEM)
			return block_error(it, err);
		pthread_cond_wait(&d->ready, &d->lock);
	}
	d->combined = bz2_combine_crc(d->combined, bz2_cut_crc(&it->cut));
	d->expect = it->cut.pos + it->seg.nbits;
	bz2_release(d, NULL, it);
	return 0;
}

/* The next item in order: output (> 0), nothing yet (0), or failure. */
static ssize_t next_step(struct bz2_pipe *d, void *buf, size_t len,
			 struct bmap_err *err)
{
	struct bz2_item *it = wait_next(d, NULL);

	if (!it)
		return bz2_err_nomem(err);
	if (d->padding)
		return on_padding_end(d, it, err);
	if (it->cut.kind == BZ2_CUT_END)
		return on_end(it, err);
	if (it->cut.pos < d->expect) {
		/* a false cut in a stream trailer or header */
		bz2_release(d, NULL, it);
		return 0;
	}
	if (it->cut.pos > d->expect)
		return bz2_err_corrupt(err, "no block where one must start",
				   d->expect);
	if (it->cut.kind == BZ2_CUT_START)
		return on_start(d, it, err);
	if (it->cut.kind == BZ2_CUT_EOS)
		return on_eos(d, it, err);
	return on_block(d, it, buf, len, err);
}

static ssize_t bz2_read(void *state, void *buf, size_t len,
			struct bmap_err *err)
{
	struct bz2_pipe *d = state;
	ssize_t n = 0;

	if (d->error) {
		if (err)
			*err = d->errmsg;
		return -d->error;
	}
	pthread_mutex_lock(&d->lock);
	while (n == 0 && !d->finished && len > 0) {
		if (d->local_active)
			n = local_read(d, buf, len, &d->errmsg);
		else
			n = next_step(d, buf, len, &d->errmsg);
	}
	pthread_mutex_unlock(&d->lock);
	if (n < 0) {
		d->error = (int)-n;
		if (err)
			*err = d->errmsg;
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* Opening and closing                                                 */

static void bz2_free_all(struct bz2_pipe *d)
{
	struct bz2_item *it;
	struct bz2_chunk *c;

	while ((it = d->head)) {
		d->head = it->next;
		bz2_free_item(d, it);
	}
	if (d->building)
		bz2_free_item(d, d->building);
	while ((c = d->spare)) {
		d->spare = c->next;
		bz2_free_chunk(c);
	}
	bz2_attempt_end(&d->local);
	bz2_bits_free(&d->joined);
	bz2_scan_free(&d->scan);
	free(d->workers);
	pthread_cond_destroy(&d->room);
	pthread_cond_destroy(&d->ready);
	pthread_cond_destroy(&d->work);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static void bz2_close(void *state)
{
	struct bz2_pipe *d = state;
	unsigned i;

	pthread_mutex_lock(&d->lock);
	d->stop = true;
	pthread_cond_broadcast(&d->work);
	pthread_cond_broadcast(&d->room);
	pthread_mutex_unlock(&d->lock);
	__atomic_store_n(&d->halt, 1, __ATOMIC_RELEASE);
	if (d->scanning)
		pthread_join(d->scanner, NULL);
	d->in->halt = NULL;
	for (i = 0; i < d->started; i++)
		pthread_join(d->workers[i], NULL);
	bz2_free_all(d);
}

static const struct codec_stream_ops bz2_ops = {
	.name = "bzip2 (parallel)",
	.read = bz2_read,
	.close = bz2_close,
};

static struct bz2_pipe *bz2_new(struct codec_input *in, unsigned threads)
{
	struct bz2_pipe *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->in = in;
	in->halt = &d->halt;
	d->nworkers = threads > WORKERS_MAX ? WORKERS_MAX : threads;
	d->maxitems = d->nworkers + 2;
	d->maxspare = d->maxitems * QUEUE_MAX + d->nworkers;
	d->workers = calloc(d->nworkers, sizeof(*d->workers));
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->work, NULL);
	pthread_cond_init(&d->ready, NULL);
	pthread_cond_init(&d->room, NULL);
	if (!d->workers) {
		bz2_free_all(d);
		return NULL;
	}
	return d;
}

static int bz2_start(struct bz2_pipe *d, struct bmap_err *err)
{
	int ret;

	ret = pthread_create(&d->scanner, NULL, bz2_scanner_main, d);
	if (ret != 0)
		return bmap_seterr(err, ret, "cannot start a thread: %s",
				   strerror(ret));
	d->scanning = true;
	for (; d->started < d->nworkers; d->started++) {
		ret = pthread_create(&d->workers[d->started], NULL,
				     bz2_worker_main, d);
		if (ret != 0)
			return bmap_seterr(err, ret,
					   "cannot start a thread: %s",
					   strerror(ret));
	}
	return 0;
}

int bz2_stream_open(struct codec_input *in, unsigned threads,
		    const struct codec_stream_ops **ops, void **state,
		    struct bmap_err *err)
{
	struct bz2_pipe *d;
	int ret;

	if (threads <= 1)
		return bz2_serial_open(in, ops, state, err);
	d = bz2_new(in, threads);
	if (!d)
		return bz2_err_nomem(err);
	ret = bz2_start(d, err);
	if (ret < 0) {
		bz2_close(d);
		return ret;
	}
	*ops = &bz2_ops;
	*state = d;
	return 0;
}

