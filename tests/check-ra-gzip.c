/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check-ra-gzip.c - seek points in gzip files: data made here, compressed
 * by the real gzip and pigz, read back through cursors at many offsets.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "check-suites.h"
#include "check-util.h"
#include "codec/ra-gzip.h"

#define DATA_LEN (14u << 20)	/* several 4 MiB spans */
#define MAX_POINTS 64

static unsigned char *data;	/* the image every file here holds */
/* Where the members of multi.gz start: the first holds a block point. */
static const size_t member_at[] = { 0, 7u << 20, 9u << 20, 11u << 20,
				    DATA_LEN };

/* Byte i of a run of this kind, x a fresh pseudo-random number. */
static unsigned char gen_byte(size_t kind, uint64_t x, size_t i)
{
	switch (kind) {
	case 0:
		return 0;
	case 1:
		return (unsigned char)(x % 97);
	case 2:
		return (unsigned char)('a' + x % 5);
	case 3:
		return (unsigned char)(i % 251);
	default:
		return (unsigned char)x;
	}
}

/* Pseudo-random runs of zeros, noise, small-alphabet text and a repeating
 * pattern, so deflate makes stored, fixed and dynamic blocks. */
static void make_data(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t off = 0;

	data = malloc(DATA_LEN);
	ck_assert_ptr_nonnull(data);
	while (off < DATA_LEN) {
		size_t len, kind, i;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		len = 1024 + (size_t)(x % (300 * 1024));
		kind = (size_t)(x >> 40) % 5;
		if (kind == 4)	/* noise, for a few stored blocks */
			len /= 4;
		if (len > DATA_LEN - off)
			len = DATA_LEN - off;
		for (i = 0; i < len; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			data[off + i] = gen_byte(kind, x, i);
		}
		off += len;
	}
}

/* "cmd < in > out" (or ">>" when append) in the scratch folder. */
static void run(const char *cmd, const char *in, const char *out, bool append)
{
	char pin[256], pout[256], line[700];

	cu_scratch_path(pin, sizeof(pin), in);
	cu_scratch_path(pout, sizeof(pout), out);
	snprintf(line, sizeof(line), "%s < '%s' %s '%s'", cmd, pin,
		 append ? ">>" : ">", pout);
	ck_assert_int_eq(system(line), 0);
}

static char *slurp(const char *name, size_t *len)
{
	char path[256];
	char *buf;

	cu_scratch_path(path, sizeof(path), name);
	buf = cu_read_file(path, len);
	ck_assert_ptr_nonnull(buf);
	return buf;
}

/*
 * A member whose header has every optional field (FEXTRA, FNAME,
 * FCOMMENT, FHCRC): gzip -n output with its 10-byte header replaced.
 */
static void append_fancy_member(const char *src, const char *out)
{
	static const unsigned char extra[] = { 6, 0, 'A', 'b', 2, 0, 'x', 'y' };
	unsigned char head[64];
	size_t n = 0, len;
	char *gz;
	uLong crc;
	FILE *fp;
	char path[256];

	run("gzip -n -6 -c", src, "fancy.tmp", false);
	gz = slurp("fancy.tmp", &len);
	memcpy(head, gz, 10);
	head[3] = 0x02 | 0x04 | 0x08 | 0x10;
	n = 10;
	memcpy(head + n, extra, sizeof(extra)), n += sizeof(extra);
	memcpy(head + n, "name.img", 9), n += 9;
	memcpy(head + n, "a comment", 10), n += 10;
	crc = crc32(0, head, (uInt)n);
	head[n++] = (unsigned char)crc;
	head[n++] = (unsigned char)(crc >> 8);
	cu_scratch_path(path, sizeof(path), out);
	fp = fopen(path, "ab");
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(head, 1, n, fp), n);
	ck_assert_uint_eq(fwrite(gz + 10, 1, len - 10, fp), len - 10);
	ck_assert_int_eq(fclose(fp), 0);
	free(gz);
}

