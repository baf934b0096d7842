/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * source.h - the image source's insides: the raw input and the decoders
 * that turn it into the image's bytes. bmap.h has the public side
 * (struct bmap_source).
 */
#ifndef BMAP_SOURCE_H
#define BMAP_SOURCE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bmap.h"

/* Bytes read from the start of the input to recognise its format. */
#define SRC_HEAD_MAX 512

/*
 * The raw input: a file descriptor (a file, a pipe, standard input), with
 * the bytes already taken to recognise the format served again first.
 */
struct src_input {
	int fd;
	unsigned char head[SRC_HEAD_MAX];
	size_t headlen;		/* bytes in head */
	size_t headpos;		/* of which already handed out */
	uint64_t consumed;	/* raw bytes handed out so far */
	int pollable;		/* a pipe or the like: reads may block */
	const volatile int *stop;	/* set: give up waiting, -EINTR */
};

/* Up to len raw bytes; 0 at the end of the input; -errno on failure.
 * Retries on EINTR, but a read that waits on a pipe gives up with -EINTR
 * once *stop is set. */
ssize_t src_input_read(struct src_input *in, void *buf, size_t len);

/* Padding after a compressed stream's data: whether the n bytes at p
 * (already taken from the input) and all the input still holds are zero
 * bytes. 0 when they are (the input is then read to its end), -EBADMSG
 * at the first byte that is not, -errno when reading fails. */
int src_input_rest_zero(struct src_input *in, const void *p, size_t n);

/*
 * A decoder turns the raw input into the image's bytes. Its read fills up
 * to len bytes (it may return fewer before the end); it returns 0 only at
 * the true end of the data, after every integrity check the format has
 * (CRCs, lengths, checksums, no trailing garbage) has passed; a negative
 * errno with a one-line message in err on any failure (corrupt or
 * truncated data: -EIO or -EBADMSG).
 */
struct src_decoder_ops {
	const char *name;	/* what it is: "gzip (ISA-L)", "xz", ... */
	ssize_t (*read)(void *state, void *buf, size_t len,
			struct bmap_err *err);
	void (*close)(void *state);
};

/*
 * Decoders that are faster than libarchive's for their format. Each takes
 * the input positioned at the start of the compressed data (it does not
 * own it: the caller closes it after the decoder) and at most `threads`
 * threads (>= 1). On success *ops and *state are set.
 */
int src_gzip_open(struct src_input *in, unsigned threads,
		  const struct src_decoder_ops **ops, void **state,
		  struct bmap_err *err);
int src_xz_open(struct src_input *in, unsigned threads,
		const struct src_decoder_ops **ops, void **state,
		struct bmap_err *err);
int src_bzip2_open(struct src_input *in, unsigned threads,
		   const struct src_decoder_ops **ops, void **state,
		   struct bmap_err *err);
int src_lzop_open(struct src_input *in, unsigned threads,
		  const struct src_decoder_ops **ops, void **state,
		  struct bmap_err *err);
/* libarchive as a decompression filter only (zstd, lz4, and any
 * other compression it knows): the decompressed bytes as they are. */
int src_filter_open(struct src_input *in, unsigned threads,
		    const struct src_decoder_ops **ops, void **state,
		    struct bmap_err *err);
/* libarchive reading a tar or zip archive out of the bytes an upstream
 * decoder produces, yielding the first regular file in it that is not a
 * .bmap. Takes over the upstream: closing this closes it. */
int src_container_open(const struct src_decoder_ops *up_ops, void *up_state,
		       const struct src_decoder_ops **ops, void **state,
		       struct bmap_err *err);

#endif
