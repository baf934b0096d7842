/* SPDX-License-Identifier: GPL-2.0-or-later */
/* check-util.c - helpers shared by the Check suites. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "bmap.h"
#include "check-util.h"

static char scratch[32];

int cu_scratch_init(void)
{
	snprintf(scratch, sizeof(scratch), "check-work.XXXXXX");
	if (!mkdtemp(scratch)) {
		scratch[0] = '\0';
		return -errno;
	}
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void cu_scratch_cleanup(void)
{
	if (!scratch[0])
		return;
	/* Depth first: the suites may make folders (index folders). */
	nftw(scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	scratch[0] = '\0';
}

void cu_scratch_path(char *buf, size_t size, const char *name)
{
	int n;

	ck_assert_msg(scratch[0], "no scratch folder");
	n = snprintf(buf, size, "%s/%s", scratch, name);
	ck_assert(n > 0 && (size_t)n < size);
}

/* Read everything from fd into a NUL-terminated buffer. */
static char *read_all(int fd, size_t *len)
{
	size_t n = 0, cap = 8192;
	char *buf = malloc(cap), *p;
	ssize_t got;

	while (buf) {
		if (cap - n < 2) {
			cap *= 2;
			p = realloc(buf, cap);
			if (!p)
				break;
			buf = p;
		}
		got = read(fd, buf + n, cap - n - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			break;
		if (got == 0) {
			buf[n] = '\0';
			*len = n;
			return buf;
		}
		n += (size_t)got;
	}
	free(buf);
	return NULL;
}

char *cu_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;
	int saved;

	if (fd < 0)
		return NULL;
	buf = read_all(fd, len);
	saved = errno;
	close(fd);
	errno = saved;
	return buf;
}

char *cu_read_data(const char *name, size_t *len)
{
	char path[4096];
	char *buf;

	snprintf(path, sizeof(path), "%s/%s", TEST_DATA_DIR, name);
	buf = cu_read_file(path, len);
	ck_assert_msg(buf != NULL, "cannot read %s: %s", path,
		      strerror(errno));
	return buf;
}

char *cu_gunzip_data(const char *name, size_t *len)
{
	char cmd[4200];
	char *buf;
	FILE *f;
	int status;

	ck_assert(strchr(TEST_DATA_DIR, '\'') == NULL);
	snprintf(cmd, sizeof(cmd), "gzip -dc -- '%s/%s'", TEST_DATA_DIR, name);
	f = popen(cmd, "r");
	ck_assert_msg(f != NULL, "cannot run %s", cmd);
	buf = read_all(fileno(f), len);
	status = pclose(f);
	ck_assert_msg(buf != NULL, "cannot read the output of %s", cmd);
	ck_assert_msg(status == 0, "%s failed (status %d)", cmd, status);
	return buf;
}

unsigned char cu_pattern(uint64_t off)
{
	return (unsigned char)(1 + off % 251);
}

/* 0, or -1 with errno set. No Check assertion here: files are made of
 * thousands of pieces, and every assertion is a message to the runner. */
static int write_piece(int fd, const struct cu_piece *p,
		       const unsigned char *src)
{
	unsigned char chunk[65536];
	uint64_t done = 0;

	while (done < p->len) {
		uint64_t off = p->off + done;
		size_t n = p->len - done < sizeof(chunk) ?
			   (size_t)(p->len - done) : sizeof(chunk);
		const unsigned char *from = chunk;
		ssize_t w;
		size_t i;

		if (src)
			from = src + off;
		else
			for (i = 0; i < n; i++)
				chunk[i] = cu_pattern(off + i);
		w = pwrite(fd, from, n, (off_t)off);
		if (w != (ssize_t)n)
			return -1;
		done += n;
	}
	return 0;
}