/* Made once for the whole suite (the tests run in child processes). */
static void setup(void)
{
	make_data();
	cu_write_scratch("plain", data, DATA_LEN, "wb");
	run("gzip -n -6 -c", "plain", "one.gz", false);
	/* Members: gzip, an empty one, gzip -1, pigz, all header fields. */
	for (int i = 0; i < 4; i++) {
		char name[8];

		snprintf(name, sizeof(name), "p%d", i);
		cu_write_scratch(name, data + member_at[i],
			   member_at[i + 1] - member_at[i], "wb");
	}
	cu_write_scratch("empty", "", 0, "wb");
	run("gzip -n -6 -c", "p0", "multi.gz", false);
	run("gzip -n -c", "empty", "multi.gz", true);
	run("gzip -1 -c", "p1", "multi.gz", true);
	run("pigz -6 -c", "p2", "multi.gz", true);
	append_fancy_member("p3", "multi.gz");
}

static void teardown(void)
{
	free(data);
	data = NULL;
}

struct gzf {
	int fd;
	void *fmt;
	char *raw;		/* the compressed file */
	size_t raw_len;
};

static int gzf_open_raw(struct gzf *g, const void *raw, size_t len,
			struct bmap_err *err)
{
	char path[256];

	cu_write_scratch("work.gz", raw, len, "wb");
	cu_scratch_path(path, sizeof(path), "work.gz");
	g->fd = open(path, O_RDONLY);
	ck_assert_int_ge(g->fd, 0);
	g->fmt = NULL;
	return ra_gzip_ops.open(g->fd, len, 1, &g->fmt, err);
}

static void gzf_open(struct gzf *g, const char *name)
{
	struct bmap_err err = { "" };

	g->raw = slurp(name, &g->raw_len);
	ck_assert_msg(gzf_open_raw(g, g->raw, g->raw_len, &err) == 0,
		      "open: %s", err.msg);
}

static void gzf_close(struct gzf *g)
{
	if (g->fmt)
		ra_gzip_ops.close(g->fmt);
	close(g->fd);
	free(g->raw);
}

/* Read up to len bytes at off into buf as the engine would: a cursor at
 * point(off), skipping to off. Returns the bytes read or -errno. */
static ssize_t read_at(void *fmt, uint64_t off, void *buf, size_t len,
		       struct bmap_err *err)
{
	static unsigned char skip[65536];
	uint64_t start, at, want = ra_gzip_ops.point(fmt, off);
	size_t got = 0;
	void *cur;
	ssize_t n = 0;
	int ret;

