/* SPDX-License-Identifier: GPL-2.0-or-later */
/* check-xmlwrite.c - laying bmap files out (xmlwrite.c). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "bmap.h"
#include "check-suites.h"
#include "check-util.h"

#define V12 "test.image.bmap.v1.2"
#define V13 "test.image.bmap.v1.3"
#define V14 "test.image.bmap.v1.4"
#define V20 "test.image.bmap.v2.0"
#define V20B "test.image.bmap.v2.0-bmaptool36"

/* Write map; it must succeed. The text is checked for its length and,
 * for 2.0, its own checksum, computed here independently. */
static char *write_ok(const struct bmap *map, enum bmap_format format,
		      size_t *outlen)
{
	struct bmap_err err = { "" };
	char *out = NULL, *copy;
	size_t len = 0;
	int ret;

	ret = bmap_write_memory(map, format, &out, &len, &err);
	ck_assert_msg(ret == 0, "write refused (%d): %s", ret, err.msg);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(strlen(out), len);
	if (format == BMAP_FORMAT_2_0) {
		copy = strdup(out);
		ck_assert_ptr_nonnull(copy);
		cu_reseal(copy, "BmapFileChecksum", map->checksum_type);
		cu_assert_text_eq(copy, out);
		free(copy);
	}
	if (outlen)
		*outlen = len;
	return out;
}

static void write_fails(const struct bmap *map, enum bmap_format format,
			const char *msg)
{
	struct bmap_err err = { "" };
	char *out = NULL;
	size_t len = 0;

	ck_assert_int_eq(bmap_write_memory(map, format, &out, &len, &err),
			 -EINVAL);
	ck_assert_ptr_null(out);
	ck_assert_msg(strstr(err.msg, msg), "'%s' lacks '%s'", err.msg, msg);
}

/* Read text back; the model must equal map in every field. */
static void assert_reads_back(const char *text, const struct bmap *map,
			      unsigned major, unsigned minor)
{
	struct bmap_err err = { "" };
	struct bmap back;
	int ret;

	ret = bmap_read_memory(&back, text, strlen(text), &err);
	ck_assert_msg(ret == 0, "own output refused: %s", err.msg);
	ck_assert_uint_eq(back.version_major, major);
	ck_assert_uint_eq(back.version_minor, minor);
	ck_assert_uint_eq(back.image_size, map->image_size);
	ck_assert_uint_eq(back.block_size, map->block_size);
	ck_assert_uint_eq(back.blocks_count, map->blocks_count);
	ck_assert_str_eq(back.checksum_type, map->checksum_type);
	cu_assert_same_ranges(map, &back);
	bmap_free(&back);
}

/* A golden file, read and written as `format`, gives the text of
 * golden file `want`. */
static void assert_rewrites_to(const char *from, enum bmap_format format,
			       const char *want)
{
	struct bmap map;
	size_t len, wantlen;
	char *out, *gold;

	cu_load_golden(&map, from);
	out = write_ok(&map, format, &len);
	gold = cu_read_data(want, &wantlen);
	cu_assert_text_eq(out, gold);
	ck_assert_uint_eq(len, wantlen);
	bmap_free(&map);
	free(gold);
	free(out);
}

START_TEST(test_v12_identical)
{
	assert_rewrites_to(V12, BMAP_FORMAT_1_2, V12);
}
END_TEST

START_TEST(test_v13_to_v12)
{
	assert_rewrites_to(V13, BMAP_FORMAT_1_2, V12);
}
END_TEST

static const char *const sha256_goldens[] = { V14, V20, V20B };

START_TEST(test_to_v20)
{
	assert_rewrites_to(sha256_goldens[_i], BMAP_FORMAT_2_0, V20B);
}
END_TEST

START_TEST(test_sha256_to_v12_refused)
{
	struct bmap map;

	cu_load_golden(&map, V20);
	write_fails(&map, BMAP_FORMAT_1_2, "format 1.2 holds only SHA-1 "
		    "checksums, not sha256");
	bmap_free(&map);
}
END_TEST

START_TEST(test_sha1_as_v20)
{
	struct bmap map;
	char *out;

	cu_load_golden(&map, V12);
	out = write_ok(&map, BMAP_FORMAT_2_0, NULL);
	ck_assert_ptr_nonnull(strstr(out, "<ChecksumType> sha1 </ChecksumType>"));
	ck_assert_ptr_nonnull(strstr(out, "<Range chksum=\"94789636db14cdb8929"
				     "133e7b8d3a158837e2e5a\"> 0-1 </Range>"));
	assert_reads_back(out, &map, 2, 0);
	bmap_free(&map);
	free(out);
}
END_TEST

