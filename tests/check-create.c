/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check-create.c - making the block map of a sparse image (create.c),
 * above all of a sparse copy of the reference test image, whose bmap must
 * come out as the golden files say.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "bmap.h"
#include "check-suites.h"
#include "check-util.h"

#define V12 "test.image.bmap.v1.2"
#define V20 "test.image.bmap.v2.0"
#define V20B "test.image.bmap.v2.0-bmaptool36"
#define IMAGE_SIZE 821752

#ifdef HAVE_FIEMAP
#define DEFAULT_METHOD BMAP_EXTENTS_FIEMAP
#else
#define DEFAULT_METHOD BMAP_EXTENTS_SEEK
#endif

/* A sparse copy of test.image: only the blocks the golden bmap lists are
 * written. Returns its descriptor; *content (if wanted) gets the copy's
 * bytes, holes as zeros. */
static int golden_copy(const char *name, unsigned char **content)
{
	struct cu_piece pieces[64];
	struct bmap gold;
	size_t len, i;
	unsigned char *image;
	int fd;

	cu_load_golden(&gold, V12);
	image = (unsigned char *)cu_gunzip_data("test.image.gz", &len);
	ck_assert_uint_eq(len, IMAGE_SIZE);
	ck_assert_uint_le(gold.nranges, 64);
	for (i = 0; i < gold.nranges; i++) {
		pieces[i].off = bmap_range_offset(&gold, &gold.ranges[i]);
		pieces[i].len = bmap_range_length(&gold, &gold.ranges[i]);
	}
	fd = cu_make_sparse(name, IMAGE_SIZE, pieces, gold.nranges, image);
	if (content) {
		char path[256];

		cu_scratch_path(path, sizeof(path), name);
		free(image);
		*content = (unsigned char *)cu_read_file(path, &len);
		ck_assert_ptr_nonnull(*content);
		ck_assert_uint_eq(len, IMAGE_SIZE);
	} else {
		free(image);
	}
	bmap_free(&gold);
	return fd;
}

static void remove_scratch(int fd, const char *name)
{
	char path[256];

	close(fd);
	cu_scratch_path(path, sizeof(path), name);
	unlink(path);
}

static void create_ok(int fd, const struct bmap_create_opts *opts,
		      struct bmap *map, enum bmap_extent_method want)
{
	enum bmap_extent_method method = (enum bmap_extent_method)-1;
	struct bmap_err err = { "" };
	int ret;

	ret = bmap_create(fd, opts, map, &method, &err);
	ck_assert_msg(ret == 0, "bmap_create: %s", err.msg);
	ck_assert_int_eq(method, want);
	ck_assert_uint_eq(map->version_major, 2);
	ck_assert_uint_eq(map->version_minor, 0);
}

static void create_fails(int fd, const struct bmap_create_opts *opts,
			 const char *msg)
{
	enum bmap_extent_method method;
	struct bmap_err err = { "" };
	struct bmap map;

	ck_assert_int_lt(bmap_create(fd, opts, &map, &method, &err), 0);
	ck_assert_msg(strstr(err.msg, msg), "'%s' lacks '%s'", err.msg, msg);
	ck_assert_uint_eq(map.nranges, 0);
	ck_assert_ptr_null(map.ranges);
}

static void assert_geometry(const struct bmap *map)
{
	ck_assert_uint_eq(map->image_size, IMAGE_SIZE);
	ck_assert_uint_eq(map->block_size, 4096);
	ck_assert_uint_eq(map->blocks_count, 201);
	ck_assert_uint_eq(map->mapped_count, 117);
	ck_assert_uint_eq(map->nranges, 48);
}

/* The map, written as `format`, is the golden text `want`. */
static void assert_writes(const struct bmap *map, enum bmap_format format,
			  const char *want)
{
	struct bmap_err err = { "" };
	size_t len, wantlen;
	char *out = NULL, *gold;

	ck_assert_msg(bmap_write_memory(map, format, &out, &len, &err) == 0,
		      "%s", err.msg);
	gold = cu_read_data(want, &wantlen);
	cu_assert_text_eq(out, gold);
	ck_assert_uint_eq(len, wantlen);
	free(gold);
	free(out);
}

