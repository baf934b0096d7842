/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bz2-scan.c - bzip2 at the bit level: finding block and end-of-stream
 * magics at any bit offset, re-wrapping runs of bits as stand-alone
 * single-block streams, and decoding such a stream with libbz2 in a way
 * that tells a block cut short at a false magic.
 *
 * The search looks at the input 16 bits at a time, at even byte offsets:
 * every 48-bit magic, wherever it starts, holds such an aligned word at an
 * offset r of 0 to 15 bits from its start, so a word whose value is not
 * one of the 2 x 16 possible ones rules out every magic starting in the 16
 * bits before it. A 8 KiB bitmap answers that; the rare hits are checked
 * in full.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec/bz2-scan.h"

/* Input read at a time; the buffer has slack for 8-byte loads. */
#define SCAN_CHUNK (1024 * 1024)
#define SCAN_SLACK 64

/* Room kept past a run of bits: 8-byte stores, and the stream trailer. */
#define BITS_SLACK 32

static const uint64_t magics[2] = { BZ2_MAGIC_BLOCK, BZ2_MAGIC_EOS };

static uint64_t load_be64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void store_be64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

/* 48 bits from bit `bit` of p on. */
static uint64_t peek48(const unsigned char *p, uint64_t bit)
{
	return (load_be64(p + bit / 8) << (bit % 8)) >> 16;
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
			   load_be64(src + sbit / 8) << (sbit % 8));
	for (; n > 0; n--)
		put_bit(dst, dbit++, get_bit(src, sbit++));
}

uint32_t bz2_cut_crc(const struct bz2_cut *cut)
{
	return (uint32_t)(peek48(cut->look, cut->pos % 8 + 48) >> 16);
}

bool bz2_cut_has_crc(const struct bz2_cut *cut)
{
	return cut->looklen * 8 >= cut->pos % 8 + 80;
}

/* ------------------------------------------------------------------ */
/* Runs of bits                                                        */

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

