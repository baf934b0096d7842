/* SPDX-License-Identifier: GPL-2.0-or-later */
/* check-model.c - the in-memory block map (model.c). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <check.h>

#include "bmap.h"
#include "check-suites.h"

/* A map of `size` bytes in blocks of `bs`, with a checksum type. */
static void setup_map(struct bmap *map, uint64_t size, uint64_t bs,
		      const char *type)
{
	struct bmap_err err;

	bmap_init(map);
	ck_assert_int_eq(bmap_set_geometry(map, size, bs, &err), 0);
	ck_assert_int_eq(bmap_set_checksum_type(map, type, &err), 0);
}

/* bmap_add_range() fails with a message holding `msg`. */
static void add_fails(struct bmap *map, uint64_t first, uint64_t last,
		      const char *msg)
{
	struct bmap_err err = { "" };
	size_t n = map->nranges;
	uint64_t mapped = map->mapped_count;

	ck_assert_int_eq(bmap_add_range(map, first, last, NULL, &err),
			 -EINVAL);
	ck_assert_msg(strstr(err.msg, msg), "'%s' lacks '%s'", err.msg, msg);
	ck_assert_uint_eq(map->nranges, n);
	ck_assert_uint_eq(map->mapped_count, mapped);
}

START_TEST(test_init_free)
{
	struct bmap map;

	memset(&map, 0xa5, sizeof(map));
	bmap_init(&map);
	ck_assert_uint_eq(map.nranges, 0);
	ck_assert_ptr_null(map.ranges);
	ck_assert_uint_eq(map.blocks_count, 0);
	ck_assert_str_eq(map.checksum_type, "");
	setup_map(&map, 8192, 4096, "sha1");
	ck_assert_int_eq(bmap_add_range(&map, 0, 1, NULL, NULL), 0);
	bmap_free(&map);
	ck_assert_uint_eq(map.nranges, 0);
	ck_assert_ptr_null(map.ranges);
	ck_assert_uint_eq(map.image_size, 0);
	ck_assert_uint_eq(map.mapped_count, 0);
}
END_TEST

START_TEST(test_geometry)
{
	static const struct {
		uint64_t size, bs, blocks;
	} cases[] = {
		{ 0, 4096, 0 },
		{ 1, 4096, 1 },
		{ 4095, 4096, 1 },
		{ 4096, 4096, 1 },
		{ 4097, 4096, 2 },
		{ 821752, 4096, 201 },
		{ 10, 1, 10 },
		{ UINT64_MAX, 1, UINT64_MAX },
		{ UINT64_MAX, 4096, (UINT64_MAX >> 12) + 1 },
		{ 1, BMAP_BLOCK_SIZE_MAX, 1 },
	};
	struct bmap_err err;
	struct bmap map;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bmap_init(&map);
		ck_assert_int_eq(bmap_set_geometry(&map, cases[i].size,
						   cases[i].bs, &err), 0);
		ck_assert_uint_eq(map.image_size, cases[i].size);
		ck_assert_uint_eq(map.block_size, cases[i].bs);
		ck_assert_uint_eq(map.blocks_count, cases[i].blocks);
	}
}
END_TEST

START_TEST(test_geometry_refused)
{
	struct bmap_err err = { "" };
	struct bmap map;

	bmap_init(&map);
	ck_assert_int_eq(bmap_set_geometry(&map, 4096, 0, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "block size 0 is invalid");
	ck_assert_int_eq(bmap_set_geometry(&map, 4096,
					   BMAP_BLOCK_SIZE_MAX + 1ull, &err),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "too large"));
	ck_assert_int_eq(bmap_set_geometry(&map, 4096, UINT64_MAX, &err),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "too large"));
	ck_assert_uint_eq(map.block_size, 0);
	/* A NULL err is allowed. */
	ck_assert_int_eq(bmap_set_geometry(&map, 4096, 0, NULL), -EINVAL);

	/* Not once ranges exist. */
	setup_map(&map, 8192, 4096, NULL);
	ck_assert_int_eq(bmap_add_range(&map, 0, 0, NULL, &err), 0);
	ck_assert_int_eq(bmap_set_geometry(&map, 4096, 512, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "after ranges"));
	ck_assert_uint_eq(map.block_size, 4096);
	bmap_free(&map);
}
END_TEST

