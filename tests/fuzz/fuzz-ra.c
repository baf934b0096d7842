/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-ra.c - libFuzzer harness for the random-access engine (ra.c and
 * the seekable formats behind it): the input is 8 bytes that choose the
 * reads, then the compressed file. A few reads at those offsets, with
 * the smallest cache; what one offset reads must match what a read
 * covering it got. Offsets stay below a cap, so a bomb costs a bounded
 * time.
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
		break;
	}
	bmap_ra_close(ra);
	return 0;
}
