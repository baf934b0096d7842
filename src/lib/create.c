/* SPDX-License-Identifier: GPL-2.0-or-later */
/* create.c - make the block map of a sparse image file. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bmap.h"
#include "error.h"

#define HASH_CHUNK (4u * 1024 * 1024)

/* Hash bytes [off, off + len) of the file. */
static int hash_bytes(int fd, uint64_t off, uint64_t len, void *buf,
		      struct bmap_digest *d, unsigned char *out,
		      struct bmap_err *err)
{
	while (len) {
		size_t want = len < HASH_CHUNK ? (size_t)len : HASH_CHUNK;
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return bmap_seterr(err, errno, "cannot read the image "
					   "at byte %llu: %s",
					   (unsigned long long)off,
					   strerror(errno));
		if (n == 0)
			return bmap_seterr(err, EIO, "the image shrank while "
					   "being read (at byte %llu)",
					   (unsigned long long)off);
		if (bmap_digest_update(d, buf, (size_t)n))
			return bmap_seterr(err, EIO, "hashing failed");
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return bmap_digest_final(d, out) ?
	       bmap_seterr(err, EIO, "hashing failed") : 0;
}

static int add_ranges(int fd, const struct bmap_extent_list *ext,
		      const struct bmap_create_opts *opts, struct bmap *map,
		      struct bmap_err *err)
{
	unsigned char digest[BMAP_DIGEST_MAX];
	struct bmap_digest *d = NULL;
	void *buf = NULL;
	size_t i;
	int ret = 0;

	if (!opts->no_checksum) {
		ret = bmap_digest_new(&d, map->checksum_type, err);
		if (ret)
			return ret;
		buf = malloc(HASH_CHUNK);
		if (!buf) {
			bmap_digest_free(d);
			return bmap_seterr(err, ENOMEM, "out of memory");
		}
	}
	for (i = 0; i < ext->n && !ret; i++) {
		struct bmap_range r = { .first = ext->v[i].first,
					.last = ext->v[i].last };

		if (d) {
			ret = hash_bytes(fd, bmap_range_offset(map, &r),
					 bmap_range_length(map, &r), buf, d,
					 digest, err);
			if (ret)
				break;
		}
		ret = bmap_add_range(map, r.first, r.last, d ? digest : NULL,
				     err);
	}
	free(buf);
	bmap_digest_free(d);
	return ret;
}

int bmap_create(int fd, const struct bmap_create_opts *opts, struct bmap *map,
		enum bmap_extent_method *method, struct bmap_err *err)
{
	struct bmap_extent_list ext;
	uint64_t bs = opts->block_size;
	struct stat st;
	int ret;

	bmap_init(map);
	if (fstat(fd, &st) < 0)
		return bmap_seterr(err, errno, "cannot stat: %s",
				   strerror(errno));
	if (!S_ISREG(st.st_mode))
		return bmap_seterr(err, EINVAL, "not a regular file");
	if (st.st_size == 0)
		return bmap_seterr(err, EINVAL, "the image is empty: there is "
				   "nothing to map");
	if (!bs) {
		ret = bmap_fs_block_size(fd, &bs, err);
		if (ret)
			return ret;
	}
	map->version_major = 2;
	ret = bmap_set_geometry(map, (uint64_t)st.st_size, bs, err);
	if (!ret)
		ret = bmap_set_checksum_type(map, opts->checksum_type ?
					     opts->checksum_type : "sha1",
					     err);
	if (ret)
		return ret;
	ret = bmap_extents_scan(fd, map->image_size, bs, opts->extent_flags,
				&ext, method, err);
	if (ret)
		return ret;
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	ret = add_ranges(fd, &ext, opts, map, err);
	bmap_extent_list_free(&ext);
	if (ret)
		bmap_free(map);
	return ret;
}