	ret = ra_gzip_ops.cursor_open(fmt, off, &cur, &start, err);
	if (ret < 0)
		return ret;
	ck_assert_uint_eq(start, want);
	ck_assert_uint_le(start, off);
	for (at = start; at < off; at += (uint64_t)n) {
		size_t step = off - at < sizeof(skip) ? off - at : sizeof(skip);

		n = ra_gzip_ops.cursor_read(cur, skip, step, err);
		if (n <= 0)
			break;
	}
	while (n >= 0 && got < len) {
		n = ra_gzip_ops.cursor_read(cur, (char *)buf + got, len - got,
					    err);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	ra_gzip_ops.cursor_close(cur);
	return n < 0 ? n : (ssize_t)got;
}

/* The whole image from 0 in odd-sized reads: it matches, then 0 (end). */
static void read_everything(void *fmt)
{
	struct bmap_err err = { "" };
	unsigned char *buf = malloc(100003);
	uint64_t start, off = 0;
	void *cur;
	ssize_t n;

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(ra_gzip_ops.cursor_open(fmt, 0, &cur, &start, &err),
			 0);
	ck_assert_uint_eq(start, 0);
	while ((n = ra_gzip_ops.cursor_read(cur, buf, 100003, &err)) > 0) {
		ck_assert_uint_le(off + (uint64_t)n, DATA_LEN);
		ck_assert_msg(!memcmp(buf, data + off, (size_t)n),
			      "wrong bytes at %llu", (unsigned long long)off);
		off += (uint64_t)n;
	}
	ck_assert_msg(n == 0, "read: %s", err.msg);
	ck_assert_uint_eq(off, DATA_LEN);
	ck_assert_int_eq(ra_gzip_ops.cursor_read(cur, buf, 10, &err), 0);
	ra_gzip_ops.cursor_close(cur);
	free(buf);
	ck_assert_uint_eq(ra_gzip_ops.size(fmt), DATA_LEN);
}

/* The distinct seek points known, found through point(). */
static size_t points(void *fmt, uint64_t *pts)
{
	size_t n = 0;

	for (uint64_t off = 0; off < DATA_LEN; off += 32768) {
		uint64_t p = ra_gzip_ops.point(fmt, off);

		ck_assert_uint_le(p, off);
		if (n == 0 || pts[n - 1] != p) {
			ck_assert_uint_lt(n, MAX_POINTS);
			pts[n++] = p;
		}
	}
	return n;
}

static void check_at(void *fmt, uint64_t off, size_t len)
{
	struct bmap_err err = { "" };
	unsigned char buf[8192];
	size_t want = off >= DATA_LEN ? 0 :
		      DATA_LEN - off < len ? (size_t)(DATA_LEN - off) : len;
	ssize_t n = read_at(fmt, off, buf, len, &err);

	ck_assert_msg(n >= 0, "read at %llu: %s", (unsigned long long)off,
		      err.msg);
	ck_assert_uint_eq((size_t)n, want);
	ck_assert_msg(!memcmp(buf, data + off, want), "wrong bytes at %llu",
		      (unsigned long long)off);
}

/* Reads around every point and at the edges of the image. */
static void check_offsets(void *fmt, size_t min_points)
{
	uint64_t pts[MAX_POINTS];
	size_t n = points(fmt, pts);

	ck_assert_uint_ge(n, min_points);
	for (size_t i = 0; i < n; i++) {
		if (pts[i] > 0)
			check_at(fmt, pts[i] - 1, 4096);
		check_at(fmt, pts[i], 4096);
		check_at(fmt, pts[i] + 1, 8192);
	}
	check_at(fmt, DATA_LEN / 2 + 12345, 8192);
	check_at(fmt, DATA_LEN - 1, 4096);
	check_at(fmt, DATA_LEN - 5000, 8192);
	check_at(fmt, DATA_LEN, 4096);
	check_at(fmt, DATA_LEN + 100000, 4096);
}

static void save(void *fmt, struct strbuf *sb)
{
	strbuf_init(sb);
	ck_assert_int_eq(ra_gzip_ops.save(fmt, sb), 0);
	ck_assert_uint_gt(sb->len, 40);
}

START_TEST(test_not_gzip)
{
	static const unsigned char almost[] = { 0x1f, 0x8b, 0x07, 0, 0, 0, 0, 0,
						0, 3, 1, 2, 3, 4, 5, 6, 7, 8 };
	struct gzf g;
	int fd = open("/dev/null", O_RDONLY);
	void *fmt = NULL;
	char *xz;
	size_t len;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ra_gzip_ops.open(fd, 0, 1, &fmt, NULL), -ENOTSUP);
	close(fd);
	ck_assert_int_eq(gzf_open_raw(&g, almost, sizeof(almost), NULL),
			 -ENOTSUP);
	close(g.fd);
	cu_write_scratch("small", data + 5000, 5000, "wb");
	run("xz -c", "small", "small.xz", false);
	xz = slurp("small.xz", &len);
	ck_assert_int_eq(gzf_open_raw(&g, xz, len, NULL), -ENOTSUP);
	close(g.fd);
	free(xz);
}
END_TEST

START_TEST(test_sequential_then_random)
{
	struct gzf g;

	gzf_open(&g, "one.gz");
	ck_assert_uint_eq(ra_gzip_ops.size(g.fmt), BMAP_SIZE_UNKNOWN);
	ck_assert_uint_eq(ra_gzip_ops.point(g.fmt, DATA_LEN / 2), 0);
	read_everything(g.fmt);
	ck_assert_uint_gt(ra_gzip_ops.point(g.fmt, DATA_LEN / 2), 0);
	check_offsets(g.fmt, 3);
	gzf_close(&g);
}
END_TEST