START_TEST(test_golden_sha1)
{
	struct bmap_create_opts opts = { .block_size = 4096 };
	struct bmap gold, map;
	int fd = golden_copy("golden-sha1", NULL);

	create_ok(fd, &opts, &map, DEFAULT_METHOD);
	assert_geometry(&map);
	ck_assert_str_eq(map.checksum_type, "sha1");
	ck_assert_uint_eq(map.digest_len, 20);
	cu_load_golden(&gold, V12);
	cu_assert_same_ranges(&gold, &map);
	assert_writes(&map, BMAP_FORMAT_1_2, V12);
	bmap_free(&gold);
	bmap_free(&map);
	remove_scratch(fd, "golden-sha1");
}
END_TEST

START_TEST(test_golden_sha256)
{
	struct bmap_create_opts opts = { .checksum_type = "sha256",
					 .block_size = 4096 };
	struct bmap gold, map;
	int fd = golden_copy("golden-sha256", NULL);

	create_ok(fd, &opts, &map, DEFAULT_METHOD);
	assert_geometry(&map);
	ck_assert_str_eq(map.checksum_type, "sha256");
	cu_load_golden(&gold, V20);
	cu_assert_same_ranges(&gold, &map);
	assert_writes(&map, BMAP_FORMAT_2_0, V20B);
	bmap_free(&map);

	/* The type's name in any case. */
	opts.checksum_type = "SHA256";
	create_ok(fd, &opts, &map, DEFAULT_METHOD);
	ck_assert_str_eq(map.checksum_type, "sha256");
	cu_assert_same_ranges(&gold, &map);
	bmap_free(&map);
	bmap_free(&gold);
	remove_scratch(fd, "golden-sha256");
}
END_TEST

/* lseek finds the same holes as FIEMAP. */
START_TEST(test_golden_seek)
{
	struct bmap_create_opts opts = {
		.block_size = 4096, .extent_flags = BMAP_EXTENTS_NO_FIEMAP,
	};
	struct bmap gold, map;
	int fd = golden_copy("golden-seek", NULL);

	create_ok(fd, &opts, &map, BMAP_EXTENTS_SEEK);
	assert_geometry(&map);
	cu_load_golden(&gold, V12);
	cu_assert_same_ranges(&gold, &map);
	bmap_free(&gold);
	bmap_free(&map);
	remove_scratch(fd, "golden-seek");
}
END_TEST

/* Without any way to find holes, everything is one range whose checksum
 * is that of the whole file, holes read as zeros. */
START_TEST(test_golden_all)
{
	struct bmap_create_opts opts = {
		.block_size = 4096,
		.extent_flags = BMAP_EXTENTS_NO_FIEMAP | BMAP_EXTENTS_NO_SEEK,
	};
	unsigned char want[BMAP_DIGEST_MAX];
	unsigned char *content;
	struct bmap map;
	int fd = golden_copy("golden-all", &content);

	create_ok(fd, &opts, &map, BMAP_EXTENTS_ALL);
	ck_assert_uint_eq(map.blocks_count, 201);
	ck_assert_uint_eq(map.mapped_count, 201);
	ck_assert_uint_eq(map.nranges, 1);
	ck_assert_uint_eq(map.ranges[0].first, 0);
	ck_assert_uint_eq(map.ranges[0].last, 200);
	ck_assert(map.ranges[0].has_digest);
	cu_digest("sha1", content, IMAGE_SIZE, want);
	ck_assert_mem_eq(map.ranges[0].digest, want, 20);
	bmap_free(&map);
	free(content);
	remove_scratch(fd, "golden-all");
}
END_TEST

START_TEST(test_no_checksum)
{
	struct bmap_create_opts opts = { .no_checksum = true,
					 .block_size = 4096 };
	struct bmap gold, map;
	size_t i;
	int fd = golden_copy("golden-nosum", NULL);

	create_ok(fd, &opts, &map, DEFAULT_METHOD);
	assert_geometry(&map);
	cu_load_golden(&gold, V12);
	for (i = 0; i < map.nranges; i++) {
		ck_assert_uint_eq(map.ranges[i].first, gold.ranges[i].first);
		ck_assert_uint_eq(map.ranges[i].last, gold.ranges[i].last);
		ck_assert(!map.ranges[i].has_digest);
	}
	bmap_free(&gold);
	bmap_free(&map);
	remove_scratch(fd, "golden-nosum");
}
END_TEST

