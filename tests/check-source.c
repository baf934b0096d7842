/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check-source.c - image sources (source.c and the stream decoders): what
 * may follow the last gzip member or bzip2 stream. Zero bytes (padding to
 * a block, as tape and some download tools leave) are the end of the data,
 * as gzip -t and bzip2 take them; anything else is trailing garbage. Both
 * with one decoding thread and with several (the bzip2 decoder differs).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "bmap.h"
#include "check-suites.h"
#include "check-util.h"

#define IMG_SIZE (700u * 1024)

static unsigned char *img;

/* The image and its gzip and bzip2 packings (bzip2 -1: several blocks;
 * two bzip2 streams), made once. */
static void setup(void)
{
	img = malloc(IMG_SIZE);
	ck_assert_ptr_nonnull(img);
	cu_fill_runs(img, IMG_SIZE, 7);
	cu_write_scratch("src.img", img, IMG_SIZE, "wb");
	cu_write_scratch("src.a", img, IMG_SIZE / 2, "wb");
	cu_write_scratch("src.b", img + IMG_SIZE / 2, IMG_SIZE / 2, "wb");
	cu_run_scratch("gzip -c", "src.img", ">", "src.gz");
	cu_run_scratch("bzip2 -1 -c", "src.img", ">", "src.bz2");
	cu_run_scratch("bzip2 -1 -c", "src.a", ">", "src2.bz2");
	cu_run_scratch("bzip2 -1 -c", "src.b", ">>", "src2.bz2");
}

static void teardown(void)
{
	free(img);
	img = NULL;
}

/* Scratch file `to`: `from` with `pad` zero bytes and then `tail` (may be
 * NULL) after it. */
static void padded(const char *from, const char *to, size_t pad,
		   const char *tail)
{
	unsigned char *zeros = calloc(1, pad ? pad : 1);

	ck_assert_ptr_nonnull(zeros);
	cu_run_scratch("cp", from, "", to);
	cu_write_scratch(to, zeros, pad, "ab");
	if (tail)
		cu_write_scratch(to, tail, strlen(tail), "ab");
	free(zeros);
}

/* Read all of scratch file name through a source with `threads` threads:
 * the return of the first failing read (its message in err), else 0 once
 * the image came out whole. */
static int read_all(const char *name, unsigned threads, struct bmap_err *err)
{
	size_t cap = IMG_SIZE + 65536, got = 0;
	unsigned char *buf = malloc(cap);
	struct bmap_source *src;
	char path[256];
	ssize_t n;
	int ret;

	ck_assert_ptr_nonnull(buf);
	cu_scratch_path(path, sizeof(path), name);
	ret = bmap_source_open(&src, path, threads, err);
	ck_assert_msg(ret == 0, "%s: %s", name, err->msg);
	do {
		n = bmap_source_read(src, buf + got, cap - got, err);
		if (n > 0)
			got += (size_t)n;
	} while (n > 0 && got < cap);
	bmap_source_close(src);
	if (n == 0) {
		ck_assert_uint_eq(got, IMG_SIZE);
		ck_assert(!memcmp(buf, img, IMG_SIZE));
	}
	free(buf);
	return (int)n;
}

static const struct {
	const char *from;
	size_t pad;
	const char *tail;
	const char *fail;	/* the message, or NULL: read whole */
} cases[] = {
	{ "src.gz", 1, NULL, NULL },
	{ "src.gz", 4096, NULL, NULL },
	{ "src.gz", 10240 + 3, NULL, NULL },
	{ "src.gz", 3u << 20, NULL, NULL },
	{ "src.gz", 0, "x", "corrupt gzip data: trailing garbage" },
	{ "src.gz", 4096, "x", "corrupt gzip data: trailing garbage" },
	{ "src.gz", 3u << 20, "\x1f", "corrupt gzip data: trailing garbage" },
	{ "src.bz2", 1, NULL, NULL },
	{ "src.bz2", 4096, NULL, NULL },
	{ "src.bz2", 10240 + 3, NULL, NULL },
	/* Longer than any bzip2 block: past where a block-parallel scan
	 * for the next block gives up. */
	{ "src.bz2", 3u << 20, NULL, NULL },
	{ "src2.bz2", 4096, NULL, NULL },
	{ "src.bz2", 0, "x", "corrupt bzip2 data: trailing garbage" },
	{ "src.bz2", 5, "x", "corrupt bzip2 data: trailing garbage" },
	{ "src.bz2", 4096, "x", "corrupt bzip2 data: trailing garbage" },
	{ "src.bz2", 4096, "BZh9", "corrupt bzip2 data: trailing garbage" },
	{ "src.bz2", 3u << 20, "x", "corrupt bzip2 data: trailing garbage" },
	{ "src2.bz2", 4096, "x", "corrupt bzip2 data: trailing garbage" },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

START_TEST(test_after_the_data)
{
	unsigned threads = _i < (int)NCASES ? 1 : 2;
	size_t c = (size_t)_i % NCASES;
	struct bmap_err err = { "" };
	int ret;

	padded(cases[c].from, "padded", cases[c].pad, cases[c].tail);
	ret = read_all("padded", threads, &err);
	if (!cases[c].fail) {
		ck_assert_msg(ret == 0, "%s + %zu zeros, %u thread(s): %s",
			      cases[c].from, cases[c].pad, threads, err.msg);
		return;
	}
	ck_assert_msg(ret == -EBADMSG, "%s + %zu zeros + '%s', %u thread(s): "
		      "returned %d (%s)", cases[c].from, cases[c].pad,
		      cases[c].tail, threads, ret, err.msg);
	ck_assert_msg(strstr(err.msg, cases[c].fail), "message '%s' lacks "
		      "'%s'", err.msg, cases[c].fail);
}
END_TEST

Suite *source_suite(void)
{
	Suite *s = suite_create("source");
	TCase *tc = tcase_create("after the data");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_after_the_data, 0, 2 * (int)NCASES);
	suite_add_tcase(s, tc);
	return s;
}
