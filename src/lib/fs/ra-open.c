/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ra-open.c - opening and closing the random-access engine: which format
 * and which of its decoders (a SEEK decoder of ra-*.c when the format has
 * seek points, else decoding from the start through bmap_source, or the
 * plain file), how big a cache and how many cursors, and the index file
 * of seek points (loaded at open, saved or removed at close). Reading is
 * in ra.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "codec/codec.h"
#include "fs/ra.h"
#include "fs/ra-int.h"
#include "fs/ra-index.h"

/* ------------------------------------------------------------------ */
/* Opening: which format                                               */

/* Does the decoded stream start like a tar or zip archive? Then the
 * image is a file inside it, which only the sequential path (through
 * the container) finds. */
static bool holds_archive(const struct codec_seek_ops *ops, void *fmt)
{
	unsigned char head[512];
	size_t got = 0;
	uint64_t start;
	void *cur;
	ssize_t n = 1;

	if (ops->cursor_open(fmt, 0, &cur, &start, NULL) < 0)
		return false;
	while (got < sizeof(head) && n > 0) {
		n = ops->cursor_read(cur, head + got, sizeof(head) - got, NULL);
		if (n > 0)
			got += (size_t)n;
	}
	ops->cursor_close(cur);
	return codec_is_archive(head, got);
}

/* The format by its magic (the registry's table): its SEEK decoder when
 * it has one and the file has seek points, else decoding from the start
 * (the STREAM side, through bmap_source), or the plain file itself. */
