/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check-ra-zstd.c - seek points in zstd files: pieces of data compressed
 * by the zstd program one frame each, concatenated (with a skippable frame
 * among them), with or without their sizes in the frame headers, or with a
 * seek table at the end; read back through cursors opened all over.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check-suites.h"
#include "check-util.h"
#include "codec/codec.h"
#include "codec/seekidx.h"
#include "base/strbuf.h"

#define ZT_SIZE (6u * 1024 * 1024 + 12345)
#define ZT_PIECE (1024 * 1024)
#define ZT_NPIECES ((ZT_SIZE + ZT_PIECE - 1) / ZT_PIECE)

static unsigned char *zt_data;

static unsigned char *zt_slurp(const char *name, uint64_t *len)
{
	int fd = cu_open_scratch(name, len);
	unsigned char *buf = malloc(*len + 1);

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(pread(fd, buf, *len, 0), (ssize_t)*len);
	close(fd);
	return buf;
}

static void zt_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* The seek table of the pieces whose frames are in nsN.zst, appended to
 * st.zst; dsize of frame `bad` one byte off. */
static void zt_seek_table(const char *name, const uint32_t *csize, int bad)
{
	unsigned char t[8 + ZT_NPIECES * 8 + 9];
	size_t i;

	zt_le32(t, 0x184D2A5E);
	zt_le32(t + 4, sizeof(t) - 8);
	for (i = 0; i < ZT_NPIECES; i++) {
		uint32_t d = i + 1 < ZT_NPIECES ? ZT_PIECE :
			     ZT_SIZE - i * ZT_PIECE;

		zt_le32(t + 8 + i * 8, csize[i]);
		zt_le32(t + 12 + i * 8, d + ((int)i == bad));
	}
	zt_le32(t + sizeof(t) - 9, ZT_NPIECES);
	t[sizeof(t) - 5] = 0;
	zt_le32(t + sizeof(t) - 4, 0x8F92EAB1);
	cu_write_scratch(name, t, sizeof(t), "ab");
}

/* cs.zst: one frame per piece, sizes in their headers, a skippable frame
 * after the second; ns.zst: the same without sizes (zstd reading a pipe);
 * st.zst and badst.zst: ns.zst with a seek table (a wrong one); sk.zst:
 * cs.zst after a skippable frame; one.zst: a single frame; plain: not
 * zstd. */
static void zt_setup(void)
{
	static const unsigned char skip[13] = {
		0x53, 0x2a, 0x4d, 0x18, 5, 0, 0, 0, 1, 2, 3, 4, 5
	};
	uint32_t csize[ZT_NPIECES];
	char name[32];
	size_t i;

	zt_data = malloc(ZT_SIZE);
	ck_assert_ptr_nonnull(zt_data);
	cu_fill_runs(zt_data, ZT_SIZE, 4321);
	cu_write_scratch("plain", zt_data, 4096, "wb");
	cu_write_scratch("cs.zst", "", 0, "wb");
	cu_write_scratch("ns.zst", "", 0, "wb");
	for (i = 0; i < ZT_NPIECES; i++) {
		size_t len = i + 1 < ZT_NPIECES ? ZT_PIECE :
			     ZT_SIZE - i * ZT_PIECE;
		uint64_t n;

		snprintf(name, sizeof(name), "p%zu", i);
		cu_write_scratch(name, zt_data + i * ZT_PIECE, len, "wb");
		cu_run_scratch("zstd -q -1 -c", name, ">>", "cs.zst");
		if (i == 1)
			cu_write_scratch("cs.zst", skip, sizeof(skip), "ab");
		cu_run_scratch("zstd -q -1 -c <", name, "> ", "ns-one.zst");
		close(cu_open_scratch("ns-one.zst", &n));
		csize[i] = (uint32_t)n;
		cu_run_scratch("cat", "ns-one.zst", ">>", "ns.zst");
	}
	cu_run_scratch("cp", "ns.zst", "", "st.zst");
	zt_seek_table("st.zst", csize, -1);
	cu_run_scratch("cp", "ns.zst", "", "badst.zst");
	zt_seek_table("badst.zst", csize, 3);
	cu_run_scratch("zstd -q -1 -c", "p0", ">", "one.zst");
	cu_write_scratch("sk.zst", skip, sizeof(skip), "wb");
	cu_run_scratch("cat", "cs.zst", ">>", "sk.zst");
}

