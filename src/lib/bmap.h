/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bmap.h - what the bmap-tools library offers its programs.
 *
 * Conventions, for every function here:
 *  - 0 (or a documented non-negative value) on success, a negative errno on
 *    failure; on failure the caller's struct bmap_err holds one line saying
 *    what went wrong. The library never prints and never exits.
 *  - No global mutable state: everything hangs off the handles below.
 */
#ifndef BMAP_H
#define BMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ------------------------------------------------------------------ */
/* Errors                                                              */

#define BMAP_ERR_MAX 512

struct bmap_err {
	char msg[BMAP_ERR_MAX];
};

/* ------------------------------------------------------------------ */
/* The block map model                                                 */

/* Largest digest any OpenSSL algorithm produces (EVP_MAX_MD_SIZE). */
#define BMAP_DIGEST_MAX 64
/* Longest checksum type name accepted ("sha256", "sha3-512", ...). */
#define BMAP_CSTYPE_MAX 32
/* A block size above this is refused as absurd. */
#define BMAP_BLOCK_SIZE_MAX (64u * 1024 * 1024)

struct bmap_range {
	uint64_t first;		/* first block, inclusive */
	uint64_t last;		/* last block, inclusive */
	bool has_digest;	/* false: written without a checksum */
	unsigned char digest[BMAP_DIGEST_MAX];
};

struct bmap {
	unsigned version_major;
	unsigned version_minor;
	uint64_t image_size;	/* bytes */
	uint64_t block_size;	/* bytes, 1 .. BMAP_BLOCK_SIZE_MAX */
	uint64_t blocks_count;	/* ceil(image_size / block_size) */
	uint64_t mapped_count;	/* sum of the ranges' lengths in blocks */
	char checksum_type[BMAP_CSTYPE_MAX];	/* "" when none */
	size_t digest_len;	/* bytes of one digest of that type, or 0 */
	size_t nranges;
	size_t cap;
	struct bmap_range *ranges;
};

/* An empty map (no geometry, no ranges). */
void bmap_init(struct bmap *map);
/* Release the ranges; the map is empty again afterwards. */
void bmap_free(struct bmap *map);

/* Set image size and block size; derives blocks_count. Refuses a zero or
 * absurd block size. Must come before any range is added. */
int bmap_set_geometry(struct bmap *map, uint64_t image_size,
		      uint64_t block_size, struct bmap_err *err);

/* Set the checksum type by OpenSSL digest name (case-insensitive; stored
 * as the algorithm's canonical lower-case name, "SHA2-256" as "sha256");
 * sets digest_len. NULL or "" clears it. */
int bmap_set_checksum_type(struct bmap *map, const char *name,
			   struct bmap_err *err);

/* Append a range. It must lie within blocks_count and come strictly after
 * the previous one. digest may be NULL (no checksum); otherwise it holds
 * map->digest_len bytes. */
int bmap_add_range(struct bmap *map, uint64_t first, uint64_t last,
		   const unsigned char *digest, struct bmap_err *err);

/* Byte offset and byte length of a range; the length of a range holding
 * the last, partial block stops at image_size. */
uint64_t bmap_range_offset(const struct bmap *map, const struct bmap_range *r);
uint64_t bmap_range_length(const struct bmap *map, const struct bmap_range *r);

/* Mapped bytes: the ranges' lengths as above, added up. */
uint64_t bmap_mapped_bytes(const struct bmap *map);

/* "802.5 KiB", "1 byte", "300 bytes": the human-readable size the bmap
 * comments use. buf must hold at least BMAP_HUMAN_MAX bytes. */
#define BMAP_HUMAN_MAX 32
const char *bmap_human_size(uint64_t size, char *buf);

/* ------------------------------------------------------------------ */
/* Reading and writing bmap files                                      */

/* Parse and validate a bmap document (any version 1.0 to 2.x). On success
 * *map is filled (it must be bmap_init()ed or freed before). The bmap
 * file's own checksum (1.3 and later) is verified here. */
int bmap_read_memory(struct bmap *map, const char *buf, size_t len,
		     struct bmap_err *err);
