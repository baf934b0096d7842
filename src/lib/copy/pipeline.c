/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pipeline.c - the copy engine's buffers and queues (see pipeline.h):
 * everything here is done under the one lock.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "base/error.h"
#include "copy/pipeline.h"

int copy_setup(struct copy *c)
{
	size_t i;

	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	for (i = 0; i < COPY_NBUFS; i++) {
		if (posix_memalign((void **)&c->items[i].data, 4096,
				   COPY_BUF_SIZE))
			return -ENOMEM;
		c->free_v[c->nfree++] = &c->items[i];
	}
	return 0;
}

void copy_teardown(struct copy *c)
{
	size_t i;

	for (i = 0; i < COPY_NBUFS; i++)
		free(c->items[i].data);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
}

/* Called locked: the failure so far, made -EINTR when a stop was asked. */
static int status_locked(struct copy *c)
{
	if (!c->ret && c->opts->stop && *c->opts->stop) {
		c->ret = bmap_seterr(&c->err, EINTR, "interrupted");
		pthread_cond_broadcast(&c->cond);
	}
	return c->ret;
}

int copy_status(struct copy *c)
{
	int ret;

	pthread_mutex_lock(&c->lock);
	ret = status_locked(c);
	pthread_mutex_unlock(&c->lock);
	return ret;
}

int copy_fail(struct copy *c, int ret, const struct bmap_err *e)
{
	pthread_mutex_lock(&c->lock);
	if (!c->ret && c->opts->stop && *c->opts->stop) {
		/* Whatever broke, it broke because we were told to stop. */
		c->ret = bmap_seterr(&c->err, EINTR, "interrupted");
	} else if (!c->ret) {
		c->ret = ret;
		c->err = *e;
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	return ret;
}

struct copy_item *copy_get_free(struct copy *c)
{
	struct copy_item *it = NULL;

	pthread_mutex_lock(&c->lock);
	while (!status_locked(c) && !c->nfree)
		pthread_cond_wait(&c->cond, &c->lock);
	if (!c->ret)
		it = c->free_v[--c->nfree];
	pthread_mutex_unlock(&c->lock);
	return it;
}

static void put_free_locked(struct copy *c, struct copy_item *it)
{
	c->free_v[c->nfree++] = it;
	pthread_cond_broadcast(&c->cond);
}

void copy_put_free(struct copy *c, struct copy_item *it)
{
	pthread_mutex_lock(&c->lock);
	put_free_locked(c, it);
	pthread_mutex_unlock(&c->lock);
}

void copy_release(struct copy *c, struct copy_item *it)
{
	pthread_mutex_lock(&c->lock);
	if (--it->refs == 0)
		put_free_locked(c, it);
	pthread_mutex_unlock(&c->lock);
}

static void enqueue(struct copy_queue *q, struct copy_item *it)
{
	q->v[(q->head + q->count++) % COPY_NBUFS] = it;
}

void copy_push(struct copy *c, struct copy_item *it)
{
	pthread_mutex_lock(&c->lock);
	it->refs = 1 + c->hashing;
	enqueue(&c->to_write, it);
	if (c->hashing)
		enqueue(&c->to_hash, it);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

void copy_end_queues(struct copy *c)
{
	pthread_mutex_lock(&c->lock);
	c->to_write.ended = c->to_hash.ended = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

struct copy_item *copy_pop(struct copy *c, struct copy_queue *q)
{
	struct copy_item *it = NULL;

	pthread_mutex_lock(&c->lock);
	while (!status_locked(c) && !q->count && !q->ended)
		pthread_cond_wait(&c->cond, &c->lock);
	if (!c->ret && q->count) {
		it = q->v[q->head];
		q->head = (q->head + 1) % COPY_NBUFS;
		q->count--;
	}
	pthread_mutex_unlock(&c->lock);
	return it;
}
