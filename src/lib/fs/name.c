/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * name.c - the name bmapfs shows an image under: its file name without
 * compression and archive suffixes and without a final .img or .raw,
 * then ".raw" (image.bz2 -> image.raw, disk.img.xz -> disk.raw,
 * core-image.wic.zst -> core-image.wic.raw).
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "base/error.h"
#include "bmap.h"

/* Suffixes taken off, as many as there are, in any order. */
static const char *const packing[] = {
	".gz", ".gzip", ".bz2", ".bzip2", ".xz", ".lzma", ".zst", ".zstd",
	".lz4", ".lzo", ".lzop", ".tar", ".zip", ".tgz", ".tbz", ".tbz2",
	".txz", ".tzst",
};

/* The suffix of name[0..len) in list, or 0. */
static size_t suffix(const char *name, size_t len, const char *const *list,
		     size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		size_t l = strlen(list[i]);

		/* Something must be left before the dot. */
		if (len > l && !strncasecmp(name + len - l, list[i], l))
			return l;
	}
	return 0;
}

int bmap_raw_name(const char *image, char *out, size_t size)
{
	static const char *const plain[] = { ".img", ".raw" };
	const char *base = strrchr(image, '/');
	size_t len, l;

	base = base ? base + 1 : image;
	len = strlen(base);
	while ((l = suffix(base, len, packing,
			   sizeof(packing) / sizeof(packing[0]))))
		len -= l;
	len -= suffix(base, len, plain, 2);
	if (len == 0 || (len == 1 && base[0] == '.') ||
	    (len == 2 && !strncmp(base, "..", 2))) {
		base = "image";
		len = 5;
	}
	if (len + sizeof(".raw") > size)
		return -ENAMETOOLONG;
	memcpy(out, base, len);
	memcpy(out + len, ".raw", sizeof(".raw"));
	return 0;
}
