/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuse-sparse.c - a test file system: one read-only file, "image", with the
 * bytes and the holes of a backing file.
 *
 *   fuse-sparse BACKING_FILE MOUNTPOINT [fuse options]
 *
 * Holes are reported through lseek(SEEK_DATA/SEEK_HOLE), passed through to
 * the backing file. There is no ioctl, so FIEMAP fails on "image": the
 * programs under test must fall back to lseek.
 */
#include "config.h"

#define FUSE_USE_VERSION 31

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMAGE_PATH "/image"

struct sparse {
	int fd;
	off_t size;
};

static struct sparse *sparse(void)
{
	return fuse_get_context()->private_data;
}

static int sp_getattr(const char *path, struct stat *st,
		      struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof(*st));
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		return 0;
	}
	if (strcmp(path, IMAGE_PATH) != 0)
		return -ENOENT;

	struct stat bst;

	if (fstat(sparse()->fd, &bst) < 0)
		return -errno;
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_size = sparse()->size;
	st->st_blocks = bst.st_blocks;
	st->st_mtim = bst.st_mtim;
	return 0;
}

static int sp_readdir(const char *path, void *buf, fuse_fill_dir_t fill,
		      off_t offset, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	(void)offset;
	(void)fi;
	(void)flags;
	if (strcmp(path, "/") != 0)
		return -ENOENT;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, IMAGE_PATH + 1, NULL, 0, 0);
	return 0;
}

static int sp_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path, IMAGE_PATH) != 0)
		return -ENOENT;
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	return 0;
}

static int sp_read(const char *path, char *buf, size_t size, off_t offset,
		   struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	ssize_t n = pread(sparse()->fd, buf, size, offset);

	return n < 0 ? -errno : (int)n;
}

static off_t sp_lseek(const char *path, off_t off, int whence,
		      struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	off_t r = lseek(sparse()->fd, off, whence);

	return r < 0 ? -errno : r;
}

static const struct fuse_operations sp_ops = {
	.getattr = sp_getattr,
	.readdir = sp_readdir,
	.open = sp_open,
	.read = sp_read,
	.lseek = sp_lseek,
};

int main(int argc, char *argv[])
{
	struct sparse sp;
	struct stat st;

	if (argc < 3) {
		fprintf(stderr,
			"usage: %s BACKING_FILE MOUNTPOINT [fuse options]\n",
			argv[0]);
		return 2;
	}
	sp.fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (sp.fd < 0 || fstat(sp.fd, &st) < 0) {
		fprintf(stderr, "%s: cannot open %s: %s\n", argv[0], argv[1],
			strerror(errno));
		return 1;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "%s: %s is not a regular file\n", argv[0],
			argv[1]);
		return 1;
	}
	sp.size = st.st_size;

	/* FUSE sees: argv[0] MOUNTPOINT [fuse options]. */
	char **fargv = calloc((size_t)argc, sizeof(*fargv));

	if (!fargv) {
		fprintf(stderr, "%s: out of memory\n", argv[0]);
		return 1;
	}
	fargv[0] = argv[0];
	for (int i = 2; i < argc; i++)
		fargv[i - 1] = argv[i];

	int ret = fuse_main(argc - 1, fargv, &sp_ops, &sp);

	free(fargv);
	close(sp.fd);
	return ret == 0 ? 0 : 1;
}
