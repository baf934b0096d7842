/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bz2-pipe.c - the bzip2 STREAM decoder's pipeline: a scanner thread
 * cutting the input into items (bz2_scan_next), worker threads decoding
 * block items into short queues of output chunks, and the list the
 * reader (bz2-stream.c) takes them from in order. Threads stop on a flag
 * (stop, and halt for the scanner's reads): nothing is cancelled.
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
/* Items and output chunks                                             */

void bz2_free_chunk(struct bz2_chunk *c)
{
	free(c->data);
	free(c);
}

/* A chunk with a buffer; with the lock held. */
static struct bz2_chunk *get_chunk(struct bz2_pipe *d)
{
	struct bz2_chunk *c = d->spare;

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
void bz2_put_chunk(struct bz2_pipe *d, struct bz2_chunk *c)
{
	if (!c->data || d->nspare >= d->maxspare) {
		bz2_free_chunk(c);
		return;
	}
	c->next = d->spare;
	d->spare = c;
	d->nspare++;
}

void bz2_free_item(struct bz2_pipe *d, struct bz2_item *it)
{
	struct bz2_chunk *c;

	while ((c = it->qhead)) {
		it->qhead = c->next;
		bz2_put_chunk(d, c);
	}
	bz2_bits_free(&it->seg);
	free(it);
	d->nitems--;
	pthread_cond_signal(&d->room);
}

/* Take an item out of the list (prev is the one before it, or NULL). */
void bz2_release(struct bz2_pipe *d, struct bz2_item *prev, struct bz2_item *it)
{
	if (prev)
		prev->next = it->next;
	else
		d->head = it->next;
	if (d->tail == it)
		d->tail = prev;
	it->released = true;
	if (it->state != IT_RUNNING)
		bz2_free_item(d, it);
	else
		pthread_cond_broadcast(&d->work);
}

/* ------------------------------------------------------------------ */
/* Workers                                                             */

static struct bz2_item *pick(struct bz2_pipe *d)
{
	struct bz2_item *it;

	for (it = d->head; it; it = it->next)
		if (it->state == IT_PENDING)
			return it;
	return NULL;
}

/* Queue a chunk of output, waiting for room; false if not wanted. */
static bool queue_chunk(struct bz2_pipe *d, struct bz2_item *it, struct bz2_chunk *c)
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
		bz2_put_chunk(d, c);
	}
	pthread_mutex_unlock(&d->lock);
	return wanted;
}

static struct bz2_chunk *new_chunk(struct bz2_pipe *d)
{
	struct bz2_chunk *c;

	pthread_mutex_lock(&d->lock);
	c = get_chunk(d);
	pthread_mutex_unlock(&d->lock);
	return c;
}

static void drop_chunk(struct bz2_pipe *d, struct bz2_chunk *c)
{
	pthread_mutex_lock(&d->lock);
	bz2_put_chunk(d, c);
	pthread_mutex_unlock(&d->lock);
}

/* What to queue for n bytes of output in c: c itself, or (when they are
 * all zeros) a chunk without a buffer, c being kept for the next ones. */
static struct bz2_chunk *output_chunk(struct bz2_chunk **c, size_t n)
{
	struct bz2_chunk *q = *c;

	if (bz2_all_zero(q->data, n)) {
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

static enum bz2_item_state item_result(int att)
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
static enum bz2_item_state decode_item(struct bz2_pipe *d, struct bz2_item *it)
{
	struct bz2_attempt a;
	struct bz2_chunk *c = NULL, *q;
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

void *bz2_worker_main(void *arg)
{
	struct bz2_pipe *d = arg;
	struct bz2_item *it;
	enum bz2_item_state st;

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
			bz2_free_item(d, it);
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
	struct bz2_pipe *d = ctx;

	return codec_input_read(d->in, buf, len);
}

/* A new item for a cut, once there is room; NULL to stop. */
static struct bz2_item *new_item(struct bz2_pipe *d, const struct bz2_cut *cut)
{
	struct bz2_item *it;

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
static void publish(struct bz2_pipe *d, struct bz2_item *it)
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

void *bz2_scanner_main(void *arg)
{
	struct bz2_pipe *d = arg;
	struct bz2_cut cut;
	struct bz2_item *it;
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

