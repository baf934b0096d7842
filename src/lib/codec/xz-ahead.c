/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xz-ahead.c - a worker thread that decodes the next xz block while a
 * cursor decodes (or hands out) the current one. Blocks decode
 * independently: while the cursor decodes block k into the buffers it
 * reads into, the worker decodes block k + 1 into a buffer of its own,
 * which the cursor's next reads copy out (as soon as it is produced, not
 * only once the block is whole); then the cursor decodes k + 2 and the
 * worker k + 3, and so on.
 *
 * Memory: one block ahead, in a buffer of the block's uncompressed size,
 * or of the max the cursor gives when it is larger, in which case the
 * worker decodes it in pieces of that size, each one waiting for the
 * previous one to be read. Errors the worker finds (header, data, check,
 * sizes) are held until the reader has had the bytes before them, and
 * then stay. The worker stops on a flag it looks at between two calls to
 * liblzma (each makes at most XZ_AHEAD_STEP of output), never by being
 * cancelled.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "codec/xz.h"

/* The reader owns everything while the state is XZ_AHEAD_IDLE; otherwise
 * the worker owns dec and out[wpos..], the reader out[rpos..wpos), and
 * lock guards the rest. */
enum xz_ahead_state {
	XZ_AHEAD_IDLE,		/* no block: the reader may post one */
	XZ_AHEAD_POSTED,	/* a block for the worker to take */
	XZ_AHEAD_RUNNING,	/* the worker decodes it */
	XZ_AHEAD_DONE,		/* it is decoded, or failed (ret) */
};

struct xz_ahead {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* any change below (two threads only) */
	enum xz_ahead_state state;
	bool stop;		/* the cursor is closing */
	bool waiting;		/* the worker waits for out to be read */
	unsigned char *out;	/* cap + 1 bytes */
	size_t cap;		/* the block's size, at most the max */
	size_t alloc;		/* out's size */
	size_t wpos;		/* out[0..wpos) decoded, of this piece */
	size_t rpos;		/* out[0..rpos) handed out */
	int ret;		/* XZ_AHEAD_DONE: 0, or -errno with err */
	struct bmap_err err;
	struct xz_block dec;
};

/* Decode the block the worker was given into out, piece by piece when
 * it is larger than out, until it is over, fails or the worker is told
 * to stop. With the lock, which it lets go while liblzma works. */
static int xz_ahead_decode(struct xz_ahead *ah)
{
	uint64_t made = 0, usize = ah->dec.it.block.uncompressed_size;
	bool done = false;
	int r;

	pthread_mutex_unlock(&ah->lock);
	r = xz_block_start(&ah->dec, &ah->err);
	pthread_mutex_lock(&ah->lock);
	while (r == 0 && !done && !ah->stop) {
		unsigned char *p = ah->out + ah->wpos;
		size_t n = ah->cap - ah->wpos, got;

		if (made == usize) {
			/* Only the end of the block is left (its check):
			 * room for a byte, out[cap] is spare, in case
			 * liblzma wants room. */
			n = 1;
		} else if (n == 0) {
			/* A piece of a large block, all decoded: wait for
			 * it to be read. */
			ah->waiting = true;
			pthread_cond_broadcast(&ah->cond);
			pthread_cond_wait(&ah->cond, &ah->lock);
			ah->waiting = false;
			continue;
		} else if (n > XZ_AHEAD_STEP) {
			n = XZ_AHEAD_STEP;
		}
		pthread_mutex_unlock(&ah->lock);
		r = xz_block_code(&ah->dec, p, n, &got, &done, &ah->err);
		pthread_mutex_lock(&ah->lock);
		if (made == usize)
			got = 0;	/* never data: it errs */
		ah->wpos += got;
		made += got;
		if (got > 0)
			pthread_cond_broadcast(&ah->cond);
	}
	return r;
}

