/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * gzip-member.c - the gzip member format, the same for STREAM and SEEK
 * (see gzip.h for what a file may hold): the one header parser, the one
 * trailer check, what may follow a member, the one ISA-L step, and the
 * error messages. Everything here is fed the bytes at hand and asks for
 * more, so it works on a pipe (STREAM) and on pread chunks (SEEK) alike.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <isa-l/crc.h>
#include <zlib.h>

#include "base/error.h"
#include "codec/gzip.h"

/* RFC 1952 */
#define GZIP_ID1 0x1f
#define GZIP_ID2 0x8b
#define GZIP_CM_DEFLATE 8
#define GZIP_FHCRC 0x02
#define GZIP_FEXTRA 0x04
#define GZIP_FNAME 0x08
#define GZIP_FCOMMENT 0x10
#define GZIP_FRESERVED 0xe0

enum gzip_hdr_step {
	GZIP_HDR_FIXED,		/* ID1 ID2 CM FLG MTIME XFL OS */
	GZIP_HDR_XLEN,
	GZIP_HDR_EXTRA,
	GZIP_HDR_NAME,
	GZIP_HDR_COMMENT,
	GZIP_HDR_HCRC,
	GZIP_HDR_DONE,
};

/* ---- errors ---- */

static int gzip_err_truncated(struct bmap_err *err)
{
	return codec_truncated(err, "gzip");
}

int gzip_err_garbage(struct bmap_err *err)
{
	return codec_corrupt(err, "gzip", "trailing garbage after the last "
			     "member");
}

int gzip_err_deflate(struct bmap_err *err)
{
	return codec_corrupt(err, "gzip", "invalid deflate data");
}

int gzip_err_zlib(int zret, struct bmap_err *err)
{
	if (zret == Z_MEM_ERROR)
		return bmap_seterr(err, ENOMEM, "out of memory");
	return gzip_err_deflate(err);
}

int gzip_err_read(int ret, struct bmap_err *err)
{
	return bmap_seterr(err, -ret, "cannot read the image: %s",
			   strerror(-ret));
}

int gzip_fail_keep(struct gzip_fail *f, int ret, const struct bmap_err *err)
{
	f->code = ret;
	snprintf(f->msg, sizeof(f->msg), "%s", err ? err->msg :
		 "gzip decoding failed");
	return ret;
}

int gzip_fail_again(const struct gzip_fail *f, struct bmap_err *err)
{
	return bmap_seterr(err, -f->code, "%s", f->msg);
}

/* ---- the header ---- */

void gzip_hdr_init(struct gzip_hdr *h, bool first)
{
	memset(h, 0, sizeof(*h));
	h->first = first;
}

/* The fixed part, checked byte by byte as it comes, so that garbage
 * after a member is told at its first bytes, however few there are. */
static int gzip_hdr_fixed(struct gzip_hdr *h, unsigned char b,
			  struct bmap_err *err)
{
	unsigned at = h->have;

	h->fixed[h->have++] = b;
	if ((at == 0 && b != GZIP_ID1) || (at == 1 && b != GZIP_ID2))
		return h->first ? codec_corrupt(err, "gzip", "not a gzip "
						"member header") :
				  gzip_err_garbage(err);
	if (at == 2 && b != GZIP_CM_DEFLATE)
		return codec_corrupt(err, "gzip", "unsupported compression "
				     "method %u", b);
	if (at == 3 && (b & GZIP_FRESERVED))
		return codec_corrupt(err, "gzip", "reserved flags set in a "
				     "member header");
	return 0;
}

/* The field after the one just read, as the flags say. */
static void gzip_hdr_advance(struct gzip_hdr *h)
{
	static const unsigned need[] = {
		[GZIP_HDR_XLEN] = GZIP_FEXTRA, [GZIP_HDR_EXTRA] = GZIP_FEXTRA,
		[GZIP_HDR_NAME] = GZIP_FNAME,
		[GZIP_HDR_COMMENT] = GZIP_FCOMMENT,
		[GZIP_HDR_HCRC] = GZIP_FHCRC,
	};

	h->have = 0;
	do {
		h->step++;
	} while (h->step < GZIP_HDR_DONE && !(h->flags & need[h->step]));
	if (h->step == GZIP_HDR_EXTRA && h->left == 0)
		gzip_hdr_advance(h);
}

/* One step over the bytes at hand: how many it took. */
static int gzip_hdr_take(struct gzip_hdr *h, const unsigned char *p,
			 size_t n, size_t *used, struct bmap_err *err)
{
	const unsigned char *nul;
	int ret;

	*used = 1;
	switch (h->step) {
	case GZIP_HDR_FIXED:
		ret = gzip_hdr_fixed(h, p[0], err);
		if (ret == 0 && h->have == sizeof(h->fixed)) {
			h->flags = h->fixed[3];
			gzip_hdr_advance(h);
		}
		return ret;
	case GZIP_HDR_XLEN:
		h->left |= (uint32_t)p[0] << (8 * h->have++);
		if (h->have == 2)
			gzip_hdr_advance(h);
		return 0;
	case GZIP_HDR_EXTRA:
		*used = n < h->left ? n : h->left;
		h->left -= (uint32_t)*used;
		if (h->left == 0)
			gzip_hdr_advance(h);
		return 0;
	case GZIP_HDR_NAME:
	case GZIP_HDR_COMMENT:
		nul = memchr(p, 0, n);
		*used = nul ? (size_t)(nul - p) + 1 : n;
		if (nul)
			gzip_hdr_advance(h);
		return 0;
	default:		/* GZIP_HDR_HCRC: compared once whole */
		h->fixed[h->have++] = p[0];
		return 0;
	}
}

