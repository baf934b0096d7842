/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * zstd.h - the insides of the zstd module, shared by its STREAM side
 * (zstd.c: from the start of the input, a file or a pipe) and its SEEK
 * side (zstd-seek.c: from the start of any frame of a file, the frames
 * found by zstd-walk.c).
 *
 * Both run the same decoder (struct zstd_dec): libzstd's streaming
 * decoder, frame after frame, skippable frames skipped, content
 * checksums checked where a frame has one, and one rule for what may
 * follow the last frame:
 *
 *  - the end of the input;
 *  - zero bytes up to the end of the input (padding to a block, as after
 *    gzip members and bzip2 streams), which are accepted;
 *  - the first 1 to 3 bytes of a frame's magic: the input was cut short
 *    there, -EIO "truncated zstd data";
 *  - anything else: -EBADMSG "corrupt zstd data: trailing garbage at
 *    offset N".
 *
 * A frame cut short is -EIO "truncated zstd data"; a frame libzstd
 * refuses is -EBADMSG "corrupt zstd data: <libzstd's reason>". A decoder
 * that failed keeps failing (the bytes decoded before the failure are
 * returned first). So bmapcopy and bmapfs give the same error, at the
 * same place, for the same file.
 */
#ifndef BMAP_CODEC_ZSTD_H
#define BMAP_CODEC_ZSTD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <pthread.h>

#include "bmap.h"

#define ZST_MAGIC 0xFD2FB528u
#define ZST_SKIP_MAGIC 0x184D2A50u	/* 16 values: & ZST_SKIP_MASK */
#define ZST_SKIP_MASK 0xfffffff0u

uint32_t zstd_le32(const unsigned char *p);
/* Whether the 4 bytes at p start a zstd frame or a skippable frame. */
bool zstd_is_frame(const unsigned char *p);
bool zstd_is_skippable(const unsigned char *p);

/* Where the compressed bytes come from: up to len bytes, 0 at the end
 * of the input, -errno (with a message in err) on failure. */
typedef ssize_t (*zstd_fill_fn)(void *src, void *buf, size_t len,
				struct bmap_err *err);
/* A zstd frame (not a skippable one) ended: it started at coff in the
 * input and ended just before cend, and made `produced` bytes. 0, or a
 * -errno with a message that fails the decoder. */
typedef int (*zstd_frame_fn)(void *arg, uint64_t coff, uint64_t cend,
			     uint64_t produced, struct bmap_err *err);

struct zstd_dec {
	struct ZSTD_DCtx_s *dctx;
	zstd_fill_fn fill;
	void *src;
	zstd_frame_fn frame_end;	/* may be NULL */
	void *arg;
	unsigned char *buf;
	size_t cap;		/* of buf */
	size_t len, pos;	/* bytes in buf, of which used */
	uint64_t raw;		/* offset in the input of buf[0] */
	bool eof;		/* fill said the input has ended */
	bool between;		/* at a frame boundary */
	bool skipping;		/* in a skippable frame */
	bool done;		/* the data ended as it should */
	uint64_t coff;		/* where the current frame started */
	uint64_t produced;	/* bytes the current frame made so far */
	size_t hsize;		/* its header's size, until libzstd has it */
	bool pending;		/* libzstd may hold decoded bytes back */
	int failed;		/* the first failure, kept */
	struct bmap_err ferr;
};

/* A decoder reading from fill(src) whose first byte is at offset raw of
 * the input and starts a frame (or a skippable frame); in pieces of cap
 * bytes. 0 or -ENOMEM. */
int zstd_dec_init(struct zstd_dec *d, zstd_fill_fn fill, void *src,
		  uint64_t raw, size_t cap, struct bmap_err *err);
/* Up to len decoded bytes; 0 only at the end of the data, after the
 * rule above has passed; -EIO or -EBADMSG with a message (and the same
 * again on every later call). */
ssize_t zstd_dec_read(struct zstd_dec *d, void *buf, size_t len,
		      struct bmap_err *err);
/* Offset in the input of the next byte not yet used. */
static inline uint64_t zstd_dec_pos(const struct zstd_dec *d)
{
	return d->raw + d->pos;
}
void zstd_dec_free(struct zstd_dec *d);

/* ------------------------------------------------------------------ */
/* SEEK (zstd-seek.c; the frames found by zstd-walk.c)                 */

#define ZST_UNKNOWN UINT64_MAX

struct zstd_frame {
	uint64_t coff;		/* where it starts in the file */
	uint64_t clen;		/* its compressed length, checksum included */
	uint64_t dsize;		/* decompressed length, or ZST_UNKNOWN */
	uint64_t dmax;		/* what its blocks can hold at most, or
				 * ZST_UNKNOWN (frames from a seek table) */
	bool dropped;		/* no cursor starts here (drop_point) */
};

struct zstd_seek {
	int fd;
	uint64_t file_size;
	/* fr[0 .. n-1]: the frames; fr[n]: the tail (clen 0 when there is
	 * none); coff, clen, dmax read-only after open. */
	struct zstd_frame *fr;
	size_t n;
	size_t npoints;		/* n, and 1 for a tail */
	bool tail_clean;	/* no tail, or zero bytes only */
	pthread_mutex_t lock;	/* for fr[].dsize, .dropped, ustart, known,
				 * end */
	uint64_t *ustart;	/* n + 1: where each frame starts in the
				 * image, then the tail */
	size_t known;		/* ustart[0 .. known - 1] are known */
	uint64_t end;		/* the image's size, or ZST_UNKNOWN */
};

/*
 * The frames of z's file (z->fd, z->file_size): from the seek table at its
 * end when it has one that fits (only when the file starts with a frame,
 * `table`), else by walking them. Sets z->fr (with the tail, see
 * zstd-seek.c, at z->fr[z->n]), z->n and z->tail_clean. 0 or -errno (the
 * file cannot be read, out of memory): a file whose frames are broken is
 * no failure here.
 */
int zstd_frames_find(struct zstd_seek *z, bool table, struct bmap_err *err);

#endif
