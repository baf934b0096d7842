/* SPDX-License-Identifier: GPL-2.0-or-later */
/* check-ra-bzip2.c - seek points in bzip2 files. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check-suites.h"
#include "check-util.h"
#include "codec/bz2.h"
#include "codec/codec.h"
#include "base/strbuf.h"


/* The image: pieces of noise, text and zeros; bzip2 -1 makes blocks of
 * 100 kB of input, so it has dozens of them (a run of zeros packs 5 MB
 * to a block). */
#define IMG_SIZE (9u << 20)
#define HALF (IMG_SIZE / 2)

static unsigned char *img;

static void make_image(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t i;

	img = calloc(1, IMG_SIZE);
	ck_assert_ptr_nonnull(img);
	for (i = 0; i < IMG_SIZE; i++) {
		if (i % (3u << 20) >= (2u << 20))
			continue;	/* 1 MiB of zeros every 3 MiB */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* noise, or a few letters: some compress, some do not */
		img[i] = (unsigned char)(i % (1u << 19) < (1u << 18) ? x :
					 'a' + x % 4);
	}
}

/* Streams of PIECE bytes each, one block each (bzip2 -1), one after the
 * other in "pieces.bz2"; piece_at[k] is where stream k starts. */
#define PIECE 90000u
#define NPIECES 10u
static uint64_t piece_at[NPIECES + 1];