/* An 11-block image (the last block partial) with a single-block range,
 * a range without checksum and a range holding the partial block. */
static void generated_map(struct bmap *map, const char *type)
{
	unsigned char d[BMAP_DIGEST_MAX];
	struct bmap_err err = { "" };
	size_t i;

	bmap_init(map);
	ck_assert_int_eq(bmap_set_geometry(map, 10 * 4096 + 7, 4096, &err),
			 0);
	ck_assert_int_eq(bmap_set_checksum_type(map, type, &err), 0);
	for (i = 0; i < sizeof(d); i++)
		d[i] = (unsigned char)(i * 7 + 1);
	ck_assert_int_eq(bmap_add_range(map, 0, 0, d, &err), 0);
	ck_assert_int_eq(bmap_add_range(map, 2, 5, NULL, &err), 0);
	d[0] = 0;
	ck_assert_int_eq(bmap_add_range(map, 7, 10, d, &err), 0);
}

START_TEST(test_round_trip_v20)
{
	static const char *const types[] = { "sha256", "sha1", "sha512" };
	struct bmap map;
	char *out;

	generated_map(&map, types[_i]);
	out = write_ok(&map, BMAP_FORMAT_2_0, NULL);
	ck_assert_ptr_nonnull(strstr(out, "<bmap version=\"2.0\">"));
	ck_assert_ptr_nonnull(strstr(out, "        <Range> 2-5 </Range>\n"));
	ck_assert_ptr_nonnull(strstr(out, "\"> 0 </Range>\n"));
	ck_assert_ptr_nonnull(strstr(out, "\"> 7-10 </Range>\n"));
	assert_reads_back(out, &map, 2, 0);
	bmap_free(&map);
	free(out);
}
END_TEST

START_TEST(test_round_trip_v12)
{
	struct bmap map;
	char *out;

	generated_map(&map, "sha1");
	out = write_ok(&map, BMAP_FORMAT_1_2, NULL);
	ck_assert_ptr_nonnull(strstr(out, "<bmap version=\"1.2\">"));
	ck_assert_ptr_nonnull(strstr(out, "        <Range> 2-5 </Range>\n"));
	ck_assert_ptr_nonnull(strstr(out, "<Range sha1=\"0108"));
	ck_assert_ptr_null(strstr(out, "chksum"));
	ck_assert_ptr_null(strstr(out, "<ChecksumType>"));
	assert_reads_back(out, &map, 1, 2);
	bmap_free(&map);
	free(out);
}
END_TEST

/* Format 1.2 without any checksum: the reader sees SHA-1 (1.x) but no
 * range carries one. */
START_TEST(test_v12_no_checksums)
{
	struct bmap_err err = { "" };
	struct bmap map, back;
	char *out;

	bmap_init(&map);
	ck_assert_int_eq(bmap_set_geometry(&map, 4096 * 4, 4096, &err), 0);
	ck_assert_int_eq(bmap_add_range(&map, 1, 2, NULL, &err), 0);
	out = write_ok(&map, BMAP_FORMAT_1_2, NULL);
	ck_assert_ptr_null(strstr(out, "sha1=\""));
	ck_assert_int_eq(bmap_read_memory(&back, out, strlen(out), &err), 0);
	ck_assert_str_eq(back.checksum_type, "sha1");
	ck_assert_uint_eq(back.nranges, 1);
	ck_assert(!back.ranges[0].has_digest);
	ck_assert_uint_eq(back.ranges[0].first, 1);
	ck_assert_uint_eq(back.ranges[0].last, 2);
	ck_assert_uint_eq(back.mapped_count, 2);
	/* 2.0 needs a checksum type. */
	write_fails(&map, BMAP_FORMAT_2_0, "format 2.0 needs a checksum type");
	bmap_free(&back);
	bmap_free(&map);
	free(out);
}
END_TEST

START_TEST(test_zero_ranges)
{
	struct bmap_err err = { "" };
	struct bmap map;
	char *out;

	bmap_init(&map);
	ck_assert_int_eq(bmap_set_geometry(&map, 1 << 20, 4096, &err), 0);
	ck_assert_int_eq(bmap_set_checksum_type(&map, "sha1", &err), 0);
	out = write_ok(&map, BMAP_FORMAT_1_2, NULL);
	ck_assert_ptr_nonnull(strstr(out, "<BlockMap>\n    </BlockMap>"));
	ck_assert_ptr_nonnull(strstr(out, "(0 bytes or 0.0% mapped)"));
	assert_reads_back(out, &map, 1, 2);
	free(out);
	out = write_ok(&map, BMAP_FORMAT_2_0, NULL);
	assert_reads_back(out, &map, 2, 0);
	free(out);
	bmap_free(&map);
}
END_TEST

