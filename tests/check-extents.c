/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check-extents.c - finding the mapped blocks of sparse files
 * (extents.c), on files made in the scratch folder, through FIEMAP, lseek
 * and "everything", which must all agree with what was written.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "bmap.h"
#include "check-suites.h"
#include "check-util.h"

#ifdef HAVE_FIEMAP
#define DEFAULT_METHOD BMAP_EXTENTS_FIEMAP
#else
#define DEFAULT_METHOD BMAP_EXTENTS_SEEK
#endif

static uint64_t fs_block_size(void)
{
	struct bmap_err err = { "" };
	uint64_t bs = 0;
	int fd = cu_make_sparse("bs-probe", 0, NULL, 0, NULL);
	char path[256];

	ck_assert_msg(bmap_fs_block_size(fd, &bs, &err) == 0, "%s", err.msg);
	close(fd);
	cu_scratch_path(path, sizeof(path), "bs-probe");
	unlink(path);
	return bs;
}

/* l must hold exactly want. Checked in plain C and asserted once: a Check
 * assertion per extent costs a message to the runner each. */
static void assert_extents(const struct bmap_extent_list *l,
			   const struct bmap_extent *want, size_t n,
			   const char *how)
{
	size_t i;

	ck_assert_msg(l->n == n, "%s: %zu extents, expected %zu", how, l->n,
		      n);
	for (i = 0; i < n; i++)
		if (l->v[i].first != want[i].first ||
		    l->v[i].last != want[i].last)
			break;
	ck_assert_msg(i == n, "%s: extent %zu is %llu-%llu, expected "
		      "%llu-%llu", how, i,
		      (unsigned long long)(i < n ? l->v[i].first : 0),
		      (unsigned long long)(i < n ? l->v[i].last : 0),
		      (unsigned long long)(i < n ? want[i].first : 0),
		      (unsigned long long)(i < n ? want[i].last : 0));
}

static void scan(int fd, uint64_t size, uint64_t bs, unsigned flags,
		 struct bmap_extent_list *l, enum bmap_extent_method want)
{
	enum bmap_extent_method method = (enum bmap_extent_method)-1;
	struct bmap_err err = { "" };
	int ret;

	ret = bmap_extents_scan(fd, size, bs, flags, l, &method, &err);
	ck_assert_msg(ret == 0, "scan (flags %u) failed: %s", flags, err.msg);
	ck_assert_int_eq(method, want);
}

/*
 * Make file `name` of `size` bytes holding the pieces, then scan it each
 * way: lseek first (before anything flushed the file), FIEMAP, FIEMAP
 * alone, and neither (everything mapped). Expect `want` from the first
 * three.
 */
static void check_file(const char *name, uint64_t size, uint64_t bs,
		       const struct cu_piece *pieces, size_t npieces,
		       const struct bmap_extent *want, size_t nwant)
{
	struct bmap_extent_list seek, fiemap, l;
	uint64_t nblocks = size / bs + (size % bs != 0);
	struct bmap_extent all = { 0, nblocks - 1 };
	char path[256];
	size_t i;
	int fd;

	fd = cu_make_sparse(name, size, pieces, npieces, NULL);
	scan(fd, size, bs, BMAP_EXTENTS_NO_FIEMAP, &seek, BMAP_EXTENTS_SEEK);
	assert_extents(&seek, want, nwant, "seek");
	scan(fd, size, bs, 0, &fiemap, DEFAULT_METHOD);
	assert_extents(&fiemap, want, nwant, "default");
	/* They agree with each other, not only with the expectation. */
	assert_extents(&seek, fiemap.v, fiemap.n, "seek vs fiemap");
	scan(fd, size, bs, BMAP_EXTENTS_NO_SEEK, &l, DEFAULT_METHOD);
	assert_extents(&l, want, nwant, "no seek");
	bmap_extent_list_free(&l);
	/* Extents come ascending and never touch. */
	for (i = 0; i < fiemap.n; i++)
		if (fiemap.v[i].first > fiemap.v[i].last ||
		    (i && fiemap.v[i].first <= fiemap.v[i - 1].last + 1))
			break;
	ck_assert_msg(i == fiemap.n, "extent %zu is out of order", i);

	scan(fd, size, bs, BMAP_EXTENTS_NO_FIEMAP | BMAP_EXTENTS_NO_SEEK, &l,
	     BMAP_EXTENTS_ALL);
	assert_extents(&l, &all, size ? 1 : 0, "all");
	bmap_extent_list_free(&l);

	bmap_extent_list_free(&seek);
	bmap_extent_list_free(&fiemap);
	ck_assert_uint_eq(fiemap.n, 0);
	ck_assert_ptr_null(fiemap.v);
	close(fd);
	cu_scratch_path(path, sizeof(path), name);
	unlink(path);
}

