/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * codec.h - the codec layer: how every compressed format is read.
 *
 * A format offers a STREAM decoder (from the start of the data, its
 * fastest engine, the only mode on a pipe) and, where the format allows,
 * a SEEK decoder (struct codec_seek_ops: from the nearest *seek point*,
 * a place in its output from which decoding can start without decoding
 * what comes before: a gzip window, a bzip2 block, an xz block, a zstd
 * frame). bmapcopy's source (source.c) takes the STREAM side, bmapfs's
 * engine (fs/ra.c) the SEEK side; both find the format in one table
 * (registry.c) by its magic.
 *
 * One error rule for every codec: truncated data is -EIO "truncated FMT
 * data"; corrupt data is -EBADMSG "corrupt FMT data: ..."; a decoder
 * that failed keeps failing.
 */
#ifndef BMAP_CODEC_H
#define BMAP_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bmap.h"
#include "base/strbuf.h"

/* Bytes read from the start of the input to recognise its format. */
#define CODEC_HEAD_MAX 512

/*
 * The raw input: a file descriptor (a file, a pipe, standard input), with
 * the bytes already taken to recognise the format served again first.
 */
struct codec_input {
	int fd;
	unsigned char head[CODEC_HEAD_MAX];
	size_t headlen;		/* bytes in head */
	size_t headpos;		/* of which already handed out */
	uint64_t consumed;	/* raw bytes handed out so far */
	int pollable;		/* a pipe or the like: reads may block */
	const volatile int *stop;	/* set: give up waiting, -EINTR */
	/* The same for the decoder that reads on a thread of its own: it
	 * sets *halt to have that thread give up when it closes. */
	const volatile int *halt;
};

/* Up to len raw bytes; 0 at the end of the input; -errno on failure.
 * Retries on EINTR, but a read that waits on a pipe gives up with -EINTR
 * once *stop or *halt is set. */
ssize_t codec_input_read(struct codec_input *in, void *buf, size_t len);

/* Padding after a compressed stream's data: whether the n bytes at p
 * (already taken from the input) and all the input still holds are zero
 * bytes. 0 when they are (the input is then read to its end), -EBADMSG
 * at the first byte that is not, -errno when reading fails. */
int codec_input_rest_zero(struct codec_input *in, const void *p, size_t n);

/*
 * A decoder turns the raw input into the image's bytes. Its read fills up
 * to len bytes (it may return fewer before the end); it returns 0 only at
 * the true end of the data, after every integrity check the format has
 * (CRCs, lengths, checksums, no trailing garbage) has passed; a negative
 * errno with a one-line message in err on any failure (corrupt or
 * truncated data: -EIO or -EBADMSG).
 */
struct codec_stream_ops {
	const char *name;	/* what it is: "gzip (ISA-L)", "xz", ... */
	ssize_t (*read)(void *state, void *buf, size_t len,
			struct bmap_err *err);
	void (*close)(void *state);
};

/* gzip (codec/gzip-*.c): one module, both modes. */
int gzip_stream_open(struct codec_input *in, unsigned threads,
		     const struct codec_stream_ops **ops, void **state,
		     struct bmap_err *err);
extern const struct codec_seek_ops gzip_seek_ops;

/*
 * Decoders that are faster than libarchive's for their format. Each takes
 * the input positioned at the start of the compressed data (it does not
 * own it: the caller closes it after the decoder) and at most `threads`
 * threads (>= 1). On success *ops and *state are set.
 */
int bz2_stream_open(struct codec_input *in, unsigned threads,
		    const struct codec_stream_ops **ops, void **state,
		    struct bmap_err *err);
int lzop_stream_open(struct codec_input *in, unsigned threads,
		  const struct codec_stream_ops **ops, void **state,
		  struct bmap_err *err);
/* zstd (zstd.c): libzstd, frame after frame. */
int zstd_stream_open(struct codec_input *in, unsigned threads,
		     const struct codec_stream_ops **ops, void **state,
		     struct bmap_err *err);
/* libarchive as the lz4 decompression filter: the decompressed bytes as
 * they are. */
int archive_filter_open(struct codec_input *in, unsigned threads,
		    const struct codec_stream_ops **ops, void **state,
		    struct bmap_err *err);
/* libarchive reading a tar or zip archive out of the bytes an upstream
 * decoder produces, yielding the first regular file in it that is not a
 * .bmap. Takes over the upstream: closing this closes it. */
int archive_container_open(const struct codec_stream_ops *up_ops, void *up_state,
		       const struct codec_stream_ops **ops, void **state,
		       struct bmap_err *err);

/* ------------------------------------------------------------------ */
/* The formats: one table (registry.c)                                 */

typedef int (*codec_stream_open_fn)(struct codec_input *in, unsigned threads,
				    const struct codec_stream_ops **ops,
				    void **state, struct bmap_err *err);

struct codec_seek_ops;

struct codec {
	const char *name;		/* "gzip", ..., "raw" */
	/* Whether the first len bytes of an input are of this format. */
	bool (*probe)(const unsigned char *head, size_t len);
	/* The STREAM decoder; NULL: the input's bytes as they are (raw,
	 * and a zip archive, which the container reads). */
	codec_stream_open_fn stream_open;
	/* The SEEK decoder; NULL: the format has no seek points. */
	const struct codec_seek_ops *seek;
};

/* The format of an input from its first len bytes (at most
 * CODEC_HEAD_MAX are looked at): never NULL, codec_raw at worst. */