/* Cursors that overlap learn the same points as one pass does. */
START_TEST(test_interleaved)
{
	struct bmap_err err = { "" };
	struct gzf g1, g2;
	struct strbuf s1, s2;
	unsigned char *b = malloc(1 << 20);
	void *cur[2];
	uint64_t start, off[2] = { 0, 0 };
	ssize_t n;

	ck_assert_ptr_nonnull(b);
	gzf_open(&g1, "one.gz");
	read_everything(g1.fmt);
	gzf_open(&g2, "one.gz");
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(ra_gzip_ops.cursor_open(g2.fmt, 0, &cur[i],
							 &start, &err), 0);
	for (int k = 0; off[0] < DATA_LEN || off[1] < DATA_LEN; k++) {
		int i = k % 2;

		n = ra_gzip_ops.cursor_read(cur[i], b, (1 << 20) - 7 * i, &err);
		ck_assert_msg(n >= 0, "read: %s", err.msg);
		ck_assert(!memcmp(b, data + off[i], (size_t)n));
		off[i] += (uint64_t)n;
		/* A third cursor halfway, from the points known by then. */
		if (k == 9)
			check_at(g2.fmt, off[0] - 100000, 8192);
	}
	for (int i = 0; i < 2; i++)
		ra_gzip_ops.cursor_close(cur[i]);
	save(g1.fmt, &s1);
	save(g2.fmt, &s2);
	ck_assert_uint_eq(s1.len, s2.len);
	ck_assert(!memcmp(s1.buf, s2.buf, s1.len));
	strbuf_free(&s1);
	strbuf_free(&s2);
	gzf_close(&g1);
	gzf_close(&g2);
	free(b);
}
END_TEST

/* A cursor from a later point, past the furthest one known, records
 * the rest: the table is the same as from one pass. */
START_TEST(test_learn_from_middle)
{
	struct gzf g1, g2;
	struct strbuf s1, s2;
	unsigned char buf[4096];

	gzf_open(&g1, "one.gz");
	read_everything(g1.fmt);
	gzf_open(&g2, "one.gz");
	ck_assert_int_eq(read_at(g2.fmt, 6u << 20, buf, 4096, NULL), 4096);
	ck_assert_uint_gt(ra_gzip_ops.point(g2.fmt, 6u << 20), 0);
	check_at(g2.fmt, DATA_LEN - 10, 4096);
	save(g1.fmt, &s1);
	save(g2.fmt, &s2);
	ck_assert(s1.len == s2.len && !memcmp(s1.buf, s2.buf, s1.len));
	strbuf_free(&s1);
	strbuf_free(&s2);
	gzf_close(&g1);
	gzf_close(&g2);
}
END_TEST

/* Load must refuse idx: -EINVAL, the table as it was. */
static void refuse(struct gzf *g, const void *idx, size_t len)
{
	struct bmap_err err = { "" };
	uint64_t before = ra_gzip_ops.point(g->fmt, DATA_LEN - 1);

	ck_assert_int_eq(ra_gzip_ops.load(g->fmt, idx, len, &err), -EINVAL);
	ck_assert_str_ne(err.msg, "");
	ck_assert_uint_eq(ra_gzip_ops.point(g->fmt, DATA_LEN - 1), before);
}

/* A copy of idx with byte at changed by xor. */
static void refuse_flip(struct gzf *g, const struct strbuf *idx, size_t at,
			unsigned char xor)
{
	unsigned char *bad = malloc(idx->len);

	ck_assert_ptr_nonnull(bad);
	memcpy(bad, idx->buf, idx->len);
	bad[at] ^= xor;
	refuse(g, bad, idx->len);
	free(bad);
}