static void zt_teardown(void)
{
	free(zt_data);
	zt_data = NULL;
}

static void *zt_fmt(const char *name, int *fd)
{
	struct bmap_err err = { "" };
	void *fmt = NULL;
	uint64_t size;
	int r;

	*fd = cu_open_scratch(name, &size);
	r = zstd_seek_ops.open(*fd, size, 2, &fmt, &err);
	ck_assert_msg(r == 0, "open %s: %d %s", name, r, err.msg);
	return fmt;
}

static void zt_check_all(void *fmt)
{
	static const uint64_t offs[] = {
		0, 1, ZT_PIECE - 1, ZT_PIECE, ZT_PIECE + 1, 2 * ZT_PIECE - 1,
		2 * ZT_PIECE, 2 * ZT_PIECE + 1, ZT_SIZE / 2, ZT_SIZE - 4096,
		ZT_SIZE - 1, ZT_SIZE, ZT_SIZE + 100,
	};
	size_t i;

	ck_assert_uint_eq(zstd_seek_ops.size(fmt), ZT_SIZE);
	/* Every frame's start is a seek point. */
	for (i = 0; i < ZT_NPIECES; i++)
		ck_assert_uint_eq(zstd_seek_ops.point(fmt, i * ZT_PIECE + 7),
				  i * ZT_PIECE);
	ck_assert_uint_eq(zstd_seek_ops.point(fmt, ZT_SIZE + 9),
			  (ZT_NPIECES - 1) * ZT_PIECE);
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		cu_ra_check_at(&zstd_seek_ops, fmt,
			       zt_data, ZT_SIZE, offs[i], 70000);
	cu_ra_check_at(&zstd_seek_ops, fmt, zt_data, ZT_SIZE, 0, ZT_SIZE);
}

START_TEST(test_sizes_in_headers)
{
	int fd;
	void *fmt = zt_fmt("cs.zst", &fd);

	zt_check_all(fmt);
	zstd_seek_ops.close(fmt);
	close(fd);
	/* A skippable frame first (as pzstd writes) is skipped too. */
	fmt = zt_fmt("sk.zst", &fd);
	ck_assert_uint_eq(zstd_seek_ops.size(fmt), ZT_SIZE);
	cu_ra_check_at(&zstd_seek_ops, fmt, zt_data, ZT_SIZE, ZT_PIECE + 3, 1000);
	zstd_seek_ops.close(fmt);
	close(fd);
}
END_TEST


START_TEST(test_seek_table)
{
	struct bmap_err err = { "" };
	static unsigned char buf[65536];
	uint64_t start;
	ssize_t n;
	void *cur;
	int fd;
	/* The frames have no sizes: known at once, so from the table. */
	void *fmt = zt_fmt("st.zst", &fd);

	zt_check_all(fmt);
	zstd_seek_ops.close(fmt);
	close(fd);
	/* A table whose size for frame 3 is wrong: found decoding it. */
	fmt = zt_fmt("badst.zst", &fd);
	ck_assert_uint_eq(zstd_seek_ops.size(fmt), ZT_SIZE + 1);
	ck_assert_int_eq(zstd_seek_ops.cursor_open(fmt, 3 * ZT_PIECE + 5, &cur,
						 &start, &err), 0);
	ck_assert_uint_eq(start, 3 * ZT_PIECE);
	do
		n = zstd_seek_ops.cursor_read(cur, buf, sizeof(buf), &err);
	while (n > 0);
	ck_assert_int_eq(n, -EBADMSG);
	ck_assert_msg(strstr(err.msg, "corrupt zstd data"), "%s", err.msg);
	zstd_seek_ops.cursor_close(cur);
	zstd_seek_ops.close(fmt);
	close(fd);
}
END_TEST

