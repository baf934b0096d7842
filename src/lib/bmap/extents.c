/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * extents.c - which blocks of an open file hold data: FIEMAP first (it
 * sees unwritten extents the way the reference tool does), then lseek
 * SEEK_DATA/SEEK_HOLE (the only way through FUSE), then "all mapped".
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HAVE_FIEMAP
#include <linux/fiemap.h>
#include <linux/fs.h>
#endif

#include "bmap.h"
#include "base/error.h"

void bmap_extent_list_free(struct bmap_extent_list *list)
{
	free(list->v);
	memset(list, 0, sizeof(*list));
}

/* Add the blocks holding bytes [start, end) of the file, merging with the
 * previous extent when they touch. */
static int add_bytes(struct bmap_extent_list *l, uint64_t start, uint64_t end,
		     uint64_t bs, uint64_t nblocks)
{
	uint64_t first, last;
	struct bmap_extent *prev;

	if (end <= start)
		return 0;
	first = start / bs;
	last = (end - 1) / bs;
	if (first >= nblocks)
		return 0;
	if (last >= nblocks)
		last = nblocks - 1;
	prev = l->n ? &l->v[l->n - 1] : NULL;
	if (prev && first <= prev->last + 1) {
		if (last > prev->last)
			prev->last = last;
		return 0;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct bmap_extent *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].first = first;
	l->v[l->n].last = last;
	l->n++;
	return 0;
}

#ifdef HAVE_FIEMAP
#define FIEMAP_BATCH 512

/* 0 on success (*works false: FIEMAP is not supported here), -errno on
 * failure. */
static int scan_fiemap(int fd, uint64_t size, uint64_t bs,
		       struct bmap_extent_list *l, bool *works)
{
	uint64_t nblocks = size / bs + (size % bs != 0);
	struct fiemap *fm;
	uint64_t pos = 0;
	int ret = 0;

	*works = true;
	fm = calloc(1, sizeof(*fm) +
		       FIEMAP_BATCH * sizeof(struct fiemap_extent));
	if (!fm)
		return -ENOMEM;
	while (pos < size) {
		struct fiemap_extent *last_ext;
		uint32_t i;

		memset(fm, 0, sizeof(*fm));
		fm->fm_start = pos;
		fm->fm_length = size - pos;
		fm->fm_flags = FIEMAP_FLAG_SYNC;
		fm->fm_extent_count = FIEMAP_BATCH;
		if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0) {
			if (pos == 0)
				*works = false;
			else
				ret = -errno;
			break;
		}
		if (fm->fm_mapped_extents == 0)
			break;
		for (i = 0; i < fm->fm_mapped_extents; i++) {
			struct fiemap_extent *e = &fm->fm_extents[i];

			ret = add_bytes(l, e->fe_logical,
					e->fe_logical + e->fe_length, bs,
					nblocks);
			if (ret)
				goto out;
		}
		last_ext = &fm->fm_extents[fm->fm_mapped_extents - 1];
		if (last_ext->fe_flags & FIEMAP_EXTENT_LAST)
			break;
		if (last_ext->fe_logical + last_ext->fe_length <= pos)
			break;
		pos = last_ext->fe_logical + last_ext->fe_length;
	}
out:
	free(fm);
	return ret;
}
#endif

/* 0 on success (*works false: SEEK_DATA is not supported here), -errno
 * on failure. */
static int scan_seek(int fd, uint64_t size, uint64_t bs,
		     struct bmap_extent_list *l, bool *works)
{
	uint64_t nblocks = size / bs + (size % bs != 0);
	off_t pos = 0, data, hole;
	int ret;

	*works = true;
	while ((uint64_t)pos < size) {
		data = lseek(fd, pos, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO)
				return 0;
			if (pos == 0 && (errno == EINVAL ||
					 errno == EOPNOTSUPP)) {
				*works = false;
				return 0;
			}
			return -errno;
		}
		if ((uint64_t)data >= size)
			return 0;	/* data past the part asked about */
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		if ((uint64_t)hole > size)
			hole = (off_t)size;
		if (hole <= data)
			return -EIO;	/* a file system that contradicts itself */
		ret = add_bytes(l, (uint64_t)data, (uint64_t)hole, bs,
				nblocks);
		if (ret)
			return ret;
		pos = hole;
	}
	return 0;
}

int bmap_extents_scan(int fd, uint64_t size, uint64_t block_size,
		      unsigned flags, struct bmap_extent_list *list,
		      enum bmap_extent_method *method, struct bmap_err *err)
{
	uint64_t nblocks;
	bool done = false;	/* a method answered */
	int ret;

	memset(list, 0, sizeof(*list));
	if (!block_size)
		return bmap_seterr(err, EINVAL, "block size 0 is invalid");
	nblocks = size / block_size + (size % block_size != 0);
#ifdef HAVE_FIEMAP
	if (!(flags & BMAP_EXTENTS_NO_FIEMAP)) {
		*method = BMAP_EXTENTS_FIEMAP;
		ret = scan_fiemap(fd, size, block_size, list, &done);
		if (ret < 0)
			goto fail;
		if (!done)
			bmap_extent_list_free(list);
	}
#endif
	if (!done && !(flags & BMAP_EXTENTS_NO_SEEK)) {
		*method = BMAP_EXTENTS_SEEK;
		ret = scan_seek(fd, size, block_size, list, &done);
		if (ret < 0)
			goto fail;
		if (!done)
			bmap_extent_list_free(list);
	}
	if (!done) {
		*method = BMAP_EXTENTS_ALL;
		ret = add_bytes(list, 0, size, block_size, nblocks);
		if (ret < 0)
			goto fail;
	}
	return 0;
fail:
	bmap_extent_list_free(list);
	return bmap_seterr(err, -ret, "cannot find the file's extents: %s",
			   strerror(-ret));
}

int bmap_fs_block_size(int fd, uint64_t *block_size, struct bmap_err *err)
{
	struct stat st;
	int bs = 0;

#ifdef FIGETBSZ
	if (ioctl(fd, FIGETBSZ, &bs) == 0 && bs > 0) {
		*block_size = (uint64_t)bs;
		return 0;
	}
#endif
	if (fstat(fd, &st) < 0)
		return bmap_seterr(err, errno, "cannot stat: %s",
				   strerror(errno));
	if (st.st_blksize <= 0)
		return bmap_seterr(err, EINVAL, "cannot tell the block size");
	*block_size = (uint64_t)st.st_blksize;
	return 0;
}
