/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * plain.c - the engine's two formats without seek points of their
 * own: the sequential one (anything bmap_source reads, decoded from the
 * start by each cursor) and a plain image (every offset a seek point,
 * read with pread on the engine's descriptor).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "codec/codec.h"

/* ------------------------------------------------------------------ */
/* The sequential format: bmap_source from the start.                  */

struct seq {
	char *path;
	unsigned threads;
};

int ra_seq_open(const char *path, unsigned threads, void **fmt,
			 struct bmap_err *err)
{
	struct seq *s = calloc(1, sizeof(*s));

	if (!s || !(s->path = strdup(path))) {
		free(s);
		return bmap_seterr(err, ENOMEM, "out of memory");
	}
	s->threads = threads;
	*fmt = s;
	return 0;
}

static uint64_t seq_size(void *fmt)
{
	(void)fmt;
	return BMAP_SIZE_UNKNOWN;
}

static uint64_t seq_point(void *fmt, uint64_t off)
{
	(void)fmt;
	(void)off;
	return 0;
}

static int seq_cursor_open(void *fmt, uint64_t off, void **cur,
			   uint64_t *start, struct bmap_err *err)
{
	struct seq *s = fmt;
	struct bmap_source *src;
	int ret;

	(void)off;
	ret = bmap_source_open(&src, s->path, s->threads, err);
	if (ret < 0)
		return ret;
	*cur = src;
	*start = 0;
	return 0;
}

static ssize_t seq_cursor_read(void *cur, void *buf, size_t len,
			       struct bmap_err *err)
{
	return bmap_source_read(cur, buf, len, err);
}

static void seq_cursor_close(void *cur)
{
	bmap_source_close(cur);
}

static void seq_close(void *fmt)
{
	struct seq *s = fmt;

	free(s->path);
	free(s);
}

const struct codec_seek_ops ra_seq_ops = {
	.name = "sequential",
	.size = seq_size,
	.point = seq_point,
	.cursor_open = seq_cursor_open,
	.cursor_read = seq_cursor_read,
	.cursor_close = seq_cursor_close,
	.close = seq_close,
};

/* ------------------------------------------------------------------ */
/* A plain image: every offset is a seek point, read with pread.        */

struct raw_cursor {
	int fd;
	uint64_t pos;
};

static uint64_t raw_size(void *fmt)
{
	struct stat st;

	if (fstat(*(int *)fmt, &st) < 0)
		return BMAP_SIZE_UNKNOWN;
	return (uint64_t)st.st_size;
}

static uint64_t raw_point(void *fmt, uint64_t off)
{
	(void)fmt;
	return off;
}

static int raw_cursor_open(void *fmt, uint64_t off, void **cur,
			   uint64_t *start, struct bmap_err *err)
{
	struct raw_cursor *c = malloc(sizeof(*c));

	if (!c)
		return bmap_seterr(err, ENOMEM, "out of memory");
	c->fd = *(int *)fmt;
	c->pos = off;
	*cur = c;
	*start = off;
	return 0;
}

static ssize_t raw_cursor_read(void *cur, void *buf, size_t len,
			       struct bmap_err *err)
{
	struct raw_cursor *c = cur;
	ssize_t n;

	do
		n = pread(c->fd, buf, len, (off_t)c->pos);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return bmap_seterr(err, errno, "cannot read the image: %s",
				   strerror(errno));
	c->pos += (uint64_t)n;
	return n;
}

static void raw_close(void *fmt)
{
	(void)fmt;	/* the engine's own descriptor */
}

const struct codec_seek_ops ra_raw_ops = {
	.name = "raw",
	.size = raw_size,
	.point = raw_point,
	.cursor_open = raw_cursor_open,
	.cursor_read = raw_cursor_read,
	.cursor_close = free,
	.close = raw_close,
};
