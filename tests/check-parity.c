/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check-parity.c - the library's two ways of decoding an image agree: a
 * stream from the start (bmap_source, what bmapcopy reads) and random
 * access (bmap_ra, what bmapfs reads). Only bmap.h is used, so the suite
 * outlives any change in how either is built.
 *
 * The inputs are made once, by the command-line tools, from a few MiB of
 * mixed data: every compressed format (single and several members,
 * streams, blocks or frames where it has them), tar and zip (plain and in
 * gzip) and a plain image. For each:
 *  - good: both paths give the image, whole; bmap_ra at random offsets
 *    gives the image's bytes there; bmap_source on a pipe gives the same;
 *  - damaged (the compressed ones): cut short at five places, a bit
 *    flipped at four, garbage after the end. Both paths fail alike (the
 *    same errno, the same message up to its first ':'), by the rule every
 *    codec is to follow: cut short is -EIO "truncated FMT data", anything
 *    else -EBADMSG "corrupt FMT data: ..." (a flipped length or end marker
 *    may rightly read as cut short); a read after a failure fails again;
 *    what either returned before failing is the image's bytes (but for a
 *    flipped bit: it may decode to wrong bytes that only the next
 *    checksum finds). A flipped bit the format cannot see (gzip's header
 *    fields) may instead read whole on both paths, every byte right.
 *  - zero bytes after the end (padding): read whole on both paths, or
 *    refused alike, by the rule for garbage.
 *
 * The random offsets come from a fixed seed per input; PARITY_SEED in the
 * environment picks another (a failure names the seed it used).
 *
 * Cases listed in parity_known[] still run; their failure is printed as a
 * known divergence, and one that passes fails (the list must shrink as
 * the codecs are unified).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "bmap.h"
#include "check-suites.h"
#include "check-util.h"

/* The image: several bzip2 blocks (bzip2 -1: 100k), xz blocks (1 MiB),
 * bmap_ra cache chunks; not a round size. */
#define PT_SIZE (3u * 1024 * 1024 + 54321)
/* Where the two members, streams or frames of the multi inputs meet. */
#define PT_SPLIT 1234567u
#define PT_THREADS 2
/* bmap_ra reads from 0 in pieces of this many bytes (not a chunk's
 * multiple); bmap_source in reads of PT_READ. */
#define PT_PIECE 300007u
#define PT_READ (1u << 20)
#define PT_RANDOM 50
#define PT_GARBAGE "garbage!"
#define PT_GARBAGE_COUNT 100
/* Zero bytes after the data: padding (a tape's, a download tool's),
 * which the gzip, bzip2, xz and zstd decoders take for the end of the
 * data and the lzop one refuses. Both paths must agree: the image
 * whole, or the same error, by the rule for garbage. A multiple of 4,
 * as xz wants. */
#define PT_ZEROS 4096

/* ------------------------------------------------------------------ */
/* The inputs                                                          */

struct pt_input {
	const char *name;	/* the cases' first part; scratch "pt-NAME" */
	const char *codec;	/* FMT of its messages; NULL: not damaged */
	/* Run in the scratch folder: writes pt-NAME from pt-image (the
	 * image, whole), pt-a and pt-b (its halves). */
	const char *make;
	bool zip_inside;	/* the image read is the zip file itself */
};

