/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bmapfs - mount a (compressed) image and its bmap as a read-only sparse
 * raw file: holes from the bmap (SEEK_DATA/SEEK_HOLE, st_blocks), every
 * mapped range checked against its checksum before any of its bytes is
 * returned, random access through seek points.
 *
 * The image and the bmap are opened and checked, and the mount made,
 * before the daemon detaches, so every error reaches the terminal.
 */
#define FUSE_USE_VERSION 312
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <fuse.h>
#include <fuse_lowlevel.h>

#include "bmap.h"
#include "tool.h"

struct options {
	char *bmap;
	char *cache_size;
	char *index_dir;
	int noverify;
	int help;
	int version;
	char *image;
	const char *mountpoint;	/* still in the FUSE arguments */
	int nonopts;
};

/* What the file system serves: one file. */
struct fs {
	const char *image;
	struct stat image_st;
	struct bmap map;
	struct bmap_ra_opts ra_opts;
	struct bmap_ra *ra;
	struct bmap_view *view;
	bool verify;
	bool foreground;
	char name[NAME_MAX + 1];
	char path[NAME_MAX + 2];	/* "/" name */
};

enum { KEY_HELP, KEY_VERSION };

#define OPT(t, f) { t, offsetof(struct options, f), 1 }
static const struct fuse_opt option_spec[] = {
	{ "--bmap %s", offsetof(struct options, bmap), 0 },
	{ "--bmap=%s", offsetof(struct options, bmap), 0 },
	{ "-b %s", offsetof(struct options, bmap), 0 },
	{ "cache_size=%s", offsetof(struct options, cache_size), 0 },
	{ "index_dir=%s", offsetof(struct options, index_dir), 0 },
	OPT("noverify", noverify),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_END
};

static void usage(void)
{
	printf("Usage: bmapfs [OPTION]... IMAGE MOUNTPOINT\n"
	       "Mount IMAGE (plain, gzip, bzip2, xz, zstd, lz4, lzo, or inside "
	       "a tar or zip\narchive) with its bmap as one read-only sparse "
	       "file, NAME.raw, whose holes\nlseek(SEEK_DATA/SEEK_HOLE) "
	       "reports and whose ranges are checked against their\n"
	       "checksums before any byte is returned. The bmap is found "
	       "beside IMAGE as\nbmapcopy finds it. Unmount with "
	       "'fusermount3 -u MOUNTPOINT'.\n\n"
	       "  -b, --bmap FILE         use the bmap FILE\n"
	       "  -o noverify             return data without checking it\n"
	       "  -o cache_size=SIZE      decoded data kept in memory "
	       "(default: a\n"
	       "                          sixteenth of RAM, 64M to 512M)\n"
	       "  -o index_dir=DIR        where seek points are kept "
	       "(default\n"
	       "                          $XDG_CACHE_HOME/bmapfs; empty: "
	       "not kept)\n"
	       "  -f                      stay in the foreground\n"
	       "  -d                      debug output (implies -f)\n"
	       "  -h, --help              show this help and exit\n"
	       "  -V, --version           show the version and exit\n\n"
	       "Exit status: 0 unmounted cleanly, 1 failure, 2 usage error.\n"
	       "See bmapfs(1). FUSE options:\n");
}

static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct options *o = data;

	(void)outargs;
	switch (key) {
	case KEY_HELP:
		o->help = 1;
		return 0;
	case KEY_VERSION:
		o->version = 1;
		return 0;
	case FUSE_OPT_KEY_NONOPT:
		/* IMAGE is ours; MOUNTPOINT goes on to FUSE. */
		if (o->nonopts++ == 0) {
			o->image = strdup(arg);
			return o->image ? 0 : -1;
		}
		if (!o->mountpoint)
			o->mountpoint = arg;
		return 1;
	default:
		return 1;
	}
}

/* ------------------------------------------------------------------ */
/* Messages once detached: syslog (and stderr in the foreground).       */

static struct fs *the_fs;

