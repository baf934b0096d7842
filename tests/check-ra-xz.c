/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check-ra-xz.c - seek points in xz files: data compressed by the xz
 * program in small blocks, as two concatenated streams with stream padding
 * between them, read back through cursors opened all over it; and the
 * block a cursor decodes ahead on its worker thread: read in small and odd
 * pieces, in pieces smaller than a block, closed with it in flight, and
 * corrupt, reported after the data before it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lzma.h>

#include "check-suites.h"
#include "check-util.h"
#include "codec/codec.h"

#define XT_SIZE (6u * 1024 * 1024 + 12345)
/* The first stream holds this much, in blocks of XT_BLOCK. */
#define XT_SPLIT (2u * 1024 * 1024 + 512 * 1024)
#define XT_BLOCK (1024 * 1024)
#define XT_XZ "xz -q -T1 -1 --block-size=1MiB -c"

/* xz_test_ahead_max (codec.h): decode ahead in pieces of at most max
 * bytes. */

static unsigned char *xt_data;

/* xz.xz: stream 1 (3 blocks), 8 bytes of stream padding, stream 2 (4
 * blocks); one.xz: a single block; plain: not xz at all. */
static void xt_setup(void)
{
	static const unsigned char pad[8];

	xt_data = malloc(XT_SIZE);
	ck_assert_ptr_nonnull(xt_data);
	cu_fill_runs(xt_data, XT_SIZE, 12345);
	cu_write_scratch("xt-a", xt_data, XT_SPLIT, "wb");
	cu_write_scratch("xt-b", xt_data + XT_SPLIT, XT_SIZE - XT_SPLIT, "wb");
	cu_write_scratch("xt-pad", pad, sizeof(pad), "wb");
	cu_write_scratch("plain", xt_data, 4096, "wb");
	cu_run_scratch(XT_XZ, "xt-a", ">", "a.xz");
	cu_run_scratch(XT_XZ, "xt-b", ">", "b.xz");
	cu_run_scratch("cat", "a.xz", ">", "xz.xz");
	cu_run_scratch("cat", "xt-pad", ">>", "xz.xz");
	cu_run_scratch("cat", "b.xz", ">>", "xz.xz");
	cu_run_scratch("xz -q -T1 -1 -c", "xt-b", ">", "one.xz");
}

static void xt_teardown(void)
{
	free(xt_data);
	xt_data = NULL;
}

static void *xt_fmt(int fd, uint64_t size)
{
	struct bmap_err err = { "" };
	void *fmt = NULL;
	int r = xz_seek_ops.open(fd, size, 2, &fmt, &err);

	ck_assert_msg(r == 0, "open: %d %s", r, err.msg);
	return fmt;
}

START_TEST(test_offsets)
{
	static const uint64_t offs[] = {
		0, 1, XT_BLOCK - 1, XT_BLOCK, XT_BLOCK + 1, XT_SPLIT - 1,
		XT_SPLIT, XT_SPLIT + 1, XT_SPLIT + XT_BLOCK,
		XT_SIZE / 2, XT_SIZE - 4096, XT_SIZE - 1, XT_SIZE,
		XT_SIZE + 100,
	};
	uint64_t size;
	int fd = cu_open_scratch("xz.xz", &size);
	void *fmt = xt_fmt(fd, size);
	size_t i;

	ck_assert_uint_eq(xz_seek_ops.size(fmt), XT_SIZE);
	/* Every block start is a seek point, in both streams. */
	ck_assert_uint_eq(xz_seek_ops.point(fmt, XT_BLOCK), XT_BLOCK);
	ck_assert_uint_eq(xz_seek_ops.point(fmt, XT_SPLIT - 1), 2 * XT_BLOCK);
	ck_assert_uint_eq(xz_seek_ops.point(fmt, XT_SPLIT), XT_SPLIT);
	ck_assert_uint_eq(xz_seek_ops.point(fmt, XT_SPLIT + XT_BLOCK + 5),
			  XT_SPLIT + XT_BLOCK);
	ck_assert_uint_eq(xz_seek_ops.point(fmt, XT_SIZE + 9),
			  XT_SPLIT + 3 * XT_BLOCK);
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		cu_ra_check_at(&xz_seek_ops, fmt,
			       xt_data, XT_SIZE, offs[i], 70000);
	/* From the start to the end, through both streams. */
	cu_ra_check_at(&xz_seek_ops, fmt, xt_data, XT_SIZE, 0, XT_SIZE);
	ck_assert_ptr_null(xz_seek_ops.save);
	ck_assert_ptr_null(xz_seek_ops.load);
	xz_seek_ops.close(fmt);
	close(fd);
}
END_TEST

