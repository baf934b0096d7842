/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bz2-index.c - the SEEK side's cuts saved and loaded between runs,
 * through seekidx (the one encoding of seek points): nothing loaded is
 * trusted, every cut is checked against the file's bits. See bz2-seek.h.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "codec/bz2-seek.h"
#include "codec/seekidx.h"

/*
 * Through seekidx ("bzip2", 3 fields a point): first a START point with
 * the file size and the image size the back was anchored at (+1, or 0);
 * then each cut: its kind, its bit offset and its output length (+1, or
 * 0). Output offsets follow from these, so they are not stored.
 */
#define IDX_FIELDS 3

int bz2_save(void *fmt, struct strbuf *out)
{
	struct bz2_fmt *f = fmt;
	struct seekidx_out o;
	uint64_t v[IDX_FIELDS];
	size_t i;

	pthread_mutex_lock(&f->lock);
	seekidx_begin(&o, out, "bzip2", IDX_FIELDS);
	v[0] = BZ2_CUT_START;
	v[1] = f->fsize;
	v[2] = f->back < f->n ? f->hint + 1 : 0;
	seekidx_put(&o, v, NULL, 0);
	for (i = 0; f->scanned && i < f->n; i++) {
		v[0] = f->cuts[i].kind;
		v[1] = f->cuts[i].pos;
		v[2] = f->cuts[i].len == NOLEN ? 0 :
		       (uint64_t)f->cuts[i].len + 1;
		seekidx_put(&o, v, NULL, 0);
	}
	pthread_mutex_unlock(&f->lock);
	return seekidx_end(&o);
}

/* Check a loaded cut against the file: its magic, and take its CRC and
 * (after an end of stream) the next level from there. */
static bool load_check(struct bz2_fmt *f, struct bz2_entry *c)
{
	unsigned char raw[BZ2_LOOK + 8] = { 0 };
	struct bz2_cut look = { .kind = c->kind, .pos = c->pos % 8 };
	uint64_t avail = f->fsize - c->pos / 8, magic, v = 0;
	size_t q = (size_t)(bz2_eos_end(c->pos) - c->pos / 8), i;

	look.looklen = avail < BZ2_LOOK ? (size_t)avail : BZ2_LOOK;
	if (bz2_pread(f->fd, raw, look.looklen, c->pos / 8) < 0)
		return false;
	memcpy(look.look, raw, BZ2_LOOK);
	for (i = 0; i < 8; i++)
		v = v << 8 | raw[i];
	magic = (v << (c->pos % 8)) >> 16;
	if (magic != (c->kind == BZ2_CUT_BLOCK ? BZ2_MAGIC_BLOCK :
		      BZ2_MAGIC_EOS))
		return false;
	c->crc = bz2_cut_has_crc(&look) ? bz2_cut_crc(&look) : 0;
	if (c->kind == BZ2_CUT_EOS && look.looklen > q)
		c->level = (uint8_t)bz2_header_level(look.look + q,
						 look.looklen - q);
	return true;
}

/* Read the cuts; their levels come from the file as the scan's do. */
static int load_cuts(struct bz2_fmt *f, struct seekidx_in *in,
		     struct bz2_entry *cuts, size_t n)
{
	uint64_t v[IDX_FIELDS], prev = 0;
	unsigned level = f->level0;
	const void *blob;
	uint32_t bloblen;
	size_t i;

	for (i = 0; i < n; i++) {
		if (seekidx_next(in, v, &blob, &bloblen) != 1 || bloblen ||
		    (v[0] != BZ2_CUT_BLOCK && v[0] != BZ2_CUT_EOS) ||
		    (i == 0 && v[1] != 32) || (i > 0 && v[1] <= prev) ||
		    v[1] / 8 >= f->fsize || v[1] + 48 > f->fsize * 8 ||
		    v[2] > (uint64_t)NOLEN)
			return -EINVAL;
		prev = v[1];
		cuts[i].kind = (uint8_t)v[0];
		cuts[i].pos = v[1];
		cuts[i].out = UNKNOWN;
		cuts[i].len = v[2] ? (uint32_t)(v[2] - 1) : NOLEN;
		if (!load_check(f, &cuts[i]))
			return -EINVAL;
		if (cuts[i].kind == BZ2_CUT_EOS && cuts[i].level)
			level = cuts[i].level;
		if (cuts[i].kind == BZ2_CUT_BLOCK)
			cuts[i].level = (uint8_t)level;
		if (v[2] && (cuts[i].kind == BZ2_CUT_EOS ||
			     v[2] - 1 > BLOCK_OUT_MAX(cuts[i].level)))
			return -EINVAL;
	}
	return seekidx_next(in, v, &blob, &bloblen) == 0 ? 0 : -EINVAL;
}

/* Put a loaded table in place of what the fmt has. With both locks. */
static void install(struct bz2_fmt *f, struct bz2_entry *cuts, size_t n,
		    uint64_t anchor)
{
	free(f->cuts);
	f->cuts = cuts;
	f->n = n;
	f->scanned = true;
	f->front = 0;
	f->back = n;
	f->front_end = f->front_stuck = f->back_dead = false;
	f->effort[0] = f->effort[1] = 0;
	cuts[0].out = 0;
	/* Blocks are placed from the end only by a size told this run
	 * (hint_size), never by one a file says; the file's is kept when
	 * they agree. */
	if (anchor && f->hint != anchor - 1)
		anchor = 0;
	bz2_advance_front(f);
	bz2_advance_back(f);
}

int bz2_load(void *fmt, const void *buf, size_t len,
		      struct bmap_err *err)
{
	struct bz2_fmt *f = fmt;
	struct seekidx_in in;
	uint64_t v[IDX_FIELDS], n;
	const void *blob;
	uint32_t bloblen;
	struct bz2_entry *cuts;
	int ret;

	ret = seekidx_open(&in, buf, len, "bzip2", IDX_FIELDS, err);
	if (ret < 0)
		return ret;
	if (seekidx_next(&in, v, &blob, &bloblen) != 1 ||
	    v[0] != BZ2_CUT_START || v[1] != f->fsize)
		return bmap_seterr(err, EINVAL,
				   "saved bzip2 seek points: not this file's");
	n = seekidx_count(&in);
	if (n == 0)
		return 0;
	if (n > f->fsize * 8 / 48 + 1)
		return bmap_seterr(err, EINVAL,
				   "saved bzip2 seek points: too many");
	cuts = calloc((size_t)n, sizeof(*cuts));
	if (!cuts)
		return bz2_err_nomem(err);
	ret = load_cuts(f, &in, cuts, (size_t)n);
	if (ret < 0) {
		free(cuts);
		return bmap_seterr(err, EINVAL, "saved bzip2 seek points: "
				   "they do not fit the file");
	}
	pthread_mutex_lock(&f->work);
	pthread_mutex_lock(&f->lock);
	install(f, cuts, (size_t)n, v[2]);
	pthread_mutex_unlock(&f->lock);
	pthread_mutex_unlock(&f->work);
	return 0;
}
