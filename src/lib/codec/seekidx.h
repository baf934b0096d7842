/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * seekidx.h - the one encoding of seek points kept between runs, for
 * every format: a list of points, each a fixed number of 64-bit fields
 * the format chooses (offsets in the image and in the file, CRCs...) and
 * an optional blob (a gzip window). A format's save writes its points
 * with seekidx_put; its load reads them back with seekidx_next and still
 * checks each against the file (nothing saved is trusted).
 *
 * Layout, little-endian: "BMAPSEEK", version (4 bytes), the format's
 * name (16 bytes, NUL-padded), fields per point (4), point count (8);
 * then per point its fields (8 bytes each), blob length (4) and blob;
 * last an FNV-1a 64 of everything before it (8), so that a damaged file
 * is refused whole rather than half used.
 */
#ifndef BMAP_CODEC_SEEKIDX_H
#define BMAP_CODEC_SEEKIDX_H

#include <stddef.h>
#include <stdint.h>

#include "bmap.h"
#include "base/strbuf.h"

#define SEEKIDX_FIELDS_MAX 16

struct seekidx_out {
	struct strbuf *sb;
	size_t start;		/* where the list begins in sb */
	size_t count_at;	/* where the count goes in sb */
	uint64_t count;
	unsigned nfields;
};

/* Start a list of points of format (at most 15 characters) with
 * nfields (1..SEEKIDX_FIELDS_MAX) fields each, appended to sb. */
void seekidx_begin(struct seekidx_out *o, struct strbuf *sb,
		   const char *format, unsigned nfields);
/* One point: o->nfields fields, and bloblen bytes of blob (may be 0). */
void seekidx_put(struct seekidx_out *o, const uint64_t *fields,
		 const void *blob, uint32_t bloblen);
/* Finish: the count and the checksum. 0, or -ENOMEM when sb could not
 * grow. */
int seekidx_end(struct seekidx_out *o);

struct seekidx_in {
	const unsigned char *p, *end;	/* the points not yet read */
	uint64_t left;			/* of them */
	unsigned nfields;
};

/* Check a saved list (magic, version, format, field count, checksum,
 * and that the count fits the length): 0, or -EINVAL with "saved FORMAT
 * seek points: WHY" in err. */
int seekidx_open(struct seekidx_in *in, const void *buf, size_t len,
		 const char *format, unsigned nfields, struct bmap_err *err);
/* The next point: 1 with its fields (in->nfields of them) and blob, 0
 * after the last one, -EINVAL when a point does not fit the rest. */
int seekidx_next(struct seekidx_in *in, uint64_t *fields,
		 const void **blob, uint32_t *bloblen);
/* How many points are left to read (at most what the length allows). */
static inline uint64_t seekidx_count(const struct seekidx_in *in)
{
	return in->left;
}

#endif