static uint64_t file_size(const char *name)
{
	char path[256];
	struct stat st;

	cu_scratch_path(path, sizeof(path), name);
	ck_assert_int_eq(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

static void setup_pieces(void)
{
	unsigned k;

	cu_run_scratch("rm -f", "pieces.bz2", "", NULL);
	for (k = 0; k < NPIECES; k++) {
		cu_write_scratch("piece", img + k * PIECE, PIECE, "wb");
		cu_run_scratch("bzip2 -1 -c", "piece", ">>", "pieces.bz2");
		piece_at[k + 1] = file_size("pieces.bz2");
	}
}

/* A run of one byte (not zero) longer than a worker holds ahead, between
 * pieces of noise: "runs.bz2". */
#define RUNS_SIZE (13u << 20)
static unsigned char *runs;
#define FM_SIZE 300000u
static unsigned char *fm;	/* the image of "fm.bz2" (false magics) */
static void setup_false_magic(void);

static void setup_runs(void)
{
	runs = malloc(RUNS_SIZE);
	ck_assert_ptr_nonnull(runs);
	memcpy(runs, img, 300000);
	memset(runs + 300000, 'x', RUNS_SIZE - 600000);
	memcpy(runs + RUNS_SIZE - 300000, img + 300000, 300000);
	cu_write_scratch("runs", runs, RUNS_SIZE, "wb");
	cu_run_scratch("bzip2 -1 -c", "runs", ">", "runs.bz2");
}

/* Once, in the runner: the image, one stream, and two streams of its
 * halves (different levels); and broken copies. */
static void setup(void)
{
	make_image();
	cu_write_scratch("img", img, IMG_SIZE, "wb");
	cu_write_scratch("img.a", img, HALF, "wb");
	cu_write_scratch("img.b", img + HALF, IMG_SIZE - HALF, "wb");
	cu_run_scratch("bzip2 -1 -c", "img", ">", "one.bz2");
	cu_run_scratch("bzip2 -1 -c", "img.a", ">", "multi.bz2");
	cu_run_scratch("bzip2 -2 -c", "img.b", ">>", "multi.bz2");
	cu_run_scratch("gzip -1 -c", "img", ">", "img.gz");
	cu_run_scratch("cp", "one.bz2", "", "trunc.bz2");
	cu_run_scratch("truncate -s -1000", "trunc.bz2", "", NULL);
	setup_pieces();
	setup_runs();
	setup_false_magic();
}

static void teardown(void)
{
	free(img);
	img = NULL;
	free(runs);
	runs = NULL;
	free(fm);
	fm = NULL;
}

struct t {
	int fd;
	uint64_t size;
	void *fmt;
};

static int t_open(struct t *t, const char *name, unsigned threads)
{
	char path[256];
	struct stat st;

	cu_scratch_path(path, sizeof(path), name);
	t->fd = open(path, O_RDONLY);
	ck_assert_int_ge(t->fd, 0);
	ck_assert_int_eq(fstat(t->fd, &st), 0);
	t->size = (uint64_t)st.st_size;
	t->fmt = NULL;
	return bz2_seek_ops.open(t->fd, t->size, threads, &t->fmt, NULL);
}

static void t_close(struct t *t)
{
	if (t->fmt)
		bz2_seek_ops.close(t->fmt);
	close(t->fd);
}

/* Read [off, off + len) with a new cursor and compare. */
static void check_at(struct t *t, uint64_t off, size_t len)
{
	unsigned char buf[1 << 14];
	struct bmap_err err;
	uint64_t start, pos, end = off + len;
	void *cur;
	ssize_t n;

	if (end > IMG_SIZE)
		end = IMG_SIZE;
	ck_assert_int_eq(bz2_seek_ops.cursor_open(t->fmt, off, &cur, &start,
						  &err), 0);
	ck_assert_uint_le(start, off);
	ck_assert_uint_eq(bz2_seek_ops.point(t->fmt, off), start);
	for (pos = start; pos < end; pos += (uint64_t)n) {
		n = bz2_seek_ops.cursor_read(cur, buf, sizeof(buf), &err);
		ck_assert_msg(n > 0, "read at %llu: %zd %s",
			      (unsigned long long)pos, n, n < 0 ? err.msg : "");
		ck_assert_uint_le(pos + (uint64_t)n, IMG_SIZE);
		ck_assert(memcmp(buf, img + pos, (size_t)n) == 0);
	}
	if (off + len > IMG_SIZE) {
		while ((n = bz2_seek_ops.cursor_read(cur, buf, sizeof(buf),
						     &err)) > 0)
			pos += (uint64_t)n;
		ck_assert_msg(n == 0, "at the end: %zd %s", n, err.msg);
		ck_assert_uint_eq(pos, IMG_SIZE);
	}
	bz2_seek_ops.cursor_close(cur);
}

static const uint64_t offsets[] = {
	0, 1, 99999, 100000, 1234567, 2u << 20, (2u << 20) + 1, HALF - 1,
	HALF, HALF + 77, 7000001, IMG_SIZE - 100000, IMG_SIZE - 1,
	IMG_SIZE, IMG_SIZE + 12345,
};

static void check_all(struct t *t)
{
	size_t i;

	for (i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++)
		check_at(t, offsets[i], 70000);
}

START_TEST(test_not_bzip2)
{
	struct t t;
	void *fmt = NULL;
	int fd = open("/dev/null", O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bz2_seek_ops.open(fd, 0, 1, &fmt, NULL), -ENOTSUP);
	close(fd);
	ck_assert_int_eq(t_open(&t, "img.gz", 1), -ENOTSUP);
	t.fmt = NULL;
	t_close(&t);
	ck_assert_int_eq(t_open(&t, "img", 1), -ENOTSUP);
	t.fmt = NULL;
	t_close(&t);
}
END_TEST

/* Reads from the front only (no size given), then the whole size. */
START_TEST(test_reads)
{
	struct t t;

	ck_assert_int_eq(t_open(&t, "one.bz2", 2), 0);
	ck_assert_uint_eq(bz2_seek_ops.size(t.fmt), BMAP_SIZE_UNKNOWN);
	ck_assert_uint_eq(bz2_seek_ops.point(t.fmt, 5000000), 0);
	check_all(&t);
	/* a point well on: the front was resolved there */
	ck_assert_uint_gt(bz2_seek_ops.point(t.fmt, 7000001), 6000000);
	check_at(&t, 0, IMG_SIZE + 1);
	ck_assert_uint_eq(bz2_seek_ops.size(t.fmt), IMG_SIZE);
	t_close(&t);
}
END_TEST

/* With the size given, late offsets come from the end: a cursor near the
 * end starts close to it, and the data are right. */
START_TEST(test_from_end)
{
	struct t t;

	ck_assert_int_eq(t_open(&t, "one.bz2", 1), 0);
	bz2_seek_ops.hint_size(t.fmt, IMG_SIZE);
	check_at(&t, IMG_SIZE - 10, 100);
	ck_assert_uint_gt(bz2_seek_ops.point(t.fmt, IMG_SIZE - 10), 7000000);
	check_at(&t, 7000001, 5000);
	check_all(&t);
	t_close(&t);
	ck_assert_int_eq(t_open(&t, "multi.bz2", 2), 0);
	bz2_seek_ops.hint_size(t.fmt, IMG_SIZE);
	check_all(&t);
	t_close(&t);
}
END_TEST

START_TEST(test_multistream)
{
	struct t t;

	ck_assert_int_eq(t_open(&t, "multi.bz2", 2), 0);
	check_at(&t, 0, IMG_SIZE + 1);
	ck_assert_uint_eq(bz2_seek_ops.size(t.fmt), IMG_SIZE);
	check_all(&t);
	t_close(&t);
}
END_TEST

START_TEST(test_interleaved)
{
	static unsigned char b1[4096], b2[4096];
	struct bmap_err err;
	uint64_t s1, s2, p1, p2;
	void *c1, *c2;
	struct t t;
	ssize_t n;
	int k;

	ck_assert_int_eq(t_open(&t, "one.bz2", 2), 0);
	ck_assert_int_eq(bz2_seek_ops.cursor_open(t.fmt, 0, &c1, &s1, &err),
			 0);
	ck_assert_int_eq(bz2_seek_ops.cursor_open(t.fmt, 3000000, &c2, &s2,
						  &err), 0);
	p1 = s1;
	p2 = s2;
	for (k = 0; k < 600; k++) {
		n = bz2_seek_ops.cursor_read(c1, b1, sizeof(b1), &err);
		ck_assert_int_gt(n, 0);
		ck_assert(memcmp(b1, img + p1, (size_t)n) == 0);
		p1 += (uint64_t)n;
		n = bz2_seek_ops.cursor_read(c2, b2, sizeof(b2), &err);
		ck_assert_int_gt(n, 0);
		ck_assert(memcmp(b2, img + p2, (size_t)n) == 0);
		p2 += (uint64_t)n;
	}
	bz2_seek_ops.cursor_close(c1);
	bz2_seek_ops.cursor_close(c2);
	t_close(&t);
}
END_TEST

static void *reader(void *arg)
{
	struct t *t = arg;
	size_t i, k;

	for (k = 0; k < 3; k++)
		for (i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++)
			check_at(t, offsets[(i * 7 + k) %
				 (sizeof(offsets) / sizeof(offsets[0]))], 3000);
	return NULL;
}

/* Cursors opened on several threads at once, from both ends. */
START_TEST(test_threads)
{
	pthread_t tid[3];
	struct t t;
	int k;

	ck_assert_int_eq(t_open(&t, "multi.bz2", 2), 0);
	bz2_seek_ops.hint_size(t.fmt, IMG_SIZE);
	for (k = 0; k < 3; k++)
		ck_assert_int_eq(pthread_create(&tid[k], NULL, reader, &t), 0);
	for (k = 0; k < 3; k++)
		pthread_join(tid[k], NULL);
	t_close(&t);
}
END_TEST

START_TEST(test_save_load)
{
	struct strbuf sb;
	struct bmap_err err;
	struct t t;
	char *bad;

	strbuf_init(&sb);
	ck_assert_int_eq(t_open(&t, "multi.bz2", 2), 0);
	check_at(&t, 6000000, 1000);
	ck_assert_int_eq(bz2_seek_ops.save(t.fmt, &sb), 0);
	t_close(&t);
	ck_assert_uint_gt(sb.len, 20);

	ck_assert_int_eq(t_open(&t, "multi.bz2", 2), 0);
	/* refused: garbage, cut short, another file's, a byte changed */
	bad = malloc(sb.len);
	ck_assert_ptr_nonnull(bad);
	memset(bad, 'x', sb.len);
	ck_assert_int_eq(bz2_seek_ops.load(t.fmt, bad, sb.len, &err),
			 -EINVAL);
	ck_assert_int_eq(bz2_seek_ops.load(t.fmt, sb.buf, sb.len - 3, &err),
			 -EINVAL);
	ck_assert_int_eq(bz2_seek_ops.load(t.fmt, sb.buf, 12, &err),
			 -EINVAL);
	memcpy(bad, sb.buf, sb.len);
	bad[20] ^= 0x04;
	ck_assert_int_ne(bz2_seek_ops.load(t.fmt, bad, sb.len, &err), 0);
	free(bad);
	ck_assert_uint_eq(bz2_seek_ops.point(t.fmt, 6000000), 0);
	check_at(&t, 100, 1000);

	ck_assert_int_eq(bz2_seek_ops.load(t.fmt, sb.buf, sb.len, &err), 0);
	/* the points came back: no decode needed to find one */
	ck_assert_uint_gt(bz2_seek_ops.point(t.fmt, 6000000), 5000000);
	check_all(&t);
	t_close(&t);
	strbuf_free(&sb);
}
END_TEST

/* Blocks learnt, one dropped: a cursor for an offset in it starts at an
 * earlier block, and the data are right; 0 is never dropped. */
START_TEST(test_drop_point)
{
	uint64_t off = 7000001, p, q;
	struct t t;

	ck_assert_int_eq(t_open(&t, "multi.bz2", 2), 0);
	check_at(&t, off, 1000);
	p = bz2_seek_ops.point(t.fmt, off);
	ck_assert_uint_gt(p, 6000000);
	bz2_seek_ops.drop_point(t.fmt, p);
	q = bz2_seek_ops.point(t.fmt, off);
	ck_assert_uint_lt(q, p);
	ck_assert_uint_gt(q, 0);
	check_at(&t, off, 70000);
	check_at(&t, p, 1000);
	ck_assert_uint_eq(bz2_seek_ops.point(t.fmt, off), q);
	/* The second stream's start (a block after an end of stream). */
	p = bz2_seek_ops.point(t.fmt, HALF + 77);
	ck_assert_uint_eq(p, HALF);
	bz2_seek_ops.drop_point(t.fmt, HALF);
	ck_assert_uint_lt(bz2_seek_ops.point(t.fmt, HALF + 77), HALF);
	check_at(&t, HALF + 77, 70000);
	bz2_seek_ops.drop_point(t.fmt, 0);
	ck_assert_uint_eq(bz2_seek_ops.point(t.fmt, 5), 0);
	check_all(&t);
	t_close(&t);
}
END_TEST

/* Told a size 4 MiB larger than the data (a bmap may rightly say so: a
 * hole at the end), bzip2 places blocks from the end wrongly; the first
 * such point dropped (it failed a check) takes every block placed from
 * the end with it, for good: the bytes are right from then on, placed
 * from the start. */
START_TEST(test_wrong_size_dropped)
{
	uint64_t off = IMG_SIZE - 1000, p;
	struct bmap_err err;
	uint64_t start;
	struct t t;
	void *cur;

	ck_assert_int_eq(t_open(&t, "one.bz2", 2), 0);
	bz2_seek_ops.hint_size(t.fmt, IMG_SIZE + (4u << 20));
	/* A cursor there: the blocks are found, and placed. */
	ck_assert_int_eq(bz2_seek_ops.cursor_open(t.fmt, off + (4u << 20),
						  &cur, &start, &err), 0);
	bz2_seek_ops.cursor_close(cur);
	p = bz2_seek_ops.point(t.fmt, off + (4u << 20));
	ck_assert_uint_eq(p, start);
	ck_assert_uint_gt(p, IMG_SIZE / 2);	/* placed from the end */
	bz2_seek_ops.drop_point(t.fmt, p);
	ck_assert_uint_lt(bz2_seek_ops.point(t.fmt, off), IMG_SIZE / 2);
	ck_assert_uint_eq(bz2_seek_ops.point(t.fmt, off + (4u << 20)),
			  bz2_seek_ops.point(t.fmt, off));
	check_at(&t, off, 1000);
	check_all(&t);
	t_close(&t);
}
END_TEST

/* Read everything from off: 0, or a negative errno. */
static int read_all(struct t *t, uint64_t off, struct bmap_err *err)
{
	static unsigned char buf[1 << 16];
	uint64_t start;
	void *cur;
	ssize_t n;
	int ret;

	ret = bz2_seek_ops.cursor_open(t->fmt, off, &cur, &start, err);
	if (ret < 0)
		return ret;
	while ((n = bz2_seek_ops.cursor_read(cur, buf, sizeof(buf), err)) > 0)
		;
	bz2_seek_ops.cursor_close(cur);
	return (int)n;
}

/* The byte of file path at offset at, XORed with mask. */
static void flip_byte(const char *path, uint64_t at, unsigned char mask)
{
	unsigned char b;
	int fd = open(path, O_RDWR);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &b, 1, (off_t)at), 1);
	b ^= mask;
	ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)at), 1);
	close(fd);
}

