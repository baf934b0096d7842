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

#include "check-suites.h"
#include "check-util.h"
#include "ra.h"

#define XT_SIZE (6u * 1024 * 1024 + 12345)
/* The first stream holds this much, in blocks of XT_BLOCK. */
#define XT_SPLIT (2u * 1024 * 1024 + 512 * 1024)
#define XT_BLOCK (1024 * 1024)
#define XT_XZ "xz -q -T1 -1 --block-size=1MiB -c"

/* ra-xz.c, for the tests: decode ahead in pieces of at most max bytes. */

static unsigned char *xt_data;

/* Pseudo-random bytes (compressible a little) with runs of zeros. */
static void xt_fill(unsigned char *buf, size_t len)
{
	uint32_t x = 12345;
	size_t i = 0;

	while (i < len) {
		size_t run;

		x = x * 1103515245u + 12345u;
		run = 1 + (x >> 12) % 40000;
		if (run > len - i)
			run = len - i;
		if ((x >> 8) % 3 == 0) {
			memset(buf + i, 0, run);
		} else {
			size_t j;

			for (j = 0; j < run; j++) {
				x = x * 1103515245u + 12345u;
				buf[i + j] = (unsigned char)((x >> 24) & 0x3f);
			}
		}
		i += run;
	}
}

