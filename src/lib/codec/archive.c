/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * archive.c - libarchive behind the decoder interface: as the lz4
 * decompression filter (the one format without a decoder of its own
 * here), and as the reader of a tar or zip archive holding the image.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "base/error.h"
#include "codec/codec.h"

#define ARCHIVE_CHUNK (1024 * 1024)
/* Raw bytes kept from before the chunk libarchive is reading, to look at
 * what follows a filter's data (libarchive peeks at most a frame magic's
 * 4 bytes past it, so it never has a later chunk before it is done). */
#define ARCHIVE_TAIL 64

struct arc {
	struct archive *a;
	/* Where the archive's raw bytes come from: the input, or an
	 * upstream decoder. */
	struct codec_input *in;
	const struct codec_stream_ops *up_ops;
	void *up_state;
	struct bmap_err up_err;	/* an upstream failure, kept for the caller */
	int up_ret;
	void *chunk;
	int done;		/* the image's data has ended */
	/* A filter for a codec whose messages follow the rule (truncated
	 * data is -EIO "truncated FMT data", anything else -EBADMSG
	 * "corrupt FMT data: ..."): its name; NULL keeps libarchive's
	 * words. */
	const char *codec;
	/* Raw bytes handed to libarchive: fed in all, the last chunk_len
	 * of them in chunk, the tail_len before those in tail. */
	uint64_t fed;
	size_t chunk_len, tail_len;
	unsigned char tail[ARCHIVE_TAIL];
	int failed;		/* the first failure, given again */
	struct bmap_err fail_err;
};

/* The chunk is to be read over: keep its last bytes. */
static void arc_keep_tail(struct arc *s)
{
	const unsigned char *c = s->chunk;
	size_t keep;

	if (s->chunk_len >= ARCHIVE_TAIL) {
		memcpy(s->tail, c + s->chunk_len - ARCHIVE_TAIL, ARCHIVE_TAIL);
		s->tail_len = ARCHIVE_TAIL;
		return;
	}
	keep = s->tail_len < ARCHIVE_TAIL - s->chunk_len ? s->tail_len :
	       ARCHIVE_TAIL - s->chunk_len;
	memmove(s->tail, s->tail + s->tail_len - keep, keep);
	memcpy(s->tail + keep, c, s->chunk_len);
	s->tail_len = keep + s->chunk_len;
}

static la_ssize_t arc_read_cb(struct archive *a, void *data,
			      const void **buf)
{
	struct arc *s = data;
	ssize_t n;

	(void)a;
	*buf = s->chunk;
	arc_keep_tail(s);
	s->chunk_len = 0;
	if (s->in)
		n = codec_input_read(s->in, s->chunk, ARCHIVE_CHUNK);
	else
		n = s->up_ops->read(s->up_state, s->chunk, ARCHIVE_CHUNK,
				    &s->up_err);
	if (n < 0) {
		if (s->in)
			bmap_seterr(&s->up_err, (int)-n, "cannot read the "
				    "image: %s", strerror((int)-n));
		s->up_ret = (int)n;
		archive_set_error(a, EIO, "%s", s->up_err.msg);
		return -1;
	}
	s->chunk_len = (size_t)n;
	s->fed += (uint64_t)n;
	return n;
}

static int arc_fail(struct arc *s, const char *what, struct bmap_err *err)
{
	if (s->up_ret) {
		*err = s->up_err;
		return s->up_ret;
	}
	return bmap_seterr(err, EIO, "%s: %s", what,
			   archive_error_string(s->a) ?
			   archive_error_string(s->a) : "unknown error");
}

static void arc_close(void *state)
{
	struct arc *s = state;

	if (s->a)
		archive_read_free(s->a);
	if (s->up_ops)
		s->up_ops->close(s->up_state);
	free(s->chunk);
	free(s);
}

static struct arc *arc_new(struct bmap_err *err)
{
	struct arc *s = calloc(1, sizeof(*s));