int bz2_attempt_start(struct bz2_attempt *a, unsigned char *in, size_t len,
		      size_t boundary)
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
int bz2_attempt_step(struct bz2_attempt *a, void *out, size_t len,
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
/* The search                                                          */

/* The 16 bits from bit r of a magic. */
static unsigned magic_word(unsigned kind, unsigned r)
{
	return (unsigned)(magics[kind] >> (32 - r)) & 0xffff;
}

static void bitmap_init(uint64_t *bm)
{
	unsigned kind, r, u;

	memset(bm, 0, 1024 * sizeof(*bm));
	for (kind = 0; kind < 2; kind++)
		for (r = 0; r < 16; r++) {
			u = magic_word(kind, r);
			bm[u >> 6] |= 1ull << (u & 63);
		}
}

/* The first even index from i on (below end) whose word is in the
 * bitmap, or end. */
static size_t find_word(const uint64_t *bm, const unsigned char *p,
			size_t i, size_t end)
{
	unsigned u;

	for (; i < end; i += 2) {
		u = (unsigned)p[i] << 8 | p[i + 1];
		if (bm[u >> 6] >> (u & 63) & 1)
			break;
	}
	return i;
}

/* Describe a cut at bit `bit` of the buffer. */
static void make_cut(struct bz2_scan *s, struct bz2_cut *c, unsigned kind,
		     uint64_t bit)
{
	size_t at = (size_t)(bit / 8);

	memset(c, 0, sizeof(*c));
	c->kind = kind == 0 ? BZ2_CUT_BLOCK : BZ2_CUT_EOS;
	c->pos = s->base * 8 + bit;
	c->looklen = s->len - at < BZ2_LOOK ? s->len - at : BZ2_LOOK;
	memcpy(c->look, s->buf + at, c->looklen);
}

/* After an end-of-stream magic: a stream header sets the level of what
 * follows. */
static void eos_level(struct bz2_scan *s, const struct bz2_cut *c)
{
	size_t q = (size_t)(c->pos % 8 + 87) / 8;

	if (c->looklen >= q + 4 && memcmp(c->look + q, "BZh", 3) == 0 &&
	    c->look[q + 3] >= '1' && c->look[q + 3] <= '9')
		s->level = c->look[q + 3] - '0';
}

/* Insert a cut into the (sorted) list of hits. */
static void add_hit(struct bz2_scan *s, const struct bz2_cut *c)
{
	unsigned i = s->nhits++;

	while (i > s->hitpos && s->hits[i - 1].pos > c->pos) {
		s->hits[i] = s->hits[i - 1];
		i--;
	}
	s->hits[i] = *c;
}

/* Check the magics that the word at index i may belong to. */
static void check_word(struct bz2_scan *s, size_t i)
{
	unsigned u = (unsigned)s->buf[i] << 8 | s->buf[i + 1];
	unsigned kind, r;
	uint64_t bit;
	struct bz2_cut c;

	for (kind = 0; kind < 2; kind++)
		for (r = 0; r < 16; r++) {
			if (magic_word(kind, r) != u || i * 8 < r)
				continue;
			bit = i * 8 - r;
			if (s->base * 8 + bit <= s->from ||
			    (bit + 48 > s->len * 8) ||
			    peek48(s->buf, bit) != magics[kind])
				continue;
			make_cut(s, &c, kind, bit);
			add_hit(s, &c);
		}
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */

/* Read more (what a pipe has now: its blocks are scanned as they come),
 * or find the end of the input. */
static int fill(struct bz2_scan *s)
{
	ssize_t n;

	if (s->len < SCAN_CHUNK && !s->eof) {
		n = s->read(s->ctx, s->buf + s->len, SCAN_CHUNK - s->len);
		if (n < 0)
			return (int)n;
		s->eof = n == 0;
		s->len += (size_t)n;
	}
	memset(s->buf + s->len, 0, SCAN_SLACK);
	return 0;
}

/* Move the bits before the next word out to seg, drop those bytes and
 * read more. Magics not yet found start at most 15 bits before the next
 * word, so two bytes before it are kept. */
static int refill(struct bz2_scan *s, struct bz2_bits *seg)
{
	size_t keep = s->next >= 2 ? s->next - 2 : 0;
	uint64_t upto = (s->base + keep) * 8;
	int ret;

	if (upto > s->from) {
		ret = bz2_bits_append(seg, s->buf, s->from - s->base * 8,
				      upto - s->from);
		if (ret < 0)
			return ret;
		s->from = upto;
	}
	memmove(s->buf, s->buf + keep, s->len - keep);
	s->len -= keep;
	s->next -= keep;
	s->base += keep;
	return fill(s);
}

int bz2_scan_init(struct bz2_scan *s, bz2_read_fn read, void *ctx,
		  struct bz2_cut *first)
{
	int ret;

	memset(s, 0, sizeof(*s));
	s->read = read;
	s->ctx = ctx;
	s->buf = malloc(SCAN_CHUNK + SCAN_SLACK);
	if (!s->buf)
		return -ENOMEM;
	bitmap_init(s->bitmap);
	memset(first, 0, sizeof(*first));
	do
		ret = fill(s);
	while (ret == 0 && s->len < BZ2_LOOK && !s->eof);
	if (ret < 0) {
		first->kind = BZ2_CUT_END;
		first->err = ret;
		s->eof = true;
		return 0;
	}
	first->kind = BZ2_CUT_START;
	first->looklen = s->len < BZ2_LOOK ? s->len : BZ2_LOOK;
	memcpy(first->look, s->buf, first->looklen);
	s->level = 9;
	if (s->len >= 4 && memcmp(s->buf, "BZh", 3) == 0 &&
	    s->buf[3] >= '1' && s->buf[3] <= '9')
		s->level = s->buf[3] - '0';
	first->level = s->level;
	return 0;
}

/* Hand out the first pending hit, its segment completed in seg. */
static int take_hit(struct bz2_scan *s, struct bz2_bits *seg,
		    struct bz2_cut *next)
{
	int ret;

	*next = s->hits[s->hitpos++];
	if (s->hitpos == s->nhits)
		s->hitpos = s->nhits = 0;
	ret = bz2_bits_append(seg, s->buf, s->from - s->base * 8,
			      next->pos - s->from);
	if (ret < 0)
		return ret;
	s->from = next->pos;
	next->level = s->level;
	if (next->kind == BZ2_CUT_EOS)
		eos_level(s, next);
	return 0;
}

/* The end of the input (or of scanning): the rest goes to seg. */
static int end_cut(struct bz2_scan *s, struct bz2_bits *seg,
		   struct bz2_cut *next, int err, bool oversize)
{
	uint64_t end = (s->base + s->len) * 8;
	int ret = 0;

	memset(next, 0, sizeof(*next));
	next->kind = BZ2_CUT_END;
	next->err = err;
	next->oversize = oversize;
	if (!err && !oversize && end > s->from)
		ret = bz2_bits_append(seg, s->buf, s->from - s->base * 8,
				      end - s->from);
	next->pos = err || oversize ? s->from : end;
	if (oversize && end > s->from) {
		s->rest = s->buf + (s->from / 8 - s->base);
		s->restlen = (size_t)(s->base + s->len - s->from / 8);
	}
	s->from = next->pos;
	s->eof = true;
	s->len = s->next = 0;
	return ret;
}

int bz2_scan_next(struct bz2_scan *s, struct bz2_bits *seg,
		  struct bz2_cut *next)
{
	size_t end;
	int ret;

	for (;;) {
		if (s->nhits > 0)
			return take_hit(s, seg, next);
		if (seg->nbits > BZ2_BLOCK_BITS_MAX(9))
			return end_cut(s, seg, next, 0, true);
		end = s->eof ? s->len : s->len > 16 ? s->len - 16 : 0;
		end &= ~(size_t)1;
		if (s->eof && s->next + 2 > s->len)
			return end_cut(s, seg, next, 0, false);
		if (s->next >= end) {
			ret = refill(s, seg);
			if (ret == -ENOMEM)
				return ret;
			if (ret < 0)
				return end_cut(s, seg, next, ret, false);
			continue;
		}
		s->next = find_word(s->bitmap, s->buf, s->next, end);
		if (s->next < end) {
			check_word(s, s->next);
			s->next += 2;
		}
	}
}

void bz2_scan_free(struct bz2_scan *s)
{
	free(s->buf);
	s->buf = NULL;
}

/* The magics the word at index i belongs to, in order of their start. */
static int find_at(const unsigned char *p, size_t len, size_t i, uint64_t lo,
		   uint64_t hi, bz2_found_fn found, void *ctx)
{
	unsigned u = (unsigned)p[i] << 8 | p[i + 1];
	unsigned kind, r;
	uint64_t bit;
	int ret;

	for (r = 16; r-- > 0;)
		for (kind = 0; kind < 2; kind++) {
			if (magic_word(kind, r) != u || i * 8 < r)
				continue;
			bit = i * 8 - r;
			if (bit < lo || bit >= hi || bit + 48 > len * 8 ||
			    peek48(p, bit) != magics[kind])
				continue;
			ret = found(ctx, kind == 0 ? BZ2_CUT_BLOCK :
					       BZ2_CUT_EOS, bit);
			if (ret)
				return ret;
		}
	return 0;
}

int bz2_find_magics(const unsigned char *p, size_t len, uint64_t lo,
		    uint64_t hi, bz2_found_fn found, void *ctx)
{
	uint64_t bm[1024];
	size_t i = (size_t)(lo / 16) * 2, end;
	int ret;

	if (len < 2 || lo >= hi)
		return 0;
	bitmap_init(bm);
	/* the word of a magic starting just before hi is up to 15 bits on */
	end = (hi + 7) / 8 + 2 < len - 1 ? (size_t)((hi + 7) / 8 + 2) : len - 1;
	for (;;) {
		i = find_word(bm, p, i, end);
		if (i >= end)
			return 0;
		ret = find_at(p, len, i, lo, hi, found, ctx);
		if (ret)
			return ret;
		i += 2;
	}
}
