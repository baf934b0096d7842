/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bmapcreate - write the block map of a sparse image file. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bmap.h"
#include "tool.h"

struct options {
	const char *output;
	const char *image;
	enum bmap_format format;
	bool no_checksum;
	bool quiet;
};

static void usage(void)
{
	printf("Usage: bmapcreate [OPTION]... IMAGE\n"
	       "Write the block map (bmap) of the sparse file IMAGE: which "
	       "blocks hold data,\nwith a checksum for each range.\n\n"
	       "  -o, --output FILE   write the bmap to FILE (default: "
	       "standard output)\n"
	       "      --format VER    bmap format version: 1.2 (default, "
	       "SHA-1) or 2.0 (SHA-256)\n"
	       "      --no-checksum   leave the ranges without checksums\n"
	       "  -q, --quiet         print no warnings\n"
	       "  -h, --help          show this help and exit\n"
	       "  -V, --version       show the version and exit\n\n"
	       "Exit status: 0 success, 1 failure, 2 usage error.\n"
	       "See bmapcreate(1) and bmap(5).\n");
}

static void parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_FORMAT = 256, OPT_NO_CHECKSUM };
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "no-checksum", no_argument, NULL, OPT_NO_CHECKSUM },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o->output = optarg;
			break;
		case OPT_FORMAT:
			if (!strcmp(optarg, "1.2"))
				o->format = BMAP_FORMAT_1_2;
			else if (!strcmp(optarg, "2.0"))
				o->format = BMAP_FORMAT_2_0;
			else
				tool_usage_error("unknown format '%s' (use "
						 "1.2 or 2.0)", optarg);
			break;
		case OPT_NO_CHECKSUM:
			o->no_checksum = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		default:
			tool_common_option(c, argv, usage);
		}
	}
	if (optind == argc)
		tool_usage_error("no IMAGE given");
	if (optind + 1 < argc)
		tool_usage_error("more than one IMAGE given");
	o->image = argv[optind];
}

/* -o must never name the image itself: writing it would destroy it. */
static int same_file(int fd, const char *path)
{
	struct stat a, b;

	if (!path || fstat(fd, &a) < 0 || stat(path, &b) < 0)
		return 0;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static void warn_about(const struct options *o, const struct bmap *map,
		       enum bmap_extent_method method)
{
	if (method == BMAP_EXTENTS_ALL)
		tool_warn("cannot find the holes of '%s' (neither FIEMAP nor "
			  "SEEK_DATA works here): every block is taken as "
			  "mapped", o->image);
	else if (map->blocks_count > 1 &&
		 map->mapped_count == map->blocks_count)
		tool_warn("'%s' has no holes: every block is mapped (was it "
			  "copied without keeping holes? 'fallocate "
			  "--dig-holes' restores them)", o->image);
}

int main(int argc, char **argv)
{
	struct options o = { .format = BMAP_FORMAT_1_2 };
	struct bmap_create_opts copts = { 0 };
	enum bmap_extent_method method;
	struct bmap_err err;
	struct bmap map;
	const char *what;
	char *xml = NULL;
	size_t len;
	int fd, ret;

	tool_init("bmapcreate", &o.quiet);
	parse_args(argc, argv, &o);

	fd = open(o.image, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		tool_error("cannot open '%s': %s", o.image, strerror(errno));
		return EXIT_FAIL;
	}
	if (same_file(fd, o.output)) {
		tool_error("the output '%s' is the image itself", o.output);
		close(fd);
		return EXIT_FAIL;
	}
	copts.no_checksum = o.no_checksum;
	copts.checksum_type = o.format == BMAP_FORMAT_1_2 ? "sha1" : "sha256";
	ret = bmap_create(fd, &copts, &map, &method, &err);
	close(fd);
	if (ret) {
		tool_error("'%s': %s", o.image, err.msg);
		return EXIT_FAIL;
	}
	warn_about(&o, &map, method);
	ret = bmap_write_memory(&map, o.format, &xml, &len, &err);
	bmap_free(&map);
	if (ret) {
		tool_error("%s", err.msg);
		return EXIT_FAIL;
	}
	ret = tool_write_file(o.output, xml, len, &what);
	free(xml);
	if (ret == -ENOTSUP && what) {
		tool_error("'%s' is %s, not a regular file: refused (a bmap "
			   "replaces a regular file; for anything else, write "
			   "to standard output)", o.output, what);
		return EXIT_FAIL;
	}
	if (ret) {
		tool_error("cannot write '%s': %s",
			   o.output ? o.output : "standard output",
			   strerror(-ret));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}