__attribute__((format(printf, 1, 2)))
static void fs_log(const char *fmt, ...)
{
	char msg[BMAP_ERR_MAX + 128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (the_fs->foreground)
		tool_error("%s", msg);
	syslog(LOG_ERR, "%s", msg);
}

/* A warning: something only slower, or not kept. */
static void fs_warn(const char *msg)
{
	if (the_fs->foreground)
		tool_warn("%s", msg);
	syslog(LOG_WARNING, "warning: %s", msg);
}

/* ------------------------------------------------------------------ */
/* The file system                                                     */

static struct fs *fs_of(void)
{
	return fuse_get_context()->private_data;
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	/* The file never changes: keep what the kernel caches of it, and
	 * read ahead in large requests. */
	cfg->kernel_cache = 1;
	cfg->entry_timeout = cfg->attr_timeout = 3600.0;
	cfg->negative_timeout = 3600.0;
	conn->max_readahead = UINT_MAX;
	return fuse_get_context()->private_data;
}

static int fs_getattr(const char *path, struct stat *st,
		      struct fuse_file_info *fi)
{
	struct fs *fs = fs_of();
	mode_t read;

	(void)fi;
	memset(st, 0, sizeof(*st));
	st->st_uid = fs->image_st.st_uid;
	st->st_gid = fs->image_st.st_gid;
	st->st_atim = fs->image_st.st_atim;
	st->st_mtim = fs->image_st.st_mtim;
	st->st_ctim = fs->image_st.st_ctim;
	/* Who may read the image may read the mount, and no one else
	 * (default_permissions: the kernel checks, allow_other or not). */
	read = fs->image_st.st_mode & 0444;
	if (!strcmp(path, "/")) {
		st->st_mode = S_IFDIR | read | read >> 2;
		st->st_nlink = 2;
		return 0;
	}
	if (strcmp(path, fs->path))
		return -ENOENT;
	st->st_mode = S_IFREG | read;
	st->st_nlink = 1;
	st->st_size = (off_t)fs->map.image_size;
	st->st_blocks = (blkcnt_t)((bmap_mapped_bytes(&fs->map) + 511) / 512);
	st->st_blksize = 65536;
	return 0;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill,
		      off_t off, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	struct fs *fs = fs_of();

	(void)off;
	(void)fi;
	(void)flags;
	if (strcmp(path, "/"))
		return -ENOTDIR;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, fs->name, NULL, 0, 0);
	return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of();

	if (strcmp(path, fs->path))
		return path[1] ? -ENOENT : -EISDIR;
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EROFS;
	fi->keep_cache = 1;
	return 0;
}

static int fs_read(const char *path, char *buf, size_t len, off_t off,
		   struct fuse_file_info *fi)
{
	struct fs *fs = fs_of();
	struct bmap_err err;
	ssize_t n;

	(void)path;
	(void)fi;
	if (off < 0)
		return -EINVAL;
	n = bmap_view_read(fs->view, buf, len, (uint64_t)off, &err);
	if (n == -EBADMSG) {
		/* Said once per range: later reads of it get -EIO. */
		fs_log("%s: %s", fs->name, err.msg);
		return -EIO;
	}
	if (n == -EIO)
		return -EIO;
	return (int)n;
}

static off_t fs_lseek(const char *path, off_t off, int whence,
		      struct fuse_file_info *fi)
{
	struct fs *fs = fs_of();

	(void)path;
	(void)fi;
	if (off < 0)
		return -ENXIO;
	return (off_t)bmap_view_seek(fs->view, (uint64_t)off, whence);
}

static int fs_statfs(const char *path, struct statvfs *sv)
{
	struct fs *fs = fs_of();

	(void)path;
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = sv->f_frsize = 4096;
	sv->f_blocks = (bmap_mapped_bytes(&fs->map) + 4095) / 4096;
	sv->f_files = 2;
	sv->f_namemax = NAME_MAX;
	return 0;
}

static void fs_destroy(void *data)
{
	struct fs *fs = data;
	struct bmap_err err;

	/* The index is only an optimisation: not keeping it is no error. */
	if (fs->ra && bmap_ra_save_index(fs->ra, &err) < 0)
		fs_warn(err.msg);
}

static const struct fuse_operations fs_ops = {
	.init = fs_init,
	.getattr = fs_getattr,
	.readdir = fs_readdir,
	.open = fs_open,
	.read = fs_read,
	.lseek = fs_lseek,
	.statfs = fs_statfs,
	.destroy = fs_destroy,
};

/* ------------------------------------------------------------------ */
/* libfuse's own messages ("fuse: unknown option(s): ...") are caught and
 * said again as ours, so every error is one "bmapfs: error:" line.      */