/* The same, from a file ("-" is not special). Messages name no path: the
 * program adds it. */
int bmap_read_file(struct bmap *map, const char *path, struct bmap_err *err);

enum bmap_format {
	BMAP_FORMAT_1_2,	/* SHA-1 "sha1=" ranges, no file checksum */
	BMAP_FORMAT_2_0,	/* ChecksumType, BmapFileChecksum, "chksum=" */
};

/* Lay the map out as the given format version, byte-for-byte as the
 * reference tool does. Version 1.2 needs checksum type "sha1" (or ranges
 * without checksums). *out is malloc()ed and NUL-terminated; *outlen
 * excludes the NUL. */
int bmap_write_memory(const struct bmap *map, enum bmap_format format,
		      char **out, size_t *outlen, struct bmap_err *err);

/* ------------------------------------------------------------------ */
/* Checksums (OpenSSL EVP by name)                                     */

struct bmap_digest;

/* Digest size in bytes for an algorithm name, or a negative errno (and a
 * message) when OpenSSL does not know it or it is not a fixed-size hash. */
int bmap_digest_size(const char *name, struct bmap_err *err);
int bmap_digest_new(struct bmap_digest **d, const char *name,
		    struct bmap_err *err);
int bmap_digest_update(struct bmap_digest *d, const void *buf, size_t len);
/* Writes the digest to out (BMAP_DIGEST_MAX bytes) and restarts d. */
int bmap_digest_final(struct bmap_digest *d, unsigned char *out);
size_t bmap_digest_len(const struct bmap_digest *d);
void bmap_digest_free(struct bmap_digest *d);

/* Lower-case hex of len bytes into out (2 * len + 1 bytes). */
void bmap_hex_encode(const unsigned char *bin, size_t len, char *out);
/* Exactly 2 * len hex digits (either case) into len bytes; -EINVAL else. */
int bmap_hex_decode(const char *hex, size_t hexlen, unsigned char *bin,
		    size_t len);

/* ------------------------------------------------------------------ */
/* Extent discovery                                                    */

enum bmap_extent_method {
	BMAP_EXTENTS_FIEMAP,	/* the FIEMAP ioctl answered */
	BMAP_EXTENTS_SEEK,	/* lseek SEEK_DATA / SEEK_HOLE answered */
	BMAP_EXTENTS_ALL,	/* neither: everything is taken as mapped */
};

/* Flags for bmap_extents_scan(): skip a method (for tests and for files
 * where one is known to lie). */
#define BMAP_EXTENTS_NO_FIEMAP 0x1u
#define BMAP_EXTENTS_NO_SEEK   0x2u

struct bmap_extent {
	uint64_t first;		/* block, inclusive */
	uint64_t last;		/* block, inclusive */
};

struct bmap_extent_list {
	size_t n;
	size_t cap;
	struct bmap_extent *v;
};

/* The mapped blocks of the first `size` bytes of an open file, as
 * ascending, non-adjacent block ranges of `block_size` bytes (a block
 * partly mapped counts as mapped). *list is replaced. *method says which
 * way answered. */
int bmap_extents_scan(int fd, uint64_t size, uint64_t block_size,
		      unsigned flags, struct bmap_extent_list *list,
		      enum bmap_extent_method *method, struct bmap_err *err);
void bmap_extent_list_free(struct bmap_extent_list *list);

/* The file system's block size for an open file (FIGETBSZ, else
 * st_blksize): the block size bmaps of it are made with. */
int bmap_fs_block_size(int fd, uint64_t *block_size, struct bmap_err *err);

/* ------------------------------------------------------------------ */
/* Creating a bmap from a sparse image                                 */

struct bmap_create_opts {
	const char *checksum_type;	/* NULL: "sha1"; ignored if no_checksum */
	bool no_checksum;
	uint64_t block_size;		/* 0: the file system's */
	unsigned extent_flags;		/* BMAP_EXTENTS_NO_* */
};

/* Scan the open image and fill *map (bmap_init()ed): geometry, mapped
 * ranges, and each range's checksum unless opts->no_checksum. *method says
 * how the holes were found. */