static void xt_write(const char *name, const void *buf, size_t len)
{
	char path[256];
	FILE *f;

	cu_scratch_path(path, sizeof(path), name);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* Run "<prog> <scratch file a> <redir> <scratch file b>". */
static void xt_run(const char *prog, const char *a, const char *redir,
		   const char *b)
{
	char pa[256], pb[256], cmd[1024];

	cu_scratch_path(pa, sizeof(pa), a);
	cu_scratch_path(pb, sizeof(pb), b);
	snprintf(cmd, sizeof(cmd), "%s %s %s %s", prog, pa, redir, pb);
	ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

/* xz.xz: stream 1 (3 blocks), 8 bytes of stream padding, stream 2 (4
 * blocks); one.xz: a single block; plain: not xz at all. */
static void xt_setup(void)
{
	static const unsigned char pad[8];

	xt_data = malloc(XT_SIZE);
	ck_assert_ptr_nonnull(xt_data);
	xt_fill(xt_data, XT_SIZE);
	xt_write("xt-a", xt_data, XT_SPLIT);
	xt_write("xt-b", xt_data + XT_SPLIT, XT_SIZE - XT_SPLIT);
	xt_write("xt-pad", pad, sizeof(pad));
	xt_write("plain", xt_data, 4096);
	xt_run(XT_XZ, "xt-a", ">", "a.xz");
	xt_run(XT_XZ, "xt-b", ">", "b.xz");
	xt_run("cat", "a.xz", ">", "xz.xz");
	xt_run("cat", "xt-pad", ">>", "xz.xz");
	xt_run("cat", "b.xz", ">>", "xz.xz");
	xt_run("xz -q -T1 -1 -c", "xt-b", ">", "one.xz");
}

static void xt_teardown(void)
{
	free(xt_data);
	xt_data = NULL;
}

static int xt_openfile(const char *name, uint64_t *size)
{
	char path[256];
	struct stat st;
	int fd;

	cu_scratch_path(path, sizeof(path), name);
	fd = open(path, O_RDONLY);
	ck_assert_msg(fd >= 0, "cannot open %s", path);
	ck_assert_int_eq(fstat(fd, &st), 0);
	*size = (uint64_t)st.st_size;
	return fd;
}

static void *xt_fmt(int fd, uint64_t size)
{
	struct bmap_err err = { "" };
	void *fmt = NULL;
	int r = ra_xz_ops.open(fd, size, 2, &fmt, &err);

	ck_assert_msg(r == 0, "open: %d %s", r, err.msg);
	return fmt;
}

/* Read len bytes (fewer only at the end); the count read. */
static size_t xt_read(void *cur, unsigned char *buf, size_t len)
{
	struct bmap_err err = { "" };
	size_t done = 0;

	while (done < len) {
		ssize_t n = ra_xz_ops.cursor_read(cur, buf + done,
						  len - done, &err);

		ck_assert_msg(n >= 0, "read: %zd %s", n, err.msg);
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return done;
}

/* A cursor for off: its start is point(off) and at or before off, and
 * what it reads from there up to off + want is the data. */
static void xt_check_at(void *fmt, uint64_t off, size_t want)
{
	uint64_t pt = ra_xz_ops.point(fmt, off), start = 0, end;
	struct bmap_err err = { "" };
	unsigned char *buf;
	void *cur = NULL;
	size_t got;

	ck_assert_uint_le(pt, off);
	ck_assert_int_eq(ra_xz_ops.cursor_open(fmt, off, &cur, &start, &err),
			 0);
	ck_assert_uint_eq(start, pt);
	end = off + want < XT_SIZE ? off + want : XT_SIZE;
	buf = malloc(end - start + 1);
	ck_assert_ptr_nonnull(buf);
	got = xt_read(cur, buf, end - start + 1);
	if (end == XT_SIZE)
		ck_assert_uint_eq(got, end - start);
	else
		ck_assert_uint_eq(got, end - start + 1);
	ck_assert_msg(memcmp(buf, xt_data + start, end - start) == 0,
		      "wrong data for offset %llu", (unsigned long long)off);
	free(buf);
	ra_xz_ops.cursor_close(cur);
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
	int fd = xt_openfile("xz.xz", &size);
	void *fmt = xt_fmt(fd, size);
	size_t i;

	ck_assert_uint_eq(ra_xz_ops.size(fmt), XT_SIZE);
	/* Every block start is a seek point, in both streams. */
	ck_assert_uint_eq(ra_xz_ops.point(fmt, XT_BLOCK), XT_BLOCK);
	ck_assert_uint_eq(ra_xz_ops.point(fmt, XT_SPLIT - 1), 2 * XT_BLOCK);
	ck_assert_uint_eq(ra_xz_ops.point(fmt, XT_SPLIT), XT_SPLIT);
	ck_assert_uint_eq(ra_xz_ops.point(fmt, XT_SPLIT + XT_BLOCK + 5),
			  XT_SPLIT + XT_BLOCK);
	ck_assert_uint_eq(ra_xz_ops.point(fmt, XT_SIZE + 9),
			  XT_SPLIT + 3 * XT_BLOCK);
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		xt_check_at(fmt, offs[i], 70000);
	/* From the start to the end, through both streams. */
	xt_check_at(fmt, 0, XT_SIZE);
	ck_assert_ptr_null(ra_xz_ops.save);
	ck_assert_ptr_null(ra_xz_ops.load);
	ra_xz_ops.close(fmt);
	close(fd);
}
END_TEST

START_TEST(test_interleaved)
{
	struct bmap_err err = { "" };
	uint64_t size, sa, sb, pa, pb;
	int fd = xt_openfile("xz.xz", &size);
	void *fmt = xt_fmt(fd, size), *a, *b;
	static unsigned char buf[65536];

	ck_assert_int_eq(ra_xz_ops.cursor_open(fmt, 5, &a, &sa, &err), 0);
	ck_assert_int_eq(ra_xz_ops.cursor_open(fmt, XT_SIZE - 10, &b, &sb,
					       &err), 0);
	ck_assert_uint_eq(sa, 0);
	for (pa = sa, pb = sb; pa < XT_SIZE; ) {
		size_t n = xt_read(a, buf, sizeof(buf));

		ck_assert_uint_gt(n, 0);
		ck_assert(memcmp(buf, xt_data + pa, n) == 0);
		pa += n;
		if (pb < XT_SIZE) {
			n = xt_read(b, buf, 16384);
			ck_assert(memcmp(buf, xt_data + pb, n) == 0);
			pb += n;
		}
	}
	ck_assert_uint_eq(pb, XT_SIZE);
	ck_assert_uint_eq(xt_read(a, buf, 10), 0);
	ck_assert_uint_eq(xt_read(b, buf, 10), 0);
	ra_xz_ops.cursor_close(a);
	ra_xz_ops.cursor_close(b);
	ra_xz_ops.close(fmt);
	close(fd);
}
END_TEST

START_TEST(test_not_seekable)
{
	void *fmt = NULL;
	uint64_t size;
	int fd = open("/dev/null", O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ra_xz_ops.open(fd, 0, 1, &fmt, NULL), -ENOTSUP);
	close(fd);
	fd = xt_openfile("plain", &size);
	ck_assert_int_eq(ra_xz_ops.open(fd, size, 1, &fmt, NULL), -ENOTSUP);
	close(fd);
	/* One block: nowhere to seek to. */
	fd = xt_openfile("one.xz", &size);
	ck_assert_int_eq(ra_xz_ops.open(fd, size, 1, &fmt, NULL), -ENOTSUP);
	close(fd);
}
END_TEST

/* A copy of xz.xz with the byte at pos (from the end when < 0) flipped,
 * or cut to len bytes. */
static int xt_damaged(const char *name, long long pos, uint64_t cut,
		      uint64_t *size)
{
	uint64_t len;
	int fd = xt_openfile("xz.xz", &len);
	unsigned char *buf = malloc(len);

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(pread(fd, buf, len, 0), (ssize_t)len);
	close(fd);
	if (cut)
		len = cut;
	else
		buf[pos < 0 ? (long long)len + pos : pos] ^= 0x10;
	xt_write(name, buf, len);
	free(buf);
	return xt_openfile(name, size);
}

/* Decode everything from 0: the first error, or 0. */
static int xt_read_all(void *fmt, struct bmap_err *err)
{
	static unsigned char buf[65536];
	void *cur;
	uint64_t start;
	ssize_t n;
	int r = ra_xz_ops.cursor_open(fmt, 0, &cur, &start, err);

	if (r < 0)
		return r;
	do
		n = ra_xz_ops.cursor_read(cur, buf, sizeof(buf), err);
	while (n > 0);
	ra_xz_ops.cursor_close(cur);
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
	ra_xz_ops.close(fmt);
	close(fd);
	/* In the last stream's index: found by open. */
	fd = xt_damaged("bad-index.xz", -20, 0, &size);
	r = ra_xz_ops.open(fd, size, 1, &fmt, &err);
	ck_assert_int_eq(r, -EBADMSG);
	ck_assert_msg(strstr(err.msg, "corrupt xz"), "%s", err.msg);
	close(fd);
	/* Cut short: no footer where it should be. */
	fd = xt_damaged("cut.xz", 0, size / 2, &size);
	ck_assert_int_eq(ra_xz_ops.open(fd, size, 1, &fmt, &err), -EBADMSG);
	close(fd);
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

	fd = xt_openfile("xz.xz", &size);
	close(fd);
	fd = xt_openfile("b.xz", &b);
	close(fd);
	/* Stream 2's first block header follows its 12-byte header. */
	fd = xt_damaged("bad-hdr.xz", (long long)(size - b + 13), 0, &size);
	fmt = xt_fmt(fd, size);
	ck_assert_int_eq(ra_xz_ops.cursor_open(fmt, XT_SPLIT, &cur, &start,
					       &err), 0);
	ck_assert_uint_eq(start, XT_SPLIT);
	n = ra_xz_ops.cursor_read(cur, buf, sizeof(buf), &err);
	ck_assert_int_eq(n, -EBADMSG);
	ck_assert_msg(strstr(err.msg, "corrupt xz block header"), "%s",
		      err.msg);
	ra_xz_ops.cursor_close(cur);
	/* The first stream is still fine. */
	xt_check_at(fmt, 100, 1000);
	ra_xz_ops.close(fmt);
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
	ck_assert_int_eq(ra_xz_ops.cursor_open(fmt, 0, &cur, &start, &err),
			 0);
	for (pos = 0; pos < XT_SIZE; ) {
		ssize_t n = ra_xz_ops.cursor_read(cur, buf, step, &err);

		ck_assert_msg(n > 0, "read at %llu: %zd %s",
			      (unsigned long long)pos, n, err.msg);
		ck_assert_msg(memcmp(buf, xt_data + pos, (size_t)n) == 0,
			      "wrong data at %llu", (unsigned long long)pos);
		pos += (uint64_t)n;
	}
	ck_assert_uint_eq(pos, XT_SIZE);
	ck_assert_int_eq(ra_xz_ops.cursor_read(cur, buf, step, &err), 0);
	ra_xz_ops.cursor_close(cur);
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
	int fd = xt_openfile("xz.xz", &size);
	size_t i;

	for (i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
		void *fmt = xt_fmt(fd, size);

		ra_xz_test_ahead_max(fmt, maxes[i]);
		xt_read_steps(fmt, steps[i]);
		if (i == 1)
			xt_check_at(fmt, XT_BLOCK + 7, XT_SIZE);
		ra_xz_ops.close(fmt);
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
	int fd = xt_openfile("xz.xz", &size);
	size_t i, m;

	for (m = 0; m < 2; m++) {
		void *fmt = xt_fmt(fd, size);

		if (m == 1)
			ra_xz_test_ahead_max(fmt, 100000);
		for (i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) {
			uint64_t pos = 0;
			void *cur;

			ck_assert_int_eq(ra_xz_ops.cursor_open(fmt, 0, &cur,
							       &start, &err),
					 0);
			while (pos < stops[i]) {
				size_t want = stops[i] - pos < sizeof(buf) ?
					stops[i] - pos : sizeof(buf);
				ssize_t n = ra_xz_ops.cursor_read(cur, buf,
								  want, &err);

				ck_assert_int_gt(n, 0);
				ck_assert(memcmp(buf, xt_data + pos,
						 (size_t)n) == 0);
				pos += (uint64_t)n;
			}
			ra_xz_ops.cursor_close(cur);
		}
		ra_xz_ops.close(fmt);
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

	fd = xt_openfile("xz.xz", &xz_size);
	close(fd);
	fd = xt_openfile("b.xz", &b_size);
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

	ck_assert_int_eq(ra_xz_ops.cursor_open(fmt, 0, &cur, &start, &err),
			 0);
	for (;;) {
		n = ra_xz_ops.cursor_read(cur, buf, sizeof(buf), &err);
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
	ck_assert_int_eq(ra_xz_ops.cursor_read(cur, buf, sizeof(buf), &err),
			 -EBADMSG);
	ck_assert_msg(strstr(err.msg, msg), "%s", err.msg);
	ra_xz_ops.cursor_close(cur);
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
	ra_xz_test_ahead_max(fmt, 200000);
	xt_error_at(fmt, bad, "corrupt xz data");
	ra_xz_ops.close(fmt);
	close(fd);
	fd = xt_damaged("bad-ahead-hdr.xz", (long long)off + 1, 0, &size);
	fmt = xt_fmt(fd, size);
	/* Exactly at the block's start: nothing of it to hand out. */
	ck_assert_uint_eq(xt_error_at(fmt, bad, "corrupt xz block header"),
			  bad);
	ra_xz_ops.close(fmt);
	close(fd);
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
	tcase_add_test(tc, test_ahead);
	tcase_add_test(tc, test_ahead_close);
	tcase_add_test(tc, test_ahead_corrupt);
	suite_add_tcase(s, tc);
	return s;
}