struct caught {
	int saved;		/* the real stderr */
	int fd;			/* where stderr goes meanwhile */
};

static void catch_begin(struct caught *c)
{
	c->saved = dup(STDERR_FILENO);
	c->fd = memfd_create("bmapfs-stderr", MFD_CLOEXEC);
	if (c->saved < 0 || c->fd < 0 || dup2(c->fd, STDERR_FILENO) < 0) {
		if (c->fd >= 0)
			close(c->fd);
		if (c->saved >= 0)
			close(c->saved);
		c->saved = c->fd = -1;
	}
}

/* Put stderr back; *msg is libfuse's first line, without its "fuse: ",
 * or "" when it said nothing. */
static void catch_end(struct caught *c, char *msg, size_t size)
{
	ssize_t n = 0;
	char *nl;

	msg[0] = '\0';
	if (c->fd < 0)
		return;
	fflush(stderr);
	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	n = pread(c->fd, msg, size - 1, 0);
	close(c->fd);
	msg[n > 0 ? n : 0] = '\0';
	nl = strchr(msg, '\n');
	if (nl)
		*nl = '\0';
	if (!strncmp(msg, "fuse: ", 6))
		memmove(msg, msg + 6, strlen(msg + 6) + 1);
}

/* ------------------------------------------------------------------ */
/* Setting up                                                          */

/* "64M", "1G", "65536": bytes. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default: break;
	}
	if (*end || v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

/* The default index folder: $XDG_CACHE_HOME/bmapfs or ~/.cache/bmapfs. */
static char *default_index_dir(void)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char *dir = NULL;

	if (xdg && xdg[0] == '/') {
		if (asprintf(&dir, "%s/bmapfs", xdg) < 0)
			dir = NULL;
	} else if (home && home[0] == '/') {
		if (asprintf(&dir, "%s/.cache/bmapfs", home) < 0)
			dir = NULL;
	}
	return dir;
}

/* dir as an absolute path (the daemon works from "/"), malloc()ed;
 * NULL when out of memory. */
static char *absolute_dir(const char *dir)
{
	char *cwd, *abs = NULL;

	if (dir[0] == '/' || dir[0] == '\0')
		return strdup(dir);
	cwd = getcwd(NULL, 0);
	if (cwd && asprintf(&abs, "%s/%s", cwd, dir) < 0)
		abs = NULL;
	free(cwd);
	return abs;
}

/* Every range of map has a checksum: with verification on, every byte
 * bmapfs returns is checked. */
static bool all_checked(const struct bmap *map)
{
	size_t i;

	for (i = 0; i < map->nranges; i++)
		if (!map->ranges[i].has_digest)
			return false;
	return map->digest_len > 0;
}

/* Open the bmap, the image and the view; all errors are printed. */
static int open_image(struct fs *fs, const struct options *o)
{
	struct bmap_err err;
	char *found = NULL;
	const char *bmap_path = o->bmap;
	uint64_t size;
	int ret;

	if (stat(fs->image, &fs->image_st) < 0) {
		tool_error("cannot open %s: %s", fs->image, strerror(errno));
		return -1;
	}
	if (!bmap_path) {
		bmap_path = found = tool_find_bmap(fs->image);
		if (!bmap_path) {
			tool_error("no bmap found for %s (give one with "
				   "--bmap)", fs->image);
			return -1;
		}
	}
	ret = bmap_read_file(&fs->map, bmap_path, &err);
	free(found);
	if (ret < 0) {
		tool_error("%s", err.msg);
		return -1;
	}
	fs->ra_opts.image_size = fs->map.image_size;
	fs->ra_opts.verified = fs->verify && all_checked(&fs->map);
	if (bmap_ra_open(&fs->ra, fs->image, &fs->ra_opts, &err) < 0) {
		tool_error("%s", err.msg);
		return -1;
	}
	/* Said here, once, while the terminal is still ours: the daemon's
	 * own open finds the same. */
	if (bmap_ra_index_warning(fs->ra))
		tool_warn("%s", bmap_ra_index_warning(fs->ra));
	size = bmap_ra_size(fs->ra);
	if (size != BMAP_SIZE_UNKNOWN && size != fs->map.image_size) {
		tool_error("%s holds %llu bytes but its bmap says %llu",
			   fs->image, (unsigned long long)size,
			   (unsigned long long)fs->map.image_size);
		return -1;
	}
	if (bmap_view_open(&fs->view, fs->ra, &fs->map, fs->verify,
			   &err) < 0) {
		tool_error("%s", err.msg);
		return -1;
	}
	return 0;
}