int bmap_create(int fd, const struct bmap_create_opts *opts, struct bmap *map,
		enum bmap_extent_method *method, struct bmap_err *err);

/* ------------------------------------------------------------------ */
/* Image sources                                                       */

/*
 * An image as a byte stream, whatever its packaging: a plain file or
 * device, standard input ("-"), a compressed stream (gzip, bzip2, xz,
 * zstd, lz4, lzo; recognised by content, never by name) or the first
 * regular file inside a tar (plain or compressed) or zip archive that is
 * not a .bmap.
 */
struct bmap_source;

#define BMAP_SIZE_UNKNOWN UINT64_MAX

/* threads: how many threads a decoder may use (>= 1). */
int bmap_source_open(struct bmap_source **src, const char *path,
		     unsigned threads, struct bmap_err *err);
void bmap_source_close(struct bmap_source *src);
/* "raw", "gzip", "bzip2", "xz", "zstd", "lz4", "lzop", with " in tar" or
 * "zip" for archives. */
const char *bmap_source_format(const struct bmap_source *src);
/* An uncompressed regular file or block device: its bytes are the image
 * and it can be read at any offset through this descriptor; else -1. */
int bmap_source_seekable_fd(const struct bmap_source *src);
/* The image's size when known (a seekable source), else
 * BMAP_SIZE_UNKNOWN. */
uint64_t bmap_source_size(const struct bmap_source *src);
/* While *stop is set, reads waiting on a pipe give up (-EINTR). */
void bmap_source_set_stop(struct bmap_source *src, const volatile int *stop);
/* The next bytes of the image, in order: up to len of them, 0 at the end
 * (after the stream's own integrity checks passed), -errno on failure. */
ssize_t bmap_source_read(struct bmap_source *src, void *buf, size_t len,
			 struct bmap_err *err);

/* ------------------------------------------------------------------ */
/* Targets                                                             */

/*
 * Where an image is written: a block device (opened exclusively, so a
 * mounted or busy one is refused; at least the image's size; its queue
 * scheduler and bdi max_ratio tuned for one long sequential write and put
 * back by bmap_target_close()) or a regular file (created, or truncated
 * and resized to the image's size, so holes stay holes).
 */
struct bmap_target;

/* image_size may be BMAP_SIZE_UNKNOWN (a regular file then takes the size
 * of what is written). When tuning a device fails, the copy goes on and
 * warn->msg says why (else it is ""). */
int bmap_target_open(struct bmap_target **t, const char *path,
		     uint64_t image_size, struct bmap_err *warn,
		     struct bmap_err *err);
bool bmap_target_is_device(const struct bmap_target *t);
/* Write len bytes at off (O_DIRECT where alignment allows). */
int bmap_target_write(struct bmap_target *t, const void *buf, size_t len,
		      uint64_t off, struct bmap_err *err);
/* All written data on stable storage (a regular file also gets its final
 * size when the image size was unknown: `size`). */
int bmap_target_finish(struct bmap_target *t, uint64_t size,
		       struct bmap_err *err);
/* Put the device's settings back (safe to call more than once). */
void bmap_target_restore(struct bmap_target *t);
/* Restore, close and free. */
void bmap_target_close(struct bmap_target *t);

/* ------------------------------------------------------------------ */
/* Copying                                                             */

struct bmap_copy_opts {
	bool verify;			/* check each range's checksum */
	/* Set (by a signal handler) to stop the copy: it fails with
	 * -EINTR. May be NULL. */
	const volatile int *stop;
	/* Called from a copy thread as data is written, at most once a
	 * buffer: done and total in bytes (total BMAP_SIZE_UNKNOWN when the
	 * image's size is not known). May be NULL. */
	void (*progress)(void *ctx, uint64_t done, uint64_t total);
	void *progress_ctx;
};

struct bmap_copy_stats {
	uint64_t written;	/* bytes written to the target */
	uint64_t image_size;	/* bytes of image read */
	size_t verified;	/* ranges whose checksum was checked */
};