/* Load text into a fresh fmt of ns.zst: its return. */
static int zt_load(const char *text, size_t len)
{
	struct bmap_err err = { "" };
	int fd, r;
	void *fmt = zt_fmt("ns.zst", &fd);

	r = zstd_seek_ops.load(fmt, text, len, &err);
	if (r < 0) {
		/* Refused, and nothing taken from it. */
		ck_assert_msg(strlen(err.msg) > 0, "no message");
		ck_assert_uint_eq(zstd_seek_ops.size(fmt), BMAP_SIZE_UNKNOWN);
		cu_ra_check_at(&zstd_seek_ops, fmt,
			       zt_data, ZT_SIZE, ZT_SIZE - 5, 100);
	}
	zstd_seek_ops.close(fmt);
	close(fd);
	return r;
}

/* saved rewritten through seekidx with one change: 0 a frame's size one
 * more (than its eight full blocks hold), 1 a size far over that, 2 a frame's offset, 3 one
 * frame less, 4 one frame more; -1 none. */
static void zt_saved(struct strbuf *out, const struct strbuf *saved,
		     int change)
{
	struct bmap_err err = { "" };
	struct seekidx_in in;
	struct seekidx_out o;
	uint64_t f[3], count, k = 0;
	const void *blob;
	uint32_t bl;

	ck_assert_int_eq(seekidx_open(&in, saved->buf, saved->len, "zstd", 3,
				      &err), 0);
	count = seekidx_count(&in);
	strbuf_init(out);
	seekidx_begin(&o, out, "zstd", 3);
	while (seekidx_next(&in, f, &blob, &bl) == 1) {
		if (k == 2 && change == 0)
			f[2]++;
		if (k == 2 && change == 1)
			f[2] = 1ull << 40;
		if (k == 2 && change == 2)
			f[0]++;
		if (k + 1 < count || change != 3)
			seekidx_put(&o, f, NULL, 0);
		if (k + 1 == count && change == 4)
			seekidx_put(&o, f, NULL, 0);
		k++;
	}
	ck_assert_int_eq(seekidx_end(&o), 0);
}

