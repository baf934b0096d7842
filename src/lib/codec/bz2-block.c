/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bz2-block.c - the bzip2 block core: runs of bits re-wrapped as
 * stand-alone single-block streams, decoded with libbz2 in a way that
 * tells a block cut short at a false magic, and the one way such a block
 * is joined up again (bz2_block_join). Also the module's messages.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "codec/bz2.h"
#include "codec/codec.h"

/* Room kept past a run of bits: 8-byte stores, and the stream trailer. */
#define BITS_SLACK 32
/* Output of the decode that confirms a joined block, a piece at a time. */
#define JOIN_SCRATCH (1u << 20)

/* ------------------------------------------------------------------ */
/* Messages and small things                                           */

int bz2_err_nomem(struct bmap_err *err)
{
	return bmap_seterr(err, ENOMEM, "bzip2: out of memory");
}

int bz2_err_truncated(struct bmap_err *err)
{
	return codec_truncated(err, "bzip2");
}

int bz2_err_corrupt(struct bmap_err *err, const char *what, uint64_t bit)
{
	return codec_corrupt(err, "bzip2", "%s (at byte %llu)", what,
			     (unsigned long long)(bit / 8));
}

int bz2_err_garbage(struct bmap_err *err)
{
	return codec_corrupt(err, "bzip2", "trailing garbage");
}

int bz2_err_read(struct bmap_err *err, int ret)
{
	return bmap_seterr(err, -ret, "cannot read the image: %s",
			   strerror(-ret));
}

unsigned bz2_header_level(const unsigned char *h, size_t n)
{
	if (n < 4 || memcmp(h, "BZh", 3) != 0 || h[3] < '1' || h[3] > '9')
		return 0;
	return h[3] - '0';
}

bool bz2_header_prefix(const unsigned char *h, size_t n)
{
	return n < 4 && memcmp(h, "BZh", n < 3 ? n : 3) == 0;
}