START_TEST(test_interleaved)
{
	struct bmap_err err = { "" };
	uint64_t size, sa, sb, pa, pb;
	int fd = cu_open_scratch("xz.xz", &size);
	void *fmt = xt_fmt(fd, size), *a, *b;
	static unsigned char buf[65536];

	ck_assert_int_eq(xz_seek_ops.cursor_open(fmt, 5, &a, &sa, &err), 0);
	ck_assert_int_eq(xz_seek_ops.cursor_open(fmt, XT_SIZE - 10, &b, &sb,
					       &err), 0);
	ck_assert_uint_eq(sa, 0);
	for (pa = sa, pb = sb; pa < XT_SIZE; ) {
		size_t n = cu_ra_read(&xz_seek_ops, a, buf, sizeof(buf));

		ck_assert_uint_gt(n, 0);
		ck_assert(memcmp(buf, xt_data + pa, n) == 0);
		pa += n;
		if (pb < XT_SIZE) {
			n = cu_ra_read(&xz_seek_ops, b, buf, 16384);
			ck_assert(memcmp(buf, xt_data + pb, n) == 0);
			pb += n;
		}
	}
	ck_assert_uint_eq(pb, XT_SIZE);
	ck_assert_uint_eq(cu_ra_read(&xz_seek_ops, a, buf, 10), 0);
	ck_assert_uint_eq(cu_ra_read(&xz_seek_ops, b, buf, 10), 0);
	xz_seek_ops.cursor_close(a);
	xz_seek_ops.cursor_close(b);
	xz_seek_ops.close(fmt);
	close(fd);
}
END_TEST

