/* SPDX-License-Identifier: GPL-2.0-or-later */
/* model.c - the in-memory block map: geometry, ranges, sizes. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmap.h"
#include "bmap/digest.h"
#include "base/error.h"

void bmap_init(struct bmap *map)
{
	memset(map, 0, sizeof(*map));
}

void bmap_free(struct bmap *map)
{
	free(map->ranges);
	bmap_init(map);
}

int bmap_set_geometry(struct bmap *map, uint64_t image_size,
		      uint64_t block_size, struct bmap_err *err)
{
	if (map->nranges)
		return bmap_seterr(err, EINVAL,
				   "geometry set after ranges were added");
	if (block_size == 0)
		return bmap_seterr(err, EINVAL, "block size 0 is invalid");
	if (block_size > BMAP_BLOCK_SIZE_MAX)
		return bmap_seterr(err, EINVAL,
				   "block size %" PRIu64 " is too large "
				   "(at most %u)", block_size,
				   BMAP_BLOCK_SIZE_MAX);
	map->image_size = image_size;
	map->block_size = block_size;
	map->blocks_count = image_size / block_size +
			    (image_size % block_size != 0);
	return 0;
}

int bmap_set_checksum_type(struct bmap *map, const char *name,
			   struct bmap_err *err)
{
	int size;

	if (!name || !*name) {
		map->checksum_type[0] = '\0';
		map->digest_len = 0;
		return 0;
	}
	size = bmap_digest_canonical(name, map->checksum_type,
				     sizeof(map->checksum_type), err);
	if (size < 0)
		return size;
	map->digest_len = (size_t)size;
	return 0;
}

int bmap_add_range(struct bmap *map, uint64_t first, uint64_t last,
		   const unsigned char *digest, struct bmap_err *err)
{
	struct bmap_range *r, *prev;

	if (first > last)
		return bmap_seterr(err, EINVAL,
				   "range %" PRIu64 "-%" PRIu64 ": first block "
				   "is after the last", first, last);
	if (last >= map->blocks_count)
		return bmap_seterr(err, EINVAL,
				   "range %" PRIu64 "-%" PRIu64 " goes past "
				   "the image's %" PRIu64 " blocks",
				   first, last, map->blocks_count);
	prev = map->nranges ? &map->ranges[map->nranges - 1] : NULL;
	if (prev && first <= prev->last)
		return bmap_seterr(err, EINVAL,
				   "range %" PRIu64 "-%" PRIu64 " does not come "
				   "after the previous range %" PRIu64
				   "-%" PRIu64, first, last, prev->first,
				   prev->last);
	if (digest && !map->digest_len)
		return bmap_seterr(err, EINVAL,
				   "range %" PRIu64 "-%" PRIu64 " has a "
				   "checksum but the map has no checksum type",
				   first, last);
	if (map->nranges == map->cap) {
		size_t cap = map->cap ? map->cap * 2 : 64;

		r = realloc(map->ranges, cap * sizeof(*r));
		if (!r)
			return bmap_seterr(err, ENOMEM, "out of memory");
		map->ranges = r;
		map->cap = cap;
	}
	r = &map->ranges[map->nranges++];
	r->first = first;
	r->last = last;
	r->has_digest = digest != NULL;
	if (digest)
		memcpy(r->digest, digest, map->digest_len);
	map->mapped_count += last - first + 1;
	return 0;
}

uint64_t bmap_range_offset(const struct bmap *map, const struct bmap_range *r)
{
	return r->first * map->block_size;
}

uint64_t bmap_range_length(const struct bmap *map, const struct bmap_range *r)
{
	uint64_t blocks = r->last - r->first + 1;
	uint64_t rest = map->image_size - r->first * map->block_size;

	/* Without overflow: the range's blocks, cut at the image's end. */
	return blocks > rest / map->block_size ? rest :
	       blocks * map->block_size;
}

uint64_t bmap_mapped_bytes(const struct bmap *map)
{
	uint64_t total = 0;
	size_t i;

	for (i = 0; i < map->nranges; i++)
		total += bmap_range_length(map, &map->ranges[i]);
	return total;
}

const char *bmap_human_size(uint64_t size, char *buf)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)size;
	size_t i;

	if (size == 1) {
		snprintf(buf, BMAP_HUMAN_MAX, "1 byte");
		return buf;
	}
	if (size < 512) {
		snprintf(buf, BMAP_HUMAN_MAX, "%" PRIu64 " bytes", size);
		return buf;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		v /= 1024.0;
		if (v < 1024.0) {
			snprintf(buf, BMAP_HUMAN_MAX, "%.1f %s", v, units[i]);
			return buf;
		}
	}
	snprintf(buf, BMAP_HUMAN_MAX, "%.1f EiB", v);
	return buf;
}