START_TEST(test_broken)
{
	struct bmap_err err;
	struct t t;
	char path[256];
	uint64_t at;

	/* truncated: an error at the end, from the front or the back */
	ck_assert_int_eq(t_open(&t, "trunc.bz2", 2), 0);
	ck_assert_int_eq(read_all(&t, 0, &err), -EIO);
	ck_assert_int_lt(read_all(&t, 5000000, &err), 0);
	t_close(&t);
	ck_assert_int_eq(t_open(&t, "trunc.bz2", 1), 0);
	bz2_seek_ops.hint_size(t.fmt, IMG_SIZE);
	ck_assert_int_lt(read_all(&t, 8000000, &err), 0);
	t_close(&t);

	/* a byte changed in several places: always an error */
	for (at = 1000; at < 600000; at += 197531) {
		cu_run_scratch("cp", "one.bz2", "", "flip.bz2");
		cu_scratch_path(path, sizeof(path), "flip.bz2");
		flip_byte(path, at, 0x10);
		ck_assert_int_eq(t_open(&t, "flip.bz2", 2), 0);
		ck_assert_int_lt(read_all(&t, 0, &err), 0);
		t_close(&t);
	}
}
END_TEST

/* Read name from 0 up to the end, or an error: the bytes handed out
 * before it (compared with want up to ok), and the result. */