START_TEST(test_one_byte)
{
	uint64_t bs = fs_block_size();
	struct cu_piece p[] = { { 0, 1 } };
	struct bmap_extent want[] = { { 0, 0 } };

	check_file("one-byte", 1, bs, p, 1, want, 1);
}
END_TEST

START_TEST(test_block_edges)
{
	uint64_t bs = fs_block_size();
	struct cu_piece p[] = { { 0, bs - 1 } };
	struct bmap_extent want[] = { { 0, 0 }, { 0, 1 } };

	check_file("bs-minus-1", bs - 1, bs, p, 1, want, 1);
	p[0].len = bs;
	check_file("bs", bs, bs, p, 1, want, 1);
	p[0].len = bs + 1;
	check_file("bs-plus-1", bs + 1, bs, p, 1, want + 1, 1);
}
END_TEST

START_TEST(test_all_hole)
{
	uint64_t bs = fs_block_size();

	check_file("all-hole", 1 << 20, bs, NULL, 0, NULL, 0);
}
END_TEST

START_TEST(test_all_mapped)
{
	uint64_t bs = fs_block_size();
	struct cu_piece p[] = { { 0, 256 << 10 } };
	struct bmap_extent want[] = { { 0, (256 << 10) / bs - 1 } };

	check_file("all-mapped", 256 << 10, bs, p, 1, want, 1);
}
END_TEST

START_TEST(test_holes_at_both_ends)
{
	uint64_t bs = fs_block_size();
	struct cu_piece p[] = { { 3 * bs, 3 * bs } };
	struct bmap_extent want[] = { { 3, 5 } };

	check_file("holes-both-ends", 10 * bs, bs, p, 1, want, 1);
}
END_TEST

/* Exactly one block of hole between data, and data not on block edges:
 * a partly written block counts whole. */
START_TEST(test_one_block_hole)
{
	uint64_t bs = fs_block_size();
	struct cu_piece p[] = { { 0, bs }, { 2 * bs, bs },
				{ 4 * bs + 10, 20 }, { 7 * bs - 1, 2 } };
	struct bmap_extent want[] = { { 0, 0 }, { 2, 2 }, { 4, 4 },
				      { 6, 7 } };

	check_file("one-block-hole", 9 * bs, bs, p, 4, want, 4);
}
END_TEST

/* Adjacent blocks written separately make one extent. */
START_TEST(test_adjacent_merge)
{
	uint64_t bs = fs_block_size();
	struct cu_piece p[] = { { 5 * bs, 1 }, { 6 * bs, 1 }, { 7 * bs, 1 } };
	struct bmap_extent want[] = { { 5, 7 } };

	check_file("adjacent", 8 * bs, bs, p, 3, want, 1);
}
END_TEST

START_TEST(test_partial_last_block)
{
	uint64_t bs = fs_block_size();
	struct cu_piece p[] = { { 5 * bs, 100 } };
	struct bmap_extent want[] = { { 5, 5 } };

	check_file("partial-last", 5 * bs + 100, bs, p, 1, want, 1);
}
END_TEST

/* Data in blocks 0, 2, 4, ... */
START_TEST(test_every_other_block)
{
	uint64_t bs = fs_block_size();
	struct cu_piece p[16];
	struct bmap_extent want[16];
	size_t i;

	for (i = 0; i < 16; i++) {
		p[i].off = 2 * i * bs;
		p[i].len = bs;
		want[i].first = want[i].last = 2 * i;
	}
	check_file("every-other", 32 * bs, bs, p, 16, want, 16);
}
END_TEST

