/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * verify.c - the range walk: which range the bytes fed belong to, its
 * digest finished at its last byte, and the verdict (see verify.h).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "bmap/verify.h"

struct verify {
	const struct bmap *map;
	verify_want_fn want;
	void *ctx;
	struct bmap_digest *d;	/* NULL: the map has no checksums */
	bool fed;		/* next is set */
	uint64_t next;		/* the offset that follows the last fed */
	size_t i;		/* the first range that ends after next */
	bool hashing;		/* range i is being hashed */
	size_t matched;
};

static uint64_t walk_range_end(const struct bmap *map, size_t i)
{
	const struct bmap_range *r = &map->ranges[i];

	return bmap_range_offset(map, r) + bmap_range_length(map, r);
}

size_t verify_range_after(const struct bmap *map, uint64_t off)
{
	size_t lo = 0, hi = map->nranges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (walk_range_end(map, mid) <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void verify_range_name(const struct bmap_range *r, char *buf, size_t size)
{
	if (r->first == r->last)
		snprintf(buf, size, "block %" PRIu64, r->first);
	else
		snprintf(buf, size, "blocks %" PRIu64 "-%" PRIu64, r->first,
			 r->last);
}

size_t verify_count(const struct bmap *map)
{
	size_t i, n = 0;

	for (i = 0; map->digest_len && i < map->nranges; i++)
		n += map->ranges[i].has_digest;
	return n;
}

int verify_new(struct verify **wp, const struct bmap *map,
	       verify_want_fn want, void *ctx, struct bmap_err *err)
{
	struct verify *w = calloc(1, sizeof(*w));
	int ret;

	if (!w)
		return bmap_seterr(err, ENOMEM, "out of memory");
	w->map = map;
	w->want = want;
	w->ctx = ctx;
	if (map->digest_len) {
		ret = bmap_digest_new(&w->d, map->checksum_type, err);
		if (ret < 0) {
			free(w);
			return ret;
		}
	}
	*wp = w;
	return 0;
}

void verify_free(struct verify *w)
{
	if (!w)
		return;
	bmap_digest_free(w->d);
	free(w);
}

size_t verify_matched(const struct verify *w)
{
	return w->matched;
}

/* Range i is hashed whole: its verdict. */
static int walk_finish(struct verify *w, struct verify_step *step,
		       struct bmap_err *err)
{
	const struct bmap *map = w->map;
	const struct bmap_range *r = &map->ranges[w->i];
	unsigned char got[BMAP_DIGEST_MAX];
	char want_hex[2 * BMAP_DIGEST_MAX + 1], got_hex[2 * BMAP_DIGEST_MAX + 1];
	char name[64];

	w->hashing = false;
	w->i++;
	if (bmap_digest_final(w->d, got))
		return bmap_seterr(err, EIO, "hashing failed");
	if (!memcmp(got, r->digest, map->digest_len)) {
		step->verdict = VERIFY_MATCH;
		w->matched++;
		return 0;
	}
	step->verdict = VERIFY_MISMATCH;
	verify_range_name(r, name, sizeof(name));
	bmap_hex_encode(r->digest, map->digest_len, want_hex);
	bmap_hex_encode(got, map->digest_len, got_hex);
	return bmap_seterr(err, EBADMSG, "checksum mismatch in %s: the bmap "
			   "says %s %s, the image has %s", name,
			   map->checksum_type, want_hex, got_hex);
}

/* Hash what range i gets of buf (which starts inside it). */
static int walk_hash(struct verify *w, uint64_t off,
		     const unsigned char *buf, size_t len,
		     struct verify_step *step, struct bmap_err *err)
{
	uint64_t end = walk_range_end(w->map, w->i);
	unsigned char scrap[BMAP_DIGEST_MAX];

	step->len = end - off < len ? (size_t)(end - off) : len;
	step->range = w->i;
	w->next = off + step->len;
	if (bmap_digest_update(w->d, buf, step->len)) {
		/* The range is dropped; the next starts afresh. */
		bmap_digest_final(w->d, scrap);
		w->hashing = false;
		return bmap_seterr(err, EIO, "hashing failed");
	}
	return w->next == end ? walk_finish(w, step, err) : 0;
}

int verify_feed(struct verify *w, uint64_t off, const void *buf, size_t len,
		struct verify_step *step, struct bmap_err *err)
{
	const struct bmap *map = w->map;
	uint64_t pos = off, stop = off + len;
	unsigned char scrap[BMAP_DIGEST_MAX];

	*step = (struct verify_step){ .range = VERIFY_NOT_HASHED };
	if (!len)
		return 0;
	if (!w->fed || off != w->next) {	/* a jump */
		if (w->hashing)
			bmap_digest_final(w->d, scrap);	/* restart it */
		w->hashing = false;
		w->i = verify_range_after(map, off);
		w->fed = true;
	}
	if (w->hashing)
		return walk_hash(w, off, buf, len, step, err);
	/* Pass over what is not to be hashed, up to a range that is. */
	while (pos < stop && w->i < map->nranges) {
		uint64_t start = bmap_range_offset(map, &map->ranges[w->i]);
		uint64_t end = walk_range_end(map, w->i);

		if (start > pos) {
			pos = start < stop ? start : stop;
			continue;
		}
		if (start == pos && w->d && map->ranges[w->i].has_digest) {
			if (pos > off)
				break;	/* the bytes before it first */
			if (!w->want || w->want(w->ctx, w->i)) {
				w->hashing = true;
				return walk_hash(w, off, buf, len, step, err);
			}
		}
		pos = end < stop ? end : stop;
		if (pos == end)
			w->i++;
	}
	if (w->i >= map->nranges)
		pos = stop;	/* past the last range */
	step->len = (size_t)(pos - off);
	w->next = pos;
	return 0;
}
