/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-index.c - libFuzzer harness for the seek point loaders: the index
 * file reader (ra-index.c) and each format's load (gzip, bzip2, zstd; xz
 * learns nothing and keeps no index). A real small compressed file of the
 * format is opened, the fuzzed bytes are loaded as its points, and a
 * cursor reads a little from a place the input chooses, so that loaded
 * points get used.
 *
 * Input: one byte choosing the format and the path (bit 2: through the
 * sample's index file in a private index folder, with its header unless
 * bit 3), two bytes choosing where to read, then the points.
 *
 * The samples (samples/image.{raw,gz,bz2,zst}) are found in
 * $BMAP_FUZZ_SAMPLES or beside the program. With $BMAP_FUZZ_SEEDS set to
 * a folder, the points learnt by reading each sample through are written
 * there first, as seeds.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bmap.h"
#include "fs/ra-index.h"
#include "codec/codec.h"
#include "base/strbuf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEAD 3
/* Bytes a cursor reads at most per input. */
#define READ_MAX (256u << 10)

struct sample {
	const struct codec_seek_ops *ops;
	const char *file;
	const char *raw;	/* what it decompresses to */
	int fd;
	uint64_t size;		/* of the file */
	uint64_t image_size;	/* of what it decompresses to */
	struct ra_index *ix;	/* its index file */
};

static struct sample samples[] = {
	{ &gzip_seek_ops, "image.gz", "image.raw", -1, 0, 0, NULL },
	{ &bz2_seek_ops, "image.bz2", "small.raw", -1, 0, 0, NULL },
	{ &zstd_seek_ops, "image.zst", "small.raw", -1, 0, 0, NULL },
};
#define NSAMPLES (sizeof(samples) / sizeof(samples[0]))

static char index_dir[64];

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz-index: %s: %s\n", what, detail);
	exit(1);
}

/* Read every sample through (so every seek point is found) and write the
 * points as seed inputs into dir. */
static void write_seeds(const char *dir)
{
	static unsigned char buf[1 << 16];

	for (size_t i = 0; i < NSAMPLES; i++) {
		const struct codec_seek_ops *ops = samples[i].ops;
		struct bmap_err err;
		struct strbuf sb;
		void *fmt, *cur;
		uint64_t start;
		ssize_t n;
		char path[4096];
		FILE *f;

		if (ops->open(samples[i].fd, samples[i].size, 1, &fmt,
			      &err) < 0)
			die(samples[i].file, err.msg);
		if (ops->cursor_open(fmt, 0, &cur, &start, &err) < 0)
			die(samples[i].file, err.msg);
		while ((n = ops->cursor_read(cur, buf, sizeof(buf), &err)) > 0)
			;
		if (n < 0)
			die(samples[i].file, err.msg);
		ops->cursor_close(cur);
		strbuf_init(&sb);
		if (ops->save(fmt, &sb) < 0 || sb.error)
			die(samples[i].file, "cannot save its points");
		ops->close(fmt);
		/* Straight to load, reading at the image's middle and end. */
		for (unsigned where = 0; where < 2; where++) {
			unsigned char head[HEAD] = {
				(unsigned char)i, where ? 0xff : 0x80, 0
			};

			snprintf(path, sizeof(path), "%s/%s-%u", dir,
				 ops->name, where);
			f = fopen(path, "wb");
			if (!f || fwrite(head, 1, HEAD, f) != HEAD ||
			    fwrite(sb.buf, 1, sb.len, f) != sb.len ||
			    fclose(f) != 0)
				die(path, strerror(errno));
		}
		strbuf_free(&sb);
	}
}