static int read_until(const char *name, const unsigned char *want,
		      uint64_t ok, uint64_t *got)
{
	static unsigned char buf[100000];
	struct bmap_err err;
	uint64_t start, n2;
	struct t t;
	void *cur;
	ssize_t n = 0;

	ck_assert_int_eq(t_open(&t, name, 2), 0);
	ck_assert_int_eq(bz2_seek_ops.cursor_open(t.fmt, 0, &cur, &start,
						  &err), 0);
	*got = 0;
	/* odd lengths: the worker's pieces are handed out in parts */
	while ((n = bz2_seek_ops.cursor_read(cur, buf, 7777 + *got % 50000,
					     &err)) > 0) {
		n2 = *got + (uint64_t)n > ok ? (*got < ok ? ok - *got : 0) :
		     (uint64_t)n;
		ck_assert(memcmp(buf, want + *got, (size_t)n2) == 0);
		*got += (uint64_t)n;
	}
	bz2_seek_ops.cursor_close(cur);
	t_close(&t);
	return (int)n;
}

/* One cursor through blocks decoded ahead (past ends of stream too). */
START_TEST(test_ahead_whole)
{
	uint64_t got;

	ck_assert_int_eq(read_until("pieces.bz2", img,
				    PIECE * NPIECES, &got), 0);
	ck_assert_uint_eq(got, PIECE * NPIECES);
	ck_assert_int_eq(read_until("runs.bz2", runs, RUNS_SIZE, &got), 0);
	ck_assert_uint_eq(got, RUNS_SIZE);
}
END_TEST