/* More ranges than one FIEMAP call returns, many times over: one byte at
 * every other block of 20 010 blocks. */
START_TEST(test_many_extents)
{
	uint64_t bs = fs_block_size();
	size_t n = 10005, i;
	struct cu_piece *p = calloc(n, sizeof(*p));
	struct bmap_extent *want = calloc(n, sizeof(*want));

	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(want);
	for (i = 0; i < n; i++) {
		p[i].off = 2 * i * bs;
		p[i].len = 1;
		want[i].first = want[i].last = 2 * i;
	}
	check_file("many", 20010 * bs, bs, p, n, want, n);
	free(p);
	free(want);
}
END_TEST

/* Only the first `size` bytes count: data past them is not reported,
 * and a scan block size unlike the file system's works too. */
START_TEST(test_scan_prefix_and_block_size)
{
	uint64_t bs = fs_block_size();
	struct cu_piece p[] = { { 0, 1 }, { 2 * bs, 4 * bs }, { 9 * bs, 1 } };
	struct bmap_extent want4[] = { { 0, 0 }, { 2, 3 } };
	struct bmap_extent want_big[] = { { 0, 2 }, { 4, 4 } };
	struct bmap_extent_list l;
	char path[256];
	int fd;

	fd = cu_make_sparse("prefix", 10 * bs, p, 3, NULL);
	scan(fd, 4 * bs, bs, 0, &l, DEFAULT_METHOD);
	assert_extents(&l, want4, 2, "default prefix");
	bmap_extent_list_free(&l);
	scan(fd, 4 * bs, bs, BMAP_EXTENTS_NO_FIEMAP, &l, BMAP_EXTENTS_SEEK);
	assert_extents(&l, want4, 2, "seek prefix");
	bmap_extent_list_free(&l);
	scan(fd, 3 * bs + 1, bs, BMAP_EXTENTS_NO_FIEMAP | BMAP_EXTENTS_NO_SEEK,
	     &l, BMAP_EXTENTS_ALL);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_uint_eq(l.v[0].first, 0);
	ck_assert_uint_eq(l.v[0].last, 3);
	bmap_extent_list_free(&l);

	/* Blocks twice the file system's: 0 (byte 0) and 1-2 (2bs..6bs)
	 * touch, so they merge; then 4 (byte 9bs). */
	scan(fd, 10 * bs, 2 * bs, 0, &l, DEFAULT_METHOD);
	assert_extents(&l, want_big, 2, "default 2bs");
	bmap_extent_list_free(&l);
	scan(fd, 10 * bs, 2 * bs, BMAP_EXTENTS_NO_FIEMAP, &l,
	     BMAP_EXTENTS_SEEK);
	assert_extents(&l, want_big, 2, "seek 2bs");
	bmap_extent_list_free(&l);
	close(fd);
	cu_scratch_path(path, sizeof(path), "prefix");
	unlink(path);
}
END_TEST

/* Allocated but never written (fallocate): FIEMAP reports the extent, as
 * the reference tool sees it; on ext4 lseek reports a hole. */
START_TEST(test_unwritten_extent)
{
	uint64_t bs = fs_block_size();
	struct cu_piece p[] = { { 0, 1 } };
	struct bmap_extent want_fiemap[] = { { 0, 0 }, { 4, 6 } };
	struct bmap_extent_list l;
	char path[256];
	int fd;

	fd = cu_make_sparse("unwritten", 10 * bs, p, 1, NULL);
	ck_assert_msg(fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)(4 * bs),
				(off_t)(3 * bs)) == 0, "fallocate: %s",
		      strerror(errno));
	scan(fd, 10 * bs, bs, 0, &l, DEFAULT_METHOD);
	assert_extents(&l, want_fiemap, DEFAULT_METHOD == BMAP_EXTENTS_FIEMAP ?
		       2 : 1, "fiemap unwritten");
	bmap_extent_list_free(&l);
	scan(fd, 10 * bs, bs, BMAP_EXTENTS_NO_FIEMAP, &l, BMAP_EXTENTS_SEEK);
	assert_extents(&l, want_fiemap, 1, "seek unwritten");
	bmap_extent_list_free(&l);
	close(fd);
	cu_scratch_path(path, sizeof(path), "unwritten");
	unlink(path);
}
END_TEST

