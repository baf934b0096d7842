/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xz.h - the xz module, inside the codec layer: what its STREAM side
 * (xz-stream.c: liblzma's threaded stream decoder, from the start) and its
 * SEEK side (xz-seek.c: the index at the end of the file, and a block
 * decoder from any block's start, xz-block.c, with a worker decoding the
 * next block ahead, xz-ahead.c) share (xz.c): the magic, the decoder's
 * options, and the one mapping from liblzma's answers to the codec error
 * rule. Both sides say the same thing about the same damage.
 */
#ifndef BMAP_CODEC_XZ_H
#define BMAP_CODEC_XZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <lzma.h>

#include "bmap.h"
#include "codec/codec.h"

/* ------------------------------------------------------------------ */
/* Shared (xz.c)                                                       */

/* An xz stream starts with these bytes (xz_probe, codec.h, looks for
 * them). */
#define XZ_MAGIC_LEN 6
extern const unsigned char xz_magic[XZ_MAGIC_LEN];

/* The options of the stream decoder (threads clamped to 1..XZ_THREADS_MAX;
 * one thread: liblzma's single-threaded decoder). */
void xz_options(lzma_mt *mt, unsigned threads);

/* Whether every integrity check named in the mask (lzma_index_checks)
 * can be verified; the stream decoder refuses the data otherwise. */
bool xz_checks_supported(uint32_t checks);

/*
 * The one mapping from what liblzma says to the codec error rule:
 * LZMA_BUF_ERROR (the input ended in the middle) is -EIO "truncated xz
 * data"; LZMA_DATA_ERROR, LZMA_FORMAT_ERROR, LZMA_OPTIONS_ERROR and
 * LZMA_UNSUPPORTED_CHECK are -EBADMSG "corrupt xz data: ..."; running out
 * of memory is -ENOMEM. The message goes to err.
 */
int xz_error(lzma_ret ret, struct bmap_err *err);

/* The index, read by the SEEK side at open, may take this much memory at
 * most (a block costs a few dozen bytes of it): more is refused there,
 * and the file is decoded from the start. */
#define XZ_INDEX_MEMLIMIT (256ull * 1024 * 1024)

/* ------------------------------------------------------------------ */
/* A block decoder (xz-block.c)                                        */

/* Compressed input is read in pieces of this size. */
#define XZ_BLOCK_CHUNK (128 * 1024)

/* One block of a seekable file at a time, found by the index: the block
 * of `it` (set before xz_block_start). */
struct xz_block {
	int fd;			/* the file, read with pread only */
	lzma_index_iter it;	/* the block being decoded */
	lzma_stream strm;	/* its block decoder, reused block to block */
	lzma_block block;	/* which that decoder keeps a pointer to */
	uint64_t in_pos;	/* file offset of the next input to read */
	uint64_t in_left;	/* input of the block not read yet */
	unsigned char buf[XZ_BLOCK_CHUNK];
};

void xz_block_init(struct xz_block *d, int fd);
/* Read and decode the header of the block of d->it, check it against the
 * index and set the decoder up for the block. */
int xz_block_start(struct xz_block *d, struct bmap_err *err);
/* One call to the decoder with out[0..len) to decode into: *got bytes
 * made, *done set once the block is over (all of it used, its check and
 * sizes right). 0, or -errno. */
int xz_block_code(struct xz_block *d, unsigned char *out, size_t len,
		  size_t *got, bool *done, struct bmap_err *err);
void xz_block_end(struct xz_block *d);

/* ------------------------------------------------------------------ */
/* Decoding the next block ahead on a worker thread (xz-ahead.c)      */

/* The most output of one call to liblzma on the worker, so that it sees
 * a stop, and hands out what it made, soon enough. */
#define XZ_AHEAD_STEP (1024 * 1024)
/* The most a cursor decodes ahead: a larger block goes in pieces. */
#define XZ_AHEAD_MAX (64u * 1024 * 1024)

struct xz_ahead;

/* A worker with a block decoder of its own on fd: NULL when none can be
 * had (the cursor then decodes every block itself). */
struct xz_ahead *xz_ahead_new(int fd);
/* Give it the block of it to decode, in pieces of at most max bytes
 * (each waits for the one before it to be read). The worker must be idle
 * (a new one, or one whose block was read to its end). false when no
 * buffer can be had: the block is not given. */
bool xz_ahead_post(struct xz_ahead *ah, const lzma_index_iter *it,
		   size_t max);
/* The next bytes of that block as they come: up to len, 0 at its end
 * (the worker is then idle), or its error once every byte before it was
 * read (and again on every later call). */
ssize_t xz_ahead_read(struct xz_ahead *ah, void *buf, size_t len,
		      struct bmap_err *err);
/* Tell the worker to stop (a flag it looks at between two calls to
 * liblzma), join it and free everything. */
void xz_ahead_free(struct xz_ahead *ah);

#endif