	if (s) {
		s->chunk = malloc(ARCHIVE_CHUNK);
		s->a = archive_read_new();
	}
	if (!s || !s->chunk || !s->a) {
		if (s)
			arc_close(s);
		bmap_seterr(err, ENOMEM, "out of memory");
		return NULL;
	}
	return s;
}

/* ------------------------------------------------------------------ */
/* The lz4 filter: the raw format gives the decompressed bytes. */

/* The codec of an input that the registry knows as lz4 (a frame, or the
 * legacy format), whose messages follow the rule; else NULL. */
static const char *filter_codec(const struct codec_input *in)
{
	const struct codec *c = codec_find(in->head, in->headlen);

	return strcmp(c->name, "lz4") ? NULL : c->name;
}

/* libarchive failed: by the rule for a codec that has one (libarchive
 * says "truncated" when the input ended inside the data), else as
 * arc_fail(). */
static int filter_fail(struct arc *s, const char *what, struct bmap_err *err)
{
	const char *why = archive_error_string(s->a);

	if (!s->codec || s->up_ret)
		return arc_fail(s, what, err);
	if (why && (strstr(why, "truncated") || strstr(why, "Truncated")))
		return bmap_seterr(err, EIO, "truncated %s data", s->codec);
	return bmap_seterr(err, EBADMSG, "corrupt %s data: %s", s->codec,
			   why ? why : "unknown error");
}