/*
 * Copy the image's mapped ranges from src to dst, verifying each range
 * (unless !opts->verify): read and decode, hash and write run in their
 * own threads joined by bounded queues of large buffers. map NULL copies
 * every byte of the image (its size need not be known). A checksum
 * mismatch, a source shorter or longer than map->image_size, a corrupt
 * stream or a write error stops the copy with a message naming the range
 * or offset.
 */
int bmap_copy(struct bmap_source *src, const struct bmap *map,
	      struct bmap_target *dst, const struct bmap_copy_opts *opts,
	      struct bmap_copy_stats *stats, struct bmap_err *err);

/* The file name bmapfs shows an image under (see name.c): out holds size
 * bytes; -ENAMETOOLONG when it is too small. */
int bmap_raw_name(const char *image, char *out, size_t size);

/* ------------------------------------------------------------------ */
/* Random access into an image                                         */

/*
 * Any byte range of an image, whatever its packaging (what
 * bmap_source_open reads), without decoding from the start each time:
 * seek points where the format has them (gzip windows, bzip2 blocks, xz
 * blocks, zstd frames), found as the image is first read or loaded from
 * an index folder, plus a bounded cache of decoded data. Other formats
 * are decoded from the start, with the cache and a few decoders kept
 * part-way through. Safe to call from several threads at once.
 */
struct bmap_ra;

/* The default cache: a sixteenth of the memory, within these bounds
 * (enough, on most machines, for two of a disk image's large ranges:
 * one being read, the next being checked). */
#define BMAP_RA_CACHE_DEFAULT_MIN (64ull << 20)
#define BMAP_RA_CACHE_DEFAULT_MAX (512ull << 20)
#define BMAP_RA_CACHE_MIN (4ull << 20)

struct bmap_ra_opts {
	uint64_t cache_size;	/* bytes of decoded data kept; 0: default */
	/* Folder where seek points are kept between runs (made, mode
	 * 0700, if missing), or NULL. Only an optimisation: a folder that
	 * cannot be made or written, that is not the user's (or root's)
	 * or that others can write to is not used, and bmap_ra_open goes
	 * on without it (bmap_ra_index_warning says why). Files in it are
	 * loaded only when they are regular files of the user's whose
	 * points fit the image. */
	const char *index_dir;
	unsigned threads;	/* a decoder may use this many (>= 1) */
	/* The image's size when known (a bmap's ImageSize), else 0. */
	uint64_t image_size;
	/* The caller checks every byte it reads against a checksum (a
	 * verified bmap_view): then some formats place seek points by
	 * image_size (bzip2 blocks counted from the end: a first read near
	 * the end costs a few blocks, not a pass over all before it). A
	 * bmap may rightly give more than the file holds; such points fail
	 * their checks and are dropped, at the cost of a decode. */
	bool verified;
};

int bmap_ra_open(struct bmap_ra **ra, const char *path,
		 const struct bmap_ra_opts *opts, struct bmap_err *err);
/* Why opts->index_dir is not used (one line for the program to print as
 * a warning), or NULL when it is, or none was given. */
const char *bmap_ra_index_warning(const struct bmap_ra *ra);
/* "xz, seekable" or "lz4, sequential". */
const char *bmap_ra_format(const struct bmap_ra *ra);
/* The image's size when the format's index tells it without decoding,
 * else BMAP_SIZE_UNKNOWN. */
uint64_t bmap_ra_size(const struct bmap_ra *ra);
/* Up to len bytes at off: fewer only at the image's end (0 past it);
 * -errno with a message on failure (-EIO or -EBADMSG: corrupt data). */
ssize_t bmap_ra_pread(struct bmap_ra *ra, void *buf, size_t len,
		      uint64_t off, struct bmap_err *err);
/*
 * A tap sees every byte any decoder produces, in order for each decoder:
 * len bytes at image offset off (buf NULL, len 0: the decoder is gone).
 * *state is the tap's own, one per decoder (NULL at first). It is called
 * on the decoder's thread, so calls for one decoder never overlap; calls
 * for different decoders may. Set before the first read; setting another
 * (or NULL) waits for reads in progress, and the old tap is told every
 * decoder is gone.
 */