START_TEST(test_learn_save_load)
{
	struct bmap_err err = { "" };
	struct strbuf sb, sb2;
	char *bad;
	size_t i;
	int fd;
	void *fmt = zt_fmt("ns.zst", &fd);

	/* Nothing known but the first frame's start, until decoded. */
	ck_assert_uint_eq(zstd_seek_ops.size(fmt), BMAP_SIZE_UNKNOWN);
	ck_assert_uint_eq(zstd_seek_ops.point(fmt, ZT_SIZE / 2), 0);
	cu_ra_check_at(&zstd_seek_ops, fmt,
		       zt_data, ZT_SIZE, 3 * ZT_PIECE + 5, 100);
	ck_assert_uint_eq(zstd_seek_ops.point(fmt, ZT_SIZE / 2), 3 * ZT_PIECE);
	cu_ra_check_at(&zstd_seek_ops, fmt, zt_data, ZT_SIZE, ZT_SIZE - 1, 100);
	zt_check_all(fmt);
	strbuf_init(&sb);
	ck_assert_int_eq(zstd_seek_ops.save(fmt, &sb), 0);
	zstd_seek_ops.close(fmt);
	close(fd);

	/* A fresh open knows it all from what was saved. */
	fmt = zt_fmt("ns.zst", &fd);
	ck_assert_int_eq(zstd_seek_ops.load(fmt, sb.buf, sb.len, &err), 0);
	zt_check_all(fmt);
	strbuf_init(&sb2);
	ck_assert_int_eq(zstd_seek_ops.save(fmt, &sb2), 0);
	ck_assert_str_eq(sb.buf, sb2.buf);
	strbuf_free(&sb2);
	zstd_seek_ops.close(fmt);
	close(fd);

	/* Garbage, cut short, a damaged byte, the old text encoding, and
	 * well-formed lists that do not fit the file: refused. */
	ck_assert_int_eq(zt_load("garbage\n", 8), -EINVAL);
	ck_assert_int_eq(zt_load("", 0), -EINVAL);
	ck_assert_int_eq(zt_load(sb.buf, sb.len / 2), -EINVAL);
	ck_assert_int_eq(zt_load(sb.buf, sb.len - 1), -EINVAL);
	bad = malloc(sb.len);
	ck_assert_ptr_nonnull(bad);
	memcpy(bad, sb.buf, sb.len);
	bad[sb.len - 20] ^= 1;
	ck_assert_int_eq(zt_load(bad, sb.len), -EINVAL);
	free(bad);
	ck_assert_int_eq(zt_load("bmap-zstd-frames 1\nframes 7 0\n", 31),
			 -EINVAL);
	for (i = 0; i < 5; i++) {
		zt_saved(&sb2, &sb, (int)i);
		ck_assert_msg(zt_load(sb2.buf, sb2.len) == -EINVAL,
			      "change %zu was taken", i);
		strbuf_free(&sb2);
	}
	/* The same, rewritten unchanged: taken. */
	zt_saved(&sb2, &sb, -1);
	ck_assert_int_eq(zt_load(sb2.buf, sb2.len), 0);
	strbuf_free(&sb2);
	ck_assert_int_eq(zt_load(sb.buf, sb.len), 0);
	strbuf_free(&sb);
}
END_TEST

START_TEST(test_interleaved)
{
	struct bmap_err err = { "" };
	static unsigned char buf[65536];
	uint64_t sa, sb, pa, pb;
	void *a, *b;
	int fd;
	void *fmt = zt_fmt("cs.zst", &fd);

	ck_assert_int_eq(zstd_seek_ops.cursor_open(fmt, 5, &a, &sa, &err), 0);
	ck_assert_int_eq(zstd_seek_ops.cursor_open(fmt, ZT_SIZE - 10, &b, &sb,
						 &err), 0);
	ck_assert_uint_eq(sa, 0);
	ck_assert_uint_eq(sb, (ZT_NPIECES - 1) * ZT_PIECE);
	for (pa = sa, pb = sb; pa < ZT_SIZE; ) {
		size_t n = cu_ra_read(&zstd_seek_ops, a, buf, sizeof(buf));

		ck_assert_uint_gt(n, 0);
		ck_assert(memcmp(buf, zt_data + pa, n) == 0);
		pa += n;
		if (pb < ZT_SIZE) {
			n = cu_ra_read(&zstd_seek_ops, b, buf, 4096);
			ck_assert(memcmp(buf, zt_data + pb, n) == 0);
			pb += n;
		}
	}
	ck_assert_uint_eq(pb, ZT_SIZE);
	ck_assert_uint_eq(cu_ra_read(&zstd_seek_ops, a, buf, 10), 0);
	ck_assert_uint_eq(cu_ra_read(&zstd_seek_ops, b, buf, 10), 0);
	zstd_seek_ops.cursor_close(a);
	zstd_seek_ops.cursor_close(b);
	zstd_seek_ops.close(fmt);
	close(fd);
}
END_TEST

