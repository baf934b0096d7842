/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * copy.c - the copy engine: a reader (which decodes), a hasher and a
 * writer in their own threads, passing large buffers along bounded
 * queues, so that a slow device and a slow decoder overlap instead of
 * adding up. Every buffer goes to both the hasher and the writer and
 * returns to the free pool when both are done with it.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bmap.h"
#include "base/error.h"

#define BUF_SIZE (4u * 1024 * 1024)
#define NBUFS 6

struct item {
	unsigned char *data;
	size_t len;
	uint64_t off;		/* the image offset of data[0] */
	int refs;		/* consumers not done with it yet */
};

/* A FIFO of items with an end mark. */
struct queue {
	struct item *v[NBUFS];
	size_t head, count;
	int ended;
};

struct copy {
	struct bmap_source *src;
	const struct bmap *map;
	struct bmap_target *dst;
	const struct bmap_copy_opts *opts;
	int hashing;		/* the hasher runs */

	pthread_mutex_t lock;
	pthread_cond_t cond;	/* any change below */
	struct item items[NBUFS];
	struct item *free_v[NBUFS];
	size_t nfree;
	struct queue to_hash, to_write;
	int ret;		/* the first failure */
	struct bmap_err err;

	uint64_t total;		/* bytes to write, or BMAP_SIZE_UNKNOWN */
	uint64_t written;
	uint64_t image_bytes;	/* bytes of the image read */
	size_t verified;
};

/* ------------------------------------------------------------------ */
/* Shared state, under c->lock                                          */

static int failed(struct copy *c)
{
	if (!c->ret && c->opts->stop && *c->opts->stop) {
		c->ret = bmap_seterr(&c->err, EINTR, "interrupted");
		pthread_cond_broadcast(&c->cond);
	}
	return c->ret;
}

static int fail(struct copy *c, int ret, const struct bmap_err *e)
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

static struct item *get_free(struct copy *c)
{
	struct item *it = NULL;

	pthread_mutex_lock(&c->lock);
	while (!failed(c) && !c->nfree)
		pthread_cond_wait(&c->cond, &c->lock);
	if (!c->ret)
		it = c->free_v[--c->nfree];
	pthread_mutex_unlock(&c->lock);
	return it;
}

static void put_free_locked(struct copy *c, struct item *it)
{
	c->free_v[c->nfree++] = it;
	pthread_cond_broadcast(&c->cond);
}

static void release(struct copy *c, struct item *it)
{
	pthread_mutex_lock(&c->lock);
	if (--it->refs == 0)
		put_free_locked(c, it);
	pthread_mutex_unlock(&c->lock);
}