/* A bad block, decoded ahead (even streams from 2 on) or not: all that
 * comes before it is handed out first, then an error. */
START_TEST(test_ahead_corrupt)
{
	unsigned char b;
	char path[256];
	uint64_t got, at;
	unsigned k;
	int fd;

	for (k = 1; k < NPIECES; k++) {
		cu_run_scratch("cp", "pieces.bz2", "", "flip.bz2");
		cu_scratch_path(path, sizeof(path), "flip.bz2");
		fd = open(path, O_RDWR);
		ck_assert_int_ge(fd, 0);
		at = (piece_at[k] + piece_at[k + 1]) / 2;
		ck_assert_int_eq(pread(fd, &b, 1, (off_t)at), 1);
		b ^= 0x21;
		ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)at), 1);
		close(fd);
		ck_assert_int_eq(read_until("flip.bz2", img,
					    k * PIECE, &got), -EBADMSG);
		/* (a bad block may hand out more than its size of garbage
		 * before its CRC is checked) */
		ck_assert_msg(got >= k * PIECE,
			      "stream %u: error after %llu bytes", k,
			      (unsigned long long)got);
	}
	/* cut short in the middle of a stream decoded ahead */
	cu_run_scratch("cp", "pieces.bz2", "", "flip.bz2");
	cu_scratch_path(path, sizeof(path), "flip.bz2");
	ck_assert_int_eq(truncate(path, (off_t)(piece_at[4] + 1000)), 0);
	ck_assert_int_eq(read_until("flip.bz2", img, 4 * PIECE,
				    &got), -EIO);
	ck_assert_uint_ge(got, 4 * PIECE);
}
END_TEST

