/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * target.c - the destination of a copy: a block device opened exclusively
 * and tuned for one long sequential write (and put back afterwards), or a
 * regular file sized to the image so that holes stay holes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/fs.h>

#include "bmap.h"
#include "base/error.h"
#include "base/io.h"

/* Buffered writes are synced after this many bytes. */
#define DIRTY_MAX (64u * 1024 * 1024)

/* A sysfs setting changed for the copy, with the value to put back. */
struct knob {
	char path[PATH_MAX];
	char old[128];
	int changed;
};

struct bmap_target {
	int fd;			/* buffered */
	int dfd;		/* O_DIRECT, or -1 */
	unsigned align;		/* what O_DIRECT needs of offsets and sizes */
	int is_dev;
	uint64_t image_size;
	uint64_t dirty;		/* bytes written through the page cache */
	struct knob scheduler;
	struct knob max_ratio;
};

static int read_text(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = io_read_full(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int ret = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	if (n < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	return ret;
}

/* The active scheduler in "mq-deadline [none] kyber" style text. */
static void active_choice(const char *list, char *out, size_t size)
{
	const char *a = strchr(list, '['), *b = a ? strchr(a, ']') : NULL;

	if (a && b && (size_t)(b - a - 1) < size)
		snprintf(out, size, "%.*s", (int)(b - a - 1), a + 1);
	else
		snprintf(out, size, "%s", list);
}

/* Set the knob to the first of `wanted` that the kernel takes. */
static int tune(struct knob *k, const char *const *wanted, int is_list)
{
	char cur[sizeof(k->old)];
	int ret = read_text(k->path, cur, sizeof(cur));

	if (ret)
		return ret;
	ret = -EINVAL;
	if (is_list)
		active_choice(cur, k->old, sizeof(k->old));
	else
		snprintf(k->old, sizeof(k->old), "%s", cur);
	for (; *wanted; wanted++) {
		if (!strcmp(k->old, *wanted))
			return 0;
		ret = write_text(k->path, *wanted);
		if (!ret) {
			k->changed = 1;
			return 0;
		}
	}
	return ret;
}

static void untune(struct knob *k)
{
	if (k->changed && !write_text(k->path, k->old))
		k->changed = 0;
}

/* sysfs folder of the whole disk a device node belongs to. */
static int disk_dir(dev_t rdev, char *out, size_t size)
{
	char link[PATH_MAX], real[PATH_MAX], probe[PATH_MAX + 16];
	struct stat st;

	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(rdev),
		 minor(rdev));
	if (!realpath(link, real))
		return -errno;
	snprintf(probe, sizeof(probe), "%s/partition", real);
	if (stat(probe, &st) == 0) {
		char *slash = strrchr(real, '/');

		if (slash)
			*slash = '\0';
	}
	if (strlen(real) >= size)
		return -ENAMETOOLONG;
	snprintf(out, size, "%s", real);
	return 0;
}

static void tune_device(struct bmap_target *t, dev_t rdev,
		       struct bmap_err *warn)
{
	static const char *const sched[] = { "none", "noop", NULL };
	static const char *const ratio[] = { "1", NULL };
	char dir[PATH_MAX - 32];
	int ret;

	ret = disk_dir(rdev, dir, sizeof(dir));
	if (ret) {
		bmap_seterr(warn, -ret, "cannot find the device in sysfs (%s): "
			    "its I/O settings are left as they are",
			    strerror(-ret));
		return;
	}
	snprintf(t->scheduler.path, sizeof(t->scheduler.path),
		 "%s/queue/scheduler", dir);
	snprintf(t->max_ratio.path, sizeof(t->max_ratio.path),
		 "%s/bdi/max_ratio", dir);
	ret = tune(&t->scheduler, sched, 1);
	if (ret)
		bmap_seterr(warn, -ret, "cannot set the I/O scheduler in %s: "
			    "%s", t->scheduler.path, strerror(-ret));
	ret = tune(&t->max_ratio, ratio, 0);
	if (ret)
		bmap_seterr(warn, -ret, "cannot set %s: %s",
			    t->max_ratio.path, strerror(-ret));
}

/* A descriptor's file status flags with `set` added and `clear` taken
 * away. */
static int set_flags(int fd, int set, int clear)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, (fl | set) & ~clear) < 0)
		return -errno;
	return 0;
}

