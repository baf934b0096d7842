/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bmapcopy - write an image to a block device or file, only its mapped
 * blocks, verifying each range. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bmap.h"
#include "tool.h"

struct options {
	const char *bmap_path;
	bool nobmap;
	bool no_verify;
	bool quiet;
	const char *psplash;
	const char *source;
	const char *dest;
	char *found_bmap;	/* the bmap found beside SOURCE */
};

/* What the progress display needs; it runs in the copy's writer thread. */
struct progress {
	bool tty;
	const char *psplash;	/* the pipe to open when it has a reader */
	int psplash_fd;
	double start, last;
	int last_percent;
};

static volatile int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void usage(void)
{
	printf("Usage: bmapcopy [OPTION]... SOURCE DEST\n"
	       "Write the image SOURCE to the block device or file DEST, "
	       "writing only the\nblocks its bmap maps and verifying each "
	       "range's checksum.\n\n"
	       "SOURCE is a plain image, '-' (standard input), a gzip, bzip2, "
	       "xz, zstd, lz4\nor lzo stream, or the image inside a tar or "
	       "zip archive. The bmap is found\nbeside SOURCE (SOURCE.bmap, "
	       "then with extensions replaced by .bmap). Without\none, a "
	       "plain SOURCE is copied by its holes (SEEK_DATA/SEEK_HOLE).\n\n"
	       "  -b, --bmap FILE         use the bmap FILE\n"
	       "      --nobmap            copy every byte, with no bmap\n"
	       "      --no-verify         do not check the ranges' checksums\n"
	       "  -q, --quiet             no progress, summary or warnings\n"
	       "      --psplash-pipe PATH write PROGRESS lines to the FIFO "
	       "PATH\n"
	       "  -h, --help              show this help and exit\n"
	       "  -V, --version           show the version and exit\n\n"
	       "Exit status: 0 success, 1 failure, 2 usage error.\n"
	       "See bmapcopy(1).\n");
}

static void parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_NOBMAP = 256, OPT_NO_VERIFY, OPT_PSPLASH };
	static const struct option longopts[] = {
		{ "bmap", required_argument, NULL, 'b' },
		{ "nobmap", no_argument, NULL, OPT_NOBMAP },
		{ "no-verify", no_argument, NULL, OPT_NO_VERIFY },
		{ "psplash-pipe", required_argument, NULL, OPT_PSPLASH },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":b:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			o->bmap_path = optarg;
			break;
		case OPT_NOBMAP:
			o->nobmap = true;
			break;
		case OPT_NO_VERIFY:
			o->no_verify = true;
			break;
		case OPT_PSPLASH:
			o->psplash = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		default:
			tool_common_option(c, argv, usage);
		}
	}
	if (o->bmap_path && o->nobmap)
		tool_usage_error("--bmap and --nobmap exclude each other");
	if (argc - optind != 2)
		tool_usage_error("expected SOURCE and DEST, got %d argument%s",
				 argc - optind, argc - optind == 1 ? "" : "s");
	o->source = argv[optind];
	o->dest = argv[optind + 1];
}

/* ------------------------------------------------------------------ */
/* Progress                                                             */

/*
 * Open the psplash pipe: a FIFO, never through a symbolic link, and never
 * waiting for a reader (nor writing anywhere but a FIFO: a regular file
 * or a device is opened, seen not to be one and closed untouched). 0, or
 * -ENXIO when the FIFO has no reader yet, -ENOTSUP when the path is not a
 * FIFO, -errno.
 */