START_TEST(test_not_seekable)
{
	void *fmt = NULL;
	uint64_t size;
	int fd = open("/dev/null", O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(zstd_seek_ops.open(fd, 0, 1, &fmt, NULL), -ENOTSUP);
	close(fd);
	fd = cu_open_scratch("plain", &size);
	ck_assert_int_eq(zstd_seek_ops.open(fd, size, 1, &fmt, NULL), -ENOTSUP);
	close(fd);
}
END_TEST

/* One frame: served from its only seek point, 0 (not through another
 * decoder). */
START_TEST(test_one_frame)
{
	int fd;
	void *fmt = zt_fmt("one.zst", &fd);

	ck_assert_uint_eq(zstd_seek_ops.size(fmt), ZT_PIECE);
	ck_assert_uint_eq(zstd_seek_ops.point(fmt, ZT_PIECE - 1), 0);
	cu_ra_check_at(&zstd_seek_ops, fmt, zt_data, ZT_PIECE, ZT_PIECE / 2,
		       70000);
	cu_ra_check_at(&zstd_seek_ops, fmt, zt_data, ZT_PIECE, 0, ZT_PIECE);
	zstd_seek_ops.close(fmt);
	close(fd);
}
END_TEST

/* Decode the whole of name less its last cut bytes, with the byte at flip
 * (if not 0) changed: the first error from open or a read, or 0. */
static int zt_damaged(const char *name, uint64_t flip, uint64_t cut,
		      struct bmap_err *err)
{
	static unsigned char buf[65536];
	uint64_t len, start;
	unsigned char *data = zt_slurp(name, &len);
	void *fmt, *cur;
	ssize_t n;
	int fd, r;

	if (flip)
		data[flip] ^= 0x21;
	cu_write_scratch("damaged.zst", data, len - cut, "wb");
	free(data);
	fd = cu_open_scratch("damaged.zst", &len);
	r = zstd_seek_ops.open(fd, len, 1, &fmt, err);
	if (r == 0) {
		r = zstd_seek_ops.cursor_open(fmt, 0, &cur, &start, err);
		ck_assert_int_eq(r, 0);
		do
			n = zstd_seek_ops.cursor_read(cur, buf, sizeof(buf),
						    err);
		while (n > 0);
		r = (int)n;
		zstd_seek_ops.cursor_close(cur);
		zstd_seek_ops.close(fmt);
	}
	close(fd);
	return r;
}

START_TEST(test_corrupt)
{
	static const unsigned char skip[4] = { 0x53, 0x2a, 0x4d, 0x18 };
	static const unsigned char magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };
	struct bmap_err err = { "" };
	uint64_t len, off, skip_off;
	unsigned char *data = zt_slurp("cs.zst", &len);

	skip_off = (uint64_t)((unsigned char *)memmem(data, len, skip, 4) -
			      data);
	/* Bytes all over: every change is found, by open or decoding. But
	 * for what a skippable frame skips, and a frame's window size (a
	 * larger one than needed goes unnoticed by zstd too). */
	for (off = 4; off < len; off += len / 97) {
		int r;

		if ((off >= skip_off + 8 && off < skip_off + 13) ||
		    (off >= 5 && memcmp(data + off - 5, magic, 4) == 0))
			continue;
		r = zt_damaged("cs.zst", off, 0, &err);

		ck_assert_msg(r == -EBADMSG, "flip at %llu: %d",
			      (unsigned long long)off, r);
		ck_assert_msg(strstr(err.msg, "zstd"), "%s", err.msg);
	}
	free(data);
	/* Cut short, in a frame (its data or its checksum) or in the seek
	 * table: the frames before it read, then -EIO. */
	ck_assert_int_eq(zt_damaged("cs.zst", 0, len / 2, &err), -EIO);
	ck_assert_msg(strstr(err.msg, "truncated zstd data"), "%s", err.msg);
	ck_assert_int_eq(zt_damaged("cs.zst", 0, 1, &err), -EIO);
	ck_assert_int_eq(zt_damaged("st.zst", 0, 3, &err), -EIO);
	ck_assert_int_eq(zt_damaged("ns.zst", 0, len / 3, &err), -EIO);
}
END_TEST

/* A frame start dropped: cursors start at the frame before, the data are
 * right; the point at 0 is never dropped. */