typedef void (*bmap_ra_tap_fn)(void *ctx, void **state, uint64_t off,
			       const unsigned char *buf, size_t len);
void bmap_ra_set_tap(struct bmap_ra *ra, bmap_ra_tap_fn tap, void *ctx);
/*
 * The cache's chunks themselves, for a reader that checks what it is
 * given: bmap_ra_get holds the chunk of the image that holds off (data,
 * len bytes at image offset off; len 0, or a chunk ending at or before
 * off, when the image ends first) until bmap_ra_put. Its bytes never
 * change while held. serial names this decode of the chunk: a chunk
 * decoded again (after it left the cache) has another, so a reader that
 * checked a chunk's bytes once need not check them again while the
 * serial is the same.
 */
#define BMAP_RA_CHUNK (1u << 20)
struct bmap_ra_ref {
	const unsigned char *data;
	uint64_t off;
	size_t len;
	uint64_t serial;
	uint64_t point;		/* the seek point it was decoded from */
	void *chunk;		/* the engine's */
};
int bmap_ra_get(struct bmap_ra *ra, uint64_t off, struct bmap_ra_ref *ref,
		struct bmap_err *err);
void bmap_ra_put(struct bmap_ra *ra, struct bmap_ra_ref *ref);
/* The held chunk failed a check: it leaves the cache, and the seek point
 * it was decoded from is forgotten (the index is then not saved). True
 * when decoding it again may give other bytes (a point was forgotten);
 * false when it would give the same (the file itself is bad). Only off,
 * serial and point of ref are used: it may be a copy of one already put. */
bool bmap_ra_reject(struct bmap_ra *ra, const struct bmap_ra_ref *ref);
/* The caller has what it read of [off, off + len) and will not want it
 * again soon (a reader going through the image in order): the chunks
 * wholly inside are the first the cache lets go. */
void bmap_ra_done(struct bmap_ra *ra, uint64_t off, uint64_t len);
/* The last place at or before off where decoding can start without
 * decoding what comes before (0 for formats read from the start; off
 * itself for a plain image). */
uint64_t bmap_ra_point(const struct bmap_ra *ra, uint64_t off);
/* The most decoded data the cache keeps, in bytes. */
uint64_t bmap_ra_cache_size(const struct bmap_ra *ra);
/* Write the seek points learnt so far to the index folder (if any); when
 * a seek point failed a check as it was used, remove the image's index
 * file instead (a bad index is never saved back). */
int bmap_ra_save_index(struct bmap_ra *ra, struct bmap_err *err);
/* Close (saving the index first, errors ignored) and free. */
void bmap_ra_close(struct bmap_ra *ra);

/* ------------------------------------------------------------------ */
/* A verified view of an image                                         */

/*
 * An image as its bmap says it is: holes read as zeros without decoding
 * anything; no byte of a mapped range is returned before the whole range
 * has matched its checksum (once: the result is remembered). A range
 * that failed fails every read that touches it; the others still work.
 * Safe to call from several threads at once.
 */
struct bmap_view;

/* map and ra must outlive the view. verify false trusts the data. */
int bmap_view_open(struct bmap_view **view, struct bmap_ra *ra,
		   const struct bmap *map, bool verify, struct bmap_err *err);
void bmap_view_close(struct bmap_view *view);
/* Up to len bytes at off (fewer only at the image's end).
 * -EBADMSG: a range failed its check just now, err says which (report
 * it); -EIO: a range known to be bad, or the data could not be decoded
 * (err says why). */
ssize_t bmap_view_read(struct bmap_view *view, void *buf, size_t len,
		       uint64_t off, struct bmap_err *err);
/* lseek's SEEK_DATA and SEEK_HOLE from the bmap: the offset, or -ENXIO
 * (off at or past the image's end; for SEEK_DATA also when no data
 * follows), -EINVAL for another whence. */
int64_t bmap_view_seek(const struct bmap_view *view, uint64_t off,
		       int whence);

#endif /* BMAP_H */