START_TEST(test_not_seekable)
{
	void *fmt = NULL;
	uint64_t size;
	int fd = open("/dev/null", O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(xz_seek_ops.open(fd, 0, 1, &fmt, NULL), -ENOTSUP);
	close(fd);
	fd = cu_open_scratch("plain", &size);
	ck_assert_int_eq(xz_seek_ops.open(fd, size, 1, &fmt, NULL), -ENOTSUP);
	close(fd);
	/* One block: nowhere to seek to. */
	fd = cu_open_scratch("one.xz", &size);
	ck_assert_int_eq(xz_seek_ops.open(fd, size, 1, &fmt, NULL), -ENOTSUP);
	close(fd);
}
END_TEST

/* A copy of xz.xz with the byte at pos (from the end when < 0) flipped,
 * or cut to len bytes. */
static int xt_damaged(const char *name, long long pos, uint64_t cut,
		      uint64_t *size)
{
	uint64_t len;
	int fd = cu_open_scratch("xz.xz", &len);
	unsigned char *buf = malloc(len);

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(pread(fd, buf, len, 0), (ssize_t)len);
	close(fd);
	if (cut)
		len = cut;
	else
		buf[pos < 0 ? (long long)len + pos : pos] ^= 0x10;
	cu_write_scratch(name, buf, len, "wb");
	free(buf);
	return cu_open_scratch(name, size);
}

/* Decode everything from 0: the first error, or 0. */
static int xt_read_all(void *fmt, struct bmap_err *err)
{
	static unsigned char buf[65536];
	void *cur;
	uint64_t start;
	ssize_t n;
	int r = xz_seek_ops.cursor_open(fmt, 0, &cur, &start, err);

	if (r < 0)
		return r;
	do
		n = xz_seek_ops.cursor_read(cur, buf, sizeof(buf), err);
	while (n > 0);
	xz_seek_ops.cursor_close(cur);
	return (int)n;
}

START_TEST(test_corrupt)
{
	struct bmap_err err = { "" };
	void *fmt = NULL;
	uint64_t size;
	int fd, r;

	/* In the data of the first block: found by decoding. */
	fd = xt_damaged("bad-data.xz", 5000, 0, &size);
	fmt = xt_fmt(fd, size);
	ck_assert_int_eq(xt_read_all(fmt, &err), -EBADMSG);
	ck_assert_msg(strstr(err.msg, "corrupt xz data"), "%s", err.msg);
	xz_seek_ops.close(fmt);
	close(fd);
	/* In the last stream's index, or cut short (no footer where it
	 * should be): no index to seek by, so decoded from the start, as
	 * bmapcopy does (the decoder finds the damage where it is). */
	fd = xt_damaged("bad-index.xz", -20, 0, &size);
	r = xz_seek_ops.open(fd, size, 1, &fmt, &err);
	ck_assert_int_eq(r, -ENOTSUP);
	close(fd);
	fd = cu_open_scratch("xz.xz", &size);
	close(fd);
	fd = xt_damaged("cut.xz", 0, size / 2, &size);
	ck_assert_int_eq(xz_seek_ops.open(fd, size, 1, &fmt, &err), -ENOTSUP);
	close(fd);
}
END_TEST

/* Cut in the middle (of its second stream's blocks): the engine opens it
 * all the same, reads right before the cut, EIO after it. */
START_TEST(test_truncated)
{
	uint64_t size;
	int fd = cu_open_scratch("xz.xz", &size);

	close(fd);
	close(xt_damaged("cut.xz", 0, size * 2 / 3, &size));
	cu_ra_check_cut("cut.xz", "xz -dc", xt_data, XT_SIZE, "xz",
			"truncated xz data");
}
END_TEST

/* A block header whose header CRC is broken, in the second stream. */
START_TEST(test_corrupt_header)
{
	struct bmap_err err = { "" };
	static unsigned char buf[4096];
	uint64_t size, b, start;
	void *fmt, *cur;
	ssize_t n;
	int fd;

	fd = cu_open_scratch("xz.xz", &size);
	close(fd);
	fd = cu_open_scratch("b.xz", &b);
	close(fd);
	/* Stream 2's first block header follows its 12-byte header. */
	fd = xt_damaged("bad-hdr.xz", (long long)(size - b + 13), 0, &size);
	fmt = xt_fmt(fd, size);
	ck_assert_int_eq(xz_seek_ops.cursor_open(fmt, XT_SPLIT, &cur, &start,
					       &err), 0);
	ck_assert_uint_eq(start, XT_SPLIT);
	n = xz_seek_ops.cursor_read(cur, buf, sizeof(buf), &err);
	ck_assert_int_eq(n, -EBADMSG);
	ck_assert_msg(strstr(err.msg, "corrupt xz data"), "%s",
		      err.msg);
	xz_seek_ops.cursor_close(cur);
	/* The first stream is still fine. */
	cu_ra_check_at(&xz_seek_ops, fmt, xt_data, XT_SIZE, 100, 1000);
	xz_seek_ops.close(fmt);
	close(fd);
}
END_TEST

/* Block starts dropped (in a stream, and the second stream's first):
 * cursors then start at the block before, and the data are right; the
 * point at 0 is never dropped. */
START_TEST(test_drop_point)
{
	uint64_t size, off = 2 * XT_BLOCK + 5;
	int fd = cu_open_scratch("xz.xz", &size);
	void *fmt = xt_fmt(fd, size);

	ck_assert_uint_eq(xz_seek_ops.point(fmt, off), 2 * XT_BLOCK);
	xz_seek_ops.drop_point(fmt, 2 * XT_BLOCK);
	ck_assert_uint_eq(xz_seek_ops.point(fmt, off), XT_BLOCK);
	cu_ra_check_at(&xz_seek_ops, fmt, xt_data, XT_SIZE, off, 70000);
	xz_seek_ops.drop_point(fmt, XT_BLOCK);
	xz_seek_ops.drop_point(fmt, 0);
	ck_assert_uint_eq(xz_seek_ops.point(fmt, off), 0);
	cu_ra_check_at(&xz_seek_ops, fmt, xt_data, XT_SIZE, off, 70000);
	ck_assert_uint_eq(xz_seek_ops.point(fmt, XT_SPLIT + 7), XT_SPLIT);
	xz_seek_ops.drop_point(fmt, XT_SPLIT);
	ck_assert_uint_eq(xz_seek_ops.point(fmt, XT_SPLIT + 7), 0);
	cu_ra_check_at(&xz_seek_ops, fmt, xt_data, XT_SIZE, XT_SPLIT + 7,
		       70000);
	/* Blocks after it are still points. */
	ck_assert_uint_eq(xz_seek_ops.point(fmt, XT_SPLIT + XT_BLOCK + 7),
			  XT_SPLIT + XT_BLOCK);
	xz_seek_ops.close(fmt);
	close(fd);
}
END_TEST

/* From 0 to the end in reads of step bytes: the data. */
static void xt_read_steps(void *fmt, size_t step)
{
	struct bmap_err err = { "" };
	unsigned char *buf = malloc(step);
	uint64_t pos, start;
	void *cur;

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(xz_seek_ops.cursor_open(fmt, 0, &cur, &start, &err),
			 0);
	for (pos = 0; pos < XT_SIZE; ) {
		ssize_t n = xz_seek_ops.cursor_read(cur, buf, step, &err);

		ck_assert_msg(n > 0, "read at %llu: %zd %s",
			      (unsigned long long)pos, n, err.msg);
		ck_assert_msg(memcmp(buf, xt_data + pos, (size_t)n) == 0,
			      "wrong data at %llu", (unsigned long long)pos);
		pos += (uint64_t)n;
	}
	ck_assert_uint_eq(pos, XT_SIZE);
	ck_assert_int_eq(xz_seek_ops.cursor_read(cur, buf, step, &err), 0);
	xz_seek_ops.cursor_close(cur);
	free(buf);
}

/* Blocks decoded ahead, whole or in pieces (of a size that divides the
 * blocks, the last one of which is exactly full, or not), read in pieces
 * large and small. */
START_TEST(test_ahead)
{
	static const size_t maxes[] = { 64u << 20, 300000, 512 * 1024, 4096 };
	static const size_t steps[] = { 1u << 20, 65536, 7777, 1 << 21 };
	uint64_t size;
	int fd = cu_open_scratch("xz.xz", &size);
	size_t i;

	for (i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
		void *fmt = xt_fmt(fd, size);

		xz_test_ahead_max(fmt, maxes[i]);
		xt_read_steps(fmt, steps[i]);
		if (i == 1)
			cu_ra_check_at(&xz_seek_ops, fmt,
				       xt_data, XT_SIZE, XT_BLOCK + 7, XT_SIZE);
		xz_seek_ops.close(fmt);
	}
	close(fd);
}
END_TEST

/* Cursors closed at all sorts of places, the worker decoding (or waiting
 * for its piece to be read) at the time: no hang, no leak (ASan,
 * valgrind). */
START_TEST(test_ahead_close)
{
	static const uint64_t stops[] = {
		0, 1, XT_BLOCK, XT_BLOCK + 1, XT_BLOCK + 70000,
		2 * XT_BLOCK - 1, 2 * XT_BLOCK, 2 * XT_BLOCK + 1, XT_SPLIT,
		XT_SPLIT + XT_BLOCK + 3, XT_SPLIT + 2 * XT_BLOCK + 9,
	};
	static unsigned char buf[40000];
	struct bmap_err err = { "" };
	uint64_t size, start;
	int fd = cu_open_scratch("xz.xz", &size);
	size_t i, m;

	for (m = 0; m < 2; m++) {
		void *fmt = xt_fmt(fd, size);

		if (m == 1)
			xz_test_ahead_max(fmt, 100000);
		for (i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) {
			uint64_t pos = 0;
			void *cur;

			ck_assert_int_eq(xz_seek_ops.cursor_open(fmt, 0, &cur,
							       &start, &err),
					 0);
			while (pos < stops[i]) {
				size_t want = stops[i] - pos < sizeof(buf) ?
					stops[i] - pos : sizeof(buf);
				ssize_t n = xz_seek_ops.cursor_read(cur, buf,
								  want, &err);

				ck_assert_int_gt(n, 0);
				ck_assert(memcmp(buf, xt_data + pos,
						 (size_t)n) == 0);
				pos += (uint64_t)n;
			}
			xz_seek_ops.cursor_close(cur);
		}
		xz_seek_ops.close(fmt);
	}
	close(fd);
}
END_TEST

/* Where block k (from 0) of b.xz (stream 2 of xz.xz) is in xz.xz, and
 * its compressed size, as xz --list tells. */
static void xt_block_at(unsigned k, uint64_t *off, uint64_t *total)
{
	char pb[256], cmd[512], line[512];
	uint64_t xz_size, b_size;
	bool found = false;
	FILE *p;
	int fd;

	fd = cu_open_scratch("xz.xz", &xz_size);
	close(fd);
	fd = cu_open_scratch("b.xz", &b_size);
	close(fd);
	cu_scratch_path(pb, sizeof(pb), "b.xz");
	snprintf(cmd, sizeof(cmd), "xz --robot --list -vv %s", pb);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while (fgets(line, sizeof(line), p)) {
		unsigned s, bs, bf;
		unsigned long long co, uo, ts;

		if (sscanf(line, "block\t%u\t%u\t%u\t%llu\t%llu\t%llu", &s,
			   &bs, &bf, &co, &uo, &ts) == 6 && bf == k + 1) {
			ck_assert_uint_eq(uo, (uint64_t)k * XT_BLOCK);
			*off = xz_size - b_size + co;
			*total = ts;
			found = true;
		}
	}
	ck_assert_int_eq(pclose(p), 0);
	ck_assert(found);
}

/* Read from 0 until an error: it comes after all the data before the
 * block at bad and no later than the bytes of that block (which the
 * worker decodes), and stays. The count read before it. */
static uint64_t xt_error_at(void *fmt, uint64_t bad, const char *msg)
{
	struct bmap_err err = { "" };
	static unsigned char buf[50000];
	uint64_t pos = 0, start;
	void *cur;
	ssize_t n;

	ck_assert_int_eq(xz_seek_ops.cursor_open(fmt, 0, &cur, &start, &err),
			 0);
	for (;;) {
		n = xz_seek_ops.cursor_read(cur, buf, sizeof(buf), &err);
		if (n <= 0)
			break;
		/* From bad on, what the damaged block decodes to until
		 * liblzma sees the damage (at worst, the check). */
		if (pos < bad)
			ck_assert(memcmp(buf, xt_data + pos,
					 bad - pos < (uint64_t)n ?
					 (size_t)(bad - pos) : (size_t)n) == 0);
		pos += (uint64_t)n;
	}
	ck_assert_int_eq(n, -EBADMSG);
	ck_assert_msg(strstr(err.msg, msg), "%s", err.msg);
	ck_assert_uint_ge(pos, bad);
	ck_assert_uint_le(pos, bad + XT_BLOCK);
	err.msg[0] = 0;
	ck_assert_int_eq(xz_seek_ops.cursor_read(cur, buf, sizeof(buf), &err),
			 -EBADMSG);
	ck_assert_msg(strstr(err.msg, msg), "%s", err.msg);
	xz_seek_ops.cursor_close(cur);
	return pos;
}

/* The 5th block (2nd of stream 2), which a cursor from 0 decodes ahead,
 * with its data, then its header, damaged. */
START_TEST(test_ahead_corrupt)
{
	uint64_t off, total, size;
	const uint64_t bad = XT_SPLIT + XT_BLOCK;
	void *fmt;
	int fd;

	xt_block_at(1, &off, &total);
	fd = xt_damaged("bad-ahead.xz", (long long)(off + total / 2), 0,
			&size);
	fmt = xt_fmt(fd, size);
	xt_error_at(fmt, bad, "corrupt xz data");
	xz_test_ahead_max(fmt, 200000);
	xt_error_at(fmt, bad, "corrupt xz data");
	xz_seek_ops.close(fmt);
	close(fd);
	fd = xt_damaged("bad-ahead-hdr.xz", (long long)off + 1, 0, &size);
	fmt = xt_fmt(fd, size);
	/* Exactly at the block's start: nothing of it to hand out. */
	ck_assert_uint_eq(xt_error_at(fmt, bad, "corrupt xz data"),
			  bad);
	xz_seek_ops.close(fmt);
	close(fd);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Damaged files: bmapcopy's STREAM side and bmapfs's SEEK side agree  */

/* How a case damages xz.xz (stream 1 "a.xz", 8 bytes of padding, stream
 * 2 "b.xz"), at an offset counted from a place in it. */
enum xt_how {
	XT_CUT,		/* keep the bytes before where */
	XT_FLIP,	/* flip a bit of the byte at where */
	XT_APPEND,	/* add tail (tlen bytes) after the end */
	XT_NOPAD,	/* a.xz and b.xz with no padding between */
};
/* Where the offset counts from: the start, the end or the middle of
 * xz.xz, or the end of its first stream. */
enum xt_from { XT_START, XT_END, XT_MID, XT_A_END };

struct xt_case {
	const char *what;
	enum xt_how how;
	enum xt_from from;
	long long where;
	const char *tail;
	size_t tlen;
	bool seekable;		/* bmapfs finds the blocks by the index */
	int error;		/* what both say: 0, EIO or EBADMSG */
	const char *msg;	/* and how their message starts */
	uint64_t size;		/* 0: all of the data, when error is 0 */
};

static const struct xt_case xt_cases[] = {
	{ "cut in block 1", XT_CUT, XT_START, 100, NULL, 0, false, EIO,
	  "truncated xz data", 0 },
	{ "cut in stream 1", XT_CUT, XT_A_END, -3000, NULL, 0, false, EIO,
	  "truncated xz data", 0 },
	{ "cut in stream 1's index", XT_CUT, XT_A_END, -20, NULL, 0, false, EIO,
	  "truncated xz data", 0 },
	{ "cut in stream 2", XT_CUT, XT_END, -100000, NULL, 0, false, EIO,
	  "truncated xz data", 0 },
	{ "cut in the last footer", XT_CUT, XT_END, -1, NULL, 0, false, EIO,
	  "truncated xz data", 0 },
	{ "cut in the padding", XT_CUT, XT_A_END, 2, NULL, 0, false, EBADMSG,
	  "corrupt xz data: bad stream padding", 0 },
	{ "cut after the padding", XT_CUT, XT_A_END, 8, NULL, 0, true, 0, NULL,
	  XT_SPLIT },
	{ "flip in the stream header", XT_FLIP, XT_START, 7, NULL, 0, false,
	  EBADMSG, "corrupt xz data: ", 0 },
	{ "flip in block 1's header", XT_FLIP, XT_START, 13, NULL, 0, true,
	  EBADMSG, "corrupt xz data: ", 0 },
	{ "flip early in block 1", XT_FLIP, XT_START, 300, NULL, 0, true,
	  EBADMSG, "corrupt xz data: ", 0 },
	{ "flip in the middle", XT_FLIP, XT_MID, 0, NULL, 0, true, EBADMSG,
	  "corrupt xz data: ", 0 },
	{ "flip in stream 1's index", XT_FLIP, XT_A_END, -20, NULL, 0, false,
	  EBADMSG, "corrupt xz data: ", 0 },
	{ "flip in stream 1's footer", XT_FLIP, XT_A_END, -6, NULL, 0, false,
	  EBADMSG, "corrupt xz data: ", 0 },
	{ "flip in the last index", XT_FLIP, XT_END, -20, NULL, 0, false,
	  EBADMSG, "corrupt xz data: ", 0 },
	{ "flip in the last footer", XT_FLIP, XT_END, -3, NULL, 0, false,
	  EBADMSG, "corrupt xz data: ", 0 },
	{ "trailing garbage", XT_APPEND, XT_END, 0, "x", 1, false, EBADMSG,
	  "corrupt xz data: trailing garbage", 0 },
	{ "padding, then garbage", XT_APPEND, XT_END, 0, "\0\0\0\0x", 5,
	  false, EBADMSG, "corrupt xz data: trailing garbage", 0 },
	{ "bad padding at the end", XT_APPEND, XT_END, 0, "\0\0\0", 3, false,
	  EBADMSG, "corrupt xz data: bad stream padding", 0 },
	{ "padding at the end", XT_APPEND, XT_END, 0, "\0\0\0\0", 4, true, 0,
	  NULL, 0 },
	{ "a stream header at the end", XT_APPEND, XT_END, 0,
	  "\xfd" "7zXZ\0\0\x04\xe6\xd6\xb4\x46", 12, false, EIO,
	  "truncated xz data", 0 },
	{ "two streams, no padding", XT_NOPAD, XT_START, 0, NULL, 0, true, 0,
	  NULL, 0 },
};
#define XT_NCASES (int)(sizeof(xt_cases) / sizeof(xt_cases[0]))

/* The damaged file of case t, as scratch file "damaged.xz". */
static void xt_make(const struct xt_case *t)
{
	uint64_t len, alen;
	unsigned char *buf;
	long long at = t->where;
	int fd = cu_open_scratch("xz.xz", &len);

	close(fd);
	close(cu_open_scratch("a.xz", &alen));
	if (t->how == XT_NOPAD) {
		cu_run_scratch("cat", "a.xz", ">", "damaged.xz");
		cu_run_scratch("cat", "b.xz", ">>", "damaged.xz");
		return;
	}
	buf = malloc(len);
	ck_assert_ptr_nonnull(buf);
	fd = cu_open_scratch("xz.xz", &len);
	ck_assert_int_eq(pread(fd, buf, len, 0), (ssize_t)len);
	close(fd);
	if (t->from == XT_END)
		at += (long long)len;
	else if (t->from == XT_MID)
		at += (long long)len / 2;
	else if (t->from == XT_A_END)
		at += (long long)alen;
	ck_assert(at >= 0 && (uint64_t)at <= len);
	if (t->how == XT_CUT)
		len = (uint64_t)at;
	else if (t->how == XT_FLIP)
		buf[at] ^= 0x10;
	cu_write_scratch("damaged.xz", buf, len, "wb");
	if (t->how == XT_APPEND)
		cu_write_scratch("damaged.xz", t->tail, t->tlen, "ab");
	free(buf);
}

/* What one side made of the file: the bytes before the error, the error
 * (0 or -errno) and its message. */
struct xt_outcome {
	unsigned char *data;
	uint64_t len;
	int ret;
	struct bmap_err err;
};

/* All of it through bmapcopy's side, in reads of 64 KiB. */
static void xt_by_source(const char *path, unsigned threads,
			 struct xt_outcome *o)
{
	const size_t cap = XT_SIZE + (2u << 20);
	struct bmap_source *src;
	ssize_t n;

	o->data = malloc(cap);
	ck_assert_ptr_nonnull(o->data);
	/* Opening decodes the first bytes (to look for a tar archive):
	 * it fails like a read. */
	o->ret = bmap_source_open(&src, path, threads, &o->err);
	if (o->ret < 0)
		return;
	do {
		n = bmap_source_read(src, o->data + o->len,
				     cap - o->len < 65536 ? cap - o->len :
				     65536, &o->err);
		if (n > 0)
			o->len += (uint64_t)n;
	} while (n > 0 && o->len < cap);
	o->ret = n < 0 ? (int)n : 0;
	if (o->ret < 0) {
		/* A decoder that failed keeps failing, alike. */
		struct bmap_err again = { "" };

		ck_assert_int_eq(bmap_source_read(src, o->data, 65536,
						  &again), o->ret);
		ck_assert_str_eq(again.msg, o->err.msg);
	}
	bmap_source_close(src);
}

/* All of it through bmapfs's engine, chunk by chunk from the start. */
static void xt_by_ra(const char *path, unsigned threads, bool seekable,
		     struct xt_outcome *o)
{
	const size_t cap = XT_SIZE + (2u << 20);
	struct bmap_ra_opts opts = { .threads = threads };
	struct bmap_ra *ra;
	ssize_t n;

	o->data = malloc(cap);
	ck_assert_ptr_nonnull(o->data);
	/* Decoding from the start opens a source (above) at once. */
	o->ret = bmap_ra_open(&ra, path, &opts, &o->err);
	if (o->ret < 0 && !seekable)
		return;
	ck_assert_msg(o->ret == 0, "ra: %s", o->err.msg);
	ck_assert_str_eq(bmap_ra_format(ra), seekable ? "xz, seekable" :
			 "xz, sequential");
	do {
		n = bmap_ra_pread(ra, o->data + o->len, BMAP_RA_CHUNK, o->len,
				  &o->err);
		if (n > 0)
			o->len += (uint64_t)n;
	} while (n > 0 && o->len + BMAP_RA_CHUNK <= cap);
	o->ret = n < 0 ? (int)n : 0;
	bmap_ra_close(ra);
}

/* Scratch file name (the image's data[0..full) packed, then damaged as t
 * says) through both sides with `threads` threads: the same bytes
 * (bmapfs only whole chunks: those before the one the error is in), then
 * the same error, the one t expects. */
static void xt_agree(const struct xt_case *t, const char *name,
		     unsigned threads, const unsigned char *data,
		     uint64_t full)
{
	struct xt_outcome s = { 0 }, r = { 0 };
	uint64_t want;
	char path[256];

	cu_scratch_path(path, sizeof(path), name);
	xt_by_source(path, threads, &s);
	xt_by_ra(path, threads, t->seekable, &r);
	ck_assert_msg(s.ret == -t->error, "%s: bmapcopy's side: %d %s",
		      t->what, s.ret, s.ret ? s.err.msg : "");
	ck_assert_msg(r.ret == -t->error, "%s: bmapfs's side: %d %s",
		      t->what, r.ret, r.ret ? r.err.msg : "");
	if (t->error) {
		ck_assert_msg(!strncmp(s.err.msg, t->msg, strlen(t->msg)),
			      "%s: bmapcopy's side: %s", t->what, s.err.msg);
		ck_assert_msg(!strcmp(s.err.msg, r.err.msg),
			      "%s: bmapcopy's side: %s; bmapfs's side: %s",
			      t->what, s.err.msg, r.err.msg);
		want = s.len / BMAP_RA_CHUNK * BMAP_RA_CHUNK;
	} else {
		want = t->size ? t->size : full;
		ck_assert_uint_eq(s.len, want);
	}
	ck_assert_msg(r.len == want, "%s: bmapcopy's side %llu bytes, "
		      "bmapfs's side %llu", t->what,
		      (unsigned long long)s.len, (unsigned long long)r.len);
	ck_assert(memcmp(s.data, r.data, (size_t)r.len) == 0);
	/* A flipped byte may give wrong bytes before either side finds it
	 * (a block's check comes at its end); else every byte is right. */
	if (t->how != XT_FLIP)
		ck_assert(memcmp(s.data, data, (size_t)s.len) == 0);
	free(s.data);
	free(r.data);
}

/* Case _i / 2, with 1 and 2 threads. */
START_TEST(test_damaged)
{
	const struct xt_case *t = &xt_cases[_i / 2];

	xt_make(t);
	xt_agree(t, "damaged.xz", 1 + (unsigned)(_i % 2), xt_data, XT_SIZE);
}
END_TEST

/* Set the check ID of an xz stream of len bytes at buf to id, in its
 * header and its footer, with their CRC32s. */
static void xt_set_check(unsigned char *buf, size_t len, unsigned char id)
{
	uint32_t crc;
	int i;

	buf[7] = id;
	crc = lzma_crc32(buf + 6, 2, 0);
	for (i = 0; i < 4; i++)
		buf[8 + i] = (unsigned char)(crc >> (8 * i));
	buf[len - 3] = id;
	crc = lzma_crc32(buf + len - 8, 6, 0);
	for (i = 0; i < 4; i++)
		buf[len - 12 + i] = (unsigned char)(crc >> (8 * i));
}

/* A check liblzma cannot verify (ID 2: reserved, of CRC32's size), in a
 * file of several blocks: bmapcopy's side refuses the data, and bmapfs's
 * side must not serve it unchecked either. With 1 and 2 threads. */
START_TEST(test_unknown_check)
{
	static const struct xt_case t = {
		"check ID 2", XT_CUT, XT_START, 0, NULL, 0, false, EBADMSG,
		"corrupt xz data: unsupported integrity check", 0,
	};
	unsigned char *buf;
	uint64_t len;
	int fd;

	cu_run_scratch("xz -q -T1 -1 --check=crc32 --block-size=1MiB -c",
		       "xt-b", ">", "crc32.xz");
	fd = cu_open_scratch("crc32.xz", &len);
	buf = malloc(len);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(pread(fd, buf, len, 0), (ssize_t)len);
	close(fd);
	xt_set_check(buf, len, 2);
	cu_write_scratch("check2.xz", buf, len, "wb");
	free(buf);
	xt_agree(&t, "check2.xz", 1 + (unsigned)_i, xt_data + XT_SPLIT,
		 XT_SIZE - XT_SPLIT);
}
END_TEST

Suite *ra_xz_suite(void)
{
	Suite *s = suite_create("ra-xz");
	TCase *tc = tcase_create("xz");

	tcase_add_unchecked_fixture(tc, xt_setup, xt_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_offsets);
	tcase_add_test(tc, test_interleaved);
	tcase_add_test(tc, test_not_seekable);
	tcase_add_test(tc, test_corrupt);
	tcase_add_test(tc, test_corrupt_header);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_drop_point);
	tcase_add_test(tc, test_ahead);
	tcase_add_test(tc, test_ahead_close);
	tcase_add_test(tc, test_ahead_corrupt);
	suite_add_tcase(s, tc);
	tc = tcase_create("damaged");
	tcase_add_unchecked_fixture(tc, xt_setup, xt_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_damaged, 0, 2 * XT_NCASES);
	tcase_add_loop_test(tc, test_unknown_check, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