START_TEST(test_drop_point)
{
	uint64_t off = 2 * ZT_PIECE + 7;
	int fd;
	void *fmt = zt_fmt("cs.zst", &fd);

	ck_assert_uint_eq(zstd_seek_ops.point(fmt, off), 2 * ZT_PIECE);
	zstd_seek_ops.drop_point(fmt, 2 * ZT_PIECE);
	ck_assert_uint_eq(zstd_seek_ops.point(fmt, off), ZT_PIECE);
	cu_ra_check_at(&zstd_seek_ops, fmt, zt_data, ZT_SIZE, off, 70000);
	zstd_seek_ops.drop_point(fmt, ZT_PIECE);
	zstd_seek_ops.drop_point(fmt, 0);
	ck_assert_uint_eq(zstd_seek_ops.point(fmt, off), 0);
	cu_ra_check_at(&zstd_seek_ops, fmt, zt_data, ZT_SIZE, off, 70000);
	ck_assert_uint_eq(zstd_seek_ops.point(fmt, 3 * ZT_PIECE + 7),
			  3 * ZT_PIECE);
	zstd_seek_ops.close(fmt);
	close(fd);
}
END_TEST

/* Cut in the middle, frames with their sizes in their headers and
 * without: the engine opens it with the frames before the cut as seek
 * points, reads right before the cut, EIO after it. */
START_TEST(test_truncated)
{
	uint64_t len;
	unsigned char *data;

	data = zt_slurp("cs.zst", &len);
	cu_write_scratch("cut.zst", data, len / 2, "wb");
	free(data);
	cu_ra_check_cut("cut.zst", "zstd -qdc", zt_data, ZT_SIZE,
			"zstd, seekable", "truncated zstd data");
	data = zt_slurp("ns.zst", &len);
	cu_write_scratch("cut.zst", data, len * 2 / 3, "wb");
	free(data);
	cu_ra_check_cut("cut.zst", "zstd -qdc", zt_data, ZT_SIZE,
			"zstd, seekable", "truncated zstd data");
}
END_TEST

/* ------------------------------------------------------------------ */
/* bmapcopy's side (bmap_source) and bmapfs's (the SEEK decoder, and the
 * engine over it) on the same damaged file: the same bytes, the same
 * error, the same message. */

struct zt_res {
	int ret;		/* 0, or the first error */
	uint64_t bytes;		/* decoded before it */
	uint64_t hash;		/* of those bytes */
	char msg[BMAP_ERR_MAX];
};

static void zt_take(struct zt_res *r, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		r->hash = (r->hash ^ p[i]) * 0x100000001b3ull;
	r->bytes += n;
}

static void zt_res_init(struct zt_res *r)
{
	memset(r, 0, sizeof(*r));
	r->hash = 0xcbf29ce484222325ull;
}

/* Through bmap_source, from path (a file, or a pipe's /proc path). */
static void zt_by_stream(const char *path, struct zt_res *r)
{
	static unsigned char buf[1 << 20];
	struct bmap_err err = { "" };
	struct bmap_source *src;
	ssize_t n;

	zt_res_init(r);
	ck_assert_msg(bmap_source_open(&src, path, 1, &err) == 0, "%s",
		      err.msg);
	ck_assert_str_eq(bmap_source_format(src), "zstd");
	while ((n = bmap_source_read(src, buf, sizeof(buf), &err)) > 0)
		zt_take(r, buf, (size_t)n);
	r->ret = (int)n;
	if (n < 0)
		snprintf(r->msg, sizeof(r->msg), "%s", err.msg);
	bmap_source_close(src);
}

/* The same file read from a pipe. */
static void zt_by_pipe(const char *path, struct zt_res *r)
{
	char cmd[600], proc[64];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "cat '%s'", path);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fileno(f));
	zt_by_stream(proc, r);
	pclose(f);
}