static bool all_zero(const unsigned char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/*
 * After the data of a codec that follows the rule: libarchive ends its
 * data at anything that is not another frame, silently. As after gzip
 * and bzip2 data, zero bytes are padding (the input is read to its end);
 * anything else is refused.
 */
static int filter_rest(struct arc *s, struct bmap_err *err)
{
	int64_t pos = archive_filter_bytes(s->a, -1);
	uint64_t chunk_at = s->fed - s->chunk_len;
	uint64_t tail_at = chunk_at - s->tail_len;
	uint64_t from;
	int ret;

	if (pos < 0 || (uint64_t)pos > s->fed)
		return 0;
	from = (uint64_t)pos;
	if (from < tail_at)	/* see ARCHIVE_TAIL: not reached */
		from = tail_at;
	if (from < chunk_at &&
	    !all_zero(s->tail + (from - tail_at), (size_t)(chunk_at - from)))
		goto garbage;
	if (from < chunk_at)
		from = chunk_at;
	ret = codec_input_rest_zero(s->in, (unsigned char *)s->chunk +
				  (from - chunk_at), (size_t)(s->fed - from));
	if (ret == -EBADMSG)
		goto garbage;
	if (ret < 0)
		return bmap_seterr(err, -ret, "cannot read the image: %s",
				   strerror(-ret));
	return 0;
garbage:
	return bmap_seterr(err, EBADMSG, "corrupt %s data: trailing garbage "
			   "after the last frame", s->codec);
}

static ssize_t filter_read(void *state, void *buf, size_t len,
			   struct bmap_err *err)
{
	struct arc *s = state;
	la_ssize_t n = 0;

	/* Every read after a failure gives it again. */
	if (!s->failed && !s->done) {
		n = archive_read_data(s->a, buf, len);
		if (n < 0)
			s->failed = filter_fail(s, "corrupt compressed data",
						&s->fail_err);
		else if (n == 0 && s->codec)
			s->failed = filter_rest(s, &s->fail_err);
		if (n == 0)
			s->done = 1;
	}
	if (s->failed) {
		if (err)
			*err = s->fail_err;
		return s->failed;
	}
	return n;
}

static const struct codec_stream_ops filter_ops = {
	.name = "libarchive",
	.read = filter_read,
	.close = arc_close,
};

int archive_filter_open(struct codec_input *in, unsigned threads,
		    const struct codec_stream_ops **ops, void **state,
		    struct bmap_err *err)
{
	struct archive_entry *entry;
	struct arc *s = arc_new(err);
	int ret;

	(void)threads;
	if (!s)
		return -ENOMEM;
	s->in = in;
	s->codec = filter_codec(in);
	archive_read_support_filter_lz4(s->a);
	archive_read_support_format_raw(s->a);
	if (archive_read_open(s->a, s, NULL, arc_read_cb, NULL) !=
	    ARCHIVE_OK ||
	    archive_read_next_header(s->a, &entry) != ARCHIVE_OK) {
		ret = filter_fail(s, "cannot decompress", err);
		arc_close(s);
		return ret;
	}
	/* A header libarchive does not take (too short: lz4 needs 11
	 * bytes; or bad flags) leaves no filter, and the raw format would
	 * hand out the compressed bytes as the image. */
	if (s->codec && archive_filter_code(s->a, 0) == ARCHIVE_FILTER_NONE) {
		ret = in->headlen < 11 ?
		      bmap_seterr(err, EIO, "truncated %s data", s->codec) :
		      bmap_seterr(err, EBADMSG, "corrupt %s data: bad frame "
				  "header", s->codec);
		arc_close(s);
		return ret;
	}
	*ops = &filter_ops;
	*state = s;
	return 0;
}

/* ------------------------------------------------------------------ */
/* A tar or zip archive: the first regular file that is not a bmap. */

static int is_image_entry(struct archive_entry *e)
{
	const char *name = archive_entry_pathname(e);
	size_t n = name ? strlen(name) : 0;

	if (archive_entry_filetype(e) != AE_IFREG)
		return 0;
	return n < 5 || strcmp(name + n - 5, ".bmap");
}

/* After the image: read to the end, so the archive's and the compressed
 * stream's own checks (tar structure, gzip CRC...) all run. */
static int drain(struct arc *s, struct bmap_err *err)
{
	struct archive_entry *e;
	int r;

	while ((r = archive_read_next_header(s->a, &e)) == ARCHIVE_OK ||
	       r == ARCHIVE_WARN)
		;
	if (r != ARCHIVE_EOF)
		return arc_fail(s, "corrupt archive", err);
	for (;;) {
		ssize_t n = s->up_ops->read(s->up_state, s->chunk,
					    ARCHIVE_CHUNK, err);

		if (n <= 0)
			return (int)n;
	}
}

static ssize_t container_read(void *state, void *buf, size_t len,
			      struct bmap_err *err)
{
	struct arc *s = state;
	la_ssize_t n;
	int ret;

	if (s->done)
		return 0;
	n = archive_read_data(s->a, buf, len);
	if (n < 0)
		return arc_fail(s, "corrupt archive", err);
	if (n > 0)
		return n;
	s->done = 1;
	ret = drain(s, err);
	return ret < 0 ? ret : 0;
}

static const struct codec_stream_ops container_ops = {
	.name = "archive",
	.read = container_read,
	.close = arc_close,
};

int archive_container_open(const struct codec_stream_ops *up_ops, void *up_state,
		       const struct codec_stream_ops **ops, void **state,
		       struct bmap_err *err)
{
	struct archive_entry *e;
	struct arc *s = arc_new(err);
	int r, ret;

	if (!s) {
		up_ops->close(up_state);
		return -ENOMEM;
	}
	s->up_ops = up_ops;
	s->up_state = up_state;
	archive_read_support_format_tar(s->a);
	archive_read_support_format_gnutar(s->a);
	archive_read_support_format_zip_streamable(s->a);
	if (archive_read_open(s->a, s, NULL, arc_read_cb, NULL) !=
	    ARCHIVE_OK) {
		ret = arc_fail(s, "cannot read the archive", err);
		goto fail;
	}
	while ((r = archive_read_next_header(s->a, &e)) == ARCHIVE_OK ||
	       r == ARCHIVE_WARN) {
		if (is_image_entry(e)) {
			*ops = &container_ops;
			*state = s;
			return 0;
		}
	}
	if (r == ARCHIVE_EOF)
		ret = bmap_seterr(err, ENOENT, "the archive holds no image "
				  "(no regular file but .bmap ones)");
	else
		ret = arc_fail(s, "corrupt archive", err);
fail:
	arc_close(s);
	return ret;
}