static int psplash_open(struct progress *p)
{
	struct stat st;
	int fd, ret;

	fd = open(p->psplash, O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP || errno == EISDIR ? -ENOTSUP : -errno;
	ret = fstat(fd, &st) < 0 ? -errno :
	      !S_ISFIFO(st.st_mode) ? -ENOTSUP : 0;
	if (ret) {
		close(fd);
		return ret;
	}
	p->psplash_fd = fd;
	return 0;
}

/* "PROGRESS n" to the psplash pipe. Like bmaptool, a FIFO that had no
 * reader is tried again at each new percentage (psplash may start late)
 * and one whose reader went away too; any other failure ends it. */
static void psplash_progress(struct progress *p, int percent)
{
	char line[32];
	int n;

	if (p->psplash_fd < 0 && p->psplash && psplash_open(p) != -ENXIO &&
	    p->psplash_fd < 0)
		p->psplash = NULL;
	if (p->psplash_fd < 0)
		return;
	n = snprintf(line, sizeof(line), "PROGRESS %d\n", percent);
	if (write(p->psplash_fd, line, (size_t)n) < 0 && errno != EAGAIN) {
		if (errno != EPIPE)
			p->psplash = NULL;
		close(p->psplash_fd);
		p->psplash_fd = -1;
	}
}

static void show_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct progress *p = ctx;
	double now = tool_now(), secs = now - p->start;
	double rate = secs > 0 ? (double)done / secs : 0;
	int percent = total && total != BMAP_SIZE_UNKNOWN ?
		      (int)(done * 100 / total) : -1;

	if (percent >= 0 && percent != p->last_percent) {
		psplash_progress(p, percent);
		p->last_percent = percent;
	}
	if (!p->tty || (now - p->last < 0.25 && done != total))
		return;
	p->last = now;
	if (percent >= 0)
		fprintf(stderr, "\rbmapcopy: %3d%%  %7.1f MiB/s  ETA %4.0f s ",
			percent, rate / 1048576.0, rate > 0 ?
			(double)(total - done) / rate : 0.0);
	else
		fprintf(stderr, "\rbmapcopy: %8.1f MiB  %7.1f MiB/s ",
			(double)done / 1048576.0, rate / 1048576.0);
}

static void setup_progress(const struct options *o, struct progress *p)
{
	int ret;

	p->psplash_fd = -1;
	p->last_percent = -1;
	p->start = tool_now();
	p->tty = !o->quiet && isatty(STDERR_FILENO);
	if (!o->psplash)
		return;
	p->psplash = o->psplash;
	ret = psplash_open(p);
	if (ret == -ENXIO) {
		tool_warn("the psplash pipe '%s' has no reader: progress goes "
			  "there once one opens it", o->psplash);
		return;
	}
	if (ret)
		p->psplash = NULL;
	if (ret == -ENOTSUP)
		tool_warn("'%s' is not a FIFO (a symbolic link is never "
			  "followed): no psplash progress", o->psplash);
	else if (ret)
		tool_warn("cannot open the psplash pipe '%s': %s: no psplash "
			  "progress", o->psplash, strerror(-ret));
}

static void summary(const struct options *o, const struct progress *p,
		    const struct bmap_copy_stats *st)
{
	char written[BMAP_HUMAN_MAX], image[BMAP_HUMAN_MAX];
	double secs = tool_now() - p->start;

	if (p->tty)
		fputc('\n', stderr);
	if (o->quiet)
		return;
	fprintf(stderr, "bmapcopy: wrote %s of a %s image to %s in %.1f s "
		"(%.1f MiB/s); %zu range%s verified\n",
		bmap_human_size(st->written, written),
		bmap_human_size(st->image_size, image), o->dest, secs,
		secs > 0 ? (double)st->written / secs / 1048576.0 : 0.0,
		st->verified, st->verified == 1 ? "" : "s");
}

/* ------------------------------------------------------------------ */
/* The bmap: given, found beside the image, or made from its holes      */

static int load_bmap(struct options *o, struct bmap_source *src,
		     struct bmap *map, bool *have)
{
	struct bmap_err err;
	int ret;

	*have = false;
	if (o->nobmap)
		return 0;
	if (!o->bmap_path && strcmp(o->source, "-"))
		o->bmap_path = o->found_bmap = tool_find_bmap(o->source);
	if (o->bmap_path) {
		ret = bmap_read_file(map, o->bmap_path, &err);
		if (ret) {
			tool_error("bmap '%s': %s", o->bmap_path, err.msg);
			return -1;
		}
		*have = true;
		return 0;
	}
	if (bmap_source_seekable_fd(src) < 0) {
		tool_error("'%s' is %s data and has no bmap: give one with "
			   "--bmap, or copy every byte with --nobmap",
			   o->source, bmap_source_format(src));
		return -1;
	}
	return 1;	/* copy by holes */
}

/* No bmap, a plain image: its holes say what to copy (nothing to
 * verify). */
