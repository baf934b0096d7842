/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check-view.c - the verified view: holes read as zeros, ranges only
 * after their checksum matched, a bad range failing alone (reported
 * once), SEEK_DATA/SEEK_HOLE from the bmap; and the NAME.raw rule.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check-suites.h"
#include "check-util.h"
#include "bmap.h"
#include "fs/view-int.h"

#define BS 4096u
/* Blocks 0, 2-3 (touching 4-5: one extent), 10 and the partial last
 * block 20: 20 * 4096 + 100 bytes. */
#define SIZE (20u * BS + 100u)
static const uint64_t ranges[][2] = { { 0, 0 }, { 2, 3 }, { 4, 5 },
				      { 10, 10 }, { 20, 20 } };
#define NR (sizeof(ranges) / sizeof(ranges[0]))

struct fixture {
	unsigned char image[SIZE];
	struct bmap map;
	struct bmap_ra *ra;
	struct bmap_view *view;
};

/* The image (pattern in the ranges, zeros elsewhere) in a scratch file,
 * its bmap with sha256 checksums; range `bad` (or none, NR) gets a wrong
 * checksum. */
static void setup(struct fixture *f, size_t bad, bool verify)
{
	struct bmap_ra_opts opts = { .threads = 1 };
	struct cu_piece pieces[NR];
	struct bmap_err err;
	char path[512];
	size_t i;
	int fd;

	memset(f->image, 0, sizeof(f->image));
	bmap_init(&f->map);
	ck_assert_int_eq(bmap_set_geometry(&f->map, SIZE, BS, &err), 0);
	ck_assert_int_eq(bmap_set_checksum_type(&f->map, "sha256", &err), 0);
	for (i = 0; i < NR; i++) {
		uint64_t off = ranges[i][0] * BS;
		uint64_t end = (ranges[i][1] + 1) * BS;
		unsigned char sum[BMAP_DIGEST_MAX];
		uint64_t o;

		if (end > SIZE)
			end = SIZE;
		for (o = off; o < end; o++)
			f->image[o] = cu_pattern(o);
		cu_digest("sha256", f->image + off, end - off, sum);
		if (i == bad)
			sum[0] ^= 1;
		ck_assert_int_eq(bmap_add_range(&f->map, ranges[i][0],
						ranges[i][1], sum, &err), 0);
		pieces[i].off = off;
		pieces[i].len = end - off;
	}
	fd = cu_make_sparse("view.img", SIZE, pieces, NR, f->image);
	close(fd);
	cu_scratch_path(path, sizeof(path), "view.img");
	ck_assert_int_eq(bmap_ra_open(&f->ra, path, &opts, &err), 0);
	ck_assert_int_eq(bmap_view_open(&f->view, f->ra, &f->map, verify,
					&err), 0);
}

static void teardown(struct fixture *f)
{
	bmap_view_close(f->view);
	bmap_ra_close(f->ra);
	bmap_free(&f->map);
}

START_TEST(test_reads_everything)
{
	static struct fixture f;
	static unsigned char buf[SIZE + 10];
	struct bmap_err err;
	uint64_t off;

	setup(&f, NR, true);
	ck_assert_int_eq(bmap_view_read(f.view, buf, sizeof(buf), 0, &err),
			 SIZE);
	ck_assert(!memcmp(buf, f.image, SIZE));
	/* Odd pieces across hole/data edges. */
	for (off = 0; off < SIZE; off += 1237) {
		size_t want = SIZE - off < 5000 ? SIZE - off : 5000;

		ck_assert_int_eq(bmap_view_read(f.view, buf, 5000, off, &err),
				 want);
		ck_assert(!memcmp(buf, f.image + off, want));
	}
	ck_assert_int_eq(bmap_view_read(f.view, buf, 10, SIZE, &err), 0);
	teardown(&f);
}
END_TEST