START_TEST(test_save_load)
{
	struct bmap_err err = { "" };
	struct gzf g1, g2;
	struct strbuf idx, again;
	uint64_t p1[MAX_POINTS], p2[MAX_POINTS];
	size_t n1, pt2 = 40 + 38 + 38;	/* the first block point */

	gzf_open(&g1, "one.gz");
	read_everything(g1.fmt);
	save(g1.fmt, &idx);
	n1 = points(g1.fmt, p1);
	gzf_open(&g2, "one.gz");
	/* Garbage, truncations, fields that do not fit: refused. */
	refuse(&g2, "garbage", 7);
	refuse(&g2, idx.buf, 40);
	refuse(&g2, idx.buf, idx.len - 1);
	refuse(&g2, idx.buf, idx.len / 2);
	refuse_flip(&g2, &idx, 0, 1);		/* magic */
	refuse_flip(&g2, &idx, 8, 1);		/* version */
	refuse_flip(&g2, &idx, 16, 1);		/* file size */
	refuse_flip(&g2, &idx, 32, 1);		/* point count */
	refuse_flip(&g2, &idx, 39, 0x80);	/* huge point count */
	refuse_flip(&g2, &idx, 40 + 8, 1);	/* first point not at 0 */
	refuse_flip(&g2, &idx, pt2 + 7, 0x80);	/* out beyond the rest */
	refuse_flip(&g2, &idx, pt2 + 15, 0x40);	/* in beyond the file */
	refuse_flip(&g2, &idx, pt2 + 28, 1);	/* window length */
	refuse_flip(&g2, &idx, pt2 + 32, 1);	/* compressed length */
	refuse_flip(&g2, &idx, pt2 + 36, 8);	/* bits */
	refuse_flip(&g2, &idx, pt2 + 38 + 9, 0x10); /* window bytes */
	check_at(g2.fmt, DATA_LEN / 2, 4096);
	/* The real thing: same points, without decoding. */
	ck_assert_msg(ra_gzip_ops.load(g2.fmt, idx.buf, idx.len, &err) == 0,
		      "load: %s", err.msg);
	ck_assert_uint_eq(ra_gzip_ops.size(g2.fmt), DATA_LEN);
	ck_assert_uint_eq(points(g2.fmt, p2), n1);
	ck_assert(!memcmp(p1, p2, n1 * sizeof(*p1)));
	check_offsets(g2.fmt, 3);
	save(g2.fmt, &again);
	ck_assert(again.len == idx.len && !memcmp(again.buf, idx.buf, idx.len));
	strbuf_free(&again);
	strbuf_free(&idx);
	gzf_close(&g1);
	gzf_close(&g2);
}
END_TEST

/* Points learnt, one in the middle dropped: cursors for offsets after it
 * start at the point before and read right; the last one dropped is
 * learnt again by the next cursor passing it; 0 is never dropped. */
START_TEST(test_drop_point)
{
	uint64_t pts[MAX_POINTS], again[MAX_POINTS];
	struct gzf g;
	size_t n;

	gzf_open(&g, "one.gz");
	read_everything(g.fmt);
	n = points(g.fmt, pts);
	ck_assert_uint_ge(n, 3);
	ra_gzip_ops.drop_point(g.fmt, pts[1]);
	ck_assert_uint_eq(ra_gzip_ops.point(g.fmt, pts[1] + 5), 0);
	check_at(g.fmt, pts[1] + 5, 8192);
	ck_assert_uint_eq(ra_gzip_ops.point(g.fmt, pts[2]), pts[2]);
	ra_gzip_ops.drop_point(g.fmt, pts[n - 1]);
	ck_assert_uint_eq(ra_gzip_ops.point(g.fmt, DATA_LEN - 1), pts[n - 2]);
	check_at(g.fmt, DATA_LEN - 5000, 8192);
	ck_assert_uint_eq(points(g.fmt, again), n - 1);
	ck_assert_uint_eq(again[n - 2], pts[n - 1]);
	ra_gzip_ops.drop_point(g.fmt, 0);
	ra_gzip_ops.drop_point(g.fmt, 12345);	/* no point: nothing */
	ck_assert_uint_eq(points(g.fmt, again), n - 1);
	check_offsets(g.fmt, n - 1);
	gzf_close(&g);
}
END_TEST

