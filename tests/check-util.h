/* SPDX-License-Identifier: GPL-2.0-or-later */
/* check-util.h - helpers shared by the Check suites. */
#ifndef CHECK_UTIL_H
#define CHECK_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "bmap.h"
#include "codec/codec.h"

/* A piece of data in a generated sparse file: bytes [off, off + len). */
struct cu_piece {
	uint64_t off;
	uint64_t len;
};

/* The scratch folder, made under the current directory before the suites
 * run and removed with everything in it afterwards. */
int cu_scratch_init(void);
void cu_scratch_cleanup(void);
/* "<scratch>/<name>" into buf; fails the test if it does not fit. */
void cu_scratch_path(char *buf, size_t size, const char *name);

/* A whole file, NUL-terminated (the NUL is not counted in *len); NULL with
 * errno set on failure. */
char *cu_read_file(const char *path, size_t *len);
/* A file of TEST_DATA_DIR; fails the test when it cannot be read. */
char *cu_read_data(const char *name, size_t *len);
/* A gzip file of TEST_DATA_DIR, decompressed by gzip -dc. */
char *cu_gunzip_data(const char *name, size_t *len);

/* Create scratch file `name` of `size` bytes whose only data are the
 * pieces (written from src at the same offsets, or with a non-zero pattern
 * when src is NULL); the rest is holes. Returns an O_RDWR descriptor. */
int cu_make_sparse(const char *name, uint64_t size,
		   const struct cu_piece *pieces, size_t npieces,
		   const unsigned char *src);
/* The byte the pattern puts at offset off: never zero. */
unsigned char cu_pattern(uint64_t off);

/* A copy of doc with the first `from` at or after the first `after` (the
 * start of doc when after is NULL) replaced by `to`; fails the test when
 * either is missing. */
char *cu_replace(const char *doc, const char *after, const char *from,
		 const char *to);
/* cu_replace() inside the <bmap> element. */
char *cu_subst(const char *doc, const char *from, const char *to);

/* Recompute the file checksum held in element <tag> of doc, in place, the
 * way bmap files define it: hash of the file with the value as '0's. */
void cu_reseal(char *doc, const char *tag, const char *type);

/* Digest of buf with the library's hashing; returns its length. */
size_t cu_digest(const char *type, const void *buf, size_t len,
		 unsigned char *out);

/* Read a golden bmap of TEST_DATA_DIR into map (fails the test else). */
void cu_load_golden(struct bmap *map, const char *name);

/* Fail unless two texts are equal, naming the first difference (Check
 * cannot carry whole bmap files in a failure message). */
void cu_assert_text_eq(const char *got, const char *want);

/* Fail unless a and b hold the same ranges and digests. */
void cu_assert_same_ranges(const struct bmap *a, const struct bmap *b);

/* Pseudo-random bytes below 64 in runs, between runs of zeros (up to
 * 40000 bytes each): compressible, not trivially; seed picks which. */
void cu_fill_runs(unsigned char *buf, size_t len, uint32_t seed);
/* Write buf to scratch file name, fopen()ed with mode ("wb", "ab"). */
void cu_write_scratch(const char *name, const void *buf, size_t len,
		      const char *mode);
/* Run "prog 'a' op 'b'" on scratch files a and b (b may be NULL: then
 * "prog 'a' op"); fails the test unless it succeeds. */
void cu_run_scratch(const char *prog, const char *a, const char *op,
		    const char *b);
/* Scratch file name opened read-only; *size its size. */
int cu_open_scratch(const char *name, uint64_t *size);

/* Seek point formats (ra.h): read len bytes with a cursor (fewer only at
 * the end), failing the test on an error; the count read. */
size_t cu_ra_read(const struct codec_seek_ops *ops, void *cur,
		  unsigned char *buf, size_t len);
/* A cursor for off starts at point(off), at or before off, and reads the
 * image data (size bytes) from there up to off + want, then ends when
 * the image does. */
void cu_ra_check_at(const struct codec_seek_ops *ops, void *fmt,
		    const unsigned char *data, uint64_t size, uint64_t off,
		    size_t want);

/* Scratch file name, a compressed image of data (size bytes) cut short,
 * through the engine as bmapfs opens it (told the size): it opens, its
 * format names `format`; every whole MiB before what `decoder` (reading
 * it on stdin) still writes of it reads right, in any order, and a read
 * past that fails with -EIO and a message holding msg. */
void cu_ra_check_cut(const char *name, const char *decoder,
		     const unsigned char *data, uint64_t size,
		     const char *format, const char *msg);

#endif
