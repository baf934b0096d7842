/* SPDX-License-Identifier: GPL-2.0-or-later */
/* check-verify.c - the range walk and its verdicts (bmap/verify.c). */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "bmap.h"
#include "bmap/verify.h"
#include "check-suites.h"
#include "check-util.h"

/* A small image: 512-byte blocks, the last one partial. */
#define BS 512u
#define SIZE (20u * BS - 100u)
#define NR 5

/* Ranges, as blocks: a one-block range at the start, two in the middle
 * (one without a checksum), and one ending with the image. */
static const struct {
	uint64_t first, last;
	bool digest;
} ranges[NR] = {
	{ 0, 0, true }, { 2, 5, true }, { 7, 7, false }, { 9, 11, true },
	{ 15, 19, true },
};

static unsigned char image[SIZE];

static void make_map(struct bmap *map, const char *type)
{
	struct bmap_err err = { "" };
	unsigned char sum[BMAP_DIGEST_MAX];
	size_t i;

	for (i = 0; i < SIZE; i++)
		image[i] = cu_pattern(i);
	bmap_init(map);
	ck_assert_int_eq(bmap_set_geometry(map, SIZE, BS, &err), 0);
	ck_assert_msg(bmap_set_checksum_type(map, type, &err) == 0, "%s",
		      err.msg);
	for (i = 0; i < NR; i++) {
		uint64_t off = ranges[i].first * BS;
		uint64_t end = (ranges[i].last + 1) * BS;

		if (end > SIZE)
			end = SIZE;
		if (type && ranges[i].digest)
			cu_digest(type, image + off, end - off, sum);
		ck_assert_int_eq(bmap_add_range(map, ranges[i].first,
						ranges[i].last,
						type && ranges[i].digest ?
						sum : NULL, &err), 0);
	}
}

/* What a walk said about each range. */
struct seen {
	int verdicts[NR];	/* VERIFY_MATCH/MISMATCH, one at most */
	int nverdicts[NR];
	uint64_t hashed[NR];	/* bytes hashed for it */
	int bad;		/* -EBADMSG returns */
	char msg[BMAP_ERR_MAX];	/* the first mismatch's message */
	size_t matched;
};

/* Feed [from, to) of the image in pieces of step bytes (the last one
 * maybe shorter), through walk w. */
static void feed(struct verify *w, const struct bmap *map, uint64_t from,
		 uint64_t to, size_t step, struct seen *s)
{
	uint64_t off = from;

	while (off < to) {
		size_t len = to - off < step ? (size_t)(to - off) : step;
		size_t used = 0;

		while (used < len) {
			struct verify_step st;
			struct bmap_err err = { "" };
			uint64_t at = off + used;
			int ret = verify_feed(w, at, image + at, len - used,
					      &st, &err);

			ck_assert_uint_gt(st.len, 0);
			ck_assert_uint_le(st.len, len - used);
			if (st.range != VERIFY_NOT_HASHED) {
				const struct bmap_range *r =
					&map->ranges[st.range];
				uint64_t rs = bmap_range_offset(map, r);

				/* Hashed bytes lie in their range. */
				ck_assert_uint_ge(at, rs);
				ck_assert_uint_le(at + st.len, rs +
						  bmap_range_length(map, r));
				s->hashed[st.range] += st.len;
			}
			if (st.verdict != VERIFY_NONE) {
				ck_assert_uint_ne(st.range, VERIFY_NOT_HASHED);
				s->verdicts[st.range] = (int)st.verdict;
				s->nverdicts[st.range]++;
			}
			if (ret == -EBADMSG) {
				ck_assert_int_eq(st.verdict, VERIFY_MISMATCH);
				if (!s->bad++)
					snprintf(s->msg, sizeof(s->msg), "%s",
						 err.msg);
			} else {
				ck_assert_int_eq(ret, 0);
				ck_assert_int_ne(st.verdict, VERIFY_MISMATCH);
			}
			used += st.len;
		}
		off += len;
	}
}

/* The whole image through one walk in pieces of step bytes. */
static void walk_all(const struct bmap *map, size_t step, struct seen *s)
{
	struct bmap_err err = { "" };
	struct verify *w = NULL;

	memset(s, 0, sizeof(*s));
	ck_assert_msg(verify_new(&w, map, NULL, NULL, &err) == 0, "%s",
		      err.msg);
	feed(w, map, 0, SIZE, step, s);
	s->matched = verify_matched(w);
	verify_free(w);
}

static uint64_t length_of(const struct bmap *map, size_t i)
{
	return bmap_range_length(map, &map->ranges[i]);
}

static const char *const types[] = { "sha256", "sha1" };
static const size_t steps[] = { 1, 7, 100, BS, BS + 1, 3 * BS, SIZE };

/* A range split across many feeds, in pieces of any size, gets one
 * verdict, at its last byte, having hashed each of its bytes once. */