bool bz2_all_zero(const unsigned char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* ------------------------------------------------------------------ */
/* Bits                                                                */

static void store_be64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

static unsigned get_bit(const unsigned char *p, uint64_t bit)
{
	return p[bit / 8] >> (7 - bit % 8) & 1;
}

static void put_bit(unsigned char *p, uint64_t bit, unsigned v)
{
	unsigned char mask = (unsigned char)(0x80 >> (bit % 8));

	p[bit / 8] = (unsigned char)(v ? p[bit / 8] | mask :
				     p[bit / 8] & ~mask);
}

/* Write the low n bits of v, most significant first. */
static void put_bits(unsigned char *p, uint64_t bit, uint64_t v, unsigned n)
{
	while (n-- > 0)
		put_bit(p, bit++, (unsigned)(v >> n) & 1);
}

/* Copy n bits; dst is writable for 8 bytes past the last bit. */
static void copy_bits(unsigned char *dst, uint64_t dbit,
		      const unsigned char *src, uint64_t sbit, uint64_t n)
{
	for (; n > 0 && dbit % 8 != 0; n--)
		put_bit(dst, dbit++, get_bit(src, sbit++));
	for (; n >= 56; n -= 56, dbit += 56, sbit += 56)
		store_be64(dst + dbit / 8,
			   bz2_load_be64(src + sbit / 8) << (sbit % 8));
	for (; n > 0; n--)
		put_bit(dst, dbit++, get_bit(src, sbit++));
}

static int bits_reserve(struct bz2_bits *b, uint64_t nbits)
{
	size_t need = (size_t)((32 + nbits + 7) / 8) + BITS_SLACK;
	size_t cap = b->cap ? b->cap : 64 * 1024;
	unsigned char *p;

	if (need <= b->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	p = realloc(b->buf, cap);
	if (!p)
		return -ENOMEM;
	b->buf = p;
	b->cap = cap;
	return 0;
}

int bz2_bits_append(struct bz2_bits *b, const unsigned char *src,
		    uint64_t sbit, uint64_t n)
{
	if (bits_reserve(b, b->nbits + n) < 0)
		return -ENOMEM;
	copy_bits(b->buf, 32 + b->nbits, src, sbit, n);
	b->nbits += n;
	return 0;
}

void bz2_bits_header(struct bz2_bits *b, unsigned level)
{
	memcpy(b->buf, "BZh", 3);
	b->buf[3] = (unsigned char)('0' + level);
}

int bz2_bits_wrap(struct bz2_bits *b, unsigned level, uint32_t crc,
		  size_t *len, size_t *boundary)
{
	uint64_t end = 32 + b->nbits;

	if (bits_reserve(b, b->nbits) < 0)
		return -ENOMEM;
	bz2_bits_header(b, level);
	put_bits(b->buf, end, BZ2_MAGIC_EOS, 48);
	put_bits(b->buf, end + 48, crc, 32);
	put_bits(b->buf, end + 80, 0, (unsigned)(-(end + 80) % 8));
	*len = (size_t)((end + 87) / 8);
	*boundary = (size_t)((end + 7) / 8);
	return 0;
}

bool bz2_bits_zero(const struct bz2_bits *b, uint64_t from)
{
	uint64_t bit = 32 + from, end = 32 + b->nbits;

	for (; bit < end && bit % 8 != 0; bit++)
		if (get_bit(b->buf, bit))
			return false;
	for (; bit + 8 <= end; bit += 8)
		if (b->buf[bit / 8])
			return false;
	for (; bit < end; bit++)
		if (get_bit(b->buf, bit))
			return false;
	return true;
}

void bz2_bits_free(struct bz2_bits *b)
{
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

/* ------------------------------------------------------------------ */
/* Decoding a wrapped block                                            */

enum bz2_att bz2_attempt_start(struct bz2_attempt *a, unsigned char *in,
			       size_t len, size_t boundary)
{
	memset(a, 0, sizeof(*a));
	if (BZ2_bzDecompressInit(&a->strm, 0, 0) != BZ_OK)
		return BZ2_ATT_NOMEM;
	a->live = true;
	a->strm.next_in = (char *)in;
	a->strm.avail_in = (unsigned)len;
	a->boundary = boundary;
	return BZ2_ATT_MORE;
}

enum bz2_att bz2_attempt_bits(struct bz2_attempt *a, struct bz2_bits *b,
			      unsigned level, uint32_t crc)
{
	size_t len, boundary;

	memset(a, 0, sizeof(*a));
	if (bz2_bits_wrap(b, level, crc, &len, &boundary) < 0)
		return BZ2_ATT_NOMEM;
	return bz2_attempt_start(a, b->buf, len, boundary);
}

void bz2_attempt_end(struct bz2_attempt *a)
{
	if (a->live)
		BZ2_bzDecompressEnd(&a->strm);
	a->live = false;
}

/*
 * Decode into out. The whole stream is given at once, so libbz2 stopping
 * with room left in out means the block is incomplete. libbz2 takes input
 * a byte at a time as its bit reader needs it and produces output only
 * once it has read a whole block: when the first output appears, exactly
 * the bytes up to the end of the block have been taken, and a block cut
 * short at a false magic runs on into the trailer after it instead.
 */
enum bz2_att bz2_attempt_step(struct bz2_attempt *a, void *out, size_t len,
			      size_t *produced)
{
	int ret;

	if (len > UINT32_MAX)
		len = UINT32_MAX;
	a->strm.next_out = out;
	a->strm.avail_out = (unsigned)len;
	ret = BZ2_bzDecompress(&a->strm);
	*produced = len - a->strm.avail_out;
	if (ret == BZ_MEM_ERROR)
		return BZ2_ATT_NOMEM;
	if (ret == BZ_STREAM_END && a->strm.avail_in == 0)
		return BZ2_ATT_DONE;
	if (ret != BZ_OK || a->strm.avail_out > 0 ||
	    (!a->committed && a->strm.total_in_lo32 != a->boundary))
		return a->committed ? BZ2_ATT_BAD : BZ2_ATT_RETRY;
	a->committed = true;
	return BZ2_ATT_MORE;
}

/* ------------------------------------------------------------------ */
/* Joining a block cut short at false magics                           */

struct join {
	struct bz2_bits *bits;
	uint64_t from;
	unsigned level;
	uint32_t crc;
	uint64_t *cand;		/* candidate ends, in order */
	size_t n, cap;
};

static int add_cand(struct join *j, uint64_t pos)
{
	uint64_t *p;

	if (j->n == j->cap) {
		j->cap = j->cap ? j->cap * 2 : 16;
		p = realloc(j->cand, j->cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		j->cand = p;
	}
	j->cand[j->n++] = pos;
	return 0;
}

/*
 * Feed libbz2 the joined bits as they grow (from 32 bits of header on),
 * asking for one byte of output: *taken is the input it had taken when
 * that came, the end of the block being in its last byte.
 */
static int probe(struct join *j, const struct bz2_more *more, size_t *taken,
		 struct bmap_err *err)
{
	enum bz2_cut_kind kind = BZ2_CUT_BLOCK;
	bool eos = false, end = false;
	uint64_t pos = 0;
	bz_stream s;
	char out;
	int ret;

	memset(&s, 0, sizeof(s));
	if (BZ2_bzDecompressInit(&s, 0, 0) != BZ_OK)
		return bz2_err_nomem(err);
	bz2_bits_header(j->bits, j->level);
	for (;;) {
		s.next_in = (char *)j->bits->buf + s.total_in_lo32;
		s.avail_in = (unsigned)((32 + j->bits->nbits + (end ? 7 : 0)) /
					8 - s.total_in_lo32);
		s.next_out = &out;
		s.avail_out = 1;
		ret = BZ2_bzDecompress(&s);
		if (s.avail_out == 0) {
			ret = 0;
			break;
		}
		if (ret == BZ_MEM_ERROR)
			ret = bz2_err_nomem(err);
		else if (ret != BZ_OK)
			ret = bz2_err_corrupt(err, "bad block", j->from);
		else if (end)	/* the input ends inside the block */
			ret = eos ? bz2_err_corrupt(err, "bad block", j->from) :
			      bz2_err_truncated(err);
		else if (j->bits->nbits > BZ2_BLOCK_BITS_MAX(j->level))
			ret = bz2_err_corrupt(err, "no block boundary where "
					      "one must be", j->from);
		else
			ret = more->next(more->ctx, j->bits, &pos, &kind, err);
		if (ret < 0)
			break;
		end = ret == 0;
		eos |= kind == BZ2_CUT_EOS;
		if (!end && add_cand(j, pos) < 0) {
			ret = bz2_err_nomem(err);
			break;
		}
	}
	*taken = s.total_in_lo32;
	BZ2_bzDecompressEnd(&s);
	return ret;
}

/* Decode the bits as the whole block, up to the cut at end: true when
 * its CRC matches. The bits past it are kept as they were. */
static int confirm(struct join *j, uint64_t end, unsigned char *scratch,
		   struct bz2_joined *out)
{
	struct bz2_bits *b = j->bits;
	uint64_t keep_n = b->nbits;
	size_t at = (size_t)((32 + end - j->from) / 8), n;
	unsigned char saved[BZ2_LOOK];
	struct bz2_attempt a;
	enum bz2_att ret;

	memcpy(saved, b->buf + at, sizeof(saved));
	b->nbits = end - j->from;
	out->len = 0;
	out->zero = true;
	ret = bz2_attempt_bits(&a, b, j->level, j->crc);
	while (ret == BZ2_ATT_MORE) {
		ret = bz2_attempt_step(&a, scratch, JOIN_SCRATCH, &n);
		out->len += n;
		out->zero = out->zero && bz2_all_zero(scratch, n);
	}
	bz2_attempt_end(&a);
	if (ret == BZ2_ATT_NOMEM)
		return -ENOMEM;
	if (ret == BZ2_ATT_DONE) {
		out->end = end;
		return 1;
	}
	memcpy(b->buf + at, saved, sizeof(saved));
	b->nbits = keep_n;
	return 0;
}

/* The candidates whose byte is the one libbz2 took last (or next to
 * it), tried in order. */
static int pick_end(struct join *j, size_t taken, struct bz2_joined *out,
		    struct bmap_err *err)
{
	unsigned char *scratch = malloc(JOIN_SCRATCH);
	uint64_t byte;
	size_t i;
	int ret = 0;

	if (!scratch)
		return bz2_err_nomem(err);
	for (i = 0; i < j->n && ret == 0; i++) {
		byte = (32 + j->cand[i] - j->from + 7) / 8;
		if (byte + 1 >= taken && byte <= taken + 1)
			ret = confirm(j, j->cand[i], scratch, out);
	}
	free(scratch);
	if (ret < 0)
		return bz2_err_nomem(err);
	return ret ? 0 : bz2_err_corrupt(err, "bad block or CRC mismatch",
					 j->from);
}

int bz2_block_join(struct bz2_bits *bits, uint64_t from, unsigned level,
		   uint32_t crc, const struct bz2_more *more,
		   struct bz2_joined *out, struct bmap_err *err)
{
	struct join j = { bits, from, level, crc, NULL, 0, 0 };
	size_t taken = 0;
	int ret;

	ret = add_cand(&j, from + bits->nbits) < 0 ? bz2_err_nomem(err) :
	      probe(&j, more, &taken, err);
	if (ret == 0)
		ret = pick_end(&j, taken, out, err);
	free(j.cand);
	return ret;
}
