/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ra-index.c - keeping seek points between runs. A file holds a header
 * line naming the format and the file itself, then the format's own
 * bytes, which its load checks again (an index is never trusted).
 *
 * Everything is done relative to a descriptor of the folder, opened once
 * without following a link and checked then, so the folder cannot be
 * swapped afterwards for another one.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "bmap/digest.h"
#include "base/error.h"
#include "base/io.h"
#include "fs/ra-index.h"
#include "base/strbuf.h"

#define INDEX_MAGIC "bmapfs-index 1"
/* Larger files are not indexes this code wrote. */
#define INDEX_MAX (256u << 20)
/* "<64 hex digits>.idx" */
#define INDEX_NAME_MAX (2 * 32 + 4 + 1)
/* Bytes of the compressed file hashed at each end. */
#define CONTENT_SPAN (64u << 10)
/* What the warning adds to why the folder is not used. */
#define NOT_KEPT "seek points are not kept"

struct ra_index {
	int dirfd;		/* the folder: O_DIRECTORY, not a link */
	char *dir;		/* its name, for messages */
	char name[INDEX_NAME_MAX];	/* this image's file in it */
};

/* The header: magic, format, and the index file's name (made of the
 * image's identity). */
static void header(struct strbuf *sb, const char *format, const char *name)
{
	strbuf_addf(sb, "%s %s %s\n", INDEX_MAGIC, format, name);
}

static int mkdir_p(const char *dir, struct bmap_err *warn)
{
	char buf[PATH_MAX];
	size_t i, n = strlen(dir);

	if (n == 0 || n >= sizeof(buf))
		return bmap_seterr(warn, EINVAL, "bad index folder %s: "
				   NOT_KEPT, dir);
	memcpy(buf, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return bmap_seterr(warn, errno, "cannot make index "
					   "folder %s: %s: " NOT_KEPT, dir,
					   strerror(errno));
		buf[i] = i < n ? '/' : '\0';
	}
	return 0;
}

/* The folder dir (made if missing), open, if it is fit to keep indexes
 * in: a real folder, the user's or root's, that no one else can write
 * to, and that the user can. */
static int open_dir(const char *dir, int *out, struct bmap_err *warn)
{
	struct statvfs sv;
	struct stat st;
	int fd, ret;
	uid_t me = geteuid();

	ret = mkdir_p(dir, warn);
	if (ret < 0)
		return ret;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		ret = errno;
		return bmap_seterr(warn, ret, "cannot use index folder %s: %s: "
				   NOT_KEPT, dir, ret == ENOTDIR ?
				   "not a folder" : ret == ELOOP ?
				   "a symbolic link" : strerror(ret));
	}
	if (fstat(fd, &st) < 0)
		ret = bmap_seterr(warn, errno, "cannot use index folder %s: "
				  "%s: " NOT_KEPT, dir, strerror(errno));
	else if (st.st_uid != me && st.st_uid != 0)
		ret = bmap_seterr(warn, EPERM, "index folder %s belongs to "
				  "another user: " NOT_KEPT, dir);
	else if (st.st_mode & (S_IWGRP | S_IWOTH))
		ret = bmap_seterr(warn, EPERM, "index folder %s can be "
				  "written by others: " NOT_KEPT, dir);
	else if (fstatvfs(fd, &sv) == 0 && (sv.f_flag & ST_RDONLY))
		ret = bmap_seterr(warn, EROFS, "index folder %s is on a "
				  "read-only file system: " NOT_KEPT, dir);
	else if (faccessat(fd, ".", W_OK | X_OK, AT_EACCESS) < 0)
		ret = bmap_seterr(warn, errno, "cannot write in index folder "
				  "%s: %s: " NOT_KEPT, dir, strerror(errno));
	if (ret < 0) {
		close(fd);
		return ret;
	}
	*out = fd;
	return 0;
}

/* "<realpath> <dev>:<ino> <size> <mtime>": what makes an image this one.
 * Spaces in the path are harmless: the identity is only compared whole. */