START_TEST(test_bad_range_alone)
{
	static struct fixture f;
	static unsigned char buf[BS];
	struct bmap_err err;

	setup(&f, 3, true);	/* block 10 */
	ck_assert_int_eq(bmap_view_read(f.view, buf, 1, 10 * BS + 5, &err),
			 -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err.msg, "block 10"));
	ck_assert_ptr_nonnull(strstr(err.msg, "checksum mismatch"));
	/* Known bad now: EIO, not reported again. */
	ck_assert_int_eq(bmap_view_read(f.view, buf, BS, 10 * BS, &err),
			 -EIO);
	ck_assert_int_eq(bmap_view_read(f.view, buf, 2 * BS, 9 * BS, &err),
			 -EIO);
	/* The hole before it and the other ranges still read. */
	ck_assert_int_eq(bmap_view_read(f.view, buf, BS, 9 * BS, &err), BS);
	ck_assert_int_eq(buf[0] | buf[BS - 1], 0);
	ck_assert_int_eq(bmap_view_read(f.view, buf, BS, 2 * BS, &err), BS);
	ck_assert(!memcmp(buf, f.image + 2 * BS, BS));
	teardown(&f);
}
END_TEST

START_TEST(test_bad_range_found_ahead)
{
	static struct fixture f;
	static unsigned char buf[6 * BS];
	struct bmap_err err;

	/* Reading in order sets the scout off on the next range: the bad
	 * one is still reported, once, by the read that reaches it. */
	setup(&f, 3, true);
	ck_assert_int_eq(bmap_view_read(f.view, buf, 6 * BS, 0, &err), 6 * BS);
	ck_assert(!memcmp(buf, f.image, 6 * BS));
	usleep(100000);
	ck_assert_int_eq(bmap_view_read(f.view, buf, BS, 10 * BS, &err),
			 -EBADMSG);
	/* The one mismatch message, bmapcopy's too. */
	ck_assert_ptr_nonnull(strstr(err.msg, "checksum mismatch in block 10: "
				     "the bmap says sha256 "));
	ck_assert_int_eq(bmap_view_read(f.view, buf, BS, 10 * BS, &err),
			 -EIO);
	ck_assert_int_eq(bmap_view_read(f.view, buf, 100, 20 * BS, &err), 100);
	ck_assert(!memcmp(buf, f.image + 20 * BS, 100));
	teardown(&f);
}
END_TEST

START_TEST(test_noverify)
{
	static struct fixture f;
	static unsigned char buf[BS];
	struct bmap_err err;

	setup(&f, 3, false);
	ck_assert_int_eq(bmap_view_read(f.view, buf, BS, 10 * BS, &err), BS);
	ck_assert(!memcmp(buf, f.image + 10 * BS, BS));
	teardown(&f);
}
END_TEST

START_TEST(test_seek)
{
	static struct fixture f;

	setup(&f, NR, true);
	ck_assert_int_eq(bmap_view_seek(f.view, 0, SEEK_DATA), 0);
	ck_assert_int_eq(bmap_view_seek(f.view, 0, SEEK_HOLE), BS);
	ck_assert_int_eq(bmap_view_seek(f.view, BS, SEEK_DATA), 2 * BS);
	ck_assert_int_eq(bmap_view_seek(f.view, BS + 1, SEEK_HOLE), BS + 1);
	/* 2-3 and 4-5 touch: one extent up to 6. */
	ck_assert_int_eq(bmap_view_seek(f.view, 2 * BS, SEEK_HOLE), 6 * BS);
	ck_assert_int_eq(bmap_view_seek(f.view, 5 * BS + 9, SEEK_DATA),
			 5 * BS + 9);
	ck_assert_int_eq(bmap_view_seek(f.view, 6 * BS, SEEK_DATA), 10 * BS);
	ck_assert_int_eq(bmap_view_seek(f.view, 11 * BS, SEEK_DATA), 20 * BS);
	ck_assert_int_eq(bmap_view_seek(f.view, 20 * BS, SEEK_HOLE), SIZE);
	ck_assert_int_eq(bmap_view_seek(f.view, SIZE - 1, SEEK_DATA),
			 SIZE - 1);
	ck_assert_int_eq(bmap_view_seek(f.view, SIZE, SEEK_DATA), -ENXIO);
	ck_assert_int_eq(bmap_view_seek(f.view, SIZE, SEEK_HOLE), -ENXIO);
	ck_assert_int_eq(bmap_view_seek(f.view, 0, SEEK_SET), -EINVAL);
	teardown(&f);
}
END_TEST

