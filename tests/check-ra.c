/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check-ra.c - the random-access engine over each kind of format: reads
 * anywhere, in any order, from several threads at once, with a cache far
 * smaller than the image; the end of the image; a corrupt stream; the
 * index folder.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check-suites.h"
#include "check-util.h"
#include "bmap.h"
#include "fs/ra.h"

/* 12 MiB + 777: three times the smallest cache. */
#define SIZE ((12u << 20) + 777u)

static unsigned char *image;

/* Pseudo-random 64 KiB stretches between zero runs: compressible, but
 * not trivially. */
static void make_image(void)
{
	uint64_t x = 88172645463325252ull, o;

	if (image)
		return;
	image = calloc(1, SIZE);
	ck_assert_ptr_nonnull(image);
	for (o = 0; o < SIZE; o++) {
		if ((o >> 16) % 3 == 1)
			continue;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		image[o] = (unsigned char)(x % 7 == 0 ? 0 : x);
	}
}

/* The image packed by `cmd` (reading the raw image on stdin) into
 * scratch file name; its path in path. */
static void pack(const char *cmd, const char *name, char *path,
		 size_t size)
{
	char raw[512], line[2048];
	FILE *f;

	make_image();
	cu_scratch_path(raw, sizeof(raw), "ra.img");
	f = fopen(raw, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(image, 1, SIZE, f), SIZE);
	ck_assert_int_eq(fclose(f), 0);
	cu_scratch_path(path, size, name);
	if (access(path, F_OK) == 0 && strncmp(name, "bad-", 4))
		return;		/* packed by an earlier test */
	if (!cmd)
		snprintf(line, sizeof(line), "cp '%s' '%s'", raw, path);
	else
		snprintf(line, sizeof(line), "%s <'%s' >'%s'", cmd, raw, path);
	ck_assert_msg(system(line) == 0, "'%s' failed", line);
}

static const struct {
	const char *cmd, *name, *format;
} kinds[] = {
	{ NULL, "ra-raw.img", "raw" },
	{ "gzip -1 -c", "ra.img.gz", "gzip" },
	{ "lz4 -q -c", "ra.img.lz4", "lz4" },
	{ "bzip2 -1 -c", "ra.img.bz2", "bzip2" },
	{ "xz -0 --block-size=1MiB -c", "ra.img.xz", "xz" },
	{ "zstd -q -c", "ra.img.zst", "zstd" },
};

/* hint: tell the engine the image's size, as bmapfs does from the bmap
 * (bzip2 then places blocks from the end too). */
static struct bmap_ra *open_kind(int i, uint64_t cache, const char *index,
				 bool hint)
{
	struct bmap_ra_opts opts = {
		.cache_size = cache, .threads = 2, .index_dir = index,
		.image_size = hint ? SIZE : 0,
		.verified = hint,
	};
	struct bmap_ra *ra;
	struct bmap_err err;
	char path[512];

	pack(kinds[i].cmd, kinds[i].name, path, sizeof(path));
	ck_assert_msg(bmap_ra_open(&ra, path, &opts, &err) == 0, "%s",
		      err.msg);
	ck_assert_ptr_nonnull(strstr(bmap_ra_format(ra), kinds[i].format));
	return ra;
}

static void check_at(struct bmap_ra *ra, uint64_t off, size_t len)
{
	static unsigned char buf[3 << 20];
	struct bmap_err err;
	size_t want = off >= SIZE ? 0 : SIZE - off < len ? SIZE - off : len;
	ssize_t n;

	ck_assert_uint_le(len, sizeof(buf));
	n = bmap_ra_pread(ra, buf, len, off, &err);
	ck_assert_msg(n == (ssize_t)want, "at %llu: %zd, want %zu (%s)",
		      (unsigned long long)off, n, want, n < 0 ? err.msg : "");
	ck_assert_msg(!memcmp(buf, image + off, want), "wrong bytes at %llu",
		      (unsigned long long)off);
}