START_TEST(test_add_range_order)
{
	struct bmap map;

	setup_map(&map, 100 * 4096, 4096, NULL);
	ck_assert_int_eq(bmap_add_range(&map, 0, 1, NULL, NULL), 0);
	/* Touching but after is fine. */
	ck_assert_int_eq(bmap_add_range(&map, 2, 3, NULL, NULL), 0);
	ck_assert_int_eq(bmap_add_range(&map, 7, 7, NULL, NULL), 0);
	add_fails(&map, 7, 9, "does not come after");	/* equal start */
	add_fails(&map, 5, 9, "does not come after");	/* overlap */
	add_fails(&map, 6, 6, "does not come after");	/* descending */
	add_fails(&map, 0, 0, "does not come after");
	add_fails(&map, 9, 8, "first block is after the last");
	add_fails(&map, 99, 100, "goes past");
	add_fails(&map, 100, 100, "goes past");
	ck_assert_int_eq(bmap_add_range(&map, 8, 99, NULL, NULL), 0);
	ck_assert_uint_eq(map.nranges, 4);
	ck_assert_uint_eq(map.ranges[0].first, 0);
	ck_assert_uint_eq(map.ranges[0].last, 1);
	ck_assert_uint_eq(map.ranges[1].first, 2);
	ck_assert_uint_eq(map.ranges[1].last, 3);
	ck_assert_uint_eq(map.ranges[2].first, 7);
	ck_assert_uint_eq(map.ranges[3].last, 99);
	ck_assert_uint_eq(map.mapped_count, 2 + 2 + 1 + 92);
	bmap_free(&map);
}
END_TEST