int gzip_hdr_feed(struct gzip_hdr *h, struct gzip_in *in,
		  struct bmap_err *err)
{
	size_t used;
	unsigned step;
	int ret;

	while (h->step != GZIP_HDR_DONE) {
		if (h->step == GZIP_HDR_HCRC && h->have == 2) {
			if ((h->fixed[0] | (unsigned)h->fixed[1] << 8) !=
			    (h->crc & 0xffff))
				return codec_corrupt(err, "gzip", "header CRC "
						     "mismatch");
			h->step = GZIP_HDR_DONE;
			break;
		}
		if (in->avail == 0)
			return in->eof ? gzip_err_truncated(err) : 0;
		step = h->step;
		ret = gzip_hdr_take(h, in->next, in->avail, &used, err);
		if (ret < 0)
			return ret;
		/* FHCRC covers every header byte before its own. */
		if (step != GZIP_HDR_HCRC)
			h->crc = crc32_gzip_refl(h->crc, in->next, used);
		in->next += used;
		in->avail -= used;
	}
	return 1;
}

/* ---- the trailer, and what follows it ---- */

static uint32_t gzip_le32(const unsigned char *b)
{
	return b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

int gzip_trl_feed(struct gzip_trl *t, struct gzip_in *in, uint32_t crc,
		  uint64_t len, struct bmap_err *err)
{
	size_t n = sizeof(t->b) - t->have;

	if (n > in->avail)
		n = in->avail;
	memcpy(t->b + t->have, in->next, n);
	t->have += (unsigned)n;
	in->next += n;
	in->avail -= n;
	if (t->have < sizeof(t->b))
		return in->eof ? gzip_err_truncated(err) : 0;
	if (gzip_le32(t->b) != crc)
		return codec_corrupt(err, "gzip", "CRC-32 mismatch");
	if (gzip_le32(t->b + 4) != (uint32_t)len)
		return codec_corrupt(err, "gzip", "length mismatch");
	return 1;
}

enum gzip_next gzip_next(const struct gzip_in *in)
{
	if (in->avail == 0)
		return in->eof ? GZIP_NEXT_END : GZIP_NEXT_MORE;
	return in->next[0] == 0 ? GZIP_NEXT_PAD : GZIP_NEXT_MEMBER;
}

int gzip_pad_feed(struct gzip_in *in, struct bmap_err *err)
{
	const unsigned char *p = in->next;
	size_t n = in->avail;

	if (n > 0 && (p[0] != 0 || memcmp(p, p + 1, n - 1) != 0))
		return gzip_err_garbage(err);
	in->next += n;
	in->avail = 0;
	return in->eof ? 1 : 0;
}

/* ---- the ISA-L step ---- */

int gzip_stalled(const struct gzip_in *in, unsigned *stalls,
		 struct bmap_err *err)
{
	if (in->avail == 0 && !in->eof)
		return 0;	/* it wants more input */
	if (in->avail == 0)
		return gzip_err_truncated(err);
	if (++*stalls > 1)
		return codec_corrupt(err, "gzip", "the deflate decoder made "
				     "no progress");
	return 0;
}

/* What tells whether a call moved. */
static uint64_t gzip_isal_mark(const struct inflate_state *st)
{
	return st->avail_in | (uint64_t)st->block_state << 32 |
	       (uint64_t)(st->read_in_length & 0xff) << 40;
}

/* At the end of the deflate data, the whole bytes ISA-L read past it
 * (its bit buffer holds up to 8) are the trailer's first bytes. */
static void gzip_isal_held(struct inflate_state *st, struct gzip_trl *trl)
{
	int bits = st->read_in_length;
	uint64_t v;

	trl->have = 0;
	if (bits < 8)
		return;
	v = st->read_in >> (bits % 8);
	for (int i = 0; i < bits / 8 && i < (int)sizeof(trl->b); i++)
		trl->b[trl->have++] = (unsigned char)(v >> (8 * i));
	st->read_in = 0;
	st->read_in_length = 0;
}

int gzip_isal_step(struct inflate_state *st, struct gzip_in *in,
		   unsigned char *out, size_t len, size_t *done,
		   uint32_t *crc, struct gzip_trl *trl, unsigned *stalls,
		   struct bmap_err *err)
{
	uint32_t avail = in->avail > UINT32_MAX ? UINT32_MAX :
			 (uint32_t)in->avail;
	uint64_t mark;
	int ret;

	st->next_in = (uint8_t *)in->next;
	st->avail_in = avail;
	st->next_out = out;
	st->avail_out = len < GZIP_OUT_MAX ? (uint32_t)len : GZIP_OUT_MAX;
	mark = gzip_isal_mark(st);
	ret = isal_inflate(st);
	*done = (size_t)(st->next_out - out);
	in->next = st->next_in;
	in->avail -= avail - st->avail_in;
	*crc = crc32_gzip_refl(*crc, out, (uint64_t)*done);
	if (ret != ISAL_DECOMP_OK)
		return gzip_err_deflate(err);
	if (st->block_state == ISAL_BLOCK_FINISH) {
		gzip_isal_held(st, trl);
		*stalls = 0;
		return 1;
	}
	if (*done > 0 || gzip_isal_mark(st) != mark) {
		*stalls = 0;
		return 0;
	}
	return gzip_stalled(in, stalls, err);
}