START_TEST(test_any_order)
{
	/* Backwards, forwards, across chunk edges, the end, past it. */
	static const uint64_t offs[] = {
		SIZE - 1000, 10u << 20, 5u << 20, (5u << 20) - 3, 0,
		(1u << 20) - 1, 12345678, SIZE - 1, SIZE, SIZE + 5, 3u << 20,
	};
	struct bmap_ra *ra = open_kind(_i, BMAP_RA_CACHE_MIN, NULL, true);
	size_t j;

	for (j = 0; j < sizeof(offs) / sizeof(offs[0]); j++)
		check_at(ra, offs[j], 100000);
	check_at(ra, 7u << 20, 3u << 20);
	bmap_ra_close(ra);
}
END_TEST

struct reader {
	struct bmap_ra *ra;
	unsigned seed;
	int bad;
};

static void *reader(void *arg)
{
	struct reader *r = arg;
	unsigned char *buf = malloc(200000);
	struct bmap_err err;
	int k;

	for (k = 0; buf && k < 12; k++) {
		uint64_t off = (uint64_t)rand_r(&r->seed) % SIZE;
		size_t len = 1 + (size_t)rand_r(&r->seed) % 200000;
		size_t want = SIZE - off < len ? SIZE - off : len;

		if (bmap_ra_pread(r->ra, buf, len, off, &err) != (ssize_t)want ||
		    memcmp(buf, image + off, want))
			r->bad++;
	}
	free(buf);
	return NULL;
}

START_TEST(test_threads)
{
	struct bmap_ra *ra = open_kind(_i, BMAP_RA_CACHE_MIN, NULL, false);
	struct reader r[4];
	pthread_t t[4];
	int k;

	for (k = 0; k < 4; k++) {
		r[k] = (struct reader){ .ra = ra, .seed = 7u * (unsigned)k + 1 };
		ck_assert_int_eq(pthread_create(&t[k], NULL, reader, &r[k]), 0);
	}
	for (k = 0; k < 4; k++) {
		pthread_join(t[k], NULL);
		ck_assert_int_eq(r[k].bad, 0);
	}
	bmap_ra_close(ra);
}
END_TEST

START_TEST(test_corrupt)
{
	struct bmap_ra_opts opts = { .threads = 1 };
	static unsigned char buf[1 << 20];
	struct bmap_ra *ra;
	struct bmap_err err;
	char path[512], name[64];
	struct stat st;
	ssize_t n = 0;
	uint64_t off;
	FILE *f;

	snprintf(name, sizeof(name), "bad-%s", kinds[_i].name);
	pack(kinds[_i].cmd, name, path, sizeof(path));
	ck_assert_int_eq(stat(path, &st), 0);
	f = fopen(path, "r+b");
	ck_assert_ptr_nonnull(f);
	fseek(f, st.st_size / 2, SEEK_SET);
	fputc(fgetc(f) ^ 0x55, f);
	fseek(f, st.st_size / 2 + 100, SEEK_SET);
	fputc(fgetc(f) ^ 0x55, f);
	fclose(f);
	if (bmap_ra_open(&ra, path, &opts, &err) < 0)
		return;		/* found already: fine */
	for (off = 0; off < SIZE; off += sizeof(buf)) {
		n = bmap_ra_pread(ra, buf, sizeof(buf), off, &err);
		if (n < 0)
			break;
	}
	ck_assert_msg(n < 0, "a corrupt %s stream read without error",
		      kinds[_i].format);
	ck_assert(n == -EIO || n == -EBADMSG);
	ck_assert_str_ne(err.msg, "");
	bmap_ra_close(ra);
}
END_TEST

