/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check-seekidx.c - the one encoding of saved seek points: what is
 * written reads back point for point; a damaged byte anywhere, another
 * format, another field count, a count larger than the bytes hold and a
 * short buffer are each refused.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "check-suites.h"
#include "bmap.h"
#include "codec/seekidx.h"

static void make_list(struct strbuf *sb, unsigned npoints)
{
	struct seekidx_out o;

	strbuf_init(sb);
	seekidx_begin(&o, sb, "gzip", 3);
	for (unsigned i = 0; i < npoints; i++) {
		uint64_t f[3] = { i, (uint64_t)i << 40, ~(uint64_t)i };
		char blob[8];

		memset(blob, 'a' + (int)i, sizeof(blob));
		seekidx_put(&o, f, blob, i % 2 ? sizeof(blob) : 0);
	}
	ck_assert_int_eq(seekidx_end(&o), 0);
}

START_TEST(test_round_trip)
{
	struct bmap_err err = { "" };
	struct seekidx_in in;
	struct strbuf sb;
	uint64_t f[3];
	const void *blob;
	uint32_t bl;
	unsigned i = 0;
	int r;

	make_list(&sb, 5);
	ck_assert_int_eq(seekidx_open(&in, sb.buf, sb.len, "gzip", 3, &err),
			 0);
	ck_assert_uint_eq(seekidx_count(&in), 5);
	while ((r = seekidx_next(&in, f, &blob, &bl)) == 1) {
		ck_assert_uint_eq(f[0], i);
		ck_assert_uint_eq(f[1], (uint64_t)i << 40);
		ck_assert_uint_eq(f[2], ~(uint64_t)i);
		ck_assert_uint_eq(bl, i % 2 ? 8 : 0);
		if (bl)
			ck_assert_int_eq(((const char *)blob)[7], 'a' + (int)i);
		i++;
	}
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(i, 5);
	strbuf_free(&sb);
}
END_TEST

START_TEST(test_refused)
{
	struct bmap_err err = { "" };
	struct seekidx_in in;
	struct strbuf sb;

	make_list(&sb, 4);
	ck_assert_int_eq(seekidx_open(&in, sb.buf, sb.len, "zstd", 3, &err),
			 -EINVAL);
	ck_assert_int_eq(seekidx_open(&in, sb.buf, sb.len, "gzip", 2, &err),
			 -EINVAL);
	ck_assert_int_eq(seekidx_open(&in, sb.buf, sb.len - 1, "gzip", 3,
				      &err), -EINVAL);
	ck_assert_int_eq(seekidx_open(&in, sb.buf, 10, "gzip", 3, &err),
			 -EINVAL);
	/* Every single flipped byte is caught. */
	for (size_t i = 0; i < sb.len; i++) {
		sb.buf[i] ^= 0x10;
		ck_assert_msg(seekidx_open(&in, sb.buf, sb.len, "gzip", 3,
					   &err) == -EINVAL,
			      "a flipped byte %zu was not caught", i);
		sb.buf[i] ^= 0x10;
	}
	ck_assert_ptr_nonnull(strstr(err.msg, "saved gzip seek points"));
	strbuf_free(&sb);
}
END_TEST

/* A list appended after other bytes (bmapfs's header line before it in
 * the file), then read from where it starts, loads. */
START_TEST(test_after_a_prefix)
{
	struct bmap_err err = { "" };
	struct seekidx_out o;
	struct seekidx_in in;
	struct strbuf sb;
	uint64_t f[2] = { 7, 8 };
	const void *blob;
	uint32_t bl;

	strbuf_init(&sb);
	strbuf_addf(&sb, "a header line\n");
	seekidx_begin(&o, &sb, "gzip", 2);
	seekidx_put(&o, f, "xy", 2);
	ck_assert_int_eq(seekidx_end(&o), 0);
	ck_assert_msg(seekidx_open(&in, sb.buf + 14, sb.len - 14, "gzip", 2,
				   &err) == 0, "open: %s", err.msg);
	ck_assert_int_eq(seekidx_next(&in, f, &blob, &bl), 1);
	ck_assert_uint_eq(f[1], 8);
	ck_assert_int_eq(seekidx_next(&in, f, &blob, &bl), 0);
	strbuf_free(&sb);
}
END_TEST

Suite *seekidx_suite(void)
{
	Suite *s = suite_create("seekidx");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_after_a_prefix);
	tcase_add_test(tc, test_refused);
	suite_add_tcase(s, tc);
	return s;
}