/* Through one SEEK cursor from 0. */
static void zt_by_seek(const char *path, struct zt_res *r)
{
	static unsigned char buf[65536];
	struct bmap_err err = { "" };
	uint64_t size, start;
	void *fmt, *cur;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	zt_res_init(r);
	ck_assert_int_ge(fd, 0);
	size = (uint64_t)lseek(fd, 0, SEEK_END);
	ck_assert_msg(zstd_seek_ops.open(fd, size, 1, &fmt, &err) == 0,
		      "%s", err.msg);
	ck_assert_int_eq(zstd_seek_ops.cursor_open(fmt, 0, &cur, &start, &err),
			 0);
	while ((n = zstd_seek_ops.cursor_read(cur, buf, sizeof(buf),
					      &err)) > 0)
		zt_take(r, buf, (size_t)n);
	r->ret = (int)n;
	if (n < 0)
		snprintf(r->msg, sizeof(r->msg), "%s", err.msg);
	/* A failed cursor keeps failing. */
	if (n < 0)
		ck_assert_int_eq(zstd_seek_ops.cursor_read(cur, buf, 10, &err),
				 n);
	zstd_seek_ops.cursor_close(cur);
	zstd_seek_ops.close(fmt);
	close(fd);
}

/* Through the engine, as bmapfs reads: 1 MiB at a time from 0. */
static void zt_by_engine(const char *path, struct zt_res *r)
{
	static unsigned char buf[1 << 20];
	struct bmap_ra_opts opts = { .threads = 2 };
	struct bmap_err err = { "" };
	struct bmap_ra *ra;
	ssize_t n;

	zt_res_init(r);
	r->ret = bmap_ra_open(&ra, path, &opts, &err);
	if (r->ret < 0) {
		snprintf(r->msg, sizeof(r->msg), "%s", err.msg);
		return;
	}
	while ((n = bmap_ra_pread(ra, buf, sizeof(buf), r->bytes, &err)) > 0)
		zt_take(r, buf, (size_t)n);
	r->ret = (int)n;
	if (n < 0)
		snprintf(r->msg, sizeof(r->msg), "%s", err.msg);
	bmap_ra_close(ra);
}

/* data (len bytes) written as name: every side gives want (an errno,
 * or 0) with a message starting with msg, and the same bytes. */
static void zt_parity(const char *what, const void *data, size_t len,
		      int want, const char *msg)
{
	struct zt_res st, pi, sk, en;
	char path[512];

	cu_write_scratch("parity.zst", data, len, "wb");
	cu_scratch_path(path, sizeof(path), "parity.zst");
	zt_by_stream(path, &st);
	zt_by_pipe(path, &pi);
	zt_by_seek(path, &sk);
	zt_by_engine(path, &en);
	ck_assert_msg(st.ret == want && !strncmp(st.msg, msg, strlen(msg)),
		      "%s: bmap_source gave %d '%s'", what, st.ret, st.msg);
	ck_assert_msg(pi.ret == st.ret && !strcmp(pi.msg, st.msg) &&
		      pi.bytes == st.bytes && pi.hash == st.hash,
		      "%s: from a pipe %d '%s' %llu bytes, from the file %d "
		      "'%s' %llu bytes", what, pi.ret, pi.msg,
		      (unsigned long long)pi.bytes, st.ret, st.msg,
		      (unsigned long long)st.bytes);
	ck_assert_msg(sk.ret == st.ret && !strcmp(sk.msg, st.msg) &&
		      sk.bytes == st.bytes && sk.hash == st.hash,
		      "%s: SEEK %d '%s' %llu bytes, STREAM %d '%s' %llu bytes",
		      what, sk.ret, sk.msg, (unsigned long long)sk.bytes,
		      st.ret, st.msg, (unsigned long long)st.bytes);
	ck_assert_msg(en.ret == st.ret && strstr(en.msg, st.msg) &&
		      en.bytes <= st.bytes,
		      "%s: engine %d '%s' %llu bytes, STREAM %d '%s' %llu "
		      "bytes", what, en.ret, en.msg,
		      (unsigned long long)en.bytes, st.ret, st.msg,
		      (unsigned long long)st.bytes);
	if (want == 0)
		ck_assert_uint_eq(en.bytes, st.bytes);
}