/* Cursors closed at many points: with a block being decoded ahead, one
 * waiting for room, one done. */
START_TEST(test_ahead_close)
{
	static unsigned char buf[65536];
	static const char *const names[] = { "pieces.bz2", "runs.bz2" };
	struct bmap_err err;
	uint64_t start, got;
	unsigned i, k;
	void *cur;
	struct t t;
	ssize_t n;

	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(t_open(&t, names[i], 2), 0);
		for (k = 0; k < 12; k++) {
			ck_assert_int_eq(bz2_seek_ops.cursor_open(t.fmt, 0,
								  &cur, &start,
								  &err), 0);
			for (got = 0; got < k * 80000u; got += (uint64_t)n) {
				n = bz2_seek_ops.cursor_read(cur, buf,
							     sizeof(buf),
							     &err);
				ck_assert_int_gt(n, 0);
			}
			if (k % 3 == 0)
				usleep(20000);	/* let the worker run */
			bz2_seek_ops.cursor_close(cur);
		}
		t_close(&t);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* Both modes on the same file: bmapcopy's STREAM decoder (bmap_source)
 * and bmapfs's SEEK decoder (bmap_ra) must give the same bytes, and the
 * same error class and message start ("corrupt bzip2 data", ...). */

struct outcome {
	int ret;		/* 0, or -errno */
	char msg[BMAP_ERR_MAX];	/* the message up to its first ':' */
	uint64_t got;		/* bytes handed out, all of them right */
};

static void outcome_end(struct outcome *o, ssize_t n, const struct bmap_err *err)
{
	size_t k;

	o->ret = (int)n;
	o->msg[0] = 0;
	if (n < 0) {
		snprintf(o->msg, sizeof(o->msg), "%s", err->msg);
		k = strcspn(o->msg, ":");
		o->msg[k] = 0;
	}
}

/* Read all of name with bmap_source on `threads` threads, checking the
 * bytes against want (wlen of them). */
static void stream_read(const char *name, unsigned threads,
			const unsigned char *want, uint64_t wlen,
			struct outcome *o)
{
	static unsigned char buf[1 << 16];
	struct bmap_source *src;
	struct bmap_err err;
	char path[256];
	ssize_t n;

	memset(o, 0, sizeof(*o));
	cu_scratch_path(path, sizeof(path), name);
	n = bmap_source_open(&src, path, threads, &err);
	if (n < 0) {
		outcome_end(o, n, &err);
		return;
	}
	while ((n = bmap_source_read(src, buf, sizeof(buf), &err)) > 0) {
		ck_assert_uint_le(o->got + (uint64_t)n, wlen);
		ck_assert_msg(!want || memcmp(buf, want + o->got,
					      (size_t)n) == 0,
			      "%s, stream, %u threads: wrong bytes at %llu",
			      name, threads, (unsigned long long)o->got);
		o->got += (uint64_t)n;
	}
	outcome_end(o, n, &err);
	bmap_source_close(src);
}

/* The same with bmap_ra, from offset `from` on (size: the ImageSize a
 * verified reader would give, or 0). */
static void seek_read(const char *name, unsigned threads, uint64_t from,
		      uint64_t size, const unsigned char *want,
		      uint64_t wlen, struct outcome *o)
{
	static unsigned char buf[1 << 16];
	struct bmap_ra_opts opts = { .threads = threads, .image_size = size,
				     .verified = size != 0 };
	struct bmap_ra *ra;
	struct bmap_err err;
	char path[256];
	uint64_t off = from;
	ssize_t n;

	memset(o, 0, sizeof(*o));
	cu_scratch_path(path, sizeof(path), name);
	n = bmap_ra_open(&ra, path, &opts, &err);
	if (n < 0) {
		outcome_end(o, n, &err);
		return;
	}
	while ((n = bmap_ra_pread(ra, buf, sizeof(buf), off, &err)) > 0) {
		ck_assert_uint_le(off + (uint64_t)n, wlen);
		ck_assert_msg(!want || memcmp(buf, want + off,
					      (size_t)n) == 0,
			      "%s, seek, %u threads: wrong bytes at %llu",
			      name, threads, (unsigned long long)off);
		off += (uint64_t)n;
	}
	o->got = off - from;
	outcome_end(o, n, &err);
	bmap_ra_close(ra);
}

/* Every mode agrees on name: ok (all wlen bytes of want) or the error
 * class and message start of msg. The bytes before an error are checked
 * but for corrupt data (libbz2 hands out a block before its CRC). */
static void agree(const char *name, const unsigned char *want, uint64_t wlen,
		  int ret, const char *msg)
{
	struct outcome o;
	unsigned threads;

	if (ret == -EBADMSG)
		want = NULL;
	for (threads = 1; threads <= 3; threads += 2) {
		stream_read(name, threads, want, wlen, &o);
		ck_assert_msg(o.ret == ret && strcmp(o.msg, msg) == 0,
			      "%s, stream, %u threads: %d \"%s\"", name,
			      threads, o.ret, o.msg);
		if (ret == 0)
			ck_assert_uint_eq(o.got, wlen);
		seek_read(name, threads, 0, 0, want, wlen, &o);
		ck_assert_msg(o.ret == ret && strcmp(o.msg, msg) == 0,
			      "%s, seek, %u threads: %d \"%s\"", name,
			      threads, o.ret, o.msg);
		if (ret == 0)
			ck_assert_uint_eq(o.got, wlen);
	}
}

/* An image whose every bzip2 block holds a false block magic: a block
 * header's map of the byte values used is 16 bits for which sixteenths
 * of 0..255 are used, then 16 bits for each: with exactly the bytes of
 * the bitmaps 0x3141 0x5926 0x5359 in the first three sixteenths (and
 * no run of four, which would add a count byte), that is the magic. */

static void setup_false_magic(void)
{
	static const unsigned maps[3] = { 0x3141, 0x5926, 0x5359 };
	unsigned char vals[48];
	unsigned nv = 0, r, i, prev = 256, v;
	uint64_t x = 12345;
	size_t k;

	for (r = 0; r < 3; r++)
		for (i = 0; i < 16; i++)
			if (maps[r] >> (15 - i) & 1)
				vals[nv++] = (unsigned char)(r * 16 + i);
	fm = malloc(FM_SIZE);
	ck_assert_ptr_nonnull(fm);
	for (k = 0; k < FM_SIZE; k++) {
		do {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			v = vals[(x >> 33) % nv];
		} while (v == prev);
		fm[k] = (unsigned char)v;
		prev = v;
	}
	cu_write_scratch("fm", fm, FM_SIZE, "wb");
	cu_run_scratch("bzip2 -1 -c", "fm", ">", "fm.bz2");
}

/* The false magics are really there: the SEEK decoder's scan finds two
 * block magics per block. */
static unsigned count_magics(const char *name)
{
	size_t len;
	char path[256];
	unsigned char *p;
	uint64_t v = 0, bit;
	unsigned n = 0;

	cu_scratch_path(path, sizeof(path), name);
	p = (unsigned char *)cu_read_file(path, &len);
	ck_assert_ptr_nonnull(p);
	for (bit = 0; bit < (uint64_t)len * 8; bit++) {
		v = (v << 1 | (p[bit / 8] >> (7 - bit % 8) & 1)) &
		    0xffffffffffffull;
		n += bit >= 47 && v == 0x314159265359ull;
	}
	free(p);
	return n;
}

START_TEST(test_false_magic)
{
	struct outcome o;
	uint64_t off;

	/* 4 blocks at bzip2 -1, the 3 of 100 kB with a false magic */
	ck_assert_uint_ge(count_magics("fm.bz2"), 7);
	agree("fm.bz2", fm, FM_SIZE, 0, "");
	/* from seek points of its own, and placed from the end */
	for (off = 0; off < FM_SIZE; off += 77777) {
		seek_read("fm.bz2", 2, off, 0, fm, FM_SIZE, &o);
		ck_assert_msg(o.ret == 0, "from %llu: %s",
			      (unsigned long long)off, o.msg);
		seek_read("fm.bz2", 2, off, FM_SIZE, fm, FM_SIZE, &o);
		ck_assert_msg(o.ret == 0, "from %llu, sized: %s",
			      (unsigned long long)off, o.msg);
	}
}
END_TEST

/* A copy of src with its size set or a byte changed, or bytes added. */
static void damage(const char *src, const char *dst, long long size,
		   long long flip_at, const char *append)
{
	char path[256];

	cu_run_scratch("cp", src, "", dst);
	cu_scratch_path(path, sizeof(path), dst);
	if (size >= 0)
		ck_assert_int_eq(truncate(path, (off_t)size), 0);
	if (flip_at >= 0)
		flip_byte(path, (uint64_t)flip_at, 0x44);
	if (append)
		cu_write_scratch(dst, append, strlen(append), "ab");
}

/* Damaged files: every mode gives the same error. */
START_TEST(test_damaged_agree)
{
	long long size = (long long)file_size("pieces.bz2");
	/* (shorter than 10 bytes, it is not bzip2: no block magic) */
	long long cuts[5] = { 10, 200, (long long)piece_at[3] + 2,
			      (long long)piece_at[5] + 777, size - 1 };
	long long flips[3] = { 60, size / 2, size - 3 };
	unsigned i;

	for (i = 0; i < 5; i++) {
		damage("pieces.bz2", "dmg.bz2", cuts[i], -1, NULL);
		agree("dmg.bz2", img, PIECE * NPIECES, -EIO,
		      "truncated bzip2 data");
	}
	for (i = 0; i < 3; i++) {
		damage("pieces.bz2", "dmg.bz2", -1, flips[i], NULL);
		agree("dmg.bz2", img, PIECE * NPIECES, -EBADMSG,
		      "corrupt bzip2 data");
	}
	damage("pieces.bz2", "dmg.bz2", -1, -1, "garbage");
	agree("dmg.bz2", img, PIECE * NPIECES, -EBADMSG,
	      "corrupt bzip2 data");
	/* several streams of different levels, whole */
	agree("multi.bz2", img, IMG_SIZE, 0, "");
	agree("pieces.bz2", img, PIECE * NPIECES, 0, "");
}
END_TEST

/* Many false magics in every block (the scanner's test hook puts one
 * every 3001 bits: hundreds a block): both modes decode the files right,
 * from the start, and from points of their own or placed from the end. */
START_TEST(test_false_cuts_many)
{
	static const uint64_t offs[] = { 1, 100000, 450000, 899999 };
	struct outcome o;
	unsigned i;

	setenv("BMAP_TEST_BZ2_FALSE_CUTS", "3001", 1);
	agree("pieces.bz2", img, PIECE * NPIECES, 0, "");
	agree("fm.bz2", fm, FM_SIZE, 0, "");
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		seek_read("pieces.bz2", 2, offs[i], 0, img, PIECE * NPIECES,
			  &o);
		ck_assert_msg(o.ret == 0, "from %llu: %s",
			      (unsigned long long)offs[i], o.msg);
		seek_read("pieces.bz2", 2, offs[i], PIECE * NPIECES, img,
			  PIECE * NPIECES, &o);
		ck_assert_msg(o.ret == 0, "from %llu, sized: %s",
			      (unsigned long long)offs[i], o.msg);
	}
	/* and damaged files give the same errors as without them */
	damage("pieces.bz2", "dmg.bz2", (long long)piece_at[5] + 777, -1,
	       NULL);
	agree("dmg.bz2", img, PIECE * NPIECES, -EIO, "truncated bzip2 data");
	damage("pieces.bz2", "dmg.bz2", -1, (long long)piece_at[5] + 777,
	       NULL);
	agree("dmg.bz2", img, PIECE * NPIECES, -EBADMSG, "corrupt bzip2 data");
	unsetenv("BMAP_TEST_BZ2_FALSE_CUTS");
}
END_TEST

Suite *ra_bzip2_suite(void)
{
	Suite *s = suite_create("ra-bzip2");
	TCase *tc = tcase_create("ra-bzip2");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_not_bzip2);
	tcase_add_test(tc, test_reads);
	tcase_add_test(tc, test_from_end);
	tcase_add_test(tc, test_multistream);
	tcase_add_test(tc, test_interleaved);
	tcase_add_test(tc, test_threads);
	tcase_add_test(tc, test_save_load);
	tcase_add_test(tc, test_broken);
	tcase_add_test(tc, test_drop_point);
	tcase_add_test(tc, test_wrong_size_dropped);
	tcase_add_test(tc, test_ahead_whole);
	tcase_add_test(tc, test_ahead_corrupt);
	tcase_add_test(tc, test_ahead_close);
	tcase_add_test(tc, test_false_magic);
	tcase_add_test(tc, test_damaged_agree);
	tcase_add_test(tc, test_false_cuts_many);
	suite_add_tcase(s, tc);
	return s;
}
