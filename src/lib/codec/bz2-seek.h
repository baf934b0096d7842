/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bz2-seek.h - the bzip2 SEEK decoder's own parts (bmapfs): the table of
 * candidate cuts of the whole file (bz2-table.c), blocks decoded for
 * their length (bz2-resolve.c), cursors (bz2-seek.c), the read-ahead
 * worker (bz2-ahead.c) and saved seek points (bz2-index.c).
 */
#ifndef BMAP_CODEC_BZ2_SEEK_H
#define BMAP_CODEC_BZ2_SEEK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/strbuf.h"
#include "codec/bz2.h"
#include "codec/codec.h"
#include "codec/bz2-ahead.h"

#define UNKNOWN UINT64_MAX
#define NOLEN UINT32_MAX
#define SCAN_CHUNK (4u << 20)
#define SCAN_OVER 64u		/* bytes read past a chunk: a cut's look */
#define SCRATCH (1u << 20)	/* output of length-only decodes */
#define MEMO_BYTES 1024u	/* blocks remembered by their bits... */
#define MEMO_N 64u		/* ...this many of them */
#define BATCH_JOBS 64u
#define BATCH_BITS (1ull << 23)	/* compressed bits per thread and batch */
#define THREADS_MAX 64u
/* Remembered all-zero blocks looked past for one to decode ahead. */
#define AHEAD_SKIP 64u
/* The most output a block of a level can hold (5 bytes of run make 259). */
#define BLOCK_OUT_MAX(level) ((uint64_t)(level) * 5200000u)

struct bz2_entry {
	uint64_t pos;		/* bit offset of the magic */
	uint64_t out;		/* output offset, or UNKNOWN */
	uint32_t len;		/* block: output up to the next cut, or NOLEN */
	uint32_t crc;		/* the 32 bits after the magic */
	uint8_t kind;		/* BZ2_CUT_BLOCK or BZ2_CUT_EOS */
	uint8_t level;		/* block: its stream's; EOS: the next's, or 0 */
	bool dropped;		/* no cursor starts here (drop_point) */
};

struct bz2_memo {
	unsigned char *bits;	/* the block's bits, from its magic on */
	uint64_t nbits;
	uint32_t len;
	bool zero;		/* its output is all zeros */
};

struct bz2_fmt {
	int fd;
	uint64_t fsize;
	uint64_t data_end;	/* fsize, less the zero bytes at its end */
	unsigned threads;
	unsigned level0;	/* the first stream's level */
	pthread_mutex_t work;	/* one scan or resolver at a time */
	pthread_mutex_t lock;	/* everything below */
	bool scanned;
	struct bz2_entry *cuts;
	size_t n;
	size_t front;		/* out known for cuts[0..front] */
	size_t back;		/* out known for cuts[back..n-1]; n: none */
	bool front_end;		/* cuts[front] is the final end of stream */
	bool front_stuck, back_dead;
	uint64_t hint;		/* the image size given, or UNKNOWN */
	uint64_t effort[2];	/* bits decoded for the front and the back */
	struct bz2_memo memo[MEMO_N];
	unsigned memo_next;
	int failed;		/* a stream CRC failed: errno, for good */
	struct bmap_err failmsg;
};

/* ------------------------------------------------------------------ */

/* A cursor (bz2-seek.c). */
struct bz2_cursor {
	struct bz2_fmt *f;
	uint64_t pos;		/* bit of the cut being decoded, or next */
	uint64_t to;		/* where the current block's bits end */
	uint64_t produced;	/* output of the current block so far */
	uint64_t zeros;		/* left of a remembered all-zero block */
	uint32_t known;		/* the block's length as the table has it */
	uint32_t crc, combined;
	bool whole;		/* the stream was seen from its start */
	bool in_block, zero, joined, done;
	bool taken;		/* the block is the worker's: read from it */
	bool tried;		/* to start the worker */
	unsigned blocks;	/* blocks started */
	struct bz2_ahead *ahead;	/* started on the second block */
	struct bz2_attempt att;
	struct bz2_bits bits;
	int error;
	struct bmap_err msg;
};

/* bz2-ahead.c: have the worker decode the next block that needs it. */
void bz2_decode_ahead(struct bz2_cursor *c);

/* bz2-table.c */
/* Exactly len bytes at off: 0, -ENODATA when the file ends first, or
 * -errno. */
int bz2_pread(int fd, void *buf, size_t len, uint64_t off);
/* The file's size less the zero bytes at its end (padding after the
 * last stream, which bzip2 takes too). */
uint64_t bz2_data_end(int fd, uint64_t size);
/* Where an end of stream's trailer ends (a byte offset), and the bit the
 * next stream's first cut must be at. */
uint64_t bz2_eos_end(uint64_t pos);
uint64_t bz2_eos_next(uint64_t pos);
/* Index of the first cut at or after bit pos. With the lock held. */
size_t bz2_cut_index(const struct bz2_fmt *f, uint64_t pos);
/* The scan of the whole file, once. With work held. */
int bz2_ensure_scanned(struct bz2_fmt *f, struct bmap_err *err);
/* With the lock held: forget what the back knows; move the front and
 * the back on; record a block's length (dropping false cuts inside it);
 * the known cut where a cursor for off starts (n: none yet). */
void bz2_drop_back(struct bz2_fmt *f);
void bz2_advance_front(struct bz2_fmt *f);
void bz2_advance_back(struct bz2_fmt *f);
void bz2_learn(struct bz2_fmt *f, uint64_t from, uint64_t to, uint64_t len);
size_t bz2_known_cut(const struct bz2_fmt *f, uint64_t off, bool exact);

/* bz2-resolve.c */
/* The bits [from, to) of the file appended to b, or in b alone. */
int bz2_append_bits(struct bz2_fmt *f, uint64_t from, uint64_t to,
		    struct bz2_bits *b);
int bz2_read_bits(struct bz2_fmt *f, uint64_t from, uint64_t to,
		  struct bz2_bits *b);
/* Blocks remembered by their bits: add one (with the lock held); look
 * one up (takes the lock). */
void bz2_memo_add(struct bz2_fmt *f, const struct bz2_bits *b, uint64_t len,
		  bool zero);
bool bz2_memo_get(struct bz2_fmt *f, const struct bz2_bits *b, uint64_t *len,
		  bool *zero);
/* The block at bit from failed at its next cut: find and learn its true
 * end (bz2_block_join). Without locks. */
int bz2_join_block(struct bz2_fmt *f, uint64_t from, struct bz2_bits *b,
		   struct bmap_err *err);
/* Know the cut a cursor for off starts at: scan, then extend the front
 * or the back. */
int bz2_resolve(struct bz2_fmt *f, uint64_t off, struct bmap_err *err);

/* bz2-index.c */
int bz2_save(void *fmt, struct strbuf *out);
int bz2_load(void *fmt, const void *buf, size_t len, struct bmap_err *err);

#endif