static const struct pt_input pt_inputs[] = {
	{ "gzip", "gzip", "gzip -n -c pt-image >pt-gzip", false },
	{ "gzip-members", "gzip", "gzip -n -c pt-a >pt-gzip-members && "
	  "gzip -n -c pt-b >>pt-gzip-members", false },
	{ "bzip2", "bzip2", "bzip2 -1 -c pt-image >pt-bzip2", false },
	{ "bzip2-streams", "bzip2", "bzip2 -1 -c pt-a >pt-bzip2-streams && "
	  "bzip2 -1 -c pt-b >>pt-bzip2-streams", false },
	{ "xz", "xz", "xz -q -3 -T1 -c pt-image >pt-xz", false },
	{ "xz-blocks", "xz", "xz -q -3 -T1 --block-size=1MiB -c pt-image "
	  ">pt-xz-blocks", false },
	{ "xz-streams", "xz", "xz -q -3 -T1 -c pt-a >pt-xz-streams && "
	  "xz -q -3 -T1 -c pt-b >>pt-xz-streams", false },
	{ "zstd", "zstd", "zstd -q -c pt-image >pt-zstd", false },
	{ "zstd-frames", "zstd", "zstd -q -c pt-a >pt-zstd-frames && "
	  "zstd -q -c pt-b >>pt-zstd-frames", false },
	{ "lz4", "lz4", "lz4 -q -c pt-image >pt-lz4", false },
	{ "lzop", "lzop", "lzop -c pt-image >pt-lzop", false },
	{ "tar", NULL, "tar -cf pt-tar pt-image", false },
	{ "tar.gz", NULL, "tar -cf - pt-image | gzip -n -c >pt-tar.gz",
	  false },
	{ "zip", NULL, "zip -q -X pt-zip.zip pt-image && "
	  "mv pt-zip.zip pt-zip", false },
	/* The source opens only tar archives inside a compressed stream:
	 * what a zip in gzip holds is the zip. */
	{ "zip.gz", NULL, "gzip -n -c pt-zip >pt-zip.gz", true },
	{ "raw", NULL, "cp pt-image pt-raw", false },
};

#define PT_NINPUTS (sizeof(pt_inputs) / sizeof(pt_inputs[0]))

enum pt_damage {
	PT_CUT_HEADER, PT_CUT_25, PT_CUT_50, PT_CUT_90, PT_CUT_LAST,
	PT_FLIP_HEADER, PT_FLIP_EARLY, PT_FLIP_MIDDLE, PT_FLIP_TRAILER,
	PT_GARBAGE_AFTER, PT_ZEROS_AFTER,
	PT_NDAMAGES
};

static const char *const pt_damage_names[PT_NDAMAGES] = {
	[PT_CUT_HEADER] = "cut-header",
	[PT_CUT_25] = "cut-25%",
	[PT_CUT_50] = "cut-50%",
	[PT_CUT_90] = "cut-90%",
	[PT_CUT_LAST] = "cut-1",
	[PT_FLIP_HEADER] = "flip-header",
	[PT_FLIP_EARLY] = "flip-early",
	[PT_FLIP_MIDDLE] = "flip-middle",
	[PT_FLIP_TRAILER] = "flip-trailer",
	[PT_GARBAGE_AFTER] = "garbage",
	[PT_ZEROS_AFTER] = "zeros",
};

/*
 * Known divergences, issue 9: removed as each format's single codec
 * lands. Only gzip, bzip2, xz and zstd may be here (their decoders are
 * being rewritten); a listed case still runs, its failure is printed as
 * "known divergence: ...", and a listed case that passes fails the test.
 * What each path returns today is in the comment.
 */
static const struct {
	const char *input;	/* pt_inputs[].name */
	const char *what;	/* "good", "pipe", "random" or a damage */
} parity_known[] = {
	{ NULL, NULL },	/* the end */
};

/* Made once (the fixture runs in the runner, the tests in its children):
 * the image, and each input's bytes. */
static unsigned char *pt_image;
static unsigned char *pt_bytes[PT_NINPUTS];
static size_t pt_len[PT_NINPUTS];
static const unsigned char *pt_zip;	/* pt_bytes of "zip" */
static size_t pt_zip_len;

static void pt_sh(const char *cmd)
{
	char dir[256], line[1024];

	cu_scratch_path(dir, sizeof(dir), "");
	ck_assert(strchr(dir, '\'') == NULL);
	snprintf(line, sizeof(line), "cd '%s' && { %s; }", dir, cmd);
	ck_assert_msg(system(line) == 0, "failed: %s", cmd);
}

