/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pipeline.h - the copy engine's plumbing: a pool of large buffers and
 * two bounded queues (to the hasher, to the writer) under one lock, with
 * the first failure of any thread kept for all to see. Every buffer
 * pushed goes to both queues (to the writer alone when nothing is
 * hashed) and returns to the pool when all its consumers are done.
 */
#ifndef BMAP_COPY_PIPELINE_H
#define BMAP_COPY_PIPELINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bmap.h"

#define COPY_BUF_SIZE (4u * 1024 * 1024)
#define COPY_NBUFS 6

struct copy_item {
	unsigned char *data;	/* COPY_BUF_SIZE bytes */
	size_t len;
	uint64_t off;		/* the image offset of data[0] */
	int refs;		/* consumers not done with it yet */
};

/* A FIFO of items with an end mark. */
struct copy_queue {
	struct copy_item *v[COPY_NBUFS];
	size_t head, count;
	bool ended;
};

struct copy {
	struct bmap_source *src;
	const struct bmap *map;
	struct bmap_target *dst;
	const struct bmap_copy_opts *opts;
	bool hashing;		/* the hasher runs */

	pthread_mutex_t lock;
	pthread_cond_t cond;	/* any change below */
	struct copy_item items[COPY_NBUFS];
	struct copy_item *free_v[COPY_NBUFS];
	size_t nfree;
	struct copy_queue to_hash, to_write;
	int ret;		/* the first failure (-errno), or 0 */
	struct bmap_err err;

	uint64_t total;		/* bytes to write, or BMAP_SIZE_UNKNOWN */
	uint64_t written;	/* the writer's */
	uint64_t image_bytes;	/* bytes of the image read: the reader's */
	size_t verified;	/* ranges that matched: the hasher's */
};

/* The buffers and the lock: 0, or -ENOMEM (copy_teardown either way). */
int copy_setup(struct copy *c);
void copy_teardown(struct copy *c);

/* Record a failure (the first one counts; a stop asked for makes it
 * -EINTR "interrupted") and wake every thread; returns ret. */
int copy_fail(struct copy *c, int ret, const struct bmap_err *e);
/* The first failure so far (-errno), or 0. */
int copy_status(struct copy *c);

/* A free buffer, waiting for one; NULL once the copy failed. */
struct copy_item *copy_get_free(struct copy *c);
/* Give an item not pushed back to the pool. */
void copy_put_free(struct copy *c, struct copy_item *it);
/* Hand it to the writer (and the hasher when it runs). */
void copy_push(struct copy *c, struct copy_item *it);
/* No more items will come. */
void copy_end_queues(struct copy *c);
/* The next item of q, or NULL at its end or once the copy failed. */
struct copy_item *copy_pop(struct copy *c, struct copy_queue *q);
/* A consumer is done with it. */
void copy_release(struct copy *c, struct copy_item *it);

#endif
