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
#include <sys/wait.h>
#include <unistd.h>

#include <zlib.h>

#include "check-suites.h"
#include "check-util.h"
#include "codec/gzip.h"
#include "codec/seekidx.h"

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
	return gzip_seek_ops.open(g->fd, len, 1, &g->fmt, err);
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
		gzip_seek_ops.close(g->fmt);
	close(g->fd);
	free(g->raw);
}

/* Read up to len bytes at off into buf as the engine would: a cursor at
 * point(off), skipping to off. Returns the bytes read or -errno. */
static ssize_t read_at(void *fmt, uint64_t off, void *buf, size_t len,
		       struct bmap_err *err)
{
	static unsigned char skip[65536];
	uint64_t start, at, want = gzip_seek_ops.point(fmt, off);
	size_t got = 0;
	void *cur;
	ssize_t n = 0;
	int ret;

	ret = gzip_seek_ops.cursor_open(fmt, off, &cur, &start, err);
	if (ret < 0)
		return ret;
	ck_assert_uint_eq(start, want);
	ck_assert_uint_le(start, off);
	for (at = start; at < off; at += (uint64_t)n) {
		size_t step = off - at < sizeof(skip) ? off - at : sizeof(skip);

		n = gzip_seek_ops.cursor_read(cur, skip, step, err);
		if (n <= 0)
			break;
	}
	while (n >= 0 && got < len) {
		n = gzip_seek_ops.cursor_read(cur, (char *)buf + got, len - got,
					    err);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	gzip_seek_ops.cursor_close(cur);
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
	ck_assert_int_eq(gzip_seek_ops.cursor_open(fmt, 0, &cur, &start, &err),
			 0);
	ck_assert_uint_eq(start, 0);
	while ((n = gzip_seek_ops.cursor_read(cur, buf, 100003, &err)) > 0) {
		ck_assert_uint_le(off + (uint64_t)n, DATA_LEN);
		ck_assert_msg(!memcmp(buf, data + off, (size_t)n),
			      "wrong bytes at %llu", (unsigned long long)off);
		off += (uint64_t)n;
	}
	ck_assert_msg(n == 0, "read: %s", err.msg);
	ck_assert_uint_eq(off, DATA_LEN);
	ck_assert_int_eq(gzip_seek_ops.cursor_read(cur, buf, 10, &err), 0);
	gzip_seek_ops.cursor_close(cur);
	free(buf);
	ck_assert_uint_eq(gzip_seek_ops.size(fmt), DATA_LEN);
}

/* The distinct seek points known, found through point(). */
static size_t points(void *fmt, uint64_t *pts)
{
	size_t n = 0;

	for (uint64_t off = 0; off < DATA_LEN; off += 32768) {
		uint64_t p = gzip_seek_ops.point(fmt, off);

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
	ck_assert_int_eq(gzip_seek_ops.save(fmt, sb), 0);
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
	ck_assert_int_eq(gzip_seek_ops.open(fd, 0, 1, &fmt, NULL), -ENOTSUP);
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
	ck_assert_uint_eq(gzip_seek_ops.size(g.fmt), BMAP_SIZE_UNKNOWN);
	ck_assert_uint_eq(gzip_seek_ops.point(g.fmt, DATA_LEN / 2), 0);
	read_everything(g.fmt);
	ck_assert_uint_gt(gzip_seek_ops.point(g.fmt, DATA_LEN / 2), 0);
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
		ck_assert_int_eq(gzip_seek_ops.cursor_open(g2.fmt, 0, &cur[i],
							 &start, &err), 0);
	for (int k = 0; off[0] < DATA_LEN || off[1] < DATA_LEN; k++) {
		int i = k % 2;

		n = gzip_seek_ops.cursor_read(cur[i], b, (1 << 20) - 7 * i,
					      &err);
		ck_assert_msg(n >= 0, "read: %s", err.msg);
		ck_assert(!memcmp(b, data + off[i], (size_t)n));
		off[i] += (uint64_t)n;
		/* A third cursor halfway, from the points known by then. */
		if (k == 9)
			check_at(g2.fmt, off[0] - 100000, 8192);
	}
	for (int i = 0; i < 2; i++)
		gzip_seek_ops.cursor_close(cur[i]);
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
	ck_assert_uint_gt(gzip_seek_ops.point(g2.fmt, 6u << 20), 0);
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
	uint64_t before = gzip_seek_ops.point(g->fmt, DATA_LEN - 1);

	ck_assert_int_eq(gzip_seek_ops.load(g->fmt, idx, len, &err), -EINVAL);
	ck_assert_str_ne(err.msg, "");
	ck_assert_uint_eq(gzip_seek_ops.point(g->fmt, DATA_LEN - 1), before);
}

/* A copy of idx with byte at changed by xor: the list's own checksum
 * refuses it. */
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

/* How refuse_field changes the saved points. */
#define BLOB_FLIP GZIP_IDX_FIELDS	/* "field": a byte of the window */
#define DROP_REST (GZIP_IDX_FIELDS + 1)	/* "field": no records after r */

/*
 * A copy of idx whose record r (0: the file's, 1: the point at 0, 2: the
 * first block point...) has field k set to v, re-encoded whole so that
 * only gzip's own checks can tell: load must refuse it.
 */
static void refuse_field(struct gzf *g, const struct strbuf *idx, size_t r,
			 unsigned k, uint64_t v)
{
	uint64_t f[GZIP_IDX_FIELDS];
	struct seekidx_in in;
	struct seekidx_out o;
	struct strbuf sb;
	const void *blob;
	uint32_t bl;

	ck_assert_int_eq(seekidx_open(&in, idx->buf, idx->len, "gzip",
				      GZIP_IDX_FIELDS, NULL), 0);
	strbuf_init(&sb);
	seekidx_begin(&o, &sb, "gzip", GZIP_IDX_FIELDS);
	for (size_t i = 0; seekidx_next(&in, f, &blob, &bl) == 1; i++) {
		unsigned char *copy = malloc(bl + 1);

		ck_assert_ptr_nonnull(copy);
		if (bl)
			memcpy(copy, blob, bl);
		if (i == r && k < GZIP_IDX_FIELDS)
			f[k] = v;
		if (i == r && k == BLOB_FLIP) {
			ck_assert_uint_gt(bl, 9);
			copy[9] ^= (unsigned char)v;
		}
		if (i <= r || k != DROP_REST)
			seekidx_put(&o, f, copy, bl);
		free(copy);
	}
	ck_assert_int_eq(seekidx_end(&o), 0);
	refuse(g, sb.buf, sb.len);
	strbuf_free(&sb);
}

START_TEST(test_save_load)
{
	struct bmap_err err = { "" };
	struct gzf g1, g2;
	struct strbuf idx, again;
	uint64_t p1[MAX_POINTS], p2[MAX_POINTS];
	size_t n1;

	gzf_open(&g1, "one.gz");
	read_everything(g1.fmt);
	save(g1.fmt, &idx);
	n1 = points(g1.fmt, p1);
	ck_assert_uint_ge(n1, 3);
	gzf_open(&g2, "one.gz");
	/* Garbage, truncations, damage: refused by the list's encoding. */
	refuse(&g2, "garbage", 7);
	refuse(&g2, idx.buf, 40);
	refuse(&g2, idx.buf, idx.len - 1);
	refuse(&g2, idx.buf, idx.len / 2);
	refuse_flip(&g2, &idx, 0, 1);			/* magic */
	refuse_flip(&g2, &idx, idx.len / 2, 0x10);	/* anywhere */
	/* Well encoded, but not fitting the file: refused by gzip. */
	refuse_field(&g2, &idx, 0, 0, g2.raw_len + 1);	/* file size */
	refuse_field(&g2, &idx, 0, 1, 12345);	/* image ends before a point */
	refuse_field(&g2, &idx, 0, DROP_REST, 0);	/* no points */
	refuse_field(&g2, &idx, 1, 0, 5);	/* first point not at 0 */
	refuse_field(&g2, &idx, 1, 6, 0);	/* nor a member start */
	refuse_field(&g2, &idx, 2, 0, (uint64_t)DATA_LEN * 9); /* out */
	refuse_field(&g2, &idx, 2, 1, g2.raw_len + 1);	/* in beyond the file */
	refuse_field(&g2, &idx, 3, 1, 1);	/* in before the point before */
	refuse_field(&g2, &idx, 2, 2, p1[1] + 1);	/* member start after */
	refuse_field(&g2, &idx, 2, 3, 1ull << 32);	/* CRC-32 too wide */
	refuse_field(&g2, &idx, 2, 4, GZIP_WIN - 1);	/* window length */
	refuse_field(&g2, &idx, 2, 5, 8);	/* bits */
	refuse_field(&g2, &idx, 2, 6, 2);	/* member flag */
	refuse_field(&g2, &idx, 2, 6, 1);	/* a member with a window */
	refuse_field(&g2, &idx, 2, BLOB_FLIP, 0x10);	/* window bytes */
	check_at(g2.fmt, DATA_LEN / 2, 4096);
	/* The real thing: same points, without decoding. */
	ck_assert_msg(gzip_seek_ops.load(g2.fmt, idx.buf, idx.len, &err) == 0,
		      "load: %s", err.msg);
	ck_assert_uint_eq(gzip_seek_ops.size(g2.fmt), DATA_LEN);
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
	gzip_seek_ops.drop_point(g.fmt, pts[1]);
	ck_assert_uint_eq(gzip_seek_ops.point(g.fmt, pts[1] + 5), 0);
	check_at(g.fmt, pts[1] + 5, 8192);
	ck_assert_uint_eq(gzip_seek_ops.point(g.fmt, pts[2]), pts[2]);
	gzip_seek_ops.drop_point(g.fmt, pts[n - 1]);
	ck_assert_uint_eq(gzip_seek_ops.point(g.fmt, DATA_LEN - 1), pts[n - 2]);
	check_at(g.fmt, DATA_LEN - 5000, 8192);
	ck_assert_uint_eq(points(g.fmt, again), n - 1);
	ck_assert_uint_eq(again[n - 2], pts[n - 1]);
	gzip_seek_ops.drop_point(g.fmt, 0);
	gzip_seek_ops.drop_point(g.fmt, 12345);	/* no point: nothing */
	ck_assert_uint_eq(points(g.fmt, again), n - 1);
	check_offsets(g.fmt, n - 1);
	gzf_close(&g);
}
END_TEST

/* Point i's window replaced by its bytes inverted, recompressed. */
static void spoil_window(struct gzip_fmt *f, size_t i)
{
	static unsigned char win[GZIP_WIN];
	struct gzip_point *p = &f->pts[i];
	uLongf wraw = GZIP_WIN, blen = compressBound(GZIP_WIN);
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
	struct gzip_fmt *f;
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
	gzip_seek_ops.drop_point(f, at);
	ck_assert_uint_lt(gzip_seek_ops.point(f, at), at);
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

/* ---- both modes on the same bytes ---- */

/* What decoding a whole file gave. */
struct outcome {
	int ret;			/* 0, or the -errno it failed with */
	char msg[BMAP_ERR_MAX];
	uint64_t len;			/* bytes it gave */
	bool right;			/* and they were data's first len */
};

static void take(struct outcome *o, const void *buf, ssize_t n)
{
	if (n <= 0)
		return;
	o->right = o->right && o->len + (uint64_t)n <= DATA_LEN &&
		   !memcmp(buf, data + o->len, (size_t)n);
	o->len += (uint64_t)n;
}

/* A failed decoder keeps failing, with the same error. */
static void fails_again(const struct outcome *o, ssize_t n,
			const struct bmap_err *err)
{
	ck_assert_msg(n == o->ret && !strcmp(err->msg, o->msg),
		      "failed with %d (%s), then %zd (%s)", o->ret, o->msg, n,
		      err->msg);
}

/* STREAM: the gzip decoder bmapcopy uses, reading fd (a file or a pipe)
 * in reads of step bytes. */
static void stream_outcome(int fd, size_t step, struct outcome *o)
{
	struct codec_input in = { .fd = fd };
	const struct codec_stream_ops *ops;
	struct bmap_err err = { "" };
	unsigned char *buf = malloc(step);
	void *st;
	ssize_t n;

	ck_assert_ptr_nonnull(buf);
	memset(o, 0, sizeof(*o));
	o->right = true;
	ck_assert_int_eq(gzip_stream_open(&in, 1, &ops, &st, &err), 0);
	while ((n = ops->read(st, buf, step, &err)) > 0)
		take(o, buf, n);
	o->ret = (int)n;
	snprintf(o->msg, sizeof(o->msg), "%s", n < 0 ? err.msg : "");
	if (n < 0)
		fails_again(o, ops->read(st, buf, 1, &err), &err);
	else
		ck_assert_int_eq(ops->read(st, buf, 1, &err), 0);
	ops->close(st);
	free(buf);
}

/* SEEK: a cursor from 0 (the engine's path), with the points of idx
 * loaded first when it is not NULL (then ISA-L decodes). */
static void seek_outcome(const void *raw, size_t len, const struct strbuf *idx,
			 struct outcome *o)
{
	struct bmap_err err = { "" };
	unsigned char *buf = malloc(1 << 20);
	struct gzf g;
	uint64_t start;
	void *cur;
	ssize_t n;

	ck_assert_ptr_nonnull(buf);
	memset(o, 0, sizeof(*o));
	o->right = true;
	o->ret = gzf_open_raw(&g, raw, len, &err);
	if (o->ret == 0 && idx)
		ck_assert_int_eq(gzip_seek_ops.load(g.fmt, idx->buf, idx->len,
						    NULL), 0);
	if (o->ret == 0)
		o->ret = gzip_seek_ops.cursor_open(g.fmt, 0, &cur, &start,
						   &err);
	if (o->ret == 0) {
		while ((n = gzip_seek_ops.cursor_read(cur, buf, 1 << 20,
						      &err)) > 0)
			take(o, buf, n);
		o->ret = (int)n;
		snprintf(o->msg, sizeof(o->msg), "%s", n < 0 ? err.msg : "");
		if (n < 0)
			fails_again(o, gzip_seek_ops.cursor_read(cur, buf, 1,
								 &err), &err);
		else
			ck_assert_int_eq(gzip_seek_ops.cursor_read(cur, buf, 1,
								   &err), 0);
		gzip_seek_ops.cursor_close(cur);
	} else {
		snprintf(o->msg, sizeof(o->msg), "%s", err.msg);
	}
	if (g.fmt)
		gzip_seek_ops.close(g.fmt);
	close(g.fd);
	free(buf);
}

static void same_outcome(const char *how, const struct outcome *a,
			 const struct outcome *b)
{
	ck_assert_msg(a->ret == b->ret && !strcmp(a->msg, b->msg),
		      "STREAM: %d (%s); %s: %d (%s)", a->ret, a->msg, how,
		      b->ret, b->msg);
	if (a->ret == 0)
		ck_assert_msg(a->len == b->len && a->right && b->right,
			      "STREAM gave %llu bytes, %s %llu",
			      (unsigned long long)a->len, how,
			      (unsigned long long)b->len);
}

/* raw decoded by STREAM and by SEEK (from no points, and from idx's when
 * not NULL) must end the same way: the same bytes, or the same error and
 * message. That outcome into o. */
static void both_modes(const void *raw, size_t len, const struct strbuf *idx,
		       struct outcome *o)
{
	struct outcome k;
	char path[256];
	int fd;

	cu_write_scratch("stream.gz", raw, len, "wb");
	cu_scratch_path(path, sizeof(path), "stream.gz");
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	stream_outcome(fd, 1 << 20, o);
	close(fd);
	seek_outcome(raw, len, NULL, &k);
	same_outcome("SEEK", o, &k);
	if (idx) {
		seek_outcome(raw, len, idx, &k);
		same_outcome("SEEK from saved points", o, &k);
	}
}

/* Both modes fail on raw with -code and msg, never a crash. */
static void expect_failure_idx(const void *raw, size_t len, int code,
			       const char *msg, const struct strbuf *idx)
{
	struct outcome o;

	both_modes(raw, len, idx, &o);
	/* code 0: either of the corrupt data errors will do. */
	ck_assert_msg(code ? o.ret == -code :
			     o.ret == -EBADMSG || o.ret == -EIO,
		      "got %d (%s), wanted %d", o.ret, o.msg, -code);
	ck_assert_msg(strstr(o.msg, msg), "message: %s", o.msg);
}

static void expect_failure(const void *raw, size_t len, int code,
			   const char *msg)
{
	expect_failure_idx(raw, len, code, msg, NULL);
}

/* Both modes read raw whole: the image's first want bytes. */
static void expect_image(const void *raw, size_t len, uint64_t want)
{
	struct outcome o;

	both_modes(raw, len, NULL, &o);
	ck_assert_msg(o.ret == 0, "failed: %s", o.msg);
	ck_assert_uint_eq(o.len, want);
	ck_assert(o.right);
}

START_TEST(test_corrupt)
{
	size_t len;
	char *gz = slurp("one.gz", &len);
	char *bad = malloc(len + 8192);
	struct strbuf idx;
	struct gzf g;

	ck_assert_ptr_nonnull(bad);
	gzf_open(&g, "one.gz");
	read_everything(g.fmt);
	save(g.fmt, &idx);
	gzf_close(&g);
	/* Flipped bytes in the deflate data, early, in the middle, late: a
	 * deflate error or a CRC-32 mismatch, the same in both modes, also
	 * from the points known (ISA-L decodes then). */
	for (size_t at = 30; at < len - 8; at += len / 7) {
		memcpy(bad, gz, len);
		bad[at] ^= 0x24;
		expect_failure_idx(bad, len, 0, "corrupt gzip data: ", &idx);
	}
	for (size_t at = len / 3; at < len - 8; at += len / 5) {
		memcpy(bad, gz, len);
		bad[at] ^= 0x81;
		expect_failure_idx(bad, len, 0, "corrupt gzip data: ", &idx);
	}
	memcpy(bad, gz, len);
	bad[len - 100] ^= 0x08;
	expect_failure_idx(bad, len, 0, "corrupt gzip data: ", &idx);
	/* The trailer: CRC-32 (first and last byte), ISIZE. */
	for (size_t at = len - 8; at < len; at++) {
		memcpy(bad, gz, len);
		bad[at] ^= 1;
		expect_failure_idx(bad, len, EBADMSG, at < len - 4 ?
				   "corrupt gzip data: CRC-32 mismatch" :
				   "corrupt gzip data: length mismatch", &idx);
	}
	/* The header: MTIME is not checked; reserved flags are refused. */
	memcpy(bad, gz, len);
	bad[5] ^= 0x40;
	expect_image(bad, len, DATA_LEN);
	memcpy(bad, gz, len);
	bad[3] = 0x20;
	expect_failure(bad, len, EBADMSG, "corrupt gzip data: reserved flags");
	strbuf_free(&idx);
	free(bad);
	free(gz);
}
END_TEST

/* What may follow the last member: zero bytes up to the end (padding),
 * in both modes; anything else, or anything after the zeros, is
 * trailing garbage; the start of a member that ends short is
 * truncation. */
#define GARBAGE "corrupt gzip data: trailing garbage after the last member"

START_TEST(test_after_the_data)
{
	static const struct {
		size_t zeros;
		const char *tail;
		size_t tail_len;
		int code;		/* 0: read whole */
		const char *msg;
	} cases[] = {
		{ 1, "", 0, 0, NULL },
		{ 100, "", 0, 0, NULL },
		{ 8000, "", 0, 0, NULL },
		{ 0, "junk", 4, EBADMSG, GARBAGE },
		{ 0, "\x1f\x8c", 2, EBADMSG, GARBAGE },
		{ 100, "x", 1, EBADMSG, GARBAGE },
		{ 4096, "\x1f", 1, EBADMSG, GARBAGE },
		{ 0, "\x1f", 1, EIO, "truncated gzip data" },
		{ 0, "\x1f\x8b\x08\0\0", 5, EIO, "truncated gzip data" },
		{ 0, "\x1f\x8b\x09\0\0\0\0\0\0\3", 10, EBADMSG,
		  "corrupt gzip data: unsupported compression method 9" },
		{ 0, "\x1f\x8b\x08\x80\0\0\0\0\0\3", 10, EBADMSG,
		  "corrupt gzip data: reserved flags" },
	};
	size_t len;
	char *gz = slurp("one.gz", &len);
	char *bad = malloc(len + 8192);

	ck_assert_ptr_nonnull(bad);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = len;

		memcpy(bad, gz, len);
		memset(bad + n, 0, cases[i].zeros);
		n += cases[i].zeros;
		memcpy(bad + n, cases[i].tail, cases[i].tail_len);
		n += cases[i].tail_len;
		if (cases[i].code)
			expect_failure(bad, n, cases[i].code, cases[i].msg);
		else
			expect_image(bad, n, DATA_LEN);
	}
	free(bad);
	free(gz);
}
END_TEST

/* Where the members of multi.gz end (the empty one is 20 known bytes). */
static size_t second_member(const char *gz, size_t len)
{
	static const char empty[20] = "\x1f\x8b\x08\0\0\0\0\0\0\x03"
				      "\x03\0\0\0\0\0\0\0\0";
	const char *at = memmem(gz, len, empty, sizeof(empty));

	ck_assert_ptr_nonnull(at);
	return (size_t)(at - gz);
}

START_TEST(test_truncated)
{
	size_t len, m1, fancy;
	char *gz = slurp("multi.gz", &len);
	size_t cut[] = { 3, 5, 10, 12, 3000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	size_t ncut = 5;

	m1 = second_member(gz, len);
	fancy = (size_t)((char *)memmem(gz, len, "name.img", 8) - gz);
	cut[ncut++] = len / 3;
	cut[ncut++] = len / 2;
	cut[ncut++] = m1 - 9;		/* in the first member's trailer */
	cut[ncut++] = m1 - 1;
	cut[ncut++] = m1 + 1;		/* in the second member's header */
	cut[ncut++] = m1 + 19;		/* in its trailer */
	cut[ncut++] = fancy + 3;	/* in a file name */
	cut[ncut++] = fancy + 9 + 10 + 1;	/* in the header CRC */
	cut[ncut++] = len - 8;
	cut[ncut++] = len - 1;
	for (size_t i = 0; i < ncut; i++)
		expect_failure(gz, cut[i], EIO, "truncated gzip data");
	/* Cut at a member's end: a whole, shorter file. */
	expect_image(gz, m1, member_at[1]);
	expect_image(gz, m1 + 20, member_at[1]);
	free(gz);
}
END_TEST

/* Two members, the first one's CRC-32 wrong: found at its end, in both
 * modes, also from the points known. */
START_TEST(test_members_crc)
{
	size_t len, m1;
	char *gz = slurp("multi.gz", &len);
	struct strbuf idx;
	struct gzf g;

	gzf_open(&g, "multi.gz");
	read_everything(g.fmt);
	save(g.fmt, &idx);
	gzf_close(&g);
	m1 = second_member(gz, len);
	gz[m1 - 6] ^= 0x10;
	expect_failure_idx(gz, len, EBADMSG,
			   "corrupt gzip data: CRC-32 mismatch", &idx);
	gz[m1 - 6] ^= 0x10;
	gz[m1 - 3] ^= 0x10;
	expect_failure_idx(gz, len, EBADMSG,
			   "corrupt gzip data: length mismatch", &idx);
	strbuf_free(&idx);
	free(gz);
}
END_TEST

/* gzip members of data's first len bytes, in pieces of 0 to 6000 bytes at
 * levels 0 (stored) to 9, made here with zlib; their total into *gzlen. */
static unsigned char *many_members(size_t len, size_t *gzlen)
{
	uint64_t x = 0x2545f4914f6cdd1dull;
	size_t cap = len + len / 8 + (1u << 20), off = 0, n = 0;
	unsigned char *gz = malloc(cap);

	ck_assert_ptr_nonnull(gz);
	while (off < len) {
		size_t piece;
		z_stream zs = { 0 };

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		piece = (size_t)(x % 6001);
		if (piece > len - off)
			piece = len - off;
		ck_assert_int_eq(deflateInit2(&zs, (int)((x >> 32) % 10),
					      Z_DEFLATED, 31, 8,
					      Z_DEFAULT_STRATEGY), Z_OK);
		zs.next_in = data + off;
		zs.avail_in = (uInt)piece;
		zs.next_out = gz + n;
		zs.avail_out = (uInt)(cap - n);
		ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
		n = cap - zs.avail_out;
		deflateEnd(&zs);
		off += piece;
	}
	*gzlen = n;
	return gz;
}

/*
 * Hundreds of small members, some empty: headers and trailers fall
 * across every boundary of the reads. STREAM reads them from a pipe fed
 * in pieces of 1 to 700 bytes, and in reads of odd sizes; SEEK reads
 * them whole and from points; all give the image.
 */
START_TEST(test_many_members)
{
	const size_t len = 2u << 20;
	size_t gzlen;
	unsigned char *gz = many_members(len, &gzlen);
	struct outcome o;
	int fds[2];
	pid_t pid;

	struct strbuf idx;
	struct gzf g;
	unsigned char buf[65536];
	uint64_t start;
	void *cur;

	/* The points of one pass, so that ISA-L decodes them too. */
	ck_assert_int_eq(gzf_open_raw(&g, gz, gzlen, NULL), 0);
	ck_assert_int_eq(gzip_seek_ops.cursor_open(g.fmt, 0, &cur, &start,
						   NULL), 0);
	while (gzip_seek_ops.cursor_read(cur, buf, sizeof(buf), NULL) > 0)
		;
	gzip_seek_ops.cursor_close(cur);
	ck_assert_uint_eq(gzip_seek_ops.size(g.fmt), len);
	ck_assert_uint_gt(gzip_seek_ops.point(g.fmt, len - 1), 0);
	save(g.fmt, &idx);
	gzip_seek_ops.close(g.fmt);
	close(g.fd);
	both_modes(gz, gzlen, &idx, &o);
	ck_assert_msg(o.ret == 0, "failed: %s", o.msg);
	ck_assert_uint_eq(o.len, len);
	strbuf_free(&idx);
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		uint64_t x = 88172645463325252ull;

		close(fds[0]);
		for (size_t at = 0, n; at < gzlen; at += n) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			n = 1 + (size_t)(x % 700);
			if (n > gzlen - at)
				n = gzlen - at;
			if (write(fds[1], gz + at, n) != (ssize_t)n)
				_exit(1);
		}
		_exit(0);
	}
	close(fds[1]);
	stream_outcome(fds[0], 4093, &o);
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	ck_assert_msg(o.ret == 0, "failed on a pipe: %s", o.msg);
	ck_assert_uint_eq(o.len, len);
	ck_assert(o.right);
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
	tcase_add_test(tc, test_after_the_data);
	tcase_add_test(tc, test_members_crc);
	tcase_add_test(tc, test_many_members);
	tcase_add_test(tc, test_header_crc);
	suite_add_tcase(s, tc);
	return s;
}