START_TEST(test_no_data_after)
{
	struct bmap map;
	struct bmap_err err;
	struct bmap_view *view;

	/* A view needs no image for seeking. */
	bmap_init(&map);
	ck_assert_int_eq(bmap_set_geometry(&map, 10 * BS, BS, &err), 0);
	ck_assert_int_eq(bmap_add_range(&map, 1, 1, NULL, &err), 0);
	ck_assert_int_eq(bmap_view_open(&view, NULL, &map, true, &err), 0);
	ck_assert_int_eq(bmap_view_seek(view, 2 * BS, SEEK_DATA), -ENXIO);
	ck_assert_int_eq(bmap_view_seek(view, 2 * BS, SEEK_HOLE), 2 * BS);
	bmap_view_close(view);
	bmap_free(&map);
}
END_TEST

static const struct {
	const char *image, *name;
} names[] = {
	{ "image.bz2", "image.raw" },
	{ "/some/where/disk.img.xz", "disk.raw" },
	{ "core-image.wic.zst", "core-image.wic.raw" },
	{ "rootfs.tar.gz", "rootfs.raw" },
	{ "sd.IMG.GZ", "sd.raw" },
	{ "plain.raw", "plain.raw" },
	{ "noext", "noext.raw" },
	{ "a.img.lz4", "a.raw" },
	{ "x.tgz", "x.raw" },
	{ ".gz", ".gz.raw" },
	{ "fw.bin.lzo", "fw.bin.raw" },
};

START_TEST(test_raw_name)
{
	char out[64];

	ck_assert_int_eq(bmap_raw_name(names[_i].image, out, sizeof(out)), 0);
	ck_assert_str_eq(out, names[_i].name);
}
END_TEST