START_TEST(test_all_mapped)
{
	struct bmap_err err = { "" };
	struct bmap map;
	char *out;

	bmap_init(&map);
	ck_assert_int_eq(bmap_set_geometry(&map, 3 * 4096, 4096, &err), 0);
	ck_assert_int_eq(bmap_set_checksum_type(&map, "sha256", &err), 0);
	ck_assert_int_eq(bmap_add_range(&map, 0, 2, NULL, &err), 0);
	out = write_ok(&map, BMAP_FORMAT_2_0, NULL);
	ck_assert_ptr_nonnull(strstr(out, "12.0 KiB or 100.0%"));
	assert_reads_back(out, &map, 2, 0);
	free(out);
	bmap_free(&map);
}
END_TEST

/* The 2.0 padding as bmaptool 3.6 lays it out (lines taken from its
 * output for the same geometry): a value longer than its blanks eats into
 * the padding, a shorter one leaves blanks. */
START_TEST(test_v20_padding)
{
	struct bmap_err err = { "" };
	struct bmap map;
	char *out;

	bmap_init(&map);
	ck_assert_int_eq(bmap_set_geometry(&map, 1, 4096, &err), 0);
	ck_assert_int_eq(bmap_set_checksum_type(&map, "sha256", &err), 0);
	ck_assert_int_eq(bmap_add_range(&map, 0, 0, NULL, &err), 0);
	out = write_ok(&map, BMAP_FORMAT_2_0, NULL);
	ck_assert_ptr_nonnull(strstr(out,
		"    <!-- Image size in bytes: 1 byte -->\n"));
	ck_assert_ptr_nonnull(strstr(out,
		"    <!-- Count of mapped blocks: 4.0 KiB or 100.0%  -->\n"
		"    <MappedBlocksCount> 1 </MappedBlocksCount>\n\n"));
	free(out);
	bmap_free(&map);

	bmap_init(&map);
	ck_assert_int_eq(bmap_set_geometry(&map, 1000 * 4096, 4096, &err), 0);
	ck_assert_int_eq(bmap_set_checksum_type(&map, "sha256", &err), 0);
	ck_assert_int_eq(bmap_add_range(&map, 0, 0, NULL, &err), 0);
	ck_assert_int_eq(bmap_add_range(&map, 10, 10, NULL, &err), 0);
	ck_assert_int_eq(bmap_add_range(&map, 20, 20, NULL, &err), 0);
	ck_assert_int_eq(bmap_add_range(&map, 30, 30, NULL, &err), 0);
	ck_assert_int_eq(bmap_add_range(&map, 999, 999, NULL, &err), 0);
	out = write_ok(&map, BMAP_FORMAT_2_0, NULL);
	ck_assert_ptr_nonnull(strstr(out,
		"    <!-- Image size in bytes: 3.9 MiB -->\n"));
	ck_assert_ptr_nonnull(strstr(out,
		"    <!-- Count of mapped blocks: 20.0 KiB or 0.5%    -->\n"
		"    <MappedBlocksCount> 5    </MappedBlocksCount>\n\n"));
	assert_reads_back(out, &map, 2, 0);
	free(out);
	bmap_free(&map);
}
END_TEST

START_TEST(test_unknown_format)
{
	struct bmap map;

	cu_load_golden(&map, V12);
	write_fails(&map, (enum bmap_format)7, "unknown bmap format");
	bmap_free(&map);
}
END_TEST

Suite *xmlwrite_suite(void)
{
	Suite *s = suite_create("xmlwrite");
	TCase *tc = tcase_create("xmlwrite");

	tcase_add_test(tc, test_v12_identical);
	tcase_add_test(tc, test_v13_to_v12);
	tcase_add_loop_test(tc, test_to_v20, 0,
			    sizeof(sha256_goldens) / sizeof(sha256_goldens[0]));
	tcase_add_test(tc, test_sha256_to_v12_refused);
	tcase_add_test(tc, test_sha1_as_v20);
	tcase_add_loop_test(tc, test_round_trip_v20, 0, 3);
	tcase_add_test(tc, test_round_trip_v12);
	tcase_add_test(tc, test_v12_no_checksums);
	tcase_add_test(tc, test_zero_ranges);
	tcase_add_test(tc, test_all_mapped);
	tcase_add_test(tc, test_v20_padding);
	tcase_add_test(tc, test_unknown_format);
	suite_add_tcase(s, tc);
	return s;
}