const struct codec *codec_find(const unsigned char *head, size_t len);
extern const struct codec codec_raw;
extern const struct codec codec_zip;

/* The one archive detector: whether decoded bytes starting with these
 * len bytes are a tar or zip archive (the image is a file inside). */
bool codec_is_tar(const unsigned char *head, size_t len);
bool codec_is_archive(const unsigned char *head, size_t len);

/* The one error rule: -EIO "truncated FMT data", and -EBADMSG "corrupt
 * FMT data: WHY" (printf-style), each with the message in err. */
int codec_truncated(struct bmap_err *err, const char *fmt);
int codec_corrupt(struct bmap_err *err, const char *fmt, const char *why,
		  ...) __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------ */
/* SEEK decoders                                                       */

struct codec_seek_ops {
	const char *name;	/* "gzip", "bzip2", "xz", "zstd" */
	/*
	 * Look at the compressed file: fd is open for reading and seekable
	 * (the caller owns it and keeps it open until close; use pread
	 * only, as cursors on several threads share it), file_size its
	 * size. Return 0 and set *fmt when this format applies and the file
	 * has (or, as it is decoded, will have) more than one seek point;
	 * -ENOTSUP when the file is not of this format, or is but cannot be
	 * sought in (the engine then decodes it sequentially); any other
	 * -errno, with a message in err, when it is of this format and
	 * broken in a way found already.
	 * Work done here must stay small (the mount is usable at once): no
	 * decoding of the whole file.
	 */
	int (*open)(int fd, uint64_t file_size, unsigned threads, void **fmt,
		    struct bmap_err *err);
	/* The image's size when the format's index tells it,
	 * else BMAP_SIZE_UNKNOWN. */
	uint64_t (*size)(void *fmt);
	/* Offset in the image of the last seek point at or before off that
	 * is known now (0 at worst): where cursor_open(off) would start. */
	uint64_t (*point)(void *fmt, uint64_t off);
	/*
	 * Optional: forget the seek point at image offset off (exactly a
	 * *start that cursor_open gave), for example because bytes decoded
	 * from it failed their checksum: point() and cursor_open() never use
	 * it again, later cursors start from an earlier point, and may learn
	 * a correct point there again as they decode past it. The point at
	 * 0 (the start of the stream) is never dropped; an offset that is no
	 * point is ignored. Called from any thread.
	 */
	void (*drop_point)(void *fmt, uint64_t off);
	/*
	 * A new cursor whose first byte is at *start, the last seek point at
	 * or before off (it may find new seek points to get there, but must
	 * not cost a decode from the start when a point is known). Called
	 * from several threads at once: the format locks what it shares.
	 */
	int (*cursor_open)(void *fmt, uint64_t off, void **cur,
			   uint64_t *start, struct bmap_err *err);
	/* The next bytes: up to len, 0 only at the end of the image, -errno
	 * (-EIO or -EBADMSG for corrupt data, with a message) on failure.
	 * One thread at a time per cursor. Cursors record seek points they
	 * pass (under the format's lock) so later cursor_opens use them. */
	ssize_t (*cursor_read)(void *cur, void *buf, size_t len,
			       struct bmap_err *err);
	void (*cursor_close)(void *cur);
	/* Seek points learnt so far, appended as bytes to out (the engine
	 * stores them in the index folder with a header naming the file),
	 * and read back by load on a later mount: load checks what it
	 * reads (-EINVAL if it does not fit the file) and never trusts it
	 * blindly. Both may be NULL: nothing to keep. */
	int (*save)(void *fmt, struct strbuf *out);
	/*
	 * Optional: the image size the bmap gives, told once after open
	 * (and before load) only when every byte read is checked against a
	 * checksum. bzip2 places blocks counted back from it. It may be
	 * wrong (a bmap may give more than the file holds): a block placed
	 * by it that fails its check is dropped with drop_point, and that
	 * drops every block placed from the end, for good.
	 */
	void (*hint_size)(void *fmt, uint64_t size);
	int (*load)(void *fmt, const void *buf, size_t len,
		    struct bmap_err *err);
	void (*close)(void *fmt);
};

/* Exactly len bytes of the compressed file at off: -errno "cannot read
 * the <what> file: ...", or -EIO "truncated <what> data" when the file
 * ends first (codec_truncated). */
int codec_pread(int fd, void *buf, size_t len, uint64_t off,
		 const char *what, struct bmap_err *err);

/* plain.c: decoding from the start with bmap_source (ra_seq_open
 * makes its fmt from the image's path), and a plain image (its fmt is a
 * pointer to the engine's descriptor). */
extern const struct codec_seek_ops ra_seq_ops;
extern const struct codec_seek_ops ra_raw_ops;
int ra_seq_open(const char *path, unsigned threads, void **fmt,
		struct bmap_err *err);

extern const struct codec_seek_ops bz2_seek_ops;
extern const struct codec_seek_ops zstd_seek_ops;	/* zstd-seek.c */

/* xz, one module (xz.h and xz*.c): its magic, its STREAM decoder
 * (liblzma's threaded decoder) and its SEEK decoder (the index at the
 * end of the file, blocks decoded one ahead on a worker). */
bool xz_probe(const unsigned char *head, size_t len);
int xz_stream_open(struct codec_input *in, unsigned threads,
		   const struct codec_stream_ops **ops, void **state,
		   struct bmap_err *err);
extern const struct codec_seek_ops xz_seek_ops;
/* For tests: decode at most max bytes ahead at a time in xz cursors. */
void xz_test_ahead_max(void *fmt, size_t max);

#endif