START_TEST(test_raw_name_too_long)
{
	char out[8];

	ck_assert_int_eq(bmap_raw_name("abcd.img", out, sizeof(out)), -ENAMETOOLONG);
	ck_assert_int_eq(bmap_raw_name("abc.img", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "abc.raw");
}
END_TEST


/*
 * What is served after a check is what the check saw. A 8 MiB image, two
 * ranges: [0, 5 MiB - 8 KiB) and [6 MiB + 4 KiB, 8 MiB), in a 4 MiB cache:
 * checking the first range pushes its first chunks out, so later reads of
 * them decode again, from the file. A byte changed in the hole beside a
 * range (inside one of its chunks) changes nothing served; a byte changed
 * inside a range after its check fails that read (-EBADMSG, once; -EIO
 * after) and never returns the new byte; the other range still reads.
 */
#define BIG (8u << 20)
#define BIG_R1_END ((5u << 20) - 2 * BS)
#define BIG_R2 ((6u << 20) + BS)

START_TEST(test_changed_after_check)
{
	static unsigned char image[BIG], buf[1u << 20];
	struct bmap_ra_opts opts = { .threads = 1, .cache_size = 4u << 20 };
	struct cu_piece pieces[2] = { { 0, BIG_R1_END },
				      { BIG_R2, BIG - BIG_R2 } };
	unsigned char sum[BMAP_DIGEST_MAX], evil = 0;
	struct bmap_view *view;
	struct bmap_ra *ra;
	struct bmap_err err;
	struct bmap map;
	char path[512];
	uint64_t o;
	size_t i;
	int fd;

	memset(image, 0, sizeof(image));
	for (i = 0; i < 2; i++)
		for (o = pieces[i].off; o < pieces[i].off + pieces[i].len; o++)
			image[o] = cu_pattern(o);
	bmap_init(&map);
	ck_assert_int_eq(bmap_set_geometry(&map, BIG, BS, &err), 0);
	ck_assert_int_eq(bmap_set_checksum_type(&map, "sha1", &err), 0);
	for (i = 0; i < 2; i++) {
		cu_digest("sha1", image + pieces[i].off, pieces[i].len, sum);
		ck_assert_int_eq(bmap_add_range(&map, pieces[i].off / BS,
			(pieces[i].off + pieces[i].len) / BS - 1, sum, &err), 0);
	}
	fd = cu_make_sparse("changed.img", BIG, pieces, 2, image);
	cu_scratch_path(path, sizeof(path), "changed.img");
	ck_assert_int_eq(bmap_ra_open(&ra, path, &opts, &err), 0);
	ck_assert_int_eq(bmap_view_open(&view, ra, &map, true, &err), 0);

	/* The check reads the whole range; the first chunks leave. */
	ck_assert_int_eq(bmap_view_read(view, buf, 100, 4u << 20, &err), 100);
	ck_assert(!memcmp(buf, image + (4u << 20), 100));
	/* Decoded again from the unchanged file: hashed again, served. */
	ck_assert_int_eq(bmap_view_read(view, buf, sizeof(buf), 0, &err),
			 (ssize_t)sizeof(buf));
	ck_assert(!memcmp(buf, image, sizeof(buf)));

	/* A byte of the hole after range 1, in its last chunk. */
	ck_assert_int_eq(pwrite(fd, "X", 1, BIG_R1_END + 10), 1);
	ck_assert_int_eq(bmap_view_read(view, buf, 1u << 20, 3u << 20, &err),
			 1u << 20);	/* push chunk 4 out */
	ck_assert_int_eq(bmap_view_read(view, buf, 3 * BS, BIG_R1_END - BS,
					&err), 3 * BS);
	ck_assert(!memcmp(buf, image + BIG_R1_END - BS, BS));
	ck_assert_int_eq(buf[BS] | buf[2 * BS + 10], 0);

	/* A byte inside range 1, in chunk 1, after its check. */
	ck_assert_int_eq(bmap_view_read(view, buf, 1u << 20, 3u << 20, &err),
			 1u << 20);
	ck_assert_int_eq(bmap_view_read(view, buf, 1u << 20, 2u << 20, &err),
			 1u << 20);
	ck_assert_int_eq(pwrite(fd, &evil, 1, (1u << 20) + 77), 1);
	ck_assert_int_eq(bmap_view_read(view, buf, 1u << 20, 4u << 20, &err),
			 1u << 20);	/* chunks 1-4 cycle out */
	ck_assert_int_eq(bmap_view_read(view, buf, 1u << 20, 0, &err),
			 1u << 20);
	ck_assert_int_eq(bmap_view_read(view, buf, 100, (1u << 20) + 50,
					&err), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err.msg, "not those its check saw"));
	ck_assert_int_eq(bmap_view_read(view, buf, 100, (1u << 20) + 50,
					&err), -EIO);
	ck_assert_int_eq(bmap_view_read(view, buf, 100, 0, &err), -EIO);
	/* The other range is untouched. */
	ck_assert_int_eq(bmap_view_read(view, buf, 100, BIG_R2, &err), 100);
	ck_assert(!memcmp(buf, image + BIG_R2, 100));

	bmap_view_close(view);
	bmap_ra_close(ra);
	bmap_free(&map);
	close(fd);
}
END_TEST

/*
 * Checking on the way: a read near the end of a gzip image decodes from
 * its start, and the decoder's tap hashes the ranges it passes through:
 * a good one is checked without a read of its own (its pieces' digests
 * kept, across a piece boundary, so that reading it later serves it), a
 * bad one is left to its first reader, which reports it.
 */