/* Another descriptor of path for writing, which must be the file st
 * describes (path may have changed since it was opened): it, or -errno
 * (-ESTALE when it is another file). */
static int reopen_same(const char *path, int flags, const struct stat *st)
{
	struct stat st2;
	int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC | flags);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st2) < 0 || st2.st_dev != st->st_dev ||
	    st2.st_ino != st->st_ino || st2.st_rdev != st->st_rdev) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

/* The path names another file than the one opened: refused. */
static int stale_error(struct bmap_err *err)
{
	return bmap_seterr(err, ESTALE, "it changed while it was opened: "
			   "refused");
}

/* fd: the device, opened exclusively (O_EXCL). */
static int open_device(struct bmap_target *t, const char *path, int fd,
		       const struct stat *st, struct bmap_err *warn,
		       struct bmap_err *err)
{
	uint64_t size;
	int lbs = 512, ret;

	t->is_dev = 1;
	t->dfd = fd;
	ret = set_flags(t->dfd, O_DIRECT, O_NONBLOCK);
	if (ret)
		return bmap_seterr(err, -ret, "cannot open: %s",
				   strerror(-ret));
	/* The exclusive descriptor keeps others out; this one is for the
	 * writes O_DIRECT cannot take. */
	ret = reopen_same(path, 0, st);
	if (ret == -ESTALE)
		return stale_error(err);
	if (ret < 0)
		return bmap_seterr(err, -ret, "cannot open: %s",
				   strerror(-ret));
	t->fd = ret;
	if (ioctl(t->dfd, BLKGETSIZE64, &size) < 0)
		return bmap_seterr(err, errno, "cannot tell the device's "
				   "size: %s", strerror(errno));
	if (t->image_size != BMAP_SIZE_UNKNOWN && size < t->image_size)
		return bmap_seterr(err, ENOSPC, "the device is too small: %"
				   PRIu64 " bytes, the image needs %" PRIu64,
				   size, t->image_size);
	if (ioctl(t->dfd, BLKSSZGET, &lbs) == 0 && lbs > 0)
		t->align = (unsigned)lbs;
	tune_device(t, st->st_rdev, warn);
	return 0;
}

/* fd: the regular file. */
static int open_file(struct bmap_target *t, const char *path, int fd,
		     const struct stat *st, struct bmap_err *err)
{
	t->fd = fd;
	if (set_flags(t->fd, 0, O_NONBLOCK) < 0 || ftruncate(t->fd, 0) < 0 ||
	    (t->image_size != BMAP_SIZE_UNKNOWN &&
	     ftruncate(t->fd, (off_t)t->image_size) < 0))
		return bmap_seterr(err, errno, "cannot size the file: %s",
				   strerror(errno));
	/* O_DIRECT where the file system has it (not tmpfs, say), on the
	 * same file only: else the page cache does it all. */
	t->dfd = reopen_same(path, O_DIRECT, st);
	t->dfd = t->dfd < 0 ? -1 : t->dfd;
	t->align = 4096;
	return 0;
}

/* For a message only (a FIFO with no reader fails to open with ENXIO,
 * as does a device node with no device). */
static bool is_fifo(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISFIFO(st.st_mode);
}

/*
 * Open path without looking at it first: what is opened is what is
 * checked (fstat) and written, whatever path names by then. O_NONBLOCK
 * keeps a FIFO from waiting for a reader (it fails with ENXIO instead)
 * and is taken off again; O_EXCL without O_CREAT opens a block device
 * exclusively (a mounted or busy one is refused) and means nothing for
 * other files. A path that does not exist is made a regular file, but
 * never in /dev. *excl says whether O_EXCL was in effect.
 */