/* Point i's window replaced by its bytes inverted, recompressed. */
static void spoil_window(struct gz_fmt *f, size_t i)
{
	static unsigned char win[GZ_WIN];
	struct gz_point *p = &f->pts[i];
	uLongf wraw = GZ_WIN, blen = compressBound(GZ_WIN);
	unsigned char *z = malloc(blen);

	ck_assert_ptr_nonnull(z);
	ck_assert_uint_gt(p->wlen, 0);
	ck_assert_int_eq(uncompress(win, &wraw, p->win, p->wlen), Z_OK);
	for (size_t k = 0; k < wraw; k++)
		win[k] ^= 0x5a;
	ck_assert_int_eq(compress2(z, &blen, win, wraw, 6), Z_OK);
	free(p->win);
	p->win = z;
	p->wlen = (uint32_t)blen;
}

/* A point whose window was altered (as in a damaged index file) gives
 * wrong bytes; dropped, the bytes from the point before are right. */
START_TEST(test_drop_spoilt_point)
{
	static unsigned char buf[1 << 20];
	struct gz_fmt *f;
	struct gzf g;
	uint64_t at = 0;
	size_t i;
	ssize_t n;

	gzf_open(&g, "one.gz");
	read_everything(g.fmt);
	f = g.fmt;
	/* The first block point whose next MiB refers to its window. */
	for (i = 1; i < f->npts && at == 0; i++) {
		if (f->pts[i].member)
			continue;
		spoil_window(f, i);
		n = read_at(f, f->pts[i].out, buf, sizeof(buf), NULL);
		ck_assert_int_gt(n, 0);
		if (memcmp(buf, data + f->pts[i].out, (size_t)n) != 0)
			at = f->pts[i].out;
	}
	ck_assert_msg(at > 0, "no spoilt window changed the bytes");
	ra_gzip_ops.drop_point(f, at);
	ck_assert_uint_lt(ra_gzip_ops.point(f, at), at);
	check_at(f, at, 8192);
	check_at(f, at + 100000, 8192);
	gzf_close(&g);
}
END_TEST

START_TEST(test_members)
{
	struct gzf g;
	uint64_t pts[MAX_POINTS];
	size_t n;

	gzf_open(&g, "multi.gz");
	read_everything(g.fmt);
	/* Every member start, and one block point inside the first. */
	n = points(g.fmt, pts);
	ck_assert_uint_eq(n, 5);
	ck_assert_uint_gt(pts[1], 0);
	ck_assert_uint_lt(pts[1], member_at[1]);
	for (int m = 1; m < 4; m++)
		ck_assert_uint_eq(pts[m + 1], member_at[m]);
	check_offsets(g.fmt, 5);
	/* From the block point across the first member's end (its CRC-32
	 * is checked there) into the second. */
	check_at(g.fmt, member_at[1] - 3000, 8192);
	gzf_close(&g);
}
END_TEST

/* Reading everything from 0 fails with -code and msg, never a crash;
 * with the points of idx loaded first when it is not NULL. */
static void expect_failure_idx(const void *raw, size_t len, int code,
			       const char *msg, const struct strbuf *idx)
{
	struct bmap_err err = { "" };
	unsigned char *buf = malloc(1 << 20);
	struct gzf g;
	uint64_t start;
	void *cur;
	ssize_t n;
	int ret;

	ck_assert_ptr_nonnull(buf);
	ret = gzf_open_raw(&g, raw, len, &err);
	if (ret == 0 && idx)
		ck_assert_int_eq(ra_gzip_ops.load(g.fmt, idx->buf, idx->len,
						  NULL), 0);
	if (ret == 0)
		ret = ra_gzip_ops.cursor_open(g.fmt, 0, &cur, &start, &err);
	if (ret == 0) {
		while ((n = ra_gzip_ops.cursor_read(cur, buf, 1 << 20, &err))
		       > 0)
			;
		ret = (int)n;
		/* Failing again, not pretending to be at the end. */
		ck_assert_int_lt(ra_gzip_ops.cursor_read(cur, buf, 1, NULL), 0);
		ra_gzip_ops.cursor_close(cur);
	}
	/* code 0: either of the corrupt data errors will do. */
	ck_assert_msg(code ? ret == -code : ret == -EBADMSG || ret == -EIO,
		      "got %d (%s), wanted %d", ret, err.msg, -code);
	ck_assert_msg(strstr(err.msg, msg), "message: %s", err.msg);
	if (g.fmt)
		ra_gzip_ops.close(g.fmt);
	close(g.fd);
	free(buf);
}