#define TAP_SIZE (3u << 20)
#define TAP_R0 1u		/* blocks 1-400: across the first MiB */
#define TAP_R0_LAST 400u
#define TAP_R1 520u		/* block 520: a wrong checksum */
#define TAP_R2 700u		/* blocks 700-767: the image's end */

START_TEST(test_checked_on_the_way)
{
	static unsigned char image[TAP_SIZE], buf[TAP_SIZE];
	static const uint64_t r[3][2] = { { TAP_R0, TAP_R0_LAST },
					  { TAP_R1, TAP_R1 },
					  { TAP_R2, TAP_SIZE / BS - 1 } };
	struct bmap_ra_opts opts = { .threads = 1 };
	unsigned char sum[BMAP_DIGEST_MAX];
	struct bmap_view *view;
	struct bmap_ra *ra;
	struct bmap_err err;
	struct bmap map;
	uint64_t len;
	char path[512];
	size_t i;

	memset(image, 0, sizeof(image));
	bmap_init(&map);
	ck_assert_int_eq(bmap_set_geometry(&map, TAP_SIZE, BS, &err), 0);
	ck_assert_int_eq(bmap_set_checksum_type(&map, "sha256", &err), 0);
	for (i = 0; i < 3; i++) {
		len = (r[i][1] - r[i][0] + 1) * BS;
		cu_fill_runs(image + r[i][0] * BS, (size_t)len, (uint32_t)i);
		cu_digest("sha256", image + r[i][0] * BS, (size_t)len, sum);
		if (i == 1)
			sum[0] ^= 1;
		ck_assert_int_eq(bmap_add_range(&map, r[i][0], r[i][1], sum,
						&err), 0);
	}
	cu_write_scratch("tap.img", image, TAP_SIZE, "wb");
	cu_run_scratch("gzip -1 -c", "tap.img", ">", "tap.img.gz");
	cu_scratch_path(path, sizeof(path), "tap.img.gz");
	ck_assert_int_eq(bmap_ra_open(&ra, path, &opts, &err), 0);
	ck_assert_int_eq(bmap_view_open(&view, ra, &map, true, &err), 0);

	ck_assert_int_eq(bmap_view_read(view, buf, BS, TAP_R2 * BS, &err),
			 BS);
	ck_assert(!memcmp(buf, image + TAP_R2 * BS, BS));
	pthread_mutex_lock(&view->lock);
	ck_assert_int_eq(view->state[0], R_GOOD);
	ck_assert_int_eq(view->state[1], R_UNCHECKED);
	pthread_mutex_unlock(&view->lock);
	/* Served by the pieces the tap hashed. */
	len = (TAP_R0_LAST + 1) * BS;
	ck_assert_int_eq(bmap_view_read(view, buf, (size_t)len, 0, &err),
			 (ssize_t)len);
	ck_assert(!memcmp(buf, image, (size_t)len));
	ck_assert_int_eq(bmap_view_read(view, buf, 10, TAP_R1 * BS + 5,
					&err), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err.msg, "checksum mismatch in block "
				     "520: the bmap says sha256 "));
	bmap_view_close(view);
	bmap_ra_close(ra);
	bmap_free(&map);
}
END_TEST

Suite *view_suite(void)
{
	Suite *s = suite_create("view");
	TCase *tc = tcase_create("view");

	tcase_add_test(tc, test_reads_everything);
	tcase_add_test(tc, test_bad_range_alone);
	tcase_add_test(tc, test_bad_range_found_ahead);
	tcase_add_test(tc, test_noverify);
	tcase_add_test(tc, test_seek);
	tcase_add_test(tc, test_no_data_after);
	tcase_add_test(tc, test_changed_after_check);
	tcase_add_test(tc, test_checked_on_the_way);
	tcase_add_loop_test(tc, test_raw_name, 0,
			    sizeof(names) / sizeof(names[0]));
	tcase_add_test(tc, test_raw_name_too_long);
	suite_add_tcase(s, tc);
	return s;
}
