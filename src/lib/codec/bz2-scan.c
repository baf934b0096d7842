/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bz2-scan.c - finding bzip2 block and end-of-stream magics at any bit
 * offset: the search over bytes in memory, and the scanner that cuts an
 * input read in order (a file or a pipe) at every magic it finds.
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

#include "codec/bz2.h"

/* Input read at a time; the buffer has slack for 8-byte loads. */
#define SCAN_CHUNK (1024 * 1024)
#define SCAN_SLACK 64
/* Fake magics of the test hook start past the first block's magic. */
#define FAKE_FIRST 128

/* The test hook (bz2.h): every how many bits a false magic goes, from
 * the environment (read, never written: no state of the library's). */
static uint64_t false_cuts_every(void)
{
	const char *v = getenv("BMAP_TEST_BZ2_FALSE_CUTS");

	return v ? strtoull(v, NULL, 10) : 0;
}

static const uint64_t magics[2] = { BZ2_MAGIC_BLOCK, BZ2_MAGIC_EOS };

/* 48 bits from bit `bit` of p on. */
static uint64_t peek48(const unsigned char *p, uint64_t bit)
{
	return (bz2_load_be64(p + bit / 8) << (bit % 8)) >> 16;
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

struct search {
	const unsigned char *p;
	size_t len;
	uint64_t lo, hi;
	bz2_found_fn found;
	void *ctx;
	uint64_t fake;		/* the test hook's next false magic, or -1 */
	uint64_t every;		/* and every how many bits they come */
};

/* Whether a false magic may go at bit: wholly in the buffer, and no
 * real magic within 64 bits of it. */
static bool fake_fits(const struct search *q, uint64_t bit)
{
	uint64_t b, v;

	if (bit + 48 > q->len * 8)
		return false;
	for (b = bit >= 64 ? bit - 64 : 0; b <= bit + 64 && b + 48 <=
	     q->len * 8; b++) {
		v = peek48(q->p, b);
		if (v == magics[0] || v == magics[1])
			return false;
	}
	return true;
}

/* The test hook's false magics before bit upto. */
static int fakes_before(struct search *q, uint64_t upto)
{
	int ret;

	for (; q->fake < upto && q->fake < q->hi;
	     q->fake += q->every) {
		if (!fake_fits(q, q->fake))
			continue;
		ret = q->found(q->ctx, BZ2_CUT_BLOCK, q->fake);
		if (ret) {
			q->fake += q->every;
			return ret;
		}
	}
	return 0;
}

/* The magics the word at index i belongs to, in order of their start. */
static int find_at(struct search *q, size_t i)
{
	unsigned u = (unsigned)q->p[i] << 8 | q->p[i + 1];
	unsigned kind, r;
	uint64_t bit;
	int ret;

	for (r = 16; r-- > 0;)
		for (kind = 0; kind < 2; kind++) {
			if (magic_word(kind, r) != u || i * 8 < r)
				continue;
			bit = i * 8 - r;
			if (bit < q->lo || bit >= q->hi ||
			    bit + 48 > q->len * 8 ||
			    peek48(q->p, bit) != magics[kind])
				continue;
			ret = fakes_before(q, bit);
			if (!ret)
				ret = q->found(q->ctx, kind == 0 ?
					       BZ2_CUT_BLOCK : BZ2_CUT_EOS,
					       bit);
			if (ret)
				return ret;
		}
	return 0;
}

int bz2_find_magics(const unsigned char *p, size_t len, uint64_t base,
		    uint64_t lo, uint64_t hi, bz2_found_fn found, void *ctx)
{
	uint64_t bm[1024], k = false_cuts_every(), first;
	struct search q = { p, len, lo, hi, found, ctx, UINT64_MAX, k };
	size_t i = (size_t)(lo / 16) * 2, end;
	int ret;

	if (len < 2 || lo >= hi)
		return 0;
	if (k) {
		first = base * 8 + lo > FAKE_FIRST ? base * 8 + lo :
			FAKE_FIRST;
		q.fake = (first + k - 1) / k * k - base * 8;
	}
	bitmap_init(bm);
	/* the word of a magic starting just before hi is up to 15 bits on */
	end = (hi + 7) / 8 + 2 < len - 1 ? (size_t)((hi + 7) / 8 + 2) : len - 1;
	for (;;) {
		i = find_word(bm, p, i, end);
		if (i >= end)
			return fakes_before(&q, hi);
		ret = find_at(&q, i);
		if (ret)
			return ret;
		i += 2;
	}
}

/* ------------------------------------------------------------------ */
/* The scanner                                                         */

/* Describe a cut at bit `bit` of the buffer. */
static void make_cut(struct bz2_scan *s, struct bz2_cut *c,
		     enum bz2_cut_kind kind, uint64_t bit)
{
	size_t at = (size_t)(bit / 8);

	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->pos = s->base * 8 + bit;
	c->looklen = s->len - at < BZ2_LOOK ? s->len - at : BZ2_LOOK;
	memcpy(c->look, s->buf + at, c->looklen);
}

/* After an end-of-stream magic: a stream header sets the level of what
 * follows. */
static void eos_level(struct bz2_scan *s, const struct bz2_cut *c)
{
	size_t q = (size_t)(c->pos % 8 + 87) / 8;
	unsigned level = c->looklen > q ?
			 bz2_header_level(c->look + q, c->looklen - q) : 0;

	if (level)
		s->level = level;
}

/* A magic found: a hit, unless it starts before the last cut handed
 * out. Stops the search when the hits are full. */
static int on_hit(void *ctx, enum bz2_cut_kind kind, uint64_t bit)
{
	struct bz2_scan *s = ctx;

	if (s->base * 8 + bit <= s->from)
		return 0;
	make_cut(s, &s->hits[s->nhits++], kind, bit);
	if (s->nhits < BZ2_SCAN_HITS)
		return 0;
	s->scanned = s->base * 8 + bit + 1;
	return 1;
}

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

/* Move the bits before the byte of the next bit to search out to seg,
 * drop those bytes and read more. */
static int refill(struct bz2_scan *s, struct bz2_bits *seg)
{
	size_t keep = (size_t)(s->scanned / 8 - s->base);
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
	s->level = bz2_header_level(s->buf, s->len);
	if (!s->level)
		s->level = 9;
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
	s->len = 0;
	s->scanned = UINT64_MAX;
	return ret;
}

int bz2_scan_next(struct bz2_scan *s, struct bz2_bits *seg,
		  struct bz2_cut *next)
{
	uint64_t lim;
	int ret;

	for (;;) {
		if (s->nhits > 0)
			return take_hit(s, seg, next);
		if (seg->nbits > BZ2_BLOCK_BITS_MAX(9))
			return end_cut(s, seg, next, 0, true);
		/* search where a magic lies wholly, and its look bytes,
		 * in what has been read */
		lim = (s->base + s->len) * 8;
		if (!s->eof)
			lim = s->len > BZ2_LOOK + 1 ?
			      lim - (BZ2_LOOK + 1) * 8 : s->base * 8;
		if (s->scanned < lim) {
			if (bz2_find_magics(s->buf, s->len, s->base,
					    s->scanned - s->base * 8,
					    lim - s->base * 8, on_hit, s) == 0)
				s->scanned = lim;
			continue;
		}
		if (s->eof)
			return end_cut(s, seg, next, 0, false);
		ret = refill(s, seg);
		if (ret == -ENOMEM)
			return ret;
		if (ret < 0)
			return end_cut(s, seg, next, ret, false);
	}
}

void bz2_scan_free(struct bz2_scan *s)
{
	free(s->buf);
	s->buf = NULL;
}