START_TEST(test_add_range_messages)
{
	struct bmap_err err = { "" };
	struct bmap map;

	setup_map(&map, 10 * 4096, 4096, NULL);
	ck_assert_int_eq(bmap_add_range(&map, 3, 5, NULL, &err), 0);
	ck_assert_int_eq(bmap_add_range(&map, 4, 6, NULL, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "range 4-6 does not come after the "
			 "previous range 3-5");
	ck_assert_int_eq(bmap_add_range(&map, 8, 10, NULL, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "range 8-10 goes past the image's 10 "
			 "blocks");
	ck_assert_int_eq(bmap_add_range(&map, 9, 8, NULL, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "range 9-8: first block is after the last");
	bmap_free(&map);

	/* No range at all fits an empty image. */
	setup_map(&map, 0, 4096, NULL);
	ck_assert_int_eq(bmap_add_range(&map, 0, 0, NULL, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "goes past"));
	bmap_free(&map);
}
END_TEST

START_TEST(test_add_range_digest)
{
	unsigned char d1[BMAP_DIGEST_MAX], d2[BMAP_DIGEST_MAX];
	struct bmap_err err = { "" };
	struct bmap map;
	size_t i;

	for (i = 0; i < sizeof(d1); i++) {
		d1[i] = (unsigned char)i;
		d2[i] = (unsigned char)(0xff - i);
	}
	/* A checksum needs a checksum type. */
	setup_map(&map, 10 * 4096, 4096, NULL);
	ck_assert_int_eq(bmap_add_range(&map, 0, 0, d1, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "no checksum type"));
	ck_assert_uint_eq(map.nranges, 0);
	bmap_free(&map);

	setup_map(&map, 10 * 4096, 4096, "sha256");
	ck_assert_int_eq(bmap_add_range(&map, 0, 0, d1, &err), 0);
	ck_assert_int_eq(bmap_add_range(&map, 2, 4, NULL, &err), 0);
	ck_assert_int_eq(bmap_add_range(&map, 5, 9, d2, &err), 0);
	ck_assert(map.ranges[0].has_digest);
	ck_assert_mem_eq(map.ranges[0].digest, d1, 32);
	ck_assert(!map.ranges[1].has_digest);
	ck_assert(map.ranges[2].has_digest);
	ck_assert_mem_eq(map.ranges[2].digest, d2, 32);
	bmap_free(&map);
}
END_TEST

START_TEST(test_many_ranges)
{
	struct bmap map;
	uint64_t i;

	setup_map(&map, 20000 * 512ull, 512, NULL);
	for (i = 0; i < 10000; i++)
		ck_assert_int_eq(bmap_add_range(&map, 2 * i, 2 * i, NULL,
						NULL), 0);
	ck_assert_uint_eq(map.nranges, 10000);
	ck_assert_uint_ge(map.cap, 10000);
	ck_assert_uint_eq(map.mapped_count, 10000);
	ck_assert_uint_eq(map.ranges[9999].first, 19998);
	ck_assert_uint_eq(bmap_mapped_bytes(&map), 10000 * 512ull);
	bmap_free(&map);
}
END_TEST

START_TEST(test_range_length)
{
	struct bmap map;

	setup_map(&map, 821752, 4096, NULL);
	ck_assert_int_eq(bmap_add_range(&map, 0, 1, NULL, NULL), 0);
	ck_assert_int_eq(bmap_add_range(&map, 3, 3, NULL, NULL), 0);
	ck_assert_int_eq(bmap_add_range(&map, 198, 200, NULL, NULL), 0);
	ck_assert_uint_eq(bmap_range_offset(&map, &map.ranges[0]), 0);
	ck_assert_uint_eq(bmap_range_length(&map, &map.ranges[0]), 8192);
	ck_assert_uint_eq(bmap_range_offset(&map, &map.ranges[1]), 12288);
	ck_assert_uint_eq(bmap_range_length(&map, &map.ranges[1]), 4096);
	ck_assert_uint_eq(bmap_range_offset(&map, &map.ranges[2]),
			  198 * 4096);
	/* The partial last block stops at the image's end. */
	ck_assert_uint_eq(bmap_range_length(&map, &map.ranges[2]),
			  821752 - 198 * 4096);
	ck_assert_uint_eq(bmap_mapped_bytes(&map),
			  8192 + 4096 + 821752 - 198 * 4096);
	ck_assert_uint_eq(map.mapped_count, 6);
	bmap_free(&map);

	/* Only the partial block. */
	setup_map(&map, 4096 * 5 + 100, 4096, NULL);
	ck_assert_int_eq(bmap_add_range(&map, 5, 5, NULL, NULL), 0);
	ck_assert_uint_eq(bmap_range_length(&map, &map.ranges[0]), 100);
	ck_assert_uint_eq(bmap_mapped_bytes(&map), 100);
	bmap_free(&map);

	/* No ranges: nothing mapped. */
	setup_map(&map, 4096, 4096, NULL);
	ck_assert_uint_eq(bmap_mapped_bytes(&map), 0);
	bmap_free(&map);

	/* The last block of the largest image: no overflow. */
	setup_map(&map, UINT64_MAX, 4096, NULL);
	ck_assert_int_eq(bmap_add_range(&map, map.blocks_count - 1,
					map.blocks_count - 1, NULL, NULL), 0);
	ck_assert_uint_eq(bmap_range_length(&map, &map.ranges[0]), 4095);
	bmap_free(&map);
}
END_TEST

START_TEST(test_human_size)
{
	static const struct {
		uint64_t size;
		const char *text;
	} cases[] = {
		{ 0, "0 bytes" },
		{ 1, "1 byte" },
		{ 2, "2 bytes" },
		{ 511, "511 bytes" },
		{ 512, "0.5 KiB" },
		{ 1024, "1.0 KiB" },
		{ 821752, "802.5 KiB" },
		{ 479232, "468.0 KiB" },
		{ 1048575, "1024.0 KiB" },
		{ 1048576, "1.0 MiB" },
		{ 1572864, "1.5 MiB" },
		{ 1073741824, "1.0 GiB" },
		{ 5ull << 30, "5.0 GiB" },
		{ 1ull << 40, "1.0 TiB" },
		/* Past TiB bmaptool's human_size() says "EiB" of the TiB
		 * value; the layout is copied from it. */
		{ 1ull << 50, "1024.0 EiB" },
	};
	char buf[BMAP_HUMAN_MAX];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(buf, 'x', sizeof(buf));
		ck_assert_ptr_eq(bmap_human_size(cases[i].size, buf), buf);
		ck_assert_str_eq(buf, cases[i].text);
	}
	/* The largest value still fits the buffer. */
	bmap_human_size(UINT64_MAX, buf);
	ck_assert_uint_lt(strlen(buf), BMAP_HUMAN_MAX);
}
END_TEST

START_TEST(test_checksum_type)
{
	struct bmap_err err = { "" };
	struct bmap map;
	char longname[64];

	bmap_init(&map);
	ck_assert_int_eq(bmap_set_checksum_type(&map, "SHA256", &err), 0);
	ck_assert_str_eq(map.checksum_type, "sha256");
	ck_assert_uint_eq(map.digest_len, 32);
	/* Aliases are stored by the algorithm's canonical name. */
	ck_assert_int_eq(bmap_set_checksum_type(&map, "SHA2-256", &err), 0);
	ck_assert_str_eq(map.checksum_type, "sha256");
	ck_assert_int_eq(bmap_set_checksum_type(&map, "sha1", &err), 0);
	ck_assert_str_eq(map.checksum_type, "sha1");
	ck_assert_uint_eq(map.digest_len, 20);
	ck_assert_int_eq(bmap_set_checksum_type(&map, "sha512", &err), 0);
	ck_assert_uint_eq(map.digest_len, 64);

	ck_assert_int_eq(bmap_set_checksum_type(&map, "nope", &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "unknown checksum type"));
	ck_assert_ptr_nonnull(strstr(err.msg, "nope"));
	/* The old type stays. */
	ck_assert_str_eq(map.checksum_type, "sha512");
	ck_assert_uint_eq(map.digest_len, 64);

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(bmap_set_checksum_type(&map, longname, &err),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "unknown checksum type"));

	ck_assert_int_eq(bmap_set_checksum_type(&map, "shake256", &err),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "no fixed size"));

	ck_assert_int_eq(bmap_set_checksum_type(&map, "", &err), 0);
	ck_assert_str_eq(map.checksum_type, "");
	ck_assert_uint_eq(map.digest_len, 0);
	ck_assert_int_eq(bmap_set_checksum_type(&map, "sha1", &err), 0);
	ck_assert_int_eq(bmap_set_checksum_type(&map, NULL, &err), 0);
	ck_assert_str_eq(map.checksum_type, "");
	ck_assert_uint_eq(map.digest_len, 0);
}
END_TEST

Suite *model_suite(void)
{
	Suite *s = suite_create("model");
	TCase *tc = tcase_create("model");

	tcase_add_test(tc, test_init_free);
	tcase_add_test(tc, test_geometry);
	tcase_add_test(tc, test_geometry_refused);
	tcase_add_test(tc, test_add_range_order);
	tcase_add_test(tc, test_add_range_messages);
	tcase_add_test(tc, test_add_range_digest);
	tcase_add_test(tc, test_many_ranges);
	tcase_add_test(tc, test_range_length);
	tcase_add_test(tc, test_human_size);
	tcase_add_test(tc, test_checksum_type);
	suite_add_tcase(s, tc);
	return s;
}
