/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * copy.c - the copy engine: a reader (which decodes), a hasher and a
 * writer in their own threads, passing large buffers along the bounded
 * queues of pipeline.c, so that a slow device and a slow decoder overlap
 * instead of adding up. The hasher is the bmap layer's range walk
 * (bmap/verify.c): the verdicts and the mismatch message are bmapfs's
 * too.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmap.h"
#include "base/error.h"
#include "base/io.h"
#include "bmap/verify.h"
#include "copy/pipeline.h"

/* ------------------------------------------------------------------ */
/* Walking the ranges an item overlaps                                   */

struct copy_cursor {
	size_t i;		/* the first range not finished */
};

/* The part of range r inside [off, end), as [*s, *e); false if none. */
static bool overlap(const struct bmap *map, const struct bmap_range *r,
		    uint64_t off, uint64_t end, uint64_t *s, uint64_t *e)
{
	uint64_t rs = bmap_range_offset(map, r);
	uint64_t re = rs + bmap_range_length(map, r);

	*s = rs > off ? rs : off;
	*e = re < end ? re : end;
	return *s < *e;
}

static bool range_done(const struct bmap *map, const struct bmap_range *r,
		       uint64_t end)
{
	return bmap_range_offset(map, r) + bmap_range_length(map, r) <= end;
}

/* ------------------------------------------------------------------ */
/* The hasher                                                           */

/* Feed the item to the walk: 0, or -errno with e saying why (-EBADMSG:
 * a range did not match). */
static int hash_item(struct verify *w, const struct copy_item *it,
		     struct bmap_err *e)
{
	struct verify_step step;
	size_t used = 0;
	int ret;

	while (used < it->len) {
		ret = verify_feed(w, it->off + used, it->data + used,
				  it->len - used, &step, e);
		if (ret < 0)
			return ret;
		used += step.len;
	}
	return 0;
}

