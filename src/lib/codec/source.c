/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * source.c - an image as a byte stream, whatever its packaging: a plain
 * file or device (seekable), standard input, a compressed stream or the
 * image inside an archive, recognised by content.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/fs.h>

#include "base/error.h"
#include "codec/codec.h"

/* Wait a little for a pipe to have data: 1 when it has (or at its end). */
static int readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r = poll(&p, 1, 200);

	/* Interrupted: look at the stop flag again before any read. */
	if (r < 0 && errno == EINTR)
		return 0;
	return r != 0;
}

ssize_t codec_input_read(struct codec_input *in, void *buf, size_t len)
{
	ssize_t n;

	if (in->headpos < in->headlen) {
		n = (ssize_t)(in->headlen - in->headpos);
		if ((size_t)n > len)
			n = (ssize_t)len;
		memcpy(buf, in->head + in->headpos, (size_t)n);
		in->headpos += (size_t)n;
		in->consumed += (uint64_t)n;
		return n;
	}
	for (;;) {
		if ((in->stop && *in->stop) || (in->halt && *in->halt))
			return -EINTR;
		if (in->pollable && !readable(in->fd))
			continue;
		n = read(in->fd, buf, len);
		if (n >= 0)
			break;
		if (errno != EINTR)
			return -errno;
	}
	in->consumed += (uint64_t)n;
	return n;
}

