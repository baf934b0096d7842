/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dec-bzip2.c - bzip2 decoding with libbz2, block-parallel.
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
 * The reader then finds its true end by decoding it straight from the
 * input bits, joining the following items as needed (see probe), decodes
 * it itself and drops the items inside it. Only a failure of a block that
 * starts where the previous one ended is an error.
 *
 * With one thread the input is decoded in sequence, as bzip2 does.
 */
#include "config.h"

#include <bzlib.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "codec/bz2.h"
#include "base/error.h"
#include "codec/codec.h"

/* Output is handed over in chunks of this size, and a block runs at most
 * this many chunks ahead of the reader (chunks of zeros take no memory
 * and are not counted). */
#define OUT_CHUNK (1024 * 1024)
#define QUEUE_MAX 2
/* More workers than this is a mistake. */
#define WORKERS_MAX 64u
/* Raw input read at a time by the one-thread decoder. */
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

static int bz1_open(struct codec_input *in, const struct codec_stream_ops **ops,
		    void **state, struct bmap_err *err)
{
	struct bz1 *s = calloc(1, sizeof(*s));

	if (!s)
		return bz2_err_nomem(err);
	s->in = in;
	*ops = &bz1_ops;
	*state = s;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Items and output chunks                                             */

/* A chunk of output. Disk images are mostly zeros, which bzip2 packs 45
 * MB to a block: a chunk of them is queued as its length alone, so that a
 * worker can decode such a block well ahead of the reader. */
struct chunk {
	struct chunk *next;
	size_t len;
	size_t pos;		/* bytes already handed out */
	unsigned char *data;	/* OUT_CHUNK bytes, or NULL: zeros */
};

enum item_state {
	IT_NONE,	/* not a block */
	IT_PENDING,	/* a block waiting for a worker */
	IT_RUNNING,
	IT_OK,		/* decoded, verified, ends exactly at the next cut */
	IT_RETRY,
	IT_BAD,
	IT_NOMEM,
	IT_STOPPED,	/* nobody wanted its output any more */
};

struct item {
	struct item *next;
	struct bz2_cut cut;
	struct bz2_bits seg;	/* bits from this cut to the next */
	size_t len;		/* block: stand-alone stream in seg.buf */
	size_t boundary;
	enum item_state state;
	bool released;		/* out of the list; freed when not running */
	bool taken;		/* some of its output was handed out */
	struct chunk *qhead, *qtail;
	unsigned qlen;		/* chunks queued that hold data */
};

struct bz2 {
	struct codec_input *in;
	pthread_mutex_t lock;
	pthread_cond_t work;	/* workers: a block, queue room, stop */
	pthread_cond_t ready;	/* reader: an item, output, a result */
	pthread_cond_t room;	/* scanner: room for another item */
	struct item *head, *tail;
	unsigned nitems, maxitems;	/* items allocated, and the limit */
	bool stop;
	volatile int halt;	/* stop, for the scanner's input reads */
	bool nomem;		/* the scanner could not go on */
	struct chunk *spare;
	unsigned nspare, maxspare;
	struct bz2_scan scan;
	struct item *building;	/* the scanner's item in the making */
	pthread_t scanner;
	bool scanning;		/* scanner thread started */
	pthread_t *workers;
	unsigned nworkers, started;
	/* The reader's side. */
	uint64_t expect;	/* bit offset where the next thing starts */
	unsigned level;		/* of the current stream */
	uint32_t combined;	/* CRC of the current stream so far */
	bool padding;		/* past the last stream: zeros up to the end */
	bool finished;
	struct bz2_attempt local;	/* a block the reader decodes itself */
	bool local_active;
	uint64_t local_end;
	uint32_t local_crc;
	struct bz2_bits joined;
	int error;		/* sticky failure, and its message */
	struct bmap_err errmsg;
};

static void free_chunk(struct chunk *c)
{
	free(c->data);
	free(c);
}

/* A chunk with a buffer; with the lock held. */
static struct chunk *get_chunk(struct bz2 *d)
{
	struct chunk *c = d->spare;

	if (c) {
		d->spare = c->next;
		d->nspare--;
		return c;
	}
	c = calloc(1, sizeof(*c));
	if (c)
		c->data = malloc(OUT_CHUNK);
	if (c && !c->data) {
		free(c);
		c = NULL;
	}
	return c;
}

/* With the lock held. */
static void put_chunk(struct bz2 *d, struct chunk *c)
{
	if (!c->data || d->nspare >= d->maxspare) {
		free_chunk(c);
		return;
	}
	c->next = d->spare;
	d->spare = c;
	d->nspare++;
}

static void free_item(struct bz2 *d, struct item *it)
{
	struct chunk *c;

	while ((c = it->qhead)) {
		it->qhead = c->next;
		put_chunk(d, c);
	}
	bz2_bits_free(&it->seg);
	free(it);
	d->nitems--;
	pthread_cond_signal(&d->room);
}

/* Take an item out of the list (prev is the one before it, or NULL). */
static void release(struct bz2 *d, struct item *prev, struct item *it)
{
	if (prev)
		prev->next = it->next;
	else
		d->head = it->next;
	if (d->tail == it)
		d->tail = prev;
	it->released = true;
	if (it->state != IT_RUNNING)
		free_item(d, it);
	else
		pthread_cond_broadcast(&d->work);
}

/* ------------------------------------------------------------------ */
/* Workers                                                             */

static struct item *pick(struct bz2 *d)
{
	struct item *it;

	for (it = d->head; it; it = it->next)
		if (it->state == IT_PENDING)
			return it;
	return NULL;
}

/* Queue a chunk of output, waiting for room; false if not wanted. */
static bool queue_chunk(struct bz2 *d, struct item *it, struct chunk *c)
{
	bool wanted;

	pthread_mutex_lock(&d->lock);
	while (c->data && it->qlen >= QUEUE_MAX && !it->released && !d->stop)
		pthread_cond_wait(&d->work, &d->lock);
	wanted = !it->released && !d->stop;
	if (wanted) {
		c->next = NULL;
		if (it->qtail)
			it->qtail->next = c;
		else
			it->qhead = c;
		it->qtail = c;
		it->qlen += c->data != NULL;
		pthread_cond_broadcast(&d->ready);
	} else {
		put_chunk(d, c);
	}
	pthread_mutex_unlock(&d->lock);
	return wanted;
}

static struct chunk *new_chunk(struct bz2 *d)
{
	struct chunk *c;

	pthread_mutex_lock(&d->lock);
	c = get_chunk(d);
	pthread_mutex_unlock(&d->lock);
	return c;
}

static void drop_chunk(struct bz2 *d, struct chunk *c)
{
	pthread_mutex_lock(&d->lock);
	put_chunk(d, c);
	pthread_mutex_unlock(&d->lock);
}

static bool all_zero(const unsigned char *p, size_t n)
{
	return p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

/* What to queue for n bytes of output in c: c itself, or (when they are
 * all zeros) a chunk without a buffer, c being kept for the next ones. */
static struct chunk *output_chunk(struct chunk **c, size_t n)
{
	struct chunk *q = *c;

	if (all_zero(q->data, n)) {
		q = calloc(1, sizeof(*q));
		if (!q)
			return NULL;
	} else {
		*c = NULL;
	}
	q->len = n;
	q->pos = 0;
	return q;
}

static enum item_state item_result(int att)
{
	switch (att) {
	case BZ2_ATT_DONE:
		return IT_OK;
	case BZ2_ATT_RETRY:
		return IT_RETRY;
	case BZ2_ATT_BAD:
		return IT_BAD;
	case BZ2_ATT_NOMEM:
		return IT_NOMEM;
	default:
		return IT_STOPPED;
	}
}

/* Decode a block item into its queue, without the lock. */
static enum item_state decode_item(struct bz2 *d, struct item *it)
{
	struct bz2_attempt a;
	struct chunk *c = NULL, *q;
	size_t n;
	int ret;

	ret = bz2_attempt_start(&a, it->seg.buf, it->len, it->boundary);
	while (ret == BZ2_ATT_MORE) {
		if (!c && !(c = new_chunk(d))) {
			ret = BZ2_ATT_NOMEM;
			break;
		}
		ret = bz2_attempt_step(&a, c->data, OUT_CHUNK, &n);
		if (ret > BZ2_ATT_DONE || n == 0)
			break;
		q = output_chunk(&c, n);
		if (!q)
			ret = BZ2_ATT_NOMEM;
		else if (!queue_chunk(d, it, q))
			ret = -1;
	}
	if (c)
		drop_chunk(d, c);
	bz2_attempt_end(&a);
	return item_result(ret);
}

static void *worker_main(void *arg)
{
	struct bz2 *d = arg;
	struct item *it;
	enum item_state st;

	pthread_mutex_lock(&d->lock);
	while (!d->stop) {
		it = pick(d);
		if (!it) {
			pthread_cond_wait(&d->work, &d->lock);
			continue;
		}
		it->state = IT_RUNNING;
		pthread_mutex_unlock(&d->lock);
		st = decode_item(d, it);
		pthread_mutex_lock(&d->lock);
		it->state = st;
		if (it->released)
			free_item(d, it);
		pthread_cond_broadcast(&d->ready);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The scanner                                                         */

/* Raw input. A pipe may never deliver: a close sets halt, and the read
 * gives up (-EINTR) within its poll interval. */
static ssize_t raw_read(void *ctx, void *buf, size_t len)
{
	struct bz2 *d = ctx;

	return codec_input_read(d->in, buf, len);
}

/* A new item for a cut, once there is room; NULL to stop. */
static struct item *new_item(struct bz2 *d, const struct bz2_cut *cut)
{
	struct item *it;

	pthread_mutex_lock(&d->lock);
	while (d->nitems >= d->maxitems && !d->stop)
		pthread_cond_wait(&d->room, &d->lock);
	it = d->stop ? NULL : calloc(1, sizeof(*it));
	if (it) {
		d->nitems++;
		it->cut = *cut;
	} else if (!d->stop) {
		d->nomem = true;
		pthread_cond_broadcast(&d->ready);
	}
	d->building = it;
	pthread_mutex_unlock(&d->lock);
	return it;
}

/* Wrap a block as a stream, and hand the item over. */
static void publish(struct bz2 *d, struct item *it)
{
	it->state = IT_NONE;
	if (it->cut.kind == BZ2_CUT_BLOCK)
		it->state = bz2_bits_wrap(&it->seg, it->cut.level,
					  bz2_cut_crc(&it->cut), &it->len,
					  &it->boundary) < 0 ?
			    IT_NOMEM : IT_PENDING;
	pthread_mutex_lock(&d->lock);
	if (d->tail)
		d->tail->next = it;
	else
		d->head = it;
	d->tail = it;
	d->building = NULL;
	pthread_cond_broadcast(&d->work);
	pthread_cond_broadcast(&d->ready);
	pthread_mutex_unlock(&d->lock);
}

static void *scanner_main(void *arg)
{
	struct bz2 *d = arg;
	struct bz2_cut cut;
	struct item *it;
	int ret;

	ret = bz2_scan_init(&d->scan, raw_read, d, &cut);
	if (ret < 0) {
		memset(&cut, 0, sizeof(cut));
		cut.kind = BZ2_CUT_END;
		cut.err = ret;
	}
	it = new_item(d, &cut);
	while (it && it->cut.kind != BZ2_CUT_END) {
		ret = bz2_scan_next(&d->scan, &it->seg, &cut);
		if (ret < 0) {
			memset(&cut, 0, sizeof(cut));
			cut.kind = BZ2_CUT_END;
			cut.err = ret;
		}
		publish(d, it);
		it = new_item(d, &cut);
	}
	if (it)
		publish(d, it);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The reader                                                          */

/* The next item after it (the head), once the scanner has it. */
static struct item *wait_next(struct bz2 *d, struct item *it)
{
	while (!(it ? it->next : d->head) && !d->nomem)
		pthread_cond_wait(&d->ready, &d->lock);
	return it ? it->next : d->head;
}

/* The end of the input (or of scanning) where more should be. */
static int on_end(const struct item *it, struct bmap_err *err)
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

static int on_start(struct bz2 *d, struct item *it, struct bmap_err *err)
{
	d->level = bz2_header_level(it->cut.look, it->cut.looklen);
	if (!d->level && bz2_header_prefix(it->cut.look, it->cut.looklen))
		return bz2_err_truncated(err);
	if (!d->level)
		return bmap_seterr(err, EBADMSG, "not bzip2 data");
	d->combined = 0;
	d->expect = 32;
	release(d, NULL, it);
	return 0;
}

/*
 * A zero byte after a stream: padding, if the rest of the input is zeros.
 * The scanner hands that rest to this end-of-stream item's bits, up to
 * the end of the input (the next item is then a plain END); a very long
 * run ends its scan first (an oversize END), and the reader checks what
 * follows itself (see on_padding_end).
 */
static int on_padding(struct bz2 *d, struct item *it, size_t q,
		      struct bmap_err *err)
{
	if (!bz2_bits_zero(&it->seg, q * 8 - it->cut.pos % 8))
		return bz2_err_garbage(err);
	d->padding = true;
	release(d, NULL, it);
	return 0;
}

/* The item after padding: only the end of the input may come. */
static int on_padding_end(struct bz2 *d, struct item *it,
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
	release(d, NULL, it);
	return 0;
}

/* The end of a stream: its CRC, then the end or another stream. */
static int on_eos(struct bz2 *d, struct item *it, struct bmap_err *err)
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
		release(d, NULL, it);
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
	release(d, NULL, it);
	return 0;
}

static int block_error(struct item *it, struct bmap_err *err)
{
	if (it->state == IT_NOMEM)
		return bz2_err_nomem(err);
	if (it->next && it->next->cut.kind == BZ2_CUT_END && !it->next->cut.err)
		return bz2_err_truncated(err);
	return bz2_err_corrupt(err, "bad block or CRC mismatch", it->cut.pos);
}

/* The block the reader decoded itself is done. */
static void local_finish(struct bz2 *d)
{
	bz2_attempt_end(&d->local);
	d->local_active = false;
	d->combined = bz2_combine_crc(d->combined, d->local_crc);
	d->expect = d->local_end;
}

/* The items after the head, for bz2_block_join: each is waited for;
 * the last one joined stays listed (the block may end where it starts),
 * the one before it goes. */
struct item_more {
	struct bz2 *d;
	struct item *it;	/* the head block */
	struct item *peek;	/* the last item joined */
};

static int item_next(void *ctx, struct bz2_bits *bits, uint64_t *pos,
		     enum bz2_cut_kind *kind, struct bmap_err *err)
{
	struct item_more *m = ctx;
	struct bz2 *d = m->d;
	struct item *nx;
	int ret = 1;

	pthread_mutex_lock(&d->lock);
	nx = wait_next(d, m->peek ? m->peek : m->it);
	if (!nx)
		ret = bz2_err_nomem(err);
	else if (nx->cut.kind == BZ2_CUT_END)
		ret = nx->cut.err || nx->cut.oversize ? on_end(nx, err) : 0;
	else if (m->peek)
		release(d, m->it, m->peek);
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
static ssize_t retry_block(struct bz2 *d, struct item *it,
			   struct bmap_err *err)
{
	struct item_more m = { d, it, NULL };
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
		release(d, it, m.peek);
	if (bz2_attempt_bits(&d->local, &d->joined, d->level, crc) !=
	    BZ2_ATT_MORE)
		return bz2_err_nomem(err);
	d->local_active = true;
	d->local_end = out.end;
	d->local_crc = crc;
	release(d, NULL, it);
	return 0;
}

/* More of the block the reader decodes itself. */
static ssize_t local_read(struct bz2 *d, void *buf, size_t len,
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
static ssize_t take_output(struct bz2 *d, struct item *it, void *buf,
			   size_t len)
{
	struct chunk *c = it->qhead;
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
		put_chunk(d, c);
		pthread_cond_broadcast(&d->work);
	}
	return (ssize_t)n;
}

/* The head is a block at the expected place: its output, or its end. */
static ssize_t on_block(struct bz2 *d, struct item *it, void *buf,
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
	release(d, NULL, it);
	return 0;
}

/* The next item in order: output (> 0), nothing yet (0), or failure. */
static ssize_t next_step(struct bz2 *d, void *buf, size_t len,
			 struct bmap_err *err)
{
	struct item *it = wait_next(d, NULL);

	if (!it)
		return bz2_err_nomem(err);
	if (d->padding)
		return on_padding_end(d, it, err);
	if (it->cut.kind == BZ2_CUT_END)
		return on_end(it, err);
	if (it->cut.pos < d->expect) {
		/* a false cut in a stream trailer or header */
		release(d, NULL, it);
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
	struct bz2 *d = state;
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

static void free_all(struct bz2 *d)
{
	struct item *it;
	struct chunk *c;

	while ((it = d->head)) {
		d->head = it->next;
		free_item(d, it);
	}
	if (d->building)
		free_item(d, d->building);
	while ((c = d->spare)) {
		d->spare = c->next;
		free_chunk(c);
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
	struct bz2 *d = state;
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
	free_all(d);
}

static const struct codec_stream_ops bz2_ops = {
	.name = "bzip2 (parallel)",
	.read = bz2_read,
	.close = bz2_close,
};

static struct bz2 *bz2_new(struct codec_input *in, unsigned threads)
{
	struct bz2 *d = calloc(1, sizeof(*d));

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
		free_all(d);
		return NULL;
	}
	return d;
}

static int bz2_start(struct bz2 *d, struct bmap_err *err)
{
	int ret;

	ret = pthread_create(&d->scanner, NULL, scanner_main, d);
	if (ret != 0)
		return bmap_seterr(err, ret, "cannot start a thread: %s",
				   strerror(ret));
	d->scanning = true;
	for (; d->started < d->nworkers; d->started++) {
		ret = pthread_create(&d->workers[d->started], NULL,
				     worker_main, d);
		if (ret != 0)
			return bmap_seterr(err, ret,
					   "cannot start a thread: %s",
					   strerror(ret));
	}
	return 0;
}

int src_bzip2_open(struct codec_input *in, unsigned threads,
		   const struct codec_stream_ops **ops, void **state,
		   struct bmap_err *err)
{
	struct bz2 *d;
	int ret;

	if (threads <= 1)
		return bz1_open(in, ops, state, err);
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