static void *hasher(void *arg)
{
	struct copy *c = arg;
	struct copy_item *it;
	struct verify *w;
	struct bmap_err e;
	int ret;

	ret = verify_new(&w, c->map, NULL, NULL, &e);
	while (!ret && (it = copy_pop(c, &c->to_hash)) != NULL) {
		ret = hash_item(w, it, &e);
		copy_release(c, it);
		c->verified = verify_matched(w);
	}
	if (ret < 0)
		copy_fail(c, ret, &e);
	verify_free(w);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The writer                                                           */

static int write_part(struct copy *c, const struct copy_item *it,
		      uint64_t s, uint64_t e)
{
	struct bmap_err err;
	int ret;

	ret = bmap_target_write(c->dst, it->data + (s - it->off),
				(size_t)(e - s), s, &err);
	if (ret < 0)
		return copy_fail(c, ret, &err);
	c->written += e - s;
	return 0;
}

static int write_item(struct copy *c, struct copy_cursor *cur,
		      const struct copy_item *it)
{
	const struct bmap *map = c->map;
	uint64_t end = it->off + it->len, s, e;
	int ret;

	if (!map)
		return write_part(c, it, it->off, end);
	for (; cur->i < map->nranges; cur->i++) {
		const struct bmap_range *r = &map->ranges[cur->i];

		if (!overlap(map, r, it->off, end, &s, &e)) {
			if (bmap_range_offset(map, r) >= end)
				break;
			continue;
		}
		ret = write_part(c, it, s, e);
		if (ret < 0)
			return ret;
		if (!range_done(map, r, end))
			break;
	}
	return 0;
}

static void *writer(void *arg)
{
	struct copy *c = arg;
	struct copy_cursor cur = { 0 };
	struct copy_item *it;
	int ret;

	while ((it = copy_pop(c, &c->to_write)) != NULL) {
		ret = write_item(c, &cur, it);
		copy_release(c, it);
		if (ret < 0)
			break;
		if (c->opts->progress)
			c->opts->progress(c->opts->progress_ctx, c->written,
					  c->total);
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The reader (in the calling thread)                                   */

/* Up to want bytes of the stream into it (fewer only at its end). */
static int read_fully(struct copy *c, struct copy_item *it, size_t want)
{
	struct bmap_err e;

	it->len = 0;
	while (it->len < want) {
		ssize_t n = bmap_source_read(c->src, it->data + it->len,
					     want - it->len, &e);

		if (n < 0)
			return copy_fail(c, (int)n, &e);
		if (n == 0)
			break;
		it->len += (size_t)n;
	}
	return 0;
}

/* Does [off, end) hold any mapped byte? cur skips the ranges before. */
static bool wanted(const struct bmap *map, struct copy_cursor *cur,
		   uint64_t off, uint64_t end)
{
	uint64_t s, e;

	if (!map)
		return true;
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
	struct copy_cursor cur = { 0 };
	struct copy_item *it;
	struct bmap_err e;
	bool last;
	int ret;

	for (;;) {
		it = copy_get_free(c);
		if (!it)
			return copy_status(c);
		ret = read_fully(c, it, COPY_BUF_SIZE);
		if (ret < 0) {
			copy_put_free(c, it);
			return ret;
		}
		it->off = c->image_bytes;
		c->image_bytes += it->len;
		if (c->image_bytes > size) {
			copy_put_free(c, it);
			return copy_fail(c, bmap_seterr(&e, EINVAL, "the image "
					 "is longer than the bmap's ImageSize "
					 "(%" PRIu64 " bytes): is it the right "
					 "bmap?", size), &e);
		}
		last = it->len < COPY_BUF_SIZE;
		if (it->len && wanted(c->map, &cur, it->off,
				      it->off + it->len))
			copy_push(c, it);
		else
			copy_put_free(c, it);
		if (last)
			break;
	}
	if (size != BMAP_SIZE_UNKNOWN && c->image_bytes < size)
		return copy_fail(c, bmap_seterr(&e, EIO, "the image ends after "
						"%" PRIu64 " bytes, but the "
						"bmap's ImageSize is %" PRIu64
						": is it truncated, or the "
						"wrong bmap?", c->image_bytes,
						size), &e);
	return 0;
}

/* [off, end) of a plain image, read at its offsets. */
static int pread_part(struct copy *c, int fd, uint64_t off, uint64_t end)
{
	struct copy_item *it;
	struct bmap_err e;
	ssize_t n;

	while (off < end) {
		size_t want = end - off < COPY_BUF_SIZE ? (size_t)(end - off) :
			      COPY_BUF_SIZE;

		it = copy_get_free(c);
		if (!it)
			return copy_status(c);
		n = io_pread_full(fd, it->data, want, off);
		if (n < 0 || (size_t)n < want) {
			copy_put_free(c, it);
			return copy_fail(c, bmap_seterr(&e, n < 0 ? (int)-n :
					 EIO, "cannot read the image at byte %"
					 PRIu64 ": %s", n < 0 ? off : off +
					 (uint64_t)n, n < 0 ? strerror((int)-n) :
					 "unexpected end of file"), &e);
		}
		it->off = off;
		it->len = want;
		copy_push(c, it);
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
	int ret;

	if (!c->map) {
		c->image_bytes = size;
		return pread_part(c, fd, 0, size);
	}
	if (size != c->map->image_size)
		return copy_fail(c, bmap_seterr(&e, EINVAL, "the image is %"
						PRIu64 " bytes, but the bmap's "
						"ImageSize is %" PRIu64 ": is "
						"it the right bmap?", size,
						c->map->image_size), &e);
	c->image_bytes = size;
	for (i = 0; i < c->map->nranges; i++) {
		const struct bmap_range *r = &c->map->ranges[i];
		uint64_t off = bmap_range_offset(c->map, r);

		ret = pread_part(c, fd, off,
				 off + bmap_range_length(c->map, r));
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* ------------------------------------------------------------------ */

/* Every byte was read and written, and the hasher had all of it: each
 * range with a checksum had its verdict (a range left without one would
 * be a bug here; it is not let pass as verified). */
static void check_all_verified(struct copy *c)
{
	struct bmap_err e;
	size_t want;

	if (!c->hashing)
		return;
	want = verify_count(c->map);
	if (c->verified != want)
		copy_fail(c, bmap_seterr(&e, EIO, "%zu of the bmap's %zu "
					 "checksummed ranges were not checked",
					 want - c->verified, want), &e);
}

int bmap_copy(struct bmap_source *src, const struct bmap *map,
	      struct bmap_target *dst, const struct bmap_copy_opts *opts,
	      struct bmap_copy_stats *stats, struct bmap_err *err)
{
	struct copy c = { .src = src, .map = map, .dst = dst, .opts = opts };
	int fd = bmap_source_seekable_fd(src);
	bool have_th = false, have_tw;
	pthread_t th, tw;

	bmap_source_set_stop(src, opts->stop);
	c.hashing = opts->verify && map && verify_count(map) > 0;
	c.total = map ? bmap_mapped_bytes(map) : bmap_source_size(src);
	if (copy_setup(&c) < 0) {
		copy_teardown(&c);
		return bmap_seterr(err, ENOMEM, "out of memory");
	}
	have_tw = !pthread_create(&tw, NULL, writer, &c);
	if (have_tw && c.hashing)
		have_th = !pthread_create(&th, NULL, hasher, &c);
	if (!have_tw || (c.hashing && !have_th))
		copy_fail(&c, bmap_seterr(err, EAGAIN, "cannot start a "
					  "thread"), err);
	else if (fd >= 0)
		read_seekable(&c, fd);
	else
		read_stream(&c);
	copy_end_queues(&c);
	if (have_tw)
		pthread_join(tw, NULL);
	if (have_th)
		pthread_join(th, NULL);
	if (!c.ret && !map)
		c.total = c.image_bytes;
	if (!c.ret)
		check_all_verified(&c);
	if (!c.ret) {
		struct bmap_err e;
		int ret = bmap_target_finish(dst, c.image_bytes, &e);

		if (ret < 0)
			copy_fail(&c, ret, &e);
	}
	copy_teardown(&c);
	if (stats) {
		stats->written = c.written;
		stats->image_size = c.image_bytes;
		stats->verified = c.verified;
	}
	if (c.ret)
		*err = c.err;
	return c.ret;
}