static void close_image(struct fs *fs)
{
	bmap_view_close(fs->view);
	bmap_ra_close(fs->ra);
	fs->view = NULL;
	fs->ra = NULL;
}

static int check_mountpoint(const char *dir)
{
	struct stat st;

	if (!dir) {
		tool_usage_error("no mount point given");
		return -1;
	}
	if (stat(dir, &st) < 0) {
		tool_error("cannot mount on %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		tool_error("cannot mount on %s: not a directory", dir);
		return -1;
	}
	return 0;
}

/* Options to struct fs; the FUSE ones stay in args. */
static int setup(struct fs *fs, struct options *o, struct fuse_args *args)
{
	char *abs;

	if (!o->image)
		tool_usage_error("no image given");
	/* Absolute: the daemon works from "/". */
	abs = realpath(o->image, NULL);
	if (!abs) {
		tool_error("cannot open %s: %s", o->image, strerror(errno));
		return -1;
	}
	free(o->image);
	o->image = abs;
	fs->image = o->image;
	fs->verify = !o->noverify;
	fs->ra_opts.threads = 2;
	fs->ra_opts.image_size = 0;	/* set once the bmap is read */
	if (o->cache_size &&
	    parse_size(o->cache_size, &fs->ra_opts.cache_size) < 0)
		tool_usage_error("bad cache_size: %s", o->cache_size);
	if (!o->index_dir) {
		o->index_dir = default_index_dir();
	} else {
		abs = absolute_dir(o->index_dir);
		if (!abs) {
			tool_error("%s: %s", o->index_dir, strerror(errno));
			return -1;
		}
		free(o->index_dir);
		o->index_dir = abs;
	}
	fs->ra_opts.index_dir = o->index_dir && o->index_dir[0] ?
		o->index_dir : NULL;
	if (bmap_raw_name(fs->image, fs->name, sizeof(fs->name)) < 0) {
		tool_error("%s: name too long", fs->image);
		return -1;
	}
	snprintf(fs->path, sizeof(fs->path), "/%s", fs->name);
	/* Read-only whatever the user asks. */
	if (fuse_opt_add_arg(args, "-oro,default_permissions,"
			     "fsname=bmapfs,subtype=bmapfs") < 0)
		return -1;
	return 0;
}

/* Readahead of the new mount's own bdi, so sequential readers
 * (bmapcopy, cp, a loop device) get 1 MiB requests, not 128 KiB ones:
 * a third less time per GiB here. The mount is found in mountinfo
 * (looking at it through the file system would wait on this daemon).
 * Best effort: needs root, and goes away with the mount. */
static void tune_readahead(const char *mountpoint)
{
	char line[PATH_MAX + 256], path[96];
	unsigned maj = 0, min = 0;
	FILE *f;
	int found = 0;

	/* mountpoint is fuse_parse_cmdline's realpath() of it: comparable
	 * with mountinfo as it is (nothing here may look at the mount). */
	f = fopen("/proc/self/mountinfo", "re");
	while (f && fgets(line, sizeof(line), f)) {
		char mnt[PATH_MAX + 1];
		unsigned a, b;

		if (sscanf(line, "%*u %*u %u:%u %*s %4096s", &a, &b, mnt) == 3 &&
		    !strcmp(mnt, mountpoint) &&
		    strstr(line, " - fuse.bmapfs ")) {
			maj = a;
			min = b;
			found = 1;	/* the last one is the newest */
		}
	}
	if (f)
		fclose(f);
	if (!found)
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb",
		 maj, min);
	f = fopen(path, "we");
	if (f) {
		fputs("4096\n", f);
		fclose(f);
	}
}

static int serve(struct fs *fs, struct fuse_args *args,
		 struct fuse_cmdline_opts *cmd)
{
	struct fuse_loop_config *loop;
	struct fuse *f;
	struct bmap_err err;
	int ret = EXIT_FAIL;

	struct caught caught;
	char msg[512];
	int mounted;

