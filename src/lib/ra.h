/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ra.h - random access into a compressed image: the insides. bmap.h has
 * the public side (struct bmap_ra).
 *
 * A *seekable format* knows seek points: places in its output from which
 * decoding can start without decoding what comes before (a gzip window,
 * a bzip2 block, an xz block, a zstd frame). The engine (ra.c) keeps a
 * pool of cursors (decoders part-way through the output) and a bounded
 * cache of decoded chunks, and asks a format for a new cursor only when
 * no cursor it has is close enough. Formats without seek points (and
 * files of a seekable format that have only one, such as a single-block
 * xz) use the sequential format: a cursor that starts at 0 and reads the
 * image through bmap_source.
 */
#ifndef BMAP_RA_H
#define BMAP_RA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bmap.h"
#include "strbuf.h"

struct ra_format_ops {
	const char *name;	/* "gzip", "bzip2", "xz", "zstd" */
	/*
	 * Look at the compressed file: fd is open for reading and seekable
	 * (the caller owns it and keeps it open until close; use pread
	 * only, as cursors on several threads share it), file_size its
	 * size. Return 0 and set *fmt when this format applies and the file
	 * has (or, as it is decoded, will have) more than one seek point;
	 * -ENOTSUP when the file is not of this format, or is but cannot be
	 * sought in (the engine then decodes it sequentially); any other
	 * -errno, with a message in err, when it is of this format and
	 * broken in a way found already.
	 * Work done here must stay small (the mount is usable at once): no
	 * decoding of the whole file.
	 */
	int (*open)(int fd, uint64_t file_size, unsigned threads, void **fmt,
		    struct bmap_err *err);
	/* The image's size when the format's index tells it,
	 * else BMAP_SIZE_UNKNOWN. */
	uint64_t (*size)(void *fmt);
	/* Offset in the image of the last seek point at or before off that
	 * is known now (0 at worst): where cursor_open(off) would start. */
	uint64_t (*point)(void *fmt, uint64_t off);
	/*
	 * Optional: forget the seek point at image offset off (exactly a
	 * *start that cursor_open gave), for example because bytes decoded
	 * from it failed their checksum: point() and cursor_open() never use
	 * it again, later cursors start from an earlier point, and may learn
	 * a correct point there again as they decode past it. The point at
	 * 0 (the start of the stream) is never dropped; an offset that is no
	 * point is ignored. Called from any thread.
	 */
	void (*drop_point)(void *fmt, uint64_t off);
	/*
	 * A new cursor whose first byte is at *start, the last seek point at
	 * or before off (it may find new seek points to get there, but must
	 * not cost a decode from the start when a point is known). Called
	 * from several threads at once: the format locks what it shares.
	 */
	int (*cursor_open)(void *fmt, uint64_t off, void **cur,
			   uint64_t *start, struct bmap_err *err);
	/* The next bytes: up to len, 0 only at the end of the image, -errno
	 * (-EIO or -EBADMSG for corrupt data, with a message) on failure.
	 * One thread at a time per cursor. Cursors record seek points they
	 * pass (under the format's lock) so later cursor_opens use them. */
	ssize_t (*cursor_read)(void *cur, void *buf, size_t len,
			       struct bmap_err *err);
	void (*cursor_close)(void *cur);
	/* Seek points learnt so far, appended as bytes to out (the engine
	 * stores them in the index folder with a header naming the file),
	 * and read back by load on a later mount: load checks what it
	 * reads (-EINVAL if it does not fit the file) and never trusts it
	 * blindly. Both may be NULL: nothing to keep. */
	int (*save)(void *fmt, struct strbuf *out);
	/*
	 * Optional: the image size the bmap gives, told once after open
	 * (and before load) only when every byte read is checked against a
	 * checksum. bzip2 places blocks counted back from it. It may be
	 * wrong (a bmap may give more than the file holds): a block placed
	 * by it that fails its check is dropped with drop_point, and that
	 * drops every block placed from the end, for good.
	 */
	void (*hint_size)(void *fmt, uint64_t size);
	int (*load)(void *fmt, const void *buf, size_t len,
		    struct bmap_err *err);
	void (*close)(void *fmt);
};

/* Exactly len bytes of the compressed file at off: -errno "cannot read
 * the <what> file: ...", or -EBADMSG "truncated <what> file" when the
 * file ends first (no seek point is ever past the end of a good one). */
int ra_pread_all(int fd, void *buf, size_t len, uint64_t off,
		 const char *what, struct bmap_err *err);

/* ra-plain.c: decoding from the start with bmap_source (ra_seq_open
 * makes its fmt from the image's path), and a plain image (its fmt is a
 * pointer to the engine's descriptor). */
extern const struct ra_format_ops ra_seq_ops;
extern const struct ra_format_ops ra_raw_ops;
int ra_seq_open(const char *path, unsigned threads, void **fmt,
		struct bmap_err *err);

extern const struct ra_format_ops ra_gzip_ops;
extern const struct ra_format_ops ra_bzip2_ops;
extern const struct ra_format_ops ra_xz_ops;
extern const struct ra_format_ops ra_zstd_ops;

/* A seek point failed a check as it was used: the points may come from
 * a bad index file, which bmap_ra_save_index (and close) then removes
 * instead of saving anything. Safe from any thread, with or without the
 * engine's lock held. */
void ra_mark_index_bad(struct bmap_ra *ra);

/* For tests: decode at most max bytes ahead at a time in xz cursors. */
void ra_xz_test_ahead_max(void *fmt, size_t max);

#endif