START_TEST(test_split_feeds)
{
	static struct bmap map;
	size_t k, i;
	struct seen s;

	make_map(&map, types[_i]);
	ck_assert_uint_eq(verify_count(&map), 4);
	for (k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		walk_all(&map, steps[k], &s);
		ck_assert_int_eq(s.bad, 0);
		ck_assert_uint_eq(s.matched, 4);
		for (i = 0; i < NR; i++) {
			bool hashed = ranges[i].digest;

			ck_assert_int_eq(s.nverdicts[i], hashed);
			if (hashed)
				ck_assert_int_eq(s.verdicts[i], VERIFY_MATCH);
			ck_assert_uint_eq(s.hashed[i],
					  hashed ? length_of(&map, i) : 0);
		}
	}
	bmap_free(&map);
}
END_TEST

/* The last range ends with the image, in the middle of a block: its
 * verdict comes with the image's last byte, fed alone or with others. */
START_TEST(test_range_at_image_end)
{
	static struct bmap map;
	struct bmap_err err = { "" };
	struct verify_step st;
	struct verify *w;
	struct seen s;
	uint64_t start;

	make_map(&map, types[_i]);
	start = bmap_range_offset(&map, &map.ranges[NR - 1]);
	ck_assert_uint_eq(start + length_of(&map, NR - 1), SIZE);
	ck_assert_int_eq(verify_new(&w, &map, NULL, NULL, &err), 0);
	ck_assert_int_eq(verify_feed(w, start, image + start,
				     SIZE - 1 - start, &st, &err), 0);
	ck_assert_int_eq(st.verdict, VERIFY_NONE);
	ck_assert_int_eq(verify_feed(w, SIZE - 1, image + SIZE - 1, 1, &st,
				     &err), 0);
	ck_assert_uint_eq(st.len, 1);
	ck_assert_uint_eq(st.range, NR - 1);
	ck_assert_int_eq(st.verdict, VERIFY_MATCH);
	ck_assert_uint_eq(verify_matched(w), 1);
	verify_free(w);
	/* Fed from the range before it in one piece. */
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(verify_new(&w, &map, NULL, NULL, &err), 0);
	feed(w, &map, 9 * BS, SIZE, SIZE, &s);
	ck_assert_int_eq(s.verdicts[3], VERIFY_MATCH);
	ck_assert_int_eq(s.verdicts[NR - 1], VERIFY_MATCH);
	ck_assert_uint_eq(verify_matched(w), 2);
	verify_free(w);
	bmap_free(&map);
}
END_TEST

/* A byte changed at a range's first or last byte: that range, and only
 * that one, fails, with the one message naming its blocks. */
static void check_mismatch(const char *type, uint64_t at, size_t bad,
			   const char *name)
{
	static struct bmap map;
	char want[BMAP_DIGEST_MAX * 2 + 1], got[BMAP_DIGEST_MAX * 2 + 1];
	unsigned char sum[BMAP_DIGEST_MAX];
	char msg[BMAP_ERR_MAX];
	const struct bmap_range *r;
	size_t k, i;
	struct seen s;

	make_map(&map, type);
	r = &map.ranges[bad];
	image[at] ^= 0x5a;
	cu_digest(type, image + bmap_range_offset(&map, r),
		  length_of(&map, bad), sum);
	bmap_hex_encode(r->digest, map.digest_len, want);
	bmap_hex_encode(sum, map.digest_len, got);
	snprintf(msg, sizeof(msg), "checksum mismatch in %s: the bmap says "
		 "%s %s, the image has %s", name, type, want, got);
	for (k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		walk_all(&map, steps[k], &s);
		ck_assert_int_eq(s.bad, 1);
		ck_assert_str_eq(s.msg, msg);
		ck_assert_uint_eq(s.matched, 3);
		for (i = 0; i < NR; i++)
			if (ranges[i].digest)
				ck_assert_int_eq(s.verdicts[i], i == bad ?
						 VERIFY_MISMATCH :
						 VERIFY_MATCH);
	}
	bmap_free(&map);
}

START_TEST(test_mismatch_first_byte)
{
	check_mismatch(types[_i], 2 * BS, 1, "blocks 2-5");
	check_mismatch(types[_i], 0, 0, "block 0");
	check_mismatch(types[_i], 15 * BS, 4, "blocks 15-19");
}
END_TEST

START_TEST(test_mismatch_last_byte)
{
	check_mismatch(types[_i], 6 * BS - 1, 1, "blocks 2-5");
	check_mismatch(types[_i], BS - 1, 0, "block 0");
	check_mismatch(types[_i], SIZE - 1, 4, "blocks 15-19");
}
END_TEST

/* Bytes outside the ranges, or of a range without a checksum, are
 * nobody's business. */
START_TEST(test_holes_ignored)
{
	static struct bmap map;
	struct seen s;

	make_map(&map, "sha256");
	image[BS] ^= 1;		/* a hole */
	image[7 * BS + 3] ^= 1;	/* the range without a checksum */
	walk_all(&map, 100, &s);
	ck_assert_int_eq(s.bad, 0);
	ck_assert_uint_eq(s.matched, 4);
	bmap_free(&map);
}
END_TEST