	catch_begin(&caught);
	f = fuse_new(args, &fs_ops, sizeof(fs_ops), fs);
	mounted = f ? fuse_mount(f, cmd->mountpoint) : -1;
	catch_end(&caught, msg, sizeof(msg));
	if (!f)
		tool_usage_error("%s", msg[0] ? msg : "bad FUSE options");
	if (mounted < 0) {
		tool_error("cannot mount on %s: %s", cmd->mountpoint,
			   msg[0] ? msg : "FUSE refused");
		goto out;
	}
	tune_readahead(cmd->mountpoint);
	/* Threads do not survive the fork: the image is opened again in the
	 * daemon (it was checked a moment ago). */
	close_image(fs);
	if (fuse_daemonize(cmd->foreground) < 0)
		goto unmount;
	if (bmap_ra_open(&fs->ra, fs->image, &fs->ra_opts, &err) < 0 ||
	    bmap_view_open(&fs->view, fs->ra, &fs->map, fs->verify,
			   &err) < 0) {
		fs_log("%s", err.msg);
		goto unmount;
	}
	if (fuse_set_signal_handlers(fuse_get_session(f)) < 0)
		goto unmount;
	if (cmd->singlethread) {
		ret = fuse_loop(f);
	} else {
		loop = fuse_loop_cfg_create();
		if (!loop)
			goto signals;
		fuse_loop_cfg_set_clone_fd(loop, cmd->clone_fd);
		fuse_loop_cfg_set_max_threads(loop, cmd->max_threads);
		/* Unset (UINT_MAX) unless given: libfuse 3.14 would complain. */
		if (cmd->max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(loop,
						       cmd->max_idle_threads);
		ret = fuse_loop_mt(f, loop);
		fuse_loop_cfg_destroy(loop);
	}
	ret = ret == 0 ? EXIT_OK : EXIT_FAIL;
signals:
	fuse_remove_signal_handlers(fuse_get_session(f));
unmount:
	fuse_unmount(f);
out:
	fuse_destroy(f);
	return ret;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmd = { 0 };
	struct options o = { 0 };
	struct fs fs = { 0 };
	int ret = EXIT_FAIL;

	struct caught caught;
	char msg[512];
	int i;

	tool_init("bmapfs", NULL);
	/* Every FUSE thread reads in large buffers, which glibc keeps in
	 * an arena per thread once freed (about 8 MiB a thread here): two
	 * arenas for all, so cache_size bounds what is kept. (A fixed mmap
	 * threshold kept less, but cost a third of the sequential speed.) */
	mallopt(M_ARENA_MAX, 2);
	bmap_init(&fs.map);
	the_fs = &fs;
	for (i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "-"))
			tool_usage_error("an image on standard input cannot be "
					 "mounted: give its file");
	catch_begin(&caught);
	ret = fuse_opt_parse(&args, &o, option_spec, opt_proc);
	catch_end(&caught, msg, sizeof(msg));
	if (ret < 0)
		tool_usage_error("%s", msg[0] ? msg : "bad arguments");
	ret = EXIT_FAIL;
	if (o.help) {
		usage();
		fuse_lib_help(&args);
		ret = EXIT_OK;
		goto out;
	}
	if (o.version) {
		tool_version();
		ret = EXIT_OK;
		goto out;
	}
	/* Before FUSE looks at them, so that its messages do not take the
	 * place of ours. */
	if (setup(&fs, &o, &args) < 0 || check_mountpoint(o.mountpoint) < 0)
		goto out;
	catch_begin(&caught);
	ret = fuse_parse_cmdline(&args, &cmd);
	catch_end(&caught, msg, sizeof(msg));
	if (ret < 0)
		tool_usage_error("%s", msg[0] ? msg : "bad arguments");
	ret = EXIT_FAIL;
	fs.foreground = cmd.foreground;
	openlog("bmapfs", LOG_PID, LOG_DAEMON);
	if (open_image(&fs, &o) < 0)
		goto out;
	ret = serve(&fs, &args, &cmd);
out:
	close_image(&fs);
	bmap_free(&fs.map);
	free(cmd.mountpoint);
	free(o.image);
	free(o.bmap);
	free(o.cache_size);
	free(o.index_dir);
	fuse_opt_free_args(&args);
	return ret;
}
