/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bz2-scan.h - bzip2 at the bit level: cutting the compressed input at
 * every block and end-of-stream magic (at any bit offset), wrapping a run
 * of bits as a stand-alone single-block stream, and decoding that with
 * libbz2. A magic may also occur by chance inside a block: the cuts are
 * candidates, which decoding confirms.
 */
#ifndef BMAP_BZ2_SCAN_H
#define BMAP_BZ2_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <bzlib.h>

#define BZ2_MAGIC_BLOCK 0x314159265359ull
#define BZ2_MAGIC_EOS   0x177245385090ull

/* Raw bytes kept from the byte holding a cut onwards: enough for an
 * end-of-stream magic, its CRC, the padding and the next stream header. */
#define BZ2_LOOK 16

/* The longest a block written by any real encoder can be, in bits, for a
 * stream header's level digit: a symbol of at most 20 bits per byte of
 * the block plus one, headers, selectors and code tables. */
#define BZ2_BLOCK_BITS_MAX(level) (2000020ull * (level) + 300000ull)

enum bz2_cut_kind {
	BZ2_CUT_START,	/* the start of the input (a stream header) */
	BZ2_CUT_BLOCK,	/* a block magic */
	BZ2_CUT_EOS,	/* an end-of-stream magic */
	BZ2_CUT_END,	/* the end of the input, or scanning stopped */
};

struct bz2_cut {
	enum bz2_cut_kind kind;
	uint64_t pos;		/* bit offset in the input */
	unsigned level;		/* level digit of the stream it seems in */
	unsigned char look[BZ2_LOOK];	/* input bytes from pos / 8 on */
	size_t looklen;		/* fewer than BZ2_LOOK at the input's end */
	int err;		/* END: a read error (-errno), else 0 */
	bool oversize;		/* END: no cut within BZ2_BLOCK_BITS_MAX(9) */
};

/* The 32 bits after a cut's magic: the block CRC, or the stream's
 * combined CRC. Only valid when the look bytes hold them. */
uint32_t bz2_cut_crc(const struct bz2_cut *cut);
/* Whether the look bytes hold those 32 bits. */
bool bz2_cut_has_crc(const struct bz2_cut *cut);

/* A run of bits, kept from bit 32 of buf on: the room for a stream
 * header, so that a block's bits need no second copy to be decoded. */
struct bz2_bits {
	unsigned char *buf;
	size_t cap;
	uint64_t nbits;		/* bits held after the 32 bits of room */
};

/* Append n bits of src, from bit sbit on (src must be readable for 8
 * bytes past the last bit). */
int bz2_bits_append(struct bz2_bits *b, const unsigned char *src,
		    uint64_t sbit, uint64_t n);
/* Make the bits a whole stream: "BZh<level>" before them, an
 * end-of-stream magic and crc after. *len is the stream's size, and
 * *boundary the bytes a decoder has taken when it has read exactly the
 * bits held (its block ends at the end of the bits). */
int bz2_bits_wrap(struct bz2_bits *b, unsigned level, uint32_t crc,
		  size_t *len, size_t *boundary);
/* Only write the header (room for it is always there once bits are). */
void bz2_bits_header(struct bz2_bits *b, unsigned level);
/* Whether the bits held from bit `from` (0: the first held) on are all
 * zero. */
bool bz2_bits_zero(const struct bz2_bits *b, uint64_t from);
void bz2_bits_free(struct bz2_bits *b);

/* Decoding a block wrapped as a stand-alone stream. */
enum bz2_att {
	BZ2_ATT_MORE,	/* output produced; more to come */
	BZ2_ATT_DONE,	/* the block is decoded and verified */
	BZ2_ATT_RETRY,	/* failed before any output: maybe a false cut */
	BZ2_ATT_BAD,	/* failed after output: corrupt */
	BZ2_ATT_NOMEM,
};

struct bz2_attempt {
	bz_stream strm;
	bool live;
	bool committed;		/* output was produced */
	size_t boundary;	/* input taken when the block ends at its cut */
};

/* Start on a stream of len bytes (from bz2_bits_wrap, as is boundary). */
int bz2_attempt_start(struct bz2_attempt *a, unsigned char *in, size_t len,
		      size_t boundary);
/* Decode into out; *produced bytes. */
int bz2_attempt_step(struct bz2_attempt *a, void *out, size_t len,
		     size_t *produced);
void bz2_attempt_end(struct bz2_attempt *a);

/* Reads raw input: bytes, 0 at the end, -errno. */
typedef ssize_t (*bz2_read_fn)(void *ctx, void *buf, size_t len);

struct bz2_scan {
	bz2_read_fn read;
	void *ctx;
	unsigned char *buf;	/* input bytes from `base` on */
	size_t len;		/* bytes in buf */
	size_t next;		/* buf index of the next word to look at */
	uint64_t base;		/* input offset of buf[0] (even) */
	uint64_t from;		/* bit offset of the last cut */
	bool eof;
	unsigned level;
	struct bz2_cut hits[32];	/* cuts found, not yet handed out */
	unsigned nhits, hitpos;
	uint64_t bitmap[1024];	/* 16-bit values inside a magic */
	/* After an END cut for `oversize`: the input bytes read but not
	 * handed out, from the byte holding the cut on. The rest of the
	 * input is not read. */
	const unsigned char *rest;
	size_t restlen;
};

/* Read the start of the input; *first describes it (a START cut). */
int bz2_scan_init(struct bz2_scan *s, bz2_read_fn read, void *ctx,
		  struct bz2_cut *first);
/* Append to seg the bits from the last cut to the next one, which *next
 * describes. After an END cut there are no more. */
int bz2_scan_next(struct bz2_scan *s, struct bz2_bits *seg,
		  struct bz2_cut *next);
void bz2_scan_free(struct bz2_scan *s);

/*
 * Only the search, over bytes in memory: call found(ctx, kind, bit) for
 * every magic (kind BZ2_CUT_BLOCK or BZ2_CUT_EOS) that starts at a bit in
 * [lo, hi) and lies wholly in p[0..len), in increasing order of bit. p is
 * readable for 8 bytes past len. A non-zero return of found stops the
 * search and is returned.
 */
typedef int (*bz2_found_fn)(void *ctx, enum bz2_cut_kind kind, uint64_t bit);
int bz2_find_magics(const unsigned char *p, size_t len, uint64_t lo,
		    uint64_t hi, bz2_found_fn found, void *ctx);

#endif