/* Blocks of 8192 bytes: the golden ranges halved and merged, each
 * checksum computed here over the copy's bytes. */
START_TEST(test_block_size_option)
{
	struct bmap_create_opts opts = { .block_size = 8192 };
	unsigned char want[BMAP_DIGEST_MAX];
	struct bmap gold, expect, map;
	struct bmap_err err = { "" };
	unsigned char *content;
	uint64_t first = 0, last = 0;
	bool have = false;
	size_t i;
	int fd = golden_copy("golden-8k", &content);

	cu_load_golden(&gold, V12);
	bmap_init(&expect);
	ck_assert_int_eq(bmap_set_geometry(&expect, IMAGE_SIZE, 8192, &err),
			 0);
	ck_assert_int_eq(bmap_set_checksum_type(&expect, "sha1", &err), 0);
	for (i = 0; i <= gold.nranges; i++) {
		uint64_t f = 0, l = 0;

		if (i < gold.nranges) {
			f = gold.ranges[i].first / 2;
			l = gold.ranges[i].last / 2;
			if (have && f <= last + 1) {
				last = l > last ? l : last;
				continue;
			}
		}
		if (have) {
			struct bmap_range r = { .first = first, .last = last };

			cu_digest("sha1", content +
				  bmap_range_offset(&expect, &r),
				  bmap_range_length(&expect, &r), want);
			ck_assert_int_eq(bmap_add_range(&expect, first, last,
							want, &err), 0);
		}
		first = f;
		last = l;
		have = true;
	}
	create_ok(fd, &opts, &map, DEFAULT_METHOD);
	ck_assert_uint_eq(map.block_size, 8192);
	ck_assert_uint_eq(map.blocks_count, 101);
	ck_assert_uint_lt(map.nranges, gold.nranges);
	cu_assert_same_ranges(&expect, &map);
	bmap_free(&map);

	/* 0: the file system's block size. */
	opts.block_size = 0;
	create_ok(fd, &opts, &map, DEFAULT_METHOD);
	{
		uint64_t bs = 0;

		ck_assert_int_eq(bmap_fs_block_size(fd, &bs, &err), 0);
		ck_assert_uint_eq(map.block_size, bs);
	}
	bmap_free(&map);
	bmap_free(&expect);
	bmap_free(&gold);
	free(content);
	remove_scratch(fd, "golden-8k");
}
END_TEST

/* The last block's checksum covers only the bytes up to the end. */
START_TEST(test_partial_last_block)
{
	static const char *const types[] = { "sha1", "sha256" };
	struct bmap_create_opts opts = { .checksum_type = types[_i],
					 .block_size = 4096 };
	uint64_t size = 5 * 4096 + 100;
	struct cu_piece p[] = { { 0, 2 * 4096 }, { 5 * 4096, 100 } };
	unsigned char want[BMAP_DIGEST_MAX], padded[BMAP_DIGEST_MAX];
	unsigned char *src = calloc(1, 6 * 4096);
	struct bmap map;
	size_t i, n;
	int fd;

	ck_assert_ptr_nonnull(src);
	for (i = 0; i < size; i++)
		src[i] = cu_pattern(i * 7);
	fd = cu_make_sparse("partial", size, p, 2, src);
	create_ok(fd, &opts, &map, DEFAULT_METHOD);
	ck_assert_uint_eq(map.blocks_count, 6);
	ck_assert_uint_eq(map.nranges, 2);
	ck_assert_uint_eq(map.mapped_count, 3);
	ck_assert_uint_eq(map.ranges[0].first, 0);
	ck_assert_uint_eq(map.ranges[0].last, 1);
	ck_assert_uint_eq(map.ranges[1].first, 5);
	ck_assert_uint_eq(map.ranges[1].last, 5);
	n = cu_digest(types[_i], src, 2 * 4096, want);
	ck_assert_mem_eq(map.ranges[0].digest, want, n);
	n = cu_digest(types[_i], src + 5 * 4096, 100, want);
	ck_assert_mem_eq(map.ranges[1].digest, want, n);
	/* Not the checksum of a whole zero-padded block. */
	memset(src + size, 0, 6 * 4096 - size);
	cu_digest(types[_i], src + 5 * 4096, 4096, padded);
	ck_assert(memcmp(want, padded, n) != 0);
	bmap_free(&map);
	free(src);
	remove_scratch(fd, "partial");
}
END_TEST