static void push(struct copy *c, struct item *it)
{
	pthread_mutex_lock(&c->lock);
	it->refs = 1 + c->hashing;
	c->to_write.v[(c->to_write.head + c->to_write.count++) % NBUFS] = it;
	if (c->hashing)
		c->to_hash.v[(c->to_hash.head + c->to_hash.count++) % NBUFS] =
			it;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void end_queues(struct copy *c)
{
	pthread_mutex_lock(&c->lock);
	c->to_write.ended = c->to_hash.ended = 1;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* The next item of q, or NULL at its end or on failure. */
static struct item *pop(struct copy *c, struct queue *q)
{
	struct item *it = NULL;

	pthread_mutex_lock(&c->lock);
	while (!failed(c) && !q->count && !q->ended)
		pthread_cond_wait(&c->cond, &c->lock);
	if (!c->ret && q->count) {
		it = q->v[q->head];
		q->head = (q->head + 1) % NBUFS;
		q->count--;
	}
	pthread_mutex_unlock(&c->lock);
	return it;
}

/* ------------------------------------------------------------------ */
/* Walking the ranges an item overlaps                                   */

struct cursor {
	size_t i;		/* the first range not finished */
};

/* The part of range r inside [off, end), as [*s, *e); 0 if none. */
static int overlap(const struct bmap *map, const struct bmap_range *r,
		   uint64_t off, uint64_t end, uint64_t *s, uint64_t *e)
{
	uint64_t rs = bmap_range_offset(map, r);
	uint64_t re = rs + bmap_range_length(map, r);

	*s = rs > off ? rs : off;
	*e = re < end ? re : end;
	return *s < *e;
}

static int range_done(const struct bmap *map, const struct bmap_range *r,
		      uint64_t end)
{
	return bmap_range_offset(map, r) + bmap_range_length(map, r) <= end;
}

/* ------------------------------------------------------------------ */
/* The hasher                                                           */

static int check_range(struct copy *c, const struct bmap_range *r,
		       struct bmap_digest *d)
{
	unsigned char got[BMAP_DIGEST_MAX];
	char want_hex[2 * BMAP_DIGEST_MAX + 1], got_hex[2 * BMAP_DIGEST_MAX + 1];
	struct bmap_err e;

	if (bmap_digest_final(d, got))
		return fail(c, bmap_seterr(&e, EIO, "hashing failed"), &e);
	if (!memcmp(got, r->digest, c->map->digest_len)) {
		c->verified++;
		return 0;
	}
	bmap_hex_encode(r->digest, c->map->digest_len, want_hex);
	bmap_hex_encode(got, c->map->digest_len, got_hex);
	return fail(c, bmap_seterr(&e, EBADMSG, "checksum mismatch in blocks "
				   "%" PRIu64 "-%" PRIu64 ": the bmap says %s "
				   "%s, the image has %s", r->first, r->last,
				   c->map->checksum_type, want_hex, got_hex),
		    &e);
}

static int hash_item(struct copy *c, struct cursor *cur,
		     const struct item *it, struct bmap_digest *d)
{
	const struct bmap *map = c->map;
	uint64_t end = it->off + it->len, s, e;

	for (; cur->i < map->nranges; cur->i++) {
		const struct bmap_range *r = &map->ranges[cur->i];

		if (!overlap(map, r, it->off, end, &s, &e)) {
			if (bmap_range_offset(map, r) >= end)
				break;
			continue;
		}
		if (r->has_digest &&
		    bmap_digest_update(d, it->data + (s - it->off), e - s))
			return -EIO;
		if (!range_done(map, r, end))
			break;
		if (r->has_digest && check_range(c, r, d))
			return -EBADMSG;
	}
	return 0;
}

static void *hasher(void *arg)
{
	struct copy *c = arg;
	struct cursor cur = { 0 };
	struct bmap_digest *d;
	struct item *it;
	struct bmap_err e;
	int ret;

	ret = bmap_digest_new(&d, c->map->checksum_type, &e);
	if (ret) {
		fail(c, ret, &e);
		return NULL;
	}
	while ((it = pop(c, &c->to_hash)) != NULL) {
		ret = hash_item(c, &cur, it, d);
		release(c, it);
		if (ret == -EIO)
			fail(c, bmap_seterr(&e, EIO, "hashing failed"), &e);
		if (ret)
			break;
	}
	bmap_digest_free(d);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The writer                                                           */

static int write_part(struct copy *c, const struct item *it, uint64_t s,
		      uint64_t e)
{
	struct bmap_err err;
	int ret;

	ret = bmap_target_write(c->dst, it->data + (s - it->off),
				(size_t)(e - s), s, &err);
	if (ret)
		return fail(c, ret, &err);
	c->written += e - s;
	return 0;
}

static int write_item(struct copy *c, struct cursor *cur,
		      const struct item *it)
{
	const struct bmap *map = c->map;
	uint64_t end = it->off + it->len, s, e;

	if (!map)
		return write_part(c, it, it->off, end);
	for (; cur->i < map->nranges; cur->i++) {
		const struct bmap_range *r = &map->ranges[cur->i];

		if (!overlap(map, r, it->off, end, &s, &e)) {
			if (bmap_range_offset(map, r) >= end)
				break;
			continue;
		}
		if (write_part(c, it, s, e))
			return -EIO;
		if (!range_done(map, r, end))
			break;
	}
	return 0;
}

static void *writer(void *arg)
{
	struct copy *c = arg;
	struct cursor cur = { 0 };
	struct item *it;
	int ret;

	while ((it = pop(c, &c->to_write)) != NULL) {
		ret = write_item(c, &cur, it);
		release(c, it);
		if (ret)
			break;
		if (c->opts->progress)
			c->opts->progress(c->opts->progress_ctx, c->written,
					  c->total);
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The reader (in the calling thread)                                   */

static int read_fully(struct copy *c, struct item *it, size_t want)
{
	struct bmap_err e;

	it->len = 0;
	while (it->len < want) {
		ssize_t n = bmap_source_read(c->src, it->data + it->len,
					     want - it->len, &e);

		if (n < 0)
			return fail(c, (int)n, &e);
		if (n == 0)
			break;
		it->len += (size_t)n;
	}
	return 0;
}

/* Does [off, end) hold any mapped byte? cur skips the ranges before. */
static int wanted(const struct bmap *map, struct cursor *cur, uint64_t off,
		  uint64_t end)
{
	uint64_t s, e;

	if (!map)
		return 1;
	while (cur->i < map->nranges && range_done(map, &map->ranges[cur->i],
						   off))
		cur->i++;
	return cur->i < map->nranges &&
	       overlap(map, &map->ranges[cur->i], off, end, &s, &e);
}

/* A stream: read every byte in order; pass on the buffers that hold
 * mapped data; the stream must end exactly at the image's size. */
static int read_stream(struct copy *c)
{
	uint64_t size = c->map ? c->map->image_size : BMAP_SIZE_UNKNOWN;
	struct cursor cur = { 0 };
	struct bmap_err e;
	struct item *it;

	for (;;) {
		it = get_free(c);
		if (!it || read_fully(c, it, BUF_SIZE))
			return -1;
		it->off = c->image_bytes;
		c->image_bytes += it->len;
		if (c->image_bytes > size)
			return fail(c, bmap_seterr(&e, EINVAL, "the image is "
					"longer than the bmap's ImageSize (%"
					PRIu64 " bytes): is it the right "
					"bmap?", size), &e);
		if (it->len && wanted(c->map, &cur, it->off,
				      it->off + it->len)) {
			push(c, it);
		} else {
			pthread_mutex_lock(&c->lock);
			put_free_locked(c, it);
			pthread_mutex_unlock(&c->lock);
		}
		if (it->len < BUF_SIZE)
			break;
	}
	if (size != BMAP_SIZE_UNKNOWN && c->image_bytes < size)
		return fail(c, bmap_seterr(&e, EIO, "the image ends after %"
					   PRIu64 " bytes, but the bmap's "
					   "ImageSize is %" PRIu64 ": is it "
					   "truncated, or the wrong bmap?",
					   c->image_bytes, size), &e);
	return 0;
}

static int pread_part(struct copy *c, int fd, uint64_t off, uint64_t end)
{
	struct bmap_err e;
	struct item *it;

	while (off < end) {
		size_t want = end - off < BUF_SIZE ? (size_t)(end - off) :
			      BUF_SIZE;
		ssize_t n;

		it = get_free(c);
		if (!it)
			return -1;
		it->off = off;
		it->len = 0;
		while (it->len < want) {
			n = pread(fd, it->data + it->len, want - it->len,
				  (off_t)(off + it->len));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return fail(c, bmap_seterr(&e, n ? errno : EIO,
						"cannot read the image at "
						"byte %" PRIu64 ": %s",
						off + it->len, n ?
						strerror(errno) :
						"unexpected end of file"), &e);
			it->len += (size_t)n;
		}
		push(c, it);
		off += want;
	}
	return 0;
}

/* A plain file or device: read only the mapped ranges. */
static int read_seekable(struct copy *c, int fd)
{
	uint64_t size = bmap_source_size(c->src);
	struct bmap_err e;
	size_t i;

	if (!c->map) {
		c->image_bytes = size;
		return pread_part(c, fd, 0, size);
	}
	if (size != c->map->image_size)
		return fail(c, bmap_seterr(&e, EINVAL, "the image is %" PRIu64
					   " bytes, but the bmap's ImageSize "
					   "is %" PRIu64 ": is it the right "
					   "bmap?", size,
					   c->map->image_size), &e);
	c->image_bytes = size;
	for (i = 0; i < c->map->nranges; i++) {
		const struct bmap_range *r = &c->map->ranges[i];
		uint64_t off = bmap_range_offset(c->map, r);

		if (pread_part(c, fd, off, off + bmap_range_length(c->map, r)))
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */

static int setup(struct copy *c)
{
	size_t i;

	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	for (i = 0; i < NBUFS; i++) {
		if (posix_memalign((void **)&c->items[i].data, 4096, BUF_SIZE))
			return -ENOMEM;
		c->free_v[c->nfree++] = &c->items[i];
	}
	return 0;
}

static void teardown(struct copy *c)
{
	size_t i;

	for (i = 0; i < NBUFS; i++)
		free(c->items[i].data);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
}

static int any_digest(const struct bmap *map)
{
	size_t i;

	for (i = 0; map && i < map->nranges; i++)
		if (map->ranges[i].has_digest)
			return 1;
	return 0;
}

int bmap_copy(struct bmap_source *src, const struct bmap *map,
	      struct bmap_target *dst, const struct bmap_copy_opts *opts,
	      struct bmap_copy_stats *stats, struct bmap_err *err)
{
	struct copy c = { .src = src, .map = map, .dst = dst, .opts = opts };
	int fd = bmap_source_seekable_fd(src);
	pthread_t th, tw;
	int have_th = 0, have_tw;

	bmap_source_set_stop(src, opts->stop);
	c.hashing = opts->verify && any_digest(map);
	c.total = map ? bmap_mapped_bytes(map) : bmap_source_size(src);
	if (setup(&c)) {
		teardown(&c);
		return bmap_seterr(err, ENOMEM, "out of memory");
	}
	have_tw = !pthread_create(&tw, NULL, writer, &c);
	if (have_tw && c.hashing)
		have_th = !pthread_create(&th, NULL, hasher, &c);
	if (!have_tw || (c.hashing && !have_th))
		fail(&c, bmap_seterr(err, EAGAIN, "cannot start a thread"),
		     err);
	else if (fd >= 0)
		read_seekable(&c, fd);
	else
		read_stream(&c);
	end_queues(&c);
	if (have_tw)
		pthread_join(tw, NULL);
	if (have_th)
		pthread_join(th, NULL);
	if (!c.ret && !map)
		c.total = c.image_bytes;
	if (!c.ret) {
		struct bmap_err e;
		int ret = bmap_target_finish(dst, c.image_bytes, &e);

		if (ret)
			fail(&c, ret, &e);
	}
	teardown(&c);
	if (stats) {
		stats->written = c.written;
		stats->image_size = c.image_bytes;
		stats->verified = c.verified;
	}
	if (c.ret)
		*err = c.err;
	return c.ret;
}