START_TEST(test_parity)
{
	static const unsigned char magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };
	char msg[128];
	uint64_t len, one_len, second;
	unsigned char *data = zt_slurp("cs.zst", &len);
	unsigned char *one = zt_slurp("one.zst", &one_len);
	unsigned char *big = calloc(1, len + 8192);

	ck_assert_ptr_nonnull(big);
	second = (uint64_t)((unsigned char *)memmem(data + 4, len - 4, magic,
						    4) - data);
	zt_parity("whole", data, len, 0, "");
	zt_parity("one frame", one, one_len, 0, "");
	zt_parity("cut in the middle", data, len / 2, -EIO,
		  "truncated zstd data");
	zt_parity("cut in the last checksum", data, len - 1, -EIO,
		  "truncated zstd data");
	zt_parity("cut in the first frame", data, len / 20, -EIO,
		  "truncated zstd data");
	zt_parity("cut in a frame header", data, second + 6, -EIO,
		  "truncated zstd data");
	zt_parity("cut in a frame's magic", data, second + 2, -EIO,
		  "truncated zstd data");
	zt_parity("one frame cut", one, one_len / 2, -EIO,
		  "truncated zstd data");

	memcpy(big, data, len);
	big[len / 2] ^= 0x21;
	zt_parity("a flipped byte", big, len, -EBADMSG, "corrupt zstd data: ");
	big[len / 2] ^= 0x21;
	big[second + 4] ^= 0x21;
	zt_parity("a flipped frame header", big, len, -EBADMSG,
		  "corrupt zstd data: ");
	big[second + 4] ^= 0x21;

	/* After the last frame: zeros are padding; anything else, before
	 * or after them, is garbage; a magic's first bytes a cut. */
	zt_parity("zero padding", big, len + 4096, 0, "");
	snprintf(msg, sizeof(msg), "corrupt zstd data: trailing garbage at "
		 "offset %llu", (unsigned long long)len);
	big[len] = 'x';
	zt_parity("trailing garbage", big, len + 1, -EBADMSG, msg);
	big[len] = 0;
	big[len + 4096] = 'x';
	zt_parity("zeros, then garbage", big, len + 4097, -EBADMSG, msg);
	big[len + 4096] = 0;
	memcpy(big + len, magic, 2);
	zt_parity("a magic's first bytes", big, len + 2, -EIO,
		  "truncated zstd data");
	free(big);
	free(one);
	free(data);
}
END_TEST

/* A file with a skippable frame first (as pzstd writes) is recognised
 * as zstd by bmapcopy too, and read whole. */
START_TEST(test_skippable_first)
{
	struct zt_res r;
	char path[512];

	cu_scratch_path(path, sizeof(path), "sk.zst");
	zt_by_stream(path, &r);
	ck_assert_int_eq(r.ret, 0);
	ck_assert_uint_eq(r.bytes, ZT_SIZE);
}
END_TEST

Suite *ra_zstd_suite(void)
{
	Suite *s = suite_create("ra-zstd");
	TCase *tc = tcase_create("zstd");

	tcase_add_unchecked_fixture(tc, zt_setup, zt_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_sizes_in_headers);
	tcase_add_test(tc, test_seek_table);
	tcase_add_test(tc, test_learn_save_load);
	tcase_add_test(tc, test_interleaved);
	tcase_add_test(tc, test_not_seekable);
	tcase_add_test(tc, test_one_frame);
	tcase_add_test(tc, test_corrupt);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_drop_point);
	tcase_add_test(tc, test_parity);
	tcase_add_test(tc, test_skippable_first);
	suite_add_tcase(s, tc);
	return s;
}