static void expect_failure(const void *raw, size_t len, int code,
			   const char *msg)
{
	expect_failure_idx(raw, len, code, msg, NULL);
}

START_TEST(test_corrupt)
{
	size_t len;
	char *gz = slurp("one.gz", &len);
	char *bad = malloc(len + 100);

	ck_assert_ptr_nonnull(bad);
	/* Flipped bytes in the deflate data: a deflate error or a CRC-32
	 * mismatch, wherever they are. */
	for (size_t at = 1000; at < len - 8; at += len / 7) {
		memcpy(bad, gz, len);
		bad[at] ^= 0x24;
		expect_failure(bad, len, 0, "gzip data");
	}
	/* The same with the points known: ISA-L decodes then. */
	{
		struct gzf g;
		struct strbuf idx;

		gzf_open(&g, "one.gz");
		read_everything(g.fmt);
		save(g.fmt, &idx);
		gzf_close(&g);
		for (size_t at = len / 3; at < len - 8; at += len / 5) {
			memcpy(bad, gz, len);
			bad[at] ^= 0x81;
			expect_failure_idx(bad, len, 0, "gzip data", &idx);
		}
		strbuf_free(&idx);
	}
	memcpy(bad, gz, len);
	bad[len - 8] ^= 1;
	expect_failure(bad, len, EBADMSG, "CRC-32 mismatch");
	memcpy(bad, gz, len);
	bad[len - 1] ^= 1;
	expect_failure(bad, len, EBADMSG, "length mismatch");
	memcpy(bad, gz, len);
	bad[3] = 0x20;
	expect_failure(bad, len, EBADMSG, "reserved flags");
	/* Trailing garbage, including zeros and half a header. */
	memcpy(bad, gz, len);
	memcpy(bad + len, "junk", 4);
	expect_failure(bad, len + 4, EBADMSG, "trailing garbage");
	memset(bad + len, 0, 100);
	expect_failure(bad, len + 100, EBADMSG, "trailing garbage");
	memcpy(bad + len, "\x1f\x8b\x08\0\0", 5);
	expect_failure(bad, len + 5, EIO, "truncated");
	free(bad);
	free(gz);
}
END_TEST

START_TEST(test_truncated)
{
	size_t len, cut[] = { 5, 12, 3000, 0, 0, 0 };
	char *gz = slurp("multi.gz", &len);

	cut[3] = len / 2;
	cut[4] = len - 1;
	cut[5] = len - 8;
	for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++)
		expect_failure(gz, cut[i], EIO, "truncated gzip data");
	free(gz);
}
END_TEST

/* The FHCRC field is checked. */
START_TEST(test_header_crc)
{
	size_t len;
	char *gz = slurp("multi.gz", &len);
	char *c = memmem(gz, len, "a comment", 10);

	ck_assert_ptr_nonnull(c);
	c[10] ^= 1;
	expect_failure(gz, len, EBADMSG, "header CRC mismatch");
	free(gz);
}
END_TEST

Suite *ra_gzip_suite(void)
{
	Suite *s = suite_create("ra-gzip");
	TCase *tc = tcase_create("ra-gzip");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_not_gzip);
	tcase_add_test(tc, test_sequential_then_random);
	tcase_add_test(tc, test_interleaved);
	tcase_add_test(tc, test_learn_from_middle);
	tcase_add_test(tc, test_save_load);
	tcase_add_test(tc, test_members);
	tcase_add_test(tc, test_drop_point);
	tcase_add_test(tc, test_drop_spoilt_point);
	tcase_add_test(tc, test_corrupt);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_header_crc);
	suite_add_tcase(s, tc);
	return s;
}
