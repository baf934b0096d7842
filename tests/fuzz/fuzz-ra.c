/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-ra.c - libFuzzer harness for the random-access engine (ra.c and
 * the seekable formats behind it): the input is 8 bytes that choose the
 * reads, then the compressed file. A few reads at those offsets, with
 * the smallest cache; what one offset reads must match what a read
 * covering it got. Offsets stay below a cap, so a bomb costs a bounded
 * time. Then the verified view over the same engine, with a bmap of one
 * range around the first good read (its checksum taken from the bytes
 * read): whatever it returns is those bytes.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bmap.h"
#include "fuzz-input.h"

#define PARAMS 8
#define READS 4
/* Offsets and lengths stay within this much decoded data. */
#define OFF_CAP (8u << 20)
#define LEN_MAX (128u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BS 4096u

/* A bmap of one range, [off rounded down to a block, off + len), made
 * from the engine's bytes, and the view over it: what the view returns
 * of it is what the engine read, or an error. */
static void through_view(struct bmap_ra *ra, uint64_t off, size_t len)
{
	static unsigned char range[LEN_MAX + BS], out[LEN_MAX + BS];
	uint64_t start = off - off % BS, end = off + len;
	unsigned char sum[BMAP_DIGEST_MAX];
	struct bmap_digest *d;
	struct bmap_view *view;
	struct bmap_err err;
	struct bmap map;
	ssize_t n;

	n = bmap_ra_pread(ra, range, (size_t)(end - start), start, &err);
	if (n != (ssize_t)(end - start))
		return;
	if (bmap_digest_new(&d, "sha256", &err) < 0)
		abort();
	bmap_digest_update(d, range, (size_t)n);
	bmap_digest_final(d, sum);
	bmap_digest_free(d);
	bmap_init(&map);
	if (bmap_set_geometry(&map, end, BS, &err) < 0 ||
	    bmap_set_checksum_type(&map, "sha256", &err) < 0 ||
	    bmap_add_range(&map, start / BS, (end - 1) / BS, sum, &err) < 0 ||
	    bmap_view_open(&view, ra, &map, true, &err) < 0)
		abort();
	for (int k = 0; k < 2; k++) {
		/* The part asked for, then the whole range. */
		uint64_t at = k ? start : off;

		err.msg[0] = '\0';
		n = bmap_view_read(view, out, (size_t)(end - at), at, &err);
		if (n >= 0 && (n != (ssize_t)(end - at) ||
			       memcmp(out, range + (at - start), (size_t)n)))
			abort();
		if (n < 0 && err.msg[0] == '\0')
			abort();
	}
	bmap_view_close(view);
	bmap_free(&map);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_file file;
	static unsigned char buf[READS][LEN_MAX], again[LEN_MAX];
	struct bmap_ra_opts opts = {
		.cache_size = BMAP_RA_CACHE_MIN,
		.threads = 1,
	};
	uint64_t off[READS];
	size_t len[READS];
	ssize_t got[READS];
	struct bmap_ra *ra;
	struct bmap_err err;
	const char *path;

	if (size < PARAMS)
		return 0;
	for (int i = 0; i < READS; i++) {
		off[i] = ((uint64_t)data[2 * i] << 15 |
			  (uint64_t)data[2 * i + 1] << 7) % OFF_CAP;
		len[i] = 1 + ((size_t)data[2 * i + 1] * 997) % LEN_MAX;
	}
	path = fuzz_file_fill(&file, data + PARAMS, size - PARAMS);
	err.msg[0] = '\0';
	if (bmap_ra_open(&ra, path, &opts, &err) < 0) {
		if (err.msg[0] == '\0')
			abort();
		return 0;
	}
	if (!bmap_ra_format(ra))
		abort();
	for (int i = 0; i < READS; i++) {
		err.msg[0] = '\0';
		got[i] = bmap_ra_pread(ra, buf[i], len[i], off[i], &err);
		if (got[i] < 0 && err.msg[0] == '\0')
			abort();
		if (got[i] > (ssize_t)len[i])
			abort();
		if (bmap_ra_point(ra, off[i]) > off[i])
			abort();
	}
	/* Read the first good read again, from wherever the engine starts
	 * now (cache, a cursor further on, a seek point): same bytes. */
	for (int i = 0; i < READS; i++) {
		if (got[i] <= 0)
			continue;
		ssize_t n = bmap_ra_pread(ra, again, (size_t)got[i], off[i],
					  &err);

		if (n >= 0 && (n != got[i] || memcmp(again, buf[i],
						      (size_t)n) != 0))
			abort();
		through_view(ra, off[i], (size_t)got[i]);
		break;
	}
	bmap_ra_close(ra);
	return 0;
}