/* A bmap without checksums: every byte passes, no verdict. */
START_TEST(test_no_checksums)
{
	static struct bmap map;
	size_t k, i;
	struct seen s;

	make_map(&map, NULL);
	ck_assert_uint_eq(map.digest_len, 0);
	ck_assert_uint_eq(verify_count(&map), 0);
	for (k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		walk_all(&map, steps[k], &s);
		ck_assert_int_eq(s.bad, 0);
		ck_assert_uint_eq(s.matched, 0);
		for (i = 0; i < NR; i++) {
			ck_assert_int_eq(s.nverdicts[i], 0);
			ck_assert_uint_eq(s.hashed[i], 0);
		}
	}
	bmap_free(&map);
}
END_TEST

/* Only the ranges' bytes, with jumps over the holes between them (as
 * bmapcopy reads a plain image): every verdict still comes. */
START_TEST(test_ranges_only)
{
	static struct bmap map;
	struct bmap_err err = { "" };
	struct verify *w;
	struct seen s;
	size_t i;

	make_map(&map, types[_i]);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(verify_new(&w, &map, NULL, NULL, &err), 0);
	for (i = 0; i < NR; i++) {
		uint64_t off = bmap_range_offset(&map, &map.ranges[i]);

		feed(w, &map, off, off + length_of(&map, i), 300, &s);
	}
	ck_assert_int_eq(s.bad, 0);
	ck_assert_uint_eq(verify_matched(w), 4);
	verify_free(w);
	bmap_free(&map);
}
END_TEST

/* A range first fed after its start, or left by a jump, gets no
 * verdict; the walk goes on with the next range. */
START_TEST(test_jumps)
{
	static struct bmap map;
	struct bmap_err err = { "" };
	struct verify *w;
	struct seen s;

	make_map(&map, "sha256");
	image[2 * BS] ^= 1;	/* the range left by a jump is bad */
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(verify_new(&w, &map, NULL, NULL, &err), 0);
	feed(w, &map, 0, 3 * BS, 64, &s);		/* into blocks 2-5 */
	feed(w, &map, 4 * BS, SIZE, 64, &s);		/* jump */
	ck_assert_int_eq(s.bad, 0);
	ck_assert_int_eq(s.nverdicts[1], 0);
	ck_assert_uint_eq(verify_matched(w), 3);
	/* Back to a range's middle: passed over. */
	feed(w, &map, 10 * BS, 12 * BS, 64, &s);
	ck_assert_int_eq(s.nverdicts[3], 1);
	ck_assert_uint_eq(verify_matched(w), 3);
	verify_free(w);
	bmap_free(&map);
}
END_TEST

/* The caller may decline a range: asked once, at its first byte. */
static size_t asked[NR + 1];

static bool want_odd(void *ctx, size_t i)
{
	ck_assert_ptr_eq(ctx, asked);
	asked[i]++;
	return i % 2 == 1;
}

START_TEST(test_want)
{
	static struct bmap map;
	struct bmap_err err = { "" };
	struct verify *w;
	struct seen s;
	size_t i;

	make_map(&map, "sha256");
	memset(asked, 0, sizeof(asked));
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(verify_new(&w, &map, want_odd, asked, &err), 0);
	feed(w, &map, 0, SIZE, 333, &s);
	for (i = 0; i < NR; i++) {
		ck_assert_uint_eq(asked[i], ranges[i].digest);
		ck_assert_int_eq(s.nverdicts[i], ranges[i].digest && i % 2);
	}
	ck_assert_uint_eq(verify_matched(w), 2);
	verify_free(w);
	bmap_free(&map);
}
END_TEST

START_TEST(test_range_names)
{
	struct bmap_range r = { .first = 7, .last = 7 };
	char buf[64];

	verify_range_name(&r, buf, sizeof(buf));
	ck_assert_str_eq(buf, "block 7");
	r.last = 12;
	verify_range_name(&r, buf, sizeof(buf));
	ck_assert_str_eq(buf, "blocks 7-12");
}
END_TEST

Suite *verify_suite(void)
{
	Suite *s = suite_create("verify");
	TCase *tc = tcase_create("verify");
	int n = (int)(sizeof(types) / sizeof(types[0]));

	tcase_add_loop_test(tc, test_split_feeds, 0, n);
	tcase_add_loop_test(tc, test_range_at_image_end, 0, n);
	tcase_add_loop_test(tc, test_mismatch_first_byte, 0, n);
	tcase_add_loop_test(tc, test_mismatch_last_byte, 0, n);
	tcase_add_loop_test(tc, test_ranges_only, 0, n);
	tcase_add_test(tc, test_holes_ignored);
	tcase_add_test(tc, test_no_checksums);
	tcase_add_test(tc, test_jumps);
	tcase_add_test(tc, test_want);
	tcase_add_test(tc, test_range_names);
	suite_add_tcase(s, tc);
	return s;
}