static void pt_setup(void)
{
	char path[256], name[64];
	size_t i;

	pt_image = malloc(PT_SIZE);
	ck_assert_ptr_nonnull(pt_image);
	cu_fill_runs(pt_image, PT_SIZE, 9009);
	cu_write_scratch("pt-image", pt_image, PT_SIZE, "wb");
	cu_write_scratch("pt-a", pt_image, PT_SPLIT, "wb");
	cu_write_scratch("pt-b", pt_image + PT_SPLIT, PT_SIZE - PT_SPLIT,
			 "wb");
	for (i = 0; i < PT_NINPUTS; i++) {
		pt_sh(pt_inputs[i].make);
		snprintf(name, sizeof(name), "pt-%s", pt_inputs[i].name);
		cu_scratch_path(path, sizeof(path), name);
		pt_bytes[i] = (unsigned char *)cu_read_file(path, &pt_len[i]);
		ck_assert_msg(pt_bytes[i] != NULL, "cannot read %s", path);
		if (!strcmp(pt_inputs[i].name, "zip")) {
			pt_zip = pt_bytes[i];
			pt_zip_len = pt_len[i];
		}
	}
}

static void pt_teardown(void)
{
	size_t i;

	for (i = 0; i < PT_NINPUTS; i++) {
		free(pt_bytes[i]);
		pt_bytes[i] = NULL;
	}
	free(pt_image);
	pt_image = NULL;
}

/* What reading input i gives when all is well. */
static const unsigned char *pt_want(size_t i, size_t *len)
{
	if (pt_inputs[i].zip_inside) {
		*len = pt_zip_len;
		return pt_zip;
	}
	*len = PT_SIZE;
	return pt_image;
}

/* ------------------------------------------------------------------ */
/* Verdicts: every problem of a case, then one decision                */

struct pt_verdict {
	char msg[3000];
	size_t len;
};