static int pick_format(struct bmap_ra *ra, const char *path,
		       unsigned threads, struct bmap_err *err)
{
	unsigned char head[CODEC_HEAD_MAX];
	const struct codec *c;
	struct bmap_source *src;
	ssize_t n;
	int ret;

	do
		n = pread(ra->fd, head, sizeof(head), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return bmap_seterr(err, errno, "cannot read %s: %s", path,
				   strerror(errno));
	c = codec_find(head, (size_t)n);
	if (c->seek) {
		ret = c->seek->open(ra->fd, ra->file_size, threads, &ra->fmt,
				    err);
		if (ret < 0 && ret != -ENOTSUP)
			return ret;
		if (ret == 0 && holds_archive(c->seek, ra->fmt)) {
			c->seek->close(ra->fmt);
			ra->fmt = NULL;
		} else if (ret == 0) {
			ra->ops = c->seek;
			snprintf(ra->format, sizeof(ra->format),
				 "%s, seekable", c->name);
			return 0;
		}
	}
	/* Opened once here so that an unreadable or unknown input fails
	 * now, not at the first read. */
	ret = bmap_source_open(&src, path, threads, err);
	if (ret < 0)
		return ret;
	if (bmap_source_seekable_fd(src) >= 0) {
		bmap_source_close(src);
		ra->ops = &ra_raw_ops;
		ra->fmt = &ra->fd;
		snprintf(ra->format, sizeof(ra->format), "raw");
		return 0;
	}
	snprintf(ra->format, sizeof(ra->format), "%s, sequential",
		 bmap_source_format(src));
	bmap_source_close(src);
	ra->ops = &ra_seq_ops;
	return ra_seq_open(path, threads, &ra->fmt, err);
}

static uint64_t default_cache(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	uint64_t c = pages > 0 && size > 0 ?
		(uint64_t)pages * (uint64_t)size / 16 : 0;

	if (c < BMAP_RA_CACHE_DEFAULT_MIN)
		c = BMAP_RA_CACHE_DEFAULT_MIN;
	if (c > BMAP_RA_CACHE_DEFAULT_MAX)
		c = BMAP_RA_CACHE_DEFAULT_MAX;
	return c;
}

/* Tell the format the image's size, when every byte read is checked: a
 * format may place seek points by it, and a wrong size then costs a
 * decode (the points fail their checks and are dropped), never a byte. */
static void tell_size(struct bmap_ra *ra, const struct bmap_ra_opts *opts)
{
	if (opts->image_size && opts->verified && ra->ops->hint_size)
		ra->ops->hint_size(ra->fmt, opts->image_size);
}

/*
 * The index is only an optimisation: a folder that cannot be used leaves
 * a warning, and a missing or stale index nothing (points are found again
 * as the image is read). Points that loaded but tell an image size other
 * than the caller's are let go of the same way (the format is opened
 * again, empty), and the file is saved over at close. Fails only when
 * that second open does.
 */
static int use_index(struct bmap_ra *ra, const struct bmap_ra_opts *opts,
		     const char *path, const struct stat *st,
		     unsigned threads, struct bmap_err *err)
{
	uint64_t size;
	int ret;

	if (ra_index_open(&ra->index, opts->index_dir, ra->fd, path, st,
			  &ra->index_warning) < 0) {
		ra->index = NULL;
		return 0;
	}
	if (ra_index_load(ra->index, ra->ops, ra->fmt) < 0)
		return 0;
	size = ra->ops->size(ra->fmt);
	if (!opts->image_size || size == BMAP_SIZE_UNKNOWN ||
	    size == opts->image_size)
		return 0;
	ra->ops->close(ra->fmt);
	ra->fmt = NULL;
	ra->saved_dirty = true;
	ret = ra->ops->open(ra->fd, ra->file_size, threads, &ra->fmt, err);
	if (ret == 0)
		tell_size(ra, opts);
	return ret;
}

int bmap_ra_open(struct bmap_ra **rap, const char *path,
		 const struct bmap_ra_opts *opts, struct bmap_err *err)
{
	struct bmap_ra *ra;
	struct stat st;
	unsigned threads = opts->threads ? opts->threads : 1;
	uint64_t max;
	int ret;

	ra = calloc(1, sizeof(*ra));
	if (!ra)
		return bmap_seterr(err, ENOMEM, "out of memory");
	ra->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ra->fd < 0) {
		ret = bmap_seterr(err, errno, "cannot open %s: %s", path,
				  strerror(errno));
		free(ra);
		return ret;
	}
	if (fstat(ra->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ret = bmap_seterr(err, EINVAL, "%s: not a regular file", path);
		goto fail;
	}
	ra->file_size = (uint64_t)st.st_size;
	ra->file_mtime = st.st_mtim;
	max = opts->cache_size ? opts->cache_size : default_cache();
	if (max < BMAP_RA_CACHE_MIN)
		max = BMAP_RA_CACHE_MIN;
	ra->ncursors = max / RA_CURSOR_COST < RA_CURSORS ?
		(int)(max / RA_CURSOR_COST) : RA_CURSORS;
	if (ra->ncursors < 1)
		ra->ncursors = 1;
	if (ra_cache_init(&ra->cache, max) < 0) {
		ret = bmap_seterr(err, ENOMEM, "out of memory");
		goto fail;
	}
	pthread_mutex_init(&ra->lock, NULL);
	pthread_cond_init(&ra->changed, NULL);
	ra->sync_made = true;
	ret = pick_format(ra, path, threads, err);
	if (ret < 0) {
		ra->ops = NULL;
		goto fail;
	}
	tell_size(ra, opts);
	if (opts->index_dir && ra->ops->load) {
		ret = use_index(ra, opts, path, &st, threads, err);
		if (ret < 0) {
			ra->ops = NULL;
			goto fail;
		}
	}
	*rap = ra;
	return 0;
fail:
	bmap_ra_close(ra);
	return ret;
}

const char *bmap_ra_index_warning(const struct bmap_ra *ra)
{
	return ra->index_warning.msg[0] ? ra->index_warning.msg : NULL;
}

const char *bmap_ra_format(const struct bmap_ra *ra)
{
	return ra->format;
}

uint64_t bmap_ra_point(const struct bmap_ra *ra, uint64_t off)
{
	return ra->ops->point(ra->fmt, off);
}

uint64_t bmap_ra_cache_size(const struct bmap_ra *ra)
{
	return ra->cache.max;
}

uint64_t bmap_ra_size(const struct bmap_ra *ra)
{
	return ra->ops->size(ra->fmt);
}

/* ------------------------------------------------------------------ */
/* Closing, and the index file                                         */

void ra_mark_index_bad(struct bmap_ra *ra)
{
	__atomic_store_n(&ra->index_bad, true, __ATOMIC_RELEASE);
}

int bmap_ra_save_index(struct bmap_ra *ra, struct bmap_err *err)
{
	int ret;

	if (!ra->index || !ra->ops->save)
		return 0;
	/* A bad index is never saved back, nor left for the next run. */
	if (__atomic_load_n(&ra->index_bad, __ATOMIC_ACQUIRE))
		return ra_index_remove(ra->index, err);
	pthread_mutex_lock(&ra->lock);
	ret = ra->saved_dirty ? 1 : 0;
	ra->saved_dirty = false;
	pthread_mutex_unlock(&ra->lock);
	if (!ret)
		return 0;
	return ra_index_save(ra->index, ra->ops, ra->fmt, err);
}

void bmap_ra_close(struct bmap_ra *ra)
{
	int i;

	if (!ra)
		return;
	if (ra->ops) {
		bmap_ra_save_index(ra, NULL);
		for (i = 0; i < RA_CURSORS; i++)
			ra_cursor_end(ra, &ra->cursors[i]);
		ra->ops->close(ra->fmt);
	}
	ra_cache_fini(&ra->cache);
	if (ra->sync_made) {
		pthread_mutex_destroy(&ra->lock);
		pthread_cond_destroy(&ra->changed);
	}
	ra_index_close(ra->index);
	close(ra->fd);
	free(ra);
}
