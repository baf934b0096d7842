/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lzop.h - the lzop codec's insides, shared by lzop-header.c (a file's
 * header and the input) and lzop.c (blocks and the STREAM decoder).
 */
#ifndef BMAP_CODEC_LZOP_H
#define BMAP_CODEC_LZOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"

#define LZP_MAGIC_LEN 9

/* Format versions: before 0.940 a header lacks some fields; 0.900 is the
 * first lzop; files that need more than lzop 1.040 are not known. */
#define LZP_V_FIELDS 0x0940u
#define LZP_V_FIRST 0x0900u
#define LZP_V_KNOWN 0x1040u
/* A header after the magic: the fields, a name of up to 255 bytes and the
 * checksum. */
#define LZP_HEADER_MAX (2 + 2 + 2 + 1 + 1 + 4 + 4 + 4 + 4 + 4 + 1 + 255 + 4)
/* lzop's limit on a block's decompressed size (its MAX_BLOCK_SIZE). */
#define LZP_BLOCK_MAX (64u * 1024 * 1024)
/* An extra field is skipped in pieces of this size. */
#define LZP_SKIP_CHUNK 4096

/* Header flags (the rest: the operating system, the character set and
 * flags that change nothing for decoding). */
#define LZP_F_ADLER32_D 0x00000001u	/* Adler-32 of each block's data */
#define LZP_F_ADLER32_C 0x00000002u	/* ... of its compressed data */
#define LZP_F_EXTRA 0x00000040u		/* an extra field follows */
#define LZP_F_CRC32_D 0x00000100u	/* CRC-32 of each block's data */
#define LZP_F_CRC32_C 0x00000200u	/* ... of its compressed data */
#define LZP_F_FILTER 0x00000800u	/* a filter number follows */
#define LZP_F_H_CRC32 0x00001000u	/* header checksum: CRC-32 */
#define LZP_F_RESERVED 0x000fc000u

/* Compression methods: all LZO1X, decoded alike. */
#define LZP_M_LZO1X_1 1
#define LZP_M_LZO1X_999 3

enum lzp_phase {
	LZP_FILE,	/* at the start of a file, or after the last */
	LZP_BLOCKS,	/* at a block's header */
	LZP_END,	/* every file decoded and verified */
};

struct lzp {
	struct codec_input *in;
	enum lzp_phase phase;
	uint32_t flags;		/* the current file's header flags */
	uint64_t files;		/* files decoded and verified */
	unsigned char *cbuf;	/* a block's compressed data */
	unsigned char *dbuf;	/* a block decoded, not yet all handed out */
	size_t cbuf_size, dbuf_size;
	const unsigned char *pend;	/* what is left of it */
	size_t pend_len;
	/* The first failure, given again by every later read: past a bad
	 * block or header the input is no longer where a block starts. */
	int failed;
	struct bmap_err fail_err;
};

/* What a file's header says, after the magic. */
struct lzp_header {
	unsigned version, needed;	/* written by, needed to extract */
	unsigned method, level;
	uint32_t flags, filter;
};

/* A block's header. */
struct lzp_block {
	uint64_t at;		/* where it starts in the input */
	uint32_t dlen, clen;	/* decompressed, compressed size */
	uint32_t adler_d, crc_d, adler_c, crc_c;
};

static inline uint32_t lzp_be16(const unsigned char *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static inline uint32_t lzp_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* lzop-header.c: messages, input, and a file's header. */
int lzp_truncated(struct bmap_err *err);
int lzp_corrupt(const struct lzp_block *b, const char *what,
		struct bmap_err *err);
/* Up to len bytes of input, *got of them, fewer only at its end; and
 * exactly len (lzp_need: truncated data when the input ends first). */
int lzp_take(struct lzp *s, unsigned char *buf, size_t len, size_t *got,
	     struct bmap_err *err);
int lzp_need(struct lzp *s, unsigned char *buf, size_t len,
	     struct bmap_err *err);
int lzp_grow(unsigned char **buf, size_t *cur, size_t size,
	     struct bmap_err *err);
/* At a file's start: its header read and checked, or the end of the
 * input (the phase says which). */
int lzp_file(struct lzp *s, struct bmap_err *err);

#endif