int cu_make_sparse(const char *name, uint64_t size,
		   const struct cu_piece *pieces, size_t npieces,
		   const unsigned char *src)
{
	char path[256];
	size_t i;
	int fd;

	cu_scratch_path(path, sizeof(path), name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_msg(fd >= 0, "cannot create %s: %s", path, strerror(errno));
	for (i = 0; i < npieces; i++)
		if (pieces[i].off + pieces[i].len > size ||
		    write_piece(fd, &pieces[i], src))
			break;
	ck_assert_msg(i == npieces, "cannot write piece %zu of %s: %s", i,
		      path, strerror(errno));
	ck_assert_msg(ftruncate(fd, (off_t)size) == 0, "ftruncate: %s",
		      strerror(errno));
	return fd;
}

char *cu_replace(const char *doc, const char *after, const char *from,
		 const char *to)
{
	const char *start = after ? strstr(doc, after) : doc;
	const char *at;
	size_t len = strlen(doc), flen = strlen(from), tlen = strlen(to);
	char *out;

	ck_assert_msg(start != NULL, "'%s' not found", after);
	at = strstr(start, from);
	ck_assert_msg(at != NULL, "'%s' not found", from);
	out = malloc(len - flen + tlen + 1);
	ck_assert(out != NULL);
	memcpy(out, doc, (size_t)(at - doc));
	memcpy(out + (at - doc), to, tlen);
	memcpy(out + (at - doc) + tlen, at + flen,
	       len - (size_t)(at - doc) - flen + 1);
	return out;
}

char *cu_subst(const char *doc, const char *from, const char *to)
{
	return cu_replace(doc, "<bmap ", from, to);
}

size_t cu_digest(const char *type, const void *buf, size_t len,
		 unsigned char *out)
{
	struct bmap_digest *d;
	struct bmap_err err;
	size_t n;

	ck_assert_int_eq(bmap_digest_new(&d, type, &err), 0);
	ck_assert_int_eq(bmap_digest_update(d, buf, len), 0);
	ck_assert_int_eq(bmap_digest_final(d, out), 0);
	n = bmap_digest_len(d);
	bmap_digest_free(d);
	return n;
}

void cu_reseal(char *doc, const char *tag, const char *type)
{
	unsigned char digest[BMAP_DIGEST_MAX];
	char hex[2 * BMAP_DIGEST_MAX + 1];
	char open_tag[64];
	char *root = strstr(doc, "<bmap "), *p, *q;
	size_t n;

	ck_assert(root != NULL);
	snprintf(open_tag, sizeof(open_tag), "<%s>", tag);
	p = strstr(root, open_tag);
	ck_assert_msg(p != NULL, "%s not found", open_tag);
	p += strlen(open_tag);
	while (*p == ' ')
		p++;
	for (q = p; isxdigit((unsigned char)*q); q++)
		;
	memset(p, '0', (size_t)(q - p));
	n = cu_digest(type, doc, strlen(doc), digest);
	ck_assert_uint_eq((size_t)(q - p), 2 * n);
	bmap_hex_encode(digest, n, hex);
	memcpy(p, hex, 2 * n);
}

void cu_load_golden(struct bmap *map, const char *name)
{
	char path[4096];
	struct bmap_err err;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", TEST_DATA_DIR, name);
	ret = bmap_read_file(map, path, &err);
	ck_assert_msg(ret == 0, "%s: %s", name, err.msg);
}

void cu_assert_text_eq(const char *got, const char *want)
{
	size_t i, line = 1;

	for (i = 0; got[i] && got[i] == want[i]; i++)
		line += got[i] == '\n';
	ck_assert_msg(got[i] == want[i], "texts differ at byte %zu (line %zu):"
		      " got '%.40s', want '%.40s'", i, line, got + i, want + i);
}

void cu_assert_same_ranges(const struct bmap *a, const struct bmap *b)
{
	size_t i;

	ck_assert_uint_eq(a->nranges, b->nranges);
	ck_assert_uint_eq(a->mapped_count, b->mapped_count);
	ck_assert_uint_eq(a->digest_len, b->digest_len);
	for (i = 0; i < a->nranges; i++) {
		const struct bmap_range *x = &a->ranges[i], *y = &b->ranges[i];

		ck_assert_uint_eq(x->first, y->first);
		ck_assert_uint_eq(x->last, y->last);
		ck_assert_int_eq(x->has_digest, y->has_digest);
		if (x->has_digest)
			ck_assert_mem_eq(x->digest, y->digest, a->digest_len);
	}
}

void cu_fill_runs(unsigned char *buf, size_t len, uint32_t seed)
{
	uint32_t x = seed;
	size_t i = 0;

	while (i < len) {
		size_t run;

		x = x * 1103515245u + 12345u;
		run = 1 + (x >> 12) % 40000;
		if (run > len - i)
			run = len - i;
		if ((x >> 8) % 3 == 0) {
			memset(buf + i, 0, run);
		} else {
			size_t j;

			for (j = 0; j < run; j++) {
				x = x * 1103515245u + 12345u;
				buf[i + j] = (unsigned char)((x >> 24) & 0x3f);
			}
		}
		i += run;
	}
}

void cu_write_scratch(const char *name, const void *buf, size_t len,
		      const char *mode)
{
	char path[256];
	FILE *f;

	cu_scratch_path(path, sizeof(path), name);
	f = fopen(path, mode);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

void cu_run_scratch(const char *prog, const char *a, const char *op,
		    const char *b)
{
	char pa[256], pb[256] = "", cmd[1024];

	cu_scratch_path(pa, sizeof(pa), a);
	if (b)
		cu_scratch_path(pb, sizeof(pb), b);
	snprintf(cmd, sizeof(cmd), "%s '%s' %s %s%s%s", prog, pa, op,
		 b ? "'" : "", pb, b ? "'" : "");
	ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

int cu_open_scratch(const char *name, uint64_t *size)
{
	char path[256];
	struct stat st;
	int fd;

	cu_scratch_path(path, sizeof(path), name);
	fd = open(path, O_RDONLY);
	ck_assert_msg(fd >= 0, "cannot open %s", path);
	ck_assert_int_eq(fstat(fd, &st), 0);
	*size = (uint64_t)st.st_size;
	return fd;
}

size_t cu_ra_read(const struct codec_seek_ops *ops, void *cur,
		  unsigned char *buf, size_t len)
{
	struct bmap_err err = { "" };
	size_t done = 0;

	while (done < len) {
		ssize_t n = ops->cursor_read(cur, buf + done, len - done, &err);

		ck_assert_msg(n >= 0, "read: %zd %s", n, err.msg);
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return done;
}

void cu_ra_check_at(const struct codec_seek_ops *ops, void *fmt,
		    const unsigned char *data, uint64_t size, uint64_t off,
		    size_t want)
{
	uint64_t pt = ops->point(fmt, off), start = 0, end;
	struct bmap_err err = { "" };
	unsigned char *buf;
	void *cur = NULL;
	size_t got;

	ck_assert_uint_le(pt, off);
	ck_assert_int_eq(ops->cursor_open(fmt, off, &cur, &start, &err), 0);
	ck_assert_uint_eq(start, pt);
	end = off + want < size ? off + want : size;
	buf = malloc(end - start + 1);
	ck_assert_ptr_nonnull(buf);
	got = cu_ra_read(ops, cur, buf, end - start + 1);
	ck_assert_uint_eq(got, end - start + (end < size));
	ck_assert_msg(memcmp(buf, data + start, end - start) == 0,
		      "wrong data for offset %llu", (unsigned long long)off);
	free(buf);
	ops->cursor_close(cur);
}

/* What `decoder < name` writes before it fails: the bytes a cut file
 * still holds. */
static uint64_t decodable(const char *decoder, const char *name)
{
	char in[512], out[512], line[1200];
	struct stat st;

	cu_scratch_path(in, sizeof(in), name);
	cu_scratch_path(out, sizeof(out), "decodable.out");
	snprintf(line, sizeof(line), "%s <'%s' >'%s' 2>/dev/null", decoder,
		 in, out);
	ck_assert_int_ne(system(line), -1);
	ck_assert_int_eq(stat(out, &st), 0);
	unlink(out);
	return (uint64_t)st.st_size;
}

void cu_ra_check_cut(const char *name, const char *decoder,
		     const unsigned char *data, uint64_t size,
		     const char *format, const char *msg)
{
	struct bmap_ra_opts opts = { .threads = 2, .image_size = size };
	struct bmap_err err = { "" };
	static unsigned char buf[1 << 20];
	uint64_t good = decodable(decoder, name), whole, off;
	struct bmap_ra *ra;
	char path[512];
	ssize_t n;
	int k;

	whole = good / sizeof(buf) * sizeof(buf);
	ck_assert_uint_gt(whole, 0);
	ck_assert_uint_lt(good + sizeof(buf), size);
	cu_scratch_path(path, sizeof(path), name);
	ck_assert_msg(bmap_ra_open(&ra, path, &opts, &err) == 0, "open %s: %s",
		      name, err.msg);
	ck_assert_msg(strstr(bmap_ra_format(ra), format), "format %s",
		      bmap_ra_format(ra));
	/* After the cut first, then before it, then after it again. */
	for (k = 0; k < 2; k++) {
		off = (good / sizeof(buf) + 1) * sizeof(buf) + 4096;
		n = bmap_ra_pread(ra, buf, 4096, off, &err);
		ck_assert_msg(n == -EIO, "read after the cut: %zd %s", n,
			      err.msg);
		ck_assert_msg(strstr(err.msg, msg), "message: %s", err.msg);
		for (off = k ? whole : 0; off < whole; off += sizeof(buf)) {
			n = bmap_ra_pread(ra, buf, sizeof(buf), off, &err);
			ck_assert_msg(n == (ssize_t)sizeof(buf),
				      "read at %llu: %zd %s",
				      (unsigned long long)off, n, err.msg);
			ck_assert_msg(!memcmp(buf, data + off, sizeof(buf)),
				      "wrong bytes at %llu",
				      (unsigned long long)off);
		}
	}
	bmap_ra_close(ra);
}
