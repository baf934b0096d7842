/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-source.c - libFuzzer harness for the image source (source.c and
 * the decoders behind it: gzip, bzip2, xz, zstd, lz4, lzop, tar, zip,
 * raw): the bytes as an image file, read to its end or to a cap, so a
 * decompression bomb costs a bounded time.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bmap.h"
#include "fuzz-input.h"

/* Decoded bytes read at most per input. */
#define OUT_CAP (16u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_file file;
	static unsigned char buf[256 << 10];
	struct bmap_source *src;
	struct bmap_err err;
	uint64_t total = 0;
	const char *path = fuzz_file_fill(&file, data, size);
	ssize_t n;

	err.msg[0] = '\0';
	if (bmap_source_open(&src, path, 1, &err) < 0) {
		if (err.msg[0] == '\0')
			abort();	/* a failure says why */
		return 0;
	}
	if (!bmap_source_format(src))
		abort();
	/* Read sizes vary with the input, to reach the decoders' partial
	 * reads too. */
	size_t chunk = size ? 1 + (size_t)data[size - 1] * 1024 : sizeof(buf);

	if (chunk > sizeof(buf))
		chunk = sizeof(buf);
	while (total < OUT_CAP) {
		err.msg[0] = '\0';
		n = bmap_source_read(src, buf, chunk, &err);
		if (n < 0) {
			if (err.msg[0] == '\0')
				abort();
			break;
		}
		if (n == 0)
			break;
		if ((size_t)n > chunk)
			abort();
		total += (uint64_t)n;
	}
	bmap_source_close(src);
	return 0;
}