static int identity(const char *path, const struct stat *st, char *id,
		    size_t size, struct bmap_err *warn)
{
	char real[PATH_MAX];

	if (!realpath(path, real))
		return bmap_seterr(warn, errno, "%s: %s: " NOT_KEPT, path,
				   strerror(errno));
	if ((size_t)snprintf(id, size, "%s %llu:%llu %lld %lld.%09ld", real,
			     (unsigned long long)st->st_dev,
			     (unsigned long long)st->st_ino,
			     (long long)st->st_size,
			     (long long)st->st_mtim.tv_sec,
			     st->st_mtim.tv_nsec) >= size)
		return bmap_seterr(warn, ENAMETOOLONG, "%s: path too long: "
				   NOT_KEPT, path);
	return 0;
}

/* The first and the last CONTENT_SPAN bytes of the compressed file (all
 * of a smaller one, twice) into d. */
static int hash_content(struct bmap_digest *d, int fd, uint64_t size,
			struct bmap_err *warn)
{
	uint64_t len = size < CONTENT_SPAN ? size : CONTENT_SPAN;
	unsigned char *buf = malloc(CONTENT_SPAN);
	int ret;

	if (!buf)
		return bmap_seterr(warn, ENOMEM, "out of memory: " NOT_KEPT);
	ret = codec_pread(fd, buf, (size_t)len, 0, "image", warn);
	if (ret == 0) {
		bmap_digest_update(d, buf, (size_t)len);
		ret = codec_pread(fd, buf, (size_t)len, size - len, "image",
				   warn);
	}
	if (ret == 0)
		bmap_digest_update(d, buf, (size_t)len);
	free(buf);
	return ret;
}

/*
 * The index file's name: a hash of the image's identity and of its
 * compressed bytes at both ends, so an image rewritten in place with the
 * same size and time is not matched with the old points. The ends,
 * because a single stream keeps a check of all it holds at its end
 * (gzip's CRC-32 and length, bzip2's combined CRC, xz's index), and
 * because reading them costs the same for any image, where a digest of
 * the whole file would cost a read of it at each mount. What this misses
 * (a file of many gzip members or zstd frames rewritten in the middle
 * only, a forgery keeping both ends) costs at worst an EIO, never a
 * wrong byte: seek points are checked as they are used.
 */
static int index_name(int fd, const char *path, const struct stat *st,
		      char *name, struct bmap_err *warn)
{
	char id[PATH_MAX + 128], hex[2 * 32 + 1];
	unsigned char sum[BMAP_DIGEST_MAX];
	struct bmap_digest *d;
	int ret;

	ret = identity(path, st, id, sizeof(id), warn);
	if (ret == 0)
		ret = bmap_digest_new(&d, "sha256", warn);
	if (ret < 0)
		return ret;
	bmap_digest_update(d, id, strlen(id) + 1);
	ret = hash_content(d, fd, (uint64_t)st->st_size, warn);
	if (ret < 0) {
		bmap_digest_free(d);
		return ret;
	}
	bmap_digest_final(d, sum);
	bmap_digest_free(d);
	bmap_hex_encode(sum, 32, hex);
	snprintf(name, INDEX_NAME_MAX, "%s.idx", hex);
	return 0;
}

int ra_index_open(struct ra_index **out, const char *dir, int fd,
		  const char *path, const struct stat *st,
		  struct bmap_err *warn)
{
	struct ra_index *ix = calloc(1, sizeof(*ix));
	int ret;

	if (!ix)
		return bmap_seterr(warn, ENOMEM, "out of memory: " NOT_KEPT);
	ret = index_name(fd, path, st, ix->name, warn);
	if (ret == 0)
		ret = open_dir(dir, &ix->dirfd, warn);
	if (ret == 0 && !(ix->dir = strdup(dir))) {
		close(ix->dirfd);
		ret = bmap_seterr(warn, ENOMEM, "out of memory: " NOT_KEPT);
	}
	if (ret < 0) {
		free(ix);
		return ret;
	}
	*out = ix;
	return 0;
}

void ra_index_close(struct ra_index *ix)
{
	if (!ix)
		return;
	close(ix->dirfd);
	free(ix->dir);
	free(ix);
}

/* The index file, whole, into *buf: only a regular file of the user's,
 * of a size this code could have written. Never a link, and never
 * waiting (a FIFO). */