static int open_dest(const char *path, bool *excl, struct bmap_err *err)
{
	int fd;

	*excl = true;
	fd = open(path, O_WRONLY | O_EXCL | O_NONBLOCK | O_NOCTTY |
		  O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (!strncmp(path, "/dev/", 5))
			return bmap_seterr(err, ENOENT, "no such device (a "
					   "regular file is never made in "
					   "/dev)");
		*excl = false;
		fd = open(path, O_WRONLY | O_CREAT | O_NONBLOCK | O_NOCTTY |
			  O_CLOEXEC, 0666);
	}
	if (fd >= 0)
		return fd;
	if (errno == EBUSY)
		return bmap_seterr(err, EBUSY, "the device is in use (mounted, "
				   "or open by another program): refused");
	if (errno == EISDIR || (errno == ENXIO && is_fifo(path)))
		return bmap_seterr(err, EINVAL, "not a block device or a "
				   "regular file");
	return bmap_seterr(err, errno, "cannot open: %s", strerror(errno));
}

int bmap_target_open(struct bmap_target **out, const char *path,
		     uint64_t image_size, struct bmap_err *warn,
		     struct bmap_err *err)
{
	struct bmap_target *t = calloc(1, sizeof(*t));
	struct stat st;
	bool excl;
	int fd, ret;

	warn->msg[0] = '\0';
	if (!t)
		return bmap_seterr(err, ENOMEM, "out of memory");
	t->fd = t->dfd = -1;
	t->align = 512;
	t->image_size = image_size;
	fd = open_dest(path, &excl, err);
	if (fd < 0) {
		ret = fd;
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		ret = bmap_seterr(err, errno, "%s", strerror(errno));
		close(fd);
		goto fail;
	}
	if (S_ISBLK(st.st_mode) && excl) {
		ret = open_device(t, path, fd, &st, warn, err);
	} else if (S_ISREG(st.st_mode)) {
		ret = open_file(t, path, fd, &st, err);
	} else {
		ret = S_ISBLK(st.st_mode) ? stale_error(err) :
		      bmap_seterr(err, EINVAL, "not a block device or a "
				  "regular file");
		close(fd);
	}
	if (ret)
		goto fail;
	*out = t;
	return 0;
fail:
	bmap_target_close(t);
	return ret;
}

bool bmap_target_is_device(const struct bmap_target *t)
{
	return t->is_dev;
}

int bmap_target_write(struct bmap_target *t, const void *buf, size_t len,
		      uint64_t off, struct bmap_err *err)
{
	const char *p = buf;
	int fd = t->dfd >= 0 && !((uintptr_t)p % t->align) &&
		 !(off % t->align) && !(len % t->align) ? t->dfd : t->fd;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EINVAL && fd == t->dfd) {
			fd = t->fd;	/* O_DIRECT refused this one */
			continue;
		}
		if (n < 0)
			return bmap_seterr(err, errno, "cannot write at byte %"
					   PRIu64 ": %s", off,
					   strerror(errno));
		if (n == 0)
			return bmap_seterr(err, ENOSPC, "cannot write at byte %"
					   PRIu64 ": no space left", off);
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
		if (fd == t->fd)
			t->dirty += (uint64_t)n;
	}
	/* Keep little dirty data in the page cache: an interrupted copy
	 * then never waits long for it, nor starves other writers. */
	if (t->dirty >= DIRTY_MAX) {
		t->dirty = 0;
		if (fdatasync(t->fd) < 0)
			return bmap_seterr(err, errno, "cannot sync: %s",
					   strerror(errno));
	}
	return 0;
}

int bmap_target_finish(struct bmap_target *t, uint64_t size,
		       struct bmap_err *err)
{
	if (!t->is_dev && t->image_size == BMAP_SIZE_UNKNOWN &&
	    ftruncate(t->fd, (off_t)size) < 0)
		return bmap_seterr(err, errno, "cannot size the file: %s",
				   strerror(errno));
	if (fsync(t->fd) < 0 || (t->dfd >= 0 && fsync(t->dfd) < 0))
		return bmap_seterr(err, errno, "cannot sync: %s",
				   strerror(errno));
	return 0;
}

void bmap_target_restore(struct bmap_target *t)
{
	untune(&t->scheduler);
	untune(&t->max_ratio);
}

void bmap_target_close(struct bmap_target *t)
{
	if (!t)
		return;
	bmap_target_restore(t);
	if (t->dfd >= 0)
		close(t->dfd);
	if (t->fd >= 0)
		close(t->fd);
	free(t);
}