static bool all_zero(const unsigned char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

int codec_input_rest_zero(struct codec_input *in, const void *p, size_t n)
{
	unsigned char buf[16384];
	ssize_t got;

	if (!all_zero(p, n))
		return -EBADMSG;
	while ((got = codec_input_read(in, buf, sizeof(buf))) > 0)
		if (!all_zero(buf, (size_t)got))
			return -EBADMSG;
	return (int)got;
}

/* ------------------------------------------------------------------ */
/* The identity decoder: the input's bytes as they are (plain images on
 * standard input or a pipe, and zip archives, read by the container). */

static ssize_t identity_read(void *state, void *buf, size_t len,
			     struct bmap_err *err)
{
	ssize_t n = codec_input_read(state, buf, len);

	if (n < 0)
		return bmap_seterr(err, (int)-n, "cannot read the image: %s",
				   strerror((int)-n));
	return n;
}

static void identity_close(void *state)
{
	(void)state;
}

static const struct codec_stream_ops identity_ops = {
	.name = "raw",
	.read = identity_read,
	.close = identity_close,
};

/* ------------------------------------------------------------------ */
/* Peeking: the first bytes a decoder produces, looked at and then served
 * again (to recognise a tar archive inside a compressed stream). */

struct peek {
	const struct codec_stream_ops *ops;
	void *state;
	unsigned char buf[512];
	size_t len, pos;
};

static ssize_t peek_read(void *state, void *buf, size_t len,
			 struct bmap_err *err)
{
	struct peek *p = state;
	size_t n;

	if (p->pos < p->len) {
		n = p->len - p->pos < len ? p->len - p->pos : len;
		memcpy(buf, p->buf + p->pos, n);
		p->pos += n;
		return (ssize_t)n;
	}
	return p->ops->read(p->state, buf, len, err);
}

static void peek_close(void *state)
{
	struct peek *p = state;

	p->ops->close(p->state);
	free(p);
}

static const struct codec_stream_ops peek_ops = {
	.read = peek_read,
	.close = peek_close,
};

/* Wrap a decoder so that its first 512 bytes can be looked at. */
static int peek_open(const struct codec_stream_ops *ops, void *state,
		     struct peek **out, struct bmap_err *err)
{
	struct peek *p = calloc(1, sizeof(*p));
	ssize_t n;

	if (!p) {
		ops->close(state);
		return bmap_seterr(err, ENOMEM, "out of memory");
	}
	p->ops = ops;
	p->state = state;
	while (p->len < sizeof(p->buf)) {
		n = ops->read(state, p->buf + p->len, sizeof(p->buf) - p->len,
			      err);
		if (n < 0) {
			peek_close(p);
			return (int)n;
		}
		if (n == 0)
			break;
		p->len += (size_t)n;
	}
	*out = p;
	return 0;
}

/* ------------------------------------------------------------------ */
/* The source                                                           */

struct bmap_source {
	struct codec_input in;
	int seek_fd;		/* a seekable plain image, else -1 */
	uint64_t size;
	const struct codec_stream_ops *ops;
	void *state;
	char format[32];
};

static int read_head(struct codec_input *in, struct bmap_err *err)
{
	ssize_t n;

	while (in->headlen < sizeof(in->head)) {
		do
			n = read(in->fd, in->head + in->headlen,
				 sizeof(in->head) - in->headlen);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return bmap_seterr(err, errno, "cannot read: %s",
					   strerror(errno));
		if (n == 0)
			break;
		in->headlen += (size_t)n;
	}
	return 0;
}

static int open_decoder(struct bmap_source *s, const struct codec *c,
			unsigned threads, struct bmap_err *err)
{
	if (c->stream_open)
		return c->stream_open(&s->in, threads, &s->ops, &s->state, err);
	s->ops = &identity_ops;
	s->state = &s->in;
	return 0;
}

/* Look at the decoded bytes' start: a tar archive is opened as one. */
static int maybe_container(struct bmap_source *s, const struct codec *c,
			   struct bmap_err *err)
{
	struct peek *pk = NULL;
	int ret;

	if (c == &codec_zip)
		return archive_container_open(s->ops, s->state, &s->ops,
					  &s->state, err);
	ret = peek_open(s->ops, s->state, &pk, err);
	s->ops = NULL;
	if (ret)
		return ret;
	s->ops = &peek_ops;
	s->state = pk;
	if (!codec_is_tar(pk->buf, pk->len))
		return 0;
	snprintf(s->format, sizeof(s->format), "%s%s",
		 c == &codec_raw ? "" : c->name, c == &codec_raw ? "tar" :
		 " (tar)");
	return archive_container_open(s->ops, s->state, &s->ops, &s->state, err);
}

static int plain_seekable(struct bmap_source *s, const struct stat *st)
{
	uint64_t size = (uint64_t)st->st_size;

	if (S_ISBLK(st->st_mode) && ioctl(s->in.fd, BLKGETSIZE64, &size) < 0)
		return 0;
	if (!S_ISREG(st->st_mode) && !S_ISBLK(st->st_mode))
		return 0;
	if (codec_is_tar(s->in.head, s->in.headlen))
		return 0;
	s->seek_fd = s->in.fd;
	s->size = size;
	return 1;
}

int bmap_source_open(struct bmap_source **out, const char *path,
		     unsigned threads, struct bmap_err *err)
{
	struct bmap_source *s = calloc(1, sizeof(*s));
	const struct codec *c;
	struct stat st;
	int ret;

	if (!s)
		return bmap_seterr(err, ENOMEM, "out of memory");
	s->seek_fd = -1;
	s->size = BMAP_SIZE_UNKNOWN;
	s->in.fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) :
		   STDIN_FILENO;
	if (s->in.fd < 0) {
		ret = bmap_seterr(err, errno, "cannot open: %s",
				  strerror(errno));
		free(s);
		return ret;
	}
	if (fstat(s->in.fd, &st) < 0) {
		ret = bmap_seterr(err, errno, "cannot stat: %s",
				  strerror(errno));
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		ret = bmap_seterr(err, EISDIR, "is a directory");
		goto fail;
	}
	s->in.pollable = !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode);
	ret = read_head(&s->in, err);
	if (ret)
		goto fail;
	c = codec_find(s->in.head, s->in.headlen);
	snprintf(s->format, sizeof(s->format), "%s", c->name);
	ret = open_decoder(s, c, threads ? threads : 1, err);
	if (ret)
		goto fail;
	if (c == &codec_raw && plain_seekable(s, &st)) {
		*out = s;
		return 0;
	}
	ret = maybe_container(s, c, err);
	if (ret)
		goto fail;
	*out = s;
	return 0;
fail:
	s->ops = NULL;
	bmap_source_close(s);
	return ret;
}

void bmap_source_close(struct bmap_source *s)
{
	if (!s)
		return;
	if (s->ops)
		s->ops->close(s->state);
	if (s->in.fd != STDIN_FILENO)
		close(s->in.fd);
	free(s);
}

const char *bmap_source_format(const struct bmap_source *s)
{
	return s->format;
}

int bmap_source_seekable_fd(const struct bmap_source *s)
{
	return s->seek_fd;
}

uint64_t bmap_source_size(const struct bmap_source *s)
{
	return s->size;
}

void bmap_source_set_stop(struct bmap_source *s, const volatile int *stop)
{
	s->in.stop = stop;
}

ssize_t bmap_source_read(struct bmap_source *s, void *buf, size_t len,
			 struct bmap_err *err)
{
	return s->ops->read(s->state, buf, len, err);
}
