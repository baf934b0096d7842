/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dec-lzop.c - lzop decoding with liblzo2, in place of the external lzop
 * program that libarchive runs (whose messages would reach our stderr).
 * Every file's header is parsed and its checksum verified; every block's
 * checksums (Adler-32 and CRC-32 of its compressed and decompressed data,
 * those the header's flags ask for) and size are verified; concatenated
 * lzop files decode as one stream; anything after the last one that is
 * not another lzop file is refused. Filters (lzop --filter) are not
 * supported.
 *
 * The input is read exactly as far as the format says, so a block's data
 * lands where it is decoded from. A block that fits in the caller's buffer
 * is decoded straight into it; one that does not is decoded into ours and
 * handed out over the next reads. Memory: two buffers of the largest
 * block's size at most (lzop writes 256 KiB blocks; 64 MiB is its limit).
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lzo/lzo1x.h>

#include "base/error.h"
#include "codec/codec.h"

/* Every lzop file starts with this. */
static const unsigned char lzp_magic[] = {
	0x89, 'L', 'Z', 'O', 0x00, '\r', '\n', 0x1a, '\n',
};
#define LZP_MAGIC_LEN sizeof(lzp_magic)

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

/* ------------------------------------------------------------------ */
/* Messages                                                            */

static int lzp_truncated(struct bmap_err *err)
{
	return bmap_seterr(err, EIO, "truncated lzop data");
}

static int lzp_bad_header(const char *what, struct bmap_err *err)
{
	return bmap_seterr(err, EBADMSG, "corrupt lzop data: %s (file "
			   "header)", what);
}

static int lzp_corrupt(const struct lzp_block *b, const char *what,
		       struct bmap_err *err)
{
	return bmap_seterr(err, EBADMSG,
			   "corrupt lzop data: %s (block at byte %llu)", what,
			   (unsigned long long)b->at);
}

/* ------------------------------------------------------------------ */
/* Input                                                               */

static uint32_t get_be16(const unsigned char *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* Up to len raw bytes into buf, fewer only at the end of the input. */
static int lzp_take(struct lzp *s, unsigned char *buf, size_t len,
		    size_t *got, struct bmap_err *err)
{
	ssize_t n;

	*got = 0;
	while (*got < len) {
		n = codec_input_read(s->in, buf + *got, len - *got);
		if (n < 0)
			return bmap_seterr(err, (int)-n,
					   "cannot read the image: %s",
					   strerror((int)-n));
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return 0;
}

/* Exactly len raw bytes into buf: the end of the input is truncation. */
static int lzp_need(struct lzp *s, unsigned char *buf, size_t len,
		    struct bmap_err *err)
{
	size_t got;
	int ret = lzp_take(s, buf, len, &got, err);

	if (ret < 0)
		return ret;
	return got < len ? lzp_truncated(err) : 0;
}

/* A buffer of at least size bytes; its contents need not be kept. */
static int lzp_grow(unsigned char **buf, size_t *cur, size_t size,
		    struct bmap_err *err)
{
	if (*cur >= size)
		return 0;
	free(*buf);
	*cur = 0;
	*buf = malloc(size);
	if (!*buf)
		return bmap_seterr(err, ENOMEM, "lzop: out of memory");
	*cur = size;
	return 0;
}

/* ------------------------------------------------------------------ */
/* File header                                                         */

/* The header checksum (and the extra field's): CRC-32 or Adler-32. */
static uint32_t lzp_hsum_init(uint32_t flags)
{
	return flags & LZP_F_H_CRC32 ? 0 : 1;
}

static uint32_t lzp_hsum(uint32_t flags, uint32_t sum,
			 const unsigned char *p, size_t n)
{
	if (flags & LZP_F_H_CRC32)
		return lzo_crc32(sum, p, n);
	return lzo_adler32(sum, p, n);
}

/* The extra field: a length, that many bytes (lzop writes none and reads
 * none), a checksum of both. */
static int lzp_extra(struct lzp *s, uint32_t flags, struct bmap_err *err)
{
	unsigned char b[LZP_SKIP_CHUNK];
	uint32_t left, sum = lzp_hsum_init(flags);
	size_t n;
	int ret;

	ret = lzp_need(s, b, 4, err);
	if (ret < 0)
		return ret;
	left = get_be32(b);
	sum = lzp_hsum(flags, sum, b, 4);
	while (left > 0) {
		n = left < sizeof(b) ? left : sizeof(b);
		ret = lzp_need(s, b, n, err);
		if (ret < 0)
			return ret;
		sum = lzp_hsum(flags, sum, b, n);
		left -= (uint32_t)n;
	}
	ret = lzp_need(s, b, 4, err);
	if (ret < 0)
		return ret;
	if (get_be32(b) != sum)
		return lzp_bad_header("extra field checksum mismatch", err);
	return 0;
}

/* Whether this decoder can take a header whose checksum matched. */
static int lzp_check_header(const struct lzp_header *h, struct bmap_err *err)
{
	const uint32_t f = h->flags;

	if (h->needed < LZP_V_FIRST)
		return lzp_bad_header("bad version", err);
	if (h->needed > LZP_V_KNOWN)
		return bmap_seterr(err, EBADMSG, "unsupported lzop data: "
				   "needs lzop %x.%03x", h->needed >> 12,
				   h->needed & 0xfff);
	if (h->method < LZP_M_LZO1X_1 || h->method > LZP_M_LZO1X_999)
		return bmap_seterr(err, EBADMSG, "unsupported lzop "
				   "compression method %u", h->method);
	if (h->level > 9)
		return lzp_bad_header("bad compression level", err);
	if (f & LZP_F_RESERVED)
		return bmap_seterr(err, EBADMSG, "unsupported lzop header "
				   "flags 0x%08lx", (unsigned long)f);
	if (f & LZP_F_FILTER)
		return bmap_seterr(err, EBADMSG, "unsupported lzop filter %lu",
				   (unsigned long)h->filter);
	/* lzop refuses these too: a stored block would go unchecked. */
	if (((f & LZP_F_ADLER32_C) && !(f & LZP_F_ADLER32_D)) ||
	    ((f & LZP_F_CRC32_C) && !(f & LZP_F_CRC32_D)))
		return lzp_bad_header("compressed-data checksum without "
				      "the data checksum", err);
	return 0;
}

/* The header after the magic into buf: its fields in h, *len bytes. */
static int lzp_header_read(struct lzp *s, unsigned char *buf, size_t *len,
			   struct lzp_header *h, struct bmap_err *err)
{
	unsigned char *p = buf;
	bool v2;
	size_t n;
	int ret;

	ret = lzp_need(s, p, 4, err);
	if (ret < 0)
		return ret;
	h->version = get_be16(p);
	if (h->version < LZP_V_FIRST)
		return lzp_bad_header("bad version", err);
	v2 = h->version >= LZP_V_FIELDS;
	p += 4;
	/* version needed, method, level, flags */
	n = (v2 ? 4u : 1u) + 4;
	ret = lzp_need(s, p, n, err);
	if (ret < 0)
		return ret;
	h->needed = v2 ? get_be16(p) : LZP_V_FIRST;
	p += v2 ? 2 : 0;
	h->method = *p++;
	h->level = v2 ? *p++ : 0;
	h->flags = get_be32(p);
	p += 4;
	/* filter, mode, mtime, name length; then name and checksum */
	n = (h->flags & LZP_F_FILTER ? 4u : 0u) + 8 + (v2 ? 4u : 0u) + 1;
	ret = lzp_need(s, p, n, err);
	if (ret < 0)
		return ret;
	h->filter = h->flags & LZP_F_FILTER ? get_be32(p) : 0;
	p += n;
	n = (size_t)p[-1] + 4;
	ret = lzp_need(s, p, n, err);
	if (ret < 0)
		return ret;
	*len = (size_t)(p + n - buf);
	return 0;
}

/* A file's header, after its magic. */
static int lzp_header(struct lzp *s, struct bmap_err *err)
{
	unsigned char buf[LZP_HEADER_MAX];
	struct lzp_header h = { 0 };
	uint32_t sum;
	size_t len = 0;
	int ret;

	ret = lzp_header_read(s, buf, &len, &h, err);
	if (ret < 0)
		return ret;
	sum = lzp_hsum(h.flags, lzp_hsum_init(h.flags), buf, len - 4);
	if (get_be32(buf + len - 4) != sum)
		return lzp_bad_header("header checksum mismatch", err);
	ret = lzp_check_header(&h, err);
	if (ret < 0)
		return ret;
	if (h.flags & LZP_F_EXTRA) {
		ret = lzp_extra(s, h.flags, err);
		if (ret < 0)
			return ret;
	}
	s->flags = h.flags;
	s->phase = LZP_BLOCKS;
	return 0;
}

/* At the start of a file. After the first, the end of the input may come
 * instead, but nothing else than another lzop magic. */
static int lzp_file(struct lzp *s, struct bmap_err *err)
{
	unsigned char m[LZP_MAGIC_LEN];
	size_t got;
	int ret;

	ret = lzp_take(s, m, sizeof(m), &got, err);
	if (ret < 0)
		return ret;
	if (got == 0 && s->files > 0) {
		s->phase = LZP_END;
		return 0;
	}
	if (memcmp(m, lzp_magic, got) == 0 && got < sizeof(m))
		return lzp_truncated(err);
	if (memcmp(m, lzp_magic, got) != 0 && s->files > 0)
		return bmap_seterr(err, EBADMSG, "corrupt lzop data: "
				   "trailing garbage after the last file");
	if (memcmp(m, lzp_magic, got) != 0)
		return bmap_seterr(err, EBADMSG, "not lzop data");
	return lzp_header(s, err);
}

/* ------------------------------------------------------------------ */
/* Blocks                                                              */

/* A checksum field at *p if present (then past it), else 0. */
static uint32_t lzp_field(bool present, const unsigned char **p)
{
	uint32_t v = present ? get_be32(*p) : 0;

	*p += present ? 4 : 0;
	return v;
}

/* A block's sizes and checksums; *end at the end-of-file marker. */
static int lzp_block_header(struct lzp *s, struct lzp_block *b, bool *end,
			    struct bmap_err *err)
{
	const uint32_t f = s->flags;
	unsigned char buf[16];
	const unsigned char *p = buf;
	bool ad, cd, ac, cc;
	int ret;

	b->at = s->in->consumed;
	ret = lzp_need(s, buf, 4, err);
	if (ret < 0)
		return ret;
	b->dlen = get_be32(buf);
	*end = b->dlen == 0;
	if (*end)
		return 0;
	if (b->dlen > LZP_BLOCK_MAX)
		return lzp_corrupt(b, "block size over 64 MiB", err);
	ret = lzp_need(s, buf, 4, err);
	if (ret < 0)
		return ret;
	b->clen = get_be32(buf);
	if (b->clen == 0 || b->clen > b->dlen)
		return lzp_corrupt(b, "bad compressed block size", err);
	/* The compressed data's checksums only if it is not stored as is. */
	ad = f & LZP_F_ADLER32_D;
	cd = f & LZP_F_CRC32_D;
	ac = (f & LZP_F_ADLER32_C) && b->clen < b->dlen;
	cc = (f & LZP_F_CRC32_C) && b->clen < b->dlen;
	ret = lzp_need(s, buf, 4u * ((unsigned)ad + cd + ac + cc), err);
	if (ret < 0)
		return ret;
	b->adler_d = lzp_field(ad, &p);
	b->crc_d = lzp_field(cd, &p);
	b->adler_c = lzp_field(ac, &p);
	b->crc_c = lzp_field(cc, &p);
	return 0;
}

/* The checksums the flags ask for: Adler-32 if fa, CRC-32 if fc. */
static bool lzp_sums_ok(uint32_t flags, uint32_t fa, uint32_t fc,
			uint32_t adler, uint32_t crc, const unsigned char *p,
			size_t n)
{
	if ((flags & fa) && lzo_adler32(1, p, n) != adler)
		return false;
	return !(flags & fc) || lzo_crc32(0, p, n) == crc;
}

static int lzp_decompress(const struct lzp_block *b, const unsigned char *src,
			  unsigned char *dst, struct bmap_err *err)
{
	lzo_uint n = b->dlen;
	int r = lzo1x_decompress_safe(src, b->clen, dst, &n, NULL);

	if (r == LZO_E_INPUT_OVERRUN)
		return lzp_corrupt(b, "compressed block cut short", err);
	if (r == LZO_E_OUTPUT_OVERRUN)
		return lzp_corrupt(b, "block decodes to more than its size",
				   err);
	if (r == LZO_E_LOOKBEHIND_OVERRUN)
		return lzp_corrupt(b, "invalid back reference", err);
	if (r == LZO_E_INPUT_NOT_CONSUMED)
		return lzp_corrupt(b, "bytes after the compressed block's end",
				   err);
	if (r != LZO_E_OK)
		return bmap_seterr(err, EBADMSG, "corrupt lzop data: LZO "
				   "error %d (block at byte %llu)", r,
				   (unsigned long long)b->at);
	if (n != b->dlen)
		return lzp_corrupt(b, "block decodes to less than its size",
				   err);
	return 0;
}

/* A block's data, read (stored) or decoded into dst. */
static int lzp_block_data(struct lzp *s, const struct lzp_block *b,
			  unsigned char *dst, struct bmap_err *err)
{
	int ret;

	if (b->clen == b->dlen)
		return lzp_need(s, dst, b->dlen, err);
	ret = lzp_grow(&s->cbuf, &s->cbuf_size, b->clen, err);
	if (ret < 0)
		return ret;
	ret = lzp_need(s, s->cbuf, b->clen, err);
	if (ret < 0)
		return ret;
	if (!lzp_sums_ok(s->flags, LZP_F_ADLER32_C, LZP_F_CRC32_C, b->adler_c,
			 b->crc_c, s->cbuf, b->clen))
		return lzp_corrupt(b, "compressed data checksum mismatch",
				   err);
	return lzp_decompress(b, s->cbuf, dst, err);
}

/* One block: into out if it fits in room (*done is then its size), else
 * into dbuf to be handed out. At the end marker, on to the next file. */
static int lzp_block(struct lzp *s, unsigned char *out, size_t room,
		     size_t *done, struct bmap_err *err)
{
	struct lzp_block b = { 0 };
	unsigned char *dst = out;
	bool end;
	int ret;

	*done = 0;
	ret = lzp_block_header(s, &b, &end, err);
	if (ret < 0)
		return ret;
	if (end) {
		s->files++;
		s->phase = LZP_FILE;
		return 0;
	}
	if (room < b.dlen) {
		ret = lzp_grow(&s->dbuf, &s->dbuf_size, b.dlen, err);
		if (ret < 0)
			return ret;
		dst = s->dbuf;
	}
	ret = lzp_block_data(s, &b, dst, err);
	if (ret < 0)
		return ret;
	if (!lzp_sums_ok(s->flags, LZP_F_ADLER32_D, LZP_F_CRC32_D, b.adler_d,
			 b.crc_d, dst, b.dlen))
		return lzp_corrupt(&b, "checksum mismatch", err);
	if (dst == out) {
		*done = b.dlen;
	} else {
		s->pend = dst;
		s->pend_len = b.dlen;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The decoder                                                         */

static ssize_t lzp_read(void *state, void *buf, size_t len,
			struct bmap_err *err)
{
	struct lzp *s = state;
	unsigned char *out = buf;
	size_t got = 0, n;
	int ret;

	if (s->failed) {
		if (err)
			*err = s->fail_err;
		return s->failed;
	}
	while (got < len && s->phase != LZP_END) {
		if (s->pend_len > 0) {
			n = len - got < s->pend_len ? len - got : s->pend_len;
			memcpy(out + got, s->pend, n);
			s->pend += n;
			s->pend_len -= n;
			got += n;
			continue;
		}
		if (s->phase == LZP_FILE) {
			ret = lzp_file(s, err);
		} else {
			ret = lzp_block(s, out + got, len - got, &n, err);
			got += n;
		}
		if (ret < 0) {
			s->failed = ret;
			if (err)
				s->fail_err = *err;
			return ret;
		}
	}
	return (ssize_t)got;
}

static void lzp_close(void *state)
{
	struct lzp *s = state;

	free(s->cbuf);
	free(s->dbuf);
	free(s);
}

static const struct codec_stream_ops lzp_ops = {
	.name = "lzop (liblzo2)",
	.read = lzp_read,
	.close = lzp_close,
};

int src_lzop_open(struct codec_input *in, unsigned threads,
		  const struct codec_stream_ops **ops, void **state,
		  struct bmap_err *err)
{
	struct lzp *s;

	(void)threads;	/* one thread: the caller overlaps hash and write */
	/* lzo_init() only checks that the library matches the header's
	 * types; it sets no state, so calling it on every open is safe. */
	if (lzo_init() != LZO_E_OK)
		return bmap_seterr(err, EINVAL, "lzop: liblzo2 does not match "
				   "the one built against");
	s = calloc(1, sizeof(*s));
	if (!s)
		return bmap_seterr(err, ENOMEM, "lzop: out of memory");
	s->in = in;
	s->phase = LZP_FILE;
	*ops = &lzp_ops;
	*state = s;
	return 0;
}