static int read_all(const struct ra_index *ix, char **buf, size_t *len)
{
	struct stat st;
	size_t done = 0;
	ssize_t n;
	int fd, ret = 0;

	fd = openat(ix->dirfd, ix->name,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || (uint64_t)st.st_size > INDEX_MAX) {
		close(fd);
		return -EINVAL;
	}
	*buf = malloc((size_t)st.st_size + 1);
	if (!*buf) {
		close(fd);
		return -ENOMEM;
	}
	/* A file that shrank since fstat is not loaded. */
	n = io_pread_full(fd, *buf, (size_t)st.st_size, 0);
	if (n < 0)
		ret = (int)n;
	else if ((size_t)n < (size_t)st.st_size)
		ret = -EIO;
	else
		done = (size_t)n;
	close(fd);
	if (ret < 0) {
		free(*buf);
		*buf = NULL;
		return ret;
	}
	*len = done;
	return 0;
}

int ra_index_load(const struct ra_index *ix, const struct codec_seek_ops *ops,
		  void *fmt)
{
	struct strbuf want;
	char *buf = NULL;
	size_t len = 0;
	int ret;

	ret = read_all(ix, &buf, &len);
	if (ret < 0)
		return ret;
	strbuf_init(&want);
	header(&want, ops->name, ix->name);
	if (want.error || len < want.len || memcmp(buf, want.buf, want.len))
		ret = -EINVAL;
	else
		ret = ops->load(fmt, buf + want.len, len - want.len, NULL);
	strbuf_free(&want);
	free(buf);
	return ret;
}

const char *ra_index_name(const struct ra_index *ix)
{
	return ix->name;
}

/* A new file in the folder under a name no one can guess, made by this
 * call (O_EXCL: never one that was there, nor a link's target); its name
 * in tmp. */
static int make_temp(const struct ra_index *ix, char *tmp, size_t size)
{
	unsigned char r[8];
	char hex[2 * sizeof(r) + 1];
	int i, fd;

	for (i = 0; i < 100; i++) {
		if (getrandom(r, sizeof(r), GRND_NONBLOCK) != sizeof(r)) {
			/* Unguessable it is not, but still exclusive. */
			uint64_t x = (uint64_t)time(NULL) * 2654435761u ^
				(uint64_t)getpid() << 20 ^ (uint64_t)i;

			memcpy(r, &x, sizeof(r));
		}
		bmap_hex_encode(r, sizeof(r), hex);
		snprintf(tmp, size, "%s.%s.tmp", ix->name, hex);
		fd = openat(ix->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
			    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd < 0 ? -errno : fd;
	}
	return -EEXIST;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int ra_index_save(const struct ra_index *ix, const struct codec_seek_ops *ops,
		  void *fmt, struct bmap_err *err)
{
	char tmp[INDEX_NAME_MAX + 32];
	struct strbuf sb;
	int fd, ret;

	strbuf_init(&sb);
	header(&sb, ops->name, ix->name);
	ret = ops->save(fmt, &sb);
	if (ret == 0 && sb.error)
		ret = sb.error;
	if (ret < 0) {
		ret = bmap_seterr(err, -ret, "cannot save seek points: %s",
				  strerror(-ret));
		goto out;
	}
	fd = make_temp(ix, tmp, sizeof(tmp));
	if (fd < 0) {
		ret = bmap_seterr(err, -fd, "cannot save seek points in %s: "
				  "%s", ix->dir, strerror(-fd));
		goto out;
	}
	ret = write_all(fd, sb.buf, sb.len);
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && renameat(ix->dirfd, tmp, ix->dirfd, ix->name) < 0)
		ret = -errno;
	if (ret < 0) {
		unlinkat(ix->dirfd, tmp, 0);
		ret = bmap_seterr(err, -ret, "cannot save seek points in %s: "
				  "%s", ix->dir, strerror(-ret));
	}
out:
	strbuf_free(&sb);
	return ret;
}

int ra_index_remove(const struct ra_index *ix, struct bmap_err *err)
{
	if (unlinkat(ix->dirfd, ix->name, 0) < 0 && errno != ENOENT)
		return bmap_seterr(err, errno, "cannot remove a bad seek point "
				   "index from %s: %s", ix->dir,
				   strerror(errno));
	return 0;
}