/* Data past the part of the file asked about is not the scan's business,
 * for lseek as for FIEMAP. */
START_TEST(test_data_past_size)
{
	uint64_t bs = fs_block_size();
	struct cu_piece pieces[] = { { 0, 1 }, { 9 * bs, 1 } };
	struct bmap_extent want = { 0, 0 };
	struct bmap_extent_list l;
	char path[256];
	int fd;

	fd = cu_make_sparse("past", 10 * bs, pieces, 2, NULL);
	scan(fd, 4 * bs, bs, BMAP_EXTENTS_NO_FIEMAP, &l, BMAP_EXTENTS_SEEK);
	assert_extents(&l, &want, 1, "seek");
	bmap_extent_list_free(&l);
	scan(fd, 4 * bs, bs, 0, &l, DEFAULT_METHOD);
	assert_extents(&l, &want, 1, "default");
	bmap_extent_list_free(&l);
	close(fd);
	cu_scratch_path(path, sizeof(path), "past");
	unlink(path);
}
END_TEST

START_TEST(test_scan_errors)
{
	enum bmap_extent_method method;
	struct bmap_extent_list l = { 0, 0, NULL };
	struct bmap_err err = { "" };
	int fd = cu_make_sparse("errors", 4096, NULL, 0, NULL);
	char path[256];

	ck_assert_int_eq(bmap_extents_scan(fd, 4096, 0, 0, &l, &method, &err),
			 -EINVAL);
	ck_assert_str_eq(err.msg, "block size 0 is invalid");
	ck_assert_uint_eq(l.n, 0);
	close(fd);
	cu_scratch_path(path, sizeof(path), "errors");
	unlink(path);

	/* A closed descriptor. */
	ck_assert_int_lt(bmap_extents_scan(fd, 4096, 4096, 0, &l, &method,
					   &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot find the file's "
				     "extents"));
	ck_assert_uint_eq(l.n, 0);
	ck_assert_ptr_null(l.v);
}
END_TEST

START_TEST(test_fs_block_size)
{
	struct bmap_err err = { "" };
	uint64_t bs = 0;
	struct stat st;
	char path[256];
	int fd = cu_make_sparse("blksize", 0, NULL, 0, NULL);

	ck_assert_int_eq(bmap_fs_block_size(fd, &bs, &err), 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_uint_gt(bs, 0);
	ck_assert_uint_eq(bs & (bs - 1), 0);
	/* ext4 says the same through FIGETBSZ and st_blksize. */
	ck_assert_uint_eq(bs, (uint64_t)st.st_blksize);
	close(fd);
	cu_scratch_path(path, sizeof(path), "blksize");
	unlink(path);

	ck_assert_int_eq(bmap_fs_block_size(-1, &bs, &err), -EBADF);
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot stat"));
}
END_TEST

Suite *extents_suite(void)
{
	Suite *s = suite_create("extents");
	TCase *tc = tcase_create("extents");

	/* The 10 005-extent file takes a few seconds under valgrind. */
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_one_byte);
	tcase_add_test(tc, test_block_edges);
	tcase_add_test(tc, test_all_hole);
	tcase_add_test(tc, test_all_mapped);
	tcase_add_test(tc, test_holes_at_both_ends);
	tcase_add_test(tc, test_one_block_hole);
	tcase_add_test(tc, test_adjacent_merge);
	tcase_add_test(tc, test_partial_last_block);
	tcase_add_test(tc, test_every_other_block);
	tcase_add_test(tc, test_many_extents);
	tcase_add_test(tc, test_scan_prefix_and_block_size);
	tcase_add_test(tc, test_unwritten_extent);
	tcase_add_test(tc, test_data_past_size);
	tcase_add_test(tc, test_scan_errors);
	tcase_add_test(tc, test_fs_block_size);
	suite_add_tcase(s, tc);
	return s;
}
