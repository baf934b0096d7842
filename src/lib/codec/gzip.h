/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * gzip.h - the gzip codec's insides, shared by its parts (nothing
 * outside codec/gzip-*.c and the tests includes this):
 *
 *   gzip-member.c  the member format, for both modes: THE header parser,
 *                  the trailer check (CRC-32, ISIZE), what may follow a
 *                  member, the one ISA-L step, and every error message.
 *   gzip-stream.c  STREAM (bmapcopy): ISA-L from the start.
 *   gzip-seek.c    SEEK (bmapfs): the seek point table, its saving and
 *                  loading (codec/seekidx.h).
 *   gzip-cursor.c  SEEK cursors: zlib at the frontier recording points,
 *                  ISA-L behind the last one.
 *
 * What a gzip file may hold, the same in both modes: one or more members
 * (each header parsed whole, FHCRC checked, reserved flags refused; each
 * trailer's CRC-32 and ISIZE checked); after the last member, nothing,
 * or zero bytes up to the end of the file (padding to a block, as gzip
 * -d and gzip -t take it); anything else after a member, or after the
 * padding, is trailing garbage: -EBADMSG "corrupt gzip data: trailing
 * garbage after the last member". Truncation anywhere is -EIO
 * "truncated gzip data"; every other fault is -EBADMSG "corrupt gzip
 * data: ...", with the same words whichever engine (zlib or ISA-L) met
 * it. A decoder that failed keeps failing with the same error.
 */
#ifndef BMAP_CODEC_GZIP_H
#define BMAP_CODEC_GZIP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <isa-l/igzip_lib.h>

#include "codec/codec.h"

#define GZIP_WIN 32768u		/* deflate's window */
#define GZIP_OUT_MAX (1u << 30)	/* zlib and ISA-L count output in 32 bits */

/* ---- gzip-member.c ---- */

/* Compressed bytes at hand. */
struct gzip_in {
	const unsigned char *next;
	size_t avail;
	bool eof;		/* nothing follows these bytes */
};

/* A member header being parsed, fed as its bytes come. */
struct gzip_hdr {
	unsigned step;		/* the field being read */
	bool first;		/* the file's first member */
	unsigned char fixed[10];
	unsigned have;		/* bytes of fixed[], or of FEXTRA's length */
	unsigned flags;
	uint32_t left;		/* bytes of FEXTRA still to skip */
	uint32_t crc;		/* of the header so far, for FHCRC */
};

/* A member trailer being gathered. */
struct gzip_trl {
	unsigned char b[8];
	unsigned have;
};

/* A failure, kept: the decoder gives it again on every later read. */
struct gzip_fail {
	int code;		/* 0: not failed; else the -errno */
	char msg[BMAP_ERR_MAX];
};

/* Start parsing a header (first: at the file's start, where the file's
 * magic was already checked; later, a bad magic is trailing garbage). */
void gzip_hdr_init(struct gzip_hdr *h, bool first);
/* Feed it bytes: 1 when the header is whole (in->next is at the deflate
 * data), 0 when in is used up and more may come, <0 on error. */
int gzip_hdr_feed(struct gzip_hdr *h, struct gzip_in *in,
		  struct bmap_err *err);

/* Gather the trailer and check it against the member's CRC-32 and
 * length: 1 when it matches, 0 when more bytes are needed, <0. */
int gzip_trl_feed(struct gzip_trl *t, struct gzip_in *in, uint32_t crc,
		  uint64_t len, struct bmap_err *err);

/* What follows a member. */
/* Where a decoder is in the stream of members (both modes). */
enum gzip_phase {
	GZIP_P_HEADER,		/* reading a member's header */
	GZIP_P_BODY,		/* inflating its deflate data */
	GZIP_P_TRAILER,		/* checking its CRC-32 and ISIZE */
	GZIP_P_NEXT,		/* after a member: another, padding or end */
	GZIP_P_PAD,		/* zero bytes up to the end */
	GZIP_P_END,		/* every member decoded and checked */
};

enum gzip_next {
	GZIP_NEXT_MORE,		/* no bytes at hand yet: feed more */
	GZIP_NEXT_END,		/* the end of the file */
	GZIP_NEXT_PAD,		/* a zero byte: padding to the end */
	GZIP_NEXT_MEMBER,	/* anything else: a header (or garbage) */
};
enum gzip_next gzip_next(const struct gzip_in *in);
/* Padding: 1 once the file ended in zero bytes only, 0 when more may
 * come, -EBADMSG (trailing garbage) at a byte that is not zero. */
int gzip_pad_feed(struct gzip_in *in, struct bmap_err *err);

/* The one ISA-L step (raw deflate; both modes): inflate from in into
 * out (len bytes), *done the bytes made, *crc updated over them. 1 when
 * the member's deflate data ended (the bytes ISA-L holds past it are
 * already in trl), 0 to call again (with more input when in is empty),
 * <0 on error. *stalls counts calls in a row that moved nothing. */
int gzip_isal_step(struct inflate_state *st, struct gzip_in *in,
		   unsigned char *out, size_t len, size_t *done,
		   uint32_t *crc, struct gzip_trl *trl, unsigned *stalls,
		   struct bmap_err *err);
/* A decoder call moved nothing although it had room: an error at the
 * end of the input (truncated) or at the second time in a row. */
int gzip_stalled(const struct gzip_in *in, unsigned *stalls,
		 struct bmap_err *err);

/* The errors both modes give. */
int gzip_err_garbage(struct bmap_err *err);
int gzip_err_deflate(struct bmap_err *err);
int gzip_err_zlib(int zret, struct bmap_err *err);
int gzip_err_read(int ret, struct bmap_err *err);

/* Keep a failure (returns ret), and give it again. */
int gzip_fail_keep(struct gzip_fail *f, int ret, const struct bmap_err *err);
int gzip_fail_again(const struct gzip_fail *f, struct bmap_err *err);

/* ---- gzip-seek.c: the seek point table ---- */

/*
 * Output between recorded points. A cursor opened at a random offset
 * decodes half of this on average before its first useful byte (2 to
 * 8 ms with ISA-L or zlib), and a point costs at most a compressed window
 * (<= 32 KiB + 40 bytes): 4 MiB keeps the table under 1% of the image
 * even for incompressible windows, and opening cheap.
 */
#define GZIP_SPAN (4u << 20)
#define GZIP_WIN_LEVEL 6	/* compressed once, decompressed often */
/* Fields of a saved record (codec/seekidx.h): see gzip-seek.c. */
#define GZIP_IDX_FIELDS 7

struct gzip_point {
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

struct gzip_fmt {
	int fd;
	uint64_t file_size;
	pthread_mutex_t lock;	/* guards everything below */
	struct gzip_point *pts;	/* sorted by out, then by in; pts[0] = 0 */
	size_t npts, cap;
	uint64_t end;		/* the image size once a cursor saw it */
};

/* Callers hold f->lock. */
size_t gzip_find(const struct gzip_fmt *f, uint64_t off);
static inline const struct gzip_point *gzip_last(const struct gzip_fmt *f)
{
	return &f->pts[f->npts - 1];
}
int gzip_append(struct gzip_fmt *f, const struct gzip_point *p);
void gzip_free_points(struct gzip_point *pts, size_t n);

/* ---- gzip-cursor.c ---- */

int gzip_cursor_open(void *fmt, uint64_t off, void **cur, uint64_t *start,
		     struct bmap_err *err);
ssize_t gzip_cursor_read(void *cur, void *buf, size_t len,
			 struct bmap_err *err);
void gzip_cursor_close(void *cur);

#endif