/* The index files and their folder go when the run ends. */
static void remove_index(void)
{
	for (size_t i = 0; i < NSAMPLES; i++) {
		if (samples[i].ix)
			ra_index_remove(samples[i].ix, NULL);
		ra_index_close(samples[i].ix);
	}
	rmdir(index_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char beside[4096];
	const char *dir = getenv("BMAP_FUZZ_SAMPLES");
	char path[4096], self[4096];
	struct stat st;

	(void)argc;
	if (!dir) {
		snprintf(self, sizeof(self), "%s", (*argv)[0]);
		snprintf(beside, sizeof(beside), "%s/samples", dirname(self));
		dir = beside;
	}
	for (size_t i = 0; i < NSAMPLES; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, samples[i].file);
		samples[i].fd = open(path, O_RDONLY | O_CLOEXEC);
		if (samples[i].fd < 0 || fstat(samples[i].fd, &st) < 0)
			die(path, strerror(errno));
		samples[i].size = (uint64_t)st.st_size;
		snprintf(path, sizeof(path), "%s/%s", dir, samples[i].raw);
		if (stat(path, &st) < 0)
			die(path, strerror(errno));
		samples[i].image_size = (uint64_t)st.st_size;
	}
	/* The index files: real files in a private temporary folder, named
	 * by each sample's identity as bmapfs names them. */
	snprintf(index_dir, sizeof(index_dir), "/tmp/bmap-fuzz-XXXXXX");
	if (!mkdtemp(index_dir))
		die("mkdtemp", strerror(errno));
	for (size_t i = 0; i < NSAMPLES; i++) {
		struct bmap_err warn;

		snprintf(path, sizeof(path), "%s/%s", dir, samples[i].file);
		if (fstat(samples[i].fd, &st) < 0 ||
		    ra_index_open(&samples[i].ix, index_dir, samples[i].fd,
				  path, &st, &warn) < 0)
			die(path, warn.msg);
	}
	atexit(remove_index);
	if (getenv("BMAP_FUZZ_SEEDS"))
		write_seeds(getenv("BMAP_FUZZ_SEEDS"));
	return 0;
}

static void write_index(const struct sample *s, const char *hdr,
			const uint8_t *data, size_t size)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", index_dir, ra_index_name(s->ix));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		abort();
	if ((hdr && write(fd, hdr, strlen(hdr)) != (ssize_t)strlen(hdr)) ||
	    write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
}

/* Read a little from off through a cursor, checking what the format
 * promises about where it starts. */
static void read_some(const struct codec_seek_ops *ops, void *fmt,
		      uint64_t off)
{
	static unsigned char buf[1 << 16];
	struct bmap_err err;
	uint64_t start, done = 0;
	void *cur;
	ssize_t n;

	err.msg[0] = '\0';
	if (ops->cursor_open(fmt, off, &cur, &start, &err) < 0) {
		if (err.msg[0] == '\0')
			abort();
		return;
	}
	if (start > off)
		abort();
	while (done < READ_MAX) {
		err.msg[0] = '\0';
		n = ops->cursor_read(cur, buf, sizeof(buf), &err);
		if (n < 0 && err.msg[0] == '\0')
			abort();
		if (n <= 0)
			break;
		if ((size_t)n > sizeof(buf))
			abort();
		done += (uint64_t)n;
	}
	ops->cursor_close(cur);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct sample *s;
	struct bmap_err err;
	char hdr[256];
	uint64_t off;
	void *fmt;
	int ret;

	if (size < HEAD)
		return 0;
	s = &samples[data[0] % NSAMPLES];
	off = s->image_size * ((unsigned)data[1] << 8 | data[2]) / 65536;
	if (s->ops->open(s->fd, s->size, 1, &fmt, &err) < 0)
		abort();	/* the sample is good */
	if (data[0] & 0x04) {
		snprintf(hdr, sizeof(hdr), "bmapfs-index 1 %s %s\n",
			 s->ops->name, ra_index_name(s->ix));
		write_index(s, data[0] & 0x08 ? NULL : hdr, data + HEAD,
			    size - HEAD);
		ret = ra_index_load(s->ix, s->ops, fmt);
	} else {
		err.msg[0] = '\0';
		ret = s->ops->load(fmt, data + HEAD, size - HEAD, &err);
		if (ret < 0 && err.msg[0] == '\0')
			abort();
	}
	if (ret == 0) {
		/* A table can lie about lengths (and so the size) in ways
		 * only decoding shows: what it costs is an error or bytes
		 * that fail their checksum, so only memory errors, hangs and
		 * broken promises about where a cursor starts are caught. */
		(void)s->ops->size(fmt);
		if (s->ops->point(fmt, off) > off)
			abort();
		read_some(s->ops, fmt, off);
	}
	s->ops->close(fmt);
	return 0;
}
