/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-bmap.c - libFuzzer harness for the bmap reader (xmlread.c): any
 * bytes as a bmap document. What it parses must hold together (ranges in
 * order and within the image, counts that add up), and what the writer
 * makes of it must read back the same.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_map(const struct bmap *m)
{
	uint64_t mapped = 0;

	if (m->block_size == 0 || m->block_size > BMAP_BLOCK_SIZE_MAX)
		abort();
	for (size_t i = 0; i < m->nranges; i++) {
		const struct bmap_range *r = &m->ranges[i];

		if (r->first > r->last || r->last >= m->blocks_count)
			abort();
		if (i > 0 && r->first <= m->ranges[i - 1].last)
			abort();
		mapped += r->last - r->first + 1;
	}
	if (mapped != m->mapped_count)
		abort();
	if (bmap_mapped_bytes(m) > m->image_size)
		abort();
}

static void same_map(const struct bmap *a, const struct bmap *b)
{
	if (a->image_size != b->image_size || a->block_size != b->block_size ||
	    a->nranges != b->nranges || a->digest_len != b->digest_len ||
	    strcmp(a->checksum_type, b->checksum_type) != 0)
		abort();
	for (size_t i = 0; i < a->nranges; i++) {
		const struct bmap_range *x = &a->ranges[i], *y = &b->ranges[i];

		if (x->first != y->first || x->last != y->last ||
		    x->has_digest != y->has_digest ||
		    (x->has_digest &&
		     memcmp(x->digest, y->digest, a->digest_len) != 0))
			abort();
	}
}

static void round_trip(const struct bmap *map, enum bmap_format format)
{
	struct bmap again;
	struct bmap_err err;
	char *out = NULL;
	size_t len = 0;

	if (bmap_write_memory(map, format, &out, &len, &err) < 0)
		return;	/* not every map fits every format */
	bmap_init(&again);
	if (bmap_read_memory(&again, out, len, &err) < 0)
		abort();	/* the writer made what the reader refuses */
	same_map(map, &again);
	bmap_free(&again);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bmap map;
	struct bmap_err err;

	bmap_init(&map);
	err.msg[0] = '\0';
	if (bmap_read_memory(&map, (const char *)data, size, &err) == 0) {
		check_map(&map);
		round_trip(&map, BMAP_FORMAT_1_2);
		round_trip(&map, BMAP_FORMAT_2_0);
	} else if (err.msg[0] == '\0' ||
		   strchr(err.msg, '\n') != NULL) {
		abort();	/* a failure says why, on one line */
	}
	bmap_free(&map);
	return 0;
}
