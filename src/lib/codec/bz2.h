/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bz2.h - the bzip2 codec module's own header (not for other modules).
 *
 * bzip2 is read as independent blocks. The scanner (bz2-scan.c) cuts the
 * compressed input at every block and end-of-stream magic, at any bit
 * offset; a magic may also occur by chance inside a block, so the cuts
 * are candidates which decoding confirms. The block core (bz2-block.c)
 * wraps a run of bits as a stand-alone single-block stream and decodes it
 * with libbz2 (which checks the block CRC), and holds the one way a
 * false cut is found out (bz2_block_join). Both modes are built on them:
 * STREAM (bz2-stream.c, for bmapcopy) and SEEK (bz2-seek.c and the files
 * it names, for bmapfs).
 *
 * Errors follow the codec rule: -EIO "truncated bzip2 data", -EBADMSG
 * "corrupt bzip2 data: ...".
 */
#ifndef BMAP_CODEC_BZ2_H
#define BMAP_CODEC_BZ2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <bzlib.h>

#include "bmap.h"

#define BZ2_MAGIC_BLOCK 0x314159265359ull
#define BZ2_MAGIC_EOS   0x177245385090ull

/* Raw bytes kept from the byte holding a cut onwards: enough for an
 * end-of-stream magic, its CRC, the padding and the next stream header. */
#define BZ2_LOOK 16

/* The longest a block written by any real encoder can be, in bits, for a
 * stream header's level digit: a symbol of at most 20 bits per byte of
 * the block plus one, headers, selectors and code tables. */
#define BZ2_BLOCK_BITS_MAX(level) (2000020ull * (level) + 300000ull)

/* ------------------------------------------------------------------ */
/* Errors and small things (bz2-block.c)                               */

int bz2_err_nomem(struct bmap_err *err);
int bz2_err_truncated(struct bmap_err *err);
/* -EBADMSG "corrupt bzip2 data: WHAT (at byte BIT / 8)". */
int bz2_err_corrupt(struct bmap_err *err, const char *what, uint64_t bit);
int bz2_err_garbage(struct bmap_err *err);
/* ret (-errno) reading the input: "cannot read the image: ...". */
int bz2_err_read(struct bmap_err *err, int ret);

/* A stream header's level digit, or 0. */
unsigned bz2_header_level(const unsigned char *h, size_t n);
/* n bytes that are not a whole header, but the start of one. */
bool bz2_header_prefix(const unsigned char *h, size_t n);
/* A stream's CRC from its blocks' CRCs, one block at a time. */
static inline uint32_t bz2_combine_crc(uint32_t combined, uint32_t block)
{
	return (combined << 1 | combined >> 31) ^ block;
}
bool bz2_all_zero(const unsigned char *p, size_t n);
/* 8 bytes, big-endian. */
static inline uint64_t bz2_load_be64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* ------------------------------------------------------------------ */
/* Cuts (bz2-scan.c)                                                   */

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

/* ------------------------------------------------------------------ */
/* Runs of bits and decoding one block (bz2-block.c)                   */

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
enum bz2_att bz2_attempt_start(struct bz2_attempt *a, unsigned char *in,
			       size_t len, size_t boundary);
/* Start on the block held in b (wrapping it). */
enum bz2_att bz2_attempt_bits(struct bz2_attempt *a, struct bz2_bits *b,
			      unsigned level, uint32_t crc);
/* Decode into out; *produced bytes. */
enum bz2_att bz2_attempt_step(struct bz2_attempt *a, void *out, size_t len,
			      size_t *produced);
void bz2_attempt_end(struct bz2_attempt *a);

/*
 * The one way a false cut is found out. A block whose decode failed at
 * its next cut (or whose CRC did not match) may have been cut short at a
 * magic inside it: its bits are joined with the next candidate's, and
 * the next, until libbz2 reaches the block's end-of-block symbol (it
 * takes input only as it needs it, so that is linear however many false
 * cuts there are); the candidate in the last byte it took is the block's
 * end, confirmed by a whole decode that checks the block CRC. No limit
 * but the format's: past BZ2_BLOCK_BITS_MAX(level) bits it fails with
 * "corrupt bzip2 data".
 */
struct bz2_more {
	/* Append to bits the bits from the last candidate cut to the next
	 * one: 1 with the next one's place (*pos), and the kind of the
	 * candidate now inside the joined bits (*kind); 0 at the end of the
	 * input (the bits up to it appended; *kind as for 1); -errno with a
	 * message in err. */
	int (*next)(void *ctx, struct bz2_bits *bits, uint64_t *pos,
		    enum bz2_cut_kind *kind, struct bmap_err *err);
	void *ctx;
};

struct bz2_joined {
	uint64_t end;		/* the cut where the block ends */
	uint64_t len;		/* its output */
	bool zero;		/* which is all zero bytes */
};

/* bits: the block at bit `from` up to its first candidate cut (its CRC
 * crc, its stream's level). 0 and *out, bits then holding the block's
 * bits exactly; or -EIO (the input ends first), -EBADMSG, -ENOMEM, or
 * what more->next gave. */
int bz2_block_join(struct bz2_bits *bits, uint64_t from, unsigned level,
		   uint32_t crc, const struct bz2_more *more,
		   struct bz2_joined *out, struct bmap_err *err);

/* ------------------------------------------------------------------ */
/* The scanner (bz2-scan.c)                                            */

/* Reads raw input: bytes, 0 at the end, -errno. */
typedef ssize_t (*bz2_read_fn)(void *ctx, void *buf, size_t len);

#define BZ2_SCAN_HITS 32

struct bz2_scan {
	bz2_read_fn read;
	void *ctx;
	unsigned char *buf;	/* input bytes from `base` on */
	size_t len;		/* bytes in buf */
	uint64_t base;		/* input offset of buf[0] */
	uint64_t scanned;	/* bits before this one are searched */
	uint64_t from;		/* bit offset of the last cut */
	bool eof;
	unsigned level;
	struct bz2_cut hits[BZ2_SCAN_HITS];	/* found, not handed out */
	unsigned nhits, hitpos;
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
 * Only the search, over bytes in memory (p[0] is byte `base` of the
 * input): call found(ctx, kind, bit) for every magic (kind BZ2_CUT_BLOCK
 * or BZ2_CUT_EOS) that starts at a bit of p in [lo, hi) and lies wholly
 * in p[0..len), in increasing order of bit. p is readable for 8 bytes
 * past len. A non-zero return of found stops the search and is returned.
 */
typedef int (*bz2_found_fn)(void *ctx, enum bz2_cut_kind kind, uint64_t bit);
int bz2_find_magics(const unsigned char *p, size_t len, uint64_t base,
		    uint64_t lo, uint64_t hi, bz2_found_fn found, void *ctx);

/*
 * For tests only: when the environment variable BMAP_TEST_BZ2_FALSE_CUTS
 * is a number N > 0, the search also reports a false block magic at every
 * multiple of N bits of the input (past the first block's magic, and away
 * from real magics), as if the magic occurred there by chance. Both modes
 * must still decode the input right (only slower).
 */

#endif