START_TEST(test_all_hole)
{
	struct bmap_create_opts opts = { .block_size = 4096 };
	struct bmap map;
	int fd = cu_make_sparse("hole", 1 << 20, NULL, 0, NULL);

	create_ok(fd, &opts, &map, DEFAULT_METHOD);
	ck_assert_uint_eq(map.image_size, 1 << 20);
	ck_assert_uint_eq(map.blocks_count, 256);
	ck_assert_uint_eq(map.nranges, 0);
	ck_assert_uint_eq(map.mapped_count, 0);
	bmap_free(&map);
	remove_scratch(fd, "hole");
}
END_TEST

START_TEST(test_sha512_round_trip)
{
	struct bmap_create_opts opts = { .checksum_type = "sha512",
					 .block_size = 4096 };
	struct bmap_err err = { "" };
	struct bmap map, back;
	char *out = NULL;
	size_t len;
	int fd = golden_copy("golden-sha512", NULL);

	create_ok(fd, &opts, &map, DEFAULT_METHOD);
	ck_assert_uint_eq(map.digest_len, 64);
	ck_assert_int_eq(bmap_write_memory(&map, BMAP_FORMAT_2_0, &out, &len,
					   &err), 0);
	ck_assert_msg(bmap_read_memory(&back, out, len, &err) == 0, "%s",
		      err.msg);
	ck_assert_str_eq(back.checksum_type, "sha512");
	cu_assert_same_ranges(&map, &back);
	bmap_free(&back);
	bmap_free(&map);
	free(out);
	remove_scratch(fd, "golden-sha512");
}
END_TEST

START_TEST(test_refused)
{
	struct bmap_create_opts opts = { .block_size = 4096 };
	int fd, pipefd[2];
	char path[256];

	fd = cu_make_sparse("empty", 0, NULL, 0, NULL);
	create_fails(fd, &opts, "empty");
	remove_scratch(fd, "empty");

	cu_scratch_path(path, sizeof(path), "");
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	create_fails(fd, &opts, "not a regular file");
	close(fd);

	ck_assert_int_eq(pipe(pipefd), 0);
	create_fails(pipefd[0], &opts, "not a regular file");
	close(pipefd[0]);
	close(pipefd[1]);

	create_fails(-1, &opts, "cannot stat");

	fd = cu_make_sparse("opts", 8192, NULL, 0, NULL);
	opts.checksum_type = "nope";
	create_fails(fd, &opts, "unknown checksum type 'nope'");
	opts.checksum_type = "shake128";
	create_fails(fd, &opts, "no fixed size");
	opts.checksum_type = NULL;
	opts.block_size = BMAP_BLOCK_SIZE_MAX + 1ull;
	create_fails(fd, &opts, "too large");
	remove_scratch(fd, "opts");
}
END_TEST

Suite *create_suite(void)
{
	Suite *s = suite_create("create");
	TCase *tc = tcase_create("create");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_golden_sha1);
	tcase_add_test(tc, test_golden_sha256);
	tcase_add_test(tc, test_golden_seek);
	tcase_add_test(tc, test_golden_all);
	tcase_add_test(tc, test_no_checksum);
	tcase_add_test(tc, test_block_size_option);
	tcase_add_loop_test(tc, test_partial_last_block, 0, 2);
	tcase_add_test(tc, test_all_hole);
	tcase_add_test(tc, test_sha512_round_trip);
	tcase_add_test(tc, test_refused);
	suite_add_tcase(s, tc);
	return s;
}