static void pt_fail(struct pt_verdict *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void pt_fail(struct pt_verdict *v, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (v->len + 8 >= sizeof(v->msg))
		return;
	if (v->len) {
		memcpy(v->msg + v->len, "; ", 3);
		v->len += 2;
	}
	va_start(ap, fmt);
	n = vsnprintf(v->msg + v->len, sizeof(v->msg) - v->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		v->len += (size_t)n < sizeof(v->msg) - v->len ?
			  (size_t)n : sizeof(v->msg) - v->len - 1;
}

static bool pt_is_known(const char *input, const char *what)
{
	size_t k;

	for (k = 0; parity_known[k].input; k++)
		if (!strcmp(parity_known[k].input, input) &&
		    !strcmp(parity_known[k].what, what))
			return true;
	return false;
}

static void pt_decide(const char *input, const char *what,
		      const struct pt_verdict *v)
{
	bool known = pt_is_known(input, what);

	if (v->len && known) {
		fprintf(stderr, "known divergence: %s %s: %s\n", input, what,
			v->msg);
		return;
	}
	ck_assert_msg(!v->len, "%s %s: %s", input, what, v->msg);
	ck_assert_msg(!known, "%s %s passes now: remove it from "
		      "parity_known", input, what);
}

/* ------------------------------------------------------------------ */
/* Reading everything, both ways                                       */

struct pt_run {
	const char *path;	/* "source" or "ra" */
	int ret;		/* 0: read to its end, else the error */
	char msg[BMAP_ERR_MAX];
	unsigned char *buf;
	size_t got;		/* bytes returned before the end or error */
	bool open_failed;
	long long again;	/* a read after the end or the error */
	bool overrun;		/* more bytes than there is room for */
	bool short_then_more;	/* ra: a short read, then more data */
};

static void pt_run_init(struct pt_run *r, const char *path, size_t cap)
{
	memset(r, 0, sizeof(*r));
	r->path = path;
	r->buf = malloc(cap);
	ck_assert_ptr_nonnull(r->buf);
}

/* The open failed: that is the path's verdict. */
static void pt_open_failed(struct pt_run *r, int ret,
			   const struct bmap_err *err)
{
	r->ret = ret;
	r->open_failed = true;
	snprintf(r->msg, sizeof(r->msg), "%s", err->msg);
}

/* All of file `path` through bmap_source, up to cap bytes. */
static void pt_source(const char *path, size_t cap, struct pt_run *r)
{
	struct bmap_err err = { "" }, err2 = { "" };
	unsigned char extra[4096];
	struct bmap_source *src;
	ssize_t n;
	int ret;

	pt_run_init(r, "source", cap);
	ret = bmap_source_open(&src, path, PT_THREADS, &err);
	if (ret < 0) {
		pt_open_failed(r, ret, &err);
		return;
	}
	for (;;) {
		size_t want = cap - r->got < PT_READ ? cap - r->got : PT_READ;

		if (want == 0) {
			r->overrun = true;
			break;
		}
		n = bmap_source_read(src, r->buf + r->got, want, &err);
		if (n <= 0) {
			r->ret = (int)n;
			snprintf(r->msg, sizeof(r->msg), "%s", err.msg);
			break;
		}
		r->got += (size_t)n;
	}
	r->again = bmap_source_read(src, extra, sizeof(extra), &err2);
	bmap_source_close(src);
}

/* All of file `path` through bmap_ra, from 0 in pieces, up to cap. */
static void pt_ra(const char *path, size_t cap, struct pt_run *r)
{
	struct bmap_ra_opts opts = { .threads = PT_THREADS };
	struct bmap_err err = { "" }, err2 = { "" };
	struct bmap_ra *ra;
	bool was_short = false;
	size_t want = 0;
	unsigned char *again;
	ssize_t n;
	int ret;

	pt_run_init(r, "ra", cap);
	ret = bmap_ra_open(&ra, path, &opts, &err);
	if (ret < 0) {
		pt_open_failed(r, ret, &err);
		return;
	}
	for (;;) {
		want = cap - r->got < PT_PIECE ? cap - r->got : PT_PIECE;
		if (want == 0) {
			r->overrun = true;
			break;
		}
		n = bmap_ra_pread(ra, r->buf + r->got, want, r->got, &err);
		if (n <= 0) {
			r->ret = (int)n;
			snprintf(r->msg, sizeof(r->msg), "%s", err.msg);
			break;
		}
		if (was_short)
			r->short_then_more = true;
		was_short = (size_t)n < want;
		r->got += (size_t)n;
	}
	/* The same read again: the same end, or a failure again. */
	again = malloc(want ? want : 1);
	ck_assert_ptr_nonnull(again);
	r->again = bmap_ra_pread(ra, again, want, r->got, &err2);
	free(again);
	bmap_ra_close(ra);
}

static void pt_run_free(struct pt_run *r)
{
	free(r->buf);
	r->buf = NULL;
}

/* The message up to its first ':'. */
static size_t pt_head_len(const char *msg)
{
	const char *colon = strchr(msg, ':');

	return colon ? (size_t)(colon - msg) : strlen(msg);
}

static void pt_describe(const struct pt_run *r, char *out, size_t size)
{
	if (r->ret == 0)
		snprintf(out, size, "%s: %zu bytes, whole", r->path, r->got);
	else
		snprintf(out, size, "%s: %s%zu bytes, then %d (%s) \"%s\"",
			 r->path, r->open_failed ? "open failed, " : "",
			 r->got, r->ret, strerror(-r->ret), r->msg);
}

/* One path's own problems: bytes that are not the image's, reads after
 * the end or a failure that do not end or fail the same way. Bytes before
 * a failure are held to the image's only when every byte of the input
 * that is there is right (check_prefix): a flipped byte may decode to
 * wrong bytes that only the next checksum (a gzip member's, an lz4
 * frame's) finds. */
static void pt_check_run(const struct pt_run *r, const unsigned char *want,
			 size_t want_len, bool check_prefix,
			 struct pt_verdict *v)
{
	size_t i, n = r->got < want_len ? r->got : want_len;

	if (r->overrun || r->got > want_len)
		pt_fail(v, "%s returned more than the image's %zu bytes",
			r->path, want_len);
	if ((check_prefix || r->ret == 0) && memcmp(r->buf, want, n)) {
		for (i = 0; i < n && r->buf[i] == want[i]; i++)
			;
		pt_fail(v, "%s returned a wrong byte at %zu", r->path, i);
	}
	if (r->short_then_more)
		pt_fail(v, "ra: a short read before the end");
	if (r->ret == 0 && r->got != want_len)
		pt_fail(v, "%s ended after %zu of %zu bytes", r->path, r->got,
			want_len);
	if (r->ret == 0 && r->again != 0)
		pt_fail(v, "%s: a read after the end gave %lld", r->path,
			r->again);
	if (r->ret < 0 && !r->open_failed && r->again >= 0)
		pt_fail(v, "%s: a read after the failure gave %lld, not an "
			"error", r->path, r->again);
}

/* The rule: cut short is -EIO "truncated FMT data"; anything else
 * -EBADMSG "corrupt FMT data" (a flipped byte may also read as cut
 * short: a length or an end marker that asks for more). */
static void pt_check_rule(const struct pt_run *r, const char *codec,
			  enum pt_damage d, struct pt_verdict *v)
{
	char truncated[32], corrupt[32];
	size_t h = pt_head_len(r->msg);
	bool is_trunc, is_corrupt;

	snprintf(truncated, sizeof(truncated), "truncated %s data", codec);
	snprintf(corrupt, sizeof(corrupt), "corrupt %s data", codec);
	is_trunc = r->ret == -EIO && h == strlen(truncated) &&
		   !strncmp(r->msg, truncated, h);
	is_corrupt = r->ret == -EBADMSG && h == strlen(corrupt) &&
		     !strncmp(r->msg, corrupt, h);
	if (d <= PT_CUT_LAST && !is_trunc)
		pt_fail(v, "%s: want -EIO \"%s\"", r->path, truncated);
	else if (d >= PT_GARBAGE_AFTER && !is_corrupt)
		pt_fail(v, "%s: want -EBADMSG \"%s: ...\"", r->path, corrupt);
	else if (d > PT_CUT_LAST && d < PT_GARBAGE_AFTER && !is_trunc &&
		 !is_corrupt)
		pt_fail(v, "%s: want -EBADMSG \"%s: ...\" (or -EIO \"%s\")",
			r->path, corrupt, truncated);
}

/* Both paths over file `path`: the image (damage < 0) or a damaged
 * input of the codec. */
static void pt_compare(const char *path, const unsigned char *want,
		       size_t want_len, const char *codec, int damage,
		       struct pt_verdict *v)
{
	struct pt_run s, r;
	char ds[BMAP_ERR_MAX + 128], dr[BMAP_ERR_MAX + 128];
	size_t cap = want_len + PT_READ;
	bool flip = damage >= PT_FLIP_HEADER && damage <= PT_FLIP_TRAILER;

	pt_source(path, cap, &s);
	pt_ra(path, cap, &r);
	pt_describe(&s, ds, sizeof(ds));
	pt_describe(&r, dr, sizeof(dr));
	pt_check_run(&s, want, want_len, !flip, v);
	pt_check_run(&r, want, want_len, !flip, v);
	if (damage < 0) {
		if (s.ret)
			pt_fail(v, "%s", ds);
		if (r.ret)
			pt_fail(v, "%s", dr);
	} else if (s.ret == 0 && r.ret == 0) {
		/* Unseen by both: only a flipped byte may be, and only
		 * when every byte still came out right (checked above);
		 * and padding, read whole. */
		if (damage <= PT_CUT_LAST || damage == PT_GARBAGE_AFTER)
			pt_fail(v, "both read it whole");
	} else {
		size_t hs = pt_head_len(s.msg), hr = pt_head_len(r.msg);

		if (s.ret != r.ret || hs != hr || strncmp(s.msg, r.msg, hs))
			pt_fail(v, "the paths differ");
		if (s.ret)
			pt_check_rule(&s, codec, (enum pt_damage)damage, v);
		else
			pt_fail(v, "source read it whole");
		if (r.ret)
			pt_check_rule(&r, codec, (enum pt_damage)damage, v);
		else
			pt_fail(v, "ra read it whole");
	}
	if (v->len)
		pt_fail(v, "[%s] [%s]", ds, dr);
	pt_run_free(&s);
	pt_run_free(&r);
}

static void pt_path(size_t i, char *path, size_t size)
{
	char name[64];

	snprintf(name, sizeof(name), "pt-%s", pt_inputs[i].name);
	cu_scratch_path(path, size, name);
}

/* ------------------------------------------------------------------ */
/* Good inputs                                                         */

START_TEST(test_good)
{
	struct pt_verdict v = { "", 0 };
	const unsigned char *want;
	size_t want_len;
	char path[256];

	want = pt_want((size_t)_i, &want_len);
	pt_path((size_t)_i, path, sizeof(path));
	pt_compare(path, want, want_len, NULL, -1, &v);
	pt_decide(pt_inputs[_i].name, "good", &v);
}
END_TEST

static uint64_t pt_next(uint64_t *x)
{
	/* xorshift64* */
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dull;
}

/* PARITY_SEED in the environment replays a failure's offsets. */
static uint64_t pt_seed(size_t i)
{
	const char *env = getenv("PARITY_SEED");

	if (env && *env)
		return strtoull(env, NULL, 0);
	return 0x5eed0000ull + i;
}

START_TEST(test_random)
{
	struct bmap_ra_opts opts = { .threads = PT_THREADS };
	struct pt_verdict v = { "", 0 };
	struct bmap_err err = { "" };
	static unsigned char buf[2u << 20];
	const unsigned char *want;
	size_t want_len;
	uint64_t seed = pt_seed((size_t)_i), x = seed ? seed : 1;
	struct bmap_ra *ra;
	char path[256];
	int k, ret;

	want = pt_want((size_t)_i, &want_len);
	pt_path((size_t)_i, path, sizeof(path));
	ret = bmap_ra_open(&ra, path, &opts, &err);
	if (ret < 0) {
		pt_fail(&v, "open: %d %s", ret, err.msg);
		pt_decide(pt_inputs[_i].name, "random", &v);
		return;
	}
	for (k = 0; k < PT_RANDOM && !v.len; k++) {
		/* Now and then past the end, and reads of every size up
		 * to two chunks. */
		uint64_t off = pt_next(&x) % (want_len + 1000);
		size_t len = 1 + (size_t)(pt_next(&x) % sizeof(buf));
		size_t expect = off >= want_len ? 0 :
				want_len - off < len ? want_len - off : len;
		ssize_t n = bmap_ra_pread(ra, buf, len, off, &err);

		if (n != (ssize_t)expect)
			pt_fail(&v, "read %zu at %llu: %zd, want %zu (%s)",
				len, (unsigned long long)off, n, expect,
				n < 0 ? err.msg : "");
		else if (memcmp(buf, want + off, expect))
			pt_fail(&v, "read %zu at %llu: wrong bytes", len,
				(unsigned long long)off);
	}
	bmap_ra_close(ra);
	if (v.len)
		pt_fail(&v, "seed %llu (PARITY_SEED=%llu replays it)",
			(unsigned long long)seed, (unsigned long long)seed);
	pt_decide(pt_inputs[_i].name, "random", &v);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Through a pipe                                                      */

struct pt_feed {
	int fd;
	const unsigned char *buf;
	size_t len;
};

/* Write it all (or until the reader is gone), then close. */
static void *pt_feeder(void *arg)
{
	struct pt_feed *f = arg;
	size_t done = 0;

	while (done < f->len) {
		ssize_t n = write(f->fd, f->buf + done, f->len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	close(f->fd);
	return NULL;
}

START_TEST(test_pipe)
{
	struct pt_verdict v = { "", 0 };
	struct pt_feed feed;
	struct pt_run s;
	const unsigned char *want;
	size_t want_len;
	char path[64], desc[BMAP_ERR_MAX + 128];
	pthread_t t;
	int fds[2];

	/* The feeder finds the reader gone when a read fails early. */
	signal(SIGPIPE, SIG_IGN);
	want = pt_want((size_t)_i, &want_len);
	ck_assert_int_eq(pipe(fds), 0);
	feed.fd = fds[1];
	feed.buf = pt_bytes[_i];
	feed.len = pt_len[_i];
	ck_assert_int_eq(pthread_create(&t, NULL, pt_feeder, &feed), 0);
	snprintf(path, sizeof(path), "/dev/fd/%d", fds[0]);
	pt_source(path, want_len + PT_READ, &s);
	close(fds[0]);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	pt_check_run(&s, want, want_len, true, &v);
	pt_describe(&s, desc, sizeof(desc));
	if (s.ret)
		pt_fail(&v, "%s", desc);
	pt_run_free(&s);
	pt_decide(pt_inputs[_i].name, "pipe", &v);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Damaged inputs                                                      */

/* Bytes of the first header of a compressed input (what the format's
 * first frame, member or file starts with before any data). */
static size_t pt_header_len(const char *codec, const unsigned char *p,
			    size_t len)
{
	size_t n;

	ck_assert_uint_gt(len, 64);
	if (!strcmp(codec, "gzip")) {
		n = 10;
		if (p[3] & 0x04)		/* FEXTRA */
			n += 2 + (p[n] | (size_t)p[n + 1] << 8);
		if (p[3] & 0x08)		/* FNAME */
			n += strnlen((const char *)p + n, len - n) + 1;
		if (p[3] & 0x10)		/* FCOMMENT */
			n += strnlen((const char *)p + n, len - n) + 1;
		return n + (p[3] & 0x02 ? 2 : 0);	/* FHCRC */
	}
	if (!strcmp(codec, "bzip2"))
		/* "BZh1" and the first block's magic and CRC: with less,
		 * nothing tells it from a plain image of a few bytes. */
		return 4 + 6 + 4;
	if (!strcmp(codec, "xz"))
		return 12;			/* the stream header */
	if (!strcmp(codec, "zstd")) {
		static const size_t did[] = { 0, 1, 2, 4 };
		unsigned fhd = p[4];
		bool single = fhd & 0x20;
		size_t fcs = fhd >> 6 == 0 ? single : 1u << (fhd >> 6);

		return 5 + !single + did[fhd & 3] + fcs;
	}
	if (!strcmp(codec, "lz4"))		/* magic, FLG, BD, ..., HC */
		return 7 + (p[4] & 0x08 ? 8 : 0) + (p[4] & 0x01 ? 4 : 0);
	/* lzop: magic, versions, method, level, flags, (filter), mode,
	 * mtime, the name's length and name, the checksum */
	n = 9 + 6 + 2 + 4 + ((p[15 + 4] & 0x08) ? 4 : 0) + 12;
	return n + 1 + p[n] + 4;
}

/* Input i, damaged as d, into scratch file path. */
static void pt_make_damaged(size_t i, enum pt_damage d, char *path,
			    size_t size)
{
	const unsigned char *b = pt_bytes[i];
	size_t len = pt_len[i], h = pt_header_len(pt_inputs[i].codec, b, len);
	unsigned char *copy = malloc(len);
	char name[96];
	size_t at = 0, k;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, b, len);
	switch (d) {
	case PT_CUT_HEADER:
		len = h;
		break;
	case PT_CUT_25:
	case PT_CUT_50:
	case PT_CUT_90:
		len = len / 100 * (d == PT_CUT_25 ? 25 : d == PT_CUT_50 ?
				   50 : 90);
		break;
	case PT_CUT_LAST:
		len--;
		break;
	case PT_FLIP_HEADER:
		/* Flags, sizes or a checksum of the header, its top bit
		 * (lz4: a reserved bit of the block descriptor, which
		 * libarchive then does not take for lz4; gzip: a field no
		 * one checks). */
		at = h - 2;
		break;
	case PT_FLIP_EARLY:
		/* In the data, not in the header's free fields (a
		 * timestamp no one checks). */
		at = h + 40;
		break;
	case PT_FLIP_MIDDLE:
		at = len / 2;
		break;
	case PT_FLIP_TRAILER:
		at = len - 3;
		break;
	case PT_GARBAGE_AFTER:
	case PT_ZEROS_AFTER:
	case PT_NDAMAGES:
		break;
	}
	if (d == PT_FLIP_HEADER)
		copy[at] ^= 0x80;
	else if (d >= PT_FLIP_EARLY && d <= PT_FLIP_TRAILER)
		copy[at] ^= 0x10;
	snprintf(name, sizeof(name), "pt-%s-%s", pt_inputs[i].name,
		 pt_damage_names[d]);
	cu_write_scratch(name, copy, len, "wb");
	if (d == PT_GARBAGE_AFTER)
		for (k = 0; k < PT_GARBAGE_COUNT; k++)
			cu_write_scratch(name, PT_GARBAGE,
					 strlen(PT_GARBAGE), "ab");
	if (d == PT_ZEROS_AFTER) {
		unsigned char zeros[PT_ZEROS] = { 0 };

		cu_write_scratch(name, zeros, sizeof(zeros), "ab");
	}
	cu_scratch_path(path, size, name);
	free(copy);
}

/* The damaged inputs: pt_inputs with a codec, in order. */
static size_t pt_damaged_input(size_t nth)
{
	size_t i;

	for (i = 0; i < PT_NINPUTS; i++)
		if (pt_inputs[i].codec && nth-- == 0)
			return i;
	ck_abort_msg("no damaged input %zu", nth);
	return 0;
}

static int pt_ndamaged(void)
{
	size_t i;
	int n = 0;

	for (i = 0; i < PT_NINPUTS; i++)
		n += pt_inputs[i].codec != NULL;
	return n;
}

START_TEST(test_damaged)
{
	size_t i = pt_damaged_input((size_t)_i / PT_NDAMAGES);
	enum pt_damage d = (enum pt_damage)(_i % PT_NDAMAGES);
	struct pt_verdict v = { "", 0 };
	char path[256];

	pt_make_damaged(i, d, path, sizeof(path));
	pt_compare(path, pt_image, PT_SIZE, pt_inputs[i].codec, (int)d, &v);
	unlink(path);
	pt_decide(pt_inputs[i].name, pt_damage_names[d], &v);
}
END_TEST

/* The known list names real cases, of the four codecs being rewritten
 * (lz4, lzop and the archives are held to the rule now). */
START_TEST(test_known_list)
{
	static const char *const rewritten[] = { "gzip", "bzip2", "xz",
						 "zstd" };
	size_t k, i, c;
	int d;

	for (k = 0; parity_known[k].input; k++) {
		bool found = false;

		for (i = 0; i < PT_NINPUTS; i++)
			if (!strcmp(parity_known[k].input, pt_inputs[i].name))
				break;
		ck_assert_msg(i < PT_NINPUTS, "parity_known: no input %s",
			      parity_known[k].input);
		for (c = 0; c < 4 && pt_inputs[i].codec; c++)
			if (!strcmp(pt_inputs[i].codec, rewritten[c]))
				break;
		ck_assert_msg(pt_inputs[i].codec && c < 4, "parity_known: %s "
			      "is not gzip, bzip2, xz or zstd: fix it instead",
			      parity_known[k].input);
		found = !strcmp(parity_known[k].what, "good") ||
			!strcmp(parity_known[k].what, "pipe") ||
			!strcmp(parity_known[k].what, "random");
		for (d = 0; d < PT_NDAMAGES && pt_inputs[i].codec; d++)
			found = found || !strcmp(parity_known[k].what,
						 pt_damage_names[d]);
		ck_assert_msg(found, "parity_known: no case %s %s",
			      parity_known[k].input, parity_known[k].what);
	}
}
END_TEST

Suite *parity_suite(void)
{
	Suite *s = suite_create("parity");
	TCase *tc = tcase_create("parity");

	tcase_add_unchecked_fixture(tc, pt_setup, pt_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_known_list);
	tcase_add_loop_test(tc, test_good, 0, (int)PT_NINPUTS);
	tcase_add_loop_test(tc, test_random, 0, (int)PT_NINPUTS);
	tcase_add_loop_test(tc, test_pipe, 0, (int)PT_NINPUTS);
	tcase_add_loop_test(tc, test_damaged, 0,
			    pt_ndamaged() * PT_NDAMAGES);
	suite_add_tcase(s, tc);
	return s;
}