static int bmap_from_holes(const struct options *o, struct bmap_source *src,
			   struct bmap *map)
{
	int fd = bmap_source_seekable_fd(src);
	struct bmap_extent_list ext;
	enum bmap_extent_method method;
	struct bmap_err err;
	uint64_t bs;
	size_t i;
	int ret;

	bmap_init(map);
	ret = bmap_fs_block_size(fd, &bs, &err);
	if (!ret)
		ret = bmap_set_geometry(map, bmap_source_size(src), bs, &err);
	if (!ret)
		ret = bmap_extents_scan(fd, map->image_size, bs, 0, &ext,
					&method, &err);
	for (i = 0; !ret && i < ext.n; i++)
		ret = bmap_add_range(map, ext.v[i].first, ext.v[i].last, NULL,
				     &err);
	if (!ret)
		bmap_extent_list_free(&ext);
	if (ret) {
		tool_error("'%s': %s", o->source, err.msg);
		return -1;
	}
	if (method == BMAP_EXTENTS_ALL)
		tool_warn("cannot find the holes of '%s': copying every byte",
			  o->source);
	return 0;
}

/* ------------------------------------------------------------------ */

static void catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Refuse to write over an input. */
static int check_dest(const struct options *o)
{
	if (tool_same_file(o->dest, o->source)) {
		tool_error("DEST '%s' is SOURCE itself", o->dest);
		return -1;
	}
	if (tool_same_file(o->dest, o->bmap_path)) {
		tool_error("DEST '%s' is the bmap itself", o->dest);
		return -1;
	}
	return 0;
}

static int copy(struct options *o, struct bmap_source *src,
		const struct bmap *map)
{
	struct bmap_copy_opts copts = { .verify = !o->no_verify,
					.stop = &stop_flag,
					.progress = show_progress };
	uint64_t size = map ? map->image_size : bmap_source_size(src);
	struct bmap_copy_stats st;
	struct bmap_target *dst;
	struct bmap_err err, warn;
	struct progress prog;
	bool is_dev;
	int ret;

	if (map && bmap_source_size(src) != BMAP_SIZE_UNKNOWN &&
	    bmap_source_size(src) != map->image_size) {
		tool_error("'%s' is %" PRIu64 " bytes, but its bmap says %"
			   PRIu64 ": is it the right bmap?", o->source,
			   bmap_source_size(src), map->image_size);
		return -1;
	}
	catch_signals();
	ret = bmap_target_open(&dst, o->dest, size, &warn, &err);
	if (ret) {
		tool_error("'%s': %s", o->dest, err.msg);
		return -1;
	}
	if (warn.msg[0])
		tool_warn("'%s': %s", o->dest, warn.msg);
	setup_progress(o, &prog);
	copts.progress_ctx = &prog;
	ret = bmap_copy(src, map, dst, &copts, &st, &err);
	is_dev = bmap_target_is_device(dst);
	bmap_target_close(dst);
	if (prog.psplash_fd >= 0)
		close(prog.psplash_fd);
	if (ret == -EINTR) {
		if (prog.tty)
			fputc('\n', stderr);
		tool_error("interrupted: '%s' is incomplete%s", o->dest,
			   is_dev ? " (its I/O settings are restored)" : "");
		return -1;
	}
	if (ret) {
		if (prog.tty)
			fputc('\n', stderr);
		tool_error("%s", err.msg);
		return -1;
	}
	summary(o, &prog, &st);
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct bmap_source *src;
	struct bmap_err err;
	struct bmap map;
	bool have_bmap;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int ret;

	tool_init("bmapcopy", &o.quiet);
	parse_args(argc, argv, &o);
	bmap_init(&map);
	ret = bmap_source_open(&src, o.source, ncpu > 0 ? (unsigned)ncpu : 1,
			       &err);
	if (ret) {
		tool_error("'%s': %s", o.source, err.msg);
		return EXIT_FAIL;
	}
	ret = load_bmap(&o, src, &map, &have_bmap);
	if (ret == 1)
		ret = bmap_from_holes(&o, src, &map);
	if (!ret)
		ret = check_dest(&o);
	if (!ret)
		ret = copy(&o, src, o.nobmap ? NULL : &map);
	bmap_free(&map);
	bmap_source_close(src);
	free(o.found_bmap);
	return ret ? EXIT_FAIL : EXIT_OK;
}
