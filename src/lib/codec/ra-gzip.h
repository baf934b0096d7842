/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ra-gzip.h - the gzip seek point table, shared by the cursors
 * (ra-gzip.c) and its saving and loading (ra-gzip-index.c).
 */
#ifndef BMAP_RA_GZIP_H
#define BMAP_RA_GZIP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"

/*
 * Output between recorded points. A cursor opened at a random offset
 * decodes half of this on average before its first useful byte (2 to
 * 8 ms with ISA-L or zlib), and a point costs at most a compressed window
 * (<= 32 KiB + 40 bytes): 4 MiB keeps the table under 1% of the image
 * even for incompressible windows, and opening cheap.
 */
#define GZ_SPAN (4u << 20)
#define GZ_WIN 32768u		/* deflate's window */
#define GZ_WIN_LEVEL 6		/* compressed once, decompressed often */
#define GZ_IN_CHUNK (256u * 1024)
#define GZ_OUT_MAX (1u << 30)	/* zlib counts avail_out in 32 bits */

struct gz_point {
	uint64_t out;		/* image offset */
	uint64_t in;		/* member: its header; block: next byte */
	uint64_t mstart;	/* image offset where the member began */
	unsigned char *win;	/* compressed window (block points) */
	uint32_t crc;		/* CRC-32 of the member's output so far */
	uint32_t wraw;		/* window length, decompressed */
	uint32_t wlen;		/* window length, compressed */
	uint8_t bits;		/* unused bits of byte in - 1 */
	bool member;		/* a member header starts at in */
};

struct gz_fmt {
	int fd;
	uint64_t file_size;
	pthread_mutex_t lock;	/* guards everything below */
	struct gz_point *pts;	/* sorted by out, then by in; pts[0] = 0 */
	size_t npts, cap;
	uint64_t end;		/* the image size once a cursor saw it */
};

void gz_free_points(struct gz_point *pts, size_t n);
int gz_save(void *fmt, struct strbuf *out);
int gz_load(void *fmt, const void *buf, size_t len, struct bmap_err *err);

#endif
