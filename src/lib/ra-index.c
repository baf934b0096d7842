/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ra-index.c - keeping seek points between runs. A file holds a header
 * line naming the format and the file itself, then the format's own
 * bytes, which its load checks again (an index is never trusted).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "error.h"
#include "ra-index.h"
#include "strbuf.h"

#define INDEX_MAGIC "bmapfs-index 1"
/* Larger files are not indexes this code wrote. */
#define INDEX_MAX (256u << 20)

/* The header: magic, format, and the index file's name (made of the
 * image's identity). */
static void header(struct strbuf *sb, const char *format, const char *path)
{
	const char *base = strrchr(path, '/');

	strbuf_addf(sb, "%s %s %s\n", INDEX_MAGIC, format,
		    base ? base + 1 : path);
}

static int mkdir_p(const char *dir, struct bmap_err *err)
{
	char buf[PATH_MAX];
	size_t i, n = strlen(dir);

	if (n == 0 || n >= sizeof(buf))
		return bmap_seterr(err, EINVAL, "bad index folder: %s", dir);
	memcpy(buf, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return bmap_seterr(err, errno,
					   "cannot make index folder %s: %s",
					   buf, strerror(errno));
		buf[i] = i < n ? '/' : '\0';
	}
	return 0;
}

/* "<realpath> <dev>:<ino> <size> <mtime>": what makes an image this one.
 * Spaces in the path are harmless: the identity is only compared whole. */
static int identity(const char *path, const struct stat *st, char *id,
		    size_t size, struct bmap_err *err)
{
	char real[PATH_MAX];

	if (!realpath(path, real))
		return bmap_seterr(err, errno, "%s: %s", path,
				   strerror(errno));
	if ((size_t)snprintf(id, size, "%s %llu:%llu %lld %lld.%09ld", real,
			     (unsigned long long)st->st_dev,
			     (unsigned long long)st->st_ino,
			     (long long)st->st_size,
			     (long long)st->st_mtim.tv_sec,
			     st->st_mtim.tv_nsec) >= size)
		return bmap_seterr(err, ENAMETOOLONG, "%s: path too long",
				   path);
	return 0;
}

int ra_index_path(const char *dir, const char *path, const struct stat *st,
		  char **out, struct bmap_err *err)
{
	char id[PATH_MAX + 128], hex[2 * 32 + 1];
	unsigned char sum[BMAP_DIGEST_MAX];
	struct bmap_digest *d;
	int ret;

	ret = mkdir_p(dir, err);
	if (ret == 0)
		ret = identity(path, st, id, sizeof(id), err);
	if (ret == 0)
		ret = bmap_digest_new(&d, "sha256", err);
	if (ret < 0)
		return ret;
	bmap_digest_update(d, id, strlen(id));
	bmap_digest_final(d, sum);
	bmap_digest_free(d);
	bmap_hex_encode(sum, 32, hex);
	if (asprintf(out, "%s/%s.idx", dir, hex) < 0)
		return bmap_seterr(err, ENOMEM, "out of memory");
	return 0;
}

/* A whole (small) file into *buf. */
static int read_all(const char *path, char **buf, size_t *len)
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > INDEX_MAX) {
		close(fd);
		return -EINVAL;
	}
	*buf = malloc((size_t)st.st_size + 1);
	if (!*buf) {
		close(fd);
		return -ENOMEM;
	}
	n = pread(fd, *buf, (size_t)st.st_size, 0);
	if (n != st.st_size) {
		free(*buf);
		ret = n < 0 ? -errno : -EIO;
	}
	*len = (size_t)st.st_size;
	close(fd);
	return ret;
}

int ra_index_load(const char *path, const struct ra_format_ops *ops,
		  void *fmt)
{
	struct strbuf want;
	char *buf = NULL;
	size_t len = 0;
	int ret;

	ret = read_all(path, &buf, &len);
	if (ret < 0)
		return ret;
	strbuf_init(&want);
	header(&want, ops->name, path);
	if (want.error || len < want.len || memcmp(buf, want.buf, want.len))
		ret = -EINVAL;
	else
		ret = ops->load(fmt, buf + want.len, len - want.len, NULL);
	strbuf_free(&want);
	free(buf);
	return ret;
}

int ra_index_save(const char *path, const struct ra_format_ops *ops,
		  void *fmt, struct bmap_err *err)
{
	struct strbuf sb;
	char *tmp = NULL;
	int fd = -1, ret;

	strbuf_init(&sb);
	header(&sb, ops->name, path);
	ret = ops->save(fmt, &sb);
	if (ret == 0 && sb.error)
		ret = sb.error;
	if (ret < 0) {
		ret = bmap_seterr(err, -ret, "cannot save seek points: %s",
				  strerror(-ret));
		goto out;
	}
	if (asprintf(&tmp, "%s.%ld.tmp", path, (long)getpid()) < 0) {
		tmp = NULL;
		ret = bmap_seterr(err, ENOMEM, "out of memory");
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0 && write(fd, sb.buf, sb.len) == (ssize_t)sb.len &&
	    fsync(fd) == 0) {
		ret = close(fd);
		fd = -1;
		if (ret == 0)
			ret = rename(tmp, path);
	} else {
		ret = -1;
	}
	if (ret < 0) {
		ret = bmap_seterr(err, errno ? errno : EIO, "cannot write %s: %s",
				  path, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
	}
out:
	free(tmp);
	strbuf_free(&sb);
	return ret;
}