START_TEST(test_index_folder)
{
	char dir[512], cmd[1024];
	struct bmap_ra *ra;

	cu_scratch_path(dir, sizeof(dir), "index/deeper");
	ra = open_kind(_i, 0, dir, true);
	check_at(ra, SIZE - 5000, 5000);
	bmap_ra_close(ra);
	/* A second open reads anywhere at once, with or without an index
	 * file (formats that know every point at open keep none). */
	ra = open_kind(_i, 0, dir, true);
	check_at(ra, 7u << 20, 70000);
	bmap_ra_close(ra);
	/* A broken index is ignored, never trusted. */
	snprintf(cmd, sizeof(cmd),
		 "for f in '%s'/*.idx; do [ -e \"$f\" ] || continue; "
		 "head -c 60 \"$f\" >\"$f.t\"; printf 'garbage' >>\"$f.t\"; "
		 "mv \"$f.t\" \"$f\"; done", dir);
	ck_assert_int_eq(system(cmd), 0);
	ra = open_kind(_i, 0, dir, true);
	check_at(ra, SIZE - 70000, 70000);
	check_at(ra, 1u << 20, 70000);
	bmap_ra_close(ra);
}
END_TEST

/* ---- what an index folder is trusted with ---- */

/* The gzip image's index in dir, saved by an open that read the image's
 * end; its path in out. */
static void learn_index(const char *dir, char *out, size_t size)
{
	struct bmap_ra *ra = open_kind(1, 0, dir, true);
	char cmd[1024];
	FILE *f;

	check_at(ra, SIZE - 5000, 5000);
	bmap_ra_close(ra);
	snprintf(cmd, sizeof(cmd), "ls '%s'/*.idx", dir);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(out, (int)size, f));
	out[strcspn(out, "\n")] = '\0';
	pclose(f);
}

/* Does an open with index folder dir know seek points at once (gzip
 * knows none before decoding, unless it loaded them)? */
static bool loads_points(const char *dir)
{
	struct bmap_ra *ra = open_kind(1, 0, dir, true);
	bool loaded = bmap_ra_point(ra, SIZE - 1) > 0;

	bmap_ra_close(ra);
	return loaded;
}

START_TEST(test_index_trust)
{
	char dir[512], other[512], abs[PATH_MAX], idx[600], moved[PATH_MAX + 100];

	cu_scratch_path(dir, sizeof(dir), "trust");
	cu_scratch_path(other, sizeof(other), "trust-elsewhere");
	learn_index(dir, idx, sizeof(idx));
	ck_assert_msg(loads_points(dir), "a good index was not loaded");

	/* A symbolic link to a good index (under the same name) elsewhere. */
	ck_assert_int_eq(mkdir(other, 0700), 0);
	ck_assert_ptr_nonnull(realpath(other, abs));
	snprintf(moved, sizeof(moved), "%s/%s", abs, strrchr(idx, '/') + 1);
	ck_assert_int_eq(rename(idx, moved), 0);
	ck_assert_int_eq(symlink(moved, idx), 0);
	ck_assert_msg(!loads_points(dir), "an index was loaded through a link");
	ck_assert_int_eq(unlink(idx), 0);
	ck_assert_int_eq(rename(moved, idx), 0);
	ck_assert(loads_points(dir));

	/* A good index that someone else owns. */
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(idx, 65534, 65534), 0);
		ck_assert_msg(!loads_points(dir),
			      "an index owned by another user was loaded");
		ck_assert_int_eq(chown(idx, 0, 0), 0);
		ck_assert(loads_points(dir));
	}

	/* A folder that others can write. */
	ck_assert_int_eq(chmod(dir, 0770), 0);
	ck_assert_msg(!loads_points(dir),
		      "an index was loaded from a group-writable folder");
	{
		struct bmap_ra *ra = open_kind(1, 0, dir, true);

		ck_assert_ptr_nonnull(bmap_ra_index_warning(ra));
		ck_assert_ptr_nonnull(strstr(bmap_ra_index_warning(ra), dir));
		bmap_ra_close(ra);
	}
	ck_assert_int_eq(chmod(dir, 01777), 0);
	ck_assert_msg(!loads_points(dir),
		      "an index was loaded from a world-writable folder");
	ck_assert_int_eq(chmod(dir, 0700), 0);
	ck_assert(loads_points(dir));
}
END_TEST