/* The worker: decodes each block posted to it until told to stop. */
static void *xz_ahead_worker(void *arg)
{
	struct xz_ahead *ah = arg;

	pthread_mutex_lock(&ah->lock);
	for (;;) {
		int r;

		while (!ah->stop && ah->state != XZ_AHEAD_POSTED)
			pthread_cond_wait(&ah->cond, &ah->lock);
		if (ah->stop)
			break;
		ah->state = XZ_AHEAD_RUNNING;
		r = xz_ahead_decode(ah);
		if (ah->stop)
			break;
		ah->ret = r;
		ah->state = XZ_AHEAD_DONE;
		pthread_cond_broadcast(&ah->cond);
	}
	pthread_mutex_unlock(&ah->lock);
	return NULL;
}

struct xz_ahead *xz_ahead_new(int fd)
{
	struct xz_ahead *ah = calloc(1, sizeof(*ah));

	if (!ah)
		return NULL;
	xz_block_init(&ah->dec, fd);
	pthread_mutex_init(&ah->lock, NULL);
	pthread_cond_init(&ah->cond, NULL);
	ah->state = XZ_AHEAD_IDLE;
	if (pthread_create(&ah->thread, NULL, xz_ahead_worker, ah) != 0) {
		pthread_cond_destroy(&ah->cond);
		pthread_mutex_destroy(&ah->lock);
		free(ah);
		return NULL;
	}
	return ah;
}

bool xz_ahead_post(struct xz_ahead *ah, const lzma_index_iter *it,
		   size_t max)
{
	size_t cap = it->block.uncompressed_size < max ?
		     (size_t)it->block.uncompressed_size : max;

	/* XZ_AHEAD_IDLE: all the reader's. */
	if (ah->alloc < cap + 1) {
		free(ah->out);
		ah->out = malloc(cap + 1);
		ah->alloc = ah->out ? cap + 1 : 0;
		if (!ah->out)
			return false;
	}
	pthread_mutex_lock(&ah->lock);
	ah->dec.it = *it;
	ah->cap = cap;
	ah->wpos = 0;
	ah->rpos = 0;
	ah->ret = 0;
	ah->state = XZ_AHEAD_POSTED;
	pthread_cond_broadcast(&ah->cond);
	pthread_mutex_unlock(&ah->lock);
	return true;
}

/* A piece of a large block was all read: on to the next. With the lock. */
static void xz_ahead_next_piece(struct xz_ahead *ah)
{
	ah->wpos = 0;
	ah->rpos = 0;
	pthread_cond_broadcast(&ah->cond);
}

ssize_t xz_ahead_read(struct xz_ahead *ah, void *buf, size_t len,
		      struct bmap_err *err)
{
	const unsigned char *src;
	size_t n;

	pthread_mutex_lock(&ah->lock);
	while (ah->rpos == ah->wpos) {
		if (ah->state == XZ_AHEAD_DONE) {
			int r = ah->ret;

			if (r < 0 && err)
				*err = ah->err;
			else if (r == 0)
				ah->state = XZ_AHEAD_IDLE;
			pthread_mutex_unlock(&ah->lock);
			return r;	/* stays so after an error */
		}
		if (ah->waiting && ah->wpos == ah->cap)
			xz_ahead_next_piece(ah);
		pthread_cond_wait(&ah->cond, &ah->lock);
	}
	n = ah->wpos - ah->rpos < len ? ah->wpos - ah->rpos : len;
	src = ah->out + ah->rpos;
	pthread_mutex_unlock(&ah->lock);
	memcpy(buf, src, n);
	pthread_mutex_lock(&ah->lock);
	ah->rpos += n;
	if (ah->rpos == ah->cap && ah->waiting)
		xz_ahead_next_piece(ah);
	pthread_mutex_unlock(&ah->lock);
	return (ssize_t)n;
}

void xz_ahead_free(struct xz_ahead *ah)
{
	if (!ah)
		return;
	pthread_mutex_lock(&ah->lock);
	ah->stop = true;
	pthread_cond_broadcast(&ah->cond);
	pthread_mutex_unlock(&ah->lock);
	pthread_join(ah->thread, NULL);
	xz_block_end(&ah->dec);
	pthread_cond_destroy(&ah->cond);
	pthread_mutex_destroy(&ah->lock);
	free(ah->out);
	free(ah);
}