/* How many files folder dir holds. */
static int count_files(const char *dir)
{
	char cmd[1024];
	int n = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%d", &n), 1);
	pclose(f);
	return n;
}

START_TEST(test_index_bad)
{
	char dir[512], idx[600];
	struct bmap_ra *ra;

	cu_scratch_path(dir, sizeof(dir), "bad-index");
	learn_index(dir, idx, sizeof(idx));
	ck_assert(loads_points(dir));
	/* Points found wrong as they are used: the index goes, and what
	 * this run learnt is not saved in its place. */
	ra = open_kind(1, 0, dir, true);
	check_at(ra, 1u << 20, 5000);
	ck_assert_ptr_null(bmap_ra_index_warning(ra));
	ra_mark_index_bad(ra);
	bmap_ra_close(ra);
	ck_assert_int_eq(access(idx, F_OK), -1);
	ck_assert_int_eq(count_files(dir), 0);
	ck_assert(!loads_points(dir));
}
END_TEST

/* The tap: sees what decoders produce, in order per decoder, and is told
 * when each goes. */
struct tap_seen {
	pthread_mutex_t lock;
	uint64_t bytes;
	int wrong, open;
};

struct tap_one {
	uint64_t next;
};

static void tap(void *ctx, void **state, uint64_t off,
		const unsigned char *buf, size_t len)
{
	struct tap_seen *seen = ctx;
	struct tap_one *one = *state;

	pthread_mutex_lock(&seen->lock);
	if (!buf) {
		seen->open--;
		free(one);
		*state = NULL;
	} else {
		if (!one) {
			one = *state = calloc(1, sizeof(*one));
			one->next = off;
			seen->open++;
		}
		if (off != one->next || off + len > SIZE ||
		    memcmp(buf, image + off, len))
			seen->wrong++;
		one->next = off + len;
		seen->bytes += len;
	}
	pthread_mutex_unlock(&seen->lock);
}

START_TEST(test_tap)
{
	struct tap_seen seen = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct bmap_ra *ra = open_kind(_i, BMAP_RA_CACHE_MIN, NULL, true);

	bmap_ra_set_tap(ra, tap, &seen);
	check_at(ra, 6u << 20, 100000);
	check_at(ra, 1u << 20, 100000);
	check_at(ra, SIZE - 10, 100);
	bmap_ra_close(ra);
	ck_assert_int_eq(seen.wrong, 0);
	ck_assert_int_eq(seen.open, 0);
	ck_assert_uint_ge(seen.bytes, (2u << 20) + 777);
}
END_TEST

START_TEST(test_not_an_image)
{
	struct bmap_ra_opts opts = { .threads = 1 };
	struct bmap_ra *ra;
	struct bmap_err err;
	char path[512];

	cu_scratch_path(path, sizeof(path), "no-such-file");
	ck_assert_int_eq(bmap_ra_open(&ra, path, &opts, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "no-such-file"));
}
END_TEST

Suite *ra_suite(void)
{
	Suite *s = suite_create("ra");
	TCase *tc = tcase_create("ra");
	int n = (int)(sizeof(kinds) / sizeof(kinds[0]));

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_any_order, 0, n);
	tcase_add_loop_test(tc, test_threads, 0, n);
	tcase_add_loop_test(tc, test_corrupt, 1, n);
	tcase_add_loop_test(tc, test_index_folder, 0, n);
	tcase_add_loop_test(tc, test_tap, 0, n);
	tcase_add_test(tc, test_index_trust);
	tcase_add_test(tc, test_index_bad);
	tcase_add_test(tc, test_not_an_image);
	suite_add_tcase(s, tc);
	return s;
}
